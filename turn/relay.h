/* The relay worker: its sockets, batches, allocations and counters, and the packet loop
 * (epoll -> recvmmsg -> classify -> forward -> sendmmsg). One worker owns everything the
 * packet path touches, so several run side by side without locks there; only the relay port
 * pool and its reservations are shared, under a mutex taken on the control path. */
#ifndef IW_TURN_RELAY_H
#define IW_TURN_RELAY_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "common/addr.h"
#include "common/metrics.h"
#include "common/stun.h"
#include "turn/alloc.h"
#include "turn/auth.h"
#include "turn/conf.h"
#include "turn/ports.h"

struct io_uring;
struct iw_ops_quota;

enum {
	IW_RELAY_BATCH = 32,
	/* Datagram slots a wake-up may fill before its sends leave: four batches. Datagrams
	 * from many relay sockets then go to clients in one sendmmsg on the listener. */
	IW_RELAY_POOL = 4 * IW_RELAY_BATCH,
	IW_DGRAM_MAX = 2048,
	/* Room for a Data indication header with an IPv6 XOR-PEER-ADDRESS in front of the
	 * payload; ChannelData needs only the last 4 bytes of it. */
	IW_HEADROOM = IW_STUN_DATA_IND_HEADROOM,
	/* Socket buffer limits: a listener carries every client of the worker; a relay socket
	 * one allocation's peers. Limits, not reservations: the kernel's udp_mem bounds the sum. */
	IW_LISTENER_BUF = 4 << 20,
	IW_RELAY_SOCK_BUF = 1 << 20,
	IW_RELAY_SELF_MS = 30000, /* interface addresses are looked up again after this */
};

/* One datagram slot: headroom, payload, tailroom for DATA padding, source address. */
struct iw_dgram {
	uint8_t head[IW_HEADROOM];
	uint8_t buf[IW_DGRAM_MAX];
	uint8_t tail[IW_STUN_TAILROOM];
	struct sockaddr_storage src;
};

struct iw_worker;
struct iw_listener;

/* What goes out toward a client: an answer of the control path, written in w->out and valid
 * only until the call returns, or relayed data, in a datagram slot that stays valid until the
 * worker's sends are flushed (so it may be queued without a copy). */
enum iw_out_kind { IW_OUT_ANSWER, IW_OUT_DATA };

/* Send p toward the client dst through listener l. 0 once sent or queued, else a negative
 * errno: the caller counts the drop (drop_send_err). */
typedef int (*iw_listener_out_fn)(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *dst,
				  const uint8_t *p, size_t len, enum iw_out_kind kind);

/* The server side of a client's 5-tuple: a UDP socket (turn/relay.c) or one TCP/TLS
 * connection (turn/stream.c). Whoever opened it sets out, so the packet path and the control
 * path send through it without knowing the transport. */
struct iw_listener {
	uint8_t kind; /* what an epoll data.ptr at it means to its opener: IW_EV_LISTENER for UDP */
	/* The transport proved the client's address (a TCP or TLS handshake): answers to it
	 * need no amplification budget. */
	bool addr_proven;
	int fd;
	uint32_t idx; /* the listener's part of the 5-tuple key in the allocation table */
	struct iw_addr addr;
	iw_listener_out_fn out;
};

/* Per-worker counters: plain fields, summed across workers when scraped. */
struct iw_relay_stats {
	uint64_t rx_client_pkts, rx_client_bytes, tx_client_pkts, tx_client_bytes;
	uint64_t rx_peer_pkts, rx_peer_bytes, tx_peer_pkts, tx_peer_bytes;
	uint64_t drop_trunc, drop_unknown_kind, drop_bad_chandata, drop_no_alloc, drop_no_chan;
	uint64_t drop_send_no_perm, drop_peer_no_perm, drop_send_err, drop_send_bad, drop_send_self;
	uint64_t drop_bad_stun, drop_fingerprint, drop_not_request, drop_unauth_rl;
	uint64_t stun_requests, binding, bad_request, unknown_attr;
	uint64_t alloc_ok, alloc_retrans, alloc_mismatch, alloc_quota, alloc_capacity;
	uint64_t alloc_family, alloc_transport, alloc_auth_fail, refresh_ok, refresh_delete;
	uint64_t perm_ok, perm_full, chan_ok, chan_bad, chan_full, peers_refused, wrong_creds;
	uint64_t peers_refused_self; /* the relay's own address (policy.h) */
	uint64_t ext_user_quota;     /* an overflow block refused: the user holds its share */
	uint64_t resv_made, resv_used, resv_expired;
	uint64_t resv_cancelled; /* ended with the allocation that made them */
	uint64_t resv_handover;  /* redeemed here, reserved by another worker */
	/* Operations: loop activity, refusals by class, answers while draining. */
	uint64_t wakeups, batches, alloc_draining, alloc_redirect;
	uint64_t gso_sends, gso_segments; /* UDP GSO sends, and the datagrams they carried */
	uint64_t peers_refused_class[IW_ADDR_CLASS_COUNT];
};

/* Allocation lifetime histogram bounds, in seconds (turn/metrics.c). */
enum { IW_RELAY_LIFE_BUCKETS = 10 };
extern const double iw_relay_life_bounds[IW_RELAY_LIFE_BUCKETS];

struct iw_ops;

struct iw_stream;

/* Called by a worker at the top of each turn of its loop, where it holds nothing of the
 * configuration: set from above (turn/ops.c) to adopt a reloaded one. */
typedef void (*iw_worker_sync_fn)(struct iw_worker *w, void *arg);

struct iw_worker {
	const struct iw_conf *conf; /* this worker's snapshot (turn/ops.h): no other thread reads it */
	volatile sig_atomic_t *stop;
	unsigned idx; /* 0..threads-1 the UDP workers, threads the TCP/TLS worker */
	int epfd;
	struct iw_listener lis[IW_CONF_MAX_LISTEN];
	unsigned n_lis;
	struct iw_addr relay_bind[2], relay_adv[2]; /* per family: [0] IPv4, [1] IPv6 */
	bool has_relay[2];
	struct iw_alloc_tab tab;
	/* Relay ports and EVEN-PORT reservations: the process-wide pool once main shares it
	 * (iw_relay_ports_share), else own_pool (a worker on its own, as in tests). */
	struct iw_ports_pool *pool;
	struct iw_ports_pool *own_pool;
	/* Allocation quotas: the process-wide table of ops once there is one, else this (a worker
	 * on its own, as in tests). */
	struct iw_ops_quota *own_quota;
	struct iw_auth auth;
	uint64_t now_ms; /* monotonic, refreshed once per wake-up */
	int64_t now_s;   /* wall clock, for nonces and REST expiry */
	uint64_t rng;    /* xorshift state for Data indication transaction ids */
	struct iw_relay_stats st;
	/* The relay's own addresses, which peers must not be (turn/policy.h): refreshed on the
	 * control path every IW_RELAY_SELF_MS, read by Send indications. */
	struct iw_policy_self self;
	uint64_t self_ms;
	struct iw_ops *ops; /* the process-wide quota table; NULL in tests */
	/* Set from above before the worker runs; unset in tests. */
	iw_worker_sync_fn sync;
	void *sync_arg;
	const int *draining; /* nonzero (relaxed load): no new allocations */
	unsigned gen;        /* the configuration generation this worker runs */
	uint64_t life_counts[IW_RELAY_LIFE_BUCKETS + 1];
	struct iw_metrics_hist life;

	uint8_t out[IW_DGRAM_MAX]; /* control-path responses */
	/* Received datagrams stay in their slots until the sends that point into them leave:
	 * dg[0, rx_at) are taken, and are given back only once the tx queue is empty. */
	struct iw_dgram dg[IW_RELAY_POOL];
	struct mmsghdr rx[IW_RELAY_POOL];
	struct iovec rxiov[IW_RELAY_POOL];
	unsigned rx_at;
	struct mmsghdr tx[IW_RELAY_POOL];
	struct iovec txiov[IW_RELAY_POOL];
	struct sockaddr_storage txaddr[IW_RELAY_POOL];
	int txfd[IW_RELAY_POOL];
	uint8_t txdir[IW_RELAY_POOL]; /* 1: toward a client, 0: toward a peer */
	unsigned n_tx;
	struct mmsghdr txsend[IW_RELAY_POOL]; /* one socket's run, gathered for sendmmsg */
	/* That run with consecutive datagrams to one address folded into UDP GSO sends. */
	struct mmsghdr gso[IW_RELAY_POOL];
	struct iovec gsoiov[IW_RELAY_POOL];
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} gsoctl[IW_RELAY_POOL];
	uint8_t gson[IW_RELAY_POOL]; /* datagrams in gso[i] */
	bool no_gso;                 /* the kernel refused a GSO send: none from now on */
	struct io_uring *ring;       /* batches syscalls across sockets when io_uring is there, else NULL */
	void *ready[IW_RELAY_POOL];  /* relay sockets epoll found readable, for one ring submit */
	struct iw_stream *streams;   /* the TCP/TLS worker's connections (turn/stream.c), else NULL */
};

/* Build worker idx of conf->threads: tables, listeners bound to conf's listening-ip x
 * listening-port (SO_REUSEPORT when there are several workers), relay addresses resolved, and
 * a port pool of its own over the whole relay range. NULL on failure (logged). stop is polled
 * between wake-ups. */
struct iw_worker *iw_relay_create(const struct iw_conf *conf, unsigned idx, volatile sig_atomic_t *stop);
/* Before the worker runs: make it take relay ports and reservations from pool (shared by
 * every worker, outliving them) instead of its own. 0, or -EBUSY once it has allocations. */
int iw_relay_ports_share(struct iw_worker *w, struct iw_ports_pool *pool);
/* Close every socket and free everything. Accepts NULL. */
void iw_relay_destroy(struct iw_worker *w);
/* Run the loop until *stop. Returns 0, or -errno on a fatal epoll error. */
int iw_relay_run(struct iw_worker *w);
/* Run one wake-up: wait at most timeout_ms, handle what is ready, fire timers. */
int iw_relay_poll(struct iw_worker *w, int timeout_ms);
/* Raise a socket's receive and send buffer limits to bytes (best effort). */
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

/* Family index for per-family arrays: 0 IPv4, 1 IPv6. */
static inline unsigned iw_relay_fam(uint8_t family)
{
	return family == AF_INET6;
}

/* Is the relay draining (set from above through w->draining)? */
static inline bool iw_worker_draining(const struct iw_worker *w)
{
	return w->draining && __atomic_load_n(w->draining, __ATOMIC_RELAXED);
}

#endif
