#!/usr/bin/env bash
# splice/split_splice: split splice and the mixed configuration.  Two
# proxies (p1, p2; lb alternates the client's segments, lg the backends'
# segments to the IVIP between them) replicate their splices to craft-splitd
# on b1 as well.
#   1. A 20 MiB GET from nginx on b1 (agent): byte-exact (sha256); b1's agent
#      rewrote the response (seg_rewritten >= 100) and the proxies saw
#      (almost) none of it: their seg_b2c grew by <= 1% of the segments the
#      agent rewrote. Every response byte was rewritten once: by the agent,
#      or by the proxies for the first segments the agent leaves them while
#      the creating proxy still owes injected request bytes (owed_passed:
#      the backend's ACK of those must reach that proxy), so the agent's
#      bytes_rewritten plus the proxies' bytes_b2c is at least 20 MiB.
#   2. A 20 MiB GET routed (path /b2/) to nginx on b2, which has no agent:
#      byte-exact; the proxies rewrote its response (seg_b2c +>= 100,
#      bytes_b2c +>= 20 MiB).
# No rewrite error anywhere; proxies and agent exit 0 on SIGTERM.
# shellcheck source=tests/e2e/splice/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin
# shellcheck disable=SC2317 # called by the EXIT trap of tests/lib.sh
test_cleanup() { px2_cleanup; }

PX2_SPLITD=1
PX2_ROUTING_EXTRA="backend = web2 $(topo_addr b2):80
route = * /b2/ web2"
px2_setup
# b2 serves the same www directory; /b2/20M is the same bytes as /20M
mkdir -p "$TOPO_DIR/www/b2" "$TOPO_DIR/recv.b2"
ln "$(topo_www_file 20M)" "$(topo_www_file b2/20M)"
topo_nginx b2 || result_fail "nginx on b2 did not start"
sd_setup
px2_alternate lb vip
px2_alternate lg ivip

# snapshot NAME...: "p1+p2 sum" for each proxy counter.
snapshot() {
  local k
  for k in "$@"; do printf '%s ' "$(px2_sum "$k")"; done
}

# --- 1. split splice: GET from b1 ------------------------------------------
read -r b2c0 bb2c0 <<<"$(snapshot seg_b2c bytes_b2c)"
px_get 20M
b1_mbps=$GET_MBPS
sd_wait_stat 4 bytes_rewritten -ge $((20 * MiB)) || true
sleep 1.1 # one more stats period for the proxies
read -r b2c1 bb2c1 <<<"$(snapshot seg_b2c bytes_b2c)"
sd_seg=$(sd_stat seg_rewritten)
sd_bytes=$(sd_stat bytes_rewritten)
sd_unknown=$(sd_stat seg_unknown)
sd_rwerr=$(sd_stat rewrite_errors)
sd_created=$(sd_stat splice_created)
for v in "$b2c0" "$b2c1" "$bb2c1" "$sd_seg" "$sd_bytes" "$sd_unknown" "$sd_rwerr" "$sd_created"; do
  [[ $v =~ ^[0-9]+$ ]] || result_fail "a counter is missing ($v)"
done
px_b2c=$((b2c1 - b2c0))
px_bb2c=$((bb2c1 - bb2c0))
say "b1 GET: agent seg_rewritten $sd_seg bytes_rewritten $sd_bytes seg_unknown $sd_unknown splice_created $sd_created; proxies seg_b2c +$px_b2c bytes_b2c +$px_bb2c"
[ "$sd_created" -ge 1 ] || result_fail "b1 GET: the agent's splice table got no splice (splice_created 0, repl_applied $(sd_stat repl_applied))"
[ "$sd_seg" -ge 100 ] || result_fail "b1 GET: the agent rewrote $sd_seg segments (< 100; seg_unknown $sd_unknown)"
sd_owed=$(sd_stat owed_passed)
[ $((sd_bytes + px_bb2c)) -ge $((20 * MiB)) ] ||
  result_fail "b1 GET: the agent rewrote $sd_bytes bytes and the proxies $px_bb2c (< 20 MiB together; seg_unknown $sd_unknown, owed_passed $sd_owed)"
[ $((px_b2c * 100)) -le "$sd_seg" ] ||
  result_fail "b1 GET: the proxies still rewrote $px_b2c response segments ($px_bb2c bytes), > 1% of the agent's $sd_seg"

# --- 2. mixed: GET from b2 (no agent) ----------------------------------------
b2_rtx0=$(px_nstat b2 TcpRetransSegs)
px_get b2/20M
b2_mbps=$GET_MBPS
# shellcheck disable=SC2317 # called through wait_for
b2_shown() { [ "$(px2_sum bytes_b2c)" -ge $((bb2c1 + 20 * MiB)) ]; }
wait_for 4 b2_shown || true
sleep 1.1
read -r b2c2 bb2c2 <<<"$(snapshot seg_b2c bytes_b2c)"
mx_b2c=$((b2c2 - b2c1))
mx_bb2c=$((bb2c2 - bb2c1))
sd_seg2=$(sd_stat seg_rewritten)
# informational: b2's retransmissions (segments alternated between two paths
# arrive reordered, so bytes_b2c counts some payload twice)
b2_rtx=$(($(px_nstat b2 TcpRetransSegs) - b2_rtx0))
say "b2 GET: proxies seg_b2c +$mx_b2c bytes_b2c +$mx_bb2c; agent seg_rewritten $sd_seg -> $sd_seg2"
[ "$mx_b2c" -ge 100 ] || result_fail "b2 GET: the proxies rewrote only $mx_b2c response segments (< 100)"
[ "$mx_bb2c" -ge $((20 * MiB)) ] || result_fail "b2 GET: the proxies rewrote $mx_bb2c response bytes (< 20 MiB)"

# --- final ---------------------------------------------------------------------
px2_require_alive "after the transfers"
[[ $(sd_stat rewrite_errors) == 0 ]] || result_fail "agent rewrite_errors $(sd_stat rewrite_errors)"
sd_stop
px2_stop
for i in 1 2; do
  say "p$i final stats: $(tr '\n' ' ' <"${PX2_STATS[$i]}")"
  for k in rewrite_errors splice_failed; do
    [ "$(px2_stat "$i" "$k")" = 0 ] || result_fail "p$i $k $(px2_stat "$i" "$k")"
  done
done
spl=$(px2_sum spliced)
[ "$spl" = 2 ] || result_fail "spliced $(px2_stat 1 spliced) + $(px2_stat 2 spliced) connections, want 2"

result_pass "split (b1 agent): GET 20 MiB $b1_mbps MB/s sha256 ok, agent rewrote $sd_seg segs / $sd_bytes B (left $sd_owed to the proxies while owed)" \
  "(seg_unknown $sd_unknown), proxies seg_b2c +$px_b2c; mixed (b2, no agent): GET 20 MiB $b2_mbps MB/s sha256 ok," \
  "proxies seg_b2c +$mx_b2c / +$mx_bb2c B (b2 retransmitted $b2_rtx segs; agent seg_rewritten +$((sd_seg2 - sd_seg)) meanwhile); rewrite_errors 0; SIGTERM exit 0"
