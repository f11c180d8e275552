"""SIGHUP under load, for a ThreadSanitizer build (registered only when IW_SANITIZE has thread,
label tsan; `tools/test.sh` builds build-tsan and runs `ctest -L tsan` there).

A relay with two UDP workers, TCP and TLS listeners and /metrics is reloaded 20 times while
traffic flows through every thread that reads the configuration: ChannelData both ways over UDP
(a UDP worker), over TCP and over TLS (the stream worker, which also reloads its certificate on
each reload), new Allocates alternating
between a user who stays and one the reloads add and remove (each worker's credentials), and
/metrics scraped in a loop (the metrics thread). Each reload changes users, lifetimes and the
log level, and turns the rate limits on or off (never binding). ThreadSanitizer must report nothing: the relay runs with halt_on_error=1 exitcode=66,
and the test fails on any "WARNING: ThreadSanitizer" in its log or a non-zero exit status.

The peer is coturn's turnutils_peer (a UDP echo), so one send tests both directions.
"""

import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402

RELOADS = 20
BOB_PASSWORD = "bobpw-" + os.urandom(6).hex()
TSAN_OPTIONS = os.environ.get("IW_TEST_TSAN_OPTIONS", "halt_on_error=1 exitcode=66 history_size=4")
TSAN_REPORT = "WARNING: ThreadSanitizer"

_procs = []


def tsan_prefix(relay):
    """Some kernels map memory where this TSan runtime does not expect it ("FATAL:
    ThreadSanitizer: unexpected memory mapping", with 32-bit mmap randomisation): run the
    relay without address randomisation there."""
    r = subprocess.run([relay, "--version"], capture_output=True, timeout=60)
    if b"unexpected memory mapping" not in r.stdout + r.stderr:
        return []
    return ["setarch", os.uname().machine, "-R"]


def write_conf(path, n, with_bob):
    with open(path, "w") as f:
        f.write("# reload %d\nlt-cred-mech\nrealm=%s\n" % (n, t.REALM))
        f.write("user=%s:%s\n" % (t.USER, t.PASSWORD))
        if with_bob:
            f.write("user=bob:%s\n" % BOB_PASSWORD)
        # Options a reload takes over at once: lifetimes, nonce lifetime, log level.
        f.write("stale-nonce=%d\n" % (600 + n))
        f.write("max-allocate-lifetime=%d\n" % (3600 + n))
        f.write("log-level=%s\n" % ("debug" if n % 2 else "info"))
        if n % 2:
            # Every rate limit, on every other reload, high enough never to bind: the packet
            # path's buckets, the users' budgets shared by the workers, and the supervisor's
            # measure of the relayed rate.
            f.write("max-bps=1000000000\nmax-pps=10000000\nuser-max-bps=1000000000\n"
                    "max-new-peers-per-sec=100000\nbps-capacity=100000000000\n")


class Flow:
    """A loop on its own thread, counting what it got through, until stop is set."""

    def __init__(self, name, step):
        self.name, self.step = name, step
        self.ok = self.failed = 0
        self.errors = []
        self.th = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not stop.is_set():
            try:
                if self.step():
                    self.ok += 1
                else:
                    self.failed += 1
            except Exception as e:  # noqa: BLE001 (reported by the checks)
                self.failed += 1
                if len(self.errors) < 5:
                    self.errors.append(repr(e))
                time.sleep(0.05)


stop = threading.Event()


def udp_step(cl, channel):
    payload = os.urandom(100)
    cl.send_raw(t.channel_data(channel, payload))
    r = cl.recv_data(1.0 * t.SLOW)
    return r is not None and r[0] == "channel" and r[1] == channel and r[2] == payload


def tcp_step(sc, channel):
    payload = os.urandom(101)
    frame = t.channel_data(channel, payload)
    sc.s.sendall(frame + b"\0" * (t.pad4(len(frame)) - len(frame)))
    d = t.recv_frame(sc.s, 2.0 * t.SLOW, sc.rest)
    if d is None:
        raise RuntimeError("stream: no frame back")
    ch, ln = struct.unpack("!HH", d[:4])
    return ch == channel and d[4:4 + ln] == payload


def stream_client(c, host, port, tls, channel, peer_port):
    """A TCP or TLS client with an allocation and channel bound to the peer."""
    tr = "TLS" if tls else "TCP"
    sc = t.StreamClient(host, port, tls=tls)
    m = sc.request(t.METHOD_ALLOCATE,
                   [(t.ATTR_REQUESTED_TRANSPORT, struct.pack("!B3x", t.PROTO_UDP))])
    c.check(m is not None and m.cls == t.CLASS_SUCCESS, "%s client allocates" % tr, repr(m))
    m = sc.request(t.METHOD_CHANNEL_BIND, [(t.ATTR_CHANNEL_NUMBER, struct.pack("!H2x", channel))],
                   xpeer=("127.0.0.1", peer_port))
    c.check(m is not None and m.cls == t.CLASS_SUCCESS,
            "%s client binds a channel to the peer" % tr, repr(m))
    return sc


def body(c):
    relay = os.environ["IW_RELAY"]
    san = os.environ.get("IW_SANITIZE", "")
    if "thread" not in san:
        c.skip("reload under ThreadSanitizer", "not a ThreadSanitizer build (IW_SANITIZE=%s)" % san)
        return
    prefix = tsan_prefix(relay)
    if prefix:
        print("  TSan runtime needs a fixed layout here: running the relay under setarch -R")

    mport, tls_port = t.free_tcp_port(), t.free_tcp_port()
    srv = t.Server(users=(), extra=[
        "--relay-threads", "2", "--prometheus", "--prometheus-port", str(mport),
        "--tls-listening-port", str(tls_port)], verbose=False)
    cert, key = os.path.join(srv.dir, "cert.pem"), os.path.join(srv.dir, "key.pem")
    t.make_cert(cert, key)
    path = os.path.join(srv.dir, "relay.conf")
    write_conf(path, 0, True)
    a = srv.args
    a.remove("-n")
    a.remove("--lt-cred-mech")
    a[1:1] = ["-c", path]
    a += ["--cert", cert, "--pkey", key]
    srv.args = prefix + a
    srv.env["TSAN_OPTIONS"] = TSAN_OPTIONS
    srv.start()

    peer_port = t.start_echo_peer("127.0.0.1", _procs)
    time.sleep(0.2)
    ucl = t.Client(srv)
    m = ucl.allocate()
    c.check(m is not None and m.cls == t.CLASS_SUCCESS, "UDP client allocates", repr(m))
    m = ucl.channel_bind(0x4001, "127.0.0.1", peer_port)
    c.check(m is not None and m.cls == t.CLASS_SUCCESS, "UDP client binds a channel to the peer")
    sc = stream_client(c, srv.host, srv.port, False, 0x4002, peer_port)
    tc = stream_client(c, srv.host, tls_port, True, 0x4003, peer_port)

    allocs = {"alice": 0, "bob": 0}

    def alloc_step():
        # A fresh source port each time, so SO_REUSEPORT spreads them over both workers.
        for user, pw in ((t.USER, t.PASSWORD), ("bob", BOB_PASSWORD)):
            cl = t.Client(srv, user=user, password=pw)
            try:
                m = cl.allocate(lifetime=60)
                if m is not None and m.cls == t.CLASS_SUCCESS:
                    allocs["alice" if user == t.USER else "bob"] += 1
                    cl.refresh(0)
            finally:
                cl.close()
                t._open_sockets.remove(cl.sock)
        return True

    def scrape_step():
        return "iceway_relay_config_reloads_total" in t.metrics_scrape(mport)

    flows = [Flow("udp channel", lambda: udp_step(ucl, 0x4001)),
             Flow("tcp channel", lambda: tcp_step(sc, 0x4002)),
             Flow("tls channel", lambda: tcp_step(tc, 0x4003)),
             Flow("allocate", alloc_step), Flow("metrics", scrape_step)]
    for f in flows:
        f.th.start()
    time.sleep(0.5 * t.SLOW)

    before = {f.name: f.ok for f in flows}
    accepted = 0
    t0 = time.monotonic()
    for n in range(1, RELOADS + 1):
        write_conf(path, n, n % 2 == 0)
        os.kill(srv.pid, signal.SIGHUP)
        v = t.wait_metric(mport, "iceway_relay_config_reloads_total", lambda x, n=n: x >= n, 10.0)
        accepted = int(v or 0)
        if accepted < n or not srv.alive():
            break
        time.sleep(0.15 * t.SLOW)
    dt = time.monotonic() - t0
    time.sleep(0.5 * t.SLOW)
    stop.set()
    for f in flows:
        f.th.join(timeout=10 * t.SLOW)

    c.check(accepted == RELOADS, "%d reloads accepted in %.1f s" % (RELOADS, dt),
            "config_reloads_total %d" % accepted)
    for f in flows:
        print("  %-12s %6d ok, %d failed (%d during the reloads)" %
              (f.name, f.ok, f.failed, f.ok - before[f.name]))
        c.check(f.ok - before[f.name] >= 10, "%s: traffic kept flowing through the reloads" % f.name,
                "; ".join(f.errors))
    c.check(allocs["bob"] > 0, "bob, added by every other reload, allocated (%d times)" % allocs["bob"])
    # The last file (n = RELOADS, even) lists bob; one more without him must lock him out.
    write_conf(path, RELOADS + 1, False)
    os.kill(srv.pid, signal.SIGHUP)
    t.wait_metric(mport, "iceway_relay_config_reloads_total", lambda x: x >= RELOADS + 1, 10.0)
    m = t.Client(srv, user="bob", password=BOB_PASSWORD).allocate()
    c.check(m is not None and m.code == 401, "bob, removed by the last reload, gets 401", repr(m))

    c.check(srv.alive(), "relay alive after %d reloads under load" % (RELOADS + 1),
            "status %s" % srv.proc.poll())
    status = srv.stop()
    t.stop_procs(_procs)
    log = srv.log_text()
    reports = [ln for ln in log.splitlines() if TSAN_REPORT in ln]
    c.check(not reports and status == 0,
            "ThreadSanitizer reports nothing and the relay exits 0",
            "status %s; %d report(s); first:\n%s" % (status, len(reports), tsan_excerpt(log)))


def tsan_excerpt(log, lines=60):
    i = log.find(TSAN_REPORT)
    return "\n".join(log[i:].splitlines()[:lines]) if i >= 0 else ""


t.run("tsan_relay_reload", body)
