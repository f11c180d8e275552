/* turn/ports: range bounds, exhaustion, even ports, exact takes, round robin. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "turn/ports.h"

static void test_exhaust_and_reuse(void **state)
{
	(void)state;
	struct iw_ports p;
	assert_int_equal(iw_ports_init(&p, 50000, 50009, 3), 0);
	int seen[10] = { 0 };
	for (int i = 0; i < 10; i++) {
		int port = iw_ports_take(&p, false);
		assert_true(port >= 50000 && port <= 50009);
		assert_int_equal(seen[port - 50000]++, 0);
	}
	assert_int_equal(iw_ports_take(&p, false), -ENOBUFS);
	assert_int_equal(p.n_used, 10);
	iw_ports_put(&p, 50004);
	assert_int_equal(iw_ports_take(&p, false), 50004);
	iw_ports_put(&p, 40000); /* outside: ignored */
	assert_int_equal(p.n_used, 10);
	iw_ports_fini(&p);
}

static void test_round_robin(void **state)
{
	(void)state;
	struct iw_ports p;
	assert_int_equal(iw_ports_init(&p, 50000, 50009, 0), 0);
	int a = iw_ports_take(&p, false);
	iw_ports_put(&p, (uint16_t)a);
	/* A port just released is not handed out again at once. */
	int b = iw_ports_take(&p, false);
	assert_int_not_equal(a, b);
	iw_ports_fini(&p);
}

static void test_even_and_exact(void **state)
{
	(void)state;
	struct iw_ports p;
	assert_int_equal(iw_ports_init(&p, 50001, 50006, 0), 0);
	for (int i = 0; i < 3; i++) {
		int port = iw_ports_take(&p, true);
		assert_true(port > 0 && port % 2 == 0);
	}
	assert_int_equal(iw_ports_take(&p, true), -ENOBUFS);
	assert_true(iw_ports_take(&p, false) % 2 == 1);
	assert_int_equal(iw_ports_take_exact(&p, 50002), -EBUSY);
	assert_int_equal(iw_ports_take_exact(&p, 60000), -ERANGE);
	iw_ports_put(&p, 50004);
	assert_false(iw_ports_is_used(&p, 50004));
	assert_int_equal(iw_ports_take_exact(&p, 50004), 0);
	assert_true(iw_ports_is_used(&p, 50004));
	iw_ports_fini(&p);
}

static void test_bad_range(void **state)
{
	(void)state;
	struct iw_ports p;
	assert_int_equal(iw_ports_init(&p, 50010, 50000, 0), -EINVAL);
	assert_int_equal(iw_ports_init(&p, 0, 10, 0), -EINVAL);
	assert_int_equal(iw_ports_init(&p, 65535, 65535, 9), 0);
	assert_int_equal(iw_ports_take(&p, false), 65535);
	assert_int_equal(iw_ports_take(&p, false), -ENOBUFS);
	iw_ports_fini(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exhaust_and_reuse),
		cmocka_unit_test(test_round_robin),
		cmocka_unit_test(test_even_and_exact),
		cmocka_unit_test(test_bad_range),
	};
	return cmocka_run_group_tests_name("turn/ports", tests, NULL, NULL);
}
