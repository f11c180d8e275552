"""ALPN on the relay's TLS listener (RFC 7443), so a proxy in front can route by it: a client
offering stun.turn (or stun.nat-discovery) gets it, one offering nothing (browsers) is served
as before, one offering only other protocols (h2, http/1.1) is refused in the handshake. Each
accepted connection answers a STUN Binding with the client's own address."""

import os
import socket
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest  # noqa: E402


def tls(port, alpn):
    raw = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=("127.0.0.2", 0))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx.wrap_socket(raw)


def binding(s):
    tid = os.urandom(12)
    s.sendall(iwtest.encode(iwtest.METHOD_BINDING, iwtest.CLASS_REQUEST, tid=tid))
    d = iwtest.recv_frame(s, 5 * iwtest.SLOW, bytearray())
    return iwtest.Msg(d).xor_addr(iwtest.ATTR_XOR_MAPPED_ADDRESS) if d else None


def body(c):
    if iwtest.is_coturn():
        c.skip("ALPN", "runs against iceway-relay's TLS listener only")
        return
    d = iwtest.tmpdir("iwtest-alpn-")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    iwtest.make_cert(cert, key)
    tls_port = iwtest.free_tcp_port()
    iwtest.Server(extra=["--tls-listening-port", str(tls_port), "--cert", cert,
                         "--pkey", key]).start()
    for offer, want in ((["stun.turn"], "stun.turn"), (["h2", "stun.turn"], "stun.turn"),
                        (["stun.nat-discovery"], "stun.nat-discovery"), (None, None)):
        s = tls(tls_port, offer)
        got = s.selected_alpn_protocol()
        mapped = binding(s)
        s.close()
        c.check(got == want, "offer %r: ALPN %r" % (offer, want), "got %r" % got)
        c.check(mapped is not None and mapped[0] == "127.0.0.2",
                "offer %r: Binding answered with the client's address" % offer, repr(mapped))
    for offer in (["h2"], ["http/1.1", "h2"]):
        try:
            s = tls(tls_port, offer)
            refused = binding(s) is None
            s.close()
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            refused = True
        c.check(refused, "offer %r only: refused in the handshake" % offer)


iwtest.run("test_relay_tls_alpn", body)
