#!/usr/bin/env bash
# failover/static: a backend dies in the middle of a response and the
# client's connection moves to the alternate, live (paper §4.2-4.3).
# nginx serves the same files on b1 and b2; craft-logger on lg detects
# failures and answers recovery's questions; craft-proxy on p1 splices the
# client to b1 and recovers to b2. A python http.client on cl opens ONE
# keep-alive connection, downloads /20M reading at a bounded rate, then asks
# /1k three times on the same connection. When about 40% of the body has
# arrived, b1's link goes down (no FIN, no RST reaches anyone). Asserts:
#   - every body is exact (sha256) and the client's socket never
#     reconnected (one connect(), same local port, the proxy accepted one
#     connection);
#   - the proxy recovered exactly one connection: recovery_recovered = 1,
#     no reset, and a failover_events row "recovered" b1 -> b2 with T_L = 0,
#     p > 0 (the part of /20M b1 had sent);
#   - b2 served the rest: its interface sent more than the remainder.
# Prints the recovery time seen by the client (longest gap between two reads)
# and the proxy's detected -> re-spliced time.
# shellcheck source=tests/e2e/failover/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin

# The logger keeps the whole response: the first p bytes are compared.
FO_KEEP=32MiB
fo_setup
RATE=${FO_RATE:-8000000} # bytes/s the client reads
PROGRESS=$TOPO_DIR/progress
CLIENT=$(fo_download_client)

topo_exec cl timeout 60 python3 "$CLIENT" "$VIP" "$TOPO_DIR/www" "$RATE" "$PROGRESS" 20M \
  >"$TOPO_DIR/client.out" 2>&1 &
CL_PID=$!
SIZE=$(stat -c %s "$(topo_www_file 20M)")
wait_for 30 fo_progress_past "$PROGRESS" $((SIZE * 4 / 10)) || result_fail "the download did not reach 40%: $(cat "$TOPO_DIR/client.out") $(px_log_tail)"
b2_tx0=$(if_bytes b2 eth0 tx)
fo_kill_link b1
say "b1 link down at $(cat "$PROGRESS") bytes"
rc=0
wait "$CL_PID" || rc=$?
out=$(cat "$TOPO_DIR/client.out")
[ "$rc" = 0 ] || result_fail "client (exit $rc): ${out//$'\n'/ }; proxy: $(px_log_tail 6); logger: $(tail -n 3 "$LG_LOG" | tr '\n' ' ')"
read -r ok connects lport gap secs <<<"$out"
[ "$ok" = OK ] || result_fail "client: $out"
[ "$connects" = 1 ] || result_fail "client called connect() $connects times, want 1"
b2_tx=$(($(if_bytes b2 eth0 tx) - b2_tx0))
px_require_alive "after the failover"
px_wait_stat 3 recovery_recovered -ge 1 || true
rows=$(fo_rows)
say "failover rows: $rows"
say "proxy stats: $(grep '^recovery_' "$PX_STATS" | tr '\n' ' ')"
px_stop
lg_stop
[ "$(px_stat accepted)" = 1 ] || result_fail "proxy accepted $(px_stat accepted) connections, want 1"
[ "$(px_stat recovery_recovered)" = 1 ] || result_fail "recovery_recovered $(px_stat recovery_recovered), want 1: $rows"
[ "$(px_stat recovery_reset)" = 0 ] || result_fail "recovery_reset $(px_stat recovery_reset): $rows"
IFS='|' read -r outcome backend alternate t_l p ack_cl ack_tl t_r resent replayed total_ms _ <<<"$(head -n 1 <<<"$rows")"
[ "$(wc -l <<<"$rows")" = 1 ] || result_fail "want one failover row, got: $rows"
[ "$outcome|$backend|$alternate" = "recovered|$B1:80|$B2:80" ] || result_fail "failover row: $rows"
{ [ "$t_l" = 0 ] && [ "$p" -gt 0 ]; } || result_fail "plan T_L=$t_l p=$p, want T_L=0 p>0"
[ "$b2_tx" -gt $((SIZE - p)) ] || result_fail "b2 sent $b2_tx bytes, less than the $((SIZE - p)) the client lacked"
result_pass "client gap ${gap} ms (longest between reads), detected->re-spliced ${total_ms} ms; 1 connect (port $lport), 20M + 3x1k exact in ${secs}s; T_L $t_l p $p AckCL $ack_cl AckTL $ack_tl T_R $t_r resent $resent B replayed $replayed"
