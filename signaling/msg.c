/* Signaling JSON: validation of client messages and the server's replies. Client messages
 * are read by a strict scanner for the shapes clients send, and by jansson for everything
 * else; replies other than forwards are built with jansson. Only the fields named here are
 * ever forwarded, so a client cannot smuggle a `from`. */
#include "signaling/msg.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
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

/* ---- the fields a message is validated on, from either parser ---- */

enum fkind { F_ABSENT, F_NULL, F_BOOL, F_INT, F_REAL, F_STR, F_OBJ, F_ARR };

/* One field's value. raw: the value's own JSON text inside the received message (fast path
 * only), so a forward can splice it instead of encoding it again. */
struct fval {
	enum fkind kind;
	const char *s; /* F_STR: decoded, NUL-terminated */
	size_t len;    /* F_STR: bytes in s */
	int64_t i;     /* F_INT */
	const char *raw;
	size_t raw_len;
};

enum { K_TYPE, K_ID, K_ROOM, K_PEER, K_RESUME, K_TO, K_SDP, K_CANDIDATE, K_REASON, K_COUNT };
enum { C_CANDIDATE, C_SDP_MID, C_MLINE, C_UFRAG, C_COUNT };
static const char *const top_keys[K_COUNT] = { "type", "id",  "room",      "peer",  "resume",
					       "to",   "sdp", "candidate", "reason" };
static const char *const cand_keys[C_COUNT] = { "candidate", "sdpMid", "sdpMLineIndex", "usernameFragment" };

struct iw_msg_doc {
	json_t *root; /* the reference parser's tree, or NULL */
	struct fval top[K_COUNT];
	struct fval cand[C_COUNT]; /* the members of top[K_CANDIDATE] when it is an object */
	char arena[];              /* fast path: decoded strings, never longer than the input */
};

/* ---- fast path: a strict scanner for the shapes clients send ----
 * It accepts a subset of what jansson (JSON_REJECT_DUPLICATES) accepts and yields the same
 * values: an object of at most FAST_KEYS members whose keys have no escapes, values that are
 * strings, integers in int64, true, false, null, and (for "candidate" only) one nested object
 * of the same. Anything else (reals, arrays, deeper nesting, escaped keys, repeated keys, bad
 * UTF-8, \u0000, syntax errors) goes to jansson, which decides; fuzz_sigmsg checks that both
 * parsers agree on every input. */

enum { FAST_KEYS = 16 };

struct scan {
	const unsigned char *p, *end;
	char *out; /* arena cursor */
};

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int hex4(const unsigned char *p, uint32_t *out)
{
	uint32_t v = 0;
	for (int k = 0; k < 4; k++) {
		unsigned char c = p[k];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	*out = v;
	return 0;
}

static char *put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xC0 | (cp >> 6));
		*o++ = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xE0 | (cp >> 12));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*o++ = (char)(0x80 | (cp & 0x3F));
	} else {
		*o++ = (char)(0xF0 | (cp >> 18));
		*o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*o++ = (char)(0x80 | (cp & 0x3F));
	}
	return o;
}

/* One \uXXXX escape (a surrogate pair as two) at p, which points at the backslash. */
static int scan_uescape(struct scan *s, const unsigned char **pp, char **oo)
{
	const unsigned char *p = *pp;
	uint32_t cp, low;

	if (s->end - p < 6 || hex4(p + 2, &cp) < 0)
		return -1;
	p += 6;
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		if (s->end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &low) < 0 || low < 0xDC00 ||
		    low > 0xDFFF)
			return -1;
		p += 6;
		cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
	} else if ((cp >= 0xDC00 && cp <= 0xDFFF) || cp == 0) {
		return -1; /* a lone low surrogate; a NUL, which jansson refuses by default */
	}
	*oo = put_utf8(*oo, cp);
	*pp = p;
	return 0;
}

/* A string value at s->p (its opening quote), decoded into the arena. */
static int scan_str(struct scan *s, struct fval *v)
{
	const unsigned char *p = s->p + 1, *q;
	char *o = s->out;
	size_t n;

	v->raw = (const char *)s->p;
	for (;;) {
		for (q = p; q < s->end && *q >= 0x20 && *q < 0x80 && *q != '"' && *q != '\\'; q++)
			;
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		p = q;
		if (p >= s->end || *p < 0x20)
			return -1;
		if (*p == '"')
			break;
		if (*p != '\\') {
			if (!(n = iw_utf8_len(p, (size_t)(s->end - p))))
				return -1;
			memcpy(o, p, n);
			o += n;
			p += n;
			continue;
		}
		if (s->end - p < 2)
			return -1;
		static const char esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";
		const char *e = p[1] ? strchr(esc_in, p[1]) : NULL;
		if (e) {
			*o++ = esc_out[e - esc_in];
			p += 2;
		} else if (p[1] != 'u' || scan_uescape(s, &p, &o) < 0) {
			return -1;
		}
	}
	*o++ = '\0';
	v->kind = F_STR;
	v->s = s->out;
	v->len = (size_t)(o - 1 - s->out);
	s->out = o;
	s->p = p + 1;
	v->raw_len = (size_t)((const char *)s->p - v->raw);
	return 0;
}

/* A key with no escapes and no control characters, as raw bytes. */
static int scan_key(struct scan *s, const unsigned char **key, size_t *len)
{
	const unsigned char *p = s->p + 1;
	size_t n;

	*key = p;
	while (p < s->end && *p != '"') {
		if (*p < 0x20 || *p == '\\')
			return -1;
		if (*p < 0x80)
			n = 1;
		else if (!(n = iw_utf8_len(p, (size_t)(s->end - p))))
			return -1;
		p += n;
	}
	if (p >= s->end)
		return -1;
	*len = (size_t)(p - *key);
	s->p = p + 1;
	return 0;
}

/* An integer: -?(0|[1-9][0-9]*) within int64. A real is left to jansson. */
static int scan_int(struct scan *s, struct fval *v)
{
	const unsigned char *p = s->p;
	bool neg = *p == '-';
	uint64_t u = 0, lim;

	v->raw = (const char *)p;
	if (neg)
		p++;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	if (p >= s->end || *p < '0' || *p > '9')
		return -1;
	if (*p == '0') {
		p++;
	} else {
		for (; p < s->end && *p >= '0' && *p <= '9'; p++) {
			unsigned int d = *p - '0';
			if (u > (lim - d) / 10)
				return -1;
			u = u * 10 + d;
		}
	}
	if (p < s->end && ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E'))
		return -1;
	v->kind = F_INT;
	v->i = neg ? (u ? -(int64_t)(u - 1) - 1 : 0) : (int64_t)u;
	s->p = p;
	v->raw_len = (size_t)((const char *)p - v->raw);
	return 0;
}

static int scan_lit(struct scan *s, struct fval *v, const char *lit, enum fkind kind)
{
	size_t n = strlen(lit);
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
		return -1;
	v->kind = kind;
	v->raw = (const char *)s->p;
	v->raw_len = n;
	s->p += n;
	return 0;
}

static int scan_obj(struct scan *s, struct iw_msg_doc *d, bool top);

static int scan_val(struct scan *s, struct iw_msg_doc *d, struct fval *v, bool obj_ok)
{
	const unsigned char *start = s->p;

	if (s->p >= s->end)
		return -1;
	switch (*s->p) {
	case '"':
		return scan_str(s, v);
	case '{':
		if (!obj_ok || scan_obj(s, d, false) < 0)
			return -1;
		v->kind = F_OBJ;
		v->raw = (const char *)start;
		v->raw_len = (size_t)(s->p - start);
		return 0;
	case 't':
		return scan_lit(s, v, "true", F_BOOL);
	case 'f':
		return scan_lit(s, v, "false", F_BOOL);
	case 'n':
		return scan_lit(s, v, "null", F_NULL);
	default:
		return scan_int(s, v);
	}
}

/* An object at s->p: the top-level message (top) or its "candidate". Members fill the slots
 * of the keys msg.c knows; the others are checked and skipped. */
static int scan_obj(struct scan *s, struct iw_msg_doc *d, bool top)
{
	const unsigned char *keys[FAST_KEYS];
	size_t klen[FAST_KEYS], n = 0;

	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return 0;
	}
	for (;;) {
		const char *const *names = top ? top_keys : cand_keys;
		size_t n_names = top ? K_COUNT : C_COUNT, i;
		struct fval skip, *slot = &skip;

		skip_ws(s);
		if (n == FAST_KEYS || s->p >= s->end || *s->p != '"' || scan_key(s, &keys[n], &klen[n]) < 0)
			return -1;
		for (i = 0; i < n; i++)
			if (klen[i] == klen[n] && memcmp(keys[i], keys[n], klen[n]) == 0)
				return -1; /* repeated: jansson words the error */
		for (i = 0; i < n_names; i++)
			if (strlen(names[i]) == klen[n] && memcmp(names[i], keys[n], klen[n]) == 0)
				slot = top ? &d->top[i] : &d->cand[i];
		n++;
		skip_ws(s);
		if (s->p >= s->end || *s->p != ':')
			return -1;
		s->p++;
		skip_ws(s);
		if (scan_val(s, d, slot, top && slot == &d->top[K_CANDIDATE]) < 0)
			return -1;
		skip_ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == '}') {
			s->p++;
			return 0;
		}
		return -1;
	}
}

static int fast_load(struct iw_msg_doc *d, const char *buf, size_t len)
{
	struct scan s = { (const unsigned char *)buf, (const unsigned char *)buf + len, d->arena };

	skip_ws(&s);
	if (s.p >= s.end || *s.p != '{' || scan_obj(&s, d, true) < 0)
		return -1;
	skip_ws(&s);
	return s.p == s.end ? 0 : -1;
}

/* ---- the reference path: jansson ---- */

static void fval_of(struct fval *v, json_t *j)
{
	memset(v, 0, sizeof *v);
	switch (j ? json_typeof(j) : JSON_NULL) {
	case JSON_OBJECT:
		v->kind = F_OBJ;
		break;
	case JSON_ARRAY:
		v->kind = F_ARR;
		break;
	case JSON_STRING:
		v->kind = F_STR;
		v->s = json_string_value(j);
		v->len = json_string_length(j);
		break;
	case JSON_INTEGER:
		v->kind = F_INT;
		v->i = json_integer_value(j);
		break;
	case JSON_REAL:
		v->kind = F_REAL;
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		v->kind = F_BOOL;
		break;
	case JSON_NULL:
		v->kind = j ? F_NULL : F_ABSENT;
		break;
	}
}

static int fail(enum iw_msg_err *err, enum iw_msg_err e, const char **why, const char *w)
{
	*err = e;
	*why = w;
	return -EBADMSG;
}

static int jansson_load(struct iw_msg_doc *d, const char *buf, size_t len, enum iw_msg_err *err,
			const char **why)
{
	json_error_t jerr;
	json_t *cand;

	memset(d, 0, sizeof *d);
	d->root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!d->root)
		return fail(err, IW_ERR_BAD_JSON, why, "message is not valid JSON");
	if (!json_is_object(d->root))
		return fail(err, IW_ERR_NOT_OBJECT, why, "message must be a JSON object");
	for (int i = 0; i < K_COUNT; i++)
		fval_of(&d->top[i], json_object_get(d->root, top_keys[i]));
	cand = json_object_get(d->root, "candidate");
	if (json_is_object(cand))
		for (int i = 0; i < C_COUNT; i++)
			fval_of(&d->cand[i], json_object_get(cand, cand_keys[i]));
	return 0;
}

/* ---- validation, the same for both parsers ---- */

/* A string field: required or optional, with a maximum length, without NUL. NULL result
 * when absent (or null, when optional). */
static int get_str(const struct fval *v, bool required, size_t max, const char **out)
{
	*out = NULL;
	if (v->kind == F_ABSENT || (!required && v->kind == F_NULL))
		return required ? -EBADMSG : 0;
	if (v->kind != F_STR || v->len > max || strlen(v->s) != v->len)
		return -EBADMSG;
	*out = v->s;
	return 0;
}

static bool absent_or_null(const struct fval *v)
{
	return v->kind == F_ABSENT || v->kind == F_NULL;
}

static int check_candidate(const struct iw_msg_doc *d, const char **why)
{
	const struct fval *v;

	if (d->top[K_CANDIDATE].kind != F_OBJ) {
		*why = "candidate must be an object (RTCIceCandidate.toJSON())";
		return -EBADMSG;
	}
	v = &d->cand[C_CANDIDATE];
	if (v->kind != F_STR || v->len > IW_MSG_CANDIDATE_MAX) {
		*why = "candidate.candidate must be a string of at most 1024 bytes";
		return -EBADMSG;
	}
	v = &d->cand[C_SDP_MID];
	if (!absent_or_null(v) && (v->kind != F_STR || v->len > 64)) {
		*why = "candidate.sdpMid must be a string or null";
		return -EBADMSG;
	}
	v = &d->cand[C_MLINE];
	if (!absent_or_null(v) && (v->kind != F_INT || v->i < 0 || v->i > 65535)) {
		*why = "candidate.sdpMLineIndex must be an integer 0-65535 or null";
		return -EBADMSG;
	}
	v = &d->cand[C_UFRAG];
	if (!absent_or_null(v) && (v->kind != F_STR || v->len > 256)) {
		*why = "candidate.usernameFragment must be a string or null";
		return -EBADMSG;
	}
	return 0;
}

static void ref_set(struct iw_msg_ref *r, const struct fval *v)
{
	if (v->kind == F_INT) {
		r->kind = IW_MSG_REF_INT;
		r->num = v->i;
	} else {
		r->kind = IW_MSG_REF_STR;
		r->len = v->len;
		memcpy(r->str, v->s, r->len);
	}
}

/* A new JSON value for ref, or NULL when there is none. */
static json_t *ref_json(const struct iw_msg_ref *r)
{
	if (!r || r->kind == IW_MSG_REF_NONE)
		return NULL;
	return r->kind == IW_MSG_REF_INT ? json_integer(r->num) : json_stringn(r->str, r->len);
}

static int validate(struct iw_msg *m, const struct iw_msg_doc *d, enum iw_msg_err *err, const char **why)
{
	const struct fval *id = &d->top[K_ID], *t = &d->top[K_TYPE];
	int i;

	if (id->kind != F_ABSENT && !(id->kind == F_INT || (id->kind == F_STR && id->len <= IW_MSG_ID_MAX)))
		return fail(err, IW_ERR_BAD_FIELD, why,
			    "id must be an integer or a string of at most 64 bytes");
	if (id->kind != F_ABSENT)
		ref_set(&m->id, id);

	if (t->kind == F_ABSENT)
		return fail(err, IW_ERR_BAD_FIELD, why, "missing field: type");
	if (t->kind != F_STR)
		return fail(err, IW_ERR_BAD_FIELD, why, "type must be a string");
	/* The whole string, NULs included: "offer\u0000x" is not "offer". */
	for (i = 0; i < IW_MSG_TYPE_COUNT; i++)
		if (strlen(type_names[i]) == t->len && memcmp(t->s, type_names[i], t->len) == 0)
			break;
	if (i == IW_MSG_TYPE_COUNT)
		return fail(err, IW_ERR_UNKNOWN_TYPE, why, "unknown message type");
	m->type = (enum iw_msg_type)i;

	switch (m->type) {
	case IW_MSG_JOIN:
		if (get_str(&d->top[K_ROOM], true, 1024, &m->room) < 0 || !iw_room_id_is_valid(m->room))
			return fail(err, IW_ERR_BAD_FIELD, why,
				    "room must be 1-64 characters of A-Z a-z 0-9 . _ ~ -");
		if (get_str(&d->top[K_PEER], false, 1024, &m->peer) < 0 ||
		    (m->peer && !iw_room_id_is_valid(m->peer)))
			return fail(err, IW_ERR_BAD_FIELD, why,
				    "peer must be 1-64 characters of A-Z a-z 0-9 . _ ~ -");
		if (get_str(&d->top[K_RESUME], false, IW_ROOM_RESUME_LEN, &m->resume) < 0)
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
		if (get_str(&d->top[K_TO], true, IW_ROOM_ID_MAX, &m->to) < 0)
			return fail(err, IW_ERR_BAD_FIELD, why,
				    d->top[K_TO].kind != F_ABSENT ? "to must be a peer id string"
								  : "missing field: to");
		if (m->type == IW_MSG_OFFER || m->type == IW_MSG_ANSWER) {
			if (get_str(&d->top[K_SDP], true, IW_MSG_SDP_MAX, &m->sdp) < 0)
				return fail(err, IW_ERR_BAD_FIELD, why,
					    d->top[K_SDP].kind != F_ABSENT ? "sdp must be a string"
									   : "missing field: sdp");
		} else if (m->type == IW_MSG_CANDIDATE) {
			if (d->top[K_CANDIDATE].kind == F_ABSENT)
				return fail(err, IW_ERR_BAD_FIELD, why, "missing field: candidate");
			if (check_candidate(d, why) < 0) {
				*err = IW_ERR_BAD_FIELD;
				return -EBADMSG;
			}
		} else if (m->type == IW_MSG_BYE) {
			if (get_str(&d->top[K_REASON], false, 256, &m->reason) < 0)
				return fail(err, IW_ERR_BAD_FIELD, why,
					    "reason must be a string of at most 256 bytes");
		}
		break;
	case IW_MSG_TYPE_COUNT:
		break;
	}
	return 0;
}

static int parse(struct iw_msg *m, const char *buf, size_t len, bool fast, enum iw_msg_err *err,
		 const char **why)
{
	struct iw_msg_doc *d;
	int rc;

	memset(m, 0, sizeof *m);
	/* The arena holds every decoded string of the fast path: never more than the input. */
	d = malloc(sizeof *d + (fast ? len + 1 : 0));
	if (!d)
		return fail(err, IW_ERR_INTERNAL, why, "out of memory");
	m->doc = d;
	memset(d, 0, sizeof *d);
	if (!fast || fast_load(d, buf, len) < 0) {
		rc = jansson_load(d, buf, len, err, why);
		if (rc < 0)
			return rc;
	}
	return validate(m, d, err, why);
}

int iw_msg_parse(struct iw_msg *m, const char *buf, size_t len, enum iw_msg_err *err, const char **why)
{
	return parse(m, buf, len, true, err, why);
}

int iw_msg_parse_jansson(struct iw_msg *m, const char *buf, size_t len, enum iw_msg_err *err,
			 const char **why)
{
	return parse(m, buf, len, false, err, why);
}

void iw_msg_fini(struct iw_msg *m)
{
	if (m->doc)
		json_decref(m->doc->root);
	free(m->doc);
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

/* ---- the forwarded form, written directly: no tree, and the values the fast path saw are
 * spliced from the received text as they were sent (already checked to be valid JSON) ---- */

struct out {
	char *p;
};

static void out_raw(struct out *o, const char *s, size_t n)
{
	memcpy(o->p, s, n);
	o->p += n;
}

static void out_lit(struct out *o, const char *s)
{
	out_raw(o, s, strlen(s));
}

/* A JSON string of n bytes of valid UTF-8: at most 6n + 2 bytes. */
static void out_esc(struct out *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	*o->p++ = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			*o->p++ = '\\';
			*o->p++ = (char)c;
		} else if (c >= '\b' && c <= '\r' && c != '\v') {
			*o->p++ = '\\';
			*o->p++ = "btnvfr"[c - '\b'];
		} else if (c < 0x20) {
			out_lit(o, "\\u00");
			*o->p++ = hex[c >> 4];
			*o->p++ = hex[c & 15];
		} else {
			*o->p++ = (char)c;
		}
	}
	*o->p++ = '"';
}

/* Bytes out_val writes at most. */
static size_t val_max(const struct fval *v)
{
	if (v->raw)
		return v->raw_len;
	return v->kind == F_STR ? 6 * v->len + 2 : 24;
}

/* A string, an integer or null (anything else, absent included, as null). */
static void out_val(struct out *o, const struct fval *v)
{
	char num[24];
	if (v->raw && v->kind != F_OBJ) {
		out_raw(o, v->raw, v->raw_len);
	} else if (v->kind == F_STR) {
		out_esc(o, v->s, v->len);
	} else if (v->kind == F_INT) {
		snprintf(num, sizeof num, "%lld", (long long)v->i);
		out_lit(o, num);
	} else {
		out_lit(o, "null");
	}
}

char *iw_msg_forward(const struct iw_msg *m, const char *from, size_t *len)
{
	const struct iw_msg_doc *d = m->doc;
	const struct fval *reason = &d->top[K_REASON];
	size_t cap = 160 + 6 * strlen(from) + val_max(&d->top[K_TO]);
	struct out o;
	char *buf;

	switch (m->type) {
	case IW_MSG_OFFER:
	case IW_MSG_ANSWER:
		cap += val_max(&d->top[K_SDP]);
		break;
	case IW_MSG_CANDIDATE:
		for (int i = 0; i < C_COUNT; i++)
			cap += val_max(&d->cand[i]);
		break;
	case IW_MSG_BYE:
		cap += m->reason ? val_max(reason) : 0;
		break;
	default:
		break;
	}
	buf = malloc(cap);
	if (!buf)
		return NULL;
	o.p = buf;
	out_lit(&o, "{\"type\":\"");
	out_lit(&o, iw_msg_type_name(m->type));
	out_lit(&o, "\",\"from\":");
	out_esc(&o, from, strlen(from));
	out_lit(&o, ",\"to\":");
	out_val(&o, &d->top[K_TO]);
	switch (m->type) {
	case IW_MSG_OFFER:
	case IW_MSG_ANSWER:
		out_lit(&o, ",\"sdp\":");
		out_val(&o, &d->top[K_SDP]);
		break;
	case IW_MSG_CANDIDATE:
		for (int i = 0; i < C_COUNT; i++) {
			out_lit(&o, i ? ",\"" : ",\"candidate\":{\"");
			out_lit(&o, cand_keys[i]);
			out_lit(&o, "\":");
			out_val(&o, &d->cand[i]);
		}
		*o.p++ = '}';
		break;
	case IW_MSG_BYE:
		if (m->reason) {
			out_lit(&o, ",\"reason\":");
			out_val(&o, reason);
		}
		break;
	default:
		break;
	}
	*o.p++ = '}';
	*o.p = '\0';
	*len = (size_t)(o.p - buf);
	return buf;
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
