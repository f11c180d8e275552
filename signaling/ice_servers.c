/* iceServers and TURN REST credentials. The key material stays in common/cred; jansson writes
 * the REST answer here and nowhere in the header. */
#include "signaling/ice_servers.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/cred.h"
#include "signaling/relays.h"

/* With a relay pool, the URIs of the relay chosen now; else c itself. */
static const struct iw_ice_cfg *current(const struct iw_ice_cfg *c, struct iw_ice_cfg *tmp)
{
	if (!c->relays)
		return c;
	*tmp = *c;
	iw_relays_pick(c->relays, tmp->turn, &tmp->n_turn, tmp->stun, &tmp->n_stun, IW_ICE_URIS_MAX);
	return tmp;
}

static json_t *uri_array(const char *const *uris, unsigned n)
{
	json_t *a = json_array();
	for (unsigned i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(uris[i]));
	return a;
}

static int make_cred(const struct iw_ice_cfg *c, const char *user, time_t now, char *u, size_t u_cap,
		     char p[IW_CRED_REST_PASS_LEN + 1])
{
	return iw_cred_rest_make(u, u_cap, p, c->secret, user, now, c->ttl);
}

void iw_ice_servers_get(const struct iw_ice_cfg *cfg, const char *user, time_t now,
			struct iw_ice_servers *out)
{
	struct iw_ice_cfg tmp;
	const struct iw_ice_cfg *c = current(cfg, &tmp);

	out->n_stun = c->n_stun;
	memcpy(out->stun, c->stun, sizeof out->stun);
	out->n_turn = 0;
	if (c->n_turn && c->secret &&
	    make_cred(c, user, now, out->username, sizeof out->username, out->credential) == 0) {
		out->n_turn = c->n_turn;
		memcpy(out->turn, c->turn, sizeof out->turn);
	}
}

int iw_ice_rest_body(const struct iw_ice_cfg *cfg, const char *user, time_t now, size_t headroom,
		     unsigned char **buf, size_t *len)
{
	struct iw_ice_cfg tmp;
	const struct iw_ice_cfg *c = current(cfg, &tmp);
	char u[IW_CRED_MAX_USER], p[IW_CRED_REST_PASS_LEN + 1];
	json_t *o, *uris;
	size_t n;

	if (!c->secret || make_cred(c, user, now, u, sizeof u, p) < 0)
		return -ENOENT;
	/* The draft lists TURN URIs; STUN ones are harmless and let one call configure both. */
	uris = uri_array(c->turn, c->n_turn);
	for (unsigned i = 0; uris && i < c->n_stun; i++)
		json_array_append_new(uris, json_string(c->stun[i]));
	o = json_pack("{s:s, s:s, s:I, s:o}", "username", u, "password", p, "ttl", (json_int_t)c->ttl, "uris",
		      uris);
	/* Sized first, then written once behind the headroom. */
	n = o ? json_dumpb(o, NULL, 0, JSON_COMPACT) : 0;
	*buf = n ? malloc(headroom + n) : NULL;
	if (!*buf || json_dumpb(o, (char *)*buf + headroom, n, JSON_COMPACT) != n) {
		free(*buf);
		*buf = NULL;
		json_decref(o);
		return -ENOMEM;
	}
	json_decref(o);
	*len = n;
	return 0;
}
