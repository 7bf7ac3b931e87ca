#!/usr/bin/env python3
"""Test-bed HTTP server: GET serves files from --root (http.server); PUT and
POST stream the request body and answer with its sha256 (hex) and length.
HTTP/1.1 with keep-alive; handles 'Expect: 100-continue'. With
--delay-ms LO:HI each GET first sleeps a random time between LO and HI ms
(log-uniform, so every decade is as likely): a backend whose latency varies
by HI/LO, for the failure detector's false-failure run."""
import argparse
import hashlib
import functools
import http.server
import math
import random
import time


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

    delay_ms = None

    def do_GET(self):
        if self.delay_ms:
            lo, hi = self.delay_ms
            time.sleep(math.exp(random.uniform(math.log(lo), math.log(hi))) / 1000)
        super().do_GET()


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
    ap.add_argument("--delay-ms", help="LO:HI random delay of each GET")
    a = ap.parse_args()
    if a.delay_ms:
        lo, hi = (float(x) for x in a.delay_ms.split(":"))
        if not 0 < lo <= hi:
            ap.error("--delay-ms wants 0 < LO <= HI")
        Handler.delay_ms = (lo, hi)
    handler = functools.partial(Handler, directory=a.root)
    srv = Server((a.bind, a.port), handler)
    srv.daemon_threads = True
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
