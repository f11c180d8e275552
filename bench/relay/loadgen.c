/* Relay load generator: opens K TURN allocations (auth, channel bind), then sends ChannelData
 * at a paced rate to an echo peer it runs itself, with a sequence number and a timestamp in
 * each payload, and reports delivered packets/s, loss and round-trip latency percentiles.
 * With --null it skips TURN and talks to bench/relay/nullfwd. Output: one JSON object. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/bytes.h"
#include "common/cred.h"
#include "common/stun.h"
#include "common/stun_auth.h"

enum { BATCH = 64, DGRAM_MAX = 1500, WINDOW = 256, HIST_US = 200000, MAX_TRIES = 12 };

enum flow_state { F_ALLOC0, F_ALLOC1, F_BIND, F_READY, F_FAILED };

struct flow {
	int fd;
	enum flow_state st;
	uint8_t tid[STUN_TID_LEN];
	uint64_t sent_at_ms;
	int tries;
	uint16_t chan;
	uint8_t key[IW_STUN_KEY_MAX];
	int key_len;
	char nonce[STUN_MAX_NONCE + 1];
	uint16_t nonce_len;
	char realm[STUN_MAX_REALM + 1];
	uint16_t realm_len;
	uint64_t tx, rx;
};

struct opts {
	struct iw_addr server, echo;
	long flows, rate, size;
	double duration;
	const char *user, *pass, *secret;
	struct iw_addr bind; /* client sockets' source address (port 0); unset: the kernel picks */
	bool null_mode, hold;
	struct iw_addr echo_only; /* run only the echo peer, bound here */
};

static struct opts o = { .flows = 50, .rate = 10000, .size = 120, .duration = 5.0 };
static struct flow *flows;
static char user_buf[IW_CRED_MAX_USER];
static char pass_buf[256]; /* REST passwords are IW_CRED_REST_PASS_LEN */
static atomic_bool receiving = true;
static uint32_t hist[HIST_US + 1];
static uint64_t rx_total, rx_bad;
static volatile sig_atomic_t stop_hold;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_term(int sig)
{
	(void)sig;
	stop_hold = 1;
}

/* --- echo peer: what a real peer would do, batched so it is not the bottleneck --- */
static void *echo_main(void *arg)
{
	int fd = *(int *)arg;
	static uint8_t bufs[BATCH][DGRAM_MAX];
	static struct sockaddr_storage src[BATCH];
	static struct iovec iov[BATCH];
	static struct mmsghdr m[BATCH];
	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){ bufs[i], DGRAM_MAX };
		m[i].msg_hdr = (struct msghdr){ .msg_name = &src[i], .msg_iov = &iov[i], .msg_iovlen = 1 };
	}
	/* recvmmsg's own timeout is only checked after a datagram arrives: use SO_RCVTIMEO so the
	 * loop notices the end of the run on an idle socket */
	struct timeval rcv_to = { 0, 100000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcv_to, sizeof rcv_to);
	while (atomic_load(&receiving)) {
		for (int i = 0; i < BATCH; i++) {
			m[i].msg_hdr.msg_namelen = sizeof src[i];
			iov[i].iov_len = DGRAM_MAX;
		}
		int n = recvmmsg(fd, m, BATCH, MSG_WAITFORONE, NULL);
		if (n <= 0)
			continue;
		for (int i = 0; i < n; i++)
			iov[i].iov_len = m[i].msg_len;
		sendmmsg(fd, m, (unsigned)n, 0);
	}
	return NULL;
}

/* --- TURN handshake --- */
static void send_req(struct flow *f, uint16_t method)
{
	uint8_t buf[600];
	struct iw_stun_wr w;
	if (f->tries == 0)
		iw_cred_random(f->tid, sizeof f->tid);
	iw_stun_wr_init(&w, buf, sizeof buf, method, STUN_CLASS_REQUEST, f->tid);
	if (method == TURN_METHOD_ALLOCATE) {
		uint8_t rt[4] = { TURN_TRANSPORT_UDP, 0, 0, 0 };
		iw_stun_wr_attr(&w, STUN_ATTR_REQUESTED_TRANSPORT, rt, 4);
	} else {
		uint8_t cn[4];
		iw_put_be16(cn, f->chan);
		iw_put_be16(cn + 2, 0);
		iw_stun_wr_attr(&w, STUN_ATTR_CHANNEL_NUMBER, cn, 4);
		iw_stun_wr_xaddr(&w, STUN_ATTR_XOR_PEER_ADDRESS, &o.echo);
	}
	if (f->st != F_ALLOC0) {
		iw_stun_wr_attr(&w, STUN_ATTR_USERNAME, user_buf, strlen(user_buf));
		iw_stun_wr_attr(&w, STUN_ATTR_REALM, f->realm, f->realm_len);
		iw_stun_wr_attr(&w, STUN_ATTR_NONCE, f->nonce, f->nonce_len);
		iw_stun_wr_integrity(&w, f->key, (size_t)f->key_len);
	}
	int len = iw_stun_wr_finish(&w);
	if (len > 0)
		send(f->fd, buf, (size_t)len, 0);
	f->sent_at_ms = now_ns() / 1000000u;
	f->tries++;
}

static void start_step(struct flow *f, enum flow_state st)
{
	f->st = st;
	f->tries = 0;
	send_req(f, st == F_BIND ? TURN_METHOD_CHANNEL_BIND : TURN_METHOD_ALLOCATE);
}

static void on_response(struct flow *f, const uint8_t *p, size_t len)
{
	struct iw_stun_msg m;
	const char *why = NULL;
	if (iw_stun_classify(p, len) != IW_PKT_STUN || iw_stun_decode(&m, p, len, &why) < 0)
		return;
	if (memcmp(m.tid, f->tid, STUN_TID_LEN) != 0)
		return;
	if (m.cls == STUN_CLASS_SUCCESS) {
		if (f->st == F_ALLOC0 || f->st == F_ALLOC1)
			start_step(f, F_BIND);
		else if (f->st == F_BIND)
			f->st = F_READY;
		return;
	}
	if (m.cls != STUN_CLASS_ERROR)
		return;
	if ((m.error_code == 401 || m.error_code == 438) && (m.present & IW_STUN_HAS_NONCE)) {
		if (m.present & IW_STUN_HAS_REALM) {
			memcpy(f->realm, m.realm.p, m.realm.len);
			f->realm_len = m.realm.len;
		}
		memcpy(f->nonce, m.nonce.p, m.nonce.len);
		f->nonce_len = m.nonce.len;
		f->key_len = iw_stun_lt_key(f->key, STUN_PASSWORD_ALG_MD5, user_buf, strlen(user_buf),
					    f->realm, f->realm_len, pass_buf, strlen(pass_buf));
		if (f->st == F_ALLOC0 || (m.error_code == 438 && f->tries < MAX_TRIES)) {
			if (f->st == F_ALLOC0)
				f->st = F_ALLOC1;
			f->tries = 0;
			send_req(f, f->st == F_BIND ? TURN_METHOD_CHANNEL_BIND : TURN_METHOD_ALLOCATE);
			return;
		}
	}
	fprintf(stderr, "loadgen: flow %u refused: %u %.*s\n", (unsigned)(f->chan - TURN_CHANNEL_MIN),
		m.error_code, (m.present & IW_STUN_HAS_ERROR_CODE) ? m.reason.len : 0,
		(m.present & IW_STUN_HAS_ERROR_CODE) ? (const char *)m.reason.p : "");
	f->st = F_FAILED;
}

/* Drive every flow to READY with at most WINDOW handshakes in flight. Returns seconds taken. */
static double handshake(int ep, long *n_ready)
{
	uint64_t t0 = now_ns();
	long next = 0, done = 0, ready = 0;
	uint64_t last_scan_ms = now_ns() / 1000000u;
	uint8_t buf[DGRAM_MAX];
	while (done < o.flows) {
		while (next < o.flows && next - done < WINDOW)
			start_step(&flows[next++], F_ALLOC0);
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, 50);
		for (int e = 0; e < n; e++) {
			struct flow *f = evs[e].data.ptr;
			ssize_t len;
			while ((len = recv(f->fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
				enum flow_state before = f->st;
				on_response(f, buf, (size_t)len);
				if (before != f->st && (f->st == F_READY || f->st == F_FAILED)) {
					done++;
					ready += f->st == F_READY;
				}
			}
		}
		uint64_t ms = now_ns() / 1000000u;
		/* retransmissions: a scan of every flow, so only every 100 ms, not per wake-up */
		if (ms - last_scan_ms < 100)
			continue;
		last_scan_ms = ms;
		for (long i = 0; i < next; i++) {
			struct flow *f = &flows[i];
			if (f->st >= F_READY || ms - f->sent_at_ms < 500)
				continue;
			if (f->tries >= MAX_TRIES) {
				f->st = F_FAILED;
				done++;
				continue;
			}
			send_req(f, f->st == F_BIND ? TURN_METHOD_CHANNEL_BIND : TURN_METHOD_ALLOCATE);
		}
	}
	*n_ready = ready;
	return (double)(now_ns() - t0) / 1e9;
}

/* --- traffic --- */
static void *rx_main(void *arg)
{
	int ep = *(int *)arg;
	static uint8_t bufs[BATCH][DGRAM_MAX];
	static struct iovec iov[BATCH];
	static struct mmsghdr m[BATCH];
	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){ bufs[i], DGRAM_MAX };
		m[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1 };
	}
	while (atomic_load(&receiving)) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, 50);
		uint64_t t = now_ns();
		for (int e = 0; e < n; e++) {
			struct flow *f = evs[e].data.ptr;
			int got;
			while ((got = recvmmsg(f->fd, m, BATCH, MSG_DONTWAIT, NULL)) > 0) {
				for (int i = 0; i < got; i++) {
					uint16_t chan, dlen;
					if (!iw_chandata_parse(bufs[i], m[i].msg_len, &chan, &dlen) ||
					    dlen < 16) {
						rx_bad++;
						continue;
					}
					uint64_t ts;
					memcpy(&ts, bufs[i] + 4 + 8, sizeof ts);
					uint64_t us = t > ts ? (t - ts) / 1000u : 0;
					hist[us > HIST_US ? HIST_US : us]++;
					f->rx++;
					rx_total++;
				}
				if (got < BATCH)
					break;
			}
		}
	}
	return NULL;
}

static double pct(uint64_t total, double q)
{
	uint64_t want = (uint64_t)((double)total * q), acc = 0;
	for (int i = 0; i <= HIST_US; i++) {
		acc += hist[i];
		if (acc > want)
			return i;
	}
	return HIST_US;
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s --server ADDR:PORT [--flows K] [--rate PPS] [--duration S] [--size BYTES]\n"
		"          (--user U --pass P | --secret S) [--null] [--hold] [--bind ADDR]\n"
		"       %s --echo-only ADDR:PORT\n"
		"  --null   talk to bench/relay/nullfwd (no TURN handshake)\n"
		"  --hold   open the allocations, print 'ready', keep them until SIGTERM (memory runs)\n",
		argv0, argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--null")) {
			o.null_mode = true;
			continue;
		}
		if (!strcmp(a, "--hold")) {
			o.hold = true;
			continue;
		}
		if (!v)
			usage(argv[0]);
		i++;
		if (!strcmp(a, "--echo-only")) {
			if (iw_addr_parse(&o.echo_only, v) < 0)
				usage(argv[0]);
		} else if (!strcmp(a, "--server")) {
			if (iw_addr_parse(&o.server, v) < 0)
				usage(argv[0]);
		} else if (!strcmp(a, "--flows"))
			o.flows = strtol(v, NULL, 10);
		else if (!strcmp(a, "--rate"))
			o.rate = strtol(v, NULL, 10);
		else if (!strcmp(a, "--size"))
			o.size = strtol(v, NULL, 10);
		else if (!strcmp(a, "--duration"))
			o.duration = strtod(v, NULL);
		else if (!strcmp(a, "--user"))
			o.user = v;
		else if (!strcmp(a, "--pass"))
			o.pass = v;
		else if (!strcmp(a, "--bind")) {
			if (iw_addr_parse(&o.bind, v) < 0)
				usage(argv[0]);
		} else if (!strcmp(a, "--secret"))
			o.secret = v;
		else
			usage(argv[0]);
	}
	if (o.echo_only.family) {
		/* a standalone echo peer, for the null forwarder */
		struct sockaddr_storage es;
		socklen_t esl = iw_addr_to_sa(&o.echo_only, &es);
		int efd = socket(es.ss_family, SOCK_DGRAM, 0);
		int ebig = 8 << 20;
		setsockopt(efd, SOL_SOCKET, SO_RCVBUF, &ebig, sizeof ebig);
		setsockopt(efd, SOL_SOCKET, SO_SNDBUF, &ebig, sizeof ebig);
		if (efd < 0 || bind(efd, (struct sockaddr *)&es, esl) < 0) {
			perror("loadgen: echo socket");
			return 1;
		}
		echo_main(&efd); /* until killed */
		return 0;
	}
	if (!o.server.family || o.flows < 1 || o.flows > 0x1000 * 5 || o.rate < 1 || o.size < 16 ||
	    o.size > 1400 || (!o.null_mode && !o.secret && !(o.user && o.pass)))
		usage(argv[0]);
	if (o.flows > TURN_CHANNEL_MAX - TURN_CHANNEL_MIN + 1 && !o.hold) {
		fprintf(stderr, "loadgen: at most %d flows with traffic (one channel each)\n",
			TURN_CHANNEL_MAX - TURN_CHANNEL_MIN + 1);
		return 2;
	}
	if (o.secret) {
		if (iw_cred_rest_make(user_buf, sizeof user_buf, pass_buf, o.secret, "bench", time(NULL),
				      3600) < 0)
			return 2;
	} else if (o.user) {
		snprintf(user_buf, sizeof user_buf, "%s", o.user);
		snprintf(pass_buf, sizeof pass_buf, "%s", o.pass);
	}

	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (o.hold) {
		signal(SIGTERM, on_term);
		signal(SIGINT, on_term);
	}

	/* the echo peer, on the server's loopback address family */
	struct iw_addr echo_bind = o.server;
	echo_bind.port = 0;
	struct sockaddr_storage ss;
	socklen_t sl = iw_addr_to_sa(&echo_bind, &ss);
	int echo_fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	int big = 8 << 20;
	setsockopt(echo_fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
	setsockopt(echo_fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
	if (echo_fd < 0 || bind(echo_fd, (struct sockaddr *)&ss, sl) < 0) {
		perror("loadgen: echo socket");
		return 1;
	}
	sl = sizeof ss;
	getsockname(echo_fd, (struct sockaddr *)&ss, &sl);
	iw_addr_from_sa(&o.echo, (struct sockaddr *)&ss);
	pthread_t echo_th;
	pthread_create(&echo_th, NULL, echo_main, &echo_fd);

	flows = calloc((size_t)o.flows, sizeof *flows);
	int ep = epoll_create1(0);
	struct sockaddr_storage srv;
	socklen_t srv_len = iw_addr_to_sa(&o.server, &srv);
	for (long i = 0; i < o.flows; i++) {
		struct flow *f = &flows[i];
		f->chan = (uint16_t)(TURN_CHANNEL_MIN + (i % (TURN_CHANNEL_MAX - TURN_CHANNEL_MIN + 1)));
		f->fd = socket(srv.ss_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		/* With thousands of flows, the kernel's ephemeral ports would take part of the relay
		 * range on the same address: --bind puts the clients on other loopback addresses. */
		struct sockaddr_storage cs;
		struct iw_addr src = o.bind;
		/* one source address per 64 flows' worth: a relay may rate-limit 401 challenges
		 * per source address, as iceway does, and real clients come from many */
		if (src.family == AF_INET)
			src.ip[3] = (uint8_t)(src.ip[3] + i % 64);
		socklen_t cl = o.bind.family ? iw_addr_to_sa(&src, &cs) : 0;
		if (f->fd < 0 || (cl && bind(f->fd, (struct sockaddr *)&cs, cl) < 0) ||
		    connect(f->fd, (struct sockaddr *)&srv, srv_len) < 0) {
			perror("loadgen: flow socket");
			return 1;
		}
		setsockopt(f->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = f };
		epoll_ctl(ep, EPOLL_CTL_ADD, f->fd, &ev);
	}

	long ready = o.flows;
	double setup_s = 0;
	if (!o.null_mode)
		setup_s = handshake(ep, &ready);
	else
		for (long i = 0; i < o.flows; i++)
			flows[i].st = F_READY;

	if (ready == 0) {
		fprintf(stderr, "loadgen: no allocation could be set up\n");
		printf("{\"flows\":%ld,\"ready\":0}\n", o.flows);
		return 1;
	}
	if (o.hold) {
		printf("{\"ready\":%ld,\"flows\":%ld,\"setup_s\":%.3f}\n", ready, o.flows, setup_s);
		fflush(stdout);
		while (!stop_hold)
			pause();
		atomic_store(&receiving, false);
		pthread_join(echo_th, NULL);
		return ready == o.flows ? 0 : 1;
	}

	pthread_t rx_th;
	pthread_create(&rx_th, NULL, rx_main, &ep);

	/* paced sender: round robin over ready flows */
	uint8_t pkt[DGRAM_MAX];
	memset(pkt, 0xab, sizeof pkt);
	uint64_t t0 = now_ns(), sent = 0, send_err = 0;
	uint64_t total = (uint64_t)(o.duration * (double)o.rate);
	long idx = 0;
	while (sent < total) {
		uint64_t t = now_ns();
		uint64_t due = (uint64_t)((double)(t - t0) / 1e9 * (double)o.rate);
		if (due > total)
			due = total;
		if (due <= sent) {
			struct timespec nap = { 0, 20000 };
			nanosleep(&nap, NULL);
			continue;
		}
		for (uint64_t k = 0; sent < due && k < 256; k++) {
			struct flow *f;
			do {
				f = &flows[idx];
				idx = (idx + 1) % o.flows;
			} while (f->st != F_READY);
			uint32_t seq = (uint32_t)f->tx;
			iw_chandata_put(pkt, f->chan, (uint16_t)o.size);
			memcpy(pkt + 4, &seq, 4);
			uint32_t fi = (uint32_t)(f - flows);
			memcpy(pkt + 8, &fi, 4);
			uint64_t ts = now_ns();
			memcpy(pkt + 12, &ts, 8);
			if (send(f->fd, pkt, 4 + (size_t)o.size, 0) < 0)
				send_err++;
			f->tx++;
			sent++;
		}
	}
	double send_s = (double)(now_ns() - t0) / 1e9;
	/* drain: wait for the last echoes, bounded */
	uint64_t last = 0;
	for (int i = 0; i < 20; i++) {
		struct timespec nap = { 0, 50000000 };
		nanosleep(&nap, NULL);
		if (rx_total == sent || (i > 4 && rx_total == last))
			break;
		last = rx_total;
	}
	atomic_store(&receiving, false);
	pthread_join(rx_th, NULL);
	pthread_join(echo_th, NULL);

	double loss = sent ? 100.0 * (double)(sent - (rx_total > sent ? sent : rx_total)) / (double)sent : 0;
	printf("{\"flows\":%ld,\"ready\":%ld,\"setup_s\":%.3f,\"allocs_per_s\":%.0f,\"rate\":%ld,\"size\":%"
	       "ld,"
	       "\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ",\"send_errors\":%" PRIu64 ",\"bad\":%" PRIu64
	       ","
	       "\"loss_pct\":%.4f,\"send_s\":%.3f,\"delivered_pps\":%.0f,"
	       "\"rtt_p50_us\":%.0f,\"rtt_p99_us\":%.0f,\"rtt_p999_us\":%.0f}\n",
	       o.flows, ready, setup_s, setup_s > 0 ? (double)ready / setup_s : 0, o.rate, o.size, sent,
	       rx_total, send_err, rx_bad, loss, send_s, (double)rx_total / send_s, pct(rx_total, 0.5),
	       pct(rx_total, 0.99), pct(rx_total, 0.999));
	return ready == o.flows ? 0 : 1;
}
