-- CRAFT store, schema version 1: the tables.
-- Conventions (see schema/README.md): times are integer microseconds since
-- the Unix epoch (UTC), columns ending in _us; IPv4 addresses are integers
-- in host byte order (198.18.0.10 = 3323068426); sequence offsets are
-- "seq - ISN" unwrapped to 64 bits, so the first data byte is offset 1 and
-- every *_end is exclusive (the relative ACK that acknowledges the range).
-- REFERENCES clauses document relationships; they are not enforced
-- (foreign_keys is off) because a row may be refused when the queue is full.

CREATE TABLE schema_history (
  version     INTEGER PRIMARY KEY,
  name        TEXT NOT NULL,
  applied_us  INTEGER NOT NULL
) STRICT;

-- One row per client TCP connection seen by this host.
CREATE TABLE connections (
  conn_id           INTEGER PRIMARY KEY,  -- from store_next_conn_id()
  client_ip         INTEGER NOT NULL,
  client_port       INTEGER NOT NULL,
  vip               INTEGER,              -- service address the client dialled
  vport             INTEGER,
  proxy_ip          INTEGER,              -- proxy end of the server connection
  proxy_port        INTEGER,
  server_ip         INTEGER,              -- backend
  server_port       INTEGER,
  backend           TEXT,                 -- backend name from the config
  isn_client        INTEGER,              -- client's ISN
  isn_proxy_client  INTEGER,              -- proxy's ISN toward the client
  isn_proxy_server  INTEGER,              -- proxy's ISN toward the backend
  isn_server        INTEGER,              -- backend's ISN
  state             TEXT NOT NULL,        -- open, spliced, recovering, closed, ...
  open_us           INTEGER NOT NULL,
  close_us          INTEGER,              -- NULL while open
  updated_us        INTEGER NOT NULL
) STRICT;
CREATE INDEX connections_client ON connections (client_ip, client_port);
CREATE INDEX connections_open ON connections (open_us) WHERE close_us IS NULL;

-- One row per request/response exchange. txn_id = client_ip << 32 |
-- client_port << 16 | ordinal (1, 2, ... on the connection), stored as the
-- signed 64-bit reinterpretation of that unsigned value.
CREATE TABLE transactions (
  conn_id         INTEGER NOT NULL REFERENCES connections (conn_id),
  txn_id          INTEGER NOT NULL,
  state           TEXT NOT NULL,          -- request, response, complete, ...
  request_us      INTEGER NOT NULL,       -- first request byte seen
  response_us     INTEGER,                -- first response byte seen
  complete_us     INTEGER,                -- last response byte logged
  request_bytes   INTEGER,
  response_bytes  INTEGER,
  summary         TEXT,                   -- e.g. the request line, bounded
  PRIMARY KEY (conn_id, txn_id)
) STRICT;
CREATE INDEX transactions_txn ON transactions (txn_id);

-- Tags decide what recovery may replay (1 = the first word of each pair).
CREATE TABLE tags (
  conn_id        INTEGER NOT NULL,
  txn_id         INTEGER NOT NULL,
  deterministic  INTEGER NOT NULL CHECK (deterministic IN (0, 1)),
  read_only      INTEGER NOT NULL CHECK (read_only IN (0, 1)),  -- 0 = update
  idempotent     INTEGER NOT NULL CHECK (idempotent IN (0, 1)),
  source         TEXT,                    -- rule or default that tagged it
  tagged_us      INTEGER NOT NULL,
  PRIMARY KEY (conn_id, txn_id)
) STRICT;

-- Where each transaction sits in the two byte streams: request bytes relative
-- to the client's ISN, response bytes relative to the server's ISN.
CREATE TABLE seq_offsets (
  conn_id     INTEGER NOT NULL,
  txn_id      INTEGER NOT NULL,
  req_start   INTEGER,
  req_end     INTEGER,
  resp_start  INTEGER,
  resp_end    INTEGER,                    -- = AckTL when this is T_L
  updated_us  INTEGER NOT NULL,
  PRIMARY KEY (conn_id, txn_id)
) STRICT;

-- Latest progress marks per connection, in the server-side sequence space.
CREATE TABLE conn_marks (
  conn_id           INTEGER PRIMARY KEY,
  ack_cl            INTEGER,              -- last client ACK (AckCL), rel. server ISN
  last_server_byte  INTEGER,              -- end of server bytes logged, rel. server ISN
  last_client_byte  INTEGER,              -- end of client bytes logged, rel. client ISN
  updated_us        INTEGER NOT NULL
) STRICT;

-- Logged stream bytes (the logger keeps responses for resending).
CREATE TABLE payloads (
  conn_id     INTEGER NOT NULL,
  txn_id      INTEGER NOT NULL,
  direction   TEXT NOT NULL CHECK (direction IN ('request', 'response')),
  rel_offset  INTEGER NOT NULL,           -- offset of data's first byte
  data        BLOB NOT NULL,
  logged_us   INTEGER NOT NULL,
  PRIMARY KEY (conn_id, txn_id, direction, rel_offset)
) STRICT;

-- Splice state as replicated between proxies; append-only, newest wins.
CREATE TABLE splice_snapshots (
  snap_id           INTEGER PRIMARY KEY,
  conn_id           INTEGER NOT NULL,
  owner             TEXT NOT NULL,        -- proxy that owns the splice
  taken_us          INTEGER NOT NULL,
  client_ip         INTEGER NOT NULL,     -- client side: client <-> VIP
  client_port       INTEGER NOT NULL,
  vip               INTEGER NOT NULL,
  vport             INTEGER NOT NULL,
  proxy_ip          INTEGER NOT NULL,     -- server side: proxy <-> backend
  proxy_port        INTEGER NOT NULL,
  server_ip         INTEGER NOT NULL,
  server_port       INTEGER NOT NULL,
  seq_delta_c2s     INTEGER NOT NULL,     -- added to client seq, taken from server ack
  seq_delta_s2c     INTEGER NOT NULL,     -- added to server seq, taken from client ack
  ts_delta_c2s      INTEGER,              -- added to client TSval (NULL: no timestamps)
  ts_delta_s2c      INTEGER,              -- added to server TSval
  wscale_client     INTEGER,              -- shift announced by the client
  wscale_to_client  INTEGER,              -- shift the proxy announced to the client
  wscale_server     INTEGER,              -- shift announced by the backend
  wscale_to_server  INTEGER,              -- shift the proxy announced to the backend
  sack_ok           INTEGER CHECK (sack_ok IN (0, 1))
) STRICT;
CREATE INDEX splice_snapshots_conn ON splice_snapshots (conn_id, snap_id);

-- One row per recovered (or abandoned) client connection after a backend
-- failure; T_* columns hold full transaction IDs (ordinal 0 = none).
CREATE TABLE failover_events (
  event_id           INTEGER PRIMARY KEY,
  conn_id            INTEGER,             -- NULL for a backend-wide event
  backend            TEXT NOT NULL,       -- the one that failed
  alternate          TEXT,                -- the one that took over
  detected_us        INTEGER NOT NULL,
  recovery_start_us  INTEGER,
  recovery_end_us    INTEGER,
  t_l                INTEGER,             -- last txn with its response fully logged
  p                  INTEGER,             -- response bytes of T_L + 1 logged
  ack_cl             INTEGER,             -- rel. server ISN
  ack_tl             INTEGER,             -- rel. server ISN
  t_s                INTEGER,
  t_a                INTEGER,
  t_r                INTEGER,
  t_sp               INTEGER,
  bytes_resent       INTEGER,
  txns_replayed      INTEGER,
  outcome            TEXT NOT NULL,       -- recovered, reset, failed, ...
  detail             TEXT
) STRICT;
CREATE INDEX failover_events_time ON failover_events (detected_us);

-- Daemon counters sampled over time (append-only).
CREATE TABLE counters (
  sample_id   INTEGER PRIMARY KEY,
  daemon      TEXT NOT NULL,
  name        TEXT NOT NULL,
  value       INTEGER NOT NULL,
  sampled_us  INTEGER NOT NULL
) STRICT;
CREATE INDEX counters_name ON counters (daemon, name, sampled_us);
