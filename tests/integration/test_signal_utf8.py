"""Bad UTF-8 never reaches the JSON scanner: the WebSocket layer closes the connection with
1007 (RFC 6455 §8.1) for every kind of ill-formed sequence (RFC 3629 §3: bad lead byte,
truncated, overlong, an encoded surrogate, above U+10FFFF), also when it hides in a
continuation frame or in an offer's SDP, and the addressed peer gets nothing. Valid UTF-8
split across fragments, and escapes the scanner must decode, go through intact."""
import asyncio
import json

from sigtest import Peer, RawWS, Server, close_code

from wsproto.events import CloseConnection, TextMessage

BAD = {
    "bad lead byte": b"\xff",
    "lone continuation byte": b"\x80",
    "truncated 3-byte sequence": b"\xe2\x82",
    "overlong slash": b"\xc0\xaf",
    "overlong 3-byte NUL": b"\xe0\x80\x80",
    "encoded surrogate (CESU-8)": b"\xed\xa0\x80",
    "above U+10FFFF": b"\xf4\x90\x80\x80",
}


def is_close(e):
    return isinstance(e, CloseConnection) or e == "eof"


def is_text(e):
    return isinstance(e, TextMessage) and e.message_finished


def raw_peer(port, room, peer):
    c = RawWS(port)
    assert c.accepted
    c.send_text(json.dumps({"type": "join", "room": room, "peer": peer}))
    m = c.json_messages(c.events(until=is_text))
    assert m and m[0]["type"] == "welcome", m
    return c


async def main():
    with Server("--max-errors", "100", "--resume-grace", "1", "--max-peers-per-room", "32") as srv:
        b = await Peer.connect(srv.url)
        await b.join("u8", peer="b")
        for i, (name, seq) in enumerate(BAD.items()):
            for fragmented in (False, True):
                a = raw_peer(srv.port, "u8", "a%d%d" % (i, fragmented))
                head = b'{"type":"offer","to":"b","sdp":"v=0 '
                tail = b'"}'
                if fragmented:
                    # the bad bytes open the continuation frame
                    a.send_raw(RawWS.frame(0x1, head, fin=False) + RawWS.frame(0x0, seq + tail))
                else:
                    a.send_raw(RawWS.frame(0x1, head + seq + tail))
                evs = a.events(until=is_close)
                assert close_code(evs) == 1007, (name, fragmented, evs)
                a.close()

        # valid UTF-8 split between two fragments, and escapes: forwarded intact
        a = raw_peer(srv.port, "u8", "ok")
        sdp = "caf\u00e9 \U0001F600 \\ \" \r\n/"
        msg = json.dumps({"type": "offer", "to": "b", "sdp": sdp}).encode()
        cut = msg.index(b"caf") + 4  # inside the escape of é: json.dumps writes \u00e9
        a.send_raw(RawWS.frame(0x1, msg[:cut], fin=False) + RawWS.frame(0x0, msg[cut:]))
        # b hears of the others coming and going, and of no offer before this one
        while (m := await b.recv())["type"] in ("peer-joined", "peer-left"):
            pass
        assert m["type"] == "offer" and m["sdp"] == sdp and m["from"] == "ok", m
        raw = json.dumps({"type": "offer", "to": "b", "sdp": sdp}, ensure_ascii=False).encode()
        cut = raw.index("\u00e9".encode()) + 1  # between the two bytes of é
        a.send_raw(RawWS.frame(0x1, raw[:cut], fin=False) + RawWS.frame(0x0, raw[cut:]))
        m = await b.expect("offer")
        assert m["sdp"] == sdp and m["from"] == "ok", m
        # a NUL escaped in a routed field is refused by the JSON layer, with an answer
        a.send_text('{"type":"offer","to":"b\\u0000","sdp":"x"}')
        m = a.json_messages(a.events(until=is_text))
        assert m and m[0]["type"] == "error" and m[0]["code"] == "bad-json", m
        await b.nothing()
        a.close()
        await b.close()
        # only the two good offers were relayed
        assert srv.metric('iceway_signal_messages_relayed_total{type="offer"}') == 2


asyncio.run(asyncio.wait_for(main(), 120))
print("PASS")
