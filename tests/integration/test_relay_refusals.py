"""Refusals on the wire: each request the relay must turn down gets the exact error code
(and attributes) the RFCs name, and a refusal leaves no state behind.

RFC 8489 §9.2 (401, 438), RFC 8656 §7.2 (437, 440, 442, 486), RFC 6062 §5.1 (400 for TCP
over UDP), §9/§11 (403, 400 for channel numbers), RFC 8489 §6.3.1 (420 with UNKNOWN-ATTRIBUTES). The peer table checks the default
peer policy of a relay started without --allow-loopback-peers: special-purpose ranges,
including IPv4 addresses hidden in IPv6 forms, are refused with 403; documentation
addresses stand for public peers and get their permission. Only CreatePermission is sent
for them: no data ever goes to a non-loopback address.
"""

import os
import re
import signal
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402

# (peer, range the refusal should name). IPv4 peers go through an IPv4 allocation, IPv6
# peers through an IPv6 one, so the refusal is about the range, not the family (443).
REFUSED = [
    ("127.0.0.1", "127.0.0.0/8"),
    ("127.255.255.254", "127.0.0.0/8"),
    ("0.0.0.0", "0.0.0.0/8"),
    ("0.1.2.3", "0.0.0.0/8"),
    ("10.0.0.1", "10.0.0.0/8"),
    ("10.255.255.254", "10.0.0.0/8"),
    ("172.16.0.1", "172.16.0.0/12"),
    ("172.31.255.254", "172.16.0.0/12"),
    ("192.168.1.1", "192.168.0.0/16"),
    ("100.64.0.1", "100.64.0.0/10"),
    ("100.127.255.254", "100.64.0.0/10"),
    ("169.254.169.254", "169.254.0.0/16"),
    ("169.254.0.1", "169.254.0.0/16"),
    ("224.0.0.1", "224.0.0.0/4"),
    ("239.255.255.250", "224.0.0.0/4"),
    ("255.255.255.255", "255.255.255.255"),
    ("198.18.0.1", "198.18.0.0/15"),
    ("198.19.255.254", "198.18.0.0/15"),
    ("240.0.0.1", "240.0.0.0/4"),
    ("192.0.0.1", "192.0.0.0/24"),
    ("::1", "::1"),
    ("::", "::"),
    ("fe80::1", "fe80::/10"),
    ("febf::1", "fe80::/10"),
    ("fc00::1", "fc00::/7"),
    ("fd12:3456::1", "fc00::/7"),
    ("ff02::1", "ff00::/8"),
    ("ff05::1:3", "ff00::/8"),
    ("fec0::1", "fec0::/10"),
    # IPv4 inside IPv6: mapped, compatible, 6to4, NAT64, Teredo (client address inverted).
    ("::ffff:127.0.0.1", "127.0.0.0/8"),
    ("::ffff:169.254.169.254", "169.254.0.0/16"),
    ("::ffff:10.0.0.1", "10.0.0.0/8"),
    ("::127.0.0.1", "127.0.0.0/8"),
    ("2002:7f00:1::1", "127.0.0.0/8"),
    ("2002:a9fe:a9fe::1", "169.254.0.0/16"),
    ("64:ff9b::a9fe:a9fe", "169.254.0.0/16"),
    ("64:ff9b::7f00:1", "127.0.0.0/8"),
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "10.0.0.0/8"),  # Teredo, client 10.0.0.1
]
ALLOWED = ["203.0.113.1", "198.51.100.7", "192.0.2.33", "2001:db8::1", "2001:db8:ffff::2"]

# coturn refuses only some of these by default (loopback without --allow-loopback-peers,
# multicast/broadcast-like forms vary by version); iceway refuses all of them by design.
COTURN_REFUSES = {"127.0.0.1", "127.255.255.254", "::1", "0.0.0.0", "::"}


def ok(m):
    return m is not None and m.cls == t.CLASS_SUCCESS


def show(m):
    return repr(m) if m is not None else "no response"


def expect_error(c, m, code, what):
    return c.check(m is not None and m.cls == t.CLASS_ERROR and m.code == code,
                   "%s -> %d" % (what, code), show(m))


def auth_refusals(c):
    srv = t.Server(extra=["--stale-nonce=1"]).start()

    # Wrong password: 401 after the challenge, and no allocation was made (a correct
    # Allocate from the same 5-tuple then succeeds instead of getting 437).
    cl = t.Client(srv, password="wrong")
    m = cl.allocate()
    expect_error(c, m, 401, "Allocate with a wrong password")
    c.check(m is not None and m.has(t.ATTR_NONCE) and m.has(t.ATTR_REALM),
            "401 carries REALM and NONCE", show(m))
    cl.set_credentials(t.USER, t.PASSWORD)
    m = cl.allocate()
    c.check(ok(m) and cl.relayed is not None,
            "correct Allocate on the same 5-tuple succeeds (the 401 left nothing)", show(m))
    c.check(ok(m) and m.integrity_ok(cl.key), "success response has a valid MESSAGE-INTEGRITY",
            show(m))

    # Unknown user.
    cu = t.Client(srv, user="mallory", password="x")
    expect_error(c, cu.allocate(), 401, "Allocate for an unknown user")

    # 437: a second Allocate on the same 5-tuple (new transaction id), and a Refresh or a
    # CreatePermission without any allocation.
    expect_error(c, cl.allocate(), 437, "second Allocate on an allocated 5-tuple")
    cn = t.Client(srv)
    cn.binding()
    expect_error(c, cn.refresh(), 437, "Refresh without an allocation")
    if t.is_coturn():
        c.skip("CreatePermission without an allocation -> 437", "coturn answers 400")
    else:
        expect_error(c, cn.create_permission("127.0.0.1"), 437,
                     "CreatePermission without an allocation")

    # 442: a transport that is neither UDP nor TCP.
    expect_error(c, t.Client(srv).allocate(transport=99), 442,
                 "Allocate with REQUESTED-TRANSPORT 99")
    # A TCP allocation over UDP: RFC 6062 §5.1 says 400 (the client's connection is not TCP or
    # TLS); coturn runs with no-tcp-relay here (442). test_relay_rfc6062 covers the rest.
    expect_error(c, t.Client(srv).allocate(transport=t.PROTO_TCP), 442 if t.is_coturn() else 400,
                 "Allocate with REQUESTED-TRANSPORT TCP over UDP")
    # 440: no IPv6 relay address configured.
    expect_error(c, t.Client(srv).allocate(family=t.FAMILY_V6), 440,
                 "Allocate with REQUESTED-ADDRESS-FAMILY IPv6 and no IPv6 relay address")

    # 400: channel numbers outside 0x4000-0x4FFF (RFC 8656 §12). coturn still follows RFC
    # 5766's 0x4000-0x7FFF, so 0x5000 is checked for iceway only.
    peer = ("127.0.0.1", t.free_udp_port())
    expect_error(c, cl.channel_bind(0x3FFF, *peer), 400, "ChannelBind to channel 0x3FFF")
    if not t.is_coturn():
        expect_error(c, cl.channel_bind(0x5000, *peer), 400, "ChannelBind to channel 0x5000")
    m = cl.channel_bind(0x4000, *peer)
    c.check(ok(m), "ChannelBind to channel 0x4000 succeeds", show(m))
    # The same channel to another peer is a 400 (RFC 8656 §11.2).
    other = peer[1] + 1 if peer[1] < 65535 else 1
    m = cl.channel_bind(0x4000, "127.0.0.1", other)
    expect_error(c, m, 400, "ChannelBind of a bound channel to another peer")
    # And the bound peer to a second channel. iceway names the binding in the way, so a
    # client can tell its own reuse of a number from a relay fault.
    m2 = cl.channel_bind(0x4001, *peer)
    expect_error(c, m2, 400, "ChannelBind of a bound peer to another channel")
    if not t.is_coturn():
        c.check(m is not None and m.error is not None and
                m.error[1] == "Bad Request: channel 0x4000 is bound to another peer",
                "the 400 names the bound channel", show(m))
        c.check(m2 is not None and m2.error is not None and
                m2.error[1] == "Bad Request: peer is bound to channel 0x4000",
                "the 400 names the peer's channel", show(m2))
        want = "channel bind 0x4000 -> 127.0.0.1:%d refused: 0x4000 is bound to 127.0.0.1:%d" % (
            other, peer[1])
        c.check(want in srv.log_text(), "the relay's log names both peers", want)

    # 420: an unknown comprehension-required attribute in a Binding request.
    cb = t.Client(srv)
    m = cb.request(t.METHOD_BINDING, [(0x7F31, b"abcd")], auth=False)
    expect_error(c, m, 420, "Binding with unknown comprehension-required attribute 0x7F31")
    c.check(m is not None and 0x7F31 in m.unknown_attributes(),
            "420 lists 0x7F31 in UNKNOWN-ATTRIBUTES",
            show(m) + " unknown=%s" % (m.unknown_attributes() if m else None))
    # A comprehension-optional unknown attribute is ignored.
    m = cb.request(t.METHOD_BINDING, [(0xC0DE, b"abcd")], auth=False)
    c.check(ok(m), "Binding with unknown comprehension-optional attribute 0xC0DE succeeds",
            show(m))

    # 438: the nonce goes stale after --stale-nonce 1. Poll with the old nonce (bounded)
    # until the server calls it stale, and the 438 carries a fresh NONCE.
    old_nonce = cl.nonce
    deadline = time.monotonic() + 15 * t.SLOW
    m = None
    while time.monotonic() < deadline:
        cl.nonce = old_nonce
        m = cl.request(t.METHOD_REFRESH, [(t.ATTR_LIFETIME, struct.pack("!I", 600))],
                       retry_auth=False)
        if m is None or m.cls == t.CLASS_ERROR:
            break
        time.sleep(0.5)
    expect_error(c, m, 438, "Refresh with a nonce older than --stale-nonce")
    c.check(m is not None and m.has(t.ATTR_NONCE) and m.get(t.ATTR_NONCE) != old_nonce,
            "438 carries a new NONCE", show(m))
    m = cl.refresh(600)
    c.check(ok(m), "Refresh with the new nonce succeeds", show(m))

    # 486: --user-quota 1, a second allocation for the same user from another port.
    q = t.Server(extra=["--user-quota", "1"]).start()
    a = t.Client(q)
    c.check(ok(a.allocate()), "first allocation under --user-quota 1 succeeds")
    expect_error(c, t.Client(q).allocate(), 486,
                 "second allocation for the same user under --user-quota 1")
    m = a.refresh(0)
    c.check(ok(m), "Refresh with LIFETIME 0 deletes the allocation", show(m))
    # The quota is released when the allocation is gone; poll (bounded), a 486 leaves nothing.
    b = t.Client(q)
    deadline = time.monotonic() + 10 * t.SLOW
    while True:
        m = b.allocate()
        if ok(m) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    c.check(ok(m), "after the deletion the quota allows a new allocation", show(m))

    # REST API credentials.
    r = t.Server(auth="rest").start()
    name, pw = t.rest_credentials(t.REST_SECRET, "bob", ttl=600)
    m = t.Client(r, user=name, password=pw).allocate()
    c.check(ok(m), "Allocate with a valid REST credential succeeds", show(m))
    name, pw = t.rest_credentials(t.REST_SECRET, "bob", expiry=int(time.time()) - 60)
    expect_error(c, t.Client(r, user=name, password=pw).allocate(), 401,
                 "Allocate with an expired REST username")
    name, _ = t.rest_credentials(t.REST_SECRET, "bob", ttl=600)
    _, pw = t.rest_credentials("another-secret", "bob", ttl=600)
    expect_error(c, t.Client(r, user=name, password=pw).allocate(), 401,
                 "Allocate with a REST password from another secret")
    for s in (srv, q, r):
        c.check(s.alive(), "server %d alive after the refusals" % s.port)


def peer_policy(c):
    srv = t.Server(loopback_peers=False, relay=["127.0.0.1", "::1"]).start()
    c4 = t.Client(srv)
    c6 = t.Client(srv)
    m4, m6 = c4.allocate(), c6.allocate(family=t.FAMILY_V6)
    c.check(ok(m4), "IPv4 allocation", show(m4))
    c.check(ok(m6), "IPv6 allocation", show(m6))
    refused = 0
    for ip, rng in REFUSED:
        cl = c6 if ":" in ip else c4
        m = cl.create_permission(ip)
        if t.is_coturn() and ip not in COTURN_REFUSES:
            print("info %-40s coturn answers %s" % (ip, show(m)))
            continue
        if expect_error(c, m, 403, "CreatePermission %s" % ip):
            refused += 1
        if not t.is_coturn() and m is not None and m.code == 403:
            reason = m.error[1]
            # The option that would allow it: --allow-loopback-peers or --allowed-peer-ip.
            c.check(rng in reason and re.search(r"allow(-loopback-peers|ed-peer-ip)", reason),
                    "403 reason for %s names %s and the option" % (ip, rng), repr(reason))
    for ip in ALLOWED:
        cl = c6 if ":" in ip else c4
        m = cl.create_permission(ip)
        c.check(ok(m), "CreatePermission %s (documentation range, public) succeeds" % ip,
                show(m))
    # A family mismatch is 443 (RFC 8656 §9.1), not a policy refusal.
    m = c4.create_permission("2001:db8::1")
    expect_error(c, m, 443, "IPv6 peer on an IPv4 allocation")
    print("  %d peer addresses refused with 403" % refused)
    c.check(srv.alive(), "server alive after the peer table")


def embedded_allow(c):
    """An allow rule for an IPv6 form (64:ff9b::/96, a normal NAT64 set-up) does not reopen
    the special IPv4 addresses it embeds: each passes the IPv4 policy on its own."""
    srv = t.Server(loopback_peers=False, relay=["127.0.0.1", "::1"],
                   extra=["--allowed-peer-ip", "64:ff9b::/96"]).start()
    c6 = t.Client(srv)
    c.check(ok(c6.allocate(family=t.FAMILY_V6)), "IPv6 allocation under allowed-peer-ip=64:ff9b::/96")
    for ip, rng in (("64:ff9b::a9fe:a9fe", "169.254.0.0/16"), ("64:ff9b::7f00:1", "127.0.0.0/8"),
                    ("64:ff9b::a00:1", "10.0.0.0/8"), ("64:ff9b::c0a8:101", "192.168.0.0/16")):
        m = c6.create_permission(ip)
        if t.is_coturn():
            print("info %-40s coturn answers %s" % (ip, show(m)))
            continue
        expect_error(c, m, 403, "CreatePermission %s with allowed-peer-ip=64:ff9b::/96" % ip)
        c.check(m is not None and m.error is not None and rng in m.error[1],
                "the 403 for %s names %s" % (ip, rng), show(m))
    m = c6.create_permission("64:ff9b::cb00:7101")  # 203.0.113.1, public
    c.check(ok(m), "CreatePermission 64:ff9b::cb00:7101 (a public IPv4 address) succeeds", show(m))
    c.check(srv.alive(), "server alive after the embedded-address checks")


ATTR_RESERVATION_TOKEN = 0x0022


def even_port_quota(c):
    """EVEN-PORT reservations (RFC 8656 §7.2) count against user-quota and end with the
    allocation that made them: 70 rounds of Allocate with EVEN-PORT R=1 then Refresh 0 leave
    nothing held (the process holds 64 reservations at most), and the reserved port counts as
    an allocation of the user until it is redeemed."""
    if t.is_coturn():
        c.skip("EVEN-PORT reservations and user-quota", "iceway's accounting")
        return
    srv = t.Server(users=((t.USER, t.PASSWORD), ("bob", "bobpw")),
                   extra=["--user-quota", "2"]).start()
    even = [(t.ATTR_EVEN_PORT, b"\x80")]
    fails = 0
    for i in range(70):
        cl = t.Client(srv)
        m = cl.allocate(extra=even)
        if not (ok(m) and m.has(ATTR_RESERVATION_TOKEN)):
            fails += 1
            print("  round %d: %s" % (i, show(m)))
            if fails > 3:
                break
            continue
        if not ok(cl.refresh(0)):
            fails += 1
        cl.close()
    c.check(fails == 0, "70 rounds of EVEN-PORT R=1 then Refresh 0 all succeed "
            "(each reservation ends with its allocation)", "%d failed" % fails)
    mb = t.Client(srv, user="bob", password="bobpw").allocate(extra=even)
    c.check(ok(mb) and mb.has(ATTR_RESERVATION_TOKEN), "then another user's EVEN-PORT R=1 succeeds",
            show(mb))

    # Under --user-quota 2, an allocation with a reservation is two of the user's.
    a = t.Client(srv)
    m = a.allocate(extra=even)
    c.check(ok(m) and m.has(ATTR_RESERVATION_TOKEN), "EVEN-PORT R=1 under --user-quota 2", show(m))
    token = m.get(ATTR_RESERVATION_TOKEN) if m is not None else None
    m2 = t.Client(srv).allocate()
    c.check(m2 is not None and m2.code == 486,
            "a second allocation of the user while the reservation is held -> 486", show(m2))
    # Redeeming the token takes no second count: the reserved port was counted already.
    r = t.Client(srv)
    m3 = r.allocate(extra=[(ATTR_RESERVATION_TOKEN, token or b"\0" * 8)])
    c.check(ok(m3), "the user redeems the RESERVATION-TOKEN within the quota", show(m3))
    if ok(m) and ok(m3):
        c.check(m3.xor_addr(t.ATTR_XOR_RELAYED_ADDRESS)[1] ==
                m.xor_addr(t.ATTR_XOR_RELAYED_ADDRESS)[1] + 1, "on the odd port above the even one")
    m4 = t.Client(srv).allocate()
    c.check(m4 is not None and m4.code == 486, "a third allocation of the user -> 486", show(m4))
    # A user with one allocation left cannot reserve: the pair would be two more.
    for cl in (a, r):
        cl.refresh(0)
    one = t.Client(srv)
    c.check(ok(one.allocate()), "one plain allocation")
    m5 = t.Client(srv).allocate(extra=even)
    c.check(m5 is not None and m5.code == 486 and "EVEN-PORT" in (m5.error or (0, ""))[1],
            "EVEN-PORT R=1 with one allocation left of the quota -> 486 naming the reservation",
            show(m5))
    c.check(srv.alive(), "server alive after the EVEN-PORT checks")


def self_peers(c):
    """The relay never relays to itself: its listener, and its own addresses outside the relay
    range, are refused whatever the allow rules say (allow-self-peers would allow them);
    another allocation's relayed address stays an ordinary peer."""
    if t.is_coturn():
        c.skip("the relay's own addresses as peers", "iceway's policy")
        return
    ext = "203.0.113.9"  # advertised (external-ip), a public-looking address of the relay
    srv = t.Server(extra=["--external-ip", ext + "/127.0.0.1", "--allowed-peer-ip", "0.0.0.0"]).start()
    a, b = t.Client(srv), t.Client(srv)
    c.check(ok(a.allocate()) and ok(b.allocate()), "two allocations for the self-peer checks")
    for i, (peer, what) in enumerate(((("127.0.0.1", srv.port), "listening port"),
                                      ((ext, 53), "address outside the relay port range"),
                                      ((ext, srv.port), "listening port"))):
        m = a.channel_bind(0x4100 + i, *peer)
        expect_error(c, m, 403, "ChannelBind to the relay's own %s:%d" % peer)
        c.check(m is not None and m.error is not None and "own " + what in m.error[1] and
                "allow-self-peers" in m.error[1], "the 403 says why (own %s)" % what, show(m))
    # 0.0.0.0 is "this host": refused even where an allow rule covers it.
    expect_error(c, a.create_permission("0.0.0.0"), 403,
                 "CreatePermission 0.0.0.0 with allowed-peer-ip=0.0.0.0")
    # A Send indication to the listener: with a permission for 127.0.0.1 (loopback peers are
    # allowed here), a Binding request sent through the relay to its own listener must not
    # come back as a Data indication.
    c.check(ok(a.create_permission("127.0.0.1")), "permission for 127.0.0.1")
    a.pending.clear()
    inner = t.encode(t.METHOD_BINDING, t.CLASS_REQUEST)
    a.send_indication("127.0.0.1", srv.port, inner)
    got = a.recv_data(1.0 * t.SLOW)  # checks an absence
    c.check(got is None, "a Send indication to the relay's own listener is not relayed",
            repr(got))
    # Relay to relay through one server still works: b's relayed address is a peer.
    rip, rport = b.relayed
    c.check(ok(a.channel_bind(0x4200, "127.0.0.1", rport)),
            "ChannelBind to another allocation's relayed port succeeds", repr(b.relayed))
    c.check(ok(b.create_permission("127.0.0.1")), "the other allocation permits the first")
    a.send_raw(t.channel_data(0x4200, b"relay-to-relay"))
    got = b.recv_data(2.0 * t.SLOW)
    c.check(got is not None and got[2] == b"relay-to-relay",
            "relay to relay through one relay arrives", repr(got))
    c.check(srv.alive(), "server alive after the self-peer checks")
    # allow-self-peers opens the listener again (single-host tests only).
    op = t.Server(extra=["--allow-self-peers"]).start()
    o = t.Client(op)
    c.check(ok(o.allocate()), "allocation with allow-self-peers")
    c.check(ok(o.channel_bind(0x4000, "127.0.0.1", op.port)),
            "allow-self-peers: ChannelBind to the listener succeeds")


class _Stream:
    """The requests self_peers_transports sends, over one TCP or TLS connection."""

    def __init__(self, srv, port, tls):
        self.cl = t.StreamClient(srv.host, port, tls=tls)

    def allocate(self):
        return self.cl.request(t.METHOD_ALLOCATE, [(t.ATTR_REQUESTED_TRANSPORT,
                                                    struct.pack("!B3x", t.PROTO_UDP))])

    def create_permission(self, ip):
        return self.cl.request(t.METHOD_CREATE_PERMISSION, [], xpeer=(ip, 0))

    def channel_bind(self, channel, ip, port):
        return self.cl.request(t.METHOD_CHANNEL_BIND,
                               [(t.ATTR_CHANNEL_NUMBER, struct.pack("!H2x", channel))],
                               xpeer=(ip, port))

    def send_indication(self, ip, port, payload):
        tid = os.urandom(12)
        attrs = [(t.ATTR_XOR_PEER_ADDRESS, t.xor_addr_value(ip, port, tid)), (t.ATTR_DATA, payload)]
        self.cl.s.sendall(t.encode(t.METHOD_SEND, t.CLASS_INDICATION, attrs, tid=tid))

    def recv_data(self, timeout):
        """The first Data indication or ChannelData within timeout, else None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            d = t.recv_frame(self.cl.s, deadline - time.monotonic(), self.cl.rest)
            if d is None:
                return None
            if d[0] >= 0x40:
                return d
            m = t.Msg(d)
            if m.method == t.METHOD_DATA and m.cls == t.CLASS_INDICATION:
                return m
        return None

    def close(self):
        self.cl.s.close()


def self_peers_transports(c):
    """The relay's own listeners are refused as peers whichever transport the client
    allocated over: a client on TCP or TLS gets the same 403s as one on UDP, for the
    listening port and the TLS listening port, from the start and after a SIGHUP reload."""
    if t.is_coturn():
        c.skip("the relay's own listeners as peers over TCP and TLS", "iceway's policy")
        return
    d = t.tmpdir("iwtest-self-")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    t.make_cert(cert, key)
    tls_port, mport = t.free_tcp_port(), t.free_tcp_port()
    srv = t.Server(nports=40, extra=["--tls-listening-port", str(tls_port), "--cert", cert,
                                     "--pkey", key, "--prometheus", "--prometheus-port",
                                     str(mport)]).start()
    inner = t.encode(t.METHOD_BINDING, t.CLASS_REQUEST)

    def round_(when):
        clients = (("UDP", t.Client(srv)), ("TCP", _Stream(srv, srv.port, False)),
                   ("TLS", _Stream(srv, tls_port, True)))
        for i, (tr, cl) in enumerate(clients):
            what = "over %s %s" % (tr, when)
            if not c.check(ok(cl.allocate()), "Allocate " + what):
                continue
            for j, port in enumerate((srv.port, tls_port)):
                m = cl.channel_bind(0x4100 + 2 * i + j, "127.0.0.1", port)
                expect_error(c, m, 403, "ChannelBind to the relay's own 127.0.0.1:%d %s" %
                             (port, what))
                c.check(m is not None and m.error is not None and
                        "own listening port" in m.error[1],
                        "the 403 names the listening port (%d %s)" % (port, what), show(m))
            # The relay range stays open on the relay's address (relay to relay).
            m = cl.channel_bind(0x4200 + i, "127.0.0.1", srv.min_port)
            c.check(ok(m), "ChannelBind to 127.0.0.1:min-port %s succeeds" % what, show(m))
            # A permission for the relay's address is allowed (policy.h); a Binding request
            # sent through it to the UDP listener must not come back as data.
            c.check(ok(cl.create_permission("127.0.0.1")), "permission for 127.0.0.1 " + what)
            if tr == "UDP":
                cl.pending.clear()
            cl.send_indication("127.0.0.1", srv.port, inner)
            got = cl.recv_data(1.0 * t.SLOW)  # checks an absence
            c.check(got is None, "a Send indication to the UDP listener is not relayed " + what,
                    repr(got))
            cl.close()

    round_("before a reload")
    os.kill(srv.pid, signal.SIGHUP)
    c.check(t.wait_metric(mport, "iceway_relay_config_reloads_total", lambda v: v >= 1) == 1,
            "reload accepted (config_reloads_total == 1)")
    time.sleep(0.5)  # every worker adopts the new snapshot within one 250 ms wake-up
    round_("after a reload")
    c.check(srv.alive(), "server alive after the self-peer checks over every transport")


def body(c):
    auth_refusals(c)
    peer_policy(c)
    embedded_allow(c)
    self_peers(c)
    self_peers_transports(c)
    even_port_quota(c)
    if t.SANITIZED:
        for s in t._servers:
            c.check(not s.sanitizer_report(), "no sanitizer report in %s" % s.log_path)


t.run("test_relay_refusals", body)
