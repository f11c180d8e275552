/* iceway-signal: options (command line and -c FILE), signals, then the WebSocket service. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "common/version.h"
#include "signaling/admin_cli.h"
#include "signaling/check.h"
#include "signaling/relays.h"
#include "signaling/ws.h"

#ifndef IW_WEB_ROOT_DEFAULT
#define IW_WEB_ROOT_DEFAULT "/usr/local/share/iceway/web"
#endif

struct opts {
	struct iw_ws_cfg ws;
	struct iw_relays_cfg relays;
	unsigned relay_poll_s;
	enum iw_log_level level;
	char *log_file;
	bool json_log;
	bool log_syslog;
	char *log_facility, *log_time_format; /* syslog-facility, new-log-timestamp-format */
	unsigned help;                        /* 0 no, 1 text, 2 markdown */
	bool version;
	bool check;
	char *listen[IW_WS_LISTEN_MAX]; /* as given; parsed into ws.listen by use_listen */
	unsigned n_listen;
};

/* "ADDR:PORT" or "[V6ADDR]:PORT" (ADDR may be any name lws takes as an interface). */
static int parse_listen(const char *spec, struct iw_ws_listen *l, const char **why)
{
	const char *host = spec, *colon;
	size_t hlen;
	long long p;

	if (spec[0] == '[') {
		const char *rb = strchr(spec, ']');
		if (!rb || rb[1] != ':')
			goto bad;
		host = spec + 1;
		hlen = (size_t)(rb - host);
		colon = rb + 1;
	} else {
		colon = strrchr(spec, ':');
		if (!colon)
			goto bad;
		hlen = (size_t)(colon - spec);
	}
	if (hlen >= sizeof l->host || iw_config_int(colon + 1, 0, 65535, &p, why) < 0)
		goto bad;
	memcpy(l->host, host, hlen);
	l->host[hlen] = '\0';
	l->port = (unsigned)p;
	l->spec = spec;
	return 0;
bad:
	*why = "must be ADDR:PORT or [V6ADDR]:PORT";
	return -EINVAL;
}

static int check_listen(const char *v, const char **why)
{
	struct iw_ws_listen l;
	return parse_listen(v, &l, why);
}

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static int check_redis(const char *v, const char **why)
{
	if (!has_prefix(v, "redis://")) {
		*why = "must be redis://HOST[:PORT][/DB]";
		return -EINVAL;
	}
	return 0;
}

static int check_stun(const char *v, const char **why)
{
	if (!has_prefix(v, "stun:") && !has_prefix(v, "stuns:")) {
		*why = "must start with stun: or stuns:";
		return -EINVAL;
	}
	return 0;
}

static int check_turn(const char *v, const char **why)
{
	if (!has_prefix(v, "turn:") && !has_prefix(v, "turns:")) {
		*why = "must start with turn: or turns:";
		return -EINVAL;
	}
	return 0;
}

static int set_relay(void *c, const char *v, const char **why)
{
	struct iw_relays_cfg *r = &((struct opts *)c)->relays;
	if (r->n >= IW_RELAYS_MAX) {
		*why = "given too many times";
		return -EINVAL;
	}
	if (iw_relays_spec_parse(v, &r->relay[r->n], why) < 0)
		return -EINVAL;
	r->n++;
	return 0;
}

static void clear_relays(void *c)
{
	((struct opts *)c)->relays.n = 0;
}

#define AT(m) IW_OPT_AT(struct opts, m)
#define LIST(m, n) \
	AT(m), .count_off = offsetof(struct opts, n), .max = sizeof(((struct opts *)0)->m) / sizeof(char *)

static const struct iw_opt opt_tab[] = {
	{ .name = "listen",
	  .short_name = 'L',
	  .kind = IW_OPT_LIST,
	  LIST(listen, n_listen),
	  .check = check_listen,
	  .def_doc = "127.0.0.1:8080",
	  .help = "ADDR: ADDR:PORT or [V6ADDR]:PORT to serve HTTP and /ws on, repeatable" },
	{ .name = "web-root",
	  .kind = IW_OPT_STR,
	  AT(ws.web_root),
	  .def = IW_WEB_ROOT_DEFAULT,
	  .help = "DIR: static files served at /" },
	{ .name = "redis",
	  .kind = IW_OPT_STR,
	  AT(ws.redis_url),
	  .check = check_redis,
	  .help = "URL: redis://HOST[:PORT][/DB]: share rooms with other instances through Redis" },
	/* cert and pkey: coturn's names, as iceway-relay spells them */
	{ .name = "cert",
	  .kind = IW_OPT_STR,
	  .flags = IW_OPT_READABLE,
	  AT(ws.tls_cert),
	  .help = "FILE: PEM certificate (chain); every listener then serves https:// and wss:// only" },
	{ .name = "pkey",
	  .kind = IW_OPT_STR,
	  .flags = IW_OPT_READABLE,
	  AT(ws.tls_key),
	  .help = "FILE: PEM private key for cert" },
	{ .name = "tls-cert",
	  .kind = IW_OPT_ALIAS,
	  .flags = IW_OPT_HIDDEN,
	  .alias_of = "cert",
	  .help = "the old spelling of cert" },
	{ .name = "tls-key",
	  .kind = IW_OPT_ALIAS,
	  .flags = IW_OPT_HIDDEN,
	  .alias_of = "pkey",
	  .help = "the old spelling of pkey" },
	{ .name = "static-auth-secret",
	  .kind = IW_OPT_STR,
	  .flags = IW_OPT_SECRET,
	  AT(ws.ice.secret),
	  .help = "SECRET: the relay's TURN REST API secret (TURN credentials in iceServers)" },
	{ .name = "stun-uri",
	  .kind = IW_OPT_LIST,
	  LIST(ws.ice.stun, ws.ice.n_stun),
	  .check = check_stun,
	  .help = "URI: STUN server for iceServers, repeatable" },
	{ .name = "turn-uri",
	  .kind = IW_OPT_LIST,
	  LIST(ws.ice.turn, ws.ice.n_turn),
	  .check = check_turn,
	  .help = "URI: TURN server for iceServers (turn:/turns:), repeatable" },
	{ .name = "relay",
	  .kind = IW_OPT_REQUIRED,
	  .flags = IW_OPT_REPEAT,
	  .set = set_relay,
	  .clear = clear_relays,
	  .help = "SPEC: URI[,metrics=URL], a relay of the pool (turn:HOST:PORT?transport=udp,"
		  "metrics=http://HOST:9641/metrics); iceServers name the least loaded one that is up, "
		  "repeatable" },
	{ .name = "relay-poll-interval",
	  .kind = IW_OPT_INT,
	  AT(relay_poll_s),
	  .min = 1,
	  .max = 3600,
	  .def = "5",
	  .help = "SECONDS: how often the relays' metrics are read" },
	{ .name = "credential-ttl",
	  .kind = IW_OPT_INT,
	  AT(ws.ice.ttl),
	  .min = 1,
	  .max = 30 * 86400,
	  .def = "86400",
	  .help = "SECONDS: lifetime of TURN credentials" },
	{ .name = "jwt-secret",
	  .kind = IW_OPT_STR,
	  .flags = IW_OPT_SECRET,
	  AT(ws.jwt_secret),
	  .min = 16,
	  .help = "SECRET: require HS256 access tokens naming room (and peer); open without it" },
	{ .name = "jwt-allow-no-exp",
	  .kind = IW_OPT_BOOL,
	  AT(ws.jwt_allow_no_exp),
	  .help = "accept access tokens without exp, which then never expire (refused by default)" },
	{ .name = "jwt-leeway",
	  .kind = IW_OPT_INT,
	  AT(ws.jwt_leeway_s),
	  .min = 0,
	  .max = 600,
	  .def = "30",
	  .help = "SECONDS: clock skew allowed when checking a token's exp and nbf" },
	{ .name = "allowed-origin",
	  .kind = IW_OPT_LIST,
	  LIST(ws.origins, ws.n_origins),
	  .def_doc = "any",
	  .help = "ORIGIN: accept WebSockets only from this Origin, repeatable" },
	{ .name = "max-message-size",
	  .kind = IW_OPT_INT,
	  AT(ws.max_msg_size),
	  .min = 1024,
	  .max = 16 * 1024 * 1024,
	  .def = "65536",
	  .help = "BYTES: largest message" },
	{ .name = "max-message-rate",
	  .kind = IW_OPT_INT,
	  AT(ws.msg_rate),
	  .min = 1,
	  .max = 100000,
	  .def = "50",
	  .help = "N: messages per second per connection" },
	{ .name = "max-message-burst",
	  .kind = IW_OPT_INT,
	  AT(ws.msg_burst),
	  .min = 1,
	  .max = 100000,
	  .def = "100",
	  .help = "N: messages allowed in a burst (at least max-message-rate)" },
	{ .name = "max-errors",
	  .kind = IW_OPT_INT,
	  AT(ws.max_strikes),
	  .min = 1,
	  .max = 100000,
	  .def = "20",
	  .help = "N: bad messages within 10 s before the connection is closed" },
	{ .name = "max-peers-per-room",
	  .kind = IW_OPT_INT,
	  AT(ws.max_peers),
	  .min = 2,
	  .max = 10000,
	  .def = "16",
	  .help = "N: peers per room" },
	{ .name = "max-rooms",
	  .kind = IW_OPT_INT,
	  AT(ws.max_rooms),
	  .min = 1,
	  .max = 10000000,
	  .def = "100000",
	  .help = "N: rooms" },
	{ .name = "max-connections",
	  .kind = IW_OPT_INT,
	  AT(ws.max_conns),
	  .min = 1,
	  .max = 1000000,
	  .def = "20000",
	  .help = "N: WebSocket connections" },
	{ .name = "send-queue-max",
	  .kind = IW_OPT_INT,
	  AT(ws.queue_max),
	  .min = 4096,
	  .max = 1024LL * 1024 * 1024,
	  .def = "1048576",
	  .help = "BYTES: queued output per connection before a slow reader is dropped" },
	{ .name = "send-queue-total-max",
	  .kind = IW_OPT_INT,
	  AT(ws.queue_total_max),
	  .min = 65536,
	  .max = 1024LL * 1024 * 1024 * 1024,
	  .def = "268435456",
	  .help = "BYTES: queued output of all connections together; past it the slowest reader is dropped" },
	{ .name = "max-connections-per-ip",
	  .kind = IW_OPT_INT,
	  AT(ws.max_conns_per_ip),
	  .min = 0,
	  .max = 1000000,
	  .def = "0",
	  .help = "N: WebSocket connections per source address, an IPv6 /64 counting as one; 0: no limit "
		  "(behind a load balancer or reverse proxy: see proxy-protocol and proxy-trusted)" },
	{ .name = "proxy-protocol",
	  .kind = IW_OPT_BOOL,
	  AT(ws.proxy_protocol),
	  .help = "behind a load balancer: every public listener takes a PROXY header (v1 or v2) from "
		  "proxy-trusted sources, required from them and refused from any other; the client it "
		  "names is the source for per-address limits and logs" },
	{ .name = "proxy-trusted",
	  .kind = IW_OPT_CIDR,
	  AT(ws.proxy.trusted),
	  .count_off = offsetof(struct opts, ws.proxy.n_trusted),
	  .max = IW_PROXY_IN_TRUSTED_MAX,
	  .def_doc = "none",
	  .help = "RANGE: a load balancer's or reverse proxy's address or range, repeatable (16): its "
		  "PROXY header, or else Forwarded or X-Forwarded-For, names the client" },
	{ .name = "proxy-timeout",
	  .kind = IW_OPT_INT,
	  AT(ws.proxy.timeout_ms),
	  .min = 100,
	  .max = 60000,
	  .def = "5000",
	  .help = "MS: a new connection's PROXY header (from any other source: its first bytes) must "
		  "arrive within this" },
	{ .name = "proxy-max-pending",
	  .kind = IW_OPT_INT,
	  AT(ws.proxy.max_pending),
	  .min = 1,
	  .max = 100000,
	  .def = "1024",
	  .help = "N: connections waiting for their first bytes at once on proxy-protocol listeners; "
		  "more are closed" },
	{ .name = "ping-interval",
	  .kind = IW_OPT_INT,
	  AT(ws.ping_interval_s),
	  .min = 1,
	  .max = 3600,
	  .def = "20",
	  .help = "SECONDS: WebSocket ping interval" },
	{ .name = "idle-timeout",
	  .kind = IW_OPT_INT,
	  AT(ws.idle_timeout_s),
	  .min = 1,
	  .max = 86400,
	  .def = "60",
	  .help = "SECONDS: close a connection silent this long (longer than ping-interval)" },
	{ .name = "resume-grace",
	  .kind = IW_OPT_INT,
	  AT(ws.resume_grace_s),
	  .min = 0,
	  .max = 3600,
	  .def = "10",
	  .help = "SECONDS: a dropped peer keeps its id this long for resume" },
	{ .name = "shutdown-timeout",
	  .kind = IW_OPT_INT,
	  AT(ws.shutdown_timeout_s),
	  .min = 1,
	  .max = 600,
	  .def = "5",
	  .help = "SECONDS: longest graceful shutdown on SIGTERM" },
	{ .name = "check",
	  .kind = IW_OPT_BOOL,
	  .flags = IW_OPT_NOENV,
	  AT(check),
	  .help = "GET /healthz on the first listener as this configuration serves it (TLS, PROXY "
		  "header), exit 0 on a 200: the container's health check" },
	IW_OPT_PROMETHEUS(struct opts, ws.prometheus, ws.prom_port, ws.prom_addr, "9642"),
	{ .name = "admin-token",
	  .kind = IW_OPT_STR,
	  .flags = IW_OPT_SECRET,
	  AT(ws.admin_token),
	  .min = 16,
	  .def_doc = "none (no admin API)",
	  .help = "SECRET: serve the admin API (rooms, peers, disconnect, status) under /admin/ on the "
		  "metrics listener to requests with Authorization: Bearer SECRET; better given as "
		  "admin-token-file FILE" },
	IW_OPT_LOG(struct opts, level, json_log, log_file),
	IW_OPT_LOG_COTURN(struct opts, log_syslog, log_facility, log_time_format),
	IW_OPT_CONFIG_FILE,
	IW_OPT_HELP_VERSION(struct opts, help, version),
	IW_OPT_END("ICEWAY_SIGNAL_"),
};

/* Earlier configurations: the running one points into them (a reload copies the secrets, the
 * URIs and the origins). Freed at exit; a reload keeps a few kilobytes. */
static struct opts **gens;
static unsigned n_gens;

static void free_gens(void)
{
	while (n_gens) {
		iw_config_free(opt_tab, gens[--n_gens]);
		free(gens[n_gens]);
	}
	free(gens);
	gens = NULL;
}

static int keep_gen(struct opts *o)
{
	struct opts **g = realloc(gens, (n_gens + 1) * sizeof *g);
	if (!g)
		return -ENOMEM;
	gens = g;
	gens[n_gens++] = o;
	return 0;
}

/* The listeners as given, else 127.0.0.1:8080. */
static int use_listen(struct opts *o, const char **why)
{
	static const char *const fallback[] = { "127.0.0.1:8080" };
	const char *const *l = o->n_listen ? (const char *const *)o->listen : fallback;
	unsigned n = o->n_listen ? o->n_listen : 1;

	for (unsigned i = 0; i < n; i++)
		if (parse_listen(l[i], &o->ws.listen[i], why) < 0)
			return -EINVAL;
	o->ws.n_listen = n;
	return 0;
}

static struct iw_ws *the_ws;

/* What SIGHUP re-reads: the same file and command line as at start-up. */
static struct {
	const char *file;
	int argc;
	char **argv;
} startup;

/* A new configuration: the table's defaults, then the file, the environment and argv, kept
 * until exit. NULL with err filled. */
static struct opts *opts_load(const char *file, int argc, char **argv, char *err, size_t err_cap)
{
	struct opts *o = calloc(1, sizeof *o);

	if (!o || keep_gen(o) < 0) {
		free(o);
		snprintf(err, err_cap, "out of memory");
		return NULL;
	}
	if (iw_config_defaults(opt_tab, o, err, err_cap) < 0)
		return NULL;
	if (file && iw_config_load_file(opt_tab, o, file, err, err_cap) < 0)
		return NULL;
	if (iw_config_parse_args(opt_tab, o, argc, argv, NULL, err, err_cap) < 0)
		return NULL;
	if (o->ws.msg_burst < o->ws.msg_rate)
		o->ws.msg_burst = o->ws.msg_rate;
	return o;
}

static int reload(void *arg, struct iw_ws_cfg *cfg, char *err, size_t err_cap)
{
	struct opts *n;
	int rc = iw_log_reopen(); /* logrotate moved log-file away */

	(void)arg;
	if (rc)
		IW_ERROR("cannot reopen log-file: %s", strerror(-rc));
	n = opts_load(startup.file, startup.argc, startup.argv, err, err_cap);
	if (!n)
		return -1;
	/* listeners, TLS files, web root, Redis and room limits need a restart */
	cfg->jwt_secret = n->ws.jwt_secret;
	cfg->jwt_allow_no_exp = n->ws.jwt_allow_no_exp;
	cfg->jwt_leeway_s = n->ws.jwt_leeway_s;
	cfg->admin_token = n->ws.admin_token;
	memcpy(cfg->origins, n->ws.origins, sizeof cfg->origins);
	cfg->n_origins = n->ws.n_origins;
	n->ws.ice.relays = cfg->ice.relays;
	cfg->ice = n->ws.ice;
	cfg->max_msg_size = n->ws.max_msg_size;
	cfg->msg_rate = n->ws.msg_rate;
	cfg->msg_burst = n->ws.msg_burst;
	cfg->max_strikes = n->ws.max_strikes;
	cfg->max_conns = n->ws.max_conns;
	cfg->queue_max = n->ws.queue_max;
	cfg->queue_total_max = n->ws.queue_total_max;
	cfg->max_conns_per_ip = n->ws.max_conns_per_ip;
	/* proxy-protocol itself needs a restart; who is trusted does not */
	cfg->proxy = n->ws.proxy;
	iw_log_set_level(n->level);
	iw_log_set_json(n->json_log);
	if (!cfg->jwt_secret)
		IW_WARN("no jwt-secret: running open, anyone who reaches this port may join any room");
	return 0;
}

/* SIGHUP only flags a reload and wakes the loop (the one lws call safe from anywhere); the
 * log file is reopened and the configuration re-read on the service thread. The signals are
 * blocked until the service exists and again before it goes, and always in the threads it
 * starts: a handler never sees it half made or freed, and none is lost. */
static void on_hup(int sig)
{
	(void)sig;
	if (the_ws)
		iw_ws_request_reload(the_ws);
}

static void on_signal(int sig)
{
	(void)sig;
	if (the_ws)
		iw_ws_stop(the_ws);
}

int main(int argc, char **argv)
{
	struct opts *op;
	char err[IW_CONFIG_ERR_MAX];
	const char *file = NULL, *why = NULL;
	bool no_file = false;
	struct sigaction sa;
	sigset_t sigs;
	struct iw_relays *relays = NULL;
	int rc;

	/* "iceway-signal admin ...": the admin API's client, no server. */
	if (argc > 1 && strcmp(argv[1], "admin") == 0)
		return iw_signal_admin_cli_main(argc - 1, argv + 1);
	atexit(free_gens);
	/* before anything that takes time: SIGHUP's default would end the process */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	iw_log_set_ident("iceway-signal");
	iw_config_find_file(argc, argv, &file, &no_file);
	startup.file = no_file ? NULL : file;
	startup.argc = argc;
	startup.argv = argv;
	op = opts_load(startup.file, argc, argv, err, sizeof err);
	if (!op) {
		fprintf(stderr, "iceway-signal: %s\n", err);
		return 2;
	}
	struct opts o = *op; /* the running configuration; op keeps the strings */
	if (o.help == 2) {
		iw_config_print_markdown(opt_tab);
		return 0;
	}
	if (o.help) {
		printf("usage: iceway-signal [-c FILE] [options]\n"
		       "       iceway-signal admin [--help] COMMAND...   (the admin API's client)\n"
		       "WebRTC signaling over WebSocket, with iceServers and TURN credentials. Options (also "
		       "in FILE as name=value):\n");
		iw_config_print_help(opt_tab);
		return 0;
	}
	if (o.version) {
		printf("iceway-signal %s\n", iw_version());
		return 0;
	}
	if (use_listen(&o, &why) < 0) {
		fprintf(stderr, "iceway-signal: %s\n", why);
		return 2;
	}
	if (o.ws.idle_timeout_s <= o.ws.ping_interval_s) {
		fprintf(stderr, "iceway-signal: option 'idle-timeout': must be longer than "
				"ping-interval\n");
		return 2;
	}
	if (o.ws.admin_token && !o.ws.prometheus) {
		fprintf(stderr, "iceway-signal: option 'admin-token': the admin API is served on the "
				"metrics listener: set prometheus too\n");
		return 2;
	}
	if (!o.ws.tls_cert != !o.ws.tls_key) {
		fprintf(stderr, "iceway-signal: option 'cert': cert and pkey go together\n");
		return 2;
	}
	if (o.check) {
		rc = iw_signal_check(&o.ws, 3000, &why);
		if (rc < 0)
			fprintf(stderr, "iceway-signal: check %s: %s\n", o.ws.listen[0].spec, why);
		return rc < 0 ? 1 : 0;
	}
	iw_log_set_level(o.level);
	iw_log_set_json(o.json_log);
	char log_err[IW_CONFIG_ERR_MAX];
	if (iw_log_configure(o.log_file, o.log_syslog, o.log_facility, o.log_time_format, log_err,
			     sizeof log_err) < 0) {
		fprintf(stderr, "iceway-signal: %s\n", log_err);
		return 2;
	}

	IW_INFO("iceway-signal %s", iw_version());
	if (!o.ws.jwt_secret)
		IW_WARN("no jwt-secret: running open, anyone who reaches this port may join any room");
	if (!o.ws.ice.secret)
		IW_WARN("no static-auth-secret: iceServers carry no TURN credentials");
	if (o.relays.n && (o.ws.ice.n_stun || o.ws.ice.n_turn))
		IW_WARN("relay given: stun-uri and turn-uri are not used");
	else if (!o.relays.n && !o.ws.ice.n_stun && !o.ws.ice.n_turn)
		IW_WARN("no stun-uri, turn-uri or relay: iceServers is empty");

	/* the threads started from here on inherit the mask: only this one takes the signals */
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (o.relays.n) {
		o.relays.poll_interval_ms = o.relay_poll_s * 1000u;
		relays = iw_relays_create(&o.relays, &why);
		if (!relays) {
			IW_ERROR("cannot start: %s", why);
			return 1;
		}
		o.ws.ice.relays = relays;
	}
	o.ws.reload = reload;
	the_ws = iw_ws_create(&o.ws, &why);
	if (!the_ws) {
		IW_ERROR("cannot start: %s", why);
		iw_relays_destroy(relays);
		return 1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_sigmask(SIG_UNBLOCK, &sigs, NULL); /* what came meanwhile is taken now */
	rc = iw_ws_run(the_ws);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	iw_ws_destroy(the_ws);
	the_ws = NULL;
	iw_relays_destroy(relays);
	return rc;
}
