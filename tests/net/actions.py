"""actions.py - the paper's two webmail workloads (Table 1 of the CRAFT
paper, RoundCube: Action 1 "connect to the login screen", Action 2 "log in,
draft and send an email, log out") against craft-webmail, the ONE Action
client of the test bed (tests/bench/failover.sh, tests/demo_paper.sh).

  python3 actions.py HOST PORT action1|action2 N new|ka
      N actions, each on a new connection (new) or all on one (ka); prints
      the mean milliseconds per action. Every answer must be 200.

  python3 actions.py serve SYNC
      One process for many runs (starting python in a namespace costs a
      second on a busy host): each stdin line is one run, a JSON object
        {"host", "port", "action", "n",
         "crash": {"at": K, "path": "/static/big", "rate": B/s, "frac": 0.4},
         "nosync": 0|1, "timeout": S, "fallback": [HOST, PORT] | null,
         "out": FILE}
      answered by one stdout line. The run is N actions on ONE keep-alive
      connection; action K (0-based) carries one more request, a GET of
      crash.path read at crash.rate whose reading stops at crash.frac of the
      body until SYNC.go exists (SYNC.ready says it stopped): the test makes
      the backend fail meanwhile, in the middle of that response. In action
      2 it comes after compose, inside the session.
      Without "fallback" (CRAFT, or the run without failure) the connection
      is never reopened: a reset, close or timeout ends the run as FAIL.
      With "fallback" (the traditional architecture the paper compares
      against) a timeout, reset or close makes the client reconnect to
      fallback (and stay there), re-issue the request, and on "401 no
      session" log in again, redo the action's updates before it (compose)
      and re-issue the request again.
      Answers "OK TOTAL_MS GAP_MS CONNECTS RELOGINS REQUESTS" where TOTAL_MS
      is the run's time (minus the wait for SYNC.go: test control, not
      service), GAP_MS the longest time the client waited for a byte (from
      a request sent to its first byte, between two reads, or across a
      reconnect) and CONNECTS how many connections it opened; or
      "FAIL why". FILE gets one line per logical request: "I METHOD PATH
      STATUS SHA256" of the final answer's head and body, with every
      session key the client was given replaced by "SID" (the application
      derives it from the peer's port) - the runs' FILEs must be equal."""
import fcntl
import hashlib
import json
import os
import socket
import struct
import sys
import termios
import time

LOGIN = b"user=alice&password=secret"
COMPOSE = b"to=bob%40example.org&subject=hi&body=lunch"
ACTION1 = ("/", "/static/style.css", "/static/app.js", "/static/logo.svg")


def action_steps(action, crash=None):
    """The requests of one action: (method, path, body-or-callable,
    needs_session, update). A body callable gets the context (draft id)."""
    if action == "action1":
        steps = [("GET", p, None, False, False) for p in ACTION1]
        if crash:
            steps.insert(2, ("GET", crash["path"], None, False, False, crash))
        return steps
    steps = [
        ("POST", "/login", LOGIN, False, True),
        ("POST", "/compose", COMPOSE, True, True),
        ("POST", "/send", lambda ctx: b"id=" + ctx["draft"], True, False),
        ("POST", "/logout", b"", True, False),
    ]
    if crash:
        steps.insert(2, ("GET", crash["path"], None, False, False, crash))
    return steps


class Fail(Exception):
    pass


class Lost(Exception):
    """The connection is gone (reset, close, timeout)."""


class Client:
    def __init__(self, host, port, timeout, sync=None, nosync=True, fallback=None):
        self.host, self.port, self.timeout = host, port, timeout
        self.sync, self.nosync, self.fallback = sync, nosync, fallback
        self.s = None
        self.connects = self.relogins = self.requests = 0
        self.gap = self.paused = 0.0
        self.sids = []
        self.last = None  # the last byte (or request) seen
        self.lost = False  # the connection was lost: the next gap spans it

    def connect(self):
        if self.s:
            self.s.close()
        self.s = socket.socket()
        # a small receive buffer: a rate-limited read holds the server back,
        # so a failure at 40% of a body finds most of it unsent
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 131072)
        self.s.settimeout(self.timeout)
        self.connects += 1
        try:
            self.s.connect((self.host, self.port))
        except OSError as e:
            raise Lost(f"connect {self.host}:{self.port}: {e}")
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pend = b""

    def wait_go(self):
        if self.nosync:
            return
        t = time.monotonic()
        open(self.sync + ".ready", "w").close()
        deadline = t + 60
        while not os.path.exists(self.sync + ".go"):
            if time.monotonic() > deadline:
                raise Fail("the test never said go")
            time.sleep(0.005)
        os.remove(self.sync + ".go")
        self.paused += time.monotonic() - t

    def recv(self, n):
        try:
            d = self.s.recv(n)
        except socket.timeout:
            raise Lost(f"no byte for {self.timeout} s")
        except OSError as e:
            raise Lost(str(e))
        now = time.monotonic()
        if not d:
            raise Lost("closed by the peer")
        self.gap = max(self.gap, now - self.last)
        self.last = now
        return d

    def exchange(self, method, path, body, sid, crash):
        """One request and its answer on the current connection:
        (status, head, body)."""
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
        if body is not None:
            head += f"Content-Length: {len(body)}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        if sid:
            head += f"Cookie: sid={sid}\r\n"
        try:
            self.s.sendall(head.encode() + b"\r\n" + (body or b""))
        except OSError as e:
            raise Lost(str(e))
        self.requests += 1
        # the wait for the answer counts from the request, or after a lost
        # connection from the last byte before it (the failover as the
        # client sees it: its timeout, the reconnect, the request again)
        if not self.lost or self.last is None:
            self.last = time.monotonic()
        self.lost = False
        while b"\r\n\r\n" not in self.pend:
            self.pend += self.recv(65536)
        h, _, self.pend = self.pend.partition(b"\r\n\r\n")
        lines = h.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        clen = 0
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-length":
                clen = int(v)
            elif k.strip().lower() == "set-cookie" and "sid=" in v:
                new = v.split("sid=")[1].split(";")[0]
                if new:
                    self.sids.append(new)
        data = bytearray(self.pend[:clen])
        self.pend = self.pend[clen:]
        rate = crash["rate"] if crash else 0
        start, stopped = time.monotonic(), False
        while len(data) < clen:
            data += self.recv(min(65536, clen - len(data)))
            if rate:
                if not stopped and len(data) >= clen * crash.get("frac", 0.4):
                    # the failure must find the response unfinished however
                    # slowly the test reacts: no reading until it says go
                    t = time.monotonic()
                    self.wait_go()
                    start += time.monotonic() - t
                    self.last = time.monotonic()
                    stopped = True
                ahead = len(data) / rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
                    self.last = time.monotonic()
        return status, h, bytes(data)

    def request(self, method, path, body, sid, crash=None):
        """exchange(), with the traditional client's reconnect on a lost
        connection (fallback only)."""
        for _ in range(3):
            try:
                return self.exchange(method, path, body, sid, crash)
            except Lost as e:
                if not self.fallback:
                    raise Fail(f"{method} {path}: {e} (connects {self.connects})")
                # the traditional client: a new connection to the other
                # server, the same request again (a crash request is not
                # stopped a second time)
                self.lost = True
                self.host, self.port = self.fallback
                self.connect()
                crash = dict(crash, frac=2) if crash else None
        raise Fail(f"{method} {path}: lost three times")


def run(cmd, sync):
    c = Client(cmd["host"], int(cmd["port"]), cmd.get("timeout", 30), sync,
               cmd.get("nosync", 1), cmd.get("fallback"))
    answers = []
    t0 = time.monotonic()
    c.connect()
    crash = cmd.get("crash") or {}
    for k in range(int(cmd["n"])):
        steps = action_steps(cmd["action"], crash if k == crash.get("at", -1) else None)
        ctx = {"sid": None, "draft": b""}
        i = 0
        while i < len(steps):
            method, path, body, session, _update, *big = steps[i]
            b = body(ctx) if callable(body) else body
            status, head, data = c.request(method, path, b, ctx["sid"] if session else None,
                                           big[0] if big else None)
            if status == 401 and session and c.fallback and c.relogins < 3:
                # the session was on the failed server: log in again and
                # redo this action's updates before request i
                c.relogins += 1
                for j in range(i):
                    m2, p2, b2, s2, upd2, *_ = steps[j]
                    if upd2:
                        b2 = b2(ctx) if callable(b2) else b2
                        st2, _, d2 = c.request(m2, p2, b2, ctx["sid"] if s2 else None)
                        if st2 != 200:
                            raise Fail(f"redo {m2} {p2}: HTTP {st2}")
                        learn(ctx, c, p2, d2)
                continue
            if status != 200:
                raise Fail(f"{method} {path}: HTTP {status} {data[:60]!r}")
            learn(ctx, c, path, data)
            answers.append((method, path, status, head + b"\r\n\r\n" + data))
            i += 1
    total = time.monotonic() - t0 - c.paused
    c.s.close()
    if not c.fallback and c.connects != 1:
        raise Fail(f"the client reconnected ({c.connects} connects)")
    if cmd.get("out"):
        with open(cmd["out"], "w") as f:
            for i, (method, path, status, msg) in enumerate(answers):
                for sid in c.sids:
                    msg = msg.replace(sid.encode(), b"SID")
                f.write(f"{i} {method} {path} {status} {hashlib.sha256(msg).hexdigest()}\n")
    return f"OK {total * 1000:.0f} {c.gap * 1000:.0f} {c.connects} {c.relogins} {c.requests}"


def learn(ctx, c, path, data):
    """What later requests of the action need: the session key, the draft."""
    if path == "/login":
        ctx["sid"] = c.sids[-1] if c.sids else None
    elif path == "/compose":
        ctx["draft"] = data.split()[1]


def serve(sync):
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            out = run(json.loads(line), sync)
        except Fail as e:
            out = f"FAIL {e}"
        except Exception as e:  # the test needs a line, whatever happened
            out = f"FAIL {type(e).__name__}: {e}"
        print(out, flush=True)


def mean_ms(host, port, action, n, mode):
    """The bench's overhead measure: mean milliseconds per action, each on
    a new connection (new) or all on one (ka), connect included."""
    c = None
    t0 = time.monotonic()
    for _ in range(n):
        if mode == "new" or c is None:
            c = Client(host, port, 10)
            c.connect()
        ctx = {"sid": None, "draft": b""}
        for method, path, body, session, _ in action_steps(action):
            b = body(ctx) if callable(body) else body
            try:
                status, _, data = c.exchange(method, path, b, ctx["sid"] if session else None, None)
            except Lost as e:
                sys.exit(f"{method} {path}: {e}")
            if status != 200:
                sys.exit(f"{method} {path}: HTTP {status} {data[:60]!r}")
            learn(ctx, c, path, data)
        if mode == "new":
            c.s.close()
    return (time.monotonic() - t0) * 1000 / n


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2])
    else:
        print(f"{mean_ms(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]):.3f}")
