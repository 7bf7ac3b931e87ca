#!/usr/bin/env bash
# failover/idle: the backend dies between two transactions (issue 6's crash
# point "between two transactions"). A python client on ONE keep-alive
# connection through the proxy asks nginx on b1 for /1k and /10M, then
# waits; b1's link goes down while nothing is in flight. The logger's idle
# probe declares b1 failed; recovery finds nothing to replay (plan "nothing
# in flight") and only re-splices the idle connection to b2. Then the
# client asks /10M and /1k again on the same socket. Asserts: every body
# exact (sha256), one connect, same local port; the failover row is
# "recovered" with T_L = 2, p = 0, nothing replayed or resent.
# shellcheck source=tests/e2e/failover/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin

fo_setup
GO=$TOPO_DIR/go
CLIENT=$(fo_idle_client)
topo_exec cl timeout 60 python3 "$CLIENT" "$VIP" "$TOPO_DIR/www" "$GO" >"$TOPO_DIR/client.out" 2>&1 &
CL_PID=$!
wait_for 20 test -e "$GO.ready" || result_fail "the first requests did not complete: $(cat "$TOPO_DIR/client.out")"
t0=$(now_ms)
fo_kill_link b1
px_wait_stat 15 recovery_recovered -ge 1 || result_fail "no recovery of the idle connection: $(px_log_tail 4)"
t1=$(now_ms)
touch "$GO"
rc=0
wait "$CL_PID" || rc=$?
out=$(cat "$TOPO_DIR/client.out")
[ "$rc" = 0 ] || result_fail "client (exit $rc): ${out//$'\n'/ }; proxy: $(px_log_tail 4)"
read -r ok connects lport ms <<<"$out"
{ [ "$ok" = OK ] && [ "$connects" = 1 ]; } || result_fail "client: $out"
px_require_alive "after the failover"
rows=$(fo_rows)
px_stop
lg_stop
IFS='|' read -r outcome backend alternate t_l p ack_cl ack_tl _ resent replayed total_ms _ <<<"$(head -n 1 <<<"$rows")"
[ "$outcome|$backend|$alternate" = "recovered|$B1:80|$B2:80" ] || result_fail "failover row: $rows"
{ [ "$t_l|$p|$resent|$replayed" = "2|0|0|0" ] && [ "$ack_cl" = "$ack_tl" ]; } ||
  result_fail "plan T_L|p|resent|replayed = $t_l|$p|$resent|$replayed (AckCL $ack_cl AckTL $ack_tl), want 2|0|0|0"
result_pass "idle connection re-spliced to b2 $((t1 - t0)) ms after b1's link went down (detected->re-spliced ${total_ms} ms), nothing replayed; then 10M + 1k exact in ${ms} ms on the same socket (port $lport)"
