"""The coturn configurations of four deployment guides (tests/deploy/*.conf: Jitsi Meet, Matrix
Synapse, Nextcloud Talk, BigBlueButton), written from their documentation with only addresses,
secrets and file names filled in, run iceway-relay as they are. For each: the relay starts with
the file alone, turnutils_uclient relays through it with a REST credential of the file's secret
(0 % loss; over TLS as well where the guide configures a certificate), and headless Chromium makes
a relay-only call through it: two RTCPeerConnections with iceTransportPolicy "relay" (for
BigBlueButton, where the guide allows one media server as the only peer, the far end is that
server's host candidate), a 256 KiB data-channel transfer, and the selected pair's local
candidate is a relay one.

Runs in two network namespaces this test makes (the guides' ports 3478, 5349 and 443 cannot
collide with anything there), with addresses from 11.0.0.0/24 so that the guides' denied ranges
(private, loopback, documentation) do not cover them: 11.0.0.1 is the TURN host, 11.0.0.2 the
clients' host (uclient and its echo peer, Chromium, BigBlueButton's media server). Needs root, coturn's turnutils, node,
/usr/bin/chromium and playwright-core (installed into bench/signal/node_modules if missing).
IW_GUIDES=NAME[,NAME] runs only those guides."""
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest  # noqa: E402
import sigtest  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GUIDES = os.path.join(HERE, "..", "deploy")
CHROMIUM = os.environ.get("IW_CHROMIUM", "/usr/bin/chromium")
IP, PEER = "11.0.0.1", "11.0.0.2"
SECRET = "guide-secret-6c0ffee6c0ffee"
REALM = "turn.example.test"
PEER_PORT = 3480
# guide: (the far end relays too, TLS port or None)
RUNS_ALL = {
    "jitsi": (True, 5349),
    "matrix-synapse": (True, 5349),
    "nextcloud-talk": (True, None),
    "bigbluebutton": (False, 443),
}
RUNS = {k: v for k, v in RUNS_ALL.items() if k in os.environ.get("IW_GUIDES", k)}

DRIVER = r"""
import { chromium } from '%(pw)s';
const cfg = JSON.parse(process.argv[2]);
const browser = await chromium.launch({ executablePath: '%(chromium)s', args: ['--headless',
  '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-features=WebRtcHideLocalIpsWithMdns'] });
try {
  const page = await browser.newPage();
  const r = await page.evaluate(async (cfg) => {
    const ice = [{ urls: cfg.url, username: cfg.user, credential: cfg.pass }];
    const a = new RTCPeerConnection({ iceServers: ice, iceTransportPolicy: 'relay' });
    const b = cfg.bRelay ? new RTCPeerConnection({ iceServers: ice, iceTransportPolicy: 'relay' })
      : new RTCPeerConnection({ iceServers: [] });
    const seen = [];
    a.onicecandidate = (e) => { if (e.candidate) { seen.push('a ' + e.candidate.candidate); b.addIceCandidate(e.candidate); } };
    b.onicecandidate = (e) => { if (e.candidate) { seen.push('b ' + e.candidate.candidate); a.addIceCandidate(e.candidate); } };
    const ch = a.createDataChannel('guide');
    const got = new Promise((resolve) => {
      b.ondatachannel = (e) => {
        let n = 0;
        e.channel.onmessage = (m) => { n += m.data.byteLength ?? m.data.length; if (n >= cfg.bytes) resolve(n); };
      };
    });
    const within = (p, ms, what) => Promise.race([p, new Promise((_, rej) =>
      setTimeout(() => rej(new Error(what + ' within ' + ms + ' ms')), ms))]);
    await a.setLocalDescription();
    await b.setRemoteDescription(a.localDescription);
    await b.setLocalDescription();
    await a.setRemoteDescription(b.localDescription);
    try {
      await within(new Promise((res) => { ch.onopen = res; }), 30000, 'data channel open');
    } catch (e) {
      throw new Error(e.message + '; candidates: ' + seen.join(' | '));
    }
    const chunk = new Uint8Array(16384);
    for (let i = 0; i < cfg.bytes; i += chunk.length) {
      while (ch.bufferedAmount > (1 << 20)) await new Promise((res) => setTimeout(res, 5));
      ch.send(chunk);
    }
    const n = await within(got, 30000, cfg.bytes + ' bytes across');
    const st = await a.getStats();
    let pair = null;
    st.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) pair = st.get(s.selectedCandidatePairId); });
    const loc = pair && st.get(pair.localCandidateId);
    const rem = pair && st.get(pair.remoteCandidateId);
    a.close();
    b.close();
    return { n, local: loc && loc.candidateType, relayProtocol: loc && loc.relayProtocol,
      remote: rem && rem.candidateType, remoteAddress: rem && rem.address };
  }, cfg);
  console.log('RESULT ' + JSON.stringify(r));
} catch (e) {
  console.log('RESULT ' + JSON.stringify({ error: String(e) }));
} finally {
  await browser.close();
}
"""


def rest_cred(user="guide"):
    name = "%d:%s" % (int(time.time()) + 3600, user)
    key = hmac.new(SECRET.encode(), name.encode(), hashlib.sha1).digest()
    return name, base64.b64encode(key).decode()


def make_cert(d):
    cert, key, dh = (os.path.join(d, n) for n in ("fullchain.pem", "privkey.pem", "dhp.pem"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                    "/CN=" + REALM, "-keyout", key, "-out", cert], check=True,
                   capture_output=True, timeout=60)
    # A named group: generating fresh DH parameters takes minutes.
    subprocess.run(["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt",
                    "group:ffdhe2048", "-out", dh], check=True, capture_output=True, timeout=60)
    return cert, key, dh


def write_conf(d, guide, cert, key, dh):
    with open(os.path.join(GUIDES, guide + ".conf")) as f:
        text = f.read()
    for k, v in (("@IP@", IP), ("@PEER@", PEER), ("@SECRET@", SECRET), ("@REALM@", REALM),
                 ("@CERT@", cert), ("@PKEY@", key), ("@DH@", dh),
                 ("@LOG@", os.path.join(d, guide + "-turn.log"))):
        text = text.replace(k, v)
    path = os.path.join(d, guide + ".conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def start_relay(c, d, guide, conf, ns):
    out = open(os.path.join(d, guide + ".out"), "w")
    # Metrics on loopback beside the guide's file, for a failure's diagnosis.
    p = subprocess.Popen(["ip", "netns", "exec", ns, sigtest.RELAY, "-c", conf, "--prometheus",
                          "--prometheus-address", IP, "--prometheus-port", "9641"],
                         stdout=out, stderr=subprocess.STDOUT, cwd=d)
    deadline = time.monotonic() + 10 * iwtest.SLOW
    up = False
    while time.monotonic() < deadline and p.poll() is None and not up:
        up = iwtest.binding_ok(IP, 3478, timeout=0.3)
    c.check(up, "%s: iceway-relay starts with the guide's file alone" % guide,
            "exit %s: %s" % (p.poll(), open(out.name).read()[-1500:]))
    return p, out.name


def uclient(c, guide, tls_port):
    # Send indications: uclient picks channel numbers up to 0x7FFF (RFC 5766), and the guides'
    # files do not set allow-rfc5766-channels (iceway keeps RFC 8656's 0x4000-0x4FFF).
    base = ["-m", "5", "-n", "200", "-l", "120", "-z", "0", "-c", "-s", "-W", SECRET,
            "-e", PEER, "-r", str(PEER_PORT)]
    # A user per run: Synapse's user-quota=12 counts the UDP run's allocations, which uclient
    # leaves to expire, against the TLS run's.
    runs = [("UDP", ["-p", "3478", "-u", "udp-user"])]
    if tls_port:
        runs.append(("TLS on %d" % tls_port, ["-t", "-S", "-p", str(tls_port), "-u", "tls-user"]))
    for what, extra in runs:
        cmd = ["turnutils_uclient"] + extra + base + [IP]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=120 * iwtest.SLOW)
        out = p.stdout.decode("utf-8", "replace")
        sent = re.findall(r"tot_send_msgs=(\d+), tot_recv_msgs=(\d+)\s*$", out, re.M)
        lost = re.search(r"Total lost packets (\d+) \(([0-9.]+)%\)", out)
        ok = bool(sent and lost) and int(sent[-1][0]) == 1000 and \
            int(sent[-1][1]) == 1000 and int(lost.group(1)) == 0
        c.check(ok, "%s: uclient over %s, REST credential, 1000 messages, 0 %% loss" % (guide, what),
                out[-4000:])


def browser(c, d, guide, b_relay, pw):
    user, pw_ = rest_cred("browser")
    cfg = {"url": "turn:%s:3478?transport=udp" % IP, "user": user, "pass": pw_,
           "bRelay": b_relay, "bytes": 256 * 1024}
    script = os.path.join(d, "driver.mjs")
    with open(script, "w") as f:
        f.write(DRIVER % {"pw": pw, "chromium": CHROMIUM})
    r = subprocess.run(["node", script, json.dumps(cfg)], capture_output=True, text=True,
                       timeout=150, env=dict(os.environ, HOME=d))
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")]
    res = json.loads(line[-1][7:]) if line else {"error": (r.stdout + r.stderr)[-1500:]}
    print("  %s: browser %s" % (guide, res))
    return c.check(res.get("n", 0) >= cfg["bytes"] and res.get("local") == "relay"
            and (res.get("remote") == "relay" if b_relay else res.get("remote") == "host"),
            "%s: Chromium relay-only call, 256 KiB across, local candidate relay, remote %s"
            % (guide, "relay" if b_relay else "the media server's host candidate"), str(res))


def inside(d, srv_ns):
    c = iwtest.Checks("test_deploy_guides")
    pw = os.path.join(sigtest.NODE_DIR, "node_modules", "playwright-core", "index.mjs")
    cert, key, dh = make_cert(d)
    peer = subprocess.Popen(["turnutils_peer", "-L", PEER, "-p", str(PEER_PORT)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for guide, (b_relay, tls_port) in RUNS.items():
            conf = write_conf(d, guide, cert, key, dh)
            p, out = start_relay(c, d, guide, conf, srv_ns)
            try:
                if p.poll() is None:
                    uclient(c, guide, tls_port)
                    if not browser(c, d, guide, b_relay, pw):
                        print(open(out).read()[-3000:])
                        text = urllib.request.urlopen("http://%s:9641/metrics" % IP,
                                                      timeout=5).read().decode()
                        print("\n".join(ln for ln in text.splitlines() if not ln.startswith("#")
                                        and not ln.endswith(" 0") and "bucket" not in ln))
                    c.check(p.poll() is None, "%s: relay alive after the runs" % guide)
            finally:
                if p.poll() is None:
                    p.terminate()
                    p.wait(timeout=10 * iwtest.SLOW)
            text = open(out).read()
            warned = sorted(set(re_find_warned(text)))
            print("  %s: warned about %s" % (guide, ", ".join(warned) or "nothing"))
    finally:
        peer.terminate()
        peer.wait()
    return 0 if c.summary() else 1


def re_find_warned(text):
    return re.findall(r"option '([a-z0-9_-]+)'", text)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--inside":
        return inside(sys.argv[2], sys.argv[3])
    for what, ok in (("root (for ip netns)", os.geteuid() == 0),
                     ("turnutils_uclient", shutil.which("turnutils_uclient") is not None),
                     ("node", shutil.which("node") is not None),
                     ("chromium at " + CHROMIUM, os.access(CHROMIUM, os.X_OK))):
        if not ok:
            raise SystemExit("FAIL: this test needs %s" % what)
    # Before entering the namespaces, which cannot reach the npm registry.
    sigtest.node_modules(os.path.join("playwright-core", "index.mjs"))
    # Two namespaces joined by a veth pair: the TURN host (11.0.0.1) and the clients' host
    # (11.0.0.2: uclient, its echo peer, Chromium, and BigBlueButton's media server).
    srv, cli = "iw-guides-s-%d" % os.getpid(), "iw-guides-c-%d" % os.getpid()
    d = iwtest.tmpdir("iwtest-guides-")
    try:
        for ns in (srv, cli):
            subprocess.run(["ip", "netns", "add", ns], check=True)
            subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "link", "add", "iwg-s%d" % os.getpid(), "netns", srv, "type", "veth",
                        "peer", "name", "iwg-c%d" % os.getpid(), "netns", cli], check=True)
        for ns, dev, addr in ((srv, "iwg-s%d" % os.getpid(), IP), (cli, "iwg-c%d" % os.getpid(), PEER)):
            for cmd in (["ip", "addr", "add", addr + "/24", "dev", dev],
                        ["ip", "link", "set", dev, "up"],
                        # Chromium gathers host candidates only with a default route
                        ["ip", "route", "add", "default", "dev", dev]):
                subprocess.run(["ip", "netns", "exec", ns] + cmd, check=True)
        r = subprocess.run(["ip", "netns", "exec", cli, sys.executable, os.path.abspath(__file__),
                            "--inside", d, srv], timeout=600)
        return r.returncode
    finally:
        for ns in (srv, cli):
            subprocess.run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
