"""Bounded memory under a slow reader: a client that never reads while another floods it
with offer-sized messages is cut off (counted in iceway_signal_peers_dropped_lag_total), the
sender is told the peer is gone, and the server's resident memory stays within a bound."""
import asyncio
import json
import os

import sigtest
from sigtest import Peer, RawWS, Server

QUEUE_MAX = 256 * 1024
SDP = "v=0\r\n" + "a=x-filler:" + "y" * 6000 + "\r\n"  # an offer-sized message, ~6 KB
MAX_SEND = 20000  # at most ~120 MB offered: the bound on this load loop
# The stated bound: the per-connection queue plus lws/kernel buffering and allocator slack.
RSS_GROWTH_LIMIT_KB = 32 * 1024


# Under AddressSanitizer, freed blocks sit in a quarantine (256 MB by default) that would be
# counted as the server's memory; keep it small so the same bound applies to both builds.
ASAN_ENV = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
            ":quarantine_size_mb=1:thread_local_quarantine_size_kb=64"}


async def main():
    with Server("--send-queue-max", str(QUEUE_MAX), "--max-message-rate", "100000",
                "--max-message-burst", "100000", "--resume-grace", "1",
                "--max-errors", "100000", env=ASAN_ENV) as srv:
        sender = await Peer.connect(srv.url)
        await sender.join("slow")
        slow = RawWS(srv.port, rcvbuf=4096)
        slow.send_text(json.dumps({"type": "join", "room": "slow", "peer": "sloth"}))
        assert (await sender.expect("peer-joined"))["peer"] == "sloth"
        # the slow client never reads from here on
        base = srv.rss_kb()
        sent = 0
        cut = False
        while sent < MAX_SEND and not cut:
            for _ in range(50):
                await sender.send({"type": "offer", "to": "sloth", "sdp": SDP})
                sent += 1
            try:
                while True:
                    m = await sender.recv(timeout=0.01)
                    if m["type"] == "error" and m["code"] == "unknown-peer":
                        cut = True
                    elif m["type"] == "peer-left" and m["peer"] == "sloth":
                        cut = True
            except asyncio.TimeoutError:
                pass
        assert cut, "slow reader was never cut off after %d messages" % sent
        dropped = srv.metric("iceway_signal_peers_dropped_lag_total")
        assert dropped == 1, dropped
        peak = srv.rss_kb()
        growth = peak - base
        print("slow reader cut off after %d messages (%.1f MB offered); RSS %d KB -> %d KB "
              "(+%d KB, bound %d KB)" % (sent, sent * len(SDP) / 1e6, base, peak, growth,
                                         RSS_GROWTH_LIMIT_KB))
        assert growth < RSS_GROWTH_LIMIT_KB, growth
        assert srv.metric("iceway_signal_queue_bytes") < QUEUE_MAX
        # the room is told once the grace period passes
        while True:
            m = await sender.recv()
            if m["type"] == "peer-left":
                assert m["peer"] == "sloth"
                break
        slow.close()
        await sender.close()


sigtest.run(main)
