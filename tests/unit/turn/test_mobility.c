/* turn/mobility.c: an allocation handed from one worker's table and epoll set to another's,
 * with its overflow block, relay socket and accounting state; and the boxes between them. Two
 * bare workers (no listeners), driven from the test thread. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "turn/conf.h"
#include "turn/mobility.h"
#include "turn/relay.h"

static volatile sig_atomic_t stop;

static struct iw_addr addr(const char *s)
{
	struct iw_addr a;
	assert_int_equal(iw_addr_parse(&a, s), 0);
	return a;
}

/* Is fd in w's epoll set? (EPOLL_CTL_MOD fails with ENOENT when it is not.) */
static bool watched(const struct iw_worker *w, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	return epoll_ctl(w->epfd, EPOLL_CTL_MOD, fd, &ev) == 0;
}

static struct iw_alloc *expired;

/* The wheel's end of an allocation: its socket closed here (no port of the pool). */
static void on_expire(void *ctx, struct iw_alloc *al)
{
	struct iw_worker *w = ctx;
	expired = al;
	close(al->rs[0].fd);
	al->rs[0].fd = -1;
	al->n_rsock = 0;
	iw_alloc_del(&w->tab, al);
}

static void test_hand_over(void **state)
{
	(void)state;
	struct iw_conf conf;
	struct iw_worker_shared sh;
	const char *why = NULL;
	assert_int_equal(iw_conf_init(&conf), 0);
	conf.threads = 2;
	conf.max_allocs = 8;
	conf.min_port = 47000;
	conf.max_port = 47099;
	conf.users[conf.n_users++] = strdup("alice:secret");
	int rc = iw_conf_finish(&conf, &why);
	if (rc)
		fail_msg("%s", why);
	assert_int_equal(iw_worker_shared_init(&sh, &conf, &stop), 0);
	assert_non_null(sh.mob);
	struct iw_worker *a = iw_relay_create_bare(&sh, &conf, 0), *b = iw_relay_create_bare(&sh, &conf, 1);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(iw_mob_attach(a, sh.mob), 0);
	assert_int_equal(iw_mob_attach(b, sh.mob), 0);
	struct iw_listener lb = { .kind = IW_EV_LISTENER, .idx = 0 };

	/* An allocation of worker a: a relay socket in a's epoll set, six permissions (past the
	 * four inline: an overflow block of a's pool), two channels, an accounting session. */
	struct iw_addr c1 = addr("192.0.2.1:1000"), c2 = addr("198.51.100.7:2000");
	struct iw_alloc *x = iw_alloc_new(&a->tab, &c1, 0);
	assert_non_null(x);
	x->id = 0x0001000000000042ULL;
	x->acct = true;
	x->mobile = true;
	x->expires_ms = a->now_ms + 60000;
	x->use.pkts[0] = 7;
	memcpy(x->user, "alice", 5);
	x->user_len = 5;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	x->rs[0] = (struct iw_rsock){ .kind = IW_EV_RELAY, .fd = fd, .alloc = x };
	x->n_rsock = 1;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &x->rs[0] };
	assert_int_equal(epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &ev), 0);
	assert_int_equal(iw_alloc_room(&a->tab, x, 6, 2), 0);
	for (int i = 0; i < 6; i++) {
		char txt[32];
		snprintf(txt, sizeof txt, "203.0.113.%d", 10 + i);
		struct iw_addr p = addr(txt);
		assert_int_equal(iw_alloc_perm_add(&a->tab, x, &p, a->now_ms + 30000), 0);
	}
	struct iw_addr peer = addr("203.0.113.10:5000");
	assert_int_equal(iw_alloc_chan_bind(&a->tab, x, 0x4001, &peer, a->now_ms + 30000), 0);
	assert_int_equal(a->tab.ext_used, 1);
	assert_int_equal(a->tab.perms_live, 6);

	/* a lets it go: out of its table, its pool and its epoll set; the socket stays open. */
	struct iw_mob_msg *m = calloc(1, sizeof *m);
	assert_non_null(m);
	iw_mob_detach(a, x, m);
	assert_int_equal(a->tab.n_used, 0);
	assert_int_equal(a->tab.ext_used, 0);
	assert_int_equal(a->tab.perms_live, 0);
	assert_int_equal(a->tab.chans_live, 0);
	assert_null(iw_alloc_find(&a->tab, &c1, 0));
	assert_false(watched(a, fd));
	assert_true(fcntl(fd, F_GETFD) >= 0);

	/* Through b's box, as the workers pass it. */
	m->op = IW_MOB_ADOPT;
	iw_mob_post(sh.mob, 1, m);
	assert_true(iw_mob_posted(b));
	assert_false(iw_mob_posted(a));
	struct iw_mob_msg *got = iw_mob_take(sh.mob, 1);
	assert_ptr_equal(got, m);
	assert_null(got->next);
	assert_false(iw_mob_posted(b));

	/* b takes it under the new 5-tuple, with everything it held. */
	struct iw_alloc *y = iw_mob_adopt(b, got, &c2, &lb);
	assert_non_null(y);
	assert_ptr_equal(iw_alloc_find(&b->tab, &c2, 0), y);
	assert_true(y->id == 0x0001000000000042ULL);
	assert_true(y->acct && y->mobile);
	assert_int_equal(y->use.pkts[0], 7);
	assert_ptr_equal(y->lis, &lb);
	assert_int_equal(y->n_perms, 6);
	assert_int_equal(y->n_chans, 1);
	assert_int_equal(b->tab.ext_used, 1);
	assert_int_equal(b->tab.perms_live, 6);
	assert_int_equal(b->tab.chans_live, 1);
	struct iw_addr p3 = addr("203.0.113.13");
	assert_true(iw_alloc_perm_has(y, &p3, b->now_ms));
	assert_non_null(iw_alloc_chan_by_num(y, 0x4001, b->now_ms));
	assert_ptr_equal(y->rs[0].alloc, y);
	assert_true(watched(b, fd));
	/* Its timer is b's: past its lifetime, b's wheel ends it. */
	iw_alloc_tick(&b->tab, b->now_ms + 61000, on_expire, b);
	assert_ptr_equal(expired, y);
	assert_int_equal(b->tab.n_used, 0);
	assert_int_equal(b->tab.ext_used, 0);
	free(got);

	iw_relay_destroy(a);
	iw_relay_destroy(b);
	iw_worker_shared_fini(&sh);
	iw_conf_fini(&conf);
}

/* Messages left in a box when the relay stops: freed, the relay sockets of one in transit
 * closed. */
static void test_hub_destroy(void **state)
{
	(void)state;
	struct iw_mob_hub *h = iw_mob_hub_create(2);
	assert_non_null(h);
	struct iw_mob_msg *m = calloc(1, sizeof *m), *n = calloc(1, sizeof *n);
	assert_non_null(m);
	assert_non_null(n);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	m->op = IW_MOB_ADOPT;
	m->a.rs[0].fd = fd;
	m->a.n_rsock = 1;
	n->op = IW_MOB_ASK;
	iw_mob_post(h, 0, m);
	iw_mob_post(h, 0, n);
	iw_mob_hub_destroy(h);
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hand_over),
		cmocka_unit_test(test_hub_destroy),
	};
	return cmocka_run_group_tests_name("mobility", tests, NULL, NULL);
}
