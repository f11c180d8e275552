"""coturn's logging options with coturn's meaning, read by a real syslog socket.

log-file stdout and log-file - write the lines to standard output (nothing on stderr, no file
named stdout). syslog (and log-file syslog) sends each line as one datagram to /dev/log: the
relay runs in its own mount namespace (unshare -m) where /dev/log is a Unix datagram socket
this test reads, and each line's <PRI> carries the syslog-facility (coturn's LOG_LOCAL1
spelling and plain daemon) and the level's priority: info 6, warning 4 (a wrong password),
debug 7 (verbose: the counters at exit). The daemon restarting (its socket replaced) loses no later line. With no
syslog daemon the lines stay on stderr, saying so. A bad facility is refused by name, and
new-log-timestamp-format restamps plain lines. A session record goes to syslog as the other
lines do: one datagram, the header, then the record (logfmt after the level, or the JSON
object with log-format json). SIGHUP opens log-file again by its name (logrotate).
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402

LOG_LOCAL1, LOG_DAEMON, LOG_USER = 17, 3, 1
PRI = re.compile(rb"^<(\d+)>([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) iceway-relay\[(\d+)\]: (.*)$", re.S)

# In the relay's mount namespace: device nodes it may need, then the test's directory over /dev.
NS_SCRIPT = """set -e
for f in null zero random urandom; do mount --bind /dev/$f "$0/$f"; done
mount --rbind "$0" /dev
exec "$@"
"""


# The relay's last line when started.
RELAY_READY = "INFO iceway-relay: ready: "


def relay_cmd(extra):
    return [os.environ["IW_RELAY"], "-n", "--listening-ip", "127.0.0.1", "--listening-port",
            str(t.free_udp_port()), "--user", "%s:%s" % (t.USER, t.PASSWORD), "--realm", t.REALM] + extra


def run_for(cmd, seconds, cwd, until=None):
    """Run cmd for a bounded time; (stdout, stderr, exit status or None if it was running).
    With until=(stream, text), stop it as soon as text shows on that stream ("stdout" or
    "stderr"): the last line a process logs when started, so everything it logs while
    starting is in by then."""
    import selectors
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd)
    got = {"stdout": b"", "stderr": b""}
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ, "stdout")
    sel.register(p.stderr, selectors.EVENT_READ, "stderr")
    deadline = time.monotonic() + seconds
    while sel.get_map() and time.monotonic() < deadline:
        if until and until[1].encode() in got[until[0]]:
            break
        for key, _ in sel.select(max(0.0, deadline - time.monotonic())):
            d = os.read(key.fileobj.fileno(), 65536)
            if d:
                got[key.data] += d
            else:
                sel.unregister(key.fileobj)
    eof = not sel.get_map()
    sel.close()
    rc = p.poll()
    if rc is None and eof:
        # Both pipes closed: it is exiting, or has exited and is not reaped yet.
        try:
            rc = p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    if rc is None:
        p.terminate()
    out, err = p.communicate(timeout=10)
    out, err = got["stdout"] + out, got["stderr"] + err
    return out.decode(errors="replace"), err.decode(errors="replace"), rc


def stdout_logs(c):
    d = t.tmpdir("iwtest-syslog-stdout-")
    for name in ("stdout", "-"):
        out, err, rc = run_for(relay_cmd(["--log-file", name]), 1.5 * t.SLOW, d,
                               ("stdout", RELAY_READY))
        c.check(rc is None and "INFO iceway-relay: listening on udp 127.0.0.1:" in out,
                "log-file %s: lines on standard output" % name, out[-300:] + err[-300:])
        c.check("listening on" not in err, "log-file %s: nothing on stderr" % name, err[-300:])
        c.check(not os.path.exists(os.path.join(d, name)), "log-file %s: no file named %s" % (name, name))
    sig = os.environ.get("IW_SIGNAL")
    if sig:
        out, err, rc = run_for([sig, "-n", "--listen", "127.0.0.1:%d" % t.free_tcp_port(),
                                "--log-file", "stdout"], 1.5 * t.SLOW, d,
                                ("stdout", "INFO iceway-signal: listening on"))
        c.check(rc is None and "INFO iceway-signal: " in out and "iceway-signal:" not in err,
                "iceway-signal log-file stdout: lines on standard output", out[-300:] + err[-300:])

    out, err, rc = run_for(relay_cmd(["--new-log-timestamp-format", "%d/%m/%Y %H:%M:%S %z"]),
                           1.5 * t.SLOW, d, ("stderr", RELAY_READY))
    c.check(re.search(r"^\d\d/\d\d/\d{4} \d\d:\d\d:\d\d \+0000 INFO iceway-relay: listening",
                      err, re.M) is not None,
            "new-log-timestamp-format: plain lines stamped with it (UTC)", err[-300:])
    out, err, rc = run_for(relay_cmd(["--syslog-facility", "LOG_NOPE"]), 5 * t.SLOW, d)
    c.check(rc not in (None, 0) and "syslog-facility" in err and "not a syslog facility" in err,
            "syslog-facility LOG_NOPE: refused by name", err[-300:])


class Syslog:
    """A datagram socket at DIR/log, seen by the relay as /dev/log."""

    def __init__(self, d):
        self.path = os.path.join(d, "log")
        self.bind()

    def bind(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.got = []

    def restart(self):
        self.sock.close()
        os.unlink(self.path)
        self.bind()

    def wait_for(self, pred, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in self.got:
                if pred(m):
                    return m
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                break
            m = PRI.match(data)
            self.got.append((int(m.group(1)), m.group(4).decode(errors="replace")) if m else
                            (None, data.decode(errors="replace")))
        return None


def ns_server(dev, extra):
    for f in ("null", "zero", "random", "urandom"):
        open(os.path.join(dev, f), "w").close()
    srv = t.Server(extra=extra)
    srv.args = ["unshare", "-m", "sh", "-c", NS_SCRIPT, dev] + srv.args
    return srv.start()


def syslog_lines(c):
    if subprocess.run(["unshare", "-m", "true"], stderr=subprocess.DEVNULL).returncode != 0:
        c.skip("syslog", "unshare -m is not allowed here")
        return
    for opts, fac, label in ((["--syslog", "--syslog-facility", "LOG_LOCAL1"], LOG_LOCAL1,
                              "syslog, syslog-facility LOG_LOCAL1"),
                             (["--log-file", "syslog", "--syslog-facility", "daemon"], LOG_DAEMON,
                              "log-file syslog, syslog-facility daemon")):
        dev = t.tmpdir("iwtest-syslog-dev-")
        log = Syslog(dev)
        srv = ns_server(dev, opts)
        m = log.wait_for(lambda m: "INFO listening on udp 127.0.0.1:%d" % srv.port in m[1], 5 * t.SLOW)
        c.check(m is not None and m[0] == fac * 8 + 6,
                "%s: info line at <%d>" % (label, fac * 8 + 6), repr(m or log.got[:3]))
        cl = t.Client(srv, password="wrong-password")
        cl.allocate()
        m = log.wait_for(lambda m: "auth failure from 127.0.0.1" in m[1], 5 * t.SLOW)
        c.check(m is not None and m[0] == fac * 8 + 4 and m[1].startswith("WARN auth failure"),
                "%s: the wrong password's line is a warning <%d>" % (label, fac * 8 + 4), repr(m))
        cl = t.Client(srv)
        ok = cl.allocate() is not None and cl.refresh(0) is not None
        m = log.wait_for(lambda m: m[1].startswith("INFO session kind=final "), 5 * t.SLOW)
        c.check(ok and m is not None and m[0] == fac * 8 + 6 and "user=%s " % t.USER in m[1] and
                m[1].endswith(" end=refresh0"),
                "%s: a session record is one datagram with the header, the record its body <%d>"
                % (label, fac * 8 + 6), repr(m or log.got[-3:]))
        c.check(all(p is not None and p >> 3 == fac for p, _ in log.got),
                "%s: every datagram has a header with the facility (%d)" % (label, len(log.got)))
        c.check("listening on" not in srv.log_text(), "%s: nothing on stderr" % label,
                srv.log_text()[-300:])

        log.restart()
        cl = t.Client(srv, password="wrong-password")
        cl.allocate()
        m = log.wait_for(lambda m: "auth failure from 127.0.0.1" in m[1], 5 * t.SLOW)
        c.check(m is not None and m[0] == fac * 8 + 4,
                "%s: after the daemon's restart, lines reach the new socket" % label, repr(log.got[:3]))
        srv.stop()
        m = log.wait_for(lambda m: m[0] == fac * 8 + 7 and m[1].startswith("DEBUG counter"), 5 * t.SLOW)
        c.check(m is not None, "%s: verbose lines (counters at exit) are debug <%d>" % (label, fac * 8 + 7),
                repr(log.got[-3:]))
        log.sock.close()

    dev = t.tmpdir("iwtest-syslog-json-")
    log = Syslog(dev)
    srv = ns_server(dev, ["--syslog", "--log-format", "json"])
    cl = t.Client(srv)
    cl.allocate()
    cl.refresh(0)
    m = log.wait_for(lambda m: '"msg":"session"' in m[1], 5 * t.SLOW)
    try:
        rec = json.loads(m[1]) if m else {}
    except ValueError:
        rec = {}
    c.check(m is not None and m[0] == LOG_USER * 8 + 6 and rec.get("kind") == "final" and
            rec.get("end") == "refresh0" and rec.get("user") == t.USER and
            isinstance(rec.get("bytes_to_peer"), int),
            "syslog, log-format json: a session record is one datagram, the JSON object its body <%d>"
            % (LOG_USER * 8 + 6), repr(m or log.got[-3:]))
    bad = []
    for p, b in log.got:
        try:
            json.loads(b)
        except ValueError:
            bad.append(b)
    c.check(log.got and not bad, "syslog, log-format json: every datagram's body is one JSON object",
            repr(bad[:3]))
    srv.stop()
    log.sock.close()

    dev = t.tmpdir("iwtest-syslog-none-")
    srv = ns_server(dev, ["--syslog"])
    text = srv.log_text()
    c.check("cannot reach /dev/log" in text and "listening on udp" in text,
            "syslog without a daemon: lines stay on stderr, saying so", text[-300:])
    srv.stop()


def reopen_on_hup(c):
    """logrotate moves log-file away and sends SIGHUP (coturn's way): the relay opens the
    file again by its name, and later lines go there."""
    d = t.tmpdir("iwtest-syslog-rotate-")
    path = os.path.join(d, "relay.log")
    srv = t.Server(extra=["--log-file", path]).start()
    os.rename(path, path + ".1")
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10 * t.SLOW
    text = ""
    while time.monotonic() < deadline and "reloaded" not in text:
        time.sleep(0.05)
        text = open(path).read() if os.path.exists(path) else ""
    c.check("reloaded" in text, "SIGHUP: log-file opened again by its name after a rotation",
            open(path + ".1").read()[-300:])
    c.check("reloaded" not in open(path + ".1").read(), "SIGHUP: the rotated file gets no later line")
    srv.stop()


def body(c):
    if t.is_coturn():
        c.skip("syslog", "checks iceway-relay's log options")
        return
    stdout_logs(c)
    reopen_on_hup(c)
    syslog_lines(c)


t.run("test_relay_syslog", body)
