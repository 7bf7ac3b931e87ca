#!/usr/bin/env bash
# lb/rules: rules/lb.sh and craft-lb's start/stop contract.
#  - up twice = one NFQUEUE rule, one notrack rule, one ip rule per proxy;
#    status exits 0 and shows every mark -> table -> next hop; the marks
#    take precedence over the test bed's static "VIP via p1" (ip route get
#    with a mark answers via the proxy of that mark);
#  - down twice is fine; status then exits 3 and nothing is left;
#  - craft-lb without a rule exits 2; with a bad config (no proxy, table
#    size not prime, owner without flow-hash, missing key) exits 2 with a
#    message naming the problem; --check-config accepts a good file;
#  - SIGTERM: exit 0, final stats written.
# shellcheck source=tests/e2e/lb/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin

RULES=$CRAFT_ROOT/rules/lb.sh

count_rules() { topo_exec lb iptables -w -t raw -S CRAFT_LB 2>/dev/null | grep -c -- "$1" || true; }

lb_bed
CONF=$TOPO_DIR/lb.conf
lb_write_conf "$CONF" flow-hash

# --- rules up/status/down
topo_exec lb "$RULES" up --config "$CONF"
topo_exec lb "$RULES" up --config "$CONF"
[ "$(count_rules '-j NFQUEUE')" = 1 ] || result_fail "up twice: $(count_rules '-j NFQUEUE') NFQUEUE rules"
[ "$(count_rules 'notrack')" = 1 ] || result_fail "up twice: notrack rules: $(count_rules notrack)"
[ "$(topo_exec lb iptables -w -t raw -S PREROUTING | grep -c CRAFT_LB)" = 1 ] || result_fail "up twice: several jumps"
for id in 1 2; do
  n=$(topo_exec lb ip rule show pref $((100 + id)) | grep -c "fwmark 0x$(printf %x $((256 + id))) lookup $((100 + id))" || true)
  [ "$n" = 1 ] || result_fail "up twice: $n ip rules for proxy $id"
done
st=$(topo_exec lb "$RULES" status --config "$CONF") || result_fail "status after up exited $?"
grep -q "table 101: $VIP via $(topo_addr p1)" <<<"$st" || result_fail "status does not show proxy 1's route: $st"
grep -q "table 102: $VIP via $(topo_addr p2)" <<<"$st" || result_fail "status does not show proxy 2's route"
# the marks win over the main table's VIP via p1
via=$(topo_exec lb ip route get "$VIP" mark 0x102 from "$(topo_addr cl)" iif eth0)
grep -q "via $(topo_addr p2)" <<<"$via" || result_fail "mark 0x102 does not route via p2: $via"
via=$(topo_exec lb ip route get "$VIP" from "$(topo_addr cl)" iif eth0)
grep -q "via $(topo_addr p1)" <<<"$via" || result_fail "unmarked VIP route changed: $via"
grep -q "CT notrack" <<<"$st" || result_fail "status does not show the notrack rule"
# options override the file; --fail-closed drops the bypass
topo_exec lb "$RULES" up --config "$CONF" --fail-closed --queue 3 --port 80
topo_exec lb iptables -w -t raw -S CRAFT_LB | grep -q -- '--queue-num 3$' || result_fail "--fail-closed --queue 3: $(topo_exec lb iptables -w -t raw -S CRAFT_LB | tr '\n' ' ')"
topo_exec lb iptables -w -t raw -S CRAFT_LB | grep -q -- '--dport 80' || result_fail "--port 80 not in the match"
topo_exec lb "$RULES" down --config "$CONF"
topo_exec lb "$RULES" down --config "$CONF" || result_fail "second down failed"
rc=0
topo_exec lb "$RULES" status --config "$CONF" >/dev/null || rc=$?
[ "$rc" = 3 ] || result_fail "status after down exited $rc, want 3"
[ -z "$(topo_exec lb ip rule show pref 101)" ] || result_fail "down left the ip rule of proxy 1"
[ -z "$(topo_exec lb ip route show table 102)" ] || result_fail "down left table 102"
rc=0
topo_exec lb "$RULES" up --proxies 1=bogus >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || result_fail "bad --proxies exited $rc, want 2"

# --- daemon: no rule -> 2
rc=0
topo_exec lb timeout -k 2 5 "$(craft_path lb)" -c "$CONF" >"$TOPO_DIR/norule.log" 2>&1 || rc=$?
[ "$rc" = 2 ] || result_fail "craft-lb without a rule exited $rc, want 2"

# --- bad configs -> 2 with a reason
bad() {
  local want=$1 f=$TOPO_DIR/bad.conf rc=0 out
  shift
  printf '%s\n' "$@" >"$f"
  out=$(topo_exec lb "$(craft_path lb)" -c "$f" --no-rule-check 2>&1) || rc=$?
  [ "$rc" = 2 ] || result_fail "config '$*' exited $rc, want 2"
  grep -q -- "$want" <<<"$out" || result_fail "config '$*': message lacks '$want': $out"
}
bad "lists no proxy" "[heartbeat]" "key_file = $LB_KEY"
bad "not a prime" "[lb]" "table_size = 65536" "[cluster]" "proxy = 1 198.18.1.11" "[heartbeat]" "key_file = $LB_KEY"
bad "needs mode = flow-hash" "[lb]" "mode = weighted" "owner = client-hash" "[cluster]" "proxy = 1 198.18.1.11" "[heartbeat]" "key_file = $LB_KEY"
bad "key_file is required" "[cluster]" "proxy = 1 198.18.1.11"
bad "listed twice" "[cluster]" "proxy = 1 198.18.1.11" "proxy = 1 198.18.1.12"
bad "overlap" "[lb]" "owner = ivip-port" "[cluster]" "proxy = 1 198.18.1.11 20000-25000" "proxy = 2 198.18.1.12 25000-29999" "[heartbeat]" "key_file = $LB_KEY"
bad "key" "[cluster]" "proxy = 1 198.18.1.11" "[heartbeat]" "key_file = $TOPO_DIR/nonexistent"
topo_exec lb "$(craft_path lb)" -c "$CONF" --check-config >/dev/null 2>&1 || result_fail "--check-config refused a good file"

# --- start, stop
lb_start "$CONF"
hb_start p1 1
lb_wait_live 1
lb_stop
[ "$(lb_stat verdicts_accept)" -ge 0 ] && [ "$(lb_stat proxy1_live)" = 1 ] || result_fail "final stats lack proxy1_live=1"
topo_exec lb "$RULES" down --config "$CONF"
result_pass "rules idempotent, marks beat the static VIP route, status 0/3, no rule -> 2, bad configs -> 2, SIGTERM -> 0"
