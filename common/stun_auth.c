/* STUN MESSAGE-INTEGRITY(-SHA256), FINGERPRINT and long-term keys. Hashing is mbedTLS;
 * comparisons of secrets go through the constant-time iw_cred_equal. */
#include "common/stun_auth.h"

#include <errno.h>
#include <string.h>

#include <mbedtls/md.h>

#include "common/cred.h"

/* One-shot digest over up to five pieces; hmac when key is not NULL. Returns false when
 * mbedTLS cannot set up (out of memory). */
struct piece {
	const void *p;
	size_t len;
};

static bool md_pieces(mbedtls_md_type_t type, const uint8_t *key, size_t key_len, const struct piece *pc,
		      size_t n, uint8_t *out)
{
	const mbedtls_md_info_t *info = mbedtls_md_info_from_type(type);
	mbedtls_md_context_t ctx;
	bool ok = false;

	if (!info)
		return false;
	mbedtls_md_init(&ctx);
	if (mbedtls_md_setup(&ctx, info, key != NULL) != 0)
		goto out;
	if ((key ? mbedtls_md_hmac_starts(&ctx, key, key_len) : mbedtls_md_starts(&ctx)) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		int rc = key ? mbedtls_md_hmac_update(&ctx, pc[i].p, pc[i].len)
			     : mbedtls_md_update(&ctx, pc[i].p, pc[i].len);
		if (rc != 0)
			goto out;
	}
	if ((key ? mbedtls_md_hmac_finish(&ctx, out) : mbedtls_md_finish(&ctx, out)) != 0)
		goto out;
	ok = true;
out:
	mbedtls_md_free(&ctx);
	return ok;
}

int iw_stun_lt_key(uint8_t key[IW_STUN_KEY_MAX], uint16_t alg, const void *user, size_t user_len,
		   const void *realm, size_t realm_len, const void *pass, size_t pass_len)
{
	/* RFC 8489 §9.2.2: key = H(username ":" OpaqueString(realm) ":" OpaqueString(password)) */
	const struct piece pc[] = {
		{ user, user_len }, { ":", 1 }, { realm, realm_len }, { ":", 1 }, { pass, pass_len },
	};
	if (alg == STUN_PASSWORD_ALG_MD5)
		return md_pieces(MBEDTLS_MD_MD5, NULL, 0, pc, 5, key) ? 16 : -ENOMEM;
	if (alg == STUN_PASSWORD_ALG_SHA256)
		return md_pieces(MBEDTLS_MD_SHA256, NULL, 0, pc, 5, key) ? 32 : -ENOMEM;
	return -EINVAL;
}

void iw_stun_userhash(uint8_t out[STUN_USERHASH_LEN], const void *user, size_t user_len, const void *realm,
		      size_t realm_len)
{
	/* RFC 8489 §14.4: userhash = SHA-256(OpaqueString(username) ":" OpaqueString(realm)) */
	const struct piece pc[] = { { user, user_len }, { ":", 1 }, { realm, realm_len } };
	if (!md_pieces(MBEDTLS_MD_SHA256, NULL, 0, pc, 3, out))
		memset(out, 0, STUN_USERHASH_LEN);
}

/*
 * HMAC over the message up to the attribute at off, with the header length field set as if
 * the message ended right after that attribute (RFC 8489 §14.5: "the length MUST then be
 * set to point to the length of the message up to, and including, the MESSAGE-INTEGRITY
 * attribute itself, but excluding any attributes after it"). The input stays untouched: the
 * adjusted header is a stack copy.
 */
static bool mac_upto(mbedtls_md_type_t type, const uint8_t *buf, size_t off, size_t attr_len,
		     const uint8_t *key, size_t key_len, uint8_t *out)
{
	uint8_t hdr[STUN_HEADER_LEN];
	memcpy(hdr, buf, STUN_HEADER_LEN);
	iw_put_be16(hdr + 2, (uint16_t)(off - STUN_HEADER_LEN + 4 + attr_len));
	const struct piece pc[] = { { hdr, STUN_HEADER_LEN },
				    { buf + STUN_HEADER_LEN, off - STUN_HEADER_LEN } };
	return md_pieces(type, key, key_len, pc, 2, out);
}

bool iw_stun_check_integrity(const struct iw_stun_msg *m, const uint8_t *key, size_t key_len)
{
	uint8_t mac[20];
	if (!(m->present & IW_STUN_HAS_MI) || m->mi_off < STUN_HEADER_LEN ||
	    (size_t)m->mi_off + 4 + STUN_MI_LEN > m->len)
		return false;
	if (!mac_upto(MBEDTLS_MD_SHA1, m->buf, m->mi_off, STUN_MI_LEN, key, key_len, mac))
		return false;
	return iw_cred_equal(mac, m->buf + m->mi_off + 4, STUN_MI_LEN);
}

bool iw_stun_check_integrity_sha256(const struct iw_stun_msg *m, const uint8_t *key, size_t key_len)
{
	uint8_t mac[32];
	size_t n = m->mi256_len;
	/* RFC 8489 §14.6: 16 to 32 bytes, a multiple of 4; the sender truncated the HMAC. */
	if (!(m->present & IW_STUN_HAS_MI_SHA256) || n < 16 || n > 32 || n % 4 != 0 ||
	    m->mi256_off < STUN_HEADER_LEN || (size_t)m->mi256_off + 4 + n > m->len)
		return false;
	if (!mac_upto(MBEDTLS_MD_SHA256, m->buf, m->mi256_off, n, key, key_len, mac))
		return false;
	return iw_cred_equal(mac, m->buf + m->mi256_off + 4, n);
}

/* CRC-32 (reflected 0xEDB88320) a nibble at a time: a 16-entry table is enough off the
 * packet path. */
static const uint32_t crc_nibble[16] = {
	0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC, 0x76DC4190, 0x6B6B51F4, 0x4DB26158, 0x5005713C,
	0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C, 0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C,
};

static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		crc = crc_nibble[crc & 0x0F] ^ (crc >> 4);
		crc = crc_nibble[crc & 0x0F] ^ (crc >> 4);
	}
	return crc;
}

uint32_t iw_crc32(const uint8_t *p, size_t len)
{
	return ~crc_update(0xFFFFFFFFu, p, len);
}

bool iw_stun_check_fingerprint(const struct iw_stun_msg *m)
{
	if (!(m->present & IW_STUN_HAS_FINGERPRINT) || m->fp_off < STUN_HEADER_LEN ||
	    (size_t)m->fp_off + 8 > m->len)
		return false;
	/* RFC 8489 §14.7: CRC-32 of the message up to (but excluding) FINGERPRINT, XORed with
	 * 0x5354554e, with the length covering the FINGERPRINT attribute. */
	uint8_t hdr[STUN_HEADER_LEN];
	memcpy(hdr, m->buf, STUN_HEADER_LEN);
	iw_put_be16(hdr + 2, (uint16_t)(m->fp_off - STUN_HEADER_LEN + 8));
	uint32_t crc = crc_update(0xFFFFFFFFu, hdr, STUN_HEADER_LEN);
	crc = ~crc_update(crc, m->buf + STUN_HEADER_LEN, m->fp_off - STUN_HEADER_LEN);
	return (crc ^ STUN_FINGERPRINT_XOR) == iw_be32(m->buf + m->fp_off + 4);
}

/* Reserve a whole attribute at the end of the message, and point the header length at its
 * end: integrity and fingerprint are computed over that header. */
static uint8_t *wr_tail_attr(struct iw_stun_wr *s, uint16_t type, size_t len)
{
	if (iw_wr_len(&s->w) + 4 + len > STUN_HEADER_LEN + 0xFFFF)
		s->w.overflow = true;
	uint8_t *at = iw_wr_reserve(&s->w, 4 + len);
	if (!at)
		return NULL;
	iw_put_be16(at, type);
	iw_put_be16(at + 2, (uint16_t)len);
	iw_put_be16(s->w.start + 2, (uint16_t)(iw_wr_len(&s->w) - STUN_HEADER_LEN));
	return at;
}

static void wr_mac(struct iw_stun_wr *s, uint16_t type, mbedtls_md_type_t md, size_t len, const uint8_t *key,
		   size_t key_len)
{
	uint8_t *at = wr_tail_attr(s, type, len);
	if (!at)
		return;
	const struct piece pc[] = { { s->w.start, (size_t)(at - s->w.start) } };
	uint8_t mac[32];
	if (!md_pieces(md, key, key_len, pc, 1, mac)) {
		s->w.overflow = true; /* the message cannot be sent without it */
		return;
	}
	memcpy(at + 4, mac, len);
}

void iw_stun_wr_integrity(struct iw_stun_wr *s, const uint8_t *key, size_t key_len)
{
	wr_mac(s, STUN_ATTR_MESSAGE_INTEGRITY, MBEDTLS_MD_SHA1, STUN_MI_LEN, key, key_len);
}

void iw_stun_wr_integrity_sha256(struct iw_stun_wr *s, const uint8_t *key, size_t key_len)
{
	wr_mac(s, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, MBEDTLS_MD_SHA256, STUN_MI_SHA256_MAX, key, key_len);
}

void iw_stun_wr_fingerprint(struct iw_stun_wr *s)
{
	uint8_t *at = wr_tail_attr(s, STUN_ATTR_FINGERPRINT, 4);
	if (at)
		iw_put_be32(at + 4, iw_crc32(s->w.start, (size_t)(at - s->w.start)) ^ STUN_FINGERPRINT_XOR);
}
