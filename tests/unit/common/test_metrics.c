/* Unit tests for common/metrics.c: exposition format rules and the HTTP server, scraped over
 * loopback. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/metrics.h"

static void test_names(void **state)
{
	(void)state;
	static const char *const good[] = { "a", "_x", ":y", "iceway_relay_packets_total", "a:b_c9" };
	static const char *const bad[] = { "", "9a", "a-b", "a b", "é", "a{", "a\n" };
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		assert_true(iw_metrics_name_is_valid(good[i]));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_false(iw_metrics_name_is_valid(bad[i]));
	assert_false(iw_metrics_name_is_valid(NULL));
	assert_true(iw_metrics_label_name_is_valid("worker"));
	assert_true(iw_metrics_label_name_is_valid("_w1"));
	assert_false(iw_metrics_label_name_is_valid("a:b")); /* ':' only in metric names */
	assert_false(iw_metrics_label_name_is_valid("__name"));
	assert_false(iw_metrics_label_name_is_valid("1a"));
	assert_false(iw_metrics_label_name_is_valid(""));
}

/* A one-sample family: HELP, TYPE and the sample, or nothing past a header that failed. */
static void test_single_sample_families(void **state)
{
	(void)state;
	char mem[256];
	struct iw_metrics_buf b;

	iw_metrics_buf_init(&b, mem, sizeof mem);
	assert_int_equal(iw_metrics_counter1(&b, "iw_up_total", "Ups.", 3), 0);
	assert_int_equal(iw_metrics_gauge1(&b, "iw_q", "Queue.", 1048576), 0);
	assert_string_equal(mem, "# HELP iw_up_total Ups.\n# TYPE iw_up_total counter\niw_up_total 3\n"
				 "# HELP iw_q Queue.\n# TYPE iw_q gauge\niw_q 1048576\n");
	assert_int_equal(iw_metrics_counter1(&b, "9bad", "x", 1), -EINVAL);
	assert_true(b.invalid);
	iw_metrics_buf_init(&b, mem, 40);
	assert_int_equal(iw_metrics_gauge1(&b, "iw_q", "A help text longer than the buffer.", 1), -EMSGSIZE);
	assert_true(b.overflow);
	assert_int_equal(b.len, 0);
}

static void test_writer(void **state)
{
	(void)state;
	char mem[2048];
	struct iw_metrics_buf b;
	const struct iw_metrics_label lab[] = { { "worker", "0" }, { "reason", "bad \"attr\"\\x\nnext" } };

	iw_metrics_buf_init(&b, mem, sizeof mem);
	assert_int_equal(
		iw_metrics_header(&b, "iw_rx_total", IW_METRICS_COUNTER, "Datagrams received.\nBack\\slash"),
		0);
	assert_int_equal(iw_metrics_counter(&b, "iw_rx_total", NULL, 0, 18446744073709551615ull), 0);
	assert_int_equal(iw_metrics_counter(&b, "iw_rx_total", lab, 2, 7), 0);
	assert_int_equal(iw_metrics_header(&b, "iw_allocs", IW_METRICS_GAUGE, NULL), 0);
	assert_int_equal(iw_metrics_gauge(&b, "iw_allocs", lab, 1, 12), 0);
	assert_int_equal(iw_metrics_gauge(&b, "iw_allocs", NULL, 0, 0.1), 0);
	assert_int_equal(iw_metrics_gauge(&b, "iw_allocs", NULL, 0, -2.5e-7), 0);
	assert_int_equal(iw_metrics_gauge(&b, "iw_allocs", NULL, 0, INFINITY), 0);
	assert_int_equal(iw_metrics_gauge(&b, "iw_allocs", NULL, 0, -INFINITY), 0);
	assert_int_equal(iw_metrics_gauge(&b, "iw_allocs", NULL, 0, NAN), 0);
	assert_false(b.overflow);
	assert_false(b.invalid);
	assert_int_equal(strlen(mem), b.len);
	assert_string_equal(mem, "# HELP iw_rx_total Datagrams received.\\nBack\\\\slash\n"
				 "# TYPE iw_rx_total counter\n"
				 "iw_rx_total 18446744073709551615\n"
				 "iw_rx_total{worker=\"0\",reason=\"bad \\\"attr\\\"\\\\x\\nnext\"} 7\n"
				 "# TYPE iw_allocs gauge\n"
				 "iw_allocs{worker=\"0\"} 12\n"
				 "iw_allocs 0.1\n"
				 "iw_allocs -2.5e-07\n"
				 "iw_allocs +Inf\n"
				 "iw_allocs -Inf\n"
				 "iw_allocs NaN\n");
}

static void test_invalid_names_refused(void **state)
{
	(void)state;
	char mem[256];
	struct iw_metrics_buf b;
	const struct iw_metrics_label bad_label[] = { { "bad-label", "x" } };
	const struct iw_metrics_label null_value[] = { { "ok", NULL } };

	iw_metrics_buf_init(&b, mem, sizeof mem);
	assert_int_equal(iw_metrics_header(&b, "bad name", IW_METRICS_GAUGE, "x"), -EINVAL);
	assert_int_equal(iw_metrics_header(&b, "ok", (enum iw_metrics_type)7, "x"), -EINVAL);
	assert_int_equal(iw_metrics_counter(&b, "1x", NULL, 0, 1), -EINVAL);
	assert_int_equal(iw_metrics_counter(&b, "x", bad_label, 1, 1), -EINVAL);
	assert_int_equal(iw_metrics_gauge(&b, "x", null_value, 1, 1), -EINVAL);
	assert_true(b.invalid);
	assert_int_equal(b.len, 0);
	assert_string_equal(mem, "");
}

static void test_overflow_keeps_whole_lines(void **state)
{
	(void)state;
	char mem[40];
	struct iw_metrics_buf b;

	iw_metrics_buf_init(&b, mem, sizeof mem);
	assert_int_equal(iw_metrics_counter(&b, "first_total", NULL, 0, 1), 0);  /* 14 bytes */
	assert_int_equal(iw_metrics_counter(&b, "second_total", NULL, 0, 2), 0); /* 15 bytes */
	assert_int_equal(iw_metrics_counter(&b, "third_total", NULL, 0, 3), -EMSGSIZE);
	assert_true(b.overflow);
	/* Later lines that would fit are refused too: the output is a prefix of whole lines. */
	assert_int_equal(iw_metrics_counter(&b, "a", NULL, 0, 4), -EMSGSIZE);
	assert_string_equal(mem, "first_total 1\nsecond_total 2\n");
	assert_int_equal(b.len, 29);

	/* Exactly full: a line of cap - 1 bytes fits (the NUL takes the last byte). */
	char m2[8];
	iw_metrics_buf_init(&b, m2, sizeof m2);
	assert_int_equal(iw_metrics_counter(&b, "abcde", NULL, 0, 1), -EMSGSIZE); /* 8 bytes */
	assert_int_equal(b.len, 0);
	assert_true(b.overflow);
	iw_metrics_buf_init(&b, m2, sizeof m2);
	assert_int_equal(iw_metrics_counter(&b, "abcd", NULL, 0, 1), 0);
	assert_string_equal(m2, "abcd 1\n");
}

static void test_histogram(void **state)
{
	(void)state;
	static const double bounds[] = { 0.001, 0.01, 0.1, 1 };
	uint64_t counts[5] = { 0 };
	struct iw_metrics_hist h = { bounds, 4, counts, 0, 0 };
	const double obs[] = { 0.0005, 0.001, 0.002, 0.05, 0.5, 0.7, 3 };

	for (size_t i = 0; i < sizeof obs / sizeof obs[0]; i++)
		iw_metrics_hist_observe(&h, obs[i]);
	assert_int_equal(h.count, 7);
	assert_int_equal(counts[0], 2); /* le is inclusive */
	assert_int_equal(counts[4], 1);

	char mem[1024];
	struct iw_metrics_buf b;
	const struct iw_metrics_label lab[] = { { "method", "allocate" } };
	iw_metrics_buf_init(&b, mem, sizeof mem);
	assert_int_equal(iw_metrics_header(&b, "iw_req_seconds", IW_METRICS_HISTOGRAM, "Latency."), 0);
	assert_int_equal(iw_metrics_histogram(&b, "iw_req_seconds", lab, 1, &h), 0);
	assert_string_equal(mem, "# HELP iw_req_seconds Latency.\n"
				 "# TYPE iw_req_seconds histogram\n"
				 "iw_req_seconds_bucket{method=\"allocate\",le=\"0.001\"} 2\n"
				 "iw_req_seconds_bucket{method=\"allocate\",le=\"0.01\"} 3\n"
				 "iw_req_seconds_bucket{method=\"allocate\",le=\"0.1\"} 4\n"
				 "iw_req_seconds_bucket{method=\"allocate\",le=\"1\"} 6\n"
				 "iw_req_seconds_bucket{method=\"allocate\",le=\"+Inf\"} 7\n"
				 "iw_req_seconds_sum{method=\"allocate\"} 4.2535\n"
				 "iw_req_seconds_count{method=\"allocate\"} 7\n");

	/* Without labels; bounds must increase. */
	iw_metrics_buf_init(&b, mem, sizeof mem);
	static const double one[] = { 5 };
	uint64_t c1[2] = { 1, 2 };
	struct iw_metrics_hist h1 = { one, 1, c1, 12.5, 3 };
	assert_int_equal(iw_metrics_histogram(&b, "h", NULL, 0, &h1), 0);
	assert_string_equal(mem, "h_bucket{le=\"5\"} 1\nh_bucket{le=\"+Inf\"} 3\nh_sum 12.5\n"
				 "h_count 3\n");
	static const double bad[] = { 1, 1 };
	struct iw_metrics_hist h2 = { bad, 2, counts, 0, 0 };
	assert_int_equal(iw_metrics_histogram(&b, "h", NULL, 0, &h2), -EINVAL);
}

/* --- HTTP --- */

static int fills;

static void fill(struct iw_metrics_buf *b, void *arg)
{
	(void)arg;
	fills++;
	iw_metrics_header(b, "iw_test_total", IW_METRICS_COUNTER, "A test counter.");
	iw_metrics_counter(b, "iw_test_total", NULL, 0, (uint64_t)fills);
}

static void fill_huge(struct iw_metrics_buf *b, void *arg)
{
	(void)arg;
	while (!b->overflow)
		iw_metrics_counter(b, "iw_padding_padding_padding_total", NULL, 0, 1);
}

static int connect_to(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	/* A safety net so a broken server fails the test instead of hanging it. */
	struct timeval tv = { 10, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	return fd;
}

/* Send req and read the whole response until the server closes. */
static size_t request(uint16_t port, const char *req, size_t req_len, char *resp, size_t cap)
{
	int fd = connect_to(port);
	size_t off = 0;
	while (off < req_len) {
		ssize_t n = send(fd, req + off, req_len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break; /* the server may answer and close before reading it all */
		off += (size_t)n;
	}
	size_t len = 0;
	for (;;) {
		ssize_t n = recv(fd, resp + len, cap - 1 - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	resp[len] = '\0';
	close(fd);
	return len;
}

static void test_http(void **state)
{
	(void)state;
	const char *why = NULL;
	struct iw_metrics_http *s = iw_metrics_http_start("127.0.0.1", 0, fill, NULL, &why);
	assert_non_null(s);
	uint16_t port = iw_metrics_http_port(s);
	assert_true(port != 0);
	static char resp[1 << 16];

	static const char get[] = "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n";
	request(port, get, sizeof get - 1, resp, sizeof resp);
	const char *body = strstr(resp, "\r\n\r\n");
	assert_non_null(body);
	body += 4;
	assert_memory_equal(resp, "HTTP/1.1 200 OK\r\n", 17);
	assert_non_null(strstr(resp, "\r\nContent-Type: text/plain; version=0.0.4"));
	char cl[64];
	snprintf(cl, sizeof cl, "\r\nContent-Length: %zu\r\n", strlen(body));
	assert_non_null(strstr(resp, cl));
	assert_string_equal(body, "# HELP iw_test_total A test counter.\n"
				  "# TYPE iw_test_total counter\n"
				  "iw_test_total 1\n");

	/* Query strings are ignored; each scrape fills afresh. */
	static const char getq[] = "GET /metrics?x=1 HTTP/1.0\r\n\r\n";
	request(port, getq, sizeof getq - 1, resp, sizeof resp);
	assert_non_null(strstr(resp, "iw_test_total 2\n"));

	static const char head[] = "HEAD /metrics HTTP/1.1\r\n\r\n";
	request(port, head, sizeof head - 1, resp, sizeof resp);
	assert_memory_equal(resp, "HTTP/1.1 200 OK\r\n", 17);
	assert_memory_equal(resp + strlen(resp) - 4, "\r\n\r\n", 4);

	static const struct {
		const char *req;
		const char *status;
	} rows[] = {
		{ "GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 404 " },
		{ "GET /metricsx HTTP/1.1\r\n\r\n", "HTTP/1.1 404 " },
		{ "GET /metric HTTP/1.1\r\n\r\n", "HTTP/1.1 404 " },
		{ "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 404 " },
		{ "garbage\r\n\r\n", "HTTP/1.1 400 " },
		{ "GET /metrics SPDY/3\r\n\r\n", "HTTP/1.1 400 " },
		{ "\r\n\r\n", "HTTP/1.1 400 " },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		request(port, rows[i].req, strlen(rows[i].req), resp, sizeof resp);
		if (strncmp(resp, rows[i].status, strlen(rows[i].status)) != 0)
			fail_msg("'%s' -> '%.40s'", rows[i].req, resp);
	}

	/* An oversized head gets 431 and the server keeps serving. */
	static char big[IW_METRICS_HTTP_REQ_MAX * 2];
	memset(big, 'a', sizeof big);
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	request(port, big, sizeof big, resp, sizeof resp);
	assert_memory_equal(resp, "HTTP/1.1 431 ", 13);

	/* A client that connects and says nothing is dropped after the read timeout, and the
	 * next client is served. */
	int idle = connect_to(port);
	request(port, get, sizeof get - 1, resp, sizeof resp);
	assert_memory_equal(resp, "HTTP/1.1 200 OK\r\n", 17);
	char c;
	assert_int_equal(recv(idle, &c, 1, 0), 0); /* closed by the server, not by our timeout */
	close(idle);

	struct iw_metrics_http_stats st;
	iw_metrics_http_get_stats(s, &st);
	assert_int_equal(st.scrapes, 4);
	assert_int_equal(st.not_found, 4);
	assert_int_equal(st.bad_requests, 4);
	assert_int_equal(st.timeouts, 1);
	assert_int_equal(st.overflows, 0);
	iw_metrics_http_stop(s);
}

static void test_http_overflow_and_errors(void **state)
{
	(void)state;
	const char *why = NULL;
	struct iw_metrics_http *s = iw_metrics_http_start("127.0.0.1", 0, fill_huge, NULL, &why);
	assert_non_null(s);
	static char resp[4096];
	static const char get[] = "GET /metrics HTTP/1.1\r\n\r\n";
	request(iw_metrics_http_port(s), get, sizeof get - 1, resp, sizeof resp);
	assert_memory_equal(resp, "HTTP/1.1 500 ", 13);
	struct iw_metrics_http_stats st;
	iw_metrics_http_get_stats(s, &st);
	assert_int_equal(st.overflows, 1);

	/* The same port twice: the second start fails with a reason. */
	struct iw_metrics_http *s2 =
		iw_metrics_http_start("127.0.0.1", iw_metrics_http_port(s), fill, NULL, &why);
	assert_null(s2);
	assert_string_equal(why, "address in use");
	iw_metrics_http_stop(s);

	assert_null(iw_metrics_http_start("not-an-ip", 0, fill, NULL, &why));
	assert_string_equal(why, "bad bind address");
	assert_null(iw_metrics_http_start("127.0.0.1:80", 0, fill, NULL, &why));
	assert_null(iw_metrics_http_start("127.0.0.1", 0, NULL, NULL, &why));
	iw_metrics_http_stop(NULL);

	/* IPv6 loopback. */
	s = iw_metrics_http_start("::1", 0, fill, NULL, &why);
	if (s) { /* ::1 may be absent in a container without IPv6 */
		assert_true(iw_metrics_http_port(s) != 0);
		iw_metrics_http_stop(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_writer),
		cmocka_unit_test(test_single_sample_families),
		cmocka_unit_test(test_invalid_names_refused),
		cmocka_unit_test(test_overflow_keeps_whole_lines),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_http_overflow_and_errors),
	};
	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
