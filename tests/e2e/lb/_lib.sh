#!/usr/bin/env bash
# tests/e2e/lb/_lib.sh - helpers of the `lb` group (not a scenario).
#
#   source "$(dirname "$0")/_lib.sh"     # also sources tests/lib.sh
#   test_begin
#   lb_bed                               # test bed, www files, cluster key
#   lb_write_conf "$TOPO_DIR/lb.conf" flow-hash
#   lb_start "$TOPO_DIR/lb.conf"         # rules/lb.sh up + craft-lb in lb
#   hb_start p1 1; hb_start p2 2; lb_wait_live 2
#
# Targets. The issue's tests 1-3 run against the real craft-proxy on p1 and
# p2 (lb_craft_proxies: replicated splices, heartbeats to the lb and to each
# other). The scenarios that test the load balancer alone (membership,
# distribution, statelessness) use two simpler targets that need no splice:
#   - flow-hash: a server bound to the VIP on p1 AND on p2 (each connection
#     must stay on one of them, which is what flow-hash promises);
#   - weighted (per-packet/burst spraying): a server bound to the VIP on p1,
#     and p2 RELAYING every packet for that port to p1 at L3 (lb_relay): the
#     test-bed stand-in for "any proxy forwards any spliced segment".
# craft-heartbeat plays each proxy's heartbeat sender (the same
# heartbeat_sender module craft-proxy is to call).
#
# Settings (set before the calls): LB_HB_INTERVAL (100ms), LB_EXTRA_LB and
# LB_EXTRA_HB (lines for [lb] / [heartbeat]), LB_RULES_EXTRA (options for
# rules/lb.sh), LB_ROLE (lb), LB_LISTEN (lb's proxy-side address),
# LB_FAIL_CLOSED=yes (rules --fail-closed, and the daemon drops what is still
# queued at shutdown instead of accepting it unmarked).
# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../lib.sh"

# shellcheck disable=SC2034 # used by the scenarios
MiB=$((1024 * 1024))
LB_DIR=$CRAFT_ROOT/tests/e2e/lb
LB_ROLE=${LB_ROLE:-lb}
LB_QUEUE=${LB_QUEUE:-0}
LB_HB_PORT=7401
LB_HB_INTERVAL=${LB_HB_INTERVAL:-100ms}
LB_EXTRA_LB=${LB_EXTRA_LB:-}
LB_EXTRA_HB=${LB_EXTRA_HB:-}
LB_RULES_EXTRA=${LB_RULES_EXTRA:-}
declare -gA HB_PID=()

lb_bed() {
  require_tools curl python3 iptables ip ss sha256sum timeout
  require_bin lb heartbeat
  topo_up
  topo_www
  VIP=$(topo_addr vip)
  LB_LISTEN=${LB_LISTEN:-$(topo_addr lb-in)}
  LB_KEY=$TOPO_DIR/cluster.key
  LB_BADKEY=$TOPO_DIR/other.key
  (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$LB_KEY" && echo >>"$LB_KEY")
  (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$LB_BADKEY" && echo >>"$LB_BADKEY")
}

# lb_write_conf FILE MODE [VIP] [RANGES]: a craft-lb config for proxies 1
# (p1) and 2 (p2); RANGES=yes adds their IVIP port ranges.
lb_write_conf() {
  local f=$1 mode=$2 vip=${3:-$VIP} ranges=${4:-}
  local r1="" r2=""
  if [ "$ranges" = yes ]; then
    r1=" 20000-24999"
    r2=" 25000-29999"
  fi
  {
    echo "[queue]"
    echo "num = $LB_QUEUE"
    if [ "${LB_FAIL_CLOSED:-}" = yes ]; then
      echo "fail_open = no"
      echo "shutdown_verdict = drop"
    fi
    echo "[daemon]"
    echo "stats_interval = 100ms"
    echo "[lb]"
    echo "vip = $vip"
    echo "mode = $mode"
    if [ -n "$LB_EXTRA_LB" ]; then printf '%s\n' "$LB_EXTRA_LB"; fi
    echo "[cluster]"
    echo "proxy = 1 $(topo_addr p1)$r1"
    echo "proxy = 2 $(topo_addr p2)$r2"
    echo "[heartbeat]"
    echo "listen = $LB_LISTEN:$LB_HB_PORT"
    echo "interval = $LB_HB_INTERVAL"
    echo "key_file = $LB_KEY"
    if [ -n "$LB_EXTRA_HB" ]; then printf '%s\n' "$LB_EXTRA_HB"; fi
  } >"$f"
}

# lb_start CONF [NAME]: rules + daemon; sets LB_PID, LB_LOG, LB_STATS, LB_CONF.
lb_start() {
  LB_CONF=$1
  local name=${2:-lb}
  LB_LOG=$TOPO_DIR/$name.log
  LB_STATS=$TOPO_DIR/$name.stats
  local extra=$LB_RULES_EXTRA
  [ "${LB_FAIL_CLOSED:-}" = yes ] && extra+=" --fail-closed"
  # shellcheck disable=SC2086 # extra options are words
  t_check "rules/lb.sh up failed" topo_exec "$LB_ROLE" "$CRAFT_ROOT/rules/lb.sh" up --config "$LB_CONF" $extra
  start_daemon "$LB_ROLE" lb "$LB_LOG" -c "$LB_CONF" --stats-file "$LB_STATS"
  LB_PID=$DAEMON_PID
  wait_daemon_queue "$LB_ROLE" "$LB_QUEUE" "$LB_PID" "$LB_LOG"
  wait_for 5 test -s "$LB_STATS" || result_fail "craft-lb wrote no stats file: $(lb_log_tail)"
}

lb_log_tail() { tail -n "${1:-3}" "$LB_LOG" 2>/dev/null | tr '\n' ' '; }

# lb_stop: SIGTERM, FAIL unless it exits 0; the stats file keeps the final counters.
lb_stop() {
  local rc=0
  topo_stop "$LB_PID" TERM 5 || rc=$?
  [ "$rc" = 0 ] || result_fail "craft-lb exit status $rc on SIGTERM: $(lb_log_tail)"
}

lb_alive() { kill -0 "$LB_PID" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$LB_PID/stat" 2>/dev/null)" != Z ]; }
lb_require_alive() { lb_alive || result_fail "craft-lb died $1: $(lb_log_tail 5)"; }

lb_stat() { stats_get "$LB_STATS" "$1" 2>/dev/null || echo 0; }

lb_stat_cmp() {
  local v
  v=$(lb_stat "$1")
  case "$2" in
    -eq) [ "$v" -eq "$3" ] ;;
    -ge) [ "$v" -ge "$3" ] ;;
    -gt) [ "$v" -gt "$3" ] ;;
    -le) [ "$v" -le "$3" ] ;;
    -lt) [ "$v" -lt "$3" ] ;;
    *) return 2 ;;
  esac
}

# lb_wait_stat TIMEOUT NAME OP VALUE
lb_wait_stat() {
  local t=$1
  shift
  wait_for "$t" lb_stat_cmp "$@"
}

# lb_wait_live N [TIMEOUT]: until exactly N proxies are live.
lb_wait_live() {
  lb_wait_stat "${2:-5}" lb_proxies_live -eq "$1" ||
    result_fail "want $1 live proxies, have $(lb_stat lb_proxies_live): $(lb_log_tail); $(lb_hb_diag)"
}

# lb_hb_diag: the heartbeat counters that are not 0 and the senders' logs.
lb_hb_diag() {
  local r
  awk '$1 ~ /^(hb_|proxy[0-9]+_(beats|live))/ && $2 != 0 { printf "%s=%s ", $1, $2 }' "$LB_STATS" 2>/dev/null
  for r in p1 p2; do
    printf '%s sender: %s; ' "$r" "$(tail -n 2 "$TOPO_DIR/hb-$r.log" 2>/dev/null | tr '\n' ' ')"
  done
}

# lb_rss_kb: craft-lb's resident set (VmRSS, KiB).
lb_rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$LB_PID/status"; }

# hb_start ROLE ID [ARGS...]: craft-heartbeat in ROLE for proxy ID, to the
# lb (or HB_TO); HB_PID[ROLE] is its PID.
hb_start() {
  local role=$1 id=$2
  shift 2
  topo_start_bg "$role" "$TOPO_DIR/hb-$role.log" "$(craft_path heartbeat)" --id "$id" \
    --to "${HB_TO:-$LB_LISTEN:$LB_HB_PORT}" --key "$LB_KEY" --interval "$LB_HB_INTERVAL" "$@"
  HB_PID[$role]=$TOPO_LAST_PID
}

# hb_stop ROLE [SIGNAL]
hb_stop() {
  local role=$1 sig=${2:-TERM}
  [ -n "${HB_PID[$role]:-}" ] || return 0
  topo_stop "${HB_PID[$role]}" "$sig" 3 || true
  HB_PID[$role]=
}

# vip_pyhttp ROLE PORT: tests/net/httpd.py bound to the VIP in ROLE.
vip_pyhttp() {
  local role=$1 port=$2
  topo_start_bg "$role" "$TOPO_DIR/vhttp-$role-$port.log" python3 "$CRAFT_ROOT/tests/net/httpd.py" \
    --bind "$VIP" --port "$port" --root "$TOPO_DIR/www"
  topo_wait_port "$role" "$VIP" "$port" || result_fail "httpd.py on $role $VIP:$port did not start"
}

# lb_relay ROLE PORT: ROLE forwards every TCP packet for VIP:PORT that
# arrives from the load balancer to p1, unchanged (policy routing ahead of
# the local table), as a proxy with replicated splice state would forward
# a spliced segment. Counted by an iptables rule in mangle FORWARD.
lb_relay() {
  local role=$1 port=$2 p1
  p1=$(topo_addr p1)
  topo_exec "$role" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 \
    net.ipv4.conf.eth0.send_redirects=0
  topo_exec "$role" ip route replace "$VIP/32" via "$p1" dev eth0 table 150
  topo_exec "$role" ip rule add pref 50 iif eth0 to "$VIP/32" ipproto tcp dport "$port" lookup 150
  topo_exec "$role" ip rule add pref 60 lookup local
  topo_exec "$role" ip rule del pref 0 lookup local
  topo_exec "$role" iptables -w -t mangle -A FORWARD -d "$VIP/32" -p tcp --dport "$port"
}

# lb_relay_pkts ROLE: packets ROLE relayed.
lb_relay_pkts() { ipt_pkts "$1" mangle FORWARD "$VIP"; }

# rx_pkts_rule ROLE PROTO PORT: a counting rule (no target) in raw
# PREROUTING of ROLE for VIP:PORT; rx_pkts ROLE reads it.
rx_count_rule() { topo_exec "$1" iptables -w -t raw -A PREROUTING -d "$VIP/32" -p "$2" --dport "$3"; }
rx_pkts() { ipt_pkts "$1" raw PREROUTING "$VIP"; }

# lb_proxy_ready: the real craft-proxy is the target (the default, the
# issue's tests 1-3 demand it); LB_CRAFT_PROXY=0 selects the stand-in
# targets instead, to look at the load balancer alone. Needs a craft-proxy
# with heartbeats ([heartbeat]) and replicated splices ([replication]).
lb_proxy_ready() {
  [ "${LB_CRAFT_PROXY:-1}" = 1 ] || return 1
  [ -x "$(craft_path proxy)" ] || return 1
  local c
  c=$("$(craft_path proxy)" --print-config 2>/dev/null) || return 1
  grep -q '^\[heartbeat\]' <<<"$c" && grep -q '^\[replication\]' <<<"$c"
}

# log_ms FILE PATTERN: the wall-clock ms of the first log line matching
# PATTERN (log lines start with an ISO-8601 UTC timestamp).
log_ms() {
  local ts
  ts=$(grep -m1 -- "$2" "$1" | awk '{print $1}') || return 1
  [ -n "$ts" ] || return 1
  date -d "$ts" +%s%3N
}

# ---- the real target: craft-proxy on p1 and p2 --------------------------------

# lb_craft_proxies: craft-proxy on p1 (id 1, IVIP ports 20000-24999) and p2
# (id 2, 25000-29999), replicating to each other and sending heartbeats to
# the lb (HB_TO) every LB_HB_INTERVAL; nginx b1:80 and httpd.py b1:8000
# (PUT /upload) behind them. Sets PX_PID[p1|p2], PX_STATS[..], PX_LOG[..].
# Called again, it restarts the proxies with the current settings.
# Needs lb_proxy_ready (the [heartbeat] wiring in craft-proxy).
declare -gA PX_PID=() PX_STATS=() PX_LOG=() PX_RULES_UP=()
lb_craft_proxies() {
  local r id conf b1 pmin pmax
  require_bin proxy
  b1=$(topo_addr b1)
  if [ -z "${LB_BACKENDS_UP:-}" ]; then
    topo_nginx b1
    topo_pyhttp b1 8000
    LB_BACKENDS_UP=1
  fi
  for r in p1 p2; do
    if [ -n "${PX_PID[$r]:-}" ]; then topo_stop "${PX_PID[$r]}" TERM 5 || true; fi
    id=${r#p}
    pmin=$((20000 + (id - 1) * 5000))
    pmax=$((pmin + 4999))
    conf=$TOPO_DIR/proxy-$r.conf
    cat >"$conf" <<EOC
[daemon]
stats_interval = 200ms
[proxy]
id = $id
backend_port_min = $pmin
backend_port_max = $pmax
[routing]
backend = web $b1:80
backend = py $b1:8000
route = * /upload py
default_pool = web
[cluster]
proxy = 1 $(topo_addr p1) 20000-24999
proxy = 2 $(topo_addr p2) 25000-29999
heartbeat_port = 7402
[replication]
id = $id
listen = $(topo_addr "$r"):7400
peer = p1 $(topo_addr p1):7400 proxy id=1
peer = p2 $(topo_addr p2):7400 proxy id=2
key_file = $LB_KEY
[heartbeat]
target = ${HB_TO:-$LB_LISTEN:$LB_HB_PORT}
interval = $LB_HB_INTERVAL
key_file = $LB_KEY
EOC
    t_check "craft-proxy config for $r rejected: $(topo_exec "$r" "$(craft_path proxy)" -c "$conf" --check-config 2>&1 | tail -n 2 | tr '\n' ' ')" \
      topo_exec "$r" "$(craft_path proxy)" -c "$conf" --check-config >&2
    # The rules do not change between restarts: set them up once.
    if [ -z "${PX_RULES_UP[$r]:-}" ]; then
      t_check "rules/proxy.sh up failed on $r" topo_exec "$r" "$CRAFT_ROOT/rules/proxy.sh" up --port-min "$pmin" --port-max "$pmax" \
        --self "$id" --peers "1=$(topo_addr p1),2=$(topo_addr p2)"
      PX_RULES_UP[$r]=1
    fi
    PX_LOG[$r]=$TOPO_DIR/proxy-$r.log
    PX_STATS[$r]=$TOPO_DIR/proxy-$r.stats
    start_daemon "$r" proxy "${PX_LOG[$r]}" -c "$conf" --stats-file "${PX_STATS[$r]}"
    PX_PID[$r]=$DAEMON_PID
    wait_daemon_queue "$r" 0 "$DAEMON_PID" "${PX_LOG[$r]}"
    topo_wait_port "$r" "$VIP" 80 5 || result_fail "craft-proxy on $r does not listen on $VIP:80"
  done
}

# lb_transfers WHAT N GET_URL PUT_URL: N downloads of GET_URL (the 20M file)
# and N uploads of the 20M file to PUT_URL at once from cl; FAILs (naming
# WHAT) unless all complete, the downloads sha256-exact and the server saw
# every upload's sha256 and length.
lb_transfers() {
  local what=$1 n=$2 get=$3 put=$4 i p pids=() fails=0 sum len f20 sha20 gp=() pp=()
  # LB_XFER_PORTS=BASE: fixed client ports BASE+i (downloads) and
  # BASE+50+i (uploads), so a flow-hash split is reproducible.
  if [ -n "${LB_XFER_PORTS:-}" ]; then
    gp=(--local-port) pp=(--local-port)
  fi
  f20=$(topo_www_file 20M)
  sha20=$(sha256_of "$f20")
  for i in $(seq 1 "$n"); do
    [ -z "${LB_XFER_PORTS:-}" ] || gp[1]=$((LB_XFER_PORTS + i)) pp[1]=$((LB_XFER_PORTS + 50 + i))
    fetch cl "$get" "$TOPO_DIR/get.$i" "${gp[@]}" --max-time 90 >"$TOPO_DIR/get.$i.res" 2>&1 &
    pids+=($!)
    upload cl "$put" "$f20" "${pp[@]}" --max-time 90 >"$TOPO_DIR/put.$i.res" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
  [ "$fails" = 0 ] || result_fail "$what: $fails of $((2 * n)) transfers failed: $(cat "$TOPO_DIR"/get.*.res "$TOPO_DIR"/put.*.res | head -n 4 | tr '\n' ' ')"
  for i in $(seq 1 "$n"); do
    sha_eq "$f20" "$TOPO_DIR/get.$i" || result_fail "$what: download $i: sha256 mismatch"
    read -r sum len <"$TOPO_DIR/put.$i.res"
    [ "$sum" = "$sha20" ] && [ "$len" = $((20 * MiB)) ] || result_fail "$what: upload $i: server saw ${sum:0:16} $len"
    rm -f "$TOPO_DIR/get.$i"
  done
}

# ---- upload rounds with a proxy failure (failover.sh, tests/bench/lb.sh) ----
#
# Set before: VARIANT (craft-proxy | stand-in), PORT, UPATH, FILE, NCONN.
# fail_p2 HOW: kill | ifdown
fail_p2() {
  case "$1:$VARIANT" in
    kill:craft-proxy) kill -KILL "${PX_PID[p2]}" ;;
    kill:stand-in)
      kill -KILL "${HB_PID[p2]}"
      topo_exec p2 iptables -w -t raw -I PREROUTING -d "$VIP/32" -j DROP
      ;;
    ifdown:*) topo_exec p2 ip link set eth0 down ;;
  esac
}

restore_p2() {
  case "$1:$VARIANT" in
    kill:craft-proxy)
      start_daemon p2 proxy "${PX_LOG[p2]}.$RANDOM" -c "$TOPO_DIR/proxy-p2.conf" --stats-file "${PX_STATS[p2]}"
      PX_PID[p2]=$DAEMON_PID
      ;;
    kill:stand-in)
      topo_exec p2 iptables -w -t raw -D PREROUTING -d "$VIP/32" -j DROP
      hb_start p2 2
      ;;
    ifdown:*)
      topo_exec p2 ip link set eth0 up
      topo_exec p2 ip route replace default via "$(topo_addr lb-in)"
      topo_exec p2 ip route replace 198.18.2.0/24 via "$(topo_addr lg)"
      topo_exec p2 ip route replace 198.18.3.0/24 via "$(topo_addr lg)"
      [ "$VARIANT" = stand-in ] && topo_exec p2 ip route replace "$VIP/32" via "$(topo_addr p1)" dev eth0 table 150
      if [ "$VARIANT" = craft-proxy ]; then
        # The link's routes went with it, those of rules/proxy.sh's redirect
        # table for proxy 1 (table 100 + id) too.
        topo_exec p2 ip route replace "$VIP/32" via "$(topo_addr p1)" table 101
        topo_exec p2 ip route replace "$(topo_addr ivip)/32" via "$(topo_addr p1)" table 101
      fi
      ;;
  esac
  lb_wait_live 2 15
}

# lb_upload_round NAME [HOW PERCENT]: NCONN concurrent uploads of FILE; with
# HOW, p2 fails once the client has sent PERCENT of the uploads' bytes (its
# interface's counter: a point in the transfer, whatever the host's load
# makes of the time; FAIL_AT: when the failure began). Sets R_AVG R_MIN
# R_MAX R_STD R_TOTAL R_MBPS R_CONNECTS and R_T0 (the start); FAILs unless
# every upload is exact on one connection.
# shellcheck disable=SC2153 # PORT, FILE: set by the caller
lb_upload_round() {
  local name=$1 how=${2:-} pct=${3:-0} out=$TOPO_DIR/up-$1.out start=$TOPO_DIR/start-$1 ready=$TOPO_DIR/ready-$1 cpid rc=0 tx0 goal
  topo_exec cl python3 "$LB_DIR/_uploads.py" --host "$VIP" --port "$PORT" --path "$UPATH" \
    --file "$FILE" -n "$NCONN" --timeout 120 --start-file "$start" --ready-file "$ready" >"$out" 2>&1 &
  cpid=$!
  wait_for 30 test -e "$ready" || result_fail "$name: clients did not connect: $(tail -n 2 "$out" | tr '\n' ' ')"
  tx0=$(if_bytes cl eth0 tx)
  goal=$((tx0 + $(stat -c %s "$FILE") * NCONN / 100 * pct))
  touch "$start"
  R_T0=$(now_ms)
  if [ -n "$how" ]; then
    sent_enough() { [ "$(if_bytes cl eth0 tx)" -ge "$goal" ]; }
    wait_for 120 sent_enough || result_fail "$name: the uploads never reached ${pct}%: $(tail -n 2 "$out" | tr '\n' ' ')"
    FAIL_AT=$(now_ms) # the failure starts (heartbeats stop within ms)
    fail_p2 "$how"
  fi
  wait "$cpid" || rc=$?
  local s
  s=$(grep '^summary' "$out") || result_fail "$name: no summary: $(tail -n 3 "$out" | tr '\n' ' ')"
  [ "$rc" = 0 ] || result_fail "$name: uploads failed: $s; $(grep ' fail ' "$out" | head -n 2 | tr '\n' ' ')"
  local kv
  # shellcheck disable=SC2034 # R_* are read by the callers
  for kv in $s; do
    case "$kv" in
      avg=*) R_AVG=${kv#*=} ;;
      min=*) R_MIN=${kv#*=} ;;
      max=*) R_MAX=${kv#*=} ;;
      std=*) R_STD=${kv#*=} ;;
      total=*) R_TOTAL=${kv#*=} ;;
      mbps=*) R_MBPS=${kv#*=} ;;
      connects=*) R_CONNECTS=${kv#*=} ;;
    esac
  done
  [ "$R_CONNECTS" = "$NCONN" ] || result_fail "$name: $R_CONNECTS connects for $NCONN uploads"
  say "$name: $s"
}

# lb_detect_ms NAME: failure instant -> the lb's last "proxy 2 removed" log line.
lb_detect_ms() {
  local t
  t=$(grep "proxy 2 removed" "$LB_LOG" | tail -n 1 | awk '{print $1}')
  [ -n "$t" ] || result_fail "$1: the lb never removed p2: $(lb_log_tail)"
  echo $(($(date -d "$t" +%s%3N) - FAIL_AT))
}

# test_cleanup (the EXIT trap of tests/lib.sh, before the teardown): the
# craft-proxies' and the lb's log tails and last counters go to stderr, i.e.
# into build/test-logs/lb/NAME.log. A scenario may define its own.
if ! declare -F test_cleanup >/dev/null; then
  test_cleanup() {
    local r f
    {
      for r in p1 p2; do
        for f in "${PX_LOG[$r]:-}" "${PX_LOG[$r]:-}".*; do
          [ -n "$f" ] && [ -f "$f" ] || continue
          echo "--- craft-proxy $r log $f (last 15 lines) ---"
          tail -n 15 "$f"
        done
        f=${PX_STATS[$r]:-}
        [ -n "$f" ] && [ -f "$f" ] && echo "--- craft-proxy $r stats: $(tr '\n' ' ' <"$f")"
      done
      if [ -n "${LB_LOG:-}" ] && [ -f "$LB_LOG" ]; then
        echo "--- craft-lb log (last 15 lines) ---"
        tail -n 15 "$LB_LOG"
      fi
    } >&2
    return 0
  }
fi
