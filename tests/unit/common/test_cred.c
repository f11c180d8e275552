/* Unit tests for common/cred.c: REST credentials, HMAC, base64, constant-time compare. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/cred.h"

/* Derived with python3: base64.b64encode(hmac.new(b"north", b"1700000000:alice",
 * hashlib.sha1).digest()) */
static const char rest_pass_alice[] = "Cd/49soE35ICqcJF/bCTn8Z4OyE=";
/* The same for the username "1700003600" (no user part). */
static const char rest_pass_anon[] = "xF4I6gruVt/PjGbjajGu2UlidPk=";

/* Wikipedia's HMAC examples, checked with python3 hmac.new(b"key", FOX, hashlib.sha1/sha256). */
static const char fox[] = "The quick brown fox jumps over the lazy dog";
static const uint8_t fox_sha1[20] = { 0xde, 0x7c, 0x9b, 0x85, 0xb8, 0xb7, 0x8a, 0xa6, 0xbc, 0x8a,
				      0x7a, 0x36, 0xf7, 0x0a, 0x90, 0x70, 0x1c, 0x9d, 0xb4, 0xd9 };
static const uint8_t fox_sha256[32] = { 0xf7, 0xbc, 0x83, 0xf4, 0x30, 0x53, 0x84, 0x24, 0xb1, 0x32, 0x98,
					0xe6, 0xaa, 0x6f, 0xb1, 0x43, 0xef, 0x4d, 0x59, 0xa1, 0x49, 0x46,
					0x17, 0x59, 0x97, 0x47, 0x9d, 0xbc, 0x2d, 0x1a, 0x3c, 0xd8 };

static void test_rest_make_known_answer(void **state)
{
	(void)state;
	char user[64], pass[IW_CRED_REST_PASS_LEN + 1];

	assert_int_equal(
		iw_cred_rest_make(user, sizeof user, pass, "north", "alice", (time_t)1699996400, 3600), 0);
	assert_string_equal(user, "1700000000:alice");
	assert_string_equal(pass, rest_pass_alice);
	assert_int_equal(strlen(pass), IW_CRED_REST_PASS_LEN);

	assert_int_equal(iw_cred_rest_make(user, sizeof user, pass, "north", NULL, (time_t)1700000000, 3600),
			 0);
	assert_string_equal(user, "1700003600");
	assert_string_equal(pass, rest_pass_anon);

	assert_int_equal(iw_cred_rest_make(user, sizeof user, pass, "north", "", (time_t)1700000000, 3600),
			 0);
	assert_string_equal(user, "1700003600");
}

static void test_rest_make_small_buffer(void **state)
{
	(void)state;
	char user[12], pass[IW_CRED_REST_PASS_LEN + 1];

	/* "1700000000:alice" needs 17 bytes. */
	assert_int_equal(
		iw_cred_rest_make(user, sizeof user, pass, "north", "alice", (time_t)1699996400, 3600),
		-EMSGSIZE);
	assert_string_equal(user, "");
	/* Exactly fits: 10 digits + NUL. */
	char exact[11];
	assert_int_equal(
		iw_cred_rest_make(exact, sizeof exact, pass, "north", NULL, (time_t)1700000000, 3600), 0);
	assert_string_equal(exact, "1700003600");
}

static void test_rest_password(void **state)
{
	(void)state;
	char pass[IW_CRED_REST_PASS_LEN + 1];
	static const char name[] = "1700000000:alice";

	iw_cred_rest_password(pass, "north", 5, name, strlen(name));
	assert_string_equal(pass, rest_pass_alice);
	/* A different secret gives a different password. */
	iw_cred_rest_password(pass, "south", 5, name, strlen(name));
	assert_true(strcmp(pass, rest_pass_alice) != 0);
}

static void test_rest_expiry(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		int ret;
		int64_t expiry;
	} rows[] = {
		{ "1700000000:alice", 0, 1700000000 },
		{ "1700000000", 0, 1700000000 },
		{ "alice:1700000000", 0, 1700000000 },  /* coturn's other order */
		{ "1700000000:al:ice", 0, 1700000000 }, /* user part may contain ':' */
		{ "0:bob", 0, 0 },
		{ "alice", -EINVAL, 0 },
		{ "alice:bob", -EINVAL, 0 },
		{ ":1700000000", 0, 1700000000 },
		{ "alice:", -EINVAL, 0 },
		{ ":", -EINVAL, 0 },
		{ "-5:alice", -EINVAL, 0 },
		{ "alice:-5", -EINVAL, 0 },
		{ "17x:alice", -EINVAL, 0 },
		{ "alice:17x", -EINVAL, 0 },
		{ "99999999999999999999:alice", -EINVAL, 0 }, /* would overflow int64 */
		{ "", -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		int64_t e = -1;
		int r = iw_cred_rest_expiry(rows[i].name, strlen(rows[i].name), &e);
		if (r != rows[i].ret)
			fail_msg("'%s': got %d, want %d", rows[i].name, r, rows[i].ret);
		if (r == 0 && e != rows[i].expiry)
			fail_msg("'%s': expiry %lld", rows[i].name, (long long)e);
	}
	/* Length-bounded: the bytes after len are not read. */
	int64_t e = 0;
	assert_int_equal(iw_cred_rest_expiry("1234:x", 2, &e), 0);
	assert_int_equal(e, 12);
	assert_int_equal(iw_cred_rest_expiry(NULL, 0, &e), -EINVAL);
	/* Too long for a username. */
	char big[IW_CRED_MAX_USER + 10];
	memset(big, '1', sizeof big);
	assert_int_equal(iw_cred_rest_expiry(big, sizeof big, &e), -EINVAL);
}

/* The user part for quotas, with coturn's rest-api-separator. */
static void test_rest_parse(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		char sep;
		int rc;
		int64_t expiry;
		const char *user;
	} rows[] = {
		{ "1700000000:alice", ':', 0, 1700000000, "alice" },
		{ "alice:1700000000", ':', 0, 1700000000, "alice" },
		{ "1700000000", ':', 0, 1700000000, "" },
		{ "1700000000:", ':', 0, 1700000000, "" },
		{ "1700000000:a:b", ':', 0, 1700000000, "a:b" },
		{ "1700000000#alice", '#', 0, 1700000000, "alice" },
		{ "alice#1700000000", '#', 0, 1700000000, "alice" },
		{ "1700000000:alice", '#', -EINVAL, 0, NULL }, /* not this separator */
		{ "alice:bob", ':', -EINVAL, 0, NULL },
		{ "", ':', -EINVAL, 0, NULL },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		int64_t e = 0;
		size_t off = 0, n = 0;
		int rc = iw_cred_rest_parse(rows[i].name, strlen(rows[i].name), rows[i].sep, &e, &off, &n);
		if (rc != rows[i].rc)
			fail_msg("%s: got %d", rows[i].name, rc);
		if (rc)
			continue;
		assert_true(e == rows[i].expiry);
		assert_int_equal(n, strlen(rows[i].user));
		assert_memory_equal(rows[i].name + off, rows[i].user, n);
	}
}

static void test_hmac_known_answers(void **state)
{
	(void)state;
	uint8_t out1[20], out256[32];

	iw_cred_hmac_sha1(out1, "key", 3, fox, strlen(fox));
	assert_memory_equal(out1, fox_sha1, 20);
	iw_cred_hmac_sha256(out256, "key", 3, fox, strlen(fox));
	assert_memory_equal(out256, fox_sha256, 32);
	/* Empty key and message do not crash: python3 hmac.new(b"", b"", sha1) = fbdb1d1b... */
	iw_cred_hmac_sha1(out1, NULL, 0, NULL, 0);
	assert_int_equal(out1[0], 0xfb);
	assert_int_equal(out1[1], 0xdb);
}

static void test_base64(void **state)
{
	(void)state;
	static const struct {
		const char *plain, *b64;
	} rows[] = { /* RFC 4648 §10 test vectors */
		     { "", "" },
		     { "f", "Zg==" },
		     { "fo", "Zm8=" },
		     { "foo", "Zm9v" },
		     { "foob", "Zm9vYg==" },
		     { "fooba", "Zm9vYmE=" },
		     { "foobar", "Zm9vYmFy" }
	};
	char enc[32];
	uint8_t dec[32];

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		size_t n = iw_cred_base64(enc, rows[i].plain, strlen(rows[i].plain));
		assert_int_equal(n, strlen(rows[i].b64));
		assert_string_equal(enc, rows[i].b64);
		int d = iw_cred_base64_decode(dec, sizeof dec, rows[i].b64, strlen(rows[i].b64));
		assert_int_equal(d, strlen(rows[i].plain));
		assert_memory_equal(dec, rows[i].plain, (size_t)d);
	}
	assert_int_equal(iw_cred_base64_decode(dec, sizeof dec, "Zm9v!", 5), -EINVAL);
	assert_int_equal(iw_cred_base64_decode(dec, sizeof dec, "Zm9", 3), -EINVAL);
	/* Output too small. */
	assert_int_equal(iw_cred_base64_decode(dec, 2, "Zm9v", 4), -EINVAL);
}

static void test_equal(void **state)
{
	(void)state;
	assert_true(iw_cred_equal("abcdef", "abcdef", 6));
	assert_false(iw_cred_equal("abcdef", "abcdeg", 6));
	assert_false(iw_cred_equal("xbcdef", "abcdef", 6));
	assert_true(iw_cred_equal("a", "b", 0));
	/* Every single-bit difference at every position is noticed. */
	uint8_t a[32], b[32];
	memset(a, 0x5a, sizeof a);
	for (size_t i = 0; i < sizeof a; i++)
		for (int bit = 0; bit < 8; bit++) {
			memcpy(b, a, sizeof b);
			b[i] ^= (uint8_t)(1u << bit);
			assert_false(iw_cred_equal(a, b, sizeof a));
		}
}

static void test_random(void **state)
{
	(void)state;
	uint8_t a[32] = { 0 }, b[32] = { 0 }, zero[32] = { 0 };

	assert_int_equal(iw_cred_random(a, sizeof a), 0);
	assert_int_equal(iw_cred_random(b, sizeof b), 0);
	/* 256 random bits: the chance of either check failing is 2^-256. */
	assert_true(memcmp(a, b, sizeof a) != 0);
	assert_true(memcmp(a, zero, sizeof a) != 0);
	assert_int_equal(iw_cred_random(a, 0), 0);
}

/* Mobility tickets: what is sealed opens; a ticket changed in any byte, sealed under another
 * key, or of another length does not. */
static void test_ticket(void **state)
{
	(void)state;
	uint8_t key[IW_CRED_TICKET_KEY_LEN], other[IW_CRED_TICKET_KEY_LEN];
	memset(key, 7, sizeof key);
	memset(other, 8, sizeof other);
	struct iw_cred_ticket t = { .worker = 3, .slot = 0xabcdef, .id = 0x0004000000000123ULL }, got;
	char tk[IW_CRED_TICKET_LEN];
	iw_cred_ticket_seal(tk, key, &t);
	/* Text without NUL: coturn's clients keep it as a C string. */
	for (unsigned i = 0; i < sizeof tk; i++)
		assert_true(tk[i] > ' ' && tk[i] < 127);
	assert_int_equal(iw_cred_ticket_open(&got, key, tk, sizeof tk), 0);
	assert_int_equal(got.worker, 3);
	assert_int_equal(got.slot, 0xabcdef);
	assert_true(got.id == t.id);
	assert_int_equal(iw_cred_ticket_open(&got, other, tk, sizeof tk), -EBADMSG);
	assert_int_equal(iw_cred_ticket_open(&got, key, tk, sizeof tk - 4), -EBADMSG);
	assert_int_equal(iw_cred_ticket_open(&got, key, tk, 0), -EBADMSG);
	for (unsigned i = 0; i < sizeof tk; i++) {
		char f[IW_CRED_TICKET_LEN];
		memcpy(f, tk, sizeof f);
		f[i] = f[i] == 'A' ? 'B' : 'A';
		assert_int_equal(iw_cred_ticket_open(&got, key, f, sizeof f), -EBADMSG);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rest_make_known_answer),
		cmocka_unit_test(test_rest_make_small_buffer),
		cmocka_unit_test(test_rest_password),
		cmocka_unit_test(test_rest_expiry),
		cmocka_unit_test(test_rest_parse),
		cmocka_unit_test(test_hmac_known_answers),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_equal),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_ticket),
	};
	return cmocka_run_group_tests_name("cred", tests, NULL, NULL);
}
