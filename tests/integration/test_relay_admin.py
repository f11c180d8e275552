"""The admin API (admin-token, on the metrics listener) and its command-line client
`iceway-relay admin`, against live sessions of coturn's turnutils_uclient over UDP and TCP and
of the wire client in iwtest.py:

- GET /admin/status: version, workers, allocations, capacity, draining;
- idle workers, asleep in epoll, are woken for a command: a listing takes milliseconds;
- GET /admin/sessions lists the live uclient sessions with the right fields, and filters them
  by user and by client address;
- DELETE /admin/sessions?user=U ends uclient's sessions: its echoes stop coming back;
- DELETE /admin/sessions/ID ends one allocation: its next Refresh gets 437 and data sent
  through it is no longer relayed;
- POST /admin/users/U/revoke?seconds=S ends U's allocations and refuses U's new ones with 403
  and a reason until S seconds have passed, then Allocate works again;
- no token or a wrong token: 401 with a Bearer challenge, counted in the metrics; a relay
  without admin-token has no admin API (404), and admin-token needs prometheus;
- the command-line client, each subcommand, with its exit statuses.
"""

import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402
from admintest import Admin  # noqa: E402

RELAY = os.environ.get("IW_RELAY", "")


def uclient_bg(srv, user, pw, peer_port, extra=()):
    """uclient sending 400 messages 25 ms apart (10 s) through one session to the echo peer."""
    cmd = ["turnutils_uclient", "-p", str(srv.port), "-n", "400", "-m", "1", "-l", "100", "-z", "25",
           "-c", "-e", "127.0.0.1", "-r", str(peer_port), "-u", user, "-w", pw] + list(extra) + \
        [srv.host]
    print("  $ " + " ".join(cmd))
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)


def uclient_totals(p):
    out = p.communicate(timeout=90 * t.SLOW)[0].decode("utf-8", "replace")
    m = re.findall(r"tot_send_msgs=(\d+), tot_recv_msgs=(\d+)", out)
    return (int(m[-1][0]), int(m[-1][1])) if m else None, out


def check_fields(c, s, user, transport, srv, now):
    c.check(re.fullmatch(r"[0-9a-f]{16}", s["id"]) is not None, "%s: id is 16 hex digits" % transport,
            s["id"])
    c.check(s["user"] == user and s["username"] == user, "%s: user %s" % (transport, user), str(s))
    c.check(s["realm"] == t.REALM, "%s: realm" % transport, s["realm"])
    c.check(s["transport"] == transport, "%s: transport %s" % (transport, transport), s["transport"])
    c.check(s["client"].startswith("127.0.0.1:"), "%s: client address" % transport, s["client"])
    rel = s["relayed"]
    c.check(len(rel) == 1 and rel[0].startswith("127.0.0.1:") and
            srv.min_port <= int(rel[0].rsplit(":", 1)[1]) <= srv.max_port,
            "%s: relayed address in the port range" % transport, str(rel))
    c.check(abs(s["created"] - now) <= 30 and s["expires"] > now,
            "%s: created about now, expires later" % transport,
            "created %d expires %d now %d" % (s["created"], s["expires"], now))
    counters = ("bytes_to_peer", "bytes_to_client", "packets_to_peer", "packets_to_client", "peers")
    c.check(all(isinstance(s[k], int) and s[k] >= 0 for k in counters),
            "%s: usage counters each way and peers" % transport, str(s))


def live_sessions(c, ad, peer):
    """uclient over UDP (bob) and TCP (alice): listed with their fields, filtered, ended."""
    srv = ad.srv
    udp = uclient_bg(srv, "bob", "pw", peer)
    tcp = uclient_bg(srv, "alice", "secret", peer, ["-t"])
    # uclient sets up its allocations before it sends: once echoes come back over both
    # transports, the listing is complete and stays so until the kill.
    for tr in ("udp", "tcp"):
        v = t.wait_metric(ad.port, "iceway_relay_packets_relayed_total", lambda v: v >= 20,
                          timeout=15, direction="peer_to_client", transport=tr)
        c.check(v is not None and v >= 20, "%s echoes are relayed" % tr, str(v))
    bob = ad.wait_sessions("?user=bob", lambda s: len(s) >= 1)
    alice = ad.wait_sessions("?user=alice", lambda s: len(s) >= 1)
    now = int(time.time())
    c.check(len(bob) >= 1, "uclient's UDP session is listed under user bob", str(bob))
    c.check(len(alice) >= 1, "uclient's TCP session is listed under user alice", str(alice))
    if bob:
        check_fields(c, bob[0], "bob", "udp", srv, now)
    if alice:
        check_fields(c, alice[0], "alice", "tcp", srv, now)
    every = ad.sessions()
    c.check(len(every) == len(bob) + len(alice), "the whole listing holds both users' sessions",
            "%d listed, %d + %d" % (len(every), len(bob), len(alice)))
    c.check(ad.sessions("?user=nobody") == [], "a user with no session lists none")
    c.check(len(ad.sessions("?client=127.0.0.1")) == len(every), "client=IP matches every port")
    c.check(ad.sessions("?client=127.0.0.2") == [], "another client address lists none")
    if bob:
        one = ad.sessions("?client=" + bob[0]["client"])
        c.check([s["id"] for s in one] == [bob[0]["id"]], "client=IP:PORT lists that one session",
                str(one))
        one = ad.sessions("?user=bob&client=" + bob[0]["client"])
        c.check(len(one) == 1, "user and client filters together", str(one))
        st, _, b = ad.get("/admin/sessions/" + bob[0]["id"])
        c.check(st == 200 and b.get("id") == bob[0]["id"], "GET /admin/sessions/ID shows it",
                "%d %s" % (st, b))
    st, _, b = ad.get("/admin/status")
    c.check(st == 200 and b["allocations"] == len(every), "status counts the live allocations",
            "%d %s" % (st, b))

    # Killing: uclient keeps sending for 10 s from its (random, 1-6 s) start, and what it sends
    # after the kill is no longer relayed, so fewer echoes come back than it sent.
    st, _, b = ad.request("DELETE", "/admin/sessions?user=bob")
    c.check(st == 200 and b["killed"] == len(bob), "DELETE ?user=bob ends bob's sessions",
            "%d %s" % (st, b))
    st, _, b = ad.request("DELETE", "/admin/sessions?user=alice")
    c.check(st == 200 and b["killed"] == len(alice), "DELETE ?user=alice ends the TCP session",
            "%d %s" % (st, b))
    c.check(ad.sessions() == [], "nothing is listed after the kills")
    for name, p in (("UDP", udp), ("TCP", tcp)):
        tot, out = uclient_totals(p)
        if tot is None:
            c.check(False, "%s uclient finished with totals" % name, out[-1500:])
            continue
        print("  %s uclient: sent %d, received %d" % (name, tot[0], tot[1]))
        c.check(0 < tot[1] < tot[0], "%s uclient: relaying stopped at the kill" % name,
                "sent %d received %d" % tot)
    log = srv.log_text()
    c.check("admin: ended" in log, "the relay logs the kills")
    # uclient makes two allocations per session here and refreshes at least one of them as it
    # closes: that Refresh gets 437 (the relay runs with --verbose, which logs refusals).
    for name, lst in (("UDP", bob), ("TCP", alice)):
        refused = [s["client"] for s in lst
                   if "%s: method 0x004 -> 437" % s["client"] in log]
        c.check(len(refused) >= 1,
                "%s uclient's Refresh after the kill gets 437 Allocation Mismatch" % name,
                "%s of %s" % (refused, [s["client"] for s in lst]))


def kill_by_id(c, ad, peer):
    """The wire client: its allocation ended by id, then Refresh 437 and no relaying."""
    cl = t.Client(ad.srv, user="carol", password="pw")
    m = cl.allocate()
    c.check(m is not None and m.cls == t.CLASS_SUCCESS, "carol allocates", repr(m))
    m = cl.create_permission("127.0.0.1")
    c.check(m is not None and m.cls == t.CLASS_SUCCESS, "carol's permission to the peer", repr(m))
    cl.send_indication("127.0.0.1", peer, b"before")
    got = cl.recv_data(3 * t.SLOW)
    c.check(got is not None and got[2] == b"before", "data is relayed before the kill", repr(got))
    me = "127.0.0.1:%d" % cl.sock.getsockname()[1]
    one = ad.sessions("?client=" + me)
    c.check(len(one) == 1 and one[0]["user"] == "carol", "carol's allocation is listed", str(one))
    if not one:
        return
    sid = one[0]["id"]
    st, _, b = ad.request("DELETE", "/admin/sessions/" + sid)
    c.check(st == 200 and b == {"killed": 1}, "DELETE /admin/sessions/ID ends it", "%d %s" % (st, b))
    cl.send_indication("127.0.0.1", peer, b"after")
    got = cl.recv_data(1.5 * t.SLOW)
    c.check(got is None, "data sent after the kill is not relayed", repr(got))
    m = cl.refresh()
    c.check(m is not None and m.code == 437, "the next Refresh gets 437 Allocation Mismatch",
            repr(m))
    st, _, b = ad.request("DELETE", "/admin/sessions/" + sid)
    c.check(st == 404, "the same id again: 404", "%d %s" % (st, b))
    st, _, b = ad.get("/admin/sessions/" + sid)
    c.check(st == 404, "GET of an ended id: 404", "%d %s" % (st, b))


def revoke(c, ad):
    """carol revoked for 3 s: her allocation ends, a new Allocate gets 403 until then."""
    cl = t.Client(ad.srv, user="carol", password="pw")
    m = cl.allocate()
    c.check(m is not None and m.cls == t.CLASS_SUCCESS, "carol allocates again", repr(m))
    st, _, b = ad.request("POST", "/admin/users/carol/revoke?seconds=3")
    until = time.monotonic() + 3
    c.check(st == 200 and b == {"user": "carol", "seconds": 3, "killed": 1},
            "POST revoke ends carol's allocation", "%d %s" % (st, b))
    m = cl.refresh()
    c.check(m is not None and m.code == 437, "her Refresh then gets 437", repr(m))
    cl2 = t.Client(ad.srv, user="carol", password="pw")
    m = cl2.allocate()
    c.check(m is not None and m.code == 403 and "revoked" in (m.error[1] or ""),
            "a new Allocate while revoked: 403 with a reason", repr(m) + " " + str(m and m.error))
    other = t.Client(ad.srv, user="bob", password="pw")
    m = other.allocate()
    c.check(m is not None and m.cls == t.CLASS_SUCCESS, "another user still allocates", repr(m))
    other.refresh(0)
    st, _, b = ad.get("/admin/status")
    c.check(st == 200 and b["revoked_users"] == 1, "status counts one revoked user", str(b))
    c.check(t.metric(ad.port, "iceway_relay_allocations_total", result="403") >= 1,
            "the refusal is counted under result 403")
    c.check(t.metric(ad.port, "iceway_admin_revoked_users") == 1, "revoked users gauge")
    c.check(t.metric(ad.port, "iceway_admin_revocations_total") == 1, "revocations counter")
    time.sleep(max(0.0, until - time.monotonic()) + 0.3)
    cl3 = t.Client(ad.srv, user="carol", password="pw")
    m = cl3.allocate()
    c.check(m is not None and m.cls == t.CLASS_SUCCESS, "after 3 s carol allocates again", repr(m))
    cl3.refresh(0)
    log = ad.srv.log_text()
    c.check(re.search(r"refused from 127\.0\.0\.1:\d+ .*code=403 kind=policy reason=\"Forbidden: user "
                      r"revoked", log) is not None, "the refusal is in the security log")


def auth(c, ad):
    st, h, b = ad.get("/admin/status", token=None)
    c.check(st == 401 and h.get("www-authenticate", "").startswith("Bearer"),
            "no token: 401 with a Bearer challenge", "%d %s" % (st, h))
    st, h, b = ad.get("/admin/sessions", token="x" * 48)
    c.check(st == 401, "a wrong token: 401", "%d %s" % (st, b))
    st, h, b = ad.get("/admin/sessions", token=ad.token[:-1])
    c.check(st == 401, "the token less its last character: 401", "%d %s" % (st, b))
    st, h, b = ad.request("DELETE", "/admin/sessions?user=bob", token=ad.token + "x")
    c.check(st == 401, "the token plus a character: 401", "%d %s" % (st, b))
    st, h, b = ad.get("/admin/status", token=None, headers={"Authorization": "Basic " + ad.token})
    c.check(st == 401, "another scheme: 401", "%d %s" % (st, b))
    c.check(t.metric(ad.port, "iceway_admin_auth_failures_total", reason="wrong") == 4,
            "wrong tokens are counted")
    c.check(t.metric(ad.port, "iceway_admin_auth_failures_total", reason="missing") == 1,
            "missing tokens are counted")
    c.check(ad.token not in ad.srv.log_text(), "the token is never logged")


def prompt(c, ad):
    """Idle workers wait up to 500 ms (250 ms the TCP/TLS one) in epoll: the mailbox's eventfd
    wakes them, so a listing through all three takes milliseconds, not a loop period."""
    lat = []
    for _ in range(9):
        t0 = time.monotonic()
        ad.sessions()
        lat.append((time.monotonic() - t0) * 1000)
        time.sleep(0.13)
    lat.sort()
    print("  listing on an idle relay: median %.1f ms, max %.1f ms" % (lat[4], lat[-1]))
    c.check(lat[4] < 100 * t.SLOW, "idle workers answer at once (median under 100 ms)",
            "%.1f ms" % lat[4])


def status(c, ad):
    st, h, b = ad.get("/admin/status")
    ver = subprocess.run([RELAY, "--version"], capture_output=True, text=True).stdout.split()[-1]
    c.check(st == 200 and h.get("content-type") == "application/json", "status: 200 JSON",
            "%d %s" % (st, h))
    c.check(b.get("version") == ver, "status: version", str(b))
    c.check(b.get("workers") == 2 and b.get("stream_worker") is True, "status: workers", str(b))
    c.check(b.get("allocations") == 0 and b.get("capacity_left") == b.get("capacity") > 0,
            "status: no allocation, all capacity left", str(b))
    c.check(b.get("draining") is False and isinstance(b.get("uptime"), int), "status: not draining",
            str(b))


def cli(c, ad, peer):
    env = dict(os.environ, ICEWAY_RELAY_ADMIN_URL=ad.url, ICEWAY_RELAY_ADMIN_TOKEN_FILE=ad.token_file)

    def run(*args, env=env):
        p = subprocess.run([RELAY, "admin"] + list(args), capture_output=True, text=True, env=env,
                           timeout=60 * t.SLOW)
        return p.returncode, p.stdout, p.stderr

    rc, out, err = run("status")
    c.check(rc == 0 and json.loads(out)["workers"] == 2, "cli status", out + err)
    cl = t.Client(ad.srv, user="carol", password="pw")
    cl.allocate()
    me = "127.0.0.1:%d" % cl.sock.getsockname()[1]
    rc, out, err = run("sessions", "--user", "carol", "--client", me)
    lst = json.loads(out)["sessions"] if rc == 0 else []
    c.check(rc == 0 and len(lst) == 1, "cli sessions --user --client", out + err)
    sid = lst[0]["id"] if lst else "0"
    rc, out, err = run("session", sid)
    c.check(rc == 0 and json.loads(out)["id"] == sid, "cli session ID", out + err)
    rc, out, err = run("--url", ad.url, "--token-file", ad.token_file, "kill", sid, env=os.environ)
    c.check(rc == 0 and json.loads(out) == {"killed": 1}, "cli kill ID (options, not environment)",
            out + err)
    rc, out, err = run("kill", sid)
    c.check(rc == 1 and "404" in err, "cli kill of an ended id: exit 1, HTTP 404", out + err)
    c.check(cl.refresh().code == 437, "the killed client's Refresh: 437")
    cl = t.Client(ad.srv, user="carol", password="pw")
    cl.allocate()
    rc, out, err = run("kill-user", "carol")
    c.check(rc == 0 and json.loads(out) == {"killed": 1}, "cli kill-user", out + err)
    rc, out, err = run("revoke", "carol", "60")
    c.check(rc == 0 and json.loads(out)["seconds"] == 60, "cli revoke U SECONDS", out + err)
    m = t.Client(ad.srv, user="carol", password="pw").allocate()
    c.check(m is not None and m.code == 403, "revoked by the cli: 403", repr(m))
    rc, out, err = run("unrevoke", "carol")
    c.check(rc == 0 and json.loads(out) == {"lifted": True}, "cli unrevoke", out + err)
    m = t.Client(ad.srv, user="carol", password="pw").allocate()
    c.check(m is not None and m.cls == t.CLASS_SUCCESS, "lifted: carol allocates", repr(m))
    rc, out, err = run("unrevoke", "carol")
    c.check(rc == 1, "cli unrevoke of a user not revoked: exit 1", out + err)
    rc, out, err = run("revoke", "carol", "soon")
    c.check(rc == 2, "cli revoke with a bad SECONDS: exit 2", out + err)
    rc, out, err = run("kill", "not-hex")
    c.check(rc == 2, "cli kill with a bad id: exit 2", out + err)
    rc, out, err = run("frobnicate")
    c.check(rc == 2 and "usage" in err, "cli unknown command: usage, exit 2", err)
    rc, out, err = run("status", env={k: v for k, v in env.items()
                                       if k != "ICEWAY_RELAY_ADMIN_TOKEN_FILE"})
    c.check(rc == 2 and "no token" in err, "cli without a token file: exit 2", err)
    bad = os.path.join(os.path.dirname(ad.token_file), "wrong.token")
    with open(bad, "w") as f:
        f.write("not-the-token-at-all\n")
    rc, out, err = run("--token-file", bad, "status")
    c.check(rc == 1 and "401" in err, "cli with a wrong token: exit 1, HTTP 401", err)
    closed = t.free_tcp_port()
    rc, out, err = run("--url", "http://127.0.0.1:%d" % closed, "status")
    c.check(rc == 3, "cli against a closed port: exit 3", err)
    rc, out, err = run("--url", "ftp://127.0.0.1:1", "status")
    c.check(rc == 2, "cli with a bad URL: exit 2", err)


def rest_identity(c):
    """With REST credentials the user is the part after the separator: listed as such, and a
    revocation holds for every credential of that user, whatever its expiry."""
    ad = Admin(auth="rest").start()
    name, pw = t.rest_credentials(t.REST_SECRET, user="dave", ttl=600)
    cl = t.Client(ad.srv, user=name, password=pw)
    m = cl.allocate()
    c.check(m is not None and m.cls == t.CLASS_SUCCESS, "REST: dave allocates", repr(m))
    lst = ad.sessions("?user=dave")
    c.check(len(lst) == 1 and lst[0]["user"] == "dave" and lst[0]["username"] == name,
            "REST: listed under the user part, with the whole username beside it", str(lst))
    c.check(ad.sessions("?user=" + name.replace(":", "%3A")) == [],
            "REST: the whole username is not the user")
    st, _, b = ad.request("POST", "/admin/users/dave/revoke?seconds=30")
    c.check(st == 200 and b["killed"] == 1, "REST: revoking dave ends the allocation", str(b))
    name2, pw2 = t.rest_credentials(t.REST_SECRET, user="dave", ttl=1200)
    m = t.Client(ad.srv, user=name2, password=pw2).allocate()
    c.check(m is not None and m.code == 403, "REST: a fresh credential of dave is refused too",
            repr(m))
    name3, pw3 = t.rest_credentials(t.REST_SECRET, user="erin", ttl=600)
    m = t.Client(ad.srv, user=name3, password=pw3).allocate()
    c.check(m is not None and m.cls == t.CLASS_SUCCESS, "REST: another user is not", repr(m))
    ad.srv.stop()


def tls_session(c, ad, tls_port):
    """A TURN-over-TLS client is listed with transport tls and ended like any other."""
    cl = t.StreamClient(ad.srv.host, tls_port, tls=True)
    m = cl.request(t.METHOD_ALLOCATE, [(t.ATTR_REQUESTED_TRANSPORT, bytes([t.PROTO_UDP, 0, 0, 0]))])
    c.check(m is not None and m.cls == t.CLASS_SUCCESS, "TLS: alice allocates", repr(m))
    me = "127.0.0.1:%d" % cl.s.getsockname()[1]
    lst = ad.sessions("?client=" + me)
    c.check(len(lst) == 1 and lst[0]["transport"] == "tls", "TLS: listed with transport tls",
            str(lst))
    if lst:
        st, _, b = ad.request("DELETE", "/admin/sessions/" + lst[0]["id"])
        c.check(st == 200 and b == {"killed": 1}, "TLS: ended by id", "%d %s" % (st, b))
    m = cl.request(t.METHOD_REFRESH, [])
    c.check(m is not None and m.code == 437, "TLS: the next Refresh on the connection gets 437",
            repr(m))


def admin_off(c):
    port = t.free_tcp_port()
    srv = t.Server(extra=["--prometheus", "--prometheus-port", str(port)]).start()
    st = 0
    try:
        import urllib.request
        req = urllib.request.Request("http://127.0.0.1:%d/admin/status" % port,
                                     headers={"Authorization": "Bearer whatever-it-is-here"})
        urllib.request.urlopen(req, timeout=5)
    except urllib.error.HTTPError as e:
        st = e.code
    c.check(st == 404, "without admin-token there is no admin API: 404", str(st))
    srv.stop()
    d = t.tmpdir()
    tok = os.path.join(d, "tok")
    with open(tok, "w") as f:
        f.write("0123456789abcdef0123\n")
    p = subprocess.run([RELAY, "-n", "--user", "a:b", "--admin-token-file", tok, "--listening-port",
                        str(t.free_udp_port())], capture_output=True, text=True, timeout=20)
    c.check(p.returncode != 0 and "admin-token needs prometheus" in p.stderr,
            "admin-token without prometheus is refused at start", p.stderr)
    with open(tok, "w") as f:
        f.write("short\n")
    p = subprocess.run([RELAY, "-n", "--user", "a:b", "--prometheus", "--admin-token-file", tok],
                       capture_output=True, text=True, timeout=20)
    c.check(p.returncode != 0 and "admin-token" in p.stderr and "short" not in p.stderr,
            "a token shorter than 16 bytes is refused, and not echoed", p.stderr)


def body(c):
    d = t.tmpdir()
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    t.make_cert(cert, key)
    tls_port = t.free_tcp_port()
    ad = Admin(extra=["--allow-rfc5766-channels", "--relay-threads", "2", "--tls-listening-port",
                      str(tls_port), "--cert", cert, "--pkey", key]).start()
    procs = []
    try:
        peer = t.start_echo_peer("127.0.0.1", procs)
        status(c, ad)
        prompt(c, ad)
        auth(c, ad)
        live_sessions(c, ad, peer)
        kill_by_id(c, ad, peer)
        revoke(c, ad)
        cli(c, ad, peer)
        tls_session(c, ad, tls_port)
        rest_identity(c)
        admin_off(c)
        c.check(ad.srv.alive(), "the relay is still running")
        c.check(not ad.srv.sanitizer_report(), "no sanitizer report", "\n".join(ad.srv.sanitizer_report()))
    finally:
        t.stop_procs(procs)


if __name__ == "__main__":
    t.run("relay admin API", body)
