"""Operations on a running relay, seen from the outside.

- /metrics (--prometheus): promtool accepts the exposition, and after a wire session the
  counters say exactly what the test did (one failed authentication, N packets each way,
  their bytes, one refused peer, one allocation lifetime observed at deletion).
- SIGHUP reload: an allocation made before it still relays after it, a user removed from the
  file is refused, a bad file is refused with FILE:LINE and the running configuration stays.
- SIGTERM drain: new Allocates get 508 (or 300 + ALTERNATE-SERVER with --drain-alternate-server)
  while an existing channel still relays; the process exits 0 by itself when the drain
  timeout ends; a second SIGTERM stops it at once.
- --log-format json: every line is a JSON object, and neither the password nor the REST
  secret ever appears in the log.
- --external-ip-env: XOR-RELAYED-ADDRESS carries the address from the environment while the
  socket stays bound to 127.0.0.1 and data still flows to it.
- Quotas across workers: with --relay-threads 2 --user-quota 1, Allocates from eight source
  ports (spread over both workers by SO_REUSEPORT) give exactly one success and 486 for the
  rest; once that allocation is deleted, the user can allocate again.
- --check ADDR:PORT: exit 0 against a live relay, non-zero against a closed port.
"""

import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402

ATTR_ALTERNATE_SERVER = 0x8023
PASSWORD = "pw-" + os.urandom(6).hex()
BOB_PASSWORD = "bobpw-" + os.urandom(6).hex()
SECRET = "rest-" + os.urandom(8).hex()


def ok(m):
    return m is not None and m.cls == t.CLASS_SUCCESS


def show(m):
    return repr(m) if m is not None else "no response"


free_tcp_port = t.free_tcp_port


scrape = t.metrics_scrape
parse = t.metrics_parse


def val(metrics, name, **labels):
    return metrics.get((name, tuple(sorted(labels.items()))))


def wait_metric(port, name, want, timeout=5.0, **labels):
    deadline = time.monotonic() + timeout * t.SLOW
    v = None
    while time.monotonic() < deadline:
        v = val(parse(scrape(port)), name, **labels)
        if v == want:
            return v
        time.sleep(0.1)
    return v


class Peer:
    """A loopback UDP peer."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        t._open_sockets.append(self.sock)

    def recv(self, timeout):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recvfrom(65536)
        except socket.timeout:
            return None, None


def channel_roundtrip(cl, peer, channel, payload, tries=3):
    """payload client -> channel -> peer, then back peer -> relayed address -> client."""
    for _ in range(tries):
        cl.send_raw(t.channel_data(channel, payload))
        d, _ = peer.recv(2 * t.SLOW)
        if d != payload:
            continue
        peer.sock.sendto(payload[::-1], ("127.0.0.1", cl.relayed[1]))
        r = cl.recv_data(2 * t.SLOW)
        if r is not None and r[0] == "channel" and r[1] == channel and r[2] == payload[::-1]:
            return True
    return False


def wait_log(srv, pattern, timeout=5.0):
    deadline = time.monotonic() + timeout * t.SLOW
    while time.monotonic() < deadline:
        if re.search(pattern, srv.log_text()):
            return True
        time.sleep(0.05)
    return False


# ---------------------------------------------------------------------------------------------

def metrics(c):
    mport = free_tcp_port()
    srv = t.Server(users=((t.USER, PASSWORD),),
                   extra=["--prometheus", "--prometheus-port", str(mport)]).start()
    text = scrape(mport)
    r = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=30)
    c.check(r.returncode == 0, "promtool check metrics accepts a fresh relay's exposition",
            (r.stdout + r.stderr).decode()[:500])
    m0 = parse(text)
    c.check(val(m0, "iceway_build_info", version="0.1") == 1, "iceway_build_info{version} 1")
    c.check(val(m0, "iceway_relay_allocations_active") == 0, "no allocation at start")

    # One failed authentication: a 401 for a wrong password (after the nonce challenge).
    bad = t.Client(srv, password="wrong")
    m = bad.allocate()
    c.check(m is not None and m.code == 401, "wrong password -> 401", show(m))

    cl = t.Client(srv, password=PASSWORD)
    c.check(ok(cl.allocate()), "Allocate succeeds")
    peer = Peer()
    c.check(ok(cl.channel_bind(0x4001, "127.0.0.1", peer.port)), "ChannelBind succeeds")
    # A private peer is refused by the default policy (loopback is allowed in this test).
    m = cl.create_permission("10.0.0.1")
    c.check(m is not None and m.code == 403, "CreatePermission 10.0.0.1 -> 403", show(m))

    n, payload = 5, b"x" * 100
    got_peer = got_client = 0
    for i in range(n):
        cl.send_raw(t.channel_data(0x4001, payload))
        d, _ = peer.recv(2 * t.SLOW)
        got_peer += d == payload
    for i in range(n):
        peer.sock.sendto(payload, ("127.0.0.1", cl.relayed[1]))
        r = cl.recv_data(2 * t.SLOW)
        got_client += r is not None and r[2] == payload
    c.check(got_peer == n and got_client == n, "%d packets each way arrived" % n,
            "%d to the peer, %d to the client" % (got_peer, got_client))

    # A worker counts a datagram once its send completes, which can be just after the
    # receiver already has it: wait for the counters to settle, then assert them exactly.
    for d, want in (("client_to_peer", n), ("peer_to_client", n)):
        wait_metric(mport, "iceway_relay_packets_relayed_total", want, direction=d,
                    transport="udp")
    mt = parse(scrape(mport))
    c.check(val(mt, "iceway_relay_auth_failures_total", reason="bad_integrity") == 1,
            "auth_failures_total{reason=bad_integrity} == 1",
            str(val(mt, "iceway_relay_auth_failures_total", reason="bad_integrity")))
    c.check(val(mt, "iceway_relay_allocations_total", result="success") == 1,
            "allocations_total{result=success} == 1")
    c.check(val(mt, "iceway_relay_allocations_total", result="401") == 1,
            "allocations_total{result=401} == 1",
            str(val(mt, "iceway_relay_allocations_total", result="401")))
    c.check(val(mt, "iceway_relay_allocations_active") == 1, "allocations_active == 1")
    for d in ("client_to_peer", "peer_to_client"):
        pk = val(mt, "iceway_relay_packets_relayed_total", direction=d, transport="udp")
        c.check(pk == n, "packets_relayed_total{direction=%s} == %d" % (d, n), str(pk))
    by = val(mt, "iceway_relay_bytes_relayed_total", direction="client_to_peer", transport="udp")
    c.check(by == n * len(payload), "bytes_relayed_total{client_to_peer} == %d" % (n * 100),
            str(by))
    by = val(mt, "iceway_relay_bytes_relayed_total", direction="peer_to_client", transport="udp")
    c.check(by == n * (len(payload) + 4),
            "bytes_relayed_total{peer_to_client} == %d (ChannelData framing)" % (n * 104),
            str(by))
    c.check(val(mt, "iceway_relay_peers_refused_total", **{"class": "private"}) == 1,
            "peers_refused_total{class=private} == 1")
    # SO_REUSEPORT hashes each client to one worker, so which worker saw the batches varies:
    # every worker must be waking, and the batches must be counted somewhere.
    # An idle worker wakes at least every 500 ms: give each one the time to do so.
    deadline = time.monotonic() + 5 * t.SLOW
    while True:
        wake = [v for (nm, _), v in mt.items() if nm == "iceway_relay_worker_wakeups_total"]
        bat = [v for (nm, _), v in mt.items() if nm == "iceway_relay_worker_batches_total"]
        if (wake and all(v > 0 for v in wake)) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
        mt = parse(scrape(mport))
    c.check(len(wake) > 0 and all(v > 0 for v in wake) and sum(bat) > 0,
            "per-worker loop counters move (every worker wakes, batches counted)", str((wake, bat)))
    io = {lbl: v for (nm, lbl), v in mt.items() if nm == "iceway_relay_worker_io_uring"}
    want = 1 if "relay I/O: io_uring" in srv.log_text() else 0
    c.check(len(io) == len(wake) and all(v == want for v in io.values()),
            "worker_io_uring is %d for every worker, as the start-up log says" % want, str(io))
    c.check(wait_metric(mport, "iceway_relay_channels_active", 1) == 1,
            "channels_active == 1 (gauge refreshed each second)")
    c.check(wait_metric(mport, "iceway_relay_permissions_active", 1) == 1,
            "permissions_active == 1")

    # ChannelData to an unbound channel: one no_allocation-class drop.
    cl.send_raw(t.channel_data(0x4002, b"nobody"))
    c.check(wait_metric(mport, "iceway_relay_packets_dropped_total", 1, reason="no_allocation")
            == 1, "packets_dropped_total{reason=no_allocation} == 1")

    c.check(ok(cl.refresh(0)), "Refresh 0 deletes the allocation")
    mt = parse(scrape(mport))
    c.check(val(mt, "iceway_relay_allocation_lifetime_seconds_count") == 1,
            "lifetime histogram counted the deleted allocation")
    c.check(val(mt, "iceway_relay_allocations_active") == 0, "allocations_active back to 0")
    text = scrape(mport)
    r = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=30)
    c.check(r.returncode == 0, "promtool check metrics accepts it after the session",
            (r.stdout + r.stderr).decode()[:500])


def write_conf(path, users, extra=()):
    with open(path, "w") as f:
        f.write("# relay test configuration\nlt-cred-mech\nrealm=%s\n" % t.REALM)
        f.write("static-auth-secret=%s\n" % SECRET)
        for u, p in users:
            f.write("user=%s:%s\n" % (u, p))
        for ln in extra:
            f.write(ln + "\n")


def file_server(users, extra_args, conf_extra=()):
    srv = t.Server(users=(), extra=extra_args)
    path = os.path.join(srv.dir, "relay.conf")
    write_conf(path, users, conf_extra)
    a = srv.args
    a.remove("-n")
    a.remove("--lt-cred-mech")
    a[1:1] = ["-c", path]
    return srv, path


def reload(c):
    mport = free_tcp_port()
    srv, path = file_server([(t.USER, PASSWORD), ("bob", BOB_PASSWORD)],
                            ["--log-format", "json", "--verbose", "--prometheus",
                             "--prometheus-port", str(mport)])
    srv.start()
    alice = t.Client(srv, password=PASSWORD)
    c.check(ok(alice.allocate()), "alice allocates before the reload")
    peer = Peer()
    c.check(ok(alice.channel_bind(0x4001, "127.0.0.1", peer.port)), "alice binds a channel")
    c.check(ok(t.Client(srv, user="bob", password=BOB_PASSWORD).allocate()),
            "bob allocates before the reload")

    write_conf(path, [(t.USER, PASSWORD)])
    os.kill(srv.pid, signal.SIGHUP)
    c.check(wait_metric(mport, "iceway_relay_config_reloads_total", 1) == 1,
            "reload accepted (config_reloads_total == 1)")
    c.check(channel_roundtrip(alice, peer, 0x4001, b"after-reload"),
            "alice's allocation from before the reload still relays")
    m = t.Client(srv, user="bob", password=BOB_PASSWORD).allocate()
    c.check(m is not None and m.code == 401, "bob, removed from the file, gets 401", show(m))
    c.check(ok(t.Client(srv, password=PASSWORD).allocate()), "a new alice Allocate succeeds")

    # A bad file: refused with its line, and the running configuration stays.
    write_conf(path, [], ["max-port=seventy"])
    os.kill(srv.pid, signal.SIGHUP)
    c.check(wait_metric(mport, "iceway_relay_config_reload_errors_total", 1) == 1,
            "bad file refused (config_reload_errors_total == 1)")
    c.check(wait_log(srv, re.escape(path) + r":\d+: .*max-port"),
            "the refusal names FILE:LINE and the option")
    c.check(ok(t.Client(srv, password=PASSWORD).allocate()),
            "alice still allocates with the configuration kept")
    c.check(channel_roundtrip(alice, peer, 0x4001, b"after-bad-reload"),
            "the old allocation still relays after the refused reload")
    c.check(srv.alive(), "relay alive after two reloads")

    # JSON lines, no secrets.
    srv.stop()
    text = srv.log_text()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    bad = []
    for ln in lines:
        try:
            o = json.loads(ln)
            if not isinstance(o, dict) or "msg" not in o or "level" not in o:
                bad.append(ln)
        except ValueError:
            if not (t.SANITIZED and ("Sanitizer" in ln or "runtime error" in ln)):
                bad.append(ln)
    c.check(lines and not bad, "every log line is a JSON object (%d lines)" % len(lines),
            "; ".join(bad[:3]))
    for what, s in (("alice's password", PASSWORD), ("bob's password", BOB_PASSWORD),
                    ("the REST secret", SECRET)):
        c.check(s not in text, "%s never appears in the log" % what)


def drain(c):
    timeout = int(4 * t.SLOW)
    srv = t.Server(users=((t.USER, PASSWORD),),
                   extra=["--drain-timeout", str(timeout)]).start()
    cl = t.Client(srv, password=PASSWORD)
    c.check(ok(cl.allocate()), "Allocate before SIGTERM")
    peer = Peer()
    c.check(ok(cl.channel_bind(0x4001, "127.0.0.1", peer.port)), "ChannelBind before SIGTERM")
    os.kill(srv.pid, signal.SIGTERM)
    c.check(wait_log(srv, "draining"), "the relay logs that it drains")
    m = t.Client(srv, password=PASSWORD).allocate()
    c.check(m is not None and m.code == 508, "a new Allocate while draining -> 508", show(m))
    c.check(channel_roundtrip(cl, peer, 0x4001, b"while-draining"),
            "the existing channel still relays while draining")
    try:
        srv.proc.wait(timeout=timeout + 10 * t.SLOW)
    except subprocess.TimeoutExpired:
        pass
    c.check(srv.proc.poll() == 0, "the relay exits 0 by itself after the drain timeout",
            "status %s" % srv.proc.poll())

    # With an alternate server: 300 pointing there; a second SIGTERM stops at once.
    alt = "127.0.0.1:%d" % t.free_udp_port()
    srv = t.Server(users=((t.USER, PASSWORD),),
                   extra=["--drain-timeout", "3600", "--drain-alternate-server", alt]).start()
    keep = t.Client(srv, password=PASSWORD)
    c.check(ok(keep.allocate()), "Allocate before SIGTERM (drain-alternate-server)")
    os.kill(srv.pid, signal.SIGTERM)
    c.check(wait_log(srv, "draining"), "draining with an alternate server")
    m = t.Client(srv, password=PASSWORD).allocate()
    c.check(m is not None and m.code == 300, "a new Allocate while draining -> 300", show(m))
    v = m.get(ATTR_ALTERNATE_SERVER) if m is not None else None
    c.check(v is not None and t.decode_plain_addr(v) == ("127.0.0.1", int(alt.split(":")[1])),
            "300 carries ALTERNATE-SERVER %s" % alt, repr(v))
    c.check(ok(keep.refresh()), "the existing allocation can still be refreshed")
    os.kill(srv.pid, signal.SIGTERM)
    try:
        srv.proc.wait(timeout=10 * t.SLOW)
    except subprocess.TimeoutExpired:
        pass
    c.check(srv.proc.poll() == 0, "a second SIGTERM stops the relay at once, status 0",
            "status %s" % srv.proc.poll())


def external_ip(c):
    srv = t.Server(users=((t.USER, PASSWORD),),
                   extra=["--external-ip-env", "ICEWAY_TEST_EXTERNAL_IP"],
                   env={"ICEWAY_TEST_EXTERNAL_IP": "203.0.113.7/127.0.0.1"}).start()
    cl = t.Client(srv, password=PASSWORD)
    m = cl.allocate()
    c.check(ok(m) and cl.relayed is not None and cl.relayed[0] == "203.0.113.7",
            "XOR-RELAYED-ADDRESS carries 203.0.113.7 from the environment", show(m))
    peer = Peer()
    c.check(ok(cl.create_permission("127.0.0.1")), "permission for the loopback peer")
    got = None
    for _ in range(3):
        # The relayed port, on the private address the socket is bound to.
        peer.sock.sendto(b"to-private", ("127.0.0.1", cl.relayed[1]))
        r = cl.recv_data(2 * t.SLOW)
        if r is not None:
            got = r
            break
    c.check(got is not None and got[0] == "data" and got[2] == b"to-private" and
            got[1] == ("127.0.0.1", peer.port),
            "data sent to 127.0.0.1:relayed-port reaches the client", repr(got))
    missing = t.Server(users=((t.USER, PASSWORD),),
                       extra=["--external-ip-env", "ICEWAY_TEST_UNSET_VARIABLE"])
    missing.env.pop("ICEWAY_TEST_UNSET_VARIABLE", None)
    os.environ.pop("ICEWAY_TEST_UNSET_VARIABLE", None)
    missing.start(wait=False)
    missing.proc.wait(timeout=20 * t.SLOW)
    c.check(missing.proc.returncode != 0 and "environment variable is not set" in
            missing.log_text(), "an unset variable fails start-up with a reason",
            missing.log_text()[-300:])


def check_mode(c):
    srv = t.Server(users=((t.USER, PASSWORD),)).start()
    relay = os.environ["IW_RELAY"]
    r = subprocess.run([relay, "--check", "127.0.0.1:%d" % srv.port], capture_output=True,
                       timeout=30 * t.SLOW)
    c.check(r.returncode == 0, "--check against a live relay exits 0", r.stderr.decode())
    closed = t.free_udp_port()
    r = subprocess.run([relay, "--check", "127.0.0.1:%d" % closed], capture_output=True,
                       timeout=30 * t.SLOW)
    c.check(r.returncode != 0 and b"check" in r.stderr,
            "--check against a closed port fails with a reason", r.stderr.decode())


def quotas(c):
    srv = t.Server(users=((t.USER, PASSWORD),),
                   extra=["--relay-threads", "2", "--user-quota", "1"]).start()
    clients = [t.Client(srv, password=PASSWORD) for _ in range(8)]
    codes = []
    for cl in clients:
        m = cl.allocate()
        codes.append(None if m is None else (200 if ok(m) else m.code))
    c.check(codes.count(200) == 1 and codes.count(486) == 7,
            "user-quota 1 over 2 workers: one success, seven 486", repr(codes))
    winner = clients[codes.index(200)] if 200 in codes else None
    c.check(winner is not None and ok(winner.refresh(lifetime=0)),
            "the one allocation is deleted (Refresh lifetime 0)")
    again = [t.Client(srv, password=PASSWORD).allocate() for _ in range(4)]
    got = [None if m is None else (200 if ok(m) else m.code) for m in again]
    c.check(got.count(200) == 1 and got.count(486) == 3,
            "after the deletion the quota is free again: one success, three 486", repr(got))
    for cl in clients:
        cl.close()
    srv.stop()


def io_modes(c):
    """relay-io: syscalls always works and says so in the metrics; io_uring either works or
    fails at start-up naming the option; a bad value fails at start-up naming the option."""
    for mode in ("syscalls", "io_uring"):
        mport = free_tcp_port()
        srv = t.Server(users=((t.USER, PASSWORD),), extra=[
            "--relay-io", mode, "--relay-threads", "2", "--prometheus", "--prometheus-port",
            str(mport)])
        try:
            srv.start()
        except Exception as e:  # noqa: BLE001 (the server's own words are the check)
            c.check(mode == "io_uring" and "relay-io io_uring" in srv.log_text(),
                    "relay-io %s: fails at start-up naming the option" % mode, str(e)[:300])
            continue
        cl = t.Client(srv, password=PASSWORD)
        peer = Peer()
        c.check(ok(cl.allocate()) and ok(cl.channel_bind(0x4001, "127.0.0.1", peer.port)) and
                channel_roundtrip(cl, peer, 0x4001, b"io mode " + mode.encode()),
                "relay-io %s: ChannelData relayed both ways" % mode)
        mt = parse(scrape(mport))
        io = [v for (nm, _), v in mt.items() if nm == "iceway_relay_worker_io_uring"]
        want = 1 if mode == "io_uring" else 0
        c.check(len(io) >= 2 and all(v == want for v in io), "relay-io %s: worker_io_uring is %d "
                "for every worker" % (mode, want), str(io))
        peer.sock.close()
        srv.stop()
    r = subprocess.run([os.environ["IW_RELAY"], "-n", "--relay-io", "fast"], capture_output=True,
                       timeout=10 * t.SLOW)
    err = (r.stdout + r.stderr).decode("utf-8", "replace")
    c.check(r.returncode != 0 and "relay-io" in err and "auto, io_uring or syscalls" in err,
            "relay-io fast: refused at start-up with the choices named", err[:300])


def wait_stopped(pid, timeout=5.0):
    """SIGSTOP is asynchronous: wait (bounded) until every thread of pid shows state T."""
    deadline = time.monotonic() + timeout * t.SLOW
    while time.monotonic() < deadline:
        states = []
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                states.append(f.read().rsplit(")", 1)[1].split()[0])
        if states and all(st == "T" for st in states):
            return
        time.sleep(0.01)
    raise AssertionError("relay %d did not stop" % pid)


def gso_bounds(c):
    """UDP GSO's two bounds: a burst from a peer waits in its relay socket while the relay is
    stopped (SIGSTOP), so one wake-up reads all of it into one run toward the client. 120
    datagrams of 1,200 bytes (1,204 with ChannelData) fold 49 to a send (the 60,000-byte bound):
    3 sends. 120 of 120 bytes fold 64 to a send (the segment bound): 2 sends. Every datagram
    reaches the client whole and in order. Plain syscalls, one worker: the io_uring path reads
    a quiet socket one datagram at a time at first, so it would not put the burst in one run."""
    mport = free_tcp_port()
    srv = t.Server(users=((t.USER, PASSWORD),), extra=[
        "--relay-io", "syscalls", "--relay-threads", "1", "--prometheus", "--prometheus-port",
        str(mport)]).start()
    cl = t.Client(srv, password=PASSWORD)
    cl.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    peer = Peer()
    c.check(ok(cl.allocate()) and ok(cl.channel_bind(0x4001, "127.0.0.1", peer.port)) and
            channel_roundtrip(cl, peer, 0x4001, b"warm-up"), "GSO: channel bound and relaying")
    for size, sends, bound in ((1200, 3, "60,000-byte"), (120, 2, "64-segment")):
        m0 = parse(scrape(mport))
        burst = [struct.pack("!I", i) + bytes([i]) * (size - 4) for i in range(120)]
        os.kill(srv.pid, signal.SIGSTOP)
        try:
            wait_stopped(srv.pid)
            for d in burst:
                peer.sock.sendto(d, ("127.0.0.1", cl.relayed[1]))
        finally:
            os.kill(srv.pid, signal.SIGCONT)
        got = []
        for _ in burst:
            r = cl.recv_data(2 * t.SLOW)
            if r is None:
                break
            got.append(r[2])
        c.check(got == burst, "GSO, %d-byte burst: 120 datagrams arrive whole and in order" % size,
                "%d arrived" % len(got))
        m1 = parse(scrape(mport))
        d_sends = val(m1, "iceway_relay_udp_gso_sends_total") - val(m0, "iceway_relay_udp_gso_sends_total")
        d_dgrams = (val(m1, "iceway_relay_udp_gso_datagrams_total") -
                    val(m0, "iceway_relay_udp_gso_datagrams_total"))
        c.check(d_sends == sends and d_dgrams == 120, "GSO, %d-byte burst: %d sends carry the 120 "
                "(the %s bound)" % (size, sends, bound), "%s sends, %s datagrams" % (d_sends, d_dgrams))
    peer.sock.close()
    srv.stop()


def body(c):
    if t.is_coturn():
        c.skip("relay operations", "iceway-specific options")
        return
    metrics(c)
    reload(c)
    drain(c)
    external_ip(c)
    quotas(c)
    check_mode(c)
    io_modes(c)
    gso_bounds(c)
    if t.SANITIZED:
        for s in t._servers:
            c.check(not s.sanitizer_report(), "no sanitizer report in %s" % s.log_path)


t.run("test_relay_ops", body)
