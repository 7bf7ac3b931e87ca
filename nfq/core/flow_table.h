/* flow_table - the logger's table of TCP connections.
 *
 * One entry per connection, found from either direction: the key is the
 * 4-tuple with its two endpoints put in a fixed order, so a segment and its
 * reply hash to the same bucket.  An entry holds the two reassembled
 * streams (client->server and server->client, tcp_stream.h) and a user
 * pointer for the parser's state.  The client is the side that sent the SYN
 * (or, seen a SYN-ACK first, the side that received it); for a connection
 * picked up mid-stream a configurable rule decides: the side whose peer's
 * port is in the server-port set is the client, else the side with the
 * higher port (or the first sender, by configuration).
 *
 * Bounded: at most max_conns entries.  When full, a new connection evicts
 * the oldest idle entry (lingering ones first), or is refused if eviction is
 * off; both are counted.  Entries move through two lists ordered by last
 * activity: "active", expired after idle_timeout, and "lingering" (after a
 * FIN each way or an RST), kept for linger_timeout so that late
 * retransmissions do not create a new entry.  A SYN carrying a new ISN on a
 * lingering entry is a new connection on the same 4-tuple: the old entry is
 * closed and replaced.  On a live entry it is counted and ignored, so that a
 * stray SYN cannot end the logging of a connection.  A third list holds the
 * entries whose streams wait behind a hole; flow_table_expire() skips a hole
 * once it has waited hole_timeout.
 *
 * Callbacks (flow_callbacks and the stream consumers) run inside the
 * table's functions and must not add or remove entries; to end a
 * connection from a consumer, note it and call flow_table_remove() after
 * flow_table_input() returns.
 *
 * The caller drives time: every call takes `now` in milliseconds of a
 * monotonic clock, and a timer calls flow_table_expire().  Memory: one malloc
 * per new connection (the bucket array is allocated once, sized for
 * max_conns), plus the out-of-order chunks of tcp_stream, bounded by the
 * reassembly limits; the per-packet path allocates nothing else.
 */
#ifndef CRAFT_FLOW_TABLE_H
#define CRAFT_FLOW_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "packet.h"
#include "tcp_stream.h"

struct stats_report;
struct flow_table; /* opaque */

enum flow_dir {
	FLOW_C2S = 0, /* client -> server */
	FLOW_S2C = 1, /* server -> client */
};

enum flow_close_reason {
	FLOW_CLOSE_FINISHED, /* FIN both ways or RST, linger time over */
	FLOW_CLOSE_IDLE,     /* no segment for idle_timeout */
	FLOW_CLOSE_EVICTED,  /* table full, room made for a new connection */
	FLOW_CLOSE_REUSED,   /* a new connection came on the same 4-tuple */
	FLOW_CLOSE_REMOVED,  /* flow_table_remove() */
	FLOW_CLOSE_DESTROYED /* flow_table_destroy() */
};

/* Who is the client of a connection picked up mid-stream when the server-
 * port set does not decide. */
enum flow_midstream_rule {
	FLOW_MID_LOWER_PORT_IS_SERVER, /* default; equal ports: sender is client */
	FLOW_MID_SENDER_IS_CLIENT,     /* the side of the first segment seen */
};

struct flow_entry {
	/* Endpoints, host order; read-only. */
	uint32_t caddr, saddr;
	uint16_t cport, sport;
	struct tcp_stream dir[2]; /* indexed by enum flow_dir; read-only */
	void *user;		  /* the caller's */
	uint64_t id;		  /* serial number, unique per table */
	uint64_t created;	  /* `now` of the first segment */
	uint64_t last_seen;	  /* `now` of the latest segment */
	uint64_t closed_at;	  /* `now` when it began to linger */
	bool midstream;		  /* created from neither SYN nor SYN-ACK */
	bool closed;		  /* FIN both ways or RST: lingering */
	/* Private to flow_table.c. */
	bool on_wait;
	uint32_t hash;
	struct flow_entry *hnext;
	struct flow_entry *lprev, *lnext;
	struct flow_entry *wprev, *wnext;
};

struct flow_callbacks {
	/* A new entry, before its first segment is fed: set e->user and the
	 * stream consumers (tcp_stream_set_consumer(&e->dir[FLOW_C2S], ...)).
	 * A non-zero return refuses the connection (counted; `closed` is not
	 * called).  May be NULL. */
	int (*created)(void *ctx, struct flow_entry *e, uint64_t now);
	/* The entry is about to be freed; its streams were flushed first
	 * (remaining data, gap and fin events delivered).  Release e->user
	 * here.  Must not call back into the table.  May be NULL. */
	void (*closed)(void *ctx, struct flow_entry *e, enum flow_close_reason why);
	void *ctx;
};

struct flow_table_config {
	unsigned max_conns;	 /* entries at most */
	uint64_t idle_timeout;	 /* ms without a segment before expiry */
	uint64_t linger_timeout; /* ms kept after FIN both ways / RST */
	uint64_t hole_timeout;	 /* ms a stream waits behind a hole */
	bool pickup_midstream;	 /* create entries without a SYN */
	bool evict_when_full;	 /* evict the oldest idle entry when full */
	enum flow_midstream_rule midstream_rule;
	const uint16_t *server_ports; /* copied at create; may be NULL */
	unsigned n_server_ports;
	uint64_t hash_seed; /* 0: random (getrandom) */
	struct tcp_reasm_limits reasm;
};

#define FLOW_DEFAULT_MAX_CONNS	    65536u
#define FLOW_DEFAULT_IDLE_TIMEOUT   600000u
#define FLOW_DEFAULT_LINGER_TIMEOUT 10000u
#define FLOW_DEFAULT_HOLE_TIMEOUT   3000u
/* Hard ceiling on max_conns (the bucket array is sized from it). */
#define FLOW_MAX_CONNS_LIMIT (1u << 24)

struct flow_table_stats {
	uint64_t created;     /* entries created */
	uint64_t finished;    /* removed after lingering */
	uint64_t expired;     /* removed when idle */
	uint64_t evicted;     /* removed to make room */
	uint64_t reused;      /* replaced by a new connection on the 4-tuple */
	uint64_t removed;     /* flow_table_remove() */
	uint64_t table_full;  /* new connections meeting a full table */
	uint64_t refused;     /* not created: full without eviction, nomem, callback */
	uint64_t midstream;   /* entries created from neither SYN nor SYN-ACK */
	uint64_t untracked;   /* segments of no entry that create none */
	uint64_t holes_timed; /* holes skipped by the hole timeout */
};

/* Every field default; no server ports. */
void flow_table_config_default(struct flow_table_config *cfg);

/* 0 or -EINVAL (max_conns 0 or above the ceiling), -ENOMEM.  `cb` is
 * copied; may be NULL. */
int flow_table_create(struct flow_table **out, const struct flow_table_config *cfg,
		      const struct flow_callbacks *cb);
/* Closes every entry (FLOW_CLOSE_DESTROYED, streams flushed) and frees. */
void flow_table_destroy(struct flow_table *ft);

/* Marks or unmarks a port as a service port for the mid-stream rule. */
void flow_table_set_server_port(struct flow_table *ft, uint16_t port, bool server);

/* The parts of a segment the table uses. */
struct flow_segment {
	uint32_t saddr, daddr; /* host order */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	const uint8_t *data;
	uint32_t len;	   /* bytes present at data */
	uint32_t wire_len; /* payload length on the wire; 0 means len */
};

/* From a parsed packet (a truncated copy keeps its wire length). */
void flow_segment_from_view(const struct tcp4_view *v, struct flow_segment *out);

/* Finds or creates the segment's entry, feeds the segment to the stream of
 * its direction and its ACK to the other.  Returns 0 with *entry and *dir
 * set; -ENOENT: no entry and none created for it (RST, or no SYN with
 * mid-stream pickup off); -ENOSPC: table full and eviction off, -ENOMEM,
 * -ECANCELED: refused by the created callback; -EINVAL: malformed (the
 * entry is still returned).  `entry` / `dir` may be NULL. */
int flow_table_input(struct flow_table *ft, const struct flow_segment *seg, uint64_t now,
		     struct flow_entry **entry, enum flow_dir *dir);

/* The entry of a 4-tuple as seen on a segment (either direction), or NULL;
 * *dir (may be NULL) tells the segment's direction. */
struct flow_entry *flow_table_lookup(const struct flow_table *ft, uint32_t saddr, uint16_t sport,
				     uint32_t daddr, uint16_t dport, enum flow_dir *dir);

/* Timer work: removes lingering entries older than linger_timeout and idle
 * ones older than idle_timeout, and skips holes older than hole_timeout.
 * Returns the number of entries removed. */
unsigned flow_table_expire(struct flow_table *ft, uint64_t now);

/* Closes one entry now (FLOW_CLOSE_REMOVED). */
void flow_table_remove(struct flow_table *ft, struct flow_entry *e);

/* Calls fn for every entry (unspecified order) until it returns non-zero,
 * which is then returned.  fn must not add or remove entries. */
int flow_table_foreach(struct flow_table *ft, int (*fn)(void *ctx, struct flow_entry *e),
		       void *ctx);

unsigned flow_table_count(const struct flow_table *ft);
unsigned flow_table_lingering(const struct flow_table *ft);
const struct flow_table_stats *flow_table_stats(const struct flow_table *ft);
/* The reassembly context shared by the table's streams (limits, budget,
 * counters). */
struct tcp_reasm_ctx *flow_table_reasm(struct flow_table *ft);
/* Adds the table counters, gauges (conns, lingering) and the reassembly
 * counters as prefix_NAME. */
void flow_table_stats_report(const struct flow_table *ft, struct stats_report *r,
			     const char *prefix);

#endif /* CRAFT_FLOW_TABLE_H */
