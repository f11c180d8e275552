"""Signaling across three iceway-signal instances sharing a real redis-server (started here on
a free loopback port): presence and welcome lists across instances, offers and candidates in
order between peers on different instances, unknown and taken peer ids, a leave, an instance
killed with SIGKILL (its peers leave within the stated bound), and Redis killed and restarted
(local rooms keep working, cross-instance sends get an error, then everything recovers)."""
import asyncio
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import sigtest
from sigtest import Peer, Server

# signaling/cluster.h: IW_CLUSTER_LEAVE_BOUND_MS (liveness TTL 12 s + two 2 s beats) = 16 s.
LEAVE_BOUND = 16.0
SLACK = 3.0  # scheduling slack on a loaded machine; still a functional bound


free_port = sigtest.free_port
Redis = sigtest.Redis


def health(srv):
    return srv.get("/healthz")


async def expect_skip(peer, typ, skip=("peer-joined", "peer-left"), timeout=sigtest.TIMEOUT):
    """The next message of type typ, letting presence through (order across instances of
    presence against other traffic is not part of the contract)."""
    deadline = time.monotonic() + timeout
    while True:
        m = await peer.recv(max(0.05, deadline - time.monotonic()))
        if m["type"] == typ:
            return m
        assert m["type"] in skip, "expected %s, got %r" % (typ, m)


async def scenario(s1, s2, s3, redis):
    for s in (s1, s2, s3):
        await sigtest.wait_for(lambda: health(s) == (200, "ok\nredis: up\n"), "redis up")

    a = await Peer.connect(s1.url)
    b = await Peer.connect(s2.url)
    c = await Peer.connect(s3.url)
    w = await a.join("x", peer="a")
    assert w["peers"] == [], w
    w = await b.join("x", peer="b")
    assert w["peers"] == ["a"], w
    assert (await a.expect("peer-joined"))["peer"] == "b"
    w = await c.join("x", peer="c")
    assert sorted(w["peers"]) == ["a", "b"], w
    assert (await a.expect("peer-joined"))["peer"] == "c"
    assert (await b.expect("peer-joined"))["peer"] == "c"

    # offer/answer across instances, `from` set by the sender's server
    await a.send({"type": "offer", "to": "b", "sdp": "v=0\r\na", "from": "mallory", "id": 1})
    m = await b.expect("offer")
    assert m == {"type": "offer", "from": "a", "to": "b", "sdp": "v=0\r\na"}, m
    await b.send({"type": "answer", "to": "a", "sdp": "v=0\r\nb"})
    m = await a.expect("answer")
    assert m["from"] == "b" and m["sdp"] == "v=0\r\nb", m

    # order between two peers on different instances
    n = 60
    for i in range(n):
        await a.send({"type": "candidate", "to": "c", "candidate": {
            "candidate": "candidate:%d 1 udp 1 127.0.0.1 %d typ host" % (i, 10000 + i),
            "sdpMid": "0", "sdpMLineIndex": 0}})
    await a.send({"type": "end-of-candidates", "to": "c"})
    for i in range(n):
        m = await c.expect("candidate")
        assert m["candidate"]["candidate"].startswith("candidate:%d " % i), (i, m)
    await c.expect("end-of-candidates")

    # unknown peer, and an id taken on another instance
    await a.send({"type": "bye", "to": "nobody", "id": 9})
    m = await a.expect_error("unknown-peer")
    assert m.get("ref") == 9, m
    d = await Peer.connect(s2.url)
    await d.send({"type": "join", "room": "x", "peer": "a"})
    await d.expect_error("peer-id-taken")
    await d.close()

    # a deliberate leave reaches both other instances
    await b.close()
    assert (await a.expect("peer-left"))["peer"] == "b"
    assert (await c.expect("peer-left"))["peer"] == "b"

    # an instance dies without a word: its peers leave within the bound
    t0 = time.monotonic()
    s3.proc.send_signal(signal.SIGKILL)
    s3.proc.wait()
    m = await a.recv(LEAVE_BOUND + SLACK)
    assert m == {"type": "peer-left", "peer": "c"}, m
    print("peer of a killed instance left after %.1f s (bound %.0f s)"
          % (time.monotonic() - t0, LEAVE_BOUND))

    # e on s2 for the outage checks; a sees it join
    e = await Peer.connect(s2.url)
    await e.join("x", peer="e")
    assert (await a.expect("peer-joined"))["peer"] == "e"

    # Redis goes away: health says so, local rooms keep working, cross sends get an error
    redis.kill()
    await sigtest.wait_for(lambda: health(s1)[1].startswith("ok\nredis: down"), "redis down on s1")
    l1 = await Peer.connect(s1.url)
    l2 = await Peer.connect(s1.url)
    await l1.join("local", peer="l1")
    await l2.join("local", peer="l2")
    assert (await l1.expect("peer-joined"))["peer"] == "l2"
    await l1.send({"type": "offer", "to": "l2", "sdp": "v=0\r\nl"})
    assert (await l2.expect("offer"))["from"] == "l1"
    await a.send({"type": "offer", "to": "e", "sdp": "v=0\r\n", "id": 5})
    m = await expect_skip(a, "error")
    assert m["code"] == "unavailable" and m["message"], m
    assert s1.metric("iceway_signal_redis_up") == 0
    # g joins on s2 while Redis is away: s2's peers and the remote ones it knew of
    g = await Peer.connect(s2.url)
    w = await g.join("x", peer="g")
    assert sorted(w["peers"]) == ["a", "e"], w
    assert (await e.expect("peer-joined"))["peer"] == "g"

    # Redis is back (empty): instances reconnect and re-register, traffic flows again
    redis.start()
    for s in (s1, s2):
        await sigtest.wait_for(lambda: health(s) == (200, "ok\nredis: up\n"), "redis up again")
    delivered = False
    deadline = time.monotonic() + sigtest.TIMEOUT
    while not delivered and time.monotonic() < deadline:
        await a.send({"type": "offer", "to": "e", "sdp": "v=0\r\nagain"})
        try:
            m = await e.recv(1.0)
            assert m["type"] == "offer" and m["from"] == "a", m
            delivered = True
        except asyncio.TimeoutError:
            pass
    assert delivered, "no cross-instance delivery after Redis came back"
    # after the reconnect the instances exchange who joined meanwhile: a hears of g
    m = await expect_skip(a, "peer-joined", skip=("error",))
    assert m["peer"] == "g", m
    f = await Peer.connect(s2.url)
    w = await f.join("x", peer="f")
    assert sorted(w["peers"]) == ["a", "e", "g"], w
    m = await expect_skip(a, "peer-joined", skip=("error",))
    assert m["peer"] == "f", m
    assert s1.metric("iceway_signal_redis_up") == 1
    assert s1.metric("iceway_signal_redis_reconnects_total") >= 2

    # Redis stalls (slow, not gone): commands time out, the instance says so, a cross send
    # is refused at once with an error naming our request, and it all recovers
    stall = socket.create_connection(("127.0.0.1", redis.port), timeout=sigtest.TIMEOUT)
    stall.sendall(b"DEBUG SLEEP 5\r\n")
    await sigtest.wait_for(lambda: health(s1)[1].startswith("ok\nredis: down"), "a stalled redis")
    await a.send({"type": "offer", "to": "e", "sdp": "v=0\r\n", "id": 11})
    while True:
        m = await expect_skip(a, "error", skip=("peer-joined",))
        if m.get("ref") == 11:
            break
    assert m["code"] == "unavailable", m
    await sigtest.wait_for(lambda: health(s1) == (200, "ok\nredis: up\n"), "redis up after the stall",
                   20)
    stall.close()
    await sigtest.wait_for(lambda: health(s2) == (200, "ok\nredis: up\n"), "redis up on s2", 20)
    await a.send({"type": "bye", "to": "e", "reason": "after-stall"})
    while True:
        m = await e.recv()
        if m["type"] == "bye":
            break
        assert m["type"] in ("offer", "peer-joined"), m
    assert m["from"] == "a" and m["reason"] == "after-stall", m

    for p in (a, e, f, g, l1, l2):
        await p.close()


def main():
    if not shutil.which("redis-server"):
        raise SystemExit("FAIL: redis-server not installed (tools/install-deps.sh test)")
    d = tempfile.mkdtemp(prefix="iw-redis-")
    redis = Redis(free_port(), d)
    servers = []
    try:
        redis.start()
        url = "redis://127.0.0.1:%d/0" % redis.port
        for _ in range(3):
            servers.append(Server("--redis", url))
        asyncio.run(asyncio.wait_for(scenario(*servers, redis), 200))
        servers[0].stop()
        servers[1].stop()
        servers[2].close()  # killed on purpose
    except BaseException:
        for s in servers:
            print(s.text()[-3000:])
            s.close()
        raise
    finally:
        redis.kill()
        shutil.rmtree(d, ignore_errors=True)
    print("PASS")


if __name__ == "__main__":
    main()
