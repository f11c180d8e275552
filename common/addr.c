/* Transport addresses: sockaddr conversion, text form, keyed hash, CIDR ranges and the
 * RFC 6890 special-range classification behind the relay's peer policy. No I/O. */
#include "common/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

int iw_addr_from_sa(struct iw_addr *a, const struct sockaddr *sa)
{
	memset(a, 0, sizeof *a);
	if (!sa)
		return -EAFNOSUPPORT;
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in sin;
		memcpy(&sin, sa, sizeof sin); /* sa may be a less aligned sockaddr */
		memcpy(a->ip, &sin.sin_addr, 4);
		a->port = ntohs(sin.sin_port);
		a->family = AF_INET;
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 sin6;
		memcpy(&sin6, sa, sizeof sin6);
		memcpy(a->ip, &sin6.sin6_addr, 16);
		a->port = ntohs(sin6.sin6_port);
		a->family = AF_INET6;
		return 0;
	}
	return -EAFNOSUPPORT;
}

socklen_t iw_addr_to_sa(const struct iw_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(a->port);
		memcpy(&sin->sin_addr, a->ip, 4);
		return sizeof *sin;
	}
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(a->port);
		memcpy(&sin6->sin6_addr, a->ip, 16);
		return sizeof *sin6;
	}
	return 0;
}

/* Decimal 0-65535, digits only. */
static int parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > 65535)
			return -EINVAL;
	}
	*port = (uint16_t)v;
	return 0;
}

/* An address without port into a; the text is at most one IPv6 literal. */
static int parse_ip(struct iw_addr *a, const char *s, size_t len, bool v6_only)
{
	char tmp[INET6_ADDRSTRLEN];

	if (len == 0 || len >= sizeof tmp)
		return -EINVAL;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (!v6_only && inet_pton(AF_INET, tmp, a->ip) == 1) {
		a->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, tmp, a->ip) == 1) {
		a->family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

int iw_addr_parse(struct iw_addr *a, const char *s)
{
	struct iw_addr r = { 0 };
	const char *colon;

	if (!s)
		return -EINVAL;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || parse_ip(&r, s + 1, (size_t)(close - s - 1), true) < 0)
			return -EINVAL;
		if (close[1] == ':') {
			if (parse_port(close + 2, &r.port) < 0)
				return -EINVAL;
		} else if (close[1] != '\0') {
			return -EINVAL;
		}
	} else if ((colon = strchr(s, ':')) && !strchr(colon + 1, ':')) {
		/* Exactly one ':' means IPv4 with a port. */
		if (parse_ip(&r, s, (size_t)(colon - s), false) < 0 || r.family != AF_INET ||
		    parse_port(colon + 1, &r.port) < 0)
			return -EINVAL;
	} else if (parse_ip(&r, s, strlen(s), false) < 0) {
		return -EINVAL;
	}
	*a = r;
	return 0;
}

const char *iw_addr_fmt(const struct iw_addr *a, bool with_port, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];

	if (!buf || cap == 0)
		return "";
	if (a->family != AF_INET && a->family != AF_INET6) {
		snprintf(buf, cap, "(none)");
		return buf;
	}
	inet_ntop(a->family, a->ip, ip, sizeof ip);
	if (!with_port)
		snprintf(buf, cap, "%s", ip);
	else if (a->family == AF_INET)
		snprintf(buf, cap, "%s:%u", ip, (unsigned)a->port);
	else
		snprintf(buf, cap, "[%s]:%u", ip, (unsigned)a->port);
	return buf;
}

static size_t ip_len(const struct iw_addr *a)
{
	return a->family == AF_INET ? 4 : 16;
}

bool iw_addr_ip_eq(const struct iw_addr *a, const struct iw_addr *b)
{
	return a->family == b->family && memcmp(a->ip, b->ip, ip_len(a)) == 0;
}

bool iw_addr_eq(const struct iw_addr *a, const struct iw_addr *b)
{
	return a->port == b->port && iw_addr_ip_eq(a, b);
}

static uint32_t rotl32(uint32_t x, int r)
{
	return x << r | x >> (32 - r);
}

static uint32_t mix_word(uint32_t h, uint32_t k)
{
	k *= 0xcc9e2d51u;
	k = rotl32(k, 15);
	k *= 0x1b873593u;
	h ^= k;
	h = rotl32(h, 13);
	return h * 5 + 0xe6546b64u;
}

uint32_t iw_addr_hash(const struct iw_addr *a, uint32_t seed)
{
	/* MurmurHash3 (x86_32) over ip, port and family: fast, well mixed, seeded per table. */
	uint32_t h = seed;

	for (int i = 0; i < 16; i += 4)
		h = mix_word(h, (uint32_t)a->ip[i] | (uint32_t)a->ip[i + 1] << 8 |
					(uint32_t)a->ip[i + 2] << 16 | (uint32_t)a->ip[i + 3] << 24);
	h = mix_word(h, (uint32_t)a->port | (uint32_t)a->family << 16);
	h ^= 20;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

bool iw_addr_is_any(const struct iw_addr *a)
{
	static const uint8_t zero[16];

	if (a->family != AF_INET && a->family != AF_INET6)
		return false;
	return memcmp(a->ip, zero, ip_len(a)) == 0;
}

/* The first `bits` bits of x and y agree. */
static bool prefix_match(const uint8_t *x, const uint8_t *y, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(x, y, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff00u >> rest);
	return ((x[whole] ^ y[whole]) & mask) == 0;
}

int iw_cidr_parse(struct iw_cidr *c, const char *s)
{
	struct iw_cidr r = { 0 };
	const char *slash;
	unsigned long prefix;

	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	if (parse_ip(&r.base, s, slash ? (size_t)(slash - s) : strlen(s), false) < 0)
		return -EINVAL;
	unsigned max = r.base.family == AF_INET ? 32 : 128;
	if (!slash) {
		prefix = max;
	} else {
		const char *p = slash + 1;
		if (!*p || strlen(p) > 3)
			return -EINVAL;
		prefix = 0;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				return -EINVAL;
			prefix = prefix * 10 + (unsigned long)(*p - '0');
		}
		if (prefix > max)
			return -EINVAL;
	}
	r.prefix = (uint8_t)prefix;
	/* Clear host bits so that "10.1.2.3/8" means 10.0.0.0/8. */
	for (unsigned i = 0; i < 16; i++) {
		unsigned lo = i * 8;
		if (lo >= prefix)
			r.base.ip[i] = 0;
		else if (lo + 8 > prefix)
			r.base.ip[i] &= (uint8_t)(0xff00u >> (prefix - lo));
	}
	*c = r;
	return 0;
}

bool iw_cidr_contains(const struct iw_cidr *c, const struct iw_addr *a)
{
	return a->family == c->base.family && prefix_match(a->ip, c->base.ip, c->prefix);
}

/* Embedded-IPv4 forms, most specific first. */
static const uint8_t pfx_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
static const uint8_t pfx_nat64[12] = { 0, 0x64, 0xff, 0x9b };            /* 64:ff9b::/96 */
static const uint8_t pfx_nat64_local[6] = { 0, 0x64, 0xff, 0x9b, 0, 1 }; /* 64:ff9b:1::/48 */
static const uint8_t pfx_6to4[2] = { 0x20, 0x02 };                       /* 2002::/16 */
static const uint8_t pfx_teredo[4] = { 0x20, 0x01, 0, 0 };               /* 2001::/32 */
static const uint8_t zero16[16];

static void set_v4(struct iw_addr *out, const struct iw_addr *a, const uint8_t *v4, uint8_t x)
{
	memset(out, 0, sizeof *out);
	out->family = AF_INET;
	out->port = a->port;
	for (int i = 0; i < 4; i++)
		out->ip[i] = v4[i] ^ x;
}

bool iw_addr_normalize(const struct iw_addr *a, struct iw_addr *out)
{
	const uint8_t *ip = a->ip;

	if (a->family != AF_INET6)
		goto same;
	if (memcmp(ip, pfx_mapped, 12) == 0) {
		set_v4(out, a, ip + 12, 0);
		return true;
	}
	if (memcmp(ip, zero16, 12) == 0) {
		/* IPv4-compatible ::a.b.c.d (RFC 4291 §2.5.5.1), but :: and ::1 are themselves. */
		if (memcmp(ip + 12, zero16, 3) == 0 && ip[15] <= 1)
			goto same;
		set_v4(out, a, ip + 12, 0);
		return true;
	}
	if (memcmp(ip, pfx_nat64, 12) == 0) {
		set_v4(out, a, ip + 12, 0); /* RFC 6052 §2.2, /96 */
		return true;
	}
	if (memcmp(ip, pfx_nat64_local, 6) == 0) {
		/* RFC 8215 local-use prefix. With the RFC 6052 /48 layout the address sits in bytes
		 * 6-7 and 9-10 around the zero u-octet and the suffix is zero; a /96 carved out of
		 * the /48 puts it in the last four bytes. */
		if (ip[8] == 0 && memcmp(ip + 11, zero16, 5) == 0) {
			uint8_t v4[4] = { ip[6], ip[7], ip[9], ip[10] };
			set_v4(out, a, v4, 0);
		} else {
			set_v4(out, a, ip + 12, 0);
		}
		return true;
	}
	if (memcmp(ip, pfx_6to4, 2) == 0) {
		set_v4(out, a, ip + 2, 0); /* RFC 3056 §2: 2002:V4ADDR::/48 */
		return true;
	}
	if (memcmp(ip, pfx_teredo, 4) == 0) {
		set_v4(out, a, ip + 12, 0xff); /* RFC 4380 §4: client address, all bits inverted */
		return true;
	}
same:
	*out = *a;
	return false;
}

struct range {
	uint8_t ip[16];
	uint8_t prefix;
	uint8_t cls;
	const char *text;
};

/* RFC 6890 §2.2.2 and later registry entries. Documentation ranges are left out on purpose. */
static const struct range v4_ranges[] = {
	{ { 255, 255, 255, 255 }, 32, IW_ADDR_BROADCAST, "255.255.255.255/32" },
	{ { 0 }, 8, IW_ADDR_UNSPECIFIED, "0.0.0.0/8" },
	{ { 10 }, 8, IW_ADDR_PRIVATE, "10.0.0.0/8" },
	{ { 100, 64 }, 10, IW_ADDR_SHARED, "100.64.0.0/10" },
	{ { 127 }, 8, IW_ADDR_LOOPBACK, "127.0.0.0/8" },
	{ { 169, 254 }, 16, IW_ADDR_LINK_LOCAL, "169.254.0.0/16" },
	{ { 172, 16 }, 12, IW_ADDR_PRIVATE, "172.16.0.0/12" },
	{ { 192, 0, 0 }, 24, IW_ADDR_RESERVED, "192.0.0.0/24" },
	{ { 192, 88, 99 }, 24, IW_ADDR_RESERVED, "192.88.99.0/24" }, /* 6to4 relay anycast */
	{ { 192, 168 }, 16, IW_ADDR_PRIVATE, "192.168.0.0/16" },
	{ { 198, 18 }, 15, IW_ADDR_RESERVED, "198.18.0.0/15" },
	{ { 224 }, 4, IW_ADDR_MULTICAST, "224.0.0.0/4" },
	{ { 240 }, 4, IW_ADDR_RESERVED, "240.0.0.0/4" },
};

/* RFC 6890 §2.2.3. The embedding prefixes (::ffff:0:0/96, ::/96, 64:ff9b::/96, 2002::/16,
 * 2001::/32) are classified by their IPv4 address before this table is consulted. */
static const struct range v6_ranges[] = {
	{ { 0 }, 128, IW_ADDR_UNSPECIFIED, "::/128" },
	{ { [15] = 1 }, 128, IW_ADDR_LOOPBACK, "::1/128" },
	{ { 0 }, 8, IW_ADDR_RESERVED, "::/8" },
	{ { 0x01 }, 64, IW_ADDR_RESERVED, "100::/64" },                       /* discard-only, RFC 6666 */
	{ { 0x20, 0x01, 0x00, 0x02 }, 48, IW_ADDR_RESERVED, "2001:2::/48" },  /* benchmarking */
	{ { 0x20, 0x01, 0x00, 0x10 }, 28, IW_ADDR_RESERVED, "2001:10::/28" }, /* ORCHID */
	{ { 0x20, 0x01, 0x00, 0x20 }, 28, IW_ADDR_RESERVED, "2001:20::/28" }, /* ORCHIDv2 */
	{ { 0x20, 0x01 }, 23, IW_ADDR_RESERVED, "2001::/23" },                /* IETF protocol assignments */
	{ { 0xfc }, 7, IW_ADDR_PRIVATE, "fc00::/7" },
	{ { 0xfe, 0x80 }, 10, IW_ADDR_LINK_LOCAL, "fe80::/10" },
	{ { 0xfe, 0xc0 }, 10, IW_ADDR_RESERVED, "fec0::/10" }, /* deprecated site-local */
	{ { 0xff }, 8, IW_ADDR_MULTICAST, "ff00::/8" },
};

static enum iw_addr_class lookup(const struct range *t, size_t n, const uint8_t *ip, const char **range)
{
	for (size_t i = 0; i < n; i++)
		if (prefix_match(ip, t[i].ip, t[i].prefix)) {
			*range = t[i].text;
			return (enum iw_addr_class)t[i].cls;
		}
	return IW_ADDR_PUBLIC;
}

enum iw_addr_class iw_addr_classify(const struct iw_addr *a, const char **range)
{
	const char *dummy;
	struct iw_addr v4;

	if (!range)
		range = &dummy;
	*range = "";
	if (a->family == AF_INET)
		return lookup(v4_ranges, sizeof v4_ranges / sizeof v4_ranges[0], a->ip, range);
	if (a->family != AF_INET6) {
		*range = "no address";
		return IW_ADDR_UNSPECIFIED;
	}
	if (iw_addr_normalize(a, &v4)) {
		enum iw_addr_class c =
			lookup(v4_ranges, sizeof v4_ranges / sizeof v4_ranges[0], v4.ip, range);
		if (c != IW_ADDR_PUBLIC)
			return c;
		/* The /48 NAT64 layout is a guess; a /96 inside it hides the address at the end. */
		if (memcmp(a->ip, pfx_nat64_local, 6) == 0) {
			c = lookup(v4_ranges, sizeof v4_ranges / sizeof v4_ranges[0], a->ip + 12, range);
			if (c != IW_ADDR_PUBLIC)
				return c;
		}
		/* A public IPv4 behind a mapping, translator or tunnel prefix is as public as the
		 * IPv4 itself; only the deprecated ::a.b.c.d form stays reserved. */
		*range = "";
		if (memcmp(a->ip, zero16, 12) != 0)
			return IW_ADDR_PUBLIC;
	}
	return lookup(v6_ranges, sizeof v6_ranges / sizeof v6_ranges[0], a->ip, range);
}

const char *iw_addr_class_name(enum iw_addr_class c)
{
	static const char *const names[IW_ADDR_CLASS_COUNT] = {
		[IW_ADDR_PUBLIC] = "public",       [IW_ADDR_UNSPECIFIED] = "unspecified",
		[IW_ADDR_LOOPBACK] = "loopback",   [IW_ADDR_PRIVATE] = "private",
		[IW_ADDR_SHARED] = "shared",       [IW_ADDR_LINK_LOCAL] = "link-local",
		[IW_ADDR_MULTICAST] = "multicast", [IW_ADDR_BROADCAST] = "broadcast",
		[IW_ADDR_RESERVED] = "reserved",
	};

	if ((unsigned)c >= IW_ADDR_CLASS_COUNT)
		return "unknown";
	return names[c];
}
