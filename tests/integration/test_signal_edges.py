"""WebSocket protocol edges against iceway-signal with a low-level client (wsproto and
hand-built frames): fragmentation, bad UTF-8, oversize frames, the close handshake, a peer
that goes silent (half-open), a wrong path, messages of several connections arriving
interleaved in pieces, and SIGTERM closing everyone with 1001."""
import asyncio
import json
import time

import sigtest
from sigtest import Peer, RawWS, Server, close_code

from wsproto.events import CloseConnection, Pong, TextMessage


def is_close(e):
    return isinstance(e, CloseConnection) or e == "eof"


def is_text(e):
    return isinstance(e, TextMessage) and e.message_finished


def edges():
    with Server("--max-message-size", "4096", "--ping-interval", "1", "--idle-timeout", "3",
                "--resume-grace", "1") as srv:
        # a message in three fragments (RFC 6455 §5.4) is one message
        c = RawWS(srv.port)
        assert c.accepted
        msg = json.dumps({"type": "join", "room": "edge", "peer": "frag"}).encode()
        c.send_raw(RawWS.frame(0x1, msg[:5], fin=False) + RawWS.frame(0x0, msg[5:12], fin=False))
        # a ping between fragments is answered and does not break the message (§5.5)
        c.send_raw(RawWS.frame(0x9, b"hi"))
        c.send_raw(RawWS.frame(0x0, msg[12:], fin=True))
        m = c.json_messages(c.events(until=is_text))
        assert m and m[0]["type"] == "welcome" and m[0]["peer"] == "frag", m

        # over the message limit but not absurdly: an error, and the connection stays usable
        big = json.dumps({"type": "ping", "pad": "x" * 5000})
        c.send_text(big)
        m = c.json_messages(c.events(until=is_text))
        assert m[0]["type"] == "error" and m[0]["code"] == "too-large", m
        # ... also when the oversize message comes in fragments
        c.send_raw(RawWS.frame(0x1, big[:3000].encode(), fin=False) +
                   RawWS.frame(0x0, big[3000:].encode(), fin=True))
        m = c.json_messages(c.events(until=is_text))
        assert m[0]["code"] == "too-large", m
        c.send_text(json.dumps({"type": "ping", "id": 1}))
        m = c.json_messages(c.events(until=is_text))
        assert m[0] == {"type": "pong", "ref": 1}, m
        # the close handshake: the server answers our close and closes the TCP connection
        c.send_raw(RawWS.frame(0x8, (1000).to_bytes(2, "big") + b"bye"))
        evs = c.events(until=lambda e: e == "eof")
        assert close_code(evs) == 1000, evs
        assert "eof" in evs
        c.close()

        # invalid UTF-8 in a text frame: 1007 (RFC 6455 §8.1)
        c = RawWS(srv.port)
        c.send_raw(RawWS.frame(0x1, b'{"type":"ping","x":"\xc3\x28"}'))
        evs = c.events(until=is_close)
        assert close_code(evs) == 1007, evs
        c.close()

        # a frame that declares far more than the limit: 1009 before reading it
        c = RawWS(srv.port)
        c.send_raw(RawWS.frame(0x1, b"{", length=10 * 1024 * 1024))
        evs = c.events(until=is_close)
        assert close_code(evs) == 1009, evs
        c.close()

        # a reserved opcode is a protocol error: 1002
        c = RawWS(srv.port)
        c.send_raw(RawWS.frame(0x3, b"x"))
        evs = c.events(until=is_close)
        assert close_code(evs) in (1002, None) and ("eof" in evs or close_code(evs)), evs
        c.close()

        # the WebSocket endpoint is /ws only
        c = RawWS(srv.port, target="/other")
        assert c.accepted is False
        c.close()

        # a peer that stops answering (a half-open TCP connection looks the same from
        # here): removed after the idle timeout plus the grace period, and the room is told
        async def silent():
            watcher = await Peer.connect(srv.url)
            await watcher.join("hb")
            quiet = RawWS(srv.port, rcvbuf=4096)
            quiet.send_text(json.dumps({"type": "join", "room": "hb"}))
            wid = None
            m = await watcher.expect("peer-joined")
            wid = m["peer"]
            # quiet never reads again, so it never answers a ping; the wait is bounded by
            # idle-timeout + grace + tick, with headroom for a loaded machine
            left = await watcher.expect("peer-left", timeout=20)
            assert left["peer"] == wid
            assert srv.metric("iceway_signal_closed_idle_total") >= 1
            # the watcher itself answers pings (websockets does) and stays
            await watcher.send({"type": "ping", "id": 2})
            assert (await watcher.expect("pong"))["ref"] == 2
            quiet.close()
            await watcher.close()
        asyncio.run(asyncio.wait_for(silent(), 60))


def interleaved():
    """lws hands a payload over in small pieces, and a larger message is put together in one
    buffer shared by all connections. Messages whose pieces arrive interleaved with another
    connection's (the rest of a frame, or the next fragment, still on the wire) each arrive
    whole and unmixed: relayed byte for byte, and the shared buffer's holder moved out."""
    with Server() as srv:
        async def go():
            r = await Peer.connect(srv.url)
            await r.join("mix", peer="r")
            senders = {}
            for name in "abc":
                c = RawWS(srv.port)
                c.send_text(json.dumps({"type": "join", "room": "mix", "peer": name}))
                assert (await r.expect("peer-joined"))["peer"] == name
                senders[name] = c
            sdp = {n: "v=0\r\na=x-%s:" % n + "".join(chr(97 + (i * 7 + ord(n)) % 26)
                                                      for i in range(3000 + 500 * k))
                   for k, n in enumerate("abc")}
            wire = {n: json.dumps({"type": "offer", "to": "r", "sdp": sdp[n]}).encode()
                    for n in "abc"}
            pause = 0.3  # the server reads each part before the next is sent
            # a: the first half of one frame; b: a whole frame, which moves a's bytes out
            fa = RawWS.frame(0x1, wire["a"])
            senders["a"].send_raw(fa[:len(fa) // 2])
            time.sleep(pause)
            senders["b"].send_text(wire["b"].decode())
            time.sleep(pause)
            # c: a first fragment, then the rest of a's frame, then c's last fragment
            senders["c"].send_raw(RawWS.frame(0x1, wire["c"][:2000], fin=False))
            time.sleep(pause)
            senders["a"].send_raw(fa[len(fa) // 2:])
            time.sleep(pause)
            senders["c"].send_raw(RawWS.frame(0x0, wire["c"][2000:], fin=True))
            got = {}
            for _ in range(3):
                m = await r.expect("offer")
                got[m["from"]] = m["sdp"]
            assert got == sdp, {k: (len(v), v[:40]) for k, v in got.items()}
            assert srv.metric("iceway_signal_received_parked_total") >= 1
            # a frame that comes a few bytes per read, header included, is still handed over
            # from lws's read buffer, never gathered in the small control-frame buffer (which
            # 4,000 bytes would overrun)
            fb = RawWS.frame(0x1, wire["b"])
            for i in range(0, len(fb), 13):
                senders["b"].send_raw(fb[i:i + 13])
                time.sleep(0.002)
            assert (await r.expect("offer"))["sdp"] == sdp["b"]
            # a control frame split across two reads, with another connection's control frame
            # read in between: its pong carries its own payload, never the other's, and so
            # does the close echo
            a, b = senders["a"], senders["b"]
            ping = RawWS.frame(0x9, b"split-ping")
            a.send_raw(ping[:9])  # header, mask and 3 bytes of payload
            time.sleep(pause)
            b.send_raw(RawWS.frame(0x9, b"b-secret-ping-data"))
            evs = b.events(until=lambda e: isinstance(e, Pong))
            assert any(isinstance(e, Pong) and bytes(e.payload) == b"b-secret-ping-data"
                       for e in evs), evs
            a.send_raw(ping[9:])
            evs = a.events(until=lambda e: isinstance(e, Pong))
            assert any(isinstance(e, Pong) and bytes(e.payload) == b"split-ping" for e in evs), evs
            bye = RawWS.frame(0x8, (1000).to_bytes(2, "big") + b"split close")
            a.send_raw(bye[:10])  # header, mask, the code and 2 bytes of the reason
            time.sleep(pause)
            c = senders["c"]
            c.send_raw(RawWS.frame(0x8, (1000).to_bytes(2, "big") + b"c's own reason"))
            evs = c.events(until=lambda e: e == "eof")
            assert close_code(evs) == 1000, evs
            a.send_raw(bye[10:])
            evs = a.events(until=lambda e: e == "eof")
            assert close_code(evs) == 1000, evs
            reasons = [e.reason for e in evs if isinstance(e, CloseConnection)]
            assert reasons[0] == "split close", evs
            for c in senders.values():
                c.close()
            await r.close()
        asyncio.run(asyncio.wait_for(go(), 60))


def control_overrun():
    """lws counts a pong refused as bad UTF-8 (after a text frame) into its receive buffer and
    keeps the connection while its close goes out: the next control frame is written after
    it. That stays within the connection's own buffer: the service keeps serving, and
    other connections' pongs carry their own payloads."""
    with Server() as srv:
        async def go():
            bystander = RawWS(srv.port)
            attackers = []
            for _ in range(40):
                c = RawWS(srv.port)
                c.send_text(json.dumps({"type": "ping", "id": 1}))
                c.send_raw(RawWS.frame(0xA, b"\xff" * 125))
                attackers.append(c)
            time.sleep(0.3)
            for c in attackers:
                c.send_raw(RawWS.frame(0x9, b"A" * 125))
            for c in attackers:
                evs = c.events(until=is_close)
                assert close_code(evs) == 1007, evs
            bystander.send_raw(RawWS.frame(0x9, b"bystander"))
            evs = bystander.events(until=lambda e: isinstance(e, Pong))
            assert any(isinstance(e, Pong) and bytes(e.payload) == b"bystander" for e in evs), evs
            p = await Peer.connect(srv.url)
            await p.join("after")
            await p.close()
            for c in attackers + [bystander]:
                c.close()
        asyncio.run(asyncio.wait_for(go(), 60))
        assert srv.proc.poll() is None, srv.text()[-3000:]


def upgrades():
    """Only WebSocket: an Upgrade to h2c (HTTP/2 over a plain connection, which lws would
    switch to) gets 403, on the WebSocket path and elsewhere, and the service carries on."""
    import socket
    with Server() as srv:
        for path in ("/ws", "/"):
            c = socket.create_connection(("127.0.0.1", srv.port), timeout=sigtest.TIMEOUT)
            c.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                       "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n" % path)
                      .encode())
            head = c.recv(4096)
            assert head.split(b" ")[1] == b"403", (path, head[:200])
            c.close()
        async def go():
            p = await Peer.connect(srv.url)
            await p.join("after-h2c")
            await p.close()
        asyncio.run(asyncio.wait_for(go(), 30))


def shutdown():
    srv = Server("--shutdown-timeout", "5")
    try:
        async def go():
            a = await Peer.connect(srv.url)
            await a.join("bye")
            b = RawWS(srv.port)
            b.send_text(json.dumps({"type": "join", "room": "bye"}))
            await a.expect("peer-joined")
            srv.proc.send_signal(__import__("signal").SIGTERM)
            evs = b.events(until=is_close)
            assert close_code(evs) == 1001, evs
            try:
                await asyncio.wait_for(a.ws.recv(), sigtest.TIMEOUT)
                raise AssertionError("still open after SIGTERM")
            except __import__("websockets").ConnectionClosed as e:
                assert e.code == 1001, e
            b.close()
            # the process exits by itself (shutdown-timeout bounds it) and cleanly
            rc = srv.proc.wait(timeout=sigtest.TIMEOUT)
            assert rc == 0, srv.text()
        asyncio.run(asyncio.wait_for(go(), 60))
        srv.stop()
    except BaseException:
        print(srv.text()[-3000:])
        srv.close()
        raise


edges()
interleaved()
control_overrun()
upgrades()
shutdown()
print("PASS")
