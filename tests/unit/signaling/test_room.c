/* Rooms and peers (signaling/room.c): ids, bounds, resume tokens, grace expiry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signaling/room.h"

static const struct iw_room_limits lim = { .max_rooms = 2, .max_peers = 3, .grace_ms = 1000 };
static int conn_a, conn_b, conn_c, conn_d;

static void test_id_rules(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		bool ok;
	} rows[] = {
		{ "a", true },
		{ "Room-1_x.y~z", true },
		{ "", false },
		{ "has space", false },
		{ "slash/", false },
		{ "é", false },
		{ "0123456789012345678901234567890123456789012345678901234567890123", true },
		{ "01234567890123456789012345678901234567890123456789012345678901234", false },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		assert_int_equal(iw_room_id_is_valid(rows[i].s), rows[i].ok);
	assert_false(iw_room_id_is_valid(NULL));
}

static void test_join_assigns_ids(void **state)
{
	(void)state;
	struct iw_room_set *s = iw_room_set_create(&lim);
	struct iw_room_join_res a, b;
	const char *why = NULL;

	assert_int_equal(iw_room_join(s, "r", NULL, NULL, &conn_a, &a, &why), 0);
	assert_int_equal(iw_room_join(s, "r", NULL, NULL, &conn_b, &b, &why), 0);
	assert_int_equal(strlen(a.peer->id), IW_ROOM_GEN_ID_LEN);
	assert_int_equal(strlen(a.peer->resume), IW_ROOM_RESUME_LEN);
	assert_string_not_equal(a.peer->id, b.peer->id);
	assert_string_not_equal(a.peer->resume, b.peer->resume);
	assert_ptr_equal(a.peer->room, b.peer->room);
	assert_int_equal(a.peer->room->n_peers, 2);
	/* join order is kept */
	assert_ptr_equal(a.peer->room->peers, a.peer);
	assert_ptr_equal(a.peer->next, b.peer);
	assert_ptr_equal(iw_room_peer_find(a.peer->room, b.peer->id), b.peer);
	assert_null(iw_room_peer_find(a.peer->room, "nobody"));
	assert_int_equal(iw_room_set_count(s), 1);
	assert_int_equal(iw_room_set_n_peers(s), 2);
	iw_room_set_destroy(s);
}

static void test_bounds(void **state)
{
	(void)state;
	struct iw_room_set *s = iw_room_set_create(&lim);
	struct iw_room_join_res res;
	const char *why = NULL;

	for (int i = 0; i < 3; i++)
		assert_int_equal(iw_room_join(s, "full", NULL, NULL, &conn_a, &res, &why), 0);
	assert_int_equal(iw_room_join(s, "full", NULL, NULL, &conn_b, &res, &why), -ENOSPC);
	assert_non_null(why);
	assert_int_equal(iw_room_join(s, "second", NULL, NULL, &conn_b, &res, &why), 0);
	assert_int_equal(iw_room_join(s, "third", NULL, NULL, &conn_c, &res, &why), -ENOBUFS);
	assert_int_equal(iw_room_set_count(s), 2);
	assert_int_equal(iw_room_join(s, "bad name", NULL, NULL, &conn_c, &res, &why), -EINVAL);
	assert_int_equal(iw_room_join(s, "second", "bad id!", NULL, &conn_c, &res, &why), -EINVAL);
	iw_room_set_destroy(s);
}

static void test_offered_id_and_resume(void **state)
{
	(void)state;
	struct iw_room_set *s = iw_room_set_create(&lim);
	struct iw_room_join_res a, b;
	const char *why = NULL;
	char tok[IW_ROOM_RESUME_LEN + 1];

	assert_int_equal(iw_room_join(s, "r", "alice", NULL, &conn_a, &a, &why), 0);
	assert_string_equal(a.peer->id, "alice");
	strcpy(tok, a.peer->resume);
	/* taken: no token, wrong token, short token */
	assert_int_equal(iw_room_join(s, "r", "alice", NULL, &conn_b, &b, &why), -EEXIST);
	assert_int_equal(iw_room_join(s, "r", "alice", "00000000000000000000000000000000", &conn_b, &b, &why),
			 -EEXIST);
	assert_int_equal(iw_room_join(s, "r", "alice", "abc", &conn_b, &b, &why), -EEXIST);
	/* the same id in another room is a different peer */
	assert_int_equal(iw_room_join(s, "other", "alice", NULL, &conn_c, &b, &why), 0);
	/* resume while the old connection is still attached: a takeover */
	assert_int_equal(iw_room_join(s, "r", "alice", tok, &conn_d, &b, &why), 0);
	assert_true(b.resumed);
	assert_ptr_equal(b.peer, a.peer);
	assert_ptr_equal(b.replaced_conn, &conn_a);
	assert_ptr_equal(b.peer->conn, &conn_d);
	assert_string_not_equal(b.peer->resume, tok); /* tokens are single-use */
	assert_int_equal(iw_room_join(s, "r", "alice", tok, &conn_a, &b, &why), -EEXIST);
	iw_room_set_destroy(s);
}

static unsigned int n_expired;
static void on_expire(void *arg, struct iw_peer *p)
{
	assert_ptr_equal(arg, &n_expired);
	assert_null(p->conn);
	n_expired++;
}

static void test_grace_and_sweep(void **state)
{
	(void)state;
	struct iw_room_set *s = iw_room_set_create(&lim);
	struct iw_room_join_res a, b;
	const char *why = NULL;
	char tok[IW_ROOM_RESUME_LEN + 1];

	assert_int_equal(iw_room_join(s, "r", NULL, NULL, &conn_a, &a, &why), 0);
	assert_int_equal(iw_room_join(s, "r", NULL, NULL, &conn_b, &b, &why), 0);
	strcpy(tok, a.peer->resume);
	iw_room_peer_detach(s, a.peer, 5000);
	n_expired = 0;
	assert_int_equal(iw_room_sweep(s, 5999, on_expire, &n_expired), 0);
	/* resume within grace: same peer, reattached, nothing replaced */
	struct iw_room_join_res r;
	assert_int_equal(iw_room_join(s, "r", a.peer->id, tok, &conn_c, &r, &why), 0);
	assert_ptr_equal(r.peer, a.peer);
	assert_null(r.replaced_conn);
	/* detach again and let it expire */
	iw_room_peer_detach(s, a.peer, 6000);
	assert_int_equal(iw_room_sweep(s, 7000, on_expire, &n_expired), 1);
	assert_int_equal(n_expired, 1);
	assert_int_equal(iw_room_set_n_peers(s), 1);
	/* the last peer leaving frees the room */
	iw_room_peer_detach(s, b.peer, 7000);
	assert_int_equal(iw_room_sweep(s, 9000, on_expire, &n_expired), 1);
	assert_int_equal(iw_room_set_count(s), 0);
	assert_int_equal(iw_room_set_n_peers(s), 0);
	iw_room_set_destroy(s);
}

static char swept[8][IW_ROOM_ID_MAX + 1];
static unsigned n_swept;
static void record(void *arg, struct iw_peer *p)
{
	(void)arg;
	assert_null(p->conn);
	assert_true(n_swept < 8);
	strcpy(swept[n_swept++], p->id);
}

/* A sweep removes the peers whose grace is over, oldest detach first, and leaves the rest:
 * connected peers, a peer that resumed, a peer detached later (even one whose detach time is
 * older than its neighbour's). */
static void test_sweep_oldest_first(void **state)
{
	(void)state;
	const struct iw_room_limits big = { .max_rooms = 8, .max_peers = 8, .grace_ms = 1000 };
	struct iw_room_set *s = iw_room_set_create(&big);
	struct iw_room_join_res a, b, c, d, r;
	const char *why = NULL;
	char tok[IW_ROOM_RESUME_LEN + 1];

	assert_int_equal(iw_room_join(s, "r1", "a", NULL, &conn_a, &a, &why), 0);
	assert_int_equal(iw_room_join(s, "r2", "b", NULL, &conn_b, &b, &why), 0);
	assert_int_equal(iw_room_join(s, "r2", "c", NULL, &conn_c, &c, &why), 0);
	assert_int_equal(iw_room_join(s, "r3", "d", NULL, &conn_d, &d, &why), 0);
	iw_room_peer_detach(s, c.peer, 100);
	iw_room_peer_detach(s, a.peer, 200);
	iw_room_peer_detach(s, b.peer, 300);
	iw_room_peer_detach(s, d.peer, 150); /* a clock that went back: still in order */
	strcpy(tok, b.peer->resume);
	assert_int_equal(iw_room_join(s, "r2", "b", tok, &conn_b, &r, &why), 0);
	assert_true(r.resumed);
	n_swept = 0;
	assert_int_equal(iw_room_sweep(s, 1099, record, NULL), 0);
	assert_int_equal(iw_room_sweep(s, 1150, record, NULL), 2);
	assert_string_equal(swept[0], "c");
	assert_string_equal(swept[1], "d");
	assert_int_equal(iw_room_set_count(s), 2); /* r3 went with d */
	assert_int_equal(iw_room_sweep(s, 5000, record, NULL), 1);
	assert_string_equal(swept[2], "a");
	/* b resumed: it stays, and detaching it again starts its grace anew */
	assert_int_equal(iw_room_set_n_peers(s), 1);
	iw_room_peer_detach(s, r.peer, 5000);
	assert_int_equal(iw_room_sweep(s, 5999, record, NULL), 0);
	assert_int_equal(iw_room_sweep(s, 6000, record, NULL), 1);
	assert_string_equal(swept[3], "b");
	assert_int_equal(iw_room_set_count(s), 0);
	iw_room_set_destroy(s);
}

static void test_remove_frees_room(void **state)
{
	(void)state;
	struct iw_room_set *s = iw_room_set_create(&lim);
	struct iw_room_join_res a, b;
	const char *why = NULL;

	assert_int_equal(iw_room_join(s, "x", NULL, NULL, &conn_a, &a, &why), 0);
	assert_int_equal(iw_room_join(s, "y", NULL, NULL, &conn_b, &b, &why), 0);
	iw_room_peer_remove(s, a.peer);
	assert_int_equal(iw_room_set_count(s), 1);
	/* the freed room slot is reusable */
	assert_int_equal(iw_room_join(s, "z", NULL, NULL, &conn_a, &a, &why), 0);
	iw_room_set_destroy(s);
	iw_room_set_destroy(NULL);
}

/* iw_room_set_page: pages of any size list every room exactly once, and the last page says
 * so (next 0). 5000 rooms over 4096 buckets: chains of several rooms are cut mid-chain. */
static void test_page_lists_each_room_once(void **state)
{
	(void)state;
	enum { N = 5000 };
	struct iw_room_limits big = { .max_rooms = N, .max_peers = 2, .grace_ms = 0 };
	struct iw_room_set *s = iw_room_set_create(&big);
	static unsigned char seen[N];
	static struct iw_room *page[N];
	struct iw_room_join_res res;
	const char *why = NULL;
	int conn;
	char name[16];

	assert_non_null(s);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof name, "r%d", i);
		assert_int_equal(iw_room_join(s, name, NULL, NULL, &conn, &res, &why), 0);
	}
	static const unsigned caps[] = { 1, 3, 7, 100, 1000, N };
	for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
		uint64_t pos = 0, next;
		unsigned total = 0, pages = 0;
		memset(seen, 0, sizeof seen);
		do {
			unsigned n = iw_room_set_page(s, pos, page, caps[c], &next);
			assert_true(n <= caps[c]);
			assert_true(n == caps[c] || next == 0);
			for (unsigned i = 0; i < n; i++) {
				int k = atoi(page[i]->name + 1);
				assert_int_equal(seen[k], 0);
				seen[k] = 1;
			}
			total += n;
			pos = next;
			assert_true(++pages <= N + 1);
		} while (pos);
		assert_int_equal(total, N);
	}
	iw_room_set_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_rules),
		cmocka_unit_test(test_join_assigns_ids),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_offered_id_and_resume),
		cmocka_unit_test(test_grace_and_sweep),
		cmocka_unit_test(test_sweep_oldest_first),
		cmocka_unit_test(test_remove_frees_room),
		cmocka_unit_test(test_page_lists_each_room_once),
	};
	return cmocka_run_group_tests_name("room", tests, NULL, NULL);
}
