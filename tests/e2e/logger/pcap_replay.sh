#!/usr/bin/env bash
# logger/pcap_replay: the same traffic logged twice, live by craft-logger
# (NFQUEUE on lg) and offline by craft-pcap from a tcpdump capture taken on
# lg's backend interface at the same time. Both databases must hold the
# same connections (ISNs, ports, end state), the same transactions (ids,
# states, statuses, request/response offsets and sizes, summaries, tags),
# the same digests and payload bytes and the same final AckCL / last server
# byte. craft-pcap --print gives one line per transaction. A capture cut in
# the middle makes craft-pcap fail (exit 1, "damaged") after printing the
# transactions completed before the cut, each identical to the full run's;
# a file that is no capture at all is refused with a message.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../../lib.sh"
# shellcheck source=tests/e2e/logger/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin
require_tools curl nginx iptables sqlite3 tcpdump python3
require_bin logger pcap

topo_up
topo_www
head -c 3000000 /dev/urandom >"$(topo_www_file 3M)" # over max_kept_message: a digest
chmod 644 "$(topo_www_file 3M)"
topo_nginx b1
topo_pyhttp b1 8000
B1=$(topo_addr b1)
CONF=$TOPO_DIR/logger.conf
lg_config "$CONF"
lg_start "$CONF"

CAP=$TOPO_DIR/lg.pcap
TD_LOG=$TOPO_DIR/tcpdump.log
# a big buffer: a capture that drops packets would make the comparison moot
topo_start_bg lg "$TD_LOG" tcpdump -i eth1 -nn -s 0 -B 131072 --immediate-mode -U -w "$CAP" tcp
TD_PID=$TOPO_LAST_PID
wait_for 5 grep -qs 'listening on' "$TD_LOG" || result_fail "tcpdump did not start: $(tail -n 2 "$TD_LOG" | tr '\n' ' ')"

# ---- traffic: keep-alive GETs, a big one, POSTs, parallel connections -------------
W=$TOPO_DIR/curl
mkdir -p "$W"
urls=()
for n in 1 2 3 4 5; do urls+=(-o /dev/null "http://$B1/1k"); done
urls+=(-o /dev/null "http://$B1/3M" -o /dev/null "http://$B1/missing" -o /dev/null "http://$B1/1k")
topo_exec cl curl -sS --connect-timeout 5 "${urls[@]}" || result_fail "curl GETs failed"
head -c 5000 /dev/urandom >"$W/body"
topo_exec cl curl -sS --connect-timeout 5 -H 'Expect:' --data-binary "@$W/body" \
  -o /dev/null "http://$B1:8000/upload" -o /dev/null "http://$B1:8000/upload" || result_fail "curl POSTs failed"
pids=()
for i in 1 2 3 4 5 6; do
  topo_exec cl curl -sS --connect-timeout 5 -o /dev/null "http://$B1/1k" -o /dev/null "http://$B1/1k" \
    -o /dev/null "http://$B1/1k" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || result_fail "parallel curl failed"; done
lg_wait_stat log_conns_closed 8 # every FIN exchange logged
sleep 1 # let tcpdump write its last packets
topo_stop "$TD_PID" INT 5 || true
td_drops=$(sed -n 's/^\([0-9]*\) packets* dropped by kernel.*/\1/p' "$TD_LOG")
[ "${td_drops:-0}" = 0 ] || result_fail "tcpdump lost $td_drops packets: the capture is incomplete (host overloaded?)"
lg_alive
lg_stop
[ -s "$CAP" ] || result_fail "empty capture"

# ---- offline run --------------------------------------------------------------
PDB=$TOPO_DIR/pcap.db
PRINT=$TOPO_DIR/print.txt
rc=0
"$CRAFT_BIN/craft-pcap" -c "$CONF" --db "$PDB" --print "$CAP" >"$PRINT" 2>"$TOPO_DIR/pcap.err" || rc=$?
[ "$rc" = 0 ] || result_fail "craft-pcap exit $rc: $(tail -n 2 "$TOPO_DIR/pcap.err" | tr '\n' ' ')"
say "$(cat "$TOPO_DIR/pcap.err")"

# The rows that must agree (lg_dump_rows), live against offline.
lg_dump_rows "$LG_DB" >"$TOPO_DIR/live.txt"
lg_dump_rows "$PDB" >"$TOPO_DIR/offline.txt"
if ! diff -u "$TOPO_DIR/live.txt" "$TOPO_DIR/offline.txt" >"$TOPO_DIR/diff.txt"; then
  say "$(head -n 40 "$TOPO_DIR/diff.txt")"
  result_fail "craft-pcap's rows differ from craft-logger's ($(grep -c '^[-+][^-+]' "$TOPO_DIR/diff.txt") lines)"
fi
nconn=$(q "$LG_DB" "SELECT count(*) FROM connections")
ntxn=$(q "$LG_DB" "SELECT count(*) FROM transactions")
ncomplete=$(q "$LG_DB" "SELECT count(*) FROM transactions WHERE state = 'complete'")
[ "$nconn" = 8 ] || result_fail "want 8 connections, got $nconn"
if [ "$ntxn" != 28 ] || [ "$ncomplete" != 28 ]; then
  result_fail "want 28 complete transactions, got $ncomplete of $ntxn"
fi
[ "$(grep -c '^txn ' "$PRINT")" = "$ntxn" ] || result_fail "--print gave $(grep -c '^txn ' "$PRINT") lines for $ntxn transactions"
grep -q 'status=200 end=complete tags=deterministic,read-only,idempotent GET /1k$' "$PRINT" ||
  result_fail "unexpected --print format: $(head -n 1 "$PRINT")"

# ---- a capture cut in the middle ---------------------------------------------------
CUT=$TOPO_DIR/cut.pcap
head -c $(($(stat -c %s "$CAP") * 6 / 10)) "$CAP" >"$CUT"
rc=0
"$CRAFT_BIN/craft-pcap" --print -c "$CONF" "$CUT" >"$TOPO_DIR/cut.txt" 2>"$TOPO_DIR/cut.err" || rc=$?
[ "$rc" = 1 ] || result_fail "cut capture: exit $rc, want 1"
grep -q 'damaged after frame' "$TOPO_DIR/cut.err" || result_fail "cut capture: no clear message: $(head -n 2 "$TOPO_DIR/cut.err" | tr '\n' ' ')"
ncut=$(grep -c 'end=complete' "$TOPO_DIR/cut.txt" || true)
[ "$ncut" -ge 1 ] || result_fail "cut capture: no transaction printed before the damage"
while read -r line; do
  grep -qxF "$line" "$PRINT" || result_fail "cut capture printed a line the full run does not have: $line"
done < <(grep 'end=complete' "$TOPO_DIR/cut.txt")
# not a capture at all
head -c 4096 /dev/urandom >"$TOPO_DIR/junk.pcap"
rc=0
"$CRAFT_BIN/craft-pcap" --print "$TOPO_DIR/junk.pcap" >/dev/null 2>"$TOPO_DIR/junk.err" || rc=$?
if [ "$rc" = 0 ] || [ ! -s "$TOPO_DIR/junk.err" ]; then
  result_fail "junk file: exit $rc, message '$(cat "$TOPO_DIR/junk.err")'"
fi

frames=$(sed -n 's/^craft-pcap: \([0-9]*\) frames.*/\1/p' "$TOPO_DIR/pcap.err")
result_pass "$ntxn transactions on $nconn connections: craft-pcap on a $frames-frame capture = craft-logger row for row (offsets, tags, digests, payloads, marks); cut capture: exit 1 after $ncut complete transactions, all identical"
