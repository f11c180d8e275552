/* iceway-relay: options, workers, signals. Everything else lives in the iw_turn library. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/version.h"
#include "turn/admin.h"
#include "turn/admin_cli.h"
#include "turn/check.h"
#include "turn/conf.h"
#include "turn/metrics.h"
#include "turn/ops.h"
#include "turn/relay.h"
#include "turn/stream.h"
#include "turn/userdb.h"

/* Set by the main thread or a failing worker, polled by every loop: atomic loads and stores
 * (relaxed: it only asks to stop; pthread_join orders the rest). No signal handler writes it,
 * signals are taken with sigtimedwait. */
static volatile sig_atomic_t stop_flag;

static volatile sig_atomic_t worker_failed;

static void *stream_main(void *arg)
{
	if (iw_stream_run(arg)) {
		worker_failed = 1;
		__atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *worker_main(void *arg)
{
	if (iw_relay_run(arg)) {
		worker_failed = 1;
		__atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static int write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "%ld\n", (long)getpid());
	return fclose(f) ? -errno : 0;
}

int main(int argc, char **argv)
{
	struct iw_conf conf;
	struct iw_worker *w[IW_CONF_MAX_THREADS] = { 0 };
	pthread_t th[IW_CONF_MAX_THREADS], sth;
	struct iw_stream *streams = NULL;
	bool stream_started = false;
	unsigned n_started = 0;
	struct iw_ops ops = { 0 };
	struct iw_worker_shared shared = { 0 };
	struct iw_userdb udb = { 0 };
	struct iw_relay_metrics mx;
	struct iw_metrics_http *prom = NULL;
	struct iw_admin *admin = NULL;
	char err[IW_CONFIG_ERR_MAX];
	const char *path = NULL, *why = NULL;
	bool no_file = false;
	int status = 1;

	iw_log_set_ident("iceway-relay");
	/* "iceway-relay admin ...": the admin API's client, no relay. */
	if (argc > 1 && strcmp(argv[1], "admin") == 0)
		return iw_admin_cli_main(argc - 1, argv + 1);
	if (iw_conf_init(&conf))
		goto out;
	iw_config_find_file(argc, argv, &path, &no_file);
	if (path && !no_file && iw_config_load_file(iw_conf_opts, &conf, path, err, sizeof err)) {
		fprintf(stderr, "iceway-relay: %s\n", err);
		goto out;
	}
	int optind_end = argc;
	if (iw_config_parse_args(iw_conf_opts, &conf, argc, argv, &optind_end, err, sizeof err)) {
		fprintf(stderr, "iceway-relay: %s\n", err);
		goto out;
	}
	if (optind_end < argc) {
		fprintf(stderr, "iceway-relay: unexpected argument '%s' (see --help)\n", argv[optind_end]);
		goto out;
	}
	if (conf.help == 2) {
		iw_config_print_markdown(iw_conf_opts);
		status = 0;
		goto out;
	}
	if (conf.help) {
		printf("usage: iceway-relay [-c FILE | -n] [--option value]...\n"
		       "       iceway-relay admin [--help] COMMAND...   (the admin API's client)\n"
		       "A STUN/TURN relay over UDP (RFC 8489, RFC 8656). Options (also in FILE as "
		       "name=value):\n");
		iw_config_print_help(iw_conf_opts);
		status = 0;
		goto out;
	}
	if (conf.version) {
		printf("iceway-relay %s\n", iw_version());
		status = 0;
		goto out;
	}
	if (conf.check) {
		/* Health probe: no listener, no workers, no credentials needed: one
		 * Binding. */
		status = iw_check_binding(conf.check, 2000, &why) ? 1 : 0;
		if (status)
			fprintf(stderr, "iceway-relay: check %s: %s\n", conf.check, why);
		goto out;
	}
	if (iw_conf_finish(&conf, &why)) {
		fprintf(stderr, "iceway-relay: %s%s\n", path && !no_file ? path : "",
			path && !no_file ? ": " : "");
		fprintf(stderr, "iceway-relay: %s\n", why);
		goto out;
	}
	iw_log_set_level((enum iw_log_level)conf.log_level); /* --verbose set it to debug */
	iw_log_set_json(conf.log_json);
	if (iw_log_configure(conf.log_file, conf.log_syslog, conf.log_facility, conf.log_time_format, err,
			     sizeof err)) {
		fprintf(stderr, "iceway-relay: %s\n", err);
		goto out;
	}

	/* HUP, TERM and INT are blocked in every thread and taken by the main thread's
	 * sigtimedwait (turn/ops.c): reload, drain, stop. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* One pool of relay ports and reservations and one quota table for every worker,
	 * handed to each as it is built (turn/worker.h). */
	if (iw_worker_shared_init(&shared, &conf, &stop_flag))
		goto out;
	if (conf.redis_userdb) {
		/* Its own thread; workers see its users through the supervisor (turn/ops.c). */
		if (iw_userdb_start(&udb, conf.redis_userdb, conf.realm, conf.userdb_max_users,
				    conf.userdb_refresh_s, &why)) {
			IW_ERROR("redis-userdb: %s", why);
			goto out;
		}
		ops.udb_src = &udb;
	}
	for (unsigned i = 0; i < conf.threads; i++) {
		w[i] = iw_relay_create(&shared, i);
		if (!w[i])
			goto out;
		iw_ops_attach(&ops, w[i]);
	}
	if (!conf.no_tcp || !conf.no_tls) {
		streams = iw_stream_create(&shared);
		if (!streams)
			goto out;
		iw_ops_attach(&ops, iw_stream_worker(streams));
		ops.stream = iw_stream_worker(streams);
	}
	ops.conf = &conf;
	ops.workers = w;
	ops.n_workers = conf.threads;
	if (conf.admin_token) {
		/* A mailbox in every worker, the TCP/TLS one too (turn/admin.h). */
		admin = iw_admin_create(&conf, &ops);
		if (!admin)
			goto out;
		for (unsigned i = 0; i < conf.threads + (streams != NULL); i++) {
			int rc = iw_admin_attach(admin, i < conf.threads ? w[i] : iw_stream_worker(streams));
			if (rc) {
				IW_ERROR("admin: cannot set up a worker's mailbox: %s", strerror(-rc));
				goto out;
			}
		}
	}
	if (conf.prometheus) {
		const char *ip = conf.prom_addr ? conf.prom_addr : "127.0.0.1";
		mx = (struct iw_relay_metrics){ .workers = w,
						.n_workers = conf.threads,
						.ops = &ops,
						.streams = streams,
						.admin = admin };
		struct iw_metrics_route route =
			admin ? iw_admin_route(admin) : (struct iw_metrics_route){ 0 };
		prom = iw_metrics_http_start_routed(ip, conf.prom_port, iw_relay_metrics_fill, &mx, &route,
						    &why);
		if (!prom) {
			IW_ERROR("cannot serve metrics on %s port %u: %s", ip, conf.prom_port, why);
			goto out;
		}
		IW_INFO("metrics on http://%s%s%s:%u/metrics%s", strchr(ip, ':') ? "[" : "", ip,
			strchr(ip, ':') ? "]" : "", iw_metrics_http_port(prom),
			admin ? ", admin API under /admin/" : "");
	}
	if (conf.pidfile && write_pidfile(conf.pidfile)) {
		IW_ERROR("cannot write pidfile %s", conf.pidfile);
		goto out;
	}
	if (conf.no_auth)
		IW_WARN("no-auth: TURN requests need no credentials; use on test networks only");
	IW_INFO("ready: iceway-relay %s, realm %s, %s%s%s, %u worker%s, %u allocations max", iw_version(),
		conf.realm, conf.lt_cred ? "long-term credentials" : "",
		conf.redis_userdb ? " (with redis-userdb)" : "",
		conf.use_secret ? (conf.lt_cred ? " + REST secret" : "REST secret") : "", conf.threads,
		conf.threads > 1 ? "s" : "", conf.max_allocs);

	for (unsigned i = 0; i < conf.threads; i++) {
		if (pthread_create(&th[i], NULL, worker_main, w[i])) {
			IW_ERROR("cannot start worker %u", i);
			__atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
			worker_failed = 1;
			break;
		}
		/* Named for top -H, ps -L and gdb: "iw-udp-N", the worker index of the metrics. */
		char name[32]; /* the kernel keeps 15 bytes: IW_CONF_MAX_THREADS fits */
		snprintf(name, sizeof name, "iw-udp-%u", i);
		pthread_setname_np(th[i], name);
		n_started++;
	}
	if (streams && !__atomic_load_n(&stop_flag, __ATOMIC_RELAXED)) {
		if (pthread_create(&sth, NULL, stream_main, streams)) {
			IW_ERROR("cannot start the TCP/TLS worker");
			__atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
			worker_failed = 1;
		} else {
			pthread_setname_np(sth, "iw-stream");
			stream_started = true;
		}
	}
	iw_ops_supervise(&ops, &stop_flag, argc, argv);
	__atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < n_started; i++)
		pthread_join(th[i], NULL);
	if (stream_started)
		pthread_join(sth, NULL);
	status = worker_failed ? 1 : 0;
	IW_INFO("stopping");
	if (conf.verbose)
		for (unsigned i = 0; i < conf.threads; i++)
			if (w[i])
				iw_relay_stats_dump(w[i]);
	if (conf.pidfile)
		unlink(conf.pidfile);
out:
	iw_metrics_http_stop(prom);
	/* The HTTP thread has stopped and so have the workers: their mailboxes can go. */
	iw_admin_destroy(admin);
	iw_stream_destroy(streams);
	for (unsigned i = 0; i < IW_CONF_MAX_THREADS; i++)
		iw_relay_destroy(w[i]);
	/* After the workers: their allocations' ports and quotas went back here as they were
	 * freed. */
	iw_worker_shared_fini(&shared);
	iw_userdb_stop(&udb);
	iw_ops_fini(&ops);
	iw_conf_fini(&conf);
	return status;
}
