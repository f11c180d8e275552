"""Helpers for the rate-limit tests (test_relay_limits*, test_relay_user_limits): a paced
ChannelData sender, and the relayed rate read from the relay's /metrics."""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402

CHANDATA_HDR = 4


class Pump:
    """Sends size-byte ChannelData on channel through cl at rate bytes a second (paced against
    the clock, bounded by seconds) in a thread, and reads whatever comes back; counts both."""

    def __init__(self, cl, channel, rate, size=1000, seconds=30.0):
        self.cl, self.channel, self.rate, self.size = cl, channel, rate, size
        self.seconds = seconds
        self.sent = self.back = 0
        self.stop_ev = threading.Event()
        self.cl.sock.setblocking(False)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        pkt = t.channel_data(self.channel, b"r" * self.size)
        t0 = time.monotonic()
        while not self.stop_ev.is_set():
            now = time.monotonic()
            if now - t0 > self.seconds:
                break
            due = int((now - t0) * self.rate / self.size) + 1
            while self.sent < due:
                try:
                    self.cl.sock.sendto(pkt, self.cl.server)
                except BlockingIOError:
                    break
                self.sent += 1
            while True:
                try:
                    self.cl.sock.recv(4096)
                    self.back += 1
                except (BlockingIOError, InterruptedError):
                    break
            time.sleep(0.002)

    def stop(self):
        self.stop_ev.set()
        self.thread.join()
        self.cl.sock.setblocking(True)


def relayed_payload(mport):
    """Payload bytes relayed so far, both directions over UDP: the bytes sent on, less the
    ChannelData header of each datagram toward a client."""
    m = t.metrics_parse(t.metrics_scrape(mport))

    def v(name, **labels):
        return m.get((name, tuple(sorted(labels.items()))), 0.0)
    b = v("iceway_relay_bytes_relayed_total", direction="client_to_peer", transport="udp") + \
        v("iceway_relay_bytes_relayed_total", direction="peer_to_client", transport="udp")
    p = v("iceway_relay_packets_relayed_total", direction="peer_to_client", transport="udp")
    return b - CHANDATA_HDR * p


def rate_over(mport, seconds):
    """Payload bytes a second relayed over the next seconds."""
    b0, t0 = relayed_payload(mport), time.monotonic()
    time.sleep(seconds)
    b1, t1 = relayed_payload(mport), time.monotonic()
    return (b1 - b0) / (t1 - t0)


def within(v, want, frac=0.10):
    return abs(v - want) <= frac * want


def echo_peer(procs):
    """coturn's turnutils_peer on 127.0.0.1: its port."""
    return t.start_echo_peer("127.0.0.1", procs)


def udp_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    t._open_sockets.append(s)
    return s
