"""A sender is not closed as abusive because the server dropped its peer. Pairs of a sender and
a never-reading peer: the server cuts each reader off (1008, peers_dropped_lag_total) while its
sender keeps sending offers, through the resume grace (`reconnecting`) and after the peer-left
(`has left`). Those unknown-peer answers are races, not abuse: every sender stays connected
with max-errors far below the number of answers it gets. Offers to an id that never was in the
room still count, so such a sender is closed as before."""
import asyncio
import json

import sigtest  # first: it picks the interpreter that has python3-websockets
from sigtest import Peer, RawWS, Server

PAIRS = 100
MAX_ERRORS = 5
SDP = "v=0\r\n" + "a=x-filler:" + "y" * 3000 + "\r\n"  # an offer-sized message, ~3 KB
AFTER = 3 * MAX_ERRORS  # offers each sender still sends once it has heard peer-left


async def drive(sender, slow_id):
    """Send offers to slow_id until peer-left, then AFTER more; returns the errors seen."""
    errors, left, after = 0, False, 0
    for _ in range(4000):  # bounded: ~12 MB per sender at most
        await sender.send({"type": "offer", "to": slow_id, "sdp": SDP})
        if left:
            after += 1
            if after >= AFTER:
                break
        try:
            while True:
                m = await sender.recv(timeout=0.005 if not left else 0.2)
                if m["type"] == "error":
                    assert m["code"] == "unknown-peer", m
                    errors += 1
                    if left:
                        break
                elif m["type"] == "peer-left" and m["peer"] == slow_id:
                    left = True
        except asyncio.TimeoutError:
            pass
    assert left and after >= AFTER, "never heard peer-left for %s" % slow_id
    return errors


async def main():
    with Server("--send-queue-max", str(64 * 1024), "--max-message-rate", "100000",
                "--max-message-burst", "100000", "--resume-grace", "1",
                "--max-errors", str(MAX_ERRORS)) as srv:
        senders, slows = [], []
        for i in range(PAIRS):
            s = await Peer.connect(srv.url)
            await s.join("lag-%d" % i)
            r = RawWS(srv.port, rcvbuf=4096)
            r.send_text(json.dumps({"type": "join", "room": "lag-%d" % i, "peer": "slow-%d" % i}))
            assert (await s.expect("peer-joined"))["peer"] == "slow-%d" % i
            senders.append(s)
            slows.append(r)
        errors = await asyncio.gather(*(drive(s, "slow-%d" % i) for i, s in enumerate(senders)))
        # every sender is still there and answers
        for s in senders:
            await s.send({"type": "ping", "id": "alive"})
            for _ in range(5000):  # answers still queued from the loop above come first
                m = await s.recv()
                if m["type"] != "error":
                    break
                assert m["code"] == "unknown-peer", m
            assert m["type"] == "pong" and m.get("ref") == "alive", m
        dropped = srv.metric("iceway_signal_peers_dropped_lag_total")
        abuse = srv.metric("iceway_signal_closed_abuse_total")
        excused = srv.metric("iceway_signal_errors_excused_total")
        print("%d slow readers dropped; senders got %d..%d unknown-peer answers each "
              "(max-errors %d), %d excused, %d closed as abusive"
              % (dropped, min(errors), max(errors), MAX_ERRORS, excused, abuse))
        assert dropped == PAIRS, dropped
        assert min(errors) > MAX_ERRORS, errors
        assert abuse == 0, abuse
        # a made-up id is still a strike: that sender is closed with 1008
        liar = await Peer.connect(srv.url)
        await liar.join("lag-0")
        for _ in range(MAX_ERRORS + 1):
            await liar.send({"type": "offer", "to": "never-was-here", "sdp": "v=0"})
        for _ in range(MAX_ERRORS + 1):
            await liar.expect_error("unknown-peer")
        try:
            await liar.recv()
            raise AssertionError("a sender to a made-up id was not closed")
        except Exception as e:  # websockets.ConnectionClosed
            assert getattr(e, "code", None) == 1008 or "1008" in str(e), repr(e)
        assert srv.metric("iceway_signal_closed_abuse_total") == 1
        for r in slows:
            r.close()
        for s in senders:
            await s.close()


sigtest.run(main)
