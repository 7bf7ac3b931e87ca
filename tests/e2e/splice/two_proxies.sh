#!/usr/bin/env bash
# splice/two_proxies: two proxies (p1, p2) sharing the VIP and the IVIP,
# splice state replicated between them (HMAC-authenticated UDP).  lb sends
# every second client segment to p2 instead of p1, lg every second backend
# segment to the IVIP; so both proxies see both directions of every
# connection, before and after the splice.  A 20 MiB GET (nginx on b1) and a
# 20 MiB PUT with "Expect: 100-continue" (httpd.py on b1, /upload) arrive
# byte-exact (sha256).  Counters: each proxy rewrote segments in BOTH
# directions (seg_c2b > 0, seg_b2c > 0 on p1 and on p2) and together they
# carried the bulk (bytes_b2c, bytes_c2b >= 20 MiB summed); the proxy that
# did not accept a connection redirected its pre-splice segments to the
# owner (redirected > 0); each splice reached both splice tables (spliced
# on one + repl_applied on the other, splice_created >= 2 on both); no
# rewrite error, no failed splice.  Then forged replication datagrams hit
# p1: a short garbage datagram and a longer one (from lg) and an ADD sealed
# with a wrong key claiming sender id 2 (from p2's address); each is
# rejected and counted (repl_rejected_too_short / _bad_magic / _bad_tag +1
# each) and none changes what p1 applied or holds (repl_applied,
# splice_created, splice_entries); at the end p1 received from "p2" no more
# messages than p2 sent it (repl_p2_received <= p2's repl_p1_sent: the
# forged sender-2 message was not taken for p2's).  Both proxies exit 0 on
# SIGTERM.
# shellcheck source=tests/e2e/splice/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin
# shellcheck disable=SC2317 # called by the EXIT trap of tests/lib.sh
test_cleanup() { px2_cleanup; }

# forge ROLE KIND: one datagram to p1's replication port from ROLE.
#   garbage-short  7 bytes of garbage (shorter than header + tag)
#   garbage-long   200 random bytes (no magic)
#   wrong-key      a well-formed ADD from "sender 2", sealed with a random key
forge() {
  topo_exec "$1" python3 - "$(topo_addr p1)" "$PX2_REPL_PORT" "$2" <<'PY'
import hashlib, hmac, os, socket, struct, sys, time
dst, port, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if kind == "garbage-short":
    msg = b"garbage"
elif kind == "garbage-long":
    msg = b"\x00" + os.urandom(199)
else:
    body = os.urandom(96)
    now_ms = int(time.time() * 1000)
    head = struct.pack(">IBBHIQQQI", 0x43524654, 1, 0, 0x0101, 2, now_ms * 1000, 1, now_ms, len(body))
    msg = head + body
    msg += hmac.new(os.urandom(32), msg, hashlib.sha256).digest()
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(msg, (dst, port))
PY
}

px2_setup
px2_alternate lb vip
px2_alternate lg ivip

# --- GET, PUT -------------------------------------------------------------
# informational: retransmissions (segments alternated between two paths
# arrive reordered, so the proxies' byte counters include some payload twice)
b1_rtx0=$(px_nstat b1 TcpRetransSegs)
cl_rtx0=$(px_nstat cl TcpRetransSegs)
px_get 20M
PX_PUT_EXPECT=1 px_put "$(topo_www_file 20M)"
px2_require_alive "after the transfers"
# the stats files are rewritten once a second: wait for the bulk to show
for i in 1 2; do
  px2_wait_stat 3 "$i" spliced -ge 0 || result_fail "p$i reports no 'spliced' counter"
done
# shellcheck disable=SC2317 # called through wait_for
bulk_shown() {
  [ "$(px2_sum bytes_b2c)" -ge $((20 * MiB)) ] && [ "$(px2_sum bytes_c2b)" -ge $((20 * MiB)) ] &&
    [ "$(px2_sum spliced)" -ge 2 ]
}
wait_for 4 bulk_shown || true
sleep 1.1 # one more stats period: replication of the last messages
b1_rtx=$(($(px_nstat b1 TcpRetransSegs) - b1_rtx0))
cl_rtx=$(($(px_nstat cl TcpRetransSegs) - cl_rtx0))
lb_alt=$(px2_alternated lb)
lg_alt=$(px2_alternated lg)

# --- forged replication datagrams ------------------------------------------
snap() { for k in repl_rejected_too_short repl_rejected_bad_magic repl_rejected_bad_tag \
  repl_applied splice_created splice_entries; do printf '%s ' "$(px2_stat 1 "$k")"; done; }
read -r f_short0 f_magic0 f_tag0 f_appl0 f_cre0 f_ent0 <<<"$(snap)"
for v in "$f_short0" "$f_magic0" "$f_tag0" "$f_appl0" "$f_cre0" "$f_ent0"; do
  [[ $v =~ ^[0-9]+$ ]] || result_fail "p1 stats lack a replication/splice counter: $v"
done
forge lg garbage-short || result_fail "cannot send the garbage datagram from lg"
forge lg garbage-long || result_fail "cannot send the long garbage datagram from lg"
forge p2 wrong-key || result_fail "cannot send the wrong-key datagram from p2"
px2_wait_stat 3 1 repl_rejected_bad_tag -ge $((f_tag0 + 1)) || true
px2_wait_stat 2 1 repl_rejected_too_short -ge $((f_short0 + 1)) || true
px2_wait_stat 2 1 repl_rejected_bad_magic -ge $((f_magic0 + 1)) || true
sleep 1.1
read -r f_short f_magic f_tag f_appl f_cre f_ent <<<"$(snap)"
say "forgery: too_short $f_short0->$f_short bad_magic $f_magic0->$f_magic bad_tag $f_tag0->$f_tag applied $f_appl0->$f_appl splice_created $f_cre0->$f_cre splice_entries $f_ent0->$f_ent"
[ "$f_short" = $((f_short0 + 1)) ] || result_fail "7-byte garbage datagram: p1 repl_rejected_too_short $f_short0 -> $f_short (want +1)"
[ "$f_magic" = $((f_magic0 + 1)) ] || result_fail "200-byte garbage datagram: p1 repl_rejected_bad_magic $f_magic0 -> $f_magic (want +1)"
[ "$f_tag" = $((f_tag0 + 1)) ] || result_fail "wrong-key ADD: p1 repl_rejected_bad_tag $f_tag0 -> $f_tag (want +1)"
[ "$f_appl" = "$f_appl0" ] || result_fail "forged datagrams changed p1 repl_applied $f_appl0 -> $f_appl"
[ "$f_cre" = "$f_cre0" ] || result_fail "forged datagrams changed p1 splice_created $f_cre0 -> $f_cre"
[ "$f_ent" -le "$f_ent0" ] || result_fail "forged datagrams added splices on p1: splice_entries $f_ent0 -> $f_ent"

px2_require_alive "after the forged datagrams"
px2_stop

# --- final counters ----------------------------------------------------------
declare -A C
for i in 1 2; do
  say "p$i final stats: $(tr '\n' ' ' <"${PX2_STATS[$i]}")"
  for k in accepted spliced splice_failed seg_c2b seg_b2c bytes_c2b bytes_b2c redirected rewrite_errors \
    repl_sent repl_applied splice_created "repl_p$((3 - i))_sent" "repl_p$((3 - i))_received"; do
    C[$k$i]=$(px2_stat "$i" "$k")
    [[ ${C[$k$i]} =~ ^[0-9]+$ ]] || result_fail "p$i stats lack $k"
  done
done
[ "$lb_alt" -gt 0 ] || result_fail "lb sent no client segment via p2 (alternation rule counted $lb_alt)"
[ "$lg_alt" -gt 0 ] || result_fail "lg sent no backend segment via p2 (alternation rule counted $lg_alt)"
[ $((C[accepted1] + C[accepted2])) = 2 ] ||
  result_fail "accepted ${C[accepted1]} + ${C[accepted2]} connections, want 2 (one GET, one PUT)"
[ $((C[spliced1] + C[spliced2])) = 2 ] || result_fail "spliced ${C[spliced1]} + ${C[spliced2]} connections, want 2"
for i in 1 2; do
  [ "${C[splice_failed$i]}" = 0 ] || result_fail "p$i splice_failed ${C[splice_failed$i]}"
  [ "${C[rewrite_errors$i]}" = 0 ] || result_fail "p$i rewrite_errors ${C[rewrite_errors$i]}"
  [ "${C[seg_c2b$i]}" -gt 0 ] || result_fail "p$i rewrote no client->backend segment (seg_c2b 0)"
  [ "${C[seg_b2c$i]}" -gt 0 ] || result_fail "p$i rewrote no backend->client segment (seg_b2c 0)"
  [ "${C[splice_created$i]}" -ge 2 ] ||
    result_fail "p$i splice table got ${C[splice_created$i]} splices (splice_created), want both (2)"
done
# every splice one proxy made was applied by the other
[ "${C[repl_applied2]}" -ge "${C[spliced1]}" ] ||
  result_fail "p1 spliced ${C[spliced1]}, p2 applied only ${C[repl_applied2]} replication messages"
[ "${C[repl_applied1]}" -ge "${C[spliced2]}" ] ||
  result_fail "p2 spliced ${C[spliced2]}, p1 applied only ${C[repl_applied1]} replication messages"
[ $((C[bytes_b2c1] + C[bytes_b2c2])) -ge $((20 * MiB)) ] ||
  result_fail "bytes_b2c ${C[bytes_b2c1]} + ${C[bytes_b2c2]} < 20 MiB: the GET did not go through the splice"
[ $((C[bytes_c2b1] + C[bytes_c2b2])) -ge $((20 * MiB)) ] ||
  result_fail "bytes_c2b ${C[bytes_c2b1]} + ${C[bytes_c2b2]} < 20 MiB: the PUT did not go through the splice"
[ "${C[repl_p2_received1]}" -le "${C[repl_p1_sent2]}" ] ||
  result_fail "p1 counts ${C[repl_p2_received1]} messages received from p2, p2 sent only ${C[repl_p1_sent2]}: a forged one was accepted"
[ $((C[redirected1] + C[redirected2])) -gt 0 ] ||
  result_fail "redirected 0 on both proxies: no pre-splice segment reached the owner through the other proxy"

result_pass "GET 20 MiB ${GET_MBPS} MB/s, PUT 20 MiB ${PUT_MBPS} MB/s, sha256 ok; via p2: lb $lb_alt, lg $lg_alt pkts;" \
  "seg c2b/b2c p1 ${C[seg_c2b1]}/${C[seg_b2c1]}, p2 ${C[seg_c2b2]}/${C[seg_b2c2]}; spliced ${C[spliced1]}+${C[spliced2]}," \
  "repl_applied ${C[repl_applied1]}/${C[repl_applied2]}, splice_created ${C[splice_created1]}/${C[splice_created2]};" \
  "redirected ${C[redirected1]}+${C[redirected2]}; forged datagrams: too_short/bad_magic/bad_tag +1 each," \
  "applied/created unchanged, p1 received ${C[repl_p2_received1]} of p2's ${C[repl_p1_sent2]}; rewrite_errors 0;" \
  "bytes b2c/c2b p1+p2 $((C[bytes_b2c1] + C[bytes_b2c2]))/$((C[bytes_c2b1] + C[bytes_c2b2])), retransmits b1 $b1_rtx cl $cl_rtx; SIGTERM exit 0"
