/* One relay worker's state shared by its packet path (turn/relay.c), its control path
 * (turn/control.c) and, for the TCP/TLS worker, turn/stream.c: the listeners, the tables, the
 * counters and what main hands every worker (struct iw_worker_shared). The batches of the
 * packet path stay inside relay.c. A worker is written by its own thread only; the metrics
 * thread reads its counters (turn/metrics.c). */
#ifndef IW_TURN_WORKER_H
#define IW_TURN_WORKER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/addr.h"
#include "common/metrics.h"
#include "common/stun.h"
#include "turn/alloc.h"
#include "turn/auth.h"
#include "turn/conf.h"
#include "turn/limit.h"
#include "turn/policy.h"
#include "turn/ports.h"
#include "turn/quota.h"
#include "turn/revoked.h"
#include "turn/realm.h"

enum {
	IW_DGRAM_MAX = 2048,
	/* Socket buffer limits: a listener carries every client of the worker; a relay socket
	 * one allocation's peers. Limits, not reservations: the kernel's udp_mem bounds the sum. */
	IW_LISTENER_BUF = 4 << 20,
	IW_RELAY_SOCK_BUF = 1 << 20,
	IW_RELAY_SELF_MS = 30000, /* interface addresses are looked up again after this */
	/* UDP listeners of a worker: each listening-ip, and its RFC 5780 alternate port. */
	IW_WORKER_MAX_LIS = 2 * IW_CONF_MAX_LISTEN,
};

struct iw_worker;
struct iw_listener;
struct iw_mailbox;
struct iw_mob_hub;

/* RFC 8016 mobility (turn/mobility.h): refusals by reason, for the metric. */
enum iw_mob_refusal {
	IW_MOB_R_FORBIDDEN,  /* 405: mobility off, or not a UDP client */
	IW_MOB_R_BAD_TICKET, /* 400: not a ticket of this relay, or of another allocation */
	IW_MOB_R_GONE,       /* 437: the ticket's allocation ended */
	IW_MOB_R_WRONG_USER, /* 441: another user's allocation */
	IW_MOB_R_BUSY,       /* 508: too many moves in flight on this worker */
	IW_MOB_R_COUNT
};
enum { IW_MOB_FLIGHTS = 32 }; /* moves a worker waits on at once */

/* A Refresh with a ticket whose allocation another worker holds, waiting for it: what the
 * answer needs once the allocation came over (or the owner said no). */
struct iw_mob_flight {
	bool used;
	bool fingerprint;  /* the request had one: so has the answer */
	bool sha256_mi;    /* answer with MESSAGE-INTEGRITY-SHA256 */
	bool has_lifetime; /* the request's LIFETIME, if any */
	uint32_t lifetime;
	uint8_t again; /* retransmissions seen meanwhile: each gets the answer too */
	uint8_t key_len;
	uint8_t tid[STUN_TID_LEN];
	uint8_t key[IW_STUN_KEY_MAX];
	struct iw_addr src;
	struct iw_listener *l;
	uint16_t user_len;
	char user[IW_ALLOC_USER_MAX];
};

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
	uint8_t tr; /* enum iw_client_tr (turn/alloc.h) */
	int fd;
	uint32_t idx; /* the listener's part of the 5-tuple key in the allocation table */
	struct iw_addr addr;
	iw_listener_out_fn out;
	/* RFC 5780 (UDP only): this listener has an alternate address. chg[f], f being the
	 * CHANGE-REQUEST flags >> 1 (0 none, 1 port, 2 IP, 3 both), is the index in the worker's
	 * lis[] of the listener a Binding answer then leaves from; chg[3] is OTHER-ADDRESS. */
	bool rfc5780;
	uint8_t chg[4];
	/* Stream connections only: a ConnectionBind (RFC 6062 §5.4) was answered with success,
	 * so after that request the connection carries the bytes of this CONNECTION-ID's peer
	 * connection (turn/tcprelay.h), no more frames. 0 otherwise. */
	uint32_t pipe_cid;
	/* Stream connections only: the request just answered ends the connection (a refused
	 * ConnectionBind, as coturn does), which closes once the answer is written. */
	bool close_now;
};

/* The Connect request (RFC 6062 §5.2) a peer connection answers once it connects or fails:
 * its transaction, and how its answer is sealed (the allocation's key). */
struct iw_tcp_req {
	uint8_t tid[12];
	bool sha256; /* MESSAGE-INTEGRITY-SHA256 rather than MESSAGE-INTEGRITY */
	bool fp;     /* the request had a FINGERPRINT */
};

struct iw_auth_result;

/* RFC 6062 TCP relay, set by the stream worker (turn/tcprelay.h) and called by the control
 * path; NULL on the UDP workers, whose clients cannot have TCP allocations. */
struct iw_tcp_ops {
	/* Connect a's relayed address to peer. 0: in progress, answered later; -EEXIST a
	 * connection to peer exists or is being made (446); -EMFILE, -EAGAIN, -ENOBUFS a bound
	 * (per allocation, pending Connects, all connections: 508); another -errno the connect
	 * failed at once (447). */
	int (*connect)(void *ctx, struct iw_alloc *a, const struct iw_addr *peer,
		       const struct iw_tcp_req *req);
	/* A ConnectionBind for cid on stream connection l (which has no allocation), with
	 * credentials ar. 0: l->pipe_cid is set; -ENOENT no peer connection waits for that id
	 * (400); -EACCES it belongs to another user's allocation (441). */
	int (*bind)(void *ctx, struct iw_listener *l, uint32_t cid, const struct iw_auth_result *ar);
	/* The client address of the allocation whose peer connection cid is, into *client: the
	 * nonce of a ConnectionBind for cid was made for it. 0, or -ENOENT. */
	int (*client_of)(void *ctx, uint32_t cid, struct iw_addr *client);
	/* a is being freed: close its peer connections. */
	void (*alloc_gone)(void *ctx, struct iw_alloc *a);
};

/*
 * The security log (auth failures and refusals, the lines fail2ban reads): at most
 * IW_SECLOG_BURST lines in a row from one client IP, then one a second, so that a flood from one
 * address cannot fill a disk; the lines it skips are counted and the next line from that
 * address says how many (suppressed=N). Addresses are hashed into IW_SECLOG_SLOTS slots, and one
 * that takes a slot over starts with a full burst: another client is never hidden behind a
 * flooding one. A cap per kind of line (IW_SECLOG_KIND_RATE a second per worker) bounds the
 * total against many addresses at once.
 */
enum { IW_SECLOG_SLOTS = 256, IW_SECLOG_BURST = 5, IW_SECLOG_KIND_RATE = 50 };
enum iw_seclog_kind { IW_SECLOG_AUTH, IW_SECLOG_REFUSED, IW_SECLOG_KINDS };
struct iw_seclog_slot {
	struct iw_addr ip; /* port zero; family 0 while never used */
	uint32_t milli_tokens;
	uint32_t suppressed;
	uint64_t last_ms;
};
struct iw_seclog {
	struct iw_seclog_slot slot[IW_SECLOG_SLOTS];
	uint64_t kind_s[IW_SECLOG_KINDS]; /* the second the count below is for */
	uint32_t kind_n[IW_SECLOG_KINDS];
};

/* Payload relayed for allocations of one client transport: the accounting records' counts,
 * summed as they move ([0] client to peer, [1] peer to client). */
struct iw_relay_use {
	uint64_t pkts[2], bytes[2];
};

/* Per-worker counters: plain fields, summed across workers when scraped. */
struct iw_relay_stats {
	uint64_t rx_client_pkts, rx_client_bytes, tx_client_pkts, tx_client_bytes;
	uint64_t rx_peer_pkts, rx_peer_bytes, tx_peer_pkts, tx_peer_bytes;
	struct iw_relay_use use[IW_CLIENT_TR_COUNT]; /* beside the counters every datagram bumps */
	uint64_t drop_trunc, drop_unknown_kind, drop_bad_chandata, drop_no_alloc, drop_no_chan;
	uint64_t drop_send_no_perm, drop_peer_no_perm, drop_send_err, drop_send_bad, drop_send_self;
	uint64_t drop_bad_stun, drop_fingerprint, drop_not_request, drop_unauth_rl;
	uint64_t stun_requests, binding, bad_request, unknown_attr;
	uint64_t rfc5780_changed; /* Binding answers sent from another listener (CHANGE-REQUEST) */
	uint64_t alloc_ok, alloc_retrans, alloc_mismatch, alloc_quota, alloc_capacity;
	uint64_t alloc_family, alloc_transport, alloc_auth_fail, refresh_ok, refresh_delete;
	uint64_t alloc_revoked; /* 403: the user was revoked through the admin API */
	uint64_t perm_ok, perm_full, chan_ok, chan_bad, chan_full, peers_refused, wrong_creds;
	uint64_t peers_refused_self; /* the relay's own address (policy.h) */
	/* rest-strict-expiry: allocations ended at their credential's timestamp, and requests on
	 * an allocation refused because its credential had expired. */
	uint64_t strict_expired, strict_refused;
	uint64_t seclog_lines, seclog_suppressed; /* security log lines written, and skipped */
	uint64_t acct_records[2];                 /* accounting records written: final, interim */
	uint64_t ext_user_quota;                  /* an overflow block refused: the user holds its share */
	uint64_t resv_made, resv_used, resv_expired;
	uint64_t resv_cancelled; /* ended with the allocation that made them */
	uint64_t resv_handover;  /* redeemed here, reserved by another worker */
	/* Operations: loop activity, refusals by class, answers while draining. */
	uint64_t wakeups, batches, alloc_draining, alloc_redirect;
	uint64_t gso_sends, gso_segments; /* UDP GSO sends, and the datagrams they carried */
	uint64_t peers_refused_class[IW_ADDR_CLASS_COUNT];
	/* Rate limits (turn/limit.h): datagrams dropped past max-bps, max-pps, user-max-bps, and
	 * Send indications to a new peer past max-new-peers-per-sec; CreatePermission and
	 * ChannelBind refused (403) past it, and Allocates refused (508) past bps-capacity. */
	uint64_t drop_max_bps, drop_max_pps, drop_user_bps, drop_new_peer;
	uint64_t new_peer_refused, alloc_bps_capacity;
	/* RFC 8016: allocations moved to a client's new address, [0] within this worker, [1]
	 * adopted from another; handed to another worker; refusals by reason. */
	uint64_t mob_moves[2], mob_handed, mob_refused[IW_MOB_R_COUNT];
	/* RFC 6062: TCP allocations made; Connect answered 446, refused by a bound (508), 400
	 * (not a TCP allocation, no peer) or 447 at once (the connect call failed); ConnectionBind
	 * answered 400/441. The rest is counted by turn/tcprelay.c. */
	uint64_t alloc_tcp_ok, tcp_connect_exists, tcp_connect_bound, tcp_connect_bad, tcp_connect_fail;
	uint64_t tcp_bind_bad;
};

/* Allocation lifetime histogram bounds, in seconds (observed in turn/control.c). */
enum { IW_RELAY_LIFE_BUCKETS = 10 };
extern const double iw_relay_life_bounds[IW_RELAY_LIFE_BUCKETS];

/* What every worker of the process shares, built once by main (and by tests the same way)
 * before any worker, and outliving them all: the first configuration snapshot, the relay
 * port pool with its EVEN-PORT reservations (a reservation made on one worker is redeemed on
 * whichever worker the client's next source port lands) and the quota table. */
struct iw_worker_shared {
	const struct iw_conf *conf;
	volatile sig_atomic_t *stop; /* polled by every worker between wake-ups */
	struct iw_ports_pool pool;
	struct iw_quota quota;
	struct iw_mob_hub *mob; /* the UDP workers' mobility boxes (turn/mobility.h) */
};

/* Build sh for conf (which must outlive it): the port pool over min-port..max-port and the
 * quota table sized for max-allocations. 0, or a negative errno (logged). */
int iw_worker_shared_init(struct iw_worker_shared *sh, const struct iw_conf *conf,
			  volatile sig_atomic_t *stop);
/* After every worker is destroyed. Accepts a zeroed sh. */
void iw_worker_shared_fini(struct iw_worker_shared *sh);

/* Called by a worker at the top of each turn of its loop, where it holds nothing of the
 * configuration: set from above (turn/ops.c) to adopt a reloaded one. */
typedef void (*iw_worker_sync_fn)(struct iw_worker *w, void *arg);

struct iw_worker {
	const struct iw_conf *conf; /* this worker's snapshot (turn/ops.h): no other thread reads it */
	volatile sig_atomic_t *stop;
	unsigned idx; /* 0..threads-1 the UDP workers, threads the TCP/TLS worker */
	int epfd;
	struct iw_listener lis[IW_WORKER_MAX_LIS]; /* the UDP listeners (none on the TCP/TLS worker) */
	unsigned n_lis;
	struct iw_addr relay_bind[2], relay_adv[2]; /* per family: [0] IPv4, [1] IPv6 */
	bool has_relay[2];
	struct iw_alloc_tab tab;
	struct iw_ports_pool *pool; /* shared (struct iw_worker_shared) */
	struct iw_quota *quota;     /* shared */
	struct iw_auth auth;
	uint64_t now_ms;    /* monotonic, refreshed once per wake-up */
	int64_t now_s;      /* wall clock, for nonces and REST expiry */
	uint64_t rng;       /* xorshift state for transaction ids and reservation tokens */
	uint64_t alloc_seq; /* allocations made, for their ids (struct iw_alloc) */
	unsigned alt_next;  /* the next alternate-server to send a client to, in turn */
	struct iw_relay_stats st;
	/* The relay's own addresses, which peers must not be (turn/policy.h): refreshed on the
	 * control path every IW_RELAY_SELF_MS, read by Send indications. */
	struct iw_policy_self self;
	uint64_t self_ms;
	/* Set from above before the worker runs; unset in tests. */
	iw_worker_sync_fn sync;
	void *sync_arg;
	const int *draining; /* nonzero (relaxed load): no new allocations */
	/* Relayed bytes a second over the whole relay, measured once a second off the packet path
	 * (turn/ops.c), read (relaxed) by Allocate against bps-capacity; NULL: not measured. */
	const uint64_t *relayed_bps;
	/* The Redis user database (turn/userdb.h), when there is one: whether it answered at the
	 * last try (relaxed load), and where an unknown user asks for a refresh (relaxed store);
	 * both NULL otherwise. */
	const int *udb_up;
	int *udb_want;
	/* RFC 6062 (struct iw_tcp_ops): the stream worker's; NULL on the UDP workers. */
	const struct iw_tcp_ops *tcp_ops;
	void *tcp;
	struct iw_limit_set lim; /* the rate limits of conf, rebuilt when it changes */
	/* user-quota and total-quota in force (set with lim): conf's, or the realm's from the
	 * Redis user database. */
	uint32_t user_quota, total_quota;
	/* The admin API's (turn/admin.h), set before the worker runs; NULL without admin-token:
	 * this worker's mailbox, polled at the top of its loop (turn/mailbox.h), and the users
	 * whose Allocate is refused (shared). */
	struct iw_mailbox *mailbox;
	struct iw_revoked *revoked;
	unsigned gen; /* the configuration generation this worker runs */
	/* The packet path batches its syscalls with io_uring (turn/relay.c): set before the
	 * worker runs, cleared with a relaxed store should it give the ring up. */
	bool io_uring;
	/* RFC 8016 (turn/mobility.h): the boxes, NULL on the TCP/TLS worker and in tests that
	 * set none up; the moves this worker waits on. */
	struct iw_mob_hub *mob;
	struct iw_mob_flight flight[IW_MOB_FLIGHTS];
	struct iw_seclog seclog;
	uint64_t life_counts[IW_RELAY_LIFE_BUCKETS + 1];
	struct iw_metrics_hist life;

	uint8_t out[IW_DGRAM_MAX]; /* control-path responses */
};

/* Family index for per-family arrays: 0 IPv4, 1 IPv6. */
static inline unsigned iw_relay_fam(uint8_t family)
{
	return family == AF_INET6;
}

/* The rate limits and quotas of w's configuration snapshot into w->lim, w->user_quota and
 * w->total_quota, with the realm options r (NULL: none) in place of the configuration's
 * max-bps, user-quota and total-quota where they are set: at creation, and when the worker
 * adopts a generation (existing allocations keep their buckets; the new rates apply to them,
 * the quotas to the next Allocate). */
/* total-quota in force: r's (NULL: none) where set, else c's; as iw_conf_finish, 0 or more
 * than the table holds is max-allocations. */
static inline uint32_t iw_worker_total_quota(const struct iw_conf *c, const struct iw_realm_opts *r)
{
	uint64_t tq = r && r->set[IW_REALM_TOTAL_QUOTA] ? r->val[IW_REALM_TOTAL_QUOTA] : c->total_quota;
	return tq == 0 || tq > c->max_allocs ? c->max_allocs : (uint32_t)tq;
}

static inline void iw_worker_limits_set(struct iw_worker *w, const struct iw_realm_opts *r)
{
	const struct iw_conf *c = w->conf;
	uint64_t bps = r && r->set[IW_REALM_MAX_BPS] ? r->val[IW_REALM_MAX_BPS] : c->max_bps;
	uint64_t uq = r && r->set[IW_REALM_USER_QUOTA] ? r->val[IW_REALM_USER_QUOTA] : c->user_quota;
	w->user_quota = (uint32_t)uq; /* the option's range: at most 1000000 */
	w->total_quota = iw_worker_total_quota(c, r);
	iw_limit_set_init(&w->lim, bps, c->max_pps, c->user_max_bps, c->max_new_peers, c->limit_burst_ms);
}

/* Is the relay draining (set from above through w->draining)? */
static inline bool iw_worker_draining(const struct iw_worker *w)
{
	return w->draining && __atomic_load_n(w->draining, __ATOMIC_RELAXED);
}

#endif
