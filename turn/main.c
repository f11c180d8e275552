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
#include "turn/conf.h"
#include "turn/relay.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void *worker_main(void *arg)
{
	iw_relay_run(arg);
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
	pthread_t th[IW_CONF_MAX_THREADS];
	unsigned n_started = 0;
	char err[IW_CONFIG_ERR_MAX];
	const char *path = NULL, *why = NULL;
	bool no_file = false;
	int status = 1;

	iw_log_set_ident("iceway-relay");
	iw_conf_init(&conf);
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
		fprintf(stderr, "iceway-relay: unexpected argument '%s' (see --help)\n",
			argv[optind_end]);
		goto out;
	}
	if (conf.help) {
		printf("usage: iceway-relay [-c FILE | -n] [--option value]...\n"
		       "A STUN/TURN relay over UDP (RFC 8489, RFC 8656). Options (also in FILE as "
		       "name=value):\n");
		iw_config_print_help(iw_conf_opts);
		status = 0;
		goto out;
	}
	if (iw_conf_finish(&conf, &why)) {
		fprintf(stderr, "iceway-relay: %s%s\n", path && !no_file ? path : "",
			path && !no_file ? ": " : "");
		fprintf(stderr, "iceway-relay: %s\n", why);
		goto out;
	}
	if (conf.verbose)
		iw_log_set_level(IW_LOG_DEBUG);
	if (conf.log_file && iw_log_open(conf.log_file)) {
		fprintf(stderr, "iceway-relay: cannot open log-file %s\n", conf.log_file);
		goto out;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART: epoll_wait returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	for (unsigned i = 0; i < conf.threads; i++) {
		w[i] = iw_relay_create(&conf, i, &stop_flag);
		if (!w[i])
			goto out;
	}
	if (conf.pidfile && write_pidfile(conf.pidfile)) {
		IW_ERROR("cannot write pidfile %s", conf.pidfile);
		goto out;
	}
	if (conf.no_auth)
		IW_WARN("no-auth: TURN requests need no credentials; use on test networks only");
	IW_INFO("ready: realm %s, %s%s, %u worker%s, %u allocations max", conf.realm,
		conf.lt_cred ? "long-term credentials" : "",
		conf.use_secret ? (conf.lt_cred ? " + REST secret" : "REST secret") : "",
		conf.threads, conf.threads > 1 ? "s" : "", conf.max_allocs);

	/* Block the stop signals in workers so the main thread takes them. */
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	for (unsigned i = 1; i < conf.threads; i++) {
		if (pthread_create(&th[i], NULL, worker_main, w[i])) {
			IW_ERROR("cannot start worker %u", i);
			stop_flag = 1;
			break;
		}
		n_started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	status = iw_relay_run(w[0]) ? 1 : 0;
	stop_flag = 1;
	for (unsigned i = 1; i <= n_started; i++)
		pthread_join(th[i], NULL);
	IW_INFO("stopping");
	if (conf.verbose)
		for (unsigned i = 0; i < conf.threads; i++)
			if (w[i])
				iw_relay_stats_dump(w[i]);
	if (conf.pidfile)
		unlink(conf.pidfile);
out:
	for (unsigned i = 0; i < IW_CONF_MAX_THREADS; i++)
		iw_relay_destroy(w[i]);
	iw_conf_fini(&conf);
	return status;
}
