/* The rate limits' own cost per datagram, apart from the syscalls that dominate a relay's CPU
 * time: the checks relay.c makes for each datagram with max-bps, max-pps and user-max-bps on
 * (none binding), a batch of 32 datagrams per millisecond as at a wake-up, over many
 * allocations so that their state is not all in cache. Prints nanoseconds per datagram.
 *     iw_limitcost [DATAGRAMS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "turn/limit.h"

enum { N_ALLOCS = 4096, BATCH = 32, LEN = 120 };

struct alloc_lim {
	struct iw_limit_tb bytes, pkts;
	uint64_t *user_tat;
	uint64_t user_credit;
};

static struct alloc_lim lim[N_ALLOCS];
static uint64_t tat[64];

/* The same steps as limits_pass() in turn/relay.c. */
static int pass(const struct iw_limit_set *s, struct alloc_lim *l, uint64_t now_ms, size_t len)
{
	if (!iw_limit_tb_has(&l->bytes, &s->bps, now_ms, len))
		return 0;
	if (!iw_limit_tb_has(&l->pkts, &s->pps, now_ms, 1))
		return 0;
	if (l->user_credit < len) {
		if (!iw_limit_share_take(l->user_tat, &s->user_bps, now_ms, s->user_chunk))
			return 0;
		l->user_credit += s->user_chunk;
	}
	iw_limit_tb_spend(&l->bytes, len);
	iw_limit_tb_spend(&l->pkts, 1);
	l->user_credit -= len;
	return 1;
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000000ull;
	struct iw_limit_set s;
	iw_limit_set_init(&s, 1000000000ull, 10000000, 10000000000ull, 100000, 1000);
	for (unsigned i = 0; i < N_ALLOCS; i++)
		lim[i].user_tat = &tat[i % 64];
	uint64_t x = 88172645463325252ull, passed = 0, now = 1;
	uint64_t t0 = iw_clock_us();
	for (uint64_t i = 0; i < n; i++) {
		if (i % BATCH == 0)
			now++;
		x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* a random allocation per datagram */
		passed += (uint64_t)pass(&s, &lim[x % N_ALLOCS], now, LEN);
	}
	uint64_t t1 = iw_clock_us();
	/* The loop without the checks: the random walk alone. */
	uint64_t sink = 0;
	for (uint64_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		sink += lim[x % N_ALLOCS].user_credit;
	}
	uint64_t t2 = iw_clock_us();
	double per = ((double)(t1 - t0) - (double)(t2 - t1)) * 1000.0 / (double)n;
	printf("{\"datagrams\": %llu, \"passed\": %llu, \"ns_per_datagram\": %.2f, \"sink\": %llu}\n",
	       (unsigned long long)n, (unsigned long long)passed, per, (unsigned long long)(sink & 1));
	return passed == n ? 0 : 1;
}
