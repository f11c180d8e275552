/* HS256 access-token checks through libjwt; exp and nbf are read from the claims JSON, where a
 * NumericDate may carry a fraction. No lws, no I/O. */
#include "signaling/jwt.h"

#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A NumericDate claim (RFC 7519 §2: seconds, a fraction allowed). 0 with *t, -ENOENT when
 * absent, -EINVAL when present but not a number. */
static int numeric_date(const json_t *claims, const char *name, double *t)
{
	const json_t *v = json_object_get(claims, name);
	if (!v)
		return -ENOENT;
	if (!json_is_number(v))
		return -EINVAL;
	*t = json_number_value(v);
	return 0;
}

/* exp and nbf against now, with the stated leeway (RFC 7519 §4.1.4, §4.1.5). */
static int check_times(const struct iw_jwt_cfg *cfg, jwt_t *jwt, time_t now_s, const char **why)
{
	char *txt = jwt_get_grants_json(jwt, NULL);
	json_t *claims = txt ? json_loads(txt, 0, NULL) : NULL;
	double now = (double)now_s, leeway = (double)cfg->leeway_s, exp = 0, nbf = 0;
	int rc = -EACCES, e, n;

	free(txt);
	if (!json_is_object(claims)) {
		*why = "access token claims are not a JSON object";
		goto out;
	}
	e = numeric_date(claims, "exp", &exp);
	n = numeric_date(claims, "nbf", &nbf);
	if (e == -EINVAL || n == -EINVAL)
		*why = "exp and nbf must be NumericDate numbers";
	else if (e == -ENOENT && !cfg->allow_no_exp)
		*why = "access token has no exp";
	else if (e == 0 && now >= exp + leeway)
		*why = "access token expired";
	else if (n == 0 && now + leeway < nbf)
		*why = "access token not valid yet (nbf)";
	else
		rc = 0;
out:
	json_decref(claims);
	return rc;
}

int iw_jwt_check(const struct iw_jwt_cfg *cfg, const char *token, time_t now, struct iw_jwt_claims *out,
		 const char **why)
{
	jwt_t *jwt = NULL;
	const char *r, *p;
	int rc = -EACCES;

	if (jwt_decode(&jwt, token, (const unsigned char *)cfg->secret, (int)strlen(cfg->secret)) != 0 ||
	    !jwt) {
		*why = "bad access token signature";
		goto out;
	}
	if (jwt_get_alg(jwt) != JWT_ALG_HS256) {
		*why = "access token must be HS256";
		goto out;
	}
	if (check_times(cfg, jwt, now, why) < 0)
		goto out;
	r = jwt_get_grant(jwt, "room");
	p = jwt_get_grant(jwt, "peer");
	if (!p)
		p = jwt_get_grant(jwt, "sub");
	if (!r || !iw_room_id_is_valid(r) || (p && !iw_room_id_is_valid(p))) {
		*why = "access token must name a valid room (and optionally peer)";
		goto out;
	}
	snprintf(out->room, sizeof out->room, "%s", r);
	snprintf(out->peer, sizeof out->peer, "%s", p ? p : "");
	rc = 0;
out:
	jwt_free(jwt);
	return rc;
}
