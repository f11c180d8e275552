"""RFC 8016 mobility with two UDP workers: a client allocates with a MOBILITY-TICKET, relays to a
UDP peer through a channel, then moves its source address again and again (a new socket on
another port, on 127.0.0.1 and 127.0.0.2) and Refreshes with its ticket from there; the
allocation follows, both ways, through the same relayed address, whichever worker the new
address lands on (SO_REUSEPORT), until moves of both kinds were seen in the metric. Its
accounting session goes on: one final record, for the last address, with every packet.

Refusals: a forged ticket or none (400), another user's credentials (441), the ticket of an
allocation that ended (437), mobility off or a TCP client (405); a Refresh sent twice from the
new address (as coturn's uclient does) gets two answers.
"""

import json
import os
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402

ATTR_MOBILITY_TICKET = 0x8030
CHANNEL = 0x4001
MIN_MOVES, MAX_MOVES = 8, 40
DOUBLED = 10  # half of them land on the other worker and wait for the allocation
USERS = ((t.USER, t.PASSWORD), ("bob", "bobsecret"))
# coturn's tickets are a number it looks up: one it cannot find gets 404 (a code RFC 8016 does not
# define) or 437, and its tickets are shorter. iceway: 400 for what it did not seal, 437 when the
# allocation ended.
BAD = (400, 404, 437) if t.is_coturn() else (400,)
GONE = (404, 437) if t.is_coturn() else (437,)


def ticket_of(m):
    return m.get(ATTR_MOBILITY_TICKET) if m is not None else None


def allocate_mobile(cl):
    return cl.allocate(extra=[(ATTR_MOBILITY_TICKET, b"")])


def move(cl, local):
    """The client's new source address: a fresh socket on local (the old one is returned)."""
    old = cl.sock
    cl.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    cl.sock.bind((local, 0))
    t._open_sockets.append(cl.sock)
    return old


def refresh_ticket(cl, ticket, extra=()):
    return cl.request(t.METHOD_REFRESH, [(ATTR_MOBILITY_TICKET, ticket)] + list(extra))


def quiet(sock, timeout):
    """True when nothing arrives on sock within timeout."""
    sock.settimeout(timeout)
    try:
        sock.recvfrom(4096)
        return False
    except socket.timeout:
        return True


def both_ways(c, cl, peer, n, what):
    """One datagram each way through the channel; True when both arrived as sent."""
    out = b"to-peer-%d" % n
    cl.send_raw(t.channel_data(CHANNEL, out))
    peer.settimeout(2.0 * t.SLOW)
    try:
        got, src = peer.recvfrom(4096)
    except socket.timeout:
        got, src = None, None
    ok = c.check(got == out and src == cl.relayed, "%s: client to peer from the relayed address" % what,
                 "got %r from %r, relayed %r" % (got, src, cl.relayed))
    back = b"to-client-%d" % n
    peer.sendto(back, cl.relayed)
    r = cl.recv_data(2.0 * t.SLOW)
    return c.check(r == ("channel", CHANNEL, back), "%s: peer to client through the channel" % what,
                   repr(r)) and ok


def moves(c, srv, mport):
    cl = t.Client(srv)
    m = allocate_mobile(cl)
    tk = ticket_of(m)
    c.check(m is not None and m.cls == t.CLASS_SUCCESS and tk is not None
            and (len(tk) == 32 or t.is_coturn()),
            "Allocate with an empty MOBILITY-TICKET: success with a 32-byte ticket", repr(m))
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    t._open_sockets.append(peer)
    pip, pport = peer.getsockname()
    c.check(cl.channel_bind(CHANNEL, pip, pport).cls == t.CLASS_SUCCESS, "ChannelBind to the peer")
    # Five more peers, each with a permission: six sets past the four held inline, so the
    # allocation moves with an overflow block (a worker's own pool).
    others = []
    for k in range(3, 8):
        p = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        p.bind(("127.0.0.%d" % k, 0))
        t._open_sockets.append(p)
        others.append(p)
    r = cl.create_permission(*["127.0.0.%d" % k for k in range(3, 8)])
    c.check(r is not None and r.cls == t.CLASS_SUCCESS, "CreatePermission for five more peers", repr(r))
    relayed = cl.relayed
    sent = 1 if both_ways(c, cl, peer, 0, "before moving") else 0
    kinds = {"same": 0, "other": 0}
    n = 0
    while n < MAX_MOVES and (n < MIN_MOVES or kinds["same"] < 1 or kinds["other"] < 2):
        n += 1
        local = "127.0.0.2" if n % 2 else "127.0.0.1"
        old = move(cl, local)
        r = refresh_ticket(cl, tk)
        ok = r is not None and r.cls == t.CLASS_SUCCESS and ticket_of(r) is not None
        if not c.check(ok, "move %d (from %s): Refresh with the ticket succeeds with a new ticket"
                       % (n, local), repr(r)):
            return
        tk = ticket_of(r)
        if not both_ways(c, cl, peer, n, "move %d" % n):
            return
        sent += 1
        p = others[n % len(others)]
        p.sendto(b"perm-%d" % n, cl.relayed)
        r = cl.recv_data(2.0 * t.SLOW)
        if not c.check(r == ("data", p.getsockname(), b"perm-%d" % n),
                       "move %d: peer %d of 6, through its permission, reaches the client" %
                       (n, 2 + n % len(others)), repr(r)):
            return
        # The old 5-tuple is gone: nothing reaches it, nothing from it is relayed.
        peer.sendto(b"stray", cl.relayed)
        cl.recv_data(2.0 * t.SLOW)
        old.sendto(t.channel_data(CHANNEL, b"from-old"), cl.server)
        if not c.check(quiet(old, 0.2) and quiet(peer, 0.2),
                       "move %d: the old address neither gets nor sends relayed data" % n):
            return
        old.close()
        if not t.is_coturn():
            for k in kinds:
                kinds[k] = t.metric(mport, "iceway_relay_mobility_moves_total", worker=k) or 0
    c.check(cl.relayed == relayed, "the relayed address stayed the same over %d moves" % n)
    if not t.is_coturn():
        c.check(kinds["same"] + kinds["other"] == n and kinds["other"] >= 2 and kinds["same"] >= 1,
                "metric: %d moves, %d within a worker, %d to the other worker" %
                (n, kinds["same"], kinds["other"]), repr(kinds))

    # coturn's uclient sends its Refresh twice, 10 ms apart, and reads two answers.
    retrans_ok = 0
    for i in range(DOUBLED):
        move(cl, "127.0.0.1" if i % 2 else "127.0.0.2")
        # A nonce is bound to the address it was given to: the new one gets a 438 first (so
        # does uclient, which then sends the Refresh again, twice).
        tid = os.urandom(12)
        m0 = cl.transact(cl._build(t.METHOD_REFRESH, [(ATTR_MOBILITY_TICKET, tk)], True, tid), tid)
        if m0 is not None and m0.code in (401, 438):
            cl._learn(m0)
        tid = os.urandom(12)
        req = cl._build(t.METHOD_REFRESH, [(ATTR_MOBILITY_TICKET, tk)], True, tid)
        cl.send_raw(req)
        time.sleep(0.01)
        cl.send_raw(req)
        got = []
        deadline = time.monotonic() + 3.0 * t.SLOW
        while len(got) < 2 and time.monotonic() < deadline:
            d = cl.recv_raw(deadline - time.monotonic())
            if d is not None:
                a = t.Msg(d)
                if a.tid == tid:
                    got.append(a)
        if len(got) == 2 and all(a.cls == t.CLASS_SUCCESS and a.integrity_ok(cl.key) for a in got):
            retrans_ok += 1
            tk = ticket_of(got[-1])
    c.check(retrans_ok == DOUBLED, "a Refresh sent twice from %d new addresses: two success answers "
            "each, with the user's integrity" % DOUBLED, "%d of %d" % (retrans_ok, DOUBLED))
    sent += 1 if both_ways(c, cl, peer, 99, "after the doubled Refreshes") else 0

    # A ticket of this relay for another allocation, on this one's 5-tuple.
    other = t.Client(srv)
    otk = ticket_of(allocate_mobile(other))
    r = refresh_ticket(cl, otk)
    c.check(r is not None and r.code == 400, "a ticket of another allocation on this one: 400", repr(r))
    other.refresh(lifetime=0)

    # Someone else's credentials with this allocation's ticket, from a new address.
    bob = t.Client(srv, user="bob", password="bobsecret", local="127.0.0.2")
    r = refresh_ticket(bob, tk)
    c.check(r is not None and r.code == 441, "bob with alice's ticket: 441", repr(r))
    sent += 1 if both_ways(c, cl, peer, 100, "after bob's attempt") else 0

    # Forged or missing tickets.
    forged = bytes([tk[0] ^ 1]) + tk[1:]
    for name, bad in (("a forged ticket", forged), ("an empty ticket", b""),
                      ("a random ticket", os.urandom(24).hex()[:32].encode())):
        move(cl, "127.0.0.2")
        r = refresh_ticket(cl, bad)
        c.check(r is not None and r.code in BAD, "%s from a new address: 400" % name, repr(r))

    # The end of the session: one final record, for the last address, with every packet.
    move(cl, "127.0.0.1")
    r = refresh_ticket(cl, tk)
    c.check(r is not None and r.cls == t.CLASS_SUCCESS, "the last move", repr(r))
    r = cl.refresh(lifetime=0)
    c.check(r is not None and r.cls == t.CLASS_SUCCESS, "Refresh 0 ends it", repr(r))
    # The ticket of an allocation that ended, from new addresses (either worker): 437.
    gone = 0
    for i in range(4):
        move(cl, "127.0.0.2" if i % 2 else "127.0.0.1")
        r = refresh_ticket(cl, tk)
        gone += r is not None and r.code in GONE
    c.check(gone == 4, "the ticket of an ended allocation, from 4 new addresses: 437", "%d" % gone)
    if t.is_coturn():
        return
    last = "127.0.0.1:%d" % cl.sock.getsockname()[1]
    recs = []
    deadline = time.monotonic() + 5 * t.SLOW
    while time.monotonic() < deadline:
        recs = [o for o in (json.loads(ln) for ln in srv.log_text().splitlines() if ln.startswith("{"))
                if o.get("msg") == "session" and o.get("kind") == "final"
                and "%s:%d" % relayed in o.get("relayed", [])]
        if recs:
            break
        time.sleep(0.1)
    rec = recs[0] if len(recs) == 1 else {}
    lastmove = rec.get("client", "")
    c.check(len(recs) == 1 and rec.get("end") == "refresh0"
            and rec.get("packets_to_peer") == sent and rec.get("packets_to_client") >= sent,
            "one final record for the moved session, %d packets to the peer" % sent, json.dumps(recs)[:800])
    c.check(lastmove.startswith("127.0.0.1:") and lastmove != last,
            "its client is the last address the allocation had", "%s (now %s)" % (lastmove, last))
    r = t.metric(mport, "iceway_relay_mobility_refused_total", reason="bad_ticket")
    c.check(r is not None and r >= 4, "metric: bad tickets refused", repr(r))
    for reason in ("wrong_user", "gone"):
        v = t.metric(mport, "iceway_relay_mobility_refused_total", reason=reason)
        c.check(v is not None and v >= 1, "metric: refused %s" % reason, repr(v))


def refusals_off(c):
    """Without the mobility option: 405 for a ticket in an Allocate or a Refresh."""
    srv = t.Server(users=USERS).start()
    cl = t.Client(srv)
    m = allocate_mobile(cl)
    c.check(m is not None and m.code == 405, "mobility off: Allocate with a ticket gets 405", repr(m))
    m = cl.allocate()
    c.check(m is not None and m.cls == t.CLASS_SUCCESS and ticket_of(m) is None,
            "mobility off: a plain Allocate has no ticket", repr(m))
    r = refresh_ticket(cl, b"A" * 32)
    c.check(r is not None and r.code == 405, "mobility off: Refresh with a ticket gets 405", repr(r))
    srv.stop()


def reload_off(c):
    """mobility from a configuration file; a reload (SIGHUP) without it: no more tickets in
    answers, and a Refresh with one gets 405."""
    mport = t.free_tcp_port()
    srv = t.Server(users=USERS, extra=["--prometheus", "--prometheus-port", str(mport)])
    path = os.path.join(srv.dir, "relay.conf")
    with open(path, "w") as f:
        f.write("mobility\n")
    srv.args.remove("-n")  # -n: no configuration file
    srv.args[1:1] = ["-c", path]
    srv.start()
    cl = t.Client(srv)
    tk = ticket_of(allocate_mobile(cl))
    c.check(tk is not None, "mobility from the configuration file: a ticket")
    with open(path, "w") as f:
        f.write("# mobility off\n")
    os.kill(srv.pid, signal.SIGHUP)
    v = t.wait_metric(mport, "iceway_relay_config_reloads_total", lambda x: x >= 1)
    c.check(v == 1, "reload without mobility accepted", repr(v))
    # A worker takes the new configuration between two wake-ups: one answer first.
    cl.binding()
    r = cl.refresh()
    c.check(r is not None and r.cls == t.CLASS_SUCCESS and ticket_of(r) is None,
            "after the reload: a Refresh answer carries no ticket", repr(r))
    move(cl, "127.0.0.2")
    r = refresh_ticket(cl, tk)
    c.check(r is not None and r.code == 405, "after the reload: a Refresh with the ticket gets 405",
            repr(r))
    srv.stop()


def body(c):
    mport = t.free_tcp_port()
    extra = ["--mobility"]
    if not t.is_coturn():
        extra += ["--log-format", "json", "--relay-threads", "2", "--prometheus", "--prometheus-port",
                  str(mport)]
    srv = t.Server(users=USERS, extra=extra).start()
    cl = t.Client(srv)
    m = cl.allocate(extra=[(ATTR_MOBILITY_TICKET, b"x" * 4)])
    c.check(m is not None and m.code == 400, "Allocate with a non-empty ticket: 400", repr(m))
    if not t.is_coturn():
        s = t.StreamClient(srv.host, srv.port)
        m = s.request(t.METHOD_ALLOCATE, [(t.ATTR_REQUESTED_TRANSPORT, struct.pack("!B3x", t.PROTO_UDP)),
                                          (ATTR_MOBILITY_TICKET, b"")])
        c.check(m is not None and m.code == 405, "a TCP client asking for a ticket: 405", repr(m))
    moves(c, srv, mport)
    srv.stop()
    c.check(not srv.sanitizer_report(), "no sanitizer report", "\n".join(srv.sanitizer_report()[:5]))
    refusals_off(c)
    if not t.is_coturn():
        reload_off(c)


t.run("relay mobility (RFC 8016)", body)
