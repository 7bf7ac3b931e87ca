#!/usr/bin/env python3
"""Opens N idle TCP connections to HOST:PORT and holds them.

Non-blocking connects, at most --window in flight; once every connection
is established (or --timeout passes) it writes the number established to
--ready-file and holds them, sending nothing, until --stop-file appears (or
--hold seconds pass). Before closing it checks how many are still
established (a peer reset would show as readable with EOF/error).
Prints "established=E held=H failed=F". Exit 0 when E == H == N.
"""
import argparse
import errno
import os
import resource
import selectors
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("--window", type=int, default=500)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--ready-file", required=True)
    ap.add_argument("--stop-file", required=True)
    ap.add_argument("--hold", type=float, default=120)
    a = ap.parse_args()
    want = a.n + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))

    sel = selectors.DefaultSelector()
    done, failed, started = [], 0, 0
    deadline = time.time() + a.timeout
    pending = 0
    while (started < a.n or pending) and time.time() < deadline:
        while started < a.n and pending < a.window:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            rc = s.connect_ex((a.host, a.port))
            started += 1
            if rc in (0, errno.EINPROGRESS):
                sel.register(s, selectors.EVENT_WRITE)
                pending += 1
            else:
                failed += 1
                s.close()
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            sel.unregister(s)
            pending -= 1
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                done.append(s)
            else:
                failed += 1
                s.close()
    for key in list(sel.get_map().values()):
        key.fileobj.close()
        failed += 1
    sel.close()
    with open(a.ready_file + ".tmp", "w") as f:
        f.write("%d\n" % len(done))
    os.rename(a.ready_file + ".tmp", a.ready_file)

    end = time.time() + a.hold
    while not os.path.exists(a.stop_file) and time.time() < end:
        time.sleep(0.05)
    # Still established? A reset or FIN makes the socket readable.
    rsel = selectors.DefaultSelector()
    for s in done:
        rsel.register(s, selectors.EVENT_READ)
    broken = len({k.fileobj for k, _ in rsel.select(timeout=0)}) if done else 0
    rsel.close()
    held = len(done) - broken
    for s in done:
        s.close()
    print("established=%d held=%d failed=%d" % (len(done), held, failed))
    return 0 if len(done) == a.n and held == a.n else 1


if __name__ == "__main__":
    sys.exit(main())
