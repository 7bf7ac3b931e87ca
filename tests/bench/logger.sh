#!/usr/bin/env bash
# tests/bench/logger.sh - what transaction logging costs the traffic: the
# logger daemon in pass-through mode ("passthrough") against log mode with
# a database ("log": reassembly, HTTP parsing, tags, byte store, SHA-256 of
# responses over max_kept_message, SQLite rows) on the same path
# cl -> lb -> lg -> b1, in one run, the order alternating between rounds.
#
# Per round and config:
#   rps_1k, p50_1k_ms, p99_1k_ms      wrk on the 1 KiB file (keep-alive)
#   mbps_3M, p99_3M_ms                wrk on a 3 MB file (over max_kept_message:
#                                     hashed with SHA-256, not kept)
#   cpu_s_per_GB                      the daemon's CPU over the round / bytes forwarded
# and for log mode: txns (transactions logged), backlog_drops (copies not
# made), rows_dropped (database rows refused: queue full).
# Target: issue 5's check 1, log-mode 1 KiB req/s >= 0.95 of the same
# daemon passing traffic through (the closest "plain forwarding" that keeps
# the NFQUEUE hop equal; foundation.sh compares that hop with the kernel),
# and no backlog drops; the 3 MB rate is reported, not judged. Not met on
# this 2-core VM: the SQLite writer thread (~5 rows and 2 payload rows per
# transaction) competes with nginx, wrk and the forwarding for the two
# cores, and rows it cannot take are counted in rows_dropped (the traffic
# never waits for them). Measured on a quiet host (load 2.2-3.0), 3 rounds,
# after digests moved to libcrypto's SHA-256 (SHA extensions): 1k 0.653
# (20.0k -> 13.0k req/s), 3M 0.633 (999 -> 632 MB/s; 0.34-0.37 with
# libsodium's portable SHA-256 under load 4-6), CPU 0.87 -> 2.79 s/GB,
# ~46k of ~66k transactions' rows dropped per 5 s round.
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

setup() {
  topo_up
  topo_www
  head -c 3000000 /dev/urandom >"$(topo_www_file 3M)"
  chmod 644 "$(topo_www_file 3M)"
  topo_nginx b1
  t_check "rules/logger.sh up failed" topo_exec lg "$CRAFT_ROOT/rules/logger.sh" up --queue "$Q"
  wrk_run cl "http://$B1/1k" 1 4 1 # warm up nginx, page cache and ARP
}

lg_rx_bytes() { echo $(($(if_bytes lg eth0 rx) + $(if_bytes lg eth1 rx))); }

config_on() {
  local cfg=$1 run=$2 conf=$TOPO_DIR/$1.conf
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
  local cfg=$1 run=$2 ticks bytes rc=0
  kill -0 "$DAEMON_PID" 2>/dev/null || result_fail "daemon died during run $run: $(tail -n 3 "$LOG" | tr '\n' ' ')"
  ticks=$(($(cpu_ticks "$DAEMON_PID") - TICKS0))
  bytes=$(($(lg_rx_bytes) - BYTES0))
  topo_stop "$DAEMON_PID" TERM 20 || rc=$?
  [ "$rc" = 0 ] || result_fail "daemon exit status $rc on SIGTERM ($cfg run $run)"
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
  if ((r % 2)); then order=(passthrough log); else order=(log passthrough); fi
  for cfg in "${order[@]}"; do
    config_on "$cfg" "$r"
    measure "$cfg" "$r"
    config_off "$cfg" "$r"
  done
done

echo "logger bench: $RUNS runs x ${DUR}s, wrk -t$TH (1k: -c$C1K, 3M: -c$CBIG); ratio = log/passthrough"
bench_summarize passthrough "rps_1k:>=0.95"
bench_plot "logger: transaction logging vs pass-through"
echo "csv: ${BENCH_CSV#"$CRAFT_ROOT"/} ${BENCH_SUMMARY#"$CRAFT_ROOT"/} png: ${BENCH_PNG#"$CRAFT_ROOT"/}"

ratio() { awk -F, -v m="$1" '$1 == "log" && $2 == m { print $8 }' "$BENCH_SUMMARY"; }
med() { awk -F, -v c="$1" -v m="$2" '$1 == c && $2 == m { print $3 }' "$BENCH_SUMMARY"; }
note=$(bench_load_note)
[ -z "$note" ] || echo "WARNING: $note"
figs="${note:+[$note] }1k req/s $(ratio rps_1k) (>=0.95), 3M $(ratio mbps_3M), p99 1k x$(ratio p99_1k_ms), CPU-s/GB $(med passthrough cpu_s_per_GB) -> $(med log cpu_s_per_GB), $(med log txns) txns/round, rows dropped $(med log rows_dropped)/round, backlog drops $BL_DROPS"
if [ -n "$BENCH_MISSED" ] || [ "$BL_DROPS" != 0 ]; then
  result_fail "targets missed (${BENCH_MISSED:-backlog drops}): $figs"
fi
result_pass "$figs"
