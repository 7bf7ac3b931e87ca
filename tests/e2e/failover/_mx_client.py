"""_mx_client.py HOST PORT SYNC: the fault-injection matrix's client
(tests/e2e/failover/_matrix.sh). One process for many runs (starting
python in a namespace costs a second on a busy host): each line on stdin
is one run, {"raw": 0|1, "nosync": 0|1, "steps": [...]}, answered by one
line on stdout. A run is ONE TCP connection, never a second one: a plain
socket, so a reset or a close ends the run as a failure instead of being
papered over by a reconnect.

Steps:
  {"sync": 1}                 write SYNC.ready, wait for SYNC.go (the test
                              crashes the backend meanwhile); "nosync"
                              (the run without failure) skips every wait
  {"m": "GET", "p": "/10M"}   a request; optional keys:
      "body": FILE            its body (Content-Length), from FILE
      "split": 1              send the head and half the body, wait until
                              the server acknowledged it, sync, then send
                              the rest (an upload cut in the middle)
      "rate": BYTES_PER_S     read the body at this rate; once "at" (fraction,
                              default 0.4) of it is in, sync (the time
                              waiting for go is no gap)
      "cookie": 1             send the session cookie of the last login
Answers "OK GAP_MS TOTAL_MS SHA256 PORT" where GAP_MS is the longest time
the client waited for a byte (request sent -> first byte, or between two
reads), TOTAL_MS the whole run, and SHA256 the digest of every response
(status line and body; with "raw" the head too, the session key replaced
by "SID" since the application derives it from the proxy's port). On a
reset: "RESET BYTES_OF_LAST_BODY EPOCH_MS" (CLOSED for a FIN) and the
partial body in SYNC.got; any other failure: "FAIL why"."""
import fcntl, hashlib, json, os, socket, struct, sys, termios, time

host, port, sync = sys.argv[1], int(sys.argv[2]), sys.argv[3]


class Fail(Exception):
    pass


class Run:
    def __init__(self, cmd):
        self.raw, self.nosync, self.steps = cmd.get("raw"), cmd.get("nosync"), cmd["steps"]
        self.gap = 0.0
        self.body = bytearray()

    def ready(self):
        open(sync + ".ready", "w").close()

    def wait_go(self):
        if self.nosync:
            return
        self.ready()
        deadline = time.monotonic() + 60
        while not os.path.exists(sync + ".go"):
            if time.monotonic() > deadline:
                raise Fail("the test never said go")
            time.sleep(0.005)
        os.remove(sync + ".go")

    def wait_acked(self):
        """Until the peer acknowledged every byte sent: it (and the logger
        on the way) holds them."""
        deadline = time.monotonic() + 10
        while struct.unpack("i", fcntl.ioctl(self.s.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]:
            if time.monotonic() > deadline:
                raise Fail("the first half of the upload was never acknowledged")
            time.sleep(0.002)

    def recv_some(self, n, since):
        """n bytes at most; the wait counts into the gap."""
        d = self.s.recv(n)
        now = time.monotonic()
        self.gap = max(self.gap, now - since)
        if not d:
            raise EOFError("closed by the peer")
        return d, now

    def request(self, st):
        s = self.s
        data = open(st["body"], "rb").read() if "body" in st else None
        head = f"{st['m']} {st['p']} HTTP/1.1\r\nHost: {host}\r\n"
        if data is not None:
            head += f"Content-Length: {len(data)}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        if st.get("cookie") and self.sid:
            head += f"Cookie: sid={self.sid}\r\n"
        req = head.encode() + b"\r\n" + (data or b"")
        if st.get("split"):
            cut = len(head) + 2 + len(data) // 2
            s.sendall(req[:cut])
            self.wait_acked()
            self.wait_go()
            s.sendall(req[cut:])
        else:
            s.sendall(req)
        last = time.monotonic()
        while b"\r\n\r\n" not in self.pend:
            d, last = self.recv_some(65536, last)
            self.pend += d
        h, _, self.pend = self.pend.partition(b"\r\n\r\n")
        lines = h.decode("latin-1").split("\r\n")
        status = lines[0].split()[1]
        clen = 0
        for l in lines[1:]:
            k, _, v = l.partition(":")
            if k.strip().lower() == "content-length":
                clen = int(v)
            elif k.strip().lower() == "set-cookie" and "sid=" in v:
                self.sid = v.split("sid=")[1].split(";")[0]
        body = self.body = bytearray(self.pend[:clen])
        self.pend = self.pend[clen:]
        rate, at, start, sent_ready = st.get("rate"), st.get("at", 0.4), time.monotonic(), False
        while len(body) < clen:
            d, last = self.recv_some(min(65536, clen - len(body)), last)
            body += d
            if rate:
                if not sent_ready and len(body) >= clen * at:
                    # the crash must find the response unfinished however
                    # slowly the test reacts: no reading until it says go
                    t_pause = time.monotonic()
                    self.wait_go()
                    start += time.monotonic() - t_pause
                    last = time.monotonic()
                    sent_ready = True
                ahead = len(body) / rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
                    last = time.monotonic()
        if rate and not sent_ready:
            raise Fail(f"{st['p']} ended before its crash point")
        if not status.startswith("2"):
            raise Fail(f"{st['m']} {st['p']}: HTTP {status} {bytes(body[:80])!r}")
        msg = (h + b"\r\n\r\n" if self.raw else lines[0].encode() + b"\n") + bytes(body)
        if self.sid:
            msg = msg.replace(self.sid.encode(), b"SID")
        self.digest.update(msg)

    def run(self):
        t0 = time.monotonic()
        self.s = s = socket.socket()
        # a small receive buffer: a rate-limited read holds the server
        # back, so a crash at 40% of a body finds most of it unsent
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 131072)
        s.settimeout(30)
        try:
            s.connect((host, port))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            lport = s.getsockname()[1]
            self.digest, self.sid, self.pend = hashlib.sha256(), None, b""
            for st in self.steps:
                if st.get("sync"):
                    self.wait_go()
                else:
                    self.request(st)
            if s.getsockname()[1] != lport:
                return "FAIL the socket changed"
            return f"OK {self.gap * 1000:.0f} {(time.monotonic() - t0) * 1000:.0f} {self.digest.hexdigest()} {lport}"
        except (ConnectionResetError, EOFError) as e:
            open(sync + ".got", "wb").write(self.body)
            kind = "RESET" if isinstance(e, ConnectionResetError) else "CLOSED"
            return f"{kind} {len(self.body)} {time.time_ns() // 1000000}"
        except Fail as e:
            return f"FAIL {e}"
        except Exception as e:
            return f"FAIL {type(e).__name__}: {e}"
        finally:
            s.close()


for line in sys.stdin:
    if line.strip():
        print(Run(json.loads(line)).run(), flush=True)
