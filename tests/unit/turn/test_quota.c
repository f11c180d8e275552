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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quota),
		cmocka_unit_test(test_quota_collisions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
