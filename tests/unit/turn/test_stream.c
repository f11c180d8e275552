/* turn/stream.c's per-address connection count (max-tcp-per-ip): the open-addressing table
 * with backward-shift deletion, checked against a plain array under many addresses that
 * share probe chains in a small table. Includes stream.c to reach its static helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "turn/stream.c"

enum { N_ADDR = 24, SLOTS = 32, STEPS = 20000 };

static struct iw_addr addr_n(unsigned i, uint16_t port)
{
	struct iw_addr a;
	memset(&a, 0, sizeof a);
	a.family = AF_INET;
	a.ip[0] = 10;
	a.ip[3] = (uint8_t)i;
	a.port = port;
	return a;
}

static void add(struct iw_stream *s, const struct iw_addr *peer)
{
	struct iw_addr ip = ip_only(peer);
	uint32_t at = ipc_find(s, &ip);
	s->ipc[at].ip = ip;
	s->ipc[at].n++;
}

static uint32_t count(const struct iw_stream *s, unsigned i)
{
	struct iw_addr ip = addr_n(i, 0);
	return s->ipc[ipc_find(s, &ip)].n;
}

static void test_ipc_matches_reference(void **state)
{
	(void)state;
	static struct ipcount slots[SLOTS];
	struct iw_stream s;
	memset(&s, 0, sizeof s);
	s.ipc = slots;
	s.ipc_mask = SLOTS - 1;
	uint32_t ref[N_ADDR] = { 0 }, live = 0;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (unsigned seed = 0; seed < 4; seed++) {
		s.ipc_seed = seed; /* different collisions each round */
		for (unsigned step = 0; step < STEPS; step++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			unsigned i = (unsigned)(x % N_ADDR);
			struct iw_addr a = addr_n(i, (uint16_t)(x >> 32));
			/* At most N_ADDR distinct keys in 32 slots: the table never fills. */
			if ((x >> 40) & 1 && ref[i]) {
				ipc_drop(&s, &a);
				ref[i]--;
				live--;
			} else if (live < 200) {
				add(&s, &a);
				ref[i]++;
				live++;
			}
			for (unsigned k = 0; k < N_ADDR; k++)
				if (count(&s, k) != ref[k])
					fail_msg("seed %u step %u: address %u counted %u, expected %u", seed,
						 step, k, count(&s, k), ref[k]);
		}
		for (unsigned k = 0; k < N_ADDR; k++)
			while (ref[k]) {
				struct iw_addr a = addr_n(k, 1);
				ipc_drop(&s, &a);
				ref[k]--;
				live--;
			}
		for (unsigned k = 0; k < SLOTS; k++)
			assert_int_equal(slots[k].n, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipc_matches_reference),
	};
	return cmocka_run_group_tests_name("turn/stream", tests, NULL, NULL);
}
