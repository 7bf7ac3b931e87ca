#!/usr/bin/env python3
"""Helper of logger/memory (not a scenario): many keep-alive HTTP connections
held open at once.

  _hold.py serve --bind ADDR --port P
      answers every "GET ... HTTP/1.1" request with a small response
      (body = the request path, 200) and keeps the connection open.
  _hold.py open --to ADDR --port P --conns N --hold-file F [--timeout S]
      opens N connections, sends one GET /cN on each, checks each
      response byte for byte, prints "open N ok" once all are answered,
      then holds them until F exists (or the timeout), closes them all
      and prints "closed N"; exit 1 on any error or a short count."""
import argparse
import asyncio
import os
import resource
import sys
import time


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, n)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))


async def serve(a):
    async def conn(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1]
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(path), path))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, IndexError):
            writer.close()

    srv = await asyncio.start_server(conn, a.bind, a.port, backlog=4096)
    async with srv:
        await srv.serve_forever()


async def open_all(a):
    deadline = time.monotonic() + a.timeout
    sem = asyncio.Semaphore(256)  # handshakes in flight at once

    async def one(i):
        async with sem:
            r, w = await asyncio.open_connection(a.to, a.port)
            path = b"/c%d" % i
            w.write(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            await w.drain()
            head = await r.readuntil(b"\r\n\r\n")
            n = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            body = await r.readexactly(n)
            if not head.startswith(b"HTTP/1.1 200 ") or body != path:
                raise RuntimeError("connection %d: wrong response %r %r" % (i, head, body))
            return w

    writers = await asyncio.gather(*(one(i) for i in range(a.conns)))
    print("open %d ok" % len(writers), flush=True)
    while not os.path.exists(a.hold_file) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    for w in writers:
        w.close()
    print("closed %d" % len(writers), flush=True)
    return len(writers) == a.conns


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["serve", "open"])
    ap.add_argument("--bind")
    ap.add_argument("--to")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--hold-file")
    ap.add_argument("--timeout", type=float, default=120)
    a = ap.parse_args()
    raise_nofile(a.conns + 1024)
    if a.mode == "serve":
        asyncio.run(serve(a))
        return 0
    return 0 if asyncio.run(open_all(a)) else 1


if __name__ == "__main__":
    sys.exit(main())
