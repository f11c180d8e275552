/* Unit tests for common/addr.c: parsing, formatting, hashing, CIDR, embedded-IPv4 forms and
 * the special-range classification. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/addr.h"

static struct iw_addr A(const char *s) {
	struct iw_addr a;
	if (iw_addr_parse(&a, s) != 0)
		fail_msg("cannot parse '%s'", s);
	return a;
}

static void
test_parse_fmt(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int family;
		unsigned port;
		const char *out; /* with port */
	} ok[] = {
		{ "1.2.3.4", AF_INET, 0, "1.2.3.4:0" },
		{ "1.2.3.4:5", AF_INET, 5, "1.2.3.4:5" },
		{ "255.255.255.255:65535", AF_INET, 65535, "255.255.255.255:65535" },
		{ "::1", AF_INET6, 0, "[::1]:0" },
		{ "[::1]:5", AF_INET6, 5, "[::1]:5" },
		{ "[2001:db8::1]", AF_INET6, 0, "[2001:db8::1]:0" },
		{ "::ffff:1.2.3.4", AF_INET6, 0, "[::ffff:1.2.3.4]:0" },
		{ "[fe80::1]:3478", AF_INET6, 3478, "[fe80::1]:3478" },
	};
	static const char *const bad[] = {
		"",          "1.2.3",    "1.2.3.4:",    "1.2.3.4:65536", "1.2.3.4:-1",  "1.2.3.4:x",
		"1.2.3.256", "[::1",     "[::1]x",      "[::1]:",        "[1.2.3.4]:5", "::1:5]",
		"hostname",  "1.2.3.4 ", "[::1]:99999", "fe80::1%eth0",  "1.2.3.4:5:6", "[]:1",
	};
	char buf[IW_ADDR_STRLEN];

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		struct iw_addr a;
		assert_int_equal(iw_addr_parse(&a, ok[i].in), 0);
		assert_int_equal(a.family, ok[i].family);
		assert_int_equal(a.port, ok[i].port);
		assert_string_equal(iw_addr_fmt(&a, true, buf, sizeof buf), ok[i].out);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct iw_addr a;
		if (iw_addr_parse(&a, bad[i]) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
	}
	struct iw_addr a = A("[2001:db8::1]:443");
	assert_string_equal(iw_addr_fmt(&a, false, buf, sizeof buf), "2001:db8::1");
	a = A("10.0.0.1:80");
	assert_string_equal(iw_addr_fmt(&a, false, buf, sizeof buf), "10.0.0.1");
	/* Longest form fits IW_ADDR_STRLEN. */
	a = A("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535");
	iw_addr_fmt(&a, true, buf, sizeof buf);
	assert_true(strlen(buf) < IW_ADDR_STRLEN);
	/* Truncation into a small buffer stays NUL-terminated. */
	char small[6];
	assert_string_equal(iw_addr_fmt(&a, true, small, sizeof small), "[ffff");
	memset(&a, 0, sizeof a);
	assert_string_equal(iw_addr_fmt(&a, true, buf, sizeof buf), "(none)");
	/* v4 leaves the tail zeroed so memcmp works. */
	a = A("1.2.3.4");
	static const uint8_t zero[12];
	assert_memory_equal(a.ip + 4, zero, 12);
	assert_int_equal(sizeof(struct iw_addr), 20);
}

static void test_sockaddr_roundtrip(void **state)
{
	(void)state;
	struct sockaddr_storage ss;
	struct iw_addr a = A("192.0.2.7:3478"), b;

	assert_int_equal(iw_addr_to_sa(&a, &ss), sizeof(struct sockaddr_in));
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	assert_int_equal(ntohs(sin->sin_port), 3478);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0xc0000207);
	assert_int_equal(iw_addr_from_sa(&b, (struct sockaddr *)&ss), 0);
	assert_true(iw_addr_eq(&a, &b));

	a = A("[2001:db8::5]:49152");
	assert_int_equal(iw_addr_to_sa(&a, &ss), sizeof(struct sockaddr_in6));
	assert_int_equal(iw_addr_from_sa(&b, (struct sockaddr *)&ss), 0);
	assert_true(iw_addr_eq(&a, &b));

	struct sockaddr un = { .sa_family = AF_UNIX };
	assert_int_equal(iw_addr_from_sa(&b, &un), -EAFNOSUPPORT);
	memset(&a, 0, sizeof a);
	assert_int_equal(iw_addr_to_sa(&a, &ss), 0);
}

static void test_eq_hash_any(void **state)
{
	(void)state;
	struct iw_addr a = A("10.0.0.1:1000"), b = A("10.0.0.1:1001"), c;

	assert_false(iw_addr_eq(&a, &b));
	assert_true(iw_addr_ip_eq(&a, &b));
	c = A("[::ffff:10.0.0.1]:1000");
	assert_false(iw_addr_ip_eq(&a, &c)); /* different family */
	assert_int_equal(iw_addr_hash(&a, 7), iw_addr_hash(&a, 7));
	assert_true(iw_addr_hash(&a, 7) != iw_addr_hash(&b, 7));
	assert_true(iw_addr_hash(&a, 7) != iw_addr_hash(&a, 8));

	/* Ports 0..4095 of one address spread over 64 buckets: none empty, none above 3x mean. */
	unsigned buckets[64] = { 0 };
	for (unsigned p = 0; p < 4096; p++) {
		a.port = (uint16_t)p;
		buckets[iw_addr_hash(&a, 0x1234) % 64]++;
	}
	for (unsigned i = 0; i < 64; i++) {
		assert_true(buckets[i] > 0);
		assert_true(buckets[i] < 3 * 64);
	}

	a = A("0.0.0.0:1");
	assert_true(iw_addr_is_any(&a));
	a = A("[::]:1");
	assert_true(iw_addr_is_any(&a));
	a = A("::1");
	assert_false(iw_addr_is_any(&a));
	memset(&a, 0, sizeof a);
	assert_false(iw_addr_is_any(&a));
}

static void test_cidr(void **state)
{
	(void)state;
	static const struct {
		const char *cidr, *addr;
		bool in;
	} rows[] = {
		{ "10.0.0.0/8", "10.255.1.2", true },
		{ "10.0.0.0/8", "11.0.0.0", false },
		{ "10.1.2.3/8", "10.9.9.9", true },
		{ "172.16.0.0/12", "172.31.255.255", true },
		{ "172.16.0.0/12", "172.32.0.0", false },
		{ "0.0.0.0/0", "8.8.8.8", true },
		{ "0.0.0.0/0", "::1", false },
		{ "1.2.3.4", "1.2.3.4", true },
		{ "1.2.3.4", "1.2.3.5", false },
		{ "1.2.3.4/32", "1.2.3.4", true },
		{ "fe80::/10", "febf::1", true },
		{ "fe80::/10", "fec0::1", false },
		{ "::/0", "2001:db8::1", true },
		{ "2001:db8::/32", "2001:db9::", false },
		{ "2001:db8::1/128", "2001:db8::1", true },
		{ "::1", "::1", true },
		{ "100.64.0.0/10", "100.127.255.255", true },
		{ "100.64.0.0/10", "100.128.0.0", false },
	};
	static const char *const bad[] = { "10.0.0.0/33",   "::/129", "10.0.0.0/", "10.0.0.0/x",
					   "10.0.0.0/-1",   "/8",     "10.0.0/8",  "10.0.0.0/8/8",
					   "10.0.0.0/0008", "host/8", "" };

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct iw_cidr c;
		struct iw_addr a = A(rows[i].addr);
		assert_int_equal(iw_cidr_parse(&c, rows[i].cidr), 0);
		if (iw_cidr_contains(&c, &a) != rows[i].in)
			fail_msg("%s in %s: expected %d", rows[i].addr, rows[i].cidr, rows[i].in);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct iw_cidr c;
		if (iw_cidr_parse(&c, bad[i]) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
	}
}

static void test_normalize(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		bool embedded;
		const char *v4;
	} rows[] = {
		{ "[::ffff:127.0.0.1]:9", true, "127.0.0.1:9" },
		{ "::127.0.0.1", true, "127.0.0.1:0" },
		{ "::0.0.0.2", true, "0.0.0.2:0" },
		{ "::", false, NULL },
		{ "::1", false, NULL },
		{ "64:ff9b::a9fe:a9fe", true, "169.254.169.254:0" },
		{ "64:ff9b:1:a00:0:100::", true, "10.0.0.1:0" }, /* RFC 6052 /48 layout */
		{ "64:ff9b:1:abcd::a00:1", true, "10.0.0.1:0" }, /* a /96 inside the /48 */
		{ "2002:7f00:1::1", true, "127.0.0.1:0" },
		{ "2002:c000:0204::", true, "192.0.2.4:0" },
		/* Teredo: server 65.54.227.120, client 10.0.0.1 stored as f5ff:fffe. */
		{ "[2001:0:4136:e378:8000:63bf:f5ff:fffe]:7", true, "10.0.0.1:7" },
		{ "2001:db8::1", false, NULL },
		{ "fe80::1", false, NULL },
		{ "8.8.8.8:53", false, NULL },
	};
	char buf[IW_ADDR_STRLEN];

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct iw_addr a = A(rows[i].in), out;
		bool e = iw_addr_normalize(&a, &out);
		if (e != rows[i].embedded)
			fail_msg("%s: embedded %d", rows[i].in, e);
		if (e) {
			assert_int_equal(out.family, AF_INET);
			assert_string_equal(iw_addr_fmt(&out, true, buf, sizeof buf), rows[i].v4);
			static const uint8_t zero[12];
			assert_memory_equal(out.ip + 4, zero, 12);
		} else {
			assert_true(iw_addr_eq(&a, &out));
		}
	}
}

static void test_classify(void **state)
{
	(void)state;
	static const struct {
		const char *addr;
		enum iw_addr_class cls;
	} rows[] = {
		{ "127.0.0.1", IW_ADDR_LOOPBACK },
		{ "127.255.255.254", IW_ADDR_LOOPBACK },
		{ "0.0.0.0", IW_ADDR_UNSPECIFIED },
		{ "0.1.2.3", IW_ADDR_UNSPECIFIED },
		{ "10.0.0.1", IW_ADDR_PRIVATE },
		{ "172.16.0.1", IW_ADDR_PRIVATE },
		{ "172.31.255.255", IW_ADDR_PRIVATE },
		{ "172.32.0.1", IW_ADDR_PUBLIC },
		{ "192.168.1.1", IW_ADDR_PRIVATE },
		{ "100.64.0.1", IW_ADDR_SHARED },
		{ "100.128.0.1", IW_ADDR_PUBLIC },
		{ "169.254.169.254", IW_ADDR_LINK_LOCAL },
		{ "224.0.0.1", IW_ADDR_MULTICAST },
		{ "239.255.255.250", IW_ADDR_MULTICAST },
		{ "255.255.255.255", IW_ADDR_BROADCAST },
		{ "255.255.255.254", IW_ADDR_RESERVED },
		{ "240.0.0.1", IW_ADDR_RESERVED },
		{ "192.0.0.8", IW_ADDR_RESERVED },
		{ "192.88.99.1", IW_ADDR_RESERVED },
		{ "198.18.0.1", IW_ADDR_RESERVED },
		{ "198.19.255.255", IW_ADDR_RESERVED },
		{ "198.20.0.1", IW_ADDR_PUBLIC },
		{ "192.0.2.1", IW_ADDR_PUBLIC },    /* documentation: public by design */
		{ "198.51.100.1", IW_ADDR_PUBLIC }, /* documentation */
		{ "203.0.113.1", IW_ADDR_PUBLIC },  /* documentation */
		{ "8.8.8.8", IW_ADDR_PUBLIC },
		{ "1.1.1.1", IW_ADDR_PUBLIC },
		{ "::1", IW_ADDR_LOOPBACK },
		{ "::", IW_ADDR_UNSPECIFIED },
		{ "fe80::1", IW_ADDR_LINK_LOCAL },
		{ "febf:ffff::1", IW_ADDR_LINK_LOCAL },
		{ "fec0::1", IW_ADDR_RESERVED },
		{ "fc00::1", IW_ADDR_PRIVATE },
		{ "fd12:3456::1", IW_ADDR_PRIVATE },
		{ "ff02::1", IW_ADDR_MULTICAST },
		{ "100::1", IW_ADDR_RESERVED },
		{ "100:0:0:1::1", IW_ADDR_PUBLIC }, /* just outside 100::/64 */
		{ "2001:10::1", IW_ADDR_RESERVED },
		{ "2001:20::1", IW_ADDR_RESERVED },
		{ "2001:2::1", IW_ADDR_RESERVED },
		{ "::ffff:127.0.0.1", IW_ADDR_LOOPBACK },
		{ "::ffff:169.254.169.254", IW_ADDR_LINK_LOCAL },
		{ "::ffff:8.8.8.8", IW_ADDR_PUBLIC },
		{ "::127.0.0.1", IW_ADDR_LOOPBACK },
		{ "::8.8.8.8", IW_ADDR_RESERVED }, /* deprecated IPv4-compatible form */
		{ "::0.0.0.2", IW_ADDR_UNSPECIFIED },
		{ "2002:7f00:1::1", IW_ADDR_LOOPBACK },
		{ "2002:a9fe:a9fe::", IW_ADDR_LINK_LOCAL },
		{ "2002:808:808::1", IW_ADDR_PUBLIC },
		{ "64:ff9b::a9fe:a9fe", IW_ADDR_LINK_LOCAL },
		{ "64:ff9b::7f00:1", IW_ADDR_LOOPBACK },
		{ "64:ff9b::808:808", IW_ADDR_PUBLIC },
		{ "64:ff9b:1:a00:0:100::", IW_ADDR_PRIVATE },
		{ "64:ff9b:1:abcd::a9fe:a9fe", IW_ADDR_LINK_LOCAL },
		{ "2001:0:4136:e378:8000:63bf:f5ff:fffe", IW_ADDR_PRIVATE },  /* Teredo, 10.0.0.1 */
		{ "2001:0:4136:e378:8000:63bf:80ff:fffe", IW_ADDR_LOOPBACK }, /* Teredo, 127.0.0.1 */
		{ "2001:0:4136:e378:8000:63bf:f7f7:f7f7", IW_ADDR_PUBLIC },   /* Teredo, 8.8.8.8 */
		{ "2001:db8::1", IW_ADDR_PUBLIC },                            /* documentation */
		{ "2606:4700::1111", IW_ADDR_PUBLIC },
		{ "2a00:1450:4001::200e", IW_ADDR_PUBLIC },
	};
	char buf[IW_ADDR_STRLEN];

	assert_true(sizeof rows / sizeof rows[0] >= 40);
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct iw_addr a = A(rows[i].addr);
		const char *range = NULL;
		enum iw_addr_class c = iw_addr_classify(&a, &range);
		if (c != rows[i].cls)
			fail_msg("%s: got %s, want %s (%s)", iw_addr_fmt(&a, false, buf, sizeof buf),
				 iw_addr_class_name(c), iw_addr_class_name(rows[i].cls), range);
		assert_non_null(range);
		if (c != IW_ADDR_PUBLIC)
			assert_true(strchr(range, '/') != NULL);
	}
	const char *range;
	struct iw_addr a = A("169.254.169.254");
	iw_addr_classify(&a, &range);
	assert_string_equal(range, "169.254.0.0/16");
	a = A("::ffff:169.254.169.254");
	iw_addr_classify(&a, &range);
	assert_string_equal(range, "169.254.0.0/16");
	/* NULL range is allowed. */
	assert_int_equal(iw_addr_classify(&a, NULL), IW_ADDR_LINK_LOCAL);
	memset(&a, 0, sizeof a);
	assert_int_equal(iw_addr_classify(&a, &range), IW_ADDR_UNSPECIFIED);
}

static void test_class_names(void **state)
{
	(void)state;
	assert_string_equal(iw_addr_class_name(IW_ADDR_PUBLIC), "public");
	assert_string_equal(iw_addr_class_name(IW_ADDR_LOOPBACK), "loopback");
	assert_string_equal(iw_addr_class_name(IW_ADDR_LINK_LOCAL), "link-local");
	for (int c = 0; c < IW_ADDR_CLASS_COUNT; c++)
		assert_non_null(iw_addr_class_name((enum iw_addr_class)c));
	assert_string_equal(iw_addr_class_name(IW_ADDR_CLASS_COUNT), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_fmt),   cmocka_unit_test(test_sockaddr_roundtrip),
		cmocka_unit_test(test_eq_hash_any), cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_normalize),   cmocka_unit_test(test_classify),
		cmocka_unit_test(test_class_names),
	};
	return cmocka_run_group_tests_name("addr", tests, NULL, NULL);
}
