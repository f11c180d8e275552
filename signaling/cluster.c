/* Signaling over Redis: one thread owns both hiredis connections (commands; the subscription
 * to this instance's channel). Requests come in and events go out through bounded rings under
 * one mutex. Order between two peers holds because one thread publishes in queue order on one
 * connection and Redis delivers a channel's messages in publish order.
 *
 * Keys (in the configured db): iw:room:<room> hash peer -> instance, refreshed with an expiry
 * while an instance has peers in it; iw:live:<inst> with a TTL refreshed every beat. An
 * instance whose live key is gone is dead: whoever sweeping the room first removes its peers
 * (HDEL decides who) and tells every instance in the room. */
#include "signaling/cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

enum {
	ROOM_TTL_MS = 60000,
	BACKOFF_MIN_MS = 100,
	BACKOFF_MAX_MS = 5000,
	OPS_PER_TURN = 1024, /* then beats and the subscription get their turn */
	LOCALS_MAX = 1 << 20,
	IO_TIMEOUT_S = 1, /* a command slower than this counts as Redis down */
};

enum op_kind { OP_JOIN, OP_LEAVE, OP_SEND };

struct op {
	enum op_kind kind;
	char room[IW_ROOM_ID_MAX + 1];
	char peer[IW_ROOM_ID_MAX + 1];
	char to[IW_ROOM_ID_MAX + 1];
	char inst[IW_ROOM_ID_MAX + 1];
	char *text;
	size_t len;
};

struct ring {
	void **slot;
	unsigned int head, n, cap;
};

struct local {
	char room[IW_ROOM_ID_MAX + 1];
	char peer[IW_ROOM_ID_MAX + 1];
};

struct iw_cluster {
	char host[256];
	int port, db;
	char inst[IW_ROOM_ID_MAX + 1];
	char chan_prefix[32];
	char chan[96];
	void (*wake)(void *);
	void *wake_arg;
	pthread_t th;
	bool th_started;
	int pipe_fd[2];
	atomic_bool stop;
	atomic_bool up;

	pthread_mutex_t mu; /* guards the rings and st */
	struct ring ops, evs;
	struct iw_cluster_stats st;

	/* Redis thread only */
	redisContext *cmd, *sub;
	uint64_t next_try_ms, backoff_ms, next_beat_ms, sweep_from_ms;
	bool reregister, ever_up;
	struct local *locals;
	size_t n_locals, cap_locals;
	bool evs_pushed;
};

static const char join_lua[] = "local ok = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) "
			       "if ok == 0 then "
			       "  local cur = redis.call('HGET', KEYS[1], ARGV[1]) "
			       "  if cur == ARGV[2] or redis.call('EXISTS', ARGV[4] .. cur) == 0 then "
			       "    redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) ok = 1 end "
			       "end "
			       "redis.call('PEXPIRE', KEYS[1], ARGV[3]) "
			       "return {ok, redis.call('HGETALL', KEYS[1])}";

/* Remove peer only while it is still ours (or the dead instance's); then who is left. */
static const char leave_lua[] = "if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return false end "
				"redis.call('HDEL', KEYS[1], ARGV[1]) "
				"return redis.call('HVALS', KEYS[1])";

/* ---- rings ---- */

static int ring_init(struct ring *r, unsigned int cap)
{
	r->slot = calloc(cap, sizeof(*r->slot));
	r->cap = cap;
	r->head = r->n = 0;
	return r->slot ? 0 : -ENOMEM;
}

static bool ring_push(struct ring *r, void *x)
{
	if (r->n == r->cap)
		return false;
	r->slot[(r->head + r->n++) % r->cap] = x;
	return true;
}

static void *ring_pop(struct ring *r)
{
	void *x;
	if (!r->n)
		return NULL;
	x = r->slot[r->head];
	r->head = (r->head + 1) % r->cap;
	r->n--;
	return x;
}

static void op_free(struct op *o)
{
	if (o)
		free(o->text);
	free(o);
}

void iw_cluster_ev_fini(struct iw_cluster_ev *ev)
{
	json_decref(ev->members);
	free(ev->text);
	ev->members = NULL;
	ev->text = NULL;
}

/* ---- service thread side ---- */

static void wake_thread(struct iw_cluster *cl)
{
	char b = 1;
	/* A full pipe already means the thread will wake. */
	if (write(cl->pipe_fd[1], &b, 1) < 0)
		return;
}

static int push_op(struct iw_cluster *cl, struct op *o)
{
	bool ok;
	pthread_mutex_lock(&cl->mu);
	ok = ring_push(&cl->ops, o);
	if (!ok)
		cl->st.ops_dropped++;
	pthread_mutex_unlock(&cl->mu);
	if (!ok) {
		op_free(o);
		return -ENOBUFS;
	}
	wake_thread(cl);
	return 0;
}

static struct op *op_new(enum op_kind k, const char *room, const char *peer)
{
	struct op *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->kind = k;
	snprintf(o->room, sizeof(o->room), "%s", room);
	snprintf(o->peer, sizeof(o->peer), "%s", peer);
	return o;
}

int iw_cluster_join(struct iw_cluster *cl, const char *room, const char *peer)
{
	struct op *o = op_new(OP_JOIN, room, peer);
	return o ? push_op(cl, o) : -ENOMEM;
}

int iw_cluster_leave(struct iw_cluster *cl, const char *room, const char *peer)
{
	struct op *o = op_new(OP_LEAVE, room, peer);
	return o ? push_op(cl, o) : -ENOMEM;
}

int iw_cluster_send(struct iw_cluster *cl, const char *inst, const char *room, const char *to,
		    const char *from, const char *text, size_t len)
{
	struct op *o;
	if (!atomic_load(&cl->up))
		return -ENOTCONN;
	o = op_new(OP_SEND, room, from);
	if (!o)
		return -ENOMEM;
	snprintf(o->to, sizeof(o->to), "%s", to);
	snprintf(o->inst, sizeof(o->inst), "%s", inst);
	o->text = malloc(len + 1);
	if (!o->text) {
		op_free(o);
		return -ENOMEM;
	}
	memcpy(o->text, text, len);
	o->text[len] = '\0';
	o->len = len;
	return push_op(cl, o);
}

unsigned int iw_cluster_poll(struct iw_cluster *cl, struct iw_cluster_ev *evs, unsigned int max)
{
	unsigned int n = 0;
	pthread_mutex_lock(&cl->mu);
	while (n < max) {
		struct iw_cluster_ev *e = ring_pop(&cl->evs);
		if (!e)
			break;
		evs[n++] = *e;
		free(e);
	}
	pthread_mutex_unlock(&cl->mu);
	return n;
}

void iw_cluster_stats_get(struct iw_cluster *cl, struct iw_cluster_stats *out)
{
	pthread_mutex_lock(&cl->mu);
	*out = cl->st;
	pthread_mutex_unlock(&cl->mu);
	out->up = atomic_load(&cl->up);
}

const char *iw_cluster_instance(const struct iw_cluster *cl)
{
	return cl->inst;
}

/* ---- Redis thread side ---- */

static void push_ev(struct iw_cluster *cl, struct iw_cluster_ev *e)
{
	struct iw_cluster_ev *x = malloc(sizeof(*x));
	bool ok = false;
	if (x) {
		*x = *e;
		pthread_mutex_lock(&cl->mu);
		ok = ring_push(&cl->evs, x);
		if (!ok)
			cl->st.events_dropped++;
		pthread_mutex_unlock(&cl->mu);
	}
	if (!ok) {
		iw_cluster_ev_fini(e);
		free(x);
		return;
	}
	cl->evs_pushed = true;
}

static void ev_simple(struct iw_cluster *cl, enum iw_cluster_ev_kind k, const char *room, const char *peer,
		      const char *other, const char *inst)
{
	struct iw_cluster_ev e = { .kind = k };
	snprintf(e.room, sizeof(e.room), "%s", room);
	snprintf(e.peer, sizeof(e.peer), "%s", peer ? peer : "");
	snprintf(e.other, sizeof(e.other), "%s", other ? other : "");
	snprintf(e.inst, sizeof(e.inst), "%s", inst ? inst : "");
	push_ev(cl, &e);
}

static void count(struct iw_cluster *cl, uint64_t *field)
{
	pthread_mutex_lock(&cl->mu);
	(*field)++;
	pthread_mutex_unlock(&cl->mu);
}

static void disconnect(struct iw_cluster *cl, const char *why)
{
	if (cl->cmd || cl->sub)
		IW_WARN("redis: connection lost (%s); cross-instance signaling unavailable", why);
	if (cl->cmd)
		redisFree(cl->cmd);
	if (cl->sub)
		redisFree(cl->sub);
	cl->cmd = cl->sub = NULL;
	atomic_store(&cl->up, false);
	cl->next_try_ms = iw_clock_ms() + cl->backoff_ms;
	cl->backoff_ms = cl->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : cl->backoff_ms * 2;
}

static redisContext *open_ctx(struct iw_cluster *cl)
{
	struct timeval tv = { IO_TIMEOUT_S, 0 };
	redisContext *c = redisConnectWithTimeout(cl->host, cl->port, tv);
	if (!c || c->err) {
		if (c)
			redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	return c;
}

static void try_connect(struct iw_cluster *cl)
{
	redisReply *r;
	char db[16];
	const char *argv[2];

	cl->cmd = open_ctx(cl);
	cl->sub = cl->cmd ? open_ctx(cl) : NULL;
	if (!cl->sub)
		goto fail;
	snprintf(db, sizeof(db), "%d", cl->db);
	argv[0] = "SELECT";
	argv[1] = db;
	r = redisCommandArgv(cl->cmd, 2, argv, NULL);
	if (!r || r->type == REDIS_REPLY_ERROR)
		goto fail_r;
	freeReplyObject(r);
	argv[0] = "SUBSCRIBE";
	argv[1] = cl->chan;
	r = redisCommandArgv(cl->sub, 2, argv, NULL);
	if (!r || r->type != REDIS_REPLY_ARRAY)
		goto fail_r;
	freeReplyObject(r);
	atomic_store(&cl->up, true);
	count(cl, &cl->st.reconnects);
	cl->backoff_ms = BACKOFF_MIN_MS;
	cl->next_beat_ms = 0;
	cl->reregister = true;
	/* After an outage, give every instance a TTL plus its longest reconnect backoff to
	 * re-announce itself before judging anyone dead (Redis may have restarted empty, or
	 * stalled past the TTLs). The first connection needs no grace. */
	cl->sweep_from_ms = cl->ever_up ? iw_clock_ms() + IW_CLUSTER_LIVE_TTL_MS + BACKOFF_MAX_MS : 0;
	cl->ever_up = true;
	IW_INFO("redis: connected to %s:%d/%d as instance %s", cl->host, cl->port, cl->db, cl->inst);
	return;
fail_r:
	if (r)
		freeReplyObject(r);
fail:
	if (cl->cmd || cl->sub) {
		disconnect(cl, "handshake failed");
	} else {
		if (!cl->ever_up && cl->backoff_ms == BACKOFF_MIN_MS)
			IW_WARN("redis: cannot connect to %s:%d; local rooms only until it answers", cl->host,
				cl->port);
		atomic_store(&cl->up, false);
		cl->next_try_ms = iw_clock_ms() + cl->backoff_ms;
		cl->backoff_ms = cl->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : cl->backoff_ms * 2;
	}
}

/* One command; NULL (and the connection dropped) on an I/O error or timeout. */
static redisReply *command(struct iw_cluster *cl, int argc, const char **argv, const size_t *lens)
{
	redisReply *r = redisCommandArgv(cl->cmd, argc, argv, lens);
	if (!r) {
		disconnect(cl, cl->cmd->errstr);
		return NULL;
	}
	return r;
}

static void room_key(char *out, size_t cap, const char *room)
{
	snprintf(out, cap, "iw:room:%s", room);
}

static int publish(struct iw_cluster *cl, const char *inst, json_t *msg)
{
	char chan[96], *txt = json_dumps(msg, JSON_COMPACT);
	const char *argv[3] = { "PUBLISH", chan, txt };
	redisReply *r;
	int rc = -EIO;

	if (!txt)
		return -ENOMEM;
	snprintf(chan, sizeof(chan), "%s%s", cl->chan_prefix, inst);
	r = command(cl, 3, argv, NULL);
	if (r) {
		/* Nobody subscribed: that instance is gone. */
		rc = r->type == REDIS_REPLY_INTEGER && r->integer > 0 ? 0 : -ENOENT;
		freeReplyObject(r);
		count(cl, &cl->st.published);
	}
	free(txt);
	return rc;
}

/* Publish msg once to each distinct instance in vals (an array reply: every element from
 * `first` on, `step` apart), except ours. */
static void publish_to_all(struct iw_cluster *cl, redisReply *vals, size_t first, size_t step, json_t *msg)
{
	json_t *seen = json_object();
	for (size_t i = first; seen && i < vals->elements && cl->cmd; i += step) {
		const char *inst = vals->element[i]->str;
		if (!inst || strcmp(inst, cl->inst) == 0 || json_object_get(seen, inst))
			continue;
		json_object_set_new(seen, inst, json_true());
		publish(cl, inst, msg);
	}
	json_decref(seen);
}

static void locals_add(struct iw_cluster *cl, const char *room, const char *peer)
{
	if (cl->n_locals == cl->cap_locals) {
		size_t nc = cl->cap_locals ? cl->cap_locals * 2 : 64;
		struct local *nl;
		if (nc > LOCALS_MAX || !(nl = realloc(cl->locals, nc * sizeof(*nl)))) {
			IW_WARN("redis: too many local peers to track; %s/%s not refreshed", room, peer);
			return;
		}
		cl->locals = nl;
		cl->cap_locals = nc;
	}
	snprintf(cl->locals[cl->n_locals].room, IW_ROOM_ID_MAX + 1, "%s", room);
	snprintf(cl->locals[cl->n_locals].peer, IW_ROOM_ID_MAX + 1, "%s", peer);
	cl->n_locals++;
}

static void locals_remove(struct iw_cluster *cl, const char *room, const char *peer)
{
	for (size_t i = 0; i < cl->n_locals; i++) {
		if (strcmp(cl->locals[i].room, room) == 0 && strcmp(cl->locals[i].peer, peer) == 0) {
			cl->locals[i] = cl->locals[--cl->n_locals];
			return;
		}
	}
}

static void do_join(struct iw_cluster *cl, struct op *o)
{
	struct iw_cluster_ev e = { .kind = IW_CLUSTER_JOINED };
	char key[96], ttl[16], live[32];
	redisReply *r = NULL;
	bool ok = true;

	snprintf(e.room, sizeof(e.room), "%s", o->room);
	snprintf(e.peer, sizeof(e.peer), "%s", o->peer);
	e.members = json_object();
	if (cl->cmd) {
		const char *argv[] = { "EVAL", join_lua, "1", key, o->peer, cl->inst, ttl, live };
		room_key(key, sizeof(key), o->room);
		snprintf(ttl, sizeof(ttl), "%d", ROOM_TTL_MS);
		snprintf(live, sizeof(live), "iw:live:");
		r = command(cl, 8, argv, NULL);
	}
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[1]->type == REDIS_REPLY_ARRAY) {
		redisReply *kv = r->element[1];
		ok = r->element[0]->integer == 1;
		for (size_t i = 0; ok && e.members && i + 1 < kv->elements; i += 2) {
			const char *p = kv->element[i]->str, *inst = kv->element[i + 1]->str;
			if (p && inst && strcmp(inst, cl->inst) != 0)
				json_object_set_new(e.members, p, json_string(inst));
		}
		if (ok) {
			json_t *m = json_pack("{s:s, s:s, s:s, s:s}", "k", "j", "r", o->room, "p", o->peer,
					      "i", cl->inst);
			if (m)
				publish_to_all(cl, kv, 1, 2, m);
			json_decref(m);
		}
	} else if (r) {
		IW_WARN("redis: join script failed: %s", r->type == REDIS_REPLY_ERROR ? r->str : "?");
	}
	/* Without Redis the join is local only; the next beat after a reconnect registers it. */
	if (ok)
		locals_add(cl, o->room, o->peer);
	else
		e.status = -EEXIST;
	if (r)
		freeReplyObject(r);
	push_ev(cl, &e);
}

/* Remove peer (ours, or a dead instance's) and tell the others; true when this call did. */
static bool remove_member(struct iw_cluster *cl, const char *room, const char *peer, const char *inst)
{
	char key[96];
	const char *argv[] = { "EVAL", leave_lua, "1", key, peer, inst };
	redisReply *r;
	bool done = false;

	room_key(key, sizeof(key), room);
	r = command(cl, 6, argv, NULL);
	if (r && r->type == REDIS_REPLY_ARRAY) {
		json_t *m = json_pack("{s:s, s:s, s:s}", "k", "l", "r", room, "p", peer);
		if (m)
			publish_to_all(cl, r, 0, 1, m);
		json_decref(m);
		done = true;
	}
	if (r)
		freeReplyObject(r);
	return done;
}

static void do_leave(struct iw_cluster *cl, struct op *o)
{
	locals_remove(cl, o->room, o->peer);
	if (cl->cmd)
		remove_member(cl, o->room, o->peer, cl->inst);
}

static void do_send(struct iw_cluster *cl, struct op *o)
{
	json_t *m;
	int rc = -ENOTCONN;

	if (cl->cmd) {
		m = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s%}", "k", "m", "r", o->room, "t", o->to, "f",
			      o->peer, "i", cl->inst, "d", o->text, o->len);
		rc = m ? publish(cl, o->inst, m) : -ENOMEM;
		json_decref(m);
	}
	if (rc < 0) {
		count(cl, &cl->st.send_failed);
		ev_simple(cl, IW_CLUSTER_SEND_FAILED, o->room, o->peer, o->to, o->inst);
	}
}

static bool inst_alive(struct iw_cluster *cl, json_t *cache, const char *inst)
{
	json_t *v = json_object_get(cache, inst);
	char key[96];
	const char *argv[] = { "EXISTS", key };
	redisReply *r;
	bool alive = true; /* unknown counts as alive */

	if (v)
		return json_is_true(v);
	snprintf(key, sizeof(key), "iw:live:%s", inst);
	r = command(cl, 2, argv, NULL);
	if (r && r->type == REDIS_REPLY_INTEGER)
		alive = r->integer > 0;
	if (r)
		freeReplyObject(r);
	json_object_set_new(cache, inst, json_boolean(alive));
	return alive;
}

/* Remove the peers of dead instances from the rooms we have peers in. */
static void sweep(struct iw_cluster *cl, json_t *rooms)
{
	json_t *alive = json_object();
	const char *room;
	json_t *v;

	json_object_foreach(rooms, room, v)
	{
		char key[96];
		const char *argv[] = { "HGETALL", key };
		redisReply *r;
		if (!cl->cmd || !alive)
			break;
		room_key(key, sizeof(key), room);
		r = command(cl, 2, argv, NULL);
		for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
			const char *p = r->element[i]->str, *inst = r->element[i + 1]->str;
			if (!p || !inst || strcmp(inst, cl->inst) == 0 || inst_alive(cl, alive, inst))
				continue;
			if (!cl->cmd)
				break;
			if (remove_member(cl, room, p, inst)) {
				count(cl, &cl->st.peers_reaped);
				IW_INFO("redis: peer %s in room %s left with its instance %s", p, room, inst);
				ev_simple(cl, IW_CLUSTER_PEER_LEFT, room, p, NULL, inst);
			}
		}
		if (r)
			freeReplyObject(r);
	}
	json_decref(alive);
}

/* After a reconnect: presence may have changed while Redis was away. Learn who is in our
 * rooms now, and announce our peers to them, as a join would. Whoever re-registers later sees
 * the earlier ones, so every pair hears of each other. rooms: {room: [local peer ids]}. */
static void resync(struct iw_cluster *cl, json_t *rooms)
{
	const char *room;
	json_t *list;

	json_object_foreach(rooms, room, list)
	{
		char key[96];
		const char *argv[] = { "HGETALL", key };
		redisReply *r;
		size_t i;
		json_t *id;

		if (!cl->cmd)
			break;
		room_key(key, sizeof(key), room);
		r = command(cl, 2, argv, NULL);
		if (!r)
			break;
		for (i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
			const char *p = r->element[i]->str, *inst = r->element[i + 1]->str;
			if (p && inst && strcmp(inst, cl->inst) != 0 && strlen(p) <= IW_ROOM_ID_MAX &&
			    strlen(inst) <= IW_ROOM_ID_MAX)
				ev_simple(cl, IW_CLUSTER_PEER_JOINED, room, p, NULL, inst);
		}
		json_array_foreach(list, i, id)
		{
			json_t *m = json_pack("{s:s, s:s, s:O, s:s}", "k", "j", "r", room, "p", id, "i",
					      cl->inst);
			if (m && r->type == REDIS_REPLY_ARRAY)
				publish_to_all(cl, r, 1, 2, m);
			json_decref(m);
		}
		freeReplyObject(r);
	}
}

static void beat(struct iw_cluster *cl, uint64_t now)
{
	char key[96], ttl[16], live[96], live_ttl[16];
	const char *argv[5];
	json_t *rooms = json_object();
	redisReply *r;

	cl->next_beat_ms = now + IW_CLUSTER_BEAT_MS;
	snprintf(live, sizeof(live), "iw:live:%s", cl->inst);
	snprintf(live_ttl, sizeof(live_ttl), "%d", IW_CLUSTER_LIVE_TTL_MS);
	argv[0] = "SET";
	argv[1] = live;
	argv[2] = "1";
	argv[3] = "PX";
	argv[4] = live_ttl;
	r = command(cl, 5, argv, NULL);
	if (!r)
		goto out;
	freeReplyObject(r);
	snprintf(ttl, sizeof(ttl), "%d", ROOM_TTL_MS);
	for (size_t i = 0; rooms && i < cl->n_locals && cl->cmd; i++) {
		const struct local *l = &cl->locals[i];
		room_key(key, sizeof(key), l->room);
		if (cl->reregister) {
			/* After a reconnect (Redis may have restarted empty): our peers again. */
			const char *hs[] = { "HSET", key, l->peer, cl->inst };
			r = command(cl, 4, hs, NULL);
			if (r)
				freeReplyObject(r);
		}
		json_t *list = json_object_get(rooms, l->room);
		if (list) {
			json_array_append_new(list, json_string(l->peer));
			continue;
		}
		list = json_array();
		json_array_append_new(list, json_string(l->peer));
		json_object_set_new(rooms, l->room, list);
		const char *pe[] = { "PEXPIRE", key, ttl };
		r = command(cl, 3, pe, NULL);
		if (r)
			freeReplyObject(r);
	}
	if (!cl->cmd)
		goto out;
	if (cl->reregister)
		resync(cl, rooms);
	cl->reregister = false;
	if (now >= cl->sweep_from_ms)
		sweep(cl, rooms);
out:
	json_decref(rooms);
}

static void on_pubsub(struct iw_cluster *cl, redisReply *r)
{
	json_t *m;
	const char *k, *room, *peer, *to, *from, *inst, *d;
	size_t dlen = 0;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || !r->element[0]->str ||
	    strcmp(r->element[0]->str, "message") != 0 || !r->element[2]->str)
		return;
	count(cl, &cl->st.received);
	m = json_loadb(r->element[2]->str, r->element[2]->len, 0, NULL);
	if (!m)
		return;
	k = json_string_value(json_object_get(m, "k"));
	room = json_string_value(json_object_get(m, "r"));
	if (!k || !room || strlen(room) > IW_ROOM_ID_MAX)
		goto out;
	if (strcmp(k, "j") == 0 || strcmp(k, "l") == 0) {
		peer = json_string_value(json_object_get(m, "p"));
		inst = json_string_value(json_object_get(m, "i"));
		if (peer && strlen(peer) <= IW_ROOM_ID_MAX && (!inst || strlen(inst) <= IW_ROOM_ID_MAX))
			ev_simple(cl, k[0] == 'j' ? IW_CLUSTER_PEER_JOINED : IW_CLUSTER_PEER_LEFT, room, peer,
				  NULL, inst);
	} else if (strcmp(k, "m") == 0) {
		struct iw_cluster_ev e = { .kind = IW_CLUSTER_DELIVER };
		to = json_string_value(json_object_get(m, "t"));
		from = json_string_value(json_object_get(m, "f"));
		inst = json_string_value(json_object_get(m, "i"));
		d = json_string_value(json_object_get(m, "d"));
		dlen = json_string_length(json_object_get(m, "d"));
		if (!to || !from || !inst || !d || strlen(to) > IW_ROOM_ID_MAX ||
		    strlen(from) > IW_ROOM_ID_MAX || strlen(inst) > IW_ROOM_ID_MAX)
			goto out;
		snprintf(e.room, sizeof(e.room), "%s", room);
		snprintf(e.peer, sizeof(e.peer), "%s", to);
		snprintf(e.other, sizeof(e.other), "%s", from);
		snprintf(e.inst, sizeof(e.inst), "%s", inst);
		e.text = malloc(dlen + 1);
		if (!e.text)
			goto out;
		memcpy(e.text, d, dlen);
		e.text[dlen] = '\0';
		e.len = dlen;
		push_ev(cl, &e);
	}
out:
	json_decref(m);
}

static void read_sub(struct iw_cluster *cl)
{
	void *r = NULL;
	if (redisBufferRead(cl->sub) != REDIS_OK) {
		disconnect(cl, cl->sub->errstr);
		return;
	}
	while (cl->sub && redisGetReplyFromReader(cl->sub, &r) == REDIS_OK && r) {
		on_pubsub(cl, r);
		freeReplyObject(r);
		r = NULL;
	}
}

static void *thread_main(void *arg)
{
	struct iw_cluster *cl = arg;

	for (;;) {
		if (atomic_load(&cl->stop)) {
			/* Let the leaves of a graceful shutdown go out first (bounded: a command
			 * times out, and without a connection every request fails at once). */
			pthread_mutex_lock(&cl->mu);
			bool idle = cl->ops.n == 0;
			pthread_mutex_unlock(&cl->mu);
			if (idle || !cl->cmd)
				break;
		}
		uint64_t now = iw_clock_ms(), until;
		struct pollfd pf[2];
		nfds_t n = 1;

		if (!cl->cmd && now >= cl->next_try_ms)
			try_connect(cl);
		for (int i = 0; i < OPS_PER_TURN; i++) {
			struct op *o;
			pthread_mutex_lock(&cl->mu);
			o = ring_pop(&cl->ops);
			pthread_mutex_unlock(&cl->mu);
			if (!o)
				break;
			if (o->kind == OP_JOIN)
				do_join(cl, o);
			else if (o->kind == OP_LEAVE)
				do_leave(cl, o);
			else
				do_send(cl, o);
			op_free(o);
		}
		now = iw_clock_ms();
		if (cl->cmd && now >= cl->next_beat_ms)
			beat(cl, now);
		if (cl->evs_pushed) {
			cl->evs_pushed = false;
			cl->wake(cl->wake_arg);
		}
		until = cl->cmd ? cl->next_beat_ms : cl->next_try_ms;
		pf[0] = (struct pollfd){ .fd = cl->pipe_fd[0], .events = POLLIN };
		if (cl->sub) {
			pf[1] = (struct pollfd){ .fd = cl->sub->fd, .events = POLLIN };
			n = 2;
		}
		pthread_mutex_lock(&cl->mu);
		bool more = cl->ops.n > 0;
		pthread_mutex_unlock(&cl->mu);
		now = iw_clock_ms();
		if (poll(pf, n, more ? 0 : until > now ? (int)(until - now) : 0) > 0) {
			char b[64];
			if (pf[0].revents & POLLIN)
				while (read(cl->pipe_fd[0], b, sizeof(b)) > 0)
					;
			if (n == 2 && (pf[1].revents & (POLLIN | POLLHUP | POLLERR)))
				read_sub(cl);
			if (cl->evs_pushed) {
				cl->evs_pushed = false;
				cl->wake(cl->wake_arg);
			}
		}
	}
	return NULL;
}

/* ---- lifecycle ---- */

static int parse_url(struct iw_cluster *cl, const char *url)
{
	const char *p = url, *colon, *slash;
	char *end;
	long v;

	if (strncmp(p, "redis://", 8) != 0)
		return -EINVAL;
	p += 8;
	slash = strchr(p, '/');
	colon = strchr(p, ':');
	if (colon && slash && colon > slash)
		colon = NULL;
	size_t hl = (size_t)((colon ? colon : slash ? slash : p + strlen(p)) - p);
	if (!hl || hl >= sizeof(cl->host))
		return -EINVAL;
	memcpy(cl->host, p, hl);
	cl->host[hl] = '\0';
	cl->port = 6379;
	if (colon) {
		v = strtol(colon + 1, &end, 10);
		if (end == colon + 1 || v < 1 || v > 65535 || (*end && *end != '/'))
			return -EINVAL;
		cl->port = (int)v;
	}
	cl->db = 0;
	if (slash && slash[1]) {
		v = strtol(slash + 1, &end, 10);
		if (*end || v < 0 || v > 1000)
			return -EINVAL;
		cl->db = (int)v;
	}
	return 0;
}

struct iw_cluster *iw_cluster_create(const struct iw_cluster_cfg *cfg, const char **why)
{
	struct iw_cluster *cl = calloc(1, sizeof(*cl));
	unsigned char rnd[6];

	if (!cl) {
		*why = "out of memory";
		return NULL;
	}
	cl->pipe_fd[0] = cl->pipe_fd[1] = -1;
	pthread_mutex_init(&cl->mu, NULL);
	if (parse_url(cl, cfg->url) < 0) {
		*why = "redis must be redis://HOST[:PORT][/DB]";
		goto fail;
	}
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		*why = "no randomness for the instance id";
		goto fail;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(cl->inst + 2 * i, 3, "%02x", rnd[i]);
	snprintf(cl->chan_prefix, sizeof(cl->chan_prefix), "iw:%d:inst:", cl->db);
	snprintf(cl->chan, sizeof(cl->chan), "%s%s", cl->chan_prefix, cl->inst);
	cl->wake = cfg->wake;
	cl->wake_arg = cfg->wake_arg;
	cl->backoff_ms = BACKOFF_MIN_MS;
	if (ring_init(&cl->ops, IW_CLUSTER_QUEUE_MAX) < 0 || ring_init(&cl->evs, IW_CLUSTER_QUEUE_MAX) < 0 ||
	    pipe2(cl->pipe_fd, O_NONBLOCK) < 0) {
		*why = "out of memory";
		goto fail;
	}
	if (pthread_create(&cl->th, NULL, thread_main, cl) != 0) {
		*why = "cannot start the redis thread";
		goto fail;
	}
	cl->th_started = true;
	return cl;
fail:
	iw_cluster_destroy(cl);
	return NULL;
}

void iw_cluster_destroy(struct iw_cluster *cl)
{
	void *x;
	if (!cl)
		return;
	if (cl->th_started) {
		atomic_store(&cl->stop, true);
		wake_thread(cl);
		pthread_join(cl->th, NULL);
	}
	if (cl->cmd)
		redisFree(cl->cmd);
	if (cl->sub)
		redisFree(cl->sub);
	while ((x = ring_pop(&cl->ops)))
		op_free(x);
	while ((x = ring_pop(&cl->evs))) {
		iw_cluster_ev_fini(x);
		free(x);
	}
	free(cl->ops.slot);
	free(cl->evs.slot);
	free(cl->locals);
	if (cl->pipe_fd[0] >= 0)
		close(cl->pipe_fd[0]);
	if (cl->pipe_fd[1] >= 0)
		close(cl->pipe_fd[1]);
	pthread_mutex_destroy(&cl->mu);
	free(cl);
}
