#!/usr/bin/env bash
# failover/app_state: backend support end to end, without a failure
# (paper §4.1 steps 3 and 5, §3.4). craft-webmail runs on b1 (primary,
# pushing to b2's agent) and on b2 (alternate, fed by craft-agent over its
# UNIX socket); craft-auxd runs on aux. A python http.client script in cl
# logs in, composes, sends (one aux request), reads the inbox and asks the
# two non-deterministic pages on ONE keep-alive connection to b1. Then:
#   - the aux server saw the send exactly once, tagged with the
#     transaction ID (client ip, port, ordinal 3) both sides computed;
#   - b2's agent holds the state of the three updates (T_A = 3) and the
#     two replay aids, but applied nothing (T_S = 0) and b2 does not know
#     the session yet: state waits for the logger;
#   - a forged LOGGED (wrong key) is refused and counted, nothing applied;
#   - after LOGGED for 1..3 (craft-agent --notify-logged, the logger's
#     message) T_S = 3 and b2's /inbox with the session cookie is byte for
#     byte b1's;
#   - b2's application restarts: the agent re-applies the session;
#   - recovery's APPLY_UP_TO (up to 4) hands b2 the aids of 5 and 6:
#     replaying /random and /dice on b2 with X-Craft-Txn returns exactly
#     the bytes b1 sent;
#   - a logout on b1 (a DELETE snapshot) removes the session from b2 once
#     logged;
#   - the daemons exit 0 on SIGTERM.
# shellcheck disable=SC2317 # the predicates below run through wait_for
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../../lib.sh"
test_begin

require_tools python3 curl timeout
require_bin agent webmail auxd
topo_up

B1=$(topo_addr b1)
B2=$(topo_addr b2)
AUX=$(topo_addr aux)
CL=$(topo_addr cl)
KEY=$TOPO_DIR/cluster.key
BADKEY=$TOPO_DIR/other.key
SOCK=$TOPO_DIR/b2-webmail.sock
STATIC=$CRAFT_ROOT/tools/webmail/static
AGENT=(-o "agent.bind=$B2:7500" -o "agent.key_file=$KEY")
od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$KEY"
od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$BADKEY"
chmod 600 "$KEY" "$BADKEY"

start_daemon aux auxd "$TOPO_DIR/auxd.log" -o "auxd.listen=$AUX:7000" -s "$TOPO_DIR/auxd.stats"
AUX_PID=$DAEMON_PID
start_b2() {
  start_daemon b2 webmail "$TOPO_DIR/b2.log" -o "webmail.listen=$B2:80" \
    -o "webmail.apply_socket=$SOCK" -o "webmail.static_dir=$STATIC" \
    -o "webmail.aux=$AUX:7000" -s "$TOPO_DIR/b2.stats"
  B2_PID=$DAEMON_PID
}
start_b2
start_daemon b2 agent "$TOPO_DIR/agent.log" "${AGENT[@]}" -o "agent.app_socket=$SOCK" \
  -o agent.sender_id=12 -s "$TOPO_DIR/agent.stats"
AGENT_PID=$DAEMON_PID
start_daemon b1 webmail "$TOPO_DIR/b1.log" -o "webmail.listen=$B1:80" \
  -o "webmail.static_dir=$STATIC" -o "webmail.aux=$AUX:7000" \
  -o "sync.agent=$B2:7500" -o "sync.key_file=$KEY" -o sync.sender_id=11 \
  -s "$TOPO_DIR/b1.stats"
B1_PID=$DAEMON_PID

log_tail() { tail -n 3 "$TOPO_DIR/$1.log" | tr '\n' ' '; }
wait_port aux "$AUX" 7000 || result_fail "auxd did not listen: $(log_tail auxd)"
wait_port b2 "$B2" 80 || result_fail "webmail b2 did not listen: $(log_tail b2)"
wait_port b1 "$B1" 80 || result_fail "webmail b1 did not listen: $(log_tail b1)"
agent_stat() { stats_get "$TOPO_DIR/agent.stats" "$1"; }
app_connected() { [ "$(agent_stat app_connected 2>/dev/null)" = 1 ]; }
wait_for 5 app_connected || result_fail "agent never connected to b2's webmail: $(log_tail agent)"

# ---- the workload on b1 -------------------------------------------------------

CLIENT=$TOPO_DIR/app_client.py
cat >"$CLIENT" <<'EOF'
import http.client, sys
host = sys.argv[1]
c = http.client.HTTPConnection(host, 80, timeout=10)
def req(method, path, body=None, sid=None, status=200):
    h = {}
    if body is not None:
        h["Content-Type"] = "application/x-www-form-urlencoded"
    if sid:
        h["Cookie"] = "sid=" + sid
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    if r.status != status:
        print(f"FAIL {method} {path}: HTTP {r.status} {data[:80]!r}"); sys.exit(1)
    return r, data
r, _ = req("POST", "/login", "user=alice&password=secret")
sid = r.getheader("Set-Cookie").split("sid=")[1].split(";")[0]
port = c.sock.getsockname()[1]
_, d = req("POST", "/compose", "to=bob%40example.org&subject=hello&body=Hi+Bob%2C+lunch%3F", sid)
draft = d.split()[1].decode()
_, d = req("POST", "/send", "id=" + draft, sid)
sent = d.decode().strip()
_, inbox = req("GET", "/inbox", sid=sid)
_, rnd = req("GET", "/random")
_, dice = req("GET", "/dice")
if c.sock.getsockname()[1] != port:
    print("FAIL client reconnected"); sys.exit(1)
open(sys.argv[2] + "/b1_inbox", "wb").write(inbox)
open(sys.argv[2] + "/b1_random", "wb").write(rnd)
open(sys.argv[2] + "/b1_dice", "wb").write(dice)
print(f"OK {port} {sid} {sent.replace(' ', '_')}")
EOF
out=$(topo_exec cl timeout 20 python3 "$CLIENT" "$B1" "$TOPO_DIR" 2>&1) ||
  result_fail "client: ${out//$'\n'/ } b1: $(log_tail b1)"
read -r ok PORT SID SENT <<<"$out"
[ "$ok" = OK ] || result_fail "client: $out"
say "client port $PORT, session $SID, $SENT"

# transaction IDs as both sides compute them: client ip, port, ordinal
txn_of() {
  local IFS=.
  # shellcheck disable=SC2086 # split the dotted quad
  set -- $CL
  printf '%02x%02x%02x%02x%04x%04x' "$1" "$2" "$3" "$4" "$PORT" "$ORD"
}
ORD=1 T1=$(txn_of)
ORD=2 T2=$(txn_of)
ORD=3 T3=$(txn_of)
ORD=5 T5=$(txn_of)
ORD=6 T6=$(txn_of)

# ---- the aux server: once, tagged ---------------------------------------------

aux_stats=$(topo_exec aux timeout 5 python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 7000), timeout=5)
s.sendall(b"STATS\n")
buf = b""
while not buf.endswith(b"END\n"):
    d = s.recv(65536)
    if not d: break
    buf += d
print(buf.decode(), end="")' "$AUX") || result_fail "auxd STATS failed"
head=$(head -n 1 <<<"$aux_stats")
[ "$head" = "total 1 distinct 1 duplicates 0" ] || result_fail "aux server saw: $head"
grep -q "^txn $T3 count 1 to bob@example.org$" <<<"$aux_stats" ||
  result_fail "aux request not tagged with txn $T3: $(tr '\n' ' ' <<<"$aux_stats")"
[ "$SENT" = "sent_2_aux_1" ] || result_fail "send answered '$SENT'"

# ---- b2's agent holds the state, applies nothing yet ----------------------------

query() { topo_exec b2 "$(craft_path agent)" "${AGENT[@]}" --query "$CL:$PORT" 2>&1; }
field() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; }
q=$(query) || result_fail "agent query: $q"
[ "$(field "$q" t_a_ord)" = 3 ] || result_fail "T_A should be 3: $q"
[ "$(field "$q" t_s_ord)" = 0 ] || result_fail "T_S should be 0 before LOGGED: $q"
[ "$(field "$q" pending)" = 3 ] || result_fail "3 records should be held: $q"
[ "$(field "$q" aids)" = 2 ] || result_fail "the /random and /dice aids should be held: $q"
[ "$(field "$q" t_a)" = "$T3" ] || result_fail "T_A is $(field "$q" t_a), want $T3"
b2_inbox() { topo_exec cl curl -s -o "$TOPO_DIR/b2_inbox" -w '%{http_code}' -b "sid=$SID" "http://$B2/inbox"; }
code=$(b2_inbox)
[ "$code" = 401 ] || result_fail "b2 knew the session before LOGGED (HTTP $code)"

# a forged LOGGED is refused and counted
topo_exec b2 "$(craft_path agent)" "${AGENT[@]}" --key "$BADKEY" --notify-logged "$T1,$T2,$T3" ||
  result_fail "could not send the forged LOGGED"
forged() { [ "$(agent_stat auth_bad_tag 2>/dev/null)" = 1 ]; }
wait_for 3 forged || result_fail "forged LOGGED not counted: auth_bad_tag=$(agent_stat auth_bad_tag)"
q=$(query)
[ "$(field "$q" t_s_ord)" = 0 ] || result_fail "a forged LOGGED applied state: $q"

# ---- LOGGED: applied on b2 ------------------------------------------------------

topo_exec b2 "$(craft_path agent)" "${AGENT[@]}" --notify-logged "$T1,$T2,$T3" ||
  result_fail "could not send LOGGED"
t_s_is_3() { q=$(query) && [ "$(field "$q" t_s_ord)" = 3 ]; }
wait_for 5 t_s_is_3 || result_fail "T_S did not reach 3 after LOGGED: $q $(log_tail agent)"
code=$(b2_inbox)
[ "$code" = 200 ] || result_fail "b2 /inbox after LOGGED: HTTP $code"
cmp -s "$TOPO_DIR/b1_inbox" "$TOPO_DIR/b2_inbox" ||
  result_fail "b2 inbox differs: $(tr '\n' '|' <"$TOPO_DIR/b2_inbox") vs $(tr '\n' '|' <"$TOPO_DIR/b1_inbox")"

# b2's application restarts empty: the agent gives it the session again
topo_stop "$B2_PID" TERM 5 || result_fail "webmail b2 exited $? on SIGTERM"
start_b2
wait_port b2 "$B2" 80 || result_fail "webmail b2 did not come back: $(log_tail b2)"
reconnected() { [ "$(agent_stat app_connects 2>/dev/null)" = 2 ] && [ "$(b2_inbox)" = 200 ]; }
wait_for 5 reconnected || result_fail "b2 lost the session across its restart: $(log_tail agent)"
cmp -s "$TOPO_DIR/b1_inbox" "$TOPO_DIR/b2_inbox" || result_fail "b2 inbox differs after its restart"

# ---- recovery: aids for 5 and 6, replay byte-exact --------------------------------

r=$(topo_exec b2 "$(craft_path agent)" "${AGENT[@]}" --apply-up-to "$CL:$PORT:4" 2>&1) ||
  result_fail "apply-up-to: $r"
[ "$(field "$r" t_s_ord)" = 3 ] || result_fail "apply-up-to reply: $r"
replay() { topo_exec cl curl -s -H "X-Craft-Txn: $2" -o "$TOPO_DIR/b2_$1" "http://$B2/$1"; }
aids_in() { [ "$(stats_get "$TOPO_DIR/b2.stats" aids_received 2>/dev/null)" = 2 ]; }
wait_for 3 aids_in || result_fail "b2 did not receive the 2 aids: $(log_tail b2)"
replay random "$T5" || result_fail "replay of /random failed"
replay dice "$T6" || result_fail "replay of /dice failed"
cmp -s "$TOPO_DIR/b1_random" "$TOPO_DIR/b2_random" ||
  result_fail "replayed /random differs: $(cat "$TOPO_DIR/b2_random") vs $(cat "$TOPO_DIR/b1_random")"
cmp -s "$TOPO_DIR/b1_dice" "$TOPO_DIR/b2_dice" ||
  result_fail "replayed /dice differs: $(cat "$TOPO_DIR/b2_dice") vs $(cat "$TOPO_DIR/b1_dice")"

# ---- logout on b1: the session goes away on b2 once logged ----------------------

out=$(topo_exec cl timeout 10 python3 -c '
import http.client, sys
c = http.client.HTTPConnection(sys.argv[1], 80, timeout=5)
c.request("POST", "/logout", body="", headers={"Cookie": "sid=" + sys.argv[2]})
r = c.getresponse(); r.read()
print(r.status, c.sock.getsockname()[1])' "$B1" "$SID" 2>&1) || result_fail "logout: $out"
read -r lstatus LPORT <<<"$out"
[ "$lstatus" = 200 ] || result_fail "logout on b1: HTTP $lstatus"
PORT=$LPORT
ORD=1 TL=$(txn_of)
deleted() { [ "$(stats_get "$TOPO_DIR/agent.stats" store_records_stored 2>/dev/null)" = 4 ]; }
wait_for 3 deleted || result_fail "the logout snapshot did not reach the agent"
topo_exec b2 "$(craft_path agent)" "${AGENT[@]}" --notify-logged "$TL" || result_fail "LOGGED $TL"
gone() { [ "$(b2_inbox)" = 401 ]; }
wait_for 5 gone || result_fail "b2 still knows the session after the logged logout"

# ---- counters, clean exit -----------------------------------------------------

sleep 1.1 # one more stats interval
b1s=$TOPO_DIR/b1.stats
pushes=$(stats_get "$b1s" sync_pushes)
acked=$(stats_get "$b1s" sync_acked)
waits=$(stats_get "$b1s" sync_waits_ok)
applied=$(agent_stat store_applied)
# 4 snapshots and 2 saved aids (one chunk each), every one acknowledged
if [ "$pushes" != 4 ] || [ "$acked" != 6 ]; then
  result_fail "b1 pushed $pushes, acked $acked (want 4, 6)"
fi
[ "$waits" = 2 ] || result_fail "b1 synchronous saves acknowledged: $waits (want 2)"
[ "$applied" = 4 ] || result_fail "agent applied $applied (want 4)"
[ "$(agent_stat rx_malformed)" = 0 ] || result_fail "agent counted malformed input"
for p in "$B1_PID" "$AGENT_PID" "$B2_PID" "$AUX_PID"; do
  rc=0
  topo_stop "$p" TERM 5 || rc=$?
  [ "$rc" = 0 ] || result_fail "a daemon (pid $p) exited $rc on SIGTERM"
done
result_pass "4 updates pushed and acked, applied on b2 only after LOGGED (forged one refused)," \
  "b2 inbox == b1 inbox, /random and /dice replayed byte-exact from 2 aids, aux request 1x" \
  "tagged $T3, session survived a b2 restart, logout deleted it on b2"
