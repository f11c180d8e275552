"""A pool of two real relays behind one iceway-signal (--relay ...,metrics=...): welcome's
iceServers name the least loaded relay that answers its metrics; a dead relay is left out after
the poll interval; a draining relay answers new Allocates with 300 Try Alternate naming its peer
(RFC 8489 §10, ALTERNATE-SERVER) while its existing allocations keep relaying."""
import asyncio
import os
import re
import signal
import socket
import time
import urllib.request

import iwtest as t
import sigtest
from sigtest import Peer

SECRET = "pool-relays-share-this"
ATTR_ALTERNATE_SERVER = 0x8023
POLL = 1  # --relay-poll-interval, seconds
WAIT = 15.0 * t.SLOW  # bound on every wait for the poller to notice a change


free_tcp_port = t.free_tcp_port


def scrape_ok(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


class Relay:
    """iceway-relay with REST auth and Prometheus metrics on free loopback ports."""

    def __init__(self, alternate=None):
        self.mport = free_tcp_port()
        extra = ["--prometheus", "--prometheus-port", str(self.mport), "--drain-timeout", "3600"]
        if alternate:
            extra += ["--drain-alternate-server", alternate]
        self.srv = t.Server(auth="rest", secret=SECRET, extra=extra, nports=40)
        self.port = self.srv.port
        self.turn = "turn:127.0.0.1:%d?transport=udp" % self.port

    def start(self):
        self.srv.start()
        deadline = time.monotonic() + WAIT
        while not scrape_ok(self.mport):
            assert time.monotonic() < deadline, "relay metrics never answered:\n" + \
                self.srv.log_text()
            time.sleep(0.05)
        return self

    def spec(self):
        return "%s,metrics=http://127.0.0.1:%d/metrics" % (self.turn, self.mport)


def relay_metric(srv, name, relay):
    status, body = srv.metrics_get()
    assert status == 200
    for line in body.splitlines():
        if line.startswith('%s{relay="%s"} ' % (name, relay.turn)):
            return float(line.split()[-1])
    raise AssertionError("no %s for %s in:\n%s" % (name, relay.turn, body))


async def wait_metric(srv, name, relay, want):
    deadline = time.monotonic() + WAIT
    while True:
        v = relay_metric(srv, name, relay)
        if v == want:
            return
        assert time.monotonic() < deadline, "%s{%s} stayed %s, want %s" % (
            name, relay.turn, v, want)
        await asyncio.sleep(0.1)


async def welcome(srv, room):
    p = await Peer.connect(srv.url)
    w = await p.join(room)
    await p.close()
    turn = [s for s in w["iceServers"] if any(u.startswith("turn:") for u in s["urls"])]
    stun = [u for s in w["iceServers"] for u in s["urls"] if u.startswith("stun:")]
    assert len(turn) == 1, w["iceServers"]
    return turn[0]["urls"], stun, turn[0]["username"], turn[0]["credential"]


def alloc(relay, user, cred):
    c = t.Client("127.0.0.1", relay.port, user=user, password=cred)
    m = c.allocate()
    assert m is not None and m.cls == t.CLASS_SUCCESS, "Allocate on %d: %r" % (relay.port, m)
    return c


def channel_roundtrip(cl, peer, channel, payload):
    """payload client -> channel -> peer, and back through the relayed address."""
    for _ in range(3):
        cl.send_raw(t.channel_data(channel, payload))
        peer.settimeout(2 * t.SLOW)
        try:
            d, _ = peer.recvfrom(2048)
        except socket.timeout:
            continue
        if d != payload:
            continue
        peer.sendto(payload[::-1], ("127.0.0.1", cl.relayed[1]))
        r = cl.recv_data(2 * t.SLOW)
        if r is not None and r[0] == "channel" and r[1] == channel and r[2] == payload[::-1]:
            return True
    return False


async def main():
    b = Relay()
    a = Relay(alternate="127.0.0.1:%d" % b.port)
    a.start()
    b.start()
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    t._open_sockets.append(peer)
    srv = sigtest.Server("--static-auth-secret", SECRET, "--relay", a.spec(), "--relay", b.spec(),
                         "--relay-poll-interval", str(POLL))
    try:
        await wait_metric(srv, "iceway_signal_relay_up", a, 1)
        await wait_metric(srv, "iceway_signal_relay_up", b, 1)

        # Both idle: equal load, so they take turns.
        seen = set()
        for i in range(4):
            urls, stun, _, _ = await welcome(srv, "idle-%d" % i)
            assert urls in ([a.turn], [b.turn]), urls
            assert stun == [urls[0].split("?")[0].replace("turn:", "stun:")], stun
            seen.add(urls[0])
        assert seen == {a.turn, b.turn}, seen

        # Two allocations on A with a welcome's credentials make A the busier relay.
        _, _, user, cred = await welcome(srv, "load")
        held = [alloc(a, user, cred), alloc(a, user, cred)]
        await wait_metric(srv, "iceway_signal_relay_allocations", a, 2)
        for i in range(3):
            urls, _, _, _ = await welcome(srv, "busy-%d" % i)
            assert urls == [b.turn], "A carries 2 allocations, B none: want B, got %s" % urls
        st, body = srv.get("/api/turn?service=turn&username=app")
        assert st == 200 and b.turn in body and a.turn not in body, body

        # B dies: after the poll interval, only A is handed out.
        b.srv.proc.kill()
        b.srv.proc.wait()
        await wait_metric(srv, "iceway_signal_relay_up", b, 0)
        for i in range(3):
            urls, _, _, _ = await welcome(srv, "b-dead-%d" % i)
            assert urls == [a.turn], "B is down: want A, got %s" % urls

        # B back on its port, then A drains: new Allocates to A get 300 naming B, which
        # takes them with the same credentials; A's existing allocation keeps relaying.
        b.start()
        await wait_metric(srv, "iceway_signal_relay_up", b, 1)
        keep = held[0]
        m = keep.channel_bind(0x4001, "127.0.0.1", peer.getsockname()[1])
        assert m is not None and m.cls == t.CLASS_SUCCESS, m
        assert channel_roundtrip(keep, peer, 0x4001, b"before-drain")
        os.kill(a.srv.pid, signal.SIGTERM)
        deadline = time.monotonic() + WAIT
        while not re.search("draining", a.srv.log_text()):
            assert time.monotonic() < deadline, "relay A never logged draining"
            await asyncio.sleep(0.05)
        _, _, user, cred = await welcome(srv, "drain")
        c = t.Client("127.0.0.1", a.port, user=user, password=cred)
        m = c.allocate()
        assert m is not None and m.code == 300, "Allocate on draining A: %r" % m
        v = m.get(ATTR_ALTERNATE_SERVER)
        assert v is not None and t.decode_plain_addr(v) == ("127.0.0.1", b.port), repr(v)
        alloc(b, user, cred)  # the alternate takes it
        assert channel_roundtrip(keep, peer, 0x4001, b"while-draining"), \
            "the allocation on draining A stopped relaying"
        # the pool sees A draining and sends new clients to B only
        await wait_metric(srv, "iceway_signal_relay_up", a, 0)
        for i in range(3):
            urls, _, _, _ = await welcome(srv, "a-drains-%d" % i)
            assert urls == [b.turn], "A drains: want B, got %s" % urls

        # Neither answers: every relay is listed, and that is counted.
        b.srv.proc.kill()
        b.srv.proc.wait()
        await wait_metric(srv, "iceway_signal_relay_up", b, 0)
        before = srv.metric("iceway_signal_relay_none_up_total")
        urls, _, _, _ = await welcome(srv, "none-up")
        assert sorted(urls) == sorted([a.turn, b.turn]), urls
        assert srv.metric("iceway_signal_relay_none_up_total") == before + 1
        for c in held:
            c.close()
    except BaseException:
        for r in (a, b):
            r.srv.dump_log(40)
        print(srv.text()[-4000:])
        raise
    finally:
        srv.stop()
        for r in (a, b):
            if r.srv.alive():
                r.srv.proc.kill()
                r.srv.proc.wait()
            r.srv.stop()


sigtest.run(main)
