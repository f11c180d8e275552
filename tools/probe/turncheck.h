/* A direct TURN Allocate exchange (common/stun codec) that explains why a TURN server gave
 * libnice no relay candidate: unreachable, authentication refused, or another error. */
#ifndef IW_PROBE_TURNCHECK_H
#define IW_PROBE_TURNCHECK_H

#include <stddef.h>
#include <stdint.h>

/*
 * Allocate on host:port (numeric) with long-term credentials, releasing any allocation made.
 * Blocks for at most about 1.5 s. Returns 0 when the server allocates, or < 0 with a
 * sentence in out: -EHOSTUNREACH (no answer), -EACCES (401/441 after authenticating),
 * -EPROTO (another error or a malformed answer).
 */
int iw_probe_turn_check(const char *host, uint16_t port, const char *user, const char *pass, char *out,
			size_t cap);

#endif
