/* Allocation quotas over every worker: a client's allocations from different source ports can
 * land on different workers, so user-quota and total-quota are counted in one table that main
 * builds and every worker is given (turn/worker.h). A mutex is taken only on Allocate and on
 * deletion, never per packet. */
#ifndef IW_TURN_QUOTA_H
#define IW_TURN_QUOTA_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct iw_quota_ent {
	uint64_t h; /* 0 empty */
	uint32_t count;
	uint32_t ext; /* of those allocations, the ones counted for an overflow block */
};

struct iw_quota {
	pthread_mutex_t mu;
	struct iw_quota_ent *ent; /* keyed by user hash; linear probing, backward-shift delete */
	uint32_t mask, total;
	uint64_t seed;
	bool ready;
};

/* Size the quota table for max_allocs allocations. 0 or -ENOMEM. */
int iw_quota_init(struct iw_quota *q, uint32_t max_allocs);
/* Free the table. Accepts a zeroed q. */
void iw_quota_fini(struct iw_quota *q);
/* Count one allocation for user, unless that makes more than user_limit for the user or
 * total_limit in all (0: no limit). 0, or -EDQUOT with *why. */
int iw_quota_take(struct iw_quota *q, const void *user, size_t len, uint32_t user_limit, uint32_t total_limit,
		  const char **why);
/* Count one overflow block for user (who holds an allocation), unless that makes more than
 * limit (0: no limit). 0, or -EDQUOT. */
int iw_quota_ext_take(struct iw_quota *q, const void *user, size_t len, uint32_t limit);
/* Uncount one overflow block (before the allocation that held it is uncounted). */
void iw_quota_ext_put(struct iw_quota *q, const void *user, size_t len);
/* Uncount one allocation taken for user. */
void iw_quota_put(struct iw_quota *q, const void *user, size_t len);
/* The allocation count for user (a monitoring and test read). */
uint32_t iw_quota_count(struct iw_quota *q, const void *user, size_t len);

#endif
