#!/usr/bin/env bash
# tni/control_2ca: tni/control against the 2CA relay: control connections
# dropping mid-transaction abort cleanly (the relay discards what the
# server still sends for the transaction until the reconnected library
# tells it where it ended), and bad control requests get TX_FAILURE and
# change nothing.
# shellcheck source=tests/e2e/tni/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin

tni_run_control 2ca
tni_wait_stats "$RELAY_STATS"
lost=$(tni_stat "$RELAY_STATS" owner_lost)
auth=$(tni_stat "$RELAY_STATS" ctl_auth_fail)
[ "$lost" -ge "$DROPS" ] || result_fail "craft-relay2ca aborted $lost transactions on control loss, the server lost $DROPS"
[ "$auth" -gt 0 ] || result_fail "craft-relay2ca refused no forged request"
result_pass "$TXNS txns exact ($BYTES bytes), $DROPS control connections dropped mid-transaction ($lost aborted by the relay), $PROBES bad requests refused, capture: 0 aborted bytes"
