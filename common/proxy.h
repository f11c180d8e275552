/* The PROXY protocol, versions 1 and 2 (HAProxy's proxy-protocol.txt): the header a load
 * balancer writes before a client's first byte, naming the client it accepted. A bounded,
 * byte-wise reader; it touches nothing but the bytes it is given. Whether a source may send a
 * header at all is the caller's decision (a trusted-range check before calling). */
#ifndef IW_COMMON_PROXY_H
#define IW_COMMON_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"

enum {
	IW_PROXY_V1_MAX = 107,       /* "PROXY TCP6 <39> <39> 65535 65535\r\n", the spec's bound */
	IW_PROXY_V2_FIXED = 16,      /* signature, version and command, family, length */
	IW_PROXY_V2_MAX = 16 + 1024, /* addresses and TLVs beyond this are refused, not read */
	IW_PROXY_MAX = IW_PROXY_V2_MAX,
	IW_PROXY_ALPN_MAX = 64,
};

struct iw_proxy_hdr {
	uint8_t version; /* 1 or 2 */
	/* No client address to use: v2 LOCAL (the proxy's own health check), v2 with an
	 * unspecified or unix family, or v1 UNKNOWN. The connection's own addresses apply. */
	bool local;
	bool dgram;                       /* v2 family says SOCK_DGRAM */
	struct iw_addr src;               /* the client as the proxy saw it */
	struct iw_addr dst;               /* the address the client connected to */
	bool tls;                         /* v2 PP2_TYPE_SSL with the client-used-TLS bit */
	uint8_t alpn_len;                 /* v2 PP2_TYPE_ALPN, 0 when absent */
	char alpn[IW_PROXY_ALPN_MAX + 1]; /* NUL-terminated copy; longer values are refused */
};

/*
 * Read the header at the start of buf, of which n bytes have arrived. Returns the header's
 * length (> 0) with *h filled; 0 when more bytes are needed (the caller reads on, up to
 * IW_PROXY_MAX bytes); or -EPROTO with *why set when buf does not start with a PROXY header,
 * or -EINVAL with *why when it does but the header is malformed or over the bounds.
 */
int iw_proxy_parse(const uint8_t *buf, size_t n, struct iw_proxy_hdr *h, const char **why);

/* Whether a is in one of the n ranges of the proxies trusted to send a header (an IPv4-mapped
 * IPv6 address counts as its IPv4 address). */
bool iw_proxy_trusted(const struct iw_cidr *ranges, unsigned n, const struct iw_addr *a);

#endif
