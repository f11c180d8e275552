/* Rooms and the peers in them: ids, resume tokens, bounds and the grace period of a peer
 * whose connection dropped. Pure logic: no sockets, no JSON, no lws types. */
#ifndef IW_SIGNALING_ROOM_H
#define IW_SIGNALING_ROOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	IW_ROOM_ID_MAX = 64,     /* room names and peer ids: 1-64 of [A-Za-z0-9._~-] */
	IW_ROOM_RESUME_LEN = 32, /* hex of 16 random bytes */
	IW_ROOM_GEN_ID_LEN = 12, /* server-assigned peer ids */
};

struct iw_room;

struct iw_peer {
	char id[IW_ROOM_ID_MAX + 1];
	char resume[IW_ROOM_RESUME_LEN + 1];
	struct iw_room *room;
	void *conn;           /* the owner's connection; NULL while detached */
	uint64_t detached_ms; /* when conn went away; meaningful while conn == NULL */
	struct iw_peer *next; /* in room, join order */
	/* While conn == NULL: in the set's list of detached peers, oldest first, so that a sweep
	 * touches only the peers that expire. */
	struct iw_peer *dprev, *dnext;
	bool listed;
};

/* A peer of this room connected to another instance (signaling over Redis). */
struct iw_remote_peer {
	char id[IW_ROOM_ID_MAX + 1];
	char inst[IW_ROOM_ID_MAX + 1]; /* the instance it is connected to */
	struct iw_remote_peer *next;
};

struct iw_room {
	char name[IW_ROOM_ID_MAX + 1];
	struct iw_peer *peers;
	unsigned n_peers;
	struct iw_remote_peer *remote; /* known while the room has local peers */
	unsigned n_remote;
	struct iw_room *next; /* hash chain */
};

struct iw_room_limits {
	unsigned max_rooms;
	unsigned max_peers; /* per room */
	uint32_t grace_ms;  /* how long a detached peer keeps its id */
};

struct iw_room_set;

/* Result of iw_room_join: which peer and whether it took over a previous session. */
struct iw_room_join_res {
	struct iw_peer *peer;
	void *replaced_conn; /* previous connection of a resumed peer, or NULL */
	bool resumed;
};

/* Allocates an empty set. Returns NULL on out-of-memory. */
struct iw_room_set *iw_room_set_create(const struct iw_room_limits *lim);
/* Frees every room and peer. Accepts NULL. */
void iw_room_set_destroy(struct iw_room_set *s);

/* true when s is 1-64 characters of [A-Za-z0-9._~-]. */
bool iw_room_id_is_valid(const char *s);

/*
 * Join room `name` (created when absent) on behalf of conn. want_id NULL: the server picks a
 * fresh id. want_id set and free: it is granted. want_id held by a peer in that room: granted
 * only with the matching resume token (constant-time compare), which detaches the previous
 * connection (returned in res->replaced_conn). Every success issues a new resume token.
 * Returns 0, -EINVAL (bad name/id), -EEXIST (id taken, no or wrong token), -ENOSPC (room
 * full), -ENOBUFS (too many rooms), -ENOMEM. *why is set on failure.
 */
int iw_room_join(struct iw_room_set *s, const char *name, const char *want_id, const char *resume, void *conn,
		 struct iw_room_join_res *res, const char **why);

/* Find a peer by id in a room; NULL when absent. */
struct iw_peer *iw_room_peer_find(const struct iw_room *r, const char *id);

/* Mark a peer's connection gone; it keeps its id until iw_room_sweep passes grace_ms. */
void iw_room_peer_detach(struct iw_room_set *s, struct iw_peer *p, uint64_t now_ms);

/* Remove a peer now (frees it; frees the room when it empties). */
void iw_room_peer_remove(struct iw_room_set *s, struct iw_peer *p);

/* Called for each expired peer just before it is removed. */
typedef void (*iw_room_expire_fn)(void *arg, struct iw_peer *p);
/* Remove detached peers older than grace_ms, oldest first, calling fn first. It walks only the
 * peers it removes (and one more). Returns how many. */
unsigned iw_room_sweep(struct iw_room_set *s, uint64_t now_ms, iw_room_expire_fn fn, void *arg);

/* Find a room by name; NULL when it has no local peers. */
struct iw_room *iw_room_find(const struct iw_room_set *s, const char *name);

/* The remote peers of a room: added once per id (counted against max_peers together with the
 * local ones). add returns 0, -EEXIST (already known or a local id), -ENOSPC or -ENOMEM. */
int iw_room_remote_add(const struct iw_room_set *s, struct iw_room *r, const char *id, const char *inst);
struct iw_remote_peer *iw_room_remote_find(const struct iw_room *r, const char *id);
/* Returns true when id was known. */
bool iw_room_remote_remove(struct iw_room *r, const char *id);

/*
 * A listing in pages: up to cap (>= 1) rooms into out, in hash order from position pos (0: the
 * start). Returns how many, with *next the position of the next page, 0 when there is none.
 * A position is the room's bucket and its place in that bucket's chain, so a room made or
 * closed between two pages may be missed or listed twice. Walks at most the rooms it returns
 * plus the empty buckets in between.
 */
unsigned iw_room_set_page(const struct iw_room_set *s, uint64_t pos, struct iw_room **out, unsigned cap,
			  uint64_t *next);

unsigned iw_room_set_count(const struct iw_room_set *s);   /* rooms */
unsigned iw_room_set_n_peers(const struct iw_room_set *s); /* peers, detached included */

#endif
