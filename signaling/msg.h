/* Signaling messages: parse and validate a client's JSON text into a struct iw_msg, and
 * serialize what the server sends. The JSON libraries stay inside msg.c: callers see plain C
 * views and values. */
#ifndef IW_SIGNALING_MSG_H
#define IW_SIGNALING_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "signaling/ice_servers.h"

enum iw_msg_type {
	IW_MSG_JOIN,
	IW_MSG_LEAVE,
	IW_MSG_OFFER,
	IW_MSG_ANSWER,
	IW_MSG_CANDIDATE,
	IW_MSG_END_OF_CANDIDATES,
	IW_MSG_BYE,
	IW_MSG_PING,
	IW_MSG_TYPE_COUNT,
};

/* Error codes sent as {"type":"error","code":NAME}; names in iw_msg_err_name. */
enum iw_msg_err {
	IW_ERR_BAD_JSON,       /* "bad-json": not JSON (or not UTF-8) */
	IW_ERR_NOT_OBJECT,     /* "not-object" */
	IW_ERR_UNKNOWN_TYPE,   /* "unknown-type" */
	IW_ERR_BAD_FIELD,      /* "bad-field": missing or ill-typed field */
	IW_ERR_UNKNOWN_PEER,   /* "unknown-peer": `to` names nobody in the room */
	IW_ERR_ROOM_FULL,      /* "room-full" */
	IW_ERR_NOT_JOINED,     /* "not-joined" */
	IW_ERR_TOO_LARGE,      /* "too-large" */
	IW_ERR_RATE_LIMITED,   /* "rate-limited" */
	IW_ERR_ALREADY_JOINED, /* "already-joined" */
	IW_ERR_PEER_ID_TAKEN,  /* "peer-id-taken" */
	IW_ERR_TOO_MANY_ROOMS, /* "too-many-rooms" */
	IW_ERR_UNAUTHORIZED,   /* "unauthorized": the token does not allow this room/peer */
	IW_ERR_INTERNAL,       /* "internal": out of memory */
	IW_ERR_UNAVAILABLE,    /* "unavailable": the peer's instance cannot be reached now */
	IW_ERR_COUNT,
};

enum {
	IW_MSG_SDP_MAX = 60000,      /* below the 64 KiB default message limit */
	IW_MSG_CANDIDATE_MAX = 1024, /* an a=candidate line is well under this */
	IW_MSG_ID_MAX = 64,          /* bytes of a string id */
};

/* A message's optional "id", echoed as "ref" in the answer to it: an integer or a string of at
 * most IW_MSG_ID_MAX bytes (which may hold NUL). Plain data: it outlives its message. */
enum iw_msg_ref_kind { IW_MSG_REF_NONE, IW_MSG_REF_INT, IW_MSG_REF_STR };
struct iw_msg_ref {
	enum iw_msg_ref_kind kind;
	int64_t num; /* IW_MSG_REF_INT */
	size_t len;  /* IW_MSG_REF_STR: bytes in str */
	char str[IW_MSG_ID_MAX];
};

struct iw_msg_doc; /* the parsed JSON, owned by the message (msg.c's alone) */

struct iw_msg {
	enum iw_msg_type type;
	struct iw_msg_doc *doc; /* owned; the views below point into it */
	const char *room;       /* join */
	const char *peer;       /* join, optional */
	const char *resume;     /* join, optional */
	const char *to;         /* offer, answer, candidate, end-of-candidates, bye */
	const char *sdp;        /* offer, answer */
	const char *reason;     /* bye, optional */
	struct iw_msg_ref id;   /* any message, optional: echoed as `ref` in an error */
};

const char *iw_msg_err_name(enum iw_msg_err e);
const char *iw_msg_type_name(enum iw_msg_type t);

/*
 * Parse and validate one client message. Returns 0 with m filled (release with
 * iw_msg_fini), or -EBADMSG with *err and *why set; m->id may still be set then (for `ref`)
 * and m must still be passed to iw_msg_fini.
 */
int iw_msg_parse(struct iw_msg *m, const char *buf, size_t len, enum iw_msg_err *err, const char **why);
/* The same through jansson alone: what iw_msg_parse falls back to for any message its own
 * scanner does not take. The two give the same answer for every input (fuzz_sigmsg checks). */
int iw_msg_parse_jansson(struct iw_msg *m, const char *buf, size_t len, enum iw_msg_err *err,
			 const char **why);
void iw_msg_fini(struct iw_msg *m);

/* Serializers: a malloc'd compact JSON text (caller frees), *len its length; NULL on OOM. */

/* The forwarded form of a peer-to-peer message, with `from` set by the server: type, from,
 * to and the type's own fields, nothing else. Values are copied from the received text as
 * they were sent where the fast scanner read them, so m must not outlive that text. */
char *iw_msg_forward(const struct iw_msg *m, const char *from, size_t *len);
/* {"type":"error","code":..,"message":..[,"ref":id]}; ref NULL or IW_MSG_REF_NONE: no ref. */
char *iw_msg_error(enum iw_msg_err e, const char *message, const struct iw_msg_ref *ref, size_t *len);
/* {"type":"peer-joined"|"peer-left","peer":id} */
char *iw_msg_presence(bool joined, const char *peer, size_t *len);
/* {"type":"welcome","room","peer","resume","resumed","peers":[n_peers ids],"iceServers":[..]}.
 * ice NULL: an empty iceServers list. */
char *iw_msg_welcome(const char *room, const char *peer, const char *resume, bool resumed,
		     const char *const *peers, size_t n_peers, const struct iw_ice_servers *ice, size_t *len);
/* {"type":"pong"[,"ref":id]} */
char *iw_msg_pong(const struct iw_msg_ref *ref, size_t *len);
/* {"type":"join","room":room}: what a /ws?room= URL asks for on connecting. */
char *iw_msg_join(const char *room, size_t *len);

#endif
