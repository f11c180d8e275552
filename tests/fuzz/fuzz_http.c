/* HTTP request heads, queries and percent-decoding (common/http.c). Invariants: an answer of 0
 * or one of the statuses the contract names, with a reason when not 0; every view lies inside
 * the input; the path starts with '/', holds no '?' and no byte below 0x21; the method is a
 * short token; a decoded query value fits its buffer, holds no control byte, and encodes and
 * decodes back to itself. */
#include <errno.h>
#include <string.h>

#include "common/http.h"
#include "tests/fuzz/fuzz.h"

static void check_view(const char *p, size_t len, const char *in, size_t size)
{
	FUZZ_CHECK(p >= in && p + len <= in + size);
}

static void check_value(const char *q, size_t qlen, const char *name)
{
	char v[64], enc[3 * sizeof v], back[sizeof v];
	int n = iw_http_query_get(q, qlen, name, v, sizeof v);
	if (n < 0) {
		FUZZ_CHECK(n == -ENOENT || n == -EINVAL);
		return;
	}
	FUZZ_CHECK((size_t)n < sizeof v && strlen(v) == (size_t)n);
	for (int i = 0; i < n; i++)
		FUZZ_CHECK((unsigned char)v[i] >= 0x20 && v[i] != 0x7f);
	int e = iw_http_pct_encode(v, enc, sizeof enc);
	FUZZ_CHECK(e >= n);
	FUZZ_CHECK(iw_http_pct_decode(enc, (size_t)e, back, sizeof back) == n);
	FUZZ_CHECK(memcmp(v, back, (size_t)n + 1) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data, *why = NULL;
	struct iw_http_req r;
	int rc = iw_http_req_parse(&r, in, size, &why);
	if (rc) {
		FUZZ_CHECK(rc == 400 || rc == 414 || rc == 431 || rc == 501 || rc == 505);
		FUZZ_CHECK(why && why[0]);
		return 0;
	}
	size_t ml = strlen(r.method);
	FUZZ_CHECK(ml > 0 && ml < sizeof r.method);
	check_view(r.path, r.path_len, in, size);
	FUZZ_CHECK(r.path_len >= 1 && r.path[0] == '/' && r.path_len <= IW_HTTP_TARGET_MAX);
	FUZZ_CHECK(!memchr(r.path, '?', r.path_len));
	for (size_t i = 0; i < r.path_len; i++)
		FUZZ_CHECK(r.path[i] > 0x20 && r.path[i] < 0x7f);
	if (r.query) {
		check_view(r.query, r.query_len, in, size);
		FUZZ_CHECK(r.query == r.path + r.path_len + 1);
		check_value(r.query, r.query_len, "user");
		check_value(r.query, r.query_len, "client");
	}
	if (r.auth)
		check_view(r.auth, r.auth_len, in, size);
	return 0;
}
