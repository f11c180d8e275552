/* Tests for common/stun.c: RFC 5769 / RFC 8489 known answers, malformed input (one row per
 * rule), encoder layout and overflow, Data indication framing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "common/stun.h"
#include "common/stun_auth.h"
#include "tests/vectors/coturn.h"
#include "tests/vectors/rfc5769.h"
#include "tests/vectors/rfc8489.h"

static const uint8_t tid0[STUN_TID_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

static struct iw_addr mk4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
	struct iw_addr x;
	memset(&x, 0, sizeof x);
	x.family = AF_INET;
	x.ip[0] = a;
	x.ip[1] = b;
	x.ip[2] = c;
	x.ip[3] = d;
	x.port = port;
	return x;
}

static struct iw_addr mk6(const uint8_t ip[16], uint16_t port)
{
	struct iw_addr x;
	memset(&x, 0, sizeof x);
	x.family = AF_INET6;
	memcpy(x.ip, ip, 16);
	x.port = port;
	return x;
}

static void assert_view(struct iw_stun_view v, const void *want, size_t len)
{
	assert_int_equal(v.len, len);
	assert_memory_equal(v.p, want, len);
}

static void assert_addr(const struct iw_addr *got, const struct iw_addr *want)
{
	assert_int_equal(got->family, want->family);
	assert_int_equal(got->port, want->port);
	assert_memory_equal(got->ip, want->ip, 16);
}

/* RFC 5769 §2.2 / §2.3 mapped addresses. */
static const uint8_t rfc5769_v6ip[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
					  0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77 };

/* ---- known answers ---- */

static void test_type_bits(void **state)
{
	(void)state;
	/* RFC 8489 §5 / §6: Binding request 0x0001, success 0x0101, error 0x0111;
	 * RFC 8656: Allocate error 0x0113, Data indication 0x0017, Send indication 0x0016. */
	assert_int_equal(STUN_TYPE(STUN_METHOD_BINDING, STUN_CLASS_REQUEST), 0x0001);
	assert_int_equal(STUN_TYPE(STUN_METHOD_BINDING, STUN_CLASS_SUCCESS), 0x0101);
	assert_int_equal(STUN_TYPE(STUN_METHOD_BINDING, STUN_CLASS_ERROR), 0x0111);
	assert_int_equal(STUN_TYPE(TURN_METHOD_ALLOCATE, STUN_CLASS_ERROR), 0x0113);
	assert_int_equal(STUN_TYPE(TURN_METHOD_DATA, STUN_CLASS_INDICATION), 0x0017);
	assert_int_equal(STUN_TYPE(TURN_METHOD_SEND, STUN_CLASS_INDICATION), 0x0016);
	for (uint16_t method = 0; method < 0x1000; method += 0x7b)
		for (uint8_t cls = 0; cls < 4; cls++) {
			uint16_t t = STUN_TYPE(method, cls);
			assert_int_equal(STUN_TYPE_METHOD(t), method);
			assert_int_equal(STUN_TYPE_CLASS(t), cls);
		}
}

static void test_rfc5769_request(void **state)
{
	(void)state;
	struct iw_stun_msg m;
	const char *why = NULL;
	/* The decoder must not rely on a zeroed struct (it is not zeroed per datagram). */
	memset(&m, 0xa5, sizeof m);
	assert_int_equal(iw_stun_classify(rfc5769_req, sizeof rfc5769_req), IW_PKT_STUN);
	assert_int_equal(iw_stun_decode(&m, rfc5769_req, sizeof rfc5769_req, &why), 0);
	assert_null(why);
	assert_int_equal(m.method, STUN_METHOD_BINDING);
	assert_int_equal(m.cls, STUN_CLASS_REQUEST);
	assert_true(m.tid == rfc5769_req + 8);
	assert_view(m.software, "STUN test client", 16);
	assert_view(m.username, "evtj:h6vY", 9);
	assert_true(m.present & IW_STUN_HAS_MI);
	assert_true(m.present & IW_STUN_HAS_FINGERPRINT);
	assert_int_equal(m.mi_off, 76);
	assert_int_equal(m.fp_off, 100);
	assert_int_equal(m.mi256_off, 0);
	assert_int_equal(m.n_peers, 0);
	assert_false(m.peers_overflow);
	assert_int_equal(m.present, IW_STUN_HAS_SOFTWARE | IW_STUN_HAS_USERNAME | IW_STUN_HAS_MI |
					    IW_STUN_HAS_FINGERPRINT);
	/* PRIORITY is understood, ICE-CONTROLLED is comprehension-optional. */
	assert_int_equal(m.n_unknown, 0);
	/* Short-term credential: the key is the password itself (RFC 8489 §9.1.1). */
	assert_true(iw_stun_check_integrity(&m, (const uint8_t *)rfc5769_short_pass,
					    sizeof rfc5769_short_pass - 1));
	assert_true(iw_stun_check_fingerprint(&m));
	assert_false(iw_stun_check_integrity(&m, (const uint8_t *)"VOkJxbRl1RmTxUk/WvJxBu", 22));
	assert_false(iw_stun_check_integrity_sha256(&m, (const uint8_t *)rfc5769_short_pass,
						    sizeof rfc5769_short_pass - 1));
}

/* Flipping any one bit breaks the fingerprint; any bit up to the end of the MAC breaks the
 * integrity too, while a bit in FINGERPRINT leaves the integrity intact. */
static void test_rfc5769_request_bitflip(void **state)
{
	(void)state;
	uint8_t buf[sizeof rfc5769_req];
	const uint8_t *key = (const uint8_t *)rfc5769_short_pass;
	size_t klen = sizeof rfc5769_short_pass - 1;
	for (size_t i = 0; i < sizeof buf; i++) {
		if (i == 2 || i == 3)
			continue; /* the length field: decode itself rejects those */
		for (int bit = 0; bit < 8; bit++) {
			struct iw_stun_msg m;
			const char *why = NULL;
			memcpy(buf, rfc5769_req, sizeof buf);
			buf[i] ^= (uint8_t)(1u << bit);
			if (iw_stun_decode(&m, buf, sizeof buf, &why) < 0) {
				assert_non_null(why);
				continue;
			}
			bool mi = iw_stun_check_integrity(&m, key, klen);
			bool fp = iw_stun_check_fingerprint(&m);
			/* FINGERPRINT covers everything before it; MESSAGE-INTEGRITY everything
			 * up to its value's end (offset 100). */
			assert_false(fp);
			if (i < 100)
				assert_false(mi);
			else
				assert_true(mi);
		}
	}
}

static void test_rfc5769_request_reencode(void **state)
{
	(void)state;
	uint8_t buf[256];
	struct iw_stun_wr s;
	const uint8_t tie[8] = { 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36 };
	iw_stun_wr_init(&s, buf, sizeof buf, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, rfc5769_req + 8);
	iw_stun_wr_attr(&s, STUN_ATTR_SOFTWARE, "STUN test client", 16);
	iw_stun_wr_u32(&s, STUN_ATTR_PRIORITY, 0x6e0001ff);
	iw_stun_wr_attr(&s, STUN_ATTR_ICE_CONTROLLED, tie, sizeof tie);
	iw_stun_wr_attr(&s, STUN_ATTR_USERNAME, "evtj:h6vY", 9);
	/* RFC 5769 pads with spaces where we pad with zeros; set them as the sample does so
	 * that the MAC and CRC cover the same bytes. */
	assert_int_equal(s.w.p[-3], 0);
	memset(s.w.p - 3, ' ', 3);
	iw_stun_wr_integrity(&s, (const uint8_t *)rfc5769_short_pass, sizeof rfc5769_short_pass - 1);
	iw_stun_wr_fingerprint(&s);
	int n = iw_stun_wr_finish(&s);
	assert_int_equal(n, sizeof rfc5769_req);
	assert_memory_equal(buf, rfc5769_req, sizeof rfc5769_req);
}

static void test_rfc5769_ipv4_response(void **state)
{
	(void)state;
	struct iw_stun_msg m;
	const char *why = NULL;
	struct iw_addr want = mk4(192, 0, 2, 1, 32853);
	assert_int_equal(iw_stun_decode(&m, rfc5769_resp4, sizeof rfc5769_resp4, &why), 0);
	assert_int_equal(m.method, STUN_METHOD_BINDING);
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	assert_memory_equal(m.tid, rfc5769_req + 8, STUN_TID_LEN);
	assert_view(m.software, "test vector", 11);
	assert_true(m.present & IW_STUN_HAS_MAPPED);
	assert_addr(&m.mapped, &want);
	assert_true(iw_stun_check_integrity(&m, (const uint8_t *)rfc5769_short_pass,
					    sizeof rfc5769_short_pass - 1));
	assert_true(iw_stun_check_fingerprint(&m));

	/* Re-encode with the same attributes: byte for byte the RFC's message. */
	uint8_t buf[128];
	struct iw_stun_wr s;
	iw_stun_wr_init(&s, buf, sizeof buf, STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, m.tid);
	iw_stun_wr_attr(&s, STUN_ATTR_SOFTWARE, "test vector", 11);
	s.w.p[-1] = ' '; /* the sample's padding byte */
	iw_stun_wr_xaddr(&s, STUN_ATTR_XOR_MAPPED_ADDRESS, &want);
	iw_stun_wr_integrity(&s, (const uint8_t *)rfc5769_short_pass, sizeof rfc5769_short_pass - 1);
	iw_stun_wr_fingerprint(&s);
	assert_int_equal(iw_stun_wr_finish(&s), sizeof rfc5769_resp4);
	assert_memory_equal(buf, rfc5769_resp4, sizeof rfc5769_resp4);
}

static void test_rfc5769_ipv6_response(void **state)
{
	(void)state;
	struct iw_stun_msg m;
	const char *why = NULL;
	struct iw_addr want = mk6(rfc5769_v6ip, 32853);
	assert_int_equal(iw_stun_decode(&m, rfc5769_resp6, sizeof rfc5769_resp6, &why), 0);
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	assert_addr(&m.mapped, &want);
	assert_true(iw_stun_check_integrity(&m, (const uint8_t *)rfc5769_short_pass,
					    sizeof rfc5769_short_pass - 1));
	assert_true(iw_stun_check_fingerprint(&m));

	struct iw_addr direct;
	assert_int_equal(iw_stun_xaddr_decode(&direct, rfc5769_resp6 + 40, 20, m.tid, &why), 0);
	assert_addr(&direct, &want);

	uint8_t buf[128];
	struct iw_stun_wr s;
	iw_stun_wr_init(&s, buf, sizeof buf, STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, m.tid);
	iw_stun_wr_attr(&s, STUN_ATTR_SOFTWARE, "test vector", 11);
	s.w.p[-1] = ' ';
	iw_stun_wr_xaddr(&s, STUN_ATTR_XOR_MAPPED_ADDRESS, &want);
	iw_stun_wr_integrity(&s, (const uint8_t *)rfc5769_short_pass, sizeof rfc5769_short_pass - 1);
	iw_stun_wr_fingerprint(&s);
	assert_int_equal(iw_stun_wr_finish(&s), sizeof rfc5769_resp6);
	assert_memory_equal(buf, rfc5769_resp6, sizeof rfc5769_resp6);
}

static void test_rfc5769_long_term(void **state)
{
	(void)state;
	struct iw_stun_msg m;
	const char *why = NULL;
	uint8_t key[IW_STUN_KEY_MAX];
	assert_int_equal(iw_stun_decode(&m, rfc5769_lt_req, sizeof rfc5769_lt_req, &why), 0);
	assert_int_equal(m.cls, STUN_CLASS_REQUEST);
	assert_view(m.username, rfc5769_lt_user, sizeof rfc5769_lt_user - 1);
	assert_view(m.nonce, rfc5769_lt_nonce, sizeof rfc5769_lt_nonce - 1);
	assert_view(m.realm, rfc5769_lt_realm, sizeof rfc5769_lt_realm - 1);
	assert_false(m.present & IW_STUN_HAS_FINGERPRINT);
	assert_false(iw_stun_check_fingerprint(&m));

	int klen = iw_stun_lt_key(key, STUN_PASSWORD_ALG_MD5, rfc5769_lt_user, sizeof rfc5769_lt_user - 1,
				  rfc5769_lt_realm, sizeof rfc5769_lt_realm - 1, rfc5769_lt_pass,
				  sizeof rfc5769_lt_pass - 1);
	assert_int_equal(klen, 16);
	assert_true(iw_stun_check_integrity(&m, key, (size_t)klen));
	key[0] ^= 1;
	assert_false(iw_stun_check_integrity(&m, key, (size_t)klen));
	key[0] ^= 1;

	uint8_t buf[128];
	struct iw_stun_wr s;
	iw_stun_wr_init(&s, buf, sizeof buf, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, m.tid);
	iw_stun_wr_attr(&s, STUN_ATTR_USERNAME, rfc5769_lt_user, sizeof rfc5769_lt_user - 1);
	iw_stun_wr_attr(&s, STUN_ATTR_NONCE, rfc5769_lt_nonce, sizeof rfc5769_lt_nonce - 1);
	iw_stun_wr_attr(&s, STUN_ATTR_REALM, rfc5769_lt_realm, sizeof rfc5769_lt_realm - 1);
	iw_stun_wr_integrity(&s, key, (size_t)klen);
	assert_int_equal(iw_stun_wr_finish(&s), sizeof rfc5769_lt_req);
	assert_memory_equal(buf, rfc5769_lt_req, sizeof rfc5769_lt_req);
}

static void test_rfc8489_b1(void **state)
{
	(void)state;
	struct iw_stun_msg m;
	const char *why = NULL;
	uint8_t key[IW_STUN_KEY_MAX], uh[STUN_USERHASH_LEN];
	assert_int_equal(iw_stun_decode(&m, rfc8489_b1_req, sizeof rfc8489_b1_req, &why), 0);
	assert_int_equal(m.method, STUN_METHOD_BINDING);
	assert_int_equal(m.cls, STUN_CLASS_REQUEST);
	assert_false(m.present & IW_STUN_HAS_USERNAME);
	iw_stun_userhash(uh, rfc8489_b1_user, sizeof rfc8489_b1_user - 1, rfc8489_b1_realm,
			 sizeof rfc8489_b1_realm - 1);
	assert_memory_equal(uh, rfc8489_b1_userhash, STUN_USERHASH_LEN);
	assert_view(m.userhash, uh, STUN_USERHASH_LEN);
	assert_view(m.nonce, rfc8489_b1_nonce, sizeof rfc8489_b1_nonce - 1);
	assert_view(m.realm, rfc8489_b1_realm, sizeof rfc8489_b1_realm - 1);
	assert_true(m.present & IW_STUN_HAS_PW_ALG);
	assert_int_equal(m.pw_alg, STUN_PASSWORD_ALG_SHA256);
	assert_int_equal(m.pw_alg_params.len, 0);
	assert_true(m.present & IW_STUN_HAS_MI_SHA256);
	assert_int_equal(m.mi256_len, 32);
	assert_int_equal(m.mi256_off, 128);

	int klen = iw_stun_lt_key(key, STUN_PASSWORD_ALG_SHA256, rfc8489_b1_user, sizeof rfc8489_b1_user - 1,
				  rfc8489_b1_realm, sizeof rfc8489_b1_realm - 1, rfc8489_b1_pass,
				  sizeof rfc8489_b1_pass - 1);
	assert_int_equal(klen, 32);
	assert_true(iw_stun_check_integrity_sha256(&m, key, (size_t)klen));
	assert_false(iw_stun_check_integrity(&m, key, (size_t)klen)); /* no MESSAGE-INTEGRITY */

	/* Re-encode: byte for byte the corrected sample. */
	uint8_t buf[256];
	const uint8_t alg[4] = { 0x00, 0x02, 0x00, 0x00 };
	struct iw_stun_wr s;
	iw_stun_wr_init(&s, buf, sizeof buf, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, m.tid);
	iw_stun_wr_attr(&s, STUN_ATTR_USERHASH, uh, sizeof uh);
	iw_stun_wr_attr(&s, STUN_ATTR_NONCE, rfc8489_b1_nonce, sizeof rfc8489_b1_nonce - 1);
	iw_stun_wr_attr(&s, STUN_ATTR_REALM, rfc8489_b1_realm, sizeof rfc8489_b1_realm - 1);
	iw_stun_wr_attr(&s, STUN_ATTR_PASSWORD_ALGORITHM, alg, sizeof alg);
	iw_stun_wr_integrity_sha256(&s, key, (size_t)klen);
	assert_int_equal(iw_stun_wr_finish(&s), sizeof rfc8489_b1_req);
	assert_memory_equal(buf, rfc8489_b1_req, sizeof rfc8489_b1_req);
}

/* The sample as printed (before erratum 6268): its length overruns the bytes, and with the
 * length repaired its MAC does not verify, because it was computed over the wrong length. */
static void test_rfc8489_b1_as_printed(void **state)
{
	(void)state;
	struct iw_stun_msg m;
	const char *why = NULL;
	uint8_t buf[sizeof rfc8489_b1_printed], key[IW_STUN_KEY_MAX];
	assert_int_equal(iw_stun_decode(&m, rfc8489_b1_printed, sizeof rfc8489_b1_printed, &why), -EBADMSG);
	assert_non_null(why);
	assert_int_equal(iw_stun_classify(rfc8489_b1_printed, sizeof rfc8489_b1_printed), IW_PKT_OTHER);

	memcpy(buf, rfc8489_b1_printed, sizeof buf);
	iw_put_be16(buf + 2, sizeof buf - STUN_HEADER_LEN);
	assert_int_equal(iw_stun_decode(&m, buf, sizeof buf, &why), 0);
	int klen = iw_stun_lt_key(key, STUN_PASSWORD_ALG_SHA256, rfc8489_b1_user, sizeof rfc8489_b1_user - 1,
				  rfc8489_b1_realm, sizeof rfc8489_b1_realm - 1, rfc8489_b1_pass,
				  sizeof rfc8489_b1_pass - 1);
	assert_false(iw_stun_check_integrity_sha256(&m, key, (size_t)klen));
}

/* ---- messages from coturn and its client ---- */

static void test_coturn_capture(void **state)
{
	(void)state;
	uint8_t key[IW_STUN_KEY_MAX];
	int klen = iw_stun_lt_key(key, STUN_PASSWORD_ALG_MD5, coturn_user, sizeof coturn_user - 1,
				  coturn_realm, sizeof coturn_realm - 1, coturn_pass, sizeof coturn_pass - 1);
	assert_int_equal(klen, 16);
	size_t n_mi = 0;
	for (size_t i = 0; i < sizeof coturn_msgs / sizeof coturn_msgs[0]; i++) {
		const struct coturn_msg *c = &coturn_msgs[i];
		struct iw_stun_msg m;
		const char *why = NULL;
		print_message("coturn: %s\n", c->name);
		assert_int_equal(iw_stun_classify(c->p, c->len), IW_PKT_STUN);
		assert_int_equal(iw_stun_decode(&m, c->p, c->len, &why), 0);
		assert_int_equal(m.type, c->type);
		assert_int_equal(m.n_unknown, 0);
		assert_true(iw_stun_check_fingerprint(&m));
		if (m.present & IW_STUN_HAS_MI) {
			n_mi++;
			assert_true(iw_stun_check_integrity(&m, key, (size_t)klen));
			key[15] ^= 0x40;
			assert_false(iw_stun_check_integrity(&m, key, (size_t)klen));
			key[15] ^= 0x40;
		}
	}
	assert_int_equal(n_mi, 10);
}

static void test_coturn_fields(void **state)
{
	(void)state;
	struct iw_stun_msg m;
	const char *why = NULL;

	assert_int_equal(iw_stun_decode(&m, coturn_allocate_401, sizeof coturn_allocate_401, &why), 0);
	assert_int_equal(m.cls, STUN_CLASS_ERROR);
	assert_int_equal(m.error_code, 401);
	assert_view(m.reason, "Unauthorized", 12);
	assert_view(m.realm, coturn_realm, sizeof coturn_realm - 1);
	assert_true(m.present & IW_STUN_HAS_NONCE);

	assert_int_equal(iw_stun_decode(&m, coturn_allocate_req, sizeof coturn_allocate_req, &why), 0);
	assert_view(m.username, coturn_user, sizeof coturn_user - 1);
	assert_int_equal(m.req_transport, TURN_TRANSPORT_UDP);
	assert_true(m.present & IW_STUN_HAS_EVEN_PORT);
	assert_true(m.present & IW_STUN_HAS_DONT_FRAGMENT);

	assert_int_equal(iw_stun_decode(&m, coturn_allocate_ok, sizeof coturn_allocate_ok, &why), 0);
	assert_int_equal(m.relayed.family, AF_INET);
	assert_memory_equal(m.relayed.ip, "\x7f\x00\x00\x01", 4);
	assert_true(m.relayed.port >= COTURN_RELAY_MIN && m.relayed.port <= COTURN_RELAY_MAX);
	assert_int_equal(m.mapped.family, AF_INET);
	assert_memory_equal(m.mapped.ip, "\x7f\x00\x00\x01", 4);
	assert_true(m.present & IW_STUN_HAS_LIFETIME);
	assert_int_equal(m.res_token.len, 8);

	assert_int_equal(iw_stun_decode(&m, coturn_send_ind, sizeof coturn_send_ind, &why), 0);
	assert_int_equal(m.method, TURN_METHOD_SEND);
	assert_int_equal(m.cls, STUN_CLASS_INDICATION);
	assert_int_equal(m.n_peers, 1);
	/* uclient sends to the peer port and the next one (its RTCP stream). */
	assert_true(m.peers[0].port == COTURN_PEER_PORT || m.peers[0].port == COTURN_PEER_PORT + 1);
	assert_memory_equal(m.peers[0].ip, "\x7f\x00\x00\x01", 4);
	assert_int_equal(m.data.len, 100);

	assert_int_equal(iw_stun_decode(&m, coturn_data_ind, sizeof coturn_data_ind, &why), 0);
	assert_int_equal(m.method, TURN_METHOD_DATA);
	assert_true(m.peers[0].port == COTURN_PEER_PORT || m.peers[0].port == COTURN_PEER_PORT + 1);
	assert_int_equal(m.data.len, 100);

	assert_int_equal(iw_stun_decode(&m, coturn_chanbind_req, sizeof coturn_chanbind_req, &why), 0);
	assert_true(m.present & IW_STUN_HAS_CHANNEL);
	assert_true(m.channel >= TURN_CHANNEL_MIN);
	assert_int_equal(m.n_peers, 1);

	assert_int_equal(iw_stun_decode(&m, coturn_perm_many_req, sizeof coturn_perm_many_req, &why), 0);
	assert_true(m.n_peers > 1);
	assert_int_equal(iw_stun_decode(&m, coturn_perm_443, sizeof coturn_perm_443, &why), 0);
	assert_int_equal(m.error_code, STUN_ERR_PEER_FAMILY_MISMATCH);
}

/* ---- classification ---- */

static void test_classify(void **state)
{
	(void)state;
	const uint8_t cd[] = { 0x40, 0x01, 0x00, 0x03, 'a', 'b', 'c' };
	const uint8_t cd_pad[] = { 0x4f, 0xff, 0x00, 0x03, 'a', 'b', 'c', 0 };
	const uint8_t cd_long[] = { 0x40, 0x01, 0x00, 0x01, 'a', 0, 0, 0, 0 };
	const uint8_t cd_short[] = { 0x40, 0x01, 0x00, 0x04, 'a', 'b', 'c' };
	const uint8_t rtp[] = { 0x80, 0x60, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0 };
	const uint8_t dtls[] = { 0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	uint16_t chan, dlen;

	assert_int_equal(iw_stun_classify(rfc5769_req, sizeof rfc5769_req), IW_PKT_STUN);
	assert_int_equal(iw_stun_classify(rfc8489_b1_req, sizeof rfc8489_b1_req), IW_PKT_STUN);
	assert_int_equal(iw_stun_classify(rfc5769_req, sizeof rfc5769_req - 4), IW_PKT_OTHER);
	assert_int_equal(iw_stun_classify(rfc5769_req, 19), IW_PKT_OTHER);
	assert_int_equal(iw_stun_classify(rfc5769_req, 0), IW_PKT_OTHER);
	assert_int_equal(iw_stun_classify(cd, sizeof cd), IW_PKT_CHANDATA);
	assert_int_equal(iw_stun_classify(cd_pad, sizeof cd_pad), IW_PKT_CHANDATA);
	assert_int_equal(iw_stun_classify(cd_long, sizeof cd_long), IW_PKT_OTHER);
	assert_int_equal(iw_stun_classify(cd_short, sizeof cd_short), IW_PKT_OTHER);
	assert_int_equal(iw_stun_classify(cd, 3), IW_PKT_OTHER);
	assert_int_equal(iw_stun_classify(rtp, sizeof rtp), IW_PKT_OTHER);
	assert_int_equal(iw_stun_classify(dtls, sizeof dtls), IW_PKT_OTHER);

	assert_true(iw_chandata_parse(cd, sizeof cd, &chan, &dlen));
	assert_int_equal(chan, 0x4001);
	assert_int_equal(dlen, 3);
	assert_true(iw_chandata_parse(cd_pad, sizeof cd_pad, &chan, &dlen));
	assert_int_equal(chan, 0x4fff);
}

/* RFC 8656 §12: channel numbers 0x4000-0x4FFF; the length must fit the datagram. */
/* RFC 8656 §12.5 stream framing: one row per rule. */
static void test_frame_next(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		uint8_t hdr[4];
		size_t avail, max;
		int rc;
		size_t len, total;
	} rows[] = {
		{ "STUN header only", { 0x00, 0x01, 0x00, 0x08 }, 20, 1500, 0, 28, 28 },
		{ "STUN whole", { 0x00, 0x01, 0x00, 0x08 }, 28, 1500, 1, 28, 28 },
		{ "STUN and more", { 0x01, 0x01, 0x00, 0x00 }, 100, 1500, 1, 20, 20 },
		{ "STUN length not a multiple of 4", { 0x00, 0x01, 0x00, 0x06 }, 26, 1500, -EBADMSG, 0, 0 },
		{ "ChannelData padded", { 0x40, 0x00, 0x00, 0x05 }, 12, 1500, 1, 9, 12 },
		{ "ChannelData without its padding", { 0x40, 0x00, 0x00, 0x05 }, 9, 1500, 0, 9, 12 },
		{ "ChannelData empty", { 0x40, 0x00, 0x00, 0x00 }, 4, 1500, 1, 4, 4 },
		{ "RFC 5766 channel 0x7FFF", { 0x7f, 0xff, 0x00, 0x01 }, 8, 1500, 1, 5, 8 },
		{ "first bits 11", { 0xc0, 0x00, 0x00, 0x04 }, 8, 1500, -EBADMSG, 0, 0 },
		{ "first bits 10", { 0x80, 0x60, 0x00, 0x01 }, 12, 1500, -EBADMSG, 0, 0 },
		{ "over max, known from the header",
		  { 0x40, 0x00, 0x07, 0xfc },
		  4,
		  1500,
		  -EMSGSIZE,
		  2044,
		  2044 },
		{ "exactly max", { 0x40, 0x00, 0x05, 0xd8 }, 1500, 1500, 1, 1500, 1500 },
		{ "three bytes", { 0x40, 0x00, 0x00, 0x00 }, 3, 1500, 0, 0, 0 },
	};
	static uint8_t buf[2048];
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		size_t len = 7, total = 7;
		memset(buf, 0, sizeof buf);
		memcpy(buf, rows[i].hdr, 4);
		int rc = iw_stun_frame_next(buf, rows[i].avail, rows[i].max, &len, &total);
		if (rc != rows[i].rc || (rc >= 0 && (len != rows[i].len || total != rows[i].total)))
			fail_msg("%s: rc %d len %zu total %zu", rows[i].name, rc, len, total);
	}
}

static void test_chandata_bad(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		uint8_t pkt[8];
		size_t len;
	} rows[] = {
		{ "channel below 0x4000", { 0x3f, 0xff, 0x00, 0x00 }, 4 },
		{ "channel above 0x4FFF", { 0x50, 0x00, 0x00, 0x00 }, 4 },
		{ "channel 0x7FFF reserved", { 0x7f, 0xff, 0x00, 0x00 }, 4 },
		{ "length past datagram", { 0x40, 0x00, 0x00, 0x05, 1, 2, 3, 4 }, 8 },
		{ "header truncated", { 0x40, 0x00, 0x00 }, 3 },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		uint16_t chan = 0, dlen = 0;
		print_message("chandata: %s\n", rows[i].name);
		assert_false(iw_chandata_parse(rows[i].pkt, rows[i].len, &chan, &dlen));
		assert_int_equal(iw_stun_classify(rows[i].pkt, rows[i].len), IW_PKT_OTHER);
	}
}

/* ---- malformed messages ---- */

#define COOKIE 0x21, 0x12, 0xa4, 0x42
#define TID 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12
#define HDR(len) 0x00, 0x01, 0x00, (len), COOKIE, TID

static const uint8_t p_trunc_hdr[] = { 0x00, 0x01, 0x00, 0x00, COOKIE, 1, 2, 3, 4, 5, 6, 7 };
static const uint8_t p_top_bits[] = { 0xc0, 0x01, 0x00, 0x00, COOKIE, TID };
static const uint8_t p_cookie[] = { 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x43, TID };
static const uint8_t p_len_mod4[] = { HDR(2), 0, 0 };
static const uint8_t p_len_past[] = { HDR(8), 0x80, 0x22, 0x00, 0x00 };
static const uint8_t p_trailing[] = { HDR(0), 0, 0, 0, 0 };
static const uint8_t p_attr_past[] = { HDR(8), 0x80, 0x22, 0x00, 0x08, 'a', 'b', 'c', 'd' };
static const uint8_t p_after_fp[] = { HDR(16), 0x80, 0x28, 0x00, 0x04, 1, 2, 3, 4,
				      0x80,    0x22, 0x00, 0x01, 'x',  0, 0, 0 };
static const uint8_t p_unknown_after_fp[] = { HDR(16), 0x80, 0x28, 0x00, 0x04, 1, 2, 3, 4,
					      0x7f,    0x01, 0x00, 0x00, 0,    0, 0, 0 };
static const uint8_t p_mi256_12[] = { HDR(16), 0x00, 0x1c, 0x00, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };

static void test_malformed_packets(void **state)
{
	(void)state;
	/* The "padding past message" rule cannot be reached once the header length is a
	 * multiple of 4 and each value fits: it stays in the decoder as a second guard. */
	static const struct {
		const char *name;
		const uint8_t *pkt;
		size_t len;
	} rows[] = {
		{ "truncated header", p_trunc_hdr, sizeof p_trunc_hdr },
		{ "empty datagram", p_trunc_hdr, 0 },
		{ "top two bits set", p_top_bits, sizeof p_top_bits },
		{ "wrong magic cookie", p_cookie, sizeof p_cookie },
		{ "length not a multiple of 4", p_len_mod4, sizeof p_len_mod4 },
		{ "length past the datagram", p_len_past, sizeof p_len_past },
		{ "bytes after the message", p_trailing, sizeof p_trailing },
		{ "attribute length past message", p_attr_past, sizeof p_attr_past },
		{ "attribute after FINGERPRINT", p_after_fp, sizeof p_after_fp },
		{ "unknown attribute after FINGERPRINT", p_unknown_after_fp, sizeof p_unknown_after_fp },
		{ "MESSAGE-INTEGRITY-SHA256 of 12 bytes", p_mi256_12, sizeof p_mi256_12 },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct iw_stun_msg m;
		const char *why = NULL;
		print_message("malformed: %s\n", rows[i].name);
		assert_int_equal(iw_stun_decode(&m, rows[i].pkt, rows[i].len, &why), -EBADMSG);
		assert_non_null(why);
		assert_true(strlen(why) > 0);
	}
}

/* One attribute with a bad value, wrapped in a valid header. Values longer than the row's
 * bytes are zero-filled. */
static const struct bad_attr {
	const char *name;
	uint16_t type;
	uint8_t val[8];
	size_t len;
} bad_attrs[] = {
	{ "LIFETIME of 3 bytes", STUN_ATTR_LIFETIME, { 0 }, 3 },
	{ "LIFETIME of 8 bytes", STUN_ATTR_LIFETIME, { 0 }, 8 },
	{ "CHANNEL-NUMBER of 2 bytes", STUN_ATTR_CHANNEL_NUMBER, { 0x40, 0x00 }, 2 },
	{ "MESSAGE-INTEGRITY of 16 bytes", STUN_ATTR_MESSAGE_INTEGRITY, { 0 }, 16 },
	{ "MESSAGE-INTEGRITY of 24 bytes", STUN_ATTR_MESSAGE_INTEGRITY, { 0 }, 24 },
	{ "MESSAGE-INTEGRITY-SHA256 of 12 bytes", STUN_ATTR_MESSAGE_INTEGRITY_SHA256, { 0 }, 12 },
	{ "MESSAGE-INTEGRITY-SHA256 of 18 bytes", STUN_ATTR_MESSAGE_INTEGRITY_SHA256, { 0 }, 18 },
	{ "MESSAGE-INTEGRITY-SHA256 of 36 bytes", STUN_ATTR_MESSAGE_INTEGRITY_SHA256, { 0 }, 36 },
	{ "FINGERPRINT of 8 bytes", STUN_ATTR_FINGERPRINT, { 0 }, 8 },
	{ "REQUESTED-TRANSPORT of 1 byte", STUN_ATTR_REQUESTED_TRANSPORT, { 17 }, 1 },
	{ "REQUESTED-ADDRESS-FAMILY of 8 bytes", STUN_ATTR_REQUESTED_ADDRESS_FAMILY, { 1 }, 8 },
	{ "ADDITIONAL-ADDRESS-FAMILY of 2 bytes", STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY, { 2 }, 2 },
	{ "EVEN-PORT of 4 bytes", STUN_ATTR_EVEN_PORT, { 0x80 }, 4 },
	{ "EVEN-PORT empty", STUN_ATTR_EVEN_PORT, { 0 }, 0 },
	{ "RESERVATION-TOKEN of 4 bytes", STUN_ATTR_RESERVATION_TOKEN, { 1, 2, 3, 4 }, 4 },
	{ "USERHASH of 20 bytes", STUN_ATTR_USERHASH, { 0 }, 20 },
	{ "DONT-FRAGMENT with a value", STUN_ATTR_DONT_FRAGMENT, { 0 }, 4 },
	{ "XOR-PEER-ADDRESS v6 in 8 bytes", STUN_ATTR_XOR_PEER_ADDRESS, { 0, 2, 0x12, 0x34 }, 8 },
	{ "XOR-PEER-ADDRESS v4 in 20 bytes", STUN_ATTR_XOR_PEER_ADDRESS, { 0, 1, 0x12, 0x34 }, 20 },
	{ "XOR-PEER-ADDRESS family 3", STUN_ATTR_XOR_PEER_ADDRESS, { 0, 3, 0x12, 0x34 }, 8 },
	{ "XOR-PEER-ADDRESS of 2 bytes", STUN_ATTR_XOR_PEER_ADDRESS, { 0, 1 }, 2 },
	{ "XOR-MAPPED-ADDRESS v4 in 12 bytes", STUN_ATTR_XOR_MAPPED_ADDRESS, { 0, 1 }, 12 },
	{ "XOR-RELAYED-ADDRESS family 0", STUN_ATTR_XOR_RELAYED_ADDRESS, { 0, 0 }, 8 },
	{ "ALTERNATE-SERVER v6 in 8 bytes", STUN_ATTR_ALTERNATE_SERVER, { 0, 2 }, 8 },
	{ "ERROR-CODE of 2 bytes", STUN_ATTR_ERROR_CODE, { 0, 0 }, 2 },
	{ "ERROR-CODE class 2", STUN_ATTR_ERROR_CODE, { 0, 0, 2, 0 }, 4 },
	{ "ERROR-CODE class 7", STUN_ATTR_ERROR_CODE, { 0, 0, 7, 0 }, 4 },
	{ "ERROR-CODE number 100", STUN_ATTR_ERROR_CODE, { 0, 0, 4, 100 }, 4 },
	{ "ERROR-CODE reason of 763 bytes", STUN_ATTR_ERROR_CODE, { 0, 0, 4, 0 }, 4 + 763 },
	{ "USERNAME of 513 bytes", STUN_ATTR_USERNAME, { 'u' }, 513 },
	{ "REALM of 763 bytes", STUN_ATTR_REALM, { 'r' }, 763 },
	{ "NONCE of 763 bytes", STUN_ATTR_NONCE, { 'n' }, 763 },
	{ "SOFTWARE of 763 bytes", STUN_ATTR_SOFTWARE, { 's' }, 763 },
	{ "PASSWORD-ALGORITHM of 2 bytes", STUN_ATTR_PASSWORD_ALGORITHM, { 0, 1 }, 2 },
	{ "PASSWORD-ALGORITHM parameters past value", STUN_ATTR_PASSWORD_ALGORITHM, { 0, 1, 0, 8 }, 4 },
	{ "PASSWORD-ALGORITHM trailing bytes", STUN_ATTR_PASSWORD_ALGORITHM, { 0, 1, 0, 0 }, 8 },
	{ "PASSWORD-ALGORITHMS entry truncated", STUN_ATTR_PASSWORD_ALGORITHMS, { 0, 1, 0, 0, 0, 2 }, 6 },
	{ "PASSWORD-ALGORITHMS parameters past value",
	  STUN_ATTR_PASSWORD_ALGORITHMS,
	  { 0, 1, 0, 4, 1, 2 },
	  6 },
	{ "UNKNOWN-ATTRIBUTES of odd length", STUN_ATTR_UNKNOWN_ATTRIBUTES, { 0, 0x31, 0 }, 3 },
	{ "ICMP of 4 bytes", STUN_ATTR_ICMP, { 0 }, 4 },
	{ "CHANGE-REQUEST of 2 bytes", STUN_ATTR_CHANGE_REQUEST, { 0, 6 }, 2 },
	{ "CHANGE-REQUEST of 8 bytes", STUN_ATTR_CHANGE_REQUEST, { 0, 0, 0, 6 }, 8 },
	{ "OTHER-ADDRESS v4 in 20 bytes", STUN_ATTR_OTHER_ADDRESS, { 0, 1, 0x0d, 0x97 }, 20 },
	{ "OTHER-ADDRESS family 3", STUN_ATTR_OTHER_ADDRESS, { 0, 3, 0x0d, 0x97 }, 8 },
	{ "RESPONSE-ORIGIN v6 in 8 bytes", STUN_ATTR_RESPONSE_ORIGIN, { 0, 2, 0x0d, 0x96 }, 8 },
	{ "CONNECTION-ID of 2 bytes", STUN_ATTR_CONNECTION_ID, { 0x12, 0x34 }, 2 },
	{ "CONNECTION-ID of 8 bytes", STUN_ATTR_CONNECTION_ID, { 0x12, 0x34, 0x56, 0x78 }, 8 },
};

static size_t build_one(uint8_t *buf, size_t cap, uint16_t type, const uint8_t *val, size_t vlen, size_t len)
{
	size_t total = STUN_HEADER_LEN + 4 + iw_pad4(len);
	assert_true(total <= cap);
	memset(buf, 0, total);
	iw_put_be16(buf, 0x0001);
	iw_put_be16(buf + 2, (uint16_t)(total - STUN_HEADER_LEN));
	iw_put_be32(buf + 4, STUN_MAGIC_COOKIE);
	memcpy(buf + 8, tid0, STUN_TID_LEN);
	iw_put_be16(buf + 20, type);
	iw_put_be16(buf + 22, (uint16_t)len);
	memcpy(buf + 24, val, vlen < len ? vlen : len);
	return total;
}

static void test_malformed_attrs(void **state)
{
	(void)state;
	static uint8_t buf[2048];
	for (size_t i = 0; i < sizeof bad_attrs / sizeof bad_attrs[0]; i++) {
		const struct bad_attr *b = &bad_attrs[i];
		struct iw_stun_msg m;
		const char *why = NULL;
		size_t n = build_one(buf, sizeof buf, b->type, b->val, sizeof b->val, b->len);
		print_message("malformed attr: %s\n", b->name);
		assert_int_equal(iw_stun_classify(buf, n), IW_PKT_STUN);
		assert_int_equal(iw_stun_decode(&m, buf, n, &why), -EBADMSG);
		assert_non_null(why);
	}
}

/* RFC 6062 §6.2: CONNECTION-ID is 4 bytes, read big-endian, in a ConnectionBind request. */
static void test_connection_id(void **state)
{
	(void)state;
	static uint8_t buf[64];
	static const uint8_t cid[4] = { 0xde, 0xad, 0xbe, 0xef };
	struct iw_stun_msg m;
	const char *why = NULL;
	size_t n = build_one(buf, sizeof buf, STUN_ATTR_CONNECTION_ID, cid, sizeof cid, 4);
	iw_put_be16(buf, STUN_TYPE(TURN_METHOD_CONNECTION_BIND, STUN_CLASS_REQUEST));
	assert_int_equal(iw_stun_decode(&m, buf, n, &why), 0);
	assert_int_equal(m.method, TURN_METHOD_CONNECTION_BIND);
	assert_true(m.present & IW_STUN_HAS_CONN_ID);
	assert_int_equal(m.conn_id, 0xdeadbeef);
	assert_int_equal(m.n_unknown, 0);
}

/* The limits are exclusive: one byte less is accepted. */
static void test_length_limits_accepted(void **state)
{
	(void)state;
	static uint8_t buf[2048];
	static const struct {
		uint16_t type;
		size_t len;
	} ok[] = {
		{ STUN_ATTR_USERNAME, 512 },
		{ STUN_ATTR_REALM, 762 },
		{ STUN_ATTR_NONCE, 762 },
		{ STUN_ATTR_SOFTWARE, 762 },
		{ STUN_ATTR_MESSAGE_INTEGRITY_SHA256, 16 },
		{ STUN_ATTR_MESSAGE_INTEGRITY_SHA256, 20 },
		{ STUN_ATTR_MESSAGE_INTEGRITY_SHA256, 28 },
		{ STUN_ATTR_DATA, 0 },
		{ STUN_ATTR_DATA, 1001 },
	};
	const uint8_t zero[1] = { 0 };
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		struct iw_stun_msg m;
		const char *why = NULL;
		size_t n = build_one(buf, sizeof buf, ok[i].type, zero, 1, ok[i].len);
		assert_int_equal(iw_stun_decode(&m, buf, n, &why), 0);
	}
}

/* ---- decoder rules on well-formed input ---- */

static void test_turn_attrs(void **state)
{
	(void)state;
	uint8_t buf[512];
	struct iw_stun_wr s;
	struct iw_stun_msg m;
	const char *why = NULL;
	const uint8_t rt[4] = { TURN_TRANSPORT_UDP, 0, 0, 0 };
	const uint8_t fam[4] = { STUN_FAMILY_IPV6, 0, 0, 0 };
	const uint8_t even[1] = { 0x80 };
	const uint8_t tok[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	const uint8_t algs[12] = { 0, 2, 0, 0, 0, 1, 0, 2, 0xaa, 0xbb, 0, 0 };
	const uint8_t icmp[8] = { 0, 0, 3, 1, 0, 0, 0, 0 };
	struct iw_addr relayed = mk4(198, 51, 100, 7, 50000);
	struct iw_addr alt = mk4(203, 0, 113, 9, 3478);

	iw_stun_wr_init(&s, buf, sizeof buf, TURN_METHOD_ALLOCATE, STUN_CLASS_REQUEST, tid0);
	iw_stun_wr_attr(&s, STUN_ATTR_REQUESTED_TRANSPORT, rt, 4);
	iw_stun_wr_attr(&s, STUN_ATTR_REQUESTED_ADDRESS_FAMILY, fam, 4);
	iw_stun_wr_attr(&s, STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY, fam, 4);
	iw_stun_wr_attr(&s, STUN_ATTR_EVEN_PORT, even, 1);
	iw_stun_wr_attr(&s, STUN_ATTR_DONT_FRAGMENT, NULL, 0);
	iw_stun_wr_attr(&s, STUN_ATTR_RESERVATION_TOKEN, tok, 8);
	iw_stun_wr_u32(&s, STUN_ATTR_LIFETIME, 600);
	iw_stun_wr_u32(&s, STUN_ATTR_CHANNEL_NUMBER, 0x40010000);
	iw_stun_wr_attr(&s, STUN_ATTR_PASSWORD_ALGORITHMS, algs, sizeof algs);
	iw_stun_wr_attr(&s, STUN_ATTR_ICMP, icmp, sizeof icmp);
	iw_stun_wr_attr(&s, STUN_ATTR_MOBILITY_TICKET, "tkt", 3);
	iw_stun_wr_xaddr(&s, STUN_ATTR_XOR_RELAYED_ADDRESS, &relayed);
	iw_stun_wr_addr(&s, STUN_ATTR_ALTERNATE_SERVER, &alt);
	int n = iw_stun_wr_finish(&s);
	assert_true(n > 0);
	assert_int_equal(iw_be16(buf + 2), n - STUN_HEADER_LEN);

	assert_int_equal(iw_stun_decode(&m, buf, (size_t)n, &why), 0);
	assert_int_equal(m.method, TURN_METHOD_ALLOCATE);
	assert_int_equal(m.req_transport, TURN_TRANSPORT_UDP);
	assert_int_equal(m.req_family, STUN_FAMILY_IPV6);
	assert_int_equal(m.add_family, STUN_FAMILY_IPV6);
	assert_true(m.present & IW_STUN_HAS_EVEN_PORT);
	assert_true(m.even_port_reserve);
	assert_true(m.present & IW_STUN_HAS_DONT_FRAGMENT);
	assert_view(m.res_token, tok, 8);
	assert_int_equal(m.lifetime, 600);
	assert_int_equal(m.channel, 0x4001);
	assert_int_equal(m.n_pw_algs, 2);
	assert_int_equal(m.pw_algs[0], STUN_PASSWORD_ALG_SHA256);
	assert_int_equal(m.pw_algs[1], STUN_PASSWORD_ALG_MD5);
	assert_view(m.pw_algs_raw, algs, sizeof algs);
	assert_true(m.present & IW_STUN_HAS_ICMP);
	assert_true(m.present & IW_STUN_HAS_MOBILITY);
	assert_view(m.mobility, "tkt", 3);
	assert_addr(&m.relayed, &relayed);
	assert_addr(&m.alt_server, &alt);
	/* The plain address is not XORed on the wire. */
	assert_int_equal(iw_be16(buf + n - 6), 3478);
}

/* RFC 5780 §7: a Binding request with CHANGE-REQUEST (change IP and port), and the answer's
 * RESPONSE-ORIGIN and OTHER-ADDRESS, byte for byte: plain addresses in the MAPPED-ADDRESS
 * format (family, port, address; not XORed). */
static void test_rfc5780_known_answer(void **state)
{
	(void)state;
	static const uint8_t req[] = {
		0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42, 1,  2,
		3,    4,    5,    6,    7,    8,    9,    10,   11, 12, /* header, tid0 */
		0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x00, 0x06,         /* CHANGE-REQUEST: IP and port */
	};
	static const uint8_t ans[] = {
		0x01, 0x01, 0x00, 0x30, 0x21, 0x12, 0xa4, 0x42, 1,    2,    3,    4,    5,
		6,    7,    8,    9,    10,   11,   12,                                 /* header, tid0 */
		0x80, 0x2b, 0x00, 0x08, 0x00, 0x01, 0x0d, 0x97, 0x7f, 0x00, 0x00, 0x02, /* 127.0.0.2:3479 */
		0x80, 0x2c, 0x00, 0x08, 0x00, 0x01, 0x0d, 0x97, 0x7f, 0x00, 0x00, 0x02, 0x80,
		0x2c, 0x00, 0x14, 0x00, 0x02, 0x0d, 0x96, 0x20, 0x01, 0x0d, 0xb8, /* [2001:db8::1]:3478 */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	};
	uint8_t buf[128];
	struct iw_stun_wr s;
	struct iw_stun_msg m;
	const char *why = NULL;
	static const uint8_t ip6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	struct iw_addr origin = mk4(127, 0, 0, 2, 3479), other6 = mk6(ip6, 3478);

	iw_stun_wr_init(&s, buf, sizeof buf, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid0);
	iw_stun_wr_u32(&s, STUN_ATTR_CHANGE_REQUEST, STUN_CHANGE_IP | STUN_CHANGE_PORT);
	int n = iw_stun_wr_finish(&s);
	assert_int_equal(n, sizeof req);
	assert_memory_equal(buf, req, sizeof req);
	assert_int_equal(iw_stun_decode(&m, req, sizeof req, &why), 0);
	assert_true(m.present & IW_STUN_HAS_CHANGE_REQ);
	assert_int_equal(m.change_flags, STUN_CHANGE_IP | STUN_CHANGE_PORT);
	assert_int_equal(m.n_unknown, 0); /* known: never a 420 by itself */

	/* The second OTHER-ADDRESS is a duplicate: only the first counts (RFC 8489 §14). */
	iw_stun_wr_init(&s, buf, sizeof buf, STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, tid0);
	iw_stun_wr_addr(&s, STUN_ATTR_RESPONSE_ORIGIN, &origin);
	iw_stun_wr_addr(&s, STUN_ATTR_OTHER_ADDRESS, &origin);
	iw_stun_wr_addr(&s, STUN_ATTR_OTHER_ADDRESS, &other6);
	n = iw_stun_wr_finish(&s);
	assert_int_equal(n, sizeof ans);
	assert_memory_equal(buf, ans, sizeof ans);
	assert_int_equal(iw_stun_decode(&m, ans, sizeof ans, &why), 0);
	assert_true(m.present & IW_STUN_HAS_RESP_ORIGIN);
	assert_true(m.present & IW_STUN_HAS_OTHER_ADDR);
	assert_addr(&m.resp_origin, &origin);
	assert_addr(&m.other_addr, &origin);
	assert_int_equal(m.n_unknown, 0);

	/* Only the A and B bits mean anything; the others are ignored. */
	const uint8_t v[4] = { 0xff, 0xff, 0xff, 0xf9 };
	size_t len = build_one(buf, sizeof buf, STUN_ATTR_CHANGE_REQUEST, v, sizeof v, sizeof v);
	assert_int_equal(iw_stun_decode(&m, buf, len, &why), 0);
	assert_int_equal(m.change_flags, 0);
	/* RESPONSE-PORT stays unknown: the relay answers it with 420 (see turn/control.c). */
	const uint8_t rp[4] = { 0x0d, 0x96, 0, 0 };
	len = build_one(buf, sizeof buf, STUN_ATTR_RESPONSE_PORT, rp, sizeof rp, sizeof rp);
	assert_int_equal(iw_stun_decode(&m, buf, len, &why), 0);
	assert_int_equal(m.n_unknown, 1);
	assert_int_equal(m.unknown[0], STUN_ATTR_RESPONSE_PORT);
}

/* RFC 8656 §18.1: the RFFU bits of CHANNEL-NUMBER are ignored on reception. */
static void test_channel_rffu_ignored(void **state)
{
	(void)state;
	uint8_t buf[64];
	struct iw_stun_msg m;
	const char *why = NULL;
	const uint8_t v[4] = { 0x4a, 0xbc, 0xff, 0x01 };
	size_t n = build_one(buf, sizeof buf, STUN_ATTR_CHANNEL_NUMBER, v, sizeof v, sizeof v);
	assert_int_equal(iw_stun_decode(&m, buf, n, &why), 0);
	assert_true(m.present & IW_STUN_HAS_CHANNEL);
	assert_int_equal(m.channel, 0x4abc);
}

static void test_unknown_and_duplicates(void **state)
{
	(void)state;
	uint8_t buf[1024];
	struct iw_stun_wr s;
	struct iw_stun_msg m;
	const char *why = NULL;
	iw_stun_wr_init(&s, buf, sizeof buf, TURN_METHOD_REFRESH, STUN_CLASS_REQUEST, tid0);
	iw_stun_wr_u32(&s, STUN_ATTR_LIFETIME, 10);
	iw_stun_wr_u32(&s, STUN_ATTR_LIFETIME, 20); /* duplicate: first one wins */
	iw_stun_wr_attr(&s, 0x0031, "a", 1);        /* unknown, comprehension-required */
	iw_stun_wr_attr(&s, 0x7fff, NULL, 0);       /* unknown, comprehension-required */
	iw_stun_wr_attr(&s, 0x0031, "b", 1);        /* repeated: listed once */
	iw_stun_wr_attr(&s, 0xc001, "opt", 3);      /* unknown, comprehension-optional */
	iw_stun_wr_attr(&s, STUN_ATTR_USERNAME, "first", 5);
	iw_stun_wr_attr(&s, STUN_ATTR_USERNAME, "second", 6);
	for (uint16_t i = 0; i < 10; i++)
		iw_stun_wr_attr(&s, (uint16_t)(0x0040 + i), NULL, 0);
	int n = iw_stun_wr_finish(&s);
	assert_true(n > 0);
	assert_int_equal(iw_stun_decode(&m, buf, (size_t)n, &why), 0);
	assert_int_equal(m.lifetime, 10);
	assert_view(m.username, "first", 5);
	assert_int_equal(m.n_unknown, STUN_MAX_UNKNOWN);
	assert_int_equal(m.unknown[0], 0x0031);
	assert_int_equal(m.unknown[1], 0x7fff);
	assert_int_equal(m.unknown[2], 0x0040);
}

static void test_peers_repeat(void **state)
{
	(void)state;
	uint8_t buf[512];
	struct iw_stun_wr s;
	struct iw_stun_msg m;
	const char *why = NULL;
	iw_stun_wr_init(&s, buf, sizeof buf, TURN_METHOD_CREATE_PERMISSION, STUN_CLASS_REQUEST, tid0);
	for (uint8_t i = 0; i < STUN_MAX_PEERS; i++) {
		struct iw_addr a = mk4(192, 0, 2, (uint8_t)(i + 1), (uint16_t)(1000 + i));
		iw_stun_wr_xaddr(&s, STUN_ATTR_XOR_PEER_ADDRESS, &a);
	}
	int n = iw_stun_wr_finish(&s);
	assert_int_equal(iw_stun_decode(&m, buf, (size_t)n, &why), 0);
	assert_int_equal(m.n_peers, STUN_MAX_PEERS);
	assert_false(m.peers_overflow);
	for (uint8_t i = 0; i < STUN_MAX_PEERS; i++) {
		struct iw_addr a = mk4(192, 0, 2, (uint8_t)(i + 1), (uint16_t)(1000 + i));
		assert_addr(&m.peers[i], &a);
	}

	struct iw_addr extra = mk6(rfc5769_v6ip, 9);
	iw_stun_wr_xaddr(&s, STUN_ATTR_XOR_PEER_ADDRESS, &extra);
	n = iw_stun_wr_finish(&s);
	assert_int_equal(iw_stun_decode(&m, buf, (size_t)n, &why), 0);
	assert_int_equal(m.n_peers, STUN_MAX_PEERS);
	assert_true(m.peers_overflow);
}

static void test_after_integrity_ignored(void **state)
{
	(void)state;
	uint8_t buf[512];
	struct iw_stun_wr s;
	struct iw_stun_msg m;
	const char *why = NULL;
	const uint8_t key[] = "secret";
	iw_stun_wr_init(&s, buf, sizeof buf, TURN_METHOD_REFRESH, STUN_CLASS_REQUEST, tid0);
	iw_stun_wr_u32(&s, STUN_ATTR_LIFETIME, 0);
	iw_stun_wr_integrity(&s, key, 6);
	/* RFC 8489 §14.5: everything but MI-SHA256 and FINGERPRINT after MI is ignored. */
	iw_stun_wr_attr(&s, STUN_ATTR_SOFTWARE, "late", 4);
	iw_stun_wr_attr(&s, 0x0031, NULL, 0);
	iw_stun_wr_u32(&s, STUN_ATTR_LIFETIME, 99);
	int n = iw_stun_wr_finish(&s);
	assert_int_equal(iw_stun_decode(&m, buf, (size_t)n, &why), 0);
	assert_false(m.present & IW_STUN_HAS_SOFTWARE);
	assert_int_equal(m.n_unknown, 0);
	assert_int_equal(m.lifetime, 0);
	assert_true(iw_stun_check_integrity(&m, key, 6));
}

/* ---- encoder ---- */

static void test_encode_error(void **state)
{
	(void)state;
	uint8_t buf[128];
	struct iw_stun_wr s;
	struct iw_stun_msg m;
	const char *why = NULL;
	iw_stun_wr_init(&s, buf, sizeof buf, TURN_METHOD_ALLOCATE, STUN_CLASS_ERROR, tid0);
	iw_stun_wr_error(&s, STUN_ERR_UNAUTHORIZED, NULL);
	int n = iw_stun_wr_finish(&s);
	/* RFC 8489 §14.8: 0 0 class number, then the reason phrase, padded. */
	const uint8_t want[] = { 0x00, 0x09, 0x00, 0x10, 0x00, 0x00, 0x04, 0x01, 'U', 'n',
				 'a',  'u',  't',  'h',  'o',  'r',  'i',  'z',  'e', 'd' };
	assert_int_equal(n, STUN_HEADER_LEN + sizeof want);
	assert_int_equal(iw_be16(buf), 0x0113);
	assert_memory_equal(buf + STUN_HEADER_LEN, want, sizeof want);
	assert_int_equal(iw_stun_decode(&m, buf, (size_t)n, &why), 0);
	assert_int_equal(m.cls, STUN_CLASS_ERROR);
	assert_int_equal(m.error_code, 401);
	assert_view(m.reason, "Unauthorized", 12);

	iw_stun_wr_init(&s, buf, sizeof buf, TURN_METHOD_ALLOCATE, STUN_CLASS_ERROR, tid0);
	iw_stun_wr_error(&s, STUN_ERR_STALE_NONCE, "nonce expired");
	n = iw_stun_wr_finish(&s);
	assert_int_equal(n, STUN_HEADER_LEN + 4 + 20); /* 4 + 13 bytes, padded */
	assert_int_equal(buf[STUN_HEADER_LEN + 6], 4);
	assert_int_equal(buf[STUN_HEADER_LEN + 7], 38);
	assert_memory_equal(buf + STUN_HEADER_LEN + 8, "nonce expired\0\0\0", 16);
	assert_int_equal(iw_stun_decode(&m, buf, (size_t)n, &why), 0);
	assert_int_equal(m.error_code, 438);

	assert_string_equal(iw_stun_err_reason(STUN_ERR_STALE_NONCE), "Stale Nonce");
	assert_string_equal(iw_stun_err_reason(STUN_ERR_ALLOCATION_QUOTA), "Allocation Quota Reached");
	assert_string_equal(iw_stun_err_reason(499), "Error");
}

static void test_encode_unknown(void **state)
{
	(void)state;
	uint8_t buf[128];
	struct iw_stun_wr s;
	struct iw_stun_msg m;
	const char *why = NULL;
	const uint16_t types[3] = { 0x0031, 0x7fff, 0x0027 };
	iw_stun_wr_init(&s, buf, sizeof buf, STUN_METHOD_BINDING, STUN_CLASS_ERROR, tid0);
	iw_stun_wr_error(&s, STUN_ERR_UNKNOWN_ATTRIBUTE, NULL);
	size_t at = iw_wr_len(&s.w);
	iw_stun_wr_unknown(&s, types, 3);
	int n = iw_stun_wr_finish(&s);
	/* Three types: 6 bytes, then 2 bytes of zero padding (RFC 8489 §14.13). */
	const uint8_t want[] = { 0x00, 0x0a, 0x00, 0x06, 0x00, 0x31, 0x7f, 0xff, 0x00, 0x27, 0, 0 };
	assert_int_equal((size_t)n, at + sizeof want);
	assert_memory_equal(buf + at, want, sizeof want);
	assert_int_equal(iw_stun_decode(&m, buf, (size_t)n, &why), 0);
	assert_true(m.present & IW_STUN_HAS_UNKNOWN);
	assert_int_equal(m.n_unknown_attrs, 3);
	assert_int_equal(m.unknown_attrs[0], 0x0031);
	assert_int_equal(m.unknown_attrs[2], 0x0027);
	assert_int_equal(m.error_code, 420);
}

/* ADDRESS-ERROR-CODE, built by hand from RFC 8656 §18.12 (Family, 13 reserved bits, Class in
 * 3 bits, Number) with the reason phrase as in RFC 8489 §14.8. */
static void test_encode_addr_error(void **state)
{
	(void)state;
	uint8_t buf[128];
	struct iw_stun_wr s;
	struct iw_stun_msg m;
	const char *why = NULL;
	iw_stun_wr_init(&s, buf, sizeof buf, TURN_METHOD_ALLOCATE, STUN_CLASS_SUCCESS, tid0);
	iw_stun_wr_addr_error(&s, STUN_FAMILY_IPV6, STUN_ERR_INSUFFICIENT_CAPACITY, "Insufficient Capacity");
	int n = iw_stun_wr_finish(&s);
	/* type 0x8001, length 4 + 21, IPv6 (0x02), reserved, class 5, number 8, 21 bytes of
	 * reason and 3 of padding. */
	const uint8_t want[] = { 0x80, 0x01, 0x00, 0x19, 0x02, 0x00, 0x05, 0x08, 'I',  'n', 's',
				 'u',  'f',  'f',  'i',  'c',  'i',  'e',  'n',  't',  ' ', 'C',
				 'a',  'p',  'a',  'c',  'i',  't',  'y',  0x00, 0x00, 0x00 };
	assert_int_equal(n, STUN_HEADER_LEN + sizeof want);
	assert_int_equal(iw_be16(buf + 2), sizeof want);
	assert_memory_equal(buf + STUN_HEADER_LEN, want, sizeof want);
	/* Comprehension-optional (0x8000-0xFFFF): a decoder that does not know it skips it. */
	assert_int_equal(iw_stun_decode(&m, buf, (size_t)n, &why), 0);
	assert_int_equal(m.n_unknown, 0);

	/* No reason: the RFC's phrase, 28 bytes, no padding; an IPv4 family byte. */
	iw_stun_wr_init(&s, buf, sizeof buf, TURN_METHOD_ALLOCATE, STUN_CLASS_SUCCESS, tid0);
	iw_stun_wr_addr_error(&s, STUN_FAMILY_IPV4, STUN_ERR_ADDRESS_FAMILY, NULL);
	n = iw_stun_wr_finish(&s);
	const uint8_t want440[] = { 0x80, 0x01, 0x00, 0x20, 0x01, 0x00, 0x04, 0x28 };
	assert_int_equal(n, STUN_HEADER_LEN + sizeof want440 + 28);
	assert_memory_equal(buf + STUN_HEADER_LEN, want440, sizeof want440);
	assert_memory_equal(buf + STUN_HEADER_LEN + sizeof want440, "Address Family not Supported", 28);
}

static void test_encode_overflow(void **state)
{
	(void)state;
	uint8_t buf[64];
	struct iw_stun_wr s;
	uint8_t big[64] = { 0 };

	iw_stun_wr_init(&s, buf, 19, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid0);
	assert_int_equal(iw_stun_wr_finish(&s), -EMSGSIZE);

	iw_stun_wr_init(&s, buf, sizeof buf, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid0);
	iw_stun_wr_attr(&s, STUN_ATTR_SOFTWARE, big, 40); /* 20 + 44 = 64: fits exactly */
	assert_int_equal(iw_stun_wr_finish(&s), 64);
	iw_stun_wr_u32(&s, STUN_ATTR_LIFETIME, 1);
	assert_int_equal(iw_stun_wr_finish(&s), -EMSGSIZE);
	/* Later writes do nothing, even small ones. */
	iw_stun_wr_attr(&s, STUN_ATTR_DONT_FRAGMENT, NULL, 0);
	assert_int_equal(iw_stun_wr_finish(&s), -EMSGSIZE);

	/* Padding counts: 41 bytes need 44. */
	iw_stun_wr_init(&s, buf, sizeof buf, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid0);
	iw_stun_wr_attr(&s, STUN_ATTR_SOFTWARE, big, 41);
	assert_int_equal(iw_stun_wr_finish(&s), -EMSGSIZE);

	/* MESSAGE-INTEGRITY and FINGERPRINT that do not fit. */
	iw_stun_wr_init(&s, buf, 40, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid0);
	iw_stun_wr_integrity(&s, (const uint8_t *)"k", 1);
	assert_int_equal(iw_stun_wr_finish(&s), -EMSGSIZE);
	iw_stun_wr_init(&s, buf, 27, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid0);
	iw_stun_wr_fingerprint(&s);
	assert_int_equal(iw_stun_wr_finish(&s), -EMSGSIZE);
	iw_stun_wr_init(&s, buf, 40, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid0);
	iw_stun_wr_integrity_sha256(&s, (const uint8_t *)"k", 1);
	assert_int_equal(iw_stun_wr_finish(&s), -EMSGSIZE);

	/* An address with no family cannot be written. */
	struct iw_addr none;
	memset(&none, 0, sizeof none);
	iw_stun_wr_init(&s, buf, sizeof buf, STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, tid0);
	iw_stun_wr_xaddr(&s, STUN_ATTR_XOR_MAPPED_ADDRESS, &none);
	assert_int_equal(iw_stun_wr_finish(&s), -EMSGSIZE);
}

/* ---- Data indication ---- */

static void check_data_ind(const struct iw_addr *peer, size_t plen)
{
	enum { CAP = IW_STUN_DATA_IND_HEADROOM + 1500 + IW_STUN_TAILROOM };
	static uint8_t buf[CAP];
	uint8_t *payload = buf + IW_STUN_DATA_IND_HEADROOM;
	memset(buf, 0xee, sizeof buf);
	for (size_t i = 0; i < plen; i++)
		payload[i] = (uint8_t)(i * 7 + 1);

	size_t total = 0;
	uint8_t *start = iw_stun_data_ind_wrap(payload, plen, peer, tid0, &total);
	assert_non_null(start);
	size_t head = STUN_HEADER_LEN + 4 + (peer->family == AF_INET ? 8 : 20) + 4;
	assert_true(start == payload - head);
	assert_int_equal(total, head + iw_pad4(plen));
	/* The payload did not move and was not touched. */
	for (size_t i = 0; i < plen; i++)
		assert_int_equal(payload[i], (uint8_t)(i * 7 + 1));
	for (size_t i = plen; i < iw_pad4(plen); i++)
		assert_int_equal(payload[i], 0);
	/* Nothing after the padding and nothing before the header was written. */
	assert_int_equal(payload[iw_pad4(plen)], 0xee);
	if (start > buf)
		assert_int_equal(start[-1], 0xee);

	struct iw_stun_msg m;
	const char *why = NULL;
	assert_int_equal(iw_stun_classify(start, total), IW_PKT_STUN);
	assert_int_equal(iw_stun_decode(&m, start, total, &why), 0);
	assert_int_equal(m.method, TURN_METHOD_DATA);
	assert_int_equal(m.cls, STUN_CLASS_INDICATION);
	assert_memory_equal(m.tid, tid0, STUN_TID_LEN);
	assert_int_equal(m.n_peers, 1);
	assert_addr(&m.peers[0], peer);
	assert_true(m.present & IW_STUN_HAS_DATA);
	assert_true(m.data.p == payload);
	assert_int_equal(m.data.len, plen);
}

static void test_data_ind_wrap(void **state)
{
	(void)state;
	struct iw_addr v4 = mk4(192, 0, 2, 33, 40000);
	struct iw_addr v6 = mk6(rfc5769_v6ip, 65535);
	const size_t lens[] = { 0, 1, 2, 3, 4, 5, 160, 1199, 1500 };
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		check_data_ind(&v4, lens[i]);
		check_data_ind(&v6, lens[i]);
	}
	struct iw_addr none;
	size_t total = 1;
	uint8_t buf[IW_STUN_DATA_IND_HEADROOM + 8];
	memset(&none, 0, sizeof none);
	assert_null(iw_stun_data_ind_wrap(buf + IW_STUN_DATA_IND_HEADROOM, 4, &none, tid0, &total));
	assert_int_equal(total, 0);
}

/* RFC 8016: an empty MOBILITY-TICKET is a request for one; a longer one than any ticket of
 * ours is malformed. */
static void test_mobility_ticket(void **state)
{
	(void)state;
	uint8_t buf[600], big[STUN_MAX_MOBILITY_TICKET + 4];
	struct iw_stun_wr s;
	struct iw_stun_msg m;
	const char *why = NULL;
	memset(big, 'a', sizeof big);
	iw_stun_wr_init(&s, buf, sizeof buf, TURN_METHOD_ALLOCATE, STUN_CLASS_REQUEST, tid0);
	iw_stun_wr_attr(&s, STUN_ATTR_MOBILITY_TICKET, NULL, 0);
	int n = iw_stun_wr_finish(&s);
	assert_int_equal(iw_stun_decode(&m, buf, (size_t)n, &why), 0);
	assert_true(m.present & IW_STUN_HAS_MOBILITY);
	assert_int_equal(m.mobility.len, 0);
	iw_stun_wr_init(&s, buf, sizeof buf, TURN_METHOD_REFRESH, STUN_CLASS_REQUEST, tid0);
	iw_stun_wr_attr(&s, STUN_ATTR_MOBILITY_TICKET, big, sizeof big);
	n = iw_stun_wr_finish(&s);
	assert_true(n > 0);
	assert_int_equal(iw_stun_decode(&m, buf, (size_t)n, &why), -EBADMSG);
	assert_string_equal(why, "MOBILITY-TICKET too long");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_bits),
		cmocka_unit_test(test_rfc5769_request),
		cmocka_unit_test(test_rfc5769_request_bitflip),
		cmocka_unit_test(test_rfc5769_request_reencode),
		cmocka_unit_test(test_rfc5769_ipv4_response),
		cmocka_unit_test(test_rfc5769_ipv6_response),
		cmocka_unit_test(test_rfc5769_long_term),
		cmocka_unit_test(test_rfc8489_b1),
		cmocka_unit_test(test_rfc8489_b1_as_printed),
		cmocka_unit_test(test_coturn_capture),
		cmocka_unit_test(test_coturn_fields),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_chandata_bad),
		cmocka_unit_test(test_frame_next),
		cmocka_unit_test(test_malformed_packets),
		cmocka_unit_test(test_malformed_attrs),
		cmocka_unit_test(test_connection_id),
		cmocka_unit_test(test_length_limits_accepted),
		cmocka_unit_test(test_turn_attrs),
		cmocka_unit_test(test_channel_rffu_ignored),
		cmocka_unit_test(test_unknown_and_duplicates),
		cmocka_unit_test(test_peers_repeat),
		cmocka_unit_test(test_after_integrity_ignored),
		cmocka_unit_test(test_encode_error),
		cmocka_unit_test(test_encode_unknown),
		cmocka_unit_test(test_encode_addr_error),
		cmocka_unit_test(test_encode_overflow),
		cmocka_unit_test(test_data_ind_wrap),
		cmocka_unit_test(test_rfc5780_known_answer),
		cmocka_unit_test(test_mobility_ticket),
	};
	return cmocka_run_group_tests_name("stun", tests, NULL, NULL);
}
