"""Shared pieces of the relay's integration tests: start a TURN server on free loopback ports,
wait until it answers, keep its log, and talk STUN/TURN to it on the wire.

Standard library only. The wire client follows RFC 8489 (STUN), RFC 8656 (TURN) and RFC 6156
(IPv6) directly, so a test can assert exact error codes, reason phrases and attributes.

The server under test is iceway-relay ($IW_RELAY) unless IW_TEST_SERVER=coturn, which runs
coturn's turnserver with the same options, so each test is first proven against coturn.

Used from Python (import iwtest) and from shell tests:
    python3 iwtest.py start ENVFILE [server options...]   start a server, write shell variables
    python3 iwtest.py binding HOST PORT [TIMEOUT]         wait until HOST:PORT answers a Binding
"""

import atexit
import base64
import binascii
import hashlib
import hmac
import ipaddress
import os
import random
import re
import select
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ports  # noqa: E402

# STUN/TURN numbers, with their RFC names.
MAGIC_COOKIE = 0x2112A442
METHOD_BINDING = 0x001
METHOD_ALLOCATE = 0x003
METHOD_REFRESH = 0x004
METHOD_SEND = 0x006
METHOD_DATA = 0x007
METHOD_CREATE_PERMISSION = 0x008
METHOD_CHANNEL_BIND = 0x009

CLASS_REQUEST = 0
CLASS_INDICATION = 1
CLASS_SUCCESS = 2
CLASS_ERROR = 3

ATTR_MAPPED_ADDRESS = 0x0001
ATTR_USERNAME = 0x0006
ATTR_MESSAGE_INTEGRITY = 0x0008
ATTR_ERROR_CODE = 0x0009
ATTR_UNKNOWN_ATTRIBUTES = 0x000A
ATTR_CHANNEL_NUMBER = 0x000C
ATTR_LIFETIME = 0x000D
ATTR_XOR_PEER_ADDRESS = 0x0012
ATTR_DATA = 0x0013
ATTR_REALM = 0x0014
ATTR_NONCE = 0x0015
ATTR_XOR_RELAYED_ADDRESS = 0x0016
ATTR_REQUESTED_ADDRESS_FAMILY = 0x0017
ATTR_EVEN_PORT = 0x0018
ATTR_REQUESTED_TRANSPORT = 0x0019
ATTR_DONT_FRAGMENT = 0x001A
ATTR_XOR_MAPPED_ADDRESS = 0x0020
ATTR_SOFTWARE = 0x8022
ATTR_FINGERPRINT = 0x8028

PROTO_UDP = 17
PROTO_TCP = 6
FAMILY_V4 = 0x01
FAMILY_V6 = 0x02

REALM = "iceway"
USER = "alice"
PASSWORD = "secret"
REST_SECRET = "iw-test-secret"

SANITIZED = bool(os.environ.get("IW_SANITIZE"))
# Sanitizer builds run several times slower: every deadline scales with this.
SLOW = 4.0 if SANITIZED else 1.0


def server_kind():
    return "coturn" if os.environ.get("IW_TEST_SERVER", "") == "coturn" else "iceway"


def is_coturn():
    return server_kind() == "coturn"


# ---------------------------------------------------------------------------------------------
# Wire format


def msg_type(method, cls):
    # RFC 8489 §5: M11..M0 interleaved with C1 C0 in the 14-bit type field.
    return ((method & 0x00F) | ((method & 0x070) << 1) | ((method & 0xF80) << 2) |
            ((cls & 1) << 4) | ((cls & 2) << 7))


def split_type(t):
    method = (t & 0x000F) | ((t & 0x00E0) >> 1) | ((t & 0x3E00) >> 2)
    cls = ((t >> 4) & 1) | ((t >> 7) & 2)
    return method, cls


def pad4(n):
    return (n + 3) & ~3


def attr(atype, value):
    return struct.pack("!HH", atype, len(value)) + value + b"\0" * (pad4(len(value)) - len(value))


def long_term_key(user, realm, password):
    # RFC 8489 §9.2.2: key = MD5(username ":" OpaqueString(realm) ":" OpaqueString(password)).
    return hashlib.md5(f"{user}:{realm}:{password}".encode()).digest()


def rest_credentials(secret, user="bob", ttl=3600, expiry=None):
    """A TURN REST API credential: username "EXPIRY:user", password base64(HMAC-SHA1)."""
    if expiry is None:
        expiry = int(time.time()) + ttl
    name = f"{expiry}:{user}"
    pw = base64.b64encode(hmac.new(secret.encode(), name.encode(), hashlib.sha1).digest())
    return name, pw.decode()


def xor_addr_value(ip, port, tid):
    """XOR-MAPPED-ADDRESS style value (RFC 8489 §14.2) for ip (text) and port."""
    a = ipaddress.ip_address(ip)
    xport = port ^ (MAGIC_COOKIE >> 16)
    if a.version == 4:
        x = int(a) ^ MAGIC_COOKIE
        return struct.pack("!BBHI", 0, FAMILY_V4, xport, x)
    key = struct.pack("!I", MAGIC_COOKIE) + tid
    raw = bytes(b ^ k for b, k in zip(a.packed, key))
    return struct.pack("!BBH", 0, FAMILY_V6, xport) + raw


def decode_xor_addr(value, tid):
    if len(value) < 4:
        raise ValueError("short address")
    fam = value[1]
    port = struct.unpack("!H", value[2:4])[0] ^ (MAGIC_COOKIE >> 16)
    if fam == FAMILY_V4 and len(value) == 8:
        ip = struct.unpack("!I", value[4:8])[0] ^ MAGIC_COOKIE
        return str(ipaddress.IPv4Address(ip)), port
    if fam == FAMILY_V6 and len(value) == 20:
        key = struct.pack("!I", MAGIC_COOKIE) + tid
        raw = bytes(b ^ k for b, k in zip(value[4:20], key))
        return str(ipaddress.IPv6Address(raw)), port
    raise ValueError("bad address family %d / length %d" % (fam, len(value)))


def decode_plain_addr(value):
    fam = value[1]
    port = struct.unpack("!H", value[2:4])[0]
    if fam == FAMILY_V4:
        return str(ipaddress.IPv4Address(value[4:8])), port
    return str(ipaddress.IPv6Address(value[4:20])), port


def encode(method, cls, attrs=(), tid=None, key=None, fingerprint=True):
    """Build a STUN message. attrs: list of (type, bytes). key: long-term key for
    MESSAGE-INTEGRITY (RFC 8489 §14.5), then FINGERPRINT (§14.7)."""
    tid = tid or os.urandom(12)
    body = b"".join(attr(t, v) for t, v in attrs)
    if key is not None:
        # The length field covers MESSAGE-INTEGRITY itself when the HMAC is computed.
        hdr = struct.pack("!HHI", msg_type(method, cls), len(body) + 24, MAGIC_COOKIE) + tid
        mac = hmac.new(key, hdr + body, hashlib.sha1).digest()
        body += attr(ATTR_MESSAGE_INTEGRITY, mac)
    if fingerprint:
        hdr = struct.pack("!HHI", msg_type(method, cls), len(body) + 8, MAGIC_COOKIE) + tid
        crc = (binascii.crc32(hdr + body) & 0xFFFFFFFF) ^ 0x5354554E
        body += attr(ATTR_FINGERPRINT, struct.pack("!I", crc))
    return struct.pack("!HHI", msg_type(method, cls), len(body), MAGIC_COOKIE) + tid + body


class Msg:
    """A decoded STUN message: method, cls, tid, attrs (list of (type, value))."""

    def __init__(self, data):
        if len(data) < 20:
            raise ValueError("short STUN message")
        t, length, cookie = struct.unpack("!HHI", data[:8])
        if t & 0xC000 or cookie != MAGIC_COOKIE:
            raise ValueError("not STUN")
        if 20 + length > len(data):
            raise ValueError("length past datagram")
        self.raw = data[:20 + length]
        self.method, self.cls = split_type(t)
        self.tid = data[8:20]
        self.attrs = []
        off = 20
        while off + 4 <= 20 + length:
            at, al = struct.unpack("!HH", data[off:off + 4])
            if off + 4 + al > 20 + length:
                raise ValueError("attribute past message")
            self.attrs.append((at, data[off + 4:off + 4 + al]))
            off += 4 + pad4(al)

    def get(self, atype):
        for t, v in self.attrs:
            if t == atype:
                return v
        return None

    def has(self, atype):
        return self.get(atype) is not None

    @property
    def error(self):
        """(code, reason) from ERROR-CODE, or None."""
        v = self.get(ATTR_ERROR_CODE)
        if v is None or len(v) < 4:
            return None
        return (v[2] & 7) * 100 + v[3], v[4:].decode("utf-8", "replace").rstrip("\0")

    @property
    def code(self):
        e = self.error
        return e[0] if e else None

    def xor_addr(self, atype):
        v = self.get(atype)
        return None if v is None else decode_xor_addr(v, self.tid)

    def unknown_attributes(self):
        v = self.get(ATTR_UNKNOWN_ATTRIBUTES) or b""
        return [struct.unpack("!H", v[i:i + 2])[0] for i in range(0, len(v) - 1, 2)]

    def integrity_ok(self, key):
        off = 20
        for t, v in self.attrs:
            if t == ATTR_MESSAGE_INTEGRITY:
                hdr = bytearray(self.raw[:20])
                struct.pack_into("!H", hdr, 2, off - 20 + 24)
                mac = hmac.new(key, bytes(hdr) + self.raw[20:off], hashlib.sha1).digest()
                return hmac.compare_digest(mac, v)
            off += 4 + pad4(len(v))
        return False

    def __repr__(self):
        e = self.error
        return "<STUN method=%#x class=%d%s attrs=%s>" % (
            self.method, self.cls, " error=%d %r" % e if e else "", [hex(t) for t, _ in self.attrs])


def channel_data(channel, payload):
    return struct.pack("!HH", channel, len(payload)) + payload


def sockaddr(ip, port):
    return (ip, port) if ":" not in ip else (ip, port, 0, 0)


def family_of(ip):
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


# ---------------------------------------------------------------------------------------------
# Clients


class Client:
    """A STUN/TURN client on one UDP socket (one 5-tuple)."""

    def __init__(self, server, port=None, user=USER, password=PASSWORD, realm=None, local="127.0.0.1"):
        if isinstance(server, Server):
            host, port = server.host, server.port
        else:
            host = server
        self.server = sockaddr(host, port)
        self.sock = socket.socket(family_of(host), socket.SOCK_DGRAM)
        self.sock.bind(sockaddr(local if family_of(host) == socket.AF_INET else "::1", 0))
        self.user, self.password = user, password
        self.realm = realm
        self.nonce = None
        self.key = None
        self.relayed = None
        self.mapped = None
        self.pending = []  # datagrams that arrived while waiting for a response
        _open_sockets.append(self.sock)

    def close(self):
        self.sock.close()

    def set_credentials(self, user, password):
        self.user, self.password = user, password
        if self.realm:
            self.key = long_term_key(user, self.realm, password)

    def send_raw(self, data):
        self.sock.sendto(data, self.server)

    def recv_raw(self, timeout):
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data, _ = self.sock.recvfrom(65536)
            return data
        except socket.timeout:
            return None

    def transact(self, data, tid, timeout=None, retries=3):
        """Send a request, wait for the response with its transaction id (retransmitting like
        RFC 8489 §6.2.1, bounded). Returns Msg or None."""
        timeout = timeout or 2.0 * SLOW
        for _ in range(retries):
            self.send_raw(data)
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                d = self.recv_raw(left)
                if d is None:
                    break
                try:
                    m = Msg(d)
                except ValueError:
                    self.pending.append(d)
                    continue
                if m.tid == tid and m.cls in (CLASS_SUCCESS, CLASS_ERROR):
                    return m
                self.pending.append(d)
        return None

    def request(self, method, attrs=(), auth=True, tid=None, timeout=None, retry_auth=True):
        """Send a request; with auth, answer a 401/438 challenge once with the realm and nonce
        it carries (RFC 8489 §9.2.3). Returns the final response Msg (or None on timeout)."""
        attrs = list(attrs)
        tid = tid or os.urandom(12)
        m = self.transact(self._build(method, attrs, auth, tid), tid, timeout)
        if auth and retry_auth and m is not None and m.code in (401, 438) and m.has(ATTR_NONCE):
            self._learn(m)
            tid = os.urandom(12)
            m = self.transact(self._build(method, attrs, auth, tid), tid, timeout)
        if m is not None and m.has(ATTR_NONCE) and m.code in (401, 438):
            self._learn(m)
        return m

    def _learn(self, m):
        self.nonce = m.get(ATTR_NONCE)
        realm = m.get(ATTR_REALM)
        if realm is not None:
            self.realm = realm.decode()
        if self.realm is not None:
            self.key = long_term_key(self.user, self.realm, self.password)

    def _build(self, method, attrs, auth, tid):
        if auth and self.nonce is not None:
            attrs = attrs + [(ATTR_USERNAME, self.user.encode()),
                             (ATTR_REALM, self.realm.encode()),
                             (ATTR_NONCE, self.nonce)]
            return encode(method, CLASS_REQUEST, attrs, tid=tid, key=self.key)
        return encode(method, CLASS_REQUEST, attrs, tid=tid)

    def binding(self, extra=(), timeout=None):
        m = self.request(METHOD_BINDING, extra, auth=False, timeout=timeout)
        if m is not None and m.cls == CLASS_SUCCESS:
            self.mapped = m.xor_addr(ATTR_XOR_MAPPED_ADDRESS)
        return m

    def allocate(self, family=None, transport=PROTO_UDP, lifetime=None, extra=()):
        attrs = [(ATTR_REQUESTED_TRANSPORT, struct.pack("!B3x", transport))]
        if family is not None:
            attrs.append((ATTR_REQUESTED_ADDRESS_FAMILY, struct.pack("!B3x", family)))
        if lifetime is not None:
            attrs.append((ATTR_LIFETIME, struct.pack("!I", lifetime)))
        attrs += list(extra)
        m = self.request(METHOD_ALLOCATE, attrs)
        if m is not None and m.cls == CLASS_SUCCESS:
            self.relayed = m.xor_addr(ATTR_XOR_RELAYED_ADDRESS)
            self.mapped = m.xor_addr(ATTR_XOR_MAPPED_ADDRESS)
        return m

    def refresh(self, lifetime=None):
        attrs = [] if lifetime is None else [(ATTR_LIFETIME, struct.pack("!I", lifetime))]
        return self.request(METHOD_REFRESH, attrs)

    def create_permission(self, *peers):
        tid = os.urandom(12)
        attrs = [(ATTR_XOR_PEER_ADDRESS, xor_addr_value(ip, 0, tid)) for ip in peers]
        return self._request_tid(METHOD_CREATE_PERMISSION, attrs, tid)

    def channel_bind(self, channel, ip, port):
        tid = os.urandom(12)
        attrs = [(ATTR_CHANNEL_NUMBER, struct.pack("!H2x", channel)),
                 (ATTR_XOR_PEER_ADDRESS, xor_addr_value(ip, port, tid))]
        return self._request_tid(METHOD_CHANNEL_BIND, attrs, tid)

    def _request_tid(self, method, attrs, tid):
        # XOR-PEER-ADDRESS for IPv6 is keyed by the transaction id, so the first attempt uses
        # tid; a 401/438 retry needs a fresh tid and freshly encoded addresses.
        m = self.transact(self._build(method, attrs, True, tid), tid)
        if m is not None and m.code in (401, 438) and m.has(ATTR_NONCE):
            self._learn(m)
            tid2 = os.urandom(12)
            attrs2 = []
            for t, v in attrs:
                if t == ATTR_XOR_PEER_ADDRESS:
                    ip, port = decode_xor_addr(v, tid)
                    v = xor_addr_value(ip, port, tid2)
                attrs2.append((t, v))
            m = self.transact(self._build(method, attrs2, True, tid2), tid2)
        return m

    def send_indication(self, ip, port, payload):
        tid = os.urandom(12)
        attrs = [(ATTR_XOR_PEER_ADDRESS, xor_addr_value(ip, port, tid)), (ATTR_DATA, payload)]
        self.send_raw(encode(METHOD_SEND, CLASS_INDICATION, attrs, tid=tid))

    def recv_data(self, timeout):
        """Next relayed payload: (kind, channel-or-peer, payload) from ChannelData or a Data
        indication, or None."""
        deadline = time.monotonic() + timeout
        while True:
            if self.pending:
                d = self.pending.pop(0)
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                d = self.recv_raw(left)
                if d is None:
                    return None
            if len(d) >= 4 and 0x40 <= d[0] <= 0x7F:
                ch, ln = struct.unpack("!HH", d[:4])
                return "channel", ch, d[4:4 + ln]
            try:
                m = Msg(d)
            except ValueError:
                continue
            if m.method == METHOD_DATA and m.cls == CLASS_INDICATION:
                return "data", m.xor_addr(ATTR_XOR_PEER_ADDRESS), m.get(ATTR_DATA)


# ---------------------------------------------------------------------------------------------
# Streams (TCP, TLS)


def recv_frame(s, timeout, rest=None):
    """One frame off a stream (RFC 8656 §12.5 framing: STUN, or ChannelData padded to 4), or
    None. rest: a bytearray that keeps what was read past the frame, for the next call."""
    buf = rest if rest is not None else bytearray()
    deadline = time.monotonic() + timeout
    while True:
        if len(buf) >= 4:
            ln = struct.unpack("!H", bytes(buf[2:4]))[0]
            need = 20 + ln if buf[0] < 0x40 else 4 + pad4(ln)
            if len(buf) >= need:
                d = bytes(buf[:need])
                del buf[:need]
                return d
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        s.settimeout(left)
        try:
            d = s.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError, ConnectionResetError):
            return None
        if not d:
            return None
        buf += d


def closed_by_server(s, timeout):
    """Wait until the server closes s (EOF or reset); False if it stays open."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        p = select.poll()
        p.register(s, select.POLLIN)
        if not p.poll(left * 1000):
            return False
        try:
            if not s.recv(4096):
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True


class StreamClient:
    """A TURN client over one TCP (or TLS) connection, long-term credentials (RFC 8489 §9.2)."""

    def __init__(self, host, port, tls=False, local=None, user=USER, password=PASSWORD):
        self.user, self.password = user, password
        self.s = socket.create_connection((host, port), timeout=5,
                                          source_address=(local, 0) if local else None)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.s = ctx.wrap_socket(self.s)
        self.nonce = self.key = None
        self.realm = REALM
        self.rest = bytearray()

    def request(self, method, attrs, xpeer=None):
        for _ in range(2):
            tid = os.urandom(12)
            a = list(attrs)
            if xpeer:
                a.append((ATTR_XOR_PEER_ADDRESS, xor_addr_value(*xpeer, tid)))
            if self.nonce:
                a += [(ATTR_USERNAME, self.user.encode()),
                      (ATTR_REALM, self.realm.encode()), (ATTR_NONCE, self.nonce)]
            self.s.sendall(encode(method, CLASS_REQUEST, a, tid=tid, key=self.key))
            d = recv_frame(self.s, 5 * SLOW, self.rest)
            if d is None:
                return None
            m = Msg(d)
            if m.code in (401, 438) and m.has(ATTR_NONCE):
                self.nonce = m.get(ATTR_NONCE)
                self.realm = m.get(ATTR_REALM).decode()
                self.key = long_term_key(self.user, self.realm, self.password)
                continue
            return m
        return m


def binding_ok(host, port, timeout=2.0):
    """True if host:port answers a Binding request with a success response."""
    s = socket.socket(family_of(host), socket.SOCK_DGRAM)
    try:
        tid = os.urandom(12)
        s.sendto(encode(METHOD_BINDING, CLASS_REQUEST, tid=tid), sockaddr(host, port))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            s.settimeout(left)
            try:
                d, _ = s.recvfrom(2048)
            except (socket.timeout, ConnectionRefusedError):
                return False
            try:
                m = Msg(d)
            except ValueError:
                continue
            if m.tid == tid:
                return m.cls == CLASS_SUCCESS
    finally:
        s.close()


# ---------------------------------------------------------------------------------------------
# Servers

_open_sockets = []
_servers = []
_tmpdirs = []


def tmpdir(prefix="iwtest-"):
    d = tempfile.mkdtemp(prefix=prefix)
    _tmpdirs.append(d)
    return d


def free_udp_port(host="127.0.0.1"):
    """A UDP port for a server to bind on host, held for this test (ports.py)."""
    return ports.reserve(1, ("udp",), (host,))


def free_tcp_port(host="127.0.0.1"):
    """A TCP port for a server to bind on host, held for this test (ports.py)."""
    return ports.reserve(1, ("tcp",), (host,))


def start_echo_peer(ip, procs):
    """coturn's turnutils_peer as a UDP echo peer on a free port of ip. The process is appended
    to procs (stop them with stop_procs); returns the port."""
    port = free_udp_port(ip)
    procs.append(subprocess.Popen(["turnutils_peer", "-L", ip, "-p", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return port


def uclient_env():
    """The environment for coturn's turnutils_uclient: it has no option for its socket buffers,
    so tests/integration/rcvbuf.c gives them 4 MiB through LD_PRELOAD (when built)."""
    env = dict(os.environ)
    shim = os.path.join(os.environ.get("IW_BUILD", ""), "tests", "integration", "libiw_rcvbuf.so")
    if os.path.exists(shim):
        env["LD_PRELOAD"] = shim
    else:
        print(f"  note: {shim} is missing: uclient runs with its default socket buffers")
    return env


def stop_procs(procs):
    """Terminate (then kill) every process in procs that still runs."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def make_cert(cert, key, cn="localhost"):
    """A self-signed RSA certificate and its unencrypted key (PEM), valid for a day."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    key, "-out", cert, "-days", "1", "-subj", "/CN=" + cn],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def free_port_block(count, hosts=("127.0.0.1",)):
    """A block of count consecutive UDP ports (a relay's port range), free on every host and
    held for this test (ports.py); returns (first, last)."""
    base = ports.reserve(count, ("udp",), tuple(hosts))
    return base, base + count - 1


class Server:
    """A TURN server process (iceway-relay or coturn) on free loopback ports.

    auth: "lt" (long-term, static users), "rest" (TURN REST secret) or "none".
    listen: listening addresses; relay: relay addresses (default: the listening ones).
    """

    def __init__(self, auth="lt", users=((USER, PASSWORD),), secret=REST_SECRET,
                 loopback_peers=True, listen=("127.0.0.1",), relay=None, extra=(),
                 nports=400, kind=None, verbose=True, env=None):
        self.kind = kind or server_kind()
        self.verbose = verbose
        self.env = dict(env or {})
        self.listen = list(listen)
        self.relay = list(relay) if relay is not None else list(self.listen)
        self.host = self.listen[0]
        self.dir = tmpdir("iwtest-srv-")
        self.log_path = os.path.join(self.dir, "server.log")
        self.pidfile = os.path.join(self.dir, "server.pid")
        self.port = self._free_listen_port()
        self.min_port, self.max_port = free_port_block(nports, tuple(self.relay))
        self.args = self._args(auth, users, secret, loopback_peers, extra)
        self.proc = None
        self.logf = None

    def _free_listen_port(self):
        return ports.reserve(1, ("udp", "tcp"), tuple(self.listen))

    def _args(self, auth, users, secret, loopback_peers, extra):
        a = ["-n"]
        for h in self.listen:
            a += ["--listening-ip", h]
        for h in self.relay:
            a += ["--relay-ip", h]
        a += ["--listening-port", str(self.port), "--min-port", str(self.min_port),
              "--max-port", str(self.max_port), "--realm", REALM, "--pidfile", self.pidfile]
        if auth == "lt":
            a.append("--lt-cred-mech")
            for u, p in users:
                a += ["--user", f"{u}:{p}"]
        elif auth == "rest":
            a += ["--use-auth-secret", "--static-auth-secret", secret]
        else:
            a.append("--no-auth")
        if loopback_peers:
            a.append("--allow-loopback-peers")
        if self.verbose:
            a.append("--verbose")
        if self.kind == "coturn":
            a = ["turnserver"] + a + [
                "--no-cli", "--no-tls", "--no-dtls", "--log-file", "stdout", "--simple-log",
                "--no-rfc5780", "--userdb", os.path.join(self.dir, "turndb"),
                "--no-tcp-relay"]
            if auth == "rest":
                a += ["--lt-cred-mech"]
        else:
            relay = os.environ.get("IW_RELAY")
            if not relay:
                raise RuntimeError("IW_RELAY is not set (or run with IW_TEST_SERVER=coturn)")
            a = [relay] + a
        return a + list(extra)

    def start(self, wait=True):
        self.logf = open(self.log_path, "ab")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        env.update(self.env)
        self.proc = subprocess.Popen(self.args, stdout=self.logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, cwd=self.dir)
        _servers.append(self)
        if wait:
            self.wait_ready()
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout=None):
        """Poll with Binding requests until every listening address answers (bounded)."""
        deadline = time.monotonic() + (timeout or 20.0 * SLOW)
        pending = list(self.listen)
        while pending:
            if not self.alive():
                raise RuntimeError("%s exited with status %s during start-up" %
                                   (self.kind, self.proc.returncode))
            if time.monotonic() > deadline:
                raise RuntimeError("%s did not answer a Binding on %s:%d" %
                                   (self.kind, pending[0], self.port))
            if binding_ok(pending[0], self.port, timeout=0.25):
                pending.pop(0)

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def sanitizer_report(self):
        """Lines of a sanitizer report in the log, if any."""
        return [ln for ln in self.log_text().splitlines()
                if "ERROR: AddressSanitizer" in ln or "runtime error" in ln or
                "ERROR: LeakSanitizer" in ln or "WARNING: ThreadSanitizer" in ln]

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        """SIGTERM, then SIGKILL after a bounded wait. Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10 * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.logf:
            self.logf.close()
            self.logf = None
        return self.proc.returncode

    def dump_log(self, limit=200):
        lines = self.log_text().splitlines()
        print("---- %s log (%s, last %d of %d lines) ----" %
              (self.kind, self.log_path, min(limit, len(lines)), len(lines)))
        for ln in lines[-limit:]:
            print(ln)
        print("---- end of log ----")


def udp_drops(pid):
    """Receive-buffer drops per UDP socket (inode -> count) that process pid holds now, from
    the "drops" column of /proc/net/udp and udp6: tells whose socket overflowed when
    datagrams go missing under load."""
    inodes = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        return {}
    out = {}
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table) as f:
                next(f)
                for ln in f:
                    cols = ln.split()
                    if len(cols) >= 13 and cols[9] in inodes:
                        out[cols[9]] = int(cols[-1])
        except OSError:
            pass
    return out


class DropSampler:
    """Samples udp_drops() of some processes every 0.2 s in a thread, keeping the highest
    count seen per socket, so sockets closed before the end are still counted."""

    def __init__(self, pids):
        import threading
        self.pids = dict(pids)  # label -> pid
        self.base = {k: udp_drops(p) for k, p in self.pids.items()}
        self.seen = {k: dict(v) for k, v in self.base.items()}
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _sample(self):
        for k, p in self.pids.items():
            for ino, n in udp_drops(p).items():
                if n > self.seen[k].get(ino, 0):
                    self.seen[k][ino] = n

    def _run(self):
        while not self.stop_ev.wait(0.2):
            self._sample()

    def finish(self):
        """Stop; returns label -> drops since the start."""
        self.stop_ev.set()
        self.thread.join()
        self._sample()
        return {k: sum(n - self.base[k].get(ino, 0) for ino, n in self.seen[k].items())
                for k in self.pids}


def _cleanup():
    for s in _open_sockets:
        try:
            s.close()
        except OSError:
            pass
    for srv in _servers:
        try:
            srv.stop()
        except Exception:
            pass
    for d in _tmpdirs:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)


class Checks:
    """Collects named assertions so a test prints one line per check and a closing summary."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = []
        self.skipped = []

    def check(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            print("ok   %s" % what)
        else:
            self.failed.append(what)
            print("FAIL %s%s" % (what, (": " + detail) if detail else ""))
        return cond

    def skip(self, what, why):
        self.skipped.append(what)
        print("skip %s (%s)" % (what, why))

    def summary(self):
        print("== %s against %s: %d passed, %d failed, %d skipped" %
              (self.name, server_kind(), self.passed, len(self.failed), len(self.skipped)))
        for f in self.failed:
            print("   failed: %s" % f)
        return not self.failed


def run(name, body):
    """Run body(checks) and exit: 0 if every check passed. On failure or exception, print the
    log of every server the test started. Servers are stopped and temp files removed."""
    c = Checks(name)
    ok = False
    try:
        body(c)
        ok = c.summary()
    except Exception:
        traceback.print_exc()
        c.summary()
        print("== %s aborted by an exception" % name)
    if not ok:
        for srv in _servers:
            srv.dump_log()
    _cleanup()
    sys.exit(0 if ok else 1)


# ---------------------------------------------------------------------------------------------
# Command line, for the shell tests


def _main(argv):
    if len(argv) >= 2 and argv[1] == "binding":
        host, port = argv[2], int(argv[3])
        timeout = float(argv[4]) if len(argv) > 4 else 20.0 * SLOW
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if binding_ok(host, port, timeout=0.25):
                return 0
        return 1
    if len(argv) >= 3 and argv[1] == "start":
        # start ENVFILE [key=value ...]: listen=a,b relay=a,b auth=lt|rest|none loopback=0|1
        # nports=N verbose=0|1 preload=LIB (LD_PRELOAD for the server only) env.NAME=VALUE,
        # then "--" and extra server options.
        envfile = argv[2]
        kw, extra = {}, []
        rest = argv[3:]
        if "--" in rest:
            i = rest.index("--")
            rest, extra = rest[:i], rest[i + 1:]
        for a in rest:
            k, v = a.split("=", 1)
            kw[k] = v
        srv = Server(auth=kw.get("auth", "lt"),
                     loopback_peers=kw.get("loopback", "1") == "1",
                     listen=kw.get("listen", "127.0.0.1").split(","),
                     relay=kw["relay"].split(",") if "relay" in kw else None,
                     nports=int(kw.get("nports", "400")), extra=extra,
                     verbose=kw.get("verbose", "1") == "1",
                     env={k[4:]: v for k, v in kw.items() if k.startswith("env.")})
        if "preload" in kw:
            srv.env["LD_PRELOAD"] = kw["preload"]
        # The shell test owns the process and its ports from here: they outlive this interpreter.
        _tmpdirs.remove(srv.dir)
        ports.hand_over(os.getppid())
        srv.logf = open(srv.log_path, "ab")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        env.update(srv.env)
        srv.proc = subprocess.Popen(srv.args, stdout=srv.logf, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=env, cwd=srv.dir,
                                    start_new_session=True)
        with open(envfile, "w") as f:
            f.write("IW_SRV_PID=%d\nIW_SRV_PORT=%d\nIW_SRV_LOG=%s\nIW_SRV_DIR=%s\n"
                    "IW_SRV_MIN_PORT=%d\nIW_SRV_MAX_PORT=%d\nIW_SRV_KIND=%s\n" %
                    (srv.pid, srv.port, srv.log_path, srv.dir, srv.min_port, srv.max_port,
                     srv.kind))
        try:
            srv.wait_ready()
        except RuntimeError as e:
            print("iwtest: %s" % e, file=sys.stderr)
            return 1
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv))


def uclient_stream(srv, port, args, timeout=None):
    """turnutils_uclient against srv on port (a TCP/TLS listener or a proxy in front): its
    totals, or None and its output."""
    timeout = timeout or 150 * SLOW
    cmd = ["turnutils_uclient", "-p", str(port)] + args + [srv.host]
    print("  $ " + " ".join(cmd))
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, timeout=timeout)
    out = p.stdout.decode("utf-8", "replace")
    sent = re.findall(r"tot_send_msgs=(\d+), tot_recv_msgs=(\d+)\s*$", out, re.M)
    lost = re.search(r"Total lost packets (\d+) \(([0-9.]+)%\)", out)
    if not sent or not lost:
        return None, out
    return {"sent": int(sent[-1][0]), "recv": int(sent[-1][1]), "lost": int(lost.group(1))}, out


def uclient_clean_run(c, srv, port, name, args, expect):
    """A uclient run on port that must send expect messages and get every one back."""
    st, out = uclient_stream(srv, port, args)
    if st is None:
        c.check(False, "%s: uclient finished with statistics" % name, out[-1500:])
        return
    print("  %s: sent %d, received %d, lost %d" % (name, st["sent"], st["recv"], st["lost"]))
    c.check(st["sent"] == expect, "%s: %d messages sent" % (name, expect), "sent %d" % st["sent"])
    c.check(st["recv"] == st["sent"], "%s: every message came back" % name,
            "received %d of %d" % (st["recv"], st["sent"]))
    c.check(st["lost"] == 0, "%s: 0 %% loss" % name, "lost %d" % st["lost"])


def metrics_scrape(port):
    """The relay's /metrics text from 127.0.0.1:port."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        return r.read().decode()


def metrics_parse(text):
    """{(name, ((label, value), ...)): float} from the Prometheus text format."""
    out = {}
    for ln in text.splitlines():
        if not ln or ln.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', ln)
        if m:
            labels = tuple(sorted(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                             m.group(3) or "")))
            out[(m.group(1), labels)] = float(m.group(4))
    return out


def metric(port, name, **labels):
    """One series' value now (None when it is not exposed)."""
    return metrics_parse(metrics_scrape(port)).get((name, tuple(sorted(labels.items()))))


def wait_metric(port, name, pred, timeout=10.0, **labels):
    """Poll until pred(value) holds (connection closes are seen a wake-up later); the last
    value either way."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        v = metric(port, name, **labels)
        if (v is not None and pred(v)) or time.monotonic() > deadline:
            return v
        time.sleep(0.1)
