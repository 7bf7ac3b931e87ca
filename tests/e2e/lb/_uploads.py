#!/usr/bin/env python3
"""Concurrent HTTP PUT uploads with per-connection timing (the thesis'
"100 clients, each PUTs a file" experiment, 4.8.2/4.8.3).

Each of N workers opens exactly ONE TCP connection (connects are counted:
a reconnect would show), sends "PUT PATH" with Content-Length and the file
(socket.sendfile), and reads the answer of tests/net/httpd.py: "sha256 length".
Per connection it records the connect time and the transfer time (first
byte sent to answer received, connection setup excluded, as in the thesis'
tables). --start-file: every worker waits for this file to appear (a
barrier the caller controls); --ready-file is created once all connected.

Output (stdout): one line per connection
    conn I ok|fail SHA LEN CONNECT_S TRANSFER_S START END [error]
then one summary line
    summary n=N ok=K fail=F connects=C avg=S min=S max=S std=S total=S mbps=M
(times in seconds; total = first start to last end; mbps = N*size*8/total/1e6).
Exit 0 when every upload returned the expected sha256 and length.
"""
import argparse
import hashlib
import os
import socket
import statistics
import sys
import threading
import time


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--path", default="/upload")
    ap.add_argument("--file", required=True)
    ap.add_argument("-n", type=int, default=50)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--start-file")
    ap.add_argument("--ready-file")
    a = ap.parse_args()

    size = os.path.getsize(a.file)
    want = sha256_file(a.file)
    lock = threading.Lock()
    connects = [0]
    connected = threading.Barrier(a.n + 1)
    # tests/net/httpd.py listens with Python's default backlog (5): connect
    # a few at a time so the accept queue never overflows.
    gate = threading.Semaphore(4)
    res = [None] * a.n

    def worker(i):
        r = {"ok": False, "sha": "-", "len": "-", "c": 0.0, "t": 0.0, "s": 0.0, "e": 0.0, "err": ""}
        res[i] = r
        s = None
        try:
            with gate:
                t0 = time.time()
                s = socket.create_connection((a.host, a.port), timeout=a.timeout)
                with lock:
                    connects[0] += 1
                r["c"] = time.time() - t0
                time.sleep(0.002)
        except OSError as e:
            r["err"] = "connect: %s" % e
        try:
            connected.wait(timeout=a.timeout)
        except threading.BrokenBarrierError:
            pass
        if s is None:
            return
        try:
            if a.start_file:
                deadline = time.time() + a.timeout
                while not os.path.exists(a.start_file) and time.time() < deadline:
                    time.sleep(0.01)
            head = ("PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n"
                    "Connection: close\r\n\r\n" % (a.path, a.host, size)).encode()
            r["s"] = time.time()
            s.sendall(head)
            with open(a.file, "rb") as f:
                if s.sendfile(f) != size:
                    raise OSError("sendfile sent less than the file")
            buf = b""
            while True:
                d = s.recv(65536)
                if not d:
                    break
                buf += d
                if b"\r\n\r\n" in buf:
                    hdr, _, body = buf.partition(b"\r\n\r\n")
                    cl = 0
                    for line in hdr.split(b"\r\n")[1:]:
                        k, _, v = line.partition(b":")
                        if k.strip().lower() == b"content-length":
                            cl = int(v.strip())
                    if len(body) >= cl:
                        buf = body[:cl]
                        break
            r["e"] = time.time()
            r["t"] = r["e"] - r["s"]
            words = buf.decode(errors="replace").split()
            if len(words) == 2:
                r["sha"], r["len"] = words
            r["ok"] = r["sha"] == want and r["len"] == str(size)
            if not r["ok"]:
                r["err"] = "answer %r" % buf[:100]
        except OSError as e:
            r["e"] = time.time()
            r["err"] = "transfer: %s" % e
        finally:
            s.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(a.n)]
    for t in threads:
        t.start()
    try:
        connected.wait(timeout=a.timeout)
    except threading.BrokenBarrierError:
        pass
    if a.ready_file:
        open(a.ready_file, "w").close()
    for t in threads:
        t.join(timeout=a.timeout + 5)

    ok = [r for r in res if r and r["ok"]]
    for i, r in enumerate(res):
        if r is None:
            print("conn %d fail - - 0 0 0 0 never ran" % i)
            continue
        print("conn %d %s %s %s %.3f %.3f %.3f %.3f %s" % (
            i, "ok" if r["ok"] else "fail", r["sha"][:16], r["len"], r["c"], r["t"],
            r["s"], r["e"], r["err"]))
    times = [r["t"] for r in ok]
    starts = [r["s"] for r in res if r and r["s"]]
    ends = [r["e"] for r in res if r and r["e"]]
    total = (max(ends) - min(starts)) if starts and ends else 0.0
    mbps = a.n * size * 8 / total / 1e6 if total > 0 else 0.0
    print("summary n=%d ok=%d fail=%d connects=%d avg=%.3f min=%.3f max=%.3f std=%.3f "
          "total=%.3f mbps=%.1f" % (
              a.n, len(ok), a.n - len(ok), connects[0],
              statistics.mean(times) if times else 0, min(times) if times else 0,
              max(times) if times else 0, statistics.pstdev(times) if times else 0,
              total, mbps))
    sys.stdout.flush()
    return 0 if len(ok) == a.n and connects[0] == a.n else 1


if __name__ == "__main__":
    sys.exit(main())
