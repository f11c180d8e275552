/* Prometheus text exposition: a whole-line bounded writer and a tiny HTTP/1.1 server for
 * GET /metrics on its own thread. Not on any packet path. */
#include "common/metrics.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/clock.h"
#include "common/http.h"
#include "common/log.h"
#include "common/sock.h"

void iw_metrics_buf_init(struct iw_metrics_buf *b, char *mem, size_t cap)
{
	b->p = mem;
	b->len = 0;
	b->cap = cap;
	b->overflow = false;
	b->invalid = false;
	if (cap)
		mem[0] = '\0';
}

static bool is_alpha_(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool iw_metrics_name_is_valid(const char *name)
{
	if (!name || !(is_alpha_(name[0]) || name[0] == ':'))
		return false;
	for (const char *p = name + 1; *p; p++)
		if (!is_alpha_(*p) && !is_digit(*p) && *p != ':')
			return false;
	return true;
}

bool iw_metrics_label_name_is_valid(const char *name)
{
	/* Names starting with "__" are reserved for Prometheus itself. */
	if (!name || !is_alpha_(name[0]) || (name[0] == '_' && name[1] == '_'))
		return false;
	for (const char *p = name + 1; *p; p++)
		if (!is_alpha_(*p) && !is_digit(*p))
			return false;
	return true;
}

/* A line under construction: appended to the buffer tail, committed only when complete. */
struct line {
	struct iw_metrics_buf *b;
	size_t at;
	bool full;
};

static void line_begin(struct line *l, struct iw_metrics_buf *b)
{
	l->b = b;
	l->at = b->len;
	l->full = b->overflow;
}

static void lput(struct line *l, const char *s, size_t n)
{
	/* Keep one byte for the NUL that makes the buffer a C string. */
	if (l->full || l->b->cap - l->at <= n) {
		l->full = true;
		return;
	}
	memcpy(l->b->p + l->at, s, n);
	l->at += n;
}

static void lputs(struct line *l, const char *s)
{
	lput(l, s, strlen(s));
}

static void lprintf(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lprintf(struct line *l, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof tmp) {
		l->full = true;
		return;
	}
	lput(l, tmp, (size_t)n);
}

/* Escape '\' and newline (HELP text); with quote also '"' (label values). */
static void lput_escaped(struct line *l, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			lputs(l, "\\\\");
		else if (*s == '\n')
			lputs(l, "\\n");
		else if (quote && *s == '"')
			lputs(l, "\\\"");
		else
			lput(l, s, 1);
	}
}

static int line_end(struct line *l)
{
	lput(l, "\n", 1);
	if (l->full) {
		l->b->overflow = true;
		l->b->p[l->b->len] = '\0';
		return -EMSGSIZE;
	}
	l->b->len = l->at;
	l->b->p[l->b->len] = '\0';
	return 0;
}

static int refuse(struct iw_metrics_buf *b)
{
	b->invalid = true;
	return -EINVAL;
}

int iw_metrics_header(struct iw_metrics_buf *b, const char *name, enum iw_metrics_type type, const char *help)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	struct line l;

	if (!iw_metrics_name_is_valid(name) || (unsigned)type > IW_METRICS_HISTOGRAM)
		return refuse(b);
	if (help) {
		line_begin(&l, b);
		lputs(&l, "# HELP ");
		lputs(&l, name);
		lputs(&l, " ");
		lput_escaped(&l, help, false);
		if (line_end(&l) < 0)
			return -EMSGSIZE;
	}
	line_begin(&l, b);
	lputs(&l, "# TYPE ");
	lputs(&l, name);
	lputs(&l, " ");
	lputs(&l, types[type]);
	return line_end(&l);
}

/* Go's ParseFloat spelling for the specials; shortest %g that reads back exactly. */
static void fmt_double(char *out, size_t cap, double v)
{
	if (isnan(v)) {
		snprintf(out, cap, "NaN");
	} else if (isinf(v)) {
		snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
	} else {
		snprintf(out, cap, "%.15g", v);
		if (strtod(out, NULL) != v)
			snprintf(out, cap, "%.17g", v);
	}
}

static bool labels_valid(const struct iw_metrics_label *labels, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!iw_metrics_label_name_is_valid(labels[i].name) || !labels[i].value)
			return false;
	return true;
}

/* name{a="x",b="y"[,extra_name="extra_value"]} */
static void put_series(struct line *l, const char *name, const char *suffix,
		       const struct iw_metrics_label *labels, size_t n, const char *extra_name,
		       const char *extra_value)
{
	lputs(l, name);
	lputs(l, suffix);
	if (n == 0 && !extra_name)
		return;
	lputs(l, "{");
	for (size_t i = 0; i < n; i++) {
		if (i)
			lputs(l, ",");
		lputs(l, labels[i].name);
		lputs(l, "=\"");
		lput_escaped(l, labels[i].value, true);
		lputs(l, "\"");
	}
	if (extra_name) {
		if (n)
			lputs(l, ",");
		lputs(l, extra_name);
		lputs(l, "=\"");
		lputs(l, extra_value);
		lputs(l, "\"");
	}
	lputs(l, "}");
}

int iw_metrics_counter(struct iw_metrics_buf *b, const char *name, const struct iw_metrics_label *labels,
		       size_t n_labels, uint64_t value)
{
	struct line l;

	if (!iw_metrics_name_is_valid(name) || !labels_valid(labels, n_labels))
		return refuse(b);
	line_begin(&l, b);
	put_series(&l, name, "", labels, n_labels, NULL, NULL);
	lprintf(&l, " %llu", (unsigned long long)value);
	return line_end(&l);
}

int iw_metrics_gauge(struct iw_metrics_buf *b, const char *name, const struct iw_metrics_label *labels,
		     size_t n_labels, double value)
{
	struct line l;
	char num[40];

	if (!iw_metrics_name_is_valid(name) || !labels_valid(labels, n_labels))
		return refuse(b);
	fmt_double(num, sizeof num, value);
	line_begin(&l, b);
	put_series(&l, name, "", labels, n_labels, NULL, NULL);
	lputs(&l, " ");
	lputs(&l, num);
	return line_end(&l);
}

int iw_metrics_counter1(struct iw_metrics_buf *b, const char *name, const char *help, uint64_t value)
{
	int rc = iw_metrics_header(b, name, IW_METRICS_COUNTER, help);
	return rc < 0 ? rc : iw_metrics_counter(b, name, NULL, 0, value);
}

int iw_metrics_gauge1(struct iw_metrics_buf *b, const char *name, const char *help, double value)
{
	int rc = iw_metrics_header(b, name, IW_METRICS_GAUGE, help);
	return rc < 0 ? rc : iw_metrics_gauge(b, name, NULL, 0, value);
}

int iw_metrics_histogram(struct iw_metrics_buf *b, const char *name, const struct iw_metrics_label *labels,
			 size_t n_labels, const struct iw_metrics_hist *h)
{
	struct line l;
	char le[40], num[40];
	uint64_t cum = 0;
	int ret = 0;

	if (!iw_metrics_name_is_valid(name) || !labels_valid(labels, n_labels))
		return refuse(b);
	for (size_t i = 0; i + 1 < h->n_bounds; i++)
		if (!(h->bounds[i] < h->bounds[i + 1]))
			return refuse(b); /* le must increase */
	for (size_t i = 0; i <= h->n_bounds; i++) {
		cum += h->counts[i];
		if (i < h->n_bounds)
			fmt_double(le, sizeof le, h->bounds[i]);
		else
			snprintf(le, sizeof le, "+Inf");
		line_begin(&l, b);
		put_series(&l, name, "_bucket", labels, n_labels, "le", le);
		lprintf(&l, " %llu", (unsigned long long)cum);
		ret |= line_end(&l);
	}
	fmt_double(num, sizeof num, h->sum);
	line_begin(&l, b);
	put_series(&l, name, "_sum", labels, n_labels, NULL, NULL);
	lputs(&l, " ");
	lputs(&l, num);
	ret |= line_end(&l);
	line_begin(&l, b);
	put_series(&l, name, "_count", labels, n_labels, NULL, NULL);
	/* The +Inf bucket equals _count by definition. */
	lprintf(&l, " %llu", (unsigned long long)cum);
	ret |= line_end(&l);
	return ret < 0 ? -EMSGSIZE : 0;
}

void iw_metrics_hist_observe(struct iw_metrics_hist *h, double v)
{
	size_t i = 0;

	while (i < h->n_bounds && v > h->bounds[i])
		i++;
	h->counts[i]++;
	h->count++;
	h->sum += v;
}

/* --- HTTP server --- */

struct iw_metrics_http {
	int lfd, stopfd;
	uint16_t port;
	pthread_t thread;
	iw_metrics_fill_fn fill;
	void *arg;
	struct iw_metrics_route route;
	char *body;
	_Atomic uint64_t scrapes, not_found, bad_requests, timeouts, overflows;
};

/* Wait for fd to become ready for ev until deadline; false on timeout or stop. */
static bool wait_fd(struct iw_metrics_http *s, int fd, short ev, uint64_t deadline)
{
	for (;;) {
		uint64_t now = iw_clock_ms();
		if (now >= deadline)
			return false;
		struct pollfd p[2] = { { fd, ev, 0 }, { s->stopfd, POLLIN, 0 } };
		int n = poll(p, 2, (int)(deadline - now));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || p[1].revents)
			return false;
		return true;
	}
}

static bool send_all(struct iw_metrics_http *s, int fd, const char *p, size_t len, uint64_t deadline)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return false;
			if (!wait_fd(s, fd, POLLOUT, deadline)) {
				atomic_fetch_add(&s->timeouts, 1);
				return false;
			}
			continue;
		}
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static void respond_h(struct iw_metrics_http *s, int fd, int code, const char *reason, const char *type,
		      const char *extra, const char *body, size_t body_len, bool head_only)
{
	char hdr[512];
	uint64_t deadline = iw_clock_ms() + IW_METRICS_HTTP_TIMEOUT_MS;
	int n = snprintf(hdr, sizeof hdr,
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "%sConnection: close\r\n\r\n",
			 code, reason, type, body_len, extra ? extra : "");

	if (n < 0 || (size_t)n >= sizeof hdr)
		return;
	if (!send_all(s, fd, hdr, (size_t)n, deadline))
		return;
	if (!head_only)
		send_all(s, fd, body, body_len, deadline);
}

static void respond(struct iw_metrics_http *s, int fd, int code, const char *reason, const char *type,
		    const char *body, size_t body_len, bool head_only)
{
	respond_h(s, fd, code, reason, type, NULL, body, body_len, head_only);
}

static void respond_text(struct iw_metrics_http *s, int fd, int code, const char *reason)
{
	char body[64];
	int n = snprintf(body, sizeof body, "%d %s\n", code, reason);
	respond(s, fd, code, reason, "text/plain; charset=utf-8", body, (size_t)n, false);
}

/* The length of the head in req (through its empty line), or 0 while incomplete. */
static size_t head_len(const char *req, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (req[i] != '\n')
			continue;
		if (req[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && req[i + 1] == '\r' && req[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Read the request head; returns its length, 0 on timeout/close, -1 when too large. */
static int read_request(struct iw_metrics_http *s, int fd, char *req)
{
	size_t len = 0;
	uint64_t deadline = iw_clock_ms() + IW_METRICS_HTTP_TIMEOUT_MS;

	for (;;) {
		if (!wait_fd(s, fd, POLLIN, deadline)) {
			atomic_fetch_add(&s->timeouts, 1);
			return 0;
		}
		ssize_t n = recv(fd, req + len, IW_METRICS_HTTP_REQ_MAX - len, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (n <= 0)
			return 0;
		len += (size_t)n;
		req[len] = '\0';
		size_t h = head_len(req, len);
		if (h)
			return (int)h;
		if (len >= IW_METRICS_HTTP_REQ_MAX)
			return -1;
	}
}

static void serve_route(struct iw_metrics_http *s, int fd, const struct iw_http_req *rq,
			const struct iw_addr *peer)
{
	struct iw_metrics_resp r = { 0 };
	char text[96];

	s->route.fn(rq, peer, &r, s->route.arg);
	const char *reason = iw_http_reason(r.status);
	if (!r.body) {
		int n = snprintf(text, sizeof text, "%d %s\n", r.status, reason);
		respond_h(s, fd, r.status, reason, "text/plain; charset=utf-8", r.headers, text, (size_t)n,
			  false);
		return;
	}
	respond_h(s, fd, r.status, reason, r.type ? r.type : "text/plain; charset=utf-8", r.headers, r.body,
		  r.len, false);
	free(r.body);
}

static void serve(struct iw_metrics_http *s, int fd, const struct iw_addr *peer)
{
	char req[IW_METRICS_HTTP_REQ_MAX + 1];
	struct iw_http_req rq;
	const char *why = NULL;
	int n = read_request(s, fd, req);

	if (n == 0)
		return;
	if (n < 0) {
		atomic_fetch_add(&s->bad_requests, 1);
		respond_text(s, fd, 431, "Request Header Fields Too Large");
		return;
	}
	int code = iw_http_req_parse(&rq, req, (size_t)n, &why);
	if (code == 0 && rq.content_length > 0)
		code = 413;
	if (code) {
		atomic_fetch_add(&s->bad_requests, 1);
		respond_text(s, fd, code, iw_http_reason(code));
		return;
	}
	size_t pl = s->route.fn ? strlen(s->route.prefix) : 0;
	if (pl && rq.path_len >= pl && !memcmp(rq.path, s->route.prefix, pl)) {
		serve_route(s, fd, &rq, peer);
		return;
	}
	bool head = strcmp(rq.method, "HEAD") == 0;
	if ((strcmp(rq.method, "GET") != 0 && !head) || rq.path_len != 8 ||
	    memcmp(rq.path, "/metrics", 8) != 0) {
		atomic_fetch_add(&s->not_found, 1);
		respond_text(s, fd, 404, "Not Found");
		return;
	}

	struct iw_metrics_buf b;
	iw_metrics_buf_init(&b, s->body, IW_METRICS_HTTP_BODY_MAX);
	s->fill(&b, s->arg);
	if (b.overflow) {
		atomic_fetch_add(&s->overflows, 1);
		respond_text(s, fd, 500, "Internal Server Error");
		return;
	}
	atomic_fetch_add(&s->scrapes, 1);
	respond(s, fd, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", b.p, b.len, head);
}

/* Half-close and read what the client still sends for a moment, bounded in time and bytes:
 * closing with unread input sends a RST that can destroy the response in flight. */
static void drain_close(struct iw_metrics_http *s, int fd)
{
	char scratch[1024];
	size_t total = 0;
	uint64_t deadline = iw_clock_ms() + 200;

	shutdown(fd, SHUT_WR);
	while (total < 64 * 1024 && wait_fd(s, fd, POLLIN, deadline)) {
		ssize_t n = recv(fd, scratch, sizeof scratch, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			break;
		if (n > 0)
			total += (size_t)n;
	}
	close(fd);
}

static void *http_main(void *arg)
{
	struct iw_metrics_http *s = arg;

	for (;;) {
		struct pollfd p[2] = { { s->lfd, POLLIN, 0 }, { s->stopfd, POLLIN, 0 } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			IW_ERROR("metrics: poll: %s", strerror(errno));
			break;
		}
		if (p[1].revents)
			break;
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		struct iw_addr peer = { 0 };
		int fd = accept4(s->lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			continue; /* EAGAIN, ECONNABORTED, EMFILE: try again on the next wake-up */
		if (iw_addr_from_sa(&peer, (struct sockaddr *)&ss) < 0)
			memset(&peer, 0, sizeof peer);
		serve(s, fd, &peer);
		drain_close(s, fd);
	}
	return NULL;
}

struct iw_metrics_http *iw_metrics_http_start(const char *bind_ip, uint16_t port, iw_metrics_fill_fn fill,
					      void *arg, const char **why)
{
	return iw_metrics_http_start_routed(bind_ip, port, fill, arg, NULL, why);
}

struct iw_metrics_http *iw_metrics_http_start_routed(const char *bind_ip, uint16_t port,
						     iw_metrics_fill_fn fill, void *arg,
						     const struct iw_metrics_route *route, const char **why)
{
	struct iw_metrics_http *s = NULL;
	struct iw_addr a;
	struct sockaddr_storage ss;
	socklen_t sl;

	if (!fill || iw_addr_parse(&a, bind_ip ? bind_ip : "127.0.0.1") < 0 || a.port) {
		*why = "bad bind address";
		return NULL;
	}
	a.port = port;
	s = calloc(1, sizeof *s);
	if (!s) {
		*why = "out of memory";
		return NULL;
	}
	s->lfd = s->stopfd = -1;
	s->fill = fill;
	s->arg = arg;
	if (route && route->fn && route->prefix)
		s->route = *route;
	s->body = malloc(IW_METRICS_HTTP_BODY_MAX);
	if (!s->body) {
		*why = "out of memory";
		goto fail;
	}
	s->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->stopfd < 0) {
		*why = "cannot create socket";
		goto fail;
	}
	s->lfd = iw_sock_open(
		&a, &(struct iw_sock_spec){ .type = SOCK_STREAM, .flags = IW_SOCK_REUSEADDR, .backlog = 16 },
		why);
	if (s->lfd < 0)
		goto fail;
	sl = sizeof ss;
	if (getsockname(s->lfd, (struct sockaddr *)&ss, &sl) < 0 ||
	    iw_addr_from_sa(&a, (struct sockaddr *)&ss) < 0) {
		*why = "cannot read the bound address";
		goto fail;
	}
	s->port = a.port;
	if (pthread_create(&s->thread, NULL, http_main, s) != 0) {
		*why = "cannot start thread";
		goto fail;
	}
	return s;
fail:
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->stopfd >= 0)
		close(s->stopfd);
	free(s->body);
	free(s);
	return NULL;
}

uint16_t iw_metrics_http_port(const struct iw_metrics_http *s)
{
	return s->port;
}

void iw_metrics_http_get_stats(const struct iw_metrics_http *s, struct iw_metrics_http_stats *st)
{
	st->scrapes = atomic_load(&s->scrapes);
	st->not_found = atomic_load(&s->not_found);
	st->bad_requests = atomic_load(&s->bad_requests);
	st->timeouts = atomic_load(&s->timeouts);
	st->overflows = atomic_load(&s->overflows);
}

void iw_metrics_http_stop(struct iw_metrics_http *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	if (write(s->stopfd, &one, sizeof one) < 0)
		IW_ERROR("metrics: cannot signal stop: %s", strerror(errno));
	pthread_join(s->thread, NULL);
	close(s->lfd);
	close(s->stopfd);
	free(s->body);
	free(s);
}
