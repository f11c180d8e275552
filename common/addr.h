/* Transport addresses: sockaddr conversion, text form, hashing, CIDR ranges and the
 * special-purpose range classification that the relay's peer policy is built on. */
#ifndef IW_COMMON_ADDR_H
#define IW_COMMON_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* An IP address and port, 20 bytes, cheap to copy and compare.
 * family is AF_INET or AF_INET6 (0 = unset). For AF_INET only ip[0..3] are used and the rest
 * are zero, so memcmp-based equality works. port is in host order. */
struct iw_addr {
	uint8_t ip[16];
	uint16_t port;
	uint8_t family;
	uint8_t pad_;
};

/* Longest text form: "[" IPv6 "]:" port, NUL included. */
enum { IW_ADDR_STRLEN = 64 };

/* Fill a from a sockaddr_in/in6; returns 0 or -EAFNOSUPPORT. */
int iw_addr_from_sa(struct iw_addr *a, const struct sockaddr *sa);
/* Fill ss from a; returns the sockaddr length to pass to the kernel. */
socklen_t iw_addr_to_sa(const struct iw_addr *a, struct sockaddr_storage *ss);
/* Parse "1.2.3.4", "1.2.3.4:5", "::1", "[::1]:5". Port defaults to 0. Returns 0 or -EINVAL. */
int iw_addr_parse(struct iw_addr *a, const char *s);
/* Format as "1.2.3.4:5" or "[::1]:5" (port omitted when with_port is false). Returns buf. */
const char *iw_addr_fmt(const struct iw_addr *a, bool with_port, char *buf, size_t cap);
bool iw_addr_eq(const struct iw_addr *a, const struct iw_addr *b);    /* ip, port, family */
bool iw_addr_ip_eq(const struct iw_addr *a, const struct iw_addr *b); /* ip and family only */
/* Keyed hash of address and port, for open-addressing tables. */
uint32_t iw_addr_hash(const struct iw_addr *a, uint32_t seed);
bool iw_addr_is_any(const struct iw_addr *a); /* 0.0.0.0 or :: */

/* An address range. */
struct iw_cidr {
	struct iw_addr base; /* port ignored */
	uint8_t prefix;      /* bits, 0..32 or 0..128 */
};

/* Parse "10.0.0.0/8", "fe80::/10", a bare address (full-length prefix), or "A-B" is not
 * supported. Returns 0 or -EINVAL. */
int iw_cidr_parse(struct iw_cidr *c, const char *s);
bool iw_cidr_contains(const struct iw_cidr *c, const struct iw_addr *a);

/*
 * If a is an IPv6 address that embeds an IPv4 address (::ffff:a.b.c.d IPv4-mapped,
 * ::a.b.c.d IPv4-compatible, 64:ff9b::/96 NAT64, 2002::/16 6to4, 2001::/32 Teredo, whose
 * client address is stored inverted), write that IPv4 address (port kept) to out and return
 * true. Otherwise copy a to out and return false. Deny-list bypasses through these forms are
 * the most common CVE class in TURN servers, so policy checks run on the normalised form AND
 * the original.
 */
bool iw_addr_normalize(const struct iw_addr *a, struct iw_addr *out);

/* Special-purpose ranges (RFC 6890 and friends). */
enum iw_addr_class {
	IW_ADDR_PUBLIC = 0,
	IW_ADDR_UNSPECIFIED, /* 0.0.0.0/8, ::/128 */
	IW_ADDR_LOOPBACK,    /* 127.0.0.0/8, ::1 */
	IW_ADDR_PRIVATE,     /* 10/8, 172.16/12, 192.168/16, fc00::/7 */
	IW_ADDR_SHARED,      /* 100.64.0.0/10 carrier-grade NAT */
	IW_ADDR_LINK_LOCAL,  /* 169.254/16 (cloud metadata), fe80::/10 */
	IW_ADDR_MULTICAST,   /* 224/4, ff00::/8 */
	IW_ADDR_BROADCAST,   /* 255.255.255.255 */
	IW_ADDR_RESERVED,    /* 240/4, 192.0.0.0/24, 198.18/15, fec0::/10 site-local, ... */
	IW_ADDR_CLASS_COUNT
};

/* Classify a (after iw_addr_normalize). *range is set to the matching range text, e.g.
 * "169.254.0.0/16", for messages. Documentation ranges (192.0.2/24, 198.51.100/24,
 * 203.0.113/24, 2001:db8::/32) count as PUBLIC: they are how tests name a public peer. */
enum iw_addr_class iw_addr_classify(const struct iw_addr *a, const char **range);
/* Short lowercase name: "loopback", "private", ... */
const char *iw_addr_class_name(enum iw_addr_class c);

#endif
