#!/usr/bin/env bash
# tests/bench/failover.sh - failover time as the client sees it, and the
# cost of the whole path in normal operation (issue 6, "Benchmark").
# `make bench T=failover`.
# bench-timeout: 2400
#
# Test bed: the webmail demo application as in failover/matrix_webmail
# (tests/e2e/failover/_matrix.sh): b1 primary, b2 alternate with
# craft-agent, craft-auxd on aux, craft-logger on lg with the failure
# detection config of tests/e2e/failover/_lib.sh (fo__logger: k = 4, floor
# 200 ms, ceiling 2000 ms, confirm 300 ms, min_samples 8, idle_probe 300
# ms, probe timeout 300 ms, tick 10 ms) unless FO_DETECT_K,
# FO_DETECT_FLOOR, FO_DETECT_CEILING, FO_DETECT_CONFIRM or FO_PROBE_TIMEOUT
# say otherwise (the result line names the config used), craft-proxy on
# p1 with recovery.
#
# Failover: BENCH_FO_TRIALS (50) trials per crash point (sent, mid,
# between, upload; see _matrix.sh), each a real failover on one client
# connection (b1's link down; b1 back and seen recovered before the next
# trial), each checked like a matrix cell (one socket, responses
# identical to the run without failure, row "recovered"), after
# BENCH_FO_WARMUP (10) runs without failure of the same workload (the
# detector learns its request kinds: min_samples). Per trial:
#   gap_ms     the longest time the client waited for a byte
#   extra_ms   the trial's total time minus the run without failure
# Targets: gap p50 < 300 ms and p99 < 1000 ms per crash point.
#
# Overhead: BENCH_RUNS (5) rounds, each BENCH_ACTIONS (100) actions per
# workload, direct and through the stack in alternating order:
#   action1_ms  "login screen": GET /, /static/style.css, /static/app.js,
#               /static/logo.svg on one new connection
#   action2_ms  log in, compose, send (one aux request), log out on one new
#               connection
#   action1_ka_ms, action2_ka_ms   the same actions, all of a round's on ONE
#               keep-alive connection (the splice exists: the forwarding
#               path alone, without the proxy's per-connection work)
# (mean milliseconds per action, connect included).
#   direct  cl -> b1:8080: kernel forwarding by lb and lg (the logger's
#           queue is bypassed for these flows only: a mangle FORWARD rule
#           ahead of its own)
#   craft   cl -> VIP: kernel forwarding by lb (no craft-lb daemon in this
#           bed: the hop is the same in both), craft-proxy (splice),
#           craft-logger (every segment logged, detection on), b1
# Target: craft / direct <= 1.03 for every one of these.
#
# Output: build/bench/failover.csv (raw), failover-summary.csv
# (percentiles, ratios), failover.png (tests/bench/failover_plot.gp).
# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/failover/_matrix.sh
source "$CRAFT_ROOT/tests/e2e/failover/_matrix.sh"
bench_begin
require_tools gnuplot

TRIALS=${BENCH_FO_TRIALS:-50}
RUNS=${BENCH_RUNS:-5}
ACTIONS=${BENCH_ACTIONS:-100}
WARMUP=${BENCH_FO_WARMUP:-10}
[ "$WARMUP" -ge 1 ] || WARMUP=1
read -r -a POINTS <<<"${BENCH_FO_POINTS:-sent mid between upload}"

mx_setup webmail

# ---- failover trials -----------------------------------------------------------

for point in "${POINTS[@]}"; do
  # steady state: the detector has min_samples of this workload's
  # request kinds before the first trial (the matrix starts cold)
  for ((w = 0; w < WARMUP; w++)); do mx_reference "$point"; done
  for ((t = 1; t <= TRIALS; t++)); do
    mx_cell "$point" "$t"
    bench_rec "$point" gap_ms "$t" "$MX_GAP" ms >/dev/null 2>&1
    bench_rec "$point" extra_ms "$t" $((MX_MS - MX_REF_MS[$point])) ms >/dev/null 2>&1
    say "trial $point #$t: $MX_LINE"
  done
done

# ---- normal-operation overhead -------------------------------------------------------

# the one Action client of the test bed (also the demo's)
ACT=$CRAFT_ROOT/tests/net/actions.py
CL=$(topo_addr cl)
for dir in "-s $CL -d $B1 --dport 8080" "-s $B1 --sport 8080 -d $CL"; do
  # shellcheck disable=SC2086 # the match is several words
  t_check "cannot exempt the direct flows from the logger" topo_exec lg iptables -w -t mangle \
    -I FORWARD 1 -p tcp $dir -j ACCEPT -m comment --comment bench-direct
done
for ((run = 1; run <= RUNS; run++)); do
  order="direct craft"
  [ $((run % 2)) = 0 ] && order="craft direct"
  for cfg in $order; do
    host=$VIP port=80
    [ "$cfg" = direct ] && host=$B1 port=8080
    for action in action1 action2; do
      for mode in new ka; do
        v=$(topo_exec cl timeout 300 python3 "$ACT" "$host" "$port" "$action" "$ACTIONS" "$mode" 2>&1) ||
          result_fail "$cfg $action $mode: ${v//$'\n'/ }"
        m=${action}_ms
        [ "$mode" = ka ] && m=${action}_ka_ms
        bench_rec "$cfg" "$m" "$run" "$v" ms
      done
    done
  done
done
px_require_alive "after the bench"

# ---- summary ----------------------------------------------------------------------

bench_summarize direct "action1_ms:<=1.03 action2_ms:<=1.03 action1_ka_ms:<=1.03 action2_ka_ms:<=1.03"
PCT=$BENCH_DIR/$BENCH_NAME-percentiles.csv
awk -F, 'NR > 1 && ($2 == "gap_ms" || $2 == "extra_ms") { k = $1 "," $2; v[k, ++n[k]] = $4; if (!(k in seen)) { seen[k] = 1; ks[++nk] = k } }
  function pct(k, q,    i, j, t, m, a) {
    m = n[k]; for (i = 1; i <= m; i++) a[i] = v[k, i]
    for (i = 2; i <= m; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    i = int(q * m + 0.999999); if (i < 1) i = 1; if (i > m) i = m
    return a[i]
  }
  END {
    print "point,metric,trials,p50,p90,p99,max"
    for (i = 1; i <= nk; i++) printf "%s,%d,%s,%s,%s,%s\n", ks[i], n[ks[i]], pct(ks[i], .5), pct(ks[i], .9), pct(ks[i], .99), pct(ks[i], 1)
  }' "$BENCH_CSV" >"$PCT"
echo "failover time seen by the client (ms; nearest-rank percentiles):"
column -t -s, "$PCT"
missed=()
while IFS=, read -r point metric n p50 _ p99 _; do
  [ "$metric" = gap_ms ] || continue
  [ "$p50" -lt 300 ] || missed+=("$point gap p50 ${p50}ms >= 300")
  [ "$p99" -lt 1000 ] || missed+=("$point gap p99 ${p99}ms >= 1000")
done < <(tail -n +2 "$PCT")
for m in $BENCH_MISSED; do missed+=("overhead $m > 1.03"); done

# ---- figure ------------------------------------------------------------------------

CDF=$BENCH_DIR/.failover-cdf.dat
for point in "${POINTS[@]}"; do
  echo "\"$point\""
  awk -F, -v p="$point" '$1 == p && $2 == "gap_ms" { print $4 }' "$BENCH_CSV" | sort -n |
    awk '{ a[NR] = $1 } END { for (i = 1; i <= NR; i++) print a[i], i / NR }'
  printf '\n\n'
done >"$CDF"
OVH=$BENCH_DIR/.failover-ovh.dat
awk -F, '$1 == "craft" && $2 ~ /^action/ { print $2, $8 }' "$BENCH_SUMMARY" >"$OVH"
gnuplot -e "cdffile='$CDF'; ovhfile='$OVH'; outfile='$BENCH_PNG'; npoints=${#POINTS[@]}" \
  "$CRAFT_ROOT/tests/bench/failover_plot.gp" 2>"$BENCH_DIR/.failover-gnuplot.log" ||
  say "gnuplot failed: $(tail -n 3 "$BENCH_DIR/.failover-gnuplot.log" | tr '\n' ' ')"
rm -f "$CDF" "$OVH" "$BENCH_DIR/.failover-gnuplot.log"

figs=$(awk -F, 'NR > 1 && $2 == "gap_ms" { printf "%s gap p50 %s p99 %s ms (n=%s); ", $1, $4, $6, $3 }' "$PCT")
figs+=$(awk -F, '$1 == "craft" && $2 ~ /^action/ { printf "%s craft/direct %s; ", $2, $8 }' "$BENCH_SUMMARY")
figs+="detection: k $FO_DETECT_K floor $FO_DETECT_FLOOR ceiling $FO_DETECT_CEILING confirm $FO_DETECT_CONFIRM probe timeout $FO_PROBE_TIMEOUT"
note=$(bench_load_note)
[ -z "$note" ] || figs+="; $note"
[ ${#missed[@]} = 0 ] || result_fail "missed: $(IFS=';'; echo "${missed[*]}"); $figs"
result_pass "$figs"
