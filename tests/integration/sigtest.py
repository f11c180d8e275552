"""Shared helpers for the iceway-signal integration tests: start the real binary on an
ephemeral loopback port, talk to it with python3-websockets, and clean up by PID."""
import os
import sys

try:
    import websockets  # noqa: F401
    import wsproto  # noqa: F401
except ImportError:
    # Debian's python3-websockets/wsproto live in the system interpreter; a PATH python3
    # (pyenv, venv) may not see them.
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != \
            os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

import asyncio
import json
import re
import signal
import subprocess
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ports  # noqa: E402

import websockets

SRC = os.environ.get("IW_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
SIGNAL = os.environ.get("IW_SIGNAL", os.path.join(SRC, "build", "signaling", "iceway-signal"))
RELAY = os.environ.get("IW_RELAY", os.path.join(SRC, "build", "turn", "iceway-relay"))
TIMEOUT = 10.0  # every wait is bounded by this many seconds


class Server:
    """One iceway-signal process listening on 127.0.0.1 on a port held for the test (ports.py)."""

    def __init__(self, *args, listen=None, web_root=None, env=None, ssl_ctx=None,
                 metrics=True):
        if listen is None:
            listen = "127.0.0.1:%d" % free_port()
        if not os.access(SIGNAL, os.X_OK):
            raise SystemExit("FAIL: iceway-signal binary not found at %s" % SIGNAL)
        self.log = tempfile.NamedTemporaryFile(prefix="iw-signal-", suffix=".log", delete=False)
        cmd = [SIGNAL, "--listen", listen, "--web-root", web_root or os.path.join(SRC, "web"),
               "--log-level", "debug"] + list(args)
        if metrics:  # metrics on a loopback listener of their own, never on `listen`
            cmd += ["--prometheus", "--prometheus-port", str(free_port())]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log,
                                     env=dict(os.environ, **(env or {})))
        self.port = None
        self.metrics_port = None
        self.ssl_ctx = ssl_ctx  # trusts the server's certificate when it serves TLS
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            m = re.search(r"listening on (https?)://(127\.0\.0\.1|\[::1\]):(\d+)/", self.text())
            mm = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", self.text())
            if m and (mm or not metrics):
                self.tls = m.group(1) == "https"
                self.host, self.port = m.group(2), int(m.group(3))
                self.metrics_port = int(mm.group(1)) if mm else None
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        if self.port is None:
            out = self.text()
            self.close()
            raise SystemExit("FAIL: iceway-signal did not start:\n" + out)
        self.url = "%s://%s:%d/ws" % ("wss" if self.tls else "ws", self.host, self.port)
        self.http = "%s://%s:%d" % ("https" if self.tls else "http", self.host, self.port)

    def text(self):
        with open(self.log.name, "r", errors="replace") as f:
            return f.read()

    def get(self, path, headers=None):
        req = urllib.request.Request(self.http + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT, context=self.ssl_ctx) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metrics_get(self, path="/metrics"):
        """GET from the metrics listener (plain HTTP on 127.0.0.1)."""
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.metrics_port, path),
                                        timeout=TIMEOUT) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metric(self, name):
        status, body = self.metrics_get()
        assert status == 200
        for line in body.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        raise AssertionError("metric %s not found" % name)

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self, expect_clean=True):
        """SIGTERM and wait; returns the exit code. Fails on sanitizer reports."""
        rc = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                rc = "killed"
        else:
            rc = self.proc.returncode
        out = self.text()
        self.close()
        if expect_clean:
            bad = [l for l in out.splitlines() if "runtime error" in l or "ERROR: AddressSanitizer"
                   in l or "LeakSanitizer" in l]
            assert not bad, "sanitizer report:\n" + out
            assert rc == 0, "iceway-signal exited with %r:\n%s" % (rc, out[-4000:])
        return rc

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        try:
            os.unlink(self.log.name)
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop()
        else:
            sys.stderr.write(self.text()[-4000:])
            self.close()


class Peer:
    """A python3-websockets client with JSON helpers."""

    def __init__(self, ws):
        self.ws = ws
        self.id = None
        self.resume = None
        self.welcome = None

    @classmethod
    async def connect(cls, url, **kw):
        ws = await asyncio.wait_for(websockets.connect(url, max_size=None, **kw), TIMEOUT)
        return cls(ws)

    async def send(self, obj):
        await self.ws.send(obj if isinstance(obj, (str, bytes)) else json.dumps(obj))

    async def recv(self, timeout=TIMEOUT):
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def expect(self, typ, timeout=TIMEOUT):
        m = await self.recv(timeout)
        assert m.get("type") == typ, "expected %s, got %r" % (typ, m)
        return m

    async def expect_error(self, code):
        m = await self.expect("error")
        assert m["code"] == code, "expected error %s, got %r" % (code, m)
        assert isinstance(m.get("message"), str) and m["message"], m
        return m

    async def join(self, room, **extra):
        await self.send(dict(type="join", room=room, **extra))
        w = await self.expect("welcome")
        self.id, self.resume, self.welcome = w["peer"], w["resume"], w
        return w

    async def nothing(self, wait=0.3):
        """Assert that no message arrives within a short window (used after ordered
        traffic has already been observed, so this is a negative check, not a sync)."""
        try:
            m = await asyncio.wait_for(self.ws.recv(), wait)
        except asyncio.TimeoutError:
            return
        raise AssertionError("unexpected message %r" % m)

    async def close(self, code=1000):
        await self.ws.close(code)


class RawWS:
    """A low-level client: wsproto for the handshake and parsing what the server sends,
    hand-built frames for what a well-behaved library would refuse to send."""

    def __init__(self, port, target="/ws", rcvbuf=None, headers=None, src=None, prefix=b""):
        """src: the local address to connect from (127.0.0.2, ...); prefix: bytes sent before
        the HTTP request (a PROXY header)."""
        import socket
        from wsproto import ConnectionType, WSConnection
        from wsproto.events import AcceptConnection, RejectConnection, Request
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if src:
            self.sock.bind((src, 0))
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(("127.0.0.1", port))
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.sock.sendall(prefix + self.ws.send(Request(host="127.0.0.1", target=target,
                                                        extra_headers=headers or [])))
        self.accepted = None
        self.pending = []
        deadline = time.monotonic() + TIMEOUT
        while self.accepted is None and time.monotonic() < deadline:
            data = self.sock.recv(65536)
            if not data:
                self.accepted = False
                break
            self.ws.receive_data(data)
            for ev in self.ws.events():
                if isinstance(ev, AcceptConnection):
                    self.accepted = True
                elif isinstance(ev, RejectConnection):
                    self.accepted = False
                else:
                    self.pending.append(ev)

    @staticmethod
    def frame(opcode, payload, fin=True, length=None):
        """A masked client frame (RFC 6455 §5.2); length overrides the declared length."""
        n = len(payload) if length is None else length
        head = bytes([(0x80 if fin else 0) | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
        key = os.urandom(4)
        return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))

    def send_raw(self, data):
        self.sock.sendall(data)

    def send_text(self, text):
        self.send_raw(self.frame(0x1, text.encode()))

    def events(self, timeout=TIMEOUT, until=None):
        """Collect events until `until(ev)` is true, the peer closes, or the timeout."""
        out = self.pending
        self.pending = []
        if until and any(until(e) for e in out):
            return out
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except (TimeoutError, OSError):
                break
            if not data:
                self.ws.receive_data(None)
                out += list(self.ws.events())
                out.append("eof")
                break
            self.ws.receive_data(data)
            evs = list(self.ws.events())
            out += evs
            if until and any(until(e) for e in evs):
                break
        return out

    def json_messages(self, evs):
        from wsproto.events import TextMessage
        out, buf = [], ""
        for e in evs:
            if isinstance(e, TextMessage):
                buf += e.data
                if e.message_finished:
                    out.append(json.loads(buf))
                    buf = ""
        return out

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def close_code(evs):
    from wsproto.events import CloseConnection
    for e in evs:
        if isinstance(e, CloseConnection):
            return e.code
    return None


NODE_DIR = os.path.join(SRC, "bench", "signal")


def node_modules(probe):
    """bench/signal's npm packages (ws, peer, playwright-core), installed once when `probe`
    (a path under node_modules) is missing; one test installs at a time."""
    import fcntl
    if os.path.exists(os.path.join(NODE_DIR, "node_modules", probe)):
        return
    with open("/tmp/iceway-test-npm.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(os.path.join(NODE_DIR, "node_modules", probe)):
            # playwright-core only drives Debian's Chromium: never download a browser.
            subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
                           cwd=NODE_DIR, check=True, timeout=600,
                           env=dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1"))


def free_port():
    """A TCP port on 127.0.0.1 for a server to bind, held for this test (ports.py)."""
    return ports.reserve(1, ("tcp",))


class Redis:
    """A throw-away redis-server on 127.0.0.1:port, data in directory d, no persistence."""

    def __init__(self, port, d):
        self.port, self.dir = port, d
        self.proc = None
        self.url = "redis://127.0.0.1:%d/0" % port

    def start(self):
        import socket
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--protected-mode", "yes",
             "--enable-debug-command", "local"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            assert self.proc.poll() is None, "redis-server exited"
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


async def wait_for(cond, what, bound=TIMEOUT):
    """Poll cond() every 50 ms until it holds; fail naming what was awaited after bound s."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if cond():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


async def refused(url, **kw):
    """True when the WebSocket handshake to url is refused (the connection is closed if not)."""
    try:
        ws = await asyncio.wait_for(websockets.connect(url, **kw), TIMEOUT)
    except (websockets.InvalidHandshake, ConnectionError, EOFError):
        return True
    await ws.close()
    return False


def run(main):
    """Run an async test main with an overall bound."""
    asyncio.run(asyncio.wait_for(main(), 240))
    print("PASS")


class CutProxy:
    """A TCP proxy on 127.0.0.1 (a port held for the test) to upstream_port that a test can cut and restore,
    to take one instance's link to Redis away while the others keep theirs. cut() closes every
    proxied connection and the listener (new connections are refused, as by a host that is
    gone); restore() listens again on the same port."""

    def __init__(self, upstream_port):
        import threading
        self.upstream = upstream_port
        self.lock = threading.Lock()
        self.conns = []
        self.lsock = None
        self.port = free_port()
        self._listen()

    def _listen(self):
        import socket
        import threading
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        self.port = s.getsockname()[1]
        self.lsock = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def _accept(self, lsock):
        import socket
        import threading
        while True:
            try:
                down, _ = lsock.accept()
            except OSError:
                return  # the listener was closed by cut()
            try:
                up = socket.create_connection(("127.0.0.1", self.upstream), timeout=TIMEOUT)
                up.settimeout(None)
            except OSError:
                down.close()
                continue
            with self.lock:
                if self.lsock is not lsock:
                    down.close()
                    up.close()
                    continue
                self.conns += [down, up]
            for a, b in ((down, up), (up, down)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        import socket
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        import socket
        with self.lock:
            lsock, self.lsock = self.lsock, None
            conns, self.conns = self.conns, []
        lsock.close()
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def restore(self):
        with self.lock:
            assert self.lsock is None, "not cut"
        self._listen()

    def close(self):
        if self.lsock is not None:
            self.cut()
