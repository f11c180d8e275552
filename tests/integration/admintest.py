"""Shared pieces of the admin API tests: a relay with admin-token on its metrics listener, and
requests to it (http.client for well-formed ones, a raw socket for the rest). Standard
library only."""

import http.client
import json
import os
import secrets
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402


class Admin:
    """A relay started with --prometheus and --admin-token-file, and its admin API."""

    def __init__(self, users=(("alice", "secret"), ("bob", "pw"), ("carol", "pw")), extra=(),
                 auth="lt", token=None):
        d = t.tmpdir("iwtest-admin-")
        self.token = token or secrets.token_hex(24)
        self.token_file = os.path.join(d, "admin.token")
        with open(self.token_file, "w") as f:
            f.write(self.token + "\n")
        os.chmod(self.token_file, 0o600)
        self.port = t.free_tcp_port()
        self.srv = t.Server(auth=auth, users=users, extra=[
            "--prometheus", "--prometheus-port", str(self.port),
            "--admin-token-file", self.token_file] + list(extra))

    def start(self):
        self.srv.start()
        deadline = time.monotonic() + 10 * t.SLOW
        while time.monotonic() < deadline:
            try:
                self.request("GET", "/admin/status")
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the admin API did not answer")

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def request(self, method, path, token=True, headers=None, timeout=None):
        """(status, headers dict with lower-case names, parsed JSON or text)."""
        h = dict(headers or {})
        if token is True:
            h["Authorization"] = "Bearer " + self.token
        elif token:
            h["Authorization"] = "Bearer " + token
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout or 10 * t.SLOW)
        try:
            c.request(method, path, headers=h)
            r = c.getresponse()
            body = r.read().decode("utf-8", "replace")
            hdrs = {k.lower(): v for k, v in r.getheaders()}
        finally:
            c.close()
        if hdrs.get("content-type", "").startswith("application/json"):
            body = json.loads(body)
        return r.status, hdrs, body

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def sessions(self, query=""):
        st, _, b = self.get("/admin/sessions" + query)
        if st != 200:
            raise RuntimeError("GET /admin/sessions%s: %d %s" % (query, st, b))
        return b["sessions"]

    def wait_sessions(self, query, pred, timeout=10.0):
        """Poll the listing until pred(sessions) holds; the last listing either way."""
        deadline = time.monotonic() + timeout * t.SLOW
        while True:
            s = self.sessions(query)
            if pred(s) or time.monotonic() > deadline:
                return s
            time.sleep(0.1)

    def raw(self, data, timeout=5.0, read=True):
        """Send bytes as they are; the answer's status (0 when the server closed without one)
        and its bytes."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout * t.SLOW)
        try:
            s.sendall(data)
            out = b""
            while read:
                try:
                    d = s.recv(65536)
                except (socket.timeout, ConnectionResetError):
                    break
                if not d:
                    break
                out += d
        finally:
            s.close()
        st = int(out[9:12]) if out.startswith(b"HTTP/1.1 ") and out[9:12].isdigit() else 0
        return st, out
