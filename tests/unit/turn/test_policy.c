/* turn/policy: the default (safe) policy over a table of addresses, the options that widen
 * or narrow it, and the reason phrases. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "turn/policy.h"

static const struct {
	const char *addr;
	bool allowed;    /* default policy */
	bool allowed_lo; /* with allow-loopback-peers */
} table[] = {
	{ "8.8.8.8", true, true },
	{ "1.1.1.1", true, true },
	{ "192.0.2.10", true, true }, /* documentation ranges count as public */
	{ "198.51.100.7", true, true },
	{ "203.0.113.200", true, true },
	{ "2001:db8::1", true, true },
	{ "2606:4700::1111", true, true },
	{ "127.0.0.1", false, true },
	{ "127.255.255.254", false, true },
	{ "::1", false, true },
	{ "::ffff:127.0.0.1", false, true }, /* IPv4-mapped loopback */
	{ "10.0.0.1", false, false },
	{ "10.255.255.255", false, false },
	{ "172.16.0.1", false, false },
	{ "172.31.255.1", false, false },
	{ "172.32.0.1", true, true }, /* just past 172.16/12 */
	{ "192.168.1.1", false, false },
	{ "fd00::1", false, false },
	{ "fc00::1", false, false },
	{ "100.64.0.1", false, false },      /* carrier-grade NAT */
	{ "100.128.0.1", true, true },       /* just past 100.64/10 */
	{ "169.254.169.254", false, false }, /* cloud metadata */
	{ "fe80::1", false, false },
	{ "224.0.0.1", false, false },
	{ "239.255.255.250", false, false },
	{ "ff02::1", false, false },
	{ "255.255.255.255", false, false },
	{ "0.0.0.0", false, false },
	{ "0.1.2.3", false, false },
	{ "::", false, false },
	{ "240.0.0.1", false, false },
	{ "::ffff:10.0.0.1", false, false }, /* IPv4-mapped private */
	{ "::ffff:169.254.169.254", false, false },
	{ "64:ff9b::a00:1", false, false }, /* NAT64 of 10.0.0.1 */
	{ "64:ff9b::808:808", true, true }, /* NAT64 of 8.8.8.8 */
	{ "2002:a00:1::", false, false },   /* 6to4 of 10.0.0.1 */
	{ "2002:7f00:1::", false, true },   /* 6to4 of 127.0.0.1 */
	{ "::ffff:8.8.4.4", true, true },
};

static struct iw_addr addr(const char *s)
{
	struct iw_addr a;
	assert_int_equal(iw_addr_parse(&a, s), 0);
	a.port = 3480;
	return a;
}

/* With the port as written (0 when none). */
static struct iw_addr addr_port(const char *s)
{
	struct iw_addr a;
	assert_int_equal(iw_addr_parse(&a, s), 0);
	return a;
}

static void test_default_table(void **state)
{
	(void)state;
	struct iw_policy p, lo;
	iw_policy_init(&p);
	iw_policy_init(&lo);
	lo.allow_loopback = true;
	assert_true(sizeof table / sizeof table[0] >= 30);
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		char why[256] = "";
		struct iw_addr a = addr(table[i].addr);
		int rc = iw_policy_check(&p, &a, why, sizeof why);
		if ((rc == 0) != table[i].allowed)
			fail_msg("%s: default policy gave %d (%s)", table[i].addr, rc, why);
		if (rc)
			assert_true(strncmp(why, "Forbidden: peer ", 16) == 0);
		rc = iw_policy_check(&lo, &a, why, sizeof why);
		if ((rc == 0) != table[i].allowed_lo)
			fail_msg("%s: loopback policy gave %d (%s)", table[i].addr, rc, why);
	}
}

static void test_reason_phrase(void **state)
{
	(void)state;
	struct iw_policy p;
	iw_policy_init(&p);
	char why[256];
	struct iw_addr a = addr("10.0.0.1");
	assert_int_equal(iw_policy_check(&p, &a, why, sizeof why), -EPERM);
	assert_string_equal(why, "Forbidden: peer 10.0.0.1 is in private range 10.0.0.0/8 "
				 "(allowed-peer-ip=10.0.0.0/8 would allow it)");
	a = addr("127.0.0.1");
	assert_int_equal(iw_policy_check(&p, &a, why, sizeof why), -EPERM);
	assert_non_null(strstr(why, "allow-loopback-peers"));
}

static void test_allow_and_deny(void **state)
{
	(void)state;
	struct iw_policy p;
	const char *why = NULL;
	char reason[256];
	iw_policy_init(&p);
	assert_int_equal(iw_policy_allow_add(&p, "10.0.0.0/8", &why), 0);
	assert_int_equal(iw_policy_allow_add(&p, "192.168.1.10-192.168.1.20", &why), 0);
	assert_int_equal(iw_policy_deny_add(&p, "10.1.0.0/16", &why), 0);
	assert_int_equal(iw_policy_deny_add(&p, "8.8.8.8", &why), 0);
	assert_int_equal(iw_policy_deny_add(&p, "2001:db8:bad::/48", &why), 0);
	struct {
		const char *a;
		int rc;
	} rows[] = {
		{ "10.0.0.1", 0 },        /* explicit allow wins over the private class */
		{ "::ffff:10.0.0.1", 0 }, /* also in its IPv6 forms */
		{ "10.1.2.3", 0 },        /* allow is an exception to deny, as in coturn */
		{ "::ffff:10.1.2.3", 0 },
		{ "192.168.1.10", 0 },
		{ "192.168.1.20", 0 },
		{ "192.168.1.21", -EPERM },
		{ "192.168.1.9", -EPERM },
		{ "8.8.8.8", -EPERM }, /* deny wins over the public class */
		{ "64:ff9b::808:808", -EPERM },
		{ "8.8.4.4", 0 },
		{ "2001:db8:bad::1", -EPERM },
		{ "2001:db8:b00::1", 0 },
		{ "172.16.0.1", -EPERM },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct iw_addr a = addr(rows[i].a);
		int rc = iw_policy_check(&p, &a, reason, sizeof reason);
		if (rc != rows[i].rc)
			fail_msg("%s: got %d (%s)", rows[i].a, rc, rc ? reason : "");
	}
	struct iw_addr d = addr("8.8.8.8");
	iw_policy_check(&p, &d, reason, sizeof reason);
	assert_non_null(strstr(reason, "denied-peer-ip=8.8.8.8"));
}

/* BigBlueButton's guide denies every address and allows its media server; Synapse's denies
 * the private ranges and allows the relay's own address. Both rely on coturn's order. */
static void test_allow_exceptions(void **state)
{
	(void)state;
	struct iw_policy p;
	const char *why = NULL;
	char reason[256];
	iw_policy_init(&p);
	assert_int_equal(iw_policy_deny_add(&p, "0.0.0.0-255.255.255.255", &why), 0);
	assert_int_equal(iw_policy_deny_add(&p, "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", &why), 0);
	assert_int_equal(iw_policy_allow_add(&p, "203.0.113.7", &why), 0);
	struct {
		const char *a;
		int rc;
	} rows[] = {
		{ "203.0.113.7", 0 }, /* the media server, in a documentation range and in the deny */
		{ "::ffff:203.0.113.7", 0 },   { "203.0.113.8", -EPERM }, { "8.8.8.8", -EPERM },
		{ "2001:4860::8888", -EPERM }, { "127.0.0.1", -EPERM },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct iw_addr a = addr(rows[i].a);
		int rc = iw_policy_check(&p, &a, reason, sizeof reason);
		if (rc != rows[i].rc)
			fail_msg("%s: got %d (%s)", rows[i].a, rc, rc ? reason : "");
	}
}

/* An allow rule for an IPv6 form does not reopen the IPv4 addresses it embeds: NAT64's
 * 64:ff9b::/96 allowed, 169.254.169.254 and 127.0.0.1 inside it stay refused. */
static void test_allow_embedded(void **state)
{
	(void)state;
	struct iw_policy p;
	const char *why = NULL;
	char reason[256];
	iw_policy_init(&p);
	assert_int_equal(iw_policy_allow_add(&p, "64:ff9b::/96", &why), 0);
	assert_int_equal(iw_policy_allow_add(&p, "2002::/16", &why), 0);
	assert_int_equal(iw_policy_allow_add(&p, "::ffff:0:0/96", &why), 0);
	assert_int_equal(iw_policy_allow_add(&p, "192.168.7.0/24", &why), 0);
	struct {
		const char *a;
		int rc;
	} rows[] = {
		{ "64:ff9b::a9fe:a9fe", -EPERM }, /* 169.254.169.254, cloud metadata */
		{ "64:ff9b::7f00:1", -EPERM },    /* 127.0.0.1 */
		{ "64:ff9b::a00:1", -EPERM },     /* 10.0.0.1 */
		{ "2002:a9fe:a9fe::1", -EPERM },  /* 6to4 169.254.169.254 */
		{ "::ffff:127.0.0.1", -EPERM },   /* mapped */
		{ "64:ff9b::cb00:7101", 0 },      /* 203.0.113.1: public */
		{ "64:ff9b::c0a8:701", 0 },       /* 192.168.7.1: its IPv4 rule allows it */
		{ "::ffff:192.168.7.1", 0 },      { "64:ff9b::c0a8:801", -EPERM }, /* 192.168.8.1 */
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct iw_addr a = addr(rows[i].a);
		int rc = iw_policy_check(&p, &a, reason, sizeof reason);
		if (rc != rows[i].rc)
			fail_msg("%s: got %d (%s)", rows[i].a, rc, rc ? reason : "");
	}
	struct iw_addr m = addr("64:ff9b::a9fe:a9fe");
	iw_policy_check(&p, &m, reason, sizeof reason);
	assert_non_null(strstr(reason, "169.254.0.0/16"));
	/* With loopback peers allowed, the embedded loopback address passes like 127.0.0.1. */
	p.allow_loopback = true;
	m = addr("64:ff9b::7f00:1");
	assert_int_equal(iw_policy_check(&p, &m, reason, sizeof reason), 0);
}

/* The relay's own addresses: listening port and addresses outside the relay range refused
 * whatever the allow rules say; the relay range open (relay to relay); loopback at other ports
 * only with allow-loopback-peers; allow-self-peers opens everything. */
static void test_self(void **state)
{
	(void)state;
	struct iw_policy p;
	const char *why = NULL;
	char reason[256];
	iw_policy_init(&p);
	assert_int_equal(iw_policy_allow_add(&p, "0.0.0.0/0", &why), 0);
	assert_int_equal(iw_policy_allow_add(&p, "::/0", &why), 0);
	struct iw_policy_self s;
	memset(&s, 0, sizeof s);
	struct iw_addr own[] = { addr_port("203.0.113.5"), addr_port("127.0.0.1"), addr_port("2001:db8::5") };
	for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
		iw_policy_self_add(&s, &own[i]);
	iw_policy_self_add(&s, &own[0]); /* once only */
	assert_int_equal(s.n_addr, 3);
	s.lis_port[0] = 3478;
	s.lis_port[1] = 5349;
	s.min_port = 49152;
	s.max_port = 65535;
	struct {
		const char *a;
		bool has_port, loopback;
		int rc;
	} rows[] = {
		{ "203.0.113.5:3478", true, false, -EPERM },        /* the listener */
		{ "203.0.113.5:53", true, false, -EPERM },          /* a service on the relay host */
		{ "203.0.113.5:50000", true, false, 0 },            /* another allocation's relayed address */
		{ "[::ffff:203.0.113.5]:53", true, false, -EPERM }, /* in its IPv6 form */
		{ "[2001:db8::5]:5349", true, false, -EPERM },
		{ "[2001:db8::5]:60000", true, false, 0 },
		{ "203.0.113.5", false, false, 0 },  /* a permission: the port is checked on sending */
		{ "0.0.0.0", false, false, -EPERM }, /* "this host", whatever the allow rules */
		{ "0.0.0.0:50000", true, false, -EPERM },
		{ "[::]:50000", true, false, -EPERM },
		{ "[::ffff:0.0.0.0]:9", true, false, -EPERM },
		{ "127.0.0.1:3478", true, true, -EPERM }, /* the listener, loopback allowed or not */
		{ "127.0.0.1:5349", true, true, -EPERM },
		{ "127.0.0.1:40000", true, true, 0 }, /* another service on loopback, loopback allowed */
		{ "127.0.0.1:40000", true, false, -EPERM },
		{ "203.0.113.6:3478", true, false, 0 }, /* not ours */
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct iw_addr a = addr_port(rows[i].a);
		p.allow_loopback = rows[i].loopback;
		int rc = iw_policy_self_check(&p, &s, &a, rows[i].has_port, reason, sizeof reason);
		if (rc != rows[i].rc)
			fail_msg("%s: got %d (%s)", rows[i].a, rc, rc ? reason : "");
		/* Without a buffer: the same answer, nothing formatted. */
		assert_int_equal(iw_policy_self_check(&p, &s, &a, rows[i].has_port, NULL, 0), rc);
	}
	struct iw_addr a = addr_port("203.0.113.5:3478");
	assert_int_equal(iw_policy_self_check(&p, &s, &a, true, reason, sizeof reason), -EPERM);
	assert_string_equal(reason, "Forbidden: peer 203.0.113.5:3478 is this relay's own listening port "
				    "(allow-self-peers would allow it)");
	p.allow_self = true;
	assert_int_equal(iw_policy_self_check(&p, &s, &a, true, reason, sizeof reason), 0);
}

static void test_bad_rules(void **state)
{
	(void)state;
	struct iw_policy p;
	const char *why = NULL;
	iw_policy_init(&p);
	const char *bad[] = { "", "10.0.0.0/33", "nonsense", "10.0.0.9-10.0.0.1", "10.0.0.1-::1", "::/129" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why = NULL;
		if (iw_policy_allow_add(&p, bad[i], &why) != -EINVAL)
			fail_msg("accepted bad rule '%s'", bad[i]);
		assert_non_null(why);
	}
	assert_int_equal(p.n_allow, 0);
	for (int i = 0; i < IW_POLICY_MAX_RULES; i++)
		assert_int_equal(iw_policy_deny_add(&p, "203.0.113.0/24", &why), 0);
	assert_int_equal(iw_policy_deny_add(&p, "203.0.113.0/24", &why), -ENOBUFS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_table),  cmocka_unit_test(test_reason_phrase),
		cmocka_unit_test(test_allow_and_deny), cmocka_unit_test(test_allow_exceptions),
		cmocka_unit_test(test_bad_rules),      cmocka_unit_test(test_self),
		cmocka_unit_test(test_allow_embedded),
	};
	return cmocka_run_group_tests_name("turn/policy", tests, NULL, NULL);
}
