/* lb - the stateless load balancer's context (craft-lb).
 *
 * What it does per packet (NFQUEUE in raw PREROUTING, rules/lb.sh): read
 * the IPv4 header (and the ports), ask lb_select for a live proxy, and
 * accept the packet with that proxy's fwmark; policy routing
 * (`ip rule fwmark M lookup T`, `ip route VIP via PROXY table T`) then
 * sends it, unchanged, to the proxy's real address as next hop. Nothing is
 * remembered per packet or per connection: memory is the config, the
 * selector's table and the counters, whatever the number of connections.
 *
 * Who is live comes from heartbeats (heartbeat.h): a heartbeat receiver in
 * the same event loop feeds the membership, whose changes and workload
 * factors go straight into the selector.
 *
 * Config (besides [queue] and [daemon]):
 *   [lb]       vip, mode = weighted|flow-hash, burst, table_size, hash_seed,
 *              rng_seed, owner = none|client-hash|ivip-port,
 *              no_proxy = drop|accept, startup_beats
 *
 * Start-up: a freshly started load balancer knows nobody. If it admitted
 * the first proxy to beat and balanced at once, every flow would go to
 * that proxy until the others are heard: after a restart, connections
 * that hash elsewhere would be misrouted. So for startup_beats heartbeat
 * intervals (default 3 = the miss count), or until every configured proxy
 * is live, packets are dropped (counted; TCP retransmits) and membership
 * is only collected; then the selector starts with the whole picture and
 * maps every flow exactly as before the restart.
 *   [cluster]  proxy = ID ADDR [PORTMIN-PORTMAX] [mark=M] (repeatable),
 *              mark_base (mark = mark_base + ID unless given)
 *   [heartbeat] listen, interval, miss, join, rejoin, key_file, max_age,
 *              max_future, check_source, rcvbuf
 */
#ifndef CRAFT_LB_H
#define CRAFT_LB_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "heartbeat.h"
#include "lb_select.h"
#include "nfq_engine.h"
#include "stats.h"

/* Bytes of each packet copied to us: the balancer reads headers only. */
#define LB_COPY_RANGE NFQ_COPY_HEADERS

enum lb_no_proxy { LB_NO_PROXY_DROP = 0, LB_NO_PROXY_ACCEPT = 1 };

struct lb_proxy_def {
	uint32_t id;
	struct in_addr addr;
	uint16_t port_min, port_max;
	uint32_t mark; /* 0: mark_base + id */
};

struct lb_config {
	struct in_addr vip;
	struct lb_select_config sel;
	uint32_t hash_seed, rng_seed; /* widened into sel at init */
	int no_proxy;		      /* enum lb_no_proxy */
	uint32_t startup_beats;	      /* wait this many intervals for every proxy */
	uint32_t mark_base;
	struct lb_proxy_def proxies[LB_MAX_MEMBERS];
	unsigned nproxies;
	struct heartbeat_receiver_config hb;
};

void lb_config_defaults(struct lb_config *cfg);
extern const struct config_key lb_config_keys[];
/* Cross-key checks after loading. 0 or -EINVAL with a message. */
int lb_config_validate(struct lb_config *cfg, char *err, size_t errlen);

struct lb_member_counters {
	uint64_t packets, bytes;
};

struct lb_counters {
	uint64_t not_vip, malformed, fragments, no_proxy_drop, no_proxy_accept, startup_drop;
};

struct lb {
	struct lb_config cfg;
	struct lb_select sel;
	struct heartbeat_receiver hb;
	uint32_t vip;				       /* host order */
	uint32_t marks[LB_MAX_MEMBERS];		       /* by selector index */
	int hb_index[LB_MAX_MEMBERS];		       /* selector index -> membership index */
	struct lb_member_counters per[LB_MAX_MEMBERS]; /* by selector index */
	struct lb_counters count;
	bool sel_ready, hb_ready;
	bool warming;		/* start-up: collecting membership */
	uint64_t warm_until_ms; /* monotonic */
	int warm_timer;
};

/* Selector and heartbeat receiver (no socket yet). 0 or -errno + err. */
int lb_init(struct lb *lb, char *err, size_t errlen);
/* The heartbeat socket and timer in the daemon's loop. */
int lb_open(struct lb *lb, struct event_loop *loop, char *err, size_t errlen);
void lb_close(struct lb *lb);
void lb_on_packet(void *ctx, struct nfq_engine *engine, struct nfq_packet *pkt,
		  struct nfq_verdict *v);
void lb_collect_stats(void *ctx, struct stats_report *r);

#endif
