#!/usr/bin/env bash
# tests/e2e/failover/_crash.sh - helpers of the scenarios where a backend's
# server process dies while its host lives (not a scenario: the runner skips
# files starting with "_"). Source after _lib.sh.
#
#   crash_nginx_master ROLE [PORT]    # nginx's master PID (its pid file)
#   crash_nginx_workers ROLE [PORT]   # its workers' PIDs, one a line
#   crash_kill_nginx ROLE [PORT]      # SIGKILL master and workers, by PID:
#                                     # the kernel closes their sockets
#   crash_kill_worker ROLE [PORT]     # SIGKILL the workers only: the master
#                                     # lives on and starts new ones
#   crash_cap_rcvbuf ROLE BYTES       # caps ROLE's TCP receive buffers
#   crash_lg_row                      # the logger's failover_events rows

# shellcheck disable=SC2034 # CRASH_KILLED is the scenarios'
crash_nginx_master() {
  local pidf=$TOPO_DIR/nginx-$1-${2:-80}/nginx.pid
  [ -s "$pidf" ] || return 1
  cat "$pidf"
}

crash_nginx_workers() {
  local m
  m=$(crash_nginx_master "$@") || return 1
  ps -o pid= --ppid "$m" | tr -d ' '
}

# Master first: once it is gone nothing starts a worker again, and with the
# last process the listening socket closes (probes are refused).
crash_kill_nginx() {
  local m w
  m=$(crash_nginx_master "$@") || result_fail "no nginx master on $1"
  w=$(crash_nginx_workers "$@")
  [ -n "$w" ] || result_fail "nginx on $1 has no worker"
  # shellcheck disable=SC2086 # one PID a word
  kill -KILL "$m" $w
  CRASH_KILLED="$m $w"
}

crash_kill_worker() {
  local w
  w=$(crash_nginx_workers "$@")
  [ -n "$w" ] || result_fail "nginx on $1 has no worker"
  # shellcheck disable=SC2086 # one PID a word
  kill -KILL $w
  CRASH_KILLED=$w
}

# The client's receive buffer bounds what the backend can send ahead of it:
# with the kernel's autotuning (up to 32 MiB here) nginx would have the
# whole file in flight long before the crash, which would then fall between
# two transactions instead of in the middle of the response.
crash_cap_rcvbuf() { topo_exec "$1" sysctl -qw net.ipv4.tcp_rmem="4096 131072 $2"; }

crash_lg_row() {
  sqlite3 -batch -noheader "$LG_DB" \
    "SELECT backend, outcome, detected_us, coalesce(detail, '') FROM failover_events ORDER BY rowid" 2>/dev/null
}

