/* test_failure_detect_close.c - crash or normal close? The pure decision
 * (protocol view + probe outcome -> verdict), the view the transaction log
 * gives at the instant of a backend's FIN (real segments through a
 * txn_log), and the detector's immediate failure for a crash. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <string.h>

#include "failure_detect.h"
#include "failure_detect_close.h"
#include "helper_conv.h"
#include "packet.h"
#include "txn_log_close.h"

Suite *failure_detect_close_suite(void);

/* ---- the decision -------------------------------------------------------- */

static struct fdet_close_view http_view(void)
{
	return (struct fdet_close_view){.tracked = true, .http = true, .parse_ok = true};
}

START_TEST(test_spec)
{
	struct fdet_close_view v = {0};
	ck_assert_int_eq(fdet_close_spec(&v), FDET_CLOSE_UNTRACKED);

	v = http_view(); /* idle keep-alive, nothing announced */
	ck_assert_int_eq(fdet_close_spec(&v), FDET_CLOSE_UNEXPLAINED);
	v.request_outstanding = true;
	v.open_txns = 1;
	ck_assert_int_eq(fdet_close_spec(&v), FDET_CLOSE_UNEXPLAINED);
	v.close_delimited = true; /* the body ends at the FIN */
	ck_assert_int_eq(fdet_close_spec(&v), FDET_CLOSE_EXPECTED);

	v = http_view();
	v.close_announced = true; /* Connection: close, response complete */
	ck_assert_int_eq(fdet_close_spec(&v), FDET_CLOSE_EXPECTED);

	v = http_view();
	v.server_closed = true; /* judged before: a retransmitted FIN */
	ck_assert_int_eq(fdet_close_spec(&v), FDET_CLOSE_EXPECTED);
	v = http_view();
	v.request_outstanding = true;
	v.client_closed = true; /* the server answers the client's FIN */
	ck_assert_int_eq(fdet_close_spec(&v), FDET_CLOSE_EXPECTED);

	/* Out of sync, or a line protocol: nothing explains a close. */
	v = http_view();
	v.close_announced = true;
	v.parse_ok = false;
	ck_assert_int_eq(fdet_close_spec(&v), FDET_CLOSE_UNEXPLAINED);
	v = http_view();
	v.http = false;
	v.close_delimited = true;
	ck_assert_int_eq(fdet_close_spec(&v), FDET_CLOSE_UNEXPLAINED);
}
END_TEST

START_TEST(test_decide_table)
{
	static const struct {
		enum fdet_close_spec spec;
		enum fdet_close_probe probe;
		enum fdet_close_verdict want;
	} rows[] = {
	    {FDET_CLOSE_UNTRACKED, FDET_CLOSE_PROBE_NONE, FDET_CLOSE_PASS},
	    {FDET_CLOSE_UNTRACKED, FDET_CLOSE_PROBE_DEAD, FDET_CLOSE_PASS},
	    {FDET_CLOSE_EXPECTED, FDET_CLOSE_PROBE_NONE, FDET_CLOSE_PASS},
	    /* an expected close never waits, whatever a probe would say */
	    {FDET_CLOSE_EXPECTED, FDET_CLOSE_PROBE_DEAD, FDET_CLOSE_PASS},
	    {FDET_CLOSE_UNEXPLAINED, FDET_CLOSE_PROBE_NONE, FDET_CLOSE_PROBE},
	    {FDET_CLOSE_UNEXPLAINED, FDET_CLOSE_PROBE_ALIVE, FDET_CLOSE_PASS},
	    {FDET_CLOSE_UNEXPLAINED, FDET_CLOSE_PROBE_DEAD, FDET_CLOSE_DROP},
	    /* no evidence: the close passes, as it would without the guard */
	    {FDET_CLOSE_UNEXPLAINED, FDET_CLOSE_PROBE_UNAVAILABLE, FDET_CLOSE_PASS},
	};
	for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		ck_assert_msg(
		    fdet_close_decide(rows[i].spec, rows[i].probe) == rows[i].want, "row %u: %s", i,
		    fdet_close_verdict_name(fdet_close_decide(rows[i].spec, rows[i].probe)));
	ck_assert_int_eq(fdet_close_probe_of(0), FDET_CLOSE_PROBE_ALIVE);
	ck_assert_int_eq(fdet_close_probe_of(-ECONNREFUSED), FDET_CLOSE_PROBE_DEAD);
	ck_assert_int_eq(fdet_close_probe_of(-ETIMEDOUT), FDET_CLOSE_PROBE_DEAD);
	ck_assert_int_eq(fdet_close_probe_of(-ECONNRESET), FDET_CLOSE_PROBE_DEAD);
	ck_assert_int_eq(fdet_close_probe_of(-EHOSTUNREACH), FDET_CLOSE_PROBE_DEAD);
	ck_assert_str_eq(fdet_close_spec_name(FDET_CLOSE_UNEXPLAINED), "unexplained");
	ck_assert_str_eq(fdet_close_verdict_name(FDET_CLOSE_DROP), "drop");
}
END_TEST

/* ---- the log's view, from real segments --------------------------------- */

static enum fdet_close_spec spec_now(struct conv *v)
{
	struct fdet_close_view view;
	txn_log_close_view(v->log, v->saddr, v->sport, v->caddr, v->cport, &view);
	return fdet_close_spec(&view);
}

static struct fdet_close_view view_now(struct conv *v)
{
	struct fdet_close_view view;
	txn_log_close_view(v->log, v->saddr, v->sport, v->caddr, v->cport, &view);
	return view;
}

START_TEST(test_view_refused)
{
	struct txn_log *l = conv_make_log(NULL);
	struct conv v;
	conv_init(&v, l, 40005, 80);
	conv_pkt(&v, true, TCP_FL_SYN, v.cisn, 0, NULL, 0);
	ck_assert_ptr_nonnull(txn_log_conn_by_tuple(l, v.saddr, v.sport, v.caddr, v.cport));
	/* the RST that refuses the SYN closes no connection of the server's */
	ck_assert_int_eq(spec_now(&v), FDET_CLOSE_UNTRACKED);
	txn_log_destroy(l);
}
END_TEST

START_TEST(test_view_keepalive)
{
	struct txn_log *l = conv_make_log(NULL);
	struct conv v;
	conv_init(&v, l, 40000, 80);
	conv_handshake(&v);
	ck_assert_int_eq(spec_now(&v), FDET_CLOSE_UNEXPLAINED); /* idle, nothing asked */
	conv_client_s(&v, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
	struct fdet_close_view w = view_now(&v);
	ck_assert(w.tracked && w.http && w.parse_ok && w.request_outstanding);
	ck_assert_uint_eq(w.open_txns, 1);
	ck_assert_int_eq(spec_now(&v), FDET_CLOSE_UNEXPLAINED);
	conv_server_s(&v, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello");
	ck_assert_int_eq(spec_now(&v), FDET_CLOSE_UNEXPLAINED); /* cut short */
	conv_server_s(&v, "world");
	w = view_now(&v);
	ck_assert(!w.request_outstanding);
	ck_assert_uint_eq(w.open_txns, 0);
	/* complete, keep-alive: a FIN now is a server's choice or a crash */
	ck_assert_int_eq(spec_now(&v), FDET_CLOSE_UNEXPLAINED);
	/* the client side of the tuple is not a server */
	txn_log_close_view(l, v.caddr, v.cport, v.saddr, v.sport, &w);
	ck_assert(!w.tracked);
	ck_assert_int_eq(fdet_close_spec(&w), FDET_CLOSE_UNTRACKED);
	conv_fin(&v, false);
	ck_assert_int_eq(spec_now(&v), FDET_CLOSE_EXPECTED); /* judged already */
	txn_log_destroy(l);
}
END_TEST

START_TEST(test_view_connection_close)
{
	struct txn_log *l = conv_make_log(NULL);
	struct conv v;
	conv_init(&v, l, 40001, 80);
	conv_handshake(&v);
	conv_client_s(&v, "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	/* announced by the request, but the response is not complete yet */
	ck_assert_int_eq(spec_now(&v), FDET_CLOSE_UNEXPLAINED);
	conv_server_s(&v, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	ck_assert(view_now(&v).close_announced);
	ck_assert_int_eq(spec_now(&v), FDET_CLOSE_EXPECTED);
	txn_log_destroy(l);

	/* the response's own Connection: close */
	l = conv_make_log(NULL);
	conv_init(&v, l, 40002, 80);
	conv_handshake(&v);
	conv_client_s(&v, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
	conv_server_s(&v, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
	ck_assert_int_eq(spec_now(&v), FDET_CLOSE_EXPECTED);
	txn_log_destroy(l);
}
END_TEST

START_TEST(test_view_close_delimited)
{
	struct txn_log *l = conv_make_log(NULL);
	struct conv v;
	conv_init(&v, l, 40003, 80);
	conv_handshake(&v);
	conv_client_s(&v, "GET /a HTTP/1.0\r\n\r\n");
	ck_assert_int_eq(spec_now(&v), FDET_CLOSE_UNEXPLAINED);
	conv_server_s(&v, "HTTP/1.0 200 OK\r\n\r\nsome body");
	struct fdet_close_view w = view_now(&v);
	ck_assert(w.close_delimited);
	ck_assert_int_eq(spec_now(&v), FDET_CLOSE_EXPECTED);
	txn_log_destroy(l);
}
END_TEST

START_TEST(test_view_line)
{
	struct txn_log *l = conv_make_log(NULL);
	struct conv v;
	conv_init(&v, l, 40004, 7000);
	conv_handshake(&v);
	conv_client_s(&v, "ls\n");
	conv_server_s(&v, "a b c\n");
	struct fdet_close_view w = view_now(&v);
	ck_assert(w.tracked && !w.http);
	ck_assert_int_eq(spec_now(&v), FDET_CLOSE_UNEXPLAINED);
	conv_fin(&v, true); /* the client leaves: the server's FIN follows */
	ck_assert(view_now(&v).client_closed);
	ck_assert_int_eq(spec_now(&v), FDET_CLOSE_EXPECTED);
	txn_log_destroy(l);
}
END_TEST

/* ---- the detector's immediate failure ------------------------------------ */

struct crec {
	unsigned failures, probes;
	struct fdet_failure f;
};

static void c_probe(void *arg, unsigned b, const struct sockaddr_in *a, enum fdet_probe_reason r)
{
	(void)b, (void)a, (void)r;
	((struct crec *)arg)->probes++;
}

static void c_failed(void *arg, const struct fdet_failure *f)
{
	struct crec *r = arg;
	r->failures++;
	r->f = *f;
}

START_TEST(test_backend_crashed)
{
	struct fdet_config cfg;
	fdet_config_default(&cfg);
	struct fdet d;
	struct crec r = {0};
	const struct fdet_ops ops = {.probe = c_probe, .failed = c_failed};
	ck_assert_int_eq(fdet_init(&d, &cfg, &ops, &r), 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(80)};
	a.sin_addr.s_addr = htonl(0xC612020Bu);
	ck_assert_int_eq(fdet_backend_crashed(&d, &a, 1000, 2000), -ENOENT);
	uint64_t t = 1000000;
	ck_assert_int_eq(fdet_conn_open(&d, 7, &a, t), 0);
	ck_assert_int_eq(fdet_request_done(&d, 7, 70, "GET /20M", t + 10), 0);
	ck_assert_int_eq(fdet_response_first_byte(&d, 7, 70, t + 500), 0);
	ck_assert_int_eq(fdet_response_progress(&d, 7, t + 900), 0);
	/* the FIN at t + 1000, the refused probe at t + 1300: no timeout waited */
	ck_assert_int_eq(fdet_backend_crashed(&d, &a, t + 1000, t + 1300), 0);
	ck_assert_uint_eq(r.failures, 1);
	ck_assert_int_eq(r.f.cause, FDET_CAUSE_PROBE_FAILED);
	ck_assert_uint_eq(r.f.suspect_us, t + 1000);
	ck_assert_uint_eq(r.f.detected_us, t + 1300);
	ck_assert(r.f.has_txn);
	ck_assert_uint_eq(r.f.conn, 7);
	ck_assert_uint_eq(r.f.txn, 70);
	ck_assert_uint_eq(r.f.latency_us, 400); /* since the last byte */
	ck_assert_uint_eq(r.f.conns_waiting, 1);
	ck_assert_int_eq(fdet_backend_state(&d, 0), FDET_FAILED);
	/* announced once */
	ck_assert_int_eq(fdet_backend_crashed(&d, &a, t + 1000, t + 1400), -EALREADY);
	ck_assert_uint_eq(r.failures, 1);
	ck_assert_uint_eq(d.c.crashes, 1);
	ck_assert_uint_eq(r.probes, 0);
	fdet_free(&d);
}
END_TEST

Suite *failure_detect_close_suite(void)
{
	Suite *s = suite_create("failure_detect_close");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_spec);
	tcase_add_test(tc, test_decide_table);
	tcase_add_test(tc, test_view_refused);
	tcase_add_test(tc, test_view_keepalive);
	tcase_add_test(tc, test_view_connection_close);
	tcase_add_test(tc, test_view_close_delimited);
	tcase_add_test(tc, test_view_line);
	tcase_add_test(tc, test_backend_crashed);
	suite_add_tcase(s, tc);
	return s;
}
