#!/usr/bin/env bash
# rules/lib.sh - shared helpers for the per-role rule scripts (rules/*.sh).
#
# A role script declares its options and three functions, then hands over:
#
#   source "$(dirname "$0")/lib.sh"
#   RULES_NAME=logger
#   RULES_SPEC="queue: queue-count: fail-closed"   # "x:" takes a value
#   RULES_DEFAULTS=([queue]=0 [queue-count]=1)      # optional
#   role_up()     { ...; }    # install (must be idempotent)
#   role_down()   { ...; }    # remove  (must tolerate "already gone")
#   role_status() { ...; }    # print state; return 0 if up, 3 if down
#   rules_main "$@"
#
# Options land in the associative array RULES_OPT ("yes" for flags).
# Exit codes: 0 ok, 2 usage error, 3 status "down", 1 anything else.
# Every helper uses `iptables -w` (waits for the xtables lock) and works with
# the nft and the legacy backend alike.

set -euo pipefail

declare -gA RULES_OPT=()
declare -gA RULES_DEFAULTS=()
RULES_NAME=${RULES_NAME:-rules}
RULES_SPEC=${RULES_SPEC:-}
RULES_IPT=${RULES_IPT:-iptables}

rules_log() { printf '%s: %s\n' "$RULES_NAME" "$*" >&2; }
rules_die() {
  rules_log "$*"
  exit 1
}

# rules_ipt TABLE ARGS...: iptables on TABLE, waiting for the lock.
rules_ipt() {
  local table=$1
  shift
  "$RULES_IPT" -w -t "$table" "$@"
}

rules_chain_exists() { rules_ipt "$1" -n -L "$2" >/dev/null 2>&1; }

# rules_chain_ensure TABLE CHAIN: create CHAIN if missing.
rules_chain_ensure() {
  rules_chain_exists "$1" "$2" || rules_ipt "$1" -N "$2"
}

# rules_chain_reset TABLE CHAIN: create if missing, else flush; callers then
# append the chain's complete rule set, so running `up` twice (even with
# other options) leaves exactly one copy of each rule.
rules_chain_reset() {
  if rules_chain_exists "$1" "$2"; then
    rules_ipt "$1" -F "$2"
  else
    rules_ipt "$1" -N "$2"
  fi
}

# rules_chain_delete TABLE CHAIN: flush and delete if present.
rules_chain_delete() {
  rules_chain_exists "$1" "$2" || return 0
  rules_ipt "$1" -F "$2"
  rules_ipt "$1" -X "$2"
}

# rules_jump_exists TABLE HOOK CHAIN [MATCH...]
rules_jump_exists() {
  local table=$1 hook=$2 chain=$3
  shift 3
  rules_ipt "$table" -C "$hook" "$@" -j "$chain" 2>/dev/null
}

# rules_jump_ensure TABLE HOOK CHAIN [MATCH...]: insert the jump at the top of
# HOOK once.
rules_jump_ensure() {
  local table=$1 hook=$2 chain=$3
  shift 3
  rules_jump_exists "$table" "$hook" "$chain" "$@" ||
    rules_ipt "$table" -I "$hook" 1 "$@" -j "$chain"
}

# rules_jump_delete TABLE HOOK CHAIN [MATCH...]: remove every copy.
rules_jump_delete() {
  local table=$1 hook=$2 chain=$3 n=0
  shift 3
  while rules_jump_exists "$table" "$hook" "$chain" "$@"; do
    rules_ipt "$table" -D "$hook" "$@" -j "$chain"
    n=$((n + 1))
    [ "$n" -lt 100 ] || rules_die "cannot delete jump $hook -> $chain"
  done
}

# rules_chain_status TABLE HOOK CHAIN: print the jump and the chain with
# counters; return 0 when both exist, 3 otherwise.
rules_chain_status() {
  local table=$1 hook=$2 chain=$3
  if ! rules_chain_exists "$table" "$chain"; then
    echo "$RULES_NAME: down ($table $chain absent)"
    return 3
  fi
  if ! grep -q -- "-j $chain\$" <<<"$(rules_ipt "$table" -S "$hook")"; then
    echo "$RULES_NAME: down ($table $hook does not jump to $chain)"
    rules_ipt "$table" -n -v -x -L "$chain"
    return 3
  fi
  echo "$RULES_NAME: up"
  rules_ipt "$table" -n -v -x -L "$hook" | awk -v c="$chain" 'NR<=2 || $3==c'
  rules_ipt "$table" -n -v -x -L "$chain"
  return 0
}

# rules_spec_kind NAME: prints "value", "flag" or nothing (unknown option).
rules_spec_kind() {
  local w
  for w in $RULES_SPEC; do
    [ "$w" = "$1:" ] && { echo value; return; }
    [ "$w" = "$1" ] && { echo flag; return; }
  done
  return 0
}

rules_usage() {
  local w opts=""
  for w in $RULES_SPEC; do
    case "$w" in
      *:) opts+=" [--${w%:} V]" ;;
      *) opts+=" [--$w]" ;;
    esac
  done
  echo "usage: $(basename "$0") up|down|status$opts"
}

# rules_parse_opts ARGS...: fills RULES_OPT from --name value, --name=value
# and --flag; unknown options and stray words are usage errors (exit 2).
rules_parse_opts() {
  local k arg kind val
  for k in "${!RULES_DEFAULTS[@]}"; do RULES_OPT[$k]=${RULES_DEFAULTS[$k]}; done
  while [ $# -gt 0 ]; do
    arg=$1
    shift
    case "$arg" in
      --*=*) k=${arg%%=*}; k=${k#--}; val=${arg#*=} ;;
      --*) k=${arg#--}; val= ;;
      *) rules_log "unexpected argument '$arg'"; rules_usage >&2; exit 2 ;;
    esac
    kind=$(rules_spec_kind "$k")
    case "$kind" in
      value)
        if [[ $arg != *=* ]]; then
          [ $# -gt 0 ] || { rules_log "--$k needs a value"; exit 2; }
          val=$1
          shift
        fi
        RULES_OPT[$k]=$val
        ;;
      flag)
        [[ $arg == *=* ]] && { rules_log "--$k takes no value"; exit 2; }
        RULES_OPT[$k]=yes
        ;;
      *) rules_log "unknown option '$arg'"; rules_usage >&2; exit 2 ;;
    esac
  done
}

# rules_uint NAME: the option's value, checked to be an unsigned integer.
rules_uint() {
  local v=${RULES_OPT[$1]:-}
  [[ $v =~ ^[0-9]+$ ]] || { rules_log "--$1 must be an unsigned integer (got '$v')"; exit 2; }
  echo "$v"
}

rules_flag() { [ "${RULES_OPT[$1]:-}" = yes ]; }

# rules_main ACTION [OPTIONS]: dispatch to role_up|role_down|role_status.
rules_main() {
  local action=${1:-}
  [ $# -gt 0 ] && shift
  case "$action" in
    up | down | status) ;;
    -h | --help) rules_usage; exit 0 ;;
    *) rules_usage >&2; exit 2 ;;
  esac
  command -v "$RULES_IPT" >/dev/null || rules_die "$RULES_IPT not found"
  rules_parse_opts "$@"
  case "$action" in
    up) role_up ;;
    down) role_down ;;
    status)
      local rc=0
      role_status || rc=$?
      exit "$rc"
      ;;
  esac
}
