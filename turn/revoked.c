/* The revoked-user table: a linear scan of a fixed array under a mutex, off the packet path. */
#include "turn/revoked.h"

#include <errno.h>
#include <string.h>

void iw_revoked_init(struct iw_revoked *r)
{
	memset(r, 0, sizeof *r);
	pthread_mutex_init(&r->mu, NULL);
}

void iw_revoked_fini(struct iw_revoked *r)
{
	pthread_mutex_destroy(&r->mu);
}

static bool same(const struct iw_revoked *r, unsigned i, const void *user, size_t len)
{
	return r->ent[i].len == len && !memcmp(r->ent[i].user, user, len);
}

int iw_revoked_add(struct iw_revoked *r, const void *user, size_t len, uint32_t seconds, uint64_t now_ms)
{
	int slot = -1, rc = 0;
	if (len == 0 || len >= IW_ALLOC_USER_MAX || seconds == 0)
		return -EINVAL;
	pthread_mutex_lock(&r->mu);
	for (unsigned i = 0; i < IW_REVOKED_MAX; i++) {
		bool live = r->ent[i].until_ms > now_ms;
		if (live && same(r, i, user, len)) {
			slot = (int)i;
			break;
		}
		if (!live && slot < 0)
			slot = (int)i;
	}
	if (slot < 0) {
		rc = -ENOSPC;
	} else {
		if (!r->ent[slot].until_ms)
			__atomic_add_fetch(&r->n_used, 1, __ATOMIC_RELAXED);
		r->ent[slot].until_ms = now_ms + (uint64_t)seconds * 1000;
		r->ent[slot].len = (uint16_t)len;
		memcpy(r->ent[slot].user, user, len);
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

bool iw_revoked_del(struct iw_revoked *r, const void *user, size_t len, uint64_t now_ms)
{
	bool found = false;
	pthread_mutex_lock(&r->mu);
	for (unsigned i = 0; i < IW_REVOKED_MAX; i++) {
		if (!r->ent[i].until_ms)
			continue;
		bool live = r->ent[i].until_ms > now_ms;
		if (live && !same(r, i, user, len))
			continue;
		found |= live;
		r->ent[i].until_ms = 0;
		__atomic_sub_fetch(&r->n_used, 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&r->mu);
	return found;
}

bool iw_revoked_has(struct iw_revoked *r, const void *user, size_t len, uint64_t now_ms, uint32_t *left_s)
{
	bool found = false;
	if (!__atomic_load_n(&r->n_used, __ATOMIC_RELAXED))
		return false;
	pthread_mutex_lock(&r->mu);
	for (unsigned i = 0; i < IW_REVOKED_MAX && !found; i++) {
		if (r->ent[i].until_ms <= now_ms || !same(r, i, user, len))
			continue;
		found = true;
		*left_s = (uint32_t)((r->ent[i].until_ms - now_ms + 999) / 1000);
	}
	pthread_mutex_unlock(&r->mu);
	return found;
}

unsigned iw_revoked_count(struct iw_revoked *r, uint64_t now_ms)
{
	unsigned n = 0;
	pthread_mutex_lock(&r->mu);
	for (unsigned i = 0; i < IW_REVOKED_MAX; i++) {
		if (r->ent[i].until_ms > now_ms) {
			n++;
		} else if (r->ent[i].until_ms) {
			/* Expired: freed, so that Allocate skips the lock again once none is left. */
			r->ent[i].until_ms = 0;
			__atomic_sub_fetch(&r->n_used, 1, __ATOMIC_RELAXED);
		}
	}
	pthread_mutex_unlock(&r->mu);
	return n;
}
