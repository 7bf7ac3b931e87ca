#!/usr/bin/env bash
# foundation/passthrough: the pass-through logger daemon on the path
# cl -> lb -> lg -> b1 forwards a 20 MiB download and a 20 MiB upload
# byte-exact; it saw every forwarded TCP packet of both directions; the
# kernel dropped nothing from the queue; the daemon exits 0 on SIGTERM.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../../lib.sh"
test_begin
require_tools curl nginx iptables sha256sum ss
require_bin logger

Q=0
B1=$(topo_addr b1)

setup() {
  topo_up
  topo_www
  topo_nginx b1
  topo_pyhttp b1 8000
  t_check "rules/logger.sh up failed" topo_exec lg "$CRAFT_ROOT/rules/logger.sh" up --queue "$Q"
  # Test-only counters in filter FORWARD (after the mangle queue): what the
  # daemon let through, per direction.
  topo_exec lg iptables -w -A FORWARD -i eth0 -o eth1 -p tcp -m comment --comment t-c2s
  topo_exec lg iptables -w -A FORWARD -i eth1 -o eth0 -p tcp -m comment --comment t-s2c
  STATS=$TOPO_DIR/logger.stats
  LOG=$TOPO_DIR/logger.log
  start_daemon lg logger "$LOG" -q "$Q" --stats-file "$STATS"
  wait_daemon_queue lg "$Q" "$DAEMON_PID" "$LOG"
}

download() {
  local out=$TOPO_DIR/recv.20M r code bytes secs
  r=$(fetch cl "http://$B1/20M" "$out") || result_fail "download failed: curl $r"
  read -r code bytes secs <<<"$r"
  [ "$code" = 200 ] || result_fail "download: HTTP $code"
  sha_eq "$(topo_www_file 20M)" "$out" || result_fail "download: sha256 mismatch ($bytes bytes)"
  DL_MBPS=$(mbps "$bytes" "$secs")
  rm -f "$out"
}

upload_check() {
  local file r sum len t0 t1
  file=$(topo_www_file 20M)
  t0=$(now_ms)
  r=$(upload cl "http://$B1:8000/upload" "$file") || result_fail "upload failed: $r"
  t1=$(now_ms)
  read -r sum len <<<"$r"
  [ "$sum" = "$(sha256_of "$file")" ] || result_fail "upload: server saw sha256 $sum len $len"
  UL_MBPS=$(mbps "$(stat -c %s "$file")" "$(fdiv $((t1 - t0)) 1000 3)")
}

setup
download
upload_check

c2s=$(ipt_pkts lg filter FORWARD t-c2s)
s2c=$(ipt_pkts lg filter FORWARD t-s2c)
qdrop=$(nfq_queue_field lg "$Q" queue_dropped)
udrop=$(nfq_queue_field lg "$Q" user_dropped)
queued=$(nfq_queue_field lg "$Q" id_sequence)

rc=0
topo_stop "$DAEMON_PID" TERM 5 || rc=$?
[ "$rc" = 0 ] || result_fail "daemon exit status $rc on SIGTERM (want 0)"

pk=$(stats_get "$STATS" packets) || result_fail "stats file lacks 'packets': $(head -c 300 "$STATS" 2>/dev/null | tr '\n' ' ')"
acc=$(stats_get "$STATS" verdicts_accept || echo "?")
say "c2s=$c2s s2c=$s2c daemon_packets=$pk accept=$acc queued=$queued qdrop=$qdrop udrop=$udrop"

[ "$pk" -gt 0 ] || result_fail "daemon packets counter is 0"
[ "$c2s" -ge 200 ] || result_fail "too few client->server packets through the logger: $c2s"
[ "$s2c" -ge 200 ] || result_fail "too few server->client packets through the logger: $s2c"
[ "$pk" -ge $((c2s + s2c)) ] || result_fail "daemon saw $pk packets, fewer than the $((c2s + s2c)) forwarded"
if [ "$qdrop" != 0 ] || [ "$udrop" != 0 ]; then
  result_fail "queue drops: queue_dropped=$qdrop user_dropped=$udrop"
fi
if [ "$acc" != "?" ] && [ "$acc" -lt "$pk" ]; then
  result_fail "verdicts_accept $acc < packets $pk"
fi

result_pass "down ${DL_MBPS} MB/s, up ${UL_MBPS} MB/s (20 MiB each, sha256 ok); queued $pk pkts (c2s $c2s, s2c $s2c), drops 0, SIGTERM exit 0"
