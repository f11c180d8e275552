"""RFC 5780 NAT behaviour discovery over UDP, against coturn in the same test.

iceway-relay and coturn's turnserver each start on 127.0.0.1 and 127.0.0.2 with an
alt-listening-port (coturn's rule: two listening addresses of one family turn RFC 5780 on).
- coturn's own client, `turnutils_natdiscovery -m -f -c -H` (mapping, filtering, collision
  with a second local address, hairpinning), prints the same classification against both, and
  the same lines once ports are set aside;
- on the wire, against both: a Binding answer names RESPONSE-ORIGIN (where it leaves from) and
  OTHER-ADDRESS (the other address at the other port); with CHANGE-REQUEST (change IP, change
  port, both) the answer arrives from that address and port, and says so;
- iceway only: RESPONSE-PORT and, with no-rfc5780, a single listening address or over TCP,
  CHANGE-REQUEST get 420 naming them; a flood of CHANGE-REQUESTs from one source stays within
  the unauthenticated answer budget (unauth-answer-rate), whichever address answers; the
  metric iceway_relay_rfc5780_changed_total counts the answers sent from another address.
"""

import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402
import ports  # noqa: E402

HOSTS = ("127.0.0.1", "127.0.0.2")
ATTR_CHANGE_REQUEST = 0x0003
ATTR_RESPONSE_PORT = 0x0027
ATTR_RESPONSE_ORIGIN = 0x802B
ATTR_OTHER_ADDRESS = 0x802C
CHANGE_IP, CHANGE_PORT = 0x4, 0x2
FLOOD = 3000
RATE = 50  # unauth-answer-rate of the flooded relay: a burst of 100


def plain_addr(v):
    """A MAPPED-ADDRESS style value (RFC 5780 §7.3, §7.4: not XORed) as (ip, port)."""
    if v is None or len(v) < 8:
        return None
    fam, port = v[1], struct.unpack("!H", v[2:4])[0]
    if fam == t.FAMILY_V4 and len(v) == 8:
        return socket.inet_ntop(socket.AF_INET, v[4:8]), port
    if fam == t.FAMILY_V6 and len(v) == 20:
        return socket.inet_ntop(socket.AF_INET6, v[4:20]), port
    return None


def start(kind, extra=()):
    """A server of kind on HOSTS with an alternate port; returns (server, alt port)."""
    alt = ports.reserve(1, ("udp", "tcp"), HOSTS)
    srv = t.Server(auth="none", listen=HOSTS, relay=("127.0.0.1",), kind=kind, nports=20,
                   extra=["--alt-listening-port", str(alt)] + list(extra))
    # iwtest turns coturn's RFC 5780 off for every other test; this one needs it.
    if kind == "coturn":
        srv.args = [a for a in srv.args if a != "--no-rfc5780"]
    return srv.start(), alt


def ask(srv, flags=None, extra=(), local="127.0.0.1"):
    """One Binding from a fresh socket; (Msg, source address) or (None, None)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    t._open_sockets.append(s)
    s.bind((local, 0))
    attrs = list(extra)
    if flags is not None:
        attrs.append((ATTR_CHANGE_REQUEST, struct.pack("!I", flags)))
    for _ in range(3):
        tid = os.urandom(12)
        s.sendto(t.encode(t.METHOD_BINDING, t.CLASS_REQUEST, attrs, tid=tid, fingerprint=False),
                 (srv.host, srv.port))
        s.settimeout(1.0 * t.SLOW)
        try:
            while True:
                d, src = s.recvfrom(4096)
                m = t.Msg(d)
                if m.tid == tid:
                    s.close()
                    return m, src
        except (socket.timeout, ValueError):
            continue
    s.close()
    return None, None


def wire_checks(c, kind, srv, alt):
    p = srv.port
    m, src = ask(srv)
    ok = m is not None and m.cls == t.CLASS_SUCCESS
    c.check(ok, "%s: Binding answered" % kind, repr(m))
    if not ok:
        return
    c.check(plain_addr(m.get(ATTR_RESPONSE_ORIGIN)) == ("127.0.0.1", p),
            "%s: RESPONSE-ORIGIN is 127.0.0.1:%d" % (kind, p),
            repr(plain_addr(m.get(ATTR_RESPONSE_ORIGIN))))
    c.check(plain_addr(m.get(ATTR_OTHER_ADDRESS)) == ("127.0.0.2", alt),
            "%s: OTHER-ADDRESS is 127.0.0.2:%d" % (kind, alt),
            repr(plain_addr(m.get(ATTR_OTHER_ADDRESS))))
    want = {0: ("127.0.0.1", p), CHANGE_PORT: ("127.0.0.1", alt), CHANGE_IP: ("127.0.0.2", p),
            CHANGE_IP | CHANGE_PORT: ("127.0.0.2", alt)}
    for flags, where in sorted(want.items()):
        m, src = ask(srv, flags)
        what = "%s: CHANGE-REQUEST 0x%x answered from %s:%d" % ((kind, flags) + where)
        c.check(m is not None and m.cls == t.CLASS_SUCCESS and tuple(src) == where, what,
                "%r from %r" % (m, src))
        if m is not None:
            c.check(plain_addr(m.get(ATTR_RESPONSE_ORIGIN)) == where,
                    "%s: its RESPONSE-ORIGIN says so" % kind,
                    repr(plain_addr(m.get(ATTR_RESPONSE_ORIGIN))))
            c.check(m.xor_addr(t.ATTR_XOR_MAPPED_ADDRESS)[0] == "127.0.0.1",
                    "%s: XOR-MAPPED-ADDRESS is the client's" % kind)
            c.check(plain_addr(m.get(ATTR_OTHER_ADDRESS)) == ("127.0.0.2", alt),
                    "%s: OTHER-ADDRESS stays 127.0.0.2:%d" % (kind, alt))


def second_address(c, kind, srv, alt):
    """Requests to the second address. coturn treats it as its own alternate (a change of IP
    is answered from the same IP, OTHER-ADDRESS names that IP): printed, not asserted. iceway
    pairs both ways, as RFC 5780 §7.4 reads: OTHER-ADDRESS is where a change of IP and port
    would answer from."""
    p = srv.port
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    t._open_sockets.append(s)
    s.bind(("127.0.0.1", 0))
    s.settimeout(2.0 * t.SLOW)
    got = []
    for dst, flags in ((("127.0.0.2", p), CHANGE_IP), (("127.0.0.2", alt), 0)):
        tid = os.urandom(12)
        s.sendto(t.encode(t.METHOD_BINDING, t.CLASS_REQUEST,
                          [(ATTR_CHANGE_REQUEST, struct.pack("!I", flags))], tid=tid,
                          fingerprint=False), dst)
        try:
            d, src = s.recvfrom(4096)
            m = t.Msg(d)
            got.append((tuple(src), plain_addr(m.get(ATTR_OTHER_ADDRESS))))
        except (socket.timeout, ValueError):
            got.append((None, None))
    print("  %s, requests to the second address: (answered from, OTHER-ADDRESS) %r" % (kind, got))
    if kind == "coturn":
        return
    c.check(got[0] == (("127.0.0.1", p), ("127.0.0.1", alt)),
            "iceway: a change of IP at 127.0.0.2:%d is answered from 127.0.0.1, OTHER-ADDRESS "
            "127.0.0.1:%d" % (p, alt), repr(got[0]))
    c.check(got[1] == (("127.0.0.2", alt), ("127.0.0.1", p)),
            "iceway: the alternate listener 127.0.0.2:%d names 127.0.0.1:%d" % (alt, p),
            repr(got[1]))


def natdiscovery(srv):
    """coturn's client against srv: (exit status, output lines)."""
    r = subprocess.run(["turnutils_natdiscovery", "-m", "-f", "-c", "-H", "-p", str(srv.port),
                        "-L", "127.0.0.1", "-A", "127.0.0.3", srv.host],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60 * t.SLOW)
    return r.returncode, r.stdout.decode("utf-8", "replace").splitlines()


def classification(lines):
    """The verdict lines: section titles, NAT types, hairpinning."""
    return [ln.strip() for ln in lines
            if ln.startswith("-=") or "NAT" in ln or "hairpinning" in ln]


def normalized(lines, srv, alt):
    """Every line, with the server's ports named and the client's left out."""
    out = []
    for ln in lines:
        ln = ln.replace(":%d" % srv.port, ":PORT").replace(":%d" % alt, ":ALT")
        out.append(re.sub(r"(addr: :? ?127\.0\.0\.\d+):\d+", r"\1:CLIENT", ln.strip()))
    return [ln for ln in out if ln]


def flood(srv):
    """FLOOD CHANGE-REQUESTs (change IP and port) from one source, paced, answers drained as
    they come. Returns (answers, seconds, answer sources)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    t._open_sockets.append(s)
    s.bind(("127.0.0.77", 0))
    s.setblocking(False)
    req = t.encode(t.METHOD_BINDING, t.CLASS_REQUEST,
                   [(ATTR_CHANGE_REQUEST, struct.pack("!I", CHANGE_IP | CHANGE_PORT))],
                   fingerprint=False)
    answers, sources = 0, set()

    def drain():
        nonlocal answers
        try:
            while True:
                _, src = s.recvfrom(4096)
                answers += 1
                sources.add(src)
        except BlockingIOError:
            pass

    t0 = time.monotonic()
    for i in range(FLOOD):
        try:
            s.sendto(req, (srv.host, srv.port))
        except BlockingIOError:
            pass
        if i % 64 == 63:
            drain()
            ahead = t0 + (i + 1) / 10_000 - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    dt = time.monotonic() - t0
    end = time.monotonic() + 0.5 * t.SLOW
    while time.monotonic() < end:
        drain()
        time.sleep(0.01)
    return answers, dt, sources


def body(c):
    if t.is_coturn():
        c.skip("RFC 5780 against coturn alone", "this test runs coturn beside iceway itself")
        return
    if not shutil.which("turnserver") or not shutil.which("turnutils_natdiscovery"):
        c.skip("RFC 5780", "coturn is not installed")
        return
    mport = t.free_tcp_port()
    ice, ice_alt = start("iceway", ["--prometheus", "--prometheus-port", str(mport)])
    cot, cot_alt = start("coturn")

    for kind, srv, alt in (("coturn", cot, cot_alt), ("iceway", ice, ice_alt)):
        wire_checks(c, kind, srv, alt)
        second_address(c, kind, srv, alt)

    rc_c, out_c = natdiscovery(cot)
    rc_i, out_i = natdiscovery(ice)
    cls_c, cls_i = classification(out_c), classification(out_i)
    print("  natdiscovery against coturn:")
    for ln in cls_c:
        print("    " + ln)
    c.check(rc_c == 0 and rc_i == 0, "turnutils_natdiscovery exits 0 against both",
            "coturn %d, iceway %d" % (rc_c, rc_i))
    c.check(any("Endpoint Independent" in ln for ln in cls_c),
            "coturn is classified (the run is meaningful)", "\n".join(out_c[-20:]))
    c.check(cls_i == cls_c, "turnutils_natdiscovery -m -f -c -H: the same classification",
            "coturn %r, iceway %r" % (cls_c, cls_i))
    # OTHER-ADDRESS of the second address differs on purpose (second_address above).
    n_c, n_i = normalized(out_c, cot, cot_alt), normalized(out_i, ice, ice_alt)
    n_c = [ln for ln in n_c if "Other addr" not in ln]
    n_i = [ln for ln in n_i if "Other addr" not in ln]
    diff = [(a, b) for a, b in zip(n_c, n_i) if a != b]
    c.check(n_c == n_i, "turnutils_natdiscovery: the same lines, ports and OTHER-ADDRESS aside",
            "%d vs %d lines; first differences %r" % (len(n_c), len(n_i), diff[:4]))

    # iceway: what it leaves out answers 420 naming it.
    m, _ = ask(ice, extra=[(ATTR_RESPONSE_PORT, struct.pack("!HH", 3478, 0))])
    c.check(m is not None and m.code == 420 and m.unknown_attributes() == [ATTR_RESPONSE_PORT],
            "iceway: RESPONSE-PORT -> 420 naming it", repr(m))
    # Over TCP there is no alternate address (UDP only, as in coturn).
    sc = t.StreamClient(ice.host, ice.port)
    m = sc.request(t.METHOD_BINDING, [(ATTR_CHANGE_REQUEST, struct.pack("!I", CHANGE_IP))])
    c.check(m is not None and m.code == 420 and m.unknown_attributes() == [ATTR_CHANGE_REQUEST],
            "iceway over TCP: CHANGE-REQUEST -> 420 naming it", repr(m))
    m = sc.request(t.METHOD_BINDING, [])
    c.check(m is not None and m.cls == t.CLASS_SUCCESS and not m.has(ATTR_OTHER_ADDRESS),
            "iceway over TCP: a Binding answer without OTHER-ADDRESS", repr(m))
    sc.s.close()
    off, _ = start("iceway", ["--no-rfc5780"])
    one = t.Server(auth="none", listen=("127.0.0.1",), nports=20).start()
    for what, srv in (("no-rfc5780", off), ("one listening address", one)):
        m, src = ask(srv, CHANGE_PORT)
        c.check(m is not None and m.code == 420 and
                m.unknown_attributes() == [ATTR_CHANGE_REQUEST],
                "iceway, %s: CHANGE-REQUEST -> 420 naming it" % what, repr(m))
        m, src = ask(srv)
        c.check(m is not None and m.cls == t.CLASS_SUCCESS and not m.has(ATTR_OTHER_ADDRESS) and
                not m.has(ATTR_RESPONSE_ORIGIN),
                "iceway, %s: a Binding answer without OTHER-ADDRESS" % what, repr(m))
    c.check(off.alive() and one.alive(), "those relays stay up")

    changed = t.metric(mport, "iceway_relay_rfc5780_changed_total")
    c.check(changed is not None and changed >= 3,
            "iceway_relay_rfc5780_changed_total counts the changed answers", repr(changed))

    # The budget: a flood of CHANGE-REQUESTs from one (spoofable) source.
    low, low_alt = start("iceway", ["--unauth-answer-rate", str(RATE)])
    answers, dt, sources = flood(low)
    limit = int((2 * RATE + RATE * dt) * 1.1) + 1
    print("  flood: %d CHANGE-REQUESTs in %.2f s -> %d answers from %s; budget %d"
          % (FLOOD, dt, answers, sorted(sources), limit))
    c.check(0 < answers <= limit, "a flood of CHANGE-REQUESTs gets at most %d answers" % limit,
            "got %d" % answers)
    c.check(sources == {("127.0.0.2", low_alt)}, "every one from the changed address",
            repr(sources))

    for srv in (ice, cot, off, one, low):
        c.check(srv.alive(), "%s on %d still runs" % (srv.kind, srv.port))
    if t.SANITIZED:
        for srv in (ice, off, one, low):
            c.check(not srv.sanitizer_report(), "no sanitizer report in %s" % srv.log_path)


t.run("test_relay_rfc5780", body)
