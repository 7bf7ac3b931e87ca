/* tx_proto - see tx_proto.h. */
#include "tx_proto.h"

#include <errno.h>
#include <string.h>

#include "packet.h"

static const char *const op_names[] = {
    [TX_START] = "start",
    [TX_COMMIT] = "commit",
    [TX_ABORT] = "abort",
    [TX_RESTART] = "restart",
};

const char *tx_op_name(int op)
{
	switch (op) {
	case TX_START:
	case TX_COMMIT:
	case TX_ABORT:
	case TX_RESTART:
		return op_names[op];
	case TX_HELLO:
		return "hello";
	case TX_SUCCESS:
		return "success";
	case TX_FAILURE:
		return "failure";
	default:
		return "unknown";
	}
}

static const char *const reason_names[TX_NREASONS] = {
    "none",    "auth",	     "session",	    "malformed", "unknown_conn", "busy",     "state",
    "offsets", "held_limit", "saved_limit", "nomem",	 "closed",	 "ctl_lost",
};

const char *tx_reason_name(int reason)
{
	if (reason < 0)
		reason = -reason;
	return reason < TX_NREASONS ? reason_names[reason] : "unknown";
}

static void store_be64(uint8_t *b, uint64_t v)
{
	pkt_store_be32(b, (uint32_t)(v >> 32));
	pkt_store_be32(b + 4, (uint32_t)v);
}

static uint64_t load_be64(const uint8_t *b)
{
	return (uint64_t)pkt_load_be32(b) << 32 | pkt_load_be32(b + 4);
}

/* Body layout (big endian):
 *   0 u8 op   1 u8 version   2 u16 reason   4 u32 req_id   8 u64 session
 *  16 u32 peer_addr  20 u32 server_addr  24 u16 peer_port  26 u16 server_port
 *  28 u32 txn  32 u64 in_start  40 u64 in_end  48 u64 out_start  56 u64 out_end */
void tx_encode(const struct tx_msg *m, uint8_t body[TX_BODY_LEN])
{
	memset(body, 0, TX_BODY_LEN);
	body[0] = m->op;
	body[1] = TX_PROTO_VERSION;
	pkt_store_be16(body + 2, m->reason);
	pkt_store_be32(body + 4, m->req_id);
	store_be64(body + 8, m->session);
	pkt_store_be32(body + 16, m->conn.peer_addr);
	pkt_store_be32(body + 20, m->conn.server_addr);
	pkt_store_be16(body + 24, m->conn.peer_port);
	pkt_store_be16(body + 26, m->conn.server_port);
	pkt_store_be32(body + 28, m->txn);
	store_be64(body + 32, m->in_start);
	store_be64(body + 40, m->in_end);
	store_be64(body + 48, m->out_start);
	store_be64(body + 56, m->out_end);
}

static bool op_known(uint8_t op)
{
	return (op >= TX_START && op <= TX_RESTART) || op == TX_HELLO || op == TX_SUCCESS ||
	       op == TX_FAILURE;
}

int tx_decode(const uint8_t *body, size_t len, struct tx_msg *m)
{
	memset(m, 0, sizeof(*m));
	if (len != TX_BODY_LEN || body[1] != TX_PROTO_VERSION || !op_known(body[0]))
		return -EBADMSG;
	m->op = body[0];
	m->reason = pkt_load_be16(body + 2);
	m->req_id = pkt_load_be32(body + 4);
	m->session = load_be64(body + 8);
	m->conn.peer_addr = pkt_load_be32(body + 16);
	m->conn.server_addr = pkt_load_be32(body + 20);
	m->conn.peer_port = pkt_load_be16(body + 24);
	m->conn.server_port = pkt_load_be16(body + 26);
	m->txn = pkt_load_be32(body + 28);
	m->in_start = load_be64(body + 32);
	m->in_end = load_be64(body + 40);
	m->out_start = load_be64(body + 48);
	m->out_end = load_be64(body + 56);
	if (m->reason >= TX_NREASONS || (m->reason != 0 && m->op != TX_FAILURE))
		goto bad;
	if ((m->op == TX_COMMIT || m->op == TX_ABORT) &&
	    (m->in_end < m->in_start || m->out_end < m->out_start))
		goto bad;
	return 0;
bad:
	memset(m, 0, sizeof(*m));
	return -EBADMSG;
}

ssize_t tx_seal(struct auth_sender *s, const struct auth_key *key, const struct tx_msg *m,
		void *out, size_t cap)
{
	uint8_t body[TX_BODY_LEN];
	tx_encode(m, body);
	return auth_msg_seal(s, key, TX_AUTH_TYPE(m->op), body, sizeof(body), out, cap);
}

ssize_t tx_frame_len(const uint8_t *buf, size_t have)
{
	if (have < TX_FRAME_HEADER)
		return 0;
	if (pkt_load_be32(buf) != AUTH_MSG_MAGIC || buf[4] != AUTH_MSG_VERSION || buf[5] != 0)
		return -EBADMSG;
	uint32_t body = pkt_load_be32(buf + 36);
	if (body > TX_FRAME_MAX - AUTH_MSG_OVERHEAD)
		return -EBADMSG;
	return (ssize_t)(AUTH_MSG_OVERHEAD + body);
}

int tx_open(struct auth_receiver *r, const struct auth_key *key, const void *frame, size_t len,
	    uint64_t now_ms, struct tx_msg *m, int *auth_rc)
{
	struct auth_msg_view v;
	int rc = auth_msg_open(r, key, frame, len, now_ms, &v);
	if (auth_rc)
		*auth_rc = rc;
	memset(m, 0, sizeof(*m));
	if (rc != AUTH_OK)
		return -TX_R_AUTH;
	if (tx_decode(v.body, v.body_len, m) < 0 || TX_AUTH_TYPE(m->op) != v.type) {
		memset(m, 0, sizeof(*m));
		return -TX_R_MALFORMED;
	}
	return 0;
}

void tx_reply(const struct tx_msg *req, int reason, struct tx_msg *ans)
{
	*ans = *req;
	if (reason < 0)
		reason = -reason;
	ans->op = reason ? TX_FAILURE : TX_SUCCESS;
	ans->reason = (uint16_t)reason;
}

size_t tx_reader_feed(struct tx_reader *rd, const uint8_t *data, size_t len)
{
	size_t room = sizeof(rd->buf) - rd->have;
	size_t n = len < room ? len : room;
	memcpy(rd->buf + rd->have, data, n);
	rd->have += n;
	return n;
}

ssize_t tx_reader_next(struct tx_reader *rd, const uint8_t **frame)
{
	ssize_t need = tx_frame_len(rd->buf, rd->have);
	if (need <= 0)
		return need;
	if ((size_t)need > rd->have)
		return 0;
	*frame = rd->buf;
	return need;
}

void tx_reader_consume(struct tx_reader *rd, size_t len)
{
	if (len >= rd->have) {
		rd->have = 0;
		return;
	}
	memmove(rd->buf, rd->buf + len, rd->have - len);
	rd->have -= len;
}
