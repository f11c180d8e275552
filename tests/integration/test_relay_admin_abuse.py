"""Attacks on the admin API's listener: every malformed, oversized, slow or guessing request
gets a clean 4xx or a close, never a crash, and the API answers normally afterwards.

- malformed session ids, query strings (bad escapes, NUL, repeated or unknown parameters,
  a bad client address, out-of-range seconds), a request-target over 2048 bytes (414), a
  request head over 4096 bytes (431), unknown paths (404), other methods (405 with Allow), a
  body (413), Transfer-Encoding (501), another HTTP version (505), garbage and NUL bytes (400);
- slowloris: a head sent a byte at a time is cut off after 2 s, and the next request is served;
- guessing: past 10 wrong tokens in a row the API answers 429 (Retry-After) without checking
  tokens, for a second; each wrong token is an "auth failure from IP:PORT" line that
  fail2ban's filter (docker/fail2ban/iceway.conf) matches;
- the revoked-user table is bounded: the 1025th user revoked at once gets 507.
"""

import collections
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402
from admintest import Admin  # noqa: E402

FILTER = os.path.join(os.environ.get("IW_SRC", os.path.join(os.path.dirname(__file__), "..", "..")),
                      "docker", "fail2ban", "iceway.conf")


def req(ad, line, headers=(), token=True):
    h = list(headers)
    if token:
        h.append("Authorization: Bearer " + ad.token)
    return (line + "\r\n" + "".join(x + "\r\n" for x in h) + "\r\n").encode()


def malformed(c, ad):
    cases = [
        ("GET /admin/sessions/xyz HTTP/1.1", 400, "a session id that is not hex"),
        ("GET /admin/sessions/00000000000000001 HTTP/1.1", 400, "a 17-digit session id"),
        ("DELETE /admin/sessions/0 HTTP/1.1", 400, "session id 0"),
        ("DELETE /admin/sessions/ HTTP/1.1", 404, "an empty session id"),
        ("GET /admin/sessions/12/34 HTTP/1.1", 400, "a session id with a slash"),
        ("GET /admin/sessions?user= HTTP/1.1", 400, "an empty user"),
        ("GET /admin/sessions?user=%zz HTTP/1.1", 400, "a bad percent escape"),
        ("GET /admin/sessions?user=a%00b HTTP/1.1", 400, "an encoded NUL"),
        ("GET /admin/sessions?user=a%0ab HTTP/1.1", 400, "an encoded newline"),
        ("GET /admin/sessions?user=a&user=b HTTP/1.1", 400, "a repeated parameter"),
        ("GET /admin/sessions?color=red HTTP/1.1", 400, "an unknown parameter"),
        ("GET /admin/sessions?user HTTP/1.1", 400, "a parameter without a value"),
        ("GET /admin/sessions?user=" + "u" * 300 + " HTTP/1.1", 400, "a 300-byte user"),
        ("GET /admin/sessions?client=not-an-ip HTTP/1.1", 400, "a bad client address"),
        ("DELETE /admin/sessions HTTP/1.1", 400, "DELETE of every session without a filter"),
        ("POST /admin/users/bob/revoke HTTP/1.1", 400, "revoke without seconds"),
        ("POST /admin/users/bob/revoke?seconds=0 HTTP/1.1", 400, "revoke for 0 s"),
        ("POST /admin/users/bob/revoke?seconds=2592001 HTTP/1.1", 400, "revoke past 30 days"),
        ("POST /admin/users/bob/revoke?seconds=-5 HTTP/1.1", 400, "revoke for negative seconds"),
        ("POST /admin/users/bob/revoke?seconds=99999999999999999999 HTTP/1.1", 400,
         "revoke for a number that overflows"),
        ("POST /admin/users//revoke?seconds=5 HTTP/1.1", 400, "revoke of an empty user"),
        ("POST /admin/users/bob/unrevoke HTTP/1.1", 404, "an unknown user action"),
        ("GET /admin/status?x=1 HTTP/1.1", 400, "status with a query"),
        ("GET /admin/nope HTTP/1.1", 404, "an unknown admin path"),
        ("GET /admin/ HTTP/1.1", 404, "the admin root"),
        ("GET /admin/../metrics HTTP/1.1", 404, "a dot-dot path"),
        ("PUT /admin/sessions HTTP/1.1", 405, "PUT"),
        ("POST /admin/status HTTP/1.1", 405, "POST on status"),
        ("GET /admin/users/bob/revoke HTTP/1.1", 405, "GET on revoke"),
        ("GET /admin/sessions?" + "a=b&" * 600 + " HTTP/1.1", 414, "a 2400-byte target"),
        ("GET /admin/status HTTP/2.0", 505, "HTTP/2.0"),
        ("GET /admin/status HTTP/1.1 extra", 400, "a fourth request-line field"),
        ("GET http://x/admin/status HTTP/1.1", 400, "an absolute-form target"),
        ("VERYLONGMETHOD /admin/status HTTP/1.1", 501, "an 14-letter method"),
        ("G\x00T /admin/status HTTP/1.1", 400, "a NUL in the method"),
    ]
    for line, want, what in cases:
        st, out = ad.raw(req(ad, line))
        c.check(st == want, "%s: %d" % (what, want), "%d %r" % (st, out[:120]))
    heads = [
        (req(ad, "GET /admin/status HTTP/1.1", ["Content-Length: 10"]) + b"0123456789", 413,
         "a body"),
        (req(ad, "GET /admin/status HTTP/1.1", ["Transfer-Encoding: chunked"]), 501,
         "Transfer-Encoding"),
        (req(ad, "GET /admin/status HTTP/1.1", ["Content-Length: 1x"]), 400, "a bad Content-Length"),
        (req(ad, "GET /admin/status HTTP/1.1", ["Authorization: Bearer a"]), 400,
         "two Authorization headers"),
        (req(ad, "GET /admin/status HTTP/1.1", [" folded: header"]), 400, "a folded header"),
        (req(ad, "GET /admin/status HTTP/1.1", ["Bad Name: x"]), 400, "a space in a header name"),
        (req(ad, "GET /admin/status HTTP/1.1", ["X: a\x01b"]), 400, "a control byte in a value"),
        (req(ad, "GET /admin/status HTTP/1.1", ["X-%d: y" % i for i in range(40)]), 431,
         "40 header lines"),
        (req(ad, "GET /admin/status HTTP/1.1", ["X-Pad: " + "p" * 5000]), 431, "a 5000-byte header"),
        (b"GET /admin/status HTTP/1.1\rX: y\r\n\r\n", 400, "a bare CR"),
        (os.urandom(64).replace(b"\n", b"") + b"\r\n\r\n", 400, "garbage"),
        (b"\x00\x00\x00\r\n\r\n", 400, "NUL bytes"),
    ]
    for data, want, what in heads:
        st, out = ad.raw(data)
        c.check(st == want, "%s: %d" % (what, want), "%d %r" % (st, out[:120]))
    st, out = ad.raw(req(ad, "PUT /admin/sessions HTTP/1.1"))
    c.check(b"\r\nAllow: GET, DELETE\r\n" in out, "405 names the allowed methods", repr(out[:200]))
    st, out = ad.raw(req(ad, "GET /admin/nope HTTP/1.1", token=False))
    c.check(st == 401, "an unknown path without a token: 401, not 404", str(st))
    st, out = ad.raw(b"GET /admin/status HTTP/1.1\r\n")
    c.check(st == 0, "a head that never ends: closed without an answer after the timeout", repr(out))


def slowloris(c, ad):
    s = socket.create_connection(("127.0.0.1", ad.port), timeout=10)
    data = req(ad, "GET /admin/status HTTP/1.1")
    t0 = time.monotonic()
    closed_at = None
    for b in data:
        try:
            s.send(bytes([b]))
        except OSError:
            closed_at = time.monotonic() - t0
            break
        s.settimeout(0.3)
        try:
            if s.recv(4096) == b"":
                closed_at = time.monotonic() - t0
                break
        except socket.timeout:
            pass
        except OSError:
            closed_at = time.monotonic() - t0
            break
        if time.monotonic() - t0 > 8 * t.SLOW:
            break
    s.close()
    c.check(closed_at is not None and closed_at < 4 * t.SLOW,
            "a head sent a byte at a time is cut off within the 2 s read timeout",
            "closed after %s s" % closed_at)
    st, _, b = ad.get("/admin/status")
    c.check(st == 200, "the next request is served", str(st))


def guessing(c, ad):
    codes = [ad.get("/admin/status", token="guess-%02d-xxxxxxxxxxxxxxxx" % i)[0] for i in range(12)]
    c.check(codes[:10] == [401] * 10, "10 wrong tokens in a row: 401", str(codes))
    c.check(codes[10:] == [429, 429], "then 429 while the bucket is empty", str(codes))
    st, h, _ = ad.get("/admin/status")
    c.check(st == 429 and h.get("retry-after") == "1",
            "even the right token waits (no token is checked): 429 Retry-After 1", "%d %s" % (st, h))
    time.sleep(1.2)
    st, _, _ = ad.get("/admin/status")
    c.check(st == 200, "a second later the right token works", str(st))
    c.check(t.metric(ad.port, "iceway_admin_auth_failures_total", reason="throttled") >= 3,
            "throttled requests are counted")
    # Each wrong token is a security log line with the client's address (fail2ban's filter
    # reads it); throttled requests check no token and write none.
    lines = [ln for ln in ad.srv.log_text().splitlines()
             if re.search(r"auth failure from 127\.0\.0\.1:\d+ transport=http method=admin "
                          r"reason=\"wrong bearer token\"", ln)]
    c.check(len(lines) == 10, "10 auth failure lines for the 10 wrong tokens", str(len(lines)))
    c.check("guess-" not in ad.srv.log_text(), "no token guessed is logged")
    if shutil.which("fail2ban-regex"):
        r = subprocess.run(["fail2ban-regex", "-o", "ip", ad.srv.log_path, FILTER],
                           capture_output=True, timeout=60)
        hosts = [ln.strip() for ln in r.stdout.decode().splitlines() if ln.strip()]
        c.check(hosts.count("127.0.0.1") == 10, "fail2ban's filter finds the 10 failures",
                str(collections.Counter(hosts)))
    else:
        c.skip("fail2ban's filter finds the failures", "fail2ban-regex is not installed")


def revoked_bound(c, ad):
    codes = {}
    for i in range(1025):
        st, _, _ = ad.request("POST", "/admin/users/flood-%04d/revoke?seconds=60" % i)
        codes[st] = codes.get(st, 0) + 1
        if st != 200:
            break
    c.check(codes == {200: 1024, 507: 1}, "1024 users revoked, the 1025th: 507", str(codes))
    st, _, b = ad.get("/admin/status")
    c.check(st == 200 and b["revoked_users"] == 1024, "status counts 1024 revoked users", str(b))
    st, _, b = ad.request("POST", "/admin/users/flood-0000/revoke?seconds=60")
    c.check(st == 200, "revoking a user already revoked still works when full", str(st))
    st, _, b = ad.request("DELETE", "/admin/users/flood-0000/revoke")
    c.check(st == 200, "lifting one frees an entry", str(st))
    st, _, b = ad.request("POST", "/admin/users/flood-late/revoke?seconds=60")
    c.check(st == 200, "which the next revocation takes", str(st))
    m = t.Client(ad.srv, user="alice", password="secret").allocate()
    c.check(m is not None and m.cls == t.CLASS_SUCCESS, "a user not revoked still allocates", repr(m))


def body(c):
    ad = Admin(extra=["--relay-threads", "2"]).start()
    malformed(c, ad)
    slowloris(c, ad)
    guessing(c, ad)
    revoked_bound(c, ad)
    st, _, b = ad.get("/admin/status")
    c.check(st == 200, "the admin API still answers", str(st))
    c.check(ad.srv.alive(), "the relay is still running")
    c.check(not ad.srv.sanitizer_report(), "no sanitizer report", "\n".join(ad.srv.sanitizer_report()))


if __name__ == "__main__":
    t.run("relay admin API abuse", body)
