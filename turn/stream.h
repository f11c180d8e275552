/* TURN over TCP and TLS (RFC 8656 §3.1, stream framing per §12.5): one worker thread with
 * its own epoll, allocation table and relay sockets runs every client connection as a small
 * state machine with fixed buffers. Requests go through control.c and frames through the
 * datagram path in relay.c; the relayed leg to peers is UDP, or TCP for an RFC 6062 TCP
 * allocation (turn/tcprelay.h, whose connections this worker's loop also serves). Per wake-up, each connection
 * gets one read of what its socket holds and one write of what was queued for it. */
#ifndef IW_TURN_STREAM_H
#define IW_TURN_STREAM_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "turn/alloc.h"
#include "turn/conf.h"
#include "turn/relay.h"
#include "turn/worker.h"

enum {
	IW_EV_STREAM = 16,     /* a client connection (its struct iw_listener) */
	IW_EV_STREAM_LIS = 17, /* a TCP or TLS listening socket */
	/* Allocations made over a stream are keyed by the client address and this base plus
	 * the connection's slot, never a UDP listener's index. */
	IW_STREAM_LIS_BASE = 256,
	/* The largest frame accepted: a STUN message or a ChannelData that would fit a
	 * datagram. Anything longer closes the connection. */
	IW_STREAM_FRAME_MAX = IW_DGRAM_MAX,
	/* Input holds one whole frame plus the start of the next. */
	IW_STREAM_IN_CAP = 2 * IW_STREAM_FRAME_MAX,
	/* Output toward a slow client; past this its peer data is dropped and counted. */
	IW_STREAM_OUT_CAP = 32 * 1024,
};

/* Client transports of the stream worker; the "transport" label of its metrics. */
enum iw_stream_transport { IW_STREAM_TCP, IW_STREAM_TLS, IW_STREAM_N_TRANSPORTS };

/* Per-transport counters, written by the stream thread only and read with relaxed loads when
 * scraped. open is a gauge. Bytes are the stream's payload (after TLS decryption); reads and
 * writes count recv/send (or mbedTLS read/write) calls that moved bytes, so frames per write
 * shows how well output is gathered. */
struct iw_stream_stats {
	uint64_t accepted, refused_cap, refused_per_ip, open, tls_handshakes, tls_fail;
	uint64_t closed_eof, closed_err, closed_timeout, closed_idle, closed_auth, closed_too_long;
	uint64_t closed_bad_frame;
	uint64_t to_tcp_relay; /* became RFC 6062 data connections (ConnectionBind) */
	uint64_t closed_bind;  /* closed after a refused ConnectionBind */
	/* proxy-protocol: headers read, and connections closed for a header from an untrusted
	 * source, none from a trusted one, or a malformed one */
	uint64_t proxy_header, proxy_untrusted, proxy_missing, proxy_bad;
	uint64_t frames_in, frames_out, drop_out_full;
	uint64_t bytes_in, bytes_out, reads, writes;
};

struct iw_stream;

/* Open the TCP (listening-port) and TLS (tls-listening-port) listeners of sh->conf and the
 * worker that owns their connections, with sh's port pool and quotas. NULL on failure
 * (logged); a TLS without cert and pkey is skipped with a warning. sh must outlive the
 * result. */
struct iw_stream *iw_stream_create(struct iw_worker_shared *sh);
/* Close every connection and socket. Accepts NULL. */
void iw_stream_destroy(struct iw_stream *s);
/* The thread body: serve until *stop. 0, or -errno on a fatal epoll error. */
int iw_stream_run(struct iw_stream *s);
/* Ask the stream thread to load cert and pkey again (SIGHUP; safe from any thread): new
 * connections get the new certificate, open sessions keep theirs. A bad file keeps the old. */
void iw_stream_tls_reload(struct iw_stream *s);
/* The counters of one transport; valid until iw_stream_destroy. */
const struct iw_stream_stats *iw_stream_stats(const struct iw_stream *s, enum iw_stream_transport t);
struct iw_tcprelay_stats;
/* The RFC 6062 relay's counters (turn/tcprelay.h); valid until iw_stream_destroy. */
const struct iw_tcprelay_stats *iw_stream_tcprelay_stats(const struct iw_stream *s);
/* The worker that owns the connections' allocations (for main to attach ops). */
struct iw_worker *iw_stream_worker(struct iw_stream *s);

#endif
