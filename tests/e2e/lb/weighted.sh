#!/usr/bin/env bash
# lb/weighted: craft-lb in weighted mode, weights from heartbeats.
#  (a) distribution: p1 announces W=250, p2 W=750; 20000 UDP datagrams to
#      the VIP, one pick per packet (burst 1): the proxies receive 25% / 75%
#      (+-2 points), and what the lb counted per proxy is exactly what each
#      proxy received (every marked packet reached its proxy);
#  (b) weights follow the heartbeats at run time: p2 announces W=0 -> every
#      datagram goes to p1; p2 flags not-ready -> it is out; W=500 again ->
#      back after `rejoin` good beats;
#  (c) TCP sprayed over both proxies (burst 1, then burst 40): the server is
#      on p1 and p2 relays its share to p1 at L3 (the stand-in for "any
#      proxy forwards any spliced segment" until craft-proxy replicates):
#      2 downloads + 2 uploads of 20 MiB exact per burst size, both proxies
#      carried packets, bursts counted, reordering counted on the client
#      (the same through the real craft-proxies: lb/proxies).
# shellcheck source=tests/e2e/lb/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin

UDP_PORT=9999
PORT=8000
lb_bed
W1=$TOPO_DIR/w1
W2=$TOPO_DIR/w2
echo 250 >"$W1"
echo 750 >"$W2"
rx_count_rule p1 udp $UDP_PORT
rx_count_rule p2 udp $UDP_PORT
CONF=$TOPO_DIR/lb.conf
LB_EXTRA_LB="burst = 1"
lb_write_conf "$CONF" weighted
lb_start "$CONF"
hb_start p1 1 --workload-file "$W1"
hb_start p2 2 --workload-file "$W2"
lb_wait_live 2
lb_wait_stat 3 proxy2_workload -eq 750 || result_fail "lb did not learn W=750 from p2's heartbeats"

# send_udp N: N datagrams cl -> VIP:UDP_PORT, paced (1000 per 10 ms).
send_udp() {
  topo_exec cl python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n = int(sys.argv[3])
for i in range(n):
    s.sendto(b"x" * 32, (sys.argv[1], int(sys.argv[2])))
    if i % 1000 == 999:
        time.sleep(0.01)' "$VIP" "$UDP_PORT" "$1"
}

# settle: both receivers' counters stop moving
counts() { echo "$(rx_pkts p1) $(rx_pkts p2)"; }
settle() {
  local a b i
  a=$(counts)
  for ((i = 0; i < 20; i++)); do
    sleep 0.1
    b=$(counts)
    [ "$a" = "$b" ] && return 0
    a=$b
  done
}

# ---- (a)
N=20000
send_udp $N
settle
sleep 0.3 # stats file
read -r r1 r2 <<<"$(counts)"
[ $((r1 + r2)) = $N ] || result_fail "(a) proxies received $r1 + $r2 of $N datagrams (queue drops: $(lb_stat kernel_queue_dropped))"
l1=$(lb_stat proxy1_packets)
l2=$(lb_stat proxy2_packets)
[ "$l1" = "$r1" ] && [ "$l2" = "$r2" ] || result_fail "(a) lb counted $l1/$l2, proxies received $r1/$r2"
share2=$(awk -v a="$r2" -v n=$N 'BEGIN { printf "%.1f", 100 * a / n }')
awk -v s="$share2" 'BEGIN { exit !(s >= 73 && s <= 77) }' || result_fail "(a) p2 got $share2% with W 250/750, want 75 +- 2"
A_SHARE=$share2

# ---- (b)
echo 0 >"$W2"
lb_wait_stat 3 proxy2_workload -eq 0 || result_fail "(b) W=0 not learned"
read -r b1 b2 <<<"$(counts)"
send_udp 5000
settle
read -r c1 c2 <<<"$(counts)"
[ $((c1 - b1)) = 5000 ] && [ "$c2" = "$b2" ] || result_fail "(b) with W2=0: p1 got $((c1 - b1)), p2 $((c2 - b2)) of 5000"
echo "500 not-ready" >"$W2"
lb_wait_live 1 3
[ "$(lb_stat proxy2_live)" = 0 ] || result_fail "(b) not-ready p2 still live"
t0=$(now_ms)
echo 500 >"$W2"
lb_wait_live 2 3
B_REJOIN_MS=$(($(now_ms) - t0))
echo 500 >"$W1"
lb_wait_stat 3 proxy1_workload -eq 500 || result_fail "(b) W1=500 not learned"
lb_stop

# ---- (c) TCP sprayed: server on p1, p2 relays to p1
vip_pyhttp p1 $PORT
lb_relay p2 $PORT
C_RES=""
for burst in 1 40; do
  LB_EXTRA_LB="burst = $burst"
  lb_write_conf "$CONF" weighted
  lb_start "$CONF" "lb-b$burst"
  lb_wait_live 2
  relay0=$(lb_relay_pkts p2)
  reord0=$(snmp_get cl Tcp RetransSegs)
  t0=$(now_ms)
  lb_transfers "(c) burst $burst" 2 "http://$VIP:$PORT/20M" "http://$VIP:$PORT/put"
  t1=$(now_ms)
  sleep 0.3
  p1pk=$(lb_stat proxy1_packets)
  p2pk=$(lb_stat proxy2_packets)
  relayed=$(($(lb_relay_pkts p2) - relay0))
  [ "$p1pk" -gt 0 ] && [ "$p2pk" -gt 0 ] || result_fail "(c) burst $burst: lb counters $p1pk / $p2pk"
  [ "$relayed" -gt $((p2pk / 2)) ] || result_fail "(c) burst $burst: p2 relayed $relayed of the $p2pk packets the lb sent it"
  [ "$(lb_stat lb_bursts)" -ge $(((p1pk + p2pk) / burst)) ] || result_fail "(c) burst $burst: $(lb_stat lb_bursts) bursts for $((p1pk + p2pk)) packets"
  C_RES+="burst $burst: $(mbps $((4 * 20 * MiB)) "$(fdiv $((t1 - t0)) 1000 3)") MB/s, p1/p2 $p1pk/$p2pk pkts, client retrans $(($(snmp_get cl Tcp RetransSegs) - reord0)); "
  lb_stop
  topo_exec lb "$CRAFT_ROOT/rules/lb.sh" down --config "$CONF"
done
result_pass "stand-in targets (UDP counters, L3 relay p2 -> p1; the real craft-proxy: lb/proxies): (a) W 250/750 -> p2 got $A_SHARE% of $N, lb counters = proxy counters; (b) W2=0 -> all to p1, not-ready -> out, back in ${B_REJOIN_MS} ms; (c) ${C_RES%; }"
