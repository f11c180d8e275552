/* RFC 6062 TCP relay, on the stream worker (turn/stream.c): the peer connections of TCP
 * allocations (made by Connect, or accepted on an allocation's listening socket), the wait for
 * their ConnectionBind, and then the byte pipe between a client's data connection and its peer
 * connection, with a bounded buffer each way. Owns no allocation: the control path
 * (turn/control.c) reaches it through struct iw_tcp_ops, and an allocation's end closes its
 * connections. The UDP packet path (turn/relay.c) never sees any of it. */
#ifndef IW_TURN_TCPRELAY_H
#define IW_TURN_TCPRELAY_H

#include <stddef.h>
#include <stdint.h>

#include "turn/tls.h"
#include "turn/worker.h"

enum {
	IW_EV_TCP_SIDE = 18, /* an epoll data.ptr at one side of a peer connection's pipe */
	/* Bytes buffered each way of a bound connection: past this the side that sends more is
	 * not read until the other side drains (TCP's own backpressure reaches the sender). */
	IW_TCP_PIPE_BUF = 16 * 1024,
};

/* Written by the stream thread only, read with relaxed loads when scraped. The gauges are
 * pending (Connects in progress), waiting (connected, no ConnectionBind yet) and bound. */
struct iw_tcprelay_stats {
	uint64_t connect_ok, connect_fail, connect_timeout; /* Connects answered success, 447, 447 */
	uint64_t attempts, attempt_no_perm;                 /* peers accepted; closed without a permission */
	uint64_t attempt_per_alloc, attempt_total;          /* peers closed by a bound */
	uint64_t per_user;              /* Connects and peers refused by tcp-relay-max-per-user */
	uint64_t bind_ok, bind_timeout; /* bound; closed unbound after the timeout */
	uint64_t pending, waiting, bound;
	uint64_t closed_client, closed_peer, closed_alloc, closed_err;
	uint64_t bytes[2]; /* [0] client to peer, [1] peer to client */
	uint64_t stalls;   /* reads stopped because a buffer was full */
};

struct iw_tcprelay;

/* Set up the connection table (w->conf's tcp-relay-max-connections) and install the ops in
 * w (w->tcp_ops, w->tcp). NULL when out of memory. */
struct iw_tcprelay *iw_tcprelay_create(struct iw_worker *w);
/* Close every connection (their allocations stay). Accepts NULL. */
void iw_tcprelay_destroy(struct iw_tcprelay *t);
/* An epoll event whose data.ptr has kind IW_EV_TCP_LIS (an allocation's struct iw_rsock) or
 * IW_EV_TCP_SIDE. */
void iw_tcprelay_event(struct iw_tcprelay *t, void *ptr, uint32_t events);
/* After each batch of events: free the connections closed during it (an event later in the
 * same batch may still point at them). */
void iw_tcprelay_reap(struct iw_tcprelay *t);
/* Once a second: Connects and unbound connections past tcp-relay-connect-timeout. */
void iw_tcprelay_sweep(struct iw_tcprelay *t);
/*
 * The stream connection whose ConnectionBind for cid was answered becomes that connection's
 * client side: its socket fd (already in the worker's epoll set), its TLS session (NULL over
 * TCP), what it still had to send (out) and what it read after the request (in). The
 * tcprelay owns fd and tls from here, also on failure. 0, or -ENOENT (the peer connection
 * went meanwhile) or -ENOMEM, after closing both.
 */
int iw_tcprelay_adopt(struct iw_tcprelay *t, uint32_t cid, int fd, struct iw_tls_conn *tls,
		      const uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len);
/* The stream connection whose ConnectionBind for cid was answered closed before it was
 * adopted: the peer connection waits for a ConnectionBind again. Accepts NULL. */
void iw_tcprelay_unbind(struct iw_tcprelay *t, uint32_t cid);
const struct iw_tcprelay_stats *iw_tcprelay_stats(const struct iw_tcprelay *t);

#endif
