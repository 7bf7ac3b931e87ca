#!/usr/bin/env bash
# splice/early_body: 20 MiB PUTs whose body reaches the proxy before the
# splice exists.  The backend's first SYN is dropped (iptables nth in lg), so
# the connect to httpd.py takes ~1 s; meanwhile curl keeps sending and the
# proxy's client socket buffers (and acknowledges) > 64 KiB of body, which
# the proxy injects into the backend connection after the splice
# (splice_inject), while the client's later bytes cross the splice behind it.
#
# 1. Lossless path:
#   - the upload is byte-exact (sha256 at the server);
#   - socket_bytes_read == injected_bytes (> 64 KiB: the case really happened);
#   - the client repairs no hole at or after the splice point (tcpdump on
#     cl: resending data below the highest byte sent means client data was
#     lost or stalled at the splice, or duplicate ACKs made the client
#     resend).  A resend the backend then reports as a duplicate (D-SACK: a
#     SACK block below its cumulative ACK covering exactly the resent range)
#     lost nothing: the original had arrived, the two segments only crossed
#     out of order, which this 2-vCPU bed does under load on plain kernel
#     forwarding too (a 20 MiB PUT cl -> b1 without any queue: 8 of 40 had
#     1-4 such resends); those are counted and printed, not judged. Tail probes (TLP: the last segment again, which a loaded
#     machine triggers whenever ACKs are late) and whatever happened before
#     that point (the proxy's own socket, plain kernel TCP) are reported,
#     not judged;
#   - the client sees no ACK older than what the proxy's socket already
#     acknowledged (TcpExtTCPChallengeACK / TCPACKSkippedChallenge +0) and
#     no SACK block below its snd_una (TcpExtTCPSACKDiscard +0);
#   - the proxy resent no injected segment (inject_resent 0).
# 2. Every 6th injected full-size segment dropped in lg (they are the only
#    1488-byte IP packets to b1:8000: the client's own segments cross the
#    splice as 1500-byte packets or GSO super-segments): still byte-exact,
#    the injector recovered (inject_recoveries >= 1) by resending holes, not
#    windows: inject_resent stays within twice the drops (a go-back-N resend
#    would send every outstanding segment again, tens of them).
# shellcheck source=tests/e2e/splice/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin

px_setup
require_tools tcpdump nstat
B1=$(topo_addr b1)
topo_exec lg iptables -w -I FORWARD -p tcp --syn -d "$B1" --dport 8000 \
  -m statistic --mode nth --every 2 --packet 0 -m comment --comment t-syn-drop -j DROP

# capture_start N: tcpdump of the client's segments to the VIP and of the
# ACKs it gets back, on cl.
capture_start() {
  CAP=$TOPO_DIR/cl.$1.pcap
  topo_start_bg cl "$TOPO_DIR/tcpdump.$1.log" tcpdump -i eth0 -s 96 -B 16384 --immediate-mode -U -n \
    -w "$CAP" "tcp and host $VIP and port 80"
  CAP_PID=$TOPO_LAST_PID
  wait_for 5 grep -qs 'listening on' "$TOPO_DIR/tcpdump.$1.log" ||
    result_fail "tcpdump on cl did not start: $(tr '\n' ' ' <"$TOPO_DIR/tcpdump.$1.log")"
}

capture_stop() {
  sleep 0.3
  topo_stop "$CAP_PID" INT 5 || true
}

# retransmits SPLIT: "PRE REPAIR PROBE N DUP": the client's data segments
# that start below the highest sequence already sent, before / at or after
# relative sequence SPLIT (tcpdump's relative numbers: the first body byte
# is 1), the latter split into repairs (a hole below the highest byte sent:
# what lost data or duplicate ACKs cause) and tail probes (the last segment
# sent again: TLP, which a loaded machine triggers whenever ACKs are late,
# spliced or not); N: all data segments; DUP: repairs the backend D-SACKed
# (its ACKs reach the client in the client's numbering: a SACK block that
# ends at or below the ACK and covers the resent range), which REPAIR
# leaves out.
retransmits() {
  tcpdump -nn -r "$CAP" 2>/dev/null | awk -v sp="$1" -v srv="$VIP.80" '
    $3 == srv ":" || $3 == srv {
      if (!match($0, / ack [0-9]+/)) next
      ack = substr($0, RSTART + 5, RLENGTH - 5) + 0
      rest = $0
      while (match(rest, /\{[0-9]+:[0-9]+\}/)) {
        split(substr(rest, RSTART + 1, RLENGTH - 2), b, ":")
        if (b[2] + 0 <= ack) { ds[++nds] = b[1] + 0; de[nds] = b[2] + 0 }
        rest = substr(rest, RSTART + RLENGTH)
      }
      next
    }
    / seq [0-9]+:[0-9]+/ {
      match($0, / seq [0-9]+:[0-9]+/); split(substr($0, RSTART + 5, RLENGTH - 5), a, ":")
      if (a[1] + 0 < max) {
        if (a[1] + 0 < sp) pre++
        else if (a[2] + 0 >= max) probe++
        else { rs[++nr] = a[1] + 0; re[nr] = a[2] + 0 }
      }
      if (a[2] + 0 > max) max = a[2] + 0; n++
    }
    END {
      for (i = 1; i <= nr; i++) {
        dup = 0
        for (j = 1; j <= nds; j++) if (ds[j] <= rs[i] && re[i] <= de[j]) dup = 1
        if (dup) dups++; else repair++
      }
      printf "%d %d %d %d %d\n", pre, repair, probe, n, dups
    }'
}

# put_round N: capture on cl, one 20 MiB PUT (exact), the proxy still
# alive; sets PUT_MS.
put_round() {
  local t0
  capture_start "$1"
  t0=$(now_ms)
  px_put "$(topo_www_file 20M)" --max-time 30
  PUT_MS=$(($(now_ms) - t0))
  capture_stop
  px_require_alive "after PUT $1"
}

KEYS=(TcpExtTCPChallengeACK TcpExtTCPACKSkippedChallenge TcpExtTCPSACKDiscard)
declare -A C0
for k in "${KEYS[@]}"; do C0[$k]=$(px_nstat cl "$k"); done

# ---- 1. lossless ----
put_round 1
ms1=$PUT_MS
wait_for 5 px_stat_cmp spliced -eq 1 || result_fail "spliced $(px_stat spliced), want 1"
sleep 1.2 # the stats file is rewritten every second
sock1=$(px_stat socket_bytes_read)
inj1=$(px_stat injected_bytes)
resent1=$(px_stat inject_resent)
read -r pre1 post1 probe1 nseg1 dup1 <<<"$(retransmits $((sock1 + 1)))"
chal=$(($(px_nstat cl TcpExtTCPChallengeACK) - C0[TcpExtTCPChallengeACK] + $(px_nstat cl TcpExtTCPACKSkippedChallenge) - C0[TcpExtTCPACKSkippedChallenge]))
disc=$(($(px_nstat cl TcpExtTCPSACKDiscard) - C0[TcpExtTCPSACKDiscard]))
say "PUT 1: ${ms1} ms, pre-splice body $sock1 B, client segments $nseg1, retransmits before the splice point $pre1, after it $post1 repairs + $dup1 D-SACKed (reordered) + $probe1 tail probes, challenge ACKs $chal, SACK discards $disc, inject_resent $resent1"

[ "$(ipt_pkts lg filter FORWARD t-syn-drop)" = 1 ] || result_fail "the SYN-drop rule matched $(ipt_pkts lg filter FORWARD t-syn-drop) SYNs, want 1"
[ "$sock1" -gt 65536 ] || result_fail "only $sock1 bytes reached the proxy's socket before the splice (want > 64 KiB): the scenario did not happen"
[ "$inj1" = "$sock1" ] || result_fail "injected_bytes $inj1 != socket_bytes_read $sock1"
[ "$nseg1" -gt 100 ] || result_fail "the capture on cl holds only $nseg1 data segments: no evidence"
[ "$post1" = 0 ] || result_fail "client repaired $post1 holes at or after the splice point on a lossless path, none reported as a duplicate by the backend ($dup1 D-SACKed resends, $probe1 tail probes; $pre1 retransmits before it)"
[ "$chal" = 0 ] || result_fail "client got $chal ACKs older than its snd_una (RFC 5961 challenge ACKs): backend ACKs of injected bytes forwarded unclamped"
[ "$disc" = 0 ] || result_fail "client discarded $disc SACK blocks below its snd_una"
[ "$resent1" = 0 ] || result_fail "the proxy resent $resent1 injected segments on a lossless path"

# ---- 2. injected segments lost ----
topo_exec lg iptables -w -I FORWARD -p tcp -d "$B1" --dport 8000 -m length --length 1488 \
  -m statistic --mode nth --every 6 --packet 2 -m comment --comment t-inj-drop -j DROP
put_round 2
ms2=$PUT_MS
px_stop
sock2=$(($(px_stat socket_bytes_read) - sock1))
inj2=$(($(px_stat injected_bytes) - inj1))
resent2=$(($(px_stat inject_resent) - resent1))
rec2=$(px_stat inject_recoveries)
drops=$(ipt_pkts lg filter FORWARD t-inj-drop)
read -r pre2 post2 probe2 nseg2 dup2 <<<"$(retransmits $((sock2 + 1)))"
say "PUT 2: ${ms2} ms, pre-splice body $sock2 B, injected segments dropped $drops, inject_resent $resent2, recoveries $rec2, client retransmits before $pre2, after $post2 repairs + $dup2 D-SACKed + $probe2 tail probes"
say "final stats: $(tr '\n' ' ' <"$PX_STATS")"

[ "$(px_stat spliced)" = 2 ] || result_fail "spliced $(px_stat spliced), want 2"
[ "$sock2" -gt 65536 ] || result_fail "second PUT: only $sock2 bytes before the splice (want > 64 KiB)"
[ "$inj2" = "$sock2" ] || result_fail "second PUT: injected_bytes $inj2 != socket_bytes_read $sock2"
[ "$drops" -ge 1 ] || result_fail "the drop rule for injected segments matched nothing: the loss case did not happen"
[ "$rec2" -ge 1 ] || result_fail "$drops injected segments dropped but inject_recoveries is $rec2"
[ "$resent2" -ge "$drops" ] || result_fail "$drops injected segments dropped, only $resent2 resent"
[ "$resent2" -le $((2 * drops)) ] || result_fail "$drops injected segments dropped, $resent2 resent (> 2x: go-back-N resends)"

result_pass "20 MiB PUT exact in ${ms1} ms (backend connect ~1 s) with $sock1 B of body injected: 0 client repairs after the splice point ($dup1 resends D-SACKed as reordered, $probe1 tail probes after it, $pre1 retransmits before it to the proxy's socket), 0 challenge ACKs, 0 SACK discards, 0 injected resends; with $drops injected segments dropped: exact in ${ms2} ms, $resent2 resent in $rec2 recoveries"
