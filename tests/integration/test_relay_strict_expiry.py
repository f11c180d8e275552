"""rest-strict-expiry: an allocation made with a TURN REST credential ends at the credential's
timestamp, as coturn's option and eturnal's strict_expiry do; off (the default) it relays on
until its lifetime ends, as before.

Three allocations, each with a REST credential that expires about 3 s after it is made, and a
loopback UDP peer sending to each relayed address:
- relay S runs with --rest-strict-expiry: the Allocate's LIFETIME is capped at the credential,
  data flows before the expiry and not after it, a Refresh after it gets 401, and the metric
  counts the allocation ended and the request refused;
- relay O runs without it (from a file): the allocation still relays after the expiry; then a
  reload (SIGHUP) that turns the option on ends it within a couple of seconds.
Bounded: about 10 s in all.
"""

import os
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402

SECRET = "strict-expiry-secret"
TTL = 3


def ok(m):
    return m is not None and m.cls == t.CLASS_SUCCESS


def show(m):
    return repr(m) if m is not None else "no response"


class Peer:
    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))

    def relays(self, cl, tag):
        """True when a datagram from the peer to cl's relayed address reaches cl (bounded)."""
        payload = b"strict-" + tag
        for _ in range(3):
            self.s.sendto(payload, cl.relayed)
            r = cl.recv_data(0.5)
            if r is not None and r[2] == payload:
                return True
        return False


def write_conf(path, strict):
    with open(path, "w") as f:
        f.write("use-auth-secret\nstatic-auth-secret=%s\nrealm=%s\n" % (SECRET, t.REALM))
        if strict:
            f.write("rest-strict-expiry\n")


def body(c):
    if t.is_coturn():
        c.skip("rest-strict-expiry", "iceway-relay's metrics and reload")
        return
    sport, oport = t.free_tcp_port(), t.free_tcp_port()
    strict = t.Server(auth="rest", secret=SECRET,
                      extra=["--rest-strict-expiry", "--prometheus", "--prometheus-port",
                             str(sport)]).start()
    off = t.Server(auth="rest", secret=SECRET, extra=["--prometheus", "--prometheus-port", str(oport)])
    path = os.path.join(off.dir, "relay.conf")
    write_conf(path, strict=False)
    off.args.remove("-n")
    off.args.remove("--use-auth-secret")
    off.args[1:1] = ["-c", path]
    off.start()

    peer = Peer()
    expiry = int(time.time()) + TTL
    clients = {}
    for name, srv in (("strict", strict), ("off", off)):
        user, pw = t.rest_credentials(SECRET, user="carol", expiry=expiry)
        cl = t.Client(srv, user=user, password=pw)
        m = cl.allocate(lifetime=600)
        c.check(ok(m), "%s: allocation with a credential expiring in %d s" % (name, TTL), show(m))
        life = struct.unpack("!I", m.get(t.ATTR_LIFETIME))[0] if ok(m) else None
        if name == "strict":
            c.check(life is not None and life <= TTL + 1,
                    "strict: LIFETIME capped at the credential (%s s <= %d)" % (life, TTL + 1))
        else:
            c.check(life == 600, "off: LIFETIME as asked (%s s)" % life)
        c.check(ok(cl.create_permission("127.0.0.1")), "%s: permission for the peer" % name)
        c.check(peer.relays(cl, b"before"), "%s: relays before the expiry" % name)
        clients[name] = cl

    # Past the timestamp, plus the 1-second timer wheel.
    time.sleep(max(0.0, expiry + 2.2 - time.time()))
    cs, co = clients["strict"], clients["off"]
    c.check(not peer.relays(cs, b"after"), "strict: nothing relayed after the expiry")
    m = cs.refresh(600)
    c.check(m is not None and m.code == 401, "strict: Refresh after the expiry gets 401", show(m))
    c.check(m is not None and m.error is not None and "expired" in m.error[1],
            "strict: the 401 says the credential expired", show(m))
    m = cs.create_permission("127.0.0.1")
    c.check(m is not None and m.code == 401, "strict: CreatePermission after it gets 401", show(m))
    ended = t.wait_metric(sport, "iceway_relay_strict_expiry_total", lambda v: v >= 1, event="ended")
    refused = t.metric(sport, "iceway_relay_strict_expiry_total", event="refused")
    print("  strict_expiry_total: ended %s refused %s" % (ended, refused))
    c.check(ended == 1, "metric: one allocation ended at its credential's time (%s)" % ended)
    # the Refresh and the CreatePermission, each retried once by the client with a new nonce
    c.check(refused == 4, "metric: four requests refused after it (%s)" % refused)

    c.check(peer.relays(co, b"after-off"), "off: still relays after the expiry (the default)")
    m = co.refresh(600)
    c.check(m is not None and m.code == 401, "off: Refresh with the expired credential gets 401",
            show(m))

    # A reload that turns it on ends the allocation that outlived its credential.
    write_conf(path, strict=True)
    os.kill(off.pid, signal.SIGHUP)
    v = t.wait_metric(oport, "iceway_relay_config_reloads_total", lambda v: v >= 1)
    c.check(v == 1, "off: reload accepted (%s)" % v)
    ended = t.wait_metric(oport, "iceway_relay_strict_expiry_total", lambda v: v >= 1, timeout=5,
                          event="ended")
    c.check(ended == 1, "off -> on by SIGHUP: the allocation ends (%s)" % ended)
    c.check(not peer.relays(co, b"after-reload"), "off -> on: nothing relayed after the reload")

    # A fresh credential still allocates on both.
    for name, srv in (("strict", strict), ("off", off)):
        user, pw = t.rest_credentials(SECRET, user="carol", ttl=600)
        c.check(ok(t.Client(srv, user=user, password=pw).allocate()),
                "%s: a fresh credential allocates" % name)
        c.check(srv.alive(), "%s: relay alive" % name)
        if t.SANITIZED:
            c.check(not srv.sanitizer_report(), "no sanitizer report in %s" % srv.log_path)


t.run("test_relay_strict_expiry", body)
