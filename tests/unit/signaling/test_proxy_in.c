/* Unit tests for signaling/proxy_in.c's reading of Forwarded and X-Forwarded-For: only from a
 * trusted peer, walked from the right past trusted hops, stopped by what is not an address. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "signaling/proxy_in.h"

static struct iw_proxy_in_cfg cfg_of(const char *a, const char *b)
{
	struct iw_proxy_in_cfg c = { 0 };
	assert_int_equal(iw_cidr_parse(&c.trusted[c.n_trusted++], a), 0);
	if (b)
		assert_int_equal(iw_cidr_parse(&c.trusted[c.n_trusted++], b), 0);
	return c;
}

/* The client for peer and headers, as text without the port ("" when not from a header). */
static const char *client(const struct iw_proxy_in_cfg *c, const char *peer, const char *fwd, const char *xff)
{
	static char buf[IW_ADDR_STRLEN];
	struct iw_addr p, out;
	assert_int_equal(iw_addr_parse(&p, peer), 0);
	if (!iw_proxy_in_forwarded(c, &p, fwd, xff, &out)) {
		assert_true(iw_addr_eq(&out, &p));
		return "";
	}
	return iw_addr_fmt(&out, false, buf, sizeof buf);
}

static void test_xff(void **state)
{
	struct iw_proxy_in_cfg c = cfg_of("10.0.0.0/8", "127.0.0.1");
	(void)state;

	assert_string_equal(client(&c, "127.0.0.1", NULL, "203.0.113.7"), "203.0.113.7");
	/* nginx's $proxy_add_x_forwarded_for after a client-supplied value: the client's own
	 * claim (left) is not believed, the hop our proxy added (right) is */
	assert_string_equal(client(&c, "127.0.0.1", NULL, "1.1.1.1, 203.0.113.7"), "203.0.113.7");
	/* two proxies of ours: the walk passes the trusted hop */
	assert_string_equal(client(&c, "127.0.0.1", NULL, "198.51.100.9, 10.1.2.3"), "198.51.100.9");
	assert_string_equal(client(&c, "127.0.0.1", NULL, "2001:db8::5,10.1.2.3"), "2001:db8::5");
	/* every hop is ours: the leftmost */
	assert_string_equal(client(&c, "127.0.0.1", NULL, "10.9.9.9, 10.1.2.3"), "10.9.9.9");
	/* garbage ends the walk at the hop before it */
	assert_string_equal(client(&c, "127.0.0.1", NULL, "nonsense"), "");
	assert_string_equal(client(&c, "127.0.0.1", NULL, "203.0.113.7, nonsense"), "");
	assert_string_equal(client(&c, "127.0.0.1", NULL, "nonsense, 10.1.2.3"), "10.1.2.3");
	assert_string_equal(client(&c, "127.0.0.1", NULL, "203.0.113.7,"), "");
	assert_string_equal(client(&c, "127.0.0.1", NULL, ""), "");
	/* an untrusted peer's headers are ignored */
	assert_string_equal(client(&c, "192.0.2.1", NULL, "203.0.113.7"), "");
	/* an IPv4 peer on a dual-stack socket */
	assert_string_equal(client(&c, "::ffff:127.0.0.1", NULL, "203.0.113.7"), "203.0.113.7");
}

static void test_forwarded(void **state)
{
	struct iw_proxy_in_cfg c = cfg_of("127.0.0.1", NULL);
	(void)state;

	/* RFC 7239's examples */
	assert_string_equal(client(&c, "127.0.0.1", "for=192.0.2.60;proto=http;by=203.0.113.43", NULL),
			    "192.0.2.60");
	assert_string_equal(client(&c, "127.0.0.1", "for=\"[2001:db8:cafe::17]:4711\"", NULL),
			    "2001:db8:cafe::17");
	assert_string_equal(client(&c, "127.0.0.1", "For=192.0.2.43, for=198.51.100.17", NULL),
			    "198.51.100.17");
	assert_string_equal(client(&c, "127.0.0.1", "proto=https; for=192.0.2.43", NULL), "192.0.2.43");
	/* obfuscated or unknown: nobody to name */
	assert_string_equal(client(&c, "127.0.0.1", "for=unknown", NULL), "");
	assert_string_equal(client(&c, "127.0.0.1", "for=_hidden, for=192.0.2.1", NULL), "192.0.2.1");
	assert_string_equal(client(&c, "127.0.0.1", "by=1.2.3.4", NULL), "");
	/* Forwarded wins over X-Forwarded-For */
	assert_string_equal(client(&c, "127.0.0.1", "for=192.0.2.60", "203.0.113.7"), "192.0.2.60");
	assert_string_equal(client(&c, "127.0.0.1", "", "203.0.113.7"), "203.0.113.7");
}

static void test_many_hops(void **state)
{
	struct iw_proxy_in_cfg c = cfg_of("10.0.0.0/8", "127.0.0.1");
	char h[4096] = "203.0.113.7";
	(void)state;

	/* 40 trusted hops after the client: only the last 32 are read, all ours, so the leftmost
	 * of those stands, never an address beyond the bound */
	for (int i = 0; i < 40; i++)
		strcat(h, ", 10.0.0.1");
	assert_string_equal(client(&c, "127.0.0.1", NULL, h), "10.0.0.1");
	/* a very long entry is not an address */
	memset(h, '1', 200);
	h[200] = '\0';
	assert_string_equal(client(&c, "127.0.0.1", NULL, h), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xff),
		cmocka_unit_test(test_forwarded),
		cmocka_unit_test(test_many_hops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
