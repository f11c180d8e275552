/* turn/control.c's security log limiter, field filter and rest-strict-expiry cap, on a bare
 * worker: the static helpers are reached by including the source. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "turn/control.c"

static struct iw_worker *bare(void)
{
	struct iw_worker *w = calloc(1, sizeof *w);
	assert_non_null(w);
	w->now_ms = 1000000;
	w->now_s = 1800000000;
	w->auth.rl_seed = 12345;
	return w;
}

static struct iw_addr ip4(uint8_t last, uint16_t port)
{
	struct iw_addr a;
	memset(&a, 0, sizeof a);
	a.family = AF_INET;
	a.ip[0] = 192;
	a.ip[1] = 0;
	a.ip[2] = 2;
	a.ip[3] = last;
	a.port = port;
	return a;
}

/* One address: a burst, then one line a second that reports what was skipped. */
static void test_per_address(void **state)
{
	(void)state;
	struct iw_worker *w = bare();
	struct iw_addr a = ip4(7, 5000);
	uint32_t sup = 99;
	for (int i = 0; i < IW_SECLOG_BURST; i++) {
		assert_true(seclog_allow(w, IW_SECLOG_AUTH, &a, &sup));
		assert_int_equal(sup, 0);
	}
	for (int i = 0; i < 100; i++)
		assert_false(seclog_allow(w, IW_SECLOG_AUTH, &a, &sup));
	/* Another port of the same address is the same client for the limit. */
	a.port = 5001;
	assert_false(seclog_allow(w, IW_SECLOG_AUTH, &a, &sup));
	w->now_ms += 1000;
	assert_true(seclog_allow(w, IW_SECLOG_AUTH, &a, &sup));
	assert_int_equal(sup, 101);
	assert_false(seclog_allow(w, IW_SECLOG_AUTH, &a, &sup));
	assert_int_equal(w->st.seclog_lines, IW_SECLOG_BURST + 1);
	assert_int_equal(w->st.seclog_suppressed, 102);
	free(w);
}

/* A flooding address never hides another one, even one hashed into its slot. */
static void test_other_address_not_hidden(void **state)
{
	(void)state;
	struct iw_worker *w = bare();
	struct iw_addr a = ip4(7, 5000);
	uint32_t sup;
	for (int i = 0; i < 1000; i++)
		seclog_allow(w, IW_SECLOG_AUTH, &a, &sup);
	for (unsigned i = 8; i < 8 + 40; i++) {
		struct iw_addr b = ip4((uint8_t)i, 6000);
		assert_true(seclog_allow(w, IW_SECLOG_AUTH, &b, &sup));
		assert_int_equal(sup, 0);
	}
	/* An address that shares the flooding one's slot takes it over with a full burst. */
	struct iw_addr k = a;
	k.port = 0;
	uint32_t slot = iw_addr_hash(&k, ~w->auth.rl_seed) % IW_SECLOG_SLOTS;
	bool found = false;
	for (unsigned hi = 0; hi < 256 && !found; hi++)
		for (unsigned lo = 0; lo < 256 && !found; lo++) {
			struct iw_addr b = ip4((uint8_t)lo, 0);
			b.ip[2] = (uint8_t)hi;
			if (iw_addr_eq(&b, &k) ||
			    iw_addr_hash(&b, ~w->auth.rl_seed) % IW_SECLOG_SLOTS != slot)
				continue;
			found = true;
			w->now_ms += 1000; /* a new second for the kind's cap */
			for (int i = 0; i < IW_SECLOG_BURST; i++)
				assert_true(seclog_allow(w, IW_SECLOG_AUTH, &b, &sup));
		}
	assert_true(found);
	free(w);
}

/* Many addresses in one second: at most IW_SECLOG_KIND_RATE lines of a kind, the other kind
 * has its own budget, and the next second starts afresh. */
static void test_kind_cap(void **state)
{
	(void)state;
	struct iw_worker *w = bare();
	uint32_t sup;
	unsigned n = 0;
	for (unsigned i = 0; i < 200; i++) {
		struct iw_addr b = ip4((uint8_t)i, 6000);
		n += seclog_allow(w, IW_SECLOG_AUTH, &b, &sup);
	}
	assert_int_equal(n, IW_SECLOG_KIND_RATE);
	struct iw_addr c = ip4(250, 1);
	assert_true(seclog_allow(w, IW_SECLOG_REFUSED, &c, &sup));
	w->now_ms += 1000;
	struct iw_addr d = ip4(199, 6000);
	assert_true(seclog_allow(w, IW_SECLOG_AUTH, &d, &sup));
	free(w);
}

/* Peer-supplied names cannot end a field or add one. */
static void test_field(void **state)
{
	(void)state;
	char out[16];
	seclog_field(out, sizeof out, (const uint8_t *)"a b\"c\n=d", 8);
	assert_string_equal(out, "a?b?c?=d");
	seclog_field(out, sizeof out, NULL, 0);
	assert_string_equal(out, "-");
	seclog_field(out, sizeof out, (const uint8_t *)"1800000000:alice-with-a-long-name", 33);
	assert_string_equal(out, "1800000000:alic");
	char r[8];
	seclog_reason(r, sizeof r, "a\"b");
	assert_string_equal(r, "a'b");
}

/* rest-strict-expiry caps the end at the credential's timestamp, and only then. */
static void test_cred_cap(void **state)
{
	(void)state;
	struct iw_worker *w = bare();
	struct iw_conf c;
	memset(&c, 0, sizeof c);
	w->conf = &c;
	struct iw_alloc a;
	memset(&a, 0, sizeof a);
	uint64_t life = w->now_ms + 600000;
	a.cred_expiry_s = w->now_s + 3;
	assert_true(cred_cap(w, &a, life) == life); /* off */
	assert_false(a.cred_capped);
	c.rest_strict_expiry = true;
	assert_true(cred_cap(w, &a, life) == w->now_ms + 3000);
	assert_true(a.cred_capped);
	a.cred_expiry_s = w->now_s + 3600; /* the lifetime ends first */
	assert_true(cred_cap(w, &a, life) == life);
	assert_false(a.cred_capped);
	a.cred_expiry_s = w->now_s - 5; /* already past: now */
	assert_true(cred_cap(w, &a, life) == w->now_ms);
	assert_true(a.cred_capped);
	a.cred_expiry_s = 0; /* a static user */
	assert_true(cred_cap(w, &a, life) == life);
	assert_false(a.cred_capped);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_address), cmocka_unit_test(test_other_address_not_hidden),
		cmocka_unit_test(test_kind_cap),    cmocka_unit_test(test_field),
		cmocka_unit_test(test_cred_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
