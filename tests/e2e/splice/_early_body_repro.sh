#!/usr/bin/env bash
# KNOWN-FAILING reproduction of the open defect in issue 3 (an upload whose body
# reaches the proxy before the splice): not part of the suite (the leading "_"
# keeps tests/run.sh from running it). Run it by hand: bash tests/e2e/splice/_early_body_repro.sh
# splice/early_body: a 20 MiB PUT whose body reaches the proxy before the
# splice exists.  The backend's first SYN is dropped (iptables nth in lg), so
# the connect to httpd.py takes ~1 s; meanwhile curl keeps sending and the
# proxy's client socket buffers (and acknowledges) > 64 KiB of body, which
# the proxy injects into the backend connection after the splice.  Nothing is
# lost in the network, so:
#   - the upload is byte-exact (sha256 at the server);
#   - socket_bytes_read == injected_bytes (> 64 KiB: the case really happened);
#   - the client never retransmits (TcpRetransSegs +0): no client segment may
#     be lost at the splice point;
#   - the client never sees an ACK older than what the proxy's socket already
#     acknowledged (no RFC 5961 challenge ACK, TcpExtTCPChallengeACK and
#     TcpExtTCPACKSkippedChallenge +0) and no SACK block below its snd_una
#     (TcpExtTCPSACKDiscard +0): backend ACKs covering injected bytes must be
#     clamped to the client's numbering, not forwarded as old ACKs.
# shellcheck source=tests/e2e/splice/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin

px_setup
B1=$(topo_addr b1)
topo_exec lg iptables -w -I FORWARD -p tcp --syn -d "$B1" --dport 8000 \
  -m statistic --mode nth --every 2 --packet 0 -m comment --comment t-syn-drop -j DROP

KEYS=(TcpRetransSegs TcpExtTCPChallengeACK TcpExtTCPACKSkippedChallenge TcpExtTCPSACKDiscard TcpExtTCPDSACKRecv)
declare -A C0 C1
for k in "${KEYS[@]}"; do C0[$k]=$(px_nstat cl "$k"); done
sock0=$(px_stat socket_bytes_read)

t0=$(now_ms)
px_put "$(topo_www_file 20M)" --max-time 30
ms=$(($(now_ms) - t0))
for k in "${KEYS[@]}"; do C1[$k]=$(($(px_nstat cl "$k") - C0[$k])); done
syn_drops=$(ipt_pkts lg filter FORWARD t-syn-drop)
px_require_alive "after the PUT"
px_stop
say "final stats: $(tr '\n' ' ' <"$PX_STATS")"

sock=$(($(px_stat socket_bytes_read) - sock0))
inj=$(px_stat injected_bytes)
rtx=${C1[TcpRetransSegs]}
chal=$((C1[TcpExtTCPChallengeACK] + C1[TcpExtTCPACKSkippedChallenge]))
disc=${C1[TcpExtTCPSACKDiscard]}
dsack=${C1[TcpExtTCPDSACKRecv]}
say "PUT ${ms} ms; pre-splice body $sock B; client: retrans +$rtx, challenge ACKs (sent+skipped) +$chal, SACKDiscard +$disc, DSACKRecv +$dsack"

[ "$syn_drops" = 1 ] || result_fail "the SYN-drop rule matched $syn_drops SYNs, want 1"
[ "$(px_stat spliced)" = 1 ] || result_fail "spliced $(px_stat spliced), want 1"
[ "$sock" -gt 65536 ] || result_fail "only $sock bytes reached the proxy's socket before the splice (want > 64 KiB): the scenario did not happen"
[ "$inj" = "$sock" ] || result_fail "injected_bytes $inj != socket_bytes_read $sock"
problems=()
[ "$rtx" = 0 ] || problems+=("client retransmitted $rtx segments on a lossless path (client data lost at the splice)")
[ "$chal" = 0 ] || problems+=("client got $chal ACKs older than its snd_una minus the window (RFC 5961 challenge ACKs): backend ACKs of injected bytes forwarded unclamped")
[ "$disc" = 0 ] || problems+=("client discarded $disc SACK blocks below its snd_una")
if [ ${#problems[@]} -gt 0 ]; then
  result_fail "PUT exact in ${ms} ms with $sock B of body injected, but: $(printf '%s; ' "${problems[@]}")DSACKRecv +$dsack"
fi

result_pass "PUT 20 MiB exact in ${ms} ms (backend connect ~1 s), $sock B of body read and injected before the splice; client: 0 retransmits, 0 challenge ACKs, 0 SACK discards, DSACKRecv +$dsack"
