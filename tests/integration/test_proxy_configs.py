"""The shipped configs for one public 443 (docker/nginx/iceway-443.conf and
docker/haproxy/iceway-443.cfg), checked by the real tools and run on loopback.

- `nginx -t` (Debian's nginx with libnginx-mod-stream) and `haproxy -c` accept them as shipped,
  only the listen port and the two backends' ports moved to free ones.
- Running them, each TLS ClientHello reaches the right backend with a PROXY header (nginx:
  version 1, HAProxy: version 2) naming the real client (127.0.0.2, 127.0.0.3): ALPN stun.turn
  (alone or after h2) and the relay's name go to the relay; the web name, h2/http/1.1 and a
  ClientHello without SNI or ALPN go to signaling. The backends are plain sockets that record
  the header and the first TLS record.
- Then the signaling route ends at a real iceway-signal (proxy-protocol, proxy-trusted 127.0.0.1,
  TLS, max-connections-per-ip 1): wss:// through each proxy counts the real client, so a second
  WebSocket from 127.0.0.2 is refused while 127.0.0.3 gets in.
- And the TURN route ends at a real iceway-relay (proxy-protocol, TLS terminated by the relay):
  a STUN Binding over TLS with ALPN stun.turn from 127.0.0.2 and 127.0.0.3 through each proxy
  is answered with the client's own address and port."""
import base64
import ipaddress
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ports  # noqa: E402
import iwtest  # noqa: E402
import sigtest  # noqa: E402
from test_signal_tls import make_cert  # noqa: E402

SRC = os.environ.get("IW_SRC") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
NGINX_CONF = os.path.join(SRC, "docker/nginx/iceway-443.conf")
HAPROXY_CFG = os.path.join(SRC, "docker/haproxy/iceway-443.cfg")
STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"
V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
RELAY_NAME = "turn.example.com"  # the name the shipped configs route to the relay
TIMEOUT = 10
NGINX, HAPROXY = shutil.which("nginx"), shutil.which("haproxy")


def fail(msg):
    raise SystemExit("FAIL: " + msg)


def log(msg):
    print("[test_proxy_configs] " + msg, flush=True)


def free_tcp():
    return ports.reserve(1, ("tcp",), ("127.0.0.1",))


class Backend:
    """Accepts connections and records, per connection, the PROXY header and the first bytes of
    what followed it (a TLS record starts with 0x16)."""

    def __init__(self, name):
        self.name = name
        self.port = free_tcp()
        self.sock = socket.create_server(("127.0.0.1", self.port))
        self.sock.settimeout(0.2)
        self.seen = []
        self.lock = threading.Lock()
        self.stop = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        c.settimeout(TIMEOUT)
        buf = b""
        rec = None
        try:
            while rec is None and len(buf) < 65536:
                d = c.recv(4096)
                if not d:
                    break
                buf += d
                rec = parse_proxy(buf)
        except OSError:
            pass
        finally:
            c.close()
        with self.lock:
            self.seen.append(rec if rec else {"error": "no header", "bytes": buf[:64]})

    def take(self):
        with self.lock:
            s, self.seen = self.seen, []
        return s

    def close(self):
        self.stop = True
        self.sock.close()
        self.thread.join(2)


def parse_proxy(buf):
    """The header's version and source, once it and a byte after it are in buf; None before."""
    if buf.startswith(V2_SIG):
        if len(buf) < 16:
            return None
        ver_cmd, fam, length = buf[12], buf[13], struct.unpack("!H", buf[14:16])[0]
        if len(buf) < 16 + length + 1:
            return None
        if ver_cmd != 0x21 or fam != 0x11 or length < 12:
            return {"error": "v2 %02x %02x len %d" % (ver_cmd, fam, length)}
        src = str(ipaddress.IPv4Address(buf[16:20]))
        return {"version": 2, "src": src, "next": buf[16 + length]}
    if buf.startswith(b"PROXY "):
        end = buf.find(b"\r\n")
        if end < 0 or len(buf) < end + 3:
            return None if len(buf) < 108 else {"error": "v1 too long"}
        f = buf[:end].split(b" ")
        return {"version": 1, "src": f[2].decode(), "next": buf[end + 2]}
    if len(buf) >= 16:
        return {"error": "no header", "bytes": buf[:16]}
    return None


def hello(port, src, alpn, sni):
    """A TLS ClientHello through the proxy; the backend is no TLS server, so the handshake is
    cut once the backend has read it."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT, source_address=(src, 0))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    try:
        ctx.wrap_socket(raw, server_hostname=sni).close()
    except (ssl.SSLError, OSError):
        pass
    finally:
        raw.close()


CASES = [
    # (client address, ALPN offered, SNI, backend)
    ("127.0.0.2", ["stun.turn"], None, "relay"),
    ("127.0.0.3", ["h2", "stun.turn"], "www.example.com", "relay"),
    ("127.0.0.2", None, RELAY_NAME, "relay"),
    ("127.0.0.3", None, "www.example.com", "signal"),
    ("127.0.0.2", ["h2", "http/1.1"], "www.example.com", "signal"),
    ("127.0.0.3", None, None, "signal"),
]


def route_all(proxy, port, backends, version):
    for src, alpn, sni, want in CASES:
        hello(port, src, alpn, sni)
        deadline = time.monotonic() + TIMEOUT
        got = {}
        while time.monotonic() < deadline:
            got = {n: b.take() for n, b in backends.items()}
            if any(got.values()):
                break
            time.sleep(0.02)
        what = "%s: ALPN %r SNI %r from %s" % (proxy, alpn, sni, src)
        others = [n for n, s in got.items() if s and n != want]
        if others or len(got[want]) != 1:
            fail("%s went to %s, not %s only" % (what, others or "nowhere", want))
        rec = got[want][0]
        if rec.get("version") != version or rec.get("src") != src or rec.get("next") != 0x16:
            fail("%s: %s backend saw %r, want a v%d header from %s then TLS"
                 % (what, want, rec, version, src))
        log("%s -> %s, PROXY v%d src %s" % (what, want, version, src))


def wait_listening(port, proc, errlog):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            fail("proxy exited (%d): %s" % (proc.returncode, open(errlog).read()[-2000:]))
        with open("/proc/net/tcp") as f:
            if any(line.split()[1] == "0100007F:%04X" % port and line.split()[3] == "0A"
                   for line in f.readlines()[1:]):
                return
        time.sleep(0.05)
    fail("nothing listens on %d: %s" % (port, open(errlog).read()[-2000:]))


def subst(text, front, relay, signal, listen_re):
    out, n = re.subn(listen_re, "\\g<1>127.0.0.1:%d\\g<2>" % front, text)
    if n < 1:
        fail("no listen line found to move")
    for old, new in (("127.0.0.1:5349", relay), ("127.0.0.1:8443", signal)):
        if old not in out:
            fail("the config no longer names %s" % old)
        out = out.replace(old, "127.0.0.1:%d" % new)
    return out


def start_nginx(d, deb, front, relay, signal):
    conf = os.path.join(d, "nginx.conf")
    ngx = subst(deb, front, relay, signal, r"(\n\s*listen\s+)443(;)")
    ngx = re.sub(r"\n\s*listen\s+\[::\]:443;", "", ngx)
    ngx = ngx.replace("access_log /dev/stdout", "access_log %s/access.log" % d)
    with open(conf, "w") as f:
        f.write(ngx)
    errlog = os.path.join(d, "nginx.err")
    with open(errlog, "w") as err:
        r = subprocess.run([NGINX, "-t", "-e", "stderr", "-p", d, "-c", conf, "-g",
                            "pid %s/nginx.pid;" % d], stdout=err, stderr=err, timeout=30)
        if r.returncode != 0:
            fail("nginx -t with free ports: " + open(errlog).read())
        p = subprocess.Popen([NGINX, "-e", "stderr", "-p", d, "-c", conf, "-g",
                              "pid %s/nginx.pid; daemon off; master_process off;" % d],
                             stdout=err, stderr=err)
    wait_listening(front, p, errlog)
    return p


def start_haproxy(d, deb, front, relay, signal):
    cfg = os.path.join(d, "haproxy.cfg")
    hap = subst(open(HAPROXY_CFG).read(), front, relay, signal, r"(\n\s*bind\s+):::443 v4v6()")
    # The open-file limit of a test is below what maxconn asks for.
    hap = re.sub(r"\n(\s*)maxconn \d+", "\n\\1maxconn 1000", hap)
    with open(cfg, "w") as f:
        f.write(hap)
    errlog = os.path.join(d, "haproxy.log")
    with open(errlog, "w") as err:
        p = subprocess.Popen([HAPROXY, "-db", "-f", cfg], stdout=err, stderr=err)
    wait_listening(front, p, errlog)
    return p


def wss_open(port, src):
    """A WebSocket handshake over TLS through the proxy from src, with the web name as SNI: the
    open TLS socket after a 101, or None when the connection was refused or closed."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT, source_address=(src, 0))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        s = ctx.wrap_socket(raw, server_hostname="www.example.com")
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall(("GET /ws HTTP/1.1\r\nHost: www.example.com\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n" % key).encode())
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 8192:
            d = s.recv(4096)
            if not d:
                break
            head += d
    except (OSError, ssl.SSLError):
        raw.close()
        return None
    if head.startswith(b"HTTP/1.1 101"):
        return s
    s.close()
    return None


def real_clients(name, front, srv):
    first = wss_open(front, "127.0.0.2")
    if first is None:
        fail("%s: wss:// from 127.0.0.2 into iceway-signal was refused" % name)
    second = wss_open(front, "127.0.0.2")
    if second is not None:
        fail("%s: a second wss:// from 127.0.0.2 passed max-connections-per-ip 1: iceway-signal "
             "did not see the client behind the proxy" % name)
    third = wss_open(front, "127.0.0.3")
    if third is None:
        fail("%s: wss:// from 127.0.0.3 was refused: the limit counted the proxy" % name)
    headers = srv.metric('iceway_signal_proxy_connections_total{result="header"}')
    refused = srv.metric('iceway_signal_connections_rejected_total{reason="per_address"}')
    first.close()
    third.close()
    if headers != 3 or refused != 1:
        fail("%s: %d PROXY headers read, %d refused per address; want 3 and 1"
             % (name, headers, refused))
    log("%s -> iceway-signal: wss:// from 127.0.0.2 in, its second one refused; 127.0.0.3 in; "
        "3 PROXY headers" % name)


def turn_binding(port, src):
    """A STUN Binding over TLS with ALPN stun.turn through the proxy from src: the mapped
    address and the client's own, or (None, own) when nothing came back."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT, source_address=(src, 0))
    own = raw.getsockname()[:2]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["stun.turn"])
    try:
        s = ctx.wrap_socket(raw, server_hostname="www.example.com")
        tid = os.urandom(12)
        s.sendall(iwtest.encode(iwtest.METHOD_BINDING, iwtest.CLASS_REQUEST, tid=tid))
        d = iwtest.recv_frame(s, TIMEOUT, bytearray())
        s.close()
    except (OSError, ssl.SSLError):
        raw.close()
        return None, own
    if d is None:
        return None, own
    return tuple(iwtest.Msg(d).xor_addr(iwtest.ATTR_XOR_MAPPED_ADDRESS)), own


def real_relay(name, front, tls_port, mport):
    """turns: through the proxy into a real iceway-relay: the relay maps the client behind it."""
    for src in ("127.0.0.2", "127.0.0.3"):
        mapped, own = turn_binding(front, src)
        if mapped != tuple(own):
            fail("%s: a TLS Binding from %s through the proxy mapped %s, not the client's %s"
                 % (name, src, mapped, own))
    n = iwtest.metric(mport, "iceway_relay_stream_proxy_total", result="header", transport="tls")
    log("%s -> iceway-relay: TLS Bindings from 127.0.0.2 and 127.0.0.3 map the clients "
        "themselves (%s PROXY headers so far)" % (name, n))


def stop(proc):
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    if not NGINX or not HAPROXY or not os.path.exists(STREAM_MODULE):
        fail("needs nginx, libnginx-mod-stream and haproxy (tools/install-deps.sh test)")
    d = tempfile.mkdtemp(prefix="iw-proxycfg-")
    procs = []
    backends = {"relay": Backend("relay"), "signal": Backend("signal")}
    try:
        # ---- the files as shipped ----
        text = open(NGINX_CONF).read()
        if "\n# load_module " + STREAM_MODULE not in text:
            fail("the nginx config no longer carries Debian's load_module line")
        deb = text.replace("\n# load_module ", "\nload_module ")
        asis = os.path.join(d, "asis.conf")
        with open(asis, "w") as f:
            f.write(deb)
        r = subprocess.run([NGINX, "-t", "-e", "stderr", "-p", d, "-c", asis, "-g",
                            "pid %s/asis.pid;" % d], capture_output=True, text=True,
                           timeout=30)
        if r.returncode != 0:
            fail("nginx -t on the shipped config: " + r.stderr)
        r = subprocess.run([HAPROXY, "-c", "-f", HAPROXY_CFG], capture_output=True, text=True,
                           timeout=30)
        if r.returncode != 0:
            fail("haproxy -c on the shipped config: " + r.stdout + r.stderr)
        log("nginx -t and haproxy -c accept the shipped files")

        rp, sp = backends["relay"].port, backends["signal"].port
        for name, starter, version in (("nginx", start_nginx, 1), ("haproxy", start_haproxy, 2)):
            front = free_tcp()
            p = starter(d, deb, front, rp, sp)
            procs.append(p)
            route_all(name, front, backends, version)
            stop(p)

        # ---- the signaling route into a real iceway-signal ----
        cert, key = make_cert(d)
        for name, starter in (("nginx", start_nginx), ("haproxy", start_haproxy)):
            srv = sigtest.Server("--proxy-protocol", "--proxy-trusted", "127.0.0.1",
                                 "--tls-cert", cert, "--tls-key", key,
                                 "--max-connections-per-ip", "1")
            front = free_tcp()
            p = starter(d, deb, front, rp, srv.port)
            procs.append(p)
            try:
                real_clients(name, front, srv)
            finally:
                stop(p)
                srv.stop()
        # ---- the TURN route into a real iceway-relay ----
        tls_port, mport = iwtest.free_tcp_port(), iwtest.free_tcp_port()
        relay = iwtest.Server(extra=["--proxy-protocol", "--proxy-trusted", "127.0.0.1",
                                     "--tls-listening-port", str(tls_port), "--cert", cert,
                                     "--pkey", key, "--prometheus", "--prometheus-port",
                                     str(mport)]).start()
        try:
            for name, starter in (("nginx", start_nginx), ("haproxy", start_haproxy)):
                front = free_tcp()
                p = starter(d, deb, front, tls_port, sp)
                procs.append(p)
                try:
                    real_relay(name, front, tls_port, mport)
                finally:
                    stop(p)
        finally:
            relay.stop()
        log("PASS")
    finally:
        for p in procs:
            stop(p)
        for b in backends.values():
            b.close()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
