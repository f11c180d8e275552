/* Signaling JSON: validation of client messages and the server's replies, through jansson.
 * Only the fields named here are ever forwarded, so a client cannot smuggle a `from`. */
#include "signaling/msg.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "signaling/room.h"

static const char *const err_names[IW_ERR_COUNT] = {
	[IW_ERR_BAD_JSON] = "bad-json",           [IW_ERR_NOT_OBJECT] = "not-object",
	[IW_ERR_UNKNOWN_TYPE] = "unknown-type",   [IW_ERR_BAD_FIELD] = "bad-field",
	[IW_ERR_UNKNOWN_PEER] = "unknown-peer",   [IW_ERR_ROOM_FULL] = "room-full",
	[IW_ERR_NOT_JOINED] = "not-joined",       [IW_ERR_TOO_LARGE] = "too-large",
	[IW_ERR_RATE_LIMITED] = "rate-limited",   [IW_ERR_ALREADY_JOINED] = "already-joined",
	[IW_ERR_PEER_ID_TAKEN] = "peer-id-taken", [IW_ERR_TOO_MANY_ROOMS] = "too-many-rooms",
	[IW_ERR_UNAUTHORIZED] = "unauthorized",   [IW_ERR_INTERNAL] = "internal",
	[IW_ERR_UNAVAILABLE] = "unavailable",
};

static const char *const type_names[IW_MSG_TYPE_COUNT] = {
	[IW_MSG_JOIN] = "join",
	[IW_MSG_LEAVE] = "leave",
	[IW_MSG_OFFER] = "offer",
	[IW_MSG_ANSWER] = "answer",
	[IW_MSG_CANDIDATE] = "candidate",
	[IW_MSG_END_OF_CANDIDATES] = "end-of-candidates",
	[IW_MSG_BYE] = "bye",
	[IW_MSG_PING] = "ping",
};

const char *iw_msg_err_name(enum iw_msg_err e)
{
	return (unsigned)e < IW_ERR_COUNT ? err_names[e] : "internal";
}

const char *iw_msg_type_name(enum iw_msg_type t)
{
	return (unsigned)t < IW_MSG_TYPE_COUNT ? type_names[t] : "?";
}

/* A string field: required or optional, with a maximum length. NULL result when absent. */
static int get_str(json_t *o, const char *key, bool required, size_t max, const char **out, const char **why)
{
	json_t *v = json_object_get(o, key);
	*out = NULL;
	if (!v || (!required && json_is_null(v))) {
		if (!required)
			return 0;
		*why = key; /* the caller words it */
		return -EBADMSG;
	}
	if (!json_is_string(v) || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		*why = key;
		return -EBADMSG;
	}
	*out = json_string_value(v);
	return 0;
}

static int check_candidate(json_t *c, const char **why)
{
	json_t *v;
	if (!json_is_object(c)) {
		*why = "candidate must be an object (RTCIceCandidate.toJSON())";
		return -EBADMSG;
	}
	v = json_object_get(c, "candidate");
	if (!json_is_string(v) || json_string_length(v) > IW_MSG_CANDIDATE_MAX) {
		*why = "candidate.candidate must be a string of at most 1024 bytes";
		return -EBADMSG;
	}
	v = json_object_get(c, "sdpMid");
	if (v && !json_is_null(v) && (!json_is_string(v) || json_string_length(v) > 64)) {
		*why = "candidate.sdpMid must be a string or null";
		return -EBADMSG;
	}
	v = json_object_get(c, "sdpMLineIndex");
	if (v && !json_is_null(v) &&
	    (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65535)) {
		*why = "candidate.sdpMLineIndex must be an integer 0-65535 or null";
		return -EBADMSG;
	}
	v = json_object_get(c, "usernameFragment");
	if (v && !json_is_null(v) && (!json_is_string(v) || json_string_length(v) > 256)) {
		*why = "candidate.usernameFragment must be a string or null";
		return -EBADMSG;
	}
	return 0;
}

/* The message's JSON root. struct iw_msg_doc is never defined: it is jansson's json_t seen
 * from outside. */
static json_t *root_of(const struct iw_msg *m)
{
	return (json_t *)m->doc;
}

static void ref_set(struct iw_msg_ref *r, const json_t *v)
{
	if (json_is_integer(v)) {
		r->kind = IW_MSG_REF_INT;
		r->num = json_integer_value(v);
	} else {
		r->kind = IW_MSG_REF_STR;
		r->len = json_string_length(v);
		memcpy(r->str, json_string_value(v), r->len);
	}
}

/* A new JSON value for ref, or NULL when there is none. */
static json_t *ref_json(const struct iw_msg_ref *r)
{
	if (!r || r->kind == IW_MSG_REF_NONE)
		return NULL;
	return r->kind == IW_MSG_REF_INT ? json_integer(r->num) : json_stringn(r->str, r->len);
}

static int fail(enum iw_msg_err *err, enum iw_msg_err e, const char **why, const char *w)
{
	*err = e;
	*why = w;
	return -EBADMSG;
}

int iw_msg_parse(struct iw_msg *m, const char *buf, size_t len, enum iw_msg_err *err, const char **why)
{
	json_error_t jerr;
	json_t *t, *root, *id, *cand;
	const char *tn, *k;
	int i;

	memset(m, 0, sizeof *m);
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	m->doc = (struct iw_msg_doc *)root;
	if (!root)
		return fail(err, IW_ERR_BAD_JSON, why, "message is not valid JSON");
	if (!json_is_object(root))
		return fail(err, IW_ERR_NOT_OBJECT, why, "message must be a JSON object");

	id = json_object_get(root, "id");
	if (id && !(json_is_integer(id) || (json_is_string(id) && json_string_length(id) <= IW_MSG_ID_MAX)))
		return fail(err, IW_ERR_BAD_FIELD, why,
			    "id must be an integer or a string of at most 64 bytes");
	if (id)
		ref_set(&m->id, id);

	t = json_object_get(root, "type");
	if (!t)
		return fail(err, IW_ERR_BAD_FIELD, why, "missing field: type");
	if (!json_is_string(t))
		return fail(err, IW_ERR_BAD_FIELD, why, "type must be a string");
	tn = json_string_value(t);
	for (i = 0; i < IW_MSG_TYPE_COUNT; i++)
		if (strcmp(tn, type_names[i]) == 0)
			break;
	if (i == IW_MSG_TYPE_COUNT)
		return fail(err, IW_ERR_UNKNOWN_TYPE, why, "unknown message type");
	m->type = (enum iw_msg_type)i;

	switch (m->type) {
	case IW_MSG_JOIN:
		if (get_str(root, "room", true, 1024, &m->room, &k) < 0 || !iw_room_id_is_valid(m->room))
			return fail(err, IW_ERR_BAD_FIELD, why,
				    "room must be 1-64 characters of A-Z a-z 0-9 . _ ~ -");
		if (get_str(root, "peer", false, 1024, &m->peer, &k) < 0 ||
		    (m->peer && !iw_room_id_is_valid(m->peer)))
			return fail(err, IW_ERR_BAD_FIELD, why,
				    "peer must be 1-64 characters of A-Z a-z 0-9 . _ ~ -");
		if (get_str(root, "resume", false, IW_ROOM_RESUME_LEN, &m->resume, &k) < 0)
			return fail(err, IW_ERR_BAD_FIELD, why, "resume must be a string");
		break;
	case IW_MSG_LEAVE:
	case IW_MSG_PING:
		break;
	case IW_MSG_OFFER:
	case IW_MSG_ANSWER:
	case IW_MSG_CANDIDATE:
	case IW_MSG_END_OF_CANDIDATES:
	case IW_MSG_BYE:
		if (get_str(root, "to", true, IW_ROOM_ID_MAX, &m->to, &k) < 0)
			return fail(err, IW_ERR_BAD_FIELD, why,
				    json_object_get(root, "to") ? "to must be a peer id string"
								: "missing field: to");
		if (m->type == IW_MSG_OFFER || m->type == IW_MSG_ANSWER) {
			if (get_str(root, "sdp", true, IW_MSG_SDP_MAX, &m->sdp, &k) < 0)
				return fail(err, IW_ERR_BAD_FIELD, why,
					    json_object_get(root, "sdp") ? "sdp must be a string"
									 : "missing field: sdp");
		} else if (m->type == IW_MSG_CANDIDATE) {
			cand = json_object_get(root, "candidate");
			if (!cand)
				return fail(err, IW_ERR_BAD_FIELD, why, "missing field: candidate");
			if (check_candidate(cand, why) < 0) {
				*err = IW_ERR_BAD_FIELD;
				return -EBADMSG;
			}
		} else if (m->type == IW_MSG_BYE) {
			if (get_str(root, "reason", false, 256, &m->reason, &k) < 0)
				return fail(err, IW_ERR_BAD_FIELD, why,
					    "reason must be a string of at most 256 bytes");
		}
		break;
	case IW_MSG_TYPE_COUNT:
		break;
	}
	return 0;
}

void iw_msg_fini(struct iw_msg *m)
{
	json_decref(root_of(m));
	m->doc = NULL;
}

static char *dump(json_t *o, size_t *len)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (s)
		*len = strlen(s);
	return s;
}

static json_t *copy_opt(json_t *src, const char *key)
{
	json_t *v = json_object_get(src, key);
	return v ? json_incref(v) : json_null();
}

char *iw_msg_forward(const struct iw_msg *m, const char *from, size_t *len)
{
	json_t *o =
		json_pack("{s:s, s:s, s:s}", "type", iw_msg_type_name(m->type), "from", from, "to", m->to);
	if (!o)
		return NULL;
	switch (m->type) {
	case IW_MSG_OFFER:
	case IW_MSG_ANSWER:
		/* The parsed string itself (shared, not copied and checked again). */
		json_object_set(o, "sdp", json_object_get(root_of(m), "sdp"));
		break;
	case IW_MSG_CANDIDATE: {
		json_t *c = json_object(), *src = json_object_get(root_of(m), "candidate");
		json_object_set_new(c, "candidate", copy_opt(src, "candidate"));
		json_object_set_new(c, "sdpMid", copy_opt(src, "sdpMid"));
		json_object_set_new(c, "sdpMLineIndex", copy_opt(src, "sdpMLineIndex"));
		json_object_set_new(c, "usernameFragment", copy_opt(src, "usernameFragment"));
		json_object_set_new(o, "candidate", c);
		break;
	}
	case IW_MSG_BYE:
		if (m->reason)
			json_object_set_new(o, "reason", json_string(m->reason));
		break;
	default:
		break;
	}
	return dump(o, len);
}

char *iw_msg_error(enum iw_msg_err e, const char *message, const struct iw_msg_ref *ref, size_t *len)
{
	json_t *o = json_pack("{s:s, s:s, s:s}", "type", "error", "code", iw_msg_err_name(e), "message",
			      message ? message : iw_msg_err_name(e));
	json_t *r = ref_json(ref);
	if (o && r)
		json_object_set(o, "ref", r);
	json_decref(r);
	return dump(o, len);
}

char *iw_msg_presence(bool joined, const char *peer, size_t *len)
{
	return dump(json_pack("{s:s, s:s}", "type", joined ? "peer-joined" : "peer-left", "peer", peer), len);
}

static json_t *str_array(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* [{urls:[stun..]}, {urls:[turn..], username, credential}], each entry only when it has URIs. */
static json_t *ice_json(const struct iw_ice_servers *ice)
{
	json_t *a = json_array();
	if (!a || !ice)
		return a;
	if (ice->n_stun)
		json_array_append_new(a, json_pack("{s:o}", "urls", str_array(ice->stun, ice->n_stun)));
	if (ice->n_turn)
		json_array_append_new(a,
				      json_pack("{s:o, s:s, s:s}", "urls", str_array(ice->turn, ice->n_turn),
						"username", ice->username, "credential", ice->credential));
	return a;
}

char *iw_msg_welcome(const char *room, const char *peer, const char *resume, bool resumed,
		     const char *const *peers, size_t n_peers, const struct iw_ice_servers *ice, size_t *len)
{
	return dump(json_pack("{s:s, s:s, s:s, s:s, s:b, s:o, s:o}", "type", "welcome", "room", room, "peer",
			      peer, "resume", resume, "resumed", resumed, "peers", str_array(peers, n_peers),
			      "iceServers", ice_json(ice)),
		    len);
}

char *iw_msg_pong(const struct iw_msg_ref *ref, size_t *len)
{
	json_t *o = json_pack("{s:s}", "type", "pong");
	json_t *r = ref_json(ref);
	if (o && r)
		json_object_set(o, "ref", r);
	json_decref(r);
	return dump(o, len);
}

char *iw_msg_join(const char *room, size_t *len)
{
	return dump(json_pack("{s:s, s:s}", "type", "join", "room", room), len);
}
