/* The signaling bench's load generator in C (bench.mjs --gen c): N connections in pairs to
 * iceway-signal (WebSocket, join/welcome, offer/answer/candidate with `to`), to the PeerJS server
 * (WebSocket, id in the URL, OPEN, OFFER/ANSWER/CANDIDATE with `dst`) or to the floor server
 * (iw_tcpfloor --serve: raw TCP, paired in accept order, messages length-prefixed), the same
 * messages bench.mjs's Node generator sends, from one epoll loop, so that the generator is not
 * what limits the rate.
 *
 *   iw_siggen --target iceway|peerjs|floor --ports P[,P..] --lo 0 --hi 2000
 *             [--rate MSGS_PER_S | (closed loop)] [--mix cycle|offer]
 *
 * --mix cycle (the default): each pair repeats a negotiation of 10 messages, an offer (about
 * 4 KB) from A, the answer (about 4 KB) from B, then 8 candidates (about 190 B), alternating.
 * --mix offer: a 3 KB offer each way, as the Node generator sent before the cycle.
 * --rate R: open loop, R messages a second over all pairs, from a 1 ms timerfd, and nobody
 * bounces; without it, closed loop: one message in flight per pair, bounced on receipt.
 *
 * Each message carries the send time (CLOCK_MONOTONIC ns) where a browser puts a number: the
 * session id of the SDP's o= line, or the candidate's foundation. Commands on stdin, one a line:
 * start, measure, stop, exit. Answers on stdout, one JSON object a line: {"ready":...} once every
 * connection is up, and at stop the messages received, sent, latency percentiles, every latency
 * in us (lat_us, for merging several generators) and the generator's own CPU (getrusage). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

enum { T_ICEWAY, T_PEERJS, T_FLOOR };
enum { MIX_CYCLE, MIX_OFFER };
enum { K_OFFER, K_ANSWER, K_CAND };
enum { S_CONNECTING, S_UPGRADE, S_JOINING, S_READY, S_CLOSED };
enum { BATCH = 250, EVS = 512, RX0 = 16384, MSG_MAX = 8192, CYCLE = 10, MAX_PORTS = 8 };
enum { OFFER_LEN = 4096, CAND_LEN = 190, LEGACY_SDP = 3000, CONNECT_TIMEOUT_S = 120 };

#define EV_TIMER UINT64_MAX
#define EV_STDIN (UINT64_MAX - 1)

struct conn {
	int fd;
	int state;
	uint8_t *rx;
	size_t rxlen, rxcap;
	uint8_t *tx;
	size_t txoff, txlen, txcap;
	uint32_t seq; /* messages this pair has sent (kept on the pair's first connection) */
	uint64_t frag_ts;
	uint8_t mask[4];
};

static int target = T_ICEWAY, mix = MIX_CYCLE, nports, ports[MAX_PORTS], lo, hi, ep;
static double rate; /* 0: closed loop */
static struct conn *conns;
static int running, measuring;
static long msgs, sent, errors, closes, n_ready;
static uint32_t *lat;
static size_t nlat, latcap;
static char sdp_fill[OFFER_LEN], cand_fill[CAND_LEN], legacy_fill[LEGACY_SDP + 16];

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

/* Seconds this process was ready to run but waited for a CPU (the kernel's schedstat). */
static double wait_s(void)
{
	FILE *f = fopen("/proc/self/schedstat", "r");
	unsigned long long run = 0, wait = 0;
	if (!f)
		return 0;
	if (fscanf(f, "%llu %llu", &run, &wait) != 2)
		wait = 0;
	fclose(f);
	return (double)wait / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "iw_siggen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct conn *conn_of(int idx)
{
	return &conns[idx - lo];
}

static int port_of(int idx)
{
	/* Peer A of pair k on instance k mod n and peer B on the next one, as bench.mjs's cluster. */
	return ports[((idx >> 1) + (idx & 1)) % nports];
}

static void ep_set(struct conn *c, int idx, uint32_t events, int op)
{
	struct epoll_event ev = { .events = events, .data.u64 = (uint64_t)idx };
	if (epoll_ctl(ep, op, c->fd, &ev))
		die("epoll_ctl");
}

/* Writes what it can now and keeps the rest, watching for POLLOUT only while there is a rest. */
static void conn_write(int idx, const void *p, size_t n)
{
	struct conn *c = conn_of(idx);
	if (c->state == S_CLOSED)
		return;
	if (c->txlen == c->txoff) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN)
			w = 0;
		if (w == (ssize_t)n)
			return;
		if (w > 0) {
			p = (const uint8_t *)p + w;
			n -= (size_t)w;
		}
		c->txoff = c->txlen = 0;
		ep_set(c, idx, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
	}
	if (c->txoff && c->txlen + n > c->txcap) {
		/* what was sent goes before the buffer grows: a server that reads slowly but
		 * steadily must not make it grow (and be copied) without bound */
		memmove(c->tx, c->tx + c->txoff, c->txlen - c->txoff);
		c->txlen -= c->txoff;
		c->txoff = 0;
	}
	if (c->txlen + n > c->txcap) {
		c->txcap = (c->txlen + n) * 2;
		c->tx = realloc(c->tx, c->txcap);
		if (!c->tx)
			die("realloc");
	}
	memcpy(c->tx + c->txlen, p, n);
	c->txlen += n;
}

static void conn_flush(int idx)
{
	struct conn *c = conn_of(idx);
	while (c->txoff < c->txlen) {
		ssize_t w = send(c->fd, c->tx + c->txoff, c->txlen - c->txoff, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		c->txoff += (size_t)w;
	}
	c->txoff = c->txlen = 0;
	ep_set(c, idx, EPOLLIN, EPOLL_CTL_MOD);
}

/* One message, framed for the target: a masked WebSocket text frame, or a 4-byte length. */
static void conn_send_msg(int idx, char *text, size_t n)
{
	uint8_t hdr[14];
	size_t h = 0;
	struct conn *c = conn_of(idx);
	if (target == T_FLOOR) {
		uint32_t be = htonl((uint32_t)n);
		memcpy(hdr, &be, 4);
		h = 4;
	} else {
		hdr[h++] = 0x81;
		if (n < 126) {
			hdr[h++] = (uint8_t)(0x80 | n);
		} else {
			hdr[h++] = 0x80 | 126;
			hdr[h++] = (uint8_t)(n >> 8);
			hdr[h++] = (uint8_t)n;
		}
		memcpy(hdr + h, c->mask, 4);
		h += 4;
		for (size_t i = 0; i < n; i++)
			text[i] ^= (char)c->mask[i & 3];
	}
	uint8_t buf[MSG_MAX + 16];
	memcpy(buf, hdr, h);
	memcpy(buf + h, text, n);
	conn_write(idx, buf, h + n);
}

/* A message of the given kind from idx to its partner, stamped ts, into m; its length. */
static int msg_build(char *m, size_t msz, int idx, int kind, unsigned long long ts)
{
	int to = idx ^ 1, n;
	const char *sdp_type = kind == K_OFFER ? "offer" : "answer";
	if (kind == K_CAND) {
		const char *fmt =
			target == T_PEERJS
				? "{\"type\":\"CANDIDATE\",\"dst\":\"p%d\",\"payload\":{\"candidate\":{"
				  "\"candidate\":\"candidate:%llu 1 udp 1677729535 192.0.2.7 61327 "
				  "typ srflx raddr 10.0.0.2 rport 61327 generation 0%s\","
				  "\"sdpMid\":\"0\",\"sdpMLineIndex\":0}}}"
				: "{\"type\":\"candidate\",\"to\":\"p%d\",\"candidate\":{"
				  "\"candidate\":\"candidate:%llu 1 udp 1677729535 192.0.2.7 61327 "
				  "typ srflx raddr 10.0.0.2 rport 61327 generation 0%s\","
				  "\"sdpMid\":\"0\",\"sdpMLineIndex\":0}}";
		n = snprintf(m, msz, fmt, to, ts, cand_fill);
	} else if (mix == MIX_OFFER) {
		/* exactly the Node generator's offer: the time, a newline, the filler */
		n = target == T_PEERJS
			    ? snprintf(m, msz,
				       "{\"type\":\"OFFER\",\"dst\":\"p%d\",\"payload\":{\"sdp\":{"
				       "\"type\":\"offer\",\"sdp\":\"%llu\\n%s\"}}}",
				       to, ts, legacy_fill)
			    : snprintf(m, msz, "{\"type\":\"offer\",\"to\":\"p%d\",\"sdp\":\"%llu\\n%s\"}",
				       to, ts, legacy_fill);
	} else if (target == T_PEERJS) {
		n = snprintf(m, msz,
			     "{\"type\":\"%s\",\"dst\":\"p%d\",\"payload\":{\"sdp\":{\"type\":\"%s\",\"sdp\":"
			     "\"v=0\\r\\no=- "
			     "%llu 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\n%s\"}}}",
			     kind == K_OFFER ? "OFFER" : "ANSWER", to, sdp_type, ts, sdp_fill);
	} else {
		n = snprintf(m, msz,
			     "{\"type\":\"%s\",\"to\":\"p%d\",\"sdp\":\"v=0\\r\\no=- %llu 2 IN IP4 "
			     "127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\n%s\"}",
			     sdp_type, to, ts, sdp_fill);
	}
	if (n <= 0 || n >= (int)msz)
		die("message too long");
	return n;
}

/* The next message of a pair's cycle, from idx to its partner. */
static void send_next(int idx)
{
	struct conn *pc = conn_of(idx & ~1);
	uint32_t k = pc->seq++;
	int kind = mix == MIX_OFFER ? K_OFFER
				    : (k % CYCLE == 0   ? K_OFFER
				       : k % CYCLE == 1 ? K_ANSWER
							: K_CAND);
	char m[MSG_MAX];
	int n = msg_build(m, sizeof m, idx, kind, (unsigned long long)now_ns());
	if (measuring)
		sent++;
	conn_send_msg(idx, m, (size_t)n);
}

/* The send time a relayed message carries, or 0 when it carries none (welcome, error...). */
static uint64_t msg_ts(const char *p, size_t n)
{
	static const char sdp_key[] = "\"sdp\":\"",
			  cand_key[] = "\"candidate\":\"candidate:", o_line[] = "v=0\\r\\no=- ";
	const char *q = memmem(p, n, sdp_key, sizeof sdp_key - 1);
	if (q) {
		q += sizeof sdp_key - 1;
		if ((size_t)(p + n - q) > sizeof o_line && !memcmp(q, o_line, sizeof o_line - 1))
			q += sizeof o_line - 1;
	} else if ((q = memmem(p, n, cand_key, sizeof cand_key - 1))) {
		q += sizeof cand_key - 1;
	} else {
		return 0;
	}
	uint64_t ts = 0;
	while (q < p + n && *q >= '0' && *q <= '9')
		ts = ts * 10 + (uint64_t)(*q++ - '0');
	return ts;
}

static void on_relayed(int idx, uint64_t ts)
{
	if (measuring) {
		msgs++;
		if (nlat == latcap) {
			latcap = latcap ? latcap * 2 : 1 << 16;
			lat = realloc(lat, latcap * sizeof *lat);
			if (!lat)
				die("realloc");
		}
		uint64_t us = (now_ns() - ts) / 1000;
		lat[nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	}
	if (running && rate == 0)
		send_next(idx); /* closed loop: bounce */
}

static void on_text(int idx, const char *p, size_t n, int fin)
{
	struct conn *c = conn_of(idx);
	uint64_t ts = msg_ts(p, n);
	if (ts) {
		if (fin)
			on_relayed(idx, ts);
		else
			c->frag_ts = ts;
		return;
	}
	const char *head = p; /* "type" comes first in every server's messages */
	size_t hn = n < 64 ? n : 64;
	if (c->state == S_JOINING &&
	    (memmem(head, hn, "\"type\":\"welcome\"", 16) || memmem(head, hn, "\"type\":\"OPEN\"", 13))) {
		c->state = S_READY;
		n_ready++;
		return;
	}
	if (memmem(head, hn, "\"type\":\"error\"", 14) || memmem(head, hn, "\"type\":\"ERROR\"", 14)) {
		if (errors++ < 5 || c->state == S_JOINING)
			fprintf(stderr, "iw_siggen: p%d got %.*s\n", idx, (int)(n < 200 ? n : 200), p);
		if (c->state == S_JOINING)
			exit(1); /* refused before it joined: the run cannot start */
	}
}

static void conn_close(int idx, const char *why)
{
	struct conn *c = conn_of(idx);
	if (c->state == S_CLOSED)
		return;
	if (closes++ < 5)
		fprintf(stderr, "iw_siggen: p%d closed: %s\n", idx, why);
	if (c->state < S_READY)
		die("a connection failed while connecting");
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->state = S_CLOSED;
}

/* Frames in rx; returns how many bytes it consumed. */
static size_t parse_frames(int idx)
{
	struct conn *c = conn_of(idx);
	size_t off = 0;
	while (c->state != S_CLOSED) {
		uint8_t *p = c->rx + off;
		size_t avail = c->rxlen - off, h, len;
		if (target == T_FLOOR) {
			if (avail < 4)
				break;
			uint32_t be;
			memcpy(&be, p, 4);
			h = 4;
			len = ntohl(be);
			if (avail < h + len)
				break;
			on_text(idx, (char *)p + h, len, 1);
			off += h + len;
			continue;
		}
		if (avail < 2)
			break;
		int fin = p[0] & 0x80, op = p[0] & 0x0f, masked = p[1] & 0x80;
		len = p[1] & 0x7f;
		h = 2;
		if (len == 126) {
			if (avail < 4)
				break;
			len = (size_t)p[2] << 8 | p[3];
			h = 4;
		} else if (len == 127) {
			if (avail < 10)
				break;
			len = 0;
			for (int i = 2; i < 10; i++)
				len = len << 8 | p[i];
			h = 10;
		}
		if (masked)
			h += 4;
		if (avail < h + len)
			break;
		if (masked)
			for (size_t i = 0; i < len; i++)
				p[h + i] ^= p[h - 4 + (i & 3)];
		if (op == 1 || op == 2) {
			on_text(idx, (char *)p + h, len, fin);
		} else if (op == 0) {
			if (fin && c->frag_ts)
				on_relayed(idx, c->frag_ts);
			if (fin)
				c->frag_ts = 0;
		} else if (op == 9) { /* ping: pong with its payload */
			char pong[126 + 16];
			size_t pn = len < 125 ? len : 125;
			memcpy(pong, p + h, pn);
			uint8_t hdr[6] = { 0x8a,       (uint8_t)(0x80 | pn), c->mask[0],
					   c->mask[1], c->mask[2],           c->mask[3] };
			for (size_t i = 0; i < pn; i++)
				pong[i] ^= (char)c->mask[i & 3];
			uint8_t out[6 + 126];
			memcpy(out, hdr, 6);
			memcpy(out + 6, pong, pn);
			conn_write(idx, out, 6 + pn);
		} else if (op == 8) {
			char why[64];
			snprintf(why, sizeof why, "close frame, code %d",
				 len >= 2 ? p[h] << 8 | p[h + 1] : 0);
			off += h + len;
			conn_close(idx, why);
			break;
		}
		off += h + len;
	}
	return off;
}

static void start_upgrade(int idx)
{
	struct conn *c = conn_of(idx);
	char req[512];
	int n;
	if (target == T_PEERJS)
		n = snprintf(req, sizeof req, "GET /peerjs?key=peerjs&id=p%d&token=t%d HTTP/1.1\r\n", idx,
			     idx);
	else
		n = snprintf(req, sizeof req, "GET /ws HTTP/1.1\r\n");
	n += snprintf(req + n, sizeof req - (size_t)n,
		      "Host: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
		      port_of(idx));
	c->state = S_UPGRADE;
	ep_set(c, idx, EPOLLIN, EPOLL_CTL_MOD);
	conn_write(idx, req, (size_t)n);
}

static void on_readable(int idx)
{
	struct conn *c = conn_of(idx);
	if (c->rxcap - c->rxlen < MSG_MAX) {
		c->rxcap *= 2;
		c->rx = realloc(c->rx, c->rxcap);
		if (!c->rx)
			die("realloc");
	}
	ssize_t r = recv(c->fd, c->rx + c->rxlen, c->rxcap - c->rxlen, 0);
	if (r <= 0) {
		if (r < 0 && errno == EAGAIN)
			return;
		conn_close(idx, r == 0 ? "EOF" : strerror(errno));
		return;
	}
	c->rxlen += (size_t)r;
	if (c->state == S_UPGRADE) {
		uint8_t *end = memmem(c->rx, c->rxlen, "\r\n\r\n", 4);
		if (!end)
			return;
		if (c->rxlen < 12 || memcmp(c->rx, "HTTP/1.1 101", 12)) {
			fprintf(stderr, "iw_siggen: p%d: upgrade refused: %.*s\n", idx, (int)(end - c->rx),
				c->rx);
			exit(1);
		}
		size_t used = (size_t)(end + 4 - c->rx);
		memmove(c->rx, c->rx + used, c->rxlen - used);
		c->rxlen -= used;
		c->state = S_JOINING;
		if (target == T_ICEWAY) {
			char j[128];
			int n = snprintf(j, sizeof j,
					 "{\"type\":\"join\",\"room\":\"bench-%d\",\"peer\":\"p%d\"}",
					 idx >> 1, idx);
			conn_send_msg(idx, j, (size_t)n);
		}
	}
	size_t used = parse_frames(idx);
	if (c->state == S_CLOSED)
		return;
	if (used) {
		memmove(c->rx, c->rx + used, c->rxlen - used);
		c->rxlen -= used;
	}
}

static void conn_open(int idx)
{
	struct conn *c = conn_of(idx);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port_of(idx)) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int one = 1, floor = target == T_FLOOR;
	c->fd = socket(AF_INET, SOCK_STREAM | (floor ? 0 : SOCK_NONBLOCK), 0);
	if (c->fd < 0)
		die("socket");
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->rxcap = RX0;
	c->rx = malloc(c->rxcap);
	uint32_t m = (uint32_t)idx * 2654435761u ^ 0x5bd1e995u;
	memcpy(c->mask, &m, 4);
	if (!c->rx)
		die("malloc");
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) && errno != EINPROGRESS)
		die("connect");
	if (floor) {
		/* the floor server pairs in accept order: wait until it has paired this one */
		if (!(idx & 1))
			return;
		char b = 'x';
		if (send(c->fd, &b, 1, 0) != 1 || recv(conn_of(idx - 1)->fd, &b, 1, 0) != 1)
			die("pairing");
		for (int i = idx - 1; i <= idx; i++) {
			fcntl(conn_of(i)->fd, F_SETFL, O_NONBLOCK);
			conn_of(i)->state = S_READY;
			n_ready++;
			ep_set(conn_of(i), i, EPOLLIN, EPOLL_CTL_ADD);
		}
		return;
	}
	c->state = S_CONNECTING;
	ep_set(c, idx, EPOLLOUT, EPOLL_CTL_ADD);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static double pct_ms(double p)
{
	if (!nlat)
		return -1;
	size_t i = (size_t)(p / 100 * (double)nlat);
	return (double)lat[i < nlat ? i : nlat - 1] / 1000.0;
}

static void report(double cpu, double wait, double wall)
{
	qsort(lat, nlat, sizeof *lat, cmp_u32);
	printf("{\"msgs\":%ld,\"sent\":%ld,\"errors\":%ld,\"closes\":%ld,\"wall_s\":%.3f,\"cpu_s\":%.3f,"
	       "\"wait_s\":%.3f,\"msgs_per_s\":%.1f,\"sent_per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
	       "\"lat_us\":[",
	       msgs, sent, errors, closes, wall, cpu, wait, (double)msgs / wall, (double)sent / wall,
	       pct_ms(50), pct_ms(99));
	for (size_t i = 0; i < nlat; i++)
		printf(i ? ",%u" : "%u", lat[i]);
	printf("]}\n");
	fflush(stdout);
}

static void fill(char *dst, size_t n, const char *line)
{
	/* SDP-like attribute lines, escaped as JSON writes them: a=x-bench:xxxx\r\n */
	size_t i = 0, ll = strlen(line);
	while (i + ll + 1 < n) {
		memcpy(dst + i, line, ll);
		i += ll;
	}
	memset(dst + i, 'x', n - 1 - i);
	dst[n - 1] = '\0';
}

int main(int argc, char **argv)
{
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--target"))
			target = !strcmp(v, "peerjs") ? T_PEERJS : !strcmp(v, "floor") ? T_FLOOR : T_ICEWAY;
		else if (!strcmp(k, "--ports"))
			for (char *s = (char *)v; *s && nports < MAX_PORTS; s += strspn(s, ","))
				ports[nports++] = (int)strtol(s, &s, 10);
		else if (!strcmp(k, "--lo"))
			lo = atoi(v) & ~1;
		else if (!strcmp(k, "--hi"))
			hi = atoi(v) & ~1;
		else if (!strcmp(k, "--rate"))
			rate = atof(v);
		else if (!strcmp(k, "--mix"))
			mix = !strcmp(v, "offer") ? MIX_OFFER : MIX_CYCLE;
		else {
			fprintf(stderr, "iw_siggen: unknown option %s\n", k);
			return 2;
		}
	}
	if (!nports || hi <= lo) {
		fprintf(stderr, "iw_siggen: needs --ports and --hi above --lo\n");
		return 2;
	}
	/* Message sizes: an offer or answer of about OFFER_LEN bytes as iceway receives it, a
	 * candidate of about CAND_LEN. */
	/* padded so that iceway receives them at these sizes; the same SDP and candidate go to
	 * every target, in its own envelope */
	char m[MSG_MAX];
	int t = target, ts_digits = 19;
	target = T_ICEWAY;
	int base = msg_build(m, sizeof m, lo, K_OFFER, 1) - 1 + ts_digits;
	fill(sdp_fill, (size_t)(OFFER_LEN - base + 1),
	     "a=x-bench:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\\r\\n");
	base = msg_build(m, sizeof m, lo, K_CAND, 1) - 1 + ts_digits;
	if (CAND_LEN - base > 7) {
		memcpy(cand_fill, " ufrag ", 7);
		memset(cand_fill + 7, 'x', (size_t)(CAND_LEN - base - 7));
	}
	target = t;
	memcpy(legacy_fill, "a=x-bench:", 10);
	memset(legacy_fill + 10, 'x', LEGACY_SDP);
	struct rlimit rl;
	int need = hi - lo + 256;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)need) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)need ? rl.rlim_max : (rlim_t)need;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	conns = calloc((size_t)(hi - lo), sizeof *conns);
	ep = epoll_create1(0);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	if (!conns || ep < 0 || tfd < 0)
		die("setup");
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_STDIN };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev))
		die("epoll stdin");
	ev.data.u64 = EV_TIMER;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev))
		die("epoll timer");

	uint64_t t_conn = now_ns(), t_start = 0, t_measure = 0;
	double cpu0 = 0, wait0 = 0;
	long paced = 0;
	int next = lo, said_ready = 0;
	char cmd[256];
	size_t cmdlen = 0;
	struct epoll_event evs[EVS];
	for (;;) {
		/* Open connections BATCH at a time (the servers' listen backlogs are finite). */
		while (next < hi && (target == T_FLOOR || next - lo - n_ready < BATCH))
			conn_open(next++);
		if (!said_ready && n_ready == hi - lo) {
			said_ready = 1;
			int ob = msg_build(m, sizeof m, lo, K_OFFER, now_ns()),
			    cb = msg_build(m, sizeof m, lo, K_CAND, now_ns());
			printf("{\"ready\":%d,\"connect_s\":%.3f,\"offer_bytes\":%d,\"candidate_bytes\":%d}"
			       "\n",
			       hi - lo, (double)(now_ns() - t_conn) / 1e9, ob, cb);
			fflush(stdout);
		}
		if (!said_ready && now_ns() - t_conn > (uint64_t)CONNECT_TIMEOUT_S * 1000000000u) {
			fprintf(stderr, "iw_siggen: %ld of %d connections ready after %d s\n", n_ready,
				hi - lo, CONNECT_TIMEOUT_S);
			return 1;
		}
		int n = epoll_wait(ep, evs, EVS, said_ready ? -1 : 1000);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int e = 0; e < n; e++) {
			uint64_t u = evs[e].data.u64;
			if (u == EV_TIMER) {
				uint64_t ticks;
				if (read(tfd, &ticks, sizeof ticks) < 0)
					continue;
				/* open loop: what is due by now, the pairs in turn */
				long due = (long)((double)(now_ns() - t_start) / 1e9 * rate);
				int npairs = (hi - lo) / 2;
				while (running && paced < due) {
					int pair = (int)(paced++ % npairs);
					int a = lo + 2 * pair;
					send_next(conn_of(a)->seq & 1 ? a + 1 : a);
				}
				continue;
			}
			if (u == EV_STDIN) {
				ssize_t r = read(0, cmd + cmdlen, sizeof cmd - 1 - cmdlen);
				if (r <= 0)
					return 0; /* the bench went away */
				cmdlen += (size_t)r;
				char *nl;
				while ((nl = memchr(cmd, '\n', cmdlen))) {
					*nl = '\0';
					if (!strcmp(cmd, "start")) {
						running = 1;
						t_start = now_ns();
						if (rate > 0) {
							struct itimerspec its = { .it_interval.tv_nsec =
											  1000000,
										  .it_value.tv_nsec =
											  1000000 };
							timerfd_settime(tfd, 0, &its, NULL);
						} else {
							for (int i = lo; i < hi; i += 2)
								send_next(i);
						}
					} else if (!strcmp(cmd, "measure")) {
						measuring = 1;
						msgs = sent = 0;
						nlat = 0;
						cpu0 = cpu_s();
						wait0 = wait_s();
						t_measure = now_ns();
					} else if (!strcmp(cmd, "stop")) {
						double wall = (double)(now_ns() - t_measure) / 1e9;
						measuring = running = 0;
						struct itimerspec off = { 0 };
						timerfd_settime(tfd, 0, &off, NULL);
						report(cpu_s() - cpu0, wait_s() - wait0, wall);
					} else if (!strcmp(cmd, "exit")) {
						return 0;
					}
					size_t used = (size_t)(nl + 1 - cmd);
					memmove(cmd, nl + 1, cmdlen - used);
					cmdlen -= used;
				}
				if (cmdlen == sizeof cmd - 1)
					cmdlen = 0;
				continue;
			}
			int idx = (int)u;
			struct conn *c = conn_of(idx);
			if (c->state == S_CLOSED)
				continue;
			if (c->state == S_CONNECTING) {
				int err = 0;
				socklen_t el = sizeof err;
				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
				if (err) {
					errno = err;
					die("connect");
				}
				start_upgrade(idx);
				continue;
			}
			if (evs[e].events & EPOLLOUT)
				conn_flush(idx);
			if (evs[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				on_readable(idx);
		}
	}
}
