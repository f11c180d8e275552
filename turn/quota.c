/* The allocation quota table shared by every worker: counts per user (user-quota) and in
 * all (total-quota), under a mutex taken on Allocate and on deletion only. No I/O. */
#include "turn/quota.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/clock.h"
#include "common/cred.h"

int iw_quota_init(struct iw_quota *q, uint32_t max_allocs)
{
	uint32_t cap = 16;
	while (cap < 2 * (uint64_t)max_allocs && cap < (1u << 30))
		cap <<= 1;
	/* Live users <= total-quota <= max-allocations, so the table is never more than
	 * half full and a probe always ends at an empty slot. */
	memset(q, 0, sizeof *q);
	q->ent = calloc(cap, sizeof *q->ent);
	/* Large and zeroed: calloc maps it, and a page is only faulted in once used. */
	q->bud_mem = calloc((size_t)max_allocs + 1, sizeof *q->bud);
	q->bud_free = calloc(max_allocs ? max_allocs : 1, sizeof *q->bud_free);
	if (!q->ent || !q->bud_mem || !q->bud_free) {
		free(q->ent);
		free(q->bud_mem);
		free(q->bud_free);
		memset(q, 0, sizeof *q);
		return -ENOMEM;
	}
	q->bud = (struct iw_quota_budget *)(((uintptr_t)q->bud_mem + 63) & ~(uintptr_t)63);
	q->bud_cap = max_allocs;
	if (iw_cred_random(&q->seed, sizeof q->seed) < 0)
		q->seed = (uint64_t)iw_clock_ms();
	q->mask = cap - 1;
	pthread_mutex_init(&q->mu, NULL);
	q->ready = true;
	return 0;
}

void iw_quota_fini(struct iw_quota *q)
{
	if (q->ready)
		pthread_mutex_destroy(&q->mu);
	free(q->ent);
	free(q->bud_mem);
	free(q->bud_free);
	memset(q, 0, sizeof *q);
}

/* A budget for a user's first count, full; 0 when none is left (not reached: users <= counts
 * <= total-quota <= max-allocations). */
static uint32_t budget_get(struct iw_quota *q)
{
	uint32_t i;
	if (q->bud_n_free)
		i = q->bud_free[--q->bud_n_free];
	else if (q->bud_fresh < q->bud_cap)
		i = q->bud_fresh++;
	else
		return 0;
	__atomic_store_n(&q->bud[i].tat_us, 0, __ATOMIC_RELAXED);
	return i + 1;
}

static void budget_put(struct iw_quota *q, uint32_t b)
{
	if (b && q->bud_n_free < q->bud_cap)
		q->bud_free[q->bud_n_free++] = b - 1;
}

/* Never 0 (an empty slot). */
static uint64_t quota_hash(const struct iw_quota *q, const void *user, size_t len)
{
	uint64_t h = iw_hash_keyed(q->seed, user, len);
	return h ? h : 1;
}

/* The slot holding h, or the empty slot where it would go. */
static uint32_t quota_slot(const struct iw_quota *q, uint64_t h)
{
	uint32_t i = (uint32_t)h & q->mask;
	while (q->ent[i].h && q->ent[i].h != h)
		i = (i + 1) & q->mask;
	return i;
}

int iw_quota_take(struct iw_quota *q, const void *user, size_t len, uint32_t user_limit, uint32_t total_limit,
		  const char **why)
{
	uint64_t h = quota_hash(q, user, len);
	int rc = -EDQUOT;
	pthread_mutex_lock(&q->mu);
	uint32_t i = quota_slot(q, h);
	/* RFC 8656 §7.2 step 8: over quota -> 486 (Allocation Quota Reached). */
	if (total_limit && q->total >= total_limit) {
		*why = "Allocation Quota Reached: server total";
	} else if (user_limit && q->ent[i].count >= user_limit) {
		*why = "Allocation Quota Reached: user quota";
	} else if (!q->ent[i].h && q->total > q->mask / 2) {
		*why = "Allocation Quota Reached: server total"; /* unreachable: see init */
	} else {
		if (!q->ent[i].h)
			q->ent[i].bud = budget_get(q);
		q->ent[i].h = h;
		q->ent[i].count++;
		q->total++;
		rc = 0;
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

void iw_quota_put(struct iw_quota *q, const void *user, size_t len)
{
	uint64_t h = quota_hash(q, user, len);
	pthread_mutex_lock(&q->mu);
	uint32_t i = quota_slot(q, h);
	if (!q->ent[i].h || !q->ent[i].count)
		goto out;
	q->total--;
	if (--q->ent[i].count)
		goto out;
	budget_put(q, q->ent[i].bud);
	/* Backward-shift delete: pull later entries of the run into the hole, so lookups need
	 * no tombstones. */
	for (uint32_t j = i;;) {
		q->ent[i] = (struct iw_quota_ent){ 0 }; /* nothing of a user that moved out stays */
		for (;;) {
			j = (j + 1) & q->mask;
			if (!q->ent[j].h)
				goto out;
			uint32_t k = (uint32_t)q->ent[j].h & q->mask;
			/* Move j into the hole i unless its home k lies cyclically in (i, j]. */
			bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
			if (!stays)
				break;
		}
		q->ent[i] = q->ent[j];
		i = j;
	}
out:
	pthread_mutex_unlock(&q->mu);
}

int iw_quota_ext_take(struct iw_quota *q, const void *user, size_t len, uint32_t limit)
{
	uint64_t h = quota_hash(q, user, len);
	int rc = -EDQUOT;
	pthread_mutex_lock(&q->mu);
	struct iw_quota_ent *e = &q->ent[quota_slot(q, h)];
	if (e->h && (!limit || e->ext < limit)) {
		e->ext++;
		rc = 0;
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

void iw_quota_ext_put(struct iw_quota *q, const void *user, size_t len)
{
	uint64_t h = quota_hash(q, user, len);
	pthread_mutex_lock(&q->mu);
	struct iw_quota_ent *e = &q->ent[quota_slot(q, h)];
	if (e->h && e->ext)
		e->ext--;
	pthread_mutex_unlock(&q->mu);
}

uint64_t *iw_quota_budget(struct iw_quota *q, const void *user, size_t len)
{
	uint64_t h = quota_hash(q, user, len);
	pthread_mutex_lock(&q->mu);
	const struct iw_quota_ent *e = &q->ent[quota_slot(q, h)];
	uint64_t *p = e->h && e->count && e->bud ? &q->bud[e->bud - 1].tat_us : NULL;
	pthread_mutex_unlock(&q->mu);
	return p;
}

uint32_t iw_quota_count(struct iw_quota *q, const void *user, size_t len)
{
	uint64_t h = quota_hash(q, user, len);
	pthread_mutex_lock(&q->mu);
	uint32_t n = q->ent[quota_slot(q, h)].count;
	pthread_mutex_unlock(&q->mu);
	return n;
}
