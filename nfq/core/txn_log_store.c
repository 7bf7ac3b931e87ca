/* txn_log_store - see txn_log_store.h. */
#include "txn_log_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

#define SUMMARY_MAX (TXN_METHOD_MAX + TXN_TARGET_MAX + 2)

static void submit(struct txn_log_store *o, const struct store_row *row)
{
	int rc = store_submit(o->st, row);
	/* Offline tools may wait for the writer; a daemon never does. */
	for (int i = 0; rc == -EAGAIN && o->wait_when_full && i < 100; i++) {
		store_flush(o->st, 10000);
		rc = store_submit(o->st, row);
	}
	if (rc == 0)
		o->s.rows++;
	else if (rc == -EAGAIN)
		o->s.dropped_full++;
	else
		o->s.rejected++;
}

/* Database offsets are stream offsets + 1 (schema/README.md). */
static int64_t rel(uint64_t off)
{
	return (int64_t)(off + 1);
}

static int64_t tid(const struct txn_log_txn *t)
{
	return (int64_t)t->txn_id;
}

/* Bytes [a, b) of one direction as payload rows of at most row_bytes. */
static void payloads(struct txn_log_store *o, const struct txn_log_conn *c,
		     const struct txn_log_txn *t, enum bs_dir d, uint64_t a, uint64_t b,
		     uint64_t now)
{
	struct byte_store *bs = txn_log_bytes(o->log);
	for (uint64_t pos = a; pos < b;) {
		uint64_t n = b - pos < o->row_bytes ? b - pos : o->row_bytes;
		if (byte_store_read(bs, c->conn_id, d, pos, pos + n, o->buf) < 0) {
			o->s.payload_missing += n;
			pos += n;
			continue;
		}
		struct store_row r = {.stmt = STORE_PAYLOAD, .nvals = 6};
		r.vals[0] = STORE_INT(c->conn_id);
		r.vals[1] = STORE_INT(tid(t));
		r.vals[2] = STORE_TEXT(d == BS_REQ ? "request" : "response");
		r.vals[3] = STORE_INT(rel(pos));
		r.vals[4] = STORE_BLOB(o->buf, n);
		r.vals[5] = STORE_INT(now);
		uint64_t before = o->s.rows;
		submit(o, &r);
		if (o->s.rows != before) {
			o->s.payload_rows++;
			o->s.payload_bytes += n;
		}
		pos += n;
	}
}

static void digest(struct txn_log_store *o, const struct txn_log_conn *c,
		   const struct txn_log_txn *t, enum bs_dir d, bool complete, uint64_t now)
{
	bool req = d == BS_REQ;
	uint64_t start = req ? t->req_start : t->resp_start;
	uint64_t end = req ? t->req_end : t->resp_end;
	struct store_row r = {.stmt = STORE_DIGEST, .nvals = 9};
	r.vals[0] = STORE_INT(c->conn_id);
	r.vals[1] = STORE_INT(tid(t));
	r.vals[2] = STORE_TEXT(req ? "request" : "response");
	r.vals[3] = STORE_INT(rel(start));
	r.vals[4] = STORE_INT(end >= start ? end - start : 0);
	r.vals[5] = STORE_BLOB(req ? t->req_sha256 : t->resp_sha256, 32);
	r.vals[6] = STORE_INT(complete ? 1 : 0);
	r.vals[7] = STORE_INT((req ? t->req_hash_ok : t->resp_hash_ok) ? 1 : 0);
	r.vals[8] = STORE_INT(now);
	uint64_t before = o->s.rows;
	submit(o, &r);
	o->s.digests += o->s.rows != before;
}

/* ---- observer callbacks ---- */

static void on_conn_open(void *ctx, const struct txn_log_conn *c)
{
	struct txn_log_store *o = ctx;
	struct store_row r = {.stmt = STORE_CONNECTION_OPEN, .nvals = 16};
	r.vals[0] = STORE_INT(c->conn_id);
	r.vals[1] = STORE_INT(c->caddr);
	r.vals[2] = STORE_INT(c->cport);
	r.vals[3] = STORE_NULL();
	r.vals[4] = STORE_NULL();
	r.vals[5] = STORE_NULL();
	r.vals[6] = STORE_NULL();
	r.vals[7] = STORE_INT(c->saddr);
	r.vals[8] = STORE_INT(c->sport);
	r.vals[9] = c->backend ? STORE_TEXT(c->backend) : STORE_NULL();
	r.vals[10] = STORE_INT_OR_NULL(c->isn_client_known, c->isn_client);
	r.vals[11] = STORE_NULL();
	r.vals[12] = STORE_NULL();
	r.vals[13] = STORE_INT_OR_NULL(c->isn_server_known, c->isn_server);
	r.vals[14] = STORE_TEXT(c->midstream ? "midstream" : "open");
	r.vals[15] = STORE_INT(c->open_us);
	submit(o, &r);
}

static void on_conn_update(void *ctx, const struct txn_log_conn *c)
{
	struct txn_log_store *o = ctx;
	struct store_row r = {.stmt = STORE_CONNECTION_UPDATE, .nvals = 8};
	r.vals[0] = STORE_INT(c->conn_id);
	for (int i = 1; i < 6; i++)
		r.vals[i] = STORE_NULL();
	r.vals[6] = STORE_INT_OR_NULL(c->isn_server_known, c->isn_server);
	r.vals[7] = STORE_INT(c->last_us);
	submit(o, &r);
}

static void on_conn_close(void *ctx, const struct txn_log_conn *c)
{
	struct txn_log_store *o = ctx;
	struct store_row r = {.stmt = STORE_CONNECTION_CLOSE, .nvals = 3};
	r.vals[0] = STORE_INT(c->conn_id);
	r.vals[1] = STORE_TEXT(txn_log_close_name(c));
	r.vals[2] = STORE_INT(c->close_us);
	submit(o, &r);
}

static void on_marks(void *ctx, const struct txn_log_conn *c)
{
	struct txn_log_store *o = ctx;
	struct store_row r = {.stmt = STORE_CONN_MARKS, .nvals = 5};
	r.vals[0] = STORE_INT(c->conn_id);
	r.vals[1] = STORE_INT_OR_NULL(c->ack_cl_known, rel(c->ack_cl));
	r.vals[2] = STORE_INT(rel(c->server_bytes));
	r.vals[3] = STORE_INT(rel(c->client_bytes));
	r.vals[4] = STORE_INT(c->last_us);
	submit(o, &r);
}

/* ---- transactions: one upsert per transaction and segment ---- */

static const char *state_of(const struct txn_log_txn *t)
{
	if (t->end != TXN_END_OPEN)
		return txn_end_name(t->end);
	return t->resp_started ? "response" : "request";
}

static void write_txn(struct txn_log_store *o, const struct txn_log_pending *p)
{
	const struct txn_log_txn *t = &p->t;
	char summary[SUMMARY_MAX] = "";
	if (p->proto == TXN_PROTO_HTTP && t->method[0])
		snprintf(summary, sizeof(summary), "%s %s", t->method, t->target);
	else
		snprintf(summary, sizeof(summary), "%s", t->target);

	struct store_row r = {.stmt = STORE_TRANSACTION_UPSERT, .nvals = 11};
	r.vals[0] = STORE_INT(p->conn_id);
	r.vals[1] = STORE_INT(tid(t));
	r.vals[2] = STORE_TEXT(state_of(t));
	r.vals[3] = STORE_INT(t->req_first_us);
	r.vals[4] = STORE_INT_OR_NULL(t->resp_started, t->resp_first_us);
	r.vals[5] = STORE_INT_OR_NULL(t->resp_done, t->resp_done_us);
	r.vals[6] = STORE_INT_OR_NULL(t->req_done, t->req_end - t->req_start);
	r.vals[7] = STORE_INT_OR_NULL(t->resp_done, t->resp_end - t->resp_start);
	r.vals[8] = summary[0] ? STORE_TEXT(summary) : STORE_NULL();
	r.vals[9] = STORE_INT_OR_NULL(t->status != 0, t->status);
	r.vals[10] = STORE_INT_OR_NULL(t->has_aux_id, (int64_t)t->aux_id);
	submit(o, &r);

	if (p->fresh) {
		char source[48];
		if (t->tag_rule >= 0)
			snprintf(source, sizeof(source), "rules line %u", t->tag_line);
		else
			snprintf(source, sizeof(source), "default");
		struct store_row g = {.stmt = STORE_TAGS, .nvals = 7};
		g.vals[0] = STORE_INT(p->conn_id);
		g.vals[1] = STORE_INT(tid(t));
		g.vals[2] = STORE_INT((t->tags & TAG_DETERMINISTIC) != 0);
		g.vals[3] = STORE_INT((t->tags & TAG_READ_ONLY) != 0);
		g.vals[4] = STORE_INT((t->tags & TAG_IDEMPOTENT) != 0);
		g.vals[5] = STORE_TEXT(source);
		g.vals[6] = STORE_INT(t->req_first_us);
		submit(o, &g);
	}

	struct store_row q = {.stmt = STORE_SEQ_OFFSETS, .nvals = 7};
	q.vals[0] = STORE_INT(p->conn_id);
	q.vals[1] = STORE_INT(tid(t));
	q.vals[2] = STORE_INT(rel(t->req_start));
	q.vals[3] = STORE_INT_OR_NULL(t->req_done, rel(t->req_end));
	q.vals[4] = STORE_INT_OR_NULL(t->resp_started, rel(t->resp_start));
	q.vals[5] = STORE_INT_OR_NULL(t->resp_done, rel(t->resp_end));
	q.vals[6] = STORE_INT(p->now_us);
	submit(o, &q);
}

/* Writes the pending transactions that ended or have waited row_delay
 * (all of them with force), keeps the others. */
static void flush(struct txn_log_store *o, uint64_t now, bool force)
{
	uint64_t delay = o->row_delay_us;
	uint32_t j = 0;
	for (uint32_t i = 0; i < o->npend; i++) {
		struct txn_log_pending *p = &o->pend[i];
		if (force || p->t.end != TXN_END_OPEN || now - p->first_us >= delay)
			write_txn(o, p);
		else
			o->pend[j++] = *p;
	}
	o->npend = j;
}

static void on_batch_end(void *ctx)
{
	struct txn_log_store *o = ctx;
	flush(o, o->now_us, false);
}

static void on_tick(void *ctx, uint64_t now_us)
{
	struct txn_log_store *o = ctx;
	if (now_us > o->now_us)
		o->now_us = now_us;
	flush(o, o->now_us, false);
}

/* Remembers the transaction's latest state: written when it ends, or once
 * it has waited marks_interval (a transaction in progress shows up that
 * late, and one that completes quickly costs one set of rows). */
static void note(struct txn_log_store *o, const struct txn_log_conn *c, const struct txn_log_txn *t,
		 bool fresh, uint64_t now)
{
	struct txn_log_pending *p = NULL;
	for (uint32_t i = 0; i < o->npend && !p; i++)
		if (o->pend[i].conn_id == c->conn_id && o->pend[i].t.ordinal == t->ordinal)
			p = &o->pend[i];
	if (now > o->now_us)
		o->now_us = now;
	if (!p) {
		if (o->npend == TXN_LOG_STORE_PENDING)
			flush(o, o->now_us, true); /* many in flight: write them all */
		p = &o->pend[o->npend++];
		p->conn_id = c->conn_id;
		p->proto = c->proto;
		p->fresh = false;
		p->first_us = o->now_us;
	}
	p->t = *t;
	p->fresh |= fresh;
	p->now_us = now;
}

static void on_txn_begin(void *ctx, const struct txn_log_conn *c, const struct txn_log_txn *t)
{
	note(ctx, c, t, true, t->req_first_us);
}

static bool persist_request(const struct txn_log_store *o, const struct txn_log_txn *t)
{
	switch (o->persist_requests) {
	case TXN_LOG_PERSIST_ALL:
		return true;
	case TXN_LOG_PERSIST_UPDATE:
		return (t->tags & TAG_READ_ONLY) == 0;
	default:
		return false;
	}
}

static void on_request_done(void *ctx, const struct txn_log_conn *c, const struct txn_log_txn *t,
			    uint64_t t_us)
{
	struct txn_log_store *o = ctx;
	note(o, c, t, false, t_us);
	if (t->req_hashed)
		digest(o, c, t, BS_REQ, true, t_us);
	else if (persist_request(o, t))
		payloads(o, c, t, BS_REQ, t->req_start, t->req_end, t_us);
}

static void on_response_first(void *ctx, const struct txn_log_conn *c, const struct txn_log_txn *t,
			      uint64_t t_us)
{
	note(ctx, c, t, false, t_us);
}

static void on_response_done(void *ctx, const struct txn_log_conn *c, const struct txn_log_txn *t,
			     uint64_t t_us)
{
	struct txn_log_store *o = ctx;
	note(o, c, t, false, t_us);
	if (t->resp_hashed)
		digest(o, c, t, BS_RESP, true, t_us);
	else if (o->persist_responses)
		payloads(o, c, t, BS_RESP, t->resp_start, t->resp_end, t_us);
}

static void on_txn_end(void *ctx, const struct txn_log_conn *c, const struct txn_log_txn *t)
{
	struct txn_log_store *o = ctx;
	uint64_t now = c->last_us;
	note(o, c, t, false, now);
	if (t->req_hashed && !t->req_done)
		digest(o, c, t, BS_REQ, false, now);
	if (t->resp_hashed && t->resp_started && !t->resp_done)
		digest(o, c, t, BS_RESP, false, now);
}

struct txn_log_observer txn_log_store_observer(struct txn_log_store *o)
{
	return (struct txn_log_observer){
	    .conn_open = on_conn_open,
	    .conn_update = on_conn_update,
	    .conn_close = on_conn_close,
	    .txn_begin = on_txn_begin,
	    .txn_request_done = on_request_done,
	    .txn_response_first_byte = on_response_first,
	    .txn_response_done = on_response_done,
	    .txn_end = on_txn_end,
	    .marks = on_marks,
	    .batch_end = on_batch_end,
	    .tick = on_tick,
	    .ctx = o,
	};
}

int txn_log_store_init(struct txn_log_store *o, struct store *st, struct txn_log *log,
		       uint64_t max_value_bytes)
{
	memset(o, 0, sizeof(*o));
	o->st = st;
	o->log = log;
	const struct txn_log_config *lc = txn_log_config_of(log);
	o->persist_requests = lc->persist_requests;
	o->persist_responses = lc->persist_responses;
	o->row_delay_us = lc->marks_interval_ms * 1000;
	uint64_t n = lc->payload_row_bytes;
	if (max_value_bytes && n > max_value_bytes)
		n = max_value_bytes;
	if (n == 0)
		n = 1;
	o->row_bytes = (uint32_t)n;
	o->buf = malloc(n);
	o->pend = calloc(TXN_LOG_STORE_PENDING, sizeof(*o->pend));
	return o->buf && o->pend ? 0 : -ENOMEM;
}

void txn_log_store_free(struct txn_log_store *o)
{
	if (o->pend && o->st)
		flush(o, o->now_us, true);
	free(o->buf);
	free(o->pend);
	o->buf = NULL;
	o->pend = NULL;
}

void txn_log_store_collect_stats(const struct txn_log_store *o, struct stats_report *r,
				 const char *prefix)
{
	stats_add(r, prefix, "rows", o->s.rows);
	stats_add(r, prefix, "dropped_full", o->s.dropped_full);
	stats_add(r, prefix, "rejected", o->s.rejected);
	stats_add(r, prefix, "payload_rows", o->s.payload_rows);
	stats_add(r, prefix, "payload_bytes", o->s.payload_bytes);
	stats_add(r, prefix, "payload_missing", o->s.payload_missing);
	stats_add(r, prefix, "digests", o->s.digests);
}
