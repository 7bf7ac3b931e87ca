#!/usr/bin/env bash
# foundation/rule_check: the start-up check "does an iptables rule steer
# packets to my queue?" against real rules, through craft-rulecheck (the
# same code the daemons run).  Two throwaway namespaces, no test bed:
#  - nf_tables (iptables, the default here): not found with no rules; found
#    with table, chain, bypass for --queue-num; a --queue-balance range
#    covers its middle; another queue is not found;
#  - legacy (iptables-legacy, read with libip4tc): the same, and -b nft does
#    not see it while -b legacy does;
#  - checking never creates legacy tables (/proc/net/ip_tables_names stays
#    empty in the nft namespace);
#  - a failing iptables-nft-save is an error (exit 2), not "not found", and
#    a hanging one is killed at the deadline.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../../lib.sh"
test_begin
require_tools ip iptables iptables-legacy
require_bin rulecheck

TAG=${CRAFT_RUN_TAG:-cr$$}
NS_NFT=$TAG-rcnft
NS_LEG=$TAG-rcleg
FAKE=$(mktemp -d "${TMPDIR:-/tmp}/craft-rc-XXXXXX")
RC=$(craft_path rulecheck)

test_cleanup() {
  ip netns del "$NS_NFT" 2>/dev/null
  ip netns del "$NS_LEG" 2>/dev/null
  rm -rf "$FAKE"
}

# check NS WANT_EXIT PATTERN ARGS...: runs craft-rulecheck in NS; FAIL
# unless it exits WANT_EXIT and its output matches PATTERN (grep -E).
check() {
  local ns=$1 want=$2 pat=$3 out rc=0
  shift 3
  out=$(ip netns exec "$ns" "$RC" "$@" 2>&1) || rc=$?
  say "rulecheck $* in $ns -> $rc: $out"
  [ "$rc" = "$want" ] || result_fail "rulecheck $* in ${ns#"$TAG"-}: exit $rc, want $want: $out"
  grep -Eq -- "$pat" <<<"$out" || result_fail "rulecheck $* in ${ns#"$TAG"-}: output '$out' lacks /$pat/"
}

legacy_tables() { ip netns exec "$1" cat /proc/net/ip_tables_names 2>/dev/null | tr '\n' ' '; }

ip netns add "$NS_NFT"
ip netns add "$NS_LEG"

# nf_tables
check "$NS_NFT" 1 "not found: .* NFQUEUE 3$" -q 3
ip netns exec "$NS_NFT" iptables -t raw -A PREROUTING -p tcp -j NFQUEUE --queue-num 3 --queue-bypass
ip netns exec "$NS_NFT" iptables -t mangle -A FORWARD -p tcp -m comment --comment "x -j NFQUEUE --queue-num 20" \
  -j NFQUEUE --queue-balance 10:13
check "$NS_NFT" 0 "backend nf_tables table raw chain PREROUTING queues 3..3 bypass yes" -q 3
check "$NS_NFT" 0 "-A PREROUTING -p tcp -j NFQUEUE --queue-num 3 --queue-bypass" -q 3
check "$NS_NFT" 0 "table mangle chain FORWARD queues 10..13 bypass no" -q 12
check "$NS_NFT" 1 "not found" -q 4
check "$NS_NFT" 1 "not found" -q 20
check "$NS_NFT" 1 "not found" -q 3 -b legacy
left=$(legacy_tables "$NS_NFT")
[ -z "$left" ] || result_fail "the check created legacy tables: $left"

# legacy
ip netns exec "$NS_LEG" iptables-legacy -t raw -A PREROUTING -p tcp -j NFQUEUE --queue-num 3 --queue-bypass
check "$NS_LEG" 0 "backend legacy table raw chain PREROUTING queues 3..3 bypass yes" -q 3
check "$NS_LEG" 0 "-A PREROUTING -p tcp -j NFQUEUE --queue-num 3 --queue-bypass" -q 3 -b legacy
check "$NS_LEG" 1 "not found" -q 3 -b nft
check "$NS_LEG" 1 "not found" -q 4
ip netns exec "$NS_LEG" iptables-legacy -t mangle -A OUTPUT -j NFQUEUE --queue-balance 5:6 --queue-cpu-fanout
check "$NS_LEG" 0 "table mangle chain OUTPUT queues 5..6 bypass no cpu-fanout yes" -q 6

# a broken iptables-nft-save is an error, not "no rule"
printf '#!/bin/sh\necho "fake failure" >&2\nexit 1\n' >"$FAKE/iptables-nft-save"
chmod +x "$FAKE/iptables-nft-save"
PATH="$FAKE:$PATH" check "$NS_NFT" 2 "exited with status 1: fake failure" -q 3 -b nft
out=$(ip netns exec "$NS_NFT" env PATH="$FAKE:$PATH" "$RC" -q 3 2>&1) && rc=0 || rc=$?
[ "$rc" = 2 ] || result_fail "fake failing iptables-nft-save: exit $rc, want 2: $out"

# ... and one that hangs is killed at the 5 s deadline
printf '#!/bin/sh\nexec sleep 60\n' >"$FAKE/iptables-nft-save"
t0=$(now_ms)
PATH="$FAKE:$PATH" check "$NS_NFT" 2 "did not finish within 5000 ms" -q 3 -b nft
took=$(($(now_ms) - t0))
[ "$took" -lt 8000 ] || result_fail "hanging iptables-nft-save held the check for $took ms"

result_pass "nft and legacy rules found with table/chain/range/bypass; absent queues not found; no legacy table created; failing/hanging helper is exit 2 (hang cut after ${took} ms)"
