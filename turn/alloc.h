/* Fixed-capacity allocation table: a slab of allocations sized at start-up, the client 5-tuple
 * hash (open addressing with tombstones), per-user quota counts and the 1-second timing wheel
 * that expires allocations, permissions and channels. Each allocation holds a few permissions
 * and channels inline; past those it borrows an overflow block from a pool sized with the
 * table. Slab and pool pages are first written when a slot is first used, so memory that is
 * never used stays unfaulted. Plain data, no I/O. */
#ifndef IW_TURN_ALLOC_H
#define IW_TURN_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/addr.h"
#include "turn/limit.h"

enum {
	IW_MAX_PERMS = 16, /* permissions per allocation; full -> 508 */
	IW_MAX_CHANS = 16, /* channels per allocation; full -> 508 */
	/* Held in the allocation itself: a WebRTC client needs a permission per remote
	 * candidate address and a channel per peer in use, rarely more than a few. */
	IW_ALLOC_INLINE_PERMS = 4,
	IW_ALLOC_INLINE_CHANS = 4,
	IW_ALLOC_EXT_DIV = 8, /* overflow blocks: one per 8 slots (at least IW_ALLOC_EXT_MIN) */
	IW_ALLOC_EXT_MIN = 64,
	IW_WHEEL_SLOTS = 4096, /* 1-second slots, longer than the longest lifetime */
	IW_ALLOC_USER_MAX = 256,
	IW_ALLOC_KEY_MAX = 32,
	IW_ALLOC_RECENT_PEERS = 8, /* peer addresses a Send indication reached lately, remembered */
};

/* An intrusive timer node: one per allocation, due at its earliest expiry. */
struct iw_timer {
	struct iw_timer *next, *prev;
	uint64_t due_s;
};

struct iw_perm {
	struct iw_addr ip; /* port ignored (RFC 8656 §9: permissions are per IP address) */
	uint64_t expires_ms;
};

struct iw_chan {
	struct iw_addr peer;
	uint16_t num;
	uint64_t expires_ms;
};

/* Room for the largest permission and channel sets, borrowed by an allocation that outgrows
 * its inline ones. */
struct iw_alloc_ext {
	struct iw_perm perms[IW_MAX_PERMS];
	struct iw_chan chans[IW_MAX_CHANS];
	uint32_t next_free;
};

/* What an epoll data.ptr points at: the first byte says which. */
enum iw_ev_kind {
	IW_EV_LISTENER = 1,
	IW_EV_RELAY = 2,
	IW_EV_TCP_LIS = 3, /* a TCP allocation's listening socket (RFC 6062, turn/tcprelay.h) */
};

struct iw_alloc;

/* A relayed transport address and its socket. */
struct iw_rsock {
	uint8_t kind;    /* IW_EV_RELAY */
	uint8_t rx_hint; /* datagrams read at its last wake-up (relay.c reads one more) */
	int fd;
	struct iw_addr bound; /* what the socket is bound to */
	struct iw_addr adv;   /* what XOR-RELAYED-ADDRESS says (external-ip) */
	struct iw_alloc *alloc;
};

struct iw_listener; /* turn/worker.h: not looked into here */

/* A client's transport to the relay: the accounting record's and the metrics' "transport". */
enum iw_client_tr { IW_CLIENT_UDP, IW_CLIENT_TCP, IW_CLIENT_TLS, IW_CLIENT_TR_COUNT };

/* Why an allocation ended: the accounting record's end reason. */
enum iw_alloc_end {
	IW_END_EXPIRED,      /* its lifetime passed without a Refresh */
	IW_END_REFRESH0,     /* a Refresh with LIFETIME 0 */
	IW_END_CLOSED,       /* its TCP or TLS connection closed */
	IW_END_KILLED,       /* ended through the admin API */
	IW_END_REVOKED,      /* its user was revoked through the admin API */
	IW_END_CRED_EXPIRED, /* rest-strict-expiry: its REST credential's time passed */
	IW_END_QUOTA,        /* refused while being set up (quota, capacity, no port) */
	IW_END_DRAIN,        /* the relay stopped */
	IW_END_COUNT
};

/* Traffic through one allocation, written by its worker only; [0] client to peer, [1] peer
 * to client, payload bytes as relayed. Read by accounting and the admin API. */
struct iw_alloc_use {
	uint64_t pkts[2], bytes[2];
	uint32_t peers; /* peer IPs it was given a permission for (again after one lapsed) */
};

/* An allocation's share of the rate limits (turn/limit.h), written by its worker only. Zeroed
 * with the allocation: its buckets start full. */
struct iw_alloc_lim {
	struct iw_limit_tb bytes, pkts; /* max-bps, max-pps */
	struct iw_limit_tb peers;       /* max-new-peers-per-sec */
	uint64_t *user_tat;             /* its user's budget (turn/quota.h), NULL when none */
	uint64_t user_credit;           /* bytes taken from that budget and not relayed yet */
	/* Hashes of the peer addresses (IP and port) Send indications went to lately: a Send
	 * to one of them is not a new peer. Overwritten in turn; a collision only lets one by. */
	uint32_t recent[IW_ALLOC_RECENT_PEERS];
	uint8_t recent_at;
};

struct iw_alloc {
	/* Names the session in accounting records and the admin API: the worker's index + 1 in
	 * the top 16 bits, the worker's count of allocations below; never reused in a process. */
	uint64_t id;
	struct iw_addr client;
	uint32_t listener;       /* index of the worker's listener: the server side of the 5-tuple */
	struct iw_listener *lis; /* that listener, through which data goes to the client */
	bool in_use;
	uint8_t n_rsock;
	uint8_t n_perms, n_chans;
	uint8_t tr;            /* enum iw_client_tr */
	bool tcp;              /* an RFC 6062 TCP allocation: rs[0] is a listening TCP socket */
	uint16_t tcp_conns;    /* its peer connections, pending or bound (turn/tcprelay.c) */
	struct iw_rsock rs[2]; /* one per family (dual allocation) */
	uint64_t expires_ms;
	/* The live sets: the inline arrays, or an overflow block's (ext != 0). */
	struct iw_perm *perms;
	struct iw_chan *chans;
	/* Here, between the set pointers and the inline sets that every relayed datagram reads,
	 * so counting it dirties no other cache line. */
	struct iw_alloc_use use;
	uint32_t ext; /* overflow block index + 1, 0 when none */
	struct iw_perm perm_in[IW_ALLOC_INLINE_PERMS];
	struct iw_chan chan_in[IW_ALLOC_INLINE_CHANS];
	uint8_t tid[12]; /* the Allocate that created it, for retransmissions */
	uint8_t key[IW_ALLOC_KEY_MAX];
	uint8_t key_len;
	uint16_t pw_alg;
	uint16_t user_len;
	uint16_t quota_off; /* quotas count user + quota_off (iw_auth_result) */
	char user[IW_ALLOC_USER_MAX];
	bool quota_held;       /* counted in the quota table (turn/quota.h) */
	bool ext_held;         /* an overflow block counted for the user, until the allocation goes */
	uint64_t res_token;    /* RESERVATION-TOKEN handed out with this allocation, 0 when none */
	uint64_t created_ms;   /* for the lifetime histogram */
	int64_t cred_expiry_s; /* a REST credential's timestamp (wall clock), 0 for a static user */
	bool cred_capped;      /* expires_ms is that timestamp (rest-strict-expiry), not the lifetime */
	bool mobile;           /* allocated with a MOBILITY-TICKET (RFC 8016): answers carry one */
	/* Answered with success: it ends with an accounting record (turn/acct.h). One refused
	 * while being set up never was a session and gets none. */
	bool acct;
	int64_t start_wall_ms; /* wall clock, for the record's start */
	uint64_t interim_ms;   /* next interim record (accounting-interval), 0 when none */
	struct iw_alloc_lim lim;
	struct iw_timer timer;
	uint32_t next_free;
};

/* Who per-user limits count (user-quota, user-max-bps): the user part of a REST username, after
 * rest-api-separator, so that every credential minted for one user counts together whatever its
 * expiry; or the whole static user name (iw_auth_result.quota_off). *len gets its length. */
static inline const char *iw_alloc_who(const struct iw_alloc *a, size_t *len)
{
	*len = (size_t)(a->user_len - a->quota_off);
	return a->user + a->quota_off;
}

struct iw_alloc_stats {
	uint64_t created, deleted, expired, full;
	uint64_t perms_full, chans_full, rehashes;
	uint64_t ext_taken, ext_full; /* overflow blocks borrowed; refused because none was left */
};

/* Called by iw_alloc_tick for an allocation whose interim_ms has come (turn/acct.h). */
typedef void (*iw_alloc_due_fn)(void *ctx, struct iw_alloc *a);

struct iw_alloc_tab {
	struct iw_alloc *slab;
	uint32_t cap, n_used, free_head;
	uint32_t n_fresh; /* slots [n_fresh, cap) were never used (and never written) */
	struct iw_alloc_ext *ext;
	uint32_t ext_cap, ext_used, ext_fresh, ext_free;
	uint32_t *hash; /* 0 empty, UINT32_MAX tombstone, else slab index + 1 */
	uint32_t hash_mask, n_tomb;
	uint32_t seed;
	struct iw_timer *wheel; /* IW_WHEEL_SLOTS sentinels */
	uint64_t wheel_s;       /* last second processed */
	/* Permissions and channels held by all allocations, kept as they are added, pruned by
	 * the wheel (so within a second of their expiry) and deleted: a monitoring read. */
	uint32_t perms_live, chans_live;
	/* With tick's ctx; it moves the allocation's interim_ms on, or sets it to 0. NULL: none are
	 * kept. */
	iw_alloc_due_fn on_interim;
	struct iw_alloc_stats st;
};

/* Allocate the slab and tables for cap allocations. Returns 0 or -ENOMEM. */
int iw_alloc_tab_init(struct iw_alloc_tab *t, uint32_t cap, uint32_t seed, uint64_t now_ms);
/* Free the tables; accepts a zeroed or partially initialised table. */
void iw_alloc_tab_fini(struct iw_alloc_tab *t);

/* The allocation for this client 5-tuple, or NULL. */
struct iw_alloc *iw_alloc_find(struct iw_alloc_tab *t, const struct iw_addr *client, uint32_t listener);
/* Take a free slab entry, zeroed and indexed by its 5-tuple. NULL (-ENOBUFS) when full.
 * The caller must not insert a 5-tuple that is already present. */
struct iw_alloc *iw_alloc_new(struct iw_alloc_tab *t, const struct iw_addr *client, uint32_t listener);
/* Index a under another 5-tuple (RFC 8016: its client moved). The caller must not give a
 * 5-tuple that is already present. */
void iw_alloc_rekey(struct iw_alloc_tab *t, struct iw_alloc *a, const struct iw_addr *client,
		    uint32_t listener);
/* Unindex, disarm and return to the free list. Sockets are the caller's business. */
void iw_alloc_del(struct iw_alloc_tab *t, struct iw_alloc *a);

/* Make room for perms more permissions and chans more channels, borrowing an overflow block
 * when the inline sets are too small. 0, -ENOBUFS past IW_MAX_PERMS/IW_MAX_CHANS, or -ENOMEM
 * when no overflow block is left (counted in ext_full). */
int iw_alloc_room(struct iw_alloc_tab *t, struct iw_alloc *a, unsigned perms, unsigned chans);

/* Install or refresh a permission for ip (port ignored). 0, or -ENOBUFS when full (or no
 * overflow block is left). */
int iw_alloc_perm_add(struct iw_alloc_tab *t, struct iw_alloc *a, const struct iw_addr *ip,
		      uint64_t expires_ms);
/* True if a live permission covers ip. */
static inline bool iw_alloc_perm_has(const struct iw_alloc *a, const struct iw_addr *ip, uint64_t now_ms)
{
	for (unsigned i = 0; i < a->n_perms; i++) {
		const struct iw_perm *p = &a->perms[i];
		if (p->expires_ms > now_ms && p->ip.family == ip->family && !memcmp(p->ip.ip, ip->ip, 16))
			return true;
	}
	return false;
}

/*
 * Bind channel num to peer or refresh that binding (RFC 8656 §11.2). Returns 0, -EINVAL when
 * num is bound to another peer or peer to another number, -ENOBUFS when the table is full.
 */
int iw_alloc_chan_bind(struct iw_alloc_tab *t, struct iw_alloc *a, uint16_t num, const struct iw_addr *peer,
		       uint64_t expires_ms);
static inline const struct iw_chan *iw_alloc_chan_by_num(const struct iw_alloc *a, uint16_t num,
							 uint64_t now_ms)
{
	for (unsigned i = 0; i < a->n_chans; i++)
		if (a->chans[i].num == num && a->chans[i].expires_ms > now_ms)
			return &a->chans[i];
	return NULL;
}
static inline const struct iw_chan *iw_alloc_chan_by_peer(const struct iw_alloc *a,
							  const struct iw_addr *peer, uint64_t now_ms)
{
	for (unsigned i = 0; i < a->n_chans; i++)
		if (a->chans[i].expires_ms > now_ms && iw_addr_eq(&a->chans[i].peer, peer))
			return &a->chans[i];
	return NULL;
}

/* (Re)schedule a's timer at its earliest expiry (allocation, permission or channel) or its
 * next interim record, whichever comes first. */
void iw_alloc_timer_arm(struct iw_alloc_tab *t, struct iw_alloc *a);

typedef void (*iw_alloc_expire_fn)(void *ctx, struct iw_alloc *a);
/*
 * Advance the wheel to now_ms. Each timer that fires is re-checked lazily: expired
 * permissions and channels are pruned, and an allocation past its lifetime is handed to fn
 * (which must delete it); otherwise one whose interim_ms has come is handed to t->on_interim,
 * and the timer is re-armed. Only allocations with something due are visited. Returns the
 * number fired.
 */
size_t iw_alloc_tick(struct iw_alloc_tab *t, uint64_t now_ms, iw_alloc_expire_fn fn, void *ctx);

/* Remove expired permissions and channels from a; an overflow block goes back to the pool
 * once the inline sets hold what is left. */
void iw_alloc_prune(struct iw_alloc_tab *t, struct iw_alloc *a, uint64_t now_ms);

#endif
