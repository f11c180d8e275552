/* The WebSocket and HTTP front end of iceway-signal on libwebsockets: one context, one
 * service thread, a bounded out-queue per connection. The only file that sees lws types. */
#ifndef IW_SIGNALING_WS_H
#define IW_SIGNALING_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "signaling/ice_servers.h"
#include "signaling/proxy_in.h"

enum { IW_WS_LISTEN_MAX = 8, IW_WS_ORIGINS_MAX = 16 };

/* A public listener: lws's iface (an address, or an interface name) and port (0: ephemeral). */
struct iw_ws_listen {
	const char *spec; /* as configured ("ADDR:PORT", "[V6]:PORT"): the vhost's name */
	char host[64];
	unsigned port;
};

struct iw_ws_cfg {
	struct iw_ws_listen listen[IW_WS_LISTEN_MAX];
	unsigned n_listen;
	const char *web_root;
	const char *redis_url;          /* NULL: a single instance; else signaling across instances */
	const char *tls_cert, *tls_key; /* PEM files: every listener serves https:// and wss:// */
	const char *jwt_secret;         /* NULL: open */
	bool jwt_allow_no_exp;          /* accept tokens without exp (they never expire) */
	unsigned jwt_leeway_s;          /* clock skew allowed on exp and nbf */
	const char *origins[IW_WS_ORIGINS_MAX];
	unsigned n_origins;
	struct iw_ice_cfg ice;
	size_t max_msg_size;
	unsigned msg_rate, msg_burst, max_strikes;
	unsigned max_peers, max_rooms, max_conns;
	unsigned ping_interval_s, idle_timeout_s, resume_grace_s, shutdown_timeout_s;
	size_t queue_max;          /* bytes queued per connection before it is dropped as too slow */
	size_t queue_total_max;    /* all queues together: past it the slowest reader is dropped */
	unsigned max_conns_per_ip; /* WebSockets per source address (IPv6: /64); 0 = no limit */
	/* Behind a load balancer: the public listeners take a PROXY header from proxy.trusted
	 * sources (and refuse one from anybody else); the client it names counts everywhere. */
	bool proxy_protocol;
	struct iw_proxy_in_cfg proxy;
	/* /metrics on a listener of its own, never on the public ones (it shows rooms, peers and
	 * errors): prom_addr (an IP) and prom_port (0 = ephemeral, logged). Off unless set. */
	bool prometheus;
	const char *prom_addr;
	unsigned prom_port;
	/* The admin API (/admin/..., signaling/admin.h) on the metrics listener, for requests
	 * with "Authorization: Bearer admin_token". NULL: none (404). */
	const char *admin_token;
	/*
	 * SIGHUP: called on the service thread to re-read the configuration into *cfg, which holds
	 * the running values. It changes only what can change without dropping a connection
	 * (secrets, the admin token, iceServers, origins, limits, log level). Returns 0, or -1 with err filled (the
	 * running configuration then stays). NULL: reload is not supported.
	 */
	int (*reload)(void *arg, struct iw_ws_cfg *cfg, char *err, size_t err_cap);
	void *reload_arg;
};

struct iw_ws;

/* Create the lws context and one vhost per listen address. NULL with *why on failure. */
struct iw_ws *iw_ws_create(const struct iw_ws_cfg *cfg, const char **why);
/* Serve until iw_ws_stop; then close every peer with 1001 and return within
 * shutdown_timeout_s. Returns 0. */
int iw_ws_run(struct iw_ws *w);
/* Async-signal-safe: request a graceful shutdown. */
void iw_ws_stop(struct iw_ws *w);
/* Thread-safe (not async-signal-safe): ask the service thread to run cfg.reload. */
void iw_ws_request_reload(struct iw_ws *w);
void iw_ws_destroy(struct iw_ws *w); /* accepts NULL */

#endif
