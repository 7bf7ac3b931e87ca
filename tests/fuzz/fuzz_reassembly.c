// fuzz-sources: nfq/core/tcp_stream.c nfq/core/flow_table.c nfq/core/stats.c
/* libFuzzer target for TCP reassembly and the connection table.
 *
 * The input is a program of operations on a small flow table (4 client
 * ports, tight buffer limits): segments in either direction with fuzzed
 * sequence numbers, lengths and flags, pure ACKs, time steps that run the
 * expiry timer, and explicit removals.  Segment bytes are a function of the
 * direction and the sequence number, so whatever the reordering, overlap or
 * retransmission, a delivered byte must equal that function at its
 * sequence number (unless the input asked for corrupted copies).
 *
 * Properties checked beyond "no crash, no sanitizer report":
 * - events of a stream come in order: data and gaps contiguous from offset
 *   0 (or the pickup point), nothing after the fin event, fin at next_off;
 * - delivered bytes equal the sender's bytes (first copy wins);
 * - buffered bytes never exceed the per-stream and global limits, and the
 *   global gauge equals the sum over all streams;
 * - the table never holds more than max_conns entries, and after expiring
 *   everything no buffered byte is left.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow_table.h"
#include "tcp_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CLI 0xc612000au
#define SRV 0xc6120b02u

static void require(int cond)
{
	if (!cond)
		abort();
}

struct harness;

struct half {
	struct harness *hz;
	struct flow_entry *e;
	int dir;
	bool begun;
	uint64_t next;
	bool fin;
};

struct conn {
	struct half h[2];
};

struct harness {
	bool corrupt; /* some copy had altered bytes: skip the content check */
	unsigned live;
};

/* The byte the sender at `saddr` puts at sequence number `seq`. */
static uint8_t truth(uint32_t saddr, uint32_t seq)
{
	uint32_t x = seq * 2654435761u ^ saddr;

	return (uint8_t)(x ^ (x >> 13) ^ (x >> 24));
}

static void check_start(struct half *h, uint64_t off)
{
	if (!h->begun) {
		h->begun = true;
		h->next = off;
	}
	require(!h->fin);
	require(off == h->next);
}

static void on_data(void *ctx, uint64_t off, const uint8_t *d, size_t len)
{
	struct half *h = ctx;
	const struct tcp_stream *s = &h->e->dir[h->dir];
	uint32_t saddr = h->dir == FLOW_C2S ? h->e->caddr : h->e->saddr;

	check_start(h, off);
	require(len > 0);
	h->next = off + len;
	if (h->hz->corrupt)
		return;
	for (size_t i = 0; i < len; i++)
		require(d[i] == truth(saddr, tcp_stream_seq_of(s, off + i)));
}

static void on_gap(void *ctx, uint64_t off, uint64_t len)
{
	struct half *h = ctx;

	check_start(h, off);
	require(len > 0);
	h->next = off + len;
}

static void on_fin(void *ctx, uint64_t off)
{
	struct half *h = ctx;

	if (!h->begun) {
		h->begun = true;
		h->next = off;
	}
	require(!h->fin);
	require(off == h->next);
	h->fin = true;
}

static int created(void *ctx, struct flow_entry *e, uint64_t now)
{
	struct harness *hz = ctx;
	struct conn *c = calloc(1, sizeof(*c));

	(void)now;
	if (!c)
		return -1;
	for (int d = 0; d < 2; d++) {
		c->h[d].hz = hz;
		c->h[d].e = e;
		c->h[d].dir = d;
		struct tcp_stream_consumer cons = {on_data, on_gap, on_fin, &c->h[d]};

		tcp_stream_set_consumer(&e->dir[d], &cons);
	}
	e->user = c;
	hz->live++;
	return 0;
}

static void closed(void *ctx, struct flow_entry *e, enum flow_close_reason why)
{
	struct harness *hz = ctx;
	struct conn *c = e->user;

	(void)why;
	for (int d = 0; d < 2; d++) {
		const struct tcp_stream *s = &e->dir[d];

		/* Flushed: nothing buffered, a FIN reached. */
		require(s->ooo_head == NULL && s->ooo_bytes == 0);
		require(!s->fin_seen || s->fin_done);
		if (s->fin_done)
			require(c->h[d].fin && s->next_off == s->fin_off);
	}
	free(c);
	hz->live--;
}

struct sum {
	size_t bytes, segs;
	const struct tcp_reasm_limits *lim;
};

static int check_entry(void *ctx, struct flow_entry *e)
{
	struct sum *sm = ctx;

	for (int d = 0; d < 2; d++) {
		const struct tcp_stream *s = &e->dir[d];

		require(s->ooo_bytes <= sm->lim->stream_bytes);
		require(s->ooo_segs <= sm->lim->stream_segs);
		if (s->fin_done)
			require(s->next_off == s->fin_off);
		if (s->ooo_head)
			require(tcp_stream_first_buffered(s) > s->next_off);
		sm->bytes += s->ooo_bytes;
		sm->segs += s->ooo_segs;
	}
	return 0;
}

static void check_table(struct flow_table *ft, unsigned max_conns)
{
	struct tcp_reasm_ctx *rc = flow_table_reasm(ft);
	struct sum sm = {0, 0, &rc->limits};

	require(flow_table_count(ft) <= max_conns);
	flow_table_foreach(ft, check_entry, &sm);
	require(sm.bytes == rc->used_bytes);
	require(sm.segs == rc->used_segs);
	require(rc->used_bytes <= rc->limits.total_bytes);
}

struct reader {
	const uint8_t *p;
	size_t n;
};

static uint32_t take(struct reader *r, unsigned bytes)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < bytes; i++) {
		v <<= 8;
		if (r->n) {
			v |= *r->p++;
			r->n--;
		}
	}
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t payload[65535], bent[65535];
	struct harness hz = {0};
	struct flow_table_config cfg;
	struct flow_callbacks cb = {created, closed, &hz};
	struct flow_table *ft;
	struct reader r = {data, size};
	uint32_t cursor[4][2];
	uint64_t now = 0;

	flow_table_config_default(&cfg);
	cfg.max_conns = 3;
	cfg.idle_timeout = 1000;
	cfg.linger_timeout = 100;
	cfg.hole_timeout = 20;
	cfg.hash_seed = 7;
	cfg.reasm.stream_bytes = 3000;
	cfg.reasm.stream_segs = 6;
	cfg.reasm.total_bytes = 8000;
	cfg.reasm.max_ahead = 200000;
	cfg.midstream_rule =
	    take(&r, 1) & 1 ? FLOW_MID_SENDER_IS_CLIENT : FLOW_MID_LOWER_PORT_IS_SERVER;
	require(flow_table_create(&ft, &cfg, &cb) == 0);
	for (int c = 0; c < 4; c++)
		for (int d = 0; d < 2; d++)
			cursor[c][d] = take(&r, 4);

	while (r.n) {
		uint8_t op = (uint8_t)take(&r, 1);
		unsigned c = op & 3, d = (op >> 2) & 1, kind = op >> 3;
		uint16_t cport = (uint16_t)(40000 + c);
		uint32_t sa = d ? SRV : CLI, da = d ? CLI : SRV;
		uint16_t sp = d ? 80 : cport, dp = d ? cport : 80;

		if (kind < 24) {
			/* A segment near the direction's cursor. */
			int32_t rel = (int16_t)take(&r, 2);
			uint32_t len = take(&r, 2);
			uint8_t flags = (uint8_t)take(&r, 1);
			uint32_t ack = cursor[c][!d] + (uint32_t)(int16_t)take(&r, 2);
			uint32_t seq = cursor[c][d] + (uint32_t)rel;
			bool bend = kind == 23;

			len = kind >= 20 ? len : len % 3000;
			if (flags & TCP_FL_SYN)
				seq = cursor[c][d] - 1u; /* the ISN of this cursor */
			uint32_t first = seq + ((flags & TCP_FL_SYN) ? 1u : 0u);

			for (uint32_t i = 0; i < len; i++)
				payload[i] = truth(sa, first + i);
			if (bend && len) {
				memcpy(bent, payload, len);
				bent[take(&r, 2) % len] ^= 0x5a;
				hz.corrupt = true;
			}
			struct flow_segment g = {
			    .saddr = sa,
			    .daddr = da,
			    .sport = sp,
			    .dport = dp,
			    .seq = seq,
			    .ack = ack,
			    .flags = flags,
			    .data = bend ? bent : payload,
			    .len = len,
			    .wire_len = (flags & TCP_FL_PSH) && len ? len + (flags >> 6) : 0,
			};
			if (kind >= 16 && rel >= 0)
				cursor[c][d] = seq + len; /* a sender moving on */
			flow_table_input(ft, &g, now, NULL, NULL);
		} else if (kind < 28) {
			now += take(&r, 1);
			flow_table_expire(ft, now);
		} else if (kind < 30) {
			struct flow_entry *e = flow_table_lookup(ft, sa, sp, da, dp, NULL);

			if (e)
				flow_table_remove(ft, e);
		} else {
			cursor[c][d] = take(&r, 4);
		}
		check_table(ft, cfg.max_conns);
	}
	flow_table_expire(ft, now + cfg.idle_timeout + cfg.linger_timeout + 1);
	require(flow_table_count(ft) == 0);
	require(flow_table_reasm(ft)->used_bytes == 0);
	require(hz.live == 0);
	flow_table_destroy(ft);
	return 0;
}
