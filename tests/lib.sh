#!/usr/bin/env bash
# tests/lib.sh - shared helpers for end-to-end scenarios (tests/e2e/GROUP/*.sh)
# and benchmarks.
#
#   source "$(dirname "$0")/../../lib.sh"
#   test_begin                    # name from the path: GROUP/SCENARIO
#   topo_up; topo_nginx b1        # (tests/net/topo.sh is sourced for you)
#   ...
#   t_check "download corrupted" sha_eq "$(topo_www_file 20M)" "$got"
#   result_pass "20 MiB at 900 MB/s"
#
# A scenario prints exactly one line on stdout, `PASS name: figures` or
# `FAIL name: reason`, and exits 0 or 1; everything else goes to stderr.
# test_begin installs traps: the test bed is torn down on every exit path,
# and an unexpected exit (set -e, signal) still prints a FAIL line.

set -euo pipefail

CRAFT_ROOT=${CRAFT_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
CRAFT_BIN=${CRAFT_BIN:-$CRAFT_ROOT/build/bin}
export CRAFT_ROOT CRAFT_BIN
# shellcheck source=tests/net/topo.sh
source "$CRAFT_ROOT/tests/net/topo.sh"

TEST_NAME=${TEST_NAME:-}
TEST_DONE=0
TEST_ERR_AT=

say() { printf '[%s] %s\n' "${TEST_NAME:-test}" "$*" >&2; }

# ---- result lines ------------------------------------------------------------

result_pass() {
  TEST_DONE=1
  printf 'PASS %s: %s\n' "$TEST_NAME" "$*"
  exit 0
}

result_fail() {
  TEST_DONE=1
  printf 'FAIL %s: %s\n' "$TEST_NAME" "$*"
  exit 1
}

# t_check REASON CMD...: runs CMD; FAIL with REASON when it fails.
t_check() {
  local reason=$1
  shift
  "$@" || result_fail "$reason"
}

test__on_err() { TEST_ERR_AT="line ${BASH_LINENO[0]}: ${BASH_COMMAND}"; }

test__on_exit() {
  local rc=$?
  trap - EXIT ERR
  set +e
  if declare -F test_cleanup >/dev/null; then test_cleanup; fi
  [ -n "${TOPO_PREFIX:-}" ] && topo_down
  if [ "$TEST_DONE" = 0 ]; then
    printf 'FAIL %s: unexpected exit %s%s\n' "$TEST_NAME" "$rc" \
      "${TEST_ERR_AT:+ at $TEST_ERR_AT}"
    rc=1
  fi
  exit "$rc"
}

test__on_signal() {
  TEST_ERR_AT="signal $1"
  exit 1
}

# test_begin: the name is GROUP/SCENARIO from the script path (or $TEST_NAME).
# Define test_cleanup() before or after to run extra teardown first.
test_begin() {
  local script=${BASH_SOURCE[1]:-$0}
  TEST_NAME=${TEST_NAME:-$(basename "$(dirname "$script")")/$(basename "$script" .sh)}
  [ "$(id -u)" = 0 ] || result_fail "must run as root"
  set -E
  trap test__on_err ERR
  trap test__on_exit EXIT
  trap 'test__on_signal TERM' TERM
  trap 'test__on_signal INT' INT
}

# ---- tools, binaries ---------------------------------------------------------

# require_tools TOOL...: FAIL naming the first missing tool.
require_tools() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || result_fail "missing tool: $t"
  done
}

# craft_path NAME: path of build/bin/craft-NAME.
craft_path() { printf '%s/craft-%s' "$CRAFT_BIN" "$1"; }

# require_bin NAME...: FAIL when build/bin/craft-NAME is not built.  Call it
# directly, never inside $(...), so the FAIL line reaches stdout.
require_bin() {
  local n
  for n in "$@"; do
    [ -x "$(craft_path "$n")" ] || result_fail "missing binary $(craft_path "$n") (run make)"
  done
}

# ---- time, numbers -----------------------------------------------------------

now_ms() { date +%s%3N; }

# fdiv A B [DECIMALS]: A/B as a decimal.
fdiv() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN { if (b == 0) print "nan"; else printf "%.*f\n", d, a / b }'; }

# fge A B: true when A >= B (floats).
fge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

# ---- bytes, hashes -----------------------------------------------------------

sha256_of() { sha256sum "$1" | awk '{print $1}'; }

# sha_eq FILE_A FILE_B: same size and sha256.
sha_eq() {
  [ -f "$1" ] && [ -f "$2" ] || return 1
  [ "$(stat -c %s "$1")" = "$(stat -c %s "$2")" ] || return 1
  [ "$(sha256_of "$1")" = "$(sha256_of "$2")" ]
}

# fetch ROLE URL OUT [CURL_OPTS...]: curl in ROLE's namespace; prints
# "http_code bytes seconds" and returns curl's exit status.
fetch() {
  local role=$1 url=$2 out=$3
  shift 3
  topo_exec "$role" curl -sS -o "$out" -w '%{http_code} %{size_download} %{time_total}\n' \
    --connect-timeout 5 "$@" "$url"
}

# upload ROLE URL FILE [CURL_OPTS...]: PUT FILE to tests/net/httpd.py;
# prints the server's "sha256 length" answer.
upload() {
  local role=$1 url=$2 file=$3
  shift 3
  topo_exec "$role" curl -sS -H 'Expect:' -T "$file" --connect-timeout 5 "$@" "$url"
}

# mbps BYTES SECONDS: MB/s (10^6 bytes).
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { if (s <= 0) print "inf"; else printf "%.0f\n", b / s / 1e6 }'; }

# ---- ports, daemons, stats ----------------------------------------------------

# wait_port ROLE ADDR PORT [TIMEOUT_S]
wait_port() { topo_wait_port "$@"; }

# wait_for TIMEOUT_S CMD...: polls CMD every 50 ms.
wait_for() {
  local t=$1 i
  shift
  for ((i = 0; i < t * 20; i++)); do
    "$@" && return 0
    sleep 0.05
  done
  return 1
}

# stats_get FILE NAME: value of "NAME value" in a daemon stats file (empty
# and status 1 when absent).
stats_get() {
  [ -f "$1" ] || return 1
  awk -v k="$2" '$1 == k { print $2; f = 1; exit } END { exit !f }' "$1"
}

# nfq_queue_line ROLE QUEUE: the /proc/net/netfilter/nfnetlink_queue line
# of QUEUE in ROLE's namespace (empty when no program is bound).  Fields:
# queue peer_portid queue_total copy_mode copy_range queue_dropped
# user_dropped id_sequence 1
nfq_queue_line() {
  topo_exec "$1" cat /proc/net/netfilter/nfnetlink_queue 2>/dev/null |
    awk -v q="$2" '$1 == q { print; exit }'
}

# nfq_queue_field ROLE QUEUE FIELD: FIELD is one of queue_total,
# queue_dropped, user_dropped, id_sequence (packets queued since bind).
nfq_queue_field() {
  local col
  case "$3" in
    queue_total) col=3 ;;
    queue_dropped) col=6 ;;
    user_dropped) col=7 ;;
    id_sequence) col=8 ;;
    *) return 2 ;;
  esac
  nfq_queue_line "$1" "$2" | awk -v c="$col" '{ print $c }'
}

nfq_queue_bound() { [ -n "$(nfq_queue_line "$1" "$2")" ]; }

# start_daemon ROLE NAME LOG ARGS...: starts build/bin/craft-NAME in ROLE's
# namespace; sets DAEMON_PID.
start_daemon() {
  local role=$1 name=$2 log=$3
  shift 3
  require_bin "$name"
  topo_start_bg "$role" "$log" "$(craft_path "$name")" "$@"
  # shellcheck disable=SC2034 # read by the scenarios
  DAEMON_PID=$TOPO_LAST_PID
}

# wait_daemon_queue ROLE QUEUE PID LOG [TIMEOUT_S]: waits until PID has bound
# QUEUE; FAILs with the log tail if it died or never bound.
wait_daemon_queue() {
  local role=$1 q=$2 pid=$3 log=$4 t=${5:-5} i
  for ((i = 0; i < t * 20; i++)); do
    nfq_queue_bound "$role" "$q" && return 0
    kill -0 "$pid" 2>/dev/null || result_fail "daemon exited before binding queue $q: $(tail -n 3 "$log" | tr '\n' ' ')"
    sleep 0.05
  done
  result_fail "daemon did not bind queue $q within ${t}s: $(tail -n 3 "$log" | tr '\n' ' ')"
}

# cpu_ticks PID: utime+stime of PID in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
clk_tck() { getconf CLK_TCK; }

# ipt_pkts ROLE TABLE CHAIN PATTERN: packet counter of the first rule in
# CHAIN whose `iptables -S`-free listing line matches PATTERN (awk regex).
ipt_pkts() {
  topo_exec "$1" iptables -w -t "$2" -n -v -x -L "$3" 2>/dev/null |
    awk -v p="$4" 'NR > 2 && $0 ~ p { print $1; f = 1; exit } END { if (!f) print 0 }'
}

# if_bytes ROLE IFACE rx|tx
if_bytes() { topo_exec "$1" cat "/sys/class/net/$2/statistics/$3_bytes"; }

# snmp_get ROLE PROTO FIELD: a counter from ROLE's /proc/net/snmp, e.g.
# snmp_get lb Ip ForwDatagrams, snmp_get cl Tcp RetransSegs.
# shellcheck disable=SC2016 # awk program
snmp_get() {
  topo_exec "$1" awk -v p="$2:" -v f="$3" '$1 == p {
      if (!h) { for (i = 2; i <= NF; i++) c[$i] = i; h = 1 } else { print (f in c) ? $c[f] : ""; exit } }' /proc/net/snmp
}
