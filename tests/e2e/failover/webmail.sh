#!/usr/bin/env bash
# failover/webmail: the application session survives its backend (paper
# §4.1-4.3 with backend support). craft-webmail runs on b1 (primary, pushing
# session state to b2's craft-agent) and b2 (alternate); craft-auxd on aux
# counts mail sends per transaction ID; craft-logger tells the agent which
# responses are fully logged ([logged]), detects the failure and answers
# recovery; craft-proxy on p1 recovers with the agent (T_S, T_A, APPLY_UP_TO)
# and tags the replayed request with its old transaction ID (X-Craft-Txn).
# A python client on ONE keep-alive connection through the proxy:
#   1 POST /login  2 POST /compose  3 POST /send (aux request)  4 GET /inbox
# then b1's link goes down, and on the same connection:
#   5 POST /compose (b1 never answers: recovery replays it on b2)
#   6 POST /send    7 GET /inbox
# Asserts: no reconnect; every answer HTTP 200 and consistent (draft ids
# continue, the inbox after the failover is the one before plus nothing
# lost); the aux server saw exactly one request per send (2 distinct, no
# duplicate); the failover row says recovered with T_L = 4, T_A = 3 and
# only T_L + 1 replayed (the read-only 4 and the already applied 1..3 not).
# shellcheck source=tests/e2e/failover/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin
require_bin webmail agent auxd

FO_PORT=8080
FO_TAGS=$(cat "$CRAFT_ROOT/tools/webmail/tags.conf")
FO_PROBE="HEAD / HTTP/1.0"
FO_AGENT=$(topo_addr b2):7500
FO_LOGGER_EXTRA="[logged]
agent = $(topo_addr b1):8080 $(topo_addr b2):7500
sender_id = 5"
STATIC=$CRAFT_ROOT/tools/webmail/static

# shellcheck disable=SC2317 # called by fo_setup
apps() {
  FO_LOGGER_EXTRA="$FO_LOGGER_EXTRA
key_file = $KEY"
  fo_webmail_apps "$STATIC"
}
# shellcheck disable=SC2034 # read by fo_setup
FO_BEFORE_LOGGER=apps
fo_setup

GO=$TOPO_DIR/go
CLIENT=$TOPO_DIR/wm_client.py
cat >"$CLIENT" <<'EOF'
import http.client, os, sys, time
host, go = sys.argv[1], sys.argv[2]
connects = 0
class Conn(http.client.HTTPConnection):
    def connect(self):
        global connects
        connects += 1
        super().connect()
c = Conn(host, 80, timeout=30)
def req(method, path, body=None, sid=None):
    h = {}
    if body is not None:
        h["Content-Type"] = "application/x-www-form-urlencoded"
    if sid:
        h["Cookie"] = "sid=" + sid
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    if r.status != 200:
        print(f"FAIL {method} {path}: HTTP {r.status} {data[:80]!r}"); sys.exit(1)
    return r, data
r, _ = req("POST", "/login", "user=alice&password=secret")
sid = r.getheader("Set-Cookie").split("sid=")[1].split(";")[0]
port = c.sock.getsockname()[1]
_, d = req("POST", "/compose", "to=bob%40example.org&subject=one&body=first", sid)
d1 = d.split()[1].decode()
_, s1 = req("POST", "/send", "id=" + d1, sid)
_, inbox1 = req("GET", "/inbox", sid=sid)
open(go + ".ready", "w").close()
while not os.path.exists(go):  # the test takes b1 down meanwhile
    time.sleep(0.05)
t0 = time.monotonic()
_, d = req("POST", "/compose", "to=carol%40example.org&subject=two&body=second", sid)
t_compose = time.monotonic() - t0
d2 = d.split()[1].decode()
_, s2 = req("POST", "/send", "id=" + d2, sid)
_, inbox2 = req("GET", "/inbox", sid=sid)
if connects != 1 or c.sock.getsockname()[1] != port:
    print(f"FAIL the client reconnected ({connects} connects)"); sys.exit(1)
if int(d2) != int(d1) + 1:
    print(f"FAIL draft ids {d1} then {d2}: the session lost state"); sys.exit(1)
# the inbox after the failover: every message from before, plus the new one
m1, m2 = inbox1.splitlines()[1:], inbox2.splitlines()[1:]
if m2[: len(m1)] != m1 or len(m2) != len(m1) + 1 or b"carol@example.org two" not in m2[-1]:
    print(f"FAIL inbox {inbox1!r} -> {inbox2!r}"); sys.exit(1)
print(f"OK {port} {d1} {d2} {t_compose * 1000:.0f} {s1.decode().split()[0]} {s2.decode().split()[0]}")
EOF
topo_exec cl timeout 60 python3 "$CLIENT" "$VIP" "$GO" >"$TOPO_DIR/client.out" 2>&1 &
CL_PID=$!
wait_for 20 test -e "$GO.ready" || result_fail "the first four requests did not complete: $(cat "$TOPO_DIR/client.out") $(px_log_tail)"
sleep 0.5 # the logger's LOGGED marks reach the agent
fo_kill_link b1
touch "$GO"
rc=0
wait "$CL_PID" || rc=$?
out=$(cat "$TOPO_DIR/client.out")
[ "$rc" = 0 ] || result_fail "client (exit $rc): ${out//$'\n'/ }; proxy: $(px_log_tail 4)"
read -r ok lport d1 d2 t_ms s1 s2 <<<"$out"
[ "$ok" = OK ] || result_fail "client: $out"

aux_stats=$(fo_aux_stats "$AUX") || result_fail "auxd STATS failed"
aux_head=$(head -n 1 <<<"$aux_stats")
px_wait_stat 3 recovery_recovered -ge 1 || true
rows=$(fo_rows)
say "failover rows: $rows; aux: $aux_head"
px_stop
lg_stop
[ "$aux_head" = "total 2 distinct 2 duplicates 0" ] || result_fail "aux server saw: $aux_head (want one request per send)"
IFS='|' read -r outcome backend alternate t_l _ _ _ t_r _ replayed total_ms _ <<<"$(head -n 1 <<<"$rows")"
[ "$outcome|$backend|$alternate" = "recovered|$B1:8080|$B2:8080" ] || result_fail "failover row: $rows"
t_a=$(sqlite3 -batch -noheader "$PX_DB" "SELECT t_a & 65535 FROM failover_events")
[ "$t_l|$t_a|$t_r|$replayed" = "4|3|4|1" ] || result_fail "plan T_L|T_A|T_R|replayed = $t_l|$t_a|$t_r|$replayed, want 4|3|4|1"
[ "$(px_stat recovery_txns_replayed)" = 0 ] || result_fail "recovery replayed $(px_stat recovery_txns_replayed) completed transactions, want 0"
# The operator's tool plans the same from the logger's database and the agent.
conn=$(sqlite3 -batch -noheader "$PX_DB" "SELECT conn_id FROM failover_events")
plan=$(topo_exec p1 "$(craft_path recover)" --db "$LG_DB" --conn-id "$conn" --agent "$FO_AGENT" \
  --key "$KEY" --dry-run 2>&1) || result_fail "craft-recover: ${plan//$'\n'/ }"
say "craft-recover: ${plan//$'\n'/ | }"
{ grep -q '^T_L 4  p 0 ' <<<"$plan" && grep -q '^T_S 3  T_A 3  T_R 4  T_SP 5$' <<<"$plan" &&
  grep -q '^replay 1:$' <<<"$plan" && grep -q '^  5 POST /compose (update) = T_L+1' <<<"$plan"; } ||
  result_fail "craft-recover --dry-run plan differs: ${plan//$'\n'/ | }"
result_pass "craft-recover --dry-run agrees; session continued on b2 (drafts $d1 then $d2, sends $s1 $s2, aux: $aux_head); request 5 answered ${t_ms} ms after b1 went down, detected->re-spliced ${total_ms} ms; T_L $t_l T_A $t_a T_R $t_r, 1 request replayed, client port $lport never reconnected"
