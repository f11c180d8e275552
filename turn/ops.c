/* Reload and drain, nothing else. The supervisor (main thread) builds each new configuration
 * off the packet path; a worker adopts it between two wake-ups, so a worker never sees a
 * half-built one, and the old one is freed once every worker has moved on. */
#include "turn/ops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "turn/acct.h"
#include "turn/control.h"

void iw_ops_attach(struct iw_ops *o, struct iw_worker *w)
{
	w->draining = &o->draining;
	w->relayed_bps = &o->relayed_bps;
	w->sync = iw_ops_worker_sync;
	w->sync_arg = o;
	if (o->udb_src) {
		w->udb_up = &o->udb_src->up;
		w->udb_want = &o->udb_src->want;
	}
}

void iw_ops_worker_sync(struct iw_worker *w, void *arg)
{
	struct iw_ops *o = arg;
	/* The generation first, then the pointer: the snapshot loaded is that generation's or a
	 * newer one, so the generation recorded below never claims more than this worker holds
	 * (the supervisor keeps an old snapshot a little longer, never too short). */
	unsigned g = __atomic_load_n(&o->gen, __ATOMIC_ACQUIRE);
	if (g == w->gen)
		return;
	const struct iw_conf *c = __atomic_load_n(&o->conf, __ATOMIC_ACQUIRE);
	const struct iw_userdb_snap *u = __atomic_load_n(&o->udb, __ATOMIC_ACQUIRE);
	struct iw_auth na;
	const char *why = "out of memory";
	int rc = iw_auth_init(&na, w->auth.realm, c->stale_nonce_s);
	for (unsigned i = 0; rc == 0 && i < c->n_users; i++)
		rc = iw_auth_user_add(&na, c->users[i], &why);
	for (unsigned i = 0; rc == 0 && i < c->n_secrets; i++)
		rc = iw_auth_secret_add(&na, c->secrets[i], &why);
	/* The user database's users and secrets beside the file's (the file's user wins a name
	 * both have, as it is found first). Keys were checked by the loader. */
	for (size_t i = 0; u && rc == 0 && i < u->n_users; i++)
		rc = iw_auth_user_add(&na, u->users[i], &why);
	for (size_t i = 0; u && rc == 0 && i < u->n_secrets && na.n_secrets < IW_AUTH_MAX_SECRETS; i++)
		rc = iw_auth_secret_add(&na, u->secrets[i], &why);
	if (rc)
		/* Checked by the supervisor already, so only memory can fail here: keep the
		 * running credentials rather than none. */
		IW_ERROR("reload: worker keeps its credentials: %s", why);
	else {
		/* Only what the configuration sets moves: the nonce key (outstanding nonces stay
		 * valid), the rate-limit buckets and their seed, and the counters /metrics reads
		 * stay in place. */
		na.rest_sep = c->rest_sep;
		iw_auth_creds_swap(&w->auth, &na);
	}
	iw_auth_fini(&na);
	bool strict_on = c->rest_strict_expiry && !w->conf->rest_strict_expiry;
	bool acct_moved = c->acct_interval_s != w->conf->acct_interval_s;
	w->conf = c;
	iw_worker_limits_set(w, u ? &u->opts : NULL);
	if (strict_on)
		iw_control_strict_apply(w);
	if (acct_moved)
		iw_acct_interval_apply(w);
	/* From here this worker holds no older snapshot: the supervisor may free them. */
	__atomic_store_n(&w->gen, g, __ATOMIC_RELEASE);
}

/* Options bound to sockets, tables or the nonce realm keep their running values. */
static void keep_running(struct iw_conf *n, const struct iw_conf *cur)
{
	bool changed = n->port != cur->port || n->tls_port != cur->tls_port || n->n_listen != cur->n_listen ||
		       n->alt_port != cur->alt_port || n->no_rfc5780 != cur->no_rfc5780 ||
		       n->n_relay != cur->n_relay || n->n_ext != cur->n_ext || n->min_port != cur->min_port ||
		       n->max_port != cur->max_port || n->threads != cur->threads ||
		       n->max_allocs != cur->max_allocs || strcmp(n->realm, cur->realm) != 0 ||
		       !n->admin_token != !cur->admin_token ||
		       (n->admin_token && strcmp(n->admin_token, cur->admin_token) != 0);
	if (changed)
		IW_WARN("reload: listening, relay, external-ip, port range, threads, realm, "
			"max-allocations and admin-token changes take effect after a restart");
	memcpy(n->listen, cur->listen, sizeof n->listen);
	n->n_listen = cur->n_listen;
	n->port = cur->port;
	n->alt_port = cur->alt_port;
	n->no_rfc5780 = cur->no_rfc5780;
	/* Bound by the TCP/TLS worker at start; the own-address policy reads it. */
	n->tls_port = cur->tls_port;
	memcpy(n->relay, cur->relay, sizeof n->relay);
	n->n_relay = cur->n_relay;
	memcpy(n->ext, cur->ext, sizeof n->ext);
	n->n_ext = cur->n_ext;
	n->min_port = cur->min_port;
	n->max_port = cur->max_port;
	n->threads = cur->threads;
	n->max_allocs = cur->max_allocs;
	if (n->total_quota == 0 || n->total_quota > n->max_allocs)
		n->total_quota = n->max_allocs;
}

int iw_ops_reload(struct iw_ops *o, int argc, char **argv, char *err, size_t err_cap)
{
	const char *path = NULL, *why = NULL;
	bool no_file = false;
	struct iw_conf *n = calloc(1, sizeof *n);
	if (!n) {
		snprintf(err, err_cap, "out of memory");
		goto fail;
	}
	if (o->n_old == IW_OPS_MAX_GENS) {
		snprintf(err, err_cap, "too many reloads still in use by workers");
		goto fail;
	}
	iw_conf_init(n);
	iw_config_find_file(argc, argv, &path, &no_file);
	if (path && !no_file && iw_config_load_file(iw_conf_opts, n, path, err, err_cap))
		goto fail;
	if (iw_config_parse_args(iw_conf_opts, n, argc, argv, NULL, err, err_cap))
		goto fail;
	if (iw_conf_finish(n, &why)) {
		snprintf(err, err_cap, "%s%s%s", path && !no_file ? path : "", path && !no_file ? ": " : "",
			 why);
		goto fail;
	}
	if (strcmp(n->realm, o->conf->realm)) {
		/* Stored keys are per realm: a new realm needs new allocations. */
		char *r = strdup(o->conf->realm);
		if (!r) {
			snprintf(err, err_cap, "out of memory");
			goto fail;
		}
		IW_WARN("reload: realm stays %s until a restart", o->conf->realm);
		free(n->realm);
		n->realm = r;
	}
	keep_running(n, o->conf);
	o->old_udb[o->n_old] = NULL;
	o->old_heap[o->n_old] = o->conf_heap;
	o->old[o->n_old] = o->conf;
	o->old_gen[o->n_old] = o->gen;
	o->n_old++;
	__atomic_store_n(&o->conf, n, __ATOMIC_RELEASE);
	o->conf_heap = true;
	__atomic_add_fetch(&o->gen, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&o->total_quota, iw_worker_total_quota(n, o->udb ? &o->udb->opts : NULL),
			 __ATOMIC_RELAXED);
	iw_log_set_json(n->log_json);
	iw_log_set_level(n->log_level >= 0 ? (enum iw_log_level)n->log_level
			 : n->verbose      ? IW_LOG_DEBUG
					   : IW_LOG_INFO);
	__atomic_add_fetch(&o->reloads, 1, __ATOMIC_RELAXED);
	return 0;
fail:
	if (n) {
		iw_conf_fini(n);
		free(n);
	}
	__atomic_add_fetch(&o->reload_errors, 1, __ATOMIC_RELAXED);
	return -EINVAL;
}

/* The realm options of s that differ from those in force, as the workers take them. */
static void opts_log(const struct iw_ops *o, const struct iw_userdb_snap *s)
{
	const struct iw_realm_opts *was = o->udb ? &o->udb->opts : NULL;
	const struct iw_conf *c = o->conf;
	const uint64_t file[IW_REALM_N_OPTS] = { c->max_bps, c->user_quota, c->total_quota };
	for (int i = 0; i < IW_REALM_N_OPTS; i++) {
		const char *name = iw_realm_opt_name(i);
		bool had = was && was->set[i];
		if (s->opts.set[i] && (!had || was->val[i] != s->opts.val[i]))
			IW_INFO("redis-userdb: %s %llu from turn/realm/%s/%s in force (the configuration's: "
				"%llu)",
				name, (unsigned long long)s->opts.val[i], c->realm, name,
				(unsigned long long)file[i]);
		else if (!s->opts.set[i] && had)
			IW_INFO("redis-userdb: turn/realm/%s/%s unset or ignored: %s %llu from the "
				"configuration in force again",
				c->realm, name, name, (unsigned long long)file[i]);
	}
}

void iw_ops_userdb_publish(struct iw_ops *o)
{
	if (!o->udb_src || o->n_old == IW_OPS_MAX_GENS)
		return; /* a full list: the snapshot waits in the loader for the next call */
	struct iw_userdb_snap *s = iw_userdb_take(o->udb_src);
	if (!s)
		return;
	if (o->udb) {
		o->old[o->n_old] = NULL;
		o->old_heap[o->n_old] = false;
		o->old_udb[o->n_old] = o->udb;
		o->old_gen[o->n_old] = o->gen;
		o->n_old++;
	}
	opts_log(o, s);
	__atomic_store_n(&o->udb, s, __ATOMIC_RELEASE);
	__atomic_add_fetch(&o->gen, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&o->total_quota, iw_worker_total_quota(o->conf, &s->opts), __ATOMIC_RELAXED);
}

void iw_ops_collect(struct iw_ops *o)
{
	unsigned j = 0;
	for (unsigned i = 0; i < o->n_old; i++) {
		bool in_use = false;
		for (unsigned k = 0; k < o->n_workers; k++)
			in_use |= __atomic_load_n(&o->workers[k]->gen, __ATOMIC_ACQUIRE) <= o->old_gen[i];
		if (o->stream)
			in_use |= __atomic_load_n(&o->stream->gen, __ATOMIC_ACQUIRE) <= o->old_gen[i];
		if (in_use) {
			o->old[j] = o->old[i];
			o->old_udb[j] = o->old_udb[i];
			o->old_heap[j] = o->old_heap[i];
			o->old_gen[j++] = o->old_gen[i];
			continue;
		}
		iw_userdb_snap_free(o->old_udb[i]);
		/* main's own configuration is finished by main. */
		if (o->old[i] && o->old_heap[i]) {
			iw_conf_fini(o->old[i]);
			free(o->old[i]);
		}
	}
	o->n_old = j;
}

void iw_ops_fini(struct iw_ops *o)
{
	for (unsigned i = 0; i < o->n_old; i++) {
		iw_userdb_snap_free(o->old_udb[i]);
		if (o->old[i] && o->old_heap[i]) {
			iw_conf_fini(o->old[i]);
			free(o->old[i]);
		}
	}
	o->n_old = 0;
	iw_userdb_snap_free(o->udb);
	o->udb = NULL;
	if (o->conf_heap && o->conf) {
		iw_conf_fini(o->conf);
		free(o->conf);
	}
	o->conf = NULL;
}

/* Bytes a worker relayed (sent on, both ways) so far. Its counters have one writer, the worker,
 * with plain stores; this reads them as they move, a packet behind at worst, the benign race
 * turn/metrics.c describes for its scrapes, and out of ThreadSanitizer's view for the same
 * reason. */
__attribute__((noinline, no_sanitize("thread"))) static uint64_t relayed_bytes(const struct iw_worker *w)
{
	const volatile struct iw_relay_stats *st = &w->st;
	return st->tx_peer_bytes + st->tx_client_bytes;
}

void iw_ops_rate_sample(struct iw_ops *o, uint64_t now_ms)
{
	if (o->rate_ms && now_ms - o->rate_ms < 1000)
		return;
	uint64_t bytes = o->stream ? relayed_bytes(o->stream) : 0;
	for (unsigned i = 0; i < o->n_workers; i++)
		bytes += relayed_bytes(o->workers[i]);
	if (o->rate_ms && now_ms > o->rate_ms && bytes >= o->rate_bytes)
		__atomic_store_n(&o->relayed_bps, (bytes - o->rate_bytes) * 1000 / (now_ms - o->rate_ms),
				 __ATOMIC_RELAXED);
	o->rate_ms = now_ms;
	o->rate_bytes = bytes;
}

unsigned iw_ops_allocs_active(const struct iw_ops *o)
{
	unsigned n = 0;
	for (unsigned i = 0; i < o->n_workers; i++)
		n += __atomic_load_n(&o->workers[i]->tab.n_used, __ATOMIC_RELAXED);
	if (o->stream)
		n += __atomic_load_n(&o->stream->tab.n_used, __ATOMIC_RELAXED);
	return n;
}

int iw_ops_supervise(struct iw_ops *o, volatile sig_atomic_t *stop, int argc, char **argv)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	uint64_t drain_end = 0;
	while (!__atomic_load_n(stop, __ATOMIC_RELAXED)) {
		struct timespec ts = { .tv_sec = 0, .tv_nsec = 250 * 1000 * 1000 };
		int sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGHUP) {
			char err[IW_CONFIG_ERR_MAX];
			int lrc = iw_log_reopen(); /* logrotate moved log-file away */
			if (lrc)
				IW_ERROR("cannot reopen log-file: %s", strerror(-lrc));
			if (iw_ops_reload(o, argc, argv, err, sizeof err))
				IW_ERROR("reload refused, running configuration kept: %s", err);
			else
				IW_INFO("reloaded: %u user%s, %u secret%s", o->conf->n_users,
					o->conf->n_users == 1 ? "" : "s", o->conf->n_secrets,
					o->conf->n_secrets == 1 ? "" : "s");
		} else if (sig == SIGINT || (sig == SIGTERM && o->draining)) {
			IW_INFO("stopping now (%s)", sig == SIGINT ? "SIGINT" : "second SIGTERM");
			__atomic_store_n(stop, 1, __ATOMIC_RELAXED);
		} else if (sig == SIGTERM && o->conf->drain_timeout_s == 0) {
			IW_INFO("stopping on SIGTERM (drain-timeout 0)");
			__atomic_store_n(stop, 1, __ATOMIC_RELAXED);
		} else if (sig == SIGTERM) {
			uint32_t t = o->conf->drain_timeout_s;
			__atomic_store_n(&o->draining, 1, __ATOMIC_RELAXED);
			drain_end = iw_clock_ms() + (uint64_t)t * 1000;
			IW_INFO("draining: new allocations refused, %u active, at most %u s "
				"(SIGTERM again to stop now)",
				iw_ops_allocs_active(o), t);
		}
		iw_ops_userdb_publish(o);
		iw_ops_collect(o);
		iw_ops_rate_sample(o, iw_clock_ms());
		if (o->draining && !__atomic_load_n(stop, __ATOMIC_RELAXED)) {
			unsigned n = iw_ops_allocs_active(o);
			if (n == 0 || iw_clock_ms() >= drain_end) {
				IW_INFO("drained: %u allocation%s left", n, n == 1 ? "" : "s");
				__atomic_store_n(stop, 1, __ATOMIC_RELAXED);
			}
		}
	}
	return 0;
}
