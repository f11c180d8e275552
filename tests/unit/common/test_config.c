/* Unit tests for common/config.c: file and argv syntax, every error message, unsupported
 * options, precedence (file first, then the command line). */
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

#include "common/config.h"
#include "common/log.h"

struct cfg {
	char realm[64];
	long long port;
	int verbose;
	bool prometheus;
	int prometheus_seen;
	bool mobility;
};

static int set_realm(void *c, const char *val, const char **why)
{
	struct cfg *cfg = c;
	if (strlen(val) >= sizeof cfg->realm) {
		*why = "too long";
		return -EINVAL;
	}
	strcpy(cfg->realm, val);
	return 0;
}

static int set_port(void *c, const char *val, const char **why)
{
	return iw_config_int(val, 1, 65535, &((struct cfg *)c)->port, why);
}

static int set_verbose(void *c, const char *val, const char **why)
{
	(void)val;
	(void)why;
	((struct cfg *)c)->verbose++;
	return 0;
}

static int set_prometheus(void *c, const char *val, const char **why)
{
	struct cfg *cfg = c;
	cfg->prometheus_seen++;
	return iw_config_bool(val, &cfg->prometheus, why);
}

static int set_mobility(void *c, const char *val, const char **why)
{
	return iw_config_bool(val, &((struct cfg *)c)->mobility, why);
}

/* A setter that fails without a reason. */
static int set_silent_fail(void *c, const char *val, const char **why)
{
	(void)c;
	(void)val;
	(void)why;
	return -EINVAL;
}

static const struct iw_opt tab[] = {
	{ "realm", 'r', IW_OPT_REQUIRED, set_realm, "REALM: the realm" },
	{ "listening-port", 'p', IW_OPT_REQUIRED, set_port, "PORT: UDP port" },
	{ "verbose", 'v', IW_OPT_NONE, set_verbose, "more logging" },
	{ "prometheus", 0, IW_OPT_OPTIONAL, set_prometheus, "export metrics" },
	{ "mobility", 0, IW_OPT_OPTIONAL, set_mobility, "yes/no" },
	{ "fingerprint", 0, IW_OPT_UNSUPPORTED, NULL, NULL },
	{ "cli-password", 0, IW_OPT_UNSUPPORTED_ARG, NULL, NULL },
	{ "strict", 0, IW_OPT_REQUIRED, set_silent_fail, "X: fails" },
	{ NULL, 0, 0, NULL, NULL },
};

static char conf[64], logpath[64];

static int setup(void **state)
{
	(void)state;
	snprintf(conf, sizeof conf, "/tmp/iw_test_conf_XXXXXX");
	snprintf(logpath, sizeof logpath, "/tmp/iw_test_conflog_XXXXXX");
	int a = mkstemp(conf), b = mkstemp(logpath);
	if (a < 0 || b < 0)
		return -1;
	close(a);
	close(b);
	iw_log_set_level(IW_LOG_INFO);
	return iw_log_open(logpath) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	iw_log_open(NULL);
	unlink(conf);
	unlink(logpath);
	return 0;
}

static void write_conf(const char *text)
{
	FILE *f = fopen(conf, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *read_log(void)
{
	static char buf[8192];
	FILE *f = fopen(logpath, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_file_syntax(void **state)
{
	(void)state;
	struct cfg c = { 0 };
	char err[IW_CONFIG_ERR_MAX];

	write_conf("# a comment line\n"
		   "\n"
		   "   \t\n"
		   "realm=example.org  # trailing comment\n"
		   "listening-port 3478\n"
		   "verbose\n"
		   "--verbose\n"
		   "  prometheus\r\n"
		   "mobility = \"off\"\n"
		   "   # indented comment\n");
	assert_int_equal(iw_config_load_file(tab, &c, conf, err, sizeof err), 0);
	assert_string_equal(c.realm, "example.org");
	assert_int_equal(c.port, 3478);
	assert_int_equal(c.verbose, 2);
	assert_int_equal(c.prometheus_seen, 1);
	assert_true(c.prometheus);
	assert_false(c.mobility);
}

static void test_file_quotes_and_hash(void **state)
{
	(void)state;
	struct cfg c = { 0 };
	char err[IW_CONFIG_ERR_MAX];

	/* '#' inside a word or inside quotes is part of the value. */
	write_conf("realm=a#b\n");
	assert_int_equal(iw_config_load_file(tab, &c, conf, err, sizeof err), 0);
	assert_string_equal(c.realm, "a#b");
	write_conf("realm=\"two words # not a comment\" # a comment\n");
	assert_int_equal(iw_config_load_file(tab, &c, conf, err, sizeof err), 0);
	assert_string_equal(c.realm, "two words # not a comment");
	write_conf("--realm=\"\"\n");
	assert_int_equal(iw_config_load_file(tab, &c, conf, err, sizeof err), 0);
	assert_string_equal(c.realm, "");
	/* No newline at the end of the file. */
	write_conf("realm last");
	assert_int_equal(iw_config_load_file(tab, &c, conf, err, sizeof err), 0);
	assert_string_equal(c.realm, "last");
}

static void test_file_errors(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		const char *err; /* after "FILE:" */
	} rows[] = {
		{ "realm=x\nbogus=1\n", "2: unknown option 'bogus'" },
		{ "\n\nrealm\n", "3: option 'realm': missing value" },
		{ "realm=\n", "1: option 'realm': missing value" },
		{ "listening-port=abc\n", "1: option 'listening-port': not a number" },
		{ "listening-port=70000\n", "1: option 'listening-port': must be 1-65535" },
		{ "listening-port=0\n", "1: option 'listening-port': must be 1-65535" },
		{ "verbose=1\n", "1: option 'verbose': does not take a value" },
		{ "mobility=maybe\n", "1: option 'mobility': must be yes or no" },
		{ "realm=\"open\n", "1: option 'realm': unterminated quote" },
		{ "realm=\"\n", "1: option 'realm': unterminated quote" },
		{ "strict=1\n", "1: option 'strict': invalid value" },
		{ "realm=0123456789012345678901234567890123456789012345678901234567890123456789\n",
		  "1: option 'realm': too long" },
		{ "-realm=x\n", "1: unknown option '-realm'" },
		{ "a\x01\n", "1: unknown option 'a\x01'" },
	};
	char err[IW_CONFIG_ERR_MAX], want[IW_CONFIG_ERR_MAX];

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct cfg c = { 0 };
		write_conf(rows[i].text);
		err[0] = '\0';
		assert_int_equal(iw_config_load_file(tab, &c, conf, err, sizeof err), -1);
		snprintf(want, sizeof want, "%s:%s", conf, rows[i].err);
		assert_string_equal(err, want);
	}
}

static void test_file_missing_long_nul(void **state)
{
	(void)state;
	struct cfg c = { 0 };
	char err[IW_CONFIG_ERR_MAX], want[IW_CONFIG_ERR_MAX];

	assert_int_equal(iw_config_load_file(tab, &c, "/nonexistent/iceway.conf", err, sizeof err), -1);
	assert_string_equal(err, "/nonexistent/iceway.conf: cannot open: No such file or directory");

	/* 4096 bytes is the limit; one more is an error on that line. */
	FILE *f = fopen(conf, "w");
	assert_non_null(f);
	fputs("verbose\n", f);
	fputs("realm=", f);
	for (int i = 0; i < 4090; i++)
		fputc('x', f);
	fputs("\nrealm=", f);
	for (int i = 0; i < 100000; i++)
		fputc('y', f);
	fputs("\nverbose\n", f);
	fclose(f);
	assert_int_equal(iw_config_load_file(tab, &c, conf, err, sizeof err), -1);
	/* Line 2 (exactly 4096 bytes) reaches the setter, which rejects it as too long. */
	snprintf(want, sizeof want, "%s:2: option 'realm': too long", conf);
	assert_string_equal(err, want);

	f = fopen(conf, "w");
	fputs("realm=", f);
	for (int i = 0; i < 100000; i++)
		fputc('y', f);
	fclose(f);
	assert_int_equal(iw_config_load_file(tab, &c, conf, err, sizeof err), -1);
	snprintf(want, sizeof want, "%s:1: line longer than 4096 bytes", conf);
	assert_string_equal(err, want);

	f = fopen(conf, "w");
	fputs("verbose\nrealm=a", f);
	fputc('\0', f);
	fputs("b\n", f);
	fclose(f);
	assert_int_equal(iw_config_load_file(tab, &c, conf, err, sizeof err), -1);
	snprintf(want, sizeof want, "%s:2: line contains a NUL byte", conf);
	assert_string_equal(err, want);

	/* A small error buffer truncates the message and stays NUL-terminated. */
	char small[8];
	assert_int_equal(iw_config_load_file(tab, &c, "/nonexistent/x", small, sizeof small), -1);
	assert_string_equal(small, "/nonexi");
}

static void test_unsupported_warns_once(void **state)
{
	(void)state;
	struct cfg c = { 0 };
	char err[IW_CONFIG_ERR_MAX];

	write_conf("fingerprint\nfingerprint\ncli-password=secret\nrealm=r\n");
	assert_int_equal(iw_config_load_file(tab, &c, conf, err, sizeof err), 0);
	assert_string_equal(c.realm, "r");
	char *argv[] = { "prog", "--fingerprint", "--cli-password", "x", "--realm", "s", NULL };
	int optind = 0;
	assert_int_equal(iw_config_parse_args(tab, &c, 6, argv, &optind, err, sizeof err), 0);
	assert_int_equal(optind, 6);
	assert_string_equal(c.realm, "s");
	const char *log = read_log();
	assert_int_equal(count(log, "option 'fingerprint' is not supported by iceway and is ignored"), 1);
	assert_int_equal(count(log, "option 'cli-password' is not supported by iceway and is ignored"), 1);
	assert_null(strstr(log, "secret")); /* the ignored value is never logged */
}

static void test_args(void **state)
{
	(void)state;
	struct cfg c = { 0 };
	char err[IW_CONFIG_ERR_MAX];
	int optind = -1;
	char *argv[] = { "prog",      "--realm=a.example", "-p",         "5349", "-v",
			 "--verbose", "--prometheus=no",   "--mobility", "-c",   "/etc/iceway.conf",
			 "-n",        "--config=/x",       "--",         "rest", NULL };
	int argc = (int)(sizeof argv / sizeof argv[0]) - 1;

	assert_int_equal(iw_config_parse_args(tab, &c, argc, argv, &optind, err, sizeof err), 0);
	assert_string_equal(c.realm, "a.example");
	assert_int_equal(c.port, 5349);
	assert_int_equal(c.verbose, 2);
	assert_false(c.prometheus);
	assert_true(c.mobility);
	assert_int_equal(optind, argc - 1);
	assert_string_equal(argv[optind], "rest");

	/* Stops at the first non-option. */
	char *argv2[] = { "prog", "-rREALM", "file.txt", "--verbose", NULL };
	assert_int_equal(iw_config_parse_args(tab, &c, 4, argv2, &optind, err, sizeof err), 0);
	assert_string_equal(c.realm, "REALM");
	assert_int_equal(optind, 2);
	/* An optional value is never taken from the next argument. */
	char *argv3[] = { "prog", "--prometheus", "off", NULL };
	c.prometheus = false;
	assert_int_equal(iw_config_parse_args(tab, &c, 3, argv3, &optind, err, sizeof err), 0);
	assert_true(c.prometheus);
	assert_int_equal(optind, 2);
	/* optind_out may be NULL. */
	assert_int_equal(iw_config_parse_args(tab, &c, 1, argv3, NULL, err, sizeof err), 0);
}

static void test_args_errors(void **state)
{
	(void)state;
	static const struct {
		int argc;
		char *argv[4];
		const char *err;
	} rows[] = {
		{ 2, { "prog", "--bogus" }, "unknown option '--bogus'" },
		{ 2, { "prog", "--bogus=1" }, "unknown option '--bogus'" },
		{ 2, { "prog", "-x" }, "unknown option '-x'" },
		{ 2, { "prog", "--realm" }, "option '--realm': missing value" },
		{ 2, { "prog", "-r" }, "option '-r': missing value" },
		{ 3, { "prog", "-p", "0" }, "option '-p': must be 1-65535" },
		{ 2, { "prog", "--listening-port=12x" }, "option '--listening-port': not a number" },
		{ 2, { "prog", "--verbose=1" }, "option '--verbose': does not take a value" },
		{ 2, { "prog", "-vv" }, "option '-v': does not take a value" },
		{ 2, { "prog", "--mobility=perhaps" }, "option '--mobility': must be yes or no" },
		{ 3, { "prog", "--strict", "1" }, "option '--strict': invalid value" },
	};
	char err[IW_CONFIG_ERR_MAX];

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct cfg c = { 0 };
		int optind = 0;
		assert_int_equal(iw_config_parse_args(tab, &c, rows[i].argc, (char **)rows[i].argv, &optind,
						      err, sizeof err),
				 -1);
		assert_string_equal(err, rows[i].err);
	}
	/* A very long unknown name is cut in the message, not overflowed. */
	char name[600];
	memset(name, 'z', sizeof name - 1);
	name[0] = name[1] = '-';
	name[sizeof name - 1] = '\0';
	char *argv[] = { "prog", name, NULL };
	struct cfg c = { 0 };
	assert_int_equal(iw_config_parse_args(tab, &c, 2, argv, NULL, err, sizeof err), -1);
	assert_true(strlen(err) < 100);
}

static void test_find_file_and_precedence(void **state)
{
	(void)state;
	const char *path;
	bool no_file;
	char *a1[] = { "prog", "-v", "-c", "/etc/a.conf", "--realm", "x", NULL };
	iw_config_find_file(6, a1, &path, &no_file);
	assert_string_equal(path, "/etc/a.conf");
	assert_false(no_file);
	char *a2[] = { "prog", "--config", "/etc/b.conf", "-n", NULL };
	iw_config_find_file(4, a2, &path, &no_file);
	assert_string_equal(path, "/etc/b.conf");
	assert_true(no_file);
	char *a3[] = { "prog", "--config=/etc/c.conf", "--no-config", NULL };
	iw_config_find_file(3, a3, &path, &no_file);
	assert_string_equal(path, "/etc/c.conf");
	assert_true(no_file);
	iw_config_find_file(2, a3, &path, &no_file);
	assert_false(no_file);
	char *a4[] = { "prog", "-v", "-c", NULL };
	iw_config_find_file(3, a4, &path, &no_file);
	assert_null(path);
	char *a5[] = { "prog", "--", "-c", "x", NULL };
	iw_config_find_file(4, a5, &path, &no_file);
	assert_null(path);

	/* File first, then argv overrides. */
	struct cfg c = { 0 };
	char err[IW_CONFIG_ERR_MAX];
	write_conf("realm=from-file\nlistening-port=1000\n");
	char *argv[] = { "prog", "-c", conf, "--listening-port", "2000", NULL };
	iw_config_find_file(5, argv, &path, &no_file);
	assert_string_equal(path, conf);
	assert_int_equal(iw_config_load_file(tab, &c, path, err, sizeof err), 0);
	assert_int_equal(iw_config_parse_args(tab, &c, 5, argv, NULL, err, sizeof err), 0);
	assert_string_equal(c.realm, "from-file");
	assert_int_equal(c.port, 2000);
}

static void test_value_helpers(void **state)
{
	(void)state;
	long long v = 7;
	const char *why = NULL;
	bool b = false;

	assert_int_equal(iw_config_int("42", 0, 100, &v, &why), 0);
	assert_int_equal(v, 42);
	assert_int_equal(iw_config_int("-5", -10, 10, &v, &why), 0);
	assert_int_equal(v, -5);
	assert_int_equal(iw_config_int("-11", -10, 10, &v, &why), -EINVAL);
	assert_string_equal(why, "must be from -10 to 10");
	assert_int_equal(iw_config_int("", 0, 1, &v, &why), -EINVAL);
	assert_string_equal(why, "not a number");
	assert_int_equal(iw_config_int(NULL, 0, 1, &v, &why), -EINVAL);
	assert_int_equal(iw_config_int(" 1", 0, 1, &v, &why), -EINVAL);
	assert_int_equal(iw_config_int("1 ", 0, 1, &v, &why), -EINVAL);
	assert_int_equal(iw_config_int("0x10", 0, 100, &v, &why), -EINVAL);
	assert_int_equal(iw_config_int("99999999999999999999", 0, 100, &v, &why), -EINVAL);
	assert_string_equal(why, "must be 0-100");
	assert_int_equal(v, -5); /* untouched on error */

	assert_int_equal(iw_config_bool(NULL, &b, &why), 0);
	assert_true(b);
	static const char *const f[] = { "0", "no", "FALSE", "off" };
	static const char *const t[] = { "1", "Yes", "true", "ON" };
	for (int i = 0; i < 4; i++) {
		assert_int_equal(iw_config_bool(f[i], &b, &why), 0);
		assert_false(b);
		assert_int_equal(iw_config_bool(t[i], &b, &why), 0);
		assert_true(b);
	}
	assert_int_equal(iw_config_bool("2", &b, &why), -EINVAL);
	assert_string_equal(why, "must be yes or no");
}

static void test_print_help(void **state)
{
	(void)state;
	char out[64];
	snprintf(out, sizeof out, "/tmp/iw_test_help_XXXXXX");
	int fd = mkstemp(out);
	assert_true(fd >= 0);
	fflush(stdout);
	int saved = dup(1);
	dup2(fd, 1);
	iw_config_print_help(tab);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	close(fd);

	FILE *f = fopen(out, "r");
	char buf[4096];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(out);
	assert_non_null(strstr(buf, "-r, --realm REALM"));
	assert_non_null(strstr(buf, "the realm\n"));
	assert_non_null(strstr(buf, "-p, --listening-port PORT"));
	assert_non_null(strstr(buf, "--prometheus[=VALUE]"));
	assert_non_null(strstr(buf, "-v, --verbose "));
	assert_null(strstr(buf, "fingerprint")); /* ignored options are not advertised */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_file_syntax, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_quotes_and_hash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_missing_long_nul, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsupported_warns_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_args_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_find_file_and_precedence, setup, teardown),
		cmocka_unit_test(test_value_helpers),
		cmocka_unit_test(test_print_help),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
