/* Opening the relay's and the metrics server's sockets: one function, so every listener and
 * relay port gets the same flags (non-blocking, close-on-exec) and the same order of set-up
 * (options, bind, buffers, listen). Set-up only: nothing here runs per packet. */
#ifndef IW_COMMON_SOCK_H
#define IW_COMMON_SOCK_H

#include "common/addr.h"

enum {
	IW_SOCK_V6ONLY = 1u << 0,    /* an IPv6 socket takes no IPv4-mapped traffic (AF_INET6 only) */
	IW_SOCK_REUSEADDR = 1u << 1, /* a TCP listener binds again while old connections linger */
	IW_SOCK_REUSEPORT = 1u << 2, /* several workers' UDP listeners share one port */
};

/* What to open. */
struct iw_sock_spec {
	int type;       /* SOCK_DGRAM or SOCK_STREAM */
	unsigned flags; /* IW_SOCK_* */
	int buf;        /* > 0: receive and send buffer bytes (iw_sock_bufs), set after bind */
	int backlog;    /* > 0: listen() with this backlog */
};

/* Open a socket of a's family as spec says and bind it to a (port 0: the kernel picks one).
 * Returns the fd, or -errno with *why (when why is not NULL) naming the step that failed:
 * "cannot create socket", "address in use", "cannot bind" or "cannot listen". */
int iw_sock_open(const struct iw_addr *a, const struct iw_sock_spec *spec, const char **why);

/* Receive and send buffers of bytes each: the FORCE variants pass rmem_max/wmem_max when the
 * process may (CAP_NET_ADMIN); otherwise the plain ones get what the sysctl allows. */
void iw_sock_bufs(int fd, int bytes);

#endif
