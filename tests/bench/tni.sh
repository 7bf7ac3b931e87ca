#!/usr/bin/env bash
# tests/bench/tni.sh - the transactional network interface, thesis §6.5.2
# (Table 6.1, Fig. 6.11) on the test bed. `make bench T=tni`.
#
# One run: 100 sequential transactions on ONE connection from the python
# peer on cl (tests/e2e/tni/_client.py, plain sockets): a request of ~20
# bytes, a response of 100 KB (102400 bytes, checked byte for byte); the
# server (craft-txserver) "computes" 30 ms per committed attempt (15 ms,
# half of the response, 15 ms, the rest, commit) and 15 ms per aborted one
# (15 ms, half of the response, abort, restart); an aborted request commits
# on its second attempt. First-attempt commit rates 0, 16, 41, 57, 84 and
# 100% (the peer names the rate in each request; which requests abort is
# random). Architectures, all on the same path cl - lb - lg - b1 and the
# same topology, one server process each on b1:
#   plain  non-transactional sockets (tcp_tx plain mode), kernel forwarding
#          at lg: the baseline
#   tla    craft-tla on lg holds in its FORWARD queue (rules/tla.sh)
#   2ca    the peer connects to craft-relay2ca on lg, which relays to b1
#   sma    the library holds (no logger; lg forwards)
# Rounds: REPS (default 3) rounds after one warm-up run per architecture
# (discarded, as in the thesis); in each round plain runs once, then every
# commit rate for every architecture, interleaved. Then TARGET_REPS
# (default 10) more rounds of plain and the three architectures at 100%
# only: run-to-run noise on this shared 2-CPU host is about 1%, so the
# 0.5% target needs more than three samples (medians of all 100% runs).
#
# Output: build/bench/tni.csv (config,metric,run,value,unit; config =
# MODE-rRATE), build/bench/tni-table.txt (Table 6.1's shape: per rate and
# architecture tx/sec and time per transaction avg/min/max in ms: means of
# the rounds, min of the minima, max of the maxima), build/bench/tni-rates.csv
# and build/bench/tni.png (Fig. 6.11: tx/s versus commit rate, the plain
# rate as a line).
# Target (issue 7): at 100% commit every architecture reaches >= 99.5% of
# the plain rate (median tx/s of the rounds).
# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_begin
require_tools python3 iptables
require_bin tla relay2ca txserver

REPS=${TNI_BENCH_REPS:-3}
TARGET_REPS=${TNI_BENCH_TARGET_REPS:-10}
TXNS=${TNI_BENCH_TXNS:-100}
SIZE=102400
read -r -a RATES <<<"${TNI_BENCH_RATES:-0 16 41 57 84 100}"
MODES=(tla 2ca sma)
CLIENT=$CRAFT_ROOT/tests/e2e/tni/_client.py
declare -A PORT=([tla]=7000 [2ca]=7001 [sma]=7002 [plain]=7003)
declare -A HOST

setup() {
  local b1 lg lgbe key conf
  topo_up
  b1=$(topo_addr b1)
  lg=$(topo_addr lg)
  lgbe=$(topo_addr lg-be)
  key=$TOPO_DIR/tx.key
  (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$key")
  conf=$TOPO_DIR/tla.conf
  printf '[queue]\nnum = 0\ncopy_range = 65531\n[tla]\nport = %s\n[control]\nlisten = %s:7100\nkey_file = %s\n' \
    "${PORT[tla]}" "$lgbe" "$key" >"$conf"
  t_check "rules/tla.sh up failed" topo_exec lg "$CRAFT_ROOT/rules/tla.sh" up --port "${PORT[tla]}"
  start_daemon lg tla "$TOPO_DIR/tla.log" -c "$conf" --stats-file "$TOPO_DIR/tla.stats"
  wait_daemon_queue lg 0 "$DAEMON_PID" "$TOPO_DIR/tla.log"
  topo_wait_port lg "$lgbe" 7100 5 || result_fail "craft-tla: no control listener"
  topo_start_bg lg "$TOPO_DIR/relay.log" "$(craft_path relay2ca)" --listen "$lg:${PORT[2ca]}" \
    --server "$b1:${PORT[2ca]}" --control "$lgbe:7101" --key-file "$key" --stats-file "$TOPO_DIR/relay.stats"
  topo_wait_port lg "$lg" "${PORT[2ca]}" 5 || result_fail "craft-relay2ca does not listen"
  local m ctl
  for m in tla 2ca sma plain; do
    ctl=7100
    [ "$m" = 2ca ] && ctl=7101
    topo_start_bg b1 "$TOPO_DIR/srv-$m.log" "$(craft_path txserver)" --mode "$m" \
      --listen "$b1:${PORT[$m]}" --logger "$lgbe:$ctl" --key-file "$key" \
      --compute-ms 30 --abort-compute-ms 15 --abort-point half --max-aborts 1 --seed "$RANDOM"
    topo_wait_port b1 "$b1" "${PORT[$m]}" 5 || result_fail "craft-txserver ($m) does not listen"
    HOST[$m]=$b1
  done
  HOST[2ca]=$lg
}

# run MODE RATE ROUND [TXNS]: one run; records it (ROUND "warm" is not).
run() {
  local m=$1 r=$2 round=$3 n=${4:-$TXNS} out tps avg mn mx
  out=$(topo_exec cl timeout 120 python3 "$CLIENT" --host "${HOST[$m]}" --port "${PORT[$m]}" \
    --conns 1 --txns "$n" --size "$SIZE" --rates "$r" --seed "$RANDOM") ||
    result_fail "$m at $r%: the peer failed: $out"
  read -r tps avg mn mx < <(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(j["tx_per_s"], j["avg_ms"], j["min_ms"], j["max_ms"])' "$out")
  [ "$round" = warm ] && return 0
  bench_rec "$m-r$r" tx_per_s "$round" "$tps" tx/s
  bench_rec "$m-r$r" avg_ms "$round" "$avg" ms
  bench_rec "$m-r$r" min_ms "$round" "$mn" ms
  bench_rec "$m-r$r" max_ms "$round" "$mx" ms
}

setup
run plain 100 warm 10
for m in "${MODES[@]}"; do run "$m" 50 warm 10; done
for ((rep = 1; rep <= REPS; rep++)); do
  run plain 100 "$rep"
  for r in "${RATES[@]}"; do
    for m in "${MODES[@]}"; do run "$m" "$r" "$rep"; done
  done
done
for ((rep = REPS + 1; rep <= REPS + TARGET_REPS; rep++)); do
  for m in plain "${MODES[@]}"; do run "$m" 100 "$rep"; done
done

# The table (Table 6.1's shape), the rates for the plot, the target.
TABLE=$BENCH_DIR/tni-table.txt
RATES_CSV=$BENCH_DIR/tni-rates.csv
awk -F, -v table="$TABLE" -v rates="$RATES_CSV" -v modes="${MODES[*]}" -v rlist="${RATES[*]}" '
  function median(a, cnt,    i, j, t) {
    for (i = 2; i <= cnt; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return (cnt % 2) ? a[(cnt + 1) / 2] : (a[cnt / 2] + a[cnt / 2 + 1]) / 2 }
  NR == 1 { next }
  { k = $1 SUBSEP $2; n[k]++; v[k, n[k]] = $4 + 0; s[k] += $4
    if (!(k in lo) || $4 + 0 < lo[k]) lo[k] = $4 + 0
    if (!(k in hi) || $4 + 0 > hi[k]) hi[k] = $4 + 0 }
  END {
    nm = split(modes, M, " "); nr = split(rlist, R, " ")
    pk = "plain-r100" SUBSEP "tx_per_s"
    for (i = 1; i <= n[pk]; i++) a[i] = v[pk, i]
    plain = median(a, n[pk])
    printf "%-8s", "% Commit" > table
    for (j = 1; j <= nm; j++) printf " | %-31s", toupper(M[j]) > table
    printf "\n%-8s", "" > table
    for (j = 1; j <= nm; j++) printf " | %6s %8s %7s %7s", "tx/sec", "ave ms", "min", "max" > table
    printf "\n" > table
    print "rate," modes ",plain" > rates
    for (i = 1; i <= nr; i++) {
      printf "%-8s", R[i] > table
      line = R[i]
      for (j = 1; j <= nm; j++) {
        c = M[j] "-r" R[i]; t = c SUBSEP "tx_per_s"; av = c SUBSEP "avg_ms"
        printf " | %6.2f %8.1f %7.1f %7.1f", s[t] / n[t], s[av] / n[av], lo[c SUBSEP "min_ms"], hi[c SUBSEP "max_ms"] > table
        delete a; for (q = 1; q <= n[t]; q++) a[q] = v[t, q]
        med[M[j], R[i]] = median(a, n[t])
        line = line "," med[M[j], R[i]]
      }
      printf "\n" > table
      print line "," plain > rates
    }
    printf "non-transactional (plain): %.2f tx/s (median of %d runs), ave %.1f ms\n", plain, n[pk], s["plain-r100" SUBSEP "avg_ms"] / n["plain-r100" SUBSEP "avg_ms"] > table
    for (j = 1; j <= nm; j++)
      printf "%s at 100%%: %.2f tx/s = %.2f%% of plain\n", toupper(M[j]), med[M[j], 100], 100 * med[M[j], 100] / plain > table
  }' "$BENCH_CSV"
cat "$TABLE"

bench_gnuplot "$CRAFT_ROOT/tests/bench/tni_plot.gp" -e "datafile='$RATES_CSV'; outfile='$BENCH_PNG'"

missed=$(awk '/ at 100%: / { sub(/%/, "", $7); if ($7 + 0 < 99.5) printf " %s=%s%%", $1, $7 }' "$TABLE")
summary=$(awk '/ at 100%: / { printf "%s %s ", $1, $7 }' "$TABLE")
note=$(bench_load_note)
[ -z "$missed" ] || result_fail "at 100% commit below 99.5% of plain:$missed ($summary${note:+; $note})"
result_pass "at 100% commit: $summary of plain ($(awk '/^non-transactional/ { print $3, $4 }' "$TABLE")), $REPS rounds x ${#RATES[@]} rates x ${#MODES[@]} modes + $TARGET_REPS rounds at 100%, $TXNS txns each${note:+; $note}"
