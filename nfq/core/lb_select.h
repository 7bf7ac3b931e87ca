/* lb_select - which proxy gets a packet: the stateless load balancer's
 * decision, as a pure data structure (no sockets, no clock), so that unit
 * tests can drive it packet by packet.
 *
 * Members are the configured proxies, indexed 0..n-1 in ascending id order
 * (the order every proxy of the cluster numbers itself in). Each is live or
 * not and has a weight (its workload factor W_i from heartbeats). Nothing
 * here grows with the number of connections: the state is the member list,
 * one hash table of table_size bytes (two, counting the primary layout) and
 * a few counters.
 *
 * Mode `weighted` (thesis 4.5.2, after [11]): the weights of the live
 * members are normalised, W'_i = W_i / sum W_j, and a random number r in
 * [0, 1) picks member i when r falls in [sum_{j<i} W'_j, sum_{j<=i} W'_j).
 * The thesis prototype sent 40 packets to one proxy before switching; here
 * one pick holds for a burst of `burst` packets (1 = per-packet spraying).
 * Live members with weight 0 (no spare capacity) get nothing unless every
 * live member reports 0, in which case they share equally. A burst ends
 * early when its member stops being live. The random generator is
 * splitmix64, seeded from the config (0 = from getrandom).
 *
 * Mode `flow-hash`: a Maglev-style lookup table (Eisenbud et al., NSDI
 * 2016) over the 4-tuple, so one connection stays on one proxy. The table
 * has a prime number M of slots; each member i has a permutation of the
 * slots (offset = h1(id) mod M, skip = h2(id) mod (M-1) + 1) and the members
 * take turns claiming their next free preferred slot until all are filled.
 * We build that "primary" layout ONCE over all configured members, so it
 * never changes at run time, and derive the effective table on every
 * membership change: a slot whose primary member is live keeps it; a slot
 * whose primary is down goes to the live member with the highest
 * rendezvous score h(slot, id) (HRW hashing). Why the two layers: plain
 * Maglev, rebuilt from the live set, also moves a few slots between
 * surviving members when one leaves; here removing a proxy moves exactly
 * the slots (connections) it held, spread evenly over the others, and its
 * return moves exactly those back. The result depends only on the
 * configured ids, the live set, M and the hash seed, so a backup load
 * balancer with the same config maps every flow alike. Weights are not used
 * in this mode (changing them would move connections).
 *
 * Owner preference (flow-hash only): the proxies redirect a segment of a
 * connection that is not spliced yet to the proxy that accepted it. Sending
 * it there in the first place saves that hop:
 *   - `owner = client-hash`: the owner is splice_owner() (the proxies' jump
 *     hash over the configured members in id order) of the client tuple;
 *   - `owner = ivip-port`: the owner is the member whose port range holds
 *     the destination port (proxies connect to backends from IVIP with
 *     disjoint port ranges), for the response path on the logger host.
 * When the owner is live it gets the packet; otherwise the table decides.
 */
#ifndef CRAFT_LB_SELECT_H
#define CRAFT_LB_SELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Members fit the table's byte entries; 0xff marks "no live member". */
#define LB_MAX_MEMBERS	      64u
#define LB_TABLE_SIZE_MIN     7u
#define LB_TABLE_SIZE_MAX     1048573u /* a prime */
#define LB_TABLE_SIZE_DEFAULT 65537u   /* a prime */
#define LB_BURST_MAX	      1000000u
#define LB_BURST_DEFAULT      40u
#define LB_WEIGHT_MAX	      1000000u
#define LB_NONE		      0xffu

enum lb_mode { LB_MODE_WEIGHTED = 0, LB_MODE_FLOW_HASH = 1 };
enum lb_owner { LB_OWNER_NONE = 0, LB_OWNER_CLIENT_HASH = 1, LB_OWNER_IVIP_PORT = 2 };

/* Config value names, NULL-terminated, in enum order. */
extern const char *const lb_mode_names[];
extern const char *const lb_owner_names[];

struct lb_select_config {
	int mode;	     /* enum lb_mode */
	int owner;	     /* enum lb_owner */
	uint32_t burst;	     /* weighted: packets per pick, 1..LB_BURST_MAX */
	uint32_t table_size; /* flow-hash: prime, LB_TABLE_SIZE_MIN..MAX */
	uint64_t hash_seed;  /* flow-hash: same on every load balancer */
	uint64_t rng_seed;   /* weighted: 0 = random */
};

void lb_select_config_default(struct lb_select_config *cfg);

struct lb_member_def {
	uint32_t id;
	uint16_t port_min, port_max; /* owner = ivip-port; 0-0 = none */
};

/* A packet's flow. Host order. has_ports is false for protocols without
 * ports and for non-first fragments (then only addresses are hashed). */
struct lb_flow {
	uint32_t saddr, daddr;
	uint16_t sport, dport;
	uint8_t proto;
	bool has_ports;
	bool fragment;
};

/* Reads the flow from an IPv4 packet (at least its first 24 bytes past the
 * IP header for ports). 0, or -EINVAL when it is not IPv4 or too short. */
int lb_flow_parse(const uint8_t *pkt, size_t len, struct lb_flow *out);
/* The seeded flow hash the table is indexed with. */
uint64_t lb_flow_hash(uint64_t seed, const struct lb_flow *f);

struct lb_select_stats {
	uint64_t picks, bursts, no_member;
	uint64_t owner_hits, owner_down;
	uint64_t rebuilds, weight_updates;
};

struct lb_select {
	struct lb_select_config cfg;
	unsigned n;
	struct lb_member_def def[LB_MAX_MEMBERS]; /* sorted by id */
	bool live[LB_MAX_MEMBERS];
	uint32_t weight[LB_MAX_MEMBERS];
	/* flow-hash */
	uint8_t *primary; /* Maglev layout over all members */
	uint8_t *table;	  /* effective: live primary or HRW fallback */
	bool table_dirty;
	/* weighted */
	uint64_t cum[LB_MAX_MEMBERS]; /* cumulative weights of the eligible */
	uint8_t cum_idx[LB_MAX_MEMBERS];
	unsigned ncum;
	uint64_t total;
	bool weights_dirty;
	uint64_t rng;
	int cur;	     /* member of the current burst, -1 = none */
	uint32_t burst_left; /* packets left in it */
	struct lb_select_stats st;
};

bool lb_is_prime(uint32_t n);

/* Members must have distinct ids (any order; they are sorted). Every member
 * starts not live with weight 0. 0, -EINVAL (bad config, n out of 1..
 * LB_MAX_MEMBERS, duplicate ids) or -ENOMEM. */
int lb_select_init(struct lb_select *s, const struct lb_select_config *cfg,
		   const struct lb_member_def *members, unsigned n);
void lb_select_free(struct lb_select *s);

/* Index of a member id, or -1. */
int lb_select_index(const struct lb_select *s, uint32_t id);

/* Changes take effect at the next pick (rebuilt lazily, or at once with
 * lb_select_commit). */
void lb_select_set_live(struct lb_select *s, unsigned idx, bool live);
void lb_select_set_weight(struct lb_select *s, unsigned idx, uint32_t weight);
void lb_select_commit(struct lb_select *s);

/* The member for this packet by the configured mode, or -1 when no member
 * is live. */
int lb_select_pick(struct lb_select *s, const struct lb_flow *f);
/* The parts, for tests: table lookup, owner, one weighted draw. */
int lb_select_flow(struct lb_select *s, const struct lb_flow *f);
int lb_select_owner(const struct lb_select *s, const struct lb_flow *f);
int lb_select_weighted(struct lb_select *s);
/* Effective table slot of a flow and its member (LB_NONE when none). */
uint32_t lb_select_slot(const struct lb_select *s, const struct lb_flow *f);

#endif
