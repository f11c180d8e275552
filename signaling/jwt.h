/* Access tokens: HS256 JWTs (RFC 7519) that name the room a connection may join and, as
 * `peer` or `sub`, the peer id it may take. libjwt stays inside jwt.c; callers see plain C. */
#ifndef IW_SIGNALING_JWT_H
#define IW_SIGNALING_JWT_H

#include <stdbool.h>
#include <time.h>

#include "signaling/room.h"

struct iw_jwt_cfg {
	const char *secret; /* the HMAC key (jwt-secret) */
	bool allow_no_exp;  /* accept tokens without exp (they never expire) */
	unsigned leeway_s;  /* clock skew allowed on exp and nbf */
};

struct iw_jwt_claims {
	char room[IW_ROOM_ID_MAX + 1]; /* a valid room name */
	char peer[IW_ROOM_ID_MAX + 1]; /* a valid peer id, or "" when the token names none */
};

/*
 * Verify token (NUL-terminated, not kept) against cfg at now (seconds since the epoch): an
 * HS256 signature with cfg->secret; exp and nbf as NumericDate numbers (a fraction allowed)
 * within the leeway; exp required unless allow_no_exp; a valid room claim and an optional valid
 * peer (or sub) claim. Returns 0 with *out filled, or -EACCES with *why (a static reason, fit
 * for a log line; it never quotes the token).
 */
int iw_jwt_check(const struct iw_jwt_cfg *cfg, const char *token, time_t now, struct iw_jwt_claims *out,
		 const char **why);

#endif
