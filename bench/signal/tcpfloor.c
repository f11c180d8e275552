/* The kernel's floor for a signaling server on this machine: a server that does nothing but
 * move bytes between paired TCP connections (epoll, one recv and one send per message; no
 * WebSocket framing, no JSON, no rooms), under the load bench.mjs offers (N connections in
 * pairs, one offer-sized message in flight per pair, bounced back and forth). Its CPU per
 * relayed message is what any server pays on this kernel before doing any work of its own.
 *
 *   tcpfloor [--conns 10000] [--size 3000] [--seconds 10]
 *   tcpfloor --serve 1 [--conns 10000]   # the server alone, for another client (iw_siggen)
 *
 * Prints one JSON line: messages, server CPU seconds, messages per server CPU-second; with
 * --serve, {"port": P} once it listens, and it serves until killed. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { BUF = 65536, EVS = 256 };

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	unsigned long ut = 0, st = 0;
	/* fields after the command: state is 3rd, utime 14th, stime 15th */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* Server: accept conns, pair 2k with 2k+1, forward whatever arrives to the partner. */
static void serve(int lfd, int conns)
{
	int ep = epoll_create1(0), *peer = calloc((size_t)conns + 1024, sizeof(int)), n_acc = 0, first = -1;
	static char buf[BUF];
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd }, evs[EVS];
	if (ep < 0 || !peer || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev))
		die("server setup");
	for (;;) {
		int n = epoll_wait(ep, evs, EVS, -1);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd) {
				int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
				if (c < 0)
					continue;
				int one = 1;
				setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
				ev = (struct epoll_event){ .events = EPOLLIN, .data.fd = c };
				epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				if (n_acc++ % 2 == 0) {
					first = c;
				} else {
					peer[c] = first;
					peer[first] = c;
				}
				continue;
			}
			ssize_t r = recv(fd, buf, sizeof buf, 0);
			if (r <= 0) {
				if (r == 0 || errno != EAGAIN)
					exit(0);
				continue;
			}
			for (ssize_t off = 0; off < r;) {
				ssize_t w = send(peer[fd], buf + off, (size_t)(r - off), MSG_NOSIGNAL);
				if (w < 0 && errno != EAGAIN)
					exit(0);
				off += w > 0 ? w : 0;
			}
		}
	}
}

int main(int argc, char **argv)
{
	int conns = 10000, size = 3000, serve_only = 0;
	double seconds = 10;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--conns"))
			conns = atoi(argv[i + 1]) & ~1;
		else if (!strcmp(argv[i], "--size"))
			size = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--serve"))
			serve_only = atoi(argv[i + 1]);
	}
	/* The server and the client each hold conns descriptors. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_max < (rlim_t)conns + 256) {
		fprintf(stderr, "tcpfloor: the open-file limit is below conns + 256\n");
		return 1;
	}
	rl.rlim_cur = (rlim_t)conns + 256;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		die("setrlimit");

	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sa;
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sl) || listen(lfd, 4096) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl))
		die("listen");
	if (serve_only) {
		printf("{\"port\": %d}\n", ntohs(sa.sin_port));
		fflush(stdout);
		serve(lfd, conns);
	}
	pid_t srv = fork();
	if (srv == 0)
		serve(lfd, conns);
	close(lfd);

	/* Client: connect in accept order so the server pairs 2k with 2k+1 as we do. */
	int *fd = calloc((size_t)conns, sizeof(int)), *got = calloc((size_t)conns, sizeof(int));
	int maxfd = 0;
	for (int i = 0; i < conns; i++) {
		fd[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fd[i] < 0 || connect(fd[i], (struct sockaddr *)&sa, sizeof sa))
			die("connect");
		int one = 1;
		setsockopt(fd[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (i % 2) {
			/* wait until the server has paired this one: a byte round trip */
			char b = 'x';
			if (send(fd[i], &b, 1, 0) != 1 || recv(fd[i - 1], &b, 1, 0) != 1)
				die("pairing");
		}
		maxfd = fd[i] > maxfd ? fd[i] : maxfd;
	}
	int *idx = malloc(((size_t)maxfd + 1) * sizeof(int));
	int ep = epoll_create1(0);
	for (int i = 0; i < conns; i++) {
		idx[fd[i]] = i;
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd[i] };
		epoll_ctl(ep, EPOLL_CTL_ADD, fd[i], &ev);
	}
	char *msg = malloc((size_t)size), *buf = malloc(BUF);
	memset(msg, 'x', (size_t)size);
	for (int i = 0; i < conns; i += 2)
		if (send(fd[i], msg, (size_t)size, 0) != size)
			die("send");
	double t0 = now_s(), c0 = cpu_s(srv), warm = t0 + 1, end = warm + seconds;
	long msgs = 0;
	int measuring = 0;
	struct epoll_event evs[EVS];
	while (now_s() < end) {
		if (!measuring && now_s() >= warm) {
			measuring = 1;
			c0 = cpu_s(srv);
			msgs = 0;
		}
		int n = epoll_wait(ep, evs, EVS, 100);
		for (int k = 0; k < n; k++) {
			int i = idx[evs[k].data.fd];
			ssize_t r = recv(fd[i], buf, BUF, 0);
			if (r <= 0)
				die("recv");
			got[i] += (int)r;
			while (got[i] >= size) { /* a whole message: bounce it back */
				got[i] -= size;
				msgs++;
				if (send(fd[i], msg, (size_t)size, 0) != size)
					die("send");
			}
		}
	}
	double cpu = cpu_s(srv) - c0;
	kill(srv, SIGKILL);
	waitpid(srv, NULL, 0);
	printf("{\"conns\": %d, \"size\": %d, \"messages\": %ld, \"server_cpu_s\": %.3f, "
	       "\"msgs_per_cpu_s\": %.0f, \"msgs_per_s\": %.0f}\n",
	       conns, size, msgs, cpu, cpu > 0 ? (double)msgs / cpu : 0.0, (double)msgs / seconds);
	return 0;
}
