#!/usr/bin/env bash
# logger/query: recovery's questions to the logger, answered from the live
# pipeline (control.h). curl on cl, from a fixed local port, sends four GETs
# through lg to nginx on b1 on ONE keep-alive connection (1k, 300k, 1k,
# 10M). Then craft-ctl asks craft-logger, over the local control socket and
# as authenticated UDP from p1 (recovery's side), and must get:
#   - CONN_QUERY by 4-tuple: four transactions, each request and response
#     at the stream offsets curl's byte counts give (first byte 0, each
#     starting where the previous ended), state complete, the tags of the
#     rules file; AckCL = last server byte = curl's total received, last
#     client byte = curl's total sent; the same over UDP;
#   - BYTES_QUERY: each kept response (headers + body) fetched from the
#     logger equals byte for byte (sha256) what curl received, locally and
#     over UDP; the request bytes of transaction 1 equal its offsets' length
#     and start with its request line;
#   - the 10M body (over max_kept_message, acknowledged) is "not_held", an
#     unknown 4-tuple "unknown_conn";
#   - the counters of the control channel say so, and nothing was refused.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../../lib.sh"
# shellcheck source=tests/e2e/logger/_lib.sh
source "$(dirname "$0")/_lib.sh"
# shellcheck source=tests/e2e/logger/_ctl.sh
source "$(dirname "$0")/_ctl.sh"
test_begin
require_tools curl nginx iptables sqlite3 sha256sum
require_bin logger ctl

topo_up
topo_www
head -c 300000 /dev/urandom >"$TOPO_DIR/www/300k"
chmod 644 "$TOPO_DIR/www/300k"
topo_nginx b1
B1=$(topo_addr b1)
CL=$(topo_addr cl)
LGA=$(topo_addr lg)
KEY=$TOPO_DIR/ctl.key
ctl_keys "$KEY"
SOCK=$TOPO_DIR/logger.ctl
CONF=$TOPO_DIR/logger.conf
lg_config "$CONF" "[control]
socket = $SOCK
bind = $LGA:7600
key_file = $KEY"
# the connection must still be held when we ask: it lingers after its FINs
sed -i 's/^linger_timeout = 1s$/linger_timeout = 120s/' "$CONF"
lg_start "$CONF"
wait_for 5 test -S "$SOCK" || result_fail "no control socket at $SOCK"

W=$TOPO_DIR/curl
mkdir -p "$W"
CPORT=41234
urls=(-o "$W/get1" "http://$B1/1k" -o "$W/get2" "http://$B1/300k" -o "$W/get3" "http://$B1/1k" -o "$W/get4" "http://$B1/10M")
topo_exec cl curl -sS --connect-timeout 5 --local-port "$CPORT" -D "$W/hdrs" \
  -w '%{http_code} %{size_request} %{size_header} %{size_download} %{num_connects}\n' \
  "${urls[@]}" >"$W/gets.txt" || result_fail "curl failed"
[ "$(awk '{s += $5} END {print s}' "$W/gets.txt")" = 1 ] || result_fail "curl did not reuse the connection: $(tr '\n' ' ' <"$W/gets.txt")"
off=0
n=0
while read -r _ _ shdr _ _; do
  n=$((n + 1))
  tail -c +$((off + 1)) "$W/hdrs" | head -c "$shdr" >"$W/hdr$n"
  cat "$W/hdr$n" "$W/get$n" >"$W/resp$n"
  off=$((off + shdr))
done <"$W/gets.txt"
sha_eq "$W/get2" "$TOPO_DIR/www/300k" || result_fail "curl's 300k differs from the file served"
lg_wait_stat log_conns_closed 1 # FIN both ways logged: every byte is in

# ---- CONN_QUERY ----------------------------------------------------------------
TUPLE=(client="$CL:$CPORT" server="$B1:80")
CTL=("$(craft_path ctl)")
topo_exec lg "${CTL[@]}" send --unix "$SOCK" --wait 2s query query=7 "${TUPLE[@]}" >"$W/reply.local" ||
  result_fail "no CONN_REPLY on the local socket"
topo_exec p1 "${CTL[@]}" send --key "$KEY" --to "$LGA:7600" --sender-id 21 --wait 2s query query=7 "${TUPLE[@]}" >"$W/reply.udp" ||
  result_fail "no CONN_REPLY over UDP"
reply=$(cat "$W/reply.local")
# want: one txn=ID:ORD:STATE:TAGS:REQ-REQEND:RESP-RESPEND per request
IFS=. read -r o1 o2 o3 o4 <<<"$CL"
cip=$(((o1 << 24) | (o2 << 16) | (o3 << 8) | o4))
req=0 resp=0 ord=0 want_txns=""
declare -a RS RE QS QE # per ordinal: response and request start/end offsets
tags=(7 0 7 7)
while read -r _ sreq shdr sdl _; do
  ord=$((ord + 1))
  id=$(((cip << 32) | (CPORT << 16) | ord))
  # shellcheck disable=SC2004
  want_txns+=" txn=$(printf '%u' "$id"):$ord:7:${tags[$((ord - 1))]}:$req-$((req + sreq)):$resp-$((resp + shdr + sdl))"
  RS[ord]=$resp RE[ord]=$((resp + shdr + sdl)) QS[ord]=$req QE[ord]=$((req + sreq))
  req=$((req + sreq))
  resp=$((resp + shdr + sdl))
done <"$W/gets.txt"
got_txns=$(grep -o ' txn=[^ ]*' <<<"$reply" | tr -d '\n')
[ "$got_txns" = "$want_txns" ] || result_fail "transactions: got '$got_txns', want '$want_txns'"
for kv in status=ok ack_cl=$resp last_server_byte=$resp last_client_byte=$req ntxn=4 more=0; do
  grep -q " $kv " <<<"$reply " || result_fail "CONN_REPLY lacks $kv: $reply"
done
# the UDP reply carries the same content (only the origin suffix differs)
[ "$(sed 's/ from=.*//' "$W/reply.udp")" = "$(sed 's/ from=.*//' "$W/reply.local")" ] ||
  result_fail "UDP reply differs: $(cat "$W/reply.udp") vs $reply"
grep -q ' client_isn=[0-9]* server_isn=[0-9]* ' <<<"$reply" || result_fail "no ISNs in the reply: $reply"

# ---- BYTES_QUERY ---------------------------------------------------------------
for o in 1 2 3; do
  a=${RS[o]} b=${RE[o]}
  topo_exec lg "${CTL[@]}" fetch --unix "$SOCK" --out "$W/fetch$o" stream=server "${TUPLE[@]}" offset="$a" length=$((b - a)) >"$W/fetch$o.txt" ||
    result_fail "fetch of response $o failed: $(cat "$W/fetch$o.txt")"
  sha_eq "$W/fetch$o" "$W/resp$o" || result_fail "response $o from the logger differs from what curl received ($(stat -c %s "$W/fetch$o") vs $(stat -c %s "$W/resp$o") bytes)"
done
# over UDP from p1, as recovery will
topo_exec p1 "${CTL[@]}" fetch --key "$KEY" --to "$LGA:7600" --sender-id 22 --out "$W/fetch2u" stream=server "${TUPLE[@]}" offset="${RS[2]}" length=$((RE[2] - RS[2])) >"$W/fetch2u.txt" ||
  result_fail "UDP fetch of response 2 failed: $(cat "$W/fetch2u.txt")"
sha_eq "$W/fetch2u" "$W/resp2" || result_fail "response 2 over UDP differs from what curl received"
# the 300k body alone, by offset inside the response
tail -c +$(($(stat -c %s "$W/hdr2") + 1)) "$W/fetch2u" >"$W/body2u"
sha_eq "$W/body2u" "$TOPO_DIR/www/300k" || result_fail "300k body from the logger differs from the file served"
# request bytes of transaction 1
topo_exec lg "${CTL[@]}" fetch --unix "$SOCK" --out "$W/req1" stream=client "${TUPLE[@]}" offset="${QS[1]}" length=$((QE[1] - QS[1])) >/dev/null ||
  result_fail "fetch of request 1 failed"
if [ "$(stat -c %s "$W/req1")" != $((QE[1] - QS[1])) ] || ! head -c 16 "$W/req1" | grep -q '^GET /1k HTTP/1.1'; then
  result_fail "request 1 from the logger: $(head -c 40 "$W/req1" | tr '\r\n' '  ')"
fi
# the 10M body is not kept (over max_kept_message, and acknowledged)
rc=0
topo_exec lg "${CTL[@]}" fetch --unix "$SOCK" --out "$W/big" stream=server "${TUPLE[@]}" offset=$((RS[4] + 1000000)) length=100 >"$W/big.txt" || rc=$?
{ grep -q 'status=not_held' "$W/big.txt" && [ "$rc" = 1 ]; } || result_fail "10M body: want not_held, got rc=$rc $(cat "$W/big.txt")"
rc=0
topo_exec lg "${CTL[@]}" send --unix "$SOCK" --wait 2s query client="$CL:1" server="$B1:80" >"$W/unknown.txt" || rc=$?
grep -q 'status=unknown_conn' "$W/unknown.txt" || result_fail "unknown 4-tuple: $(cat "$W/unknown.txt")"

lg_alive
sleep 1.2 # one more stats file
nq=$(lg_stat ctl_bytes_queries)
[ "$(lg_stat ctl_conn_queries)" = 3 ] || result_fail "ctl_conn_queries = $(lg_stat ctl_conn_queries), want 3"
[ "$(lg_stat ctl_replies_unknown)" = 1 ] || result_fail "ctl_replies_unknown = $(lg_stat ctl_replies_unknown), want 1"
[ "$(lg_stat ctl_replies_not_held)" = 1 ] || result_fail "ctl_replies_not_held = $(lg_stat ctl_replies_not_held), want 1"
for c in ctl_rx_auth_rejected ctl_rx_malformed ctl_reply_errors ctl_unexpected; do
  [ "$(lg_stat "$c")" = 0 ] || result_fail "counter $c = $(lg_stat "$c"), want 0"
done
lg_stop
result_pass "4 transactions on one keep-alive connection: offsets = curl's byte counts ($resp response, $req request bytes), tags, AckCL; 3 responses fetched byte-exact (local and UDP; $nq BYTES_QUERYs of <= 1024 bytes); 10M body not_held; unknown tuple refused"
