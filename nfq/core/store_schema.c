/* store_schema - see store_schema.h.
 *
 * The migration texts below are the files under schema/, byte for byte
 * (test_store checks this). To add a migration: write schema/NNN_name.sql,
 * append the same text here as migration_NNN, add it to `migrations`. Never
 * edit a migration that has been released: databases in the field have it
 * applied already; write a new one instead. */
#include "store_schema.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"

/* schema/001_initial.sql */
static const char migration_001[] =
    "-- CRAFT store, schema version 1: the tables.\n"
    "-- Conventions (see schema/README.md): times are integer microseconds since\n"
    "-- the Unix epoch (UTC), columns ending in _us; IPv4 addresses are integers\n"
    "-- in host byte order (198.18.0.10 = 3323068426); sequence offsets are\n"
    "-- \"seq - ISN\" unwrapped to 64 bits, so the first data byte is offset 1 and\n"
    "-- every *_end is exclusive (the relative ACK that acknowledges the range).\n"
    "-- REFERENCES clauses document relationships; they are not enforced\n"
    "-- (foreign_keys is off) because a row may be refused when the queue is full.\n"
    "\n"
    "CREATE TABLE schema_history (\n"
    "  version     INTEGER PRIMARY KEY,\n"
    "  name        TEXT NOT NULL,\n"
    "  applied_us  INTEGER NOT NULL\n"
    ") STRICT;\n"
    "\n"
    "-- One row per client TCP connection seen by this host.\n"
    "CREATE TABLE connections (\n"
    "  conn_id           INTEGER PRIMARY KEY,  -- from store_next_conn_id()\n"
    "  client_ip         INTEGER NOT NULL,\n"
    "  client_port       INTEGER NOT NULL,\n"
    "  vip               INTEGER,              -- service address the client dialled\n"
    "  vport             INTEGER,\n"
    "  proxy_ip          INTEGER,              -- proxy end of the server connection\n"
    "  proxy_port        INTEGER,\n"
    "  server_ip         INTEGER,              -- backend\n"
    "  server_port       INTEGER,\n"
    "  backend           TEXT,                 -- backend name from the config\n"
    "  isn_client        INTEGER,              -- client's ISN\n"
    "  isn_proxy_client  INTEGER,              -- proxy's ISN toward the client\n"
    "  isn_proxy_server  INTEGER,              -- proxy's ISN toward the backend\n"
    "  isn_server        INTEGER,              -- backend's ISN\n"
    "  state             TEXT NOT NULL,        -- open, spliced, recovering, closed, ...\n"
    "  open_us           INTEGER NOT NULL,\n"
    "  close_us          INTEGER,              -- NULL while open\n"
    "  updated_us        INTEGER NOT NULL\n"
    ") STRICT;\n"
    "CREATE INDEX connections_client ON connections (client_ip, client_port);\n"
    "CREATE INDEX connections_open ON connections (open_us) WHERE close_us IS NULL;\n"
    "\n"
    "-- One row per request/response exchange. txn_id = client_ip << 32 |\n"
    "-- client_port << 16 | ordinal (1, 2, ... on the connection), stored as the\n"
    "-- signed 64-bit reinterpretation of that unsigned value.\n"
    "CREATE TABLE transactions (\n"
    "  conn_id         INTEGER NOT NULL REFERENCES connections (conn_id),\n"
    "  txn_id          INTEGER NOT NULL,\n"
    "  state           TEXT NOT NULL,          -- request, response, complete, ...\n"
    "  request_us      INTEGER NOT NULL,       -- first request byte seen\n"
    "  response_us     INTEGER,                -- first response byte seen\n"
    "  complete_us     INTEGER,                -- last response byte logged\n"
    "  request_bytes   INTEGER,\n"
    "  response_bytes  INTEGER,\n"
    "  summary         TEXT,                   -- e.g. the request line, bounded\n"
    "  PRIMARY KEY (conn_id, txn_id)\n"
    ") STRICT;\n"
    "CREATE INDEX transactions_txn ON transactions (txn_id);\n"
    "\n"
    "-- Tags decide what recovery may replay (1 = the first word of each pair).\n"
    "CREATE TABLE tags (\n"
    "  conn_id        INTEGER NOT NULL,\n"
    "  txn_id         INTEGER NOT NULL,\n"
    "  deterministic  INTEGER NOT NULL CHECK (deterministic IN (0, 1)),\n"
    "  read_only      INTEGER NOT NULL CHECK (read_only IN (0, 1)),  -- 0 = update\n"
    "  idempotent     INTEGER NOT NULL CHECK (idempotent IN (0, 1)),\n"
    "  source         TEXT,                    -- rule or default that tagged it\n"
    "  tagged_us      INTEGER NOT NULL,\n"
    "  PRIMARY KEY (conn_id, txn_id)\n"
    ") STRICT;\n"
    "\n"
    "-- Where each transaction sits in the two byte streams: request bytes relative\n"
    "-- to the client's ISN, response bytes relative to the server's ISN.\n"
    "CREATE TABLE seq_offsets (\n"
    "  conn_id     INTEGER NOT NULL,\n"
    "  txn_id      INTEGER NOT NULL,\n"
    "  req_start   INTEGER,\n"
    "  req_end     INTEGER,\n"
    "  resp_start  INTEGER,\n"
    "  resp_end    INTEGER,                    -- = AckTL when this is T_L\n"
    "  updated_us  INTEGER NOT NULL,\n"
    "  PRIMARY KEY (conn_id, txn_id)\n"
    ") STRICT;\n"
    "\n"
    "-- Latest progress marks per connection, in the server-side sequence space.\n"
    "CREATE TABLE conn_marks (\n"
    "  conn_id           INTEGER PRIMARY KEY,\n"
    "  ack_cl            INTEGER,              -- last client ACK (AckCL), rel. server ISN\n"
    "  last_server_byte  INTEGER,              -- end of server bytes logged, rel. server ISN\n"
    "  last_client_byte  INTEGER,              -- end of client bytes logged, rel. client ISN\n"
    "  updated_us        INTEGER NOT NULL\n"
    ") STRICT;\n"
    "\n"
    "-- Logged stream bytes (the logger keeps responses for resending).\n"
    "CREATE TABLE payloads (\n"
    "  conn_id     INTEGER NOT NULL,\n"
    "  txn_id      INTEGER NOT NULL,\n"
    "  direction   TEXT NOT NULL CHECK (direction IN ('request', 'response')),\n"
    "  rel_offset  INTEGER NOT NULL,           -- offset of data's first byte\n"
    "  data        BLOB NOT NULL,\n"
    "  logged_us   INTEGER NOT NULL,\n"
    "  PRIMARY KEY (conn_id, txn_id, direction, rel_offset)\n"
    ") STRICT;\n"
    "\n"
    "-- Splice state as replicated between proxies; append-only, newest wins.\n"
    "CREATE TABLE splice_snapshots (\n"
    "  snap_id           INTEGER PRIMARY KEY,\n"
    "  conn_id           INTEGER NOT NULL,\n"
    "  owner             TEXT NOT NULL,        -- proxy that owns the splice\n"
    "  taken_us          INTEGER NOT NULL,\n"
    "  client_ip         INTEGER NOT NULL,     -- client side: client <-> VIP\n"
    "  client_port       INTEGER NOT NULL,\n"
    "  vip               INTEGER NOT NULL,\n"
    "  vport             INTEGER NOT NULL,\n"
    "  proxy_ip          INTEGER NOT NULL,     -- server side: proxy <-> backend\n"
    "  proxy_port        INTEGER NOT NULL,\n"
    "  server_ip         INTEGER NOT NULL,\n"
    "  server_port       INTEGER NOT NULL,\n"
    "  seq_delta_c2s     INTEGER NOT NULL,     -- added to client seq, taken from server ack\n"
    "  seq_delta_s2c     INTEGER NOT NULL,     -- added to server seq, taken from client ack\n"
    "  ts_delta_c2s      INTEGER,              -- added to client TSval (NULL: no timestamps)\n"
    "  ts_delta_s2c      INTEGER,              -- added to server TSval\n"
    "  wscale_client     INTEGER,              -- shift announced by the client\n"
    "  wscale_to_client  INTEGER,              -- shift the proxy announced to the client\n"
    "  wscale_server     INTEGER,              -- shift announced by the backend\n"
    "  wscale_to_server  INTEGER,              -- shift the proxy announced to the backend\n"
    "  sack_ok           INTEGER CHECK (sack_ok IN (0, 1))\n"
    ") STRICT;\n"
    "CREATE INDEX splice_snapshots_conn ON splice_snapshots (conn_id, snap_id);\n"
    "\n"
    "-- One row per recovered (or abandoned) client connection after a backend\n"
    "-- failure; T_* columns hold full transaction IDs (ordinal 0 = none).\n"
    "CREATE TABLE failover_events (\n"
    "  event_id           INTEGER PRIMARY KEY,\n"
    "  conn_id            INTEGER,             -- NULL for a backend-wide event\n"
    "  backend            TEXT NOT NULL,       -- the one that failed\n"
    "  alternate          TEXT,                -- the one that took over\n"
    "  detected_us        INTEGER NOT NULL,\n"
    "  recovery_start_us  INTEGER,\n"
    "  recovery_end_us    INTEGER,\n"
    "  t_l                INTEGER,             -- last txn with its response fully logged\n"
    "  p                  INTEGER,             -- response bytes of T_L + 1 logged\n"
    "  ack_cl             INTEGER,             -- rel. server ISN\n"
    "  ack_tl             INTEGER,             -- rel. server ISN\n"
    "  t_s                INTEGER,\n"
    "  t_a                INTEGER,\n"
    "  t_r                INTEGER,\n"
    "  t_sp               INTEGER,\n"
    "  bytes_resent       INTEGER,\n"
    "  txns_replayed      INTEGER,\n"
    "  outcome            TEXT NOT NULL,       -- recovered, reset, failed, ...\n"
    "  detail             TEXT\n"
    ") STRICT;\n"
    "CREATE INDEX failover_events_time ON failover_events (detected_us);\n"
    "\n"
    "-- Daemon counters sampled over time (append-only).\n"
    "CREATE TABLE counters (\n"
    "  sample_id   INTEGER PRIMARY KEY,\n"
    "  daemon      TEXT NOT NULL,\n"
    "  name        TEXT NOT NULL,\n"
    "  value       INTEGER NOT NULL,\n"
    "  sampled_us  INTEGER NOT NULL\n"
    ") STRICT;\n"
    "CREATE INDEX counters_name ON counters (daemon, name, sampled_us);\n";

/* schema/002_views.sql */
static const char migration_002[] =
    "-- CRAFT store, schema version 2: views for operators (sqlite3 FILE).\n"
    "-- Addresses as dotted quads, times as UTC text with milliseconds, durations\n"
    "-- in milliseconds, tags as words, transaction IDs split into their parts.\n"
    "\n"
    "CREATE VIEW v_connections AS\n"
    "SELECT c.conn_id,\n"
    "  ((c.client_ip >> 24) & 255) || '.' || ((c.client_ip >> 16) & 255) || '.' ||\n"
    "    ((c.client_ip >> 8) & 255) || '.' || (c.client_ip & 255) AS client_ip,\n"
    "  c.client_port,\n"
    "  ((c.vip >> 24) & 255) || '.' || ((c.vip >> 16) & 255) || '.' ||\n"
    "    ((c.vip >> 8) & 255) || '.' || (c.vip & 255) AS vip,\n"
    "  c.vport,\n"
    "  ((c.server_ip >> 24) & 255) || '.' || ((c.server_ip >> 16) & 255) || '.' ||\n"
    "    ((c.server_ip >> 8) & 255) || '.' || (c.server_ip & 255) AS server_ip,\n"
    "  c.server_port,\n"
    "  c.backend,\n"
    "  c.state,\n"
    "  strftime('%Y-%m-%d %H:%M:%f', c.open_us / 1e6, 'unixepoch') AS opened_utc,\n"
    "  strftime('%Y-%m-%d %H:%M:%f', c.close_us / 1e6, 'unixepoch') AS closed_utc,\n"
    "  (SELECT count(*) FROM transactions t WHERE t.conn_id = c.conn_id) AS transactions\n"
    "FROM connections c;\n"
    "\n"
    "CREATE VIEW v_open_connections AS\n"
    "SELECT v.*, m.ack_cl, m.last_server_byte, m.last_client_byte,\n"
    "  strftime('%Y-%m-%d %H:%M:%f', m.updated_us / 1e6, 'unixepoch') AS marks_utc\n"
    "FROM v_connections v\n"
    "JOIN connections c ON c.conn_id = v.conn_id\n"
    "LEFT JOIN conn_marks m ON m.conn_id = v.conn_id\n"
    "WHERE c.close_us IS NULL;\n"
    "\n"
    "CREATE VIEW v_transactions AS\n"
    "SELECT t.conn_id,\n"
    "  t.txn_id,\n"
    "  ((t.txn_id >> 56) & 255) || '.' || ((t.txn_id >> 48) & 255) || '.' ||\n"
    "    ((t.txn_id >> 40) & 255) || '.' || ((t.txn_id >> 32) & 255) AS client_ip,\n"
    "  (t.txn_id >> 16) & 65535 AS client_port,\n"
    "  t.txn_id & 65535 AS ordinal,\n"
    "  t.state,\n"
    "  strftime('%Y-%m-%d %H:%M:%f', t.request_us / 1e6, 'unixepoch') AS request_utc,\n"
    "  (t.complete_us - t.request_us) / 1000.0 AS duration_ms,\n"
    "  t.request_bytes,\n"
    "  t.response_bytes,\n"
    "  CASE g.deterministic WHEN 1 THEN 'deterministic'\n"
    "    WHEN 0 THEN 'non-deterministic' END AS determinism,\n"
    "  CASE g.read_only WHEN 1 THEN 'read-only' WHEN 0 THEN 'update' END AS access,\n"
    "  CASE g.idempotent WHEN 1 THEN 'idempotent'\n"
    "    WHEN 0 THEN 'non-idempotent' END AS idempotence,\n"
    "  s.req_start,\n"
    "  s.req_end,\n"
    "  s.resp_start,\n"
    "  s.resp_end,\n"
    "  t.summary\n"
    "FROM transactions t\n"
    "LEFT JOIN tags g ON g.conn_id = t.conn_id AND g.txn_id = t.txn_id\n"
    "LEFT JOIN seq_offsets s ON s.conn_id = t.conn_id AND s.txn_id = t.txn_id;\n"
    "\n"
    "CREATE VIEW v_failover_history AS\n"
    "SELECT f.event_id,\n"
    "  strftime('%Y-%m-%d %H:%M:%f', f.detected_us / 1e6, 'unixepoch') AS detected_utc,\n"
    "  f.backend,\n"
    "  f.alternate,\n"
    "  f.conn_id,\n"
    "  f.outcome,\n"
    "  (f.recovery_start_us - f.detected_us) / 1000.0 AS detect_to_start_ms,\n"
    "  (f.recovery_end_us - f.recovery_start_us) / 1000.0 AS recovery_ms,\n"
    "  (f.recovery_end_us - f.detected_us) / 1000.0 AS total_ms,\n"
    "  f.t_l & 65535 AS t_l,\n"
    "  f.p,\n"
    "  f.ack_cl,\n"
    "  f.ack_tl,\n"
    "  f.t_s & 65535 AS t_s,\n"
    "  f.t_a & 65535 AS t_a,\n"
    "  f.t_r & 65535 AS t_r,\n"
    "  f.t_sp & 65535 AS t_sp,\n"
    "  f.bytes_resent,\n"
    "  f.txns_replayed,\n"
    "  f.detail\n"
    "FROM failover_events f\n"
    "ORDER BY f.detected_us;\n"
    "\n"
    "CREATE VIEW v_latest_splices AS\n"
    "SELECT s.*\n"
    "FROM splice_snapshots s\n"
    "WHERE s.snap_id = (SELECT max(snap_id) FROM splice_snapshots x\n"
    "                   WHERE x.conn_id = s.conn_id);\n"
    "\n"
    "CREATE VIEW v_counters_latest AS\n"
    "SELECT c.daemon, c.name, c.value,\n"
    "  strftime('%Y-%m-%d %H:%M:%f', c.sampled_us / 1e6, 'unixepoch') AS sampled_utc\n"
    "FROM counters c\n"
    "WHERE c.sample_id = (SELECT max(sample_id) FROM counters x\n"
    "                     WHERE x.daemon = c.daemon AND x.name = c.name);\n";

static const char migration_003[] =
    "-- CRAFT store, schema version 3: what the logger learns about a transaction\n"
    "-- beyond its boundaries (nfq/core/txn_log_store.c writes it).\n"
    "\n"
    "-- HTTP final status (NULL: line protocol, or no response head yet).\n"
    "ALTER TABLE transactions ADD COLUMN status INTEGER;\n"
    "-- Transaction ID carried in the request (aux logger: the backend's\n"
    "-- transaction that caused this aux request), encoded like txn_id.\n"
    "ALTER TABLE transactions ADD COLUMN aux_txn_id INTEGER;\n"
    "\n"
    "-- A message longer than the logger's max_kept_message is not kept in\n"
    "-- payloads: its length and SHA-256 are kept instead (paper §3.1). The hash\n"
    "-- covers the whole message as the peer receives it (head and body), or the\n"
    "-- part that arrived when the connection ended early (complete = 0).\n"
    "CREATE TABLE digests (\n"
    "  conn_id     INTEGER NOT NULL,\n"
    "  txn_id      INTEGER NOT NULL,\n"
    "  direction   TEXT NOT NULL CHECK (direction IN ('request', 'response')),\n"
    "  rel_start   INTEGER NOT NULL,           -- offset of the first byte hashed\n"
    "  length      INTEGER NOT NULL,           -- bytes the hash covers\n"
    "  sha256      BLOB NOT NULL,\n"
    "  complete    INTEGER NOT NULL CHECK (complete IN (0, 1)),\n"
    "  hash_ok     INTEGER NOT NULL CHECK (hash_ok IN (0, 1)), -- 0: bytes were missing\n"
    "  logged_us   INTEGER NOT NULL,\n"
    "  PRIMARY KEY (conn_id, txn_id, direction)\n"
    ") STRICT;\n"
    "\n"
    "DROP VIEW v_transactions;\n"
    "CREATE VIEW v_transactions AS\n"
    "SELECT t.conn_id,\n"
    "  t.txn_id,\n"
    "  ((t.txn_id >> 56) & 255) || '.' || ((t.txn_id >> 48) & 255) || '.' ||\n"
    "    ((t.txn_id >> 40) & 255) || '.' || ((t.txn_id >> 32) & 255) AS client_ip,\n"
    "  (t.txn_id >> 16) & 65535 AS client_port,\n"
    "  t.txn_id & 65535 AS ordinal,\n"
    "  t.state,\n"
    "  t.status,\n"
    "  strftime('%Y-%m-%d %H:%M:%f', t.request_us / 1e6, 'unixepoch') AS request_utc,\n"
    "  (t.complete_us - t.request_us) / 1000.0 AS duration_ms,\n"
    "  t.request_bytes,\n"
    "  t.response_bytes,\n"
    "  CASE g.deterministic WHEN 1 THEN 'deterministic'\n"
    "    WHEN 0 THEN 'non-deterministic' END AS determinism,\n"
    "  CASE g.read_only WHEN 1 THEN 'read-only' WHEN 0 THEN 'update' END AS access,\n"
    "  CASE g.idempotent WHEN 1 THEN 'idempotent'\n"
    "    WHEN 0 THEN 'non-idempotent' END AS idempotence,\n"
    "  s.req_start,\n"
    "  s.req_end,\n"
    "  s.resp_start,\n"
    "  s.resp_end,\n"
    "  t.aux_txn_id,\n"
    "  t.summary\n"
    "FROM transactions t\n"
    "LEFT JOIN tags g ON g.conn_id = t.conn_id AND g.txn_id = t.txn_id\n"
    "LEFT JOIN seq_offsets s ON s.conn_id = t.conn_id AND s.txn_id = t.txn_id;\n";

static const struct store_migration migrations[] = {
    {1, "001_initial", migration_001},
    {2, "002_views", migration_002},
    {3, "003_logger", migration_003},
};

#define N_MIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

/* Every SQLite file starts with these 16 bytes (NUL included). */
static const char sqlite_magic[16] = "SQLite format 3";

const struct store_migration *store_schema_migrations(size_t *count)
{
	*count = N_MIGRATIONS;
	return migrations;
}

int store_schema_latest(void)
{
	return migrations[N_MIGRATIONS - 1].version;
}

void store_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int store_schema_header_check(const char *path, char *err, size_t errlen)
{
	char head[sizeof(sqlite_magic)];
	struct stat sb;
	ssize_t got;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			return -ENOENT;
		store_errf(err, errlen, "cannot open: %s", strerror(-rc));
		return rc;
	}
	if (fstat(fd, &sb) < 0) {
		rc = -errno;
		close(fd);
		store_errf(err, errlen, "cannot stat: %s", strerror(-rc));
		return rc;
	}
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		store_errf(err, errlen, "not a regular file");
		return -EMEDIUMTYPE;
	}
	if (sb.st_size == 0) {
		close(fd);
		return -ENOENT;
	}
	got = pread(fd, head, sizeof(head), 0);
	rc = got < 0 ? -errno : 0;
	close(fd);
	if (rc < 0) {
		store_errf(err, errlen, "cannot read: %s", strerror(-rc));
		return rc;
	}
	/* A real database is at least one 512-byte page; anything shorter
	 * or with another header is somebody else's file. */
	if (sb.st_size < 512 || got != (ssize_t)sizeof(head) ||
	    memcmp(head, sqlite_magic, sizeof(head)) != 0) {
		store_errf(err, errlen, "not an SQLite database (refusing to touch it)");
		return -EMEDIUMTYPE;
	}
	return 0;
}

/* Maps a failed SQLite call to our codes with a message naming what failed. */
static int sqlite_fail(sqlite3 *db, int src, const char *what, char *err, size_t errlen)
{
	switch (src & 0xff) {
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		store_errf(err, errlen, "database is corrupt (%s: %s)", what, sqlite3_errmsg(db));
		return -EUCLEAN;
	default:
		store_errf(err, errlen, "%s: %s", what, sqlite3_errmsg(db));
		return -EIO;
	}
}

/* Runs a query returning one integer in its first row. */
static int query_int(sqlite3 *db, const char *sql, int64_t *out, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*out = sqlite3_column_int64(st, 0);
			rc = SQLITE_OK;
		}
	}
	if (rc != SQLITE_OK) {
		int ret = sqlite_fail(db, rc, sql, err, errlen);
		sqlite3_finalize(st);
		return ret;
	}
	sqlite3_finalize(st);
	return 0;
}

/* PRAGMA quick_check: 0 when it says "ok", else -EUCLEAN with its first
 * complaint. */
static int quick_check(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		int ret = sqlite_fail(db, rc, "quick_check", err, errlen);
		sqlite3_finalize(st);
		return ret == -EIO ? -EUCLEAN : ret;
	}
	const char *verdict = (const char *)sqlite3_column_text(st, 0);
	if (!verdict || strcmp(verdict, "ok") != 0) {
		store_errf(err, errlen, "database is corrupt (quick_check: %s)",
			   verdict ? verdict : "no answer");
		for (char *c = err; c && *c; c++)
			if (*c == '\n')
				*c = ' ';
		sqlite3_finalize(st);
		return -EUCLEAN;
	}
	sqlite3_finalize(st);
	return 0;
}

int store_schema_inspect(sqlite3 *db, int latest, bool check, int *version, char *err,
			 size_t errlen)
{
	int64_t objects, app_id, user_version;
	int rc;

	/* The first read of the schema is where SQLite notices a file that
	 * is no database or has a damaged header. */
	rc = query_int(db, "SELECT count(*) FROM sqlite_schema", &objects, err, errlen);
	if (rc == 0)
		rc = query_int(db, "PRAGMA application_id", &app_id, err, errlen);
	if (rc == 0)
		rc = query_int(db, "PRAGMA user_version", &user_version, err, errlen);
	if (rc < 0)
		return rc;

	if (app_id == 0 && user_version == 0 && objects == 0) {
		*version = 0;
		return 0;
	}
	if (app_id != STORE_APPLICATION_ID) {
		store_errf(err, errlen,
			   "not a CRAFT database (application_id 0x%08llx, expected 0x%08x; "
			   "%lld schema objects): refusing to touch it",
			   (unsigned long long)(uint32_t)app_id, STORE_APPLICATION_ID,
			   (long long)objects);
		return -EMEDIUMTYPE;
	}
	if (user_version > latest) {
		store_errf(err, errlen,
			   "database schema version %lld is newer than this build knows (%d): "
			   "use a newer CRAFT",
			   (long long)user_version, latest);
		return -EPROTONOSUPPORT;
	}
	if (user_version < 1 || objects == 0) {
		store_errf(err, errlen,
			   "database is corrupt (CRAFT application_id but schema version %lld "
			   "with %lld schema objects)",
			   (long long)user_version, (long long)objects);
		return -EUCLEAN;
	}
	if (check) {
		rc = quick_check(db, err, errlen);
		if (rc < 0)
			return rc;
	}
	*version = (int)user_version;
	return 0;
}

int store_schema_version(sqlite3 *db)
{
	int64_t v;

	if (query_int(db, "PRAGMA user_version", &v, NULL, 0) < 0)
		return -EIO;
	return (int)v;
}

static int exec(sqlite3 *db, const char *sql, const char *what, char *err, size_t errlen)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return sqlite_fail(db, rc, what, err, errlen);
	return 0;
}

/* Applies list entries newer than `have`, inside the caller's transaction. */
static int apply(sqlite3 *db, const struct store_migration *list, size_t n, int have, char *err,
		 size_t errlen)
{
	char sql[256];
	int rc;

	for (size_t i = 0; i < n; i++) {
		const struct store_migration *m = &list[i];

		if (m->version != (int)i + 1) {
			store_errf(err, errlen, "migration %s has version %d, expected %zu",
				   m->name, m->version, i + 1);
			return -EINVAL;
		}
		if (m->version <= have)
			continue;
		rc = exec(db, m->sql, m->name, err, errlen);
		if (rc < 0)
			return rc;
		snprintf(sql, sizeof(sql),
			 "INSERT INTO schema_history (version, name, applied_us) "
			 "VALUES (%d, '%s', %llu); PRAGMA user_version = %d",
			 m->version, m->name, (unsigned long long)realtime_us(), m->version);
		rc = exec(db, sql, m->name, err, errlen);
		if (rc < 0)
			return rc;
	}
	snprintf(sql, sizeof(sql), "PRAGMA application_id = %d", STORE_APPLICATION_ID);
	return exec(db, sql, "set application_id", err, errlen);
}

int store_schema_migrate(sqlite3 *db, const struct store_migration *list, size_t n, int *from,
			 char *err, size_t errlen)
{
	int have = 0, rc;

	if (n == 0)
		return -EINVAL;
	rc = exec(db, "BEGIN IMMEDIATE", "begin migration", err, errlen);
	if (rc < 0)
		return rc;
	/* Checked again under the write lock: another process may have
	 * migrated since the caller looked. */
	rc = store_schema_inspect(db, list[n - 1].version, false, &have, err, errlen);
	if (rc == 0 && have < list[n - 1].version)
		rc = apply(db, list, n, have, err, errlen);
	if (rc == 0)
		rc = exec(db, "COMMIT", "commit migration", err, errlen);
	if (rc < 0) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	if (from)
		*from = have;
	return 0;
}
