/* The control path: STUN Binding and TURN Allocate, Refresh, CreatePermission, ChannelBind
 * over UDP (RFC 8489, RFC 8656, RFC 6156). Answers are written into the worker's response
 * buffer and sent at once; allocations come from the slab. */
#include "turn/control.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/cred.h"
#include "common/log.h"
#include "common/sock.h"
#include "common/stun_auth.h"
#include "turn/acct.h"
#include "turn/mobility.h"
#include "turn/policy.h"

static const char software[] = "iceway";

const double iw_relay_life_bounds[IW_RELAY_LIFE_BUCKETS] = {
	1, 10, 30, 60, 300, 600, 1800, 3600, 7200, 21600
};
enum { BIND_TRIES = 64, REASON_MAX = 256 };

/* --- answers --- */

/* The answer in w->out, through the listener the request came in on (UDP, TCP or TLS). */
static void out(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *dst, size_t n)
{
	if (l->out(w, l, dst, w->out, n, IW_OUT_ANSWER))
		w->st.drop_send_err++;
}

/* Answers to a source that has not authenticated (ar NULL: Binding, challenges, 400s before
 * or instead of authentication) spend that source's budget (iw_auth_rl_take): a spoofed
 * source must not turn the relay into an amplifier, and past the budget no answer leaves.
 * A TCP/TLS handshake already proved the address, so stream answers are not limited. */
static bool unauth_ok(struct iw_worker *w, const struct iw_listener *l, const struct iw_addr *src,
		      size_t in_len, size_t out_len)
{
	if (l->addr_proven)
		return true;
	if (iw_auth_rl_take(&w->auth, src, w->now_ms, in_len, out_len, w->conf->unauth_rate,
			    w->conf->unauth_ratio) == 0)
		return true;
	w->st.drop_unauth_rl++;
	return false;
}

/* The reason phrase for an error to a source without credentials: none when the answer,
 * rest bytes of attributes after ERROR-CODE included, would be longer than
 * unauth-answer-ratio times the request (the code says it all; iw_auth_rl_take still counts
 * the bytes). */
static const char *unauth_reason(const struct iw_worker *w, const struct iw_stun_msg *m, uint16_t code,
				 const char *reason, size_t rest)
{
	size_t r = strlen(reason ? reason : iw_stun_err_reason(code));
	size_t full = STUN_HEADER_LEN + 4 + iw_pad4(4 + (r > 127 ? 127 : r)) + rest +
		      (w->conf->fingerprint || (m->present & IW_STUN_HAS_FINGERPRINT) ? 8 : 0);
	return w->conf->unauth_ratio && full > m->len * w->conf->unauth_ratio ? "" : reason;
}

/* --- the security log (worker.h: struct iw_seclog), read by fail2ban --- */

static const char *method_name(uint16_t method)
{
	switch (method) {
	case TURN_METHOD_ALLOCATE:
		return "allocate";
	case TURN_METHOD_REFRESH:
		return "refresh";
	case TURN_METHOD_CREATE_PERMISSION:
		return "create-permission";
	case TURN_METHOD_CHANNEL_BIND:
		return "channel-bind";
	case TURN_METHOD_CONNECT:
		return "connect";
	case TURN_METHOD_CONNECTION_BIND:
		return "connection-bind";
	default:
		return "other";
	}
}

/* Peer-supplied text as one field of a log line: bytes outside a small safe set become '?', so
 * that nothing a client sends can end the field or forge another field or line. */
static void seclog_field(char *out, size_t cap, const uint8_t *p, size_t len)
{
	static const char extra[] = "._:@+-=/";
	size_t n = 0;
	for (size_t i = 0; p && i < len && n + 1 < cap; i++) {
		unsigned char c = p[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  (c && memchr(extra, c, sizeof extra - 1));
		out[n++] = ok ? (char)c : '?';
	}
	if (n == 0)
		out[n++] = '-';
	out[n] = 0;
}

/* A reason phrase in double quotes: ours, but it may quote a peer address; '"' becomes '\''. */
static void seclog_reason(char *out, size_t cap, const char *why)
{
	size_t n = 0;
	for (; why && *why && n + 1 < cap; why++)
		out[n++] = *why == '"' ? '\'' : *why;
	out[n] = 0;
}

/* true when a line of kind about src may be written now; *sup gets how many lines about src
 * were skipped since the last one. Counts both. */
static bool seclog_allow(struct iw_worker *w, enum iw_seclog_kind kind, const struct iw_addr *src,
			 uint32_t *sup)
{
	struct iw_seclog *g = &w->seclog;
	struct iw_addr ip = *src;
	ip.port = 0;
	struct iw_seclog_slot *s = &g->slot[iw_addr_hash(&ip, ~w->auth.rl_seed) % IW_SECLOG_SLOTS];
	const uint64_t burst = 1000ull * IW_SECLOG_BURST;
	if (!iw_addr_eq(&s->ip, &ip)) {
		/* Another address starts afresh: a flooding one never hides it. */
		*s = (struct iw_seclog_slot){ .ip = ip,
					      .milli_tokens = (uint32_t)burst,
					      .last_ms = w->now_ms };
	}
	/* One line a second refills: one milli-token a millisecond. */
	uint64_t tok = s->milli_tokens + (w->now_ms - s->last_ms);
	s->last_ms = w->now_ms;
	s->milli_tokens = (uint32_t)(tok > burst ? burst : tok);
	uint64_t sec = w->now_ms / 1000;
	if (g->kind_s[kind] != sec) {
		g->kind_s[kind] = sec;
		g->kind_n[kind] = 0;
	}
	if (s->milli_tokens < 1000 || g->kind_n[kind] >= IW_SECLOG_KIND_RATE) {
		if (s->suppressed < UINT32_MAX)
			s->suppressed++;
		w->st.seclog_suppressed++;
		return false;
	}
	s->milli_tokens -= 1000;
	g->kind_n[kind]++;
	*sup = s->suppressed;
	s->suppressed = 0;
	w->st.seclog_lines++;
	return true;
}

static const char *transport_name(const struct iw_listener *l)
{
	return l->addr_proven ? "tcp" : "udp";
}

/* "auth failure from IP:PORT ...": a request with integrity whose credentials were refused
 * (unknown user, bad integrity, expired REST credential); never the password or key. A 438
 * (stale nonce) is the normal way a nonce is renewed, and a 401 without integrity the
 * normal first step of every client: neither is a failure. */
static void seclog_auth(struct iw_worker *w, const struct iw_listener *l, const struct iw_addr *src,
			const struct iw_stun_msg *m, const struct iw_auth_result *ar)
{
	uint32_t sup = 0;
	if (!IW_LOG_ENABLED(IW_LOG_WARN) || !seclog_allow(w, IW_SECLOG_AUTH, src, &sup))
		return;
	char a[IW_ADDR_STRLEN], u[96];
	seclog_field(u, sizeof u, ar->user, ar->user_len);
	IW_WARN("auth failure from %s transport=%s method=%s reason=\"%s\" realm=%s user=%s suppressed=%u",
		iw_addr_fmt(src, true, a, sizeof a), transport_name(l), method_name(m->method), ar->why,
		w->auth.realm, u, sup);
}

/* "refused from IP:PORT ...": an authenticated request refused by policy (403) or a limit
 * (486 quota, 508 capacity). */
static void seclog_refused(struct iw_worker *w, const struct iw_listener *l, const struct iw_addr *src,
			   const struct iw_stun_msg *m, const struct iw_auth_result *ar, uint16_t code,
			   const char *reason)
{
	uint32_t sup = 0;
	if (!IW_LOG_ENABLED(IW_LOG_WARN) || !seclog_allow(w, IW_SECLOG_REFUSED, src, &sup))
		return;
	const char *kind = code == STUN_ERR_FORBIDDEN          ? "policy"
			   : code == STUN_ERR_ALLOCATION_QUOTA ? "quota"
							       : "capacity";
	char a[IW_ADDR_STRLEN], u[96], r[REASON_MAX];
	seclog_field(u, sizeof u, ar->user, ar->user_len);
	seclog_reason(r, sizeof r, reason ? reason : iw_stun_err_reason(code));
	IW_WARN("refused from %s transport=%s method=%s code=%u kind=%s reason=\"%s\" realm=%s user=%s "
		"suppressed=%u",
		iw_addr_fmt(src, true, a, sizeof a), transport_name(l), method_name(m->method), code, kind, r,
		w->auth.realm, u, sup);
}

void iw_control_seclog_conn(struct iw_worker *w, const struct iw_addr *src, bool tls, const char *reason)
{
	uint32_t sup = 0;
	if (!IW_LOG_ENABLED(IW_LOG_WARN) || !seclog_allow(w, IW_SECLOG_REFUSED, src, &sup))
		return;
	char a[IW_ADDR_STRLEN];
	IW_WARN("refused from %s transport=%s method=connect code=0 kind=limit reason=\"%s\" realm=%s user=- "
		"suppressed=%u",
		iw_addr_fmt(src, true, a, sizeof a), tls ? "tls" : "tcp", reason, w->auth.realm, sup);
}

static void begin(struct iw_worker *w, struct iw_stun_wr *s, const struct iw_stun_msg *m, uint8_t cls)
{
	iw_stun_wr_init(s, w->out, sizeof w->out, m->method, cls, m->tid);
}

/* Seal (integrity with the request's key when it had valid credentials, FINGERPRINT when
 * configured or when the request had one) and send from the listener the request came to. */
static bool send_answer(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *dst,
			struct iw_stun_wr *s, const struct iw_stun_msg *m, const struct iw_auth_result *ar)
{
	/* Unauthenticated answers stay short: SOFTWARE is optional (RFC 8489 §14.14). */
	if (ar && !w->conf->no_software)
		iw_stun_wr_attr(s, STUN_ATTR_SOFTWARE, software, sizeof software - 1);
	if (ar && ar->key_len) {
		/* RFC 8489 §9.2.4: the response carries integrity with the same key, and the
		 * same integrity attribute the request used. */
		if (ar->sha256_mi)
			iw_stun_wr_integrity_sha256(s, ar->key, ar->key_len);
		else
			iw_stun_wr_integrity(s, ar->key, ar->key_len);
	}
	if (w->conf->fingerprint || (m->present & IW_STUN_HAS_FINGERPRINT))
		iw_stun_wr_fingerprint(s);
	int n = iw_stun_wr_finish(s);
	if (n < 0) {
		w->st.drop_send_err++;
		return false;
	}
	if (!ar && !unauth_ok(w, l, dst, m->len, (size_t)n))
		return false;
	out(w, l, dst, (size_t)n);
	return true;
}

static void answer_error(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *src,
			 const struct iw_stun_msg *m, const struct iw_auth_result *ar, uint16_t code,
			 const char *reason)
{
	struct iw_stun_wr s;
	if (ar && (code == STUN_ERR_FORBIDDEN || code == STUN_ERR_ALLOCATION_QUOTA ||
		   code == STUN_ERR_INSUFFICIENT_CAPACITY))
		seclog_refused(w, l, src, m, ar, code, reason);
	begin(w, &s, m, STUN_CLASS_ERROR);
	iw_stun_wr_error(&s, code, ar ? reason : unauth_reason(w, m, code, reason, 0));
	if (IW_LOG_ENABLED(IW_LOG_DEBUG)) {
		char a[IW_ADDR_STRLEN];
		/* a flood of refused requests must not become a flood of log lines */
		IW_LOG_RL(IW_LOG_DEBUG, 50, "%s: method 0x%03x -> %u %s", iw_addr_fmt(src, true, a, sizeof a),
			  m->method, code, reason ? reason : iw_stun_err_reason(code));
	}
	send_answer(w, l, src, &s, m, ar);
}

void iw_control_bad(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *src, const uint8_t *p,
		    size_t len, const char *why)
{
	/* classify() vouched for a header; only requests get an answer (RFC 8489 §6.3). */
	if (len < STUN_HEADER_LEN || STUN_TYPE_CLASS(iw_be16(p)) != STUN_CLASS_REQUEST) {
		w->st.drop_bad_stun++;
		return;
	}
	struct iw_stun_msg m;
	memset(&m, 0, sizeof m);
	m.method = STUN_TYPE_METHOD(iw_be16(p) & 0x3FFF);
	m.tid = p + 8;
	m.len = len;
	char reason[REASON_MAX];
	snprintf(reason, sizeof reason, "Bad Request: %s", why ? why : "malformed");
	w->st.bad_request++;
	answer_error(w, l, src, &m, NULL, STUN_ERR_BAD_REQUEST, reason);
}

static void binding(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *src,
		    const struct iw_stun_msg *m)
{
	struct iw_stun_wr s;
	uint16_t unknown[STUN_MAX_UNKNOWN + 1];
	uint8_t n_unknown = m->n_unknown;
	w->st.binding++;
	memcpy(unknown, m->unknown, sizeof m->unknown[0] * n_unknown);
	/* RFC 5780 §7.2: a CHANGE-REQUEST where there is no alternate address (RFC 5780 off,
	 * or TCP/TLS) is answered as an unknown attribute. RESPONSE-PORT (§7.5) stays unknown
	 * too: an answer to another port of a source is a reflection no budget of ours tracks. */
	if ((m->present & IW_STUN_HAS_CHANGE_REQ) && !l->rfc5780)
		unknown[n_unknown++] = STUN_ATTR_CHANGE_REQUEST;
	if (n_unknown) {
		/* RFC 8489 §6.3.1.1: unknown comprehension-required attributes -> 420. */
		w->st.unknown_attr++;
		begin(w, &s, m, STUN_CLASS_ERROR);
		iw_stun_wr_error(
			&s, STUN_ERR_UNKNOWN_ATTRIBUTE,
			unauth_reason(w, m, STUN_ERR_UNKNOWN_ATTRIBUTE, NULL, 4 + iw_pad4(2 * n_unknown)));
		iw_stun_wr_unknown(&s, unknown, n_unknown);
		send_answer(w, l, src, &s, m, NULL);
		return;
	}
	begin(w, &s, m, STUN_CLASS_SUCCESS);
	iw_stun_wr_xaddr(&s, STUN_ATTR_XOR_MAPPED_ADDRESS, src);
	/* RFC 8489 §14.1: MAPPED-ADDRESS for RFC 3489 clients. */
	iw_stun_wr_addr(&s, STUN_ATTR_MAPPED_ADDRESS, src);
	struct iw_listener *from = l;
	if (l->rfc5780) {
		/* RFC 5780 §6.1: the answer leaves from the address and port CHANGE-REQUEST asks
		 * for (a listener of this worker), says which (RESPONSE-ORIGIN), and names the
		 * alternate address (OTHER-ADDRESS). It spends the source's answer budget like any
		 * Binding answer: the source may be spoofed, whichever address answers it. */
		unsigned f = (m->present & IW_STUN_HAS_CHANGE_REQ) ? m->change_flags >> 1 : 0;
		from = &w->lis[l->chg[f]];
		iw_stun_wr_addr(&s, STUN_ATTR_RESPONSE_ORIGIN, &from->addr);
		iw_stun_wr_addr(&s, STUN_ATTR_OTHER_ADDRESS, &w->lis[l->chg[3]].addr);
	}
	if (send_answer(w, from, src, &s, m, NULL) && from != l)
		w->st.rfc5780_changed++;
}

void iw_control_classic(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *src,
			const uint8_t *p, size_t len)
{
	struct iw_stun_wr s;
	w->st.binding++;
	iw_stun_wr_init(&s, w->out, sizeof w->out, STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, p + 8);
	iw_stun_wr_addr(&s, STUN_ATTR_MAPPED_ADDRESS, src);
	int n = iw_stun_wr_finish(&s);
	if (n < 0 || !unauth_ok(w, l, src, len, (size_t)n))
		return;
	memcpy(w->out + 4, p + 4, 4); /* the first 32 bits of the RFC 3489 transaction id */
	out(w, l, src, (size_t)n);
}

/* --- relay sockets and reservations --- */

/* A UDP relay socket, or with tcp the listening socket of an RFC 6062 TCP allocation. Its
 * peer connections are bound to the same address and port (RFC 6062 §5.2), which Linux allows
 * next to a listening socket only when both set SO_REUSEPORT. */
static int bind_port(struct iw_worker *w, unsigned f, uint16_t port, bool tcp)
{
	static const struct iw_sock_spec udp = { .type = SOCK_DGRAM,
						 .flags = IW_SOCK_V6ONLY,
						 .buf = IW_RELAY_SOCK_BUF };
	static const struct iw_sock_spec lis = { .type = SOCK_STREAM,
						 .flags = IW_SOCK_V6ONLY | IW_SOCK_REUSEADDR |
							  IW_SOCK_REUSEPORT,
						 .backlog = 64 };
	struct iw_addr a = w->relay_bind[f];
	a.port = port;
	return iw_sock_open(&a, tcp ? &lis : &udp, NULL);
}

/* Bind a relay socket from the shared pool; a port another process holds is skipped. With
 * pair, an even port and the odd one above it (EVEN-PORT R=1): *fd2 gets the second socket. */
static int open_port(struct iw_worker *w, unsigned f, bool even, bool pair, bool tcp, uint16_t *port,
		     int *fd2)
{
	for (int t = 0; t < BIND_TRIES; t++) {
		int p = pair ? iw_ports_pool_take_pair(w->pool, f) : iw_ports_pool_take(w->pool, f, even);
		if (p < 0)
			return -ENOBUFS;
		int fd = bind_port(w, f, (uint16_t)p, tcp);
		if (fd >= 0 && pair) {
			*fd2 = bind_port(w, f, (uint16_t)(p + 1), false);
			if (*fd2 < 0) {
				close(fd);
				fd = -EADDRINUSE;
			}
		}
		if (fd >= 0) {
			*port = (uint16_t)p;
			return fd;
		}
		iw_ports_pool_put(w->pool, f, (uint16_t)p);
		if (pair)
			iw_ports_pool_put(w->pool, f, (uint16_t)(p + 1));
		if (fd != -EADDRINUSE)
			return fd;
	}
	return -ENOBUFS;
}

static int rsock_add(struct iw_worker *w, struct iw_alloc *a, unsigned f, int fd, uint16_t port)
{
	struct iw_rsock *rs = &a->rs[a->n_rsock];
	*rs = (struct iw_rsock){ .kind = a->tcp ? IW_EV_TCP_LIS : IW_EV_RELAY,
				 .fd = fd,
				 .alloc = a,
				 .bound = w->relay_bind[f],
				 .adv = w->relay_adv[f] };
	rs->bound.port = rs->adv.port = port;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = rs };
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		int e = -errno;
		close(fd);
		iw_ports_pool_put(w->pool, f, port);
		return e;
	}
	a->n_rsock++;
	return 0;
}

/* A reservation counts as an allocation of its user until redeemed or ended. */
static void resv_uncount(void *ctx, const struct iw_resv *r)
{
	iw_quota_put(((struct iw_worker *)ctx)->quota, r->user, r->user_len);
}

void iw_control_resv_expire(struct iw_worker *w)
{
	w->st.resv_expired += iw_ports_resv_expire_each(w->pool, w->now_ms, resv_uncount, w);
}

/* Everything an allocation holds but its table entry: the accounting record, relay sockets
 * and ports, reservation, quota counts. */
static void alloc_release(struct iw_worker *w, struct iw_alloc *a, enum iw_alloc_end why)
{
	/* Before the relay sockets go: the record names their addresses. */
	if (a->in_use)
		iw_acct_write(w, a, IW_ACCT_FINAL, why);
	a->acct = false;
	/* RFC 6062 §5: its peer connections end with it. */
	if (a->tcp && w->tcp_ops)
		w->tcp_ops->alloc_gone(w->tcp, a);
	for (unsigned i = 0; i < a->n_rsock; i++) {
		struct iw_rsock *rs = &a->rs[i];
		if (rs->fd >= 0) {
			close(rs->fd); /* also leaves the epoll set */
			/* Back to the shared pool, whichever worker took the port. */
			iw_ports_pool_put(w->pool, iw_relay_fam(rs->bound.family), rs->bound.port);
		}
		rs->fd = -1;
	}
	a->n_rsock = 0;
	struct iw_resv r;
	if (a->res_token && iw_ports_resv_cancel(w->pool, a->res_token, &r) == 0) {
		/* The reservation was for this allocation's pair: it goes with it. */
		resv_uncount(w, &r);
		w->st.resv_cancelled++;
	}
	a->res_token = 0;
	if (a->ext_held)
		iw_quota_ext_put(w->quota, a->user + a->quota_off, a->user_len - a->quota_off);
	a->ext_held = false;
	if (a->quota_held)
		iw_quota_put(w->quota, a->user + a->quota_off, a->user_len - a->quota_off);
	a->quota_held = false;
	if (a->in_use && a->created_ms)
		iw_metrics_hist_observe(&w->life, (double)(w->now_ms - a->created_ms) / 1000.0);
}

void iw_control_alloc_free(struct iw_worker *w, struct iw_alloc *a, enum iw_alloc_end why)
{
	alloc_release(w, a, why);
	iw_alloc_del(&w->tab, a);
}

/* --- TURN requests --- */

static uint32_t lifetime_for(const struct iw_worker *w, const struct iw_stun_msg *m)
{
	const struct iw_conf *c = w->conf;
	if (!(m->present & IW_STUN_HAS_LIFETIME))
		return c->default_lifetime_s;
	/* RFC 8656 §7.2/§7.3: min(requested, maximum), but at least the default. */
	uint32_t v = m->lifetime < c->max_lifetime_s ? m->lifetime : c->max_lifetime_s;
	return v > c->default_lifetime_s ? v : c->default_lifetime_s;
}

/* rest-strict-expiry (coturn's option, eturnal's strict_expiry): an allocation made with a
 * REST credential lives no longer than the credential, so an expired one stops relaying even
 * when its last Refresh asked for more. exp_ms is the lifetime's end; returns the end to use. */
static uint64_t cred_cap(const struct iw_worker *w, struct iw_alloc *a, uint64_t exp_ms)
{
	a->cred_capped = false;
	if (!w->conf->rest_strict_expiry || !a->cred_expiry_s)
		return exp_ms;
	int64_t left_s = a->cred_expiry_s - w->now_s;
	uint64_t cap_ms = w->now_ms + (left_s > 0 ? (uint64_t)left_s * 1000 : 0);
	if (cap_ms >= exp_ms)
		return exp_ms;
	a->cred_capped = true;
	return cap_ms;
}

void iw_control_strict_apply(struct iw_worker *w)
{
	/* Once per reload that turns rest-strict-expiry on, off the packet path: allocations made
	 * before it are capped as if made after. */
	for (uint32_t i = 0; i < w->tab.n_fresh; i++) {
		struct iw_alloc *a = &w->tab.slab[i];
		if (!a->in_use || !a->cred_expiry_s)
			continue;
		uint64_t exp = cred_cap(w, a, a->expires_ms);
		if (exp != a->expires_ms) {
			a->expires_ms = exp;
			iw_alloc_timer_arm(&w->tab, a);
		}
	}
}

static uint32_t remaining_s(const struct iw_worker *w, const struct iw_alloc *a)
{
	return a->expires_ms > w->now_ms ? (uint32_t)((a->expires_ms - w->now_ms + 999) / 1000) : 0;
}

/* RFC 8016: a mobile allocation's answers carry a fresh ticket naming where it is now. */
static void wr_ticket(struct iw_worker *w, struct iw_stun_wr *s, const struct iw_alloc *a)
{
	if (!a->mobile || !w->mob || !w->conf->mobility) /* a reload may turn it off */
		return;
	struct iw_cred_ticket t = { .worker = (uint8_t)w->idx,
				    .slot = (uint32_t)(a - w->tab.slab),
				    .id = a->id };
	char tk[IW_CRED_TICKET_LEN];
	iw_cred_ticket_seal(tk, w->mob->key, &t);
	iw_stun_wr_attr(s, STUN_ATTR_MOBILITY_TICKET, tk, sizeof tk);
}

/* The answer still in w->out once more to each of n retransmissions of its request. */
static void answer_again(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *dst, unsigned n)
{
	size_t len = STUN_HEADER_LEN + iw_be16(w->out + 2);
	while (n--)
		out(w, l, dst, len);
}

static void alloc_success(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *src,
			  const struct iw_stun_msg *m, const struct iw_auth_result *ar,
			  const struct iw_alloc *a, uint16_t add_code, const char *add_why)
{
	struct iw_stun_wr s;
	begin(w, &s, m, STUN_CLASS_SUCCESS);
	for (unsigned i = 0; i < a->n_rsock; i++)
		iw_stun_wr_xaddr(&s, STUN_ATTR_XOR_RELAYED_ADDRESS, &a->rs[i].adv);
	iw_stun_wr_u32(&s, STUN_ATTR_LIFETIME, remaining_s(w, a));
	iw_stun_wr_xaddr(&s, STUN_ATTR_XOR_MAPPED_ADDRESS, src);
	if (a->res_token)
		iw_stun_wr_attr(&s, STUN_ATTR_RESERVATION_TOKEN, &a->res_token, 8);
	wr_ticket(w, &s, a);
	if (add_code)
		iw_stun_wr_addr_error(&s, STUN_FAMILY_IPV6, add_code, add_why);
	send_answer(w, l, src, &s, m, ar);
}

static bool same_user(const struct iw_alloc *a, const struct iw_auth_result *ar)
{
	return a->user_len == ar->user_len && !memcmp(a->user, ar->user, ar->user_len);
}

/* One authenticated Allocate on its way through the steps below. Each step either moves it
 * on (returns 0) or answers it and ends it (returns -1). */
struct alloc_req {
	struct iw_worker *w;
	struct iw_listener *l;
	const struct iw_addr *src;
	const struct iw_stun_msg *m;
	const struct iw_auth_result *ar;
	const uint8_t *who; /* the quota key */
	size_t who_len;
	unsigned fam;      /* relay family of the first socket: 0 IPv4, 1 IPv6 */
	uint64_t tok;      /* RESERVATION-TOKEN to redeem */
	bool transfer;     /* the reservation's quota count passes to this allocation */
	uint16_t add_code; /* why the ADDITIONAL-ADDRESS-FAMILY socket failed, 0 if it did not */
	const char *add_why;
};

static int refuse(struct alloc_req *q, uint64_t *ctr, uint16_t code, const char *reason)
{
	(*ctr)++;
	answer_error(q->w, q->l, q->src, q->m, q->ar, code, reason);
	return -1;
}

/* RFC 8656 §7.2 step 2: the 5-tuple already has an allocation. A retransmission of the
 * request that made it gets the same success answer; anything else is a mismatch. */
static int alloc_known(struct alloc_req *q)
{
	struct iw_alloc *a = iw_alloc_find(&q->w->tab, q->src, q->l->idx);
	if (!a)
		return 0;
	if (!memcmp(a->tid, q->m->tid, STUN_TID_LEN) && same_user(a, q->ar)) {
		q->w->st.alloc_retrans++;
		alloc_success(q->w, q->l, q->src, q->m, q->ar, a, 0, NULL);
		return -1;
	}
	return refuse(q, &q->w->st.alloc_mismatch, STUN_ERR_ALLOCATION_MISMATCH, NULL);
}

/* The alternate of the client's transport and family to send it to, in turn; NULL when none,
 * or when this listener is one of them (a relay that lists itself would send clients round in
 * a loop). */
static const struct iw_addr *alt_pick(struct iw_worker *w, const struct alloc_req *q)
{
	const struct iw_conf *c = w->conf;
	bool tls = q->l->tr == IW_CLIENT_TLS;
	const struct iw_addr *tab = tls ? c->tls_alt : c->alt;
	unsigned n = tls ? c->n_tls_alt : c->n_alt;
	for (unsigned i = 0; i < n; i++)
		if (iw_addr_eq(&tab[i], &q->l->addr))
			return NULL;
	for (unsigned i = 0; i < n; i++) {
		const struct iw_addr *a = &tab[w->alt_next++ % n];
		if (a->family == q->src->family)
			return a;
	}
	return NULL;
}

/* RFC 8489 §10: 300 Try Alternate with ALTERNATE-SERVER. With alternate-server (coturn's
 * load balancing) every new allocation goes elsewhere; a draining relay takes none either,
 * sent to drain-alternate-server, or told to look elsewhere with 508. */
static int alloc_redirect(struct alloc_req *q)
{
	struct iw_worker *w = q->w;
	const struct iw_addr *to = alt_pick(w, q);
	const char *why = "Try Alternate";
	if (!to && iw_worker_draining(w)) {
		if (!w->conf->has_drain_alt)
			return refuse(q, &w->st.alloc_draining, STUN_ERR_INSUFFICIENT_CAPACITY,
				      "Insufficient Capacity: server is shutting down");
		to = &w->conf->drain_alt;
		why = "Try Alternate: draining";
	}
	if (!to)
		return 0;
	struct iw_stun_wr s;
	w->st.alloc_redirect++;
	begin(w, &s, q->m, STUN_CLASS_ERROR);
	iw_stun_wr_error(&s, STUN_ERR_TRY_ALTERNATE, why);
	iw_stun_wr_addr(&s, STUN_ATTR_ALTERNATE_SERVER, to);
	send_answer(w, q->l, q->src, &s, q->m, q->ar);
	return -1;
}

/* bps-capacity: past it (as measured over the last second, turn/ops.c) a new allocation is
 * refused with 508, so that the ones relaying keep the bandwidth they have. */
static int alloc_bandwidth(struct alloc_req *q)
{
	struct iw_worker *w = q->w;
	uint64_t cap = w->conf->bps_capacity;
	if (!cap || !w->relayed_bps || __atomic_load_n(w->relayed_bps, __ATOMIC_RELAXED) < cap)
		return 0;
	return refuse(q, &w->st.alloc_bps_capacity, STUN_ERR_INSUFFICIENT_CAPACITY,
		      "Insufficient Capacity: bps-capacity reached");
}

/* A user revoked through the admin API gets no allocation until the revocation ends. */
static int alloc_revoked(struct alloc_req *q)
{
	uint32_t left = 0;
	char reason[96];
	if (!q->w->revoked || !iw_revoked_has(q->w->revoked, q->who, q->who_len, q->w->now_ms, &left))
		return 0;
	snprintf(reason, sizeof reason, "Forbidden: user revoked by the operator (%u s left)", left);
	return refuse(q, &q->w->st.alloc_revoked, STUN_ERR_FORBIDDEN, reason);
}

/* REQUESTED-TRANSPORT TCP (RFC 6062 §5.1). Then the checks of any Allocate. */
static int alloc_check_tcp(struct alloc_req *q)
{
	const struct iw_stun_msg *m = q->m;
	uint64_t *bad = &q->w->st.bad_request;
	if (q->w->conf->no_tcp_relay)
		return refuse(q, &q->w->st.alloc_transport, STUN_ERR_UNSUPPORTED_TRANSPORT,
			      "Unsupported Transport Protocol: TCP relay is off (no-tcp-relay)");
	/* RFC 6062 §5.1: "If the client connection transport is not TCP or TLS, the server
	 * MUST reject the request with a 400 (Bad Request) error." */
	if (!q->w->tcp_ops || !q->l->addr_proven)
		return refuse(q, bad, STUN_ERR_BAD_REQUEST,
			      "Bad Request: a TCP allocation needs a TCP or TLS connection to the server");
	/* RFC 6062 §5.1: "If the request contains the DONT-FRAGMENT, EVEN-PORT, or
	 * RESERVATION-TOKEN attribute, the server MUST reject the request with a 400". */
	if (m->present & (IW_STUN_HAS_DONT_FRAGMENT | IW_STUN_HAS_EVEN_PORT | IW_STUN_HAS_RES_TOKEN))
		return refuse(q, bad, STUN_ERR_BAD_REQUEST,
			      "Bad Request: DONT-FRAGMENT, EVEN-PORT or RESERVATION-TOKEN with TCP");
	/* One listening socket per TCP allocation: no dual allocation. */
	if (m->present & IW_STUN_HAS_ADD_FAMILY)
		return refuse(q, bad, STUN_ERR_BAD_REQUEST,
			      "Bad Request: ADDITIONAL-ADDRESS-FAMILY with TCP");
	return 0;
}

/* The request's attributes on their own, before anything is looked up or taken. */
static int alloc_check_attrs(struct alloc_req *q)
{
	const struct iw_stun_msg *m = q->m;
	uint64_t *bad = &q->w->st.bad_request;
	/* RFC 8656 §7.2 step 3: REQUESTED-TRANSPORT is required; UDP, or TCP (RFC 6062). */
	if (!(m->present & IW_STUN_HAS_REQ_TRANSPORT))
		return refuse(q, bad, STUN_ERR_BAD_REQUEST, "Bad Request: missing REQUESTED-TRANSPORT");
	if (m->req_transport == TURN_TRANSPORT_TCP) {
		if (alloc_check_tcp(q))
			return -1;
	} else if (m->req_transport != TURN_TRANSPORT_UDP) {
		return refuse(q, &q->w->st.alloc_transport, STUN_ERR_UNSUPPORTED_TRANSPORT, NULL);
	} else if (q->w->conf->no_udp_relay) {
		return refuse(q, &q->w->st.alloc_transport, STUN_ERR_UNSUPPORTED_TRANSPORT,
			      "Unsupported Transport Protocol: UDP relay is off (no-udp-relay)");
	}
	/* RFC 8656 §7.2 step 5: RESERVATION-TOKEN excludes EVEN-PORT and the family
	 * attributes. */
	if ((m->present & IW_STUN_HAS_RES_TOKEN) &&
	    (m->present & (IW_STUN_HAS_EVEN_PORT | IW_STUN_HAS_REQ_FAMILY | IW_STUN_HAS_ADD_FAMILY)))
		return refuse(q, bad, STUN_ERR_BAD_REQUEST,
			      "Bad Request: RESERVATION-TOKEN with EVEN-PORT or an address family");
	/* RFC 8656 §7.2 step 7: REQUESTED- and ADDITIONAL-ADDRESS-FAMILY are exclusive, and
	 * the additional family can only be IPv6. */
	if ((m->present & IW_STUN_HAS_REQ_FAMILY) && (m->present & IW_STUN_HAS_ADD_FAMILY))
		return refuse(q, bad, STUN_ERR_BAD_REQUEST,
			      "Bad Request: REQUESTED-ADDRESS-FAMILY with ADDITIONAL-ADDRESS-FAMILY");
	if ((m->present & IW_STUN_HAS_ADD_FAMILY) && m->add_family != STUN_FAMILY_IPV6)
		return refuse(q, bad, STUN_ERR_BAD_REQUEST,
			      "Bad Request: ADDITIONAL-ADDRESS-FAMILY must be IPv6");
	if (m->present & IW_STUN_HAS_MOBILITY) {
		/* RFC 8016: a server that does not offer mobility answers 405 (§3.4); ours is for
		 * UDP clients, whose new address reaches the same listeners. The request for a
		 * ticket is an empty one. */
		uint64_t *mf = &q->w->st.mob_refused[IW_MOB_R_FORBIDDEN];
		if (!q->w->conf->mobility)
			return refuse(q, mf, STUN_ERR_MOBILITY_FORBIDDEN,
				      "Mobility Forbidden: mobility is off");
		if (q->l->tr != IW_CLIENT_UDP || !q->w->mob)
			return refuse(q, mf, STUN_ERR_MOBILITY_FORBIDDEN,
				      "Mobility Forbidden: for UDP clients only");
		if (m->mobility.len)
			return refuse(q, bad, STUN_ERR_BAD_REQUEST,
				      "Bad Request: MOBILITY-TICKET in an Allocate must be empty");
	}
	/* The allocation keeps a copy of the username. */
	if (q->ar->user_len >= IW_ALLOC_USER_MAX)
		return refuse(q, bad, STUN_ERR_BAD_REQUEST, "Bad Request: username too long");
	if ((m->present & IW_STUN_HAS_REQ_FAMILY) && m->req_family != STUN_FAMILY_IPV4 &&
	    m->req_family != STUN_FAMILY_IPV6)
		return refuse(q, &q->w->st.alloc_family, STUN_ERR_ADDRESS_FAMILY, NULL);
	return 0;
}

/* The family of the first relay socket: the requested one, the reservation's, or the
 * configured default. */
static int alloc_pick_family(struct alloc_req *q)
{
	struct iw_worker *w = q->w;
	const struct iw_stun_msg *m = q->m;
	if (m->present & IW_STUN_HAS_REQ_FAMILY)
		q->fam = m->req_family == STUN_FAMILY_IPV6;
	else if (!(m->present & IW_STUN_HAS_ADD_FAMILY))
		/* RFC 8656 §7.2 says IPv4 when the client names no family; coturn's
		 * allocation-default-address-family may say IPv6, or the client's own family */
		q->fam = w->conf->alloc_family == IW_CONF_FAMILY_KEEP
				 ? q->src->family == AF_INET6
				 : w->conf->alloc_family == IW_CONF_FAMILY_IPV6;
	if (m->present & IW_STUN_HAS_RES_TOKEN) {
		/* RFC 8656 §7.2: an unknown or expired token -> 508. The reservation may have
		 * been made on another worker: redeeming it hands its socket to this one. */
		memcpy(&q->tok, m->res_token.p, sizeof q->tok);
		struct iw_resv held;
		int rf = iw_ports_resv_get(w->pool, q->tok, w->now_ms, &held);
		if (rf < 0)
			return refuse(q, &w->st.alloc_capacity, STUN_ERR_INSUFFICIENT_CAPACITY,
				      "Insufficient Capacity: unknown RESERVATION-TOKEN");
		q->fam = (unsigned)rf;
		/* The user who reserved it was counted then: redeeming takes no second count. */
		q->transfer = held.user_len == q->who_len && !memcmp(held.user, q->who, q->who_len);
	}
	if (!w->has_relay[q->fam])
		return refuse(q, &w->st.alloc_family, STUN_ERR_ADDRESS_FAMILY, NULL);
	return 0;
}

/* RFC 8656 §7.2 step 8: the user's quota (486), then a table entry that holds the
 * request's identity; *out is NULL when the request was answered. */
static int alloc_install(struct alloc_req *q, struct iw_alloc **out)
{
	struct iw_worker *w = q->w;
	const char *qwhy = NULL;
	*out = NULL;
	if (!q->transfer && iw_quota_take(w->quota, q->who, q->who_len, w->user_quota, w->total_quota, &qwhy))
		return refuse(q, &w->st.alloc_quota, STUN_ERR_ALLOCATION_QUOTA, qwhy);
	struct iw_alloc *a = iw_alloc_new(&w->tab, q->src, q->l->idx);
	if (!a) {
		if (!q->transfer)
			iw_quota_put(w->quota, q->who, q->who_len);
		return refuse(q, &w->st.alloc_capacity, STUN_ERR_INSUFFICIENT_CAPACITY,
			      "Insufficient Capacity: allocation table full");
	}
	a->id = ((uint64_t)(w->idx + 1) << 48) | (++w->alloc_seq & 0xffffffffffffULL);
	a->lis = q->l; /* where relayed data toward the client leaves */
	a->tr = q->l->tr;
	a->quota_held = !q->transfer; /* with transfer, once the reservation is redeemed */
	a->created_ms = w->now_ms ? w->now_ms : 1;
	memcpy(a->tid, q->m->tid, STUN_TID_LEN);
	memcpy(a->user, q->ar->user, q->ar->user_len);
	a->user_len = (uint16_t)q->ar->user_len;
	a->quota_off = (uint16_t)q->ar->quota_off;
	memcpy(a->key, q->ar->key, q->ar->key_len);
	a->key_len = q->ar->key_len;
	a->pw_alg = q->ar->pw_alg;
	a->cred_expiry_s = q->ar->rest_expiry;
	a->mobile = q->m->present & IW_STUN_HAS_MOBILITY;
	*out = a;
	return 0;
}

/* The reserved socket becomes the allocation's. Taken out of the table only now: a refusal
 * before this step leaves the token redeemable. Returns 0 or -errno. */
static int alloc_redeem(struct alloc_req *q, struct iw_alloc *a)
{
	struct iw_worker *w = q->w;
	struct iw_resv rv;
	int rc = iw_ports_resv_redeem(w->pool, q->tok, w->now_ms, &rv);
	if (rc < 0)
		return rc;
	/* The reservation's count becomes this allocation's, or goes back to the user who
	 * reserved it when another user redeems it. */
	if (q->transfer)
		a->quota_held = true;
	else
		resv_uncount(w, &rv);
	/* The socket joins this worker's epoll set, whoever bound it. */
	rc = rsock_add(w, a, rv.fam, rv.fd, rv.port);
	w->st.resv_used++;
	if (rv.worker != w->idx)
		w->st.resv_handover++;
	return rc;
}

/* EVEN-PORT R=1: keep the odd port above the allocation's (fd2) for a later Allocate with
 * the token. RFC 8656 §7.2 step 8: the reserved port is for another allocation of the user,
 * so it counts as one (it outlives neither its time nor this allocation). On success the
 * pool owns fd2; otherwise the caller still does. Returns 0 or -errno. */
static int alloc_reserve_pair(struct alloc_req *q, struct iw_alloc *a, int fd2, uint16_t port)
{
	struct iw_worker *w = q->w;
	const char *rwhy = NULL;
	if (iw_quota_take(w->quota, q->who, q->who_len, w->user_quota, w->total_quota, &rwhy))
		return -EDQUOT;
	uint64_t t = 0;
	if (iw_cred_random(&t, sizeof t) || !t)
		t = (w->rng ^ (w->now_ms << 20)) | 1; /* never 0: 0 marks a free slot */
	struct iw_resv r = { .token = t,
			     .fd = fd2,
			     .fam = (uint8_t)q->fam,
			     .port = (uint16_t)(port + 1),
			     .worker = w->idx,
			     .expires_ms = w->now_ms + IW_RESV_MS,
			     .user_len = (uint16_t)q->who_len };
	memcpy(r.user, q->who, q->who_len);
	if (iw_ports_resv_add(w->pool, &r)) {
		iw_quota_put(w->quota, q->who, q->who_len);
		return -ENOBUFS; /* another worker took the last slot meanwhile */
	}
	a->res_token = t;
	w->st.resv_made++;
	return 0;
}

/* A fresh relay socket from the pool (an even port with EVEN-PORT, and the pair above it
 * reserved with R=1). Returns 0 or -errno. */
static int alloc_bind_fresh(struct alloc_req *q, struct iw_alloc *a)
{
	struct iw_worker *w = q->w;
	bool even = q->m->present & IW_STUN_HAS_EVEN_PORT;
	bool pair = even && q->m->even_port_reserve;
	int fd2 = -1;
	uint16_t port = 0;
	a->tcp = q->m->req_transport == TURN_TRANSPORT_TCP;
	int fd = open_port(w, q->fam, even, pair, a->tcp, &port, &fd2);
	int rc = fd < 0 ? fd : rsock_add(w, a, q->fam, fd, port);
	if (rc == 0 && pair) {
		rc = alloc_reserve_pair(q, a, fd2, port);
		if (rc == 0)
			fd2 = -1;
	}
	if (fd2 >= 0) {
		close(fd2);
		iw_ports_pool_put(w->pool, q->fam, (uint16_t)(port + 1));
	}
	return rc;
}

/* The first relay socket, redeemed or freshly bound; a failure frees the allocation and
 * answers 486 or 508. */
static int alloc_open_relay(struct alloc_req *q, struct iw_alloc *a)
{
	struct iw_worker *w = q->w;
	bool has_token = q->m->present & IW_STUN_HAS_RES_TOKEN;
	bool pair = (q->m->present & IW_STUN_HAS_EVEN_PORT) && q->m->even_port_reserve;
	if (!has_token && pair && !iw_ports_resv_has_room(w->pool)) {
		iw_control_alloc_free(w, a, IW_END_QUOTA);
		return refuse(q, &w->st.alloc_capacity, STUN_ERR_INSUFFICIENT_CAPACITY,
			      "Insufficient Capacity: no reservation slot");
	}
	int rc = has_token ? alloc_redeem(q, a) : alloc_bind_fresh(q, a);
	if (rc == 0)
		return 0;
	iw_control_alloc_free(w, a, IW_END_QUOTA);
	if (rc == -EDQUOT)
		return refuse(q, &w->st.alloc_quota, STUN_ERR_ALLOCATION_QUOTA,
			      "Allocation Quota Reached: user quota (an EVEN-PORT reservation counts as an "
			      "allocation)");
	return refuse(q, &w->st.alloc_capacity, STUN_ERR_INSUFFICIENT_CAPACITY,
		      rc == -ENOENT ? "Insufficient Capacity: unknown RESERVATION-TOKEN"
				    : "Insufficient Capacity: no relay port available");
}

/* RFC 8656 §7.2: dual allocation. A failure for the additional (IPv6) family does not fail
 * the request: it is reported in ADDRESS-ERROR-CODE while the first family succeeds. */
static void alloc_open_additional(struct alloc_req *q, struct iw_alloc *a)
{
	struct iw_worker *w = q->w;
	if (!(q->m->present & IW_STUN_HAS_ADD_FAMILY))
		return;
	if (!w->has_relay[1]) {
		q->add_code = STUN_ERR_ADDRESS_FAMILY;
		q->add_why = "Address Family not Supported";
		return;
	}
	uint16_t port = 0;
	int fd2 = -1;
	int fd = open_port(w, 1, false, false, false, &port, &fd2);
	if (fd < 0 || rsock_add(w, a, 1, fd, port) < 0) {
		q->add_code = STUN_ERR_INSUFFICIENT_CAPACITY;
		q->add_why = "Insufficient Capacity";
	}
}

/* Start the lifetime and answer with the relayed address(es). */
static void alloc_start(struct alloc_req *q, struct iw_alloc *a)
{
	struct iw_worker *w = q->w;
	a->expires_ms = cred_cap(w, a, w->now_ms + (uint64_t)lifetime_for(w, q->m) * 1000);
	iw_acct_start(w, a);
	iw_alloc_timer_arm(&w->tab, a);
	/* The user's user-max-bps budget, held as long as the allocation's quota count; taken
	 * whether the limit is on or not, so that a reload can turn it on. */
	size_t who_len;
	const char *who = iw_alloc_who(a, &who_len);
	a->lim.user_tat = a->quota_held ? iw_quota_budget(w->quota, who, who_len) : NULL;
	w->st.alloc_ok++;
	if (a->tcp)
		w->st.alloc_tcp_ok++;
	if (IW_LOG_ENABLED(IW_LOG_DEBUG)) {
		char cs[IW_ADDR_STRLEN], rs[IW_ADDR_STRLEN];
		IW_DEBUG("allocate %s user %.*s -> %s (%u s)", iw_addr_fmt(q->src, true, cs, sizeof cs),
			 (int)a->user_len, a->user, iw_addr_fmt(&a->rs[0].adv, true, rs, sizeof rs),
			 remaining_s(w, a));
	}
	alloc_success(w, q->l, q->src, q->m, q->ar, a, q->add_code, q->add_why);
}

/* RFC 8656 §7.2, in its order: what exists, what the request says, what the user may take,
 * then the sockets. */
static void allocate(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *src,
		     const struct iw_stun_msg *m, const struct iw_auth_result *ar)
{
	struct alloc_req q = { .w = w,
			       .l = l,
			       .src = src,
			       .m = m,
			       .ar = ar,
			       .who = ar->user + ar->quota_off,
			       .who_len = ar->user_len - ar->quota_off };
	struct iw_alloc *a = NULL;
	if (alloc_known(&q) || alloc_redirect(&q) || alloc_revoked(&q) || alloc_bandwidth(&q) ||
	    alloc_check_attrs(&q) || alloc_pick_family(&q) || alloc_install(&q, &a) ||
	    alloc_open_relay(&q, a))
		return;
	alloc_open_additional(&q, a);
	alloc_start(&q, a);
}

/* The allocation a Refresh/CreatePermission/ChannelBind is about, or NULL after answering
 * 437 (none) or 441 (another user's). */
static struct iw_alloc *owned_alloc(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *src,
				    const struct iw_stun_msg *m, const struct iw_auth_result *ar)
{
	struct iw_alloc *a = iw_alloc_find(&w->tab, src, l->idx);
	if (!a) {
		w->st.alloc_mismatch++;
		answer_error(w, l, src, m, ar, STUN_ERR_ALLOCATION_MISMATCH, NULL);
		return NULL;
	}
	/* RFC 8656 §5: requests on an allocation must come from the user who made it. */
	if (!same_user(a, ar)) {
		w->st.wrong_creds++;
		answer_error(w, l, src, m, ar, STUN_ERR_WRONG_CREDENTIALS, NULL);
		return NULL;
	}
	return a;
}

/* The Refresh's own work on a: its new lifetime, or its end with LIFETIME 0. The answer goes
 * out copies times: a move another worker made wait answers the retransmissions that came
 * meanwhile too. */
static void refresh_apply(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *src,
			  const struct iw_stun_msg *m, const struct iw_auth_result *ar, struct iw_alloc *a,
			  unsigned copies)
{
	struct iw_stun_wr s;
	begin(w, &s, m, STUN_CLASS_SUCCESS);
	if ((m->present & IW_STUN_HAS_LIFETIME) && m->lifetime == 0) {
		/* RFC 8656 §7.3: a desired lifetime of zero deletes the allocation. */
		w->st.refresh_delete++;
		iw_control_alloc_free(w, a, IW_END_REFRESH0);
		iw_stun_wr_u32(&s, STUN_ATTR_LIFETIME, 0);
	} else {
		uint32_t life = lifetime_for(w, m);
		a->expires_ms = cred_cap(w, a, w->now_ms + (uint64_t)life * 1000);
		iw_alloc_timer_arm(&w->tab, a);
		w->st.refresh_ok++;
		iw_stun_wr_u32(&s, STUN_ATTR_LIFETIME, remaining_s(w, a));
		wr_ticket(w, &s, a);
	}
	if (send_answer(w, l, src, &s, m, ar))
		answer_again(w, l, src, copies - 1);
}

/* --- RFC 8016 mobility --- */

static struct iw_alloc *mob_refuse(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *src,
				   const struct iw_stun_msg *m, const struct iw_auth_result *ar,
				   enum iw_mob_refusal r, uint16_t code, const char *reason)
{
	w->st.mob_refused[r]++;
	if (r == IW_MOB_R_WRONG_USER)
		w->st.wrong_creds++;
	answer_error(w, l, src, m, ar, code, reason);
	return NULL;
}

/* The allocation is another worker's: ask it over (turn/mobility.h) and answer when it comes.
 * A retransmission of a request waited on is answered with it. */
static void mob_ask(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *src,
		    const struct iw_stun_msg *m, const struct iw_auth_result *ar,
		    const struct iw_cred_ticket *tk)
{
	struct iw_mob_flight *f = NULL;
	uint32_t coming = 0;
	for (unsigned i = 0; i < IW_MOB_FLIGHTS; i++) {
		struct iw_mob_flight *g = &w->flight[i];
		coming += g->used;
		if (g->used && g->l == l && iw_addr_eq(&g->src, src)) {
			/* coturn's uclient sends its Refresh twice and reads two answers. A
			 * request of another transaction waits for the client's retransmission. */
			if (!memcmp(g->tid, m->tid, STUN_TID_LEN) && g->again < UINT8_MAX)
				g->again++;
			return;
		}
		if (!g->used && !f)
			f = g;
	}
	if (ar->user_len >= IW_ALLOC_USER_MAX) {
		/* No allocation has such a name. */
		mob_refuse(w, l, src, m, ar, IW_MOB_R_WRONG_USER, STUN_ERR_WRONG_CREDENTIALS, NULL);
		return;
	}
	/* Room here for it and the moves already coming, before the owner lets it go: refused
	 * now, it stays where it is. (While total-quota is at most max-allocations, a worker's
	 * table cannot be full when an allocation is elsewhere; this keeps it so.) */
	if (w->tab.n_used + coming >= w->tab.cap) {
		mob_refuse(w, l, src, m, ar, IW_MOB_R_BUSY, STUN_ERR_INSUFFICIENT_CAPACITY,
			   "Insufficient Capacity: allocation table full");
		return;
	}
	struct iw_mob_msg *msg = f ? calloc(1, sizeof *msg) : NULL;
	if (!msg) {
		mob_refuse(w, l, src, m, ar, IW_MOB_R_BUSY, STUN_ERR_INSUFFICIENT_CAPACITY,
			   "Insufficient Capacity: too many moves in flight");
		return;
	}
	*f = (struct iw_mob_flight){ .used = true,
				     .fingerprint = m->present & IW_STUN_HAS_FINGERPRINT,
				     .sha256_mi = ar->sha256_mi,
				     .has_lifetime = m->present & IW_STUN_HAS_LIFETIME,
				     .lifetime = m->lifetime,
				     .key_len = ar->key_len,
				     .src = *src,
				     .l = l,
				     .user_len = (uint16_t)ar->user_len };
	memcpy(f->tid, m->tid, STUN_TID_LEN);
	memcpy(f->key, ar->key, ar->key_len);
	memcpy(f->user, ar->user, ar->user_len);
	msg->op = IW_MOB_ASK;
	msg->from = w->idx;
	msg->flight = (unsigned)(f - w->flight);
	msg->tk = *tk;
	msg->user_len = f->user_len;
	memcpy(msg->user, f->user, f->user_len);
	iw_mob_post(w->mob, tk->worker, msg);
}

/*
 * RFC 8016: a Refresh with a MOBILITY-TICKET. From the allocation's own 5-tuple (or a
 * retransmission after the move) it is a plain Refresh, the ticket being this allocation's;
 * from a new one, with the credentials of the user who made the allocation, the allocation
 * moves to it. Returns the allocation to refresh, or NULL when the request was answered or
 * waits for another worker.
 */
static struct iw_alloc *mob_refresh_find(struct iw_worker *w, struct iw_listener *l,
					 const struct iw_addr *src, const struct iw_stun_msg *m,
					 const struct iw_auth_result *ar)
{
	if (!w->conf->mobility || !w->mob || l->tr != IW_CLIENT_UDP)
		return mob_refuse(w, l, src, m, ar, IW_MOB_R_FORBIDDEN, STUN_ERR_MOBILITY_FORBIDDEN,
				  w->conf->mobility ? "Mobility Forbidden: for UDP clients only"
						    : "Mobility Forbidden: mobility is off");
	struct iw_cred_ticket tk;
	if (iw_cred_ticket_open(&tk, w->mob->key, m->mobility.p, m->mobility.len))
		return mob_refuse(w, l, src, m, ar, IW_MOB_R_BAD_TICKET, STUN_ERR_BAD_REQUEST,
				  "Bad Request: not a mobility ticket of this server");
	struct iw_alloc *a = iw_alloc_find(&w->tab, src, l->idx);
	if (a) {
		/* The id stays with the allocation wherever it moves: any ticket it was handed. */
		if (a->id != tk.id)
			return mob_refuse(w, l, src, m, ar, IW_MOB_R_BAD_TICKET, STUN_ERR_BAD_REQUEST,
					  "Bad Request: the ticket is another allocation's");
		if (!same_user(a, ar))
			return mob_refuse(w, l, src, m, ar, IW_MOB_R_WRONG_USER, STUN_ERR_WRONG_CREDENTIALS,
					  NULL);
		return a;
	}
	if (tk.worker != w->idx) {
		if (tk.worker >= w->mob->n)
			return mob_refuse(w, l, src, m, ar, IW_MOB_R_BAD_TICKET, STUN_ERR_BAD_REQUEST,
					  "Bad Request: not a mobility ticket of this server");
		mob_ask(w, l, src, m, ar, &tk);
		return NULL;
	}
	/* in_use and id stay readable in a freed slot (turn/alloc.c). */
	a = tk.slot < w->tab.n_fresh ? &w->tab.slab[tk.slot] : NULL;
	if (!a || !a->in_use || a->id != tk.id)
		return mob_refuse(w, l, src, m, ar, IW_MOB_R_GONE, STUN_ERR_ALLOCATION_MISMATCH,
				  "Allocation Mismatch: the ticket's allocation is gone");
	if (!same_user(a, ar))
		return mob_refuse(w, l, src, m, ar, IW_MOB_R_WRONG_USER, STUN_ERR_WRONG_CREDENTIALS, NULL);
	iw_alloc_rekey(&w->tab, a, src, l->idx);
	a->lis = l;
	w->st.mob_moves[0]++;
	return a;
}

static void refresh(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *src,
		    const struct iw_stun_msg *m, const struct iw_auth_result *ar)
{
	struct iw_alloc *a = (m->present & IW_STUN_HAS_MOBILITY) ? mob_refresh_find(w, l, src, m, ar)
								 : owned_alloc(w, l, src, m, ar);
	if (a)
		refresh_apply(w, l, src, m, ar, a, 1);
}

/* Owner side: hand the asked allocation over, or say why not; the message goes back. */
static void mob_hand(struct iw_worker *w, struct iw_mob_msg *msg)
{
	struct iw_alloc *a = msg->tk.slot < w->tab.n_fresh ? &w->tab.slab[msg->tk.slot] : NULL;
	if (!a || !a->in_use || a->id != msg->tk.id) {
		msg->op = IW_MOB_GONE;
	} else if (a->user_len != msg->user_len || memcmp(a->user, msg->user, msg->user_len)) {
		msg->op = IW_MOB_OTHER_USER;
	} else {
		iw_mob_detach(w, a, msg);
		msg->op = IW_MOB_ADOPT;
		w->st.mob_handed++;
	}
	iw_mob_post(w->mob, msg->from, msg);
}

/* Asker side: the owner's answer to a move this worker waited on. */
static void mob_land(struct iw_worker *w, struct iw_mob_msg *msg)
{
	struct iw_mob_flight *f = &w->flight[msg->flight % IW_MOB_FLIGHTS];
	struct iw_stun_msg m;
	struct iw_auth_result ar;
	memset(&m, 0, sizeof m);
	memset(&ar, 0, sizeof ar);
	m.method = TURN_METHOD_REFRESH;
	m.cls = STUN_CLASS_REQUEST;
	m.tid = f->tid;
	m.present =
		(f->fingerprint ? IW_STUN_HAS_FINGERPRINT : 0) | (f->has_lifetime ? IW_STUN_HAS_LIFETIME : 0);
	m.lifetime = f->lifetime;
	memcpy(ar.key, f->key, f->key_len);
	ar.key_len = f->key_len;
	ar.sha256_mi = f->sha256_mi;
	ar.user = (const uint8_t *)f->user;
	ar.user_len = f->user_len;
	f->used = false;
	if (msg->op == IW_MOB_GONE) {
		mob_refuse(w, f->l, &f->src, &m, &ar, IW_MOB_R_GONE, STUN_ERR_ALLOCATION_MISMATCH,
			   "Allocation Mismatch: the ticket's allocation is gone");
		answer_again(w, f->l, &f->src, f->again);
		return;
	}
	if (msg->op == IW_MOB_OTHER_USER) {
		mob_refuse(w, f->l, &f->src, &m, &ar, IW_MOB_R_WRONG_USER, STUN_ERR_WRONG_CREDENTIALS, NULL);
		answer_again(w, f->l, &f->src, f->again);
		return;
	}
	/* The client may have allocated anew from its new address meanwhile. */
	struct iw_alloc *a =
		iw_alloc_find(&w->tab, &f->src, f->l->idx) ? NULL : iw_mob_adopt(w, msg, &f->src, f->l);
	if (!a) {
		/* It cannot continue here: it ends, with its record, as one refused. */
		struct iw_alloc *o = &msg->a;
		o->ext = 0;
		o->perms = o->perm_in;
		o->chans = o->chan_in;
		o->n_perms = o->n_chans = 0;
		alloc_release(w, o, IW_END_QUOTA);
		mob_refuse(w, f->l, &f->src, &m, &ar, IW_MOB_R_BUSY, STUN_ERR_INSUFFICIENT_CAPACITY,
			   "Insufficient Capacity: no room for the allocation on this worker");
		answer_again(w, f->l, &f->src, f->again);
		return;
	}
	w->st.mob_moves[1]++;
	refresh_apply(w, f->l, &f->src, &m, &ar, a, 1u + f->again);
}

void iw_control_mob_run(struct iw_worker *w)
{
	struct iw_mob_msg *msg = iw_mob_take(w->mob, w->idx);
	while (msg) {
		struct iw_mob_msg *next = msg->next;
		if (msg->op == IW_MOB_ASK) {
			mob_hand(w, msg); /* it goes back to the asker */
		} else {
			mob_land(w, msg);
			free(msg);
		}
		msg = next;
	}
}

/* Room for perms more permissions and chans more channels (iw_alloc_room). Overflow blocks
 * are a per-worker pool: an allocation borrows one only while its user holds fewer than
 * user-overflow-quota of them (process-wide), so one user cannot leave the others with 508.
 * The count stays with the allocation until it is freed. 0, -ENOBUFS, -ENOMEM, or -EDQUOT. */
static int room_for(struct iw_worker *w, struct iw_alloc *a, unsigned perms, unsigned chans)
{
	unsigned np = a->n_perms + perms, nc = a->n_chans + chans;
	bool borrow = !a->ext && np <= IW_MAX_PERMS && nc <= IW_MAX_CHANS &&
		      (np > IW_ALLOC_INLINE_PERMS || nc > IW_ALLOC_INLINE_CHANS);
	bool counted = false;
	if (borrow && !a->ext_held && a->quota_held) {
		uint32_t limit = w->conf->user_ext_quota;
		if (!limit)
			limit = w->tab.ext_cap / 4 ? w->tab.ext_cap / 4 : 1;
		if (iw_quota_ext_take(w->quota, a->user + a->quota_off, a->user_len - a->quota_off, limit)) {
			w->st.ext_user_quota++;
			return -EDQUOT;
		}
		a->ext_held = counted = true;
	}
	int rc = iw_alloc_room(&w->tab, a, perms, chans);
	if (rc && counted) {
		iw_quota_ext_put(w->quota, a->user + a->quota_off, a->user_len - a->quota_off);
		a->ext_held = false;
	}
	return rc;
}

/* The relay's own addresses: listeners (every interface address for a wildcard one), relay
 * and external addresses, with the listening ports and the relay range. */
static void self_refresh(struct iw_worker *w)
{
	const struct iw_conf *c = w->conf;
	struct iw_policy_self *s = &w->self;
	memset(s, 0, sizeof *s);
	s->lis_port[0] = c->port;
	s->lis_port[1] = c->tls_port;
	/* Set on every worker alike: the TCP/TLS worker has no UDP listener to look at. */
	s->lis_port[2] = iw_conf_rfc5780(c) ? c->alt_port : c->port;
	/* The metrics and admin API's HTTP port, on its own address: never a peer either, also
	 * where allow-loopback-peers lets loopback peers in (a TCP allocation would speak HTTP
	 * to it). */
	s->lis_port[3] = c->prometheus ? c->prom_port : c->port;
	s->min_port = c->min_port;
	s->max_port = c->max_port;
	bool any[2] = { false, false };
	struct iw_addr pa;
	if (c->prometheus && !iw_addr_parse(&pa, c->prom_addr ? c->prom_addr : "127.0.0.1")) {
		if (iw_addr_is_any(&pa))
			any[iw_relay_fam(pa.family)] = true;
		else
			iw_policy_self_add(s, &pa);
	}
	for (unsigned i = 0; i < c->n_listen; i++) {
		if (iw_addr_is_any(&c->listen[i]))
			any[iw_relay_fam(c->listen[i].family)] = true;
		else
			iw_policy_self_add(s, &c->listen[i]);
	}
	for (unsigned f = 0; f < 2; f++)
		if (w->has_relay[f]) {
			iw_policy_self_add(s, &w->relay_bind[f]);
			iw_policy_self_add(s, &w->relay_adv[f]);
		}
	for (unsigned i = 0; i < c->n_ext; i++) {
		iw_policy_self_add(s, &c->ext[i].pub);
		if (c->ext[i].has_priv)
			iw_policy_self_add(s, &c->ext[i].priv);
	}
	struct ifaddrs *ifa;
	if ((any[0] || any[1]) && getifaddrs(&ifa) == 0) {
		for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
			struct iw_addr a;
			if (i->ifa_addr && !iw_addr_from_sa(&a, i->ifa_addr) && any[iw_relay_fam(a.family)])
				iw_policy_self_add(s, &a);
		}
		freeifaddrs(ifa);
	}
	w->self_ms = w->now_ms ? w->now_ms : 1;
}

/* max-new-peers-per-sec: n peers new to a (without a permission, or a new channel) take n
 * tokens of its bucket (a second's worth); past it the request is refused with 403 and
 * nothing is installed, so that a relay cannot be used to scan addresses. */
static bool new_peers_ok(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *src,
			 const struct iw_stun_msg *m, const struct iw_auth_result *ar, struct iw_alloc *a,
			 unsigned n)
{
	if (!w->lim.peers.per_s || !n)
		return true;
	if (iw_limit_tb_has(&a->lim.peers, &w->lim.peers, w->now_ms, n)) {
		iw_limit_tb_spend(&a->lim.peers, n);
		return true;
	}
	w->st.new_peer_refused++;
	answer_error(w, l, src, m, ar, STUN_ERR_FORBIDDEN,
		     "Forbidden: too many new peers a second (max-new-peers-per-sec)");
	return false;
}

/* Family and policy checks for one peer; answers 443/403 and returns false on refusal. */
static bool peer_ok(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *src,
		    const struct iw_stun_msg *m, const struct iw_auth_result *ar, const struct iw_alloc *a,
		    const struct iw_addr *peer, bool has_port)
{
	bool fam = false;
	for (unsigned i = 0; i < a->n_rsock; i++)
		fam |= a->rs[i].bound.family == peer->family;
	if (!fam) {
		/* RFC 8656 §9.1/§11.2: no relayed address of the peer's family -> 443. */
		w->st.peers_refused++;
		answer_error(w, l, src, m, ar, STUN_ERR_PEER_FAMILY_MISMATCH, NULL);
		return false;
	}
	char why[REASON_MAX];
	if (iw_policy_check(&w->conf->policy, peer, why, sizeof why)) {
		/* RFC 8656 §9.1: a peer the server's policy refuses -> 403. */
		const char *range;
		w->st.peers_refused++;
		w->st.peers_refused_class[iw_addr_classify(peer, &range)]++;
		answer_error(w, l, src, m, ar, STUN_ERR_FORBIDDEN, why);
		return false;
	}
	if (!w->self_ms || w->now_ms - w->self_ms >= IW_RELAY_SELF_MS)
		self_refresh(w);
	/* Whatever the allow rules said: the relay never relays to itself (policy.h). */
	if (iw_policy_self_check(&w->conf->policy, &w->self, peer, has_port, why, sizeof why)) {
		w->st.peers_refused++;
		w->st.peers_refused_self++;
		answer_error(w, l, src, m, ar, STUN_ERR_FORBIDDEN, why);
		return false;
	}
	return true;
}

static void create_permission(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *src,
			      const struct iw_stun_msg *m, const struct iw_auth_result *ar)
{
	struct iw_alloc *a = owned_alloc(w, l, src, m, ar);
	if (!a)
		return;
	if (m->n_peers == 0 || m->peers_overflow) {
		w->st.bad_request++;
		answer_error(w, l, src, m, ar, STUN_ERR_BAD_REQUEST,
			     m->n_peers ? "Bad Request: too many XOR-PEER-ADDRESS"
					: "Bad Request: missing XOR-PEER-ADDRESS");
		return;
	}
	/* RFC 8656 §9.2: all or nothing, so check every peer before installing any. */
	for (unsigned i = 0; i < m->n_peers; i++)
		if (!peer_ok(w, l, src, m, ar, a, &m->peers[i], false))
			return;
	/* Expired permissions go first: one past its time that the timer (about once a second)
	 * has not pruned yet is not present, and its peer needs a slot again. Counted as present,
	 * the room check came out short and a peer was left out of a success. */
	iw_alloc_prune(&w->tab, a, w->now_ms);
	unsigned room = IW_MAX_PERMS - a->n_perms;
	unsigned need = 0;
	for (unsigned i = 0; i < m->n_peers; i++) {
		bool again = false; /* the same address twice in one request takes one slot */
		for (unsigned j = 0; j < i && !again; j++)
			again = iw_addr_ip_eq(&m->peers[j], &m->peers[i]);
		need += !again && !iw_alloc_perm_has(a, &m->peers[i], w->now_ms);
	}
	if (need > room) {
		w->st.perm_full++;
		answer_error(w, l, src, m, ar, STUN_ERR_INSUFFICIENT_CAPACITY,
			     "Insufficient Capacity: too many permissions");
		return;
	}
	if (!new_peers_ok(w, l, src, m, ar, a, need))
		return;
	/* Room for all of them first (an overflow block past the inline few), so that the adds
	 * below cannot fail half-way. */
	int rc = room_for(w, a, need, 0);
	if (rc) {
		w->st.perm_full++;
		answer_error(w, l, src, m, ar, STUN_ERR_INSUFFICIENT_CAPACITY,
			     rc == -EDQUOT
				     ? "Insufficient Capacity: user-overflow-quota reached"
				     : "Insufficient Capacity: no room for more permissions on this server");
		return;
	}
	uint64_t exp = w->now_ms + (uint64_t)w->conf->perm_lifetime_s * 1000;
	for (unsigned i = 0; i < m->n_peers && rc == 0; i++)
		rc = iw_alloc_perm_add(&w->tab, a, &m->peers[i], exp);
	iw_alloc_timer_arm(&w->tab, a);
	if (rc) {
		/* Not reached with the room made above; never a success with a peer left out. */
		w->st.perm_full++;
		answer_error(w, l, src, m, ar, STUN_ERR_INSUFFICIENT_CAPACITY,
			     "Insufficient Capacity: too many permissions");
		return;
	}
	w->st.perm_ok++;
	struct iw_stun_wr s;
	begin(w, &s, m, STUN_CLASS_SUCCESS);
	send_answer(w, l, src, &s, m, ar);
}

static void channel_bind(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *src,
			 const struct iw_stun_msg *m, const struct iw_auth_result *ar)
{
	struct iw_alloc *a = owned_alloc(w, l, src, m, ar);
	if (!a)
		return;
	if (a->tcp) {
		/* RFC 6062 §4: data of a TCP allocation flows on data connections only. */
		w->st.chan_bad++;
		answer_error(w, l, src, m, ar, STUN_ERR_BAD_REQUEST,
			     "Bad Request: no channels on a TCP allocation");
		return;
	}
	/* RFC 8656 §11.2: CHANNEL-NUMBER in 0x4000-0x4FFF and one XOR-PEER-ADDRESS. */
	if (!(m->present & IW_STUN_HAS_CHANNEL) || m->n_peers != 1) {
		w->st.chan_bad++;
		answer_error(w, l, src, m, ar, STUN_ERR_BAD_REQUEST,
			     "Bad Request: needs CHANNEL-NUMBER and one XOR-PEER-ADDRESS");
		return;
	}
	uint16_t max = w->conf->rfc5766_channels ? 0x7FFF : TURN_CHANNEL_MAX;
	if (m->channel < TURN_CHANNEL_MIN || m->channel > max) {
		w->st.chan_bad++;
		answer_error(w, l, src, m, ar, STUN_ERR_BAD_REQUEST,
			     w->conf->rfc5766_channels ? "Bad Request: channel number not in 0x4000-0x7FFF"
						       : "Bad Request: channel number not in 0x4000-0x4FFF "
							 "(allow-rfc5766-channels would allow up to 0x7FFF)");
		return;
	}
	const struct iw_addr *peer = &m->peers[0];
	if (!peer_ok(w, l, src, m, ar, a, peer, true))
		return;
	iw_alloc_prune(&w->tab, a, w->now_ms);
	bool new_perm = !iw_alloc_perm_has(a, peer, w->now_ms);
	if (new_perm && a->n_perms == IW_MAX_PERMS) {
		w->st.perm_full++;
		answer_error(w, l, src, m, ar, STUN_ERR_INSUFFICIENT_CAPACITY,
			     "Insufficient Capacity: too many permissions");
		return;
	}
	/* The channel and its permission both fit, or neither is installed. A full channel
	 * set is answered by iw_alloc_chan_bind below. */
	bool new_chan = !iw_alloc_chan_by_num(a, m->channel, 0);
	if (!new_peers_ok(w, l, src, m, ar, a, new_perm || new_chan))
		return;
	int room_rc = room_for(w, a, new_perm, new_chan);
	if (room_rc == -ENOMEM || room_rc == -EDQUOT) {
		w->st.chan_full++;
		answer_error(w, l, src, m, ar, STUN_ERR_INSUFFICIENT_CAPACITY,
			     room_rc == -EDQUOT
				     ? "Insufficient Capacity: user-overflow-quota reached"
				     : "Insufficient Capacity: no room for more channels on this server");
		return;
	}
	int rc = iw_alloc_chan_bind(&w->tab, a, m->channel, peer,
				    w->now_ms + (uint64_t)w->conf->chan_lifetime_s * 1000);
	if (rc == -EINVAL) {
		/* Name the binding in the way: a client that picks channel numbers at random
		 * (coturn's uclient does) can tell its own collision from a relay fault. */
		const struct iw_chan *c = iw_alloc_chan_by_num(a, m->channel, 0);
		char why[80];
		if (c)
			snprintf(why, sizeof why, "Bad Request: channel 0x%04x is bound to another peer",
				 m->channel);
		else if ((c = iw_alloc_chan_by_peer(a, peer, 0)))
			snprintf(why, sizeof why, "Bad Request: peer is bound to channel 0x%04x", c->num);
		else
			snprintf(why, sizeof why, "Bad Request: channel or peer bound differently");
		if (c && IW_LOG_ENABLED(IW_LOG_DEBUG)) {
			char cs[IW_ADDR_STRLEN], ps[IW_ADDR_STRLEN], bs[IW_ADDR_STRLEN];
			IW_LOG_RL(IW_LOG_DEBUG, 50,
				  "%s: channel bind 0x%04x -> %s refused: 0x%04x is bound to %s",
				  iw_addr_fmt(src, true, cs, sizeof cs), m->channel,
				  iw_addr_fmt(peer, true, ps, sizeof ps), c->num,
				  iw_addr_fmt(&c->peer, true, bs, sizeof bs));
		}
		w->st.chan_bad++;
		answer_error(w, l, src, m, ar, STUN_ERR_BAD_REQUEST, why);
		return;
	}
	if (rc < 0) {
		w->st.chan_full++;
		answer_error(w, l, src, m, ar, STUN_ERR_INSUFFICIENT_CAPACITY,
			     "Insufficient Capacity: too many channels");
		return;
	}
	/* RFC 8656 §11.2: a channel binding also installs or refreshes the permission. */
	iw_alloc_perm_add(&w->tab, a, peer, w->now_ms + (uint64_t)w->conf->perm_lifetime_s * 1000);
	iw_alloc_timer_arm(&w->tab, a);
	w->st.chan_ok++;
	struct iw_stun_wr s;
	begin(w, &s, m, STUN_CLASS_SUCCESS);
	send_answer(w, l, src, &s, m, ar);
}

/* --- RFC 6062: Connect and ConnectionBind; the peer connections are turn/tcprelay.c's --- */

static void tcp_connect(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *src,
			const struct iw_stun_msg *m, const struct iw_auth_result *ar)
{
	struct iw_alloc *a = owned_alloc(w, l, src, m, ar);
	if (!a)
		return;
	if (!a->tcp || !w->tcp_ops) {
		w->st.tcp_connect_bad++;
		answer_error(w, l, src, m, ar, STUN_ERR_BAD_REQUEST, "Bad Request: not a TCP allocation");
		return;
	}
	/* RFC 6062 §5.2: "If the request does not contain an XOR-PEER-ADDRESS attribute, or if
	 * such attribute is invalid, the server MUST return a 400". */
	if (m->n_peers != 1) {
		w->st.tcp_connect_bad++;
		answer_error(w, l, src, m, ar, STUN_ERR_BAD_REQUEST,
			     "Bad Request: needs one XOR-PEER-ADDRESS");
		return;
	}
	const struct iw_addr *peer = &m->peers[0];
	if (!peer_ok(w, l, src, m, ar, a, peer, true) || !new_peers_ok(w, l, src, m, ar, a, 1))
		return;
	struct iw_tcp_req req = { .sha256 = ar->sha256_mi,
				  .fp = (m->present & IW_STUN_HAS_FINGERPRINT) != 0 };
	memcpy(req.tid, m->tid, STUN_TID_LEN);
	int rc = w->tcp_ops->connect(w->tcp, a, peer, &req);
	if (rc == 0)
		return; /* answered when it connects, fails or times out */
	if (rc == -EEXIST) {
		/* RFC 6062 §5.2: a Connect to this peer is in progress, or its connection is
		 * pending or active -> 446. */
		w->st.tcp_connect_exists++;
		answer_error(w, l, src, m, ar, STUN_ERR_CONNECTION_EXISTS, NULL);
	} else if (rc == -EMFILE || rc == -EAGAIN || rc == -ENOBUFS || rc == -EDQUOT) {
		w->st.tcp_connect_bound++;
		answer_error(w, l, src, m, ar, STUN_ERR_INSUFFICIENT_CAPACITY,
			     rc == -EMFILE   ? "Insufficient Capacity: tcp-relay-max-per-allocation reached"
			     : rc == -EDQUOT ? "Insufficient Capacity: tcp-relay-max-per-user reached"
			     : rc == -EAGAIN ? "Insufficient Capacity: tcp-relay-max-pending reached"
					     : "Insufficient Capacity: tcp-relay-max-connections reached");
	} else {
		char why[REASON_MAX];
		snprintf(why, sizeof why, "Connection Timeout or Failure: %s", strerror(-rc));
		w->st.tcp_connect_fail++;
		answer_error(w, l, src, m, ar, STUN_ERR_CONNECTION_FAILURE, why);
	}
}

static void tcp_bind(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *src,
		     const struct iw_stun_msg *m, const struct iw_auth_result *ar)
{
	const char *why = NULL;
	uint16_t code = STUN_ERR_BAD_REQUEST;
	/* RFC 6062 §5.4: "If the client connection transport is not TCP or TLS, the server
	 * MUST return a 400"; a connection that holds an allocation is a control connection,
	 * never a data connection. */
	if (!w->tcp_ops || !l->addr_proven)
		why = "Bad Request: ConnectionBind needs a TCP or TLS connection";
	else if (iw_alloc_find(&w->tab, src, l->idx))
		why = "Bad Request: ConnectionBind on a connection with an allocation";
	else if (!(m->present & IW_STUN_HAS_CONN_ID))
		why = "Bad Request: missing CONNECTION-ID";
	else if (l->pipe_cid)
		why = "Bad Request: this connection is bound already";
	if (!why) {
		int rc = w->tcp_ops->bind(w->tcp, l, m->conn_id, ar);
		if (rc == -EACCES) {
			code = STUN_ERR_WRONG_CREDENTIALS;
			why = "Wrong Credentials: the connection is another user's";
		} else if (rc) {
			/* RFC 6062 §5.4: no pending connection with that CONNECTION-ID -> 400. */
			why = "Bad Request: unknown or bound CONNECTION-ID";
		}
	}
	if (why) {
		w->st.tcp_bind_bad++;
		answer_error(w, l, src, m, ar, code, why);
		/* A connection opened to bind and refused is of no further use: closed, so that each
		 * guess at a CONNECTION-ID costs a connection. */
		if (l->addr_proven && !iw_alloc_find(&w->tab, src, l->idx))
			l->close_now = true;
		return;
	}
	struct iw_stun_wr s;
	begin(w, &s, m, STUN_CLASS_SUCCESS);
	send_answer(w, l, src, &s, m, ar);
}

void iw_control_tcp_answer(struct iw_worker *w, struct iw_alloc *a, const struct iw_tcp_req *req,
			   uint16_t code, const char *reason, uint32_t cid)
{
	/* The Connect as far as an answer needs it, and the allocation's key: the request's
	 * were checked to be the allocation's user's when it came. */
	struct iw_stun_msg m;
	struct iw_auth_result ar;
	memset(&m, 0, sizeof m);
	memset(&ar, 0, sizeof ar);
	m.method = TURN_METHOD_CONNECT;
	m.tid = req->tid;
	m.present = req->fp ? IW_STUN_HAS_FINGERPRINT : 0;
	ar.user = (const uint8_t *)a->user;
	ar.user_len = a->user_len;
	ar.sha256_mi = req->sha256;
	ar.key_len = a->key_len <= sizeof ar.key ? a->key_len : 0;
	memcpy(ar.key, a->key, ar.key_len);
	if (code) {
		answer_error(w, a->lis, &a->client, &m, &ar, code, reason);
		return;
	}
	struct iw_stun_wr s;
	begin(w, &s, &m, STUN_CLASS_SUCCESS);
	/* RFC 6062 §5.2: the success response contains the CONNECTION-ID. */
	iw_stun_wr_u32(&s, STUN_ATTR_CONNECTION_ID, cid);
	send_answer(w, a->lis, &a->client, &s, &m, &ar);
}

void iw_control_tcp_attempt(struct iw_worker *w, struct iw_alloc *a, uint32_t cid, const struct iw_addr *peer)
{
	/* RFC 6062 §5.3: a ConnectionAttempt indication with CONNECTION-ID and
	 * XOR-PEER-ADDRESS, on the allocation's control connection. */
	uint8_t tid[STUN_TID_LEN];
	if (iw_cred_random(tid, sizeof tid))
		for (unsigned i = 0; i < sizeof tid; i++)
			tid[i] = (uint8_t)(w->now_ms >> (i % 8 * 8)) ^ (uint8_t)(cid >> (i % 4 * 8));
	struct iw_stun_wr s;
	iw_stun_wr_init(&s, w->out, sizeof w->out, TURN_METHOD_CONNECTION_ATTEMPT, STUN_CLASS_INDICATION,
			tid);
	iw_stun_wr_u32(&s, STUN_ATTR_CONNECTION_ID, cid);
	iw_stun_wr_xaddr(&s, STUN_ATTR_XOR_PEER_ADDRESS, peer);
	if (!w->conf->no_software)
		iw_stun_wr_attr(&s, STUN_ATTR_SOFTWARE, software, sizeof software - 1);
	if (w->conf->fingerprint)
		iw_stun_wr_fingerprint(&s);
	int n = iw_stun_wr_finish(&s);
	if (n < 0) {
		w->st.drop_send_err++;
		return;
	}
	out(w, a->lis, &a->client, (size_t)n);
}

/* nonce_for: whom the nonce is made for (the request's source, but see nonce_addr). */
static void challenge(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *src,
		      const struct iw_addr *nonce_for, const struct iw_stun_msg *m, uint16_t code,
		      const char *reason)
{
	/* Sent within the source's answer budget (send_answer), and no per-client state is
	 * ever created. */
	struct iw_stun_wr s;
	begin(w, &s, m, STUN_CLASS_ERROR);
	/* REALM, NONCE and PASSWORD-ALGORITHMS follow. */
	size_t rest = 4 + iw_pad4(w->auth.realm_len) + 4 + iw_pad4(IW_AUTH_NONCE_LEN) + 4 + 8;
	iw_stun_wr_error(&s, code, unauth_reason(w, m, code, reason, rest));
	iw_auth_wr_challenge(&w->auth, &s, nonce_for, w->now_s);
	send_answer(w, l, src, &s, m, NULL);
}

/* Whom a request's nonce was made for: its source, except for a ConnectionBind of a known
 * CONNECTION-ID that carries a nonce made for its allocation's control connection: the data
 * connection is new, and RFC 6062 §5.4 has it use the same credentials (coturn's uclient -T
 * sends the control connection's nonce). Challenges always hand out the source's nonce, so
 * that a stranger's unauthenticated ConnectionBind is answered alike whether its id exists or
 * not. */
static const struct iw_addr *nonce_addr(struct iw_worker *w, const struct iw_listener *l,
					const struct iw_addr *src, const struct iw_stun_msg *m,
					struct iw_addr *ctl)
{
	if (m->method != TURN_METHOD_CONNECTION_BIND || !(m->present & IW_STUN_HAS_CONN_ID) ||
	    !(m->present & IW_STUN_HAS_NONCE) || !w->tcp_ops || !l->addr_proven ||
	    w->tcp_ops->client_of(w->tcp, m->conn_id, ctl) ||
	    iw_auth_nonce_check(&w->auth, ctl, m->nonce.p, m->nonce.len, w->now_s))
		return src;
	return ctl;
}

void iw_control_handle(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *src,
		       const struct iw_stun_msg *m)
{
	/* RFC 8489 §6.3: indications and responses are never answered. */
	if (m->cls != STUN_CLASS_REQUEST) {
		w->st.drop_not_request++;
		return;
	}
	/* RFC 8489 §14.7: a wrong FINGERPRINT means this is not a STUN message. */
	if ((m->present & IW_STUN_HAS_FINGERPRINT) && !iw_stun_check_fingerprint(m)) {
		w->st.drop_fingerprint++;
		return;
	}
	w->st.stun_requests++;
	switch (m->method) {
	case STUN_METHOD_BINDING:
		if (w->conf->no_stun) {
			w->st.bad_request++;
			answer_error(w, l, src, m, NULL, STUN_ERR_FORBIDDEN,
				     "Forbidden: STUN is off (no-stun)");
			return;
		}
		binding(w, l, src, m);
		return;
	case TURN_METHOD_ALLOCATE:
	case TURN_METHOD_REFRESH:
	case TURN_METHOD_CREATE_PERMISSION:
	case TURN_METHOD_CHANNEL_BIND:
	case TURN_METHOD_CONNECT:
	case TURN_METHOD_CONNECTION_BIND:
		if (w->conf->stun_only) {
			w->st.bad_request++;
			answer_error(w, l, src, m, NULL, STUN_ERR_FORBIDDEN,
				     "Forbidden: TURN is off (stun-only)");
			return;
		}
		break;
	default:
		w->st.bad_request++;
		answer_error(w, l, src, m, NULL, STUN_ERR_BAD_REQUEST, "Bad Request: unknown method");
		return;
	}
	struct iw_auth_result ar;
	struct iw_addr ctl;
	/* A ConnectionBind whose CONNECTION-ID names no connection that waits is answered 400
	 * (RFC 6062 §5.4) only after its credentials: before them, that answer would tell a
	 * stranger which ids exist. */
	const struct iw_addr *nonce_for = nonce_addr(w, l, src, m, &ctl);
	if (w->conf->no_auth) {
		/* no-auth: every request is accepted as the anonymous user, without integrity. */
		memset(&ar, 0, sizeof ar);
		ar.user = (const uint8_t *)"";
	} else {
		iw_auth_check(&w->auth, m, nonce_for, w->now_s, &ar);
	}
	if (ar.code == STUN_ERR_UNAUTHORIZED || ar.code == STUN_ERR_STALE_NONCE) {
		if (m->method == TURN_METHOD_ALLOCATE && ar.code == STUN_ERR_UNAUTHORIZED &&
		    (m->present & (IW_STUN_HAS_MI | IW_STUN_HAS_MI_SHA256)))
			w->st.alloc_auth_fail++;
		/* rest-strict-expiry: a request on an allocation past its credential's time. */
		if (ar.code == STUN_ERR_UNAUTHORIZED && ar.rest_expiry && ar.rest_expiry < w->now_s &&
		    m->method != TURN_METHOD_ALLOCATE && w->conf->rest_strict_expiry)
			w->st.strict_refused++;
		if (ar.code == STUN_ERR_UNAUTHORIZED && ar.why && w->udb_want &&
		    !strcmp(ar.why, "unknown user")) {
			/* Perhaps added to the user database since the last load: ask for one
			 * (the loader takes at most one such request a second). */
			__atomic_store_n(w->udb_want, 1, __ATOMIC_RELAXED);
			if (!__atomic_load_n(w->udb_up, __ATOMIC_RELAXED))
				ar.why = "unknown user (user database unreachable)";
		}
		if (ar.code == STUN_ERR_UNAUTHORIZED && ar.why)
			seclog_auth(w, l, src, m, &ar);
		challenge(w, l, src, src, m, ar.code, ar.reason);
		return;
	}
	if (ar.code) {
		w->st.bad_request++;
		answer_error(w, l, src, m, NULL, ar.code, ar.reason);
		return;
	}
	if (m->n_unknown) {
		/* RFC 8489 §6.3.1: after authentication, unknown comprehension-required
		 * attributes -> 420 listing them. */
		struct iw_stun_wr s;
		w->st.unknown_attr++;
		begin(w, &s, m, STUN_CLASS_ERROR);
		iw_stun_wr_error(&s, STUN_ERR_UNKNOWN_ATTRIBUTE, NULL);
		iw_stun_wr_unknown(&s, m->unknown, m->n_unknown);
		send_answer(w, l, src, &s, m, &ar);
		return;
	}
	switch (m->method) {
	case TURN_METHOD_ALLOCATE:
		allocate(w, l, src, m, &ar);
		return;
	case TURN_METHOD_REFRESH:
		refresh(w, l, src, m, &ar);
		return;
	case TURN_METHOD_CREATE_PERMISSION:
		create_permission(w, l, src, m, &ar);
		return;
	case TURN_METHOD_CONNECT:
		tcp_connect(w, l, src, m, &ar);
		return;
	case TURN_METHOD_CONNECTION_BIND:
		tcp_bind(w, l, src, m, &ar);
		return;
	default:
		channel_bind(w, l, src, m, &ar);
		return;
	}
}

/* --- what every worker shares --- */

int iw_worker_shared_init(struct iw_worker_shared *sh, const struct iw_conf *conf,
			  volatile sig_atomic_t *stop)
{
	memset(sh, 0, sizeof *sh);
	sh->conf = conf;
	sh->stop = stop;
	if (iw_quota_init(&sh->quota, conf->max_allocs)) {
		IW_ERROR("out of memory for the quota table");
		return -ENOMEM;
	}
	uint32_t seed;
	if (iw_cred_random(&seed, sizeof seed))
		seed = (uint32_t)getpid();
	if (iw_ports_pool_init(&sh->pool, conf->min_port, conf->max_port, seed)) {
		IW_ERROR("cannot set up the port range %u-%u", conf->min_port, conf->max_port);
		return -ENOMEM;
	}
	/* Whether mobility is on or not: a reload may turn it on. */
	sh->mob = iw_mob_hub_create(conf->threads ? conf->threads : 1);
	return sh->mob ? 0 : -ENOMEM;
}

void iw_worker_shared_fini(struct iw_worker_shared *sh)
{
	iw_mob_hub_destroy(sh->mob);
	sh->mob = NULL;
	iw_ports_pool_fini(&sh->pool);
	iw_quota_fini(&sh->quota);
}
