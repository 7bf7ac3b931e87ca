#!/usr/bin/env python3
"""Unmodified peer for the transactional network interface tests (group tni)
and the benchmark: plain TCP sockets, nothing transactional about it.

Each connection sends requests "REQ <id> <size> [<rate>]\\n" one after the
other and reads exactly <size> bytes back, which must equal resp_byte(id, k)
for k in 0..size-1 (the same function as tools/txserver/main.c). The bytes
received on each connection are written to OUT_PREFIX.<local port>.bin when asked,
so the test can compare them with a capture.

Prints one JSON object: conns, txns, errors, bytes, elapsed_s, tx_per_s,
avg_ms, min_ms, max_ms, leaked_x (bytes 'X' received: aborted bytes) and the
first error messages. Exit 0 when every response was exact."""
import argparse
import json
import random
import socket
import sys
import threading
import time


def resp_bytes(rid, size, cache):
    """bytes ('a' + (id*131 + k*7 + k//26) % 26) for k in range(size); they
    depend on id only through id*131 % 26, so 26 patterns per size."""
    base = (rid * 131) % 26
    key = (base, size)
    got = cache.get(key)
    if got is None:
        got = bytes(97 + (base + k * 7 + k // 26) % 26 for k in range(size))
        cache[key] = got
    return got


class Result:
    def __init__(self):
        self.lock = threading.Lock()
        self.times = []
        self.errors = []
        self.bytes = 0
        self.leaked = 0
        self.txns = 0


def run_conn(n, args, res, cache):
    rng = random.Random(args.seed * 1000 + n)
    rates = [int(r) for r in args.rates.split(",")] if args.rates else [None]
    rate = rates[n % len(rates)]
    out = None
    try:
        if args.rcvbuf and n % 2 == 0:  # a small window on every other connection
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, args.rcvbuf)
            s.settimeout(args.timeout)
            s.connect((args.host, args.port))
        else:
            s = socket.create_connection((args.host, args.port), timeout=args.timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if args.out_prefix:  # named by the local port, as a capture sees it
            out = open("%s.%d.bin" % (args.out_prefix, s.getsockname()[1]), "wb")
        for i in range(args.txns):
            rid = n * 100000 + i
            if args.size_min is not None:
                size = rng.randint(args.size_min, args.size_max)
            else:
                size = args.size
            line = "REQ %d %d" % (rid, size)
            if rate is not None:
                line += " %d" % rate
            t0 = time.monotonic()
            s.sendall((line + "\n").encode())
            buf = bytearray()
            while len(buf) < size:
                chunk = s.recv(min(1 << 20, size - len(buf)))
                if not chunk:
                    raise IOError("connection closed after %d of %d bytes (req %d)" % (len(buf), size, rid))
                buf += chunk
            dt = time.monotonic() - t0
            if out:
                out.write(buf)
            want = resp_bytes(rid, size, cache)
            with res.lock:
                res.times.append(dt)
                res.bytes += size
                res.txns += 1
                x = buf.count(b"X")
                res.leaked += x
                if buf != want:
                    first = next(k for k in range(size) if buf[k] != want[k])
                    res.errors.append("conn %d req %d: mismatch at byte %d of %d (%d 'X')" % (n, rid, first, size, x))
        s.close()
    except Exception as e:  # noqa: BLE001 - reported, not raised
        with res.lock:
            res.errors.append("conn %d: %s" % (n, e))
    finally:
        if out:
            out.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, default=1)
    ap.add_argument("--txns", type=int, default=10)
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--size-random", default=None, help="MIN:MAX")
    ap.add_argument("--rates", default=None, help="commit rate per connection, cycled")
    ap.add_argument("--out-prefix", default=None)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rcvbuf", type=int, default=0, help="SO_RCVBUF of every other connection")
    args = ap.parse_args()
    args.size_min = args.size_max = None
    if args.size_random:
        a, b = args.size_random.split(":")
        args.size_min, args.size_max = int(a), int(b)
    res = Result()
    cache = {}
    if args.size_min is None:  # outside the timing: the 26 expected patterns
        for b in range(26):
            resp_bytes(b * 3, args.size, cache)
    t0 = time.monotonic()
    threads = [threading.Thread(target=run_conn, args=(n, args, res, cache)) for n in range(args.conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    times = res.times or [0.0]
    print(json.dumps({
        "conns": args.conns,
        "txns": res.txns,
        "errors": len(res.errors),
        "bytes": res.bytes,
        "elapsed_s": round(elapsed, 4),
        "tx_per_s": round(res.txns / elapsed, 3) if elapsed > 0 else 0,
        "avg_ms": round(1000 * sum(times) / len(times), 3),
        "min_ms": round(1000 * min(times), 3),
        "max_ms": round(1000 * max(times), 3),
        "leaked_x": res.leaked,
        "first_errors": res.errors[:5],
    }))
    return 0 if not res.errors and res.txns == args.conns * args.txns else 1


if __name__ == "__main__":
    sys.exit(main())
