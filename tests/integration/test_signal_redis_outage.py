"""After a Redis outage or a full request queue, Redis must hold exactly the peers the instances
really have. Three iceway-signal instances over a real redis-server; s1 reaches it through a TCP
proxy that the test cuts and restores, s3 has a request queue of 4 (`?queue=4`).

1. A peer that leaves while its instance cannot reach Redis is announced as gone once the link is
   back: the other instance's peer hears `peer-left`, Redis no longer lists it, a new peer's
   `welcome` does not name it, and its id can be taken again.
2. A peer that joined with an id while its instance was cut off does not take that id from the
   instance that registered it in Redis meanwhile: the holder stays connected and reachable.
3. A peer that stays connected through an outage longer than the old 6 s liveness TTL is not
   announced as `peer-left` and then `peer-joined`.
4. Leaves that find s3's request queue full (Redis stalled for 0.6 s, below the command timeout, so
   no reconnect) are not lost: every one reaches the other instance and Redis."""
import asyncio
import os
import shutil
import socket
import tempfile
import time

import sigtest
from sigtest import CutProxy, Peer, Redis, Server

QUEUE = 4


def health(srv):
    return srv.get("/healthz")


def redis_cmd(port, *args):
    """One command over RESP; the reply as Python values (enough for HGETALL/EXISTS/HGET)."""
    with socket.create_connection(("127.0.0.1", port), timeout=sigtest.TIMEOUT) as c:
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        c.sendall(out)
        f = c.makefile("rb")
        return _read_reply(f)


def _read_reply(f):
    line = f.readline().rstrip(b"\r\n")
    t, rest = line[:1], line[1:]
    if t in (b"+", b"-"):
        return rest.decode()
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:n]
        return data.decode()
    if t == b"*":
        n = int(rest)
        return None if n < 0 else [_read_reply(f) for _ in range(n)]
    raise AssertionError("bad reply %r" % line)


def room_members(port, room):
    kv = redis_cmd(port, "HGETALL", "iw:room:" + room) or []
    return dict(zip(kv[0::2], kv[1::2]))


def instance_of(srv):
    for line in srv.text().splitlines():
        if "(instance " in line:
            return line.rsplit("(instance ", 1)[1].split(")")[0]
    raise AssertionError("no instance id in the log")


async def collect(peer, seconds):
    """Every message the peer gets within the window."""
    out = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            out.append(await peer.recv(max(0.01, deadline - time.monotonic())))
        except asyncio.TimeoutError:
            break
    return out


async def cut(proxy, s):
    proxy.cut()
    await sigtest.wait_for(lambda: health(s)[1].startswith("ok\nredis: down"), "redis down on s1")


async def restore(proxy, s):
    proxy.restore()
    await sigtest.wait_for(lambda: health(s) == (200, "ok\nredis: up\n"), "redis up on s1 again")


async def ghost_and_claim(s1, s2, s3, proxy, rport):
    x = await Peer.connect(s1.url)
    await x.join("g", peer="x")
    z = await Peer.connect(s2.url)
    w = await z.join("g", peer="z")
    assert w["peers"] == ["x"], w
    y1 = await Peer.connect(s2.url)
    await y1.join("c", peer="other")

    await cut(proxy, s1)
    t0 = time.monotonic()
    # 1: x leaves while s1 cannot tell Redis
    await x.close(1000)
    # 2: s2 registers id "y" in room c; s1, cut off, lets a local peer take "y" in room c too
    holder = await Peer.connect(s2.url)
    await holder.join("c", peer="y")
    await y1.expect("peer-joined")
    local = await Peer.connect(s1.url)
    w = await local.join("c", peer="y")
    assert w["peers"] == [], w  # s1 had no peer in room c: it knows nobody there
    await asyncio.sleep(max(0.0, 3.0 - (time.monotonic() - t0)))
    await restore(proxy, s1)
    print("s1 cut off for %.1f s" % (time.monotonic() - t0))

    # 1: z hears that x left, Redis forgets x, x is free again
    m = await z.expect("peer-left", timeout=sigtest.TIMEOUT)
    assert m["peer"] == "x", m
    await sigtest.wait_for(lambda: "x" not in room_members(rport, "g"), "x gone from Redis")
    n = await Peer.connect(s3.url)
    w = await n.join("g")
    assert w["peers"] == ["z"], w
    x2 = await Peer.connect(s3.url)
    w = await x2.join("g", peer="x")
    assert w["peer"] == "x", w

    # 2: the id stays with the instance that registered it while s1 was away
    await asyncio.sleep(1.0)  # s1's resync has run (it runs right after the reconnect)
    assert room_members(rport, "c").get("y") == instance_of(s2), room_members(rport, "c")
    await y1.send({"type": "offer", "to": "y", "sdp": "v=0\r\nstill"})
    m = await holder.expect("offer")
    assert m["from"] == "other", m
    assert holder.ws.close_code is None, "the holder of y was closed (%s)" % holder.ws.close_code
    for p in (z, y1, holder, local, n, x2):
        await p.close()


async def long_outage(s1, s2, proxy, rport):
    y = await Peer.connect(s1.url)
    await y.join("p", peer="y")
    z = await Peer.connect(s2.url)
    w = await z.join("p", peer="z")
    assert w["peers"] == ["y"], w
    await y.expect("peer-joined")
    live = "iw:live:" + instance_of(s1)

    await cut(proxy, s1)
    t0 = time.monotonic()
    # Past the old 6 s TTL: until s1's liveness key is gone and the others have swept (2.5 s),
    # or 7.5 s, whichever comes first.
    gone_at = None
    while time.monotonic() - t0 < 7.5:
        if gone_at is None and redis_cmd(rport, "EXISTS", live) == 0:
            gone_at = time.monotonic()
        if gone_at is not None and time.monotonic() - gone_at >= 2.5:
            break
        await asyncio.sleep(0.1)
    await restore(proxy, s1)
    print("s1 cut off for %.1f s (its liveness key %s)" % (
        time.monotonic() - t0, "expired after %.1f s" % (gone_at - t0) if gone_at else "held"))
    seen = await collect(z, 3.0)
    assert seen == [], "z saw %r for a peer that never left" % seen
    seen = await collect(y, 0.2)
    assert seen == [], "y saw %r" % seen
    await z.send({"type": "offer", "to": "y", "sdp": "v=0\r\nafter"})
    m = await y.expect("offer")
    assert m["from"] == "z", m
    for p in (y, z):
        await p.close()


async def full_queue(s2, s3, rport):
    rs = []
    for i in range(8):
        p = await Peer.connect(s3.url)
        await p.join("ring", peer="r%d" % i)
        rs.append(p)
    z = await Peer.connect(s2.url)
    w = await z.join("ring", peer="z")
    assert sorted(w["peers"]) == ["r%d" % i for i in range(8)], w
    dropped0 = s3.metric("iceway_signal_redis_queue_dropped_total")
    reconnects0 = s3.metric("iceway_signal_redis_reconnects_total")

    # Redis stalls for 0.6 s (below the 1 s command timeout: no reconnect). The join keeps
    # s3's Redis thread waiting on its command while the eight leaves queue up behind it.
    stall = socket.create_connection(("127.0.0.1", rport), timeout=sigtest.TIMEOUT)
    stall.sendall(b"DEBUG SLEEP 0.6\r\n")
    await asyncio.sleep(0.05)
    t = await Peer.connect(s3.url)
    await t.send({"type": "join", "room": "trigger", "peer": "t"})
    await asyncio.sleep(0.05)
    await asyncio.gather(*(p.send({"type": "leave"}) for p in rs))
    await t.expect("welcome")
    stall.close()
    assert s3.metric("iceway_signal_redis_queue_dropped_total") > dropped0, \
        "the queue was not full: the test proves nothing"

    left = set()
    deadline = time.monotonic() + sigtest.TIMEOUT
    while len(left) < 8 and time.monotonic() < deadline:
        try:
            m = await z.recv(max(0.01, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            break
        assert m["type"] == "peer-left", m
        left.add(m["peer"])
    assert sorted(left) == ["r%d" % i for i in range(8)], "z heard only %r" % sorted(left)
    assert set(room_members(rport, "ring")) == {"z"}, room_members(rport, "ring")
    n = await Peer.connect(s2.url)
    w = await n.join("ring")
    assert w["peers"] == ["z"], w
    assert s3.metric("iceway_signal_redis_reconnects_total") == reconnects0, \
        "s3 reconnected: this was not the full-queue path"
    for p in rs + [z, t, n]:
        await p.close()


async def scenario(s1, s2, s3, proxy, rport):
    for s in (s1, s2, s3):
        await sigtest.wait_for(lambda: health(s) == (200, "ok\nredis: up\n"), "redis up")
    parts = os.environ.get("IW_PARTS", "ghost,long,queue").split(",")
    if "ghost" in parts:
        await ghost_and_claim(s1, s2, s3, proxy, rport)
    if "long" in parts:
        await long_outage(s1, s2, proxy, rport)
    if "queue" in parts:
        await full_queue(s2, s3, rport)


def main():
    if not shutil.which("redis-server"):
        raise SystemExit("FAIL: redis-server not installed (tools/install-deps.sh test)")
    d = tempfile.mkdtemp(prefix="iw-redis-")
    redis = Redis(sigtest.free_port(), d)
    proxy = None
    servers = []
    try:
        redis.start()
        proxy = CutProxy(redis.port)
        servers.append(Server("--redis", "redis://127.0.0.1:%d/0" % proxy.port))
        servers.append(Server("--redis", redis.url))
        servers.append(Server("--redis", "%s?queue=%d" % (redis.url, QUEUE)))
        asyncio.run(asyncio.wait_for(scenario(*servers, proxy, redis.port), 120))
        for s in servers:
            s.stop()
    except BaseException:
        for s in servers:
            print(s.text()[-3000:])
            s.close()
        raise
    finally:
        if proxy:
            proxy.close()
        redis.kill()
        shutil.rmtree(d, ignore_errors=True)
    print("PASS")


if __name__ == "__main__":
    main()
