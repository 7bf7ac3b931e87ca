#!/usr/bin/env bash
# logger/memory: craft-logger's memory stays within its configured bounds
# with 10,000 open connections and a long download (issue 5 check 2).
# A python asyncio server on b1:9000 answers one small GET on each of
# 10,000 keep-alive connections a python client on cl opens (every
# response checked byte for byte) and holds open; meanwhile curl downloads
# the 20M file from nginx on b1 at 4 MB/s (about 5 s). The logger has a
# 16 MiB byte store, 32 MiB of reassembly and a 32 MiB backlog. Checks:
#   - every connection is logged (flows_conns >= 10,000 while held) and
#     its transaction complete; none refused, no table full;
#   - the byte store never used more than its budget (bytes_used_max);
#   - the download arrives byte-exact;
#   - failure detection (on, no control channel) tracks all of it without
#     declaring a failure, and the daemon exits 0. floor 1 s / confirm 2 s:
#     with the defaults (200 ms / 300 ms) the python server, busy
#     accepting 10,000 connections, answered nothing for 0.5 s and was
#     declared failed - by the detector's definition, not a bug here;
#   - the daemon's peak RSS (VmHWM) grows over its idle RSS by at most
#     byte budget + reassembly budget + backlog + 64 MiB for per-connection
#     state (6.5 KiB each), and the figures are printed.
# shellcheck disable=SC2317 # the predicates below run through wait_for
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../../lib.sh"
# shellcheck source=tests/e2e/logger/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin
require_tools curl nginx iptables sqlite3 sha256sum python3
require_bin logger

N=10000
BUDGET_MIB=16 REASM_MIB=32 BACKLOG_MIB=32 PERCONN_MIB=64
topo_up
topo_www
topo_nginx b1
B1=$(topo_addr b1)
HOLD=$CRAFT_ROOT/tests/e2e/logger/_hold.py
topo_start_bg b1 "$TOPO_DIR/hold-server.log" python3 "$HOLD" serve --bind "$B1" --port 9000
topo_wait_port b1 "$B1" 9000
CONF=$TOPO_DIR/logger.conf
lg_config "$CONF" "[logger]
service = \"9000 http\"
byte_budget = ${BUDGET_MIB}MiB
backlog = ${BACKLOG_MIB}MiB
[flows]
reasm_total_bytes = ${REASM_MIB}MiB
max_conns = 20000
[detect]
enabled = yes
floor = 1s
confirm = 2s"
lg_start "$CONF"
sleep 1
rss_kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
idle=$(rss_kib "$LG_PID" VmRSS)

W=$TOPO_DIR/w
mkdir -p "$W"
topo_exec cl python3 "$HOLD" open --to "$B1" --port 9000 --conns "$N" --hold-file "$W/release" --timeout 120 >"$W/open.out" 2>&1 &
OPEN_PID=$!
all_open() { grep -q "^open $N ok" "$W/open.out"; }
wait_for 90 all_open || result_fail "the client did not get $N connections answered: $(tail -n 3 "$W/open.out" | tr '\n' ' ')"
topo_exec cl curl -sS --connect-timeout 5 --limit-rate 4M -o "$W/20M" "http://$B1/20M" || result_fail "the download failed"
sha_eq "$W/20M" "$(topo_www_file 20M)" || result_fail "the 20M download differs from the file served"
lg_wait_stat log_txns_complete $((N + 1)) 30
held=$(lg_stat log_flows_conns)
[ "$held" -ge "$N" ] || result_fail "the logger holds $held connections, want >= $N"
touch "$W/release"
wait "$OPEN_PID" || result_fail "the client failed: $(tail -n 3 "$W/open.out" | tr '\n' ' ')"
peak=$(rss_kib "$LG_PID" VmHWM)
used_max=$(lg_stat log_bytes_used_max)
for c in detect_failures detect_conns_overflow detect_events_refused log_refused log_nomem log_flows_table_full log_flows_conns_refused backlog_dropped; do
  [ "$(lg_stat "$c")" = 0 ] || result_fail "counter $c = $(lg_stat "$c"): $(grep -m1 backend_failed "$LG_LOG")"
done
[ "$used_max" -le $((BUDGET_MIB << 20)) ] || result_fail "byte store used $used_max bytes, over its budget of ${BUDGET_MIB} MiB"
allow_kib=$(((BUDGET_MIB + REASM_MIB + BACKLOG_MIB + PERCONN_MIB) * 1024))
growth=$((peak - idle))
[ "$growth" -le "$allow_kib" ] || result_fail "RSS grew by $((growth / 1024)) MiB (idle $((idle / 1024)) MiB, peak $((peak / 1024)) MiB), over $((allow_kib / 1024)) MiB"
evicted=$(lg_stat log_bytes_evicted_conn_bytes)
lg_stop
result_pass "$N connections held + 20M download at 4 MB/s: RSS idle $((idle / 1024)) MiB, peak $((peak / 1024)) MiB (+$((growth / 1024)) MiB, allowed +$((allow_kib / 1024)) MiB); byte store peak $((used_max >> 20)) MiB of ${BUDGET_MIB} MiB (evicted $((evicted >> 20)) MiB of closed connections); nothing refused, no false failure; download byte-exact"
