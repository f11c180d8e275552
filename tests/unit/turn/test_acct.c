/* turn/acct: the accounting record of an allocation (fields, the user part of a REST
 * username, transports, end reasons), in JSON and logfmt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "turn/acct.h"

static struct iw_alloc alloc_of(const char *user, uint16_t quota_off)
{
	struct iw_alloc a;
	memset(&a, 0, sizeof a);
	a.id = 0x0001000000000abcULL;
	assert_int_equal(iw_addr_parse(&a.client, "192.0.2.7:40000"), 0);
	a.tr = IW_CLIENT_TLS;
	a.n_rsock = 2;
	assert_int_equal(iw_addr_parse(&a.rs[0].adv, "203.0.113.1:50000"), 0);
	assert_int_equal(iw_addr_parse(&a.rs[1].adv, "[2001:db8::1]:50002"), 0);
	a.user_len = (uint16_t)strlen(user);
	memcpy(a.user, user, a.user_len);
	a.quota_off = quota_off;
	a.acct = true;
	a.created_ms = 5000;
	a.start_wall_ms = 1764892800123LL;
	a.use = (struct iw_alloc_use){ .pkts = { 3, 4 }, .bytes = { 300, 4000 }, .peers = 2 };
	return a;
}

static void test_final_json(void **state)
{
	(void)state;
	/* A REST username "expiry:user": the record names the user, never the expiry. */
	struct iw_alloc a = alloc_of("1764900000:bob", 11);
	char buf[IW_ACCT_LINE_MAX];
	size_t n = iw_acct_format(buf, sizeof buf, true, "example.org", &a, IW_ACCT_FINAL, IW_END_REFRESH0,
				  5000 + 61250);
	assert_int_equal(n, strlen(buf));
	const char *body = strstr(buf, ",\"msg\"");
	assert_non_null(body);
	assert_string_equal(body, ",\"msg\":\"session\",\"kind\":\"final\",\"id\":\"0001000000000abc\","
				  "\"realm\":\"example.org\",\"user\":\"bob\",\"client\":\"192.0.2.7:40000\","
				  "\"transport\":\"tls\",\"relayed\":[\"203.0.113.1:50000\","
				  "\"[2001:db8::1]:50002\"],\"start\":\"2025-12-05T00:00:00.123Z\","
				  "\"duration\":61.250,\"packets_to_peer\":3,\"bytes_to_peer\":300,"
				  "\"packets_to_client\":4,\"bytes_to_client\":4000,\"peers\":2,"
				  "\"end\":\"refresh0\"}\n");
	assert_null(strstr(buf, "1764900000"));
}

static void test_interim_plain(void **state)
{
	(void)state;
	/* A static user with a quote and a space: quoted, escaped, one line; no end reason. */
	struct iw_alloc a = alloc_of("al \"ice\"", 0);
	a.tr = IW_CLIENT_UDP;
	a.n_rsock = 1;
	char buf[IW_ACCT_LINE_MAX];
	size_t n = iw_acct_format(buf, sizeof buf, false, "example.org", &a, IW_ACCT_INTERIM, IW_END_COUNT,
				  5000);
	const char *body = strstr(buf, ": session ");
	assert_non_null(body);
	assert_string_equal(body,
			    ": session kind=interim id=0001000000000abc realm=example.org "
			    "user=\"al \\\"ice\\\"\" client=192.0.2.7:40000 transport=udp "
			    "relayed=203.0.113.1:50000 start=2025-12-05T00:00:00.123Z duration=0.000 "
			    "packets_to_peer=3 bytes_to_peer=300 packets_to_client=4 bytes_to_client=4000 "
			    "peers=2\n");
	assert_null(memchr(buf, '\n', n - 1));
}

static void test_names(void **state)
{
	(void)state;
	static const char *const want[IW_END_COUNT] = {
		[IW_END_EXPIRED] = "expired", [IW_END_REFRESH0] = "refresh0",
		[IW_END_CLOSED] = "closed",   [IW_END_KILLED] = "killed",
		[IW_END_REVOKED] = "revoked", [IW_END_CRED_EXPIRED] = "credential_expired",
		[IW_END_QUOTA] = "quota",     [IW_END_DRAIN] = "drain",
	};
	for (int i = 0; i < IW_END_COUNT; i++)
		assert_string_equal(iw_acct_end_name((enum iw_alloc_end)i), want[i]);
	assert_string_equal(iw_acct_end_name(IW_END_COUNT), "unknown");
	assert_string_equal(iw_acct_tr_name(IW_CLIENT_UDP), "udp");
	assert_string_equal(iw_acct_tr_name(IW_CLIENT_TCP), "tcp");
	assert_string_equal(iw_acct_tr_name(IW_CLIENT_TLS), "tls");
}

/* The longest user name an allocation holds, all control bytes (6 bytes each escaped in
 * JSON), still fits a record whole. */
static void test_longest_user_fits(void **state)
{
	(void)state;
	char user[IW_ALLOC_USER_MAX];
	memset(user, 0x01, sizeof user - 1);
	user[sizeof user - 1] = 0;
	struct iw_alloc a = alloc_of(user, 0);
	char buf[IW_ACCT_LINE_MAX];
	iw_acct_format(buf, sizeof buf, true, "example.org", &a, IW_ACCT_FINAL, IW_END_DRAIN, 9000);
	assert_null(strstr(buf, "\"cut\""));
	assert_non_null(strstr(buf, "\"end\":\"drain\"}\n"));
}

/* Interim times stay on the interval's grid: a point the wheel reached late still comes (at the
 * next tick), a longer stall skips what it let pass, and interval 0 stops them. */
static void test_interim_grid(void **state)
{
	(void)state;
	static struct iw_worker w; /* zeroed: no table, no counters needed */
	struct iw_conf conf;
	memset(&conf, 0, sizeof conf);
	conf.acct_interval_s = 1;
	w.conf = &conf;
	struct iw_alloc a = alloc_of("alice", 0);
	a.acct = false; /* no line written here */
	a.interim_ms = 6000;
	w.now_ms = 6000;
	iw_acct_interim(&w, &a);
	assert_int_equal(a.interim_ms, 7000);
	w.now_ms = 8136; /* 1.1 s late */
	iw_acct_interim(&w, &a);
	assert_int_equal(a.interim_ms, 8000);
	w.now_ms = 11500; /* 3.5 s late */
	iw_acct_interim(&w, &a);
	assert_int_equal(a.interim_ms, 11000);
	conf.acct_interval_s = 0;
	iw_acct_interim(&w, &a);
	assert_int_equal(a.interim_ms, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_final_json),   cmocka_unit_test(test_interim_plain),
		cmocka_unit_test(test_names),        cmocka_unit_test(test_longest_user_fits),
		cmocka_unit_test(test_interim_grid),
	};
	return cmocka_run_group_tests_name("acct", tests, NULL, NULL);
}
