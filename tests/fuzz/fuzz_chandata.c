/* Fuzz harness for ChannelData framing and Data-indication wrapping. Invariants: classify
 * and iw_chandata_parse agree and never read past len; a parsed length fits; writing the
 * header back and parsing it gives the same values; wrapping the input as a Data indication
 * leaves the payload in place and decodes back to it. */
#include <string.h>
#include <sys/socket.h>

#include "common/stun.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[IW_STUN_DATA_IND_HEADROOM + 0x10000 + IW_STUN_TAILROOM];
	uint16_t chan = 0, dlen = 0;

	enum iw_pkt_kind kind = iw_stun_classify(data, size);
	bool ok = iw_chandata_parse(data, size, &chan, &dlen);
	if (kind == IW_PKT_CHANDATA) {
		/* RFC 8656 §12.5: up to 3 bytes of padding after the data. */
		FUZZ_CHECK(ok);
		FUZZ_CHECK(size - (TURN_CHANDATA_HDR + (size_t)dlen) <= 3);
	}
	if (ok) {
		FUZZ_CHECK(chan >= TURN_CHANNEL_MIN && chan <= TURN_CHANNEL_MAX);
		FUZZ_CHECK(TURN_CHANDATA_HDR + (size_t)dlen <= size);
		FUZZ_CHECK(size < TURN_CHANDATA_HDR + (size_t)dlen + 4 ? kind == IW_PKT_CHANDATA
								       : kind == IW_PKT_OTHER);

		/* Write the header into headroom before a copy of the payload, parse back. */
		uint8_t *payload = buf + TURN_CHANDATA_HDR;
		memcpy(payload, data + TURN_CHANDATA_HDR, dlen);
		iw_chandata_put(buf, chan, dlen);
		uint16_t c2, l2;
		FUZZ_CHECK(iw_chandata_parse(buf, TURN_CHANDATA_HDR + (size_t)dlen, &c2, &l2));
		FUZZ_CHECK(c2 == chan && l2 == dlen);
		FUZZ_CHECK(iw_stun_classify(buf, TURN_CHANDATA_HDR + (size_t)dlen) == IW_PKT_CHANDATA);
	} else {
		FUZZ_CHECK(kind != IW_PKT_CHANDATA);
	}

	/* Wrap the whole input as a Data indication from a peer taken from its first bytes. */
	if (size > 0xFFFF - 64)
		return 0;
	struct iw_addr peer;
	memset(&peer, 0, sizeof peer);
	peer.family = size > 0 && (data[0] & 1) ? AF_INET6 : AF_INET;
	for (size_t i = 0; i < 16 && i + 1 < size; i++)
		peer.ip[i] = peer.family == AF_INET && i >= 4 ? 0 : data[i + 1];
	peer.port = size > 2 ? iw_be16(data + size - 2) : 0;
	uint8_t tid[STUN_TID_LEN];
	for (size_t i = 0; i < STUN_TID_LEN; i++)
		tid[i] = (uint8_t)(size > i ? data[size - 1 - i] : i);

	uint8_t *payload = buf + IW_STUN_DATA_IND_HEADROOM;
	memcpy(payload, data, size);
	size_t total = 0;
	uint8_t *start = iw_stun_data_ind_wrap(payload, size, &peer, tid, &total);
	FUZZ_CHECK(start != NULL);
	FUZZ_CHECK(start >= buf && start + total <= buf + sizeof buf);
	FUZZ_CHECK(memcmp(payload, data, size) == 0);

	struct iw_stun_msg m;
	const char *why = NULL;
	FUZZ_CHECK(iw_stun_classify(start, total) == IW_PKT_STUN);
	FUZZ_CHECK(iw_stun_decode(&m, start, total, &why) == 0);
	FUZZ_CHECK(m.method == TURN_METHOD_DATA && m.cls == STUN_CLASS_INDICATION);
	FUZZ_CHECK(m.n_peers == 1 && m.peers[0].family == peer.family && m.peers[0].port == peer.port &&
		   memcmp(m.peers[0].ip, peer.ip, 16) == 0);
	FUZZ_CHECK(m.data.p == payload && m.data.len == size);
	return 0;
}
