/* iceway-relay options table: coturn's long names, iceway's defaults. The table gives each
 * option's type, range and default (common/config applies them); setters remain only for the
 * types of their own (addresses into struct iw_addr, peer ranges, the REST separator). */
#include "turn/conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "turn/auth.h"
#include "turn/realm.h"
#include "turn/userdb.h"

uint32_t iw_conf_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	return n > IW_CONF_MAX_THREADS ? IW_CONF_MAX_THREADS : (uint32_t)n;
}

int iw_conf_init(struct iw_conf *c)
{
	char err[IW_CONFIG_ERR_MAX];

	memset(c, 0, sizeof *c);
	/* Not options: the lifetimes a client may ask for are bounded by max-allocate-lifetime. */
	c->default_lifetime_s = 600;
	c->perm_lifetime_s = 300;
	c->chan_lifetime_s = 600;
	iw_policy_init(&c->policy);
	if (iw_config_defaults(iw_conf_opts, c, err, sizeof err)) {
		IW_ERROR("%s", err); /* a table bug: tests/unit/turn/test_conf.c catches it */
		return -EINVAL;
	}
	return 0;
}

void iw_conf_fini(struct iw_conf *c)
{
	iw_config_free(iw_conf_opts, c);
	memset(c, 0, sizeof *c);
}

static int parse_ip(struct iw_addr *a, const char *val, const char **why)
{
	if (!val || iw_addr_parse(a, val) || a->port) {
		*why = "not an IPv4 or IPv6 address";
		return -EINVAL;
	}
	return 0;
}

static int o_listening_ip(void *cfg, const char *val, const char **why)
{
	struct iw_conf *c = cfg;
	if (c->n_listen == IW_CONF_MAX_LISTEN) {
		*why = "too many listening-ip (at most 8)";
		return -EINVAL;
	}
	return parse_ip(&c->listen[c->n_listen++], val, why) ? (c->n_listen--, -EINVAL) : 0;
}

static int o_relay_ip(void *cfg, const char *val, const char **why)
{
	struct iw_conf *c = cfg;
	if (c->n_relay == IW_CONF_MAX_RELAY) {
		*why = "too many relay-ip (at most 4)";
		return -EINVAL;
	}
	if (parse_ip(&c->relay[c->n_relay], val, why))
		return -EINVAL;
	if (iw_addr_is_any(&c->relay[c->n_relay])) {
		*why = "must be a specific address";
		return -EINVAL;
	}
	c->n_relay++;
	return 0;
}

static int o_external_ip(void *cfg, const char *val, const char **why)
{
	struct iw_conf *c = cfg;
	if (c->n_ext == IW_CONF_MAX_EXT) {
		*why = "too many external-ip (at most 4)";
		return -EINVAL;
	}
	if (!val) {
		*why = "missing value";
		return -EINVAL;
	}
	struct iw_conf_ext *e = &c->ext[c->n_ext];
	char buf[128];
	snprintf(buf, sizeof buf, "%s", val);
	char *slash = strchr(buf, '/');
	if (slash)
		*slash++ = 0;
	if (parse_ip(&e->pub, buf, why))
		return -EINVAL;
	if (slash) {
		if (parse_ip(&e->priv, slash, why))
			return -EINVAL;
		if (e->priv.family != e->pub.family) {
			*why = "PUBLIC/PRIVATE must be the same family";
			return -EINVAL;
		}
		e->has_priv = true;
	}
	c->n_ext++;
	return 0;
}

static int o_external_ip_env(void *cfg, const char *val, const char **why)
{
	/* The address is read at start-up, where an orchestrator put it (e.g. a cloud
	 * instance's public IP): the same PUBLIC[/PRIVATE] form as external-ip. */
	const char *v = val ? getenv(val) : NULL;
	if (!v || !*v) {
		*why = "environment variable is not set";
		return -EINVAL;
	}
	return o_external_ip(cfg, v, why);
}

static int check_user(const char *val, const char **why)
{
	if (!strchr(val, ':') || val[0] == ':') {
		*why = "expected NAME:PASSWORD or NAME:0xHEXKEY";
		return -EINVAL;
	}
	return 0;
}

static int check_redis_userdb(const char *val, const char **why)
{
	struct iw_userdb_conn c;
	int rc = iw_userdb_conn_parse(&c, val, why);
	memset(c.password, 0, sizeof c.password);
	return rc;
}

static int o_allowed_peer(void *cfg, const char *val, const char **why)
{
	return iw_policy_allow_add(&((struct iw_conf *)cfg)->policy, val ? val : "", why);
}

static int o_denied_peer(void *cfg, const char *val, const char **why)
{
	return iw_policy_deny_add(&((struct iw_conf *)cfg)->policy, val ? val : "", why);
}

static int o_rest_sep(void *cfg, const char *val, const char **why)
{
	/* One printable character that cannot start a decimal expiry. */
	if (!val || strlen(val) != 1 || val[0] <= ' ' || val[0] > '~' || (val[0] >= '0' && val[0] <= '9')) {
		*why = "expected one printable character other than a digit";
		return -EINVAL;
	}
	((struct iw_conf *)cfg)->rest_sep = val[0];
	return 0;
}

static int o_verbose(void *cfg, const char *val, const char **why)
{
	(void)val;
	(void)why;
	((struct iw_conf *)cfg)->verbose = true;
	((struct iw_conf *)cfg)->log_level = IW_LOG_DEBUG;
	return 0;
}

static int o_threads(void *cfg, const char *val, const char **why)
{
	long long v;
	/* coturn's 0 leaves the choice to the server: one per online CPU, as auto. */
	if (val && (!strcmp(val, "auto") || !strcmp(val, "0"))) {
		((struct iw_conf *)cfg)->threads = iw_conf_default_threads();
		return 0;
	}
	if (iw_config_int(val, 1, IW_CONF_MAX_THREADS, &v, why))
		return -EINVAL;
	((struct iw_conf *)cfg)->threads = (uint32_t)v;
	return 0;
}

/* coturn options that iceway cannot honour and must not ignore. */
static int o_no_tlsv1_2(void *cfg, const char *val, const char **why)
{
	(void)cfg;
	(void)val;
	*why = "the TLS listener (mbedTLS 2.28) has no TLS 1.3: no client could connect";
	return -EINVAL;
}

/* ADDR or ADDR:PORT ([V6ADDR]:PORT), coturn's form, with its default port when none. */
static int alt_parse(struct iw_addr *a, const char *val, uint16_t def_port, const char **why)
{
	if (!val || iw_addr_parse(a, val)) {
		*why = "not an ADDR[:PORT] ([V6ADDR]:PORT for IPv6 with a port)";
		return -EINVAL;
	}
	if (!a->port)
		a->port = def_port;
	return 0;
}

static int alt_add(struct iw_addr *tab, unsigned *n, const char *val, uint16_t def_port, const char **why)
{
	if (*n == IW_CONF_MAX_ALT) {
		*why = "given too many times (at most 16)";
		return -EINVAL;
	}
	if (alt_parse(&tab[*n], val, def_port, why))
		return -EINVAL;
	(*n)++;
	return 0;
}

static int o_alt_server(void *cfg, const char *val, const char **why)
{
	struct iw_conf *c = cfg;
	return alt_add(c->alt, &c->n_alt, val, 3478, why);
}

static int o_tls_alt_server(void *cfg, const char *val, const char **why)
{
	struct iw_conf *c = cfg;
	return alt_add(c->tls_alt, &c->n_tls_alt, val, 5349, why);
}

static void clear_alt(void *cfg)
{
	((struct iw_conf *)cfg)->n_alt = 0;
}

static void clear_tls_alt(void *cfg)
{
	((struct iw_conf *)cfg)->n_tls_alt = 0;
}

static int o_drain_alt(void *cfg, const char *val, const char **why)
{
	struct iw_conf *c = cfg;
	if (!val || iw_addr_parse(&c->drain_alt, val) || !c->drain_alt.port) {
		*why = "not an ADDR:PORT";
		return -EINVAL;
	}
	c->has_drain_alt = true;
	return 0;
}

/* A repeatable option given again by a later source (environment, command line) starts over. */
static void clear_listen(void *cfg)
{
	((struct iw_conf *)cfg)->n_listen = 0;
}

static void clear_relay(void *cfg)
{
	((struct iw_conf *)cfg)->n_relay = 0;
}

static void clear_ext(void *cfg)
{
	((struct iw_conf *)cfg)->n_ext = 0;
}

static void clear_allowed(void *cfg)
{
	((struct iw_conf *)cfg)->policy.n_allow = 0;
}

static void clear_denied(void *cfg)
{
	((struct iw_conf *)cfg)->policy.n_deny = 0;
}

#define AT(m) IW_OPT_AT(struct iw_conf, m)
/* A coturn option iceway ignores, and the warning says what it does instead. */
#define IGNORED(n, instead)                                                \
	{                                                                  \
		.name = (n), .kind = IW_OPT_UNSUPPORTED, .help = (instead) \
	}
#define IGNORED_ARG(n, instead)                                                \
	{                                                                      \
		.name = (n), .kind = IW_OPT_UNSUPPORTED_ARG, .help = (instead) \
	}

const struct iw_opt iw_conf_opts[] = {
	{ .name = "listening-ip",
	  .short_name = 'L',
	  .kind = IW_OPT_REQUIRED,
	  .flags = IW_OPT_REPEAT,
	  .clear = clear_listen,
	  .set = o_listening_ip,
	  .def_doc = "0.0.0.0 and ::",
	  .help = "IP: listen on this address (repeatable)" },
	{ .name = "listening-port",
	  .short_name = 'p',
	  .kind = IW_OPT_INT,
	  AT(port),
	  .min = 1,
	  .max = 65535,
	  .def = "3478",
	  .help = "PORT: STUN/TURN UDP and TCP port" },
	{ .name = "alt-listening-port",
	  .kind = IW_OPT_INT,
	  AT(alt_port),
	  .min = 0,
	  .max = 65535,
	  .def = "0",
	  .help = "PORT: RFC 5780 alternate UDP port, opened on each listening-ip when two of one family "
		  "are given (0: listening-port + 1)" },
	{ .name = "no-rfc5780",
	  .kind = IW_OPT_FLAG,
	  AT(no_rfc5780),
	  .help = "no RFC 5780 NAT behaviour discovery (no alternate port, no OTHER-ADDRESS), even with "
		  "two listening-ip of one family" },
	{ .name = "relay-ip",
	  .short_name = 'E',
	  .kind = IW_OPT_REQUIRED,
	  .flags = IW_OPT_REPEAT,
	  .clear = clear_relay,
	  .set = o_relay_ip,
	  .def_doc = "a listening or interface address",
	  .help = "IP: bind relayed addresses here (one per family)" },
	{ .name = "external-ip",
	  .short_name = 'X',
	  .kind = IW_OPT_REQUIRED,
	  .flags = IW_OPT_REPEAT,
	  .clear = clear_ext,
	  .set = o_external_ip,
	  .help = "IP[/IP]: advertise PUBLIC as the relayed address (bind PRIVATE)" },
	{ .name = "min-port",
	  .kind = IW_OPT_INT,
	  AT(min_port),
	  .min = 1,
	  .max = 65535,
	  .def = "49152",
	  .help = "PORT: lowest relay port" },
	{ .name = "max-port",
	  .kind = IW_OPT_INT,
	  AT(max_port),
	  .min = 1,
	  .max = 65535,
	  .def = "65535",
	  .help = "PORT: highest relay port" },
	{ .name = "realm",
	  .short_name = 'r',
	  .kind = IW_OPT_STR,
	  AT(realm),
	  .max = 127,
	  .def = "iceway",
	  .help = "REALM: authentication realm" },
	{ .name = "user",
	  .short_name = 'u',
	  .kind = IW_OPT_LIST,
	  .flags = IW_OPT_SECRET,
	  AT(users),
	  .count_off = offsetof(struct iw_conf, n_users),
	  .max = IW_CONF_MAX_USERS,
	  .check = check_user,
	  .help = "USER: NAME:PASS long-term credential (or NAME:0xHEXKEY; repeatable)" },
	{ .name = "lt-cred-mech",
	  .short_name = 'a',
	  .kind = IW_OPT_FLAG,
	  AT(lt_cred),
	  .help = "use long-term credentials" },
	{ .name = "use-auth-secret",
	  .kind = IW_OPT_FLAG,
	  AT(use_secret),
	  .help = "TURN REST API credentials (with static-auth-secret)" },
	{ .name = "static-auth-secret",
	  .kind = IW_OPT_LIST,
	  .flags = IW_OPT_SECRET,
	  AT(secrets),
	  .count_off = offsetof(struct iw_conf, n_secrets),
	  .max = IW_CONF_MAX_SECRETS,
	  .help = "SECRET: TURN REST API shared secret (repeatable; any may match)" },
	{ .name = "redis-userdb",
	  .short_name = 'N',
	  .kind = IW_OPT_STR,
	  .flags = IW_OPT_SECRET,
	  AT(redis_userdb),
	  .check = check_redis_userdb,
	  .help = "CONN: coturn's Redis user database, \"ip=ADDR port=P dbname=N password=PW "
		  "connect_timeout=S\": the realm's users (turn/realm/REALM/user/NAME/key) and REST "
		  "secrets (turn/realm/REALM/secret), as turnadmin writes them, loaded off the packet "
		  "path; while Redis is down the users loaded last keep working" },
	{ .name = "redis-userdb-max-users",
	  .kind = IW_OPT_INT,
	  AT(userdb_max_users),
	  .min = 1,
	  .max = 10000000,
	  .def = "100000",
	  .help = "N: most users loaded from redis-userdb (the rest are left out, with a warning)" },
	{ .name = "redis-userdb-refresh",
	  .kind = IW_OPT_INT,
	  AT(userdb_refresh_s),
	  .min = 1,
	  .max = 86400,
	  .def = "10",
	  .help = "S: load redis-userdb again this often (and at most once a second when an unknown "
		  "user tries)" },
	{ .name = "allowed-peer-ip",
	  .kind = IW_OPT_REQUIRED,
	  .flags = IW_OPT_REPEAT,
	  .clear = clear_allowed,
	  .set = o_allowed_peer,
	  .help = "RANGE: allow peers in CIDR or A-B range (repeatable)" },
	{ .name = "denied-peer-ip",
	  .kind = IW_OPT_REQUIRED,
	  .flags = IW_OPT_REPEAT,
	  .clear = clear_denied,
	  .set = o_denied_peer,
	  .help = "RANGE: refuse peers in CIDR or A-B range (repeatable; allowed-peer-ip makes exceptions)" },
	{ .name = "allow-loopback-peers",
	  .kind = IW_OPT_FLAG,
	  AT(policy.allow_loopback),
	  .help = "allow loopback peers (single-host testing only)" },
	{ .name = "no-loopback-peers",
	  .kind = IW_OPT_ALIAS,
	  .alias_of = "allow-loopback-peers",
	  .def = "no",
	  .help = "refuse loopback peers (the default)" },
	{ .name = "allow-self-peers",
	  .kind = IW_OPT_FLAG,
	  AT(policy.allow_self),
	  .help = "allow the relay's own addresses as peers outside the relay range (never on a reachable "
		  "address)" },
	{ .name = "user-quota",
	  .kind = IW_OPT_INT,
	  AT(user_quota),
	  .min = 0,
	  .max = IW_REALM_QUOTA_MAX,
	  .def = "0",
	  .help = "N: allocations per user (0: unlimited)" },
	{ .name = "max-bps",
	  .short_name = 's',
	  .kind = IW_OPT_INT,
	  AT(max_bps),
	  .min = 0,
	  .max = IW_REALM_BPS_MAX,
	  .def = "0",
	  .help = "BYTES: bytes a second one allocation may relay, both directions together (coturn "
		  "limits each direction on its own); past it datagrams are dropped (0: no limit)" },
	{ .name = "max-pps",
	  .kind = IW_OPT_INT,
	  AT(max_pps),
	  .min = 0,
	  .max = 1000000000,
	  .def = "0",
	  .help = "N: datagrams a second one allocation may relay, both directions together; past it "
		  "they are dropped (0: no limit)" },
	{ .name = "user-max-bps",
	  .kind = IW_OPT_INT,
	  AT(user_max_bps),
	  .min = 0,
	  .max = 1000000000000LL,
	  .def = "0",
	  .help = "BYTES: bytes a second all allocations of one user may relay together, over every "
		  "worker (the user part of a REST username); past it datagrams are dropped (0: no "
		  "limit)" },
	{ .name = "bps-capacity",
	  .short_name = 'B',
	  .kind = IW_OPT_INT,
	  AT(bps_capacity),
	  .min = 0,
	  .max = 1000000000000LL,
	  .def = "0",
	  .help = "BYTES: relayed bytes a second (measured each second) at which new allocations are "
		  "refused with 508; existing ones keep relaying (0: no limit)" },
	{ .name = "max-new-peers-per-sec",
	  .kind = IW_OPT_INT,
	  AT(max_new_peers),
	  .min = 0,
	  .max = 1000000,
	  .def = "0",
	  .help = "N: new peer addresses a second one allocation may reach (CreatePermission, "
		  "ChannelBind: 403; Send indications: dropped), a burst of one second's worth (0: no "
		  "limit)" },
	{ .name = "limit-burst",
	  .kind = IW_OPT_INT,
	  AT(limit_burst_ms),
	  .min = 10,
	  .max = 10000,
	  .def = "1000",
	  .help = "MS: max-bps, max-pps and user-max-bps let a burst of this long's worth through (at "
		  "least 2048 bytes)" },
	{ .name = "user-overflow-quota",
	  .kind = IW_OPT_INT,
	  AT(user_ext_quota),
	  .min = 0,
	  .max = 1000000,
	  .def = "0",
	  .help = "N: overflow blocks (permission/channel sets past the inline four) one user's allocations "
		  "may hold (0: a quarter of a worker's pool)" },
	{ .name = "rest-api-separator",
	  .kind = IW_OPT_REQUIRED,
	  .set = o_rest_sep,
	  .def = ":",
	  .help = "C: the character between expiry and user in TURN REST usernames; quotas count the user "
		  "part" },
	{ .name = "rest-strict-expiry",
	  .kind = IW_OPT_BOOL,
	  AT(rest_strict_expiry),
	  .def = "no",
	  .help = "an allocation made with a TURN REST credential ends when the credential's timestamp "
		  "passes (its lifetime is capped at it)" },
	{ .name = "unauth-answer-rate",
	  .kind = IW_OPT_INT,
	  AT(unauth_rate),
	  .min = 0,
	  .max = 1000000,
	  .def = "500",
	  .help = "N: UDP answers per second to a source without credentials (burst 2N; 0: no limit)" },
	{ .name = "unauth-answer-ratio",
	  .kind = IW_OPT_INT,
	  AT(unauth_ratio),
	  .min = 0,
	  .max = 100,
	  .def = "4",
	  .help = "N: answer bytes to a source without credentials at most N times its request bytes (0: no "
		  "limit)" },
	{ .name = "total-quota",
	  .kind = IW_OPT_INT,
	  AT(total_quota),
	  .min = 0,
	  .max = IW_REALM_QUOTA_MAX,
	  .def = "0",
	  .help = "N: allocations in total (0: max-allocations)" },
	{ .name = "max-allocate-lifetime",
	  .kind = IW_OPT_INT,
	  AT(max_lifetime_s),
	  .min = 60,
	  .max = 86400,
	  .def = "3600",
	  .help = "SECONDS: longest allocation lifetime" },
	{ .name = "stale-nonce",
	  .kind = IW_OPT_INT,
	  AT(stale_nonce_s),
	  .min = 1,
	  .max = 86400,
	  .def = "600",
	  .bare = "600",
	  .help = "SECONDS: nonce lifetime" },
	{ .name = "fingerprint",
	  .short_name = 'f',
	  .kind = IW_OPT_FLAG,
	  AT(fingerprint),
	  .help = "add FINGERPRINT to every response" },
	{ .name = "no-auth",
	  .kind = IW_OPT_FLAG,
	  AT(no_auth),
	  .help = "TURN without credentials (never on a reachable address)" },
	{ .name = "allow-rfc5766-channels",
	  .kind = IW_OPT_FLAG,
	  AT(rfc5766_channels),
	  .help = "accept channel numbers 0x5000-0x7FFF as RFC 5766 clients use (coturn's uclient)" },
	{ .name = "verbose",
	  .short_name = 'v',
	  .kind = IW_OPT_NONE,
	  .set = o_verbose,
	  .help = "log each request (the same as log-level debug)" },
	{ .name = "pidfile", .kind = IW_OPT_STR, AT(pidfile), .help = "FILE: write the process id here" },
	{ .name = "max-allocations",
	  .kind = IW_OPT_INT,
	  AT(max_allocs),
	  .min = 1,
	  .max = 1 << 22,
	  .def = "16384",
	  .help = "N: allocation table capacity" },
	{ .name = "relay-batch-wait",
	  .kind = IW_OPT_INT,
	  AT(batch_wait_us),
	  .min = 0,
	  .max = 1000,
	  .def = "100",
	  .help = "MICROSECONDS: under load, let datagrams gather this long between wake-ups" },
	{ .name = "relay-io",
	  .kind = IW_OPT_ENUM,
	  AT(relay_io),
	  .choices = "auto|io_uring|syscalls",
	  .def = "auto",
	  .help = "batch the packet path's syscalls with io_uring (auto: when the kernel allows it)" },
	/* One UDP worker per online CPU. Relay ports and EVEN-PORT reservations are shared by all of
	 * them (turn/ports.c), so a RESERVATION-TOKEN that SO_REUSEPORT hands to another worker is
	 * still redeemed. */
	{ .name = "relay-threads",
	  .kind = IW_OPT_REQUIRED,
	  .set = o_threads,
	  .def = "auto",
	  .help = "N: UDP worker threads, at most 64 (auto: one per online CPU)" },
	{ .name = "no-tls", .kind = IW_OPT_FLAG, AT(no_tls), .help = "no TLS listener" },
	{ .name = "no-dtls", .kind = IW_OPT_NONE, .help = "no DTLS listener (iceway has none yet)" },
	{ .name = "no-cli", .kind = IW_OPT_NONE, .help = "no telnet CLI (iceway has none)" },
	{ .name = "no-tcp", .kind = IW_OPT_FLAG, AT(no_tcp), .help = "no TCP listener" },
	{ .name = "tls-listening-port",
	  .kind = IW_OPT_INT,
	  AT(tls_port),
	  .min = 1,
	  .max = 65535,
	  .def = "5349",
	  .help = "PORT: STUN/TURN over TLS port (TLS needs cert and pkey)" },
	{ .name = "cert", .kind = IW_OPT_STR, AT(cert), .help = "FILE: TLS certificate chain (PEM)" },
	{ .name = "pkey", .kind = IW_OPT_STR, AT(pkey), .help = "FILE: TLS private key (PEM)" },
	{ .name = "cipher-list",
	  .kind = IW_OPT_STR,
	  AT(cipher_list),
	  .def_doc = "mbedTLS defaults",
	  .help = "LIST: TLS 1.2 cipher suites as an OpenSSL cipher string (ECDHE+AESGCM:!SHA1, names); "
		  "what mbedTLS lacks is skipped with a warning" },
	{ .name = "ec-curve-name",
	  .kind = IW_OPT_STR,
	  AT(ec_curve),
	  .def_doc = "mbedTLS's list",
	  .help = "NAME: the one ECDHE curve (prime256v1, secp384r1, secp521r1, x25519 ...)" },
	/* Read with cert and pkey (turn/tls.c), so that it stops the relay only where TLS is on. */
	{ .name = "dh-file",
	  .kind = IW_OPT_STR,
	  AT(dh_file),
	  .def_doc = "RFC 3526 2048-bit",
	  .help = "FILE: the DHE group (PEM DH PARAMETERS, at least 1024 bits)" },
	{ .name = "dh2066", .kind = IW_OPT_NONE, .help = "a 2048-bit DHE group (always, unless dh-file)" },
	{ .name = "max-tcp-connections",
	  .kind = IW_OPT_INT,
	  AT(max_tcp_conns),
	  .min = 1,
	  .max = 1 << 20,
	  .def = "4096",
	  .help = "N: TCP and TLS client connections at most" },
	{ .name = "stream-timeout",
	  .kind = IW_OPT_INT,
	  AT(stream_timeout_s),
	  .min = 1,
	  .max = 3600,
	  .def = "10",
	  .help = "SECONDS: close a TLS handshake or a partial frame that stalls this long" },
	{ .name = "stream-idle-timeout",
	  .kind = IW_OPT_INT,
	  AT(stream_idle_s),
	  .min = 1,
	  .max = 86400,
	  .def = "60",
	  .help = "SECONDS: close a TCP/TLS connection without an allocation that sent no valid request this "
		  "long" },
	{ .name = "stream-auth-timeout",
	  .kind = IW_OPT_INT,
	  AT(stream_auth_s),
	  .min = 1,
	  .max = 86400,
	  .def = "10",
	  .help = "SECONDS: close a TCP/TLS connection that has not allocated this long after it opened" },
	{ .name = "max-tcp-per-ip",
	  .kind = IW_OPT_INT,
	  AT(max_tcp_per_ip),
	  .min = 1,
	  .max = 1 << 20,
	  .def = "64",
	  .help = "N: TCP and TLS connections at most from one client address" },
	{ .name = "proxy-protocol",
	  .kind = IW_OPT_BOOL,
	  AT(proxy_protocol),
	  .help = "behind a load balancer: TCP and TLS connections from proxy-trusted sources start with a "
		  "PROXY header (v1 or v2) naming the client, required from them and refused from any "
		  "other" },
	{ .name = "proxy-trusted",
	  .kind = IW_OPT_CIDR,
	  AT(proxy_trusted),
	  .count_off = offsetof(struct iw_conf, n_proxy_trusted),
	  .max = IW_CONF_MAX_PROXY_TRUSTED,
	  .def_doc = "none",
	  .help = "RANGE: a load balancer's address or range, repeatable (16)" },
	{ .name = "response-origin-only-with-rfc5780",
	  .kind = IW_OPT_NONE,
	  .help = "RESPONSE-ORIGIN only with RFC 5780 on (always so in iceway)" },
	{ .name = "no-tcp-relay",
	  .kind = IW_OPT_FLAG,
	  AT(no_tcp_relay),
	  .help = "refuse RFC 6062 TCP allocations (REQUESTED-TRANSPORT TCP) with 442" },
	{ .name = "no-udp-relay",
	  .kind = IW_OPT_FLAG,
	  AT(no_udp_relay),
	  .help = "refuse UDP allocations with 442 (RFC 6062 TCP allocations only)" },
	{ .name = "tcp-relay-max-per-allocation",
	  .kind = IW_OPT_INT,
	  AT(tcp_relay_per_alloc),
	  .min = 1,
	  .max = 65535,
	  .def = "32",
	  .help = "N: peer connections of one TCP allocation at most, pending or bound (RFC 6062)" },
	{ .name = "tcp-relay-max-pending",
	  .kind = IW_OPT_INT,
	  AT(tcp_relay_pending),
	  .min = 1,
	  .max = 65535,
	  .def = "256",
	  .help = "N: outgoing peer connections in progress (Connect) at most, over all TCP allocations" },
	{ .name = "tcp-relay-max-per-user",
	  .kind = IW_OPT_INT,
	  AT(tcp_relay_per_user),
	  .min = 1,
	  .max = 65535,
	  .def = "128",
	  .help = "N: peer connections at most over all TCP allocations of one user (the user part of a "
		  "REST username), pending, waiting or bound" },
	{ .name = "tcp-relay-max-connections",
	  .kind = IW_OPT_INT,
	  AT(tcp_relay_conns),
	  .min = 1,
	  .max = 65535,
	  .def = "1024",
	  .help = "N: peer connections at most over all TCP allocations, pending, waiting for a "
		  "ConnectionBind or bound" },
	{ .name = "tcp-relay-connect-timeout",
	  .kind = IW_OPT_INT,
	  AT(tcp_connect_s),
	  .min = 1,
	  .max = 300,
	  .def = "30",
	  .help = "SECONDS: a Connect that has not connected gets 447, and a peer connection not bound by "
		  "a ConnectionBind is closed, after this long (RFC 6062: at least 30; less is for tests)" },
	{ .name = "stun-only",
	  .kind = IW_OPT_FLAG,
	  AT(stun_only),
	  .help = "answer STUN Binding only; TURN gets 403" },
	{ .name = "no-stun",
	  .kind = IW_OPT_FLAG,
	  AT(no_stun),
	  .help = "answer TURN only; STUN Binding gets 403" },
	{ .name = "mobility",
	  .kind = IW_OPT_FLAG,
	  AT(mobility),
	  .help = "RFC 8016 mobility: a UDP client that allocates with a MOBILITY-TICKET keeps its "
		  "allocation when its address changes (a Refresh with the ticket from the new one)" },
	{ .name = "no-software-attribute",
	  .kind = IW_OPT_FLAG,
	  AT(no_software),
	  .help = "send no SOFTWARE attribute (name and version) in answers" },
	{ .name = "permission-lifetime",
	  .kind = IW_OPT_INT,
	  AT(perm_lifetime_s),
	  .min = 30,
	  .max = 86400,
	  .def = "300",
	  .help = "S: lifetime of a permission (RFC 8656: 300)" },
	{ .name = "channel-lifetime",
	  .kind = IW_OPT_INT,
	  AT(chan_lifetime_s),
	  .min = 30,
	  .max = 86400,
	  .def = "600",
	  .help = "S: lifetime of a channel binding (RFC 8656: 600)" },
	{ .name = "pkey-pwd",
	  .kind = IW_OPT_STR,
	  .flags = IW_OPT_SECRET,
	  AT(pkey_pwd),
	  .help = "PASSWORD: of an encrypted pkey" },
	{ .name = "no-tlsv1", .kind = IW_OPT_NONE, .help = "no TLS 1.0 (always: TLS 1.2 is the minimum)" },
	{ .name = "no-tlsv1_1", .kind = IW_OPT_NONE, .help = "no TLS 1.1 (always: TLS 1.2 is the minimum)" },
	{ .name = "no-tlsv1_2",
	  .kind = IW_OPT_NONE,
	  .set = o_no_tlsv1_2,
	  .help = "refused: the TLS listener (mbedTLS 2.28) has no TLS 1.3, so no client could connect" },
	IGNORED_ARG("listening-device", "bind with listening-ip to the device's address"),
	IGNORED_ARG("relay-device", "bind relay sockets with relay-ip to the device's address"),
	IGNORED_ARG("tcp-proxy-port", "put a load balancer in front with proxy-protocol and proxy-trusted"),
	IGNORED_ARG("aux-server", "no RFC 5780 auxiliary servers; Binding answers from the main address"),
	IGNORED("udp-self-balance", "the UDP workers share each port through SO_REUSEPORT already"),
	IGNORED("oauth", "no OAuth (RFC 7635); use REST credentials (use-auth-secret)"),
	IGNORED_ARG("psql-userdb", "no SQL user database; use redis-userdb (coturn's Redis one), user= lines "
				   "or REST credentials"),
	IGNORED_ARG("mysql-userdb", "no SQL user database; use redis-userdb (coturn's Redis one), user= "
				    "lines or REST credentials"),
	IGNORED_ARG("mongo-userdb", "no MongoDB user database; use redis-userdb (coturn's Redis one), user= "
				    "lines or REST credentials"),
	IGNORED_ARG("secret-key-file", "coturn keeps OAuth keys with it; iceway has no OAuth"),
	IGNORED("dh566", "a 566-bit DH group is breakable (Logjam): DHE keeps 2048 bits (or dh-file)"),
	IGNORED("dh1066", "a 1066-bit DH group is weak (Logjam): DHE keeps 2048 bits (or dh-file)"),
	IGNORED_ARG("max-allocate-timeout",
		    "an Allocate is answered at once; stream-auth-timeout bounds TCP/TLS"),
	{ .name = "allocation-default-address-family",
	  .kind = IW_OPT_ENUM,
	  AT(alloc_family),
	  .choices = "ipv4|ipv6|keep",
	  .def = "ipv4",
	  .help = "FAMILY: the relayed address family when an Allocate names none (RFC 8656: ipv4; keep: the "
		  "client's own)" },
	{ .name = "keep-address-family",
	  .kind = IW_OPT_ALIAS,
	  .alias_of = "allocation-default-address-family",
	  .def = "keep",
	  .help = "coturn's older spelling of allocation-default-address-family keep" },
	IGNORED_ARG("web-admin-ip", "no web admin; metrics on prometheus-port"),
	IGNORED_ARG("web-admin-port", "no web admin; metrics on prometheus-port"),
	IGNORED("web-admin-listen-on-workers", "no web admin; metrics on prometheus-port"),
	IGNORED_ARG("acme-redirect", "no HTTP on the TURN ports"),
	IGNORED("server-relay", "a coturn debugging mode"),
	IGNORED_ARG("cli-max-output-sessions", "no telnet CLI"),
	IGNORED_ARG("ne", "no RFC 5780 NAT behaviour discovery"),
	{ .name = "no-multicast-peers", .kind = IW_OPT_NONE, .help = "refuse multicast peers (always)" },
	IGNORED("no-udp", "the UDP listener stays: browsers need it"),
	IGNORED_ARG("cli-password", "no telnet CLI; metrics on prometheus-port"),
	IGNORED_ARG("cli-ip", "no telnet CLI; metrics on prometheus-port"),
	IGNORED_ARG("cli-port", "no telnet CLI; metrics on prometheus-port"),
	IGNORED("log-binding", "Binding requests are counted in metrics, not logged"),
	IGNORED("no-stun-backward-compatibility", "classic (RFC 3489) Binding requests are answered"),
	IGNORED_ARG("alt-tls-listening-port", "RFC 5780 is served over UDP only (alt-listening-port)"),
	IGNORED_ARG("server-name", "the realm names the server"),
	{ .name = "external-ip-env",
	  .kind = IW_OPT_REQUIRED,
	  .set = o_external_ip_env,
	  .help = "NAME: external-ip from environment variable NAME (PUBLIC[/PRIVATE])" },
	{ .name = "alternate-server",
	  .kind = IW_OPT_REQUIRED,
	  .flags = IW_OPT_REPEAT,
	  .set = o_alt_server,
	  .clear = clear_alt,
	  .def_doc = "none",
	  .help = "ADDR[:PORT]: answer every new allocation of a UDP or TCP client with 300 Try "
		  "Alternate to one of these, in turn, of the client's family (coturn's load balancing; "
		  "port 3478 by default; repeatable, 16)" },
	{ .name = "tls-alternate-server",
	  .kind = IW_OPT_REQUIRED,
	  .flags = IW_OPT_REPEAT,
	  .set = o_tls_alt_server,
	  .clear = clear_tls_alt,
	  .def_doc = "none",
	  .help = "ADDR[:PORT]: the same for TLS clients (port 5349 by default; repeatable, 16)" },
	{ .name = "drain-alternate-server",
	  .kind = IW_OPT_REQUIRED,
	  .set = o_drain_alt,
	  .help = "ADDR:PORT: while draining, answer new allocations with 300 Try Alternate to it "
		  "(otherwise 508)" },
	{ .name = "accounting-interval",
	  .kind = IW_OPT_INT,
	  AT(acct_interval_s),
	  .min = 0,
	  .max = 86400,
	  .def = "0",
	  .help = "S: also log an interim accounting record of each live allocation every S s (0: only the "
		  "final record as it ends)" },
	{ .name = "drain-timeout",
	  .kind = IW_OPT_INT,
	  AT(drain_timeout_s),
	  .min = 0,
	  .max = 86400,
	  .def = "0",
	  .help = "S: on SIGTERM, refuse new allocations and relay existing ones up to S s (0: exit at "
		  "once)" },
	{ .name = "check",
	  .kind = IW_OPT_STR,
	  .flags = IW_OPT_HOSTPORT | IW_OPT_NOENV,
	  AT(check),
	  .help = "ADDR:PORT: send one STUN Binding there, exit 0 on a valid answer" },
	IW_OPT_PROMETHEUS(struct iw_conf, prometheus, prom_port, prom_addr, "9641"),
	{ .name = "admin-token",
	  .kind = IW_OPT_STR,
	  .flags = IW_OPT_SECRET,
	  AT(admin_token),
	  .min = 16,
	  .max = 256,
	  .help = "TOKEN: serve the admin API under /admin/ on the metrics listener (prometheus), "
		  "for requests with Authorization: Bearer TOKEN; best as admin-token-file FILE" },
	IW_OPT_LOG(struct iw_conf, log_level, log_json, log_file),
	IW_OPT_LOG_COTURN(struct iw_conf, log_syslog, log_facility, log_time_format),
	IW_OPT_CONFIG_FILE,
	IW_OPT_HELP_VERSION(struct iw_conf, help, version),
	IGNORED_ARG("userdb", "no SQLite user database; use redis-userdb (coturn's Redis one), user= lines "
			      "or REST credentials"),
	IGNORED_ARG("redis-statsdb", "statistics go to Prometheus (prometheus-port)"),
	IGNORED_ARG("proc-user", "run as a user from the service manager or the container (the image does)"),
	IGNORED_ARG("proc-group", "run as a user from the service manager or the container (the image does)"),
	IGNORED_ARG("total-quota-bps", "bps-capacity bounds the total; max-bps and user-max-bps bound "
				       "allocations and users"),
	IGNORED("secure-stun", "Binding needs no credentials (browsers send none)"),
	IGNORED("check-origin-consistency", "ORIGIN attributes are not checked"),
	IGNORED("web-admin", "no web admin; metrics on prometheus-port"),
	IW_OPT_END("ICEWAY_RELAY_"),
};

bool iw_conf_rfc5780(const struct iw_conf *c)
{
	unsigned n[2] = { 0, 0 };
	if (c->no_rfc5780 || c->alt_port == 0)
		return false;
	for (unsigned i = 0; i < c->n_listen; i++)
		if (!iw_addr_is_any(&c->listen[i]))
			n[c->listen[i].family == AF_INET6]++;
	return n[0] >= 2 || n[1] >= 2;
}

int iw_conf_finish(struct iw_conf *c, const char **why)
{
	if (c->admin_token && !c->prometheus) {
		*why = "admin-token needs prometheus: the admin API is served on the metrics listener";
		return -EINVAL;
	}
	if (c->min_port > c->max_port) {
		*why = "min-port is greater than max-port";
		return -EINVAL;
	}
	if (c->alt_port == 0)
		c->alt_port = c->port < 65535 ? (uint16_t)(c->port + 1) : 0;
	if (c->alt_port == c->port) {
		*why = "alt-listening-port is listening-port";
		return -EINVAL;
	}
	if (c->n_listen == 0) {
		iw_addr_parse(&c->listen[0], "0.0.0.0");
		iw_addr_parse(&c->listen[1], "::");
		c->n_listen = 2;
	}
	if (c->use_secret && c->n_secrets == 0) {
		*why = "use-auth-secret needs static-auth-secret";
		return -EINVAL;
	}
	if (c->n_secrets && !c->use_secret)
		c->use_secret = true;
	if (!c->use_secret && c->n_users == 0 && !c->no_auth && !c->redis_userdb) {
		*why = "no credentials: give user NAME:PASS (lt-cred-mech) or use-auth-secret";
		return -EINVAL;
	}
	if (c->n_users || c->redis_userdb)
		c->lt_cred = true;
	if (c->total_quota == 0 || c->total_quota > c->max_allocs)
		c->total_quota = c->max_allocs;
	if (c->max_lifetime_s < c->default_lifetime_s)
		c->default_lifetime_s = c->max_lifetime_s;
	return 0;
}
