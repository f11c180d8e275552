"""RFC 8016 mobility: the moves a UDP worker waits on at once are bounded (IW_MOB_FLIGHTS, 32).

The worker that owns a mobile allocation (iw-udp-1) is stopped with ptrace (PTRACE_SEIZE and
PTRACE_INTERRUPT stop that thread alone), so that it never hands the allocation over. Refreshes
with the allocation's ticket then come from 33 new addresses that the other worker (iw-udp-0)
receives: each asks the owner and waits, the 33rd finds every flight taken and gets 508,
counted in iceway_relay_mobility_refused_total{reason="busy"}. Once the owner runs again, the
allocation moves to one of the 32 waiting addresses (success) and the 31 others get 437 (the
allocation is no longer where their ticket said); the relay stays up.
"""

import os
import select
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402
from ptracetest import resume_thread, stop_thread, stopped_or_skip, thread_named  # noqa: E402

ATTR_MOBILITY_TICKET = 0x8030
FLIGHTS = 32


def answered(clients, wait):
    """Send a Binding from each client at once; those answered within wait seconds."""
    tids = {}
    for cl in clients:
        tid = os.urandom(12)
        tids[cl.sock] = tid
        cl.send_raw(t.encode(t.METHOD_BINDING, t.CLASS_REQUEST, [], tid=tid))
    got = set()
    deadline = time.monotonic() + wait
    socks = {cl.sock: cl for cl in clients}
    while time.monotonic() < deadline and len(got) < len(clients):
        r, _, _ = select.select(list(socks), [], [], max(0.01, deadline - time.monotonic()))
        for s in r:
            d = s.recv(65536)
            try:
                if t.Msg(d).tid == tids[s]:
                    got.add(socks[s])
            except ValueError:
                pass
    return got


def drain(cl):
    while cl.recv_raw(0.001) is not None:
        pass


def body(c):
    if t.is_coturn():
        c.skip("mobility flights", "iceway's own bound")
        return
    mport = t.free_tcp_port()
    srv = t.Server(extra=["--relay-threads", "2", "--mobility", "--prometheus",
                          "--prometheus-port", str(mport)]).start()
    tid = thread_named(srv.pid, "iw-udp-1")
    if not c.check(tid is not None, "the relay names its UDP worker threads (iw-udp-1)"):
        return
    # Which worker receives which source address (SO_REUSEPORT's hash, fixed while the
    # sockets stay): with iw-udp-1 stopped, the answered ones are iw-udp-0's.
    pool = [t.Client(srv) for _ in range(120)]
    with stopped_or_skip(c, tid) as stopped:
        if not stopped:
            return
        zero = answered(pool, 1.0 * t.SLOW)
    ones = [cl for cl in pool if cl not in zero]
    askers = [cl for cl in pool if cl in zero]
    if not c.check(len(askers) > FLIGHTS and ones, "%d addresses of iw-udp-0, %d of iw-udp-1"
                   % (len(askers), len(ones))):
        return
    time.sleep(0.2)
    for cl in pool:
        drain(cl)
    owner = ones[0]
    m = owner.allocate(extra=[(ATTR_MOBILITY_TICKET, b"")])
    tk = m.get(ATTR_MOBILITY_TICKET) if m is not None else None
    if not c.check(tk is not None, "a mobile allocation on iw-udp-1", repr(m)):
        return
    askers = askers[:FLIGHTS + 1]
    got = [cl.request(t.METHOD_REFRESH, []) for cl in askers]  # a nonce for each, from iw-udp-0
    c.check(all(r is not None and r.code == 437 for r in got),
            "a nonce for each new address (a plain Refresh there: 437, no allocation)",
            repr([r.code if r else None for r in got]))
    busy0 = t.metric(mport, "iceway_relay_mobility_refused_total", reason="busy") or 0
    stop_thread(tid)
    try:
        tids = []
        for cl in askers[:FLIGHTS]:
            x = os.urandom(12)
            tids.append(x)
            cl.send_raw(cl._build(t.METHOD_REFRESH, [(ATTR_MOBILITY_TICKET, tk)], True, x))
        early = [cl for cl in askers[:FLIGHTS] if cl.recv_raw(0.02) is not None]
        c.check(not early, "%d moves wait on the stopped owner, unanswered" % FLIGHTS,
                "%d answered" % len(early))
        last = askers[FLIGHTS]
        r = last.transact(last._build(t.METHOD_REFRESH, [(ATTR_MOBILITY_TICKET, tk)], True,
                                      b"z" * 12), b"z" * 12, timeout=2.0 * t.SLOW, retries=1)
        c.check(r is not None and r.code == 508 and "moves in flight" in (r.error or (0, ""))[1],
                "one more move while %d wait: 508" % FLIGHTS, repr(r))
        busy = t.metric(mport, "iceway_relay_mobility_refused_total", reason="busy") or 0
        c.check(busy == busy0 + 1, "... counted as busy", "%s -> %s" % (busy0, busy))
    finally:
        resume_thread(tid)
    codes = []
    for cl, x in zip(askers[:FLIGHTS], tids):
        r = None
        deadline = time.monotonic() + 5 * t.SLOW
        while r is None and time.monotonic() < deadline:
            d = cl.recv_raw(deadline - time.monotonic())
            if d is None:
                break
            m = t.Msg(d)
            r = m if m.tid == x else None
        codes.append(r.code if r is not None and r.cls == t.CLASS_ERROR else (0 if r else None))
    c.check(codes.count(0) == 1 and codes.count(437) == FLIGHTS - 1,
            "the owner runs again: one move succeeds, the other %d get 437" % (FLIGHTS - 1),
            repr(codes))
    c.check(srv.alive(), "the relay is still running")
    srv.stop()
    c.check(not srv.sanitizer_report(), "no sanitizer report", "\n".join(srv.sanitizer_report()[:5]))


t.run("test_relay_mobility_flights", body)
