"""iceway-relay's TCP and TLS listeners behind the real HAProxy (Debian's), PROXY protocol v1
and v2, TLS passed through and terminated by the relay. HAProxy connects from 127.0.0.1, the
only proxy-trusted source; clients come from 127.0.0.2 and 127.0.0.3.
- A Binding through HAProxy (v2 and v1 over TCP, v2 over TLS) maps the client's own address
  and port, not HAProxy's.
- max-tcp-per-ip counts the client the header names: four from 127.0.0.2, the fifth closed,
  127.0.0.3 still served.
- Straight to the relay: an untrusted source is served as itself without a header and closed
  with one (a forged client); a trusted source without a header is closed.
- turnutils_uclient relays through HAProxy over TCP (-t) and TLS (-S) with 0 % loss.
- Each outcome is counted in iceway_relay_stream_proxy_total."""
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest  # noqa: E402

HAPROXY = shutil.which("haproxy")
M = "iceway_relay_stream_proxy_total"


def listening(port):
    """A listening TCP socket on port, from /proc (a probe through HAProxy would be counted)."""
    with open("/proc/net/tcp") as f:
        return any(ln.split()[1].endswith(":%04X" % port) and ln.split()[3] == "0A"
                   for ln in f.readlines()[1:])


def binding(port, src, tls=False, prefix=b""):
    """A Binding over a fresh connection from src: (mapped, local), or (None, local) when the
    relay closed the connection or did not answer."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=5 * iwtest.SLOW,
                                   source_address=(src, 0))
    local = raw.getsockname()[:2]
    s = raw
    try:
        if prefix:
            raw.sendall(prefix)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(raw)
        tid = os.urandom(12)
        s.sendall(iwtest.encode(iwtest.METHOD_BINDING, iwtest.CLASS_REQUEST, tid=tid))
        d = iwtest.recv_frame(s, 3 * iwtest.SLOW, bytearray())
        if d is None:
            return None, local
        return tuple(iwtest.Msg(d).xor_addr(iwtest.ATTR_XOR_MAPPED_ADDRESS)), local
    except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
        return None, local
    finally:
        s.close()


def held(port, src):
    """An open connection through port from src that has done one Binding (or None)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5 * iwtest.SLOW,
                                 source_address=(src, 0))
    tid = os.urandom(12)
    try:
        s.sendall(iwtest.encode(iwtest.METHOD_BINDING, iwtest.CLASS_REQUEST, tid=tid))
        if iwtest.recv_frame(s, 3 * iwtest.SLOW, bytearray()) is not None:
            return s
    except (ConnectionResetError, BrokenPipeError, OSError):
        pass
    s.close()
    return None


def body(c):
    if iwtest.is_coturn():
        c.skip("PROXY protocol", "iceway-relay's proxy-protocol only")
        return
    if not HAPROXY:
        c.check(False, "haproxy is installed (tools/install-deps.sh test)")
        return
    d = iwtest.tmpdir("iwtest-proxy-")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    iwtest.make_cert(cert, key)
    tls_port, mport = iwtest.free_tcp_port(), iwtest.free_tcp_port()
    fv2, fv1, ftls = iwtest.free_tcp_port(), iwtest.free_tcp_port(), iwtest.free_tcp_port()
    srv = iwtest.Server(nports=200, extra=[
        "--proxy-protocol", "--proxy-trusted", "127.0.0.1", "--max-tcp-per-ip", "4",
        "--allow-rfc5766-channels",  # uclient binds channels above 0x4FFF
        "--tls-listening-port", str(tls_port), "--cert", cert, "--pkey", key,
        "--prometheus", "--prometheus-port", str(mport)]).start()
    cfg = os.path.join(d, "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write("""global
  log stderr format raw local0 err
defaults
  mode tcp
  timeout connect 2s
  timeout client 60s
  timeout server 60s
frontend v2
  bind 127.0.0.1:%(fv2)d
  default_backend r_v2
frontend v1
  bind 127.0.0.1:%(fv1)d
  default_backend r_v1
frontend tls
  bind 127.0.0.1:%(ftls)d
  default_backend r_tls
backend r_v2
  server r 127.0.0.1:%(port)d send-proxy-v2
backend r_v1
  server r 127.0.0.1:%(port)d send-proxy
backend r_tls
  server r 127.0.0.1:%(tls)d send-proxy-v2
""" % dict(fv2=fv2, fv1=fv1, ftls=ftls, port=srv.port, tls=tls_port))
    hap = subprocess.Popen([HAPROXY, "-f", cfg, "-db"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    keep, procs = [], []
    try:
        deadline = time.monotonic() + 10 * iwtest.SLOW
        while not all(listening(p) for p in (fv2, fv1, ftls)):
            assert time.monotonic() < deadline, "haproxy did not listen"
            time.sleep(0.05)

        for name, port, tls in (("v2 over TCP", fv2, False), ("v1 over TCP", fv1, False),
                                ("v2 over TLS", ftls, True)):
            mapped, local = binding(port, "127.0.0.2", tls=tls)
            c.check(mapped == tuple(local), "%s: XOR-MAPPED-ADDRESS is the client's own" % name,
                    "%s vs %s" % (mapped, local))

        # max-tcp-per-ip 4 counts the client behind the proxy
        for _ in range(4):
            keep.append(held(fv2, "127.0.0.2"))
        c.check(all(keep), "four connections from 127.0.0.2 through haproxy are served")
        third = held(fv2, "127.0.0.2")
        c.check(third is None, "a fifth from 127.0.0.2 is closed (max-tcp-per-ip 4)")
        other = held(fv2, "127.0.0.3")
        c.check(other is not None, "127.0.0.3 is still served: the limit counts clients, "
                "not haproxy")
        for s in keep + [third, other]:
            if s:
                s.close()
        keep = []

        # straight to the relay
        mapped, local = binding(srv.port, "127.0.0.3")
        c.check(mapped == tuple(local), "an untrusted source without a header is served as itself")
        mapped, _ = binding(srv.port, "127.0.0.3", prefix=b"PROXY TCP4 9.9.9.9 127.0.0.1 1 2\r\n")
        c.check(mapped is None, "an untrusted source's PROXY header closes the connection")
        mapped, _ = binding(tls_port, "127.0.0.3", tls=True,
                            prefix=b"PROXY TCP4 9.9.9.9 127.0.0.1 1 2\r\n")
        c.check(mapped is None, "... also on the TLS listener")
        mapped, _ = binding(srv.port, "127.0.0.1")
        c.check(mapped is None, "a trusted source without a header is closed")

        peer = iwtest.start_echo_peer("127.0.0.1", procs)
        # uclient runs from 127.0.0.1: two clients (four connections), within max-tcp-per-ip
        base = ["-m", "2", "-n", "300", "-l", "120", "-e", "127.0.0.1", "-r", str(peer),
                "-u", iwtest.USER, "-w", iwtest.PASSWORD]
        iwtest.uclient_clean_run(c, srv, fv2, "uclient through haproxy, TCP", ["-t"] + base, 600)
        iwtest.uclient_clean_run(c, srv, ftls, "uclient through haproxy, TLS", ["-t", "-S"] + base, 600)

        def val(result, tr):
            return iwtest.metric(mport, M, result=result, transport=tr) or 0
        c.check(val("header", "tcp") >= 5 and val("header", "tls") >= 2,
                "PROXY headers counted by transport",
                "tcp %s tls %s" % (val("header", "tcp"), val("header", "tls")))
        c.check(val("untrusted_header", "tcp") == 1 and val("untrusted_header", "tls") == 1,
                "untrusted headers counted")
        c.check(val("missing_header", "tcp") == 1, "a missing header counted")
    finally:
        for s in keep:
            if s:
                s.close()
        hap.kill()
        hap.wait()
        iwtest.stop_procs(procs)


iwtest.run("test_relay_proxy", body)
