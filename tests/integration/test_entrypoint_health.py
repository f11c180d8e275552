"""The Docker image's health check (docker/entrypoint.sh check) outside Docker, against the
signaling configurations the 443 deployments use: the entry point starts iceway-signal from
build/ as in the image, then `check` must report it healthy

- plain HTTP on 127.0.0.1 (as before),
- with cert and pkey (TLS on the listener),
- with proxy-protocol and proxy-trusted 127.0.0.1 (a header required from loopback), also
  over TLS, and with only another range trusted (loopback then sends none),
- on a wildcard listen address with TLS,

and report it unhealthy (exit 1) once it has stopped. Each check goes through the binary's
--check, which signaling counts as a request: the PROXY cases show a LOCAL header read."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sigtest  # noqa: E402
from test_signal_tls import make_cert  # noqa: E402

ENTRY = os.path.join(sigtest.SRC, "docker", "entrypoint.sh")
CONF = os.path.join(sigtest.SRC, "docker", "iceway-signal.conf")


def fail(msg):
    raise SystemExit("FAIL: " + msg)


def log(msg):
    print("[test_entrypoint_health] " + msg, flush=True)


def metric(port, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        text = r.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name):
            total += float(line.rsplit(" ", 1)[1])
    return total


class Container:
    """docker/entrypoint.sh signal ARGS, in the foreground as the image runs it, with its own
    run directory and the binaries from build/."""

    def __init__(self, d, name, args):
        self.rundir = os.path.join(d, name)
        bindir = os.path.join(d, "bin")
        os.makedirs(bindir, exist_ok=True)
        for b in (sigtest.SIGNAL, sigtest.RELAY):
            link = os.path.join(bindir, os.path.basename(b))
            if not os.path.exists(link):
                os.symlink(b, link)
        self.env = dict(os.environ, ICEWAY_BINDIR=bindir, ICEWAY_RUNDIR=self.rundir,
                        ICEWAY_SIGNAL_CONF=CONF, ICEWAY_WEB_ROOT=os.path.join(sigtest.SRC, "web"),
                        ICEWAY_SECRET="health-check-test-secret")
        self.log = open(os.path.join(d, name + ".log"), "w+")
        self.mport = sigtest.free_port()
        self.proc = subprocess.Popen(
            ["bash", ENTRY, "signal"] + args +
            ["--prometheus", "--prometheus-port", str(self.mport)],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + sigtest.TIMEOUT
        while time.monotonic() < deadline:
            self.log.seek(0)
            if "listening on http" in self.log.read():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.log.seek(0)
        fail("%s: iceway-signal did not start: %s" % (name, self.log.read()[-2000:]))

    def check(self):
        env = dict(self.env)
        env.pop("ICEWAY_SECRET")  # the check must not need it
        r = subprocess.run(["bash", ENTRY, "check"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=20, text=True)
        return r.returncode, r.stdout.strip()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def main():
    for b in (sigtest.SIGNAL, sigtest.RELAY):
        if not os.access(b, os.X_OK):
            fail("%s is not built" % b)
    d = tempfile.mkdtemp(prefix="iw-health-")
    try:
        cert, key = make_cert(d)
        tls = ["--cert", cert, "--pkey", key]
        proxy = ["--proxy-protocol", "--proxy-trusted", "127.0.0.1"]
        cases = [
            ("plain", [], False),
            ("tls", tls, False),
            ("proxy", proxy, True),
            ("tls-proxy", tls + proxy, True),
            ("proxy-elsewhere", ["--proxy-protocol", "--proxy-trusted", "10.0.0.0/8"], False),
            ("tls-wildcard", tls, False),
        ]
        for name, args, header in cases:
            port = sigtest.free_port()
            host = "0.0.0.0" if name.endswith("wildcard") else "127.0.0.1"
            c = Container(d, name, ["--listen", "%s:%d" % (host, port)] + args)
            try:
                rc, out = c.check()
                if rc != 0 or "signal %s:%d: ok" % (host, port) not in out:
                    fail("%s: the health check failed (exit %d): %s" % (name, rc, out))
                hdr = metric(c.mport, 'iceway_signal_proxy_connections_total{result="header"}')
                if header and hdr < 1:
                    fail("%s: the check sent no PROXY header (%s read)" % (name, hdr))
                if not header and hdr:
                    fail("%s: a PROXY header was read from an untrusted check" % name)
                log("%s: healthy (%s)" % (name, out))
            finally:
                c.stop()
            rc, out = c.check()
            if rc == 0 or "no answer" not in out:
                fail("%s: healthy after the service stopped (exit %d): %s" % (name, rc, out))
        log("stopped: unhealthy (%s)" % out.replace("\n", "; "))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print("PASS")


if __name__ == "__main__":
    main()
