#!/usr/bin/env bash
# tests/net/topo.sh - the CRAFT reference test bed, and the ONE place that
# knows its topology (roles, namespaces, interfaces, addresses, routes).
#
# As a library:
#   source tests/net/topo.sh
#   topo_up                      # namespaces, links, addresses, routes
#   topo_www                     # test files 1k, 10M, 20M under $TOPO_DIR/www
#   topo_nginx b1                # nginx on 198.18.2.11:80
#   topo_exec cl curl -s http://198.18.2.11/1k
#   topo_start_bg lg "$TOPO_DIR/logger.log" craft-logger -q 0
#   topo_down                    # kills what was started, deletes namespaces
#
# As a command (the prefix is printed by `up`, pass it back via TOPO_PREFIX):
#   tests/net/topo.sh up [--servers]
#   TOPO_PREFIX=crab12- tests/net/topo.sh exec cl curl -s http://198.18.2.11/1k
#   TOPO_PREFIX=crab12- tests/net/topo.sh status|down
#
#   cl  198.18.0.10,.11 ─┐ br0 (sw)
#   lb  198.18.0.1 ──────┘
#   lb  198.18.1.1 ──────┐
#   p1  198.18.1.11 ─────┤ br1 (sw)     p1, p2 also hold VIP 198.18.10.1/32 and
#   p2  198.18.1.12 ─────┤              IVIP 198.18.11.1/32 on lo (no ARP)
#   lg  198.18.1.2 ──────┘
#   lg  198.18.2.1 ──────┐
#   b1  198.18.2.11 ─────┤ br2 (sw)
#   b2  198.18.2.12 ─────┘
#   lg  198.18.3.1 ─────── aux 198.18.3.10   (point-to-point veth)
#
# Every namespace is named "$TOPO_PREFIX$ROLE"; the prefix is unique per run
# (default: "${CRAFT_RUN_TAG:-cr}" + 4 random hex digits + "-").  Everything
# a run creates lives under $TOPO_DIR (default /tmp/craft-topo-<prefix>).
# Offloads stay at veth defaults (GSO/TSO on).

# Roles in creation order; sw holds the bridges.
TOPO_ROLES=(sw cl lb p1 p2 lg b1 b2 aux)
TOPO_NET_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Named addresses: topo_addr NAME.  A role name gives its main address (the
# one its peers use); NAME-SIDE gives the other interfaces.
declare -gA TOPO_ADDRS=(
  [cl]=198.18.0.10 [cl2]=198.18.0.11
  [lb]=198.18.0.1 [lb-in]=198.18.1.1
  [p1]=198.18.1.11 [p2]=198.18.1.12
  [lg]=198.18.1.2 [lg-be]=198.18.2.1 [lg-aux]=198.18.3.1
  [b1]=198.18.2.11 [b2]=198.18.2.12
  [aux]=198.18.3.10
  [vip]=198.18.10.1 [ivip]=198.18.11.1
)

# Links: "ROLE IFNAME ADDRESS/LEN SEGMENT"; SEGMENT is a bridge in sw, or
# p2p:ROLE:IFNAME for a direct veth pair (listed once, from one end).
TOPO_LINKS=(
  "cl eth0 198.18.0.10/24 br0"
  "lb eth0 198.18.0.1/24 br0"
  "lb eth1 198.18.1.1/24 br1"
  "p1 eth0 198.18.1.11/24 br1"
  "p2 eth0 198.18.1.12/24 br1"
  "lg eth0 198.18.1.2/24 br1"
  "lg eth1 198.18.2.1/24 br2"
  "b1 eth0 198.18.2.11/24 br2"
  "b2 eth0 198.18.2.12/24 br2"
  "lg eth2 198.18.3.1/24 p2p:aux:eth0:198.18.3.10/24"
)

topo__log() { printf 'topo: %s\n' "$*" >&2; }

# Picks the prefix and the state directory once per shell.
topo__init() {
  if [ -z "${TOPO_PREFIX:-}" ]; then
    TOPO_PREFIX="${CRAFT_RUN_TAG:-cr}$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')-"
    TOPO_PREFIX_AUTO=1
  fi
  TOPO_DIR=${TOPO_DIR:-${TMPDIR:-/tmp}/craft-topo-${TOPO_PREFIX%-}}
  export TOPO_PREFIX TOPO_DIR
}

topo_ns() { printf '%s%s' "$TOPO_PREFIX" "$1"; }

topo_addr() {
  local a=${TOPO_ADDRS[$1]:-}
  [ -n "$a" ] || { topo__log "no address named '$1'"; return 1; }
  printf '%s' "$a"
}

topo_pid_file() { printf '%s/%s.pid' "$TOPO_DIR" "$1"; }

topo_exec() {
  local role=$1
  shift
  ip netns exec "$(topo_ns "$role")" "$@"
}

topo__sysctl() {
  local role=$1
  shift
  ip netns exec "$(topo_ns "$role")" sysctl -qw "$@" >/dev/null
}

topo__mkns() {
  local role=$1 ns
  ns=$(topo_ns "$role")
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  # Quiet, deterministic IPv4-only hosts; rp_filter off so that the
  # asymmetric paths later issues build (split splice) are not dropped.
  topo__sysctl "$role" net.ipv6.conf.all.disable_ipv6=1 \
    net.ipv6.conf.default.disable_ipv6=1 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
}

topo__bridge() {
  local sw br=$1
  sw=$(topo_ns sw)
  ip -n "$sw" link add "$br" type bridge forward_delay 0 stp_state 0 mcast_snooping 0
  ip -n "$sw" link set "$br" up
}

# topo__link ROLE IF CIDR SEGMENT
topo__link() {
  local role=$1 ifn=$2 cidr=$3 seg=$4 ns peer prole pif pcidr
  ns=$(topo_ns "$role")
  if [[ $seg == p2p:* ]]; then
    IFS=: read -r _ prole pif pcidr <<<"$seg"
    ip link add name "$ifn" netns "$ns" type veth peer name "$pif" netns "$(topo_ns "$prole")"
    ip -n "$(topo_ns "$prole")" addr add "$pcidr" dev "$pif"
    ip -n "$(topo_ns "$prole")" link set "$pif" up
  else
    peer="$role-$ifn"
    ip link add name "$ifn" netns "$ns" type veth peer name "$peer" netns "$(topo_ns sw)"
    ip -n "$(topo_ns sw)" link set "$peer" master "$seg" up
  fi
  ip -n "$ns" addr add "$cidr" dev "$ifn"
  ip -n "$ns" link set "$ifn" up
}

topo__routes() {
  local r
  ip -n "$(topo_ns cl)" addr add 198.18.0.11/24 dev eth0
  ip -n "$(topo_ns cl)" route add default via 198.18.0.1

  ip -n "$(topo_ns lb)" route add 198.18.2.0/24 via 198.18.1.2
  ip -n "$(topo_ns lb)" route add 198.18.3.0/24 via 198.18.1.2
  ip -n "$(topo_ns lb)" route add 198.18.10.1/32 via 198.18.1.11

  for r in p1 p2; do
    ip -n "$(topo_ns "$r")" addr add 198.18.10.1/32 dev lo
    ip -n "$(topo_ns "$r")" addr add 198.18.11.1/32 dev lo
    ip -n "$(topo_ns "$r")" route add default via 198.18.1.1
    ip -n "$(topo_ns "$r")" route add 198.18.2.0/24 via 198.18.1.2
    ip -n "$(topo_ns "$r")" route add 198.18.3.0/24 via 198.18.1.2
    topo__sysctl "$r" net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
  done

  ip -n "$(topo_ns lg)" route add 198.18.0.0/24 via 198.18.1.1
  ip -n "$(topo_ns lg)" route add 198.18.10.1/32 via 198.18.1.11
  ip -n "$(topo_ns lg)" route add 198.18.11.1/32 via 198.18.1.11

  for r in b1 b2; do
    ip -n "$(topo_ns "$r")" route add default via 198.18.2.1
  done
  ip -n "$(topo_ns aux)" route add default via 198.18.3.1

  topo__sysctl lb net.ipv4.ip_forward=1
  topo__sysctl lg net.ipv4.ip_forward=1
}

# topo_up: builds the whole test bed; on any failure it tears down what it
# built and returns non-zero.
topo_up() {
  local try
  topo__init
  for ((try = 0; try < 5; try++)); do
    ip netns list | grep -q "^${TOPO_PREFIX}" || [ -e "$TOPO_DIR" ] || break
    if [ "${TOPO_PREFIX_AUTO:-0}" != 1 ]; then
      topo__log "prefix $TOPO_PREFIX is in use (namespaces or $TOPO_DIR exist)"
      return 1
    fi
    TOPO_PREFIX=
    TOPO_DIR=
    topo__init
  done
  mkdir -p "$TOPO_DIR"
  chmod 755 "$TOPO_DIR"
  printf 'TOPO_PREFIX=%s\nTOPO_DIR=%s\n' "$TOPO_PREFIX" "$TOPO_DIR" >"$TOPO_DIR/env"
  : >>"$TOPO_DIR/pids"
  if ! topo__build; then
    topo__log "building the test bed failed; tearing down"
    topo_down
    return 1
  fi
}

topo__build() {
  local role link br
  for role in "${TOPO_ROLES[@]}"; do topo__mkns "$role" || return 1; done
  # Bridged frames must not traverse the switch's own iptables.
  topo__sysctl sw net.bridge.bridge-nf-call-iptables=0 \
    net.bridge.bridge-nf-call-ip6tables=0 net.bridge.bridge-nf-call-arptables=0 2>/dev/null || true
  for br in br0 br1 br2; do topo__bridge "$br" || return 1; done
  for link in "${TOPO_LINKS[@]}"; do
    # shellcheck disable=SC2086 # the link spec is four words
    topo__link $link || return 1
  done
  topo__routes || return 1
}

# topo_start_bg ROLE LOGFILE CMD...: runs CMD in ROLE's namespace in the
# background (a child of this shell, so `wait` works), records its PID for
# topo_down and leaves it in TOPO_LAST_PID.
topo_start_bg() {
  local role=$1 log=$2
  shift 2
  ip netns exec "$(topo_ns "$role")" "$@" >"$log" 2>&1 </dev/null &
  TOPO_LAST_PID=$!
  printf '%s %s %s\n' "$TOPO_LAST_PID" "$role" "$1" >>"$TOPO_DIR/pids"
}

topo__alive() { kill -0 "$1" 2>/dev/null; }

# topo_stop PID [SIGNAL] [TIMEOUT_S]: signals PID, waits for it (KILL after
# the timeout).  Returns the exit status when PID is a child of this shell
# (so callers can check "exits 0 on SIGTERM"), else 0.
topo_stop() {
  local pid=$1 sig=${2:-TERM} t=${3:-5} i rc=0
  topo__alive "$pid" || { wait "$pid" 2>/dev/null || rc=$?; return "$rc"; }
  kill -s "$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < t * 20; i++)); do
    topo__alive "$pid" || break
    # a zombie child counts as exited
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
    sleep 0.05
  done
  if topo__alive "$pid" && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; then
    topo__log "pid $pid ignored SIG$sig for ${t}s; killing"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || rc=$?
  return "$rc"
}

# topo_down: idempotent teardown; kills recorded PIDs and anything else
# still running inside our namespaces, deletes them, removes TOPO_DIR.
topo_down() {
  topo__init
  local pid _ role ns pids=() i
  if [ -f "$TOPO_DIR/pids" ]; then
    while read -r pid _; do
      [ -n "$pid" ] && topo__alive "$pid" && pids+=("$pid")
    done <"$TOPO_DIR/pids"
  fi
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for ((i = 0; i < 40; i++)); do
    local any=0
    for pid in "${pids[@]}"; do topo__alive "$pid" && any=1; done
    [ "$any" = 0 ] && break
    sleep 0.05
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for role in "${TOPO_ROLES[@]}"; do
    ns=$(topo_ns "$role")
    [ -e "/run/netns/$ns" ] || continue
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for role in "${TOPO_ROLES[@]}"; do
    ns=$(topo_ns "$role")
    [ -e "/run/netns/$ns" ] && ip netns del "$ns" 2>/dev/null
  done
  case "$TOPO_DIR" in
    */craft-topo-*) rm -rf "$TOPO_DIR" ;;
    *) [ -f "$TOPO_DIR/env" ] && rm -rf "$TOPO_DIR" ;;
  esac
  return 0
}

topo_status() {
  topo__init
  local role ns found=0
  echo "prefix $TOPO_PREFIX  dir $TOPO_DIR"
  for role in "${TOPO_ROLES[@]}"; do
    ns=$(topo_ns "$role")
    [ -e "/run/netns/$ns" ] || { printf '%-4s %-12s absent\n' "$role" "$ns"; continue; }
    found=1
    printf '%-4s %-12s %s  pids: %s\n' "$role" "$ns" \
      "$(ip -n "$ns" -4 -o addr show | awk '$2 != "lo" || $4 !~ /^127/ {printf "%s:%s ", $2, $4}')" \
      "$(ip netns pids "$ns" | tr '\n' ' ')"
  done
  [ "$found" = 1 ]
}

# ---- readiness -------------------------------------------------------------

# topo_wait_port ROLE ADDR PORT [TIMEOUT_S]: waits until something listens
# on ADDR:PORT inside ROLE's namespace.
topo_wait_port() {
  local role=$1 addr=$2 port=$3 t=${4:-10} i
  for ((i = 0; i < t * 20; i++)); do
    if topo_exec "$role" ss -Hltn "src $addr and sport = :$port" 2>/dev/null | grep -q .; then
      return 0
    fi
    sleep 0.05
  done
  topo__log "nothing listens on $addr:$port in $role after ${t}s"
  return 1
}

# ---- test files and servers -------------------------------------------------

# topo_www: random test files, made once per run: 1k, 10M, 20M.
topo_www() {
  local w=$TOPO_DIR/www
  [ -f "$w/20M" ] && return 0
  mkdir -p "$w"
  head -c 1024 /dev/urandom >"$w/1k"
  head -c $((10 * 1024 * 1024)) /dev/urandom >"$w/10M"
  head -c $((20 * 1024 * 1024)) /dev/urandom >"$w/20M"
  chmod 755 "$w"
  chmod 644 "$w"/*
}

topo_www_file() { printf '%s/www/%s' "$TOPO_DIR" "$1"; }

# topo_nginx ROLE [PORT]: nginx (daemon off, own pid/error log, access log
# off, sendfile, keepalive) serving $TOPO_DIR/www on ROLE's address.
topo_nginx() {
  local role=$1 port=${2:-80} addr d
  addr=$(topo_addr "$role")
  d=$TOPO_DIR/nginx-$role-$port
  topo_www
  mkdir -p "$d"
  sed -e "s|@DIR@|$d|g" -e "s|@WWW@|$TOPO_DIR/www|g" -e "s|@ADDR@|$addr|g" \
    -e "s|@PORT@|$port|g" -e "s|@WORKERS@|${TOPO_NGINX_WORKERS:-1}|g" \
    "$TOPO_NET_DIR/nginx.conf.in" >"$d/nginx.conf"
  topo_start_bg "$role" "$d/stderr.log" nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf"
  topo_wait_port "$role" "$addr" "$port"
}

# topo_lighttpd ROLE [PORT]: lighttpd in the foreground on ROLE's address.
topo_lighttpd() {
  local role=$1 port=${2:-8080} addr d
  addr=$(topo_addr "$role")
  d=$TOPO_DIR/lighttpd-$role-$port
  topo_www
  mkdir -p "$d"
  sed -e "s|@DIR@|$d|g" -e "s|@WWW@|$TOPO_DIR/www|g" -e "s|@ADDR@|$addr|g" \
    -e "s|@PORT@|$port|g" "$TOPO_NET_DIR/lighttpd.conf.in" >"$d/lighttpd.conf"
  topo_start_bg "$role" "$d/stderr.log" lighttpd -D -f "$d/lighttpd.conf"
  topo_wait_port "$role" "$addr" "$port"
}

# topo_pyhttp ROLE [PORT]: python3 http.server (GET of $TOPO_DIR/www) that
# also answers PUT/POST with the sha256 of the body (tests/net/httpd.py).
topo_pyhttp() {
  local role=$1 port=${2:-8000} addr py
  addr=$(topo_addr "$role")
  topo_www
  py=$(command -v /usr/bin/python3 || command -v python3)
  topo_start_bg "$role" "$TOPO_DIR/pyhttp-$role-$port.log" \
    "$py" "$TOPO_NET_DIR/httpd.py" --bind "$addr" --port "$port" --root "$TOPO_DIR/www"
  topo_wait_port "$role" "$addr" "$port"
}

# ---- command mode ----------------------------------------------------------

topo__usage() {
  cat <<'EOF'
usage: topo.sh up [--servers]      build the test bed, print TOPO_PREFIX
       topo.sh down [PREFIX]       tear it down (or TOPO_PREFIX=... in env)
       topo.sh status [PREFIX]     namespaces, addresses, processes
       topo.sh exec ROLE CMD...    run CMD in ROLE's namespace
roles: sw cl lb p1 p2 lg b1 b2 aux
EOF
}

topo__main() {
  set -euo pipefail
  local cmd=${1:-}
  [ $# -gt 0 ] && shift
  case "$cmd" in
    up)
      topo_up
      if [ "${1:-}" = --servers ]; then
        if ! { topo_nginx b1 && topo_nginx b2 && topo_lighttpd b1 && topo_pyhttp b1; }; then
          topo_down
          exit 1
        fi
        # servers outlive this command; `down` kills them via the pids file
      fi
      echo "TOPO_PREFIX=$TOPO_PREFIX"
      echo "TOPO_DIR=$TOPO_DIR"
      ;;
    down)
      [ -n "${1:-}" ] && TOPO_PREFIX=$1
      [ -n "${TOPO_PREFIX:-}" ] || { echo "topo: down needs TOPO_PREFIX" >&2; exit 2; }
      topo_down
      ;;
    status)
      [ -n "${1:-}" ] && TOPO_PREFIX=$1
      [ -n "${TOPO_PREFIX:-}" ] || { echo "topo: status needs TOPO_PREFIX" >&2; exit 2; }
      topo_status || exit 3
      ;;
    exec)
      [ -n "${TOPO_PREFIX:-}" ] || { echo "topo: exec needs TOPO_PREFIX" >&2; exit 2; }
      [ $# -ge 2 ] || { topo__usage >&2; exit 2; }
      topo__init
      topo_exec "$@"
      ;;
    -h | --help) topo__usage ;;
    *) topo__usage >&2; exit 2 ;;
  esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  topo__main "$@"
fi
