"""iceway-signal behind the real HAProxy (Debian's) with the PROXY protocol, v1 and v2.
Clients connect to HAProxy from 127.0.0.2 and 127.0.0.3; HAProxy connects to iceway-signal
from 127.0.0.1, the only proxy-trusted source.
- max-connections-per-ip counts the client the header names: two from 127.0.0.2 pass, the third
  is refused, and 127.0.0.3 still gets in (without the header all four would be 127.0.0.1's).
- A source that is not trusted is served as itself without a header, and closed with one (a
  forged client address); a trusted source is closed without a header, with a malformed one,
  and when nothing arrives within proxy-timeout.
- Each outcome is counted in iceway_signal_proxy_connections_total.
- With TLS, the TLS handshake starts right after the header: HAProxy in TCP mode passes wss
  through, and iceway-signal terminates it.
- Behind nginx as an HTTP reverse proxy (proxy-trusted, no proxy-protocol), X-Forwarded-For
  names the client for the same limit; the same header from a client that is not trusted is
  ignored."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

import ssl

import iwtest
import sigtest
from sigtest import RawWS, Server
from test_signal_tls import make_cert

HAPROXY = shutil.which("haproxy")
METRIC = 'iceway_signal_proxy_connections_total{result="%s"}'


def ws_accepted(port, **kw):
    """True when the WebSocket handshake succeeded; the socket is kept open on success."""
    try:
        c = RawWS(port, **kw)
    except (ConnectionResetError, BrokenPipeError):
        return False, None
    if not c.accepted:
        c.close()
        return False, None
    return True, c


def start_haproxy(cfg_text):
    d = tempfile.mkdtemp(prefix="iw-haproxy-")
    cfg = os.path.join(d, "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write(cfg_text)
    log = open(os.path.join(d, "log"), "w")
    proc = subprocess.Popen([HAPROXY, "-f", cfg, "-db"], stdout=log, stderr=log)
    return proc, d


def wait_listening(port):
    deadline = time.monotonic() + sigtest.TIMEOUT
    while not _connects(port):
        assert time.monotonic() < deadline, "haproxy is not listening on %d" % port
        time.sleep(0.05)


def _connects(port):
    """A listening socket on port, read from /proc: a probe connection through haproxy would
    reach iceway-signal and be counted."""
    with open("/proc/net/tcp") as f:
        return any(line.split()[1].endswith(":%04X" % port) and line.split()[3] == "0A"
                   for line in f.readlines()[1:])


def tls_after_header():
    """A v1 header, then a TLS handshake and an HTTPS request on the same connection."""
    d = tempfile.mkdtemp(prefix="iw-proxy-tls-")
    cert, key = make_cert(d)
    port = sigtest.free_port()
    srv = Server("--proxy-protocol", "--proxy-trusted", "127.0.0.1", "--tls-cert", cert,
                 "--tls-key", key, listen="127.0.0.1:%d" % port)
    try:
        raw = socket.create_connection(("127.0.0.1", port), timeout=sigtest.TIMEOUT)
        raw.sendall(b"PROXY TCP4 203.0.113.7 127.0.0.1 5555 %d\r\n" % port)
        ctx = ssl.create_default_context(cafile=cert)
        t = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        t.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head = t.recv(200)
        t.close()
        assert head.startswith(b"HTTP/1.1 200"), head
        assert srv.metric(METRIC % "header") == 1
    finally:
        srv.stop()
        shutil.rmtree(d, ignore_errors=True)


NGINX = shutil.which("nginx")


def behind_nginx():
    port, front = sigtest.free_port(), sigtest.free_port()
    srv = Server("--proxy-trusted", "127.0.0.1", "--max-connections-per-ip", "1",
                 listen="127.0.0.1:%d" % port)
    d = tempfile.mkdtemp(prefix="iw-nginx-")
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""daemon off;
master_process off;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %(d)s; proxy_temp_path %(d)s; fastcgi_temp_path %(d)s;
  uwsgi_temp_path %(d)s; scgi_temp_path %(d)s;
  server {
    listen 127.0.0.1:%(front)d;
    location / {
      proxy_pass http://127.0.0.1:%(port)d;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
""" % dict(d=d, front=front, port=port))
    ngx = subprocess.Popen([NGINX, "-c", conf, "-p", d], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    keep = []
    try:
        wait_listening(front)
        ok, c = ws_accepted(front, src="127.0.0.2")
        assert ok, "127.0.0.2 through nginx was refused"
        keep.append(c)
        ok, _ = ws_accepted(front, src="127.0.0.2")
        assert not ok, "a second connection from 127.0.0.2 passed max-connections-per-ip 1"
        # a client's own X-Forwarded-For is kept by nginx on the left, and not believed
        ok, c = ws_accepted(front, src="127.0.0.3", headers=[("X-Forwarded-For", "127.0.0.2")])
        assert ok, "127.0.0.3 was refused: the limit counted nginx or a client's claim"
        keep.append(c)
        # straight to iceway-signal, the same claim from an untrusted source is ignored
        ok, c = ws_accepted(port, src="127.0.0.4", headers=[("X-Forwarded-For", "127.0.0.3")])
        assert ok, "an untrusted source's X-Forwarded-For was believed"
        keep.append(c)
        assert srv.metric('iceway_signal_connections_rejected_total{reason="per_address"}') == 1
    finally:
        for c in keep:
            c.close()
        ngx.kill()
        ngx.wait()
        srv.stop()
        shutil.rmtree(d, ignore_errors=True)


def pending_bound():
    """proxy-max-pending: connections still waiting for their header are bounded; one more
    is closed at once and counted, and a slot that frees up is served again."""
    port = sigtest.free_port()
    srv = Server("--proxy-protocol", "--proxy-trusted", "127.0.0.1/32", "--proxy-timeout",
                 "20000", "--proxy-max-pending", "3", listen="127.0.0.1:%d" % port)
    silent = []
    try:
        for _ in range(3):
            silent.append(socket.create_connection(("127.0.0.1", port)))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and srv.metric("iceway_signal_proxy_waiting") != 3:
            time.sleep(0.05)
        assert srv.metric("iceway_signal_proxy_waiting") == 3
        s = socket.create_connection(("127.0.0.1", port))
        closed = iwtest.closed_by_server(s, 2)
        s.close()
        assert closed, "a 4th waiting connection is still open after 2 s (max-pending 3)"
        assert srv.metric(METRIC % "too_many_waiting") == 1
        # the three that wait are still open (not closed with the fourth)
        for c in silent:
            c.setblocking(False)
            try:
                assert c.recv(1) != b"", "a waiting connection was closed"
            except BlockingIOError:
                pass
        silent.pop().close()
        deadline = time.monotonic() + 5
        ok = False
        while not ok and time.monotonic() < deadline:
            ok, c = ws_accepted(port, src="127.0.0.1",
                                prefix=b"PROXY TCP4 127.0.0.9 127.0.0.1 40000 80\r\n")
            if ok:
                c.close()
            else:
                time.sleep(0.1)
        assert ok, "a freed slot was not served again"
        assert srv.metric(METRIC % "too_many_waiting") >= 1
    finally:
        for c in silent:
            c.close()
        srv.stop()


def main():
    if not NGINX:
        raise SystemExit("FAIL: this test needs nginx (tools/install-deps.sh test)")
    if not HAPROXY:
        raise SystemExit("FAIL: this test needs haproxy (tools/install-deps.sh test)")
    port = sigtest.free_port()
    v1, v2 = sigtest.free_port(), sigtest.free_port()
    srv = Server("--proxy-protocol", "--proxy-trusted", "127.0.0.1/32", "--proxy-timeout", "800",
                 "--max-connections-per-ip", "2", listen="127.0.0.1:%d" % port)
    hap = None
    keep = []
    try:
        hap, hdir = start_haproxy("""global
  log stderr format raw local0 err
defaults
  mode tcp
  timeout connect 2s
  timeout client 30s
  timeout server 30s
frontend v1
  bind 127.0.0.1:%(v1)d
  default_backend s_v1
frontend v2
  bind 127.0.0.1:%(v2)d
  default_backend s_v2
backend s_v1
  server s 127.0.0.1:%(port)d send-proxy
backend s_v2
  server s 127.0.0.1:%(port)d send-proxy-v2
""" % dict(v1=v1, v2=v2, port=port))
        wait_listening(v1)
        wait_listening(v2)

        # the real client counts: 127.0.0.2 twice (v2 then v1), a third time refused
        for p in (v2, v1):
            ok, c = ws_accepted(p, src="127.0.0.2")
            assert ok, "127.0.0.2 through haproxy (%d) was refused" % p
            keep.append(c)
        ok, _ = ws_accepted(v2, src="127.0.0.2")
        assert not ok, "a third connection from 127.0.0.2 passed max-connections-per-ip 2"
        ok, c = ws_accepted(v1, src="127.0.0.3")
        assert ok, "127.0.0.3 was refused: the limit counted haproxy's address, not the client's"
        keep.append(c)
        assert srv.metric('iceway_signal_connections_rejected_total{reason="per_address"}') == 1
        assert srv.metric(METRIC % "header") == 4

        # not trusted: served as itself without a header, closed with one
        ok, c = ws_accepted(port, src="127.0.0.3")
        assert ok, "an untrusted source without a header was refused"
        keep.append(c)
        ok, _ = ws_accepted(port, src="127.0.0.3", prefix=b"PROXY TCP4 9.9.9.9 127.0.0.1 1 2\r\n")
        assert not ok, "an untrusted source's PROXY header was taken"
        assert srv.metric(METRIC % "direct") == 1
        assert srv.metric(METRIC % "untrusted_header") == 1

        # trusted: a header is required and must be well formed
        ok, _ = ws_accepted(port, src="127.0.0.1")
        assert not ok, "a trusted source without a header was served"
        assert srv.metric(METRIC % "missing_header") == 1
        ok, _ = ws_accepted(port, src="127.0.0.1", prefix=b"PROXY TCP4 1.2.3.4\r\n")
        assert not ok, "a malformed header was taken"
        assert srv.metric(METRIC % "bad_header") == 1

        # silence from a trusted source: closed after proxy-timeout (800 ms)
        s = socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.1", 0))
        t0 = time.monotonic()
        closed = iwtest.closed_by_server(s, 4)
        waited = time.monotonic() - t0
        s.close()
        assert closed and 0.5 < waited, "silent connection: closed %s after %.2f s" % (closed, waited)
        assert srv.metric(METRIC % "timeout") == 1

        tls_after_header()
        behind_nginx()
        pending_bound()
        print("PASS")
    finally:
        for c in keep:
            try:
                c.close()
            except OSError:
                pass
        if hap:
            hap.kill()
            hap.wait()
            shutil.rmtree(hdir, ignore_errors=True)
        srv.stop()


if __name__ == "__main__":
    main()
