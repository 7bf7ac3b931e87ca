#!/usr/bin/env python3
"""HTTP/1.1 server with the framing corner cases the pcap corpus needs and
that nginx, lighttpd and http.server do not produce on demand.  Written on
plain sockets so that every byte and every segment boundary is ours:

  GET  /chunked      chunked response, chunks sent as separate segments
  POST|PUT /echo     body by Content-Length or chunked; "Expect: 100-continue"
                     answered with an interim 100 first; chunked response
                     carrying "sha256 length" of the body
  GET  /close        HTTP/1.1 200 without Content-Length: body ends at FIN
  GET  /close10      the same as an HTTP/1.0 response
  GET  /204          204 No Content
  GET  /etag         200 with an ETag; 304 when If-None-Match matches it
  HEAD any           the GET head (with Content-Length), no body
  GET  /rst          Content-Length 100000, 20000 body bytes, then RST
  GET  /N            (N digits) N bytes of body, Content-Length

Requests are read from one buffer per connection, so pipelined requests are
answered in order.  Threaded; quiet; --bind ADDR --port PORT."""
import argparse
import hashlib
import socket
import socketserver
import struct
import time

ETAG = '"craft-corpus-1"'


def body_of(n):
    return bytes((i * 7 + 13) % 251 for i in range(n))


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError
        self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def exact(self, n):
        while len(self.buf) < n:
            self.fill()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def head(self):
        req = self.line()
        hdrs = {}
        while True:
            ln = self.line()
            if not ln:
                break
            k, _, v = ln.partition(b":")
            hdrs[k.strip().lower().decode()] = v.strip().decode()
        method, target, version = req.decode().split(" ", 2)
        return method, target, version, hdrs

    def body(self, hdrs):
        if hdrs.get("transfer-encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.line().split(b";")[0], 16)
                if size == 0:
                    while self.line():  # trailers
                        pass
                    return out
                out += self.exact(size)
                self.exact(2)
        return self.exact(int(hdrs.get("content-length", "0")))


def send_head(sock, status, reason, headers, version="HTTP/1.1"):
    lines = [f"{version} {status} {reason}", "Server: craft-corpus"] + headers
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())


def send_chunked(sock, parts):
    # one send per chunk, with a pause, so that chunks become segments
    for p in parts:
        sock.sendall(b"%x\r\n%s\r\n" % (len(p), p))
        time.sleep(0.01)
    sock.sendall(b"0\r\n\r\n")


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        s = self.request
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = Conn(s)
        try:
            while self.one(c, s):
                pass
        except (EOFError, ConnectionError):
            pass

    def one(self, c, s):
        method, target, version, hdrs = c.head()
        head_only = method == "HEAD"
        keep = version == "HTTP/1.1" and hdrs.get("connection", "").lower() != "close"
        conn_hdr = [] if keep else ["Connection: close"]
        if method in ("POST", "PUT") and target == "/echo":
            if hdrs.get("expect", "").lower() == "100-continue":
                s.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = c.body(hdrs)
            answer = f"{hashlib.sha256(body).hexdigest()} {len(body)}\n".encode()
            send_head(s, 200, "OK", ["Content-Type: text/plain", "Transfer-Encoding: chunked"] + conn_hdr)
            send_chunked(s, [answer[:20], answer[20:40], answer[40:]])
            return keep
        c.body(hdrs)
        if target == "/chunked":
            send_head(s, 200, "OK", ["Transfer-Encoding: chunked"] + conn_hdr)
            if not head_only:
                data = body_of(5000)
                send_chunked(s, [data[:100], data[100:1600], data[1600:]])
            return keep
        if target in ("/close", "/close10"):
            v = "HTTP/1.0" if target == "/close10" else "HTTP/1.1"
            send_head(s, 200, "OK", ["Content-Type: application/octet-stream", "Connection: close"], v)
            if not head_only:
                data = body_of(3000)
                for i in range(0, len(data), 1000):
                    s.sendall(data[i : i + 1000])
                    time.sleep(0.01)
            s.shutdown(socket.SHUT_WR)
            return False
        if target == "/204":
            send_head(s, 204, "No Content", conn_hdr)
            return keep
        if target == "/etag":
            if hdrs.get("if-none-match") == ETAG:
                send_head(s, 304, "Not Modified", [f"ETag: {ETAG}"] + conn_hdr)
                return keep
            data = body_of(700)
            send_head(s, 200, "OK", [f"ETag: {ETAG}", f"Content-Length: {len(data)}"] + conn_hdr)
            if not head_only:
                s.sendall(data)
            return keep
        if target == "/rst":
            send_head(s, 200, "OK", ["Content-Length: 100000"])
            s.sendall(body_of(20000))
            time.sleep(0.05)
            # linger 0: close() sends RST instead of FIN
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
            return False
        if target[1:].isdigit():
            data = body_of(int(target[1:]))
            send_head(s, 200, "OK", [f"Content-Length: {len(data)}"] + conn_hdr)
            if not head_only:
                s.sendall(data)
            return keep
        msg = b"not found\n"
        send_head(s, 404, "Not Found", [f"Content-Length: {len(msg)}"] + conn_hdr)
        if not head_only:
            s.sendall(msg)
        return keep


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", required=True)
    ap.add_argument("--port", type=int, default=8081)
    a = ap.parse_args()
    with Server((a.bind, a.port), Handler) as srv:
        try:
            srv.serve_forever()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
