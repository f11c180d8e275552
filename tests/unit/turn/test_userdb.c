/* turn/userdb: coturn's redis-userdb connection string (defaults, aliases, every bad input
 * answered with the key at fault), the SCAN pattern with a realm's glob characters escaped,
 * and a snapshot's digest-free lifecycle. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "turn/userdb.c" /* scan_pattern is static */

static void test_conn_defaults(void **state)
{
	(void)state;
	struct iw_userdb_conn c;
	const char *why = NULL;
	assert_int_equal(iw_userdb_conn_parse(&c, "", &why), 0);
	assert_string_equal(c.host, "127.0.0.1");
	assert_int_equal(c.port, 6379);
	assert_int_equal(c.dbname, 0);
	assert_string_equal(c.password, "");
	assert_int_equal(c.connect_timeout_s, 5);
}

static void test_conn_coturn_string(void **state)
{
	(void)state;
	struct iw_userdb_conn c;
	const char *why = NULL;
	/* The form of coturn's example turnserver.conf, keys in its order. */
	assert_int_equal(
		iw_userdb_conn_parse(&c, "ip=10.0.0.5 dbname=3 password=s3cr=t port=6380 connect_timeout=30",
				     &why),
		0);
	assert_string_equal(c.host, "10.0.0.5");
	assert_int_equal(c.dbname, 3);
	assert_string_equal(c.password, "s3cr=t"); /* only the first '=' splits */
	assert_int_equal(c.port, 6380);
	assert_int_equal(c.connect_timeout_s, 30);
	/* coturn's other spellings, and tabs or runs of spaces between words. */
	assert_int_equal(iw_userdb_conn_parse(&c, "  host=redis.lan\tdb=2  pwd=x timeout=7 ", &why), 0);
	assert_string_equal(c.host, "redis.lan");
	assert_int_equal(c.dbname, 2);
	assert_string_equal(c.password, "x");
	assert_int_equal(c.connect_timeout_s, 7);
	assert_int_equal(iw_userdb_conn_parse(&c, "database=9 password=", &why), 0);
	assert_int_equal(c.dbname, 9);
	assert_string_equal(c.password, "");
}

static void test_conn_bad(void **state)
{
	(void)state;
	static const struct {
		const char *in, *why;
	} bad[] = {
		{ "ip=1.2.3.4 user=x", "redis-userdb: unknown key" },
		{ "127.0.0.1", "redis-userdb: expected key=value" },
		{ "=5", "redis-userdb: expected key=value" },
		{ "ip=", "redis-userdb: ip= needs" },
		{ "port=0", "redis-userdb: port= must be 1-65535" },
		{ "port=65536", "redis-userdb: port= must be 1-65535" },
		{ "port=12x", "redis-userdb: port= must be 1-65535" },
		{ "port=", "redis-userdb: port= must be 1-65535" },
		{ "port=99999999999999999999", "redis-userdb: port= must be 1-65535" },
		{ "dbname=<database-number>", "redis-userdb: dbname= must be a database number" },
		{ "dbname=-1", "redis-userdb: dbname= must be a database number" },
		{ "connect_timeout=0", "redis-userdb: connect_timeout= must be 1-3600 seconds" },
		{ "connect_timeout=3601", "redis-userdb: connect_timeout= must be 1-3600 seconds" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct iw_userdb_conn c;
		const char *why = NULL;
		assert_int_equal(iw_userdb_conn_parse(&c, bad[i].in, &why), -EINVAL);
		assert_non_null(why);
		if (strncmp(why, bad[i].why, strlen(bad[i].why))) {
			print_error("%s: got '%s', want '%s...'\n", bad[i].in, why, bad[i].why);
			fail();
		}
	}
	/* Too long a host or password is refused, never cut. */
	char big[600];
	memset(big, 'a', sizeof big);
	memcpy(big, "ip=", 3);
	big[sizeof big - 1] = 0;
	struct iw_userdb_conn c;
	const char *why = NULL;
	assert_int_equal(iw_userdb_conn_parse(&c, big, &why), -EINVAL);
	memcpy(big, "password=", 9);
	assert_int_equal(iw_userdb_conn_parse(&c, big, &why), -EINVAL);
	assert_string_equal(why, "redis-userdb: password= is too long");
}

static void test_scan_pattern(void **state)
{
	(void)state;
	char p[PATTERN_MAX];
	scan_pattern(p, "example.org");
	assert_string_equal(p, "turn/realm/example.org/user/*/key");
	/* A realm's glob characters match themselves only. */
	scan_pattern(p, "a*b?[c]\\");
	assert_string_equal(p, "turn/realm/a\\*b\\?\\[c\\]\\\\/user/*/key");
	/* The longest realm, all glob characters, still fits with its suffix. */
	char realm[128];
	memset(realm, '*', 127);
	realm[127] = 0;
	scan_pattern(p, realm);
	assert_int_equal(strlen(p), strlen("turn/realm/") + 254 + strlen("/user/*/key"));
}

static void test_snap_free(void **state)
{
	(void)state;
	struct iw_userdb_snap *s = calloc(1, sizeof *s);
	size_t cap = 0;
	assert_non_null(s);
	for (int i = 0; i < 100; i++)
		assert_int_equal(snap_user_add(s, &cap, "user", 4, "0123456789abcdef0123456789abcdef"), 0);
	assert_int_equal(s->n_users, 100);
	assert_string_equal(s->users[99], "user:0x0123456789abcdef0123456789abcdef");
	s->secrets[s->n_secrets++] = strdup("secret");
	iw_userdb_snap_free(s);
	iw_userdb_snap_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conn_defaults), cmocka_unit_test(test_conn_coturn_string),
		cmocka_unit_test(test_conn_bad),      cmocka_unit_test(test_scan_pattern),
		cmocka_unit_test(test_snap_free),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
