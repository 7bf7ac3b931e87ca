#!/usr/bin/env bash
# tests/e2e/failover/_crash.sh - helpers of the scenarios where a backend's
# server process dies while its host lives (not a scenario: the runner skips
# files starting with "_"). Source after _lib.sh.
#
#   crash_nginx_master ROLE [PORT]    # nginx's master PID (its pid file)
#   crash_nginx_workers ROLE [PORT]   # its workers' PIDs, one a line
#   crash_kill_nginx ROLE [PORT]      # SIGKILL master and workers, by PID:
#                                     # the kernel closes their sockets
#   crash_kill_worker ROLE [PORT]     # SIGKILL the workers only: the master
#                                     # lives on and starts new ones
#   crash_cap_rcvbuf ROLE BYTES       # caps ROLE's TCP receive buffers
#   crash_lg_row                      # the logger's failover_events rows
#   crash_idle_client                 # path of the keep-alive python client

# shellcheck disable=SC2034 # CRASH_KILLED is the scenarios'
crash_nginx_master() {
  local pidf=$TOPO_DIR/nginx-$1-${2:-80}/nginx.pid
  [ -s "$pidf" ] || return 1
  cat "$pidf"
}

crash_nginx_workers() {
  local m
  m=$(crash_nginx_master "$@") || return 1
  ps -o pid= --ppid "$m" | tr -d ' '
}

# Master first: once it is gone nothing starts a worker again, and with the
# last process the listening socket closes (probes are refused).
crash_kill_nginx() {
  local m w
  m=$(crash_nginx_master "$@") || result_fail "no nginx master on $1"
  w=$(crash_nginx_workers "$@")
  [ -n "$w" ] || result_fail "nginx on $1 has no worker"
  # shellcheck disable=SC2086 # one PID a word
  kill -KILL "$m" $w
  CRASH_KILLED="$m $w"
}

crash_kill_worker() {
  local w
  w=$(crash_nginx_workers "$@")
  [ -n "$w" ] || result_fail "nginx on $1 has no worker"
  # shellcheck disable=SC2086 # one PID a word
  kill -KILL $w
  CRASH_KILLED=$w
}

# The client's receive buffer bounds what the backend can send ahead of it:
# with the kernel's autotuning (up to 32 MiB here) nginx would have the
# whole file in flight long before the crash, which would then fall between
# two transactions instead of in the middle of the response.
crash_cap_rcvbuf() { topo_exec "$1" sysctl -qw net.ipv4.tcp_rmem="4096 131072 $2"; }

crash_lg_row() {
  sqlite3 -batch -noheader "$LG_DB" \
    "SELECT backend, outcome, detected_us, coalesce(detail, '') FROM failover_events ORDER BY rowid" 2>/dev/null
}

# crash_idle_client: writes the python client of the between-transactions
# case and prints its path. Usage: python3 CLIENT HOST WWW GO
# ONE keep-alive connection (connect() counted): /1k and /10M, then
# GO.ready is created and it waits for GO; then /10M and /1k again. Every
# body checked by sha256; fails if the socket changed or the server closed
# it. Prints "OK CONNECTS LOCAL_PORT MS_AFTER_GO".
crash_idle_client() {
  local f=$TOPO_DIR/crash_idle_client.py
  cat >"$f" <<'EOF'
import hashlib, http.client, os, socket, sys, time
host, www, go = sys.argv[1], sys.argv[2], sys.argv[3]
want = {n: hashlib.sha256(open(f"{www}/{n}", "rb").read()).hexdigest() for n in ("1k", "10M")}
connects = 0
class Conn(http.client.HTTPConnection):
    def connect(self):
        global connects
        connects += 1
        super().connect()
c = Conn(host, 80, timeout=20)
def get(name):
    c.request("GET", f"/{name}")
    r = c.getresponse()
    body = r.read()
    if r.status != 200 or hashlib.sha256(body).hexdigest() != want[name]:
        print(f"FAIL /{name}: HTTP {r.status}, {len(body)} bytes"); sys.exit(1)
try:
    get("1k")
    sock, port = c.sock, c.sock.getsockname()[1]
    get("10M")
    open(go + ".ready", "w").close()
    while not os.path.exists(go):
        time.sleep(0.05)
    t0 = time.monotonic()
    get("10M")
    get("1k")
except (OSError, http.client.HTTPException) as e:
    print(f"FAIL {type(e).__name__}: {e} (connects {connects})"); sys.exit(1)
if connects != 1 or c.sock is not sock or c.sock.getsockname()[1] != port:
    print(f"FAIL the client reconnected ({connects} connects)"); sys.exit(1)
print(f"OK {connects} {port} {(time.monotonic() - t0) * 1000:.0f}")
EOF
  printf '%s' "$f"
}
