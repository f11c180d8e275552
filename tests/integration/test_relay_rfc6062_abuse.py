"""RFC 6062 TCP allocations against an attacker: a stranger with no credentials, and a
credential holder.

- A stranger's ConnectionBind learns nothing about which CONNECTION-IDs exist: an id that
  waits for its bind and an id that does not get the same 401 with the same nonce (the one
  made for the stranger's own address); the owner's data connection still binds with the
  nonce of its control connection, and with the nonce a challenge on the data connection hands
  out.
- CONNECTION-IDs are not predictable: ids handed out one after another do not share their
  low 16 bits' neighbourhood (they were the connection's slot, counted down from the table's
  top).
- tcp-relay-max-per-user: one user's connections over all of its TCP allocations are bounded
  (Connect -> 508, a peer coming in is closed), counted, and another user is not held back.
- The relay's own metrics and admin port is never a peer, even with allow-loopback-peers (as
  the tests run): a TCP Connect to it gets 403, as a ChannelBind to it does, and it sees no
  connection from the relay.
- A data connection reset right after its ConnectionBind (before the relay took it over) leaves
  the peer connection bindable: the owner's next ConnectionBind succeeds and bytes flow.
- A Connect refused by a bound sends nothing to its peer: no SYN toward a host the relay
  would not keep a connection to (a credential holder past its bound cannot make the relay
  knock on peers at its request rate).
"""

import os
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402

METHOD_CONNECT, METHOD_CONNECTION_BIND = 0x000A, 0x000B
ATTR_CONNECTION_ID = 0x002A
TCP = [(t.ATTR_REQUESTED_TRANSPORT, struct.pack("!B3x", t.PROTO_TCP))]
M = "iceway_relay_tcp_"
BOB = ("bob", "pw2")
ROUNDS = 12  # bind_then_reset: the reset comes before the take-over in some of them


def code(m):
    return None if m is None else (m.code if m.cls == t.CLASS_ERROR else 0)


def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    s.settimeout(3 * t.SLOW)
    return s


def tcp_alloc(srv, user=t.USER, password=t.PASSWORD):
    c = t.StreamClient(srv.host, srv.port, user=user, password=password)
    return c, c.request(t.METHOD_ALLOCATE, TCP)


def unauth_bind(s, cid):
    """A ConnectionBind with no credentials on s: (code, nonce)."""
    s.sendall(t.encode(METHOD_CONNECTION_BIND, t.CLASS_REQUEST, [(ATTR_CONNECTION_ID, cid)]))
    f = t.recv_frame(s, 5 * t.SLOW)
    m = t.Msg(f) if f else None
    return code(m), (m.get(t.ATTR_NONCE) if m is not None and m.has(t.ATTR_NONCE) else None)


def bind_with(srv, ctl, cid, nonce):
    """A new connection's ConnectionBind for cid with this nonce, then with the nonce a 401 or
    438 gives: (socket, answer, codes seen)."""
    d = socket.create_connection((srv.host, srv.port), timeout=5)
    seen = []
    m = None
    for _ in range(2):
        attrs = [(ATTR_CONNECTION_ID, cid), (t.ATTR_USERNAME, t.USER.encode()),
                 (t.ATTR_REALM, ctl.realm.encode()), (t.ATTR_NONCE, nonce)]
        d.sendall(t.encode(METHOD_CONNECTION_BIND, t.CLASS_REQUEST, attrs, key=ctl.key))
        f = t.recv_frame(d, 5 * t.SLOW)
        m = t.Msg(f) if f else None
        seen.append(code(m))
        if m is None or code(m) not in (401, 438) or not m.has(t.ATTR_NONCE):
            break
        nonce = m.get(t.ATTR_NONCE)
    return d, m, seen


def stranger_probe(c, srv):
    ctl, m = tcp_alloc(srv)
    if not c.check(code(m) == 0, "TCP Allocate", repr(m)):
        return
    lis = listener()
    m = ctl.request(METHOD_CONNECT, [], xpeer=lis.getsockname())
    cid = m.get(ATTR_CONNECTION_ID) if m else None
    if not c.check(code(m) == 0 and cid is not None, "Connect -> success", repr(m)):
        return
    peer, _ = lis.accept()
    unknown = struct.pack("!I", struct.unpack("!I", cid)[0] ^ 0x5A5A0000)
    same = False
    for _ in range(3):  # the nonce changes with the second: ask again across a boundary
        s = socket.create_connection((srv.host, srv.port), timeout=5)
        got_known = unauth_bind(s, cid)
        got_unknown = unauth_bind(s, unknown)
        s.close()
        if got_known == got_unknown:
            same = True
            break
    c.check(same and got_known[0] == 401,
            "a stranger's ConnectionBind: the same 401 and nonce for a waiting id and an unknown one",
            "waiting %r, unknown %r" % (got_known, got_unknown))
    # The owner binds with its control connection's nonce (as coturn's uclient -T does).
    d, m, seen = bind_with(srv, ctl, cid, ctl.nonce)
    c.check(code(m) == 0 and seen == [0], "the owner's ConnectionBind with the control nonce",
            "%r %r" % (seen, m))
    d.sendall(b"ping")
    peer.settimeout(5 * t.SLOW)
    c.check(peer.recv(4) == b"ping", "... and its bytes reach the peer")
    d.close()
    peer.close()
    # ... and with the nonce a challenge on the data connection gave.
    m = ctl.request(METHOD_CONNECT, [], xpeer=lis.getsockname())
    cid = m.get(ATTR_CONNECTION_ID) if m else None
    peer, _ = lis.accept()
    s = socket.create_connection((srv.host, srv.port), timeout=5)
    _, nonce = unauth_bind(s, cid)
    s.close()
    d, m, seen = bind_with(srv, ctl, cid, nonce)
    c.check(code(m) == 0, "the owner's ConnectionBind with a data connection's nonce",
            "%r %r" % (seen, m))
    d.close()
    peer.close()
    # A credential holder with an unknown id: 400 after authenticating (RFC 6062 §5.4).
    d, m, seen = bind_with(srv, ctl, unknown, ctl.nonce)
    c.check(code(m) == 400, "an authenticated ConnectionBind for an unknown id -> 400",
            "%r %r" % (seen, m))
    c.check(t.closed_by_server(d, 5 * t.SLOW), "... and its connection is closed")
    ctl.s.close()
    lis.close()


def unpredictable_ids(c, srv):
    ctl, m = tcp_alloc(srv)
    ls = [listener() for _ in range(4)]
    ids = []
    for lis in ls:
        m = ctl.request(METHOD_CONNECT, [], xpeer=lis.getsockname())
        if m is not None and code(m) == 0:
            ids.append(struct.unpack("!I", m.get(ATTR_CONNECTION_ID))[0])
    if not c.check(len(ids) == 4, "four Connects", repr(ids)):
        return
    low = [i & 0xFFFF for i in ids]
    c.check(max(low) - min(low) > 16,
            "CONNECTION-IDs' low 16 bits are not a slot counted down",
            " ".join("%08x" % i for i in ids))
    c.check(len(set(ids)) == 4, "... and are distinct")
    ctl.s.close()
    for lis in ls:
        lis.close()


def per_user(c):
    mport = t.free_tcp_port()
    srv = t.Server(users=((t.USER, t.PASSWORD), BOB), extra=[
        "--tcp-relay-max-per-user", "3", "--tcp-relay-max-per-allocation", "8",
        "--prometheus", "--prometheus-port", str(mport)]).start()
    ls = [listener() for _ in range(6)]
    a, _ = tcp_alloc(srv)
    b, m = tcp_alloc(srv)
    relayed_b = tuple(m.xor_addr(t.ATTR_XOR_RELAYED_ADDRESS))
    got = [code(a.request(METHOD_CONNECT, [], xpeer=ls[0].getsockname())),
           code(a.request(METHOD_CONNECT, [], xpeer=ls[1].getsockname())),
           code(b.request(METHOD_CONNECT, [], xpeer=ls[2].getsockname())),
           code(b.request(METHOD_CONNECT, [], xpeer=ls[3].getsockname()))]
    c.check(got == [0, 0, 0, 508],
            "tcp-relay-max-per-user 3 over two allocations of one user: the fourth -> 508", repr(got))
    m = b.request(METHOD_CONNECT, [], xpeer=ls[4].getsockname())
    c.check(m is not None and "tcp-relay-max-per-user" in (m.error or (0, ""))[1],
            "... whose reason names the option", repr(m))
    b.request(t.METHOD_CREATE_PERMISSION, [], xpeer=("127.0.0.1", 0))
    p = socket.create_connection(relayed_b, timeout=5)
    p.settimeout(5 * t.SLOW)
    try:
        gone = p.recv(1) == b""
    except OSError:
        gone = True
    c.check(gone, "... and a peer connecting past it is closed")
    c.check((t.wait_metric(mport, M + "per_user_bound_total", lambda v: v >= 3) or 0) >= 3,
            "... each counted in %sper_user_bound_total" % M)
    o, _ = tcp_alloc(srv, *BOB)
    c.check(code(o.request(METHOD_CONNECT, [], xpeer=ls[5].getsockname())) == 0,
            "another user still connects")
    a.s.close()
    time.sleep(0.3 * t.SLOW)
    c.check(code(b.request(METHOD_CONNECT, [], xpeer=ls[4].getsockname())) == 0,
            "a connection the user freed is available to it again")
    c.check(srv.alive(), "the relay is still running")
    srv.stop()
    c.check(not srv.sanitizer_report(), "no sanitizer report", "\n".join(srv.sanitizer_report()[:5]))


def nothing_past_bound(c):
    srv = t.Server(extra=["--tcp-relay-max-per-allocation", "1"]).start()
    ctl, _ = tcp_alloc(srv)
    first, second = listener(), listener()
    got = [code(ctl.request(METHOD_CONNECT, [], xpeer=first.getsockname())),
           code(ctl.request(METHOD_CONNECT, [], xpeer=second.getsockname()))]
    c.check(got == [0, 508], "tcp-relay-max-per-allocation 1: the second Connect -> 508", repr(got))
    r, _, _ = select.select([second], [], [], 0.5 * t.SLOW)
    c.check(not r, "... and its peer saw no connection from the relay")
    ctl.s.close()
    first.close()
    second.close()
    c.check(srv.alive(), "the relay is still running")
    srv.stop()
    c.check(not srv.sanitizer_report(), "no sanitizer report", "\n".join(srv.sanitizer_report()[:5]))


def own_metrics_port(c):
    mport = t.free_tcp_port()
    srv = t.Server(extra=["--prometheus", "--prometheus-port", str(mport)]).start()
    t.metric(mport, M + "connects_total", result="success")  # the metrics port answers
    ctl, _ = tcp_alloc(srv)
    m = ctl.request(METHOD_CONNECT, [], xpeer=("127.0.0.1", mport))
    c.check(code(m) == 403, "a TCP Connect to the relay's own metrics port -> 403", repr(m))
    u = t.Client(srv)
    u.allocate()
    m = u.channel_bind(0x4001, "127.0.0.1", mport)
    c.check(m is not None and m.code == 403, "a ChannelBind to it -> 403", repr(m))
    ctl.s.close()
    c.check(srv.alive(), "the relay is still running")
    srv.stop()


def bind_then_reset(c, srv):
    """Rounds of a ConnectionBind whose connection is reset at once. The relay may have taken
    the connection over first (then the reset closes the pipe and the peer's connection,
    RFC 6062 §5.5), or not yet: then the peer connection must still be bindable."""
    ctl, _ = tcp_alloc(srv)
    bad = []
    for rnd in range(ROUNDS):
        lis = listener()
        m = ctl.request(METHOD_CONNECT, [], xpeer=lis.getsockname())
        cid = m.get(ATTR_CONNECTION_ID) if m else None
        if code(m) != 0:
            bad.append((rnd, "Connect", code(m)))
            lis.close()
            continue
        peer, _ = lis.accept()
        d = socket.create_connection((srv.host, srv.port), timeout=5)
        attrs = [(ATTR_CONNECTION_ID, cid), (t.ATTR_USERNAME, t.USER.encode()),
                 (t.ATTR_REALM, ctl.realm.encode()), (t.ATTR_NONCE, ctl.nonce)]
        d.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close: RST
        d.sendall(t.encode(METHOD_CONNECTION_BIND, t.CLASS_REQUEST, attrs, key=ctl.key))
        d.close()
        peer.settimeout(0.3 * t.SLOW)
        try:
            closed = peer.recv(1) == b""
        except socket.timeout:
            closed = False
        except OSError:
            closed = True
        if not closed:
            d, m, seen = bind_with(srv, ctl, cid, ctl.nonce)
            ok = code(m) == 0
            if ok:
                d.sendall(b"again")
                peer.settimeout(5 * t.SLOW)
                ok = peer.recv(5) == b"again"
            if not ok:
                bad.append((rnd, seen))
            d.close()
        peer.close()
        lis.close()
    c.check(not bad, "a ConnectionBind whose connection was reset: the peer connection is closed "
            "with it, or bindable again (%d rounds)" % ROUNDS, repr(bad))
    ctl.s.close()


def body(c):
    if t.is_coturn():
        c.skip("RFC 6062", "iceway-relay's CONNECTION-IDs and tcp-relay bounds")
        return
    srv = t.Server(users=((t.USER, t.PASSWORD), BOB)).start()
    stranger_probe(c, srv)
    unpredictable_ids(c, srv)
    bind_then_reset(c, srv)
    c.check(srv.alive(), "the relay is still running")
    srv.stop()
    c.check(not srv.sanitizer_report(), "no sanitizer report", "\n".join(srv.sanitizer_report()[:5]))
    per_user(c)
    nothing_past_bound(c)
    own_metrics_port(c)


t.run("test_relay_rfc6062_abuse", body)
