#!/usr/bin/env bash
# tests/bench/foundation.sh - plain kernel forwarding ("kernel": no queue
# rule) against the pass-through logger ("daemon": rules/logger.sh up +
# craft-logger) on the same path cl -> lb -> lg -> b1, in one run.
#
# Per round and config (the order alternates between rounds):
#   bulk_gbps      iperf3, one TCP stream, BENCH_SECONDS (+1 s omitted)
#   rps_1k, p50_1k_ms, p99_1k_ms      wrk on the 1 KiB file
#   mbps_10M, p50_10M_ms, p99_10M_ms  wrk on the 10 MiB file
# and for the daemon: cpu_s_per_GB (utime+stime of the daemon over the
# round divided by the bytes the logger forwarded) and queue_drops
# (queue_dropped + user_dropped from /proc/net/netfilter/nfnetlink_queue).
# Targets (ratio of medians daemon/kernel): bulk >= 0.85, 1 KiB req/s >= 0.88,
# no queue drops.
#
# A third config, "minimal", runs tests/bench/minimal_queue.c (built here):
# the smallest accept-all queue reader (libmnl, GSO, header-only copy, one
# batch verdict per read). Its ratio to the kernel is what NFQUEUE itself
# costs on this host; the daemon's ratio to it is what our engine adds.
# The pass-through copies headers only (NFQ_COPY_HEADERS: it counts, it
# does not read payload); the logger's full copy is tests/bench/logger.sh's.
#
# Environment: BENCH_RUNS (3), BENCH_SECONDS (5), BENCH_THREADS (1),
# BENCH_CONNS_1K (32), BENCH_CONNS_10M (4), CRAFT_BIN (build/bin),
# BENCH_MINIMAL (1; 0 leaves the minimal reader out),
# BENCH_BASELINE_BIN (unset: a directory holding another craft-logger,
# e.g. one built from the previous commit with `make BUILD=/tmp/old`; it
# runs as a third config "baseline" in the same rounds, so an engine change
# is compared with what it replaces under the same load; targets apply to
# "daemon" only).
# Output: build/bench/foundation.csv, foundation-summary.csv, foundation.png
# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_begin
require_tools iperf3 wrk nginx iptables python3
require_bin logger

RUNS=${BENCH_RUNS:-3}
DUR=${BENCH_SECONDS:-5}
TH=${BENCH_THREADS:-1}
C1K=${BENCH_CONNS_1K:-32}
C10M=${BENCH_CONNS_10M:-4}
Q=0
B1=$(topo_addr b1)
BASE_BIN=${BENCH_BASELINE_BIN:-}
CONFIGS=(kernel daemon)
MIN_BIN=$BENCH_DIR/minimal
if [ "${BENCH_MINIMAL:-1}" = 1 ]; then
  mkdir -p "$MIN_BIN"
  # shellcheck disable=SC2046 # pkg-config prints several words
  t_check "minimal_queue.c does not build" cc -std=c11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE \
    -o "$MIN_BIN/craft-logger" "$CRAFT_ROOT/tests/bench/minimal_queue.c" \
    $(pkg-config --cflags --libs libmnl libnetfilter_queue)
  CONFIGS+=(minimal)
fi
if [ -n "$BASE_BIN" ]; then
  [ -x "$BASE_BIN/craft-logger" ] || result_fail "BENCH_BASELINE_BIN: no $BASE_BIN/craft-logger"
  CONFIGS+=(baseline)
fi
DROPS_TOTAL=0

setup() {
  topo_up
  topo_www
  topo_nginx b1
  topo_start_bg b1 "$TOPO_DIR/iperf3.log" iperf3 -s -B "$B1"
  wait_port b1 "$B1" 5201
  # warm up nginx, page cache and ARP
  wrk_run cl "http://$B1/1k" 1 4 1
}

lg_rx_bytes() { echo $(($(if_bytes lg eth0 rx) + $(if_bytes lg eth1 rx))); }

# bin_of CONFIG: the directory of the craft-logger that CONFIG runs.
bin_of() {
  case "$1" in
    baseline) echo "$BASE_BIN" ;;
    minimal) echo "$MIN_BIN" ;;
    *) echo "$CRAFT_BIN" ;;
  esac
}

config_on() {
  [ "$1" != kernel ] || return 0
  t_check "rules/logger.sh up failed" topo_exec lg "$CRAFT_ROOT/rules/logger.sh" up --queue "$Q"
  LOG=$TOPO_DIR/logger.log
  : >"$TOPO_DIR/bench-logger.conf"
  CRAFT_BIN=$(bin_of "$1") start_daemon lg logger "$LOG" -c "$TOPO_DIR/bench-logger.conf" -q "$Q" \
    --stats-file "$TOPO_DIR/logger.stats"
  wait_daemon_queue lg "$Q" "$DAEMON_PID" "$LOG"
  TICKS0=$(cpu_ticks "$DAEMON_PID")
  BYTES0=$(lg_rx_bytes)
}

config_off() {
  local cfg=$1 run=$2 qd ud ticks bytes rc=0
  [ "$cfg" != kernel ] || return 0
  kill -0 "$DAEMON_PID" 2>/dev/null || result_fail "daemon died during run $run: $(tail -n 3 "$LOG" | tr '\n' ' ')"
  qd=$(nfq_queue_field lg "$Q" queue_dropped)
  ud=$(nfq_queue_field lg "$Q" user_dropped)
  ticks=$(($(cpu_ticks "$DAEMON_PID") - TICKS0))
  bytes=$(($(lg_rx_bytes) - BYTES0))
  topo_stop "$DAEMON_PID" TERM 5 || rc=$?
  [ "$rc" = 0 ] || result_fail "daemon exit status $rc on SIGTERM"
  topo_exec lg "$CRAFT_ROOT/rules/logger.sh" down
  bench_rec "$cfg" cpu_s_per_GB "$run" "$(awk -v t="$ticks" -v hz="$(clk_tck)" -v b="$bytes" \
    'BEGIN { printf "%.3f\n", (t / hz) / (b / 1e9) }')" s/GB
  bench_rec "$cfg" queue_drops "$run" $((qd + ud)) packets
  [ "$cfg" != daemon ] || DROPS_TOTAL=$((DROPS_TOTAL + qd + ud))
}

measure() {
  local cfg=$1 run=$2
  iperf_run cl "$B1" "$DUR"
  bench_rec "$cfg" bulk_gbps "$run" "$IPERF_GBPS" Gbit/s
  wrk_run cl "http://$B1/1k" "$TH" "$C1K" "$DUR"
  [ "$WRK_ERRORS" = 0 ] || result_fail "$cfg run $run: wrk 1k errors: $WRK_ERRORS"
  bench_rec "$cfg" rps_1k "$run" "$WRK_RPS" req/s
  bench_rec "$cfg" p50_1k_ms "$run" "$WRK_P50" ms
  bench_rec "$cfg" p99_1k_ms "$run" "$WRK_P99" ms
  wrk_run cl "http://$B1/10M" "$TH" "$C10M" "$DUR"
  [ "$WRK_ERRORS" = 0 ] || result_fail "$cfg run $run: wrk 10M errors: $WRK_ERRORS"
  bench_rec "$cfg" mbps_10M "$run" "$WRK_MBPS" MB/s
  bench_rec "$cfg" p50_10M_ms "$run" "$WRK_P50" ms
  bench_rec "$cfg" p99_10M_ms "$run" "$WRK_P99" ms
}

setup
for ((r = 1; r <= RUNS; r++)); do
  # rotate the order so that no config always runs first or last
  order=()
  for ((i = 0; i < ${#CONFIGS[@]}; i++)); do order+=("${CONFIGS[(i + r - 1) % ${#CONFIGS[@]}]}"); done
  for cfg in "${order[@]}"; do
    config_on "$cfg"
    measure "$cfg" "$r"
    config_off "$cfg" "$r"
  done
done

echo "foundation bench: $RUNS runs x ${DUR}s, wrk -t$TH (1k: -c$C1K, 10M: -c$C10M); ratio = daemon/kernel"
bench_summarize kernel "bulk_gbps:>=0.85 rps_1k:>=0.88"
# the baseline and the minimal reader are there to compare with, their misses are not ours
BENCH_MISSED=$(tr ' ' '\n' <<<"$BENCH_MISSED" | grep '^daemon/' | tr '\n' ' ' | sed 's/ $//' || true)
bench_plot "foundation: pass-through logger vs kernel forwarding"
echo "csv: ${BENCH_CSV#"$CRAFT_ROOT"/} ${BENCH_SUMMARY#"$CRAFT_ROOT"/} png: ${BENCH_PNG#"$CRAFT_ROOT"/}"

ratio() { awk -F, -v c="${2:-daemon}" -v m="$1" '$1 == c && $2 == m { print $8 }' "$BENCH_SUMMARY"; }
cpu_of() { awk -F, -v c="$1" '$1 == c && $2 == "cpu_s_per_GB" { print $3 }' "$BENCH_SUMMARY"; }
cpu=$(cpu_of daemon)
note=$(bench_load_note)
[ -z "$note" ] || echo "WARNING: $note"
figs="${note:+[$note] }bulk $(ratio bulk_gbps) (>=0.85), 1k req/s $(ratio rps_1k) (>=0.88), 10M $(ratio mbps_10M), p99 1k x$(ratio p99_1k_ms), daemon ${cpu} CPU-s/GB, queue drops $DROPS_TOTAL"
if [ "${BENCH_MINIMAL:-1}" = 1 ]; then
  figs+="; minimal reader: bulk $(ratio bulk_gbps minimal), 1k req/s $(ratio rps_1k minimal), $(cpu_of minimal) CPU-s/GB"
fi
if [ -n "$BASE_BIN" ]; then
  figs+="; baseline: bulk $(ratio bulk_gbps baseline), 1k req/s $(ratio rps_1k baseline), $(cpu_of baseline) CPU-s/GB"
fi
if [ -n "$BENCH_MISSED" ] || [ "$DROPS_TOTAL" != 0 ]; then
  result_fail "targets missed (${BENCH_MISSED:-drops}): $figs"
fi
result_pass "$figs"
