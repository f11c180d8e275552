/* The control path: STUN Binding and the TURN requests (Allocate, Refresh, CreatePermission,
 * ChannelBind). Runs in the worker thread; may hash, format and log, but allocates nothing
 * per request (allocations come from the slab). Answers leave through the request's listener
 * (struct iw_listener's out), whatever its transport. Also builds what the workers share
 * (iw_worker_shared_init, turn/worker.h). */
#ifndef IW_TURN_CONTROL_H
#define IW_TURN_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "common/stun.h"
#include "turn/alloc.h"
#include "turn/worker.h"

/* Answer a decoded STUN message from src on listener l (anything but a Send indication).
 * Indications and responses are never answered. */
void iw_control_handle(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *src,
		       const struct iw_stun_msg *m);
/* A STUN datagram that failed to decode: 400 with why if it is a request, else dropped. */
void iw_control_bad(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *src, const uint8_t *p,
		    size_t len, const char *why);
/* An RFC 3489 Binding request (no magic cookie): answer with MAPPED-ADDRESS only, echoing
 * the 16-byte transaction id. CHANGE-REQUEST is ignored (no alternate address). */
void iw_control_classic(struct iw_worker *w, struct iw_listener *l, const struct iw_addr *src,
			const uint8_t *p, size_t len);
/* Close an allocation's relay sockets, release its ports and quota, and free its slot. */
void iw_control_alloc_free(struct iw_worker *w, struct iw_alloc *a, enum iw_alloc_end why);
/* rest-strict-expiry was turned on by a reload: cap every allocation made with a REST
 * credential at the credential's timestamp. Walks the table: once per reload, never per packet. */
void iw_control_strict_apply(struct iw_worker *w);
/* A TCP or TLS connection refused by a limit (max-tcp-per-ip): one "refused from IP:PORT" line of
 * the security log (worker.h: struct iw_seclog), within its rate limit. */
void iw_control_seclog_conn(struct iw_worker *w, const struct iw_addr *src, bool tls, const char *reason);
/* RFC 6062, for turn/tcprelay.c: answer the Connect req of allocation a on its control
 * connection, with success and CONNECTION-ID cid (code 0) or the error code and reason; and
 * tell a's client of a peer's connection cid from peer (ConnectionAttempt). */
void iw_control_tcp_answer(struct iw_worker *w, struct iw_alloc *a, const struct iw_tcp_req *req,
			   uint16_t code, const char *reason, uint32_t cid);
void iw_control_tcp_attempt(struct iw_worker *w, struct iw_alloc *a, uint32_t cid,
			    const struct iw_addr *peer);
/* Drop reservations past their time. */
void iw_control_resv_expire(struct iw_worker *w);
/* RFC 8016 (turn/mobility.h): at the top of the worker's loop, the moves posted to it: hand
 * over what another worker asks for, adopt and answer what this one waited on. */
void iw_control_mob_run(struct iw_worker *w);

#endif
