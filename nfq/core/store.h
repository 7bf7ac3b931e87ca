/* store - the per-host SQLite database (WAL) fed by one writer thread.
 *
 * The packet path must never wait on disk, so daemons do not talk to SQLite
 * directly: they build a struct store_row (a record kind from store_stmt.h
 * plus its values) and hand it to store_submit(), which copies it into a
 * bounded in-memory queue and returns at once. A single writer thread owns
 * the read-write connection: it takes rows off the queue and commits them in
 * batches of at most batch_rows rows, as soon as batch_rows rows are queued
 * or the oldest queued row has waited max_delay_ms, whichever comes first.
 *
 * Queue full: store_submit() refuses the new row with -EAGAIN and counts it
 * in dropped_full (total and per kind). Rows already queued are never
 * dropped to make room, and the caller is never blocked; a caller that must
 * not lose a row (a test, a tool) retries, a daemon counts and moves on.
 * The queue is bounded twice: queue_rows rows and queue_bytes bytes of
 * text/blob values (each value at most max_value_bytes, else -EMSGSIZE).
 *
 * Failures in the writer: a row the database refuses (constraint, type) is
 * skipped and counted in row_errors; the rest of its batch commits. A batch
 * that cannot be committed (disk full, I/O error, lock held by another
 * process beyond busy_timeout_ms) is rolled back and its rows are counted in
 * failed_rows. store_last_error() gives the most recent message.
 *
 * Durability: with sync = NORMAL (default) a committed batch survives the
 * process being killed; it may be lost on power failure (FULL prevents it).
 *
 * Opening validates before it writes anything: a file that is not SQLite,
 * is another program's database, has a newer schema than this build, or is
 * corrupt is refused with a message and left byte-for-byte untouched (see
 * store_schema.h for the rules and return codes). A missing or empty file
 * gets the schema; an older one is migrated forward. Messages written to
 * err never name the file: the caller adds the path.
 *
 * Thread safety: store_submit, store_flush, store_get_counters,
 * store_next_conn_id and store_last_error may be called from any thread,
 * concurrently. store_close must be called once, after every submitter has
 * stopped. */
#ifndef CRAFT_STORE_H
#define CRAFT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "config.h"
#include "store_schema.h"
#include "store_stmt.h"

/* Most values one row carries (the widest kind has 20). */
#define STORE_MAX_VALS 24

enum store_vtype { STORE_V_NULL, STORE_V_INT, STORE_V_TEXT, STORE_V_BLOB };

/* A value to bind. Text and blob point at the caller's memory, which
 * store_submit() copies; text need not be NUL-terminated when len is set. */
struct store_value {
	enum store_vtype type;
	uint32_t len; /* bytes of text/blob */
	union {
		int64_t i;
		const void *p;
	} u;
};

#define STORE_NULL() ((struct store_value){.type = STORE_V_NULL})
#define STORE_INT(v) ((struct store_value){.type = STORE_V_INT, .u.i = (int64_t)(v)})
/* STORE_TEXT evaluates s twice. */
#define STORE_TEXT(s)                                                                              \
	((struct store_value){.type = STORE_V_TEXT, .len = (uint32_t)strlen(s), .u.p = (s)})
#define STORE_BLOB(b, n)                                                                           \
	((struct store_value){.type = STORE_V_BLOB, .len = (uint32_t)(n), .u.p = (b)})
/* NULL when the integer is unknown (ok false). */
#define STORE_INT_OR_NULL(ok, v) ((ok) ? STORE_INT(v) : STORE_NULL())

struct store_row {
	enum store_stmt stmt;
	unsigned nvals; /* must equal store_stmt_def(stmt)->nvals */
	struct store_value vals[STORE_MAX_VALS];
};

/* Transaction ID (paper §4.2, Fig. 3): the client's IPv4 address in host
 * byte order in bits 63..32, the client's TCP port in bits 31..16 and the
 * transaction's ordinal on the connection in bits 15..0. Ordinals start at
 * 1 (0 means "no transaction", e.g. T_L before the first response), so a
 * connection can log at most 65535 transactions. The database stores the
 * signed 64-bit reinterpretation (addresses >= 128.0.0.0 are negative). */
static inline int64_t store_txn_id(uint32_t client_ip, uint16_t client_port, uint16_t ordinal)
{
	return (int64_t)(((uint64_t)client_ip << 32) | ((uint64_t)client_port << 16) | ordinal);
}

static inline uint32_t store_txn_client_ip(int64_t txn_id)
{
	return (uint32_t)((uint64_t)txn_id >> 32);
}

static inline uint16_t store_txn_client_port(int64_t txn_id)
{
	return (uint16_t)((uint64_t)txn_id >> 16);
}

static inline uint16_t store_txn_ordinal(int64_t txn_id)
{
	return (uint16_t)txn_id;
}

enum store_sync { STORE_SYNC_OFF, STORE_SYNC_NORMAL, STORE_SYNC_FULL };

/* "off", "normal", "full", NULL: names for a config enum key. */
extern const char *const store_sync_names[];

/* Called on the writer thread after each committed batch: rows committed in
 * it (refused rows excluded) and the sequence number of its last row (rows
 * are numbered 1, 2, ... in the order store_submit() accepted them). Must
 * not call store_close(); may call store_submit(). */
typedef void store_commit_fn(void *arg, uint64_t rows, uint64_t last_seq);

struct store_config {
	uint32_t queue_rows;	  /* queue capacity in rows (default 8192) */
	uint64_t queue_bytes;	  /* text/blob bytes the queue may hold (16 MiB) */
	uint64_t max_value_bytes; /* one text/blob value at most (64 KiB) */
	uint32_t batch_rows;	  /* rows per transaction at most (512) */
	uint64_t max_delay_ms;	  /* oldest queued row waits at most this (200) */
	uint64_t busy_timeout_ms; /* wait for another process's lock (5000) */
	int sync;		  /* enum store_sync: PRAGMA synchronous (NORMAL) */
	bool quick_check;	  /* PRAGMA quick_check an existing file on open (true) */
	store_commit_fn *on_commit;
	void *on_commit_arg;
};

/* Upper bounds that keep a config typo from allocating the machine away. */
#define STORE_QUEUE_ROWS_MAX (1u << 22)
#define STORE_VALUE_MAX	     (256u << 20)

/* The keys of a struct store_config embedded as field f of a daemon's
 * config struct T, in section [store]; put STORE_CONFIG_KEYS(struct
 * logger_config, store) into the daemon's key table (the database path is
 * the daemon's own key). Durations take the config syntax (200ms, 2s). */
#define STORE_CONFIG_KEYS(T, f)                                                                    \
	CONFIG_U32("store", "queue_rows", T, f.queue_rows, 1, STORE_QUEUE_ROWS_MAX),               \
	    CONFIG_SIZE("store", "queue_bytes", T, f.queue_bytes, 0, 1ull << 40),                  \
	    CONFIG_SIZE("store", "max_value_bytes", T, f.max_value_bytes, 0, STORE_VALUE_MAX),     \
	    CONFIG_U32("store", "batch_rows", T, f.batch_rows, 1, 1000000),                        \
	    CONFIG_DURATION_MS("store", "max_delay", T, f.max_delay_ms, 0, 3600000),               \
	    CONFIG_DURATION_MS("store", "busy_timeout", T, f.busy_timeout_ms, 0, 3600000),         \
	    CONFIG_ENUM("store", "sync", T, f.sync, store_sync_names),                             \
	    CONFIG_BOOL("store", "quick_check", T, f.quick_check)

struct store_counters {
	uint64_t submitted;    /* rows accepted by store_submit */
	uint64_t committed;    /* rows in committed batches */
	uint64_t batches;      /* committed batches */
	uint64_t dropped_full; /* rows refused: queue full (rows or bytes) */
	uint64_t rejected;     /* rows refused: bad kind, count or size; no memory */
	uint64_t row_errors;   /* rows the database refused, skipped */
	uint64_t failed_rows;  /* rows lost with a batch that could not commit */
	uint64_t batch_errors; /* batches that could not commit */
	uint64_t queued;       /* rows in the queue now */
	uint64_t queued_max;   /* highest queued ever */
	uint64_t last_seq;     /* sequence number of the last committed row */
	uint64_t dropped_full_by_stmt[STORE_STMT_COUNT];
};

struct store;

void store_config_defaults(struct store_config *cfg);

/* Opens (creating or migrating) the database at path and starts the writer
 * thread. cfg NULL means defaults. Returns 0, -EINVAL for a bad config,
 * -ENOMEM, or a code from store_schema.h with a message in err. */
int store_open(struct store **out, const char *path, const struct store_config *cfg, char *err,
	       size_t errlen);

/* Queues a copy of row. Never blocks on I/O (holds a mutex for a few
 * instructions). 0, -EAGAIN (queue full), -EINVAL (unknown kind or wrong
 * nvals or bad value type), -EMSGSIZE (value over max_value_bytes), -ENOMEM,
 * -ESHUTDOWN (store_close has begun). */
int store_submit(struct store *st, const struct store_row *row);

/* Asks the writer to commit everything queued so far now, and waits until
 * it has (committed or failed). 0 or -ETIMEDOUT. Not for the packet path. */
int store_flush(struct store *st, unsigned timeout_ms);

/* Commits everything still queued, stops the writer, closes the database
 * and frees st. 0, or -EIO when rows were lost (failed_rows > 0 over the
 * store's life). st may be NULL. */
int store_close(struct store *st);

struct store_counters store_get_counters(struct store *st);

/* Copies the writer's most recent error message ("" if none); returns true
 * when there was one. */
bool store_last_error(struct store *st, char *buf, size_t len);

/* A fresh connections.conn_id: one more than the largest stored when the
 * store was opened, then counting up. */
int64_t store_next_conn_id(struct store *st);

/* For tools: opens path with SQLITE_OPEN_READONLY after the same validation
 * as store_open (foreign/newer/corrupt refused), never migrating; an older
 * schema version is accepted (check store_schema_version()). A missing or
 * empty file is -ENOENT. On success *db is the caller's to sqlite3_close. */
int store_open_readonly(const char *path, sqlite3 **db, char *err, size_t errlen);

#endif
