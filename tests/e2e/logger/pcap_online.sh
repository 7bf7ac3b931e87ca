#!/usr/bin/env bash
# logger/pcap_online: the committed pcap corpus (tests/pcap) replayed with
# tcpreplay onto the logger host's interface must give craft-logger
# (NFQUEUE in lg's FORWARD chain) the same rows craft-pcap writes offline
# from the same files: connections, transactions, offsets, tags, digests,
# payloads, marks, compared field by field; and the complete transactions
# the same endpoints, ordinals, offsets and statuses as the tshark tables
# (NAME.expect) say.
#
# How the frames reach FORWARD: tcpreplay-edit sends every frame from b2's
# eth0 with lg's eth1 MAC as destination (and b2's as source, so the switch
# learns nothing wrong). lg routes the capture's addresses (clients and
# servers alike) to aux through eth2, so both directions are forwarded,
# logged, and then dropped silently by aux, which does not forward: no
# live stack answers a replayed segment. The captures' GSO super-segments
# (up to 48 kB) need a 64 kB MTU on that path.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../../lib.sh"
# shellcheck source=tests/e2e/logger/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin
require_tools tcpreplay-edit iptables sqlite3 ip
require_bin logger pcap

CORPUS=$CRAFT_ROOT/tests/pcap
PCAPS=("$CORPUS"/*.pcap)
[ ${#PCAPS[@]} -ge 9 ] || result_fail "only ${#PCAPS[@]} captures in tests/pcap"
topo_up
CONF=$TOPO_DIR/logger.conf
lg_config "$CONF"

# ---- offline first: the rows to reach, and the addresses to route ------------------
PDB=$TOPO_DIR/pcap.db
FRAMES=0
for p in "${PCAPS[@]}"; do
  rc=0
  "$(craft_path pcap)" -c "$CONF" --db "$PDB" --print --conns "$p" >>"$TOPO_DIR/offline.txt" 2>"$TOPO_DIR/pcap.err" || rc=$?
  [ "$rc" = 0 ] || result_fail "craft-pcap $(basename "$p"): exit $rc: $(tail -n 1 "$TOPO_DIR/pcap.err")"
  FRAMES=$((FRAMES + $(sed -n 's/^craft-pcap: \([0-9]*\) frames.*/\1/p' "$TOPO_DIR/pcap.err")))
done
NCONN=$(q "$PDB" "SELECT count(*) FROM connections")
NTXN=$(q "$PDB" "SELECT count(*) FROM transactions")
mapfile -t ADDRS < <(awk '$1 == "open" { split($3, e, ">"); sub(/:.*/, "", e[1]); sub(/:.*/, "", e[2]); print e[1]; print e[2] }' \
  "$TOPO_DIR/offline.txt" | sort -u)
[ ${#ADDRS[@]} -ge 2 ] || result_fail "no endpoints in the corpus: $(head -n 2 "$TOPO_DIR/offline.txt")"

# ---- the replay path ----------------------------------------------------------------
AUX=$(topo_addr aux)
for a in "${ADDRS[@]}"; do
  case "$a" in "$AUX" | "$(topo_addr lg)" | "$(topo_addr lg-be)" | "$(topo_addr lg-aux)")
    result_fail "capture address $a is one of lg's or aux's: cannot be routed through" ;;
  esac
  ip -n "$(topo_ns lg)" route add "$a/32" via "$AUX" dev eth2
done
MTU=65535
ip -n "$(topo_ns b2)" link set eth0 mtu $MTU
for port in b2-eth0 lg-eth1; do ip -n "$(topo_ns sw)" link set "$port" mtu $MTU; done
ip -n "$(topo_ns lg)" link set eth1 mtu $MTU
ip -n "$(topo_ns lg)" link set eth2 mtu $MTU
ip -n "$(topo_ns aux)" link set eth0 mtu $MTU
MAC_LG=$(topo_exec lg cat /sys/class/net/eth1/address)
MAC_B2=$(topo_exec b2 cat /sys/class/net/eth0/address)

lg_start "$CONF"
fwd0=$(snmp_get lg Ip ForwDatagrams)
q0=$(nfq_queue_field lg "$LG_Q" id_sequence)
for p in "${PCAPS[@]}"; do
  out=$(topo_exec b2 tcpreplay-edit -i eth0 --enet-dmac="$MAC_LG" --enet-smac="$MAC_B2" "$p" 2>&1) ||
    result_fail "tcpreplay $(basename "$p"): ${out//$'\n'/ }"
  failed=$(sed -n 's/^[[:space:]]*Failed packets:[[:space:]]*\([0-9]*\).*/\1/p' <<<"$out")
  [ "${failed:-x}" = 0 ] || result_fail "tcpreplay $(basename "$p"): failed packets: ${failed:-?}: ${out//$'\n'/ }"
  lg_alive
done
lg_wait_stat log_conns_closed "$NCONN" 20
fwd=$(($(snmp_get lg Ip ForwDatagrams) - fwd0))
queued=$(($(nfq_queue_field lg "$LG_Q" id_sequence) - q0))
lg_stop
[ "$queued" = "$FRAMES" ] || result_fail "craft-logger's queue saw $queued packets of the $FRAMES replayed (forwarded: $fwd)"

lg_dump_rows "$LG_DB" >"$TOPO_DIR/live.txt"
lg_dump_rows "$PDB" >"$TOPO_DIR/offline_rows.txt"
if ! diff -u "$TOPO_DIR/offline_rows.txt" "$TOPO_DIR/live.txt" >"$TOPO_DIR/diff.txt"; then
  say "$(head -n 60 "$TOPO_DIR/diff.txt")"
  result_fail "replayed rows differ from craft-pcap's ($(grep -c '^[-+][^-+]' "$TOPO_DIR/diff.txt") lines): $(grep -m 1 '^[-+][^-+]' "$TOPO_DIR/diff.txt")"
fi
# and directly against tshark's tables: every complete transaction's
# endpoints, ordinal, offsets and status
ipq() { printf "((%s >> 24) & 255) || '.' || ((%s >> 16) & 255) || '.' || ((%s >> 8) & 255) || '.' || (%s & 255)" "$1" "$1" "$1" "$1"; }
q "$LG_DB" "SELECT 'txn ' || $(ipq c.client_ip) || ':' || c.client_port || '>' || $(ipq c.server_ip) || ':' || c.server_port ||
  ' ord=' || v.ordinal || ' req=' || v.req_start || '-' || v.req_end || ' resp=' || v.resp_start || '-' || v.resp_end ||
  ' status=' || v.status FROM v_transactions v JOIN connections c USING (conn_id) WHERE v.state = 'complete'" |
  sort >"$TOPO_DIR/live_txns.txt"
cat "$CORPUS"/*.expect | awk '$1 == "txn" && $(NF - 1) == "state=complete" { print $1, $2, $3, $4, $5, $6 }' |
  sort >"$TOPO_DIR/tshark_txns.txt"
if ! diff -u "$TOPO_DIR/tshark_txns.txt" "$TOPO_DIR/live_txns.txt" >"$TOPO_DIR/diff2.txt"; then
  say "$(head -n 40 "$TOPO_DIR/diff2.txt")"
  result_fail "complete transactions differ from tshark's tables: $(grep -m 1 '^[-+]txn' "$TOPO_DIR/diff2.txt")"
fi
NTSHARK=$(wc -l <"$TOPO_DIR/tshark_txns.txt")
live_conn=$(q "$LG_DB" "SELECT count(*) FROM connections")
live_txn=$(q "$LG_DB" "SELECT count(*) FROM transactions")
[ "$live_conn/$live_txn" = "$NCONN/$NTXN" ] || result_fail "counts: live $live_conn/$live_txn, offline $NCONN/$NTXN"
[ "$NTXN" -ge 50 ] || result_fail "only $NTXN transactions in the corpus"
result_pass "${#PCAPS[@]} captures, $FRAMES frames replayed through lg's FORWARD (all queued): $NCONN connections," \
  "$NTXN transactions, rows identical to craft-pcap's (offsets, tags, digests, payloads, marks);" \
  "the $NTSHARK complete ones equal tshark's offsets and statuses"
