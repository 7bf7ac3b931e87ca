#!/usr/bin/env bash
# failover/aux_replay: a replayed transaction's aux request is answered by
# the aux logger, never by the aux server (paper §3.3, thesis ch. 5).
# craft-webmail on b1 (pushing its session to b2's agent) and b2; craft-auxd
# on aux, behind lg; craft-logger on lg logs the front (8080) AND, in aux
# mode, the aux service (7000, line protocol), with [aux_divert]: it keeps
# every aux answer by the client transaction ID its request carried, and
# while the proxy's recovery manager says (AUX_DIVERT START/END,
# authenticated) that b2 replays, rules/aux-divert.sh's TPROXY rule sends
# b2's new connections to port 7000 to its listener, which answers a known
# ID with the stored bytes and relays anything else to auxd.
# auxd answers a SEND to "slow*" 4 s late, so the failure falls between the
# aux server applying a send and the backend answering it, and the replay
# reaches the aux logger before the original's answer did (the listener
# waits for it: aux_divert_waited).
# A python client on ONE keep-alive connection through the proxy:
#   1 POST /login  2 POST /compose (to slow-bob)  3 GET /inbox
#   4 POST /send   b1 asks auxd (counted at once, answered 4 s later);
#                  the test takes b1's link down as soon as auxd counted it:
#                  b1 never answers, recovery replays 4 on b2, b2's aux
#                  request for the same transaction ID goes to the aux
#                  logger, which answers with what auxd sent b1
#   5 GET /inbox   6 POST /compose (to carol)  7 POST /send (b2's own, new)
# Asserts: no reconnect; the client's response to 4 is byte for byte
# (sha256) the one of a send whose aux request was applied once
# ("sent 2 aux 1"; a second delivery would say "aux 2"); the aux server
# counted every aux request exactly once (total 2, distinct 2, no
# duplicate); the aux logger answered exactly one diverted request, kept
# b2's address in the diversion list only during the recovery, and the
# failover row says recovered with T_L+1 = the send replayed.
# shellcheck source=tests/e2e/failover/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin
require_bin webmail agent auxd
require_tools sha256sum

FO_PORT=8080
FO_TAGS=$(cat "$CRAFT_ROOT/tools/webmail/tags.conf")
FO_PROBE="HEAD / HTTP/1.0"
FO_AGENT=$(topo_addr b2):7500
LG=$(topo_addr lg)
AUX=$(topo_addr aux)
AUXDIV_CTL=7610
STATIC=$CRAFT_ROOT/tools/webmail/static
DELAY_MS=4000

# The recovery manager tells the aux logger (its [aux_divert] bind).
eval "aux_px_write_conf_base() $(declare -f px_write_conf | tail -n +2)"
# shellcheck disable=SC2317 # called by px_setup
px_write_conf() {
  aux_px_write_conf_base
  printf '[recovery]\naux_logger = %s:%s\n' "$LG" "$AUXDIV_CTL" >>"$PX_CONF"
}

# shellcheck disable=SC2317 # called by fo_setup
apps() {
  FO_LOGGER_EXTRA="[logged]
agent = $B1:8080 $B2:7500
sender_id = 5
key_file = $KEY
$(fo_aux_logger_conf "$LG:$AUXDIV_CTL")
wait = 6s"
  t_check "rules/aux-divert.sh up failed" topo_exec lg "$CRAFT_ROOT/rules/aux-divert.sh" up --port 7000
  t_check "rules/aux-divert.sh up (again) failed" topo_exec lg "$CRAFT_ROOT/rules/aux-divert.sh" up --port 7000
  FO_AUXD_OPTS=(-o "auxd.delay=${DELAY_MS}ms" -o auxd.delay_to=slow)
  fo_webmail_apps "$STATIC" -o webmail.aux_timeout=8s
}
# shellcheck disable=SC2034 # read by fo_setup
FO_BEFORE_LOGGER=apps
fo_setup
topo_wait_port lg 127.0.0.1 7399 5 || result_fail "the aux logger's listener is not up: $(tail -n 3 "$LG_LOG" | tr '\n' ' ')"

# auxd's counters as "total T distinct D duplicates K" (bash's /dev/tcp:
# this runs in a tight loop, a python start per poll is too slow here).
# shellcheck disable=SC2016 # the script is for the inner bash
aux_total() {
  topo_exec aux timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/7000" && echo STATS >&3 &&
    IFS= read -r l <&3 && echo "$l"' _ "$AUX"
}
# shellcheck disable=SC2317 # called through wait_for
aux_counted() { [ "$(aux_total | awk '{print $2}')" = "$1" ]; }
# the aux logger's diversion list, as the kernel holds it
divert_list() { topo_exec lg cat /proc/net/xt_recent/craft-auxdiv 2>/dev/null | awk '{print $1}' | tr '\n' ' '; }

GO=$TOPO_DIR/go
CLIENT=$TOPO_DIR/aux_replay_client.py
cat >"$CLIENT" <<'EOF'
import hashlib, os, socket, sys, time
host, go = sys.argv[1], sys.argv[2]
s = socket.create_connection((host, 80), timeout=30)
port = s.getsockname()[1]
buf = b""
def req(method, path, body=None, sid=None):
    """One request; returns (status, raw response bytes, body)."""
    global buf
    h = f"{method} {path} HTTP/1.1\r\nHost: webmail\r\n"
    if sid:
        h += f"Cookie: sid={sid}\r\n"
    if body is not None:
        h += f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
    s.sendall((h + "\r\n" + (body or "")).encode())
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            print(f"FAIL {method} {path}: connection closed"); sys.exit(1)
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    clen = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
    while len(rest) < clen:
        d = s.recv(65536)
        if not d:
            print(f"FAIL {method} {path}: connection closed in the body"); sys.exit(1)
        rest += d
    raw = head + b"\r\n\r\n" + rest[:clen]
    buf = rest[clen:]
    status = int(head.split(b" ")[1])
    if status != 200:
        print(f"FAIL {method} {path}: HTTP {status} {rest[:80]!r}"); sys.exit(1)
    return raw, rest[:clen]
def expect(body):
    # what craft-webmail sends for a 200 text/plain body (no Date: deterministic)
    return (b"HTTP/1.1 200 OK\r\nServer: craft-webmail\r\nContent-Type: text/plain\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)) + body
raw, body = req("POST", "/login", "user=alice&password=secret")
sid = [l for l in raw.split(b"\r\n") if l.startswith(b"Set-Cookie:")][0].split(b"sid=")[1].split(b";")[0].decode()
_, d = req("POST", "/compose", "to=slow-bob%40example.org&subject=one&body=first", sid)
d1 = d.split()[1].decode()
_, inbox1 = req("GET", "/inbox", sid=sid)
open(go + ".ready", "w").close()
t0 = time.monotonic()
raw4, s4 = req("POST", "/send", "id=" + d1, sid)   # b1 dies under this one
t_send = time.monotonic() - t0
_, inbox2 = req("GET", "/inbox", sid=sid)
_, d = req("POST", "/compose", "to=carol%40example.org&subject=two&body=second", sid)
d2 = d.split()[1].decode()
raw7, s7 = req("POST", "/send", "id=" + d2, sid)
if s.getsockname()[1] != port:
    print("FAIL the client reconnected"); sys.exit(1)
want4 = expect(f"sent {d1} aux 1\n".encode())
if hashlib.sha256(raw4).hexdigest() != hashlib.sha256(want4).hexdigest():
    print(f"FAIL response to the replayed send: {raw4!r}, want {want4!r}"); sys.exit(1)
if raw7 != expect(f"sent {d2} aux 1\n".encode()):
    print(f"FAIL the send after the failover: {raw7!r}"); sys.exit(1)
m1, m2 = inbox1.splitlines()[1:], inbox2.splitlines()[1:]
if len(m2) != len(m1) or b"sent slow-bob@example.org one" not in b"\n".join(m2):
    print(f"FAIL inbox {inbox1!r} -> {inbox2!r}"); sys.exit(1)
print(f"OK {port} {d1} {d2} {t_send * 1000:.0f} {hashlib.sha256(raw4).hexdigest()}")
EOF
[ -z "$(divert_list)" ] || result_fail "something is diverted before any failure: $(divert_list)"
topo_exec cl timeout 60 python3 "$CLIENT" "$VIP" "$GO" >"$TOPO_DIR/client.out" 2>&1 &
CL_PID=$!
wait_for 20 test -e "$GO.ready" || result_fail "the first three requests did not complete: $(cat "$TOPO_DIR/client.out") $(px_log_tail)"
# The send reached the aux server (counted at once, answered late): b1 dies now.
wait_for 10 aux_counted 1 || result_fail "the aux server never saw the first send: $(aux_total)"
fo_kill_link b1
# While the recovery replays, b2 is in the diversion list (sampled; it
# stays until end_linger after the job's END).
seen_on=
for _ in $(seq 1 400); do
  case " $(divert_list) " in *" src=$B2 "*) seen_on=yes; break ;; esac
  kill -0 "$CL_PID" 2>/dev/null || break
  sleep 0.02
done
rc=0
wait "$CL_PID" || rc=$?
out=$(cat "$TOPO_DIR/client.out")
[ "$rc" = 0 ] || result_fail "client (exit $rc): ${out//$'\n'/ }; proxy: $(px_log_tail 4); logger: $(tail -n 3 "$LG_LOG" | tr '\n' ' ')"
read -r ok lport d1 _ t_ms sha4 <<<"$out"
[ "$ok" = OK ] || result_fail "client: $out"

aux_stats=$(fo_aux_stats "$AUX") || result_fail "auxd STATS failed"
aux_head=$(head -n 1 <<<"$aux_stats")
px_wait_stat 3 recovery_recovered -ge 1 || true
[ "$seen_on" = yes ] || result_fail "b2 was never seen in the diversion list"
# the END of the job (and end_linger, 3 s) takes b2 out of the list
# shellcheck disable=SC2317 # called through wait_for
undiverted() { [ -z "$(divert_list)" ]; }
wait_for 10 undiverted || result_fail "b2 still diverted after the recovery: $(divert_list)"
rows=$(fo_rows)
say "failover rows: $rows; aux: $aux_head"
px_stop
lg_stop
answered=$(lg_stat aux_divert_answered)
say "aux logger: answered $answered, waited $(lg_stat aux_divert_waited), relayed $(lg_stat aux_divert_relayed), kept $(lg_stat aux_store_answers_kept), starts $(lg_stat aux_divert_starts), ends $(lg_stat aux_divert_ends), switched on/off $(lg_stat aux_divert_switched_on)/$(lg_stat aux_divert_switched_off)"
[ "$aux_head" = "total 2 distinct 2 duplicates 0" ] ||
  result_fail "aux server saw: $aux_head (want each aux request exactly once); aux logger answered $answered"
awk '$1 == "txn" && $4 != 1 { bad = 1 } END { exit bad }' <<<"$aux_stats" ||
  result_fail "a transaction ID reached the aux server more than once: $(tr '\n' '|' <<<"$aux_stats")"
[ "$answered" = 1 ] || result_fail "the aux logger answered $answered diverted requests, want 1"
[ "$(lg_stat aux_divert_switch_errors)" = 0 ] || result_fail "writing the diversion list failed $(lg_stat aux_divert_switch_errors) times"
{ [ "$(lg_stat aux_divert_switched_on)" -ge 1 ] && [ "$(lg_stat aux_divert_switched_off)" -ge 1 ]; } ||
  result_fail "diversion switched on $(lg_stat aux_divert_switched_on), off $(lg_stat aux_divert_switched_off) times"
[ "$(lg_stat aux_divert_ctl_rx_auth_rejected)" = 0 ] || result_fail "the aux logger refused control datagrams"
[ "$(stats_get "$TOPO_DIR/b2.stats" aux_ok)" = 2 ] || result_fail "b2's aux requests: $(stats_get "$TOPO_DIR/b2.stats" aux_ok) ok, want 2"
IFS='|' read -r outcome backend alternate t_l _ _ _ t_r _ replayed total_ms _ <<<"$(head -n 1 <<<"$rows")"
[ "$outcome|$backend|$alternate" = "recovered|$B1:8080|$B2:8080" ] || result_fail "failover row: $rows"
[ "$t_l|$replayed" = "3|1" ] || result_fail "plan T_L|replayed = $t_l|$replayed, want 3|1 (the send, T_L + 1)"
result_pass "the replayed send's aux request was answered by the aux logger (1 diverted answer, response sha256 ${sha4:0:16}... = 'sent $d1 aux 1'); aux server: $aux_head; send answered ${t_ms} ms after it was sent, detected->re-spliced ${total_ms} ms; T_L $t_l T_R $t_r; client port $lport never reconnected"
