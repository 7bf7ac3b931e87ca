/* store_stmt - the record kinds the store can persist, each mapped to one
 * SQL statement. This table is the only place that knows the SQL a daemon's
 * rows turn into: the writer thread binds a row's values to the statement
 * of its kind in order (value i -> parameter i + 1) and steps it, so adding
 * a record kind means adding an enum entry and a line in store_stmt.c (and a
 * migration if it needs a new table), never touching the writer.
 *
 * Value order of every kind (NULL allowed where the column allows it;
 * units and encodings are described in schema/README.md):
 *
 *   CONNECTION_OPEN   conn_id, client_ip, client_port, vip, vport, proxy_ip,
 *                     proxy_port, server_ip, server_port, backend(text),
 *                     isn_client, isn_proxy_client, isn_proxy_server,
 *                     isn_server, state(text), open_us                  (16)
 *   CONNECTION_UPDATE conn_id, state(text), server_ip, server_port,
 *                     backend(text), isn_proxy_server, isn_server,
 *                     updated_us; NULL keeps the stored value           (8)
 *   CONNECTION_CLOSE  conn_id, state(text), close_us                    (3)
 *   TRANSACTION_BEGIN conn_id, txn_id, state(text), request_us,
 *                     summary(text)                                     (5)
 *   TRANSACTION_UPDATE conn_id, txn_id, state(text), response_us,
 *                     complete_us, request_bytes, response_bytes;
 *                     NULL keeps the stored value                       (7)
 *   TAGS              conn_id, txn_id, deterministic, read_only,
 *                     idempotent, source(text), tagged_us; replaces     (7)
 *   SEQ_OFFSETS       conn_id, txn_id, req_start, req_end, resp_start,
 *                     resp_end, updated_us; upsert, NULL keeps          (7)
 *   CONN_MARKS        conn_id, ack_cl, last_server_byte,
 *                     last_client_byte, updated_us; upsert, NULL keeps  (5)
 *   PAYLOAD           conn_id, txn_id, direction(text: request|response),
 *                     rel_offset, data(blob), logged_us                 (6)
 *   SPLICE_SNAPSHOT   conn_id, owner(text), taken_us, client_ip,
 *                     client_port, vip, vport, proxy_ip, proxy_port,
 *                     server_ip, server_port, seq_delta_c2s,
 *                     seq_delta_s2c, ts_delta_c2s, ts_delta_s2c,
 *                     wscale_client, wscale_to_client, wscale_server,
 *                     wscale_to_server, sack_ok                         (20)
 *   FAILOVER_EVENT    conn_id, backend(text), alternate(text),
 *                     detected_us, recovery_start_us, recovery_end_us,
 *                     t_l, p, ack_cl, ack_tl, t_s, t_a, t_r, t_sp,
 *                     bytes_resent, txns_replayed, outcome(text),
 *                     detail(text)                                      (18)
 *   COUNTER           daemon(text), name(text), value, sampled_us       (4)
 *   TRANSACTION_UPSERT conn_id, txn_id, state(text), request_us,
 *                     response_us, complete_us, request_bytes,
 *                     response_bytes, summary(text), status, aux_txn_id;
 *                     inserts, or updates where the value is not NULL
 *                     (state and request_us required) (schema 3)        (11)
 *   DIGEST            conn_id, txn_id, direction(text), rel_start,
 *                     length, sha256(blob), complete, hash_ok,
 *                     logged_us; replaces (schema 3)                    (9)
 */
#ifndef CRAFT_STORE_STMT_H
#define CRAFT_STORE_STMT_H

enum store_stmt {
	STORE_CONNECTION_OPEN,
	STORE_CONNECTION_UPDATE,
	STORE_CONNECTION_CLOSE,
	STORE_TRANSACTION_BEGIN,
	STORE_TRANSACTION_UPDATE,
	STORE_TAGS,
	STORE_SEQ_OFFSETS,
	STORE_CONN_MARKS,
	STORE_PAYLOAD,
	STORE_SPLICE_SNAPSHOT,
	STORE_FAILOVER_EVENT,
	STORE_COUNTER,
	STORE_TRANSACTION_UPSERT,
	STORE_DIGEST,
	STORE_STMT_COUNT
};

struct store_stmt_def {
	const char *name; /* for messages: "connection_open" */
	unsigned nvals;	  /* exact number of values a row of this kind carries */
	const char *sql;  /* one statement with nvals positional parameters */
};

/* The definition of a kind, or NULL when stmt is out of range. */
const struct store_stmt_def *store_stmt_def(enum store_stmt stmt);

#endif
