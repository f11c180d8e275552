"""RFC 6062 TCP relay with coturn's own client: turnutils_uclient -T (TCP relay; it implies
-t -y -c: each pair of sessions allocates over TCP, one Connects to the other's relayed
address, the other gets a ConnectionAttempt, and both bind a data connection), over a TCP
control connection and over TLS (-S). uclient's peer is the other session's relayed address,
so the relay connects to its own TCP allocations. Every message must come back (0 % loss),
and with -P (passive: uclient's peer is a plain TCP socket that connects to the relayed
address) every byte must be piped both ways,
and the relay's counters must show the TCP allocations, the binds and the piped bytes, with
every peer connection closed once uclient is done; the sessions' accounting records count the
bytes of their data connections.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402

CLIENTS, MESSAGES, LENGTH = 4, 300, 120  # -m 4: two pairs
M = "iceway_relay_tcp_"


def run_one(c, srv, mport, name, port, args):
    before = t.metric(mport, M + "binds_total", result="success") or 0
    bytes0 = t.metric(mport, M + "bytes_total", direction="client_to_peer") or 0
    base = ["-u", t.USER, "-w", t.PASSWORD, "-n", str(MESSAGES), "-m", str(CLIENTS), "-l", str(LENGTH),
            "-z", "5"]
    t.uclient_clean_run(c, srv, port, name, args + base, CLIENTS * MESSAGES)
    binds = (t.metric(mport, M + "binds_total", result="success") or 0) - before
    piped = (t.metric(mport, M + "bytes_total", direction="client_to_peer") or 0) - bytes0
    print("  %s: %d data connections bound, %d bytes client to peer" % (name, binds, piped))
    c.check(binds >= CLIENTS, "%s: a data connection bound per session" % name, "%d" % binds)
    c.check(piped >= CLIENTS * MESSAGES * LENGTH, "%s: the messages went through the pipes" % name,
            "%d bytes" % piped)
    for state in ("pending", "waiting", "bound"):
        v = t.wait_metric(mport, M + "connections", lambda x: x == 0, state=state)
        c.check(v == 0, "%s: no %s peer connection is left after uclient" % (name, state), repr(v))


def passive(c, srv, mport):
    """-P: uclient's second session of each pair is a plain TCP peer that connects to the
    first one's relayed address itself (RFC 6062 §5.3: a ConnectionAttempt, then a bind).
    uclient counts what its TURN sessions receive, not its peers, so half the messages show as
    received, with coturn as with iceway; the relay's byte counters show that each message of
    both sides went through."""
    name = "uclient -T -P (an active TCP peer)"
    b0 = {d: t.metric(mport, M + "bytes_total", direction=d) or 0
          for d in ("client_to_peer", "peer_to_client")}
    a0 = t.metric(mport, M + "peer_connections_total", result="announced") or 0
    st, out = t.uclient_stream(srv, srv.port, ["-T", "-P", "-u", t.USER, "-w", t.PASSWORD, "-n",
                                               str(MESSAGES), "-m", str(CLIENTS), "-l", str(LENGTH),
                                               "-z", "5"])
    if not c.check(st is not None, "%s: uclient finished with statistics" % name, out[-1500:]):
        return
    half = CLIENTS * MESSAGES // 2
    print("  %s: sent %d, received %d" % (name, st["sent"], st["recv"]))
    c.check(st["sent"] == CLIENTS * MESSAGES and st["recv"] == half,
            "%s: the TURN sessions got every message of their peers" % name,
            "sent %d, received %d" % (st["sent"], st["recv"]))
    for d in b0:
        moved = t.wait_metric(mport, M + "bytes_total", lambda v: v - b0[d] >= half * LENGTH,
                              direction=d) - b0[d]
        c.check(moved == half * LENGTH, "%s: %s, every byte piped" % (name, d),
                "%d of %d" % (moved, half * LENGTH))
    c.check((t.metric(mport, M + "peer_connections_total", result="announced") or 0) - a0 >= CLIENTS // 2,
            "%s: each peer's connection was announced (ConnectionAttempt)" % name)


def body(c):
    if t.is_coturn():
        c.skip("uclient -T", "the test reads iceway-relay's metrics")
        return
    d = t.tmpdir("iwtest-6062-")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    t.make_cert(cert, key)
    tls_port, mport = t.free_tcp_port(), t.free_tcp_port()
    srv = t.Server(extra=["--tls-listening-port", str(tls_port), "--cert", cert, "--pkey", key,
                          "--prometheus", "--prometheus-port", str(mport)]).start()
    run_one(c, srv, mport, "uclient -T (TCP)", srv.port, ["-T"])
    run_one(c, srv, mport, "uclient -T -S (TLS)", tls_port, ["-T", "-S"])
    passive(c, srv, mport)
    allocs = t.metric(mport, M + "allocations_total")
    c.check(allocs is not None and allocs >= 2 * CLIENTS, "TCP allocations are counted", repr(allocs))
    c.check(srv.alive(), "the relay is still running")
    srv.stop()
    # Session accounting counts the piped bytes: every session's final record, both runs.
    recs = re.findall(r"session kind=final .* bytes_to_peer=(\d+) .* bytes_to_client=(\d+)",
                      srv.log_text())
    to_peer = sum(int(a) for a, _ in recs)
    to_client = sum(int(b) for _, b in recs)
    want = 2 * CLIENTS * MESSAGES * LENGTH  # the two client-to-client runs
    print("  accounting: %d records, %d bytes to peers, %d to clients" % (len(recs), to_peer, to_client))
    c.check(to_peer >= want and to_client >= want,
            "the session records count the bytes of the data connections",
            "%d and %d, want %d" % (to_peer, to_client, want))


t.run("test_relay_rfc6062", body)
