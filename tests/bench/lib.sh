#!/usr/bin/env bash
# tests/bench/lib.sh - shared helpers for benchmarks (tests/bench/NAME.sh).
#
#   source "$(dirname "$0")/lib.sh"     # also sources tests/lib.sh + topo.sh
#   bench_begin                         # NAME from the file, CSV under build/bench
#   bench_rec CONFIG METRIC RUN VALUE UNIT
#   wrk_run ROLE URL THREADS CONNS SECONDS    -> WRK_RPS WRK_P50 WRK_P99 WRK_MBPS
#   iperf_run ROLE SERVER SECONDS             -> IPERF_GBPS IPERF_BYTES
#   bench_summarize BASE_CONFIG "metric:target ..."   -> summary CSV + table
#   bench_plot                          # PNG of the ratios (tests/bench/plot.gp)
#
# Raw CSV: build/bench/NAME.csv, columns config,metric,run,value,unit.
# Summary: build/bench/NAME-summary.csv, one row per (config, metric) with
# median, min, max, runs, the ratio of the median to BASE_CONFIG's median,
# the target for that ratio (if any) and ok/MISS.
# A bench prints its table on stdout and ends with one result line
# (result_pass / result_fail from tests/lib.sh), like an e2e scenario.

# Helpers return results in globals (WRK_*, IPERF_*, BENCH_*) read by callers.
# shellcheck disable=SC2034

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

BENCH_DIR=${BENCH_DIR:-$CRAFT_ROOT/build/bench}

bench_begin() {
  local script=${BASH_SOURCE[1]:-$0}
  BENCH_NAME=$(basename "$script" .sh)
  TEST_NAME=${TEST_NAME:-bench/$BENCH_NAME}
  test_begin
  mkdir -p "$BENCH_DIR"
  BENCH_CSV=$BENCH_DIR/$BENCH_NAME.csv
  BENCH_SUMMARY=$BENCH_DIR/$BENCH_NAME-summary.csv
  BENCH_PNG=$BENCH_DIR/$BENCH_NAME.png
  echo "config,metric,run,value,unit" >"$BENCH_CSV"
  BENCH_LOAD0=$(cut -d' ' -f1 /proc/loadavg)
}

# bench_load_note: "" when the host was quiet when the bench started, else
# a warning naming the 1-minute load average then and now (other work on
# the host skews results; interleaved runs keep ratios fairer than absolute
# numbers).
bench_load_note() {
  local now
  now=$(cut -d' ' -f1 /proc/loadavg)
  if fge "$BENCH_LOAD0" 0.7; then
    echo "noisy host: load average ${BENCH_LOAD0} at start, $now at end"
  fi
}

# bench_rec CONFIG METRIC RUN VALUE UNIT
bench_rec() {
  printf '%s,%s,%s,%s,%s\n' "$@" >>"$BENCH_CSV"
  say "$1 $2 run $3: $4 $5"
}

# wrk_to_ms VALUE_WITH_UNIT: "215.00us" / "1.20ms" / "1.01s" -> ms
wrk_to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.3f\n", n }'
}

# wrk_size_bytes "30.00MB" -> bytes (wrk counts in 1024s)
wrk_size_bytes() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    m = 1; if (u == "KB") m = 1024; else if (u == "MB") m = 1048576; else if (u == "GB") m = 1073741824
    printf "%.0f\n", n * m }'
}

# wrk_run ROLE URL THREADS CONNS SECONDS: sets WRK_RPS, WRK_P50, WRK_P99 (ms),
# WRK_MBPS (MB/s, 10^6) and WRK_ERRORS (socket errors + non-2xx).
wrk_run() {
  local role=$1 url=$2 th=$3 c=$4 d=$5 out
  out=$(topo_exec "$role" timeout $((d + 15)) wrk -t"$th" -c"$c" -d"${d}s" --latency "$url") ||
    result_fail "wrk $url failed: $(printf '%s' "$out" | tail -n 2 | tr '\n' ' ')"
  WRK_RPS=$(awk '/^Requests\/sec:/ { printf "%.1f\n", $2 }' <<<"$out")
  WRK_P50=$(wrk_to_ms "$(awk '$1 == "50%" { print $2; exit }' <<<"$out")")
  WRK_P99=$(wrk_to_ms "$(awk '$1 == "99%" { print $2; exit }' <<<"$out")")
  WRK_MBPS=$(awk -v b="$(wrk_size_bytes "$(awk '/^Transfer\/sec:/ { print $2 }' <<<"$out")")" \
    'BEGIN { printf "%.1f\n", b / 1e6 }')
  WRK_ERRORS=$(awk '/Socket errors:/ { gsub(/,/, ""); s += $4 + $6 + $8 + $10 }
                    /Non-2xx/ { s += $NF } END { print s + 0 }' <<<"$out")
  [ -n "$WRK_RPS" ] || result_fail "cannot parse wrk output: $(tr '\n' ' ' <<<"$out" | head -c 300)"
}

# iperf_run ROLE SERVER_ADDR SECONDS: one TCP stream ROLE -> SERVER (iperf3 -s
# must run there); sets IPERF_GBPS (receiver) and IPERF_BYTES.
iperf_run() {
  local role=$1 srv=$2 d=$3 json r
  json=$(topo_exec "$role" timeout $((d + 15)) iperf3 -c "$srv" -t "$d" -O 1 -J) ||
    result_fail "iperf3 to $srv failed: $(tr '\n' ' ' <<<"$json" | head -c 300)"
  r=$(python3 -c 'import json,sys
e = json.load(sys.stdin)["end"]["sum_received"]
print("%.3f %d" % (e["bits_per_second"] / 1e9, e["bytes"]))' <<<"$json") ||
    result_fail "cannot parse iperf3 output"
  read -r IPERF_GBPS IPERF_BYTES <<<"$r"
}

# bench_summarize BASE "METRIC:TARGET ...": medians per (config, metric),
# ratios to BASE, targets on the ratio (">=" for throughput; a metric
# spelled "METRIC:<=X" means the ratio must stay <= X).  Writes the summary
# CSV, prints a table, sets BENCH_MISSED to the list of missed targets.
bench_summarize() {
  local base=$1 targets=${2:-}
  awk -F, -v base="$base" -v targets="$targets" '
    function median(a, cnt,    i, j, t) {
      for (i = 2; i <= cnt; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return (cnt % 2) ? a[(cnt + 1) / 2] : (a[cnt / 2] + a[cnt / 2 + 1]) / 2
    }
    BEGIN {
      nt = split(targets, tl, " ")
      for (i = 1; i <= nt; i++) {
        split(tl[i], kv, ":"); t = kv[2]
        if (t ~ /^<=/) { tdir[kv[1]] = "<="; sub(/^<=/, "", t) } else { tdir[kv[1]] = ">="; sub(/^>=/, "", t) }
        tgt[kv[1]] = t
      }
    }
    NR == 1 { next }
    {
      k = $1 SUBSEP $2; n[k]++; v[k, n[k]] = $4 + 0; unit[$2] = $5
      if (!($1 in seenc)) { seenc[$1] = 1; cfgs[++nc] = $1 }
      if (!($2 in seenm)) { seenm[$2] = 1; mets[++nm] = $2 }
    }
    END {
      print "config,metric,median,min,max,runs,unit,ratio_to_" base ",target,status" > summary
      for (m = 1; m <= nm; m++) for (c = 1; c <= nc; c++) {
        k = cfgs[c] SUBSEP mets[m]; if (!(k in n)) continue
        delete a; mn = ""; mx = ""
        for (i = 1; i <= n[k]; i++) { a[i] = v[k, i]; if (mn == "" || a[i] < mn) mn = a[i]; if (mx == "" || a[i] > mx) mx = a[i] }
        med[k] = median(a, n[k]); lo[k] = mn; hi[k] = mx
      }
      printf "%-10s %-18s %12s %21s %9s %7s %s\n", "config", "metric", "median", "[min .. max]", "unit", "ratio", "target"
      for (m = 1; m <= nm; m++) for (c = 1; c <= nc; c++) {
        me = mets[m]; k = cfgs[c] SUBSEP me; if (!(k in n)) continue
        bk = base SUBSEP me; ratio = ""; tg = ""; st = ""
        if (cfgs[c] != base && (bk in med) && med[bk] != 0) ratio = sprintf("%.3f", med[k] / med[bk])
        if (ratio != "" && (me in tgt)) {
          tg = tdir[me] tgt[me]
          ok = (tdir[me] == ">=") ? (ratio + 0 >= tgt[me] + 0) : (ratio + 0 <= tgt[me] + 0)
          st = ok ? "ok" : "MISS"
          if (!ok) missed = missed " " cfgs[c] "/" me "=" ratio
        }
        printf "%s,%s,%s,%s,%s,%d,%s,%s,%s,%s\n", cfgs[c], me, med[k], lo[k], hi[k], n[k], unit[me], ratio, tg, st > summary
        printf "%-10s %-18s %12.3f  [%8.3f .. %8.3f] %9s %7s %s\n", cfgs[c], me, med[k], lo[k], hi[k], unit[me], ratio, (tg == "" ? "" : tg " " st)
      }
      print missed > missfile
    }' summary="$BENCH_SUMMARY" missfile="$BENCH_DIR/.$BENCH_NAME.missed" "$BENCH_CSV"
  BENCH_MISSED=$(sed 's/^ //' "$BENCH_DIR/.$BENCH_NAME.missed")
  rm -f "$BENCH_DIR/.$BENCH_NAME.missed"
}

# bench_gnuplot SCRIPT ARGS...: gnuplot ARGS SCRIPT. The PNG is one of a
# bench's outputs, so a missing or failing gnuplot FAILs the bench.
bench_gnuplot() {
  local script=$1 log=$BENCH_DIR/.$BENCH_NAME-gnuplot.log
  shift
  command -v gnuplot >/dev/null || result_fail "gnuplot missing: no PNG (apt-get install gnuplot-nox)"
  gnuplot "$@" "$script" 2>"$log" || result_fail "gnuplot failed: $(tail -n 3 "$log" | tr '\n' ' ')"
  rm -f "$log"
}

# bench_plot [TITLE]: bar chart of the ratio column of the summary CSV.
bench_plot() {
  local title=${1:-$BENCH_NAME} dat=$BENCH_DIR/.$BENCH_NAME-ratios.dat
  awk -F, 'NR > 1 && $8 != "" {
      t = ($9 == "") ? "NaN" : $9; gsub(/[<>=]/, "", t)
      c = ($2 ~ /_ms$/) ? 2 : 1
      printf "\"%s\\n%s\" %s %s %d\n", $2, $1, $8, t, c }' "$BENCH_SUMMARY" >"$dat"
  if [ ! -s "$dat" ]; then
    rm -f "$dat"
    return 0
  fi
  bench_gnuplot "$CRAFT_ROOT/tests/bench/plot.gp" -e "datafile='$dat'; outfile='$BENCH_PNG'; plottitle='$title'"
  rm -f "$dat"
}
