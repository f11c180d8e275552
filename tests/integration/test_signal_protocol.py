"""iceway-signal protocol with real WebSocket clients (python3-websockets): join, presence,
addressed forwarding in order with a server-set `from`, every error code, resume, the HTTP
endpoints, and a valid Prometheus exposition.

Each scenario takes a list of servers and spreads its peers over them (peer i on srvs[i % n]),
so test_signal_protocol_cluster.py runs the same suite over three instances sharing Redis."""
import asyncio
import json
import shutil
import subprocess

import sigtest
from sigtest import Peer, Server

ICE_ARGS = ["--stun-uri", "stun:127.0.0.1:3478",
            "--turn-uri", "turn:127.0.0.1:3478?transport=udp",
            "--turn-uri", "turn:127.0.0.1:3478?transport=tcp",
            "--static-auth-secret", "test-secret", "--credential-ttl", "600",
            "--max-peers-per-room", "10", "--max-rooms", "3", "--resume-grace", "30",
            "--max-errors", "100"]


def at(srvs, i):
    """The WebSocket URL of the server that peer number i connects to."""
    return srvs[i % len(srvs)].url


async def two_peers(srvs):
    a = await Peer.connect(at(srvs, 0))
    wa = await a.join("room-2")
    assert wa["peers"] == [] and wa["room"] == "room-2" and wa["resumed"] is False
    assert len(wa["resume"]) == 32 and wa["peer"]
    ice = wa["iceServers"]
    assert ice[0] == {"urls": ["stun:127.0.0.1:3478"]}, ice
    assert ice[1]["urls"] == ["turn:127.0.0.1:3478?transport=udp",
                              "turn:127.0.0.1:3478?transport=tcp"]
    assert ice[1]["username"].split(":")[1] == wa["peer"], ice
    assert len(ice[1]["credential"]) == 28

    b = await Peer.connect(at(srvs, 1) + "?room=room-2")  # the query parameter joins at once
    wb = await b.expect("welcome")
    b.id = wb["peer"]
    assert wb["peers"] == [a.id] and b.id != a.id
    assert (await a.expect("peer-joined"))["peer"] == b.id

    # offer/answer/candidates, `from` set by the server, a forged `from` replaced
    await a.send({"type": "offer", "to": b.id, "sdp": "v=0 offer", "from": "mallory"})
    m = await b.expect("offer")
    assert m == {"type": "offer", "from": a.id, "to": b.id, "sdp": "v=0 offer"}, m
    await b.send({"type": "answer", "to": a.id, "sdp": "v=0 answer"})
    assert (await a.expect("answer"))["from"] == b.id
    cand = {"candidate": "candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host",
            "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "abcd"}
    for i in range(20):
        c = dict(cand, candidate=cand["candidate"] + " generation %d" % i)
        await a.send({"type": "candidate", "to": b.id, "candidate": c})
    await a.send({"type": "end-of-candidates", "to": b.id})
    for i in range(20):
        m = await b.expect("candidate")
        assert m["from"] == a.id and m["candidate"]["candidate"].endswith("generation %d" % i)
        assert m["candidate"]["sdpMLineIndex"] == 0 and m["candidate"]["sdpMid"] == "0"
    assert (await b.expect("end-of-candidates"))["from"] == a.id
    await b.send({"type": "bye", "to": a.id, "reason": "done"})
    m = await a.expect("bye")
    assert m["from"] == b.id and m["reason"] == "done"
    await a.nothing()  # a never sees its own messages echoed

    # application ping
    await a.send({"type": "ping", "id": 7})
    assert (await a.expect("pong"))["ref"] == 7

    # explicit leave: peer-left at once
    await b.send({"type": "leave"})
    assert (await a.expect("peer-left"))["peer"] == b.id
    await b.close()
    await a.close()


async def ten_peers(srvs):
    peers = []
    for i in range(10):
        p = await Peer.connect(at(srvs, i))
        w = await p.join("room-10")
        assert sorted(w["peers"]) == sorted(q.id for q in peers)
        for q in peers:
            assert (await q.expect("peer-joined"))["peer"] == p.id
        peers.append(p)
    # everyone sends 5 offers to everyone else; each receiver sees each sender's in order
    for s in peers:
        for r in peers:
            if r is not s:
                for k in range(5):
                    await s.send({"type": "offer", "to": r.id, "sdp": "%s->%s #%d" %
                                  (s.id, r.id, k)})
    for r in peers:
        seen = {}
        for _ in range(9 * 5):
            m = await r.expect("offer")
            assert m["to"] == r.id, m
            src, _, k = m["sdp"].partition(" #")
            assert src == "%s->%s" % (m["from"], r.id), m  # only the addressee, right `from`
            assert int(k) == seen.get(m["from"], -1) + 1, "out of order: %r" % m
            seen[m["from"]] = int(k)
        assert len(seen) == 9
        await r.nothing(0.1)
    # an 11th peer is refused: room full
    x = await Peer.connect(at(srvs, 10))
    await x.send({"type": "join", "room": "room-10", "id": "j1"})
    e = await x.expect_error("room-full")
    assert e["ref"] == "j1"
    await x.close()
    # a peer that drops with close 1000 leaves at once
    gone = peers.pop()
    await gone.close(1000)
    for p in peers:
        assert (await p.expect("peer-left"))["peer"] == gone.id
    for p in peers:
        await p.close()


async def errors(srvs):
    p = await Peer.connect(at(srvs, 0))
    await p.send("this is not json")
    await p.expect_error("bad-json")
    await p.send("[1, 2]")
    await p.expect_error("not-object")
    await p.send({"type": "dance"})
    await p.expect_error("unknown-type")
    await p.send({"room": "x"})
    await p.expect_error("bad-field")
    await p.send({"type": 5})
    await p.expect_error("bad-field")
    await p.send({"type": "offer", "to": "x", "sdp": "s"})
    await p.expect_error("not-joined")
    await p.send({"type": "join"})
    await p.expect_error("bad-field")
    await p.send({"type": "join", "room": "bad room/name"})
    await p.expect_error("bad-field")
    await p.send({"type": "join", "room": "r", "peer": 12})
    await p.expect_error("bad-field")
    await p.send(b'{"type":"ping"}')
    await p.expect_error("bad-json")  # binary frames are refused
    await p.join("err-room")
    await p.send({"type": "join", "room": "err-room"})
    await p.expect_error("already-joined")
    await p.send({"type": "offer", "to": "nobody", "sdp": "s", "id": "o1"})
    e = await p.expect_error("unknown-peer")
    assert e["ref"] == "o1"
    await p.send({"type": "offer", "to": p.id, "sdp": "s"})
    await p.expect_error("bad-field")
    q = await Peer.connect(at(srvs, 1))
    await q.join("err-room")
    await p.expect("peer-joined")
    for bad in ({"type": "offer", "to": q.id},
                {"type": "offer", "to": q.id, "sdp": 5},
                {"type": "answer", "to": 7, "sdp": "s"},
                {"type": "candidate", "to": q.id},
                {"type": "candidate", "to": q.id, "candidate": "a=candidate:1"},
                {"type": "candidate", "to": q.id, "candidate": {"candidate": 1}},
                {"type": "candidate", "to": q.id,
                 "candidate": {"candidate": "c", "sdpMLineIndex": -1}},
                {"type": "end-of-candidates"},
                {"type": "bye", "to": q.id, "reason": 3},
                {"type": "ping", "id": [1]}):
        await p.send(bad)
        await p.expect_error("bad-field")
    await q.nothing(0.1)  # nothing invalid reached q
    # a peer id that is taken, without and with a wrong resume token (r is on p's server,
    # which knows q as a peer of err-room, local or remote)
    r = await Peer.connect(at(srvs, 0))
    await r.send({"type": "join", "room": "err-room", "peer": q.id})
    await r.expect_error("peer-id-taken")
    await r.send({"type": "join", "room": "err-room", "peer": q.id, "resume": "0" * 32})
    await r.expect_error("peer-id-taken")
    # too many rooms (max-rooms 3: err-room plus two more). The bound is per server (it
    # bounds that process's memory), so all three rooms are on p's server.
    await r.join("extra-1")
    s = await Peer.connect(at(srvs, 0))
    await s.join("extra-2")
    t = await Peer.connect(at(srvs, 0))
    await t.send({"type": "join", "room": "extra-3"})
    await t.expect_error("too-many-rooms")
    # too large: over the 64 KiB default, the connection stays usable
    await p.send(json.dumps({"type": "offer", "to": q.id, "sdp": "x" * 70000}))
    await p.expect_error("too-large")
    await p.send({"type": "offer", "to": q.id, "sdp": "small"})
    assert (await q.expect("offer"))["sdp"] == "small"
    for c in (p, q, r, s, t):
        await c.close()


async def resume(srvs):
    # o watches from a third server: a resume is neither a peer-left nor a peer-joined
    o = await Peer.connect(at(srvs, 2))
    await o.join("res-room")
    a = await Peer.connect(at(srvs, 0))
    await a.join("res-room")
    assert (await o.expect("peer-joined"))["peer"] == a.id
    b = await Peer.connect(at(srvs, 1))
    await b.join("res-room", peer="bob-1")  # a client may offer its own id
    assert b.id == "bob-1"
    await a.expect("peer-joined")
    await o.expect("peer-joined")
    # b's connection drops without a close frame; b comes back on another server (load
    # balancers are not always sticky)
    b.ws.transport.abort()
    await asyncio.sleep(0)
    b2 = await Peer.connect(at(srvs, 2))
    w = await b2.join("res-room", peer="bob-1", resume=b.resume)
    assert w["peer"] == "bob-1" and w["resumed"] is True, w
    assert sorted(w["peers"]) == sorted([o.id, a.id]), w
    assert w["resume"] != b.resume  # a fresh token each time
    await a.send({"type": "offer", "to": "bob-1", "sdp": "again"})
    assert (await b2.expect("offer"))["sdp"] == "again"
    await o.send({"type": "offer", "to": "bob-1", "sdp": "from o"})
    m = await b2.expect("offer")
    assert m["sdp"] == "from o" and m["from"] == o.id, m
    # the old token is spent
    x = await Peer.connect(at(srvs, 0))
    await x.send({"type": "join", "room": "res-room", "peer": "bob-1", "resume": b.resume})
    await x.expect_error("peer-id-taken")
    await x.close()
    # a takes over its own id from a second connection (on another server) while the first
    # is still open: the old connection is closed with 4001, and the room never sees a
    # peer-left
    a2 = await Peer.connect(at(srvs, 1))
    w = await a2.join("res-room", peer=a.id, resume=a.resume)
    assert w["resumed"] is True and w["peer"] == a.id, w
    assert sorted(w["peers"]) == sorted([o.id, "bob-1"]), w
    try:
        await asyncio.wait_for(a.ws.recv(), sigtest.TIMEOUT)
        raise AssertionError("old connection still open")
    except __import__("websockets").ConnectionClosed as e:
        assert e.code == 4001, e
    await b2.send({"type": "answer", "to": a.id, "sdp": "to the new a"})
    m = await a2.expect("answer")
    assert m["from"] == "bob-1" and m["sdp"] == "to the new a", m
    await b2.nothing(0.2)
    await o.nothing(0.2)
    # a deliberate leave after all that is seen once, everywhere
    await a2.close()
    assert (await b2.expect("peer-left"))["peer"] == a.id
    assert (await o.expect("peer-left"))["peer"] == a.id
    await b2.close()
    await o.close()


def metric_sum(srvs, name):
    return sum(s.metric(name) for s in srvs)


async def http(srvs):
    srv = srvs[0]
    st, body = srv.get("/healthz")
    assert st == 200 and body == ("ok\n" if len(srvs) == 1 else "ok\nredis: up\n"), body
    st, body = srv.get("/api/turn?service=turn&username=alice")
    assert st == 200
    j = json.loads(body)
    assert j["ttl"] == 600 and j["username"].endswith(":alice") and len(j["password"]) == 28
    assert "turn:127.0.0.1:3478?transport=udp" in j["uris"]
    assert srv.get("/api/turn?service=stun")[0] == 400
    assert srv.get("/api/turn?service=turn&username=a:b")[0] == 400
    st, body = srv.get("/")
    assert st == 200 and "iceway" in body
    st, body = srv.get("/iceway.js")
    assert st == 200 and "export" in body
    assert srv.get("/nope.html")[0] == 404
    assert srv.get("/metrics")[0] == 404  # only on the metrics listener
    st, metrics = srv.metrics_get()
    assert st == 200
    assert 'iceway_signal_messages_relayed_total{type="offer"}' in metrics
    # counted where they happen: summed over the servers
    assert metric_sum(srvs, 'iceway_signal_errors_total{code="bad-json"}') >= 2
    assert metric_sum(srvs, 'iceway_signal_errors_total{code="too-large"}') >= 1
    assert metric_sum(srvs, 'iceway_signal_messages_relayed_total{type="offer"}') >= 450
    # The exposition must satisfy Prometheus's own linter (Debian `prometheus`).
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing (tools/install-deps.sh test installs prometheus)"
    r = subprocess.run([promtool, "check", "metrics"], input=metrics.encode(),
                       capture_output=True, timeout=sigtest.TIMEOUT)
    assert r.returncode == 0, r.stdout + r.stderr


async def ipv6(srvs):
    for srv in srvs:
        assert srv.url.startswith("ws://[::1]:")
    a = await Peer.connect(at(srvs, 0))
    b = await Peer.connect(at(srvs, 1))
    await a.join("v6")
    await b.join("v6")
    await a.expect("peer-joined")
    await b.send({"type": "offer", "to": a.id, "sdp": "over ipv6"})
    assert (await a.expect("offer"))["from"] == b.id
    await a.close()
    await b.close()


async def suite(srvs):
    """Every scenario, in an order that the counters checked by http() rely on."""
    await two_peers(srvs)
    await ten_peers(srvs)
    await errors(srvs)
    await resume(srvs)
    await http(srvs)


async def main():
    with Server(listen="[::1]:%d" % sigtest.ports.reserve(1, ("tcp",), ("::1",))) as srv:
        await ipv6([srv])
    with Server(*ICE_ARGS) as srv:
        await suite([srv])


if __name__ == "__main__":
    sigtest.run(main)
