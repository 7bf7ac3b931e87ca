#!/usr/bin/env bash
# rules/lb.sh - steer packets for the service address into craft-lb's
# NFQUEUE and route each proxy's fwmark to that proxy.
#
#   rules/lb.sh up [--config FILE] [--vip A] [--proxies ID=ADDR,ID=ADDR,...]
#                  [--queue N] [--port P] [--mark-base M] [--table-base T]
#                  [--pref-base P] [--fail-closed] [--track]
#   rules/lb.sh down   [same options: they name the tables/rules to remove]
#   rules/lb.sh status [same options]   # exit 0 if up, 3 if down
#
# Run inside the load balancer host (namespace). With --config, the vip,
# queue number, mark base and proxies come from craft-lb's config file
# ([lb] vip, [queue] num, [cluster] mark_base and proxy = ID ADDR ... lines;
# an explicit mark=M there must equal mark_base + ID for this script);
# options given on the command line win.
#
# Installs, in table raw (before conntrack and before the routing decision,
# so the fwmark the verdict sets picks the route):
#   PREROUTING -> CRAFT_LB:  -d VIP [-p tcp --dport P] -j CT --notrack
#                            -d VIP [-p tcp --dport P] -j NFQUEUE ...
# and per proxy ID at ADDR (mark M = mark-base + ID, table T = table-base +
# ID, rule priority pref-base + ID, ahead of the main table's 32766):
#   ip rule add pref PREF fwmark M lookup T
#   ip route replace VIP via ADDR table T
# plus net.ipv4.ip_forward=1. The marks take precedence over whatever the
# main table says about the VIP (the test bed has a static VIP via p1 there:
# that stays as the fallback for unmarked packets).
#
# No per-connection state, in the kernel either: VIP traffic is exempt from
# conntrack (--track keeps it tracked, e.g. for a stateful filter).
#
# Failure mode: fail-OPEN by default (--queue-bypass): without the daemon,
# packets to the VIP are routed unmarked by the main table (to one proxy,
# which forwards spliced segments and redirects the others, so connections
# survive with less balance). --fail-closed drops them instead until the
# daemon is back; the client retransmits.

RULES_NAME="lb"
RULES_SPEC="config: vip: proxies: queue: port: mark-base: table-base: pref-base: fail-closed track"
# shellcheck source=rules/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RULES_DEFAULTS=()

CHAIN=CRAFT_LB
D_VIP=198.18.10.1
D_PROXIES=1=198.18.1.11,2=198.18.1.12
D_QUEUE=0
D_MARK_BASE=256
D_TABLE_BASE=100
D_PREF_BASE=100

# lb_from_config FILE: prints "vip=.. queue=.. mark_base=.. proxies=.." from
# a craft-lb config file (the keys this script needs; comments stripped).
lb_from_config() {
  [ -r "$1" ] || rules_die "cannot read config $1"
  awk '
    { sub(/[#;].*$/, ""); gsub(/^[ \t]+|[ \t]+$/, "") }
    /^\[.*\]$/ { sec = tolower(substr($0, 2, length($0) - 2)); gsub(/[ \t]/, "", sec); next }
    $0 == "" { next }
    {
      k = $0; sub(/[ \t]*=.*/, "", k); k = tolower(k)
      v = $0; sub(/^[^=]*=[ \t]*/, "", v); gsub(/"/, "", v)
      if (sec == "lb" && k == "vip") print "vip=" v
      else if (sec == "queue" && k == "num") print "queue=" v
      else if (sec == "cluster" && k == "mark_base") print "mark_base=" v
      else if (sec == "cluster" && k == "proxy") { split(v, w, /[ \t]+/); p = p (p == "" ? "" : ",") w[1] "=" w[2] }
    }
    END { if (p != "") print "proxies=" p }' "$1"
}

# lb_opts: resolves VIP, QUEUE, MARK_BASE, TABLE_BASE, PREF_BASE, PORT and
# the arrays P_IDS / P_ADDRS from defaults, --config, then options.
lb_opts() {
  local line k v item id addr
  VIP=$D_VIP QUEUE=$D_QUEUE MARK_BASE=$D_MARK_BASE PROXIES=$D_PROXIES
  if [ -n "${RULES_OPT[config]:-}" ]; then
    while IFS= read -r line; do
      k=${line%%=*}
      v=${line#*=}
      case "$k" in
        vip) VIP=$v ;;
        queue) QUEUE=$v ;;
        mark_base) MARK_BASE=$v ;;
        proxies) PROXIES=$v ;;
      esac
    done < <(lb_from_config "${RULES_OPT[config]}")
  fi
  [ -n "${RULES_OPT[vip]:-}" ] && VIP=${RULES_OPT[vip]}
  [ -n "${RULES_OPT[queue]:-}" ] && QUEUE=$(rules_uint queue)
  [ -n "${RULES_OPT[mark-base]:-}" ] && MARK_BASE=${RULES_OPT[mark-base]}
  [ -n "${RULES_OPT[proxies]:-}" ] && PROXIES=${RULES_OPT[proxies]}
  TABLE_BASE=${RULES_OPT[table-base]:-$D_TABLE_BASE}
  PREF_BASE=${RULES_OPT[pref-base]:-$D_PREF_BASE}
  PORT=${RULES_OPT[port]:-}
  [[ $VIP =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || { rules_log "bad vip '$VIP'"; exit 2; }
  [[ $QUEUE =~ ^[0-9]+$ ]] && [ "$QUEUE" -le 65535 ] || { rules_log "bad queue '$QUEUE'"; exit 2; }
  [[ $MARK_BASE =~ ^(0x[0-9a-fA-F]+|[0-9]+)$ ]] || { rules_log "bad mark base '$MARK_BASE'"; exit 2; }
  MARK_BASE=$((MARK_BASE))
  [[ $TABLE_BASE =~ ^[0-9]+$ && $PREF_BASE =~ ^[0-9]+$ ]] || { rules_log "bad table/pref base"; exit 2; }
  [ -z "$PORT" ] || [[ $PORT =~ ^[0-9]+$ ]] || { rules_log "bad port '$PORT'"; exit 2; }
  P_IDS=()
  P_ADDRS=()
  IFS=, read -r -a items <<<"$PROXIES"
  for item in "${items[@]}"; do
    id=${item%%=*}
    addr=${item#*=}
    [[ $id =~ ^[0-9]+$ && $addr =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
      { rules_log "bad proxy '$item' (want ID=ADDR)"; exit 2; }
    [ $((PREF_BASE + id)) -lt 32766 ] || { rules_log "rule priority for proxy $id reaches main's 32766"; exit 2; }
    [ $((TABLE_BASE + id)) -lt 253 ] || [ $((TABLE_BASE + id)) -gt 255 ] ||
      { rules_log "table for proxy $id collides with default/main/local"; exit 2; }
    P_IDS+=("$id")
    P_ADDRS+=("$addr")
  done
  [ ${#P_IDS[@]} -gt 0 ] || { rules_log "no proxies"; exit 2; }
}

match_args() {
  MATCH=(-d "$VIP/32")
  [ -n "$PORT" ] && MATCH+=(-p tcp --dport "$PORT")
  return 0
}

# rule_del_pref PREF: removes every rule with that priority (bounded).
rule_del_pref() {
  local n=0
  while [ -n "$(ip rule show pref "$1" 2>/dev/null)" ]; do
    ip rule del pref "$1" 2>/dev/null || break
    n=$((n + 1))
    [ "$n" -lt 100 ] || rules_die "cannot delete ip rule pref $1"
  done
}

role_up() {
  local i id mark table pref target
  lb_opts
  match_args
  sysctl -qw net.ipv4.ip_forward=1
  target=(NFQUEUE --queue-num "$QUEUE")
  rules_flag fail-closed || target+=(--queue-bypass)
  # The chain is replaced in ONE iptables-restore transaction: flushing it
  # and appending again would leave a moment in which VIP packets pass
  # unqueued, follow the main table and get reset by the wrong proxy (seen
  # when `up` ran under live traffic, e.g. around a daemon restart).
  {
    echo "*raw"
    echo ":$CHAIN - [0:0]"
    rules_flag track || echo "-A $CHAIN ${MATCH[*]} -j CT --notrack"
    echo "-A $CHAIN ${MATCH[*]} -j ${target[*]}"
    echo "COMMIT"
  } | "$RULES_IPT-restore" -w --noflush || rules_die "$RULES_IPT-restore failed"
  rules_jump_ensure raw PREROUTING "$CHAIN"
  for i in "${!P_IDS[@]}"; do
    id=${P_IDS[$i]}
    mark=$(printf '0x%x' $((MARK_BASE + id)))
    table=$((TABLE_BASE + id))
    pref=$((PREF_BASE + id))
    # Route first (replace is atomic), then the rule, and the rule only
    # when it differs: deleting it under traffic would send that proxy's
    # packets by the main table for a moment.
    ip route replace "$VIP/32" via "${P_ADDRS[$i]}" table "$table"
    if [ "$(ip rule show pref "$pref" | grep -c .)" != 1 ] ||
      ! grep -q "fwmark $mark lookup $table\$" <<<"$(ip rule show pref "$pref")"; then
      rule_del_pref "$pref"
      ip rule add pref "$pref" fwmark "$mark" lookup "$table"
    fi
  done
}

role_down() {
  local i id table
  lb_opts
  rules_jump_delete raw PREROUTING "$CHAIN"
  rules_chain_delete raw "$CHAIN"
  for i in "${!P_IDS[@]}"; do
    id=${P_IDS[$i]}
    table=$((TABLE_BASE + id))
    rule_del_pref $((PREF_BASE + id))
    ip route del "$VIP/32" table "$table" 2>/dev/null || true
  done
}

role_status() {
  local rc=0 i id mark table pref r
  lb_opts
  rules_chain_status raw PREROUTING "$CHAIN" || rc=$?
  echo "$RULES_NAME: policy routing for $VIP (mark -> table -> next hop):"
  for i in "${!P_IDS[@]}"; do
    id=${P_IDS[$i]}
    mark=$(printf '0x%x' $((MARK_BASE + id)))
    table=$((TABLE_BASE + id))
    pref=$((PREF_BASE + id))
    r=$(ip rule show pref "$pref" 2>/dev/null)
    if [ -z "$r" ] || ! grep -q "fwmark $mark lookup $table" <<<"$r"; then
      echo "  proxy $id: rule pref $pref fwmark $mark lookup $table MISSING"
      rc=3
    else
      echo "  proxy $id: $r"
    fi
    r=$(ip route show table "$table" "$VIP/32" 2>/dev/null)
    if ! grep -q "via ${P_ADDRS[$i]}" <<<"$r"; then
      echo "  proxy $id: route $VIP via ${P_ADDRS[$i]} table $table MISSING"
      rc=3
    else
      echo "  proxy $id: table $table: $r"
    fi
  done
  return "$rc"
}

rules_main "$@"
