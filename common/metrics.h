/* Prometheus text exposition (format 0.0.4): a bounded writer for HELP/TYPE lines and counter,
 * gauge and fixed-bucket histogram samples, and a one-request-at-a-time HTTP/1.1 server on its
 * own thread that serves GET /metrics. Counters themselves live with their owners (per
 * worker, summed by the fill callback when scraped). */
#ifndef IW_COMMON_METRICS_H
#define IW_COMMON_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Output buffer over caller memory. Only whole lines are kept: a line that does not fit sets
 * overflow, and every later write does nothing, so a writer checks once at the end.
 */
struct iw_metrics_buf {
	char *p;
	size_t len, cap;
	bool overflow;
	bool invalid; /* a bad metric or label name was refused */
};

enum iw_metrics_type {
	IW_METRICS_COUNTER,
	IW_METRICS_GAUGE,
	IW_METRICS_HISTOGRAM,
};

struct iw_metrics_label {
	const char *name;  /* [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" */
	const char *value; /* any UTF-8; '\', '"' and newline are escaped */
};

/*
 * A fixed-bucket histogram. bounds are n_bounds increasing upper limits (le); counts holds
 * n_bounds + 1 per-bucket (not cumulative) counts, the last one for +Inf. Plain integers: one
 * owner thread observes, the scrape sums copies.
 */
struct iw_metrics_hist {
	const double *bounds;
	size_t n_bounds;
	uint64_t *counts;
	double sum;
	uint64_t count;
};

void iw_metrics_buf_init(struct iw_metrics_buf *b, char *mem, size_t cap);

/* Metric names: [a-zA-Z_:][a-zA-Z0-9_:]*. Label names: [a-zA-Z_][a-zA-Z0-9_]*. */
bool iw_metrics_name_is_valid(const char *name);
bool iw_metrics_label_name_is_valid(const char *name);

/*
 * "# HELP name text" (help escapes '\' and newline) and "# TYPE name type". Write it once per
 * metric family, before its samples. Returns 0, -EINVAL for a bad name, -EMSGSIZE when full.
 */
int iw_metrics_header(struct iw_metrics_buf *b, const char *name, enum iw_metrics_type type,
		      const char *help);

/* One sample line: name{labels} value. Same returns as iw_metrics_header. */
int iw_metrics_counter(struct iw_metrics_buf *b, const char *name, const struct iw_metrics_label *labels,
		       size_t n_labels, uint64_t value);
int iw_metrics_gauge(struct iw_metrics_buf *b, const char *name, const struct iw_metrics_label *labels,
		     size_t n_labels, double value);
/* A whole family with one unlabelled sample: header, then the sample. Same returns. */
int iw_metrics_counter1(struct iw_metrics_buf *b, const char *name, const char *help, uint64_t value);
int iw_metrics_gauge1(struct iw_metrics_buf *b, const char *name, const char *help, double value);
/* name_bucket{...,le="X"} cumulative lines including le="+Inf", then name_sum, name_count. */
int iw_metrics_histogram(struct iw_metrics_buf *b, const char *name, const struct iw_metrics_label *labels,
			 size_t n_labels, const struct iw_metrics_hist *h);

/* Count v into h (finds its bucket; values above every bound go to +Inf). */
void iw_metrics_hist_observe(struct iw_metrics_hist *h, double v);

/* --- HTTP exposition server --- */

enum {
	IW_METRICS_HTTP_REQ_MAX = 4096,     /* request line + headers */
	IW_METRICS_HTTP_TIMEOUT_MS = 2000,  /* to read a request, and to write a response */
	IW_METRICS_HTTP_BODY_MAX = 1 << 20, /* response body buffer, allocated at start */
};

/* Fill b with the current exposition. Runs on the server thread, one scrape at a time. */
typedef void (*iw_metrics_fill_fn)(struct iw_metrics_buf *b, void *arg);

struct iw_http_req;
struct iw_addr;

/* A route's answer. */
struct iw_metrics_resp {
	int status;
	const char *type;    /* Content-Type; NULL: text/plain */
	char *body;          /* malloc'd, freed by the server; NULL: "STATUS Reason\n" */
	size_t len;          /* of body */
	const char *headers; /* extra header lines, each ending in CRLF; NULL: none */
};

/*
 * Another set of paths on the same listener: every request whose path starts with prefix
 * goes to fn, on the server thread (one request at a time, so fn needs no lock of its own),
 * with the parsed head (common/http.h) and the client's address. fn fills resp; it may block
 * for a bounded time.
 */
typedef void (*iw_metrics_route_fn)(const struct iw_http_req *req, const struct iw_addr *peer,
				    struct iw_metrics_resp *resp, void *arg);
struct iw_metrics_route {
	const char *prefix; /* "/admin/" */
	iw_metrics_route_fn fn;
	void *arg;
};

struct iw_metrics_http;

struct iw_metrics_http_stats {
	uint64_t scrapes;      /* 200 responses */
	uint64_t not_found;    /* 404 */
	uint64_t bad_requests; /* 400, 431 */
	uint64_t timeouts;     /* connections closed for reading or writing too slowly */
	uint64_t overflows;    /* fill outgrew the body buffer: 500 */
};

/*
 * Listen on bind_ip ("127.0.0.1", "::", ...) and port (0 picks a free one) and serve on a new
 * thread: GET /metrics -> 200 "text/plain; version=0.0.4", any other path -> 404. Returns the
 * server, or NULL with *why set.
 */
struct iw_metrics_http *iw_metrics_http_start(const char *bind_ip, uint16_t port, iw_metrics_fill_fn fill,
					      void *arg, const char **why);
/* The same, also serving route (copied; NULL or a NULL fn: none). Requests with a body
 * (Content-Length above 0) get 413: nothing here takes one. */
struct iw_metrics_http *iw_metrics_http_start_routed(const char *bind_ip, uint16_t port,
						     iw_metrics_fill_fn fill, void *arg,
						     const struct iw_metrics_route *route, const char **why);
/* The bound port (useful after port 0). */
uint16_t iw_metrics_http_port(const struct iw_metrics_http *s);
void iw_metrics_http_get_stats(const struct iw_metrics_http *s, struct iw_metrics_http_stats *st);
/* Stop the thread, close the socket and free. Accepts NULL. */
void iw_metrics_http_stop(struct iw_metrics_http *s);

#endif
