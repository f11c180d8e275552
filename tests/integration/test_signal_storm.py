"""Reconnect storm, at test size: 1,000 clients of web/iceway.js itself (its backoff, jitter and
resume, run by bench/signal/storm.mjs) in 500 rooms of two.
1. One iceway-signal killed with SIGKILL and started again on its port: every client is back in
   its room with its own peer id within 10 s, none lost, no peer-left, and all still in their
   rooms 2 s later.
2. Three instances over a real redis-server, one killed for good: its clients fail over to the
   next instance and resume there with their own ids within 10 s; nobody in any room sees a
   peer-left, also after the dead instance's entries expire in Redis (15 s later).
The same generator at 10,000 clients, beside PeerJS, is a benchmark (bench/RESULTS.md)."""
import os
import shutil
import subprocess

import sigtest

CLIENTS = 1000
WITHIN_S = 10


def storm(mode, ports):
    cmd = ["node", os.path.join(sigtest.NODE_DIR, "storm.mjs"), "--signal", sigtest.SIGNAL,
           "--clients", str(CLIENTS), "--mode", mode, "--ports", ",".join(map(str, ports)),
           "--check", str(WITHIN_S)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    print(r.stdout.strip())
    if r.returncode != 0:
        print(r.stderr[-3000:])
        raise SystemExit("FAIL: %s storm (exit %d)" % (mode, r.returncode))


def main():
    for what, ok in (("node", shutil.which("node")), ("redis-server", shutil.which("redis-server")),
                     ("iceway-signal at " + sigtest.SIGNAL, os.access(sigtest.SIGNAL, os.X_OK))):
        if not ok:
            raise SystemExit("FAIL: this test needs %s" % what)
    sigtest.node_modules(os.path.join("ws", "package.json"))
    storm("restart", [sigtest.free_port()])
    storm("cluster", [sigtest.free_port() for _ in range(4)])
    print("PASS")


if __name__ == "__main__":
    main()
