#!/usr/bin/env bash
# lb/ivip: the same daemon on the logger host balances the backends'
# response path to the proxies (IVIP 198.18.11.1, which both proxies hold).
# Proxies connect to backends FROM the IVIP, each from its own port range
# (p1 20000-24999, p2 25000-29999, as craft-proxy's [cluster] says), so a
# backend's packets for IVIP:port belong to the proxy owning that port
# until the connection is spliced, and to any live proxy after. craft-lb on
# lg runs flow-hash with owner = ivip-port: the owner gets them while it is
# live, the consistent-hash table otherwise; heartbeats go from each proxy
# to lg as well.
#  - without the lb (lg's static route: IVIP via p1) a download made by p2
#    from its IVIP port fails: the response reaches p1;
#  - with it, 2 downloads of 20 MiB from b1 by p1 and 2 by p2, each from
#    its own IVIP port range: all exact, both proxies got their responses
#    (per-proxy counters, owner hits);
#  - craft-logger runs on lg at the same time (queue 0, mangle FORWARD;
#    the lb has queue 1, raw PREROUTING) and still sees the traffic.
# shellcheck source=tests/e2e/lb/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin

LB_ROLE=lg
LB_QUEUE=1
lb_bed
LB_LISTEN=$(topo_addr lg)
topo_nginx b1
require_bin logger
t_check "rules/logger.sh up failed" topo_exec lg "$CRAFT_ROOT/rules/logger.sh" up --queue 0
start_daemon lg logger "$TOPO_DIR/logger.log" -q 0 --stats-file "$TOPO_DIR/logger.stats"
LOGGER_PID=$DAEMON_PID
wait_daemon_queue lg 0 "$LOGGER_PID" "$TOPO_DIR/logger.log"
IVIP=$(topo_addr ivip)
B1=$(topo_addr b1)
F20=$(topo_www_file 20M)

# get ROLE PORT OUT [CURL...]: GET b1's 20M from IVIP:PORT in ROLE.
get() {
  local role=$1 port=$2 out=$3
  shift 3
  topo_exec "$role" curl -sS -o "$out" -w '%{http_code} %{size_download} %{time_total}\n' \
    --interface "$IVIP" --local-port "$port" --connect-timeout 3 "$@" "http://$B1/20M"
}

# without the lb: p2's response goes to p1
rc=0
get p2 25001 "$TOPO_DIR/nolb" --max-time 4 >/dev/null 2>&1 || rc=$?
[ "$rc" != 0 ] || result_fail "without the lb p2's IVIP download worked: the test proves nothing"

CONF=$TOPO_DIR/lb-ivip.conf
LB_EXTRA_LB="owner = ivip-port"
lb_write_conf "$CONF" flow-hash "$IVIP" yes
lb_start "$CONF" lb-ivip
HB_TO=$LB_LISTEN:$LB_HB_PORT hb_start p1 1
HB_TO=$LB_LISTEN:$LB_HB_PORT hb_start p2 2
lb_wait_live 2
pids=()
for spec in p1:20001 p1:20002 p2:25001 p2:25002; do
  role=${spec%%:*}
  port=${spec#*:}
  get "$role" "$port" "$TOPO_DIR/get.$port" --max-time 60 >"$TOPO_DIR/get.$port.res" 2>&1 &
  pids+=($!)
done
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
[ "$fails" = 0 ] || result_fail "$fails of 4 IVIP downloads failed: $(cat "$TOPO_DIR"/get.*.res | head -n 2 | tr '\n' ' ')"
for port in 20001 20002 25001 25002; do
  sha_eq "$F20" "$TOPO_DIR/get.$port" || result_fail "IVIP download from port $port: sha256 mismatch"
done
sleep 0.3
p1=$(lb_stat proxy1_packets)
p2=$(lb_stat proxy2_packets)
hits=$(lb_stat lb_owner_hits)
[ "$p1" -gt 100 ] && [ "$p2" -gt 100 ] || result_fail "per-proxy packets $p1 / $p2"
[ "$hits" = $((p1 + p2)) ] || result_fail "owner hits $hits, packets $((p1 + p2)): some went by the table"
lb_stop
topo_stop "$LOGGER_PID" TERM 5 || result_fail "craft-logger did not exit 0"
lg_pk=$(stats_get "$TOPO_DIR/logger.stats" packets || echo 0)
[ "$lg_pk" -gt $((p1 + p2)) ] || result_fail "craft-logger next to the lb saw only $lg_pk packets"
result_pass "without the lb p2's IVIP download fails; with craft-lb on lg (owner = ivip-port, queue 1, next to craft-logger on queue 0 which saw $lg_pk packets): 4 x 20 MiB exact, responses p1/p2 $p1/$p2 packets, all by owner"
