-- CRAFT store, schema version 3: what the logger learns about a transaction
-- beyond its boundaries (nfq/core/txn_log_store.c writes it).

-- HTTP final status (NULL: line protocol, or no response head yet).
ALTER TABLE transactions ADD COLUMN status INTEGER;
-- Transaction ID carried in the request (aux logger: the backend's
-- transaction that caused this aux request), encoded like txn_id.
ALTER TABLE transactions ADD COLUMN aux_txn_id INTEGER;

-- A message longer than the logger's max_kept_message is not kept in
-- payloads: its length and SHA-256 are kept instead (paper §3.1). The hash
-- covers the whole message as the peer receives it (head and body), or the
-- part that arrived when the connection ended early (complete = 0).
CREATE TABLE digests (
  conn_id     INTEGER NOT NULL,
  txn_id      INTEGER NOT NULL,
  direction   TEXT NOT NULL CHECK (direction IN ('request', 'response')),
  rel_start   INTEGER NOT NULL,           -- offset of the first byte hashed
  length      INTEGER NOT NULL,           -- bytes the hash covers
  sha256      BLOB NOT NULL,
  complete    INTEGER NOT NULL CHECK (complete IN (0, 1)),
  hash_ok     INTEGER NOT NULL CHECK (hash_ok IN (0, 1)), -- 0: bytes were missing
  logged_us   INTEGER NOT NULL,
  PRIMARY KEY (conn_id, txn_id, direction)
) STRICT;

DROP VIEW v_transactions;
CREATE VIEW v_transactions AS
SELECT t.conn_id,
  t.txn_id,
  ((t.txn_id >> 56) & 255) || '.' || ((t.txn_id >> 48) & 255) || '.' ||
    ((t.txn_id >> 40) & 255) || '.' || ((t.txn_id >> 32) & 255) AS client_ip,
  (t.txn_id >> 16) & 65535 AS client_port,
  t.txn_id & 65535 AS ordinal,
  t.state,
  t.status,
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
  t.aux_txn_id,
  t.summary
FROM transactions t
LEFT JOIN tags g ON g.conn_id = t.conn_id AND g.txn_id = t.txn_id
LEFT JOIN seq_offsets s ON s.conn_id = t.conn_id AND s.txn_id = t.txn_id;
