#!/usr/bin/env bash
# lb/idle_conns: 10,000 concurrent idle connections through craft-lb, in
# flow-hash and in weighted mode (burst 1: every packet picked anew), and
# the daemon's memory does not grow (test 4).
#   flow-hash: a listener on the VIP on p1 and on p2 that never accepts
#   (the kernel completes the handshakes into a 65535-deep backlog);
#   weighted: the listener on p1, p2 relaying its share to p1 (the
#   stand-in for replicated splicing).
# Per mode: craft-lb warmed up with 200 connections, VmRSS read; 10,000
# connections opened and held (all established, counted); VmRSS read
# again: growth <= 64 KiB (the lb keeps nothing per connection; what it
# owns is fixed at start: the 64 KiB table, the netlink buffer). The lb's
# conntrack table stays empty (VIP traffic is exempt). All 10,000 are
# still established when released.
# shellcheck source=tests/e2e/lb/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin

PORT=7000
N=${LB_IDLE_CONNS:-10000}
MAX_GROWTH_KB=64
lb_bed
for r in p1 p2; do
  topo_exec "$r" sysctl -qw net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535
done
topo_exec cl sysctl -qw net.ipv4.ip_local_port_range="10000 65000"

# listen ROLE: a listener on VIP:PORT in ROLE that never accepts.
listen() {
  topo_start_bg "$1" "$TOPO_DIR/listen-$1.log" python3 -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(65535)
time.sleep(3600)' "$VIP" "$PORT"
  topo_wait_port "$1" "$VIP" "$PORT" || result_fail "listener on $1 did not start"
  LISTEN_PID[$1]=$TOPO_LAST_PID
}

# hold N: opens and holds N connections; sets HOLD_PID, HOLD_OUT.
hold() {
  local n=$1 tag=$2
  HOLD_OUT=$TOPO_DIR/hold-$tag.out
  rm -f "$TOPO_DIR/ready-$tag" "$TOPO_DIR/stop-$tag"
  topo_exec cl python3 "$LB_DIR/_conns.py" --host "$VIP" --port "$PORT" -n "$n" \
    --ready-file "$TOPO_DIR/ready-$tag" --stop-file "$TOPO_DIR/stop-$tag" --hold 120 >"$HOLD_OUT" 2>&1 &
  HOLD_PID=$!
  wait_for 90 test -s "$TOPO_DIR/ready-$tag" || result_fail "$tag: connections not ready: $(tail -n 2 "$HOLD_OUT" | tr '\n' ' ')"
  HOLD_EST=$(cat "$TOPO_DIR/ready-$tag")
}

release() {
  local tag=$1 rc=0
  touch "$TOPO_DIR/stop-$tag"
  wait "$HOLD_PID" || rc=$?
  RELEASED=$(cat "$HOLD_OUT")
  return "$rc"
}

declare -A LISTEN_PID=()
RES=""
for mode in flow-hash weighted; do
  CONF=$TOPO_DIR/lb-$mode.conf
  if [ "$mode" = flow-hash ]; then
    listen p1
    listen p2
    LB_EXTRA_LB=
  else
    topo_stop "${LISTEN_PID[p2]}" TERM 3 || true
    lb_relay p2 "$PORT"
    LB_EXTRA_LB="burst = 1"
  fi
  lb_write_conf "$CONF" "$mode"
  lb_start "$CONF" "lb-$mode"
  hb_start p1 1
  hb_start p2 2
  lb_wait_live 2
  hold 200 "warm-$mode"
  [ "$HOLD_EST" = 200 ] || result_fail "$mode: warm-up established $HOLD_EST of 200"
  release "warm-$mode" || result_fail "$mode: warm-up: $RELEASED"
  sleep 1.2 # a stats round (the report buffer) and the backlogs drained
  rss0=$(lb_rss_kb)
  pk0=$(lb_stat packets)
  hold "$N" "$mode"
  [ "$HOLD_EST" = "$N" ] || result_fail "$mode: $HOLD_EST of $N connections established"
  sleep 1.2
  rss1=$(lb_rss_kb)
  pk=$(($(lb_stat packets) - pk0))
  p1=$(lb_stat proxy1_packets)
  p2=$(lb_stat proxy2_packets)
  ct=$(topo_exec lb cat /proc/sys/net/netfilter/nf_conntrack_count 2>/dev/null || echo 0)
  release "$mode" || result_fail "$mode: connections broken while held: $RELEASED"
  lb_require_alive "with $N connections"
  growth=$((rss1 - rss0))
  [ "$growth" -le "$MAX_GROWTH_KB" ] || result_fail "$mode: VmRSS grew by $growth KiB ($rss0 -> $rss1) with $N connections"
  [ "$pk" -ge $((2 * N)) ] || result_fail "$mode: the lb saw only $pk packets for $N handshakes"
  [ "$p1" -gt 0 ] && [ "$p2" -gt 0 ] || result_fail "$mode: a proxy got nothing ($p1 / $p2)"
  [ "$ct" = 0 ] || result_fail "$mode: lb conntrack holds $ct entries"
  RES+="$mode: RSS $rss0 -> $rss1 KiB ($pk pkts, p1/p2 $p1/$p2); "
  lb_stop
  hb_stop p1
  hb_stop p2
done
result_pass "$N idle connections held, all established: ${RES%; }; conntrack 0"
