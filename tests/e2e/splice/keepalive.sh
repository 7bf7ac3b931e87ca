#!/usr/bin/env bash
# splice/keepalive: 100 HTTP/1.1 requests on ONE keep-alive connection
# through the proxy (python http.client): 96 x 1 KiB and 4 x 10 MiB, every
# body checked by sha256 against the served file.  Exactly one TCP
# connection: the client never reconnected (same socket, same local port,
# connect() called once), the proxy accepted and spliced one connection, and
# the backend saw one SYN.  Requests 2..100 went through the splice only
# (socket_bytes_read stays one request head).
# shellcheck source=tests/e2e/splice/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin

N=100

# shellcheck disable=SC2317 # called by px_setup
count_backend_syns() {
  topo_exec b1 iptables -w -I INPUT -p tcp --dport 80 --syn -m comment --comment t-syn
}
# shellcheck disable=SC2034 # read by px_setup
PX_BEFORE_PROXY=count_backend_syns
px_setup

CLIENT=$TOPO_DIR/ka_client.py
cat >"$CLIENT" <<'EOF'
import hashlib, http.client, sys, time
host, www, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
want = {}
for name in ("1k", "10M"):
    with open(f"{www}/{name}", "rb") as f:
        want[name] = hashlib.sha256(f.read()).hexdigest()
connects = 0
class Conn(http.client.HTTPConnection):
    def connect(self):
        global connects
        connects += 1
        super().connect()
c = Conn(host, 80, timeout=10)
first_sock = None
first_port = None
total = 0
t0 = time.monotonic()
for i in range(n):
    name = "10M" if i % 25 == 24 else "1k"
    c.request("GET", f"/{name}")
    r = c.getresponse()
    body = r.read()
    if first_sock is None:
        first_sock, first_port = c.sock, c.sock.getsockname()[1]
    if r.status != 200:
        print(f"FAIL request {i + 1} /{name}: HTTP {r.status}"); sys.exit(1)
    if hashlib.sha256(body).hexdigest() != want[name]:
        print(f"FAIL request {i + 1} /{name}: sha256 mismatch ({len(body)} bytes)"); sys.exit(1)
    if (r.getheader("Connection") or "").lower() == "close" or r.will_close:
        print(f"FAIL request {i + 1}: server wants to close the connection"); sys.exit(1)
    if c.sock is not first_sock or c.sock.getsockname()[1] != first_port:
        print(f"FAIL request {i + 1}: client reconnected"); sys.exit(1)
    total += len(body)
dt = time.monotonic() - t0
c.close()
print(f"OK {n} {connects} {first_port} {total} {dt:.3f}")
EOF

out=$(topo_exec cl timeout 40 python3 "$CLIENT" "$VIP" "$TOPO_DIR/www" "$N" 2>&1) ||
  result_fail "client: ${out//$'\n'/ } $(px_log_tail)"
read -r ok n connects lport total secs <<<"$out"
if [ "$ok" != OK ] || [ "$n" != "$N" ]; then result_fail "client: $out"; fi
[ "$connects" = 1 ] || result_fail "client called connect() $connects times, want 1"

px_wait_stat 3 fin -ge 1 || true
px_require_alive "after the keep-alive run"
syns=$(ipt_pkts b1 filter INPUT t-syn)
px_stop

acc=$(px_stat accepted)
spl=$(px_stat spliced)
sock=$(px_stat socket_bytes_read)
b2c=$(px_stat bytes_b2c)
c2b=$(px_stat bytes_c2b)
say "client: $out; backend SYNs $syns; final stats: $(tr '\n' ' ' <"$PX_STATS")"

[ "$acc" = 1 ] || result_fail "proxy accepted $acc connections, want 1"
[ "$spl" = 1 ] || result_fail "proxy spliced $spl connections, want 1"
[ "$syns" = 1 ] || result_fail "backend saw $syns SYNs, want 1"
[ "$(px_stat splice_failed)" = 0 ] || result_fail "splice_failed $(px_stat splice_failed)"
[ "$(px_stat rewrite_errors)" = 0 ] || result_fail "rewrite_errors $(px_stat rewrite_errors)"
[ "$sock" -lt 1024 ] || result_fail "socket_bytes_read $sock: more than the first request head reached the proxy's socket"
[ "$b2c" -ge "$total" ] || result_fail "bytes_b2c $b2c < $total body bytes received"
[ "$c2b" -ge $(((N - 1) * 30)) ] || result_fail "bytes_c2b $c2b: requests 2..$N did not cross the splice"

result_pass "$N requests on 1 connection (client port $lport, 1 connect, backend 1 SYN) in ${secs}s, $total body bytes sha256 ok; proxy: accepted 1, spliced 1, socket read $sock B, splice c2b $c2b B b2c $b2c B"
