/* A null forwarder: the kernel's UDP path with no TURN logic, for the relay benchmark.
 * Client datagrams carry a 4-byte ChannelData-style header whose channel selects a flow; each
 * flow has its own "relay" socket toward the echo peer, as a TURN allocation would. It does
 * exactly what a relay must do per datagram and nothing more: recvmmsg, a table lookup, a header
 * write into headroom, sendmmsg. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/bytes.h"

enum { BATCH = 32, DGRAM_MAX = 1500, HEAD = 4, MAX_FLOWS = 20000 };

struct flow {
	int fd;
	bool has_client;
	struct sockaddr_storage client;
	socklen_t client_len;
};

struct dgram {
	uint8_t head[HEAD];
	uint8_t buf[DGRAM_MAX];
	struct sockaddr_storage src;
};

static volatile sig_atomic_t stop;
static struct dgram dg[BATCH];
static struct mmsghdr rx[BATCH], tx[BATCH];
static struct iovec rx_iov[BATCH], tx_iov[BATCH];

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int udp_socket(const struct iw_addr *a)
{
	struct sockaddr_storage ss;
	socklen_t len = iw_addr_to_sa(a, &ss);
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	int buf = 4 << 20;
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct iw_addr listen_a, peer_a, any;
	struct sockaddr_storage peer_ss;
	socklen_t peer_len;
	struct flow *flows = NULL;
	long n_flows;
	int lfd = -1, ep = -1, rc = 1;

	if (argc != 4 || iw_addr_parse(&listen_a, argv[1]) < 0 || iw_addr_parse(&peer_a, argv[2]) < 0 ||
	    (n_flows = strtol(argv[3], NULL, 10)) <= 0 || n_flows > MAX_FLOWS) {
		fprintf(stderr, "usage: %s LISTEN_ADDR:PORT PEER_ADDR:PORT FLOWS\n", argv[0]);
		return 2;
	}
	peer_len = iw_addr_to_sa(&peer_a, &peer_ss);
	any = listen_a;
	any.port = 0;

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	flows = calloc((size_t)n_flows, sizeof *flows);
	ep = epoll_create1(0);
	lfd = udp_socket(&listen_a);
	if (!flows || ep < 0 || lfd < 0) {
		perror("nullfwd: setup");
		goto out;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (long i = 0; i < n_flows; i++) {
		flows[i].fd = udp_socket(&any);
		if (flows[i].fd < 0) {
			perror("nullfwd: flow socket");
			goto out;
		}
		ev.data.ptr = &flows[i];
		epoll_ctl(ep, EPOLL_CTL_ADD, flows[i].fd, &ev);
	}
	for (int i = 0; i < BATCH; i++) {
		rx_iov[i] = (struct iovec){ dg[i].buf, DGRAM_MAX };
		rx[i].msg_hdr =
			(struct msghdr){ .msg_name = &dg[i].src, .msg_iov = &rx_iov[i], .msg_iovlen = 1 };
	}
	printf("ready\n");
	fflush(stdout);

	while (!stop) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, 200);
		for (int e = 0; e < n; e++) {
			struct flow *f = evs[e].data.ptr;
			int fd = f ? f->fd : lfd;
			for (;;) {
				for (int i = 0; i < BATCH; i++)
					rx[i].msg_hdr.msg_namelen = sizeof dg[i].src;
				int got = recvmmsg(fd, rx, BATCH, MSG_DONTWAIT, NULL);
				if (got <= 0)
					break;
				int nt = 0;
				int out_fd = -1;
				for (int i = 0; i < got; i++) {
					size_t len = rx[i].msg_len;
					if (!f) {
						/* client -> peer: strip the header, send from the flow's socket */
						if (len < HEAD)
							continue;
						long idx = (long)iw_be16(dg[i].buf) - 0x4000;
						if (idx < 0 || idx >= n_flows)
							continue;
						struct flow *cf = &flows[idx];
						if (!cf->has_client) {
							cf->client = dg[i].src;
							cf->client_len = rx[i].msg_hdr.msg_namelen;
							cf->has_client = true;
						}
						/* one sendmmsg per destination socket: flush on change */
						if (out_fd != -1 && out_fd != cf->fd && nt) {
							sendmmsg(out_fd, tx, (unsigned)nt, MSG_DONTWAIT);
							nt = 0;
						}
						out_fd = cf->fd;
						tx_iov[nt] = (struct iovec){ dg[i].buf + HEAD, len - HEAD };
						tx[nt].msg_hdr = (struct msghdr){ .msg_name = &peer_ss,
										  .msg_namelen = peer_len,
										  .msg_iov = &tx_iov[nt],
										  .msg_iovlen = 1 };
						nt++;
					} else {
						/* peer -> client: header into headroom, send from the listener */
						if (!f->has_client)
							continue;
						uint8_t *h = dg[i].buf - HEAD;
						iw_put_be16(h, (uint16_t)(0x4000 + (f - flows)));
						iw_put_be16(h + 2, (uint16_t)len);
						out_fd = lfd;
						tx_iov[nt] = (struct iovec){ h, len + HEAD };
						tx[nt].msg_hdr =
							(struct msghdr){ .msg_name = &f->client,
									 .msg_namelen = f->client_len,
									 .msg_iov = &tx_iov[nt],
									 .msg_iovlen = 1 };
						nt++;
					}
				}
				if (nt)
					sendmmsg(out_fd, tx, (unsigned)nt, MSG_DONTWAIT);
				if (got < BATCH)
					break;
			}
		}
	}
	rc = 0;
out:
	if (flows)
		for (long i = 0; i < n_flows; i++)
			if (flows[i].fd > 0)
				close(flows[i].fd);
	free(flows);
	if (lfd >= 0)
		close(lfd);
	if (ep >= 0)
		close(ep);
	return rc;
}
