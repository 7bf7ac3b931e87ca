#!/usr/bin/env bash
# control/probe: the failure detector's liveness probe from the logger host
# to a backend (lg -> b1 nginx), through `craft-ctl probe` (liveness_probe.c):
#  - a running nginx: alive, connect-only and with a request;
#  - a closed port: refused at once;
#  - nginx frozen (SIGSTOP): the kernel still completes the handshake, so
#    the connect-only probe says alive, and only the request probe times
#    out - the reason the detector's confirm window exists;
#  - thawed: alive again.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../../lib.sh"
test_begin
require_tools ip nginx
require_bin ctl
topo_up
topo_nginx b1 80

CTL=$(craft_path ctl)
B1=$(topo_addr b1)
REQ='HEAD / HTTP/1.0\r\n\r\n'
stopped=()
test_cleanup() { for p in "${stopped[@]}"; do kill -CONT "$p" 2>/dev/null; done; }

# probe WANT ARGS...: runs craft-ctl probe on lg; FAIL unless it prints WANT.
probe() {
  local want=$1 out
  shift
  out=$(topo_exec lg "$CTL" probe "$@" 2>&1) || true
  say "probe $* -> $out"
  grep -q "^$want" <<<"$out" || result_fail "probe $*: '$out', want $want"
  grep -o 'rtt_us=[0-9]*' <<<"$out" | cut -d= -f2
}

rtt_up=$(probe alive "$B1:80")
rtt_req=$(probe alive --send "$REQ" "$B1:80")
rtt_closed=$(probe "dead error=ECONNREFUSED" "$B1:81")

mapfile -t stopped < <(ip netns pids "$(topo_ns b1)")
[ "${#stopped[@]}" -gt 0 ] || result_fail "no nginx process in b1"
kill -STOP "${stopped[@]}"
rtt_frozen_connect=$(probe alive "$B1:80")
rtt_frozen_req=$(probe "dead error=ETIMEDOUT" --timeout 500ms --send "$REQ" "$B1:80")
[ "$rtt_frozen_req" -ge 500000 ] || result_fail "timeout came early: $rtt_frozen_req us"
kill -CONT "${stopped[@]}"
stopped=()
probe alive --send "$REQ" "$B1:80" >/dev/null

result_pass "alive in ${rtt_up} us (request ${rtt_req} us), closed port refused in ${rtt_closed} us; frozen nginx: connect alive in ${rtt_frozen_connect} us, request timed out at ${rtt_frozen_req} us"
