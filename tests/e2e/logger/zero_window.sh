#!/usr/bin/env bash
# logger/zero_window: a client that stops reading in the middle of a
# response (its receive window closes) makes a healthy backend silent. The
# logger sees the client's zero window and does not time the backend while
# it lasts (fdet_client_window), so there is no false failure; and the
# pause was really seen (client_window_closed > 0), so the check can fail.
# shellcheck disable=SC2317
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../../lib.sh"
# shellcheck source=tests/e2e/logger/_lib.sh
source "$(dirname "$0")/_lib.sh"
# shellcheck source=tests/e2e/logger/_ctl.sh
source "$(dirname "$0")/_ctl.sh"
test_begin
require_tools python3 iptables sqlite3 sha256sum
require_bin logger ctl
ctl_bed
CONF=$TOPO_DIR/logger.conf
lg_config "$CONF" "$(ctl_detect_conf 2000 300 10 300)"
lg_start "$CONF"
# read 1 MiB of the 20M file, pause 5 s (window closes), read the rest
topo_exec cl python3 - "$B1" "$TOPO_DIR/20M" <<'PY' || result_fail "slow reader failed"
import socket, sys, time
s = socket.create_connection((sys.argv[1], 8000))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.sendall(b"GET /20M HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
got = bytearray()
while len(got) < 1 << 20:
    got += s.recv(65536)
time.sleep(5)
while True:
    b = s.recv(1 << 16)
    if not b:
        break
    got += b
body = got[got.index(b"\r\n\r\n") + 4:]
open(sys.argv[2], "wb").write(body)
PY
sha_eq "$TOPO_DIR/20M" "$(topo_www_file 20M)" || result_fail "download differs"
sleep 1.2
f=$(lg_stat detect_failures)
zw=$(lg_stat log_client_window_closed)
paused=$(lg_stat detect_client_paused)
lg_stop
[ "$f" = 0 ] || result_fail "false failure: a client that paused reading for 5 s made the logger declare its healthy backend failed ($f)"
[ "${zw:-0}" -gt 0 ] && [ "${paused:-0}" -gt 0 ] ||
  result_fail "the pause was not seen: zero windows ${zw:-0}, detector pauses ${paused:-0}"
result_pass "a client pausing 5 s mid-response (zero windows $zw, detector pauses $paused): no false failure, 20M exact"
