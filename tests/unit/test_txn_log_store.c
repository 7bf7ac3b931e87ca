/* test_txn_log_store.c - the store observer: a scripted conversation run
 * through txn_log into a real database, then the rows checked with SQL:
 * connections, transactions with states and status, tags, sequence offsets
 * in the database convention (stream offset + 1), AckCL marks, payload rows
 * (bounded in size, bytes identical), and a digest row for a response too
 * big to keep. */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "helper_conv.h"
#include "helper_store.h"
#include "txn_log_store.h"

Suite *txn_log_store_suite(void);

static const char REQ1[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
static const char REQ2[] = "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
static const char RESP2[] = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
#define L(s) (sizeof(s) - 1)

static void tweak(struct txn_log_config *cfg)
{
	cfg->max_kept_message = 20000;
	cfg->payload_row_bytes = 1000;
	cfg->persist_requests = TXN_LOG_PERSIST_ALL;
}

static int64_t next_id(void *arg)
{
	return store_next_conn_id(arg);
}

START_TEST(test_rows)
{
	struct store *st = ts_open_store(NULL);
	struct txn_log *l = conv_make_log(tweak);
	txn_log_set_conn_ids(l, next_id, st);
	struct txn_log_store o;
	ck_assert_int_eq(txn_log_store_init(&o, st, l, 64 * 1024), 0);
	struct txn_log_observer ob = txn_log_store_observer(&o);
	txn_log_add_observer(l, &ob);

	struct conv v;
	conv_init(&v, l, 40000, 80);
	conv_handshake(&v);
	conv_client_s(&v, REQ1);
	static char body[6000];
	char head[128];
	int h = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
			 sizeof(body));
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (char)('a' + i % 26);
	conv_server(&v, head, (size_t)h);
	conv_server(&v, body, sizeof(body));
	conv_client_ack(&v);
	conv_client_s(&v, REQ2);
	conv_server_s(&v, RESP2);
	/* a response over max_kept_message: a digest, no payload */
	static char big[50000];
	memset(big, 'z', sizeof(big));
	conv_client_s(&v, REQ1);
	h = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
		     sizeof(big));
	conv_server(&v, head, (size_t)h);
	conv_server(&v, big, sizeof(big));
	conv_client_ack(&v);
	conv_fin(&v, true);
	conv_fin(&v, false);
	txn_log_destroy(l);
	txn_log_store_free(&o);
	ck_assert_int_eq(store_close(st), 0);
	ck_assert_uint_eq(o.s.dropped_full, 0);
	ck_assert_uint_eq(o.s.rejected, 0);

	sqlite3 *db = ts_open_ro();
	char buf[256];
	ck_assert_int_eq(ts_query_i64(db, "SELECT count(*) FROM connections"), 1);
	ck_assert_str_eq(ts_query_text(db, "SELECT state FROM connections", buf, sizeof(buf)),
			 "closed");
	ck_assert_int_eq(ts_query_i64(db, "SELECT isn_server FROM connections"), (int64_t)v.sisn);
	ck_assert_int_eq(ts_query_i64(db, "SELECT client_ip FROM connections"), CONV_CLIENT);
	ck_assert_int_eq(ts_query_i64(db, "SELECT count(*) FROM transactions WHERE state = "
					  "'complete'"),
			 3);
	ck_assert_int_eq(ts_query_i64(db, "SELECT count(*) FROM tags"), 3);
	ck_assert_int_eq(ts_query_i64(db, "SELECT status FROM transactions WHERE txn_id & 65535 "
					  "= 2"),
			 201);
	ck_assert_str_eq(ts_query_text(db,
				       "SELECT summary FROM transactions WHERE txn_id & "
				       "65535 = 2",
				       buf, sizeof(buf)),
			 "POST /c");
	char head1[128];
	uint64_t p1 =
	    (uint64_t)snprintf(head1, sizeof(head1),
			       "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", sizeof(body)) +
	    sizeof(body);
	/* offsets: stream offset + 1 */
	ck_assert_int_eq(ts_query_i64(db, "SELECT req_start FROM v_transactions WHERE ordinal = 1"),
			 1);
	ck_assert_int_eq(ts_query_i64(db, "SELECT req_end FROM v_transactions WHERE ordinal = 1"),
			 (int64_t)L(REQ1) + 1);
	ck_assert_int_eq(ts_query_i64(db, "SELECT resp_end FROM v_transactions WHERE ordinal = 1"),
			 (int64_t)p1 + 1);
	ck_assert_int_eq(ts_query_i64(db, "SELECT resp_start FROM v_transactions WHERE ordinal = "
					  "2"),
			 (int64_t)p1 + 1);
	ck_assert_int_eq(ts_query_i64(db, "SELECT response_bytes FROM v_transactions WHERE "
					  "ordinal = 1"),
			 (int64_t)p1);
	/* payloads: response 1 in rows of at most 1000 bytes, byte-exact */
	ck_assert_int_eq(ts_query_i64(db, "SELECT max(length(data)) FROM payloads"), 1000);
	ck_assert_int_eq(ts_query_i64(db, "SELECT sum(length(data)) FROM payloads WHERE "
					  "direction = 'response' AND txn_id & 65535 = 1"),
			 (int64_t)p1);
	ck_assert_int_eq(ts_query_i64(db, "SELECT min(rel_offset) FROM payloads WHERE "
					  "direction = 'response' AND txn_id & 65535 = 1"),
			 1);
	ck_assert_str_eq(ts_query_text(db,
				       "SELECT data FROM payloads WHERE direction = "
				       "'request' AND txn_id & 65535 = 2",
				       buf, sizeof(buf)),
			 REQ2);
	ck_assert_int_eq(ts_query_i64(db, "SELECT count(*) FROM payloads WHERE txn_id & 65535 = 3 "
					  "AND direction = 'response'"),
			 0);
	/* the digest of the big one */
	ck_assert_int_eq(ts_query_i64(db, "SELECT count(*) FROM digests"), 1);
	ck_assert_int_eq(ts_query_i64(db, "SELECT length FROM digests"),
			 (int64_t)(h + sizeof(big)));
	ck_assert_int_eq(ts_query_i64(db, "SELECT complete * 10 + hash_ok FROM digests"), 11);
	uint8_t want[32];
	crypto_hash_sha256_state hs;
	crypto_hash_sha256_init(&hs);
	crypto_hash_sha256_update(&hs, (const uint8_t *)head, (size_t)h);
	crypto_hash_sha256_update(&hs, (const uint8_t *)big, sizeof(big));
	crypto_hash_sha256_final(&hs, want);
	char hex[65];
	sodium_bin2hex(hex, sizeof(hex), want, 32);
	ck_assert_str_eq(
	    ts_query_text(db, "SELECT lower(hex(sha256)) FROM digests", buf, sizeof(buf)), hex);
	/* marks: the last AckCL acknowledges everything the server sent */
	uint64_t total = p1 + L(RESP2) + (uint64_t)h + sizeof(big);
	ck_assert_int_eq(ts_query_i64(db, "SELECT last_server_byte FROM conn_marks"),
			 (int64_t)total + 1);
	ck_assert_int_eq(ts_query_i64(db, "SELECT ack_cl FROM conn_marks"), (int64_t)total + 1);
	sqlite3_close(db);
}
END_TEST

Suite *txn_log_store_suite(void)
{
	Suite *s = suite_create("txn_log_store");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, ts_setup, ts_teardown);
	tcase_add_test(tc, test_rows);
	suite_add_tcase(s, tc);
	return s;
}
