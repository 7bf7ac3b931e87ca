/* helper_txn.c - see helper_txn.h. */
#include "helper_txn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void trec_init(struct txn_rec *r)
{
	memset(r, 0, sizeof(*r));
}

static void logf_(struct txn_rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void logf_(struct txn_rec *r, const char *fmt, ...)
{
	va_list ap;
	if (r->log_len >= sizeof(r->log) - 1) {
		r->log_overflow = true;
		return;
	}
	va_start(ap, fmt);
	int n = vsnprintf(r->log + r->log_len, sizeof(r->log) - r->log_len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(r->log) - r->log_len) {
		r->log_len = sizeof(r->log) - 1;
		r->log_overflow = true;
	} else {
		r->log_len += (size_t)n;
	}
}

static void violate(struct txn_rec *r, const char *msg, const struct txn *t)
{
	if (r->violation[0])
		return;
	snprintf(r->violation, sizeof(r->violation), "txn %u: %s", t->ordinal, msg);
}

static void on_event(void *ctx, enum txn_event ev, const struct txn *t)
{
	struct txn_rec *r = ctx;
	logf_(r,
	      "%s n=%u req=%llu-%llu/%d%d resp=%llu-%llu/%d%d st=%u i=%u m=%s t=%s f=%x end=%s "
	      "qb=%llu sb=%llu id=%d:%llx\n",
	      txn_event_name(ev), t->ordinal, (unsigned long long)t->req_start,
	      (unsigned long long)t->req_end, t->req_started, t->req_complete,
	      (unsigned long long)t->resp_start, (unsigned long long)t->resp_end, t->resp_started,
	      t->resp_complete, t->status, t->interim, t->method, t->target, t->flags,
	      txn_end_name(t->end), (unsigned long long)t->req_body_bytes,
	      (unsigned long long)t->resp_body_bytes, t->has_txn_id, (unsigned long long)t->txn_id);
	if (r->nevs < sizeof(r->evs) / sizeof(r->evs[0])) {
		r->evs[r->nevs] = ev;
		r->ev_ord[r->nevs] = t->ordinal;
		r->nevs++;
	}
	switch (ev) {
	case TXN_EV_REQUEST_BEGIN:
		r->begins++;
		if (t->ordinal != r->last_ordinal + 1)
			violate(r, "ordinal out of order", t);
		r->last_ordinal = t->ordinal;
		break;
	case TXN_EV_REQUEST_END:
		if (!t->req_complete || t->req_end <= t->req_start)
			violate(r, "request end without a complete request", t);
		break;
	case TXN_EV_RESPONSE_END:
		if (!t->resp_complete || !t->resp_started || t->resp_end < t->resp_start)
			violate(r, "response end inconsistent", t);
		break;
	case TXN_EV_END:
		r->ends++;
		if (t->end == TXN_END_OPEN)
			violate(r, "END with end=open", t);
		if (t->end == TXN_END_COMPLETE && (!t->req_complete || !t->resp_complete))
			violate(r, "complete but a side is not", t);
		if (r->ndone < REC_DONE_MAX)
			r->done[r->ndone++] = *t;
		break;
	default:
		break;
	}
}

struct txn_consumer trec_consumer(struct txn_rec *r)
{
	struct txn_consumer c = {on_event, r};
	return c;
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

enum txn_conn_state trec_run(struct txn_parser_ctx *ctx, const struct txn_step *steps, size_t n,
			     enum split_mode mode, uint64_t arg, struct txn_rec *r)
{
	struct txn_consumer c = trec_consumer(r);
	struct txn_parser *p = txn_parser_new(ctx, &c);
	uint64_t seed = arg;
	if (!p)
		return TXN_CONN_ERROR;
	for (size_t i = 0; i < n; i++) {
		const struct txn_step *s = &steps[i];
		uint64_t off = txn_parser_offset(p, s->dir);
		switch (s->kind) {
		case STEP_DATA: {
			size_t len = s->len ? s->len : strlen(s->data);
			size_t pos = 0;
			while (pos < len) {
				size_t piece = len - pos;
				if (mode == SPLIT_BYTES)
					piece = 1;
				else if (mode == SPLIT_AT && pos < arg && arg < len)
					piece = (size_t)arg - pos;
				else if (mode == SPLIT_RANDOM)
					piece = 1 + (size_t)(rng_next(&seed) % (len - pos));
				txn_parser_data(p, s->dir, off + pos, s->data + pos, piece);
				pos += piece;
			}
			break;
		}
		case STEP_GAP:
			txn_parser_gap(p, s->dir, off, s->len);
			break;
		case STEP_EOF:
			txn_parser_eof(p, s->dir);
			break;
		case STEP_END:
			txn_parser_end(p, TXN_END_ABORT);
			break;
		}
	}
	enum txn_conn_state st = txn_parser_state(p);
	txn_parser_free(p);
	return st;
}

static const char *compare(const struct txn_rec *whole_rec, const struct txn_rec *try_rec,
			   const char *what, uint64_t arg)
{
	static char msg[512];
	if (try_rec->log_len == whole_rec->log_len &&
	    memcmp(try_rec->log, whole_rec->log, whole_rec->log_len) == 0)
		return NULL;
	size_t i = 0;
	while (i < whole_rec->log_len && i < try_rec->log_len &&
	       whole_rec->log[i] == try_rec->log[i])
		i++;
	size_t from = i > 40 ? i - 40 : 0;
	snprintf(msg, sizeof(msg), "%s %llu differs at %zu: whole '%.100s' vs '%.100s'", what,
		 (unsigned long long)arg, i, whole_rec->log + from, try_rec->log + from);
	return msg;
}

const char *trec_check_splits(struct txn_parser_ctx *ctx, const struct txn_step *steps, size_t n,
			      unsigned random_runs)
{
	const char *bad = NULL;
	size_t longest = 0;
	struct txn_rec *whole_rec = malloc(sizeof(*whole_rec));
	struct txn_rec *try_rec = malloc(sizeof(*try_rec));
	if (!whole_rec || !try_rec) {
		bad = "out of memory";
		goto out;
	}
	trec_init(whole_rec);
	trec_run(ctx, steps, n, SPLIT_WHOLE, 0, whole_rec);
	if (whole_rec->violation[0]) {
		bad = whole_rec->violation;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (steps[i].kind == STEP_DATA) {
			size_t len = steps[i].len ? steps[i].len : strlen(steps[i].data);
			if (len > longest)
				longest = len;
		}
	for (size_t at = 1; at < longest && !bad; at++) {
		trec_init(try_rec);
		trec_run(ctx, steps, n, SPLIT_AT, at, try_rec);
		bad = compare(whole_rec, try_rec, "cut at", at);
	}
	if (!bad) {
		trec_init(try_rec);
		trec_run(ctx, steps, n, SPLIT_BYTES, 0, try_rec);
		bad = compare(whole_rec, try_rec, "bytewise", 0);
	}
	for (unsigned k = 0; k < random_runs && !bad; k++) {
		trec_init(try_rec);
		trec_run(ctx, steps, n, SPLIT_RANDOM, k + 1, try_rec);
		bad = compare(whole_rec, try_rec, "random seed", k + 1);
	}
	if (!bad && try_rec->violation[0])
		bad = try_rec->violation;
out:
	if (bad) {
		static char keep[512];
		snprintf(keep, sizeof(keep), "%s", bad);
		bad = keep;
	}
	free(whole_rec);
	free(try_rec);
	return bad;
}

int trec_find(const struct txn_rec *r, uint32_t ordinal, enum txn_event ev)
{
	for (unsigned i = 0; i < r->nevs; i++)
		if (r->ev_ord[i] == ordinal && r->evs[i] == ev)
			return (int)i;
	return -1;
}
