/* state_msg - see state_msg.h for the byte layout; this file is its only
 * encoder and decoder, written field by field (no struct overlays, so
 * alignment and padding never reach the wire). */
#include "state_msg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "packet.h"

#define PUSH_FIXED    32
#define ACK_LEN	      24
#define SAVE_FIXED    40
#define LOGGED_FIXED  8
#define QUERY_FIXED   16
#define REPLY_LEN     40
#define APPLY_UP_LEN  24
#define APPLIED_LEN   32
#define SMALL_MSG_MAX 1024 /* sealed on the stack; larger ones on the heap */

static void put64(uint8_t *p, uint64_t v)
{
	pkt_store_be32(p, (uint32_t)(v >> 32));
	pkt_store_be32(p + 4, (uint32_t)v);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)pkt_load_be32(p) << 32 | pkt_load_be32(p + 4);
}

static bool zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

const char *state_err_name(int code)
{
	static const char *const names[STATE_NERR] = {
	    "ok", "short", "version", "type", "length", "reserved", "value", "auth", "auth_type"};
	return code <= 0 && -code < STATE_NERR ? names[-code] : "?";
}

const char *state_type_name(enum state_type t)
{
	static const char *const names[STATE_NTYPES] = {"?",	  "state",  "ack",   "save",
							"logged", "query",  "reply", "apply_up_to",
							"apply",  "applied"};
	return (unsigned)t < STATE_NTYPES ? names[t] : "?";
}

static size_t body_len(const struct state_msg *m)
{
	switch (m->type) {
	case STATE_T_STATE:
	case STATE_T_APPLY:
		return PUSH_FIXED + (size_t)m->u.push.key_len + m->u.push.blob_len;
	case STATE_T_ACK:
		return ACK_LEN;
	case STATE_T_SAVE:
		return SAVE_FIXED + (size_t)m->u.save.chunk_len;
	case STATE_T_LOGGED:
		return LOGGED_FIXED + 8 * (size_t)m->u.logged.n;
	case STATE_T_QUERY:
		return QUERY_FIXED + (size_t)m->u.query.key_len;
	case STATE_T_REPLY:
		return REPLY_LEN;
	case STATE_T_APPLY_UP_TO:
		return APPLY_UP_LEN;
	case STATE_T_APPLIED:
		return APPLIED_LEN;
	}
	return 0;
}

/* The same checks the decoder makes, so that we never emit what a peer
 * would refuse. */
static bool valid(const struct state_msg *m)
{
	switch (m->type) {
	case STATE_T_STATE:
	case STATE_T_APPLY: {
		const struct state_push *p = &m->u.push;
		uint8_t allowed =
		    m->type == STATE_T_STATE ? (STATE_F_SYNC | STATE_F_DELETE) : STATE_F_DELETE;
		return !(p->flags & ~allowed) && p->key_len >= 1 && p->key_len <= STATE_KEY_MAX &&
		       p->blob_len <= STATE_BLOB_MAX && p->key && (p->blob || !p->blob_len);
	}
	case STATE_T_ACK:
		return m->u.ack.status <= STATE_ACK_REFUSED;
	case STATE_T_SAVE: {
		const struct state_save *s = &m->u.save;
		return (s->kind == STATE_AID_RESPONSE || s->kind == STATE_AID_REGEN) &&
		       s->total >= 1 && s->total <= STATE_AID_MAX && s->chunk_len >= 1 &&
		       s->chunk_len <= STATE_CHUNK_MAX && s->offset <= s->total &&
		       s->chunk_len <= s->total - s->offset && s->chunk;
	}
	case STATE_T_LOGGED:
		return m->u.logged.n >= 1 && m->u.logged.n <= STATE_LOGGED_MAX;
	case STATE_T_QUERY: {
		const struct state_query *q = &m->u.query;
		if (q->selector == STATE_SEL_CONN)
			return q->key_len == 0 && q->port != 0;
		return q->selector == STATE_SEL_SESSION && q->key_len >= 1 &&
		       q->key_len <= STATE_KEY_MAX && q->key && !q->port && !q->ipv4;
	}
	case STATE_T_REPLY:
		return m->u.reply.status <= STATE_REPLY_NO_APP &&
		       !(m->u.reply.flags & ~STATE_REPLY_F_FORCED);
	case STATE_T_APPLY_UP_TO:
		return m->u.apply_up_to.port != 0 &&
		       !(m->u.apply_up_to.flags & ~STATE_APPLY_DISCARD_AFTER) &&
		       m->u.apply_up_to.up_to <= 0xffff;
	case STATE_T_APPLIED:
		return m->u.applied.status <= 1;
	}
	return false;
}

size_t state_msg_encoded_len(const struct state_msg *m)
{
	return valid(m) ? STATE_HEADER_LEN + body_len(m) : 0;
}

static void encode_push(const struct state_push *p, uint8_t *b)
{
	put64(b, p->origin);
	put64(b + 8, p->seq);
	put64(b + 16, p->txn_id);
	b[24] = p->flags;
	b[25] = p->key_len;
	pkt_store_be16(b + 26, 0);
	pkt_store_be32(b + 28, p->blob_len);
	memcpy(b + PUSH_FIXED, p->key, p->key_len);
	if (p->blob_len)
		memcpy(b + PUSH_FIXED + p->key_len, p->blob, p->blob_len);
}

int state_msg_encode(const struct state_msg *m, uint8_t *buf, size_t cap)
{
	size_t total = state_msg_encoded_len(m);
	if (!total)
		return -EINVAL;
	if (cap < total)
		return -ENOSPC;
	memset(buf, 0, total);
	buf[0] = STATE_MSG_VERSION;
	buf[1] = (uint8_t)m->type;
	pkt_store_be32(buf + 4, (uint32_t)(total - STATE_HEADER_LEN));
	uint8_t *b = buf + STATE_HEADER_LEN;
	switch (m->type) {
	case STATE_T_STATE:
	case STATE_T_APPLY:
		encode_push(&m->u.push, b);
		break;
	case STATE_T_ACK:
		put64(b, m->u.ack.origin);
		put64(b + 8, m->u.ack.seq);
		b[16] = m->u.ack.status;
		pkt_store_be32(b + 20, m->u.ack.stored);
		break;
	case STATE_T_SAVE: {
		const struct state_save *s = &m->u.save;
		put64(b, s->origin);
		put64(b + 8, s->seq);
		put64(b + 16, s->txn_id);
		b[24] = s->kind;
		pkt_store_be32(b + 28, s->total);
		pkt_store_be32(b + 32, s->offset);
		pkt_store_be32(b + 36, s->chunk_len);
		memcpy(b + SAVE_FIXED, s->chunk, s->chunk_len);
		break;
	}
	case STATE_T_LOGGED:
		pkt_store_be16(b, m->u.logged.n);
		for (unsigned i = 0; i < m->u.logged.n; i++)
			put64(b + LOGGED_FIXED + 8 * i, m->u.logged.txn[i]);
		break;
	case STATE_T_QUERY: {
		const struct state_query *q = &m->u.query;
		put64(b, q->query_id);
		b[8] = q->selector;
		b[9] = q->key_len;
		pkt_store_be16(b + 10, q->port);
		pkt_store_be32(b + 12, q->ipv4);
		if (q->key_len)
			memcpy(b + QUERY_FIXED, q->key, q->key_len);
		break;
	}
	case STATE_T_REPLY: {
		const struct state_reply *r = &m->u.reply;
		put64(b, r->query_id);
		b[8] = r->status;
		b[9] = r->flags;
		pkt_store_be32(b + 12, r->pending);
		put64(b + 16, r->t_s);
		put64(b + 24, r->t_a);
		pkt_store_be32(b + 32, r->sessions);
		pkt_store_be32(b + 36, r->aids);
		break;
	}
	case STATE_T_APPLY_UP_TO: {
		const struct state_apply_up_to *a = &m->u.apply_up_to;
		put64(b, a->query_id);
		pkt_store_be32(b + 8, a->ipv4);
		pkt_store_be16(b + 12, a->port);
		pkt_store_be32(b + 16, a->up_to);
		b[20] = a->flags;
		break;
	}
	case STATE_T_APPLIED:
		put64(b, m->u.applied.origin);
		put64(b + 8, m->u.applied.seq);
		put64(b + 16, m->u.applied.txn_id);
		b[24] = m->u.applied.status;
		break;
	}
	return (int)total;
}

static int decode_push(const uint8_t *b, size_t len, bool is_state, struct state_push *p)
{
	if (len < PUSH_FIXED)
		return STATE_E_LENGTH;
	p->origin = get64(b);
	p->seq = get64(b + 8);
	p->txn_id = get64(b + 16);
	p->flags = b[24];
	p->key_len = b[25];
	p->blob_len = pkt_load_be32(b + 28);
	if (pkt_load_be16(b + 26))
		return STATE_E_RESERVED;
	uint8_t allowed = is_state ? (STATE_F_SYNC | STATE_F_DELETE) : STATE_F_DELETE;
	if (p->flags & ~allowed)
		return STATE_E_RESERVED;
	if (p->key_len < 1 || p->key_len > STATE_KEY_MAX || p->blob_len > STATE_BLOB_MAX)
		return STATE_E_VALUE;
	if (len != PUSH_FIXED + (size_t)p->key_len + p->blob_len)
		return STATE_E_LENGTH;
	p->key = b + PUSH_FIXED;
	p->blob = b + PUSH_FIXED + p->key_len;
	return 0;
}

static int decode_save(const uint8_t *b, size_t len, struct state_save *s)
{
	if (len < SAVE_FIXED)
		return STATE_E_LENGTH;
	s->origin = get64(b);
	s->seq = get64(b + 8);
	s->txn_id = get64(b + 16);
	s->kind = b[24];
	s->total = pkt_load_be32(b + 28);
	s->offset = pkt_load_be32(b + 32);
	s->chunk_len = pkt_load_be32(b + 36);
	if (!zero(b + 25, 3))
		return STATE_E_RESERVED;
	if (len != SAVE_FIXED + (size_t)s->chunk_len)
		return STATE_E_LENGTH;
	if ((s->kind != STATE_AID_RESPONSE && s->kind != STATE_AID_REGEN) || s->total < 1 ||
	    s->total > STATE_AID_MAX || s->chunk_len < 1 || s->chunk_len > STATE_CHUNK_MAX ||
	    s->offset > s->total || s->chunk_len > s->total - s->offset)
		return STATE_E_VALUE;
	s->chunk = b + SAVE_FIXED;
	return 0;
}

static int decode_query(const uint8_t *b, size_t len, struct state_query *q)
{
	if (len < QUERY_FIXED)
		return STATE_E_LENGTH;
	q->query_id = get64(b);
	q->selector = b[8];
	q->key_len = b[9];
	q->port = pkt_load_be16(b + 10);
	q->ipv4 = pkt_load_be32(b + 12);
	if (len != QUERY_FIXED + (size_t)q->key_len)
		return STATE_E_LENGTH;
	q->key = q->key_len ? b + QUERY_FIXED : NULL;
	if (q->selector == STATE_SEL_CONN)
		return q->key_len == 0 && q->port ? 0 : STATE_E_VALUE;
	if (q->selector != STATE_SEL_SESSION || q->key_len > STATE_KEY_MAX || !q->key_len)
		return STATE_E_VALUE;
	return q->port || q->ipv4 ? STATE_E_RESERVED : 0;
}

static int decode_body(enum state_type type, const uint8_t *b, size_t len, struct state_msg *m)
{
	switch (type) {
	case STATE_T_STATE:
	case STATE_T_APPLY:
		return decode_push(b, len, type == STATE_T_STATE, &m->u.push);
	case STATE_T_ACK:
		if (len != ACK_LEN)
			return STATE_E_LENGTH;
		if (!zero(b + 17, 3))
			return STATE_E_RESERVED;
		m->u.ack.origin = get64(b);
		m->u.ack.seq = get64(b + 8);
		m->u.ack.status = b[16];
		m->u.ack.stored = pkt_load_be32(b + 20);
		return m->u.ack.status <= STATE_ACK_REFUSED ? 0 : STATE_E_VALUE;
	case STATE_T_SAVE:
		return decode_save(b, len, &m->u.save);
	case STATE_T_LOGGED: {
		if (len < LOGGED_FIXED)
			return STATE_E_LENGTH;
		unsigned n = pkt_load_be16(b);
		if (len != LOGGED_FIXED + 8 * (size_t)n)
			return STATE_E_LENGTH;
		if (!zero(b + 2, 6))
			return STATE_E_RESERVED;
		if (n < 1 || n > STATE_LOGGED_MAX)
			return STATE_E_VALUE;
		m->u.logged.n = (uint16_t)n;
		for (unsigned i = 0; i < n; i++)
			m->u.logged.txn[i] = get64(b + LOGGED_FIXED + 8 * i);
		return 0;
	}
	case STATE_T_QUERY:
		return decode_query(b, len, &m->u.query);
	case STATE_T_REPLY: {
		struct state_reply *r = &m->u.reply;
		if (len != REPLY_LEN)
			return STATE_E_LENGTH;
		r->query_id = get64(b);
		r->status = b[8];
		r->flags = b[9];
		if (pkt_load_be16(b + 10) || (r->flags & ~STATE_REPLY_F_FORCED))
			return STATE_E_RESERVED;
		r->pending = pkt_load_be32(b + 12);
		r->t_s = get64(b + 16);
		r->t_a = get64(b + 24);
		r->sessions = pkt_load_be32(b + 32);
		r->aids = pkt_load_be32(b + 36);
		return r->status <= STATE_REPLY_NO_APP ? 0 : STATE_E_VALUE;
	}
	case STATE_T_APPLY_UP_TO: {
		struct state_apply_up_to *a = &m->u.apply_up_to;
		if (len != APPLY_UP_LEN)
			return STATE_E_LENGTH;
		a->query_id = get64(b);
		a->ipv4 = pkt_load_be32(b + 8);
		a->port = pkt_load_be16(b + 12);
		a->up_to = pkt_load_be32(b + 16);
		a->flags = b[20];
		if (pkt_load_be16(b + 14) || !zero(b + 21, 3) ||
		    (a->flags & ~STATE_APPLY_DISCARD_AFTER))
			return STATE_E_RESERVED;
		return a->port && a->up_to <= 0xffff ? 0 : STATE_E_VALUE;
	}
	case STATE_T_APPLIED:
		if (len != APPLIED_LEN)
			return STATE_E_LENGTH;
		if (!zero(b + 25, 7))
			return STATE_E_RESERVED;
		m->u.applied.origin = get64(b);
		m->u.applied.seq = get64(b + 8);
		m->u.applied.txn_id = get64(b + 16);
		m->u.applied.status = b[24];
		return m->u.applied.status <= 1 ? 0 : STATE_E_VALUE;
	}
	return STATE_E_TYPE;
}

int state_msg_decode(const uint8_t *buf, size_t len, struct state_msg *m)
{
	if (len < STATE_HEADER_LEN)
		return STATE_E_SHORT;
	if (buf[0] != STATE_MSG_VERSION)
		return STATE_E_VERSION;
	if (buf[1] < STATE_T_STATE || buf[1] >= STATE_NTYPES)
		return STATE_E_TYPE;
	if (pkt_load_be16(buf + 2))
		return STATE_E_RESERVED;
	if ((uint64_t)pkt_load_be32(buf + 4) != len - STATE_HEADER_LEN)
		return STATE_E_LENGTH;
	memset(m, 0, sizeof(*m));
	m->type = (enum state_type)buf[1];
	return decode_body(m->type, buf + STATE_HEADER_LEN, len - STATE_HEADER_LEN, m);
}

int state_msg_send(int fd, const struct sockaddr_in *to, struct auth_sender *s,
		   const struct auth_key *key, const struct state_msg *m)
{
	size_t len = state_msg_encoded_len(m);
	if (!len)
		return -EINVAL;
	uint8_t stack[2 * SMALL_MSG_MAX + AUTH_MSG_OVERHEAD];
	size_t need = 2 * len + AUTH_MSG_OVERHEAD;
	uint8_t *mem = need <= sizeof(stack) ? stack : malloc(need);
	if (!mem)
		return -ENOMEM;
	uint8_t *plain = mem, *sealed = mem + len;
	int rc = state_msg_encode(m, plain, len);
	if (rc >= 0) {
		ssize_t n = auth_msg_seal(s, key, STATE_AUTH_TYPE(m->type), plain, len, sealed,
					  len + AUTH_MSG_OVERHEAD);
		if (n < 0)
			rc = (int)n;
		else if (sendto(fd, sealed, (size_t)n, MSG_DONTWAIT, (const struct sockaddr *)to,
				sizeof(*to)) < 0)
			rc = -errno;
		else
			rc = 0;
	}
	if (mem != stack)
		free(mem);
	return rc;
}

int state_msg_open(struct auth_receiver *r, const struct auth_key *key, const void *dgram,
		   size_t len, uint64_t now_ms, struct auth_msg_view *view, struct state_msg *m)
{
	struct auth_msg_view v;
	if (auth_msg_open(r, key, dgram, len, now_ms, &v) != AUTH_OK)
		return STATE_E_AUTH;
	if (view)
		*view = v;
	int rc = state_msg_decode(v.body, v.body_len, m);
	if (rc < 0)
		return rc;
	return v.type == STATE_AUTH_TYPE(m->type) ? 0 : STATE_E_AUTH_TYPE;
}

int state_msg_send_logged(int fd, const struct sockaddr_in *agent, struct auth_sender *s,
			  const struct auth_key *key, const uint64_t *txn_ids, unsigned n)
{
	if (n < 1 || n > STATE_LOGGED_MAX)
		return -EINVAL;
	struct state_msg m = {.type = STATE_T_LOGGED};
	m.u.logged.n = (uint16_t)n;
	memcpy(m.u.logged.txn, txn_ids, n * sizeof(*txn_ids));
	return state_msg_send(fd, agent, s, key, &m);
}

static int fmt_ip(char *buf, size_t len, uint32_t ip)
{
	struct in_addr a = {.s_addr = htonl(ip)};
	char s[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &a, s, sizeof(s));
	return snprintf(buf, len, "%s", s);
}

int state_msg_format(const struct state_msg *m, char *buf, size_t len)
{
	const char *t = state_type_name(m->type);
	char ip[INET_ADDRSTRLEN];
	switch (m->type) {
	case STATE_T_STATE:
	case STATE_T_APPLY:
		return snprintf(buf, len,
				"%s origin=%" PRIu64 " seq=%" PRIu64 " txn=%016" PRIx64
				" flags=%u key_len=%u blob_len=%u",
				t, m->u.push.origin, m->u.push.seq, m->u.push.txn_id,
				m->u.push.flags, m->u.push.key_len, m->u.push.blob_len);
	case STATE_T_ACK:
		return snprintf(buf, len,
				"%s origin=%" PRIu64 " seq=%" PRIu64 " status=%u stored=%u", t,
				m->u.ack.origin, m->u.ack.seq, m->u.ack.status, m->u.ack.stored);
	case STATE_T_SAVE:
		return snprintf(buf, len,
				"%s origin=%" PRIu64 " seq=%" PRIu64 " txn=%016" PRIx64
				" kind=%u total=%u offset=%u len=%u",
				t, m->u.save.origin, m->u.save.seq, m->u.save.txn_id,
				m->u.save.kind, m->u.save.total, m->u.save.offset,
				m->u.save.chunk_len);
	case STATE_T_LOGGED:
		return snprintf(buf, len, "%s n=%u first=%016" PRIx64, t, m->u.logged.n,
				m->u.logged.txn[0]);
	case STATE_T_QUERY:
		fmt_ip(ip, sizeof(ip), m->u.query.ipv4);
		return snprintf(buf, len, "%s query=%" PRIu64 " selector=%u conn=%s:%u key_len=%u",
				t, m->u.query.query_id, m->u.query.selector, ip, m->u.query.port,
				m->u.query.key_len);
	case STATE_T_REPLY:
		return snprintf(buf, len,
				"%s query=%" PRIu64 " status=%u flags=%u pending=%u t_s=%016" PRIx64
				" t_a=%016" PRIx64 " sessions=%u aids=%u",
				t, m->u.reply.query_id, m->u.reply.status, m->u.reply.flags,
				m->u.reply.pending, m->u.reply.t_s, m->u.reply.t_a,
				m->u.reply.sessions, m->u.reply.aids);
	case STATE_T_APPLY_UP_TO:
		fmt_ip(ip, sizeof(ip), m->u.apply_up_to.ipv4);
		return snprintf(buf, len, "%s query=%" PRIu64 " conn=%s:%u up_to=%u flags=%u", t,
				m->u.apply_up_to.query_id, ip, m->u.apply_up_to.port,
				m->u.apply_up_to.up_to, m->u.apply_up_to.flags);
	case STATE_T_APPLIED:
		return snprintf(
		    buf, len, "%s origin=%" PRIu64 " seq=%" PRIu64 " txn=%016" PRIx64 " status=%u",
		    t, m->u.applied.origin, m->u.applied.seq, m->u.applied.txn_id,
		    m->u.applied.status);
	}
	return snprintf(buf, len, "?");
}
