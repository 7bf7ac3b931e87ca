#!/usr/bin/env bash
# rules/tla.sh - steer a transactional service's forwarded TCP into the
# TLA's NFQUEUE (craft-tla, the transport-layer architecture of the
# transactional network interface).
#
#   rules/tla.sh up --port P [--queue N]
#   rules/tla.sh down
#   rules/tla.sh status        # exit 0 if up, 3 if down
#
# Run inside the logger host (namespace). Installs
#   mangle FORWARD -> CRAFT_TLA: -p tcp --dport P -j NFQUEUE --queue-num N
#                                -p tcp --sport P -j NFQUEUE --queue-num N
#   raw PREROUTING, raw OUTPUT -> CRAFT_TLA_RAW: -p tcp --dport/--sport P -j CT --notrack
# One queue: the TLA keeps per-connection state for both directions, so
# both must reach the same daemon. Conntrack is kept out of these flows:
# the TLA renumbers them (and sends ACKs and resent bytes of its own from a
# raw socket), which a tracked connection would see as out of window.
#
# Failure mode: fail-CLOSED, always. There is no --queue-bypass: with no
# daemon listening, the service's packets are dropped. A held server byte
# is an uncommitted byte; letting packets pass unprocessed could hand one
# to the peer (and would break the renumbering after an abort). The daemon
# also drops when its queue is full and at shutdown.

RULES_NAME="tla"
RULES_SPEC="queue: port:"
# shellcheck source=rules/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RULES_DEFAULTS=([queue]=0 [port]="")

TLA_TABLE=mangle
TLA_HOOK=FORWARD
TLA_CHAIN=CRAFT_TLA
TLA_RAW_CHAIN=CRAFT_TLA_RAW

role_up() {
  local q p
  q=$(rules_uint queue)
  p=$(rules_uint port)
  [ "$q" -le 65535 ] || { rules_log "--queue must be <= 65535"; exit 2; }
  if [ "$p" -lt 1 ] || [ "$p" -gt 65535 ]; then
    rules_log "--port must be 1..65535"
    exit 2
  fi
  rules_chain_reset raw "$TLA_RAW_CHAIN"
  rules_ipt raw -A "$TLA_RAW_CHAIN" -p tcp --dport "$p" -j CT --notrack
  rules_ipt raw -A "$TLA_RAW_CHAIN" -p tcp --sport "$p" -j CT --notrack
  rules_jump_ensure raw PREROUTING "$TLA_RAW_CHAIN"
  rules_jump_ensure raw OUTPUT "$TLA_RAW_CHAIN"
  rules_chain_reset "$TLA_TABLE" "$TLA_CHAIN"
  rules_ipt "$TLA_TABLE" -A "$TLA_CHAIN" -p tcp --dport "$p" -j NFQUEUE --queue-num "$q"
  rules_ipt "$TLA_TABLE" -A "$TLA_CHAIN" -p tcp --sport "$p" -j NFQUEUE --queue-num "$q"
  rules_jump_ensure "$TLA_TABLE" "$TLA_HOOK" "$TLA_CHAIN"
}

role_down() {
  rules_jump_delete "$TLA_TABLE" "$TLA_HOOK" "$TLA_CHAIN"
  rules_chain_delete "$TLA_TABLE" "$TLA_CHAIN"
  rules_jump_delete raw PREROUTING "$TLA_RAW_CHAIN"
  rules_jump_delete raw OUTPUT "$TLA_RAW_CHAIN"
  rules_chain_delete raw "$TLA_RAW_CHAIN"
}

role_status() {
  local rc=0
  rules_chain_status "$TLA_TABLE" "$TLA_HOOK" "$TLA_CHAIN" || rc=$?
  if [ "$rc" = 0 ] && ! rules_chain_exists raw "$TLA_RAW_CHAIN"; then
    echo "$RULES_NAME: down (raw $TLA_RAW_CHAIN absent)"
    rc=3
  fi
  return "$rc"
}

rules_main "$@"
