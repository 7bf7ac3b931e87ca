#!/usr/bin/env bash
# rules/logger.sh - steer the logger host's forwarded TCP into NFQUEUE.
#
#   rules/logger.sh up [--queue N] [--queue-count K] [--fail-closed]
#   rules/logger.sh down
#   rules/logger.sh status        # exit 0 if up, 3 if down
#
# Run inside the logger host (namespace).  Installs, in table mangle,
#   FORWARD -> CRAFT_LOGGER;  CRAFT_LOGGER: -p tcp -j NFQUEUE ...
# with --queue-num N (K=1) or --queue-balance N:N+K-1 (K>1; one flow always
# maps to one queue).
#
# Failure mode: the logger is fail-OPEN by default.  The rule carries
# --queue-bypass, so while no daemon listens on the queue the kernel accepts
# the packets; the daemon additionally sets NFQA_CFG_F_FAIL_OPEN so that a
# full queue accepts too.  With --fail-closed the rule has no bypass: with no
# daemon every forwarded TCP packet is dropped (the service stops rather
# than running unlogged).

RULES_NAME="logger"
RULES_SPEC="queue: queue-count: fail-closed"
# shellcheck source=rules/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RULES_DEFAULTS=([queue]=0 [queue-count]=1)

LOGGER_TABLE=mangle
LOGGER_HOOK=FORWARD
LOGGER_CHAIN=CRAFT_LOGGER

role_up() {
  local q k target
  q=$(rules_uint queue)
  k=$(rules_uint queue-count)
  [ "$k" -ge 1 ] || { rules_log "--queue-count must be >= 1"; exit 2; }
  [ $((q + k - 1)) -le 65535 ] || { rules_log "queue numbers exceed 65535"; exit 2; }
  if [ "$k" -eq 1 ]; then
    target=(NFQUEUE --queue-num "$q")
  else
    target=(NFQUEUE --queue-balance "$q:$((q + k - 1))")
  fi
  rules_flag fail-closed || target+=(--queue-bypass)
  rules_chain_reset "$LOGGER_TABLE" "$LOGGER_CHAIN"
  rules_ipt "$LOGGER_TABLE" -A "$LOGGER_CHAIN" -p tcp -j "${target[@]}"
  rules_jump_ensure "$LOGGER_TABLE" "$LOGGER_HOOK" "$LOGGER_CHAIN"
}

role_down() {
  rules_jump_delete "$LOGGER_TABLE" "$LOGGER_HOOK" "$LOGGER_CHAIN"
  rules_chain_delete "$LOGGER_TABLE" "$LOGGER_CHAIN"
}

role_status() {
  rules_chain_status "$LOGGER_TABLE" "$LOGGER_HOOK" "$LOGGER_CHAIN"
}

rules_main "$@"
