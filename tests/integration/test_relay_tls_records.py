"""TURN over TLS with small TLS records (RFC 6066 max_fragment_length): the relay's frames no
longer fit one record each, so mbedTLS takes part of a frame per write. A client on mbedTLS
(iw_tls_burst) negotiates 512-, 1024- and 4096-byte records (and none), allocates, binds a
channel, and has its peer send bursts of fifteen 2048-byte datagrams whose payloads look like
ChannelData headers (40 00 01 FC, with 40 00 00 3C at offset 1988 of the last). Every
datagram must come back intact, in order, as one padded ChannelData frame, also to a slow
reader with a small receive buffer that first lets 3 MB pile up (the relay's writes then block
and are retried, and what does not fit is dropped in whole frames). The relay
stays alive, idles without spinning, and serves a new client afterwards; under ASan its log
holds no sanitizer report.
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest  # noqa: E402

BURSTS = 3
# A slow reader first stops reading while its peer sends this many bursts (3 MB): the relay's
# socket fills, its TLS writes block and are retried with the same bytes, and frames past its
# output bound are dropped whole. Every frame read back must still be whole.
FLOOD = 100
# name, record size asked for (0: no extension), read delay (ms), SO_RCVBUF (0: default),
# bursts sent while not reading
CASES = (
    ("512-byte records", 512, 0, 0, 0),
    ("512-byte records, slow reader", 512, 300, 4096, FLOOD),
    ("1 KiB records", 1024, 0, 0, 0),
    ("1 KiB records, slow reader", 1024, 300, 4096, FLOOD),
    ("4 KiB records", 4096, 0, 0, 0),
    ("4 KiB records, slow reader", 4096, 300, 4096, FLOOD),
    ("16 KiB records (no extension)", 0, 0, 0, 0),
)


def body(c):
    if iwtest.is_coturn():
        c.skip("TLS record sizes", "runs against iceway-relay's TLS listener only")
        return
    client = os.path.join(os.environ["IW_BUILD"], "tests", "integration", "iw_tls_burst")
    d = iwtest.tmpdir("iwtest-tlsrec-")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    iwtest.make_cert(cert, key)
    tls_port = iwtest.free_tcp_port()
    srv = iwtest.Server(nports=50, extra=[
        "--tls-listening-port", str(tls_port), "--cert", cert, "--pkey", key]).start()
    print("server: pid %d port %d tls %d" % (srv.pid, srv.port, tls_port))
    for name, frag, delay, rcvbuf, flood in CASES:
        cmd = [client, srv.host, str(tls_port), iwtest.USER, iwtest.PASSWORD, str(frag),
               str(delay), str(rcvbuf), str(BURSTS), "1", str(flood)]
        print("  $ " + " ".join(cmd))
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=60 * iwtest.SLOW)
        out = p.stdout.decode("utf-8", "replace")
        print("    " + out.strip().replace("\n", "\n    "))
        c.check(p.returncode == 0, "%s: all %d datagrams came back intact" %
                (name, BURSTS * 15), "exit %d" % p.returncode)
        if not c.check(srv.alive(), "%s: the relay is alive" % name):
            return
    # Nothing queued any more: the stream thread sleeps in epoll_wait (a connection whose
    # output offsets went wrong would keep asking for EPOLLOUT and spin).
    cpu0 = srv.cpu_seconds()
    time.sleep(2)
    used = srv.cpu_seconds() - cpu0
    c.check(used < 0.5, "the relay idles afterwards (CPU %.2f s in 2 s)" % used)
    c.check(iwtest.binding_ok(srv.host, srv.port), "a new client is served afterwards")
    if iwtest.SANITIZED:
        c.check(not srv.sanitizer_report(), "no sanitizer report in the log",
                "; ".join(srv.sanitizer_report()[:3]))
    status = srv.stop()
    c.check(status == 0, "server exits 0 on SIGTERM", "status %s" % status)


iwtest.run("test_relay_tls_records", body)
