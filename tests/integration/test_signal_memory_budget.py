"""Signaling memory and connections have a global bound. 100 never-reading peers, each under its
own 1 MiB send-queue-max, are fed offers by one sender: all queues together stay within
send-queue-total-max (the slowest reader is dropped first, counted in
iceway_signal_peers_dropped_budget_total), and the server's RSS grows by no more than that
budget plus a stated slack. Then max-connections-per-ip: the connection over the limit is
refused (counted), another source address is not, and a closed connection frees its place."""
import asyncio
import json
import os

import sigtest  # first: it picks the interpreter that has python3-websockets
from sigtest import Peer, RawWS, Server

import websockets

READERS = 100
BUDGET = 8 * 1024 * 1024
SDP = "v=0\r\n" + "a=x-filler:" + "y" * 48000 + "\r\n"  # large offers, under 64 KiB
# Up to 100 x 120 x 48 KB = 576 MB offered: the kernel holds up to 4 MB per connection
# (tcp_wmem) before anything queues in the server, then 1 MiB per reader and more.
ROUNDS = 120
# The stated bound: the budget, allocator overhead on it (headers, LWS_PRE, ~5%), and what
# lws and the allocator keep besides (one partial frame per connection, arenas).
RSS_GROWTH_LIMIT_KB = BUDGET * 3 // 2 // 1024 + 16 * 1024
PER_IP = 5

ASAN_ENV = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
            ":quarantine_size_mb=1:thread_local_quarantine_size_kb=64"}


async def drain(p):
    try:
        while True:
            await p.recv(timeout=0.001)
    except asyncio.TimeoutError:
        pass


async def budget():
    with Server("--send-queue-total-max", str(BUDGET), "--max-message-rate", "100000",
                "--max-message-burst", "100000", "--max-errors", "100000",
                "--max-peers-per-room", "200", "--resume-grace", "1", env=ASAN_ENV) as srv:
        sender = await Peer.connect(srv.url)
        await sender.join("big")
        readers = []
        for i in range(READERS):
            r = RawWS(srv.port, rcvbuf=4096)
            r.send_text(json.dumps({"type": "join", "room": "big", "peer": "r%d" % i}))
            readers.append(r)
            assert (await sender.expect("peer-joined"))["peer"] == "r%d" % i
        base = peak = srv.rss_kb()
        for n in range(ROUNDS):
            for i in range(READERS):
                await sender.send({"type": "offer", "to": "r%d" % i, "sdp": SDP})
            await drain(sender)
            if n % 5 == 0:
                peak = max(peak, srv.rss_kb())
                assert srv.metric("iceway_signal_queue_bytes") <= BUDGET
                # enough once the budget has dropped many readers
                if srv.metric("iceway_signal_peers_dropped_budget_total") >= READERS // 2:
                    break
        peak = max(peak, srv.rss_kb())
        dropped = srv.metric("iceway_signal_peers_dropped_budget_total")
        print("%d never-reading peers, %.0f MB offered in %d rounds: RSS %d KB -> %d KB (+%d KB, bound %d KB: "
              "budget %d KB + slack); %d dropped as slowest, %d by their own queue bound"
              % (READERS, READERS * (n + 1) * len(SDP) / 1e6, n + 1, base, peak, peak - base,
                 RSS_GROWTH_LIMIT_KB, BUDGET // 1024, dropped,
                 srv.metric("iceway_signal_peers_dropped_lag_total")))
        assert dropped >= 1, dropped
        assert peak - base < RSS_GROWTH_LIMIT_KB, peak - base
        # the sender, which reads, is still served
        await sender.send({"type": "ping", "id": "alive"})
        for _ in range(100000):
            m = await sender.recv()
            if m["type"] == "pong":
                break
        for r in readers:
            r.close()
        await sender.close()


async def per_address():
    with Server("--max-connections-per-ip", str(PER_IP)) as srv:
        conns = [await websockets.connect(srv.url) for _ in range(PER_IP)]
        assert await sigtest.refused(srv.url), "connection %d from one address accepted" % (PER_IP + 1)
        assert srv.metric('iceway_signal_connections_rejected_total{reason="per_address"}') == 1
        # another source address has its own count
        other = await websockets.connect(srv.url, local_addr=("127.0.0.2", 0))
        assert srv.metric("iceway_signal_source_addresses") == 2
        # a closed connection frees its place
        await conns.pop().close()
        for _ in range(100):
            if srv.metric("iceway_signal_connections") == PER_IP:
                break
            await asyncio.sleep(0.02)
        conns.append(await websockets.connect(srv.url))
        assert await sigtest.refused(srv.url)
        assert srv.metric('iceway_signal_connections_rejected_total{reason="per_address"}') == 2
        print("ok   max-connections-per-ip %d: the next one refused, 127.0.0.2 counted apart"
              % PER_IP)
        for c in conns + [other]:
            await c.close()


async def main():
    await per_address()
    await budget()


sigtest.run(main)
