#!/usr/bin/env bash
# lb/rejoin: a proxy leaves (its heartbeats stop) and comes back (test 3).
#
# With craft-proxy (the default): weighted mode, burst 40, 6 downloads +
# 6 uploads of 20 MiB through both proxies to b1; p2's craft-proxy is
# SIGKILLed, the lb removes it, it is restarted, resyncs its splice table
# from p1, is re-admitted after `rejoin` good beats and carries packets
# again; EVERY transfer (those p2 had accepted included) completes
# byte-exact.
#
# With LB_CRAFT_PROXY=0 (plain target, flow-hash, an HTTP server on the VIP
# on p1 and p2; the load balancer's membership alone): 8 slow downloads
# spread over both; p2's heartbeat sender is killed (p2's server stays up);
# the lb removes p2 within 3 intervals; p2's sender restarts and p2 is
# re-admitted after exactly `rejoin` good beats and takes new connections.
# The downloads that were on p1 are never disturbed: exact. Those on p2 move
# to p1 with p2's departure and die there (p1's stack does not know them):
# what the craft-proxy variant shows the replicated splice fixes.
# shellcheck source=tests/e2e/lb/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin

lb_bed
CONF=$TOPO_DIR/lb.conf
F20=$(topo_www_file 20M)

# wait_removed ROLE_ID T0: waits until proxy ID is out; echoes ms since T0.
wait_removed() {
  lb_wait_stat 5 "proxy$1_live" -eq 0 || result_fail "proxy $1 not removed: $(lb_log_tail)"
  echo $(($(now_ms) - $2))
}

if lb_proxy_ready; then
  VARIANT=craft-proxy
  LB_EXTRA_LB="burst = 40"
  lb_write_conf "$CONF" weighted
  lb_start "$CONF"
  lb_craft_proxies
  lb_wait_live 2 10
  SHA20=$(sha256_of "$F20")
  pids=()
  for i in 1 2 3 4 5 6; do
    fetch cl "http://$VIP/20M" "$TOPO_DIR/get.$i" --limit-rate 3M --max-time 90 >"$TOPO_DIR/get.$i.res" 2>&1 &
    pids+=($!)
    upload cl "http://$VIP/upload" "$F20" --limit-rate 3M --max-time 90 >"$TOPO_DIR/put.$i.res" 2>&1 &
    pids+=($!)
  done
  sleep 2
  t0=$(now_ms)
  topo_stop "${PX_PID[p2]}" KILL 3 || true
  DETECT=$(wait_removed 2 "$t0")
  sleep 1
  start_daemon p2 proxy "${PX_LOG[p2]}.2" -c "$TOPO_DIR/proxy-p2.conf" --stats-file "${PX_STATS[p2]}"
  t1=$(now_ms)
  lb_wait_live 2 10
  REJOIN=$(($(now_ms) - t1))
  pk=$(lb_stat proxy2_packets)
  fails=0
  for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
  [ "$fails" = 0 ] || result_fail "$fails of 12 transfers failed across p2's kill and return"
  for i in 1 2 3 4 5 6; do
    sha_eq "$F20" "$TOPO_DIR/get.$i" || result_fail "download $i: sha256 mismatch"
    read -r sum len <"$TOPO_DIR/put.$i.res"
    [ "$sum" = "$SHA20" ] || result_fail "upload $i: server saw ${sum:0:16} $len"
  done
  sleep 0.3
  [ "$(lb_stat proxy2_packets)" -gt "$pk" ] || result_fail "p2 carried nothing after it rejoined"
  result_pass "craft-proxy: p2 SIGKILLed, removed in $DETECT ms, restarted and re-admitted in $REJOIN ms, carried packets again; 12 x 20 MiB exact"
fi

VARIANT=plain
PORT=8000
vip_pyhttp p1 $PORT
vip_pyhttp p2 $PORT
lb_write_conf "$CONF" flow-hash
lb_start "$CONF"
hb_start p1 1
hb_start p2 2
lb_wait_live 2
N=8
pids=()
for i in $(seq 1 $N); do
  fetch cl "http://$VIP:$PORT/20M" "$TOPO_DIR/get.$i" --local-port $((41000 + i)) \
    --limit-rate 2500K --max-time 60 >"$TOPO_DIR/get.$i.res" 2>&1 &
  pids[i]=$!
done
wait_for 5 test -s "$TOPO_DIR/get.$N" || result_fail "downloads did not start"
sleep 1
# which proxy holds which download (by the client port)
declare -A ON=()
for r in p1 p2; do
  for cp in $(topo_exec "$r" ss -Htn state established "( sport = :$PORT )" | awk '{ n = split($4, a, ":"); print a[n] }'); do
    ON[$((cp - 41000))]=$r
  done
done
n1=0 n2=0
for i in $(seq 1 $N); do
  case "${ON[$i]:-}" in
    p1) n1=$((n1 + 1)) ;;
    p2) n2=$((n2 + 1)) ;;
    *) result_fail "download $i is on no proxy" ;;
  esac
done
changes0=$(lb_stat hb_membership_changes)
t0=$(now_ms)
hb_stop p2 KILL
DETECT=$(wait_removed 2 "$t0")
LB_DETECT=$(lb_stat proxy2_detect_last_ms)
sleep 1
pk=$(lb_stat proxy2_packets)
t1=$(now_ms)
hb_start p2 2
lb_wait_live 2 3
REJOIN=$(($(now_ms) - t1))
# re-admission after exactly `rejoin` (3) good beats: >= 2 intervals
[ "$REJOIN" -ge 180 ] || result_fail "p2 re-admitted after $REJOIN ms: fewer than 3 beats"
# new connections reach p2 again
for i in $(seq 1 20); do topo_exec cl curl -s -o /dev/null --max-time 5 "http://$VIP:$PORT/1k" || true; done
sleep 0.3
[ "$(lb_stat proxy2_packets)" -gt "$pk" ] || result_fail "p2 took no new traffic after rejoining"
[ "$(lb_stat hb_membership_changes)" = $((changes0 + 2)) ] || result_fail "membership changed $(($(lb_stat hb_membership_changes) - changes0)) times, want 2"
ok1=0 lost2=0
for i in $(seq 1 $N); do
  rc=0
  wait "${pids[i]}" || rc=$?
  if [ "${ON[$i]}" = p1 ]; then
    [ "$rc" = 0 ] || result_fail "download $i on p1 was disturbed (curl rc $rc: $(cat "$TOPO_DIR/get.$i.res"))"
    sha_eq "$F20" "$TOPO_DIR/get.$i" || result_fail "download $i on p1: sha256 mismatch"
    ok1=$((ok1 + 1))
  elif [ "$rc" != 0 ]; then
    lost2=$((lost2 + 1))
  fi
done
result_pass "plain target (LB_CRAFT_PROXY=0): p2 removed in $DETECT ms (lb: ${LB_DETECT} ms after its last beat), re-admitted in $REJOIN ms after its sender restarted (rejoin = 3 good beats), takes new connections; $ok1/$n1 downloads on p1 undisturbed and exact; $lost2/$n2 on p2 lost (any that sent a segment while p2 was out was reset by p1: that needs the replicated splice)"
