#!/usr/bin/env bash
# failover/manual: an operator recovers a dead backend's live connections by
# hand with craft-recover, the logger's detection being off. Same bed and
# client as failover/static (one keep-alive connection: /20M read at a
# bounded rate, then /1k three times). At 40% of the body b1's link goes
# down; nothing declares it failed (the logger's [detect] is off), so the
# client stalls. Then:
#   1. craft-recover --backend B1:80 --dry-run on the logger's database
#      prints the plan of the one open connection: T_L 0, p > 0;
#   2. craft-recover --backend B1:80 --proxy P1:7700 --key KEY declares b1
#      failed (BACKEND_FAILED, cause manual) and the proxy recovers the
#      connection to b2.
# Asserts: the client's bytes are exact and it connected once; the proxy
# recovered one connection (no reset) with a failover row b1 -> b2 whose
# plan equals the dry run's T_L and whose p is at least the dry run's (the
# database lags the live logger); the logger declared nothing.
# shellcheck source=tests/e2e/failover/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin
require_bin recover

FO_KEEP=32MiB
FO_DETECT=no
fo_setup
RATE=8000000
PROGRESS=$TOPO_DIR/progress
CLIENT=$(fo_download_client)

topo_exec cl timeout 60 python3 "$CLIENT" "$VIP" "$TOPO_DIR/www" "$RATE" "$PROGRESS" 20M \
  >"$TOPO_DIR/client.out" 2>&1 &
CL_PID=$!
SIZE=$(stat -c %s "$(topo_www_file 20M)")
wait_for 30 fo_progress_past "$PROGRESS" $((SIZE * 4 / 10)) || result_fail "the download did not reach 40%: $(cat "$TOPO_DIR/client.out") $(px_log_tail)"
fo_kill_link b1
at=$(cat "$PROGRESS")
# the client stalls: nobody declares b1 failed (the last rows reach the
# database within the store's max_delay meanwhile)
sleep 1
stalled=$(cat "$PROGRESS")
[ "$(px_stat recovery_jobs_started)" = 0 ] || result_fail "a recovery started without a declaration: $(grep '^recovery_' "$PX_STATS" | tr '\n' ' ')"

plan=$(topo_exec lg "$(craft_path recover)" --db "$LG_DB" --backend "$B1:80" --dry-run 2>&1) ||
  result_fail "craft-recover --dry-run --backend: ${plan//$'\n'/ | }"
grep -q '1 open connection(s) planned, 0 could not be' <<<"$plan" || result_fail "dry run: ${plan//$'\n'/ | }"
read -r plan_tl plan_p <<<"$(awk '/^T_L / { print $2, $4 }' <<<"$plan")"
{ [ "$plan_tl" = 0 ] && [ "$plan_p" -gt 0 ]; } || result_fail "dry run plan T_L=$plan_tl p=$plan_p: ${plan//$'\n'/ | }"

t0=$(now_ms)
out=$(topo_exec lg "$(craft_path recover)" --backend "$B1:80" --proxy "$(topo_addr p1):7700" \
  --key "$KEY" 2>&1) || result_fail "craft-recover: ${out//$'\n'/ | }"
grep -q "declared $B1:80 failed to 1 proxies" <<<"$out" || result_fail "craft-recover: ${out//$'\n'/ | }"
rc=0
wait "$CL_PID" || rc=$?
t1=$(now_ms)
cout=$(cat "$TOPO_DIR/client.out")
[ "$rc" = 0 ] || result_fail "client (exit $rc): ${cout//$'\n'/ }; proxy: $(px_log_tail 6)"
read -r ok connects lport _ secs <<<"$cout"
[ "$ok" = OK ] || result_fail "client: $cout"
[ "$connects" = 1 ] || result_fail "client called connect() $connects times, want 1"
px_require_alive "after the failover"
px_wait_stat 3 recovery_recovered -ge 1 || true
rows=$(fo_rows)
px_stop
lg_stop
[ "$(px_stat accepted)" = 1 ] || result_fail "proxy accepted $(px_stat accepted) connections, want 1"
[ "$(px_stat recovery_recovered)" = 1 ] || result_fail "recovery_recovered $(px_stat recovery_recovered), want 1: $rows"
[ "$(px_stat recovery_reset)" = 0 ] || result_fail "recovery_reset $(px_stat recovery_reset): $rows"
[ "$(lg_stat detect_failures)" = 0 ] || result_fail "the logger declared a failure with detection off"
[ "$(wc -l <<<"$rows")" = 1 ] || result_fail "want one failover row, got: $rows"
IFS='|' read -r outcome backend alternate t_l p _ <<<"$rows"
[ "$outcome|$backend|$alternate" = "recovered|$B1:80|$B2:80" ] || result_fail "failover row: $rows"
{ [ "$t_l" = "$plan_tl" ] && [ "$p" -ge "$plan_p" ]; } || result_fail "recovery T_L=$t_l p=$p, dry run T_L=$plan_tl p=$plan_p"
result_pass "stalled at $stalled bytes (link down at $at) until craft-recover; declared -> client done $((t1 - t0)) ms; 1 connect (port $lport), 20M + 3x1k exact in ${secs}s; dry run T_L $plan_tl p $plan_p, recovery T_L $t_l p $p"
