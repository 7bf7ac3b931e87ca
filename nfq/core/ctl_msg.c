/* ctl_msg - see ctl_msg.h for the byte layout; this file is its only
 * encoder and decoder, written field by field (no struct overlays, so
 * alignment and padding never reach the wire). */
#include "ctl_msg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define FAILED_LEN    72
#define RECOVERED_LEN 32
#define QUERY_LEN     40
#define REPLY_FIXED   56
#define BYTES_Q_LEN   44
#define AUX_LEN	      24

static void put8(uint8_t *p, uint8_t v)
{
	p[0] = v;
}
static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}
static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}
/* An address already in network order goes out byte for byte. */
static void put_ip(uint8_t *p, uint32_t ip_net)
{
	memcpy(p, &ip_net, 4);
}
static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}
static uint32_t get32(const uint8_t *p)
{
	return ((uint32_t)get16(p) << 16) | get16(p + 2);
}
static uint64_t get64(const uint8_t *p)
{
	return ((uint64_t)get32(p) << 32) | get32(p + 4);
}
static uint32_t get_ip(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* The first 28 bytes of both queries name the connection the same way. */
struct conn_ref {
	uint64_t *query_id, *conn_id;
	uint32_t *client_ip, *server_ip;
	uint16_t *client_port, *server_port;
};
#define CONN_REF(q)                                                                                \
	((struct conn_ref){&(q)->query_id, &(q)->conn_id, &(q)->client_ip, &(q)->server_ip,        \
			   &(q)->client_port, &(q)->server_port})

static void put_conn_ref(uint8_t *b, struct conn_ref r)
{
	put64(b, *r.query_id);
	put64(b + 8, *r.conn_id);
	put_ip(b + 16, *r.client_ip);
	put_ip(b + 20, *r.server_ip);
	put16(b + 24, *r.client_port);
	put16(b + 26, *r.server_port);
}

static void get_conn_ref(const uint8_t *b, struct conn_ref r)
{
	*r.query_id = get64(b);
	*r.conn_id = get64(b + 8);
	*r.client_ip = get_ip(b + 16);
	*r.server_ip = get_ip(b + 20);
	*r.client_port = get16(b + 24);
	*r.server_port = get16(b + 26);
}

const char *ctl_err_name(int code)
{
	static const char *const names[CTL_NERR] = {"ok",     "short",	  "version", "type",
						    "length", "reserved", "value"};
	return code <= 0 && -code < CTL_NERR ? names[-code] : "?";
}

const char *ctl_type_name(enum ctl_type t)
{
	switch (t) {
	case CTL_BACKEND_FAILED:
		return "backend_failed";
	case CTL_BACKEND_RECOVERED:
		return "backend_recovered";
	case CTL_CONN_QUERY:
		return "conn_query";
	case CTL_CONN_REPLY:
		return "conn_reply";
	case CTL_BYTES_QUERY:
		return "bytes_query";
	case CTL_BYTES_REPLY:
		return "bytes_reply";
	case CTL_AUX_DIVERT:
		return "aux_divert";
	}
	return "?";
}

static const char *cause_name(uint8_t c)
{
	switch (c) {
	case CTL_CAUSE_CONFIRM_TIMEOUT:
		return "confirm_timeout";
	case CTL_CAUSE_PROBE_FAILED:
		return "probe_failed";
	case CTL_CAUSE_IDLE_PROBE:
		return "idle_probe";
	case CTL_CAUSE_MANUAL:
		return "manual";
	}
	return "?";
}

static const char *status_name(uint8_t s)
{
	static const char *const names[] = {"ok", "unknown_conn", "busy", "unsupported",
					    "not_held"};
	return s <= CTL_STATUS_NOT_HELD ? names[s] : "?";
}

static const char *stream_name(uint8_t s)
{
	return s == CTL_STREAM_SERVER ? "server" : s == CTL_STREAM_CLIENT ? "client" : "?";
}

static size_t body_len(const struct ctl_msg *m)
{
	switch (m->type) {
	case CTL_BACKEND_FAILED:
		return FAILED_LEN;
	case CTL_BACKEND_RECOVERED:
		return RECOVERED_LEN;
	case CTL_CONN_QUERY:
		return QUERY_LEN;
	case CTL_CONN_REPLY:
		return REPLY_FIXED + (size_t)m->u.reply.ntxn * CTL_TXN_ENTRY_LEN;
	case CTL_BYTES_QUERY:
		return BYTES_Q_LEN;
	case CTL_BYTES_REPLY:
		return CTL_BYTES_FIXED + (size_t)m->u.bytes_reply.n;
	case CTL_AUX_DIVERT:
		return AUX_LEN;
	}
	return 0;
}

/* The checks the decoder makes, on the struct side. */
static bool valid(const struct ctl_msg *m)
{
	switch (m->type) {
	case CTL_BACKEND_FAILED: {
		const struct ctl_backend_failed *f = &m->u.failed;
		return f->port != 0 && f->cause >= CTL_CAUSE_CONFIRM_TIMEOUT &&
		       f->cause <= CTL_CAUSE_MANUAL;
	}
	case CTL_BACKEND_RECOVERED:
		return m->u.recovered.port != 0;
	case CTL_CONN_QUERY: {
		const struct ctl_conn_query *q = &m->u.query;
		return q->max_txns >= 1 && q->max_txns <= CTL_REPLY_MAX_TXNS &&
		       !(q->flags & ~(CTL_QUERY_MARKS | CTL_QUERY_TXNS));
	}
	case CTL_CONN_REPLY: {
		const struct ctl_conn_reply *r = &m->u.reply;
		if (r->ntxn > CTL_REPLY_MAX_TXNS || r->status > CTL_STATUS_UNSUPPORTED ||
		    (r->flags & ~(CTL_REPLY_MORE | CTL_REPLY_MARKS)))
			return false;
		for (unsigned i = 0; i < r->ntxn; i++)
			if (r->txn[i].state & ~0xFu)
				return false;
		return true;
	}
	case CTL_BYTES_QUERY: {
		const struct ctl_bytes_query *q = &m->u.bytes_query;
		return q->stream <= CTL_STREAM_CLIENT && q->length >= 1 &&
		       q->length <= CTL_BYTES_MAX;
	}
	case CTL_BYTES_REPLY: {
		const struct ctl_bytes_reply *r = &m->u.bytes_reply;
		return r->stream <= CTL_STREAM_CLIENT && r->status <= CTL_STATUS_NOT_HELD &&
		       r->n <= CTL_BYTES_MAX;
	}
	case CTL_AUX_DIVERT: {
		/* a START lives at most the ttl; an END carries none */
		const struct ctl_aux_divert *a = &m->u.aux;
		return a->alternate_ip != 0 && ((a->op == CTL_AUX_START && a->ttl_ms >= 1 &&
						 a->ttl_ms <= CTL_AUX_TTL_MAX_MS) ||
						(a->op == CTL_AUX_END && a->ttl_ms == 0));
	}
	}
	return false;
}

int ctl_msg_encode(const struct ctl_msg *m, uint8_t *buf, size_t cap)
{
	if (!valid(m))
		return -EINVAL;
	size_t blen = body_len(m);
	if (cap < CTL_HEADER_LEN + blen)
		return -ENOSPC;
	memset(buf, 0, CTL_HEADER_LEN + blen);
	put8(buf, CTL_MSG_VERSION);
	put8(buf + 1, (uint8_t)m->type);
	put16(buf + 2, (uint16_t)blen);
	uint8_t *b = buf + CTL_HEADER_LEN;
	switch (m->type) {
	case CTL_BACKEND_FAILED: {
		const struct ctl_backend_failed *f = &m->u.failed;
		put_ip(b, f->ip);
		put16(b + 4, f->port);
		put8(b + 6, f->cause);
		put8(b + 7, f->has_txn ? 1 : 0);
		put64(b + 8, f->event_id);
		put64(b + 16, f->detected_us);
		put64(b + 24, f->latency_us);
		put64(b + 32, f->oldest_txn_id);
		put64(b + 40, f->oldest_conn_id);
		put32(b + 48, f->conns_affected);
		put32(b + 52, f->conns_waiting);
		put32(b + 56, f->txns_outstanding);
		put32(b + 60, f->timeout_us);
		put64(b + 64, f->suspect_us);
		break;
	}
	case CTL_BACKEND_RECOVERED: {
		const struct ctl_backend_recovered *r = &m->u.recovered;
		put_ip(b, r->ip);
		put16(b + 4, r->port);
		put64(b + 8, r->event_id);
		put64(b + 16, r->recovered_us);
		put64(b + 24, r->down_us);
		break;
	}
	case CTL_CONN_QUERY: {
		/* a copy: CONN_REF takes writable fields */
		struct ctl_conn_query q0 = m->u.query, *q = &q0;
		put_conn_ref(b, CONN_REF(q));
		put32(b + 28, q->first_ordinal);
		put16(b + 32, q->max_txns);
		put16(b + 34, q->flags);
		break;
	}
	case CTL_CONN_REPLY: {
		const struct ctl_conn_reply *r = &m->u.reply;
		put64(b, r->query_id);
		put64(b + 8, r->conn_id);
		put8(b + 16, r->status);
		put8(b + 17, r->flags);
		put16(b + 18, r->ntxn);
		put64(b + 24, r->ack_cl);
		put64(b + 32, r->last_server_byte);
		put64(b + 40, r->last_client_byte);
		put32(b + 48, r->client_isn);
		put32(b + 52, r->server_isn);
		for (unsigned i = 0; i < r->ntxn; i++) {
			const struct ctl_txn_entry *t = &r->txn[i];
			uint8_t *e = b + REPLY_FIXED + i * CTL_TXN_ENTRY_LEN;
			put64(e, t->txn_id);
			put32(e + 8, t->ordinal);
			put8(e + 12, t->state);
			put8(e + 13, t->tags);
			put64(e + 16, t->req_start);
			put64(e + 24, t->req_end);
			put64(e + 32, t->resp_start);
			put64(e + 40, t->resp_end);
		}
		break;
	}
	case CTL_BYTES_QUERY: {
		struct ctl_bytes_query q0 = m->u.bytes_query, *q = &q0; /* a copy, as above */
		put_conn_ref(b, CONN_REF(q));
		put8(b + 28, q->stream);
		put64(b + 32, q->offset);
		put32(b + 40, q->length);
		break;
	}
	case CTL_BYTES_REPLY: {
		const struct ctl_bytes_reply *r = &m->u.bytes_reply;
		put64(b, r->query_id);
		put64(b + 8, r->conn_id);
		put8(b + 16, r->status);
		put8(b + 17, r->stream);
		put16(b + 18, r->n);
		put64(b + 24, r->offset);
		memcpy(b + CTL_BYTES_FIXED, r->data, r->n);
		break;
	}
	case CTL_AUX_DIVERT: {
		const struct ctl_aux_divert *a = &m->u.aux;
		put_ip(b, a->alternate_ip);
		put8(b + 4, a->op);
		put64(b + 8, a->job_id);
		put32(b + 16, a->ttl_ms);
		break;
	}
	}
	return (int)(CTL_HEADER_LEN + blen);
}

static bool zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

int ctl_msg_decode(const uint8_t *buf, size_t len, struct ctl_msg *m)
{
	if (len < CTL_HEADER_LEN)
		return CTL_E_SHORT;
	if (buf[0] != CTL_MSG_VERSION)
		return CTL_E_VERSION;
	uint8_t type = buf[1];
	size_t blen = get16(buf + 2);
	if (blen != len - CTL_HEADER_LEN)
		return CTL_E_LENGTH;
	const uint8_t *b = buf + CTL_HEADER_LEN;
	memset(m, 0, sizeof(*m));
	switch (type) {
	case CTL_BACKEND_FAILED: {
		if (blen != FAILED_LEN)
			return CTL_E_LENGTH;
		struct ctl_backend_failed *f = &m->u.failed;
		if (b[7] & ~1u)
			return CTL_E_RESERVED;
		f->ip = get_ip(b);
		f->port = get16(b + 4);
		f->cause = b[6];
		f->has_txn = b[7] & 1u;
		f->event_id = get64(b + 8);
		f->detected_us = get64(b + 16);
		f->latency_us = get64(b + 24);
		f->oldest_txn_id = get64(b + 32);
		f->oldest_conn_id = get64(b + 40);
		f->conns_affected = get32(b + 48);
		f->conns_waiting = get32(b + 52);
		f->txns_outstanding = get32(b + 56);
		f->timeout_us = get32(b + 60);
		f->suspect_us = get64(b + 64);
		break;
	}
	case CTL_BACKEND_RECOVERED: {
		if (blen != RECOVERED_LEN)
			return CTL_E_LENGTH;
		if (!zero(b + 6, 2))
			return CTL_E_RESERVED;
		struct ctl_backend_recovered *r = &m->u.recovered;
		r->ip = get_ip(b);
		r->port = get16(b + 4);
		r->event_id = get64(b + 8);
		r->recovered_us = get64(b + 16);
		r->down_us = get64(b + 24);
		break;
	}
	case CTL_CONN_QUERY: {
		if (blen != QUERY_LEN)
			return CTL_E_LENGTH;
		if (!zero(b + 36, 4) || (get16(b + 34) & ~(CTL_QUERY_MARKS | CTL_QUERY_TXNS)))
			return CTL_E_RESERVED;
		struct ctl_conn_query *q = &m->u.query;
		get_conn_ref(b, CONN_REF(q));
		q->first_ordinal = get32(b + 28);
		q->max_txns = get16(b + 32);
		q->flags = get16(b + 34);
		break;
	}
	case CTL_CONN_REPLY: {
		if (blen < REPLY_FIXED)
			return CTL_E_LENGTH;
		struct ctl_conn_reply *r = &m->u.reply;
		r->ntxn = get16(b + 18);
		if (r->ntxn > CTL_REPLY_MAX_TXNS)
			return CTL_E_VALUE;
		if (blen != REPLY_FIXED + (size_t)r->ntxn * CTL_TXN_ENTRY_LEN)
			return CTL_E_LENGTH;
		if (!zero(b + 20, 4) || (b[17] & ~(CTL_REPLY_MORE | CTL_REPLY_MARKS)))
			return CTL_E_RESERVED;
		r->query_id = get64(b);
		r->conn_id = get64(b + 8);
		r->status = b[16];
		r->flags = b[17];
		r->ack_cl = get64(b + 24);
		r->last_server_byte = get64(b + 32);
		r->last_client_byte = get64(b + 40);
		r->client_isn = get32(b + 48);
		r->server_isn = get32(b + 52);
		for (unsigned i = 0; i < r->ntxn; i++) {
			const uint8_t *e = b + REPLY_FIXED + i * CTL_TXN_ENTRY_LEN;
			struct ctl_txn_entry *t = &r->txn[i];
			if (!zero(e + 14, 2) || (e[12] & ~0xFu))
				return CTL_E_RESERVED;
			t->txn_id = get64(e);
			t->ordinal = get32(e + 8);
			t->state = e[12];
			t->tags = e[13];
			t->req_start = get64(e + 16);
			t->req_end = get64(e + 24);
			t->resp_start = get64(e + 32);
			t->resp_end = get64(e + 40);
		}
		break;
	}
	case CTL_BYTES_QUERY: {
		if (blen != BYTES_Q_LEN)
			return CTL_E_LENGTH;
		if (!zero(b + 29, 3))
			return CTL_E_RESERVED;
		struct ctl_bytes_query *q = &m->u.bytes_query;
		get_conn_ref(b, CONN_REF(q));
		q->stream = b[28];
		q->offset = get64(b + 32);
		q->length = get32(b + 40);
		break;
	}
	case CTL_BYTES_REPLY: {
		if (blen < CTL_BYTES_FIXED)
			return CTL_E_LENGTH;
		struct ctl_bytes_reply *r = &m->u.bytes_reply;
		r->n = get16(b + 18);
		if (r->n > CTL_BYTES_MAX)
			return CTL_E_VALUE;
		if (blen != CTL_BYTES_FIXED + (size_t)r->n)
			return CTL_E_LENGTH;
		if (!zero(b + 20, 4))
			return CTL_E_RESERVED;
		r->query_id = get64(b);
		r->conn_id = get64(b + 8);
		r->status = b[16];
		r->stream = b[17];
		r->offset = get64(b + 24);
		memcpy(r->data, b + CTL_BYTES_FIXED, r->n);
		break;
	}
	case CTL_AUX_DIVERT: {
		if (blen != AUX_LEN)
			return CTL_E_LENGTH;
		if (!zero(b + 5, 3) || !zero(b + 20, 4))
			return CTL_E_RESERVED;
		struct ctl_aux_divert *a = &m->u.aux;
		a->alternate_ip = get_ip(b);
		a->op = b[4];
		a->job_id = get64(b + 8);
		a->ttl_ms = get32(b + 16);
		break;
	}
	default:
		return CTL_E_TYPE;
	}
	m->type = (enum ctl_type)type;
	return valid(m) ? 0 : CTL_E_VALUE;
}

static const char *ipstr(uint32_t ip_net, char *buf)
{
	struct in_addr a = {.s_addr = ip_net};
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* snprintf that appends at *off and keeps the total like snprintf. */
static void app(char *buf, size_t len, int *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void app(char *buf, size_t len, int *off, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t o = (size_t)*off;
	int n = vsnprintf(o < len ? buf + o : NULL, o < len ? len - o : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off += n;
}

int ctl_msg_format(const struct ctl_msg *m, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN], c[INET_ADDRSTRLEN];
	int off = 0;
	if (len)
		buf[0] = '\0';
	app(buf, len, &off, "%s", ctl_type_name(m->type));
	switch (m->type) {
	case CTL_BACKEND_FAILED: {
		const struct ctl_backend_failed *f = &m->u.failed;
		app(buf, len, &off,
		    " backend=%s:%u cause=%s event=%" PRIu64 " detected_us=%" PRIu64
		    " latency_us=%" PRIu64 " suspect_us=%" PRIu64 " timeout_us=%" PRIu32,
		    ipstr(f->ip, a), f->port, cause_name(f->cause), f->event_id, f->detected_us,
		    f->latency_us, f->suspect_us, f->timeout_us);
		if (f->has_txn)
			app(buf, len, &off, " oldest_txn=%" PRIu64 " oldest_conn=%" PRIu64,
			    f->oldest_txn_id, f->oldest_conn_id);
		app(buf, len, &off,
		    " conns_affected=%" PRIu32 " conns_waiting=%" PRIu32
		    " txns_outstanding=%" PRIu32,
		    f->conns_affected, f->conns_waiting, f->txns_outstanding);
		break;
	}
	case CTL_BACKEND_RECOVERED: {
		const struct ctl_backend_recovered *r = &m->u.recovered;
		app(buf, len, &off,
		    " backend=%s:%u event=%" PRIu64 " recovered_us=%" PRIu64 " down_us=%" PRIu64,
		    ipstr(r->ip, a), r->port, r->event_id, r->recovered_us, r->down_us);
		break;
	}
	case CTL_CONN_QUERY: {
		const struct ctl_conn_query *q = &m->u.query;
		app(buf, len, &off,
		    " query=%" PRIu64 " conn=%" PRIu64 " client=%s:%u server=%s:%u first=%" PRIu32
		    " max=%u flags=%u",
		    q->query_id, q->conn_id, ipstr(q->client_ip, a), q->client_port,
		    ipstr(q->server_ip, c), q->server_port, q->first_ordinal, q->max_txns,
		    q->flags);
		break;
	}
	case CTL_CONN_REPLY: {
		const struct ctl_conn_reply *r = &m->u.reply;
		app(buf, len, &off,
		    " query=%" PRIu64 " conn=%" PRIu64 " status=%s more=%u ack_cl=%" PRIu64
		    " last_server_byte=%" PRIu64 " last_client_byte=%" PRIu64 " client_isn=%" PRIu32
		    " server_isn=%" PRIu32 " ntxn=%u",
		    r->query_id, r->conn_id, status_name(r->status), r->flags & CTL_REPLY_MORE,
		    r->ack_cl, r->last_server_byte, r->last_client_byte, r->client_isn,
		    r->server_isn, r->ntxn);
		for (unsigned i = 0; i < r->ntxn; i++) {
			const struct ctl_txn_entry *t = &r->txn[i];
			app(buf, len, &off,
			    " txn=%" PRIu64 ":%" PRIu32 ":%u:%u:%" PRIu64 "-%" PRIu64 ":%" PRIu64
			    "-%" PRIu64,
			    t->txn_id, t->ordinal, t->state, t->tags, t->req_start, t->req_end,
			    t->resp_start, t->resp_end);
		}
		break;
	}
	case CTL_BYTES_QUERY: {
		const struct ctl_bytes_query *q = &m->u.bytes_query;
		app(buf, len, &off,
		    " query=%" PRIu64 " conn=%" PRIu64 " client=%s:%u server=%s:%u stream=%s"
		    " offset=%" PRIu64 " length=%" PRIu32,
		    q->query_id, q->conn_id, ipstr(q->client_ip, a), q->client_port,
		    ipstr(q->server_ip, c), q->server_port, stream_name(q->stream), q->offset,
		    q->length);
		break;
	}
	case CTL_BYTES_REPLY: {
		const struct ctl_bytes_reply *r = &m->u.bytes_reply;
		app(buf, len, &off,
		    " query=%" PRIu64 " conn=%" PRIu64 " status=%s stream=%s offset=%" PRIu64
		    " n=%u",
		    r->query_id, r->conn_id, status_name(r->status), stream_name(r->stream),
		    r->offset, r->n);
		break;
	}
	case CTL_AUX_DIVERT: {
		const struct ctl_aux_divert *x = &m->u.aux;
		app(buf, len, &off, " alternate=%s op=%s job=%" PRIu64 " ttl_ms=%" PRIu32,
		    ipstr(x->alternate_ip, a),
		    x->op == CTL_AUX_START ? "start"
		    : x->op == CTL_AUX_END ? "end"
					   : "?",
		    x->job_id, x->ttl_ms);
		break;
	}
	}
	return off;
}
