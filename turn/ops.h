/* Process lifecycle for iceway-relay: SIGHUP reload into a new configuration generation that
 * each worker adopts at the top of its loop, SIGTERM drain (no new allocations, existing ones
 * relayed until they end or drain-timeout passes). Workers are told through hooks set on them
 * here (turn/worker.h), so they never call up into this file. */
#ifndef IW_TURN_OPS_H
#define IW_TURN_OPS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "turn/conf.h"
#include "turn/userdb.h"
#include "turn/worker.h"

enum { IW_OPS_MAX_GENS = 64 }; /* configurations kept until every worker has moved on */

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
 *
 * The Redis user database (turn/userdb.h) is published the same way: the supervisor takes a
 * changed snapshot from the loader thread, stores it in udb (release) and bumps gen; workers
 * rebuild their credentials from conf and udb together, and take udb's realm options in place
 * of conf's max-bps, user-quota and total-quota (iw_worker_limits_set).
 */
struct iw_ops {
	struct iw_conf *conf; /* newest snapshot */
	unsigned gen;         /* bumped with each accepted reload */
	int draining;         /* 1 after the first SIGTERM */
	struct iw_worker **workers;
	unsigned n_workers;
	struct iw_worker *stream;   /* the TCP/TLS worker, when there is one */
	struct iw_userdb *udb_src;  /* the redis-userdb loader, when there is one */
	struct iw_userdb_snap *udb; /* newest user database snapshot; NULL before the first */
	/* Older generations not freed yet (owned by the supervisor): each a configuration or a
	 * user database snapshot (the other NULL). */
	struct iw_conf *old[IW_OPS_MAX_GENS];
	struct iw_userdb_snap *old_udb[IW_OPS_MAX_GENS];
	bool old_heap[IW_OPS_MAX_GENS]; /* the configuration was built by a reload (not main's) */
	bool conf_heap;                 /* the same for conf */
	unsigned old_gen[IW_OPS_MAX_GENS];
	unsigned n_old;
	unsigned reloads, reload_errors;
	/* total-quota in force with the newest generation (the realm's or conf's; 0 until the
	 * first reload or user database snapshot: conf's), for the admin API's status (relaxed). */
	uint32_t total_quota;
	/* Relayed bytes a second, measured by the supervisor about once a second from the
	 * workers' counters (iw_ops_rate_sample) and read by Allocate against bps-capacity. */
	uint64_t relayed_bps;
	uint64_t rate_ms, rate_bytes; /* the last sample (supervisor only) */
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
/* Publish the user database loader's newest snapshot, if there is one, as a new generation
 * (the supervisor calls it between signals). */
void iw_ops_userdb_publish(struct iw_ops *o);
/* Free generations that no worker runs any more. */
void iw_ops_collect(struct iw_ops *o);
/* Free every generation but the newest (after the workers have stopped). */
void iw_ops_fini(struct iw_ops *o);

/* The main thread's loop, with SIGHUP, SIGTERM and SIGINT blocked in every thread: SIGHUP
 * reloads, the first SIGTERM drains, a second SIGTERM or SIGINT stops at once. Returns when
 * *stop is set (by a signal, the end of the drain, or a worker that failed). */
int iw_ops_supervise(struct iw_ops *o, volatile sig_atomic_t *stop, int argc, char **argv);

/* Off the packet path, about once a second (at most every 250 ms is asked): the bytes the
 * workers relayed since the last sample, per second, into o->relayed_bps. */
void iw_ops_rate_sample(struct iw_ops *o, uint64_t now_ms);

/* Active allocations over all workers (a monitoring read). */
unsigned iw_ops_allocs_active(const struct iw_ops *o);

#endif
