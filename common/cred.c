/* Credentials: TURN REST API (coturn use-auth-secret) usernames and passwords, HMAC and base64
 * through mbedTLS, constant-time comparison and kernel randomness. Nothing here logs. */
#include "common/cred.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <mbedtls/base64.h>
#include <mbedtls/md.h>

bool iw_cred_equal(const void *a, const void *b, size_t len)
{
	/* volatile keeps the compiler from turning the loop into an early-exit memcmp. */
	const volatile uint8_t *x = a;
	const volatile uint8_t *y = b;
	uint8_t acc = 0;

	for (size_t i = 0; i < len; i++)
		acc |= (uint8_t)(x[i] ^ y[i]);
	return acc == 0;
}

static void hmac(mbedtls_md_type_t type, uint8_t *out, const void *key, size_t key_len, const void *msg,
		 size_t msg_len)
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(type);
	static const uint8_t empty[1];

	/* mbedTLS rejects NULL pointers even for zero lengths. */
	if (!key)
		key = empty;
	if (!msg)
		msg = empty;
	/* Cannot fail for a built-in digest and valid pointers. */
	(void)mbedtls_md_hmac(md, key, key_len, msg, msg_len, out);
}

void iw_cred_hmac_sha1(uint8_t out[20], const void *key, size_t key_len, const void *msg, size_t msg_len)
{
	hmac(MBEDTLS_MD_SHA1, out, key, key_len, msg, msg_len);
}

void iw_cred_hmac_sha256(uint8_t out[32], const void *key, size_t key_len, const void *msg, size_t msg_len)
{
	hmac(MBEDTLS_MD_SHA256, out, key, key_len, msg, msg_len);
}

size_t iw_cred_base64(char *out, const void *in, size_t len)
{
	size_t olen = 0;
	size_t cap = 4 * ((len + 2) / 3) + 1;
	static const uint8_t empty[1];

	if (mbedtls_base64_encode((unsigned char *)out, cap, &olen, len ? in : empty, len) != 0) {
		out[0] = '\0';
		return 0;
	}
	out[olen] = '\0';
	return olen;
}

int iw_cred_base64_decode(uint8_t *out, size_t cap, const char *in, size_t len)
{
	size_t olen = 0;
	static const char empty[1];

	if (len == 0)
		return 0;
	/* Padded base64 only: mbedTLS would accept a missing '=' tail. */
	if (len % 4 != 0)
		return -EINVAL;
	if (mbedtls_base64_decode(out, cap, &olen, (const unsigned char *)(in ? in : empty), len) != 0)
		return -EINVAL;
	if (olen > (size_t)INT32_MAX)
		return -EINVAL;
	return (int)olen;
}

enum { TICKET_BODY = 12, TICKET_MAC = 12 };

static void ticket_mac(uint8_t mac[TICKET_MAC], const uint8_t *key, const uint8_t body[TICKET_BODY])
{
	uint8_t full[32];
	iw_cred_hmac_sha256(full, key, IW_CRED_TICKET_KEY_LEN, body, TICKET_BODY);
	memcpy(mac, full, TICKET_MAC);
	memset(full, 0, sizeof full);
}

void iw_cred_ticket_seal(char out[IW_CRED_TICKET_LEN], const uint8_t key[IW_CRED_TICKET_KEY_LEN],
			 const struct iw_cred_ticket *t)
{
	uint8_t b[TICKET_BODY + TICKET_MAC];
	char txt[IW_CRED_TICKET_LEN + 1];
	b[0] = t->worker;
	b[1] = (uint8_t)(t->slot >> 16);
	b[2] = (uint8_t)(t->slot >> 8);
	b[3] = (uint8_t)t->slot;
	for (unsigned i = 0; i < 8; i++)
		b[4 + i] = (uint8_t)(t->id >> (56 - 8 * i));
	ticket_mac(b + TICKET_BODY, key, b);
	iw_cred_base64(txt, b, sizeof b);
	memcpy(out, txt, IW_CRED_TICKET_LEN);
}

int iw_cred_ticket_open(struct iw_cred_ticket *t, const uint8_t key[IW_CRED_TICKET_KEY_LEN], const void *in,
			size_t len)
{
	uint8_t b[TICKET_BODY + TICKET_MAC + 3], mac[TICKET_MAC];
	if (len != IW_CRED_TICKET_LEN ||
	    iw_cred_base64_decode(b, sizeof b, in, len) != TICKET_BODY + TICKET_MAC)
		return -EBADMSG;
	ticket_mac(mac, key, b);
	if (!iw_cred_equal(mac, b + TICKET_BODY, TICKET_MAC))
		return -EBADMSG;
	t->worker = b[0];
	t->slot = (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	t->id = 0;
	for (unsigned i = 0; i < 8; i++)
		t->id = t->id << 8 | b[4 + i];
	return 0;
}

void iw_cred_rest_password(char out[IW_CRED_REST_PASS_LEN + 1], const char *secret, size_t secret_len,
			   const void *username, size_t username_len)
{
	uint8_t mac[20];

	iw_cred_hmac_sha1(mac, secret, secret_len, username, username_len);
	iw_cred_base64(out, mac, sizeof mac);
	memset(mac, 0, sizeof mac);
}

int iw_cred_rest_make(char *user_out, size_t user_cap, char pass_out[IW_CRED_REST_PASS_LEN + 1],
		      const char *secret, const char *user, time_t now, uint32_t ttl)
{
	long long expiry = (long long)now + ttl;
	int n;

	if (!user_out || user_cap == 0 || !secret)
		return -EINVAL;
	if (user && *user)
		n = snprintf(user_out, user_cap, "%lld:%s", expiry, user);
	else
		n = snprintf(user_out, user_cap, "%lld", expiry);
	if (n < 0 || (size_t)n >= user_cap) {
		user_out[0] = '\0';
		return -EMSGSIZE;
	}
	iw_cred_rest_password(pass_out, secret, strlen(secret), user_out, (size_t)n);
	return 0;
}

/* A run of decimal digits that fits an int64; false for empty, signs or overflow. */
static bool parse_ts(const char *p, size_t len, int64_t *out)
{
	int64_t v = 0;

	if (len == 0 || len > 18)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return true;
}

int iw_cred_rest_parse(const void *username, size_t len, char sep, int64_t *expiry, size_t *user_off,
		       size_t *user_len)
{
	const char *s = username;
	const char *at;

	if (!s || len == 0 || len > IW_CRED_MAX_USER)
		return -EINVAL;
	at = memchr(s, sep, len);
	if (!at) {
		if (!parse_ts(s, len, expiry))
			return -EINVAL;
		*user_off = len;
		*user_len = 0;
		return 0;
	}
	/* coturn: "EXPIRY:user"; when the first part is not a number, "user:EXPIRY" with the
	 * timestamp after the first separator. */
	size_t head = (size_t)(at - s);
	if (parse_ts(s, head, expiry)) {
		*user_off = head + 1;
		*user_len = len - head - 1;
		return 0;
	}
	if (parse_ts(at + 1, len - head - 1, expiry)) {
		*user_off = 0;
		*user_len = head;
		return 0;
	}
	return -EINVAL;
}

int iw_cred_rest_expiry(const void *username, size_t len, int64_t *expiry)
{
	size_t off, n;
	return iw_cred_rest_parse(username, len, ':', expiry, &off, &n);
}

int iw_cred_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
