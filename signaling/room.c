/* Rooms and peers: a fixed-bucket hash of rooms, each a short join-ordered list of peers.
 * No I/O here; the protocol layer (hub.c) decides what to send. */
#include "signaling/room.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cred.h"

enum { N_BUCKETS = 4096 };

struct iw_room_set {
	struct iw_room_limits lim;
	unsigned n_rooms;
	unsigned n_peers;
	struct iw_peer *dhead, *dtail; /* detached peers by detached_ms, oldest first */
	struct iw_room *buckets[N_BUCKETS];
};

static uint32_t hash_name(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h % N_BUCKETS;
}

struct iw_room_set *iw_room_set_create(const struct iw_room_limits *lim)
{
	struct iw_room_set *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->lim = *lim;
	return s;
}

static void free_remote(struct iw_room *r)
{
	while (r->remote) {
		struct iw_remote_peer *q = r->remote;
		r->remote = q->next;
		free(q);
	}
	r->n_remote = 0;
}

void iw_room_set_destroy(struct iw_room_set *s)
{
	if (!s)
		return;
	for (unsigned b = 0; b < N_BUCKETS; b++) {
		struct iw_room *r = s->buckets[b];
		while (r) {
			struct iw_room *rn = r->next;
			struct iw_peer *p = r->peers;
			while (p) {
				struct iw_peer *pn = p->next;
				free(p);
				p = pn;
			}
			free_remote(r);
			free(r);
			r = rn;
		}
	}
	free(s);
}

/* Into the detached list by detached_ms: at the tail, unless a clock went back. */
static void detached_add(struct iw_room_set *s, struct iw_peer *p)
{
	struct iw_peer *after = s->dtail;
	while (after && after->detached_ms > p->detached_ms)
		after = after->dprev;
	p->dprev = after;
	p->dnext = after ? after->dnext : s->dhead;
	if (p->dnext)
		p->dnext->dprev = p;
	else
		s->dtail = p;
	if (after)
		after->dnext = p;
	else
		s->dhead = p;
	p->listed = true;
}

static void detached_del(struct iw_room_set *s, struct iw_peer *p)
{
	if (!p->listed)
		return;
	if (p->dprev)
		p->dprev->dnext = p->dnext;
	else
		s->dhead = p->dnext;
	if (p->dnext)
		p->dnext->dprev = p->dprev;
	else
		s->dtail = p->dprev;
	p->dprev = p->dnext = NULL;
	p->listed = false;
}

bool iw_room_id_is_valid(const char *s)
{
	size_t n = 0;
	if (!s)
		return false;
	for (; s[n]; n++) {
		char c = s[n];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '.' || c == '_' || c == '~' || c == '-';
		if (!ok || n >= IW_ROOM_ID_MAX)
			return false;
	}
	return n > 0;
}

static struct iw_room *find_room(const struct iw_room_set *s, const char *name)
{
	for (struct iw_room *r = s->buckets[hash_name(name)]; r; r = r->next)
		if (strcmp(r->name, name) == 0)
			return r;
	return NULL;
}

struct iw_peer *iw_room_peer_find(const struct iw_room *r, const char *id)
{
	for (struct iw_peer *p = r ? r->peers : NULL; p; p = p->next)
		if (strcmp(p->id, id) == 0)
			return p;
	return NULL;
}

static void hex_random(char *out, size_t n_bytes)
{
	static const char hx[] = "0123456789abcdef";
	uint8_t raw[32];
	if (n_bytes > sizeof raw)
		n_bytes = sizeof raw;
	if (iw_cred_random(raw, n_bytes) < 0) {
		/* getrandom cannot fail for small sizes once the pool is seeded; keep ids unique
		 * anyway with a counter mixed into whatever is there. */
		static uint64_t ctr;
		ctr++;
		memcpy(raw, &ctr, sizeof ctr < n_bytes ? sizeof ctr : n_bytes);
	}
	for (size_t i = 0; i < n_bytes; i++) {
		out[2 * i] = hx[raw[i] >> 4];
		out[2 * i + 1] = hx[raw[i] & 15];
	}
	out[2 * n_bytes] = '\0';
}

static void free_room_if_empty(struct iw_room_set *s, struct iw_room *r)
{
	if (r->n_peers)
		return;
	free_remote(r);
	struct iw_room **pp = &s->buckets[hash_name(r->name)];
	while (*pp && *pp != r)
		pp = &(*pp)->next;
	if (*pp)
		*pp = r->next;
	s->n_rooms--;
	free(r);
}

int iw_room_join(struct iw_room_set *s, const char *name, const char *want_id, const char *resume, void *conn,
		 struct iw_room_join_res *res, const char **why)
{
	struct iw_room *r;
	struct iw_peer *p;

	*res = (struct iw_room_join_res){ 0 };
	if (!iw_room_id_is_valid(name)) {
		*why = "room must be 1-64 characters of A-Z a-z 0-9 . _ ~ -";
		return -EINVAL;
	}
	if (want_id && !iw_room_id_is_valid(want_id)) {
		*why = "peer must be 1-64 characters of A-Z a-z 0-9 . _ ~ -";
		return -EINVAL;
	}
	r = find_room(s, name);
	if (want_id && r && (p = iw_room_peer_find(r, want_id))) {
		size_t rl = resume ? strlen(resume) : 0;
		if (rl != IW_ROOM_RESUME_LEN || !iw_cred_equal(resume, p->resume, rl)) {
			*why = resume ? "peer id is taken and the resume token does not match"
				      : "peer id is taken (send the resume token to reclaim it)";
			return -EEXIST;
		}
		/* The old connection may not have noticed it is dead yet (a half-open TCP
		 * connection): the token proves ownership, so the new one takes over. */
		res->replaced_conn = p->conn;
		res->resumed = true;
		p->conn = conn;
		p->detached_ms = 0;
		detached_del(s, p);
		hex_random(p->resume, IW_ROOM_RESUME_LEN / 2);
		res->peer = p;
		return 0;
	}
	if (!r) {
		if (s->n_rooms >= s->lim.max_rooms) {
			*why = "too many rooms on this server";
			return -ENOBUFS;
		}
		r = calloc(1, sizeof *r);
		if (!r) {
			*why = "out of memory";
			return -ENOMEM;
		}
		strcpy(r->name, name); /* length checked by iw_room_id_is_valid */
		uint32_t b = hash_name(name);
		r->next = s->buckets[b];
		s->buckets[b] = r;
		s->n_rooms++;
	}
	if (want_id && iw_room_remote_find(r, want_id)) {
		*why = "peer id is taken (by a peer on another instance)";
		return -EEXIST;
	}
	if (r->n_peers + r->n_remote >= s->lim.max_peers) {
		*why = "room is full";
		free_room_if_empty(s, r);
		return -ENOSPC;
	}
	p = calloc(1, sizeof *p);
	if (!p) {
		*why = "out of memory";
		free_room_if_empty(s, r);
		return -ENOMEM;
	}
	if (want_id) {
		strcpy(p->id, want_id);
	} else {
		do
			hex_random(p->id, IW_ROOM_GEN_ID_LEN / 2);
		while (iw_room_peer_find(r, p->id) || iw_room_remote_find(r, p->id));
	}
	hex_random(p->resume, IW_ROOM_RESUME_LEN / 2);
	p->room = r;
	p->conn = conn;
	if (!conn)
		detached_add(s, p); /* joined detached: expires at the next sweep */
	/* Append: peers are listed in join order. */
	struct iw_peer **tail = &r->peers;
	while (*tail)
		tail = &(*tail)->next;
	*tail = p;
	r->n_peers++;
	s->n_peers++;
	res->peer = p;
	return 0;
}

void iw_room_peer_detach(struct iw_room_set *s, struct iw_peer *p, uint64_t now_ms)
{
	detached_del(s, p);
	p->conn = NULL;
	p->detached_ms = now_ms;
	detached_add(s, p);
}

void iw_room_peer_remove(struct iw_room_set *s, struct iw_peer *p)
{
	struct iw_room *r = p->room;
	struct iw_peer **pp = &r->peers;
	while (*pp && *pp != p)
		pp = &(*pp)->next;
	if (*pp)
		*pp = p->next;
	r->n_peers--;
	s->n_peers--;
	detached_del(s, p);
	free(p);
	free_room_if_empty(s, r);
}

unsigned iw_room_sweep(struct iw_room_set *s, uint64_t now_ms, iw_room_expire_fn fn, void *arg)
{
	unsigned n = 0;
	struct iw_peer *p;

	while ((p = s->dhead) && now_ms - p->detached_ms >= s->lim.grace_ms) {
		if (fn)
			fn(arg, p);
		iw_room_peer_remove(s, p);
		n++;
	}
	return n;
}

unsigned iw_room_set_count(const struct iw_room_set *s)
{
	return s->n_rooms;
}

unsigned iw_room_set_n_peers(const struct iw_room_set *s)
{
	return s->n_peers;
}

struct iw_room *iw_room_find(const struct iw_room_set *s, const char *name)
{
	return find_room(s, name);
}

struct iw_remote_peer *iw_room_remote_find(const struct iw_room *r, const char *id)
{
	for (struct iw_remote_peer *q = r->remote; q; q = q->next)
		if (strcmp(q->id, id) == 0)
			return q;
	return NULL;
}

int iw_room_remote_add(const struct iw_room_set *s, struct iw_room *r, const char *id, const char *inst)
{
	struct iw_remote_peer *q;

	if (!iw_room_id_is_valid(id) || strlen(inst) > IW_ROOM_ID_MAX)
		return -EINVAL;
	if (iw_room_remote_find(r, id) || iw_room_peer_find(r, id))
		return -EEXIST;
	if (r->n_peers + r->n_remote >= s->lim.max_peers)
		return -ENOSPC;
	q = calloc(1, sizeof *q);
	if (!q)
		return -ENOMEM;
	strcpy(q->id, id);
	strcpy(q->inst, inst);
	q->next = r->remote;
	r->remote = q;
	r->n_remote++;
	return 0;
}

bool iw_room_remote_remove(struct iw_room *r, const char *id)
{
	for (struct iw_remote_peer **pp = &r->remote; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->id, id) == 0) {
			struct iw_remote_peer *q = *pp;
			*pp = q->next;
			free(q);
			r->n_remote--;
			return true;
		}
	}
	return false;
}

unsigned iw_room_set_page(const struct iw_room_set *s, uint64_t pos, struct iw_room **out, unsigned cap,
			  uint64_t *next)
{
	uint64_t b = pos >> 32, skip = pos & 0xffffffffu;
	unsigned n = 0;

	*next = 0;
	for (; b < N_BUCKETS; b++, skip = 0) {
		uint64_t i = 0;
		for (struct iw_room *r = s->buckets[b]; r; r = r->next, i++) {
			if (i < skip)
				continue;
			if (n == cap) {
				*next = b << 32 | i;
				return n;
			}
			out[n++] = r;
		}
	}
	return n;
}
