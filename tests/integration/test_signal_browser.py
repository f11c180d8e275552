"""The demo page and web/iceway.js in a real browser: two headless Chromium tabs open the page
that iceway-signal serves, join one room by URL with the relay-only switch on, and connect
through iceway-relay using the iceServers from `welcome` (perfect negotiation, trickle ICE).
The page must show the call connected on a relay/relay candidate pair, and a data-channel
message must cross. Runs inside a network namespace this test creates (Chromium gathers no
candidates on a loopback-only host); needs root, node, /usr/bin/chromium and playwright-core
(installed into bench/signal/node_modules by npm if missing)."""
import os
import shutil
import subprocess
import tempfile

import sigtest

CHROMIUM = os.environ.get("IW_CHROMIUM", "/usr/bin/chromium")
SECRET = "browser-test-secret-0123"

DRIVER = r"""
import { chromium } from '%(pw)s';
const base = 'http://127.0.0.1:8080';
const T = 45000;
const browser = await chromium.launch({ executablePath: '%(chromium)s', args: ['--headless',
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-features=WebRtcHideLocalIpsWithMdns'] });
const logs = [];
async function tab(name) {
  const page = await browser.newPage();
  page.on('console', (m) => logs.push(`${name}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`${name}: pageerror ${e}`));
  const r = await page.goto(`${base}/?room=browser-room&relay=1`);
  if (!r.ok()) throw new Error('demo page status ' + r.status());
  if (!(await page.isChecked('#relay'))) throw new Error('relay=1 in the URL did not tick relay-only');
  await page.click('#join');
  return page;
}
try {
  const a = await tab('a');
  await a.waitForFunction(() => document.getElementById('sig-state').textContent === 'open', null, { timeout: T });
  const b = await tab('b');
  for (const p of [a, b]) {
    await p.waitForFunction(() => document.getElementById('call-state').textContent === 'connected', null, { timeout: T });
    await p.waitForFunction(() => /local relay, remote relay/.test(document.getElementById('cand').textContent), null, { timeout: T });
  }
  await b.waitForFunction(() => /data channel open/.test(document.getElementById('log').textContent), null, { timeout: T });
  await a.waitForFunction(() => /data channel open/.test(document.getElementById('log').textContent), null, { timeout: T });
  await a.fill('#text', 'hello over the relay');
  await a.press('#text', 'Enter');
  await b.waitForFunction(() => /peer: hello over the relay/.test(document.getElementById('log').textContent), null, { timeout: T });
  const ids = await Promise.all([a, b].map((p) => p.textContent('#me')));
  // Leaving hangs up: the other tab sees the peer leave and the call close.
  await b.click('#leave');
  await a.waitForFunction((id) => document.getElementById('log').textContent.includes(`${id} left`), ids[1], { timeout: T });
  console.log('RESULT ok ' + JSON.stringify({ ids, cand: await a.textContent('#cand') }));
} catch (e) {
  console.log('RESULT fail ' + e);
  for (const l of logs) console.log(l);
  process.exitCode = 1;
} finally {
  await browser.close();
}
"""


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True,
                          timeout=sigtest.TIMEOUT * 6)


def main():
    for what, ok in (("root (for ip netns)", os.geteuid() == 0),
                     ("iceway-relay at " + sigtest.RELAY, os.access(sigtest.RELAY, os.X_OK)),
                     ("iceway-signal at " + sigtest.SIGNAL, os.access(sigtest.SIGNAL, os.X_OK)),
                     ("node", shutil.which("node") is not None),
                     ("chromium at " + CHROMIUM, os.access(CHROMIUM, os.X_OK))):
        if not ok:
            raise SystemExit("FAIL: this test needs %s" % what)
    sigtest.node_modules(os.path.join("playwright-core", "index.mjs"))
    pw = os.path.join(sigtest.NODE_DIR, "node_modules", "playwright-core", "index.mjs")
    ns = "iw-sig-%d" % os.getpid()
    tmp = tempfile.mkdtemp(prefix="iw-browser-")
    procs = []
    try:
        sh("ip", "netns", "add", ns)
        for cmd in (["ip", "link", "set", "lo", "up"],
                    ["ip", "link", "add", "va", "type", "veth", "peer", "name", "vb"],
                    ["ip", "addr", "add", "10.201.0.1/24", "dev", "va"],
                    ["ip", "link", "set", "va", "up"], ["ip", "link", "set", "vb", "up"],
                    ["ip", "route", "add", "default", "dev", "va"]):
            sh("ip", "netns", "exec", ns, *cmd)
        nsx = ["ip", "netns", "exec", ns]
        rlog = open(os.path.join(tmp, "relay.log"), "w")
        slog = open(os.path.join(tmp, "signal.log"), "w")
        procs.append(subprocess.Popen(nsx + [sigtest.RELAY, "-n", "-L", "127.0.0.1", "-p", "3478",
                                             "--realm", "iceway.test", "--use-auth-secret",
                                             "--static-auth-secret", SECRET,
                                             "--allow-loopback-peers"],
                                      stdout=rlog, stderr=rlog))
        procs.append(subprocess.Popen(nsx + [sigtest.SIGNAL, "--listen", "127.0.0.1:8080",
                                             "--web-root", os.path.join(sigtest.SRC, "web"),
                                             "--static-auth-secret", SECRET,
                                             "--stun-uri", "stun:127.0.0.1:3478",
                                             "--turn-uri", "turn:127.0.0.1:3478?transport=udp"],
                                      stdout=slog, stderr=slog))
        script = os.path.join(tmp, "driver.mjs")
        with open(script, "w") as f:
            f.write(DRIVER % {"pw": pw, "chromium": CHROMIUM})
        # the driver retries nothing: wait for the signaling port inside the namespace first
        sh(*nsx, "python3", "-c",
           "import socket,time\nfor _ in range(100):\n try:\n  socket.create_connection(("
           "'127.0.0.1',8080),1).close();break\n except OSError: time.sleep(0.1)")
        r = subprocess.run(nsx + ["node", script], capture_output=True, text=True,
                           timeout=240, env=dict(os.environ, HOME=tmp))
        print(r.stdout[-6000:])
        if "RESULT ok" not in r.stdout:
            print(r.stderr[-3000:])
            print("--- signal log\n" + open(slog.name).read()[-3000:])
            print("--- relay log\n" + open(rlog.name).read()[-3000:])
            raise SystemExit("FAIL: the demo call did not connect over the relay")
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=sigtest.TIMEOUT)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        sh("ip", "netns", "del", ns, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    print("PASS")


main()
