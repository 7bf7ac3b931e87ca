#!/usr/bin/env bash
# lb/failover: proxy failover under load (test 2, thesis 4.8.3).
# 50 concurrent uploads of 10 MiB, each on ONE connection (the client
# counts its connects: a reconnect would show), per-connection timing;
# craft-lb in weighted mode (burst 40, as the thesis prototype), heartbeats
# every LB_HB_INTERVAL (200 ms), 3 missed = out. Three runs: no failure;
# p2 "killed" halfway (once the client has sent half the bytes); p2's
# interface taken down halfway. Every upload must complete with the right sha256 and
# length, with exactly 50 connects. Measured: detection time (failure ->
# the lb's removal, from its log; and the lb's own figure: last beat ->
# removal), per-connection avg/min/max, aggregate throughput and its loss
# against the no-failure run. The client's link is limited to
# LB_FAILOVER_RATE (1gbit, tbf) so that the network, not the 2 CPUs, is the
# bottleneck. LB_FAILOVER_HB sets the heartbeat interval.
#
# Target (the default): craft-proxy on p1 and p2 (lb_craft_proxies:
# replicated splices, heartbeats to the lb and to each other), uploads go to
# httpd.py on b1 through the proxies and "killed" is SIGKILL of p2's
# craft-proxy. With LB_CRAFT_PROXY=0 the stand-in, to look at the lb alone:
# the server is on p1 (VIP:8000) and p2 relays its share to p1 at L3;
# "killed" = p2's heartbeat sender SIGKILLed and p2 dropping VIP packets
# from that instant (a craft-proxy's fail-closed queue with no daemon).
# shellcheck source=tests/e2e/lb/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin

LB_HB_INTERVAL=${LB_FAILOVER_HB:-200ms}
NCONN=${LB_FAILOVER_CONNS:-50}
RATE=${LB_FAILOVER_RATE:-1gbit}
lb_bed
# The client's link is the bottleneck (as the thesis' switch was), so that
# a failure costs throughput instead of idle CPU: token bucket on cl eth0.
[ "$RATE" = none ] || topo_exec cl tc qdisc add dev eth0 root tbf rate "$RATE" burst 256kb latency 50ms
FILE=$TOPO_DIR/www/10M
CONF=$TOPO_DIR/lb.conf
LB_EXTRA_LB="burst = 40"
lb_write_conf "$CONF" weighted
lb_start "$CONF"

if lb_proxy_ready; then
  VARIANT=craft-proxy
  lb_craft_proxies
  PORT=80
  UPATH=/upload
else
  VARIANT=stand-in
  PORT=8000
  UPATH=/put
  vip_pyhttp p1 $PORT
  lb_relay p2 $PORT
  hb_start p1 1
  hb_start p2 2
fi
lb_wait_live 2 10

lb_upload_round nofail
BASE_MBPS=$R_MBPS
RES="no failure: avg/min/max $R_AVG/$R_MIN/$R_MAX s, ${R_MBPS} Mbit/s"
for how in kill ifdown; do
  lb_upload_round "$how" "$how" 50
  d=$(lb_detect_ms "$how")
  loss=$(awk -v a="$R_MBPS" -v b="$BASE_MBPS" 'BEGIN { printf "%.1f", 100 * (1 - a / b) }')
  RES+="; $how at 50% after $((FAIL_AT - R_T0)) ms: detected in $d ms (lb: $(lb_stat proxy2_detect_last_ms) ms after the last beat), avg/min/max $R_AVG/$R_MIN/$R_MAX s, ${R_MBPS} Mbit/s (loss $loss%)"
  # the stats file is rewritten every second: give it one
  # shellcheck disable=SC2317 # called through wait_for
  p2_out() { [ "$(lb_stat proxy2_live)" = 0 ]; }
  wait_for 2 p2_out || result_fail "$how: p2 still live after the run"
  restore_p2 "$how"
done
lb_stop
result_pass "$VARIANT, $NCONN x 10 MiB, heartbeat $LB_HB_INTERVAL, link $RATE, all exact, 1 connect each; $RES"
