#!/usr/bin/env bash
# logger/bad_input: hostile and broken traffic through the logger, next to
# normal traffic. A raw python3 TCP server on b1 (HTTP on 8080, a line
# protocol on 7000) gets from cl: garbage bytes, an impossible
# Content-Length, a request with an invalid chunk size, a request whose
# response has an invalid chunk size, a 1 MiB header line, a 100 KiB
# command line, and a request that never finishes (its client keeps the
# connection open). Meanwhile curl fetches from nginx on b1 over keep-alive.
# craft-logger must stay up, count each error by kind, log the unfinished
# request as begun and then aborted at shutdown, log every normal
# transaction completely with offsets matching curl's byte counts, and exit
# 0 on SIGTERM.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../../lib.sh"
# shellcheck source=tests/e2e/logger/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin
require_tools curl nginx iptables sqlite3 python3
require_bin logger

topo_up
topo_www
topo_nginx b1
B1=$(topo_addr b1)
PY=$(command -v /usr/bin/python3 || command -v python3)

cat >"$TOPO_DIR/rawsrv.py" <<'EOF'
# Raw servers for logger/bad_input: HTTP-ish on 8080, line protocol on 7000.
import socket, sys, threading
addr = sys.argv[1]

def http_conn(c):
    c.settimeout(30)
    buf = b""
    try:
        while len(buf) < (4 << 20):
            d = c.recv(65536)
            if not d:
                return
            buf += d
            if b"\r\n\r\n" not in buf:
                continue
            if b"/badchunk" in buf:
                c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz-not-hex\r\n")
                return
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            buf = b""
    except OSError:
        pass
    finally:
        c.close()

def line_conn(c):
    c.settimeout(30)
    try:
        c.sendall(b"$ ")
        while True:
            d = c.recv(65536)
            if not d:
                return
            if b"\n" in d:
                c.sendall(b"ok\n$ ")
    except OSError:
        pass
    finally:
        c.close()

def serve(port, fn):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(64)
    while True:
        c, _ = s.accept()
        threading.Thread(target=fn, args=(c,), daemon=True).start()

threading.Thread(target=serve, args=(7000, line_conn), daemon=True).start()
serve(8080, http_conn)
EOF

cat >"$TOPO_DIR/badcli.py" <<'EOF'
# Clients for logger/bad_input: one connection per case, each read until
# the server answers or closes (bounded by a timeout).
import os, socket, sys, time
addr, case = sys.argv[1], sys.argv[2]

def conn(port):
    s = socket.create_connection((addr, port), timeout=10)
    return s

def drain(s, want=None):
    s.settimeout(3)
    got = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
            if want and want in got:
                break
    except socket.timeout:
        pass
    return got

if case == "garbage":
    s = conn(8080)
    s.sendall(os.urandom(4096))
    s.shutdown(socket.SHUT_WR)
    drain(s)
elif case == "content_length":
    s = conn(8080)
    s.sendall(b"POST /x HTTP/1.1\r\nHost: b\r\nContent-Length: 99999999999999999999999\r\n\r\nabc")
    drain(s, b"ok")
elif case == "chunk_request":
    s = conn(8080)
    s.sendall(b"POST /x HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\nxyz-not-hex\r\n")
    drain(s, b"ok")
elif case == "chunk_response":
    s = conn(8080)
    s.sendall(b"GET /badchunk HTTP/1.1\r\nHost: b\r\n\r\n")
    drain(s)
elif case == "big_header":
    s = conn(8080)
    s.sendall(b"GET /x HTTP/1.1\r\nHost: b\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n")
    drain(s, b"ok")
elif case == "long_line":
    s = conn(7000)
    drain(s, b"$ ")
    s.sendall(b"x" * (100 << 10) + b"\n")
    drain(s, b"ok\n$ ")
elif case == "never_finishes":
    s = conn(8080)
    s.sendall(b"GET /slow HTTP/1.1\r\nHost: b\r\n")
    print("sent", flush=True)
    time.sleep(120)
s.close()
print("done", case, flush=True)
EOF

topo_start_bg b1 "$TOPO_DIR/rawsrv.log" "$PY" "$TOPO_DIR/rawsrv.py" "$B1"
topo_wait_port b1 "$B1" 8080
topo_wait_port b1 "$B1" 7000
CONF=$TOPO_DIR/logger.conf
lg_config "$CONF"
lg_start "$CONF"

W=$TOPO_DIR/curl
mkdir -p "$W"
# normal_fetch N: four GETs on one keep-alive connection, curl's figures
# appended to $W/normal.txt.
normal_fetch() {
  topo_exec cl curl -sS --connect-timeout 5 \
    -w '%{http_code} %{size_request} %{size_header} %{size_download}\n' \
    -o /dev/null "http://$B1/1k" -o /dev/null "http://$B1/10M" -o /dev/null "http://$B1/1k" \
    -o /dev/null "http://$B1/missing" >>"$W/normal.txt" || result_fail "normal curl $1 failed"
}

normal_fetch 1
topo_start_bg cl "$TOPO_DIR/slow.log" "$PY" "$TOPO_DIR/badcli.py" "$B1" never_finishes
SLOW_PID=$TOPO_LAST_PID
wait_for 5 grep -qs sent "$TOPO_DIR/slow.log" || result_fail "slow client did not start"
for c in garbage content_length chunk_request chunk_response big_header long_line; do
  topo_exec cl timeout 20 "$PY" "$TOPO_DIR/badcli.py" "$B1" "$c" >>"$TOPO_DIR/badcli.log" 2>&1 ||
    result_fail "client case $c failed: $(tail -n 2 "$TOPO_DIR/badcli.log" | tr '\n' ' ')"
  lg_alive
done
normal_fetch 2
lg_wait_stat log_txn_err_line_too_long 1 # the last hostile case was logged
lg_wait_stat log_conns_closed 8          # six hostile and two normal connections
lg_alive
kill -0 "$SLOW_PID" 2>/dev/null || result_fail "slow client ended early"
lg_stop
topo_stop "$SLOW_PID" TERM 2 || true

# ---- every error counted by kind ---------------------------------------------------
declare -A want=([syntax]=1 [content_length]=1 [chunk_size]=2 [header_size]=1 [line_too_long]=1)
figures=""
for k in syntax content_length chunk_size header_size line_too_long; do
  v=$(lg_stat "log_txn_err_$k")
  [ "$v" -ge "${want[$k]}" ] || result_fail "log_txn_err_$k = $v, want >= ${want[$k]}"
  figures+="$k $v, "
done
[ "$(lg_stat log_txn_conn_error)" -ge 6 ] || result_fail "log_txn_conn_error = $(lg_stat log_txn_conn_error), want >= 6"

DB=$LG_DB
# the unfinished request: begun, never complete, aborted at shutdown (its
# head never completed: the summary is the target of its request line)
slow=$(q "$DB" "SELECT state || '|' || ifnull(request_bytes, 'null') FROM transactions WHERE summary = '/slow'")
[ "$slow" = "abort|null" ] || result_fail "unfinished request logged as '$slow', want abort|null"
[ "$(q "$DB" "SELECT c.state FROM connections c JOIN transactions t USING (conn_id) WHERE t.summary = '/slow'")" = shutdown ] ||
  result_fail "the slow client's connection is not closed as shutdown"

# ---- normal traffic is logged completely and exactly ------------------------------
for cid in $(q "$DB" "SELECT conn_id FROM connections WHERE server_port = 80 ORDER BY conn_id"); do
  run=$((${run:-0} + 1))
  ord=0
  req=1
  resp=1
  while read -r code sreq shdr sdl; do
    ord=$((ord + 1))
    row=$(q "$DB" "SELECT state, status, req_start, req_end, resp_start, resp_end FROM v_transactions WHERE conn_id = $cid AND ordinal = $ord")
    w="complete|$code|$req|$((req + sreq))|$resp|$((resp + shdr + sdl))"
    [ "$row" = "$w" ] || result_fail "normal run $run txn $ord: got $row, want $w"
    req=$((req + sreq))
    resp=$((resp + shdr + sdl))
  done < <(sed -n "$((run * 4 - 3)),$((run * 4))p" "$W/normal.txt")
  [ "$(q "$DB" "SELECT count(*) FROM transactions WHERE conn_id = $cid")" = 4 ] || result_fail "normal run $run: not 4 transactions"
done
[ "${run:-0}" = 2 ] || result_fail "want 2 normal connections to port 80, got ${run:-0}"
[ "$(lg_stat backlog_dropped)" = 0 ] || result_fail "backlog dropped packets"
result_pass "daemon up throughout, exit 0; errors counted: ${figures%, }; unfinished request logged, aborted at shutdown; 8 normal transactions exact"
