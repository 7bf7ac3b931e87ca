#!/usr/bin/env bash
# tests/bench/logger.sh - what transaction logging costs the traffic
# (issue 5, check 1): plain kernel forwarding ("kernel": no queue rule), the
# logger daemon in pass-through mode ("passthrough": the NFQUEUE hop alone)
# and log mode with a database ("log": full copies, reassembly, HTTP
# parsing, tags, byte store, SHA-256 of responses over max_kept_message,
# SQLite rows) on the same path cl -> lb -> lg -> b1, in one run, the order
# rotating between rounds.
#
# Per round and config:
#   rps_1k, p50_1k_ms, p99_1k_ms      wrk on the 1 KiB file (keep-alive)
#   mbps_3M, p99_3M_ms                wrk on a 3 MB file (over max_kept_message:
#                                     hashed with SHA-256, not kept)
# and for the daemon: cpu_s_per_GB (its CPU over the round / bytes
# forwarded), queue_drops (queue_dropped + user_dropped of the queue); for
# log mode: txns (transactions logged), backlog_drops (copies not made),
# rows_dropped (database rows refused: writer queue full).
# Target (issue 5): log-mode 1 KiB req/s >= 0.95 of plain forwarding, and no
# queue drops at the highest load wrk produces here. The passthrough ratio
# separates the NFQUEUE hop's cost (tests/bench/foundation.sh) from the
# logging's.
#
# Environment: BENCH_RUNS (3), BENCH_SECONDS (5), BENCH_THREADS (1),
# BENCH_CONNS_1K (32), BENCH_CONNS_BIG (4), CRAFT_BIN (build/bin).
# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_begin
require_tools wrk nginx iptables sqlite3
require_bin logger

RUNS=${BENCH_RUNS:-3}
DUR=${BENCH_SECONDS:-5}
TH=${BENCH_THREADS:-1}
C1K=${BENCH_CONNS_1K:-32}
CBIG=${BENCH_CONNS_BIG:-4}
Q=0
B1=$(topo_addr b1)
BL_DROPS=0
Q_DROPS=0
CONFIGS=(kernel passthrough log)

setup() {
  topo_up
  topo_www
  head -c 3000000 /dev/urandom >"$(topo_www_file 3M)"
  chmod 644 "$(topo_www_file 3M)"
  topo_nginx b1
  wrk_run cl "http://$B1/1k" 1 4 1 # warm up nginx, page cache and ARP
}

lg_rx_bytes() { echo $(($(if_bytes lg eth0 rx) + $(if_bytes lg eth1 rx))); }

config_on() {
  local cfg=$1 run=$2 conf=$TOPO_DIR/$1.conf
  [ "$cfg" != kernel ] || return 0
  t_check "rules/logger.sh up failed" topo_exec lg "$CRAFT_ROOT/rules/logger.sh" up --queue "$Q"
  if [ "$cfg" = log ]; then
    rm -f "$TOPO_DIR/bench.db"*
    printf '[logger]\ndb = %s\nservice = "80 http"\n' "$TOPO_DIR/bench.db" >"$conf"
  else
    printf '[logger]\nmode = passthrough\n' >"$conf"
  fi
  LOG=$TOPO_DIR/logger-$cfg-$run.log
  STATS=$TOPO_DIR/logger-$cfg.stats
  start_daemon lg logger "$LOG" -c "$conf" -q "$Q" --stats-file "$STATS"
  wait_daemon_queue lg "$Q" "$DAEMON_PID" "$LOG"
  TICKS0=$(cpu_ticks "$DAEMON_PID")
  BYTES0=$(lg_rx_bytes)
}

config_off() {
  local cfg=$1 run=$2 ticks bytes qd ud rc=0
  [ "$cfg" != kernel ] || return 0
  kill -0 "$DAEMON_PID" 2>/dev/null || result_fail "daemon died during run $run: $(tail -n 3 "$LOG" | tr '\n' ' ')"
  ticks=$(($(cpu_ticks "$DAEMON_PID") - TICKS0))
  bytes=$(($(lg_rx_bytes) - BYTES0))
  qd=$(nfq_queue_field lg "$Q" queue_dropped)
  ud=$(nfq_queue_field lg "$Q" user_dropped)
  topo_stop "$DAEMON_PID" TERM 20 || rc=$?
  [ "$rc" = 0 ] || result_fail "daemon exit status $rc on SIGTERM ($cfg run $run)"
  topo_exec lg "$CRAFT_ROOT/rules/logger.sh" down
  bench_rec "$cfg" queue_drops "$run" $((qd + ud)) packets
  Q_DROPS=$((Q_DROPS + qd + ud))
  bench_rec "$cfg" cpu_s_per_GB "$run" "$(awk -v t="$ticks" -v hz="$(clk_tck)" -v b="$bytes" \
    'BEGIN { printf "%.3f\n", (t / hz) / (b / 1e9) }')" s/GB
  [ "$cfg" = log ] || return 0
  local bd rd tx
  bd=$(stats_get "$STATS" backlog_dropped || echo 0)
  rd=$(stats_get "$STATS" db_dropped_full || echo 0)
  tx=$(stats_get "$STATS" log_txns_complete || echo 0)
  bench_rec log backlog_drops "$run" "$bd" packets
  bench_rec log rows_dropped "$run" "$rd" rows
  bench_rec log txns "$run" "$tx" transactions
  BL_DROPS=$((BL_DROPS + bd))
}

measure() {
  local cfg=$1 run=$2
  wrk_run cl "http://$B1/1k" "$TH" "$C1K" "$DUR"
  [ "$WRK_ERRORS" = 0 ] || result_fail "$cfg run $run: wrk 1k errors: $WRK_ERRORS"
  bench_rec "$cfg" rps_1k "$run" "$WRK_RPS" req/s
  bench_rec "$cfg" p50_1k_ms "$run" "$WRK_P50" ms
  bench_rec "$cfg" p99_1k_ms "$run" "$WRK_P99" ms
  wrk_run cl "http://$B1/3M" "$TH" "$CBIG" "$DUR"
  [ "$WRK_ERRORS" = 0 ] || result_fail "$cfg run $run: wrk 3M errors: $WRK_ERRORS"
  bench_rec "$cfg" mbps_3M "$run" "$WRK_MBPS" MB/s
  bench_rec "$cfg" p99_3M_ms "$run" "$WRK_P99" ms
}

setup
for ((r = 1; r <= RUNS; r++)); do
  order=()
  for ((i = 0; i < ${#CONFIGS[@]}; i++)); do order+=("${CONFIGS[(i + r - 1) % ${#CONFIGS[@]}]}"); done
  for cfg in "${order[@]}"; do
    config_on "$cfg" "$r"
    measure "$cfg" "$r"
    config_off "$cfg" "$r"
  done
done

echo "logger bench: $RUNS runs x ${DUR}s, wrk -t$TH (1k: -c$C1K, 3M: -c$CBIG); ratio = config/kernel"
bench_summarize kernel "rps_1k:>=0.95"
# the pass-through is there to separate the queue hop's cost; the target is log mode's
BENCH_MISSED=$(tr ' ' '\n' <<<"$BENCH_MISSED" | grep '^log/' | tr '\n' ' ' | sed 's/ $//' || true)
bench_plot "logger: transaction logging and pass-through vs kernel forwarding"
echo "csv: ${BENCH_CSV#"$CRAFT_ROOT"/} ${BENCH_SUMMARY#"$CRAFT_ROOT"/} png: ${BENCH_PNG#"$CRAFT_ROOT"/}"

ratio() { awk -F, -v c="${2:-log}" -v m="$1" '$1 == c && $2 == m { print $8 }' "$BENCH_SUMMARY"; }
med() { awk -F, -v c="$1" -v m="$2" '$1 == c && $2 == m { print $3 }' "$BENCH_SUMMARY"; }
note=$(bench_load_note)
[ -z "$note" ] || echo "WARNING: $note"
figs="${note:+[$note] }log/kernel: 1k req/s $(ratio rps_1k) (>=0.95), 3M $(ratio mbps_3M), p99 1k x$(ratio p99_1k_ms); passthrough/kernel: 1k req/s $(ratio rps_1k passthrough), 3M $(ratio mbps_3M passthrough); queue drops $Q_DROPS, CPU-s/GB $(med passthrough cpu_s_per_GB) -> $(med log cpu_s_per_GB), $(med log txns) txns/round, rows dropped $(med log rows_dropped)/round, backlog drops $BL_DROPS"
if [ -n "$BENCH_MISSED" ] || [ "$BL_DROPS" != 0 ] || [ "$Q_DROPS" != 0 ]; then
  result_fail "targets missed (${BENCH_MISSED:-drops}): $figs"
fi
result_pass "$figs"
