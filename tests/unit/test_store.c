/* Unit tests of the store's schema handling: creation, migration (also
 * with a test-only migration list), refusal of files that are not ours with
 * their bytes unchanged, read-only opening, the statement table against the
 * schema, and the transaction-ID encoding. Writer tests: test_store_writer.c */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helper_store.h"

static void assert_refused(int want, const char *msg_part)
{
	char err[256] = "";
	struct store *st = NULL;
	sqlite3 *db = NULL;
	size_t len0, len1, len2;
	char *before = ts_slurp(ts_db(), &len0);

	ck_assert_ptr_nonnull(before);
	int rc = store_open(&st, ts_db(), NULL, err, sizeof(err));
	ck_assert_msg(rc == want, "store_open returned %d (%s), want %d", rc, err, want);
	ck_assert_ptr_null(st);
	ck_assert_msg(strstr(err, msg_part) != NULL, "message '%s' lacks '%s'", err, msg_part);
	char *after = ts_slurp(ts_db(), &len1);
	ck_assert_uint_eq(len0, len1);
	ck_assert_msg(memcmp(before, after, len0) == 0, "file bytes changed");

	err[0] = '\0';
	rc = store_open_readonly(ts_db(), &db, err, sizeof(err));
	ck_assert_msg(rc == want, "store_open_readonly returned %d (%s), want %d", rc, err, want);
	ck_assert_ptr_null(db);
	char *again = ts_slurp(ts_db(), &len2);
	ck_assert_uint_eq(len0, len2);
	ck_assert_msg(memcmp(before, again, len0) == 0, "file bytes changed (readonly)");
	free(before);
	free(after);
	free(again);
}

/* ---- schema ---- */

START_TEST(test_create_fresh)
{
	struct store *st = ts_open_store(NULL);
	ck_assert_int_eq(store_close(st), 0);

	sqlite3 *db = ts_open_ro();
	ck_assert_int_eq(store_schema_version(db), store_schema_latest());
	ck_assert_int_eq(ts_query_i64(db, "PRAGMA application_id"), STORE_APPLICATION_ID);
	ck_assert_int_eq(ts_query_i64(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' "
					  "AND name IN ('connections', 'transactions', 'tags', "
					  "'seq_offsets', 'conn_marks', 'splice_snapshots', "
					  "'failover_events', 'counters', 'payloads')"),
			 9);
	char buf[32];
	ck_assert_str_eq(ts_query_text(db, "PRAGMA journal_mode", buf, sizeof(buf)), "wal");
	ck_assert_int_eq(ts_query_i64(db, "SELECT count(*) FROM schema_history"),
			 store_schema_latest());
	sqlite3_close(db);
}
END_TEST

START_TEST(test_reopen_idempotent)
{
	for (int i = 0; i < 3; i++) {
		struct store *st = ts_open_store(NULL);
		ck_assert_int_eq(ts_submit_counter(st, i), 0);
		ck_assert_int_eq(store_close(st), 0);
	}
	sqlite3 *db = ts_open_ro();
	ck_assert_int_eq(store_schema_version(db), store_schema_latest());
	ck_assert_int_eq(ts_query_i64(db, "SELECT count(*) FROM schema_history"),
			 store_schema_latest());
	ck_assert_int_eq(ts_query_i64(db, "SELECT count(*) FROM counters"), 3);
	sqlite3_close(db);
}
END_TEST

START_TEST(test_migrate_1_to_latest)
{
	size_t n;
	const struct store_migration *list = store_schema_migrations(&n);
	char err[256] = "";
	sqlite3 *db = NULL;
	int from = -1;

	ck_assert_uint_ge(n, 2);
	ck_assert_int_eq(sqlite3_open(ts_db(), &db), SQLITE_OK);
	ck_assert_msg(store_schema_migrate(db, list, 1, &from, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(from, 0);
	ck_assert_int_eq(store_schema_version(db), 1);
	ck_assert_int_eq(ts_query_i64(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'view'"),
			 0);
	ck_assert_int_eq(sqlite3_exec(db,
				      "INSERT INTO counters (daemon, name, value, sampled_us) "
				      "VALUES ('old', 'x', 7, 1)",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);

	struct store *st = ts_open_store(NULL);
	ck_assert_int_eq(store_close(st), 0);
	db = ts_open_ro();
	ck_assert_int_eq(store_schema_version(db), store_schema_latest());
	ck_assert_int_gt(ts_query_i64(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'view'"),
			 0);
	ck_assert_int_eq(
	    ts_query_i64(db, "SELECT value FROM v_counters_latest WHERE daemon = 'old'"), 7);
	ck_assert_int_eq(ts_query_i64(db, "SELECT count(*) FROM schema_history"),
			 store_schema_latest());
	sqlite3_close(db);
}
END_TEST

/* A test-only third migration exercises the mechanism beyond the shipped
 * list, and then makes the file "newer" than this build. */
START_TEST(test_migrate_test_list_then_newer)
{
	size_t n;
	const struct store_migration *builtin = store_schema_migrations(&n);
	struct store_migration list[8];
	char err[256] = "";
	sqlite3 *db = NULL;
	int from = -1;

	ck_assert_uint_lt(n, 8);
	memcpy(list, builtin, n * sizeof(*list));
	list[n] = (struct store_migration){(int)n + 1, "test_extra",
					   "ALTER TABLE counters ADD COLUMN note TEXT;"};
	ck_assert_int_eq(store_close(ts_open_store(NULL)), 0);

	ck_assert_int_eq(sqlite3_open(ts_db(), &db), SQLITE_OK);
	ck_assert_msg(store_schema_migrate(db, list, n + 1, &from, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_int_eq(from, (int)n);
	ck_assert_int_eq(store_schema_version(db), (int)n + 1);
	ck_assert_int_eq(sqlite3_exec(db, "SELECT note FROM counters", NULL, NULL, NULL),
			 SQLITE_OK);
	/* Running it again is a no-op. */
	ck_assert_int_eq(store_schema_migrate(db, list, n + 1, &from, err, sizeof(err)), 0);
	ck_assert_int_eq(from, (int)n + 1);
	/* A list with a gap is refused; so is one older than the file. */
	struct store_migration bad[2] = {list[0], {5, "gap", "SELECT 1;"}};
	ck_assert_int_eq(store_schema_migrate(db, bad, 2, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(store_schema_migrate(db, list, n, NULL, err, sizeof(err)),
			 -EPROTONOSUPPORT);
	ck_assert_int_eq(store_schema_version(db), (int)n + 1);
	sqlite3_close(db);

	assert_refused(-EPROTONOSUPPORT, "newer");
}
END_TEST

START_TEST(test_failed_migration_rolls_back)
{
	size_t n;
	const struct store_migration *builtin = store_schema_migrations(&n);
	struct store_migration list[8];
	char err[256] = "";
	sqlite3 *db = NULL;

	memcpy(list, builtin, n * sizeof(*list));
	list[n] = (struct store_migration){(int)n + 1, "test_broken",
					   "CREATE TABLE t (a INTEGER); SELECT * FROM nowhere;"};
	ck_assert_int_eq(store_close(ts_open_store(NULL)), 0);
	ck_assert_int_eq(sqlite3_open(ts_db(), &db), SQLITE_OK);
	ck_assert_int_eq(store_schema_migrate(db, list, n + 1, NULL, err, sizeof(err)), -EIO);
	ck_assert_msg(strstr(err, "test_broken") != NULL, "%s", err);
	ck_assert_int_eq(store_schema_version(db), (int)n);
	ck_assert_int_eq(ts_query_i64(db, "SELECT count(*) FROM sqlite_schema WHERE name = 't'"),
			 0);
	sqlite3_close(db);
}
END_TEST

START_TEST(test_schema_files_match)
{
	static const char *const dirs[] = {"schema", "../schema", "../../schema"};
	const char *env = getenv("CRAFT_SCHEMA_DIR");
	size_t n;
	const struct store_migration *list = store_schema_migrations(&n);

	for (size_t i = 0; i < n; i++) {
		char path[512];
		char *text = NULL;
		size_t len = 0;

		for (size_t d = 0; !text && d < 4; d++) {
			const char *base = d == 0 ? env : dirs[d - 1];
			if (!base)
				continue;
			snprintf(path, sizeof(path), "%s/%s.sql", base, list[i].name);
			text = ts_slurp(path, &len);
		}
		ck_assert_msg(text != NULL,
			      "schema/%s.sql not found (run from the repository root or set "
			      "CRAFT_SCHEMA_DIR)",
			      list[i].name);
		ck_assert_msg(len == strlen(list[i].sql) && memcmp(text, list[i].sql, len) == 0,
			      "%s differs from its copy in nfq/core/store_schema.c", path);
		ck_assert_int_eq(list[i].version, (int)i + 1);
		free(text);
	}
}
END_TEST

START_TEST(test_stmts_match_schema)
{
	sqlite3 *db;

	ck_assert_int_eq(store_close(ts_open_store(NULL)), 0);
	db = ts_open_ro();
	for (int i = 0; i < STORE_STMT_COUNT; i++) {
		const struct store_stmt_def *def = store_stmt_def((enum store_stmt)i);
		sqlite3_stmt *ps = NULL;

		ck_assert_ptr_nonnull(def);
		ck_assert_msg(sqlite3_prepare_v2(db, def->sql, -1, &ps, NULL) == SQLITE_OK,
			      "%s: %s", def->name, sqlite3_errmsg(db));
		ck_assert_msg(sqlite3_bind_parameter_count(ps) == (int)def->nvals,
			      "%s: %d parameters, nvals %u", def->name,
			      sqlite3_bind_parameter_count(ps), def->nvals);
		ck_assert_uint_le(def->nvals, STORE_MAX_VALS);
		sqlite3_finalize(ps);
	}
	ck_assert_ptr_null(store_stmt_def(STORE_STMT_COUNT));
	sqlite3_close(db);
}
END_TEST

/* ---- refusal of files that are not ours ---- */

START_TEST(test_reject_foreign_tables)
{
	ts_raw_exec(ts_db(), "CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('x');");
	assert_refused(-EMEDIUMTYPE, "not a CRAFT database");
}
END_TEST

START_TEST(test_reject_foreign_app_id)
{
	ts_raw_exec(ts_db(), "PRAGMA application_id = 1234; PRAGMA user_version = 1;");
	assert_refused(-EMEDIUMTYPE, "not a CRAFT database");
}
END_TEST

START_TEST(test_reject_not_sqlite)
{
	char text[2048];

	memset(text, 'x', sizeof(text));
	memcpy(text, "# just some text file\n", 22);
	ts_write_file(ts_db(), text, sizeof(text));
	assert_refused(-EMEDIUMTYPE, "not an SQLite database");
	ts_write_file(ts_db(), "SQLite format 3", 16); /* right magic, too short */
	assert_refused(-EMEDIUMTYPE, "not an SQLite database");
}
END_TEST

START_TEST(test_reject_corrupt)
{
	struct store *st = ts_open_store(NULL);
	char blob[2000];
	size_t len;

	memset(blob, 'b', sizeof(blob));
	for (int i = 0; i < 200; i++) {
		struct store_row r = {.stmt = STORE_PAYLOAD,
				      .nvals = 6,
				      .vals = {STORE_INT(1), STORE_INT(i), STORE_TEXT("response"),
					       STORE_INT(1), STORE_BLOB(blob, sizeof(blob)),
					       STORE_INT(1)}};
		ck_assert_int_eq(store_submit(st, &r), 0);
	}
	ck_assert_int_eq(store_close(st), 0);

	/* Scribble over a page in the middle of the file. */
	char *data = ts_slurp(ts_db(), &len);
	ck_assert_uint_gt(len, 16 * 4096);
	memset(data + 8 * 4096, 0xa5, 4096);
	ts_write_file(ts_db(), data, len);
	free(data);
	assert_refused(-EUCLEAN, "corrupt");
}
END_TEST

START_TEST(test_reject_corrupt_header)
{
	size_t len;

	ck_assert_int_eq(store_close(ts_open_store(NULL)), 0);
	char *data = ts_slurp(ts_db(), &len);
	data[16] = 0x01; /* page size 0x01xx: not a power of two */
	data[17] = 0x23;
	ts_write_file(ts_db(), data, len);
	free(data);
	assert_refused(-EUCLEAN, "corrupt");
}
END_TEST

START_TEST(test_readonly)
{
	char err[256] = "";
	sqlite3 *db = NULL;

	ck_assert_int_eq(store_open_readonly(ts_db(), &db, err, sizeof(err)), -ENOENT);
	ck_assert_int_ne(access(ts_db(), F_OK), 0); /* not created */
	ck_assert_int_eq(store_close(ts_open_store(NULL)), 0);
	db = ts_open_ro();
	int rc = sqlite3_exec(db,
			      "INSERT INTO counters (daemon, name, value, sampled_us) "
			      "VALUES ('a', 'b', 1, 1)",
			      NULL, NULL, NULL);
	ck_assert_int_eq(rc & 0xff, SQLITE_READONLY);
	sqlite3_close(db);
	ck_assert_int_eq(ts_count_rows("counters"), 0);
}
END_TEST

START_TEST(test_txn_id_encoding)
{
	uint32_t ip = (198u << 24) | (18u << 16) | 10u; /* 198.18.0.10 */
	int64_t id = store_txn_id(ip, 40000, 3);

	ck_assert_int_eq((uint64_t)id, ((uint64_t)ip << 32) | (40000ull << 16) | 3u);
	ck_assert_int_lt(id, 0); /* top bit set: stored negative */
	ck_assert_uint_eq(store_txn_client_ip(id), ip);
	ck_assert_uint_eq(store_txn_client_port(id), 40000);
	ck_assert_uint_eq(store_txn_ordinal(id), 3);
	ck_assert_uint_eq(store_txn_ordinal(store_txn_id(ip, 1, 65535)), 65535);
	ck_assert_uint_eq(store_txn_client_port(store_txn_id(ip, 65535, 65535)), 65535);
}
END_TEST

Suite *store_suite(void);
Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("schema");

	tcase_add_checked_fixture(tc, ts_setup, ts_teardown);
	tcase_add_test(tc, test_create_fresh);
	tcase_add_test(tc, test_reopen_idempotent);
	tcase_add_test(tc, test_migrate_1_to_latest);
	tcase_add_test(tc, test_migrate_test_list_then_newer);
	tcase_add_test(tc, test_failed_migration_rolls_back);
	tcase_add_test(tc, test_schema_files_match);
	tcase_add_test(tc, test_stmts_match_schema);
	tcase_add_test(tc, test_txn_id_encoding);
	suite_add_tcase(s, tc);

	tc = tcase_create("refuse");
	tcase_add_checked_fixture(tc, ts_setup, ts_teardown);
	tcase_add_test(tc, test_reject_foreign_tables);
	tcase_add_test(tc, test_reject_foreign_app_id);
	tcase_add_test(tc, test_reject_not_sqlite);
	tcase_add_test(tc, test_reject_corrupt);
	tcase_add_test(tc, test_reject_corrupt_header);
	tcase_add_test(tc, test_readonly);
	suite_add_tcase(s, tc);
	return s;
}
