/* test_tcp_stream.c - one direction's reassembly: order, overlaps, limits,
 * holes, FIN/RST, ACK tracking, sequence wrap, and a randomised property:
 * whatever the segmentation, order, duplication and overlap, the delivered
 * stream equals the original bytes. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "helper_pktgen.h"
#include "packet.h"
#include "stats.h"
#include "tcp_stream.h"

/* Records what a consumer sees and checks that events come in order. */
struct sink {
	uint8_t *buf;
	size_t cap;
	uint64_t next;
	uint64_t data_bytes;
	unsigned data_calls;
	unsigned gaps;
	uint64_t gap_bytes, last_gap_off, last_gap_len;
	unsigned fins;
	uint64_t fin_off;
	bool order_error;
};

static void sink_data(void *ctx, uint64_t off, const uint8_t *data, size_t len)
{
	struct sink *k = ctx;

	if (off != k->next || k->fins)
		k->order_error = true;
	if (k->buf && off < k->cap)
		memcpy(k->buf + off, data, len < k->cap - off ? len : k->cap - off);
	k->next = off + len;
	k->data_bytes += len;
	k->data_calls++;
}

static void sink_gap(void *ctx, uint64_t off, uint64_t len)
{
	struct sink *k = ctx;

	if (off != k->next || len == 0 || k->fins)
		k->order_error = true;
	k->next = off + len;
	k->gaps++;
	k->gap_bytes += len;
	k->last_gap_off = off;
	k->last_gap_len = len;
}

static void sink_fin(void *ctx, uint64_t off)
{
	struct sink *k = ctx;

	if (off != k->next)
		k->order_error = true;
	k->fins++;
	k->fin_off = off;
}

static void sink_attach(struct tcp_stream *s, struct tcp_reasm_ctx *rc, struct sink *k,
			uint8_t *buf, size_t cap)
{
	struct tcp_stream_consumer c = {sink_data, sink_gap, sink_fin, k};

	memset(k, 0, sizeof(*k));
	k->buf = buf;
	k->cap = cap;
	tcp_stream_init(s, rc, &c);
}

static int feed(struct tcp_stream *s, uint32_t seq, uint8_t flags, const uint8_t *data,
		uint32_t len)
{
	struct tcp_seg g = {.seq = seq, .flags = flags, .data = data, .len = len};

	return tcp_stream_segment(s, &g, 0);
}

static void pattern(uint8_t *b, size_t n, uint32_t salt)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)((i * 131u + salt) ^ (i >> 8));
}

START_TEST(in_order)
{
	struct tcp_reasm_ctx rc;
	struct tcp_stream s;
	struct sink k;
	uint8_t src[3000], out[3000];

	pattern(src, sizeof(src), 1);
	tcp_reasm_ctx_init(&rc, NULL);
	sink_attach(&s, &rc, &k, out, sizeof(out));
	ck_assert_int_eq(feed(&s, 1000, TCP_FL_SYN, NULL, 0), 0);
	ck_assert(s.started && s.syn_seen && !s.midstream);
	ck_assert_uint_eq(s.isn, 1000);
	ck_assert_int_eq(feed(&s, 1001, TCP_FL_ACK, src, 1000), 0);
	ck_assert_int_eq(feed(&s, 2001, TCP_FL_ACK, src + 1000, 1000), 0);
	ck_assert_int_eq(feed(&s, 3001, TCP_FL_ACK | TCP_FL_FIN, src + 2000, 1000), 0);
	ck_assert_uint_eq(s.next_off, 3000);
	ck_assert_uint_eq(s.high_off, 3000);
	ck_assert(s.fin_seen && s.fin_done && tcp_stream_closed(&s));
	ck_assert_uint_eq(s.fin_off, 3000);
	ck_assert_int_eq(k.fins, 1);
	ck_assert_uint_eq(k.fin_off, 3000);
	ck_assert_int_eq(memcmp(src, out, sizeof(src)), 0);
	ck_assert(!k.order_error);
	ck_assert_uint_eq(rc.stats.bytes_delivered, 3000);
	ck_assert_uint_eq(rc.stats.ooo_segments, 0);
	ck_assert_uint_eq(tcp_stream_seq_of(&s, 0), 1001);
	tcp_stream_reset(&s);
}
END_TEST

START_TEST(reversed)
{
	struct tcp_reasm_ctx rc;
	struct tcp_stream s;
	struct sink k;
	uint8_t src[10000], out[10000];

	pattern(src, sizeof(src), 2);
	tcp_reasm_ctx_init(&rc, NULL);
	sink_attach(&s, &rc, &k, out, sizeof(out));
	feed(&s, 5, TCP_FL_SYN, NULL, 0);
	for (int i = 9; i >= 1; i--) {
		feed(&s, 6 + (uint32_t)i * 1000, TCP_FL_ACK, src + i * 1000, 1000);
		ck_assert_uint_eq(k.data_bytes, 0);
		ck_assert(tcp_stream_has_hole(&s) && tcp_stream_waiting(&s));
	}
	ck_assert_uint_eq(s.ooo_bytes, 9000);
	ck_assert_uint_eq(s.ooo_segs, 9);
	ck_assert_uint_eq(rc.used_bytes, 9000);
	ck_assert_uint_eq(tcp_stream_first_buffered(&s), 1000);
	feed(&s, 6, TCP_FL_ACK, src, 1000);
	ck_assert_uint_eq(k.data_bytes, 10000);
	ck_assert_int_eq(memcmp(src, out, sizeof(src)), 0);
	ck_assert_uint_eq(s.ooo_bytes, 0);
	ck_assert_uint_eq(rc.used_bytes, 0);
	ck_assert_uint_eq(rc.used_segs, 0);
	ck_assert_uint_eq(rc.stats.ooo_segments, 9);
	ck_assert(!tcp_stream_has_hole(&s));
	ck_assert(!k.order_error);
}
END_TEST

/* A stream of n bytes cut into segments covering it, plus duplicates and
 * random overlapping ranges, in a random order. */
struct piece {
	uint32_t off, len;
};

static unsigned make_pieces(struct pktgen_rng *r, uint32_t n, struct piece *p, unsigned cap)
{
	unsigned np = 0;
	uint32_t maxseg = 1 + pktgen_below(r, pktgen_chance(r, 10) ? 65535 : 3000);

	if (maxseg < n / (cap / 3)) /* room for the covering pieces */
		maxseg = n / (cap / 3) + 1;

	for (uint32_t off = 0; off < n && np < cap;) {
		uint32_t len = 1 + pktgen_below(r, maxseg);

		if (len > n - off)
			len = n - off;
		p[np++] = (struct piece){off, len};
		off += len;
	}
	unsigned extra = pktgen_below(r, np + 1);

	for (unsigned i = 0; i < extra && np < cap; i++) {
		if (pktgen_chance(r, 50)) {
			p[np] = p[pktgen_below(r, np)]; /* exact duplicate */
		} else {
			uint32_t a = pktgen_below(r, n), len = 1 + pktgen_below(r, n - a);

			if (len > 65535)
				len = 65535;
			p[np] = (struct piece){a, len};
		}
		np++;
	}
	/* Shuffle: fully, or only locally (the usual reordering). */
	bool local = pktgen_chance(r, 50);

	for (unsigned i = np; i > 1; i--) {
		unsigned j = local ? i - 1 - pktgen_below(r, i < 4 ? i : 4) : pktgen_below(r, i);
		struct piece t = p[i - 1];

		p[i - 1] = p[j];
		p[j] = t;
	}
	return np;
}

START_TEST(random_property)
{
	enum { MAXN = 200000, MAXP = 1024 };
	struct pktgen_rng r;
	uint8_t *src = malloc(MAXN), *out = malloc(MAXN);
	struct piece *p = malloc(MAXP * sizeof(*p));
	struct tcp_reasm_ctx rc;

	pktgen_rng_seed(&r, pktgen_test_seed("tcp_stream/random_property"));
	tcp_reasm_ctx_init(&rc, NULL);
	for (int trial = 0; trial < 3000; trial++) {
		uint32_t n =
		    pktgen_chance(&r, 5) ? pktgen_below(&r, MAXN) : pktgen_below(&r, 20000);
		uint32_t isn =
		    pktgen_chance(&r, 30) ? 0xFFFFFFFFu - pktgen_below(&r, 30000) : pktgen_u32(&r);
		bool midstream = pktgen_chance(&r, 10);
		struct tcp_stream s;
		struct sink k;

		pktgen_fill(&r, src, n);
		memset(out, 0, n);
		sink_attach(&s, &rc, &k, out, n);
		unsigned np = make_pieces(&r, n, p, MAXP);

		if (midstream)
			tcp_stream_start(&s, isn);
		else
			feed(&s, isn, TCP_FL_SYN, NULL, 0);
		for (unsigned i = 0; i < np; i++) {
			bool last = p[i].off + p[i].len == n;
			uint8_t fl = TCP_FL_ACK | (last && pktgen_chance(&r, 70) ? TCP_FL_FIN : 0);

			/* Plain checks in hot loops: every ck_assert writes to
			 * Check's pipe. */
			if (feed(&s, isn + 1 + p[i].off, fl, src + p[i].off, p[i].len) != 0)
				ck_abort_msg("trial %d: feed failed", trial);
		}
		feed(&s, isn + 1 + n, TCP_FL_ACK | TCP_FL_FIN, NULL, 0);
		if (k.data_bytes != n || memcmp(src, out, n) != 0 || k.order_error || k.fins != 1 ||
		    k.fin_off != n || k.gaps || s.ooo_bytes || rc.used_bytes)
			ck_abort_msg("trial %d: n=%u isn=%#x pieces=%u delivered=%llu fins=%u",
				     trial, n, isn, np, (unsigned long long)k.data_bytes, k.fins);
		tcp_stream_reset(&s);
	}
	ck_assert_uint_eq(rc.stats.overlap_mismatch, 0);
	ck_assert_uint_gt(rc.stats.overlaps, 0);
	ck_assert_uint_gt(rc.stats.retrans_bytes, 0);
	free(src);
	free(out);
	free(p);
}
END_TEST

START_TEST(sequence_wrap)
{
	struct tcp_reasm_ctx rc;
	struct tcp_stream s;
	struct sink k;
	uint8_t src[4000], out[4000];
	uint32_t isn = 0xFFFFFFFFu - 1500;

	pattern(src, sizeof(src), 3);
	tcp_reasm_ctx_init(&rc, NULL);
	sink_attach(&s, &rc, &k, out, sizeof(out));
	feed(&s, isn, TCP_FL_SYN, NULL, 0);
	/* Out of order across the wrap point. */
	feed(&s, isn + 1 + 2000, TCP_FL_ACK, src + 2000, 2000);
	feed(&s, isn + 1 + 1000, TCP_FL_ACK, src + 1000, 1000);
	ck_assert_uint_eq(k.data_bytes, 0);
	feed(&s, isn + 1, TCP_FL_ACK, src, 1000);
	ck_assert_uint_eq(k.data_bytes, 4000);
	ck_assert_int_eq(memcmp(src, out, sizeof(out)), 0);
	tcp_stream_ack(&s, isn + 1 + 3000);
	ck_assert(s.ack_seen);
	ck_assert_uint_eq(s.ack_off, 3000);
	ck_assert_uint_eq(tcp_stream_seq_of(&s, 4000), isn + 4001);
	ck_assert(!k.order_error);
}
END_TEST

/* More than 4 GiB through one stream: offsets keep growing past 2^32 while
 * the sequence number wraps (twice). */
static void count_data(void *ctx, uint64_t off, const uint8_t *data, size_t len)
{
	uint64_t *next = ctx;

	(void)data;
	if (off == *next)
		*next = off + len;
}

START_TEST(beyond_4gib)
{
	enum { SEG = 65000 };
	struct tcp_reasm_ctx rc;
	struct tcp_stream s;
	uint64_t next = 0;
	struct tcp_stream_consumer c = {.data = count_data, .ctx = &next};
	uint8_t *buf = calloc(1, SEG);
	uint32_t isn = 0x80000000u;
	uint64_t total = (5ull << 30) + 12345, off = 0;

	tcp_reasm_ctx_init(&rc, NULL);
	tcp_stream_init(&s, &rc, &c);
	feed(&s, isn, TCP_FL_SYN, NULL, 0);
	while (off < total) {
		uint32_t len = total - off < SEG ? (uint32_t)(total - off) : SEG;
		/* Every 64th segment swapped with its successor. */
		if ((off / SEG) % 64 == 0 && total - off > 2ull * SEG) {
			feed(&s, isn + 1 + (uint32_t)(off + SEG), TCP_FL_ACK, buf, SEG);
			feed(&s, isn + 1 + (uint32_t)off, TCP_FL_ACK, buf, SEG);
			off += 2 * SEG;
		} else {
			feed(&s, isn + 1 + (uint32_t)off, TCP_FL_ACK, buf, len);
			off += len;
		}
		tcp_stream_ack(&s, isn + 1 + (uint32_t)off);
	}
	ck_assert_uint_eq(next, total);
	ck_assert_uint_eq(s.next_off, total);
	ck_assert_uint_eq(s.ack_off, total);
	ck_assert_uint_eq(rc.stats.bytes_delivered, total);
	ck_assert_uint_eq(rc.stats.ooo_segments, rc.stats.ooo_segments);
	ck_assert_uint_gt(rc.stats.ooo_segments, 0);
	ck_assert_uint_eq(rc.used_bytes, 0);
	free(buf);
}
END_TEST

START_TEST(gso_64k)
{
	enum { SEG = 65535, N = 6 };
	struct tcp_reasm_ctx rc;
	struct tcp_stream s;
	struct sink k;
	uint8_t *src = malloc(SEG * N), *out = calloc(1, SEG * N);
	uint32_t isn = 0xFFFF0000u; /* wraps inside the first super-segment */

	pattern(src, SEG * N, 4);
	tcp_reasm_ctx_init(&rc, NULL);
	sink_attach(&s, &rc, &k, out, SEG * N);
	feed(&s, isn, TCP_FL_SYN, NULL, 0);
	/* 64 KiB segments out of order, one re-segmented at an odd offset. */
	feed(&s, isn + 1 + 3 * SEG, TCP_FL_ACK, src + 3 * SEG, SEG);
	feed(&s, isn + 1 + 5 * SEG, TCP_FL_ACK | TCP_FL_FIN, src + 5 * SEG, SEG);
	feed(&s, isn + 1 + SEG, TCP_FL_ACK, src + SEG, SEG);
	feed(&s, isn + 1 + SEG + 777, TCP_FL_ACK, src + SEG + 777, SEG); /* overlap */
	feed(&s, isn + 1 + 4 * SEG, TCP_FL_ACK, src + 4 * SEG, SEG);
	ck_assert_uint_eq(k.data_bytes, 0);
	ck_assert_uint_eq(s.ooo_bytes, 4 * SEG + 777);
	feed(&s, isn + 1 + 2 * SEG, TCP_FL_ACK, src + 2 * SEG, SEG);
	ck_assert_uint_eq(s.ooo_bytes, 5 * SEG);
	feed(&s, isn + 1, TCP_FL_ACK, src, SEG);
	ck_assert_uint_eq(k.data_bytes, (uint64_t)SEG * N);
	ck_assert_int_eq(memcmp(src, out, SEG * N), 0);
	ck_assert_int_eq(k.fins, 1);
	ck_assert_uint_eq(rc.stats.overlaps, 2);
	ck_assert_uint_eq(rc.stats.overlap_mismatch, 0);
	ck_assert_uint_eq(rc.used_bytes, 0);
	ck_assert(!k.order_error);
	/* A payload above 64 KiB is malformed. */
	struct tcp_seg big = {.seq = isn + 1, .flags = TCP_FL_ACK, .data = src, .len = 65536};

	ck_assert_int_eq(tcp_stream_segment(&s, &big, 0), -EINVAL);
	ck_assert_uint_eq(rc.stats.malformed, 1);
	free(src);
	free(out);
}
END_TEST

START_TEST(limits)
{
	struct tcp_reasm_limits lim = {
	    .stream_bytes = 5000, .stream_segs = 3, .total_bytes = 8000, .max_ahead = 100000};
	struct tcp_reasm_ctx rc;
	struct tcp_stream a, b;
	struct sink ka, kb;
	uint8_t src[20000], outa[20000], outb[20000];

	pattern(src, sizeof(src), 5);
	tcp_reasm_ctx_init(&rc, &lim);
	sink_attach(&a, &rc, &ka, outa, sizeof(outa));
	sink_attach(&b, &rc, &kb, outb, sizeof(outb));
	feed(&a, 0, TCP_FL_SYN, NULL, 0);
	feed(&b, 0, TCP_FL_SYN, NULL, 0);
	/* Per-stream chunk limit: 3 chunks, the 4th is dropped. */
	for (uint32_t i = 1; i <= 4; i++)
		feed(&a, 1 + i * 1000, TCP_FL_ACK, src + i * 1000, 500);
	ck_assert_uint_eq(a.ooo_segs, 3);
	ck_assert_uint_eq(rc.stats.ooo_drops, 1);
	ck_assert_uint_eq(rc.stats.ooo_drop_stream, 1);
	ck_assert_uint_eq(rc.stats.ooo_drop_bytes, 500);
	/* Per-stream byte limit. */
	feed(&b, 1 + 1000, TCP_FL_ACK, src + 1000, 4000);
	feed(&b, 1 + 6000, TCP_FL_ACK, src + 6000, 1001);
	ck_assert_uint_eq(b.ooo_bytes, 4000);
	ck_assert_uint_eq(rc.stats.ooo_drop_stream, 2);
	/* Global budget: a has 1500 buffered, b 4000; 8000 in all. */
	feed(&b, 1 + 6000, TCP_FL_ACK, src + 6000, 1000);
	ck_assert_uint_eq(rc.used_bytes, 6500);
	feed(&a, 1 + 10000, TCP_FL_ACK, src + 10000, 1000); /* a's chunk limit */
	tcp_stream_reset(&a);
	ck_assert_uint_eq(rc.used_bytes, 5000);
	feed(&a, 0, TCP_FL_SYN, NULL, 0);
	feed(&a, 1 + 1000, TCP_FL_ACK, src + 1000, 3001);
	ck_assert_uint_eq(rc.stats.ooo_drop_global, 1);
	ck_assert_uint_eq(a.ooo_bytes, 0);
	feed(&a, 1 + 1000, TCP_FL_ACK, src + 1000, 3000);
	ck_assert_uint_eq(rc.used_bytes, 8000);
	/* In-order data never needs the buffer: b completes despite the full
	 * budget, and retransmission of what was dropped fills the rest. */
	feed(&b, 1, TCP_FL_ACK, src, 1000);
	ck_assert_uint_eq(b.next_off, 5000);
	feed(&b, 1 + 5000, TCP_FL_ACK, src + 5000, 2000);
	ck_assert_uint_eq(b.next_off, 7000);
	ck_assert_int_eq(memcmp(src, outb, 7000), 0);
	/* Out of window: far beyond max_ahead. */
	feed(&a, 1 + 200000, TCP_FL_ACK, src, 100);
	ck_assert_uint_eq(rc.stats.out_of_window, 1);
	ck_assert_uint_eq(a.high_off, 4001); /* dropped bytes were seen */
	tcp_stream_reset(&a);
	tcp_stream_reset(&b);
	ck_assert_uint_eq(rc.used_bytes, 0);
	ck_assert_uint_eq(rc.used_segs, 0);
	ck_assert(!ka.order_error && !kb.order_error);
}
END_TEST

START_TEST(hole_skip)
{
	struct tcp_reasm_ctx rc;
	struct tcp_stream s;
	struct sink k;
	uint8_t src[1000], out[1000];

	pattern(src, sizeof(src), 6);
	tcp_reasm_ctx_init(&rc, NULL);
	sink_attach(&s, &rc, &k, out, sizeof(out));
	feed(&s, 99, TCP_FL_SYN, NULL, 0);
	ck_assert_uint_eq(tcp_stream_skip_gap(&s, 1), 0); /* nothing to skip */
	feed(&s, 100, TCP_FL_ACK, src, 100);
	struct tcp_seg g = {.seq = 300, .flags = TCP_FL_ACK, .data = src + 200, .len = 100};

	tcp_stream_segment(&s, &g, 50);
	ck_assert(tcp_stream_waiting(&s));
	ck_assert_uint_eq(s.hole_since, 50);
	g = (struct tcp_seg){
	    .seq = 500, .flags = TCP_FL_ACK | TCP_FL_FIN, .data = src + 400, .len = 50};
	tcp_stream_segment(&s, &g, 60);
	ck_assert_uint_eq(s.hole_since, 50); /* same hole */
	ck_assert_uint_eq(tcp_stream_skip_gap(&s, 70), 100);
	ck_assert_uint_eq(k.gaps, 1);
	ck_assert_uint_eq(k.last_gap_off, 100);
	ck_assert_uint_eq(k.last_gap_len, 100);
	ck_assert_uint_eq(s.next_off, 300);
	ck_assert_uint_eq(s.hole_since, 70);
	ck_assert_uint_eq(k.fins, 0);
	/* A late retransmission of the skipped bytes is ignored. */
	feed(&s, 200, TCP_FL_ACK, src + 100, 100);
	ck_assert_uint_eq(s.next_off, 300);
	ck_assert_uint_eq(tcp_stream_flush(&s, 80), 100);
	ck_assert_uint_eq(k.gaps, 2);
	ck_assert_int_eq(k.fins, 1);
	ck_assert_uint_eq(k.fin_off, 450);
	ck_assert_uint_eq(rc.stats.gaps, 2);
	ck_assert_uint_eq(rc.stats.gap_bytes, 200);
	ck_assert_int_eq(memcmp(out + 400, src + 400, 50), 0);
	ck_assert(!tcp_stream_waiting(&s));
	ck_assert(!k.order_error);

	/* Flush without a FIN skips to the highest byte seen. */
	sink_attach(&s, &rc, &k, out, sizeof(out));
	feed(&s, 1000, TCP_FL_ACK, src, 10);
	ck_assert(s.midstream);
	g = (struct tcp_seg){
	    .seq = 1020, .flags = TCP_FL_ACK, .data = src, .len = 10, .wire_len = 30};
	tcp_stream_segment(&s, &g, 0); /* truncated copy: 20 bytes missing */
	ck_assert_uint_eq(rc.stats.truncated, 1);
	ck_assert_uint_eq(s.high_off, 50);
	ck_assert_uint_eq(tcp_stream_flush(&s, 0), 30);
	ck_assert_uint_eq(s.next_off, 50);
	ck_assert_uint_eq(k.gaps, 2);
	ck_assert(!k.order_error);
}
END_TEST

START_TEST(fin_rst)
{
	struct tcp_reasm_ctx rc;
	struct tcp_stream s;
	struct sink k;
	uint8_t src[500], out[500];

	pattern(src, sizeof(src), 7);
	tcp_reasm_ctx_init(&rc, NULL);
	sink_attach(&s, &rc, &k, out, sizeof(out));
	feed(&s, 0, TCP_FL_SYN, NULL, 0);
	/* FIN arrives before the data in front of it. */
	feed(&s, 201, TCP_FL_ACK | TCP_FL_FIN, src + 200, 100);
	ck_assert(s.fin_seen && !s.fin_done && tcp_stream_waiting(&s));
	ck_assert_uint_eq(s.fin_off, 300);
	feed(&s, 101, TCP_FL_ACK | TCP_FL_FIN, NULL, 0); /* FIN elsewhere */
	ck_assert_uint_eq(rc.stats.fin_mismatch, 1);
	feed(&s, 1, TCP_FL_ACK, src, 200);
	ck_assert_int_eq(k.fins, 1);
	ck_assert_uint_eq(k.fin_off, 300);
	/* FIN retransmitted, data beyond the FIN. */
	feed(&s, 301, TCP_FL_ACK | TCP_FL_FIN, NULL, 0);
	feed(&s, 251, TCP_FL_ACK, src, 100);
	ck_assert_int_eq(k.fins, 1);
	ck_assert_uint_eq(rc.stats.after_fin_bytes, 50);
	ck_assert_uint_eq(s.next_off, 300);
	ck_assert_int_eq(memcmp(src, out, 300), 0);
	ck_assert(!k.order_error);
	ck_assert(!s.rst_seen);

	/* RST: recorded, no flush by itself. */
	sink_attach(&s, &rc, &k, out, sizeof(out));
	feed(&s, 0, TCP_FL_SYN, NULL, 0);
	feed(&s, 101, TCP_FL_ACK, src, 100);
	feed(&s, 1, TCP_FL_RST | TCP_FL_ACK, NULL, 0);
	ck_assert(s.rst_seen && tcp_stream_closed(&s));
	ck_assert_uint_eq(s.rst_off, 0);
	ck_assert_uint_eq(rc.stats.rsts, 1);
	feed(&s, 1, TCP_FL_ACK, src, 100); /* reordered data still lands */
	ck_assert_uint_eq(k.data_bytes, 200);
	ck_assert_int_eq(k.fins, 0);
}
END_TEST

START_TEST(ack_tracking)
{
	struct tcp_reasm_ctx rc;
	struct tcp_stream s;
	uint8_t src[100] = {0};
	uint32_t isn = 0xFFFFFFF0u;

	tcp_reasm_ctx_init(&rc, NULL);
	tcp_stream_init(&s, &rc, NULL);
	tcp_stream_ack(&s, 5); /* not started: ignored */
	ck_assert(!s.ack_seen);
	feed(&s, isn, TCP_FL_SYN, NULL, 0);
	tcp_stream_ack(&s, isn + 1);
	ck_assert(s.ack_seen);
	ck_assert_uint_eq(s.ack_off, 0);
	feed(&s, isn + 1, TCP_FL_ACK, src, 100);
	tcp_stream_ack(&s, isn + 51);
	ck_assert_uint_eq(s.ack_off, 50);
	tcp_stream_ack(&s, isn + 31); /* older: ignored */
	ck_assert_uint_eq(s.ack_off, 50);
	tcp_stream_ack(&s, isn + 101);
	ck_assert_uint_eq(s.ack_off, 100);
	ck_assert_uint_eq(rc.stats.acks_ahead, 0);
	feed(&s, isn + 101, TCP_FL_ACK | TCP_FL_FIN, NULL, 0);
	tcp_stream_ack(&s, isn + 102); /* the FIN's sequence number */
	ck_assert_uint_eq(s.ack_off, 101);
	ck_assert_uint_eq(rc.stats.acks_ahead, 0);
	tcp_stream_ack(&s, isn + 500);
	ck_assert_uint_eq(s.ack_off, 499);
	ck_assert_uint_eq(rc.stats.acks_ahead, 1);
	tcp_stream_ack(&s, isn + 0x7FFFFFF0u); /* beyond any window: ignored */
	ck_assert_uint_eq(s.ack_off, 499);
	ck_assert_uint_eq(rc.stats.acks_ahead, 2);
	tcp_stream_ack(&s, isn + 102); /* older: ignored */
	ck_assert_uint_eq(s.ack_off, 499);
}
END_TEST

START_TEST(midstream_and_syn)
{
	struct tcp_reasm_ctx rc;
	struct tcp_stream s;
	struct sink k;
	uint8_t src[300], out[300];

	pattern(src, sizeof(src), 8);
	tcp_reasm_ctx_init(&rc, NULL);
	sink_attach(&s, &rc, &k, out, sizeof(out));
	feed(&s, 7000, TCP_FL_ACK, src + 100, 100);
	ck_assert(s.started && s.midstream && !s.syn_seen);
	ck_assert_uint_eq(s.isn, 6999);
	ck_assert_uint_eq(rc.stats.midstream, 1);
	feed(&s, 6900, TCP_FL_ACK, src, 250); /* starts before offset 0 */
	ck_assert_uint_eq(s.next_off, 150);
	ck_assert_uint_eq(rc.stats.retrans_bytes, 200);
	ck_assert_int_eq(memcmp(out, src + 100, 150), 0);
	ck_assert_int_eq(feed(&s, 1234, TCP_FL_SYN, NULL, 0), -ESTALE);
	ck_assert_uint_eq(rc.stats.syn_mismatch, 1);

	/* SYN retransmitted: fine; SYN with another ISN: -ESTALE. */
	sink_attach(&s, &rc, &k, out, sizeof(out));
	ck_assert_int_eq(feed(&s, 50, TCP_FL_SYN, NULL, 0), 0);
	ck_assert_int_eq(feed(&s, 50, TCP_FL_SYN, NULL, 0), 0);
	ck_assert_int_eq(feed(&s, 51, TCP_FL_SYN, NULL, 0), -ESTALE);
	ck_assert_int_eq(tcp_stream_start(&s, 9), -EALREADY);
	/* Data on a SYN (TCP Fast Open) starts at offset 0. */
	sink_attach(&s, &rc, &k, out, sizeof(out));
	feed(&s, 77, TCP_FL_SYN, src, 20);
	ck_assert_uint_eq(s.next_off, 20);
	ck_assert_int_eq(memcmp(out, src, 20), 0);
	/* Malformed. */
	struct tcp_seg g = {.seq = 98, .flags = TCP_FL_ACK, .data = NULL, .len = 5};

	ck_assert_int_eq(tcp_stream_segment(&s, &g, 0), -EINVAL);
	g = (struct tcp_seg){.seq = 98, .flags = TCP_FL_ACK, .data = src, .len = 5, .wire_len = 4};
	ck_assert_int_eq(tcp_stream_segment(&s, &g, 0), -EINVAL);
	ck_assert_uint_eq(rc.stats.malformed, 2);
	ck_assert(!k.order_error);
}
END_TEST

START_TEST(overlap_mismatch)
{
	struct tcp_reasm_ctx rc;
	struct tcp_stream s;
	struct sink k;
	uint8_t src[400], alt[400], out[400];

	pattern(src, sizeof(src), 9);
	memcpy(alt, src, sizeof(alt));
	alt[250] ^= 0xff;
	tcp_reasm_ctx_init(&rc, NULL);
	sink_attach(&s, &rc, &k, out, sizeof(out));
	feed(&s, 0, TCP_FL_SYN, NULL, 0);
	feed(&s, 1 + 200, TCP_FL_ACK, src + 200, 100);
	feed(&s, 1 + 150, TCP_FL_ACK, alt + 150, 200); /* differs at 250 */
	ck_assert_uint_eq(rc.stats.overlaps, 1);
	ck_assert_uint_eq(rc.stats.overlap_bytes, 100);
	ck_assert_uint_eq(rc.stats.overlap_mismatch, 1);
	feed(&s, 1 + 210, TCP_FL_ACK, src + 210, 10); /* same bytes */
	ck_assert_uint_eq(rc.stats.overlaps, 2);
	ck_assert_uint_eq(rc.stats.overlap_mismatch, 1);
	feed(&s, 1, TCP_FL_ACK, src, 160); /* covers part of [150, 200) */
	ck_assert_uint_eq(s.next_off, 350);
	ck_assert_int_eq(memcmp(out, src, 350), 0); /* first copy won */
	ck_assert(!k.order_error);
	/* Out-of-order pieces between buffered chunks fill exactly the gaps. */
	sink_attach(&s, &rc, &k, out, sizeof(out));
	feed(&s, 0, TCP_FL_SYN, NULL, 0);
	feed(&s, 1 + 100, TCP_FL_ACK, src + 100, 10);
	feed(&s, 1 + 130, TCP_FL_ACK, src + 130, 10);
	feed(&s, 1 + 160, TCP_FL_ACK, src + 160, 10);
	feed(&s, 1 + 50, TCP_FL_ACK, src + 50, 200);
	ck_assert_uint_eq(s.ooo_segs, 7);
	ck_assert_uint_eq(s.ooo_bytes, 200);
	feed(&s, 1, TCP_FL_ACK, src, 50);
	ck_assert_uint_eq(s.next_off, 250);
	ck_assert_int_eq(memcmp(out, src, 250), 0);
	ck_assert_uint_eq(rc.used_bytes, 0);
	ck_assert(!k.order_error);
}
END_TEST

START_TEST(stats_names)
{
	struct tcp_reasm_ctx rc;
	struct stats_report r;

	tcp_reasm_ctx_init(&rc, NULL);
	rc.stats.overlap_mismatch = 3;
	rc.stats.gaps = 4;
	stats_reset(&r);
	tcp_reasm_stats_report(&rc, &r, "reasm");
	ck_assert_uint_eq(stats_get(&r, "reasm_overlap_mismatch"), 3);
	ck_assert_uint_eq(stats_get(&r, "reasm_gaps"), 4);
	ck_assert_uint_eq(r.overflow, 0);
	ck_assert_uint_eq(rc.limits.stream_segs, TCP_REASM_DEFAULT_STREAM_SEGS);
}
END_TEST

Suite *tcp_stream_suite(void);

Suite *tcp_stream_suite(void)
{
	Suite *s = suite_create("tcp_stream");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, in_order);
	tcase_add_test(tc, reversed);
	tcase_add_test(tc, random_property);
	tcase_add_test(tc, sequence_wrap);
	tcase_add_test(tc, beyond_4gib);
	tcase_add_test(tc, gso_64k);
	tcase_add_test(tc, limits);
	tcase_add_test(tc, hole_skip);
	tcase_add_test(tc, fin_rst);
	tcase_add_test(tc, ack_tracking);
	tcase_add_test(tc, midstream_and_syn);
	tcase_add_test(tc, overlap_mismatch);
	tcase_add_test(tc, stats_names);
	suite_add_tcase(s, tc);
	return s;
}
