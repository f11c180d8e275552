/* Allocation table: slab, 5-tuple hash and timing wheel. No I/O, no logging. */
#include "turn/alloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"

/* A freed slab entry's per-allocation state is poisoned under ASan, so a use after delete is
 * reported. The relay socket fields stay readable: a stale epoll event may still look at them
 * (it finds fd -1 and stops). */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(a, on)                                                         \
	((on) ? __asan_poison_memory_region : __asan_unpoison_memory_region)( \
		&(a)->perm_in, offsetof(struct iw_alloc, quota_held) - offsetof(struct iw_alloc, perm_in))
#else
#define POISON(a, on) ((void)(a), (void)(on))
#endif

enum { SLOT_EMPTY = 0, SLOT_TOMB = UINT32_MAX, NO_FREE = UINT32_MAX };

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 16;
	while (p < n)
		p <<= 1;
	return p;
}

int iw_alloc_tab_init(struct iw_alloc_tab *t, uint32_t cap, uint32_t seed, uint64_t now_ms)
{
	memset(t, 0, sizeof *t);
	if (cap == 0 || cap > (1u << 24))
		return -EINVAL;
	t->cap = cap;
	t->seed = seed;
	/* calloc of this size maps fresh zero pages: a slot costs memory once it is first used,
	 * so nothing below walks the slab or the overflow pool. */
	t->slab = calloc(cap, sizeof *t->slab);
	t->ext_cap = cap / IW_ALLOC_EXT_DIV > IW_ALLOC_EXT_MIN ? cap / IW_ALLOC_EXT_DIV : IW_ALLOC_EXT_MIN;
	t->ext = calloc(t->ext_cap, sizeof *t->ext);
	uint32_t hcap = pow2_at_least(cap * 2);
	t->hash = calloc(hcap, sizeof *t->hash);
	t->wheel = calloc(IW_WHEEL_SLOTS, sizeof *t->wheel);
	if (!t->slab || !t->ext || !t->hash || !t->wheel) {
		iw_alloc_tab_fini(t);
		return -ENOMEM;
	}
	t->hash_mask = hcap - 1;
	t->free_head = t->ext_free = NO_FREE;
	for (unsigned i = 0; i < IW_WHEEL_SLOTS; i++)
		t->wheel[i].next = t->wheel[i].prev = &t->wheel[i];
	t->wheel_s = now_ms / 1000;
	return 0;
}

void iw_alloc_tab_fini(struct iw_alloc_tab *t)
{
	for (uint32_t i = 0; t->slab && i < t->n_fresh; i++)
		POISON(&t->slab[i], false);
	free(t->slab);
	free(t->ext);
	free(t->hash);
	free(t->wheel);
	memset(t, 0, sizeof *t);
}

static uint32_t tuple_hash(const struct iw_alloc_tab *t, const struct iw_addr *c, uint32_t l)
{
	return iw_addr_hash(c, t->seed) ^ (l * 0x9E3779B1u);
}

/* Probe for the 5-tuple; returns the hash slot holding it or UINT32_MAX. */
static uint32_t find_slot(const struct iw_alloc_tab *t, const struct iw_addr *c, uint32_t l)
{
	uint32_t i = tuple_hash(t, c, l) & t->hash_mask;
	for (uint32_t n = 0; n <= t->hash_mask; n++, i = (i + 1) & t->hash_mask) {
		uint32_t v = t->hash[i];
		if (v == SLOT_EMPTY)
			return UINT32_MAX;
		if (v == SLOT_TOMB)
			continue;
		const struct iw_alloc *a = &t->slab[v - 1];
		if (a->listener == l && iw_addr_eq(&a->client, c))
			return i;
	}
	return UINT32_MAX;
}

struct iw_alloc *iw_alloc_find(struct iw_alloc_tab *t, const struct iw_addr *client, uint32_t listener)
{
	uint32_t s = find_slot(t, client, listener);
	return s == UINT32_MAX ? NULL : &t->slab[t->hash[s] - 1];
}

static void hash_insert(struct iw_alloc_tab *t, uint32_t idx)
{
	const struct iw_alloc *a = &t->slab[idx];
	uint32_t i = tuple_hash(t, &a->client, a->listener) & t->hash_mask;
	while (t->hash[i] != SLOT_EMPTY && t->hash[i] != SLOT_TOMB)
		i = (i + 1) & t->hash_mask;
	if (t->hash[i] == SLOT_TOMB)
		t->n_tomb--;
	t->hash[i] = idx + 1;
}

/* Tombstones lengthen probes; rebuild from the slab when live + dead pass 3/4 of the table. */
static void maybe_rehash(struct iw_alloc_tab *t)
{
	if ((uint64_t)(t->n_used + t->n_tomb) * 4 < (uint64_t)(t->hash_mask + 1) * 3)
		return;
	memset(t->hash, 0, (size_t)(t->hash_mask + 1) * sizeof *t->hash);
	t->n_tomb = 0;
	for (uint32_t i = 0; i < t->n_fresh; i++)
		if (t->slab[i].in_use)
			hash_insert(t, i);
	t->st.rehashes++;
}

struct iw_alloc *iw_alloc_new(struct iw_alloc_tab *t, const struct iw_addr *client, uint32_t listener)
{
	uint32_t idx;
	if (t->free_head != NO_FREE) {
		idx = t->free_head;
		t->free_head = t->slab[idx].next_free;
	} else if (t->n_fresh < t->cap) {
		idx = t->n_fresh++; /* first use: its page may be faulted in now */
	} else {
		t->st.full++;
		return NULL;
	}
	struct iw_alloc *a = &t->slab[idx];
	POISON(a, false);
	memset(a, 0, sizeof *a);
	a->perms = a->perm_in;
	a->chans = a->chan_in;
	a->in_use = true;
	a->client = *client;
	a->listener = listener;
	a->rs[0].fd = a->rs[1].fd = -1;
	a->timer.next = a->timer.prev = &a->timer;
	t->n_used++;
	hash_insert(t, idx);
	maybe_rehash(t);
	t->st.created++;
	return a;
}

static void hash_remove(struct iw_alloc_tab *t, const struct iw_alloc *a)
{
	uint32_t s = find_slot(t, &a->client, a->listener);
	if (s != UINT32_MAX) {
		t->hash[s] = SLOT_TOMB;
		t->n_tomb++;
	}
}

void iw_alloc_rekey(struct iw_alloc_tab *t, struct iw_alloc *a, const struct iw_addr *client,
		    uint32_t listener)
{
	hash_remove(t, a);
	a->client = *client;
	a->listener = listener;
	hash_insert(t, (uint32_t)(a - t->slab));
	maybe_rehash(t);
}

/* Move a's sets into an overflow block. 0, or -ENOMEM when none is left. */
static int ext_take(struct iw_alloc_tab *t, struct iw_alloc *a)
{
	uint32_t i;
	if (t->ext_free != NO_FREE) {
		i = t->ext_free;
		t->ext_free = t->ext[i].next_free;
	} else if (t->ext_fresh < t->ext_cap) {
		i = t->ext_fresh++;
	} else {
		t->st.ext_full++;
		return -ENOMEM;
	}
	struct iw_alloc_ext *e = &t->ext[i];
	memcpy(e->perms, a->perms, a->n_perms * sizeof *a->perms);
	memcpy(e->chans, a->chans, a->n_chans * sizeof *a->chans);
	a->perms = e->perms;
	a->chans = e->chans;
	a->ext = i + 1;
	t->ext_used++;
	t->st.ext_taken++;
	return 0;
}

/* The block back to the pool; with keep, the sets move back inline (the caller checked
 * that they fit). */
static void ext_put(struct iw_alloc_tab *t, struct iw_alloc *a, bool keep)
{
	if (!a->ext)
		return;
	uint32_t i = a->ext - 1;
	if (keep) {
		memcpy(a->perm_in, a->perms, a->n_perms * sizeof *a->perms);
		memcpy(a->chan_in, a->chans, a->n_chans * sizeof *a->chans);
	}
	a->perms = a->perm_in;
	a->chans = a->chan_in;
	a->ext = 0;
	t->ext[i].next_free = t->ext_free;
	t->ext_free = i;
	t->ext_used--;
}

int iw_alloc_room(struct iw_alloc_tab *t, struct iw_alloc *a, unsigned perms, unsigned chans)
{
	unsigned np = a->n_perms + perms, nc = a->n_chans + chans;
	if (np > IW_MAX_PERMS || nc > IW_MAX_CHANS)
		return -ENOBUFS;
	if (a->ext || (np <= IW_ALLOC_INLINE_PERMS && nc <= IW_ALLOC_INLINE_CHANS))
		return 0;
	return ext_take(t, a);
}

static void timer_unlink(struct iw_timer *tm)
{
	tm->prev->next = tm->next;
	tm->next->prev = tm->prev;
	tm->next = tm->prev = tm;
}

void iw_alloc_del(struct iw_alloc_tab *t, struct iw_alloc *a)
{
	if (!a || !a->in_use)
		return;
	hash_remove(t, a);
	timer_unlink(&a->timer);
	ext_put(t, a, false);
	t->perms_live -= a->n_perms;
	t->chans_live -= a->n_chans;
	a->n_perms = a->n_chans = 0;
	uint32_t idx = (uint32_t)(a - t->slab);
	a->in_use = false;
	POISON(a, true);
	a->next_free = t->free_head;
	t->free_head = idx;
	t->n_used--;
	t->st.deleted++;
}

int iw_alloc_perm_add(struct iw_alloc_tab *t, struct iw_alloc *a, const struct iw_addr *ip,
		      uint64_t expires_ms)
{
	struct iw_addr k = *ip;
	k.port = 0;
	for (unsigned i = 0; i < a->n_perms; i++) {
		if (iw_addr_eq(&a->perms[i].ip, &k)) {
			if (a->perms[i].expires_ms < expires_ms)
				a->perms[i].expires_ms = expires_ms;
			return 0;
		}
	}
	if (a->n_perms == IW_MAX_PERMS) {
		t->st.perms_full++;
		return -ENOBUFS;
	}
	if (iw_alloc_room(t, a, 1, 0))
		return -ENOBUFS;
	a->perms[a->n_perms++] = (struct iw_perm){ .ip = k, .expires_ms = expires_ms };
	a->use.peers++;
	t->perms_live++;
	return 0;
}

int iw_alloc_chan_bind(struct iw_alloc_tab *t, struct iw_alloc *a, uint16_t num, const struct iw_addr *peer,
		       uint64_t expires_ms)
{
	for (unsigned i = 0; i < a->n_chans; i++) {
		struct iw_chan *c = &a->chans[i];
		bool same_num = c->num == num, same_peer = iw_addr_eq(&c->peer, peer);
		if (same_num && same_peer) {
			/* RFC 8656 §11.2: rebinding the same pair refreshes it. */
			c->expires_ms = expires_ms;
			return 0;
		}
		/* RFC 8656 §11.2: the channel must not be bound to another peer, nor the peer
		 * to another channel. Expired entries are pruned by the timer; until then the
		 * binding still counts (the RFC keeps it reserved for a while anyway). */
		if (same_num || same_peer)
			return -EINVAL;
	}
	if (a->n_chans == IW_MAX_CHANS) {
		t->st.chans_full++;
		return -ENOBUFS;
	}
	if (iw_alloc_room(t, a, 0, 1))
		return -ENOBUFS;
	a->chans[a->n_chans++] = (struct iw_chan){ .peer = *peer, .num = num, .expires_ms = expires_ms };
	t->chans_live++;
	return 0;
}

void iw_alloc_prune(struct iw_alloc_tab *t, struct iw_alloc *a, uint64_t now_ms)
{
	unsigned j = 0;
	for (unsigned i = 0; i < a->n_perms; i++)
		if (a->perms[i].expires_ms > now_ms)
			a->perms[j++] = a->perms[i];
	t->perms_live -= a->n_perms - j;
	a->n_perms = (uint8_t)j;
	j = 0;
	for (unsigned i = 0; i < a->n_chans; i++)
		if (a->chans[i].expires_ms > now_ms)
			a->chans[j++] = a->chans[i];
	t->chans_live -= a->n_chans - j;
	a->n_chans = (uint8_t)j;
	if (a->ext && a->n_perms <= IW_ALLOC_INLINE_PERMS && a->n_chans <= IW_ALLOC_INLINE_CHANS)
		ext_put(t, a, true);
}

static uint64_t earliest(const struct iw_alloc *a)
{
	uint64_t e = a->expires_ms;
	if (a->interim_ms && a->interim_ms < e)
		e = a->interim_ms;
	for (unsigned i = 0; i < a->n_perms; i++)
		if (a->perms[i].expires_ms < e)
			e = a->perms[i].expires_ms;
	for (unsigned i = 0; i < a->n_chans; i++)
		if (a->chans[i].expires_ms < e)
			e = a->chans[i].expires_ms;
	return e;
}

void iw_alloc_timer_arm(struct iw_alloc_tab *t, struct iw_alloc *a)
{
	timer_unlink(&a->timer);
	uint64_t due = (earliest(a) + 999) / 1000;
	if (due <= t->wheel_s)
		due = t->wheel_s + 1;
	/* A due time past the wheel's span lands early in its slot and is re-armed on fire. */
	if (due - t->wheel_s >= IW_WHEEL_SLOTS)
		due = t->wheel_s + IW_WHEEL_SLOTS - 1;
	a->timer.due_s = due;
	struct iw_timer *head = &t->wheel[due & (IW_WHEEL_SLOTS - 1)];
	a->timer.next = head;
	a->timer.prev = head->prev;
	head->prev->next = &a->timer;
	head->prev = &a->timer;
}

#define ALLOC_OF(tm) ((struct iw_alloc *)((char *)(tm)-offsetof(struct iw_alloc, timer)))

size_t iw_alloc_tick(struct iw_alloc_tab *t, uint64_t now_ms, iw_alloc_expire_fn fn, void *ctx)
{
	uint64_t now_s = now_ms / 1000;
	size_t fired = 0;
	/* After a long stall, one lap of the wheel visits every slot. */
	if (now_s > t->wheel_s + IW_WHEEL_SLOTS)
		t->wheel_s = now_s - IW_WHEEL_SLOTS;
	while (t->wheel_s < now_s) {
		t->wheel_s++;
		struct iw_timer *head = &t->wheel[t->wheel_s & (IW_WHEEL_SLOTS - 1)];
		/* Detach the slot first: re-arming may put a timer back into this same slot. */
		struct iw_timer list = { .next = head->next, .prev = head->prev };
		if (head->next == head)
			continue;
		list.next->prev = &list;
		list.prev->next = &list;
		head->next = head->prev = head;
		while (list.next != &list) {
			struct iw_timer *tm = list.next;
			timer_unlink(tm);
			struct iw_alloc *a = ALLOC_OF(tm);
			fired++;
			if (a->expires_ms <= now_ms) {
				t->st.expired++;
				fn(ctx, a);
				continue;
			}
			iw_alloc_prune(t, a, now_ms);
			uint64_t was = a->interim_ms;
			if (was && was <= now_ms) {
				if (t->on_interim)
					t->on_interim(ctx, a);
				/* Not moved on: cleared, never fired in a loop. A time moved on that
				 * has passed already comes at the next second. */
				if (a->interim_ms <= was)
					a->interim_ms = 0;
			}
			iw_alloc_timer_arm(t, a);
		}
	}
	return fired;
}
