/* Relay pool: selection is pure logic; the poller thread does blocking HTTP/1.0 GETs with a
 * deadline and hands results to the lws thread through a mutex-protected snapshot. */
#include "signaling/relays.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

enum { SCRAPE_MAX = 1024 * 1024 }; /* a relay's exposition is a few KB; larger is refused */

static bool starts(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

int iw_relays_spec_parse(const char *s, struct iw_relay_spec *out, const char **why)
{
	const char *comma = strchr(s, ',');
	size_t ulen = comma ? (size_t)(comma - s) : strlen(s);
	const char *host;
	size_t hlen;

	memset(out, 0, sizeof *out);
	if (!starts(s, "turn:") && !starts(s, "turns:")) {
		*why = "must start with turn: or turns:";
		return -EINVAL;
	}
	if (ulen >= sizeof out->turn) {
		*why = "URI too long";
		return -EINVAL;
	}
	memcpy(out->turn, s, ulen);
	host = strchr(out->turn, ':') + 1;
	hlen = strcspn(host, "?");
	if (!hlen) {
		*why = "URI has no host";
		return -EINVAL;
	}
	/* The relay answers Binding on its TURN port, so a plain turn: URI doubles as STUN. */
	if (starts(out->turn, "turn:"))
		snprintf(out->stun, sizeof out->stun, "stun:%.*s", (int)hlen, host);
	if (!comma)
		return 0;
	if (!starts(comma + 1, "metrics=http://")) {
		*why = "after the URI only metrics=http://HOST:PORT/PATH may follow";
		return -EINVAL;
	}
	if (strlen(comma + 9) >= sizeof out->metrics || !comma[9 + 7]) {
		*why = "metrics URL too long or without a host";
		return -EINVAL;
	}
	strcpy(out->metrics, comma + 9);
	return 0;
}

/* Does the line at p (up to end) carry a sample of name? Then *v is its value's start. */
static bool sample_of(const char *p, const char *end, const char *name, const char **v)
{
	size_t n = strlen(name);
	if ((size_t)(end - p) <= n || memcmp(p, name, n) != 0)
		return false;
	p += n;
	if (*p == '{') {
		const char *c = memchr(p, '}', (size_t)(end - p));
		if (!c)
			return false;
		p = c + 1;
	}
	if (p >= end || (*p != ' ' && *p != '\t'))
		return false;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	*v = p;
	return true;
}

int iw_relays_gauge_parse(const char *text, size_t len, const char *name, double *val)
{
	const char *p = text, *end = text + len;
	bool found = false;
	double sum = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end, *v;
		if (*p != '#' && sample_of(p, eol, name, &v)) {
			char num[64], *e;
			size_t k = strcspn(v, " \t\r\n");
			if (k > (size_t)(eol - v))
				k = (size_t)(eol - v);
			if (!k || k >= sizeof num)
				return -EINVAL;
			memcpy(num, v, k);
			num[k] = 0;
			double d = strtod(num, &e);
			if (*e || !isfinite(d) || d < 0)
				return -EINVAL;
			sum += d;
			found = true;
		}
		p = eol + 1;
	}
	if (!found)
		return -ENOENT;
	*val = sum;
	return 0;
}

int iw_relays_select(const struct iw_relay_state *st, unsigned n, unsigned *rr)
{
	int best = -ENOENT;

	if (!n)
		return -ENOENT;
	for (unsigned k = 0; k < n; k++) {
		unsigned i = (*rr + k) % n;
		if (st[i].up && (best < 0 || st[i].load < st[best].load))
			best = (int)i;
	}
	if (best >= 0)
		*rr = ((unsigned)best + 1) % n;
	return best;
}

struct iw_relays {
	struct iw_relays_cfg cfg;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	struct iw_relay_state st[IW_RELAYS_MAX]; /* under mu */
	uint64_t scrapes_failed[IW_RELAYS_MAX];  /* under mu */
	uint64_t fallbacks;                      /* under mu */
	unsigned rr;                             /* under mu */
	char *buf;                               /* the poller's alone */
};

static int split_url(const char *url, char *host, size_t hcap, char *port, size_t pcap, const char **path)
{
	const char *h = url + 7, *slash = strchr(h, '/'), *colon;
	size_t hl = slash ? (size_t)(slash - h) : strlen(h);

	*path = slash ? slash : "/";
	colon = h[0] == '[' ? memchr(h, ']', hl) : h;
	colon = colon ? memchr(colon, ':', hl - (size_t)(colon - h)) : NULL;
	size_t nl = colon ? (size_t)(colon - h) : hl;
	size_t pl = colon ? hl - nl - 1 : 2;
	if (!nl || nl >= hcap || pl >= pcap || !pl)
		return -EINVAL;
	if (h[0] == '[') {
		h++;
		nl -= 2;
	}
	memcpy(host, h, nl);
	host[nl] = 0;
	if (colon) {
		memcpy(port, colon + 1, pl);
		port[pl] = 0;
	} else {
		strcpy(port, "80");
	}
	return 0;
}

static int wait_fd(int fd, short ev, uint64_t deadline)
{
	uint64_t now = iw_clock_ms();
	struct pollfd p = { .fd = fd, .events = ev };
	if (now >= deadline)
		return -ETIMEDOUT;
	int n = poll(&p, 1, (int)(deadline - now));
	if (n < 0)
		return -errno;
	return n ? 0 : -ETIMEDOUT;
}

/* GET url into buf (NUL-terminated body). Returns the body length or a negative errno. */
static long http_get(const char *url, char *buf, size_t cap, unsigned timeout_ms, const char **body)
{
	char host[128], port[16], req[512];
	const char *path;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	uint64_t deadline = iw_clock_ms() + timeout_ms;
	long rc = -EINVAL;
	size_t got = 0;
	int fd = -1, n;

	if (split_url(url, host, sizeof host, port, sizeof port, &path) < 0)
		return -EINVAL;
	/* Numeric hosts resolve at once; a name may block in the resolver, off the lws thread. */
	if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai)
		return -EHOSTUNREACH;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
		rc = -errno;
		goto out;
	}
	if ((rc = wait_fd(fd, POLLOUT, deadline)) < 0)
		goto out;
	int err = 0;
	socklen_t el = sizeof err;
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
	if (err) {
		rc = -err;
		goto out;
	}
	n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\nAccept: text/plain\r\n\r\n", path,
		     host);
	if (n < 0 || (size_t)n >= sizeof req || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		rc = -EIO;
		goto out;
	}
	for (;;) {
		if ((rc = wait_fd(fd, POLLIN, deadline)) < 0)
			goto out;
		ssize_t r = recv(fd, buf + got, cap - 1 - got, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r < 0) {
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got >= cap - 1) {
			rc = -EFBIG;
			goto out;
		}
	}
	buf[got] = 0;
	if (strncmp(buf, "HTTP/1.", 7) != 0 || got < 12 || strncmp(buf + 8, " 200", 4) != 0) {
		rc = -EPROTO;
		goto out;
	}
	char *b = strstr(buf, "\r\n\r\n");
	if (!b) {
		rc = -EPROTO;
		goto out;
	}
	*body = b + 4;
	rc = (long)(got - (size_t)(b + 4 - buf));
out:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return rc;
}

static struct iw_relay_state scrape(struct iw_relays *r, unsigned i)
{
	const struct iw_relay_spec *s = &r->cfg.relay[i];
	struct iw_relay_state st = { .up = true };
	const char *body = NULL;
	double v;

	if (!s->metrics[0])
		return st;
	long n = http_get(s->metrics, r->buf, SCRAPE_MAX, r->cfg.timeout_ms, &body);
	if (n < 0) {
		IW_DEBUG("relay %s: metrics %s: %s", s->turn, s->metrics, strerror((int)-n));
		st.up = false;
		return st;
	}
	if (iw_relays_gauge_parse(body, (size_t)n, IW_RELAYS_LOAD_METRIC, &v) < 0) {
		IW_DEBUG("relay %s: no usable %s at %s", s->turn, IW_RELAYS_LOAD_METRIC, s->metrics);
		st.up = false;
		return st;
	}
	st.load = (uint64_t)v;
	/* A draining relay refuses new allocations (300 or 508): send nobody there. */
	if (iw_relays_gauge_parse(body, (size_t)n, IW_RELAYS_DRAIN_METRIC, &v) == 0 && v > 0)
		st.up = false;
	return st;
}

static void poll_all(struct iw_relays *r)
{
	unsigned n_up = 0;

	for (unsigned i = 0; i < r->cfg.n; i++) {
		struct iw_relay_state st = scrape(r, i);
		pthread_mutex_lock(&r->mu);
		if (r->st[i].up != st.up)
			IW_INFO("relay %s is %s", r->cfg.relay[i].turn, st.up ? "up" : "down");
		if (!st.up)
			r->scrapes_failed[i]++;
		r->st[i] = st;
		pthread_mutex_unlock(&r->mu);
		n_up += st.up;
	}
	if (r->cfg.n && !n_up)
		IW_WARN("no relay answers its metrics: iceServers list all %u relays", r->cfg.n);
}

static void *poller(void *arg)
{
	struct iw_relays *r = arg;
	struct timespec ts;

	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += r->cfg.poll_interval_ms / 1000;
		ts.tv_nsec += (long)(r->cfg.poll_interval_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!r->stop && pthread_cond_timedwait(&r->cv, &r->mu, &ts) != ETIMEDOUT)
			;
		if (r->stop)
			break;
		pthread_mutex_unlock(&r->mu);
		poll_all(r);
		pthread_mutex_lock(&r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

struct iw_relays *iw_relays_create(const struct iw_relays_cfg *cfg, const char **why)
{
	struct iw_relays *r = calloc(1, sizeof *r);
	pthread_condattr_t ca;

	if (!r || !(r->buf = malloc(SCRAPE_MAX))) {
		*why = "out of memory";
		goto fail;
	}
	r->cfg = *cfg;
	if (!r->cfg.poll_interval_ms)
		r->cfg.poll_interval_ms = 5000;
	if (!r->cfg.timeout_ms)
		r->cfg.timeout_ms = 1000;
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	for (unsigned i = 0; i < r->cfg.n; i++)
		r->st[i].up = true; /* so the first scrape logs only the ones that are down */
	poll_all(r);
	if (pthread_create(&r->thread, NULL, poller, r) != 0) {
		*why = "cannot start the relay poller thread";
		goto fail;
	}
	r->started = true;
	return r;
fail:
	iw_relays_destroy(r);
	return NULL;
}

void iw_relays_destroy(struct iw_relays *r)
{
	if (!r)
		return;
	if (r->started) {
		pthread_mutex_lock(&r->mu);
		r->stop = true;
		pthread_cond_signal(&r->cv);
		pthread_mutex_unlock(&r->mu);
		pthread_join(r->thread, NULL);
	}
	if (r->buf) {
		pthread_cond_destroy(&r->cv);
		pthread_mutex_destroy(&r->mu);
	}
	free(r->buf);
	free(r);
}

static void add_uris(const struct iw_relay_spec *s, const char **turn, unsigned *n_turn, const char **stun,
		     unsigned *n_stun, unsigned cap)
{
	if (*n_turn < cap)
		turn[(*n_turn)++] = s->turn;
	if (s->stun[0] && *n_stun < cap)
		stun[(*n_stun)++] = s->stun;
}

void iw_relays_pick(struct iw_relays *r, const char **turn, unsigned *n_turn, const char **stun,
		    unsigned *n_stun, unsigned cap)
{
	int i;

	*n_turn = *n_stun = 0;
	pthread_mutex_lock(&r->mu);
	i = iw_relays_select(r->st, r->cfg.n, &r->rr);
	if (i < 0)
		r->fallbacks++;
	pthread_mutex_unlock(&r->mu);
	if (i >= 0) {
		add_uris(&r->cfg.relay[i], turn, n_turn, stun, n_stun, cap);
		return;
	}
	/* None answers its metrics: every relay is better than none. */
	for (unsigned k = 0; k < r->cfg.n; k++)
		add_uris(&r->cfg.relay[k], turn, n_turn, stun, n_stun, cap);
}

void iw_relays_stats_get(struct iw_relays *r, struct iw_relays_stats *out)
{
	pthread_mutex_lock(&r->mu);
	out->n = r->cfg.n;
	for (unsigned i = 0; i < r->cfg.n; i++) {
		out->relay[i].turn = r->cfg.relay[i].turn;
		out->relay[i].up = r->st[i].up;
		out->relay[i].load = r->st[i].load;
		out->relay[i].scrapes_failed = r->scrapes_failed[i];
	}
	out->none_up = r->fallbacks;
	pthread_mutex_unlock(&r->mu);
}
