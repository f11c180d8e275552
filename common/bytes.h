/* Byte-wise big-endian helpers and bounded reader/writer. No packed-struct casts. */
#ifndef IW_COMMON_BYTES_H
#define IW_COMMON_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint16_t iw_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t iw_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void iw_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void iw_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The value of one hexadecimal digit, or -1 when c is not one. */
static inline int iw_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 64-bit FNV-1a with a per-process seed mixed in (so clients cannot aim at one bucket of an
 * open-addressing table), and the length folded in last. */
static inline uint64_t iw_hash_keyed(uint64_t seed, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t h = 0xcbf29ce484222325ull ^ seed;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h ^ len;
}

/* Round up to the STUN 4-byte boundary. */
static inline size_t iw_pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* A reader over [p, end). Never reads past end. */
struct iw_rd {
	const uint8_t *p, *end;
};

static inline size_t iw_rd_left(const struct iw_rd *r)
{
	return (size_t)(r->end - r->p);
}

/* Split the next n bytes off as a sub-reader; false if fewer remain. */
static inline bool iw_rd_take(struct iw_rd *r, size_t n, struct iw_rd *sub)
{
	if (iw_rd_left(r) < n)
		return false;
	*sub = (struct iw_rd){ r->p, r->p + n };
	r->p += n;
	return true;
}

static inline bool iw_rd_u8(struct iw_rd *r, uint8_t *v)
{
	if (iw_rd_left(r) < 1)
		return false;
	*v = *r->p++;
	return true;
}

static inline bool iw_rd_u16(struct iw_rd *r, uint16_t *v)
{
	if (iw_rd_left(r) < 2)
		return false;
	*v = iw_be16(r->p);
	r->p += 2;
	return true;
}

static inline bool iw_rd_u32(struct iw_rd *r, uint32_t *v)
{
	if (iw_rd_left(r) < 4)
		return false;
	*v = iw_be32(r->p);
	r->p += 4;
	return true;
}

static inline bool iw_rd_skip(struct iw_rd *r, size_t n)
{
	if (iw_rd_left(r) < n)
		return false;
	r->p += n;
	return true;
}

/*
 * A writer over [p, end). A write that does not fit sets overflow and every later write does
 * nothing, so an encoder checks once at the end.
 */
struct iw_wr {
	uint8_t *start, *p, *end;
	bool overflow;
};

static inline void iw_wr_init(struct iw_wr *w, uint8_t *buf, size_t cap)
{
	w->start = w->p = buf;
	w->end = buf + cap;
	w->overflow = false;
}

static inline size_t iw_wr_len(const struct iw_wr *w)
{
	return (size_t)(w->p - w->start);
}

/* Reserve n bytes and return where they start, or NULL (and overflow) if they do not fit. */
static inline uint8_t *iw_wr_reserve(struct iw_wr *w, size_t n)
{
	if (w->overflow || (size_t)(w->end - w->p) < n) {
		w->overflow = true;
		return NULL;
	}
	uint8_t *at = w->p;
	w->p += n;
	return at;
}

static inline void iw_wr_u8(struct iw_wr *w, uint8_t v)
{
	uint8_t *at = iw_wr_reserve(w, 1);
	if (at)
		*at = v;
}

static inline void iw_wr_u16(struct iw_wr *w, uint16_t v)
{
	uint8_t *at = iw_wr_reserve(w, 2);
	if (at)
		iw_put_be16(at, v);
}

static inline void iw_wr_u32(struct iw_wr *w, uint32_t v)
{
	uint8_t *at = iw_wr_reserve(w, 4);
	if (at)
		iw_put_be32(at, v);
}

static inline void iw_wr_bytes(struct iw_wr *w, const void *src, size_t n)
{
	uint8_t *at = iw_wr_reserve(w, n);
	if (at && n)
		memcpy(at, src, n);
}

static inline void iw_wr_zeros(struct iw_wr *w, size_t n)
{
	uint8_t *at = iw_wr_reserve(w, n);
	if (at && n)
		memset(at, 0, n);
}

#endif
