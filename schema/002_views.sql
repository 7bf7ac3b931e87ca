-- CRAFT store, schema version 2: views for operators (sqlite3 FILE).
-- Addresses as dotted quads, times as UTC text with milliseconds, durations
-- in milliseconds, tags as words, transaction IDs split into their parts.

CREATE VIEW v_connections AS
SELECT c.conn_id,
  ((c.client_ip >> 24) & 255) || '.' || ((c.client_ip >> 16) & 255) || '.' ||
    ((c.client_ip >> 8) & 255) || '.' || (c.client_ip & 255) AS client_ip,
  c.client_port,
  ((c.vip >> 24) & 255) || '.' || ((c.vip >> 16) & 255) || '.' ||
    ((c.vip >> 8) & 255) || '.' || (c.vip & 255) AS vip,
  c.vport,
  ((c.server_ip >> 24) & 255) || '.' || ((c.server_ip >> 16) & 255) || '.' ||
    ((c.server_ip >> 8) & 255) || '.' || (c.server_ip & 255) AS server_ip,
  c.server_port,
  c.backend,
  c.state,
  strftime('%Y-%m-%d %H:%M:%f', c.open_us / 1e6, 'unixepoch') AS opened_utc,
  strftime('%Y-%m-%d %H:%M:%f', c.close_us / 1e6, 'unixepoch') AS closed_utc,
  (SELECT count(*) FROM transactions t WHERE t.conn_id = c.conn_id) AS transactions
FROM connections c;

CREATE VIEW v_open_connections AS
SELECT v.*, m.ack_cl, m.last_server_byte, m.last_client_byte,
  strftime('%Y-%m-%d %H:%M:%f', m.updated_us / 1e6, 'unixepoch') AS marks_utc
FROM v_connections v
JOIN connections c ON c.conn_id = v.conn_id
LEFT JOIN conn_marks m ON m.conn_id = v.conn_id
WHERE c.close_us IS NULL;

CREATE VIEW v_transactions AS
SELECT t.conn_id,
  t.txn_id,
  ((t.txn_id >> 56) & 255) || '.' || ((t.txn_id >> 48) & 255) || '.' ||
    ((t.txn_id >> 40) & 255) || '.' || ((t.txn_id >> 32) & 255) AS client_ip,
  (t.txn_id >> 16) & 65535 AS client_port,
  t.txn_id & 65535 AS ordinal,
  t.state,
  strftime('%Y-%m-%d %H:%M:%f', t.request_us / 1e6, 'unixepoch') AS request_utc,
  (t.complete_us - t.request_us) / 1000.0 AS duration_ms,
  t.request_bytes,
  t.response_bytes,
  CASE g.deterministic WHEN 1 THEN 'deterministic'
    WHEN 0 THEN 'non-deterministic' END AS determinism,
  CASE g.read_only WHEN 1 THEN 'read-only' WHEN 0 THEN 'update' END AS access,
  CASE g.idempotent WHEN 1 THEN 'idempotent'
    WHEN 0 THEN 'non-idempotent' END AS idempotence,
  s.req_start,
  s.req_end,
  s.resp_start,
  s.resp_end,
  t.summary
FROM transactions t
LEFT JOIN tags g ON g.conn_id = t.conn_id AND g.txn_id = t.txn_id
LEFT JOIN seq_offsets s ON s.conn_id = t.conn_id AND s.txn_id = t.txn_id;

CREATE VIEW v_failover_history AS
SELECT f.event_id,
  strftime('%Y-%m-%d %H:%M:%f', f.detected_us / 1e6, 'unixepoch') AS detected_utc,
  f.backend,
  f.alternate,
  f.conn_id,
  f.outcome,
  (f.recovery_start_us - f.detected_us) / 1000.0 AS detect_to_start_ms,
  (f.recovery_end_us - f.recovery_start_us) / 1000.0 AS recovery_ms,
  (f.recovery_end_us - f.detected_us) / 1000.0 AS total_ms,
  f.t_l & 65535 AS t_l,
  f.p,
  f.ack_cl,
  f.ack_tl,
  f.t_s & 65535 AS t_s,
  f.t_a & 65535 AS t_a,
  f.t_r & 65535 AS t_r,
  f.t_sp & 65535 AS t_sp,
  f.bytes_resent,
  f.txns_replayed,
  f.detail
FROM failover_events f
ORDER BY f.detected_us;

CREATE VIEW v_latest_splices AS
SELECT s.*
FROM splice_snapshots s
WHERE s.snap_id = (SELECT max(snap_id) FROM splice_snapshots x
                   WHERE x.conn_id = s.conn_id);

CREATE VIEW v_counters_latest AS
SELECT c.daemon, c.name, c.value,
  strftime('%Y-%m-%d %H:%M:%f', c.sampled_us / 1e6, 'unixepoch') AS sampled_utc
FROM counters c
WHERE c.sample_id = (SELECT max(sample_id) FROM counters x
                     WHERE x.daemon = c.daemon AND x.name = c.name);
