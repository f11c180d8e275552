/* Unit tests for common/proxy.c: headers HAProxy wrote (tests/vectors/proxy_haproxy.h), the
 * spec's examples and bounds, every prefix of a header asking for more, and malformed input
 * refused with a reason. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/proxy.h"
#include "tests/vectors/proxy_haproxy.h"

static void assert_addr(const struct iw_addr *a, const char *text)
{
	char buf[IW_ADDR_STRLEN];
	assert_string_equal(iw_addr_fmt(a, true, buf, sizeof buf), text);
}

/* Every strict prefix of a complete header asks for more; the whole header parses to len. */
static void assert_prefixes(const uint8_t *buf, size_t len)
{
	struct iw_proxy_hdr h;
	const char *why = NULL;
	for (size_t n = 0; n < len; n++)
		assert_int_equal(iw_proxy_parse(buf, n, &h, &why), 0);
	assert_int_equal(iw_proxy_parse(buf, len, &h, &why), (int)len);
}

static int parse_str(const char *s, struct iw_proxy_hdr *h, const char **why)
{
	return iw_proxy_parse((const uint8_t *)s, strlen(s), h, why);
}

static void test_haproxy_v1(void **state)
{
	struct iw_proxy_hdr h;
	const char *why = NULL;
	uint8_t buf[sizeof proxy_haproxy_v1_tcp4 + 5];
	(void)state;

	/* The client's first bytes follow the header: they are not part of it. */
	memcpy(buf, proxy_haproxy_v1_tcp4, sizeof proxy_haproxy_v1_tcp4);
	memcpy(buf + sizeof proxy_haproxy_v1_tcp4, "HELLO", 5);
	assert_int_equal(iw_proxy_parse(buf, sizeof buf, &h, &why), (int)sizeof proxy_haproxy_v1_tcp4);
	assert_int_equal(h.version, 1);
	assert_false(h.local);
	assert_addr(&h.src, "127.0.0.2:48265");
	assert_addr(&h.dst, "127.0.0.1:47101");
	assert_prefixes(proxy_haproxy_v1_tcp4, sizeof proxy_haproxy_v1_tcp4);
}

static void test_haproxy_v2(void **state)
{
	struct iw_proxy_hdr h;
	const char *why = NULL;
	(void)state;

	assert_int_equal(iw_proxy_parse(proxy_haproxy_v2_tcp4, sizeof proxy_haproxy_v2_tcp4, &h, &why),
			 (int)sizeof proxy_haproxy_v2_tcp4);
	assert_int_equal(h.version, 2);
	assert_false(h.local || h.dgram || h.tls);
	assert_int_equal(h.alpn_len, 0);
	assert_addr(&h.src, "127.0.0.2:41175");
	assert_addr(&h.dst, "127.0.0.1:47102");
	assert_prefixes(proxy_haproxy_v2_tcp4, sizeof proxy_haproxy_v2_tcp4);

	assert_int_equal(iw_proxy_parse(proxy_haproxy_v2_tcp6, sizeof proxy_haproxy_v2_tcp6, &h, &why),
			 (int)sizeof proxy_haproxy_v2_tcp6);
	assert_addr(&h.src, "[::1]:60841");
	assert_addr(&h.dst, "[::1]:47102");
	assert_prefixes(proxy_haproxy_v2_tcp6, sizeof proxy_haproxy_v2_tcp6);

	assert_int_equal(
		iw_proxy_parse(proxy_haproxy_v2_tls_alpn, sizeof proxy_haproxy_v2_tls_alpn, &h, &why),
		(int)sizeof proxy_haproxy_v2_tls_alpn);
	assert_addr(&h.src, "127.0.0.3:40245");
	assert_addr(&h.dst, "127.0.0.1:47103");
	assert_true(h.tls);
	assert_int_equal(h.alpn_len, 9);
	assert_string_equal(h.alpn, "stun.turn");
	assert_prefixes(proxy_haproxy_v2_tls_alpn, sizeof proxy_haproxy_v2_tls_alpn);
}

/* The examples and bounds of section 2.1. */
static void test_v1_spec(void **state)
{
	struct iw_proxy_hdr h;
	const char *why = NULL;
	/* The worst case the spec sizes its 107 bytes by. */
	static const char longest[] = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
				      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	char over[IW_PROXY_V1_MAX + 16];
	(void)state;

	assert_int_equal(sizeof longest - 1, IW_PROXY_V1_MAX);
	assert_int_equal(parse_str(longest, &h, &why), IW_PROXY_V1_MAX);
	assert_true(h.local);
	assert_int_equal(parse_str("PROXY UNKNOWN\r\n", &h, &why), 15);
	assert_true(h.local);

	assert_int_equal(parse_str("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET /", &h, &why), 47);
	assert_addr(&h.src, "192.168.0.1:56324");
	assert_addr(&h.dst, "192.168.0.11:443");
	assert_int_equal(parse_str("PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n", &h, &why), 44);
	assert_addr(&h.src, "[2001:db8::1]:1");
	assert_addr(&h.dst, "[2001:db8::2]:65535");

	/* No CRLF within 107 bytes: refused, not read on. */
	memset(over, 'x', sizeof over);
	memcpy(over, "PROXY UNKNOWN ", 14);
	assert_int_equal(iw_proxy_parse((const uint8_t *)over, IW_PROXY_V1_MAX - 1, &h, &why), 0);
	assert_int_equal(iw_proxy_parse((const uint8_t *)over, sizeof over, &h, &why), -EINVAL);
	assert_non_null(strstr(why, "107"));
}

static void test_v1_malformed(void **state)
{
	static const char *const bad[] = {
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",        /* LF without CR */
		"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",      /* protocol */
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n",  /* port range */
		"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",     /* sign */
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",    /* extra field */
		"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",        /* missing port */
		"PROXY TCP4 ::1 ::1 1 2\r\n",              /* family mismatch */
		"PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",      /* family mismatch */
		"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",     /* empty field */
		"PROXY TCP4 1.2.3.400 5.6.7.8 1 2\r\n",    /* address */
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",     /* trailing space */
		"PROXY \r\n",                              /* nothing */
		"PROXY UNKNOWNX\r\n",                      /* not UNKNOWN */
		"PROXY TCP4 1.2.3.4 5.6.7.8 000001 2\r\n", /* six digits */
	};
	struct iw_proxy_hdr h;
	const char *why;
	(void)state;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why = NULL;
		if (parse_str(bad[i], &h, &why) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(why);
		assert_non_null(strstr(why, "PROXY v1"));
	}
	/* A NUL inside the header does not end a field early. */
	static const uint8_t nul[] = "PROXY TCP4 1.2.3.4\0x 5.6.7.8 1 2\r\n";
	assert_int_equal(iw_proxy_parse(nul, sizeof nul - 1, &h, &why), -EINVAL);
}

static void test_not_proxy(void **state)
{
	struct iw_proxy_hdr h;
	const char *why = NULL;
	static const uint8_t tls_hello[] = { 0x16, 0x03, 0x01, 0x02, 0x00 };
	static const uint8_t stun[] = { 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42 };
	(void)state;

	assert_int_equal(parse_str("GET / HTTP/1.1\r\n", &h, &why), -EPROTO);
	assert_string_equal(why, "no PROXY header");
	assert_int_equal(parse_str("PROXZ", &h, &why), -EPROTO);
	assert_int_equal(parse_str("P", &h, &why), 0); /* could still be one */
	assert_int_equal(iw_proxy_parse(tls_hello, sizeof tls_hello, &h, &why), -EPROTO);
	assert_int_equal(iw_proxy_parse(stun, sizeof stun, &h, &why), -EPROTO);
	/* \r\n\r\n then not the rest of the v2 signature */
	assert_int_equal(parse_str("\r\n\r\nGET", &h, &why), -EPROTO);
}

/* A v2 header assembled field by field: signature, then the given bytes. */
static size_t v2(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const uint8_t *body, uint16_t len)
{
	memcpy(out, proxy_haproxy_v2_tcp4, 12);
	out[12] = ver_cmd;
	out[13] = fam;
	out[14] = (uint8_t)(len >> 8);
	out[15] = (uint8_t)len;
	memcpy(out + 16, body, len);
	return 16u + len;
}

static void test_v2_spec(void **state)
{
	uint8_t buf[IW_PROXY_V2_MAX + 64], body[1100] = { 0 };
	struct iw_proxy_hdr h;
	const char *why = NULL;
	size_t n;
	(void)state;

	/* LOCAL (a health check from the proxy itself): addresses ignored. */
	memcpy(body, proxy_haproxy_v2_tcp4 + 16, 12);
	n = v2(buf, 0x20, 0x11, body, 12);
	assert_int_equal(iw_proxy_parse(buf, n, &h, &why), (int)n);
	assert_true(h.local);
	assert_int_equal(h.src.family, 0);
	/* UNSPEC family, no addresses at all. */
	n = v2(buf, 0x21, 0x00, body, 0);
	assert_int_equal(iw_proxy_parse(buf, n, &h, &why), 16);
	assert_true(h.local);
	/* unix sockets: no IP to use. */
	n = v2(buf, 0x21, 0x31, body, 216);
	assert_int_equal(iw_proxy_parse(buf, n, &h, &why), (int)n);
	assert_true(h.local);
	/* UDP over IPv4 */
	n = v2(buf, 0x21, 0x12, proxy_haproxy_v2_tcp4 + 16, 12);
	assert_int_equal(iw_proxy_parse(buf, n, &h, &why), (int)n);
	assert_true(h.dgram);
	assert_addr(&h.src, "127.0.0.2:41175");
	/* Unknown TLVs are skipped; a zero-length one is fine. */
	memcpy(body, proxy_haproxy_v2_tcp4 + 16, 12);
	memcpy(body + 12, "\x04\x00\x03xyz\x05\x00\x00", 9);
	n = v2(buf, 0x21, 0x11, body, 21);
	assert_int_equal(iw_proxy_parse(buf, n, &h, &why), (int)n);
	/* The largest header read, and one byte more refused before it arrives. */
	body[12] = 0x04;
	body[13] = (uint8_t)((IW_PROXY_V2_MAX - 16 - 15) >> 8);
	body[14] = (uint8_t)(IW_PROXY_V2_MAX - 16 - 15);
	n = v2(buf, 0x21, 0x11, body, IW_PROXY_V2_MAX - 16);
	assert_int_equal(iw_proxy_parse(buf, n, &h, &why), IW_PROXY_V2_MAX);
	n = v2(buf, 0x21, 0x11, body, IW_PROXY_V2_MAX - 15);
	assert_int_equal(iw_proxy_parse(buf, 16, &h, &why), -EINVAL);
	assert_non_null(strstr(why, "longer"));
}

static void test_v2_malformed(void **state)
{
	static const struct {
		uint8_t ver_cmd, fam;
		uint16_t len;
		const char *tlvs; /* after 12 bytes of IPv4 addresses */
		size_t tlv_len;
		const char *why;
	} bad[] = {
		{ 0x11, 0x11, 12, "", 0, "version" },
		{ 0x22, 0x11, 12, "", 0, "command" },
		{ 0x21, 0x41, 12, "", 0, "family" },
		{ 0x21, 0x13, 12, "", 0, "family" },
		{ 0x21, 0x11, 11, "", 0, "IPv4" },
		{ 0x21, 0x21, 35, "", 0, "IPv6" },
		{ 0x21, 0x31, 215, "", 0, "unix" },
		{ 0x21, 0x11, 14, "\x04\x00", 2, "TLV" },
		{ 0x21, 0x11, 16, "\x04\x00\x02x", 4, "TLV" },
		{ 0x21, 0x11, 15, "\x01\x00\x00", 3, "ALPN" },
		{ 0x21, 0x11, 19, "\x20\x00\x04\x01\x00\x00\x00", 7, "SSL" },
	};
	uint8_t buf[512], body[300] = { 0 };
	struct iw_proxy_hdr h;
	const char *why;
	(void)state;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memcpy(body + 12, bad[i].tlvs, bad[i].tlv_len);
		size_t n = v2(buf, bad[i].ver_cmd, bad[i].fam, body, bad[i].len);
		why = NULL;
		if (iw_proxy_parse(buf, n, &h, &why) != -EINVAL || !why || !strstr(why, bad[i].why))
			fail_msg("case %zu: %s", i, why ? why : "(accepted)");
	}
	/* An ALPN longer than we keep */
	memset(body + 12, 'a', 3 + IW_PROXY_ALPN_MAX + 1);
	body[12] = 0x01;
	body[13] = 0;
	body[14] = IW_PROXY_ALPN_MAX + 1;
	size_t n = v2(buf, 0x21, 0x11, body, 12 + 3 + IW_PROXY_ALPN_MAX + 1);
	assert_int_equal(iw_proxy_parse(buf, n, &h, &why), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_haproxy_v1),   cmocka_unit_test(test_haproxy_v2),
		cmocka_unit_test(test_v1_spec),      cmocka_unit_test(test_v1_malformed),
		cmocka_unit_test(test_not_proxy),    cmocka_unit_test(test_v2_spec),
		cmocka_unit_test(test_v2_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
