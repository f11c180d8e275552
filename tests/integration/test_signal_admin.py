"""The signaling admin API with real python3-websockets clients in rooms: rooms and peers listed
(paged), a peer disconnected (it sees close code 4002, the room sees peer-left, its resume token
is refused), a room closed (4003 to each of its peers), a disconnected peer's token refused on
reconnect, status, a token rotated by SIGHUP, and in a cluster a peer on another instance
answered with 409 naming that instance (its own instance disconnects it; there its old token
would be refused, on another instance it only gets a fresh join). The token checks and malformed requests are in test_signal_admin_abuse.py."""
import asyncio
import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import sigtest  # first: it picks the interpreter that has python3-websockets
from sigtest import Peer, Server

TOKEN = "s3cret-admin-token-" + os.urandom(8).hex()


def admin(srv, method, path, token=TOKEN):
    c = http.client.HTTPConnection("127.0.0.1", srv.metrics_port, timeout=sigtest.TIMEOUT)
    try:
        c.request(method, path, headers={"Authorization": "Bearer " + token} if token else {})
        r = c.getresponse()
        body = r.read().decode()
        return r.status, (json.loads(body) if body.strip() else None)
    finally:
        c.close()


def token_file():
    f = tempfile.NamedTemporaryFile("w", prefix="iw-admin-", delete=False)
    f.write(TOKEN + "\n")
    f.close()
    return f.name


async def closed_with(peer, code):
    """The close code the server sent peer (after any messages queued before it)."""
    deadline = time.monotonic() + sigtest.TIMEOUT
    while time.monotonic() < deadline:
        try:
            await asyncio.wait_for(peer.ws.recv(), sigtest.TIMEOUT)
        except sigtest.websockets.ConnectionClosed as e:
            got = e.rcvd.code if e.rcvd else None
            assert got == code, "closed with %r, expected %d" % (got, code)
            return e.rcvd.reason
    raise AssertionError("not closed")


async def single(tf):
    with Server("--admin-token-file", tf) as srv:
        # status with nobody connected
        st, s = admin(srv, "GET", "/admin/status")
        assert st == 200, (st, s)
        assert s["cluster"] is False and s["rooms"] == 0 and s["peers"] == 0, s
        assert s["draining"] is False and "instance" not in s, s
        assert s["version"] and s["uptime_s"] >= 0 and s["connections"] == 0, s

        a, b, c = [await Peer.connect(srv.url) for _ in range(3)]
        await a.join("alpha", peer="ann")
        await b.join("alpha", peer="bob")
        assert (await a.expect("peer-joined"))["peer"] == "bob"
        await c.join("beta", peer="cy")
        await a.send({"type": "offer", "to": "bob", "sdp": "v=0"})
        await b.expect("offer")

        st, s = admin(srv, "GET", "/admin/status")
        assert st == 200 and s["connections"] == 3 and s["rooms"] == 2 and s["peers"] == 3, s

        st, rooms = admin(srv, "GET", "/admin/rooms")
        assert st == 200 and rooms["total"] == 2 and rooms["next"] is None, rooms
        got = {r["room"]: r["peers"] for r in rooms["rooms"]}
        assert got == {"alpha": 2, "beta": 1}, rooms

        # pages of one: every room once, then no next
        seen, cursor = [], None
        for _ in range(5):
            st, page = admin(srv, "GET", "/admin/rooms?limit=1" + ("&cursor=" + cursor if cursor
                                                                    else ""))
            assert st == 200 and len(page["rooms"]) <= 1, page
            seen += [r["room"] for r in page["rooms"]]
            cursor = page["next"]
            if cursor is None:
                break
        assert sorted(seen) == ["alpha", "beta"], seen

        st, room = admin(srv, "GET", "/admin/rooms/alpha")
        assert st == 200 and room["room"] == "alpha" and room["remote_peers"] == [], room
        peers = {p["id"]: p for p in room["peers"]}
        assert set(peers) == {"ann", "bob"}, room
        ann = peers["ann"]
        assert ann["connected"] is True and ann["resumed"] is False, ann
        assert ann["address"].startswith("127.0.0.1:"), ann
        assert int(ann["address"].rsplit(":", 1)[1]) == a.ws.local_address[1], (ann, a.ws.local_address)
        assert abs(ann["connected_since"] - time.time()) < 60, ann
        # ann sent join and offer; she got welcome and peer-joined
        assert ann["messages_in"] == 2 and ann["messages_out"] == 2, ann
        st, one = admin(srv, "GET", "/admin/rooms/alpha/peers/bob")
        assert st == 200 and one["id"] == "bob" and one["messages_in"] == 1, one

        # disconnect bob: he sees 4002, ann sees peer-left, his token is refused
        st, r = admin(srv, "DELETE", "/admin/rooms/alpha/peers/bob")
        assert st == 200 and r["disconnected"] == "bob" and r["was_connected"] is True, (st, r)
        reason = await closed_with(b, 4002)
        assert "operator" in reason, reason
        assert (await a.expect("peer-left"))["peer"] == "bob"
        b2 = await Peer.connect(srv.url)
        await b2.send({"type": "join", "room": "alpha", "peer": "bob", "resume": b.resume})
        e = await b2.expect_error("unauthorized")
        assert "disconnected" in e["message"], e
        await a.nothing(0.2)  # no peer-joined: bob did not come back
        st, room = admin(srv, "GET", "/admin/rooms/alpha")
        assert [p["id"] for p in room["peers"]] == ["ann"], room
        assert admin(srv, "GET", "/admin/rooms/alpha/peers/bob")[0] == 404
        assert admin(srv, "DELETE", "/admin/rooms/alpha/peers/bob")[0] == 404
        assert srv.metric("iceway_signal_peers_kicked_total") == 1
        assert srv.metric("iceway_signal_kicked_resumes_refused_total") == 1
        print("ok   rooms and peers listed; a peer disconnected (4002, peer-left, resume refused)")

        # a peer within its resume grace is listed as such, and a resume is a resume
        await b2.close()
        c.ws.transport.abort()  # cy drops without a close frame: kept for resume-grace
        await sigtest.wait_for(lambda: admin(srv, "GET", "/admin/rooms/beta")[1]["peers"][0]
                               ["connected"] is False, "cy detached")
        c2 = await Peer.connect(srv.url)
        w = await c2.join("beta", peer="cy", resume=c.resume)
        assert w["resumed"] is True, w
        st, room = admin(srv, "GET", "/admin/rooms/beta")
        assert room["peers"][0]["resumed"] is True and room["peers"][0]["connected"], room

        # close room alpha with two peers in it: both see 4003
        d = await Peer.connect(srv.url)
        await d.join("alpha", peer="dee")
        assert (await a.expect("peer-joined"))["peer"] == "dee"
        st, r = admin(srv, "DELETE", "/admin/rooms/alpha")
        assert st == 200 and r["disconnected"] == 2 and r["room"] == "alpha", r
        await closed_with(a, 4003)
        await closed_with(d, 4003)
        assert admin(srv, "GET", "/admin/rooms/alpha")[0] == 404
        st, rooms = admin(srv, "GET", "/admin/rooms")
        assert [x["room"] for x in rooms["rooms"]] == ["beta"], rooms
        # the room can be used again at once
        e2 = await Peer.connect(srv.url)
        await e2.join("alpha", peer="eve")
        await e2.close()
        await c2.close()
        assert srv.metric("iceway_signal_peers_kicked_total") == 3
        assert "admin API: DELETE /admin/rooms/alpha" in srv.text()
        assert TOKEN not in srv.text()
        print("ok   a room closed: 4003 to every peer; status")

        # SIGHUP re-reads the token file: the old token is refused from then on
        new = TOKEN + "-rotated"
        with open(tf, "w") as f:
            f.write(new + "\n")
        srv.proc.send_signal(signal.SIGHUP)
        await sigtest.wait_for(lambda: "configuration reloaded" in srv.text(), "reload")
        assert admin(srv, "GET", "/admin/status")[0] == 401
        assert admin(srv, "GET", "/admin/status", token=new)[0] == 200
        assert new not in srv.text()
        with open(tf, "w") as f:
            f.write(TOKEN + "\n")
        print("ok   SIGHUP: a new token in the file replaces the old one")


async def cluster(tf):
    d = tempfile.mkdtemp(prefix="iw-redis-")
    redis = sigtest.Redis(sigtest.free_port(), d)
    servers = []
    try:
        redis.start()
        for _ in range(2):
            servers.append(Server("--admin-token-file", tf, "--redis", redis.url))
        for s in servers:
            await sigtest.wait_for(lambda s=s: s.get("/healthz") == (200, "ok\nredis: up\n"),
                                   "redis up")
        a = await Peer.connect(servers[0].url)
        b = await Peer.connect(servers[1].url)
        await a.join("gamma", peer="ann")
        await b.join("gamma", peer="bob")
        assert (await a.expect("peer-joined"))["peer"] == "bob"
        st0 = admin(servers[0], "GET", "/admin/status")[1]
        st1 = admin(servers[1], "GET", "/admin/status")[1]
        assert st0["cluster"] is True and st0["redis_up"] is True, st0
        assert st0["instance"] != st1["instance"], (st0, st1)
        st, room = admin(servers[0], "GET", "/admin/rooms/gamma")
        assert [p["id"] for p in room["peers"]] == ["ann"], room
        assert room["remote_peers"] == [{"id": "bob", "instance": st1["instance"]}], room
        # bob is on the other instance: 409 naming it, and nothing happens
        st, r = admin(servers[0], "DELETE", "/admin/rooms/gamma/peers/bob")
        assert st == 409 and r["instance"] == st1["instance"], (st, r)
        await b.send({"type": "offer", "to": "ann", "sdp": "still here"})
        assert (await a.expect("offer"))["from"] == "bob"
        # its own instance disconnects it; the other instance's peers hear peer-left
        st, r = admin(servers[1], "DELETE", "/admin/rooms/gamma/peers/bob")
        assert st == 200, (st, r)
        await closed_with(b, 4002)
        assert (await a.expect("peer-left"))["peer"] == "bob"
        # the refusal of its token is that instance's: elsewhere the token gets a fresh join
        b2 = await Peer.connect(servers[0].url)
        w = await b2.join("gamma", peer="bob", resume=b.resume)
        assert w["resumed"] is False and w["resume"] != b.resume, w
        assert (await a.expect("peer-joined"))["peer"] == "bob"
        await b2.close()
        assert (await a.expect("peer-left"))["peer"] == "bob"
        # closing the room on instance 0 closes its peers only and names the remote ones
        c = await Peer.connect(servers[1].url)
        await c.join("gamma", peer="cy")
        assert (await a.expect("peer-joined"))["peer"] == "cy"
        st, r = admin(servers[0], "DELETE", "/admin/rooms/gamma")
        assert st == 200 and r["disconnected"] == 1, r
        assert r["remote_peers"] == [{"id": "cy", "instance": st1["instance"]}], r
        await closed_with(a, 4003)
        assert (await c.expect("peer-left"))["peer"] == "ann"
        await c.close()
        print("ok   cluster: a peer on another instance answers 409 with its instance")
    finally:
        for s in servers:
            s.stop()
        redis.kill()
        shutil.rmtree(d, ignore_errors=True)


def cli(srv, tf, *args):
    """iceway-signal admin ARGS against srv: (exit status, JSON answer or None)."""
    r = subprocess.run([sigtest.SIGNAL, "admin", "--url", "http://127.0.0.1:%d" % srv.metrics_port,
                        "--token-file", tf] + list(args), capture_output=True, text=True,
                       timeout=30)
    try:
        return r.returncode, json.loads(r.stdout)
    except ValueError:
        return r.returncode, None


async def with_cli(tf):
    """The command-line client: each subcommand is the request it names."""
    with Server("--admin-token-file", tf) as srv:
        a, b = [await Peer.connect(srv.url) for _ in range(2)]
        await a.join("gamma", peer="ann")
        await b.join("gamma", peer="bob")
        await a.expect("peer-joined")
        rc, s = cli(srv, tf, "status")
        assert rc == 0 and s["rooms"] == 1 and s["peers"] == 2, (rc, s)
        rc, r = cli(srv, tf, "rooms", "--limit", "1")
        assert rc == 0 and [x["room"] for x in r["rooms"]] == ["gamma"], (rc, r)
        rc, r = cli(srv, tf, "room", "gamma")
        assert rc == 0 and sorted(p["id"] for p in r["peers"]) == ["ann", "bob"], (rc, r)
        rc, p = cli(srv, tf, "peer", "gamma", "bob")
        assert rc == 0 and p["id"] == "bob", (rc, p)
        rc, k = cli(srv, tf, "kick", "gamma", "bob")
        assert rc == 0 and k["disconnected"] == "bob", (rc, k)
        await closed_with(b, 4002)
        assert (await a.expect("peer-left"))["peer"] == "bob"
        rc, _ = cli(srv, tf, "peer", "gamma", "bob")
        assert rc == 1, rc  # 404: an HTTP error is exit status 1
        rc, c = cli(srv, tf, "close", "gamma")
        assert rc == 0 and c["disconnected"] == 1, (rc, c)
        await closed_with(a, 4003)
        assert cli(srv, tf, "frobnicate")[0] == 2
        bad = tf + ".wrong"
        with open(bad, "w") as f:
            f.write("not-the-token-at-all\n")
        try:
            assert cli(srv, bad, "status")[0] == 1
        finally:
            os.unlink(bad)
    rc, _ = cli(srv, tf, "status")
    assert rc == 3, rc  # the server is gone
    print("ok   iceway-signal admin: status, rooms, room, peer, kick, close; exit statuses")


async def main():
    tf = token_file()
    try:
        await single(tf)
        await with_cli(tf)
        if shutil.which("redis-server"):
            await cluster(tf)
        else:
            raise SystemExit("FAIL: redis-server not installed (tools/install-deps.sh test)")
    finally:
        os.unlink(tf)


if __name__ == "__main__":
    sigtest.run(main)
