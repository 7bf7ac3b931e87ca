#!/usr/bin/env bash
# tests/run.sh [T] - the test runner behind `make test`.
#
#   tests/run.sh                    unit, asan, then every e2e group
#   tests/run.sh unit | asan        the Check unit tests (plain / ASan+UBSan)
#   tests/run.sh GROUP              every tests/e2e/GROUP/*.sh, sorted
#   tests/run.sh GROUP/SCENARIO     one scenario
#
# E2E groups run in the order foundation splice lb logger failover tni (those
# that exist), then any other group alphabetically.  Scenario files whose
# name starts with "_" are helpers, not scenarios.  Each item prints one
# line, `PASS name: ...` or `FAIL name: reason` (failures add the tail of
# their log, indented); the last line is `N passed, N failed`; the exit
# status is non-zero when anything failed.  Full logs: build/test-logs/.
#
# Environment: CRAFT_TEST_TIMEOUT (seconds per scenario, default 240; a
# scenario that needs longer says so in a line "# test-timeout: SECONDS",
# used unless CRAFT_TEST_TIMEOUT is set).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
E2E_DIR=$ROOT/tests/e2e
E2E_ORDER=(foundation splice lb logger failover tni)
E2E_TOOLS=(ip iptables curl nginx lighttpd python3 sha256sum ss timeout awk od)
LOGDIR=${CRAFT_TEST_LOGS:-$ROOT/build/test-logs}
PASSED=0
FAILED=0
CHILD=
T0=$(date +%s)

CRAFT_RUN_TAG=${CRAFT_RUN_TAG:-cr$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')}
export CRAFT_RUN_TAG CRAFT_ROOT=$ROOT

record() {
  echo "$1"
  case "$1" in
    PASS\ *) PASSED=$((PASSED + 1)) ;;
    *) FAILED=$((FAILED + 1)) ;;
  esac
}

show_tail() {
  [ -s "$1" ] || return 0
  tail -n "${2:-15}" "$1" | sed 's/^/    | /'
}

summary() {
  echo "run: $(($(date +%s) - T0)) s, logs in ${LOGDIR#"$ROOT"/}" >&2
  echo "$PASSED passed, $FAILED failed"
}

# ---- leftovers -------------------------------------------------------------

our_namespaces() { ip netns list 2>/dev/null | awk '{print $1}' | grep "^$CRAFT_RUN_TAG" || true; }

# Kills (by PID) whatever still runs in this run's namespaces, deletes them.
sweep() {
  local ns pid
  for ns in $(our_namespaces); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "${TMPDIR:-/tmp}/craft-topo-$CRAFT_RUN_TAG"*
}

check_leftovers() {
  local left
  left=$(our_namespaces | tr '\n' ' ')
  if [ -n "$left" ]; then
    record "FAIL run: leftover namespaces: $left"
  fi
  sweep
}

on_signal() {
  trap - INT TERM
  if [ -n "$CHILD" ]; then
    kill -TERM "$CHILD" 2>/dev/null || true
    wait "$CHILD" 2>/dev/null || true
  fi
  record "FAIL run: interrupted"
  sweep
  summary
  exit 1
}

# ---- unit --------------------------------------------------------------------

# run_check_binary NAME BIN LOG: runs a Check runner, records one line.
run_check_binary() {
  local name=$1 bin=$2 log=$3 rc=0 line
  if [ ! -x "$bin" ]; then
    record "FAIL $name: missing $bin (run make)"
    return
  fi
  CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-30} "$bin" >"$log" 2>&1 &
  CHILD=$!
  wait "$CHILD" || rc=$?
  CHILD=
  line=$(grep -E '^[0-9]+%: Checks' "$log" | tail -n 1 || true)
  if [ "$rc" = 0 ]; then
    record "PASS $name: ${line:-exit 0}"
  else
    record "FAIL $name: exit $rc${line:+, $line}"
    show_tail "$log"
  fi
}

run_unit() {
  mkdir -p "$LOGDIR"
  run_check_binary unit "$ROOT/build/bin/unit-tests" "$LOGDIR/unit.log"
}

run_asan() {
  mkdir -p "$LOGDIR"
  local log=$LOGDIR/asan.log
  if ! make -C "$ROOT" --no-print-directory asan >"$LOGDIR/asan-build.log" 2>&1; then
    record "FAIL asan: make asan failed"
    show_tail "$LOGDIR/asan-build.log"
    return
  fi
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    run_check_binary asan "$ROOT/build/asan/bin/unit-tests" "$log"
}

# ---- e2e -------------------------------------------------------------------

e2e_groups() {
  local g d known
  for g in "${E2E_ORDER[@]}"; do
    [ -d "$E2E_DIR/$g" ] && echo "$g"
  done
  for d in "$E2E_DIR"/*/; do
    [ -d "$d" ] || continue
    g=$(basename "$d")
    known=0
    for k in "${E2E_ORDER[@]}"; do [ "$k" = "$g" ] && known=1; done
    [ "$known" = 1 ] || echo "$g"
  done
}

group_scenarios() {
  local f
  for f in "$E2E_DIR/$1"/*.sh; do
    [ -f "$f" ] || continue
    case "$(basename "$f")" in _*) continue ;; esac
    echo "$f"
  done | sort
}

E2E_TOOLS_OK=
check_e2e_tools() {
  [ -n "$E2E_TOOLS_OK" ] && { [ "$E2E_TOOLS_OK" = yes ]; return; }
  local t missing=()
  for t in "${E2E_TOOLS[@]}"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
  if [ ${#missing[@]} -gt 0 ]; then
    E2E_TOOLS_OK=no
    record "FAIL run: missing tool(s) for e2e: ${missing[*]} (make deps)"
    return 1
  fi
  E2E_TOOLS_OK=yes
}

# run_scenario FILE: one result line from the scenario's stdout.
run_scenario() {
  local f=$1 g s name log out rc=0 lines n own
  own=$(sed -n 's/^# test-timeout: *\([0-9][0-9]*\).*$/\1/p' "$f" | head -n 1)
  local TIMEOUT=${CRAFT_TEST_TIMEOUT:-${own:-240}}
  g=$(basename "$(dirname "$f")")
  s=$(basename "$f" .sh)
  name=$g/$s
  mkdir -p "$LOGDIR/$g"
  log=$LOGDIR/$g/$s.log
  out=$LOGDIR/$g/$s.out
  check_e2e_tools || return 0
  if [ ! -x "$f" ]; then
    record "FAIL $name: $f is not executable"
    return
  fi
  timeout -k 15 "$TIMEOUT" "$f" >"$out" 2>"$log" &
  CHILD=$!
  wait "$CHILD" || rc=$?
  CHILD=
  lines=$(grep -E '^(PASS|FAIL) ' "$out" || true)
  n=$(printf '%s' "$lines" | grep -c . || true)
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    record "FAIL $name: timed out after ${TIMEOUT}s"
  elif [ "$n" = 0 ]; then
    record "FAIL $name: no result line (exit $rc)"
  elif [ "$n" -gt 1 ]; then
    record "FAIL $name: $n result lines (want exactly one)"
  elif [ "$rc" = 0 ] && [[ $lines == PASS\ * ]]; then
    record "$lines"
    return
  elif [ "$rc" = 0 ]; then
    record "FAIL $name: exit 0 but result line is: $lines"
  elif [[ $lines == FAIL* ]]; then
    record "$lines"
  else
    record "FAIL $name: exit $rc after: $lines"
  fi
  cat "$out" >>"$log"
  show_tail "$log"
}

run_group() {
  local f any=0
  for f in $(group_scenarios "$1"); do
    any=1
    run_scenario "$f"
  done
  [ "$any" = 1 ] || record "FAIL $1: no scenarios in tests/e2e/$1"
}

# ---- main ------------------------------------------------------------------

main() {
  local t=${1:-} g
  if [ "$(id -u)" != 0 ]; then
    echo "FAIL run: must run as root (network namespaces, iptables); try: sudo make test"
    echo "0 passed, 1 failed"
    exit 1
  fi
  trap on_signal INT TERM
  case "$t" in
    "")
      run_unit
      run_asan
      for g in $(e2e_groups); do run_group "$g"; done
      ;;
    unit) run_unit ;;
    asan) run_asan ;;
    */*)
      if [ -f "$E2E_DIR/$t.sh" ]; then
        run_scenario "$E2E_DIR/$t.sh"
      else
        record "FAIL run: no scenario tests/e2e/$t.sh"
      fi
      ;;
    *)
      if [ -d "$E2E_DIR/$t" ]; then
        run_group "$t"
      else
        record "FAIL run: unknown test '$t' (unit, asan, $(e2e_groups | tr '\n' ' ')or GROUP/SCENARIO)"
      fi
      ;;
  esac
  check_leftovers
  summary
  [ "$FAILED" = 0 ]
}

main "$@"
