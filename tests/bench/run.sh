#!/usr/bin/env bash
# tests/bench/run.sh [T] - the benchmark runner behind `make bench`.
#
#   tests/bench/run.sh            every tests/bench/NAME.sh (sorted; lib.sh,
#                                 run.sh and names starting with "_" excluded)
#   tests/bench/run.sh NAME       just tests/bench/NAME.sh
#
# A bench prints its table on stdout and ends with one result line (PASS or
# FAIL, FAIL also when a target is missed); its CSVs and PNG go to
# build/bench/.  The runner passes the output through, keeps a log per bench
# in build/bench/NAME.log, and ends with `N passed, N failed`.
# Environment: BENCH_TIMEOUT (seconds per bench, default 600; a bench that
# needs longer says so in a line "# bench-timeout: SECONDS", used unless
# BENCH_TIMEOUT is set).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BDIR=$ROOT/tests/bench
OUT=$ROOT/build/bench
TOOLS=(ip iptables curl nginx python3 iperf3 wrk ab gnuplot timeout awk od)
PASSED=0
FAILED=0
CHILD=

CRAFT_RUN_TAG=${CRAFT_RUN_TAG:-cb$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')}
export CRAFT_RUN_TAG CRAFT_ROOT=$ROOT

count() {
  case "$1" in
    PASS\ *) PASSED=$((PASSED + 1)) ;;
    *) FAILED=$((FAILED + 1)) ;;
  esac
}

fail() {
  echo "FAIL $1"
  FAILED=$((FAILED + 1))
}

benches() {
  local f
  for f in "$BDIR"/*.sh; do
    case "$(basename "$f")" in run.sh | lib.sh | _*) continue ;; esac
    echo "$f"
  done | sort
}

sweep() {
  local ns pid left=
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$CRAFT_RUN_TAG" || true); do
    left+="$ns "
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "${TMPDIR:-/tmp}/craft-topo-$CRAFT_RUN_TAG"*
  [ -z "$left" ] || fail "bench: leftover namespaces: $left"
}

on_signal() {
  trap - INT TERM
  local p
  for p in "$OUT"/*.log.pid; do
    if [ -f "$p" ]; then kill -TERM "$(cat "$p")" 2>/dev/null || true; fi
  done
  if [ -n "$CHILD" ]; then wait "$CHILD" 2>/dev/null || true; fi
  fail "bench: interrupted"
  sweep
  echo "$PASSED passed, $FAILED failed"
  exit 1
}

# run_bench FILE: runs one bench; its stdout (table, result line) and its
# stderr (progress) are shown live and logged to build/bench/NAME.log.
run_bench() {
  local f=$1 name log rc line own
  own=$(sed -n 's/^# bench-timeout: *\([0-9][0-9]*\).*$/\1/p' "$f" | head -n 1)
  local TIMEOUT=${BENCH_TIMEOUT:-${own:-600}}
  name=$(basename "$f" .sh)
  log=$OUT/$name.log
  echo "== bench $name"
  rm -f "$log.rc" "$log.pid"
  (
    timeout -k 15 "$TIMEOUT" "$f" 2> >(tee "$log" | sed 's/^/  . /' >&2) &
    echo $! >"$log.pid"
    r=0
    wait $! || r=$?
    echo "$r" >"$log.rc"
  ) | tee "$log.out" &
  CHILD=$!
  wait "$CHILD" || true
  CHILD=
  rc=$(cat "$log.rc" 2>/dev/null || echo 1)
  line=$(grep -E '^(PASS|FAIL) ' "$log.out" | tail -n 1 || true)
  cat "$log.out" >>"$log"
  rm -f "$log.out" "$log.rc" "$log.pid"
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    fail "bench/$name: timed out after ${TIMEOUT}s"
  elif [ -z "$line" ]; then
    fail "bench/$name: no result line (exit $rc)"
  elif [ "$rc" != 0 ] && [[ $line == PASS* ]]; then
    fail "bench/$name: exit $rc after: $line"
  else
    count "$line"
  fi
}

main() {
  local t=${1:-} f missing=() list
  if [ "$(id -u)" != 0 ]; then
    echo "FAIL bench: must run as root (network namespaces, iptables)"
    echo "0 passed, 1 failed"
    exit 1
  fi
  for f in "${TOOLS[@]}"; do command -v "$f" >/dev/null 2>&1 || missing+=("$f"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "FAIL bench: missing tool(s): ${missing[*]} (make deps)"
    echo "0 passed, 1 failed"
    exit 1
  fi
  mkdir -p "$OUT"
  trap on_signal INT TERM
  if [ -n "$t" ]; then
    list=$BDIR/$t.sh
    [ -f "$list" ] || { fail "bench: no tests/bench/$t.sh"; list=; }
  else
    list=$(benches)
  fi
  for f in $list; do run_bench "$f"; done
  sweep
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" = 0 ]
}

main "$@"
