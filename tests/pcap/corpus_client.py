#!/usr/bin/env python3
"""Socket-level HTTP clients for the pcap corpus (tests/pcap/make_corpus.sh):
the request patterns curl and friends do not produce.

  corpus_client.py pipeline HOST PORT PATH...   all requests in one write,
                                                then read every response
  corpus_client.py bytewise HOST PORT PATH...   each request written one byte
                                                per segment (TCP_NODELAY and a
                                                pause between bytes)
  corpus_client.py sequence HOST PORT M:PATH[:HDR=VAL]...  one keep-alive
                                                connection, one request at a
                                                time, any method (HEAD too)

Responses are read with http.client's parser (HEAD-aware), so the client
really waits for each complete response; it prints one "status length" line
per response and exits 1 on a short read."""
import http.client
import socket
import sys
import time


def request_bytes(method, host, path, headers=()):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "User-Agent: craft-corpus-client"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class SharedReader:
    """One buffered reader for every response of a connection: HTTPResponse
    reads through sock.makefile(), and a reader per response would swallow
    the pipelined responses behind its own; close() is left to the socket."""

    def __init__(self, sock):
        self.f = sock.makefile("rb")

    def makefile(self, *args, **kwargs):
        return self

    def __getattr__(self, name):
        return getattr(self.f, name)

    def close(self):
        pass


def read_responses(rd, methods):
    for m in methods:
        r = http.client.HTTPResponse(rd, method=m)
        r.begin()
        data = r.read()
        print(r.status, len(data))


def connect(host, port):
    s = socket.create_connection((host, int(port)), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def pipeline(host, port, paths):
    s = connect(host, port)
    s.sendall(b"".join(request_bytes("GET", host, p) for p in paths))
    read_responses(SharedReader(s), ["GET"] * len(paths))
    s.close()


def bytewise(host, port, paths):
    s = connect(host, port)
    rd = SharedReader(s)
    for p in paths:
        for b in request_bytes("GET", host, p):
            s.send(bytes([b]))
            time.sleep(0.003)  # longer than the sender's ACK turnaround: one byte per segment
        read_responses(rd, ["GET"])
    s.close()


def sequence(host, port, specs):
    s = connect(host, port)
    rd = SharedReader(s)
    for spec in specs:
        method, path, *hdrs = spec.split(":")
        headers = [tuple(h.split("=", 1)) for h in hdrs]
        s.sendall(request_bytes(method, host, path, headers))
        read_responses(rd, [method])
    s.close()


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    mode, host, port, rest = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    try:
        {"pipeline": pipeline, "bytewise": bytewise, "sequence": sequence}[mode](host, port, rest)
    except (OSError, http.client.HTTPException) as e:
        sys.exit(f"corpus_client {mode}: {e!r}")


if __name__ == "__main__":
    main()
