/* Signaling across several iceway-signal instances through Redis (hiredis): room membership
 * in Redis hashes, presence and addressed messages over pub/sub, instance liveness keys.
 * All Redis I/O runs on one dedicated thread; the service thread talks to it only through two
 * bounded queues and is woken by the wake callback (which must be thread-safe, e.g. lws's
 * lws_cancel_service). No lws and no hub types here. */
#ifndef IW_SIGNALING_CLUSTER_H
#define IW_SIGNALING_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "signaling/room.h"

enum {
	IW_CLUSTER_QUEUE_MAX = 8192, /* entries per direction */
	/* An instance silent this long is dead. This bounds the outages (Redis gone, or this
	 * instance cut off from it) that the other instances' clients do not see, less one beat
	 * and one reconnect attempt: about 9 s. After a longer one its peers are announced as
	 * left, and as joined again when it returns. */
	IW_CLUSTER_LIVE_TTL_MS = 12000,
	IW_CLUSTER_BEAT_MS = 2000, /* liveness refresh and sweep period */
	/* A dead instance's peers leave their rooms within TTL + two beats (the live key expires,
	 * then the next sweep). After this instance reconnects to Redis, sweeps pause for
	 * TTL + the longest backoff (13 s) so that no live instance is taken for dead. */
	IW_CLUSTER_LEAVE_BOUND_MS = IW_CLUSTER_LIVE_TTL_MS + 2 * IW_CLUSTER_BEAT_MS,
};

struct iw_cluster_cfg {
	const char *url;         /* redis://host:port/db */
	void (*wake)(void *arg); /* called from the Redis thread when events are waiting */
	void *wake_arg;
};

enum iw_cluster_ev_kind {
	IW_CLUSTER_JOINED, /* our join registered: status 0 / 1 (members set) or < 0 */
	/* peer joined room on instance inst; for a peer known on another instance (or held
	 * here) it means the peer resumed on inst and moved there */
	IW_CLUSTER_PEER_JOINED,
	IW_CLUSTER_PEER_LEFT,   /* peer left room (or its instance died) */
	IW_CLUSTER_DELIVER,     /* text for our local peer `peer` in room */
	IW_CLUSTER_SEND_FAILED, /* a send from our local peer `peer` to `other` did not go out */
};

/* A peer of a room connected to another instance. */
struct iw_cluster_member {
	char peer[IW_ROOM_ID_MAX + 1];
	char inst[IW_ROOM_ID_MAX + 1];
};

struct iw_cluster_ev {
	enum iw_cluster_ev_kind kind;
	int status;
	char room[IW_ROOM_ID_MAX + 1];
	char peer[IW_ROOM_ID_MAX + 1];
	char other[IW_ROOM_ID_MAX + 1];
	char inst[IW_ROOM_ID_MAX + 1];
	struct iw_cluster_member *members; /* JOINED: the other instances' peers (owned) */
	unsigned n_members;
	char *text; /* DELIVER */
	size_t len;
};

struct iw_cluster_stats {
	uint64_t published, received, send_failed, ops_dropped, events_dropped, reconnects, peers_reaped,
		stale_removed;
	bool up;
};

struct iw_cluster;

/* Parse the URL and start the thread (which connects, and keeps reconnecting with backoff).
 * NULL with *why on a bad URL or out of resources. */
struct iw_cluster *iw_cluster_create(const struct iw_cluster_cfg *cfg, const char **why);
void iw_cluster_destroy(struct iw_cluster *cl); /* stops the thread; accepts NULL */

const char *iw_cluster_instance(const struct iw_cluster *cl);

/* Requests to the Redis thread. Each returns 0 or -ENOBUFS (queue full, counted). */
int iw_cluster_join(struct iw_cluster *cl, const char *room, const char *peer);
/* A join that also records the peer's resume token and bounds the room across instances.
 * token: the token just issued here (Redis keeps only a keyed digest of it). claim: the token
 * the client presented for an id that may be held by another instance, or NULL. max_peers: the
 * room bound counted over every instance (0: none). The IW_CLUSTER_JOINED event carries status
 * 0 (registered), 1 (resumed: taken over from its previous instance, which drops it quietly),
 * -EEXIST (held elsewhere, no matching token), -ENOSPC (room full) or -EAGAIN (a claim while
 * Redis is unreachable). -EINVAL: bad token. */
int iw_cluster_member_join(struct iw_cluster *cl, const char *room, const char *peer, const char *token,
			   const char *claim, unsigned max_peers);
int iw_cluster_leave(struct iw_cluster *cl, const char *room, const char *peer);
/* Publish text for `to` (on instance inst) from our local peer `from`. -ENOTCONN when Redis is
 * down at the time of the call. A later failure comes back as IW_CLUSTER_SEND_FAILED. */
int iw_cluster_send(struct iw_cluster *cl, const char *inst, const char *room, const char *to,
		    const char *from, const char *text, size_t len);

/* Take up to max waiting events (service thread). Release each with iw_cluster_ev_fini. */
unsigned iw_cluster_poll(struct iw_cluster *cl, struct iw_cluster_ev *evs, unsigned max);
void iw_cluster_ev_fini(struct iw_cluster_ev *ev);

/* A snapshot of the counters (taken under the queue lock). */
void iw_cluster_stats_get(struct iw_cluster *cl, struct iw_cluster_stats *out);

#endif
