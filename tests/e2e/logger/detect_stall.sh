#!/usr/bin/env bash
# logger/detect_stall: a backend frozen in the middle of a response. curl on
# cl downloads the 20M file from httpd.py on b1 through lg at 5 MB/s; once
# 2 MB arrived, httpd.py is frozen (SIGSTOP by PID). The bytes already in
# the sockets still flow; then nothing: the response stalls. craft-logger
# must declare b1 failed within the transfer timeout (the ceiling: the kind
# "GET /20M" has no samples yet) + confirm + slack after the last byte (the
# message's latency_us), send the authenticated BACKEND_FAILED to p1 and
# write the failover row; after SIGCONT the download completes byte-exact
# and BACKEND_RECOVERED follows.
# The stall must be real: cl's receive buffer is capped at 1 MiB. With the
# kernel's autotuning (up to 32 MiB here) httpd.py could push all 20 MiB
# into curl's socket within half a second, and a freeze that lands after
# that finds b1 with nothing outstanding - an idle backend, which only the
# idle probe can see (that is what a rare failure of this scenario was: the
# log showed the response complete before the freeze). The scenario also
# checks that precondition against the log itself.
# shellcheck disable=SC2317 # the predicates below run through wait_for
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../../lib.sh"
# shellcheck source=tests/e2e/logger/_lib.sh
source "$(dirname "$0")/_lib.sh"
# shellcheck source=tests/e2e/logger/_ctl.sh
source "$(dirname "$0")/_ctl.sh"
test_begin
require_tools curl iptables sqlite3 sha256sum python3
require_bin logger ctl

ctl_bed
topo_exec cl sysctl -qw net.ipv4.tcp_rmem="4096 131072 1048576"
CEIL_MS=2000 CONFIRM_MS=300 TICK_MS=10 SLACK_MS=200
CONF=$TOPO_DIR/logger.conf
lg_config "$CONF" "$(ctl_detect_conf "$CEIL_MS" "$CONFIRM_MS" "$TICK_MS" 300)
[control]
peer = $P1:7700
key_file = $KEY
repeats = 1"
lg_start "$CONF"
LISTEN=$TOPO_DIR/listen.out
ctl_listen p1 "$P1:7700" "$KEY" "$LISTEN" --count 2 --timeout 60s
LISTEN_PID=$CTL_LISTEN_PID

W=$TOPO_DIR/w
mkdir -p "$W"
topo_exec cl curl -sS --connect-timeout 5 --max-time 60 --limit-rate 5M -o "$W/20M" "http://$B1:8000/20M" 2>"$W/curl.err" &
CURL_PID=$!
two_mb() { [ "$(stat -c %s "$W/20M" 2>/dev/null || echo 0)" -ge 2000000 ]; }
wait_for 10 two_mb || result_fail "the download did not reach 2 MB: $(cat "$W/curl.err")"
kill -STOP "$PY_PID" || result_fail "SIGSTOP failed"
freeze_us=$(date +%s%6N)
at_freeze=$(stat -c %s "$W/20M")
has_failed() { grep -q '^backend_failed ' "$LISTEN"; }
wait_for 20 has_failed || {
  kill -CONT "$PY_PID"
  result_fail "no BACKEND_FAILED within 20 s of the freeze: $(tail -n 2 "$LG_LOG" | tr '\n' ' ')"
}
at_detect=$(stat -c %s "$W/20M")
done_us=$(q "$LG_DB" "SELECT coalesce(min(complete_us), 0) FROM transactions WHERE summary = 'GET /20M'")
{ [ "$done_us" = 0 ] || [ "$done_us" -gt "$freeze_us" ]; } || result_fail "precondition: b1 had sent the whole response $(((freeze_us - done_us) / 1000)) ms before the freeze: no stall to detect"
fl=$(grep -m1 '^backend_failed ' "$LISTEN")
{ grep -q " backend=$B1:8000 " <<<"$fl" && grep -q ' conns_waiting=1 ' <<<"$fl"; } || result_fail "BACKEND_FAILED: $fl"
lat_us=$(grep -o ' latency_us=[0-9]*' <<<"$fl" | cut -d= -f2)
tmo_us=$(grep -o ' timeout_us=[0-9]*' <<<"$fl" | cut -d= -f2)
cause=$(grep -o ' cause=[a-z_]*' <<<"$fl" | cut -d= -f2)
bound_ms=$((CEIL_MS + CONFIRM_MS + SLACK_MS))
[ "$((lat_us / 1000))" -le "$bound_ms" ] || result_fail "latency_us $lat_us over ${bound_ms} ms"
[ "$lat_us" -ge "$tmo_us" ] || result_fail "latency_us $lat_us shorter than the stall timeout $tmo_us"
[ "$at_detect" -lt $((20 << 20)) ] || result_fail "the download completed before the detection: not a stall"
row() { q "$LG_DB" "SELECT outcome FROM failover_events WHERE backend = '$B1:8000'" 2>/dev/null | grep -q '^detected$'; }
wait_for 5 row || result_fail "no failover_events row"
kill -CONT "$PY_PID" || result_fail "SIGCONT failed"
wait "$CURL_PID" || result_fail "the download failed after SIGCONT: $(cat "$W/curl.err")"
sha_eq "$W/20M" "$(topo_www_file 20M)" || result_fail "the 20M download differs from the file served"
wait "$LISTEN_PID" || result_fail "no BACKEND_RECOVERED after SIGCONT: $(cat "$LISTEN.err")"
grep -q "^backend_recovered backend=$B1:8000 " "$LISTEN" || result_fail "second message is not BACKEND_RECOVERED: $(tail -n 1 "$LISTEN")"
lg_stop
result_pass "stalled mid-response ($((at_freeze >> 20)) MiB at the freeze, $((at_detect >> 20)) MiB when declared): cause $cause, latency_us=$lat_us after the last byte (stall timeout_us=$tmo_us, bound ${bound_ms} ms); failover row; recovered after SIGCONT; 20M byte-exact"
