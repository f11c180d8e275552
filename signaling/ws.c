/* libwebsockets glue: HTTP endpoints, the /ws endpoint, per-connection bounded queues,
 * heartbeats and shutdown. Protocol decisions live in hub.c; this file moves bytes. */
#include "signaling/ws.h"

#include <errno.h>
#include <ev.h>
#include <libwebsockets.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/version.h"
#include "signaling/addr_count.h"
#include "signaling/admin.h"
#include "signaling/cluster.h"
#include "signaling/hub.h"
#include "signaling/jwt.h"
#include "signaling/metrics.h"
#include "signaling/proxy_in.h"
#include "signaling/relays.h"
#include "signaling/rx_slab.h"

enum {
	TICK_MS = 250,
	RX_HARD_FACTOR = 16, /* a frame declared this many times over the limit closes at once */
	HTTP_BODY_MAX = 32768,
	/* lws's rx_buffer_size: one read takes at most this much, and a data frame's payload
	 * reaches the callback from lws's read buffer in pieces of at most this size, so an
	 * offer-sized frame is one read and one callback. */
	RX_CHUNK = 16384,
};

struct qmsg {
	struct qmsg *next;
	size_t len;
	unsigned char buf[]; /* LWS_PRE headroom, then len bytes */
};

struct sess {
	struct iw_hub_conn hc; /* first: hub callbacks map back with a cast */
	struct lws *wsi;
	struct sess *prev, *next;
	struct sess *hb_prev, *hb_next; /* the heartbeat queue, in due order */
	uint64_t hb_due_ms;
	struct qmsg *qhead, *qtail;
	size_t qbytes;
	char *rx; /* a message in progress parked out of the shared buffer (rx_park), or NULL */
	size_t rx_len, rx_cap;
	uint64_t last_rx_ms;
	int close_code;
	const char *close_reason; /* a string literal (struct iw_hub_ops.close) */
	unsigned char *http_buf;  /* an HTTP response: LWS_PRE headroom, then http_len body bytes */
	size_t http_len;
	struct iw_addr addr_key; /* source address as counted for max-connections-per-ip */
	unsigned rx_skip : 1;    /* discarding the rest of an oversize message */
	unsigned close_pending : 1;
	unsigned need_ping : 1;
	unsigned is_ws : 1;
	unsigned clean_close : 1;
	unsigned addr_counted : 1;
	unsigned head_only : 1; /* HEAD: the headers of the GET answer, no body */
	unsigned tx_direct : 1; /* a WRITEABLE came: the handshake is out, messages may go at once */
};

struct iw_ws {
	struct iw_ws_cfg cfg;
	struct lws_context *ctx;
	struct ev_loop *loop; /* epoll through libev: lws's own loop polls every socket per wake-up */
	struct iw_hub *hub;
	struct iw_cluster *cl; /* NULL for a single instance */
	lws_sorted_usec_list_t sul;
	struct sess *sessions;
	struct sess *hb_head, *hb_tail;
	unsigned n_ws;
	unsigned trim_high;    /* most connections open since the heap was last trimmed */
	uint64_t trim_next_ms; /* no trim before this */
	size_t queue_bytes;
	/* The message in progress of at most one connection, rx_owner (rx_append). */
	char *rx_buf;
	size_t rx_buf_cap;
	struct sess *rx_owner;
	/* A message written at once (send_now): LWS_PRE headroom, then the message. */
	char *tx_buf;
	size_t tx_buf_cap;
	/* ?room= of the handshake in progress: lws calls ESTABLISHED right after the filter, for
	 * the same connection, so it is kept here rather than in every connection's state. One
	 * more than the longest valid name: a longer ?room= reaches the hub's check and is refused
	 * there like a JSON join, rather than cut to a valid name. */
	struct lws *auto_wsi;
	char auto_room[IW_ROOM_ID_MAX + 2];
	bool has_claims; /* and its token's claims, for auto_wsi too */
	struct iw_hub_claims claims;
	struct iw_addr_count *per_addr;
	struct iw_proxy_in *pin;   /* proxy-protocol: our own accept and header read */
	struct iw_addr *fd_client; /* by fd: the client a PROXY header named, for lws's sockets */
	size_t n_fd_client;
	volatile sig_atomic_t stop;
	atomic_int reload_pending;
	int draining;
	uint64_t drain_deadline_ms;
	struct iw_signal_conn_stats st; /* counters for /metrics */
	struct lws_http_mount mounts[3], metrics_mount;
	struct lws_vhost *metrics_vh; /* NULL unless cfg.prometheus */
	int64_t started_s;            /* wall clock, for the admin API's status */
	uint64_t started_ms;          /* iw_clock_ms */
};

static struct iw_ws *ws_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

/* ---- outgoing queue ---- */

static void q_free(struct iw_ws *w, struct sess *s)
{
	while (s->qhead) {
		struct qmsg *m = s->qhead;
		s->qhead = m->next;
		free(m);
	}
	s->qtail = NULL;
	w->queue_bytes -= s->qbytes;
	s->qbytes = 0;
}

/* ---- heartbeats ----
 * Every connection is due a ping ping-interval after its last one. With one interval for all,
 * appending at the tail keeps the queue in due order, so each tick pops only the connections
 * that are due: O(1) per connection. A timer per connection (lws_set_timer_usecs) goes into
 * lws's single sorted list, an O(n) insert each, which made every new connection cost more the
 * more there were (most of the server's CPU in a reconnect storm of 10,000). After a reload
 * that shortens the interval, the entries queued before it delay the new ones once, by at most
 * the old interval. */

static void hb_add(struct iw_ws *w, struct sess *s, uint64_t now)
{
	s->hb_due_ms = now + (uint64_t)w->cfg.ping_interval_s * 1000u;
	s->hb_next = NULL;
	s->hb_prev = w->hb_tail;
	if (w->hb_tail)
		w->hb_tail->hb_next = s;
	else
		w->hb_head = s;
	w->hb_tail = s;
}

static void hb_del(struct iw_ws *w, struct sess *s)
{
	if (s->hb_prev)
		s->hb_prev->hb_next = s->hb_next;
	else if (w->hb_head == s)
		w->hb_head = s->hb_next;
	else
		return; /* not queued */
	if (s->hb_next)
		s->hb_next->hb_prev = s->hb_prev;
	else
		w->hb_tail = s->hb_prev;
	s->hb_prev = s->hb_next = NULL;
}

static void request_close(struct iw_ws *w, struct sess *s, int code, const char *reason)
{
	if (s->close_pending)
		return;
	s->close_pending = 1;
	s->close_code = code;
	s->close_reason = reason;
	lws_callback_on_writable(s->wsi);
	/* If the peer never reads, WRITEABLE never comes: do not wait for it forever. While
	 * draining the drain deadline bounds it, and lws's sorted timer list would make closing
	 * every connection quadratic. */
	if (!w->draining)
		lws_set_timeout(s->wsi, PENDING_TIMEOUT_CLOSE_SEND, 3);
}

/* Cut s off as too slow: its queue goes now, and a close frame only if the socket takes it. */
static void drop_slow(struct iw_ws *w, struct sess *s)
{
	q_free(w, s);
	if (lws_send_pipe_choked(s->wsi)) {
		s->close_pending = 1;
		lws_set_timeout(s->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
	} else {
		request_close(w, s, 1008, "send queue overflow: reading too slowly");
	}
}

/* The connection with the most bytes queued, NULL when nothing is queued. A walk over the
 * connections, but only when the global budget is full, and each drop frees the largest queue. */
static struct sess *slowest(struct iw_ws *w)
{
	struct sess *v = NULL;
	for (struct sess *s = w->sessions; s; s = s->next)
		if (s->qbytes && (!v || s->qbytes > v->qbytes))
			v = s;
	return v;
}

static int rx_reserve(char **buf, size_t *cap, size_t want);

/* Write a message to s at once instead of queueing it for WRITEABLE: arming POLLOUT and
 * clearing it again cost two epoll_ctl calls per message. lws takes the whole frame: what the
 * socket does not take it keeps (lws_partial_buffered) and sends on the next POLLOUT, ahead
 * of our next WRITEABLE, and then the following messages queue as before. */
static int send_now(struct iw_ws *w, struct sess *s, const char *buf, size_t len)
{
	int n;

	if (rx_reserve(&w->tx_buf, &w->tx_buf_cap, LWS_PRE + len))
		return -ENOMEM;
	memcpy(w->tx_buf + LWS_PRE, buf, len);
	n = lws_write(s->wsi, (unsigned char *)w->tx_buf + LWS_PRE, len, LWS_WRITE_TEXT);
	if (n >= (int)len)
		return 0;
	/* The socket failed (n < 0), or lws is closing the connection and drops data frames
	 * (n == 0). Not in a callback of s, so it cannot return -1 to lws: close it async. */
	s->close_pending = 1;
	if (n < 0)
		lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	return -EPIPE;
}

static int hub_send(void *arg, struct iw_hub_conn *hc, const char *buf, size_t len)
{
	struct iw_ws *w = arg;
	struct sess *s = (struct sess *)hc;
	struct qmsg *m;

	if (s->close_pending)
		return -EPIPE;
	if (s->qbytes + len > w->cfg.queue_max) {
		/* A reader that lags this far behind is cut off so that one slow peer cannot
		 * hold the server's memory. */
		w->st.dropped_lag++;
		IW_LOG_RL(IW_LOG_INFO, 10,
			  "dropping a connection whose send queue is full (%zu bytes queued)", s->qbytes);
		drop_slow(w, s);
		return -ENOBUFS;
	}
	/* Nothing ahead of it, here or in lws: no need to queue, nor to count it against the
	 * queues' budget. */
	if (s->tx_direct && !s->qhead && !lws_partial_buffered(s->wsi))
		return send_now(w, s, buf, len);
	/* All queues together stay within send-queue-total-max: many slow readers each under
	 * their own bound must not add up to the server's memory. The slowest goes first. */
	while (w->queue_bytes + len > w->cfg.queue_total_max) {
		struct sess *v = slowest(w);
		if (!v)
			break;
		w->st.dropped_budget++;
		IW_LOG_RL(IW_LOG_WARN, 10,
			  "send queues at send-queue-total-max (%zu bytes): dropping the slowest reader "
			  "(%zu bytes queued)",
			  w->cfg.queue_total_max, v->qbytes);
		drop_slow(w, v);
		if (v == s)
			return -ENOBUFS;
	}
	m = malloc(sizeof *m + LWS_PRE + len);
	if (!m)
		return -ENOMEM;
	m->next = NULL;
	m->len = len;
	memcpy(m->buf + LWS_PRE, buf, len);
	if (s->qtail)
		s->qtail->next = m;
	else
		s->qhead = m;
	s->qtail = m;
	s->qbytes += len;
	w->queue_bytes += len;
	lws_callback_on_writable(s->wsi);
	return 0;
}

static void hub_close(void *arg, struct iw_hub_conn *hc, int code, const char *reason)
{
	request_close(arg, (struct sess *)hc, code, reason);
}

/* ---- across instances (signaling/cluster.c) ---- */

static int cl_join(void *arg, const char *room, const char *peer)
{
	return iw_cluster_join(((struct iw_ws *)arg)->cl, room, peer);
}

static int cl_member_join(void *arg, const char *room, const char *peer, const char *token, const char *claim,
			  unsigned max_peers)
{
	return iw_cluster_member_join(((struct iw_ws *)arg)->cl, room, peer, token, claim, max_peers);
}

static void cl_leave(void *arg, const char *room, const char *peer)
{
	iw_cluster_leave(((struct iw_ws *)arg)->cl, room, peer);
}

static int cl_send(void *arg, const char *inst, const char *room, const char *to, const char *from,
		   const char *txt, size_t len)
{
	return iw_cluster_send(((struct iw_ws *)arg)->cl, inst, room, to, from, txt, len);
}

/* Runs on the Redis thread: the only lws call that is safe from another thread. */
static void cl_wake(void *arg)
{
	struct iw_ws *w = arg;
	if (w->ctx)
		lws_cancel_service(w->ctx);
}

/* Hand every waiting cluster event to the hub. */
static void cl_drain(struct iw_ws *w)
{
	struct iw_cluster_ev ev[64];
	uint64_t now = iw_clock_ms();
	unsigned n;

	while (w->cl && (n = iw_cluster_poll(w->cl, ev, 64)) > 0) {
		for (unsigned i = 0; i < n; i++) {
			iw_hub_cluster_event(w->hub, &ev[i], now);
			iw_cluster_ev_fini(&ev[i]);
		}
	}
}

/* ---- HTTP endpoints ---- */

static size_t metrics_text(struct iw_ws *w, char *body, size_t cap)
{
	const struct iw_room_set *rs = iw_hub_rooms(w->hub);
	struct iw_cluster_stats cs;
	struct iw_relays_stats relays;
	struct iw_metrics_buf b;

	w->st.connections = w->n_ws;
	w->st.source_addresses = iw_addr_count_n(w->per_addr);
	w->st.per_address_limit = w->cfg.max_conns_per_ip;
	w->st.queue_bytes = w->queue_bytes;
	w->st.queue_limit = w->cfg.queue_max;
	w->st.queue_total_limit = w->cfg.queue_total_max;
	if (w->cl)
		iw_cluster_stats_get(w->cl, &cs);
	if (w->cfg.ice.relays)
		iw_relays_stats_get(w->cfg.ice.relays, &relays);
	iw_metrics_buf_init(&b, body, cap);
	iw_signal_metrics_write(&b, &(struct iw_signal_metrics){
					    .conn = &w->st,
					    .hub = iw_hub_stats(w->hub),
					    .rooms = iw_room_set_count(rs),
					    .peers = iw_room_set_n_peers(rs),
					    .cluster = w->cl ? &cs : NULL,
					    .relays = w->cfg.ice.relays ? &relays : NULL,
					    .proxy = w->pin ? iw_proxy_in_stats(w->pin) : NULL,
				    });
	if (b.overflow)
		IW_LOG_RL(IW_LOG_WARN, 60, "metrics exposition cut at %zu bytes", cap);
	return b.len;
}

/* Bearer token from the Authorization header or the access_token query parameter. */
static int get_token(struct lws *wsi, char *buf, int cap)
{
	char h[2048];
	const char *v;
	if (lws_hdr_copy(wsi, h, sizeof h, WSI_TOKEN_HTTP_AUTHORIZATION) > 7 &&
	    strncasecmp(h, "Bearer ", 7) == 0) {
		snprintf(buf, (size_t)cap, "%s", h + 7);
		return 0;
	}
	v = lws_get_urlarg_by_name(wsi, "access_token=", h, sizeof h);
	if (v) {
		snprintf(buf, (size_t)cap, "%s", v);
		return 0;
	}
	return -ENOENT;
}

/* The request's access token checked against the configured secret. */
static int check_jwt(struct iw_ws *w, struct lws *wsi, struct iw_jwt_claims *claims, const char **why)
{
	const struct iw_jwt_cfg jc = { .secret = w->cfg.jwt_secret,
				       .allow_no_exp = w->cfg.jwt_allow_no_exp,
				       .leeway_s = w->cfg.jwt_leeway_s };
	char tok[2048];

	if (get_token(wsi, tok, sizeof tok) < 0) {
		*why = "missing access token";
		return -EACCES;
	}
	return iw_jwt_check(&jc, tok, time(NULL), claims, why);
}

/* Answer with headers now and, on the next WRITEABLE, the body: buf holds LWS_PRE bytes of
 * headroom, then len bytes, so it is written where it is (s owns buf from here). */
static int http_reply_hdr(struct lws *wsi, struct sess *s, unsigned status, const char *ctype,
			  unsigned char *buf, size_t len, const char *hname, const char *hval)
{
	unsigned char hb[LWS_PRE + 1024], *start = hb + LWS_PRE, *p = start, *end = hb + sizeof hb - 1;
	free(s->http_buf);
	s->http_buf = buf;
	s->http_len = len;
	if (lws_add_http_common_headers(wsi, status, ctype, (lws_filepos_t)len, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
					(const unsigned char *)"no-store", 8, &p, end) ||
	    (hname && lws_add_http_header_by_name(wsi, (const unsigned char *)hname,
						  (const unsigned char *)hval, (int)strlen(hval), &p, end)) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return 1;
	if (s->head_only) {
		/* Done in this callback: a request read before a later WRITEABLE would be parsed
		 * on top of this one's headers. */
		free(s->http_buf);
		s->http_buf = NULL;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	lws_callback_on_writable(wsi);
	return 0;
}

static int http_reply(struct lws *wsi, struct sess *s, unsigned status, const char *ctype, unsigned char *buf,
		      size_t len)
{
	return http_reply_hdr(wsi, s, status, ctype, buf, len, NULL, NULL);
}

static int reply_text(struct lws *wsi, struct sess *s, unsigned status, const char *t)
{
	size_t len = strlen(t);
	unsigned char *b = malloc(LWS_PRE + len);
	if (!b)
		return 1;
	memcpy(b + LWS_PRE, t, len);
	return http_reply(wsi, s, status, "text/plain", b, len);
}

/* 204 to OPTIONS, 405 to any other method than GET and HEAD: both say what is allowed. */
static int reply_allow(struct lws *wsi, unsigned status)
{
	static const char allow[] = "GET, HEAD, OPTIONS";
	unsigned char hb[LWS_PRE + 512], *start = hb + LWS_PRE, *p = start, *end = hb + sizeof hb - 1;
	if (lws_add_http_header_status(wsi, status, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"allow:", (const unsigned char *)allow,
					(int)strlen(allow), &p, end) ||
	    lws_add_http_header_content_length(wsi, 0, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return 1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int source_key(struct iw_ws *w, struct lws *wsi, struct iw_addr *key, struct iw_addr *full);

/* The request's method and path. Returns 0, -ENOENT for a method lws does not parse, or
 * -ENAMETOOLONG when the path does not fit in cap bytes. */
static int method_path(struct lws *wsi, char *path, int cap, const char **method)
{
	static const struct {
		enum lws_token_indexes tok;
		const char *name;
	} m[] = {
		{ WSI_TOKEN_GET_URI, "GET" },         { WSI_TOKEN_HEAD_URI, "HEAD" },
		{ WSI_TOKEN_POST_URI, "POST" },       { WSI_TOKEN_PUT_URI, "PUT" },
		{ WSI_TOKEN_PATCH_URI, "PATCH" },     { WSI_TOKEN_DELETE_URI, "DELETE" },
		{ WSI_TOKEN_OPTIONS_URI, "OPTIONS" },
	};
	for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
		int n = lws_hdr_total_length(wsi, m[i].tok);
		if (n <= 0)
			continue;
		*method = m[i].name;
		if (n >= cap)
			return -ENAMETOOLONG;
		return lws_hdr_copy(wsi, path, cap, m[i].tok) < 0 ? -ENAMETOOLONG : 0;
	}
	return -ENOENT;
}

static int admin_reply(struct lws *wsi, struct sess *s, unsigned status, const char *why)
{
	static const char fmt[] = "{\"error\":\"%s\"}\n";
	size_t len = strlen(why) + sizeof fmt;
	unsigned char *b = malloc(LWS_PRE + len);
	if (!b)
		return 1;
	len = (size_t)snprintf((char *)b + LWS_PRE, len, fmt, why);
	if (status == HTTP_STATUS_UNAUTHORIZED)
		return http_reply_hdr(wsi, s, status, "application/json", b, len,
				      "www-authenticate:", "Bearer realm=\"iceway-signal admin\"");
	return http_reply(wsi, s, status, "application/json", b, len);
}

/* /admin/... on the metrics listener: the token first, then signaling/admin.c's routes. The
 * token is never logged; neither is a path that failed (it is the client's bytes). */
static int on_admin(struct iw_ws *w, struct lws *wsi, struct sess *s, const char *method, const char *path)
{
	/* lws_get_urlarg_by_name() skips an argument longer than its buffer: sized for any
	 * request lws takes, so that a long ?limit= is refused rather than ignored. */
	char authz[1024], limit[4096], cursor[4096];
	struct iw_admin_reply r;
	struct iw_cluster_stats cs = { 0 };

	w->st.admin_requests++;
	if (lws_hdr_copy(wsi, authz, sizeof authz, WSI_TOKEN_HTTP_AUTHORIZATION) <= 0)
		authz[0] = '\0';
	if (!iw_admin_authorized(w->cfg.admin_token, authz)) {
		struct iw_addr key, a = { 0 };
		char ab[IW_ADDR_STRLEN];
		bool given = authz[0] != '\0';
		explicit_bzero(authz, sizeof authz);
		w->st.admin_auth_failures++;
		/* The relay's security log line, so that docker/fail2ban/iceway.conf bans a guesser. */
		IW_LOG_RL(IW_LOG_WARN, 10, "auth failure from %s transport=http method=admin reason=\"%s\"",
			  source_key(w, wsi, &key, &a) == 0 ? iw_addr_fmt(&a, true, ab, sizeof ab) : "?",
			  given ? "wrong bearer token" : "no bearer token");
		return admin_reply(wsi, s, HTTP_STATUS_UNAUTHORIZED, "a valid bearer token is required");
	}
	explicit_bzero(authz, sizeof authz);
	if (w->cl)
		iw_cluster_stats_get(w->cl, &cs);
	iw_admin_handle(w->hub,
			&(struct iw_admin_info){ .started_s = w->started_s,
						 .uptime_s = (iw_clock_ms() - w->started_ms) / 1000u,
						 .connections = w->n_ws,
						 .instance = w->cl ? iw_cluster_instance(w->cl) : NULL,
						 .redis_up = cs.up,
						 .draining = w->stop != 0 },
			&(struct iw_admin_req){
				.method = method,
				.path = path,
				.limit = lws_get_urlarg_by_name(wsi, "limit=", limit, sizeof limit),
				.cursor = lws_get_urlarg_by_name(wsi, "cursor=", cursor, sizeof cursor),
			},
			LWS_PRE, iw_clock_ms(), &r);
	if (!r.buf)
		return admin_reply(wsi, s, HTTP_STATUS_INTERNAL_SERVER_ERROR, "out of memory");
	/* A change the operator made is worth a line; the names in a path that worked are plain. */
	if (strcmp(method, "DELETE") == 0 && r.status == 200)
		IW_INFO("admin API: DELETE %s", path);
	return http_reply_hdr(wsi, s, r.status, "application/json", r.buf, r.len, r.allow ? "allow:" : NULL,
			      r.allow);
}

/* The metrics listener: /metrics, and /admin/... when admin-token is set; nothing else. */
static int on_metrics_http(struct iw_ws *w, struct lws *wsi, struct sess *s)
{
	char path[512];
	const char *method = NULL;
	unsigned char *body;
	size_t len;
	int rc = method_path(wsi, path, sizeof path, &method);

	if (rc == -ENAMETOOLONG)
		return reply_text(wsi, s, HTTP_STATUS_REQ_URI_TOO_LONG, "path too long\n");
	if (rc < 0)
		return reply_allow(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED);
	s->head_only = strcmp(method, "HEAD") == 0; /* an answer to HEAD has no body */
	if (w->cfg.admin_token && strncmp(path, "/admin", 6) == 0 && (path[6] == '/' || !path[6]))
		return on_admin(w, wsi, s, method, path);
	if (strcmp(path, "/metrics") != 0)
		return reply_text(wsi, s, HTTP_STATUS_NOT_FOUND, "not found\n");
	if (strcmp(method, "OPTIONS") == 0)
		return reply_allow(wsi, HTTP_STATUS_NO_CONTENT);
	if (!s->head_only && strcmp(method, "GET") != 0)
		return reply_allow(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED);
	body = malloc(LWS_PRE + HTTP_BODY_MAX);
	if (!body)
		return 1;
	len = metrics_text(w, (char *)body + LWS_PRE, HTTP_BODY_MAX);
	return http_reply(wsi, s, HTTP_STATUS_OK, "text/plain; version=0.0.4", body, len);
}

static int on_http(struct iw_ws *w, struct lws *wsi, struct sess *s)
{
	char path[256], user[160], buf[256];
	size_t len = 0;

	memset(s, 0, sizeof *s);
	w->st.http_requests++;
	/* The metrics listener serves /metrics (and the admin API) only; the public ones never do. */
	if (lws_get_vhost(wsi) == w->metrics_vh)
		return on_metrics_http(w, wsi, s);
	if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) <= 0) {
		/* The dynamic endpoints answer HEAD like GET, and OPTIONS with what they allow. */
		if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_HEAD_URI) > 0)
			s->head_only = 1;
		else if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_OPTIONS_URI) > 0)
			return reply_allow(wsi, HTTP_STATUS_NO_CONTENT);
		else
			return reply_allow(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED);
	}
	if (strcmp(path, "/healthz") == 0) {
		if (w->stop)
			return reply_text(wsi, s, HTTP_STATUS_SERVICE_UNAVAILABLE, "shutting down\n");
		/* Local rooms keep working without Redis, so the instance stays in service;
		 * the body says what is degraded. */
		if (w->cl) {
			struct iw_cluster_stats cs;
			iw_cluster_stats_get(w->cl, &cs);
			if (!cs.up)
				return reply_text(wsi, s, HTTP_STATUS_OK,
						  "ok\nredis: down (cross-instance signaling "
						  "unavailable)\n");
			return reply_text(wsi, s, HTTP_STATUS_OK, "ok\nredis: up\n");
		}
		return reply_text(wsi, s, HTTP_STATUS_OK, "ok\n");
	}
	if (strcmp(path, "/api/turn") == 0) {
		const char *svc = lws_get_urlarg_by_name(wsi, "service=", buf, sizeof buf);
		const char *u = lws_get_urlarg_by_name(wsi, "username=", user, sizeof user);
		struct iw_jwt_claims claims;
		const char *why = NULL;
		unsigned char *rest;
		int rc;

		if (w->cfg.jwt_secret && check_jwt(w, wsi, &claims, &why) < 0) {
			w->st.rejected_auth++;
			return reply_text(wsi, s, HTTP_STATUS_UNAUTHORIZED, "unauthorized\n");
		}
		/* A token that names its peer gets credentials for that peer only. */
		if (w->cfg.jwt_secret && claims.peer[0]) {
			if (u && strcmp(u, claims.peer) != 0) {
				w->st.rejected_auth++;
				return reply_text(wsi, s, HTTP_STATUS_FORBIDDEN,
						  "username must be the access token's peer\n");
			}
			u = claims.peer;
		}
		if (!svc || strcmp(svc, "turn") != 0)
			return reply_text(wsi, s, HTTP_STATUS_BAD_REQUEST, "service must be turn\n");
		if (u && (strlen(u) > 128 || strchr(u, ':')))
			return reply_text(wsi, s, HTTP_STATUS_BAD_REQUEST,
					  "username must be at most 128 bytes without ':'\n");
		rc = iw_ice_rest_body(&w->cfg.ice, u, time(NULL), LWS_PRE, &rest, &len);
		if (rc == -ENOENT)
			return reply_text(wsi, s, HTTP_STATUS_SERVICE_UNAVAILABLE,
					  "no static-auth-secret configured\n");
		if (rc < 0)
			return 1;
		return http_reply(wsi, s, HTTP_STATUS_OK, "application/json", rest, len);
	}
	return reply_text(wsi, s, HTTP_STATUS_NOT_FOUND, "not found\n");
}

/* ---- WebSocket handshake and session ---- */

static bool origin_allowed(struct iw_ws *w, struct lws *wsi)
{
	char origin[256];
	if (!w->cfg.n_origins)
		return true;
	if (lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) <= 0)
		return false;
	for (unsigned i = 0; i < w->cfg.n_origins; i++)
		if (strcmp(origin, w->cfg.origins[i]) == 0)
			return true;
	return false;
}

/* Behind a trusted HTTP reverse proxy, the client its Forwarded or X-Forwarded-For names. A
 * header longer than the buffer is not read (the proxy stays the client). */
static void forwarded_client(struct iw_ws *w, struct lws *wsi, struct iw_addr *a)
{
	char fwd[1024], xff[1024];
	struct iw_addr peer = *a;

	if (lws_hdr_custom_copy(wsi, fwd, sizeof fwd, "forwarded:", 10) < 0)
		fwd[0] = '\0';
	if (lws_hdr_copy(wsi, xff, sizeof xff, WSI_TOKEN_X_FORWARDED_FOR) < 0)
		xff[0] = '\0';
	iw_proxy_in_forwarded(&w->cfg.proxy, &peer, fwd, xff, a);
}

/* The source address as counted for max-connections-per-ip: the client a PROXY header named,
 * or the socket's peer, or behind a trusted reverse proxy the client it forwards for; -1 when
 * it cannot be read. */
static int source_key(struct iw_ws *w, struct lws *wsi, struct iw_addr *key, struct iw_addr *full)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	struct iw_addr a;
	int fd = (int)lws_get_socket_fd(wsi);

	if (fd >= 0 && (size_t)fd < w->n_fd_client && w->fd_client[fd].family)
		a = w->fd_client[fd];
	else if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) < 0 ||
		 iw_addr_from_sa(&a, (struct sockaddr *)&ss) < 0)
		return -1;
	if (w->cfg.proxy.n_trusted)
		forwarded_client(w, wsi, &a);
	if (full)
		*full = a;
	iw_addr_count_key(&a, key);
	return 0;
}

static int on_filter(struct iw_ws *w, struct lws *wsi, struct sess *s)
{
	/* lws_get_urlarg_by_name() skips an argument longer than its buffer: size buf for any
	 * header lws takes (max_http_header_data, 4096), so a long ?room= is seen and refused. */
	char path[256], buf[4096];
	const char *why = NULL, *room;

	memset(s, 0, sizeof *s);
	if (lws_get_vhost(wsi) == w->metrics_vh ||
	    lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) <= 0 || strcmp(path, "/ws") != 0) {
		w->st.rejected_path++;
		return 1;
	}
	if (w->stop) {
		w->st.rejected_shutdown++;
		return 1;
	}
	if (w->n_ws >= w->cfg.max_conns) {
		w->st.rejected_limit++;
		IW_LOG_RL(IW_LOG_WARN, 10, "refusing a connection: max-connections (%u) reached",
			  w->cfg.max_conns);
		return 1;
	}
	if (source_key(w, wsi, &s->addr_key, &s->hc.remote) == 0 && w->cfg.max_conns_per_ip &&
	    iw_addr_count_get(w->per_addr, &s->addr_key) >= w->cfg.max_conns_per_ip) {
		char a[IW_ADDR_STRLEN];
		w->st.rejected_per_address++;
		IW_LOG_RL(IW_LOG_WARN, 10,
			  "refusing a connection: max-connections-per-ip (%u) reached for %s",
			  w->cfg.max_conns_per_ip, iw_addr_fmt(&s->addr_key, false, a, sizeof a));
		return 1;
	}
	if (!origin_allowed(w, wsi)) {
		w->st.rejected_origin++;
		return 1;
	}
	if (w->cfg.jwt_secret) {
		struct iw_jwt_claims claims;
		if (check_jwt(w, wsi, &claims, &why) < 0) {
			w->st.rejected_auth++;
			IW_LOG_RL(IW_LOG_INFO, 10, "refusing a connection: %s", why);
			return 1;
		}
		_Static_assert(sizeof claims.room == sizeof w->claims.room, "claim sizes");
		_Static_assert(sizeof claims.peer == sizeof w->claims.peer, "claim sizes");
		memcpy(w->claims.room, claims.room, sizeof claims.room);
		memcpy(w->claims.peer, claims.peer, sizeof claims.peer);
	}
	w->has_claims = w->cfg.jwt_secret != NULL;
	room = lws_get_urlarg_by_name(wsi, "room=", buf, sizeof buf);
	w->auto_wsi = wsi;
	snprintf(w->auto_room, sizeof w->auto_room, "%s", room ? room : "");
	return 0;
}

static void on_established(struct iw_ws *w, struct lws *wsi, struct sess *s)
{
	struct iw_addr remote = s->hc.remote;
	uint64_t now = iw_clock_ms();

	iw_hub_conn_init(&s->hc, w->hub, now);
	s->hc.remote = remote;
	s->hc.since_s = (int64_t)time(NULL);
	if (w->auto_wsi == wsi && w->has_claims) {
		struct iw_hub_claims *c = malloc(sizeof *c);
		if (!c) {
			/* Without its claims the token would allow any room: refuse the connection. */
			lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
			w->auto_wsi = NULL;
			return;
		}
		*c = w->claims;
		s->hc.claims = c;
	}
	s->wsi = wsi;
	s->is_ws = 1;
	s->last_rx_ms = now;
	s->next = w->sessions;
	if (w->sessions)
		w->sessions->prev = s;
	w->sessions = s;
	w->n_ws++;
	w->st.accepted++;
	/* Counted from the handshake on: lws calls FILTER and ESTABLISHED in one pass. */
	if (s->addr_key.family && iw_addr_count_add(w->per_addr, &s->addr_key) == 0)
		s->addr_counted = 1;
	if (s->addr_key.family && IW_LOG_ENABLED(IW_LOG_DEBUG)) {
		/* The client behind a trusted proxy, as the per-address limit counts it. */
		char a[IW_ADDR_STRLEN];
		IW_DEBUG("WebSocket from %s", iw_addr_fmt(&s->addr_key, false, a, sizeof a));
	}
	hb_add(w, s, now);
	if (w->auto_wsi == wsi && w->auto_room[0]) {
		size_t len = 0;
		char *t = iw_msg_join(w->auto_room, &len);
		if (t)
			iw_hub_receive(w->hub, &s->hc, t, len, now);
		free(t);
	}
	w->auto_wsi = NULL;
}

/* ---- incoming messages that span several callbacks ----
 * lws hands a payload over in pieces of at most RX_CHUNK bytes, as far as one read took it.
 * A larger frame, or one whose rest is still on the wire, or a fragmented message, is put
 * together in a
 * buffer shared by all connections; when another connection's message starts before the one
 * held there is complete (the rest of a frame still on the wire), the holder's bytes move to
 * a buffer of its own. Either way nothing is held per connection between messages. */

static void rx_release(struct iw_ws *w, struct sess *s)
{
	if (w->rx_owner == s)
		w->rx_owner = NULL;
	free(s->rx);
	s->rx = NULL;
	s->rx_cap = 0;
	s->rx_len = 0;
}

/* Move the shared buffer's message in progress to its owner's own buffer. */
static int rx_park(struct iw_ws *w)
{
	struct sess *o = w->rx_owner;

	if (o->rx_len) {
		o->rx = malloc(o->rx_len);
		if (!o->rx)
			return -1;
		memcpy(o->rx, w->rx_buf, o->rx_len);
		o->rx_cap = o->rx_len;
		w->st.rx_parked++;
	}
	w->rx_owner = NULL;
	return 0;
}

/* Grow *buf to want bytes (at most the message limit: the caller checked rx_len + len). */
static int rx_reserve(char **buf, size_t *cap, size_t want)
{
	char *nb;

	if (want <= *cap)
		return 0;
	nb = realloc(*buf, want);
	if (!nb)
		return -1;
	*buf = nb;
	*cap = want;
	return 0;
}

/* Appends len bytes to s's message; rest: what lws says is left of the frame, so that a
 * frame takes one allocation at most. */
static int rx_append(struct iw_ws *w, struct sess *s, const void *in, size_t len, size_t rest)
{
	size_t want = s->rx_len + len + rest;
	char **buf = &s->rx;
	size_t *cap = &s->rx_cap;

	if (want > w->cfg.max_msg_size)
		want = w->cfg.max_msg_size;
	if (!s->rx && w->rx_owner != s) {
		if (w->rx_owner && rx_park(w) < 0)
			return -1;
		w->rx_owner = s;
	}
	if (w->rx_owner == s) {
		buf = &w->rx_buf;
		cap = &w->rx_buf_cap;
	}
	if (rx_reserve(buf, cap, want) < 0)
		return -1;
	memcpy(*buf + s->rx_len, in, len);
	s->rx_len += len;
	return 0;
}

static const char *rx_data(const struct iw_ws *w, const struct sess *s)
{
	return w->rx_owner == s ? w->rx_buf : s->rx;
}

static void on_closed(struct iw_ws *w, struct sess *s)
{
	if (!s->is_ws)
		return;
	s->is_ws = 0;
	iw_hub_conn_gone(w->hub, &s->hc, s->clean_close || w->draining, iw_clock_ms());
	if (s->prev)
		s->prev->next = s->next;
	else
		w->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	hb_del(w, s);
	w->n_ws--;
	if (s->addr_counted)
		iw_addr_count_del(w->per_addr, &s->addr_key);
	s->addr_counted = 0;
	q_free(w, s);
	rx_release(w, s);
	free(s->hc.claims);
	s->hc.claims = NULL;
}

static int on_receive(struct iw_ws *w, struct lws *wsi, struct sess *s, const void *in, size_t len)
{
	uint64_t now = iw_clock_ms();
	bool first = lws_is_first_fragment(wsi), last = lws_is_final_fragment(wsi);

	s->last_rx_ms = now;
	w->st.bytes_in += len;
	if (first) {
		rx_release(w, s);
		s->rx_skip = 0;
		/* A frame declared far beyond the limit is not worth reading (RFC 6455 §7.4.1:
		 * 1009 "message too big"). */
		if ((size_t)lws_remaining_packet_payload(wsi) + len > w->cfg.max_msg_size * RX_HARD_FACTOR) {
			w->st.closed_too_big++;
			lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
					 (unsigned char *)"message too big", 15);
			return -1;
		}
	}
	if (s->rx_skip)
		goto done;
	if (first && last && !lws_remaining_packet_payload(wsi) && len <= w->cfg.max_msg_size &&
	    !lws_frame_is_binary(wsi)) {
		/* The usual case: the whole message in one callback, parsed where lws put it. */
		w->st.msgs_in++;
		iw_hub_receive(w->hub, &s->hc, in, len, now);
		return 0;
	}
	if (s->rx_len + len > w->cfg.max_msg_size) {
		s->rx_skip = 1;
		rx_release(w, s);
		iw_hub_reject(w->hub, &s->hc, IW_ERR_TOO_LARGE, "message over the size limit", now);
		goto done;
	}
	if (rx_append(w, s, in, len, (size_t)lws_remaining_packet_payload(wsi)) < 0)
		return -1;
done:
	if (!last || lws_remaining_packet_payload(wsi))
		return 0;
	w->st.msgs_in++;
	if (!s->rx_skip) {
		if (lws_frame_is_binary(wsi))
			iw_hub_reject(w->hub, &s->hc, IW_ERR_BAD_JSON,
				      "binary messages are not accepted; send JSON text", now);
		else
			iw_hub_receive(w->hub, &s->hc, rx_data(w, s), s->rx_len, now);
	}
	rx_release(w, s);
	s->rx_skip = 0;
	return 0;
}

static int on_writeable(struct iw_ws *w, struct lws *wsi, struct sess *s)
{
	struct qmsg *m;

	if (s->close_pending && (!s->qhead || w->draining)) {
		/* No reason when drop_slow found the pipe choked and only set close_pending. */
		const char *why = s->close_reason ? s->close_reason : "";
		lws_close_reason(wsi, (enum lws_close_status)s->close_code, (unsigned char *)why,
				 strlen(why));
		return -1;
	}
	s->tx_direct = 1;
	/* WRITEABLE means the socket takes at least this one write; lws holds back any
	 * partial send itself. */
	if (s->need_ping) {
		/* lws 4.1 reports a pong only when it carries a payload. */
		unsigned char pb[LWS_PRE + 4] = { [LWS_PRE] = 'i', 'w' };
		s->need_ping = 0;
		if (lws_write(wsi, pb + LWS_PRE, 2, LWS_WRITE_PING) < 0)
			return -1;
		if (s->qhead || s->close_pending)
			lws_callback_on_writable(wsi);
		return 0;
	}
	/* As many queued messages as the socket takes whole. lws 4.1 allows several writes in
	 * one WRITEABLE; after a short one it holds the rest, and writing on would only pile
	 * the queue up in lws's buffer, outside the queue bounds. */
	while ((m = s->qhead)) {
		if (lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT) < (int)m->len)
			return -1;
		s->qhead = m->next;
		if (!s->qhead)
			s->qtail = NULL;
		s->qbytes -= m->len;
		w->queue_bytes -= m->len;
		free(m);
		if (lws_partial_buffered(wsi))
			break;
	}
	if (s->qhead || s->close_pending)
		lws_callback_on_writable(wsi);
	return 0;
}

/* A connection's heartbeat: closed when nothing, not even a pong, came within the idle timeout
 * (the peer or its path is gone, a half-open TCP connection: no close frame can get through),
 * otherwise pinged and queued again. */
static void heartbeat(struct iw_ws *w, struct sess *s, uint64_t now)
{
	if (now - s->last_rx_ms >= (uint64_t)w->cfg.idle_timeout_s * 1000u) {
		w->st.closed_idle++;
		IW_DEBUG("closing an idle connection");
		lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		return;
	}
	s->need_ping = 1;
	lws_callback_on_writable(s->wsi);
	hb_add(w, s, now);
}

/* The connections whose heartbeat is due, from the head of the queue. */
static void hb_run(struct iw_ws *w, uint64_t now)
{
	struct sess *s;
	while ((s = w->hb_head) && s->hb_due_ms <= now) {
		hb_del(w, s);
		heartbeat(w, s, now);
	}
}

/* SIGHUP, on the service thread: new secrets, iceServers, origins and limits apply to the
 * next message or connection; nobody is disconnected. */
static void do_reload(struct iw_ws *w)
{
	struct iw_ws_cfg n = w->cfg;
	char err[512];

	if (!w->cfg.reload)
		return;
	if (w->cfg.reload(w->cfg.reload_arg, &n, err, sizeof err) < 0) {
		w->st.reload_errors++;
		IW_ERROR("reload refused, the running configuration stays: %s", err);
		return;
	}
	w->cfg = n;
	iw_hub_reconfigure(w->hub, &(struct iw_hub_cfg){ .ice = n.ice,
							 .msg_rate = n.msg_rate,
							 .msg_burst = n.msg_burst,
							 .max_strikes = n.max_strikes });
	if (w->pin)
		iw_proxy_in_configure(w->pin, &n.proxy);
	w->st.reloads++;
	IW_INFO("configuration reloaded");
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct iw_ws *w = ws_of(wsi);
	struct sess *s = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return on_http(w, wsi, s);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (!s || !s->http_buf)
			return -1;
		{
			int n = lws_write(wsi, s->http_buf + LWS_PRE, s->http_len, LWS_WRITE_HTTP_FINAL);
			free(s->http_buf);
			s->http_buf = NULL;
			if (n < 0)
				return -1;
		}
		if (lws_http_transaction_completed(wsi))
			return -1;
		return 0;
	case LWS_CALLBACK_HTTP_FILE_COMPLETION:
		/* A static file from the "/" mount is done. lws hands this to protocols[0] and
		 * leaves finishing the transaction to it: without this the keep-alive connection
		 * sits until the idle timeout (5 s) before reading the next request. */
		if (lws_http_transaction_completed(wsi))
			return -1;
		return 0;
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (s && !s->is_ws) {
			free(s->http_buf);
			s->http_buf = NULL;
		}
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (atomic_exchange(&w->reload_pending, 0))
			do_reload(w);
		cl_drain(w);
		return 0;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		/* WebSocket only: lws would also switch a plain connection to HTTP/2 (h2c), a
		 * protocol this service does not serve and whose parser it need not expose. */
		if (in && strcasecmp(in, "websocket") == 0)
			return 0;
		if (lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, NULL))
			return -1;
		return 1;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return on_filter(w, wsi, s);
	case LWS_CALLBACK_ESTABLISHED:
		on_established(w, wsi, s);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		return on_receive(w, wsi, s, in, len);
	case LWS_CALLBACK_RECEIVE_PONG:
		s->last_rx_ms = iw_clock_ms();
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return on_writeable(w, wsi, s);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		/* 1000: the user left on purpose, so the room hears it now, not after grace. */
		if (len >= 2 && ((const uint8_t *)in)[0] == 0x03 && ((const uint8_t *)in)[1] == 0xe8)
			s->clean_close = 1;
		return 0;
	case LWS_CALLBACK_CLOSED:
		on_closed(w, s);
		return 0;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ "iceway-signal", callback, sizeof(struct sess), RX_CHUNK, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* ---- context, tick, shutdown ---- */

static void start_drain(struct iw_ws *w)
{
	w->draining = 1;
	w->drain_deadline_ms = iw_clock_ms() + (uint64_t)w->cfg.shutdown_timeout_s * 1000u;
	IW_INFO("shutting down: closing %u connections", w->n_ws);
	for (struct sess *s = w->sessions; s; s = s->next) {
		s->close_pending = 0; /* 1001 wins over any earlier reason */
		request_close(w, s, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
	}
}

/* glibc keeps a freed heap for reuse, so after a wave of connections closes (a deploy, a
 * network blip) the process would stay at its high-water mark for good. Once the open
 * connections fall to half the most seen since the last trim, the heap goes back to the
 * system: at most every TRIM_INTERVAL_MS, and only after a wave worth it. */
enum { TRIM_MIN_CONNS = 256, TRIM_INTERVAL_MS = 10000 };

static void trim_heap(struct iw_ws *w, uint64_t now_ms)
{
	if (w->n_ws > w->trim_high)
		w->trim_high = w->n_ws;
	if (w->trim_high < TRIM_MIN_CONNS || w->n_ws * 2 > w->trim_high || now_ms < w->trim_next_ms)
		return;
	malloc_trim(0);
	IW_DEBUG("heap trimmed: %u connections open, %u at most before", w->n_ws, w->trim_high);
	w->trim_high = w->n_ws;
	w->trim_next_ms = now_ms + TRIM_INTERVAL_MS;
}

static void tick(lws_sorted_usec_list_t *sul)
{
	struct iw_ws *w = lws_container_of(sul, struct iw_ws, sul);
	uint64_t now_ms = iw_clock_ms();
	cl_drain(w);
	hb_run(w, now_ms);
	iw_hub_tick(w->hub, now_ms);
	trim_heap(w, now_ms);
	if (w->stop && !w->draining)
		start_drain(w);
	lws_sul_schedule(w->ctx, 0, &w->sul, tick, TICK_MS * LWS_US_PER_MS);
}

static void raise_fd_limit(rlim_t want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want)
		IW_WARN("open-file limit %llu is below max-connections + 256 (%llu): raise it (ulimit -n)",
			(unsigned long long)rl.rlim_cur, (unsigned long long)want);
}

static void lws_log(int level, const char *line)
{
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (level & LLL_ERR)
		IW_ERROR("lws: %.*s", (int)n, line);
	else if (level & LLL_WARN)
		IW_DEBUG("lws: %.*s", (int)n, line);
}

/* Plain HTTP on prom_addr:prom_port, /metrics only: what the metrics show (rooms, peers,
 * errors) is for the operator, so it never shares a public listener. */
static int add_metrics_listener(struct iw_ws *w, const char **why)
{
	struct lws_context_creation_info ci, *info = &ci;
	const char *ip = w->cfg.prom_addr ? w->cfg.prom_addr : "127.0.0.1";
	bool v6 = strchr(ip, ':') != NULL;

	w->metrics_mount = (struct lws_http_mount){
		.mountpoint = "/metrics",
		.origin = "iceway-signal",
		.origin_protocol = LWSMPRO_CALLBACK,
		.mountpoint_len = 8,
	};
	memset(info, 0, sizeof *info);
	info->port = (int)w->cfg.prom_port;
	info->iface = ip;
	info->protocols = protocols;
	info->mounts = &w->metrics_mount;
	info->vhost_name = "metrics";
	info->options = v6 ? LWS_SERVER_OPTION_IPV6_V6ONLY_MODIFY | LWS_SERVER_OPTION_IPV6_V6ONLY_VALUE
			   : LWS_SERVER_OPTION_DISABLE_IPV6;
	w->metrics_vh = lws_create_vhost(w->ctx, info);
	if (!w->metrics_vh) {
		*why = "cannot listen for metrics (prometheus-address/prometheus-port in use or not local?)";
		return -1;
	}
	IW_INFO("metrics on http://%s%s%s:%d/metrics", v6 ? "[" : "", ip, v6 ? "]" : "",
		lws_get_vhost_listen_port(w->metrics_vh));
	return 0;
}

/* The hub with its send/close operations and, for a cluster, the Redis ones; the per-address
 * connection counts. */
static int hub_start(struct iw_ws *w, const struct iw_ws_cfg *cfg, const char **why)
{
	const struct iw_hub_cfg hcfg = {
		.rooms = { .max_rooms = cfg->max_rooms,
			   .max_peers = cfg->max_peers,
			   .grace_ms = cfg->resume_grace_s * 1000u },
		.ice = cfg->ice,
		.msg_rate = cfg->msg_rate,
		.msg_burst = cfg->msg_burst,
		.max_strikes = cfg->max_strikes,
	};
	struct iw_hub_ops ops = { .send = hub_send, .close = hub_close, .arg = w };

	if (cfg->redis_url) {
		ops.cl_join = cl_join;
		ops.cl_member_join = cl_member_join;
		ops.cl_leave = cl_leave;
		ops.cl_send = cl_send;
	}
	w->hub = iw_hub_create(&hcfg, &ops);
	w->per_addr = iw_addr_count_create();
	if (!w->hub || !w->per_addr) {
		*why = "out of memory";
		return -ENOMEM;
	}
	return 0;
}

/* lws mallocs a receive buffer of RX_CHUNK (plus headroom) per connection for the
 * connection's life. On the server side of lws 4.1 (no extensions, no rx flow control) it
 * copies only control frames there (payload at most 125 bytes), gathered across reads, while a
 * data frame goes from lws's read buffer straight to the callback. 16 KB a connection kept most
 * of an idle connection's memory resident, so each connection gets a slot of RX_SLOT bytes
 * instead, its own, so a control frame split across reads keeps its bytes whatever other
 * connections send. lws still believes the size it asked for, and its count can run past one
 * frame (a pong refused as bad UTF-8 after a text frame leaves it at 125, so the next control
 * frame lands at 125..249): slots lie end to end in one range whose tail is as long as what
 * lws asked for, so no write lws allows itself leaves the range (rx_slab.h). RX_SLOT covers
 * that known case within the slot. Another lws version, or a full range, gets what it asks
 * for. */
#if LWS_LIBRARY_VERSION_MAJOR == 4 && LWS_LIBRARY_VERSION_MINOR == 1
enum {
	LWS_RX_ASKED = LWS_PRE + RX_CHUNK + 4,
	RX_SLOT = LWS_PRE + 256,
};
#endif

static void *lws_alloc(void *ptr, size_t size, const char *reason)
{
#if LWS_LIBRARY_VERSION_MAJOR == 4 && LWS_LIBRARY_VERSION_MINOR == 1
	if (iw_rx_slab_owns(ptr)) {
		if (!size)
			iw_rx_slab_give(ptr);
		return size && size <= LWS_RX_ASKED ? ptr : NULL;
	}
	if (!ptr && size == LWS_RX_ASKED && reason && strcmp(reason, "rx_ubuf") == 0) {
		void *slot = iw_rx_slab_take();
		if (slot)
			return slot;
	}
#else
	(void)reason;
#endif
	if (!size) {
		free(ptr);
		return NULL;
	}
	return realloc(ptr, size);
}

/* The libev loop and the lws context on it, with no vhost yet. */
static int context_start(struct iw_ws *w, const struct iw_ws_cfg *cfg, const char **why)
{
	struct lws_context_creation_info info;
	void *foreign[1];

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);
#if LWS_LIBRARY_VERSION_MAJOR == 4 && LWS_LIBRARY_VERSION_MINOR == 1
	int rc = iw_rx_slab_init(cfg->max_conns + 1024u, RX_SLOT, LWS_RX_ASKED);
	if (rc < 0)
		IW_WARN("no receive buffer slots (%s): each connection holds a 16 KB buffer", strerror(-rc));
#endif
	lws_set_allocator(lws_alloc);
	w->loop = ev_loop_new(EVBACKEND_EPOLL);
	if (!w->loop) {
		*why = "cannot create the event loop (epoll)";
		return -ENOMEM;
	}
	foreign[0] = w->loop;
	memset(&info, 0, sizeof info);
	info.options =
		LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_LIBEV;
	info.foreign_loops = foreign;
	if (cfg->tls_cert)
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.user = w;
	info.count_threads = 1;
	/* lws sizes its fd table from RLIMIT_NOFILE; setting fd_limit_per_thread instead
	 * turns every fd lookup into a linear search. */
	raise_fd_limit(cfg->max_conns + 256);
	info.pt_serv_buf_size = 65536; /* one read takes a whole offer-sized frame and more */
	w->ctx = lws_create_context(&info);
	if (!w->ctx) {
		*why = "cannot create the libwebsockets context";
		return -ENOMEM;
	}
	return 0;
}

/* The public listeners' mounts. Longest mountpoint wins: the dynamic endpoints shadow the
 * static tree at "/". */
static void mounts_init(struct iw_ws *w, const char *web_root)
{
	static const char *const dyn[] = { "/healthz", "/api/turn" };

	for (int i = 0; i < 2; i++) {
		w->mounts[i] = (struct lws_http_mount){
			.mount_next = &w->mounts[i + 1],
			.mountpoint = dyn[i],
			.origin = "iceway-signal",
			.origin_protocol = LWSMPRO_CALLBACK,
			.mountpoint_len = (unsigned char)strlen(dyn[i]),
		};
	}
	w->mounts[2] = (struct lws_http_mount){
		.mountpoint = "/",
		.origin = web_root,
		.def = "index.html",
		.origin_protocol = LWSMPRO_FILE,
		.mountpoint_len = 1,
	};
}

/* One public listener: a vhost serving the mounts and /ws, TLS only with a certificate. */
/* A connection from a proxy-protocol listener, its header read: lws serves it on the
 * listener's vhost as if it had accepted it, and source_key() finds the client by its fd. */
static void proxied_conn(void *arg, void *listener, int fd, const struct iw_addr *client)
{
	struct iw_ws *w = arg;
	if ((size_t)fd >= w->n_fd_client) {
		close(fd); /* beyond RLIMIT_NOFILE: cannot happen */
		return;
	}
	w->fd_client[fd] = *client;
	if (!lws_adopt_socket_vhost(listener, fd))
		w->fd_client[fd].family = 0; /* lws closed it */
}

/* proxy-protocol: our own accept on every public listener, and the fd table for the clients
 * their headers name. */
static int proxy_start(struct iw_ws *w, const char **why)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		rl.rlim_cur = w->cfg.max_conns + 256;
	w->n_fd_client = (size_t)rl.rlim_cur;
	w->fd_client = calloc(w->n_fd_client, sizeof *w->fd_client);
	w->pin = iw_proxy_in_create(w->loop, &w->cfg.proxy, proxied_conn, w);
	if (!w->fd_client || !w->pin) {
		*why = "out of memory";
		return -ENOMEM;
	}
	return 0;
}

/* The vhost answers what pin hands it; the socket is pin's. Returns the port or -errno. */
static int proxy_listen(struct iw_ws *w, const struct iw_ws_listen *l, struct lws_vhost *vh, const char **why)
{
	struct iw_addr a;
	if (iw_addr_parse(&a, l->host) < 0) {
		*why = "proxy-protocol needs listen addresses (an IP), not interface names";
		return -EINVAL;
	}
	a.port = (uint16_t)l->port;
	return iw_proxy_in_listen(w->pin, &a, vh, why);
}

static int add_listener(struct iw_ws *w, const struct iw_ws_listen *l, const char **why)
{
	struct lws_context_creation_info info;
	bool v6 = strchr(l->host, ':') != NULL;
	struct lws_vhost *vh;
	int port;

	memset(&info, 0, sizeof info);
	info.port = w->pin ? CONTEXT_PORT_NO_LISTEN_SERVER : (int)l->port;
	info.iface = l->host;
	info.protocols = protocols;
	info.mounts = &w->mounts[0];
	info.vhost_name = l->spec;
	info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
	/* With a certificate every listener is TLS only: https:// and wss:// share it. */
	info.ssl_cert_filepath = w->cfg.tls_cert;
	info.ssl_private_key_filepath = w->cfg.tls_key;
	if (w->cfg.tls_cert) /* lws reads this per vhost too, or the vhost stays plain */
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	/* HTTP/1.1 only: /ws is not served over HTTP/2 (RFC 8441), and a browser that loaded the
	 * page over h2 tries its WebSocket there first, then waits seconds before HTTP/1.1. */
	info.alpn = "http/1.1";
	if (v6)
		info.options |= LWS_SERVER_OPTION_IPV6_V6ONLY_MODIFY | LWS_SERVER_OPTION_IPV6_V6ONLY_VALUE;
	else
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	vh = lws_create_vhost(w->ctx, &info);
	if (!vh) {
		*why = "cannot listen (address in use or not local?)";
		IW_ERROR("cannot listen on %s", l->spec);
		return -EADDRINUSE;
	}
	port = w->pin ? proxy_listen(w, l, vh, why) : lws_get_vhost_listen_port(vh);
	if (port < 0) {
		IW_ERROR("cannot listen on %s: %s", l->spec, *why);
		return port;
	}
	IW_INFO("listening on %s://%s%s%s:%d/ (WebSocket /ws%s)", w->cfg.tls_cert ? "https" : "http",
		v6 ? "[" : "", l->host, v6 ? "]" : "", port,
		w->pin ? ", PROXY protocol from proxy-trusted sources" : "");
	return 0;
}

static int cluster_start(struct iw_ws *w, const char **why)
{
	const struct iw_cluster_cfg ccfg = { .url = w->cfg.redis_url, .wake = cl_wake, .wake_arg = w };

	w->cl = iw_cluster_create(&ccfg, why);
	if (!w->cl)
		return -EINVAL;
	IW_INFO("signaling across instances through %s (instance %s)", w->cfg.redis_url,
		iw_cluster_instance(w->cl));
	return 0;
}

struct iw_ws *iw_ws_create(const struct iw_ws_cfg *cfg, const char **why)
{
	struct iw_ws *w = calloc(1, sizeof *w);

	if (!w) {
		*why = "out of memory";
		return NULL;
	}
	w->cfg = *cfg;
	w->started_s = (int64_t)time(NULL);
	w->started_ms = iw_clock_ms();
	if (hub_start(w, cfg, why) < 0 || context_start(w, cfg, why) < 0)
		goto fail;
	mounts_init(w, cfg->web_root);
	/* Metrics first: once a public listener is logged, the metrics line is already out. */
	if (cfg->prometheus && add_metrics_listener(w, why) < 0)
		goto fail;
	if (cfg->proxy_protocol && proxy_start(w, why) < 0)
		goto fail;
	for (unsigned i = 0; i < cfg->n_listen; i++)
		if (add_listener(w, &w->cfg.listen[i], why) < 0)
			goto fail;
	if (cfg->redis_url && cluster_start(w, why) < 0)
		goto fail;
	lws_sul_schedule(w->ctx, 0, &w->sul, tick, TICK_MS * LWS_US_PER_MS);
	return w;
fail:
	iw_ws_destroy(w);
	return NULL;
}

int iw_ws_run(struct iw_ws *w)
{
	for (;;) {
		/* One pass: lws's watchers, its timers (our tick among them) and the cancel pipe. */
		ev_run(w->loop, EVRUN_ONCE);
		if (w->stop && !w->draining)
			start_drain(w);
		if (w->draining && (w->n_ws == 0 || iw_clock_ms() >= w->drain_deadline_ms))
			break;
	}
	IW_INFO("stopped (%u connections left)", w->n_ws);
	return 0;
}

void iw_ws_stop(struct iw_ws *w)
{
	w->stop = 1;
	if (w->ctx)
		lws_cancel_service(w->ctx);
}

void iw_ws_request_reload(struct iw_ws *w)
{
	atomic_store(&w->reload_pending, 1);
	if (w->ctx)
		lws_cancel_service(w->ctx);
}

void iw_ws_destroy(struct iw_ws *w)
{
	if (!w)
		return;
	/* The Redis thread wakes the context: stop it first. */
	iw_cluster_destroy(w->cl);
	w->cl = NULL;
	if (w->ctx) {
		lws_sul_cancel(&w->sul);
		lws_context_destroy(w->ctx);
	}
	iw_proxy_in_destroy(w->pin); /* its watchers are on the loop */
	if (w->loop)
		ev_loop_destroy(w->loop);
	iw_hub_destroy(w->hub);
	iw_addr_count_destroy(w->per_addr);
	free(w->fd_client);
	free(w->rx_buf);
	free(w->tx_buf);
	free(w);
}
