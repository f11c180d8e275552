/* Receive buffer slots (signaling/rx_slab.h). The free list is an index stack of its own,
 * outside the range, so nothing written into a slot can redirect a later take. */
#include "signaling/rx_slab.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>

static struct {
	unsigned char *base;
	size_t slots, stride, len; /* len: the mapping, slots * stride + tail */
	size_t next;               /* slots never used start here */
	uint32_t *free;            /* given-back slot indexes, a stack */
	size_t n_free, used;
} rs;

int iw_rx_slab_init(size_t slots, size_t stride, size_t tail)
{
	void *p, *f;

	if (rs.base)
		return 0;
	if (!slots || slots > UINT32_MAX || !stride || slots > (SIZE_MAX - tail) / stride)
		return -EINVAL;
	/* Reserved, not committed: only slots in use become resident. */
	p = mmap(NULL, slots * stride + tail, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	f = mmap(NULL, slots * sizeof *rs.free, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (f == MAP_FAILED) {
		int rc = -errno;
		munmap(p, slots * stride + tail);
		return rc;
	}
	rs.base = p;
	rs.free = f;
	rs.slots = slots;
	rs.stride = stride;
	rs.len = slots * stride + tail;
	return 0;
}

void *iw_rx_slab_take(void)
{
	size_t i;

	if (rs.n_free)
		i = rs.free[--rs.n_free];
	else if (rs.base && rs.next < rs.slots)
		i = rs.next++;
	else
		return NULL;
	rs.used++;
	return rs.base + i * rs.stride;
}

bool iw_rx_slab_owns(const void *p)
{
	const unsigned char *c = p;
	return rs.base && c >= rs.base && c < rs.base + rs.slots * rs.stride;
}

void iw_rx_slab_give(void *p)
{
	rs.free[rs.n_free++] = (uint32_t)(((unsigned char *)p - rs.base) / rs.stride);
	rs.used--;
}

size_t iw_rx_slab_used(void)
{
	return rs.used;
}
