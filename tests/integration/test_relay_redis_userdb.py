"""coturn's Redis user database (redis-userdb) against a real redis-server on a private
loopback port, written by coturn's turnadmin and by redis-cli:

- turnadmin adds alice (her hex key at turn/realm/REALM/user/alice/key) and a REST secret (the
  set turn/realm/REALM/secret); redis-cli adds bob with a key computed here, and a malformed
  key that is left out (counted);
- alice, bob and a REST credential from the Redis secret allocate; a wrong password gets 401;
  a relay with redis-userdb-max-users 1 loads one user and says so;
- Redis is stopped (carol having been written just before, so the relay never loaded her):
  alice, bob and the REST credential still allocate, carol gets 401 with "user database
  unreachable" in the log, and iceway_relay_userdb_up shows 0;
- Redis starts again with the same data: carol allocates within the refresh interval, and
  dave, written with redis-cli afterwards, is loaded by the periodic refresh.
"""
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402
from userdb import Redis, md5_key, turnadmin  # noqa: E402

REFRESH_S = 3
SECRET = "redis-rest-secret"


def allocates(srv, user, password):
    cl = t.Client(srv, user=user, password=password)
    try:
        m = cl.allocate()
        return m is not None and m.cls == t.CLASS_SUCCESS, m
    finally:
        cl.close()


def code_of(m):
    return m.code if m is not None else None


def body(c):
    if t.is_coturn():
        c.skip("redis-userdb", "iceway's metrics")
        return
    for tool in ("redis-server", "redis-cli", "turnadmin"):
        if not shutil.which(tool):
            raise SystemExit("FAIL: %s not installed (tools/install-deps.sh test)" % tool)
    rport, mport = t.free_tcp_port(), t.free_tcp_port()
    rdir = t.tmpdir("iwtest-redis-")
    redis = Redis(rport, rdir)
    redis.start()
    try:
        run(c, redis, rport, mport)
    finally:
        redis.kill()


def run(c, redis, rport, mport):
    conn = "ip=127.0.0.1 port=%d dbname=0" % rport
    c.check(turnadmin("-a", "-N", conn, "-u", "alice", "-r", t.REALM, "-p", "alice-pw") == 0,
            "turnadmin adds alice")
    c.check(turnadmin("-s", SECRET, "-N", conn, "-r", t.REALM) == 0, "turnadmin adds a REST secret")
    stored = redis.cli("GET", "turn/realm/%s/user/alice/key" % t.REALM)
    c.check(stored == md5_key("alice", "alice-pw"), "turnadmin wrote alice's hex MD5 key", stored)
    c.check(redis.cli("SMEMBERS", "turn/realm/%s/secret" % t.REALM) == SECRET,
            "turnadmin wrote the secret into the realm's set")
    redis.cli("SET", "turn/realm/%s/user/bob/key" % t.REALM, md5_key("bob", "bob-pw"))
    redis.cli("SET", "turn/realm/%s/user/mallory/key" % t.REALM, "not-a-hex-key")
    redis.cli("SET", "turn/realm/other.realm/user/eve/key", md5_key("eve", "eve-pw"))

    srv = t.Server(auth="lt", users=(), verbose=False,
                   extra=["--redis-userdb", conn + " password=", "--redis-userdb-refresh", str(REFRESH_S),
                          "--prometheus", "--prometheus-port", str(mport)]).start()
    users = t.wait_metric(mport, "iceway_relay_userdb_users", lambda v: v == 2)
    c.check(users == 2, "two users of realm %s loaded (not mallory's bad key, not another realm's)" % t.REALM,
            "%s" % users)
    c.check(t.metric(mport, "iceway_relay_userdb_skipped_total") == 1, "the malformed key counted")
    c.check(t.metric(mport, "iceway_relay_userdb_up") == 1, "iceway_relay_userdb_up 1")
    # A worker adopts the snapshot at the top of its loop: poll until it has.
    deadline = time.monotonic() + 5 * t.SLOW
    while not allocates(srv, "alice", "alice-pw")[0] and time.monotonic() < deadline:
        time.sleep(0.1)
    c.check(allocates(srv, "alice", "alice-pw")[0], "alice (turnadmin) allocates")
    c.check(allocates(srv, "bob", "bob-pw")[0], "bob (redis-cli) allocates")
    rest = t.rest_credentials(SECRET, "rita", ttl=600)
    c.check(allocates(srv, *rest)[0], "a REST credential from the Redis secret allocates")
    ok, m = allocates(srv, "alice", "wrong")
    c.check(not ok and code_of(m) == 401, "a wrong password gets 401", repr(m))

    # redis-userdb-max-users bounds what one load takes: a second relay with a bound of 1.
    mport2 = t.free_tcp_port()
    small = t.Server(auth="lt", users=(), verbose=False,
                     extra=["--redis-userdb", conn, "--redis-userdb-max-users", "1",
                            "--prometheus", "--prometheus-port", str(mport2)]).start()
    n = t.wait_metric(mport2, "iceway_relay_userdb_users", lambda v: v >= 1)
    time.sleep(0.3)
    c.check(n == 1 and t.metric(mport2, "iceway_relay_userdb_users") == 1,
            "redis-userdb-max-users 1: one user loaded", "%s" % n)
    c.check("more users than redis-userdb-max-users (1)" in small.log_text(), "the bound is logged")
    c.check(small.stop() == 0, "the bounded relay exits cleanly")
    if t.SANITIZED:
        c.check(not small.sanitizer_report(), "no sanitizer report in %s" % small.log_path)

    # Carol is written right after a load, then Redis stops: the relay never saw her.
    r0 = t.metric(mport, "iceway_relay_userdb_refreshes_total")
    t.wait_metric(mport, "iceway_relay_userdb_refreshes_total", lambda v: v > r0, timeout=2 * REFRESH_S)
    redis.cli("SET", "turn/realm/%s/user/carol/key" % t.REALM, md5_key("carol", "carol-pw"))
    redis.shutdown_save()
    c.check(t.metric(mport, "iceway_relay_userdb_users") == 2, "carol was not loaded before Redis stopped")
    down = t.wait_metric(mport, "iceway_relay_userdb_up", lambda v: v == 0, timeout=3 * REFRESH_S)
    c.check(down == 0, "iceway_relay_userdb_up 0 while Redis is down", "%s" % down)
    c.check((t.metric(mport, "iceway_relay_userdb_failures_total") or 0) >= 1, "the failed load counted")
    c.check(allocates(srv, "alice", "alice-pw")[0], "Redis down: alice still allocates")
    c.check(allocates(srv, "bob", "bob-pw")[0], "Redis down: bob still allocates")
    c.check(allocates(srv, *t.rest_credentials(SECRET, "rita", ttl=600))[0],
            "Redis down: the REST secret still works")
    ok, m = allocates(srv, "carol", "carol-pw")
    c.check(not ok and code_of(m) == 401, "Redis down: carol gets 401", repr(m))
    time.sleep(0.2)
    log = srv.log_text()
    c.check('reason="unknown user (user database unreachable)"' in log and "user=carol" in log,
            "the log says the user database is unreachable")
    c.check("unreachable" in log and "redis-userdb" in log, "the outage is logged")
    c.check("password=" not in log, "the connection string is not logged")

    # Redis back with its data: carol within the refresh interval (her own attempt asks for
    # a load), dave (never tried) by the periodic refresh.
    t0 = time.monotonic()
    redis.start()
    redis.cli("SET", "turn/realm/%s/user/dave/key" % t.REALM, md5_key("dave", "dave-pw"))
    ok = False
    while time.monotonic() - t0 < (REFRESH_S + 2) * t.SLOW:
        ok = allocates(srv, "carol", "carol-pw")[0]
        if ok:
            break
        time.sleep(0.2)
    took = time.monotonic() - t0
    print("  carol allocates %.1f s after Redis came back" % took)
    c.check(ok, "Redis back: carol allocates within the refresh interval (%d s)" % REFRESH_S, "%.1f s" % took)
    up = t.wait_metric(mport, "iceway_relay_userdb_up", lambda v: v == 1, timeout=2 * REFRESH_S)
    c.check(up == 1, "iceway_relay_userdb_up 1 again")
    n = t.wait_metric(mport, "iceway_relay_userdb_users", lambda v: v == 4, timeout=2 * REFRESH_S)
    c.check(n == 4, "dave loaded by the periodic refresh", "%s" % n)
    # Loaded is counted by the loader; the workers take the new users at the supervisor's
    # next turn and their own next wake-up, a moment later.
    deadline, ok = time.monotonic() + 3 * t.SLOW, False
    while not ok and time.monotonic() < deadline:
        ok = allocates(srv, "dave", "dave-pw")[0]
        if not ok:
            time.sleep(0.2)
    c.check(ok, "dave allocates")
    c.check(srv.alive(), "relay alive")
    c.check(srv.stop() == 0, "relay exits cleanly")
    if t.SANITIZED:
        c.check(not srv.sanitizer_report(), "no sanitizer report in %s" % srv.log_path)


t.run("test_relay_redis_userdb", body)
