/* Credentials: TURN REST API usernames (expiry:user) and passwords (base64 HMAC-SHA1 of a
 * shared secret, as coturn's use-auth-secret), constant-time comparison, randomness, and the
 * HMAC/base64 helpers both processes use. Never logs a secret. */
#ifndef IW_COMMON_CRED_H
#define IW_COMMON_CRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum {
	IW_CRED_REST_PASS_LEN = 28, /* base64 of a 20-byte HMAC-SHA1, without NUL */
	IW_CRED_MAX_USER = 256,
};

/* Constant-time equality of two byte strings of the same length. */
bool iw_cred_equal(const void *a, const void *b, size_t len);

/*
 * Make a TURN REST API credential: username "EXPIRY:user" (or "EXPIRY" when user is NULL or
 * empty), EXPIRY = now + ttl in Unix seconds, and password = base64(HMAC-SHA1(secret,
 * username)). user_out and pass_out are NUL-terminated. Returns 0, or -EMSGSIZE if user_out
 * is too small (pass_out must hold IW_CRED_REST_PASS_LEN + 1).
 */
int iw_cred_rest_make(char *user_out, size_t user_cap, char pass_out[IW_CRED_REST_PASS_LEN + 1],
		      const char *secret, const char *user, time_t now, uint32_t ttl);

/* password = base64(HMAC-SHA1(secret, username)), NUL-terminated. */
void iw_cred_rest_password(char out[IW_CRED_REST_PASS_LEN + 1], const char *secret, size_t secret_len,
			   const void *username, size_t username_len);

/*
 * Parse the expiry timestamp of a REST username: the leading decimal digits up to ':' (or
 * the whole name). coturn also accepts "user:EXPIRY"; so do we when the first part is not a
 * number. Returns 0 with *expiry set, or -EINVAL when no timestamp is found.
 */
int iw_cred_rest_expiry(const void *username, size_t len, int64_t *expiry);
/*
 * The same with another separator (coturn's rest-api-separator), also finding the user part:
 * "EXPIRY<sep>user" or "user<sep>EXPIRY" give user at username + *user_off, *user_len bytes
 * (it may be empty, or hold further separators); a bare "EXPIRY" gives *user_len 0. 0, or
 * -EINVAL (nothing else set) when no timestamp is found or len is 0 or past IW_CRED_MAX_USER.
 */
int iw_cred_rest_parse(const void *username, size_t len, char sep, int64_t *expiry, size_t *user_off,
		       size_t *user_len);

/* HMAC-SHA1 and HMAC-SHA256 (mbedTLS). */
void iw_cred_hmac_sha1(uint8_t out[20], const void *key, size_t key_len, const void *msg, size_t msg_len);
void iw_cred_hmac_sha256(uint8_t out[32], const void *key, size_t key_len, const void *msg, size_t msg_len);

/* Standard base64 with padding; out must hold 4*ceil(len/3)+1. Returns the length written. */
size_t iw_cred_base64(char *out, const void *in, size_t len);
/* Decode standard base64; returns the length or -EINVAL. */
int iw_cred_base64_decode(uint8_t *out, size_t cap, const char *in, size_t len);

/*
 * RFC 8016 mobility tickets: which allocation a client that moved had, where it is (worker and
 * slab slot) and its id, sealed with HMAC-SHA256 (truncated to 96 bits) under a key of the
 * process, so that a client can neither read a forged one into another allocation nor tell
 * more than it was handed. As text (base64 of 24 bytes, 32 characters, no NUL): coturn's
 * clients keep a ticket as a C string of at most 32 characters.
 */
enum { IW_CRED_TICKET_LEN = 32, IW_CRED_TICKET_KEY_LEN = 32 };
struct iw_cred_ticket {
	uint8_t worker;
	uint32_t slot; /* < 2^24 */
	uint64_t id;
};
/* Seal t into out (IW_CRED_TICKET_LEN characters, not NUL-terminated). */
void iw_cred_ticket_seal(char out[IW_CRED_TICKET_LEN], const uint8_t key[IW_CRED_TICKET_KEY_LEN],
			 const struct iw_cred_ticket *t);
/* Open a ticket of len bytes: 0 with *t set, or -EBADMSG when it is not one this key sealed
 * (the MAC is compared in constant time). */
int iw_cred_ticket_open(struct iw_cred_ticket *t, const uint8_t key[IW_CRED_TICKET_KEY_LEN], const void *in,
			size_t len);

/* Fill buf with cryptographically secure random bytes (getrandom). Returns 0 or -errno. */
int iw_cred_random(void *buf, size_t len);

#endif
