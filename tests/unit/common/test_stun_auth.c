/* Tests for common/stun_auth.c: CRC-32, long-term keys, USERHASH, MESSAGE-INTEGRITY,
 * MESSAGE-INTEGRITY-SHA256 (full and truncated) and FINGERPRINT. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/cred.h"
#include "common/stun.h"
#include "common/stun_auth.h"
#include "tests/vectors/rfc5769.h"
#include "tests/vectors/rfc8489.h"

static const uint8_t tid0[STUN_TID_LEN] = { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0xaa, 0x55 };

static void test_crc32(void **state)
{
	(void)state;
	/* The CRC-32/ISO-HDLC check value. */
	assert_int_equal(iw_crc32((const uint8_t *)"123456789", 9), 0xCBF43926u);
	assert_int_equal(iw_crc32((const uint8_t *)"", 0), 0);
	assert_int_equal(iw_crc32((const uint8_t *)"a", 1), 0xE8B7BE43u);
	/* RFC 5769 §2.1: FINGERPRINT = CRC-32 of everything before it XOR 0x5354554e. */
	assert_int_equal(iw_crc32(rfc5769_req, 100) ^ STUN_FINGERPRINT_XOR, iw_be32(rfc5769_req + 104));
}

static void test_lt_key(void **state)
{
	(void)state;
	uint8_t key[IW_STUN_KEY_MAX];
	/* MD5 / SHA-256 of "マトリックス:example.org:TheMatrIX", computed independently. */
	const uint8_t md5[16] = { 0xe8, 0xca, 0x7a, 0xd5, 0x9d, 0x5e, 0xb0, 0x51,
				  0x8e, 0x31, 0x29, 0x11, 0xd2, 0xda, 0xb2, 0xa9 };
	const uint8_t sha[32] = { 0xdd, 0x29, 0x5a, 0x61, 0x3b, 0x90, 0x58, 0xc3, 0xc2, 0x3d, 0x6d,
				  0xc7, 0x16, 0x5b, 0xda, 0x07, 0x23, 0x04, 0xd9, 0x89, 0xc9, 0xd0,
				  0xaf, 0x3a, 0x8c, 0x7e, 0x18, 0x4b, 0x4f, 0x9b, 0xb4, 0xa1 };
	size_t ul = sizeof rfc5769_lt_user - 1, rl = sizeof rfc5769_lt_realm - 1,
	       pl = sizeof rfc5769_lt_pass - 1;
	assert_int_equal(iw_stun_lt_key(key, STUN_PASSWORD_ALG_MD5, rfc5769_lt_user, ul, rfc5769_lt_realm, rl,
					rfc5769_lt_pass, pl),
			 16);
	assert_memory_equal(key, md5, 16);
	assert_int_equal(iw_stun_lt_key(key, STUN_PASSWORD_ALG_SHA256, rfc5769_lt_user, ul, rfc5769_lt_realm,
					rl, rfc5769_lt_pass, pl),
			 32);
	assert_memory_equal(key, sha, 32);
	assert_int_equal(
		iw_stun_lt_key(key, 0, rfc5769_lt_user, ul, rfc5769_lt_realm, rl, rfc5769_lt_pass, pl),
		-EINVAL);
	assert_int_equal(
		iw_stun_lt_key(key, 3, rfc5769_lt_user, ul, rfc5769_lt_realm, rl, rfc5769_lt_pass, pl),
		-EINVAL);
}

static void test_userhash(void **state)
{
	(void)state;
	uint8_t uh[STUN_USERHASH_LEN];
	iw_stun_userhash(uh, rfc8489_b1_user, sizeof rfc8489_b1_user - 1, rfc8489_b1_realm,
			 sizeof rfc8489_b1_realm - 1);
	assert_memory_equal(uh, rfc8489_b1_userhash, sizeof uh);
}

/* A message with both MESSAGE-INTEGRITY and MESSAGE-INTEGRITY-SHA256, then FINGERPRINT:
 * each one is checked over the bytes before it with its own adjusted length. */
static void test_both_integrities(void **state)
{
	(void)state;
	uint8_t buf[256];
	struct iw_stun_wr s;
	struct iw_stun_msg m;
	const char *why = NULL;
	const uint8_t k1[] = "short-term-password", k2[32] = { 1, 2, 3 };
	iw_stun_wr_init(&s, buf, sizeof buf, TURN_METHOD_ALLOCATE, STUN_CLASS_REQUEST, tid0);
	iw_stun_wr_attr(&s, STUN_ATTR_USERNAME, "alice", 5);
	iw_stun_wr_integrity(&s, k1, sizeof k1 - 1);
	iw_stun_wr_integrity_sha256(&s, k2, sizeof k2);
	iw_stun_wr_fingerprint(&s);
	int n = iw_stun_wr_finish(&s);
	assert_int_equal(n, STUN_HEADER_LEN + 12 + 24 + 36 + 8);
	/* The header length counts everything once finished. */
	assert_int_equal(iw_be16(buf + 2), n - STUN_HEADER_LEN);

	assert_int_equal(iw_stun_decode(&m, buf, (size_t)n, &why), 0);
	assert_true(m.present & IW_STUN_HAS_MI);
	assert_true(m.present & IW_STUN_HAS_MI_SHA256);
	assert_int_equal(m.mi256_len, 32);
	assert_true(iw_stun_check_integrity(&m, k1, sizeof k1 - 1));
	assert_true(iw_stun_check_integrity_sha256(&m, k2, sizeof k2));
	assert_true(iw_stun_check_fingerprint(&m));
	assert_false(iw_stun_check_integrity(&m, k2, sizeof k2));
	assert_false(iw_stun_check_integrity_sha256(&m, k1, sizeof k1 - 1));

	/* The input was not modified by the checks (the adjusted header is a copy). */
	uint8_t copy[256];
	memcpy(copy, buf, (size_t)n);
	assert_true(iw_stun_check_integrity(&m, k1, sizeof k1 - 1));
	assert_memory_equal(copy, buf, (size_t)n);

	/* One bit in USERNAME breaks all three. */
	buf[24] ^= 0x01;
	assert_int_equal(iw_stun_decode(&m, buf, (size_t)n, &why), 0);
	assert_false(iw_stun_check_integrity(&m, k1, sizeof k1 - 1));
	assert_false(iw_stun_check_integrity_sha256(&m, k2, sizeof k2));
	assert_false(iw_stun_check_fingerprint(&m));
}

/* RFC 8489 §14.6: a sender may truncate the HMAC-SHA256 to 16..32 bytes in steps of 4; the
 * header length it used counts the truncated attribute. The MAC is made here with the
 * cred module's HMAC, independently of the encoder. */
static void test_truncated_sha256(void **state)
{
	(void)state;
	const uint8_t key[] = "truncation-key";
	for (size_t tl = 16; tl <= 32; tl += 4) {
		uint8_t buf[128], mac[32];
		struct iw_stun_wr s;
		struct iw_stun_msg m;
		const char *why = NULL;
		iw_stun_wr_init(&s, buf, sizeof buf, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid0);
		iw_stun_wr_attr(&s, STUN_ATTR_USERNAME, "bob", 3);
		int n = iw_stun_wr_finish(&s);
		assert_true(n > 0);
		iw_put_be16(buf + 2, (uint16_t)(n - STUN_HEADER_LEN + 4 + tl));
		iw_cred_hmac_sha256(mac, key, sizeof key - 1, buf, (size_t)n);
		iw_put_be16(buf + n, STUN_ATTR_MESSAGE_INTEGRITY_SHA256);
		iw_put_be16(buf + n + 2, (uint16_t)tl);
		memcpy(buf + n + 4, mac, tl);
		size_t total = (size_t)n + 4 + tl;

		assert_int_equal(iw_stun_decode(&m, buf, total, &why), 0);
		assert_int_equal(m.mi256_len, tl);
		assert_true(iw_stun_check_integrity_sha256(&m, key, sizeof key - 1));
		buf[total - 1] ^= 0x80;
		assert_false(iw_stun_check_integrity_sha256(&m, key, sizeof key - 1));
	}
}

/* Integrity covers only the bytes before MESSAGE-INTEGRITY, with the length adjusted:
 * attributes after it (which the decoder ignores) do not change the result. */
static void test_integrity_length_adjusted(void **state)
{
	(void)state;
	uint8_t buf[128];
	struct iw_stun_wr s;
	struct iw_stun_msg m;
	const char *why = NULL;
	const uint8_t key[] = "k";
	iw_stun_wr_init(&s, buf, sizeof buf, TURN_METHOD_REFRESH, STUN_CLASS_REQUEST, tid0);
	iw_stun_wr_u32(&s, STUN_ATTR_LIFETIME, 600);
	iw_stun_wr_integrity(&s, key, 1);
	iw_stun_wr_attr(&s, STUN_ATTR_SOFTWARE, "after", 5);
	iw_stun_wr_fingerprint(&s);
	int n = iw_stun_wr_finish(&s);
	assert_int_equal(iw_stun_decode(&m, buf, (size_t)n, &why), 0);
	assert_true(iw_stun_check_integrity(&m, key, 1));
	assert_true(iw_stun_check_fingerprint(&m));
	assert_false(m.present & IW_STUN_HAS_SOFTWARE);
}

static void test_absent(void **state)
{
	(void)state;
	uint8_t buf[64];
	struct iw_stun_wr s;
	struct iw_stun_msg m;
	const char *why = NULL;
	iw_stun_wr_init(&s, buf, sizeof buf, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid0);
	int n = iw_stun_wr_finish(&s);
	assert_int_equal(n, STUN_HEADER_LEN);
	assert_int_equal(iw_stun_decode(&m, buf, (size_t)n, &why), 0);
	assert_false(iw_stun_check_integrity(&m, (const uint8_t *)"k", 1));
	assert_false(iw_stun_check_integrity_sha256(&m, (const uint8_t *)"k", 1));
	assert_false(iw_stun_check_fingerprint(&m));
}

/* RFC 5769 §2.1 with a wrong fingerprint value and a right one. */
static void test_fingerprint_bits(void **state)
{
	(void)state;
	uint8_t buf[sizeof rfc5769_req];
	struct iw_stun_msg m;
	const char *why = NULL;
	for (int bit = 0; bit < 32; bit++) {
		memcpy(buf, rfc5769_req, sizeof buf);
		buf[104 + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(iw_stun_decode(&m, buf, sizeof buf, &why), 0);
		assert_false(iw_stun_check_fingerprint(&m));
		assert_true(iw_stun_check_integrity(&m, (const uint8_t *)rfc5769_short_pass,
						    sizeof rfc5769_short_pass - 1));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32),
		cmocka_unit_test(test_lt_key),
		cmocka_unit_test(test_userhash),
		cmocka_unit_test(test_both_integrities),
		cmocka_unit_test(test_truncated_sha256),
		cmocka_unit_test(test_integrity_length_adjusted),
		cmocka_unit_test(test_absent),
		cmocka_unit_test(test_fingerprint_bits),
	};
	return cmocka_run_group_tests_name("stun_auth", tests, NULL, NULL);
}
