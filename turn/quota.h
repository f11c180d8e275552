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
	uint32_t bud; /* the user's budget: index + 1 into struct iw_quota's bud, 0 none */
};

/* A user's user-max-bps budget (iw_limit_share_take): taken from by its allocations on every
 * worker with atomics, so each sits on a cache line of its own. */
struct iw_quota_budget {
	uint64_t tat_us;
	uint8_t pad[56];
};

struct iw_quota {
	pthread_mutex_t mu;
	struct iw_quota_ent *ent; /* keyed by user hash; linear probing, backward-shift delete */
	uint32_t mask, total;
	uint64_t seed;
	bool ready;
	/* One budget per user holding a count: a user has at most one count per allocation, so
	 * max-allocations of them. Slots [bud_fresh, bud_cap) were never used (nor written). */
	struct iw_quota_budget *bud; /* 64-byte aligned, inside bud_mem */
	void *bud_mem;
	uint32_t *bud_free;
	uint32_t bud_cap, bud_fresh, bud_n_free;
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
/* The user-max-bps budget of user, who must hold a count (an allocation's, until it is
 * uncounted): a word to hand to iw_limit_share_take, full when the user's first count was
 * taken, stable while the user holds one. NULL when the user holds none. */
uint64_t *iw_quota_budget(struct iw_quota *q, const void *user, size_t len);
/* The allocation count for user (a monitoring and test read). */
uint32_t iw_quota_count(struct iw_quota *q, const void *user, size_t len);

#endif
