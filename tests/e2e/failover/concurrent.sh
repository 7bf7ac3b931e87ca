#!/usr/bin/env bash
# failover/concurrent: several client connections on the failed backend
# recover at the same time (issue 6). Three python clients on cl, each ONE
# keep-alive connection through the proxy to nginx on b1, download /10M at a
# bounded rate and then /1k three times. When the first has 40% of its body,
# b1's link goes down (no FIN, no RST). Asserts: every body of every client
# is exact (sha256), no client reconnected, the proxy accepted three
# connections, and recovered three (three "recovered" rows b1 -> b2, no
# reset). Prints the longest client-side gap and the per-connection
# detected -> re-spliced times.
# shellcheck source=tests/e2e/failover/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin

N=3
FO_KEEP=16MiB
fo_setup
CLIENT=$(fo_download_client)
SIZE=$(stat -c %s "$(topo_www_file 10M)")
pids=()
for ((i = 0; i < N; i++)); do
  topo_exec cl timeout 60 python3 "$CLIENT" "$VIP" "$TOPO_DIR/www" 4000000 "$TOPO_DIR/progress.$i" 10M \
    >"$TOPO_DIR/client.$i.out" 2>&1 &
  pids+=($!)
done
wait_for 30 fo_progress_past "$TOPO_DIR/progress.0" $((SIZE * 4 / 10)) ||
  result_fail "the downloads did not reach 40%: $(cat "$TOPO_DIR"/client.*.out) $(px_log_tail)"
fo_kill_link b1
gaps=""
for ((i = 0; i < N; i++)); do
  rc=0
  wait "${pids[$i]}" || rc=$?
  out=$(cat "$TOPO_DIR/client.$i.out")
  [ "$rc" = 0 ] || result_fail "client $i (exit $rc): ${out//$'\n'/ }; proxy: $(px_log_tail 6)"
  read -r ok connects _ gap _ <<<"$out"
  { [ "$ok" = OK ] && [ "$connects" = 1 ]; } || result_fail "client $i: $out"
  gaps="$gaps $gap"
done
px_require_alive "after the failover"
px_wait_stat 3 recovery_recovered -ge "$N" || true
rows=$(fo_rows)
say "failover rows: ${rows//$'\n'/ ; }"
px_stop
lg_stop
[ "$(px_stat accepted)" = "$N" ] || result_fail "proxy accepted $(px_stat accepted) connections, want $N"
[ "$(px_stat recovery_recovered)" = "$N" ] || result_fail "recovery_recovered $(px_stat recovery_recovered), want $N: $rows"
[ "$(px_stat recovery_reset)" = 0 ] || result_fail "recovery_reset $(px_stat recovery_reset): $rows"
[ "$(grep -c "^recovered|$B1:80|$B2:80|" <<<"$rows")" = "$N" ] || result_fail "failover rows: $rows"
times=$(cut -d'|' -f11 <<<"$rows" | tr '\n' ' ')
result_pass "$N connections recovered at once, every body exact, no reconnect; client gaps (ms):$gaps; detected->re-spliced (ms): $times"
