/* Socket set-up for listeners and relay ports (see sock.h). */
#include "common/sock.h"

#include <errno.h>
#include <netinet/in.h>
#include <unistd.h>

void iw_sock_bufs(int fd, int bytes)
{
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
}

int iw_sock_open(const struct iw_addr *a, const struct iw_sock_spec *spec, const char **why)
{
	const char *step = "cannot create socket";
	int one = 1, e;
	int fd = socket(a->family, spec->type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		e = -errno;
		goto out;
	}
	/* The options are best effort, as before the bind: a kernel without one still gets
	 * a working socket. */
	if ((spec->flags & IW_SOCK_REUSEADDR))
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if ((spec->flags & IW_SOCK_V6ONLY) && a->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if ((spec->flags & IW_SOCK_REUSEPORT))
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
	struct sockaddr_storage ss;
	socklen_t sl = iw_addr_to_sa(a, &ss);
	if (bind(fd, (struct sockaddr *)&ss, sl)) {
		e = -errno;
		step = e == -EADDRINUSE ? "address in use" : "cannot bind";
		goto fail;
	}
	/* After bind: a port that is taken costs no buffer set-up. */
	if (spec->buf > 0)
		iw_sock_bufs(fd, spec->buf);
	if (spec->backlog > 0 && listen(fd, spec->backlog)) {
		e = -errno;
		step = "cannot listen";
		goto fail;
	}
	return fd;
fail:
	close(fd);
out:
	if (why)
		*why = step;
	return e;
}
