"""Bad input on the wire: malformed STUN and ChannelData get a clear answer (400) or are
dropped, never a crash. Hand-written malformed datagrams first, then 100,000 seeded random
datagrams (pure random, mutated valid requests, random ChannelData headers). After each
phase the relay still answers a Binding and an authenticated Allocate, and relays through
an existing channel; with a sanitizer build its log holds no report.
"""

import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402

SEED = int(os.environ.get("IW_FUZZ_SEED", "20240611"))
DATAGRAMS = 100_000
SYNC_EVERY = 256
FUZZ_TIME_LIMIT = 240 * t.SLOW


def ok(m):
    return m is not None and m.cls == t.CLASS_SUCCESS


def show(m):
    return repr(m) if m is not None else "no response"


def hdr(method, cls, length, tid, cookie=t.MAGIC_COOKIE):
    return struct.pack("!HHI", t.msg_type(method, cls), length, cookie) + tid


def answer(cl, data, wait=0.5):
    """Send data and return the parsed response with the same transaction id, the raw bytes
    of any other reply, or None if nothing came back within wait seconds."""
    tid = data[8:20] if len(data) >= 20 else None
    cl.send_raw(data)
    deadline = time.monotonic() + wait * t.SLOW
    while True:
        d = cl.recv_raw(deadline - time.monotonic())
        if d is None:
            return None
        try:
            m = t.Msg(d)
        except ValueError:
            return d
        if tid is None or m.tid == tid:
            return m


class Peer:
    """A loopback UDP peer that counts and echoes what reaches it."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sock.setblocking(False)
        t._open_sockets.append(self.sock)

    def drain(self, echo=True):
        got = []
        while True:
            try:
                d, a = self.sock.recvfrom(65536)
            except BlockingIOError:
                return got
            got.append(d)
            if echo:
                self.sock.sendto(d, a)


def healthy(c, srv, chan_client, peer, phase):
    """The relay still works: Binding, a fresh authenticated Allocate, a round trip through
    the bound channel."""
    c.check(srv.alive(), "%s: server alive" % phase)
    c.check(t.binding_ok(srv.host, srv.port, 3.0 * t.SLOW), "%s: Binding answered" % phase)
    fresh = t.Client(srv)
    m = fresh.allocate()
    c.check(ok(m), "%s: authenticated Allocate succeeds" % phase, show(m))
    fresh.refresh(0)
    fresh.close()
    peer.drain(echo=False)
    payload = b"health-" + phase.encode()
    back = None
    for _ in range(3):  # UDP: a retry or two is not a relay fault
        chan_client.send_raw(t.channel_data(0x4001, payload))
        deadline = time.monotonic() + 2 * t.SLOW
        while back is None and time.monotonic() < deadline:
            time.sleep(0.01)
            peer.drain(echo=True)
            r = chan_client.recv_data(0.05)
            if r is not None and r[2] == payload:
                back = r
        if back:
            break
    c.check(back is not None and back[0] == "channel" and back[1] == 0x4001,
            "%s: ChannelData round trip through channel 0x4001" % phase, repr(back))


def handwritten(c, srv, victim, peer):
    tid = os.urandom(12)
    good = t.encode(t.METHOD_BINDING, t.CLASS_REQUEST, tid=tid)
    cl = t.Client(srv)

    def no_success(data, what):
        r = answer(cl, data)
        c.check(not (isinstance(r, t.Msg) and r.cls == t.CLASS_SUCCESS),
                "%s: no success response" % what, repr(r))
        return r

    def no_crash(data, what):
        r = answer(cl, data)
        c.skip("%s: 400 or dropped" % what, "coturn answers %r" % r)
        return r

    def bad_request_or_drop(data, what):
        r = answer(cl, data)
        c.check(r is None or (isinstance(r, t.Msg) and r.code == 400),
                "%s: 400 or dropped" % what, repr(r))
        return r

    for n in (0, 1, 4, 19):
        no_success(good[:n], "truncated header (%d bytes)" % n)
    no_success(hdr(t.METHOD_BINDING, t.CLASS_REQUEST, 100, tid) + b"\0" * 8,
               "header length 100 past an 8-byte body")
    bad_request_or_drop(hdr(t.METHOD_BINDING, t.CLASS_REQUEST, 6, tid) + b"\0" * 6,
                        "length not a multiple of 4")
    # Attribute length past the message: a valid header, one SOFTWARE attribute claiming 200.
    body = struct.pack("!HH", t.ATTR_SOFTWARE, 200) + b"abcd"
    strict = not t.is_coturn()  # coturn answers these leniently; iceway decodes strictly
    if strict:
        bad_request_or_drop(hdr(t.METHOD_BINDING, t.CLASS_REQUEST, len(body), tid) + body,
                            "attribute length past the message")
    else:
        no_crash(hdr(t.METHOD_BINDING, t.CLASS_REQUEST, len(body), tid) + body,
                 "attribute length past the message")
    # An attribute header cut in the middle: the header claims 12 bytes, the datagram
    # carries 10 (one whole attribute and half of the next header).
    body = struct.pack("!HH", t.ATTR_SOFTWARE, 4) + b"abcd" + b"\x80\x22"
    bad_request_or_drop(hdr(t.METHOD_BINDING, t.CLASS_REQUEST, 12, tid) + body,
                        "attribute header cut short")
    # A wrong FINGERPRINT: RFC 8489 §7.3 says discard or 400, never success.
    bad = bytearray(good)
    bad[-1] ^= 0xFF
    bad_request_or_drop(bytes(bad), "wrong FINGERPRINT")
    # Attribute after FINGERPRINT.
    body = good[20:] + t.attr(t.ATTR_SOFTWARE, b"late")
    bad_request_or_drop(hdr(t.METHOD_BINDING, t.CLASS_REQUEST, len(body), tid) + body,
                        "attribute after FINGERPRINT")
    # Wrong magic cookie: an RFC 3489 server may answer the old way (echoing the 16-byte
    # transaction id); anything else must be dropped.
    req = hdr(t.METHOD_BINDING, t.CLASS_REQUEST, 0, tid, cookie=0x12345678)
    r = answer(cl, req)
    c.check(r is None or (isinstance(r, bytes) and len(r) >= 20 and r[4:20] == req[4:20]),
            "wrong magic cookie: dropped or answered as RFC 3489", repr(r))
    # Responses and indications sent to the server get no answer.
    no_success(t.encode(t.METHOD_BINDING, t.CLASS_SUCCESS), "a Binding success sent to the server")
    r = answer(cl, t.encode(t.METHOD_ALLOCATE, t.CLASS_INDICATION))
    c.check(r is None, "an Allocate indication is ignored", repr(r))
    # Garbage starting with bytes that are neither STUN nor ChannelData.
    rnd = random.Random(SEED)
    quiet = True
    for first in (0x80, 0xC0, 0xFF, 0x50, 0x7F):
        r = answer(cl, bytes([first]) + bytes(rnd.randrange(256) for _ in range(60)), 0.2)
        quiet = quiet and r is None
    c.check(quiet, "garbage datagrams get no answer")

    # Authenticated requests that decode far enough get 400 (RFC 8656 §7.2, §9.1, §11.2).
    a = t.Client(srv)
    c.check(ok(a.allocate()), "allocation for the malformed-request checks")
    m = a.request(t.METHOD_ALLOCATE, [])
    c.check(m is not None and m.code in (400, 437),
            "Allocate without REQUESTED-TRANSPORT -> 400 (437 once allocated)", show(m))
    b = t.Client(srv)
    m = b.request(t.METHOD_ALLOCATE, [])
    c.check(m is not None and m.code == 400, "Allocate without REQUESTED-TRANSPORT -> 400",
            show(m))
    m = a.request(t.METHOD_CREATE_PERMISSION, [(t.ATTR_XOR_PEER_ADDRESS,
                                                struct.pack("!BBH", 0, 2, 0) + b"\0" * 4)])
    if strict:
        c.check(m is not None and m.code == 400, "XOR-PEER-ADDRESS IPv6 in 8 bytes -> 400",
                show(m))
    else:
        c.skip("XOR-PEER-ADDRESS IPv6 in 8 bytes -> 400", "coturn answers %s" % show(m))
    m = a.request(t.METHOD_CREATE_PERMISSION, [])
    c.check(m is not None and m.code == 400, "CreatePermission without XOR-PEER-ADDRESS -> 400",
            show(m))
    tid2 = os.urandom(12)
    m = a.request(t.METHOD_CHANNEL_BIND, [(t.ATTR_CHANNEL_NUMBER, b"\x40\x02"),
                                          (t.ATTR_XOR_PEER_ADDRESS,
                                           t.xor_addr_value("127.0.0.1", peer.port, tid2))],
                  tid=tid2)
    if strict:
        c.check(m is not None and m.code == 400, "CHANNEL-NUMBER of 2 bytes -> 400", show(m))
    else:
        c.skip("CHANNEL-NUMBER of 2 bytes -> 400", "coturn answers %s" % show(m))
    m = a.request(t.METHOD_REFRESH, [(t.ATTR_LIFETIME, b"\0\0")])
    c.check(m is not None and m.code == 400, "LIFETIME of 2 bytes -> 400", show(m))
    # A wrong MESSAGE-INTEGRITY (keyed with another password) is 401, never success
    # (RFC 8489 §9.2.4); FINGERPRINT stays valid so the message is not dropped earlier.
    raw = t.encode(t.METHOD_REFRESH, t.CLASS_REQUEST, [
        (t.ATTR_USERNAME, a.user.encode()), (t.ATTR_REALM, a.realm.encode()),
        (t.ATTR_NONCE, a.nonce)], key=t.long_term_key(a.user, a.realm, "not-the-password"))
    r = answer(a, raw)
    c.check(isinstance(r, t.Msg) and r.code == 401, "wrong MESSAGE-INTEGRITY -> 401", repr(r))

    # ChannelData on an unbound channel, and with a length past the datagram: nothing
    # reaches the peer.
    peer.drain(echo=False)
    victim.send_raw(t.channel_data(0x4ABC, b"unbound"))
    victim.send_raw(struct.pack("!HH", 0x4001, 400) + b"short")
    victim.send_raw(struct.pack("!HH", 0x4001, 2))  # header only, length past the end
    time.sleep(0.3 * t.SLOW)  # nothing to wait for: this checks an absence
    got = peer.drain(echo=False)
    c.check(not got, "ChannelData unbound / overlong: nothing forwarded to the peer", repr(got))


def mutate(rnd, data):
    b = bytearray(data)
    for _ in range(rnd.randrange(1, 6)):
        op = rnd.randrange(6)
        if op == 0 and b:
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        elif op == 1 and b:
            del b[rnd.randrange(len(b)):]
        elif op == 2:
            b += bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 40)))
        elif op == 3 and len(b) >= 4:
            struct.pack_into("!H", b, 2, rnd.choice([0, 4, len(b) - 20, len(b), 0xFFFF,
                                                     rnd.randrange(65536)]) & 0xFFFF)
        elif op == 4 and len(b) >= 24:
            # an attribute length field somewhere after the header
            off = 20 + 4 * rnd.randrange((len(b) - 20) // 4)
            if off + 4 <= len(b):
                struct.pack_into("!H", b, off + 2, rnd.choice([0, 1, 3, 0xFFFF,
                                                               rnd.randrange(65536)]))
        elif op == 5 and len(b) >= 24:
            off = 20 + 4 * rnd.randrange((len(b) - 20) // 4)
            if off + 2 <= len(b):
                struct.pack_into("!H", b, off, rnd.choice([
                    t.ATTR_XOR_PEER_ADDRESS, t.ATTR_MESSAGE_INTEGRITY, t.ATTR_FINGERPRINT,
                    t.ATTR_CHANNEL_NUMBER, t.ATTR_LIFETIME, t.ATTR_REQUESTED_TRANSPORT,
                    t.ATTR_REQUESTED_ADDRESS_FAMILY, t.ATTR_DATA, t.ATTR_USERNAME,
                    t.ATTR_NONCE, t.ATTR_REALM, 0x0031, 0x7FFF, rnd.randrange(65536)]))
    return bytes(b)


def fuzz(c, srv, victim, peer):
    rnd = random.Random(SEED)
    print("  seed %d, %d datagrams" % (SEED, DATAGRAMS))
    # Templates: valid requests as the authenticated client would send them.
    templates = [
        t.encode(t.METHOD_BINDING, t.CLASS_REQUEST),
        victim._build(t.METHOD_REFRESH, [(t.ATTR_LIFETIME, struct.pack("!I", 600))], True,
                      os.urandom(12)),
        victim._build(t.METHOD_ALLOCATE, [(t.ATTR_REQUESTED_TRANSPORT, b"\x11\0\0\0")], True,
                      os.urandom(12)),
    ]
    tid = os.urandom(12)
    templates.append(victim._build(t.METHOD_CREATE_PERMISSION, [
        (t.ATTR_XOR_PEER_ADDRESS, t.xor_addr_value("127.0.0.1", 0, tid))], True, tid))
    tid = os.urandom(12)
    templates.append(victim._build(t.METHOD_CHANNEL_BIND, [
        (t.ATTR_CHANNEL_NUMBER, b"\x40\x07\0\0"),
        (t.ATTR_XOR_PEER_ADDRESS, t.xor_addr_value("127.0.0.1", peer.port, tid))], True, tid))
    tid = os.urandom(12)
    templates.append(t.encode(t.METHOD_SEND, t.CLASS_INDICATION, [
        (t.ATTR_XOR_PEER_ADDRESS, t.xor_addr_value("127.0.0.1", peer.port, tid)),
        (t.ATTR_DATA, b"fuzz")], tid=tid))
    tid = os.urandom(12)
    templates.append(t.encode(t.METHOD_SEND, t.CLASS_INDICATION, [
        (t.ATTR_XOR_PEER_ADDRESS, t.xor_addr_value("::1", peer.port, tid)),
        (t.ATTR_DATA, b"fuzz6")], tid=tid))

    # Fuzz from the allocated client's 5-tuple (so ChannelData and Send reach the relay
    # path) and from a plain one.
    plain = t.Client(srv)
    senders = [victim.sock, plain.sock]
    for s in senders:
        s.setblocking(False)
    sync = t.Client(srv)
    sent = 0
    syncs_missed = 0
    kinds = [0, 0, 0]
    t0 = time.monotonic()
    while sent < DATAGRAMS and time.monotonic() - t0 < FUZZ_TIME_LIMIT:
        k = rnd.randrange(3)
        kinds[k] += 1
        if k == 0:
            d = bytes(rnd.randrange(256) for _ in range(rnd.choice([0, 1, 3, 4, 19, 20, 21,
                                                                    rnd.randrange(600)])))
        elif k == 1:
            d = mutate(rnd, rnd.choice(templates))
        else:
            ch = rnd.choice([0x4001, 0x4007, 0x4000, 0x4FFF, 0x5000, 0x7FFF,
                             rnd.randrange(0x4000, 0x8000)])
            n = rnd.randrange(0, 200)
            ln = rnd.choice([n, n + 1, n + 4, 0, 0xFFFF, rnd.randrange(65536)])
            d = struct.pack("!HH", ch, ln) + bytes(rnd.randrange(256) for _ in range(n))
        s = senders[rnd.randrange(2)]
        try:
            s.sendto(d, victim.server)
        except (BlockingIOError, OSError):
            pass
        sent += 1
        if sent % SYNC_EVERY == 0:
            # Pace on the server: a Binding answered means it kept up (bounded wait).
            for s in senders:
                try:
                    while True:
                        s.recv(65536)
                except (BlockingIOError, OSError):
                    pass
            peer.drain(echo=True)
            if sync.binding(timeout=1.0 * t.SLOW) is None:
                syncs_missed += 1
                if not srv.alive():
                    break
    for s in senders:
        s.setblocking(True)
    victim.pending.clear()
    dt = time.monotonic() - t0
    print("  sent %d datagrams in %.1f s (random %d, mutated %d, ChannelData %d); "
          "%d sync Bindings unanswered" % (sent, dt, kinds[0], kinds[1], kinds[2],
                                           syncs_missed))
    c.check(sent == DATAGRAMS, "all %d random datagrams sent within the time bound" % DATAGRAMS,
            "sent %d" % sent)
    c.check(srv.alive(), "server alive after the random datagrams")


def body(c):
    srv = t.Server(listen=("127.0.0.1", "::1"), relay=["127.0.0.1"]).start()
    print("server: %s pid %d port %d" % (srv.kind, srv.pid, srv.port))
    peer = Peer()
    victim = t.Client(srv)
    c.check(ok(victim.allocate()), "allocation for the channel")
    c.check(ok(victim.create_permission("127.0.0.1")), "permission for 127.0.0.1")
    c.check(ok(victim.channel_bind(0x4001, "127.0.0.1", peer.port)), "channel 0x4001 bound")
    healthy(c, srv, victim, peer, "start")
    handwritten(c, srv, victim, peer)
    healthy(c, srv, victim, peer, "after malformed datagrams")
    fuzz(c, srv, victim, peer)
    # The fuzz may have refreshed the allocation away: check with a fresh channel client.
    v2 = t.Client(srv)
    c.check(ok(v2.allocate()), "allocation after the random datagrams")
    c.check(ok(v2.create_permission("127.0.0.1")) and
            ok(v2.channel_bind(0x4001, "127.0.0.1", peer.port)), "channel bound after them")
    healthy(c, srv, v2, peer, "after random datagrams")
    if t.SANITIZED:
        rep = srv.sanitizer_report()
        c.check(not rep, "no sanitizer report in the log", "; ".join(rep[:3]))
    status = srv.stop()
    if srv.kind == "iceway":
        c.check(status == 0, "server exits 0 on SIGTERM", "status %s" % status)


t.run("test_relay_badinput", body)
