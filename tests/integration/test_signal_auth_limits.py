"""Access tokens (HS256 JWT from the Authorization header or access_token), the Origin
allow-list, connection/rate/abuse limits, and config-file errors that name file and line."""
import asyncio
import base64
import hashlib
import hmac
import json
import os
import subprocess
import tempfile
import time

import sigtest  # first: it picks the interpreter that has python3-websockets
from sigtest import Peer, Server

import websockets

SECRET = "jwt-secret-for-tests-0123456789"


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt(claims, secret=SECRET, alg="HS256"):
    head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), (head + "." + body).encode(), hashlib.sha256).digest()
    return head + "." + body + "." + b64(sig)


async def auth():
    with Server("--jwt-secret", SECRET, "--allowed-origin", "http://good.example",
                "--static-auth-secret", "relay-secret", "--turn-uri",
                "turn:127.0.0.1:3478") as srv:
        good = {"Origin": "http://good.example"}
        ok = jwt({"room": "vip", "peer": "ann", "exp": int(time.time()) + 60})
        assert await sigtest.refused(srv.url, extra_headers=good)  # no token
        assert await sigtest.refused(srv.url + "?access_token=" + jwt({"room": "vip"}, "wrong-secret"),
                             extra_headers=good)
        assert await sigtest.refused(srv.url + "?access_token=" +
                             jwt({"room": "vip", "exp": int(time.time()) - 120}),
                             extra_headers=good)  # expired, past the 30 s leeway
        assert await sigtest.refused(srv.url + "?access_token=" + jwt({"room": "vip"}, alg="none"),
                             extra_headers=good)
        assert await sigtest.refused(srv.url + "?access_token=" + ok,
                             extra_headers={"Origin": "http://evil.example"})
        assert await sigtest.refused(srv.url + "?access_token=" + ok)  # no Origin at all
        # a good token in the header: the token's peer id is the one granted
        p = await Peer.connect(srv.url, extra_headers=dict(good, Authorization="Bearer " + ok))
        w = await p.join("vip")
        assert w["peer"] == "ann"
        # a good token in the query, for another room than the one asked
        q = await Peer.connect(srv.url + "?access_token=" +
                               jwt({"room": "vip", "exp": int(time.time()) + 60}),
                               extra_headers=good)
        await q.send({"type": "join", "room": "other"})
        await q.expect_error("unauthorized")
        await q.join("vip")
        await p.expect("peer-joined")
        assert srv.metric('iceway_signal_connections_rejected_total{reason="auth"}') >= 4
        assert srv.metric('iceway_signal_connections_rejected_total{reason="origin"}') >= 2
        # /api/turn wants a token too when a jwt secret is set
        assert srv.get("/api/turn?service=turn&username=x")[0] == 401
        # ... and mints credentials for the token's peer only (test_signal_api_turn)
        st, body = srv.get("/api/turn?service=turn&username=ann",
                           {"Authorization": "Bearer " + ok})
        assert st == 200 and json.loads(body)["username"].endswith(":ann")
        await p.close()
        await q.close()


async def limits():
    with Server("--max-connections", "3", "--max-message-rate", "5", "--max-message-burst",
                "5", "--max-errors", "5") as srv:
        peers = [await Peer.connect(srv.url) for _ in range(3)]
        assert await sigtest.refused(srv.url)  # the fourth connection
        assert srv.metric('iceway_signal_connections_rejected_total{reason="limit"}') == 1
        # rate limit: a burst of 5 passes, the 6th within the same instant does not
        a = peers[0]
        for i in range(6):
            await a.send({"type": "ping", "id": i})
        got = [await a.recv() for _ in range(6)]
        assert [m["type"] for m in got[:5]] == ["pong"] * 5, got
        assert got[5]["type"] == "error" and got[5]["code"] == "rate-limited", got
        # sustained abuse: the connection is closed with 1008 and a reason
        b = peers[1]
        try:
            for _ in range(20):
                await b.send("garbage")
                await b.recv()
            raise AssertionError("abuser not closed")
        except websockets.ConnectionClosed as e:
            assert e.code == 1008 and "bad messages" in e.reason, e
        assert srv.metric("iceway_signal_closed_abuse_total") == 1
        # once a slot is free, a new connection is accepted
        c = None
        for _ in range(50):
            if srv.metric("iceway_signal_connections") < 3:
                c = await Peer.connect(srv.url)
                break
            await asyncio.sleep(0.05)
        assert c is not None
        for p in (peers[0], peers[2], c):
            await p.close()


def config_errors():
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
        f.write("# signaling\nlisten=127.0.0.1:0\nmax-peers-per-room=lots\n")
        path = f.name
    try:
        r = subprocess.run([sigtest.SIGNAL, "-c", path], capture_output=True, text=True,
                           timeout=sigtest.TIMEOUT)
        assert r.returncode != 0
        assert "%s:3" % path in r.stderr and "max-peers-per-room" in r.stderr, r.stderr
        r = subprocess.run([sigtest.SIGNAL, "--credential-ttl", "-1"], capture_output=True,
                           text=True, timeout=sigtest.TIMEOUT)
        assert r.returncode != 0 and "credential-ttl" in r.stderr, r.stderr
        r = subprocess.run([sigtest.SIGNAL, "--turn-uri", "http://x"], capture_output=True,
                           text=True, timeout=sigtest.TIMEOUT)
        assert r.returncode != 0 and "turn-uri" in r.stderr, r.stderr
        r = subprocess.run([sigtest.SIGNAL, "--help"], capture_output=True, text=True,
                           timeout=sigtest.TIMEOUT)
        assert r.returncode == 0 and "--static-auth-secret" in r.stdout
    finally:
        os.unlink(path)


async def main():
    config_errors()
    await auth()
    await limits()
    # the shipped default config starts and serves the demo page
    conf = os.path.join(sigtest.SRC, "docker", "iceway-signal.conf")
    with Server("-c", conf) as srv:
        st, body = srv.get("/")
        assert st == 200 and "iceway" in body
        p = await Peer.connect(srv.url)
        w = await p.join("demo")
        assert any(u.startswith("turn:") for s in w["iceServers"] for u in s["urls"]), w
        await p.close()


sigtest.run(main)
