/* Shared fixtures and helpers of the store unit tests (test_store.c,
 * test_store_writer.c): a temporary directory per test, file and query
 * helpers, and rows of common kinds. */
#include "helper_store.h"

#include <check.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[64];
static char db_path[128];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void ts_setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/craft-store-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(db_path, sizeof(db_path), "%s/craft.db", dir);
}

void ts_teardown(void)
{
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

char *ts_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

void ts_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

void ts_raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "%s: %s", sql,
		      sqlite3_errmsg(db));
	sqlite3_close(db);
}

int64_t ts_query_i64(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v;

	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
		      sqlite3_errmsg(db));
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* First column of the first row as text, copied into buf. */
const char *ts_query_text(sqlite3 *db, const char *sql, char *buf, size_t len)
{
	sqlite3_stmt *st = NULL;

	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
		      sqlite3_errmsg(db));
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	const unsigned char *t = sqlite3_column_text(st, 0);
	snprintf(buf, len, "%s", t ? (const char *)t : "(null)");
	sqlite3_finalize(st);
	return buf;
}

sqlite3 *ts_open_ro(void)
{
	char err[256] = "";
	sqlite3 *db = NULL;

	ck_assert_msg(store_open_readonly(ts_db(), &db, err, sizeof(err)) == 0, "%s", err);
	return db;
}

int64_t ts_count_rows(const char *table)
{
	char sql[128];
	sqlite3 *db = ts_open_ro();
	int64_t n;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	n = ts_query_i64(db, sql);
	sqlite3_close(db);
	return n;
}

struct store *ts_open_store(const struct store_config *cfg)
{
	char err[256] = "";
	struct store *st = NULL;

	ck_assert_msg(store_open(&st, ts_db(), cfg, err, sizeof(err)) == 0, "%s", err);
	return st;
}

int ts_submit_counter(struct store *st, int64_t value)
{
	struct store_row r = {.stmt = STORE_COUNTER,
			      .nvals = 4,
			      .vals = {STORE_TEXT("test"), STORE_TEXT("n"), STORE_INT(value),
				       STORE_INT(1700000000000000LL)}};
	return store_submit(st, &r);
}

int ts_submit_conn(struct store *st, int64_t conn_id, uint32_t client_ip, int64_t open_us)
{
	struct store_row r = {.stmt = STORE_CONNECTION_OPEN,
			      .nvals = 16,
			      .vals = {STORE_INT(conn_id), STORE_INT(client_ip), STORE_INT(40000),
				       STORE_INT(0xC6120A01u), STORE_INT(80),
				       STORE_INT(0xC6120B01u), STORE_INT(30001),
				       STORE_INT(0xC612020Bu), STORE_INT(8080), STORE_TEXT("b1"),
				       STORE_INT(1000), STORE_INT(2000), STORE_INT(3000),
				       STORE_INT(4000), STORE_TEXT("spliced"), STORE_INT(open_us)}};
	return store_submit(st, &r);
}

const char *ts_db(void)
{
	return db_path;
}
