/* Relay port pool: a bitmap over the configured range and a round-robin cursor, so a port
 * just released is not handed out again at once. */
#include "turn/ports.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int iw_ports_init(struct iw_ports *p, uint16_t min, uint16_t max, uint32_t seed)
{
	memset(p, 0, sizeof *p);
	if (min == 0 || min > max)
		return -EINVAL;
	p->min = min;
	p->max = max;
	uint32_t n = iw_ports_size(p);
	p->used = calloc((n + 63) / 64, sizeof *p->used);
	if (!p->used)
		return -ENOMEM;
	p->cursor = seed % n;
	return 0;
}

void iw_ports_fini(struct iw_ports *p)
{
	free(p->used);
	memset(p, 0, sizeof *p);
}

static bool bit(const struct iw_ports *p, uint32_t off)
{
	return p->used[off / 64] >> (off % 64) & 1;
}

static void set_bit(struct iw_ports *p, uint32_t off, bool on)
{
	if (on)
		p->used[off / 64] |= 1ull << (off % 64);
	else
		p->used[off / 64] &= ~(1ull << (off % 64));
}

int iw_ports_take(struct iw_ports *p, bool even)
{
	uint32_t n = iw_ports_size(p);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t off = (p->cursor + i) % n;
		if (bit(p, off) || (even && (p->min + off) % 2))
			continue;
		set_bit(p, off, true);
		p->n_used++;
		p->cursor = (off + 1) % n;
		return p->min + (int)off;
	}
	return -ENOBUFS;
}

int iw_ports_take_exact(struct iw_ports *p, uint16_t port)
{
	if (port < p->min || port > p->max)
		return -ERANGE;
	uint32_t off = port - p->min;
	if (bit(p, off))
		return -EBUSY;
	set_bit(p, off, true);
	p->n_used++;
	return 0;
}

void iw_ports_put(struct iw_ports *p, uint16_t port)
{
	if (port < p->min || port > p->max || !bit(p, (uint32_t)(port - p->min)))
		return;
	set_bit(p, (uint32_t)(port - p->min), false);
	p->n_used--;
}

bool iw_ports_is_used(const struct iw_ports *p, uint16_t port)
{
	return port >= p->min && port <= p->max && bit(p, (uint32_t)(port - p->min));
}
