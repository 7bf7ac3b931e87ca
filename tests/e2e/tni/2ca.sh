#!/usr/bin/env bash
# tni/2ca: the two-connection architecture. The peer connects to
# craft-relay2ca on lg, which opens a second connection to craft-txserver
# (tcp_tx, 2CA mode) on b1 and holds the server's transactional bytes in
# memory until commit. Same workload and checks as tni/tla: 12 concurrent
# connections, random transactions and abort points, commit rates
# 0/30/70/100%; exact bytes at the peer, the capture equal to them with no
# aborted byte, every aborted request read again by the server.
# shellcheck source=tests/e2e/tni/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin

tni_run_random 2ca 12 20
tni_wait_stats "$RELAY_STATS"
kill -0 "$RELAY_PID" 2>/dev/null || result_fail "craft-relay2ca died: $(tail -n 3 "$RELAY_LOG" | tr '\n' ' ')"
restarts=$(tni_stat "$RELAY_STATS" restarts)
discarded=$(tni_stat "$RELAY_STATS" discarded_bytes)
released=$(tni_stat "$RELAY_STATS" released_bytes)
[ "$restarts" -ge "$SRV_ABORTS" ] || result_fail "craft-relay2ca counted $restarts restarts, the server $SRV_ABORTS aborts"
[ "$discarded" -gt 0 ] || result_fail "no server byte was discarded"
rc=0
topo_stop "$RELAY_PID" TERM 5 || rc=$?
[ "$rc" = 0 ] || result_fail "craft-relay2ca exit status $rc on SIGTERM (want 0)"
result_pass "$TXNS txns on 12 conns in $RUN_S s, $SRV_ABORTS aborts ($MIDSEG mid-segment; $restarts restarts, $discarded bytes discarded, $released released), $BYTES bytes exact, capture: $CAP_STREAMS streams equal, 0 aborted bytes"
