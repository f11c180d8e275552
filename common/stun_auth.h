/* STUN message integrity and fingerprint, long-term credential keys (RFC 8489 §9.2, §14.5,
 * §14.6, §14.7). The only STUN code that touches key material; mbedTLS does the hashing. */
#ifndef IW_COMMON_STUN_AUTH_H
#define IW_COMMON_STUN_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/stun.h"

enum {
	IW_STUN_KEY_MAX = 32, /* SHA-256 long-term key; MD5 keys are 16 */
};

/*
 * RFC 8489 §9.2.2 long-term key: MD5(username ":" realm ":" password) (16 bytes) for
 * STUN_PASSWORD_ALG_MD5, SHA-256 of the same string (32 bytes) for STUN_PASSWORD_ALG_SHA256.
 * Inputs are taken as given (already SASLprep'd / OpaqueString'd by the caller).
 * Returns the key length, or -EINVAL for an unknown algorithm.
 */
int iw_stun_lt_key(uint8_t key[IW_STUN_KEY_MAX], uint16_t alg, const void *user, size_t user_len,
		   const void *realm, size_t realm_len, const void *pass, size_t pass_len);

/* RFC 8489 §14.4 USERHASH: SHA-256(username ":" realm), 32 bytes. */
void iw_stun_userhash(uint8_t out[STUN_USERHASH_LEN], const void *user, size_t user_len, const void *realm,
		      size_t realm_len);

/*
 * Check MESSAGE-INTEGRITY (HMAC-SHA1) / MESSAGE-INTEGRITY-SHA256 of a decoded message over
 * its original bytes, with the header length adjusted as the RFC requires. False when the
 * attribute is absent or does not match. Constant-time comparison.
 */
bool iw_stun_check_integrity(const struct iw_stun_msg *m, const uint8_t *key, size_t key_len);
bool iw_stun_check_integrity_sha256(const struct iw_stun_msg *m, const uint8_t *key, size_t key_len);
/* Check FINGERPRINT (CRC-32 XOR 0x5354554e). False when absent or wrong. */
bool iw_stun_check_fingerprint(const struct iw_stun_msg *m);

/* Append MESSAGE-INTEGRITY / MESSAGE-INTEGRITY-SHA256 (32-byte, full length) / FINGERPRINT
 * to a message being written. Must come last (FINGERPRINT after the integrity ones). */
void iw_stun_wr_integrity(struct iw_stun_wr *s, const uint8_t *key, size_t key_len);
void iw_stun_wr_integrity_sha256(struct iw_stun_wr *s, const uint8_t *key, size_t key_len);
void iw_stun_wr_fingerprint(struct iw_stun_wr *s);

/* CRC-32 (ISO-HDLC, as zlib) over p[0..len). Exposed for tests. */
uint32_t iw_crc32(const uint8_t *p, size_t len);

#endif
