"""coturn's turnutils_uclient -M ("Use TURN ICE Mobility") against a relay with the mobility
option and four UDP workers. With -M uclient allocates with an empty MOBILITY-TICKET, then opens
a new socket (another source port, so SO_REUSEPORT may hand it to another worker), sends a
Refresh with the ticket twice, 10 ms apart, reads two answers and fails on any error; only then
does it bind channels (or set permissions) and relay (startuclient.c, clnet_allocate). Every
message must come back (0 % loss), over channels with the RTCP allocation (EVEN-PORT, then a
RESERVATION-TOKEN) and over Send/Data indications, and some moves must cross workers.
"""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402

CLIENTS, MESSAGES, LENGTH = 10, 100, 120
_peers = []


def uclient(srv, args):
    cmd = ["turnutils_uclient", "-M", "-p", str(srv.port), "-u", t.USER, "-w", t.PASSWORD,
           "-m", str(CLIENTS), "-n", str(MESSAGES), "-l", str(LENGTH)] + args + [srv.host]
    print("  $ " + " ".join(cmd))
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, env=t.uclient_env(), timeout=60 * t.SLOW)
        return p.returncode, p.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        return None, (e.stdout or b"").decode("utf-8", "replace") + "\n(timed out)"


def clean_run(c, srv, name, args):
    rc, out = uclient(srv, args)
    sent = re.findall(r"tot_send_msgs=(\d+), tot_recv_msgs=(\d+)\s*$", out, re.M)
    lost = re.search(r"Total lost packets (\d+) \(([0-9.]+)%\)", out)
    errors = [ln for ln in out.splitlines() if re.search(r"\berror\b", ln, re.I)]
    ok = c.check(rc == 0 and sent and lost, "%s: uclient -M finished with statistics" % name,
                 "rc %s: %s" % (rc, out[-1500:]))
    if not ok:
        return
    s, r = int(sent[-1][0]), int(sent[-1][1])
    print("  %s: sent %d, received %d, lost %s" % (name, s, r, lost.group(1)))
    c.check(s == CLIENTS * MESSAGES and r == s, "%s: every message came back" % name, "%d of %d" % (r, s))
    c.check(int(lost.group(1)) == 0, "%s: 0 %% loss" % name, lost.group(0))
    c.check(not errors, "%s: no error in uclient's output" % name, "; ".join(errors[:3]))


def body(c):
    mport = t.free_tcp_port()
    extra = ["--mobility"]
    if not t.is_coturn():
        # uclient picks channel numbers from RFC 5766's 0x4000-0x7FFF.
        extra += ["--relay-threads", "4", "--allow-rfc5766-channels", "--prometheus",
                  "--prometheus-port", str(mport)]
    srv = t.Server(extra=extra, verbose=False).start()
    peer = t.start_echo_peer("127.0.0.1", _peers)
    to = ["-e", "127.0.0.1", "-r", str(peer)]
    clean_run(c, srv, "channels, with RTCP allocations", to)
    clean_run(c, srv, "Send indications", ["-s", "-c"] + to)
    if not t.is_coturn():
        moves = {k: t.metric(mport, "iceway_relay_mobility_moves_total", worker=k) or 0
                 for k in ("same", "other")}
        refused = sum(t.metric(mport, "iceway_relay_mobility_refused_total", reason=r) or 0
                      for r in ("forbidden", "bad_ticket", "gone", "wrong_user", "busy"))
        print("  moves: %d within a worker, %d to another" % (moves["same"], moves["other"]))
        c.check(moves["other"] >= 1 and moves["same"] + moves["other"] >= 2 * CLIENTS,
                "metric: every allocation moved, some to another worker", repr(moves))
        c.check(refused == 0, "metric: no mobility request refused", repr(refused))
    t.stop_procs(_peers)
    c.check(srv.alive(), "server alive at the end")
    c.check(not srv.sanitizer_report(), "no sanitizer report", "; ".join(srv.sanitizer_report()[:3]))
    status = srv.stop()
    if not t.is_coturn():
        c.check(status == 0, "server exits 0 on SIGTERM", "status %s" % status)


try:
    t.run("test_relay_mobility_uclient", body)
finally:
    t.stop_procs(_peers)
