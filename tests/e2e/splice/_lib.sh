#!/usr/bin/env bash
# tests/e2e/splice/_lib.sh - helpers of the `splice` group (not a scenario).
#
#   source "$(dirname "$0")/_lib.sh"      # also sources tests/lib.sh
#   test_begin
#   px_setup                              # test bed, nginx b1:80, httpd.py b1:8000, proxy on p1
#   ...
#
# Before px_setup a scenario may set:
#   PX_PROXY_EXTRA   lines appended to the [proxy] section (e.g. "max_head = 4096")
#   PX_SPLICE_EXTRA  lines appended to the [splice] section (e.g. "linger = 1s")
#   PX_BEFORE_PROXY  name of a function run after the servers start and before
#                    the proxy starts (sysctls, loss rules, ...)
# After px_setup: VIP, PX_CONF, PX_STATS, PX_LOG, PX_PID, PX_URL (http://VIP).
# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../lib.sh"

PX_ROLE=p1
PX_QUEUE=0
PX_PROXY_EXTRA=${PX_PROXY_EXTRA:-}
PX_SPLICE_EXTRA=${PX_SPLICE_EXTRA:-}
PX_BEFORE_PROXY=${PX_BEFORE_PROXY:-}
# shellcheck disable=SC2034 # used by the scenarios
MiB=$((1024 * 1024))

# px_write_conf: the proxy configuration: web -> nginx b1:80 (default pool),
# /upload -> httpd.py b1:8000.
px_write_conf() {
  local b1
  b1=$(topo_addr b1)
  {
    echo "[proxy]"
    echo "id = 1"
    [ -n "$PX_PROXY_EXTRA" ] && printf '%s\n' "$PX_PROXY_EXTRA"
    echo "[splice]"
    [ -n "$PX_SPLICE_EXTRA" ] && printf '%s\n' "$PX_SPLICE_EXTRA"
    echo "[routing]"
    echo "backend = web $b1:80"
    echo "backend = py $b1:8000"
    echo "route = * /upload py"
    echo "default_pool = web"
  } >"$PX_CONF"
}

px_setup() {
  require_tools curl nginx iptables sha256sum ss python3 timeout
  require_bin proxy
  topo_up
  topo_www
  topo_nginx b1
  topo_pyhttp b1 8000
  VIP=$(topo_addr vip)
  PX_URL=http://$VIP
  PX_CONF=$TOPO_DIR/proxy.conf
  PX_STATS=$TOPO_DIR/proxy.stats
  PX_LOG=$TOPO_DIR/proxy.log
  px_write_conf
  local out
  out=$(topo_exec "$PX_ROLE" "$(craft_path proxy)" -c "$PX_CONF" --check-config 2>&1) ||
    result_fail "proxy config rejected: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
  if [ -n "$PX_BEFORE_PROXY" ]; then "$PX_BEFORE_PROXY"; fi
  t_check "rules/proxy.sh up failed" topo_exec "$PX_ROLE" "$CRAFT_ROOT/rules/proxy.sh" up --queue "$PX_QUEUE"
  start_daemon "$PX_ROLE" proxy "$PX_LOG" -c "$PX_CONF" --stats-file "$PX_STATS"
  PX_PID=$DAEMON_PID
  wait_daemon_queue "$PX_ROLE" "$PX_QUEUE" "$PX_PID" "$PX_LOG"
  topo_wait_port "$PX_ROLE" "$VIP" 80 5 || result_fail "proxy does not listen on $VIP:80: $(px_log_tail)"
  wait_for 5 test -s "$PX_STATS" || result_fail "proxy wrote no stats file: $(px_log_tail)"
}

# px_log_tail [N]: the last N (3) lines of the proxy's log on one line.
px_log_tail() { tail -n "${1:-3}" "$PX_LOG" 2>/dev/null | tr '\n' ' '; }

# px_alive: the daemon still runs.
px_alive() { kill -0 "$PX_PID" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$PX_PID/stat" 2>/dev/null)" != Z ]; }

# px_require_alive WHAT: FAIL when the daemon died.
px_require_alive() {
  px_alive || result_fail "proxy died $1: $(px_log_tail 5)"
}

# px_stat NAME: a counter from the proxy's stats file; "missing:NAME" when
# the daemon does not report it (so that no comparison passes by accident).
px_stat() { stats_get "$PX_STATS" "$1" 2>/dev/null || echo "missing:$1"; }

# px_stat_cmp NAME OP VALUE: compares a counter (OP: -eq -ge -gt -le -lt).
px_stat_cmp() {
  local v
  v=$(px_stat "$1")
  [[ $v =~ ^[0-9]+$ ]] || return 1
  case "$2" in
    -eq) [ "$v" -eq "$3" ] ;;
    -ge) [ "$v" -ge "$3" ] ;;
    -gt) [ "$v" -gt "$3" ] ;;
    -le) [ "$v" -le "$3" ] ;;
    -lt) [ "$v" -lt "$3" ] ;;
    *) return 2 ;;
  esac
}

# px_wait_stat TIMEOUT_S NAME OP VALUE: waits until the (once a second
# rewritten) stats file shows NAME OP VALUE.
px_wait_stat() {
  local t=$1
  shift
  wait_for "$t" px_stat_cmp "$@"
}

# px_stop: SIGTERM; FAIL unless the daemon exits 0.  The stats file then
# holds the final counters.
px_stop() {
  local rc=0
  topo_stop "$PX_PID" TERM 5 || rc=$?
  [ "$rc" = 0 ] || result_fail "proxy exit status $rc on SIGTERM (want 0): $(px_log_tail)"
}

# px_get NAME [CURL_OPTS...]: GET http://VIP/NAME from cl, checks HTTP 200
# and sha256 against the served file; sets GET_MBPS.
px_get() {
  local name=$1 out r code bytes secs
  shift
  out=$TOPO_DIR/recv.$name.$$
  r=$(fetch cl "$PX_URL/$name" "$out" --max-time 30 "$@") || result_fail "GET /$name through the proxy failed: curl ${r:-?} $(px_log_tail)"
  read -r code bytes secs <<<"$r"
  [ "$code" = 200 ] || result_fail "GET /$name: HTTP $code"
  sha_eq "$(topo_www_file "$name")" "$out" || result_fail "GET /$name: sha256 mismatch ($bytes bytes)"
  # shellcheck disable=SC2034 # read by the scenarios
  GET_MBPS=$(mbps "$bytes" "$secs")
  rm -f "$out"
}

# px_put FILE [CURL_OPTS...]: PUT FILE to http://VIP/upload (-> httpd.py on
# b1), checks the sha256 and length the server saw; sets PUT_MBPS.  The body
# follows the head at once (no Expect), so whatever reaches the proxy before
# the splice is read by its socket and injected; with PX_PUT_EXPECT=1 curl
# sends "Expect: 100-continue" and waits for the backend's 100 Continue,
# which comes through the splice, so the whole body crosses the splice.
px_put() {
  local file=$1 r sum len t0 t1 size
  shift
  size=$(stat -c %s "$file")
  t0=$(now_ms)
  if [ "${PX_PUT_EXPECT:-0}" = 1 ]; then
    r=$(topo_exec cl curl -sS -H 'Expect: 100-continue' --expect100-timeout 10 -T "$file" \
      --connect-timeout 5 --max-time 30 "$@" "$PX_URL/upload") || result_fail "PUT /upload through the proxy failed: ${r:-?} $(px_log_tail)"
  else
    r=$(upload cl "$PX_URL/upload" "$file" --max-time 30 "$@") || result_fail "PUT /upload through the proxy failed: ${r:-?} $(px_log_tail)"
  fi
  t1=$(now_ms)
  read -r sum len <<<"$r"
  if [ "$sum" != "$(sha256_of "$file")" ] || [ "$len" != "$size" ]; then
    result_fail "PUT /upload: server saw sha256 ${sum:-?} len ${len:-?} (sent $size bytes)"
  fi
  # shellcheck disable=SC2034 # read by the scenarios
  PUT_MBPS=$(mbps "$size" "$(fdiv $((t1 - t0)) 1000 3)")
}

# px_nstat ROLE COUNTER: absolute value of a kernel counter in ROLE's
# namespace (nstat -azs: history ignored and not updated); fails when the
# kernel has no such counter.
px_nstat() {
  topo_exec "$1" nstat -azs "$2" 2>/dev/null | awk -v k="$2" '$1 == k { print $2; f = 1 } END { exit !f }'
}

# test_cleanup (called by the EXIT trap of tests/lib.sh before the teardown):
# the proxy's log tail and last counters go to stderr, i.e. into
# build/test-logs/splice/NAME.log, before $TOPO_DIR disappears.
test_cleanup() {
  [ -n "${PX_LOG:-}" ] && [ -f "$PX_LOG" ] || return 0
  {
    echo "--- proxy log (last 20 lines) ---"
    tail -n 20 "$PX_LOG"
    [ -f "$PX_STATS" ] && echo "--- proxy stats: $(tr '\n' ' ' <"$PX_STATS")"
  } >&2
  return 0
}
