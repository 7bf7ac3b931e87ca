#!/usr/bin/env bash
# logger/detect: adaptive backend failure detection in craft-logger, end to
# end (paper §3.5; detect.h, control.h). httpd.py on b1 serves through lg;
# craft-ctl listens on p1 as recovery's listener (authenticated UDP).
#   1. Warm-up: 30 GETs of /1k on one keep-alive connection teach the
#      detector the kind "GET /1k".
#   2. httpd.py is frozen (SIGSTOP by PID); a GET of /1k is sent: the
#      request is outstanding. Within the adaptive timeout + the confirm
#      window the logger declares b1 failed: a failover_events row appears
#      (outcome "detected") and an authenticated BACKEND_FAILED reaches p1,
#      repeated 3 times with the same event id. Detection latency (the
#      logger's latency_us, and request-sent -> detected on the wall clock)
#      is printed and bounded by ceiling + confirm + 200 ms of slack.
#   3. While b1 is down, CONN_QUERY of the waiting connection shows the
#      outstanding transaction (request complete, no response byte).
#   4. Forged control datagrams (other key, no authentication, a replay,
#      random garbage) to the logger's UDP port get no answer and are
#      counted in ctl_rx_auth_rejected; the logger keeps answering.
#   5. SIGCONT: the waiting GET completes byte-exact, the probes succeed and
#      BACKEND_RECOVERED reaches p1 with down_us > 0.
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
BADKEY=$TOPO_DIR/bad.key
ctl_keys "$BADKEY"
CEIL_MS=2000 CONFIRM_MS=300 TICK_MS=10
CONF=$TOPO_DIR/logger.conf
lg_config "$CONF" "$(ctl_detect_conf "$CEIL_MS" "$CONFIRM_MS" "$TICK_MS" 300)
[control]
bind = $LGA:7600
peer = $P1:7700
key_file = $KEY
sender_id = 5
repeats = 3
repeat_interval = 50ms"
lg_start "$CONF"
CTL=("$(craft_path ctl)")
LISTEN=$TOPO_DIR/listen.out
ctl_listen p1 "$P1:7700" "$KEY" "$LISTEN" --count 6 --timeout 60s
LISTEN_PID=$CTL_LISTEN_PID

# ---- 1. warm-up -------------------------------------------------------------------
W=$TOPO_DIR/curl
mkdir -p "$W"
urls=()
for ((i = 0; i < 30; i++)); do urls+=(-o "$W/warm$i" "http://$B1:8000/1k"); done
topo_exec cl curl -sS --connect-timeout 5 -w '%{http_code}\n' "${urls[@]}" >"$W/warm.txt" || result_fail "warm-up curl failed"
[ "$(grep -c '^200$' "$W/warm.txt")" = 30 ] || result_fail "warm-up: $(sort "$W/warm.txt" | uniq -c | tr '\n' ' ')"
for ((i = 0; i < 30; i++)); do sha_eq "$W/warm$i" "$(topo_www_file 1k)" || result_fail "warm-up body $i differs"; done
lg_wait_stat detect_samples_wait 30
[ "$(lg_stat detect_failures)" = 0 ] || result_fail "a failure was declared during the warm-up"

# ---- 2. freeze with a request outstanding -----------------------------------------
kill -STOP "$PY_PID" || result_fail "SIGSTOP $PY_PID failed"
t_req=$(date +%s%6N)
CPORT=42777
topo_exec cl curl -sS --connect-timeout 5 --max-time 60 --local-port "$CPORT" -o "$W/frozen" \
  -w '%{http_code} %{size_download}\n' "http://$B1:8000/1k" >"$W/frozen.txt" 2>&1 &
CURL_PID=$!
has_failed() { grep -q '^backend_failed ' "$LISTEN"; }
wait_for 10 has_failed || {
  kill -CONT "$PY_PID"
  result_fail "no BACKEND_FAILED within 10 s: $(tail -n 3 "$LG_LOG" | tr '\n' ' ')"
}
t_seen=$(date +%s%6N)
fl=$(grep -m1 '^backend_failed ' "$LISTEN")
for kv in "backend=$B1:8000" "sender=5" "from=$LGA:7600" "oldest_conn=" "conns_waiting=1"; do
  grep -q " $kv" <<<"$fl" || result_fail "BACKEND_FAILED lacks $kv: $fl"
done
event=$(grep -o ' event=[0-9]*' <<<"$fl")
lat_us=$(grep -o ' latency_us=[0-9]*' <<<"$fl" | cut -d= -f2)
det_us=$(grep -o ' detected_us=[0-9]*' <<<"$fl" | cut -d= -f2)
tmo_us=$(grep -o ' timeout_us=[0-9]*' <<<"$fl" | cut -d= -f2)
cause=$(grep -o ' cause=[a-z_]*' <<<"$fl" | cut -d= -f2)
wall_ms=$(((det_us - t_req) / 1000))
seen_ms=$(((t_seen - t_req) / 1000))
SLACK_MS=200 # one tick + the event loop's scheduling delay on a loaded machine
bound_ms=$((CEIL_MS + CONFIRM_MS + SLACK_MS))
[ "$((lat_us / 1000))" -le "$bound_ms" ] || result_fail "latency_us $lat_us over the bound ${bound_ms} ms"
[ "$wall_ms" -le $((bound_ms + 200)) ] || result_fail "request sent -> detected ${wall_ms} ms, over ${bound_ms} ms + 200 ms"
# confirmed, not guessed: the request was overdue (its timeout passed) and
# then either the confirm window passed or the probe failed
[ "$lat_us" -ge "$tmo_us" ] || result_fail "latency_us $lat_us shorter than the request's timeout $tmo_us"
# the repeats: 3 copies, one event id
three() { [ "$(grep -c '^backend_failed ' "$LISTEN")" -ge 3 ]; }
wait_for 3 three || result_fail "want 3 copies of BACKEND_FAILED, got $(grep -c '^backend_failed ' "$LISTEN")"
[ "$(grep '^backend_failed ' "$LISTEN" | grep -o ' event=[0-9]*' | sort -u)" = "$event" ] || result_fail "copies carry different event ids"
row() { q "$LG_DB" "SELECT backend || '|' || outcome FROM failover_events" 2>/dev/null | grep -q "^$B1:8000|detected$"; }
wait_for 5 row || result_fail "no failover_events row: $(q "$LG_DB" 'SELECT * FROM failover_events' 2>&1 | tr '\n' ' ')"
detail=$(q "$LG_DB" "SELECT detail FROM failover_events")
grep -q "${event# }" <<<"$detail" || result_fail "failover row does not name the event: $detail"

# ---- 3. CONN_QUERY of the waiting connection -----------------------------------------
topo_exec p1 "${CTL[@]}" send --key "$KEY" --to "$LGA:7600" --sender-id 31 --wait 2s query query=1 \
  client="$CL:$CPORT" server="$B1:8000" >"$W/reply" || result_fail "no CONN_REPLY for the waiting connection"
# one transaction: request complete (state 1), no response byte; nothing logged from the server
{ grep -Eq ' ntxn=1 txn=[0-9]+:1:1:[0-9]+:0-[0-9]+:0-0 from=' "$W/reply" && grep -q ' last_server_byte=0 ' "$W/reply"; } ||
  result_fail "CONN_REPLY of the waiting connection: $(cat "$W/reply")"

# ---- 4. forged and garbage datagrams ------------------------------------------------
rej0=$(lg_stat ctl_rx_auth_rejected)
rc=0
topo_exec p1 "${CTL[@]}" send --key "$BADKEY" --to "$LGA:7600" --sender-id 31 --wait 1s query query=2 \
  client="$CL:$CPORT" server="$B1:8000" >"$W/forged" 2>&1 || rc=$?
[ "$rc" = 1 ] || result_fail "a query sealed with another key was answered (rc $rc): $(cat "$W/forged")"
topo_exec p1 "${CTL[@]}" send --no-auth --to "$LGA:7600" query client="$CL:$CPORT" server="$B1:8000" ||
  result_fail "craft-ctl send --no-auth failed"
topo_exec p1 "${CTL[@]}" send --key "$KEY" --to "$LGA:7600" --sender-id 32 --twice query client="$CL:$CPORT" server="$B1:8000" ||
  result_fail "craft-ctl send --twice failed"
for n in 3 64 700; do
  topo_exec p1 "${CTL[@]}" send --to "$LGA:7600" --garbage "$n" || result_fail "craft-ctl --garbage failed"
done
lg_wait_stat ctl_rx_auth_rejected $((rej0 + 6)) # other key, no auth, replay, 3 garbage
lg_alive

# ---- 5. SIGCONT: the request completes, the backend recovers ----------------------
kill -CONT "$PY_PID" || result_fail "SIGCONT failed"
wait "$CURL_PID" || result_fail "the waiting curl failed: $(cat "$W/frozen.txt")"
sha_eq "$W/frozen" "$(topo_www_file 1k)" || result_fail "the response that waited differs from the file"
recovered() { grep -q '^backend_recovered ' "$LISTEN"; }
wait_for 10 recovered || result_fail "no BACKEND_RECOVERED within 10 s of SIGCONT"
rl=$(grep -m1 '^backend_recovered ' "$LISTEN")
grep -q " backend=$B1:8000 " <<<"$rl" || result_fail "BACKEND_RECOVERED names another backend: $rl"
down_us=$(grep -o ' down_us=[0-9]*' <<<"$rl" | cut -d= -f2)
[ "${down_us:-0}" -gt 0 ] || result_fail "BACKEND_RECOVERED without down time: $rl"
wait "$LISTEN_PID" || result_fail "the listener did not get 6 messages: $(cat "$LISTEN.err")"
grep -q 'ctl_rx_auth_rejected=0' "$LISTEN.err" || result_fail "the listener refused datagrams: $(cat "$LISTEN.err")"
lg_wait_stat detect_recoveries 1 # the stats file is rewritten every second
[ "$(lg_stat detect_failures)" = 1 ] || result_fail "detect_failures = $(lg_stat detect_failures), want 1"
[ "$(lg_stat detect_recoveries)" = 1 ] || result_fail "detect_recoveries = $(lg_stat detect_recoveries), want 1"
lg_stop
result_pass "frozen backend declared failed: latency_us=$lat_us (cause $cause, timeout_us=$tmo_us, confirm ${CONFIRM_MS} ms), request sent -> detected ${wall_ms} ms, -> listener ${seen_ms} ms (bound ${bound_ms} ms); 3 authenticated copies${event}; failover row; 6 forged/garbage datagrams refused; recovered after SIGCONT (down ${down_us} us), waiting response byte-exact"
