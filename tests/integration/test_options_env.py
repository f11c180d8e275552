"""Options from the environment and secrets from files, with the real binaries.

1. iceway-relay with its REST secret only in a file named by ICEWAY_RELAY_STATIC_AUTH_SECRET_FILE
   (and use-auth-secret, log-format from ICEWAY_RELAY_*): credentials made with that secret
   allocate, credentials made with another get 401; the secret is in neither the command line
   (/proc/PID/cmdline), the environment's values nor the (verbose, JSON) log. The command line
   wins over the environment (ICEWAY_RELAY_LISTENING_PORT names a port nobody listens on).
2. --static-auth-secret-file on the command line works the same; a missing file, a bad value
   in the environment and an oversized secret file fail start-up naming the option and the
   path or variable, never the secret.
3. iceway-signal: ICEWAY_SIGNAL_STATIC_AUTH_SECRET_FILE gives /api/turn credentials made with
   that secret; the old spelling --log-json still gives JSON log lines, like log-format json.
4. iceway-probe: a bad ICEWAY_PROBE_CALLS is a usage error (status 2) naming the variable.
"""
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402
import sigtest  # noqa: E402

SECRET = "file-only-secret-7f3a9c"


def ok(m):
    return m is not None and m.cls == t.CLASS_SUCCESS


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def start_fails(args, env=None):
    """Run a binary that must refuse to start; (status, stderr)."""
    r = subprocess.run(args, capture_output=True, text=True, timeout=30 * t.SLOW,
                       env=dict(os.environ, **(env or {})))
    return r.returncode, r.stderr + r.stdout


def relay_env(c, d):
    path = os.path.join(d, "turn-secret")
    write(path, SECRET + "\n")
    unused = t.free_udp_port()
    srv = t.Server(auth="lt", users=(), env={
        "ICEWAY_RELAY_USE_AUTH_SECRET": "yes",
        "ICEWAY_RELAY_STATIC_AUTH_SECRET_FILE": path,
        "ICEWAY_RELAY_LOG_FORMAT": "json",
        "ICEWAY_RELAY_LISTENING_PORT": str(unused),
    }).start()
    c.check(srv.alive(), "relay starts with the REST secret from ICEWAY_RELAY_STATIC_AUTH_SECRET_FILE "
            "and answers on the command line's port, not the environment's")
    user, pw = t.rest_credentials(SECRET)
    m = t.Client(srv, user=user, password=pw).allocate()
    c.check(ok(m), "credentials made with the file's secret allocate", repr(m))
    user, pw = t.rest_credentials(SECRET + "x")
    m = t.Client(srv, user=user, password=pw).allocate()
    c.check(m is not None and m.code == 401, "credentials made with another secret get 401", repr(m))
    with open("/proc/%d/cmdline" % srv.pid, "rb") as f:
        cmdline = f.read().decode(errors="replace")
    c.check(SECRET not in cmdline, "the secret is not on the relay's command line")
    srv.stop()
    log = srv.log_text()
    lines = [ln for ln in log.splitlines() if ln.strip()]
    bad = [ln for ln in lines if not ln.startswith("{")]
    c.check(lines and not bad, "ICEWAY_RELAY_LOG_FORMAT=json: every log line is JSON", repr(bad[:3]))
    c.check(SECRET not in log, "the secret is never logged (verbose)")

    # The same from the command line, with a secret file that has no newline.
    write(path, SECRET)
    srv = t.Server(auth="lt", users=(), extra=["--use-auth-secret", "--static-auth-secret-file", path]).start()
    user, pw = t.rest_credentials(SECRET)
    c.check(ok(t.Client(srv, user=user, password=pw).allocate()),
            "--static-auth-secret-file FILE: credentials made with the file's secret allocate")
    srv.stop()

    relay = os.environ["IW_RELAY"]
    base = [relay, "-n", "--listening-ip", "127.0.0.1", "--listening-port", str(unused)]
    missing = os.path.join(d, "no-such-secret")
    rc, err = start_fails(base + ["--use-auth-secret", "--static-auth-secret-file", missing])
    c.check(rc != 0 and "option '--static-auth-secret-file': cannot read %s" % missing in err,
            "a missing secret file fails start-up naming the option and the path", err)
    rc, err = start_fails(base + ["--user", "a:b"],
                          env={"ICEWAY_RELAY_MAX_ALLOCATIONS": "lots"})
    c.check(rc != 0 and "environment ICEWAY_RELAY_MAX_ALLOCATIONS: option 'max-allocations': "
            "not a number" in err, "a bad value in the environment names the variable and the option", err)
    write(path, SECRET * 1000)
    rc, err = start_fails(base + ["--use-auth-secret"], env={"ICEWAY_RELAY_STATIC_AUTH_SECRET_FILE": path})
    c.check(rc != 0 and "is longer than 4096 bytes" in err and SECRET not in err,
            "an oversized secret file is refused without echoing it", err[-300:])


def signal_env(c, d):
    path = os.path.join(d, "sig-secret")
    write(path, SECRET + "\n")
    with sigtest.Server("--turn-uri", "turn:127.0.0.1:3478", "--log-json",
                        env={"ICEWAY_SIGNAL_STATIC_AUTH_SECRET_FILE": path}) as srv:
        st, body = srv.get("/api/turn?service=turn&username=bob")
        j = json.loads(body) if st == 200 else {}
        want = base64.b64encode(hmac.new(SECRET.encode(), j.get("username", "").encode(),
                                         hashlib.sha1).digest()).decode()
        c.check(st == 200 and j.get("password") == want,
                "iceway-signal: /api/turn credentials made with the secret from "
                "ICEWAY_SIGNAL_STATIC_AUTH_SECRET_FILE", body)
        lines = [ln for ln in srv.text().splitlines() if ln.strip()]
        c.check(lines and all(ln.startswith("{") for ln in lines),
                "iceway-signal --log-json (the old spelling of log-format json): JSON log lines",
                repr(lines[:2]))
        c.check(SECRET not in srv.text(), "iceway-signal never logs the secret")


def probe_env(c):
    probe = os.path.join(os.environ["IW_BUILD"], "tools", "probe", "iceway-probe")
    if not os.path.exists(probe):
        c.skip("iceway-probe environment", "iceway-probe is not built")
        return
    r = subprocess.run([probe, "--pair"], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, ICEWAY_PROBE_CALLS="0"))
    c.check(r.returncode == 2 and "environment ICEWAY_PROBE_CALLS: option 'calls': must be 1-1000"
            in r.stderr, "iceway-probe: a bad ICEWAY_PROBE_CALLS is a usage error naming it", r.stderr)


def body(c):
    if t.is_coturn():
        c.skip("iceway's environment and secret files", "iceway only")
        return
    d = t.tmpdir("iwtest-env-")
    relay_env(c, d)
    signal_env(c, d)
    probe_env(c)


t.run("test_options_env", body)
