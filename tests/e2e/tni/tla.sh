#!/usr/bin/env bash
# tni/tla: the transport-layer architecture. craft-tla holds the server's
# transactional bytes in lg's FORWARD queue; craft-txserver (tcp_tx, TLA
# mode) runs random transactions on 12 concurrent connections, commit
# rates 0/30/70/100% per connection, responses of random size (up to
# 200 KB; half the peers with a small receive window), each attempt
# aborting at a random byte (mid-segment nearly always), at most twice per
# request; segments mixing two attempts are split by the logger. The
# unmodified python peer must read exactly the committed responses, in
# order; a capture on the peer's side
# must show the same bytes and not one aborted byte; the server must have
# read every aborted request again; the daemon's counters agree; it exits
# 0 on SIGTERM with nothing held.
# shellcheck source=tests/e2e/tni/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin

tni_run_random tla 12 20
tni_wait_stats "$TLA_STATS"
kill -0 "$TLA_PID" 2>/dev/null || result_fail "craft-tla died: $(tail -n 3 "$TLA_LOG" | tr '\n' ' ')"
restarts=$(tni_stat "$TLA_STATS" restarts)
discarded=$(tni_stat "$TLA_STATS" discarded_bytes)
split=$(tni_stat "$TLA_STATS" s2p_split)
fake=$(tni_stat "$TLA_STATS" fake_acks)
[ "$restarts" -ge "$SRV_ABORTS" ] || result_fail "craft-tla counted $restarts restarts, the server $SRV_ABORTS aborts"
[ "$discarded" -gt 0 ] || result_fail "no server byte was discarded"
[ "$fake" -gt 0 ] || result_fail "no ACK was generated for discarded bytes"
rc=0
topo_stop "$TLA_PID" TERM 5 || rc=$?
[ "$rc" = 0 ] || result_fail "craft-tla exit status $rc on SIGTERM (want 0)"
held=$(tni_stat "$TLA_STATS" held_bytes)
[ "$held" = 0 ] || result_fail "craft-tla still held $held bytes at exit"
result_pass "$TXNS txns on 12 conns in $RUN_S s, $SRV_ABORTS aborts ($MIDSEG mid-segment; $restarts restarts, $discarded bytes discarded, $split split segments, $fake generated ACKs), $BYTES bytes exact, capture: $CAP_STREAMS streams equal, 0 aborted bytes"
