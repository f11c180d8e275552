/* Fuzz harness for the TCP/TLS stream framer (iw_stun_frame_next, RFC 8656 §12.5). The input
 * is a byte stream from a client. Invariants: every frame lies inside the stream, a STUN
 * frame is 20 + a multiple of 4 and classifies as STUN when its cookie is right, a ChannelData
 * frame is padded to 4 and classifies as ChannelData; and reading the stream the way the
 * stream worker does (a bounded input buffer filled in chunks, whole frames cut off its
 * front) yields the same frames and the same end, wherever the stream is split: at every
 * offset into two chunks, and one byte at a time. */
#include <errno.h>
#include <string.h>

#include "common/stun.h"
#include "tests/fuzz/fuzz.h"

/* As turn/stream.h: the longest frame is a datagram's worth, the input buffer holds two. */
enum { FRAME_MAX = 1500, IN_CAP = 2 * FRAME_MAX, INPUT_MAX = 16384, SPLIT_ALL = 1024 };

struct frame {
	size_t off, len, total;
};

struct result {
	struct frame f[INPUT_MAX / TURN_CHANDATA_HDR + 1];
	size_t n;
	int end; /* 0: the stream ends inside a frame (or at one's start), or the error */
	size_t used;
};

static void check_frame(const uint8_t *p, size_t size, const struct frame *f)
{
	const uint8_t *s = p + f->off;
	FUZZ_CHECK(f->off + f->total <= size && f->len <= f->total && f->total <= FRAME_MAX);
	if ((s[0] & 0xC0) == 0) {
		FUZZ_CHECK(f->total == f->len && f->len >= STUN_HEADER_LEN &&
			   (f->len - STUN_HEADER_LEN) % 4 == 0);
		if (iw_be32(s + 4) == STUN_MAGIC_COOKIE)
			FUZZ_CHECK(iw_stun_classify(s, f->len) == IW_PKT_STUN);
	} else {
		FUZZ_CHECK((s[0] & 0xC0) == 0x40);
		FUZZ_CHECK(f->total % 4 == 0 && f->total - f->len <= 3);
		FUZZ_CHECK(f->len == TURN_CHANDATA_HDR + (size_t)iw_be16(s + 2));
		if (s[0] <= 0x4F)
			FUZZ_CHECK(iw_stun_classify(s, f->len) == IW_PKT_CHANDATA);
	}
}

/* Frame p[0..n) that is all in memory at once: the reference. */
static void frame_whole(const uint8_t *p, size_t n, struct result *r)
{
	size_t off = 0;
	r->n = 0;
	for (;;) {
		size_t len = 99, total = 99;
		int rc = iw_stun_frame_next(p + off, n - off, FRAME_MAX, &len, &total);
		FUZZ_CHECK(rc == 1 || rc == 0 || rc == -EBADMSG || rc == -EMSGSIZE);
		if (rc == 0) {
			/* More is needed: the header is not all there, or the frame is not. */
			FUZZ_CHECK(n - off < TURN_CHANDATA_HDR ? total == 0 : total > n - off);
			FUZZ_CHECK(total <= FRAME_MAX);
		}
		if (rc == -EMSGSIZE)
			FUZZ_CHECK(total > FRAME_MAX);
		if (rc != 1) {
			r->end = rc;
			break;
		}
		FUZZ_CHECK(total > 0 && total <= n - off);
		r->f[r->n++] = (struct frame){ off, len, total };
		off += total;
	}
	r->used = off;
}

/* Frame p[0..n) as the stream worker reads it: reads of at most the free space of a bounded
 * buffer that never cross the next cut (what one recv returns), whole frames cut off the front
 * after each read and the rest moved down. cut: the chunk length, 0 for the whole stream. */
static void frame_stream(const uint8_t *p, size_t n, size_t first, size_t cut, struct result *r)
{
	static uint8_t in[IN_CAP];
	size_t in_len = 0, pos = 0, base = 0; /* base: the stream offset of in[0] */
	r->n = 0;
	r->end = 0;
	while (pos < n) {
		size_t edge = pos < first ? first : (cut ? pos + cut : n);
		if (edge > n)
			edge = n;
		size_t take = edge - pos, room = sizeof in - in_len;
		/* A partial frame is shorter than FRAME_MAX, so there is always room. */
		FUZZ_CHECK(room >= IN_CAP - FRAME_MAX);
		if (take > room)
			take = room;
		memcpy(in + in_len, p + pos, take);
		in_len += take;
		pos += take;
		size_t off = 0;
		int rc;
		for (;;) {
			size_t len, total;
			rc = iw_stun_frame_next(in + off, in_len - off, FRAME_MAX, &len, &total);
			if (rc != 1)
				break;
			r->f[r->n++] = (struct frame){ base + off, len, total };
			off += total;
		}
		if (rc < 0) {
			r->end = rc;
			r->used = base + off;
			return;
		}
		memmove(in, in + off, in_len - off);
		in_len -= off;
		base += off;
	}
	r->used = base;
}

static void same(const struct result *a, const struct result *b)
{
	FUZZ_CHECK(a->n == b->n && a->end == b->end && a->used == b->used);
	for (size_t i = 0; i < a->n; i++)
		FUZZ_CHECK(a->f[i].off == b->f[i].off && a->f[i].len == b->f[i].len &&
			   a->f[i].total == b->f[i].total);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct result whole, part;
	if (size > INPUT_MAX)
		return 0;
	frame_whole(data, size, &whole);
	for (size_t i = 0; i < whole.n; i++)
		check_frame(data, size, &whole.f[i]);

	/* Read in one go (as much as the buffer takes per read), one byte at a time, and split
	 * in two at every offset (every few offsets for long inputs, to stay fast). */
	frame_stream(data, size, 0, 0, &part);
	same(&whole, &part);
	frame_stream(data, size, 0, 1, &part);
	same(&whole, &part);
	size_t step = size <= SPLIT_ALL ? 1 : size / SPLIT_ALL + 1;
	for (size_t k = 1; k < size; k += step) {
		frame_stream(data, size, k, 0, &part);
		same(&whole, &part);
	}
	return 0;
}
