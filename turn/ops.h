/* Process lifecycle for iceway-relay: SIGHUP reload into a new configuration generation that
 * each worker adopts at the top of its loop, SIGTERM drain (no new allocations, existing ones
 * relayed until they end or drain-timeout passes), and the --check health probe. */
#ifndef IW_TURN_OPS_H
#define IW_TURN_OPS_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "turn/conf.h"
#include "turn/relay.h"

enum { IW_OPS_MAX_GENS = 64 }; /* configurations kept until every worker has moved on */

/* Allocation quotas over every worker: a client's allocations from different source ports can
 * land on different workers, so user-quota and total-quota are counted here, under a mutex
 * taken only on Allocate and on deletion, never per packet. */
struct iw_quota_ent {
	uint64_t h; /* 0 empty */
	uint32_t count;
	uint32_t ext; /* of those allocations, the ones counted for an overflow block */
};

struct iw_ops_quota {
	pthread_mutex_t mu;
	struct iw_quota_ent *ent; /* keyed by user hash; linear probing, backward-shift delete */
	uint32_t mask, total;
	uint64_t seed;
	bool ready;
};

/*
 * Shared between the supervising main thread and the workers.
 *
 * Configuration snapshots: each accepted reload builds a whole new struct iw_conf off the packet
 * path and publishes it (release store of conf, then of gen). A published snapshot is never
 * written again. Each worker (the UDP ones and the TCP/TLS one) loads gen at the top of its
 * loop, where it holds no snapshot, and when it changed loads conf (acquire), rebuilds its
 * credentials from it and records gen (release, iw_ops_worker_sync); until the next change it
 * reads w->conf only. The supervisor frees an old snapshot once every worker has recorded a
 * newer generation (iw_ops_collect). So w->conf belongs to its worker: no other thread may
 * follow it (the metrics thread reads only start-up values and counters). The packet path pays
 * one atomic load per wake-up; reloads are refused while IW_OPS_MAX_GENS snapshots wait.
 */
struct iw_ops {
	struct iw_conf *conf; /* newest snapshot */
	unsigned gen;         /* bumped with each accepted reload */
	int draining;         /* 1 after the first SIGTERM */
	struct iw_worker **workers;
	unsigned n_workers;
	struct iw_worker *stream; /* the TCP/TLS worker, when there is one */
	/* Older generations not freed yet (owned by the supervisor). */
	struct iw_conf *old[IW_OPS_MAX_GENS];
	unsigned old_gen[IW_OPS_MAX_GENS];
	unsigned n_old;
	unsigned reloads, reload_errors;
	struct iw_ops_quota quota;
};

/* Before w runs: hand it o's drain flag (w->draining) and o's reload (w->sync, below). */
void iw_ops_attach(struct iw_ops *o, struct iw_worker *w);
/* Worker side, an iw_worker_sync_fn with arg the struct iw_ops: adopt the newest generation
 * if there is one (rebuilds the worker's users and secrets, keeping its nonce key so
 * outstanding nonces stay valid). */
void iw_ops_worker_sync(struct iw_worker *w, void *arg);

/*
 * Re-read the configuration as at start-up (file, then argv). A new generation is published
 * only if it parses and checks; otherwise *err gets "FILE:LINE: ..." and the old one stays.
 * Options that need new sockets or tables (ports, addresses, threads, realm, capacity) keep
 * their running values, with a warning. Returns 0 or -EINVAL.
 */
int iw_ops_reload(struct iw_ops *o, int argc, char **argv, char *err, size_t err_cap);
/* Free generations that no worker runs any more. */
void iw_ops_collect(struct iw_ops *o);
/* Free every generation but the newest (after the workers have stopped). */
void iw_ops_fini(struct iw_ops *o);

/* The main thread's loop, with SIGHUP, SIGTERM and SIGINT blocked in every thread: SIGHUP
 * reloads, the first SIGTERM drains, a second SIGTERM or SIGINT stops at once. Returns when
 * *stop is set (by a signal, the end of the drain, or a worker that failed). */
int iw_ops_supervise(struct iw_ops *o, volatile sig_atomic_t *stop, int argc, char **argv);

/* Size the quota table for max_allocs allocations. 0 or -ENOMEM. */
int iw_ops_quota_init(struct iw_ops_quota *q, uint32_t max_allocs);
void iw_ops_quota_fini(struct iw_ops_quota *q);
/* Count one allocation for user, unless that makes more than user_limit for the user or
 * total_limit in all (0: no limit). 0, or -EDQUOT with *why. */
int iw_ops_quota_take(struct iw_ops_quota *q, const void *user, size_t len, uint32_t user_limit,
		      uint32_t total_limit, const char **why);
/* Count one overflow block for user (who holds an allocation), unless that makes more than
 * limit (0: no limit). 0, or -EDQUOT. */
int iw_ops_quota_ext_take(struct iw_ops_quota *q, const void *user, size_t len, uint32_t limit);
/* Uncount one overflow block (before the allocation that held it is uncounted). */
void iw_ops_quota_ext_put(struct iw_ops_quota *q, const void *user, size_t len);
/* Uncount one allocation taken for user. */
void iw_ops_quota_put(struct iw_ops_quota *q, const void *user, size_t len);
/* The allocation count for user (a monitoring and test read). */
uint32_t iw_ops_quota_count(struct iw_ops_quota *q, const void *user, size_t len);

/* Active allocations over all workers (a monitoring read). */
unsigned iw_ops_allocs_active(const struct iw_ops *o);

/* Send one STUN Binding request to addr ("IP:PORT") and wait up to timeout_ms for a success
 * response with our transaction id and an XOR-MAPPED-ADDRESS. 0, or -errno with *why. */
int iw_ops_check(const char *addr, int timeout_ms, const char **why);

#endif
