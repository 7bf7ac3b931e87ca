/* line_txn - line-oriented command protocols for txn_parser (the rules are
 * in line_txn.h).  Nothing is buffered but bounded copies: the request
 * text prefix (in the transaction) and, in line mode, the prefix of the
 * current response line.  The literal terminator is found with a
 * Knuth-Morris-Pratt automaton so that a terminator split across writes,
 * or overlapping itself ("\r\n.\r\n" after "\r\n\r\n"), is still found. */
#include "line_txn.h"

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLS_DELIM 0x1u
#define CLS_BLANK 0x2u

/* Compiled once per context. */
struct line_shared {
	uint8_t cls[256];
	uint8_t fail[TXN_TERMINATOR_MAX]; /* KMP failure function */
	regex_t re;
	bool re_ok;
};

struct line_conn {
	struct txn_parser *p;
	const struct line_shared *sh;
	bool in_req;	   /* a request's text has begun */
	uint64_t req_len;  /* its bytes so far (delimiter excluded) */
	uint32_t match;	   /* string mode: terminator bytes matched so far */
	uint32_t line_len; /* line mode: bytes of the current response line kept */
	char line[LINE_TXN_RESP_LINE_MAX];
};

/* ---- requests ---- */

/* Ends every open response at server offset `at` (next-request mode): the
 * oldest gets what arrived, the ones pipelined behind it empty ones.  With
 * only_complete, transactions whose request is unfinished are left. */
static void close_responses(struct line_conn *c, uint64_t at, bool only_complete)
{
	struct txn_parser *p = c->p;
	uint32_t i = 0;
	while (i < p->n) {
		struct txn *t = &p->q[i];
		if (t->resp_complete || (only_complete && !t->req_complete)) {
			i++;
			continue;
		}
		if (!t->resp_started) {
			t->resp_start = at;
			t->resp_end = at;
			t->resp_started = true;
			t->flags |= TXN_F_GROUPED;
			p->ctx->stats.grouped++;
			txn_emit(p, TXN_EV_RESPONSE_BEGIN, i);
			txn_emit(p, TXN_EV_RESPONSE_HEAD, i);
		}
		t->resp_complete = true;
		txn_emit(p, TXN_EV_RESPONSE_END, i);
		if (!txn_try_finish(p, i))
			i++;
	}
}

static void request_begin(struct line_conn *c, uint64_t start)
{
	struct txn_parser *p = c->p;
	if (p->ctx->cfg.line_resp == TXN_LINE_RESP_NEXT_REQUEST) {
		int r = txn_resp_index(p);
		if (r >= 0 && p->q[r].resp_started)
			close_responses(c, p->next_off[TXN_DIR_RESPONSE], false);
	}
	if (txn_open(p, start) < 0)
		return;
	c->in_req = true;
	c->req_len = 0;
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* First word -> method, the ID prefix handled. */
static void request_words(struct txn_parser *p, struct txn *t)
{
	const char *s = t->target, *end = t->target + t->target_len;
	const char *id = p->ctx->cfg.id_name;
	size_t idlen = strlen(id);
	const char *w = s;
	while (w < end && !is_blank(*w))
		w++;
	if (idlen && (size_t)(w - s) >= idlen && memcmp(s, id, idlen) == 0) {
		if (txn_id_parse(s + idlen, (size_t)(w - s) - idlen, &t->txn_id) == 0) {
			t->has_txn_id = true;
			p->ctx->stats.ids++;
		} else {
			t->flags |= TXN_F_ID_INVALID;
			p->ctx->stats.ids_invalid++;
		}
		s = w;
		while (s < end && is_blank(*s))
			s++;
		w = s;
		while (w < end && !is_blank(*w))
			w++;
	}
	size_t n = (size_t)(w - s);
	if (n >= sizeof(t->method))
		n = sizeof(t->method) - 1;
	memcpy(t->method, s, n);
	t->method[n] = '\0';
}

static void request_end(struct line_conn *c, uint64_t end)
{
	struct txn_parser *p = c->p;
	int i = txn_req_index(p);
	c->in_req = false;
	if (i < 0)
		return;
	struct txn *t = &p->q[i];
	while (t->target_len &&
	       (is_blank(t->target[t->target_len - 1]) || t->target[t->target_len - 1] == '\r'))
		t->target_len--;
	t->target[t->target_len] = '\0';
	request_words(p, t);
	t->req_end = end;
	t->req_complete = true;
	txn_emit(p, TXN_EV_REQUEST_HEAD, (uint32_t)i);
	txn_emit(p, TXN_EV_REQUEST_END, (uint32_t)i);
	txn_try_finish(p, (uint32_t)i);
}

static void request_data(struct line_conn *c, uint64_t off, const uint8_t *d, size_t len)
{
	struct txn_parser *p = c->p;
	const uint8_t *cls = c->sh->cls;
	size_t i = 0;

	while (i < len && !p->stopped[TXN_DIR_REQUEST]) {
		if (!c->in_req) {
			while (i < len && (cls[d[i]] & (CLS_BLANK | CLS_DELIM)))
				i++;
			if (i == len)
				break;
			request_begin(c, off + i);
			if (!c->in_req)
				break;
		}
		size_t j = i;
		while (j < len && !(cls[d[j]] & CLS_DELIM))
			j++;
		/* never past line_max, so that the copy does not depend on
		 * how the bytes were split */
		size_t n = j - i;
		bool too_long = n > p->ctx->cfg.line_max - c->req_len;
		if (too_long)
			n = (size_t)(p->ctx->cfg.line_max - c->req_len);
		int r = txn_req_index(p);
		if (r >= 0)
			txn_target_append(p, &p->q[r], (const char *)d + i, n);
		c->req_len += n;
		if (too_long) {
			txn_fail(p, TXN_DIR_REQUEST, TXN_ERR_LINE_TOO_LONG);
			break;
		}
		if (j == len)
			break;
		request_end(c, off + j + 1);
		i = j + 1;
	}
}

/* ---- responses ---- */

/* Consumes bytes of the current response up to and including its
 * terminator; returns how many, and sets *found when it ended. */
static size_t scan_string(struct line_conn *c, const uint8_t *d, size_t len, bool *found)
{
	const char *term = c->p->ctx->cfg.line_terminator;
	uint32_t tlen = c->p->ctx->cfg.line_terminator_len;
	const uint8_t *fail = c->sh->fail;
	uint32_t m = c->match;
	for (size_t i = 0; i < len; i++) {
		while (m > 0 && (char)d[i] != term[m])
			m = fail[m - 1];
		if ((char)d[i] == term[m])
			m++;
		if (m == tlen) {
			c->match = 0;
			*found = true;
			return i + 1;
		}
	}
	c->match = m;
	*found = false;
	return len;
}

static bool line_matches(struct line_conn *c)
{
	uint32_t n = c->line_len;
	if (n && c->line[n - 1] == '\r')
		n--;
	c->line[n] = '\0';
	c->line_len = 0;
	return regexec(&c->sh->re, c->line, 0, NULL, 0) == 0;
}

static size_t scan_line(struct line_conn *c, const uint8_t *d, size_t len, bool *found)
{
	*found = false;
	for (size_t i = 0; i < len; i++) {
		if (d[i] == '\n') {
			if (line_matches(c)) {
				*found = true;
				return i + 1;
			}
			continue;
		}
		if (c->line_len < sizeof(c->line) - 1)
			c->line[c->line_len++] = (char)d[i];
	}
	return len;
}

/* The oldest transaction waiting for a response; starts it at `at`. */
static int response_target(struct line_conn *c, uint64_t at)
{
	struct txn_parser *p = c->p;
	int r = txn_resp_index(p);
	if (r >= 0 && !p->q[r].resp_started) {
		p->q[r].resp_start = at;
		p->q[r].resp_end = at;
		p->q[r].resp_started = true;
		c->match = 0;
		c->line_len = 0;
		txn_emit(p, TXN_EV_RESPONSE_BEGIN, (uint32_t)r);
		txn_emit(p, TXN_EV_RESPONSE_HEAD, (uint32_t)r);
	}
	return r;
}

static void response_data(struct line_conn *c, uint64_t off, const uint8_t *d, size_t len)
{
	struct txn_parser *p = c->p;
	int mode = p->ctx->cfg.line_resp;
	size_t i = 0;

	while (i < len && !p->stopped[TXN_DIR_RESPONSE]) {
		int r = response_target(c, off + i);
		if (r < 0) {
			p->ctx->stats.unsolicited_bytes += len - i;
			return;
		}
		bool found = false;
		size_t n = len - i;
		if (mode == TXN_LINE_RESP_STRING)
			n = scan_string(c, d + i, n, &found);
		else if (mode == TXN_LINE_RESP_LINE)
			n = scan_line(c, d + i, n, &found);
		i += n;
		struct txn *t = &p->q[r];
		t->resp_body_bytes += n;
		t->resp_end = off + i;
		if (found) {
			t->resp_complete = true;
			txn_emit(p, TXN_EV_RESPONSE_END, (uint32_t)r);
			txn_try_finish(p, (uint32_t)r);
		}
	}
}

/* ---- txn_proto_ops ---- */

static int line_ctx_init(struct txn_parser_ctx *ctx, char *err, size_t errlen)
{
	const struct txn_parser_config *cfg = &ctx->cfg;
	if (cfg->line_delims_len < 1 || cfg->line_delims_len > TXN_DELIMS_MAX) {
		snprintf(err, errlen, "line_delimiters: 1..%d bytes needed", TXN_DELIMS_MAX);
		return -EINVAL;
	}
	if (cfg->line_max < 1) {
		snprintf(err, errlen, "line_max must be positive");
		return -EINVAL;
	}
	if (cfg->line_resp == TXN_LINE_RESP_STRING &&
	    (cfg->line_terminator_len < 1 || cfg->line_terminator_len > TXN_TERMINATOR_MAX)) {
		snprintf(err, errlen, "line_terminator: 1..%d bytes needed", TXN_TERMINATOR_MAX);
		return -EINVAL;
	}
	if (cfg->line_resp < TXN_LINE_RESP_NEXT_REQUEST || cfg->line_resp > TXN_LINE_RESP_LINE) {
		snprintf(err, errlen, "unknown line_response %d", cfg->line_resp);
		return -EINVAL;
	}
	struct line_shared *sh = calloc(1, sizeof(*sh));
	if (!sh) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	sh->cls[' '] = sh->cls['\t'] = sh->cls['\r'] = CLS_BLANK;
	for (uint32_t i = 0; i < cfg->line_delims_len; i++)
		sh->cls[(uint8_t)cfg->line_delims[i]] |= CLS_DELIM;
	if (cfg->line_resp == TXN_LINE_RESP_STRING) {
		const char *t = cfg->line_terminator;
		uint32_t k = 0;
		sh->fail[0] = 0;
		for (uint32_t i = 1; i < cfg->line_terminator_len; i++) {
			while (k > 0 && t[i] != t[k])
				k = sh->fail[k - 1];
			if (t[i] == t[k])
				k++;
			sh->fail[i] = (uint8_t)k;
		}
	}
	if (cfg->line_resp == TXN_LINE_RESP_LINE) {
		int rc = regcomp(&sh->re, cfg->line_pattern, REG_EXTENDED | REG_NOSUB);
		if (rc != 0) {
			char msg[160];
			regerror(rc, &sh->re, msg, sizeof(msg));
			snprintf(err, errlen, "line_pattern: %s", msg);
			free(sh);
			return -EINVAL;
		}
		sh->re_ok = true;
	}
	ctx->proto = sh;
	return 0;
}

static void line_ctx_free(struct txn_parser_ctx *ctx)
{
	struct line_shared *sh = ctx->proto;
	if (!sh)
		return;
	if (sh->re_ok)
		regfree(&sh->re);
	free(sh);
}

static int line_conn_init(struct txn_parser *p, void *st)
{
	struct line_conn *c = st;
	c->p = p;
	c->sh = p->ctx->proto;
	return c->sh ? 0 : -EINVAL;
}

static void line_data(struct txn_parser *p, void *st, enum txn_dir dir, uint64_t off,
		      const uint8_t *data, size_t len)
{
	(void)p;
	if (dir == TXN_DIR_REQUEST)
		request_data(st, off, data, len);
	else
		response_data(st, off, data, len);
}

static void line_gap(struct txn_parser *p, void *st, enum txn_dir dir, uint64_t off, uint64_t len)
{
	struct line_conn *c = st;
	if (dir == TXN_DIR_REQUEST || p->ctx->cfg.line_resp != TXN_LINE_RESP_NEXT_REQUEST) {
		txn_desync(p, dir);
		return;
	}
	/* next-request mode: response bytes are not parsed, a hole is harmless */
	p->ctx->stats.gaps_stepped++;
	int r = response_target(c, off);
	if (r < 0) {
		p->ctx->stats.unsolicited_bytes += len;
		return;
	}
	p->q[r].flags |= TXN_F_GAP_IN_BODY;
	p->q[r].resp_body_bytes += len;
	p->q[r].resp_end = off + len;
}

static void line_eof(struct txn_parser *p, void *st, enum txn_dir dir, uint64_t off)
{
	struct line_conn *c = st;
	if (dir != TXN_DIR_RESPONSE)
		return;
	if (p->ctx->cfg.line_resp == TXN_LINE_RESP_NEXT_REQUEST) {
		close_responses(c, off, true);
		return;
	}
	if (p->ctx->cfg.line_resp == TXN_LINE_RESP_LINE && c->line_len) {
		int r = txn_resp_index(p);
		if (r >= 0 && p->q[r].resp_started && line_matches(c)) {
			p->q[r].resp_complete = true;
			txn_emit(p, TXN_EV_RESPONSE_END, (uint32_t)r);
			txn_try_finish(p, (uint32_t)r);
		}
	}
}

const struct txn_proto_ops line_txn_ops = {
    .name = "line",
    .conn_size = sizeof(struct line_conn),
    .ctx_init = line_ctx_init,
    .ctx_free = line_ctx_free,
    .conn_init = line_conn_init,
    .data = line_data,
    .gap = line_gap,
    .eof = line_eof,
};
