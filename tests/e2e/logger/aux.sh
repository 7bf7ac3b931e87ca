#!/usr/bin/env bash
# logger/aux: aux-logger mode. craft-webmail on b1 sends one aux request
# per /send to craft-auxd on aux (a line "craft<txn id> SEND ..." answered
# "craft<txn id> OK <count>"); b1 reaches aux through lg, where craft-logger
# runs with aux = yes on the line service 7000 (a response ends at the line
# matching the auxd answer pattern) and also logs the client side (HTTP 80).
# A python client in cl logs in and sends 4 mails on one keep-alive
# connection, 2 on a second one; then the first mail is sent again on a new
# connection, compose and send, the compose with "X-Craft-Txn: <its old
# id>" (what recovery's replay does), so the send gets the first send's ID
# and the aux server counts that ID twice. After SIGTERM the
# database must hold:
#   - one complete aux transaction per aux request, keyed (aux_txn_id) by
#     the client transaction ID its line carries, SEND line as summary,
#     offsets from 1, the request bytes beginning with craft<that id>;
#   - per ID exactly as many aux rows as the aux server counted (STATS):
#     same IDs, same counts, same total;
#   - every aux_txn_id equal to the txn_id of a logged client transaction
#     "POST /send", each ID the client computed (its ip, port, ordinal)
#     logged as a POST /send;
#   - the replayed compose logged with its X-Craft-Txn ID as aux_txn_id
#     (HTTP side of aux mode: the header).
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../../lib.sh"
# shellcheck source=tests/e2e/logger/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin
require_tools python3 sqlite3 iptables timeout
require_bin logger webmail auxd

topo_up
B1=$(topo_addr b1)
AUX=$(topo_addr aux)
CONF=$TOPO_DIR/logger.conf
lg_config "$CONF" '[logger]
aux = yes
aux_prefix = craft
aux_header = X-Craft-Txn
[transactions]
line_response = line
line_pattern = "^craft[0-9a-f]+ (OK|NO|BAD)"'
lg_start "$CONF"

start_daemon aux auxd "$TOPO_DIR/auxd.log" -o "auxd.listen=$AUX:7000" -s "$TOPO_DIR/auxd.stats"
start_daemon b1 webmail "$TOPO_DIR/b1.log" -o "webmail.listen=$B1:80" \
  -o "webmail.static_dir=$CRAFT_ROOT/tools/webmail/static" -o "webmail.aux=$AUX:7000" -s "$TOPO_DIR/b1.stats"
wait_port aux "$AUX" 7000 || result_fail "auxd did not listen: $(tail -n 3 "$TOPO_DIR/auxd.log" | tr '\n' ' ')"
wait_port b1 "$B1" 80 || result_fail "webmail did not listen: $(tail -n 3 "$TOPO_DIR/b1.log" | tr '\n' ' ')"

# ---- workload ------------------------------------------------------------------------
# aux_client.py HOST SENDS [replay]: logs in, SENDS x (compose, send) on one
# keep-alive connection; prints "send <txn id>" per send, the ID computed as
# webmail and the logger do (client ip, port, ordinal). With "replay", then
# sends the first mail again on a new connection with "X-Craft-Txn: <id of
# the first send's compose>" (the send that follows gets the next ordinal:
# the first send's ID) and prints "replay <id> <answer>".
CLIENT=$TOPO_DIR/aux_client.py
cat >"$CLIENT" <<'PY'
import http.client, sys
host, sends, replay = sys.argv[1], int(sys.argv[2]), len(sys.argv) > 3
def req(c, path, body, sid=None, extra=None):
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    if sid:
        h["Cookie"] = "sid=" + sid
    h.update(extra or {})
    c.request("POST", path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    if r.status != 200:
        sys.exit(f"POST {path}: HTTP {r.status} {data[:80]!r}")
    return r, data
def txn_id(c, ordinal):
    ip, port = c.sock.getsockname()
    a, b, cc, d = (int(x) for x in ip.split("."))
    return f"{a:02x}{b:02x}{cc:02x}{d:02x}{port:04x}{ordinal:04x}"
c = http.client.HTTPConnection(host, 80, timeout=10)
r, _ = req(c, "/login", "user=alice&password=secret")
sid = r.getheader("Set-Cookie").split("sid=")[1].split(";")[0]
port, ordinal, first = c.sock.getsockname()[1], 1, None
for i in range(sends):
    _, d = req(c, "/compose", f"to=bob{i}%40example.org&subject=s{i}&body=mail+{i}", sid)
    draft = d.split()[1].decode()
    _, d = req(c, "/send", "id=" + draft, sid)
    ordinal += 2
    if not d.startswith(b"sent "):
        sys.exit(f"send: {d!r}")
    print("send", txn_id(c, ordinal))
    first = first or (txn_id(c, ordinal - 1), txn_id(c, ordinal))
if c.sock.getsockname()[1] != port:
    sys.exit("client reconnected")
if replay:
    # the compose again under its old ID; the send after it continues
    # from there (next ordinal): the first send's ID
    c2 = http.client.HTTPConnection(host, 80, timeout=10)
    _, d = req(c2, "/compose", "to=bob0%40example.org&subject=s0&body=mail+0", sid, {"X-Craft-Txn": first[0]})
    _, d = req(c2, "/send", "id=" + d.split()[1].decode(), sid)
    print("replay", first[1], d.decode().strip().replace(" ", "_"))
PY
W=$TOPO_DIR/w
mkdir -p "$W"
topo_exec cl timeout 30 python3 "$CLIENT" "$B1" 4 replay >"$W/client1" 2>&1 ||
  result_fail "client 1: $(tr '\n' ' ' <"$W/client1") b1: $(tail -n 2 "$TOPO_DIR/b1.log" | tr '\n' ' ')"
topo_exec cl timeout 30 python3 "$CLIENT" "$B1" 2 >"$W/client2" 2>&1 ||
  result_fail "client 2: $(tr '\n' ' ' <"$W/client2")"
# IDs as the database stores them: signed 64-bit integers
# (bash arithmetic is 64-bit two's complement)
hex2int() {
  local h
  for h in "$@"; do echo $((16#$h)); done
}
mapfile -t SEND_HEX < <(awk '$1 == "send" { print $2 }' "$W/client1" "$W/client2")
[ ${#SEND_HEX[@]} = 6 ] || result_fail "want 6 sends, the client printed: $(cat "$W/client1" "$W/client2" | tr '\n' ' ')"
read -r _ FIRST_HEX REPLAY_ANSWER < <(grep '^replay ' "$W/client1" || true)
[ "${FIRST_HEX:-}" = "${SEND_HEX[0]}" ] || result_fail "replay: $(tr '\n' ' ' <"$W/client1")"
hex2int "${SEND_HEX[@]}" | sort >"$W/send_ids"
FIRST=$(hex2int "$FIRST_HEX")
FRONT_TXNS=$((1 + 2 * 4 + 2 + 1 + 2 * 2)) # logins, compose + send pairs, the replayed pair

# ---- what the aux server counted (asked from aux itself: not logged) ---------------------
# shellcheck disable=SC2016 # the script is for the inner bash
aux_stats=$(topo_exec aux timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/7000" && echo STATS >&3 &&
  while IFS= read -r l <&3; do echo "$l"; [ "$l" = END ] && exit 0; done; exit 1' _ "$AUX") ||
  result_fail "auxd STATS failed: $aux_stats"
say "auxd: $(tr '\n' '|' <<<"$aux_stats")"
read -r _ A_TOTAL _ A_DISTINCT _ A_DUP <<<"$(head -n 1 <<<"$aux_stats")"
mapfile -t AUX_HEX < <(awk '$1 == "txn" { print $2 }' <<<"$aux_stats")
[ ${#AUX_HEX[@]} -ge 1 ] || result_fail "the aux server counted nothing: $aux_stats"
paste -d' ' <(hex2int "${AUX_HEX[@]}") <(awk '$1 == "txn" { print $4 }' <<<"$aux_stats") | sort >"$W/aux_counts"
[ "$A_TOTAL/$A_DUP" = 7/1 ] ||
  result_fail "the aux server saw total $A_TOTAL, duplicates $A_DUP (want 7, 1); the replay answered $REPLAY_ANSWER"

lg_wait_stat log_txns_complete $((A_TOTAL + FRONT_TXNS)) 15
lg_stop
DB=$LG_DB

# ---- aux rows ------------------------------------------------------------------------------
AUXQ="FROM transactions t JOIN connections c USING (conn_id) WHERE c.server_port = 7000"
q "$DB" "SELECT t.aux_txn_id || ' ' || count(*) $AUXQ GROUP BY t.aux_txn_id" | sort >"$W/log_counts"
if ! diff -u "$W/aux_counts" "$W/log_counts" >"$W/diff"; then
  say "$(cat "$W/diff")"
  result_fail "aux rows per ID differ from the aux server's counts: $(grep -m 1 -E '^[-+]-?[0-9]' "$W/diff")"
fi
n_aux=$(q "$DB" "SELECT count(*) $AUXQ")
[ "$n_aux" = "$A_TOTAL" ] || result_fail "$n_aux aux rows, the aux server counted $A_TOTAL requests"
bad=$(q "$DB" "SELECT t.txn_id, t.state, t.aux_txn_id, t.summary, s.req_start, s.req_end, s.resp_start, s.resp_end
  FROM transactions t JOIN connections c USING (conn_id) LEFT JOIN seq_offsets s USING (conn_id, txn_id)
  WHERE c.server_port = 7000 AND NOT (t.state = 'complete' AND t.aux_txn_id IS NOT NULL
    AND t.summary LIKE 'craft% SEND %' AND s.req_start = 1 AND s.resp_start = 1 AND s.req_end > 1 AND s.resp_end > 1)" | head -n 1)
[ -z "$bad" ] || result_fail "aux row not complete, keyed or placed as expected: $bad"
# the request bytes (kept: SEND is an update by the conservative default)
# begin with the tag the row is keyed by
mism=$(q "$DB" "SELECT printf('craft%016x', t.aux_txn_id) || '|' || substr(CAST(p.data AS TEXT), 1, 21)
  FROM transactions t JOIN connections c USING (conn_id) JOIN payloads p USING (conn_id, txn_id)
  WHERE c.server_port = 7000 AND p.direction = 'request' AND p.rel_offset = 1" |
  awk -F'|' '$1 != $2 { print; exit }')
[ -z "$mism" ] || result_fail "aux request bytes carry another ID than their row: $mism"
n_pl=$(q "$DB" "SELECT count(*) FROM payloads p JOIN connections c USING (conn_id) WHERE c.server_port = 7000 AND p.direction = 'request' AND p.rel_offset = 1")
[ "$n_pl" = "$n_aux" ] || result_fail "$n_pl aux requests kept in payloads, want $n_aux"

# ---- the join recovery uses: aux row -> the client's /send ------------------------------
q "$DB" "SELECT t.txn_id FROM transactions t JOIN connections c USING (conn_id)
  WHERE c.server_port = 80 AND t.summary = 'POST /send'" | sort >"$W/front_sends"
[ "$(wc -l <"$W/front_sends")" = 7 ] || result_fail "want 7 logged POST /send (6 + the replay): $(wc -l <"$W/front_sends")"
missing=$(comm -23 "$W/send_ids" "$W/front_sends" | head -n 1)
[ -z "$missing" ] || result_fail "the client's /send $missing is not logged under that ID"
orphans=$(q "$DB" "SELECT count(*) $AUXQ AND NOT EXISTS (SELECT 1 FROM transactions f
  JOIN connections fc USING (conn_id) WHERE fc.server_port = 80 AND f.txn_id = t.aux_txn_id AND f.summary = 'POST /send')")
[ "$orphans" = 0 ] || result_fail "$orphans aux rows point to no logged client /send"
# the replayed compose carried its old ID in X-Craft-Txn (ordinal one below the send's)
replayed=$(q "$DB" "SELECT count(*) FROM transactions t JOIN connections c USING (conn_id)
  WHERE c.server_port = 80 AND t.summary = 'POST /compose' AND t.aux_txn_id = $((FIRST - 1))")
[ "$replayed" = 1 ] || result_fail "the replayed compose is not logged with its X-Craft-Txn ID as aux_txn_id ($replayed rows)"
[ "$(lg_stat db_dropped_full)" = 0 ] || result_fail "rows dropped: queue full"
result_pass "$n_aux aux transactions keyed by client txn ID = auxd's counts per ID ($A_DISTINCT IDs, $A_DUP replayed);" \
  "each joins its logged POST /send; request lines carry their row's ID"
