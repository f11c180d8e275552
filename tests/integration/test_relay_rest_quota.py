"""user-quota bounds a TURN REST user, whatever expiry each credential names: iceway-signal
mints a new username "EXPIRY:user" for every request, so quotas count the user part (after
rest-api-separator, ':' by default), as coturn does.

Three credentials for one user, minted by the real iceway-signal (/api/turn) a second apart so
that their expiries differ, against a relay with --user-quota 2: two allocations succeed, the
third gets 486; another user still allocates; once one allocation is deleted, the third
credential allocates.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402
import sigtest  # noqa: E402

SECRET = "relay-and-signal-share-this"


def ok(m):
    return m is not None and m.cls == t.CLASS_SUCCESS


def show(m):
    return repr(m) if m is not None else "no response"


def mint(sig, user):
    st, body = sig.get("/api/turn?service=turn&username=%s" % user)
    j = json.loads(body)
    return j["username"], j["password"]


def body(c):
    if t.is_coturn():
        c.skip("REST user quota with iceway-signal", "needs iceway-signal's credentials")
        return
    relay = t.Server(auth="rest", secret=SECRET, extra=["--user-quota", "2"]).start()
    with sigtest.Server("--static-auth-secret", SECRET, "--credential-ttl", "600",
                        "--turn-uri", "turn:127.0.0.1:%d?transport=udp" % relay.port) as sig:
        creds = []
        for i in range(3):
            # a new expiry, so a new username: the service stamps whole seconds of its own
            # clock, so mint again until it moved on (bounded)
            deadline = time.monotonic() + 10
            cred = mint(sig, "alice")
            while creds and cred[0] == creds[-1][0] and time.monotonic() < deadline:
                time.sleep(0.1)
                cred = mint(sig, "alice")
            creds.append(cred)
        other = mint(sig, "bob")
    names = [u for u, _ in creds]
    print("  credentials: %s" % names)
    c.check(len(set(names)) == 3 and all(n.endswith(":alice") for n in names),
            "three distinct REST usernames for alice", repr(names))

    clients = [t.Client(relay, user=u, password=p) for u, p in creds]
    m0, m1 = clients[0].allocate(), clients[1].allocate()
    c.check(ok(m0) and ok(m1), "two allocations for alice under --user-quota 2",
            "%s / %s" % (show(m0), show(m1)))
    m2 = clients[2].allocate()
    c.check(m2 is not None and m2.code == 486,
            "a third credential of alice, with another expiry, gets 486", show(m2))
    c.check(m2 is not None and m2.error is not None and "user quota" in m2.error[1],
            "the 486 names the user quota", show(m2))
    mb = t.Client(relay, user=other[0], password=other[1]).allocate()
    c.check(ok(mb), "bob still allocates", show(mb))

    # Deleting one of alice's allocations gives its quota back.
    c.check(ok(clients[0].refresh(0)), "alice deletes one allocation")
    retry = t.Client(relay, user=creds[2][0], password=creds[2][1])
    m = None
    deadline = time.monotonic() + 5 * t.SLOW
    while time.monotonic() < deadline:
        m = retry.allocate()
        if ok(m):
            break
        time.sleep(0.2)
    c.check(ok(m), "then alice's third credential allocates", show(m))
    c.check(relay.alive(), "relay alive")
    if t.SANITIZED:
        c.check(not relay.sanitizer_report(), "no sanitizer report in %s" % relay.log_path)


t.run("test_relay_rest_quota", body)
