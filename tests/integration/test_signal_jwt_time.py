"""Access-token lifetimes (RFC 7519 §4.1.4-5): with a jwt-secret, a token must carry exp
(unless --jwt-allow-no-exp), exp and nbf are NumericDates that may have a fraction, and both
are checked with a stated leeway (--jwt-leeway, 30 s by default). The WebSocket handshake and
/api/turn apply the same rules."""
import asyncio
import base64
import hashlib
import hmac
import json
import time

import sigtest  # first: it picks the interpreter that has python3-websockets
from sigtest import Server

import websockets

SECRET = "jwt-secret-for-tests-0123456789"


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt(claims, secret=SECRET):
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), (head + "." + body).encode(), hashlib.sha256).digest()
    return head + "." + body + "." + b64(sig)


async def accepted(srv, claims):
    tok = jwt(dict({"room": "r"}, **claims))
    try:
        ws = await asyncio.wait_for(websockets.connect(srv.url + "?access_token=" + tok),
                                    sigtest.TIMEOUT)
    except (websockets.InvalidHandshake, ConnectionError, EOFError):
        ws_ok = False
    else:
        ws_ok = True
        await ws.close()
    st, _ = srv.get("/api/turn?service=turn", {"Authorization": "Bearer " + tok})
    assert st in (200, 401), st
    assert ws_ok == (st == 200), "the WebSocket and /api/turn disagree on %r" % claims
    return ws_ok


async def check(srv, cases):
    bad = []
    for name, claims, want in cases:
        got = await accepted(srv, claims)
        print("%-4s %-46s %s" % ("ok" if got == want else "BAD", name,
                                 "accepted" if got else "refused"))
        if got != want:
            bad.append(name)
    assert not bad, "wrong answers: %s" % bad


async def main():
    now = time.time()
    common = ("--jwt-secret", SECRET, "--static-auth-secret", "relay-secret",
              "--turn-uri", "turn:127.0.0.1:3478")
    with Server(*common) as srv:  # the default leeway, 30 s
        await check(srv, [
            ("no exp", {}, False),
            ("exp in an hour (integer)", {"exp": int(now) + 3600}, True),
            ("exp in an hour (fraction)", {"exp": now + 3600.25}, True),
            ("exp a day ago (integer)", {"exp": int(now) - 86400}, False),
            ("exp a day ago (fraction)", {"exp": now - 86400.5}, False),
            ("exp 120 s ago (fraction)", {"exp": now - 120.5}, False),
            ("exp 5 s ago, inside the leeway", {"exp": int(now) - 5}, True),
            ("exp as a string", {"exp": str(int(now) + 3600)}, False),
            ("exp null", {"exp": None}, False),
            ("nbf in an hour", {"exp": int(now) + 7200, "nbf": int(now) + 3600}, False),
            ("nbf in an hour (fraction)", {"exp": now + 7200, "nbf": now + 3600.5}, False),
            ("nbf 5 s ahead, inside the leeway", {"exp": int(now) + 60, "nbf": int(now) + 5},
             True),
            ("nbf a minute ago", {"exp": int(now) + 60, "nbf": int(now) - 60}, True),
            ("nbf as a string", {"exp": int(now) + 60, "nbf": "0"}, False),
        ])
    with Server(*common, "--jwt-leeway", "0") as srv:
        await check(srv, [
            ("leeway 0: exp 5 s ago", {"exp": int(time.time()) - 5}, False),
            ("leeway 0: nbf 5 s ahead", {"exp": int(time.time()) + 60,
                                         "nbf": int(time.time()) + 5}, False),
        ])
    with Server(*common, "--jwt-allow-no-exp") as srv:
        await check(srv, [
            ("allowed: no exp", {}, True),
            ("allowed: exp still checked", {"exp": time.time() - 86400.5}, False),
            ("allowed: nbf still checked", {"nbf": time.time() + 3600}, False),
        ])


sigtest.run(main)
