#!/usr/bin/env bash
# splice/options: TCP options differ between the two halves of a splice and
# segments get lost on both sides of the proxy, so SACK blocks, timestamps,
# window scaling and retransmissions all cross the splice point.
#   - cl has a small receive buffer (tcp_rmem max 64 KiB), b1 a large one
#     (tcp_rmem max 16 MiB): the window scales the two ends announce (seen
#     by tcpdump on their SYN/SYN-ACK in lb and lg) must differ;
#   - timestamps and SACK on (default; checked in the same captures; ss -ti
#     does not show them on this kernel);
#   - 1% random loss of forwarded TCP packets, both directions, in lb (the
#     client's hop) and in lg (the backend's hop): iptables statistic DROP.
# A 20 MiB GET and a 20 MiB PUT (Expect: 100-continue, so the whole body
# crosses the splice) through the proxy are byte-exact; the loss
# rules dropped packets and the senders retransmitted and did SACK recovery
# (nstat on cl and b1); TcpExtPAWSEstab stays 0 on cl and b1 (PAWS drops
# would mean a broken timestamp translation) and TcpExtTCPSACKDiscard stays
# 0 (no SACK block outside the window: a broken SACK translation).
# shellcheck source=tests/e2e/splice/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin

LOSS=0.01
CL_RMEM="4096 16384 65536"
B1_RMEM="4096 131072 16777216"

# shellcheck disable=SC2317 # called by px_setup
set_buffers() {
  topo_exec cl sysctl -qw net.ipv4.tcp_rmem="$CL_RMEM" net.ipv4.tcp_timestamps=1 net.ipv4.tcp_sack=1
  topo_exec b1 sysctl -qw net.ipv4.tcp_rmem="$B1_RMEM" net.ipv4.tcp_timestamps=1 net.ipv4.tcp_sack=1
}
# shellcheck disable=SC2034 # read by px_setup
PX_BEFORE_PROXY=set_buffers
px_setup
require_tools tcpdump

loss_on() {
  local r
  for r in lb lg; do
    topo_exec "$r" iptables -w -I FORWARD -p tcp -m statistic --mode random --probability "$LOSS" \
      -m comment --comment t-loss -j DROP
  done
}

# syn_capture ROLE IFACE HOST: tcpdump of the SYN and SYN-ACK segments of
# HOST's connections on ROLE's IFACE (what each end announced); sets CAP_PID.
syn_capture() {
  local log=$TOPO_DIR/syn-$1.txt
  topo_start_bg "$1" "$log" tcpdump --immediate-mode -i "$2" -nn -l -U -v "tcp[tcpflags] & tcp-syn != 0 and host $3"
  CAP_PID=$TOPO_LAST_PID
  wait_for 5 grep -qs 'listening on' "$log" || result_fail "tcpdump in $1 did not start: $(tail -n 2 "$log" | tr '\n' ' ')"
}

# syn_opts ROLE FLAGS: "wscale N ts|nots sack|nosack" of the first segment with
# Flags [FLAGS] (S or S.) in the capture of ROLE; "none" when absent.
syn_opts() {
  local line ws
  line=$(grep -F "Flags [$2]" "$TOPO_DIR/syn-$1.txt" | head -n 1) || true
  [ -n "$line" ] || { echo none; return; }
  ws=$(grep -o 'wscale [0-9]*' <<<"$line" | head -n 1)
  printf '%s %s %s\n' "${ws:-nowscale}" "$([[ $line == *"TS val"* ]] && echo ts || echo nots)" \
    "$([[ $line == *sackOK* ]] && echo sack || echo nosack)"
}

# snap ROLE: "PAWSEstab SACKDiscard RetransSegs SackRecovery Timeouts"
snap() {
  local k
  for k in TcpExtPAWSEstab TcpExtTCPSACKDiscard TcpRetransSegs TcpExtTCPSackRecovery TcpExtTCPTimeouts; do
    printf '%s ' "$(px_nstat "$1" "$k")"
  done
  echo
}

IVIP=$(topo_addr ivip)
read -r _ cl_disc0 cl_rtx0 cl_rec0 cl_to0 <<<"$(snap cl)"
read -r _ b1_disc0 b1_rtx0 b1_rec0 b1_to0 <<<"$(snap b1)"
syn_capture lb eth0 "$VIP"
CAP_LB=$CAP_PID
syn_capture lg eth0 "$IVIP"
CAP_LG=$CAP_PID
loss_on

# --- GET under loss ---------------------------------------------------------------
GET_OUT=$TOPO_DIR/recv.options.20M
GET_RES=$TOPO_DIR/get.res
fetch cl "$PX_URL/20M" "$GET_OUT" --max-time 40 >"$GET_RES" 2>&1 &
get_pid=$!
rc=0
wait "$get_pid" || rc=$?
read -r code bytes secs <"$GET_RES" || true
[ "$rc" = 0 ] || result_fail "GET under loss failed: curl rc $rc ($(head -c 200 "$GET_RES")) $(px_log_tail)"
[ "$code" = 200 ] || result_fail "GET under loss: HTTP $code"
sha_eq "$(topo_www_file 20M)" "$GET_OUT" || result_fail "GET under loss: sha256 mismatch ($bytes bytes)"
rm -f "$GET_OUT"
GET_MBPS=$(mbps "$bytes" "$secs")
read -r _ _ b1_rtx1 b1_rec1 b1_to1 <<<"$(snap b1)"
say "GET: b1 retrans +$((b1_rtx1 - b1_rtx0)) sack_recovery +$((b1_rec1 - b1_rec0)) timeouts +$((b1_to1 - b1_to0))"

# --- PUT under loss -------------------------------------------------------------
# With "Expect: 100-continue" the body crosses the splice only (a body the
# proxy buffers and injects before the splice is early_body's subject).
PX_PUT_EXPECT=1 px_put "$(topo_www_file 20M)" --max-time 40
read -r cl_paws cl_disc cl_rtx cl_rec cl_to <<<"$(snap cl)"
read -r b1_paws b1_disc b1_rtx b1_rec b1_to <<<"$(snap b1)"

topo_stop "$CAP_LB" INT 3 || true
topo_stop "$CAP_LG" INT 3 || true
cl_opts=$(syn_opts lb S)
px_c_opts=$(syn_opts lb S.)
px_b_opts=$(syn_opts lg S)
b1_opts=$(syn_opts lg S.)
say "SYN options: client $cl_opts, proxy->client $px_c_opts, proxy->backend $px_b_opts, backend $b1_opts"
drop_lb=$(ipt_pkts lb filter FORWARD t-loss)
drop_lg=$(ipt_pkts lg filter FORWARD t-loss)
px_require_alive "after the transfers under loss"
px_stop
say "final stats: $(tr '\n' ' ' <"$PX_STATS")"
say "cl: PAWSEstab $cl_paws SACKDiscard $cl_disc RetransSegs $cl_rtx SackRecovery $cl_rec; b1: PAWSEstab $b1_paws SACKDiscard $b1_disc RetransSegs $b1_rtx SackRecovery $b1_rec; dropped lb $drop_lb lg $drop_lg"

# options really differ and are on
for o in "$cl_opts" "$px_c_opts" "$px_b_opts" "$b1_opts"; do
  [ "$o" != none ] || result_fail "a SYN or SYN-ACK is missing from the captures (client $cl_opts, proxy $px_c_opts / $px_b_opts, backend $b1_opts)"
  [[ $o == *" ts sack" ]] || result_fail "timestamps/SACK not negotiated on both halves: client $cl_opts, proxy $px_c_opts / $px_b_opts, backend $b1_opts"
done
cl_ws=${cl_opts%% ts*}
b1_ws=${b1_opts%% ts*}
[ "$cl_ws" != "$b1_ws" ] || result_fail "client and backend announce the same window scale ($cl_ws): the test does not exercise rescaling"

# loss happened and was repaired across the splice
if [ "$drop_lb" = 0 ] || [ "$drop_lg" = 0 ]; then result_fail "a loss rule dropped nothing (lb $drop_lb, lg $drop_lg)"; fi
d_b1_rtx=$((b1_rtx - b1_rtx0))
d_cl_rtx=$((cl_rtx - cl_rtx0))
d_b1_rec=$((b1_rec - b1_rec0))
d_cl_rec=$((cl_rec - cl_rec0))
[ "$((b1_rtx1 - b1_rtx0))" -gt 0 ] || result_fail "backend retransmitted nothing during the GET under loss"
[ "$d_cl_rtx" -gt 0 ] || result_fail "client retransmitted nothing during the PUT under loss"
[ "$((d_b1_rec + d_cl_rec))" -gt 0 ] || result_fail "no SACK recovery on either sender: SACK blocks did not cross the splice"

# nothing the translation should have prevented
[ "$cl_paws" = 0 ] || result_fail "client PAWSEstab $cl_paws : timestamps translated wrongly"
[ "$b1_paws" = 0 ] || result_fail "backend PAWSEstab $b1_paws : timestamps translated wrongly"
[ "$((cl_disc - cl_disc0))" = 0 ] || result_fail "client TCPSACKDiscard +$((cl_disc - cl_disc0)): the client got SACK blocks outside [snd_una, snd_nxt] (wrong SACK translation)"
[ "$((b1_disc - b1_disc0))" = 0 ] || result_fail "backend TCPSACKDiscard +$((b1_disc - b1_disc0)): the backend got SACK blocks outside [snd_una, snd_nxt] (wrong SACK translation)"
[ "$(px_stat rewrite_errors)" = 0 ] || result_fail "rewrite_errors $(px_stat rewrite_errors)"
[ "$(px_stat spliced)" = 2 ] || result_fail "spliced $(px_stat spliced), want 2"

result_pass "GET 20 MiB ${GET_MBPS} MB/s, PUT 20 MiB ${PUT_MBPS} MB/s, sha256 ok under 1% loss (dropped lb $drop_lb, lg $drop_lg); announced client ${cl_ws}, backend ${b1_ws} (proxy ${px_c_opts%% ts*} / ${px_b_opts%% ts*}), ts+sack; retrans b1 +$d_b1_rtx cl +$d_cl_rtx, SackRecovery b1 +$d_b1_rec cl +$d_cl_rec, RTO b1 +$((b1_to - b1_to0)) cl +$((cl_to - cl_to0)); PAWSEstab cl $cl_paws b1 $b1_paws; SACKDiscard 0"
