/* test_txn_log.c - the logging pipeline fed with synthetic packets: exact
 * request/response offsets in both sequence spaces (keep-alive,
 * pipelining, retransmission and reordering, GSO-sized segments, a
 * sequence number wrap), hashing of messages over max_kept_message with the
 * unacknowledged tail kept, RST mid-response, tags and aux IDs, the line
 * protocol, AckCL/marks, malformed input, idle expiry and shutdown. */
#include <check.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helper_conv.h"
#include "txn_log.h"

Suite *txn_log_suite(void);

static const char REQ1[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
static const char RESP1[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
static const char REQ2[] = "GET /b HTTP/1.1\r\nHost: x\r\n\r\n";
static const char RESP2[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
static const char REQ3[] = "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
static const char RESP3[] = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";

#define L(s) (sizeof(s) - 1)

static const struct txn_log_txn *ev_txn(const struct rec *r, const char *kind, uint32_t ord)
{
	int i = rec_find(r, kind, ord);
	ck_assert_msg(i >= 0, "no %s event for transaction %u", kind, ord);
	return &r->ev[i].t;
}

static void check_txn(const struct rec *r, uint32_t ord, uint64_t rs, uint64_t re, uint64_t ps,
		      uint64_t pe, uint16_t status)
{
	const struct txn_log_txn *t = ev_txn(r, "end", ord);
	ck_assert_uint_eq(t->req_start, rs);
	ck_assert_uint_eq(t->req_end, re);
	ck_assert_uint_eq(t->resp_start, ps);
	ck_assert_uint_eq(t->resp_end, pe);
	ck_assert_uint_eq(t->status, status);
	ck_assert_int_eq(t->end, TXN_END_COMPLETE);
	ck_assert(t->req_done && t->resp_started && t->resp_done);
	ck_assert_uint_eq(t->txn_id, txn_id_make(CONV_CLIENT, 40000, (uint16_t)ord));
}

static void check_bytes(struct txn_log *l, int64_t id, enum bs_dir d, uint64_t a, const char *want,
			size_t n)
{
	uint8_t buf[4096];
	ck_assert_uint_le(n, sizeof(buf));
	ck_assert_int_eq(byte_store_read(txn_log_bytes(l), id, d, a, a + n, buf), 0);
	ck_assert(memcmp(buf, want, n) == 0);
}

START_TEST(test_keepalive_offsets)
{
	struct txn_log *l = conv_make_log(NULL);
	struct rec r;
	rec_init(&r);
	struct txn_log_observer o = rec_observer(&r);
	ck_assert_int_eq(txn_log_add_observer(l, &o), 0);
	struct conv v;
	conv_init(&v, l, 40000, 80);

	conv_handshake(&v);
	ck_assert_uint_eq(r.opens, 1);
	conv_client_s(&v, REQ1);
	conv_server_s(&v, RESP1);
	conv_client_ack(&v);
	conv_client_s(&v, REQ2);
	conv_server_s(&v, RESP2);
	conv_client_ack(&v);

	check_txn(&r, 1, 0, L(REQ1), 0, L(RESP1), 200);
	check_txn(&r, 2, L(REQ1), L(REQ1) + L(REQ2), L(RESP1), L(RESP1) + L(RESP2), 404);
	const struct txn_log_txn *t = ev_txn(&r, "begin", 1);
	ck_assert(t->head_known);
	ck_assert_str_eq(t->method, "GET");
	ck_assert_str_eq(t->target, "/a");
	ck_assert_int_eq(t->tag_rule, -1);
	ck_assert_uint_eq(t->tags, TAGS_CONSERVATIVE);
	/* events in order, times from the packets */
	ck_assert_int_lt(rec_find(&r, "begin", 1), rec_find(&r, "req_done", 1));
	ck_assert_int_lt(rec_find(&r, "req_done", 1), rec_find(&r, "resp_first", 1));
	ck_assert_int_lt(rec_find(&r, "resp_done", 1), rec_find(&r, "end", 1));
	ck_assert_int_lt(rec_find(&r, "end", 1), rec_find(&r, "begin", 2));
	ck_assert_uint_lt(ev_txn(&r, "end", 1)->req_done_us, ev_txn(&r, "end", 1)->resp_done_us);

	const struct txn_log_conn *c = txn_log_conn_by_id(l, 1);
	ck_assert_ptr_nonnull(c);
	ck_assert(c->isn_client_known && c->isn_server_known);
	ck_assert_uint_eq(c->isn_client, v.cisn);
	ck_assert_uint_eq(c->isn_server, v.sisn);
	ck_assert_uint_eq(c->caddr, CONV_CLIENT);
	ck_assert_uint_eq(c->sport, 80);
	ck_assert_uint_eq(c->t_l, 2);
	ck_assert_uint_eq(c->ack_tl, L(RESP1) + L(RESP2));
	ck_assert(c->ack_cl_known);
	ck_assert_uint_eq(c->ack_cl, L(RESP1) + L(RESP2));
	ck_assert_uint_eq(c->server_bytes, L(RESP1) + L(RESP2));
	ck_assert_uint_eq(c->client_bytes, L(REQ1) + L(REQ2));
	ck_assert_ptr_eq(txn_log_conn_by_tuple(l, CONV_SERVER, 80, CONV_CLIENT, 40000), c);

	check_bytes(l, 1, BS_RESP, L(RESP1), RESP2, L(RESP2));
	check_bytes(l, 1, BS_REQ, 0, REQ1, L(REQ1));
	uint8_t buf[256];
	size_t n = 0;
	ck_assert_int_eq(byte_store_request(txn_log_bytes(l), 1, 2, buf, sizeof(buf), &n), 0);
	ck_assert_uint_eq(n, L(REQ2));
	ck_assert(memcmp(buf, REQ2, n) == 0);
	ck_assert_int_eq(byte_store_request(txn_log_bytes(l), 1, 2, buf, 3, &n), -ENOSPC);

	conv_fin(&v, true);
	ck_assert_uint_eq(r.closes, 0);
	conv_fin(&v, false);
	ck_assert_uint_eq(r.closes, 1);
	ck_assert(r.conn.closed);
	ck_assert(!r.conn.closed_by_server);
	ck_assert_str_eq(txn_log_close_name(&r.conn), "closed");
	conv_client_ack(&v); /* late ACK of the server's FIN: absorbed */
	ck_assert_uint_eq(r.closes, 1);
	ck_assert(!r.order_error);
	struct txn_log_stats s = txn_log_get_stats(l);
	ck_assert_uint_eq(s.txns_complete, 2);
	ck_assert_uint_eq(s.closed_fin, 1);
	txn_log_destroy(l);
	ck_assert_uint_eq(r.closes, 1);
}
END_TEST

START_TEST(test_pipelining)
{
	struct txn_log *l = conv_make_log(NULL);
	struct rec r;
	rec_init(&r);
	struct txn_log_observer o = rec_observer(&r);
	txn_log_add_observer(l, &o);
	struct conv v;
	conv_init(&v, l, 40000, 80);
	conv_handshake(&v);

	char all[512];
	int n = snprintf(all, sizeof(all), "%s%s%s", REQ1, REQ2, REQ3);
	conv_client(&v, all, (size_t)n);
	ck_assert_uint_eq(rec_count(&r, "req_done"), 3);
	n = snprintf(all, sizeof(all), "%s%s", RESP1, RESP2);
	conv_server(&v, all, (size_t)n);
	ck_assert_uint_eq(rec_count(&r, "resp_done"), 2);
	/* the third response in two pieces, cut inside the head */
	conv_server(&v, RESP3, 10);
	conv_server(&v, RESP3 + 10, L(RESP3) - 10);

	uint64_t q1 = L(REQ1), q2 = q1 + L(REQ2), q3 = q2 + L(REQ3);
	uint64_t p1 = L(RESP1), p2 = p1 + L(RESP2), p3 = p2 + L(RESP3);
	check_txn(&r, 1, 0, q1, 0, p1, 200);
	check_txn(&r, 2, q1, q2, p1, p2, 404);
	check_txn(&r, 3, q2, q3, p2, p3, 201);
	ck_assert_int_ge(rec_find(&r, "progress", 3), 0);
	ck_assert_int_lt(rec_find(&r, "resp_first", 3), rec_find(&r, "progress", 3));
	ck_assert_int_eq(rec_find(&r, "progress", 1), -1);
	ck_assert_uint_eq(txn_log_conn_by_id(l, 1)->t_l, 3);
	ck_assert_uint_eq(txn_log_conn_by_id(l, 1)->ack_tl, p3);
	txn_log_destroy(l);
}
END_TEST

START_TEST(test_retransmit_reorder)
{
	struct txn_log *l = conv_make_log(NULL);
	struct rec r;
	rec_init(&r);
	struct txn_log_observer o = rec_observer(&r);
	txn_log_add_observer(l, &o);
	struct conv v;
	conv_init(&v, l, 40000, 80);
	conv_handshake(&v);

	uint32_t c0 = v.cseq, s0 = v.sseq;
	/* request in two pieces: second first, then first, then first again */
	conv_pkt(&v, true, TCP_FL_ACK, c0 + 8, s0, REQ3 + 8, L(REQ3) - 8);
	ck_assert_uint_eq(rec_count(&r, "begin"), 0);
	conv_pkt(&v, true, TCP_FL_ACK, c0, s0, REQ3, 8);
	conv_pkt(&v, true, TCP_FL_ACK, c0, s0, REQ3, 8);
	v.cseq = c0 + (uint32_t)L(REQ3);
	ck_assert_uint_eq(rec_count(&r, "req_done"), 1);
	/* response: A, A again, B */
	conv_pkt(&v, false, TCP_FL_ACK, s0, v.cseq, RESP3, 20);
	conv_pkt(&v, false, TCP_FL_ACK, s0, v.cseq, RESP3, 20);
	conv_pkt(&v, false, TCP_FL_ACK, s0 + 20, v.cseq, RESP3 + 20, L(RESP3) - 20);
	check_txn(&r, 1, 0, L(REQ3), 0, L(RESP3), 201);
	ck_assert_uint_eq(rec_count(&r, "begin"), 1);
	ck_assert_uint_eq(rec_count(&r, "resp_first"), 1);
	ck_assert_uint_eq(rec_count(&r, "end"), 1);
	check_bytes(l, 1, BS_REQ, 0, REQ3, L(REQ3));
	check_bytes(l, 1, BS_RESP, 0, RESP3, L(RESP3));
	txn_log_destroy(l);
}
END_TEST

static void small_kept(struct txn_log_config *cfg)
{
	cfg->max_kept_message = 65536;
}

START_TEST(test_gso_and_hashing)
{
	struct txn_log *l = conv_make_log(small_kept);
	struct rec r;
	rec_init(&r);
	struct txn_log_observer o = rec_observer(&r);
	txn_log_add_observer(l, &o);
	struct conv v;
	conv_init(&v, l, 40000, 80);
	conv_handshake(&v);

	/* one GSO-sized segment of 60000 body bytes: kept */
	static uint8_t big[262144];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 3);
	char head[128];
	int h = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: 60000\r\n\r\n");
	static uint8_t seg[65535];
	memcpy(seg, head, (size_t)h);
	memcpy(seg + h, big, 60000);
	conv_client_s(&v, REQ1);
	conv_server(&v, seg, (size_t)h + 60000);
	conv_client_ack(&v);
	uint64_t p1 = (uint64_t)h + 60000;
	check_txn(&r, 1, 0, L(REQ1), 0, p1, 200);
	ck_assert(!ev_txn(&r, "end", 1)->resp_hashed);
	static uint8_t back[262144 + 256];
	ck_assert_int_eq(byte_store_read(txn_log_bytes(l), 1, BS_RESP, (uint64_t)h, p1, back), 0);
	ck_assert(memcmp(back, big, 60000) == 0);

	/* 200000 body bytes in four segments, over max_kept_message: hashed */
	int h2 = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n");
	conv_client_s(&v, REQ2);
	memcpy(seg, head, (size_t)h2);
	memcpy(seg + h2, big, 50000);
	conv_server(&v, seg, (size_t)h2 + 50000);
	for (int i = 1; i < 4; i++)
		conv_server(&v, big + 50000 * i, 50000);
	const struct txn_log_txn *t = ev_txn(&r, "end", 2);
	ck_assert(t->resp_hashed && t->resp_hash_ok);
	ck_assert_uint_eq(t->resp_start, p1);
	uint64_t p2 = p1 + (uint64_t)h2 + 200000;
	ck_assert_uint_eq(t->resp_end, p2);
	crypto_hash_sha256_state st;
	uint8_t want[32];
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)head, (size_t)h2);
	crypto_hash_sha256_update(&st, big, 200000);
	crypto_hash_sha256_final(&st, want);
	ck_assert(memcmp(t->resp_sha256, want, 32) == 0);
	struct byte_store_txn bt;
	ck_assert_int_eq(byte_store_txn_get(txn_log_bytes(l), 1, 2, &bt), 0);
	ck_assert(bt.flags & BS_TXN_RESP_HASHED);
	ck_assert(memcmp(bt.resp_sha256, want, 32) == 0);

	/* not acknowledged yet: the whole response is still there for a resend */
	const struct txn_log_conn *c = txn_log_conn_by_id(l, 1);
	ck_assert_uint_eq(c->ack_cl, p1);
	ck_assert_int_eq(byte_store_read(txn_log_bytes(l), 1, BS_RESP, p1, p2, back), 0);
	ck_assert(memcmp(back + h2, big, 200000) == 0);
	/* the client acknowledges 150000 bytes: those go, the rest stays */
	uint64_t ack = p1 + 150000;
	conv_pkt(&v, true, TCP_FL_ACK, v.cseq, v.sisn + 1 + (uint32_t)ack, NULL, 0);
	ck_assert_uint_eq(c->ack_cl, ack);
	uint64_t until = 0;
	ck_assert_int_eq(byte_store_held_until(txn_log_bytes(l), 1, BS_RESP, ack, &until), 0);
	ck_assert_uint_eq(until, p2);
	ck_assert_int_eq(byte_store_read(txn_log_bytes(l), 1, BS_RESP, p1, p2, back), -ENOENT);
	ck_assert_int_eq(byte_store_read(txn_log_bytes(l), 1, BS_RESP, ack, p2, back), 0);
	ck_assert(memcmp(back, big + (ack - p1 - (uint64_t)h2), p2 - ack) == 0);
	/* the kept first response is untouched */
	ck_assert_int_eq(byte_store_read(txn_log_bytes(l), 1, BS_RESP, (uint64_t)h, p1, back), 0);
	conv_client_ack(&v);
	ck_assert_int_eq(byte_store_held_until(txn_log_bytes(l), 1, BS_RESP, p1, &until), 0);
	ck_assert_uint_eq(until, p1);
	ck_assert_uint_gt(byte_store_get_stats(txn_log_bytes(l)).trimmed, 0);
	ck_assert_uint_eq(txn_log_get_stats(l).hashed_messages, 1);

	/* an upload over the limit: request hashed, not kept */
	char up[128];
	int u = snprintf(up, sizeof(up), "PUT /u HTTP/1.1\r\nContent-Length: 100000\r\n\r\n");
	memcpy(seg, up, (size_t)u);
	memcpy(seg + u, big, 60000);
	conv_client(&v, seg, (size_t)u + 60000);
	conv_client(&v, big + 60000, 40000);
	conv_server_s(&v, RESP3);
	t = ev_txn(&r, "end", 3);
	ck_assert(t->req_hashed && t->req_hash_ok && !t->resp_hashed);
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)up, (size_t)u);
	crypto_hash_sha256_update(&st, big, 100000);
	crypto_hash_sha256_final(&st, want);
	ck_assert(memcmp(t->req_sha256, want, 32) == 0);
	size_t n;
	ck_assert_int_eq(byte_store_request(txn_log_bytes(l), 1, 3, back, sizeof(back), &n),
			 -ENOENT);
	ck_assert_int_eq(byte_store_request(txn_log_bytes(l), 1, 2, back, sizeof(back), &n), 0);
	ck_assert_uint_eq(n, L(REQ2));
	txn_log_destroy(l);
}
END_TEST

START_TEST(test_rst_mid_response)
{
	struct txn_log *l = conv_make_log(NULL);
	struct rec r;
	rec_init(&r);
	struct txn_log_observer o = rec_observer(&r);
	txn_log_add_observer(l, &o);
	struct conv v;
	conv_init(&v, l, 40000, 80);
	conv_handshake(&v);
	conv_client_s(&v, REQ1);
	conv_server_s(&v, RESP1);
	conv_client_ack(&v);
	conv_client_s(&v, REQ2);
	const char part[] = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789";
	conv_server_s(&v, part);
	ck_assert_int_ge(rec_find(&r, "resp_first", 2), 0);
	conv_rst(&v, false);
	const struct txn_log_txn *t = ev_txn(&r, "end", 2);
	ck_assert_int_eq(t->end, TXN_END_ABORT);
	ck_assert(t->resp_started && !t->resp_done);
	ck_assert_uint_eq(t->resp_start, L(RESP1));
	ck_assert_uint_eq(t->resp_end, L(RESP1) + L(part));
	ck_assert_int_eq(rec_find(&r, "resp_done", 2), -1);
	ck_assert_uint_eq(r.closes, 1);
	ck_assert(r.conn.rst_server && r.conn.closed_by_server);
	ck_assert_str_eq(txn_log_close_name(&r.conn), "reset-by-server");
	ck_assert_uint_eq(r.conn.t_l, 1);
	ck_assert_uint_eq(r.conn.ack_tl, L(RESP1));
	ck_assert_uint_eq(r.conn.server_bytes, L(RESP1) + L(part)); /* p = 52 bytes of T_L + 1 */
	/* the partial response stays readable for the comparison of p bytes */
	check_bytes(l, 1, BS_RESP, L(RESP1), part, L(part));
	struct txn_log_recovery rp;
	ck_assert_int_eq(txn_log_recovery_point(l, 1, &rp), 0);
	ck_assert_uint_eq(rp.t_l, 1);
	ck_assert_uint_eq(rp.ack_tl, L(RESP1));
	ck_assert_uint_eq(rp.p, L(part));
	ck_assert(rp.ack_cl_known);
	ck_assert_uint_eq(rp.ack_cl, L(RESP1)); /* the client acknowledged response 1 */
	ck_assert_uint_eq(rp.resend_from, L(RESP1));
	ck_assert_uint_eq(rp.resend_to, L(RESP1) + L(part));
	ck_assert(rp.resend_held);
	ck_assert_int_eq(txn_log_recovery_point(l, 99, &rp), -ENOENT);
	ck_assert(!r.order_error);
	txn_log_destroy(l);
}
END_TEST

static char tags_path[64];

static void with_tags_aux(struct txn_log_config *cfg)
{
	snprintf(cfg->tags_file, sizeof(cfg->tags_file), "%s", tags_path);
	cfg->aux = true;
}

START_TEST(test_tags_and_aux)
{
	snprintf(tags_path, sizeof(tags_path), "/tmp/craft-tags-XXXXXX");
	int fd = mkstemp(tags_path);
	ck_assert_int_ge(fd, 0);
	const char rules[] = "GET /static/* deterministic read-only idempotent\n"
			     "POST /login non-deterministic update non-idempotent\n"
			     "line ^ls read-only\n";
	ck_assert_int_eq(write(fd, rules, L(rules)), (ssize_t)L(rules));
	close(fd);
	struct txn_log *l = conv_make_log(with_tags_aux);
	unlink(tags_path);
	struct rec r;
	rec_init(&r);
	struct txn_log_observer o = rec_observer(&r);
	txn_log_add_observer(l, &o);
	struct conv v;
	conv_init(&v, l, 40000, 80);
	conv_handshake(&v);
	conv_client_s(&v, "GET /static/css/a.css?v=1 HTTP/1.1\r\nHost: x\r\n"
			  "X-Craft-Txn: c612000a9c400001\r\n\r\n");
	conv_server_s(&v, RESP1);
	conv_client_s(&v, "POST /login HTTP/1.1\r\nContent-Length: 1\r\n\r\nx");
	conv_server_s(&v, RESP1);
	conv_client_s(&v, REQ1);
	conv_server_s(&v, RESP1);
	const struct txn_log_txn *t = ev_txn(&r, "begin", 1);
	ck_assert_uint_eq(t->tags, TAG_DETERMINISTIC | TAG_READ_ONLY | TAG_IDEMPOTENT);
	ck_assert_int_eq(t->tag_rule, 0);
	ck_assert_uint_eq(t->tag_line, 1);
	ck_assert(t->has_aux_id);
	ck_assert_uint_eq(t->aux_id, 0xc612000a9c400001ull);
	t = ev_txn(&r, "begin", 2);
	ck_assert_uint_eq(t->tags, 0);
	ck_assert_int_eq(t->tag_rule, 1);
	ck_assert(!t->has_aux_id);
	t = ev_txn(&r, "begin", 3);
	ck_assert_int_eq(t->tag_rule, -1);
	ck_assert_uint_eq(t->tags, TAGS_CONSERVATIVE);
	txn_log_destroy(l);
}
END_TEST

START_TEST(test_line_protocol)
{
	struct txn_log *l = conv_make_log(NULL);
	struct rec r;
	rec_init(&r);
	struct txn_log_observer o = rec_observer(&r);
	txn_log_add_observer(l, &o);
	struct conv v;
	conv_init(&v, l, 40001, 7000);
	conv_handshake(&v);
	conv_client_s(&v, "ls\n");
	conv_server_s(&v, "a b c\n$ ");
	conv_client_s(&v, "date\n");
	conv_server_s(&v, "Mon\n$ ");
	conv_fin(&v, false);
	conv_fin(&v, true);
	const struct txn_log_txn *t = ev_txn(&r, "end", 1);
	ck_assert_str_eq(t->target, "ls");
	ck_assert_uint_eq(t->req_start, 0);
	ck_assert_uint_eq(t->req_end, 3);
	ck_assert_uint_eq(t->resp_start, 0);
	ck_assert_uint_eq(t->resp_end, 8);
	ck_assert_int_eq(t->end, TXN_END_COMPLETE);
	t = ev_txn(&r, "end", 2);
	ck_assert_str_eq(t->target, "date");
	ck_assert_uint_eq(t->req_start, 3);
	ck_assert_uint_eq(t->req_end, 8);
	ck_assert_uint_eq(t->resp_start, 8);
	ck_assert_uint_eq(t->resp_end, 14);
	ck_assert_uint_eq(t->txn_id, txn_id_make(CONV_CLIENT, 40001, 2));
	ck_assert_uint_eq(r.closes, 1);
	ck_assert(r.conn.closed_by_server);
	ck_assert_int_eq(r.conn.proto, TXN_PROTO_LINE);
	txn_log_destroy(l);
}
END_TEST

START_TEST(test_bad_input_counted)
{
	struct txn_log *l = conv_make_log(NULL);
	uint8_t junk[64];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(0x45 + i * 13);
	junk[0] = 0x45;
	ck_assert_int_eq(txn_log_packet(l, junk, 10, 10, 1), -EBADMSG);
	junk[0] = 0x60; /* IPv6 */
	ck_assert_int_eq(txn_log_packet(l, junk, sizeof(junk), sizeof(junk), 2), -ENOTSUP);
	struct conv v;
	conv_init(&v, l, 40000, 22);
	ck_assert_int_eq(conv_pkt(&v, true, TCP_FL_SYN, 1, 0, NULL, 0), -ENOENT);
	conv_init(&v, l, 40000, 80);
	/* no SYN seen, mid-stream pickup off */
	ck_assert_int_eq(conv_pkt(&v, true, TCP_FL_ACK, 5, 5, REQ1, L(REQ1)), -ENOENT);
	/* garbage on a service port: the connection is logged, the parser
	 * stops, nothing crashes, a later connection is fine */
	struct rec r;
	rec_init(&r);
	struct txn_log_observer o = rec_observer(&r);
	txn_log_add_observer(l, &o);
	conv_init(&v, l, 40002, 80);
	conv_handshake(&v);
	conv_client(&v, junk, sizeof(junk));
	conv_client_s(&v, REQ1);
	ck_assert_int_eq(txn_log_conn_by_id(l, 1)->parse_state, TXN_CONN_ERROR);
	conv_init(&v, l, 40003, 80);
	conv_handshake(&v);
	conv_client_s(&v, REQ1);
	conv_server_s(&v, RESP1);
	ck_assert_int_ge(rec_find(&r, "resp_done", 1), 0);
	struct txn_log_stats s = txn_log_get_stats(l);
	ck_assert_uint_eq(s.malformed, 1);
	ck_assert_uint_eq(s.not_ipv4_tcp, 1);
	ck_assert_uint_eq(s.not_service, 1);
	ck_assert_uint_eq(s.untracked, 1);
	ck_assert_uint_eq(s.txns_complete, 1);
	txn_log_destroy(l);
}
END_TEST

static void short_idle(struct txn_log_config *cfg)
{
	cfg->idle_timeout_ms = 1000;
	cfg->marks_interval_ms = 100;
}

START_TEST(test_marks_idle_finish)
{
	struct txn_log *l = conv_make_log(short_idle);
	struct rec r;
	rec_init(&r);
	struct txn_log_observer o = rec_observer(&r);
	txn_log_add_observer(l, &o);
	struct conv v;
	conv_init(&v, l, 40000, 80);
	conv_handshake(&v);
	for (int i = 0; i < 20; i++) {
		conv_client_s(&v, REQ1);
		conv_server_s(&v, RESP1);
	}
	/* 40 packets 1 ms apart: one marks event, the rest due later */
	ck_assert_uint_eq(r.marks, 1);
	txn_log_expire(l, v.t_us + 200000);
	ck_assert_uint_eq(r.marks, 2);
	ck_assert_uint_eq(r.conn.server_bytes, 20 * L(RESP1));
	ck_assert_uint_eq(r.conn.ack_cl, 19 * L(RESP1));
	/* a request that never gets an answer, then idleness */
	conv_client_s(&v, REQ2);
	txn_log_expire(l, v.t_us + 2000000);
	ck_assert_uint_eq(r.closes, 1);
	ck_assert_int_eq(ev_txn(&r, "end", 21)->end, TXN_END_ABORT);
	ck_assert_str_eq(txn_log_close_name(&r.conn), "idle");
	ck_assert_ptr_null(txn_log_conn_by_id(l, 1));

	/* txn_log_finish ends what is open, as a shutdown */
	conv_init(&v, l, 40005, 80);
	v.t_us += 3000000;
	conv_handshake(&v);
	conv_client_s(&v, REQ1);
	txn_log_finish(l);
	ck_assert_uint_eq(r.closes, 2);
	ck_assert_str_eq(txn_log_close_name(&r.conn), "shutdown");
	ck_assert(!r.order_error);
	txn_log_destroy(l);
}
END_TEST

START_TEST(test_config_keys)
{
	struct cfg_holder {
		int x;
		struct txn_log_config log;
	} h;
	static const struct config_key keys[] = {TXN_LOG_CONFIG_KEYS(struct cfg_holder, log), {0}};
	txn_log_config_defaults(&h.log);
	struct config_error err;
	const char text[] = "[logger]\nservice = 8080 http\nservice = 7000 line\n"
			    "backend = b1 198.18.2.11:8080\nmax_kept_message = 2MiB\n"
			    "[flows]\nmax_conns = 100\n[transactions]\nline_response = string\n"
			    "line_terminator = \"\\\\n$ \"\nmax_pending = 8\n";
	ck_assert_msg(config_load_string("t", text, keys, &h, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(h.log.n_services, 2);
	ck_assert_uint_eq(h.log.services[0].port, 8080);
	ck_assert_int_eq(h.log.services[1].proto, TXN_PROTO_LINE);
	ck_assert_uint_eq(h.log.n_backends, 1);
	ck_assert_str_eq(h.log.backends[0].name, "b1");
	ck_assert_uint_eq(h.log.backends[0].addr, CONV_SERVER);
	ck_assert_uint_eq(h.log.backends[0].port, 8080);
	ck_assert_uint_eq(h.log.max_kept_message, 2u << 20);
	ck_assert_uint_eq(h.log.max_conns, 100);
	ck_assert_int_eq(h.log.parser.line_resp, TXN_LINE_RESP_STRING);
	ck_assert_uint_eq(h.log.parser.line_terminator_len, 3);
	ck_assert_uint_eq(h.log.parser.max_pending, 8);
	ck_assert_int_ne(config_load_string("t", "[logger]\nservice = 80 smtp\n", keys, &h, &err),
			 0);
	ck_assert_int_ne(config_load_string("t", "[logger]\nservice = 8080 http\n", keys, &h, &err),
			 0); /* given twice */
	/* printed config loads back */
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	config_dump(m, keys, &h);
	fclose(m);
	struct cfg_holder h2;
	txn_log_config_defaults(&h2.log);
	ck_assert_msg(config_load_string("dump", buf, keys, &h2, &err) == 0, "%s\n%s", err.msg,
		      buf);
	ck_assert_uint_eq(h2.log.n_services, 2);
	ck_assert_int_eq(h2.log.parser.line_resp, TXN_LINE_RESP_STRING);
	ck_assert_uint_eq(h2.log.parser.max_pending, 8);
	ck_assert_uint_eq(h2.log.backends[0].port, 8080);
	free(buf);
}
END_TEST

Suite *txn_log_suite(void)
{
	Suite *s = suite_create("txn_log");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_keepalive_offsets);
	tcase_add_test(tc, test_pipelining);
	tcase_add_test(tc, test_retransmit_reorder);
	tcase_add_test(tc, test_gso_and_hashing);
	tcase_add_test(tc, test_rst_mid_response);
	tcase_add_test(tc, test_tags_and_aux);
	tcase_add_test(tc, test_line_protocol);
	tcase_add_test(tc, test_bad_input_counted);
	tcase_add_test(tc, test_marks_idle_finish);
	tcase_add_test(tc, test_config_keys);
	suite_add_tcase(s, tc);
	return s;
}
