/* Signaling over Redis: one thread owns both hiredis connections (commands; the subscription
 * to this instance's channel). Requests come in and events go out through bounded rings under
 * one mutex. Order between two peers holds because one thread publishes in queue order on one
 * connection and Redis delivers a channel's messages in publish order.
 *
 * Keys (in the configured db): iw:room:<room> hash peer -> instance, refreshed with an expiry
 * while an instance has peers in it; iw:live:<inst> with a TTL refreshed every beat. An
 * instance whose live key is gone is dead: whoever sweeping the room first removes its peers
 * (HDEL decides who) and tells every instance in the room. iw:tok:<room> hash peer -> digest
 * of the peer's current resume token (never the token itself), with the same expiry: another
 * instance checks a resume against it, and takes the id over with a compare-and-set, after
 * which one "j" message moves the peer everywhere without a left/joined pair.
 *
 * Each instance keeps a table of its own peers, written before a join or leave is queued. After
 * a reconnect, or when the full queue dropped a join or leave, a beat reconciles Redis with it:
 * leaves Redis missed are carried out, our peers are registered again where no other live
 * instance took their ids, and entries Redis still lists as ours but we do not have go. */
#include "signaling/cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/cred.h"
#include "common/log.h"

enum {
	ROOM_TTL_MS = 60000,
	BACKOFF_MIN_MS = 100,
	BACKOFF_MAX_MS = 1000, /* well inside the live TTL: a healed link is used within 1 s */
	OPS_PER_TURN = 1024,   /* then beats and the subscription get their turn */
	LOCALS_MAX = 1 << 20,
	IO_TIMEOUT_S = 1, /* a command slower than this counts as Redis down */
	DIGEST_HEX = 64,  /* HMAC-SHA256 of a resume token, in hex */
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
	/* OP_JOIN from iw_cluster_member_join: the token digest, a resume claim, the room bound */
	bool member;
	char digest[DIGEST_HEX + 1];
	char claim[IW_ROOM_RESUME_LEN + 1];
	unsigned max_peers;
	uint64_t seq; /* OP_JOIN, OP_LEAVE: which state of the peer's entry this request carries */
};

struct ring {
	void **slot;
	unsigned head, n, cap;
};

/* One of our peers as Redis must hold it. The service thread writes an entry before it queues
 * the request, so the table stays right when the request is dropped (queue full) or cannot
 * reach Redis; the Redis thread reconciles Redis with it after either. */
struct local {
	char room[IW_ROOM_ID_MAX + 1];
	char peer[IW_ROOM_ID_MAX + 1];
	char digest[DIGEST_HEX + 1]; /* empty: joined through iw_cluster_join (no token) */
	uint64_t seq;                /* the request that set this state */
	bool gone;                   /* left: Redis still lists it (until the leave is carried out) */
	bool queued;                 /* that request is in the queue and will tell Redis itself */
};

struct iw_cluster {
	char host[256];
	int port, db;
	unsigned queue_max; /* requests waiting for the Redis thread */
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

	pthread_mutex_t mu; /* guards the rings, st and the table of our peers */
	struct ring ops, evs;
	struct iw_cluster_stats st;
	struct local *locals;
	size_t n_locals, cap_locals;
	uint64_t seq;
	bool reconcile; /* a join or leave was dropped: the next beat reconciles Redis */

	/* Redis thread only */
	redisContext *cmd, *sub;
	uint64_t next_try_ms, backoff_ms, next_beat_ms, sweep_from_ms;
	bool reregister, ever_up;
	struct local *snap; /* a copy of the table for a beat */
	size_t cap_snap;
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

/* A member join with a token digest (KEYS room, tok; ARGV peer, inst, ttl, live prefix, digest,
 * max peers). 1: registered; 0: held by a live instance (its owner and digest come back for a
 * resume check); -1: the room is full. Redis is the truth for membership, so the bound counts
 * every instance's peers. */
static const char member_lua[] =
	"local cur = redis.call('HGET', KEYS[1], ARGV[1]) "
	"local ok = 1 "
	"if cur and cur ~= ARGV[2] and redis.call('EXISTS', ARGV[4] .. cur) == 1 then ok = 0 "
	"elseif not cur and tonumber(ARGV[6]) > 0 and "
	"       redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[6]) then ok = -1 "
	"else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) "
	"     redis.call('HSET', KEYS[2], ARGV[1], ARGV[5]) end "
	"redis.call('PEXPIRE', KEYS[1], ARGV[3]) "
	"redis.call('PEXPIRE', KEYS[2], ARGV[3]) "
	"local held = false "
	"if ok == 0 then held = redis.call('HGET', KEYS[2], ARGV[1]) end "
	"return {ok, redis.call('HGETALL', KEYS[1]), cur or false, held or false}";

/* Take a peer over from instance ARGV[2] only if it still holds it under the digest that was
 * checked (ARGV[3]); nil when anything moved meanwhile. Then the room's members. */
static const char takeover_lua[] = "if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] or "
				   "   redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[3] then return false end "
				   "redis.call('HSET', KEYS[1], ARGV[1], ARGV[4]) "
				   "redis.call('HSET', KEYS[2], ARGV[1], ARGV[5]) "
				   "redis.call('PEXPIRE', KEYS[1], ARGV[6]) "
				   "redis.call('PEXPIRE', KEYS[2], ARGV[6]) "
				   "return redis.call('HGETALL', KEYS[1])";

/* Remove peer only while it is still ours (or the dead instance's); then who is left. */
static const char leave_lua[] = "if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return false end "
				"redis.call('HDEL', KEYS[1], ARGV[1]) "
				"redis.call('HDEL', KEYS[2], ARGV[1]) "
				"return redis.call('HVALS', KEYS[1])";

/* Register our peer again after an outage, unless another live instance holds the id now
 * (KEYS room, tok; ARGV peer, inst, ttl, live prefix, digest). 1: ours; 0: held elsewhere. */
static const char reg_lua[] = "local cur = redis.call('HGET', KEYS[1], ARGV[1]) "
			      "if cur and cur ~= ARGV[2] and redis.call('EXISTS', ARGV[4] .. cur) == 1 then "
			      "  return 0 end "
			      "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) "
			      "if ARGV[5] ~= '' then redis.call('HSET', KEYS[2], ARGV[1], ARGV[5]) end "
			      "redis.call('PEXPIRE', KEYS[1], ARGV[3]) "
			      "redis.call('PEXPIRE', KEYS[2], ARGV[3]) "
			      "return 1";

/* ---- rings ---- */

static int ring_init(struct ring *r, unsigned cap)
{
	r->slot = calloc(cap, sizeof *r->slot);
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
	free(ev->members);
	free(ev->text);
	ev->members = NULL;
	ev->n_members = 0;
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

/* ---- the table of our peers (under mu) ---- */

static struct local *locals_find(struct iw_cluster *cl, const char *room, const char *peer, bool gone)
{
	for (size_t i = 0; i < cl->n_locals; i++) {
		struct local *l = &cl->locals[i];
		if (l->gone == gone && strcmp(l->room, room) == 0 && strcmp(l->peer, peer) == 0)
			return l;
	}
	return NULL;
}

static struct local *locals_add(struct iw_cluster *cl, const char *room, const char *peer)
{
	struct local *l;
	if (cl->n_locals == cl->cap_locals) {
		size_t nc = cl->cap_locals ? cl->cap_locals * 2 : 64;
		struct local *nl;
		if (nc > LOCALS_MAX || !(nl = realloc(cl->locals, nc * sizeof *nl))) {
			IW_WARN("redis: too many local peers to track; %s/%s not refreshed", room, peer);
			return NULL;
		}
		cl->locals = nl;
		cl->cap_locals = nc;
	}
	l = &cl->locals[cl->n_locals++];
	memset(l, 0, sizeof *l);
	snprintf(l->room, sizeof l->room, "%s", room);
	snprintf(l->peer, sizeof l->peer, "%s", peer);
	return l;
}

static void locals_drop(struct iw_cluster *cl, struct local *l)
{
	*l = cl->locals[--cl->n_locals];
}

/* Record what request o makes of its peer's entry; the entry, or NULL. *fresh: a new entry. */
static struct local *locals_apply(struct iw_cluster *cl, const struct op *o, bool *fresh)
{
	struct local *l, *g;

	*fresh = false;
	if (o->kind == OP_JOIN) {
		l = locals_find(cl, o->room, o->peer, false);
		if (!l && (l = locals_add(cl, o->room, o->peer)))
			*fresh = true;
		if (l)
			snprintf(l->digest, sizeof l->digest, "%s", o->member ? o->digest : "");
	} else {
		/* One tombstone per id is enough: this leave supersedes an earlier one. */
		if ((g = locals_find(cl, o->room, o->peer, true)))
			locals_drop(cl, g);
		l = locals_find(cl, o->room, o->peer, false);
		if (!l)
			l = locals_add(cl, o->room, o->peer);
		if (l)
			l->gone = true;
	}
	if (l)
		l->seq = o->seq;
	return l;
}

/* The Redis thread carried out (or refused) request o. drop: its entry goes (a refused join, a
 * leave Redis has seen); else it stays and needs nothing more for this request. */
static void locals_settle(struct iw_cluster *cl, const struct op *o, bool drop)
{
	struct local *l;
	pthread_mutex_lock(&cl->mu);
	l = locals_find(cl, o->room, o->peer, o->kind == OP_LEAVE);
	if (l && l->seq == o->seq) {
		if (drop)
			locals_drop(cl, l);
		else
			l->queued = false;
	}
	pthread_mutex_unlock(&cl->mu);
}

/* Queue a request. A join or leave is written to the table of our peers first, so that one the
 * full queue drops is not lost: the next beat reconciles Redis with the table instead. */
static int push_op(struct iw_cluster *cl, struct op *o)
{
	struct local *l = NULL;
	bool ok, fresh = false;

	pthread_mutex_lock(&cl->mu);
	if (o->kind != OP_SEND) {
		o->seq = ++cl->seq;
		l = locals_apply(cl, o, &fresh);
	}
	ok = ring_push(&cl->ops, o);
	if (!ok)
		cl->st.ops_dropped++;
	if (l && !ok && o->kind == OP_JOIN && fresh && o->claim[0]) {
		/* A claim that cannot be checked is refused or kept local by the caller: do not
		 * register it later behind its back. */
		locals_drop(cl, l);
	} else if (l) {
		l->queued = ok;
		cl->reconcile |= !ok;
	}
	pthread_mutex_unlock(&cl->mu);
	if (!ok) {
		op_free(o);
		return -ENOBUFS;
	}
	wake_thread(cl);
	return 0;
}

/* What Redis keeps of a resume token: a keyed digest, so that reading Redis does not give
 * anyone a token that resumes a peer. */
static void digest_hex(char out[DIGEST_HEX + 1], const char *token)
{
	static const char key[] = "iceway resume token v1";
	static const char hx[] = "0123456789abcdef";
	uint8_t d[32];

	iw_cred_hmac_sha256(d, key, sizeof key - 1, token, strlen(token));
	for (size_t i = 0; i < sizeof d; i++) {
		out[2 * i] = hx[d[i] >> 4];
		out[2 * i + 1] = hx[d[i] & 15];
	}
	out[DIGEST_HEX] = '\0';
}

static struct op *op_new(enum op_kind k, const char *room, const char *peer)
{
	struct op *o = calloc(1, sizeof *o);
	if (!o)
		return NULL;
	o->kind = k;
	snprintf(o->room, sizeof o->room, "%s", room);
	snprintf(o->peer, sizeof o->peer, "%s", peer);
	return o;
}

int iw_cluster_join(struct iw_cluster *cl, const char *room, const char *peer)
{
	struct op *o = op_new(OP_JOIN, room, peer);
	return o ? push_op(cl, o) : -ENOMEM;
}

int iw_cluster_member_join(struct iw_cluster *cl, const char *room, const char *peer, const char *token,
			   const char *claim, unsigned max_peers)
{
	struct op *o;

	if (!token || strlen(token) != IW_ROOM_RESUME_LEN)
		return -EINVAL;
	o = op_new(OP_JOIN, room, peer);
	if (!o)
		return -ENOMEM;
	o->member = true;
	o->max_peers = max_peers;
	digest_hex(o->digest, token);
	/* Only a token of the right shape can match; anything else is a plain join. */
	if (claim && strlen(claim) == IW_ROOM_RESUME_LEN)
		snprintf(o->claim, sizeof o->claim, "%s", claim);
	return push_op(cl, o);
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
	snprintf(o->to, sizeof o->to, "%s", to);
	snprintf(o->inst, sizeof o->inst, "%s", inst);
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

unsigned iw_cluster_poll(struct iw_cluster *cl, struct iw_cluster_ev *evs, unsigned max)
{
	unsigned n = 0;
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
	struct iw_cluster_ev *x = malloc(sizeof *x);
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
	snprintf(e.room, sizeof e.room, "%s", room);
	snprintf(e.peer, sizeof e.peer, "%s", peer ? peer : "");
	snprintf(e.other, sizeof e.other, "%s", other ? other : "");
	snprintf(e.inst, sizeof e.inst, "%s", inst ? inst : "");
	push_ev(cl, &e);
}

static void count(struct iw_cluster *cl, uint64_t *field)
{
	pthread_mutex_lock(&cl->mu);
	(*field)++;
	pthread_mutex_unlock(&cl->mu);
}

/* One of our peers that Redis still listed after it had left: removed now, others told. */
static void count_stale(struct iw_cluster *cl, const char *room, const char *peer)
{
	count(cl, &cl->st.stale_removed);
	IW_INFO("redis: peer %s in room %s had left while Redis could not be told; removed now", peer, room);
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
	snprintf(db, sizeof db, "%d", cl->db);
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

static void tok_key(char *out, size_t cap, const char *room)
{
	snprintf(out, cap, "iw:tok:%s", room);
}

static int publish(struct iw_cluster *cl, const char *inst, json_t *msg)
{
	char chan[96], *txt = json_dumps(msg, JSON_COMPACT);
	const char *argv[3] = { "PUBLISH", chan, txt };
	redisReply *r;
	int rc = -EIO;

	if (!txt)
		return -ENOMEM;
	snprintf(chan, sizeof chan, "%s%s", cl->chan_prefix, inst);
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
 * `first` on, `step` apart) and to `also` (may be NULL), except ours. */
static void publish_to_all(struct iw_cluster *cl, redisReply *vals, size_t first, size_t step, json_t *msg,
			   const char *also)
{
	json_t *seen = json_object();
	for (size_t i = first; seen && i < vals->elements && cl->cmd; i += step) {
		const char *inst = vals->element[i]->str;
		if (!inst || strcmp(inst, cl->inst) == 0 || json_object_get(seen, inst))
			continue;
		json_object_set_new(seen, inst, json_true());
		publish(cl, inst, msg);
	}
	if (seen && also && cl->cmd && strcmp(also, cl->inst) != 0 && !json_object_get(seen, also))
		publish(cl, also, msg);
	json_decref(seen);
}

/* Add the members of a room reply ({peer, inst, ...}) except ours to e. Names too long for an
 * id are left out: the hub would refuse them anyway. */
static void members_fill(struct iw_cluster *cl, struct iw_cluster_ev *e, const redisReply *kv)
{
	size_t n = kv->elements / 2;
	struct iw_cluster_member *m = n ? realloc(e->members, (e->n_members + n) * sizeof *m) : NULL;

	if (!m)
		return;
	e->members = m;
	for (size_t i = 0; i + 1 < kv->elements; i += 2) {
		const char *p = kv->element[i]->str, *inst = kv->element[i + 1]->str;
		if (!p || !inst || strcmp(inst, cl->inst) == 0 || strlen(p) > IW_ROOM_ID_MAX ||
		    strlen(inst) > IW_ROOM_ID_MAX)
			continue;
		strcpy(m[e->n_members].peer, p);
		strcpy(m[e->n_members].inst, inst);
		e->n_members++;
	}
}

static void do_join(struct iw_cluster *cl, struct op *o)
{
	struct iw_cluster_ev e = { .kind = IW_CLUSTER_JOINED };
	char key[96], ttl[16], live[32];
	redisReply *r = NULL;
	bool ok = true;

	snprintf(e.room, sizeof e.room, "%s", o->room);
	snprintf(e.peer, sizeof e.peer, "%s", o->peer);
	if (cl->cmd) {
		const char *argv[] = { "EVAL", join_lua, "1", key, o->peer, cl->inst, ttl, live };
		room_key(key, sizeof key, o->room);
		snprintf(ttl, sizeof ttl, "%d", ROOM_TTL_MS);
		snprintf(live, sizeof live, "iw:live:");
		r = command(cl, 8, argv, NULL);
	}
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[1]->type == REDIS_REPLY_ARRAY) {
		redisReply *kv = r->element[1];
		ok = r->element[0]->integer == 1;
		if (ok)
			members_fill(cl, &e, kv);
		if (ok) {
			json_t *m = json_pack("{s:s, s:s, s:s, s:s}", "k", "j", "r", o->room, "p", o->peer,
					      "i", cl->inst);
			if (m)
				publish_to_all(cl, kv, 1, 2, m, NULL);
			json_decref(m);
		}
	} else if (r) {
		IW_WARN("redis: join script failed: %s", r->type == REDIS_REPLY_ERROR ? r->str : "?");
	}
	/* Without Redis the join is local only; the next beat after a reconnect registers it. */
	locals_settle(cl, o, !ok);
	if (!ok)
		e.status = -EEXIST;
	if (r)
		freeReplyObject(r);
	push_ev(cl, &e);
}

static void announce_join(struct iw_cluster *cl, const char *room, const char *peer, redisReply *kv,
			  const char *also)
{
	json_t *m = json_pack("{s:s, s:s, s:s, s:s}", "k", "j", "r", room, "p", peer, "i", cl->inst);
	if (m)
		publish_to_all(cl, kv, 1, 2, m, also);
	json_decref(m);
}

/* A resume of a peer that live instance `owner` holds under digest `held`: the claim must
 * match it, then a compare-and-set moves the id here. Returns the members reply, or NULL. */
static redisReply *take_over(struct iw_cluster *cl, const struct op *o, const char *owner, const char *held)
{
	char key[96], tkey[96], ttl[16], claimed[DIGEST_HEX + 1];
	const char *argv[] = { "EVAL", takeover_lua, "2",      key,       tkey, o->peer,
			       owner,  held,         cl->inst, o->digest, ttl };
	redisReply *r;

	if (!o->claim[0] || strlen(held) != DIGEST_HEX)
		return NULL;
	digest_hex(claimed, o->claim);
	if (!iw_cred_equal(claimed, held, DIGEST_HEX))
		return NULL;
	room_key(key, sizeof key, o->room);
	tok_key(tkey, sizeof tkey, o->room);
	snprintf(ttl, sizeof ttl, "%d", ROOM_TTL_MS);
	r = command(cl, 11, argv, NULL);
	if (r && r->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(r);
		r = NULL;
	}
	return r;
}

/* A join through iw_cluster_member_join. Status 0: registered (fresh); 1: resumed from
 * another instance; -EEXIST: held elsewhere and not claimed with its token; -ENOSPC: full. */
static void do_member_join(struct iw_cluster *cl, struct op *o)
{
	struct iw_cluster_ev e = { .kind = IW_CLUSTER_JOINED };
	char key[96], tkey[96], ttl[16], max[16];
	const char *argv[] = { "EVAL",   member_lua, "2",        key,       tkey, o->peer,
			       cl->inst, ttl,        "iw:live:", o->digest, max };
	redisReply *r = NULL, *moved = NULL;
	long long ok = 1;

	snprintf(e.room, sizeof e.room, "%s", o->room);
	snprintf(e.peer, sizeof e.peer, "%s", o->peer);
	if (cl->cmd) {
		room_key(key, sizeof key, o->room);
		tok_key(tkey, sizeof tkey, o->room);
		snprintf(ttl, sizeof ttl, "%d", ROOM_TTL_MS);
		snprintf(max, sizeof max, "%u", o->max_peers);
		r = command(cl, 11, argv, NULL);
	}
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 4 &&
	    r->element[0]->type == REDIS_REPLY_INTEGER && r->element[1]->type == REDIS_REPLY_ARRAY) {
		const char *cur = r->element[2]->str, *held = r->element[3]->str;
		ok = r->element[0]->integer;
		if (ok == 1) {
			members_fill(cl, &e, r->element[1]);
			/* Already ours (a token refreshed by a local resume): nothing to announce. */
			if (!cur || strcmp(cur, cl->inst) != 0)
				announce_join(cl, o->room, o->peer, r->element[1], NULL);
		} else if (ok == 0 && cur && held && (moved = take_over(cl, o, cur, held))) {
			ok = 1;
			e.status = 1;
			members_fill(cl, &e, moved);
			/* The previous owner may have no other peer left in the room. */
			announce_join(cl, o->room, o->peer, moved, cur);
			IW_INFO("redis: peer %s in room %s resumed here from instance %s", o->peer, o->room,
				cur);
		}
	} else if (r) {
		IW_WARN("redis: join script failed: %s", r->type == REDIS_REPLY_ERROR ? r->str : "?");
	}
	/* Without Redis the join is local only; the next beat after a reconnect registers it.
	 * A resume claim cannot be checked without Redis: the client retries. */
	if (!r && o->claim[0])
		e.status = -EAGAIN;
	else if (ok != 1)
		e.status = ok == -1 ? -ENOSPC : -EEXIST;
	locals_settle(cl, o, e.status < 0);
	if (moved)
		freeReplyObject(moved);
	if (r)
		freeReplyObject(r);
	push_ev(cl, &e);
}

/* Remove peer (ours, or a dead instance's) and tell the others. 1: this call did; 0: it was
 * not inst's (gone, or held by another instance now); -1: Redis did not answer. */
static int remove_member(struct iw_cluster *cl, const char *room, const char *peer, const char *inst)
{
	char key[96], tkey[96];
	const char *argv[] = { "EVAL", leave_lua, "2", key, tkey, peer, inst };
	redisReply *r;
	int done = -1;

	room_key(key, sizeof key, room);
	tok_key(tkey, sizeof tkey, room);
	r = command(cl, 7, argv, NULL);
	if (r && r->type == REDIS_REPLY_ARRAY) {
		json_t *m = json_pack("{s:s, s:s, s:s}", "k", "l", "r", room, "p", peer);
		if (m)
			publish_to_all(cl, r, 0, 1, m, NULL);
		json_decref(m);
		done = 1;
	} else if (r && r->type != REDIS_REPLY_ERROR) {
		done = 0;
	}
	if (r)
		freeReplyObject(r);
	return done;
}

/* Without Redis (or when it fails to answer) the entry stays as a tombstone, and the first beat
 * after the reconnect removes the peer from Redis and tells the other instances. */
static void do_leave(struct iw_cluster *cl, struct op *o)
{
	int rc = cl->cmd ? remove_member(cl, o->room, o->peer, cl->inst) : -1;
	locals_settle(cl, o, rc >= 0);
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
	snprintf(key, sizeof key, "iw:live:%s", inst);
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
		room_key(key, sizeof key, room);
		r = command(cl, 2, argv, NULL);
		for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
			const char *p = r->element[i]->str, *inst = r->element[i + 1]->str;
			if (!p || !inst || strcmp(inst, cl->inst) == 0 || inst_alive(cl, alive, inst))
				continue;
			if (!cl->cmd)
				break;
			if (remove_member(cl, room, p, inst) == 1) {
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

static bool owned_elsewhere(const struct iw_cluster *cl, const redisReply *kv, const char *peer)
{
	for (size_t i = 0; peer && kv->type == REDIS_REPLY_ARRAY && i + 1 < kv->elements; i += 2)
		if (kv->element[i]->str && strcmp(kv->element[i]->str, peer) == 0)
			return kv->element[i + 1]->str && strcmp(kv->element[i + 1]->str, cl->inst) != 0;
	return false;
}

static bool listed(json_t *list, const char *peer)
{
	size_t i;
	json_t *id;
	json_array_foreach(list, i, id)
	{
		if (strcmp(json_string_value(id), peer) == 0)
			return true;
	}
	return false;
}

/* After a reconnect or a dropped request: presence may have changed meanwhile. Learn who is in
 * our rooms now, remove what Redis still lists as ours but is not (a leave it never heard of),
 * and announce our peers to the others, as a join would. Whoever re-registers later sees the
 * earlier ones, so every pair hears of each other. rooms: {room: [local peer ids]}. */
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
		room_key(key, sizeof key, room);
		r = command(cl, 2, argv, NULL);
		if (!r)
			break;
		for (i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
			const char *p = r->element[i]->str, *inst = r->element[i + 1]->str;
			if (!p || !inst || strlen(p) > IW_ROOM_ID_MAX || strlen(inst) > IW_ROOM_ID_MAX)
				continue;
			if (strcmp(inst, cl->inst) != 0)
				ev_simple(cl, IW_CLUSTER_PEER_JOINED, room, p, NULL, inst);
			else if (!listed(list, p) && cl->cmd && remove_member(cl, room, p, cl->inst) == 1)
				count_stale(cl, room, p);
		}
		json_array_foreach(list, i, id)
		{
			json_t *m;
			/* Redis says another instance holds it now (taken over meanwhile): that
			 * owner announces it, and our copy goes when the PEER_JOINED above lands. */
			if (owned_elsewhere(cl, r, json_string_value(id)))
				continue;
			m = json_pack("{s:s, s:s, s:O, s:s}", "k", "j", "r", room, "p", id, "i", cl->inst);
			if (m && r->type == REDIS_REPLY_ARRAY)
				publish_to_all(cl, r, 1, 2, m, NULL);
			json_decref(m);
		}
		freeReplyObject(r);
	}
}

/* Copy the table of our peers for a beat (the service thread keeps writing it meanwhile).
 * *full becomes true when a dropped request asks for a reconcile. */
static size_t snapshot(struct iw_cluster *cl, bool *full)
{
	size_t n;
	pthread_mutex_lock(&cl->mu);
	n = cl->n_locals;
	if (n > cl->cap_snap) {
		struct local *s = realloc(cl->snap, n * sizeof *s);
		if (!s) {
			pthread_mutex_unlock(&cl->mu);
			return 0;
		}
		cl->snap = s;
		cl->cap_snap = n;
	}
	if (n)
		memcpy(cl->snap, cl->locals, n * sizeof *cl->snap);
	*full |= cl->reconcile;
	cl->reconcile = false;
	pthread_mutex_unlock(&cl->mu);
	return n;
}

/* Our peer l in Redis again, unless another live instance has taken the id meanwhile (then
 * resync's PEER_JOINED moves our copy out). */
static void reregister(struct iw_cluster *cl, const struct local *l)
{
	char key[96], tkey[96], ttl[16];
	const char *argv[] = {
		"EVAL", reg_lua, "2", key, tkey, l->peer, cl->inst, ttl, "iw:live:", l->digest
	};
	redisReply *r;

	room_key(key, sizeof key, l->room);
	tok_key(tkey, sizeof tkey, l->room);
	snprintf(ttl, sizeof ttl, "%d", ROOM_TTL_MS);
	r = command(cl, 10, argv, NULL);
	if (r && r->type == REDIS_REPLY_INTEGER && r->integer == 0)
		IW_INFO("redis: peer %s in room %s is held by another instance now", l->peer, l->room);
	if (r)
		freeReplyObject(r);
}

static void beat(struct iw_cluster *cl, uint64_t now)
{
	char key[96], tkey[96], ttl[16], live[96], live_ttl[16];
	const char *argv[5];
	json_t *rooms = json_object();
	bool full = cl->reregister;
	size_t n = snapshot(cl, &full);
	redisReply *r;

	cl->next_beat_ms = now + IW_CLUSTER_BEAT_MS;
	snprintf(live, sizeof live, "iw:live:%s", cl->inst);
	snprintf(live_ttl, sizeof live_ttl, "%d", IW_CLUSTER_LIVE_TTL_MS);
	argv[0] = "SET";
	argv[1] = live;
	argv[2] = "1";
	argv[3] = "PX";
	argv[4] = live_ttl;
	r = command(cl, 5, argv, NULL);
	if (!r)
		goto out;
	freeReplyObject(r);
	snprintf(ttl, sizeof ttl, "%d", ROOM_TTL_MS);
	for (size_t i = 0; full && i < n && cl->cmd; i++) {
		/* Leaves Redis has not seen (it was away, or the queue was full): tell it now. A
		 * leave still queued does it itself. */
		const struct local *l = &cl->snap[i];
		struct op o = { .kind = OP_LEAVE, .seq = l->seq };
		int rc;
		if (!l->gone || l->queued)
			continue;
		rc = remove_member(cl, l->room, l->peer, cl->inst);
		if (rc == 1)
			count_stale(cl, l->room, l->peer);
		if (rc >= 0) {
			snprintf(o.room, sizeof o.room, "%s", l->room);
			snprintf(o.peer, sizeof o.peer, "%s", l->peer);
			locals_settle(cl, &o, true);
		}
	}
	for (size_t i = 0; rooms && i < n && cl->cmd; i++) {
		const struct local *l = &cl->snap[i];
		if (l->gone)
			continue;
		room_key(key, sizeof key, l->room);
		tok_key(tkey, sizeof tkey, l->room);
		/* After a reconnect (Redis may have restarted empty) or a dropped join: our peers
		 * again, where nobody else has taken their ids. A join still queued registers
		 * itself, with the room bound checked. */
		if (full && !l->queued)
			reregister(cl, l);
		json_t *list = json_object_get(rooms, l->room);
		if (list) {
			json_array_append_new(list, json_string(l->peer));
			continue;
		}
		list = json_array();
		json_array_append_new(list, json_string(l->peer));
		json_object_set_new(rooms, l->room, list);
		const char *pe[] = { "PEXPIRE", key, ttl };
		const char *pt[] = { "PEXPIRE", tkey, ttl };
		r = command(cl, 3, pe, NULL);
		if (r)
			freeReplyObject(r);
		if (cl->cmd && (r = command(cl, 3, pt, NULL)))
			freeReplyObject(r);
	}
	if (!cl->cmd)
		goto out;
	if (full)
		resync(cl, rooms);
	if (!cl->cmd)
		goto out;
	cl->reregister = false;
	if (now >= cl->sweep_from_ms)
		sweep(cl, rooms);
out:
	/* Cut short by a lost connection: the reconnect's full beat does it all again. */
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
		snprintf(e.room, sizeof e.room, "%s", room);
		snprintf(e.peer, sizeof e.peer, "%s", to);
		snprintf(e.other, sizeof e.other, "%s", from);
		snprintf(e.inst, sizeof e.inst, "%s", inst);
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
			if (o->kind == OP_JOIN && o->member)
				do_member_join(cl, o);
			else if (o->kind == OP_JOIN)
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
				while (read(cl->pipe_fd[0], b, sizeof b) > 0)
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
	const char *p = url, *colon, *slash, *q;
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
	if (!hl || hl >= sizeof cl->host)
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
	q = slash ? slash + 1 : "";
	if (*q && *q != '?') {
		v = strtol(q, &end, 10);
		if ((*end && *end != '?') || v < 0 || v > 1000)
			return -EINVAL;
		cl->db = (int)v;
		q = end;
	}
	cl->queue_max = IW_CLUSTER_QUEUE_MAX;
	/* ?queue=N: how many requests may wait for the Redis thread (a smaller bound shows, in
	 * the tests, what happens when it is full). */
	if (*q) {
		if (strncmp(q, "?queue=", 7) != 0)
			return -EINVAL;
		v = strtol(q + 7, &end, 10);
		if (end == q + 7 || *end || v < 1 || v > IW_CLUSTER_QUEUE_MAX)
			return -EINVAL;
		cl->queue_max = (unsigned)v;
	}
	return 0;
}

struct iw_cluster *iw_cluster_create(const struct iw_cluster_cfg *cfg, const char **why)
{
	struct iw_cluster *cl = calloc(1, sizeof *cl);
	unsigned char rnd[6];

	if (!cl) {
		*why = "out of memory";
		return NULL;
	}
	cl->pipe_fd[0] = cl->pipe_fd[1] = -1;
	pthread_mutex_init(&cl->mu, NULL);
	if (parse_url(cl, cfg->url) < 0) {
		*why = "redis must be redis://HOST[:PORT][/DB][?queue=N] (N: 1-8192)";
		goto fail;
	}
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
		*why = "no randomness for the instance id";
		goto fail;
	}
	for (size_t i = 0; i < sizeof rnd; i++)
		snprintf(cl->inst + 2 * i, 3, "%02x", rnd[i]);
	snprintf(cl->chan_prefix, sizeof cl->chan_prefix, "iw:%d:inst:", cl->db);
	snprintf(cl->chan, sizeof cl->chan, "%s%s", cl->chan_prefix, cl->inst);
	cl->wake = cfg->wake;
	cl->wake_arg = cfg->wake_arg;
	cl->backoff_ms = BACKOFF_MIN_MS;
	if (ring_init(&cl->ops, cl->queue_max) < 0 || ring_init(&cl->evs, IW_CLUSTER_QUEUE_MAX) < 0 ||
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
	free(cl->snap);
	if (cl->pipe_fd[0] >= 0)
		close(cl->pipe_fd[0]);
	if (cl->pipe_fd[1] >= 0)
		close(cl->pipe_fd[1]);
	pthread_mutex_destroy(&cl->mu);
	free(cl);
}
