"""The signaling admin API against a caller without the token and against malformed requests:
no admin-token means no /admin/ at all (404); no or a wrong bearer token is 401 and counted,
whatever its length or spelling, and logged as the relay's security line that
docker/fail2ban/iceway.conf matches (checked with fail2ban-regex); the public listener never serves /admin/, even with the
token; unknown paths, bad names (too long, not the name alphabet, not UTF-8, NUL), oversized
URLs, bad ?limit= and ?cursor= and wrong methods get a clean 4xx; the server keeps answering
and exits clean (the sanitizer build checks it)."""
import http.client
import os
import re
import shutil
import socket
import subprocess
import tempfile

import sigtest  # first: it picks the interpreter that has python3-websockets
from sigtest import Server

FILTER = os.path.join(sigtest.SRC, "docker", "fail2ban", "iceway.conf")
TOKEN = "abuse-admin-token-" + os.urandom(8).hex()


def req(port, method, path, token=TOKEN, headers=None, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=sigtest.TIMEOUT)
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = "Bearer " + token
    try:
        c.request(method, path, headers=h, body=body)
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace"), dict(r.getheaders())
    except http.client.RemoteDisconnected:
        return None, "", {}  # lws closes on headers past its buffer (max_http_header_data)
    finally:
        c.close()


def raw(port, data):
    """Send raw bytes; the status code of the answer, or None when the server closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=sigtest.TIMEOUT) as s:
        s.sendall(data)
        got = b""
        try:
            while b"\r\n" not in got:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except OSError:
            pass
    line = got.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) >= 2 and line[1].isdigit() else None


def token_file(text):
    f = tempfile.NamedTemporaryFile("w", prefix="iw-admin-", delete=False)
    f.write(text + "\n")
    f.close()
    return f.name


def no_token_option():
    with Server() as srv:
        for path in ("/admin/status", "/admin/rooms", "/admin/rooms/x"):
            for method in ("GET", "DELETE"):
                st, _, _ = req(srv.metrics_port, method, path)
                assert st == 404, (method, path, st)
    print("ok   without admin-token: /admin/ is 404")


def refused_configs(tf):
    try:
        Server("--admin-token-file", tf, metrics=False)
        raise AssertionError("admin-token without prometheus started")
    except SystemExit as e:
        assert "admin-token" in str(e) and "prometheus" in str(e), e
    short = token_file("short")
    try:
        Server("--admin-token-file", short)
        raise AssertionError("a 5-byte admin token was taken")
    except SystemExit as e:
        assert "admin-token" in str(e), e
        assert "short" not in str(e).split("admin-token", 1)[1].split("\n", 1)[0], e
    finally:
        os.unlink(short)
    print("ok   admin-token without prometheus, or under 16 bytes: refused at start")


def tokens(srv):
    p = srv.metrics_port
    wrong = [None, "", TOKEN[:-1], TOKEN + "x", TOKEN.upper(), "x" * len(TOKEN),
             TOKEN + " " + TOKEN, "\t" + TOKEN, "y" * 900]
    for t in wrong:
        st, body, hdr = req(p, "GET", "/admin/status", token=t)
        assert st == 401, (t, st, body)
        assert hdr.get("www-authenticate", hdr.get("WWW-Authenticate", "")).startswith("Bearer"), hdr
        assert TOKEN not in body
    n401 = 0
    for h in ({"Authorization": "Basic " + TOKEN}, {"Authorization": TOKEN},
              {"Authorization": "Bearer"}, {"Authorization": "Bearer " + "z" * 6000},
              {"X-Authorization": "Bearer " + TOKEN}):
        st, _, _ = req(p, "GET", "/admin/status", token=None, headers=h)
        assert st in (401, 431, 400, None), (h.keys(), st)
        n401 += st == 401
    # a refused DELETE changes nothing
    st, _, _ = req(p, "DELETE", "/admin/rooms/r", token="nope" * 4)
    assert st == 401
    # every 401 counted
    assert srv.metric("iceway_signal_admin_auth_failures_total") == len(wrong) + n401 + 1
    # the scheme is case-insensitive (RFC 7235 §2.1), the token is not
    st, _, _ = req(p, "GET", "/admin/status", token=None, headers={"Authorization": "bearer " + TOKEN})
    assert st == 200, st
    text = srv.text()
    assert TOKEN not in text
    lines = re.findall(r'WARN iceway-signal: auth failure from 127\.0\.0\.1:\d+ transport=http '
                       r'method=admin reason="(no|wrong) bearer token"', text)
    assert "no" in lines and "wrong" in lines, text[-3000:]
    # the relay's fail2ban filter bans a token guesser too
    if shutil.which("fail2ban-regex"):
        r = subprocess.run(["fail2ban-regex", "-o", "ip", srv.log.name, FILTER],
                           capture_output=True, timeout=60)
        hosts = [ln.strip() for ln in r.stdout.decode().splitlines() if ln.strip()]
        assert r.returncode == 0 and hosts and set(hosts) == {"127.0.0.1"}, (r.returncode, hosts)
        assert len(hosts) == len(lines), (len(hosts), len(lines))
    print("ok   no, wrong, cut, longer, other-scheme tokens: 401, counted, never logged; "
          "fail2ban-regex matches the log lines")


def public_listener(srv):
    for method in ("GET", "DELETE", "HEAD"):
        for path in ("/admin/status", "/admin/rooms", "/admin/rooms/r", "/admin/",
                     "/admin/rooms/r/peers/p"):
            st, body, _ = req(srv.port, method, path)
            assert 400 <= st < 500 and st != 401, (method, path, st)
            assert '"version"' not in body and '"rooms"' not in body, body[:200]
    print("ok   the public listener never serves /admin/, even with the token")


def malformed(srv):
    p = srv.metrics_port
    paths = {
        "/admin": 404, "/admin/": 404, "/admin/nope": 404, "/admin/status/x": 404,
        "/admin/rooms/": 400, "/admin/rooms/r/x": 404, "/admin/rooms/r/peers": 404,
        "/admin/rooms/r/peers/": 400, "/admin/rooms/r/peers/p/x": 404,
        "/admin/rooms/" + "a" * 65: 400, "/admin/rooms/" + "a" * 64: 404,
        "/admin/rooms/r/peers/" + "b" * 65: 400, "/admin/rooms/%C3%A9t%C3%A9": 400,
        "/admin/rooms/%FF%FE": 400, "/admin/rooms/a%20b": 400, "/admin/rooms/a%22b": 400,
        "/admin/rooms/..": 404, "/admin/ROOMS": 404, "/admin/rooms?limit=0": 400,
        "/admin/rooms?limit=1001": 400, "/admin/rooms?limit=abc": 400,
        "/admin/rooms?limit=-1": 400, "/admin/rooms?limit=99999999999999999999": 400,
        "/admin/rooms?cursor=x": 400, "/admin/rooms?cursor=-5": 400,
        "/admin/rooms?cursor=1": 200, "/admin/rooms?limit=1000&cursor=0": 200,
    }
    for path, want in paths.items():
        st, body, _ = req(p, "GET", path)
        assert st == want, (path, st, want, body[:200])
        if st >= 400:
            assert '"error"' in body, (path, body[:200])
    for path in ("/admin/rooms/a%00b", "/admin/rooms/r/peers/%00"):
        st, _, _ = req(p, "GET", path)
        assert st is None or 400 <= st < 500, (path, st)  # lws drops a %00 itself
    # wrong methods: 405 with what the path takes
    for method, path, allow in (("POST", "/admin/status", "GET"), ("PUT", "/admin/rooms", "GET"),
                                ("DELETE", "/admin/status", "GET"),
                                ("DELETE", "/admin/rooms", "GET"),
                                ("PATCH", "/admin/rooms/r", "GET, DELETE"),
                                ("POST", "/admin/rooms/r/peers/p", "GET, DELETE"),
                                ("OPTIONS", "/admin/rooms/r", "GET, DELETE"),
                                ("HEAD", "/admin/status", "GET")):
        st, _, hdr = req(p, method, path, body=b"{}" if method in ("POST", "PUT", "PATCH") else None)
        assert st == 405, (method, path, st)
        assert {k.lower(): v for k, v in hdr.items()}.get("allow") == allow, (method, path, hdr)
    # oversized URLs: a clean 4xx (414 for a path that does not fit, lws's own for headers)
    for n in (600, 3000, 9000):
        st = raw(p, b"GET /admin/rooms/" + b"a" * n + b" HTTP/1.1\r\nHost: x\r\nAuthorization: "
                 b"Bearer " + TOKEN.encode() + b"\r\n\r\n")
        assert st is None or 400 <= st < 500, (n, st)
    st = raw(p, b"GET /admin/rooms?limit=1&" + b"x=y&" * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert st is None or 400 <= st < 500, st
    # not HTTP at all
    for junk in (b"\x00\xff garbage\r\n\r\n", b"DELETE\r\n\r\n", b"DELETE /admin/status\r\n\r\n"):
        st = raw(p, junk)
        assert st is None or 400 <= st < 500, (junk, st)
    # several on one keep-alive connection, then still serving
    c = http.client.HTTPConnection("127.0.0.1", p, timeout=sigtest.TIMEOUT)
    for path in ("/admin/nope", "/admin/status", "/admin/rooms/%FF", "/admin/status"):
        c.request("GET", path, headers={"Authorization": "Bearer " + TOKEN})
        r = c.getresponse()
        r.read()
    assert r.status == 200
    c.close()
    st, _, _ = req(p, "GET", "/admin/status")
    assert st == 200
    assert srv.metrics_get()[0] == 200
    print("ok   unknown paths 404, bad names and arguments 400, wrong methods 405, long URLs 4xx")


def main():
    tf = token_file(TOKEN)
    try:
        no_token_option()
        refused_configs(tf)
        with Server("--admin-token-file", tf) as srv:
            tokens(srv)
            public_listener(srv)
            malformed(srv)
    finally:
        os.unlink(tf)
    print("PASS")


if __name__ == "__main__":
    main()
