/* HTTP/1.1 request heads (RFC 9112 §2-§5), query strings and percent-encoding (RFC 3986), for
 * the local metrics and admin listeners and the admin client. Strict: whatever RFC 9112 lets a
 * server refuse is refused, so the handlers see only plain requests. */
#include "common/http.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "common/bytes.h"

/* RFC 9110 §5.6.2: tchar. */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c);
}

/* RFC 9110 §5.5: field-value characters (VCHAR, obs-text, SP, HTAB). */
static bool is_field_char(unsigned char c)
{
	return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

/* The end of the line starting at p (the LF), or NULL; a CR is allowed only before LF. */
static const char *line_end(const char *p, const char *end, const char **next)
{
	const char *lf = memchr(p, '\n', (size_t)(end - p));
	if (!lf)
		return NULL;
	*next = lf + 1;
	return lf > p && lf[-1] == '\r' ? lf - 1 : lf;
}

static int request_line(struct iw_http_req *r, const char *p, const char *e, const char **why)
{
	const char *sp = p;
	while (sp < e && is_tchar((unsigned char)*sp))
		sp++;
	if (sp == p || sp == e || *sp != ' ') {
		*why = "malformed request line";
		return 400;
	}
	if ((size_t)(sp - p) >= sizeof r->method) {
		*why = "method not implemented";
		return 501;
	}
	memcpy(r->method, p, (size_t)(sp - p));
	r->method[sp - p] = '\0';
	const char *t = sp + 1, *te = t;
	while (te<e && * te> 0x20 && *te < 0x7f)
		te++;
	if (te == t || te == e || *te != ' ') {
		*why = "malformed request target";
		return 400;
	}
	if ((size_t)(te - t) > IW_HTTP_TARGET_MAX) {
		*why = "request target too long";
		return 414;
	}
	/* RFC 9112 §3.2: only origin-form here (no proxy, no OPTIONS *). */
	if (*t != '/') {
		*why = "request target must start with '/'";
		return 400;
	}
	const char *v = te + 1;
	size_t vlen = (size_t)(e - v);
	if (memchr(v, ' ', vlen)) {
		*why = "malformed request line";
		return 400;
	}
	if (vlen == 8 && (!memcmp(v, "HTTP/1.1", 8) || !memcmp(v, "HTTP/1.0", 8))) {
		const char *q = memchr(t, '?', (size_t)(te - t));
		r->path = t;
		r->path_len = (size_t)((q ? q : te) - t);
		r->query = q ? q + 1 : NULL;
		r->query_len = q ? (size_t)(te - q - 1) : 0;
		return 0;
	}
	if (vlen >= 5 && !memcmp(v, "HTTP/", 5)) {
		*why = "HTTP version not supported";
		return 505;
	}
	*why = "malformed HTTP version";
	return 400;
}

static int header(struct iw_http_req *r, const char *p, const char *e, bool *have_cl, const char **why)
{
	const char *c = p;
	while (c < e && is_tchar((unsigned char)*c))
		c++;
	/* RFC 9112 §5.1: no whitespace between the field name and the colon. */
	if (c == p || c == e || *c != ':') {
		*why = "malformed header line";
		return 400;
	}
	size_t nlen = (size_t)(c - p);
	const char *v = c + 1, *ve = e;
	for (const char *x = v; x < e; x++)
		if (!is_field_char((unsigned char)*x)) {
			*why = "bad byte in a header value";
			return 400;
		}
	while (v < ve && (*v == ' ' || *v == '\t'))
		v++;
	while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
		ve--;
	if (nlen == 13 && !strncasecmp(p, "Authorization", 13)) {
		if (r->auth) {
			*why = "repeated Authorization";
			return 400;
		}
		r->auth = v;
		r->auth_len = (size_t)(ve - v);
	} else if (nlen == 14 && !strncasecmp(p, "Content-Length", 14)) {
		size_t n = 0;
		if (*have_cl || v == ve) {
			*why = "repeated or empty Content-Length";
			return 400;
		}
		for (const char *x = v; x < ve; x++) {
			if (*x < '0' || *x > '9' || n > SIZE_MAX / 100) {
				*why = "bad Content-Length";
				return 400;
			}
			n = n * 10 + (size_t)(*x - '0');
		}
		*have_cl = true;
		r->content_length = n;
	} else if (nlen == 17 && !strncasecmp(p, "Transfer-Encoding", 17)) {
		/* RFC 9112 §6.1: no endpoint here takes a body, chunked or otherwise. */
		*why = "Transfer-Encoding not supported";
		return 501;
	}
	return 0;
}

int iw_http_req_parse(struct iw_http_req *r, const char *buf, size_t len, const char **why)
{
	const char *end = buf + len, *next;
	bool have_cl = false;
	unsigned n_headers = 0;

	memset(r, 0, sizeof *r);
	const char *e = line_end(buf, end, &next);
	if (!e || memchr(buf, '\r', (size_t)(e - buf)) || memchr(buf, '\0', (size_t)(e - buf))) {
		*why = "malformed request line";
		return 400;
	}
	int rc = request_line(r, buf, e, why);
	if (rc)
		return rc;
	for (;;) {
		const char *p = next;
		e = line_end(p, end, &next);
		if (!e) {
			*why = "request head not terminated";
			return 400;
		}
		if (e == p)
			return 0; /* the empty line: end of the head */
		if (memchr(p, '\r', (size_t)(e - p)) || memchr(p, '\0', (size_t)(e - p))) {
			*why = "bare CR or NUL in a header";
			return 400;
		}
		/* RFC 9112 §5.2: obs-fold is refused. */
		if (*p == ' ' || *p == '\t') {
			*why = "folded header line";
			return 400;
		}
		if (++n_headers > IW_HTTP_HEADERS_MAX) {
			*why = "too many header lines";
			return 431;
		}
		rc = header(r, p, e, &have_cl, why);
		if (rc)
			return rc;
	}
}

const char *iw_http_reason(int status)
{
	static const struct {
		int code;
		const char *text;
	} t[] = {
		{ 200, "OK" },
		{ 400, "Bad Request" },
		{ 401, "Unauthorized" },
		{ 403, "Forbidden" },
		{ 404, "Not Found" },
		{ 405, "Method Not Allowed" },
		{ 408, "Request Timeout" },
		{ 409, "Conflict" },
		{ 411, "Length Required" },
		{ 413, "Content Too Large" },
		{ 414, "URI Too Long" },
		{ 429, "Too Many Requests" },
		{ 431, "Request Header Fields Too Large" },
		{ 500, "Internal Server Error" },
		{ 501, "Not Implemented" },
		{ 503, "Service Unavailable" },
		{ 504, "Gateway Timeout" },
		{ 505, "HTTP Version Not Supported" },
		{ 507, "Insufficient Storage" },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (t[i].code == status)
			return t[i].text;
	return "Unknown";
}

int iw_http_pct_decode(const char *s, size_t len, char *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			int hi = i + 2 < len ? iw_hexval(s[i + 1]) : -1;
			int lo = i + 2 < len ? iw_hexval(s[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return -1;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		/* No control characters: a decoded name goes into logs and JSON. */
		if (c < 0x20 || c == 0x7f)
			return -1;
		if (n + 1 >= cap)
			return -1;
		out[n++] = (char)c;
	}
	if (cap == 0)
		return -1;
	out[n] = '\0';
	return (int)n;
}

int iw_http_pct_encode(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			     c == '-' || c == '.' || c == '_' || c == '~';
		if (n + (plain ? 1 : 3) >= cap)
			return -1;
		if (plain) {
			out[n++] = (char)c;
		} else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	if (cap == 0)
		return -1;
	out[n] = '\0';
	return (int)n;
}

/* Walk the parameters: each call gives the next name and value span; false at the end. */
static bool next_param(const char **p, const char *end, const char **name, size_t *nlen, const char **val,
		       size_t *vlen, bool *has_eq)
{
	if (*p >= end)
		return false;
	const char *amp = memchr(*p, '&', (size_t)(end - *p));
	const char *pe = amp ? amp : end;
	const char *eq = memchr(*p, '=', (size_t)(pe - *p));
	*name = *p;
	*nlen = (size_t)((eq ? eq : pe) - *p);
	*val = eq ? eq + 1 : pe;
	*vlen = (size_t)(pe - *val);
	*has_eq = eq != NULL;
	*p = amp ? amp + 1 : end;
	return true;
}

int iw_http_query_get(const char *q, size_t qlen, const char *name, char *out, size_t cap)
{
	const char *p = q, *end = q ? q + qlen : NULL, *n, *v;
	size_t nlen, vlen, want = strlen(name);
	bool has_eq;
	int found = -ENOENT;
	if (!q)
		return -ENOENT;
	while (next_param(&p, end, &n, &nlen, &v, &vlen, &has_eq)) {
		if (nlen != want || memcmp(n, name, nlen))
			continue;
		if (found != -ENOENT || !has_eq)
			return -EINVAL;
		found = iw_http_pct_decode(v, vlen, out, cap);
		if (found < 0)
			return -EINVAL;
	}
	return found;
}

bool iw_http_query_only(const char *q, size_t qlen, const char *const *names)
{
	const char *p = q, *end = q ? q + qlen : NULL, *n, *v;
	size_t nlen, vlen;
	bool has_eq;
	if (!q)
		return true;
	while (next_param(&p, end, &n, &nlen, &v, &vlen, &has_eq)) {
		bool known = false;
		for (const char *const *k = names; *k && !known; k++)
			known = strlen(*k) == nlen && !memcmp(*k, n, nlen);
		if (!known || !has_eq)
			return false;
	}
	return true;
}
