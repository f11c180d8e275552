/* Open connections per source address, for the per-address connection limit. IPv4 addresses
 * count one by one, IPv6 ones by their /64 (what one host is routinely given). No lws types. */
#ifndef IW_SIGNALING_ADDR_COUNT_H
#define IW_SIGNALING_ADDR_COUNT_H

#include "common/addr.h"

struct iw_addr_count;

/* NULL on out-of-memory. */
struct iw_addr_count *iw_addr_count_create(void);
void iw_addr_count_destroy(struct iw_addr_count *t); /* accepts NULL */
/* The key a is counted under: the IP (IPv4-mapped IPv6 as IPv4), an IPv6 /64, port 0. */
void iw_addr_count_key(const struct iw_addr *a, struct iw_addr *key);
/* Connections counted for key. */
unsigned iw_addr_count_get(const struct iw_addr_count *t, const struct iw_addr *key);
/* One more for key: 0, or -ENOMEM. */
int iw_addr_count_add(struct iw_addr_count *t, const struct iw_addr *key);
/* One less for key (a key not counted is ignored); the entry goes at zero. */
void iw_addr_count_del(struct iw_addr_count *t, const struct iw_addr *key);
/* Addresses with at least one connection. */
unsigned iw_addr_count_n(const struct iw_addr_count *t);

#endif
