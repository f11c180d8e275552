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

#include "common/addr.h"
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
	{ .name = "realm",
	  .short_name = 'r',
	  .kind = IW_OPT_REQUIRED,
	  .set = set_realm,
	  .help = "REALM: the realm" },
	{ .name = "listening-port",
	  .short_name = 'p',
	  .kind = IW_OPT_REQUIRED,
	  .set = set_port,
	  .help = "PORT: UDP port" },
	{ .name = "verbose",
	  .short_name = 'v',
	  .kind = IW_OPT_NONE,
	  .set = set_verbose,
	  .help = "more logging" },
	{ .name = "prometheus", .kind = IW_OPT_OPTIONAL, .set = set_prometheus, .help = "export metrics" },
	{ .name = "mobility", .kind = IW_OPT_OPTIONAL, .set = set_mobility, .help = "yes/no" },
	{ .name = "fingerprint", .kind = IW_OPT_UNSUPPORTED },
	{ .name = "cli-password", .kind = IW_OPT_UNSUPPORTED_ARG },
	{ .name = "strict", .kind = IW_OPT_REQUIRED, .set = set_silent_fail, .help = "X: fails" },
	{ .name = NULL },
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

/* The typed table: every kind, with the environment prefix IWTEST_. */
struct tcfg {
	bool flag, on;
	uint16_t port;
	uint32_t count;
	size_t bytes;
	double loss;
	uint8_t mode;
	bool json;
	char *name, *secret, *addr, *target;
	char *uris[3];
	unsigned n_uris;
	struct iw_cidr nets[2];
	unsigned n_nets;
	unsigned help;
};

static int check_stun(const char *val, const char **why)
{
	if (strncmp(val, "stun:", 5) != 0) {
		*why = "must start with stun:";
		return -EINVAL;
	}
	return 0;
}

static const struct iw_opt ttab[] = {
	{ .name = "flag",
	  .short_name = 'f',
	  .kind = IW_OPT_FLAG,
	  IW_OPT_AT(struct tcfg, flag),
	  .help = "a flag" },
	{ .name = "on", .kind = IW_OPT_BOOL, IW_OPT_AT(struct tcfg, on), .def = "yes", .help = "yes or no" },
	{ .name = "port",
	  .short_name = 'p',
	  .kind = IW_OPT_INT,
	  IW_OPT_AT(struct tcfg, port),
	  .min = 1,
	  .max = 65535,
	  .def = "3478",
	  .help = "PORT: a port" },
	{ .name = "count",
	  .kind = IW_OPT_INT,
	  IW_OPT_AT(struct tcfg, count),
	  .min = 0,
	  .max = 100,
	  .def = "7",
	  .bare = "50",
	  .help = "N: optional value" },
	{ .name = "bytes",
	  .kind = IW_OPT_INT,
	  IW_OPT_AT(struct tcfg, bytes),
	  .min = 4096,
	  .max = 1LL << 40,
	  .def = "1048576",
	  .help = "BYTES: a size_t" },
	{ .name = "loss",
	  .kind = IW_OPT_DOUBLE,
	  IW_OPT_AT(struct tcfg, loss),
	  .min = 0,
	  .max = 100,
	  .def = "1.5",
	  .help = "PCT: a double" },
	{ .name = "mode",
	  .kind = IW_OPT_ENUM,
	  IW_OPT_AT(struct tcfg, mode),
	  .choices = "auto|io_uring|syscalls",
	  .def = "auto",
	  .help = "how" },
	{ .name = "log-format",
	  .kind = IW_OPT_ENUM,
	  IW_OPT_AT(struct tcfg, json),
	  .choices = "plain|json",
	  .def = "plain",
	  .help = "FMT: log lines" },
	{ .name = "log-json",
	  .kind = IW_OPT_ALIAS,
	  .alias_of = "log-format",
	  .def = "json",
	  .flags = IW_OPT_HIDDEN },
	{ .name = "name",
	  .kind = IW_OPT_STR,
	  IW_OPT_AT(struct tcfg, name),
	  .max = 8,
	  .def = "iceway",
	  .help = "NAME: a string" },
	{ .name = "title", .kind = IW_OPT_ALIAS, .alias_of = "name", .flags = IW_OPT_HIDDEN },
	{ .name = "secret",
	  .kind = IW_OPT_STR,
	  .flags = IW_OPT_SECRET,
	  IW_OPT_AT(struct tcfg, secret),
	  .min = 4,
	  .help = "SECRET: a secret" },
	{ .name = "addr",
	  .kind = IW_OPT_STR,
	  .flags = IW_OPT_IP,
	  IW_OPT_AT(struct tcfg, addr),
	  .def = "127.0.0.1",
	  .help = "IP: an address" },
	{ .name = "target",
	  .kind = IW_OPT_STR,
	  .flags = IW_OPT_HOSTPORT,
	  IW_OPT_AT(struct tcfg, target),
	  .help = "ADDR:PORT: a target" },
	{ .name = "uri",
	  .kind = IW_OPT_LIST,
	  IW_OPT_AT(struct tcfg, uris),
	  .count_off = offsetof(struct tcfg, n_uris),
	  .max = 3,
	  .check = check_stun,
	  .def_doc = "none",
	  .help = "URI: repeatable" },
	{ .name = "net",
	  .kind = IW_OPT_CIDR,
	  IW_OPT_AT(struct tcfg, nets),
	  .count_off = offsetof(struct tcfg, n_nets),
	  .max = 2,
	  .help = "RANGE: repeatable" },
	{ .name = "help",
	  .short_name = 'h',
	  .kind = IW_OPT_ENUM,
	  .flags = IW_OPT_NOENV,
	  IW_OPT_AT(struct tcfg, help),
	  .choices = "no|text|markdown",
	  .bare = "text",
	  .help = "FORMAT: print this help" },
	{ .name = "mobility", .kind = IW_OPT_UNSUPPORTED },
	IW_OPT_END("IWTEST_"),
};

static void tinit(struct tcfg *c)
{
	char err[IW_CONFIG_ERR_MAX];
	memset(c, 0, sizeof *c);
	assert_int_equal(iw_config_defaults(ttab, c, err, sizeof err), 0);
}

static const char *const tenv[] = { "IWTEST_PORT",        "IWTEST_FLAG", "IWTEST_URI",  "IWTEST_SECRET",
				    "IWTEST_SECRET_FILE", "IWTEST_HELP", "IWTEST_MODE", "IWTEST_NAME",
				    "IWTEST_TITLE",       "IWTEST_NET" };

static int tsetup(void **state)
{
	for (size_t i = 0; i < sizeof tenv / sizeof tenv[0]; i++)
		unsetenv(tenv[i]);
	return setup(state);
}

static void test_typed_defaults(void **state)
{
	(void)state;
	struct tcfg c;
	tinit(&c);
	assert_false(c.flag);
	assert_true(c.on);
	assert_int_equal(c.port, 3478);
	assert_int_equal(c.count, 7);
	assert_int_equal(c.bytes, 1048576);
	assert_true(c.loss == 1.5);
	assert_int_equal(c.mode, 0);
	assert_false(c.json);
	assert_string_equal(c.name, "iceway");
	assert_null(c.secret);
	assert_string_equal(c.addr, "127.0.0.1");
	assert_int_equal(c.n_uris, 0);
	iw_config_free(ttab, &c);
	assert_null(c.name);
	assert_null(c.addr);

	/* A default that does not parse is reported, naming the option. */
	static const struct iw_opt bad[] = {
		{ .name = "port",
		  .kind = IW_OPT_INT,
		  IW_OPT_AT(struct tcfg, port),
		  .min = 1,
		  .max = 9,
		  .def = "10" },
		IW_OPT_END(NULL),
	};
	char err[IW_CONFIG_ERR_MAX];
	memset(&c, 0, sizeof c);
	assert_int_equal(iw_config_defaults(bad, &c, err, sizeof err), -1);
	assert_string_equal(err, "default of option 'port': must be 1-9");
}

static void test_typed_values(void **state)
{
	(void)state;
	struct tcfg c;
	char err[IW_CONFIG_ERR_MAX];
	tinit(&c);
	char *argv[] = { "prog",    "-f",       "--on=no",      "-p",       "65535",    "--count",
			 "--bytes", "4096",     "--loss=0.25",  "--mode",   "syscalls", "--log-json",
			 "--name",  "12345678", "--addr",       "::1",      "--target", "[::1]:3478",
			 "--uri",   "stun:a",   "--uri=stun:b", "--secret", "abcd",     NULL };
	int argc = (int)(sizeof argv / sizeof argv[0]) - 1;
	assert_int_equal(iw_config_parse_args(ttab, &c, argc, argv, NULL, err, sizeof err), 0);
	assert_true(c.flag);
	assert_false(c.on);
	assert_int_equal(c.port, 65535);
	assert_int_equal(c.count, 50); /* bare: the table's .bare */
	assert_int_equal(c.bytes, 4096);
	assert_true(c.loss == 0.25);
	assert_int_equal(c.mode, 2);
	assert_true(c.json);
	assert_string_equal(c.name, "12345678");
	assert_string_equal(c.addr, "::1");
	assert_string_equal(c.target, "[::1]:3478");
	assert_int_equal(c.n_uris, 2);
	assert_string_equal(c.uris[1], "stun:b");
	assert_string_equal(c.secret, "abcd");
	/* The old spelling and the new one set the same field. */
	char *argv2[] = { "prog", "--log-format", "plain", "--count=3", "--help=markdown", "--log-json=no",
			  NULL };
	assert_int_equal(iw_config_parse_args(ttab, &c, 6, argv2, NULL, err, sizeof err), 0);
	assert_false(c.json); /* "--log-json=no" changes nothing */
	assert_int_equal(c.count, 3);
	assert_int_equal(c.help, 2);
	iw_config_free(ttab, &c);
	assert_int_equal(c.n_uris, 0);
}

static void test_typed_errors(void **state)
{
	(void)state;
	static const struct {
		const char *arg, *err;
	} rows[] = {
		{ "--port=0", "option '--port': must be 1-65535" },
		{ "--port=65536", "option '--port': must be 1-65535" },
		{ "--port=x", "option '--port': not a number" },
		{ "--count=101", "option '--count': must be 0-100" },
		{ "--bytes=4095", "option '--bytes': must be 4096-1099511627776" },
		{ "--loss=100.5", "option '--loss': must be from 0 to 100" },
		{ "--loss=1%", "option '--loss': not a number" },
		{ "--loss=nan", "option '--loss': not a number" },
		{ "--mode=uring", "option '--mode': must be auto, io_uring or syscalls" },
		{ "--log-format=xml", "option '--log-format': must be plain or json" },
		{ "--log-json=maybe", "option '--log-json': must be yes or no" },
		{ "--flag=yes", "option '--flag': does not take a value" },
		{ "--on=maybe", "option '--on': must be yes or no" },
		{ "--name=123456789", "option '--name': longer than 8 characters" },
		{ "--name=", "option '--name': empty value" },
		{ "--secret=abc", "option '--secret': must be at least 4 characters" },
		{ "--addr=1.2.3.4:5", "option '--addr': not an IPv4 or IPv6 address" },
		{ "--addr=localhost", "option '--addr': not an IPv4 or IPv6 address" },
		{ "--target=1.2.3.4", "option '--target': not an ADDR:PORT" },
		{ "--uri=turn:x", "option '--uri': must start with stun:" },
		{ "--help=pdf", "option '--help': must be no, text or markdown" },
		{ "--name-file=/x", "unknown option '--name-file'" },
		{ "--port", "option '--port': missing value" },
	};
	char err[IW_CONFIG_ERR_MAX];

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct tcfg c;
		tinit(&c);
		char *argv[] = { "prog", (char *)rows[i].arg, NULL };
		assert_int_equal(iw_config_parse_args(ttab, &c, 2, argv, NULL, err, sizeof err), -1);
		assert_string_equal(err, rows[i].err);
		iw_config_free(ttab, &c);
	}
	/* A list holds at most .max entries. */
	struct tcfg c;
	tinit(&c);
	char *argv[] = { "prog", "--uri=stun:1", "--uri=stun:2", "--uri=stun:3", "--uri=stun:4", NULL };
	assert_int_equal(iw_config_parse_args(ttab, &c, 5, argv, NULL, err, sizeof err), -1);
	assert_string_equal(err, "option '--uri': given too many times (at most 3)");
	assert_int_equal(c.n_uris, 3);
	iw_config_free(ttab, &c);

	/* In a file: the file, the line and the option. */
	write_conf("port=80\nmode=fast\n");
	tinit(&c);
	assert_int_equal(iw_config_load_file(ttab, &c, conf, err, sizeof err), -1);
	char want[IW_CONFIG_ERR_MAX];
	snprintf(want, sizeof want, "%s:2: option 'mode': must be auto, io_uring or syscalls", conf);
	assert_string_equal(err, want);
	assert_int_equal(c.port, 80);
	iw_config_free(ttab, &c);
}

/* defaults < file < environment < command line */
static void test_env_precedence(void **state)
{
	(void)state;
	struct tcfg c;
	char err[IW_CONFIG_ERR_MAX];
	char *argv[] = { "prog", "--port", "3000", NULL };

	write_conf("port=1000\nname=file\nmode=io_uring\n");
	setenv("IWTEST_PORT", "2000", 1);
	setenv("IWTEST_NAME", "env", 1);
	setenv("IWTEST_FLAG", "yes", 1);
	setenv("IWTEST_URI", "stun:a  stun:b\tstun:c", 1);
	setenv("IWTEST_HELP", "text", 1); /* NOENV: not read */
	tinit(&c);
	assert_int_equal(iw_config_load_file(ttab, &c, conf, err, sizeof err), 0);
	assert_int_equal(iw_config_parse_args(ttab, &c, 3, argv, NULL, err, sizeof err), 0);
	assert_int_equal(c.port, 3000);     /* command line over environment */
	assert_string_equal(c.name, "env"); /* environment over file */
	assert_int_equal(c.mode, 1);        /* file over default */
	assert_true(c.flag);                /* a flag takes yes/no from the environment */
	assert_int_equal(c.n_uris, 3);      /* a list, split on white space */
	assert_string_equal(c.uris[2], "stun:c");
	assert_int_equal(c.help, 0);
	iw_config_free(ttab, &c);

	setenv("IWTEST_FLAG", "no", 1);
	unsetenv("IWTEST_URI");
	write_conf("flag\n");
	tinit(&c);
	assert_int_equal(iw_config_load_file(ttab, &c, conf, err, sizeof err), 0);
	assert_true(c.flag);
	assert_int_equal(iw_config_load_env(ttab, &c, err, sizeof err), 0);
	assert_false(c.flag); /* the environment's "no" turns off the file's flag */
	iw_config_free(ttab, &c);

	setenv("IWTEST_PORT", "99999", 1);
	tinit(&c);
	assert_int_equal(iw_config_parse_args(ttab, &c, 1, argv, NULL, err, sizeof err), -1);
	assert_string_equal(err, "environment IWTEST_PORT: option 'port': must be 1-65535");
	iw_config_free(ttab, &c);
	setenv("IWTEST_PORT", "", 1); /* empty: as if unset */
	setenv("IWTEST_FLAG", "maybe", 1);
	tinit(&c);
	assert_int_equal(iw_config_load_env(ttab, &c, err, sizeof err), -1);
	assert_string_equal(err, "environment IWTEST_FLAG: option 'flag': must be yes or no");
	iw_config_free(ttab, &c);
	for (size_t i = 0; i < sizeof tenv / sizeof tenv[0]; i++)
		unsetenv(tenv[i]);
}

/* An old spelling that takes a value works everywhere the option does, the environment
 * included; the option's own name wins on the command line after it. */
static void test_alias_sources(void **state)
{
	(void)state;
	struct tcfg c;
	char err[IW_CONFIG_ERR_MAX];
	char *argv[] = { "prog", "--title", "argv", NULL };

	setenv("IWTEST_TITLE", "env", 1);
	tinit(&c);
	assert_int_equal(iw_config_load_env(ttab, &c, err, sizeof err), 0);
	assert_string_equal(c.name, "env");
	assert_int_equal(iw_config_parse_args(ttab, &c, 3, argv, NULL, err, sizeof err), 0);
	assert_string_equal(c.name, "argv");
	iw_config_free(ttab, &c);
	setenv("IWTEST_TITLE", "far-too-long", 1);
	tinit(&c);
	assert_int_equal(iw_config_load_env(ttab, &c, err, sizeof err), -1);
	assert_non_null(strstr(err, "environment IWTEST_TITLE: option 'title'"));
	iw_config_free(ttab, &c);
	unsetenv("IWTEST_TITLE");
}

/* A list given by a later source replaces the earlier one's; within a source it adds up. */
static void test_list_sources(void **state)
{
	(void)state;
	struct tcfg c;
	char err[IW_CONFIG_ERR_MAX];
	char *argv[] = { "prog", "--uri", "stun:z", "--uri=stun:y", NULL };

	write_conf("uri=stun:f1\nuri=stun:f2\n");
	tinit(&c);
	assert_int_equal(iw_config_load_file(ttab, &c, conf, err, sizeof err), 0);
	assert_int_equal(c.n_uris, 2);
	assert_int_equal(iw_config_parse_args(ttab, &c, 1, argv, NULL, err, sizeof err), 0);
	assert_int_equal(c.n_uris, 2); /* nothing in the environment or argv: the file's stay */
	setenv("IWTEST_URI", "stun:e", 1);
	assert_int_equal(iw_config_load_env(ttab, &c, err, sizeof err), 0);
	assert_int_equal(c.n_uris, 1);
	assert_string_equal(c.uris[0], "stun:e");
	iw_config_free(ttab, &c);

	tinit(&c);
	assert_int_equal(iw_config_load_file(ttab, &c, conf, err, sizeof err), 0);
	assert_int_equal(iw_config_parse_args(ttab, &c, 4, argv, NULL, err, sizeof err), 0);
	assert_int_equal(c.n_uris, 2);
	assert_string_equal(c.uris[0], "stun:z");
	assert_string_equal(c.uris[1], "stun:y");
	iw_config_free(ttab, &c);
	unsetenv("IWTEST_URI");
}

/* Address ranges: parsed into place, repeatable up to .max, a later source replaces the
 * ranges of an earlier one, the environment's value is split on blanks. */
static void test_cidr_sources(void **state)
{
	(void)state;
	struct tcfg c;
	char err[IW_CONFIG_ERR_MAX];
	struct iw_addr a;

	write_conf("net=10.0.0.0/8\nnet fd00::/8\n");
	tinit(&c);
	assert_int_equal(iw_config_load_file(ttab, &c, conf, err, sizeof err), 0);
	assert_int_equal(c.n_nets, 2);
	assert_int_equal(iw_addr_parse(&a, "10.1.2.3"), 0);
	assert_true(iw_cidr_contains(&c.nets[0], &a));
	assert_int_equal(iw_addr_parse(&a, "fd00::1"), 0);
	assert_true(iw_cidr_contains(&c.nets[1], &a));

	setenv("IWTEST_NET", "127.0.0.1  192.168.0.0/16", 1);
	assert_int_equal(iw_config_load_env(ttab, &c, err, sizeof err), 0);
	assert_int_equal(c.n_nets, 2);
	assert_int_equal(iw_addr_parse(&a, "192.168.7.7"), 0);
	assert_true(iw_cidr_contains(&c.nets[1], &a));
	assert_false(iw_cidr_contains(&c.nets[0], &a));
	unsetenv("IWTEST_NET");

	char *argv[] = { "prog", "--net", "::1", NULL };
	assert_int_equal(iw_config_parse_args(ttab, &c, 3, argv, NULL, err, sizeof err), 0);
	assert_int_equal(c.n_nets, 1);

	char *bad[] = { "prog", "--net", "10.0.0.0/33", NULL };
	assert_int_equal(iw_config_parse_args(ttab, &c, 3, bad, NULL, err, sizeof err), -1);
	assert_non_null(strstr(err, "'--net'"));
	assert_non_null(strstr(err, "must be an address or a range"));

	char *many[] = { "prog", "--net", "::1", "--net", "::2", "--net", "::3", NULL };
	assert_int_equal(iw_config_parse_args(ttab, &c, 7, many, NULL, err, sizeof err), -1);
	assert_non_null(strstr(err, "given too many times (at most 2)"));
	iw_config_free(ttab, &c);
}

static void write_file(const char *path, const char *text, size_t n)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, n, f), n);
	fclose(f);
}

/* NAME-file FILE reads a secret: one trailing newline stripped, bounded, errors name the
 * option and the path but never the secret. */
static void test_secret_file(void **state)
{
	(void)state;
	char path[64], err[IW_CONFIG_ERR_MAX], want[IW_CONFIG_ERR_MAX];
	struct tcfg c;
	snprintf(path, sizeof path, "/tmp/iw_test_secret_XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);

	write_file(path, "s3cr3t\r\n", 8);
	char *argv[] = { "prog", "--secret-file", path, NULL };
	tinit(&c);
	assert_int_equal(iw_config_parse_args(ttab, &c, 3, argv, NULL, err, sizeof err), 0);
	assert_string_equal(c.secret, "s3cr3t");
	iw_config_free(ttab, &c);

	write_file(path, "from-file\n", 10);
	snprintf(want, sizeof want, "secret-file = %s\n", path);
	write_conf(want);
	tinit(&c);
	assert_int_equal(iw_config_load_file(ttab, &c, conf, err, sizeof err), 0);
	assert_string_equal(c.secret, "from-file");
	iw_config_free(ttab, &c);

	setenv("IWTEST_SECRET_FILE", path, 1);
	tinit(&c);
	assert_int_equal(iw_config_load_env(ttab, &c, err, sizeof err), 0);
	assert_string_equal(c.secret, "from-file");
	iw_config_free(ttab, &c);
	unsetenv("IWTEST_SECRET_FILE");

	/* Two lines, an empty file, a short secret, a missing file, one byte too many. */
	write_file(path, "a\nb\n", 4);
	tinit(&c);
	assert_int_equal(iw_config_parse_args(ttab, &c, 3, argv, NULL, err, sizeof err), -1);
	snprintf(want, sizeof want, "option '--secret-file': %s holds more than one line", path);
	assert_string_equal(err, want);
	write_file(path, "\n", 1);
	assert_int_equal(iw_config_parse_args(ttab, &c, 3, argv, NULL, err, sizeof err), -1);
	snprintf(want, sizeof want, "option '--secret-file': %s is empty", path);
	assert_string_equal(err, want);
	write_file(path, "abc\n", 4);
	assert_int_equal(iw_config_parse_args(ttab, &c, 3, argv, NULL, err, sizeof err), -1);
	assert_string_equal(err, "option '--secret-file': must be at least 4 characters");
	static char big[IW_CONFIG_SECRET_FILE_MAX + 2];
	memset(big, 'k', sizeof big);
	big[IW_CONFIG_SECRET_FILE_MAX] = '\n';
	write_file(path, big, IW_CONFIG_SECRET_FILE_MAX + 1);
	assert_int_equal(iw_config_parse_args(ttab, &c, 3, argv, NULL, err, sizeof err), 0);
	assert_int_equal(strlen(c.secret), IW_CONFIG_SECRET_FILE_MAX); /* 4096 bytes and '\n' */
	big[IW_CONFIG_SECRET_FILE_MAX] = 'k';
	write_file(path, big, IW_CONFIG_SECRET_FILE_MAX + 1);
	assert_int_equal(iw_config_parse_args(ttab, &c, 3, argv, NULL, err, sizeof err), -1);
	snprintf(want, sizeof want, "option '--secret-file': %s is longer than %d bytes", path,
		 IW_CONFIG_SECRET_FILE_MAX);
	assert_string_equal(err, want);
	unlink(path);
	assert_int_equal(iw_config_parse_args(ttab, &c, 3, argv, NULL, err, sizeof err), -1);
	snprintf(want, sizeof want, "option '--secret-file': cannot read %s: No such file or directory",
		 path);
	assert_string_equal(err, want);
	setenv("IWTEST_SECRET_FILE", path, 1);
	assert_int_equal(iw_config_load_env(ttab, &c, err, sizeof err), -1);
	snprintf(want, sizeof want,
		 "environment IWTEST_SECRET_FILE: option 'secret': cannot read %s: No such file or directory",
		 path);
	assert_string_equal(err, want);
	unsetenv("IWTEST_SECRET_FILE");
	iw_config_free(ttab, &c);
}

/* Run fn with stdout in buf. */
static void capture(void (*fn)(const struct iw_opt *), const struct iw_opt *t, char *buf, size_t cap)
{
	char out[64];
	snprintf(out, sizeof out, "/tmp/iw_test_help_XXXXXX");
	int fd = mkstemp(out);
	assert_true(fd >= 0);
	fflush(stdout);
	int saved = dup(1);
	dup2(fd, 1);
	fn(t);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	close(fd);
	FILE *f = fopen(out, "r");
	size_t n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(out);
}

static void test_typed_help(void **state)
{
	(void)state;
	static char buf[8192];

	capture(iw_config_print_help, ttab, buf, sizeof buf);
	assert_non_null(strstr(buf, "-p, --port PORT"));
	assert_non_null(strstr(buf, "a port (default 3478)\n"));
	assert_non_null(strstr(buf, "--count[=N]"));
	assert_non_null(strstr(buf, "--mode auto|io_uring|syscalls"));
	assert_non_null(strstr(buf, "how (default auto)\n"));
	assert_non_null(strstr(buf, "log lines (default plain) (also --log-json)\n"));
	assert_non_null(strstr(buf, "--secret-file FILE"));
	assert_non_null(strstr(buf, "repeatable (default none)\n"));
	assert_non_null(strstr(buf, "IWTEST_NAME"));
	assert_null(strstr(buf, "mobility"));
	assert_null(strstr(buf, "  --log-json"));

	capture(iw_config_print_markdown, ttab, buf, sizeof buf);
	assert_non_null(strstr(buf, "| Option | Environment | Default | Meaning |\n"));
	assert_non_null(strstr(buf, "| `-p`, `--port PORT` | `IWTEST_PORT` | 3478 | a port |\n"));
	assert_non_null(
		strstr(buf, "| `--mode auto\\|io_uring\\|syscalls` | `IWTEST_MODE` | auto | how |\n"));
	assert_non_null(strstr(buf,
			       "| `--secret-file FILE` | `IWTEST_SECRET_FILE` | | read secret from FILE (one "
			       "line) |\n"));
	assert_non_null(strstr(buf, "| `-h`, `--help[=FORMAT]` |  |  | print this help |\n"));
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
		cmocka_unit_test_setup_teardown(test_typed_defaults, tsetup, teardown),
		cmocka_unit_test_setup_teardown(test_typed_values, tsetup, teardown),
		cmocka_unit_test_setup_teardown(test_typed_errors, tsetup, teardown),
		cmocka_unit_test_setup_teardown(test_alias_sources, tsetup, teardown),
		cmocka_unit_test_setup_teardown(test_env_precedence, tsetup, teardown),
		cmocka_unit_test_setup_teardown(test_list_sources, tsetup, teardown),
		cmocka_unit_test_setup_teardown(test_cidr_sources, tsetup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_file, tsetup, teardown),
		cmocka_unit_test(test_typed_help),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
