#!/usr/bin/env python3
"""Test-bed HTTP server: GET serves files from --root (http.server); PUT and
POST stream the request body and answer with its sha256 (hex) and length.
HTTP/1.1 with keep-alive; handles 'Expect: 100-continue'."""
import argparse
import hashlib
import functools
import http.server


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: no access log
        pass

    def _digest_body(self):
        length = int(self.headers.get("Content-Length", "0"))
        h = hashlib.sha256()
        left = length
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 16))
            if not chunk:
                break
            h.update(chunk)
            left -= len(chunk)
        body = f"{h.hexdigest()} {length - left}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_PUT = _digest_body
    do_POST = _digest_body


class Server(http.server.ThreadingHTTPServer):
    # Dozens of clients connect at once (tests/e2e/lb: 50 uploads through
    # the proxies). With the default backlog of 5 the backend drops the
    # handshake's last ACK; a client's stack would repeat it, but a proxy
    # has spliced the connection by then and the backend answers the first
    # request bytes with a RST.
    request_queue_size = 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", required=True)
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--root", required=True)
    a = ap.parse_args()
    handler = functools.partial(Handler, directory=a.root)
    srv = Server((a.bind, a.port), handler)
    srv.daemon_threads = True
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
