/* The --check health probe: one STUN Binding request to a running relay. A client, so it
 * shares nothing with the workers. */
#include "turn/check.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/cred.h"
#include "common/stun.h"
#include "common/stun_auth.h"

int iw_check_binding(const char *addr, int timeout_ms, const char **why)
{
	struct iw_addr dst;
	struct sockaddr_storage ss;
	uint8_t tid[STUN_TID_LEN], req[64], resp[1500];
	int rc, fd = -1;
	if (iw_addr_parse(&dst, addr) || !dst.port) {
		*why = "not an ADDR:PORT";
		return -EINVAL;
	}
	if ((rc = iw_cred_random(tid, sizeof tid)) < 0) {
		*why = "no randomness";
		return rc;
	}
	struct iw_stun_wr s;
	iw_stun_wr_init(&s, req, sizeof req, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
	iw_stun_wr_fingerprint(&s);
	int len = iw_stun_wr_finish(&s);
	socklen_t sl = iw_addr_to_sa(&dst, &ss);
	fd = socket(dst.family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (len < 0 || fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) ||
	    send(fd, req, (size_t)len, 0) != len) {
		rc = -errno;
		*why = "cannot send";
		goto out;
	}
	/* One request; stray datagrams that are not our answer are skipped until the deadline. */
	for (int waited = 0; waited < timeout_ms; waited += 100) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t n = recv(fd, resp, sizeof resp, 0);
		if (n < 0) {
			rc = -errno;
			*why = "no answer (connection refused)";
			goto out;
		}
		struct iw_stun_msg m;
		const char *dwhy;
		if (iw_stun_decode(&m, resp, (size_t)n, &dwhy) < 0 || memcmp(m.tid, tid, STUN_TID_LEN) != 0)
			continue;
		if (m.method != STUN_METHOD_BINDING || m.cls != STUN_CLASS_SUCCESS ||
		    !(m.present & IW_STUN_HAS_MAPPED)) {
			rc = -EPROTO;
			*why = "not a Binding success with XOR-MAPPED-ADDRESS";
			goto out;
		}
		rc = 0;
		goto out;
	}
	rc = -ETIMEDOUT;
	*why = "no answer";
out:
	if (fd >= 0)
		close(fd);
	return rc;
}
