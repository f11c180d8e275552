"""/ws?room=NAME joins at once, under the same rules as a JSON join: a name longer than 64
characters is refused with bad-field (the connection stays open and is not in any room), never
cut to its first 64 characters, which would put two URLs into one room."""
import asyncio

import sigtest  # first: it picks the interpreter that has python3-websockets
from sigtest import Peer, Server

BASE = "r" * 64


async def main():
    with Server() as srv:
        a = await Peer.connect(srv.url + "?room=" + BASE)
        w = await a.expect("welcome")
        assert w["room"] == BASE, w
        # the JSON path refuses a 65-character room ...
        j = await Peer.connect(srv.url)
        await j.send({"type": "join", "room": BASE + "x"})
        ej = await j.expect_error("bad-field")
        # ... and so does the query parameter, with the same answer, for any longer name
        for extra in ("x", "xy" * 40, "z" * 1000):
            b = await Peer.connect(srv.url + "?room=" + BASE + extra)
            m = await b.recv()
            assert m.get("type") == "error" and m.get("code") == "bad-field", \
                "?room= of %d characters: %r" % (64 + len(extra), m)
            assert m["message"] == ej["message"], (m, ej)
            # not in a room: a message to a peer is refused as from an unjoined connection
            await b.send({"type": "offer", "to": w["peer"], "sdp": "v=0"})
            await b.expect_error("not-joined")
            await b.close()
        await a.nothing(0.3)  # nobody joined BASE
        await a.close()
        await j.close()


sigtest.run(main)
