/* iceway-relay options: the configuration struct, its defaults and the option table that
 * common/config parses the command line and turnserver.conf-style files with. */
#ifndef IW_TURN_CONF_H
#define IW_TURN_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "common/config.h"
#include "turn/policy.h"

enum {
	IW_CONF_MAX_LISTEN = 8,
	IW_CONF_MAX_RELAY = 4,
	IW_CONF_MAX_EXT = 4,
	IW_CONF_MAX_SECRETS = 16,
	IW_CONF_MAX_USERS = 1024,
	IW_CONF_MAX_THREADS = 64,
	IW_CONF_MAX_PROXY_TRUSTED = 16,
	IW_CONF_MAX_ALT = 16, /* alternate-server, tls-alternate-server */
};

struct iw_conf_ext {
	struct iw_addr pub, priv;
	bool has_priv;
};

/* relay-io: io_uring batches syscalls across sockets; auto uses it when the kernel lets us
 * (a seccomp profile, as Docker's from release 25 on, or kernel.io_uring_disabled may not). */
enum { IW_RELAY_IO_AUTO, IW_RELAY_IO_URING, IW_RELAY_IO_SYSCALLS };

/* allocation-default-address-family: the relayed family of an Allocate that names none. */
enum { IW_CONF_FAMILY_IPV4 = 0, IW_CONF_FAMILY_IPV6 = 1, IW_CONF_FAMILY_KEEP = 2 };

struct iw_conf {
	struct iw_addr listen[IW_CONF_MAX_LISTEN];
	unsigned n_listen;
	uint16_t port;
	/* RFC 5780 (UDP): with two specific listening addresses of one family, each also listens
	 * on alt_port (default port + 1) and Binding answers name the other address; off with
	 * no_rfc5780 (coturn's rule and options). */
	uint16_t alt_port;
	bool no_rfc5780;
	struct iw_addr relay[IW_CONF_MAX_RELAY];
	unsigned n_relay;
	struct iw_conf_ext ext[IW_CONF_MAX_EXT];
	unsigned n_ext;
	uint16_t min_port, max_port;
	char *realm;
	bool lt_cred, use_secret, fingerprint, verbose, version;
	uint8_t help;                   /* --help: 0 no, 1 text, 2 markdown */
	bool no_auth;                   /* TURN without credentials (coturn's no-auth): testing only */
	bool stun_only, no_stun;        /* answer only Binding, or everything but Binding */
	bool mobility;                  /* RFC 8016 MOBILITY-TICKET (UDP clients) */
	bool no_software;               /* no SOFTWARE attribute in answers */
	char *pkey_pwd;                 /* the password of an encrypted pkey */
	bool rfc5766_channels;          /* accept channel numbers 0x5000-0x7FFF (RFC 5766 clients) */
	char *users[IW_CONF_MAX_USERS]; /* "NAME:PASS" as given; handed to auth, then wiped */
	unsigned n_users;
	char *secrets[IW_CONF_MAX_SECRETS];
	unsigned n_secrets;
	/* coturn's Redis user database (turn/userdb.h): the connection string, the most users
	 * loaded, and how often they are loaded again. */
	char *redis_userdb;
	uint32_t userdb_max_users, userdb_refresh_s;
	struct iw_policy policy;
	uint32_t user_quota, total_quota; /* 0 = unlimited */
	/* Rate limits (turn/limit.h), 0 = off: bytes and datagrams a second per allocation (both
	 * directions together), bytes a second per user (over every worker), relayed bytes a
	 * second past which new allocations are refused, new peer addresses a second per
	 * allocation; and the burst the buckets hold, as time. */
	uint64_t max_bps, user_max_bps, bps_capacity;
	uint32_t max_pps, max_new_peers, limit_burst_ms;
	/* The answer budget of a source without credentials (iw_auth_rl_take); 0 = no limit. */
	uint32_t unauth_rate, unauth_ratio;
	uint32_t user_ext_quota; /* overflow blocks per user; 0: a quarter of a worker's pool */
	uint32_t max_lifetime_s, default_lifetime_s, perm_lifetime_s, chan_lifetime_s;
	uint32_t stale_nonce_s;
	char rest_sep;            /* rest-api-separator, default ':' */
	uint32_t acct_interval_s; /* an interim accounting record this often; 0: none (turn/acct.h) */
	bool rest_strict_expiry;  /* a REST allocation ends with its credential */
	uint32_t max_allocs;
	uint32_t threads;
	uint32_t batch_wait_us; /* see batch_wait() in relay.c; 0 turns it off */
	uint8_t relay_io;       /* IW_RELAY_IO_*: how the packet path batches syscalls */
	char *log_file, *pidfile;
	/* Operations: metrics, drain, logs, health check. */
	bool prometheus;    /* serve /metrics */
	uint16_t prom_port; /* default 9641 */
	char *prom_addr;    /* default 127.0.0.1: metrics are not public by default */
	char *admin_token;  /* the admin API's bearer token (turn/admin.h); NULL: no admin API */
	/* 300 Try Alternate (RFC 8489 §10): alternate-server sends every new allocation of a UDP
	 * or TCP client to one of alt, tls-alternate-server a TLS client's to one of tls_alt, in
	 * turn (coturn's meaning); drain-alternate-server only while draining. Ports set. */
	struct iw_addr alt[IW_CONF_MAX_ALT], tls_alt[IW_CONF_MAX_ALT];
	unsigned n_alt, n_tls_alt;
	struct iw_addr drain_alt;
	bool has_drain_alt;
	uint32_t drain_timeout_s; /* after SIGTERM; default 0: exit at once, as before */
	bool log_json;
	int log_level; /* enum iw_log_level */
	bool log_syslog;
	uint8_t alloc_family;                 /* IW_CONF_FAMILY_*: allocation-default-address-family */
	char *log_facility, *log_time_format; /* syslog-facility, new-log-timestamp-format */
	char *check;                          /* --check ADDR:PORT: one Binding, then exit */
	/* Streams (turn/stream.c): TCP on port, TLS on tls_port. */
	uint16_t tls_port;
	bool no_tcp, no_tls;
	char *cert, *pkey, *cipher_list;
	char *ec_curve, *dh_file; /* ec-curve-name, dh-file */
	uint32_t max_tcp_conns;
	uint32_t stream_timeout_s; /* TLS handshake or a partial frame */
	uint32_t stream_idle_s;    /* a connection without an allocation and no valid request */
	uint32_t stream_auth_s;    /* from accept to a successful Allocate */
	uint32_t max_tcp_per_ip;   /* open connections from one client address */
	/* RFC 6062 TCP relay (turn/tcprelay.c): which relay transports an Allocate may ask for,
	 * and the bounds on peer connections. */
	bool no_tcp_relay, no_udp_relay;
	uint32_t tcp_relay_per_alloc; /* peer connections of one allocation, pending or bound */
	uint32_t tcp_relay_pending;   /* Connects in progress, over all allocations */
	uint32_t tcp_relay_conns;     /* peer connections over all allocations */
	uint32_t tcp_relay_per_user;  /* peer connections of one user's TCP allocations */
	uint32_t tcp_connect_s;       /* a Connect's timeout, and a connection's wait for its bind */
	/* Behind a load balancer: TCP and TLS connections from proxy_trusted carry a PROXY
	 * header naming the client (required from them, refused from anyone else). */
	bool proxy_protocol;
	struct iw_cidr proxy_trusted[IW_CONF_MAX_PROXY_TRUSTED];
	unsigned n_proxy_trusted;
};

/* The option table (NULL-name terminated; environment prefix ICEWAY_RELAY_). */
extern const struct iw_opt iw_conf_opts[];

/* Zero c and apply the table's defaults (iceway-relay --help lists them). 0, or -EINVAL
 * (logged) when a default does not parse, which the unit tests rule out. */
int iw_conf_init(struct iw_conf *c);
/* The default relay-threads: online CPUs (sysconf), clamped to 1..IW_CONF_MAX_THREADS. */
uint32_t iw_conf_default_threads(void);
/* Wipe secrets and passwords and free everything. */
void iw_conf_fini(struct iw_conf *c);
/* Is RFC 5780 on: two specific listening addresses of one family, an alternate port, and no
 * no-rfc5780? */
bool iw_conf_rfc5780(const struct iw_conf *c);
/* Cross-option checks after parsing: listeners default to 0.0.0.0 and ::, port range order,
 * an auth mechanism with credentials. 0, or -EINVAL with *why. */
int iw_conf_finish(struct iw_conf *c, const char **why);

#endif
