#!/usr/bin/env bash
# splice/bad_input: first requests the proxy must refuse, and a client that
# resets a spliced connection.  Config: max_head = 4096, request_timeout =
# 1s, [splice] linger = 1s.
#   (a) a TLS ClientHello          -> HTTP 400, connection closed (FIN), head_garbage
#   (b) binary junk                -> HTTP 400, closed, head_garbage
#   (c) an 8 KiB request head      -> HTTP 431, closed, head_too_large
#   (d) a head that never ends     -> HTTP 408 after ~1 s, closed, head_timeout
#   (e) a client that reads 4 MiB of a spliced 20 MiB GET and then closes
#       with SO_LINGER 0 (RST)     -> rst and splice_closed_rst count it, the
#       backend's connection is reset too, and splice_entries is back to 0
#       after the linger time
# None of (a)-(d) is spliced or reaches a backend; after all of them the
# daemon still runs and a normal 20 MiB GET is byte-exact.
# shellcheck source=tests/e2e/splice/_lib.sh
source "$(dirname "$0")/_lib.sh"
test_begin

PX_PROXY_EXTRA=$'max_head = 4096\nrequest_timeout = 1s'
PX_SPLICE_EXTRA='linger = 1s'
px_setup

CLIENT=$TOPO_DIR/bad_client.py
cat >"$CLIENT" <<'EOF'
# bad_client.py HOST MODE: one connection to HOST:80; prints
# "STATUS CLOSE SECONDS BYTES" (CLOSE: eof, rst or timeout).
import os, socket, ssl, struct, sys, time
host, mode = sys.argv[1], sys.argv[2]
s = socket.socket()
if mode == "rst":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 * 1024)
s.settimeout(6)
s.connect((host, 80))
if mode == "tls":
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inc, out, server_hostname="example.org")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    payload = out.read()
    assert payload[:1] == b"\x16", "not a TLS handshake record"
elif mode == "junk":
    payload = b"\x00\xff\x13\x37" + os.urandom(508) + b"\r\n\r\n"
elif mode == "big":
    payload = b"GET /1k HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 8192 + b"\r\n\r\n"
elif mode == "partial":
    payload = b"GET /1k HTTP/1.1\r\nHost: x\r\n"
elif mode == "rst":
    payload = b"GET /20M HTTP/1.1\r\nHost: x\r\n\r\n"
else:
    sys.exit(f"unknown mode {mode}")
t0 = time.monotonic()
s.sendall(payload)
data = bytearray()
close = "timeout"
if mode == "rst":
    while len(data) < 4 * 1024 * 1024:
        chunk = s.recv(65536)
        if not chunk:
            close = "eof"
            break
        data += chunk
    status = bytes(data[:64]).split(b"\r\n", 1)[0].split(b" ")[1].decode() if data else "-"
    if close != "eof":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        close = "sent-rst"
    s.close()
    print(status, close, f"{time.monotonic() - t0:.3f}", len(data))
    sys.exit(0)
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            close = "eof"
            break
        data += chunk
except ConnectionResetError:
    close = "rst"
except socket.timeout:
    close = "timeout"
dt = time.monotonic() - t0
line = bytes(data).split(b"\r\n", 1)[0].split(b" ")
status = line[1].decode() if len(line) > 1 and line[0].startswith(b"HTTP/") else "-"
print(status, close, f"{dt:.3f}", len(data))
EOF

# refuse MODE WANT_STATUS COUNTER: one bad first request; the answer must be
# WANT_STATUS followed by a clean close, and COUNTER must grow by one.
# Sets SECS (time to the answer).
refuse() {
  local mode=$1 want=$2 counter=$3 before out status close bytes
  before=$(px_stat "$counter")
  out=$(topo_exec cl timeout 15 python3 "$CLIENT" "$VIP" "$mode" 2>&1) ||
    result_fail "($mode) client failed: ${out//$'\n'/ }"
  read -r status close SECS bytes <<<"$out"
  say "$mode: HTTP $status, $close after ${SECS}s, $bytes bytes"
  [ "$status" = "$want" ] || result_fail "($mode) got HTTP $status ($close after ${SECS}s, $bytes bytes), want $want"
  [ "$close" = eof ] || result_fail "($mode) HTTP $status but then $close instead of a clean close"
  px_wait_stat 3 "$counter" -ge $((before + 1)) ||
    result_fail "($mode) $counter stayed at $(px_stat "$counter")"
  px_require_alive "after ($mode)"
}

refuse tls 400 head_garbage
refuse junk 400 head_garbage
refuse big 431 head_too_large
refuse partial 408 head_timeout
T408=$SECS
if ! fge "$T408" 0.9 || fge "$T408" 3; then
  result_fail "(partial) 408 after ${T408}s, want ~1 s (request_timeout = 1s)"
fi

# nothing so far may have reached a backend
[ "$(px_stat spliced)" = 0 ] || result_fail "a refused request was spliced (spliced $(px_stat spliced))"
[ "$(px_stat splice_entries)" = 0 ] || result_fail "splice_entries $(px_stat splice_entries) after refused requests"

# --- (e) client RST in the middle of a spliced transfer ------------------------
IVIP=$(topo_addr ivip)
backend_conns() { topo_exec b1 ss -HtnO state established "dst $IVIP" 2>/dev/null | grep -c . || true; }
# shellcheck disable=SC2317 # called through wait_for
no_backend_conns() { [ "$(backend_conns)" = 0 ]; }
rst_before=$(px_stat splice_closed_rst)
out=$(topo_exec cl timeout 20 python3 "$CLIENT" "$VIP" rst 2>&1) || result_fail "(rst) client failed: ${out//$'\n'/ }"
read -r status close secs bytes <<<"$out"
say "rst: HTTP $status, $close after ${secs}s, $bytes bytes read"
[ "$status" = 200 ] || result_fail "(rst) GET /20M answered HTTP $status"
[ "$close" = sent-rst ] || result_fail "(rst) the transfer ended ($close) before the client could reset it"
T_RST=$(now_ms)
px_wait_stat 3 splice_closed_rst -ge $((rst_before + 1)) ||
  result_fail "(rst) splice_closed_rst stayed at $(px_stat splice_closed_rst) (rst $(px_stat rst)): $(px_log_tail)"
wait_for 3 no_backend_conns ||
  result_fail "(rst) the backend still has $(backend_conns) established connection(s) to IVIP: the RST did not cross the splice"
wait_for 5 px_stat_cmp splice_entries -eq 0 ||
  result_fail "(rst) splice_entries is $(px_stat splice_entries) (lingering $(px_stat splice_lingering)) $(($(now_ms) - T_RST)) ms after the RST (linger = 1s)"
T_CLEAN=$(($(now_ms) - T_RST))
px_require_alive "after the client RST"

# --- the daemon still serves ------------------------------------------------------
px_get 20M
px_wait_stat 3 spliced -ge 2 || true
px_stop
say "final stats: $(tr '\n' ' ' <"$PX_STATS")"

acc=$(px_stat accepted)
spl=$(px_stat spliced)
garb=$(px_stat head_garbage)
big=$(px_stat head_too_large)
tmo=$(px_stat head_timeout)
rst=$(px_stat splice_closed_rst)
[ "$acc" = 6 ] || result_fail "accepted $acc connections, want 6"
[ "$spl" = 2 ] || result_fail "spliced $spl connections, want 2 (the reset one and the final GET)"
[ "$garb" = 2 ] || result_fail "head_garbage $garb, want 2"
[ "$big" = 1 ] || result_fail "head_too_large $big, want 1"
[ "$tmo" = 1 ] || result_fail "head_timeout $tmo, want 1"
[ "$(px_stat rewrite_errors)" = 0 ] || result_fail "rewrite_errors $(px_stat rewrite_errors)"

result_pass "TLS hello and junk -> 400 + FIN (head_garbage 2), 8 KiB head -> 431 (head_too_large 1), unfinished head -> 408 after ${T408}s (head_timeout 1); client RST after $((bytes / MiB)) MiB -> splice_closed_rst $rst, backend reset, splice_entries 0 after ${T_CLEAN} ms; daemon alive, then GET 20 MiB ${GET_MBPS} MB/s sha256 ok; accepted 6, spliced 2, SIGTERM exit 0"
