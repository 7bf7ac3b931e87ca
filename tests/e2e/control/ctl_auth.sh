#!/usr/bin/env bash
# control/ctl_auth: control messages from the logger host to a proxy over
# the test bed (lg 198.18.1.2 -> p1 198.18.1.11, UDP), through craft-ctl
# (the same ctl_channel code the daemons use). The listener on p1 must
# print exactly the authenticated messages, each once, with the sender id
# and the logger's address, and refuse (and count by reason) a wrong key,
# a replayed datagram, an unauthenticated message and garbage.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../../lib.sh"
test_begin
require_tools ip ss
require_bin ctl
topo_up

CTL=$(craft_path ctl)
P1=$(topo_addr p1)
LG=$(topo_addr lg)
PORT=7400
K1=$TOPO_DIR/cluster.key
K2=$TOPO_DIR/other.key
(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$K1" && echo >>"$K1")
(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$K2" && echo >>"$K2")

OUT=$TOPO_DIR/listen.out
topo_start_bg p1 "$OUT" sh -c "exec '$CTL' listen --key '$K1' --bind $P1:$PORT --count 3 --timeout 10s 2>'$OUT.err'"
LPID=$TOPO_LAST_PID
for ((i = 0; i < 100; i++)); do
  topo_exec p1 ss -Hunl "sport = :$PORT" | grep -q . && break
  sleep 0.05
done
topo_exec p1 ss -Hunl "sport = :$PORT" | grep -q . || result_fail "listener did not bind $P1:$PORT"

send() { topo_exec lg "$CTL" send --to "$P1:$PORT" "$@"; }
t0=$(now_ms)
send --key "$K1" --sender-id 2 failed backend=198.18.2.11:80 cause=probe_failed event=41 \
  oldest_txn=12345 oldest_conn=7 conns_affected=3 conns_waiting=1 txns_outstanding=1
send --key "$K2" --sender-id 2 failed backend=198.18.2.11:80 event=666   # wrong key
send --key "$K1" --sender-id 2 --twice recovered backend=198.18.2.11:80 event=42 down_us=5000000
send --no-auth query server=198.18.2.11:80                                 # no HMAC
send --garbage 300
send --key "$K1" --sender-id 2 query client=198.18.11.1:40001 server=198.18.2.11:80 max=8

rc=0
topo_stop "$LPID" TERM 12 || rc=$?
t1=$(now_ms)
say "listener exit $rc; stdout:"; cat "$OUT" >&2; say "stderr:"; cat "$OUT.err" >&2
[ "$rc" = 0 ] || result_fail "listener exit $rc (timeout before 3 messages?)"

lines=$(wc -l <"$OUT")
[ "$lines" = 3 ] || result_fail "listener printed $lines lines, want 3"
grep -q "^backend_failed backend=198.18.2.11:80 cause=probe_failed event=41 .*oldest_txn=12345 oldest_conn=7 conns_affected=3 conns_waiting=1 txns_outstanding=1 sender=2 from=$LG:" "$OUT" ||
  result_fail "backend_failed line missing or wrong"
grep -q "^backend_recovered backend=198.18.2.11:80 event=42 .*down_us=5000000 sender=2 from=$LG:" "$OUT" ||
  result_fail "backend_recovered line missing or wrong"
grep -q "^conn_query .*client=198.18.11.1:40001 server=198.18.2.11:80 .*max=8 .* sender=2 from=$LG:" "$OUT" ||
  result_fail "conn_query line missing or wrong"
grep -q "event=666" "$OUT" && result_fail "a message under the wrong key was printed"

counter() { grep -o "$1=[0-9]*" "$OUT.err" | head -1 | cut -d= -f2; }
[ "$(counter ctl_rx_udp)" = 3 ] || result_fail "ctl_rx_udp=$(counter ctl_rx_udp), want 3"
[ "$(counter ctl_rx_auth_rejected)" = 4 ] || result_fail "ctl_rx_auth_rejected=$(counter ctl_rx_auth_rejected), want 4"
[ "$(counter ctl_auth_bad_tag)" = 1 ] || result_fail "ctl_auth_bad_tag=$(counter ctl_auth_bad_tag), want 1 (wrong key)"
[ "$(counter ctl_auth_replay)" = 1 ] || result_fail "ctl_auth_replay=$(counter ctl_auth_replay), want 1"
result_pass "3 authenticated messages printed once each from $LG; refused 4 (wrong key 1, replay 1, unauthenticated+garbage 2) in $((t1 - t0)) ms"
