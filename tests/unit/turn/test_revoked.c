/* Unit tests for turn/revoked.c: the bounded table of revoked users. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "turn/revoked.h"

static void test_add_has_expire(void **state)
{
	(void)state;
	struct iw_revoked *r = malloc(sizeof *r);
	uint32_t left = 0;
	iw_revoked_init(r);
	assert_false(iw_revoked_has(r, "bob", 3, 1000, &left));
	assert_int_equal(iw_revoked_add(r, "bob", 3, 5, 1000), 0);
	assert_true(iw_revoked_has(r, "bob", 3, 1000, &left));
	assert_int_equal(left, 5);
	assert_true(iw_revoked_has(r, "bob", 3, 5999, &left));
	assert_int_equal(left, 1);
	assert_false(iw_revoked_has(r, "bob", 3, 6000, &left));
	assert_false(iw_revoked_has(r, "bo", 2, 1000, &left));
	assert_false(iw_revoked_has(r, "bobby", 5, 1000, &left));
	/* A second revocation sets a new time; expired entries are freed when counted. */
	assert_int_equal(iw_revoked_add(r, "bob", 3, 1, 1000), 0);
	assert_int_equal(iw_revoked_count(r, 1500), 1);
	assert_int_equal(iw_revoked_count(r, 2000), 0);
	assert_int_equal(r->n_used, 0);
	assert_int_equal(iw_revoked_add(r, "", 0, 1, 1000), -EINVAL);
	assert_int_equal(iw_revoked_add(r, "x", 1, 0, 1000), -EINVAL);
	iw_revoked_fini(r);
	free(r);
}

static void test_full_and_lift(void **state)
{
	(void)state;
	struct iw_revoked *r = malloc(sizeof *r);
	char u[16];
	uint32_t left;
	iw_revoked_init(r);
	for (int i = 0; i < IW_REVOKED_MAX; i++) {
		int n = snprintf(u, sizeof u, "u%d", i);
		assert_int_equal(iw_revoked_add(r, u, (size_t)n, 60, 0), 0);
	}
	assert_int_equal(iw_revoked_add(r, "late", 4, 60, 0), -ENOSPC);
	/* A user already in the table gets the new time even when it is full. */
	assert_int_equal(iw_revoked_add(r, "u7", 2, 120, 0), 0);
	assert_true(iw_revoked_del(r, "u7", 2, 0));
	assert_false(iw_revoked_del(r, "u7", 2, 0));
	assert_false(iw_revoked_has(r, "u7", 2, 0, &left));
	assert_int_equal(iw_revoked_add(r, "late", 4, 60, 0), 0);
	assert_int_equal(iw_revoked_count(r, 0), IW_REVOKED_MAX);
	/* Expired entries make room. */
	assert_int_equal(iw_revoked_add(r, "later", 5, 60, 60000), 0);
	assert_int_equal(iw_revoked_count(r, 60000), 1);
	iw_revoked_fini(r);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_has_expire),
		cmocka_unit_test(test_full_and_lift),
	};
	return cmocka_run_group_tests_name("revoked", tests, NULL, NULL);
}
