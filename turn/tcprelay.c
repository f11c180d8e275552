/* RFC 6062 TCP relay: peer connections of TCP allocations and the pipes to the clients' data
 * connections, on the stream worker. Connections live in a table of tcp-relay-max-connections
 * slots. A CONNECTION-ID is 32 random bits (a stranger who guesses one learns nothing from
 * the slot it is in), found again through an open-addressed index of ids to slots. Not the
 * packet path: this may allocate (a connection and, once bound, its two buffers). */
#include "turn/tcprelay.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cred.h"
#include "common/log.h"
#include "turn/control.h"

enum { ACCEPT_ROUNDS = 16, READ_ROUNDS = 8, DRAIN_MS = 5000 };
enum tc_state { TC_CONNECTING, TC_WAITING, TC_BOUND };
enum { CLIENT = 0, PEER = 1 }; /* sides; buffer d carries what side d sent */

struct tcconn;

struct side {
	uint8_t kind; /* IW_EV_TCP_SIDE */
	uint8_t which;
	bool rd, wr, eof;
	int fd;
	struct iw_tls_conn *tls; /* the client side over TLS */
	struct tcconn *tc;
};

struct tcconn {
	struct side s[2];
	uint32_t id, slot;
	uint8_t state;
	bool dead, binding, draining;
	struct iw_alloc *a; /* valid while not dead: the allocation's end closes it first */
	struct iw_addr peer;
	uint64_t deadline_ms;
	struct iw_tcp_req req; /* the Connect to answer (TC_CONNECTING) */
	uint8_t *buf[2];       /* IW_TCP_PIPE_BUF each, once bound */
	size_t off[2], len[2];
	struct tcconn *next_dead;
};

struct iw_tcprelay {
	struct iw_worker *w;
	struct tcconn **slot;
	uint32_t *free_slots;
	uint32_t *ix; /* ids to slots: slot + 1 at ix_home(id) or after it, 0 where free */
	uint32_t ix_mask;
	uint32_t cap, n_free, n_pending;
	struct tcconn *dead;
	struct iw_tcprelay_stats st;
};

static void side_events(struct iw_tcprelay *t, struct side *sd)
{
	if (sd->fd < 0)
		return;
	struct epoll_event ev = { .events = (sd->rd ? EPOLLIN : 0) | (sd->wr ? EPOLLOUT : 0),
				  .data.ptr = sd };
	epoll_ctl(t->w->epfd, EPOLL_CTL_MOD, sd->fd, &ev);
}

static void side_close(struct side *sd)
{
	iw_tls_conn_destroy(sd->tls);
	sd->tls = NULL;
	if (sd->fd >= 0)
		close(sd->fd); /* also leaves the epoll set */
	sd->fd = -1;
}

/* Close both sides now; the memory goes at the next iw_tcprelay_reap. */
static void tc_kill(struct iw_tcprelay *t, struct tcconn *tc, uint64_t *why)
{
	if (tc->dead)
		return;
	tc->dead = true;
	if (why)
		(*why)++;
	if (tc->state == TC_CONNECTING) {
		t->n_pending--;
		t->st.pending--;
	} else if (tc->state == TC_WAITING) {
		t->st.waiting--;
	} else {
		t->st.bound--;
	}
	if (tc->a && tc->a->tcp_conns)
		tc->a->tcp_conns--;
	tc->a = NULL;
	side_close(&tc->s[CLIENT]);
	side_close(&tc->s[PEER]);
	tc->next_dead = t->dead;
	t->dead = tc;
}

static uint32_t ix_home(const struct iw_tcprelay *t, uint32_t id)
{
	return (id * 2654435761u) & t->ix_mask;
}

/* Where id is in the index, or -1. */
static int64_t ix_pos(const struct iw_tcprelay *t, uint32_t id)
{
	for (uint32_t h = ix_home(t, id);; h = (h + 1) & t->ix_mask) {
		if (!t->ix[h])
			return -1;
		if (t->slot[t->ix[h] - 1]->id == id)
			return h;
	}
}

/* Linear probing's deletion: the entries after the hole move back into it when the hole lies
 * between their home and where they are, so that no search stops early at it. */
static void ix_del(struct iw_tcprelay *t, uint32_t id)
{
	int64_t p = ix_pos(t, id);
	if (p < 0)
		return;
	uint32_t i = (uint32_t)p, j = i;
	for (;;) {
		j = (j + 1) & t->ix_mask;
		if (!t->ix[j])
			break;
		uint32_t k = ix_home(t, t->slot[t->ix[j] - 1]->id);
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		t->ix[i] = t->ix[j];
		i = j;
	}
	t->ix[i] = 0;
}

void iw_tcprelay_reap(struct iw_tcprelay *t)
{
	while (t && t->dead) {
		struct tcconn *tc = t->dead;
		t->dead = tc->next_dead;
		uint32_t i = tc->slot;
		ix_del(t, tc->id);
		t->slot[i] = NULL;
		t->free_slots[t->n_free++] = i;
		free(tc->buf[0]);
		free(tc);
	}
}

static struct tcconn *by_id(struct iw_tcprelay *t, uint32_t id)
{
	int64_t p = ix_pos(t, id);
	struct tcconn *tc = p < 0 ? NULL : t->slot[t->ix[p] - 1];
	return tc && !tc->dead ? tc : NULL;
}

/* The connections of a's user (iw_alloc_who) over all its TCP allocations on this worker. A
 * scan, as for a Connect's 446: only a Connect or a permitted peer's connection asks. */
static uint32_t user_conns(const struct iw_tcprelay *t, const struct iw_alloc *a)
{
	size_t len, olen;
	const char *who = iw_alloc_who(a, &len);
	uint32_t n = 0;
	for (uint32_t i = 0; i < t->cap; i++) {
		const struct tcconn *o = t->slot[i];
		if (!o || o->dead)
			continue;
		const char *ow = iw_alloc_who(o->a, &olen);
		n += o->a == a || (olen == len && !memcmp(ow, who, len));
	}
	return n;
}

/* A slot and an id, within the bounds: per allocation (-EMFILE), per user (-EDQUOT), and over
 * all (-ENOBUFS). NULL with *err set when one is reached (-EIO: no random id). */
static struct tcconn *tc_new(struct iw_tcprelay *t, struct iw_alloc *a, int *err)
{
	const struct iw_conf *c = t->w->conf;
	if (a->tcp_conns >= c->tcp_relay_per_alloc) {
		*err = -EMFILE;
		return NULL;
	}
	if (!t->n_free || t->cap - t->n_free >= c->tcp_relay_conns) {
		*err = -ENOBUFS;
		return NULL;
	}
	/* One user's allocations together cannot take the table from everyone else. */
	if (t->cap - t->n_free >= c->tcp_relay_per_user && user_conns(t, a) >= c->tcp_relay_per_user) {
		*err = -EDQUOT;
		t->st.per_user++;
		return NULL;
	}
	uint32_t id = 0;
	/* A random id, never 0 nor one in use: only its owner, told in a Connect's answer or a
	 * ConnectionAttempt, can name it. Without randomness, no connection. */
	for (int k = 0; k < 8 && (!id || ix_pos(t, id) >= 0); k++)
		if (iw_cred_random(&id, sizeof id))
			id = 0;
	struct tcconn *tc = id && ix_pos(t, id) < 0 ? calloc(1, sizeof *tc) : NULL;
	if (!tc) {
		*err = id ? -ENOBUFS : -EIO;
		return NULL;
	}
	uint32_t i = t->free_slots[--t->n_free];
	tc->id = id;
	tc->slot = i;
	tc->a = a;
	for (unsigned k = 0; k < 2; k++)
		tc->s[k] = (struct side){ .kind = IW_EV_TCP_SIDE, .which = (uint8_t)k, .fd = -1, .tc = tc };
	t->slot[i] = tc;
	uint32_t h = ix_home(t, id);
	while (t->ix[h])
		h = (h + 1) & t->ix_mask;
	t->ix[h] = i + 1;
	a->tcp_conns++;
	return tc;
}

/* --- the control path's side (struct iw_tcp_ops) --- */

static int op_connect(void *ctx, struct iw_alloc *a, const struct iw_addr *peer, const struct iw_tcp_req *req)
{
	struct iw_tcprelay *t = ctx;
	const struct iw_conf *c = t->w->conf;
	/* RFC 6062 §5.2: a Connect in progress to this peer, or a connection to it pending or
	 * active -> 446. A scan of the table: Connects are rare next to the bytes they carry. */
	for (uint32_t i = 0; i < t->cap; i++) {
		struct tcconn *o = t->slot[i];
		if (o && !o->dead && o->a == a && iw_addr_eq(&o->peer, peer))
			return -EEXIST;
	}
	if (t->n_pending >= c->tcp_relay_pending)
		return -EAGAIN;
	int err = 0;
	/* Every bound before the connection: a Connect refused sends nothing to its peer. */
	struct tcconn *tc = tc_new(t, a, &err);
	if (!tc)
		return err;
	tc->peer = *peer;
	tc->req = *req;
	tc->state = TC_CONNECTING;
	t->n_pending++;
	t->st.pending++;
	struct sockaddr_storage ss, ls;
	socklen_t sl = iw_addr_to_sa(peer, &ss), ll = iw_addr_to_sa(&a->rs[0].bound, &ls);
	int fd = socket(peer->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		tc_kill(t, tc, NULL);
		return err;
	}
	tc->s[PEER].fd = fd; /* closed with tc from here */
	int one = 1;
	/* RFC 6062 §5.2: the connection leaves from the relayed transport address, where the
	 * allocation's listening socket is bound too (both with SO_REUSEPORT). */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (peer->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ls, ll) ||
	    (connect(fd, (struct sockaddr *)&ss, sl) && errno != EINPROGRESS)) {
		err = -errno;
		tc_kill(t, tc, NULL);
		return err;
	}
	tc->deadline_ms = t->w->now_ms + (uint64_t)c->tcp_connect_s * 1000;
	tc->s[PEER].wr = true; /* writable: connected, or failed (SO_ERROR says) */
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = &tc->s[PEER] };
	if (epoll_ctl(t->w->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		err = -errno;
		tc_kill(t, tc, NULL);
		return err;
	}
	return 0;
}

static int op_bind(void *ctx, struct iw_listener *l, uint32_t cid, const struct iw_auth_result *ar)
{
	struct iw_tcprelay *t = ctx;
	struct tcconn *tc = by_id(t, cid);
	/* RFC 6062 §5.4: only a connection that waits for its ConnectionBind, and only once. */
	if (!tc || tc->state != TC_WAITING || tc->binding)
		return -ENOENT;
	if (tc->a->user_len != ar->user_len || memcmp(tc->a->user, ar->user, ar->user_len))
		return -EACCES;
	tc->binding = true;
	l->pipe_cid = cid;
	return 0;
}

static int op_client_of(void *ctx, uint32_t cid, struct iw_addr *client)
{
	struct tcconn *tc = by_id(ctx, cid);
	if (!tc || tc->state != TC_WAITING)
		return -ENOENT;
	*client = tc->a->client;
	return 0;
}

static void op_alloc_gone(void *ctx, struct iw_alloc *a)
{
	struct iw_tcprelay *t = ctx;
	for (uint32_t i = 0; i < t->cap && a->tcp_conns; i++) {
		struct tcconn *tc = t->slot[i];
		if (tc && !tc->dead && tc->a == a)
			tc_kill(t, tc, &t->st.closed_alloc);
	}
}

static const struct iw_tcp_ops ops = {
	.connect = op_connect, .bind = op_bind, .client_of = op_client_of, .alloc_gone = op_alloc_gone
};

/* --- the pipe --- */

/* Bytes read (> 0), 0 at the end of the stream, -EAGAIN, or another negative errno. */
static ssize_t side_read(struct side *sd, uint8_t *p, size_t cap)
{
	if (sd->tls) {
		bool ww = false;
		int n = iw_tls_conn_read(sd->tls, p, cap, &ww);
		if (n == -EAGAIN && ww)
			sd->wr = true;
		return n == -ECONNRESET ? 0 : n;
	}
	ssize_t n = recv(sd->fd, p, cap, MSG_DONTWAIT);
	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? -EAGAIN
		       : errno == ECONNRESET                                       ? 0
										   : -errno;
	return n;
}

/* Bytes taken (> 0), -EAGAIN, or another negative errno. TLS: one record's worth, gathered
 * for the push at the end of the pump. */
static ssize_t side_write(struct side *sd, const uint8_t *p, size_t n)
{
	if (sd->tls)
		return iw_tls_conn_write(sd->tls, p, n);
	ssize_t r = send(sd->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (r < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? -EAGAIN : -errno;
	return r;
}

static void count(struct iw_tcprelay *t, struct tcconn *tc, unsigned d, size_t n)
{
	t->st.bytes[d] += n;
	tc->a->use.bytes[d] += n;
	tc->a->use.pkts[d]++;
}

/* Move buffer d toward the other side, then set both sides' interest: side d is read while
 * its buffer has room, the other side is written while anything waits for it. -1: closed. */
static int pump(struct iw_tcprelay *t, struct tcconn *tc, unsigned d)
{
	struct side *from = &tc->s[d], *to = &tc->s[!d];
	while (tc->off[d] < tc->len[d]) {
		ssize_t r = side_write(to, tc->buf[d] + tc->off[d], tc->len[d] - tc->off[d]);
		if (r == -EAGAIN)
			break;
		if (r <= 0) {
			tc_kill(t, tc, d == CLIENT ? &t->st.closed_peer : &t->st.closed_client);
			return -1;
		}
		tc->off[d] += (size_t)r;
	}
	if (to->tls) {
		int r = iw_tls_conn_push(to->tls);
		if (r < 0 && r != -EAGAIN) {
			tc_kill(t, tc, &t->st.closed_client);
			return -1;
		}
	}
	if (tc->off[d] == tc->len[d])
		tc->off[d] = tc->len[d] = 0;
	bool pending = tc->len[d] > tc->off[d] || (to->tls && iw_tls_conn_has_pending(to->tls));
	if (!pending && from->eof) {
		/* Everything the closing side sent has gone on: either side closing closes the
		 * other (RFC 6062 §5.5). */
		tc_kill(t, tc, d == CLIENT ? &t->st.closed_client : &t->st.closed_peer);
		return -1;
	}
	bool rd = !from->eof && tc->len[d] < IW_TCP_PIPE_BUF;
	if (from->rd && !rd)
		t->st.stalls++;
	if (rd != from->rd) {
		from->rd = rd;
		side_events(t, from);
	}
	if (pending != to->wr) {
		to->wr = pending;
		side_events(t, to);
	}
	return 0;
}

/* Side d is readable: read into its buffer while there is room, passing each read on. A TLS
 * session is read until it would block, since decrypted bytes may wait inside it where epoll
 * cannot see them. */
static void on_readable(struct iw_tcprelay *t, struct tcconn *tc, unsigned d)
{
	struct side *sd = &tc->s[d];
	for (int round = 0; !tc->dead && !sd->eof && (sd->tls || round < READ_ROUNDS); round++) {
		if (tc->off[d]) {
			memmove(tc->buf[d], tc->buf[d] + tc->off[d], tc->len[d] - tc->off[d]);
			tc->len[d] -= tc->off[d];
			tc->off[d] = 0;
		}
		size_t room = IW_TCP_PIPE_BUF - tc->len[d];
		if (!room)
			break;
		ssize_t n = side_read(sd, tc->buf[d] + tc->len[d], room);
		if (n == -EAGAIN)
			break;
		if (n < 0) {
			tc_kill(t, tc, &t->st.closed_err);
			return;
		}
		if (n == 0) {
			sd->eof = true;
			tc->deadline_ms = t->w->now_ms + DRAIN_MS;
		} else {
			tc->len[d] += (size_t)n;
			count(t, tc, d, (size_t)n);
		}
		if (pump(t, tc, d))
			return;
		if (!sd->tls && n > 0 && (size_t)n < room)
			break; /* drained: level-triggered epoll reports what comes later */
	}
}

/* The outgoing connection of a Connect finished: answer it (RFC 6062 §5.2). */
static void connected(struct iw_tcprelay *t, struct tcconn *tc)
{
	int err = 0;
	socklen_t len = sizeof err;
	if (getsockopt(tc->s[PEER].fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
		char why[160];
		snprintf(why, sizeof why, "Connection Timeout or Failure: %s", strerror(err ? err : errno));
		iw_control_tcp_answer(t->w, tc->a, &tc->req, STUN_ERR_CONNECTION_FAILURE, why, 0);
		tc_kill(t, tc, &t->st.connect_fail);
		return;
	}
	t->n_pending--;
	t->st.pending--;
	t->st.waiting++;
	t->st.connect_ok++;
	tc->state = TC_WAITING;
	/* The client has tcp-relay-connect-timeout (RFC 6062: 30 s) to bind it. Nothing is read
	 * from the peer until then: the kernel buffers it, and the TCP window holds the peer back
	 * (§5.2: "The server MUST buffer any data received from the client"). */
	tc->deadline_ms = t->w->now_ms + (uint64_t)t->w->conf->tcp_connect_s * 1000;
	tc->s[PEER].wr = false;
	side_events(t, &tc->s[PEER]);
	iw_control_tcp_answer(t->w, tc->a, &tc->req, 0, NULL, tc->id);
}

/* RFC 6062 §5.3: a peer connects to a TCP allocation's relayed address. */
static void on_accept(struct iw_tcprelay *t, struct iw_rsock *rs)
{
	struct iw_alloc *a = rs->alloc;
	struct iw_worker *w = t->w;
	for (int i = 0; i < ACCEPT_ROUNDS; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		int fd = accept4(rs->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct iw_addr peer;
		/* RFC 6062 §5.3: "If no permission for this peer has been installed for this
		 * allocation, the server MUST close the connection with the peer immediately after
		 * it has been accepted." */
		if (iw_addr_from_sa(&peer, (struct sockaddr *)&ss) ||
		    !iw_alloc_perm_has(a, &peer, w->now_ms)) {
			t->st.attempt_no_perm++;
			close(fd);
			continue;
		}
		int err = 0;
		struct tcconn *tc = tc_new(t, a, &err);
		if (!tc) {
			if (err == -EMFILE)
				t->st.attempt_per_alloc++;
			else if (err != -EDQUOT) /* counted in per_user */
				t->st.attempt_total++;
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		tc->peer = peer;
		tc->state = TC_WAITING;
		tc->deadline_ms = w->now_ms + (uint64_t)w->conf->tcp_connect_s * 1000;
		tc->s[PEER].fd = fd;
		t->st.waiting++;
		struct epoll_event ev = { .events = 0, .data.ptr = &tc->s[PEER] };
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			tc_kill(t, tc, &t->st.closed_err);
			continue;
		}
		t->st.attempts++;
		iw_control_tcp_attempt(w, a, tc->id, &peer);
	}
}

void iw_tcprelay_event(struct iw_tcprelay *t, void *ptr, uint32_t events)
{
	if (*(uint8_t *)ptr == IW_EV_TCP_LIS) {
		on_accept(t, ptr);
		return;
	}
	struct side *sd = ptr;
	struct tcconn *tc = sd->tc;
	if (tc->dead)
		return;
	if (tc->state == TC_CONNECTING) {
		connected(t, tc);
		return;
	}
	if (tc->state == TC_WAITING) {
		/* Not read until bound: only an error or a hang-up comes here. */
		if (events & (EPOLLERR | EPOLLHUP))
			tc_kill(t, tc, &t->st.closed_peer);
		return;
	}
	unsigned d = sd->which;
	if ((events & EPOLLERR) || ((events & EPOLLHUP) && !sd->rd)) {
		/* Reset, or gone while its buffer is full: what it sent cannot all go on. */
		tc_kill(t, tc, d == CLIENT ? &t->st.closed_client : &t->st.closed_peer);
		return;
	}
	if ((events & EPOLLOUT) && pump(t, tc, !d))
		return;
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		on_readable(t, tc, d);
	/* The other side stopped for want of room, which this write may have made: a TLS one
	 * may hold decrypted bytes epoll does not report, so read it now. */
	struct side *o = &tc->s[!d];
	if (!tc->dead && (events & EPOLLOUT) && o->tls && o->rd)
		on_readable(t, tc, !d);
}

int iw_tcprelay_adopt(struct iw_tcprelay *t, uint32_t cid, int fd, struct iw_tls_conn *tls,
		      const uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len)
{
	struct tcconn *tc = by_id(t, cid);
	uint8_t *mem = NULL;
	if (!tc || tc->state != TC_WAITING || out_len > IW_TCP_PIPE_BUF || in_len > IW_TCP_PIPE_BUF ||
	    !(mem = malloc(2 * (size_t)IW_TCP_PIPE_BUF))) {
		iw_tls_conn_destroy(tls);
		close(fd);
		if (tc)
			tc_kill(t, tc, &t->st.closed_err);
		return tc ? -ENOMEM : -ENOENT;
	}
	tc->buf[CLIENT] = mem;
	tc->buf[PEER] = mem + IW_TCP_PIPE_BUF;
	/* What the client connection had queued (the ConnectionBind's answer) goes first. */
	memcpy(tc->buf[PEER], out, out_len);
	tc->len[PEER] = out_len;
	memcpy(tc->buf[CLIENT], in, in_len);
	tc->len[CLIENT] = in_len;
	tc->s[CLIENT].fd = fd;
	tc->s[CLIENT].tls = tls;
	tc->state = TC_BOUND;
	t->st.waiting--;
	t->st.bound++;
	t->st.bind_ok++;
	if (in_len)
		count(t, tc, CLIENT, in_len);
	/* The socket is in the epoll set for the stream connection it was: point it here. */
	tc->s[CLIENT].rd = tc->s[PEER].rd = true;
	side_events(t, &tc->s[CLIENT]);
	side_events(t, &tc->s[PEER]);
	if (pump(t, tc, PEER) || pump(t, tc, CLIENT))
		return 0;
	if (tls)
		on_readable(t, tc, CLIENT);
	return 0;
}

void iw_tcprelay_unbind(struct iw_tcprelay *t, uint32_t cid)
{
	struct tcconn *tc = t ? by_id(t, cid) : NULL;
	if (tc && tc->state == TC_WAITING)
		tc->binding = false;
}

void iw_tcprelay_sweep(struct iw_tcprelay *t)
{
	uint64_t now = t->w->now_ms;
	for (uint32_t i = 0; i < t->cap; i++) {
		struct tcconn *tc = t->slot[i];
		if (!tc || tc->dead || now < tc->deadline_ms)
			continue;
		if (tc->state == TC_CONNECTING) {
			/* RFC 6062 §5.2: "If the connection attempt fails or times out, the server
			 * MUST return a 447". */
			iw_control_tcp_answer(t->w, tc->a, &tc->req, STUN_ERR_CONNECTION_FAILURE,
					      "Connection Timeout or Failure: timed out", 0);
			tc_kill(t, tc, &t->st.connect_timeout);
		} else if (tc->state == TC_WAITING) {
			/* RFC 6062 §5.2/§5.3: not bound within 30 seconds -> closed. */
			tc_kill(t, tc, &t->st.bind_timeout);
		} else if (tc->s[CLIENT].eof || tc->s[PEER].eof) {
			/* One side closed and the other does not take the rest. */
			tc_kill(t, tc, &t->st.closed_err);
		}
	}
	iw_tcprelay_reap(t);
}

const struct iw_tcprelay_stats *iw_tcprelay_stats(const struct iw_tcprelay *t)
{
	return &t->st;
}

struct iw_tcprelay *iw_tcprelay_create(struct iw_worker *w)
{
	struct iw_tcprelay *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->w = w;
	t->cap = w->conf->tcp_relay_conns < 0xFFFF ? w->conf->tcp_relay_conns : 0xFFFF;
	/* The index at most half full, so that a probe is short. */
	uint32_t ix_n = 2;
	while (ix_n < 2 * t->cap)
		ix_n *= 2;
	t->ix_mask = ix_n - 1;
	t->slot = calloc(t->cap, sizeof *t->slot);
	t->free_slots = calloc(t->cap, sizeof *t->free_slots);
	t->ix = calloc(ix_n, sizeof *t->ix);
	if (!t->slot || !t->free_slots || !t->ix) {
		iw_tcprelay_destroy(t);
		return NULL;
	}
	for (uint32_t i = 0; i < t->cap; i++)
		t->free_slots[t->n_free++] = t->cap - 1 - i;
	w->tcp_ops = &ops;
	w->tcp = t;
	return t;
}

void iw_tcprelay_destroy(struct iw_tcprelay *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; t->slot && i < t->cap; i++)
		if (t->slot[i])
			tc_kill(t, t->slot[i], NULL);
	iw_tcprelay_reap(t);
	if (t->w && t->w->tcp == t) {
		t->w->tcp_ops = NULL;
		t->w->tcp = NULL;
	}
	free(t->slot);
	free(t->free_slots);
	free(t->ix);
	free(t);
}
