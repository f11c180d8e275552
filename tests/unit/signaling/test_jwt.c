/* Unit tests for signaling/jwt.c: HS256 tokens made here with libjwt, checked for signature,
 * algorithm, exp/nbf (integer and fractional NumericDate, leeway) and the room/peer claims. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jwt.h>

#include "signaling/jwt.h"

static const char secret[] = "test-secret";
enum { NOW = 1700000000 };

/* An HS256 (or alg) token signed with key and carrying the claims in the JSON object grants. */
static char *token(jwt_alg_t alg, const char *key, const char *grants)
{
	jwt_t *j = NULL;
	char *t;
	assert_int_equal(jwt_new(&j), 0);
	assert_int_equal(jwt_set_alg(j, alg, alg == JWT_ALG_NONE ? NULL : (const unsigned char *)key,
				     alg == JWT_ALG_NONE ? 0 : (int)strlen(key)),
			 0);
	assert_int_equal(jwt_add_grants_json(j, grants), 0);
	t = jwt_encode_str(j);
	assert_non_null(t);
	jwt_free(j);
	return t;
}

static int check(const struct iw_jwt_cfg *cfg, const char *grants, struct iw_jwt_claims *c, const char **why)
{
	char *t = token(JWT_ALG_HS256, secret, grants);
	int rc = iw_jwt_check(cfg, t, NOW, c, why);
	free(t);
	return rc;
}

static void claims_and_times(void **state)
{
	(void)state;
	const struct iw_jwt_cfg cfg = { .secret = secret, .leeway_s = 5 };
	static const struct {
		const char *grants;
		int rc;
		const char *why; /* NULL: accepted */
	} rows[] = {
		{ "{\"room\":\"r1\",\"exp\":1700000100}", 0, NULL },
		{ "{\"room\":\"r1\",\"exp\":1699999995.5}", 0, NULL }, /* past, within the leeway */
		{ "{\"room\":\"r1\",\"exp\":1699999994.5}", -EACCES, "access token expired" },
		{ "{\"room\":\"r1\",\"exp\":1699999990}", -EACCES, "access token expired" },
		{ "{\"room\":\"r1\"}", -EACCES, "access token has no exp" },
		{ "{\"room\":\"r1\",\"exp\":\"1700000100\"}", -EACCES,
		  "exp and nbf must be NumericDate numbers" },
		{ "{\"room\":\"r1\",\"exp\":1700000100,\"nbf\":1700000010}", -EACCES,
		  "access token not valid yet (nbf)" },
		{ "{\"room\":\"r1\",\"exp\":1700000100,\"nbf\":1700000004.9}", 0, NULL },
		{ "{\"exp\":1700000100}", -EACCES,
		  "access token must name a valid room (and optionally peer)" },
		{ "{\"room\":\"a b\",\"exp\":1700000100}", -EACCES,
		  "access token must name a valid room (and optionally peer)" },
		{ "{\"room\":\"r1\",\"peer\":\"p/1\",\"exp\":1700000100}", -EACCES,
		  "access token must name a valid room (and optionally peer)" },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct iw_jwt_claims c;
		const char *why = NULL;
		int rc = check(&cfg, rows[i].grants, &c, &why);
		if (rc != rows[i].rc || (rows[i].why && (!why || strcmp(why, rows[i].why) != 0)))
			fail_msg("%s: rc %d (%s), want %d (%s)", rows[i].grants, rc, why ? why : "-",
				 rows[i].rc, rows[i].why ? rows[i].why : "-");
	}
}

static void no_exp_allowed(void **state)
{
	(void)state;
	const struct iw_jwt_cfg cfg = { .secret = secret, .allow_no_exp = true };
	struct iw_jwt_claims c;
	const char *why = NULL;

	assert_int_equal(check(&cfg, "{\"room\":\"r1\",\"sub\":\"alice\"}", &c, &why), 0);
	assert_string_equal(c.room, "r1");
	assert_string_equal(c.peer, "alice");
	/* peer wins over sub */
	assert_int_equal(check(&cfg, "{\"room\":\"r2\",\"peer\":\"bob\",\"sub\":\"alice\"}", &c, &why), 0);
	assert_string_equal(c.peer, "bob");
	assert_int_equal(check(&cfg, "{\"room\":\"r3\"}", &c, &why), 0);
	assert_string_equal(c.peer, "");
}

static void signature_and_alg(void **state)
{
	(void)state;
	const struct iw_jwt_cfg cfg = { .secret = secret, .allow_no_exp = true };
	struct iw_jwt_claims c;
	const char *why = NULL;
	char *t;

	t = token(JWT_ALG_HS256, "another-secret", "{\"room\":\"r1\"}");
	assert_int_equal(iw_jwt_check(&cfg, t, NOW, &c, &why), -EACCES);
	assert_string_equal(why, "bad access token signature");
	free(t);
	t = token(JWT_ALG_HS512, secret, "{\"room\":\"r1\"}");
	assert_int_equal(iw_jwt_check(&cfg, t, NOW, &c, &why), -EACCES);
	assert_string_equal(why, "access token must be HS256");
	free(t);
	t = token(JWT_ALG_NONE, secret, "{\"room\":\"r1\"}");
	assert_int_equal(iw_jwt_check(&cfg, t, NOW, &c, &why), -EACCES);
	free(t);
	assert_int_equal(iw_jwt_check(&cfg, "not.a.token", NOW, &c, &why), -EACCES);
	assert_int_equal(iw_jwt_check(&cfg, "", NOW, &c, &why), -EACCES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(claims_and_times),
		cmocka_unit_test(no_exp_allowed),
		cmocka_unit_test(signature_and_alg),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
