/* fuzz_txn_common.h - the part fuzz_http.c and fuzz_line.c share: turn a
 * fuzz input into a two-direction exchange, run it through txn_parser twice
 * and check the properties every protocol module must keep.
 *
 * Input: 8 seed bytes, then the client stream, the separator "\xff\xfe",
 * then the server stream (no separator: everything is the client's).  The
 * seed drives a PRNG that interleaves the two streams in pieces of 1..300
 * bytes and now and then inserts a hole, a jump backwards (refed bytes),
 * a FIN or an abort.  The same schedule runs twice: pieces fed whole, then
 * the same pieces fed a byte (or a few bytes) at a time.
 *
 * Properties checked beyond "no crash, no sanitizer report":
 * - both runs give the same events with the same fields (split invariance);
 * - every transaction that began ends exactly once, ordinals count up by
 *   one, END is its last event, COMPLETE means both sides complete;
 * - offsets lie within the bytes fed: start <= end <= stream offset, and a
 *   request ends after it starts;
 * - the target and method are NUL-terminated within their buffers. */
#ifndef FUZZ_TXN_COMMON_H
#define FUZZ_TXN_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "txn_parser.h"

#define FZ_MAX_TXN 4096

struct fz_run {
	struct txn_parser *p;
	uint64_t hash; /* of every event and its fields */
	uint32_t events;
	uint32_t last_ordinal;
	uint8_t state[FZ_MAX_TXN]; /* per ordinal: 0 none, 1 open, 2 ended */
	uint32_t overflow;	   /* ordinals beyond FZ_MAX_TXN */
};

static void fz_require(int cond)
{
	if (!cond)
		abort();
}

static uint64_t fz_mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdull;
}

static uint64_t fz_mix_str(uint64_t h, const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	fz_require(n < cap);
	for (size_t i = 0; i < n; i++)
		h = fz_mix(h, (uint8_t)s[i]);
	return fz_mix(h, n);
}

static void fz_event(void *ctx, enum txn_event ev, const struct txn *t)
{
	struct fz_run *r = ctx;
	r->events++;
#ifdef FZ_TRACE /* build with -DFZ_TRACE to see both runs */
	fprintf(stderr,
		"%s n=%u req=%llu-%llu resp=%llu-%llu st=%u i=%u f=%x end=%d qb=%llu sb=%llu "
		"id=%d:%llx m=%s t=%s\n",
		txn_event_name(ev), t->ordinal, (unsigned long long)t->req_start,
		(unsigned long long)t->req_end, (unsigned long long)t->resp_start,
		(unsigned long long)t->resp_end, t->status, t->interim, t->flags, t->end,
		(unsigned long long)t->req_body_bytes, (unsigned long long)t->resp_body_bytes,
		t->has_txn_id, (unsigned long long)t->txn_id, t->method, t->target);
#endif
	uint64_t h = fz_mix(r->hash, ev);
	h = fz_mix(h, t->ordinal);
	h = fz_mix(h, t->req_start);
	h = fz_mix(h, t->req_end);
	h = fz_mix(h, t->resp_start);
	h = fz_mix(h, t->resp_end);
	h = fz_mix(h, t->req_body_bytes);
	h = fz_mix(h, t->resp_body_bytes);
	h = fz_mix(h, t->flags);
	h = fz_mix(h, t->status);
	h = fz_mix(h, t->interim);
	h = fz_mix(h, (uint64_t)t->end);
	h = fz_mix(h, t->has_txn_id ? t->txn_id : 0x55);
	h = fz_mix(h, (uint64_t)t->req_started << 3 | (uint64_t)t->req_complete << 2 |
			  (uint64_t)t->resp_started << 1 | t->resp_complete);
	h = fz_mix_str(h, t->method, sizeof(t->method));
	h = fz_mix_str(h, t->target, sizeof(t->target));
	r->hash = h;

	fz_require(t->target_len == strlen(t->target));
	uint64_t qoff = txn_parser_offset(r->p, TXN_DIR_REQUEST);
	uint64_t soff = txn_parser_offset(r->p, TXN_DIR_RESPONSE);
	fz_require(t->req_started && t->req_start < qoff);
	if (t->req_complete)
		fz_require(t->req_start < t->req_end && t->req_end <= qoff);
	if (t->resp_started)
		fz_require(t->resp_start <= soff);
	if (t->resp_complete)
		fz_require(t->resp_started && t->resp_start <= t->resp_end && t->resp_end <= soff);

	uint8_t *st = t->ordinal < FZ_MAX_TXN ? &r->state[t->ordinal] : NULL;
	if (!st) {
		r->overflow++;
		return;
	}
	if (ev == TXN_EV_REQUEST_BEGIN) {
		fz_require(*st == 0 && t->ordinal == r->last_ordinal + 1);
		r->last_ordinal = t->ordinal;
		*st = 1;
		return;
	}
	fz_require(*st == 1);
	if (ev == TXN_EV_REQUEST_END)
		fz_require(t->req_complete);
	if (ev == TXN_EV_RESPONSE_END)
		fz_require(t->resp_complete);
	if (ev == TXN_EV_END) {
		fz_require(t->end != TXN_END_OPEN);
		if (t->end == TXN_END_COMPLETE)
			fz_require(t->req_complete && t->resp_complete);
		*st = 2;
	}
}

struct fz_rng {
	uint64_t s;
};

static uint64_t fz_next(struct fz_rng *g)
{
	uint64_t z = (g->s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* One run over the exchange; fine > 0 feeds each piece in bits of at most
 * `fine` bytes. */
static void fz_run_once(struct txn_parser_ctx *ctx, uint64_t seed, const uint8_t *q, size_t qlen,
			const uint8_t *s, size_t slen, size_t fine, struct fz_run *r)
{
	memset(r, 0, sizeof(*r));
	struct txn_consumer c = {fz_event, r};
	r->p = txn_parser_new(ctx, &c);
	if (!r->p)
		return;
	struct fz_rng g = {seed};
	const uint8_t *buf[2] = {q, s};
	size_t len[2] = {qlen, slen}, pos[2] = {0, 0};
	while (pos[0] < len[0] || pos[1] < len[1]) {
		uint64_t x = fz_next(&g);
		enum txn_dir d = (x & 1) ? TXN_DIR_RESPONSE : TXN_DIR_REQUEST;
		if (pos[d] == len[d])
			d = (enum txn_dir) !d;
		unsigned action = (unsigned)(x >> 8) % 64;
		uint64_t off = txn_parser_offset(r->p, d);
		if (action == 0) { /* a hole of 1..40 bytes: skip them */
			size_t n = 1 + (size_t)((x >> 16) % 40);
			if (n > len[d] - pos[d])
				n = len[d] - pos[d];
			txn_parser_gap(r->p, d, off, n);
			pos[d] += n;
			continue;
		}
		if (action == 1 && pos[d] > 0) { /* refeed the last bytes */
			size_t back = 1 + (size_t)((x >> 16) % 8);
			if (back > pos[d])
				back = pos[d];
			txn_parser_data(r->p, d, off - back, buf[d] + pos[d] - back, back);
			continue;
		}
		if (action == 2 && (x >> 20) % 4 == 0) { /* FIN */
			txn_parser_eof(r->p, d);
			pos[d] = len[d];
			continue;
		}
		size_t piece = 1 + (size_t)((x >> 16) % 300);
		if (piece > len[d] - pos[d])
			piece = len[d] - pos[d];
		if (fine == 0) {
			txn_parser_data(r->p, d, off, buf[d] + pos[d], piece);
		} else {
			for (size_t k = 0; k < piece; k += fine) {
				size_t n = piece - k < fine ? piece - k : fine;
				txn_parser_data(r->p, d, off + k, buf[d] + pos[d] + k, n);
			}
		}
		pos[d] += piece;
	}
	if (seed & 0x100)
		txn_parser_eof(r->p, TXN_DIR_REQUEST);
	if (seed & 0x200)
		txn_parser_eof(r->p, TXN_DIR_RESPONSE);
	txn_parser_end(r->p, TXN_END_ABORT);
	fz_require(txn_parser_pending(r->p) == 0);
	txn_parser_free(r->p);
	r->p = NULL;
	for (uint32_t i = 1; i <= r->last_ordinal && i < FZ_MAX_TXN; i++)
		fz_require(r->state[i] == 2);
}

/* Splits the input and runs it whole and finely; the runs must agree. */
static void fz_exchange(struct txn_parser_ctx *ctx, const uint8_t *data, size_t size)
{
	static struct fz_run a, b;
	if (size < 8)
		return;
	uint64_t seed = 0;
	memcpy(&seed, data, 8);
	data += 8;
	size -= 8;
	const uint8_t *q = data, *s = NULL;
	size_t qlen = size, slen = 0;
	for (size_t i = 0; i + 1 < size; i++)
		if (data[i] == 0xff && data[i + 1] == 0xfe) {
			qlen = i;
			s = data + i + 2;
			slen = size - i - 2;
			break;
		}
	fz_run_once(ctx, seed, q, qlen, s, slen, 0, &a);
#ifdef FZ_TRACE
	fprintf(stderr, "---- fine\n");
#endif
	fz_run_once(ctx, seed, q, qlen, s, slen, 1 + (seed >> 40) % 3, &b);
	fz_require(a.events == b.events);
	fz_require(a.hash == b.hash);
}

#endif
