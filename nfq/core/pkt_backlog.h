/* pkt_backlog - copies of queued packets waiting for the logging pipeline.
 *
 * Why: the NFQUEUE engine sends the verdicts of a receive round only after
 * the handler has seen every packet of it, and a packet's bytes live in the
 * engine's receive buffer for the handler call only. Logging a packet
 * (reassembly, parsing, hashing, row building) inline would hold back the
 * verdicts of the whole round, so the handler only copies the packet here
 * and accepts it; the daemon drains the backlog from its event loop right
 * after the round's verdicts went out. Traffic never waits for the log.
 *
 * A byte ring of variable-length records, bounded by its capacity: when it
 * is full the copy is not made and counted (the packet was accepted all
 * the same; the log then has a hole there, which the parser treats as lost
 * bytes). Single-threaded: push and pop run in the daemon's loop thread. */
#ifndef CRAFT_PKT_BACKLOG_H
#define CRAFT_PKT_BACKLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stats_report;

struct pkt_backlog_pkt {
	const uint8_t *data; /* valid until the next push or pop */
	uint32_t len, wire_len;
	uint64_t ts_us;
};

struct pkt_backlog {
	uint8_t *buf;
	size_t cap;
	size_t head, tail, wrap_end;
	bool wrapped; /* records in [head, wrap_end) and [0, tail) */
	uint64_t count;
	uint64_t used, used_max; /* bytes of records held */
	uint64_t pushed, dropped, dropped_bytes;
};

/* 0 or -ENOMEM / -EINVAL (cap below 64 KiB). */
int pkt_backlog_init(struct pkt_backlog *b, size_t cap);
void pkt_backlog_free(struct pkt_backlog *b);
/* Copies a packet in. Returns 1 when the backlog was empty before (the
 * caller wakes the drainer), 0 otherwise, -ENOBUFS when full (counted). */
int pkt_backlog_push(struct pkt_backlog *b, const uint8_t *data, uint32_t len, uint32_t wire_len,
		     uint64_t ts_us);
/* The oldest packet, removed; false when empty. */
bool pkt_backlog_pop(struct pkt_backlog *b, struct pkt_backlog_pkt *out);
static inline bool pkt_backlog_empty(const struct pkt_backlog *b)
{
	return b->count == 0;
}
void pkt_backlog_collect_stats(const struct pkt_backlog *b, struct stats_report *r,
			       const char *prefix);

#endif
