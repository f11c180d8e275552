/* Relay authentication: nonces, credential lookup and integrity checks. Control path only:
 * it may hash and compare, never log a secret. */
#include "turn/auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/cred.h"

/* RFC 8489 §9.2: a nonce that starts with this cookie announces the security features. */
static const char nonce_cookie[] = "obMatJos2";
/* Security feature set, 24 bits, base64: bit 0 password algorithms, bit 1 username
 * anonymity (USERHASH), counted from the most significant bit: 0xC00000 -> "wAAA". */
static const char nonce_features[] = "wAAA";
enum { NONCE_PREFIX = 13, NONCE_TS_HEX = 8, NONCE_MAC = 12, NONCE_LEN = 13 + 8 + 24 };
_Static_assert((int)NONCE_LEN == (int)IW_AUTH_NONCE_LEN, "auth.h states the nonce length");

/* PASSWORD-ALGORITHMS we offer: MD5 then SHA-256, no parameters. */
static const uint8_t pw_algs_offer[8] = { 0, 1, 0, 0, 0, 2, 0, 0 };

int iw_auth_init(struct iw_auth *a, const char *realm, uint32_t stale_nonce_s)
{
	memset(a, 0, sizeof *a);
	size_t n = strlen(realm);
	if (n > STUN_MAX_REALM)
		return -EINVAL;
	memcpy(a->realm, realm, n + 1);
	a->realm_len = n;
	a->stale_nonce_s = stale_nonce_s;
	a->rest_sep = ':';
	a->rl = calloc(IW_AUTH_RL_SLOTS, sizeof *a->rl);
	if (!a->rl)
		return -ENOMEM;
	int rc = iw_cred_random(a->nonce_key, sizeof a->nonce_key);
	if (rc == 0)
		rc = iw_cred_random(&a->rl_seed, sizeof a->rl_seed);
	if (rc < 0) {
		iw_auth_fini(a);
		return rc;
	}
	return 0;
}

void iw_auth_fini(struct iw_auth *a)
{
	for (size_t i = 0; i < a->n_users; i++)
		free(a->users[i].name);
	if (a->users)
		memset(a->users, 0, a->cap_users * sizeof *a->users);
	free(a->users);
	free(a->by_name);
	for (size_t i = 0; i < a->n_secrets; i++) {
		memset(a->secrets[i], 0, strlen(a->secrets[i]));
		free(a->secrets[i]);
	}
	free(a->rl);
	memset(a, 0, sizeof *a);
}

static size_t name_slot(const struct iw_auth *a, const void *n, size_t len)
{
	return (size_t)iw_hash_keyed(a->by_name_seed, n, len) & (a->cap_by_name - 1);
}

/* Index users[i] by name unless an earlier user has that name (the first one wins, as the
 * configuration file's user= lines come before the user database's). */
static void index_insert(struct iw_auth *a, size_t i)
{
	const struct iw_auth_user *u = &a->users[i];
	size_t mask = a->cap_by_name - 1;
	for (size_t s = name_slot(a, u->name, u->name_len);; s = (s + 1) & mask) {
		uint32_t e = a->by_name[s];
		if (e == 0) {
			a->by_name[s] = (uint32_t)(i + 1);
			return;
		}
		const struct iw_auth_user *o = &a->users[e - 1];
		if (o->name_len == u->name_len && !memcmp(o->name, u->name, u->name_len))
			return;
	}
}

/* Room in the name index for one more user: at most half full. 0 or -ENOMEM. */
static int index_reserve(struct iw_auth *a)
{
	if ((a->n_users + 1) * 2 <= a->cap_by_name)
		return 0;
	if (a->n_users >= UINT32_MAX / 4)
		return -ENOMEM;
	size_t cap = a->cap_by_name ? a->cap_by_name * 2 : 16;
	uint32_t *t = calloc(cap, sizeof *t);
	if (!t)
		return -ENOMEM;
	if (!a->by_name_seed && iw_cred_random(&a->by_name_seed, sizeof a->by_name_seed) < 0)
		a->by_name_seed = 0x9e3779b97f4a7c15ull;
	free(a->by_name);
	a->by_name = t;
	a->cap_by_name = cap;
	for (size_t i = 0; i < a->n_users; i++)
		index_insert(a, i);
	return 0;
}

int iw_auth_user_add(struct iw_auth *a, const char *spec, const char **why)
{
	const char *colon = strchr(spec, ':');
	if (!colon || colon == spec || !colon[1]) {
		*why = "expected NAME:PASSWORD or NAME:0xHEXKEY";
		return -EINVAL;
	}
	size_t nlen = (size_t)(colon - spec);
	if (nlen >= STUN_MAX_USERNAME) {
		*why = "user name too long";
		return -EINVAL;
	}
	if (index_reserve(a))
		return -ENOMEM;
	if (a->n_users == a->cap_users) {
		size_t cap = a->cap_users ? a->cap_users * 2 : 8;
		struct iw_auth_user *u = realloc(a->users, cap * sizeof *u);
		if (!u)
			return -ENOMEM;
		a->users = u;
		a->cap_users = cap;
	}
	struct iw_auth_user *u = &a->users[a->n_users];
	memset(u, 0, sizeof *u);
	const char *pw = colon + 1;
	size_t pwlen = strlen(pw);
	if (pwlen == 34 && pw[0] == '0' && (pw[1] == 'x' || pw[1] == 'X')) {
		/* coturn's form: the MD5 long-term key itself, so no SHA-256 key is known. */
		for (int i = 0; i < 16; i++) {
			int hi = iw_hexval((unsigned char)pw[2 + 2 * i]),
			    lo = iw_hexval((unsigned char)pw[3 + 2 * i]);
			if (hi < 0 || lo < 0) {
				*why = "bad hex key (expected 0x and 32 hex digits)";
				return -EINVAL;
			}
			u->key_md5[i] = (uint8_t)(hi << 4 | lo);
		}
	} else {
		iw_stun_lt_key(u->key_md5, STUN_PASSWORD_ALG_MD5, spec, nlen, a->realm, a->realm_len, pw,
			       pwlen);
		iw_stun_lt_key(u->key_sha256, STUN_PASSWORD_ALG_SHA256, spec, nlen, a->realm, a->realm_len,
			       pw, pwlen);
		u->has_sha256 = true;
	}
	u->name = strndup(spec, nlen);
	if (!u->name)
		return -ENOMEM;
	u->name_len = nlen;
	iw_stun_userhash(u->userhash, spec, nlen, a->realm, a->realm_len);
	index_insert(a, a->n_users);
	a->n_users++;
	return 0;
}

int iw_auth_secret_add(struct iw_auth *a, const char *secret, const char **why)
{
	if (!secret || !*secret) {
		*why = "empty secret";
		return -EINVAL;
	}
	if (a->n_secrets == IW_AUTH_MAX_SECRETS) {
		*why = "too many secrets (at most 16)";
		return -ENOBUFS;
	}
	char *s = strdup(secret);
	if (!s)
		return -ENOMEM;
	a->secrets[a->n_secrets++] = s;
	a->use_secret = true;
	return 0;
}

void iw_auth_creds_swap(struct iw_auth *a, struct iw_auth *b)
{
	struct iw_auth t = *a;
	a->stale_nonce_s = b->stale_nonce_s;
	a->use_secret = b->use_secret;
	a->users = b->users;
	a->n_users = b->n_users;
	a->cap_users = b->cap_users;
	a->by_name = b->by_name;
	a->cap_by_name = b->cap_by_name;
	a->by_name_seed = b->by_name_seed;
	memcpy(a->secrets, b->secrets, sizeof a->secrets);
	a->n_secrets = b->n_secrets;
	a->rest_sep = b->rest_sep;
	b->stale_nonce_s = t.stale_nonce_s;
	b->use_secret = t.use_secret;
	b->users = t.users;
	b->n_users = t.n_users;
	b->cap_users = t.cap_users;
	b->by_name = t.by_name;
	b->cap_by_name = t.cap_by_name;
	b->by_name_seed = t.by_name_seed;
	memcpy(b->secrets, t.secrets, sizeof b->secrets);
	b->n_secrets = t.n_secrets;
	b->rest_sep = t.rest_sep;
}

static void nonce_mac(const struct iw_auth *a, const struct iw_addr *c, uint32_t ts, uint8_t out[NONCE_MAC])
{
	uint8_t msg[4 + 1 + 16 + 2], full[32];
	iw_put_be32(msg, ts);
	msg[4] = c->family;
	memcpy(msg + 5, c->ip, 16);
	iw_put_be16(msg + 21, c->port);
	iw_cred_hmac_sha256(full, a->nonce_key, sizeof a->nonce_key, msg, sizeof msg);
	memcpy(out, full, NONCE_MAC);
}

static void hex(char *out, const uint8_t *p, size_t n)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
}

size_t iw_auth_nonce_make(const struct iw_auth *a, const struct iw_addr *client, int64_t now_s,
			  char out[IW_AUTH_NONCE_MAX])
{
	uint8_t ts[4], mac[NONCE_MAC];
	iw_put_be32(ts, (uint32_t)now_s);
	nonce_mac(a, client, (uint32_t)now_s, mac);
	memcpy(out, nonce_cookie, 9);
	memcpy(out + 9, nonce_features, 4);
	hex(out + NONCE_PREFIX, ts, 4);
	hex(out + NONCE_PREFIX + NONCE_TS_HEX, mac, NONCE_MAC);
	out[NONCE_LEN] = 0;
	return NONCE_LEN;
}

int iw_auth_nonce_check(const struct iw_auth *a, const struct iw_addr *client, const uint8_t *n, size_t len,
			int64_t now_s)
{
	if (len != NONCE_LEN || memcmp(n, nonce_cookie, 9) || memcmp(n + 9, nonce_features, 4))
		return -EINVAL;
	uint8_t ts[4], mac[NONCE_MAC];
	for (int i = 0; i < 4 + NONCE_MAC; i++) {
		int hi = iw_hexval((unsigned char)n[NONCE_PREFIX + 2 * i]);
		int lo = iw_hexval((unsigned char)n[NONCE_PREFIX + 2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		uint8_t v = (uint8_t)(hi << 4 | lo);
		if (i < 4)
			ts[i] = v;
		else
			mac[i - 4] = v;
	}
	uint32_t t = iw_be32(ts);
	uint8_t want[NONCE_MAC];
	nonce_mac(a, client, t, want);
	if (!iw_cred_equal(want, mac, NONCE_MAC))
		return -EINVAL;
	int64_t age = now_s - (int64_t)t;
	if (age < 0 || age >= (int64_t)a->stale_nonce_s)
		return -ESTALE;
	return 0;
}

int iw_auth_rl_take(struct iw_auth *a, const struct iw_addr *client, uint64_t now_ms, size_t in_len,
		    size_t out_len, uint32_t rate, uint32_t ratio)
{
	struct iw_addr ip = *client;
	ip.port = 0;
	struct iw_auth_bucket *b = &a->rl[iw_addr_hash(&ip, a->rl_seed) % IW_AUTH_RL_SLOTS];
	uint64_t burst = 2000ull * rate;
	if (!iw_addr_eq(&b->ip, &ip)) {
		/* A slot never used starts with a full burst; one taken over from another address
		 * starts empty: alternating addresses that share a slot share one budget. */
		bool fresh = b->ip.family == 0;
		b->ip = ip;
		b->milli_tokens = fresh ? (uint32_t)burst : 0;
		b->credit = 0;
		b->last_ms = now_ms;
	}
	uint64_t credit = b->credit + (uint64_t)in_len * ratio;
	b->credit = (uint32_t)(credit > IW_AUTH_RL_CREDIT_MAX ? IW_AUTH_RL_CREDIT_MAX : credit);
	uint64_t tok = b->milli_tokens + (now_ms - b->last_ms) * rate;
	b->last_ms = now_ms;
	if (tok > burst)
		tok = burst;
	b->milli_tokens = (uint32_t)tok;
	a->st.rl_request_bytes += in_len;
	if (rate && tok < 1000) {
		a->st.rl_dropped++;
		return -EAGAIN;
	}
	if (ratio && b->credit < out_len) {
		a->st.rl_ratio_dropped++;
		return -EMSGSIZE;
	}
	if (rate)
		b->milli_tokens = (uint32_t)(tok - 1000);
	if (ratio)
		b->credit -= (uint32_t)out_len;
	a->st.rl_answered++;
	a->st.rl_answered_bytes += out_len;
	return 0;
}

static const struct iw_auth_user *user_by_name(const struct iw_auth *a, const uint8_t *n, size_t len)
{
	if (!a->cap_by_name)
		return NULL;
	size_t mask = a->cap_by_name - 1;
	for (size_t s = name_slot(a, n, len);; s = (s + 1) & mask) {
		uint32_t e = a->by_name[s];
		if (e == 0)
			return NULL;
		const struct iw_auth_user *u = &a->users[e - 1];
		if (u->name_len == len && !memcmp(u->name, n, len))
			return u;
	}
}

static const struct iw_auth_user *user_by_hash(const struct iw_auth *a, const uint8_t *h)
{
	const struct iw_auth_user *found = NULL;
	/* Compare all of them in constant time: the hash identifies the user. */
	for (size_t i = 0; i < a->n_users; i++)
		if (iw_cred_equal(a->users[i].userhash, h, STUN_USERHASH_LEN))
			found = &a->users[i];
	return found;
}

static bool check_mi(const struct iw_stun_msg *m, const uint8_t *key, size_t klen)
{
	if (m->present & IW_STUN_HAS_MI_SHA256)
		return iw_stun_check_integrity_sha256(m, key, klen);
	return iw_stun_check_integrity(m, key, klen);
}

static void fail(struct iw_auth_result *r, uint16_t code, const char *reason, uint64_t *ctr)
{
	r->code = code;
	r->reason = reason;
	(*ctr)++;
}

void iw_auth_check(struct iw_auth *a, const struct iw_stun_msg *m, const struct iw_addr *client,
		   int64_t now_s, struct iw_auth_result *r)
{
	memset(r, 0, sizeof *r);
	r->pw_alg = STUN_PASSWORD_ALG_MD5;
	if (!(m->present & (IW_STUN_HAS_MI | IW_STUN_HAS_MI_SHA256))) {
		/* RFC 8489 §9.2.4: no integrity -> 401 with REALM and NONCE. */
		fail(r, STUN_ERR_UNAUTHORIZED, "Unauthorized", &a->st.challenged);
		return;
	}
	/* RFC 8489 §9.2.4: integrity without USERNAME/USERHASH, REALM or NONCE -> 400. */
	if (!(m->present & (IW_STUN_HAS_USERNAME | IW_STUN_HAS_USERHASH)) ||
	    !(m->present & IW_STUN_HAS_REALM) || !(m->present & IW_STUN_HAS_NONCE)) {
		fail(r, STUN_ERR_BAD_REQUEST, "Bad Request: USERNAME, REALM and NONCE are required",
		     &a->st.bad_request);
		return;
	}
	int rc = iw_auth_nonce_check(a, client, m->nonce.p, m->nonce.len, now_s);
	if (rc) {
		/* RFC 8489 §9.2.4: a nonce that is no longer valid -> 438 with a new one. */
		fail(r, STUN_ERR_STALE_NONCE, "Stale Nonce",
		     rc == -ESTALE ? &a->st.stale_nonce : &a->st.bad_nonce);
		return;
	}
	/* RFC 8489 §9.2.4: both PASSWORD-ALGORITHM and PASSWORD-ALGORITHMS, or neither (MD5);
	 * PASSWORD-ALGORITHMS must be exactly what we offered (no bid-down). */
	bool has_alg = m->present & IW_STUN_HAS_PW_ALG, has_algs = m->present & IW_STUN_HAS_PW_ALGS;
	if (has_alg != has_algs ||
	    (has_algs && (m->pw_algs_raw.len != sizeof pw_algs_offer ||
			  memcmp(m->pw_algs_raw.p, pw_algs_offer, sizeof pw_algs_offer))) ||
	    (has_alg && m->pw_alg != STUN_PASSWORD_ALG_MD5 && m->pw_alg != STUN_PASSWORD_ALG_SHA256)) {
		fail(r, STUN_ERR_BAD_REQUEST, "Bad Request: PASSWORD-ALGORITHM mismatch",
		     &a->st.bad_algorithm);
		return;
	}
	if (has_alg)
		r->pw_alg = m->pw_alg;
	r->sha256_mi = m->present & IW_STUN_HAS_MI_SHA256;

	const struct iw_auth_user *u = NULL;
	if (m->present & IW_STUN_HAS_USERNAME) {
		r->user = m->username.p;
		r->user_len = m->username.len;
		u = user_by_name(a, m->username.p, m->username.len);
	} else if (m->userhash.len == STUN_USERHASH_LEN) {
		u = user_by_hash(a, m->userhash.p);
		if (u) {
			r->user = (const uint8_t *)u->name;
			r->user_len = u->name_len;
		}
	}
	if (u) {
		if (r->pw_alg == STUN_PASSWORD_ALG_SHA256) {
			if (!u->has_sha256) {
				r->why = "no SHA-256 key";
				fail(r, STUN_ERR_UNAUTHORIZED, "Unauthorized: no SHA-256 key for user",
				     &a->st.bad_algorithm);
				return;
			}
			memcpy(r->key, u->key_sha256, 32);
			r->key_len = 32;
		} else {
			memcpy(r->key, u->key_md5, 16);
			r->key_len = 16;
		}
		if (!check_mi(m, r->key, r->key_len)) {
			r->key_len = 0;
			r->why = "bad integrity";
			fail(r, STUN_ERR_UNAUTHORIZED, "Unauthorized", &a->st.bad_integrity);
			return;
		}
		a->st.ok++;
		return;
	}
	if (!a->use_secret || !r->user) {
		r->why = "unknown user";
		fail(r, STUN_ERR_UNAUTHORIZED, "Unauthorized", &a->st.unknown_user);
		return;
	}
	/* TURN REST API: "EXPIRY:user", password = base64(HMAC-SHA1(secret, username)). */
	int64_t expiry;
	size_t uoff, ulen;
	if (iw_cred_rest_parse(r->user, r->user_len, a->rest_sep, &expiry, &uoff, &ulen)) {
		r->why = "unknown user";
		fail(r, STUN_ERR_UNAUTHORIZED, "Unauthorized", &a->st.unknown_user);
		return;
	}
	r->rest_expiry = expiry;
	if (expiry < now_s) {
		r->why = "credential expired";
		fail(r, STUN_ERR_UNAUTHORIZED, "Unauthorized: credentials expired", &a->st.rest_expired);
		return;
	}
	for (size_t i = 0; i < a->n_secrets; i++) {
		char pw[IW_CRED_REST_PASS_LEN + 1];
		iw_cred_rest_password(pw, a->secrets[i], strlen(a->secrets[i]), r->user, r->user_len);
		int klen = iw_stun_lt_key(r->key, r->pw_alg, r->user, r->user_len, a->realm, a->realm_len, pw,
					  IW_CRED_REST_PASS_LEN);
		memset(pw, 0, sizeof pw);
		if (klen > 0 && check_mi(m, r->key, (size_t)klen)) {
			r->key_len = (uint8_t)klen;
			r->quota_off = ulen ? uoff : 0;
			a->st.ok++;
			return;
		}
	}
	memset(r->key, 0, sizeof r->key);
	r->why = "bad integrity";
	fail(r, STUN_ERR_UNAUTHORIZED, "Unauthorized", &a->st.bad_integrity);
}

void iw_auth_wr_challenge(const struct iw_auth *a, struct iw_stun_wr *s, const struct iw_addr *client,
			  int64_t now_s)
{
	char nonce[IW_AUTH_NONCE_MAX];
	size_t n = iw_auth_nonce_make(a, client, now_s, nonce);
	iw_stun_wr_attr(s, STUN_ATTR_REALM, a->realm, a->realm_len);
	iw_stun_wr_attr(s, STUN_ATTR_NONCE, nonce, n);
	/* RFC 8489 §9.2.3: the cookie nonce comes with PASSWORD-ALGORITHMS. */
	iw_stun_wr_attr(s, STUN_ATTR_PASSWORD_ALGORITHMS, pw_algs_offer, sizeof pw_algs_offer);
}
