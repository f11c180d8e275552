/* iceServers and TURN REST credentials. The key material stays in common/cred. */
#include "signaling/ice_servers.h"

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

json_t *iw_ice_servers_make(const struct iw_ice_cfg *cfg, const char *user, time_t now)
{
	struct iw_ice_cfg tmp;
	const struct iw_ice_cfg *c = current(cfg, &tmp);
	json_t *a = json_array();
	char u[IW_CRED_MAX_USER], p[IW_CRED_REST_PASS_LEN + 1];

	if (!a)
		return NULL;
	if (c->n_stun)
		json_array_append_new(a, json_pack("{s:o}", "urls", uri_array(c->stun, c->n_stun)));
	if (c->n_turn && c->secret && make_cred(c, user, now, u, sizeof u, p) == 0)
		json_array_append_new(a, json_pack("{s:o, s:s, s:s}", "urls", uri_array(c->turn, c->n_turn),
						   "username", u, "credential", p));
	return a;
}

json_t *iw_ice_rest_response(const struct iw_ice_cfg *cfg, const char *user, time_t now)
{
	struct iw_ice_cfg tmp;
	const struct iw_ice_cfg *c = current(cfg, &tmp);
	char u[IW_CRED_MAX_USER], p[IW_CRED_REST_PASS_LEN + 1];

	if (!c->secret || make_cred(c, user, now, u, sizeof u, p) < 0)
		return NULL;
	/* The draft lists TURN URIs; STUN ones are harmless and let one call configure both. */
	json_t *uris = uri_array(c->turn, c->n_turn);
	for (unsigned i = 0; uris && i < c->n_stun; i++)
		json_array_append_new(uris, json_string(c->stun[i]));
	return json_pack("{s:s, s:s, s:I, s:o}", "username", u, "password", p, "ttl", (json_int_t)c->ttl,
			 "uris", uris);
}
