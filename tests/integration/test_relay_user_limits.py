"""Per-user limits count the user, never the credential: two TURN REST credentials of one user
(different expiries, so different usernames) against a relay with two workers,
--user-max-bps and --user-quota 2.

- user-quota: the two credentials allocate, a third credential of the same user gets 486, and
  another user still allocates;
- user-max-bps: the two allocations, on different workers (each client's source port is
  chosen so that SO_REUSEPORT hands it to another worker, seen in the per-worker receive
  counters), together offer about three times the limit; what the relay passes for the user,
  both ways together, is user-max-bps within 10 %, drops counted (reason="user_max_bps"); and
  another user then gets a whole budget of his own.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402
import limits as lim  # noqa: E402

SECRET = "user-limits-secret"


def ok(m):
    return m is not None and m.cls == t.CLASS_SUCCESS


def show(m):
    return repr(m) if m is not None else "no response"


def worker_batches(mport):
    m = t.metrics_parse(t.metrics_scrape(mport))
    return {dict(k[1])["worker"]: v for k, v in m.items() if k[0] == "iceway_relay_worker_batches_total"}


def worker_of(srv, mport, cl):
    """The worker that receives cl's datagrams: the one whose receive counter moves while cl
    sends Bindings (nothing else sends meanwhile)."""
    b0 = worker_batches(mport)
    for _ in range(3):
        cl.binding()
    b1 = worker_batches(mport)
    moved = [w for w in b1 if b1[w] > b0.get(w, 0)]
    return moved[0] if len(moved) == 1 else None


def client_on_other_worker(srv, mport, cred, avoid):
    for _ in range(30):
        cl = t.Client(srv, user=cred[0], password=cred[1])
        w = worker_of(srv, mport, cl)
        if w is not None and w != avoid:
            return cl, w
        cl.close()
    return None, None


def body(c):
    if t.is_coturn():
        c.skip("user-max-bps", "iceway's option and metrics")
        return
    limit = 60000
    mport = t.free_tcp_port()
    srv = t.Server(auth="rest", secret=SECRET, verbose=False,
                   extra=["--relay-threads", "2", "--user-quota", "2", "--user-max-bps", str(limit),
                          "--limit-burst", "200", "--prometheus", "--prometheus-port", str(mport)]).start()
    now = int(time.time())
    creds = [t.rest_credentials(SECRET, "carol", expiry=now + 600 + i) for i in range(3)]
    print("  credentials: %s" % [u for u, _ in creds])

    a = t.Client(srv, user=creds[0][0], password=creds[0][1])
    wa = worker_of(srv, mport, a)
    b, wb = client_on_other_worker(srv, mport, creds[1], wa)
    c.check(b is not None, "the two credentials' clients land on different workers (%s, %s)" % (wa, wb))
    if b is None:
        b = t.Client(srv, user=creds[1][0], password=creds[1][1])
    procs = []
    peer = lim.echo_peer(procs)
    ma, mb = a.allocate(), b.allocate()
    c.check(ok(ma) and ok(mb), "two credentials of carol allocate under --user-quota 2",
            "%s / %s" % (show(ma), show(mb)))
    m3 = t.Client(srv, user=creds[2][0], password=creds[2][1]).allocate()
    c.check(m3 is not None and m3.code == 486 and "user quota" in m3.error[1],
            "a third credential of carol, with another expiry, gets 486 (user quota)", show(m3))
    du, dp = t.rest_credentials(SECRET, "dave")
    dave = t.Client(srv, user=du, password=dp)
    md = dave.allocate()
    c.check(ok(md), "another user still allocates", show(md))
    c.check(ok(a.channel_bind(0x4001, "127.0.0.1", peer)) and ok(b.channel_bind(0x4002, "127.0.0.1", peer)),
            "carol's channels to the echo peer")

    # Each of carol's allocations offers 30 kB/s toward the peer, so 120 kB/s with the echoes:
    # twice the user's budget.
    pa = lim.Pump(a, 0x4001, 30000, seconds=15)
    pb = lim.Pump(b, 0x4002, 30000, seconds=15)
    try:
        time.sleep(1.0)
        d0 = t.metric(mport, "iceway_relay_packets_dropped_total", reason="user_max_bps") or 0
        rate = lim.rate_over(mport, 4.0)
        d1 = t.metric(mport, "iceway_relay_packets_dropped_total", reason="user_max_bps") or 0
        sa, sb = pa.back, pb.back
    finally:
        pa.stop()
        pb.stop()
    print("  carol's two allocations relayed %.0f B/s together under user-max-bps %d (echoes %d + %d), "
          "%d drops" % (rate, limit, sa, sb, d1 - d0))
    c.check(lim.within(rate, limit), "combined rate of one user's two allocations within 10 % of user-max-bps",
            "%.0f B/s" % rate)
    c.check(sa > 0 and sb > 0, "both allocations relayed", "%d / %d" % (sa, sb))
    c.check(d1 - d0 > 50, "drops counted (reason user_max_bps)", "%d" % (d1 - d0))

    # Dave has a budget of his own, whole however much carol just used of hers: offered twice
    # the limit, he gets the limit.
    c.check(ok(dave.channel_bind(0x4003, "127.0.0.1", peer)), "dave's channel")
    pd = lim.Pump(dave, 0x4003, 60000, seconds=10)
    try:
        time.sleep(1.0)
        rd = lim.rate_over(mport, 3.0)
    finally:
        pd.stop()
    print("  dave alone: %.0f B/s under user-max-bps %d" % (rd, limit))
    c.check(lim.within(rd, limit), "another user has a whole budget of his own", "%.0f" % rd)
    t.stop_procs(procs)
    c.check(srv.alive(), "relay alive")
    if t.SANITIZED:
        c.check(not srv.sanitizer_report(), "no sanitizer report in %s" % srv.log_path)


t.run("test_relay_user_limits", body)
