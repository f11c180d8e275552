/* iceServers for RTCPeerConnection and TURN REST API credentials (expiry:user, base64
 * HMAC-SHA1 of the relay's shared secret, made by common/cred). */
#ifndef IW_SIGNALING_ICE_SERVERS_H
#define IW_SIGNALING_ICE_SERVERS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/cred.h"

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

/* The iceServers a client gets: one STUN entry and one TURN entry with credentials. URI
 * pointers are borrowed from the configuration (or the relay pool) and stay valid while it
 * does; signaling/msg.c writes the JSON. */
struct iw_ice_servers {
	const char *stun[IW_ICE_URIS_MAX];
	unsigned n_stun;
	const char *turn[IW_ICE_URIS_MAX];
	unsigned n_turn; /* 0 without a secret: no TURN entry */
	char username[IW_CRED_MAX_USER];
	char credential[IW_CRED_REST_PASS_LEN + 1];
};

/*
 * Fill *out: [{urls:[stun..]}, {urls:[turn..], username, credential}]. The TURN entry is left
 * out without a secret. user labels the credential ("EXPIRY:user").
 */
void iw_ice_servers_get(const struct iw_ice_cfg *c, const char *user, time_t now, struct iw_ice_servers *out);

/*
 * The TURN REST API response {username, password, ttl, uris} (draft-uberti-behave-turn-rest
 * §2.2) as compact JSON text, written after `headroom` free bytes (room for a transport
 * header: the body needs no copy). Returns 0 with *buf (malloc'd, headroom + *len bytes) and
 * *len; -ENOENT without a secret or for a bad user name; -ENOMEM.
 */
int iw_ice_rest_body(const struct iw_ice_cfg *c, const char *user, time_t now, size_t headroom,
		     unsigned char **buf, size_t *len);

#endif
