/* iceServers for RTCPeerConnection and TURN REST API credentials (expiry:user, base64
 * HMAC-SHA1 of the relay's shared secret, made by common/cred). */
#ifndef IW_SIGNALING_ICE_SERVERS_H
#define IW_SIGNALING_ICE_SERVERS_H

#include <jansson.h>
#include <stdint.h>
#include <time.h>

struct iw_relays;

enum { IW_ICE_URIS_MAX = 8 };

struct iw_ice_cfg {
	const char *stun[IW_ICE_URIS_MAX];
	unsigned n_stun;
	const char *turn[IW_ICE_URIS_MAX]; /* turn:/turns: URIs */
	unsigned n_turn;
	const char *secret;       /* the relay's static-auth-secret; NULL: no TURN credentials */
	uint32_t ttl;             /* seconds */
	struct iw_relays *relays; /* non-NULL: URIs come from the pool instead of stun/turn */
};

/*
 * The iceServers array: [{urls:[stun..]}, {urls:[turn..], username, credential}]. The
 * TURN entry is left out without a secret. user labels the credential ("EXPIRY:user").
 * Returns a new reference, or NULL on out-of-memory.
 */
json_t *iw_ice_servers_make(const struct iw_ice_cfg *c, const char *user, time_t now);

/*
 * The TURN REST API response {username, password, ttl, uris} (draft-uberti-behave-turn-rest
 * §2.2). Returns a new reference; NULL without a secret or on a bad user name.
 */
json_t *iw_ice_rest_response(const struct iw_ice_cfg *c, const char *user, time_t now);

#endif
