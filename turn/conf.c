/* iceway-relay options table: coturn's long names, iceway's defaults. Setters validate and
 * store; start-up fails on the first bad value with the file, line and option. */
#include "turn/conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "turn/auth.h"

uint32_t iw_conf_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	return n > IW_CONF_MAX_THREADS ? IW_CONF_MAX_THREADS : (uint32_t)n;
}

void iw_conf_init(struct iw_conf *c)
{
	memset(c, 0, sizeof *c);
	c->port = 3478;
	c->min_port = 49152;
	c->max_port = 65535;
	c->default_lifetime_s = 600;
	c->max_lifetime_s = 3600;
	c->perm_lifetime_s = 300;
	c->chan_lifetime_s = 600;
	c->stale_nonce_s = 600;
	c->rest_sep = ':';
	c->unauth_rate = IW_AUTH_RL_RATE;
	c->unauth_ratio = IW_AUTH_RL_RATIO;
	c->max_allocs = 16384;
	/* One UDP worker per online CPU. Relay ports and EVEN-PORT reservations are shared by
	 * all of them (turn/ports.c), so a RESERVATION-TOKEN that SO_REUSEPORT hands to another
	 * worker is still redeemed. */
	c->threads = iw_conf_default_threads();
	c->batch_wait_us = 100;
	c->prom_port = 9641;
	c->log_level = -1;
	c->tls_port = 5349;
	c->max_tcp_conns = 4096;
	c->stream_timeout_s = 10;
	c->stream_idle_s = 60;
	c->stream_auth_s = 10;
	c->max_tcp_per_ip = 64;
	iw_policy_init(&c->policy);
}

static void wipe_free(char *s)
{
	if (!s)
		return;
	memset(s, 0, strlen(s));
	free(s);
}

void iw_conf_fini(struct iw_conf *c)
{
	for (unsigned i = 0; i < c->n_users; i++)
		wipe_free(c->users[i]);
	for (unsigned i = 0; i < c->n_secrets; i++)
		wipe_free(c->secrets[i]);
	free(c->realm);
	free(c->log_file);
	free(c->pidfile);
	free(c->cert);
	free(c->pkey);
	free(c->cipher_list);
	free(c->prom_addr);
	free(c->check);
	memset(c, 0, sizeof *c);
}

static int set_str(char **dst, const char *val, const char **why)
{
	if (!val || !*val) {
		*why = "empty value";
		return -EINVAL;
	}
	char *s = strdup(val);
	if (!s) {
		*why = "out of memory";
		return -ENOMEM;
	}
	free(*dst);
	*dst = s;
	return 0;
}

/* val is one of names[0..n): its index, or -EINVAL with must as the reason. */
static int set_choice(unsigned *dst, const char *val, const char *const *names, unsigned n, const char *must,
		      const char **why)
{
	for (unsigned i = 0; val && i < n; i++) {
		if (!strcmp(val, names[i])) {
			*dst = i;
			return 0;
		}
	}
	*why = must;
	return -EINVAL;
}

static int set_u32(uint32_t *dst, const char *val, long long min, long long max, const char **why)
{
	long long v;
	int rc = iw_config_int(val, min, max, &v, why);
	if (rc == 0)
		*dst = (uint32_t)v;
	return rc;
}

static int set_u16(uint16_t *dst, const char *val, const char **why)
{
	uint32_t v;
	int rc = set_u32(&v, val, 1, 65535, why);
	if (rc == 0)
		*dst = (uint16_t)v;
	return rc;
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

static int o_listening_port(void *cfg, const char *val, const char **why)
{
	return set_u16(&((struct iw_conf *)cfg)->port, val, why);
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

static int o_min_port(void *cfg, const char *val, const char **why)
{
	return set_u16(&((struct iw_conf *)cfg)->min_port, val, why);
}

static int o_max_port(void *cfg, const char *val, const char **why)
{
	return set_u16(&((struct iw_conf *)cfg)->max_port, val, why);
}

static int o_realm(void *cfg, const char *val, const char **why)
{
	if (val && strlen(val) >= 128) {
		*why = "longer than 127 characters";
		return -EINVAL;
	}
	return set_str(&((struct iw_conf *)cfg)->realm, val, why);
}

static int o_user(void *cfg, const char *val, const char **why)
{
	struct iw_conf *c = cfg;
	if (!val || !strchr(val, ':') || val[0] == ':') {
		*why = "expected NAME:PASSWORD or NAME:0xHEXKEY";
		return -EINVAL;
	}
	if (c->n_users == IW_CONF_MAX_USERS) {
		*why = "too many users (at most 1024)";
		return -EINVAL;
	}
	c->users[c->n_users] = NULL;
	if (set_str(&c->users[c->n_users], val, why))
		return -EINVAL;
	c->n_users++;
	return 0;
}

static int o_lt_cred(void *cfg, const char *val, const char **why)
{
	return iw_config_bool(val, &((struct iw_conf *)cfg)->lt_cred, why);
}

static int o_use_secret(void *cfg, const char *val, const char **why)
{
	return iw_config_bool(val, &((struct iw_conf *)cfg)->use_secret, why);
}

static int o_secret(void *cfg, const char *val, const char **why)
{
	struct iw_conf *c = cfg;
	if (c->n_secrets == IW_CONF_MAX_SECRETS) {
		*why = "too many static-auth-secret (at most 16)";
		return -EINVAL;
	}
	c->secrets[c->n_secrets] = NULL;
	if (set_str(&c->secrets[c->n_secrets], val, why))
		return -EINVAL;
	c->n_secrets++;
	return 0;
}

static int o_allowed_peer(void *cfg, const char *val, const char **why)
{
	return iw_policy_allow_add(&((struct iw_conf *)cfg)->policy, val ? val : "", why);
}

static int o_denied_peer(void *cfg, const char *val, const char **why)
{
	return iw_policy_deny_add(&((struct iw_conf *)cfg)->policy, val ? val : "", why);
}

static int o_allow_loopback(void *cfg, const char *val, const char **why)
{
	return iw_config_bool(val, &((struct iw_conf *)cfg)->policy.allow_loopback, why);
}

static int o_allow_self(void *cfg, const char *val, const char **why)
{
	return iw_config_bool(val, &((struct iw_conf *)cfg)->policy.allow_self, why);
}

static int o_no_loopback(void *cfg, const char *val, const char **why)
{
	bool b;
	int rc = iw_config_bool(val, &b, why);
	if (rc == 0)
		((struct iw_conf *)cfg)->policy.allow_loopback = !b;
	return rc;
}

static int o_user_quota(void *cfg, const char *val, const char **why)
{
	return set_u32(&((struct iw_conf *)cfg)->user_quota, val, 0, 1000000, why);
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

static int o_unauth_rate(void *cfg, const char *val, const char **why)
{
	return set_u32(&((struct iw_conf *)cfg)->unauth_rate, val, 0, 1000000, why);
}

static int o_unauth_ratio(void *cfg, const char *val, const char **why)
{
	return set_u32(&((struct iw_conf *)cfg)->unauth_ratio, val, 0, 100, why);
}

static int o_user_ext_quota(void *cfg, const char *val, const char **why)
{
	return set_u32(&((struct iw_conf *)cfg)->user_ext_quota, val, 0, 1000000, why);
}

static int o_total_quota(void *cfg, const char *val, const char **why)
{
	return set_u32(&((struct iw_conf *)cfg)->total_quota, val, 0, 1000000, why);
}

static int o_max_lifetime(void *cfg, const char *val, const char **why)
{
	return set_u32(&((struct iw_conf *)cfg)->max_lifetime_s, val, 60, 86400, why);
}

static int o_stale_nonce(void *cfg, const char *val, const char **why)
{
	struct iw_conf *c = cfg;
	if (!val) { /* coturn: a bare stale-nonce means 600 s */
		c->stale_nonce_s = 600;
		return 0;
	}
	return set_u32(&c->stale_nonce_s, val, 1, 86400, why);
}

static int o_fingerprint(void *cfg, const char *val, const char **why)
{
	return iw_config_bool(val, &((struct iw_conf *)cfg)->fingerprint, why);
}

static int o_no_auth(void *cfg, const char *val, const char **why)
{
	return iw_config_bool(val, &((struct iw_conf *)cfg)->no_auth, why);
}

static int o_rfc5766_channels(void *cfg, const char *val, const char **why)
{
	return iw_config_bool(val, &((struct iw_conf *)cfg)->rfc5766_channels, why);
}

static int o_verbose(void *cfg, const char *val, const char **why)
{
	return iw_config_bool(val, &((struct iw_conf *)cfg)->verbose, why);
}

static int o_log_file(void *cfg, const char *val, const char **why)
{
	return set_str(&((struct iw_conf *)cfg)->log_file, val, why);
}

static int o_pidfile(void *cfg, const char *val, const char **why)
{
	return set_str(&((struct iw_conf *)cfg)->pidfile, val, why);
}

static int o_max_allocs(void *cfg, const char *val, const char **why)
{
	return set_u32(&((struct iw_conf *)cfg)->max_allocs, val, 1, 1 << 22, why);
}

static int o_batch_wait(void *cfg, const char *val, const char **why)
{
	return set_u32(&((struct iw_conf *)cfg)->batch_wait_us, val, 0, 1000, why);
}

static int o_relay_io(void *cfg, const char *val, const char **why)
{
	/* In the order of IW_RELAY_IO_*. */
	static const char *const modes[] = { "auto", "io_uring", "syscalls" };
	unsigned i;
	int rc = set_choice(&i, val, modes, 3, "must be auto, io_uring or syscalls", why);
	if (rc == 0)
		((struct iw_conf *)cfg)->relay_io = (uint8_t)i;
	return rc;
}

static int o_threads(void *cfg, const char *val, const char **why)
{
	return set_u32(&((struct iw_conf *)cfg)->threads, val, 1, IW_CONF_MAX_THREADS, why);
}

static int o_help(void *cfg, const char *val, const char **why)
{
	(void)val;
	(void)why;
	((struct iw_conf *)cfg)->help = true;
	return 0;
}

static int o_version(void *cfg, const char *val, const char **why)
{
	(void)val;
	(void)why;
	((struct iw_conf *)cfg)->version = true;
	return 0;
}

static int o_tls_port(void *cfg, const char *val, const char **why)
{
	return set_u16(&((struct iw_conf *)cfg)->tls_port, val, why);
}

static int o_no_tcp(void *cfg, const char *val, const char **why)
{
	return iw_config_bool(val, &((struct iw_conf *)cfg)->no_tcp, why);
}

static int o_no_tls(void *cfg, const char *val, const char **why)
{
	return iw_config_bool(val, &((struct iw_conf *)cfg)->no_tls, why);
}

static int o_cert(void *cfg, const char *val, const char **why)
{
	return set_str(&((struct iw_conf *)cfg)->cert, val, why);
}

static int o_pkey(void *cfg, const char *val, const char **why)
{
	return set_str(&((struct iw_conf *)cfg)->pkey, val, why);
}

static int o_cipher_list(void *cfg, const char *val, const char **why)
{
	return set_str(&((struct iw_conf *)cfg)->cipher_list, val, why);
}

static int o_max_tcp(void *cfg, const char *val, const char **why)
{
	return set_u32(&((struct iw_conf *)cfg)->max_tcp_conns, val, 1, 1 << 20, why);
}

static int o_stream_timeout(void *cfg, const char *val, const char **why)
{
	return set_u32(&((struct iw_conf *)cfg)->stream_timeout_s, val, 1, 3600, why);
}

static int o_stream_idle(void *cfg, const char *val, const char **why)
{
	return set_u32(&((struct iw_conf *)cfg)->stream_idle_s, val, 1, 86400, why);
}

static int o_stream_auth(void *cfg, const char *val, const char **why)
{
	return set_u32(&((struct iw_conf *)cfg)->stream_auth_s, val, 1, 86400, why);
}

static int o_max_tcp_per_ip(void *cfg, const char *val, const char **why)
{
	return set_u32(&((struct iw_conf *)cfg)->max_tcp_per_ip, val, 1, 1 << 20, why);
}

/* Accepted and ignored: what iceway does anyway, or handled before the table is applied. */
/* --- operations --- */

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

static int o_prometheus(void *cfg, const char *val, const char **why)
{
	return iw_config_bool(val, &((struct iw_conf *)cfg)->prometheus, why);
}

static int o_prom_port(void *cfg, const char *val, const char **why)
{
	uint32_t v;
	int rc = set_u32(&v, val, 0, 65535, why); /* 0: any free port (logged) */
	if (rc == 0)
		((struct iw_conf *)cfg)->prom_port = (uint16_t)v;
	return rc;
}

static int o_prom_addr(void *cfg, const char *val, const char **why)
{
	struct iw_addr a;
	if (parse_ip(&a, val, why))
		return -EINVAL;
	return set_str(&((struct iw_conf *)cfg)->prom_addr, val, why);
}

static int o_alt_server(void *cfg, const char *val, const char **why)
{
	struct iw_conf *c = cfg;
	if (!val || iw_addr_parse(&c->alt_server, val) || !c->alt_server.port) {
		*why = "not an ADDR:PORT";
		return -EINVAL;
	}
	c->has_alt_server = true;
	return 0;
}

static int o_drain_timeout(void *cfg, const char *val, const char **why)
{
	return set_u32(&((struct iw_conf *)cfg)->drain_timeout_s, val, 0, 86400, why);
}

static int o_log_format(void *cfg, const char *val, const char **why)
{
	static const char *const formats[] = { "plain", "json" };
	unsigned i;
	int rc = set_choice(&i, val, formats, 2, "must be plain or json", why);
	if (rc == 0)
		((struct iw_conf *)cfg)->log_json = i == 1;
	return rc;
}

static int o_log_level(void *cfg, const char *val, const char **why)
{
	enum iw_log_level l;
	if (!val || iw_log_parse_level(val, &l)) {
		*why = "must be error, warn, info or debug";
		return -EINVAL;
	}
	((struct iw_conf *)cfg)->log_level = (int)l;
	return 0;
}

static int o_check(void *cfg, const char *val, const char **why)
{
	struct iw_addr a;
	if (!val || iw_addr_parse(&a, val) || !a.port) {
		*why = "not an ADDR:PORT";
		return -EINVAL;
	}
	return set_str(&((struct iw_conf *)cfg)->check, val, why);
}

static int o_noop(void *cfg, const char *val, const char **why)
{
	(void)cfg;
	(void)val;
	(void)why;
	return 0;
}

const struct iw_opt iw_conf_opts[] = {
	{ "listening-ip", 'L', IW_OPT_REQUIRED, o_listening_ip,
	  "IP: listen on this address (repeatable; default 0.0.0.0 and ::)" },
	{ "listening-port", 'p', IW_OPT_REQUIRED, o_listening_port,
	  "PORT: STUN/TURN UDP port (default 3478)" },
	{ "relay-ip", 'E', IW_OPT_REQUIRED, o_relay_ip, "IP: bind relayed addresses here (one per family)" },
	{ "external-ip", 'X', IW_OPT_REQUIRED, o_external_ip,
	  "IP[/IP]: advertise PUBLIC as the relayed address (bind PRIVATE)" },
	{ "min-port", 0, IW_OPT_REQUIRED, o_min_port, "PORT: lowest relay port (default 49152)" },
	{ "max-port", 0, IW_OPT_REQUIRED, o_max_port, "PORT: highest relay port (default 65535)" },
	{ "realm", 'r', IW_OPT_REQUIRED, o_realm, "REALM: authentication realm (default iceway)" },
	{ "user", 'u', IW_OPT_REQUIRED, o_user,
	  "USER: NAME:PASS long-term credential (or NAME:0xHEXKEY; repeatable)" },
	{ "lt-cred-mech", 'a', IW_OPT_NONE, o_lt_cred, "use long-term credentials" },
	{ "use-auth-secret", 0, IW_OPT_NONE, o_use_secret,
	  "TURN REST API credentials (with static-auth-secret)" },
	{ "static-auth-secret", 0, IW_OPT_REQUIRED, o_secret,
	  "SECRET: TURN REST API shared secret (repeatable; any may match)" },
	{ "allowed-peer-ip", 0, IW_OPT_REQUIRED, o_allowed_peer,
	  "RANGE: allow peers in CIDR or A-B range (repeatable)" },
	{ "denied-peer-ip", 0, IW_OPT_REQUIRED, o_denied_peer,
	  "RANGE: refuse peers in CIDR or A-B range (repeatable; deny wins)" },
	{ "allow-loopback-peers", 0, IW_OPT_NONE, o_allow_loopback,
	  "allow loopback peers (single-host testing only)" },
	{ "no-loopback-peers", 0, IW_OPT_NONE, o_no_loopback, "refuse loopback peers (default)" },
	{ "allow-self-peers", 0, IW_OPT_NONE, o_allow_self,
	  "allow the relay's own addresses as peers outside the relay range (never on a reachable "
	  "address)" },
	{ "user-quota", 0, IW_OPT_REQUIRED, o_user_quota, "N: allocations per user (default 0: unlimited)" },
	{ "user-overflow-quota", 0, IW_OPT_REQUIRED, o_user_ext_quota,
	  "N: overflow blocks (permission/channel sets past the inline four) one user's allocations "
	  "may hold (default 0: a quarter of a worker's pool)" },
	{ "rest-api-separator", 0, IW_OPT_REQUIRED, o_rest_sep,
	  "C: the character between expiry and user in TURN REST usernames (default ':'); quotas "
	  "count the user part" },
	{ "unauth-answer-rate", 0, IW_OPT_REQUIRED, o_unauth_rate,
	  "N: UDP answers per second to a source without credentials (burst 2N; default 500; 0: no "
	  "limit)" },
	{ "unauth-answer-ratio", 0, IW_OPT_REQUIRED, o_unauth_ratio,
	  "N: answer bytes to a source without credentials at most N times its request bytes "
	  "(default 4; 0: no limit)" },
	{ "total-quota", 0, IW_OPT_REQUIRED, o_total_quota,
	  "N: allocations in total (default 0: max-allocations)" },
	{ "max-allocate-lifetime", 0, IW_OPT_REQUIRED, o_max_lifetime,
	  "SECONDS: longest allocation lifetime (default 3600)" },
	{ "stale-nonce", 0, IW_OPT_OPTIONAL, o_stale_nonce, "SECONDS: nonce lifetime (default 600)" },
	{ "fingerprint", 'f', IW_OPT_NONE, o_fingerprint, "add FINGERPRINT to every response" },
	{ "no-auth", 0, IW_OPT_NONE, o_no_auth, "TURN without credentials (never on a reachable address)" },
	{ "allow-rfc5766-channels", 0, IW_OPT_NONE, o_rfc5766_channels,
	  "accept channel numbers 0x5000-0x7FFF as RFC 5766 clients use (coturn's uclient)" },
	{ "verbose", 'v', IW_OPT_NONE, o_verbose, "log each request (debug level)" },
	{ "log-file", 'l', IW_OPT_REQUIRED, o_log_file, "FILE: log here instead of stderr" },
	{ "pidfile", 0, IW_OPT_REQUIRED, o_pidfile, "FILE: write the process id here" },
	{ "max-allocations", 0, IW_OPT_REQUIRED, o_max_allocs,
	  "N: allocation table capacity (default 16384)" },
	{ "relay-batch-wait", 0, IW_OPT_REQUIRED, o_batch_wait,
	  "MICROSECONDS: under load, let datagrams gather this long between wake-ups (0-1000, default 100)" },
	{ "relay-io", 0, IW_OPT_REQUIRED, o_relay_io,
	  "auto|io_uring|syscalls: batch the packet path's syscalls with io_uring (auto: when the "
	  "kernel allows it)" },
	{ "relay-threads", 0, IW_OPT_REQUIRED, o_threads,
	  "N: UDP worker threads (default: one per online CPU, at most 64)" },
	{ "config", 'c', IW_OPT_REQUIRED, o_noop, "FILE: read options from FILE first" },
	{ "no-config", 'n', IW_OPT_NONE, o_noop, "do not read a config file" },
	{ "help", 'h', IW_OPT_NONE, o_help, "print this help" },
	{ "version", 0, IW_OPT_NONE, o_version, "print the version" },
	{ "no-tls", 0, IW_OPT_NONE, o_no_tls, "no TLS listener" },
	{ "no-dtls", 0, IW_OPT_NONE, o_noop, "no DTLS listener (iceway has none yet)" },
	{ "no-cli", 0, IW_OPT_NONE, o_noop, "no telnet CLI (iceway has none)" },
	{ "no-tcp", 0, IW_OPT_NONE, o_no_tcp, "no TCP listener" },
	{ "tls-listening-port", 0, IW_OPT_REQUIRED, o_tls_port,
	  "PORT: STUN/TURN over TLS port (default 5349; TLS needs cert and pkey)" },
	{ "cert", 0, IW_OPT_REQUIRED, o_cert, "FILE: TLS certificate chain (PEM)" },
	{ "pkey", 0, IW_OPT_REQUIRED, o_pkey, "FILE: TLS private key (PEM)" },
	{ "cipher-list", 0, IW_OPT_REQUIRED, o_cipher_list,
	  "LIST: TLS 1.2 cipher suites, ':'-separated (IANA or OpenSSL names mbedTLS knows)" },
	{ "max-tcp-connections", 0, IW_OPT_REQUIRED, o_max_tcp,
	  "N: TCP and TLS client connections at most (default 4096)" },
	{ "stream-timeout", 0, IW_OPT_REQUIRED, o_stream_timeout,
	  "SECONDS: close a TLS handshake or a partial frame that stalls this long (default 10)" },
	{ "stream-idle-timeout", 0, IW_OPT_REQUIRED, o_stream_idle,
	  "SECONDS: close a TCP/TLS connection without an allocation that sent no valid request "
	  "this long (default 60)" },
	{ "stream-auth-timeout", 0, IW_OPT_REQUIRED, o_stream_auth,
	  "SECONDS: close a TCP/TLS connection that has not allocated this long after it opened "
	  "(default 10)" },
	{ "max-tcp-per-ip", 0, IW_OPT_REQUIRED, o_max_tcp_per_ip,
	  "N: TCP and TLS connections at most from one client address (default 64)" },
	{ "no-tcp-relay", 0, IW_OPT_NONE, o_noop, "no TCP relay (iceway has none)" },
	{ "no-multicast-peers", 0, IW_OPT_NONE, o_noop, "refuse multicast peers (always)" },
	{ "no-udp", 0, IW_OPT_UNSUPPORTED, NULL, NULL },
	{ "cli-password", 0, IW_OPT_UNSUPPORTED_ARG, NULL, NULL },
	{ "cli-ip", 0, IW_OPT_UNSUPPORTED_ARG, NULL, NULL },
	{ "cli-port", 0, IW_OPT_UNSUPPORTED_ARG, NULL, NULL },
	{ "mobility", 0, IW_OPT_UNSUPPORTED, NULL, NULL },
	{ "syslog", 0, IW_OPT_UNSUPPORTED, NULL, NULL },
	{ "simple-log", 0, IW_OPT_UNSUPPORTED, NULL, NULL },
	{ "new-log-timestamp", 0, IW_OPT_UNSUPPORTED, NULL, NULL },
	{ "log-binding", 0, IW_OPT_UNSUPPORTED, NULL, NULL },
	{ "no-stun-backward-compatibility", 0, IW_OPT_UNSUPPORTED, NULL, NULL },
	{ "no-stdout-log", 0, IW_OPT_UNSUPPORTED, NULL, NULL },
	{ "dh-file", 0, IW_OPT_UNSUPPORTED_ARG, NULL, NULL },
	{ "alt-listening-port", 0, IW_OPT_UNSUPPORTED_ARG, NULL, NULL },
	{ "alt-tls-listening-port", 0, IW_OPT_UNSUPPORTED_ARG, NULL, NULL },
	{ "server-name", 0, IW_OPT_UNSUPPORTED_ARG, NULL, NULL },
	{ "prometheus", 0, IW_OPT_OPTIONAL, o_prometheus,
	  "serve Prometheus metrics at http://prometheus-address:prometheus-port/metrics" },
	{ "prometheus-port", 0, IW_OPT_REQUIRED, o_prom_port, "PORT: metrics port (default 9641)" },
	{ "prometheus-address", 0, IW_OPT_REQUIRED, o_prom_addr, "IP: metrics address (default 127.0.0.1)" },
	{ "external-ip-env", 0, IW_OPT_REQUIRED, o_external_ip_env,
	  "NAME: external-ip from environment variable NAME (PUBLIC[/PRIVATE])" },
	{ "alternate-server", 0, IW_OPT_REQUIRED, o_alt_server,
	  "ADDR:PORT: while draining, redirect new allocations here (300)" },
	{ "drain-timeout", 0, IW_OPT_REQUIRED, o_drain_timeout,
	  "S: on SIGTERM, refuse new allocations and relay existing ones up to S s "
	  "(default 0: exit at once)" },
	{ "log-format", 0, IW_OPT_REQUIRED, o_log_format, "FMT: plain (default) or json" },
	{ "log-level", 0, IW_OPT_REQUIRED, o_log_level, "LEVEL: error, warn, info (default) or debug" },
	{ "check", 0, IW_OPT_REQUIRED, o_check,
	  "ADDR:PORT: send one STUN Binding there, exit 0 on a valid answer" },
	{ "userdb", 0, IW_OPT_UNSUPPORTED_ARG, NULL, NULL },
	{ "redis-userdb", 0, IW_OPT_UNSUPPORTED_ARG, NULL, NULL },
	{ "redis-statsdb", 0, IW_OPT_UNSUPPORTED_ARG, NULL, NULL },
	{ "proc-user", 0, IW_OPT_UNSUPPORTED_ARG, NULL, NULL },
	{ "proc-group", 0, IW_OPT_UNSUPPORTED_ARG, NULL, NULL },
	{ "total-quota-bps", 0, IW_OPT_UNSUPPORTED_ARG, NULL, NULL },
	{ "max-bps", 0, IW_OPT_UNSUPPORTED_ARG, NULL, NULL },
	{ "bps-capacity", 0, IW_OPT_UNSUPPORTED_ARG, NULL, NULL },
	{ "secure-stun", 0, IW_OPT_UNSUPPORTED, NULL, NULL },
	{ "check-origin-consistency", 0, IW_OPT_UNSUPPORTED, NULL, NULL },
	{ "web-admin", 0, IW_OPT_UNSUPPORTED, NULL, NULL },
	{ NULL, 0, IW_OPT_NONE, NULL, NULL },
};

int iw_conf_finish(struct iw_conf *c, const char **why)
{
	if (c->min_port > c->max_port) {
		*why = "min-port is greater than max-port";
		return -EINVAL;
	}
	if (!c->realm && set_str(&c->realm, "iceway", why))
		return -ENOMEM;
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
	if (!c->use_secret && c->n_users == 0 && !c->no_auth) {
		*why = "no credentials: give user NAME:PASS (lt-cred-mech) or use-auth-secret";
		return -EINVAL;
	}
	if (c->n_users)
		c->lt_cred = true;
	if (c->total_quota == 0 || c->total_quota > c->max_allocs)
		c->total_quota = c->max_allocs;
	if (c->max_lifetime_s < c->default_lifetime_s)
		c->default_lifetime_s = c->max_lifetime_s;
	return 0;
}
