#!/usr/bin/env bash
# rules/proxy.sh - steer a proxy host's service traffic into the proxy's
# NFQUEUE and set up what a splicing host needs.
#
#   rules/proxy.sh up [--vip A] [--port P] [--ivip A] [--backend-net CIDR]
#                     [--queue N] [--port-min P] [--port-max P] [--fail-open]
#                     [--self ID --peers ID=ADDR,ID=ADDR,...] [--mark-base M]
#   rules/proxy.sh down
#   rules/proxy.sh status        # exit 0 if up, 3 if down
#
# In table raw (before conntrack and before the routing decision, so a
# rewritten packet is routed by its new addresses):
#   PREROUTING -> CRAFT_PROXY:  client -> VIP:port and backend -> IVIP are
#       exempted from conntrack (rewritten seq/ack would look INVALID to it)
#       and queued;
#   OUTPUT -> CRAFT_PROXY_OUT:  the proxy's own VIP/IVIP traffic (sockets
#       before the splice, injected request bytes) is exempted too.
# Sysctls: forwarding on; accept_local (a rewritten packet carries the VIP or
# IVIP as its source while it is forwarded); rp_filter off; no ICMP
# redirects (spliced packets leave by the interface they came in); the IVIP
# port range reserved so the kernel's ephemeral ports never collide with a
# splice's.
#
# Redirect (with --peers): a segment of a connection another proxy accepted
# and has not spliced yet is marked by the daemon with mark-base + owner id;
# for every other peer a policy rule sends that mark to a table routing the
# VIP and the IVIP via the peer's real address. The `local` rule moves from
# preference 0 to 200 so that these rules (preference 100 + id) are seen
# before the VIP is found to be local.
#
# Failure mode: fail-CLOSED by default. Without the daemon a spliced packet
# accepted unmodified would reach a socket that no longer exists and reset
# the client's connection; dropped, it is retransmitted to a live proxy once
# the load balancer notices. --fail-open adds --queue-bypass.
# `down` removes the rules; sysctls are left as they are.

RULES_NAME="proxy"
RULES_SPEC="vip: port: ivip: backend-net: queue: port-min: port-max: fail-open self: peers: mark-base:"
# shellcheck source=rules/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RULES_DEFAULTS=([vip]=198.18.10.1 [port]=80 [ivip]=198.18.11.1 [backend-net]=198.18.2.0/24
  [queue]=0 [port-min]=20000 [port-max]=29999 [self]=1 [peers]="" [mark-base]=256)

PRE_CHAIN=CRAFT_PROXY
OUT_CHAIN=CRAFT_PROXY_OUT

proxy_sysctls() {
  local f
  sysctl -qw net.ipv4.ip_forward=1
  for f in /proc/sys/net/ipv4/conf/*/; do
    f=$(basename "$f")
    sysctl -qw "net.ipv4.conf.$f.accept_local=1" "net.ipv4.conf.$f.rp_filter=0" \
      "net.ipv4.conf.$f.send_redirects=0"
  done
  sysctl -qw net.ipv4.ip_local_reserved_ports="$(rules_uint port-min)-$(rules_uint port-max)"
}

LOCAL_PREF=200

# redirect_routes_down: every policy rule and table this script made.
redirect_routes_down() {
  local pref
  for pref in $(ip rule show | awk -F: '$1 >= 101 && $1 <= 164 {print $1}'); do
    ip rule del pref "$pref" 2>/dev/null || true
    ip route flush table "$pref" 2>/dev/null || true
  done
  # grep -q on a here-string, not a pipe: under pipefail an early grep exit
  # makes `ip` die of SIGPIPE and a match read as a miss.
  if grep -q "^$LOCAL_PREF:.*lookup local" <<<"$(ip rule show)"; then
    grep -q "^0:.*lookup local" <<<"$(ip rule show)" || ip rule add pref 0 lookup local
    ip rule del pref "$LOCAL_PREF" lookup local
  fi
}

redirect_routes_up() {
  local self peers base entry id addr e
  self=$(rules_uint self)
  base=$(rules_uint mark-base)
  peers=${RULES_OPT[peers]}
  redirect_routes_down
  [ -n "$peers" ] || return 0
  ip rule add pref "$LOCAL_PREF" lookup local
  ip rule del pref 0 lookup local
  IFS=, read -r -a entry <<<"$peers"
  for e in "${entry[@]}"; do
    id=${e%%=*}
    addr=${e#*=}
    if ! [[ $id =~ ^[0-9]+$ ]] || [ "$id" -lt 1 ] || [ "$id" -gt 64 ]; then
      rules_log "bad peer '$e' (want ID=ADDR, ID 1..64)"
      exit 2
    fi
    [ "$id" = "$self" ] && continue
    ip rule add pref $((100 + id)) fwmark $((base + id)) lookup $((100 + id))
    ip route replace "${RULES_OPT[vip]}" via "$addr" table $((100 + id))
    ip route replace "${RULES_OPT[ivip]}" via "$addr" table $((100 + id))
  done
}

role_up() {
  local vip=${RULES_OPT[vip]} ivip=${RULES_OPT[ivip]} net=${RULES_OPT[backend-net]}
  local port q target
  port=$(rules_uint port)
  q=$(rules_uint queue)
  target=(NFQUEUE --queue-num "$q")
  rules_flag fail-open && target+=(--queue-bypass)
  proxy_sysctls
  rules_chain_reset raw "$PRE_CHAIN"
  rules_ipt raw -A "$PRE_CHAIN" -p tcp -d "$vip" --dport "$port" -j CT --notrack
  rules_ipt raw -A "$PRE_CHAIN" -p tcp -s "$net" -d "$ivip" -j CT --notrack
  rules_ipt raw -A "$PRE_CHAIN" -p tcp -d "$vip" --dport "$port" -j "${target[@]}"
  rules_ipt raw -A "$PRE_CHAIN" -p tcp -s "$net" -d "$ivip" -j "${target[@]}"
  rules_jump_ensure raw PREROUTING "$PRE_CHAIN"
  rules_chain_reset raw "$OUT_CHAIN"
  rules_ipt raw -A "$OUT_CHAIN" -p tcp -s "$vip" --sport "$port" -j CT --notrack
  rules_ipt raw -A "$OUT_CHAIN" -p tcp -s "$ivip" -j CT --notrack
  rules_jump_ensure raw OUTPUT "$OUT_CHAIN"
  redirect_routes_up
}

role_down() {
  redirect_routes_down
  rules_jump_delete raw PREROUTING "$PRE_CHAIN"
  rules_chain_delete raw "$PRE_CHAIN"
  rules_jump_delete raw OUTPUT "$OUT_CHAIN"
  rules_chain_delete raw "$OUT_CHAIN"
}

role_status() {
  local rc=0
  rules_chain_status raw PREROUTING "$PRE_CHAIN" || rc=$?
  rules_chain_status raw OUTPUT "$OUT_CHAIN" >/dev/null || rc=3
  ip rule show | awk -F: '$1 >= 101 && $1 <= 164' | sed 's/^/redirect: /'
  return "$rc"
}

rules_main "$@"
