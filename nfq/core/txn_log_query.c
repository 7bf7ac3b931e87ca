/* txn_log_query - see txn_log_query.h. */
#include "txn_log_query.h"

#include <arpa/inet.h>
#include <string.h>

#include "txn_parser.h"

/* A connection named by conn id, else by its 4-tuple (either direction). */
static const struct txn_log_conn *find_conn(struct txn_log *tl, uint64_t conn_id,
					    uint32_t client_ip, uint16_t client_port,
					    uint32_t server_ip, uint16_t server_port)
{
	if (conn_id)
		return txn_log_conn_by_id(tl, (int64_t)conn_id);
	return txn_log_conn_by_tuple(tl, ntohl(client_ip), client_port, ntohl(server_ip),
				     server_port);
}

static uint8_t entry_state(uint32_t bs_flags)
{
	uint8_t s = 0;
	if (bs_flags & BS_TXN_REQ_DONE)
		s |= CTL_TXN_REQ_DONE;
	if (bs_flags & BS_TXN_RESP_STARTED)
		s |= CTL_TXN_RESP_BEGUN;
	if (bs_flags & BS_TXN_RESP_DONE)
		s |= CTL_TXN_RESP_DONE;
	else if (bs_flags & BS_TXN_ENDED)
		s |= CTL_TXN_ENDED;
	return s;
}

/* The index is updated at a transaction's milestones; an open one's live
 * state (a response in progress) is newer. */
static int refresh_open(void *ctx, const struct txn_log_txn *t)
{
	struct ctl_conn_reply *out = ctx;
	for (unsigned i = 0; i < out->ntxn; i++) {
		struct ctl_txn_entry *e = &out->txn[i];
		if (e->ordinal != t->ordinal)
			continue;
		e->state = (uint8_t)((t->req_done ? CTL_TXN_REQ_DONE : 0) |
				     (t->resp_started ? CTL_TXN_RESP_BEGUN : 0) |
				     (t->resp_done ? CTL_TXN_RESP_DONE : 0));
		e->tags = (uint8_t)t->tags;
		e->req_start = t->req_start;
		e->req_end = t->req_done ? t->req_end : 0;
		e->resp_start = t->resp_start;
		e->resp_end = t->resp_end;
	}
	return 0;
}

void txn_log_answer_conn(struct txn_log *tl, const struct ctl_conn_query *q,
			 struct ctl_conn_reply *out)
{
	memset(out, 0, sizeof(*out));
	out->query_id = q->query_id;
	out->conn_id = q->conn_id;
	const struct txn_log_conn *c =
	    find_conn(tl, q->conn_id, q->client_ip, q->client_port, q->server_ip, q->server_port);
	if (!c) {
		out->status = CTL_STATUS_UNKNOWN_CONN;
		return;
	}
	out->status = CTL_STATUS_OK;
	out->conn_id = (uint64_t)c->conn_id;
	if (q->flags & CTL_QUERY_MARKS) {
		out->flags |= CTL_REPLY_MARKS;
		out->ack_cl = c->ack_cl_known ? c->ack_cl : 0;
		out->last_server_byte = c->server_bytes;
		out->last_client_byte = c->client_bytes;
		out->client_isn = c->isn_client;
		out->server_isn = c->isn_server;
	}
	if (!(q->flags & CTL_QUERY_TXNS))
		return;
	struct byte_store *bs = txn_log_bytes(tl);
	uint32_t ord = q->first_ordinal ? q->first_ordinal : 1;
	for (; ord <= c->txns; ord++) {
		struct byte_store_txn t;
		if (byte_store_txn_get(bs, c->conn_id, ord, &t) < 0)
			continue; /* pushed out of the index: the reply says which remain */
		if (out->ntxn == q->max_txns) {
			out->flags |= CTL_REPLY_MORE;
			break;
		}
		struct ctl_txn_entry *e = &out->txn[out->ntxn++];
		e->txn_id = txn_id_make(c->caddr, c->cport, (uint16_t)ord);
		e->ordinal = ord;
		e->state = entry_state(t.flags);
		e->tags = (uint8_t)t.tags;
		e->req_start = t.req_start;
		e->req_end = t.req_end;
		e->resp_start = t.resp_start;
		e->resp_end = t.resp_end;
	}
	txn_log_open_txns(tl, c->conn_id, refresh_open, out);
}

void txn_log_answer_bytes(struct txn_log *tl, const struct ctl_bytes_query *q,
			  struct ctl_bytes_reply *out)
{
	memset(out, 0, sizeof(*out));
	out->query_id = q->query_id;
	out->conn_id = q->conn_id;
	out->stream = q->stream;
	out->offset = q->offset;
	const struct txn_log_conn *c =
	    find_conn(tl, q->conn_id, q->client_ip, q->client_port, q->server_ip, q->server_port);
	if (!c && !q->conn_id) {
		out->status = CTL_STATUS_UNKNOWN_CONN;
		return;
	}
	/* A connection the pipeline let go may still have its bytes held. */
	int64_t id = c ? c->conn_id : (int64_t)q->conn_id;
	enum bs_dir d = q->stream == CTL_STREAM_SERVER ? BS_RESP : BS_REQ;
	struct byte_store *bs = txn_log_bytes(tl);
	uint64_t held;
	if (byte_store_held_until(bs, id, d, q->offset, &held) < 0) {
		out->status = CTL_STATUS_UNKNOWN_CONN;
		return;
	}
	out->conn_id = (uint64_t)id;
	uint64_t logged = c ? (d == BS_RESP ? c->server_bytes : c->client_bytes) : held;
	if (q->offset >= logged) { /* nothing logged there (yet) */
		out->status = CTL_STATUS_OK;
		return;
	}
	if (held <= q->offset) {
		out->status = CTL_STATUS_NOT_HELD;
		return;
	}
	uint64_t end = q->offset + q->length;
	if (end > held)
		end = held;
	if (end > logged)
		end = logged;
	if (byte_store_read(bs, id, d, q->offset, end, out->data) < 0) {
		out->status = CTL_STATUS_NOT_HELD;
		return;
	}
	out->status = CTL_STATUS_OK;
	out->n = (uint16_t)(end - q->offset);
}
