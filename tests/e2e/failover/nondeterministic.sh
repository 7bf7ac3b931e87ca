#!/usr/bin/env bash
# failover/nondeterministic: unforeseen non-determinism (paper §3.4). A
# small python HTTP/1.1 server on b1 and b2 answers /clock with a 2 MiB body
# whose first line is the server's clock in nanoseconds (the rest is fixed);
# no tag rule names /clock, so the logger treats it as the conservative
# default. The client reads /clock slowly on one connection through the
# proxy; at 40% b1's link goes down. Recovery replays the request to b2,
# whose first bytes differ from the p bytes the client already holds: the
# client must get an RST at once (never a hang, never a body mixing two
# responses), and the proxy records the event. Asserts:
#   - the client's read ends with a connection reset, not a complete body,
#     and every byte it did receive is b1's (the prefix it saw);
#   - recovery_nondeterministic = 1, recovery_recovered = 0;
#   - a failover_events row "nondeterministic" b1 -> b2 whose detail names
#     the first differing byte.
# Prints the time from the link going down to the reset.
# shellcheck source=tests/e2e/failover/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin

FO_PORT=8080
FO_KEEP=8MiB
# shellcheck disable=SC2317 # called by fo_setup
clock_servers() {
  SERVER=$TOPO_DIR/clock_server.py
  cat >"$SERVER" <<'EOF'
import http.server, sys, time
FILLER = bytes(range(256)) * 8192  # 2 MiB
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_HEAD(self): self.answer(b"", head=True)
    def do_GET(self):
        if self.path == "/clock":
            self.answer(f"time {time.time_ns()}\n".encode() + FILLER)
        else:
            self.answer(b"x" * 1024)
    def answer(self, body, head=False):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)
http.server.ThreadingHTTPServer((sys.argv[1], 8080), H).serve_forever()
EOF
  local r
  for r in b1 b2; do
    topo_start_bg "$r" "$TOPO_DIR/clock-$r.log" python3 "$SERVER" "$(topo_addr "$r")"
    topo_wait_port "$r" "$(topo_addr "$r")" 8080 || result_fail "clock server on $r did not start"
  done
}
# shellcheck disable=SC2034 # read by fo_setup
FO_BEFORE_LOGGER=clock_servers
fo_setup
PROGRESS=$TOPO_DIR/progress
CLIENT=$TOPO_DIR/nd_client.py
cat >"$CLIENT" <<'EOF'
import http.client, socket, sys, time
host, rate, progress, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
c = http.client.HTTPConnection(host, 80, timeout=30)
c.connect()
c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
c.request("GET", "/clock")
r = c.getresponse()
length = int(r.getheader("Content-Length"))
got, start, last = bytearray(), time.monotonic(), time.monotonic()
try:
    while True:
        b = r.read1(16384)
        if not b:
            break
        got += b
        last = time.monotonic()
        with open(progress, "w") as f:
            f.write(f"{len(got)}\n")
        ahead = len(got) / rate - (last - start)
        if ahead > 0:
            time.sleep(ahead)
except ConnectionResetError:
    open(out, "wb").write(got)
    print(f"RESET {len(got)} {length} {time.time_ns() // 1000000}")
    sys.exit(0)
except Exception as e:
    print(f"FAIL {type(e).__name__}: {e} after {len(got)} of {length} bytes"); sys.exit(1)
print(f"FAIL the body completed ({len(got)} of {length} bytes) instead of a reset"); sys.exit(1)
EOF

topo_exec cl timeout 40 python3 "$CLIENT" "$VIP" 1000000 "$PROGRESS" "$TOPO_DIR/got" \
  >"$TOPO_DIR/client.out" 2>&1 &
CL_PID=$!
wait_for 20 fo_progress_past "$PROGRESS" 800000 || result_fail "the download did not reach 40%: $(cat "$TOPO_DIR/client.out") $(px_log_tail)"
t_down=$(now_ms)
fo_kill_link b1
rc=0
wait "$CL_PID" || rc=$?
out=$(cat "$TOPO_DIR/client.out")
[ "$rc" = 0 ] || result_fail "client (exit $rc): ${out//$'\n'/ }; proxy: $(px_log_tail 4)"
read -r what got length t_reset <<<"$out"
[ "$what" = RESET ] || result_fail "client: $out"
[ "$got" -lt "$length" ] || result_fail "client got $got of $length bytes before the reset"
# What the client holds is one response: the first line is a clock, the
# rest the fixed filler, never b2's bytes after b1's.
python3 - "$TOPO_DIR/got" <<'EOF' || result_fail "the bytes the client received are not one consistent response"
import sys
b = open(sys.argv[1], "rb").read()
nl = b.index(b"\n") + 1
assert b[:5] == b"time " and b[5:nl - 1].isdigit()
filler = bytes(range(256)) * 8192
assert b[nl:] == filler[:len(b) - nl], "filler differs"
EOF
px_require_alive "after the failover"
px_wait_stat 3 recovery_nondeterministic -ge 1 || true
rows=$(fo_rows)
say "failover rows: $rows"
px_stop
lg_stop
[ "$(px_stat recovery_nondeterministic)" = 1 ] || result_fail "recovery_nondeterministic $(px_stat recovery_nondeterministic), want 1: $rows"
[ "$(px_stat recovery_recovered)" = 0 ] || result_fail "recovery_recovered $(px_stat recovery_recovered), want 0"
IFS='|' read -r outcome backend alternate t_l p _ _ _ _ _ total_ms detail <<<"$(head -n 1 <<<"$rows")"
[ "$outcome|$backend|$alternate" = "nondeterministic|$B1:8080|$B2:8080" ] || result_fail "failover row: $rows"
[[ $detail == *"differs at byte"* ]] || result_fail "failover detail: $detail"
result_pass "client reset $((t_reset - t_down)) ms after b1's link went down, holding $got of $length bytes of one response; T_L $t_l p $p; detected->reset ${total_ms} ms; $detail"
