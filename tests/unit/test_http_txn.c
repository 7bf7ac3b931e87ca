/* test_http_txn.c - HTTP/1.x transactions: exact offsets for every framing
 * case, pipelining, interim responses, upgrades, limits, malformed input,
 * holes, and the same events however the bytes are split. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "helper_txn.h"
#include "http_txn.h"
#include "stats.h"

static struct txn_parser_ctx ctx;
static struct txn_rec *rec;

static void setup_cfg(uint32_t max_pending, uint64_t max_header)
{
	struct txn_parser_config cfg;
	char err[200];
	txn_parser_config_default(&cfg);
	cfg.proto = TXN_PROTO_HTTP;
	cfg.max_pending = max_pending;
	cfg.max_header_bytes = max_header;
	ck_assert_int_eq(txn_parser_ctx_init(&ctx, &cfg, err, sizeof(err)), 0);
	trec_init(rec);
}

static void setup(void)
{
	rec = malloc(sizeof(*rec));
	ck_assert_ptr_nonnull(rec);
	setup_cfg(64, 64 * 1024);
}

static void teardown(void)
{
	txn_parser_ctx_free(&ctx);
	free(rec);
}

#define RUN(steps) trec_run(&ctx, (steps), sizeof(steps) / sizeof((steps)[0]), SPLIT_WHOLE, 0, rec)
#define SPLITS(steps)                                                                              \
	do {                                                                                       \
		const char *bad_ =                                                                 \
		    trec_check_splits(&ctx, (steps), sizeof(steps) / sizeof((steps)[0]), 200);     \
		ck_assert_msg(bad_ == NULL, "%s", bad_);                                           \
	} while (0)

static void no_violation(void)
{
	ck_assert_msg(rec->violation[0] == '\0', "%s", rec->violation);
	ck_assert_uint_eq(rec->begins, rec->ends);
}

#define GET1 "GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n"
#define OK5  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"

START_TEST(simple_get)
{
	const struct txn_step s[] = {REQ(GET1), RESP(OK5)};
	ck_assert_int_eq(RUN(s), TXN_CONN_OK);
	no_violation();
	ck_assert_uint_eq(rec->ndone, 1);
	const struct txn *t = &rec->done[0];
	ck_assert_uint_eq(t->ordinal, 1);
	ck_assert_uint_eq(t->req_start, 0);
	ck_assert_uint_eq(t->req_end, strlen(GET1));
	ck_assert_uint_eq(t->resp_start, 0);
	ck_assert_uint_eq(t->resp_end, strlen(OK5));
	ck_assert_uint_eq(t->status, 200);
	ck_assert_str_eq(t->method, "GET");
	ck_assert_str_eq(t->target, "/index.html");
	ck_assert_uint_eq(t->resp_body_bytes, 5);
	ck_assert_uint_eq(t->req_body_bytes, 0);
	ck_assert_int_eq(t->end, TXN_END_COMPLETE);
	ck_assert(!t->has_txn_id);
	/* event order */
	static const enum txn_event order[] = {
	    TXN_EV_REQUEST_BEGIN, TXN_EV_REQUEST_HEAD, TXN_EV_REQUEST_END, TXN_EV_RESPONSE_BEGIN,
	    TXN_EV_RESPONSE_HEAD, TXN_EV_RESPONSE_END, TXN_EV_END};
	ck_assert_uint_eq(rec->nevs, 7);
	for (unsigned i = 0; i < 7; i++)
		ck_assert_int_eq(rec->evs[i], order[i]);
	ck_assert_uint_eq(ctx.stats.transactions, 1);
	ck_assert_uint_eq(ctx.stats.ended[TXN_END_COMPLETE], 1);
}
END_TEST

#define HEAD_A "HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n"
#define GET_B  "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
#define R_HEAD "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
#define R_GET  "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"

START_TEST(pipelined_head_get)
{
	const struct txn_step s[] = {REQ(HEAD_A GET_B), RESP(R_HEAD R_GET)};
	ck_assert_int_eq(RUN(s), TXN_CONN_OK);
	no_violation();
	ck_assert_uint_eq(rec->ndone, 2);
	const struct txn *a = &rec->done[0], *b = &rec->done[1];
	ck_assert_str_eq(a->method, "HEAD");
	ck_assert_uint_eq(a->req_start, 0);
	ck_assert_uint_eq(a->req_end, strlen(HEAD_A));
	ck_assert_uint_eq(a->resp_start, 0);
	ck_assert_uint_eq(a->resp_end, strlen(R_HEAD));
	ck_assert_uint_eq(a->resp_body_bytes, 0);
	ck_assert(a->flags & TXN_F_NO_BODY);
	ck_assert_str_eq(b->method, "GET");
	ck_assert_str_eq(b->target, "/b");
	ck_assert_uint_eq(b->ordinal, 2);
	ck_assert_uint_eq(b->req_start, strlen(HEAD_A));
	ck_assert_uint_eq(b->req_end, strlen(HEAD_A GET_B));
	ck_assert_uint_eq(b->resp_start, strlen(R_HEAD));
	ck_assert_uint_eq(b->resp_end, strlen(R_HEAD R_GET));
	ck_assert_uint_eq(b->resp_body_bytes, 3);
	ck_assert_int_eq(b->end, TXN_END_COMPLETE);
	/* both requests were seen before any response */
	ck_assert_int_lt(trec_find(rec, 2, TXN_EV_REQUEST_END),
			 trec_find(rec, 1, TXN_EV_RESPONSE_BEGIN));
	SPLITS(s);
}
END_TEST

#define POST_H "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
#define R_100  "HTTP/1.1 100 Continue\r\n\r\n"
#define R_201  "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"

START_TEST(expect_100_continue)
{
	const struct txn_step s[] = {REQ(POST_H), RESP(R_100), REQ("data"), RESP(R_201)};
	ck_assert_int_eq(RUN(s), TXN_CONN_OK);
	no_violation();
	ck_assert_uint_eq(rec->ndone, 1);
	const struct txn *t = &rec->done[0];
	ck_assert_uint_eq(t->req_start, 0);
	ck_assert_uint_eq(t->req_end, strlen(POST_H) + 4);
	ck_assert_uint_eq(t->req_body_bytes, 4);
	ck_assert_uint_eq(t->resp_start, 0);
	ck_assert_uint_eq(t->resp_end, strlen(R_100 R_201));
	ck_assert_uint_eq(t->status, 201);
	ck_assert_uint_eq(t->interim, 1);
	ck_assert_int_eq(t->end, TXN_END_COMPLETE);
	/* the 100 starts the response but does not end it */
	int rb = trec_find(rec, 1, TXN_EV_RESPONSE_BEGIN);
	int qe = trec_find(rec, 1, TXN_EV_REQUEST_END);
	int rh = trec_find(rec, 1, TXN_EV_RESPONSE_HEAD);
	ck_assert_int_ge(rb, 0);
	ck_assert_int_lt(rb, qe);
	ck_assert_int_lt(qe, rh);
	ck_assert_uint_eq(ctx.stats.interim, 1);
	SPLITS(s);
}
END_TEST

#define CHUNK_REQ                                                                                  \
	"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"                        \
	"4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n"
#define CHUNK_RESP                                                                                 \
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nA\r\n0123456789\r\n"     \
	"0\r\nX-Sum: 1\r\n\r\n"

START_TEST(chunked_both_ways)
{
	const struct txn_step s[] = {REQ(CHUNK_REQ GET1), RESP(CHUNK_RESP OK5)};
	ck_assert_int_eq(RUN(s), TXN_CONN_OK);
	no_violation();
	ck_assert_uint_eq(rec->ndone, 2);
	const struct txn *t = &rec->done[0];
	ck_assert_uint_eq(t->req_end, strlen(CHUNK_REQ));
	ck_assert_uint_eq(t->req_body_bytes, 9);
	ck_assert_uint_eq(t->resp_end, strlen(CHUNK_RESP));
	ck_assert_uint_eq(t->resp_body_bytes, 13);
	ck_assert(t->flags & TXN_F_REQ_CHUNKED);
	ck_assert(t->flags & TXN_F_RESP_CHUNKED);
	ck_assert_uint_eq(rec->done[1].req_start, strlen(CHUNK_REQ));
	ck_assert_uint_eq(rec->done[1].resp_start, strlen(CHUNK_RESP));
	ck_assert_uint_eq(rec->done[1].resp_end, strlen(CHUNK_RESP OK5));
	SPLITS(s);
}
END_TEST

#define R_204 "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n"
#define R_304 "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n"

START_TEST(no_body_statuses)
{
	const struct txn_step s[] = {REQ(GET1 GET1 GET1), RESP(R_204 R_304 OK5)};
	ck_assert_int_eq(RUN(s), TXN_CONN_OK);
	no_violation();
	ck_assert_uint_eq(rec->ndone, 3);
	ck_assert_uint_eq(rec->done[0].status, 204);
	ck_assert_uint_eq(rec->done[0].resp_end, strlen(R_204));
	ck_assert_uint_eq(rec->done[1].status, 304);
	ck_assert_uint_eq(rec->done[1].resp_start, strlen(R_204));
	ck_assert_uint_eq(rec->done[1].resp_end, strlen(R_204 R_304));
	ck_assert(rec->done[1].flags & TXN_F_NO_BODY);
	ck_assert_uint_eq(rec->done[2].resp_end, strlen(R_204 R_304 OK5));
	ck_assert_uint_eq(rec->done[2].resp_body_bytes, 5);
	SPLITS(s);
}
END_TEST

#define R_CLOSE "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of this until FIN"

START_TEST(close_delimited)
{
	const struct txn_step s1[] = {REQ(GET1), RESP(R_CLOSE)};
	RUN(s1);
	ck_assert_uint_eq(rec->ndone, 0); /* still open: no FIN yet */
	ck_assert_int_ge(trec_find(rec, 1, TXN_EV_RESPONSE_HEAD), 0);

	trec_init(rec);
	const struct txn_step s[] = {REQ(GET1), RESP(R_CLOSE), EOF_RESP};
	ck_assert_int_eq(RUN(s), TXN_CONN_OK);
	no_violation();
	ck_assert_uint_eq(rec->ndone, 1);
	const struct txn *t = &rec->done[0];
	ck_assert_int_eq(t->end, TXN_END_COMPLETE);
	ck_assert_uint_eq(t->resp_end, strlen(R_CLOSE));
	ck_assert_uint_eq(t->resp_body_bytes, strlen("all of this until FIN"));
	ck_assert(t->flags & TXN_F_CLOSE_DELIMITED);
	ck_assert(t->flags & TXN_F_CONN_CLOSE);
	SPLITS(s);

	/* HTTP/1.0 without length */
	trec_init(rec);
	const struct txn_step s10[] = {REQ("GET / HTTP/1.0\r\n\r\n"),
				       RESP("HTTP/1.0 200 OK\r\n\r\nxyz"), EOF_RESP};
	RUN(s10);
	ck_assert_uint_eq(rec->ndone, 1);
	ck_assert_int_eq(rec->done[0].end, TXN_END_COMPLETE);
	ck_assert_uint_eq(rec->done[0].resp_body_bytes, 3);
}
END_TEST

START_TEST(eof_cuts_response)
{
	const struct txn_step s[] = {
	    REQ(GET1 GET1), RESP("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc"), EOF_RESP};
	ck_assert_int_eq(RUN(s), TXN_CONN_OK);
	no_violation();
	ck_assert_uint_eq(rec->ndone, 2);
	ck_assert_int_eq(rec->done[0].end, TXN_END_EOF);
	ck_assert(rec->done[0].resp_started);
	ck_assert(!rec->done[0].resp_complete);
	ck_assert_int_eq(rec->done[1].end, TXN_END_EOF);
	ck_assert(!rec->done[1].resp_started);
	ck_assert_uint_eq(ctx.stats.ended[TXN_END_EOF], 2);
}
END_TEST

START_TEST(keep_alive_and_close)
{
	/* HTTP/1.0 keep-alive: two transactions */
	const struct txn_step s[] = {
	    REQ("GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
		"GET /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
	    RESP("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nA"
		 "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nB")};
	ck_assert_int_eq(RUN(s), TXN_CONN_OK);
	ck_assert_uint_eq(rec->ndone, 2);
	ck_assert_str_eq(rec->done[1].target, "/2");

	/* a request after Connection: close is an error; the first completes */
	trec_init(rec);
	const struct txn_step c[] = {REQ("GET /1 HTTP/1.1\r\nConnection: close\r\n\r\n"
					 "GET /2 HTTP/1.1\r\n\r\n"),
				     RESP(OK5)};
	ck_assert_int_eq(RUN(c), TXN_CONN_ERROR);
	no_violation();
	ck_assert_uint_eq(rec->ndone, 1);
	ck_assert_int_eq(rec->done[0].end, TXN_END_COMPLETE);
	ck_assert(rec->done[0].flags & TXN_F_CONN_CLOSE);
	ck_assert_uint_eq(ctx.stats.errors[TXN_ERR_AFTER_CLOSE], 1);
}
END_TEST

#define WS_REQ "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
#define WS_101                                                                                     \
	"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"

START_TEST(upgrade_accepted)
{
	const struct txn_step s[] = {REQ(WS_REQ), REQN("\x81\x05hello", 7), RESP(WS_101),
				     RESPN("\x81\x02hi", 4),
				     REQN("\x81\x03"
					  "abc",
					  5)};
	ck_assert_int_eq(RUN(s), TXN_CONN_OPAQUE);
	no_violation();
	ck_assert_uint_eq(rec->ndone, 1);
	const struct txn *t = &rec->done[0];
	ck_assert_int_eq(t->end, TXN_END_COMPLETE);
	ck_assert_uint_eq(t->status, 101);
	ck_assert(t->flags & TXN_F_UPGRADE);
	ck_assert(t->flags & TXN_F_SWITCHED);
	ck_assert_uint_eq(t->req_end, strlen(WS_REQ));
	ck_assert_uint_eq(t->resp_end, strlen(WS_101));
	ck_assert_uint_eq(ctx.stats.conn_opaque, 1);
	ck_assert_uint_eq(ctx.stats.ignored_bytes, 4 + 5);
	for (unsigned i = 0; i < TXN_ERR_COUNT; i++)
		ck_assert_uint_eq(ctx.stats.errors[i], 0);
	SPLITS(s);
}
END_TEST

START_TEST(upgrade_refused)
{
	const struct txn_step s[] = {REQ(WS_REQ GET_B),
				     RESP("HTTP/1.1 400 Bad\r\nContent-Length: 2\r\n\r\nno"),
				     RESP(R_GET)};
	ck_assert_int_eq(RUN(s), TXN_CONN_OK);
	no_violation();
	ck_assert_uint_eq(rec->ndone, 2);
	ck_assert_uint_eq(rec->done[0].status, 400);
	ck_assert(!(rec->done[0].flags & TXN_F_SWITCHED));
	ck_assert_str_eq(rec->done[1].target, "/b");
	ck_assert_uint_eq(rec->done[1].req_start, strlen(WS_REQ));
	ck_assert_uint_eq(rec->done[1].req_end, strlen(WS_REQ GET_B));
	ck_assert_uint_eq(rec->done[1].resp_body_bytes, 3);
	SPLITS(s);
}
END_TEST

START_TEST(connect_tunnel)
{
	const struct txn_step s[] = {REQ("CONNECT db:443 HTTP/1.1\r\nHost: db:443\r\n\r\n"),
				     RESP("HTTP/1.1 200 Connection established\r\n\r\n"),
				     REQN("\x16\x03\x01\x00", 4), RESPN("\x16\x03\x03", 3)};
	ck_assert_int_eq(RUN(s), TXN_CONN_OPAQUE);
	no_violation();
	ck_assert_uint_eq(rec->ndone, 1);
	ck_assert_str_eq(rec->done[0].method, "CONNECT");
	ck_assert_str_eq(rec->done[0].target, "db:443");
	ck_assert(rec->done[0].flags & TXN_F_SWITCHED);
	ck_assert_int_eq(rec->done[0].end, TXN_END_COMPLETE);
	SPLITS(s);

	/* refused: parsing goes on */
	trec_init(rec);
	const struct txn_step r[] = {REQ("CONNECT db:443 HTTP/1.1\r\n\r\n" GET_B),
				     RESP("HTTP/1.1 403 No\r\nContent-Length: 0\r\n\r\n" R_GET)};
	ck_assert_int_eq(RUN(r), TXN_CONN_OK);
	ck_assert_uint_eq(rec->ndone, 2);
}
END_TEST

START_TEST(garbage)
{
	const struct txn_step s[] = {REQN("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)};
	ck_assert_int_eq(RUN(s), TXN_CONN_ERROR);
	no_violation();
	ck_assert_uint_eq(ctx.stats.errors[TXN_ERR_SYNTAX], 1);
	ck_assert_uint_eq(ctx.stats.conn_error, 1);
	ck_assert_uint_eq(rec->begins, 0);

	/* garbage after a good request: that one still gets its response */
	trec_init(rec);
	const struct txn_step g[] = {
	    REQ(GET1 "GET / HTTP/1.1\r\nBad Header\r\n\r\n"),
	    RESP(OK5 "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"), RESP(OK5)};
	ck_assert_int_eq(RUN(g), TXN_CONN_ERROR);
	no_violation();
	ck_assert_uint_eq(rec->ndone, 2);
	ck_assert_int_eq(rec->done[0].end, TXN_END_COMPLETE);
	ck_assert_int_eq(rec->done[1].end, TXN_END_ERROR); /* the 400 answered it */
	ck_assert_uint_eq(rec->done[1].status, 400);
	ck_assert(rec->done[1].flags & TXN_F_REQ_TRUNCATED);

	/* garbage in a response ends everything open */
	trec_init(rec);
	const struct txn_step r[] = {REQ(GET1 GET1), RESP("HTTP/1.1 2x0 OK\r\n\r\n")};
	ck_assert_int_eq(RUN(r), TXN_CONN_ERROR);
	no_violation();
	ck_assert_uint_eq(rec->ndone, 2);
	ck_assert_int_eq(rec->done[0].end, TXN_END_ERROR);
}
END_TEST

/* The packaged library is built non-strict; framing-relevant checks are
 * made by http_txn itself. */
START_TEST(strict_framing)
{
	static const struct {
		const char *req, *resp;
		enum txn_err err;
	} cases[] = {
	    {"GET / HTTP/1.1\r\nHost: a\rX\r\n\r\n", NULL, TXN_ERR_SYNTAX},
	    {"GET / HTTP/1.1\r\nHost: a\r\n\rX", NULL, TXN_ERR_SYNTAX},
	    {GET1, "HXXP/1.1 200 OK\r\n\r\n", TXN_ERR_SYNTAX},
	    {GET1, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naXY0\r\n\r\n",
	     TXN_ERR_SYNTAX},
	    {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\rX", NULL,
	     TXN_ERR_SYNTAX},
	    {GET1 GET1, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n" OK5,
	     TXN_ERR_AFTER_CLOSE},
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		trec_init(rec);
		memset(&ctx.stats, 0, sizeof(ctx.stats));
		const struct txn_step s[] = {REQ(cases[i].req),
					     RESP(cases[i].resp ? cases[i].resp : ""), EOF_RESP};
		ck_assert_int_eq(RUN(s), TXN_CONN_ERROR);
		ck_assert_msg(ctx.stats.errors[cases[i].err] == 1, "case %u", i);
		no_violation();
		const char *bad = trec_check_splits(&ctx, s, 3, 20);
		ck_assert_msg(bad == NULL, "case %u: %s", i, bad);
	}
	/* bare LF line endings are accepted (RFC 9112 allows it) */
	trec_init(rec);
	const struct txn_step lf[] = {REQ("GET / HTTP/1.1\nHost: a\n\n"),
				      RESP("HTTP/1.1 200 OK\nContent-Length: 1\n\nx")};
	ck_assert_int_eq(RUN(lf), TXN_CONN_OK);
	ck_assert_uint_eq(rec->ndone, 1);
	ck_assert_uint_eq(rec->done[0].req_end, strlen("GET / HTTP/1.1\nHost: a\n\n"));
}
END_TEST

START_TEST(oversize_header)
{
	size_t big = 1 << 20;
	char *line = malloc(big + 64);
	ck_assert_ptr_nonnull(line);
	strcpy(line, "GET / HTTP/1.1\r\nX-Big: ");
	size_t l = strlen(line);
	memset(line + l, 'a', big);
	memcpy(line + l + big, "\r\n\r\n", 4);
	const struct txn_step s[] = {REQN(line, l + big + 4), RESP(OK5)};
	ck_assert_int_eq(RUN(s), TXN_CONN_ERROR);
	no_violation();
	ck_assert_uint_eq(ctx.stats.errors[TXN_ERR_HEADER_SIZE], 1);
	ck_assert_uint_eq(rec->ndone, 1);
	ck_assert_int_eq(rec->done[0].end, TXN_END_ERROR);
	/* the same a byte at a time: still exactly one error */
	trec_init(rec);
	memset(&ctx.stats, 0, sizeof(ctx.stats));
	trec_run(&ctx, s, 1, SPLIT_BYTES, 0, rec);
	ck_assert_uint_eq(ctx.stats.errors[TXN_ERR_HEADER_SIZE], 1);
	ck_assert_uint_le(ctx.stats.ignored_bytes, big);
	free(line);
}
END_TEST

/* A request whose header section is exactly n bytes. */
static size_t make_request(char *buf, size_t n)
{
	const char *head = "GET / HTTP/1.1\r\nX: ";
	size_t h = strlen(head);
	memcpy(buf, head, h);
	memset(buf + h, 'v', n - h - 4);
	memcpy(buf + n - 4, "\r\n\r\n", 4);
	return n;
}

START_TEST(header_limit_boundary)
{
	txn_parser_ctx_free(&ctx);
	setup_cfg(64, 1024);
	char buf[2048];
	size_t n = make_request(buf, 1024);
	const struct txn_step ok[] = {REQN(buf, n), RESP(OK5)};
	ck_assert_int_eq(RUN(ok), TXN_CONN_OK);
	ck_assert_uint_eq(rec->ndone, 1);
	ck_assert_uint_eq(rec->done[0].req_end, 1024);

	trec_init(rec);
	n = make_request(buf, 1025);
	const struct txn_step bad[] = {REQN(buf, n)};
	ck_assert_int_eq(RUN(bad), TXN_CONN_ERROR);
	ck_assert_uint_eq(ctx.stats.errors[TXN_ERR_HEADER_SIZE], 1);

	/* a chunk-size line with 2000 bytes of extensions */
	trec_init(rec);
	char req[4096];
	int k =
	    snprintf(req, sizeof(req), "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;");
	memset(req + k, 'e', 2000);
	memcpy(req + k + 2000, "\r\na\r\n0\r\n\r\n", 10);
	const struct txn_step ch[] = {REQN(req, (size_t)k + 2010)};
	ck_assert_int_eq(RUN(ch), TXN_CONN_ERROR);
	ck_assert_uint_eq(ctx.stats.errors[TXN_ERR_HEADER_SIZE], 2);
}
END_TEST

START_TEST(bad_content_length)
{
	static const char *const reqs[] = {
	    "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
	    "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
	    "POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n",
	    "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
	    "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
	    "POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n",
	};
	for (unsigned i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		trec_init(rec);
		memset(&ctx.stats, 0, sizeof(ctx.stats));
		const struct txn_step s[] = {REQ(reqs[i]), EOF_RESP};
		ck_assert_int_eq(RUN(s), TXN_CONN_ERROR);
		ck_assert_msg(ctx.stats.errors[TXN_ERR_CONTENT_LENGTH] == 1, "case %u", i);
		no_violation();
	}
	/* the largest allowed length is fine */
	trec_init(rec);
	const struct txn_step big[] = {
	    REQ("POST / HTTP/1.1\r\nContent-Length: 9223372036854775807\r\n\r\nab")};
	ck_assert_int_eq(RUN(big), TXN_CONN_OK);
	/* and in a response */
	trec_init(rec);
	memset(&ctx.stats, 0, sizeof(ctx.stats));
	const struct txn_step r[] = {
	    REQ(GET1), RESP("HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551600\r\n\r\n")};
	ck_assert_int_eq(RUN(r), TXN_CONN_ERROR);
	ck_assert_uint_eq(ctx.stats.errors[TXN_ERR_CONTENT_LENGTH], 1);
	ck_assert_int_eq(rec->done[0].end, TXN_END_ERROR);
}
END_TEST

START_TEST(bad_chunk_size)
{
	static const char *const bodies[] = {"zz\r\n", "8000000000000000\r\n",
					     "fffffffffffffffff\r\n", "-1\r\n", "\r\n"};
	for (unsigned i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		char buf[256];
		trec_init(rec);
		memset(&ctx.stats, 0, sizeof(ctx.stats));
		snprintf(buf, sizeof(buf),
			 "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n%s", bodies[i]);
		const struct txn_step s[] = {REQ(buf), EOF_RESP};
		ck_assert_int_eq(RUN(s), TXN_CONN_ERROR);
		ck_assert_msg(ctx.stats.errors[TXN_ERR_CHUNK_SIZE] == 1, "case %u", i);
		no_violation();
	}
}
END_TEST

START_TEST(gap_in_body_stepped)
{
	/* request body of 10 with a 6-byte hole in the middle */
	const char *h = "POST /g HTTP/1.1\r\nContent-Length: 10\r\n\r\n";
	const struct txn_step s[] = {REQ(h),
				     REQ("ab"),
				     GAP(TXN_DIR_REQUEST, 6),
				     REQ("yz" GET_B),
				     RESP(OK5),
				     RESP("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nxy"),
				     GAP(TXN_DIR_RESPONSE, 5),
				     RESP("z")};
	ck_assert_int_eq(RUN(s), TXN_CONN_OK);
	no_violation();
	ck_assert_uint_eq(rec->ndone, 2);
	ck_assert_uint_eq(rec->done[0].req_end, strlen(h) + 10);
	ck_assert_uint_eq(rec->done[0].req_body_bytes, 10);
	ck_assert(rec->done[0].flags & TXN_F_GAP_IN_BODY);
	ck_assert_int_eq(rec->done[1].end, TXN_END_COMPLETE);
	ck_assert_uint_eq(rec->done[1].resp_body_bytes, 8);
	ck_assert(rec->done[1].flags & TXN_F_GAP_IN_BODY);
	ck_assert_uint_eq(ctx.stats.gaps_stepped, 2);
	SPLITS(s);
}
END_TEST

START_TEST(gap_unsync)
{
	/* a hole in the headers: nothing after it is guessed */
	const struct txn_step s[] = {REQ("GET /a HTTP/1.1\r\nHo"), GAP(TXN_DIR_REQUEST, 10),
				     REQ("\r\n\r\n" GET_B), RESP(OK5 R_GET)};
	ck_assert_int_eq(RUN(s), TXN_CONN_UNSYNC);
	no_violation();
	ck_assert_uint_eq(ctx.stats.conn_unsync, 1);
	ck_assert_uint_eq(rec->ndone, 1);
	/* its response is still matched first in first out */
	ck_assert_int_eq(rec->done[0].end, TXN_END_GAP);
	ck_assert(rec->done[0].resp_complete);
	ck_assert(rec->done[0].flags & TXN_F_REQ_TRUNCATED);

	/* a hole longer than the body left */
	trec_init(rec);
	const struct txn_step l[] = {REQ(GET1),
				     RESP("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab"),
				     GAP(TXN_DIR_RESPONSE, 3), RESP("HTTP/1.1 200 OK\r\n\r\n")};
	ck_assert_int_eq(RUN(l), TXN_CONN_UNSYNC);
	ck_assert_uint_eq(rec->ndone, 1);
	ck_assert_int_eq(rec->done[0].end, TXN_END_GAP);

	/* an implicit hole: data beyond the expected offset */
	trec_init(rec);
	struct txn_consumer c = trec_consumer(rec);
	struct txn_parser *p = txn_parser_new(&ctx, &c);
	ck_assert_ptr_nonnull(p);
	txn_parser_data(p, TXN_DIR_REQUEST, 0, "GET / HTTP/1.1\r\n", 16);
	txn_parser_data(p, TXN_DIR_REQUEST, 20, "\r\n", 2);
	ck_assert_int_eq(txn_parser_state(p), TXN_CONN_UNSYNC);
	ck_assert(!txn_parser_active(p, TXN_DIR_REQUEST));
	ck_assert_uint_eq(txn_parser_offset(p, TXN_DIR_REQUEST), 22);
	txn_parser_end(p, TXN_END_ABORT);
	txn_parser_free(p);
	ck_assert_uint_eq(rec->begins, rec->ends);
}
END_TEST

START_TEST(close_delimited_gap)
{
	const struct txn_step cd[] = {REQ(GET1), RESP(R_CLOSE), GAP(TXN_DIR_RESPONSE, 1000),
				      RESP("tail"), EOF_RESP};
	ck_assert_int_eq(RUN(cd), TXN_CONN_OK);
	ck_assert_uint_eq(rec->ndone, 1);
	ck_assert_int_eq(rec->done[0].end, TXN_END_COMPLETE);
	ck_assert_uint_eq(rec->done[0].resp_end, strlen(R_CLOSE) + 1004);
	ck_assert_uint_eq(rec->done[0].resp_body_bytes, strlen("all of this until FIN") + 1004);
}
END_TEST

START_TEST(unsolicited_and_pending_limit)
{
	const struct txn_step s[] = {RESP(OK5)};
	ck_assert_int_eq(RUN(s), TXN_CONN_ERROR);
	ck_assert_uint_eq(ctx.stats.errors[TXN_ERR_UNSOLICITED], 1);

	txn_parser_ctx_free(&ctx);
	setup_cfg(2, 64 * 1024);
	const struct txn_step p[] = {REQ(GET1 GET1 GET1), RESP(OK5 OK5)};
	ck_assert_int_eq(RUN(p), TXN_CONN_ERROR);
	no_violation();
	ck_assert_uint_eq(ctx.stats.errors[TXN_ERR_PENDING], 1);
	ck_assert_uint_eq(rec->ndone, 2);
	ck_assert_int_eq(rec->done[0].end, TXN_END_COMPLETE);
	ck_assert_int_eq(rec->done[1].end, TXN_END_COMPLETE);
}
END_TEST

START_TEST(transaction_id_header)
{
	const struct txn_step s[] = {
	    REQ("GET /aux HTTP/1.1\r\nHost: a\r\nx-craft-txn: c612000a1f900003\r\n\r\n"
		"GET /aux HTTP/1.1\r\nX-Craft-Txn: zz\r\nX-Craft-Txn-Other: 1\r\n\r\n"
		"GET /aux HTTP/1.1\r\nX-Craft-Tx: 1\r\nX-Craft-Txn:  0x2a \r\n\r\n"),
	    RESP(OK5 OK5 OK5)};
	RUN(s);
	no_violation();
	ck_assert_uint_eq(rec->ndone, 3);
	ck_assert(rec->done[0].has_txn_id);
	ck_assert_uint_eq(rec->done[0].txn_id, 0xc612000a1f900003ull);
	ck_assert_uint_eq(txn_id_ipv4(rec->done[0].txn_id), 0xc612000au);
	ck_assert_uint_eq(txn_id_port(rec->done[0].txn_id), 8080);
	ck_assert_uint_eq(txn_id_ordinal(rec->done[0].txn_id), 3);
	ck_assert(!rec->done[1].has_txn_id);
	ck_assert(rec->done[1].flags & TXN_F_ID_INVALID);
	ck_assert(rec->done[2].has_txn_id);
	ck_assert_uint_eq(rec->done[2].txn_id, 0x2a);
	ck_assert_uint_eq(ctx.stats.ids, 2);
	ck_assert_uint_eq(ctx.stats.ids_invalid, 1);
	SPLITS(s);
}
END_TEST

START_TEST(txn_id_helpers)
{
	uint64_t id = txn_id_make(0xC612000Au, 8080, 3);
	ck_assert_uint_eq(id, 0xC612000A1F900003ull);
	char buf[17];
	ck_assert_int_eq(txn_id_format(id, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "c612000a1f900003");
	ck_assert_int_eq(txn_id_format(id, buf, 16), -ENOSPC);
	uint64_t v;
	ck_assert_int_eq(txn_id_parse(buf, 16, &v), 0);
	ck_assert_uint_eq(v, id);
	ck_assert_int_eq(txn_id_parse("0x1F", 4, &v), 0);
	ck_assert_uint_eq(v, 0x1f);
	ck_assert_int_eq(txn_id_parse("", 0, &v), -EINVAL);
	ck_assert_int_eq(txn_id_parse("0x", 2, &v), -EINVAL);
	ck_assert_int_eq(txn_id_parse("12345678901234567", 17, &v), -EINVAL);
	ck_assert_int_eq(txn_id_parse("12g", 3, &v), -EINVAL);
	ck_assert_uint_eq(txn_id_ordinal(txn_id_make(1, 2, 65535)), 65535);
	ck_assert_uint_eq(txn_id_port(txn_id_make(0xffffffffu, 65535, 0)), 65535);
	ck_assert_uint_eq(txn_id_ipv4(txn_id_make(0xffffffffu, 0, 0)), 0xffffffffu);
}
END_TEST

START_TEST(eof_mid_request_and_early_response)
{
	const struct txn_step s[] = {REQ("GET /x HTTP/1.1\r\nHo"), EOF_REQ, EOF_RESP};
	RUN(s);
	no_violation();
	ck_assert_uint_eq(ctx.stats.eof_mid_request, 1);
	ck_assert_uint_eq(rec->ndone, 1);
	ck_assert_int_eq(rec->done[0].end, TXN_END_EOF);
	ck_assert(rec->done[0].flags & TXN_F_REQ_TRUNCATED);

	/* the server refuses an upload before it is complete */
	trec_init(rec);
	const char *r413 =
	    "HTTP/1.1 413 Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
	const struct txn_step e[] = {
	    REQ("PUT /f HTTP/1.1\r\nContent-Length: 100\r\n\r\n0123456789"), RESP(r413),
	    REQ("more"), EOF_RESP};
	ck_assert_int_eq(RUN(e), TXN_CONN_OK);
	no_violation();
	ck_assert_uint_eq(rec->ndone, 1);
	ck_assert_int_eq(rec->done[0].end, TXN_END_EOF);
	ck_assert(rec->done[0].resp_complete);
	ck_assert(!rec->done[0].req_complete);
	ck_assert_uint_eq(rec->done[0].status, 413);
	ck_assert_uint_eq(rec->done[0].resp_end, strlen(r413));
	ck_assert_uint_eq(rec->done[0].req_body_bytes, 14);
}
END_TEST

START_TEST(target_truncated_and_overlap)
{
	char req[2048];
	int n = snprintf(req, sizeof(req), "GET /");
	memset(req + n, 'p', 1000);
	n += 1000;
	n += snprintf(req + n, sizeof(req) - (size_t)n, " HTTP/1.1\r\n\r\n");
	struct txn_consumer c = trec_consumer(rec);
	struct txn_parser *p = txn_parser_new(&ctx, &c);
	ck_assert_ptr_nonnull(p);
	txn_parser_data(p, TXN_DIR_REQUEST, 0, req, 300);
	txn_parser_data(p, TXN_DIR_REQUEST, 100, req + 100, (size_t)n - 100); /* overlaps */
	txn_parser_data(p, TXN_DIR_REQUEST, 0, req, 50);		      /* all old */
	ck_assert_uint_eq(ctx.stats.overlap_bytes, 200 + 50);
	txn_parser_data(p, TXN_DIR_RESPONSE, 0, OK5, strlen(OK5));
	ck_assert_int_eq(txn_parser_state(p), TXN_CONN_OK);
	ck_assert_uint_eq(txn_parser_pending(p), 0);
	txn_parser_free(p);
	ck_assert_uint_eq(rec->ndone, 1);
	ck_assert(rec->done[0].flags & TXN_F_TARGET_TRUNCATED);
	ck_assert_uint_eq(strlen(rec->done[0].target), TXN_TARGET_MAX - 1);
	ck_assert_uint_eq(rec->done[0].req_end, (uint64_t)n);
	ck_assert_uint_eq(ctx.stats.target_truncated, 1);
	ck_assert_int_eq(txn_parser_data(p = txn_parser_new(&ctx, NULL), 5, 0, "x", 1), -EINVAL);
	txn_parser_free(p);
}
END_TEST

START_TEST(abort_and_stats)
{
	const struct txn_step s[] = {REQ(GET1 GET1), RESP("HTTP/1.1 200 OK\r\n"), END_ALL,
				     RESP("more"), REQ(GET1)};
	RUN(s);
	no_violation();
	ck_assert_uint_eq(rec->ndone, 2);
	ck_assert_int_eq(rec->done[0].end, TXN_END_ABORT);
	ck_assert_uint_eq(ctx.stats.ignored_bytes, 4 + strlen(GET1));

	struct stats_report r;
	stats_reset(&r);
	txn_parser_collect_stats(&ctx, &r, "txn");
	ck_assert_uint_eq(r.overflow, 0);
	ck_assert_uint_eq(stats_get(&r, "txn_transactions"), 2);
	ck_assert_uint_eq(stats_get(&r, "txn_ended_abort"), 2);
	ck_assert_uint_eq(stats_get(&r, "txn_connections"), 1);
	ck_assert_uint_eq(stats_get(&r, "txn_err_syntax"), 0);
}
END_TEST

/* Many transactions over a long connection: the queue does not grow. */
START_TEST(long_keep_alive)
{
	struct txn_consumer c = trec_consumer(rec);
	struct txn_parser *p = txn_parser_new(&ctx, &c);
	uint64_t qo = 0, so = 0;
	for (unsigned i = 0; i < 2000; i++) {
		txn_parser_data(p, TXN_DIR_REQUEST, qo, GET1, strlen(GET1));
		qo += strlen(GET1);
		txn_parser_data(p, TXN_DIR_RESPONSE, so, OK5, strlen(OK5));
		so += strlen(OK5);
	}
	ck_assert_int_eq(txn_parser_state(p), TXN_CONN_OK);
	ck_assert_uint_eq(txn_parser_pending(p), 0);
	ck_assert_uint_le(p->cap, 2);
	txn_parser_free(p);
	ck_assert_uint_eq(ctx.stats.ended[TXN_END_COMPLETE], 2000);
	ck_assert_msg(rec->violation[0] == '\0', "%s", rec->violation);
}
END_TEST

Suite *http_txn_suite(void);

Suite *http_txn_suite(void)
{
	Suite *s = suite_create("http_txn");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, simple_get);
	tcase_add_test(tc, pipelined_head_get);
	tcase_add_test(tc, expect_100_continue);
	tcase_add_test(tc, chunked_both_ways);
	tcase_add_test(tc, no_body_statuses);
	tcase_add_test(tc, close_delimited);
	tcase_add_test(tc, eof_cuts_response);
	tcase_add_test(tc, keep_alive_and_close);
	tcase_add_test(tc, upgrade_accepted);
	tcase_add_test(tc, upgrade_refused);
	tcase_add_test(tc, connect_tunnel);
	tcase_add_test(tc, garbage);
	tcase_add_test(tc, strict_framing);
	tcase_add_test(tc, oversize_header);
	tcase_add_test(tc, header_limit_boundary);
	tcase_add_test(tc, bad_content_length);
	tcase_add_test(tc, bad_chunk_size);
	tcase_add_test(tc, gap_in_body_stepped);
	tcase_add_test(tc, gap_unsync);
	tcase_add_test(tc, close_delimited_gap);
	tcase_add_test(tc, unsolicited_and_pending_limit);
	tcase_add_test(tc, transaction_id_header);
	tcase_add_test(tc, txn_id_helpers);
	tcase_add_test(tc, eof_mid_request_and_early_response);
	tcase_add_test(tc, target_truncated_and_overlap);
	tcase_add_test(tc, abort_and_stats);
	tcase_add_test(tc, long_keep_alive);
	suite_add_tcase(s, tc);
	return s;
}
