#!/usr/bin/env bash
# failover/sigkill: the backend's server PROCESSES die (SIGKILL) while its
# host lives on. Unlike a link going down, b1's kernel then closes their
# sockets: a FIN (or RST) heads for the client and later client segments
# draw RSTs. craft-logger holds such a close when the protocol does not
# explain it, probes b1:80, and on a refused probe drops the close and
# declares b1 failed at once, so that the proxy's recovery moves the client
# to b2 (crash_guard.h). Three cases, one test bed (nginx on b1 and b2,
# craft-logger on lg, craft-proxy on p1; cl's receive buffer capped at
# 1 MiB so that nginx cannot have a whole response in flight ahead of the
# client):
#   1. worker: only nginx's worker is SIGKILLed, the master lives (and
#      starts a new worker): the probe answers, so the close is a real one
#      and must reach the client: curl's 20M download ends short (exit 18),
#      one connect; the logger declared nothing, the proxy recovered nothing.
#   2. download: at ~60% of a 20 MiB download (curl, one connection, read
#      at 8 MB/s) every nginx process on b1 (master and worker, by PID) is
#      SIGKILLed: curl completes with the exact sha256 and one connect; the
#      proxy recovered the connection (failover row b1 -> b2, T_L 0, p > 0)
#      and b2 sent the rest; the logger's failover row says cause
#      probe_failed, trigger close, and the detection came within the probe
#      timeout of the last byte.
#   3. idle: nginx on b1 restarted (the logger sees b1 recover); a python
#      client does /1k and /10M on ONE keep-alive connection; every nginx
#      process on b1 is SIGKILLed between two transactions; the FIN of the
#      idle connection is dropped and recovery re-splices it to b2; the
#      next requests on the same socket (/10M, /1k) are answered by b2,
#      exact, one connect.
# shellcheck disable=SC2317 # the predicates below run through wait_for
# shellcheck source=tests/e2e/failover/_lib.sh
source "$(dirname "$0")/_lib.sh"
# shellcheck source=tests/e2e/failover/_crash.sh
source "$(dirname "$0")/_crash.sh"
test_begin
require_tools ps

FO_KEEP=32MiB # the logger keeps the whole response: the first p bytes are compared
fo_setup
crash_cap_rcvbuf cl 1048576
SIZE=$(stat -c %s "$(topo_www_file 20M)")
W=$TOPO_DIR/w
mkdir -p "$W"
PROBE_MS=300 # [probe] timeout of fo__logger

# px_delta NAME BEFORE: a proxy counter's growth (the stats file is
# rewritten every second: wait for it first).
px_delta() { echo $(($(px_stat "$1") - $2)); }
lg_rows() { crash_lg_row | grep -c . || true; }

# curl_get NAME OUT: GET /NAME through the VIP at 4 MiB/s, in the background;
# "CODE CONNECTS BYTES" in OUT.
curl_get() {
  topo_exec cl curl -sS --max-time 60 --limit-rate 4M -o "$W/$1" \
    -w '%{http_code} %{num_connects} %{size_download}' "http://$VIP/$1" >"$2" 2>"$2.err" &
  CURL_PID=$!
}
got_past() { [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -ge "$2" ]; }
b1_listens() { topo_exec b1 ss -Hltn "sport = :80" | grep -q .; }
# the counters reach the stats file within its interval (1 s): wait for a
# rewrite after the event rather than read a stale one
lg_stat_ge() { [ "$(lg_stat "$1")" -ge "$2" ]; }

# ---- 1. a worker dies, the service lives: a real close ----------------------
acc0=$(px_stat accepted)
rows0=$(lg_rows)
curl_get 20M "$W/worker.out"
wait_for 30 got_past "$W/20M" $((SIZE * 3 / 10)) || result_fail "worker case: the download did not reach 30%: $(cat "$W/worker.out.err")"
crash_kill_worker b1
say "worker $CRASH_KILLED killed at $(stat -c %s "$W/20M") bytes"
rc=0
wait "$CURL_PID" || rc=$?
read -r code connects bytes <"$W/worker.out" || true
[ "$rc" = 18 ] || result_fail "worker case: curl exit $rc (want 18: the close must reach the client): $(cat "$W/worker.out" "$W/worker.out.err")"
{ [ "$connects" = 1 ] && [ "$bytes" -lt "$SIZE" ]; } || result_fail "worker case: curl $code $connects connects $bytes bytes"
lg_wait_stat crash_passed_alive 1 5
w_alive=$(lg_stat crash_passed_alive)
[ "$(lg_stat crash_probes_dead)" = 0 ] || result_fail "worker case: a probe failed although the master lives"
[ "$(lg_stat crash_dropped)" = 0 ] || result_fail "worker case: the logger dropped a close of a live service"
[ "$(lg_stat detect_failures)" = 0 ] || result_fail "worker case: the logger declared b1 failed: $(crash_lg_row)"
[ "$(lg_rows)" = "$rows0" ] || result_fail "worker case: failover row: $(crash_lg_row)"
px_wait_stat 3 accepted -ge $((acc0 + 1)) || true
[ "$(px_delta accepted "$acc0")" = 1 ] || result_fail "worker case: proxy accepted $(px_delta accepted "$acc0") connections"
[ "$(px_stat recovery_jobs_started)" = 0 ] || result_fail "worker case: the proxy started a recovery"
case1="worker killed: the close reached the client after the probe answered (curl exit 18 at $((bytes >> 20)) MiB, $w_alive close(s) passed alive)"

# ---- 2. every nginx process dies mid-response: moved to b2 ------------------
wait_for 5 b1_listens || result_fail "nginx on b1 did not recover from the worker kill"
acc0=$(px_stat accepted)
rec0=$(px_stat recovery_recovered)
rst0=$(px_stat recovery_reset)
rm -f "$W/20M"
t_start=$(now_ms)
curl_get 20M "$W/dl.out"
wait_for 30 got_past "$W/20M" $((SIZE * 6 / 10)) || result_fail "download case: the download did not reach 60%: $(cat "$W/dl.out.err") $(px_log_tail)"
b2_tx0=$(if_bytes b2 eth0 tx)
crash_kill_nginx b1
at_kill=$(stat -c %s "$W/20M")
say "nginx on b1 ($CRASH_KILLED) killed at $at_kill bytes, $(($(now_ms) - t_start)) ms after the start"
# A kill that lands after the whole response is in cl's socket is the idle
# case, not this one (the test host was too slow to poll).
[ "$at_kill" -lt $((SIZE * 9 / 10)) ] || result_fail "download case: precondition: the kill came at $at_kill bytes, too late for a crash mid-response"
rc=0
wait "$CURL_PID" || rc=$?
read -r code connects bytes <"$W/dl.out" || true
[ "$rc" = 0 ] || result_fail "download case: curl exit $rc: $(cat "$W/dl.out" "$W/dl.out.err"); proxy: $(px_log_tail 4); logger: $(tail -n 3 "$LG_LOG" | tr '\n' ' ')"
{ [ "$code" = 200 ] && [ "$bytes" = "$SIZE" ]; } || result_fail "download case: HTTP $code, $bytes bytes"
[ "$connects" = 1 ] || result_fail "download case: curl made $connects connects, want 1"
sha_eq "$W/20M" "$(topo_www_file 20M)" || result_fail "download case: the 20M download differs from the file served"
b2_tx=$(($(if_bytes b2 eth0 tx) - b2_tx0))
px_require_alive "after the failover"
px_wait_stat 3 recovery_recovered -ge $((rec0 + 1)) || true
[ "$(px_delta accepted "$acc0")" = 1 ] || result_fail "download case: proxy accepted $(px_delta accepted "$acc0") connections"
[ "$(px_delta recovery_recovered "$rec0")" = 1 ] || result_fail "download case: recovery_recovered grew by $(px_delta recovery_recovered "$rec0"): $(fo_rows)"
[ "$(px_delta recovery_reset "$rst0")" = 0 ] || result_fail "download case: recovery reset the client: $(fo_rows)"
rows=$(fo_rows)
IFS='|' read -r outcome backend alternate t_l p ack_cl _ _ resent _ total_ms _ <<<"$(tail -n 1 <<<"$rows")"
[ "$outcome|$backend|$alternate" = "recovered|$B1:80|$B2:80" ] || result_fail "download case: failover row: $rows"
{ [ "$t_l" = 0 ] && [ "$p" -gt 0 ]; } || result_fail "download case: plan T_L=$t_l p=$p, want T_L=0 p>0"
[ "$b2_tx" -gt $((SIZE - p)) ] || result_fail "download case: b2 sent $b2_tx bytes, less than the $((SIZE - p)) the client lacked"
wait_for 3 lg_stat_ge crash_probes_dead 1 || result_fail "download case: no failed probe in the crash guard"
wait_for 3 lg_stat_ge crash_dropped 1 || result_fail "download case: the crash guard dropped no close"
lrow=$(crash_lg_row | tail -n 1)
grep -q "^$B1:80|detected|" <<<"$lrow" || result_fail "download case: logger failover row: $lrow"
{ grep -q ' cause=probe_failed ' <<<"$lrow" && grep -q ' trigger=close' <<<"$lrow"; } || result_fail "download case: logger row not the crash guard's: $lrow; logger: $(grep -E 'crash|backend_failed' "$LG_LOG" | tail -n 4 | tr '\n' ' ')"
lat_us=$(grep -o ' latency_us=[0-9]*' <<<"$lrow" | cut -d= -f2)
[ "$lat_us" -le $(((PROBE_MS + 200) * 1000)) ] || result_fail "download case: detection latency_us $lat_us, want within the probe timeout (${PROBE_MS} ms) + 200 ms of the last byte"
hold_us=$(lg_stat crash_hold_us_max)
case2="download: killed at $((at_kill * 100 / SIZE))%, 20M exact, 1 connect, detected $((lat_us / 1000)) ms after the last byte (close held at most $((hold_us / 1000)) ms), detected->re-spliced ${total_ms} ms; T_L $t_l p $p AckCL $ack_cl resent $resent"

# ---- 3. the crash falls between two transactions ----------------------------
topo_nginx b1
lg_wait_stat detect_recoveries 1 15
acc0=$(px_stat accepted)
rec0=$(px_stat recovery_recovered)
dropped0=$(lg_stat crash_dropped)
GO=$TOPO_DIR/go
CLIENT=$(fo_idle_client)
topo_exec cl timeout 60 python3 "$CLIENT" "$VIP" "$TOPO_DIR/www" "$GO" >"$W/idle.out" 2>&1 &
CL_PID=$!
wait_for 20 test -e "$GO.ready" || result_fail "idle case: the first requests did not complete: $(cat "$W/idle.out")"
sleep 0.2 # nothing in flight: the last response is complete and acknowledged
t0=$(now_ms)
crash_kill_nginx b1
px_wait_stat 15 recovery_recovered -ge $((rec0 + 1)) || result_fail "idle case: no recovery of the idle connection: $(px_log_tail 4); logger: $(tail -n 3 "$LG_LOG" | tr '\n' ' ')"
t1=$(now_ms)
touch "$GO"
rc=0
wait "$CL_PID" || rc=$?
out=$(cat "$W/idle.out")
[ "$rc" = 0 ] || result_fail "idle case: client (exit $rc): ${out//$'\n'/ }; proxy: $(px_log_tail 4)"
read -r ok connects lport ms <<<"$out"
{ [ "$ok" = OK ] && [ "$connects" = 1 ]; } || result_fail "idle case: client: $out"
wait_for 3 lg_stat_ge crash_dropped $((dropped0 + 1)) || result_fail "idle case: the crash guard dropped no close"
px_require_alive "after the second failover"
rows=$(fo_rows)
px_stop
lg_stop
[ "$(px_delta accepted "$acc0")" = 1 ] || result_fail "idle case: proxy accepted $(px_delta accepted "$acc0") connections"
IFS='|' read -r outcome backend alternate t_l p _ _ _ resent replayed _ _ <<<"$(tail -n 1 <<<"$rows")"
[ "$outcome|$backend|$alternate" = "recovered|$B1:80|$B2:80" ] || result_fail "idle case: failover row: $rows"
{ [ "$t_l|$p|$resent|$replayed" = "2|0|0|0" ]; } || result_fail "idle case: plan T_L|p|resent|replayed = $t_l|$p|$resent|$replayed, want 2|0|0|0"
[ "$(wc -l <<<"$rows")" = 2 ] || result_fail "want two failover rows at the proxy, got: $rows"
case3="idle: re-spliced to b2 $((t1 - t0)) ms after the kill, then 10M + 1k exact on the same socket (port $lport) in ${ms} ms"
result_pass "$case1; $case2; $case3"
