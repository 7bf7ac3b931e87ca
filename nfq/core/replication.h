/* replication - splice state shared between proxies and split-splice
 * backends (thesis 4.6 step 6: "send the splicing state information to all
 * other proxies"), over authenticated datagrams.
 *
 * One context per node: a datagram endpoint in the event loop, the
 * configured peers (`peer = NAME ADDR:PORT [proxy|backend] [id=N]`), the
 * shared key. Outgoing: ADD (records), DEL, TOUCH (ids a proxy saw traffic
 * for, so replicas that see none do not idle them out), SYNC_REQUEST.
 * Incoming datagrams are authenticated (auth_msg: key, sender allow-list =
 * the peers' ids, replay window, freshness), decoded (splice_msg, strict)
 * and handed to callbacks, so the daemon decides what an ADD means; by
 * default records go straight into the splice_table given at create.
 * Everything is counted per peer: sent, received, rejected by auth reason
 * and by decode reason, applied, duplicates, stale, refused.
 *
 * Loss. Messages are idempotent (splice_table_apply: an ADD for a known id
 * updates it, never reopens a closed splice, an older generation is
 * ignored; a DEL for an unknown id is counted and ignored), so sending
 * twice is harmless and losing one copy is cheap to cover: every ADD and
 * DEL is sent again after resend_delay (re-sealed, so the copy is not a
 * replay; a bounded queue, overflow counted). A proxy that missed both
 * copies still converges: TOUCH/ADD refreshes from the proxies that carry
 * the traffic, idle expiry, and the sync below. We chose this over per-peer
 * acknowledgements and retransmission (conntrackd's NACK/ALARM modes)
 * because splice state is small, written once and rarely updated, while
 * an acknowledged channel costs a round trip of state per peer and per
 * message on the splice path.
 *
 * Sync ("a returning node resyncs before taking traffic"):
 * replication_request_sync() asks every proxy peer for its table; each
 * answers with a paced dump (sync_burst datagrams per tick, several records
 * per datagram, at most one dump per peer at a time) followed by SYNC_END
 * with the chunk and record counts. The first complete dump ends the sync
 * (callback sync_done(peer, true)); an incomplete one is asked again, and
 * after sync_timeout * (sync_retries + 1) without one the sync fails
 * (sync_done(NULL, false)). Records changing during a dump reach the
 * requester as ordinary ADD/DEL, since it is a peer too.
 *
 * Node ids: `id` (default: the listen address as a number) is the auth
 * sender id and the creator id in splice ids. A peer's id defaults to its
 * address likewise; a peer entry with our own id is skipped, so every node
 * can share one peer list.
 */
#ifndef CRAFT_REPLICATION_H
#define CRAFT_REPLICATION_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "auth_msg.h"
#include "config.h"
#include "splice_msg.h"
#include "splice_table.h"

struct event_loop;
struct stats_report;

#define REPLICATION_MAX_PEERS 32
#define REPLICATION_NAME_MAX  32

enum replication_peer_kind {
	REPLICATION_PEER_PROXY = 0,
	REPLICATION_PEER_BACKEND = 1,
};

struct replication_peer_config {
	char name[REPLICATION_NAME_MAX];
	struct sockaddr_in addr;
	enum replication_peer_kind kind;
	uint32_t id; /* 0: the address */
};

struct replication_config {
	uint32_t node_id; /* 0: the listen address */
	struct sockaddr_in listen;
	struct replication_peer_config peers[REPLICATION_MAX_PEERS];
	unsigned npeers;
	char key_file[256]; /* 64 hex digits in a file ... */
	char key[80];	    /* ... or here; exactly one of the two */
	uint64_t max_age_ms;
	uint64_t max_future_ms;
	uint64_t resend_delay_ms; /* second copy of ADD/DEL; 0 = none */
	uint32_t resend_queue;	  /* second copies pending at most */
	uint64_t max_datagram;	  /* bytes on the wire, auth overhead included */
	uint64_t sync_timeout_ms;
	uint32_t sync_retries;
	uint32_t sync_burst; /* dump datagrams per tick and peer */
	uint64_t tick_ms;
	uint64_t rcvbuf, sndbuf; /* socket buffers; 0 = kernel default */
};

void replication_config_default(struct replication_config *cfg);
/* Section [replication]: id, listen, peer (repeatable), key_file, key,
 * max_age, max_future, resend_delay, resend_queue, max_datagram,
 * sync_timeout, sync_retries, sync_burst, tick, rcvbuf, sndbuf. Use with
 * config_load_file_tables and a struct replication_config as dst. */
extern const struct config_key replication_config_keys[];
/* Parses "NAME ADDR:PORT [proxy|backend] [id=N]". 0 or -EINVAL. */
int replication_parse_peer(const char *value, struct replication_peer_config *out, char *err,
			   size_t errlen);

/* The datagram endpoint, conntrackd style: UDP by default, swappable (a
 * test or another transport). */
struct replication_transport_ops {
	const char *name;
	/* Opens the endpoint bound to listen; returns the fd the event loop
	 * polls for input (>= 0) or -errno. */
	int (*open)(void **state, const struct sockaddr_in *listen,
		    const struct replication_config *cfg);
	/* 0 or -errno (-EAGAIN: buffer full, the datagram is dropped). */
	int (*send)(void *state, const struct sockaddr_in *to, const void *buf, size_t len);
	/* Length of the datagram (larger than cap when it was cut), -EAGAIN
	 * when nothing is waiting, or -errno. */
	ssize_t (*recv)(void *state, void *buf, size_t cap, struct sockaddr_in *from);
	int (*local_addr)(void *state, struct sockaddr_in *out);
	void (*close)(void *state);
};

extern const struct replication_transport_ops replication_udp_transport;

struct replication_peer_stats {
	uint64_t sent, sent_bytes, send_errors;
	uint64_t received;			      /* authenticated datagrams */
	uint64_t auth_rejected[AUTH_NRESULTS];	      /* [-reason], by source address */
	uint64_t decode_rejected[SPLICE_MSG_NERRORS]; /* [-reason] */
	uint64_t applied, duplicates, stale, refused; /* records received */
	uint64_t deleted, del_missing;
	uint64_t touched, touch_missing;
	uint64_t sync_requests; /* dumps asked of us */
	uint64_t sync_chunks, sync_records, syncs_complete, syncs_incomplete;
	uint64_t wrong_source; /* authenticated as this peer, other address */
};

struct replication_peer {
	struct replication_peer_config cfg; /* id resolved */
	struct replication_peer_stats st;
};

struct replication_stats {
	uint64_t unknown_source[AUTH_NRESULTS]; /* rejects from no peer's address */
	uint64_t oversize;			/* datagrams over max_datagram */
	uint64_t recv_errors;
	uint64_t resend_queued, resend_dropped, resends;
	uint64_t dumps_served, dump_records;
	uint64_t sync_attempts;
};

enum replication_sync_state {
	REPLICATION_SYNC_IDLE,	  /* never asked */
	REPLICATION_SYNC_PENDING, /* waiting for a complete dump */
	REPLICATION_SYNC_DONE,
	REPLICATION_SYNC_FAILED,
};

/* Where received state goes. Any NULL member gets the default that applies
 * to the table given at create (see replication_default_*). */
struct replication_callbacks {
	/* A record from an ADD or a dump: an enum splice_apply_result or
	 * -errno (counted as refused). */
	int (*add)(void *ctx, const struct replication_peer *from, const struct splice_record *rec);
	/* 0, or -ENOENT for an unknown id. */
	int (*del)(void *ctx, const struct replication_peer *from, const struct splice_del *d);
	int (*touch)(void *ctx, const struct replication_peer *from, uint64_t id);
	/* End of replication_request_sync(): from is the peer whose dump was
	 * complete; NULL with ok when there is no proxy peer to ask, NULL
	 * without ok when none answered completely in time. */
	void (*sync_done)(void *ctx, const struct replication_peer *from, bool ok);
	/* Should peer `to` get this record (ADD, resend, dump)? Default: yes.
	 * E.g. a split-splice backend needs only splices to itself. */
	bool (*wants)(void *ctx, const struct replication_peer *to,
		      const struct splice_record *rec);
	void *ctx;
};

/* The defaults: apply / close (linger, reason kept; SPLICE_CLOSE_REUSED
 * removes at once, see splice_table_reused) / touch in the table, with
 * monotonic_ms() as the time. */
int replication_default_add(struct splice_table *t, const struct splice_record *rec);
int replication_default_del(struct splice_table *t, const struct splice_del *d);
int replication_default_touch(struct splice_table *t, uint64_t id);

struct replication;

/* Loads the key, opens the transport (ops NULL: UDP) and registers it in
 * loop. table may be NULL (no default apply, empty dumps). 0 or -errno
 * with a message in err. */
int replication_create(struct replication **out, const struct replication_config *cfg,
		       struct event_loop *loop, struct splice_table *table,
		       const struct replication_callbacks *cb,
		       const struct replication_transport_ops *ops, char *err, size_t errlen);
void replication_destroy(struct replication *r);

/* A peer added at run time (also allowed as an auth sender). 0, -EEXIST,
 * -ENOSPC, -EINVAL. A peer with our own id is ignored (returns 0). */
int replication_add_peer(struct replication *r, const struct replication_peer_config *pc, char *err,
			 size_t errlen);

uint32_t replication_node_id(const struct replication *r);
int replication_local_addr(const struct replication *r, struct sockaddr_in *out);

/* Sending. Each returns 0 when every wanted peer got its datagrams, else
 * the last -errno (counted per peer); -EINVAL for an invalid record,
 * deletion or id (nothing sent). ADD and DEL are queued for their second
 * copy. */
int replication_send_add(struct replication *r, const struct splice_record *rec);
int replication_send_adds(struct replication *r, const struct splice_record *recs, unsigned n);
int replication_send_del(struct replication *r, const struct splice_del *d);
int replication_send_touch(struct replication *r, const uint64_t *ids, unsigned n);
/* Starts (or restarts) a sync from the proxy peers. 0 or -errno. */
int replication_request_sync(struct replication *r);
enum replication_sync_state replication_sync_state(const struct replication *r);

/* A DEL for an entry of the table (id, keys, its close reason or admin). */
void replication_del_from_entry(struct splice_del *d, const struct splice_entry *e);

unsigned replication_peer_count(const struct replication *r);
const struct replication_peer *replication_peer_at(const struct replication *r, unsigned i);
const struct replication_peer *replication_peer_by_name(const struct replication *r,
							const char *name);
const struct replication_stats *replication_stats(const struct replication *r);
const struct auth_receiver *replication_auth(const struct replication *r);
/* Totals (summed over peers), globals and per peer name_sent /
 * name_received / name_rejected / name_applied. */
void replication_collect_stats(const struct replication *r, struct stats_report *rep,
			       const char *prefix);

#endif
