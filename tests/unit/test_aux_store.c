/* test_aux_store.c - the aux logger's memory of aux answers, fed by a real
 * txn_log in aux mode (scripted TCP conversations, helper_conv): an aux
 * request is PENDING until its response completed, then ANSWERED with
 * exactly the response bytes (keyed by the ID its line carried and by the
 * aux server's address and port, not by the connection); a transaction
 * that ends unanswered is forgotten; the first answer of an ID stays when
 * the ID comes again; other ports and the front's X-Craft-Txn are not
 * kept; the ring evicts the oldest; a response over max_response is not
 * kept. And aux_request_id, the parser of the diverted side, reads the
 * same IDs from lines and HTTP heads, frames what follows, and refuses
 * what it cannot frame. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "aux_request.h"
#include "aux_store.h"
#include "config.h"
#include "helper_conv.h"

#define ID1   0x00c6120b9c400003ull
#define REQ_1 "craft00c6120b9c400003 SEND bob%40x s1 -\n"
#define ANS_1 "craft00c6120b9c400003 OK 1\n"

static void aux_mode(struct txn_log_config *cfg)
{
	char err[128];
	cfg->aux = true;
	ck_assert_int_eq(config_set(txn_parser_config_keys, &cfg->parser, "transactions",
				    "line_response", "line", err, sizeof(err)),
			 0);
	ck_assert_int_eq(config_set(txn_parser_config_keys, &cfg->parser, "transactions",
				    "line_pattern", "^craft[0-9a-f]+ (OK|NO|BAD)", err,
				    sizeof(err)),
			 0);
}

static struct txn_log *make(struct aux_store *s, uint32_t entries, uint64_t max_response)
{
	struct txn_log *l = conv_make_log(aux_mode);
	const struct aux_store_config cfg = {
	    .port = 7000, .max_entries = entries, .max_response = max_response};
	ck_assert_int_eq(aux_store_init(s, &cfg, l), 0);
	struct txn_log_observer o = aux_store_observer(s);
	ck_assert_int_eq(txn_log_add_observer(l, &o), 0);
	return l;
}

static enum aux_lookup find(const struct aux_store *s, uint64_t id, const char **data, size_t *len)
{
	const uint8_t *d = NULL;
	enum aux_lookup r = aux_store_find(s, CONV_SERVER, 7000, id, &d, len);
	*data = (const char *)d;
	return r;
}

START_TEST(pending_then_answered)
{
	struct aux_store s;
	struct txn_log *l = make(&s, 16, 4096);
	struct conv v;
	const char *d;
	size_t n;
	conv_init(&v, l, 40001, 7000);
	conv_handshake(&v);
	ck_assert_int_eq(find(&s, ID1, &d, &n), AUX_UNKNOWN);
	conv_client_s(&v, REQ_1);
	ck_assert_int_eq(find(&s, ID1, &d, &n), AUX_PENDING);
	conv_server_s(&v, "craft00c6120b9c400003 OK");
	ck_assert_int_eq(find(&s, ID1, &d, &n), AUX_PENDING);
	conv_server_s(&v, " 1\n");
	ck_assert_int_eq(find(&s, ID1, &d, &n), AUX_ANSWERED);
	ck_assert_uint_eq(n, strlen(ANS_1));
	ck_assert_mem_eq(d, ANS_1, n);
	/* the same ID at another server is another request */
	const uint8_t *x;
	ck_assert_int_eq(aux_store_find(&s, CONV_SERVER + 1, 7000, ID1, &x, &n), AUX_UNKNOWN);
	ck_assert_int_eq(aux_store_find(&s, CONV_SERVER, 7001, ID1, &x, &n), AUX_UNKNOWN);
	/* the connection closing does not lose it */
	conv_fin(&v, true);
	conv_fin(&v, false);
	txn_log_finish(l);
	ck_assert_int_eq(find(&s, ID1, &d, &n), AUX_ANSWERED);
	ck_assert_mem_eq(d, ANS_1, n);
	ck_assert_uint_eq(s.c.requests, 1);
	ck_assert_uint_eq(s.c.answers_kept, 1);
	txn_log_destroy(l);
	aux_store_free(&s);
}
END_TEST

START_TEST(unanswered_forgotten_first_answer_kept)
{
	struct aux_store s;
	struct txn_log *l = make(&s, 16, 4096);
	struct conv v, w;
	const char *d;
	size_t n;
	conv_init(&v, l, 40002, 7000);
	conv_handshake(&v);
	conv_client_s(&v, REQ_1);
	ck_assert_int_eq(find(&s, ID1, &d, &n), AUX_PENDING);
	conv_rst(&v, false); /* the aux server never answered */
	txn_log_expire(l, v.t_us + 60000000ull);
	ck_assert_int_eq(find(&s, ID1, &d, &n), AUX_UNKNOWN);
	ck_assert_uint_eq(s.c.ended_unanswered, 1);
	/* asked again, answered; a third time answered differently: the
	 * first answer is what the application saw, it stays */
	conv_init(&w, l, 40003, 7000);
	conv_handshake(&w);
	conv_client_s(&w, REQ_1);
	conv_server_s(&w, ANS_1);
	conv_client_s(&w, REQ_1);
	conv_server_s(&w, "craft00c6120b9c400003 OK 2\n");
	ck_assert_int_eq(find(&s, ID1, &d, &n), AUX_ANSWERED);
	ck_assert_mem_eq(d, ANS_1, n);
	ck_assert_uint_eq(s.c.duplicate_ids, 1);
	txn_log_destroy(l);
	aux_store_free(&s);
}
END_TEST

START_TEST(only_aux_port_bounds)
{
	struct aux_store s;
	struct txn_log *l = make(&s, 2, 16);
	struct conv v, f;
	const char *d;
	size_t n;
	/* the front: X-Craft-Txn on port 80 is not an aux request */
	conv_init(&f, l, 40004, 80);
	conv_handshake(&f);
	conv_client_s(&f, "GET / HTTP/1.1\r\nX-Craft-Txn: 00c6120b9c400003\r\n\r\n");
	conv_server_s(&f, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	ck_assert_int_eq(find(&s, ID1, &d, &n), AUX_UNKNOWN);
	ck_assert_uint_eq(s.c.requests, 0);
	/* over max_response (16 bytes): not kept, the replay is relayed */
	conv_init(&v, l, 40005, 7000);
	conv_handshake(&v);
	conv_client_s(&v, REQ_1);
	conv_server_s(&v, ANS_1);
	ck_assert_int_eq(find(&s, ID1, &d, &n), AUX_UNKNOWN);
	ck_assert_uint_eq(s.c.answers_too_long, 1);
	/* the ring of 2: the third ID pushes out the first */
	conv_client_s(&v, "craft01 NOOP\n");
	conv_server_s(&v, "craft01 OK 0\n");
	conv_client_s(&v, "craft02 NOOP\n");
	conv_server_s(&v, "craft02 OK 0\n");
	conv_client_s(&v, "craft03 NOOP\n");
	conv_server_s(&v, "craft03 OK 0\n");
	ck_assert_int_eq(find(&s, 1, &d, &n), AUX_UNKNOWN);
	ck_assert_int_eq(find(&s, 2, &d, &n), AUX_ANSWERED);
	ck_assert_int_eq(find(&s, 3, &d, &n), AUX_ANSWERED);
	ck_assert_mem_eq(d, "craft03 OK 0\n", n);
	ck_assert_uint_ge(s.c.evicted, 1);
	txn_log_destroy(l);
	aux_store_free(&s);
}
END_TEST

START_TEST(request_ids)
{
	struct aux_request_rule line = {.proto = TXN_PROTO_LINE, .prefix = "craft"};
	struct aux_request_rule http = {.proto = TXN_PROTO_HTTP, .header = "X-Craft-Txn"};
	uint64_t id = 0;
	size_t used = 0;
	const char two[] = REQ_1 "craft01 NOOP\r\n";
	ck_assert_int_eq(aux_request_id(&line, (const uint8_t *)two, strlen(two), &id, &used), 1);
	ck_assert_uint_eq(id, ID1);
	ck_assert_uint_eq(used, strlen(REQ_1));
	ck_assert_int_eq(
	    aux_request_id(&line, (const uint8_t *)two + used, strlen(two) - used, &id, &used), 1);
	ck_assert_uint_eq(id, 1);
	ck_assert_int_eq(aux_request_id(&line, (const uint8_t *)REQ_1, 10, &id, &used), 0);
	static const char *const bad_lines[] = {"STATS\n",
						"craft SEND\n",
						"craftxyz SEND\n",
						"craft0x1 SEND\n",
						"craft00000000000000001 SEND\n",
						"xcraft01 SEND\n"};
	for (size_t i = 0; i < sizeof(bad_lines) / sizeof(bad_lines[0]); i++)
		ck_assert_msg(aux_request_id(&line, (const uint8_t *)bad_lines[i],
					     strlen(bad_lines[i]), &id, &used) == -1,
			      "%s", bad_lines[i]);
	const char post[] = "POST /mail HTTP/1.1\r\nContent-Length: 4\r\n"
			    "x-craft-txn:  00c6120b9c400003 \r\n\r\nbodyGET / HTTP/1.1\r\n\r\n";
	size_t head = strlen(post) - strlen("GET / HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(aux_request_id(&http, (const uint8_t *)post, strlen(post), &id, &used), 1);
	ck_assert_uint_eq(id, ID1);
	ck_assert_uint_eq(used, head);
	ck_assert_int_eq(aux_request_id(&http, (const uint8_t *)post, head - 1, &id, &used), 0);
	static const char *const bad_heads[] = {
	    "GET / HTTP/1.1\r\n\r\n",
	    "GET / HTTP/1.1\r\nX-Craft-Txn: zz\r\n\r\n",
	    "POST / HTTP/1.1\r\nX-Craft-Txn: 01\r\nTransfer-Encoding: chunked\r\n\r\n",
	    "POST / HTTP/1.1\r\nX-Craft-Txn: 01\r\nContent-Length: 4x\r\n\r\n",
	    "GET / HTTP/1.1\r\nX-Craft-Txn-Auth: 01\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad_heads) / sizeof(bad_heads[0]); i++)
		ck_assert_msg(aux_request_id(&http, (const uint8_t *)bad_heads[i],
					     strlen(bad_heads[i]), &id, &used) == -1,
			      "%s", bad_heads[i]);
}
END_TEST

Suite *aux_store_suite(void);
Suite *aux_store_suite(void)
{
	Suite *s = suite_create("aux_store");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, pending_then_answered);
	tcase_add_test(tc, unanswered_forgotten_first_answer_kept);
	tcase_add_test(tc, only_aux_port_bounds);
	tcase_add_test(tc, request_ids);
	suite_add_tcase(s, tc);
	return s;
}
