/* The signaling protocol: applies validated client messages to rooms and decides what goes
 * to whom. No lws types: the WebSocket layer (ws.c) hands in text and supplies the send and
 * close operations, so the whole protocol is unit-tested without sockets. */
#ifndef IW_SIGNALING_HUB_H
#define IW_SIGNALING_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "signaling/cluster.h"
#include "signaling/ice_servers.h"
#include "signaling/msg.h"
#include "signaling/room.h"

/* Per-connection protocol state, embedded in the WebSocket session. */
/* A token's claims: the room, and the peer id ("" when it names none). */
struct iw_hub_claims {
	char room[IW_ROOM_ID_MAX + 1];
	char peer[IW_ROOM_ID_MAX + 1];
};

/* A join in a cluster, while it waits for the other instances: out of line, as only such a
 * join has one (iw_hub_conn_gone frees it). */
struct iw_hub_join_wait {
	/* A resume of an id known on another instance: that instance, so the room's view can be
	 * put back if the resume is refused. Empty otherwise. */
	char moved_from[IW_ROOM_ID_MAX + 1];
	struct iw_msg_ref ref; /* the join's "id", for an error answer */
};

struct iw_hub_conn {
	struct iw_peer *peer; /* NULL until joined */
	double tokens;        /* message rate bucket */
	uint64_t tokens_ms;
	unsigned strikes; /* errors in the current window */
	uint64_t strikes_ms;
	bool closing; /* a close was requested; further input is ignored */
	bool joining; /* joined locally, waiting for the other instances (welcome pending) */
	/* What the connection's access token allows, NULL without one: kept out of line, as most
	 * deployments run without tokens. Owned by the caller (the WebSocket layer). */
	struct iw_hub_claims *claims;
	bool claiming;                 /* the join in flight presented a resume token */
	struct iw_hub_join_wait *wait; /* NULL unless a join waits for the other instances */
	/* What the admin API shows: the client's address and the wall-clock second it connected
	 * (set by the WebSocket layer after iw_hub_conn_init), messages each way (counted here),
	 * and whether its peer came back with a resume token. */
	struct iw_addr remote;
	int64_t since_s;
	uint64_t msgs_in, msgs_out;
	bool resumed;
};

struct iw_hub_ops {
	/* Queue one text message for c. Returns 0, or < 0 when c's queue is over its bound (the
	 * WebSocket layer then drops c and counts it). Must not call back into the hub. */
	int (*send)(void *arg, struct iw_hub_conn *c, const char *buf, size_t len);
	/* Close c after what is queued, with a WebSocket close code and reason, a string that
	 * lives as long as the process (a literal: it is kept, not copied). */
	void (*close)(void *arg, struct iw_hub_conn *c, int code, const char *reason);
	/* Signaling across instances; all NULL for a single instance. cl_join registers a new
	 * peer (the welcome waits for iw_hub_cluster_joined); cl_send publishes a forwarded
	 * message for a peer on instance inst (< 0: not sent). */
	int (*cl_join)(void *arg, const char *room, const char *peer);
	void (*cl_leave)(void *arg, const char *room, const char *peer);
	int (*cl_send)(void *arg, const char *inst, const char *room, const char *to, const char *from,
		       const char *txt, size_t len);
	/* Optional, preferred over cl_join when set (iw_cluster_member_join): registers the peer
	 * with its current resume token and the room bound, and presents `claim` (the token the
	 * client sent, or NULL) for an id another instance holds. Also called after a local
	 * resume, so Redis knows the fresh token. 0 when queued. */
	int (*cl_member_join)(void *arg, const char *room, const char *peer, const char *token,
			      const char *claim, unsigned max_peers);
	void *arg;
};

struct iw_hub_cfg {
	struct iw_room_limits rooms;
	struct iw_ice_cfg ice;
	unsigned msg_rate;    /* messages per second per connection (sustained) */
	unsigned msg_burst;   /* bucket depth */
	unsigned max_strikes; /* errors within 10 s before the connection is closed */
};

struct iw_hub_stats {
	uint64_t relayed[IW_MSG_TYPE_COUNT]; /* forwarded peer-to-peer, by type */
	uint64_t errors[IW_ERR_COUNT];       /* error replies, by code */
	uint64_t joins, resumes, leaves, expired, abuse_closes, replaced;
	uint64_t errors_excused; /* of errors[]: races with a peer leaving, not counted as strikes */
	uint64_t remote_sent, remote_received, remote_failed; /* across instances */
	uint64_t remote_passed_on;      /* arrived for a peer that had moved on: sent after it */
	uint64_t moved_in, moved_out;   /* peers resumed here from / away to another instance */
	uint64_t kicked;                /* peers disconnected through the admin API */
	uint64_t kicked_resume_refused; /* resumes refused because the peer was disconnected */
};

enum {
	IW_CLOSE_POLICY = 1008, /* RFC 6455 §7.4.1 */
	IW_CLOSE_TOO_BIG = 1009,
	IW_CLOSE_REPLACED = 4001,    /* a resumed session took this peer id over */
	IW_CLOSE_KICKED = 4002,      /* the operator disconnected this peer (admin API) */
	IW_CLOSE_ROOM_CLOSED = 4003, /* the operator closed the room (admin API) */
};

struct iw_hub;

/* Copies cfg (the strings in cfg->ice must outlive the hub). NULL on out-of-memory. */
struct iw_hub *iw_hub_create(const struct iw_hub_cfg *cfg, const struct iw_hub_ops *ops);
void iw_hub_destroy(struct iw_hub *h); /* accepts NULL */
/* A reloaded configuration: iceServers and per-connection rates. Room limits keep their
 * start-up values (rooms in use were sized with them). */
void iw_hub_reconfigure(struct iw_hub *h, const struct iw_hub_cfg *cfg);

void iw_hub_conn_init(struct iw_hub_conn *c, const struct iw_hub *h, uint64_t now_ms);

/* One complete text message from c. Replies and forwards go through ops->send. */
void iw_hub_receive(struct iw_hub *h, struct iw_hub_conn *c, const char *buf, size_t len, uint64_t now_ms);

/* Answer c with an error found outside the JSON layer (e.g. too-large); counts a strike. */
void iw_hub_reject(struct iw_hub *h, struct iw_hub_conn *c, enum iw_msg_err e, const char *why,
		   uint64_t now_ms);

/* c is gone. leave_now: a deliberate close (peer-left at once); otherwise the peer keeps its
 * id for the grace period so that a reconnect with the resume token gets it back. */
void iw_hub_conn_gone(struct iw_hub *h, struct iw_hub_conn *c, bool leave_now, uint64_t now_ms);

/* Expire detached peers past their grace period (peer-left to the rest of the room). */
void iw_hub_tick(struct iw_hub *h, uint64_t now_ms);

/* Apply one event from iw_cluster_poll with the functions below (e stays the caller's). */
void iw_hub_cluster_event(struct iw_hub *h, const struct iw_cluster_ev *e, uint64_t now_ms);

/* Events from the other instances (see signaling/cluster.h). joined: our cl_join or
 * cl_member_join for room/peer finished: status 0 (joined) or 1 (resumed from another
 * instance) with the n members of the room on other instances, or -EEXIST (id taken there) /
 * -ENOSPC (full). */
void iw_hub_cluster_joined(struct iw_hub *h, const char *room, const char *peer, int status,
			   const struct iw_cluster_member *members, unsigned n, uint64_t now_ms);
/* A peer joined (inst set) or left (inst NULL) room on another instance. A join for an id
 * held here or known on a different instance means it resumed on inst: it moves there
 * quietly (a connection still open here is closed with IW_CLOSE_REPLACED). */
void iw_hub_cluster_presence(struct iw_hub *h, const char *room, const char *peer, const char *inst);
/* A forwarded message for our peer `to`; an unknown `to` is answered through cl_send. */
void iw_hub_cluster_deliver(struct iw_hub *h, const char *room, const char *to, const char *from,
			    const char *from_inst, const char *txt, size_t len);
/* A cross-instance send from our peer `from` did not go out: it gets an error. */
void iw_hub_cluster_send_failed(struct iw_hub *h, const char *room, const char *from, const char *to,
				uint64_t now_ms);

/*
 * The operator ends peer p now (admin API). Its connection, if any, is closed with code
 * (IW_CLOSE_KICKED or IW_CLOSE_ROOM_CLOSED) and reason (a literal); the rest of the room gets peer-left
 * (the other instances too); its resume token is gone, and for IW_HUB_KICK_MS a join that
 * presents a resume token for its id in that room is refused. p is freed, and its room when it
 * was the last local peer.
 */
enum { IW_HUB_KICK_MS = 60000 };
void iw_hub_peer_kick(struct iw_hub *h, struct iw_peer *p, int code, const char *reason, uint64_t now_ms);
/* Kick every local peer of r with IW_CLOSE_ROOM_CLOSED; r is freed. Returns how many. Peers
 * of the room on other instances stay (their instances hear each peer-left). */
unsigned iw_hub_room_close(struct iw_hub *h, struct iw_room *r, uint64_t now_ms);

const struct iw_hub_stats *iw_hub_stats(const struct iw_hub *h);
const struct iw_room_set *iw_hub_rooms(const struct iw_hub *h);

#endif
