/* turn/limit: token bucket arithmetic (refill, burst, spend), huge rates that would overflow,
 * time that goes backwards, and the shared budget with its chunks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "turn/limit.h"

static void test_rate_set(void **state)
{
	(void)state;
	struct iw_limit_rate r;
	iw_limit_rate_set(&r, 0, 1000, 1);
	assert_true(r.per_s == 0 && r.cap_milli == 0);
	/* 1000 bytes a second, a burst of 500 ms: 500 bytes, but at least 2048. */
	iw_limit_rate_set(&r, 1000, 500, IW_LIMIT_MIN_BYTES);
	assert_true(r.cap_milli == 2048 * 1000ull);
	iw_limit_rate_set(&r, 100000, 1000, IW_LIMIT_MIN_BYTES);
	assert_true(r.cap_milli == 100000 * 1000ull);
	assert_true(r.tau_us == 1000000);
	/* Huge values saturate instead of wrapping to a small burst. */
	iw_limit_rate_set(&r, UINT64_MAX, 10000, 1);
	assert_true(r.cap_milli == UINT64_MAX);
	iw_limit_rate_set(&r, 5, 1000, UINT64_MAX);
	assert_true(r.cap_milli == UINT64_MAX && r.tau_us == UINT64_MAX);
}

static void test_bucket(void **state)
{
	(void)state;
	struct iw_limit_rate r;
	struct iw_limit_tb b = { 0 };
	iw_limit_rate_set(&r, 10000, 1000, IW_LIMIT_MIN_BYTES); /* 10 kB/s, burst 10 kB */
	/* Full at first use: the whole burst passes, then nothing. */
	assert_true(iw_limit_tb_has(&b, &r, 5000, 10000));
	iw_limit_tb_spend(&b, 10000);
	assert_false(iw_limit_tb_has(&b, &r, 5000, 1));
	/* 1 ms later: 10 bytes, exactly. */
	assert_true(iw_limit_tb_has(&b, &r, 5001, 10));
	assert_false(iw_limit_tb_has(&b, &r, 5001, 11));
	iw_limit_tb_spend(&b, 10);
	/* A rate of 3 a second refills 3 thousandths a millisecond: nothing is lost to rounding. */
	struct iw_limit_rate slow;
	struct iw_limit_tb s = { 0 };
	iw_limit_rate_set(&slow, 3, 1000, 1);
	assert_true(iw_limit_tb_has(&s, &slow, 100, 3));
	iw_limit_tb_spend(&s, 3);
	for (uint64_t t = 101; t < 434; t++)
		assert_false(iw_limit_tb_has(&s, &slow, t, 1));
	assert_true(iw_limit_tb_has(&s, &slow, 434, 1)); /* 334 ms x 3 = 1002 thousandths */
	/* Idle for long: back to the burst, never past it. */
	assert_true(iw_limit_tb_has(&b, &r, 1000000, 10000));
	assert_false(iw_limit_tb_has(&b, &r, 1000000, 10001));
	/* A reload to a lower rate clips what the bucket holds to the new burst. */
	struct iw_limit_rate low;
	iw_limit_rate_set(&low, 3000, 1000, IW_LIMIT_MIN_BYTES);
	assert_false(iw_limit_tb_has(&b, &low, 1000001, 3004));
	assert_true(iw_limit_tb_has(&b, &low, 1000001, 3000));
}

static void test_bucket_huge(void **state)
{
	(void)state;
	struct iw_limit_rate r;
	struct iw_limit_tb b = { 0 };
	iw_limit_rate_set(&r, UINT64_MAX / 2, 10000, 1);
	assert_true(iw_limit_tb_has(&b, &r, 1, 1000000));
	iw_limit_tb_spend(&b, 1000000);
	/* rate x elapsed overflows 64 bits: saturates to the burst. */
	assert_true(iw_limit_tb_has(&b, &r, UINT64_MAX, 1000000));
	assert_true(b.milli == r.cap_milli);
	/* A cost above anything the bucket can hold is refused, not wrapped. */
	struct iw_limit_rate small;
	struct iw_limit_tb c = { 0 };
	iw_limit_rate_set(&small, 100, 1000, 1);
	assert_false(iw_limit_tb_has(&c, &small, 10, UINT64_MAX / 1000 + 1));
	assert_false(iw_limit_tb_has(&c, &small, 10, 101));
}

static void test_bucket_backwards(void **state)
{
	(void)state;
	struct iw_limit_rate r;
	struct iw_limit_tb b = { 0 };
	iw_limit_rate_set(&r, 1000, 1000, 1); /* 1000 a second, burst 1000 */
	assert_true(iw_limit_tb_has(&b, &r, 10000, 1000));
	iw_limit_tb_spend(&b, 1000);
	/* 100 ms back: nothing refilled and the bucket keeps its time... */
	assert_false(iw_limit_tb_has(&b, &r, 9900, 1));
	assert_true(b.last_ms == 10000);
	/* ...so the interval is credited once when time comes back: 10 ms = 10 tokens. */
	assert_true(iw_limit_tb_has(&b, &r, 10010, 10));
	assert_false(iw_limit_tb_has(&b, &r, 10010, 11));
	/* A jump back longer than the burst restarts the clock: the bucket refills from there. */
	assert_false(iw_limit_tb_has(&b, &r, 5000, 11));
	assert_true(b.last_ms == 5000);
	assert_true(iw_limit_tb_has(&b, &r, 5100, 110));
}

static void test_share(void **state)
{
	(void)state;
	struct iw_limit_rate r;
	uint64_t tat = 0;
	iw_limit_rate_set(&r, 100000, 1000, IW_LIMIT_MIN_BYTES); /* 100 kB/s, burst 100 kB */
	uint64_t chunk = iw_limit_chunk(&r);
	assert_true(chunk == 2048); /* 10 ms is 1000 bytes: at least the largest datagram */
	/* The burst in chunks at one instant, then nothing more. */
	uint64_t got = 0;
	for (int i = 0; i < 100; i++)
		got += iw_limit_share_take(&tat, &r, 1000, chunk) ? chunk : 0;
	assert_true(got <= 100000 && got > 100000 - chunk);
	assert_false(iw_limit_share_take(&tat, &r, 1000, chunk));
	/* Over the next 10 s, takers get 10 s worth, within one chunk. */
	got = 0;
	for (uint64_t t = 1001; t <= 11000; t++)
		while (iw_limit_share_take(&tat, &r, t, chunk))
			got += chunk;
	assert_true(got <= 1000000 + chunk && got + chunk >= 1000000);
	/* A clock behind the budget's (another worker's stale now) is only stricter. */
	assert_false(iw_limit_share_take(&tat, &r, 10990, chunk));
	/* Idle: back to the burst, not more. */
	got = 0;
	while (iw_limit_share_take(&tat, &r, 100000, chunk))
		got += chunk;
	assert_true(got <= 100000 && got > 100000 - chunk);
	/* A chunk larger than the burst never fits; a huge take is refused, not wrapped. */
	assert_false(iw_limit_share_take(&tat, &r, 200000, 100001));
	assert_false(iw_limit_share_take(&tat, &r, 200000, UINT64_MAX));
	/* Off: everything passes. */
	struct iw_limit_rate off;
	iw_limit_rate_set(&off, 0, 1000, 1);
	assert_true(iw_limit_share_take(&tat, &off, 0, UINT64_MAX));
	/* An awkward rate: the whole burst still fits in one take (cost and burst both rounded up). */
	struct iw_limit_rate odd;
	uint64_t t2 = 0;
	iw_limit_rate_set(&odd, 3, 1000, IW_LIMIT_MIN_BYTES);
	assert_true(iw_limit_chunk(&odd) == 2048);
	assert_true(iw_limit_share_take(&t2, &odd, 1, 2048));
	assert_false(iw_limit_share_take(&t2, &odd, 1, 1));
	/* A huge rate: the chunk is 10 ms worth, and takes never overflow the clock. */
	struct iw_limit_rate big;
	uint64_t t3 = 0;
	iw_limit_rate_set(&big, 1000000000000ull, 1000, IW_LIMIT_MIN_BYTES);
	assert_true(iw_limit_chunk(&big) == 10000000000ull);
	assert_true(iw_limit_share_take(&t3, &big, 1000000000000000ull, iw_limit_chunk(&big)));
	/* At the end of the clock's range a take is refused rather than wrapped. */
	uint64_t t4 = 0;
	assert_false(iw_limit_share_take(&t4, &big, UINT64_MAX / 1000, iw_limit_chunk(&big)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_set),    cmocka_unit_test(test_bucket),
		cmocka_unit_test(test_bucket_huge), cmocka_unit_test(test_bucket_backwards),
		cmocka_unit_test(test_share),
	};
	return cmocka_run_group_tests_name("turn/limit", tests, NULL, NULL);
}
