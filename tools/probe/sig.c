/* Signaling transports for the probe. The lws context lives in its own thread (lws is not
 * thread-safe, and only lws_cancel_service() may be called from outside it): outgoing
 * messages go through a locked per-connection queue, incoming ones are handed to the glib
 * main loop with g_idle_add(). */
#include "tools/probe/sig.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <libwebsockets.h>

enum ev_kind { EV_OPEN, EV_MSG, EV_ERROR };

struct iroom {
	struct iw_probe_sig *peer[2];
	json_t *ice_servers;
};

struct iw_probe_sig {
	struct iw_probe_sig_cbs cbs;
	void *arg;
	struct iw_probe_sig *next; /* all connections, for shutdown and the service thread */
	bool dead;                 /* error reported; later sends fail */

	/* internal */
	struct iroom *room;
	int side;
	bool joined;

	/* WebSocket; fields below are shared with the service thread under lock */
	char *addr_buf; /* lws_parse_uri splits this in place */
	const char *host, *path;
	int port;
	bool tls, insecure;
	bool want_connect;
	struct lws *wsi;
	char *outq[IW_PROBE_SIG_OUTQ]; /* LWS_PRE headroom + text */
	size_t outq_len[IW_PROBE_SIG_OUTQ];
	unsigned outq_head, outq_n;
	char *rx; /* service thread only */
	size_t rx_len;
};

struct ev {
	struct iw_probe_sig *s;
	enum ev_kind kind;
	char *text;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct iw_probe_sig *all;
static struct lws_context *ctx;
static pthread_t svc_thread;
static volatile int svc_stop;
static unsigned long n_dropped;
static unsigned n_connecting; /* service thread only */

static gboolean ev_dispatch(gpointer data)
{
	struct ev *e = data;
	struct iw_probe_sig *s = e->s;

	if (s->dead)
		goto out;
	if (e->kind == EV_OPEN) {
		s->cbs.on_open(s->arg);
	} else if (e->kind == EV_ERROR) {
		s->dead = true;
		s->cbs.on_error(s->arg, e->text);
	} else {
		json_error_t err;
		json_t *m = json_loads(e->text, 0, &err);
		if (!m || !json_is_object(m)) {
			s->dead = true;
			s->cbs.on_error(s->arg, "signaling sent a message that is not a JSON object");
		} else {
			s->cbs.on_msg(s->arg, m);
		}
		json_decref(m);
	}
out:
	free(e->text);
	free(e);
	return G_SOURCE_REMOVE;
}

static void post(struct iw_probe_sig *s, enum ev_kind kind, const char *text, size_t len)
{
	struct ev *e = calloc(1, sizeof *e);
	if (!e)
		return;
	e->s = s;
	e->kind = kind;
	if (text) {
		e->text = malloc(len + 1);
		if (!e->text) {
			free(e);
			return;
		}
		memcpy(e->text, text, len);
		e->text[len] = '\0';
	}
	/* Default priority, not idle: a loop busy with media is never idle, and signaling
	 * must not starve behind it. */
	g_idle_add_full(G_PRIORITY_DEFAULT, ev_dispatch, e, NULL);
}

static void connect_one(struct iw_probe_sig *s)
{
	struct lws_client_connect_info i;

	memset(&i, 0, sizeof i);
	i.context = ctx;
	i.address = s->host;
	i.port = s->port;
	i.path = s->path;
	i.host = s->host;
	i.origin = s->host;
	i.local_protocol_name = "iceway-probe";
	i.opaque_user_data = s;
	i.pwsi = &s->wsi;
	if (s->tls) {
		i.ssl_connection = LCCSCF_USE_SSL;
		if (s->insecure)
			i.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_ALLOW_INSECURE |
					    LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK | LCCSCF_ALLOW_EXPIRED;
	}
	if (!lws_client_connect_via_info(&i)) {
		s->wsi = NULL;
		static const char m[] = "signaling unreachable: could not start the connection";
		post(s, EV_ERROR, m, sizeof m - 1);
	}
}

/* Open one connection at a time, so that a run of hundreds of calls does not hit the
 * server's accept queue as one burst. A loopback connect takes about a millisecond. */
static void connect_next(void)
{
	struct iw_probe_sig *pick = NULL;

	if (n_connecting)
		return;
	pthread_mutex_lock(&lock);
	for (struct iw_probe_sig *c = all; c; c = c->next)
		if (c->want_connect)
			pick = c; /* the list is newest first: take the oldest */
	if (pick)
		pick->want_connect = false;
	pthread_mutex_unlock(&lock);
	if (!pick)
		return;
	n_connecting++;
	connect_one(pick);
	if (!pick->wsi && n_connecting)
		n_connecting--; /* failed synchronously; the error is already posted */
}

static int ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct iw_probe_sig *s = wsi ? lws_get_opaque_user_data(wsi) : NULL;
	char msg[300];
	(void)user;

	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		pthread_mutex_lock(&lock);
		for (struct iw_probe_sig *c = all; c; c = c->next)
			if (c->wsi && c->outq_n)
				lws_callback_on_writable(c->wsi);
		pthread_mutex_unlock(&lock);
		connect_next();
		break;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (n_connecting)
			n_connecting--;
		if (s)
			post(s, EV_OPEN, NULL, 0);
		connect_next();
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (n_connecting)
			n_connecting--;
		connect_next();
		if (!s)
			break;
		if (s->tls && !s->insecure && in && strstr((const char *)in, "SSL"))
			/* The TLS library's own words are cryptic: say what to do about it. */
			snprintf(msg, sizeof msg,
				 "signaling unreachable: TLS handshake failed, the server's certificate is "
				 "not trusted (--ca FILE for a private CA, --insecure to skip the check): %s",
				 (const char *)in);
		else
			snprintf(msg, sizeof msg, "signaling unreachable: %s",
				 in ? (const char *)in : "connection failed");
		pthread_mutex_lock(&lock);
		s->wsi = NULL;
		pthread_mutex_unlock(&lock);
		post(s, EV_ERROR, msg, strlen(msg));
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (!s)
			break;
		pthread_mutex_lock(&lock);
		s->wsi = NULL;
		pthread_mutex_unlock(&lock);
		snprintf(msg, sizeof msg, "signaling connection closed by the server");
		post(s, EV_ERROR, msg, strlen(msg));
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE: {
		if (!s)
			break;
		if (s->rx_len + len > IW_PROBE_SIG_MSG_MAX) {
			snprintf(msg, sizeof msg, "signaling message larger than %d bytes",
				 IW_PROBE_SIG_MSG_MAX);
			post(s, EV_ERROR, msg, strlen(msg));
			return -1;
		}
		char *nb = realloc(s->rx, s->rx_len + len + 1);
		if (!nb)
			return -1;
		s->rx = nb;
		memcpy(s->rx + s->rx_len, in, len);
		s->rx_len += len;
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			post(s, EV_MSG, s->rx, s->rx_len);
			s->rx_len = 0;
		}
		break;
	}
	case LWS_CALLBACK_CLIENT_WRITEABLE: {
		if (!s)
			break;
		char *buf = NULL;
		size_t blen = 0;
		bool more;
		pthread_mutex_lock(&lock);
		if (s->outq_n) {
			buf = s->outq[s->outq_head];
			blen = s->outq_len[s->outq_head];
			s->outq_head = (s->outq_head + 1) % IW_PROBE_SIG_OUTQ;
			s->outq_n--;
		}
		more = s->outq_n > 0;
		pthread_mutex_unlock(&lock);
		if (!buf)
			break;
		/* One write per writeable callback, as lws requires. */
		int n = lws_write(wsi, (unsigned char *)buf + LWS_PRE, blen, LWS_WRITE_TEXT);
		free(buf);
		if (n < (int)blen)
			return -1;
		if (more)
			lws_callback_on_writable(wsi);
		break;
	}
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ "iceway-probe", ws_cb, 0, 4096, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void *svc_main(void *arg)
{
	(void)arg;
	while (!svc_stop)
		lws_service(ctx, 0);
	return NULL;
}

static int ctx_start(const char *ca_file)
{
	struct lws_context_creation_info info;

	if (ctx)
		return 0;
	lws_set_log_level(getenv("IW_PROBE_LWS_LOG") ? LLL_ERR | LLL_WARN | LLL_NOTICE : 0, NULL);
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.client_ssl_ca_filepath = ca_file; /* NULL: the system's CAs */
	info.gid = -1;
	info.uid = -1;
	ctx = lws_create_context(&info);
	if (!ctx)
		return -ENOMEM;
	if (pthread_create(&svc_thread, NULL, svc_main, NULL)) {
		lws_context_destroy(ctx);
		ctx = NULL;
		return -EAGAIN;
	}
	return 0;
}

static void link_sig(struct iw_probe_sig *s)
{
	pthread_mutex_lock(&lock);
	s->next = all;
	all = s;
	pthread_mutex_unlock(&lock);
}

struct iw_probe_sig *iw_probe_sig_ws_create(const char *url, bool insecure, const char *ca_file,
					    const struct iw_probe_sig_cbs *cbs, void *arg, const char **why)
{
	const char *proto = NULL, *path = NULL;
	struct iw_probe_sig *s = calloc(1, sizeof *s);

	if (!s || !(s->addr_buf = strdup(url))) {
		*why = "out of memory";
		goto fail;
	}
	if (lws_parse_uri(s->addr_buf, &proto, &s->host, &s->port, &path)) {
		*why = "cannot parse the signaling URL (want ws://HOST:PORT/ws)";
		goto fail;
	}
	if (!strcmp(proto, "wss")) {
		s->tls = true;
	} else if (strcmp(proto, "ws") != 0) {
		*why = "the signaling URL must start with ws:// or wss://";
		goto fail;
	}
	/* lws_parse_uri drops the leading '/' of the path. */
	size_t pl = strlen(path) + 2;
	char *p = malloc(pl);
	if (!p) {
		*why = "out of memory";
		goto fail;
	}
	snprintf(p, pl, "/%s", path);
	s->path = p;
	s->insecure = insecure;
	s->cbs = *cbs;
	s->arg = arg;
	if (ctx_start(ca_file)) {
		*why = "cannot create the WebSocket client context";
		goto fail;
	}
	s->want_connect = true;
	link_sig(s);
	lws_cancel_service(ctx);
	return s;
fail:
	if (s) {
		free((char *)s->path);
		free(s->addr_buf);
	}
	free(s);
	return NULL;
}

/* The loopback room: answers like iceway-signal, asynchronously like a network would. */
static const char *side_id(int side)
{
	return side ? "probe-b" : "probe-a";
}

static void deliver(struct iw_probe_sig *to, json_t *m)
{
	char *t = json_dumps(m, JSON_COMPACT);
	if (t) {
		post(to, EV_MSG, t, strlen(t));
		free(t);
	}
	json_decref(m);
}

static int internal_send(struct iw_probe_sig *s, json_t *msg)
{
	struct iroom *r = s->room;
	struct iw_probe_sig *other = r->peer[!s->side];
	const char *type = json_string_value(json_object_get(msg, "type"));

	if (type && !strcmp(type, "join")) {
		json_t *peers = json_array();
		if (other->joined)
			json_array_append_new(peers, json_string(side_id(other->side)));
		s->joined = true;
		deliver(s, json_pack("{s:s, s:s, s:b, s:o, s:O}", "type", "welcome", "peer", side_id(s->side),
				     "resume", 0, "peers", peers, "iceServers", r->ice_servers));
		if (other->joined)
			deliver(other,
				json_pack("{s:s, s:s}", "type", "peer-joined", "peer", side_id(s->side)));
	} else {
		const char *to = json_string_value(json_object_get(msg, "to"));
		if (to && other->joined && !strcmp(to, side_id(other->side))) {
			json_object_set_new(msg, "from", json_string(side_id(s->side)));
			deliver(other, json_incref(msg));
		} else {
			deliver(s, json_pack("{s:s, s:s, s:s}", "type", "error", "code", "unknown-peer",
					     "message", "no such peer in the room"));
		}
	}
	json_decref(msg);
	return 0;
}

int iw_probe_sig_internal_pair(struct iw_probe_sig **a, struct iw_probe_sig **b, json_t *ice_servers,
			       const struct iw_probe_sig_cbs *cbs, void *arg_a, void *arg_b)
{
	struct iroom *r = calloc(1, sizeof *r);
	struct iw_probe_sig *sa = calloc(1, sizeof *sa), *sb = calloc(1, sizeof *sb);

	if (!r || !sa || !sb) {
		free(r), free(sa), free(sb);
		return -ENOMEM;
	}
	r->ice_servers = json_incref(ice_servers);
	r->peer[0] = sa;
	r->peer[1] = sb;
	sa->room = sb->room = r;
	sa->side = 0;
	sb->side = 1;
	sa->cbs = sb->cbs = *cbs;
	sa->arg = arg_a;
	sb->arg = arg_b;
	link_sig(sa);
	link_sig(sb);
	post(sa, EV_OPEN, NULL, 0);
	post(sb, EV_OPEN, NULL, 0);
	*a = sa;
	*b = sb;
	return 0;
}

int iw_probe_sig_send(struct iw_probe_sig *s, json_t *msg)
{
	if (!msg)
		return -ENOMEM;
	if (s->dead) {
		json_decref(msg);
		return -ENOTCONN;
	}
	if (s->room)
		return internal_send(s, msg);

	char *t = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (!t)
		return -ENOMEM;
	size_t len = strlen(t);
	char *buf = malloc(LWS_PRE + len);
	if (!buf) {
		free(t);
		return -ENOMEM;
	}
	memcpy(buf + LWS_PRE, t, len);
	free(t);

	int ret = 0;
	pthread_mutex_lock(&lock);
	if (s->outq_n == IW_PROBE_SIG_OUTQ) {
		n_dropped++;
		ret = -ENOBUFS;
		free(buf);
	} else {
		unsigned i = (s->outq_head + s->outq_n) % IW_PROBE_SIG_OUTQ;
		s->outq[i] = buf;
		s->outq_len[i] = len;
		s->outq_n++;
	}
	pthread_mutex_unlock(&lock);
	if (!ret)
		lws_cancel_service(ctx);
	return ret;
}

unsigned long iw_probe_sig_dropped(void)
{
	return n_dropped;
}

void iw_probe_sig_shutdown(void)
{
	if (ctx) {
		svc_stop = 1;
		lws_cancel_service(ctx);
		pthread_join(svc_thread, NULL);
		lws_context_destroy(ctx);
		ctx = NULL;
	}
	while (all) {
		struct iw_probe_sig *s = all;
		all = s->next;
		while (s->outq_n) {
			free(s->outq[s->outq_head]);
			s->outq_head = (s->outq_head + 1) % IW_PROBE_SIG_OUTQ;
			s->outq_n--;
		}
		if (s->room && s->side == 0) {
			json_decref(s->room->ice_servers);
			free(s->room);
		}
		free(s->rx);
		free((char *)s->path);
		free(s->addr_buf);
		free(s);
	}
}
