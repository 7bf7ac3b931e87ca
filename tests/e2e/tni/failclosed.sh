#!/usr/bin/env bash
# tni/failclosed: craft-tla is killed (SIGKILL) while it holds the first
# half of a transaction's response. The held packets die with its queue
# and rules/tla.sh has no --queue-bypass, so nothing of the uncommitted
# response may reach the peer afterwards either (the server's TCP keeps
# retransmitting it): a capture on the peer's side must show no response
# byte at all.
# shellcheck source=tests/e2e/tni/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin

tni_setup tla --compute-ms 3000 --commit-rate 100
tni_capture_start
topo_start_bg cl "$TOPO_DIR/client.out" timeout 12 python3 "$TNI_DIR/_client.py" --host "$PEER_HOST" \
  --port "$PEER_PORT" --conns 1 --txns 1 --size 60000 --timeout 8
cl_pid=$TOPO_LAST_PID
# The first half goes out after 1.5 s of "compute" and is held.
# shellcheck disable=SC2317 # called through wait_for
holding() { [ "$(tni_stat "$TLA_STATS" held_bytes)" -gt 0 ]; }
wait_for 6 holding ||
  result_fail "craft-tla never held anything: $(tr '\n' ' ' <"$TLA_STATS" | head -c 300)"
held=$(tni_stat "$TLA_STATS" held_bytes)
topo_stop "$TLA_PID" KILL 2 || true
# The server computes on, writes the rest, fails to commit, gives up.
rc=0
topo_stop "$cl_pid" TERM 14 || rc=$?
tni_capture_stop
status=$(topo_exec lg "$CRAFT_ROOT/rules/tla.sh" status >/dev/null 2>&1 && echo up || echo down)
[ "$status" = up ] || result_fail "rules/tla.sh status: $status after the daemon died"
cap=$(python3 "$TNI_DIR/_pcap.py" "$CAP_PCAP" "$PEER_PORT")
segs=$(json_get "$cap" segments)
[ "$segs" = 0 ] || result_fail "$segs response segments reached the peer after craft-tla died holding $held bytes: $cap"
grep -q '"errors": 0' "$TOPO_DIR/client.out" && result_fail "the peer got a complete response without the logger: $(cat "$TOPO_DIR/client.out")"
result_pass "craft-tla killed while holding $held bytes: 0 response bytes reached the peer, rules still up (fail-closed)"
