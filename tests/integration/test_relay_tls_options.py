"""coturn's TLS options on the relay's TLS listener, checked with openssl s_client.

cipher-list is an OpenSSL cipher string: the suites it names are offered and no others
(ECDHE-RSA-AES256-GCM-SHA384 alone: a client offering only ECDHE-RSA-AES128-GCM-SHA256 is
refused); keywords (HIGH:!SHA1:!DHE) select and remove; a name mbedTLS lacks (TLS 1.3's) is
skipped with a warning, and a list that leaves nothing stops the relay with a reason.
ec-curve-name (OpenSSL's prime256v1 or secp384r1) is the one ECDHE curve; dh-file's group is
the one DHE uses (3072 bits here); dh566 is warned about and DHE keeps its 2048 bits.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402


def s_client(port, cipher, curves=None):
    """(handshake done, openssl's output) for one TLS 1.2 handshake offering cipher."""
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_2", "-brief",
           "-cipher", cipher]
    if curves:
        cmd += ["-curves", curves]
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=10 * t.SLOW)
    except subprocess.TimeoutExpired:
        return False, "timeout"
    out = p.stdout.decode(errors="replace")
    return "CONNECTION ESTABLISHED" in out and p.returncode == 0, out


def tls_server(cert, key, extra):
    port = t.free_tcp_port()
    srv = t.Server(extra=["--tls-listening-port", str(port), "--cert", cert, "--pkey", key] + extra)
    srv.start()
    return srv, port


def refused_at_start(cert, key, extra):
    port = t.free_tcp_port()
    srv = t.Server(extra=["--tls-listening-port", str(port), "--cert", cert, "--pkey", key] + extra)
    srv.start(wait=False)
    try:
        srv.proc.wait(timeout=10 * t.SLOW)
    except subprocess.TimeoutExpired:
        pass
    code = srv.proc.poll()
    srv.stop()
    return code not in (None, 0), srv.log_text()


def body(c):
    if t.is_coturn():
        c.skip("TLS options", "checks iceway-relay's mapping onto mbedTLS")
        return
    d = t.tmpdir("iwtest-tlsopt-")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    t.make_cert(cert, key)

    srv, port = tls_server(cert, key, ["--cipher-list",
                                       "ECDHE-RSA-AES256-GCM-SHA384:TLS_AES_128_GCM_SHA256",
                                       "--ec-curve-name", "secp384r1"])
    ok, out = s_client(port, "ECDHE-RSA-AES256-GCM-SHA384")
    c.check(ok and "Ciphersuite: ECDHE-RSA-AES256-GCM-SHA384" in out,
            "cipher-list ECDHE-RSA-AES256-GCM-SHA384: that suite is served", out[-400:])
    c.check(re.search(r"Server Temp Key: ECDH, (secp384r1|P-384), 384 bits", out) is not None,
            "ec-curve-name secp384r1: the ECDHE key is on P-384", out[-400:])
    ok, out = s_client(port, "ECDHE-RSA-AES128-GCM-SHA256")
    c.check(not ok, "cipher-list: a client offering only ECDHE-RSA-AES128-GCM-SHA256 is refused",
            out[-300:])
    ok, out = s_client(port, "ECDHE-RSA-AES256-GCM-SHA384", curves="prime256v1")
    c.check(not ok, "ec-curve-name secp384r1: a client with P-256 only gets no ECDHE", out[-300:])
    c.check("cipher-list: TLS_AES_128_GCM_SHA256 is no TLS 1.2 suite" in srv.log_text(),
            "cipher-list: a TLS 1.3 name is skipped with a warning", srv.log_text()[-300:])
    srv.stop()

    srv, port = tls_server(cert, key, ["--cipher-list", "HIGH:!aNULL:!SHA1:!DHE:@STRENGTH",
                                       "--ec-curve-name", "prime256v1"])
    ok, out = s_client(port, "ECDHE-RSA-AES128-GCM-SHA256")
    c.check(ok and re.search(r"Server Temp Key: ECDH, (prime256v1|P-256)", out) is not None,
            "HIGH:!SHA1:!DHE: ECDHE-RSA-AES128-GCM-SHA256 served, on prime256v1", out[-400:])
    ok, out = s_client(port, "ECDHE-RSA-AES128-SHA")
    c.check(not ok, "HIGH:!SHA1: a SHA-1 suite is refused", out[-300:])
    ok, out = s_client(port, "DHE-RSA-AES128-GCM-SHA256")
    c.check(not ok, "HIGH:!DHE: a DHE suite is refused", out[-300:])
    c.check("skipped" not in srv.log_text(), "keywords mbedTLS has nothing for (aNULL) raise no warning",
            srv.log_text()[-300:])
    srv.stop()

    dh = os.path.join(d, "dh3072.pem")
    with open(dh, "wb") as f:
        f.write(subprocess.run(["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt",
                                "dh_param:ffdhe3072"], check=True, stdout=subprocess.PIPE).stdout)
    srv, port = tls_server(cert, key, ["--cipher-list", "DHE-RSA-AES128-GCM-SHA256", "--dh-file", dh])
    ok, out = s_client(port, "DHE-RSA-AES128-GCM-SHA256")
    c.check(ok and "Server Temp Key: DH, 3072 bits" in out, "dh-file: DHE uses its 3072-bit group",
            out[-400:])
    srv.stop()
    srv, port = tls_server(cert, key, ["--cipher-list", "DHE-RSA-AES128-GCM-SHA256", "--dh566"])
    ok, out = s_client(port, "DHE-RSA-AES128-GCM-SHA256")
    c.check(ok and "Server Temp Key: DH, 2048 bits" in out, "dh566: DHE keeps 2048 bits", out[-400:])
    c.check(re.search(r"option 'dh566' is not supported by iceway and is ignored: .*breakable",
                      srv.log_text()) is not None, "dh566: warned, saying why", srv.log_text()[-300:])
    srv.stop()

    for extra, why in ((["--cipher-list", "FOO-BAR:TLS_AES_256_GCM_SHA384"], "leaves no TLS 1.2 suite"),
                       (["--cipher-list", "!ALL"], "leaves no TLS 1.2 suite"),
                       (["--ec-curve-name", "curve9"], "ec-curve-name: not a curve")):
        refused, log = refused_at_start(cert, key, extra)
        c.check(refused and why in log, "%s: refused at start, saying %r" % (" ".join(extra), why),
                log[-300:])


t.run("test_relay_tls_options", body)
