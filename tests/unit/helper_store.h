/* helper_store - fixtures shared by the store unit tests. Every test gets
 * a fresh temporary directory (ts_setup/ts_teardown as a checked fixture);
 * ts_db() is the database path inside it. Failures are Check assertions. */
#ifndef CRAFT_TEST_HELPER_STORE_H
#define CRAFT_TEST_HELPER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

void ts_setup(void);
void ts_teardown(void);
const char *ts_db(void);

/* Whole file into a NUL-terminated malloc'd buffer; NULL if unreadable. */
char *ts_slurp(const char *path, size_t *len);
void ts_write_file(const char *path, const void *data, size_t len);
/* Runs sql on path through a plain read-write SQLite connection. */
void ts_raw_exec(const char *path, const char *sql);
int64_t ts_query_i64(sqlite3 *db, const char *sql);
/* First column of the first row as text, copied into buf. */
const char *ts_query_text(sqlite3 *db, const char *sql, char *buf, size_t len);
sqlite3 *ts_open_ro(void);
int64_t ts_count_rows(const char *table);
struct store *ts_open_store(const struct store_config *cfg);
/* A COUNTER row: daemon "test", name "n", the given value. */
int ts_submit_counter(struct store *st, int64_t value);
/* A CONNECTION_OPEN row for conn_id from client_ip:40000. */
int ts_submit_conn(struct store *st, int64_t conn_id, uint32_t client_ip, int64_t open_us);

#endif
