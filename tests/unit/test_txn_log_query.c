/* test_txn_log_query.c - the logger's answers to CONN_QUERY and BYTES_QUERY
 * on scripted conversations: offsets, states, marks and ISNs as the
 * pipeline logged them, lookup by conn id and by either direction of the
 * 4-tuple, paging with `first` / `max` and the "more" flag, bytes of both
 * streams byte-exact with the length, logged-end and not-held limits, and
 * every refusal (unknown connection, bytes never kept). */
#include <arpa/inet.h>
#include <check.h>
#include <string.h>

#include "helper_conv.h"
#include "txn_log.h"
#include "txn_log_query.h"

Suite *txn_log_query_suite(void);

static const char REQ1[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
static const char RESP1[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
static const char REQ2[] = "GET /b HTTP/1.1\r\nHost: x\r\n\r\n";
static const char RESP2_HEAD[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
#define L(s) (sizeof(s) - 1)

static struct ctl_conn_query tuple_query(const struct conv *v)
{
	struct ctl_conn_query q = {.query_id = 9, .max_txns = CTL_REPLY_MAX_TXNS};
	q.client_ip = htonl(v->caddr);
	q.server_ip = htonl(v->saddr);
	q.client_port = v->cport;
	q.server_port = v->sport;
	q.flags = CTL_QUERY_MARKS | CTL_QUERY_TXNS;
	return q;
}

static struct ctl_bytes_query bytes_query(const struct conv *v, uint8_t stream, uint64_t offset,
					  uint32_t length)
{
	struct ctl_conn_query cq = tuple_query(v);
	return (struct ctl_bytes_query){.query_id = 3,
					.client_ip = cq.client_ip,
					.server_ip = cq.server_ip,
					.client_port = cq.client_port,
					.server_port = cq.server_port,
					.stream = stream,
					.offset = offset,
					.length = length};
}

/* A connection with transaction 1 (REQ1, RESP1) logged, not acknowledged. */
static struct txn_log *one_txn(struct conv *v, void (*tweak)(struct txn_log_config *cfg))
{
	struct txn_log *l = conv_make_log(tweak);
	conv_init(v, l, 40000, 80);
	conv_handshake(v);
	conv_client_s(v, REQ1);
	conv_server_s(v, RESP1);
	return l;
}

START_TEST(conn_reply)
{
	struct conv v;
	struct txn_log *l = one_txn(&v, NULL);
	conv_client_ack(&v);
	conv_client_s(&v, REQ2);
	conv_server_s(&v, RESP2_HEAD);
	conv_server_s(&v, "01234"); /* half of the body: response in progress */

	struct ctl_conn_query q = tuple_query(&v);
	struct ctl_conn_reply r;
	txn_log_answer_conn(l, &q, &r);
	ck_assert_uint_eq(r.status, CTL_STATUS_OK);
	ck_assert_uint_eq(r.query_id, 9);
	ck_assert_uint_ne(r.conn_id, 0);
	ck_assert_uint_eq(r.ntxn, 2);
	ck_assert_uint_eq(r.flags, CTL_REPLY_MARKS);
	ck_assert_uint_eq(r.client_isn, v.cisn);
	ck_assert_uint_eq(r.server_isn, v.sisn);
	ck_assert_uint_eq(r.last_client_byte, L(REQ1) + L(REQ2));
	ck_assert_uint_eq(r.last_server_byte, L(RESP1) + L(RESP2_HEAD) + 5);
	ck_assert_uint_eq(r.ack_cl, L(RESP1)); /* the client acked response 1 only */
	const struct ctl_txn_entry *t = &r.txn[0];
	ck_assert_uint_eq(t->ordinal, 1);
	ck_assert_uint_eq(t->txn_id, txn_id_make(CONV_CLIENT, 40000, 1));
	ck_assert_uint_eq(t->state, CTL_TXN_REQ_DONE | CTL_TXN_RESP_BEGUN | CTL_TXN_RESP_DONE);
	ck_assert_uint_eq(t->req_start, 0);
	ck_assert_uint_eq(t->req_end, L(REQ1));
	ck_assert_uint_eq(t->resp_start, 0);
	ck_assert_uint_eq(t->resp_end, L(RESP1));
	t = &r.txn[1];
	ck_assert_uint_eq(t->ordinal, 2);
	ck_assert_uint_eq(t->state, CTL_TXN_REQ_DONE | CTL_TXN_RESP_BEGUN);
	ck_assert_uint_eq(t->req_start, L(REQ1));
	ck_assert_uint_eq(t->resp_start, L(RESP1));
	ck_assert_uint_eq(t->resp_end, L(RESP1) + L(RESP2_HEAD) + 5); /* so far */

	/* The other direction of the tuple and the conn id find it too. */
	struct ctl_conn_query q2 = q;
	q2.client_ip = q.server_ip, q2.server_ip = q.client_ip;
	q2.client_port = q.server_port, q2.server_port = q.client_port;
	struct ctl_conn_reply r2;
	txn_log_answer_conn(l, &q2, &r2);
	ck_assert_uint_eq(r2.conn_id, r.conn_id);
	memset(&q2, 0, sizeof(q2));
	q2.conn_id = r.conn_id;
	q2.max_txns = 1;
	q2.first_ordinal = 1;
	q2.flags = CTL_QUERY_TXNS;
	txn_log_answer_conn(l, &q2, &r2);
	ck_assert_uint_eq(r2.status, CTL_STATUS_OK);
	ck_assert_uint_eq(r2.ntxn, 1);
	ck_assert_uint_eq(r2.flags, CTL_REPLY_MORE); /* no marks asked, one more txn */
	ck_assert_uint_eq(r2.ack_cl, 0);
	q2.first_ordinal = 2;
	txn_log_answer_conn(l, &q2, &r2);
	ck_assert_uint_eq(r2.ntxn, 1);
	ck_assert_uint_eq(r2.txn[0].ordinal, 2);
	ck_assert_uint_eq(r2.flags, 0);

	/* Unknown: another port, another id. */
	q.client_port = 40001;
	txn_log_answer_conn(l, &q, &r);
	ck_assert_uint_eq(r.status, CTL_STATUS_UNKNOWN_CONN);
	ck_assert_uint_eq(r.ntxn, 0);
	q2.conn_id = 999999;
	txn_log_answer_conn(l, &q2, &r2);
	ck_assert_uint_eq(r2.status, CTL_STATUS_UNKNOWN_CONN);
	txn_log_destroy(l);
}
END_TEST

START_TEST(bytes_reply)
{
	struct conv v;
	struct txn_log *l = one_txn(&v, NULL);

	struct ctl_bytes_query q = bytes_query(&v, CTL_STREAM_SERVER, 0, 1024);
	static struct ctl_bytes_reply r;
	txn_log_answer_bytes(l, &q, &r);
	ck_assert_uint_eq(r.status, CTL_STATUS_OK);
	ck_assert_uint_eq(r.query_id, 3);
	ck_assert_uint_ne(r.conn_id, 0);
	ck_assert_uint_eq(r.n, L(RESP1)); /* limited by the logged end */
	ck_assert_mem_eq(r.data, RESP1, L(RESP1));
	/* From an offset, limited by the length. */
	q.offset = 5;
	q.length = 7;
	txn_log_answer_bytes(l, &q, &r);
	ck_assert_uint_eq(r.n, 7);
	ck_assert_uint_eq(r.offset, 5);
	ck_assert_mem_eq(r.data, RESP1 + 5, 7);
	/* The client stream, by conn id. */
	struct ctl_bytes_query qc = {
	    .conn_id = r.conn_id, .stream = CTL_STREAM_CLIENT, .length = CTL_BYTES_MAX};
	txn_log_answer_bytes(l, &qc, &r);
	ck_assert_uint_eq(r.status, CTL_STATUS_OK);
	ck_assert_uint_eq(r.stream, CTL_STREAM_CLIENT);
	ck_assert_uint_eq(r.n, L(REQ1));
	ck_assert_mem_eq(r.data, REQ1, L(REQ1));
	/* At or past the logged end: ok, nothing. */
	qc.offset = L(REQ1);
	txn_log_answer_bytes(l, &qc, &r);
	ck_assert_uint_eq(r.status, CTL_STATUS_OK);
	ck_assert_uint_eq(r.n, 0);
	qc.offset = 1u << 30;
	txn_log_answer_bytes(l, &qc, &r);
	ck_assert_uint_eq(r.status, CTL_STATUS_OK);
	ck_assert_uint_eq(r.n, 0);
	/* Unknown connection. */
	q.server_port = 81;
	txn_log_answer_bytes(l, &q, &r);
	ck_assert_uint_eq(r.status, CTL_STATUS_UNKNOWN_CONN);
	qc.conn_id = 987654;
	txn_log_answer_bytes(l, &qc, &r);
	ck_assert_uint_eq(r.status, CTL_STATUS_UNKNOWN_CONN);
	txn_log_destroy(l);
}
END_TEST

static void small_keep(struct txn_log_config *cfg)
{
	cfg->max_kept_message = 64; /* bigger messages are hashed, not kept */
}

START_TEST(bytes_not_held)
{
	struct txn_log *l = conv_make_log(small_keep);
	struct conv v;
	conv_init(&v, l, 40000, 80);
	conv_handshake(&v);
	conv_client_s(&v, REQ1);
	char resp[600];
	int h = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", 500);
	memset(resp + h, 'x', 500);
	conv_server(&v, resp, (size_t)h + 500);
	conv_client_ack(&v); /* acknowledged: the provisional copy goes */

	struct ctl_bytes_query q = bytes_query(&v, CTL_STREAM_SERVER, 200, 100);
	static struct ctl_bytes_reply r;
	txn_log_answer_bytes(l, &q, &r);
	ck_assert_uint_eq(r.status, CTL_STATUS_NOT_HELD);
	ck_assert_uint_eq(r.n, 0);
	ck_assert_uint_eq(r.offset, 200);
	txn_log_destroy(l);
}
END_TEST

Suite *txn_log_query_suite(void)
{
	Suite *s = suite_create("txn_log_query");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, conn_reply);
	tcase_add_test(tc, bytes_reply);
	tcase_add_test(tc, bytes_not_held);
	suite_add_tcase(s, tc);
	return s;
}
