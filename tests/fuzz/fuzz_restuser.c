/* TURN REST username parser (common/cred.c iw_cred_rest_parse): the first input byte is the
 * separator (rest-api-separator), the rest the username. Invariants: the user part lies
 * inside the name and is bounded by the separator; ':' gives what iw_cred_rest_expiry gives;
 * a name rebuilt from the parts parses to the same parts. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/cred.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char sep = (char)data[0];
	const char *name = (const char *)data + 1;
	size_t len = size - 1;
	int64_t exp = -1, exp2 = -1;
	size_t off = (size_t)-1, ulen = (size_t)-1;
	int rc = iw_cred_rest_parse(name, len, sep, &exp, &off, &ulen);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL);
	if (sep == ':') {
		int rc2 = iw_cred_rest_expiry(name, len, &exp2);
		FUZZ_CHECK(rc2 == rc);
		FUZZ_CHECK(rc || exp2 == exp);
	}
	if (rc) {
		/* nothing set on failure */
		FUZZ_CHECK(exp == -1 && off == (size_t)-1 && ulen == (size_t)-1);
		return 0;
	}
	FUZZ_CHECK(len > 0 && len <= IW_CRED_MAX_USER);
	FUZZ_CHECK(exp >= 0);
	FUZZ_CHECK(off <= len && ulen <= len - off);
	if (!memchr(name, sep, len)) {
		/* a bare expiry: all digits, no user part */
		FUZZ_CHECK(off == len && ulen == 0);
		for (size_t i = 0; i < len; i++)
			FUZZ_CHECK(name[i] >= '0' && name[i] <= '9');
	} else if (off == 0) {
		/* "user<sep>EXPIRY": the first separator right after the user part */
		FUZZ_CHECK(ulen < len && name[ulen] == sep && !memchr(name, sep, ulen));
	} else {
		/* "EXPIRY<sep>user": the first separator right before the user part, which runs
		 * to the end */
		FUZZ_CHECK(name[off - 1] == sep && !memchr(name, sep, off - 1));
		FUZZ_CHECK(off + ulen == len);
	}
	/* Rebuilt as "EXPIRY<sep>user" (a user part without the separator), it parses the same.
	 * A digit separator runs into the expiry (rest-api-separator refuses digits). */
	bool digit_sep = sep >= '0' && sep <= '9';
	if (!digit_sep && ulen > 0 && !memchr(name + off, sep, ulen) &&
	    (name[off] < '0' || name[off] > '9')) {
		char buf[IW_CRED_MAX_USER + 32];
		int n = snprintf(buf, sizeof buf, "%lld%c", (long long)exp, sep);
		size_t o2, l2, total = (size_t)n + ulen;
		if (n > 0 && total <= IW_CRED_MAX_USER) {
			memcpy(buf + n, name + off, ulen); /* bytes, NULs included */
			FUZZ_CHECK(iw_cred_rest_parse(buf, total, sep, &exp2, &o2, &l2) == 0);
			FUZZ_CHECK(exp2 == exp && l2 == ulen && !memcmp(buf + o2, name + off, ulen));
		}
	}
	return 0;
}
