#!/usr/bin/env bash
# rules/backend.sh - split splice on a backend host: steer this backend's
# response segments to the IVIP into craft-splitd's NFQUEUE.
#
#   rules/backend.sh up [--addr A] [--port P] [--ivip A] [--queue N] [--fail-closed]
#   rules/backend.sh down
#   rules/backend.sh status        # exit 0 if up, 3 if down
#
# In table raw, OUTPUT -> CRAFT_SPLIT: segments from ADDR:PORT to the IVIP
# are exempted from conntrack (after the rewrite they belong to a flow
# conntrack never saw) and queued. The daemon rewrites the ones of splices
# it knows into the client connection (VIP -> client); the kernel re-routes
# a packet whose addresses changed at OUTPUT, so it leaves straight for the
# client.
#
# Failure mode: fail-OPEN by default (--queue-bypass): without the agent the
# responses take the ordinary way, to the IVIP and through the proxies, which
# rewrite them as well. Split splice is an optimisation, never a dependency.

RULES_NAME="backend"
RULES_SPEC="addr: port: ivip: queue: fail-closed"
# shellcheck source=rules/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RULES_DEFAULTS=([port]=80 [ivip]=198.18.11.1 [queue]=0)

CHAIN=CRAFT_SPLIT

role_up() {
  local addr=${RULES_OPT[addr]:-} port q target src=()
  port=$(rules_uint port)
  q=$(rules_uint queue)
  [ -n "$addr" ] && src=(-s "$addr")
  target=(NFQUEUE --queue-num "$q")
  rules_flag fail-closed || target+=(--queue-bypass)
  rules_chain_reset raw "$CHAIN"
  rules_ipt raw -A "$CHAIN" -p tcp "${src[@]}" --sport "$port" -d "${RULES_OPT[ivip]}" -j CT --notrack
  rules_ipt raw -A "$CHAIN" -p tcp "${src[@]}" --sport "$port" -d "${RULES_OPT[ivip]}" -j "${target[@]}"
  rules_jump_ensure raw OUTPUT "$CHAIN"
}

role_down() {
  rules_jump_delete raw OUTPUT "$CHAIN"
  rules_chain_delete raw "$CHAIN"
}

role_status() {
  rules_chain_status raw OUTPUT "$CHAIN"
}

rules_main "$@"
