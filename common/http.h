/* A small, strict HTTP/1.1 request-head parser (RFC 9112) and the URL pieces both processes'
 * local HTTP listeners and the admin client need: query parameters, percent-encoding. For the
 * metrics and admin listeners only, never a packet path. Views point into the caller's buffer. */
#ifndef IW_COMMON_HTTP_H
#define IW_COMMON_HTTP_H

#include <stdbool.h>
#include <stddef.h>

enum {
	IW_HTTP_TARGET_MAX = 2048, /* longer request-targets: 414 */
	IW_HTTP_HEADERS_MAX = 32,  /* more header lines: 431 */
};

/* A parsed request head. */
struct iw_http_req {
	char method[8];   /* "GET", "POST", ... (a token of at most 7 characters) */
	const char *path; /* from '/', up to '?' or the end of the target; not decoded */
	size_t path_len;
	const char *query; /* after '?' (not decoded), NULL when the target has none */
	size_t query_len;
	const char *auth; /* the Authorization header's value, NULL when absent */
	size_t auth_len;
	size_t content_length; /* 0 when absent */
};

/*
 * Parse the head in buf[0..len) (up to and including the empty line). Returns 0, or an HTTP
 * status to answer with (400, 411, 414, 431, 501, 505) and *why: a malformed request line or
 * header, an absolute or asterisk target, a repeated Authorization or Content-Length,
 * Transfer-Encoding (no endpoint takes a body), obs-fold, bytes that are not allowed.
 */
int iw_http_req_parse(struct iw_http_req *r, const char *buf, size_t len, const char **why);

/* The standard reason phrase of status ("Not Found"), "Unknown" for one not listed. */
const char *iw_http_reason(int status);

/*
 * Percent-decode s[0..len) into out (NUL-terminated; '+' stays '+'). Returns the decoded
 * length, or -1 for a bad escape, an encoded NUL or control character, or more than cap - 1
 * bytes.
 */
int iw_http_pct_decode(const char *s, size_t len, char *out, size_t cap);

/* Percent-encode s so it can be a path segment or a query value (RFC 3986 unreserved
 * characters stay). Returns the length, or -1 when out (cap bytes, NUL included) is short. */
int iw_http_pct_encode(const char *s, char *out, size_t cap);

/*
 * Find parameter name in a query string ("a=1&b=2") and percent-decode its value into out.
 * Returns the value's length, -ENOENT when absent, -EINVAL when malformed or given twice.
 */
int iw_http_query_get(const char *q, size_t qlen, const char *name, char *out, size_t cap);

/* True if every parameter of the query is one of names (a NULL-terminated list), each
 * written as name=value. */
bool iw_http_query_only(const char *q, size_t qlen, const char *const *names);

#endif
