/* Relay port pool: which ports of [min-port, max-port] this worker holds, per family. Knows
 * nothing about sockets: the caller binds, and skips a port another process already has. */
#ifndef IW_TURN_PORTS_H
#define IW_TURN_PORTS_H

#include <stdbool.h>
#include <stdint.h>

struct iw_ports {
	uint16_t min, max;
	uint32_t cursor; /* offset of the next port to try */
	uint32_t n_used;
	uint64_t *used; /* one bit per port in the range */
};

/* Set up the pool for [min, max] (min <= max). The first port tried is derived from seed.
 * Returns 0, -EINVAL or -ENOMEM. */
int iw_ports_init(struct iw_ports *p, uint16_t min, uint16_t max, uint32_t seed);
void iw_ports_fini(struct iw_ports *p);
/* Take the next free port (an even one when even is set), round-robin from the cursor.
 * Returns the port, or -ENOBUFS when none is free. */
int iw_ports_take(struct iw_ports *p, bool even);
/* Take this exact port. 0, -EBUSY if held, -ERANGE if outside the range. */
int iw_ports_take_exact(struct iw_ports *p, uint16_t port);
/* Give a port back (ignored when not held or outside the range). */
void iw_ports_put(struct iw_ports *p, uint16_t port);
bool iw_ports_is_used(const struct iw_ports *p, uint16_t port);
/* Number of ports in the range. */
static inline uint32_t iw_ports_size(const struct iw_ports *p)
{
	return (uint32_t)p->max - p->min + 1;
}

#endif
