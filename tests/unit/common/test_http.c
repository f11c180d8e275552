/* Unit tests for common/http.c: request heads (RFC 9112), query strings and percent-encoding. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/http.h"

static int parse(struct iw_http_req *r, const char *s)
{
	const char *why = NULL;
	int rc = iw_http_req_parse(r, s, strlen(s), &why);
	if (rc)
		assert_non_null(why);
	return rc;
}

static void test_request_ok(void **state)
{
	(void)state;
	struct iw_http_req r;
	static const char h[] = "DELETE /admin/sessions?user=bob HTTP/1.1\r\nHost: x\r\n"
				"authorization:   Bearer abc  \r\nContent-Length: 0\r\n\r\n";
	assert_int_equal(parse(&r, h), 0);
	assert_string_equal(r.method, "DELETE");
	assert_int_equal(r.path_len, strlen("/admin/sessions"));
	assert_memory_equal(r.path, "/admin/sessions", r.path_len);
	assert_int_equal(r.query_len, strlen("user=bob"));
	assert_memory_equal(r.query, "user=bob", r.query_len);
	assert_int_equal(r.auth_len, strlen("Bearer abc"));
	assert_memory_equal(r.auth, "Bearer abc", r.auth_len);
	assert_int_equal(r.content_length, 0);

	/* RFC 9112 §2.2: a bare LF ends a line too. */
	assert_int_equal(parse(&r, "GET /metrics HTTP/1.0\n\n"), 0);
	assert_null(r.query);
	assert_null(r.auth);
	assert_int_equal(parse(&r, "GET /x? HTTP/1.1\r\n\r\n"), 0);
	assert_non_null(r.query);
	assert_int_equal(r.query_len, 0);
}

static void test_request_bad(void **state)
{
	(void)state;
	static const struct {
		const char *name, *head;
		int status;
	} bad[] = {
		{ "empty", "", 400 },
		{ "no end of head", "GET / HTTP/1.1\r\nHost: x\r\n", 400 },
		{ "no target", "GET HTTP/1.1\r\n\r\n", 400 },
		{ "two spaces", "GET  / HTTP/1.1\r\n\r\n", 400 },
		{ "fourth field", "GET / HTTP/1.1 x\r\n\r\n", 400 },
		{ "absolute form", "GET http://a/ HTTP/1.1\r\n\r\n", 400 },
		{ "asterisk form", "OPTIONS * HTTP/1.1\r\n\r\n", 400 },
		{ "long method", "PROPPATCH / HTTP/1.1\r\n\r\n", 501 },
		{ "HTTP/2", "GET / HTTP/2.0\r\n\r\n", 505 },
		{ "not HTTP", "GET / FTP/1.0\r\n\r\n", 400 },
		{ "bare CR in the request line", "GET /\r HTTP/1.1\r\n\r\n", 400 },
		{ "folded", "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", 400 },
		{ "space before colon", "GET / HTTP/1.1\r\nA : b\r\n\r\n", 400 },
		{ "no colon", "GET / HTTP/1.1\r\nAb\r\n\r\n", 400 },
		{ "control byte", "GET / HTTP/1.1\r\nA: \x01\r\n\r\n", 400 },
		{ "two Authorization", "GET / HTTP/1.1\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n",
		  400 },
		{ "two Content-Length", "GET / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
		  400 },
		{ "Content-Length sign", "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400 },
		{ "Content-Length overflow",
		  "GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400 },
		{ "Transfer-Encoding", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501 },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct iw_http_req r;
		int rc = parse(&r, bad[i].head);
		if (rc != bad[i].status)
			fail_msg("%s: %d, expected %d", bad[i].name, rc, bad[i].status);
	}
}

static void test_request_bounds(void **state)
{
	(void)state;
	struct iw_http_req r;
	char buf[IW_HTTP_TARGET_MAX + 64];
	/* A target of exactly the maximum passes; one byte more is 414. */
	for (int extra = 0; extra <= 1; extra++) {
		size_t n = 0;
		n += (size_t)sprintf(buf, "GET /");
		memset(buf + n, 'a', IW_HTTP_TARGET_MAX - 1 + (size_t)extra);
		n += IW_HTTP_TARGET_MAX - 1 + (size_t)extra;
		n += (size_t)sprintf(buf + n, " HTTP/1.1\r\n\r\n");
		assert_int_equal(parse(&r, buf), extra ? 414 : 0);
	}
	char many[64 * (IW_HTTP_HEADERS_MAX + 2)];
	size_t n = (size_t)sprintf(many, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < IW_HTTP_HEADERS_MAX + 1; i++)
		n += (size_t)sprintf(many + n, "X-%d: y\r\n", i);
	sprintf(many + n, "\r\n");
	assert_int_equal(parse(&r, many), 431);
}

static void test_pct(void **state)
{
	(void)state;
	char out[16];
	assert_int_equal(iw_http_pct_decode("a%2Fb+c%7e", 10, out, sizeof out), 6);
	assert_string_equal(out, "a/b+c~");
	assert_int_equal(iw_http_pct_decode("%zz", 3, out, sizeof out), -1);
	assert_int_equal(iw_http_pct_decode("%4", 2, out, sizeof out), -1);
	assert_int_equal(iw_http_pct_decode("%", 1, out, sizeof out), -1);
	assert_int_equal(iw_http_pct_decode("a%00", 4, out, sizeof out), -1);
	assert_int_equal(iw_http_pct_decode("a%0A", 4, out, sizeof out), -1);
	assert_int_equal(iw_http_pct_decode("0123456789abcdef", 16, out, sizeof out), -1);
	assert_int_equal(iw_http_pct_decode("0123456789abcde", 15, out, sizeof out), 15);
	char wide[17];
	assert_int_equal(iw_http_pct_encode("a b/c~é", wide, sizeof wide), 16);
	assert_string_equal(wide, "a%20b%2Fc~%C3%A9");
	assert_int_equal(iw_http_pct_encode("a b/c~é", out, sizeof out), -1);
	assert_int_equal(iw_http_pct_encode("0123456789abcdef", out, sizeof out), -1);
	char back[16];
	assert_int_equal(iw_http_pct_encode("x:y@z", out, sizeof out), 9);
	assert_int_equal(iw_http_pct_decode(out, strlen(out), back, sizeof back), 5);
	assert_string_equal(back, "x:y@z");
}

static void test_query(void **state)
{
	(void)state;
	static const char q[] = "user=bob%20x&client=127.0.0.1&flag=";
	static const char *const known[] = { "user", "client", "flag", NULL };
	static const char *const some[] = { "user", NULL };
	char v[32];
	assert_int_equal(iw_http_query_get(q, strlen(q), "user", v, sizeof v), 5);
	assert_string_equal(v, "bob x");
	assert_int_equal(iw_http_query_get(q, strlen(q), "client", v, sizeof v), 9);
	assert_int_equal(iw_http_query_get(q, strlen(q), "flag", v, sizeof v), 0);
	assert_int_equal(iw_http_query_get(q, strlen(q), "use", v, sizeof v), -ENOENT);
	assert_int_equal(iw_http_query_get(NULL, 0, "user", v, sizeof v), -ENOENT);
	assert_int_equal(iw_http_query_get("user=a&user=b", 13, "user", v, sizeof v), -EINVAL);
	assert_int_equal(iw_http_query_get("user", 4, "user", v, sizeof v), -EINVAL);
	assert_int_equal(iw_http_query_get("user=%zz", 8, "user", v, sizeof v), -EINVAL);
	assert_true(iw_http_query_only(q, strlen(q), known));
	assert_false(iw_http_query_only(q, strlen(q), some));
	assert_false(iw_http_query_only("user", 4, some));
	assert_true(iw_http_query_only(NULL, 0, some));
	assert_true(iw_http_query_only("", 0, some));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_ok),     cmocka_unit_test(test_request_bad),
		cmocka_unit_test(test_request_bounds), cmocka_unit_test(test_pct),
		cmocka_unit_test(test_query),
	};
	return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
