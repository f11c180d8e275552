/* The UDP packet path of a relay worker (turn/worker.h): its listeners, batches and loop
 * (epoll -> recvmmsg -> classify -> forward -> sendmmsg). One worker owns everything the
 * packet path touches, so several run side by side without locks there; only the port pool,
 * the reservations and the quota table are shared, under mutexes taken on the control path. */
#ifndef IW_TURN_RELAY_H
#define IW_TURN_RELAY_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/stun.h"
#include "turn/alloc.h"
#include "turn/conf.h"
#include "turn/worker.h"

enum {
	IW_RELAY_BATCH = 32,
	/* Datagram slots a wake-up may fill before its sends leave: four batches. Datagrams
	 * from many relay sockets then go to clients in one sendmmsg on the listener. */
	IW_RELAY_POOL = 4 * IW_RELAY_BATCH,
	/* Room for a Data indication header with an IPv6 XOR-PEER-ADDRESS in front of the
	 * payload; ChannelData needs only the last 4 bytes of it. */
	IW_HEADROOM = IW_STUN_DATA_IND_HEADROOM,
};

/* One datagram slot: headroom, payload, tailroom for DATA padding, source address. */
struct iw_dgram {
	uint8_t head[IW_HEADROOM];
	uint8_t buf[IW_DGRAM_MAX];
	uint8_t tail[IW_STUN_TAILROOM];
	struct sockaddr_storage src;
};

/* Build UDP worker idx of sh->conf->threads: tables, listeners bound to listening-ip x
 * listening-port (SO_REUSEPORT when there are several workers), relay addresses resolved from
 * them; relay ports, reservations and quotas are sh's. NULL on failure (logged). */
struct iw_worker *iw_relay_create(struct iw_worker_shared *sh, unsigned idx);
/* The same worker without listeners, for turn/stream.c: conf is its snapshot. Its relay
 * addresses come from iw_relay_addrs_pick once its own listeners are open. */
struct iw_worker *iw_relay_create_bare(struct iw_worker_shared *sh, const struct iw_conf *conf, unsigned idx);
/* Pick the relay address of each family from relay-ip, external-ip, or else the listening
 * addresses lis[0..n) that opened (a wildcard one: an interface address). */
void iw_relay_addrs_pick(struct iw_worker *w, const struct iw_addr *lis, unsigned n);
/* Close every socket and free everything. Accepts NULL. */
void iw_relay_destroy(struct iw_worker *w);
/* End every allocation of w with reason why (each gets its accounting record). */
void iw_relay_end_all(struct iw_worker *w, enum iw_alloc_end why);
/* Run the loop until *stop. Returns 0, or -errno on a fatal epoll error. */
int iw_relay_run(struct iw_worker *w);
/* Run one wake-up: wait at most timeout_ms, handle what is ready, fire timers. */
int iw_relay_poll(struct iw_worker *w, int timeout_ms);
/* Log the counters at debug level. */
void iw_relay_stats_dump(const struct iw_worker *w);

/* For the TCP/TLS worker (turn/stream.c): a free datagram slot, taken until
 * iw_relay_tx_flush; one whole frame from a stream connection, copied into such a slot's buf
 * with the client's address in src, takes the datagram path, its sends queued as a UDP
 * wake-up's are (a STUN request sends what is queued first); iw_relay_tx_flush sends the
 * queue and gives the slots back; and a relay socket of a stream allocation is drained. */
struct iw_dgram *iw_relay_dgram_take(struct iw_worker *w);
void iw_relay_client_frame(struct iw_worker *w, struct iw_listener *l, struct iw_dgram *d, size_t len);
void iw_relay_tx_flush(struct iw_worker *w);
void iw_relay_peer_ready(struct iw_worker *w, struct iw_rsock *rs);

#endif
