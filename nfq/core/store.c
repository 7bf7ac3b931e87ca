/* store - bounded queue + one writer thread in front of SQLite (store.h).
 *
 * The queue is a ring of fixed-size slots guarded by one mutex. Producers
 * only append at the tail; the writer reads the `n` slots at the head
 * without the lock while it commits them (they stay counted in `count`, so
 * no producer can reuse them) and advances the head afterwards. A row's text
 * and blob bytes live inside its slot when they fit in STORE_SLOT_INLINE
 * bytes, else in one malloc'd block made before taking the lock, freed by
 * the writer. Counters are atomics so they can be read at any time. */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define STORE_SLOT_INLINE 96
#define STORE_ERR_MAX	  256

const char *const store_sync_names[] = {"off", "normal", "full", NULL};

struct slot {
	uint64_t seq;
	uint64_t queued_ns; /* CLOCK_MONOTONIC when accepted */
	enum store_stmt stmt;
	unsigned nvals;
	size_t bytes; /* text/blob bytes, charged to queued_bytes */
	void *heap;   /* NULL when the bytes are in inline_buf */
	struct store_value vals[STORE_MAX_VALS];
	char inline_buf[STORE_SLOT_INLINE];
};

/* What one batch did, reported back under the lock. */
struct batch_result {
	uint64_t ok, refused, failed;
};

struct store {
	struct store_config cfg;
	sqlite3 *db; /* used by the writer thread only, once started */
	sqlite3_stmt *prepared[STORE_STMT_COUNT];
	sqlite3_stmt *begin, *commit, *rollback;

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake; /* writer: rows arrived, batch full, flush, stop */
	pthread_cond_t done; /* flushers: done_seq moved */
	struct slot *slots;
	uint32_t head, count;
	uint64_t queued_bytes;
	uint64_t next_seq;  /* last sequence number handed out */
	uint64_t done_seq;  /* every row up to here has been processed */
	uint64_t flush_seq; /* commit without waiting up to here */
	bool stopping;

	_Atomic uint64_t submitted, committed, batches, dropped_full, rejected, row_errors,
	    failed_rows, batch_errors, queued, queued_max, last_seq;
	_Atomic uint64_t dropped_full_by_stmt[STORE_STMT_COUNT];
	_Atomic int64_t next_conn_id;

	pthread_mutex_t err_lock;
	char last_err[STORE_ERR_MAX];
};

void store_config_defaults(struct store_config *cfg)
{
	*cfg = (struct store_config){
	    .queue_rows = 8192,
	    .queue_bytes = 16u << 20,
	    .max_value_bytes = 64u << 10,
	    .batch_rows = 512,
	    .max_delay_ms = 200,
	    .busy_timeout_ms = 5000,
	    .sync = STORE_SYNC_NORMAL,
	    .quick_check = true,
	};
}

static int config_check(const struct store_config *cfg, char *err, size_t errlen)
{
	if (cfg->queue_rows < 1 || cfg->queue_rows > STORE_QUEUE_ROWS_MAX) {
		store_errf(err, errlen, "store queue_rows %u out of range 1..%u", cfg->queue_rows,
			   STORE_QUEUE_ROWS_MAX);
		return -EINVAL;
	}
	if (cfg->batch_rows < 1) {
		store_errf(err, errlen, "store batch_rows must be at least 1");
		return -EINVAL;
	}
	if (cfg->max_value_bytes > STORE_VALUE_MAX) {
		store_errf(err, errlen, "store max_value_bytes %llu over %u",
			   (unsigned long long)cfg->max_value_bytes, STORE_VALUE_MAX);
		return -EINVAL;
	}
	if (cfg->sync < STORE_SYNC_OFF || cfg->sync > STORE_SYNC_FULL) {
		store_errf(err, errlen, "store sync mode %d unknown", cfg->sync);
		return -EINVAL;
	}
	if (cfg->max_delay_ms > 3600u * 1000u || cfg->busy_timeout_ms > 3600u * 1000u) {
		store_errf(err, errlen, "store max_delay_ms/busy_timeout_ms over one hour");
		return -EINVAL;
	}
	return 0;
}

static void set_last_error(struct store *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_last_error(struct store *st, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&st->err_lock);
	va_start(ap, fmt);
	vsnprintf(st->last_err, sizeof(st->last_err), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&st->err_lock);
}

bool store_last_error(struct store *st, char *buf, size_t len)
{
	bool any;

	pthread_mutex_lock(&st->err_lock);
	any = st->last_err[0] != '\0';
	if (len > 0)
		snprintf(buf, len, "%s", st->last_err);
	pthread_mutex_unlock(&st->err_lock);
	return any;
}

static void count_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t count_get(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static struct timespec ns_to_timespec(uint64_t ns)
{
	return (struct timespec){.tv_sec = (time_t)(ns / 1000000000u),
				 .tv_nsec = (long)(ns % 1000000000u)};
}

/* ---- submit side ---------------------------------------------------- */

/* Checks a row and returns the text/blob bytes it needs, or -errno. */
static int64_t row_bytes(const struct store *st, const struct store_row *row)
{
	const struct store_stmt_def *def = store_stmt_def(row->stmt);
	uint64_t total = 0;

	if (!def || row->nvals != def->nvals || row->nvals > STORE_MAX_VALS)
		return -EINVAL;
	for (unsigned i = 0; i < row->nvals; i++) {
		const struct store_value *v = &row->vals[i];

		switch (v->type) {
		case STORE_V_NULL:
		case STORE_V_INT:
			break;
		case STORE_V_TEXT:
		case STORE_V_BLOB:
			if (v->len > st->cfg.max_value_bytes)
				return -EMSGSIZE;
			if (v->len > 0 && !v->u.p)
				return -EINVAL;
			total += v->len;
			break;
		default:
			return -EINVAL;
		}
	}
	return (int64_t)total;
}

/* Copies row's values into slot, their bytes into buf (bytes long). */
static void slot_fill(struct slot *s, const struct store_row *row, char *buf)
{
	size_t off = 0;

	s->stmt = row->stmt;
	s->nvals = row->nvals;
	for (unsigned i = 0; i < row->nvals; i++) {
		s->vals[i] = row->vals[i];
		if (row->vals[i].type == STORE_V_TEXT || row->vals[i].type == STORE_V_BLOB) {
			if (row->vals[i].len > 0)
				memcpy(buf + off, row->vals[i].u.p, row->vals[i].len);
			s->vals[i].u.p = buf + off;
			off += row->vals[i].len;
		}
	}
}

int store_submit(struct store *st, const struct store_row *row)
{
	int64_t need = row_bytes(st, row);
	void *heap = NULL;
	bool wake;

	if (need < 0) {
		count_add(&st->rejected, 1);
		return (int)need;
	}
	if (need > STORE_SLOT_INLINE) {
		heap = malloc((size_t)need);
		if (!heap) {
			count_add(&st->rejected, 1);
			return -ENOMEM;
		}
	}

	pthread_mutex_lock(&st->lock);
	if (st->stopping) {
		pthread_mutex_unlock(&st->lock);
		free(heap);
		return -ESHUTDOWN;
	}
	if (st->count == st->cfg.queue_rows ||
	    st->queued_bytes + (uint64_t)need > st->cfg.queue_bytes) {
		pthread_mutex_unlock(&st->lock);
		free(heap);
		count_add(&st->dropped_full, 1);
		count_add(&st->dropped_full_by_stmt[row->stmt], 1);
		return -EAGAIN;
	}
	struct slot *s = &st->slots[(st->head + st->count) % st->cfg.queue_rows];
	s->heap = heap;
	s->bytes = (size_t)need;
	slot_fill(s, row, heap ? heap : s->inline_buf);
	s->seq = ++st->next_seq;
	s->queued_ns = clock_ns(CLOCK_MONOTONIC);
	st->count++;
	st->queued_bytes += (uint64_t)need;
	atomic_store_explicit(&st->queued, st->count, memory_order_relaxed);
	if (st->count > count_get(&st->queued_max))
		atomic_store_explicit(&st->queued_max, st->count, memory_order_relaxed);
	/* The writer sleeps untimed on an empty queue and timed while a
	 * batch fills: only these two transitions change its decision. */
	wake = st->count == 1 || st->count == st->cfg.batch_rows;
	pthread_mutex_unlock(&st->lock);
	if (wake)
		pthread_cond_signal(&st->wake);
	count_add(&st->submitted, 1);
	return 0;
}

/* ---- writer side ---------------------------------------------------- */

enum row_outcome { ROW_OK, ROW_REFUSED, ROW_FATAL };

static enum row_outcome run_row(struct store *st, const struct slot *s)
{
	sqlite3_stmt *ps = st->prepared[s->stmt];
	int rc = SQLITE_OK;

	for (unsigned i = 0; i < s->nvals && rc == SQLITE_OK; i++) {
		const struct store_value *v = &s->vals[i];
		int col = (int)i + 1;

		switch (v->type) {
		case STORE_V_INT:
			rc = sqlite3_bind_int64(ps, col, v->u.i);
			break;
		case STORE_V_TEXT:
			rc = sqlite3_bind_text(ps, col, v->len ? v->u.p : "", (int)v->len,
					       SQLITE_STATIC);
			break;
		case STORE_V_BLOB:
			rc = v->len ? sqlite3_bind_blob(ps, col, v->u.p, (int)v->len, SQLITE_STATIC)
				    : sqlite3_bind_zeroblob(ps, col, 0);
			break;
		default:
			rc = sqlite3_bind_null(ps, col);
			break;
		}
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_step(ps);
	if (rc != SQLITE_DONE)
		set_last_error(st, "%s: %s", store_stmt_def(s->stmt)->name, sqlite3_errmsg(st->db));
	sqlite3_reset(ps);
	sqlite3_clear_bindings(ps);
	switch (rc & 0xff) {
	case SQLITE_DONE:
		return ROW_OK;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_TOOBIG:
	case SQLITE_RANGE:
		return ROW_REFUSED;
	default:
		return ROW_FATAL;
	}
}

static int step_once(struct store *st, sqlite3_stmt *ps, const char *what)
{
	int rc = sqlite3_step(ps);

	sqlite3_reset(ps);
	if (rc != SQLITE_DONE) {
		set_last_error(st, "%s: %s", what, sqlite3_errmsg(st->db));
		return -EIO;
	}
	return 0;
}

/* Runs slots [head, head + n) in one transaction. */
static struct batch_result run_batch(struct store *st, uint32_t head, uint32_t n)
{
	struct batch_result res = {0};
	bool fatal = false;

	if (step_once(st, st->begin, "begin batch") < 0) {
		res.failed = n;
		return res;
	}
	for (uint32_t i = 0; i < n && !fatal; i++) {
		switch (run_row(st, &st->slots[(head + i) % st->cfg.queue_rows])) {
		case ROW_OK:
			res.ok++;
			break;
		case ROW_REFUSED:
			res.refused++;
			break;
		case ROW_FATAL:
			fatal = true;
			break;
		}
	}
	if (!fatal && step_once(st, st->commit, "commit batch") == 0)
		return res;
	/* Either a row hit an I/O-class error or COMMIT failed: the batch is
	 * gone. SQLite may already have rolled back; then this is a no-op. */
	sqlite3_step(st->rollback);
	sqlite3_reset(st->rollback);
	res = (struct batch_result){.failed = n};
	return res;
}

static void release_slots(struct store *st, uint32_t head, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		struct slot *s = &st->slots[(head + i) % st->cfg.queue_rows];

		free(s->heap);
		s->heap = NULL;
	}
}

/* True when the head row must be committed without waiting any longer. */
static bool urgent(const struct store *st)
{
	return st->stopping || st->count >= st->cfg.batch_rows ||
	       st->flush_seq >= st->slots[st->head].seq;
}

static void *writer_main(void *arg)
{
	struct store *st = arg;

	pthread_mutex_lock(&st->lock);
	for (;;) {
		while (st->count == 0 && !st->stopping)
			pthread_cond_wait(&st->wake, &st->lock);
		if (st->count == 0)
			break;
		uint64_t deadline = st->slots[st->head].queued_ns + st->cfg.max_delay_ms * 1000000u;
		while (!urgent(st)) {
			struct timespec ts = ns_to_timespec(deadline);

			if (pthread_cond_timedwait(&st->wake, &st->lock, &ts) == ETIMEDOUT)
				break;
		}
		uint32_t head = st->head;
		uint32_t n = st->count < st->cfg.batch_rows ? st->count : st->cfg.batch_rows;
		uint32_t last = (head + n - 1) % st->cfg.queue_rows;
		uint64_t last_seq = st->slots[last].seq;
		uint64_t bytes = 0;
		for (uint32_t i = 0; i < n; i++)
			bytes += st->slots[(head + i) % st->cfg.queue_rows].bytes;
		pthread_mutex_unlock(&st->lock);

		struct batch_result res = run_batch(st, head, n);
		release_slots(st, head, n);
		count_add(&st->row_errors, res.refused);
		if (res.failed) {
			count_add(&st->failed_rows, res.failed);
			count_add(&st->batch_errors, 1);
		} else {
			count_add(&st->committed, res.ok);
			count_add(&st->batches, 1);
			atomic_store_explicit(&st->last_seq, last_seq, memory_order_relaxed);
			if (st->cfg.on_commit)
				st->cfg.on_commit(st->cfg.on_commit_arg, res.ok, last_seq);
		}

		pthread_mutex_lock(&st->lock);
		st->head = (head + n) % st->cfg.queue_rows;
		st->count -= n;
		st->queued_bytes -= bytes;
		st->done_seq = last_seq;
		atomic_store_explicit(&st->queued, st->count, memory_order_relaxed);
		pthread_cond_broadcast(&st->done);
	}
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

int store_flush(struct store *st, unsigned timeout_ms)
{
	uint64_t deadline = clock_ns(CLOCK_MONOTONIC) + (uint64_t)timeout_ms * 1000000u;
	struct timespec ts = ns_to_timespec(deadline);
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	uint64_t target = st->next_seq;
	if (st->flush_seq < target) {
		st->flush_seq = target;
		pthread_cond_signal(&st->wake);
	}
	while (st->done_seq < target && rc == 0)
		if (pthread_cond_timedwait(&st->done, &st->lock, &ts) == ETIMEDOUT)
			rc = st->done_seq < target ? -ETIMEDOUT : 0;
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* ---- open / close --------------------------------------------------- */

struct store_counters store_get_counters(struct store *st)
{
	struct store_counters c = {
	    .submitted = count_get(&st->submitted),
	    .committed = count_get(&st->committed),
	    .batches = count_get(&st->batches),
	    .dropped_full = count_get(&st->dropped_full),
	    .rejected = count_get(&st->rejected),
	    .row_errors = count_get(&st->row_errors),
	    .failed_rows = count_get(&st->failed_rows),
	    .batch_errors = count_get(&st->batch_errors),
	    .queued = count_get(&st->queued),
	    .queued_max = count_get(&st->queued_max),
	    .last_seq = count_get(&st->last_seq),
	};
	for (int i = 0; i < STORE_STMT_COUNT; i++)
		c.dropped_full_by_stmt[i] = count_get(&st->dropped_full_by_stmt[i]);
	return c;
}

int64_t store_next_conn_id(struct store *st)
{
	return atomic_fetch_add_explicit(&st->next_conn_id, 1, memory_order_relaxed);
}

static int db_exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		store_errf(err, errlen, "%s: %s", sql, sqlite3_errmsg(db));
		return -EIO;
	}
	return 0;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out, char *err, size_t errlen)
{
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK) {
		store_errf(err, errlen, "schema does not match this build (%s): %s", sql,
			   sqlite3_errmsg(db));
		return -EUCLEAN;
	}
	return 0;
}

/* Everything the writer needs from the database: pragmas, schema,
 * statements, the next connection ID. */
static int db_setup(struct store *st, const char *path, char *err, size_t errlen)
{
	static const char *const sync_sql[] = {
	    "PRAGMA synchronous = OFF", "PRAGMA synchronous = NORMAL", "PRAGMA synchronous = FULL"};
	const struct store_migration *list;
	size_t n;
	int64_t next = 1;
	int rc;

	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		store_errf(err, errlen, "cannot open: %s",
			   st->db ? sqlite3_errmsg(st->db) : "out of memory");
		return -EIO;
	}
	sqlite3_busy_timeout(st->db, (int)st->cfg.busy_timeout_ms);
	rc = db_exec(st->db, "PRAGMA journal_mode = WAL", err, errlen);
	if (rc == 0)
		rc = db_exec(st->db, sync_sql[st->cfg.sync], err, errlen);
	if (rc == 0)
		rc = db_exec(st->db, "PRAGMA foreign_keys = OFF", err, errlen);
	if (rc < 0)
		return rc;
	list = store_schema_migrations(&n);
	rc = store_schema_migrate(st->db, list, n, NULL, err, errlen);
	if (rc < 0)
		return rc;
	for (int i = 0; i < STORE_STMT_COUNT && rc == 0; i++)
		rc = prepare(st->db, store_stmt_def((enum store_stmt)i)->sql, &st->prepared[i], err,
			     errlen);
	if (rc == 0)
		rc = prepare(st->db, "BEGIN IMMEDIATE", &st->begin, err, errlen);
	if (rc == 0)
		rc = prepare(st->db, "COMMIT", &st->commit, err, errlen);
	if (rc == 0)
		rc = prepare(st->db, "ROLLBACK", &st->rollback, err, errlen);
	if (rc < 0)
		return rc;

	sqlite3_stmt *q = NULL;
	if (prepare(st->db, "SELECT coalesce(max(conn_id), 0) + 1 FROM connections", &q, err,
		    errlen) < 0)
		return -EUCLEAN;
	if (sqlite3_step(q) == SQLITE_ROW)
		next = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	atomic_store(&st->next_conn_id, next);
	return 0;
}

static void db_teardown(struct store *st)
{
	for (int i = 0; i < STORE_STMT_COUNT; i++)
		sqlite3_finalize(st->prepared[i]);
	sqlite3_finalize(st->begin);
	sqlite3_finalize(st->commit);
	sqlite3_finalize(st->rollback);
	sqlite3_close(st->db);
	st->db = NULL;
}

/* Validates an existing file through a read-only connection, so a file we
 * refuse is never opened for writing (no hot-journal rollback, no
 * checkpoint, no header rewrite). */
static int validate_existing(const char *path, bool check, char *err, size_t errlen)
{
	sqlite3 *ro = NULL;
	int version, rc;

	if (sqlite3_open_v2(path, &ro, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		store_errf(err, errlen, "cannot open: %s",
			   ro ? sqlite3_errmsg(ro) : "out of memory");
		sqlite3_close(ro);
		return -EIO;
	}
	rc = store_schema_inspect(ro, store_schema_latest(), check, &version, err, errlen);
	sqlite3_close(ro);
	return rc;
}

static int start_writer(struct store *st)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	int rc;

	pthread_mutex_init(&st->lock, NULL);
	pthread_mutex_init(&st->err_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&st->wake, &ca);
	pthread_cond_init(&st->done, &ca);
	pthread_condattr_destroy(&ca);
	/* Signals belong to the daemon's main loop, not to the writer. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&st->thread, NULL, writer_main, st);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return -rc;
	pthread_setname_np(st->thread, "craft-store");
	return 0;
}

int store_open(struct store **out, const char *path, const struct store_config *cfg, char *err,
	       size_t errlen)
{
	struct store_config defaults;
	struct store *st;
	int rc;

	*out = NULL;
	if (!cfg) {
		store_config_defaults(&defaults);
		cfg = &defaults;
	}
	rc = config_check(cfg, err, errlen);
	if (rc < 0)
		return rc;
	rc = store_schema_header_check(path, err, errlen);
	if (rc == 0)
		rc = validate_existing(path, cfg->quick_check, err, errlen);
	else if (rc == -ENOENT)
		rc = 0;
	if (rc < 0)
		return rc;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->cfg = *cfg;
	st->slots = calloc(cfg->queue_rows, sizeof(*st->slots));
	if (!st->slots) {
		free(st);
		return -ENOMEM;
	}
	rc = db_setup(st, path, err, errlen);
	if (rc == 0) {
		rc = start_writer(st);
		if (rc < 0)
			store_errf(err, errlen, "cannot start the store writer: %s", strerror(-rc));
	}
	if (rc < 0) {
		db_teardown(st);
		free(st->slots);
		free(st);
		return rc;
	}
	*out = st;
	return 0;
}

int store_close(struct store *st)
{
	int rc;

	if (!st)
		return 0;
	pthread_mutex_lock(&st->lock);
	st->stopping = true;
	pthread_mutex_unlock(&st->lock);
	pthread_cond_signal(&st->wake);
	pthread_join(st->thread, NULL);
	rc = count_get(&st->failed_rows) > 0 ? -EIO : 0;
	db_teardown(st);
	pthread_cond_destroy(&st->wake);
	pthread_cond_destroy(&st->done);
	pthread_mutex_destroy(&st->lock);
	pthread_mutex_destroy(&st->err_lock);
	free(st->slots);
	free(st);
	return rc;
}

int store_open_readonly(const char *path, sqlite3 **db, char *err, size_t errlen)
{
	int version, rc;

	*db = NULL;
	rc = store_schema_header_check(path, err, errlen);
	if (rc == -ENOENT)
		store_errf(err, errlen, "no database here (missing or empty file)");
	if (rc < 0)
		return rc;
	if (sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		store_errf(err, errlen, "cannot open: %s",
			   *db ? sqlite3_errmsg(*db) : "out of memory");
		rc = -EIO;
	}
	if (rc == 0) {
		sqlite3_busy_timeout(*db, 5000);
		rc = store_schema_inspect(*db, store_schema_latest(), true, &version, err, errlen);
	}
	if (rc == 0 && version == 0) {
		store_errf(err, errlen, "empty SQLite file, not initialised");
		rc = -ENOENT;
	}
	if (rc < 0) {
		sqlite3_close(*db);
		*db = NULL;
	}
	return rc;
}
