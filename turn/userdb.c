/* The Redis user database loader: one thread, synchronous hiredis calls with timeouts, a
 * bounded SCAN. Only this thread talks to Redis; workers see its snapshots through the
 * supervisor's generations (turn/ops.c). */
#include "turn/userdb.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/bytes.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/stun.h"

enum {
	IO_TIMEOUT_S = 2,  /* a command slower than this counts as Redis down */
	SCAN_COUNT = 1000, /* keys asked for per SCAN step */
	TICK_MS = 50,      /* how often the loader looks at stop and want */
	KEY_HEX = 32,      /* the MD5 long-term key, hex */
	PATTERN_MAX = 512, /* turn/realm/ + an escaped realm (2 x 127) + /user/ + * + /key */
	SCAN_STEPS_MAX = 1 << 20,
};

static int parse_uint(const char *v, size_t len, unsigned long max, uint32_t *out)
{
	unsigned long n = 0;
	if (len == 0 || len > 10)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
		n = n * 10 + (unsigned long)(v[i] - '0');
	}
	if (n > max)
		return -EINVAL;
	*out = (uint32_t)n;
	return 0;
}

static bool key_is(const char *k, size_t klen, const char *a, const char *b)
{
	return (strlen(a) == klen && !memcmp(k, a, klen)) || (b && strlen(b) == klen && !memcmp(k, b, klen));
}

int iw_userdb_conn_parse(struct iw_userdb_conn *c, const char *s, const char **why)
{
	memset(c, 0, sizeof *c);
	strcpy(c->host, "127.0.0.1");
	c->port = 6379;
	c->connect_timeout_s = 5;
	const char *p = s;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		const char *tok = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		const char *eq = memchr(tok, '=', (size_t)(p - tok));
		if (!eq || eq == tok) {
			*why = "redis-userdb: expected key=value words (ip=, port=, dbname=, password=, "
			       "connect_timeout=)";
			return -EINVAL;
		}
		size_t klen = (size_t)(eq - tok), vlen = (size_t)(p - eq - 1);
		const char *v = eq + 1;
		uint32_t n;
		if (key_is(tok, klen, "ip", "host")) {
			if (vlen == 0 || vlen > IW_USERDB_HOST_MAX) {
				*why = "redis-userdb: ip= needs an address or host name";
				return -EINVAL;
			}
			memcpy(c->host, v, vlen);
			c->host[vlen] = 0;
		} else if (key_is(tok, klen, "port", NULL)) {
			if (parse_uint(v, vlen, 65535, &n) || n == 0) {
				*why = "redis-userdb: port= must be 1-65535";
				return -EINVAL;
			}
			c->port = (uint16_t)n;
		} else if (key_is(tok, klen, "dbname", "db") || key_is(tok, klen, "database", NULL)) {
			if (parse_uint(v, vlen, 1000000, &c->dbname)) {
				*why = "redis-userdb: dbname= must be a database number";
				return -EINVAL;
			}
		} else if (key_is(tok, klen, "password", "pwd")) {
			if (vlen > IW_USERDB_PASS_MAX) {
				*why = "redis-userdb: password= is too long";
				return -EINVAL;
			}
			memcpy(c->password, v, vlen);
			c->password[vlen] = 0;
		} else if (key_is(tok, klen, "connect_timeout", "timeout")) {
			if (parse_uint(v, vlen, 3600, &n) || n == 0) {
				*why = "redis-userdb: connect_timeout= must be 1-3600 seconds";
				return -EINVAL;
			}
			c->connect_timeout_s = n;
		} else {
			*why = "redis-userdb: unknown key (known: ip, port, dbname, password, "
			       "connect_timeout)";
			return -EINVAL;
		}
	}
	return 0;
}

static void free_str(char *s)
{
	if (s) {
		memset(s, 0, strlen(s));
		free(s);
	}
}

void iw_userdb_snap_free(struct iw_userdb_snap *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_users; i++)
		free_str(s->users[i]);
	free(s->users);
	for (size_t i = 0; i < s->n_secrets; i++)
		free_str(s->secrets[i]);
	free(s);
}

/* FNV-1a of one entry; the snapshot's digest is the sum over entries, so SCAN order does
 * not matter. It only tells "changed" from "same", nothing rests on it being secret. */
static uint64_t fnv(const char *s, uint64_t salt)
{
	uint64_t h = 14695981039346656037ull ^ salt;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

static void drop_ctx(struct iw_userdb *u)
{
	if (u->ctx)
		redisFree(u->ctx);
	u->ctx = NULL;
}

static int connect_ctx(struct iw_userdb *u, const char **why)
{
	struct timeval tv = { .tv_sec = u->conn.connect_timeout_s };
	redisContext *c = redisConnectWithTimeout(u->conn.host, u->conn.port, tv);
	if (!c || c->err) {
		*why = "cannot connect";
		if (c)
			redisFree(c);
		return -ECONNREFUSED;
	}
	struct timeval io = { .tv_sec = IO_TIMEOUT_S };
	redisSetTimeout(c, io);
	u->ctx = c;
	redisReply *r;
	if (u->conn.password[0]) {
		const char *argv[2] = { "AUTH", u->conn.password };
		r = redisCommandArgv(c, 2, argv, NULL);
		bool ok = r && r->type == REDIS_REPLY_STATUS;
		freeReplyObject(r);
		if (!ok) {
			*why = "AUTH refused";
			return -EACCES;
		}
	}
	if (u->conn.dbname) {
		r = redisCommand(c, "SELECT %u", (unsigned)u->conn.dbname);
		bool ok = r && r->type == REDIS_REPLY_STATUS;
		freeReplyObject(r);
		if (!ok) {
			*why = "SELECT refused";
			return -EINVAL;
		}
	}
	return 0;
}

/* turn/realm/REALM/user/ with glob characters of REALM escaped, then * /key. */
static void scan_pattern(char out[PATTERN_MAX], const char *realm)
{
	size_t n = (size_t)snprintf(out, PATTERN_MAX, "turn/realm/");
	for (const char *p = realm; *p && n + 2 < PATTERN_MAX - 16; p++) {
		if (strchr("*?[]\\", *p))
			out[n++] = '\\';
		out[n++] = *p;
	}
	snprintf(out + n, PATTERN_MAX - n, "/user/*/key");
}

static int snap_user_add(struct iw_userdb_snap *s, size_t *cap, const char *name, size_t nlen,
			 const char *hex)
{
	if (s->n_users == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		char **nu = realloc(s->users, ncap * sizeof *nu);
		if (!nu)
			return -ENOMEM;
		s->users = nu;
		*cap = ncap;
	}
	char *e = malloc(nlen + 3 + KEY_HEX + 1);
	if (!e)
		return -ENOMEM;
	memcpy(e, name, nlen);
	memcpy(e + nlen, ":0x", 3);
	memcpy(e + nlen + 3, hex, KEY_HEX);
	e[nlen + 3 + KEY_HEX] = 0;
	s->users[s->n_users++] = e;
	return 0;
}

static bool hex_key_ok(const redisReply *r)
{
	if (!r || r->type != REDIS_REPLY_STRING || r->len != KEY_HEX)
		return false;
	for (int i = 0; i < KEY_HEX; i++)
		if (iw_hexval((unsigned char)r->str[i]) < 0)
			return false;
	return true;
}

/* One SCAN step's keys: GET them pipelined, keep the well-formed ones. */
static int load_keys(struct iw_userdb *u, struct iw_userdb_snap *s, size_t *cap, const redisReply *keys,
		     size_t prefix_len, uint64_t *skipped, bool *truncated)
{
	redisContext *c = u->ctx;
	size_t sent = 0;
	for (size_t i = 0; i < keys->elements; i++) {
		const redisReply *k = keys->element[i];
		if (k->type != REDIS_REPLY_STRING)
			continue;
		const char *argv[2] = { "GET", k->str };
		size_t lens[2] = { 3, k->len };
		if (redisAppendCommandArgv(c, 2, argv, lens) != REDIS_OK)
			return -EIO;
		sent++;
	}
	int rc = 0;
	size_t j = 0;
	for (size_t i = 0; i < keys->elements && j < sent; i++) {
		const redisReply *k = keys->element[i];
		if (k->type != REDIS_REPLY_STRING)
			continue;
		j++;
		void *rv = NULL;
		if (redisGetReply(c, &rv) != REDIS_OK)
			return -EIO;
		redisReply *r = rv;
		/* The name sits between the prefix and "/key"; a name with ':' cannot be told
		 * from its key in NAME:0xKEY, and a deleted key reads nil. */
		size_t nlen = k->len - prefix_len - 4;
		const char *name = k->str + prefix_len;
		if (rc == 0) {
			if (nlen == 0 || nlen >= STUN_MAX_USERNAME || memchr(name, ':', nlen) ||
			    memchr(name, '/', nlen) || !hex_key_ok(r))
				(*skipped)++;
			else if (s->n_users == u->max_users)
				*truncated = true;
			else
				rc = snap_user_add(s, cap, name, nlen, r->str);
		}
		freeReplyObject(r);
	}
	return rc;
}

static int load_secrets(struct iw_userdb *u, struct iw_userdb_snap *s)
{
	char key[PATTERN_MAX];
	snprintf(key, sizeof key, "turn/realm/%s/secret", u->realm);
	const char *argv[2] = { "SMEMBERS", key };
	redisReply *r = redisCommandArgv(u->ctx, 2, argv, NULL);
	if (!r)
		return -EIO;
	int rc = 0;
	if (r->type == REDIS_REPLY_ARRAY) {
		for (size_t i = 0; i < r->elements && s->n_secrets < IW_USERDB_MAX_SECRETS; i++) {
			const redisReply *e = r->element[i];
			if (e->type != REDIS_REPLY_STRING || e->len == 0)
				continue;
			s->secrets[s->n_secrets] = strndup(e->str, e->len);
			if (!s->secrets[s->n_secrets]) {
				rc = -ENOMEM;
				break;
			}
			s->n_secrets++;
		}
	} else if (r->type == REDIS_REPLY_ERROR) {
		rc = -EIO;
	}
	freeReplyObject(r);
	return rc;
}

/* The realm's options, in one round trip. A bad value is left out (the configuration's
 * applies) and warned about once, until its key holds a good value or none. */
static int load_opts(struct iw_userdb *u, struct iw_userdb_snap *s)
{
	char keys[IW_REALM_N_OPTS][PATTERN_MAX];
	const char *argv[1 + IW_REALM_N_OPTS] = { "MGET" };
	for (int i = 0; i < IW_REALM_N_OPTS; i++) {
		snprintf(keys[i], sizeof keys[i], "turn/realm/%s/%s", u->realm, iw_realm_opt_name(i));
		argv[1 + i] = keys[i];
	}
	redisReply *r = redisCommandArgv(u->ctx, 1 + IW_REALM_N_OPTS, argv, NULL);
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != IW_REALM_N_OPTS) {
		freeReplyObject(r);
		return -EIO;
	}
	uint64_t bad = 0;
	for (int i = 0; i < IW_REALM_N_OPTS; i++) {
		const redisReply *e = r->element[i];
		if (e->type != REDIS_REPLY_STRING) { /* nil: not set */
			u->opt_warned[i] = false;
			continue;
		}
		const char *why = "not a number";
		long long v = 0;
		if (strlen(e->str) == e->len &&
		    iw_config_int(e->str, 0, iw_realm_opt_max(i), &v, &why) == 0) {
			s->opts.set[i] = true;
			s->opts.val[i] = (uint64_t)v;
			u->opt_warned[i] = false;
			continue;
		}
		bad++;
		if (!u->opt_warned[i])
			IW_WARN("redis-userdb: %s ignored (%s): %s from the configuration applies", keys[i],
				why, iw_realm_opt_name(i));
		u->opt_warned[i] = true;
	}
	freeReplyObject(r);
	__atomic_store_n(&u->opts_bad, bad, __ATOMIC_RELAXED);
	return 0;
}

/* One full load. 0 when Redis answered (a changed snapshot is left in u->pending), else a
 * negative errno with *why. */
static int load(struct iw_userdb *u, const char **why)
{
	if (!u->ctx && connect_ctx(u, why))
		return -EIO;
	struct iw_userdb_snap *s = calloc(1, sizeof *s);
	if (!s) {
		*why = "out of memory";
		return -ENOMEM;
	}
	size_t cap = 0;
	uint64_t skipped = 0;
	bool truncated = false;
	char pat[PATTERN_MAX], cursor[32] = "0";
	scan_pattern(pat, u->realm);
	size_t prefix_len = strlen("turn/realm/") + strlen(u->realm) + strlen("/user/");
	int rc = 0;
	*why = "SCAN failed";
	for (unsigned step = 0; step < SCAN_STEPS_MAX && !truncated; step++) {
		const char *argv[6] = { "SCAN", cursor, "MATCH", pat, "COUNT", "1000" };
		redisReply *r = redisCommandArgv(u->ctx, 6, argv, NULL);
		if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY ||
		    r->element[0]->len >= sizeof cursor) {
			freeReplyObject(r);
			rc = -EIO;
			break;
		}
		memcpy(cursor, r->element[0]->str, r->element[0]->len);
		cursor[r->element[0]->len] = 0;
		rc = load_keys(u, s, &cap, r->element[1], prefix_len, &skipped, &truncated);
		freeReplyObject(r);
		if (rc || !strcmp(cursor, "0"))
			break;
	}
	if (rc == 0 && truncated && !u->truncated_warned) {
		IW_WARN("redis-userdb: more users than redis-userdb-max-users (%u) in realm %s; the rest "
			"are not loaded",
			u->max_users, u->realm);
		u->truncated_warned = true;
	}
	if (rc == 0) {
		*why = "SMEMBERS failed";
		rc = load_secrets(u, s);
	}
	if (rc == 0) {
		*why = "MGET failed";
		rc = load_opts(u, s);
	}
	if (rc) {
		iw_userdb_snap_free(s);
		return rc;
	}
	uint64_t d = s->n_users * 31 + s->n_secrets;
	for (size_t i = 0; i < s->n_users; i++)
		d += fnv(s->users[i], 1);
	for (size_t i = 0; i < s->n_secrets; i++)
		d += fnv(s->secrets[i], 2);
	for (int i = 0; i < IW_REALM_N_OPTS; i++)
		d += s->opts.set[i] ? (s->opts.val[i] + 1) * fnv(iw_realm_opt_name(i), 3) : 0;
	__atomic_store_n(&u->users, (uint64_t)s->n_users, __ATOMIC_RELAXED);
	__atomic_store_n(&u->skipped, skipped, __ATOMIC_RELAXED);
	if (u->have_digest && d == u->digest) {
		iw_userdb_snap_free(s);
		return 0;
	}
	u->digest = d;
	u->have_digest = true;
	IW_INFO("redis-userdb: %zu user%s and %zu secret%s for realm %s", s->n_users,
		s->n_users == 1 ? "" : "s", s->n_secrets, s->n_secrets == 1 ? "" : "s", u->realm);
	iw_userdb_snap_free(__atomic_exchange_n(&u->pending, s, __ATOMIC_ACQ_REL));
	return 0;
}

static void *loader(void *arg)
{
	struct iw_userdb *u = arg;
	uint64_t next = 0, last_try = 0, backoff = IW_USERDB_BACKOFF_MIN_MS;
	uint64_t refresh_ms = (uint64_t)u->refresh_s * 1000;
	bool was_up = true;
	while (!__atomic_load_n(&u->stop, __ATOMIC_RELAXED)) {
		uint64_t now = iw_clock_ms();
		bool want =
			__atomic_load_n(&u->want, __ATOMIC_RELAXED) && now - last_try >= IW_USERDB_WANT_MS;
		if (now >= next || want) {
			__atomic_store_n(&u->want, 0, __ATOMIC_RELAXED);
			last_try = now;
			const char *why = "";
			if (load(u, &why) == 0) {
				if (!was_up)
					IW_INFO("redis-userdb: %s:%u reachable again", u->conn.host,
						u->conn.port);
				was_up = true;
				__atomic_store_n(&u->up, 1, __ATOMIC_RELAXED);
				__atomic_add_fetch(&u->refreshes, 1, __ATOMIC_RELAXED);
				next = now + refresh_ms;
				backoff = IW_USERDB_BACKOFF_MIN_MS;
			} else {
				drop_ctx(u);
				/* One line per outage, not per attempt; never the password. */
				if (was_up)
					IW_WARN("redis-userdb: %s:%u unreachable (%s): the last users loaded "
						"stay in force, unknown users are refused",
						u->conn.host, u->conn.port, why);
				was_up = false;
				__atomic_store_n(&u->up, 0, __ATOMIC_RELAXED);
				__atomic_add_fetch(&u->failures, 1, __ATOMIC_RELAXED);
				next = now + backoff;
				backoff = backoff * 2 < refresh_ms ? backoff * 2 : refresh_ms;
			}
		}
		struct timespec ts = { .tv_sec = 0, .tv_nsec = TICK_MS * 1000000L };
		nanosleep(&ts, NULL);
	}
	drop_ctx(u);
	return NULL;
}

int iw_userdb_start(struct iw_userdb *u, const char *s, const char *realm, uint32_t max_users,
		    uint32_t refresh_s, const char **why)
{
	memset(u, 0, sizeof *u);
	int rc = iw_userdb_conn_parse(&u->conn, s, why);
	if (rc)
		return rc;
	u->realm = strdup(realm);
	if (!u->realm) {
		*why = "out of memory";
		return -ENOMEM;
	}
	u->max_users = max_users;
	u->refresh_s = refresh_s ? refresh_s : 1;
	if (pthread_create(&u->th, NULL, loader, u)) {
		*why = "cannot start the user database thread";
		free(u->realm);
		u->realm = NULL;
		return -EAGAIN;
	}
	u->started = true;
	return 0;
}

void iw_userdb_stop(struct iw_userdb *u)
{
	if (u->started) {
		__atomic_store_n(&u->stop, 1, __ATOMIC_RELAXED);
		pthread_join(u->th, NULL);
		u->started = false;
	}
	iw_userdb_snap_free(__atomic_exchange_n(&u->pending, NULL, __ATOMIC_ACQ_REL));
	free(u->realm);
	u->realm = NULL;
	memset(u->conn.password, 0, sizeof u->conn.password);
}

struct iw_userdb_snap *iw_userdb_take(struct iw_userdb *u)
{
	return __atomic_exchange_n(&u->pending, NULL, __ATOMIC_ACQ_REL);
}
