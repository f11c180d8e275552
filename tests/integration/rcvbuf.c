/* LD_PRELOAD shim for load generators that have no option for their socket buffers (coturn's
 * turnutils_uclient): every UDP socket they create gets a receive buffer of IW_RCVBUF bytes
 * (default 4 MiB, capped by net.core.rmem_max), and later requests for a smaller one are
 * raised to it, as one would tune a load-generator host. Without it, an unpaced uclient
 * overflows its own small buffers whenever it is descheduled, and the loss it reports is its
 * own, not the relay's. */
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/socket.h>

static int want(void)
{
	const char *env = getenv("IW_RCVBUF");
	return env ? atoi(env) : 4 << 20;
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	static int (*real_setsockopt)(int, int, int, const void *, socklen_t);
	if (!real_setsockopt)
		real_setsockopt =
			(int (*)(int, int, int, const void *, socklen_t))dlsym(RTLD_NEXT, "setsockopt");
	if (level == SOL_SOCKET && name == SO_RCVBUF && len == sizeof(int) && *(const int *)val < want()) {
		int size = want();
		return real_setsockopt(fd, level, name, &size, sizeof size);
	}
	return real_setsockopt(fd, level, name, val, len);
}

int socket(int domain, int type, int protocol)
{
	static int (*real_socket)(int, int, int);
	if (!real_socket)
		real_socket = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
	int fd = real_socket(domain, type, protocol);
	if (fd >= 0 && (type & 0xf) == SOCK_DGRAM) {
		int size = want();
		if (size > 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	}
	return fd;
}
