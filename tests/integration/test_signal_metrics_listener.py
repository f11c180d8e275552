"""/metrics is served only on its own listener (prometheus-address:prometheus-port, loopback by
default), never on a public one: room, peer and error counts are the operator's. The public
listener answers 404 for /metrics in every spelling, the metrics listener serves nothing else
and takes no WebSocket; without --prometheus there is no metrics listener at all."""
import http.client
import socket

import sigtest  # first: it picks the interpreter that has python3-websockets
from sigtest import RawWS, Server

PATHS = ["/metrics", "/metrics?x=1", "/metrics/", "/metrics/x", "//metrics", "/./metrics",
         "/METRICS", "/%6detrics"]


def status(port, path, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=sigtest.TIMEOUT)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        c.close()


def public_has_no_metrics(srv):
    for path in PATHS:
        for method in ("GET", "HEAD"):
            st, body = status(srv.port, path, method)
            # (lws answers HEAD for a missing static file with 400)
            assert st == 404 or (method == "HEAD" and 400 <= st < 500), (path, method, st)
            assert "iceway_signal_" not in body, (path, method, body[:200])


def main():
    with Server(metrics=False) as srv:
        public_has_no_metrics(srv)
        assert "metrics on" not in srv.text()
        print("ok   without --prometheus: no metrics listener, public /metrics 404")
    with Server() as srv:
        public_has_no_metrics(srv)
        assert srv.metrics_port and srv.metrics_port != srv.port
        st, body = srv.metrics_get()
        assert st == 200 and "iceway_signal_connections " in body, (st, body[:200])
        # the metrics listener serves /metrics only: no page, no API, no WebSocket
        for path in ("/", "/healthz", "/api/turn?service=turn", "/iceway.js"):
            assert srv.metrics_get(path)[0] == 404, path
        # like the dynamic endpoints: HEAD without a body, OPTIONS 204, other methods 405
        assert status(srv.metrics_port, "/metrics", "HEAD") == (200, "")
        assert status(srv.metrics_port, "/metrics", "OPTIONS")[0] == 204
        assert status(srv.metrics_port, "/metrics", "POST")[0] == 405
        ws = RawWS(srv.metrics_port)
        assert not ws.accepted, "the metrics listener took a WebSocket"
        ws.close()
        assert srv.get("/healthz")[0] == 200
        print("ok   /metrics: 404 on the public listener, 200 on 127.0.0.1:%d"
              % srv.metrics_port)
    # an IPv6 metrics address; a bad one is refused when the option is read
    with Server("--prometheus", "--prometheus-port",
                str(sigtest.ports.reserve(1, ("tcp",), ("::1",))), "--prometheus-address", "::1",
                metrics=False) as srv:
        assert "metrics on http://[::1]:" in srv.text(), srv.text()[-2000:]
    try:
        Server("--prometheus-address", "metrics.example", metrics=False)
        raise AssertionError("a host name was taken as prometheus-address")
    except SystemExit as e:
        assert "prometheus-address" in str(e), e
    print("PASS")


if __name__ == "__main__":
    main()
