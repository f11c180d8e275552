"""TURN over TCP and TLS (RFC 8656 §3.1, framing per §12.5): coturn's turnutils_uclient relays
through the relay over TCP (-t) and TLS (-t -S) with 0 % loss, then bad input on streams: a
partial frame that stalls, a frame length past the limit, a byte that starts no frame, a TLS
handshake that never finishes, and 1,000 connections opened and abandoned. Each is closed by
the relay, its resident memory stays bounded, and a good client is served throughout. The
per-transport series on /metrics (connections open and accepted, TLS handshakes, closes by
reason, bytes, frames, writes) are checked against what each step did, and promtool accepts
the exposition.

turnutils_stunclient has no TCP mode (its usage lists -p, -L and -f only), so Binding over TCP
and TLS is checked with the wire client below.
"""

import os
import re
import select
import socket
import ssl
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest  # noqa: E402

CLIENTS, MESSAGES, LENGTH = 10, 200, 120
STALL_S, IDLE_S = 2, 3  # --stream-timeout, --stream-idle-timeout for this test
ABANDONED = 1000
ABANDONED_TLS = 100
# A connection costs its struct (4 KiB input + 32 KiB output buffer + state) and, for TLS,
# an mbedTLS session with its two 16 KiB record buffers: 1,000 plain connections stay well
# under 48 KiB each.
RSS_BOUND_KB = ABANDONED * 48 + ABANDONED_TLS * 96 + 8 * 1024
CLOSE_WAIT_S = 30 * iwtest.SLOW

_procs = []


free_tcp_port = iwtest.free_tcp_port


def start_peer(ip):
    return iwtest.start_echo_peer(ip, _procs)


def stop_procs():
    iwtest.stop_procs(_procs)


scrape = iwtest.metrics_scrape
parse = iwtest.metrics_parse


metric = iwtest.metric
wait_metric = iwtest.wait_metric


def check_at_least(c, port, name, want, what, timeout=10.0, **labels):
    v = wait_metric(port, name, lambda x: x >= want, timeout, **labels)
    c.check(v is not None and v >= want, "%s: %s%s >= %d" % (what, name, labels_txt(labels), want),
            "value %s" % v)
    return v


def labels_txt(labels):
    return "{%s}" % ",".join('%s="%s"' % kv for kv in sorted(labels.items()))


def vmrss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    return 0


recv_frame = iwtest.recv_frame
closed_by_server = iwtest.closed_by_server
StreamClient = iwtest.StreamClient


def stream_binding(host, port, tls=False, timeout=5.0):
    """A Binding over a fresh TCP or TLS connection: the XOR-MAPPED-ADDRESS and the local
    address, or (None, None)."""
    raw = socket.create_connection((host, port), timeout=timeout)
    s = raw
    try:
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(raw)
        tid = os.urandom(12)
        s.sendall(iwtest.encode(iwtest.METHOD_BINDING, iwtest.CLASS_REQUEST, tid=tid))
        d = recv_frame(s, timeout)
        if d is None:
            return None, None
        m = iwtest.Msg(d)
        if m.tid != tid or m.cls != iwtest.CLASS_SUCCESS:
            return None, None
        return m.xor_addr(iwtest.ATTR_XOR_MAPPED_ADDRESS), s.getsockname()[:2]
    finally:
        s.close()


clean_run = iwtest.uclient_clean_run


def slow_reader(c, srv, tls_port=None):
    """A client that stops reading while its peer keeps sending: its output stays bounded,
    whole frames are dropped (never cut), and it reads well-formed ChannelData afterwards.
    Over TLS this also covers records that wait for the socket and writes that are retried."""
    tr = "TLS" if tls_port else "TCP"
    cl = StreamClient(srv.host, tls_port or srv.port, tls=bool(tls_port))
    m = cl.request(iwtest.METHOD_ALLOCATE,
                   [(iwtest.ATTR_REQUESTED_TRANSPORT, struct.pack("!B3x", iwtest.PROTO_UDP))])
    if not c.check(m is not None and m.cls == iwtest.CLASS_SUCCESS, "Allocate over %s" % tr,
                   repr(m)):
        return
    relayed = m.xor_addr(iwtest.ATTR_XOR_RELAYED_ADDRESS)
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    m = cl.request(iwtest.METHOD_CHANNEL_BIND,
                   [(iwtest.ATTR_CHANNEL_NUMBER, struct.pack("!H2x", 0x4001))],
                   xpeer=peer.getsockname())
    c.check(m is not None and m.cls == iwtest.CLASS_SUCCESS, "ChannelBind over %s" % tr, repr(m))
    # The relay pads ChannelData to 4 on streams: 1001 bytes travel as 4 + 1001 + 3.
    payload = b"x" * 1001
    rss0 = vmrss_kb(srv.pid)
    for i in range(20000):
        try:
            peer.sendto(payload, tuple(relayed))
        except BlockingIOError:
            pass
    served = good_client_ok(srv, None)
    rss1 = vmrss_kb(srv.pid)
    c.check(served, "a good client is served while a %s client does not read" % tr)
    c.check(rss1 - rss0 <= 8 * 1024, "memory bounded while 20 MB wait for a %s client that does "
            "not read" % tr, "grew %d kB" % (rss1 - rss0))
    cl.s.settimeout(5)
    good = bad = 0
    for _ in range(500):
        d = recv_frame(cl.s, 5 * iwtest.SLOW, cl.rest)
        if d is None:
            break
        ch, ln = struct.unpack("!HH", d[:4])
        if ch == 0x4001 and ln == len(payload) and len(d) == 4 + iwtest.pad4(ln) and \
                d[4:4 + ln] == payload:
            good += 1
        else:
            bad += 1
    c.check(good == 500 and bad == 0, "the slow %s reader then reads whole padded ChannelData" % tr,
            "%d good, %d bad" % (good, bad))
    peer.close()
    cl.s.close()


def good_client_ok(srv, tls_port):
    mapped, local = stream_binding(srv.host, srv.port)
    ok = mapped is not None and tuple(mapped) == tuple(local)
    if tls_port is None:
        return ok and iwtest.binding_ok(srv.host, srv.port, 2.0 * iwtest.SLOW)
    mapped, local = stream_binding(srv.host, tls_port, tls=True)
    ok = ok and mapped is not None and tuple(mapped) == tuple(local)
    return ok and iwtest.binding_ok(srv.host, srv.port, 2.0 * iwtest.SLOW)


def peer_cert_der(host, port):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=5) as raw:
        with ctx.wrap_socket(raw) as s:
            return s.getpeercert(binary_form=True), s.version()


make_cert = iwtest.make_cert


def cert_reload(c, srv, tls_port, cert, key):
    """SIGHUP loads cert and pkey again: new TLS connections get the new certificate."""
    import signal
    before, version = peer_cert_der(srv.host, tls_port)
    c.check(version == "TLSv1.2", "TLS version is 1.2", version)
    make_cert(cert + ".new", key + ".new", "renewed")
    os.replace(key + ".new", key)
    os.replace(cert + ".new", cert)
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10 * iwtest.SLOW
    while "TLS certificate reloaded" not in srv.log_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    after, _ = peer_cert_der(srv.host, tls_port)
    with open(cert) as f:
        want = ssl.PEM_cert_to_DER_cert(f.read())
    c.check(after != before and after == want,
            "after SIGHUP new TLS connections get the renewed certificate")


def cap_and_switches(c):
    """max-tcp-connections refuses the connection past the cap (and takes one again when a
    slot frees); no-tcp leaves the TCP port closed while UDP still answers."""
    mport = free_tcp_port()
    srv = iwtest.Server(extra=["--max-tcp-connections", "5", "--no-tls", "--prometheus",
                               "--prometheus-port", str(mport)]).start()
    held = [socket.create_connection((srv.host, srv.port)) for _ in range(5)]
    mapped, _ = stream_binding(srv.host, srv.port, timeout=2 * iwtest.SLOW)
    c.check(mapped is None, "a 6th connection past max-tcp-connections 5 is refused")
    v = metric(mport, "iceway_relay_stream_connections_total", result="refused", transport="tcp")
    c.check(v is not None and v >= 1, "the refusal is counted", "value %s" % v)
    v = metric(mport, "iceway_relay_stream_connections_open", transport="tcp")
    c.check(v == 5, "5 TCP connections open at the cap", "value %s" % v)
    held.pop().close()
    deadline = time.monotonic() + 10 * iwtest.SLOW
    while mapped is None and time.monotonic() < deadline:
        mapped, _ = stream_binding(srv.host, srv.port, timeout=1)
    c.check(mapped is not None, "a freed connection slot is taken again")
    for h in held:
        h.close()
    srv.stop()
    srv = iwtest.Server(extra=["--no-tcp", "--no-tls"]).start()
    try:
        socket.create_connection((srv.host, srv.port), timeout=2).close()
        refused = False
    except ConnectionRefusedError:
        refused = True
    c.check(refused and iwtest.binding_ok(srv.host, srv.port),
            "no-tcp: the TCP port is closed, UDP answers")
    srv.stop()


def stream_traffic_metrics(c, mport, total):
    """After two TCP runs and one TLS run of CLIENTS uclient sessions, MESSAGES ChannelData
    frames of LENGTH bytes each way per session."""
    M = "iceway_relay_stream_"
    frame = 4 + iwtest.pad4(LENGTH)
    check_at_least(c, mport, M + "tls_handshakes_total", CLIENTS + 1,
                   "one completed handshake per TLS session", result="completed")
    check_at_least(c, mport, M + "connections_total", 2 * CLIENTS + 1,
                   "every TCP session accepted", result="accepted", transport="tcp")
    check_at_least(c, mport, M + "connections_total", CLIENTS + 1,
                   "every TLS session accepted", result="accepted", transport="tls")
    for tr, runs in (("tcp", 2), ("tls", 1)):
        for d in ("in", "out"):
            check_at_least(c, mport, M + "frames_total", runs * total,
                           "%s frames counted" % tr.upper(), direction=d, transport=tr)
            check_at_least(c, mport, M + "bytes_total", runs * total * frame,
                           "%s payload bytes counted" % tr.upper(), direction=d, transport=tr)
        # uclient closes its sessions when done: seen as the peer closing, and the gauge
        # goes back to 0.
        check_at_least(c, mport, M + "closed_total", CLIENTS, "%s sessions closed by the client"
                       % tr.upper(), reason="peer_closed", transport=tr)
        v = wait_metric(mport, M + "connections_open", lambda x: x == 0, transport=tr)
        c.check(v == 0, "no %s connection open after the runs" % tr.upper(), "value %s" % v)
        m = parse(scrape(mport))
        writes = m.get((M + "calls_total", (("op", "write"), ("transport", tr))))
        frames = m.get((M + "frames_total", (("direction", "out"), ("transport", tr))))
        print("  %s: %s frames out in %s writes" % (tr, frames, writes))
        c.check(writes is not None and frames is not None and 0 < writes <= frames,
                "%s: gathered output takes at most one write per frame" % tr.upper(),
                "%s writes for %s frames" % (writes, frames))


def exposition_valid(c, mport):
    import shutil
    if not shutil.which("promtool"):
        c.skip("promtool check metrics", "promtool not installed")
        return
    r = subprocess.run(["promtool", "check", "metrics"], input=scrape(mport).encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    c.check(r.returncode == 0, "promtool check metrics accepts the exposition with stream series",
            r.stdout.decode(errors="replace")[-800:])


def body(c):
    if iwtest.is_coturn():
        c.skip("TCP/TLS matrix", "runs against iceway-relay's stream options only")
        return
    d = iwtest.tmpdir("iwtest-tls-")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    make_cert(cert, key, "localhost")
    tls_port = free_tcp_port()
    mport = free_tcp_port()
    srv = iwtest.Server(nports=200, extra=[
        "--allow-rfc5766-channels", "--tls-listening-port", str(tls_port), "--cert", cert,
        "--pkey", key, "--stream-timeout", str(STALL_S), "--stream-idle-timeout", str(IDLE_S),
        "--max-tcp-connections", "2000", "--prometheus", "--prometheus-port", str(mport),
        # The abandoned connections below all come from 127.0.0.1: this relay measures what
        # each costs, test_relay_tcp_limits what max-tcp-per-ip refuses.
        "--max-tcp-per-ip", "2000"]).start()
    print("server: pid %d port %d (udp, tcp) tls %d metrics %d" %
          (srv.pid, srv.port, tls_port, mport))
    M = "iceway_relay_stream_"
    fresh = parse(scrape(mport))
    for tr in ("tcp", "tls"):
        c.check(fresh.get((M + "connections_open", (("transport", tr),))) == 0,
                "a fresh relay exposes 0 open %s connections" % tr)

    # Binding over TCP and TLS: XOR-MAPPED-ADDRESS is the client's TCP address.
    mapped, local = stream_binding(srv.host, srv.port)
    c.check(mapped is not None and tuple(mapped) == tuple(local),
            "Binding over TCP maps the client's TCP address", "%s vs %s" % (mapped, local))
    mapped, local = stream_binding(srv.host, tls_port, tls=True)
    c.check(mapped is not None and tuple(mapped) == tuple(local),
            "Binding over TLS maps the client's TCP address", "%s vs %s" % (mapped, local))
    c.skip("turnutils_stunclient over TCP", "stunclient has no TCP option")

    peer = start_peer("127.0.0.1")
    base = ["-m", str(CLIENTS), "-n", str(MESSAGES), "-l", str(LENGTH), "-e", "127.0.0.1",
            "-r", str(peer), "-u", iwtest.USER, "-w", iwtest.PASSWORD]
    total = CLIENTS * MESSAGES
    clean_run(c, srv, srv.port, "TCP channels", ["-t"] + base, total)
    clean_run(c, srv, srv.port, "TCP send indications", ["-t", "-s"] + base, total)
    clean_run(c, srv, tls_port, "TLS channels", ["-t", "-S"] + base, total)
    stream_traffic_metrics(c, mport, total)

    slow_reader(c, srv)
    check_at_least(c, mport, M + "frames_dropped_total", 1,
                   "frames for the client that did not read are counted as dropped",
                   transport="tcp")
    slow_reader(c, srv, tls_port)
    check_at_least(c, mport, M + "frames_dropped_total", 1,
                   "frames for the TLS client that did not read are counted as dropped",
                   transport="tls")

    # A partial frame that stalls: half a STUN header, then nothing.
    s = socket.create_connection((srv.host, srv.port))
    s.sendall(iwtest.encode(iwtest.METHOD_BINDING, iwtest.CLASS_REQUEST)[:10])
    c.check(closed_by_server(s, STALL_S + 10 * iwtest.SLOW),
            "a stalled partial frame is closed after stream-timeout")
    s.close()
    check_at_least(c, mport, M + "closed_total", 1, "the stalled frame is counted",
                   reason="timeout", transport="tcp")
    # A frame length past the limit: closed at once, without waiting for the body.
    for what, hdr in (("STUN length 65532", struct.pack("!HHI", 0x0001, 65532, 0x2112A442) +
                       os.urandom(12)),
                      ("ChannelData length 4000", struct.pack("!HH", 0x4001, 4000))):
        s = socket.create_connection((srv.host, srv.port))
        s.sendall(hdr)
        c.check(closed_by_server(s, 5 * iwtest.SLOW), "%s: connection closed" % what)
        s.close()
    check_at_least(c, mport, M + "closed_total", 2, "both overlong frames are counted",
                   reason="frame_too_long", transport="tcp")
    # A first byte that starts neither STUN nor ChannelData.
    s = socket.create_connection((srv.host, srv.port))
    s.sendall(b"GET / HTTP/1.1\r\n\r\n")
    c.check(closed_by_server(s, 5 * iwtest.SLOW), "an HTTP request on the TCP port is closed")
    s.close()
    # "GE" reads as a ChannelData header (first byte 0x47) whose length "T " is 21,536.
    check_at_least(c, mport, M + "closed_total", 3, "the HTTP request is counted as too long",
                   reason="frame_too_long", transport="tcp")
    # First bits 11: neither STUN (00) nor ChannelData (01).
    s = socket.create_connection((srv.host, srv.port))
    s.sendall(b"\xc0\x00\x00\x04abcd")
    c.check(closed_by_server(s, 5 * iwtest.SLOW), "a frame starting 0xC0 is closed")
    s.close()
    check_at_least(c, mport, M + "closed_total", 1, "the unframeable bytes are counted",
                   reason="bad_frame", transport="tcp")
    # Plain STUN on the TLS port: not a ClientHello, the handshake fails at once. (uclient -S
    # also fails one handshake per run: it first offers a version newer than TLS 1.2.)
    failed0 = metric(mport, M + "tls_handshakes_total", result="failed")
    s = socket.create_connection((srv.host, tls_port))
    s.sendall(iwtest.encode(iwtest.METHOD_BINDING, iwtest.CLASS_REQUEST))
    c.check(closed_by_server(s, 5 * iwtest.SLOW), "plain STUN on the TLS port is closed")
    s.close()
    check_at_least(c, mport, M + "tls_handshakes_total", failed0 + 1,
                   "the failed handshake is counted", result="failed")
    check_at_least(c, mport, M + "closed_total", 1, "and closed for it",
                   reason="tls_handshake", transport="tls")
    # A TLS handshake that never finishes: a TCP connect, then a half ClientHello.
    s = socket.create_connection((srv.host, tls_port))
    s.sendall(b"\x16\x03\x01\x02\x00\x01\x00")
    c.check(closed_by_server(s, STALL_S + 10 * iwtest.SLOW),
            "a TLS handshake that never finishes is closed after stream-timeout")
    s.close()
    check_at_least(c, mport, M + "closed_total", 1, "the stalled handshake is counted",
                   reason="timeout", transport="tls")
    c.check(good_client_ok(srv, tls_port), "a good client is served after the bad input")

    # 1,000 TCP and 100 TLS connections opened and abandoned: every third sends a partial
    # frame, the rest nothing. All are closed by the relay; memory stays bounded.
    before = parse(scrape(mport))
    rss0 = vmrss_kb(srv.pid)
    conns = []
    for i in range(ABANDONED + ABANDONED_TLS):
        port = srv.port if i < ABANDONED else tls_port
        s = socket.create_connection((srv.host, port))
        if i % 3 == 0 and i < ABANDONED:
            s.send(b"\x00\x01\x00")
        conns.append(s)
    served = good_client_ok(srv, tls_port)
    c.check(served, "a good client is served while %d connections are held open" % len(conns))
    check_at_least(c, mport, M + "connections_open", ABANDONED, "held TCP connections are open",
                   transport="tcp")
    check_at_least(c, mport, M + "connections_open", ABANDONED_TLS,
                   "held TLS connections are open", transport="tls")
    rss_peak = vmrss_kb(srv.pid)
    open_left = {s.fileno(): s for s in conns}
    poller = select.poll()  # select() stops at fd 1023
    for fd in open_left:
        poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + CLOSE_WAIT_S
    while open_left and time.monotonic() < deadline:
        rss_peak = max(rss_peak, vmrss_kb(srv.pid))
        for fd, _ in poller.poll(500):
            try:
                d = open_left[fd].recv(4096)
            except (ConnectionResetError, BrokenPipeError):
                d = b""
            if not d:
                poller.unregister(fd)
                del open_left[fd]
    for s in conns:
        s.close()
    print("  abandoned: %d of %d closed by the relay; VmRSS %d kB before, %d kB peak "
          "(bound +%d kB)" % (len(conns) - len(open_left), len(conns), rss0, rss_peak,
                              RSS_BOUND_KB))
    c.check(not open_left, "all %d abandoned connections closed by the relay" % len(conns),
            "%d still open" % len(open_left))
    after = parse(scrape(mport))
    for tr, n in (("tcp", ABANDONED), ("tls", ABANDONED_TLS)):
        k = lambda r: ((M + "closed_total"), (("reason", r), ("transport", tr)))  # noqa: E731
        closed = sum(after.get(k(r), 0) - before.get(k(r), 0) for r in ("timeout", "idle"))
        c.check(closed >= n, "%d abandoned %s connections counted as timeout or idle" % (n, tr),
                "counted %d" % closed)
        v = wait_metric(mport, M + "connections_open", lambda x: x == 0, transport=tr)
        c.check(v == 0, "no %s connection left open in the gauge" % tr, "value %s" % v)
    c.check(rss_peak - rss0 <= RSS_BOUND_KB, "resident memory grew by at most %d kB" %
            RSS_BOUND_KB, "grew %d kB" % (rss_peak - rss0))
    c.check(good_client_ok(srv, tls_port), "a good client is served after the abandoned ones")
    clean_run(c, srv, srv.port, "TCP channels at the end", ["-t"] + base, total)

    cert_reload(c, srv, tls_port, cert, key)
    stop_procs()
    c.check(srv.alive(), "server alive at the end")
    exposition_valid(c, mport)
    cap_and_switches(c)
    if iwtest.SANITIZED:
        c.check(not srv.sanitizer_report(), "no sanitizer report in the log",
                "; ".join(srv.sanitizer_report()[:3]))
    status = srv.stop()
    c.check(status == 0, "server exits 0 on SIGTERM", "status %s" % status)
    m = re.search(r"stream counters tcp: .*drop_out_full (\d+)", srv.log_text())
    c.check(m is not None and int(m.group(1)) > 0,
            "peer datagrams for the client that did not read were dropped and counted",
            m.group(0) if m else "no stream counters in the log")


try:
    iwtest.run("test_relay_tcp", body)
finally:
    stop_procs()
