/* coturn's Redis user database (redis-userdb), read by a thread of its own, never by a
 * worker: the realm's long-term users (turn/realm/REALM/user/NAME/key, the hex MD5 key that
 * turnadmin writes) and REST secrets (the set turn/realm/REALM/secret) are loaded into a
 * snapshot every redis-userdb-refresh seconds, and sooner when a worker met an unknown user.
 * The supervisor publishes a changed snapshot as a configuration generation (turn/ops.h), so
 * the packet and control paths never wait on Redis. While Redis is down the last snapshot
 * stays in force. The password of the connection string is never logged.
 *
 * The realm's options that coturn keeps beside its users (turnadmin --set-realm-option:
 * turn/realm/REALM/max-bps, user-quota, total-quota) come with each snapshot and override the
 * configuration's values of the same names while they are set (turn/ops.c). */
#ifndef IW_TURN_USERDB_H
#define IW_TURN_USERDB_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "turn/realm.h"

enum {
	IW_USERDB_HOST_MAX = 255,
	IW_USERDB_PASS_MAX = 255,
	IW_USERDB_MAX_SECRETS = 16, /* as static-auth-secret */
	IW_USERDB_WANT_MS = 1000,   /* at most one refresh a second asked by unknown users */
	IW_USERDB_BACKOFF_MIN_MS = 250,
};

/* coturn's connection string: "ip=ADDR port=P dbname=N password=PW connect_timeout=S". */
struct iw_userdb_conn {
	char host[IW_USERDB_HOST_MAX + 1];
	uint16_t port;
	uint32_t dbname;
	char password[IW_USERDB_PASS_MAX + 1]; /* empty: no AUTH */
	uint32_t connect_timeout_s;
};

/* Parse s (space-separated key=value; keys ip or host, port, dbname or db or database,
 * password or pwd, connect_timeout or timeout). Defaults: 127.0.0.1, 6379, 0, none, 5 s.
 * 0, or -EINVAL with *why naming the key at fault. */
int iw_userdb_conn_parse(struct iw_userdb_conn *c, const char *s, const char **why);

/* What one load found: users as "NAME:0xHEXKEY" (iw_auth_user_add's form) and secrets.
 * Immutable once handed out; freed by whoever holds it last. */
struct iw_userdb_snap {
	char **users;
	size_t n_users;
	char *secrets[IW_USERDB_MAX_SECRETS];
	size_t n_secrets;
	struct iw_realm_opts opts; /* the realm's options (turn/realm.h) */
};

/* Wipe the keys and secrets and free. Accepts NULL. */
void iw_userdb_snap_free(struct iw_userdb_snap *s);

struct iw_userdb {
	struct iw_userdb_conn conn;
	char *realm;
	uint32_t max_users, refresh_s;
	pthread_t th;
	bool started;
	int stop; /* atomic */
	/* Shared through atomics: a new snapshot for the supervisor (exchanged), a refresh asked
	 * by a worker, and what /metrics shows. */
	struct iw_userdb_snap *pending;
	int want;
	int up;
	uint64_t users, refreshes, failures, skipped;
	uint64_t opts_bad; /* realm options left out at the last load */
	/* The loader thread's own. */
	void *ctx; /* redisContext */
	uint64_t digest;
	bool have_digest;
	bool truncated_warned;
	bool opt_warned[IW_REALM_N_OPTS]; /* this option's bad value was warned about */
};

/* Start the loader for conn string s (checked by the option already), realm and bounds.
 * 0, or a negative errno with *why. */
int iw_userdb_start(struct iw_userdb *u, const char *s, const char *realm, uint32_t max_users,
		    uint32_t refresh_s, const char **why);
/* Stop and join the loader, free what it holds. Accepts a zeroed u. */
void iw_userdb_stop(struct iw_userdb *u);
/* Supervisor side: the newest snapshot not taken yet, or NULL. The caller owns it. */
struct iw_userdb_snap *iw_userdb_take(struct iw_userdb *u);

#endif
