/* The signaling protocol (signaling/hub.c) driven without sockets: every error code,
 * presence, forwarding order, resume and the credentials in welcome. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cred.h"
#include <jansson.h>

#include "signaling//hub.h"

enum { N_CONNS = 8, Q_MAX = 256 };

/* A recording connection: what the hub sent it, and whether it was closed. */
struct fake {
	struct iw_hub_conn hc;
	char *msgs[Q_MAX];
	unsigned int n, head;
	int close_code;
};

static struct fake conns[N_CONNS];

static int f_send(void *arg, struct iw_hub_conn *c, const char *buf, size_t len)
{
	(void)arg;
	struct fake *f = (struct fake *)c;
	assert_true(f->n < Q_MAX);
	f->msgs[f->n++] = strndup(buf, len);
	return 0;
}

static void f_close(void *arg, struct iw_hub_conn *c, int code, const char *reason)
{
	(void)arg;
	assert_non_null(reason);
	((struct fake *)c)->close_code = code;
}

static const char *stun[] = { "stun:127.0.0.1:3478" };

static struct iw_hub *mk(unsigned int max_peers, unsigned int rate, unsigned int strikes)
{
	struct iw_hub_cfg cfg = {
		.rooms = { .max_rooms = 2, .max_peers = max_peers, .grace_ms = 1000 },
		.ice = { .stun = { stun[0] },
			 .n_stun = 1,
			 .turn = { "turn:127.0.0.1:3478?transport=udp" },
			 .n_turn = 1,
			 .secret = "s3cret",
			 .ttl = 600 },
		.msg_rate = rate,
		.msg_burst = rate,
		.max_strikes = strikes,
	};
	struct iw_hub_ops ops = { .send = f_send, .close = f_close, .arg = NULL };
	struct iw_hub *h = iw_hub_create(&cfg, &ops);
	assert_non_null(h);
	for (int i = 0; i < N_CONNS; i++) {
		conns[i] = (struct fake){ 0 };
		iw_hub_conn_init(&conns[i].hc, h, 0);
	}
	return h;
}

static void drop_all(void)
{
	for (int i = 0; i < N_CONNS; i++) {
		for (unsigned int k = 0; k < conns[i].n; k++)
			free(conns[i].msgs[k]);
		conns[i].n = conns[i].head = 0;
	}
}

/* Pop the next message sent to conn i, parsed. */
static json_t *next(int i)
{
	struct fake *f = &conns[i];
	if (f->head >= f->n)
		fail_msg("conn %d: no message", i);
	json_t *o = json_loads(f->msgs[f->head++], 0, NULL);
	assert_non_null(o);
	return o;
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	if (!s)
		fail_msg("field %s missing", k);
	return s;
}

static void expect_type(int i, const char *type)
{
	json_t *o = next(i);
	assert_string_equal(str(o, "type"), type);
	json_decref(o);
}

static void expect_err(int i, const char *code)
{
	json_t *o = next(i);
	assert_string_equal(str(o, "type"), "error");
	assert_string_equal(str(o, "code"), code);
	assert_true(strlen(str(o, "message")) > 0);
	json_decref(o);
}

static void none(int i)
{
	assert_int_equal(conns[i].head, conns[i].n);
}

static void rx(struct iw_hub *h, int i, const char *txt, uint64_t now)
{
	iw_hub_receive(h, &conns[i].hc, txt, strlen(txt), now);
}

/* Join conn i to room; returns its id (static storage per conn). */
static const char *join(struct iw_hub *h, int i, const char *room)
{
	static char ids[N_CONNS][IW_ROOM_ID_MAX + 1];
	char buf[128];
	snprintf(buf, sizeof(buf), "{\"type\":\"join\",\"room\":\"%s\"}", room);
	rx(h, i, buf, 0);
	json_t *w = next(i);
	assert_string_equal(str(w, "type"), "welcome");
	snprintf(ids[i], sizeof(ids[i]), "%s", str(w, "peer"));
	json_decref(w);
	return ids[i];
}

static void test_welcome_and_presence(void **state)
{
	(void)state;
	struct iw_hub *h = mk(4, 100, 100);
	rx(h, 0, "{\"type\":\"join\",\"room\":\"r\",\"peer\":\"alice\"}", 0);
	json_t *w = next(0);
	assert_string_equal(str(w, "peer"), "alice");
	assert_int_equal(json_array_size(json_object_get(w, "peers")), 0);
	json_t *ice = json_object_get(w, "iceServers");
	assert_int_equal(json_array_size(ice), 2);
	json_t *turn = json_array_get(ice, 1);
	const char *user = str(turn, "username");
	const char *cred = str(turn, "credential");
	/* the credential is the TURN REST password of that username under the secret */
	char want[IW_CRED_REST_PASS_LEN + 1];
	iw_cred_rest_password(want, "s3cret", 6, user, strlen(user));
	assert_string_equal(cred, want);
	assert_non_null(strstr(user, ":alice"));
	json_decref(w);

	const char *b = join(h, 1, "r");
	json_t *pj = next(0);
	assert_string_equal(str(pj, "type"), "peer-joined");
	assert_string_equal(str(pj, "peer"), b);
	json_decref(pj);
	none(1);
	iw_hub_destroy(h);
	drop_all();
}

static void test_forward_order_and_from(void **state)
{
	(void)state;
	struct iw_hub *h = mk(4, 1000, 100);
	const char *a = join(h, 0, "r");
	const char *b = join(h, 1, "r");
	join(h, 2, "r");
	drop_all();
	char buf[256];
	for (int k = 0; k < 50; k++) {
		snprintf(buf, sizeof(buf),
			 "{\"type\":\"offer\",\"to\":\"%s\",\"from\":\"evil\",\"sdp\":\"#%d\"}", b, k);
		rx(h, 0, buf, 1);
	}
	for (int k = 0; k < 50; k++) {
		json_t *o = next(1);
		snprintf(buf, sizeof(buf), "#%d", k);
		assert_string_equal(str(o, "sdp"), buf);
		assert_string_equal(str(o, "from"), a);
		json_decref(o);
	}
	none(0); /* no echo */
	none(2); /* only the addressee */
	iw_hub_destroy(h);
	drop_all();
}

static void test_every_error(void **state)
{
	(void)state;
	struct iw_hub *h = mk(2, 1000, 1000);
	rx(h, 0, "nope", 0);
	expect_err(0, "bad-json");
	rx(h, 0, "[]", 0);
	expect_err(0, "not-object");
	rx(h, 0, "{\"type\":\"x\"}", 0);
	expect_err(0, "unknown-type");
	rx(h, 0, "{\"type\":\"offer\",\"sdp\":\"s\"}", 0);
	expect_err(0, "bad-field");
	rx(h, 0, "{\"type\":\"offer\",\"to\":\"b\",\"sdp\":\"s\"}", 0);
	expect_err(0, "not-joined");
	rx(h, 0, "{\"type\":\"leave\"}", 0);
	expect_err(0, "not-joined");
	join(h, 0, "r");
	rx(h, 0, "{\"type\":\"join\",\"room\":\"r\"}", 0);
	expect_err(0, "already-joined");
	rx(h, 0, "{\"type\":\"offer\",\"to\":\"ghost\",\"sdp\":\"s\",\"id\":3}", 0);
	json_t *e = next(0);
	assert_string_equal(str(e, "code"), "unknown-peer");
	assert_int_equal(json_integer_value(json_object_get(e, "ref")), 3);
	json_decref(e);
	rx(h, 1, "{\"type\":\"join\",\"room\":\"r\",\"peer\":\"bob\"}", 0);
	expect_type(1, "welcome");
	expect_type(0, "peer-joined");
	rx(h, 2, "{\"type\":\"join\",\"room\":\"r\"}", 0);
	expect_err(2, "room-full");
	rx(h, 3, "{\"type\":\"join\",\"room\":\"r2\",\"peer\":\"bob\"}", 0);
	expect_type(3, "welcome");
	rx(h, 4, "{\"type\":\"join\",\"room\":\"r3\"}", 0);
	expect_err(4, "too-many-rooms");
	iw_hub_destroy(h);
	drop_all();

	h = mk(4, 1000, 1000);
	rx(h, 0, "{\"type\":\"join\",\"room\":\"r\",\"peer\":\"bob\"}", 0);
	expect_type(0, "welcome");
	rx(h, 1, "{\"type\":\"join\",\"room\":\"r\",\"peer\":\"bob\"}", 0);
	expect_err(1, "peer-id-taken");
	/* a token that names another room */
	static struct iw_hub_claims other = { .room = "other" }, carol = { .room = "r", .peer = "carol" };
	conns[2].hc.claims = &other;
	rx(h, 2, "{\"type\":\"join\",\"room\":\"r\"}", 0);
	expect_err(2, "unauthorized");
	/* a token naming room and peer forces that peer id */
	conns[3].hc.claims = &carol;
	rx(h, 3, "{\"type\":\"join\",\"room\":\"r\",\"peer\":\"mallory\"}", 0);
	expect_err(3, "unauthorized");
	rx(h, 3, "{\"type\":\"join\",\"room\":\"r\"}", 0);
	json_t *w = next(3);
	assert_string_equal(str(w, "peer"), "carol");
	json_decref(w);
	iw_hub_reject(h, &conns[0].hc, IW_ERR_TOO_LARGE, "message over the size limit", 0);
	expect_type(0, "peer-joined");
	expect_err(0, "too-large");
	assert_int_equal(iw_hub_stats(h)->errors[IW_ERR_UNAUTHORIZED], 2);
	iw_hub_destroy(h);
	drop_all();
}

static void test_rate_limit_and_abuse(void **state)
{
	(void)state;
	struct iw_hub *h = mk(4, 5, 3); /* 5 msg/s, burst 5, close after 3 errors */
	for (int k = 0; k < 5; k++)
		rx(h, 0, "{\"type\":\"ping\"}", 1000);
	for (int k = 0; k < 5; k++)
		expect_type(0, "pong");
	rx(h, 0, "{\"type\":\"ping\"}", 1000);
	expect_err(0, "rate-limited");
	/* a second later the bucket has refilled */
	rx(h, 0, "{\"type\":\"ping\"}", 2000);
	expect_type(0, "pong");
	assert_int_equal(conns[0].close_code, 0);
	/* sustained abuse: the fourth error within 10 s closes with 1008 */
	for (int k = 0; k < 4; k++)
		rx(h, 1, "junk", 3000 + (uint64_t)k * 300);
	assert_int_equal(conns[1].close_code, IW_CLOSE_POLICY);
	unsigned int n = conns[1].n;
	rx(h, 1, "{\"type\":\"ping\"}", 5000); /* ignored once closing */
	assert_int_equal(conns[1].n, n);
	iw_hub_destroy(h);
	drop_all();
}

static void test_resume_and_expiry(void **state)
{
	(void)state;
	struct iw_hub *h = mk(4, 1000, 100);
	char buf[256], tok[IW_ROOM_RESUME_LEN + 1];
	join(h, 0, "r");
	rx(h, 1, "{\"type\":\"join\",\"room\":\"r\",\"peer\":\"bob\"}", 0);
	json_t *w = next(1);
	snprintf(tok, sizeof(tok), "%s", str(w, "resume"));
	json_decref(w);
	drop_all();
	/* an abnormal drop: bob keeps his id during the grace period; no peer-left yet */
	iw_hub_conn_gone(h, &conns[1].hc, false, 10000);
	iw_hub_tick(h, 10500);
	none(0);
	rx(h, 0, "{\"type\":\"offer\",\"to\":\"bob\",\"sdp\":\"s\"}", 10500);
	expect_err(0, "unknown-peer"); /* reconnecting */
	snprintf(buf, sizeof(buf), "{\"type\":\"join\",\"room\":\"r\",\"peer\":\"bob\",\"resume\":\"%s\"}",
		 tok);
	rx(h, 2, buf, 10600);
	w = next(2);
	assert_string_equal(str(w, "peer"), "bob");
	assert_true(json_is_true(json_object_get(w, "resumed")));
	json_decref(w);
	none(0); /* the room never saw bob leave */
	/* a second drop, no resume: peer-left after grace */
	iw_hub_conn_gone(h, &conns[2].hc, false, 20000);
	iw_hub_tick(h, 20999);
	none(0);
	iw_hub_tick(h, 21000);
	json_t *pl = next(0);
	assert_string_equal(str(pl, "type"), "peer-left");
	assert_string_equal(str(pl, "peer"), "bob");
	json_decref(pl);
	assert_int_equal(iw_hub_stats(h)->expired, 1);
	/* a deliberate close: peer-left at once */
	join(h, 3, "r");
	expect_type(0, "peer-joined");
	iw_hub_conn_gone(h, &conns[3].hc, true, 22000);
	expect_type(0, "peer-left");
	iw_hub_destroy(h);
	drop_all();
}

static void test_takeover_closes_old(void **state)
{
	(void)state;
	struct iw_hub *h = mk(4, 1000, 100);
	char buf[256];
	rx(h, 0, "{\"type\":\"join\",\"room\":\"r\",\"peer\":\"dana\"}", 0);
	json_t *w = next(0);
	snprintf(buf, sizeof(buf), "{\"type\":\"join\",\"room\":\"r\",\"peer\":\"dana\",\"resume\":\"%s\"}",
		 str(w, "resume"));
	json_decref(w);
	rx(h, 1, buf, 1);
	expect_type(1, "welcome");
	assert_int_equal(conns[0].close_code, IW_CLOSE_REPLACED);
	assert_null(conns[0].hc.peer);
	/* the replaced connection going away does not remove the resumed peer */
	iw_hub_conn_gone(h, &conns[0].hc, true, 2);
	assert_int_equal(iw_room_set_n_peers(iw_hub_rooms(h)), 1);
	iw_hub_destroy(h);
	drop_all();
}

/* ---- across instances: the cluster hooks recorded, events fed in by hand ---- */

static struct {
	char joins[8][2][IW_ROOM_ID_MAX + 1]; /* room, peer */
	unsigned int n_joins, n_leaves, n_sends;
	char last_leave[IW_ROOM_ID_MAX + 1];
	char send_inst[IW_ROOM_ID_MAX + 1], send_to[IW_ROOM_ID_MAX + 1];
	char send_txt[512];
	int send_rc;
} cl;

static int c_join(void *arg, const char *room, const char *peer)
{
	(void)arg;
	assert_true(cl.n_joins < 8);
	snprintf(cl.joins[cl.n_joins][0], IW_ROOM_ID_MAX + 1, "%s", room);
	snprintf(cl.joins[cl.n_joins][1], IW_ROOM_ID_MAX + 1, "%s", peer);
	cl.n_joins++;
	return 0;
}

static void c_leave(void *arg, const char *room, const char *peer)
{
	(void)arg;
	(void)room;
	cl.n_leaves++;
	snprintf(cl.last_leave, sizeof(cl.last_leave), "%s", peer);
}

static int c_send(void *arg, const char *inst, const char *room, const char *to, const char *from,
		  const char *txt, size_t len)
{
	(void)arg;
	(void)room;
	(void)from;
	cl.n_sends++;
	snprintf(cl.send_inst, sizeof(cl.send_inst), "%s", inst);
	snprintf(cl.send_to, sizeof(cl.send_to), "%s", to);
	snprintf(cl.send_txt, sizeof(cl.send_txt), "%.*s", (int)len, txt);
	return cl.send_rc;
}

static struct iw_hub *mk_cluster(void)
{
	struct iw_hub_cfg cfg = {
		.rooms = { .max_rooms = 4, .max_peers = 4, .grace_ms = 0 },
		.msg_rate = 100,
		.msg_burst = 100,
		.max_strikes = 100,
	};
	struct iw_hub_ops ops = {
		.send = f_send, .close = f_close, .cl_join = c_join, .cl_leave = c_leave, .cl_send = c_send
	};
	struct iw_hub *h = iw_hub_create(&cfg, &ops);
	assert_non_null(h);
	memset(&cl, 0, sizeof(cl));
	for (int i = 0; i < N_CONNS; i++) {
		conns[i] = (struct fake){ 0 };
		iw_hub_conn_init(&conns[i].hc, h, 0);
	}
	return h;
}

static void test_cluster_join_waits_for_members(void **state)
{
	(void)state;
	struct iw_hub *h = mk_cluster();
	const struct iw_cluster_member members[] = { { "r1", "inst-b" } };

	rx(h, 0, "{\"type\":\"join\",\"room\":\"x\",\"peer\":\"a\"}", 1);
	none(0); /* no welcome before the other instances answered */
	assert_int_equal(cl.n_joins, 1);
	assert_string_equal(cl.joins[0][1], "a");
	iw_hub_cluster_joined(h, "x", "a", 0, members, 1, 2);
	json_t *w = next(0);
	assert_string_equal(str(w, "type"), "welcome");
	assert_int_equal(json_array_size(json_object_get(w, "peers")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(w, "peers"), 0)), "r1");
	json_decref(w);

	/* a remote joiner is announced; one still joining locally does not hear it twice */
	iw_hub_cluster_presence(h, "x", "r2", "inst-c");
	json_t *pj = next(0);
	assert_string_equal(str(pj, "type"), "peer-joined");
	assert_string_equal(str(pj, "peer"), "r2");
	json_decref(pj);
	iw_hub_cluster_presence(h, "x", "r2", "inst-c"); /* duplicate: nothing */
	none(0);

	/* forwarding to a remote peer goes to its instance with our id as from */
	rx(h, 0, "{\"type\":\"offer\",\"to\":\"r2\",\"sdp\":\"v=0\",\"from\":\"zz\"}", 3);
	assert_int_equal(cl.n_sends, 1);
	assert_string_equal(cl.send_inst, "inst-c");
	assert_string_equal(cl.send_to, "r2");
	json_t *f = json_loads(cl.send_txt, 0, NULL);
	assert_non_null(f);
	assert_string_equal(str(f, "from"), "a");
	json_decref(f);
	none(0);

	/* a send that cannot go out now answers with unavailable */
	cl.send_rc = -ENOTCONN;
	rx(h, 0, "{\"type\":\"bye\",\"to\":\"r2\",\"id\":4}", 4);
	expect_err(0, "unavailable");
	iw_hub_cluster_send_failed(h, "x", "a", "r2", 5);
	expect_err(0, "unavailable");
	rx(h, 0, "{\"type\":\"bye\",\"to\":\"nobody\"}", 6);
	expect_err(0, "unknown-peer");

	/* delivery from another instance; one for a peer not here bounces to its sender */
	iw_hub_cluster_deliver(h, "x", "a", "r1", "inst-b", "{\"type\":\"answer\"}", 17);
	expect_type(0, "answer");
	cl.send_rc = 0;
	iw_hub_cluster_deliver(h, "x", "gone", "r1", "inst-b", "{\"type\":\"answer\"}", 17);
	assert_string_equal(cl.send_inst, "inst-b");
	assert_string_equal(cl.send_to, "r1");
	assert_non_null(strstr(cl.send_txt, "unknown-peer"));

	/* a remote peer leaving is announced; our leave is published */
	iw_hub_cluster_presence(h, "x", "r1", NULL);
	json_t *pl = next(0);
	assert_string_equal(str(pl, "type"), "peer-left");
	assert_string_equal(str(pl, "peer"), "r1");
	json_decref(pl);
	rx(h, 0, "{\"type\":\"leave\"}", 7);
	assert_int_equal(cl.n_leaves, 1);
	assert_string_equal(cl.last_leave, "a");
	assert_int_equal(iw_room_set_count(iw_hub_rooms(h)), 0);
	drop_all();
	iw_hub_destroy(h);
}

/* Before its welcome a joining peer is unknown to the room: it cannot send to peers, and a
 * leave (or a close) then announces nothing and forgets the pending join. */
static void test_cluster_leave_while_joining(void **state)
{
	(void)state;
	struct iw_hub *h = mk_cluster();
	rx(h, 0, "{\"type\":\"join\",\"room\":\"x\",\"peer\":\"a\"}", 1);
	iw_hub_cluster_joined(h, "x", "a", 0, NULL, 0, 2);
	expect_type(0, "welcome");
	rx(h, 1, "{\"type\":\"join\",\"room\":\"x\",\"peer\":\"b\",\"id\":\"j1\"}", 3);
	none(1);
	assert_true(conns[1].hc.joining);
	/* no forwarding before the welcome */
	rx(h, 1, "{\"type\":\"offer\",\"to\":\"a\",\"sdp\":\"v=0\"}", 4);
	expect_err(1, "not-joined");
	none(0);
	/* a leave now: a never saw b join, so it hears nothing; Redis is told */
	rx(h, 1, "{\"type\":\"leave\"}", 5);
	none(0);
	assert_false(conns[1].hc.joining);
	assert_null(conns[1].hc.wait);
	assert_null(conns[1].hc.peer);
	assert_int_equal(cl.n_leaves, 1);
	assert_string_equal(cl.last_leave, "b");
	/* the late answer to the join finds nobody */
	iw_hub_cluster_joined(h, "x", "b", 0, NULL, 0, 6);
	none(0);
	none(1);
	/* the same for a close while joining */
	rx(h, 2, "{\"type\":\"join\",\"room\":\"x\",\"peer\":\"c\",\"id\":\"j2\"}", 7);
	iw_hub_conn_gone(h, &conns[2].hc, true, 8);
	none(0);
	assert_null(conns[2].hc.wait);
	assert_int_equal(cl.n_leaves, 2);
	iw_hub_cluster_joined(h, "x", "c", 0, NULL, 0, 9);
	none(0);
	/* only a's join completed; the abandoned ones count nowhere */
	assert_int_equal(iw_hub_stats(h)->joins, 1);
	assert_int_equal(iw_hub_stats(h)->resumes, 0);
	drop_all();
	iw_hub_destroy(h);
}

static void test_cluster_id_taken_elsewhere(void **state)
{
	(void)state;
	struct iw_hub *h = mk_cluster();

	rx(h, 0, "{\"type\":\"join\",\"room\":\"x\",\"peer\":\"a\"}", 1);
	rx(h, 1, "{\"type\":\"join\",\"room\":\"x\",\"peer\":\"b\"}", 1);
	iw_hub_cluster_joined(h, "x", "b", -EEXIST, NULL, 0, 2);
	expect_err(1, "peer-id-taken");
	assert_null(conns[1].hc.peer);
	iw_hub_cluster_joined(h, "x", "a", 0, NULL, 0, 3);
	json_t *w = next(0);
	assert_int_equal(json_array_size(json_object_get(w, "peers")), 0);
	json_decref(w);
	none(0);
	/* a join result for a peer that already went away changes nothing */
	iw_hub_cluster_joined(h, "x", "b", 0, NULL, 0, 4);
	none(1);
	iw_hub_conn_gone(h, &conns[0].hc, true, 5);
	assert_int_equal(cl.n_leaves, 1);
	drop_all();
	iw_hub_destroy(h);
}

/* ---- across instances with tokens (cl_member_join): resume onto this instance, a peer
 * resumed elsewhere moving away, the room bound held by Redis ---- */

static struct {
	unsigned int n;
	char peer[IW_ROOM_ID_MAX + 1], token[IW_ROOM_RESUME_LEN + 1], claim[IW_ROOM_RESUME_LEN + 1];
	bool has_claim;
	unsigned int max_peers;
} mj;

static int c_member(void *arg, const char *room, const char *peer, const char *token, const char *claim,
		    unsigned int max_peers)
{
	(void)arg;
	(void)room;
	mj.n++;
	snprintf(mj.peer, sizeof(mj.peer), "%s", peer);
	snprintf(mj.token, sizeof(mj.token), "%s", token);
	snprintf(mj.claim, sizeof(mj.claim), "%s", claim ? claim : "");
	mj.has_claim = claim != NULL;
	mj.max_peers = max_peers;
	return 0;
}

static struct iw_hub *mk_member(void)
{
	struct iw_hub_cfg cfg = {
		.rooms = { .max_rooms = 4, .max_peers = 4, .grace_ms = 1000 },
		.msg_rate = 100,
		.msg_burst = 100,
		.max_strikes = 100,
	};
	struct iw_hub_ops ops = { .send = f_send,
				  .close = f_close,
				  .cl_join = c_join,
				  .cl_leave = c_leave,
				  .cl_send = c_send,
				  .cl_member_join = c_member };
	struct iw_hub *h = iw_hub_create(&cfg, &ops);
	assert_non_null(h);
	memset(&cl, 0, sizeof(cl));
	memset(&mj, 0, sizeof(mj));
	for (int i = 0; i < N_CONNS; i++) {
		conns[i] = (struct fake){ 0 };
		iw_hub_conn_init(&conns[i].hc, h, 0);
	}
	return h;
}

/* conn 0 joins room x as "a" with remote peer "b" on inst-b. */
static void member_setup(struct iw_hub *h)
{
	const struct iw_cluster_member members[] = { { "b", "inst-b" } };
	rx(h, 0, "{\"type\":\"join\",\"room\":\"x\",\"peer\":\"a\"}", 1);
	none(0);
	assert_int_equal(mj.n, 1);
	assert_false(mj.has_claim);
	assert_int_equal(strlen(mj.token), IW_ROOM_RESUME_LEN);
	assert_int_equal(mj.max_peers, 4);
	iw_hub_cluster_joined(h, "x", "a", 0, members, 1, 2);
	json_t *w = next(0);
	assert_string_equal(str(w, "type"), "welcome");
	assert_string_equal(str(w, "resume"), mj.token); /* Redis learns the token the client got */
	assert_false(json_is_true(json_object_get(w, "resumed")));
	json_decref(w);
}

static void test_cluster_resume_from_elsewhere(void **state)
{
	(void)state;
	struct iw_hub *h = mk_member();
	const char *claim = "{\"type\":\"join\",\"room\":\"x\",\"peer\":\"b\",\"id\":\"j7\","
			    "\"resume\":\"0123456789abcdef0123456789abcdef\"}";
	member_setup(h);

	/* b, held by inst-b, claimed here with a token that inst-b's digest refuses */
	rx(h, 1, claim, 3);
	none(1);
	assert_int_equal(mj.n, 2);
	assert_true(mj.has_claim);
	assert_string_equal(mj.claim, "0123456789abcdef0123456789abcdef");
	assert_string_equal(mj.peer, "b");
	iw_hub_cluster_joined(h, "x", "b", -EEXIST, NULL, 0, 4);
	json_t *e = next(1);
	assert_string_equal(str(e, "code"), "peer-id-taken");
	assert_string_equal(str(e, "ref"), "j7");
	json_decref(e);
	assert_null(conns[1].hc.peer);
	/* the room's view of b is back: a's offer goes to inst-b */
	rx(h, 0, "{\"type\":\"offer\",\"to\":\"b\",\"sdp\":\"s\"}", 5);
	assert_int_equal(cl.n_sends, 1);
	assert_string_equal(cl.send_inst, "inst-b");
	none(0);

	/* Redis unreachable: the claim cannot be checked, the client hears why and retries */
	rx(h, 1, claim, 5);
	iw_hub_cluster_joined(h, "x", "b", -EAGAIN, NULL, 0, 5);
	e = next(1);
	assert_string_equal(str(e, "code"), "unavailable");
	assert_string_equal(str(e, "ref"), "j7");
	json_decref(e);
	assert_null(conns[1].hc.peer);

	/* the same claim, accepted: resumed, and a sees neither a peer-left nor a peer-joined */
	rx(h, 1, claim, 6);
	iw_hub_cluster_joined(h, "x", "b", 1, NULL, 0, 7);
	json_t *w = next(1);
	assert_string_equal(str(w, "type"), "welcome");
	assert_true(json_is_true(json_object_get(w, "resumed")));
	assert_string_equal(str(w, "peer"), "b");
	assert_string_equal(str(w, "resume"), mj.token);
	assert_int_equal(json_array_size(json_object_get(w, "peers")), 1); /* a */
	json_decref(w);
	/* a joined; b's refused and unreachable claims count nowhere, its accepted one as a resume */
	assert_int_equal(iw_hub_stats(h)->joins, 1);
	assert_int_equal(iw_hub_stats(h)->resumes, 1);
	none(0);
	assert_int_equal(iw_hub_stats(h)->moved_in, 1);
	/* b is local now */
	rx(h, 0, "{\"type\":\"offer\",\"to\":\"b\",\"sdp\":\"local\"}", 8);
	assert_int_equal(cl.n_sends, 1);
	expect_type(1, "offer");
	drop_all();
	iw_hub_destroy(h);
}

/* Our last peer in a room resumes elsewhere: the room goes here with it, yet a message an
 * instance sent before it heard of the move is still passed on to the new one. */
static void test_cluster_moved_last_in_room(void **state)
{
	(void)state;
	struct iw_hub *h = mk_member();

	rx(h, 1, "{\"type\":\"join\",\"room\":\"solo\",\"peer\":\"s\"}", 1);
	iw_hub_cluster_joined(h, "solo", "s", 0, NULL, 0, 2);
	expect_type(1, "welcome");
	iw_hub_cluster_presence(h, "solo", "s", "inst-c");
	assert_int_equal(conns[1].close_code, IW_CLOSE_REPLACED);
	assert_null(iw_room_find(iw_hub_rooms(h), "solo"));
	iw_hub_cluster_deliver(h, "solo", "s", "r9", "inst-b", "{\"type\":\"answer\",\"from\":\"r9\"}", 32);
	assert_string_equal(cl.send_inst, "inst-c");
	assert_string_equal(cl.send_to, "s");
	assert_string_equal(cl.send_txt, "{\"type\":\"answer\",\"from\":\"r9\"}");
	assert_int_equal(iw_hub_stats(h)->remote_passed_on, 1);
	drop_all();
	iw_hub_destroy(h);
}

static void test_cluster_moved_away_and_bound(void **state)
{
	(void)state;
	struct iw_hub *h = mk_member();
	char buf[160], tok[IW_ROOM_RESUME_LEN + 1];
	member_setup(h);

	rx(h, 1, "{\"type\":\"join\",\"room\":\"x\",\"peer\":\"c\"}", 3);
	iw_hub_cluster_joined(h, "x", "c", 0, NULL, 0, 4);
	expect_type(1, "welcome");
	expect_type(0, "peer-joined");

	/* c resumed on inst-c while its connection here is still open: closed with 4001, and
	 * nobody here hears of it; c stays in the room as a remote peer */
	iw_hub_cluster_presence(h, "x", "c", "inst-c");
	assert_int_equal(conns[1].close_code, IW_CLOSE_REPLACED);
	assert_null(conns[1].hc.peer);
	assert_int_equal(cl.n_leaves, 1); /* dropped from the cluster's list of ours */
	assert_string_equal(cl.last_leave, "c");
	none(0);
	rx(h, 0, "{\"type\":\"offer\",\"to\":\"c\",\"sdp\":\"s\"}", 5);
	assert_string_equal(cl.send_inst, "inst-c");
	/* an instance that had not heard of the move yet sent a message for c here: it is passed
	 * on to where c is now, unchanged, rather than answered as unknown-peer */
	iw_hub_cluster_deliver(h, "x", "c", "r9", "inst-b", "{\"type\":\"offer\",\"from\":\"r9\"}", 31);
	assert_string_equal(cl.send_inst, "inst-c");
	assert_string_equal(cl.send_to, "c");
	assert_string_equal(cl.send_txt, "{\"type\":\"offer\",\"from\":\"r9\"}");
	/* never back to where it came from: that instance hears unknown-peer, as before */
	iw_hub_cluster_deliver(h, "x", "c", "r9", "inst-c", "{\"type\":\"offer\",\"from\":\"r9\"}", 31);
	assert_string_equal(cl.send_to, "r9");
	assert_non_null(strstr(cl.send_txt, "unknown-peer"));
	/* and moves again, quietly */
	iw_hub_cluster_presence(h, "x", "c", "inst-d");
	none(0);
	rx(h, 0, "{\"type\":\"offer\",\"to\":\"c\",\"sdp\":\"s\"}", 6);
	assert_string_equal(cl.send_inst, "inst-d");
	assert_int_equal(iw_hub_stats(h)->moved_out, 1);

	/* the room bound from Redis, answered with the join's id */
	rx(h, 2, "{\"type\":\"join\",\"room\":\"x\",\"id\":9}", 7);
	iw_hub_cluster_joined(h, "x", mj.peer, -ENOSPC, NULL, 0, 8);
	json_t *e = next(2);
	assert_string_equal(str(e, "code"), "room-full");
	assert_int_equal(json_integer_value(json_object_get(e, "ref")), 9);
	json_decref(e);
	none(0);

	/* a local resume refreshes the token in Redis without waiting for it */
	json_t *w;
	rx(h, 3, "{\"type\":\"join\",\"room\":\"y\",\"peer\":\"d\"}", 9);
	iw_hub_cluster_joined(h, "y", "d", 0, NULL, 0, 9);
	w = next(3);
	snprintf(tok, sizeof(tok), "%s", str(w, "resume"));
	json_decref(w);
	iw_hub_conn_gone(h, &conns[3].hc, false, 10);
	snprintf(buf, sizeof(buf), "{\"type\":\"join\",\"room\":\"y\",\"peer\":\"d\",\"resume\":\"%s\"}",
		 tok);
	unsigned int before = mj.n;
	rx(h, 4, buf, 11);
	w = next(4);
	assert_string_equal(str(w, "type"), "welcome");
	assert_true(json_is_true(json_object_get(w, "resumed")));
	assert_int_equal(mj.n, before + 1);
	assert_false(mj.has_claim);
	assert_string_equal(mj.token, str(w, "resume"));
	assert_string_not_equal(mj.token, tok);
	json_decref(w);
	drop_all();
	iw_hub_destroy(h);
}

static struct iw_peer *peer_of(struct iw_hub *h, const char *room, const char *id)
{
	struct iw_room *r = iw_room_find(iw_hub_rooms(h), room);
	assert_non_null(r);
	struct iw_peer *p = iw_room_peer_find(r, id);
	assert_non_null(p);
	return p;
}

/* The admin API's actions: a kicked peer is closed with 4002, the room hears peer-left, its
 * resume token is refused (for IW_HUB_KICK_MS; after that the id is simply free); a detached
 * peer goes the same way without a close; a closed room closes each peer with 4003. */
static void test_kick_and_room_close(void **state)
{
	(void)state;
	struct iw_hub *h = mk(8, 1000, 100);
	char buf[256], tok[IW_ROOM_RESUME_LEN + 1];

	join(h, 0, "r");
	rx(h, 1, "{\"type\":\"join\",\"room\":\"r\",\"peer\":\"bob\"}", 0);
	json_t *w = next(1);
	snprintf(tok, sizeof(tok), "%s", str(w, "resume"));
	json_decref(w);
	expect_type(0, "peer-joined");
	/* what the admin API shows: messages each way, resumed or not */
	assert_int_equal(conns[1].hc.msgs_in, 1);
	assert_int_equal(conns[1].hc.msgs_out, 1);
	assert_int_equal(conns[0].hc.msgs_out, 2);
	assert_false(conns[1].hc.resumed);

	iw_hub_peer_kick(h, peer_of(h, "r", "bob"), IW_CLOSE_KICKED, "disconnected", 100);
	assert_int_equal(conns[1].close_code, IW_CLOSE_KICKED);
	json_t *pl = next(0);
	assert_string_equal(str(pl, "type"), "peer-left");
	assert_string_equal(str(pl, "peer"), "bob");
	json_decref(pl);
	iw_hub_conn_gone(h, &conns[1].hc, false, 200); /* its close comes later: nothing more */
	iw_hub_tick(h, 5000);
	none(0);
	snprintf(buf, sizeof(buf), "{\"type\":\"join\",\"room\":\"r\",\"peer\":\"bob\",\"resume\":\"%s\"}",
		 tok);
	rx(h, 2, buf, 300);
	expect_err(2, "unauthorized");
	none(0);
	assert_int_equal(iw_hub_stats(h)->kicked, 1);
	assert_int_equal(iw_hub_stats(h)->kicked_resume_refused, 1);
	/* past IW_HUB_KICK_MS the id is free and a stale token only gets a fresh join */
	rx(h, 2, buf, 100 + IW_HUB_KICK_MS);
	w = next(2);
	assert_string_equal(str(w, "type"), "welcome");
	assert_false(json_is_true(json_object_get(w, "resumed")));
	json_decref(w);
	expect_type(0, "peer-joined");

	/* a detached peer within its grace: announced and its token gone, no close */
	rx(h, 3, "{\"type\":\"join\",\"room\":\"r\",\"peer\":\"dee\"}", 70000);
	w = next(3);
	snprintf(tok, sizeof(tok), "%s", str(w, "resume"));
	json_decref(w);
	expect_type(0, "peer-joined");
	expect_type(2, "peer-joined");
	iw_hub_conn_gone(h, &conns[3].hc, false, 70100);
	none(0);
	iw_hub_peer_kick(h, peer_of(h, "r", "dee"), IW_CLOSE_KICKED, "disconnected", 70200);
	assert_int_equal(conns[3].close_code, 0);
	expect_type(0, "peer-left");
	expect_type(2, "peer-left");
	snprintf(buf, sizeof(buf), "{\"type\":\"join\",\"room\":\"r\",\"peer\":\"dee\",\"resume\":\"%s\"}",
		 tok);
	rx(h, 4, buf, 70300);
	expect_err(4, "unauthorized");

	/* close the room: both peers closed with 4003, the room is gone */
	struct iw_room *r = iw_room_find(iw_hub_rooms(h), "r");
	assert_int_equal(iw_hub_room_close(h, r, 70400), 2);
	assert_int_equal(conns[0].close_code, IW_CLOSE_ROOM_CLOSED);
	assert_int_equal(conns[2].close_code, IW_CLOSE_ROOM_CLOSED);
	assert_null(iw_room_find(iw_hub_rooms(h), "r"));
	assert_int_equal(iw_room_set_n_peers(iw_hub_rooms(h)), 0);
	assert_int_equal(iw_hub_stats(h)->kicked, 4);
	iw_hub_conn_gone(h, &conns[0].hc, false, 70500);
	iw_hub_conn_gone(h, &conns[2].hc, false, 70500);
	iw_hub_destroy(h);
	drop_all();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_welcome_and_presence),
		cmocka_unit_test(test_forward_order_and_from),
		cmocka_unit_test(test_every_error),
		cmocka_unit_test(test_rate_limit_and_abuse),
		cmocka_unit_test(test_resume_and_expiry),
		cmocka_unit_test(test_takeover_closes_old),
		cmocka_unit_test(test_cluster_join_waits_for_members),
		cmocka_unit_test(test_cluster_leave_while_joining),
		cmocka_unit_test(test_cluster_id_taken_elsewhere),
		cmocka_unit_test(test_cluster_resume_from_elsewhere),
		cmocka_unit_test(test_cluster_moved_last_in_room),
		cmocka_unit_test(test_cluster_moved_away_and_bound),
		cmocka_unit_test(test_kick_and_room_close),
	};
	return cmocka_run_group_tests_name("hub", tests, NULL, NULL);
}
