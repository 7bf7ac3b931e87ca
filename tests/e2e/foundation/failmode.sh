#!/usr/bin/env bash
# foundation/failmode: what happens when the logger daemon is missing.
#  (c) craft-logger refuses to start (exit 2) when no rule feeds its queue;
#  (a) default fail-OPEN (--queue-bypass): SIGKILL the daemon in the middle
#      of a download, the download still completes byte-exact, and a fresh
#      transfer works with no daemon at all;
#  (b) `rules/logger.sh up --fail-closed` and no daemon: forwarded TCP is
#      dropped, so a curl with a short --max-time gets no bytes.  That is the
#      documented fail-closed behaviour (no unlogged service).  With the
#      daemon running, fail-closed traffic flows normally.
#  Also: rules/logger.sh is idempotent (up twice = one rule, down twice ok)
#  and `status` exits 0 when up, 3 when down.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../../lib.sh"
test_begin
require_tools curl nginx iptables sha256sum ss timeout
require_bin logger

Q=0
B1=$(topo_addr b1)
RULES=$CRAFT_ROOT/rules/logger.sh

setup() {
  topo_up
  topo_www
  topo_nginx b1
  LOG=$TOPO_DIR/logger.log
}

rule_count() {
  topo_exec lg iptables -w -t mangle -S | grep -c -- "$1" || true
}

# rules/logger.sh up|down|status semantics
case_rules() {
  local rc=0
  topo_exec lg "$RULES" up --queue "$Q"
  topo_exec lg "$RULES" up --queue "$Q"
  [ "$(rule_count '-j NFQUEUE')" = 1 ] || result_fail "rules: up twice left $(rule_count '-j NFQUEUE') NFQUEUE rules"
  [ "$(rule_count '-A FORWARD -j CRAFT_LOGGER')" = 1 ] || result_fail "rules: up twice left several jumps"
  topo_exec lg "$RULES" status >/dev/null || result_fail "rules: status after up exited $?"
  topo_exec lg "$RULES" up --queue 4 --queue-count 2
  [ "$(rule_count 'queue-balance 4:5 --queue-bypass')" = 1 ] || result_fail "rules: --queue-count 2 did not give --queue-balance 4:5"
  topo_exec lg "$RULES" down
  topo_exec lg "$RULES" down || result_fail "rules: second down failed"
  topo_exec lg "$RULES" status >/dev/null || rc=$?
  [ "$rc" = 3 ] || result_fail "rules: status after down exited $rc, want 3"
  [ "$(rule_count CRAFT_LOGGER)" = 0 ] || result_fail "rules: down left CRAFT_LOGGER behind"
}

# (c) no rule -> exit 2
case_no_rule() {
  local rc=0
  topo_exec lg "$RULES" down
  topo_exec lg timeout -k 2 5 "$(craft_path logger)" -q "$Q" >"$LOG.norule" 2>&1 || rc=$?
  [ "$rc" = 2 ] || result_fail "(c) daemon without a rule exited $rc, want 2: $(tail -n 2 "$LOG.norule" | tr '\n' ' ')"
  [ -s "$LOG.norule" ] || result_fail "(c) daemon exited 2 without a message"
}

# (a) fail-open: SIGKILL mid-transfer
case_kill_mid_transfer() {
  local out=$TOPO_DIR/recv.a res=$TOPO_DIR/res.a cpid rc=0 got code bytes secs
  t_check "(a) rules up failed" topo_exec lg "$RULES" up --queue "$Q"
  start_daemon lg logger "$LOG" -q "$Q"
  wait_daemon_queue lg "$Q" "$DAEMON_PID" "$LOG"
  # ~4 s at 5 MB/s
  fetch cl "http://$B1/20M" "$out" --limit-rate 5M --max-time 30 >"$res" 2>&1 &
  cpid=$!
  wait_for 5 test -s "$out" || result_fail "(a) download did not start"
  sleep 0.5
  got=$(stat -c %s "$out")
  topo_stop "$DAEMON_PID" KILL 5 || true
  if nfq_queue_bound lg "$Q"; then result_fail "(a) queue $Q still bound after SIGKILL"; fi
  wait "$cpid" || rc=$?
  read -r code bytes secs <"$res" || true
  [ "$rc" = 0 ] || result_fail "(a) download after SIGKILL failed: curl rc $rc ($(cat "$res"))"
  [ "$code" = 200 ] || result_fail "(a) HTTP $code"
  [ "$got" -lt $((20 * 1024 * 1024)) ] || result_fail "(a) download finished before the kill"
  sha_eq "$(topo_www_file 20M)" "$out" || result_fail "(a) sha256 mismatch after SIGKILL ($bytes bytes)"
  A_KILL_AT=$((got / 1024 / 1024))
  A_SECS=$(fdiv "$secs" 1 1)
  rm -f "$out"
  # fresh transfer, no daemon
  local r
  r=$(fetch cl "http://$B1/20M" "$out" --max-time 20) || result_fail "(a) no-daemon download failed: $r"
  read -r code bytes secs <<<"$r"
  sha_eq "$(topo_www_file 20M)" "$out" || result_fail "(a) no-daemon download sha256 mismatch"
  A_BYPASS_MBPS=$(mbps "$bytes" "$secs")
  rm -f "$out"
}

# (b) fail-closed, no daemon: nothing gets through
case_fail_closed() {
  local out=$TOPO_DIR/recv.b r rc=0 code bytes secs before after
  t_check "(b) rules up --fail-closed failed" topo_exec lg "$RULES" up --queue "$Q" --fail-closed
  if topo_exec lg iptables -w -t mangle -S CRAFT_LOGGER | grep -q -- '--queue-bypass'; then
    result_fail "(b) --fail-closed rule still has --queue-bypass"
  fi
  before=$(ipt_pkts lg mangle CRAFT_LOGGER NFQUEUE)
  r=$(fetch cl "http://$B1/1k" "$out" --max-time 2 --connect-timeout 2 2>/dev/null) || rc=$?
  read -r code bytes secs <<<"$r"
  after=$(ipt_pkts lg mangle CRAFT_LOGGER NFQUEUE)
  [ "$rc" != 0 ] || result_fail "(b) fail-closed without daemon: curl succeeded (HTTP $code)"
  [ "${bytes:-0}" = 0 ] || result_fail "(b) fail-closed without daemon delivered $bytes bytes"
  [ "$after" -gt "$before" ] || result_fail "(b) no packet hit the NFQUEUE rule"
  B_RC=$rc
  B_DROPPED=$((after - before))
  # with the daemon up, fail-closed forwards normally
  start_daemon lg logger "$LOG.b" -q "$Q"
  wait_daemon_queue lg "$Q" "$DAEMON_PID" "$LOG.b"
  r=$(fetch cl "http://$B1/1k" "$out" --max-time 5) || result_fail "(b) fail-closed with daemon: curl failed: $r"
  sha_eq "$(topo_www_file 1k)" "$out" || result_fail "(b) fail-closed with daemon: sha256 mismatch"
  topo_stop "$DAEMON_PID" TERM 5 || result_fail "(b) daemon did not exit 0 on SIGTERM"
  topo_exec lg "$RULES" down
}

setup
case_rules
case_no_rule
case_kill_mid_transfer
case_fail_closed

result_pass "rules idempotent; no rule: exit 2; fail-open: SIGKILL at ${A_KILL_AT} MiB, 20 MiB done byte-exact in ${A_SECS}s, no-daemon ${A_BYPASS_MBPS} MB/s; fail-closed: no daemon -> curl rc ${B_RC}, 0 bytes (${B_DROPPED} pkts dropped), daemon up -> ok"
