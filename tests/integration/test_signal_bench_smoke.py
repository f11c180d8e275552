"""bench/signal at smoke size, so that its generators never rot (no thresholds on speed):
1. `--gen c`: iw_siggen (gen.c) against iceway-signal and the floor server (iw_tcpfloor --serve),
   40 connections, 1,000 msg/s of negotiation cycles for 1 s: each target gets the rate it was
   offered, relays at least half of it inside the window (a loaded machine may lag), with no
   error reply and no connection closed, and reports latencies.
2. `--gen node`: the Node.js generator, the same cycle, against iceway-signal: same checks."""
import json
import os
import shutil
import subprocess
import tempfile

import sigtest

BUILD = os.environ.get("IW_BUILD", os.path.join(sigtest.SRC, "build"))
SIGGEN = os.path.join(BUILD, "bench", "signal", "iw_siggen")
FLOOR = os.path.join(BUILD, "bench", "signal", "iw_tcpfloor")
RATE = 1000
SECONDS = 1


def bench(gen, want):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "r.json")
        cmd = ["node", os.path.join(sigtest.NODE_DIR, "bench.mjs"), "--signal", sigtest.SIGNAL,
               "--siggen", SIGGEN, "--floor", FLOOR, "--gen", gen, "--only", "iceway",
               "--conns", "40", "--seconds", str(SECONDS), "--rates", str(RATE), "--json", out]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        print(r.stdout.strip())
        if r.returncode != 0:
            print(r.stderr[-3000:])
            raise SystemExit("FAIL: bench.mjs --gen %s exited %d" % (gen, r.returncode))
        with open(out) as f:
            results = json.load(f)[0]["results"]
    names = [x["name"] for x in results]
    if names != want:
        raise SystemExit("FAIL: --gen %s ran %s, not %s" % (gen, names, want))
    for x in results:
        what = "--gen %s, %s" % (gen, x["name"])
        if x["errors"] or x["closes"]:
            raise SystemExit("FAIL: %s: %d error replies, %d closes" % (what, x["errors"], x["closes"]))
        if not 0.5 * RATE <= x["sentPerS"] <= 1.5 * RATE:
            raise SystemExit("FAIL: %s: offered %.0f msg/s, not about %d" % (what, x["sentPerS"], RATE))
        if x["msgs"] < 0.5 * RATE * SECONDS or x["p99"] is None:
            raise SystemExit("FAIL: %s: relayed %d messages in %d s" % (what, x["msgs"], SECONDS))
        print("%s: offered %.0f msg/s, relayed %d, p99 %.2f ms" % (what, x["sentPerS"], x["msgs"], x["p99"]))


def main():
    for what, ok in (("node", shutil.which("node")),
                     ("iceway-signal at " + sigtest.SIGNAL, os.access(sigtest.SIGNAL, os.X_OK)),
                     ("iw_siggen at " + SIGGEN, os.access(SIGGEN, os.X_OK)),
                     ("iw_tcpfloor at " + FLOOR, os.access(FLOOR, os.X_OK))):
        if not ok:
            raise SystemExit("FAIL: this test needs %s" % what)
    sigtest.node_modules(os.path.join("ws", "package.json"))
    bench("c", ["iceway", "floor"])
    bench("node", ["iceway"])
    print("PASS")


if __name__ == "__main__":
    main()
