/* Unit tests for common/sock.c: flags, options, bind and listen, and the reason for each
 * failure, on loopback with ports the kernel picks. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/sock.h"

static struct iw_addr loop4(uint16_t port)
{
	struct iw_addr a;
	assert_int_equal(iw_addr_parse(&a, "127.0.0.1"), 0);
	a.port = port;
	return a;
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	struct iw_addr a;
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &sl), 0);
	assert_int_equal(iw_addr_from_sa(&a, (struct sockaddr *)&ss), 0);
	return a.port;
}

static int opt(int fd, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof v;
	assert_int_equal(getsockopt(fd, level, name, &v, &l), 0);
	return v;
}

static void test_udp_flags(void **state)
{
	(void)state;
	struct iw_addr a = loop4(0);
	const char *why = NULL;
	int fd = iw_sock_open(&a, &(struct iw_sock_spec){ .type = SOCK_DGRAM, .buf = 1 << 16 }, &why);
	assert_true(fd >= 0);
	assert_null(why);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(opt(fd, SOL_SOCKET, SO_TYPE), SOCK_DGRAM);
	assert_int_not_equal(bound_port(fd), 0);
	assert_int_equal(opt(fd, SOL_SOCKET, SO_REUSEPORT), 0);
	/* The kernel doubles what it is given, bounded by the sysctl: at least the default. */
	assert_true(opt(fd, SOL_SOCKET, SO_RCVBUF) > 0);
	close(fd);
}

static void test_in_use(void **state)
{
	(void)state;
	struct iw_addr a = loop4(0);
	const char *why = NULL;
	struct iw_sock_spec udp = { .type = SOCK_DGRAM };
	int fd = iw_sock_open(&a, &udp, NULL);
	assert_true(fd >= 0);
	a.port = bound_port(fd);
	assert_int_equal(iw_sock_open(&a, &udp, &why), -EADDRINUSE);
	assert_string_equal(why, "address in use");
	close(fd);

	/* With REUSEPORT on both, two sockets share the port. */
	a.port = 0;
	udp.flags = IW_SOCK_REUSEPORT;
	fd = iw_sock_open(&a, &udp, NULL);
	assert_true(fd >= 0);
	assert_int_equal(opt(fd, SOL_SOCKET, SO_REUSEPORT), 1);
	a.port = bound_port(fd);
	int fd2 = iw_sock_open(&a, &udp, NULL);
	assert_true(fd2 >= 0);
	close(fd2);
	close(fd);
}

static void test_bad_bind(void **state)
{
	(void)state;
	/* An address this host does not have (TEST-NET-1). */
	struct iw_addr a;
	const char *why = NULL;
	assert_int_equal(iw_addr_parse(&a, "192.0.2.1"), 0);
	assert_int_equal(iw_sock_open(&a, &(struct iw_sock_spec){ .type = SOCK_DGRAM }, &why),
			 -EADDRNOTAVAIL);
	assert_string_equal(why, "cannot bind");
	a.family = 0;
	assert_true(iw_sock_open(&a, &(struct iw_sock_spec){ .type = SOCK_DGRAM }, &why) < 0);
	assert_string_equal(why, "cannot create socket");
}

static void test_tcp_listen(void **state)
{
	(void)state;
	struct iw_addr a = loop4(0);
	struct iw_sock_spec tcp = { .type = SOCK_STREAM, .flags = IW_SOCK_REUSEADDR, .backlog = 4 };
	int fd = iw_sock_open(&a, &tcp, NULL);
	assert_true(fd >= 0);
	assert_int_equal(opt(fd, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
	assert_int_equal(opt(fd, SOL_SOCKET, SO_ACCEPTCONN), 1);
	assert_int_equal(opt(fd, SOL_SOCKET, SO_REUSEADDR), 1);
	a.port = bound_port(fd);
	/* A client connects to it. */
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_storage ss;
	socklen_t sl = iw_addr_to_sa(&a, &ss);
	assert_int_equal(connect(c, (struct sockaddr *)&ss, sl), 0);
	close(c);
	close(fd);

	/* Without a backlog, no listen. */
	a.port = 0;
	fd = iw_sock_open(&a, &(struct iw_sock_spec){ .type = SOCK_STREAM }, NULL);
	assert_true(fd >= 0);
	assert_int_equal(opt(fd, SOL_SOCKET, SO_ACCEPTCONN), 0);
	close(fd);
}

static void test_v6only(void **state)
{
	(void)state;
	struct iw_addr a;
	assert_int_equal(iw_addr_parse(&a, "::1"), 0);
	int fd =
		iw_sock_open(&a, &(struct iw_sock_spec){ .type = SOCK_DGRAM, .flags = IW_SOCK_V6ONLY }, NULL);
	if (fd == -EADDRNOTAVAIL || fd == -EAFNOSUPPORT)
		skip(); /* no IPv6 loopback here */
	assert_true(fd >= 0);
	assert_int_equal(opt(fd, IPPROTO_IPV6, IPV6_V6ONLY), 1);
	close(fd);
	/* The flag means nothing to an IPv4 socket. */
	a = loop4(0);
	fd = iw_sock_open(&a, &(struct iw_sock_spec){ .type = SOCK_DGRAM, .flags = IW_SOCK_V6ONLY }, NULL);
	assert_true(fd >= 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp_flags), cmocka_unit_test(test_in_use),
		cmocka_unit_test(test_bad_bind),  cmocka_unit_test(test_tcp_listen),
		cmocka_unit_test(test_v6only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
