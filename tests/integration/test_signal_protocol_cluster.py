"""The whole signaling protocol suite (test_signal_protocol.py) with its peers spread
round-robin over three iceway-signal instances that share one real redis-server started here:
presence, ordered forwarding, every error code, resume onto another instance (no peer-left /
peer-joined pair, the old connection closed with 4001), the HTTP endpoints and metrics, IPv6.
Then what only a cluster has: the room bound and taken ids checked on an instance that has no
local peer in the room, and a resume there with a wrong token."""
import asyncio
import shutil
import tempfile
import time

import sigtest
import test_signal_protocol as proto
from sigtest import Peer, Server


async def wait_up(srvs):
    deadline = time.monotonic() + sigtest.TIMEOUT
    for s in srvs:
        while s.get("/healthz") != (200, "ok\nredis: up\n"):
            assert time.monotonic() < deadline, "redis not up on " + s.url
            await asyncio.sleep(0.05)


async def remote_bounds(srvs):
    # room "cap" (bound 10) filled from the first two servers only
    peers = []
    for i in range(10):
        p = await Peer.connect(srvs[i % 2].url)
        await p.join("cap", peer="cap-%d" % i)
        for q in peers:
            assert (await q.expect("peer-joined"))["peer"] == p.id
        peers.append(p)
    # the third server has no peer in "cap": Redis is the truth for the bound and for ids
    x = await Peer.connect(srvs[2].url)
    await x.send({"type": "join", "room": "cap", "id": "full"})
    e = await x.expect_error("room-full")
    assert e["ref"] == "full", e
    await x.send({"type": "join", "room": "cap", "peer": "cap-3"})
    await x.expect_error("peer-id-taken")
    await x.send({"type": "join", "room": "cap", "peer": "cap-3", "resume": "f" * 32})
    await x.expect_error("peer-id-taken")
    await x.send({"type": "join", "room": "cap", "peer": "cap-3", "resume": peers[4].resume})
    await x.expect_error("peer-id-taken")  # another peer's token
    # a place frees up: the next join there succeeds and everyone sees it once
    await peers[0].close()
    for q in peers[1:]:
        assert (await q.expect("peer-left"))["peer"] == "cap-0"
    w = await x.join("cap", peer="cap-10")
    assert sorted(w["peers"]) == sorted(q.id for q in peers[1:]), w
    for q in peers[1:]:
        assert (await q.expect("peer-joined"))["peer"] == "cap-10"
    # a resume onto the server that had no local room, after a drop on the first
    peers[2].ws.transport.abort()
    await asyncio.sleep(0)
    y = await Peer.connect(srvs[2].url)
    w = await y.join("cap", peer="cap-2", resume=peers[2].resume)
    assert w["resumed"] is True, w
    await x.send({"type": "offer", "to": "cap-2", "sdp": "local now"})
    assert (await y.expect("offer"))["from"] == "cap-10"
    await peers[1].send({"type": "offer", "to": "cap-2", "sdp": "moved"})
    assert (await y.expect("offer"))["from"] == "cap-1"
    for q in peers[1:] + [x]:
        if q is not peers[2]:
            await q.nothing(0.1)
    for q in peers[1:] + [x, y]:
        if q is not peers[2]:
            await q.close()


async def main():
    if not shutil.which("redis-server"):
        raise SystemExit("FAIL: redis-server not installed (tools/install-deps.sh test)")
    d = tempfile.mkdtemp(prefix="iw-redis-")
    redis = sigtest.Redis(sigtest.free_port(), d)
    servers = []
    try:
        redis.start()
        for _ in range(3):
            servers.append(Server("--redis", redis.url, listen="[::1]:%d" % sigtest.ports.reserve(1, ("tcp",), ("::1",))))
        await wait_up(servers)
        await proto.ipv6(servers)
        for s in servers:
            s.stop()
        servers = []
        for _ in range(3):
            servers.append(Server(*proto.ICE_ARGS, "--redis", redis.url))
        await wait_up(servers)
        await proto.suite(servers)
        await remote_bounds(servers)
        for s in servers:
            s.stop()
        servers = []
    except BaseException:
        for s in servers:
            print(s.text()[-3000:])
            s.close()
        raise
    finally:
        redis.kill()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sigtest.run(main)
