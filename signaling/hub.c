/* The signaling protocol engine: join/leave/resume, forwarding with a server-set `from`,
 * presence, rate limits and error replies. Message order between two peers is the order in
 * which ops->send is called, and the connection queues are FIFO. */
#include "signaling/hub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
	STRIKE_WINDOW_MS = 10000,
	/* Recently departed peers, so that a message to one is answered without a strike: a
	 * 4-way set-associative table of (room, peer) hashes, 64 KiB, oldest entry evicted. */
	GONE_SETS = 1024,
	GONE_WAYS = 4,
	GONE_MS = 60000,
	/* Our peers that resumed on another instance, and where: an instance that has not heard
	 * yet may still send to us for a few seconds. 2-way, 256 sets, about 40 KiB. */
	MOVED_SETS = 256,
	MOVED_WAYS = 2,
	MOVED_MS = 10000,
	/* Peers the operator disconnected: their resume tokens are refused for IW_HUB_KICK_MS. */
	KICK_SETS = 256,
	KICK_WAYS = 2,
};

/* An entry of the tables of recently seen (room, peer) pairs below. */
struct recent {
	uint64_t key; /* 0: empty */
	uint64_t at_ms;
};

struct iw_hub {
	struct iw_hub_cfg cfg;
	struct iw_hub_ops ops;
	struct iw_room_set *rooms;
	struct iw_hub_stats st;
	uint64_t now_ms; /* the latest time handed in */
	struct recent gone[GONE_SETS][GONE_WAYS];
	struct recent moved[MOVED_SETS][MOVED_WAYS];
	char moved_inst[MOVED_SETS][MOVED_WAYS][IW_ROOM_ID_MAX + 1];
	struct recent kicked[KICK_SETS][KICK_WAYS];
};

/* FNV-1a over room, a separator and peer; never 0. */
static uint64_t gone_key(const char *room, const char *peer)
{
	uint64_t x = 0xcbf29ce484222325ULL;
	for (const char *q = room; *q; q++)
		x = (x ^ (uint8_t)*q) * 0x100000001b3ULL;
	x = (x ^ '/') * 0x100000001b3ULL;
	for (const char *q = peer; *q; q++)
		x = (x ^ (uint8_t)*q) * 0x100000001b3ULL;
	return x ? x : 1;
}

/* Note k in a set of ways entries: its own entry, else the oldest. Returns the entry's way. */
static unsigned recent_put(struct recent *set, unsigned ways, uint64_t k, uint64_t now_ms)
{
	unsigned w = 0;
	for (unsigned i = 0; i < ways; i++) {
		if (set[i].key == k) {
			w = i;
			break;
		}
		if (set[i].at_ms < set[w].at_ms)
			w = i;
	}
	set[w].key = k;
	set[w].at_ms = now_ms ? now_ms : 1;
	return w;
}

/* The way holding k if noted within the last ttl_ms, or -1. */
static int recent_get(const struct recent *set, unsigned ways, uint64_t k, uint64_t now_ms, uint64_t ttl_ms)
{
	for (unsigned i = 0; i < ways; i++)
		if (set[i].key == k && now_ms - set[i].at_ms < ttl_ms)
			return (int)i;
	return -1;
}

static void gone_add(struct iw_hub *h, const char *room, const char *peer)
{
	uint64_t k = gone_key(room, peer);
	recent_put(h->gone[k % GONE_SETS], GONE_WAYS, k, h->now_ms);
}

/* peer left room within the last GONE_MS (as far as the table still remembers). */
static bool gone_has(const struct iw_hub *h, const char *room, const char *peer)
{
	uint64_t k = gone_key(room, peer);
	return recent_get(h->gone[k % GONE_SETS], GONE_WAYS, k, h->now_ms, GONE_MS) >= 0;
}

/* The operator disconnected peer from room within IW_HUB_KICK_MS. An entry evicted early (more
 * than KICK_WAYS kicks landing in one set) only lets a resume become a fresh join. */
static bool kicked_has(const struct iw_hub *h, const char *room, const char *peer)
{
	uint64_t k = gone_key(room, peer);
	return recent_get(h->kicked[k % KICK_SETS], KICK_WAYS, k, h->now_ms, IW_HUB_KICK_MS) >= 0;
}

static void moved_add(struct iw_hub *h, const char *room, const char *peer, const char *inst)
{
	uint64_t k = gone_key(room, peer);
	unsigned w = recent_put(h->moved[k % MOVED_SETS], MOVED_WAYS, k, h->now_ms);
	snprintf(h->moved_inst[k % MOVED_SETS][w], sizeof h->moved_inst[0][0], "%s", inst);
}

/* Where our peer went when it resumed elsewhere within the last MOVED_MS, or NULL. */
static const char *moved_to(const struct iw_hub *h, const char *room, const char *peer)
{
	uint64_t k = gone_key(room, peer);
	int w = recent_get(h->moved[k % MOVED_SETS], MOVED_WAYS, k, h->now_ms, MOVED_MS);
	return w < 0 ? NULL : h->moved_inst[k % MOVED_SETS][w];
}

struct iw_hub *iw_hub_create(const struct iw_hub_cfg *cfg, const struct iw_hub_ops *ops)
{
	struct iw_hub *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->cfg = *cfg;
	h->ops = *ops;
	h->rooms = iw_room_set_create(&cfg->rooms);
	if (!h->rooms) {
		free(h);
		return NULL;
	}
	return h;
}

void iw_hub_reconfigure(struct iw_hub *h, const struct iw_hub_cfg *cfg)
{
	h->cfg.ice = cfg->ice;
	h->cfg.msg_rate = cfg->msg_rate;
	h->cfg.msg_burst = cfg->msg_burst;
	h->cfg.max_strikes = cfg->max_strikes;
}

void iw_hub_destroy(struct iw_hub *h)
{
	if (!h)
		return;
	iw_room_set_destroy(h->rooms);
	free(h);
}

void iw_hub_conn_init(struct iw_hub_conn *c, const struct iw_hub *h, uint64_t now_ms)
{
	memset(c, 0, sizeof *c);
	c->tokens = h->cfg.msg_burst;
	c->tokens_ms = now_ms;
	c->strikes_ms = now_ms;
}

const struct iw_hub_stats *iw_hub_stats(const struct iw_hub *h)
{
	return &h->st;
}

const struct iw_room_set *iw_hub_rooms(const struct iw_hub *h)
{
	return h->rooms;
}

/* Hand one message to the WebSocket layer for c, counted for the admin API. */
static void out(struct iw_hub *h, struct iw_hub_conn *c, const char *txt, size_t len)
{
	if (h->ops.send(h->ops.arg, c, txt, len) == 0)
		c->msgs_out++;
}

/* Send and free a serialized message; a NULL text (out of memory) is dropped. */
static void put(struct iw_hub *h, struct iw_hub_conn *c, char *txt)
{
	/* Our JSON text never holds a raw NUL (jansson and msg.c escape it), so strlen is its length. */
	if (txt && c && !c->closing)
		out(h, c, txt, strlen(txt));
	free(txt);
}

static void send_error(struct iw_hub *h, struct iw_hub_conn *c, enum iw_msg_err e, const char *why,
		       const struct iw_msg_ref *ref, uint64_t now_ms)
{
	size_t len = 0;
	h->st.errors[e]++;
	put(h, c, iw_msg_error(e, why, ref, &len));
	/* Sustained abuse closes the connection; the occasional mistake does not. */
	if (now_ms - c->strikes_ms >= STRIKE_WINDOW_MS) {
		c->strikes = 0;
		c->strikes_ms = now_ms;
	}
	if (++c->strikes > h->cfg.max_strikes && !c->closing) {
		h->st.abuse_closes++;
		c->closing = true;
		h->ops.close(h->ops.arg, c, IW_CLOSE_POLICY, "too many bad messages");
	}
}

/* An error that is nobody's fault (a race with a peer leaving, or the server's own action):
 * answered and counted by code, but no strike toward max-errors. */
static void send_notice(struct iw_hub *h, struct iw_hub_conn *c, enum iw_msg_err e, const char *why,
			const struct iw_msg_ref *ref)
{
	size_t len = 0;
	h->st.errors[e]++;
	h->st.errors_excused++;
	put(h, c, iw_msg_error(e, why, ref, &len));
}

/* `to` is in no list of the room: a peer that just left is a race, anything else a strike. */
static void no_such_peer(struct iw_hub *h, struct iw_hub_conn *c, const struct iw_msg *m, uint64_t now_ms)
{
	if (gone_has(h, c->peer->room->name, m->to))
		send_notice(h, c, IW_ERR_UNKNOWN_PEER, "that peer has left the room", &m->id);
	else
		send_error(h, c, IW_ERR_UNKNOWN_PEER, "no such peer in this room", &m->id, now_ms);
}

void iw_hub_reject(struct iw_hub *h, struct iw_hub_conn *c, enum iw_msg_err e, const char *why,
		   uint64_t now_ms)
{
	send_error(h, c, e, why, NULL, now_ms);
}

/* Send txt to every connected peer of room r except `except`. */
static void broadcast(struct iw_hub *h, struct iw_room *r, const struct iw_peer *except, char *txt)
{
	size_t len = txt ? strlen(txt) : 0;
	if (!txt)
		return;
	/* A peer still joining learns the room from its welcome, built later. */
	for (struct iw_peer *p = r->peers; p; p = p->next)
		if (p != except && p->conn && !((struct iw_hub_conn *)p->conn)->joining)
			out(h, p->conn, txt, len);
	free(txt);
}

static void announce_left(struct iw_hub *h, struct iw_peer *p)
{
	size_t len = 0;
	gone_add(h, p->room->name, p->id);
	broadcast(h, p->room, p, iw_msg_presence(false, p->id, &len));
	if (h->ops.cl_leave)
		h->ops.cl_leave(h->ops.arg, p->room->name, p->id);
}

static void on_expire(void *arg, struct iw_peer *p)
{
	struct iw_hub *h = arg;
	h->st.expired++;
	announce_left(h, p);
}

static bool take_token(struct iw_hub *h, struct iw_hub_conn *c, uint64_t now_ms)
{
	double add = (double)(now_ms - c->tokens_ms) * h->cfg.msg_rate / 1000.0;
	c->tokens_ms = now_ms;
	c->tokens += add;
	if (c->tokens > h->cfg.msg_burst)
		c->tokens = h->cfg.msg_burst;
	if (c->tokens < 1.0)
		return false;
	c->tokens -= 1.0;
	return true;
}

static void finish_join(struct iw_hub *h, struct iw_hub_conn *c, struct iw_peer *p, bool resumed)
{
	const struct iw_room *r = p->room;
	const char **peers = malloc((r->n_peers + r->n_remote) * sizeof *peers + 1);
	struct iw_ice_servers ice;
	size_t len = 0, n = 0;

	c->joining = false;
	c->resumed = resumed;
	/* Counted once the join is complete, here and only here. */
	if (resumed)
		h->st.resumes++;
	else
		h->st.joins++;
	for (const struct iw_peer *q = r->peers; peers && q; q = q->next)
		if (q != p)
			peers[n++] = q->id;
	for (const struct iw_remote_peer *q = r->remote; peers && q; q = q->next)
		peers[n++] = q->id;
	iw_ice_servers_get(&h->cfg.ice, p->id, time(NULL), &ice);
	put(h, c, iw_msg_welcome(r->name, p->id, p->resume, resumed, peers, n, &ice, &len));
	free(peers);
	/* A resumed peer was never announced as gone, so there is nothing to re-announce. */
	if (!resumed)
		broadcast(h, p->room, p, iw_msg_presence(true, p->id, &len));
}

/* Add or update what we know of a remote peer. 0 when it is new (announce it), 1 when it was
 * known (moved quietly if inst changed), < 0 when refused. */
static int remote_put(struct iw_hub *h, struct iw_room *r, const char *id, const char *inst)
{
	struct iw_remote_peer *q = iw_room_remote_find(r, id);
	if (q) {
		if (strlen(inst) <= IW_ROOM_ID_MAX)
			strcpy(q->inst, inst);
		return 1;
	}
	return iw_room_remote_add(h->rooms, r, id, inst);
}

/* The join's wait state, allocated on first use; NULL when out of memory. */
static struct iw_hub_join_wait *wait_get(struct iw_hub_conn *c)
{
	if (!c->wait)
		c->wait = calloc(1, sizeof *c->wait);
	return c->wait;
}

static const char *moved_from(const struct iw_hub_conn *c)
{
	return c->wait ? c->wait->moved_from : "";
}

/* The join's "id" for an error answer (none when the join kept no wait state). */
static struct iw_msg_ref wait_ref(const struct iw_hub_conn *c)
{
	return c->wait ? c->wait->ref : (struct iw_msg_ref){ .kind = IW_MSG_REF_NONE };
}

static void wait_end(struct iw_hub_conn *c)
{
	free(c->wait);
	c->wait = NULL;
}

/* Put back the remote entry that a refused cross-instance resume stepped aside from. */
static void unstep(struct iw_hub *h, struct iw_hub_conn *c, const char *room, const char *id)
{
	struct iw_room *r = iw_room_find(h->rooms, room);
	if (r && moved_from(c)[0])
		remote_put(h, r, id, moved_from(c));
	if (c->wait)
		c->wait->moved_from[0] = '\0';
}

/* The id a join asks for, within what the connection's token allows: 0 with *want (NULL: the
 * server picks one), or < 0 after answering with the error. */
static int join_allowed(struct iw_hub *h, struct iw_hub_conn *c, const struct iw_msg *m, const char **want,
			uint64_t now_ms)
{
	*want = m->peer;
	if (c->peer) {
		send_error(h, c, IW_ERR_ALREADY_JOINED, "already joined a room (send leave first)", &m->id,
			   now_ms);
		return -EALREADY;
	}
	if (!c->claims)
		return 0;
	if (strcmp(m->room, c->claims->room) != 0 ||
	    (c->claims->peer[0] && *want && strcmp(*want, c->claims->peer) != 0)) {
		send_error(h, c, IW_ERR_UNAUTHORIZED, "the access token does not allow this room or peer id",
			   &m->id, now_ms);
		return -EACCES;
	}
	if (c->claims->peer[0])
		*want = c->claims->peer;
	return 0;
}

/* A resume of an id that lives on another instance: the token is checked there through Redis,
 * so the room's remote entry steps aside until the answer comes (unstep puts it back). */
static void step_aside(struct iw_hub *h, struct iw_hub_conn *c, const struct iw_msg *m, const char *want)
{
	if (c->wait)
		c->wait->moved_from[0] = '\0';
	c->claiming = want && m->resume && h->ops.cl_member_join;
	if (c->claiming) {
		struct iw_room *r = iw_room_find(h->rooms, m->room);
		struct iw_remote_peer *rp = r ? iw_room_remote_find(r, want) : NULL;
		/* Out of memory, the remote entry stays where it is. */
		struct iw_hub_join_wait *jw = rp ? wait_get(c) : NULL;
		if (jw) {
			snprintf(jw->moved_from, sizeof jw->moved_from, "%s", rp->inst);
			iw_room_remote_remove(r, want);
		}
	}
}

static enum iw_msg_err join_error(int rc)
{
	return rc == -ENOSPC    ? IW_ERR_ROOM_FULL
	       : rc == -ENOBUFS ? IW_ERR_TOO_MANY_ROOMS
	       : rc == -EEXIST  ? IW_ERR_PEER_ID_TAKEN
	       : rc == -EINVAL  ? IW_ERR_BAD_FIELD
				: IW_ERR_INTERNAL;
}

/* A local resume took the id over from old: that connection is closed. */
static void replace_conn(struct iw_hub *h, struct iw_hub_conn *old)
{
	old->peer = NULL;
	h->st.replaced++;
	if (!old->closing) {
		old->closing = true;
		h->ops.close(h->ops.arg, old, IW_CLOSE_REPLACED, "peer id resumed by a new connection");
	}
}

enum join_next { JOIN_FINISH, JOIN_WAIT, JOIN_DROPPED };

/* Tell the other instances about the new local peer p. JOIN_WAIT: the welcome waits for
 * their answer (iw_hub_cluster_joined). JOIN_FINISH: nothing to wait for (a single instance, a
 * local resume, or a request that could not be queued: the join stays local). JOIN_DROPPED: a
 * local copy of an id held elsewhere could not be checked, so it was removed and answered. */
static enum join_next join_cluster(struct iw_hub *h, struct iw_hub_conn *c, const struct iw_msg *m,
				   struct iw_peer *p, bool resumed)
{
	size_t len = 0;
	int rc;

	if (h->ops.cl_member_join) {
		const char *claim = c->claiming && !resumed ? m->resume : NULL;
		rc = h->ops.cl_member_join(h->ops.arg, p->room->name, p->id, p->resume, claim,
					   h->cfg.rooms.max_peers);
		/* A local resume only refreshes the token in Redis; it does not wait. */
		if (resumed)
			return JOIN_FINISH;
		if (rc == 0)
			return JOIN_WAIT;
		if (!moved_from(c)[0])
			return JOIN_FINISH;
		/* A local copy of an id held elsewhere must not stand alone. */
		char id[IW_ROOM_ID_MAX + 1];
		strcpy(id, p->id);
		c->peer = NULL;
		iw_room_peer_remove(h->rooms, p);
		unstep(h, c, m->room, id);
		h->st.errors[IW_ERR_UNAVAILABLE]++;
		put(h, c,
		    iw_msg_error(IW_ERR_UNAVAILABLE, "cannot reach the other instances now; retry", &m->id,
				 &len));
		return JOIN_DROPPED;
	}
	if (!resumed && h->ops.cl_join && h->ops.cl_join(h->ops.arg, p->room->name, p->id) == 0)
		return JOIN_WAIT;
	return JOIN_FINISH;
}

/* A join: check it against the token, join locally (a resume of an id on another instance
 * first steps its remote entry aside), then register with the other instances, and welcome
 * now or once they answered. */
static void do_join(struct iw_hub *h, struct iw_hub_conn *c, const struct iw_msg *m, uint64_t now_ms)
{
	struct iw_room_join_res res;
	const char *why = NULL, *want;
	int rc;

	if (join_allowed(h, c, m, &want, now_ms) < 0)
		return;
	if (want && m->resume && kicked_has(h, m->room, want)) {
		h->st.kicked_resume_refused++;
		send_error(h, c, IW_ERR_UNAUTHORIZED,
			   "this peer was disconnected by the operator: its resume token is void", &m->id,
			   now_ms);
		return;
	}
	step_aside(h, c, m, want);
	rc = iw_room_join(h->rooms, m->room, want, m->resume, c, &res, &why);
	if (rc < 0) {
		if (moved_from(c)[0])
			unstep(h, c, m->room, want);
		wait_end(c);
		send_error(h, c, join_error(rc), why, &m->id, now_ms);
		return;
	}
	if (res.replaced_conn)
		replace_conn(h, res.replaced_conn);
	c->peer = res.peer;
	switch (join_cluster(h, c, m, res.peer, res.resumed)) {
	case JOIN_WAIT: {
		/* Out of memory, an error answer to this join goes without its "id". */
		struct iw_hub_join_wait *jw = wait_get(c);
		c->joining = true;
		if (jw)
			jw->ref = m->id;
		break;
	}
	case JOIN_FINISH:
		wait_end(c);
		finish_join(h, c, res.peer, res.resumed);
		break;
	case JOIN_DROPPED:
		wait_end(c);
		break;
	}
}

/* A peer still waiting for its welcome was never announced: it goes without a peer-left,
 * and its pending join is forgotten (a late answer finds no such peer and is ignored). */
static bool leave_unannounced(struct iw_hub *h, struct iw_hub_conn *c, struct iw_peer *p)
{
	if (!c->joining)
		return false;
	c->joining = false;
	unstep(h, c, p->room->name, p->id);
	wait_end(c);
	if (h->ops.cl_leave)
		h->ops.cl_leave(h->ops.arg, p->room->name, p->id);
	iw_room_peer_remove(h->rooms, p);
	return true;
}

static void do_leave(struct iw_hub *h, struct iw_hub_conn *c)
{
	struct iw_peer *p = c->peer;
	if (!p)
		return;
	c->peer = NULL;
	if (leave_unannounced(h, c, p))
		return;
	h->st.leaves++;
	announce_left(h, p);
	iw_room_peer_remove(h->rooms, p);
}

static void forward_remote(struct iw_hub *h, struct iw_hub_conn *c, const struct iw_msg *m, uint64_t now_ms)
{
	struct iw_remote_peer *rp = iw_room_remote_find(c->peer->room, m->to);
	size_t len = 0;
	char *txt;
	int rc;

	if (!rp) {
		no_such_peer(h, c, m, now_ms);
		return;
	}
	txt = iw_msg_forward(m, c->peer->id, &len);
	if (!txt) {
		send_error(h, c, IW_ERR_INTERNAL, "out of memory", &m->id, now_ms);
		return;
	}
	rc = h->ops.cl_send(h->ops.arg, rp->inst, c->peer->room->name, m->to, c->peer->id, txt, len);
	free(txt);
	if (rc < 0) {
		h->st.remote_failed++;
		h->st.errors[IW_ERR_UNAVAILABLE]++;
		/* Not the sender's fault: no strike. */
		put(h, c,
		    iw_msg_error(IW_ERR_UNAVAILABLE,
				 "that peer is on another instance, which cannot be reached now", &m->id,
				 &len));
		return;
	}
	h->st.relayed[m->type]++;
	h->st.remote_sent++;
}

static void do_forward(struct iw_hub *h, struct iw_hub_conn *c, const struct iw_msg *m, uint64_t now_ms)
{
	struct iw_peer *to;
	size_t len = 0;

	if (strcmp(m->to, c->peer->id) == 0) {
		send_error(h, c, IW_ERR_BAD_FIELD, "to names the sender", &m->id, now_ms);
		return;
	}
	to = iw_room_peer_find(c->peer->room, m->to);
	if (!to && h->ops.cl_send) {
		forward_remote(h, c, m, now_ms);
		return;
	}
	if (!to) {
		no_such_peer(h, c, m, now_ms);
		return;
	}
	if (!to->conn) {
		/* Dropped (by the server too, e.g. as a slow reader) and within its resume grace. */
		send_notice(h, c, IW_ERR_UNKNOWN_PEER, "that peer is reconnecting; try again", &m->id);
		return;
	}
	char *txt = iw_msg_forward(m, c->peer->id, &len);
	if (!txt) {
		send_error(h, c, IW_ERR_INTERNAL, "out of memory", &m->id, now_ms);
		return;
	}
	h->st.relayed[m->type]++;
	put(h, to->conn, txt);
}

void iw_hub_receive(struct iw_hub *h, struct iw_hub_conn *c, const char *buf, size_t len, uint64_t now_ms)
{
	struct iw_msg m;
	enum iw_msg_err err;
	const char *why = NULL;
	size_t olen = 0;

	h->now_ms = now_ms;
	if (c->closing)
		return;
	c->msgs_in++;
	if (!take_token(h, c, now_ms)) {
		send_error(h, c, IW_ERR_RATE_LIMITED, "too many messages per second; slow down", NULL,
			   now_ms);
		return;
	}
	if (iw_msg_parse(&m, buf, len, &err, &why) < 0) {
		send_error(h, c, err, why, &m.id, now_ms);
		iw_msg_fini(&m);
		return;
	}
	if (m.type == IW_MSG_JOIN) {
		do_join(h, c, &m, now_ms);
	} else if (m.type == IW_MSG_PING) {
		put(h, c, iw_msg_pong(&m.id, &olen));
	} else if (!c->peer) {
		send_error(h, c, IW_ERR_NOT_JOINED, "join a room first", &m.id, now_ms);
	} else if (m.type == IW_MSG_LEAVE) {
		do_leave(h, c);
	} else if (c->joining) {
		/* The room does not know this peer yet: nothing goes out before the welcome. */
		send_error(h, c, IW_ERR_NOT_JOINED, "wait for welcome before sending to peers", &m.id,
			   now_ms);
	} else {
		do_forward(h, c, &m, now_ms);
	}
	iw_msg_fini(&m);
}

void iw_hub_conn_gone(struct iw_hub *h, struct iw_hub_conn *c, bool leave_now, uint64_t now_ms)
{
	struct iw_peer *p = c->peer;
	h->now_ms = now_ms;
	c->closing = true;
	if (!p) {
		wait_end(c);
		return;
	}
	c->peer = NULL;
	if (leave_unannounced(h, c, p))
		return;
	wait_end(c);
	if (leave_now || h->cfg.rooms.grace_ms == 0) {
		h->st.leaves++;
		announce_left(h, p);
		iw_room_peer_remove(h->rooms, p);
		return;
	}
	iw_room_peer_detach(h->rooms, p, now_ms);
}

void iw_hub_tick(struct iw_hub *h, uint64_t now_ms)
{
	h->now_ms = now_ms;
	iw_room_sweep(h->rooms, now_ms, on_expire, h);
}

/* ---- the operator (admin API) ---- */

void iw_hub_peer_kick(struct iw_hub *h, struct iw_peer *p, int code, const char *reason, uint64_t now_ms)
{
	struct iw_hub_conn *c = p->conn;
	uint64_t k = gone_key(p->room->name, p->id);

	h->now_ms = now_ms;
	h->st.kicked++;
	recent_put(h->kicked[k % KICK_SETS], KICK_WAYS, k, now_ms);
	if (c) {
		c->peer = NULL;
		if (!c->closing) {
			c->closing = true;
			h->ops.close(h->ops.arg, c, code, reason);
		}
		if (leave_unannounced(h, c, p))
			return;
		wait_end(c);
	}
	/* A detached peer (within its grace) goes the same way: announced, its token gone. */
	announce_left(h, p);
	iw_room_peer_remove(h->rooms, p);
}

unsigned iw_hub_room_close(struct iw_hub *h, struct iw_room *r, uint64_t now_ms)
{
	unsigned n = r->n_peers;
	/* The last kick frees r: count down instead of reading r after it. */
	for (unsigned i = 0; i < n; i++)
		iw_hub_peer_kick(h, r->peers, IW_CLOSE_ROOM_CLOSED, "room closed by the operator", now_ms);
	return n;
}

/* ---- events from the other instances ---- */

static struct iw_peer *local_peer(struct iw_hub *h, const char *room, const char *id)
{
	struct iw_room *r = iw_room_find(h->rooms, room);
	return r ? iw_room_peer_find(r, id) : NULL;
}

void iw_hub_cluster_joined(struct iw_hub *h, const char *room, const char *peer, int status,
			   const struct iw_cluster_member *members, unsigned n, uint64_t now_ms)
{
	struct iw_peer *p = local_peer(h, room, peer);
	struct iw_hub_conn *c = p ? p->conn : NULL;
	size_t len = 0;

	h->now_ms = now_ms;
	/* Gone or replaced meanwhile: its leave is already queued behind the join. */
	if (!c || c->peer != p || !c->joining)
		return;
	if (status < 0) {
		struct iw_msg_ref ref = wait_ref(c);
		c->joining = false;
		c->peer = NULL;
		iw_room_peer_remove(h->rooms, p);
		unstep(h, c, room, peer);
		wait_end(c);
		if (status == -EAGAIN) {
			/* Not the client's fault: no strike. */
			h->st.errors[IW_ERR_UNAVAILABLE]++;
			put(h, c,
			    iw_msg_error(IW_ERR_UNAVAILABLE,
					 "cannot reach the other instances to resume; retry", &ref, &len));
		} else if (status == -ENOSPC)
			send_error(h, c, IW_ERR_ROOM_FULL, "room is full", &ref, now_ms);
		else
			send_error(h, c, IW_ERR_PEER_ID_TAKEN,
				   c->claiming ? "peer id is taken and the resume token does not match"
					       : "peer id is taken (on another instance)",
				   &ref, now_ms);
		return;
	}
	for (unsigned i = 0; i < n; i++)
		remote_put(h, p->room, members[i].peer, members[i].inst);
	wait_end(c);
	if (status > 0) {
		/* Resumed from another instance: nobody saw it leave, so nobody sees it join. */
		h->st.moved_in++;
	}
	finish_join(h, c, p, status > 0);
}

/* Our peer p resumed on instance inst: drop it here without a peer-left (the room never saw
 * it go), and keep it as a remote peer for the rest of the room. */
static void moved_away(struct iw_hub *h, struct iw_peer *p, const char *inst)
{
	struct iw_hub_conn *c = p->conn;
	char room[IW_ROOM_ID_MAX + 1], id[IW_ROOM_ID_MAX + 1];
	struct iw_room *r;
	size_t len = 0;

	strcpy(room, p->room->name);
	strcpy(id, p->id);
	h->st.moved_out++;
	moved_add(h, room, id, inst);
	if (c) {
		c->peer = NULL;
		if (c->joining) {
			/* Our own claim lost the race for the id. */
			struct iw_msg_ref ref = wait_ref(c);
			c->joining = false;
			wait_end(c);
			h->st.errors[IW_ERR_PEER_ID_TAKEN]++;
			put(h, c,
			    iw_msg_error(IW_ERR_PEER_ID_TAKEN, "peer id was taken over meanwhile", &ref,
					 &len));
		} else if (!c->closing) {
			h->st.replaced++;
			c->closing = true;
			h->ops.close(h->ops.arg, c, IW_CLOSE_REPLACED, "peer id resumed by a new connection");
		}
	}
	iw_room_peer_remove(h->rooms, p);
	/* Forget it in the cluster's list of ours; Redis keeps the new owner. */
	if (h->ops.cl_leave)
		h->ops.cl_leave(h->ops.arg, room, id);
	r = iw_room_find(h->rooms, room);
	if (r)
		remote_put(h, r, id, inst);
}

void iw_hub_cluster_presence(struct iw_hub *h, const char *room, const char *peer, const char *inst)
{
	struct iw_room *r = iw_room_find(h->rooms, room);
	struct iw_peer *p;
	size_t len = 0;

	if (!r)
		return;
	if (inst && (p = iw_room_peer_find(r, peer))) {
		moved_away(h, p, inst);
	} else if (inst) {
		if (remote_put(h, r, peer, inst) == 0)
			broadcast(h, r, NULL, iw_msg_presence(true, peer, &len));
	} else if (iw_room_remote_remove(r, peer)) {
		gone_add(h, room, peer);
		broadcast(h, r, NULL, iw_msg_presence(false, peer, &len));
	}
}

void iw_hub_cluster_deliver(struct iw_hub *h, const char *room, const char *to, const char *from,
			    const char *from_inst, const char *txt, size_t len)
{
	struct iw_peer *p = local_peer(h, room, to);
	size_t elen = 0;
	char *err;

	h->st.remote_received++;
	if (p && p->conn) {
		struct iw_hub_conn *c = p->conn;
		if (!c->closing)
			out(h, c, txt, len);
		return;
	}
	if (from[0] == '\0' || !h->ops.cl_send)
		return;
	/* It resumed on another instance before the sender's instance heard of the move: pass it
	 * on, unchanged, to where it is now (never back where it came from, so no two stale views
	 * can bounce it between them). */
	if (!p) {
		struct iw_room *r = iw_room_find(h->rooms, room);
		struct iw_remote_peer *rp = r ? iw_room_remote_find(r, to) : NULL;
		/* The room may be gone here with it (it was our last peer in it). */
		const char *inst = rp ? rp->inst : moved_to(h, room, to);
		if (inst && strcmp(inst, from_inst) != 0) {
			h->st.remote_passed_on++;
			h->ops.cl_send(h->ops.arg, inst, room, to, from, txt, len);
			return;
		}
	}
	/* Not here (left, or reconnecting): the sender hears it like a local miss would. */
	err = iw_msg_error(IW_ERR_UNKNOWN_PEER,
			   p ? "that peer is reconnecting; try again" : "no such peer in this room", NULL,
			   &elen);
	if (err)
		h->ops.cl_send(h->ops.arg, from_inst, room, from, "", err, elen);
	free(err);
}

void iw_hub_cluster_send_failed(struct iw_hub *h, const char *room, const char *from, const char *to,
				uint64_t now_ms)
{
	struct iw_peer *p = local_peer(h, room, from);
	size_t len = 0;

	(void)now_ms;
	(void)to;
	h->st.remote_failed++;
	if (!p || !p->conn)
		return;
	h->st.errors[IW_ERR_UNAVAILABLE]++;
	put(h, p->conn,
	    iw_msg_error(IW_ERR_UNAVAILABLE, "that peer is on another instance, which cannot be reached now",
			 NULL, &len));
}

void iw_hub_cluster_event(struct iw_hub *h, const struct iw_cluster_ev *e, uint64_t now_ms)
{
	switch (e->kind) {
	case IW_CLUSTER_JOINED:
		iw_hub_cluster_joined(h, e->room, e->peer, e->status, e->members, e->n_members, now_ms);
		break;
	case IW_CLUSTER_PEER_JOINED:
		iw_hub_cluster_presence(h, e->room, e->peer, e->inst);
		break;
	case IW_CLUSTER_PEER_LEFT:
		iw_hub_cluster_presence(h, e->room, e->peer, NULL);
		break;
	case IW_CLUSTER_DELIVER:
		iw_hub_cluster_deliver(h, e->room, e->peer, e->other, e->inst, e->text, e->len);
		break;
	case IW_CLUSTER_SEND_FAILED:
		iw_hub_cluster_send_failed(h, e->room, e->peer, e->other, now_ms);
		break;
	}
}
