#!/usr/bin/env bash
# failover/alternate_down: the backend fails and its alternate refuses the
# recovery connection (a second failure): the client must get a clean RST
# at once, never hang on a splice that leads nowhere, and the event is
# recorded. nginx on b1 and b2; b2's port 80 answers SYNs with RST
# (iptables REJECT) from the start; the client downloads /10M slowly through
# the proxy and b1's link goes down at 40%. Asserts: the client's read
# ends with a connection reset well before its own 20 s timeout, the proxy
# counts recovery_reset = 1 and connect_failed = 1, and the failover row is
# "failed" with the connect error.
# shellcheck source=tests/e2e/failover/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin

fo_setup
topo_exec b2 iptables -w -A INPUT -p tcp --dport 80 --syn -j REJECT --reject-with tcp-reset
CLIENT=$(fo_download_client)
PROGRESS=$TOPO_DIR/progress
SIZE=$(stat -c %s "$(topo_www_file 10M)")
topo_exec cl timeout 60 python3 "$CLIENT" "$VIP" "$TOPO_DIR/www" 4000000 "$PROGRESS" 10M \
  >"$TOPO_DIR/client.out" 2>&1 &
CL_PID=$!
wait_for 30 fo_progress_past "$PROGRESS" $((SIZE * 4 / 10)) ||
  result_fail "the download did not reach 40%: $(cat "$TOPO_DIR/client.out") $(px_log_tail)"
t0=$(now_ms)
fo_kill_link b1
rc=0
wait "$CL_PID" || rc=$?
t1=$(now_ms)
out=$(cat "$TOPO_DIR/client.out")
[ "$rc" != 0 ] || result_fail "the client completed although no backend could serve it: $out"
grep -q 'ConnectionResetError' <<<"$out" || result_fail "the client did not get a reset: ${out//$'\n'/ }"
[ $((t1 - t0)) -lt 15000 ] || result_fail "the reset came $((t1 - t0)) ms after the failure"
px_require_alive "after the failed recovery"
px_wait_stat 3 recovery_reset -ge 1 || true
rows=$(fo_rows)
px_stop
lg_stop
{ [ "$(px_stat recovery_reset)" = 1 ] && [ "$(px_stat recovery_connect_failed)" = 1 ]; } ||
  result_fail "recovery_reset $(px_stat recovery_reset) connect_failed $(px_stat recovery_connect_failed), want 1 and 1: $rows"
IFS='|' read -r outcome backend alternate _ _ _ _ _ _ _ total_ms detail <<<"$(head -n 1 <<<"$rows")"
{ [ "$outcome|$backend|$alternate" = "failed|$B1:80|$B2:80" ] && [[ $detail == connect:* ]]; } ||
  result_fail "failover row: $rows"
result_pass "client reset $((t1 - t0)) ms after b1's link went down (detected->reset ${total_ms} ms); row: $outcome, $detail"
