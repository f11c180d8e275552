/* Fuzz harness for signaling messages (signaling/msg.c) and the hub's handling of one message
 * from a joined peer (signaling/hub.c, no sockets). Invariants: a rejected message always has
 * an error code and a non-empty reason, and its error reply is JSON carrying both (and the
 * message id as `ref`); an accepted message has the fields its type requires, and its
 * re-serialized form parses back to the same type and fields; everything the hub sends is a
 * JSON object with a known `type`, every error it sends has a code and a message, and a
 * forwarded message always carries the server-set `from`, never one chosen by the sender.
 * iw_msg_parse (its own scanner, jansson for the rest) and iw_msg_parse_jansson give the same
 * answer, fields and forwarded text for every input. A forward is exactly one JSON object
 * (jansson, duplicates rejected) whose `from` is the server's, whose other members are the
 * type's own fields only, each equal to the input's. */
#include <string.h>

#include <jansson.h>

#include "signaling//hub.h"
#include "signaling/msg.h"
#include "tests/fuzz/fuzz.h"

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool err_name_known(const char *code)
{
	for (int e = 0; e < IW_ERR_COUNT; e++)
		if (strcmp(code, iw_msg_err_name((enum iw_msg_err)e)) == 0)
			return true;
	return false;
}

/* A server-to-client text: a JSON object whose type we know, errors with code and message. */
static json_t *check_server_text(const char *txt, size_t len)
{
	json_t *o = json_loadb(txt, len, JSON_REJECT_DUPLICATES, NULL);
	const char *type, *code, *message;

	FUZZ_CHECK(o && json_is_object(o));
	type = json_string_value(json_object_get(o, "type"));
	FUZZ_CHECK(type);
	if (strcmp(type, "error") == 0) {
		code = json_string_value(json_object_get(o, "code"));
		message = json_string_value(json_object_get(o, "message"));
		FUZZ_CHECK(code && err_name_known(code));
		FUZZ_CHECK(message && message[0]);
	}
	return o;
}

/* The JSON value of a message id as msg.c echoes it, or NULL for none. */
static json_t *ref_value(const struct iw_msg_ref *r)
{
	if (r->kind == IW_MSG_REF_NONE)
		return NULL;
	FUZZ_CHECK(r->kind == IW_MSG_REF_INT || (r->kind == IW_MSG_REF_STR && r->len <= IW_MSG_ID_MAX));
	return r->kind == IW_MSG_REF_INT ? json_integer(r->num) : json_stringn(r->str, r->len);
}

/* o's "ref" is exactly the message's id, or absent when it has none. */
static void check_ref(json_t *o, const struct iw_msg_ref *id)
{
	json_t *r = ref_value(id);
	FUZZ_CHECK(r ? json_equal(json_object_get(o, "ref"), r) : !json_object_get(o, "ref"));
	json_decref(r);
}

static void check_rejected(const struct iw_msg *m, enum iw_msg_err err, const char *why)
{
	size_t len = 0;
	char *txt;
	json_t *o;

	FUZZ_CHECK((unsigned int)err < IW_ERR_COUNT);
	FUZZ_CHECK(why && why[0]);
	txt = iw_msg_error(err, why, &m->id, &len);
	FUZZ_CHECK(txt && len == strlen(txt));
	o = check_server_text(txt, len);
	FUZZ_CHECK(str_eq(json_string_value(json_object_get(o, "code")), iw_msg_err_name(err)));
	FUZZ_CHECK(str_eq(json_string_value(json_object_get(o, "message")), why));
	check_ref(o, &m->id);
	json_decref(o);
	free(txt);
}

/* A forward's members other than `from`: only the type's own fields, each equal to the
 * input's (a candidate's absent members are null). */
static void check_forward_fields(json_t *out, json_t *in)
{
	static const char *const allowed[] = { "type", "from", "to", "sdp", "candidate", "reason" };
	const char *k;
	json_t *v;

	json_object_foreach(out, k, v)
	{
		bool known = false;
		for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
			known |= strcmp(k, allowed[i]) == 0;
		FUZZ_CHECK(known);
		if (strcmp(k, "from") == 0)
			continue;
		if (strcmp(k, "candidate") != 0) {
			FUZZ_CHECK(json_equal(v, json_object_get(in, k)));
			continue;
		}
		const char *ck;
		json_t *cv;
		json_object_foreach(v, ck, cv)
		{
			json_t *x = json_object_get(json_object_get(in, "candidate"), ck);
			FUZZ_CHECK(x ? json_equal(x, cv) : json_is_null(cv));
		}
	}
}

/* iw_msg_parse and iw_msg_parse_jansson agree: same answer, same fields, and forwards that
 * are the same JSON. */
static void check_same_as_jansson(const uint8_t *data, size_t size)
{
	struct iw_msg a, b;
	enum iw_msg_err ea = IW_ERR_COUNT, eb = IW_ERR_COUNT;
	const char *wa = NULL, *wb = NULL;
	int ra = iw_msg_parse(&a, (const char *)data, size, &ea, &wa);
	int rb = iw_msg_parse_jansson(&b, (const char *)data, size, &eb, &wb);

	FUZZ_CHECK(ra == rb);
	FUZZ_CHECK(a.id.kind == b.id.kind && a.id.num == b.id.num && a.id.len == b.id.len &&
		   memcmp(a.id.str, b.id.str, a.id.len) == 0);
	if (ra < 0) {
		FUZZ_CHECK(ea == eb && str_eq(wa, wb));
	} else {
		FUZZ_CHECK(a.type == b.type);
		FUZZ_CHECK(str_eq(a.room, b.room) && str_eq(a.peer, b.peer) && str_eq(a.resume, b.resume) &&
			   str_eq(a.to, b.to) && str_eq(a.sdp, b.sdp) && str_eq(a.reason, b.reason));
		if (a.type >= IW_MSG_OFFER && a.type <= IW_MSG_BYE) {
			size_t la = 0, lb = 0;
			char *fa = iw_msg_forward(&a, "x\"y", &la), *fb = iw_msg_forward(&b, "x\"y", &lb);
			FUZZ_CHECK(fa && fb && la == strlen(fa) && lb == strlen(fb));
			json_t *ja = json_loadb(fa, la, JSON_REJECT_DUPLICATES, NULL);
			json_t *jb = json_loadb(fb, lb, JSON_REJECT_DUPLICATES, NULL);
			FUZZ_CHECK(json_is_object(ja) && json_equal(ja, jb));
			FUZZ_CHECK(str_eq(json_string_value(json_object_get(ja, "from")), "x\"y"));
			json_decref(ja);
			json_decref(jb);
			free(fa);
			free(fb);
		}
	}
	iw_msg_fini(&a);
	iw_msg_fini(&b);
}

/* Re-serialize an accepted message and parse it again: same type and fields. root: the input
 * as JSON. */
static void check_roundtrip(const struct iw_msg *m, json_t *root)
{
	struct iw_msg b;
	enum iw_msg_err err;
	const char *why = NULL;
	size_t len = 0;
	char *txt = NULL;
	json_t *o;

	switch (m->type) {
	case IW_MSG_JOIN:
		FUZZ_CHECK(m->room && iw_room_id_is_valid(m->room));
		FUZZ_CHECK(!m->peer || iw_room_id_is_valid(m->peer));
		o = json_pack("{s:s, s:s}", "type", "join", "room", m->room);
		if (o && m->peer)
			json_object_set_new(o, "peer", json_string(m->peer));
		if (o && m->resume)
			json_object_set_new(o, "resume", json_string(m->resume));
		txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		break;
	case IW_MSG_LEAVE:
	case IW_MSG_PING:
		txt = iw_msg_pong(&m->id, &len);
		FUZZ_CHECK(txt);
		o = check_server_text(txt, len);
		check_ref(o, &m->id);
		json_decref(o);
		free(txt);
		o = json_pack("{s:s}", "type", iw_msg_type_name(m->type));
		txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		break;
	default:
		FUZZ_CHECK(m->to);
		FUZZ_CHECK((m->type != IW_MSG_OFFER && m->type != IW_MSG_ANSWER) || m->sdp);
		FUZZ_CHECK(m->type != IW_MSG_CANDIDATE || json_is_object(json_object_get(root, "candidate")));
		txt = iw_msg_forward(m, "fuzz-from", &len);
		break;
	}
	FUZZ_CHECK(txt);
	FUZZ_CHECK(iw_msg_parse(&b, txt, strlen(txt), &err, &why) == 0);
	json_t *broot = json_loads(txt, JSON_REJECT_DUPLICATES, NULL);
	FUZZ_CHECK(json_is_object(broot));
	FUZZ_CHECK(b.type == m->type);
	FUZZ_CHECK(str_eq(b.room, m->room) && str_eq(b.peer, m->peer) && str_eq(b.resume, m->resume) &&
		   str_eq(b.to, m->to) && str_eq(b.sdp, m->sdp) && str_eq(b.reason, m->reason));
	if (m->type == IW_MSG_CANDIDATE) {
		static const char *const keys[] = { "candidate", "sdpMid", "sdpMLineIndex",
						    "usernameFragment" };
		for (int i = 0; i < 4; i++) {
			json_t *x = json_object_get(json_object_get(root, "candidate"), keys[i]);
			json_t *y = json_object_get(json_object_get(broot, "candidate"), keys[i]);
			FUZZ_CHECK(x ? json_equal(x, y) : json_is_null(y));
		}
	}
	if (m->type >= IW_MSG_OFFER && m->type <= IW_MSG_BYE) {
		FUZZ_CHECK(str_eq(json_string_value(json_object_get(broot, "from")), "fuzz-from"));
		check_forward_fields(broot, root);
	}
	json_decref(broot);
	iw_msg_fini(&b);
	free(txt);
}

/* ---- the hub with two joined peers, "a" (the fuzzed sender) and "b" ---- */

struct conn {
	struct iw_hub_conn hc;
	unsigned int n_sent;
	bool closed;
};

static int h_send(void *arg, struct iw_hub_conn *c, const char *buf, size_t len)
{
	struct conn *k = (struct conn *)c;
	json_t *o = check_server_text(buf, len);
	const char *type = json_string_value(json_object_get(o, "type"));

	(void)arg;
	FUZZ_CHECK(!k->closed);
	k->n_sent++;
	/* Anything relayed between peers names its sender as the server knows it. */
	if (strcmp(type, "offer") == 0 || strcmp(type, "answer") == 0 || strcmp(type, "candidate") == 0 ||
	    strcmp(type, "end-of-candidates") == 0 || strcmp(type, "bye") == 0)
		FUZZ_CHECK(str_eq(json_string_value(json_object_get(o, "from")), "a"));
	json_decref(o);
	return 0;
}

static void h_close(void *arg, struct iw_hub_conn *c, int code, const char *reason)
{
	(void)arg;
	FUZZ_CHECK(code >= 1000 && code <= 4999 && reason && reason[0]);
	((struct conn *)c)->closed = true;
}

/* One hub for the whole run: creating it (room table, recently-gone cache) cost more than
 * the message itself. Each input starts a minute after the last ended, past every window the
 * hub remembers (resume grace, recently-gone peers), so inputs do not see each other. */
static struct iw_hub *fuzz_hub(uint64_t *now)
{
	static const struct iw_hub_cfg cfg = {
		.rooms = { .max_rooms = 4, .max_peers = 4, .grace_ms = 1000 },
		.msg_rate = 1000,
		.msg_burst = 1000,
		.max_strikes = 3,
	};
	static const struct iw_hub_ops ops = { .send = h_send, .close = h_close, .arg = NULL };
	static struct iw_hub *h;
	static uint64_t clock_ms = 1000;

	if (!h)
		h = iw_hub_create(&cfg, &ops);
	FUZZ_CHECK(h);
	clock_ms += 120000;
	*now = clock_ms;
	return h;
}

static void drive_hub(const uint8_t *data, size_t size)
{
	struct conn a = { 0 }, b = { 0 };
	static const char ja[] = "{\"type\":\"join\",\"room\":\"fz\",\"peer\":\"a\"}";
	static const char jb[] = "{\"type\":\"join\",\"room\":\"fz\",\"peer\":\"b\"}";
	uint64_t now;
	struct iw_hub *h = fuzz_hub(&now);

	FUZZ_CHECK(iw_room_set_count(iw_hub_rooms(h)) == 0);
	iw_hub_conn_init(&a.hc, h, now);
	iw_hub_conn_init(&b.hc, h, now);
	iw_hub_receive(h, &a.hc, ja, sizeof(ja) - 1, now);
	iw_hub_receive(h, &b.hc, jb, sizeof(jb) - 1, now);
	FUZZ_CHECK(a.hc.peer && b.hc.peer);

	/* The input as one message, then again (already-joined, repeated errors, strikes). */
	for (int i = 0; i < 2; i++) {
		unsigned int before = a.n_sent + b.n_sent;
		iw_hub_receive(h, &a.hc, (const char *)data, size, ++now);
		/* Every message gets an answer or a forward unless it is a leave, or the
		 * connection was closed for abuse. */
		FUZZ_CHECK(a.n_sent + b.n_sent > before || a.closed || a.hc.closing || !a.hc.peer);
	}
	iw_hub_conn_gone(h, &a.hc, false, ++now);
	iw_hub_tick(h, now + 2000);
	iw_hub_conn_gone(h, &b.hc, true, now + 2001);
	FUZZ_CHECK(iw_room_set_count(iw_hub_rooms(h)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iw_msg m;
	enum iw_msg_err err = IW_ERR_COUNT;
	const char *why = NULL;

	if (iw_msg_parse(&m, (const char *)data, size, &err, &why) < 0) {
		check_rejected(&m, err, why);
	} else {
		FUZZ_CHECK((unsigned int)m.type < IW_MSG_TYPE_COUNT);
		json_t *root =
			json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
		FUZZ_CHECK(json_is_object(root));
		/* the id kept is the one sent */
		json_t *id = json_object_get(root, "id"), *r = ref_value(&m.id);
		FUZZ_CHECK(id ? json_equal(id, r) : !r);
		json_decref(r);
		check_roundtrip(&m, root);
		json_decref(root);
	}
	iw_msg_fini(&m);
	check_same_as_jansson(data, size);
	drive_hub(data, size);
	return 0;
}
