"""SIGHUP makes iceway-signal re-read its config file without dropping anyone: a new REST
secret and new TURN URIs reach the next welcome, a connected peer stays connected and keeps
relaying, and an invalid file is refused with its file:line while the running configuration
stays (and the refusal is counted)."""
import asyncio
import base64
import hashlib
import hmac
import os
import signal
import subprocess
import tempfile

import sigtest
from sigtest import Peer, Server


def credential(secret, username):
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()


def turn_entry(welcome):
    return next(s for s in welcome["iceServers"] if "username" in s)


def write_conf(path, secret, turn_uri, extra=""):
    with open(path, "w") as f:
        f.write("static-auth-secret=%s\nturn-uri=%s\nstun-uri=stun:127.0.0.1:3478\n%s" %
                (secret, turn_uri, extra))


async def wait_log(srv, text, count):
    for _ in range(int(sigtest.TIMEOUT / 0.05)):
        if srv.text().count(text) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("log never showed %r %d times:\n%s" % (text, count, srv.text()[-2000:]))


async def main():
    d = tempfile.mkdtemp(prefix="iw-reload-")
    conf = os.path.join(d, "signal.conf")
    write_conf(conf, "first-secret", "turn:127.0.0.1:3478?transport=udp")
    with Server("-c", conf) as srv:
        a = await Peer.connect(srv.url)
        w = await a.join("r")
        t = turn_entry(w)
        assert t["credential"] == credential("first-secret", t["username"]), w
        print("ok   welcome carries credentials of the first secret")

        write_conf(conf, "second-secret", "turn:127.0.0.1:3479?transport=udp")
        srv.proc.send_signal(signal.SIGHUP)
        await wait_log(srv, "configuration reloaded", 1)
        b = await Peer.connect(srv.url)
        w = await b.join("r")
        t = turn_entry(w)
        assert t["credential"] == credential("second-secret", t["username"]), w
        assert t["urls"] == ["turn:127.0.0.1:3479?transport=udp"], t
        print("ok   after SIGHUP a new welcome carries the new secret and TURN URI")

        await a.expect("peer-joined")
        await b.send({"type": "offer", "to": a.id, "sdp": "v=0"})
        m = await a.expect("offer")
        assert m["from"] == b.id
        print("ok   the peer connected before the reload stayed connected and receives")

        with open(conf, "a") as f:
            f.write("max-message-rate=not-a-number\n")
        srv.proc.send_signal(signal.SIGHUP)
        await wait_log(srv, "reload refused", 1)
        assert "signal.conf:4: option 'max-message-rate'" in srv.text(), srv.text()[-2000:]
        c = await Peer.connect(srv.url)
        w = await c.join("r")
        t = turn_entry(w)
        assert t["credential"] == credential("second-secret", t["username"]), w
        assert srv.metric("iceway_signal_config_reload_errors_total") == 1
        assert srv.metric("iceway_signal_config_reloads_total") == 1
        print("ok   an invalid file is refused with file:line and the running config stays")

        for p in (a, b, c):
            await p.close()
    os.unlink(conf)

    # logrotate moves log-file away and sends SIGHUP: the next lines go to a new file
    log = os.path.join(d, "signal.log")
    write_conf(conf, "first-secret", "turn:127.0.0.1:3478?transport=udp", "log-file=%s\n" % log)
    proc = subprocess.Popen([sigtest.SIGNAL, "-c", conf, "--listen",
                             "127.0.0.1:%d" % sigtest.free_port(), "--web-root",
                             os.path.join(sigtest.SRC, "web")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await wait_file(log, "listening on")
        os.rename(log, log + ".1")
        proc.send_signal(signal.SIGHUP)
        await wait_file(log, "configuration reloaded")
        assert "configuration reloaded" not in open(log + ".1").read()
        print("ok   SIGHUP reopens log-file after logrotate moved it")
    finally:
        proc.terminate()
        assert proc.wait(timeout=sigtest.TIMEOUT) == 0
    for f in (conf, log, log + ".1"):
        os.unlink(f)
    os.rmdir(d)


async def wait_file(path, text):
    for _ in range(int(sigtest.TIMEOUT / 0.05)):
        if os.path.exists(path) and text in open(path).read():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("%s never showed %r" % (path, text))


sigtest.run(main)
