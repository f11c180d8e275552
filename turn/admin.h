/* The relay's admin API on the metrics listener (admin-token): GET /admin/status, GET
 * /admin/sessions[?user=U&client=IP], GET and DELETE /admin/sessions/ID, DELETE
 * /admin/sessions?user=U, POST and DELETE /admin/users/U/revoke[?seconds=S]. Requests need
 * "Authorization: Bearer TOKEN". Runs on the metrics server's thread; what touches allocations
 * goes through each worker's mailbox (turn/mailbox.h), and revocations into the revoked-user
 * table that Allocate checks (turn/revoked.h). */
#ifndef IW_TURN_ADMIN_H
#define IW_TURN_ADMIN_H

#include "common/metrics.h"
#include "turn/conf.h"
#include "turn/worker.h"

enum {
	IW_ADMIN_LIST_MAX = 10000,       /* sessions in one listing; past it "truncated": true */
	IW_ADMIN_REVOKE_MAX_S = 2592000, /* 30 days */
	IW_ADMIN_AUTH_BURST = 10,        /* wrong tokens in a row, then one a second (429) */
};

struct iw_admin;
struct iw_ops;

/* The admin API for conf (admin_token set; conf outlives it) over the workers ops runs. NULL
 * when out of memory or randomness (logged). */
struct iw_admin *iw_admin_create(const struct iw_conf *conf, struct iw_ops *ops);
/* Before w runs: give it a mailbox and the revoked-user table. 0 or a negative errno. */
int iw_admin_attach(struct iw_admin *ad, struct iw_worker *w);
/* The route for iw_metrics_http_start_routed (prefix "/admin/"). */
struct iw_metrics_route iw_admin_route(struct iw_admin *ad);
/* The admin API's metrics (requests by answer, auth failures, sessions ended, revoked users).
 * On the metrics server's thread, like the routes. */
void iw_admin_metrics_fill(struct iw_metrics_buf *b, const struct iw_admin *ad);
/* After the metrics server and the workers have stopped, before the workers are destroyed:
 * their mailboxes go with it. Accepts NULL. */
void iw_admin_destroy(struct iw_admin *ad);

#endif
