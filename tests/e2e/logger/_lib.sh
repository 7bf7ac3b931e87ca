#!/usr/bin/env bash
# tests/e2e/logger/_lib.sh - helpers shared by the logger scenarios (not a
# scenario itself: the runner skips files starting with "_").
#
#   source "$(dirname "$0")/_lib.sh"     # after tests/lib.sh
#   lg_config FILE [EXTRA_LINES]         # writes a craft-logger config
#   lg_start CONF                        # rules up, daemon started, queue bound
#   lg_stop                              # SIGTERM, exit status checked
#   q DB SQL                             # sqlite3 -batch -noheader

LG_Q=0

# lg_config FILE [EXTRA]: [logger] with the database, services 80/8000/8080
# http and 7000 line, the tags file, short linger; EXTRA is appended.
lg_config() {
  local f=$1 extra=${2:-}
  LG_DB=${LG_DB:-$TOPO_DIR/logger.db}
  LG_TAGS=$TOPO_DIR/tags.rules
  cat >"$LG_TAGS" <<'EOF'
# test rules: static files are safe to replay, uploads are not
GET,HEAD /1k      deterministic read-only idempotent
GET      /10M     deterministic read-only idempotent
POST     /upload  non-deterministic update non-idempotent
line     ^ls      deterministic read-only idempotent
EOF
  cat >"$f" <<EOF
[logger]
db = $LG_DB
service = "80 http"
service = "8000 http"
service = "8080 http"
service = "7000 line"
tags = $LG_TAGS
max_kept_message = 1MiB
counters_interval = 1s
[flows]
linger_timeout = 1s
$extra
EOF
}

# lg_start CONF: installs the logger rule, starts craft-logger with CONF and
# a stats file, waits until it has bound the queue.  Sets LG_PID, LG_LOG,
# LG_STATS.
lg_start() {
  local conf=$1
  t_check "rules/logger.sh up failed" topo_exec lg "$CRAFT_ROOT/rules/logger.sh" up --queue "$LG_Q"
  LG_STATS=$TOPO_DIR/logger.stats
  LG_LOG=$TOPO_DIR/logger.log
  start_daemon lg logger "$LG_LOG" -c "$conf" -q "$LG_Q" --stats-file "$LG_STATS"
  LG_PID=$DAEMON_PID
  wait_daemon_queue lg "$LG_Q" "$LG_PID" "$LG_LOG"
}

# lg_stop: SIGTERM; FAIL unless the daemon exits 0 within 10 s.
lg_stop() {
  local rc=0
  topo_stop "$LG_PID" TERM 10 || rc=$?
  [ "$rc" = 0 ] || result_fail "craft-logger exit status $rc on SIGTERM: $(tail -n 3 "$LG_LOG" | tr '\n' ' ')"
}

# lg_alive: FAIL when the daemon died.
lg_alive() {
  kill -0 "$LG_PID" 2>/dev/null || result_fail "craft-logger died: $(tail -n 5 "$LG_LOG" | tr '\n' ' ')"
}

# q DB SQL: one value per line, fields separated by '|'.
q() { sqlite3 -batch -noheader "$1" "$2"; }

# lg_stat NAME: a counter from the stats file (0 when absent).
lg_stat() { stats_get "$LG_STATS" "$1" || echo 0; }

# lg_wait_stat NAME MIN [TIMEOUT_S]: waits until counter NAME in the stats
# file (rewritten every second) reaches MIN; FAIL after the timeout.
lg_wait_stat() {
  local name=$1 min=$2 t=${3:-15} i v
  for ((i = 0; i < t * 10; i++)); do
    v=$(lg_stat "$name")
    [ "${v:-0}" -ge "$min" ] && return 0
    lg_alive
    sleep 0.1
  done
  result_fail "counter $name stayed at ${v:-0}, want >= $min after ${t}s"
}

# lg_dump_rows DB: the rows two logs of the same traffic must agree on
# (connections, transactions with offsets and tags, digests, payloads,
# marks), keyed by what the traffic defines rather than by conn_id, so a
# daemon's database and craft-pcap's can be compared with diff.
lg_dump_rows() {
  local db=$1
  echo "# connections"
  q "$db" "SELECT client_ip, client_port, server_ip, server_port, isn_client, isn_server, state FROM connections ORDER BY client_port, server_port"
  echo "# transactions"
  q "$db" "SELECT t.txn_id, c.server_port, t.state, t.status, t.request_bytes, t.response_bytes, t.summary, s.req_start, s.req_end, s.resp_start, s.resp_end, g.deterministic, g.read_only, g.idempotent, g.source FROM transactions t JOIN connections c USING (conn_id) LEFT JOIN seq_offsets s USING (conn_id, txn_id) LEFT JOIN tags g USING (conn_id, txn_id) ORDER BY c.server_port, t.txn_id"
  echo "# digests"
  q "$db" "SELECT d.txn_id, d.direction, d.rel_start, d.length, hex(d.sha256), d.complete, d.hash_ok FROM digests d ORDER BY d.txn_id, d.direction"
  echo "# payloads"
  q "$db" "SELECT p.txn_id, c.server_port, p.direction, count(*), sum(length(p.data)), min(p.rel_offset), max(p.rel_offset + length(p.data)) FROM payloads p JOIN connections c USING (conn_id) GROUP BY c.server_port, p.txn_id, p.direction ORDER BY c.server_port, p.txn_id, p.direction"
  echo "# payload bytes"
  q "$db" "SELECT hex(p.data) FROM payloads p JOIN connections c USING (conn_id) ORDER BY c.server_port, p.txn_id, p.direction, p.rel_offset" | sha256sum
  echo "# marks"
  q "$db" "SELECT c.client_port, c.server_port, m.ack_cl, m.last_server_byte, m.last_client_byte FROM conn_marks m JOIN connections c USING (conn_id) ORDER BY c.client_port, c.server_port"
}
