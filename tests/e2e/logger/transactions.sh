#!/usr/bin/env bash
# logger/transactions: craft-logger with a database on lg, nginx and
# httpd.py on b1. curl on cl sends, through lg, five GETs on one keep-alive
# connection (1k three times, 10M, a missing file) and two POSTs on another.
# After SIGTERM the database must hold: one connection per curl run, one
# transaction per request, in order, with offsets that match the bytes curl
# counted (request = headers + body sent, response = headers + body got,
# each transaction starting where the previous ended, first byte at 1),
# HTTP statuses, tags from the rules file, the 1k responses as payload rows
# identical to what curl received, the 10M response as a digest (length and
# SHA-256 of headers + body as received), the POST bodies as payload rows
# (update transactions), and AckCL = last server byte for both connections.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../../lib.sh"
# shellcheck source=tests/e2e/logger/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin
require_tools curl nginx iptables sqlite3 sha256sum python3
require_bin logger

topo_up
topo_www
topo_nginx b1
topo_pyhttp b1 8000
B1=$(topo_addr b1)
CONF=$TOPO_DIR/logger.conf
lg_config "$CONF"
lg_start "$CONF"

# ---- traffic ------------------------------------------------------------------
W=$TOPO_DIR/curl
mkdir -p "$W"
urls=()
for n in 1 2 3; do urls+=(-o "$W/get$n" "http://$B1/1k"); done
urls+=(-o "$W/get4" "http://$B1/10M")
urls+=(-o "$W/get5" "http://$B1/missing")
# -D is not per URL: every transfer's header block lands in one file, in order
topo_exec cl curl -sS --connect-timeout 5 -D "$W/hdrs" -w '%{http_code} %{size_request} %{size_upload} %{size_header} %{size_download} %{num_connects}\n' \
  "${urls[@]}" >"$W/gets.txt" || result_fail "curl GETs failed"
head -c 3000 /dev/urandom >"$W/body"
topo_exec cl curl -sS --connect-timeout 5 -H 'Expect:' --data-binary "@$W/body" \
  -w '%{http_code} %{size_request} %{size_upload} %{size_header} %{size_download} %{num_connects}\n' \
  -o "$W/post1" "http://$B1:8000/upload" -o "$W/post2" "http://$B1:8000/upload" >"$W/posts.txt" ||
  result_fail "curl POSTs failed"
[ "$(awk '{s += $6} END {print s}' "$W/gets.txt")" = 1 ] || result_fail "curl did not reuse the connection: $(tr '\n' ' ' <"$W/gets.txt")"
# split the header blocks: hdrN holds what curl received before body N
off=0
n=0
while read -r _ _ _ shdr _; do
  n=$((n + 1))
  tail -c +$((off + 1)) "$W/hdrs" | head -c "$shdr" >"$W/hdr$n"
  off=$((off + shdr))
done <"$W/gets.txt"
[ "$off" = "$(stat -c %s "$W/hdrs")" ] || result_fail "curl's header sizes do not add up to its header dump"
lg_wait_stat log_conns_closed 2 # both FIN exchanges logged
lg_stop

DB=$LG_DB
[ -s "$DB" ] || result_fail "no database written"
[ "$(q "$DB" 'SELECT count(*) FROM connections')" = 2 ] ||
  result_fail "want 2 connections, got: $(q "$DB" 'SELECT conn_id, server_port, state FROM connections' | tr '\n' ' ')"

# check_conn PORT FILE: the transactions of the connection to PORT against
# curl's figures in FILE (code, request bytes, upload bytes, header bytes,
# body bytes, connects per line; the upload is part of the request bytes).
check_conn() {
  local port=$1 file=$2 cid n want_n ord=0 req=1 resp=1 code sreq shdr sdl _ row
  cid=$(q "$DB" "SELECT conn_id FROM connections WHERE server_port = $port")
  [ -n "$cid" ] || result_fail "no connection to port $port"
  want_n=$(wc -l <"$file")
  n=$(q "$DB" "SELECT count(*) FROM transactions WHERE conn_id = $cid")
  [ "$n" = "$want_n" ] || result_fail "port $port: $n transactions, want $want_n"
  while read -r code sreq _ shdr sdl _; do
    ord=$((ord + 1))
    row=$(q "$DB" "SELECT state, status, req_start, req_end, resp_start, resp_end FROM v_transactions WHERE conn_id = $cid AND ordinal = $ord")
    # curl's size_request counts the request line, headers and body
    local want="complete|$code|$req|$((req + sreq))|$resp|$((resp + shdr + sdl))"
    [ "$row" = "$want" ] || result_fail "port $port txn $ord: got $row, want $want (state|status|req|resp)"
    req=$((req + sreq))
    resp=$((resp + shdr + sdl))
  done <"$file"
  local marks
  marks=$(q "$DB" "SELECT ack_cl, last_server_byte, last_client_byte FROM conn_marks WHERE conn_id = $cid")
  [ "$marks" = "$resp|$resp|$req" ] || result_fail "port $port marks: got $marks, want AckCL = last server byte = $resp, last client byte $req"
  [ "$(q "$DB" "SELECT state FROM connections WHERE conn_id = $cid")" = closed ] ||
    result_fail "port $port: connection not closed: $(q "$DB" "SELECT state FROM connections WHERE conn_id = $cid")"
  TOTAL_TXNS=$((${TOTAL_TXNS:-0} + n))
  TOTAL_BYTES=$((${TOTAL_BYTES:-0} + resp - 1))
}
check_conn 80 "$W/gets.txt"
check_conn 8000 "$W/posts.txt"

# tags from the rules file (and the conservative default for the others)
tags=$(q "$DB" "SELECT group_concat(determinism || '/' || access || '/' || idempotence, ' ') FROM (SELECT * FROM v_transactions ORDER BY conn_id, ordinal)")
want="deterministic/read-only/idempotent deterministic/read-only/idempotent deterministic/read-only/idempotent deterministic/read-only/idempotent non-deterministic/update/non-idempotent non-deterministic/update/non-idempotent non-deterministic/update/non-idempotent"
[ "$tags" = "$want" ] || result_fail "tags: got '$tags'"
[ "$(q "$DB" "SELECT count(*) FROM tags WHERE source LIKE 'rules line %'")" = 6 ] || result_fail "tag sources: $(q "$DB" 'SELECT source FROM tags' | tr '\n' ' ')"

# payload rows of the kept 1k responses equal what curl received
cid80=$(q "$DB" "SELECT conn_id FROM connections WHERE server_port = 80")
for ord in 1 2 3; do
  got=$(q "$DB" "SELECT hex(data) FROM payloads WHERE conn_id = $cid80 AND txn_id & 65535 = $ord AND direction = 'response' ORDER BY rel_offset" | tr -d '\n' | tr 'A-F' 'a-f')
  want=$(cat "$W/hdr$ord" "$W/get$ord" | od -An -v -tx1 | tr -d ' \n')
  [ "$got" = "$want" ] || result_fail "payload of response $ord differs from what curl received (${#got} vs ${#want} hex digits)"
done
# the 10M response: not kept, a digest of exactly what curl received
dg=$(q "$DB" "SELECT length || ' ' || lower(hex(sha256)) || ' ' || complete || hash_ok FROM digests WHERE conn_id = $cid80 AND txn_id & 65535 = 4 AND direction = 'response'")
want="$(($(stat -c %s "$W/hdr4") + $(stat -c %s "$W/get4"))) $(cat "$W/hdr4" "$W/get4" | sha256sum | awk '{print $1}') 11"
[ "$dg" = "$want" ] || result_fail "digest of the 10M response: got '$dg', want '$want'"
[ "$(q "$DB" "SELECT count(*) FROM payloads WHERE conn_id = $cid80 AND txn_id & 65535 = 4 AND direction = 'response'")" = 0 ] ||
  result_fail "the 10M response was kept in payloads"
# the POST requests (update) were persisted, bodies included
cid8k=$(q "$DB" "SELECT conn_id FROM connections WHERE server_port = 8000")
for ord in 1 2; do
  pl=$(q "$DB" "SELECT sum(length(data)) FROM payloads WHERE conn_id = $cid8k AND txn_id & 65535 = $ord AND direction = 'request'")
  rq=$(q "$DB" "SELECT req_end - req_start FROM v_transactions WHERE conn_id = $cid8k AND ordinal = $ord")
  [ "$pl" = "$rq" ] || result_fail "POST $ord: payload rows hold ${pl:-0} bytes, request is $rq"
done
req_hex=$(q "$DB" "SELECT hex(data) FROM payloads WHERE conn_id = $cid8k AND txn_id & 65535 = 1 AND direction = 'request' ORDER BY rel_offset" | tr -d '\n' | tr 'A-F' 'a-f')
[ "${req_hex: -6000}" = "$(od -An -v -tx1 "$W/body" | tr -d ' \n')" ] || result_fail "POST body in payloads differs from what curl sent"

# the daemon's counters, also sampled into the database
st_txn=$(lg_stat log_txns_complete)
[ "$st_txn" = "$TOTAL_TXNS" ] || result_fail "stats: log_txns_complete $st_txn, want $TOTAL_TXNS"
[ "$(lg_stat db_dropped_full)" = 0 ] || result_fail "rows dropped: queue full"
[ "$(lg_stat backlog_dropped)" = 0 ] || result_fail "backlog dropped packets"
[ "$(q "$DB" "SELECT count(*) FROM counters WHERE daemon = 'craft-logger' AND name = 'log_txns_complete'")" -ge 1 ] ||
  result_fail "no counters sampled into the database"
result_pass "$TOTAL_TXNS transactions on 2 keep-alive connections, offsets = curl's byte counts ($TOTAL_BYTES response bytes), statuses, tags, payloads byte-exact, 10M digest ok, AckCL = last server byte"
