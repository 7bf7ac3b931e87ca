#!/usr/bin/env bash
# tni/sma: the single-machine architecture: no logger daemon (lg only
# forwards); craft-txserver's library (tcp_tx, SMA mode) keeps each
# transaction's output until commit and replays its input after a restart.
# Same workload and checks as tni/tla: 12 concurrent connections, random
# transactions and abort points, commit rates 0/30/70/100%; exact bytes at
# the peer, the capture equal to them with no aborted byte, every aborted
# request read again by the server.
# shellcheck source=tests/e2e/tni/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin

tni_run_random sma 12 20
result_pass "$TXNS txns on 12 conns in $RUN_S s, $SRV_ABORTS aborts ($MIDSEG mid-segment) replayed in the library, $BYTES bytes exact, capture: $CAP_STREAMS streams equal, 0 aborted bytes"
