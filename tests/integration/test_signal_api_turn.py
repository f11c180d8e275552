"""/api/turn (the TURN REST API): with a jwt-secret, credentials are minted for the token's peer
only (another username is refused with 403; no username means the token's peer); a token that
names no peer leaves the username to the caller. HEAD answers like GET without a body, OPTIONS
with 204 and Allow, other methods with 405 and Allow; the keep-alive connection stays usable."""
import base64
import hashlib
import hmac
import http.client
import json
import time

import sigtest
from sigtest import Server

SECRET = "jwt-secret-for-tests-0123456789"


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt(claims):
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(SECRET.encode(), (head + "." + body).encode(), hashlib.sha256).digest()
    return head + "." + body + "." + b64(sig)


def main():
    exp = int(time.time()) + 600
    with Server("--jwt-secret", SECRET, "--static-auth-secret", "relay-secret",
                "--turn-uri", "turn:127.0.0.1:3478") as srv:
        ann = {"Authorization": "Bearer " + jwt({"room": "r", "peer": "ann", "exp": exp})}
        anyone = {"Authorization": "Bearer " + jwt({"room": "r", "exp": exp})}
        st, body = srv.get("/api/turn?service=turn&username=bob", ann)
        assert st == 403, (st, body)
        for q in ("&username=ann", ""):
            st, body = srv.get("/api/turn?service=turn" + q, ann)
            assert st == 200 and json.loads(body)["username"].endswith(":ann"), (q, st, body)
        st, body = srv.get("/api/turn?service=turn&username=bob", anyone)
        assert st == 200 and json.loads(body)["username"].endswith(":bob"), (st, body)
        print("ok   /api/turn binds the username to the token's peer")

        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=sigtest.TIMEOUT)
        path = "/api/turn?service=turn"
        c.request("GET", path, headers=ann)
        r = c.getresponse()
        get_body = r.read()
        assert r.status == 200 and get_body, r.status
        c.request("HEAD", path, headers=ann)
        r = c.getresponse()
        assert r.status == 200, r.status
        assert r.getheader("content-type") == "application/json", r.getheaders()
        assert r.read() == b""
        c.request("OPTIONS", path)
        r = c.getresponse()
        allow = r.getheader("allow") or ""
        assert r.status == 204 and "GET" in allow and "HEAD" in allow, (r.status, r.getheaders())
        r.read()
        c.request("HEAD", "/healthz")
        r = c.getresponse()
        assert r.status == 200 and r.read() == b"", r.status
        # still one usable keep-alive connection
        c.request("GET", "/healthz")
        r = c.getresponse()
        assert r.status == 200 and r.read() == b"ok\n", r.status
        c.close()
        # unauthorized HEAD is still refused
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=sigtest.TIMEOUT)
        c.request("HEAD", path)
        r = c.getresponse()
        assert r.status == 401, r.status
        c.close()
        print("ok   HEAD like GET without a body, OPTIONS 204 with Allow: %s" % allow)
    print("PASS")


if __name__ == "__main__":
    main()
