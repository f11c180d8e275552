/* turn/auth: nonces (valid, stale, foreign), static users (MD5 and SHA-256 keys, hex keys),
 * USERHASH, TURN REST usernames (expiry, several secrets), the 401 rate limit. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/cred.h"
#include "common/stun.h"
#include "common/stun_auth.h"
#include "turn/auth.h"

static const int64_t NOW = 1800000000;
static uint8_t buf[1024];
static struct iw_stun_msg msg;

static struct iw_addr addr(const char *s)
{
	struct iw_addr a;
	assert_int_equal(iw_addr_parse(&a, s), 0);
	return a;
}

/* An Allocate request as a client would send it after a 401. */
struct req {
	const char *user;
	const uint8_t *userhash;
	const char *nonce;
	const uint8_t *key;
	size_t key_len;
	bool sha256_mi, send_algs;
	uint16_t alg;
};

static const uint8_t offer[8] = { 0, 1, 0, 0, 0, 2, 0, 0 };

static const struct iw_stun_msg *build(const struct req *r)
{
	static const uint8_t tid[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	struct iw_stun_wr s;
	iw_stun_wr_init(&s, buf, sizeof buf, TURN_METHOD_ALLOCATE, STUN_CLASS_REQUEST, tid);
	iw_stun_wr_u32(&s, STUN_ATTR_REQUESTED_TRANSPORT, TURN_TRANSPORT_UDP << 24);
	if (r->user)
		iw_stun_wr_attr(&s, STUN_ATTR_USERNAME, r->user, strlen(r->user));
	if (r->userhash)
		iw_stun_wr_attr(&s, STUN_ATTR_USERHASH, r->userhash, STUN_USERHASH_LEN);
	iw_stun_wr_attr(&s, STUN_ATTR_REALM, "iceway", 6);
	if (r->nonce)
		iw_stun_wr_attr(&s, STUN_ATTR_NONCE, r->nonce, strlen(r->nonce));
	if (r->send_algs) {
		uint8_t alg[4] = { 0, (uint8_t)r->alg, 0, 0 };
		iw_stun_wr_attr(&s, STUN_ATTR_PASSWORD_ALGORITHM, alg, 4);
		iw_stun_wr_attr(&s, STUN_ATTR_PASSWORD_ALGORITHMS, offer, sizeof offer);
	}
	if (r->key) {
		if (r->sha256_mi)
			iw_stun_wr_integrity_sha256(&s, r->key, r->key_len);
		else
			iw_stun_wr_integrity(&s, r->key, r->key_len);
	}
	int n = iw_stun_wr_finish(&s);
	assert_true(n > 0);
	const char *why = NULL;
	assert_int_equal(iw_stun_decode(&msg, buf, (size_t)n, &why), 0);
	return &msg;
}

static int setup(void **state)
{
	static struct iw_auth a;
	const char *why = NULL;
	assert_int_equal(iw_auth_init(&a, "iceway", 600), 0);
	assert_int_equal(iw_auth_user_add(&a, "alice:wonderland", &why), 0);
	/* MD5("bob:iceway:builder") as coturn's 0x form. */
	uint8_t k[IW_STUN_KEY_MAX];
	iw_stun_lt_key(k, STUN_PASSWORD_ALG_MD5, "bob", 3, "iceway", 6, "builder", 7);
	char spec[64] = "bob:0x";
	for (int i = 0; i < 16; i++)
		snprintf(spec + 6 + 2 * i, 3, "%02x", k[i]);
	assert_int_equal(iw_auth_user_add(&a, spec, &why), 0);
	assert_int_equal(iw_auth_secret_add(&a, "old-secret", &why), 0);
	assert_int_equal(iw_auth_secret_add(&a, "new-secret", &why), 0);
	*state = &a;
	return 0;
}

static int teardown(void **state)
{
	iw_auth_fini(*state);
	return 0;
}

static void test_nonce(void **state)
{
	struct iw_auth *a = *state;
	struct iw_addr c = addr("192.0.2.1:5000"), other = addr("192.0.2.1:5001");
	char n[IW_AUTH_NONCE_MAX];
	size_t len = iw_auth_nonce_make(a, &c, NOW, n);
	assert_int_equal(strlen(n), len);
	/* RFC 8489 §9.2: the cookie and the security feature set lead the nonce. */
	assert_memory_equal(n, "obMatJos2", 9);
	assert_int_equal(iw_auth_nonce_check(a, &c, (uint8_t *)n, len, NOW), 0);
	assert_int_equal(iw_auth_nonce_check(a, &c, (uint8_t *)n, len, NOW + 599), 0);
	assert_int_equal(iw_auth_nonce_check(a, &c, (uint8_t *)n, len, NOW + 600), -ESTALE);
	assert_int_equal(iw_auth_nonce_check(a, &other, (uint8_t *)n, len, NOW), -EINVAL);
	n[len - 1] = n[len - 1] == '0' ? '1' : '0';
	assert_int_equal(iw_auth_nonce_check(a, &c, (uint8_t *)n, len, NOW), -EINVAL);
	assert_int_equal(iw_auth_nonce_check(a, &c, (uint8_t *)"short", 5, NOW), -EINVAL);
}

static void test_static_user(void **state)
{
	struct iw_auth *a = *state;
	struct iw_addr c = addr("192.0.2.1:5000");
	struct iw_auth_result r;
	char n[IW_AUTH_NONCE_MAX];
	iw_auth_nonce_make(a, &c, NOW, n);
	uint8_t md5[IW_STUN_KEY_MAX], sha[IW_STUN_KEY_MAX];
	iw_stun_lt_key(md5, STUN_PASSWORD_ALG_MD5, "alice", 5, "iceway", 6, "wonderland", 10);
	iw_stun_lt_key(sha, STUN_PASSWORD_ALG_SHA256, "alice", 5, "iceway", 6, "wonderland", 10);

	/* No integrity: a challenge. */
	iw_auth_check(a, build(&(struct req){ .user = "alice" }), &c, NOW, &r);
	assert_int_equal(r.code, 401);
	/* Classic MD5 key and MESSAGE-INTEGRITY. */
	iw_auth_check(a, build(&(struct req){ .user = "alice", .nonce = n, .key = md5, .key_len = 16 }), &c,
		      NOW, &r);
	assert_int_equal(r.code, 0);
	assert_int_equal(r.key_len, 16);
	assert_memory_equal(r.key, md5, 16);
	assert_int_equal(r.user_len, 5);
	/* RFC 8489: SHA-256 password algorithm and MESSAGE-INTEGRITY-SHA256. */
	iw_auth_check(a,
		      build(&(struct req){ .user = "alice",
					   .nonce = n,
					   .key = sha,
					   .key_len = 32,
					   .sha256_mi = true,
					   .send_algs = true,
					   .alg = STUN_PASSWORD_ALG_SHA256 }),
		      &c, NOW, &r);
	assert_int_equal(r.code, 0);
	assert_true(r.sha256_mi);
	assert_int_equal(r.pw_alg, STUN_PASSWORD_ALG_SHA256);
	/* Wrong password. */
	uint8_t bad[IW_STUN_KEY_MAX];
	iw_stun_lt_key(bad, STUN_PASSWORD_ALG_MD5, "alice", 5, "iceway", 6, "wonderlan", 9);
	iw_auth_check(a, build(&(struct req){ .user = "alice", .nonce = n, .key = bad, .key_len = 16 }), &c,
		      NOW, &r);
	assert_int_equal(r.code, 401);
	assert_int_equal(r.key_len, 0);
	/* Unknown user. */
	iw_auth_check(a, build(&(struct req){ .user = "mallory", .nonce = n, .key = md5, .key_len = 16 }), &c,
		      NOW, &r);
	assert_int_equal(r.code, 401);
	/* Stale nonce -> 438, and a nonce made for another client port -> 438. */
	iw_auth_check(a, build(&(struct req){ .user = "alice", .nonce = n, .key = md5, .key_len = 16 }), &c,
		      NOW + 601, &r);
	assert_int_equal(r.code, 438);
	struct iw_addr c2 = addr("192.0.2.1:5002");
	iw_auth_check(a, build(&(struct req){ .user = "alice", .nonce = n, .key = md5, .key_len = 16 }), &c2,
		      NOW, &r);
	assert_int_equal(r.code, 438);
	/* Integrity without a nonce -> 400. */
	iw_auth_check(a, build(&(struct req){ .user = "alice", .key = md5, .key_len = 16 }), &c, NOW, &r);
	assert_int_equal(r.code, 400);
	/* The coturn 0xHEXKEY user. */
	uint8_t bk[IW_STUN_KEY_MAX];
	iw_stun_lt_key(bk, STUN_PASSWORD_ALG_MD5, "bob", 3, "iceway", 6, "builder", 7);
	iw_auth_check(a, build(&(struct req){ .user = "bob", .nonce = n, .key = bk, .key_len = 16 }), &c, NOW,
		      &r);
	assert_int_equal(r.code, 0);
}

static void test_userhash(void **state)
{
	struct iw_auth *a = *state;
	struct iw_addr c = addr("[2001:db8::5]:7000");
	struct iw_auth_result r;
	char n[IW_AUTH_NONCE_MAX];
	iw_auth_nonce_make(a, &c, NOW, n);
	uint8_t uh[STUN_USERHASH_LEN], sha[IW_STUN_KEY_MAX];
	iw_stun_userhash(uh, "alice", 5, "iceway", 6);
	iw_stun_lt_key(sha, STUN_PASSWORD_ALG_SHA256, "alice", 5, "iceway", 6, "wonderland", 10);
	iw_auth_check(a,
		      build(&(struct req){ .userhash = uh,
					   .nonce = n,
					   .key = sha,
					   .key_len = 32,
					   .sha256_mi = true,
					   .send_algs = true,
					   .alg = STUN_PASSWORD_ALG_SHA256 }),
		      &c, NOW, &r);
	assert_int_equal(r.code, 0);
	assert_int_equal(r.user_len, 5);
	assert_memory_equal(r.user, "alice", 5);
	uh[0] ^= 1;
	iw_auth_check(a,
		      build(&(struct req){ .userhash = uh,
					   .nonce = n,
					   .key = sha,
					   .key_len = 32,
					   .sha256_mi = true,
					   .send_algs = true,
					   .alg = STUN_PASSWORD_ALG_SHA256 }),
		      &c, NOW, &r);
	assert_int_equal(r.code, 401);
}

static void test_rest(void **state)
{
	struct iw_auth *a = *state;
	struct iw_addr c = addr("192.0.2.1:5000");
	struct iw_auth_result r;
	char n[IW_AUTH_NONCE_MAX];
	iw_auth_nonce_make(a, &c, NOW, n);
	const char *secrets[] = { "old-secret", "new-secret" };
	for (int i = 0; i < 2; i++) {
		char user[64], pass[IW_CRED_REST_PASS_LEN + 1];
		assert_int_equal(iw_cred_rest_make(user, sizeof user, pass, secrets[i], "carol", NOW, 3600),
				 0);
		uint8_t k[IW_STUN_KEY_MAX];
		iw_stun_lt_key(k, STUN_PASSWORD_ALG_MD5, user, strlen(user), "iceway", 6, pass, strlen(pass));
		iw_auth_check(a, build(&(struct req){ .user = user, .nonce = n, .key = k, .key_len = 16 }),
			      &c, NOW, &r);
		assert_int_equal(r.code, 0);
		/* Past its expiry the same credential is refused with 401. */
		iw_auth_nonce_make(a, &c, NOW + 3700, n);
		iw_auth_check(a, build(&(struct req){ .user = user, .nonce = n, .key = k, .key_len = 16 }),
			      &c, NOW + 3700, &r);
		assert_int_equal(r.code, 401);
		iw_auth_nonce_make(a, &c, NOW, n);
	}
	/* A password from an unknown secret. */
	char user[64], pass[IW_CRED_REST_PASS_LEN + 1];
	iw_cred_rest_make(user, sizeof user, pass, "other", "carol", NOW, 3600);
	uint8_t k[IW_STUN_KEY_MAX];
	iw_stun_lt_key(k, STUN_PASSWORD_ALG_MD5, user, strlen(user), "iceway", 6, pass, strlen(pass));
	iw_auth_check(a, build(&(struct req){ .user = user, .nonce = n, .key = k, .key_len = 16 }), &c, NOW,
		      &r);
	assert_int_equal(r.code, 401);
	assert_true(a->st.rest_expired >= 2);
}

/* REST credential name with the right password for secret, into user/pass. */
static void rest_cred(char *user, size_t cap, char pass[IW_CRED_REST_PASS_LEN + 1], const char *name)
{
	snprintf(user, cap, "%s", name);
	iw_cred_rest_password(pass, "new-secret", strlen("new-secret"), user, strlen(user));
	pass[IW_CRED_REST_PASS_LEN] = 0;
}

/* Who per-user limits count (quota_off): the user part of a REST name after rest-api-separator,
 * whatever the expiry; the whole name for a static user and for a REST name without a user
 * part. */
static void test_identity(void **state)
{
	struct iw_auth *a = *state;
	struct iw_addr c = addr("192.0.2.7:5000");
	struct iw_auth_result r;
	char n[IW_AUTH_NONCE_MAX], user[64], pass[IW_CRED_REST_PASS_LEN + 1], name[64];
	uint8_t k[IW_STUN_KEY_MAX];
	iw_auth_nonce_make(a, &c, NOW, n);
	static const struct {
		char sep;
		const char *fmt; /* %lld: the expiry */
		const char *who;
	} cases[] = {
		{ ':', "%lld:carol", "carol" },
		{ ':', "%lld:carol:x", "carol:x" },
		{ '#', "%lld#dave", "dave" },
		{ '#', "%lld#dave:2", "dave:2" },
		{ ':', "%lld", NULL /* the whole name */ },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		a->rest_sep = cases[i].sep;
		for (long long exp = NOW + 100; exp <= NOW + 200; exp += 100) { /* two expiries */
			snprintf(name, sizeof name, cases[i].fmt, exp);
			rest_cred(user, sizeof user, pass, name);
			iw_stun_lt_key(k, STUN_PASSWORD_ALG_MD5, user, strlen(user), "iceway", 6, pass,
				       strlen(pass));
			iw_auth_check(
				a, build(&(struct req){ .user = user, .nonce = n, .key = k, .key_len = 16 }),
				&c, NOW, &r);
			assert_int_equal(r.code, 0);
			const char *who = cases[i].who ? cases[i].who : user;
			assert_int_equal(r.user_len - r.quota_off, strlen(who));
			assert_memory_equal(r.user + r.quota_off, who, strlen(who));
		}
	}
	a->rest_sep = ':';
	/* A static user is its whole name, separator or not. */
	iw_stun_lt_key(k, STUN_PASSWORD_ALG_MD5, "alice", 5, "iceway", 6, "wonderland", 10);
	iw_auth_check(a, build(&(struct req){ .user = "alice", .nonce = n, .key = k, .key_len = 16 }), &c,
		      NOW, &r);
	assert_int_equal(r.code, 0);
	assert_int_equal(r.quota_off, 0);
	assert_int_equal(r.user_len, 5);
}

static uint32_t rl_slot(const struct iw_auth *a, struct iw_addr ip)
{
	ip.port = 0;
	return iw_addr_hash(&ip, a->rl_seed) % IW_AUTH_RL_SLOTS;
}

/* An address in 198.51.x.y other than c that shares c's slot (or not, when want_same is
 * false) under this process's seed. */
static struct iw_addr rl_neighbour(const struct iw_auth *a, const struct iw_addr *c, bool want_same)
{
	struct iw_addr d = *c;
	for (unsigned i = 1; i < 65536; i++) {
		d.ip[2] = (uint8_t)(i >> 8);
		d.ip[3] = (uint8_t)i;
		if (!iw_addr_eq(&d, c) && (rl_slot(a, d) == rl_slot(a, *c)) == want_same)
			return d;
	}
	fail_msg("no address found");
	return d;
}

static void test_rate_limit(void **state)
{
	struct iw_auth *a = *state;
	struct iw_addr c = addr("198.51.100.9:1");
	struct iw_addr d = rl_neighbour(a, &c, false);
	enum { BURST = 2 * IW_AUTH_RL_RATE };
	uint64_t t = 1000;
	int allowed = 0;
	for (int i = 0; i < 3 * BURST; i++)
		allowed += iw_auth_rl_take(a, &c, t, 0, 0, IW_AUTH_RL_RATE, 0) == 0;
	assert_int_equal(allowed, BURST);
	/* Another source has its own bucket; time refills. */
	assert_int_equal(iw_auth_rl_take(a, &d, t, 0, 0, IW_AUTH_RL_RATE, 0), 0);
	assert_int_equal(iw_auth_rl_take(a, &c, t, 0, 0, IW_AUTH_RL_RATE, 0), -EAGAIN);
	assert_int_equal(iw_auth_rl_take(a, &c, t + 1000 / IW_AUTH_RL_RATE + 1, 0, 0, IW_AUTH_RL_RATE, 0), 0);
}

/* Two addresses that share a slot, alternating: a taken-over slot starts empty, so together
 * they get one budget (with a fresh full bucket on every takeover, all 20,000 were allowed). */
static void test_rate_limit_collision(void **state)
{
	struct iw_auth *a = *state;
	struct iw_addr c = addr("198.51.101.7:1");
	struct iw_addr e = rl_neighbour(a, &c, true);
	uint64_t t = 50000;
	int allowed = 0;
	for (int i = 0; i < 20000; i++)
		allowed += iw_auth_rl_take(a, i % 2 ? &e : &c, t, 20, 20, IW_AUTH_RL_RATE, 0) == 0;
	assert_true(allowed <= 2 * IW_AUTH_RL_RATE);
	/* The same with time passing, 0.1 ms per request: at most the burst and the refill. */
	allowed = 0;
	for (int i = 0; i < 20000; i++)
		allowed += iw_auth_rl_take(a, i % 2 ? &e : &c, t + 1000 + i / 10, 20, 20, IW_AUTH_RL_RATE,
					   0) == 0;
	assert_true(allowed <= 2 * IW_AUTH_RL_RATE + 2 * IW_AUTH_RL_RATE + 1);
	/* The seed is drawn per process: another table keys the slots differently. */
	struct iw_auth b;
	assert_int_equal(iw_auth_init(&b, "iceway", 600), 0);
	bool differs = b.rl_seed != a->rl_seed;
	iw_auth_fini(&b);
	assert_true(differs);
}

/* Answer bytes never exceed ratio x request bytes, whatever the answer sizes. */
static void test_rate_limit_ratio(void **state)
{
	struct iw_auth *a = *state;
	struct iw_addr c = addr("198.51.102.7:1");
	uint64_t in = 0, out = 0;
	int sent = 0;
	/* A bare 20-byte Allocate and a 128-byte 401: the first is not answered, the second is. */
	assert_int_equal(iw_auth_rl_take(a, &c, 1000, 20, 128, 0, 4), -EMSGSIZE);
	assert_int_equal(iw_auth_rl_take(a, &c, 1000, 20, 128, 0, 4), 0);
	for (int i = 0; i < 20000; i++) {
		size_t req = 20 + 4 * (size_t)(i % 7), ans = 56 + 4 * (size_t)(i % 23);
		in += req;
		if (iw_auth_rl_take(a, &c, 2000, req, ans, 0, 4) == 0) {
			out += ans;
			sent++;
		}
	}
	assert_true(sent > 0);
	assert_true(out <= 4 * in);
}

/* Users by name through the index: thousands of them (the table grows many times), the
 * first of two users with one name wins, an unknown name is unknown, and the index moves with
 * iw_auth_creds_swap (built with b's seed, used in a). */
static void test_many_users(void **state)
{
	(void)state;
	enum { N = 3000 };
	struct iw_auth a, b;
	const char *why = NULL;
	struct iw_addr c = addr("192.0.2.1:5000");
	struct iw_auth_result r;
	char spec[64], name[16], n[IW_AUTH_NONCE_MAX];
	uint8_t key[IW_STUN_KEY_MAX];
	assert_int_equal(iw_auth_init(&a, "iceway", 600), 0);
	assert_int_equal(iw_auth_init(&b, "iceway", 600), 0);
	assert_int_equal(iw_auth_user_add(&a, "old:pw", &why), 0);
	for (int i = 0; i < N; i++) {
		snprintf(spec, sizeof spec, "u%d:pw%d", i, i);
		assert_int_equal(iw_auth_user_add(&b, spec, &why), 0);
	}
	assert_int_equal(iw_auth_user_add(&b, "u7:another", &why), 0);
	assert_int_equal(iw_auth_user_add(&b, "bad:0xnothex00000000000000000000000000", &why), -EINVAL);
	iw_auth_creds_swap(&a, &b);
	iw_auth_fini(&b);
	assert_int_equal(a.n_users, N + 1);
	assert_true(a.cap_by_name >= 2 * a.n_users);
	iw_auth_nonce_make(&a, &c, NOW, n);
	for (int i = 0; i < N; i += 7) {
		char pw[16];
		snprintf(name, sizeof name, "u%d", i);
		snprintf(pw, sizeof pw, "pw%d", i);
		iw_stun_lt_key(key, STUN_PASSWORD_ALG_MD5, name, strlen(name), "iceway", 6, pw, strlen(pw));
		iw_auth_check(&a, build(&(struct req){ .user = name, .nonce = n, .key = key, .key_len = 16 }),
			      &c, NOW, &r);
		assert_int_equal(r.code, 0);
	}
	iw_stun_lt_key(key, STUN_PASSWORD_ALG_MD5, "u7", 2, "iceway", 6, "another", 7);
	iw_auth_check(&a, build(&(struct req){ .user = "u7", .nonce = n, .key = key, .key_len = 16 }), &c,
		      NOW, &r);
	assert_int_equal(r.code, 401);
	assert_string_equal(r.why, "bad integrity"); /* u7 is the first one */
	iw_stun_lt_key(key, STUN_PASSWORD_ALG_MD5, "old", 3, "iceway", 6, "pw", 2);
	iw_auth_check(&a, build(&(struct req){ .user = "old", .nonce = n, .key = key, .key_len = 16 }), &c,
		      NOW, &r);
	assert_int_equal(r.code, 401);
	assert_string_equal(r.why, "unknown user"); /* swapped out */
	iw_auth_fini(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nonce),
		cmocka_unit_test(test_many_users),
		cmocka_unit_test(test_static_user),
		cmocka_unit_test(test_userhash),
		cmocka_unit_test(test_rest),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_rate_limit_collision),
		cmocka_unit_test(test_rate_limit_ratio),
	};
	return cmocka_run_group_tests_name("turn/auth", tests, setup, teardown);
}
