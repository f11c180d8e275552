"""coturn's per-realm options in its Redis user database (turnadmin --set-realm-option:
turn/realm/REALM/user-quota, total-quota, max-bps) against a real redis-server, written by
coturn's turnadmin and by redis-cli. The relay's file says user-quota 3, total-quota 0
(max-allocations) and max-bps 30000; each realm option, while set, overrides that option:

- user-quota 1 (turnadmin): alice's second allocation gets 486, bob still allocates; changed
  live to 2 (redis-cli): her second passes, her third gets 486; deleted (turnadmin, 0): the
  file's 3 again;
- total-quota (turnadmin): one allocation more than those held passes, the next gets 486
  (server total), and the admin API's status says capacity 3; deleted: allocations pass
  again, capacity is max-allocations again;
- bad values (not a number, negative, past the option's range): each ignored with one warning
  naming its key, counted in iceway_relay_userdb_realm_options_ignored, the file's values
  in force;
- Redis stopped: the last values stay (user-quota 1 still refuses a second allocation);
  Redis back, a value changed while the relay could not see it takes effect;
- max-bps, measured with coturn's turnutils_uclient as test_relay_limits does: 15000 from
  turnadmin, changed live to 45000 with the same allocation relaying, deleted: the file's
  30000; each within 10 %.
"""
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402
import limits as lim  # noqa: E402
from admintest import Admin  # noqa: E402
from userdb import Redis, md5_key, turnadmin  # noqa: E402

# The file's values in force; total-quota is left at 0, which is max-allocations (16384).
FILE = {"user-quota": 3, "max-bps": 30000, "total-quota": 16384}
USERS = {"alice": "alice-pw", "bob": "bob-pw", "ursula": "ursula-pw"}
# A worker takes a new generation at the top of its loop, which waits at most 500 ms of wall
# time for traffic: a little more, a little more again under a sanitizer.
ADOPT_S = 0.6 * min(t.SLOW, 2)


def key(opt):
    return "turn/realm/%s/%s" % (t.REALM, opt)


class Relay:
    def __init__(self, c, conn):
        self.c, self.conn = c, conn
        # With the admin API, whose status reports the total-quota in force as capacity.
        self.admin = Admin(users=(), extra=[
            "--redis-userdb", conn, "--redis-userdb-refresh", "1",
            "--user-quota", str(FILE["user-quota"]), "--max-bps", str(FILE["max-bps"]),
            "--limit-burst", "200", "--allow-rfc5766-channels"]).start()
        self.srv, self.mport = self.admin.srv, self.admin.port
        self.held = []

    def capacity(self):
        st, _, b = self.admin.get("/admin/status")
        return b.get("capacity") if st == 200 else st

    def lines(self, pattern):
        return len(re.findall(pattern, self.srv.log_text()))

    def wait_line(self, pattern, n):
        """Until the log has n lines matching pattern; then a worker's wake-up (at most
        500 ms) for every worker to run the generation it was logged with."""
        deadline = time.monotonic() + 10 * t.SLOW
        while self.lines(pattern) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(ADOPT_S)
        return self.lines(pattern) >= n

    def in_force(self, opt, value):
        """The relay logged that value of opt is in force (the realm's, or with value None
        the file's again)."""
        if value is None:
            pat = r"%s unset or ignored: %s %d from the configuration" % (re.escape(key(opt)), opt, FILE[opt])
        else:
            pat = r"redis-userdb: %s %d from %s in force" % (opt, value, re.escape(key(opt)))
        return self.wait_line(pat, self.lines(pat) + 1)

    def allocate(self, user):
        cl = t.Client(self.srv, user=user, password=USERS[user])
        m = cl.allocate()
        if m is not None and m.cls == t.CLASS_SUCCESS:
            self.held.append(cl)
        else:
            cl.close()
        return m

    def release(self):
        for cl in self.held:
            cl.refresh(lifetime=0)
            cl.close()
        self.held = []


def ok(m):
    return m is not None and m.cls == t.CLASS_SUCCESS


def quota_refused(m, why):
    return m is not None and m.code == 486 and why in (m.error[1] if m.error else "")


def user_quota(c, r, redis, conn):
    c.check(turnadmin("-g", "-N", conn, "-r", t.REALM, "--user-quota", "1") == 0,
            "turnadmin -g --user-quota 1")
    c.check(redis.cli("GET", key("user-quota")) == "1", "turnadmin wrote %s" % key("user-quota"))
    c.check(r.in_force("user-quota", 1), "user-quota 1 from Redis logged as in force")
    c.check(ok(r.allocate("alice")), "user-quota 1: alice's first allocation")
    m = r.allocate("alice")
    c.check(quota_refused(m, "user quota"), "user-quota 1: alice's second gets 486", repr(m))
    c.check(ok(r.allocate("bob")), "user-quota 1: bob allocates")

    redis.cli("SET", key("user-quota"), "2")
    c.check(r.in_force("user-quota", 2), "changed live to 2 (redis-cli): logged")
    c.check(ok(r.allocate("alice")), "user-quota 2: alice's second allocation")
    m = r.allocate("alice")
    c.check(quota_refused(m, "user quota"), "user-quota 2: alice's third gets 486", repr(m))

    c.check(turnadmin("-g", "-N", conn, "-r", t.REALM, "--user-quota", "0") == 0,
            "turnadmin --user-quota 0 (coturn: removes the option)")
    c.check(redis.cli("EXISTS", key("user-quota")) == "0", "the key is gone")
    c.check(r.in_force("user-quota", None), "the file's user-quota 3 logged as in force again")
    c.check(ok(r.allocate("alice")), "file's user-quota 3: alice's third allocation")
    m = r.allocate("alice")
    c.check(quota_refused(m, "user quota"), "file's user-quota 3: alice's fourth gets 486", repr(m))
    r.release()


def total_quota(c, r, redis, conn):
    c.check(ok(r.allocate("alice")) and ok(r.allocate("bob")), "two allocations held")
    c.check(turnadmin("-g", "-N", conn, "-r", t.REALM, "--total-quota", "3") == 0,
            "turnadmin -g --total-quota 3")
    c.check(r.in_force("total-quota", 3), "total-quota 3 logged as in force")
    cap = r.capacity()
    c.check(cap == 3, "the admin API's status: capacity 3", "%s" % cap)
    c.check(ok(r.allocate("bob")), "total-quota 3: the third allocation")
    m = r.allocate("ursula")
    c.check(quota_refused(m, "server total"), "total-quota 3: the fourth gets 486 (server total)", repr(m))
    c.check(turnadmin("-g", "-N", conn, "-r", t.REALM, "--total-quota", "0") == 0,
            "turnadmin --total-quota 0")
    c.check(r.in_force("total-quota", None), "the file's total-quota in force again")
    cap = r.capacity()
    c.check(cap == FILE["total-quota"], "status: capacity %d again" % FILE["total-quota"], "%s" % cap)
    c.check(ok(r.allocate("ursula")), "no realm total-quota: the fourth allocation passes")
    r.release()


def bad_values(c, r, redis):
    bad = {"max-bps": "lots", "user-quota": "-1", "total-quota": "99999999999999999999"}
    for opt, v in bad.items():
        redis.cli("SET", key(opt), v)
    n = t.wait_metric(r.mport, "iceway_relay_userdb_realm_options_ignored", lambda v: v == 3)
    c.check(n == 3, "three bad values counted in iceway_relay_userdb_realm_options_ignored", "%s" % n)
    # Three loads more (refresh 1 s): still one warning each.
    r0 = t.metric(r.mport, "iceway_relay_userdb_refreshes_total")
    t.wait_metric(r.mport, "iceway_relay_userdb_refreshes_total", lambda v: v >= r0 + 3)
    for opt in bad:
        n = r.lines(r"redis-userdb: %s ignored \(" % re.escape(key(opt)))
        c.check(n == 1, "one warning naming %s" % key(opt), "%d" % n)
    for _ in range(FILE["user-quota"]):
        c.check(ok(r.allocate("alice")), "bad values: the file's user-quota lets alice allocate")
    m = r.allocate("alice")
    c.check(quota_refused(m, "user quota"), "bad values: past the file's user-quota 3, 486", repr(m))
    r.release()
    for opt in bad:
        redis.cli("DEL", key(opt))
    n = t.wait_metric(r.mport, "iceway_relay_userdb_realm_options_ignored", lambda v: v == 0)
    c.check(n == 0, "the bad values removed: none counted", "%s" % n)


def redis_outage(c, r, redis, conn):
    c.check(turnadmin("-g", "-N", conn, "-r", t.REALM, "--user-quota", "1") == 0,
            "turnadmin --user-quota 1 again")
    c.check(r.in_force("user-quota", 1), "user-quota 1 in force")
    redis.shutdown_save()
    down = t.wait_metric(r.mport, "iceway_relay_userdb_up", lambda v: v == 0, timeout=5)
    c.check(down == 0, "Redis stopped: iceway_relay_userdb_up 0")
    c.check(ok(r.allocate("alice")), "Redis down: alice's first allocation")
    m = r.allocate("alice")
    c.check(quota_refused(m, "user quota"), "Redis down: user-quota 1 stays, her second gets 486", repr(m))
    redis.start()
    redis.cli("DEL", key("user-quota"))
    c.check(r.in_force("user-quota", None), "Redis back: the deletion made meanwhile is seen")
    c.check(t.metric(r.mport, "iceway_relay_userdb_up") == 1, "iceway_relay_userdb_up 1 again")
    c.check(ok(r.allocate("alice")), "Redis back, no realm user-quota: alice's second allocation")
    r.release()


def max_bps(c, r, conn):
    c.check(turnadmin("-g", "-N", conn, "-r", t.REALM, "--max-bps", "15000") == 0,
            "turnadmin -g --max-bps 15000")
    c.check(r.in_force("max-bps", 15000), "max-bps 15000 logged as in force")
    procs = []
    peer = lim.echo_peer(procs)
    # 100 datagrams of 1000 bytes a second for 25 s toward the echo: past every limit here.
    cmd = ["turnutils_uclient", "-m", "1", "-n", "2500", "-l", "1000", "-z", "10", "-c", "-e", "127.0.0.1",
           "-r", str(peer), "-u", "ursula", "-w", USERS["ursula"], "-p", str(r.srv.port), "127.0.0.1"]
    print("  $ " + " ".join(cmd))
    procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    rates = []
    try:
        # uclient waits a random 1-6 s before it sends: measure once traffic flows.
        deadline = time.monotonic() + 15
        while lim.relayed_payload(r.mport) < 5000 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # past the burst
        rates.append(lim.rate_over(r.mport, 3.0))
        c.check(turnadmin("-g", "-N", conn, "-r", t.REALM, "--max-bps", "45000") == 0,
                "turnadmin --max-bps 45000 while uclient relays")
        c.check(r.in_force("max-bps", 45000), "max-bps 45000 logged as in force")
        time.sleep(0.5)
        rates.append(lim.rate_over(r.mport, 3.0))
        c.check(turnadmin("-g", "-N", conn, "-r", t.REALM, "--max-bps", "0") == 0, "turnadmin --max-bps 0")
        c.check(r.in_force("max-bps", None), "the file's max-bps in force again")
        time.sleep(0.5)
        rates.append(lim.rate_over(r.mport, 3.0))
    finally:
        t.stop_procs(procs)
    print("  one uclient allocation: %.0f B/s at the realm's 15000, %.0f B/s at 45000, %.0f B/s at the "
          "file's 30000" % tuple(rates))
    for rate, want, what in zip(rates, (15000, 45000, FILE["max-bps"]), ("realm max-bps", "changed live",
                                                                          "file's max-bps after DEL")):
        c.check(lim.within(rate, want), "%s %d: relayed rate within 10 %%" % (what, want), "%.0f B/s" % rate)


def body(c):
    if t.is_coturn():
        c.skip("redis-userdb realm options", "iceway's metrics and log")
        return
    for tool in ("redis-server", "redis-cli", "turnadmin", "turnutils_uclient"):
        if not shutil.which(tool):
            raise SystemExit("FAIL: %s not installed (tools/install-deps.sh test)" % tool)
    rport = t.free_tcp_port()
    redis = Redis(rport, t.tmpdir("iwtest-redis-realm-"))
    redis.start()
    try:
        conn = "ip=127.0.0.1 port=%d dbname=0" % rport
        for user, pw in USERS.items():
            redis.cli("SET", "turn/realm/%s/user/%s/key" % (t.REALM, user), md5_key(user, pw))
        r = Relay(c, conn)
        n = t.wait_metric(r.mport, "iceway_relay_userdb_users", lambda v: v == len(USERS))
        c.check(n == len(USERS), "the users loaded", "%s" % n)
        time.sleep(ADOPT_S)  # the workers' next wake-up
        user_quota(c, r, redis, conn)
        total_quota(c, r, redis, conn)
        bad_values(c, r, redis)
        redis_outage(c, r, redis, conn)
        max_bps(c, r, conn)
        c.check(r.srv.alive(), "relay alive")
        c.check(r.srv.stop() == 0, "relay exits cleanly")
        if t.SANITIZED:
            c.check(not r.srv.sanitizer_report(), "no sanitizer report in %s" % r.srv.log_path)
    finally:
        redis.kill()


t.run("test_relay_redis_userdb_realm", body)
