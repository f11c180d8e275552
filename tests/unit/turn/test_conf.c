/* turn/conf: defaults, the coturn option names on a command line and in a file, bad values
 * naming the file, line and option, and the cross-option checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "turn/auth.h"
#include "turn/conf.h"

static int parse(struct iw_conf *c, char **argv, int argc, char *err)
{
	return iw_config_parse_args(iw_conf_opts, c, argc, argv, NULL, err, IW_CONFIG_ERR_MAX);
}

static void test_defaults(void **state)
{
	(void)state;
	struct iw_conf c;
	const char *why = NULL;
	iw_conf_init(&c);
	char *argv[] = { "iceway-relay", "--user", "a:b" };
	char err[IW_CONFIG_ERR_MAX];
	assert_int_equal(parse(&c, argv, 3, err), 0);
	assert_int_equal(iw_conf_finish(&c, &why), 0);
	assert_int_equal(c.port, 3478);
	assert_int_equal(c.min_port, 49152);
	assert_int_equal(c.max_port, 65535);
	assert_int_equal(c.default_lifetime_s, 600);
	assert_int_equal(c.max_lifetime_s, 3600);
	assert_int_equal(c.stale_nonce_s, 600);
	assert_int_equal(c.max_allocs, 16384);
	assert_int_equal(c.total_quota, 16384);
	assert_int_equal(c.n_listen, 2); /* 0.0.0.0 and :: */
	assert_string_equal(c.realm, "iceway");
	assert_false(c.policy.allow_loopback);
	assert_true(c.lt_cred);
	/* The rest of the table's defaults, where the code had them before. */
	assert_int_equal(c.unauth_rate, IW_AUTH_RL_RATE);
	assert_int_equal(c.unauth_ratio, IW_AUTH_RL_RATIO);
	assert_int_equal(c.threads, iw_conf_default_threads());
	assert_int_equal(c.batch_wait_us, 100);
	assert_int_equal(c.prom_port, 9641);
	assert_string_equal(c.prom_addr, "127.0.0.1");
	assert_int_equal(c.tls_port, 5349);
	assert_int_equal(c.max_tcp_conns, 4096);
	assert_int_equal(c.stream_timeout_s, 10);
	assert_int_equal(c.stream_idle_s, 60);
	assert_int_equal(c.stream_auth_s, 10);
	assert_int_equal(c.max_tcp_per_ip, 64);
	assert_int_equal(c.rest_sep, ':');
	assert_int_equal(c.relay_io, IW_RELAY_IO_AUTO);
	assert_int_equal(c.log_level, IW_LOG_INFO);
	assert_false(c.log_json);
	assert_int_equal(c.perm_lifetime_s, 300);
	assert_int_equal(c.chan_lifetime_s, 600);
	iw_conf_fini(&c);
}

/* ICEWAY_RELAY_<NAME> between the file and the command line; secrets from a file. */
static void test_environment(void **state)
{
	(void)state;
	struct iw_conf c;
	char err[IW_CONFIG_ERR_MAX];
	char path[] = "/tmp/iw-test-secret-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "s3cret\n", 7), 7);
	close(fd);

	setenv("ICEWAY_RELAY_LISTENING_PORT", "3500", 1);
	setenv("ICEWAY_RELAY_LISTENING_IP", "127.0.0.1 ::1", 1);
	setenv("ICEWAY_RELAY_USE_AUTH_SECRET", "yes", 1);
	setenv("ICEWAY_RELAY_STATIC_AUTH_SECRET_FILE", path, 1);
	setenv("ICEWAY_RELAY_LOG_JSON", "1", 1); /* aliases are not read from the environment */
	iw_conf_init(&c);
	char *argv[] = { "iceway-relay", "--listening-port", "3501", "--relay-threads", "3" };
	assert_int_equal(parse(&c, argv, 5, err), 0);
	assert_int_equal(c.port, 3501);
	assert_int_equal(c.n_listen, 2);
	assert_true(c.use_secret);
	assert_int_equal(c.n_secrets, 1);
	assert_string_equal(c.secrets[0], "s3cret");
	assert_int_equal(c.threads, 3);
	assert_false(c.log_json);
	iw_conf_fini(&c);
	/* The command line's listening-ip replaces the environment's two. */
	iw_conf_init(&c);
	char *argv2[] = { "iceway-relay", "--listening-ip", "127.0.0.2" };
	assert_int_equal(parse(&c, argv2, 3, err), 0);
	assert_int_equal(c.n_listen, 1);
	iw_conf_fini(&c);

	setenv("ICEWAY_RELAY_MIN_PORT", "0", 1);
	iw_conf_init(&c);
	assert_int_equal(parse(&c, argv, 1, err), -1);
	assert_string_equal(err, "environment ICEWAY_RELAY_MIN_PORT: option 'min-port': must be 1-65535");
	iw_conf_fini(&c);
	unlink(path);
	unsetenv("ICEWAY_RELAY_MIN_PORT");
	iw_conf_init(&c);
	assert_int_equal(parse(&c, argv, 1, err), -1);
	char want[256];
	snprintf(want, sizeof want,
		 "environment ICEWAY_RELAY_STATIC_AUTH_SECRET_FILE: option 'static-auth-secret': cannot read "
		 "%s: No "
		 "such file or directory",
		 path);
	assert_string_equal(err, want);
	iw_conf_fini(&c);
	unsetenv("ICEWAY_RELAY_LISTENING_PORT");
	unsetenv("ICEWAY_RELAY_LISTENING_IP");
	unsetenv("ICEWAY_RELAY_USE_AUTH_SECRET");
	unsetenv("ICEWAY_RELAY_STATIC_AUTH_SECRET_FILE");
	unsetenv("ICEWAY_RELAY_LOG_JSON");
}

static void test_command_line(void **state)
{
	(void)state;
	struct iw_conf c;
	const char *why = NULL;
	char err[IW_CONFIG_ERR_MAX];
	iw_conf_init(&c);
	char *argv[] = { "iceway-relay",
			 "-n",
			 "--listening-ip",
			 "127.0.0.1",
			 "-p",
			 "3490",
			 "--relay-ip",
			 "::1",
			 "--external-ip",
			 "203.0.113.1/10.0.0.1",
			 "--min-port=40000",
			 "--max-port",
			 "40100",
			 "--use-auth-secret",
			 "--static-auth-secret",
			 "s1",
			 "--static-auth-secret",
			 "s2",
			 "--allowed-peer-ip",
			 "10.0.0.0/8",
			 "--denied-peer-ip",
			 "10.1.0.0-10.1.255.255",
			 "--allow-loopback-peers",
			 "--user-quota",
			 "5",
			 "--total-quota",
			 "50",
			 "--max-allocate-lifetime",
			 "120",
			 "--stale-nonce=30",
			 "--fingerprint",
			 "-v",
			 "--mobility",
			 "--cli-password",
			 "x",
			 "--no-multicast-peers",
			 "--no-tls" };
	int argc = (int)(sizeof argv / sizeof argv[0]);
	assert_int_equal(parse(&c, argv, argc, err), 0);
	assert_int_equal(iw_conf_finish(&c, &why), 0);
	assert_int_equal(c.n_listen, 1);
	assert_int_equal(c.port, 3490);
	assert_int_equal(c.n_relay, 1);
	assert_int_equal(c.n_ext, 1);
	assert_true(c.ext[0].has_priv);
	assert_int_equal(c.min_port, 40000);
	assert_int_equal(c.max_port, 40100);
	assert_int_equal(c.n_secrets, 2);
	assert_true(c.use_secret);
	assert_int_equal(c.policy.n_allow, 1);
	assert_int_equal(c.policy.n_deny, 1);
	assert_true(c.policy.allow_loopback);
	assert_int_equal(c.user_quota, 5);
	assert_int_equal(c.total_quota, 50);
	assert_int_equal(c.max_lifetime_s, 120);
	assert_int_equal(c.default_lifetime_s, 120); /* never above the maximum */
	assert_int_equal(c.stale_nonce_s, 30);
	assert_true(c.fingerprint);
	assert_true(c.verbose);
	assert_true(c.mobility);
	iw_conf_fini(&c);
}

static void test_bad_values(void **state)
{
	(void)state;
	static const struct {
		const char *opt, *val;
	} bad[] = {
		{ "--listening-port", "0" },        { "--listening-port", "70000" },
		{ "--listening-ip", "nowhere" },    { "--relay-ip", "0.0.0.0" },
		{ "--external-ip", "1.2.3.4/::1" }, { "--user", "nocolon" },
		{ "--allowed-peer-ip", "10/99" },   { "--max-allocations", "0" },
		{ "--user-quota", "-1" },           { "--min-port", "x" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct iw_conf c;
		char err[IW_CONFIG_ERR_MAX] = "";
		iw_conf_init(&c);
		char *argv[] = { "iceway-relay", (char *)bad[i].opt, (char *)bad[i].val };
		if (parse(&c, argv, 3, err) == 0)
			fail_msg("%s %s was accepted", bad[i].opt, bad[i].val);
		assert_non_null(strstr(err, bad[i].opt + 2));
		iw_conf_fini(&c);
	}
}

static void test_file(void **state)
{
	(void)state;
	char path[] = "/tmp/iw-test-conf-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char text[] = "# comment\n"
			    "listening-port=3491\n"
			    "realm = example.org\n"
			    "lt-cred-mech\n"
			    "user=alice:secret-password\n"
			    "max-port=70000\n";
	assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
	close(fd);
	struct iw_conf c;
	char err[IW_CONFIG_ERR_MAX] = "";
	iw_conf_init(&c);
	assert_int_equal(iw_config_load_file(iw_conf_opts, &c, path, err, sizeof err), -1);
	/* The error names the file, the line and the option, and never echoes a password. */
	char want[256];
	snprintf(want, sizeof want, "%s:6: option 'max-port'", path);
	assert_non_null(strstr(err, want));
	assert_null(strstr(err, "secret-password"));
	assert_int_equal(c.port, 3491);
	assert_string_equal(c.realm, "example.org");
	iw_conf_fini(&c);
	unlink(path);
}

static void test_cross_checks(void **state)
{
	(void)state;
	struct {
		char *argv[4];
		int argc;
	} rows[] = {
		{ { "r", "--user", "a:b" }, 3 },
		{ { "r", "--use-auth-secret" }, 2 },
		{ { "r" }, 1 },
	};
	int expect[] = { 0, -EINVAL, -EINVAL };
	for (size_t i = 0; i < 3; i++) {
		struct iw_conf c;
		char err[IW_CONFIG_ERR_MAX];
		const char *why = NULL;
		iw_conf_init(&c);
		assert_int_equal(parse(&c, rows[i].argv, rows[i].argc, err), 0);
		assert_int_equal(iw_conf_finish(&c, &why), expect[i]);
		if (expect[i])
			assert_non_null(why);
		iw_conf_fini(&c);
	}
	struct iw_conf c;
	const char *why = NULL;
	char err[IW_CONFIG_ERR_MAX];
	iw_conf_init(&c);
	char *argv[] = { "r", "--user", "a:b", "--min-port", "50000", "--max-port", "40000" };
	assert_int_equal(parse(&c, argv, 7, err), 0);
	assert_int_equal(iw_conf_finish(&c, &why), -EINVAL);
	iw_conf_fini(&c);
}

/* RFC 5780 is on with two specific listening addresses of one family (coturn's rule), off
 * with no-rfc5780; the alternate port defaults to listening-port + 1. */
static void test_rfc5780_rule(void **state)
{
	(void)state;
	struct {
		char *argv[12];
		int argc;
		bool on;
		uint16_t alt;
		int rc;
	} rows[] = {
		{ { "r", "--user", "a:b", "-L", "127.0.0.1", "-L", "127.0.0.2" }, 7, true, 3479, 0 },
		{ { "r", "--user", "a:b", "-L", "127.0.0.1", "-L", "127.0.0.2", "--no-rfc5780" },
		  8,
		  false,
		  3479,
		  0 },
		{ { "r", "--user", "a:b", "-L", "127.0.0.1", "-L", "::1" }, 7, false, 3479, 0 },
		{ { "r", "--user", "a:b", "-L", "0.0.0.0", "-L", "127.0.0.2" }, 7, false, 3479, 0 },
		{ { "r", "--user", "a:b" }, 3, false, 3479, 0 }, /* 0.0.0.0 and :: */
		{ { "r", "--user", "a:b", "-L", "::1", "-L", "::2", "-p", "4000" }, 9, true, 4001, 0 },
		{ { "r", "--user", "a:b", "-L", "127.0.0.1", "-L", "127.0.0.2", "--alt-listening-port",
		    "5000" },
		  9,
		  true,
		  5000,
		  0 },
		{ { "r", "--user", "a:b", "-p", "4000", "--alt-listening-port", "4000" },
		  7,
		  false,
		  4000,
		  -EINVAL },
		{ { "r", "--user", "a:b", "-L", "127.0.0.1", "-L", "127.0.0.2", "-p", "65535" },
		  9,
		  false,
		  0,
		  0 },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct iw_conf c;
		char err[IW_CONFIG_ERR_MAX];
		const char *why = NULL;
		print_message("row %zu\n", i);
		iw_conf_init(&c);
		assert_int_equal(parse(&c, rows[i].argv, rows[i].argc, err), 0);
		assert_int_equal(iw_conf_finish(&c, &why), rows[i].rc);
		if (rows[i].rc == 0) {
			assert_int_equal(c.alt_port, rows[i].alt);
			assert_int_equal(iw_conf_rfc5780(&c), rows[i].on);
		}
		iw_conf_fini(&c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),     cmocka_unit_test(test_command_line),
		cmocka_unit_test(test_bad_values),   cmocka_unit_test(test_file),
		cmocka_unit_test(test_cross_checks), cmocka_unit_test(test_environment),
		cmocka_unit_test(test_rfc5780_rule),
	};
	return cmocka_run_group_tests_name("turn/conf", tests, NULL, NULL);
}
