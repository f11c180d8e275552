/* The front door of a listener behind a load balancer (proxy-protocol): accepts connections
 * itself, reads the PROXY header (common/proxy) that a trusted source must send and no other
 * source may, and hands each socket on with the client it names. Connections wait here only
 * for their first bytes, a bounded number of them for a bounded time. Runs on the service
 * thread's libev loop; no lws types. */
#ifndef IW_SIGNALING_PROXY_IN_H
#define IW_SIGNALING_PROXY_IN_H

#include <stdbool.h>
#include <stdint.h>

#include "common/addr.h"

struct ev_loop;

enum { IW_PROXY_IN_TRUSTED_MAX = 16 };

struct iw_proxy_in_cfg {
	struct iw_cidr trusted[IW_PROXY_IN_TRUSTED_MAX]; /* who must send a header */
	unsigned n_trusted;
	unsigned timeout_ms;  /* for the first bytes (the header, or a client's request) */
	unsigned max_pending; /* connections waiting for their first bytes, all listeners */
};

struct iw_proxy_in_stats {
	uint64_t accepted;          /* headers read from trusted sources */
	uint64_t direct;            /* untrusted sources without a header, passed on as they are */
	uint64_t refused_untrusted; /* a header from a source not in proxy-trusted */
	uint64_t refused_missing;   /* a trusted source without a header */
	uint64_t refused_bad;       /* a malformed header */
	uint64_t refused_timeout;   /* no complete first bytes in time */
	uint64_t refused_full;      /* max_pending connections already waiting */
	uint64_t waiting;           /* connections waiting for their first bytes now (a gauge) */
};

/* fd: the connection, its header consumed (the next byte read is the client's); client: the
 * address the header named, or the socket's peer; listener: what iw_proxy_in_listen was given
 * for the socket it came in on. The callee owns fd. */
typedef void (*iw_proxy_in_fn)(void *arg, void *listener, int fd, const struct iw_addr *client);

struct iw_proxy_in;

/* NULL on out-of-memory. */
struct iw_proxy_in *iw_proxy_in_create(struct ev_loop *loop, const struct iw_proxy_in_cfg *cfg,
				       iw_proxy_in_fn fn, void *arg);
/* Listen on a (port 0: the kernel picks); connections from it are handed on with listener.
 * Returns the port, or -errno with *why. */
int iw_proxy_in_listen(struct iw_proxy_in *p, const struct iw_addr *a, void *listener, const char **why);
/* Trusted ranges, timeout and bound from a reload; connections waiting keep their verdict. */
void iw_proxy_in_configure(struct iw_proxy_in *p, const struct iw_proxy_in_cfg *cfg);
/* Stop accepting (a drain): listeners closed, waiting connections closed. */
void iw_proxy_in_close(struct iw_proxy_in *p);
const struct iw_proxy_in_stats *iw_proxy_in_stats(const struct iw_proxy_in *p);

/* Whether a is one of cfg's trusted ranges (an IPv4-mapped IPv6 address counts as IPv4). */
bool iw_proxy_in_trusted(const struct iw_proxy_in_cfg *cfg, const struct iw_addr *a);

/*
 * The client behind an HTTP reverse proxy. Only when peer (the socket's, or the PROXY header's,
 * client) is trusted are the headers read: Forwarded (RFC 7239, its "for=" parameters) when
 * present, else X-Forwarded-For, walked from the right past trusted hops to the first address
 * that is not trusted. An entry that is not an address (unknown, an obfuscated name, garbage)
 * ends the walk at the hop before it. Either header may be NULL. Returns true with *client set
 * from a header, false with *client = *peer.
 */
bool iw_proxy_in_forwarded(const struct iw_proxy_in_cfg *cfg, const struct iw_addr *peer, const char *fwd,
			   const char *xff, struct iw_addr *client);
void iw_proxy_in_destroy(struct iw_proxy_in *p); /* accepts NULL */

#endif
