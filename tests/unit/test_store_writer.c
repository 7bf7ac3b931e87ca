/* Unit tests of the store's queue and writer thread: the queue-full
 * policy (rows and bytes), batching by size and by delay, flush and close,
 * invalid and refused rows, connection IDs, concurrent producers, and the
 * operator views over rows of every kind. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helper_store.h"

/* ---- queue and writer ---- */

START_TEST(test_queue_full)
{
	struct store_config cfg;
	char blob[150];

	store_config_defaults(&cfg);
	cfg.queue_rows = 4;
	cfg.batch_rows = 100;	  /* never reached */
	cfg.max_delay_ms = 60000; /* writer holds off: the queue fills */
	cfg.queue_bytes = 200;
	struct store *st = ts_open_store(&cfg);

	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(ts_submit_counter(st, i), 0);
	ck_assert_int_eq(ts_submit_counter(st, 99), -EAGAIN);
	struct store_counters c = store_get_counters(st);
	ck_assert_uint_eq(c.submitted, 4);
	ck_assert_uint_eq(c.dropped_full, 1);
	ck_assert_uint_eq(c.dropped_full_by_stmt[STORE_COUNTER], 1);
	ck_assert_uint_eq(c.queued, 4);
	ck_assert_uint_eq(c.committed, 0);
	ck_assert_int_eq(store_flush(st, 2000), 0);
	c = store_get_counters(st);
	ck_assert_uint_eq(c.committed, 4);
	ck_assert_uint_eq(c.queued, 0);
	ck_assert_uint_eq(c.queued_max, 4);

	/* The byte bound: one 150-byte blob fits in 200, two do not. */
	memset(blob, 1, sizeof(blob));
	struct store_row r = {.stmt = STORE_PAYLOAD,
			      .nvals = 6,
			      .vals = {STORE_INT(1), STORE_INT(1), STORE_TEXT("request"),
				       STORE_INT(1), STORE_BLOB(blob, sizeof(blob)), STORE_INT(1)}};
	ck_assert_int_eq(store_submit(st, &r), 0);
	r.vals[3] = STORE_INT(151);
	ck_assert_int_eq(store_submit(st, &r), -EAGAIN);
	c = store_get_counters(st);
	ck_assert_uint_eq(c.dropped_full_by_stmt[STORE_PAYLOAD], 1);
	ck_assert_uint_eq(c.dropped_full, 2);
	ck_assert_int_eq(store_close(st), 0);
	ck_assert_int_eq(ts_count_rows("counters"), 4);
	ck_assert_int_eq(ts_count_rows("payloads"), 1);
}
END_TEST

struct commit_log {
	pthread_mutex_t lock;
	unsigned n;
	uint64_t rows[16], last[16];
};

static void record_commit(void *arg, uint64_t rows, uint64_t last_seq)
{
	struct commit_log *log = arg;

	pthread_mutex_lock(&log->lock);
	if (log->n < 16) {
		log->rows[log->n] = rows;
		log->last[log->n] = last_seq;
	}
	log->n++;
	pthread_mutex_unlock(&log->lock);
}

static unsigned commits_seen(struct commit_log *log, unsigned want, unsigned timeout_ms)
{
	unsigned n = 0;

	for (unsigned waited = 0; waited <= timeout_ms; waited += 5) {
		pthread_mutex_lock(&log->lock);
		n = log->n;
		pthread_mutex_unlock(&log->lock);
		if (n >= want)
			break;
		usleep(5000);
	}
	return n;
}

START_TEST(test_batch_commit)
{
	struct commit_log log = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct store_config cfg;

	store_config_defaults(&cfg);
	cfg.batch_rows = 10;
	cfg.max_delay_ms = 60000;
	cfg.on_commit = record_commit;
	cfg.on_commit_arg = &log;
	struct store *st = ts_open_store(&cfg);
	for (int i = 1; i <= 25; i++)
		ck_assert_int_eq(ts_submit_counter(st, i), 0);
	ck_assert_uint_eq(commits_seen(&log, 2, 3000), 2);
	ck_assert_uint_eq(log.rows[0], 10);
	ck_assert_uint_eq(log.last[0], 10);
	ck_assert_uint_eq(log.rows[1], 10);
	ck_assert_uint_eq(log.last[1], 20);
	usleep(20000); /* the last 5 wait for max_delay or a flush */
	ck_assert_uint_eq(commits_seen(&log, 3, 0), 2);
	ck_assert_int_eq(store_flush(st, 2000), 0);
	ck_assert_uint_eq(commits_seen(&log, 3, 0), 3);
	ck_assert_uint_eq(log.rows[2], 5);
	ck_assert_uint_eq(log.last[2], 25);
	struct store_counters c = store_get_counters(st);
	ck_assert_uint_eq(c.batches, 3);
	ck_assert_uint_eq(c.committed, 25);
	ck_assert_uint_eq(c.last_seq, 25);
	ck_assert_int_eq(store_close(st), 0);
	ck_assert_int_eq(ts_count_rows("counters"), 25);
}
END_TEST

START_TEST(test_max_delay)
{
	struct commit_log log = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct store_config cfg;

	store_config_defaults(&cfg);
	cfg.batch_rows = 1000;
	cfg.max_delay_ms = 30;
	cfg.on_commit = record_commit;
	cfg.on_commit_arg = &log;
	struct store *st = ts_open_store(&cfg);
	for (int i = 1; i <= 3; i++)
		ck_assert_int_eq(ts_submit_counter(st, i), 0);
	ck_assert_uint_eq(commits_seen(&log, 1, 2000), 1);
	ck_assert_uint_eq(log.rows[0], 3);
	ck_assert_uint_eq(log.last[0], 3);
	ck_assert_int_eq(store_close(st), 0);
}
END_TEST

START_TEST(test_close_flushes)
{
	struct store_config cfg;

	store_config_defaults(&cfg);
	cfg.batch_rows = 7;
	cfg.max_delay_ms = 60000;
	struct store *st = ts_open_store(&cfg);
	for (int i = 1; i <= 100; i++)
		ck_assert_int_eq(ts_submit_counter(st, i), 0);
	ck_assert_int_eq(store_close(st), 0);
	sqlite3 *db = ts_open_ro();
	ck_assert_int_eq(ts_query_i64(db, "SELECT count(*) FROM counters"), 100);
	ck_assert_int_eq(ts_query_i64(db, "SELECT sum(value) FROM counters"), 5050);
	sqlite3_close(db);
}
END_TEST

START_TEST(test_invalid_rows)
{
	struct store_config cfg;
	char big[65];

	store_config_defaults(&cfg);
	cfg.max_value_bytes = 64;
	struct store *st = ts_open_store(&cfg);
	struct store_row r = {.stmt = STORE_COUNTER,
			      .nvals = 3,
			      .vals = {STORE_TEXT("a"), STORE_TEXT("b"), STORE_INT(1)}};
	ck_assert_int_eq(store_submit(st, &r), -EINVAL);
	r.stmt = STORE_STMT_COUNT;
	r.nvals = 4;
	ck_assert_int_eq(store_submit(st, &r), -EINVAL);
	memset(big, 'x', sizeof(big));
	r = (struct store_row){
	    .stmt = STORE_COUNTER,
	    .nvals = 4,
	    .vals = {STORE_TEXT("a"), STORE_BLOB(big, sizeof(big)), STORE_INT(1), STORE_INT(1)}};
	ck_assert_int_eq(store_submit(st, &r), -EMSGSIZE);
	r.vals[1] = (struct store_value){.type = STORE_V_TEXT, .len = 3, .u.p = NULL};
	ck_assert_int_eq(store_submit(st, &r), -EINVAL);
	r.vals[1] = (struct store_value){.type = (enum store_vtype)42};
	ck_assert_int_eq(store_submit(st, &r), -EINVAL);
	/* Exactly the bound is fine; so is an empty text. */
	r.vals[1] = STORE_TEXT("");
	r.vals[0] = STORE_BLOB(big, 64);
	ck_assert_int_eq(store_submit(st, &r), 0);
	struct store_counters c = store_get_counters(st);
	ck_assert_uint_eq(c.rejected, 5);
	ck_assert_uint_eq(c.submitted, 1);
	ck_assert_int_eq(store_close(st), 0);
}
END_TEST

START_TEST(test_row_error_skips_row)
{
	struct store *st = ts_open_store(NULL);

	ck_assert_int_eq(ts_submit_conn(st, 5, 1, 1), 0);
	ck_assert_int_eq(ts_submit_conn(st, 5, 2, 2), 0); /* duplicate conn_id */
	ck_assert_int_eq(ts_submit_conn(st, 6, 3, 3), 0);
	ck_assert_int_eq(store_flush(st, 2000), 0);
	struct store_counters c = store_get_counters(st);
	ck_assert_uint_eq(c.row_errors, 1);
	ck_assert_uint_eq(c.committed, 2);
	ck_assert_uint_eq(c.failed_rows, 0);
	char msg[256];
	ck_assert(store_last_error(st, msg, sizeof(msg)));
	ck_assert_msg(strstr(msg, "connection_open") && strstr(msg, "UNIQUE"), "%s", msg);
	ck_assert_int_eq(store_close(st), 0);
	ck_assert_int_eq(ts_count_rows("connections"), 2);
}
END_TEST

START_TEST(test_next_conn_id)
{
	struct store *st = ts_open_store(NULL);

	ck_assert_int_eq(store_next_conn_id(st), 1);
	ck_assert_int_eq(store_next_conn_id(st), 2);
	ck_assert_int_eq(ts_submit_conn(st, 41, 1, 1), 0);
	ck_assert_int_eq(store_close(st), 0);
	st = ts_open_store(NULL);
	ck_assert_int_eq(store_next_conn_id(st), 42);
	ck_assert_int_eq(store_close(st), 0);
}
END_TEST

struct producer {
	struct store *st;
	int base, n;
};

static void *produce(void *arg)
{
	struct producer *p = arg;

	for (int i = 0; i < p->n; i++) {
		int rc;
		while ((rc = ts_submit_counter(p->st, p->base + i)) == -EAGAIN)
			usleep(100);
		ck_assert_int_eq(rc, 0);
	}
	return NULL;
}

START_TEST(test_concurrent_producers)
{
	struct store_config cfg;
	pthread_t t[2];

	store_config_defaults(&cfg);
	cfg.queue_rows = 256;
	cfg.batch_rows = 100;
	struct store *st = ts_open_store(&cfg);
	struct producer p[2] = {{st, 0, 5000}, {st, 100000, 5000}};
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, produce, &p[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	struct store_counters c = store_get_counters(st);
	ck_assert_uint_eq(c.submitted, 10000);
	ck_assert_uint_le(c.queued_max, 256);
	ck_assert_int_eq(store_close(st), 0);
	sqlite3 *db = ts_open_ro();
	ck_assert_int_eq(ts_query_i64(db, "SELECT count(DISTINCT value) FROM counters"), 10000);
	sqlite3_close(db);
}
END_TEST

/* ---- views ---- */

START_TEST(test_views)
{
	uint32_t cip = (198u << 24) | (18u << 16) | 10u;
	int64_t t1 = store_txn_id(cip, 40000, 1), t2 = store_txn_id(cip, 40000, 2);
	int64_t now = 1700000000000000LL;
	struct store *st = ts_open_store(NULL);
	struct store_row rows[] = {
	    {STORE_TRANSACTION_BEGIN,
	     5,
	     {STORE_INT(1), STORE_INT(t1), STORE_TEXT("request"), STORE_INT(now),
	      STORE_TEXT("GET / HTTP/1.1")}},
	    {STORE_TRANSACTION_UPDATE,
	     7,
	     {STORE_INT(1), STORE_INT(t1), STORE_TEXT("complete"), STORE_INT(now + 1000),
	      STORE_INT(now + 2500), STORE_INT(78), STORE_INT(1024)}},
	    {STORE_TRANSACTION_BEGIN,
	     5,
	     {STORE_INT(1), STORE_INT(t2), STORE_TEXT("request"), STORE_INT(now + 3000),
	      STORE_NULL()}},
	    {STORE_TAGS,
	     7,
	     {STORE_INT(1), STORE_INT(t1), STORE_INT(1), STORE_INT(0), STORE_INT(1),
	      STORE_TEXT("rule:get"), STORE_INT(now)}},
	    {STORE_SEQ_OFFSETS,
	     7,
	     {STORE_INT(1), STORE_INT(t1), STORE_INT(1), STORE_INT(79), STORE_NULL(), STORE_NULL(),
	      STORE_INT(now)}},
	    {STORE_SEQ_OFFSETS,
	     7,
	     {STORE_INT(1), STORE_INT(t1), STORE_NULL(), STORE_NULL(), STORE_INT(1),
	      STORE_INT(1025), STORE_INT(now + 1)}},
	    {STORE_CONN_MARKS,
	     5,
	     {STORE_INT(1), STORE_INT(1025), STORE_INT(1025), STORE_NULL(), STORE_INT(now)}},
	    {STORE_CONN_MARKS,
	     5,
	     {STORE_INT(1), STORE_NULL(), STORE_NULL(), STORE_INT(79), STORE_INT(now + 5)}},
	    {STORE_SPLICE_SNAPSHOT,
	     20,
	     {STORE_INT(1),	STORE_TEXT("p1"), STORE_INT(now),  STORE_INT(cip),
	      STORE_INT(40000), STORE_INT(1),	  STORE_INT(80),   STORE_INT(2),
	      STORE_INT(30001), STORE_INT(3),	  STORE_INT(8080), STORE_INT(100),
	      STORE_INT(-100),	STORE_NULL(),	  STORE_NULL(),	   STORE_INT(7),
	      STORE_INT(7),	STORE_INT(9),	  STORE_INT(7),	   STORE_INT(1)}},
	    {STORE_SPLICE_SNAPSHOT,
	     20,
	     {STORE_INT(1),	STORE_TEXT("p2"), STORE_INT(now + 9), STORE_INT(cip),
	      STORE_INT(40000), STORE_INT(1),	  STORE_INT(80),      STORE_INT(2),
	      STORE_INT(30001), STORE_INT(3),	  STORE_INT(8080),    STORE_INT(200),
	      STORE_INT(-200),	STORE_INT(5),	  STORE_INT(-5),      STORE_INT(7),
	      STORE_INT(7),	STORE_INT(9),	  STORE_INT(7),	      STORE_INT(1)}},
	    {STORE_FAILOVER_EVENT,
	     18,
	     {STORE_INT(1), STORE_TEXT("b1"), STORE_TEXT("b2"), STORE_INT(now),
	      STORE_INT(now + 2000), STORE_INT(now + 12000), STORE_INT(t1), STORE_INT(0),
	      STORE_INT(1025), STORE_INT(1025), STORE_INT(t1), STORE_INT(t1), STORE_INT(t2),
	      STORE_INT(t2), STORE_INT(0), STORE_INT(1), STORE_TEXT("recovered"), STORE_NULL()}},
	    {STORE_COUNTER,
	     4,
	     {STORE_TEXT("logger"), STORE_TEXT("pkts"), STORE_INT(5), STORE_INT(now)}},
	    {STORE_COUNTER,
	     4,
	     {STORE_TEXT("logger"), STORE_TEXT("pkts"), STORE_INT(9), STORE_INT(now + 1)}},
	};
	char buf[64];

	ck_assert_int_eq(ts_submit_conn(st, 1, cip, now), 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		ck_assert_int_eq(store_submit(st, &rows[i]), 0);
	ck_assert_int_eq(store_flush(st, 2000), 0);
	ck_assert_uint_eq(store_get_counters(st).row_errors, 0);

	sqlite3 *db = ts_open_ro();
	ck_assert_str_eq(ts_query_text(db, "SELECT client_ip FROM v_transactions WHERE ordinal = 1",
				       buf, sizeof(buf)),
			 "198.18.0.10");
	ck_assert_int_eq(
	    ts_query_i64(db, "SELECT client_port FROM v_transactions WHERE ordinal = 2"), 40000);
	ck_assert_str_eq(ts_query_text(db,
				       "SELECT determinism || ',' || access || ',' || idempotence "
				       "FROM v_transactions WHERE ordinal = 1",
				       buf, sizeof(buf)),
			 "deterministic,update,idempotent");
	ck_assert_str_eq(
	    ts_query_text(db,
			  "SELECT req_start || '-' || req_end || '/' || resp_start || '-' "
			  "|| resp_end FROM v_transactions WHERE ordinal = 1",
			  buf, sizeof(buf)),
	    "1-79/1-1025");
	ck_assert_str_eq(ts_query_text(db,
				       "SELECT duration_ms FROM v_transactions WHERE ordinal = 1",
				       buf, sizeof(buf)),
			 "2.5");
	ck_assert_str_eq(ts_query_text(db,
				       "SELECT request_utc FROM v_transactions WHERE ordinal = 1",
				       buf, sizeof(buf)),
			 "2023-11-14 22:13:20.000");
	ck_assert_str_eq(
	    ts_query_text(db, "SELECT server_ip FROM v_open_connections", buf, sizeof(buf)),
	    "198.18.2.11");
	ck_assert_int_eq(ts_query_i64(db, "SELECT ack_cl FROM v_open_connections"), 1025);
	ck_assert_int_eq(ts_query_i64(db, "SELECT last_client_byte FROM v_open_connections"), 79);
	ck_assert_int_eq(ts_query_i64(db, "SELECT transactions FROM v_connections"), 2);
	ck_assert_str_eq(
	    ts_query_text(db,
			  "SELECT total_ms || ',' || t_l || ',' || t_sp || ',' || outcome "
			  "FROM v_failover_history",
			  buf, sizeof(buf)),
	    "12.0,1,2,recovered");
	ck_assert_str_eq(ts_query_text(db, "SELECT owner FROM v_latest_splices", buf, sizeof(buf)),
			 "p2");
	ck_assert_int_eq(ts_query_i64(db, "SELECT count(*) FROM v_latest_splices"), 1);
	ck_assert_int_eq(ts_query_i64(db, "SELECT value FROM v_counters_latest"), 9);
	sqlite3_close(db);

	struct store_row close_row = {
	    STORE_CONNECTION_CLOSE, 3, {STORE_INT(1), STORE_TEXT("closed"), STORE_INT(now + 9)}};
	ck_assert_int_eq(store_submit(st, &close_row), 0);
	ck_assert_int_eq(store_close(st), 0);
	ck_assert_int_eq(ts_count_rows("v_open_connections"), 0);
	db = ts_open_ro();
	ck_assert_str_eq(ts_query_text(db, "SELECT state FROM v_connections", buf, sizeof(buf)),
			 "closed");
	sqlite3_close(db);
}
END_TEST

struct daemon_config {
	int other;
	struct store_config store;
};

START_TEST(test_config_keys)
{
	static const struct config_key keys[] = {STORE_CONFIG_KEYS(struct daemon_config, store),
						 {0}};
	struct daemon_config dc = {0};
	struct config_error cerr;
	char err[256] = "";

	store_config_defaults(&dc.store);
	ck_assert_msg(config_load_string("t.conf",
					 "[store]\nqueue_rows = 16\nqueue_bytes = 1MiB\n"
					 "max_delay = 2s\nsync = full\nquick_check = no\n",
					 keys, &dc, &cerr) == 0,
		      "%s", cerr.msg);
	ck_assert_uint_eq(dc.store.queue_rows, 16);
	ck_assert_uint_eq(dc.store.queue_bytes, 1u << 20);
	ck_assert_uint_eq(dc.store.max_delay_ms, 2000);
	ck_assert_int_eq(dc.store.sync, STORE_SYNC_FULL);
	ck_assert(!dc.store.quick_check);
	ck_assert_uint_eq(dc.store.batch_rows, 512); /* default kept */
	ck_assert_int_ne(
	    config_load_string("t.conf", "[store]\nqueue_rows = 0\n", keys, &dc, &cerr), 0);
	struct store *st = NULL;
	dc.store.batch_rows = 0;
	ck_assert_int_eq(store_open(&st, ts_db(), &dc.store, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(st);
}
END_TEST

Suite *store_writer_suite(void);
Suite *store_writer_suite(void)
{
	Suite *s = suite_create("store_writer");
	TCase *tc = tcase_create("writer");

	tcase_add_checked_fixture(tc, ts_setup, ts_teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_queue_full);
	tcase_add_test(tc, test_batch_commit);
	tcase_add_test(tc, test_max_delay);
	tcase_add_test(tc, test_close_flushes);
	tcase_add_test(tc, test_invalid_rows);
	tcase_add_test(tc, test_row_error_skips_row);
	tcase_add_test(tc, test_next_conn_id);
	tcase_add_test(tc, test_concurrent_producers);
	tcase_add_test(tc, test_views);
	tcase_add_test(tc, test_config_keys);
	suite_add_tcase(s, tc);
	return s;
}
