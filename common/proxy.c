/* PROXY protocol v1 and v2 reader (HAProxy's proxy-protocol.txt, sections 2.1 and 2.2). */
#include "common/proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "common/bytes.h"

static const uint8_t v2_sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };
static const char v1_sig[] = "PROXY ";

enum {
	V2_CMD_LOCAL = 0x0,
	V2_CMD_PROXY = 0x1,
	V2_AF_UNSPEC = 0x0,
	V2_AF_INET = 0x1,
	V2_AF_INET6 = 0x2,
	V2_AF_UNIX = 0x3,
	V2_LEN_INET = 12,
	V2_LEN_INET6 = 36,
	V2_LEN_UNIX = 216,
	PP2_TYPE_ALPN = 0x01,
	PP2_TYPE_SSL = 0x20,
	PP2_CLIENT_SSL = 0x01,
};

static int fail(int rc, const char **why, const char *reason)
{
	*why = reason;
	return rc;
}

/* ---- version 1: "PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\r\n" ---- */

/* The next space-separated token of [*p, end) into out (NUL-terminated); false when empty,
 * longer than cap - 1, or not followed by sep. */
static bool v1_token(const char **p, const char *end, char sep, char *out, size_t cap)
{
	size_t n = 0;
	while (*p + n < end && (*p)[n] != sep) {
		if (n + 1 >= cap)
			return false;
		out[n] = (*p)[n];
		n++;
	}
	if (n == 0 || *p + n >= end)
		return false;
	out[n] = '\0';
	*p += n + 1;
	return true;
}

static bool v1_port(const char *s, uint16_t *port)
{
	unsigned v = 0;
	size_t n = strlen(s);
	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

static bool v1_addr(const char *s, int family, struct iw_addr *a)
{
	memset(a, 0, sizeof *a);
	if (inet_pton(family, s, a->ip) != 1)
		return false;
	a->family = (uint8_t)family;
	return true;
}

static int parse_v1(const uint8_t *buf, size_t n, struct iw_proxy_hdr *h, const char **why)
{
	const char *s = (const char *)buf, *end, *p;
	char tok[48], sport[8], dport[8];
	int family;

	if (memcmp(buf, v1_sig, n < 6 ? n : 6) != 0)
		return fail(-EPROTO, why, "no PROXY header");
	end = memchr(s, '\n', n < IW_PROXY_V1_MAX ? n : IW_PROXY_V1_MAX);
	if (!end) {
		if (n >= IW_PROXY_V1_MAX)
			return fail(-EINVAL, why, "PROXY v1 header without CRLF in 107 bytes");
		return 0;
	}
	if (end == s || end[-1] != '\r')
		return fail(-EINVAL, why, "PROXY v1 header must end with CRLF");
	end--; /* at '\r': the fields are [s + 6, end) */
	for (p = s + 6; p < end; p++)
		if (*p < 0x20 || *p > 0x7e)
			return fail(-EINVAL, why, "PROXY v1 header: a byte that is not printable ASCII");
	p = s + 6;
	h->version = 1;
	if ((size_t)(end - p) >= 7 && memcmp(p, "UNKNOWN", 7) == 0 && (p + 7 == end || p[7] == ' ')) {
		/* The receiver ignores whatever follows UNKNOWN (section 2.1). */
		h->local = true;
		return (int)(end - s) + 2;
	}
	if (!v1_token(&p, end, ' ', tok, sizeof tok))
		return fail(-EINVAL, why, "PROXY v1 header: protocol missing");
	if (strcmp(tok, "TCP4") == 0)
		family = AF_INET;
	else if (strcmp(tok, "TCP6") == 0)
		family = AF_INET6;
	else
		return fail(-EINVAL, why, "PROXY v1 header: protocol must be TCP4, TCP6 or UNKNOWN");
	if (!v1_token(&p, end, ' ', tok, sizeof tok) || !v1_addr(tok, family, &h->src))
		return fail(-EINVAL, why, "PROXY v1 header: bad source address");
	if (!v1_token(&p, end, ' ', tok, sizeof tok) || !v1_addr(tok, family, &h->dst))
		return fail(-EINVAL, why, "PROXY v1 header: bad destination address");
	if (!v1_token(&p, end, ' ', sport, sizeof sport) || !v1_port(sport, &h->src.port))
		return fail(-EINVAL, why, "PROXY v1 header: bad source port");
	/* The last field runs to the CR. */
	size_t dl = (size_t)(end - p);
	if (dl == 0 || dl >= sizeof dport)
		return fail(-EINVAL, why, "PROXY v1 header: bad destination port");
	memcpy(dport, p, dl);
	dport[dl] = '\0';
	if (!v1_port(dport, &h->dst.port))
		return fail(-EINVAL, why, "PROXY v1 header: bad destination port");
	return (int)(end - s) + 2;
}

/* ---- version 2: binary ---- */

static void v2_addr(struct iw_rd *r, int family, struct iw_addr *src, struct iw_addr *dst)
{
	size_t alen = family == AF_INET ? 4 : 16;
	memset(src, 0, sizeof *src);
	memset(dst, 0, sizeof *dst);
	src->family = dst->family = (uint8_t)family;
	memcpy(src->ip, r->p, alen);
	memcpy(dst->ip, r->p + alen, alen);
	r->p += 2 * alen;
	iw_rd_u16(r, &src->port);
	iw_rd_u16(r, &dst->port);
}

static int v2_tlvs(struct iw_rd *r, struct iw_proxy_hdr *h, const char **why)
{
	while (iw_rd_left(r) > 0) {
		uint8_t type;
		uint16_t len;
		struct iw_rd v;
		if (!iw_rd_u8(r, &type) || !iw_rd_u16(r, &len) || !iw_rd_take(r, len, &v))
			return fail(-EINVAL, why, "PROXY v2 header: a TLV runs past the header");
		if (type == PP2_TYPE_ALPN) {
			if (len == 0 || len > IW_PROXY_ALPN_MAX)
				return fail(-EINVAL, why, "PROXY v2 header: ALPN TLV of a bad length");
			memcpy(h->alpn, v.p, len);
			h->alpn[len] = '\0';
			h->alpn_len = (uint8_t)len;
		} else if (type == PP2_TYPE_SSL) {
			uint8_t client;
			if (iw_rd_left(&v) < 5 || !iw_rd_u8(&v, &client))
				return fail(-EINVAL, why, "PROXY v2 header: SSL TLV too short");
			h->tls = (client & PP2_CLIENT_SSL) != 0;
		}
		/* Other TLVs (authority, CRC32C, unique id, netns, ...) are not needed here. */
	}
	return 0;
}

static int parse_v2(const uint8_t *buf, size_t n, struct iw_proxy_hdr *h, const char **why)
{
	uint8_t ver_cmd, fam;
	uint16_t len;
	size_t need;
	struct iw_rd r;

	if (memcmp(buf, v2_sig, n < sizeof v2_sig ? n : sizeof v2_sig) != 0)
		return fail(-EPROTO, why, "no PROXY header");
	if (n < IW_PROXY_V2_FIXED)
		return 0;
	ver_cmd = buf[12];
	fam = buf[13];
	len = iw_be16(buf + 14);
	if (ver_cmd >> 4 != 2)
		return fail(-EINVAL, why, "PROXY v2 header: version must be 2");
	if ((ver_cmd & 0xf) != V2_CMD_LOCAL && (ver_cmd & 0xf) != V2_CMD_PROXY)
		return fail(-EINVAL, why, "PROXY v2 header: command must be LOCAL or PROXY");
	if (fam >> 4 > V2_AF_UNIX || (fam & 0xf) > 2)
		return fail(-EINVAL, why, "PROXY v2 header: unknown address family or protocol");
	need = IW_PROXY_V2_FIXED + (size_t)len;
	if (need > IW_PROXY_V2_MAX)
		return fail(-EINVAL, why, "PROXY v2 header longer than this server reads");
	if (n < need)
		return 0;
	h->version = 2;
	h->dgram = (fam & 0xf) == 2;
	r = (struct iw_rd){ buf + IW_PROXY_V2_FIXED, buf + need };
	switch (fam >> 4) {
	case V2_AF_INET:
		if (len < V2_LEN_INET)
			return fail(-EINVAL, why, "PROXY v2 header: IPv4 addresses cut short");
		v2_addr(&r, AF_INET, &h->src, &h->dst);
		break;
	case V2_AF_INET6:
		if (len < V2_LEN_INET6)
			return fail(-EINVAL, why, "PROXY v2 header: IPv6 addresses cut short");
		v2_addr(&r, AF_INET6, &h->src, &h->dst);
		break;
	case V2_AF_UNIX:
		if (len < V2_LEN_UNIX)
			return fail(-EINVAL, why, "PROXY v2 header: unix addresses cut short");
		iw_rd_skip(&r, V2_LEN_UNIX);
		h->local = true;
		break;
	default:
		h->local = true; /* UNSPEC: "the receiver should ignore address information" */
		break;
	}
	/* LOCAL: the proxy speaks for itself (a health check); its addresses are not a client's. */
	if ((ver_cmd & 0xf) == V2_CMD_LOCAL) {
		h->local = true;
		memset(&h->src, 0, sizeof h->src);
		memset(&h->dst, 0, sizeof h->dst);
	}
	if (v2_tlvs(&r, h, why) < 0)
		return -EINVAL;
	return (int)need;
}

bool iw_proxy_trusted(const struct iw_cidr *ranges, unsigned n, const struct iw_addr *a)
{
	struct iw_addr v4;
	iw_addr_normalize(a, &v4); /* an IPv4 client on a dual-stack socket is ::ffff:a.b.c.d */
	for (unsigned i = 0; i < n; i++)
		if (iw_cidr_contains(&ranges[i], &v4) || iw_cidr_contains(&ranges[i], a))
			return true;
	return false;
}

int iw_proxy_parse(const uint8_t *buf, size_t n, struct iw_proxy_hdr *h, const char **why)
{
	memset(h, 0, sizeof *h);
	if (n == 0)
		return 0;
	if (buf[0] == v1_sig[0])
		return parse_v1(buf, n, h, why);
	if (buf[0] == v2_sig[0])
		return parse_v2(buf, n, h, why);
	return fail(-EPROTO, why, "no PROXY header");
}
