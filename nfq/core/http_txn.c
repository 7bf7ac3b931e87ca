/* http_txn - HTTP/1.x framing for txn_parser on top of libhttp-parser
 * (see http_txn.h for why and what).
 *
 * Each direction has its own http_parser.  Every notify callback records
 * which one fired and pauses the parser, so http_parser_execute() returns
 * exactly after (or, for headers_complete, exactly before the last LF of)
 * the byte that triggered it; side_feed() then knows the event's stream
 * offset and handles it before resuming.  Data callbacks (URL, header
 * fields and values, body) only copy bounded bits or count bytes. */
#include "http_txn.h"

#include <errno.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum side_ev {
	EV_NONE,
	EV_BEGIN,
	EV_HEADERS,
	EV_CHUNK_HEADER,
	EV_CHUNK_DONE,
	EV_COMPLETE,
};

/* How the ID header is being recognised (request side). */
enum id_state {
	ID_IDLE,  /* no header seen yet in this message */
	ID_FIELD, /* inside a header name */
	ID_VALUE, /* inside a header value */
};

#define ID_VALUE_MAX 40

struct http_conn;

struct http_side {
	http_parser hp;
	struct http_conn *conn;
	enum txn_dir dir;
	enum side_ev ev;     /* the callback that paused */
	int cb_err;	     /* enum txn_err + 1 when a callback refused */
	bool in_meta;	     /* in a header section, chunk-size line or trailers */
	uint64_t meta_start; /* ... which began at this offset */
	bool chunked;	     /* the message body is chunked */
	bool trailer;	     /* after the last chunk */
	bool interim;	     /* response: the message is a 1xx */
	bool closed;	     /* a message said Connection: close (or HTTP/1.0) */
	bool cr;	     /* the last byte checked was a CR in a header section */
	uint8_t vpos;	     /* response: bytes of "HTTP/" checked */
	uint8_t tail;	     /* bytes of the CRLF after chunk data checked */
	uint64_t body_left;  /* known body bytes still to come; UINT64_MAX: until the FIN */
	uint64_t chunk_size; /* from on_chunk_header */
	/* transaction ID header (request side) */
	enum id_state id_state;
	bool id_name_match; /* the header name so far equals cfg.id_name */
	bool id_in_value;   /* the current value is the first ID header's */
	bool id_have;	    /* the first ID header's value is in id_val */
	uint32_t id_name_len;
	uint32_t id_vlen;
	char id_val[ID_VALUE_MAX];
};

struct http_conn {
	struct txn_parser *p;
	struct http_side side[2];
	size_t id_name_len; /* strlen(cfg.id_name) */
	/* client bytes after an undecided Upgrade/CONNECT request */
	bool holding;
	bool held_over;
	uint64_t held_off;
	uint8_t *held;
	size_t held_len;
};

static struct http_side *side_of(http_parser *hp)
{
	return hp->data;
}

static struct txn_parser *parser_of(const struct http_side *s)
{
	return s->conn->p;
}

/* The transaction the side's current message belongs to, or NULL. */
static struct txn *side_txn(struct http_side *s)
{
	struct txn_parser *p = parser_of(s);
	int i = s->dir == TXN_DIR_REQUEST ? txn_req_index(p) : txn_resp_index(p);
	return i < 0 ? NULL : &p->q[i];
}

static int pause_at(http_parser *hp, enum side_ev ev)
{
	side_of(hp)->ev = ev;
	http_parser_pause(hp, 1);
	return 0;
}

static int on_message_begin(http_parser *hp)
{
	return pause_at(hp, EV_BEGIN);
}

static int on_url(http_parser *hp, const char *at, size_t len)
{
	struct http_side *s = side_of(hp);
	struct txn *t = side_txn(s);
	if (t)
		txn_target_append(parser_of(s), t, at, len);
	return 0;
}

/* The ID is judged once the header section is complete, never earlier,
 * so that a request cut short by an error reports the same however the
 * bytes were split. */
static void id_evaluate(struct http_side *s)
{
	s->id_in_value = false;
	if (!s->id_have)
		return;
	struct txn_parser *p = parser_of(s);
	struct txn *t = side_txn(s);
	if (!t)
		return;
	const char *v = s->id_val;
	size_t n = s->id_vlen;
	while (n && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n <= 18 && txn_id_parse(v, n, &t->txn_id) == 0) {
		t->has_txn_id = true;
		p->ctx->stats.ids++;
	} else {
		t->flags |= TXN_F_ID_INVALID;
		p->ctx->stats.ids_invalid++;
	}
}

static int on_header_field(http_parser *hp, const char *at, size_t len)
{
	struct http_side *s = side_of(hp);
	const char *name = parser_of(s)->ctx->cfg.id_name;
	size_t want = s->conn->id_name_len;
	if (want == 0 || s->dir != TXN_DIR_REQUEST)
		return 0;
	if (s->id_state != ID_FIELD) {
		if (s->id_in_value) {
			s->id_in_value = false;
			s->id_have = true; /* the first one counts */
		}
		s->id_state = ID_FIELD;
		s->id_name_match = true;
		s->id_name_len = 0;
	}
	if (s->id_name_match) {
		if (len > want - s->id_name_len || strncasecmp(name + s->id_name_len, at, len) != 0)
			s->id_name_match = false;
		else
			s->id_name_len += (uint32_t)len;
	}
	return 0;
}

static int on_header_value(http_parser *hp, const char *at, size_t len)
{
	struct http_side *s = side_of(hp);
	if (s->conn->id_name_len == 0 || s->dir != TXN_DIR_REQUEST)
		return 0;
	if (s->id_state != ID_VALUE) {
		s->id_state = ID_VALUE;
		s->id_in_value =
		    !s->id_have && s->id_name_match && s->id_name_len == s->conn->id_name_len;
		if (s->id_in_value)
			s->id_vlen = 0;
	}
	if (s->id_in_value) {
		size_t room = sizeof(s->id_val) - s->id_vlen;
		size_t n = len < room ? len : room;
		memcpy(s->id_val + s->id_vlen, at, n);
		s->id_vlen += (uint32_t)n;
	}
	return 0;
}

static bool is_connect(const struct txn *t)
{
	return t && t->priv == (uint32_t)HTTP_CONNECT + 1;
}

static int on_headers_complete(http_parser *hp)
{
	struct http_side *s = side_of(hp);
	struct txn *t = side_txn(s);
	int rv = 0;

	if ((hp->flags & F_CONTENTLENGTH) && hp->content_length > (uint64_t)INT64_MAX) {
		s->cb_err = TXN_ERR_CONTENT_LENGTH + 1;
		return -1;
	}
	if (s->dir == TXN_DIR_RESPONSE) {
		unsigned st = hp->status_code;
		if (st >= 100 && st < 200 && st != 101) {
			s->interim = true;
			rv = 1;
		} else if (st == 101 || (is_connect(t) && st >= 200 && st < 300)) {
			rv = 2; /* no body; what follows is another protocol */
		} else if (st == 204 || st == 304 || (t && t->priv == (uint32_t)HTTP_HEAD + 1)) {
			rv = 1;
		}
	}
	if (s->id_in_value)
		s->id_have = true;
	s->id_in_value = false;
	pause_at(hp, EV_HEADERS);
	return rv;
}

static int on_body(http_parser *hp, const char *at, size_t len)
{
	struct http_side *s = side_of(hp);
	struct txn *t = side_txn(s);
	(void)at;
	if (t) {
		if (s->dir == TXN_DIR_REQUEST)
			t->req_body_bytes += len;
		else
			t->resp_body_bytes += len;
	}
	if (s->body_left != UINT64_MAX)
		s->body_left -= len < s->body_left ? len : s->body_left;
	return 0;
}

static int on_chunk_header(http_parser *hp)
{
	struct http_side *s = side_of(hp);
	if (hp->content_length > (uint64_t)INT64_MAX) {
		s->cb_err = TXN_ERR_CHUNK_SIZE + 1;
		return -1;
	}
	s->chunk_size = hp->content_length;
	return pause_at(hp, EV_CHUNK_HEADER);
}

static int on_chunk_complete(http_parser *hp)
{
	return pause_at(hp, EV_CHUNK_DONE);
}

static int on_message_complete(http_parser *hp)
{
	return pause_at(hp, EV_COMPLETE);
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
    .on_chunk_header = on_chunk_header,
    .on_chunk_complete = on_chunk_complete,
};

static void side_reset(struct http_side *s, uint64_t off)
{
	enum http_parser_type type = s->dir == TXN_DIR_REQUEST ? HTTP_REQUEST : HTTP_RESPONSE;
	http_parser_init(&s->hp, type);
	s->hp.data = s;
	s->ev = EV_NONE;
	s->cb_err = 0;
	s->in_meta = true;
	s->meta_start = off;
	s->chunked = s->trailer = s->interim = s->closed = s->cr = false;
	s->vpos = 5;
	s->body_left = 0;
}

static void side_feed(struct http_conn *c, struct http_side *s, uint64_t off, const uint8_t *data,
		      size_t len);

/* ---- events, with their exact offsets ---- */

static void request_begin(struct http_conn *c, uint64_t start)
{
	struct http_side *s = &c->side[TXN_DIR_REQUEST];
	s->id_state = ID_IDLE;
	s->id_in_value = s->id_have = false;
	txn_open(c->p, start);
}

static void request_headers(struct http_conn *c)
{
	struct txn_parser *p = c->p;
	struct http_side *s = &c->side[TXN_DIR_REQUEST];
	int i = txn_req_index(p);
	if (i < 0)
		return;
	struct txn *t = &p->q[i];
	id_evaluate(s);
	const char *m = http_method_str((enum http_method)s->hp.method);
	snprintf(t->method, sizeof(t->method), "%s", m);
	t->priv = (uint32_t)s->hp.method + 1;
	if (s->chunked)
		t->flags |= TXN_F_REQ_CHUNKED;
	if (!http_should_keep_alive(&s->hp))
		t->flags |= TXN_F_CONN_CLOSE;
	if (s->hp.upgrade)
		t->flags |= TXN_F_UPGRADE;
	txn_emit(p, TXN_EV_REQUEST_HEAD, (uint32_t)i);
}

static void request_complete(struct http_conn *c, uint64_t end)
{
	struct txn_parser *p = c->p;
	struct http_side *s = &c->side[TXN_DIR_REQUEST];
	int i = txn_req_index(p);
	if (i < 0)
		return;
	struct txn *t = &p->q[i];
	t->req_end = end;
	t->req_complete = true;
	if (!http_should_keep_alive(&s->hp))
		s->closed = true;
	if (s->hp.upgrade) {
		/* Undecided until the response: hold what the client sends. */
		t->flags |= TXN_F_UPGRADE;
		c->holding = true;
		c->held_over = false;
		c->held_off = end;
		c->held_len = 0;
	}
	txn_emit(p, TXN_EV_REQUEST_END, (uint32_t)i);
	txn_try_finish(p, (uint32_t)i);
}

static bool response_begin(struct http_conn *c, uint64_t start)
{
	struct txn_parser *p = c->p;
	int i = txn_resp_index(p);
	if (i < 0) {
		if (p->state != TXN_CONN_OK)
			txn_desync(p, TXN_DIR_RESPONSE); /* requests unknown: not guessed */
		else
			txn_fail(p, TXN_DIR_RESPONSE, TXN_ERR_UNSOLICITED);
		return false;
	}
	struct txn *t = &p->q[i];
	if (!t->resp_started) {
		t->resp_start = start;
		t->resp_started = true;
		txn_emit(p, TXN_EV_RESPONSE_BEGIN, (uint32_t)i);
	}
	return true;
}

static void response_headers(struct http_conn *c)
{
	struct txn_parser *p = c->p;
	struct http_side *s = &c->side[TXN_DIR_RESPONSE];
	int i = txn_resp_index(p);
	if (i < 0)
		return;
	struct txn *t = &p->q[i];
	if (s->interim) {
		t->interim++;
		p->ctx->stats.interim++;
		return;
	}
	t->status = (uint16_t)s->hp.status_code;
	if (s->chunked && !(s->hp.flags & F_SKIPBODY))
		t->flags |= TXN_F_RESP_CHUNKED;
	if (s->hp.flags & F_SKIPBODY)
		t->flags |= TXN_F_NO_BODY;
	if (s->body_left == UINT64_MAX)
		t->flags |= TXN_F_CLOSE_DELIMITED;
	if (!http_should_keep_alive(&s->hp))
		t->flags |= TXN_F_CONN_CLOSE;
	txn_emit(p, TXN_EV_RESPONSE_HEAD, (uint32_t)i);
}

/* The upgrade was refused: parse the held client bytes as HTTP again. */
static void resume_requests(struct http_conn *c)
{
	struct txn_parser *p = c->p;
	struct http_side *rq = &c->side[TXN_DIR_REQUEST];
	c->holding = false;
	side_reset(rq, c->held_off);
	if (c->held_over) {
		txn_desync(p, TXN_DIR_REQUEST);
		return;
	}
	uint8_t *buf = c->held;
	size_t len = c->held_len;
	c->held = NULL;
	c->held_len = 0;
	if (len && !p->stopped[TXN_DIR_REQUEST])
		side_feed(c, rq, c->held_off, buf, len);
	if (!c->held)
		c->held = buf; /* keep the buffer for the next upgrade */
	else
		free(buf);
}

static void response_complete(struct http_conn *c, uint64_t end)
{
	struct txn_parser *p = c->p;
	struct http_side *s = &c->side[TXN_DIR_RESPONSE];
	if (s->interim) {
		s->interim = false;
		return;
	}
	int i = txn_resp_index(p);
	if (i < 0)
		return;
	struct txn *t = &p->q[i];
	bool upgrade = t->flags & TXN_F_UPGRADE;
	bool switched = s->hp.upgrade;
	if (!http_should_keep_alive(&s->hp))
		s->closed = true;
	t->resp_end = end;
	t->resp_complete = true;
	if (switched)
		t->flags |= TXN_F_SWITCHED;
	txn_emit(p, TXN_EV_RESPONSE_END, (uint32_t)i);
	txn_try_finish(p, (uint32_t)i);
	if (switched)
		txn_go_opaque(p);
	else if (upgrade && c->holding)
		resume_requests(c);
}

static void handle(struct http_conn *c, struct http_side *s, enum side_ev ev, uint64_t off)
{
	struct txn_parser *p = c->p;
	bool req = s->dir == TXN_DIR_REQUEST;

	switch (ev) {
	case EV_BEGIN: /* the first byte was consumed */
		s->chunked = s->trailer = false;
		if (s->closed) {
			txn_fail(p, s->dir, TXN_ERR_AFTER_CLOSE);
			return;
		}
		if (!req)
			s->vpos = 1; /* the library checked the 'H' */
		if (req)
			request_begin(c, off - 1);
		else if (!response_begin(c, off - 1))
			return;
		break;
	case EV_HEADERS: /* the section's last LF was not consumed */
		s->chunked = s->hp.flags & F_CHUNKED;
		if (s->hp.flags & F_SKIPBODY)
			s->body_left = 0;
		else if (s->chunked)
			s->body_left = 0;
		else if (s->hp.flags & F_CONTENTLENGTH)
			s->body_left = s->hp.content_length;
		else if (!req && !s->interim)
			s->body_left = UINT64_MAX; /* until the FIN */
		else
			s->body_left = 0;
		if (s->chunked && !(s->hp.flags & F_SKIPBODY)) {
			s->meta_start = off + 1;
		} else if (s->body_left > 0) {
			s->in_meta = false;
		}
		if (req)
			request_headers(c);
		else
			response_headers(c);
		break;
	case EV_CHUNK_HEADER:
		if (s->chunk_size == 0) {
			s->trailer = true;
			s->in_meta = true;
			s->meta_start = off;
		} else {
			s->in_meta = false;
			s->body_left = s->chunk_size;
			s->tail = 0;
		}
		break;
	case EV_CHUNK_DONE:
		if (!s->trailer) {
			s->in_meta = true;
			s->meta_start = off;
		}
		break;
	case EV_COMPLETE:
		s->in_meta = true;
		s->meta_start = off;
		s->body_left = 0;
		s->chunked = s->trailer = false;
		if (req)
			request_complete(c, off);
		else
			response_complete(c, off);
		break;
	case EV_NONE:
		break;
	}
}

/* Debian builds the library with HTTP_PARSER_STRICT=0, which takes any
 * byte after a CR as the LF and does not check "HTTP/" in a status line.
 * Both matter for framing, so they are checked here on the bytes the
 * library consumed: in a header section (or chunk line, trailers) a CR
 * must be followed by LF, chunk data by CRLF, and a response must begin
 * with "HTTP/".  data_left: chunk data bytes at d before the CRLF. */
static bool strict_ok(struct http_side *s, bool meta, uint64_t data_left, const uint8_t *d,
		      size_t n)
{
	static const char version[] = "HTTP/";
	size_t i = 0;
	if (n && s->cr) {
		if (d[0] != '\n')
			return false;
		s->cr = false;
		i = 1;
	}
	for (; i < n && s->vpos < 5; i++)
		if (d[i] != (uint8_t)version[s->vpos++])
			return false;
	if (!meta) {
		if (!s->chunked || data_left >= n)
			return true;
		for (i = (size_t)data_left; i < n && s->tail < 2; i++)
			if (d[i] != (uint8_t) "\r\n"[s->tail++])
				return false;
		return true;
	}
	for (; i < n; i++) {
		if (d[i] != '\r')
			continue;
		if (i + 1 == n)
			s->cr = true;
		else if (d[i + 1] != '\n')
			return false;
	}
	return true;
}

static enum txn_err classify(const struct http_side *s, enum http_errno e)
{
	switch (e) {
	case HPE_HEADER_OVERFLOW:
		return TXN_ERR_HEADER_SIZE;
	case HPE_INVALID_CONTENT_LENGTH:
		/* the library also reports chunk-size overflow this way */
		return s->chunked ? TXN_ERR_CHUNK_SIZE : TXN_ERR_CONTENT_LENGTH;
	case HPE_UNEXPECTED_CONTENT_LENGTH:
		return TXN_ERR_CONTENT_LENGTH;
	case HPE_INVALID_CHUNK_SIZE:
		return TXN_ERR_CHUNK_SIZE;
	case HPE_CLOSED_CONNECTION:
		return TXN_ERR_AFTER_CLOSE;
	case HPE_CB_headers_complete:
	case HPE_CB_chunk_header:
		if (s->cb_err)
			return (enum txn_err)(s->cb_err - 1);
		return TXN_ERR_SYNTAX;
	default:
		return TXN_ERR_SYNTAX;
	}
}

static void hold(struct http_conn *c, const uint8_t *data, size_t len)
{
	struct txn_parser *p = c->p;
	size_t cap = (size_t)p->ctx->cfg.max_header_bytes;
	if (c->held_over)
		return;
	if (len > cap - c->held_len) {
		c->held_over = true;
		p->ctx->stats.held_overflow++;
		return;
	}
	if (!c->held) {
		c->held = malloc(cap);
		if (!c->held) {
			txn_fail(p, TXN_DIR_REQUEST, TXN_ERR_NOMEM);
			return;
		}
	}
	memcpy(c->held + c->held_len, data, len);
	c->held_len += len;
}

/* Fails a direction.  A request whose head was never complete loses its
 * target: how much of the URL the library reported before the error
 * depends on how the bytes were split, and events must not. */
static void side_fail(struct http_conn *c, struct http_side *s, enum txn_err err)
{
	struct txn_parser *p = c->p;
	struct txn *t = side_txn(s);
	if (s->dir == TXN_DIR_REQUEST && t && t->priv == 0) {
		t->target[0] = '\0';
		t->target_len = 0;
		t->flags &= ~TXN_F_TARGET_TRUNCATED;
	}
	txn_fail(p, s->dir, err);
}

static void side_feed(struct http_conn *c, struct http_side *s, uint64_t off, const uint8_t *data,
		      size_t len)
{
	struct txn_parser *p = c->p;
	uint64_t max = p->ctx->cfg.max_header_bytes;

	while (len > 0 && !p->stopped[s->dir]) {
		if (s->dir == TXN_DIR_REQUEST && c->holding) {
			hold(c, data, len);
			return;
		}
		size_t n = len;
		if (s->in_meta) {
			uint64_t used = off > s->meta_start ? off - s->meta_start : 0;
			if (used >= max) {
				side_fail(c, s, TXN_ERR_HEADER_SIZE);
				return;
			}
			if (n > max - used)
				n = (size_t)(max - used);
		}
		if (s->cr && data[0] != '\n') {
			/* before the library takes this byte as the LF */
			side_fail(c, s, TXN_ERR_SYNTAX);
			return;
		}
		s->ev = EV_NONE;
		bool meta = s->in_meta;
		uint64_t data_left = s->body_left;
		size_t got = http_parser_execute(&s->hp, &settings, (const char *)data, n);
		enum http_errno e = HTTP_PARSER_ERRNO(&s->hp);
		if (got > n)
			got = n;
		/* a pause before the LF that ends a header section: the
		 * library has seen that byte already, so check it now */
		if (!strict_ok(s, meta, data_left, data, got) ||
		    (s->cr && got < n && data[got] != '\n')) {
			side_fail(c, s, TXN_ERR_SYNTAX);
			return;
		}
		off += got;
		data += got;
		len -= got;
		if (e == HPE_PAUSED) {
			http_parser_pause(&s->hp, 0);
			handle(c, s, s->ev, off);
			continue;
		}
		if (e != HPE_OK) {
			side_fail(c, s, classify(s, e));
			return;
		}
		if (got < n) {
			/* the library stopped by itself (upgrade); cannot happen
			 * while every completion pauses first, but never spin */
			side_fail(c, s, TXN_ERR_SYNTAX);
			return;
		}
	}
}

/* ---- txn_proto_ops ---- */

static int http_ctx_init(struct txn_parser_ctx *ctx, char *err, size_t errlen)
{
	uint64_t h = ctx->cfg.max_header_bytes;
	if (h < 256 || h > HTTP_TXN_HEADER_CEILING) {
		snprintf(err, errlen, "max_header_bytes %llu out of range 256..%u",
			 (unsigned long long)h, HTTP_TXN_HEADER_CEILING);
		return -EINVAL;
	}
	return 0;
}

static int http_conn_init(struct txn_parser *p, void *st)
{
	struct http_conn *c = st;
	c->p = p;
	c->id_name_len = strlen(p->ctx->cfg.id_name);
	for (int d = 0; d < 2; d++) {
		c->side[d].conn = c;
		c->side[d].dir = (enum txn_dir)d;
		side_reset(&c->side[d], 0);
	}
	return 0;
}

static void http_conn_free(struct txn_parser *p, void *st)
{
	struct http_conn *c = st;
	(void)p;
	free(c->held);
	c->held = NULL;
}

static void http_data(struct txn_parser *p, void *st, enum txn_dir dir, uint64_t off,
		      const uint8_t *data, size_t len)
{
	struct http_conn *c = st;
	(void)p;
	side_feed(c, &c->side[dir], off, data, len);
}

static void http_gap(struct txn_parser *p, void *st, enum txn_dir dir, uint64_t off, uint64_t len)
{
	static const uint8_t zeros[4096];
	struct http_conn *c = st;
	struct http_side *s = &c->side[dir];

	if (dir == TXN_DIR_REQUEST && c->holding) {
		if (!c->held_over)
			p->ctx->stats.held_overflow++;
		c->held_over = true;
		return;
	}
	if (s->in_meta || s->body_left < len) {
		txn_desync(p, dir);
		return;
	}
	struct txn *t = side_txn(s);
	if (t)
		t->flags |= TXN_F_GAP_IN_BODY;
	p->ctx->stats.gaps_stepped++;
	if (s->body_left == UINT64_MAX) {
		if (t)
			t->resp_body_bytes += len; /* the library needs nothing */
		return;
	}
	/* Known length: let the library count the missing bytes. */
	while (len > 0 && !p->stopped[dir]) {
		size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
		side_feed(c, s, off, zeros, n);
		off += n;
		len -= n;
	}
}

static void http_eof(struct txn_parser *p, void *st, enum txn_dir dir, uint64_t off)
{
	struct http_conn *c = st;
	struct http_side *s = &c->side[dir];
	if (dir != TXN_DIR_RESPONSE || s->in_meta || s->body_left != UINT64_MAX)
		return;
	/* a close-delimited body ends here */
	s->ev = EV_NONE;
	http_parser_execute(&s->hp, &settings, NULL, 0);
	if (HTTP_PARSER_ERRNO(&s->hp) == HPE_PAUSED) {
		http_parser_pause(&s->hp, 0);
		handle(c, s, s->ev, off);
	}
	(void)p;
}

const struct txn_proto_ops http_txn_ops = {
    .name = "http",
    .conn_size = sizeof(struct http_conn),
    .ctx_init = http_ctx_init,
    .conn_init = http_conn_init,
    .conn_free = http_conn_free,
    .data = http_data,
    .gap = http_gap,
    .eof = http_eof,
};
