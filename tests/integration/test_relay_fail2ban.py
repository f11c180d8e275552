"""fail2ban reads iceway-relay's log: docker/fail2ban/iceway.conf checked with Debian's
fail2ban-regex against lines the relay wrote in this test, plain and JSON (log-format json).

Wrong passwords from 127.0.0.2 (three) and 127.0.0.3 (two), a peer the policy refuses (403)
from 127.0.0.4, a quota refusal (486) from 127.0.0.5, a TCP connection past max-tcp-per-ip
from 127.0.0.8: fail2ban-regex finds exactly those hosts,
that many times each. A client that allocates, renews its nonce after a 438 and refreshes
(127.0.0.1) matches nothing, and no password reaches the log. On the plain relay, a flood of
wrong passwords from 127.0.0.6 is cut to a few lines with the skipped ones counted
(suppressed=N), while 127.0.0.7, failing during the flood, still gets its line.
"""

import collections
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FILTER = os.path.join(HERE, "..", "..", "docker", "fail2ban", "iceway.conf")
PASSWORD = "alice-pass-9f3e"
BOB_PASSWORD = "bob-pass-77c1"
WRONG = "not-the-password-4d2a"
FLOOD = 1 + 39 * 2 + 1  # wrong MESSAGE-INTEGRITY requests from 127.0.0.6


def ok(m):
    return m is not None and m.cls == t.CLASS_SUCCESS


def show(m):
    return repr(m) if m is not None else "no response"


def f2b_hosts(log):
    r = subprocess.run(["fail2ban-regex", "-o", "ip", log, FILTER], capture_output=True, timeout=60)
    out = r.stdout.decode()
    return r.returncode, collections.Counter(ln.strip() for ln in out.splitlines() if ln.strip())


def security_lines(text, host):
    pat = re.compile(r"(auth failure|refused) from %s:\d+ " % re.escape(host))
    return [ln for ln in text.splitlines() if pat.search(ln)]


def bad_password(c, srv, local, n):
    for i in range(n):
        cl = t.Client(srv, user=t.USER, password=WRONG, local=local)
        m = cl.allocate()  # a 401 challenge, then one wrong MESSAGE-INTEGRITY: one failure
        c.check(m is not None and m.code == 401, "%s: wrong password %d gets 401" % (local, i + 1), show(m))
        cl.close()


def scenario(c, fmt):
    mport = t.free_tcp_port()
    srv = t.Server(users=((t.USER, PASSWORD), ("bob", BOB_PASSWORD)), loopback_peers=False,
                   extra=["--log-format", fmt, "--user-quota", "1", "--stale-nonce=2",
                          "--max-tcp-per-ip", "1", "--prometheus", "--prometheus-port",
                          str(mport)]).start()
    # A client that does everything right, a nonce renewal (438) included.
    bob = t.Client(srv, user="bob", password=BOB_PASSWORD)
    c.check(ok(bob.allocate()), "%s: bob allocates" % fmt)
    time.sleep(2.3)
    m = bob.request(t.METHOD_REFRESH, [], retry_auth=False)
    c.check(m is not None and m.code == 438, "%s: bob's nonce went stale (438)" % fmt, show(m))
    c.check(ok(bob.refresh(600)), "%s: bob refreshes with the new nonce" % fmt)

    bad_password(c, srv, "127.0.0.2", 3)
    bad_password(c, srv, "127.0.0.3", 2)
    alice = t.Client(srv, user=t.USER, password=PASSWORD, local="127.0.0.4")
    c.check(ok(alice.allocate()), "%s: alice allocates from 127.0.0.4" % fmt)
    m = alice.create_permission("127.0.0.9")
    c.check(m is not None and m.code == 403, "%s: a loopback peer is refused (403)" % fmt, show(m))
    m = t.Client(srv, user=t.USER, password=PASSWORD, local="127.0.0.5").allocate()
    c.check(m is not None and m.code == 486, "%s: alice's second allocation is over quota (486)" % fmt,
            show(m))
    # A second TCP connection from one address, past max-tcp-per-ip 1.
    held = socket.create_connection((srv.host, srv.port), timeout=5, source_address=("127.0.0.8", 0))
    second = socket.create_connection((srv.host, srv.port), timeout=5, source_address=("127.0.0.8", 0))
    c.check(t.closed_by_server(second, 5), "%s: a second TCP connection from 127.0.0.8 is closed" % fmt)
    held.close()
    second.close()
    expect = {"127.0.0.2": 3, "127.0.0.3": 2, "127.0.0.4": 1, "127.0.0.5": 1, "127.0.0.8": 1}

    if fmt == "plain":
        # A flood from one address: a few lines, not one per try, and another address failing
        # meanwhile is not hidden.
        flood = t.Client(srv, user=t.USER, password=WRONG, local="127.0.0.6")
        t0 = time.monotonic()
        for _ in range(40):  # one failure, then two each (a retry with the nonce of the 401)
            flood.allocate()
        bad_password(c, srv, "127.0.0.7", 1)
        elapsed = time.monotonic() - t0
        time.sleep(1.1)
        # one more try, not retried: its line reports what the flood had skipped
        alloc = [(t.ATTR_REQUESTED_TRANSPORT, bytes([17, 0, 0, 0]))]
        m = flood.request(t.METHOD_ALLOCATE, alloc, retry_auth=False)
        if m is not None and m.code == 438:
            # The flood's nonce aged out: nonces are dated in whole seconds, so stale-nonce 2
            # ends 1 to 2 s after the 401 that gave it. A 438 is no failure line; the request
            # again, with the new nonce, is the one more try.
            m = flood.request(t.METHOD_ALLOCATE, alloc, retry_auth=False)
        c.check(m is not None and m.code == 401, "127.0.0.6: still 401 after the flood", show(m))
        text = srv.log_text()
        lines6 = security_lines(text, "127.0.0.6")
        sup = [int(x) for x in re.findall(r"suppressed=(\d+)", "\n".join(lines6))]
        print("  flood: %d failures from 127.0.0.6 in %.2f s -> %d lines, suppressed=%s" %
              (FLOOD, elapsed, len(lines6), sup))
        c.check(5 <= len(lines6) <= 5 + int(elapsed + 1.1) + 2,
                "127.0.0.6: the flood is cut to a burst of 5 and about one line a second (%d)" %
                len(lines6))
        c.check(sup and sup[-1] > 0 and sum(sup) + len(lines6) == FLOOD,
                "127.0.0.6: every failure is a line or counted in suppressed= (%s + %d == %d)" %
                (sup, len(lines6), FLOOD))
        expect["127.0.0.6"] = len(lines6)
        expect["127.0.0.7"] = 1
        written = t.metric(mport, "iceway_relay_security_log_lines_total", result="written")
        skipped = t.metric(mport, "iceway_relay_security_log_lines_total", result="suppressed")
        print("  security_log_lines_total: written %s suppressed %s" % (written, skipped))
        c.check(skipped == FLOOD - len(lines6), "metric: suppressed lines counted (%s)" % skipped)

    srv.stop()
    text = srv.log_text()
    rc, hosts = f2b_hosts(srv.log_path)
    print("  %s: fail2ban-regex hosts %s" % (fmt, dict(hosts)))
    c.check(rc == 0, "%s: fail2ban-regex ran" % fmt)
    c.check(dict(hosts) == expect, "%s: matched hosts and counts are %s" % (fmt, expect), dict(hosts))
    c.check("127.0.0.1" not in hosts and not security_lines(text, "127.0.0.1"),
            "%s: bob's allocation, 438 and refresh match nothing" % fmt)
    for pw in (PASSWORD, BOB_PASSWORD, WRONG):
        c.check(pw not in text, "%s: no password in the log" % fmt)
    if fmt == "json":
        c.check(all(ln.startswith("{") for ln in security_lines(text, "127.0.0.2")),
                "json: the lines are JSON objects")
    if t.SANITIZED:
        c.check(not srv.sanitizer_report(), "no sanitizer report in %s" % srv.log_path)


def body(c):
    if t.is_coturn():
        c.skip("fail2ban filter", "iceway-relay's log format")
        return
    if not shutil.which("fail2ban-regex"):
        c.check(False, "fail2ban-regex is installed (tools/install-deps.sh test)")
        return
    scenario(c, "plain")
    scenario(c, "json")


t.run("test_relay_fail2ban", body)
