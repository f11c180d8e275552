/* The signaling admin API (signaling/admin.c) without sockets: the bearer token check, and
 * every route's status for good and bad paths, names, arguments and methods. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "signaling/admin.h"

static int n_closed;

static int f_send(void *arg, struct iw_hub_conn *c, const char *buf, size_t len)
{
	(void)arg;
	(void)c;
	(void)buf;
	(void)len;
	return 0;
}

static void f_close(void *arg, struct iw_hub_conn *c, int code, const char *reason)
{
	(void)arg;
	(void)c;
	(void)reason;
	assert_int_equal(code, IW_CLOSE_KICKED);
	n_closed++;
}

static void test_authorized(void **state)
{
	(void)state;
	static const char tok[] = "0123456789abcdef";
	static const struct {
		const char *header;
		bool ok;
	} rows[] = {
		{ "Bearer 0123456789abcdef", true },
		{ "bearer 0123456789abcdef", true }, /* RFC 7235 §2.1: the scheme is case-insensitive */
		{ "Bearer  0123456789abcdef", true },
		{ "Bearer 0123456789ABCDEF", false },
		{ "Bearer 0123456789abcde", false },
		{ "Bearer 0123456789abcdef0", false },
		{ "Bearer 0123456789abcdef ", false },
		{ "Bearer ", false },
		{ "Bearer", false },
		{ "Basic 0123456789abcdef", false },
		{ "0123456789abcdef", false },
		{ "", false },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		assert_int_equal(iw_admin_authorized(tok, rows[i].header), rows[i].ok);
	assert_false(iw_admin_authorized(tok, NULL));
	assert_false(iw_admin_authorized(NULL, "Bearer 0123456789abcdef"));
}

static unsigned call(struct iw_hub *h, const char *method, const char *path, const char *limit, json_t **body)
{
	struct iw_admin_info info = { .started_s = 1, .connections = 1 };
	struct iw_admin_req rq = { .method = method, .path = path, .limit = limit };
	struct iw_admin_reply r;

	iw_admin_handle(h, &info, &rq, 16, 5, &r);
	assert_non_null(r.buf);
	assert_true(r.len > 0 && r.buf[16 + r.len - 1] == '\n');
	*body = json_loadb((const char *)r.buf + 16, r.len, 0, NULL);
	assert_non_null(*body);
	if (r.status == 405)
		assert_non_null(r.allow);
	free(r.buf);
	return r.status;
}

static void test_routes(void **state)
{
	(void)state;
	struct iw_hub_cfg cfg = { .rooms = { .max_rooms = 4, .max_peers = 4, .grace_ms = 1000 },
				  .msg_rate = 100,
				  .msg_burst = 100,
				  .max_strikes = 10 };
	struct iw_hub_ops ops = { .send = f_send, .close = f_close };
	struct iw_hub *h = iw_hub_create(&cfg, &ops);
	struct iw_hub_conn c;
	static const char join[] = "{\"type\":\"join\",\"room\":\"r\",\"peer\":\"p\"}";
	static const struct {
		const char *method, *path, *limit;
		unsigned status;
	} rows[] = {
		{ "GET", "/admin/status", NULL, 200 },
		{ "GET", "/admin/rooms", NULL, 200 },
		{ "GET", "/admin/rooms", "1000", 200 },
		{ "GET", "/admin/rooms", "0", 400 },
		{ "GET", "/admin/rooms", "1001", 400 },
		{ "GET", "/admin/rooms", "1e3", 400 },
		{ "GET", "/admin/rooms", "", 400 },
		{ "GET", "/admin/rooms/r", NULL, 200 },
		{ "GET", "/admin/rooms/r/peers/p", NULL, 200 },
		{ "GET", "/admin/rooms/r/peers/q", NULL, 404 },
		{ "GET", "/admin/rooms/s", NULL, 404 },
		{ "GET", "/admin/rooms/s/peers/p", NULL, 404 },
		{ "GET", "/admin", NULL, 404 },
		{ "GET", "/admin/", NULL, 404 },
		{ "GET", "/admin/x", NULL, 404 },
		{ "GET", "/admin/rooms/r/x/p", NULL, 404 },
		{ "GET", "/admin/rooms/r/peers/p/", NULL, 404 },
		{ "GET", "/admin/rooms/", NULL, 400 },
		{ "GET", "/admin/rooms/r/peers/", NULL, 400 },
		{ "GET", "/admin/rooms/\xc3\xa9", NULL, 400 },
		{ "GET", "/admin/rooms/\xff", NULL, 400 },
		{ "GET", "/admin/rooms/a b", NULL, 400 },
		{ "GET", "/admin/rooms/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		  NULL, 400 },
		{ "GET", "/admin/rooms/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		  NULL, 404 },
		{ "POST", "/admin/status", NULL, 405 },
		{ "DELETE", "/admin/status", NULL, 405 },
		{ "DELETE", "/admin/rooms", NULL, 405 },
		{ "HEAD", "/admin/rooms/r", NULL, 405 },
		{ "PUT", "/admin/rooms/r/peers/p", NULL, 405 },
		{ "DELETE", "/admin/rooms/r/peers/q", NULL, 404 },
		{ "DELETE", "/admin/rooms/r/peers/p", NULL, 200 },
		{ "DELETE", "/admin/rooms/r/peers/p", NULL, 404 },
	};
	json_t *b;

	assert_non_null(h);
	iw_hub_conn_init(&c, h, 0);
	iw_hub_receive(h, &c, join, strlen(join), 0);
	assert_non_null(c.peer);
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		unsigned st = call(h, rows[i].method, rows[i].path, rows[i].limit, &b);
		if (st != rows[i].status)
			fail_msg("%s %s: %u, expected %u", rows[i].method, rows[i].path, st, rows[i].status);
		if (st >= 400)
			assert_non_null(json_string_value(json_object_get(b, "error")));
		json_decref(b);
	}
	assert_int_equal(n_closed, 1);
	assert_null(c.peer);
	assert_int_equal(call(h, "GET", "/admin/status", NULL, &b), 200);
	assert_int_equal(json_integer_value(json_object_get(b, "peers")), 0);
	assert_true(json_is_false(json_object_get(b, "cluster")));
	assert_true(json_is_false(json_object_get(b, "draining")));
	assert_null(json_object_get(b, "instance"));
	json_decref(b);
	/* what the WebSocket layer knows goes out as it is */
	{
		struct iw_admin_info info = {
			.started_s = 1, .connections = 3, .instance = "i1", .draining = true
		};
		struct iw_admin_req rq = { .method = "GET", .path = "/admin/status" };
		struct iw_admin_reply r;
		iw_admin_handle(h, &info, &rq, 0, 5, &r);
		assert_int_equal(r.status, 200);
		b = json_loadb((const char *)r.buf, r.len, 0, NULL);
		assert_true(json_is_true(json_object_get(b, "draining")));
		assert_true(json_is_true(json_object_get(b, "cluster")));
		assert_string_equal(json_string_value(json_object_get(b, "instance")), "i1");
		assert_int_equal(json_integer_value(json_object_get(b, "connections")), 3);
		assert_true(json_is_false(json_object_get(b, "redis_up")));
		json_decref(b);
		free(r.buf);
	}
	iw_hub_conn_gone(h, &c, false, 10);
	iw_hub_destroy(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_authorized),
		cmocka_unit_test(test_routes),
	};
	return cmocka_run_group_tests_name("admin", tests, NULL, NULL);
}
