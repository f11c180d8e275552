"""The iceServers that iceway-signal hands out in `welcome` are accepted by iceway-relay: a
TURN Allocate (RFC 8656 §7.2, long-term credential per RFC 8489 §9.2) with the TURN REST
username/credential succeeds, and the same credential is refused once its TTL has passed."""
import asyncio
import hashlib
import hmac
import os
import socket
import struct
import subprocess
import tempfile
import time

import sigtest
from sigtest import Peer, Server

SECRET = "relay-and-signal-share-this"
COOKIE = 0x2112A442
ALLOCATE, REFRESH, BINDING = 0x003, 0x004, 0x001
A_USERNAME, A_MI, A_ERROR, A_LIFETIME, A_REALM, A_NONCE, A_XOR_RELAYED, A_TRANSPORT = (
    0x0006, 0x0008, 0x0009, 0x000D, 0x0014, 0x0015, 0x0016, 0x0019)


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4)


def message(method, attrs, key=None):
    tid = os.urandom(12)
    body = b"".join(attrs)
    if key is None:
        return struct.pack("!HHI", method, len(body), COOKIE) + tid + body
    # MESSAGE-INTEGRITY covers the header with a length that already counts it (RFC 8489
    # §14.5), and everything before it.
    head = struct.pack("!HHI", method, len(body) + 24, COOKIE) + tid
    mac = hmac.new(key, head + body, hashlib.sha1).digest()
    return head + body + attr(A_MI, mac)


def parse(data):
    mtype, length, cookie = struct.unpack("!HHI", data[:8])
    assert cookie == COOKIE and len(data) == 20 + length
    attrs, off = {}, 20
    while off < len(data):
        t, n = struct.unpack("!HH", data[off:off + 4])
        attrs.setdefault(t, data[off + 4:off + 4 + n])
        off += 4 + n + (-n % 4)
    return mtype, attrs


def error_code(attrs):
    v = attrs.get(A_ERROR)
    return v[2] * 100 + v[3] if v else None


class TurnClient:
    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(0.5)
        self.server = ("127.0.0.1", port)

    def request(self, msg, tries=10):
        for _ in range(tries):  # UDP: retransmit, bounded (RFC 8489 §6.2.1)
            self.sock.sendto(msg, self.server)
            try:
                data, _ = self.sock.recvfrom(2048)
                if data[8:20] == msg[8:20]:
                    return parse(data)
            except socket.timeout:
                continue
        raise AssertionError("no answer from the relay")

    def allocate(self, user, password):
        transport = attr(A_TRANSPORT, bytes([17, 0, 0, 0]))
        mtype, a = self.request(message(ALLOCATE, [transport]))
        assert mtype == 0x0113 and error_code(a) == 401, (hex(mtype), a)
        realm, nonce = a[A_REALM], a[A_NONCE]
        key = hashlib.md5(user.encode() + b":" + realm + b":" + password.encode()).digest()
        mtype, a = self.request(message(ALLOCATE, [transport, attr(A_USERNAME, user.encode()),
                                                   attr(A_REALM, realm), attr(A_NONCE, nonce)],
                                        key))
        return mtype, a, (realm, nonce, key)

    def release(self, user, auth):
        realm, nonce, key = auth
        self.request(message(REFRESH, [attr(A_LIFETIME, b"\0\0\0\0"),
                                       attr(A_USERNAME, user.encode()), attr(A_REALM, realm),
                                       attr(A_NONCE, nonce)], key))




def start_relay():
    if not os.access(sigtest.RELAY, os.X_OK):
        raise SystemExit("FAIL: iceway-relay not found at %s: this test needs the relay binary "
                         "(build turn/ first)" % sigtest.RELAY)
    r = try_relay()
    if r:
        return r
    raise SystemExit("FAIL: iceway-relay did not start")


def try_relay():
    log = tempfile.NamedTemporaryFile(prefix="iw-relay-", suffix=".log", delete=False)
    # every port the relay binds is held for this test (ports.py)
    port = sigtest.ports.reserve(1, ("udp", "tcp"))
    lo = sigtest.ports.reserve(100, ("udp",))
    proc = subprocess.Popen([sigtest.RELAY, "-n", "-L", "127.0.0.1", "-p", str(port), "--no-tls",
                             "--min-port", str(lo), "--max-port", str(lo + 99),
                             "--use-auth-secret", "--static-auth-secret", SECRET,
                             "--realm", "iceway.test"], stdout=log, stderr=log)
    # ready when it answers a Binding request
    c = TurnClient(port)
    deadline = time.monotonic() + sigtest.TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            mtype, _ = c.request(message(BINDING, []), tries=1)
            if mtype == 0x0101:
                return proc, port, log.name
        except AssertionError:
            pass
    proc.kill()
    proc.wait()
    out = open(log.name).read()
    os.unlink(log.name)
    print("iceway-relay did not start on %d:\n%s" % (port, out))
    return None


async def main():
    relay, port, relay_log = start_relay()
    try:
        with Server("--static-auth-secret", SECRET, "--credential-ttl", "5",
                    "--turn-uri", "turn:127.0.0.1:%d?transport=udp" % port,
                    "--stun-uri", "stun:127.0.0.1:%d" % port) as srv:
            p = await Peer.connect(srv.url)
            w = await p.join("turn-room")
            turn = [s for s in w["iceServers"] if any(u.startswith("turn:") for u in s["urls"])]
            assert len(turn) == 1, w["iceServers"]
            user, cred = turn[0]["username"], turn[0]["credential"]
            expiry = int(user.split(":")[0])
            assert user.endswith(":" + w["peer"])

            c = TurnClient(port)
            mtype, a, auth = c.allocate(user, cred)
            assert time.time() < expiry, "too slow: the credential expired before the first " \
                "Allocate completed; raise --credential-ttl"
            assert mtype == 0x0103, "Allocate refused: %s %r" % (hex(mtype), error_code(a))
            assert A_XOR_RELAYED in a
            c.release(user, auth)

            # a wrong password is refused
            mtype, a, _ = TurnClient(port).allocate(user, "A" * 28)
            assert mtype == 0x0113 and error_code(a) == 401

            # wait for the expiry the username itself names, then the credential is refused. The
            # relay reads the clock once per wake-up: on a machine loaded enough to deschedule it
            # for a second between that read and the receive, it judges by the earlier second,
            # so the margin is 3 s.
            while time.time() <= expiry + 3:
                await asyncio.sleep(0.2)
            mtype, a, _ = TurnClient(port).allocate(user, cred)
            assert mtype == 0x0113 and error_code(a) == 401, (hex(mtype), error_code(a))

            # /api/turn hands out credentials the relay takes as well
            st, body = srv.get("/api/turn?service=turn&username=app")
            j = __import__("json").loads(body)
            mtype, a, auth = TurnClient(port).allocate(j["username"], j["password"])
            assert mtype == 0x0103, hex(mtype)
            await p.close()
    finally:
        relay.terminate()
        try:
            relay.wait(timeout=sigtest.TIMEOUT)
        except subprocess.TimeoutExpired:
            relay.kill()
            relay.wait()
        os.unlink(relay_log)


sigtest.run(main)
