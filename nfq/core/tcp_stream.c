/* tcp_stream - see tcp_stream.h for the policy.
 *
 * Out-of-order bytes live in a singly linked list of chunks sorted by
 * offset, pairwise disjoint, all beyond next_off (a chunk reaching next_off
 * is delivered at once).  A new segment is walked against that list piece by
 * piece: a piece covered by a chunk is compared with it (first copy wins), a
 * piece at next_off is delivered from the segment itself, any other piece is
 * copied into a new chunk.  The tail pointer makes the common case (a hole,
 * then later segments arriving in order behind it) O(1).
 */
#include "tcp_stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "packet.h"
#include "seq.h"
#include "stats.h"

struct tcp_ooo_chunk {
	struct tcp_ooo_chunk *next;
	uint64_t off;
	uint32_t len;
	uint8_t data[];
};

static uint64_t chunk_end(const struct tcp_ooo_chunk *c)
{
	return c->off + c->len;
}

void tcp_reasm_limits_default(struct tcp_reasm_limits *l)
{
	l->stream_bytes = TCP_REASM_DEFAULT_STREAM_BYTES;
	l->stream_segs = TCP_REASM_DEFAULT_STREAM_SEGS;
	l->total_bytes = TCP_REASM_DEFAULT_TOTAL_BYTES;
	l->max_ahead = TCP_REASM_DEFAULT_MAX_AHEAD;
}

void tcp_reasm_ctx_init(struct tcp_reasm_ctx *rc, const struct tcp_reasm_limits *limits)
{
	memset(rc, 0, sizeof(*rc));
	if (limits)
		rc->limits = *limits;
	else
		tcp_reasm_limits_default(&rc->limits);
}

void tcp_reasm_stats_report(const struct tcp_reasm_ctx *rc, struct stats_report *r,
			    const char *prefix)
{
	const struct tcp_reasm_stats *st = &rc->stats;

	stats_add(r, prefix, "segments", st->segments);
	stats_add(r, prefix, "bytes_delivered", st->bytes_delivered);
	stats_add(r, prefix, "retrans_segments", st->retrans_segments);
	stats_add(r, prefix, "retrans_bytes", st->retrans_bytes);
	stats_add(r, prefix, "overlaps", st->overlaps);
	stats_add(r, prefix, "overlap_bytes", st->overlap_bytes);
	stats_add(r, prefix, "overlap_mismatch", st->overlap_mismatch);
	stats_add(r, prefix, "ooo_segments", st->ooo_segments);
	stats_add(r, prefix, "ooo_bytes", st->ooo_bytes);
	stats_add(r, prefix, "ooo_drops", st->ooo_drops);
	stats_add(r, prefix, "ooo_drop_bytes", st->ooo_drop_bytes);
	stats_add(r, prefix, "ooo_drop_stream", st->ooo_drop_stream);
	stats_add(r, prefix, "ooo_drop_global", st->ooo_drop_global);
	stats_add(r, prefix, "ooo_nomem", st->ooo_nomem);
	stats_add(r, prefix, "gaps", st->gaps);
	stats_add(r, prefix, "gap_bytes", st->gap_bytes);
	stats_add(r, prefix, "fins", st->fins);
	stats_add(r, prefix, "rsts", st->rsts);
	stats_add(r, prefix, "midstream", st->midstream);
	stats_add(r, prefix, "syn_mismatch", st->syn_mismatch);
	stats_add(r, prefix, "fin_mismatch", st->fin_mismatch);
	stats_add(r, prefix, "after_fin_bytes", st->after_fin_bytes);
	stats_add(r, prefix, "out_of_window", st->out_of_window);
	stats_add(r, prefix, "malformed", st->malformed);
	stats_add(r, prefix, "truncated", st->truncated);
	stats_add(r, prefix, "acks_ahead", st->acks_ahead);
	stats_add(r, prefix, "buffered_bytes", rc->used_bytes);
	stats_add(r, prefix, "buffered_segs", rc->used_segs);
}

void tcp_stream_init(struct tcp_stream *s, struct tcp_reasm_ctx *rc,
		     const struct tcp_stream_consumer *consumer)
{
	memset(s, 0, sizeof(*s));
	s->rc = rc;
	if (consumer)
		s->consumer = *consumer;
}

void tcp_stream_set_consumer(struct tcp_stream *s, const struct tcp_stream_consumer *consumer)
{
	if (consumer)
		s->consumer = *consumer;
	else
		memset(&s->consumer, 0, sizeof(s->consumer));
}

static void chunk_free(struct tcp_stream *s, struct tcp_ooo_chunk *c)
{
	s->ooo_bytes -= c->len;
	s->ooo_segs--;
	s->rc->used_bytes -= c->len;
	s->rc->used_segs--;
	free(c);
}

void tcp_stream_reset(struct tcp_stream *s)
{
	struct tcp_reasm_ctx *rc = s->rc;
	struct tcp_stream_consumer consumer = s->consumer;
	struct tcp_ooo_chunk *c = s->ooo_head;

	while (c) {
		struct tcp_ooo_chunk *next = c->next;

		chunk_free(s, c);
		c = next;
	}
	tcp_stream_init(s, rc, &consumer);
}

int tcp_stream_start(struct tcp_stream *s, uint32_t isn)
{
	if (s->started)
		return -EALREADY;
	s->started = true;
	s->isn = isn;
	return 0;
}

uint64_t tcp_stream_first_buffered(const struct tcp_stream *s)
{
	return s->ooo_head ? s->ooo_head->off : s->next_off;
}

/* Offset of `seq` unwrapped against `ref`: within 2^31 either side. */
static int64_t unwrap(const struct tcp_stream *s, uint32_t seq, uint64_t ref)
{
	return (int64_t)ref + seq_diff(seq, tcp_stream_seq_of(s, ref));
}

static void deliver(struct tcp_stream *s, const uint8_t *data, size_t len)
{
	uint64_t off = s->next_off;

	s->next_off += len;
	s->rc->stats.bytes_delivered += len;
	if (s->consumer.data && len)
		s->consumer.data(s->consumer.ctx, off, data, len);
}

/* Delivers every chunk that became contiguous with next_off. */
static void drain(struct tcp_stream *s)
{
	struct tcp_ooo_chunk *c;

	while ((c = s->ooo_head) && c->off <= s->next_off) {
		s->ooo_head = c->next;
		if (!s->ooo_head)
			s->ooo_tail = NULL;
		/* Chunks are kept beyond next_off, so c->off == next_off. */
		deliver(s, c->data, c->len);
		chunk_free(s, c);
	}
}

static void maybe_fin(struct tcp_stream *s)
{
	if (!s->fin_seen || s->fin_done || s->next_off < s->fin_off || s->ooo_head)
		return;
	s->fin_done = true;
	s->rc->stats.fins++;
	if (s->consumer.fin)
		s->consumer.fin(s->consumer.ctx, s->fin_off);
}

/* May a chunk of n more bytes be buffered?  Counts the drop if not. */
static bool may_buffer(struct tcp_stream *s, uint64_t n, uint64_t dropped)
{
	struct tcp_reasm_ctx *rc = s->rc;
	const struct tcp_reasm_limits *l = &rc->limits;

	if (s->ooo_segs + 1u > l->stream_segs || s->ooo_bytes + n > l->stream_bytes) {
		rc->stats.ooo_drop_stream++;
	} else if (rc->used_bytes + n > l->total_bytes) {
		rc->stats.ooo_drop_global++;
	} else {
		return true;
	}
	rc->stats.ooo_drops++;
	rc->stats.ooo_drop_bytes += dropped;
	return false;
}

/* Handles data [a, a + len) with a >= next_off, not beyond the FIN. */
static void add_data(struct tcp_stream *s, uint64_t a, const uint8_t *d, uint64_t len)
{
	struct tcp_reasm_stats *st = &s->rc->stats;
	struct tcp_ooo_chunk **link = &s->ooo_head;
	struct tcp_ooo_chunk *c = s->ooo_head;
	uint64_t b = a + len, pos = a, overlap = 0;
	bool mismatch = false;

	if (s->ooo_tail && a >= chunk_end(s->ooo_tail)) {
		link = &s->ooo_tail->next;
		c = NULL;
	}
	while (pos < b) {
		while (c && chunk_end(c) <= pos) {
			link = &c->next;
			c = c->next;
		}
		if (c && c->off <= pos) {
			uint64_t e = b < chunk_end(c) ? b : chunk_end(c);

			if (memcmp(d + (pos - a), c->data + (pos - c->off), e - pos) != 0)
				mismatch = true;
			overlap += e - pos;
			pos = e;
			if (c->off == s->next_off) {
				/* The segment filled the hole before c (c is the
				 * head): deliver c now, not after the walk, so the
				 * bytes after it are delivered, not copied. */
				struct tcp_ooo_chunk *next = c->next;

				*link = next;
				if (!next)
					s->ooo_tail = NULL;
				deliver(s, c->data, c->len);
				chunk_free(s, c);
				c = next;
			}
			continue;
		}
		uint64_t end = c && c->off < b ? c->off : b;

		if (pos == s->next_off) {
			deliver(s, d + (pos - a), end - pos);
			pos = end;
			continue;
		}
		if (!may_buffer(s, end - pos, b - pos))
			break;
		struct tcp_ooo_chunk *n = malloc(sizeof(*n) + (end - pos));

		if (!n) {
			st->ooo_nomem++;
			st->ooo_drops++;
			st->ooo_drop_bytes += b - pos;
			break;
		}
		n->off = pos;
		n->len = (uint32_t)(end - pos);
		memcpy(n->data, d + (pos - a), n->len);
		n->next = c;
		*link = n;
		if (!c)
			s->ooo_tail = n;
		link = &n->next;
		s->ooo_bytes += n->len;
		s->ooo_segs++;
		s->rc->used_bytes += n->len;
		s->rc->used_segs++;
		st->ooo_segments++;
		st->ooo_bytes += n->len;
		pos = end;
	}
	if (overlap) {
		st->overlaps++;
		st->overlap_bytes += overlap;
		if (mismatch)
			st->overlap_mismatch++;
	}
	drain(s);
}

/* Records a FIN ending at `fin_at`; a FIN that contradicts what was seen
 * (an earlier FIN elsewhere, or data already beyond it) is counted and
 * ignored. */
static void note_fin(struct tcp_stream *s, uint64_t fin_at)
{
	uint64_t beyond = s->ooo_tail ? chunk_end(s->ooo_tail) : s->next_off;

	if (s->fin_seen) {
		if (fin_at != s->fin_off)
			s->rc->stats.fin_mismatch++;
		return;
	}
	if (fin_at < s->next_off || fin_at < beyond) {
		s->rc->stats.fin_mismatch++;
		return;
	}
	s->fin_seen = true;
	s->fin_off = fin_at;
	if (s->high_off > fin_at)
		s->high_off = fin_at;
}

int tcp_stream_segment(struct tcp_stream *s, const struct tcp_seg *seg, uint64_t now)
{
	struct tcp_reasm_stats *st = &s->rc->stats;
	uint32_t wire = seg->wire_len ? seg->wire_len : seg->len;
	bool syn = seg->flags & TCP_FL_SYN;
	bool was_waiting = tcp_stream_waiting(s);
	uint64_t old_next = s->next_off;

	st->segments++;
	if (seg->len > wire || wire > TCP_STREAM_MAX_SEG || (seg->len && !seg->data)) {
		st->malformed++;
		return -EINVAL;
	}
	if (wire > seg->len)
		st->truncated++;
	if (syn) {
		if (!s->started) {
			tcp_stream_start(s, seg->seq);
			s->syn_seen = true;
		} else if (seg->seq != s->isn) {
			st->syn_mismatch++;
			return -ESTALE;
		}
	}
	uint32_t data_seq = seg->seq + (syn ? 1u : 0u);

	if (!s->started) {
		tcp_stream_start(s, data_seq - 1u);
		s->midstream = true;
		st->midstream++;
	}
	int64_t off = unwrap(s, data_seq, s->next_off);
	int64_t end = off + (int64_t)wire;

	if ((seg->flags & TCP_FL_RST) && !s->rst_seen) {
		s->rst_seen = true;
		s->rst_off = off > 0 ? (uint64_t)off : 0;
		st->rsts++;
	}
	if (end > 0 && (uint64_t)end > s->next_off &&
	    (uint64_t)end - s->next_off > s->rc->limits.max_ahead) {
		st->out_of_window++;
		return 0;
	}
	if (end > 0 && (uint64_t)end > s->high_off)
		s->high_off = (uint64_t)end;
	if ((seg->flags & TCP_FL_FIN) && end >= 0)
		note_fin(s, (uint64_t)end);

	/* The bytes present: [off, off + len), cut at the FIN. */
	int64_t a = off, b = off + (int64_t)seg->len;

	if (s->fin_seen && b > (int64_t)s->fin_off) {
		int64_t cut = a > (int64_t)s->fin_off ? a : (int64_t)s->fin_off;

		st->after_fin_bytes += (uint64_t)(b - cut);
		b = cut;
	}
	if (a < (int64_t)s->next_off && b > a) {
		int64_t stale_end = b < (int64_t)s->next_off ? b : (int64_t)s->next_off;

		st->retrans_segments++;
		st->retrans_bytes += (uint64_t)(stale_end - a);
		a = stale_end;
	}
	if (b > a)
		add_data(s, (uint64_t)a, seg->data + (a - off), (uint64_t)(b - a));
	maybe_fin(s);
	if (tcp_stream_waiting(s) && (!was_waiting || s->next_off != old_next))
		s->hole_since = now;
	return 0;
}

void tcp_stream_ack(struct tcp_stream *s, uint32_t ack)
{
	if (!s->started)
		return;
	int64_t a = unwrap(s, ack, s->ack_seen ? s->ack_off : s->next_off);

	if (a < 0 || (s->ack_seen && (uint64_t)a <= s->ack_off))
		return;
	uint64_t seen = s->high_off > s->next_off ? s->high_off : s->next_off;

	if (s->fin_seen)
		seen = s->fin_off + 1u; /* the FIN takes one sequence number */
	if ((uint64_t)a > seen) {
		/* Acking bytes not seen: copies were lost (kept), or the ACK
		 * is bogus, beyond any window (ignored, so that it cannot
		 * mask the real ACKs that follow). */
		s->rc->stats.acks_ahead++;
		if ((uint64_t)a - seen > s->rc->limits.max_ahead)
			return;
	}
	s->ack_off = (uint64_t)a;
	s->ack_seen = true;
}

static void skip_to(struct tcp_stream *s, uint64_t target)
{
	uint64_t len = target - s->next_off;

	s->rc->stats.gaps++;
	s->rc->stats.gap_bytes += len;
	if (s->consumer.gap)
		s->consumer.gap(s->consumer.ctx, s->next_off, len);
	s->next_off = target;
}

uint64_t tcp_stream_skip_gap(struct tcp_stream *s, uint64_t now)
{
	uint64_t target;

	if (!s->started)
		return 0;
	if (s->ooo_head)
		target = s->ooo_head->off;
	else if (s->fin_seen && s->fin_off > s->next_off)
		target = s->fin_off;
	else
		return 0;
	uint64_t len = target - s->next_off;

	skip_to(s, target);
	drain(s);
	maybe_fin(s);
	s->hole_since = now;
	return len;
}

uint64_t tcp_stream_flush(struct tcp_stream *s, uint64_t now)
{
	uint64_t total = 0, n;

	while ((n = tcp_stream_skip_gap(s, now)) > 0)
		total += n;
	if (s->started && !s->fin_seen && s->high_off > s->next_off) {
		total += s->high_off - s->next_off;
		skip_to(s, s->high_off);
	}
	return total;
}
