#!/usr/bin/env bash
# tests/e2e/failover/_lib.sh - helpers of the failover scenarios that move a
# live client connection from a failed backend to its alternate (not a
# scenario: the runner skips files starting with "_").
#
#   source "$(dirname "$0")/_lib.sh"
#   test_begin
#   fo_setup                  # nginx on b1 and b2, craft-logger on lg (detection +
#                             # control channel), craft-proxy on p1 with [recovery]
#   ...
#   fo_kill_link b1           # b1 falls silent: no FIN, no RST reaches anyone
#
# Before fo_setup a scenario may set FO_TAGS (the logger's tag rules) and
# FO_LOGGER_EXTRA / PX_PROXY_EXTRA, FO_KEEP (the logger's max_kept_message),
# FO_PORT (the backends' port, 80: nginx) and FO_BEFORE_LOGGER (a function
# run once the test bed is up, e.g. to start other servers on b1 and b2),
# FO_AGENT (the alternate's craft-agent ADDR:PORT for recovery) and
# FO_PROBE (the logger's liveness probe request line), FO_DETECT (yes; no
# turns detection off), FO_DETECT_K,
# FO_DETECT_FLOOR, FO_DETECT_CEILING, FO_DETECT_CONFIRM and FO_PROBE_TIMEOUT
# (the detection config). After it: VIP, B1, B2, KEY, PX_* (see
# tests/e2e/splice/_lib.sh), LG_* (tests/e2e/logger/_lib.sh), PX_DB (the
# proxy's failover history).
# shellcheck source=tests/e2e/splice/_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../splice/_lib.sh"
# shellcheck source=tests/e2e/logger/_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../logger/_lib.sh"

FO_TAGS=${FO_TAGS:-'GET,HEAD /1k      deterministic read-only idempotent
GET      /20M     deterministic read-only idempotent
GET      /10M     deterministic read-only idempotent'}
FO_LOGGER_EXTRA=${FO_LOGGER_EXTRA:-}
FO_BEFORE_LOGGER=${FO_BEFORE_LOGGER:-}
FO_PORT=${FO_PORT:-80}
FO_AGENT=${FO_AGENT:-}
FO_PROBE=${FO_PROBE:-HEAD /1k HTTP/1.0}
# The logger's failure detection (the bench may choose its own; the
# scenarios keep these, which detect without false alarms on a busy host).
FO_DETECT_K=${FO_DETECT_K:-4}
FO_DETECT_FLOOR=${FO_DETECT_FLOOR:-200ms}
FO_DETECT_CEILING=${FO_DETECT_CEILING:-2000ms}
FO_DETECT_CONFIRM=${FO_DETECT_CONFIRM:-300ms}
FO_PROBE_TIMEOUT=${FO_PROBE_TIMEOUT:-300ms}

# The proxy: one pool "web" of b1 (b2 takes over when b1 fails).
# shellcheck disable=SC2317 # replaces the splice group's version
px_write_conf() {
  KEY=$TOPO_DIR/cluster.key
  PX_DB=$TOPO_DIR/proxy.db
  od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$KEY"
  chmod 600 "$KEY"
  {
    echo "[proxy]"
    echo "id = 1"
    [ -n "$PX_PROXY_EXTRA" ] && printf '%s\n' "$PX_PROXY_EXTRA"
    echo "[routing]"
    echo "backend = web $B1:$FO_PORT"
    echo "default_pool = web"
    echo "[recovery]"
    echo "logger = $(topo_addr lg):7600"
    echo "alternate = $B1:$FO_PORT $B2:$FO_PORT $FO_AGENT"
    echo "db = $PX_DB"
    echo "[control]"
    echo "bind = $(topo_addr p1):7700"
    echo "key_file = $KEY"
    echo "sender_id = 1"
  } >"$PX_CONF"
}

# fo__logger: started by px_setup before the proxy (PX_BEFORE_PROXY).
# shellcheck disable=SC2317 # called by px_setup
fo__logger() {
  topo_nginx b2
  if [ -n "$FO_BEFORE_LOGGER" ]; then "$FO_BEFORE_LOGGER"; fi
  local conf=$TOPO_DIR/logger.conf
  LG_DB=$TOPO_DIR/logger.db
  printf '%s\n' "$FO_TAGS" >"$TOPO_DIR/tags.rules"
  cat >"$conf" <<EOF
[logger]
db = $LG_DB
service = "80 http"
$([ "$FO_PORT" = 80 ] || echo "service = \"$FO_PORT http\"")
tags = $TOPO_DIR/tags.rules
max_kept_message = ${FO_KEEP:-1MiB}
counters_interval = 1s
[flows]
linger_timeout = 30s
[detect]
enabled = ${FO_DETECT:-yes}
k = $FO_DETECT_K
floor = $FO_DETECT_FLOOR
ceiling = $FO_DETECT_CEILING
confirm = $FO_DETECT_CONFIRM
min_samples = 8
idle_probe = 300ms
recover_probes = 2
tick = 10ms
[probe]
timeout = $FO_PROBE_TIMEOUT
send = "$FO_PROBE\\\\r\\\\n\\\\r\\\\n"
[control]
bind = $(topo_addr lg):7600
peer = $(topo_addr p1):7700
key_file = $KEY
sender_id = 5
repeats = 3
repeat_interval = 50ms
$FO_LOGGER_EXTRA
EOF
  lg_start "$conf"
}

fo_setup() {
  require_tools sqlite3 python3
  require_bin logger proxy
  B1=$(topo_addr b1)
  B2=$(topo_addr b2)
  # shellcheck disable=SC2034 # read by px_setup
  PX_BEFORE_PROXY=fo__logger
  px_setup
}

# fo_kill_link ROLE: takes ROLE's only interface down: its kernel can no
# longer send a FIN or RST, exactly like a machine that lost power. Its
# routes (which go with the link) are kept for fo_revive_link.
fo_kill_link() {
  topo_exec "$1" ip -4 route show >"$TOPO_DIR/routes.$1"
  topo_exec "$1" ip link set eth0 down
}

# fo_revive_link ROLE: the link back up, with the routes it had.
fo_revive_link() {
  local line
  topo_exec "$1" ip link set eth0 up
  while read -r line; do
    # shellcheck disable=SC2086 # a route is several words
    topo_exec "$1" ip route replace $line 2>/dev/null || true
  done <"$TOPO_DIR/routes.$1"
}

# fo_rows: the proxy's failover history, one line per event. With
# FO_SAVE_DB set (the demo), a copy of the database is left there.
fo_rows() {
  if [ -n "${FO_SAVE_DB:-}" ]; then sqlite3 "$PX_DB" ".backup '$FO_SAVE_DB'" 2>/dev/null || true; fi
  sqlite3 -batch -noheader "$PX_DB" \
    "SELECT outcome, backend, alternate, t_l & 65535, p, ack_cl, ack_tl, t_r & 65535, bytes_resent, txns_replayed, (recovery_end_us - detected_us) / 1000, coalesce(detail, '') FROM failover_events ORDER BY event_id" 2>/dev/null
}

# fo_aux_stats ADDR: craft-auxd's STATS answer (first line "total N distinct
# N duplicates N", then one line per transaction ID), asked from aux.
fo_aux_stats() {
  topo_exec aux timeout 15 python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 7000), timeout=5)
s.sendall(b"STATS\n")
buf = b""
while not buf.endswith(b"END\n"):
    d = s.recv(65536)
    if not d: break
    buf += d
print(buf.decode(), end="")' "$1"
}

# fo_idle_client: writes the python client of the between-transactions
# case and prints its path. Usage: python3 CLIENT HOST WWW GO
# ONE keep-alive connection (connect() counted): /1k and /10M, then
# GO.ready is created and it waits for GO; then /10M and /1k again. Every
# body checked by sha256; fails if the socket changed or the server closed
# it. Prints "OK CONNECTS LOCAL_PORT MS_AFTER_GO".
fo_idle_client() {
  local f=$TOPO_DIR/fo_idle_client.py
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

# fo_webmail_apps STATIC_DIR [OPT...]: the webmail pair and the aux server,
# from a FO_BEFORE_LOGGER function (B1, B2, KEY set): craft-auxd on aux:7000
# (FO_AUXD_OPTS: more -o options), craft-webmail on b2 feeding craft-agent
# (b2:7500) through a local socket, and craft-webmail on b1 pushing its
# session state to that agent; OPT... (-o key=value) go to both webmails.
# Sets AUX; stats files auxd.stats, b1.stats, b2.stats, agent.stats.
FO_AUXD_OPTS=()
fo_webmail_apps() {
  local st=$1 sock=$TOPO_DIR/b2-webmail.sock
  shift
  AUX=$(topo_addr aux)
  start_daemon aux auxd "$TOPO_DIR/auxd.log" -o "auxd.listen=$AUX:7000" "${FO_AUXD_OPTS[@]}" \
    -s "$TOPO_DIR/auxd.stats"
  start_daemon b2 webmail "$TOPO_DIR/b2.log" -o "webmail.listen=$B2:8080" \
    -o "webmail.apply_socket=$sock" -o "webmail.static_dir=$st" \
    -o "webmail.aux=$AUX:7000" "$@" -s "$TOPO_DIR/b2.stats"
  start_daemon b2 agent "$TOPO_DIR/agent.log" -o "agent.bind=$B2:7500" \
    -o "agent.key_file=$KEY" -o "agent.app_socket=$sock" -o agent.sender_id=12 \
    -s "$TOPO_DIR/agent.stats"
  start_daemon b1 webmail "$TOPO_DIR/b1.log" -o "webmail.listen=$B1:8080" \
    -o "webmail.static_dir=$st" -o "webmail.aux=$AUX:7000" "$@" \
    -o "sync.agent=$B2:7500" -o "sync.key_file=$KEY" -o sync.sender_id=11 \
    -s "$TOPO_DIR/b1.stats"
  wait_port aux "$AUX" 7000 || result_fail "auxd did not listen"
  wait_port b2 "$B2" 8080 || result_fail "webmail b2 did not listen"
  wait_port b1 "$B1" 8080 || result_fail "webmail b1 did not listen"
  wait_for 5 fo__agent_connected || result_fail "agent never connected to b2's webmail"
}
# shellcheck disable=SC2317 # called through wait_for
fo__agent_connected() { [ "$(stats_get "$TOPO_DIR/agent.stats" app_connected 2>/dev/null)" = 1 ]; }

# fo_aux_logger_conf CTL_ADDR:PORT: the logger's lines (stdout) that make it
# the aux logger too (line protocol on aux:7000, the client transaction ID
# as "craft<hex>" or X-Craft-Txn) with the replay diversion of
# nfq/logger/aux_divert.h, told by recovery on CTL_ADDR:PORT; the caller
# runs rules/aux-divert.sh up --port 7000 on lg.
fo_aux_logger_conf() {
  cat <<EOF2
[logger]
service = "7000 line"
aux = yes
aux_prefix = craft
aux_header = X-Craft-Txn
[transactions]
line_response = line
line_pattern = "^craft[0-9a-f]+ (OK|NO|BAD)"
[aux_divert]
enabled = yes
listen = 127.0.0.1:7399
port = 7000
bind = $1
key_file = $KEY
sender_id = 6
EOF2
}

# fo_download_client: writes the python client of the download scenarios
# and prints its path. Usage of the client:
#   python3 CLIENT HOST WWW RATE PROGRESS NAME
# ONE keep-alive connection (a small receive buffer, connect() counted):
# GET /NAME read at RATE bytes/s (bytes so far written to PROGRESS), then
# /1k three times; every body checked by sha256 against WWW; fails if the
# socket changed. Prints "OK CONNECTS LOCAL_PORT LONGEST_GAP_MS SECONDS".
fo_download_client() {
  local f=$TOPO_DIR/fo_client.py
  cat >"$f" <<'EOF'
import hashlib, http.client, socket, sys, time
host, www, rate, progress, big = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
want = {n: hashlib.sha256(open(f"{www}/{n}", "rb").read()).hexdigest() for n in ("1k", big)}
connects = 0
class Conn(http.client.HTTPConnection):
    def connect(self):
        global connects
        connects += 1
        s = socket.socket()
        # a small receive buffer: the rate limit holds the server back
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 131072)
        s.settimeout(20)
        s.connect((self.host, self.port))
        self.sock = s
c = Conn(host, 80, timeout=20)
port = None
max_gap = 0.0
t0 = time.monotonic()
for i, name in enumerate((big, "1k", "1k", "1k")):
    c.request("GET", f"/{name}")
    r = c.getresponse()
    if port is None:
        port, sock = c.sock.getsockname()[1], c.sock
    h = hashlib.sha256()
    got, start, last = 0, time.monotonic(), time.monotonic()
    while True:
        b = r.read(65536)
        now = time.monotonic()
        if not b:
            break
        max_gap = max(max_gap, now - last)
        last = now
        h.update(b)
        got += len(b)
        if name == big:
            with open(progress, "w") as f:
                f.write(f"{got}\n")
            ahead = got / rate - (now - start)
            if ahead > 0:
                time.sleep(ahead)
    if r.status != 200 or h.hexdigest() != want[name]:
        print(f"FAIL request {i + 1} /{name}: HTTP {r.status}, {got} bytes, sha256 "
              f"{'ok' if h.hexdigest() == want[name] else 'differs'}"); sys.exit(1)
    if c.sock is not sock or c.sock.getsockname()[1] != port:
        print(f"FAIL request {i + 1}: the client reconnected"); sys.exit(1)
print(f"OK {connects} {port} {max_gap * 1000:.0f} {time.monotonic() - t0:.2f}")
EOF
  printf '%s' "$f"
}

# fo_progress_past FILE BYTES: the client's progress file says >= BYTES.
fo_progress_past() {
  local v
  v=$(cat "$1" 2>/dev/null) || v=0
  [ "${v:-0}" -ge "$2" ]
}
