/* passthrough - the logger host's first job: see every segment that crosses
 * the host, accept it at once, and count what it saw. The transaction
 * logger (reassembly, parsing, SQLite) grows on top of this; until then the
 * counters prove that the queue sees both directions of every connection. */
#ifndef CRAFT_LOGGER_PASSTHROUGH_H
#define CRAFT_LOGGER_PASSTHROUGH_H

#include <stdint.h>

#include "nfq_engine.h"
#include "packet.h"
#include "stats.h"

struct passthrough_counters {
	uint64_t tcp_segments, payload_bytes;
	uint64_t syn, fin, rst;
	uint64_t not_ipv4_tcp;		 /* other protocols the rule let through */
	uint64_t malformed[PKT_NERRORS]; /* by -pkt_error */
};

struct passthrough {
	struct passthrough_counters count;
};

/* Counts one queued packet from its header view (tcp4_view_parse's result
 * rc and view, parsed once by the handler for every user of the packet
 * path; truncated copies allowed) and leaves the verdict at accept. */
void passthrough_packet(struct passthrough *pt, int rc, const struct tcp4_view *v);
void passthrough_collect_stats(const struct passthrough *pt, struct stats_report *r);

#endif
