/* turn/alloc: capacity, 5-tuple lookups with tombstones, timer expiry order, permission and
 * channel limits and rules; slots used lazily, inline sets and overflow blocks,
 * the per-allocation record size. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "turn/alloc.h"

static struct iw_addr addr(const char *s)
{
	struct iw_addr a;
	assert_int_equal(iw_addr_parse(&a, s), 0);
	return a;
}

static void test_capacity(void **state)
{
	(void)state;
	struct iw_alloc_tab t;
	assert_int_equal(iw_alloc_tab_init(&t, 4, 1, 0), 0);
	struct iw_addr c[5] = { addr("192.0.2.1:1000"), addr("192.0.2.1:1001"), addr("192.0.2.2:1000"),
				addr("[2001:db8::1]:1000"), addr("192.0.2.9:9") };
	for (int i = 0; i < 4; i++)
		assert_non_null(iw_alloc_new(&t, &c[i], 0));
	assert_null(iw_alloc_new(&t, &c[4], 0));
	assert_int_equal(t.st.full, 1);
	for (int i = 0; i < 4; i++) {
		struct iw_alloc *a = iw_alloc_find(&t, &c[i], 0);
		assert_non_null(a);
		assert_true(iw_addr_eq(&a->client, &c[i]));
	}
	/* Same client on another listener is another 5-tuple. */
	assert_null(iw_alloc_find(&t, &c[0], 1));
	iw_alloc_del(&t, iw_alloc_find(&t, &c[1], 0));
	assert_null(iw_alloc_find(&t, &c[1], 0));
	assert_non_null(iw_alloc_new(&t, &c[4], 0));
	assert_non_null(iw_alloc_find(&t, &c[4], 0));
	assert_int_equal(t.n_used, 4);
	iw_alloc_tab_fini(&t);
}

/* RFC 8016: an allocation whose client moved is found under its new 5-tuple only, and
 * keeps what it held; the old 5-tuple is free for another allocation. */
static void test_rekey(void **state)
{
	(void)state;
	struct iw_alloc_tab t;
	assert_int_equal(iw_alloc_tab_init(&t, 8, 1, 0), 0);
	struct iw_addr old = addr("192.0.2.1:1000"), moved = addr("192.0.2.7:2000");
	struct iw_alloc *a = iw_alloc_new(&t, &old, 0);
	assert_non_null(a);
	a->id = 42;
	assert_int_equal(iw_alloc_perm_add(&t, a, &moved, 5000), 0);
	for (int round = 0; round < 20; round++) { /* back and forth: tombstones and rehashes */
		iw_alloc_rekey(&t, a, &moved, 1);
		assert_ptr_equal(iw_alloc_find(&t, &moved, 1), a);
		assert_null(iw_alloc_find(&t, &old, 0));
		iw_alloc_rekey(&t, a, &old, 0);
		assert_ptr_equal(iw_alloc_find(&t, &old, 0), a);
		assert_null(iw_alloc_find(&t, &moved, 1));
	}
	iw_alloc_rekey(&t, a, &moved, 1);
	assert_int_equal(t.n_used, 1);
	assert_true(a->id == 42);
	assert_int_equal(a->n_perms, 1);
	struct iw_alloc *b = iw_alloc_new(&t, &old, 0);
	assert_non_null(b);
	assert_ptr_equal(iw_alloc_find(&t, &old, 0), b);
	assert_ptr_equal(iw_alloc_find(&t, &moved, 1), a);
	iw_alloc_tab_fini(&t);
}

static void test_tombstone_reuse(void **state)
{
	(void)state;
	struct iw_alloc_tab t;
	assert_int_equal(iw_alloc_tab_init(&t, 8, 7, 0), 0);
	struct iw_addr keep = addr("198.51.100.1:5000");
	assert_non_null(iw_alloc_new(&t, &keep, 0));
	/* Many create/delete cycles: tombstones are reused or swept, lookups stay right. */
	for (int i = 0; i < 5000; i++) {
		struct iw_addr c = addr("203.0.113.5:1");
		c.port = (uint16_t)(1000 + i);
		struct iw_alloc *a = iw_alloc_new(&t, &c, 0);
		assert_non_null(a);
		assert_ptr_equal(iw_alloc_find(&t, &c, 0), a);
		iw_alloc_del(&t, a);
		assert_null(iw_alloc_find(&t, &c, 0));
		assert_true(t.n_tomb + t.n_used <= t.hash_mask + 1);
	}
	assert_non_null(iw_alloc_find(&t, &keep, 0));
	assert_int_equal(t.n_used, 1);
	assert_true(t.st.rehashes > 0 || t.n_tomb < (t.hash_mask + 1) * 3 / 4);
	iw_alloc_tab_fini(&t);
}

static uint64_t expired_order[8];
static unsigned n_expired;
static struct iw_alloc_tab *cur_tab;

static void on_expire(void *ctx, struct iw_alloc *a)
{
	(void)ctx;
	expired_order[n_expired++] = a->expires_ms;
	iw_alloc_del(cur_tab, a);
}

static void test_expiry_order(void **state)
{
	(void)state;
	struct iw_alloc_tab t;
	uint64_t t0 = 1000000;
	assert_int_equal(iw_alloc_tab_init(&t, 8, 3, t0), 0);
	cur_tab = &t;
	n_expired = 0;
	const uint64_t life[4] = { 3000, 1000, 2000, 600000 };
	for (int i = 0; i < 4; i++) {
		struct iw_addr c = addr("192.0.2.1:1");
		c.port = (uint16_t)(10 + i);
		struct iw_alloc *a = iw_alloc_new(&t, &c, 0);
		a->expires_ms = t0 + life[i];
		iw_alloc_timer_arm(&t, a);
	}
	iw_alloc_tick(&t, t0 + 500, on_expire, NULL);
	assert_int_equal(n_expired, 0);
	iw_alloc_tick(&t, t0 + 1500, on_expire, NULL);
	assert_int_equal(n_expired, 1);
	assert_int_equal(expired_order[0], t0 + 1000);
	iw_alloc_tick(&t, t0 + 3000, on_expire, NULL);
	assert_int_equal(n_expired, 3);
	assert_int_equal(expired_order[1], t0 + 2000);
	assert_int_equal(expired_order[2], t0 + 3000);
	assert_int_equal(t.n_used, 1);
	/* A refresh pushes the expiry out: nothing fires before it. */
	struct iw_addr c = addr("192.0.2.1:13");
	struct iw_alloc *a = iw_alloc_find(&t, &c, 0);
	assert_non_null(a);
	iw_alloc_tick(&t, t0 + 599000, on_expire, NULL);
	assert_int_equal(n_expired, 3);
	a->expires_ms = t0 + 700000;
	iw_alloc_timer_arm(&t, a);
	iw_alloc_tick(&t, t0 + 650000, on_expire, NULL);
	assert_int_equal(n_expired, 3);
	iw_alloc_tick(&t, t0 + 700001, on_expire, NULL);
	assert_int_equal(n_expired, 4);
	assert_int_equal(t.n_used, 0);
	assert_int_equal(t.st.expired, 4);
	iw_alloc_tab_fini(&t);
}

static void test_perm_prune_by_timer(void **state)
{
	(void)state;
	struct iw_alloc_tab t;
	uint64_t t0 = 5000;
	assert_int_equal(iw_alloc_tab_init(&t, 2, 3, t0), 0);
	struct iw_addr c = addr("192.0.2.1:1"), p = addr("198.51.100.7:9");
	struct iw_alloc *a = iw_alloc_new(&t, &c, 0);
	a->expires_ms = t0 + 600000;
	assert_int_equal(iw_alloc_perm_add(&t, a, &p, t0 + 300000), 0);
	iw_alloc_timer_arm(&t, a);
	assert_true(iw_alloc_perm_has(a, &p, t0 + 1000));
	iw_alloc_tick(&t, t0 + 301000, on_expire, NULL);
	assert_int_equal(a->n_perms, 0);
	assert_false(iw_alloc_perm_has(a, &p, t0 + 301000));
	assert_int_equal(t.n_used, 1);
	iw_alloc_tab_fini(&t);
}

static void test_perm_limits(void **state)
{
	(void)state;
	struct iw_alloc_tab t;
	assert_int_equal(iw_alloc_tab_init(&t, 2, 3, 0), 0);
	struct iw_addr c = addr("192.0.2.1:1");
	struct iw_alloc *a = iw_alloc_new(&t, &c, 0);
	for (int i = 0; i < IW_MAX_PERMS; i++) {
		struct iw_addr p = addr("198.51.100.1:5");
		p.ip[3] = (uint8_t)(i + 1);
		assert_int_equal(iw_alloc_perm_add(&t, a, &p, 100000), 0);
	}
	struct iw_addr extra = addr("203.0.113.1:1");
	assert_int_equal(iw_alloc_perm_add(&t, a, &extra, 100000), -ENOBUFS);
	assert_int_equal(t.st.perms_full, 1);
	/* RFC 8656 §9: permissions ignore the port; refreshing an existing one works when full. */
	struct iw_addr same = addr("198.51.100.1:65000");
	assert_int_equal(iw_alloc_perm_add(&t, a, &same, 200000), 0);
	assert_true(iw_alloc_perm_has(a, &same, 150000));
	assert_false(iw_alloc_perm_has(a, &extra, 0));
	iw_alloc_tab_fini(&t);
}

static void test_channel_rules(void **state)
{
	(void)state;
	struct iw_alloc_tab t;
	assert_int_equal(iw_alloc_tab_init(&t, 2, 3, 0), 0);
	struct iw_addr c = addr("192.0.2.1:1");
	struct iw_alloc *a = iw_alloc_new(&t, &c, 0);
	struct iw_addr p1 = addr("198.51.100.1:5000"), p2 = addr("198.51.100.1:5001");
	assert_int_equal(iw_alloc_chan_bind(&t, a, 0x4000, &p1, 1000), 0);
	/* Rebinding the same pair refreshes. */
	assert_int_equal(iw_alloc_chan_bind(&t, a, 0x4000, &p1, 5000), 0);
	assert_int_equal(a->chans[0].expires_ms, 5000);
	/* The channel is bound to another peer, or the peer to another channel. */
	assert_int_equal(iw_alloc_chan_bind(&t, a, 0x4000, &p2, 5000), -EINVAL);
	assert_int_equal(iw_alloc_chan_bind(&t, a, 0x4001, &p1, 5000), -EINVAL);
	assert_int_equal(iw_alloc_chan_bind(&t, a, 0x4001, &p2, 5000), 0);
	assert_ptr_equal(iw_alloc_chan_by_num(a, 0x4001, 10), &a->chans[1]);
	assert_ptr_equal(iw_alloc_chan_by_peer(a, &p1, 10), &a->chans[0]);
	assert_null(iw_alloc_chan_by_num(a, 0x4000, 5000)); /* expired */
	for (int i = 2; i < IW_MAX_CHANS; i++) {
		struct iw_addr p = addr("203.0.113.1:1");
		p.port = (uint16_t)(2000 + i);
		assert_int_equal(iw_alloc_chan_bind(&t, a, (uint16_t)(0x4000 + i), &p, 5000), 0);
	}
	struct iw_addr p = addr("203.0.113.9:9");
	assert_int_equal(iw_alloc_chan_bind(&t, a, 0x4FFF, &p, 5000), -ENOBUFS);
	assert_int_equal(t.st.chans_full, 1);
	/* Once pruned, an expired binding's slot is free again. */
	iw_alloc_prune(&t, a, 6000);
	assert_int_equal(a->n_chans, 0);
	assert_int_equal(iw_alloc_chan_bind(&t, a, 0x4000, &p2, 9000), 0);
	iw_alloc_tab_fini(&t);
}

static void test_lazy_slots(void **state)
{
	(void)state;
	struct iw_alloc_tab t;
	assert_int_equal(iw_alloc_tab_init(&t, 1000, 5, 0), 0);
	/* Nothing of the slab is written at start-up. */
	assert_int_equal(t.n_fresh, 0);
	struct iw_addr c = addr("192.0.2.1:1");
	struct iw_alloc *a[3];
	for (int i = 0; i < 3; i++) {
		c.port = (uint16_t)(1000 + i);
		a[i] = iw_alloc_new(&t, &c, 0);
		assert_non_null(a[i]);
	}
	assert_int_equal(t.n_fresh, 3);
	/* A freed slot is used again before a fresh one. */
	iw_alloc_del(&t, a[1]);
	c.port = 2000;
	assert_ptr_equal(iw_alloc_new(&t, &c, 0), a[1]);
	assert_int_equal(t.n_fresh, 3);
	for (int i = 3; i < 1000; i++) {
		c.port = (uint16_t)(3000 + i);
		assert_non_null(iw_alloc_new(&t, &c, 0));
	}
	assert_int_equal(t.n_fresh, 1000);
	c.port = 9;
	assert_null(iw_alloc_new(&t, &c, 0));
	assert_int_equal(t.st.full, 1);
	iw_alloc_tab_fini(&t);
}

static void test_overflow_block(void **state)
{
	(void)state;
	struct iw_alloc_tab t;
	assert_int_equal(iw_alloc_tab_init(&t, 4, 5, 0), 0);
	struct iw_addr c = addr("192.0.2.1:1");
	struct iw_alloc *a = iw_alloc_new(&t, &c, 0);
	struct iw_addr p = addr("198.51.100.1:5");
	for (int i = 0; i < IW_ALLOC_INLINE_PERMS; i++) {
		p.ip[3] = (uint8_t)(i + 1);
		assert_int_equal(iw_alloc_perm_add(&t, a, &p, 1000 + (uint64_t)i), 0);
	}
	assert_int_equal(a->ext, 0);
	assert_ptr_equal(a->perms, a->perm_in);
	/* One more: the sets move to a block, in order, and every lookup still finds them. */
	p.ip[3] = 100;
	assert_int_equal(iw_alloc_perm_add(&t, a, &p, 50000), 0);
	assert_int_not_equal(a->ext, 0);
	assert_int_equal(t.ext_used, 1);
	assert_int_equal(t.st.ext_taken, 1);
	for (int i = 0; i < IW_ALLOC_INLINE_PERMS; i++) {
		p.ip[3] = (uint8_t)(i + 1);
		assert_true(iw_alloc_perm_has(a, &p, 999));
	}
	p.ip[3] = 100;
	assert_true(iw_alloc_perm_has(a, &p, 999));
	for (int i = 0; i < IW_MAX_CHANS; i++) {
		struct iw_addr q = addr("203.0.113.1:1");
		q.port = (uint16_t)(2000 + i);
		assert_int_equal(iw_alloc_chan_bind(&t, a, (uint16_t)(0x4000 + i), &q, 60000), 0);
	}
	assert_int_equal(t.ext_used, 1); /* the same block holds both sets */
	assert_non_null(iw_alloc_chan_by_num(a, 0x400F, 10));
	/* Pruned back to what fits inline: the block goes back, the survivors stay. */
	iw_alloc_prune(&t, a, 59999);
	assert_int_not_equal(a->ext, 0); /* the 16 channels are still live */
	iw_alloc_prune(&t, a, 60000);
	assert_int_equal(a->n_perms, 0);
	assert_int_equal(a->n_chans, 0);
	assert_int_equal(a->ext, 0);
	assert_int_equal(t.ext_used, 0);
	assert_ptr_equal(a->perms, a->perm_in);
	iw_alloc_tab_fini(&t);
}

static void test_overflow_keeps_survivors(void **state)
{
	(void)state;
	struct iw_alloc_tab t;
	assert_int_equal(iw_alloc_tab_init(&t, 4, 5, 0), 0);
	struct iw_addr c = addr("192.0.2.1:1"), p = addr("198.51.100.1:5");
	struct iw_alloc *a = iw_alloc_new(&t, &c, 0);
	for (int i = 0; i < 8; i++) {
		p.ip[3] = (uint8_t)(i + 1);
		/* odd ones outlive the even ones */
		assert_int_equal(iw_alloc_perm_add(&t, a, &p, i % 2 ? 9000 : 1000), 0);
	}
	assert_int_not_equal(a->ext, 0);
	iw_alloc_prune(&t, a, 1000);
	assert_int_equal(a->n_perms, 4);
	assert_int_equal(a->ext, 0);
	for (int i = 0; i < 8; i++) {
		p.ip[3] = (uint8_t)(i + 1);
		assert_int_equal(iw_alloc_perm_has(a, &p, 1000), i % 2 == 1);
	}
	iw_alloc_tab_fini(&t);
}

static void test_overflow_exhausted(void **state)
{
	(void)state;
	struct iw_alloc_tab t;
	uint32_t cap = IW_ALLOC_EXT_MIN * IW_ALLOC_EXT_DIV + 8;
	assert_int_equal(iw_alloc_tab_init(&t, cap, 5, 0), 0);
	uint32_t blocks = t.ext_cap;
	assert_true(blocks >= IW_ALLOC_EXT_MIN && blocks < cap);
	struct iw_addr c = addr("192.0.2.1:1");
	struct iw_alloc *first = NULL;
	for (uint32_t i = 0; i < blocks; i++) {
		c.port = (uint16_t)(1000 + i);
		struct iw_alloc *a = iw_alloc_new(&t, &c, 0);
		assert_int_equal(iw_alloc_room(&t, a, IW_ALLOC_INLINE_PERMS + 1, 0), 0);
		first = first ? first : a;
	}
	c.port = 9;
	struct iw_alloc *a = iw_alloc_new(&t, &c, 0);
	/* Inline room needs no block; more is refused, and counted, when none is left. */
	assert_int_equal(iw_alloc_room(&t, a, IW_ALLOC_INLINE_PERMS, IW_ALLOC_INLINE_CHANS), 0);
	assert_int_equal(iw_alloc_room(&t, a, 0, IW_ALLOC_INLINE_CHANS + 1), -ENOMEM);
	assert_int_equal(t.st.ext_full, 1);
	struct iw_addr p = addr("198.51.100.1:5");
	for (int i = 0; i < IW_ALLOC_INLINE_PERMS; i++) {
		p.ip[3] = (uint8_t)(i + 1);
		assert_int_equal(iw_alloc_perm_add(&t, a, &p, 1000), 0);
	}
	p.ip[3] = 99;
	assert_int_equal(iw_alloc_perm_add(&t, a, &p, 1000), -ENOBUFS);
	assert_int_equal(iw_alloc_room(&t, a, 0, 0), 0);
	assert_int_equal(iw_alloc_room(&t, a, IW_MAX_PERMS, 0), -ENOBUFS); /* past the limit */
	/* A deleted allocation's block is the next one handed out. */
	iw_alloc_del(&t, first);
	assert_int_equal(iw_alloc_perm_add(&t, a, &p, 1000), 0);
	assert_int_not_equal(a->ext, 0);
	assert_int_equal(t.ext_used, blocks);
	iw_alloc_tab_fini(&t);
}

static unsigned interim_calls;
static struct iw_alloc *interim_last;

static void on_interim(void *ctx, struct iw_alloc *a)
{
	interim_calls++;
	interim_last = a;
	if (ctx) /* move on by 2 s */
		a->interim_ms += 2000;
}

static void no_expire(void *ctx, struct iw_alloc *a)
{
	(void)ctx;
	(void)a;
	fail_msg("nothing expires here");
}

/* Interim records ride the allocation's own timer: only an allocation with one due is visited,
 * at its time, and a hook that does not move it on stops it rather than looping. */
static void test_interim_timer(void **state)
{
	(void)state;
	struct iw_alloc_tab t;
	uint64_t t0 = 1000000;
	assert_int_equal(iw_alloc_tab_init(&t, 8, 3, t0), 0);
	t.on_interim = on_interim;
	struct iw_addr c1 = addr("192.0.2.1:1"), c2 = addr("192.0.2.2:2");
	struct iw_alloc *a = iw_alloc_new(&t, &c1, 0), *b = iw_alloc_new(&t, &c2, 0);
	a->expires_ms = b->expires_ms = t0 + 600000;
	a->interim_ms = t0 + 3000;
	iw_alloc_timer_arm(&t, a);
	iw_alloc_timer_arm(&t, b);
	int mover = 1;
	assert_int_equal(iw_alloc_tick(&t, t0 + 2999, no_expire, &mover), 0);
	assert_int_equal(interim_calls, 0);
	assert_int_equal(iw_alloc_tick(&t, t0 + 3000, no_expire, &mover), 1);
	assert_int_equal(interim_calls, 1);
	assert_ptr_equal(interim_last, a);
	assert_int_equal(a->interim_ms, t0 + 5000);
	assert_int_equal(iw_alloc_tick(&t, t0 + 5000, no_expire, NULL), 1);
	assert_int_equal(interim_calls, 2);
	assert_int_equal(a->interim_ms, 0); /* not moved on: cleared */
	/* b was never visited; nothing more fires before the lifetimes. */
	assert_int_equal(iw_alloc_tick(&t, t0 + 60000, no_expire, NULL), 0);
	assert_int_equal(interim_calls, 2);
	iw_alloc_tab_fini(&t);
}

/* peers counts the IPs given a permission: a refresh or another port is not another peer. */
static void test_use_peers(void **state)
{
	(void)state;
	struct iw_alloc_tab t;
	assert_int_equal(iw_alloc_tab_init(&t, 4, 3, 0), 0);
	struct iw_addr c = addr("192.0.2.1:1");
	struct iw_alloc *a = iw_alloc_new(&t, &c, 0);
	struct iw_addr p1 = addr("198.51.100.1:5"), p1b = addr("198.51.100.1:6"),
		       p2 = addr("[2001:db8::2]:7");
	assert_int_equal(iw_alloc_perm_add(&t, a, &p1, 1000), 0);
	assert_int_equal(iw_alloc_perm_add(&t, a, &p1, 2000), 0);
	assert_int_equal(iw_alloc_perm_add(&t, a, &p1b, 2000), 0);
	assert_int_equal(iw_alloc_perm_add(&t, a, &p2, 2000), 0);
	assert_int_equal(a->use.peers, 2);
	/* The counters sit where a relayed datagram already reads: within a cache line of the
	 * set pointers and the inline permissions. */
	assert_true(offsetof(struct iw_alloc, use) >= offsetof(struct iw_alloc, perms));
	assert_true(offsetof(struct iw_alloc, use) + sizeof a->use <=
		    offsetof(struct iw_alloc, perm_in) + 64);
	iw_alloc_tab_fini(&t);
}

static void on_interim_step(void *ctx, struct iw_alloc *a)
{
	(void)ctx;
	interim_calls++;
	a->interim_ms += 1000;
}

/* An interim time the hook moved on that has passed already (the wheel ran late) comes at the
 * next second: it is not taken for a hook that did not move it and cleared. */
static void test_interim_late(void **state)
{
	(void)state;
	struct iw_alloc_tab t;
	uint64_t t0 = 1000000;
	assert_int_equal(iw_alloc_tab_init(&t, 8, 3, t0), 0);
	t.on_interim = on_interim_step;
	struct iw_addr c1 = addr("192.0.2.1:1");
	struct iw_alloc *a = iw_alloc_new(&t, &c1, 0);
	a->expires_ms = t0 + 600000;
	a->interim_ms = t0 + 3000;
	iw_alloc_timer_arm(&t, a);
	interim_calls = 0;
	/* One wake-up at 4.5 s: due at 3 s, moved on to 4 s, which has passed: it comes in the
	 * wheel's next second, which this tick reaches too. */
	assert_int_equal(iw_alloc_tick(&t, t0 + 4500, no_expire, NULL), 2);
	assert_int_equal(interim_calls, 2);
	assert_int_equal(a->interim_ms, t0 + 5000);
	assert_int_equal(iw_alloc_tick(&t, t0 + 5000, no_expire, NULL), 1);
	assert_int_equal(interim_calls, 3);
	assert_int_equal(a->interim_ms, t0 + 6000);
	iw_alloc_tab_fini(&t);
}

static void test_record_size(void **state)
{
	(void)state;
	/* The memory target: under 1 KiB resident per allocation, the slab record plus
	 * its two 5-tuple hash slots (the table is twice the capacity). */
	size_t per = sizeof(struct iw_alloc) + 2 * sizeof(uint32_t);
	print_message("struct iw_alloc: %zu bytes, with hash slots %zu; overflow block %zu bytes\n",
		      sizeof(struct iw_alloc), per, sizeof(struct iw_alloc_ext));
	assert_true(per < 1024);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_tombstone_reuse),
		cmocka_unit_test(test_expiry_order),
		cmocka_unit_test(test_perm_prune_by_timer),
		cmocka_unit_test(test_perm_limits),
		cmocka_unit_test(test_channel_rules),
		cmocka_unit_test(test_lazy_slots),
		cmocka_unit_test(test_overflow_block),
		cmocka_unit_test(test_overflow_keeps_survivors),
		cmocka_unit_test(test_overflow_exhausted),
		cmocka_unit_test(test_record_size),
		cmocka_unit_test(test_interim_timer),
		cmocka_unit_test(test_interim_late),
		cmocka_unit_test(test_use_peers),
		cmocka_unit_test(test_rekey),
	};
	return cmocka_run_group_tests_name("turn/alloc", tests, NULL, NULL);
}
