#!/usr/bin/env bash
# splice/get_put: a 20 MiB GET (nginx on b1) and a 20 MiB PUT (httpd.py on
# b1, routed by path /upload) through one proxy, byte-exact (sha256).  The
# proxy's counters show that its own sockets carried only the first request
# head of each connection (socket_bytes_read < 64 KiB) and that the bulk went
# through the splice (bytes_b2c >= 20 MiB after the GET, bytes_c2b >= 20 MiB
# after the PUT, sent with "Expect: 100-continue" so that the body can only
# follow the backend's 100 Continue through the splice; injected_bytes ==
# socket_bytes_read); two connections accepted and spliced, none failed; no
# rewrite error, no queue drop; SIGTERM -> exit 0.
# shellcheck source=tests/e2e/splice/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin

px_setup
# Informational (the path is lossless, see early_body for the assertion):
# retransmissions by the senders during the two transfers.
b1_rtx0=$(px_nstat b1 TcpRetransSegs)
cl_rtx0=$(px_nstat cl TcpRetransSegs)

# --- GET ------------------------------------------------------------------
px_get 20M
px_wait_stat 3 bytes_b2c -ge $((20 * MiB)) ||
  result_fail "after the 20 MiB GET bytes_b2c is $(px_stat bytes_b2c) (< 20 MiB): the response did not go through the splice"
px_wait_stat 3 spliced -ge 1 || result_fail "GET: spliced is $(px_stat spliced), want 1"
get_sock=$(px_stat socket_bytes_read)
get_c2b=$(px_stat bytes_c2b)
[ "$get_sock" -gt 0 ] || result_fail "GET: socket_bytes_read is 0 (the proxy must read the request head)"
[ "$get_sock" -lt 65536 ] || result_fail "GET: socket_bytes_read $get_sock >= 64 KiB"

# --- PUT ------------------------------------------------------------------
# With "Expect: 100-continue" the body waits for the backend's 100 Continue,
# which can only come through the splice: the proxy's socket reads the head
# alone.  (A body sent right behind the head is early_body's case.)
PX_PUT_EXPECT=1 px_put "$(topo_www_file 20M)"
px_wait_stat 3 bytes_c2b -ge $((get_c2b + 20 * MiB)) ||
  result_fail "after the 20 MiB PUT bytes_c2b grew by $(($(px_stat bytes_c2b) - get_c2b)) (< 20 MiB): the upload did not go through the splice"
put_c2b=$(($(px_stat bytes_c2b) - get_c2b))
put_sock=$(($(px_stat socket_bytes_read) - get_sock))
say "PUT: bytes_c2b +$put_c2b socket_bytes_read +$put_sock"
[ "$put_sock" -lt 65536 ] || result_fail "PUT: socket_bytes_read grew by $put_sock >= 64 KiB: the upload went through the proxy's socket"
px_wait_stat 3 spliced -ge 2 || result_fail "PUT: spliced is $(px_stat spliced), want 2"

b1_rtx=$(($(px_nstat b1 TcpRetransSegs) - b1_rtx0))
cl_rtx=$(($(px_nstat cl TcpRetransSegs) - cl_rtx0))
px_require_alive "after the transfers"
qdrop=$(nfq_queue_field "$PX_ROLE" "$PX_QUEUE" queue_dropped)
udrop=$(nfq_queue_field "$PX_ROLE" "$PX_QUEUE" user_dropped)
px_stop

acc=$(px_stat accepted)
spl=$(px_stat spliced)
sock=$(px_stat socket_bytes_read)
c2b=$(px_stat bytes_c2b)
b2c=$(px_stat bytes_b2c)
sfail=$(px_stat splice_failed)
rwerr=$(px_stat rewrite_errors)
say "accepted=$acc spliced=$spl socket_bytes_read=$sock c2b=$c2b b2c=$b2c splice_failed=$sfail rewrite_errors=$rwerr qdrop=$qdrop udrop=$udrop"
say "final stats: $(tr '\n' ' ' <"$PX_STATS")"

[ "$acc" = 2 ] || result_fail "accepted $acc connections, want 2 (one GET, one PUT)"
[ "$spl" = 2 ] || result_fail "spliced $spl connections, want 2"
[ "$sfail" = 0 ] || result_fail "splice_failed $sfail"
[ "$rwerr" = 0 ] || result_fail "rewrite_errors $rwerr"
[ "$sock" -lt 65536 ] || result_fail "socket_bytes_read $sock >= 64 KiB: the proxy's sockets carried more than the request heads"
[ "$((sock * 100))" -lt "$b2c" ] || result_fail "socket_bytes_read $sock is not << bytes_b2c $b2c"
[ "$b2c" -ge $((20 * MiB)) ] || result_fail "bytes_b2c $b2c < 20 MiB"
[ "$c2b" -ge $((20 * MiB)) ] || result_fail "bytes_c2b $c2b < 20 MiB"
inj=$(px_stat injected_bytes)
[ "$inj" = "$sock" ] || result_fail "injected_bytes $inj != socket_bytes_read $sock (bytes read before the splice must all reach the backend)"
if [ "${qdrop:-0}" != 0 ] || [ "${udrop:-0}" != 0 ]; then
  result_fail "queue drops: queue_dropped=$qdrop user_dropped=$udrop"
fi

result_pass "GET 20 MiB ${GET_MBPS} MB/s, PUT 20 MiB ${PUT_MBPS} MB/s, sha256 ok; 2 spliced; proxy sockets read $sock B (GET head $get_sock B), splice carried b2c $b2c B, c2b $c2b B (PUT head $put_sock B via the socket, body via the splice); retransmits: backend $b1_rtx, client $cl_rtx; SIGTERM exit 0"
