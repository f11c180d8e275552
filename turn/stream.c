/* TCP and TLS client connections: accept, TLS handshake, frame, answer, time out. Each
 * connection is a state machine (HANDSHAKE -> OPEN -> closed) with a fixed input buffer for one
 * frame plus the next one's start and a bounded output buffer. Output is gathered during a
 * wake-up and written once per connection at its end (one send, or one TLS record). */
#include "turn/stream.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/proxy.h"
#include "common/sock.h"
#include "turn/control.h"
#include "turn/mailbox.h"
#include "turn/relay.h"
#include "turn/tcprelay.h"
#include "turn/tls.h"
#include "turn/wakeup.h"

/* The TLS options of a struct iw_conf. */
#define IW_STREAM_TLS_OPTS(c)                                                                \
	{                                                                                    \
		.cert = (c)->cert, .pkey = (c)->pkey, .pkey_pwd = (c)->pkey_pwd,             \
		.ciphers = (c)->cipher_list, .curve = (c)->ec_curve, .dh_file = (c)->dh_file \
	}

enum { EPOLL_EVENTS = 64, MAX_SLIS = 2 * IW_CONF_MAX_LISTEN, ACCEPT_ROUNDS = 64, TCP_ROUNDS = 8 };
enum conn_state { C_PROXY, C_HANDSHAKE, C_OPEN };

struct slis {
	uint8_t kind; /* IW_EV_STREAM_LIS */
	int fd;
	bool tls;
	struct iw_addr addr;
};

struct conn {
	struct iw_listener lis; /* first: answers and relayed data come through its out (conn_out) */
	struct iw_stream *s;
	struct sockaddr_storage peer_sa;
	struct iw_addr peer;
	uint32_t slot;
	uint32_t dirty_at; /* 1 + index in the stream's dirty list, 0 when not listed */
	uint8_t state, tr; /* tr: enum iw_stream_transport */
	bool dead, want_out;
	bool allocated;     /* a successful Allocate was answered: past the stream-auth-timeout check */
	bool proxy_trusted; /* from proxy-trusted: the PROXY header names the client */
	bool ip_counted;    /* counted for max-tcp-per-ip under peer */
	struct iw_tls_conn *tls;
	uint64_t stall_ms; /* handshake start, or when a partial frame last made no progress */
	uint64_t last_ms;  /* opened, or last answered a request with success (valid traffic) */
	uint64_t born_ms;  /* accepted */
	size_t in_len, out_off, out_len;
	size_t out_rec; /* TLS: bytes of the frame at out_off not yet taken by mbedTLS */
	uint8_t in[IW_STREAM_IN_CAP];
	uint8_t out[IW_STREAM_OUT_CAP];
};

/* Open connections per client address (the port ignored): a linear-probing table of at least
 * twice max-tcp-connections slots, so it never fills. n == 0 marks an empty slot. */
struct ipcount {
	struct iw_addr ip;
	uint32_t n;
};

struct iw_stream {
	struct iw_conf conf; /* the stream settings at start (the worker reads w->conf) */
	const struct iw_conf *orig;
	struct iw_worker *w;
	struct iw_tls *tls;
	struct iw_tcprelay *tcp; /* RFC 6062 peer connections and data connections */
	volatile sig_atomic_t *stop, reload;
	struct slis lis[MAX_SLIS];
	unsigned n_lis;
	struct conn **conns;
	uint32_t *free_slots;
	struct conn **dirty; /* connections with output gathered during this wake-up */
	struct ipcount *ipc;
	uint32_t ipc_mask, ipc_seed;
	uint32_t cap, n_conns, n_free, n_dirty;
	uint64_t sweep_ms;
	unsigned seen_gen;
	struct iw_stream_stats st[IW_STREAM_N_TRANSPORTS];
};

static struct conn *conn_of(struct iw_listener *l)
{
	return (struct conn *)l; /* lis is the first member */
}

static struct iw_stream_stats *stats(struct iw_stream *s, const struct conn *c)
{
	return &s->st[c->tr];
}

static void set_events(struct iw_stream *s, struct conn *c, bool out)
{
	if (c->want_out == out)
		return;
	struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = &c->lis };
	epoll_ctl(s->w->epfd, EPOLL_CTL_MOD, c->lis.fd, &ev);
	c->want_out = out;
}

static void undirty(struct iw_stream *s, struct conn *c)
{
	if (!c->dirty_at)
		return;
	uint32_t i = c->dirty_at - 1;
	struct conn *last = s->dirty[--s->n_dirty];
	s->dirty[i] = last;
	last->dirty_at = i + 1;
	c->dirty_at = 0;
}

static struct iw_addr ip_only(const struct iw_addr *a)
{
	struct iw_addr k = *a;
	k.port = 0;
	return k;
}

/* The slot holding ip (port 0), or the empty slot where it would go. */
static uint32_t ipc_find(const struct iw_stream *s, const struct iw_addr *ip)
{
	uint32_t i = iw_addr_hash(ip, s->ipc_seed) & s->ipc_mask;
	while (s->ipc[i].n && !iw_addr_eq(&s->ipc[i].ip, ip))
		i = (i + 1) & s->ipc_mask;
	return i;
}

static void ipc_drop(struct iw_stream *s, const struct iw_addr *peer)
{
	struct iw_addr ip = ip_only(peer);
	uint32_t i = ipc_find(s, &ip), m = s->ipc_mask;
	if (!s->ipc[i].n || --s->ipc[i].n)
		return;
	/* Backward-shift deletion: an entry after the hole moves into it unless its home slot
	 * lies between the two, so every probe chain stays unbroken without tombstones. */
	for (uint32_t j = (i + 1) & m; s->ipc[j].n; j = (j + 1) & m) {
		uint32_t home = iw_addr_hash(&s->ipc[j].ip, s->ipc_seed) & m;
		if (((j - home) & m) >= ((j - i) & m)) {
			s->ipc[i] = s->ipc[j];
			s->ipc[j].n = 0;
			i = j;
		}
	}
}

static void conn_close(struct iw_stream *s, struct conn *c)
{
	undirty(s, c);
	if (c->ip_counted)
		ipc_drop(s, &c->peer);
	stats(s, c)->open--;
	struct iw_alloc *a = iw_alloc_find(&s->w->tab, &c->peer, c->lis.idx);
	if (a)
		iw_control_alloc_free(s->w, a,
				      IW_END_CLOSED); /* its 5-tuple is this connection: it ends here */
	/* A ConnectionBind answered, and the connection gone before the hand-over: without this,
	 * the peer connection could be bound by nobody until tcp-relay-connect-timeout. */
	if (c->lis.pipe_cid)
		iw_tcprelay_unbind(s->tcp, c->lis.pipe_cid);
	iw_tls_conn_destroy(c->tls);
	close(c->lis.fd);
	s->conns[c->slot] = NULL;
	s->free_slots[s->n_free++] = c->slot;
	s->n_conns--;
	free(c);
}

static void fail_write(struct iw_stream *s, struct conn *c, ssize_t r)
{
	c->dead = true;
	if (r == -ECONNRESET || r == -EPIPE)
		stats(s, c)->closed_eof++; /* the client went away */
	else
		stats(s, c)->closed_err++;
}

/* TLS: one record per frame, since clients such as coturn's take a record for a message, and
 * the records of the whole flush leave in one send. mbedTLS may take less than a frame (a
 * client that negotiated a smaller max_fragment_length gets several records per frame), and
 * after WANT_WRITE must be given the same bytes again: out_rec counts what is left of the
 * current frame, so a frame's length is read only at a frame's start. 0, or -1 when the
 * connection failed. */
static int flush_tls(struct iw_stream *s, struct conn *c)
{
	struct iw_stream_stats *st = stats(s, c);
	bool had = iw_tls_conn_has_pending(c->tls);
	while (c->out_off < c->out_len) {
		size_t avail = c->out_len - c->out_off;
		if (!c->out_rec) {
			/* The frames in out are ours, whole and padded. */
			size_t len;
			if (iw_stun_frame_next(c->out + c->out_off, avail, avail, &len, &c->out_rec) != 1)
				c->out_rec = avail; /* cannot happen; never read past what is queued */
		}
		int r = iw_tls_conn_write(c->tls, c->out + c->out_off, c->out_rec);
		if (r == -EAGAIN)
			break;
		if (r <= 0 || (size_t)r > c->out_rec) {
			fail_write(s, c, r > 0 ? -EPROTO : r);
			return -1;
		}
		c->out_off += (size_t)r;
		c->out_rec -= (size_t)r;
		st->bytes_out += (uint64_t)r;
		had = true;
	}
	int r = had ? iw_tls_conn_push(c->tls) : 0;
	if (r < 0 && r != -EAGAIN) {
		fail_write(s, c, r);
		return -1;
	}
	if (had)
		st->writes++;
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	set_events(s, c, c->out_len != 0 || iw_tls_conn_has_pending(c->tls));
	return 0;
}

/* Push gathered output: for TCP one send for everything queued, as the bytes sit contiguous
 * in out. 0, or -1 when the connection failed (marked dead). */
static int flush(struct iw_stream *s, struct conn *c)
{
	if (c->tls)
		return flush_tls(s, c);
	struct iw_stream_stats *st = stats(s, c);
	while (c->out_off < c->out_len) {
		size_t n = c->out_len - c->out_off;
		ssize_t r = send(c->lis.fd, c->out + c->out_off, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			break;
		if (r <= 0) {
			fail_write(s, c, r < 0 ? -errno : -EPIPE);
			return -1;
		}
		c->out_off += (size_t)r;
		st->bytes_out += (uint64_t)r;
		st->writes++;
		/* A short send means the socket buffer is full: wait for EPOLLOUT rather than
		 * spend a call on EAGAIN. */
		if ((size_t)r < n)
			break;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	set_events(s, c, c->out_len != 0);
	return 0;
}

/* Gathered output is written at the end of the wake-up; a connection already waiting for
 * EPOLLOUT is written when the socket drains instead. */
static void mark_dirty(struct iw_stream *s, struct conn *c)
{
	if (c->dirty_at || c->want_out)
		return;
	s->dirty[s->n_dirty++] = c;
	c->dirty_at = s->n_dirty;
}

static void flush_dirty(struct iw_stream *s)
{
	while (s->n_dirty) {
		struct conn *c = s->dirty[--s->n_dirty];
		c->dirty_at = 0;
		if (!c->dead)
			flush(s, c);
	}
}

/* Queue one frame padded to 4 (RFC 8656 §12.5: over streams ChannelData MUST be padded).
 * false when the bound is reached: the frame is dropped, never queued past it. */
static bool queue(struct iw_stream *s, struct conn *c, const uint8_t *p, size_t len)
{
	struct iw_stream_stats *st = stats(s, c);
	size_t padded = iw_pad4(len);
	if (c->dead || c->state != C_OPEN)
		return false;
	/* Full with a socket that took the last write: write now, so that only a client that
	 * does not read loses frames, not one that got a burst within a single wake-up. */
	if (c->out_len - c->out_off + padded > sizeof c->out && !c->want_out && flush(s, c))
		return false;
	if (c->out_len - c->out_off + padded > sizeof c->out) {
		st->drop_out_full++;
		return false;
	}
	if (c->out_len + padded > sizeof c->out) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	memcpy(c->out + c->out_len, p, len);
	memset(c->out + c->out_len + len, 0, padded - len);
	c->out_len += padded;
	st->frames_out++;
	mark_dirty(s, c);
	return true;
}

/* The connection's output (struct iw_listener's out), framed and padded to 4. Only a request
 * answered with success counts as traffic for the idle timer (bytes alone, such as an empty
 * ChannelData frame, do not), and a successful Allocate ends the stream-auth-timeout watch. */
static int conn_out(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *dst, const uint8_t *p,
		    size_t len, enum iw_out_kind kind)
{
	(void)dst; /* the connection's own peer */
	struct conn *c = conn_of(l);
	if (kind == IW_OUT_ANSWER) {
		/* Before queueing: the request was valid even if a client that does not read
		 * loses the answer (its allocation exists either way). */
		uint16_t type = len >= STUN_HEADER_LEN ? iw_be16(p) : 0xFFFF;
		if ((type & 0xC000) == 0 && STUN_TYPE_CLASS(type) == STUN_CLASS_SUCCESS) {
			c->last_ms = w->now_ms;
			if (STUN_TYPE_METHOD(type) == TURN_METHOD_ALLOCATE)
				c->allocated = true;
		}
	}
	if (!queue(c->s, c, p, len))
		return -ENOBUFS;
	if (kind == IW_OUT_DATA) {
		w->st.tx_client_pkts++;
		w->st.tx_client_bytes += len;
	}
	return 0;
}

/* Cut whole frames off the input and hand each to the datagram path; what they send toward
 * peers leaves together at the end, gathered per relay socket. -1: close. */
static int frames(struct iw_stream *s, struct conn *c)
{
	struct iw_stream_stats *st = stats(s, c);
	struct iw_worker *w = s->w;
	size_t off = 0;
	bool progress = false;
	int rc = 0;
	while (off < c->in_len) {
		const uint8_t *p = c->in + off;
		size_t len, total;
		int r = iw_stun_frame_next(p, c->in_len - off, IW_STREAM_FRAME_MAX, &len, &total);
		if (r == 0)
			break;
		if (r < 0) {
			/* Bytes that start no frame (the stream cannot be re-synchronised), or
			 * a frame longer than a datagram could be. */
			if (r == -EMSGSIZE)
				st->closed_too_long++;
			else
				st->closed_bad_frame++;
			rc = -1;
			break;
		}
		struct iw_dgram *d = iw_relay_dgram_take(w);
		memcpy(d->buf, p, len);
		d->src = c->peer_sa;
		st->frames_in++;
		iw_relay_client_frame(w, &c->lis, d, len);
		off += total;
		progress = true;
		if (c->dead) {
			rc = -1;
			break;
		}
		/* A ConnectionBind answered with success: what follows is the peer's bytes, for
		 * the tcprelay to take over (handoff). */
		if (c->lis.pipe_cid)
			break;
		/* A refused ConnectionBind: close once its answer is written (do_read flushes). */
		if (c->lis.close_now) {
			st->closed_bind++;
			rc = -1;
			break;
		}
	}
	if (off)
		iw_relay_tx_flush(w);
	if (rc)
		return rc;
	if (off) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	if (progress || !c->in_len)
		c->stall_ms = s->w->now_ms;
	return 0;
}

/* Read what the socket holds, in chunks of up to the free input space, and frame it. A TLS
 * session reads until it would block, since decrypted bytes may wait inside it where epoll
 * cannot see them. -1: close. */
static int do_read(struct iw_stream *s, struct conn *c)
{
	struct iw_stream_stats *st = stats(s, c);
	for (int round = 0; c->tls || round < TCP_ROUNDS; round++) {
		size_t room = sizeof c->in - c->in_len;
		ssize_t n;
		bool ww = false;
		if (c->tls) {
			n = iw_tls_conn_read(c->tls, c->in + c->in_len, room, &ww);
		} else {
			n = recv(c->lis.fd, c->in + c->in_len, room, MSG_DONTWAIT);
			if (n < 0)
				n = (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? -EAGAIN
												: -errno;
		}
		if (n == -EAGAIN) {
			if (ww)
				set_events(s, c, true);
			return 0;
		}
		if (n == 0 || n == -ECONNRESET) {
			st->closed_eof++; /* FIN, close_notify or a reset: the client went away */
			return -1;
		}
		if (n < 0) {
			st->closed_err++;
			return -1;
		}
		c->in_len += (size_t)n;
		st->bytes_in += (uint64_t)n;
		st->reads++;
		if (frames(s, c)) {
			/* Answers to the frames before the bad one still go out. */
			if (!c->dead)
				flush(s, c);
			return -1;
		}
		if (c->lis.pipe_cid)
			return 0;
		/* Less than asked for: the socket is drained (level-triggered epoll reports
		 * anything that arrives later), so skip the call that would say EAGAIN. */
		if (!c->tls && (size_t)n < room)
			return 0;
	}
	return 0;
}

/* max-tcp-per-ip for the client at c->peer: counted, or false when it has too many. */
static bool ipc_take(struct iw_stream *s, struct conn *c)
{
	struct iw_addr ip = ip_only(&c->peer);
	uint32_t at = ipc_find(s, &ip);
	if (s->ipc[at].n >= s->conf.max_tcp_per_ip)
		return false;
	s->ipc[at].ip = ip;
	s->ipc[at].n++;
	c->ip_counted = true;
	return true;
}

static int proxy_refuse(struct iw_stream *s, struct conn *c, uint64_t *counter, const char *why)
{
	char a[IW_ADDR_STRLEN];
	(*counter)++;
	IW_LOG_RL(IW_LOG_INFO, 10, "closing a connection from %s: %s",
		  iw_addr_fmt(&c->peer, true, a, sizeof a), why);
	(void)s;
	return -1;
}

/* proxy-protocol: the connection's first bytes. From a proxy-trusted source they must be a
 * PROXY header, which is consumed exactly, and the client it names replaces the proxy's
 * address for everything after (XOR-MAPPED-ADDRESS, nonces, limits, logs). From anyone else
 * they are only peeked: a header closes the connection, anything else is left for the TLS
 * handshake or the framer. Peeked bytes stay readable, so while a header is incomplete the
 * bytes so far (all of them header: it ends with CRLF, or its length says so) are consumed
 * into c->in. 1: done, 0: wait for more, -1: close. */
static int proxy_read(struct iw_stream *s, struct conn *c)
{
	struct iw_stream_stats *st = stats(s, c);
	struct iw_proxy_hdr h;
	const char *why = "no PROXY header";
	size_t have = c->in_len;
	ssize_t n = recv(c->lis.fd, c->in + have, IW_PROXY_MAX - have, MSG_PEEK | MSG_DONTWAIT);
	int rc;

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (n <= 0) {
		if (n == 0)
			st->closed_eof++;
		else
			st->closed_err++;
		return -1;
	}
	rc = iw_proxy_parse(c->in, have + (size_t)n, &h, &why);
	if (rc == 0) {
		if (recv(c->lis.fd, c->in + have, (size_t)n, MSG_DONTWAIT) != n)
			return proxy_refuse(s, c, &st->proxy_bad, "cannot read the PROXY header");
		c->in_len += (size_t)n;
		return 0;
	}
	if (!c->proxy_trusted) {
		if (rc == -EPROTO && !have)
			return 1; /* the client's own first bytes */
		return proxy_refuse(s, c, &st->proxy_untrusted,
				    "a PROXY header from a source not in proxy-trusted");
	}
	if (rc < 0)
		return proxy_refuse(s, c, rc == -EPROTO ? &st->proxy_missing : &st->proxy_bad, why);
	if (recv(c->lis.fd, c->in + have, (size_t)rc - have, MSG_DONTWAIT) != (ssize_t)((size_t)rc - have))
		return proxy_refuse(s, c, &st->proxy_bad, "cannot read the PROXY header");
	c->in_len = 0;
	st->proxy_header++;
	if (!h.local) {
		c->peer = h.src;
		iw_addr_to_sa(&h.src, &c->peer_sa);
	}
	if (!ipc_take(s, c)) {
		st->refused_per_ip++;
		iw_control_seclog_conn(s->w, &c->peer, c->tr == IW_STREAM_TLS, "max-tcp-per-ip reached");
		return -1;
	}
	return 1;
}

static void on_conn(struct iw_stream *s, struct conn *c, uint32_t events)
{
	if (c->dead || c->lis.pipe_cid)
		return;
	if (c->state == C_PROXY) {
		int rc = proxy_read(s, c);
		if (rc < 0)
			c->dead = true;
		if (rc <= 0)
			return;
		c->state = c->tls ? C_HANDSHAKE : C_OPEN;
		c->stall_ms = s->w->now_ms;
		events |= EPOLLIN; /* the client's bytes may have come with the header */
	}
	if (c->state == C_HANDSHAKE) {
		bool ww = false;
		int rc = iw_tls_conn_handshake(c->tls, &ww);
		if (rc < 0) {
			stats(s, c)->tls_fail++;
			c->dead = true;
			return;
		}
		set_events(s, c, ww);
		if (rc == 0)
			return;
		stats(s, c)->tls_handshakes++;
		c->state = C_OPEN;
		c->stall_ms = c->last_ms = s->w->now_ms;
		/* Application data may have come in with the client's last flight. */
		events |= EPOLLIN;
	}
	if ((events & EPOLLOUT) && flush(s, c))
		return;
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && do_read(s, c))
		c->dead = true;
}

static void on_accept(struct iw_stream *s, struct slis *sl)
{
	struct iw_stream_stats *st = &s->st[sl->tls ? IW_STREAM_TLS : IW_STREAM_TCP];
	for (int i = 0; i < ACCEPT_ROUNDS; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		int fd = accept4(sl->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct conn *c = NULL;
		struct iw_addr peer, ip;
		if (iw_addr_from_sa(&peer, (struct sockaddr *)&ss)) {
			st->refused_cap++;
			close(fd);
			continue;
		}
		/* A trusted proxy carries many clients: they are counted once its header names
		 * them. */
		bool trusted = s->conf.proxy_protocol &&
			       iw_proxy_trusted(s->conf.proxy_trusted, s->conf.n_proxy_trusted, &peer);
		ip = ip_only(&peer);
		uint32_t at = ipc_find(s, &ip);
		if (!trusted && s->ipc[at].n >= s->conf.max_tcp_per_ip) {
			/* max-tcp-per-ip: one address cannot take the slots everyone shares. */
			st->refused_per_ip++;
			iw_control_seclog_conn(s->w, &peer, sl->tls, "max-tcp-per-ip reached");
			close(fd);
			continue;
		}
		if (!s->n_free || !(c = calloc(1, sizeof *c))) {
			/* max-tcp-connections reached (or no memory): refused at once. */
			st->refused_cap++;
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		uint32_t slot = s->free_slots[--s->n_free];
		c->slot = slot;
		c->lis = (struct iw_listener){ .kind = IW_EV_STREAM,
					       .addr_proven = true,
					       .tr = sl->tls ? IW_CLIENT_TLS : IW_CLIENT_TCP,
					       .fd = fd,
					       .addr = sl->addr,
					       .idx = IW_STREAM_LIS_BASE + slot,
					       .out = conn_out };
		c->s = s;
		c->peer_sa = ss;
		c->peer = peer;
		c->tr = sl->tls ? IW_STREAM_TLS : IW_STREAM_TCP;
		c->state = C_OPEN;
		c->stall_ms = c->last_ms = c->born_ms = s->w->now_ms;
		if (sl->tls && !(c->tls = iw_tls_conn_create(s->tls, fd))) {
			st->refused_cap++;
			free(c);
			close(fd);
			s->free_slots[s->n_free++] = slot;
			continue;
		}
		if (sl->tls)
			c->state = C_HANDSHAKE;
		c->proxy_trusted = trusted;
		if (s->conf.proxy_protocol)
			c->state = C_PROXY;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &c->lis };
		if (epoll_ctl(s->w->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			iw_tls_conn_destroy(c->tls);
			free(c);
			close(fd);
			s->free_slots[s->n_free++] = slot;
			continue;
		}
		s->conns[slot] = c;
		s->n_conns++;
		if (!trusted) {
			s->ipc[at].ip = ip;
			s->ipc[at].n++;
			c->ip_counted = true;
		}
		st->accepted++;
		st->open++;
	}
}

/* After a successful ConnectionBind (RFC 6062 §5.4) the connection is a data connection: its
 * socket, TLS session and unsent and unread bytes go to the tcprelay, and its slot here is
 * free again (it no longer counts for max-tcp-connections or max-tcp-per-ip; the tcprelay's
 * own bounds count it). */
static void handoff(struct iw_stream *s, struct conn *c)
{
	undirty(s, c);
	if (c->ip_counted)
		ipc_drop(s, &c->peer);
	stats(s, c)->open--;
	stats(s, c)->to_tcp_relay++;
	iw_tcprelay_adopt(s->tcp, c->lis.pipe_cid, c->lis.fd, c->tls, c->out + c->out_off,
			  c->out_len - c->out_off, c->in, c->in_len);
	s->conns[c->slot] = NULL;
	s->free_slots[s->n_free++] = c->slot;
	s->n_conns--;
	free(c);
}

/* Once a second: handshakes and partial frames that stall, connections that did not allocate
 * within stream-auth-timeout, and connections without an allocation that answered no request
 * with success for stream-idle-timeout. A connection with one lives as long as its
 * allocation. */
static void sweep(struct iw_stream *s)
{
	uint64_t now = s->w->now_ms;
	uint64_t stall = (uint64_t)s->conf.stream_timeout_s * 1000;
	uint64_t idle = (uint64_t)s->conf.stream_idle_s * 1000;
	uint64_t auth = (uint64_t)s->conf.stream_auth_s * 1000;
	for (uint32_t i = 0; i < s->cap; i++) {
		struct conn *c = s->conns[i];
		if (!c)
			continue;
		if (c->dead) {
			conn_close(s, c);
			continue;
		}
		bool partial = c->state != C_OPEN || c->in_len;
		if (partial && now - c->stall_ms >= stall) {
			stats(s, c)->closed_timeout++;
			conn_close(s, c);
		} else if (now - c->last_ms >= idle && !iw_alloc_find(&s->w->tab, &c->peer, c->lis.idx)) {
			stats(s, c)->closed_idle++;
			conn_close(s, c);
		} else if (!c->allocated && now - c->born_ms >= auth) {
			stats(s, c)->closed_auth++;
			conn_close(s, c);
		}
	}
}

static void expire_cb(void *ctx, struct iw_alloc *a)
{
	iw_control_alloc_free(ctx, a, a->cred_capped ? IW_END_CRED_EXPIRED : IW_END_EXPIRED);
}

static void reload_tls(struct iw_stream *s)
{
	const char *why = "failed";
	struct iw_tls *t = iw_tls_create_opts(&(struct iw_tls_opts)IW_STREAM_TLS_OPTS(&s->conf), &why);
	if (!t) {
		IW_ERROR("TLS reload: %s; keeping the previous certificate", why);
		return;
	}
	iw_tls_destroy(s->tls);
	s->tls = t;
	IW_INFO("TLS certificate reloaded from %s", s->conf.cert);
}

int iw_stream_run(struct iw_stream *s)
{
	struct iw_worker *w = s->w;
	struct epoll_event ev[EPOLL_EVENTS];
	struct conn *touched[EPOLL_EVENTS];
	while (!__atomic_load_n(s->stop, __ATOMIC_RELAXED)) {
		/* SIGHUP's users and secrets, as the UDP workers adopt them; it also tells the
		 * supervisor this thread left the older generation, so it can be freed. */
		if (w->sync)
			w->sync(w, w->sync_arg);
		iw_mailbox_poll(w);
		int n = epoll_wait(w->epfd, ev, EPOLL_EVENTS, 250);
		if (n < 0) {
			if (errno != EINTR) {
				IW_ERROR("stream epoll_wait: %s", strerror(errno));
				return -errno;
			}
			n = 0;
		}
		w->st.wakeups++;
		w->now_ms = iw_clock_ms();
		w->now_s = iw_clock_wall_s();
		unsigned n_touched = 0;
		for (int i = 0; i < n; i++) {
			uint8_t kind = *(uint8_t *)ev[i].data.ptr;
			if (kind == IW_EV_RELAY) {
				iw_relay_peer_ready(w, ev[i].data.ptr);
			} else if (kind == IW_EV_TCP_LIS || kind == IW_EV_TCP_SIDE) {
				iw_tcprelay_event(s->tcp, ev[i].data.ptr, ev[i].events);
			} else if (kind == IW_EV_STREAM_LIS) {
				on_accept(s, ev[i].data.ptr);
			} else if (kind == IW_EV_WAKEUP) {
				iw_wakeup_ack(ev[i].data.ptr); /* the mailbox, run at the top of the loop */
			} else if (kind == IW_EV_STREAM) {
				struct conn *c = conn_of(ev[i].data.ptr);
				on_conn(s, c, ev[i].events);
				touched[n_touched++] = c;
			}
		}
		/* One write per connection for everything this wake-up queued on it. */
		flush_dirty(s);
		/* Closed after the batch, so no later event of it points at freed memory. */
		for (unsigned i = 0; i < n_touched; i++)
			if (touched[i]->dead)
				conn_close(s, touched[i]);
			else if (touched[i]->lis.pipe_cid)
				handoff(s, touched[i]);
		iw_tcprelay_reap(s->tcp);
		uint64_t before = w->tab.wheel_s;
		iw_alloc_tick(&w->tab, w->now_ms, expire_cb, w);
		if (w->tab.wheel_s != before)
			iw_control_resv_expire(w);
		if (w->now_ms - s->sweep_ms >= 1000) {
			s->sweep_ms = w->now_ms;
			sweep(s);
			iw_tcprelay_sweep(s->tcp);
			flush_dirty(s); /* a Connect that timed out is answered now */
		}
		/* SIGHUP: a new configuration generation (adopted by sync above) means a new
		 * certificate too. */
		if (w->gen != s->seen_gen) {
			s->seen_gen = w->gen;
			s->reload = 1;
		}
		if (s->reload) {
			s->reload = 0;
			if (s->tls)
				reload_tls(s);
		}
	}
	return 0;
}

void iw_stream_tls_reload(struct iw_stream *s)
{
	if (s)
		s->reload = 1;
}

struct iw_worker *iw_stream_worker(struct iw_stream *s)
{
	return s->w;
}

const struct iw_tcprelay_stats *iw_stream_tcprelay_stats(const struct iw_stream *s)
{
	return iw_tcprelay_stats(s->tcp);
}

const struct iw_stream_stats *iw_stream_stats(const struct iw_stream *s, enum iw_stream_transport t)
{
	return &s->st[t];
}

static int open_slis(struct iw_stream *s, const struct iw_addr *ip, uint16_t port, bool tls)
{
	static const struct iw_sock_spec spec = { .type = SOCK_STREAM,
						  .flags = IW_SOCK_REUSEADDR | IW_SOCK_V6ONLY,
						  .backlog = 1024 };
	struct iw_addr a = *ip;
	a.port = port;
	int fd = iw_sock_open(&a, &spec, NULL);
	if (fd < 0)
		return fd;
	struct slis *l = &s->lis[s->n_lis];
	*l = (struct slis){ .kind = IW_EV_STREAM_LIS, .fd = fd, .tls = tls, .addr = a };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = l };
	if (epoll_ctl(s->w->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		int e = -errno;
		close(fd);
		return e;
	}
	s->n_lis++;
	return 0;
}

static int open_all(struct iw_stream *s, uint16_t port, bool tls)
{
	const struct iw_conf *c = s->orig;
	for (unsigned i = 0; i < c->n_listen; i++) {
		char txt[IW_ADDR_STRLEN];
		struct iw_addr a = c->listen[i];
		a.port = port;
		iw_addr_fmt(&a, true, txt, sizeof txt);
		int rc = open_slis(s, &c->listen[i], port, tls);
		if (rc == 0) {
			IW_INFO("listening on %s %s", tls ? "tls" : "tcp", txt);
			continue;
		}
		if (a.family == AF_INET6 && iw_addr_is_any(&a) &&
		    (rc == -EAFNOSUPPORT || rc == -EADDRNOTAVAIL)) {
			IW_WARN("cannot listen on %s %s: %s (skipped)", tls ? "tls" : "tcp", txt,
				strerror(-rc));
			continue;
		}
		IW_ERROR("cannot listen on %s %s: %s", tls ? "tls" : "tcp", txt, strerror(-rc));
		return rc;
	}
	return 0;
}

struct iw_stream *iw_stream_create(struct iw_worker_shared *sh)
{
	const struct iw_conf *conf = sh->conf;
	volatile sig_atomic_t *stop = sh->stop;
	struct iw_stream *s = calloc(1, sizeof *s);
	if (!s) {
		IW_ERROR("out of memory");
		return NULL;
	}
	s->orig = conf;
	s->stop = stop;
	s->conf = *conf;
	/* The shared snapshot the UDP workers start on, not a copy: the own-address policy
	 * (turn/policy.h) and the answers read the listening ports and addresses from it, so a
	 * client on TCP or TLS is refused what one on UDP is. */
	s->w = iw_relay_create_bare(sh, conf, conf->threads);
	if (!s->w)
		goto fail;
	s->tcp = iw_tcprelay_create(s->w);
	if (!s->tcp) {
		IW_ERROR("out of memory for the TCP relay's connections");
		goto fail;
	}
	s->cap = conf->max_tcp_conns;
	s->conns = calloc(s->cap, sizeof *s->conns);
	s->free_slots = calloc(s->cap, sizeof *s->free_slots);
	s->dirty = calloc(s->cap, sizeof *s->dirty);
	uint32_t n_ipc = 2;
	while (n_ipc < 2 * (uint64_t)s->cap)
		n_ipc *= 2;
	s->ipc = calloc(n_ipc, sizeof *s->ipc);
	s->ipc_mask = n_ipc - 1;
	/* A random seed: an address cannot be picked to collide with another's probe chain. */
	if (getrandom(&s->ipc_seed, sizeof s->ipc_seed, GRND_NONBLOCK) != sizeof s->ipc_seed)
		s->ipc_seed = (uint32_t)iw_clock_ms();
	if (!s->conns || !s->free_slots || !s->dirty || !s->ipc) {
		IW_ERROR("out of memory for %u connections", s->cap);
		goto fail;
	}
	for (uint32_t i = 0; i < s->cap; i++)
		s->free_slots[s->n_free++] = s->cap - 1 - i;
	bool tls = !conf->no_tls;
	if (tls && (!conf->cert || !conf->pkey)) {
		IW_WARN("no cert and pkey: TLS listener disabled");
		tls = false;
	}
	if (tls) {
		const char *why = "failed";
		s->tls = iw_tls_create_opts(&(struct iw_tls_opts)IW_STREAM_TLS_OPTS(conf), &why);
		if (!s->tls) {
			IW_ERROR("TLS (%s, %s): %s", conf->cert, conf->pkey, why);
			goto fail;
		}
	}
	if (!conf->no_tcp && open_all(s, conf->port, false))
		goto fail;
	if (tls && open_all(s, conf->tls_port, true))
		goto fail;
	/* Relay addresses from the addresses listened on, as a UDP worker picks them. */
	struct iw_addr bound[MAX_SLIS];
	for (unsigned i = 0; i < s->n_lis; i++)
		bound[i] = s->lis[i].addr;
	iw_relay_addrs_pick(s->w, bound, s->n_lis);
	return s;
fail:
	iw_stream_destroy(s);
	return NULL;
}

void iw_stream_destroy(struct iw_stream *s)
{
	if (!s)
		return;
	/* The relay stops: its sessions end as drained, before closing their connections would
	 * end them as closed. */
	if (s->w)
		iw_relay_end_all(s->w, IW_END_DRAIN);
	for (uint32_t i = 0; s->conns && i < s->cap; i++)
		if (s->conns[i])
			conn_close(s, s->conns[i]);
	iw_tcprelay_destroy(s->tcp);
	for (unsigned i = 0; i < s->n_lis; i++)
		close(s->lis[i].fd);
	if (IW_LOG_ENABLED(IW_LOG_DEBUG)) {
		static const char *const name[IW_STREAM_N_TRANSPORTS] = { "tcp", "tls" };
		for (unsigned t = 0; t < IW_STREAM_N_TRANSPORTS; t++) {
			const struct iw_stream_stats *st = &s->st[t];
			IW_DEBUG("stream counters %s: accepted %llu refused %llu eof %llu err %llu "
				 "timeout %llu idle %llu auth %llu refused_ip %llu too_long %llu "
				 "bad_frame %llu handshakes %llu "
				 "tls_fail %llu frames %llu/%llu writes %llu drop_out_full %llu",
				 name[t], (unsigned long long)st->accepted,
				 (unsigned long long)st->refused_cap, (unsigned long long)st->closed_eof,
				 (unsigned long long)st->closed_err, (unsigned long long)st->closed_timeout,
				 (unsigned long long)st->closed_idle, (unsigned long long)st->closed_auth,
				 (unsigned long long)st->refused_per_ip,
				 (unsigned long long)st->closed_too_long,
				 (unsigned long long)st->closed_bad_frame,
				 (unsigned long long)st->tls_handshakes, (unsigned long long)st->tls_fail,
				 (unsigned long long)st->frames_in, (unsigned long long)st->frames_out,
				 (unsigned long long)st->writes, (unsigned long long)st->drop_out_full);
		}
	}
	iw_relay_destroy(s->w);
	iw_tls_destroy(s->tls);
	free(s->conns);
	free(s->free_slots);
	free(s->dirty);
	free(s->ipc);
	free(s);
}
