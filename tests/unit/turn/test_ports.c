/* turn/ports: range bounds, exhaustion, even ports, exact takes, round robin; the
 * process-wide pool: even/odd pairs, reservations made on one thread and redeemed on another,
 * expiry, the table bound, and two threads taking and freeing ports at once. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

static void test_pool_pairs(void **state)
{
	(void)state;
	struct iw_ports_pool pp;
	assert_int_equal(iw_ports_pool_init(&pp, 50001, 50010, 0), 0);
	/* 50005 is held (another allocation): the pair 50004/50005 cannot be handed out. */
	assert_int_equal(iw_ports_take_exact(&pp.fam[0], 50005), 0);
	int seen = 0;
	for (int i = 0; i < 3; i++) {
		int p = iw_ports_pool_take_pair(&pp, 0);
		assert_true(p > 0 && p % 2 == 0 && p != 50004 && p + 1 <= 50010);
		assert_true(iw_ports_is_used(&pp.fam[0], (uint16_t)p));
		assert_true(iw_ports_is_used(&pp.fam[0], (uint16_t)(p + 1)));
		seen |= 1 << ((p - 50002) / 2);
	}
	assert_int_equal(seen, 0x1 | 0x4 | 0x8);           /* 50002, 50006, 50008 */
	assert_false(iw_ports_is_used(&pp.fam[0], 50004)); /* skipped: 50005 is held */
	assert_int_equal(iw_ports_pool_take_pair(&pp, 0), -ENOBUFS);
	assert_int_equal(pp.st.exhausted, 1);
	assert_int_equal(iw_ports_pool_in_use(&pp, 0), 7);
	/* The families are separate ranges. */
	assert_int_equal(iw_ports_pool_in_use(&pp, 1), 0);
	assert_true(iw_ports_pool_take_pair(&pp, 1) > 0);
	iw_ports_pool_put(&pp, 0, 50002);
	iw_ports_pool_put(&pp, 0, 50002); /* twice: ignored */
	assert_int_equal(iw_ports_pool_in_use(&pp, 0), 6);
	iw_ports_pool_fini(&pp);
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

struct redeem_arg {
	struct iw_ports_pool *pp;
	uint64_t token;
	int rc;
	struct iw_resv got;
};

static void *redeem_thread(void *p)
{
	struct redeem_arg *a = p;
	a->rc = iw_ports_resv_redeem(a->pp, a->token, 1000, &a->got);
	return NULL;
}

static void test_resv_other_thread(void **state)
{
	(void)state;
	struct iw_ports_pool pp;
	assert_int_equal(iw_ports_pool_init(&pp, 50000, 50099, 7), 0);
	int p = iw_ports_pool_take_pair(&pp, 1);
	assert_true(p >= 50000);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct iw_resv r = { .token = 0x1122334455667788ull,
			     .fd = fd,
			     .fam = 1,
			     .port = (uint16_t)(p + 1),
			     .expires_ms = 31000 };
	assert_true(iw_ports_resv_has_room(&pp));
	assert_int_equal(iw_ports_resv_add(&pp, &r), 0);
	assert_int_equal(iw_ports_resv_count(&pp), 1);
	assert_int_equal(iw_ports_resv_peek(&pp, r.token, 1000), 1);
	assert_int_equal(iw_ports_resv_peek(&pp, r.token + 1, 1000), -ENOENT);
	assert_int_equal(iw_ports_resv_peek(&pp, 0, 1000), -ENOENT);

	/* Redeemed by another thread, as a worker other than the one that reserved. */
	struct redeem_arg a = { .pp = &pp, .token = r.token };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, redeem_thread, &a), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(a.rc, 0);
	assert_int_equal(a.got.fd, fd);
	assert_int_equal(a.got.port, p + 1);
	assert_int_equal(a.got.fam, 1);
	assert_int_equal(iw_ports_resv_count(&pp), 0);
	assert_int_equal(pp.st.resv_made, 1);
	assert_int_equal(pp.st.resv_used, 1);
	/* Once only; the socket and the port are the redeemer's now. */
	assert_int_equal(iw_ports_resv_redeem(&pp, r.token, 1000, &a.got), -ENOENT);
	assert_int_equal(pp.st.resv_unknown, 1);
	assert_int_equal(iw_ports_resv_expire(&pp, 100000), 0);
	assert_true(fd_open(fd));
	assert_true(iw_ports_is_used(&pp.fam[1], (uint16_t)(p + 1)));
	close(fd);
	iw_ports_pool_put(&pp, 1, (uint16_t)p);
	iw_ports_pool_put(&pp, 1, (uint16_t)(p + 1));
	assert_int_equal(iw_ports_pool_in_use(&pp, 1), 0);
	iw_ports_pool_fini(&pp);
}

static void count_ended(void *ctx, const struct iw_resv *r)
{
	unsigned *n = ctx;
	assert_int_equal(r->user_len, 5);
	assert_memory_equal(r->user, "alice", 5);
	(*n)++;
}

/* A reservation ends with its allocation (cancel), and expiry shows each one it ends, with
 * the user it was counted for. */
static void test_resv_cancel(void **state)
{
	(void)state;
	struct iw_ports_pool pp;
	assert_int_equal(iw_ports_pool_init(&pp, 50100, 50199, 7), 0);
	int p = iw_ports_pool_take_pair(&pp, 0);
	assert_true(p >= 50100);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct iw_resv r = { .token = 7,
			     .fd = fd,
			     .port = (uint16_t)(p + 1),
			     .expires_ms = 1000 + IW_RESV_MS,
			     .user_len = 5 };
	memcpy(r.user, "alice", 5);
	assert_int_equal(iw_ports_resv_add(&pp, &r), 0);
	struct iw_resv got;
	assert_int_equal(iw_ports_resv_get(&pp, 7, 1000, &got), 0);
	assert_int_equal(got.user_len, 5);
	assert_int_equal(iw_ports_resv_cancel(&pp, 7, &got), 0);
	assert_memory_equal(got.user, "alice", 5);
	assert_false(fd_open(fd));
	assert_false(iw_ports_is_used(&pp.fam[0], (uint16_t)(p + 1)));
	assert_int_equal(iw_ports_resv_count(&pp), 0);
	assert_int_equal(iw_ports_resv_cancel(&pp, 7, &got), -ENOENT);
	assert_int_equal(iw_ports_resv_get(&pp, 7, 1000, &got), -ENOENT);

	r.token = 8;
	r.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_int_equal(iw_ports_pool_take(&pp, 0, false) >= 0, 1);
	assert_int_equal(iw_ports_resv_add(&pp, &r), 0);
	unsigned ended = 0;
	assert_int_equal(iw_ports_resv_expire_each(&pp, 1000 + IW_RESV_MS, count_ended, &ended), 1);
	assert_int_equal(ended, 1);
	assert_false(fd_open(r.fd));
	iw_ports_pool_put(&pp, 0, (uint16_t)p);
	iw_ports_pool_fini(&pp);
}

static void test_resv_expiry(void **state)
{
	(void)state;
	struct iw_ports_pool pp;
	assert_int_equal(iw_ports_pool_init(&pp, 50000, 50099, 7), 0);
	int p = iw_ports_pool_take_pair(&pp, 0);
	assert_true(p >= 50000);
	iw_ports_pool_put(&pp, 0, (uint16_t)p); /* the allocation on p ended */
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct iw_resv r = {
		.token = 42, .fd = fd, .fam = 0, .port = (uint16_t)(p + 1), .expires_ms = 1000 + IW_RESV_MS
	};
	assert_int_equal(iw_ports_resv_add(&pp, &r), 0);
	assert_int_equal(iw_ports_resv_expire(&pp, 999 + IW_RESV_MS), 0);
	assert_true(fd_open(fd));
	/* Due but not swept yet: a redeem already fails. */
	struct iw_resv got;
	assert_int_equal(iw_ports_resv_redeem(&pp, 42, 1000 + IW_RESV_MS, &got), -ENOENT);
	assert_int_equal(iw_ports_resv_peek(&pp, 42, 1000 + IW_RESV_MS), -ENOENT);
	assert_int_equal(iw_ports_resv_expire(&pp, 1000 + IW_RESV_MS), 1);
	assert_false(fd_open(fd));
	assert_false(iw_ports_is_used(&pp.fam[0], (uint16_t)(p + 1)));
	assert_int_equal(iw_ports_pool_in_use(&pp, 0), 0);
	assert_int_equal(pp.st.resv_expired, 1);
	assert_int_equal(iw_ports_resv_count(&pp), 0);
	iw_ports_pool_fini(&pp);
}

static void test_resv_bound(void **state)
{
	(void)state;
	struct iw_ports_pool pp;
	int fds[IW_MAX_RESV];
	assert_int_equal(iw_ports_pool_init(&pp, 50000, 50999, 1), 0);
	for (unsigned i = 0; i < IW_MAX_RESV; i++) {
		int p = iw_ports_pool_take(&pp, 0, false);
		fds[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct iw_resv r = { .token = i + 1, .fd = fds[i], .port = (uint16_t)p, .expires_ms = 5000 };
		assert_int_equal(iw_ports_resv_add(&pp, &r), 0);
	}
	assert_false(iw_ports_resv_has_room(&pp));
	struct iw_resv extra = { .token = 999, .fd = -1, .port = 50999, .expires_ms = 5000 };
	assert_int_equal(iw_ports_resv_add(&pp, &extra), -ENOBUFS);
	assert_int_equal(pp.st.resv_full, 1);
	assert_int_equal(iw_ports_resv_count(&pp), IW_MAX_RESV);
	/* One redeemed: room again, in the slot it left. */
	struct iw_resv got;
	assert_int_equal(iw_ports_resv_redeem(&pp, 10, 0, &got), 0);
	assert_true(iw_ports_resv_has_room(&pp));
	assert_int_equal(iw_ports_resv_add(&pp, &extra), 0);
	close(got.fd);
	/* fini closes what is still reserved. */
	iw_ports_pool_fini(&pp);
	for (unsigned i = 0; i < IW_MAX_RESV; i++)
		assert_false(fd_open(fds[i]));
}

enum { CHURN_ROUNDS = 20000, CHURN_HOLD = 16 };

struct churn_arg {
	struct iw_ports_pool *pp;
	uint8_t *owner; /* per port: 0 free, else the thread that holds it */
	uint8_t id;
	unsigned double_owned;
};

/* Take and free ports as two workers would; a port is never held by both at once. */
static void *churn_thread(void *p)
{
	struct churn_arg *a = p;
	int held[CHURN_HOLD];
	unsigned n = 0;
	for (unsigned i = 0; i < CHURN_ROUNDS; i++) {
		if (n < CHURN_HOLD && (i % 3 != 2 || n == 0)) {
			int port = i % 5 == 0 ? iw_ports_pool_take_pair(a->pp, 0)
					      : iw_ports_pool_take(a->pp, 0, false);
			if (port < 0)
				continue;
			if (__atomic_exchange_n(&a->owner[port - 50000], a->id, __ATOMIC_SEQ_CST))
				a->double_owned++;
			if (i % 5 == 0) /* a pair: the odd one is freed at once */
				iw_ports_pool_put(a->pp, 0, (uint16_t)(port + 1));
			held[n++] = port;
		} else {
			int port = held[--n];
			__atomic_store_n(&a->owner[port - 50000], 0, __ATOMIC_SEQ_CST);
			iw_ports_pool_put(a->pp, 0, (uint16_t)port);
		}
	}
	while (n) {
		int port = held[--n];
		__atomic_store_n(&a->owner[port - 50000], 0, __ATOMIC_SEQ_CST);
		iw_ports_pool_put(a->pp, 0, (uint16_t)port);
	}
	return NULL;
}

static void test_pool_two_threads(void **state)
{
	(void)state;
	struct iw_ports_pool pp;
	static uint8_t owner[64];
	/* A range small enough that the two threads collide on it all the time. */
	assert_int_equal(iw_ports_pool_init(&pp, 50000, 50063, 5), 0);
	struct churn_arg a = { .pp = &pp, .owner = owner, .id = 1 },
			 b = { .pp = &pp, .owner = owner, .id = 2 };
	pthread_t ta, tb;
	assert_int_equal(pthread_create(&ta, NULL, churn_thread, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, churn_thread, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_int_equal(a.double_owned + b.double_owned, 0);
	assert_int_equal(iw_ports_pool_in_use(&pp, 0), 0);
	iw_ports_pool_fini(&pp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exhaust_and_reuse), cmocka_unit_test(test_round_robin),
		cmocka_unit_test(test_even_and_exact),    cmocka_unit_test(test_bad_range),
		cmocka_unit_test(test_pool_pairs),        cmocka_unit_test(test_resv_other_thread),
		cmocka_unit_test(test_resv_expiry),       cmocka_unit_test(test_resv_bound),
		cmocka_unit_test(test_pool_two_threads),  cmocka_unit_test(test_resv_cancel),
	};
	return cmocka_run_group_tests_name("turn/ports", tests, NULL, NULL);
}
