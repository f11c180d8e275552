/* Signaling message validation and serialization (signaling/msg.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "signaling//msg.h"

/* One row per rule: the text, and the error it must give (or -1 for valid). */
static const struct {
	const char *name;
	const char *txt;
	int err;
	int type; /* for valid rows */
} rows[] = {
	{ "not json", "hello", IW_ERR_BAD_JSON, 0 },
	{ "truncated json", "{\"type\":\"join\"", IW_ERR_BAD_JSON, 0 },
	{ "duplicate keys", "{\"type\":\"ping\",\"type\":\"ping\"}", IW_ERR_BAD_JSON, 0 },
	{ "array", "[1,2]", IW_ERR_NOT_OBJECT, 0 },
	{ "string", "\"join\"", IW_ERR_NOT_OBJECT, 0 },
	{ "number", "42", IW_ERR_NOT_OBJECT, 0 },
	{ "no type", "{\"room\":\"r\"}", IW_ERR_BAD_FIELD, 0 },
	{ "type not a string", "{\"type\":1}", IW_ERR_BAD_FIELD, 0 },
	{ "unknown type", "{\"type\":\"dance\"}", IW_ERR_UNKNOWN_TYPE, 0 },
	{ "server-only type", "{\"type\":\"welcome\"}", IW_ERR_UNKNOWN_TYPE, 0 },
	{ "id an object", "{\"type\":\"ping\",\"id\":{}}", IW_ERR_BAD_FIELD, 0 },
	/* join */
	{ "join ok", "{\"type\":\"join\",\"room\":\"r1\"}", -1, IW_MSG_JOIN },
	{ "join with peer+resume", "{\"type\":\"join\",\"room\":\"r1\",\"peer\":\"p\",\"resume\":\"00\"}", -1,
	  IW_MSG_JOIN },
	{ "join null peer", "{\"type\":\"join\",\"room\":\"r1\",\"peer\":null}", -1, IW_MSG_JOIN },
	{ "join no room", "{\"type\":\"join\"}", IW_ERR_BAD_FIELD, 0 },
	{ "join room number", "{\"type\":\"join\",\"room\":5}", IW_ERR_BAD_FIELD, 0 },
	{ "join room empty", "{\"type\":\"join\",\"room\":\"\"}", IW_ERR_BAD_FIELD, 0 },
	{ "join room bad chars", "{\"type\":\"join\",\"room\":\"a b\"}", IW_ERR_BAD_FIELD, 0 },
	{ "NUL in a string (refused by the parser)", "{\"type\":\"join\",\"room\":\"a\\u0000b\"}",
	  IW_ERR_BAD_JSON, 0 },
	{ "join peer number", "{\"type\":\"join\",\"room\":\"r\",\"peer\":1}", IW_ERR_BAD_FIELD, 0 },
	{ "join resume number", "{\"type\":\"join\",\"room\":\"r\",\"resume\":1}", IW_ERR_BAD_FIELD, 0 },
	/* leave, ping */
	{ "leave ok", "{\"type\":\"leave\"}", -1, IW_MSG_LEAVE },
	{ "ping ok", "{\"type\":\"ping\",\"id\":\"x\"}", -1, IW_MSG_PING },
	/* offer, answer */
	{ "offer ok", "{\"type\":\"offer\",\"to\":\"b\",\"sdp\":\"v=0\"}", -1, IW_MSG_OFFER },
	{ "answer ok", "{\"type\":\"answer\",\"to\":\"b\",\"sdp\":\"v=0\"}", -1, IW_MSG_ANSWER },
	{ "offer no to", "{\"type\":\"offer\",\"sdp\":\"v=0\"}", IW_ERR_BAD_FIELD, 0 },
	{ "offer to number", "{\"type\":\"offer\",\"to\":3,\"sdp\":\"v=0\"}", IW_ERR_BAD_FIELD, 0 },
	{ "offer no sdp", "{\"type\":\"offer\",\"to\":\"b\"}", IW_ERR_BAD_FIELD, 0 },
	{ "answer sdp object", "{\"type\":\"answer\",\"to\":\"b\",\"sdp\":{}}", IW_ERR_BAD_FIELD, 0 },
	/* candidate */
	{ "candidate ok",
	  "{\"type\":\"candidate\",\"to\":\"b\",\"candidate\":{\"candidate\":\"candidate:1 1 udp 1 "
	  "1.2.3.4 5 typ host\",\"sdpMid\":\"0\",\"sdpMLineIndex\":0,\"usernameFragment\":null}}",
	  -1, IW_MSG_CANDIDATE },
	{ "candidate empty (end of generation)",
	  "{\"type\":\"candidate\",\"to\":\"b\",\"candidate\":{\"candidate\":\"\"}}", -1, IW_MSG_CANDIDATE },
	{ "candidate missing", "{\"type\":\"candidate\",\"to\":\"b\"}", IW_ERR_BAD_FIELD, 0 },
	{ "candidate a string", "{\"type\":\"candidate\",\"to\":\"b\",\"candidate\":\"c\"}", IW_ERR_BAD_FIELD,
	  0 },
	{ "candidate.candidate missing", "{\"type\":\"candidate\",\"to\":\"b\",\"candidate\":{}}",
	  IW_ERR_BAD_FIELD, 0 },
	{ "candidate sdpMid number",
	  "{\"type\":\"candidate\",\"to\":\"b\",\"candidate\":{\"candidate\":\"c\",\"sdpMid\":1}}",
	  IW_ERR_BAD_FIELD, 0 },
	{ "candidate mline negative",
	  "{\"type\":\"candidate\",\"to\":\"b\",\"candidate\":{\"candidate\":\"c\","
	  "\"sdpMLineIndex\":-1}}",
	  IW_ERR_BAD_FIELD, 0 },
	{ "candidate ufrag number",
	  "{\"type\":\"candidate\",\"to\":\"b\",\"candidate\":{\"candidate\":\"c\","
	  "\"usernameFragment\":2}}",
	  IW_ERR_BAD_FIELD, 0 },
	/* what the fast scanner leaves to jansson gets jansson's answer */
	{ "repeated key, one escaped", "{\"type\":\"ping\",\"\\u0074ype\":\"ping\"}", IW_ERR_BAD_JSON, 0 },
	{ "repeated key in candidate",
	  "{\"type\":\"candidate\",\"to\":\"b\",\"candidate\":{\"candidate\":\"c\",\"candidate\":\"d\"}}",
	  IW_ERR_BAD_JSON, 0 },
	{ "escaped key", "{\"\\u0074ype\":\"ping\"}", -1, IW_MSG_PING },
	{ "non-finite number", "{\"type\":\"ping\",\"n\":1e999}", IW_ERR_BAD_JSON, 0 },
	{ "integer past int64", "{\"type\":\"ping\",\"id\":9223372036854775808}", IW_ERR_BAD_JSON, 0 },
	{ "leading zero", "{\"type\":\"ping\",\"n\":01}", IW_ERR_BAD_JSON, 0 },
	{ "NUL in type", "{\"type\":\"ping\\u0000x\"}", IW_ERR_BAD_JSON, 0 },
	{ "NUL in to", "{\"type\":\"bye\",\"to\":\"b\\u0000\"}", IW_ERR_BAD_JSON, 0 },
	{ "lone surrogate escape", "{\"type\":\"offer\",\"to\":\"b\",\"sdp\":\"\\ud800\"}", IW_ERR_BAD_JSON,
	  0 },
	{ "UTF-8 surrogate", "{\"type\":\"offer\",\"to\":\"b\",\"sdp\":\"\xed\xa0\x80\"}", IW_ERR_BAD_JSON,
	  0 },
	{ "UTF-8 overlong", "{\"type\":\"offer\",\"to\":\"b\",\"sdp\":\"\xc0\xaf\"}", IW_ERR_BAD_JSON, 0 },
	{ "raw control character", "{\"type\":\"offer\",\"to\":\"b\",\"sdp\":\"a\tb\"}", IW_ERR_BAD_JSON, 0 },
	{ "trailing garbage", "{\"type\":\"ping\"} x", IW_ERR_BAD_JSON, 0 },
	{ "whitespace around everything", " {\t\"type\" :\r\n\"ping\" } \n", -1, IW_MSG_PING },
	{ "unknown fields of any shape", "{\"type\":\"ping\",\"x\":[1,2.5,{\"k\":null}],\"n\":1e-400}", -1,
	  IW_MSG_PING },
	{ "16 members (the scanner's limit)",
	  "{\"type\":\"ping\",\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,\"h\":1,\"i\":1,"
	  "\"j\":1,\"k\":1,\"l\":1,\"m\":1,\"n\":1,\"o\":1}",
	  -1, IW_MSG_PING },
	{ "17 members (jansson's)",
	  "{\"type\":\"ping\",\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,\"h\":1,\"i\":1,"
	  "\"j\":1,\"k\":1,\"l\":1,\"m\":1,\"n\":1,\"o\":1,\"p\":1}",
	  -1, IW_MSG_PING },
	{ "repeated key past 16 members",
	  "{\"type\":\"ping\",\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,\"h\":1,\"i\":1,"
	  "\"j\":1,\"k\":1,\"l\":1,\"m\":1,\"n\":1,\"o\":1,\"p\":1,\"a\":2}",
	  IW_ERR_BAD_JSON, 0 },
	/* end-of-candidates, bye */
	{ "eoc ok", "{\"type\":\"end-of-candidates\",\"to\":\"b\"}", -1, IW_MSG_END_OF_CANDIDATES },
	{ "eoc no to", "{\"type\":\"end-of-candidates\"}", IW_ERR_BAD_FIELD, 0 },
	{ "bye ok", "{\"type\":\"bye\",\"to\":\"b\",\"reason\":\"hangup\"}", -1, IW_MSG_BYE },
	{ "bye reason number", "{\"type\":\"bye\",\"to\":\"b\",\"reason\":1}", IW_ERR_BAD_FIELD, 0 },
	{ "bye to too long",
	  "{\"type\":\"bye\",\"to\":\"01234567890123456789012345678901234567890123456789012345678901"
	  "234\"}",
	  IW_ERR_BAD_FIELD, 0 },
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct iw_msg m;
		enum iw_msg_err err = IW_ERR_COUNT;
		const char *why = NULL;
		int rc = iw_msg_parse(&m, rows[i].txt, strlen(rows[i].txt), &err, &why);
		if (rows[i].err < 0) {
			if (rc != 0)
				fail_msg("%s: rejected (%s)", rows[i].name, why);
			assert_int_equal(m.type, rows[i].type);
		} else {
			if (rc != -EBADMSG || (int)err != rows[i].err)
				fail_msg("%s: rc %d err %s, want %s", rows[i].name, rc, iw_msg_err_name(err),
					 iw_msg_err_name((enum iw_msg_err)rows[i].err));
			assert_non_null(why); /* a clear answer for every bad message */
		}
		iw_msg_fini(&m);
	}
}

/* Both parsers give the same answer on every row (fuzz_sigmsg checks any input). */
static void test_parsers_agree(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct iw_msg a, b;
		enum iw_msg_err ea = IW_ERR_COUNT, eb = IW_ERR_COUNT;
		const char *wa = NULL, *wb = NULL;
		size_t n = strlen(rows[i].txt);
		int ra = iw_msg_parse(&a, rows[i].txt, n, &ea, &wa);
		int rb = iw_msg_parse_jansson(&b, rows[i].txt, n, &eb, &wb);
		if (ra != rb || (ra < 0 && (ea != eb || strcmp(wa, wb) != 0)) ||
		    (ra == 0 && a.type != b.type))
			fail_msg("%s: parsers differ", rows[i].name);
		iw_msg_fini(&a);
		iw_msg_fini(&b);
	}
}

/* An offer's sdp and to go out as they came in (escapes and all), the sender's `from` and
 * unknown fields do not, whitespace is gone: one object, no repeated key. */
static void test_forward_splices(void **state)
{
	(void)state;
	static const char j[] =
		" { \"from\" : \"forged\", \"type\":\"offer\", \"to\":\"\\u0062\",\n"
		"\"sdp\" : \"caf\\u00e9 \\ud83d\\ude00 \\/ \\\"q\\\" \\\\ \\r\\n\", \"x\":1 } ";
	struct iw_msg m;
	enum iw_msg_err err;
	const char *why;
	size_t len = 0;
	assert_int_equal(iw_msg_parse(&m, j, sizeof(j) - 1, &err, &why), 0);
	char *out = iw_msg_forward(&m, "a", &len);
	assert_string_equal(out, "{\"type\":\"offer\",\"from\":\"a\",\"to\":\"\\u0062\",\"sdp\":\"caf\\u00e9 "
				 "\\ud83d\\ude00 \\/ \\\"q\\\" \\\\ \\r\\n\"}");
	assert_int_equal(len, strlen(out));
	json_t *o = json_loads(out, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "sdp")), m.sdp);
	assert_string_equal(m.sdp, "caf\xc3\xa9 \xf0\x9f\x98\x80 / \"q\" \\ \r\n");
	json_decref(o);
	free(out);
	iw_msg_fini(&m);

	/* the same message through jansson alone: the same JSON, encoded again */
	assert_int_equal(iw_msg_parse_jansson(&m, j, sizeof(j) - 1, &err, &why), 0);
	out = iw_msg_forward(&m, "a", &len);
	assert_string_equal(out, "{\"type\":\"offer\",\"from\":\"a\",\"to\":\"b\",\"sdp\":\"caf\xc3\xa9 "
				 "\xf0\x9f\x98\x80 / \\\"q\\\" \\\\ \\r\\n\"}");
	free(out);
	iw_msg_fini(&m);
}

static void test_views(void **state)
{
	(void)state;
	static const char j[] = "{\"type\":\"join\",\"room\":\"r1\",\"peer\":\"me\",\"id\":9}";
	struct iw_msg m;
	enum iw_msg_err err;
	const char *why;
	assert_int_equal(iw_msg_parse(&m, j, sizeof(j) - 1, &err, &why), 0);
	assert_string_equal(m.room, "r1");
	assert_string_equal(m.peer, "me");
	assert_null(m.resume);
	assert_int_equal(m.id.kind, IW_MSG_REF_INT);
	assert_int_equal(m.id.num, 9);
	iw_msg_fini(&m);
}

static void test_forward_sets_from(void **state)
{
	(void)state;
	static const char j[] = "{\"type\":\"candidate\",\"to\":\"b\",\"from\":\"forged\",\"extra\":1,"
				"\"candidate\":{\"candidate\":\"c1\",\"sdpMid\":\"0\",\"junk\":true}}";
	struct iw_msg m;
	enum iw_msg_err err;
	const char *why;
	size_t len = 0;
	assert_int_equal(iw_msg_parse(&m, j, sizeof(j) - 1, &err, &why), 0);
	char *out = iw_msg_forward(&m, "a", &len);
	assert_non_null(out);
	assert_int_equal(len, strlen(out));
	json_t *o = json_loads(out, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "from")), "a");
	assert_string_equal(json_string_value(json_object_get(o, "to")), "b");
	assert_null(json_object_get(o, "extra")); /* only known fields are forwarded */
	json_t *c = json_object_get(o, "candidate");
	assert_string_equal(json_string_value(json_object_get(c, "candidate")), "c1");
	assert_true(json_is_null(json_object_get(c, "sdpMLineIndex")));
	assert_null(json_object_get(c, "junk"));
	json_decref(o);
	free(out);
	iw_msg_fini(&m);
}

static void test_error_and_presence(void **state)
{
	(void)state;
	size_t len;
	const struct iw_msg_ref ref = { .kind = IW_MSG_REF_STR, .len = 2, .str = "r7" };
	char *e = iw_msg_error(IW_ERR_ROOM_FULL, "room is full", &ref, &len);
	assert_string_equal(e, "{\"type\":\"error\",\"code\":\"room-full\",\"message\":\"room is full\","
			       "\"ref\":\"r7\"}");
	free(e);
	/* an id with a NUL and an integer id come back as they were sent */
	const struct iw_msg_ref nul = { .kind = IW_MSG_REF_STR, .len = 3, .str = "a\0b" };
	e = iw_msg_pong(&nul, &len);
	assert_string_equal(e, "{\"type\":\"pong\",\"ref\":\"a\\u0000b\"}");
	free(e);
	const struct iw_msg_ref num = { .kind = IW_MSG_REF_INT, .num = -9007199254740993LL };
	e = iw_msg_pong(&num, &len);
	assert_string_equal(e, "{\"type\":\"pong\",\"ref\":-9007199254740993}");
	free(e);
	char *p = iw_msg_presence(false, "x", &len);
	assert_string_equal(p, "{\"type\":\"peer-left\",\"peer\":\"x\"}");
	free(p);
	/* every code has a distinct name */
	for (int i = 0; i < IW_ERR_COUNT; i++)
		for (int k = i + 1; k < IW_ERR_COUNT; k++)
			assert_string_not_equal(iw_msg_err_name((enum iw_msg_err)i),
						iw_msg_err_name((enum iw_msg_err)k));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_views),
		cmocka_unit_test(test_parsers_agree),
		cmocka_unit_test(test_forward_splices),
		cmocka_unit_test(test_forward_sets_from),
		cmocka_unit_test(test_error_and_presence),
	};
	return cmocka_run_group_tests_name("msg", tests, NULL, NULL);
}
