"""Bad input gets a clear answer, never a crash: a seeded stream of mutated protocol messages
(truncations, type swaps, bit flips, deep nesting, huge numbers, invalid escapes) against
iceway-signal. Every text message gets an `error` reply or its normal answer, the server stays
healthy, and (in the sanitizer build) reports nothing."""
import json
import random

import sigtest
from sigtest import Peer, Server

SEED = 20261122
N = 1500  # bounded load: messages sent in total

BASE = [
    {"type": "join", "room": "g", "peer": "p1"},
    {"type": "offer", "to": "p2", "sdp": "v=0\r\n"},
    {"type": "answer", "to": "p2", "sdp": "v=0\r\n"},
    {"type": "candidate", "to": "p2", "candidate": {"candidate": "candidate:1 1 udp 1 1.2.3.4 5 typ host",
                                                    "sdpMid": "0", "sdpMLineIndex": 0}},
    {"type": "end-of-candidates", "to": "p2"},
    {"type": "bye", "to": "p2", "reason": "x"},
    {"type": "ping", "id": 1},
]
ODD = [None, True, 0, -1, 2 ** 63, 1e308, "", "x" * 300, [], {}, [[[]]], {"a": {"b": {}}}]


def mutate(rnd):
    m = json.loads(json.dumps(rnd.choice(BASE)))
    op = rnd.randrange(8)
    if op == 0:  # swap a field's value for something odd
        k = rnd.choice(list(m))
        m[k] = rnd.choice(ODD)
    elif op == 1:  # drop a field
        m.pop(rnd.choice(list(m)))
    elif op == 2:  # add a stray field, including a forged from
        m[rnd.choice(["from", "extra", "type2", "id"])] = rnd.choice(ODD + ["p9"])
    text = json.dumps(m)
    if op == 3:  # truncate
        text = text[:rnd.randrange(len(text))]
    elif op == 4:  # flip a byte (keep it valid UTF-8 text so lws passes it on)
        i = rnd.randrange(len(text))
        text = text[:i] + chr(rnd.randrange(32, 127)) + text[i + 1:]
    elif op == 5:  # deep nesting
        d = rnd.randrange(10, 3000)
        text = '{"type":"ping","x":' + "[" * d + "]" * d + "}"
    elif op == 6:  # invalid escapes and lone surrogates
        text = rnd.choice(['{"type":"ping","x":"\\uD800"}', '{"type":"p\\ing"}',
                           '{"type":"ping","x":"\\u00"}', '{"type":"ping"}}', '{"type":"ping",}'])
    return text


async def main():
    rnd = random.Random(SEED)
    with Server("--max-message-rate", "100000", "--max-message-burst", "100000",
                "--max-errors", "100000", "--max-peers-per-room", "4") as srv:
        p2 = await Peer.connect(srv.url)
        await p2.join("g", peer="p2")
        p = await Peer.connect(srv.url)
        replies = 0
        for i in range(N):
            text = mutate(rnd)
            await p.send(text)
            try:
                obj = json.loads(text)
            except (ValueError, RecursionError):
                obj = None
            silent = isinstance(obj, dict) and obj.get("type") == "leave"
            if silent:
                continue
            # a valid forward to p2 is answered on p2's side, not p's
            if isinstance(obj, dict) and obj.get("to") == "p2" and obj.get("type") in \
                    ("offer", "answer", "candidate", "end-of-candidates", "bye"):
                continue
            m = await p.recv()
            assert m.get("type") in ("error", "welcome", "pong"), m
            if m["type"] == "error":
                assert m["code"] and m["message"], m
            replies += 1
        # whatever reached p2 carries the server's `from`, never a forged one
        while True:
            try:
                m = await p2.recv(timeout=0.5)
            except Exception:
                break
            if m.get("type") in ("offer", "answer", "candidate", "end-of-candidates", "bye"):
                assert m["from"] != "p9", m
        st, body = srv.get("/healthz")
        assert st == 200 and body == "ok\n"
        print("%d mutated messages, %d answered directly" % (N, replies))
        await p.close()
        await p2.close()


sigtest.run(main)
