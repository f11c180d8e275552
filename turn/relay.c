/* The packet path: epoll -> recvmmsg -> classify -> forward -> sendmmsg, for one worker.
 * No allocation, no logging (unless debug is on), no formatting here: everything it needs
 * was sized when the worker was created. STUN requests go to control.c. */
#include "turn/relay.h"

#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/cred.h"
#include "common/log.h"
#include "common/sock.h"
#include "turn/acct.h"
#include "turn/control.h"
#include "turn/mailbox.h"
#include "turn/mobility.h"
#include "turn/wakeup.h"

/* A worker with its packet path's batches, which nothing outside this file touches. */
struct iw_relay {
	struct iw_worker w; /* first: the worker the rest of turn/ is handed */
	/* Received datagrams stay in their slots until the sends that point into them leave:
	 * dg[0, rx_at) are taken, and are given back only once the tx queue is empty. */
	struct iw_dgram dg[IW_RELAY_POOL];
	struct mmsghdr rx[IW_RELAY_POOL];
	struct iovec rxiov[IW_RELAY_POOL];
	unsigned rx_at;
	struct mmsghdr tx[IW_RELAY_POOL];
	struct iovec txiov[IW_RELAY_POOL];
	struct sockaddr_storage txaddr[IW_RELAY_POOL];
	int txfd[IW_RELAY_POOL];
	uint8_t txdir[IW_RELAY_POOL]; /* 1: toward a client, 0: toward a peer */
	unsigned n_tx;
	struct mmsghdr txsend[IW_RELAY_POOL]; /* one socket's run, gathered for sendmmsg */
	/* That run with consecutive datagrams to one address folded into UDP GSO sends. */
	struct mmsghdr gso[IW_RELAY_POOL];
	struct iovec gsoiov[IW_RELAY_POOL];
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} gsoctl[IW_RELAY_POOL];
	uint8_t gson[IW_RELAY_POOL]; /* datagrams in gso[i] */
	bool no_gso;                 /* the kernel refused a GSO send: none from now on */
	struct io_uring *ring;       /* batches syscalls across sockets when io_uring is there, else NULL */
	void *ready[IW_RELAY_POOL];  /* relay sockets epoll found readable, for one ring submit */
};

static struct iw_relay *relay_of(struct iw_worker *w)
{
	return (struct iw_relay *)w;
}

/* The headroom must sit right before the payload so a header can be written in front of it. */
_Static_assert(offsetof(struct iw_dgram, buf) == IW_HEADROOM, "headroom precedes buf");
_Static_assert(offsetof(struct iw_dgram, tail) == IW_HEADROOM + IW_DGRAM_MAX, "tail follows");

enum { RX_ROUNDS = 4, EPOLL_EVENTS = 64, RX_RING_MAX = 2 };
/* UDP GSO: at most this many datagrams, and bytes, per send (the kernel's UDP_MAX_SEGMENTS is
 * 64 on the kernels we run on; a UDP payload is under 64 KiB). */
enum { GSO_MAX_SEGS = 64, GSO_MAX_BYTES = 60000 };

static void tx_send(struct iw_worker *w);

static void tx_add(struct iw_worker *w, int fd, void *p, size_t len, const struct iw_addr *dst,
		   bool to_client)
{
	struct iw_relay *rl = relay_of(w);
	/* At most one send per taken slot, so this cannot fill; the bound is kept anyway. */
	if (rl->n_tx == IW_RELAY_POOL)
		tx_send(w);
	unsigned i = rl->n_tx++;
	rl->txiov[i].iov_base = p;
	rl->txiov[i].iov_len = len;
	socklen_t sl = iw_addr_to_sa(dst, &rl->txaddr[i]);
	rl->tx[i].msg_hdr = (struct msghdr){
		.msg_name = &rl->txaddr[i], .msg_namelen = sl, .msg_iov = &rl->txiov[i], .msg_iovlen = 1
	};
	rl->txfd[i] = fd;
	rl->txdir[i] = to_client;
}

static void sent(struct iw_worker *w, const struct mmsghdr *m, bool to_client)
{
	size_t len = m->msg_hdr.msg_iov->iov_len;
	if (to_client) {
		w->st.tx_client_pkts++;
		w->st.tx_client_bytes += len;
	} else {
		w->st.tx_peer_pkts++;
		w->st.tx_peer_bytes += len;
	}
}

/* Submit the n entries prepared and wait for their n completions. Should the kernel refuse
 * (it has no reason to with MSG_DONTWAIT and a ring as large as the pool), the ring is given up
 * for good and the worker goes on with plain syscalls: nothing may stay in flight. */
static int ring_run(struct iw_worker *w, unsigned n)
{
	struct iw_relay *rl = relay_of(w);
	int rc;
	while ((rc = io_uring_submit_and_wait(rl->ring, n)) == -EINTR)
		;
	if (rc >= 0)
		return 0;
	IW_ERROR("io_uring_submit_and_wait: %s: worker %u goes on without io_uring", strerror(-rc), w->idx);
	struct io_uring *r = rl->ring;
	rl->ring = NULL;
	__atomic_store_n(&w->io_uring, false, __ATOMIC_RELAXED); /* the metrics thread reads it */
	io_uring_queue_exit(r);
	free(r);
	return rc;
}

static bool same_dst(const struct msghdr *a, const struct msghdr *b)
{
	return a->msg_namelen == b->msg_namelen && !memcmp(a->msg_name, b->msg_name, a->msg_namelen);
}

/* Fold txsend[0..n) into gso[]: consecutive datagrams to one address, all of one length but a
 * shorter last one, become one send with UDP_SEGMENT that the kernel (or the NIC) splits again,
 * so the stack is walked once for the lot. A burst from one peer to its client is the usual
 * case. The iovecs still point into the slots: nothing is copied. Returns the sends. */
static unsigned gso_fold(struct iw_worker *w, unsigned n)
{
	struct iw_relay *rl = relay_of(w);
	unsigned g = 0, v = 0;
	for (unsigned i = 0; i < n;) {
		const struct msghdr *h = &rl->txsend[i].msg_hdr;
		size_t seg = h->msg_iov->iov_len, bytes = seg;
		unsigned k = i + 1;
		while (k < n && k - i < GSO_MAX_SEGS && same_dst(&rl->txsend[k].msg_hdr, h)) {
			size_t len = rl->txsend[k].msg_hdr.msg_iov->iov_len;
			if (len > seg || rl->txsend[k - 1].msg_hdr.msg_iov->iov_len != seg ||
			    bytes + len > GSO_MAX_BYTES)
				break;
			bytes += len;
			k++;
		}
		rl->gson[g] = (uint8_t)(k - i);
		if (k - i == 1) {
			rl->gso[g].msg_hdr = *h;
		} else {
			for (unsigned j = i; j < k; j++)
				rl->gsoiov[v + j - i] = *rl->txsend[j].msg_hdr.msg_iov;
			struct msghdr *m = &rl->gso[g].msg_hdr;
			*m = (struct msghdr){ .msg_name = h->msg_name,
					      .msg_namelen = h->msg_namelen,
					      .msg_iov = &rl->gsoiov[v],
					      .msg_iovlen = k - i,
					      .msg_control = rl->gsoctl[g].buf,
					      .msg_controllen = sizeof rl->gsoctl[g].buf };
			struct cmsghdr *c = CMSG_FIRSTHDR(m);
			c->cmsg_level = SOL_UDP;
			c->cmsg_type = UDP_SEGMENT;
			c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
			uint16_t s16 = (uint16_t)seg;
			memcpy(CMSG_DATA(c), &s16, sizeof s16);
			v += k - i;
		}
		g++;
		i = k;
	}
	return g;
}

/* One socket's run, gathered in txsend[0..n): sendmmsg until it is all out. Would-block and
 * errors are counted drops: UDP has no backpressure worth queueing for. */
static void send_run(struct iw_worker *w, int fd, unsigned n, bool to_client)
{
	struct iw_relay *rl = relay_of(w);
	unsigned g = rl->no_gso ? 0 : gso_fold(w, n);
	struct mmsghdr *msgs = rl->txsend;
	if (g && g < n) {
		msgs = rl->gso;
		n = g;
	} else {
		g = 0; /* nothing folded: send the run as it is */
	}
	unsigned off = 0, at = 0; /* at: the first datagram of msgs[off] in txsend */
	while (off < n) {
		int r = sendmmsg(fd, msgs + off, n - off, MSG_DONTWAIT);
		if (r < 0) {
			unsigned segs = g ? rl->gson[off] : 1;
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				for (unsigned k = off; k < n; k++)
					w->st.drop_send_err += g ? rl->gson[k] : 1;
				break;
			}
			/* The first message failed (e.g. unreachable): skip it. A GSO send the kernel
			 * will not take (EIO: a device without checksum offload) ends GSO here. */
			if (segs > 1 && (errno == EIO || errno == EINVAL) && !rl->no_gso) {
				rl->no_gso = true;
				IW_WARN("UDP GSO refused (%s): worker %u sends datagram by datagram",
					strerror(errno), w->idx);
			}
			w->st.drop_send_err += segs;
			at += segs;
			off++;
			continue;
		}
		for (int k = 0; k < r; k++, off++) {
			unsigned segs = g ? rl->gson[off] : 1;
			if (segs > 1) {
				w->st.gso_sends++;
				w->st.gso_segments += segs;
			}
			for (unsigned j = 0; j < segs; j++)
				sent(w, &rl->txsend[at + j], to_client);
			at += segs;
		}
	}
}

/* Everything queued, gathered per destination socket. A run of several datagrams leaves in a
 * sendmmsg of its own (toward clients, that is most of them: they share the listener). With a
 * ring, the lone datagrams of the other sockets (a client's to its peer, through the
 * allocation's own socket) all leave in one io_uring_enter; MSG_DONTWAIT keeps each one inline,
 * so every completion is in before the submit returns and the slots are free again. The slots
 * stay taken (a batch may still be in hand). */
static void tx_send(struct iw_worker *w)
{
	struct iw_relay *rl = relay_of(w);
	struct io_uring *r = rl->ring;
	unsigned n_sqe = 0;
	for (unsigned i = 0; i < rl->n_tx; i++) {
		int fd = rl->txfd[i];
		if (fd < 0)
			continue; /* gathered into an earlier socket's run */
		bool to_client = rl->txdir[i];
		unsigned n = 0;
		for (unsigned j = i; j < rl->n_tx; j++) {
			if (rl->txfd[j] == fd) {
				rl->txsend[n++] = rl->tx[j];
				rl->txfd[j] = -1;
			}
		}
		if (r && n == 1) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(r);
			io_uring_prep_sendmsg(sqe, fd, &rl->tx[i].msg_hdr, MSG_DONTWAIT);
			sqe->user_data = i;
			n_sqe++;
		} else {
			send_run(w, fd, n, to_client);
		}
	}
	rl->n_tx = 0;
	if (!n_sqe)
		return;
	if (ring_run(w, n_sqe)) {
		w->st.drop_send_err += n_sqe;
		return;
	}
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	io_uring_for_each_cqe(r, head, cqe)
	{
		if (cqe->res >= 0)
			sent(w, &rl->tx[cqe->user_data], rl->txdir[cqe->user_data]);
		else
			w->st.drop_send_err++;
		seen++;
	}
	io_uring_cq_advance(r, seen);
}

/* Send everything queued and give every slot back: only where no batch is in hand. */
static void tx_flush(struct iw_worker *w)
{
	struct iw_relay *rl = relay_of(w);
	tx_send(w);
	rl->rx_at = 0;
}

/* Accounting (turn/acct.h): the payload as relayed, on the allocation for its record and per
 * client transport for /metrics. Plain increments on lines this path has just read. */
static inline void use_add(struct iw_worker *w, struct iw_alloc *a, unsigned dir, size_t len)
{
	a->use.pkts[dir]++;
	a->use.bytes[dir] += len;
	struct iw_relay_use *u = &w->st.use[a->tr];
	u->pkts[dir]++;
	u->bytes[dir] += len;
}

static const struct iw_rsock *rsock_for(const struct iw_alloc *a, uint8_t family)
{
	for (unsigned i = 0; i < a->n_rsock; i++)
		if (a->rs[i].bound.family == family)
			return &a->rs[i];
	return NULL;
}

/*
 * max-bps, max-pps and user-max-bps for one datagram of len payload bytes through a, either
 * way: true to relay it, false when it is dropped (and counted). Nothing is spent unless it
 * passes all three. The allocation's buckets refill once per wake-up (now_ms moves once per
 * wake-up); the user's budget is touched only once per chunk of bytes (IW_LIMIT_CHUNK_MS
 * worth), with one compare-and-swap: no lock, no syscall, nothing allocated.
 *
 * Precision of user-max-bps: bytes are taken from the user's budget before they are relayed,
 * so the user never relays more than the budget over time; but each allocation may hold up to
 * a chunk it has taken and not relayed yet. Over a window of T seconds the user's allocations
 * together relay user-max-bps x T plus the burst, give or take one chunk per allocation.
 */
static bool limits_pass(struct iw_worker *w, struct iw_alloc *a, size_t len)
{
	const struct iw_limit_set *s = &w->lim;
	struct iw_alloc_lim *l = &a->lim;
	if (s->bps.per_s && !iw_limit_tb_has(&l->bytes, &s->bps, w->now_ms, len)) {
		w->st.drop_max_bps++;
		return false;
	}
	if (s->pps.per_s && !iw_limit_tb_has(&l->pkts, &s->pps, w->now_ms, 1)) {
		w->st.drop_max_pps++;
		return false;
	}
	if (s->user_bps.per_s && l->user_tat && l->user_credit < len) {
		/* A chunk is at least one largest datagram: one take is enough. */
		if (!iw_limit_share_take(l->user_tat, &s->user_bps, w->now_ms, s->user_chunk)) {
			w->st.drop_user_bps++;
			return false;
		}
		l->user_credit += s->user_chunk;
	}
	if (s->bps.per_s)
		iw_limit_tb_spend(&l->bytes, len);
	if (s->pps.per_s)
		iw_limit_tb_spend(&l->pkts, 1);
	if (s->user_bps.per_s && l->user_tat)
		l->user_credit -= len;
	return true;
}

/* max-new-peers-per-sec for a Send indication: a peer address (IP and port) it did not reach
 * lately is a new peer, and takes a token; none left -> dropped. A port scan through one
 * permission is a stream of new peers. */
static bool send_peer_pass(struct iw_worker *w, struct iw_alloc *a, const struct iw_addr *peer)
{
	struct iw_alloc_lim *l = &a->lim;
	uint32_t h = iw_addr_hash(peer, (uint32_t)a->id) | 1; /* never 0: an empty slot */
	for (unsigned i = 0; i < IW_ALLOC_RECENT_PEERS; i++)
		if (l->recent[i] == h)
			return true;
	if (!iw_limit_tb_has(&l->peers, &w->lim.peers, w->now_ms, 1)) {
		w->st.drop_new_peer++;
		return false;
	}
	iw_limit_tb_spend(&l->peers, 1);
	l->recent[l->recent_at++ % IW_ALLOC_RECENT_PEERS] = h;
	return true;
}

/* RFC 8656 §11.4: a Send indication's DATA goes to the peer when a permission exists;
 * otherwise it is silently discarded. */
static void send_ind(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *src,
		     const struct iw_stun_msg *m)
{
	struct iw_alloc *a = iw_alloc_find(&w->tab, src, l->idx);
	if (!a) {
		w->st.drop_no_alloc++;
		return;
	}
	if (m->n_peers != 1 || !(m->present & IW_STUN_HAS_DATA)) {
		w->st.drop_send_bad++;
		return;
	}
	const struct iw_addr *peer = &m->peers[0];
	const struct iw_rsock *rs = rsock_for(a, peer->family);
	if (!rs || !iw_alloc_perm_has(a, peer, w->now_ms)) {
		w->st.drop_send_no_perm++;
		return;
	}
	/* A permission for the relay's own address serves relay-to-relay traffic: only its
	 * relay ports are peers, never its listener (policy.h). No formatting here. */
	if (iw_policy_self_check(&w->conf->policy, &w->self, peer, true, NULL, 0)) {
		w->st.drop_send_self++;
		return;
	}
	if (w->lim.peers.per_s && !send_peer_pass(w, a, peer))
		return;
	if (w->lim.on && !limits_pass(w, a, m->data.len))
		return;
	/* The DATA view points into the receive buffer: forwarded without a copy. */
	tx_add(w, rs->fd, (void *)(uintptr_t)m->data.p, m->data.len, peer, false);
	use_add(w, a, 0, m->data.len);
}

/* ChannelData from a client: 5-tuple -> allocation -> channel -> peer. */
static void chandata(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *src,
		     struct iw_dgram *d, uint16_t ch, uint16_t dlen)
{
	struct iw_alloc *a = iw_alloc_find(&w->tab, src, l->idx);
	if (!a) {
		w->st.drop_no_alloc++;
		return;
	}
	const struct iw_chan *c = iw_alloc_chan_by_num(a, ch, w->now_ms);
	if (!c) {
		w->st.drop_no_chan++;
		return;
	}
	const struct iw_rsock *rs = rsock_for(a, c->peer.family);
	if (!rs || !iw_alloc_perm_has(a, &c->peer, w->now_ms)) {
		w->st.drop_send_no_perm++;
		return;
	}
	if (w->lim.on && !limits_pass(w, a, dlen))
		return;
	/* The payload is forwarded in place, from right after the 4-byte header. */
	tx_add(w, rs->fd, d->buf + TURN_CHANDATA_HDR, dlen, &c->peer, false);
	use_add(w, a, 0, dlen);
}

static void from_client(struct iw_worker *w, struct iw_listener *l, struct iw_dgram *d, size_t len)
{
	struct iw_addr src;
	if (iw_addr_from_sa(&src, (const struct sockaddr *)&d->src)) {
		w->st.drop_unknown_kind++;
		return;
	}
	w->st.rx_client_pkts++;
	w->st.rx_client_bytes += len;
	switch (iw_stun_classify(d->buf, len)) {
	case IW_PKT_CHANDATA: {
		uint16_t ch, dlen;
		if (!iw_chandata_parse(d->buf, len, &ch, &dlen)) {
			w->st.drop_bad_chandata++;
			return;
		}
		chandata(w, l, &src, d, ch, dlen);
		return;
	}
	case IW_PKT_STUN: {
		struct iw_stun_msg m;
		const char *why = "malformed";
		if (iw_stun_decode(&m, d->buf, len, &why) < 0) {
			iw_control_bad(w, l, &src, d->buf, len, why);
			return;
		}
		if (m.method == TURN_METHOD_SEND && m.cls == STUN_CLASS_INDICATION) {
			send_ind(w, l, &src, &m);
			return;
		}
		/* A request may close relay sockets (Refresh 0) and a new allocation may get the
		 * same fd number: what is queued leaves first, through the sockets it was meant for. */
		tx_send(w);
		iw_control_handle(w, l, &src, &m);
		return;
	}
	default:
		/* RFC 5766 channels 0x5000-0x7FFF, when allowed (RFC 8656 reserves them). */
		if (w->conf->rfc5766_channels && len >= TURN_CHANDATA_HDR && d->buf[0] >= 0x50 &&
		    d->buf[0] <= 0x7F && (size_t)iw_be16(d->buf + 2) + TURN_CHANDATA_HDR <= len) {
			chandata(w, l, &src, d, iw_be16(d->buf), iw_be16(d->buf + 2));
			return;
		}
		/* RFC 3489 Binding requests carry no magic cookie: old clients such as stun. */
		if (len >= STUN_HEADER_LEN && iw_be16(d->buf) == STUN_METHOD_BINDING &&
		    iw_be32(d->buf + 4) != STUN_MAGIC_COOKIE && iw_be16(d->buf + 2) % 4 == 0 &&
		    (size_t)iw_be16(d->buf + 2) + STUN_HEADER_LEN == len) {
			iw_control_classic(w, l, &src, d->buf, len);
			return;
		}
		w->st.drop_unknown_kind++;
		return;
	}
}

static void next_tid(struct iw_worker *w, uint8_t tid[STUN_TID_LEN])
{
	for (int i = 0; i < 2; i++) {
		uint64_t x = w->rng;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		w->rng = x;
		memcpy(tid + i * 6, &x, 6);
	}
}

/* Toward the client, through the listener its allocation was made on: a datagram queued on
 * a UDP listener (udp_out), or a frame on a TCP/TLS connection (turn/stream.c). payload: the
 * relayed bytes in p, counted for the allocation once it is on its way. */
static void to_client(struct iw_worker *w, struct iw_alloc *a, uint8_t *p, size_t len, size_t payload)
{
	struct iw_listener *l = a->lis;
	if (l->out(w, l, &a->client, p, len, IW_OUT_DATA))
		w->st.drop_send_err++;
	else
		use_add(w, a, 1, payload);
}

static void from_peer(struct iw_worker *w, struct iw_rsock *rs, struct iw_dgram *d, size_t len)
{
	struct iw_alloc *a = rs->alloc;
	struct iw_addr peer;
	if (iw_addr_from_sa(&peer, (const struct sockaddr *)&d->src)) {
		w->st.drop_unknown_kind++;
		return;
	}
	w->st.rx_peer_pkts++;
	w->st.rx_peer_bytes += len;
	/* RFC 8656 §10.3: no permission for the peer's IP -> silently discard. */
	if (!iw_alloc_perm_has(a, &peer, w->now_ms)) {
		w->st.drop_peer_no_perm++;
		return;
	}
	if (w->lim.on && !limits_pass(w, a, len))
		return;
	const struct iw_chan *c = iw_alloc_chan_by_peer(a, &peer, w->now_ms);
	if (c) {
		/* RFC 8656 §12.5: over UDP the ChannelData padding is optional; none is sent.
		 * The header goes into the headroom right before the payload: no copy. */
		uint8_t *h = d->head + IW_HEADROOM - TURN_CHANDATA_HDR;
		iw_chandata_put(h, c->num, (uint16_t)len);
		to_client(w, a, h, TURN_CHANDATA_HDR + len, len);
		return;
	}
	uint8_t tid[STUN_TID_LEN];
	size_t total;
	next_tid(w, tid);
	uint8_t *msg = iw_stun_data_ind_wrap(d->buf, len, &peer, tid, &total);
	to_client(w, a, msg, total, len);
}

/* Drain a ready socket in batches; a few rounds at most so other sockets get their turn. The
 * sends wait in the queue, so one wake-up's datagrams from many relay sockets leave together. */
static void on_readable(struct iw_worker *w, void *ptr)
{
	struct iw_relay *rl = relay_of(w);
	uint8_t kind = *(uint8_t *)ptr;
	int fd = kind == IW_EV_LISTENER ? ((struct iw_listener *)ptr)->fd : ((struct iw_rsock *)ptr)->fd;
	if (fd < 0)
		return;
	unsigned got = 0;
	for (int round = 0; round < RX_ROUNDS; round++) {
		if (rl->rx_at + IW_RELAY_BATCH > IW_RELAY_POOL)
			tx_flush(w);
		unsigned base = rl->rx_at;
		for (unsigned i = base; i < base + IW_RELAY_BATCH; i++)
			rl->rx[i].msg_hdr.msg_namelen = sizeof rl->dg[i].src;
		int n = recvmmsg(fd, rl->rx + base, IW_RELAY_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		rl->rx_at = base + (unsigned)n;
		w->st.batches++;
		got += (unsigned)n;
		for (unsigned i = base; i < rl->rx_at; i++) {
			struct iw_dgram *d = &rl->dg[i];
			if (rl->rx[i].msg_hdr.msg_flags & MSG_TRUNC) {
				/* Never forward a datagram cut short. */
				w->st.drop_trunc++;
				continue;
			}
			if (kind == IW_EV_LISTENER)
				from_client(w, ptr, d, rl->rx[i].msg_len);
			else
				from_peer(w, ptr, d, rl->rx[i].msg_len);
		}
		/* A Refresh with lifetime 0 may have closed this very socket. */
		if (n < IW_RELAY_BATCH || (kind == IW_EV_RELAY && ((struct iw_rsock *)ptr)->fd != fd))
			break;
	}
	if (kind == IW_EV_RELAY)
		((struct iw_rsock *)ptr)->rx_hint = got > UINT8_MAX ? UINT8_MAX : (uint8_t)got;
}

/* With a ring: every ready relay socket read in one io_uring_enter, as many receives for
 * each as it had datagrams at its last wake-up plus one, so a steady flow costs one receive
 * that finds nothing. A socket that filled all of them stays readable, epoll reports it again,
 * and it is read with recvmmsg batches until its bursts shrink (see iw_relay_poll). Slots are
 * handed out in order and read back in order, so one socket's datagrams keep theirs. */
static void relay_read_ring(struct iw_worker *w, unsigned n)
{
	struct iw_relay *rl = relay_of(w);
	int32_t res[IW_RELAY_POOL];
	uint8_t who[IW_RELAY_POOL];
	for (unsigned k = 0; k < n;) {
		if (rl->rx_at + RX_RING_MAX > IW_RELAY_POOL)
			tx_flush(w);
		struct io_uring *r = rl->ring;
		if (!r) { /* given up by ring_run just now */
			for (; k < n; k++)
				on_readable(w, rl->ready[k]);
			return;
		}
		unsigned base = rl->rx_at, m = 0, first = k;
		for (; k < n; k++) {
			struct iw_rsock *rs = rl->ready[k];
			unsigned want = rs->rx_hint < RX_RING_MAX ? rs->rx_hint + 1u : RX_RING_MAX;
			if (base + m + want > IW_RELAY_POOL)
				break;
			rs->rx_hint = 0;
			for (unsigned j = 0; j < want; j++, m++) {
				struct io_uring_sqe *sqe = io_uring_get_sqe(r);
				struct msghdr *mh = &rl->rx[base + m].msg_hdr;
				mh->msg_namelen = sizeof rl->dg[base + m].src;
				if (rs->fd < 0) /* closed by a request earlier in this wake-up */
					io_uring_prep_nop(sqe);
				else
					io_uring_prep_recvmsg(sqe, rs->fd, mh, MSG_DONTWAIT);
				sqe->user_data = m;
				res[m] = -EAGAIN;
				who[m] = (uint8_t)(k - first);
			}
		}
		if (ring_run(w, m))
			return; /* the sockets stay readable: the next wake-up reads them */
		rl->rx_at = base + m;
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		io_uring_for_each_cqe(r, head, cqe)
		{
			res[cqe->user_data] = cqe->res;
			seen++;
		}
		io_uring_cq_advance(r, seen);
		for (unsigned i = 0; i < m; i++) {
			struct iw_rsock *rs = rl->ready[first + who[i]];
			if (res[i] <= 0 || rs->fd < 0)
				continue;
			rs->rx_hint++;
			w->st.batches++;
			if (rl->rx[base + i].msg_hdr.msg_flags & MSG_TRUNC) {
				w->st.drop_trunc++;
				continue;
			}
			from_peer(w, rs, &rl->dg[base + i], (size_t)res[i]);
		}
	}
}

/* A UDP listener's output: relayed data joins the send queue (it stays in its slot until the
 * queue is flushed); an answer of the control path leaves at once, since w->out is reused. */
static int udp_out(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *dst, const uint8_t *p,
		   size_t len, enum iw_out_kind kind)
{
	if (kind == IW_OUT_DATA) {
		tx_add(w, l->fd, (void *)(uintptr_t)p, len, dst, true);
		return 0;
	}
	struct sockaddr_storage ss;
	socklen_t sl = iw_addr_to_sa(dst, &ss);
	if (sendto(l->fd, p, len, MSG_DONTWAIT, (struct sockaddr *)&ss, sl) < 0)
		return -errno;
	return 0;
}

struct iw_dgram *iw_relay_dgram_take(struct iw_worker *w)
{
	struct iw_relay *rl = relay_of(w);
	if (rl->rx_at == IW_RELAY_POOL)
		tx_flush(w);
	return &rl->dg[rl->rx_at++];
}

void iw_relay_client_frame(struct iw_worker *w, struct iw_listener *l, struct iw_dgram *d, size_t len)
{
	from_client(w, l, d, len);
}

void iw_relay_tx_flush(struct iw_worker *w)
{
	tx_flush(w);
}

void iw_relay_peer_ready(struct iw_worker *w, struct iw_rsock *rs)
{
	on_readable(w, rs);
	tx_flush(w);
}

static void expire_cb(void *ctx, struct iw_alloc *a)
{
	struct iw_worker *w = ctx;
	bool cred = a->cred_capped;
	if (cred)
		w->st.strict_expired++;
	iw_control_alloc_free(w, a, cred ? IW_END_CRED_EXPIRED : IW_END_EXPIRED);
}

int iw_relay_poll(struct iw_worker *w, int timeout_ms)
{
	struct iw_relay *rl = relay_of(w);
	struct epoll_event ev[EPOLL_EVENTS];
	int n = epoll_wait(w->epfd, ev, EPOLL_EVENTS, timeout_ms);
	if (n < 0) {
		if (errno != EINTR)
			return -errno;
		n = 0;
	}
	w->st.wakeups++;
	w->now_ms = iw_clock_ms();
	w->now_s = iw_clock_wall_s();
	unsigned n_ready = 0;
	for (int i = 0; i < n; i++) {
		struct iw_rsock *rs = ev[i].data.ptr;
		if (rs->kind == IW_EV_WAKEUP) {
			/* A mailbox command or a move waits: it runs at the top of the loop. */
			iw_wakeup_ack(ev[i].data.ptr);
			continue;
		}
		/* Sockets that had at most one datagram last time go to the ring together; one
		 * with bursts is cheaper read by a recvmmsg of its own. */
		if (rl->ring && rs->kind == IW_EV_RELAY && rs->rx_hint < RX_RING_MAX)
			rl->ready[n_ready++] = rs;
		else
			on_readable(w, ev[i].data.ptr);
	}
	if (n_ready)
		relay_read_ring(w, n_ready);
	/* Before the timers, which may close sockets that queued sends point at. */
	tx_flush(w);
	uint64_t before = w->tab.wheel_s;
	iw_alloc_tick(&w->tab, w->now_ms, expire_cb, w);
	if (w->tab.wheel_s != before)
		iw_control_resv_expire(w);
	return n;
}

/* Under steady load a wake-up that found only a few datagrams pays a whole epoll_wait and
 * its context switch for them. Waiting batch_wait_us before the next epoll_wait lets the
 * sockets fill, so each wake-up carries a batch: fewer wake-ups per datagram, at most
 * batch_wait_us more latency. Only while wake-ups come close together (within four waits); a
 * quiet relay or a single call is answered at once. */
static void batch_wait(struct iw_worker *w, uint64_t pkts_before, uint64_t *last_us)
{
	uint64_t now = iw_clock_us(), got = w->st.rx_client_pkts + w->st.rx_peer_pkts - pkts_before;
	uint64_t span = now - *last_us, wait = w->conf->batch_wait_us;
	*last_us = now;
	if (!wait || !got || got >= IW_RELAY_BATCH || span > 4 * wait)
		return;
	struct timespec ts = { 0, (long)wait * 1000 };
	nanosleep(&ts, NULL);
}

int iw_relay_run(struct iw_worker *w)
{
	uint64_t last_us = 0;
	/* Set by the main thread, or by a worker that failed. */
	while (!__atomic_load_n(w->stop, __ATOMIC_RELAXED)) {
		if (w->sync)
			w->sync(w, w->sync_arg);
		iw_mailbox_poll(w);
		if (iw_mob_posted(w))
			iw_control_mob_run(w);
		uint64_t before = w->st.rx_client_pkts + w->st.rx_peer_pkts;
		int rc = iw_relay_poll(w, 500);
		if (rc < 0) {
			IW_ERROR("epoll_wait: %s", strerror(-rc));
			return rc;
		}
		batch_wait(w, before, &last_us);
	}
	return 0;
}

/* --- set-up and tear-down (not the packet path) --- */

static int open_listener(struct iw_worker *w, const struct iw_addr *ip, uint16_t port)
{
	struct iw_listener *l = &w->lis[w->n_lis];
	struct iw_addr a = *ip;
	a.port = port;
	struct iw_sock_spec spec = { .type = SOCK_DGRAM, .flags = IW_SOCK_V6ONLY };
	if (w->conf->threads > 1 && w->idx == 0 && port != 0) {
		/* SO_REUSEPORT would also let this bind join another process's group on the same
		 * port (same user) and share its traffic: the first worker binds once without it,
		 * so a port already taken fails as it does with one worker. */
		int fd = iw_sock_open(&a, &spec, NULL);
		if (fd < 0)
			return fd;
		close(fd);
	}
	if (w->conf->threads > 1)
		spec.flags |= IW_SOCK_REUSEPORT;
	spec.buf = IW_LISTENER_BUF;
	int fd = iw_sock_open(&a, &spec, NULL);
	if (fd < 0)
		return fd;
	*l = (struct iw_listener){
		.kind = IW_EV_LISTENER, .fd = fd, .idx = w->n_lis, .addr = a, .out = udp_out
	};
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = l };
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		int e = -errno;
		close(fd);
		return e;
	}
	w->n_lis++;
	return 0;
}

/* RFC 5780 §4.1: with two specific listening addresses of one family (coturn's rule; a
 * wildcard cannot be a RESPONSE-ORIGIN), each of them also listens on alt-listening-port, and
 * the listeners are linked: a Binding answer names the other address at the other port
 * (OTHER-ADDRESS), and a CHANGE-REQUEST picks the listener it leaves from (struct iw_listener
 * chg). With more than two, each address pairs with the next one of its family. UDP only:
 * coturn serves it over UDP too. Listeners first..n_main-1 are the main ones. */
static int rfc5780_open(struct iw_worker *w, unsigned n_main)
{
	const struct iw_conf *c = w->conf;
	if (!iw_conf_rfc5780(c))
		return 0;
	for (unsigned f = 0; f < 2; f++) {
		uint8_t fam = f ? AF_INET6 : AF_INET, m[IW_CONF_MAX_LISTEN], alt[IW_CONF_MAX_LISTEN];
		unsigned k = 0;
		for (unsigned i = 0; i < n_main; i++)
			if (w->lis[i].addr.family == fam && !iw_addr_is_any(&w->lis[i].addr))
				m[k++] = (uint8_t)i;
		if (k < 2)
			continue;
		for (unsigned j = 0; j < k; j++) {
			char txt[IW_ADDR_STRLEN];
			struct iw_addr a = w->lis[m[j]].addr;
			a.port = c->alt_port;
			iw_addr_fmt(&a, true, txt, sizeof txt);
			alt[j] = (uint8_t)w->n_lis;
			int rc = open_listener(w, &a, c->alt_port);
			if (rc) {
				IW_ERROR("cannot listen on udp %s (RFC 5780 alternate port; set "
					 "alt-listening-port "
					 "or no-rfc5780): %s",
					 txt, strerror(-rc));
				return rc;
			}
			IW_INFO("listening on udp %s (RFC 5780 alternate port)", txt);
		}
		for (unsigned j = 0; j < k; j++) {
			unsigned o = (j + 1) % k;
			struct iw_listener *lm = &w->lis[m[j]], *la = &w->lis[alt[j]];
			lm->rfc5780 = la->rfc5780 = true;
			memcpy(lm->chg, (uint8_t[4]){ m[j], alt[j], m[o], alt[o] }, 4);
			memcpy(la->chg, (uint8_t[4]){ alt[j], m[j], alt[o], m[o] }, 4);
		}
	}
	return 0;
}

static bool iface_addr(uint8_t family, struct iw_addr *out)
{
	struct ifaddrs *ifa, *i;
	bool found = false;
	if (getifaddrs(&ifa))
		return false;
	for (i = ifa; i && !found; i = i->ifa_next) {
		struct iw_addr a;
		if (!i->ifa_addr || i->ifa_addr->sa_family != family || iw_addr_from_sa(&a, i->ifa_addr))
			continue;
		const char *r;
		enum iw_addr_class c = iw_addr_classify(&a, &r);
		if (c == IW_ADDR_PUBLIC || c == IW_ADDR_PRIVATE || c == IW_ADDR_SHARED) {
			a.port = 0;
			*out = a;
			found = true;
		}
	}
	freeifaddrs(ifa);
	return found;
}

/* Relay address per family: relay-ip, else external-ip's PRIVATE, else a specific listening
 * address, else an interface address, else loopback. */
static void pick_relay(struct iw_worker *w, uint8_t family, const struct iw_addr *lis, unsigned n)
{
	const struct iw_conf *c = w->conf;
	unsigned f = iw_relay_fam(family);
	struct iw_addr *b = &w->relay_bind[f];
	bool any_listener = false, found = false;
	for (unsigned i = 0; i < c->n_relay && !found; i++)
		if (c->relay[i].family == family)
			*b = c->relay[i], found = true;
	if (c->n_relay && !found)
		return; /* relay-ip given, but none of this family: 440 */
	for (unsigned i = 0; i < c->n_ext && !found; i++)
		if (c->ext[i].has_priv && c->ext[i].priv.family == family)
			*b = c->ext[i].priv, found = true;
	for (unsigned i = 0; i < n && !found; i++) {
		if (lis[i].family != family)
			continue;
		any_listener = true;
		if (!iw_addr_is_any(&lis[i]))
			*b = lis[i], found = true;
	}
	if (!found && any_listener)
		found = iface_addr(family, b);
	if (!found && any_listener)
		found = !iw_addr_parse(b, family == AF_INET ? "127.0.0.1" : "::1");
	if (!found)
		return;
	b->port = 0;
	w->has_relay[f] = true;
	w->relay_adv[f] = *b;
	for (unsigned i = 0; i < c->n_ext; i++) {
		const struct iw_conf_ext *e = &c->ext[i];
		if (e->pub.family == family && (!e->has_priv || iw_addr_ip_eq(&e->priv, b))) {
			w->relay_adv[f] = e->pub;
			break;
		}
	}
}

/* Room for every slot's receive or send at once, so get_sqe never comes back empty. */
static int ring_open(struct iw_worker *w, bool required)
{
	struct iw_relay *rl = relay_of(w);
	rl->ring = calloc(1, sizeof *rl->ring);
	if (!rl->ring)
		return -ENOMEM;
	int rc = io_uring_queue_init(IW_RELAY_POOL, rl->ring, 0);
	if (rc == 0) {
		w->io_uring = true;
		if (w->idx == 0)
			IW_INFO("relay I/O: io_uring (lone receives and sends batched across sockets)");
		return 0;
	}
	free(rl->ring);
	rl->ring = NULL;
	if (required) {
		IW_ERROR("relay-io io_uring: io_uring_queue_init: %s", strerror(-rc));
		return rc;
	}
	if (w->idx == 0)
		IW_INFO("relay I/O: recvmmsg/sendmmsg (io_uring unavailable: %s)", strerror(-rc));
	return 0;
}

struct iw_worker *iw_relay_create_bare(struct iw_worker_shared *sh, const struct iw_conf *conf, unsigned idx)
{
	struct iw_relay *rl = calloc(1, sizeof *rl);
	if (!rl) {
		IW_ERROR("out of memory");
		return NULL;
	}
	struct iw_worker *w = &rl->w;
	w->conf = conf;
	iw_worker_limits_set(w, NULL);
	w->stop = sh->stop;
	w->pool = &sh->pool;
	w->quota = &sh->quota;
	w->idx = idx;
	w->epfd = -1;
	uint32_t seed[3];
	if (iw_cred_random(seed, sizeof seed)) {
		IW_ERROR("no randomness");
		goto fail;
	}
	w->rng = (uint64_t)seed[2] << 32 | seed[0] | 1;
	/* The receive batch points into the datagram slots once, for the worker's life. */
	for (unsigned i = 0; i < IW_RELAY_POOL; i++) {
		rl->rxiov[i] = (struct iovec){ .iov_base = rl->dg[i].buf, .iov_len = IW_DGRAM_MAX };
		rl->rx[i].msg_hdr = (struct msghdr){ .msg_name = &rl->dg[i].src,
						     .msg_namelen = sizeof rl->dg[i].src,
						     .msg_iov = &rl->rxiov[i],
						     .msg_iovlen = 1 };
	}
	w->now_ms = iw_clock_ms();
	w->now_s = iw_clock_wall_s();
	w->life = (struct iw_metrics_hist){ .bounds = iw_relay_life_bounds,
					    .n_bounds = IW_RELAY_LIFE_BUCKETS,
					    .counts = w->life_counts };
	if (iw_alloc_tab_init(&w->tab, conf->max_allocs, seed[0], w->now_ms)) {
		IW_ERROR("cannot allocate the table for %u allocations", conf->max_allocs);
		goto fail;
	}
	w->tab.on_interim = iw_acct_interim;
	if (conf->relay_io == IW_RELAY_IO_SYSCALLS) {
		if (idx == 0)
			IW_INFO("relay I/O: recvmmsg/sendmmsg (relay-io syscalls)");
	} else if (ring_open(w, conf->relay_io == IW_RELAY_IO_URING)) {
		goto fail;
	}
	if (iw_auth_init(&w->auth, conf->realm, conf->stale_nonce_s)) {
		IW_ERROR("cannot set up authentication");
		goto fail;
	}
	w->auth.rest_sep = conf->rest_sep;
	for (unsigned i = 0; i < conf->n_users; i++) {
		const char *why = "invalid";
		if (iw_auth_user_add(&w->auth, conf->users[i], &why)) {
			IW_ERROR("user #%u: %s", i + 1, why);
			goto fail;
		}
	}
	for (unsigned i = 0; i < conf->n_secrets; i++) {
		const char *why = "invalid";
		if (iw_auth_secret_add(&w->auth, conf->secrets[i], &why)) {
			IW_ERROR("static-auth-secret #%u: %s", i + 1, why);
			goto fail;
		}
	}
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epfd < 0) {
		IW_ERROR("epoll_create1: %s", strerror(errno));
		goto fail;
	}
	return w;
fail:
	iw_relay_destroy(w);
	return NULL;
}

struct iw_worker *iw_relay_create(struct iw_worker_shared *sh, unsigned idx)
{
	const struct iw_conf *conf = sh->conf;
	struct iw_addr bound[IW_CONF_MAX_LISTEN];
	struct iw_worker *w = iw_relay_create_bare(sh, conf, idx);
	if (!w)
		return NULL;
	for (unsigned i = 0; i < conf->n_listen; i++) {
		char txt[IW_ADDR_STRLEN];
		int rc = open_listener(w, &conf->listen[i], conf->port);
		struct iw_addr a = conf->listen[i];
		a.port = conf->port;
		iw_addr_fmt(&a, true, txt, sizeof txt);
		if (rc == 0) {
			IW_INFO("listening on udp %s", txt);
			continue;
		}
		/* The default "::" listener is optional on hosts without IPv6. */
		if (a.family == AF_INET6 && iw_addr_is_any(&a) &&
		    (rc == -EAFNOSUPPORT || rc == -EADDRNOTAVAIL)) {
			IW_WARN("cannot listen on udp %s: %s (skipped)", txt, strerror(-rc));
			continue;
		}
		IW_ERROR("cannot listen on udp %s: %s", txt, strerror(-rc));
		goto fail;
	}
	if (w->n_lis == 0) {
		IW_ERROR("no listener could be opened");
		goto fail;
	}
	unsigned n_main = w->n_lis;
	for (unsigned i = 0; i < n_main; i++)
		bound[i] = w->lis[i].addr;
	iw_relay_addrs_pick(w, bound, n_main);
	if (rfc5780_open(w, n_main))
		goto fail;
	if (sh->mob && iw_mob_attach(w, sh->mob)) {
		IW_ERROR("mobility: cannot watch the worker's box");
		goto fail;
	}
	return w;
fail:
	iw_relay_destroy(w);
	return NULL;
}

void iw_relay_addrs_pick(struct iw_worker *w, const struct iw_addr *lis, unsigned n)
{
	const struct iw_conf *conf = w->conf;
	pick_relay(w, AF_INET, lis, n);
	pick_relay(w, AF_INET6, lis, n);
	for (unsigned f = 0; f < 2; f++) {
		char b[IW_ADDR_STRLEN], a[IW_ADDR_STRLEN];
		if (w->has_relay[f] && w->idx == 0) /* the same for every worker */
			IW_INFO("relay %s: bind %s, advertise %s, ports %u-%u", f ? "IPv6" : "IPv4",
				iw_addr_fmt(&w->relay_bind[f], false, b, sizeof b),
				iw_addr_fmt(&w->relay_adv[f], false, a, sizeof a), conf->min_port,
				conf->max_port);
	}
}

void iw_relay_end_all(struct iw_worker *w, enum iw_alloc_end why)
{
	if (!w->tab.slab)
		return;
	w->now_ms = iw_clock_ms(); /* the records' duration: the loop may have stopped a while ago */
	for (uint32_t i = 0; i < w->tab.n_fresh; i++) /* the rest were never used */
		if (w->tab.slab[i].in_use)
			iw_control_alloc_free(w, &w->tab.slab[i], why);
}

void iw_relay_destroy(struct iw_worker *w)
{
	if (!w)
		return;
	struct iw_relay *rl = relay_of(w);
	iw_relay_end_all(w, IW_END_DRAIN);
	for (unsigned i = 0; i < w->n_lis; i++)
		close(w->lis[i].fd);
	if (w->epfd >= 0)
		close(w->epfd);
	iw_alloc_tab_fini(&w->tab);
	iw_auth_fini(&w->auth);
	if (rl->ring) {
		io_uring_queue_exit(rl->ring);
		free(rl->ring);
	}
	free(rl);
}

void iw_relay_stats_dump(const struct iw_worker *w)
{
	const struct iw_relay_stats *s = &w->st;
#define F(x)             \
	{                \
#x, s->x \
	}
	const struct {
		const char *name;
		uint64_t v;
	} f[] = {
		F(rx_client_pkts),   F(rx_client_bytes),   F(tx_client_pkts),    F(tx_client_bytes),
		F(rx_peer_pkts),     F(rx_peer_bytes),     F(tx_peer_pkts),      F(tx_peer_bytes),
		F(drop_trunc),       F(drop_unknown_kind), F(drop_bad_chandata), F(drop_no_alloc),
		F(drop_no_chan),     F(drop_send_no_perm), F(drop_peer_no_perm), F(drop_send_err),
		F(drop_send_bad),    F(drop_send_self),    F(drop_bad_stun),     F(drop_fingerprint),
		F(drop_not_request), F(drop_unauth_rl),    F(stun_requests),     F(binding),
		F(bad_request),      F(unknown_attr),      F(alloc_ok),          F(alloc_retrans),
		F(alloc_mismatch),   F(alloc_quota),       F(alloc_capacity),    F(alloc_family),
		F(alloc_transport),  F(alloc_auth_fail),   F(refresh_ok),        F(refresh_delete),
		F(perm_ok),          F(perm_full),         F(chan_ok),           F(chan_bad),
		F(chan_full),        F(peers_refused),     F(wrong_creds),       F(peers_refused_self),
		F(ext_user_quota),   F(resv_made),         F(resv_used),         F(resv_expired),
		F(resv_cancelled),   F(resv_handover),     F(wakeups),           F(batches),
		F(gso_sends),        F(gso_segments),      F(strict_expired),    F(strict_refused),
		F(mob_moves[0]),     F(mob_moves[1]),      F(mob_handed),
	};
#undef F
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		if (f[i].v)
			IW_DEBUG("counter %s %llu", f[i].name, (unsigned long long)f[i].v);
	/* Process-wide, so the same in every worker's dump. */
	IW_DEBUG("counter ports_in_use %u %u resv_held %u resv_full %llu ports_exhausted %llu "
		 "overflow_blocks %u overflow_full %llu",
		 iw_ports_pool_in_use(w->pool, 0), iw_ports_pool_in_use(w->pool, 1),
		 iw_ports_resv_count(w->pool), (unsigned long long)w->pool->st.resv_full,
		 (unsigned long long)w->pool->st.exhausted, w->tab.ext_used,
		 (unsigned long long)w->tab.st.ext_full);
	IW_DEBUG("counter allocations_created %llu expired %llu auth_ok %llu auth_401 %llu "
		 "auth_438 %llu",
		 (unsigned long long)w->tab.st.created, (unsigned long long)w->tab.st.expired,
		 (unsigned long long)w->auth.st.ok, (unsigned long long)w->auth.st.challenged,
		 (unsigned long long)(w->auth.st.stale_nonce + w->auth.st.bad_nonce));
}
