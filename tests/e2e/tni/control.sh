#!/usr/bin/env bash
# tni/control: the TLA's control connections under stress. Every 3rd
# transaction's control connection drops in the middle of its response:
# craft-tla must abort it cleanly (drop what it held and everything the
# server still sends for it, acknowledging it), the library reconnects and
# tells it where the transaction ended, restarts it, and the peer still
# reads exactly the committed responses. Every 4th commit is preceded by
# bad requests — wrong offsets (2 kinds), unknown connection, forged (other
# key), replayed frame, wrong session — each must get TX_FAILURE with its
# reason and change nothing: the connection's output stays exact.
# shellcheck source=tests/e2e/tni/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin

tni_run_control tla
tni_wait_stats "$TLA_STATS"
lost=$(tni_stat "$TLA_STATS" owner_lost)
auth=$(tni_stat "$TLA_STATS" ctl_auth_fail)
offs=$(tni_stat "$TLA_STATS" ctl_fail_offsets)
unk=$(tni_stat "$TLA_STATS" ctl_fail_unknown_conn)
[ "$lost" -ge "$DROPS" ] || result_fail "craft-tla aborted $lost transactions on control loss, the server lost $DROPS"
if [ "$auth" = 0 ] || [ "$offs" = 0 ] || [ "$unk" = 0 ]; then
  result_fail "craft-tla counters: auth_fail=$auth offsets=$offs unknown=$unk"
fi
result_pass "$TXNS txns exact ($BYTES bytes), $DROPS control connections dropped mid-transaction ($lost aborted by craft-tla), $PROBES bad requests refused (auth $auth, offsets $offs, unknown $unk), capture: 0 aborted bytes"
