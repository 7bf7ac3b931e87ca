/* txn_parser - the protocol-independent half (see txn_parser.h): stream
 * offset bookkeeping, the queue of open transactions, event delivery, how
 * errors, holes and FINs end transactions, counters and the config keys.
 * Protocol modules only decide where messages begin and end. */
#include "txn_parser.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "http_txn.h"
#include "line_txn.h"
#include "stats.h"

void txn_parser_config_default(struct txn_parser_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->proto = TXN_PROTO_HTTP;
	cfg->max_pending = 64;
	cfg->max_header_bytes = 64 * 1024;
	snprintf(cfg->id_name, sizeof(cfg->id_name), "X-Craft-Txn");
	cfg->line_max = 64 * 1024;
	memcpy(cfg->line_delims, "\n;", 2);
	cfg->line_delims_len = 2;
	cfg->line_resp = TXN_LINE_RESP_NEXT_REQUEST;
}

#define TXN_MAX_PENDING_CEILING 4096u

int txn_parser_ctx_init(struct txn_parser_ctx *ctx, const struct txn_parser_config *cfg, char *err,
			size_t errlen)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->cfg = *cfg;
	ctx->cfg.id_name[sizeof(ctx->cfg.id_name) - 1] = '\0';
	ctx->cfg.line_pattern[sizeof(ctx->cfg.line_pattern) - 1] = '\0';
	if (cfg->max_pending < 1 || cfg->max_pending > TXN_MAX_PENDING_CEILING) {
		snprintf(err, errlen, "max_pending %u out of range 1..%u", cfg->max_pending,
			 TXN_MAX_PENDING_CEILING);
		return -EINVAL;
	}
	switch (cfg->proto) {
	case TXN_PROTO_HTTP:
		ctx->ops = &http_txn_ops;
		break;
	case TXN_PROTO_LINE:
		ctx->ops = &line_txn_ops;
		break;
	default:
		snprintf(err, errlen, "unknown protocol %d", cfg->proto);
		return -EINVAL;
	}
	if (ctx->ops->ctx_init)
		return ctx->ops->ctx_init(ctx, err, errlen);
	return 0;
}

void txn_parser_ctx_free(struct txn_parser_ctx *ctx)
{
	if (ctx->ops && ctx->ops->ctx_free)
		ctx->ops->ctx_free(ctx);
	ctx->proto = NULL;
}

struct txn_parser *txn_parser_new(struct txn_parser_ctx *ctx, const struct txn_consumer *consumer)
{
	struct txn_parser *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->ctx = ctx;
	if (consumer)
		p->consumer = *consumer;
	p->next_ordinal = 1;
	if (ctx->ops->conn_size) {
		p->st = calloc(1, ctx->ops->conn_size);
		if (!p->st) {
			free(p);
			return NULL;
		}
	}
	if (ctx->ops->conn_init && ctx->ops->conn_init(p, p->st) != 0) {
		free(p->st);
		free(p);
		return NULL;
	}
	ctx->stats.connections++;
	return p;
}

void txn_parser_free(struct txn_parser *p)
{
	if (!p)
		return;
	if (p->ctx->ops->conn_free)
		p->ctx->ops->conn_free(p, p->st);
	free(p->st);
	free(p->q);
	free(p);
}

/* ---- the queue of open transactions ---- */

void txn_emit(struct txn_parser *p, enum txn_event ev, uint32_t idx)
{
	if (p->consumer.event && idx < p->n)
		p->consumer.event(p->consumer.ctx, ev, &p->q[idx]);
}

int txn_open(struct txn_parser *p, uint64_t req_start)
{
	struct txn_stats *s = &p->ctx->stats;
	if (p->n >= p->ctx->cfg.max_pending) {
		txn_fail(p, TXN_DIR_REQUEST, TXN_ERR_PENDING);
		return -1;
	}
	if (p->n == p->cap) {
		uint32_t cap = p->cap ? p->cap * 2 : 2;
		if (cap > p->ctx->cfg.max_pending)
			cap = p->ctx->cfg.max_pending;
		struct txn *q = realloc(p->q, (size_t)cap * sizeof(*q));
		if (!q) {
			txn_fail(p, TXN_DIR_REQUEST, TXN_ERR_NOMEM);
			return -1;
		}
		p->q = q;
		p->cap = cap;
	}
	struct txn *t = &p->q[p->n];
	memset(t, 0, offsetof(struct txn, target));
	t->target[0] = '\0';
	t->target_len = 0;
	t->priv = 0;
	t->fate = TXN_END_OPEN;
	t->ordinal = p->next_ordinal++;
	t->req_start = req_start;
	t->req_started = true;
	p->n++;
	s->transactions++;
	txn_emit(p, TXN_EV_REQUEST_BEGIN, p->n - 1);
	return (int)(p->n - 1);
}

int txn_resp_index(const struct txn_parser *p)
{
	for (uint32_t i = 0; i < p->n; i++)
		if (!p->q[i].resp_complete)
			return (int)i;
	return -1;
}

int txn_req_index(const struct txn_parser *p)
{
	if (p->n == 0)
		return -1;
	const struct txn *t = &p->q[p->n - 1];
	if (t->req_complete || t->fate != TXN_END_OPEN)
		return -1;
	return (int)(p->n - 1);
}

void txn_finish(struct txn_parser *p, uint32_t idx, enum txn_end why)
{
	if (idx >= p->n)
		return;
	p->q[idx].end = why;
	p->ctx->stats.ended[why]++;
	txn_emit(p, TXN_EV_END, idx);
	memmove(&p->q[idx], &p->q[idx + 1], (size_t)(p->n - idx - 1) * sizeof(p->q[0]));
	p->n--;
}

bool txn_try_finish(struct txn_parser *p, uint32_t idx)
{
	if (idx >= p->n)
		return false;
	const struct txn *t = &p->q[idx];
	if (!t->resp_complete)
		return false;
	if (t->req_complete) {
		txn_finish(p, idx, TXN_END_COMPLETE);
		return true;
	}
	if (t->fate != TXN_END_OPEN) {
		txn_finish(p, idx, t->fate);
		return true;
	}
	return false;
}

void txn_request_dead(struct txn_parser *p, uint32_t idx, enum txn_end fate)
{
	if (idx >= p->n)
		return;
	struct txn *t = &p->q[idx];
	if (t->req_complete || t->fate != TXN_END_OPEN)
		return;
	t->fate = fate;
	t->flags |= TXN_F_REQ_TRUNCATED;
	txn_try_finish(p, idx);
}

/* Ends every open transaction with `why`, or with the reason its request
 * died earlier (the first cause is the one reported). */
static void finish_all(struct txn_parser *p, enum txn_end why)
{
	while (p->n > 0)
		txn_finish(p, 0, p->q[0].fate != TXN_END_OPEN ? p->q[0].fate : why);
}

static void set_state(struct txn_parser *p, enum txn_conn_state st)
{
	if (p->state != TXN_CONN_OK)
		return;
	p->state = st;
	if (st == TXN_CONN_ERROR)
		p->ctx->stats.conn_error++;
	else if (st == TXN_CONN_UNSYNC)
		p->ctx->stats.conn_unsync++;
	else if (st == TXN_CONN_OPAQUE)
		p->ctx->stats.conn_opaque++;
}

/* Request side lost: the request in progress never completes; transactions
 * whose requests are complete can still be answered.  Response side lost:
 * nothing open can complete any more. */
static void stop_dir(struct txn_parser *p, enum txn_dir dir, enum txn_end why)
{
	if (dir == TXN_DIR_REQUEST) {
		p->stopped[TXN_DIR_REQUEST] = true;
		int r = txn_req_index(p);
		if (r >= 0)
			txn_request_dead(p, (uint32_t)r, why);
		return;
	}
	p->stopped[TXN_DIR_REQUEST] = true;
	p->stopped[TXN_DIR_RESPONSE] = true;
	finish_all(p, why);
}

void txn_fail(struct txn_parser *p, enum txn_dir dir, enum txn_err err)
{
	if (err < TXN_ERR_COUNT)
		p->ctx->stats.errors[err]++;
	set_state(p, TXN_CONN_ERROR);
	stop_dir(p, dir, TXN_END_ERROR);
}

void txn_desync(struct txn_parser *p, enum txn_dir dir)
{
	set_state(p, TXN_CONN_UNSYNC);
	stop_dir(p, dir, TXN_END_GAP);
}

void txn_go_opaque(struct txn_parser *p)
{
	set_state(p, TXN_CONN_OPAQUE);
	p->stopped[0] = p->stopped[1] = true;
	finish_all(p, TXN_END_OPAQUE);
}

void txn_target_append(struct txn_parser *p, struct txn *t, const char *s, size_t len)
{
	if (t->flags & TXN_F_TARGET_TRUNCATED)
		return;
	size_t room = sizeof(t->target) - 1 - t->target_len;
	size_t n = len < room ? len : room;
	const char *nul = memchr(s, '\0', n);
	if (nul)
		n = (size_t)(nul - s);
	memcpy(t->target + t->target_len, s, n);
	t->target_len = (uint16_t)(t->target_len + n);
	t->target[t->target_len] = '\0';
	if (n < len) {
		t->flags |= TXN_F_TARGET_TRUNCATED;
		p->ctx->stats.target_truncated++;
	}
}

/* ---- feeding ---- */

int txn_parser_gap(struct txn_parser *p, enum txn_dir dir, uint64_t off, uint64_t len)
{
	if (dir != TXN_DIR_REQUEST && dir != TXN_DIR_RESPONSE)
		return -EINVAL;
	uint64_t next = p->next_off[dir];
	if (off > UINT64_MAX - len)
		return -EINVAL;
	if (off + len <= next || len == 0)
		return 0;
	if (off > next) {
		/* the bytes between were never reported: part of the hole */
		len += off - next;
		off = next;
	} else {
		len -= next - off;
		off = next;
	}
	struct txn_stats *s = &p->ctx->stats;
	s->gaps++;
	s->gap_bytes += len;
	p->next_off[dir] = off + len;
	if (p->eof[dir] || p->stopped[dir])
		return 0;
	p->ctx->ops->gap(p, p->st, dir, off, len);
	return 0;
}

int txn_parser_data(struct txn_parser *p, enum txn_dir dir, uint64_t off, const void *data,
		    size_t len)
{
	if ((dir != TXN_DIR_REQUEST && dir != TXN_DIR_RESPONSE) || (len && !data) ||
	    off > UINT64_MAX - len)
		return -EINVAL;
	struct txn_stats *s = &p->ctx->stats;
	const uint8_t *d = data;
	uint64_t next = p->next_off[dir];
	if (off + len <= next) {
		s->overlap_bytes += len;
		return 0;
	}
	if (off < next) {
		size_t skip = (size_t)(next - off);
		s->overlap_bytes += skip;
		d += skip;
		len -= skip;
		off = next;
	}
	if (p->eof[dir]) {
		s->after_eof_bytes += len;
		return 0;
	}
	if (off > next)
		txn_parser_gap(p, dir, next, off - next);
	p->next_off[dir] = off + len;
	s->bytes[dir] += len;
	if (p->stopped[dir]) {
		s->ignored_bytes += len;
		return 0;
	}
	p->ctx->ops->data(p, p->st, dir, off, d, len);
	return 0;
}

int txn_parser_eof(struct txn_parser *p, enum txn_dir dir)
{
	if (dir != TXN_DIR_REQUEST && dir != TXN_DIR_RESPONSE)
		return -EINVAL;
	if (p->eof[dir])
		return 0;
	p->eof[dir] = true;
	if (dir == TXN_DIR_REQUEST) {
		int r = txn_req_index(p);
		if (r >= 0 && !p->stopped[dir])
			p->ctx->stats.eof_mid_request++;
		if (!p->stopped[dir])
			p->ctx->ops->eof(p, p->st, dir, p->next_off[dir]);
		p->stopped[dir] = true;
		r = txn_req_index(p);
		if (r >= 0)
			txn_request_dead(p, (uint32_t)r, TXN_END_EOF);
		return 0;
	}
	if (!p->stopped[dir])
		p->ctx->ops->eof(p, p->st, dir, p->next_off[dir]);
	/* the server said all it will say */
	p->stopped[TXN_DIR_RESPONSE] = true;
	p->stopped[TXN_DIR_REQUEST] = true;
	finish_all(p, TXN_END_EOF);
	return 0;
}

void txn_parser_end(struct txn_parser *p, enum txn_end why)
{
	if (why == TXN_END_OPEN || why == TXN_END_COMPLETE || why > TXN_END_ABORT)
		why = TXN_END_ABORT;
	p->stopped[0] = p->stopped[1] = true;
	finish_all(p, why);
}

enum txn_conn_state txn_parser_state(const struct txn_parser *p)
{
	return p->state;
}

bool txn_parser_active(const struct txn_parser *p, enum txn_dir dir)
{
	return dir <= TXN_DIR_RESPONSE && !p->stopped[dir];
}

unsigned txn_parser_pending(const struct txn_parser *p)
{
	return p->n;
}

uint64_t txn_parser_offset(const struct txn_parser *p, enum txn_dir dir)
{
	return dir <= TXN_DIR_RESPONSE ? p->next_off[dir] : 0;
}

/* ---- names, IDs, counters ---- */

const char *txn_event_name(enum txn_event ev)
{
	static const char *const names[] = {
	    "request_begin", "request_head", "request_end", "response_begin",
	    "response_head", "response_end", "end"};
	return (unsigned)ev < sizeof(names) / sizeof(names[0]) ? names[ev] : "?";
}

static const char *const end_names[] = {"open", "complete", "eof",  "error",
					"gap",	"opaque",   "abort"};

const char *txn_end_name(enum txn_end end)
{
	return (unsigned)end < sizeof(end_names) / sizeof(end_names[0]) ? end_names[end] : "?";
}

const char *txn_conn_state_name(enum txn_conn_state st)
{
	static const char *const names[] = {"ok", "opaque", "unsync", "error"};
	return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

static const char *const err_names[TXN_ERR_COUNT] = {
    "syntax",	   "header_size", "content_length", "chunk_size", "after_close",
    "unsolicited", "pending",	  "line_too_long",  "nomem"};

const char *txn_err_name(enum txn_err err)
{
	return (unsigned)err < TXN_ERR_COUNT ? err_names[err] : "?";
}

int txn_id_format(uint64_t id, char *buf, size_t len)
{
	if (len < 17)
		return -ENOSPC;
	snprintf(buf, len, "%016llx", (unsigned long long)id);
	return 0;
}

int txn_id_parse(const char *s, size_t len, uint64_t *out)
{
	if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		len -= 2;
	}
	if (len == 0 || len > 16)
		return -EINVAL;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

void txn_parser_collect_stats(const struct txn_parser_ctx *ctx, struct stats_report *r,
			      const char *prefix)
{
	const struct txn_stats *s = &ctx->stats;
	char name[STATS_NAME_MAX];

	stats_add(r, prefix, "connections", s->connections);
	stats_add(r, prefix, "req_bytes", s->bytes[TXN_DIR_REQUEST]);
	stats_add(r, prefix, "resp_bytes", s->bytes[TXN_DIR_RESPONSE]);
	stats_add(r, prefix, "ignored_bytes", s->ignored_bytes);
	stats_add(r, prefix, "overlap_bytes", s->overlap_bytes);
	stats_add(r, prefix, "after_eof_bytes", s->after_eof_bytes);
	stats_add(r, prefix, "transactions", s->transactions);
	for (unsigned i = TXN_END_COMPLETE; i <= TXN_END_ABORT; i++) {
		snprintf(name, sizeof(name), "ended_%s", end_names[i]);
		stats_add(r, prefix, name, s->ended[i]);
	}
	for (unsigned i = 0; i < TXN_ERR_COUNT; i++) {
		snprintf(name, sizeof(name), "err_%s", err_names[i]);
		stats_add(r, prefix, name, s->errors[i]);
	}
	stats_add(r, prefix, "conn_error", s->conn_error);
	stats_add(r, prefix, "conn_unsync", s->conn_unsync);
	stats_add(r, prefix, "conn_opaque", s->conn_opaque);
	stats_add(r, prefix, "gaps", s->gaps);
	stats_add(r, prefix, "gap_bytes", s->gap_bytes);
	stats_add(r, prefix, "gaps_stepped", s->gaps_stepped);
	stats_add(r, prefix, "interim", s->interim);
	stats_add(r, prefix, "target_truncated", s->target_truncated);
	stats_add(r, prefix, "ids", s->ids);
	stats_add(r, prefix, "ids_invalid", s->ids_invalid);
	stats_add(r, prefix, "unsolicited_bytes", s->unsolicited_bytes);
	stats_add(r, prefix, "grouped", s->grouped);
	stats_add(r, prefix, "held_overflow", s->held_overflow);
	stats_add(r, prefix, "eof_mid_request", s->eof_mid_request);
}

/* ---- configuration keys ---- */

/* Decodes C escapes (\n \r \t \\ \" \xHH) of s into buf; returns the length
 * or -1 with a message. */
static int unescape(const char *s, char *buf, size_t cap, char *err, size_t errlen)
{
	size_t n = 0;
	for (; *s; s++) {
		char c = *s;
		if (c == '\\') {
			s++;
			switch (*s) {
			case 'n':
				c = '\n';
				break;
			case 'r':
				c = '\r';
				break;
			case 't':
				c = '\t';
				break;
			case '\\':
			case '"':
				c = *s;
				break;
			case 'x': {
				char hex[3] = {0};
				uint64_t v;
				if (!s[1] || !s[2])
					goto bad;
				hex[0] = s[1];
				hex[1] = s[2];
				if (txn_id_parse(hex, 2, &v) != 0)
					goto bad;
				c = (char)v;
				s += 2;
				break;
			}
			default:
				goto bad;
			}
		}
		if (n >= cap) {
			snprintf(err, errlen, "value too long (at most %zu bytes)", cap);
			return -1;
		}
		buf[n++] = c;
	}
	return (int)n;
bad:
	snprintf(err, errlen, "invalid escape (use \\n \\r \\t \\\\ \\\" \\xHH)");
	return -1;
}

static int parse_delims(void *dst, const struct config_key *key, const char *value, char *err,
			size_t errlen)
{
	struct txn_parser_config *c = dst;
	(void)key;
	int n = unescape(value, c->line_delims, sizeof(c->line_delims), err, errlen);
	if (n < 1) {
		if (n == 0)
			snprintf(err, errlen, "at least one delimiter needed");
		return -1;
	}
	c->line_delims_len = (uint32_t)n;
	return 0;
}

static int parse_terminator(void *dst, const struct config_key *key, const char *value, char *err,
			    size_t errlen)
{
	struct txn_parser_config *c = dst;
	(void)key;
	int n = unescape(value, c->line_terminator, sizeof(c->line_terminator), err, errlen);
	if (n < 1) {
		if (n == 0)
			snprintf(err, errlen, "empty terminator");
		return -1;
	}
	c->line_terminator_len = (uint32_t)n;
	return 0;
}

static const char *const proto_names[] = {"http", "line", NULL};
static const char *const line_resp_names[] = {"next-request", "string", "line", NULL};

const struct config_key txn_parser_config_keys[] = {
    CONFIG_ENUM("transactions", "protocol", struct txn_parser_config, proto, proto_names),
    CONFIG_U32("transactions", "max_pending", struct txn_parser_config, max_pending, 1,
	       TXN_MAX_PENDING_CEILING),
    CONFIG_SIZE("transactions", "max_header_bytes", struct txn_parser_config, max_header_bytes, 256,
		HTTP_TXN_HEADER_CEILING),
    CONFIG_STR("transactions", "id", struct txn_parser_config, id_name),
    CONFIG_SIZE("transactions", "line_max", struct txn_parser_config, line_max, 16,
		(uint64_t)1 << 40),
    CONFIG_CUSTOM("transactions", "line_delimiters", parse_delims),
    CONFIG_ENUM("transactions", "line_response", struct txn_parser_config, line_resp,
		line_resp_names),
    CONFIG_CUSTOM("transactions", "line_terminator", parse_terminator),
    CONFIG_STR("transactions", "line_pattern", struct txn_parser_config, line_pattern),
    {0}};
