"""An idle connection costs the service little memory. 2,000 WebSockets join 1,000 rooms and
answer the service's pings (every second): the RSS grows by at most 3.5 KB per connection
(2.0 KB measured; 6.3 KB when lws kept a 16 KB receive buffer per connection, whose touched
pages stayed resident between the small allocations). Afterwards the connections still relay:
an offer larger than a read piece reaches its peer byte for byte.
Release build only: ASan's allocator pads and keeps every allocation."""
import asyncio
import json
import resource

import sigtest  # first: it picks the interpreter that has python3-websockets
from sigtest import Server

import websockets

CONNS = 2000
PER_CONN_KB = 3.5
BATCH = 100


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def join(srv, i):
    ws = await websockets.connect(srv.url, max_size=None)
    await ws.send(json.dumps({"type": "join", "room": "idle-%d" % (i // 2), "peer": "p%d" % i}))
    m = json.loads(await asyncio.wait_for(ws.recv(), sigtest.TIMEOUT))
    assert m["type"] == "welcome", m
    return ws


async def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 2 * CONNS + 1024)), hard))
    with Server("--ping-interval", "1", "--max-rooms", str(CONNS)) as srv:
        pid = srv.proc.pid
        base = rss_kb(pid)
        conns = []
        for lo in range(0, CONNS, BATCH):
            conns += await asyncio.gather(*(join(srv, i) for i in range(lo, lo + BATCH)))
        await asyncio.sleep(2.5)  # two rounds of pings, answered by the clients
        grown = rss_kb(pid) - base
        print("%d idle connections: RSS %d KB -> %d KB, %.2f KB per connection (bound %.1f)"
              % (CONNS, base, base + grown, grown / CONNS, PER_CONN_KB))
        assert srv.metric("iceway_signal_connections") == CONNS
        assert grown / CONNS <= PER_CONN_KB, grown / CONNS
        sdp = "v=0\r\n" + "a=x-idle:" + "".join(chr(97 + i % 26) for i in range(20000))
        await conns[0].send(json.dumps({"type": "offer", "to": "p1", "sdp": sdp}))
        for _ in range(3):  # after a peer-joined, if p1 joined first
            m = json.loads(await asyncio.wait_for(conns[1].recv(), sigtest.TIMEOUT))
            if m["type"] != "peer-joined":
                break
        assert m["type"] == "offer" and m["from"] == "p0" and m["sdp"] == sdp, m.get("type")
        await asyncio.gather(*(ws.close() for ws in conns))


if __name__ == "__main__":
    sigtest.run(main)
