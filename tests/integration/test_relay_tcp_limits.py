"""TCP/TLS connection slots cannot be held without authenticating (RFC 8656 §3.1 streams).

1. One address (127.0.0.2) opens 4,096 connections, each sending an empty ChannelData frame,
   against the default max-tcp-connections 4096: max-tcp-per-ip (64) keeps all but 64 of them
   out, counted as refused_per_ip, and a client from 127.0.0.3 still allocates over TCP and
   relays to a peer both ways.
2. A connection that only sends Binding requests (answered, so it is not idle) is closed by
   stream-auth-timeout, counted as auth_timeout.
3. A connection that sends an empty ChannelData frame every half second is closed by
   stream-idle-timeout (bytes alone are no traffic), also after its allocation ended.
4. A connection with an allocation outlives both timeouts.
"""

import os
import resource
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402

HOLD = 4096
PER_IP = 64
AUTH_S, IDLE_S = 4, 2  # the second relay's stream-auth-timeout and stream-idle-timeout
EMPTY_CHANDATA = struct.pack("!HH", 0x4000, 0)
M = "iceway_relay_stream_"


metric = t.metric
wait_metric = t.wait_metric


def still_open(conns):
    """The connections the relay has not closed (no EOF or reset pending)."""
    p = select.poll()  # select() stops at fd 1023
    for s in conns:
        p.register(s, select.POLLIN)
    closed = set()
    for fd, _ in p.poll(0):
        closed.add(fd)
    return [s for s in conns if s.fileno() not in closed]


def relay_through(c, cl, what):
    """Allocate over cl, bind a channel to a UDP peer, and relay one datagram each way."""
    m = cl.request(t.METHOD_ALLOCATE,
                   [(t.ATTR_REQUESTED_TRANSPORT, struct.pack("!B3x", t.PROTO_UDP))])
    if not c.check(m is not None and m.cls == t.CLASS_SUCCESS, "%s: Allocate" % what, repr(m)):
        return
    relayed = m.xor_addr(t.ATTR_XOR_RELAYED_ADDRESS)
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.settimeout(5 * t.SLOW)
    m = cl.request(t.METHOD_CHANNEL_BIND, [(t.ATTR_CHANNEL_NUMBER, struct.pack("!H2x", 0x4001))],
                   xpeer=peer.getsockname())
    c.check(m is not None and m.cls == t.CLASS_SUCCESS, "%s: ChannelBind" % what, repr(m))
    # RFC 8656 §12.5: over TCP the frame is padded to 4.
    cl.s.sendall(t.channel_data(0x4001, b"to the peer") + b"\0")
    try:
        got, src = peer.recvfrom(2048)
    except socket.timeout:
        got, src = None, None
    c.check(got == b"to the peer" and tuple(src) == tuple(relayed),
            "%s: the peer receives the client's data from the relayed address" % what,
            "%r from %r, relayed %r" % (got, src, relayed))
    peer.sendto(b"to the client", tuple(relayed))
    d = t.recv_frame(cl.s, 5 * t.SLOW, cl.rest)
    c.check(d is not None and d[:4] == struct.pack("!HH", 0x4001, 13) and d[4:17] == b"to the client",
            "%s: the client receives the peer's answer as ChannelData" % what, repr(d))
    peer.close()


def per_ip(c):
    mport = t.free_tcp_port()
    srv = t.Server(nports=20, extra=[
        "--no-tls", "--max-tcp-per-ip", str(PER_IP), "--stream-auth-timeout", "300",
        "--stream-idle-timeout", "300", "--prometheus", "--prometheus-port", str(mport)]).start()
    print("server: pid %d port %d metrics %d" % (srv.pid, srv.port, mport))
    held, failed = [], 0
    t0 = time.monotonic()
    for _ in range(HOLD):
        try:
            s = socket.create_connection((srv.host, srv.port), timeout=2,
                                         source_address=("127.0.0.2", 0))
            s.send(EMPTY_CHANDATA)
            held.append(s)
        except OSError:
            failed += 1
    print("  %d connections opened from 127.0.0.2 in %.1f s (%d connects failed)" %
          (len(held), time.monotonic() - t0, failed))
    v = wait_metric(mport, M + "connections_total", lambda x: x >= len(held) - PER_IP,
                    result="refused_per_ip", transport="tcp")
    c.check(v is not None and v >= len(held) - PER_IP,
            "all but %d of %d connections from one address refused" % (PER_IP, len(held)),
            "refused_per_ip %s" % v)
    left = still_open(held)
    c.check(len(left) == PER_IP, "%d connections from 127.0.0.2 stay open" % PER_IP,
            "%d open" % len(left))
    cl = t.StreamClient(srv.host, srv.port, local="127.0.0.3")
    relay_through(c, cl, "a client from 127.0.0.3 while 127.0.0.2 holds its connections")
    v = metric(mport, M + "connections_open", transport="tcp")
    c.check(v == PER_IP + 1, "open connections: %d from 127.0.0.2 and the client" % PER_IP,
            "value %s" % v)
    cl.s.close()
    for s in held:
        s.close()
    check_clean(c, srv)


def check_clean(c, srv):
    c.check(srv.alive(), "server alive")
    if t.SANITIZED:
        c.check(not srv.sanitizer_report(), "no sanitizer report in the log",
                "; ".join(srv.sanitizer_report()[:3]))
    status = srv.stop()
    c.check(status == 0, "server exits 0 on SIGTERM", "status %s" % status)


def closed_while(s, payload, limit):
    """Send payload every half second until the relay closes s: seconds it took, or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        try:
            s.sendall(payload)
        except OSError:
            return time.monotonic() - t0
        if t.closed_by_server(s, 0.5):
            return time.monotonic() - t0
    return None


def deadlines(c):
    mport = t.free_tcp_port()
    srv = t.Server(nports=20, extra=[
        "--no-tls", "--stream-auth-timeout", str(AUTH_S), "--stream-idle-timeout", str(IDLE_S),
        "--prometheus", "--prometheus-port", str(mport)]).start()
    limit = AUTH_S + 6 * t.SLOW

    # An allocation keeps its connection past both timeouts (checked at the end).
    keeper = t.StreamClient(srv.host, srv.port)
    m = keeper.request(t.METHOD_ALLOCATE,
                       [(t.ATTR_REQUESTED_TRANSPORT, struct.pack("!B3x", t.PROTO_UDP))])
    c.check(m is not None and m.cls == t.CLASS_SUCCESS, "Allocate over TCP", repr(m))

    # Answered Bindings are valid traffic, so only the deadline closes this one.
    s = socket.create_connection((srv.host, srv.port))
    took = closed_while(s, t.encode(t.METHOD_BINDING, t.CLASS_REQUEST), limit)
    s.close()
    c.check(took is not None and took >= AUTH_S - 1,
            "a connection that only sends Bindings is closed after stream-auth-timeout %d s" %
            AUTH_S, "after %s s" % (None if took is None else round(took, 1)))
    v = wait_metric(mport, M + "closed_total", lambda x: x >= 1, reason="auth_timeout",
                    transport="tcp")
    c.check(v == 1, "counted as auth_timeout", "value %s" % v)

    # Empty ChannelData frames are bytes, not traffic: closed at the idle timeout.
    idle0 = metric(mport, M + "closed_total", reason="idle", transport="tcp")
    s = socket.create_connection((srv.host, srv.port))
    took = closed_while(s, EMPTY_CHANDATA, limit)
    s.close()
    c.check(took is not None and took >= IDLE_S - 1,
            "empty ChannelData every 0.5 s: closed after stream-idle-timeout %d s" % IDLE_S,
            "after %s s" % (None if took is None else round(took, 1)))
    # The same after an allocation ended (Refresh 0).
    cl = t.StreamClient(srv.host, srv.port)
    m = cl.request(t.METHOD_ALLOCATE,
                   [(t.ATTR_REQUESTED_TRANSPORT, struct.pack("!B3x", t.PROTO_UDP))])
    c.check(m is not None and m.cls == t.CLASS_SUCCESS, "a second Allocate over TCP", repr(m))
    m = cl.request(t.METHOD_REFRESH, [(t.ATTR_LIFETIME, struct.pack("!I", 0))])
    c.check(m is not None and m.cls == t.CLASS_SUCCESS, "Refresh 0 ends it", repr(m))
    took = closed_while(cl.s, EMPTY_CHANDATA, limit)
    cl.s.close()
    c.check(took is not None and took >= IDLE_S - 1,
            "after its allocation ended, empty ChannelData does not keep a connection",
            "after %s s" % (None if took is None else round(took, 1)))
    v = wait_metric(mport, M + "closed_total", lambda x: x >= idle0 + 2, reason="idle",
                    transport="tcp")
    c.check(v == idle0 + 2, "both counted as idle", "value %s (before %s)" % (v, idle0))

    c.check(t.closed_by_server(keeper.s, 0) is False, "the connection with an allocation is open")
    m = keeper.request(t.METHOD_REFRESH, [])
    c.check(m is not None and m.cls == t.CLASS_SUCCESS,
            "and refreshes its allocation after %d s" % (AUTH_S + IDLE_S), repr(m))
    keeper.s.close()
    check_clean(c, srv)


def body(c):
    if t.is_coturn():
        c.skip("stream limits", "iceway-relay's max-tcp-per-ip and stream timeouts")
        return
    # 4,096 client sockets here and as many accepted ones in the relay (which inherits this).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 3 * HOLD)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    per_ip(c)
    deadlines(c)


t.run("test_relay_tcp_limits", body)
