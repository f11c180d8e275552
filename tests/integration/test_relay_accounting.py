"""Session accounting records (log-format json, accounting-interval) against real clients.

One relay (UDP, TCP and TLS; long-term users and a TURN REST secret; rest-strict-expiry;
accounting-interval 1 from its configuration file) and coturn's turnutils_uclient relaying to
turnutils_peer, an echo peer:
- over UDP with channels, over UDP with Send/Data indications, over TCP and over TLS, each
  with REST credentials of its own user: the final records of that user add up, packet for
  packet and byte for byte, to what uclient sent and got back (0 loss on loopback), and name
  the user part of the REST username, never its expiry;
- end reasons: refresh0 (uclient deletes its allocations), closed (a TCP client that hangs
  up), credential_expired (a REST credential that runs out, rest-strict-expiry), expired (an
  allocation left without a Refresh for max-allocate-lifetime, 60 s, the shortest there is:
  it waits while the rest runs) and drain (SIGTERM);
- interim records every second for a live allocation, their duration growing; a reload
  (SIGHUP) to accounting-interval 0 stops them, and back to 1 starts them again;
- every log line parses with json.loads, and the records' fields are typed;
- an Allocate refused while being set up (508, no relay port) has no record;
- /metrics: the session byte and packet counters per transport equal the records' sums, and
  the records counter equals the records logged.
"""
import json
import os
import re
import signal
import time

import iwtest as t

LIFETIME = 60  # max-allocate-lifetime's least value
LENGTH = 120
RUNS = {  # user: (label, transport, uclient flags, clients, messages)
    "carol": ("udp channels", "udp", [], 4, 100),
    "dave": ("udp send", "udp", ["-s"], 3, 100),
    "erin": ("tcp", "tcp", ["-t"], 3, 100),
    "frank": ("tls", "tls", ["-t", "-S"], 2, 100),
}
INT_FIELDS = ("packets_to_peer", "bytes_to_peer", "packets_to_client", "bytes_to_client", "peers")


def write_conf(path, interval):
    with open(path, "w") as f:
        f.write("accounting-interval=%d\n" % interval)


def records(srv, since=0):
    """(every record, lines that are not JSON) in the log from byte offset since."""
    recs, bad = [], []
    for ln in srv.log_text()[since:].splitlines():
        if not ln.strip():
            continue
        try:
            o = json.loads(ln)
        except ValueError:
            bad.append(ln)
            continue
        if o.get("msg") == "session":
            recs.append(o)
    return recs, bad


def finals(recs, **match):
    return [r for r in recs if r["kind"] == "final" and all(r.get(k) == v for k, v in match.items())]


def wait_until(pred, timeout):
    deadline = time.monotonic() + timeout * t.SLOW
    while not pred():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def typed(c, recs):
    ok = all(isinstance(r["id"], str) and re.fullmatch(r"[0-9a-f]{16}", r["id"]) and
             r["kind"] in ("final", "interim") and isinstance(r["duration"], (int, float)) and
             isinstance(r["relayed"], list) and r["relayed"] and
             all(isinstance(r[k], int) for k in INT_FIELDS) and
             re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["start"]) and
             r["realm"] == t.REALM and r["transport"] in ("udp", "tcp", "tls") and
             ("end" in r) == (r["kind"] == "final") for r in recs)
    c.check(ok and recs, "%d records: id 16 hex digits, numbers as numbers, relayed a list, start "
            "ISO 8601 UTC, end only in final records" % len(recs))


def uclient_runs(c, srv, tls_port, peer):
    for user, (label, tr, flags, m, n) in RUNS.items():
        port = tls_port if tr == "tls" else srv.port
        args = flags + ["-c", "-m", str(m), "-n", str(n), "-l", str(LENGTH), "-z", "5", "-e",
                        "127.0.0.1", "-r", str(peer), "-W", t.REST_SECRET, "-u", user]
        st, out = t.uclient_stream(srv, port, args)
        if st is None:
            c.check(False, "%s: uclient finished with statistics" % label, out[-1500:])
            continue
        print("  %s: sent %d, received %d, lost %d" % (label, st["sent"], st["recv"], st["lost"]))
        c.check(st["sent"] == m * n and st["lost"] == 0 and st["recv"] == st["sent"],
                "%s: uclient sent %d messages and got every one back" % (label, m * n))
        RUNS[user] += (st,)


def check_runs(c, srv):
    recs, _ = records(srv)
    for user, (label, tr, flags, m, n, *st) in RUNS.items():
        if not st:
            continue
        st = st[0]
        mine = [r for r in recs if r["user"] == user]
        fin = finals(mine)
        # uclient also makes allocations it relays nothing through (and leaves some to expire).
        used = [r for r in fin if r["peers"]]
        c.check(len(used) == m and all(r["transport"] == tr and r["end"] == "refresh0" for r in used),
                "%s: a final record for each of the %d uclient sessions, transport %s, end refresh0"
                % (label, m, tr), json.dumps(used)[:600])
        c.check(all(r["transport"] == tr and not r["packets_to_peer"] for r in fin if not r["peers"]),
                "%s: uclient's %d allocations without a peer relayed nothing" %
                (label, len(fin) - len(used)))
        c.check(mine and not any(re.search(r"\d{9,}", json.dumps(r["user"])) for r in mine),
                "%s: the records name %s, not the REST username's expiry" % (label, user))
        sums = {k: sum(r[k] for r in fin) for k in INT_FIELDS}
        print("  %s records: %s" % (label, sums))
        c.check(sums["packets_to_peer"] == st["sent"] and sums["bytes_to_peer"] == st["sent"] * LENGTH,
                "%s: packets and bytes to the peer equal what uclient sent (%d x %d B)" %
                (label, st["sent"], LENGTH), str(sums))
        c.check(sums["packets_to_client"] == st["recv"] and
                sums["bytes_to_client"] == st["recv"] * LENGTH,
                "%s: packets and bytes to the client equal what uclient received" % label, str(sums))
        c.check(sums["peers"] == m, "%s: one peer per session" % label, str(sums))


def check_metrics(c, srv, mport):
    recs, _ = records(srv)
    fin = finals(recs)
    m = t.metrics_parse(t.metrics_scrape(mport))
    for tr in ("udp", "tcp", "tls"):
        mine = [r for r in fin if r["transport"] == tr]
        for d, k in (("client_to_peer", "to_peer"), ("peer_to_client", "to_client")):
            lab = (("direction", d), ("transport", tr))
            b = m.get(("iceway_relay_session_bytes_total", lab))
            p = m.get(("iceway_relay_session_packets_total", lab))
            want_b = sum(r["bytes_" + k] for r in mine)
            want_p = sum(r["packets_" + k] for r in mine)
            c.check(b == want_b and p == want_p and want_p > 0,
                    "metrics: session packets and bytes %s over %s equal the records' (%d, %d)" %
                    (d, tr, want_p, want_b), "metrics %s %s" % (p, b))
    v = m.get(("iceway_relay_accounting_records_total", (("kind", "final"),)))
    c.check(v == len(fin), "metrics: accounting_records_total{kind=final} == %d records" % len(fin),
            str(v))
    # Interim records keep coming: scrape, count, scrape.
    i1 = t.metric(mport, "iceway_relay_accounting_records_total", kind="interim")
    n = len([r for r in records(srv)[0] if r["kind"] == "interim"])
    i2 = t.metric(mport, "iceway_relay_accounting_records_total", kind="interim")
    c.check(i1 is not None and i1 <= n <= i2,
            "metrics: accounting_records_total{kind=interim} follows the log", "%s %d %s" % (i1, n, i2))


def interims(srv, rid, since=0):
    return [r for r in records(srv, since)[0] if r["id"] == rid and r["kind"] == "interim"]


def refused_no_record(c):
    """An Allocate refused while being set up (no relay port left: 508) gets no record; the
    allocations that were made end as drained."""
    tiny = t.Server(nports=2, verbose=False, extra=["--log-format", "json"]).start()
    ok = [t.Client(tiny) for _ in range(2)]
    c.check(all(k.allocate().cls == t.CLASS_SUCCESS for k in ok), "two allocations take both ports")
    late = t.Client(tiny)
    m = late.allocate()
    c.check(m is not None and m.code == 508, "a third one is refused with 508 (no relay port)",
            repr(m))
    mine = "127.0.0.1:%d" % late.sock.getsockname()[1]
    tiny.stop()
    recs, bad = records(tiny)
    c.check(not bad and len(finals(recs)) == 2 and all(r["end"] == "drain" for r in recs),
            "two records, both drained", json.dumps(recs)[:600])
    c.check(not [r for r in recs if r["client"] == mine], "none for the refused Allocate")


def body(c):
    if t.is_coturn():
        c.skip("accounting records", "iceway-relay's own records")
        return
    refused_no_record(c)
    d = t.tmpdir("iwtest-acct-")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    t.make_cert(cert, key)
    tls_port, mport = t.free_tcp_port(), t.free_tcp_port()
    srv = t.Server(auth="rest", nports=200, verbose=False, extra=[
        "--lt-cred-mech", "--user", "%s:%s" % (t.USER, t.PASSWORD), "--rest-strict-expiry",
        "--allow-rfc5766-channels", "--max-allocate-lifetime", str(LIFETIME),
        "--log-format", "json", "--tls-listening-port", str(tls_port), "--cert", cert,
        "--pkey", key, "--prometheus", "--prometheus-port", str(mport)])
    conf = os.path.join(srv.dir, "relay.conf")
    write_conf(conf, 1)
    srv.args.remove("-n")
    srv.args[1:1] = ["-c", conf]
    srv.start()
    procs = []
    peer = t.start_echo_peer("127.0.0.1", procs)
    try:
        run(c, srv, mport, tls_port, peer, conf)
    finally:
        t.stop_procs(procs)


def run(c, srv, mport, tls_port, peer, conf):
    # Left alone from the start: it expires after LIFETIME s while the rest runs.
    idle = t.Client(srv)
    c.check(idle.allocate().cls == t.CLASS_SUCCESS, "an allocation that will expire is made")
    c.check(idle.create_permission("127.0.0.1").cls == t.CLASS_SUCCESS, "with a permission")
    t_idle = time.monotonic()
    # A REST credential that runs out in 3 s: rest-strict-expiry ends the allocation then.
    name, pw = t.rest_credentials(t.REST_SECRET, user="gus", ttl=3)
    short = t.Client(srv, user=name, password=pw)
    c.check(short.allocate().cls == t.CLASS_SUCCESS, "gus allocates with a credential for 3 s")
    # Refresh 0.
    gone = t.Client(srv)
    c.check(gone.allocate().cls == t.CLASS_SUCCESS and gone.refresh(0).cls == t.CLASS_SUCCESS,
            "an allocation deleted with Refresh 0")
    # A TCP client that hangs up.
    s = t.StreamClient(srv.host, srv.port)
    m = s.request(t.METHOD_ALLOCATE, [(t.ATTR_REQUESTED_TRANSPORT, b"\x11\0\0\0")])
    c.check(m is not None and m.cls == t.CLASS_SUCCESS, "a TCP client allocates")
    s.s.close()

    uclient_runs(c, srv, tls_port, peer)
    c.check(wait_until(lambda: finals(records(srv)[0], user="gus"), 10),
            "gus's allocation ended")
    recs, _ = records(srv)
    g = finals(recs, user="gus")
    c.check(len(g) == 1 and g[0]["end"] == "credential_expired" and 2 <= g[0]["duration"] <= 6,
            "gus's record: end credential_expired, at the credential's time", json.dumps(g))
    gn = [r for r in finals(recs, user=t.USER) if r["end"] == "refresh0"]
    cl = finals(recs, transport="tcp", user=t.USER)
    c.check(len(gn) == 1 and gn[0]["transport"] == "udp", "Refresh 0: end refresh0", json.dumps(gn))
    c.check(len(cl) == 1 and cl[0]["end"] == "closed" and cl[0]["packets_to_peer"] == 0,
            "the TCP client that hung up: end closed", json.dumps(cl))
    check_runs(c, srv)
    check_metrics(c, srv, mport)

    # Interim records of the idle allocation, one a second so far.
    mine = "%s:%d" % idle.relayed
    rid = [r["id"] for r in records(srv)[0] if r["relayed"] == [mine]]
    rid = rid[0] if rid else None
    its = interims(srv, rid)
    durs = [r["duration"] for r in its]
    print("  interim records of %s: %d, durations %s..%s" % (rid, len(its), durs[:3], durs[-2:]))
    elapsed = time.monotonic() - t_idle
    # The k-th on the second's grid from the start, never before it and within a wheel slot
    # (a second) and a wake-up of it.
    late = [d - k for k, d in enumerate(durs, 1)]
    c.check(len(its) >= elapsed - 3 and all(-0.01 <= x <= 1.0 + 0.6 * t.SLOW for x in late),
            "interim records every second (%d in %.0f s), each within a second and a half of its "
            "time" % (len(its), elapsed), str(durs))

    # SIGHUP to accounting-interval 0: they stop; back to 1: they start again.
    write_conf(conf, 0)
    os.kill(srv.pid, signal.SIGHUP)
    c.check(t.wait_metric(mport, "iceway_relay_config_reloads_total", lambda v: v == 1) == 1,
            "reload to accounting-interval 0 accepted")
    time.sleep(0.5)
    mark = len(srv.log_text())
    time.sleep(2.5)
    c.check(not interims(srv, rid, mark), "no interim record for 2.5 s after the reload to 0")
    write_conf(conf, 1)
    os.kill(srv.pid, signal.SIGHUP)
    c.check(wait_until(lambda: len(interims(srv, rid, mark)) >= 2, 5),
            "interim records again after the reload to 1")

    # The idle allocation expires at LIFETIME s; the last interim and final records agree.
    left = LIFETIME + 4 - (time.monotonic() - t_idle)
    c.check(wait_until(lambda: finals(records(srv)[0], id=rid), max(left, 1) / t.SLOW + 3),
            "the idle allocation ended")
    f = finals(records(srv)[0], id=rid)
    c.check(len(f) == 1 and f[0]["end"] == "expired" and LIFETIME <= f[0]["duration"] <= LIFETIME + 3
            and f[0]["peers"] == 1, "its record: end expired after %d s, one peer" % LIFETIME,
            json.dumps(f))

    # SIGTERM (drain-timeout 0): what is still allocated ends as drained.
    late = t.Client(srv)
    c.check(late.allocate().cls == t.CLASS_SUCCESS, "an allocation before SIGTERM")
    srv.stop()
    recs, bad = records(srv)
    dr = finals(recs, relayed=["%s:%d" % late.relayed])
    c.check(len(dr) == 1 and dr[0]["end"] == "drain" and dr[0]["user"] == t.USER,
            "SIGTERM: its record says drain", json.dumps(dr))
    c.check(dr and all(r["end"] == "drain" for r in finals(recs) if r["ts"] >= dr[0]["ts"]),
            "every allocation left at SIGTERM ends as drained")
    c.check(not bad, "every log line parses with json.loads", "\n".join(bad[:5]))
    typed(c, recs)
    ids = [r["id"] for r in finals(recs)]
    c.check(len(ids) == len(set(ids)), "one final record per allocation (%d)" % len(ids))


if __name__ == "__main__":
    t.run("test_relay_accounting", body)
