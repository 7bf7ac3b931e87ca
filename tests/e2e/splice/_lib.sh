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

# ---- two proxies (cluster, replication), split splice ----------------------
#
#   px2_setup                  # test bed, servers on b1, craft-proxy on p1 and p2
#   px2_alternate lb vip       # client segments alternate between the proxies
#   px2_alternate lg ivip      # backend segments alternate between the proxies
#   sd_setup                   # craft-splitd on b1 (needs PX2_SPLITD=1 before px2_setup)
#
# Before px2_setup a scenario may set:
#   PX2_ROUTING_EXTRA  lines appended to the [routing] section
#   PX2_SPLITD=1       the proxies list b1's agent (id 11) as a replication peer
# After px2_setup: VIP, PX_URL, PX2_KEY, PX2_CONF[i], PX2_STATS[i], PX2_LOG[i],
# PX2_PID[i] (i = 1, 2); PX_STATS/PX_LOG/PX_PID name proxy 1, so px_get,
# px_put and px_log_tail work unchanged.  sd_setup sets SD_CONF, SD_STATS,
# SD_LOG, SD_PID.
PX2_ROUTING_EXTRA=${PX2_ROUTING_EXTRA:-}
PX2_SPLITD=${PX2_SPLITD:-0}
PX2_REPL_PORT=7300
declare -ga PX2_CONF=() PX2_STATS=() PX2_LOG=() PX2_PID=()
SD_LOG=

# px2_ports ID: "MIN MAX", the backend port range of proxy ID.
px2_ports() { echo "$(($1 * 10000 + 10000)) $(($1 * 10000 + 19999))"; }

# px2_peer_lines: the [replication] peer lines shared by every host.
px2_peer_lines() {
  echo "peer = p1 $(topo_addr p1):$PX2_REPL_PORT proxy id=1"
  echo "peer = p2 $(topo_addr p2):$PX2_REPL_PORT proxy id=2"
  if [ "$PX2_SPLITD" = 1 ]; then echo "peer = b1 $(topo_addr b1):$PX2_REPL_PORT backend id=11"; fi
}

# px2_write_conf ID: proxy ID's configuration (routing as px_write_conf,
# plus PX2_ROUTING_EXTRA; cluster of p1 and p2; replication).
px2_write_conf() {
  local i=$1 b1 pmin pmax j
  b1=$(topo_addr b1)
  read -r pmin pmax <<<"$(px2_ports "$i")"
  {
    echo "[proxy]"
    echo "id = $i"
    echo "backend_port_min = $pmin"
    echo "backend_port_max = $pmax"
    echo "[routing]"
    echo "backend = web $b1:80"
    echo "backend = py $b1:8000"
    [ -n "$PX2_ROUTING_EXTRA" ] && printf '%s\n' "$PX2_ROUTING_EXTRA"
    echo "route = * /upload py"
    echo "default_pool = web"
    echo "[cluster]"
    for j in 1 2; do echo "proxy = $j $(topo_addr "p$j") $(px2_ports "$j" | tr ' ' -)"; done
    echo "[replication]"
    echo "listen = $(topo_addr "p$i"):$PX2_REPL_PORT"
    echo "key_file = $PX2_KEY"
    px2_peer_lines
  } >"${PX2_CONF[$i]}"
}

# px2_start ID: rules/proxy.sh (redirect routes to the other proxy) and the
# daemon on p$ID; waits for its queue, the VIP listener and the stats file.
px2_start() {
  local i=$1 r=p$1 pmin pmax out
  read -r pmin pmax <<<"$(px2_ports "$i")"
  out=$(topo_exec "$r" "$(craft_path proxy)" -c "${PX2_CONF[$i]}" --check-config 2>&1) ||
    result_fail "$r: proxy config rejected: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
  t_check "$r: rules/proxy.sh up failed" topo_exec "$r" "$CRAFT_ROOT/rules/proxy.sh" up --queue "$PX_QUEUE" \
    --self "$i" --peers "1=$(topo_addr p1),2=$(topo_addr p2)" --port-min "$pmin" --port-max "$pmax"
  start_daemon "$r" proxy "${PX2_LOG[$i]}" -c "${PX2_CONF[$i]}" --stats-file "${PX2_STATS[$i]}"
  PX2_PID[i]=$DAEMON_PID
  wait_daemon_queue "$r" "$PX_QUEUE" "${PX2_PID[$i]}" "${PX2_LOG[$i]}"
  topo_wait_port "$r" "$VIP" 80 5 || result_fail "$r: proxy does not listen on $VIP:80: $(px2_log_tail "$i")"
  wait_for 5 test -s "${PX2_STATS[$i]}" || result_fail "$r: proxy wrote no stats file: $(px2_log_tail "$i")"
}

px2_setup() {
  local i
  require_tools curl nginx iptables ip sha256sum ss python3 timeout od
  require_bin proxy
  topo_up
  topo_www
  topo_nginx b1
  topo_pyhttp b1 8000
  VIP=$(topo_addr vip)
  PX_URL=http://$VIP
  PX2_KEY=$TOPO_DIR/cluster.key
  (umask 077 && od -An -v -tx1 -N32 /dev/urandom | tr -d ' \n' >"$PX2_KEY" && echo >>"$PX2_KEY")
  for i in 1 2; do
    PX2_CONF[i]=$TOPO_DIR/p$i.conf
    PX2_STATS[i]=$TOPO_DIR/p$i.stats
    PX2_LOG[i]=$TOPO_DIR/p$i.log
    px2_write_conf "$i"
  done
  for i in 1 2; do px2_start "$i"; done
  PX_CONF=${PX2_CONF[1]}
  PX_STATS=${PX2_STATS[1]}
  PX_LOG=${PX2_LOG[1]}
  PX_PID=${PX2_PID[1]}
}

# px2_log_tail ID [N]: the last N (3) lines of proxy ID's log on one line.
px2_log_tail() { tail -n "${2:-3}" "${PX2_LOG[$1]}" 2>/dev/null | tr '\n' ' '; }

# px2_stat ID NAME: a counter of proxy ID ("missing:NAME" when absent).
px2_stat() { stats_get "${PX2_STATS[$1]}" "$2" 2>/dev/null || echo "missing:$2"; }

# px2_sum NAME: NAME on p1 + NAME on p2 (-1 when either lacks it).
px2_sum() {
  local a b
  a=$(px2_stat 1 "$1")
  b=$(px2_stat 2 "$1")
  if [[ $a =~ ^[0-9]+$ && $b =~ ^[0-9]+$ ]]; then echo $((a + b)); else echo -1; fi
}

# px2_stat_cmp ID NAME OP VALUE / px2_wait_stat TIMEOUT_S ID NAME OP VALUE:
# px_stat_cmp / px_wait_stat on proxy ID's stats file.
px2_stat_cmp() {
  local PX_STATS=${PX2_STATS[$1]}
  shift
  px_stat_cmp "$@"
}
px2_wait_stat() {
  local t=$1
  shift
  wait_for "$t" px2_stat_cmp "$@"
}

# px2_require_alive WHAT: FAIL when a proxy died.
px2_require_alive() {
  local i
  for i in 1 2; do
    if ! kill -0 "${PX2_PID[$i]}" 2>/dev/null || [ "$(awk '{print $3}' "/proc/${PX2_PID[$i]}/stat" 2>/dev/null)" = Z ]; then
      result_fail "proxy p$i died $1: $(px2_log_tail "$i" 5)"
    fi
  done
}

# px2_stop: SIGTERM to both proxies; FAIL unless both exit 0 (the stats
# files then hold the final counters).
px2_stop() {
  local i rc
  for i in 1 2; do
    rc=0
    topo_stop "${PX2_PID[$i]}" TERM 5 || rc=$?
    [ "$rc" = 0 ] || result_fail "proxy p$i exit status $rc on SIGTERM (want 0): $(px2_log_tail "$i")"
  done
}

# px2_alternate ROLE vip|ivip: in ROLE (lb or lg) every second packet to the
# VIP (or IVIP) is routed via p2 instead of p1 (mark 2, table 2).
px2_alternate() {
  local role=$1 dst
  dst=$(topo_addr "$2")
  t_check "$role: cannot alternate $dst between the proxies" topo_exec "$role" \
    iptables -w -t mangle -A PREROUTING -d "$dst/32" -m statistic --mode nth --every 2 --packet 0 \
    -m comment --comment px2-alternate -j MARK --set-mark 2
  topo_exec "$role" ip rule show | grep -q 'fwmark 0x2 lookup 2' ||
    t_check "$role: ip rule" topo_exec "$role" ip rule add fwmark 2 table 2
  t_check "$role: ip route" topo_exec "$role" ip route replace "$dst/32" via "$(topo_addr p2)" table 2
}

# px2_alternated ROLE: packets the px2-alternate rule sent via p2.
px2_alternated() { ipt_pkts "$1" mangle PREROUTING px2-alternate; }

# sd_setup: craft-splitd on b1 (replication id 11, same key and peers) with
# rules/backend.sh for nginx on b1:80; waits for its queue and stats.
sd_setup() {
  local b1 out
  require_bin splitd
  b1=$(topo_addr b1)
  SD_CONF=$TOPO_DIR/b1-splitd.conf
  SD_STATS=$TOPO_DIR/b1-splitd.stats
  SD_LOG=$TOPO_DIR/b1-splitd.log
  {
    echo "[replication]"
    echo "id = 11"
    echo "listen = $b1:$PX2_REPL_PORT"
    echo "key_file = $PX2_KEY"
    px2_peer_lines
  } >"$SD_CONF"
  out=$(topo_exec b1 "$(craft_path splitd)" -c "$SD_CONF" --check-config 2>&1) ||
    result_fail "splitd config rejected: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
  t_check "b1: rules/backend.sh up failed" topo_exec b1 "$CRAFT_ROOT/rules/backend.sh" up --addr "$b1" --port 80
  start_daemon b1 splitd "$SD_LOG" -c "$SD_CONF" --stats-file "$SD_STATS"
  SD_PID=$DAEMON_PID
  wait_daemon_queue b1 0 "$SD_PID" "$SD_LOG"
  wait_for 5 test -s "$SD_STATS" || result_fail "splitd wrote no stats file: $(tail -n 3 "$SD_LOG" | tr '\n' ' ')"
}

# sd_stat NAME: a counter of craft-splitd ("missing:NAME" when absent).
sd_stat() { stats_get "$SD_STATS" "$1" 2>/dev/null || echo "missing:$1"; }

# sd_wait_stat TIMEOUT_S NAME OP VALUE: px_wait_stat on the agent's stats.
sd_stat_cmp() {
  local PX_STATS=$SD_STATS
  px_stat_cmp "$@"
}
sd_wait_stat() {
  local t=$1
  shift
  wait_for "$t" sd_stat_cmp "$@"
}

# sd_stop: SIGTERM to craft-splitd; FAIL unless it exits 0.
sd_stop() {
  local rc=0
  topo_stop "$SD_PID" TERM 5 || rc=$?
  [ "$rc" = 0 ] || result_fail "splitd exit status $rc on SIGTERM (want 0): $(tail -n 3 "$SD_LOG" | tr '\n' ' ')"
}

# px2_cleanup: like test_cleanup, for both proxies and the agent (a
# scenario using px2_setup defines test_cleanup() { px2_cleanup; }).
px2_cleanup() {
  local i f
  {
    for i in 1 2; do
      f=${PX2_LOG[$i]:-}
      if [ -z "$f" ] || [ ! -f "$f" ]; then continue; fi
      echo "--- proxy p$i log (last 20 lines) ---"
      tail -n 20 "$f"
      [ -f "${PX2_STATS[$i]}" ] && echo "--- proxy p$i stats: $(tr '\n' ' ' <"${PX2_STATS[$i]}")"
    done
    if [ -n "$SD_LOG" ] && [ -f "$SD_LOG" ]; then
      echo "--- splitd b1 log (last 20 lines) ---"
      tail -n 20 "$SD_LOG"
      [ -f "$SD_STATS" ] && echo "--- splitd b1 stats: $(tr '\n' ' ' <"$SD_STATS")"
    fi
  } >&2
  return 0
}
