/* Relay port pool: which ports of [min-port, max-port] are held, per family, and the ports
 * reserved for EVEN-PORT R=1 allocations. The bitmap knows nothing about sockets: the caller
 * binds, and skips a port another process already has. The process-wide pool adds a mutex and
 * owns each reserved socket until a worker redeems it. */
#ifndef IW_TURN_PORTS_H
#define IW_TURN_PORTS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

enum {
	IW_MAX_RESV = 64,       /* reservations held at once, process-wide; full -> 508 */
	IW_RESV_MS = 30000,     /* RFC 8656 §7.2: a reserved port is kept about 30 s */
	IW_RESV_USER_MAX = 256, /* the quota key of the user a reservation counts for */
};

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

/* A port held for an EVEN-PORT R=1 allocation, redeemed with RESERVATION-TOKEN. */
struct iw_resv {
	uint64_t token; /* 0 when the slot is free */
	int fd;         /* bound, in no epoll set until redeemed */
	uint8_t fam;    /* 0 IPv4, 1 IPv6 */
	uint16_t port;
	uint32_t worker;     /* the worker that reserved it (a counter tells handovers) */
	uint64_t expires_ms; /* monotonic, the same clock in every worker */
	/* Who the reservation is counted for in the quota table (turn/ops.h), so that whoever
	 * ends it (redeem, cancel, expiry) can uncount it. */
	uint16_t user_len;
	uint8_t user[IW_RESV_USER_MAX];
};

/* Called for each reservation the pool ends (its socket closed, its port freed). */
typedef void (*iw_ports_resv_fn)(void *ctx, const struct iw_resv *r);

struct iw_ports_pool_stats {
	uint64_t resv_made, resv_used, resv_expired, resv_full, resv_unknown, resv_cancelled;
	uint64_t exhausted; /* a take found no free port */
};

/*
 * The relay ports of the whole process: one bitmap per family and the reservation table,
 * shared by every UDP worker and the TCP/TLS worker. A reservation made on one worker can be
 * redeemed on another (SO_REUSEPORT hands each source port to any worker), and a port goes
 * back here whoever frees it. The mutex is taken on the control path only (allocate, free,
 * reserve, redeem, expire), never per relayed packet.
 */
struct iw_ports_pool {
	pthread_mutex_t mu;
	bool ready;
	struct iw_ports fam[2]; /* [0] IPv4, [1] IPv6 */
	struct iw_resv resv[IW_MAX_RESV];
	uint32_t n_resv;
	struct iw_ports_pool_stats st;
};

/* Both families over [min, max]. 0, -EINVAL or -ENOMEM. */
int iw_ports_pool_init(struct iw_ports_pool *pp, uint16_t min, uint16_t max, uint32_t seed);
/* Close every reserved socket and free the bitmaps. Accepts a zeroed pool. */
void iw_ports_pool_fini(struct iw_ports_pool *pp);
/* Take a port of family f (0/1), even when asked. The port or -ENOBUFS. */
int iw_ports_pool_take(struct iw_ports_pool *pp, unsigned f, bool even);
/* Take an even port p and p + 1 together (EVEN-PORT R=1). p, or -ENOBUFS. */
int iw_ports_pool_take_pair(struct iw_ports_pool *pp, unsigned f);
/* Give a port back (ignored when not held). */
void iw_ports_pool_put(struct iw_ports_pool *pp, unsigned f, uint16_t port);
/* Ports of family f held now (allocations and reservations): a monitoring read. */
uint32_t iw_ports_pool_in_use(struct iw_ports_pool *pp, unsigned f);

/* True while the reservation table has a free slot (a hint: another worker may fill it). */
bool iw_ports_resv_has_room(struct iw_ports_pool *pp);
/* Hand r (token != 0, fd bound to r->port, port held) to the pool, which closes the socket
 * and frees the port unless it is redeemed before r->expires_ms. 0, or -ENOBUFS when the
 * table is full (r stays the caller's). */
int iw_ports_resv_add(struct iw_ports_pool *pp, const struct iw_resv *r);
/* Take the reservation for token out of the table: *out gets its socket, which the caller
 * now owns with its port. 0, or -ENOENT for an unknown or expired token. */
int iw_ports_resv_redeem(struct iw_ports_pool *pp, uint64_t token, uint64_t now_ms, struct iw_resv *out);
/* The family (0/1) of the live reservation for token, or -ENOENT; it stays in the table. */
int iw_ports_resv_peek(struct iw_ports_pool *pp, uint64_t token, uint64_t now_ms);
/* A copy of the live reservation for token in *out (its fd stays the pool's). Its family
 * (0/1), or -ENOENT. */
int iw_ports_resv_get(struct iw_ports_pool *pp, uint64_t token, uint64_t now_ms, struct iw_resv *out);
/* Close and free reservations past their time; fn (may be NULL) sees each one, under the
 * pool's mutex. Returns how many. */
unsigned iw_ports_resv_expire(struct iw_ports_pool *pp, uint64_t now_ms);
unsigned iw_ports_resv_expire_each(struct iw_ports_pool *pp, uint64_t now_ms, iw_ports_resv_fn fn, void *ctx);
/* End the reservation for token now, expired or not (its allocation is gone): socket closed,
 * port freed, *out a copy. 0, or -ENOENT when redeemed or ended already. */
int iw_ports_resv_cancel(struct iw_ports_pool *pp, uint64_t token, struct iw_resv *out);
/* Reservations held now: a monitoring read. */
uint32_t iw_ports_resv_count(struct iw_ports_pool *pp);

#endif
