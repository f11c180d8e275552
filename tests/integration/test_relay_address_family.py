"""coturn's allocation-default-address-family and keep-address-family (RFC 8656 §7.2): the
relayed family of an Allocate that names none. The relay listens and relays on 127.0.0.1
and ::1; clients come over each. ipv4 (the default, RFC 8656's): IPv4 for both. ipv6: IPv6
for both. keep (and coturn's older keep-address-family): the client's own family. With any
default, REQUESTED-ADDRESS-FAMILY still wins and ADDITIONAL-ADDRESS-FAMILY still gets IPv4
first and IPv6 second. A value other than ipv4, ipv6 or keep is refused by name."""
import os
import socket
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402

ATTR_ADDITIONAL_ADDRESS_FAMILY = 0x8000


def relayed_family(srv, over, family=None, extra=()):
    cl = t.Client(over, srv.port)
    try:
        m = cl.allocate(family=family, extra=extra)
        if m is None or m.cls != t.CLASS_SUCCESS:
            return "error %r" % (m and m.code)
        fams = ["IPv6" if ":" in ip else "IPv4" for ip, _ in
                [t.decode_xor_addr(v, m.tid) for k, v in m.attrs if k == t.ATTR_XOR_RELAYED_ADDRESS]]
        return "+".join(fams)
    finally:
        cl.close()


def body(c):
    if t.is_coturn():
        c.skip("address family", "checks iceway-relay's options")
        return
    cases = (([], "IPv4", "IPv4", "default (ipv4)"),
             (["--allocation-default-address-family", "ipv6"], "IPv6", "IPv6", "ipv6"),
             (["--allocation-default-address-family", "keep"], "IPv4", "IPv6", "keep"),
             (["--keep-address-family"], "IPv4", "IPv6", "keep-address-family"))
    for extra, v4, v6, label in cases:
        srv = t.Server(listen=("127.0.0.1", "::1"), extra=extra).start()
        got4, got6 = relayed_family(srv, "127.0.0.1"), relayed_family(srv, "::1")
        c.check(got4 == v4, "%s: a client over IPv4 gets %s" % (label, v4), got4)
        c.check(got6 == v6, "%s: a client over IPv6 gets %s" % (label, v6), got6)
        if label != "default (ipv4)":
            got = relayed_family(srv, "::1", family=t.FAMILY_V4)
            c.check(got == "IPv4", "%s: REQUESTED-ADDRESS-FAMILY IPv4 still wins" % label, got)
            got = relayed_family(srv, "127.0.0.1", family=t.FAMILY_V6)
            c.check(got == "IPv6", "%s: REQUESTED-ADDRESS-FAMILY IPv6 still wins" % label, got)
            got = relayed_family(srv, "::1", extra=[(ATTR_ADDITIONAL_ADDRESS_FAMILY,
                                                      struct.pack("!B3x", t.FAMILY_V6))])
            c.check(got == "IPv4+IPv6", "%s: ADDITIONAL-ADDRESS-FAMILY: IPv4, then IPv6" % label, got)
        srv.stop()

    srv = t.Server(extra=["--allocation-default-address-family", "ipv5"]).start(wait=False)
    try:
        srv.proc.wait(timeout=10 * t.SLOW)
    except subprocess.TimeoutExpired:
        pass
    code = srv.proc.poll()
    srv.stop()
    c.check(code not in (None, 0) and "allocation-default-address-family" in srv.log_text(),
            "allocation-default-address-family ipv5: refused by name", srv.log_text()[-300:])


t.run("test_relay_address_family", body)
