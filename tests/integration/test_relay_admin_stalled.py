"""The admin API when a worker does not answer its mailbox: one UDP worker thread of a real
relay is stopped with ptrace (PTRACE_SEIZE and PTRACE_INTERRUPT stop that thread alone; the
other threads, the admin API's among them, run on), and the admin API answers a session
listing with 503 after its 2 s wait, counts it in iceway_admin_worker_timeouts_total, and
logs which worker did not answer. Once the thread runs again, the same request gets 200 and
lists every allocation again, those of the worker that was stopped among them."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402
from ptracetest import stopped_or_skip, thread_named  # noqa: E402
from admintest import Admin  # noqa: E402


def status_of(ad, path):
    st, _, body = ad.request("GET", path)
    return st, body


def workers_used(ad):
    """Workers that hold an allocation: a session id's top 16 bits are its worker's index + 1
    (turn/control.c)."""
    return {int(x["id"], 16) >> 48 for x in ad.sessions()} - {0}


def body(c):
    if t.is_coturn():
        c.skip("admin API", "iceway's own")
        return
    ad = Admin(extra=["--relay-threads", "2"]).start()
    pid = ad.srv.pid
    tid = thread_named(pid, "iw-udp-1")
    c.check(tid is not None, "the relay names its UDP worker threads (iw-udp-1)")
    if tid is None:
        return
    # Allocations from new source ports until both UDP workers hold some (SO_REUSEPORT
    # spreads them by hash); bounded.
    clients = []
    while len(clients) < 40 and (len(clients) < 4 or 2 not in workers_used(ad)):
        cl = t.Client(ad.srv)
        m = cl.allocate()
        c.check(m is not None and m.cls == t.CLASS_SUCCESS, "allocation %d" % len(clients), repr(m))
        clients.append(cl)
    c.check(2 in workers_used(ad), "worker 1 holds an allocation", str(workers_used(ad)))
    before = ad.sessions()
    c.check(len(before) == len(clients), "all workers running: every allocation listed",
            "%d of %d" % (len(before), len(clients)))
    with stopped_or_skip(c, tid) as stopped:
        if not stopped:
            return
        with open("/proc/%d/task/%d/stat" % (pid, tid)) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        c.check(state == "t", "iw-udp-1 is stopped by the tracer (state t)", state)
        t0 = time.monotonic()
        st, resp = status_of(ad, "/admin/sessions")
        waited = time.monotonic() - t0
        print("  GET /admin/sessions with iw-udp-1 stopped: %s after %.2f s" % (st, waited))
        c.check(st == 503 and "did not answer in time" in str(resp), "a worker stopped: 503",
                "%s %s" % (st, resp))
        c.check(1.8 <= waited < 6 * t.SLOW, "after the mailbox wait (2 s)", "%.2f s" % waited)
        n = t.metric(ad.port, "iceway_admin_worker_timeouts_total")
        c.check(n == 1, "iceway_admin_worker_timeouts_total 1", "%s" % n)
    st, resp = status_of(ad, "/admin/sessions")
    c.check(st == 200 and len(resp["sessions"]) == len(clients),
            "the worker runs again: 200, every allocation listed", "%s %s" % (st, resp))
    c.check("admin: worker 1 did not answer within 2000 ms" in ad.srv.log_text(),
            "the log names the worker that did not answer")
    c.check(ad.srv.alive(), "relay alive")
    c.check(ad.srv.stop() == 0, "relay exits cleanly")
    if t.SANITIZED:
        c.check(not ad.srv.sanitizer_report(), "no sanitizer report in %s" % ad.srv.log_path)


t.run("test_relay_admin_stalled", body)
