/* turn/quota: counts per user and in all, the limits, and deletion from the middle of a probe
 * run. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/bytes.h"
#include "turn/quota.h"

static void test_quota(void **state)
{
	(void)state;
	struct iw_quota q;
	const char *why = NULL;
	assert_int_equal(iw_quota_init(&q, 8), 0);
	assert_int_equal(iw_quota_take(&q, "alice", 5, 2, 0, &why), 0);
	assert_int_equal(iw_quota_take(&q, "alice", 5, 2, 0, &why), 0);
	assert_int_equal(iw_quota_take(&q, "alice", 5, 2, 0, &why), -EDQUOT);
	assert_string_equal(why, "Allocation Quota Reached: user quota");
	assert_int_equal(iw_quota_take(&q, "bob", 3, 2, 0, &why), 0);
	assert_int_equal(iw_quota_count(&q, "alice", 5), 2);
	iw_quota_put(&q, "alice", 5);
	assert_int_equal(iw_quota_count(&q, "alice", 5), 1);
	assert_int_equal(iw_quota_take(&q, "alice", 5, 2, 0, &why), 0);
	iw_quota_put(&q, "alice", 5);
	iw_quota_put(&q, "alice", 5);
	assert_int_equal(iw_quota_count(&q, "alice", 5), 0);
	/* A put with nothing counted changes nothing. */
	iw_quota_put(&q, "alice", 5);
	assert_int_equal(iw_quota_count(&q, "bob", 3), 1);
	/* total-quota counts every user: bob's one plus three more reach 4. */
	assert_int_equal(iw_quota_take(&q, "carol", 5, 0, 4, &why), 0);
	assert_int_equal(iw_quota_take(&q, "carol", 5, 0, 4, &why), 0);
	assert_int_equal(iw_quota_take(&q, "dave", 4, 0, 4, &why), 0);
	assert_int_equal(iw_quota_take(&q, "erin", 4, 0, 4, &why), -EDQUOT);
	assert_string_equal(why, "Allocation Quota Reached: server total");
	iw_quota_fini(&q);
}

/* Many users in a small table (15 in 32 slots: their probe runs nearly always collide), and
 * deleting from the middle of a run (backward shift) must leave every other user findable
 * with its count. New users stop at half the table, as max-allocations bounds them. */
static void test_quota_collisions(void **state)
{
	(void)state;
	struct iw_quota q;
	const char *why = NULL;
	char name[16];
	assert_int_equal(iw_quota_init(&q, 16), 0);
	for (unsigned i = 0; i < 15; i++) {
		snprintf(name, sizeof name, "user%u", i);
		assert_int_equal(iw_quota_take(&q, name, strlen(name), 0, 0, &why), 0);
	}
	assert_int_equal(iw_quota_take(&q, "user15", 6, 0, 0, &why), 0);
	assert_int_equal(iw_quota_take(&q, "user16", 6, 0, 0, &why), -EDQUOT);
	iw_quota_put(&q, "user15", 6);
	for (unsigned i = 1; i < 15; i += 2) { /* a second allocation for the odd ones */
		snprintf(name, sizeof name, "user%u", i);
		assert_int_equal(iw_quota_take(&q, name, strlen(name), 0, 0, &why), 0);
	}
	for (unsigned i = 0; i < 15; i += 2) {
		snprintf(name, sizeof name, "user%u", i);
		iw_quota_put(&q, name, strlen(name));
	}
	for (unsigned i = 0; i < 15; i++) {
		snprintf(name, sizeof name, "user%u", i);
		assert_int_equal(iw_quota_count(&q, name, strlen(name)), i % 2 ? 2 : 0);
	}
	iw_quota_fini(&q);
}

/* A name (into buf) whose home slot in q is slot, or NULL. */
static const char *name_at(const struct iw_quota *q, uint32_t slot, const char *prefix, char *buf, size_t cap)
{
	for (unsigned i = 0; i < 100000; i++) {
		snprintf(buf, cap, "%s%u", prefix, i);
		uint64_t h = iw_hash_keyed(q->seed, buf, strlen(buf));
		if (((uint32_t)(h ? h : 1) & q->mask) == slot)
			return buf;
	}
	return NULL;
}

/* A slot emptied by the backward shift holds nothing of the user that moved out of it: a new
 * user there starts with no overflow block counted (it used to inherit the moved user's). */
static void test_quota_shift_clears(void **state)
{
	(void)state;
	struct iw_quota q;
	const char *why = NULL;
	char a[32], b[32], c[32];
	assert_int_equal(iw_quota_init(&q, 8), 0);
	q.seed = 12345;
	assert_non_null(name_at(&q, 3, "a", a, sizeof a));
	assert_non_null(name_at(&q, 3, "b", b, sizeof b));
	assert_non_null(name_at(&q, 4, "c", c, sizeof c));
	assert_int_equal(iw_quota_take(&q, a, strlen(a), 0, 0, &why), 0); /* slot 3 */
	assert_int_equal(iw_quota_take(&q, b, strlen(b), 0, 0, &why), 0); /* slot 4 */
	assert_int_equal(iw_quota_ext_take(&q, b, strlen(b), 1), 0);
	iw_quota_put(&q, a, strlen(a)); /* b moves back to slot 3 */
	assert_int_equal(iw_quota_count(&q, b, strlen(b)), 1);
	assert_int_equal(iw_quota_take(&q, c, strlen(c), 0, 0, &why), 0); /* slot 4 again */
	assert_int_equal(iw_quota_ext_take(&q, c, strlen(c), 1), 0);
	assert_int_equal(iw_quota_ext_take(&q, b, strlen(b), 1), -EDQUOT);
	iw_quota_fini(&q);
}

/* user-max-bps budgets: one per user holding a count, stable while it does, full again when
 * a later user gets the slot; none for a user without a count. */
static void test_quota_budget(void **state)
{
	(void)state;
	struct iw_quota q;
	const char *why = NULL;
	assert_int_equal(iw_quota_init(&q, 4), 0);
	assert_null(iw_quota_budget(&q, "alice", 5));
	assert_int_equal(iw_quota_take(&q, "alice", 5, 0, 0, &why), 0);
	uint64_t *a = iw_quota_budget(&q, "alice", 5);
	assert_non_null(a);
	assert_true(((uintptr_t)a & 63) == 0);
	assert_true(*a == 0);
	*a = 777;
	assert_int_equal(iw_quota_take(&q, "alice", 5, 0, 0, &why), 0);
	assert_ptr_equal(iw_quota_budget(&q, "alice", 5), a);
	assert_int_equal(iw_quota_take(&q, "bob", 3, 0, 0, &why), 0);
	uint64_t *b = iw_quota_budget(&q, "bob", 3);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	iw_quota_put(&q, "alice", 5);
	assert_ptr_equal(iw_quota_budget(&q, "alice", 5), a);
	iw_quota_put(&q, "alice", 5);
	assert_null(iw_quota_budget(&q, "alice", 5));
	/* Every slot handed out and given back, over and over: the free list never runs dry. */
	for (int round = 0; round < 10; round++) {
		char n[8];
		for (int i = 0; i < 3; i++) {
			snprintf(n, sizeof n, "u%d", i);
			assert_int_equal(iw_quota_take(&q, n, strlen(n), 0, 0, &why), 0);
			uint64_t *p = iw_quota_budget(&q, n, strlen(n));
			assert_non_null(p);
			assert_true(*p == 0); /* full, whatever the last user left */
			*p = 1234;
		}
		for (int i = 0; i < 3; i++) {
			snprintf(n, sizeof n, "u%d", i);
			iw_quota_put(&q, n, strlen(n));
		}
	}
	assert_ptr_equal(iw_quota_budget(&q, "bob", 3), b);
	iw_quota_fini(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quota),
		cmocka_unit_test(test_quota_collisions),
		cmocka_unit_test(test_quota_shift_clears),
		cmocka_unit_test(test_quota_budget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
