/* The admin API: bearer-token HTTP routes on the metrics listener's thread, and the worker
 * mailboxes that carry its commands into the workers that own the allocations. Not on the
 * packet path: a worker pays one relaxed load per wake-up while nothing is posted. */
#include "turn/admin.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/bytes.h"
#include "common/clock.h"
#include "common/cred.h"
#include "common/http.h"
#include "common/log.h"
#include "common/utf8.h"
#include "common/version.h"
#include "turn/mailbox.h"
#include "turn/ops.h"
#include "turn/revoked.h"

/* Admin responses by status class, for the metrics. */
enum { C_2XX, C_400, C_401, C_403, C_404, C_405, C_429, C_5XX, C_OTHER, C_N };

struct iw_admin {
	const struct iw_conf *conf; /* main's (generation 0): outlives the HTTP thread */
	struct iw_ops *ops;
	struct iw_worker *workers[IW_CONF_MAX_THREADS + 1];
	unsigned n_workers;
	uint8_t key[32];       /* per process: tokens are compared as HMACs under it */
	uint8_t token_mac[32]; /* of admin-token */
	uint64_t started_ms;
	/* Wrong tokens: a bucket of IW_ADMIN_AUTH_BURST, one back a second. */
	uint32_t milli_tokens;
	uint64_t bucket_ms;
	/* Written and read on the HTTP thread only (the metrics fill runs there too). */
	uint64_t by_class[C_N];
	uint64_t auth_missing, auth_wrong, auth_throttled, worker_timeouts, killed, revokes;
	struct iw_revoked revoked;
};

/* The worker that made an allocation id: its index + 1 is in the top 16 bits. */
static int box_of_id(const struct iw_admin *ad, uint64_t id)
{
	unsigned idx = (unsigned)(id >> 48);
	for (unsigned i = 0; i < ad->n_workers; i++)
		if (ad->workers[i]->idx + 1 == idx)
			return (int)i;
	return -1;
}

/* Run c on every worker (or only the one that made c->id), adding up what they found and
 * moving out along the listing buffer. false if a worker did not answer. */
static bool ask_all(struct iw_admin *ad, struct iw_mailbox_cmd *c)
{
	int only = c->id ? box_of_id(ad, c->id) : -1;
	size_t matched = 0, n_out = 0;
	struct iw_mailbox_sess *base = c->out;
	size_t cap = c->out_cap;
	bool ok = true;

	if (c->id && only < 0)
		return true; /* no worker made it */
	for (unsigned i = 0; i < ad->n_workers; i++) {
		if (only >= 0 && (int)i != only)
			continue;
		struct iw_mailbox_cmd one = *c;
		one.out = base ? base + n_out : NULL;
		one.out_cap = cap - n_out;
		one.n_out = one.n_matched = 0;
		if (!iw_mailbox_ask(ad->workers[i]->mailbox, &one)) {
			ad->worker_timeouts++;
			IW_WARN("admin: worker %u did not answer within %u ms", ad->workers[i]->idx,
				IW_MAILBOX_WAIT_MS);
			ok = false;
			continue;
		}
		matched += one.n_matched;
		n_out += one.n_out;
	}
	c->n_matched = matched;
	c->n_out = n_out;
	return ok;
}

/* --- HTTP side: JSON --- */

/* A JSON string of bytes that may not be UTF-8: invalid bytes become U+FFFD. */
static json_t *jstr(const char *p, size_t len)
{
	char buf[3 * IW_ALLOC_USER_MAX + 1];
	size_t n = 0;
	for (size_t i = 0; i < len && n + 4 < sizeof buf;) {
		unsigned char c = (unsigned char)p[i];
		size_t l = c < 0x80 ? 1 : iw_utf8_len((const unsigned char *)p + i, len - i);
		if (c != 0 && l) {
			memcpy(buf + n, p + i, l);
			n += l;
			i += l;
		} else {
			memcpy(buf + n, "\xEF\xBF\xBD", 3);
			n += 3;
			i++;
		}
	}
	return json_stringn(buf, n);
}

static json_t *jaddr(const struct iw_addr *a)
{
	char t[IW_ADDR_STRLEN];
	return json_string(iw_addr_fmt(a, true, t, sizeof t));
}

static json_t *sess_json(const struct iw_admin *ad, const struct iw_mailbox_sess *s)
{
	static const char *const tr[] = { "udp", "tcp", "tls" };
	char id[17];
	snprintf(id, sizeof id, "%016llx", (unsigned long long)s->id);
	json_t *rel = json_array();
	for (unsigned i = 0; i < s->n_relayed; i++)
		json_array_append_new(rel, jaddr(&s->relayed[i]));
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(id));
	json_object_set_new(o, "user", jstr(s->user + s->ident_off, s->user_len - s->ident_off));
	json_object_set_new(o, "username", jstr(s->user, s->user_len));
	json_object_set_new(o, "realm", json_string(ad->conf->realm));
	json_object_set_new(o, "client", jaddr(&s->client));
	json_object_set_new(o, "transport", json_string(tr[s->transport % 3]));
	json_object_set_new(o, "relayed", rel);
	json_object_set_new(o, "created", json_integer(s->created_s));
	json_object_set_new(o, "expires", json_integer(s->expires_s));
	json_object_set_new(o, "bytes_to_peer", json_integer((json_int_t)s->use.bytes[0]));
	json_object_set_new(o, "bytes_to_client", json_integer((json_int_t)s->use.bytes[1]));
	json_object_set_new(o, "packets_to_peer", json_integer((json_int_t)s->use.pkts[0]));
	json_object_set_new(o, "packets_to_client", json_integer((json_int_t)s->use.pkts[1]));
	json_object_set_new(o, "peers", json_integer(s->use.peers));
	return o;
}

/* Answer with o (taken), as one line of JSON. */
static void reply(struct iw_metrics_resp *r, int status, json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	r->status = status;
	if (!s)
		return; /* out of memory: the plain "STATUS Reason" body */
	size_t n = strlen(s);
	char *body = realloc(s, n + 2);
	if (!body) {
		free(s);
		return;
	}
	body[n] = '\n';
	body[n + 1] = '\0';
	r->body = body;
	r->len = n + 1;
	r->type = "application/json";
}

static void fail(struct iw_metrics_resp *r, int status, const char *why)
{
	reply(r, status, json_pack("{s:s}", "error", why));
}

/* --- HTTP side: routes --- */

struct ctx {
	struct iw_admin *ad;
	const struct iw_http_req *rq;
	const struct iw_addr *peer;
	struct iw_metrics_resp *r;
	char user[IW_ALLOC_USER_MAX];
	size_t user_len;
};

static void no_answer(struct ctx *x)
{
	fail(x->r, 503, "a worker did not answer in time");
}

/* ?user=U&client=IP[:PORT] for listings and kills: 0, or answered with 400. */
static int filters(struct ctx *x, struct iw_mailbox_cmd *c, struct iw_addr *client)
{
	static const char *const names[] = { "user", "client", NULL };
	char v[IW_ADDR_STRLEN + 8];
	const struct iw_http_req *rq = x->rq;
	if (!iw_http_query_only(rq->query, rq->query_len, names)) {
		fail(x->r, 400, "unknown or malformed query parameter (user, client)");
		return -1;
	}
	int n = iw_http_query_get(rq->query, rq->query_len, "user", x->user, sizeof x->user);
	if (n == -EINVAL || n == 0) {
		fail(x->r, 400, "bad user (percent-encoded, 1-255 bytes, given once)");
		return -1;
	}
	if (n > 0) {
		c->user = x->user;
		c->user_len = (size_t)n;
	}
	n = iw_http_query_get(rq->query, rq->query_len, "client", v, sizeof v);
	if (n == -EINVAL || n == 0 || (n > 0 && iw_addr_parse(client, v) < 0)) {
		fail(x->r, 400, "bad client (an IP address, or IP:PORT, [IPv6]:PORT)");
		return -1;
	}
	if (n > 0)
		c->client = client;
	return 0;
}

static void list(struct ctx *x, uint64_t id)
{
	struct iw_admin *ad = x->ad;
	struct iw_addr client;
	struct iw_mailbox_cmd c = { .op = IW_MAILBOX_LIST, .id = id };
	if (filters(x, &c, &client))
		return;
	size_t cap = 0;
	for (unsigned i = 0; i < ad->n_workers; i++)
		cap += ad->workers[i]->tab.cap;
	c.out_cap = cap < IW_ADMIN_LIST_MAX ? cap : IW_ADMIN_LIST_MAX;
	c.out = malloc((c.out_cap ? c.out_cap : 1) * sizeof *c.out);
	if (!c.out) {
		fail(x->r, 500, "out of memory");
		return;
	}
	if (!ask_all(ad, &c)) {
		free(c.out);
		no_answer(x);
		return;
	}
	if (id && c.n_out == 0) {
		free(c.out);
		fail(x->r, 404, "no such session");
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < c.n_out; i++)
		json_array_append_new(arr, sess_json(ad, &c.out[i]));
	free(c.out);
	if (id) {
		json_t *one = json_incref(json_array_get(arr, 0));
		json_decref(arr);
		reply(x->r, 200, one);
		return;
	}
	reply(x->r, 200,
	      json_pack("{s:o,s:I,s:b}", "sessions", arr, "count", (json_int_t)c.n_matched, "truncated",
			c.n_matched > c.n_out));
}

static void kill_sessions(struct ctx *x, uint64_t id)
{
	struct iw_addr client;
	struct iw_mailbox_cmd c = { .op = IW_MAILBOX_KILL, .why = IW_END_KILLED, .id = id };
	if (filters(x, &c, &client))
		return;
	if (!id && !c.user && !c.client) {
		fail(x->r, 400, "DELETE /admin/sessions needs ?user=U or ?client=IP");
		return;
	}
	if (!ask_all(x->ad, &c)) {
		no_answer(x);
		return;
	}
	x->ad->killed += c.n_matched;
	if (id && !c.n_matched) {
		fail(x->r, 404, "no such session");
		return;
	}
	IW_INFO("admin: ended %zu session%s", c.n_matched, c.n_matched == 1 ? "" : "s");
	reply(x->r, 200, json_pack("{s:I}", "killed", (json_int_t)c.n_matched));
}

static void revoke_user(struct ctx *x, bool lift)
{
	static const char *const names[] = { "seconds", NULL };
	const struct iw_http_req *rq = x->rq;
	char v[16];
	long long secs = 0;
	const char *why = NULL;
	struct iw_admin *ad = x->ad;
	if (lift) {
		if (rq->query_len) {
			fail(x->r, 400, "no query parameters here");
			return;
		}
		bool was = iw_revoked_del(&ad->revoked, x->user, x->user_len, iw_clock_ms());
		reply(x->r, was ? 200 : 404, json_pack("{s:b}", "lifted", was));
		return;
	}
	int n = iw_http_query_get(rq->query, rq->query_len, "seconds", v, sizeof v);
	if (!iw_http_query_only(rq->query, rq->query_len, names) || n <= 0 ||
	    iw_config_int(v, 1, IW_ADMIN_REVOKE_MAX_S, &secs, &why) < 0) {
		fail(x->r, 400, "revoke needs ?seconds=S, 1-2592000");
		return;
	}
	/* The table first, then the kills: an Allocate that a worker runs after its kill finds the
	 * user revoked, and one it ran before is ended by the kill. */
	if (iw_revoked_add(&ad->revoked, x->user, x->user_len, (uint32_t)secs, iw_clock_ms())) {
		fail(x->r, 507, "too many users revoked at once");
		return;
	}
	ad->revokes++;
	struct iw_mailbox_cmd c = {
		.op = IW_MAILBOX_KILL, .why = IW_END_REVOKED, .user = x->user, .user_len = x->user_len
	};
	if (!ask_all(ad, &c)) {
		no_answer(x);
		return;
	}
	ad->killed += c.n_matched;
	IW_INFO("admin: user revoked for %lld s, %zu session%s ended", secs, c.n_matched,
		c.n_matched == 1 ? "" : "s");
	reply(x->r, 200,
	      json_pack("{s:o,s:I,s:I}", "user", jstr(x->user, x->user_len), "seconds", (json_int_t)secs,
			"killed", (json_int_t)c.n_matched));
}

static void status(struct ctx *x)
{
	struct iw_admin *ad = x->ad;
	const struct iw_conf *c = ad->conf;
	unsigned active = iw_ops_allocs_active(ad->ops);
	/* What Allocate is held to now: after a reload, or with the realm's total-quota from the
	 * Redis user database, not the start-up value. */
	uint32_t tq = __atomic_load_n(&ad->ops->total_quota, __ATOMIC_RELAXED);
	uint64_t cap = tq ? tq : c->total_quota ? c->total_quota : c->max_allocs;
	json_t *o = json_object();
	json_object_set_new(o, "version", json_string(iw_version()));
	json_object_set_new(o, "uptime", json_integer((json_int_t)((iw_clock_ms() - ad->started_ms) / 1000)));
	json_object_set_new(o, "realm", json_string(c->realm));
	json_object_set_new(o, "workers", json_integer(c->threads));
	json_object_set_new(o, "stream_worker", json_boolean(ad->ops->stream != NULL));
	json_object_set_new(o, "allocations", json_integer(active));
	json_object_set_new(o, "capacity", json_integer((json_int_t)cap));
	json_object_set_new(o, "capacity_left", json_integer(active < cap ? (json_int_t)(cap - active) : 0));
	json_object_set_new(o, "draining",
			    json_boolean(__atomic_load_n(&ad->ops->draining, __ATOMIC_RELAXED)));
	json_object_set_new(o, "revoked_users", json_integer(iw_revoked_count(&ad->revoked, iw_clock_ms())));
	reply(x->r, 200, o);
}

/* "Bearer TOKEN" (RFC 6750 §2.1): compared as HMACs under a per-process key, so the time
 * taken says nothing about the token's bytes or length. */
static bool token_ok(const struct iw_admin *ad, const char *v, size_t len)
{
	uint8_t mac[32];
	if (len < 7 || strncasecmp(v, "Bearer ", 7))
		return false;
	v += 7;
	len -= 7;
	while (len && *v == ' ')
		v++, len--;
	iw_cred_hmac_sha256(mac, ad->key, sizeof ad->key, v, len);
	return iw_cred_equal(mac, ad->token_mac, sizeof mac);
}

/* 0 when the request may go on; otherwise answered (401, 429). */
static int authorize(struct ctx *x)
{
	struct iw_admin *ad = x->ad;
	static const char challenge[] = "WWW-Authenticate: Bearer realm=\"iceway-admin\"\r\n";
	uint64_t now = iw_clock_ms();
	uint64_t refill = (now - ad->bucket_ms) * 1; /* one token (1000 milli) a second */
	ad->bucket_ms = now;
	ad->milli_tokens = (uint32_t)(ad->milli_tokens + refill > IW_ADMIN_AUTH_BURST * 1000
					      ? IW_ADMIN_AUTH_BURST * 1000
					      : ad->milli_tokens + refill);
	if (ad->milli_tokens < 1000) {
		/* Guessing: no token is checked until the bucket refills. */
		ad->auth_throttled++;
		x->r->headers = "Retry-After: 1\r\n";
		fail(x->r, 429, "too many wrong tokens; retry later");
		return -1;
	}
	if (!x->rq->auth) {
		ad->auth_missing++;
		x->r->headers = challenge;
		fail(x->r, 401, "missing bearer token");
		return -1;
	}
	if (!token_ok(ad, x->rq->auth, x->rq->auth_len)) {
		ad->auth_wrong++;
		ad->milli_tokens -= 1000;
		/* The security log's line (fail2ban's filter reads it); never the token. The bucket
		 * above bounds how many a second. */
		char a[IW_ADDR_STRLEN];
		IW_WARN("auth failure from %s transport=http method=admin reason=\"wrong bearer token\"",
			iw_addr_fmt(x->peer, true, a, sizeof a));
		x->r->headers = challenge;
		fail(x->r, 401, "wrong bearer token");
		return -1;
	}
	return 0;
}

/* An allocation id: 1-16 hex digits, not 0. */
static bool parse_id(const char *p, size_t len, uint64_t *id)
{
	uint64_t v = 0;
	if (len == 0 || len > 16)
		return false;
	for (size_t i = 0; i < len; i++) {
		int d = iw_hexval((unsigned char)p[i]);
		if (d < 0)
			return false;
		v = v << 4 | (uint64_t)d;
	}
	*id = v;
	return v != 0;
}

static bool method_is(const struct ctx *x, const char *m)
{
	return strcmp(x->rq->method, m) == 0;
}

static void not_allowed(struct ctx *x, const char *allow)
{
	x->r->headers = allow;
	fail(x->r, 405, "method not allowed here");
}

/* users/U/revoke: U is one percent-encoded path segment. */
static void users(struct ctx *x, const char *p, size_t n)
{
	const char *slash = memchr(p, '/', n);
	if (!slash || (size_t)(p + n - slash) != 7 || memcmp(slash, "/revoke", 7)) {
		fail(x->r, 404, "no such endpoint");
		return;
	}
	int l = iw_http_pct_decode(p, (size_t)(slash - p), x->user, sizeof x->user);
	if (l <= 0) {
		fail(x->r, 400, "bad user (percent-encoded, 1-255 bytes)");
		return;
	}
	x->user_len = (size_t)l;
	if (method_is(x, "POST"))
		revoke_user(x, false);
	else if (method_is(x, "DELETE"))
		revoke_user(x, true);
	else
		not_allowed(x, "Allow: POST, DELETE\r\n");
}

static void dispatch(struct ctx *x)
{
	const char *p = x->rq->path + 7; /* after "/admin/" */
	size_t n = x->rq->path_len - 7;
	uint64_t id = 0;
	bool get = method_is(x, "GET"), del = method_is(x, "DELETE");
	if (n == 6 && !memcmp(p, "status", 6)) {
		if (!get)
			not_allowed(x, "Allow: GET\r\n");
		else if (x->rq->query_len)
			fail(x->r, 400, "no query parameters here");
		else
			status(x);
	} else if (n == 8 && !memcmp(p, "sessions", 8)) {
		if (get)
			list(x, 0);
		else if (del)
			kill_sessions(x, 0);
		else
			not_allowed(x, "Allow: GET, DELETE\r\n");
	} else if (n > 9 && !memcmp(p, "sessions/", 9)) {
		if (!parse_id(p + 9, n - 9, &id))
			fail(x->r, 400, "a session id is 16 hex digits");
		else if (get)
			list(x, id);
		else if (del)
			kill_sessions(x, id);
		else
			not_allowed(x, "Allow: GET, DELETE\r\n");
	} else if (n > 6 && !memcmp(p, "users/", 6)) {
		users(x, p + 6, n - 6);
	} else {
		fail(x->r, 404, "no such endpoint");
	}
}

static void count_status(struct iw_admin *ad, int s)
{
	int c = s >= 200 && s < 300 ? C_2XX
		: s == 400          ? C_400
		: s == 401          ? C_401
		: s == 403          ? C_403
		: s == 404          ? C_404
		: s == 405          ? C_405
		: s == 429          ? C_429
		: s >= 500          ? C_5XX
				    : C_OTHER;
	ad->by_class[c]++;
}

static void route(const struct iw_http_req *rq, const struct iw_addr *peer, struct iw_metrics_resp *r,
		  void *arg)
{
	struct ctx x = { .ad = arg, .rq = rq, .peer = peer, .r = r };
	if (authorize(&x) == 0)
		dispatch(&x);
	count_status(x.ad, r->status);
}

struct iw_metrics_route iw_admin_route(struct iw_admin *ad)
{
	return (struct iw_metrics_route){ .prefix = "/admin/", .fn = route, .arg = ad };
}

void iw_admin_metrics_fill(struct iw_metrics_buf *b, const struct iw_admin *ad)
{
	static const char *const cls[C_N] = {
		"2xx", "400", "401", "403", "404", "405", "429", "5xx", "other"
	};
	static const char n[] = "iceway_admin_requests_total";
	iw_metrics_header(b, n, IW_METRICS_COUNTER, "Admin API requests, by answer.");
	for (unsigned i = 0; i < C_N; i++) {
		struct iw_metrics_label l = { "code", cls[i] };
		iw_metrics_counter(b, n, &l, 1, ad->by_class[i]);
	}
	static const char f[] = "iceway_admin_auth_failures_total";
	iw_metrics_header(b, f, IW_METRICS_COUNTER,
			  "Admin API requests refused for their token (missing, wrong) or while wrong "
			  "tokens were throttled.");
	struct iw_metrics_label lm = { "reason", "missing" }, lw = { "reason", "wrong" },
				lt = { "reason", "throttled" };
	iw_metrics_counter(b, f, &lm, 1, ad->auth_missing);
	iw_metrics_counter(b, f, &lw, 1, ad->auth_wrong);
	iw_metrics_counter(b, f, &lt, 1, ad->auth_throttled);
	iw_metrics_counter1(b, "iceway_admin_sessions_ended_total",
			    "Allocations ended through the admin API (killed or revoked).", ad->killed);
	iw_metrics_counter1(b, "iceway_admin_revocations_total", "Users revoked through the admin API.",
			    ad->revokes);
	iw_metrics_counter1(b, "iceway_admin_worker_timeouts_total",
			    "Admin commands a worker did not take within 2 s.", ad->worker_timeouts);
	iw_metrics_gauge1(b, "iceway_admin_revoked_users", "Users whose new allocations are refused now.",
			  (double)iw_revoked_count((struct iw_revoked *)&ad->revoked, iw_clock_ms()));
}

/* --- set-up --- */

struct iw_admin *iw_admin_create(const struct iw_conf *conf, struct iw_ops *ops)
{
	struct iw_admin *ad = calloc(1, sizeof *ad);
	if (!ad) {
		IW_ERROR("out of memory for the admin API");
		return NULL;
	}
	ad->conf = conf;
	ad->ops = ops;
	ad->started_ms = ad->bucket_ms = iw_clock_ms();
	ad->milli_tokens = IW_ADMIN_AUTH_BURST * 1000;
	iw_revoked_init(&ad->revoked);
	if (iw_cred_random(ad->key, sizeof ad->key)) {
		IW_ERROR("admin: no randomness");
		iw_admin_destroy(ad);
		return NULL;
	}
	iw_cred_hmac_sha256(ad->token_mac, ad->key, sizeof ad->key, conf->admin_token,
			    strlen(conf->admin_token));
	return ad;
}

int iw_admin_attach(struct iw_admin *ad, struct iw_worker *w)
{
	if (ad->n_workers == IW_CONF_MAX_THREADS + 1)
		return -ENOBUFS;
	int rc = iw_mailbox_attach(w);
	if (rc)
		return rc;
	w->revoked = &ad->revoked;
	ad->workers[ad->n_workers++] = w;
	return 0;
}

void iw_admin_destroy(struct iw_admin *ad)
{
	if (!ad)
		return;
	for (unsigned i = 0; i < ad->n_workers; i++) {
		iw_mailbox_destroy(ad->workers[i]->mailbox);
		ad->workers[i]->mailbox = NULL;
		ad->workers[i]->revoked = NULL;
	}
	iw_revoked_fini(&ad->revoked);
	explicit_bzero(ad->key, sizeof ad->key);
	free(ad);
}
