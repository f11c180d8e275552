"""Bandwidth and packet limits on a real relay (README "Bandwidth and packet limits"):

- max-bps: coturn's turnutils_uclient offers about 100 kB/s through one allocation to a
  turnutils_peer echo; what the relay passes, both ways together, is max-bps within 10 %, and
  the rest is counted in iceway_relay_packets_dropped_total{reason="max_bps"};
- max-pps: the same with a datagram rate;
- max-new-peers-per-sec: a flood of CreatePermissions to new addresses gets 403 with the
  reason past the burst, and a port scan with Send indications through one permission is
  dropped (reason="new_peer"), while an address already reached still passes;
- bps-capacity: with one allocation relaying past it, a new Allocate gets 508 with the reason
  while the existing one keeps relaying; once the traffic stops, allocations succeed again;
- SIGHUP: max-bps changed in the file applies to an allocation that was relaying, which keeps
  relaying through the reload.
"""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402
import limits as lim  # noqa: E402


def ok(m):
    return m is not None and m.cls == t.CLASS_SUCCESS


def show(m):
    return repr(m) if m is not None else "no response"


def dropped(mport, reason):
    return t.metric(mport, "iceway_relay_packets_dropped_total", reason=reason) or 0


def refused(mport, limit):
    return t.metric(mport, "iceway_relay_limit_refusals_total", limit=limit) or 0


def server(extra, **kw):
    mport = t.free_tcp_port()
    srv = t.Server(extra=["--prometheus", "--prometheus-port", str(mport)] + list(extra), verbose=False,
                   **kw)
    return srv, mport


def max_bps_uclient(c):
    limit = 40000
    srv, mport = server(["--max-bps", str(limit), "--limit-burst", "200", "--allow-rfc5766-channels"])
    srv.start()
    procs = []
    peer = lim.echo_peer(procs)
    # 100 datagrams of 1000 bytes a second for 10 s: 100 kB/s toward the peer, more than twice
    # the limit, which the echo's way back shares.
    cmd = ["turnutils_uclient", "-m", "1", "-n", "1000", "-l", "1000", "-z", "10", "-c", "-e", "127.0.0.1",
           "-r", str(peer), "-u", t.USER, "-w", t.PASSWORD, "-p", str(srv.port), "127.0.0.1"]
    print("  $ " + " ".join(cmd))
    uc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(uc)
    try:
        # uclient waits a random 1-6 s before it sends: measure once traffic flows.
        deadline = time.monotonic() + 15
        while lim.relayed_payload(mport) < 5000 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # past the burst
        d0 = dropped(mport, "max_bps")
        rate = lim.rate_over(mport, 4.0)
        d1 = dropped(mport, "max_bps")
    finally:
        t.stop_procs(procs)
    print("  relayed %.0f B/s through max-bps %d; %d datagrams dropped meanwhile" % (rate, limit, d1 - d0))
    c.check(lim.within(rate, limit), "uclient through max-bps %d: relayed rate within 10 %%" % limit,
            "%.0f B/s" % rate)
    c.check(d1 - d0 >= 100, "the datagrams over the limit are counted (reason max_bps)", "%d" % (d1 - d0))
    c.check(srv.alive(), "relay alive")
    srv.stop()


def max_pps(c):
    limit = 50
    srv, mport = server(["--max-pps", str(limit), "--limit-burst", "200"])
    srv.start()
    procs = []
    peer = lim.echo_peer(procs)
    cl = t.Client(srv)
    c.check(ok(cl.allocate()) and ok(cl.channel_bind(0x4001, "127.0.0.1", peer)),
            "max-pps: allocation and channel")
    # 100-byte datagrams at 100 a second: twice the limit before the echoes share it.
    p = lim.Pump(cl, 0x4001, 10000, size=100, seconds=10)
    try:
        time.sleep(1.0)
        pk = "iceway_relay_packets_relayed_total"
        n0 = sum(t.metric(mport, pk, direction=d, transport="udp") for d in ("client_to_peer", "peer_to_client"))
        t0 = time.monotonic()
        time.sleep(3.0)
        n1 = sum(t.metric(mport, pk, direction=d, transport="udp") for d in ("client_to_peer", "peer_to_client"))
        pps = (n1 - n0) / (time.monotonic() - t0)
    finally:
        p.stop()
        t.stop_procs(procs)
    print("  relayed %.1f datagrams/s through max-pps %d" % (pps, limit))
    c.check(lim.within(pps, limit), "max-pps %d: relayed datagram rate within 10 %%" % limit, "%.1f" % pps)
    c.check(dropped(mport, "max_pps") > 50, "drops counted (reason max_pps)")
    srv.stop()


def new_peers(c):
    srv, mport = server(["--max-new-peers-per-sec", "5"])
    srv.start()
    cl = t.Client(srv)
    c.check(ok(cl.allocate()), "new peers: allocation")
    answers = [cl.create_permission("127.0.0.%d" % (10 + i)) for i in range(20)]
    n_ok = sum(1 for m in answers if ok(m))
    forb = [m for m in answers if m is not None and m.code == 403]
    print("  20 CreatePermissions to new addresses at once: %d succeeded, %d refused with 403" %
          (n_ok, len(forb)))
    c.check(n_ok == 5, "the burst (one second's worth, 5) passes", "%d succeeded" % n_ok)
    c.check(len(forb) == 15 and all("max-new-peers-per-sec" in m.error[1] for m in forb),
            "the rest get 403 naming max-new-peers-per-sec", show(forb[0] if forb else None))
    c.check(refused(mport, "max_new_peers_per_sec") == 15, "counted in iceway_relay_limit_refusals_total")
    c.check(ok(cl.create_permission("127.0.0.10")), "a permission refreshed is not a new peer")
    time.sleep(1.1)
    c.check(ok(cl.create_permission("127.0.0.50")), "a second later, a new peer passes again")

    # A port scan through one permission, with Send indications.
    cl2 = t.Client(srv)
    c.check(ok(cl2.allocate()) and ok(cl2.create_permission("127.0.0.1")), "scanner: allocation, permission")
    target = lim.udp_socket()
    target.settimeout(0.2)
    tport = target.getsockname()[1]
    probed = [lim.udp_socket() for _ in range(40)]  # the scanned ports are ours
    d0 = dropped(mport, "new_peer")
    for s in probed:
        cl2.send_indication("127.0.0.1", s.getsockname()[1], b"probe")

    def hellos(n):
        got = 0
        for _ in range(n):
            cl2.send_indication("127.0.0.1", tport, b"hello")
            try:
                target.recvfrom(100)
                got += 1
            except OSError:
                pass
        return got

    # The permission took one of the 5 tokens: 4 probes pass, the rest are dropped (one more
    # or two may pass should the sends straddle refills, one per 200 ms at 5 a second).
    d1 = wait_for(lambda: dropped(mport, "new_peer"), lambda v: v - d0 >= 36)
    print("  40 Send indications to new ports: %d dropped (reason new_peer)" % (d1 - d0))
    c.check(34 <= d1 - d0 <= 36, "Send indications to new addresses past the limit are dropped and counted",
            "%d dropped" % (d1 - d0))
    time.sleep(1.1)
    late = hellos(3)
    c.check(late == 3, "a second later the new address passes, and then stays known", "%d of 3" % late)
    c.check(srv.alive(), "relay alive")
    srv.stop()


def wait_for(read, pred, timeout=5.0):
    deadline = time.monotonic() + timeout * t.SLOW
    while True:
        v = read()
        if pred(v) or time.monotonic() > deadline:
            return v
        time.sleep(0.1)


def bps_capacity(c):
    cap = 30000
    srv, mport = server(["--bps-capacity", str(cap)])
    srv.start()
    procs = []
    peer = lim.echo_peer(procs)
    a = t.Client(srv)
    c.check(ok(a.allocate()) and ok(a.channel_bind(0x4001, "127.0.0.1", peer)), "capacity: allocation A")
    p = lim.Pump(a, 0x4001, 40000, seconds=20)  # 80 kB/s relayed with the echoes
    try:
        v = wait_for(lambda: t.metric(mport, "iceway_relay_relayed_bytes_per_second") or 0,
                     lambda v: v >= cap, timeout=6)
        c.check(v >= cap, "the relayed rate is measured (%.0f B/s >= bps-capacity %d)" % (v, cap))
        m = t.Client(srv).allocate()
        c.check(m is not None and m.code == 508 and "bps-capacity" in m.error[1],
                "a new Allocate past bps-capacity gets 508 naming it", show(m))
        c.check(refused(mport, "bps_capacity") >= 1, "counted in iceway_relay_limit_refusals_total")
        back0 = p.back
        time.sleep(1.0)
        c.check(p.back - back0 > 20, "allocation A keeps relaying", "%d echoes in 1 s" % (p.back - back0))
    finally:
        p.stop()
    v = wait_for(lambda: t.metric(mport, "iceway_relay_relayed_bytes_per_second"), lambda v: v < cap,
                 timeout=4)
    c.check(ok(t.Client(srv).allocate()), "once the traffic stops, a new Allocate succeeds")
    t.stop_procs(procs)
    srv.stop()


def write_conf(path, max_bps):
    with open(path, "w") as f:
        f.write("lt-cred-mech\nrealm=%s\nuser=%s:%s\nmax-bps=%d\nlimit-burst=200\n" %
                (t.REALM, t.USER, t.PASSWORD, max_bps))


def reload(c):
    mport = t.free_tcp_port()
    srv = t.Server(users=(), extra=["--prometheus", "--prometheus-port", str(mport)], verbose=False)
    path = os.path.join(srv.dir, "relay.conf")
    write_conf(path, 20000)
    srv.args.remove("-n")
    srv.args.remove("--lt-cred-mech")
    srv.args[1:1] = ["-c", path]
    srv.start()
    procs = []
    peer = lim.echo_peer(procs)
    cl = t.Client(srv)
    c.check(ok(cl.allocate()) and ok(cl.channel_bind(0x4001, "127.0.0.1", peer)), "reload: allocation")
    p = lim.Pump(cl, 0x4001, 50000, seconds=20)
    try:
        time.sleep(1.0)
        r1 = lim.rate_over(mport, 3.0)
        write_conf(path, 40000)
        os.kill(srv.pid, signal.SIGHUP)
        n = wait_for(lambda: t.metric(mport, "iceway_relay_config_reloads_total"), lambda v: v >= 1)
        c.check(n == 1, "reload accepted")
        time.sleep(1.0)
        r2 = lim.rate_over(mport, 3.0)
    finally:
        p.stop()
        t.stop_procs(procs)
    print("  one allocation: %.0f B/s at max-bps 20000, %.0f B/s after SIGHUP to 40000" % (r1, r2))
    c.check(lim.within(r1, 20000), "before the reload: max-bps 20000 within 10 %", "%.0f" % r1)
    c.check(lim.within(r2, 40000), "after SIGHUP, the same allocation: max-bps 40000 within 10 %",
            "%.0f" % r2)
    c.check(not re.search(r"max-bps.*(restart|ignored)", srv.log_text()), "no warning that max-bps waits")
    c.check(srv.alive(), "relay alive")
    srv.stop()


def body(c):
    if t.is_coturn():
        c.skip("rate limits", "iceway's options and metrics")
        return
    max_bps_uclient(c)
    max_pps(c)
    new_peers(c)
    bps_capacity(c)
    reload(c)
    if t.SANITIZED:
        for srv in t._servers:
            c.check(not srv.sanitizer_report(), "no sanitizer report in %s" % srv.log_path)


t.run("test_relay_limits", body)
