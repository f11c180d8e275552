/* iceway-signal: options (command line and -c FILE), signals, then the WebSocket service. */
#include <arpa/inet.h>
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
	const char *log_file;
	bool json_log;
	bool help;
	bool version;
	bool listen_from_cli; /* a command-line --listen replaces the file's list */
};

/* Option values outlive parsing: they are copied, kept here and freed at exit. A SIGHUP
 * reload adds its values (a config file's worth, a few hundred bytes per reload). */
static char **kept;
static unsigned n_kept, cap_kept;

static const char *keep(const char *v)
{
	if (n_kept == cap_kept) {
		unsigned cap = cap_kept ? cap_kept * 2 : 64;
		char **k = realloc(kept, cap * sizeof *k);
		if (!k)
			goto oom;
		kept = k;
		cap_kept = cap;
	}
	char *s = strdup(v);
	if (!s)
		goto oom;
	kept[n_kept++] = s;
	return s;
oom:
	fputs("iceway-signal: out of memory\n", stderr);
	exit(2);
}

static void free_kept(void)
{
	while (n_kept)
		free(kept[--n_kept]);
	free(kept);
	kept = NULL;
	cap_kept = 0;
}

static int add_to(const char **list, unsigned *n, unsigned cap, const char *val, const char **why)
{
	if (*n >= cap) {
		*why = "given too many times";
		return -EINVAL;
	}
	list[(*n)++] = keep(val);
	return 0;
}

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

static int set_listen(void *c, const char *v, const char **why)
{
	struct opts *o = c;
	if (o->ws.n_listen >= IW_WS_LISTEN_MAX) {
		*why = "given too many times";
		return -EINVAL;
	}
	if (parse_listen(v, &o->ws.listen[o->ws.n_listen], why) < 0)
		return -EINVAL;
	o->ws.listen[o->ws.n_listen++].spec = keep(v);
	return 0;
}

static int set_web_root(void *c, const char *v, const char **why)
{
	(void)why;
	((struct opts *)c)->ws.web_root = keep(v);
	return 0;
}

static int set_tls_cert(void *c, const char *v, const char **why)
{
	if (access(v, R_OK) != 0) {
		*why = "cannot read that file";
		return -EINVAL;
	}
	((struct opts *)c)->ws.tls_cert = keep(v);
	return 0;
}

static int set_tls_key(void *c, const char *v, const char **why)
{
	if (access(v, R_OK) != 0) {
		*why = "cannot read that file";
		return -EINVAL;
	}
	((struct opts *)c)->ws.tls_key = keep(v);
	return 0;
}

static int set_redis(void *c, const char *v, const char **why)
{
	if (strncmp(v, "redis://", 8) != 0) {
		*why = "must be redis://HOST[:PORT][/DB]";
		return -EINVAL;
	}
	((struct opts *)c)->ws.redis_url = keep(v);
	return 0;
}

static int set_secret(void *c, const char *v, const char **why)
{
	if (!*v) {
		*why = "must not be empty";
		return -EINVAL;
	}
	((struct opts *)c)->ws.ice.secret = keep(v);
	return 0;
}

static int set_jwt(void *c, const char *v, const char **why)
{
	if (strlen(v) < 16) {
		*why = "must be at least 16 characters";
		return -EINVAL;
	}
	((struct opts *)c)->ws.jwt_secret = keep(v);
	return 0;
}

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static int set_stun(void *c, const char *v, const char **why)
{
	struct opts *o = c;
	if (!has_prefix(v, "stun:") && !has_prefix(v, "stuns:")) {
		*why = "must start with stun: or stuns:";
		return -EINVAL;
	}
	return add_to(o->ws.ice.stun, &o->ws.ice.n_stun, IW_ICE_URIS_MAX, v, why);
}

static int set_turn(void *c, const char *v, const char **why)
{
	struct opts *o = c;
	if (!has_prefix(v, "turn:") && !has_prefix(v, "turns:")) {
		*why = "must start with turn: or turns:";
		return -EINVAL;
	}
	return add_to(o->ws.ice.turn, &o->ws.ice.n_turn, IW_ICE_URIS_MAX, v, why);
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

static int set_origin(void *c, const char *v, const char **why)
{
	struct opts *o = c;
	return add_to(o->ws.origins, &o->ws.n_origins, IW_WS_ORIGINS_MAX, v, why);
}

#define INT_SETTER(fname, field, type, lo, hi)                     \
	static int fname(void *c, const char *v, const char **why) \
	{                                                          \
		long long x;                                       \
		if (iw_config_int(v, lo, hi, &x, why) < 0)         \
			return -EINVAL;                            \
		((struct opts *)c)->field = (type)x;               \
		return 0;                                          \
	}

INT_SETTER(set_ttl, ws.ice.ttl, uint32_t, 1, 30 * 86400)
INT_SETTER(set_max_msg, ws.max_msg_size, size_t, 1024, 16 * 1024 * 1024)
INT_SETTER(set_rate, ws.msg_rate, unsigned, 1, 100000)
INT_SETTER(set_burst, ws.msg_burst, unsigned, 1, 100000)
INT_SETTER(set_strikes, ws.max_strikes, unsigned, 1, 100000)
INT_SETTER(set_peers, ws.max_peers, unsigned, 2, 10000)
INT_SETTER(set_rooms, ws.max_rooms, unsigned, 1, 10000000)
INT_SETTER(set_conns, ws.max_conns, unsigned, 1, 1000000)
INT_SETTER(set_ping, ws.ping_interval_s, unsigned, 1, 3600)
INT_SETTER(set_idle, ws.idle_timeout_s, unsigned, 1, 86400)
INT_SETTER(set_grace, ws.resume_grace_s, unsigned, 0, 3600)
INT_SETTER(set_shutdown, ws.shutdown_timeout_s, unsigned, 1, 600)
INT_SETTER(set_relay_poll, relay_poll_s, unsigned, 1, 3600)
INT_SETTER(set_queue, ws.queue_max, size_t, 4096, 1024LL * 1024 * 1024)
INT_SETTER(set_queue_total, ws.queue_total_max, size_t, 65536, 1024LL * 1024 * 1024 * 1024)
INT_SETTER(set_conns_per_ip, ws.max_conns_per_ip, unsigned, 0, 1000000)
INT_SETTER(set_proxy_timeout, ws.proxy.timeout_ms, unsigned, 100, 60000)
INT_SETTER(set_proxy_pending, ws.proxy.max_pending, unsigned, 1, 100000)
INT_SETTER(set_jwt_leeway, ws.jwt_leeway_s, unsigned, 0, 600)
INT_SETTER(set_prom_port, ws.prom_port, unsigned, 0, 65535)

static int set_level(void *c, const char *v, const char **why)
{
	if (iw_log_parse_level(v, &((struct opts *)c)->level) < 0) {
		*why = "must be error, warn, info or debug";
		return -EINVAL;
	}
	return 0;
}

static int set_log_file(void *c, const char *v, const char **why)
{
	(void)why;
	((struct opts *)c)->log_file = keep(v);
	return 0;
}

static int set_json_log(void *c, const char *v, const char **why)
{
	return iw_config_bool(v, &((struct opts *)c)->json_log, why);
}

static int set_proxy_protocol(void *c, const char *v, const char **why)
{
	return iw_config_bool(v, &((struct opts *)c)->ws.proxy_protocol, why);
}

static int set_proxy_trusted(void *c, const char *v, const char **why)
{
	struct iw_proxy_in_cfg *p = &((struct opts *)c)->ws.proxy;
	if (p->n_trusted >= IW_PROXY_IN_TRUSTED_MAX) {
		*why = "given too many times";
		return -EINVAL;
	}
	if (iw_cidr_parse(&p->trusted[p->n_trusted], v) < 0) {
		*why = "must be an address or a range (10.0.0.0/8, fd00::/8)";
		return -EINVAL;
	}
	p->n_trusted++;
	return 0;
}

static int set_prometheus(void *c, const char *v, const char **why)
{
	return iw_config_bool(v, &((struct opts *)c)->ws.prometheus, why);
}

static int set_prom_addr(void *c, const char *v, const char **why)
{
	struct in6_addr a6;
	struct in_addr a4;
	if (inet_pton(AF_INET, v, &a4) != 1 && inet_pton(AF_INET6, v, &a6) != 1) {
		*why = "must be an IPv4 or IPv6 address";
		return -EINVAL;
	}
	((struct opts *)c)->ws.prom_addr = keep(v);
	return 0;
}

static int set_jwt_no_exp(void *c, const char *v, const char **why)
{
	return iw_config_bool(v, &((struct opts *)c)->ws.jwt_allow_no_exp, why);
}

static int set_help(void *c, const char *v, const char **why)
{
	(void)v;
	(void)why;
	((struct opts *)c)->help = true;
	return 0;
}

static int set_version(void *c, const char *v, const char **why)
{
	(void)v;
	(void)why;
	((struct opts *)c)->version = true;
	return 0;
}

static int set_ignore(void *c, const char *v, const char **why)
{
	(void)c;
	(void)v;
	(void)why;
	return 0;
}

static const struct iw_opt opt_tab[] = {
	{ "config", 'c', IW_OPT_REQUIRED, set_ignore, "FILE: read options from FILE first" },
	{ "listen", 'L', IW_OPT_REQUIRED, set_listen,
	  "ADDR: ADDR:PORT or [V6ADDR]:PORT to serve HTTP and /ws on, repeatable (127.0.0.1:8080)" },
	{ "web-root", 0, IW_OPT_REQUIRED, set_web_root, "DIR: static files served at /" },
	{ "redis", 0, IW_OPT_REQUIRED, set_redis,
	  "URL: redis://HOST[:PORT][/DB]: share rooms with other instances through Redis" },
	{ "tls-cert", 0, IW_OPT_REQUIRED, set_tls_cert,
	  "FILE: PEM certificate (chain); every listener then serves https:// and wss:// only" },
	{ "tls-key", 0, IW_OPT_REQUIRED, set_tls_key, "FILE: PEM private key for tls-cert" },
	{ "static-auth-secret", 0, IW_OPT_REQUIRED, set_secret,
	  "SECRET: the relay's TURN REST API secret (TURN credentials in iceServers)" },
	{ "stun-uri", 0, IW_OPT_REQUIRED, set_stun, "URI: STUN server for iceServers, repeatable" },
	{ "turn-uri", 0, IW_OPT_REQUIRED, set_turn,
	  "URI: TURN server for iceServers (turn:/turns:), repeatable" },
	{ "relay", 0, IW_OPT_REQUIRED, set_relay,
	  "SPEC: URI[,metrics=URL], a relay of the pool (turn:HOST:PORT?transport=udp,"
	  "metrics=http://HOST:9641/metrics); iceServers name the least loaded one that is up, "
	  "repeatable" },
	{ "relay-poll-interval", 0, IW_OPT_REQUIRED, set_relay_poll,
	  "SECONDS: how often the relays' metrics are read (5)" },
	{ "credential-ttl", 0, IW_OPT_REQUIRED, set_ttl, "SECONDS: lifetime of TURN credentials (86400)" },
	{ "jwt-secret", 0, IW_OPT_REQUIRED, set_jwt,
	  "SECRET: require HS256 access tokens naming room (and peer); open without it" },
	{ "jwt-allow-no-exp", 0, IW_OPT_OPTIONAL, set_jwt_no_exp,
	  "accept access tokens without exp, which then never expire (refused by default)" },
	{ "jwt-leeway", 0, IW_OPT_REQUIRED, set_jwt_leeway,
	  "SECONDS: clock skew allowed when checking a token's exp and nbf (30)" },
	{ "allowed-origin", 0, IW_OPT_REQUIRED, set_origin,
	  "ORIGIN: accept WebSockets only from this Origin, repeatable (any)" },
	{ "max-message-size", 0, IW_OPT_REQUIRED, set_max_msg, "BYTES: largest message (65536)" },
	{ "max-message-rate", 0, IW_OPT_REQUIRED, set_rate, "N: messages per second per connection (50)" },
	{ "max-message-burst", 0, IW_OPT_REQUIRED, set_burst, "N: messages allowed in a burst (100)" },
	{ "max-errors", 0, IW_OPT_REQUIRED, set_strikes,
	  "N: bad messages within 10 s before the connection is closed (20)" },
	{ "max-peers-per-room", 0, IW_OPT_REQUIRED, set_peers, "N: peers per room (16)" },
	{ "max-rooms", 0, IW_OPT_REQUIRED, set_rooms, "N: rooms (100000)" },
	{ "max-connections", 0, IW_OPT_REQUIRED, set_conns, "N: WebSocket connections (20000)" },
	{ "send-queue-max", 0, IW_OPT_REQUIRED, set_queue,
	  "BYTES: queued output per connection before a slow reader is dropped (1048576)" },
	{ "send-queue-total-max", 0, IW_OPT_REQUIRED, set_queue_total,
	  "BYTES: queued output of all connections together; past it the slowest reader is dropped "
	  "(268435456)" },
	{ "max-connections-per-ip", 0, IW_OPT_REQUIRED, set_conns_per_ip,
	  "N: WebSocket connections per source address, an IPv6 /64 counting as one; 0: no limit "
	  "(0; behind a reverse proxy every client has the proxy's address)" },
	{ "proxy-protocol", 0, IW_OPT_OPTIONAL, set_proxy_protocol,
	  "behind a load balancer: a PROXY header (v1 or v2) names the client, required from "
	  "proxy-trusted sources and refused from any other (off)" },
	{ "proxy-trusted", 0, IW_OPT_REQUIRED, set_proxy_trusted,
	  "RANGE: a load balancer's address or range, repeatable (none: every header is refused)" },
	{ "proxy-timeout", 0, IW_OPT_REQUIRED, set_proxy_timeout,
	  "MS: a new connection's PROXY header, or first bytes, must arrive within this (5000)" },
	{ "proxy-max-pending", 0, IW_OPT_REQUIRED, set_proxy_pending,
	  "N: connections waiting for their first bytes at once; more are closed (1024)" },
	{ "ping-interval", 0, IW_OPT_REQUIRED, set_ping, "SECONDS: WebSocket ping interval (20)" },
	{ "idle-timeout", 0, IW_OPT_REQUIRED, set_idle, "SECONDS: close a connection silent this long (60)" },
	{ "resume-grace", 0, IW_OPT_REQUIRED, set_grace,
	  "SECONDS: a dropped peer keeps its id this long for resume (10)" },
	{ "shutdown-timeout", 0, IW_OPT_REQUIRED, set_shutdown,
	  "SECONDS: longest graceful shutdown on SIGTERM (5)" },
	{ "prometheus", 0, IW_OPT_OPTIONAL, set_prometheus,
	  "serve Prometheus metrics at http://prometheus-address:prometheus-port/metrics, never on listen" },
	{ "prometheus-port", 0, IW_OPT_REQUIRED, set_prom_port,
	  "PORT: metrics port, 0 picks a free one (9642)" },
	{ "prometheus-address", 0, IW_OPT_REQUIRED, set_prom_addr, "IP: metrics address (127.0.0.1)" },
	{ "log-level", 0, IW_OPT_REQUIRED, set_level, "LEVEL: error, warn, info, debug (info)" },
	{ "log-file", 0, IW_OPT_REQUIRED, set_log_file, "FILE: log here instead of stderr" },
	{ "log-json", 0, IW_OPT_OPTIONAL, set_json_log, "one JSON object per log line" },
	{ "help", 'h', IW_OPT_NONE, set_help, "show this help" },
	{ "version", 0, IW_OPT_NONE, set_version, "print the version" },
	{ NULL, 0, IW_OPT_NONE, NULL, NULL },
};

static struct iw_ws *the_ws;

/* What SIGHUP re-reads: the same file and command line as at start-up. */
static struct {
	const char *file;
	int argc;
	char **argv;
} startup;

static void defaults(struct opts *o);

static int reload(void *arg, struct iw_ws_cfg *cfg, char *err, size_t err_cap)
{
	struct opts n;

	(void)arg;
	defaults(&n);
	if (startup.file && iw_config_load_file(opt_tab, &n, startup.file, err, err_cap) < 0)
		return -1;
	if (iw_config_parse_args(opt_tab, &n, startup.argc, startup.argv, NULL, err, err_cap) < 0)
		return -1;
	if (n.ws.msg_burst < n.ws.msg_rate)
		n.ws.msg_burst = n.ws.msg_rate;
	/* listeners, TLS files, web root, Redis and room limits need a restart */
	cfg->jwt_secret = n.ws.jwt_secret;
	cfg->jwt_allow_no_exp = n.ws.jwt_allow_no_exp;
	cfg->jwt_leeway_s = n.ws.jwt_leeway_s;
	memcpy(cfg->origins, n.ws.origins, sizeof cfg->origins);
	cfg->n_origins = n.ws.n_origins;
	n.ws.ice.relays = cfg->ice.relays;
	cfg->ice = n.ws.ice;
	cfg->max_msg_size = n.ws.max_msg_size;
	cfg->msg_rate = n.ws.msg_rate;
	cfg->msg_burst = n.ws.msg_burst;
	cfg->max_strikes = n.ws.max_strikes;
	cfg->max_conns = n.ws.max_conns;
	cfg->queue_max = n.ws.queue_max;
	cfg->queue_total_max = n.ws.queue_total_max;
	cfg->max_conns_per_ip = n.ws.max_conns_per_ip;
	/* proxy-protocol itself needs a restart; who is trusted does not */
	cfg->proxy = n.ws.proxy;
	iw_log_set_level(n.level);
	iw_log_set_json(n.json_log);
	if (!cfg->jwt_secret)
		IW_WARN("no jwt-secret: running open, anyone who reaches this port may join any room");
	return 0;
}

/* SIGHUP is blocked in every thread and taken here, so the reload runs on the service
 * thread through the one thread-safe lws call rather than inside a signal handler. */
static void *hup_main(void *arg)
{
	sigset_t set;
	int sig;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	for (;;)
		if (sigwait(&set, &sig) == 0 && sig == SIGHUP && the_ws)
			iw_ws_request_reload(the_ws);
	return NULL;
}

static void on_signal(int sig)
{
	(void)sig;
	if (the_ws)
		iw_ws_stop(the_ws);
}

static void defaults(struct opts *o)
{
	memset(o, 0, sizeof *o);
	o->ws.web_root = IW_WEB_ROOT_DEFAULT;
	o->ws.ice.ttl = 86400;
	o->relay_poll_s = 5;
	o->ws.max_msg_size = 65536;
	o->ws.msg_rate = 50;
	o->ws.msg_burst = 100;
	o->ws.max_strikes = 20;
	o->ws.max_peers = 16;
	o->ws.max_rooms = 100000;
	o->ws.max_conns = 20000;
	o->ws.queue_max = 1024 * 1024;
	o->ws.queue_total_max = 256u * 1024 * 1024;
	o->ws.ping_interval_s = 20;
	o->ws.idle_timeout_s = 60;
	o->ws.resume_grace_s = 10;
	o->ws.shutdown_timeout_s = 5;
	o->ws.jwt_leeway_s = 30;
	o->ws.prom_addr = "127.0.0.1";
	o->ws.prom_port = 9642;
	o->ws.proxy.timeout_ms = 5000;
	o->ws.proxy.max_pending = 1024;
	o->level = IW_LOG_INFO;
}

int main(int argc, char **argv)
{
	struct opts o;
	char err[IW_CONFIG_ERR_MAX];
	const char *file = NULL, *why = NULL;
	bool no_file = false;
	unsigned n_file_listen;
	struct sigaction sa;
	struct iw_relays *relays = NULL;
	sigset_t hup;
	pthread_t hup_thread;
	int rc;

	defaults(&o);
	atexit(free_kept);
	/* before any thread starts, so that every thread inherits the mask */
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &hup, NULL);
	iw_log_set_ident("iceway-signal");
	iw_config_find_file(argc, argv, &file, &no_file);
	startup.file = no_file ? NULL : file;
	startup.argc = argc;
	startup.argv = argv;
	if (file && !no_file && iw_config_load_file(opt_tab, &o, file, err, sizeof err) < 0) {
		fprintf(stderr, "iceway-signal: %s\n", err);
		return 2;
	}
	/* --listen on the command line replaces the file's listeners rather than adding. */
	n_file_listen = o.ws.n_listen;
	o.ws.n_listen = 0;
	if (iw_config_parse_args(opt_tab, &o, argc, argv, NULL, err, sizeof err) < 0) {
		fprintf(stderr, "iceway-signal: %s\n", err);
		return 2;
	}
	if (!o.ws.n_listen)
		o.ws.n_listen = n_file_listen;
	if (o.help) {
		printf("usage: iceway-signal [-c FILE] [options]\n");
		iw_config_print_help(opt_tab);
		return 0;
	}
	if (o.version) {
		printf("iceway-signal %s\n", iw_version());
		return 0;
	}
	if (!o.ws.n_listen && set_listen(&o, "127.0.0.1:8080", &why) < 0)
		return 2;
	if (o.ws.msg_burst < o.ws.msg_rate)
		o.ws.msg_burst = o.ws.msg_rate;
	if (o.ws.idle_timeout_s <= o.ws.ping_interval_s) {
		fprintf(stderr, "iceway-signal: option 'idle-timeout': must be longer than "
				"ping-interval\n");
		return 2;
	}
	if (!o.ws.tls_cert != !o.ws.tls_key) {
		fprintf(stderr, "iceway-signal: option 'tls-cert': tls-cert and tls-key go "
				"together\n");
		return 2;
	}
	iw_log_set_level(o.level);
	iw_log_set_json(o.json_log);
	if (o.log_file && iw_log_open(o.log_file) < 0) {
		fprintf(stderr, "iceway-signal: option 'log-file': cannot open %s\n", o.log_file);
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
	signal(SIGPIPE, SIG_IGN);
	if (pthread_create(&hup_thread, NULL, hup_main, NULL) != 0) {
		IW_ERROR("cannot start: no thread for SIGHUP");
		iw_ws_destroy(the_ws);
		iw_relays_destroy(relays);
		return 1;
	}

	rc = iw_ws_run(the_ws);
	pthread_cancel(hup_thread);
	pthread_join(hup_thread, NULL);
	iw_ws_destroy(the_ws);
	the_ws = NULL;
	iw_relays_destroy(relays);
	return rc;
}
