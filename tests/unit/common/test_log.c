/* Unit tests for common/log.c: line format (plain and JSON), escaping, level guard, one write
 * per line under concurrency, and the rate limiter. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/clock.h"
#include "common/log.h"

static char path[64];

static int setup(void **state)
{
	(void)state;
	snprintf(path, sizeof path, "/tmp/iw_test_log_XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	close(fd);
	iw_log_set_json(false);
	iw_log_set_level(IW_LOG_INFO);
	iw_log_set_ident("iceway-relay");
	return iw_log_open(path) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	iw_log_open(NULL);
	unlink(path);
	return 0;
}

/* The whole log file, NUL-terminated; caller frees. */
static char *slurp(size_t *len_out)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len_out)
		*len_out = (size_t)n;
	return buf;
}

/* "2026-11-22T17:50:00.123Z": 24 characters. */
static void check_ts(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	for (size_t i = 0; i < sizeof shape - 1; i++) {
		if (shape[i] == 'd')
			assert_true(s[i] >= '0' && s[i] <= '9');
		else
			assert_int_equal(s[i], shape[i]);
	}
}

static void test_plain_lines(void **state)
{
	(void)state;
	IW_INFO("hello %d", 42);
	IW_ERROR("two\nlines\tand \x01 bell \xff");
	char *s = slurp(NULL);
	char *second = strchr(s, '\n');
	assert_non_null(second);
	*second++ = '\0';
	check_ts(s);
	assert_string_equal(s + 24, " INFO iceway-relay: hello 42");
	check_ts(second);
	assert_string_equal(second + 24, " ERROR iceway-relay: two\\nlines\\tand \\x01 bell \\xff\n");
	free(s);
}

static void test_json_line(void **state)
{
	(void)state;
	iw_log_set_json(true);
	IW_WARN("quote \" back \\ nl \n ctl \x01 bad \xff ok \xc3\xa9 surrogate \xed\xa0\x80 end");
	iw_log_set_json(false);
	char *s = slurp(NULL);
	assert_memory_equal(s, "{\"ts\":\"", 7);
	check_ts(s + 7);
	assert_string_equal(s + 31,
			    "\",\"level\":\"warn\",\"proc\":\"iceway-relay\",\"msg\":\"quote \\\" back "
			    "\\\\ nl \\n ctl \\u0001 bad \\ufffd ok \xc3\xa9 surrogate "
			    "\\ufffd\\ufffd\\ufffd end\"}\n");
	free(s);
}

static void test_level_guard(void **state)
{
	(void)state;
	int evaluated = 0;

	iw_log_set_level(IW_LOG_WARN);
	IW_INFO("not shown %d", ++evaluated);
	IW_DEBUG("not shown %d", ++evaluated);
	assert_int_equal(evaluated, 0);
	assert_false(IW_LOG_ENABLED(IW_LOG_INFO));
	assert_true(IW_LOG_ENABLED(IW_LOG_WARN));
	IW_WARN("shown");
	iw_log_set_level(IW_LOG_DEBUG);
	IW_DEBUG("debug %d", ++evaluated);
	assert_int_equal(evaluated, 1);
	iw_log_set_level(IW_LOG_INFO);
	char *s = slurp(NULL);
	assert_non_null(strstr(s, " WARN iceway-relay: shown\n"));
	assert_non_null(strstr(s, " DEBUG iceway-relay: debug 1\n"));
	assert_null(strstr(s, "not shown"));
	free(s);
}

static void test_long_message(void **state)
{
	(void)state;
	char big[10000];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	IW_INFO("%s", big);
	/* Worst case for escaping: every byte becomes \u0001 in JSON. */
	memset(big, 1, sizeof big - 1);
	iw_log_set_json(true);
	IW_INFO("%s", big);
	iw_log_set_json(false);
	size_t len;
	char *s = slurp(&len);
	char *nl = strchr(s, '\n');
	assert_non_null(nl);
	assert_true(nl - s < 4096);
	assert_memory_equal(nl - 3, "...", 3);
	char *j = nl + 1;
	char *nl2 = strchr(j, '\n');
	assert_non_null(nl2);
	assert_true(nl2 - j < 4096);
	assert_int_equal(nl2 + 1 - s, len);
	assert_memory_equal(nl2 - 2, "\"}", 2);
	/* The cut happens between escapes, never inside one. */
	char *msg = strstr(j, "\"msg\":\"") + 7;
	assert_int_equal((nl2 - 2 - msg) % 6, 0);
	free(s);
}

enum { N_THREADS = 4, N_LINES = 500 };

static void *writer(void *arg)
{
	long id = (long)arg;
	for (int i = 0; i < N_LINES; i++)
		IW_INFO("thread %ld line %d %s", id, i,
			"padding-padding-padding-padding-padding-padding-padding-padding");
	return NULL;
}

static void test_threads_do_not_interleave(void **state)
{
	(void)state;
	pthread_t t[N_THREADS];
	for (long i = 0; i < N_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, writer, (void *)i), 0);
	for (int i = 0; i < N_THREADS; i++)
		pthread_join(t[i], NULL);

	char *s = slurp(NULL);
	int seen[N_THREADS] = { 0 };
	int lines = 0;
	for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
		long id;
		int n, end = 0;
		check_ts(line);
		assert_int_equal(
			sscanf(line + 24, " INFO iceway-relay: thread %ld line %d %*s%n", &id, &n, &end), 2);
		assert_true(end > 0 && line[24 + end] == '\0');
		assert_true(id >= 0 && id < N_THREADS);
		assert_int_equal(n, seen[id]); /* each thread's lines in order */
		seen[id]++;
		lines++;
	}
	assert_int_equal(lines, N_THREADS * N_LINES);
	free(s);
}

static void test_parse_level(void **state)
{
	(void)state;
	enum iw_log_level l;
	assert_int_equal(iw_log_parse_level("error", &l), 0);
	assert_int_equal(l, IW_LOG_ERROR);
	assert_int_equal(iw_log_parse_level("warn", &l), 0);
	assert_int_equal(l, IW_LOG_WARN);
	assert_int_equal(iw_log_parse_level("INFO", &l), 0);
	assert_int_equal(l, IW_LOG_INFO);
	assert_int_equal(iw_log_parse_level("debug", &l), 0);
	assert_int_equal(l, IW_LOG_DEBUG);
	assert_int_equal(iw_log_parse_level("verbose", &l), -EINVAL);
	assert_int_equal(iw_log_parse_level("", &l), -EINVAL);
	assert_int_equal(iw_log_parse_level(NULL, &l), -EINVAL);
}

/* coturn's syslog-facility spellings, and what is not one. */
static void test_parse_facility(void **state)
{
	(void)state;
	int f = -1;
	const char *why = NULL;

	assert_int_equal(iw_log_parse_facility("LOG_LOCAL1", &f), 0);
	assert_int_equal(f, 17 << 3);
	assert_int_equal(iw_log_parse_facility("local7", &f), 0);
	assert_int_equal(f, 23 << 3);
	assert_int_equal(iw_log_parse_facility("Daemon", &f), 0);
	assert_int_equal(f, 3 << 3);
	assert_int_equal(iw_log_parse_facility("log_user", &f), 0);
	assert_int_equal(f, 1 << 3);
	assert_int_equal(iw_log_parse_facility("local8", &f), -EINVAL);
	assert_int_equal(iw_log_parse_facility("LOG_", &f), -EINVAL);
	assert_int_equal(iw_log_parse_facility("", &f), -EINVAL);
	assert_int_equal(iw_log_parse_facility(NULL, &f), -EINVAL);
	assert_int_equal(iw_log_check_facility("bogus", &why), -EINVAL);
	assert_non_null(why);
}

/* new-log-timestamp-format restamps plain lines; too long a format is refused. */
static void test_time_format(void **state)
{
	(void)state;
	char buf[64];

	memset(buf, 'x', sizeof buf);
	buf[sizeof buf - 1] = '\0';
	assert_int_equal(iw_log_set_time_format(buf), -EINVAL);
	assert_int_equal(iw_log_set_time_format("[%Y]"), 0);
	IW_INFO("stamped");
	assert_int_equal(iw_log_set_time_format(NULL), 0);
	char *all = slurp(NULL);
	assert_int_equal(strncmp(all, "[20", 3), 0);
	assert_non_null(strstr(all, "] INFO iceway-relay: stamped\n"));
	free(all);
}

/* After a rotation (the file renamed), reopen writes to a new file by the same name. */
static void test_reopen(void **state)
{
	(void)state;
	char moved[80];

	IW_INFO("before");
	snprintf(moved, sizeof moved, "%s.1", path);
	assert_int_equal(rename(path, moved), 0);
	assert_int_equal(iw_log_reopen(), 0);
	IW_INFO("after");
	char *all = slurp(NULL);
	assert_null(strstr(all, "before"));
	assert_non_null(strstr(all, "INFO iceway-relay: after\n"));
	free(all);
	unlink(moved);
	iw_log_open("stdout");
	assert_int_equal(iw_log_reopen(), 0); /* nothing to reopen */
}

static void test_open_errors_and_errno(void **state)
{
	(void)state;
	assert_int_equal(iw_log_open("/nonexistent-dir/x.log"), -ENOENT);
	/* The previous destination stays in use. */
	errno = EAGAIN;
	IW_INFO("still here");
	assert_int_equal(errno, EAGAIN);
	char *s = slurp(NULL);
	assert_non_null(strstr(s, "still here"));
	free(s);
}

/* One call site repeated by a flood writes at most its burst, not every line. */
static void flood_line(int i)
{
	IW_LOG_RL(IW_LOG_WARN, 5, "refusing a connection #%d", i);
}

static void test_rate_limited_call_site(void **state)
{
	(void)state;
	for (int i = 0; i < 1000; i++)
		flood_line(i);
	char *buf = slurp(NULL);
	int lines = 0;
	for (const char *p = buf; (p = strstr(p, "refusing a connection #")); p++)
		lines++;
	/* 1000 calls; even if the loop straddled a second boundary, at most two bursts pass */
	assert_true(lines >= 1 && lines <= 10);
	assert_non_null(strstr(buf, "refusing a connection #0"));
	free(buf);
}

static void test_rate_limit(void **state)
{
	(void)state;
	struct iw_log_rl rl = { 0 };
	unsigned sup = 99;

	/* A period long enough that the window cannot roll over during the test. */
	for (int i = 0; i < 3; i++) {
		assert_true(iw_log_rl_allow(&rl, 3, 3600000, &sup));
		assert_int_equal(sup, 0);
	}
	for (int i = 0; i < 5; i++)
		assert_false(iw_log_rl_allow(&rl, 3, 3600000, &sup));
	assert_int_equal(rl.suppressed, 5);
	/* Move the window into the past instead of waiting for it. */
	rl.window_start_ms = iw_clock_ms() - 3600001;
	assert_true(iw_log_rl_allow(&rl, 3, 3600000, &sup));
	assert_int_equal(sup, 5);
	assert_true(iw_log_rl_allow(&rl, 3, 3600000, &sup));
	assert_int_equal(sup, 0);
	/* burst 0 suppresses everything and keeps counting. */
	struct iw_log_rl none = { 0 };
	assert_false(iw_log_rl_allow(&none, 0, 3600000, &sup));
	assert_false(iw_log_rl_allow(&none, 0, 3600000, NULL));
	assert_int_equal(none.suppressed, 2);
}

/* The part of a record after its timestamp prefix: from ,"msg" (JSON) or ": " (plain). */
static const char *rec_body(const char *line, bool json)
{
	const char *b = strstr(line, json ? ",\"msg\":" : ": ");
	assert_non_null(b);
	return b;
}

/* A user name with a quote, a backslash, control bytes, a byte that is not UTF-8 and an '='
 * stays one field of one line in both forms, typed values stay typed. */
static void test_rec_escaping(void **state)
{
	(void)state;
	static const char user[] = "a\"b\\c\x01\n\x00=\xff";
	char buf[512];
	struct iw_log_rec r;
	const char *rel[2] = { "127.0.0.1:5000", "[::1]:5002" };

	iw_log_rec_begin(&r, buf, sizeof buf, true, IW_LOG_INFO, "session");
	iw_log_rec_str(&r, "user", user, sizeof user - 1);
	iw_log_rec_strv(&r, "relayed", rel, 2);
	iw_log_rec_u64(&r, "bytes", 18446744073709551615ull);
	iw_log_rec_ms(&r, "duration", 61005);
	size_t n = iw_log_rec_end(&r);
	assert_int_equal(n, strlen(buf));
	assert_string_equal(buf + n - 1, "\n");
	check_ts(buf + 7);
	assert_true(!strncmp(buf, "{\"ts\":\"", 7));
	assert_string_equal(rec_body(buf, true),
			    ",\"msg\":\"session\",\"user\":\"a\\\"b\\\\c\\u0001\\n\\u0000=\\ufffd\","
			    "\"relayed\":[\"127.0.0.1:5000\",\"[::1]:5002\"],\"bytes\":18446744073709551615,"
			    "\"duration\":61.005}\n");

	iw_log_rec_begin(&r, buf, sizeof buf, false, IW_LOG_INFO, "session");
	iw_log_rec_str(&r, "user", user, sizeof user - 1);
	iw_log_rec_str(&r, "realm", "example.org", 11);
	iw_log_rec_str(&r, "empty", "", 0);
	iw_log_rec_strv(&r, "relayed", rel, 2);
	iw_log_rec_strv(&r, "none", rel, 0);
	iw_log_rec_ms(&r, "duration", 7);
	n = iw_log_rec_end(&r);
	check_ts(buf);
	assert_string_equal(rec_body(buf, false),
			    ": session user=\"a\\\"b\\\\c\\x01\\n\\x00=\\xff\" realm=example.org empty=\"\" "
			    "relayed=127.0.0.1:5000,[::1]:5002 none=\"\" duration=0.007\n");
	assert_null(memchr(buf, '\n', n - 1));
}

/* A field that does not fit is left out whole, the line says cut and stays parseable, and
 * nothing is written past the buffer given. */
static void test_rec_bounded(void **state)
{
	(void)state;
	char buf[IW_LOG_REC_MIN + 64];
	char big[300];
	memset(big, '"', sizeof big);
	for (int json = 0; json < 2; json++) {
		struct iw_log_rec r;
		memset(buf, 'Z', sizeof buf);
		iw_log_rec_begin(&r, buf, IW_LOG_REC_MIN, json, IW_LOG_INFO, "session");
		iw_log_rec_u64(&r, "a", 1);
		iw_log_rec_str(&r, "user", big, sizeof big); /* 600 bytes escaped: never fits */
		iw_log_rec_u64(&r, "b", 2);
		/* Fill up with fields until one no longer fits. */
		for (int i = 0; i < 40; i++)
			iw_log_rec_str(&r, "k", "vvvvvvvv", 8);
		size_t n = iw_log_rec_end(&r);
		assert_true(n <= IW_LOG_REC_MIN);
		for (size_t i = IW_LOG_REC_MIN; i < sizeof buf; i++)
			assert_int_equal(buf[i], 'Z');
		buf[n] = 0;
		assert_null(strstr(buf, "user"));
		assert_non_null(strstr(buf, json ? "\"a\":1,\"b\":2," : " a=1 b=2 "));
		const char *tail = json ? "\"cut\":true}\n" : " cut=true\n";
		assert_string_equal(buf + n - strlen(tail), tail);
		if (json) /* every field before the cut whole: quotes pair up */ {
			size_t q = 0;
			for (size_t i = 0; i < n; i++)
				q += buf[i] == '"';
			assert_int_equal(q % 2, 0);
			assert_string_equal(buf + n - strlen(",\"k\":\"vvvvvvvv\",\"cut\":true}\n"),
					    ",\"k\":\"vvvvvvvv\",\"cut\":true}\n");
		}
	}
}

/* A record goes to the log as one line, in the form log-format says. */
static void test_rec_write(void **state)
{
	(void)state;
	char buf[IW_LOG_REC_MIN];
	struct iw_log_rec r;
	assert_false(iw_log_json());
	iw_log_set_json(true);
	assert_true(iw_log_json());
	iw_log_rec_begin(&r, buf, sizeof buf, iw_log_json(), IW_LOG_INFO, "session");
	iw_log_rec_u64(&r, "peers", 3);
	size_t n = iw_log_rec_end(&r);
	iw_log_rec_write(IW_LOG_INFO, buf, n);
	iw_log_set_json(false);
	size_t len;
	char *s = slurp(&len);
	assert_int_equal(len, n);
	assert_string_equal(rec_body(s, true), ",\"msg\":\"session\",\"peers\":3}\n");
	assert_non_null(strstr(s, "\"level\":\"info\",\"proc\":\"iceway-relay\""));
	free(s);
	char t[40];
	iw_log_fmt_time(1764892800123LL, t, sizeof t);
	assert_string_equal(t, "2025-12-05T00:00:00.123Z");
}

/* new-log-timestamp-format restamps a plain record as it does a plain line (one prefix for
 * both); a JSON record keeps its ISO 8601 "ts". */
static void test_rec_time_format(void **state)
{
	(void)state;
	char buf[IW_LOG_REC_MIN];
	struct iw_log_rec r;

	assert_int_equal(iw_log_set_time_format("[%Y]"), 0);
	for (int json = 0; json < 2; json++) {
		iw_log_rec_begin(&r, buf, sizeof buf, json, IW_LOG_INFO, "session");
		iw_log_rec_u64(&r, "peers", 3);
		iw_log_rec_write(IW_LOG_INFO, buf, iw_log_rec_end(&r));
	}
	assert_int_equal(iw_log_set_time_format(NULL), 0);
	char *s = slurp(NULL);
	assert_int_equal(strncmp(s, "[20", 3), 0);
	const char *obj = strstr(s, "] INFO iceway-relay: session peers=3\n");
	assert_non_null(obj);
	obj = strchr(obj, '\n') + 1;
	assert_int_equal(strncmp(obj, "{\"ts\":\"", 7), 0);
	check_ts(obj + 7);
	assert_string_equal(rec_body(obj, true), ",\"msg\":\"session\",\"peers\":3}\n");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plain_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_guard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads_do_not_interleave, setup, teardown),
		cmocka_unit_test(test_parse_level),
		cmocka_unit_test(test_parse_facility),
		cmocka_unit_test_setup_teardown(test_time_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors_and_errno, setup, teardown),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test_setup_teardown(test_rate_limited_call_site, setup, teardown),
		cmocka_unit_test(test_rec_escaping),
		cmocka_unit_test(test_rec_bounded),
		cmocka_unit_test_setup_teardown(test_rec_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rec_time_format, setup, teardown),
	};
	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
