/* TURN Allocate diagnosis for the probe's error report. Blocking and off the media path. */
#include "tools/probe/turncheck.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "common/addr.h"
#include "common/stun.h"
#include "common/stun_auth.h"

enum { WAIT_MS = 1500, MAX_ROUNDS = 4 };

struct auth {
	const char *user, *pass;
	char realm[STUN_MAX_REALM + 1], nonce[STUN_MAX_NONCE + 1];
	uint8_t key[IW_STUN_KEY_MAX];
	int key_len;
};

static int build(uint8_t *buf, size_t cap, uint16_t method, const uint8_t tid[12], const struct auth *a,
		 bool release)
{
	struct iw_stun_wr w;

	iw_stun_wr_init(&w, buf, cap, method, STUN_CLASS_REQUEST, tid);
	if (release)
		iw_stun_wr_u32(&w, STUN_ATTR_LIFETIME, 0);
	else
		iw_stun_wr_u32(&w, STUN_ATTR_REQUESTED_TRANSPORT, (uint32_t)TURN_TRANSPORT_UDP << 24);
	if (a->key_len > 0) {
		iw_stun_wr_attr(&w, STUN_ATTR_USERNAME, a->user, strlen(a->user));
		iw_stun_wr_attr(&w, STUN_ATTR_REALM, a->realm, strlen(a->realm));
		iw_stun_wr_attr(&w, STUN_ATTR_NONCE, a->nonce, strlen(a->nonce));
		iw_stun_wr_integrity(&w, a->key, (size_t)a->key_len);
	}
	iw_stun_wr_fingerprint(&w);
	return iw_stun_wr_finish(&w);
}

/* Send a request and wait for the response with the same transaction id, retransmitting
 * (RFC 8489 §6.2.1) until WAIT_MS. Returns the length, -ECONNREFUSED or -ETIMEDOUT. */
static int transact(int fd, const uint8_t *req, size_t len, uint8_t *resp, size_t cap)
{
	int rto = 250, waited = 0;

	while (waited < WAIT_MS) {
		if (send(fd, req, len, 0) < 0 && errno == ECONNREFUSED)
			return -ECONNREFUSED;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, rto);
		waited += rto;
		rto *= 2;
		if (r <= 0)
			continue;
		ssize_t n = recv(fd, resp, cap, 0);
		if (n < 0)
			return errno == ECONNREFUSED ? -ECONNREFUSED : -EIO;
		if (n >= STUN_HEADER_LEN && !memcmp(resp + 8, req + 8, 12))
			return (int)n;
	}
	return -ETIMEDOUT;
}

int iw_probe_turn_check(const char *host, uint16_t port, const char *user, const char *pass, char *out,
			size_t cap)
{
	struct iw_addr addr;
	struct sockaddr_storage ss;
	struct auth a = { .user = user, .pass = pass };
	uint8_t req[1024], resp[1500], tid[12];
	int fd = -1, ret = -EPROTO;

	snprintf(out, cap, "TURN server %s:%u: no conclusion", host, port);
	if (iw_addr_parse(&addr, host))
		return -EINVAL;
	addr.port = port;
	socklen_t sl = iw_addr_to_sa(&addr, &ss);
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	/* A connected socket turns an ICMP port unreachable into ECONNREFUSED. */
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		snprintf(out, cap, "TURN server %s:%u unreachable: %s", host, port, strerror(errno));
		ret = -EHOSTUNREACH;
		goto out;
	}
	for (int round = 0; round < MAX_ROUNDS; round++) {
		struct iw_stun_msg m;
		const char *why = NULL;
		if (getrandom(tid, sizeof tid, 0) != (ssize_t)sizeof tid)
			goto out;
		int len = build(req, sizeof req, TURN_METHOD_ALLOCATE, tid, &a, false);
		if (len < 0)
			goto out;
		int n = transact(fd, req, (size_t)len, resp, sizeof resp);
		if (n < 0) {
			snprintf(out, cap, "TURN server %s:%u unreachable: %s", host, port,
				 n == -ECONNREFUSED ? "connection refused (nothing listens there)"
						    : "no answer to Allocate");
			ret = -EHOSTUNREACH;
			goto out;
		}
		if (iw_stun_decode(&m, resp, (size_t)n, &why) < 0) {
			snprintf(out, cap, "TURN server %s:%u sent a malformed answer: %s", host, port,
				 why ? why : "?");
			goto out;
		}
		if (m.cls == STUN_CLASS_SUCCESS) {
			/* Release it again: Refresh with LIFETIME 0 (RFC 8656 §7). */
			len = build(req, sizeof req, TURN_METHOD_REFRESH, tid, &a, true);
			if (len > 0)
				(void)transact(fd, req, (size_t)len, resp, sizeof resp);
			snprintf(out, cap, "TURN server %s:%u allocates for these credentials", host, port);
			ret = 0;
			goto out;
		}
		uint16_t code = (m.present & IW_STUN_HAS_ERROR_CODE) ? m.error_code : 0;
		bool first = a.key_len <= 0;
		if ((code == STUN_ERR_UNAUTHORIZED && first) || code == STUN_ERR_STALE_NONCE) {
			if (!(m.present & IW_STUN_HAS_REALM) || !(m.present & IW_STUN_HAS_NONCE))
				break;
			snprintf(a.realm, sizeof a.realm, "%.*s", m.realm.len, (const char *)m.realm.p);
			snprintf(a.nonce, sizeof a.nonce, "%.*s", m.nonce.len, (const char *)m.nonce.p);
			a.key_len = iw_stun_lt_key(a.key, STUN_PASSWORD_ALG_MD5, user, strlen(user), a.realm,
						   strlen(a.realm), pass, strlen(pass));
			continue;
		}
		if (code == STUN_ERR_UNAUTHORIZED || code == STUN_ERR_WRONG_CREDENTIALS) {
			snprintf(out, cap,
				 "TURN authentication refused by %s:%u (%u %s): wrong username, "
				 "password or shared secret, or an expired REST credential",
				 host, port, code, iw_stun_err_reason(code));
			ret = -EACCES;
			goto out;
		}
		snprintf(out, cap, "TURN server %s:%u refused the allocation: %u %.*s", host, port, code,
			 (m.present & IW_STUN_HAS_ERROR_CODE) ? m.reason.len : 0,
			 (m.present & IW_STUN_HAS_ERROR_CODE) ? (const char *)m.reason.p : "");
		goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	return ret;
}
