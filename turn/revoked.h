/* Users revoked through the admin API: a bounded table of user identities, each refused new
 * allocations until its time passes. One table for every worker (a user's next Allocate may
 * land on any worker); a mutex is taken on Allocate and by the admin API, never per packet, and
 * not at all while the table is empty. */
#ifndef IW_TURN_REVOKED_H
#define IW_TURN_REVOKED_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "turn/alloc.h"

enum { IW_REVOKED_MAX = 1024 }; /* users revoked at once */

struct iw_revoked {
	pthread_mutex_t mu;
	unsigned n_used; /* entries taken (some may have expired): relaxed atomic, 0 skips the lock */
	struct {
		uint64_t until_ms; /* monotonic; 0: free */
		uint16_t len;
		char user[IW_ALLOC_USER_MAX];
	} ent[IW_REVOKED_MAX];
};

void iw_revoked_init(struct iw_revoked *r);
void iw_revoked_fini(struct iw_revoked *r);
/* Revoke user (len < IW_ALLOC_USER_MAX) until now_ms + seconds; a user already revoked gets
 * the new time. 0, or -ENOSPC when every entry holds a user still revoked, -EINVAL for a bad
 * len. */
int iw_revoked_add(struct iw_revoked *r, const void *user, size_t len, uint32_t seconds, uint64_t now_ms);
/* Lift a revocation; true if the user was revoked. Frees expired entries on the way. */
bool iw_revoked_del(struct iw_revoked *r, const void *user, size_t len, uint64_t now_ms);
/* Is user revoked at now_ms? *left_s gets the seconds left (rounded up). */
bool iw_revoked_has(struct iw_revoked *r, const void *user, size_t len, uint64_t now_ms, uint32_t *left_s);
/* Users revoked at now_ms (frees expired entries). */
unsigned iw_revoked_count(struct iw_revoked *r, uint64_t now_ms);

#endif
