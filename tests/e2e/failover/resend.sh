#!/usr/bin/env bash
# failover/resend: equation 1 of the paper. The client lacks response bytes
# the logger has (AckCL < AckTL + p), so recovery must send them from the
# logger's copy before the alternate's bytes. As failover/static (nginx on
# b1 and b2, /20M read slowly on one keep-alive connection, then /1k three
# times), but just before b1's link goes down the client stops receiving
# for a second (cl drops every segment from the VIP): b1's last window of
# bytes passes the logger and is lost on the way to the client, and b1 is
# gone before it could retransmit. Asserts: every body exact (sha256), one
# connect, the failover row "recovered" with ack_cl < ack_tl + p and
# bytes_resent >= the gap, and recovery fetched at least that many bytes
# from the logger.
# shellcheck source=tests/e2e/failover/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin

FO_KEEP=32MiB
fo_setup
CLIENT=$(fo_download_client)
PROGRESS=$TOPO_DIR/progress
SIZE=$(stat -c %s "$(topo_www_file 20M)")
topo_exec cl timeout 60 python3 "$CLIENT" "$VIP" "$TOPO_DIR/www" 8000000 "$PROGRESS" 20M \
  >"$TOPO_DIR/client.out" 2>&1 &
CL_PID=$!
wait_for 30 fo_progress_past "$PROGRESS" $((SIZE * 4 / 10)) ||
  result_fail "the download did not reach 40%: $(cat "$TOPO_DIR/client.out") $(px_log_tail)"
topo_exec cl iptables -w -I INPUT -p tcp -s "$VIP" -j DROP -m comment --comment fo-blackout
sleep 0.2
fo_kill_link b1
sleep 1
topo_exec cl iptables -w -D INPUT -p tcp -s "$VIP" -j DROP -m comment --comment fo-blackout
rc=0
wait "$CL_PID" || rc=$?
out=$(cat "$TOPO_DIR/client.out")
[ "$rc" = 0 ] || result_fail "client (exit $rc): ${out//$'\n'/ }; proxy: $(px_log_tail 6)"
read -r ok connects lport gap secs <<<"$out"
{ [ "$ok" = OK ] && [ "$connects" = 1 ]; } || result_fail "client: $out"
px_require_alive "after the failover"
px_wait_stat 3 recovery_recovered -ge 1 || true
rows=$(fo_rows)
say "failover rows: $rows"
px_stop
lg_stop
IFS='|' read -r outcome backend alternate _ p ack_cl ack_tl _ resent _ total_ms _ <<<"$(head -n 1 <<<"$rows")"
[ "$outcome|$backend|$alternate" = "recovered|$B1:80|$B2:80" ] || result_fail "failover row: $rows"
gap_bytes=$((ack_tl + p - ack_cl))
[ "$gap_bytes" -gt 0 ] || result_fail "AckCL $ack_cl = AckTL $ack_tl + p $p: the client lacked nothing, equation 1 not exercised"
[ "$resent" -ge "$gap_bytes" ] || result_fail "resent $resent bytes, the client lacked $gap_bytes"
[ "$(px_stat recovery_bytes_fetched)" -ge "$gap_bytes" ] || result_fail "fetched $(px_stat recovery_bytes_fetched) bytes from the logger, less than $gap_bytes"
result_pass "client lacked $gap_bytes logged bytes (AckCL $ack_cl < AckTL $ack_tl + p $p): resent from the logger's copy ($resent B with the alternate's early bytes); 20M + 3x1k exact, 1 connect (port $lport); client gap ${gap} ms, detected->re-spliced ${total_ms} ms"
