/* Listeners behind a load balancer: accept, read the PROXY header a trusted source sends, hand
 * the socket on. The header is peeked and then exactly its bytes are consumed, so whatever the
 * client sent after it (an HTTP request, a TLS ClientHello) stays in the socket for lws. */
#include "signaling/proxy_in.h"

#include <errno.h>
#include <ev.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proxy.h"
#include "common/sock.h"

enum {
	LISTEN_MAX = 8,
	ACCEPT_BATCH = 64, /* connections taken per wake-up, so a flood does not starve the loop */
	RETRY_MS = 10,     /* a header cut across segments: look again this soon */
	BACKLOG = 4096,
};

struct pend {
	ev_io io;
	ev_timer tm;
	struct iw_proxy_in *p;
	void *listener;
	struct iw_addr peer;
	ev_tstamp deadline;
	int fd;
	int next_free; /* index, -1 at the end of the free list */
	bool trusted;
};

struct lis {
	ev_io io;
	struct iw_proxy_in *p;
	void *listener;
};

struct iw_proxy_in {
	struct ev_loop *loop;
	struct iw_proxy_in_cfg cfg;
	iw_proxy_in_fn fn;
	void *arg;
	struct lis lis[LISTEN_MAX];
	unsigned n_lis;
	struct pend *pend; /* cfg.max_pending slots, allocated once */
	unsigned n_slots, n_pend;
	int free_head;
	struct iw_proxy_in_stats st;
};

bool iw_proxy_in_trusted(const struct iw_proxy_in_cfg *cfg, const struct iw_addr *a)
{
	return iw_proxy_trusted(cfg->trusted, cfg->n_trusted, a);
}

static bool trusted(const struct iw_proxy_in *p, const struct iw_addr *a)
{
	return iw_proxy_in_trusted(&p->cfg, a);
}

/* ---- Forwarded and X-Forwarded-For ---- */

enum { FWD_HOPS_MAX = 32, FWD_ENTRY_MAX = 64 };

/* One entry of a comma-separated list, [b, e) trimmed of spaces and tabs. */
static void trim(const char **b, const char **e)
{
	while (*b < *e && (**b == ' ' || **b == '\t'))
		(*b)++;
	while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
}

/* The for= value of one Forwarded element ("for=192.0.2.1;proto=https"), quotes removed, into
 * out; false when it has none or it does not fit. */
static bool fwd_for(const char *b, const char *e, char *out, size_t cap)
{
	while (b < e) {
		const char *semi = memchr(b, ';', (size_t)(e - b)), *pe = semi ? semi : e, *pb = b;
		trim(&pb, &pe);
		if (pe - pb > 4 && strncasecmp(pb, "for=", 4) == 0) {
			pb += 4;
			if (pe - pb >= 2 && *pb == '"' && pe[-1] == '"') {
				pb++;
				pe--;
			}
			if ((size_t)(pe - pb) >= cap)
				return false;
			memcpy(out, pb, (size_t)(pe - pb));
			out[pe - pb] = '\0';
			return true;
		}
		b = semi ? semi + 1 : e;
	}
	return false;
}

/* The hops a header lists, left to right (the last FWD_HOPS_MAX of them); an entry that is not
 * an address has family 0. */
static unsigned fwd_hops(const char *h, bool rfc7239, struct iw_addr *hops)
{
	unsigned n = 0;
	const char *b = h, *end = h + strlen(h);

	while (b <= end) {
		const char *comma = memchr(b, ',', (size_t)(end - b)), *e = comma ? comma : end;
		char v[FWD_ENTRY_MAX];
		struct iw_addr *a = &hops[n % FWD_HOPS_MAX];
		bool ok;

		trim(&b, &e);
		if (rfc7239) {
			ok = fwd_for(b, e, v, sizeof v);
		} else {
			ok = (size_t)(e - b) < sizeof v;
			if (ok) {
				memcpy(v, b, (size_t)(e - b));
				v[e - b] = '\0';
			}
		}
		if (!ok || iw_addr_parse(a, v) < 0)
			memset(a, 0, sizeof *a);
		n++;
		if (!comma)
			break;
		b = comma + 1;
	}
	return n;
}

bool iw_proxy_in_forwarded(const struct iw_proxy_in_cfg *cfg, const struct iw_addr *peer, const char *fwd,
			   const char *xff, struct iw_addr *client)
{
	struct iw_addr hops[FWD_HOPS_MAX];
	const char *h = fwd && fwd[0] ? fwd : xff;
	bool from_header = false;
	unsigned n, first;

	*client = *peer;
	if (!h || !h[0] || !iw_proxy_in_trusted(cfg, peer))
		return false;
	n = fwd_hops(h, h == fwd, hops);
	first = n > FWD_HOPS_MAX ? n - FWD_HOPS_MAX : 0;
	/* From the right: each trusted hop vouches for the one to its left. When every hop read
	 * is a trusted proxy, the leftmost stands. */
	for (unsigned i = n; i > first; i--) {
		const struct iw_addr *a = &hops[(i - 1) % FWD_HOPS_MAX];
		if (!a->family)
			break; /* not an address: trust ends at the hop before it */
		*client = *a;
		from_header = true;
		if (!iw_proxy_in_trusted(cfg, a))
			break;
	}
	return from_header;
}

static void pend_release(struct iw_proxy_in *p, struct pend *c)
{
	ev_io_stop(p->loop, &c->io);
	ev_timer_stop(p->loop, &c->tm);
	c->fd = -1;
	c->next_free = p->free_head;
	p->free_head = (int)(c - p->pend);
	p->st.waiting = --p->n_pend;
}

static void pend_refuse(struct iw_proxy_in *p, struct pend *c, uint64_t *counter, const char *why)
{
	char a[IW_ADDR_STRLEN];
	(*counter)++;
	IW_LOG_RL(IW_LOG_INFO, 10, "refusing a connection from %s: %s",
		  iw_addr_fmt(&c->peer, true, a, sizeof a), why);
	close(c->fd);
	pend_release(p, c);
}

static void pend_done(struct iw_proxy_in *p, struct pend *c, const struct iw_addr *client)
{
	int fd = c->fd;
	void *l = c->listener;
	struct iw_addr who = *client;
	pend_release(p, c);
	p->fn(p->arg, l, fd, &who);
}

/* Look at the first bytes: a whole header, a part of one, or none. */
static void pend_read(struct iw_proxy_in *p, struct pend *c)
{
	uint8_t buf[IW_PROXY_MAX];
	struct iw_proxy_hdr h;
	const char *why = "no PROXY header";
	ssize_t n = recv(c->fd, buf, sizeof buf, MSG_PEEK);
	int rc;

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		close(c->fd); /* gone before saying anything */
		pend_release(p, c);
		return;
	}
	if (n < 0)
		return;
	rc = iw_proxy_parse(buf, (size_t)n, &h, &why);
	if (!c->trusted) {
		if (rc == -EPROTO) {
			p->st.direct++;
			pend_done(p, c, &c->peer);
		} else if (rc != 0) {
			pend_refuse(p, c, &p->st.refused_untrusted,
				    "a PROXY header from a source not in proxy-trusted");
		} else {
			goto later;
		}
		return;
	}
	if (rc == -EPROTO) {
		pend_refuse(p, c, &p->st.refused_missing, "proxy-trusted source sent no PROXY header");
	} else if (rc < 0) {
		pend_refuse(p, c, &p->st.refused_bad, why);
	} else if (rc == 0) {
		goto later;
	} else if (recv(c->fd, buf, (size_t)rc, 0) != rc) {
		pend_refuse(p, c, &p->st.refused_bad, "cannot consume the PROXY header");
	} else {
		p->st.accepted++;
		pend_done(p, c, h.local ? &c->peer : &h.src);
	}
	return;
later:
	/* The rest is still on its way: the bytes peeked stay readable, so poll again shortly
	 * instead of spinning on them. */
	ev_io_stop(p->loop, &c->io);
	ev_timer_stop(p->loop, &c->tm);
	ev_timer_set(&c->tm, RETRY_MS / 1000.0, 0.);
	ev_timer_start(p->loop, &c->tm);
}

static void on_pend_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct pend *c = (struct pend *)w;
	(void)loop;
	(void)revents;
	pend_read(c->p, c);
}

static void on_pend_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pend *c = (struct pend *)((char *)w - offsetof(struct pend, tm));
	(void)revents;
	if (ev_now(loop) >= c->deadline) {
		pend_refuse(c->p, c, &c->p->st.refused_timeout, "no PROXY header or request in time");
		return;
	}
	ev_timer_set(&c->tm, c->deadline - ev_now(loop), 0.);
	ev_timer_start(loop, &c->tm);
	if (!ev_is_active(&c->io))
		ev_io_start(loop, &c->io);
	pend_read(c->p, c);
}

static void pend_start(struct iw_proxy_in *p, struct lis *l, int fd, const struct sockaddr *sa)
{
	struct pend *c;

	if (p->free_head < 0 || p->n_pend >= p->cfg.max_pending) {
		p->st.refused_full++;
		IW_LOG_RL(IW_LOG_WARN, 10, "refusing a connection: %u already wait for their first bytes",
			  p->n_pend);
		close(fd);
		return;
	}
	c = &p->pend[p->free_head];
	p->free_head = c->next_free;
	p->st.waiting = ++p->n_pend;
	c->p = p;
	c->fd = fd;
	c->listener = l->listener;
	if (iw_addr_from_sa(&c->peer, sa) < 0)
		memset(&c->peer, 0, sizeof c->peer);
	c->trusted = trusted(p, &c->peer);
	c->deadline = ev_now(p->loop) + p->cfg.timeout_ms / 1000.0;
	ev_io_init(&c->io, on_pend_io, fd, EV_READ);
	ev_timer_init(&c->tm, on_pend_timer, p->cfg.timeout_ms / 1000.0, 0.);
	ev_io_start(p->loop, &c->io);
	ev_timer_start(p->loop, &c->tm);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct lis *l = (struct lis *)w;
	(void)loop;
	(void)revents;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		int fd = accept4(w->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				IW_LOG_RL(IW_LOG_WARN, 10, "accept: %s", strerror(errno));
			return;
		}
		pend_start(l->p, l, fd, (struct sockaddr *)&ss);
	}
}

struct iw_proxy_in *iw_proxy_in_create(struct ev_loop *loop, const struct iw_proxy_in_cfg *cfg,
				       iw_proxy_in_fn fn, void *arg)
{
	struct iw_proxy_in *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->loop = loop;
	p->cfg = *cfg;
	p->fn = fn;
	p->arg = arg;
	p->n_slots = cfg->max_pending ? cfg->max_pending : 1;
	p->pend = calloc(p->n_slots, sizeof *p->pend);
	if (!p->pend) {
		free(p);
		return NULL;
	}
	for (unsigned i = 0; i < p->n_slots; i++) {
		p->pend[i].fd = -1;
		p->pend[i].next_free = i + 1 < p->n_slots ? (int)i + 1 : -1;
	}
	p->free_head = 0;
	return p;
}

int iw_proxy_in_listen(struct iw_proxy_in *p, const struct iw_addr *a, void *listener, const char **why)
{
	const struct iw_sock_spec spec = { .type = SOCK_STREAM,
					   .flags = IW_SOCK_REUSEADDR | IW_SOCK_V6ONLY,
					   .backlog = BACKLOG };
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	struct iw_addr bound;
	struct lis *l;
	int fd;

	if (p->n_lis >= LISTEN_MAX) {
		*why = "too many listeners";
		return -ENOSPC;
	}
	fd = iw_sock_open(a, &spec, why);
	if (fd < 0)
		return fd;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
	    iw_addr_from_sa(&bound, (struct sockaddr *)&ss) < 0) {
		close(fd);
		*why = "cannot read the bound port";
		return -EINVAL;
	}
	l = &p->lis[p->n_lis++];
	l->p = p;
	l->listener = listener;
	ev_io_init(&l->io, on_accept, fd, EV_READ);
	ev_io_start(p->loop, &l->io);
	return bound.port;
}

void iw_proxy_in_configure(struct iw_proxy_in *p, const struct iw_proxy_in_cfg *cfg)
{
	unsigned slots = p->n_slots;
	p->cfg = *cfg;
	if (p->cfg.max_pending > slots)
		p->cfg.max_pending = slots; /* the pool was sized at start-up */
}

void iw_proxy_in_close(struct iw_proxy_in *p)
{
	for (unsigned i = 0; i < p->n_lis; i++) {
		ev_io_stop(p->loop, &p->lis[i].io);
		close(p->lis[i].io.fd);
	}
	p->n_lis = 0;
	for (unsigned i = 0; i < p->n_slots; i++) {
		if (p->pend[i].fd >= 0) {
			close(p->pend[i].fd);
			pend_release(p, &p->pend[i]);
		}
	}
}

const struct iw_proxy_in_stats *iw_proxy_in_stats(const struct iw_proxy_in *p)
{
	return &p->st;
}

void iw_proxy_in_destroy(struct iw_proxy_in *p)
{
	if (!p)
		return;
	iw_proxy_in_close(p);
	free(p->pend);
	free(p);
}
