/* The admin API's routes and JSON (jansson). It reads and changes rooms through the hub only;
 * the transport, the listener and the metrics are ws.c's. */
#include "signaling/admin.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config.h"
#include "common/cred.h"
#include "common/version.h"

/* Both sides go through HMAC-SHA256 under one fixed key, so the comparison is of two 32-byte
 * digests: its time depends on neither the token's bytes nor its length. */
static void digest(uint8_t out[32], const char *s, size_t len)
{
	static const char key[] = "iceway-signal admin token";
	iw_cred_hmac_sha256(out, key, sizeof key - 1, s, len);
}

bool iw_admin_authorized(const char *token, const char *authorization)
{
	uint8_t want[32], got[32];
	const char *t;

	if (!token || !authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return false;
	t = authorization + 7;
	while (*t == ' ')
		t++;
	digest(want, token, strlen(token));
	digest(got, t, strlen(t));
	return iw_cred_equal(want, got, sizeof want);
}

/* ---- replies ---- */

/* Serialize o (taken) behind the headroom into out. */
static void reply_json(struct iw_admin_reply *out, unsigned status, json_t *o, size_t headroom)
{
	size_t n = o ? json_dumpb(o, NULL, 0, JSON_COMPACT) : 0;

	out->status = status;
	out->buf = n ? malloc(headroom + n + 1) : NULL;
	if (!out->buf || json_dumpb(o, (char *)out->buf + headroom, n, JSON_COMPACT) != n) {
		free(out->buf);
		out->buf = NULL;
		out->status = 500;
		out->len = 0;
	} else {
		out->buf[headroom + n] = '\n';
		out->len = n + 1;
	}
	json_decref(o);
}

static void reply_error(struct iw_admin_reply *out, unsigned status, const char *why, size_t headroom)
{
	reply_json(out, status, json_pack("{s:s}", "error", why), headroom);
}

/* ---- what a peer looks like ---- */

static json_t *local_peer_json(const struct iw_peer *p, uint64_t now_ms)
{
	const struct iw_hub_conn *c = p->conn;
	char a[IW_ADDR_STRLEN];

	if (!c)
		return json_pack("{s:s, s:b, s:I}", "id", p->id, "connected", 0, "detached_for_ms",
				 (json_int_t)(now_ms - p->detached_ms));
	return json_pack("{s:s, s:b, s:s, s:I, s:I, s:I, s:b}", "id", p->id, "connected", 1, "address",
			 c->remote.family ? iw_addr_fmt(&c->remote, true, a, sizeof a) : "",
			 "connected_since", (json_int_t)c->since_s, "messages_in", (json_int_t)c->msgs_in,
			 "messages_out", (json_int_t)c->msgs_out, "resumed", c->resumed);
}

static json_t *remote_peers_json(const struct iw_room *r)
{
	json_t *a = json_array();
	for (const struct iw_remote_peer *q = r->remote; a && q; q = q->next)
		json_array_append_new(a, json_pack("{s:s, s:s}", "id", q->id, "instance", q->inst));
	return a;
}

/* ---- routes ---- */

static void get_status(struct iw_hub *h, const struct iw_admin_info *info, size_t headroom,
		       struct iw_admin_reply *out)
{
	const struct iw_room_set *rs = iw_hub_rooms(h);
	json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:b, s:b}", "version", iw_version(), "started",
			      (json_int_t)info->started_s, "uptime_s", (json_int_t)info->uptime_s,
			      "connections", (json_int_t)info->connections, "rooms",
			      (json_int_t)iw_room_set_count(rs), "peers", (json_int_t)iw_room_set_n_peers(rs),
			      "cluster", info->instance != NULL, "draining", info->draining);
	if (o && info->instance) {
		json_object_set_new(o, "instance", json_string(info->instance));
		json_object_set_new(o, "redis_up", json_boolean(info->redis_up));
	}
	reply_json(out, 200, o, headroom);
}

/* A query number: digits only, within [min, max]. */
static int query_num(const char *v, long long min, long long max, long long *out)
{
	const char *why;
	if (!v[0] || strspn(v, "0123456789") != strlen(v))
		return -EINVAL;
	return iw_config_int(v, min, max, out, &why);
}

static void get_rooms(struct iw_hub *h, const struct iw_admin_req *rq, size_t headroom,
		      struct iw_admin_reply *out)
{
	const struct iw_room_set *rs = iw_hub_rooms(h);
	struct iw_room *page[IW_ADMIN_PAGE_MAX];
	long long limit = IW_ADMIN_PAGE_DEFAULT, pos = 0;
	uint64_t next;
	unsigned n;
	json_t *o, *a;

	if (rq->limit && query_num(rq->limit, 1, IW_ADMIN_PAGE_MAX, &limit) < 0) {
		reply_error(out, 400, "limit must be 1-1000", headroom);
		return;
	}
	if (rq->cursor && query_num(rq->cursor, 0, (long long)1 << 62, &pos) < 0) {
		reply_error(out, 400, "cursor must be the next of an earlier page", headroom);
		return;
	}
	n = iw_room_set_page(rs, (uint64_t)pos, page, (unsigned)limit, &next);
	a = json_array();
	for (unsigned i = 0; a && i < n; i++)
		json_array_append_new(a, json_pack("{s:s, s:I, s:I}", "room", page[i]->name, "peers",
						   (json_int_t)page[i]->n_peers, "remote_peers",
						   (json_int_t)page[i]->n_remote));
	o = json_pack("{s:o, s:I}", "rooms", a, "total", (json_int_t)iw_room_set_count(rs));
	if (o) {
		char nb[24];
		snprintf(nb, sizeof nb, "%llu", (unsigned long long)next);
		json_object_set_new(o, "next", next ? json_string(nb) : json_null());
	}
	reply_json(out, 200, o, headroom);
}

static void get_room(struct iw_room *r, uint64_t now_ms, size_t headroom, struct iw_admin_reply *out)
{
	json_t *a = json_array();
	for (const struct iw_peer *p = r->peers; a && p; p = p->next)
		json_array_append_new(a, local_peer_json(p, now_ms));
	reply_json(out, 200,
		   json_pack("{s:s, s:o, s:o}", "room", r->name, "peers", a, "remote_peers",
			     remote_peers_json(r)),
		   headroom);
}

static void delete_room(struct iw_hub *h, struct iw_room *r, uint64_t now_ms, size_t headroom,
			struct iw_admin_reply *out)
{
	char name[IW_ROOM_ID_MAX + 1];
	json_t *remote = remote_peers_json(r); /* before r goes */
	unsigned n;

	snprintf(name, sizeof name, "%s", r->name);
	n = iw_hub_room_close(h, r, now_ms);
	reply_json(out, 200,
		   json_pack("{s:s, s:I, s:o}", "room", name, "disconnected", (json_int_t)n, "remote_peers",
			     remote),
		   headroom);
}

/* /admin/rooms/NAME/peers/ID: a peer held on another instance is that instance's to act on. */
static void peer_route(struct iw_hub *h, const struct iw_admin_req *rq, struct iw_room *r, const char *id,
		       uint64_t now_ms, size_t headroom, struct iw_admin_reply *out)
{
	struct iw_peer *p = iw_room_peer_find(r, id);
	struct iw_remote_peer *q;

	if (!p && (q = iw_room_remote_find(r, id))) {
		reply_json(
			out, 409,
			json_pack("{s:s, s:s}", "error",
				  "the peer is connected to another instance: ask that instance's admin API",
				  "instance", q->inst),
			headroom);
		return;
	}
	if (!p) {
		reply_error(out, 404, "no such peer in this room", headroom);
		return;
	}
	if (strcmp(rq->method, "GET") == 0) {
		reply_json(out, 200, local_peer_json(p, now_ms), headroom);
		return;
	}
	reply_json(out, 200,
		   json_pack("{s:s, s:s, s:b}", "room", r->name, "disconnected", id, "was_connected",
			     p->conn != NULL),
		   headroom);
	iw_hub_peer_kick(h, p, IW_CLOSE_KICKED, "disconnected by the operator", now_ms);
}

/* The next path segment of at most IW_ROOM_ID_MAX + 1 bytes into seg (longer ones are cut, and
 * then fail the name check); *p moves past it and its '/'. */
static void next_seg(const char **p, char *seg, size_t cap, bool *more)
{
	size_t n = strcspn(*p, "/");
	snprintf(seg, cap, "%.*s", (int)(n < cap ? n : cap - 1), *p);
	*p += n;
	*more = **p == '/';
	if (*more)
		(*p)++;
}

static bool method_is(const struct iw_admin_req *rq, const char *allow)
{
	/* allow is "GET" or "GET, DELETE" */
	size_t n = strlen(rq->method);
	for (const char *a = allow; *a;) {
		size_t m = strcspn(a, ",");
		if (m == n && strncmp(a, rq->method, n) == 0)
			return true;
		a += m;
		a += strspn(a, ", ");
	}
	return false;
}

void iw_admin_handle(struct iw_hub *h, const struct iw_admin_info *info, const struct iw_admin_req *rq,
		     size_t headroom, uint64_t now_ms, struct iw_admin_reply *out)
{
	static const char bad_name[] = "names are 1-64 characters of A-Z a-z 0-9 . _ ~ -";
	char room[IW_ROOM_ID_MAX + 2], id[IW_ROOM_ID_MAX + 2] = "";
	const char *p = rq->path, *allow;
	struct iw_room *r;
	bool more;

	memset(out, 0, sizeof *out);
	if (strncmp(p, "/admin/", 7) != 0)
		goto not_found;
	p += 7;
	if (strcmp(p, "status") == 0) {
		allow = "GET";
		if (!method_is(rq, allow))
			goto bad_method;
		get_status(h, info, headroom, out);
		return;
	}
	if (strcmp(p, "rooms") == 0) {
		allow = "GET";
		if (!method_is(rq, allow))
			goto bad_method;
		get_rooms(h, rq, headroom, out);
		return;
	}
	if (strncmp(p, "rooms/", 6) != 0)
		goto not_found;
	p += 6;
	allow = "GET, DELETE";
	next_seg(&p, room, sizeof room, &more);
	if (more) {
		char peers[8];
		next_seg(&p, peers, sizeof peers, &more);
		if (strcmp(peers, "peers") != 0 || !more)
			goto not_found;
		next_seg(&p, id, sizeof id, &more);
		if (more)
			goto not_found;
		if (!iw_room_id_is_valid(id))
			goto bad_request;
	}
	if (!iw_room_id_is_valid(room))
		goto bad_request;
	if (!method_is(rq, allow))
		goto bad_method;
	r = iw_room_find(iw_hub_rooms(h), room);
	if (!r) {
		reply_error(out, 404, "no such room on this instance", headroom);
		return;
	}
	if (id[0]) {
		peer_route(h, rq, r, id, now_ms, headroom, out);
		return;
	}
	if (strcmp(rq->method, "GET") == 0)
		get_room(r, now_ms, headroom, out);
	else
		delete_room(h, r, now_ms, headroom, out);
	return;
not_found:
	reply_error(out, 404, "no such admin endpoint", headroom);
	return;
bad_request:
	reply_error(out, 400, bad_name, headroom);
	return;
bad_method:
	reply_error(out, 405, "method not allowed here", headroom);
	out->allow = allow;
}
