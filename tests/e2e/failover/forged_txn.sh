#!/usr/bin/env bash
# failover/forged_txn: a client cannot pick a transaction ID with its own
# "X-Craft-Txn" header (txn_header_auth.h). craft-webmail on b1 holds the
# cluster key (webmail.txn_key_file) and believes X-Craft-Txn only with a
# valid X-Craft-Txn-Auth tag for the connection it arrives on, the tag the
# recovery manager adds to its replays. Through the proxy (which splices the
# client's bytes untouched):
#   connection A: alice logs in (cookie CA), composes, sends (aux request);
#   the test reads the IDs of that login and that send from the logger's
#   database (an attacker who guessed them) and the backend-side port of
#   connection B;
#   connection B: logs in as alice with "X-Craft-Txn: <A's login ID>" (no
#   tag), again with a wrong tag, then sends a mail with "X-Craft-Txn: <A's
#   send ID>" and a wrong tag; last, as a positive control, logs in with
#   A's login ID and the tag the test computed with the cluster key for B's
#   backend-side connection (what only the recovery manager can do).
# Asserts: the forged logins get other cookies than CA (the login cookie is
# HMAC(secret, transaction ID, user): a believed header would hand the
# client alice's session), the forged send is a new transaction at the aux
# server (A's send counted once, no duplicate), the tagged login gets CA
# (the check tells the two apart), and webmail counted 3 refused headers
# and 1 believed one.
# shellcheck source=tests/e2e/failover/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin
require_bin webmail auxd

FO_PORT=8080
FO_TAGS=$(cat "$CRAFT_ROOT/tools/webmail/tags.conf")
FO_PROBE="HEAD / HTTP/1.0"
AUX=$(topo_addr aux)
IVIP=$(topo_addr ivip)
IFS=. read -r i1 i2 i3 i4 <<<"$IVIP"
IVIP_INT=$(((i1 << 24) | (i2 << 16) | (i3 << 8) | i4)) # as the database stores it

# shellcheck disable=SC2317 # called by fo_setup
apps() {
  start_daemon aux auxd "$TOPO_DIR/auxd.log" -o "auxd.listen=$AUX:7000" -s "$TOPO_DIR/auxd.stats"
  start_daemon b1 webmail "$TOPO_DIR/b1.log" -o "webmail.listen=$B1:8080" \
    -o "webmail.static_dir=$CRAFT_ROOT/tools/webmail/static" -o "webmail.aux=$AUX:7000" \
    -o "webmail.txn_key_file=$KEY" -s "$TOPO_DIR/b1.stats"
  wait_port aux "$AUX" 7000 || result_fail "auxd did not listen"
  wait_port b1 "$B1" 8080 || result_fail "webmail b1 did not listen: $(tail -n 3 "$TOPO_DIR/b1.log" | tr '\n' ' ')"
}
# shellcheck disable=SC2034 # read by fo_setup
FO_BEFORE_LOGGER=apps
fo_setup

W=$TOPO_DIR/w
mkdir -p "$W"
CLIENT=$TOPO_DIR/forged_client.py
cat >"$CLIENT" <<'EOF'
import http.client, os, sys, time
host, w, role = sys.argv[1], sys.argv[2], sys.argv[3]
c = http.client.HTTPConnection(host, 80, timeout=20)
def req(path, body, sid=None, extra=None):
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    if sid:
        h["Cookie"] = "sid=" + sid
    h.update(extra or {})
    c.request("POST", path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    if r.status != 200:
        print(f"FAIL POST {path}: HTTP {r.status} {data[:80]!r}"); sys.exit(1)
    return r, data.decode()
def login(extra=None):
    r, _ = req("/login", "user=alice&password=secret", extra=extra)
    return r.getheader("Set-Cookie").split("sid=")[1].split(";")[0]
def send(sid, to, extra=None):
    _, d = req("/compose", f"to={to}%40example.org&subject=s&body=b", sid)
    _, d = req("/send", "id=" + d.split()[1], sid, extra)
    return d.strip().replace(" ", "_")
def wait_file(name):
    for _ in range(400):
        if os.path.exists(f"{w}/{name}"):
            return open(f"{w}/{name}").read().split()
        time.sleep(0.05)
    print(f"FAIL no {name} from the test"); sys.exit(1)
if role == "A":
    ca = login()
    print("login", ca)
    print("send", send(ca, "bob"))
    sys.exit(0)
ca, id_login, id_send = wait_file("ids")
own = login()                                   # opens B's backend connection
open(f"{w}/b.ready", "w").close()
forged = {"X-Craft-Txn": id_login}
print("forged_login", login(forged))
print("forged_login_tag", login({**forged, "X-Craft-Txn-Auth": "0" * 32}))
print("forged_send", send(ca, "mallory", {"X-Craft-Txn": id_send, "X-Craft-Txn-Auth": "f" * 32}))
(tag,) = wait_file("tag")
print("tagged_login", login({**forged, "X-Craft-Txn-Auth": tag}))
EOF

topo_exec cl timeout 30 python3 "$CLIENT" "$VIP" "$W" A >"$W/a.out" 2>&1 ||
  result_fail "client A: $(tr '\n' ' ' <"$W/a.out") b1: $(tail -n 2 "$TOPO_DIR/b1.log" | tr '\n' ' ')"
CA=$(awk '$1 == "login" { print $2 }' "$W/a.out")
[ -n "$CA" ] || result_fail "client A: $(tr '\n' ' ' <"$W/a.out")"
# The IDs the logger gave A's login and send (signed 64-bit in SQLite).
# shellcheck disable=SC2317 # called through wait_for
logged() { [ "$(q "$LG_DB" "SELECT count(*) FROM transactions WHERE summary IN ('POST /login', 'POST /send')" 2>/dev/null)" -ge "$1" ]; }
wait_for 15 logged 2 || result_fail "the logger's database never showed A's login and send"
ID_LOGIN=$(printf '%016x' "$(q "$LG_DB" "SELECT txn_id FROM transactions WHERE summary = 'POST /login'")")
ID_SEND=$(printf '%016x' "$(q "$LG_DB" "SELECT txn_id FROM transactions WHERE summary = 'POST /send'")")
echo "$CA $ID_LOGIN $ID_SEND" >"$W/ids.tmp" && mv "$W/ids.tmp" "$W/ids"

topo_exec cl timeout 60 python3 "$CLIENT" "$VIP" "$W" B >"$W/b.out" 2>&1 &
B_PID=$!
wait_for 20 test -e "$W/b.ready" || result_fail "client B did not start: $(tr '\n' ' ' <"$W/b.out")"
# B's backend-side connection: IVIP and the newest port the logger saw to b1.
# shellcheck disable=SC2317 # called through wait_for
b_port() { q "$LG_DB" "SELECT client_port FROM connections WHERE server_port = 8080 AND client_ip = $IVIP_INT ORDER BY conn_id DESC LIMIT 1" 2>/dev/null; }
# shellcheck disable=SC2317 # called through wait_for
two_conns() { [ "$(q "$LG_DB" "SELECT count(*) FROM connections WHERE server_port = 8080 AND client_ip = $IVIP_INT" 2>/dev/null)" -ge 2 ]; }
wait_for 15 two_conns || result_fail "the logger's database never showed B's connection: $(q "$LG_DB" "SELECT client_ip, client_port, server_port FROM connections" | tr '\n' ' ')"
PORT_B=$(b_port)
# The tag the recovery manager would write for A's login ID on B's connection.
TAG=$(python3 - "$KEY" "$ID_LOGIN" "$IVIP" "$PORT_B" "$B1" 8080 <<'EOF'
import hashlib, hmac, socket, struct, sys
key = bytes.fromhex(open(sys.argv[1]).read().strip())
msg = (b"craft-txn-auth-v1" + struct.pack(">Q", int(sys.argv[2], 16)) +
       socket.inet_aton(sys.argv[3]) + struct.pack(">H", int(sys.argv[4])) +
       socket.inet_aton(sys.argv[5]) + struct.pack(">H", int(sys.argv[6])))
print(hmac.new(key, msg, hashlib.sha256).digest()[:16].hex())
EOF
)
echo "$TAG" >"$W/tag.tmp" && mv "$W/tag.tmp" "$W/tag"
rc=0
wait "$B_PID" || rc=$?
[ "$rc" = 0 ] || result_fail "client B (exit $rc): $(tr '\n' ' ' <"$W/b.out") b1: $(tail -n 2 "$TOPO_DIR/b1.log" | tr '\n' ' ')"
say "A: $(tr '\n' ' ' <"$W/a.out"); B ($IVIP:$PORT_B): $(tr '\n' ' ' <"$W/b.out"); IDs login $ID_LOGIN send $ID_SEND"
got() { awk -v k="$1" '$1 == k { print $2 }' "$W/b.out"; }
aux_stats=$(fo_aux_stats "$AUX") || result_fail "auxd STATS failed"
px_stop
lg_stop
refused=$(stats_get "$TOPO_DIR/b1.stats" txn_header_refused)
believed=$(stats_get "$TOPO_DIR/b1.stats" txn_header)

[ "$(got forged_login)" != "$CA" ] || result_fail "a client-sent X-Craft-Txn got alice's session cookie"
[ "$(got forged_login_tag)" != "$CA" ] || result_fail "X-Craft-Txn with a made-up tag got alice's session cookie"
[[ $(got forged_send) == sent_*_aux_1 ]] || result_fail "the forged send was answered $(got forged_send), want a first delivery (aux 1)"
[ "$(head -n 1 <<<"$aux_stats")" = "total 2 distinct 2 duplicates 0" ] ||
  result_fail "aux server: $(tr '\n' '|' <<<"$aux_stats") (the forged send must be a new transaction)"
grep -q "^txn $ID_SEND count 1 " <<<"$aux_stats" || result_fail "A's send $ID_SEND is not counted once: $(tr '\n' '|' <<<"$aux_stats")"
[ "$(got tagged_login)" = "$CA" ] ||
  result_fail "the correctly tagged X-Craft-Txn was not believed (cookie $(got tagged_login), want $CA): the check cannot tell forged from real"
[ "$refused|$believed" = "3|1" ] || result_fail "webmail refused $refused and believed $believed X-Craft-Txn headers, want 3 and 1"
result_pass "3 client-sent X-Craft-Txn headers ignored (other cookies than alice's, the forged send a new aux transaction: $(head -n 1 <<<"$aux_stats")); the one tagged with the cluster key for B's connection $IVIP:$PORT_B believed"
