"""iceway-signal with --tls-cert/--tls-key: one listener serves https:// and wss://. A throwaway
self-signed certificate (openssl CLI) is trusted by the clients: two peers join over wss and
exchange an offer, /healthz and a static file answer over https (two requests on one
connection), a browser's ALPN offer (h2, http/1.1) gets http/1.1, a plain-HTTP client gets no answer, and a client that does not trust the
certificate is refused by its own TLS layer. Mismatched options are refused at start."""
import asyncio
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile

import sigtest
from sigtest import Peer, Server


def make_cert(d):
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def https_keepalive(port, ctx, paths):
    """Several HTTP/1.1 requests on one TLS connection; returns [(status, body)]."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=sigtest.TIMEOUT)
    s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    s.settimeout(2.0)  # a functional bound: the keep-alive idle timeout is 5 s
    buf, out = b"", []
    try:
        for p in paths:
            s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % p).encode())
            while b"\r\n\r\n" not in buf:
                buf += s.recv(65536) or b""
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            n = 0
            for l in lines[1:]:
                k, _, v = l.partition(":")
                if k.strip().lower() == "content-length":
                    n = int(v)
            while len(buf) < n:
                chunk = s.recv(65536)
                assert chunk, "connection closed mid-body"
                buf += chunk
            out.append((int(lines[0].split()[1]), buf[:n]))
            buf = buf[n:]
    finally:
        s.close()
    return out


async def wss_scenario(srv, ctx):
    assert srv.url.startswith("wss://"), srv.url
    a = await Peer.connect(srv.url, ssl=ctx)
    b = await Peer.connect(srv.url, ssl=ctx)
    await a.join("tls", peer="a")
    await b.join("tls", peer="b")
    assert (await a.expect("peer-joined"))["peer"] == "b"
    await a.send({"type": "offer", "to": "b", "sdp": "v=0\r\n"})
    m = await b.expect("offer")
    assert m["from"] == "a" and m["sdp"] == "v=0\r\n", m
    await b.close()
    assert (await a.expect("peer-left"))["peer"] == "b"
    await a.close()

    # A client that does not trust the certificate never gets to the WebSocket handshake.
    strict = ssl.create_default_context()
    try:
        await Peer.connect(srv.url, ssl=strict)
    except ssl.SSLCertVerificationError:
        pass
    else:
        raise AssertionError("an untrusted certificate was accepted")


def main():
    if not shutil.which("openssl"):
        raise SystemExit("FAIL: openssl CLI not installed")
    d = tempfile.mkdtemp(prefix="iw-tls-")
    try:
        cert, key = make_cert(d)
        ctx = ssl.create_default_context(cafile=cert)
        with Server("--tls-cert", cert, "--tls-key", key, ssl_ctx=ctx) as srv:
            assert srv.http.startswith("https://"), srv.http
            assert srv.get("/healthz") == (200, "ok\n")
            with open(os.path.join(sigtest.SRC, "web", "iceway.js"), "rb") as f:
                js = f.read()
            res = https_keepalive(srv.port, ctx, ["/iceway.js", "/healthz", "/iceway.js"])
            assert res == [(200, js), (200, b"ok\n"), (200, js)], [r[0] for r in res]

            # A browser offers h2 first. The listener picks HTTP/1.1: WebSocket over HTTP/2
            # (RFC 8441) is not served, and Chromium, having loaded the page over h2, tried its
            # WebSocket there first and waited 5 s before opening one over HTTP/1.1.
            bctx = ssl.create_default_context(cafile=cert)
            bctx.set_alpn_protocols(["h2", "http/1.1"])
            with socket.create_connection(("127.0.0.1", srv.port), timeout=sigtest.TIMEOUT) as raw:
                with bctx.wrap_socket(raw, server_hostname="localhost") as s:
                    alpn = s.selected_alpn_protocol()
            assert alpn == "http/1.1", alpn

            # Plain HTTP on the TLS listener gets no HTTP answer.
            c = socket.create_connection(("127.0.0.1", srv.port), timeout=sigtest.TIMEOUT)
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                got = c.recv(100)
            except (ConnectionResetError, socket.timeout):
                got = b""
            c.close()
            assert not got.startswith(b"HTTP/1.1 200"), got

            asyncio.run(asyncio.wait_for(wss_scenario(srv, ctx), 60))

        # cert without pkey (and an unreadable file) are refused with exit code 2, naming the
        # option; the old spellings tls-cert and tls-key behave the same.
        for args in (["--cert", cert], ["--pkey", key], ["--tls-cert", cert], ["--tls-key", key],
                     ["--cert", os.path.join(d, "missing.pem"), "--pkey", key],
                     ["--tls-cert", os.path.join(d, "missing.pem"), "--tls-key", key]):
            r = subprocess.run([sigtest.SIGNAL, "--listen", "127.0.0.1:0"] + args,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
            assert r.returncode == 2, (args, r.returncode, r.stdout)
            assert re.search(rb"option '(--)?(tls-)?(cert|pkey|key)'", r.stdout), r.stdout
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print("PASS")


if __name__ == "__main__":
    main()
