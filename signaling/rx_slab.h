/* Small receive buffers that lws may believe are larger: equal slots in one reserved address
 * range, each followed by the next and the last by a tail as long as the size lws asks for, so
 * a write within what lws believes it owns stays inside the range whatever lws's own count
 * does. A slot's pages are touched only when used. No lws types; one thread. */
#ifndef IW_SIGNALING_RX_SLAB_H
#define IW_SIGNALING_RX_SLAB_H

#include <stdbool.h>
#include <stddef.h>

/* Reserve slots slots of stride bytes and a tail of tail bytes. Once per process: a second
 * call keeps the first range. 0, or -errno (then take always returns NULL). */
int iw_rx_slab_init(size_t slots, size_t stride, size_t tail);
/* A free slot, or NULL when all are in use or nothing is reserved. */
void *iw_rx_slab_take(void);
/* Whether p is a slot of the range (what take returned). */
bool iw_rx_slab_owns(const void *p);
/* Give back a slot take returned. */
void iw_rx_slab_give(void *p);
/* Slots in use. */
size_t iw_rx_slab_used(void);

#endif
