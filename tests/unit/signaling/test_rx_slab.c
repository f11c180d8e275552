/* Receive buffer slots: taken and given back, reused, bounded, and every slot followed by room
 * for the size lws believes it has. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "signaling/rx_slab.h"

enum { SLOTS = 8, STRIDE = 272, TAIL = 16404 };

static void slots_are_taken_reused_and_bounded(void **state)
{
	void *p[SLOTS];

	(void)state;
	assert_null(iw_rx_slab_take()); /* nothing reserved yet */
	assert_int_equal(iw_rx_slab_init(SLOTS, STRIDE, TAIL), 0);
	assert_int_equal(iw_rx_slab_init(2, STRIDE, TAIL), 0); /* the first range stays */
	for (int i = 0; i < SLOTS; i++) {
		p[i] = iw_rx_slab_take();
		assert_non_null(p[i]);
		assert_true(iw_rx_slab_owns(p[i]));
		if (i)
			assert_int_equal((char *)p[i] - (char *)p[i - 1], STRIDE);
	}
	assert_null(iw_rx_slab_take()); /* full: the caller falls back to malloc */
	assert_int_equal(iw_rx_slab_used(), SLOTS);
	/* the last slot has room for all the size lws asked for */
	memset(p[SLOTS - 1], 0xA5, TAIL);
	/* the whole range is writable: a count run past one slot stays in the range */
	memset(p[0], 0x5A, (size_t)STRIDE * SLOTS + TAIL - STRIDE);
	iw_rx_slab_give(p[3]);
	iw_rx_slab_give(p[5]);
	assert_int_equal(iw_rx_slab_used(), SLOTS - 2);
	/* what is written into a slot never changes which slot comes next */
	assert_ptr_equal(iw_rx_slab_take(), p[5]);
	assert_ptr_equal(iw_rx_slab_take(), p[3]);
	assert_null(iw_rx_slab_take());
	int local;
	assert_false(iw_rx_slab_owns(&local));
	assert_false(iw_rx_slab_owns(NULL));
	assert_false(iw_rx_slab_owns((char *)p[SLOTS - 1] + STRIDE));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(slots_are_taken_reused_and_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
