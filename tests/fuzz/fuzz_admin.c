/* The signaling admin API's routes (signaling/admin.c iw_admin_handle) on a hub holding two
 * rooms, three local peers (one detached) and a peer on another instance. Input: a method byte,
 * then the decoded path, ?limit= and ?cursor=, separated by NUL (a missing part is absent).
 * Invariants: every answer is a JSON object with a status the API documents; an error carries
 * "error" and a 405 its Allow; only an answer that acted (DELETE, 200) changed the hub; a path
 * outside /admin/ never acts. */
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "signaling/admin.h"
#include "tests/fuzz/fuzz.h"

static int send_nop(void *arg, struct iw_hub_conn *c, const char *buf, size_t len)
{
	(void)arg;
	(void)c;
	(void)buf;
	(void)len;
	return 0;
}

static void close_nop(void *arg, struct iw_hub_conn *c, int code, const char *reason)
{
	(void)arg;
	(void)c;
	FUZZ_CHECK(code == IW_CLOSE_KICKED || code == IW_CLOSE_ROOM_CLOSED);
	FUZZ_CHECK(reason && reason[0]);
}

static void join(struct iw_hub *h, struct iw_hub_conn *c, const char *txt)
{
	iw_hub_conn_init(c, h, 0);
	iw_hub_receive(h, c, txt, strlen(txt), 0);
	FUZZ_CHECK(c->peer != NULL);
}

/* The next NUL-terminated part of the input, copied; NULL when the input is used up. */
static char *part(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *z;
	char *s;
	if (*p > end)
		return NULL;
	z = memchr(*p, 0, (size_t)(end - *p));
	if (!z)
		z = end;
	s = strndup((const char *)*p, (size_t)(z - *p));
	*p = z + 1;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = { "GET", "DELETE", "POST", "HEAD", "PUT", "OPTIONS" };
	const struct iw_hub_cfg cfg = { .rooms = { .max_rooms = 8, .max_peers = 8, .grace_ms = 1000 },
					.msg_rate = 100,
					.msg_burst = 100,
					.max_strikes = 10 };
	const struct iw_hub_ops ops = { .send = send_nop, .close = close_nop };
	const uint8_t *p = data + 1, *end = data + size;
	struct iw_hub_conn c[3];
	struct iw_admin_reply r;
	struct iw_hub *h;
	char *path, *limit, *cursor;
	unsigned before;
	json_t *o;

	if (size < 1)
		return 0;
	h = iw_hub_create(&cfg, &ops);
	FUZZ_CHECK(h != NULL);
	join(h, &c[0], "{\"type\":\"join\",\"room\":\"r\",\"peer\":\"p\"}");
	join(h, &c[1], "{\"type\":\"join\",\"room\":\"r\",\"peer\":\"q\"}");
	join(h, &c[2], "{\"type\":\"join\",\"room\":\"s\",\"peer\":\"x\"}");
	iw_hub_conn_gone(h, &c[1], false, 1); /* q: detached, within its grace */
	FUZZ_CHECK(iw_room_remote_add(iw_hub_rooms(h), iw_room_find(iw_hub_rooms(h), "r"), "far", "inst2") ==
		   0);
	before = iw_room_set_n_peers(iw_hub_rooms(h));

	path = part(&p, end);
	limit = part(&p, end);
	cursor = part(&p, end);
	iw_admin_handle(h, &(struct iw_admin_info){ .started_s = 1, .connections = 2 },
			&(struct iw_admin_req){ .method = methods[data[0] % 6],
						.path = path ? path : "",
						.limit = limit,
						.cursor = cursor },
			8, 5, &r);
	FUZZ_CHECK(r.buf != NULL);
	FUZZ_CHECK(r.status == 200 || r.status == 400 || r.status == 404 || r.status == 405 ||
		   r.status == 409);
	FUZZ_CHECK(r.len > 1 && r.buf[8 + r.len - 1] == '\n');
	o = json_loadb((const char *)r.buf + 8, r.len - 1, 0, NULL);
	FUZZ_CHECK(json_is_object(o));
	if (r.status >= 400)
		FUZZ_CHECK(json_is_string(json_object_get(o, "error")));
	FUZZ_CHECK((r.status == 405) == (r.allow != NULL));
	if (!(data[0] % 6 == 1 && r.status == 200))
		FUZZ_CHECK(iw_room_set_n_peers(iw_hub_rooms(h)) == before);
	if (!path || strncmp(path, "/admin/", 7) != 0)
		FUZZ_CHECK(r.status == 404);
	json_decref(o);
	free(r.buf);
	free(path);
	free(limit);
	free(cursor);
	for (int i = 0; i < 3; i++)
		iw_hub_conn_gone(h, &c[i], true, 10);
	iw_hub_destroy(h);
	return 0;
}
