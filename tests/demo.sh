#!/usr/bin/env bash
# tests/demo.sh - `make demo`: the test bed with the pass-through logger and
# real traffic, then what every hop counted; then the paper's experiment
# (tests/demo_paper.sh, CRAFT §6 Tables 2-3): the webmail demo application's
# Action 1 and Action 2 on one keep-alive connection each, direct to the
# backend, through CRAFT without failure, with the backend SIGKILLed and
# with its link down in the middle of a response (the connection moves,
# live, to the alternate), and the traditional client that times out,
# reconnects and logs in again; every answer checked against the run
# without failure; a table of the client's times and failover gaps, and the
# failover history as sqlite3 shows it. About two minutes; tears down on
# every exit path.
#
#   cl ── lb ── lg (craft-logger on NFQUEUE 0) ── b1 nginx :80, python :8000
#                                              └─ b2 lighttpd :8080
#   paper: cl ── p1 craft-proxy [recovery] ── lg craft-logger [detect]
#          [crash] [logged] ── b1 craft-webmail / b2 craft-webmail +
#          craft-agent; aux craft-auxd
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh"
TEST_NAME=demo
test_begin
require_tools curl nginx lighttpd python3 wrk ab iptables sha256sum ss
require_bin logger proxy agent webmail auxd

Q=0
B1=$(topo_addr b1)
B2=$(topo_addr b2)
CHECKS=0

step() { printf '\n== %s\n' "$*"; }
row() { printf '  %-34s %s\n' "$1" "$2"; }
ok() {
  CHECKS=$((CHECKS + 1))
  row "$1" "$2"
}

bring_up() {
  step "test bed"
  topo_up
  topo_www
  topo_nginx b1
  topo_pyhttp b1 8000
  topo_lighttpd b2 8080
  row "namespaces" "$(ip netns list | awk -v p="$TOPO_PREFIX" 'index($1, p) == 1 { printf "%s ", $1 }')"
  row "path" "cl 198.18.0.10 -> lb -> lg -> b1 $B1 / b2 $B2"
  row "servers" "nginx $B1:80, python $B1:8000 (PUT -> sha256), lighttpd $B2:8080"
  topo_exec lg "$CRAFT_ROOT/rules/logger.sh" up --queue "$Q"
  STATS=$TOPO_DIR/logger.stats
  LOG=$TOPO_DIR/logger.log
  start_daemon lg logger "$LOG" -q "$Q" --stats-file "$STATS"
  wait_daemon_queue lg "$Q" "$DAEMON_PID" "$LOG"
  row "logger" "rules/logger.sh up --queue $Q; craft-logger pid $DAEMON_PID"
}

get_file() {
  local label=$1 url=$2 file=$3 out=$TOPO_DIR/recv r code bytes secs
  r=$(fetch cl "$url" "$out" --max-time 30) || result_fail "$label: curl failed ($r)"
  read -r code bytes secs <<<"$r"
  sha_eq "$(topo_www_file "$file")" "$out" || result_fail "$label: sha256 mismatch (HTTP $code, $bytes bytes)"
  ok "$label" "$bytes bytes, $(mbps "$bytes" "$secs") MB/s, sha256 ok"
  rm -f "$out"
}

traffic() {
  local r sum len t0 t1 out
  step "traffic (client cl)"
  get_file "curl nginx 20M" "http://$B1/20M" 20M
  get_file "curl lighttpd 10M" "http://$B2:8080/10M" 10M
  t0=$(now_ms)
  r=$(upload cl "http://$B1:8000/upload" "$(topo_www_file 20M)" --max-time 30) || result_fail "upload failed"
  t1=$(now_ms)
  read -r sum len <<<"$r"
  [ "$sum" = "$(sha256_of "$(topo_www_file 20M)")" ] || result_fail "upload: server saw sha256 $sum"
  ok "curl PUT 20M -> python" "$len bytes, $(mbps "$len" "$(fdiv $((t1 - t0)) 1000 3)") MB/s, server sha256 ok"
  out=$(topo_exec cl timeout 20 wrk -t1 -c16 -d4s --latency "http://$B1/1k") || result_fail "wrk failed"
  ok "wrk -t1 -c16 -d4s 1k" "$(awk '/^Requests\/sec/ { r = $2 } $1 == "50%" { p50 = $2 } $1 == "99%" { p99 = $2 }
    END { printf "%.0f req/s, p50 %s, p99 %s", r, p50, p99 }' <<<"$out")"
  out=$(topo_exec cl timeout 20 ab -q -n 3000 -c 8 "http://$B1/1k") || result_fail "ab failed"
  local failed
  failed=$(awk '/^Failed requests:/ { print $3 }' <<<"$out")
  [ "$failed" = 0 ] || result_fail "ab: $failed failed requests"
  ok "ab -n 3000 -c 8 1k" "$(awk '/^Requests per second:/ { printf "%.0f req/s", $4 }' <<<"$out"), 0 failed"
}

iface_table() {
  local role ifn
  step "interface counters (since the test bed came up)"
  printf '  %-4s %-5s %12s %12s %10s %10s %8s\n' hop iface rx_MB tx_MB rx_pkts tx_pkts drops
  for role in lb lg; do
    for ifn in $(topo_exec "$role" ls /sys/class/net | grep -v '^lo$'); do
      # shellcheck disable=SC2016 # awk program
      topo_exec "$role" awk -v r="$role" -v i="$ifn" 'FNR == 1 { v[FILENAME] = $1 }
        END { d = "/sys/class/net/" i "/statistics/"
              printf "  %-4s %-5s %12.1f %12.1f %10d %10d %8d\n", r, i, v[d "rx_bytes"] / 1e6,
                v[d "tx_bytes"] / 1e6, v[d "rx_packets"], v[d "tx_packets"], v[d "rx_dropped"] + v[d "tx_dropped"] }' \
        "/sys/class/net/$ifn/statistics/"{rx_bytes,tx_bytes,rx_packets,tx_packets,rx_dropped,tx_dropped}
    done
  done
}

rule_tables() {
  step "iptables counters per hop"
  local r
  for r in lb lg; do
    printf '  %s: IP ForwDatagrams %s\n' "$r" "$(snmp_get "$r" Ip ForwDatagrams)"
  done
  echo "  lb: no rules (plain IP forwarding)"
  echo "  lg: mangle FORWARD -> CRAFT_LOGGER"
  topo_exec lg iptables -w -t mangle -n -v -x -L CRAFT_LOGGER | sed 's/^/    /'
}

queue_table() {
  local line
  step "kernel queue (lg /proc/net/netfilter/nfnetlink_queue)"
  line=$(nfq_queue_line lg "$Q")
  [ -n "$line" ] || result_fail "queue $Q not bound"
  printf '  %-6s %-11s %-11s %-13s %-12s %-11s\n' queue peer_portid queue_total queue_dropped user_dropped id_sequence
  awk '{ printf "  %-6s %-11s %-11s %-13s %-12s %-11s\n", $1, $2, $3, $6, $7, $8 }' <<<"$line"
  QDROP=$(awk '{ print $6 + $7 }' <<<"$line")
  [ "$QDROP" = 0 ] || result_fail "queue drops: $QDROP"
}

daemon_table() {
  local rc=0
  step "craft-logger stats (--stats-file, final write at SIGTERM)"
  topo_stop "$DAEMON_PID" TERM 5 || rc=$?
  [ "$rc" = 0 ] || result_fail "craft-logger exit status $rc on SIGTERM"
  [ -s "$STATS" ] || result_fail "no stats file"
  awk '{ printf "  %-22s %s\n", $1, $2 }' "$STATS"
  PKTS=$(stats_get "$STATS" packets)
  [ "${PKTS:-0}" -gt 0 ] || result_fail "daemon counted no packets"
  ok "craft-logger" "exit 0 on SIGTERM, $PKTS packets"
}

# paper: tests/demo_paper.sh on its own test bed; its table and history
# through to stdout, its diagnostics kept in build/test-logs/demo-paper.log.
paper() {
  local log=$CRAFT_ROOT/build/test-logs/demo-paper.log out line
  step "the paper's experiment (tests/demo_paper.sh; its own test bed)"
  mkdir -p "$(dirname "$log")"
  out=$(mktemp /tmp/craft-demo-paper.XXXXXX)
  env -u TOPO_PREFIX -u TOPO_DIR "$CRAFT_ROOT/tests/demo_paper.sh" 2>"$log" | tee "$out" |
    grep -Ev '^(PASS|FAIL) demo/paper' || true
  line=$(grep -E '^(PASS|FAIL) demo/paper' "$out" | tail -n 1)
  rm -f "$out"
  [[ $line == PASS* ]] || result_fail "${line:-demo/paper: no result} (log: $log)"
  PAPER=${line#PASS demo/paper: }
}

T0=$(now_ms)
bring_up
traffic
iface_table
rule_tables
queue_table
daemon_table
step "teardown"
topo_down
row "namespaces left" "$(ip netns list | grep -c "^$TOPO_PREFIX" || true)"
paper
echo
result_pass "$CHECKS checks ok, $PKTS packets through the logger, 0 queue drops; paper experiment: $PAPER; demo $(fdiv $(($(now_ms) - T0)) 1000 0) s"
