"""RFC 6062 TCP allocations on the wire, against a real TCP peer (a Python socket), with each
refusal the RFC names and each bound of the relay hit by a credential holder:

- Allocate with REQUESTED-TRANSPORT TCP: 400 over UDP (§5.1), 400 with EVEN-PORT or
  DONT-FRAGMENT, success over TCP; no-tcp-relay refuses TCP with 442, no-udp-relay UDP.
- Connect (§5.2): success with a 4-byte CONNECTION-ID, the peer sees the relayed address as
  its source; 446 for the same peer again; 447 for a closed port and for a peer that never
  answers (tcp-relay-connect-timeout); 403 for a denied-peer-ip and for the relay's own
  listening port; 400 on a UDP allocation. ChannelBind on a TCP allocation gets 400, and its
  Send indications and ChannelData go nowhere.
- ConnectionBind (§5.4): success on a new connection, then bytes both ways with no framing;
  400 for an unknown id, for an id bound already and over UDP; 441 for another user; a
  connection whose ConnectionBind is refused is closed.
- A peer connecting to the relayed address (§5.3): closed without a permission; with one, a
  ConnectionAttempt with CONNECTION-ID and XOR-PEER-ADDRESS; closed when not bound in time.
- Closing: the peer's close closes the data connection and the reverse; Refresh 0 closes all.
- Bounds: tcp-relay-max-per-allocation, tcp-relay-max-pending, tcp-relay-max-connections
  answer 508 (Connect) or close (incoming peer), each counted in iceway_relay_tcp_*.
- Backpressure: a peer that does not read stops the client's sender once the buffers fill
  (no unbounded growth in the relay), and every byte arrives when it reads again.
- The same with an IPv6 relayed address and peer.
"""

import os
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402

METHOD_CONNECT, METHOD_CONNECTION_BIND, METHOD_CONNECTION_ATTEMPT = 0x000A, 0x000B, 0x000C
ATTR_CONNECTION_ID = 0x002A
TIMEOUT_S = 2  # tcp-relay-connect-timeout of the relays here
TCP = [(t.ATTR_REQUESTED_TRANSPORT, struct.pack("!B3x", t.PROTO_TCP))]
M = "iceway_relay_tcp_"


def code(m):
    return None if m is None else (m.code if m.cls == t.CLASS_ERROR else 0)


def listener(backlog=8):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(backlog)
    s.settimeout(3 * t.SLOW)
    return s


def full_listener():
    """A listener whose accept queue is full: the kernel drops further SYNs, so a connect to
    it neither succeeds nor fails until it gives up."""
    s = listener(0)
    fillers = []
    for _ in range(3):
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex(s.getsockname())
        fillers.append(f)
    time.sleep(0.2)
    return s, fillers


def tcp_alloc(srv, extra=()):
    c = t.StreamClient(srv.host, srv.port)
    m = c.request(t.METHOD_ALLOCATE, TCP + list(extra))
    return c, m


def data_conn(srv, ctl, cid, user=t.USER, password=t.PASSWORD):
    """A new connection that sends ConnectionBind for cid with ctl's nonce (RFC 6062 §5.4:
    the same credentials as the allocation), and once more with the nonce a 438 or 401 gives
    (the relay checks a nonce against the control connection of a CONNECTION-ID it knows, so an
    unknown one gets a nonce of its own first): (socket, answer)."""
    d = socket.create_connection((srv.host, srv.port), timeout=5)
    key = t.long_term_key(user, ctl.realm, password)
    nonce, m = ctl.nonce, None
    for _ in range(2):
        attrs = [(ATTR_CONNECTION_ID, cid), (t.ATTR_USERNAME, user.encode()),
                 (t.ATTR_REALM, ctl.realm.encode()), (t.ATTR_NONCE, nonce)]
        d.sendall(t.encode(METHOD_CONNECTION_BIND, t.CLASS_REQUEST, attrs, key=key))
        f = t.recv_frame(d, 5 * t.SLOW)
        m = t.Msg(f) if f else None
        if m is None or code(m) not in (401, 438) or not m.has(t.ATTR_NONCE):
            break
        nonce = m.get(t.ATTR_NONCE)
    return d, m


def recv_exact(s, n, timeout=5.0):
    buf = b""
    deadline = time.monotonic() + timeout * t.SLOW
    while len(buf) < n and time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            d = s.recv(n - len(buf))
        except socket.timeout:
            break
        if not d:
            break
        buf += d
    return buf


def indication(ctl, timeout):
    """The next indication on a control connection, or None."""
    deadline = time.monotonic() + timeout * t.SLOW
    while time.monotonic() < deadline:
        f = t.recv_frame(ctl.s, deadline - time.monotonic(), ctl.rest)
        if f is None:
            return None
        m = t.Msg(f)
        if m.cls == t.CLASS_INDICATION:
            return m
    return None


def pipe_works(c, d, peer, what):
    d.sendall(b"client->peer " + what.encode())
    got = recv_exact(peer, 13 + len(what))
    c.check(got == b"client->peer " + what.encode(), "%s: client to peer" % what, repr(got))
    peer.sendall(b"peer->client")
    got = recv_exact(d, 12)
    c.check(got == b"peer->client", "%s: peer to client, no framing" % what, repr(got))


def allocate_refusals(c, srv):
    m = t.Client(srv).allocate(transport=t.PROTO_TCP)
    c.check(code(m) == 400, "TCP Allocate over UDP -> 400 (RFC 6062 §5.1)", repr(m))
    for name, attr in (("EVEN-PORT", (t.ATTR_EVEN_PORT, b"\x00")),
                       ("DONT-FRAGMENT", (t.ATTR_DONT_FRAGMENT, b""))):
        _, m = tcp_alloc(srv, [attr])
        c.check(code(m) == 400, "TCP Allocate with %s -> 400" % name, repr(m))


def connects(c, srv, mport):
    ctl, m = tcp_alloc(srv)
    if not c.check(code(m) == 0, "TCP Allocate over TCP", repr(m)):
        return None
    relayed = m.xor_addr(t.ATTR_XOR_RELAYED_ADDRESS)
    lis = listener()
    m = ctl.request(METHOD_CONNECT, [], xpeer=lis.getsockname())
    cid = m.get(ATTR_CONNECTION_ID) if m else None
    c.check(code(m) == 0 and cid is not None and len(cid) == 4,
            "Connect -> success with a 4-byte CONNECTION-ID", repr(m))
    peer, src = lis.accept()
    c.check(src == tuple(relayed), "the peer connection comes from the relayed address",
            "%r vs %r" % (src, relayed))
    m = ctl.request(METHOD_CONNECT, [], xpeer=lis.getsockname())
    c.check(code(m) == 446, "Connect to the same peer again -> 446", repr(m))
    d, m = data_conn(srv, ctl, cid)
    c.check(code(m) == 0, "ConnectionBind on a new connection -> success", repr(m))
    pipe_works(c, d, peer, "Connect")
    _, m = data_conn(srv, ctl, cid)
    c.check(code(m) == 400, "ConnectionBind for a bound CONNECTION-ID -> 400", repr(m))
    bad, m = data_conn(srv, ctl, b"\x7f\x7f\x00\x05")
    c.check(code(m) == 400, "ConnectionBind for an unknown CONNECTION-ID -> 400", repr(m))
    c.check(t.closed_by_server(bad, 5 * t.SLOW),
            "... and that connection is closed (one guess per connection, as coturn)")
    u = t.Client(srv)
    m = u.request(METHOD_CONNECTION_BIND, [(ATTR_CONNECTION_ID, cid)])
    c.check(code(m) == 400, "ConnectionBind over UDP -> 400", repr(m))

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: a connect is refused
    m = ctl.request(METHOD_CONNECT, [], xpeer=closed.getsockname())
    c.check(code(m) == 447, "Connect to a closed loopback port -> 447", repr(m))
    m = ctl.request(METHOD_CONNECT, [], xpeer=("127.0.0.9", 9))
    c.check(code(m) == 403, "Connect to a denied-peer-ip -> 403", repr(m))
    m = ctl.request(METHOD_CONNECT, [], xpeer=(srv.host, srv.port))
    c.check(code(m) == 403, "Connect to the relay's own listening port -> 403", repr(m))
    full, fillers = full_listener()
    t0 = time.monotonic()
    m = ctl.request(METHOD_CONNECT, [], xpeer=full.getsockname())
    took = time.monotonic() - t0
    c.check(code(m) == 447 and took >= TIMEOUT_S - 0.5,
            "Connect to a peer that never answers -> 447 after tcp-relay-connect-timeout",
            "%r after %.1f s" % (m, took))

    # Data of a TCP allocation flows on data connections only: ChannelBind is refused, and
    # a Send indication or ChannelData toward a UDP peer goes nowhere.
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    m = ctl.request(t.METHOD_CHANNEL_BIND, [(t.ATTR_CHANNEL_NUMBER, struct.pack("!H2x", 0x4001))],
                    xpeer=u.getsockname())
    c.check(code(m) == 400, "ChannelBind on a TCP allocation -> 400", repr(m))
    ctl.request(t.METHOD_CREATE_PERMISSION, [], xpeer=("127.0.0.1", 0))
    tid = os.urandom(12)
    ctl.s.sendall(t.encode(t.METHOD_SEND, t.CLASS_INDICATION,
                           [(t.ATTR_XOR_PEER_ADDRESS, t.xor_addr_value(*u.getsockname(), tid)),
                            (t.ATTR_DATA, b"udp?")], tid=tid) + struct.pack("!HH", 0x4001, 4) + b"udp?")
    u.settimeout(0.5 * t.SLOW)
    try:
        got = u.recv(100)
    except socket.timeout:
        got = None
    m = ctl.request(t.METHOD_REFRESH, [])
    c.check(got is None and code(m) == 0,
            "a Send indication or ChannelData on a TCP allocation is dropped; the allocation stays",
            "%r, %r" % (got, m))
    u.close()

    udp, m = t.StreamClient(srv.host, srv.port), None
    m = udp.request(t.METHOD_ALLOCATE, [(t.ATTR_REQUESTED_TRANSPORT, struct.pack("!B3x", 17))])
    m = udp.request(METHOD_CONNECT, [], xpeer=lis.getsockname())
    c.check(code(m) == 400, "Connect on a UDP allocation -> 400", repr(m))

    # 441: another user's ConnectionBind for this allocation's connection; it stays bindable.
    lis2 = listener()
    m = ctl.request(METHOD_CONNECT, [], xpeer=lis2.getsockname())
    cid2 = m.get(ATTR_CONNECTION_ID) if m else None
    peer2, _ = lis2.accept()
    _, m = data_conn(srv, ctl, cid2, user="bob", password="pw2")
    c.check(code(m) == 441, "ConnectionBind by another user -> 441", repr(m))
    d2, m = data_conn(srv, ctl, cid2)
    c.check(code(m) == 0, "... and the owner's ConnectionBind still succeeds", repr(m))

    # Closing: the peer's close closes the data connection, and the reverse.
    peer.close()
    c.check(t.closed_by_server(d, 5 * t.SLOW), "the peer closing closes the data connection")
    d2.close()
    c.check(recv_exact(peer2, 1) == b"", "the data connection closing closes the peer's")
    for s in fillers + [full, closed, lis, lis2]:
        s.close()
    print("  connects: %s" % {k: t.metric(mport, M + "connects_total", result=k)
                              for k in ("success", "446", "447", "447_timeout", "400")})
    c.check(t.metric(mport, M + "connects_total", result="447_timeout") >= 1 and
            t.metric(mport, M + "connects_total", result="446") >= 1,
            "446 and 447 (timeout) are counted")
    return ctl


def incoming(c, srv, mport, ctl):
    m0 = ctl.request(t.METHOD_ALLOCATE, TCP)
    c.check(code(m0) == 437, "a second Allocate on the control connection -> 437", repr(m0))
    # The relayed address, from a fresh allocation for a clean permission set.
    ctl, m = tcp_alloc(srv)
    relayed = tuple(m.xor_addr(t.ATTR_XOR_RELAYED_ADDRESS))
    before = t.metric(mport, M + "peer_connections_total", result="no_permission") or 0
    p = socket.create_connection(relayed, timeout=5)
    c.check(recv_exact(p, 1) == b"", "a peer without a permission is closed (RFC 6062 §5.3)")
    c.check(t.wait_metric(mport, M + "peer_connections_total", lambda v: v > before,
                          result="no_permission") > before, "... and counted")
    m = ctl.request(t.METHOD_CREATE_PERMISSION, [], xpeer=("127.0.0.1", 0))
    c.check(code(m) == 0, "CreatePermission for the peer", repr(m))
    p = socket.create_connection(relayed, timeout=5)
    ind = indication(ctl, 5)
    c.check(ind is not None and ind.method == METHOD_CONNECTION_ATTEMPT,
            "a peer with a permission -> ConnectionAttempt", repr(ind))
    if ind is None:
        return
    cid = ind.get(ATTR_CONNECTION_ID)
    c.check(tuple(ind.xor_addr(t.ATTR_XOR_PEER_ADDRESS)) == p.getsockname(),
            "... whose XOR-PEER-ADDRESS is the peer's address")
    d, m = data_conn(srv, ctl, cid)
    c.check(code(m) == 0, "ConnectionBind for the attempt -> success", repr(m))
    pipe_works(c, d, p, "ConnectionAttempt")
    # Not bound in time: closed.
    q = socket.create_connection(relayed, timeout=5)
    c.check(indication(ctl, 5) is not None, "a second peer -> ConnectionAttempt")
    t0 = time.monotonic()
    c.check(recv_exact(q, 1, timeout=TIMEOUT_S + 4) == b"" and time.monotonic() - t0 >= TIMEOUT_S - 1,
            "a peer connection not bound within tcp-relay-connect-timeout is closed")
    c.check((t.metric(mport, M + "binds_total", result="timeout") or 0) >= 1,
            "... counted as binds_total{result=timeout}")
    # Refresh 0 ends the allocation and its connections.
    m = ctl.request(t.METHOD_REFRESH, [(t.ATTR_LIFETIME, struct.pack("!I", 0))])
    c.check(code(m) == 0, "Refresh with LIFETIME 0", repr(m))
    c.check(recv_exact(p, 1) == b"" and t.closed_by_server(d, 5 * t.SLOW),
            "Refresh 0 closes the peer and data connections")
    try:
        socket.create_connection(relayed, timeout=2).close()
        c.check(False, "the relayed address stops listening")
    except OSError:
        c.check(True, "the relayed address stops listening")


def bounds(c, srv, mport):
    # tcp-relay-max-per-allocation 3: a fourth Connect, and a fourth peer coming in.
    ctl, m = tcp_alloc(srv)
    relayed = tuple(m.xor_addr(t.ATTR_XOR_RELAYED_ADDRESS))
    ls = [listener() for _ in range(4)]
    got = [code(ctl.request(METHOD_CONNECT, [], xpeer=l.getsockname())) for l in ls]
    c.check(got == [0, 0, 0, 508], "tcp-relay-max-per-allocation 3: the fourth Connect -> 508",
            repr(got))
    ctl.request(t.METHOD_CREATE_PERMISSION, [], xpeer=("127.0.0.1", 0))
    before = t.metric(mport, M + "peer_connections_total", result="per_allocation_bound") or 0
    p = socket.create_connection(relayed, timeout=5)
    c.check(recv_exact(p, 1) == b"", "... and a peer connecting past it is closed")
    c.check(t.wait_metric(mport, M + "peer_connections_total", lambda v: v > before,
                          result="per_allocation_bound") > before, "... counted")
    ctl.s.close()  # the allocation and its three connections end
    for l in ls:
        l.close()
    # tcp-relay-max-pending 2: two Connects that hang, then a third.
    ctl, m = tcp_alloc(srv)
    fulls = [full_listener() for _ in range(3)]
    for f, _ in fulls[:2]:
        tid = os.urandom(12)
        attrs = [(t.ATTR_XOR_PEER_ADDRESS, t.xor_addr_value(*f.getsockname(), tid)),
                 (t.ATTR_USERNAME, t.USER.encode()), (t.ATTR_REALM, ctl.realm.encode()),
                 (t.ATTR_NONCE, ctl.nonce)]
        ctl.s.sendall(t.encode(METHOD_CONNECT, t.CLASS_REQUEST, attrs, tid=tid, key=ctl.key))
    time.sleep(0.3)
    pending = t.metric(mport, M + "connections", state="pending")
    c.check(pending == 2, "two Connects pending", repr(pending))
    tid = os.urandom(12)
    attrs = [(t.ATTR_XOR_PEER_ADDRESS, t.xor_addr_value(*fulls[2][0].getsockname(), tid)),
             (t.ATTR_USERNAME, t.USER.encode()), (t.ATTR_REALM, ctl.realm.encode()),
             (t.ATTR_NONCE, ctl.nonce)]
    ctl.s.sendall(t.encode(METHOD_CONNECT, t.CLASS_REQUEST, attrs, tid=tid, key=ctl.key))
    codes = {}
    deadline = time.monotonic() + (TIMEOUT_S + 5) * t.SLOW
    while len(codes) < 3 and time.monotonic() < deadline:
        f = t.recv_frame(ctl.s, deadline - time.monotonic(), ctl.rest)
        if f is None:
            break
        m = t.Msg(f)
        codes[m.tid] = code(m)
    c.check(codes.get(tid) == 508, "tcp-relay-max-pending 2: a third Connect -> 508", repr(codes))
    c.check(sorted(v for k, v in codes.items() if k != tid) == [447, 447],
            "... and the two pending ones time out with 447", repr(codes))
    c.check(t.metric(mport, M + "connects_total", result="508") >= 2, "508s are counted")
    for f, fl in fulls:
        for s in fl + [f]:
            s.close()
    ctl.s.close()


def totals(c):
    """tcp-relay-max-connections 2 over all allocations, on a relay of its own."""
    mport = t.free_tcp_port()
    srv = t.Server(extra=["--tcp-relay-max-connections", "2", "--tcp-relay-connect-timeout",
                          str(TIMEOUT_S), "--prometheus", "--prometheus-port", str(mport)]).start()
    ls = [listener() for _ in range(3)]
    a, _ = tcp_alloc(srv)
    b, m = tcp_alloc(srv)
    relayed_b = tuple(m.xor_addr(t.ATTR_XOR_RELAYED_ADDRESS))
    got = [code(a.request(METHOD_CONNECT, [], xpeer=ls[0].getsockname())),
           code(b.request(METHOD_CONNECT, [], xpeer=ls[1].getsockname())),
           code(b.request(METHOD_CONNECT, [], xpeer=ls[2].getsockname()))]
    c.check(got == [0, 0, 508], "tcp-relay-max-connections 2: a third connection -> 508",
            repr(got))
    b.request(t.METHOD_CREATE_PERMISSION, [], xpeer=("127.0.0.1", 0))
    p = socket.create_connection(relayed_b, timeout=5)
    c.check(recv_exact(p, 1) == b"", "... and a peer connecting past it is closed")
    c.check(t.wait_metric(mport, M + "peer_connections_total", lambda v: v >= 1,
                          result="total_bound") >= 1, "... counted")
    a.s.close()  # frees one
    time.sleep(0.3)
    c.check(code(b.request(METHOD_CONNECT, [], xpeer=ls[2].getsockname())) == 0,
            "a connection freed is available again")
    srv.stop()


def backpressure(c, srv, mport):
    ctl, _ = tcp_alloc(srv)
    lis = listener()
    m = ctl.request(METHOD_CONNECT, [], xpeer=lis.getsockname())
    peer, _ = lis.accept()
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    d, m = data_conn(srv, ctl, m.get(ATTR_CONNECTION_ID))
    d.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    rss0 = rss_kb(srv.pid)
    d.setblocking(False)
    chunk = os.urandom(64 * 1024)
    sent, idle_since, cap = 0, None, 256 << 20
    while sent < cap:
        try:
            sent += d.send(chunk)
            idle_since = None
        except BlockingIOError:
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > 1.5:
                break
            select.select([], [d], [], 0.2)
    rss1 = rss_kb(srv.pid)
    print("  backpressure: the sender stopped after %d KiB; relay RSS %d -> %d KiB" %
          (sent >> 10, rss0, rss1))
    c.check(sent < cap, "a peer that does not read stops the client's sender",
            "sent %d bytes" % sent)
    c.check(rss1 - rss0 < 8 * 1024, "the relay's memory does not grow with what waits",
            "%d -> %d KiB" % (rss0, rss1))
    c.check((t.metric(mport, M + "stalls_total") or 0) >= 1, "the stall is counted")
    d.setblocking(True)
    got = 0
    peer.settimeout(5 * t.SLOW)
    while got < sent:
        try:
            x = peer.recv(1 << 20)
        except socket.timeout:
            break
        if not x:
            break
        got += len(x)
    c.check(got == sent, "every byte arrives once the peer reads", "%d of %d" % (got, sent))


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    return 0


def switches(c):
    srv = t.Server(extra=["--no-tcp-relay"]).start()
    _, m = tcp_alloc(srv)
    c.check(code(m) == 442, "no-tcp-relay: TCP Allocate -> 442", repr(m))
    c.check(code(t.Client(srv).allocate()) == 0, "no-tcp-relay: UDP Allocate works")
    srv.stop()
    srv = t.Server(extra=["--no-udp-relay"]).start()
    c.check(code(t.Client(srv).allocate()) == 442, "no-udp-relay: UDP Allocate -> 442")
    _, m = tcp_alloc(srv)
    c.check(code(m) == 0, "no-udp-relay: TCP Allocate works", repr(m))
    srv.stop()


def ipv6(c):
    """A TCP allocation with an IPv6 relayed address, to an IPv6 peer."""
    srv = t.Server(listen=("::1",)).start()
    ctl = t.StreamClient("::1", srv.port)
    m = ctl.request(t.METHOD_ALLOCATE, TCP + [(t.ATTR_REQUESTED_ADDRESS_FAMILY,
                                               struct.pack("!B3x", t.FAMILY_V6))])
    relayed = m.xor_addr(t.ATTR_XOR_RELAYED_ADDRESS) if m else None
    c.check(code(m) == 0 and relayed and relayed[0] == "::1", "IPv6: TCP Allocate", repr(m))
    lis = socket.socket(socket.AF_INET6)
    lis.bind(("::1", 0))
    lis.listen(4)
    lis.settimeout(3 * t.SLOW)
    m = ctl.request(METHOD_CONNECT, [], xpeer=("::1", lis.getsockname()[1]))
    c.check(code(m) == 0, "IPv6: Connect", repr(m))
    if code(m) == 0:
        peer, src = lis.accept()
        c.check(src[:2] == tuple(relayed), "IPv6: the peer sees the relayed address", repr(src))
        d = socket.create_connection(("::1", srv.port), timeout=5)
        attrs = [(ATTR_CONNECTION_ID, m.get(ATTR_CONNECTION_ID)), (t.ATTR_USERNAME, t.USER.encode()),
                 (t.ATTR_REALM, ctl.realm.encode()), (t.ATTR_NONCE, ctl.nonce)]
        d.sendall(t.encode(METHOD_CONNECTION_BIND, t.CLASS_REQUEST, attrs, key=ctl.key))
        f = t.recv_frame(d, 5 * t.SLOW)
        c.check(f is not None and code(t.Msg(f)) == 0, "IPv6: ConnectionBind")
        pipe_works(c, d, peer, "IPv6")
    srv.stop()


def body(c):
    if t.is_coturn():
        c.skip("RFC 6062", "iceway-relay's TCP relay bounds and options")
        return
    mport = t.free_tcp_port()
    srv = t.Server(users=((t.USER, t.PASSWORD), ("bob", "pw2")), extra=[
        "--tcp-relay-max-per-allocation", "3", "--tcp-relay-max-pending", "2",
        "--tcp-relay-connect-timeout", str(TIMEOUT_S), "--denied-peer-ip", "127.0.0.9",
        "--prometheus", "--prometheus-port", str(mport)]).start()
    allocate_refusals(c, srv)
    ctl = connects(c, srv, mport)
    if ctl is not None:
        incoming(c, srv, mport, ctl)
    bounds(c, srv, mport)
    backpressure(c, srv, mport)
    c.check(srv.alive(), "the relay is still running")
    srv.stop()
    totals(c)
    switches(c)
    ipv6(c)


t.run("test_relay_rfc6062_refusals", body)
