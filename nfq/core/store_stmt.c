/* store_stmt - record kind -> SQL. See store_stmt.h for the value order of
 * each kind; a unit test prepares every statement against the current
 * schema and checks that its parameter count equals nvals. */
#include "store_stmt.h"

#include <stddef.h>

static const struct store_stmt_def defs[STORE_STMT_COUNT] = {
    [STORE_CONNECTION_OPEN] = {"connection_open", 16,
			       "INSERT INTO connections (conn_id, client_ip, client_port, vip, "
			       "vport, proxy_ip, proxy_port, server_ip, server_port, backend, "
			       "isn_client, isn_proxy_client, isn_proxy_server, isn_server, "
			       "state, open_us, updated_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
			       "?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?16)"},
    [STORE_CONNECTION_UPDATE] = {"connection_update", 8,
				 "UPDATE connections SET state = coalesce(?2, state), "
				 "server_ip = coalesce(?3, server_ip), "
				 "server_port = coalesce(?4, server_port), "
				 "backend = coalesce(?5, backend), "
				 "isn_proxy_server = coalesce(?6, isn_proxy_server), "
				 "isn_server = coalesce(?7, isn_server), updated_us = ?8 "
				 "WHERE conn_id = ?1"},
    [STORE_CONNECTION_CLOSE] = {"connection_close", 3,
				"UPDATE connections SET state = ?2, close_us = ?3, "
				"updated_us = ?3 WHERE conn_id = ?1"},
    [STORE_TRANSACTION_BEGIN] = {"transaction_begin", 5,
				 "INSERT INTO transactions (conn_id, txn_id, state, request_us, "
				 "summary) VALUES (?1, ?2, ?3, ?4, ?5)"},
    [STORE_TRANSACTION_UPDATE] = {"transaction_update", 7,
				  "UPDATE transactions SET state = coalesce(?3, state), "
				  "response_us = coalesce(?4, response_us), "
				  "complete_us = coalesce(?5, complete_us), "
				  "request_bytes = coalesce(?6, request_bytes), "
				  "response_bytes = coalesce(?7, response_bytes) "
				  "WHERE conn_id = ?1 AND txn_id = ?2"},
    [STORE_TAGS] = {"tags", 7,
		    "INSERT OR REPLACE INTO tags (conn_id, txn_id, deterministic, read_only, "
		    "idempotent, source, tagged_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
    [STORE_SEQ_OFFSETS] = {"seq_offsets", 7,
			   "INSERT INTO seq_offsets (conn_id, txn_id, req_start, req_end, "
			   "resp_start, resp_end, updated_us) "
			   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
			   "ON CONFLICT (conn_id, txn_id) DO UPDATE SET "
			   "req_start = coalesce(excluded.req_start, req_start), "
			   "req_end = coalesce(excluded.req_end, req_end), "
			   "resp_start = coalesce(excluded.resp_start, resp_start), "
			   "resp_end = coalesce(excluded.resp_end, resp_end), "
			   "updated_us = excluded.updated_us"},
    [STORE_CONN_MARKS] = {"conn_marks", 5,
			  "INSERT INTO conn_marks (conn_id, ack_cl, last_server_byte, "
			  "last_client_byte, updated_us) VALUES (?1, ?2, ?3, ?4, ?5) "
			  "ON CONFLICT (conn_id) DO UPDATE SET "
			  "ack_cl = coalesce(excluded.ack_cl, ack_cl), "
			  "last_server_byte = coalesce(excluded.last_server_byte, "
			  "last_server_byte), "
			  "last_client_byte = coalesce(excluded.last_client_byte, "
			  "last_client_byte), updated_us = excluded.updated_us"},
    [STORE_PAYLOAD] = {"payload", 6,
		       "INSERT INTO payloads (conn_id, txn_id, direction, rel_offset, data, "
		       "logged_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
    [STORE_SPLICE_SNAPSHOT] = {"splice_snapshot", 20,
			       "INSERT INTO splice_snapshots (conn_id, owner, taken_us, "
			       "client_ip, client_port, vip, vport, proxy_ip, proxy_port, "
			       "server_ip, server_port, seq_delta_c2s, seq_delta_s2c, "
			       "ts_delta_c2s, ts_delta_s2c, wscale_client, wscale_to_client, "
			       "wscale_server, wscale_to_server, sack_ok) VALUES (?1, ?2, ?3, "
			       "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
			       "?18, ?19, ?20)"},
    [STORE_FAILOVER_EVENT] = {"failover_event", 18,
			      "INSERT INTO failover_events (conn_id, backend, alternate, "
			      "detected_us, recovery_start_us, recovery_end_us, t_l, p, ack_cl, "
			      "ack_tl, t_s, t_a, t_r, t_sp, bytes_resent, txns_replayed, "
			      "outcome, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
			      "?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"},
    [STORE_COUNTER] = {"counter", 4,
		       "INSERT INTO counters (daemon, name, value, sampled_us) "
		       "VALUES (?1, ?2, ?3, ?4)"},
    [STORE_TRANSACTION_UPSERT] =
	{"transaction_upsert", 11,
	 "INSERT INTO transactions (conn_id, txn_id, state, request_us, "
	 "response_us, complete_us, request_bytes, response_bytes, summary, "
	 "status, aux_txn_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
	 "?11) ON CONFLICT (conn_id, txn_id) DO UPDATE SET "
	 "state = excluded.state, "
	 "response_us = coalesce(excluded.response_us, response_us), "
	 "complete_us = coalesce(excluded.complete_us, complete_us), "
	 "request_bytes = coalesce(excluded.request_bytes, request_bytes), "
	 "response_bytes = coalesce(excluded.response_bytes, response_bytes), "
	 "summary = coalesce(excluded.summary, summary), "
	 "status = coalesce(excluded.status, status), "
	 "aux_txn_id = coalesce(excluded.aux_txn_id, aux_txn_id)"},
    [STORE_DIGEST] = {"digest", 9,
		      "INSERT OR REPLACE INTO digests (conn_id, txn_id, direction, rel_start, "
		      "length, sha256, complete, hash_ok, logged_us) "
		      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
};

const struct store_stmt_def *store_stmt_def(enum store_stmt stmt)
{
	if ((unsigned)stmt >= STORE_STMT_COUNT)
		return NULL;
	return &defs[stmt];
}
