#!/usr/bin/env bash
# lb/proxies: two REAL craft-proxies behind craft-lb, both selection modes
# (test 1). craft-proxy on p1 and p2 (replicated splices, heartbeats to the
# lb and to each other), nginx and httpd.py on b1 behind them. Per mode:
#   - weighted (the papers' algorithm, bursts of 40 packets): a connection's
#     packets are sprayed over both proxies, so each proxy forwards the
#     other's spliced segments and redirects unspliced ones to the owner;
#   - flow-hash with owner = client-hash: every packet of a connection goes
#     to the proxy that accepted it (the proxies' splice_owner), so there is
#     no redirect hop;
# 2 downloads and 2 uploads of 20 MiB, concurrent, through the VIP: every
# byte exact (sha256 at the client and at the server), and BOTH proxies
# carried packets (the lb's per-proxy counters and each proxy's spliced
# segment counters).  The lb is restarted between the modes; the proxies
# stay up.
# shellcheck source=tests/e2e/lb/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin

lb_bed
lb_proxy_ready || result_fail "craft-proxy without [heartbeat]/[replication] support (or LB_CRAFT_PROXY=0): this scenario needs the real proxy"

# px_sum ROLE NAME...: the sum of craft-proxy counters on ROLE.
px_sum() {
  local r=$1 n s=0 v
  shift
  for n in "$@"; do
    v=$(stats_get "${PX_STATS[$r]}" "$n" 2>/dev/null) || v=0
    s=$((s + v))
  done
  echo "$s"
}

# round MODE: the transfers of one mode; sets RES_MODE.
round() {
  local mode=$1 t0 t1 lb1 lb2 f1 f2 r1 r2 c1 c2
  c1=$(px_sum p1 seg_c2b seg_b2c)
  c2=$(px_sum p2 seg_c2b seg_b2c)
  r1=$(px_sum p1 redirected redirected_owed)
  r2=$(px_sum p2 redirected redirected_owed)
  t0=$(now_ms)
  lb_transfers "$mode" 2 "http://$VIP/20M" "http://$VIP/upload"
  t1=$(now_ms)
  sleep 0.5 # stats files
  lb1=$(lb_stat proxy1_packets)
  lb2=$(lb_stat proxy2_packets)
  f1=$(($(px_sum p1 seg_c2b seg_b2c) - c1))
  f2=$(($(px_sum p2 seg_c2b seg_b2c) - c2))
  r1=$(($(px_sum p1 redirected redirected_owed) - r1))
  r2=$(($(px_sum p2 redirected redirected_owed) - r2))
  [ "$lb1" -gt 0 ] && [ "$lb2" -gt 0 ] || result_fail "$mode: the lb sent p1/p2 $lb1/$lb2 packets: a proxy carried nothing"
  [ "$f1" -gt 0 ] && [ "$f2" -gt 0 ] || result_fail "$mode: spliced segments forwarded by p1/p2: $f1/$f2"
  [ "$(lb_stat lb_no_proxy_drop)" = 0 ] || result_fail "$mode: $(lb_stat lb_no_proxy_drop) packets dropped for want of a proxy"
  RES_MODE="$mode: 4 x 20 MiB exact at $(mbps $((4 * 20 * MiB)) "$(fdiv $((t1 - t0)) 1000 3)") MB/s, lb packets p1/p2 $lb1/$lb2, spliced segments p1/p2 $f1/$f2, redirected p1/p2 $r1/$r2"
  say "$RES_MODE"
}

CONF=$TOPO_DIR/lb.conf
LB_EXTRA_LB="burst = 40"
lb_write_conf "$CONF" weighted
lb_start "$CONF"
lb_craft_proxies
lb_wait_live 2 10
round weighted
RES="$RES_MODE"
lb_stop

CONF2=$TOPO_DIR/lb2.conf
LB_EXTRA_LB="owner = client-hash"
lb_write_conf "$CONF2" flow-hash
lb_start "$CONF2" lb2
lb_wait_live 2 10
# Four connections hashed at random ports land on one proxy one time in
# eight: fixed client ports make the split a function of the hash alone.
LB_XFER_PORTS=43100
round flow-hash
RES+="; $RES_MODE"
lb_stop
result_pass "craft-proxy on p1 and p2; $RES"
