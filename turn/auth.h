/* Relay authentication: stateless nonces, long-term credentials (static users and the TURN
 * REST API shared secrets), RFC 8489 password algorithms and USERHASH, and the per-source
 * rate limit on 401 challenges. Never logs a secret or a password. */
#ifndef IW_TURN_AUTH_H
#define IW_TURN_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "common/stun.h"
#include "common/stun_auth.h"

enum {
	IW_AUTH_NONCE_MAX = 64,
	IW_AUTH_NONCE_LEN = 45,        /* what iw_auth_nonce_make writes */
	IW_AUTH_RL_SLOTS = 4096,       /* answer budgets of unauthenticated sources, hashed by source IP */
	IW_AUTH_RL_RATE = 500,         /* default unauth-answer-rate: answers per second refilled */
	IW_AUTH_RL_RATIO = 4,          /* default unauth-answer-ratio: answer bytes per request byte */
	IW_AUTH_RL_CREDIT_MAX = 65536, /* answer bytes a source may have in hand */
	IW_AUTH_MAX_SECRETS = 16,
};

/* A static user, keys precomputed at config time (the password is not kept). */
struct iw_auth_user {
	char *name;
	size_t name_len;
	uint8_t key_md5[IW_STUN_KEY_MAX]; /* first 16 bytes used */
	uint8_t key_sha256[32];
	bool has_sha256; /* false for "user NAME:0xHEXKEY" (only the MD5 key is known) */
	uint8_t userhash[STUN_USERHASH_LEN];
};

struct iw_auth_bucket {
	struct iw_addr ip; /* port zero; family 0 while the slot was never used */
	uint32_t milli_tokens;
	uint32_t credit; /* answer bytes earned by request bytes (ratio per byte) */
	uint64_t last_ms;
};

struct iw_auth_stats {
	uint64_t ok, challenged, bad_request, stale_nonce, bad_nonce;
	uint64_t rl_answered, rl_answered_bytes, rl_request_bytes; /* limited answers sent */
	uint64_t rl_dropped, rl_ratio_dropped;                     /* past the rate, past the byte ratio */
	uint64_t unknown_user, rest_expired, bad_integrity, bad_algorithm;
};

struct iw_auth {
	char realm[STUN_MAX_REALM + 1];
	size_t realm_len;
	uint32_t stale_nonce_s;
	bool use_secret;
	char rest_sep; /* rest-api-separator: between expiry and user in REST usernames */
	struct iw_auth_user *users;
	size_t n_users, cap_users;
	/* users by name: open addressing, linear probing, each slot a users index + 1 (0 empty),
	 * at most half full, keyed with by_name_seed (random, moves with the table): a lookup
	 * costs the same with 10 users or 100000 (redis-userdb). */
	uint32_t *by_name;
	size_t cap_by_name;
	uint64_t by_name_seed;
	char *secrets[IW_AUTH_MAX_SECRETS];
	size_t n_secrets;
	uint8_t nonce_key[32];     /* random per process */
	uint32_t rl_seed;          /* random per process: nobody can aim two addresses at a slot */
	struct iw_auth_bucket *rl; /* IW_AUTH_RL_SLOTS */
	struct iw_auth_stats st;
};

/* Set up with realm and nonce lifetime; draws the nonce key. 0 or -errno. */
int iw_auth_init(struct iw_auth *a, const char *realm, uint32_t stale_nonce_s);
/* Free users, secrets and tables (secrets are wiped first). Accepts a zeroed struct. */
void iw_auth_fini(struct iw_auth *a);
/* Add "NAME:PASS" or "NAME:0xHEXKEY" (32 hex digits, the MD5 long-term key, as coturn).
 * The realm must be set first. 0, or -EINVAL with *why, or -ENOMEM. */
int iw_auth_user_add(struct iw_auth *a, const char *spec, const char **why);
/* Add a REST shared secret (copied). 0, -EINVAL (empty) or -ENOBUFS. */
int iw_auth_secret_add(struct iw_auth *a, const char *secret, const char **why);
/* Swap what the configuration sets (users, secrets, nonce lifetime, REST separator) between a and b. The realm,
 * nonce key, rate-limit buckets and counters stay where they are: a reload builds b, swaps, and
 * frees b, without a store to the counters that /metrics reads from another thread. */
void iw_auth_creds_swap(struct iw_auth *a, struct iw_auth *b);

/* Write a fresh nonce for client at now_s into out (NUL-terminated). Returns its length. */
size_t iw_auth_nonce_make(const struct iw_auth *a, const struct iw_addr *client, int64_t now_s,
			  char out[IW_AUTH_NONCE_MAX]);
/* 0 when nonce was made by this process for client within stale-nonce seconds; -ESTALE when
 * too old; -EINVAL when not ours or for another address. */
int iw_auth_nonce_check(const struct iw_auth *a, const struct iw_addr *client, const uint8_t *n, size_t len,
			int64_t now_s);

/*
 * The answer budget of a source that has not authenticated (challenges, errors, Binding
 * answers over UDP), per source IP: at most rate answers a second (a burst of 2 x rate), and
 * answer bytes at most ratio times the request bytes the source sent (the request of in_len
 * bytes is credited first). 0 when an answer of out_len bytes may be sent now (and it is
 * counted); -EAGAIN past the rate; -EMSGSIZE past the byte ratio. rate or ratio 0: no such
 * limit. A slot is keyed with a random seed, and an address that takes a slot over from
 * another starts with an empty budget, so alternating addresses never get more than one.
 */
int iw_auth_rl_take(struct iw_auth *a, const struct iw_addr *client, uint64_t now_ms, size_t in_len,
		    size_t out_len, uint32_t rate, uint32_t ratio);

/* The outcome of checking a request's credentials. */
struct iw_auth_result {
	uint16_t code;      /* 0 ok; else 400, 401 or 438 */
	const char *reason; /* reason phrase for the error */
	uint8_t key[IW_STUN_KEY_MAX];
	uint8_t key_len;
	uint16_t pw_alg;     /* STUN_PASSWORD_ALG_MD5 or _SHA256 */
	bool sha256_mi;      /* answer with MESSAGE-INTEGRITY-SHA256 */
	const uint8_t *user; /* the username (from the message, or the static user for USERHASH) */
	size_t user_len;
	/* Who quotas count: user + quota_off. The user part of a REST username (after
	 * rest-api-separator, so every credential minted for one user counts together); the
	 * whole name for a static user, or a REST name without a user part. */
	size_t quota_off;
	/* A REST username's timestamp (wall clock seconds), 0 for a static user: with
	 * rest-strict-expiry no allocation outlives it. */
	int64_t rest_expiry;
	/* Why the credentials were refused, for the log (never sent): "bad integrity",
	 * "unknown user", "credential expired", ...; NULL when not a credential failure. */
	const char *why;
};

/*
 * Check the long-term credentials of a request (RFC 8489 §9.2.4). Sets r->code to 0 when the
 * request is authentic; 401 when it carries no integrity, the user is unknown, the REST
 * username has expired or the integrity does not match; 438 for a stale or foreign nonce;
 * 400 for missing attributes or a password-algorithm bid-down. r->key is valid when code is
 * 0, and also for errors after the key was found (so the error can carry integrity).
 */
void iw_auth_check(struct iw_auth *a, const struct iw_stun_msg *m, const struct iw_addr *client,
		   int64_t now_s, struct iw_auth_result *r);

/* Append REALM, NONCE and PASSWORD-ALGORITHMS for a 401/438 answer. */
void iw_auth_wr_challenge(const struct iw_auth *a, struct iw_stun_wr *s, const struct iw_addr *client,
			  int64_t now_s);

#endif
