#!/usr/bin/env bash
# rules/aux-divert.sh - the aux logger host's diversion of replayed aux
# requests to craft-logger's [aux_divert] listener (nfq/logger/aux_divert.h).
#
#   rules/aux-divert.sh up --port P [--on-ip IP] [--on-port N] [--mark M]
#                          [--seconds S] [--list NAME]
#   rules/aux-divert.sh down
#   rules/aux-divert.sh status        # exit 0 if up, 3 if down
#
# Run inside the aux logger host (the IP hop between backends and aux
# servers). Installs, idempotently:
#   mangle PREROUTING -> CRAFT_AUXDIV
#     -p tcp --dport P -m socket --transparent -j MARK --set-xmark M/M
#          (packets of a connection already diverted, and nothing else, go
#          local; the port match spares other traffic the socket lookup)
#     -m mark --mark M/M -j ACCEPT
#     -p tcp --syn --dport P -m recent --name NAME --rcheck --seconds S
#          --rsource -j TPROXY --on-ip IP --on-port N --tproxy-mark M/M
#   ip rule fwmark M/M lookup 117;  table 117: local 0.0.0.0/0 dev lo
# The rules alone divert nothing: the list NAME starts empty and the daemon
# puts an alternate backend's address into it (/proc/net/xt_recent/NAME,
# "+ADDR") only while a recovery replays on it, and takes it out at the
# end. With --seconds the kernel also drops an address the daemon stopped
# refreshing (a crashed daemon diverts nothing for long: connect()s would
# be refused meanwhile, which the application sees as an aux failure).
# Only new connections (SYN) are diverted; established ones are never
# cut. Defaults: --on-ip 127.0.0.1, --on-port 7399, --mark 0x2000000,
# --seconds 30, --list craft-auxdiv.

RULES_NAME="aux-divert"
RULES_SPEC="port: on-ip: on-port: mark: seconds: list:"
# shellcheck source=rules/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RULES_DEFAULTS=([on-ip]=127.0.0.1 [on-port]=7399 [mark]=0x2000000 [seconds]=30 [list]=craft-auxdiv)

AUXDIV_TABLE=mangle
AUXDIV_HOOK=PREROUTING
AUXDIV_CHAIN=CRAFT_AUXDIV
# The routing table of the local route (fixed: `down` finds it without options).
AUXDIV_RT=117

role_up() {
  local port on_port seconds mark on_ip list
  port=$(rules_uint port)
  on_port=$(rules_uint on-port)
  seconds=$(rules_uint seconds)
  mark=${RULES_OPT[mark]}
  on_ip=${RULES_OPT[on-ip]}
  list=${RULES_OPT[list]}
  [[ $mark =~ ^(0x[0-9a-fA-F]+|[0-9]+)$ ]] || { rules_log "--mark must be a number"; exit 2; }
  [[ $list =~ ^[A-Za-z0-9_-]+$ ]] || { rules_log "--list must be a plain name"; exit 2; }
  if [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
    rules_log "--port must be 1..65535"
    exit 2
  fi
  rules_chain_reset "$AUXDIV_TABLE" "$AUXDIV_CHAIN"
  rules_ipt "$AUXDIV_TABLE" -A "$AUXDIV_CHAIN" -p tcp --dport "$port" -m socket --transparent \
    -j MARK --set-xmark "$mark/$mark"
  rules_ipt "$AUXDIV_TABLE" -A "$AUXDIV_CHAIN" -m mark --mark "$mark/$mark" -j ACCEPT
  rules_ipt "$AUXDIV_TABLE" -A "$AUXDIV_CHAIN" -p tcp --syn --dport "$port" \
    -m recent --name "$list" --rcheck --seconds "$seconds" --rsource \
    -j TPROXY --on-ip "$on_ip" --on-port "$on_port" --tproxy-mark "$mark/$mark"
  rules_jump_ensure "$AUXDIV_TABLE" "$AUXDIV_HOOK" "$AUXDIV_CHAIN"
  ip rule show | grep -q "fwmark $mark/$mark lookup $AUXDIV_RT" ||
    ip rule add fwmark "$mark/$mark" lookup "$AUXDIV_RT"
  ip route replace local 0.0.0.0/0 dev lo table "$AUXDIV_RT"
}

role_down() {
  local r
  rules_jump_delete "$AUXDIV_TABLE" "$AUXDIV_HOOK" "$AUXDIV_CHAIN"
  rules_chain_delete "$AUXDIV_TABLE" "$AUXDIV_CHAIN"
  # every rule that points at the table, whatever mark `up` was given
  while r=$(ip rule show | grep -m 1 "lookup $AUXDIV_RT\$"); do
    ip rule del priority "${r%%:*}"
  done
  ip route flush table "$AUXDIV_RT" 2>/dev/null || true
}

role_status() {
  local rc=0
  rules_chain_status "$AUXDIV_TABLE" "$AUXDIV_HOOK" "$AUXDIV_CHAIN" || rc=$?
  if ! ip route show table "$AUXDIV_RT" 2>/dev/null | grep -q '^local default'; then
    echo "$RULES_NAME: no local route in table $AUXDIV_RT"
    rc=3
  fi
  local f
  for f in /proc/net/xt_recent/*; do
    [ -e "$f" ] && echo "$RULES_NAME: diverted now ($f): $(awk '{print $1}' "$f" | tr '\n' ' ')"
  done
  return "$rc"
}

rules_main "$@"
