/* tcp_stream - reassembly of one direction of a TCP connection.
 *
 * The logger sees copies of segments as they cross it: in order, reordered,
 * retransmitted, overlapping, as 64 KiB GSO super-segments, or with a gap
 * that never fills because the copy was lost.  This module turns them into
 * the byte stream the receiver's TCP delivers to its application, addressed
 * by a 64-bit offset relative to ISN+1 (the first data byte is offset 0), so
 * streams longer than 4 GiB and sequence numbers wrapping at 2^32 need no
 * care from the consumer.  Sequence numbers are unwrapped against the
 * current position (next expected offset), which is exact while a segment
 * lies within 2^31 bytes of it; TCP windows are at most 2^30.
 *
 * Policy:
 * - Start: the ISN comes from the SYN; for a connection picked up mid-stream
 *   the first segment seen defines offset 0 and `midstream` is set.
 * - In-order bytes go straight from the segment to the consumer (no copy).
 * - Bytes before the next expected offset were delivered already: counted as
 *   retransmitted and ignored (their content is not kept, so a changed
 *   retransmission of delivered bytes cannot be detected here).
 * - Overlaps with buffered data: the first copy wins; overlaps whose bytes
 *   differ are counted (overlap_mismatch), a sign of evasion or of a broken
 *   middlebox.
 * - Out-of-order bytes are copied into a sorted list of chunks, one malloc
 *   per chunk, bounded per stream (bytes, chunks) and globally (bytes, the
 *   budget shared by all streams through struct tcp_reasm_ctx).  When a
 *   limit is hit the newest out-of-order data (the segment at hand) is
 *   dropped and counted: the sender retransmits it.
 * - A hole that never fills is skipped by the owner (after a timeout, or on
 *   FIN/RST) with tcp_stream_skip_gap() / tcp_stream_flush(); the consumer
 *   gets a gap event (offset, length) so a parser can resynchronise.
 * - FIN: its offset is recorded; the fin event fires once every byte before
 *   it was delivered (or skipped).  Data beyond the FIN is counted and
 *   ignored.  RST is recorded (rst_seen, rst_off); it does not flush by
 *   itself, because reordered data may still arrive.
 * - Segments more than `max_ahead` bytes beyond the next expected offset are
 *   out of any plausible window: counted and dropped.
 * - ACKs: tcp_stream_ack() records the highest cumulative ACK the *other*
 *   side sent for this direction, as an offset (ISN+1 -> 0; a FIN counts one
 *   sequence number, so acking it gives fin_off + 1).  For the server->client
 *   stream this is the paper's AckCL.  An ACK more than max_ahead beyond
 *   the highest byte seen is bogus and ignored (counted in acks_ahead).
 *
 * The consumer callbacks run synchronously inside tcp_stream_segment() and
 * friends and must not call back into the same stream.
 */
#ifndef CRAFT_TCP_STREAM_H
#define CRAFT_TCP_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stats_report;

/* Receives reassembled bytes: `offset` is relative to ISN+1. */
typedef void (*tcp_stream_data_fn)(void *ctx, uint64_t offset, const uint8_t *data, size_t len);
/* `len` bytes at `offset` will never be delivered (skipped hole). */
typedef void (*tcp_stream_gap_fn)(void *ctx, uint64_t offset, uint64_t len);
/* Every byte before `offset` (the FIN's offset) has been delivered or
 * skipped; called at most once per stream. */
typedef void (*tcp_stream_fin_fn)(void *ctx, uint64_t offset);

struct tcp_stream_consumer {
	tcp_stream_data_fn data; /* each may be NULL */
	tcp_stream_gap_fn gap;
	tcp_stream_fin_fn fin;
	void *ctx;
};

struct tcp_reasm_limits {
	size_t stream_bytes;  /* out-of-order bytes buffered per stream */
	unsigned stream_segs; /* out-of-order chunks buffered per stream */
	size_t total_bytes;   /* out-of-order bytes buffered by all streams */
	uint64_t max_ahead;   /* farthest a segment may end beyond next_off */
};

/* 4 MiB and 4096 chunks per stream, 256 MiB in all, 1 GiB ahead. */
#define TCP_REASM_DEFAULT_STREAM_BYTES (4u << 20)
#define TCP_REASM_DEFAULT_STREAM_SEGS  4096u
#define TCP_REASM_DEFAULT_TOTAL_BYTES  ((size_t)256 << 20)
#define TCP_REASM_DEFAULT_MAX_AHEAD    ((uint64_t)1 << 30)
/* Longest payload accepted from one segment (a GSO super-segment is at most
 * 64 KiB; a bigger length is malformed input). */
#define TCP_STREAM_MAX_SEG 65535u

struct tcp_reasm_stats {
	uint64_t segments;	   /* segments given to any stream */
	uint64_t bytes_delivered;  /* bytes given to consumers */
	uint64_t retrans_segments; /* segments with bytes already delivered */
	uint64_t retrans_bytes;	   /* bytes already delivered, seen again */
	uint64_t overlaps;	   /* segments overlapping buffered bytes */
	uint64_t overlap_bytes;	   /* bytes overlapping buffered bytes */
	uint64_t overlap_mismatch; /* segments whose overlap differs (first wins) */
	uint64_t ooo_segments;	   /* out-of-order pieces buffered */
	uint64_t ooo_bytes;	   /* out-of-order bytes buffered */
	uint64_t ooo_drops;	   /* pieces dropped: a buffer limit was hit */
	uint64_t ooo_drop_bytes;   /* bytes in those pieces */
	uint64_t ooo_drop_stream;  /* ... of which the per-stream limits */
	uint64_t ooo_drop_global;  /* ... of which the global budget */
	uint64_t ooo_nomem;	   /* ... of which malloc failed */
	uint64_t gaps;		   /* holes skipped */
	uint64_t gap_bytes;	   /* bytes in skipped holes */
	uint64_t fins;		   /* fin events delivered */
	uint64_t rsts;		   /* streams that saw an RST */
	uint64_t midstream;	   /* streams started without a SYN */
	uint64_t syn_mismatch;	   /* SYN with another ISN on a started stream */
	uint64_t fin_mismatch;	   /* FIN at another offset than the first one */
	uint64_t after_fin_bytes;  /* data beyond the FIN, ignored */
	uint64_t out_of_window;	   /* segments too far ahead, dropped */
	uint64_t malformed;	   /* segments with impossible lengths */
	uint64_t truncated;	   /* segments whose copy was cut short */
	uint64_t acks_ahead;	   /* ACKs beyond the highest byte seen */
};

/* Shared by every stream of one reassembler (one per thread): limits, the
 * global budget and the counters. */
struct tcp_reasm_ctx {
	struct tcp_reasm_limits limits;
	size_t used_bytes; /* out-of-order bytes buffered by all streams */
	size_t used_segs;  /* out-of-order chunks buffered by all streams */
	struct tcp_reasm_stats stats;
};

struct tcp_ooo_chunk; /* private */

/* One direction.  Every field is read-only for users. */
struct tcp_stream {
	struct tcp_reasm_ctx *rc;
	struct tcp_stream_consumer consumer;
	bool started;	     /* base known */
	bool syn_seen;	     /* the ISN is the SYN's (else: mid-stream pickup) */
	bool midstream;	     /* started from a non-SYN segment */
	bool fin_seen;	     /* fin_off is valid */
	bool fin_done;	     /* fin event delivered */
	bool rst_seen;	     /* rst_off is valid */
	bool ack_seen;	     /* ack_off is valid */
	uint32_t isn;	     /* sequence number of offset 0, minus one */
	uint64_t next_off;   /* next offset to deliver (all before: delivered or skipped) */
	uint64_t high_off;   /* highest end offset of any segment seen */
	uint64_t fin_off;    /* offset of the FIN (== stream length) */
	uint64_t rst_off;    /* offset of the first RST */
	uint64_t ack_off;    /* highest cumulative ACK from the peer, as an offset */
	uint64_t hole_since; /* when it last started waiting (see tcp_stream_waiting) */
	size_t ooo_bytes;    /* out-of-order bytes buffered */
	unsigned ooo_segs;   /* out-of-order chunks buffered */
	struct tcp_ooo_chunk *ooo_head; /* sorted by offset, disjoint */
	struct tcp_ooo_chunk *ooo_tail;
};

/* One segment as the stream needs it. */
struct tcp_seg {
	uint32_t seq;
	uint8_t flags;	     /* TCP_FL_* from packet.h; ACK is ignored here */
	const uint8_t *data; /* payload bytes present */
	uint32_t len;	     /* bytes at data */
	uint32_t wire_len;   /* payload length on the wire; 0 means len.  If
			      * larger than len (a copy cut short) the rest is
			      * a hole and the FIN lies after it. */
};

/* Fills the defaults above and zeroes the budget and counters. */
void tcp_reasm_ctx_init(struct tcp_reasm_ctx *rc, const struct tcp_reasm_limits *limits);
void tcp_reasm_limits_default(struct tcp_reasm_limits *l);
/* Adds the counters (and the buffered bytes/chunks gauges) as prefix_NAME. */
void tcp_reasm_stats_report(const struct tcp_reasm_ctx *rc, struct stats_report *r,
			    const char *prefix);

/* An empty, not yet started stream; `consumer` may be NULL (set later). */
void tcp_stream_init(struct tcp_stream *s, struct tcp_reasm_ctx *rc,
		     const struct tcp_stream_consumer *consumer);
void tcp_stream_set_consumer(struct tcp_stream *s, const struct tcp_stream_consumer *consumer);
/* Frees buffered chunks (returning their budget) without delivering them;
 * the stream is back to the state tcp_stream_init() left. */
void tcp_stream_reset(struct tcp_stream *s);

/* Starts the stream with a known ISN (offset 0 is isn+1) without a SYN,
 * e.g. from the ACK of the peer's SYN-ACK.  -EALREADY if started. */
int tcp_stream_start(struct tcp_stream *s, uint32_t isn);

/* Feeds one segment; `now` is any monotonic time, stored in hole_since.
 * Returns 0, -EINVAL (malformed, counted), or -ESTALE: a SYN whose ISN
 * differs from the stream's (a new connection on the same 4-tuple; the
 * segment is ignored and counted, the owner decides). */
int tcp_stream_segment(struct tcp_stream *s, const struct tcp_seg *seg, uint64_t now);

/* Records a cumulative ACK the peer sent for this direction. */
void tcp_stream_ack(struct tcp_stream *s, uint32_t ack);

/* Skips the first hole: reports a gap up to the first buffered chunk, or
 * up to the FIN when nothing is buffered, then delivers what became
 * contiguous.  Returns the bytes skipped (0: no hole to skip). */
uint64_t tcp_stream_skip_gap(struct tcp_stream *s, uint64_t now);
/* Skips every hole: delivers all buffered bytes, then skips to the FIN (or,
 * with no FIN, to the highest byte seen).  For the end of a connection.
 * Returns the bytes skipped. */
uint64_t tcp_stream_flush(struct tcp_stream *s, uint64_t now);

/* Is there buffered data waiting behind a hole? */
static inline bool tcp_stream_has_hole(const struct tcp_stream *s)
{
	return s->ooo_head != NULL;
}

/* Is the stream stuck behind a hole: data buffered beyond it, or a FIN
 * seen beyond it?  hole_since is the time (the `now` passed in) this state
 * began or the hole last moved; tcp_stream_skip_gap() ends it. */
static inline bool tcp_stream_waiting(const struct tcp_stream *s)
{
	return s->ooo_head != NULL || (s->fin_seen && !s->fin_done);
}

/* Has the stream ended: fin delivered, or RST seen? */
static inline bool tcp_stream_closed(const struct tcp_stream *s)
{
	return s->fin_done || s->rst_seen;
}

/* The sequence number of a stream offset (for mapping offsets back to the
 * wire, e.g. a transaction boundary). */
static inline uint32_t tcp_stream_seq_of(const struct tcp_stream *s, uint64_t off)
{
	return s->isn + 1u + (uint32_t)off;
}

/* Offset of the first buffered byte, or next_off with nothing buffered. */
uint64_t tcp_stream_first_buffered(const struct tcp_stream *s);

#endif /* CRAFT_TCP_STREAM_H */
