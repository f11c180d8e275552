"""coturn's own example configuration, as Debian's coturn package ships it
(/usr/share/doc/coturn/examples/etc/turnserver.conf): each option line, uncommented one at a
time beside a working base, must let iceway-relay start, or stop it with a reason naming the
option where ignoring it would be unsafe (no-tlsv1_2) or where the example's
value cannot work on its own (an address this host does not have, a min-port above the base's
max-port, use-auth-secret without a secret, redis-userdb with placeholders). An option iceway ignores is warned about with what
it does instead. Then the ones iceway implements from that list behave as in coturn:
stun-only (TURN refused), no-stun (Binding refused), no-software-attribute (no SOFTWARE),
permission-lifetime and channel-lifetime (taken), relay-threads=0 (one per CPU); the logging,
TLS and address-family options iceway implements (IMPLEMENTED) start without the "ignored"
warning (test_relay_syslog, test_relay_tls_options, test_relay_address_family check what they
do). coturn's SQL, MongoDB and SQLite user databases are each warned about once, pointing to
redis-userdb."""
import concurrent.futures
import os
import queue
import re
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest  # noqa: E402

EXAMPLE = "/usr/share/doc/coturn/examples/etc/turnserver.conf"
JOBS = 4
ATTR_ALTERNATE_SERVER = 0x8023
# option: why iceway-relay stops with the example's line alone
REFUSED = {
    "no-tlsv1_2": "TLS 1.3",
    "listening-ip": "cannot listen",      # 172.17.19.101 is not this host's
    "min-port": "greater than max-port",  # 49152 above the base's max-port
    "use-auth-secret": "needs static-auth-secret",
    # The example's connection string holds placeholders ("dbname=<database-number>").
    "redis-userdb": "redis-userdb: dbname= must be a database number",
}
# coturn options of the example that iceway enforces (and once ignored with a warning)
ENFORCED = {"max-bps", "bps-capacity", "user-quota", "total-quota"}
# options of the example that iceway implements now: no "is ignored" warning for them
IMPLEMENTED = ("syslog-facility", "simple-log", "new-log-timestamp", "no-stdout-log", "log-file",
               "ec-curve-name", "dh-file", "dh2066", "cipher-list", "keep-address-family",
               "allocation-default-address-family", "no-udp-relay", "no-tcp-relay")


def example_lines():
    opts = {}
    with open(EXAMPLE) as f:
        for ln in f:
            m = re.match(r"^#([a-z][a-z0-9_-]*)(\s*=.*)?$", ln.strip())
            if m and m.group(1) not in opts:
                opts[m.group(1)] = ln.strip()[1:]
    return opts


def run_with(d, line, port, lo, binding=True):
    """Start the relay with the base and line; (started, output). Started: it answers a
    Binding, or (binding False: no-stun refuses them) it logged that it is ready."""
    conf = os.path.join(d, "t.conf")
    with open(conf, "w") as f:
        f.write("listening-ip=127.0.0.1\nlistening-port=%d\nmin-port=%d\nmax-port=%d\n"
                "user=alice:secret\nrealm=iceway.test\nlt-cred-mech\n%s\n" % (port, lo, lo + 9, line))
    p = subprocess.Popen([os.environ["IW_RELAY"], "-c", conf], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, cwd=d)
    deadline = time.monotonic() + 5 * iwtest.SLOW
    while time.monotonic() < deadline:
        if p.poll() is not None:
            return False, p.stdout.read().decode(errors="replace")
        if binding and iwtest.binding_ok("127.0.0.1", port, timeout=0.2) or \
                not binding and time.monotonic() > deadline - 4 * iwtest.SLOW:
            p.terminate()
            out = p.communicate(timeout=10)[0].decode(errors="replace")
            return True, out
    p.kill()
    return False, p.communicate()[0].decode(errors="replace") + " (no answer)"


def example(c):
    if not os.path.exists(EXAMPLE):
        c.check(False, "coturn's example config at %s (tools/install-deps.sh test)" % EXAMPLE)
        return
    opts = sorted(example_lines().items())
    # A few relays at a time, each on its own port and relay range: one start and stop is
    # about 0.7 s, and there are 91 of them.
    slots = queue.Queue()
    for i in range(JOBS):
        lo, _ = iwtest.free_port_block(10, ("127.0.0.1",))
        slots.put((iwtest.tmpdir("iwtest-coturn-conf-%d-" % i), iwtest.free_udp_port(), lo))

    def one(item):
        name, line = item
        d, port, lo = slots.get()
        try:
            if name == "listening-port":
                line = "listening-port=%d" % port  # the example's 3478 may be in use here
            return name, line, run_with(d, line, port, lo, binding=(name != "no-stun"))
        finally:
            slots.put((d, port, lo))

    started = 0
    with concurrent.futures.ThreadPoolExecutor(JOBS) as ex:
        results = list(ex.map(one, opts))
    for name, line, (ok, out) in results:
        if name in REFUSED:
            c.check(not ok and REFUSED[name] in out,
                    "%s: refused, saying %r" % (line, REFUSED[name]), out.strip()[-300:])
            continue
        if not ok:
            c.check(False, "%s: iceway-relay starts" % line, out.strip()[-300:])
            continue
        started += 1
        w = re.search(r"option '%s' is not supported by iceway and is ignored(: .*)?" %
                      re.escape(name), out)
        if w:
            c.check(bool(w.group(1)), "%s: the warning says what iceway does instead" % name,
                    w.group(0))
        if name in ENFORCED:
            c.check(not w, "%s: taken, not ignored" % line, w.group(0) if w else "")
        if name in IMPLEMENTED:
            c.check(not w, "%s: implemented, not warned about as ignored" % name, w and w.group(0))
    print("%d of coturn's %d example options start iceway-relay; %d refused with a reason" %
          (started, len(opts), len(REFUSED)))
    c.check(len(opts) >= 80, "the example lists coturn's options (%d)" % len(opts))


def behaviour(c):
    srv = iwtest.Server(extra=["--stun-only"]).start()
    cl = iwtest.Client(srv)
    m = cl.binding()
    c.check(m is not None and m.cls == iwtest.CLASS_SUCCESS, "stun-only: Binding answered")
    m = cl.allocate()
    c.check(m is not None and m.code == 403, "stun-only: Allocate refused with 403", repr(m))
    srv.stop()

    srv = iwtest.Server(extra=["--no-stun"]).start(wait=False)
    deadline = time.monotonic() + 10 * iwtest.SLOW
    while "ready:" not in srv.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    cl = iwtest.Client(srv)
    m = cl.binding()
    c.check(m is not None and m.code == 403, "no-stun: Binding refused with 403", repr(m))
    m = cl.allocate()
    c.check(m is not None and m.cls == iwtest.CLASS_SUCCESS, "no-stun: Allocate served")
    c.check(m is not None and m.has(iwtest.ATTR_SOFTWARE), "by default answers carry SOFTWARE")
    srv.stop()

    srv = iwtest.Server(extra=["--no-software-attribute", "--relay-threads", "0",
                               "--permission-lifetime", "60", "--channel-lifetime", "120"]).start()
    cl = iwtest.Client(srv)
    m = cl.allocate()
    c.check(m is not None and m.cls == iwtest.CLASS_SUCCESS and not m.has(iwtest.ATTR_SOFTWARE),
            "no-software-attribute: an authenticated answer without SOFTWARE")
    srv.stop()


def alternates(c):
    """alternate-server and tls-alternate-server as in coturn: every new allocation is sent
    elsewhere, to the alternates of the client's transport and family in turn, ADDR alone taking
    the transport's default port; a client of a family none has is served here."""
    d = iwtest.tmpdir("iwtest-alt-")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    iwtest.make_cert(cert, key, "localhost")
    tls_port = iwtest.free_tcp_port()
    srv = iwtest.Server(listen=("127.0.0.1", "::1"), extra=[
        "--relay-threads", "1", "--alternate-server", "127.0.0.2:3479",
        "--alternate-server", "127.0.0.3", "--tls-alternate-server", "127.0.0.4",
        "--tls-listening-port", str(tls_port), "--cert", cert, "--pkey", key]).start()
    got = []
    for _ in range(3):
        m = iwtest.Client(srv).allocate()
        v = m.get(ATTR_ALTERNATE_SERVER) if m is not None and m.code == 300 else None
        got.append(iwtest.decode_plain_addr(v) if v else (m.code if m is not None else None))
    c.check(got == [("127.0.0.2", 3479), ("127.0.0.3", 3478), ("127.0.0.2", 3479)],
            "alternate-server: UDP Allocates get 300 to each alternate in turn (3478 by default)",
            repr(got))
    m = iwtest.Client("::1", srv.port, local="::1").allocate()
    c.check(m is not None and m.cls == iwtest.CLASS_SUCCESS,
            "alternate-server: an IPv6 client, no IPv6 alternate: allocated here", repr(m))
    sc = iwtest.StreamClient("127.0.0.1", tls_port, tls=True)
    m = sc.request(iwtest.METHOD_ALLOCATE, [(iwtest.ATTR_REQUESTED_TRANSPORT,
                                             struct.pack("!B3x", iwtest.PROTO_UDP))])
    v = m.get(ATTR_ALTERNATE_SERVER) if m is not None and m.code == 300 else None
    c.check(v is not None and iwtest.decode_plain_addr(v) == ("127.0.0.4", 5349),
            "tls-alternate-server: a TLS client gets 300 to it (5349 by default)", repr(m))
    sc.s.close()
    srv.stop()


def user_databases(c):
    """coturn's SQL, MongoDB and SQLite user databases: each option warned about once, however
    often it is given, with what to use instead, redis-userdb among it; the relay starts."""
    d = iwtest.tmpdir("iwtest-userdbs-")
    port = iwtest.free_udp_port()
    lo, _ = iwtest.free_port_block(10, ("127.0.0.1",))
    names = ("psql-userdb", "mysql-userdb", "mongo-userdb", "userdb")
    lines = "\n".join("%s=x%d" % (n, i) for n in names for i in range(2))
    ok, out = run_with(d, lines, port, lo)
    c.check(ok, "the user database options twice each: iceway-relay starts", out.strip()[-300:])
    for n in names:
        w = re.findall(r"option '%s' is not supported by iceway and is ignored: (.*)" % re.escape(n), out)
        c.check(len(w) == 1, "%s given twice: warned about once" % n, repr(w))
        c.check(bool(w) and "redis-userdb" in w[0] and "user=" in w[0],
                "%s: the warning says to use redis-userdb, user= lines or REST credentials" % n, repr(w))


def body(c):
    if iwtest.is_coturn():
        c.skip("coturn options", "checks iceway-relay against coturn's example")
        return
    example(c)
    behaviour(c)
    alternates(c)
    user_databases(c)


iwtest.run("test_coturn_options", body)
