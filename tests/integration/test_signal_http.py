"""HTTP/1.1 keep-alive on iceway-signal: several requests on one TCP connection, mixing the
static tree (/, /iceway.js, /style.css) and the dynamic endpoints (/healthz; /metrics is not
served here, it has a listener of its own), each answered in full without waiting for the
keep-alive idle timeout."""
import os
import socket

import sigtest
from sigtest import Server

# A functional bound, not a benchmark: lws drops an idle keep-alive connection after 5 s, so a
# response that needs the idle timer to fire never arrives within 2 s.
READ_TIMEOUT = 2.0


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT)
        self.buf = b""

    def _fill(self):
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise AssertionError("no complete response within %.0f s on a reused connection"
                                 % READ_TIMEOUT)
        if not data:
            raise AssertionError("server closed a keep-alive connection")
        self.buf += data

    def request(self, path):
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode())
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        assert "content-length" in hdrs, "no content-length for %s: %r" % (path, hdrs)
        n = int(hdrs["content-length"])
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, hdrs, body

    def close(self):
        self.sock.close()


def read(path):
    with open(os.path.join(sigtest.SRC, "web", path.lstrip("/") or "index.html"), "rb") as f:
        return f.read()


def main():
    with Server() as srv:
        seqs = [
            ["/", "/healthz"],
            ["/iceway.js", "/style.css", "/", "/metrics", "/iceway.js"],
            ["/healthz", "/style.css", "/healthz", "/nope.txt", "/healthz"],
        ]
        for seq in seqs:
            c = Conn(srv.port)
            try:
                for path in seq:
                    status, hdrs, body = c.request(path)
                    if path == "/healthz":
                        assert status == 200 and body == b"ok\n", (path, status, body)
                    elif path in ("/nope.txt", "/metrics"):
                        assert status == 404, (path, status)
                    else:
                        assert status == 200, (path, status)
                        assert body == read(path), "wrong body for %s on a reused connection" \
                            % path
            finally:
                c.close()
    print("PASS")


if __name__ == "__main__":
    main()
