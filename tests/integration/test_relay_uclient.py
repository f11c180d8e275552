"""Relayed traffic from coturn's load generator turnutils_uclient through the relay to
turnutils_peer (a UDP echo peer), in each relaying mode uclient has, then uclient's negative
modes, after which the relay must still answer and still relay without loss.

uclient flags (from its usage text): channels are the default; -s uses Send/Data
indications instead; -y connects client to client (no peer); -c drops the second (RTCP)
allocation per client; -x asks for an IPv6 relay address; -Z asks for a dual (IPv4 + IPv6)
allocation; -W uses the TURN REST API secret; -N/-R are its negative and negative-protocol
tests; -O is its "DOS attack mode" (connect quickly and leave).
"""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest  # noqa: E402

CLIENTS, MESSAGES, LENGTH = 50, 1000, 120
# The two-worker run: RTCP mode only, smaller, so the suite stays about as long on two cores.
CLIENTS2, MESSAGES2 = 20, 500
# uclient's per-session packet interval in ms (-z). 0 is unpaced, as specified; a heavily
# shared machine may set a small pace, which changes the offered load, not the assertions.
INTERVAL = int(os.environ.get("IW_UCLIENT_INTERVAL", "0"))
# uclient picks channel numbers from RFC 5766's 0x4000-0x7FFF; iceway follows RFC 8656
# (0x4000-0x4FFF) unless told to accept the old range.
EXTRA = [] if iwtest.is_coturn() else ["--allow-rfc5766-channels"]
RUN_TIMEOUT = 150 * iwtest.SLOW

_peers = []


def start_peer(ip):
    return iwtest.start_echo_peer(ip, _peers)


def stop_peers():
    iwtest.stop_procs(_peers)


def uclient(server, args, timeout=RUN_TIMEOUT):
    """Run uclient; returns (stats dict or None, output text). The stats include the
    receive-buffer drops seen during the run on the server's, the echo peers' and uclient's
    own sockets, so lost datagrams can be attributed."""
    cmd = ["turnutils_uclient", "-p", str(server.port)] + args + [server.host]
    print("  $ " + " ".join(cmd))
    env = iwtest.uclient_env()
    # uclient is the measuring instrument: unpaced (-z 0), its single thread must drain 50-100
    # sockets as fast as the relay fills them, and when it is descheduled its own receive
    # buffers overflow (the drop sampler shows where). Give it the scheduler's preference, as
    # one would give a load generator, so the figure is about the relay.
    if os.geteuid() == 0:
        cmd = ["nice", "-n", "-10"] + cmd
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, env=env)
    pids = {"server": server.pid, "uclient": p.pid}
    pids.update(("peer%d" % i, q.pid) for i, q in enumerate(_peers) if q.poll() is None)
    sampler = iwtest.DropSampler(pids)
    try:
        raw, _ = p.communicate(timeout=timeout)
        out = raw.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        p.kill()
        raw, _ = p.communicate()
        sampler.finish()
        return None, raw.decode("utf-8", "replace") + "\n(timed out)"
    d = sampler.finish()
    sent = re.findall(r"tot_send_msgs=(\d+), tot_recv_msgs=(\d+)\s*$", out, re.M)
    lost = re.search(r"Total lost packets (\d+) \(([0-9.]+)%\)", out)
    if not sent or not lost:
        return None, out
    return {"sent": int(sent[-1][0]), "recv": int(sent[-1][1]), "lost": int(lost.group(1)),
            "loss_pct": float(lost.group(2)), "rc": p.returncode,
            "drops_server": d.pop("server"), "drops_client": d.pop("uclient"),
            "drops_peers": sum(d.values())}, out


def channel_collision(srv, out):
    """uclient binds a random channel number to its peer's port + 1, then a new random number
    to the peer itself (start_connection in startuclient.c): once in 16,384 sessions the two
    draws are equal, and RFC 8656 §11.2 has every relay refuse the second bind. Returns the
    relay's log line when that is what happened: the refused number is bound to the requested
    peer's address with the port one higher."""
    m = re.search(r"channel bind: error 400 \(Bad Request: channel (0x[0-9a-f]{4}) is bound "
                  r"to another peer\)", out)
    if not m or srv.kind != "iceway":
        return None
    for line in srv.log_text().splitlines():
        r = re.search(r"channel bind (0x[0-9a-f]{4}) -> (\S+):(\d+) refused: (0x[0-9a-f]{4}) is "
                      r"bound to (\S+):(\d+)$", line)
        if (r and r.group(1) == m.group(1) and r.group(4) == m.group(1)
                and r.group(2) == r.group(5) and int(r.group(6)) == int(r.group(3)) + 1):
            return line
    return None


def assert_clean_run(c, srv, name, args, expect_msgs):
    cpu0 = srv.cpu_seconds()
    st, out = uclient(srv, args)
    if st is None:
        why = channel_collision(srv, out)
        if why:
            # The relay answered as it must; the run says nothing about relaying. Once more.
            print("  %s: uclient drew one channel number twice (%s); running it again"
                  % (name, why.strip()))
            cpu0 = srv.cpu_seconds()
            st, out = uclient(srv, args)
    cpu = srv.cpu_seconds() - cpu0
    if st is None:
        c.check(False, "%s: uclient finished with statistics" % name, out[-1500:])
        return
    print("  %s: receive-buffer drops during the run: server %d, echo peers %d, uclient %d" %
          (name, st["drops_server"], st["drops_peers"], st["drops_client"]))
    print("  %s: sent %d, received %d, lost %d (%.4f%%), server CPU %.2f s (%.2f us per "
          "relayed datagram)" % (name, st["sent"], st["recv"], st["lost"], st["loss_pct"], cpu,
                                 1e6 * cpu / max(1, st["sent"] + st["recv"])))
    c.check(st["sent"] == expect_msgs, "%s: %d messages sent" % (name, expect_msgs),
            "sent %d" % st["sent"])
    c.check(st["recv"] == st["sent"] and st["recv"] > 0, "%s: every message came back" % name,
            "received %d of %d" % (st["recv"], st["sent"]))
    c.check(st["lost"] == 0, "%s: 0 %% loss" % name,
            "lost %d (%.4f%%); receive-buffer overflows: server %d, uclient %d, echo peers %d"
            % (st["lost"], st["loss_pct"], st["drops_server"], st["drops_client"],
               st["drops_peers"]))


def log_counter(text, name):
    """Sum of a counter over the workers' "counter NAME N" lines (logged at exit, verbose)."""
    return sum(int(v) for v in re.findall(r"counter %s (\d+)$" % re.escape(name), text, re.M))


def second_on_same_port(c, srv):
    """SO_REUSEPORT lets any socket of the same user join a port's group: a second relay
    started on a running one's port must fail as it does with one worker, not quietly take
    half of that relay's clients."""
    cmd = [os.environ["IW_RELAY"], "-n", "--listening-ip", srv.host, "--listening-port",
           str(srv.port), "--min-port", str(srv.min_port), "--max-port", str(srv.max_port),
           "--no-tcp", "--no-tls", "--no-auth", "--relay-threads", "2"]
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=10 * iwtest.SLOW)
        rc, out = p.returncode, p.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:  # run() has killed it
        rc, out = None, "still running after 10 s"
    c.check(rc not in (0, None) and "Address already in use" in out,
            "two workers: a second relay on the same port refuses to start", "%s: %s" %
            (rc, out[-300:]))


def two_workers(c, to4, user):
    """RTCP mode against two workers. uclient asks for EVEN-PORT with R=1, then allocates
    the odd port with RESERVATION-TOKEN from another source port, which SO_REUSEPORT hands to
    either worker: the reservation is process-wide, so no 508, and nothing is lost."""
    srv2 = iwtest.Server(relay=["127.0.0.1"], nports=400,
                         extra=EXTRA + ["--relay-threads", "2"]).start()
    print("two workers: %s pid %d port %d" % (srv2.kind, srv2.pid, srv2.port))
    args = ["-m", str(CLIENTS2), "-n", str(MESSAGES2), "-l", str(LENGTH), "-z", str(INTERVAL)]
    assert_clean_run(c, srv2, "two workers, channels with RTCP allocations", args + to4 + user,
                     CLIENTS2 * MESSAGES2)
    c.check(srv2.alive(), "two workers: server alive")
    if srv2.kind == "iceway":
        second_on_same_port(c, srv2)
    if iwtest.SANITIZED:
        c.check(not srv2.sanitizer_report(), "two workers: no sanitizer report in the log",
                "; ".join(srv2.sanitizer_report()[:3]))
    status = srv2.stop()
    if srv2.kind != "iceway":
        return
    c.check(status == 0, "two workers: server exits 0 on SIGTERM", "status %s" % status)
    text = srv2.log_text()
    made, used = log_counter(text, "resv_made"), log_counter(text, "resv_used")
    handover = log_counter(text, "resv_handover")
    refused = len(re.findall(r"-> 508 ", text))
    print("  two workers: %d reservations made, %d redeemed, %d of them on the other worker, "
          "%d answers 508" % (made, used, handover, refused))
    # uclient decides how many of its sessions reserve (15 of 20 with one worker, too).
    c.check(made > 0 and used == made, "two workers: every RTCP reservation redeemed",
            "made %d, redeemed %d" % (made, used))
    # With 15 reservations, every one landing on the reserving worker has odds of 2^-15.
    c.check(handover > 0, "two workers: reservations redeemed on the other worker",
            "made %d, redeemed %d, across workers %d" % (made, used, handover))
    c.check(refused == 0, "two workers: no 508 answered", "%d answers 508" % refused)


def body(c):
    base = ["-m", str(CLIENTS), "-n", str(MESSAGES), "-l", str(LENGTH), "-z", str(INTERVAL)]
    total = CLIENTS * MESSAGES
    # One worker for the full matrix (relay-threads defaults to one per CPU); two below.
    srv = iwtest.Server(relay=["127.0.0.1", "::1"], nports=1500,
                        extra=EXTRA + ["--relay-threads", "1"]).start()
    print("server: %s pid %d port %d relay ports %d-%d" %
          (srv.kind, srv.pid, srv.port, srv.min_port, srv.max_port))
    p4 = start_peer("127.0.0.1")
    p6 = start_peer("::1")
    user = ["-u", iwtest.USER, "-w", iwtest.PASSWORD]
    to4 = ["-e", "127.0.0.1", "-r", str(p4)]
    modes = [
        ("channels, static user", base + ["-c"] + to4 + user, total),
        ("channels with RTCP allocations", base + to4 + user, total),
        ("send indications", base + ["-c", "-s"] + to4 + user, total),
        ("client to client", base + ["-c", "-y"] + user, total),
        ("IPv6 relay to ::1 peer", base + ["-c", "-x", "-e", "::1", "-r", str(p6)] + user,
         total),
        ("dual allocation", base + ["-Z"] + to4 + user, total),
    ]
    t0 = time.monotonic()
    for name, args, expect in modes:
        assert_clean_run(c, srv, name, args, expect)
    c.check(srv.alive(), "server alive after the relaying modes")

    two_workers(c, to4, user)

    rest = iwtest.Server(auth="rest", extra=EXTRA).start()
    print("REST server: %s pid %d port %d" % (rest.kind, rest.pid, rest.port))
    assert_clean_run(c, rest, "REST secret", base + ["-c", "-W", iwtest.REST_SECRET, "-u",
                                                     "bob"] + to4, total)
    rest.stop()

    # uclient's negative modes: small runs, bounded; their own verdict does not matter, the
    # relay's health afterwards does.
    # -R never ends by itself: within its first second it sends what it sends, then it
    # retransmits one request the relay leaves unanswered, 1, 2, 4 and 8 s apart. Eight seconds
    # cover the burst and three of those retransmissions.
    for flag, what in (("-N", "negative tests"), ("-R", "negative protocol tests"),
                       ("-O", "DOS mode")):
        st, out = uclient(srv, ["-m", "10", "-n", "50", "-l", "120", "-z", "0", flag] + to4 +
                          user, timeout=8 * iwtest.SLOW)
        print("  %s (%s) finished%s" % (flag, what, "" if st else " without statistics"))
        c.check(srv.alive(), "server alive after uclient %s (%s)" % (flag, what))
        c.check(iwtest.binding_ok(srv.host, srv.port, 2.0 * iwtest.SLOW),
                "server answers a Binding after uclient %s" % flag)
    assert_clean_run(c, srv, "channels after the negative modes", base + ["-c"] + to4 + user,
                     total)
    print("  relaying matrix took %.0f s" % (time.monotonic() - t0))
    stop_peers()
    c.check(srv.alive(), "server alive at the end")
    if iwtest.SANITIZED:
        c.check(not srv.sanitizer_report(), "no sanitizer report in the log",
                "; ".join(srv.sanitizer_report()[:3]))
    status = srv.stop()
    if srv.kind == "iceway":
        c.check(status == 0, "server exits 0 on SIGTERM", "status %s" % status)
        # uclient sends in bursts, so runs of datagrams to one address leave as UDP GSO sends
        # (every one of them still arrived whole: the loss checks above).
        text = srv.log_text()
        sends, segs = log_counter(text, "gso_sends"), log_counter(text, "gso_segments")
        print("  UDP GSO: %d sends carried %d datagrams" % (sends, segs))
        c.check(sends > 0 and segs >= 2 * sends, "runs to one address left as UDP GSO sends",
                "%d sends, %d datagrams" % (sends, segs))


try:
    iwtest.run("test_relay_uclient", body)
finally:
    stop_peers()
