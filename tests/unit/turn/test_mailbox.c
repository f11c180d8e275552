/* Unit tests for turn/mailbox.c with a real UDP worker (turn/relay.c) on its own thread: a
 * command is answered at once by a worker asleep in epoll, lists and ends allocations by user,
 * and one that no worker takes within IW_MAILBOX_WAIT_MS is withdrawn and never runs. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/clock.h"
#include "turn/mailbox.h"
#include "turn/relay.h"

static struct iw_conf conf;
static struct iw_worker_shared shared;
static volatile sig_atomic_t stop;
static struct iw_worker *w;
static pthread_t th;
static bool running;

static void *worker_main(void *arg)
{
	iw_relay_run(arg);
	return NULL;
}

static void start(void)
{
	__atomic_store_n(&stop, 0, __ATOMIC_RELAXED);
	assert_int_equal(pthread_create(&th, NULL, worker_main, w), 0);
	running = true;
}

static void halt(void)
{
	if (!running)
		return;
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	running = false;
}

/* An allocation put in the table directly, before the worker thread owns it. */
static void add_alloc(const char *user, uint16_t port)
{
	struct iw_addr client;
	assert_int_equal(iw_addr_parse(&client, "127.0.0.1"), 0);
	client.port = port;
	struct iw_alloc *a = iw_alloc_new(&w->tab, &client, 0);
	assert_non_null(a);
	a->id = ((uint64_t)1 << 48) | port;
	a->user_len = (uint16_t)strlen(user);
	memcpy(a->user, user, a->user_len);
	a->created_ms = iw_clock_ms();
	a->expires_ms = a->created_ms + 60000;
	a->use.pkts[0] = 7;
}

static int setup(void **state)
{
	(void)state;
	iw_conf_init(&conf);
	assert_int_equal(iw_addr_parse(&conf.listen[0], "127.0.0.1"), 0);
	conf.n_listen = 1;
	conf.port = 0;
	conf.min_port = 47000;
	conf.max_port = 47099;
	conf.max_allocs = 64;
	conf.users[conf.n_users++] = strdup("user:pass");
	const char *why = NULL;
	assert_int_equal(iw_conf_finish(&conf, &why), 0);
	assert_int_equal(iw_worker_shared_init(&shared, &conf, &stop), 0);
	w = iw_relay_create(&shared, 0);
	assert_non_null(w);
	assert_int_equal(iw_mailbox_attach(w), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	halt();
	iw_mailbox_destroy(w->mailbox);
	w->mailbox = NULL;
	iw_relay_destroy(w);
	iw_worker_shared_fini(&shared);
	iw_conf_fini(&conf);
	return 0;
}

static void test_list_and_kill(void **state)
{
	(void)state;
	struct iw_mailbox_sess out[4];
	add_alloc("bob", 1001);
	add_alloc("bob", 1002);
	add_alloc("carol", 1003);
	start();
	/* The worker sleeps in epoll for up to 500 ms: the eventfd wakes it. */
	uint64_t t0 = iw_clock_ms();
	struct iw_mailbox_cmd c = {
		.op = IW_MAILBOX_LIST, .user = "bob", .user_len = 3, .out = out, .out_cap = 4
	};
	assert_true(iw_mailbox_ask(w->mailbox, &c));
	assert_true(iw_clock_ms() - t0 < 250);
	assert_int_equal(c.n_matched, 2);
	assert_int_equal(c.n_out, 2);
	assert_memory_equal(out[0].user, "bob", 3);
	assert_int_equal(out[0].use.pkts[0], 7);
	assert_int_equal(out[0].transport, 0);

	/* A room for one: both counted, one copied. */
	c = (struct iw_mailbox_cmd){ .op = IW_MAILBOX_LIST, .out = out, .out_cap = 1 };
	assert_true(iw_mailbox_ask(w->mailbox, &c));
	assert_int_equal(c.n_matched, 3);
	assert_int_equal(c.n_out, 1);

	c = (struct iw_mailbox_cmd){
		.op = IW_MAILBOX_KILL, .why = IW_END_KILLED, .user = "bob", .user_len = 3
	};
	assert_true(iw_mailbox_ask(w->mailbox, &c));
	assert_int_equal(c.n_matched, 2);
	struct iw_addr cl;
	assert_int_equal(iw_addr_parse(&cl, "127.0.0.1:1003"), 0);
	c = (struct iw_mailbox_cmd){ .op = IW_MAILBOX_KILL, .why = IW_END_KILLED, .client = &cl };
	assert_true(iw_mailbox_ask(w->mailbox, &c));
	assert_int_equal(c.n_matched, 1);
	c = (struct iw_mailbox_cmd){ .op = IW_MAILBOX_LIST, .out = out, .out_cap = 4 };
	assert_true(iw_mailbox_ask(w->mailbox, &c));
	assert_int_equal(c.n_matched, 0);
	halt();
	assert_int_equal(w->tab.n_used, 0);
}

static void test_withdrawn(void **state)
{
	(void)state;
	add_alloc("dave", 2001);
	/* No worker runs: the command waits its 2 s, then is withdrawn. */
	uint64_t t0 = iw_clock_ms();
	struct iw_mailbox_cmd c = {
		.op = IW_MAILBOX_KILL, .why = IW_END_KILLED, .user = "dave", .user_len = 4
	};
	assert_false(iw_mailbox_ask(w->mailbox, &c));
	uint64_t waited = iw_clock_ms() - t0;
	assert_true(waited >= IW_MAILBOX_WAIT_MS - 10 && waited < IW_MAILBOX_WAIT_MS + 1000);
	assert_int_equal(w->mailbox->wake.state, IW_WAKEUP_IDLE);
	/* A worker that starts afterwards does not run it. */
	start();
	struct iw_mailbox_sess out[2];
	struct iw_mailbox_cmd l = { .op = IW_MAILBOX_LIST, .out = out, .out_cap = 2 };
	assert_true(iw_mailbox_ask(w->mailbox, &l));
	assert_int_equal(l.n_matched, 1);
	assert_int_equal(c.n_matched, 0);
	halt();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_list_and_kill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_withdrawn, setup, teardown),
	};
	return cmocka_run_group_tests_name("mailbox", tests, NULL, NULL);
}
