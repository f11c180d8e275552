"""libnice through the relay: two NiceAgents (iw_nice_pair) that may only use TURN relay
candidates, authenticated with a TURN REST credential, connect relay-to-relay and exchange
200 paced messages each way. The selected pair must be relay/relay on both sides and every
message must arrive exactly once."""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402

MESSAGES = 200


def body(c):
    build = os.environ.get("IW_BUILD", "")
    exe = os.path.join(build, "tests", "integration", "iw_nice_pair")
    if not os.access(exe, os.X_OK):
        c.check(False, "iw_nice_pair is built", exe)
        return
    srv = t.Server(auth="rest").start()
    print("server: %s pid %d port %d" % (srv.kind, srv.pid, srv.port))
    name, pw = t.rest_credentials(t.REST_SECRET, "nice", ttl=3600)
    timeout = int(60 * t.SLOW)
    env = dict(os.environ)
    # The client is the peer here, not the product: GLib's one-time allocations are no
    # leak of ours.
    env["ASAN_OPTIONS"] = "detect_leaks=0"
    try:
        r = subprocess.run([exe, srv.host, str(srv.port), name, pw, str(MESSAGES), str(timeout)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                           timeout=timeout + 30)
        out = r.stdout.decode("utf-8", "replace")
        rc = r.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace") + "\n(killed after the timeout)"
        rc = None
    for ln in out.splitlines():
        print("  " + ln)
    pairs = re.findall(r"^(left|right): selected pair (\w+) (\S+):(\d+) -> (\w+) (\S+):(\d+)$",
                       out, re.M)
    c.check(len(pairs) == 2 and all(p[1] == "relay" and p[4] == "relay" for p in pairs),
            "both agents selected a relay/relay pair", repr(pairs))
    ports = [int(p[3]) for p in pairs] + [int(p[6]) for p in pairs]
    c.check(pairs and all(srv.min_port <= x <= srv.max_port for x in ports),
            "the pair's relayed ports lie in the server's relay range %d-%d" %
            (srv.min_port, srv.max_port), repr(ports))
    for side in ("left", "right"):
        c.check("%s: sent %d, received %d of %d (duplicates 0, malformed 0)" %
                (side, MESSAGES, MESSAGES, MESSAGES) in out,
                "%s agent received all %d messages exactly once" % (side, MESSAGES))
    c.check(rc == 0, "iw_nice_pair exits 0", "exit status %s" % rc)
    c.check(srv.alive(), "server alive")
    if t.SANITIZED:
        rep = srv.sanitizer_report()
        c.check(not rep, "no sanitizer report in the log", "; ".join(rep[:3]))


t.run("test_relay_libnice", body)
