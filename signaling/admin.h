/* iceway-signal's admin API: the bearer token check, the routes and their JSON answers (rooms,
 * peers, status; disconnecting a peer, closing a room). No lws types: the WebSocket layer hands
 * in the request's parts and sends the reply, on the metrics listener only. */
#ifndef IW_SIGNALING_ADMIN_H
#define IW_SIGNALING_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "signaling/hub.h"

enum {
	IW_ADMIN_PAGE_DEFAULT = 100, /* rooms per GET /admin/rooms page without ?limit= */
	IW_ADMIN_PAGE_MAX = 1000,    /* the largest ?limit= */
};

/* What the WebSocket layer knows, for GET /admin/status. */
struct iw_admin_info {
	int64_t started_s;    /* wall clock */
	uint64_t uptime_s;    /* on the monotonic clock: a clock step does not change it */
	unsigned connections; /* open WebSockets */
	const char *instance; /* this instance's id in a cluster; NULL: a single instance */
	bool redis_up;
	bool draining; /* shutting down: closing connections, refusing new ones */
};

struct iw_admin_req {
	const char *method;         /* "GET", "DELETE", ... */
	const char *path;           /* decoded, without the query */
	const char *limit, *cursor; /* query arguments; NULL when absent */
};

struct iw_admin_reply {
	unsigned status;    /* an HTTP status */
	const char *allow;  /* 405: the methods the path takes */
	unsigned char *buf; /* malloc'd: headroom bytes, then len bytes of JSON; NULL on OOM */
	size_t len;
};

/* true when authorization (the Authorization header's value, NULL when absent) is
 * "Bearer <token>" with exactly this token. Compared in constant time, whatever the lengths. */
bool iw_admin_authorized(const char *token, const char *authorization);

/* Answer one authorized request into *out (status 200, 4xx, or 500 with buf NULL when out
 * of memory). A DELETE acts on h at once (see iw_hub_peer_kick). */
void iw_admin_handle(struct iw_hub *h, const struct iw_admin_info *info, const struct iw_admin_req *rq,
		     size_t headroom, uint64_t now_ms, struct iw_admin_reply *out);

#endif
