/* The relay's admin API (GET /admin/sessions, DELETE /admin/sessions..., POST
 * /admin/users/U/revoke, GET /admin/status) on the metrics listener, and what it needs inside
 * the workers: a mailbox per worker and a table of revoked users.
 *
 * Workers own their allocations and take no lock on the packet path, so the HTTP thread never
 * touches a worker's tables. It posts a command in the worker's mailbox and wakes the worker
 * through an eventfd in the worker's epoll set; the worker runs the command at the top of its
 * loop (one relaxed load per wake-up when nothing is posted) and answers; the HTTP thread waits
 * for that answer at most IW_ADMIN_WAIT_MS. */
#ifndef IW_TURN_ADMIN_H
#define IW_TURN_ADMIN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "common/metrics.h"
#include "turn/alloc.h"
#include "turn/conf.h"
#include "turn/worker.h"

enum {
	IW_EV_ADMIN = 32,                /* an epoll data.ptr at a struct iw_admin_box */
	IW_ADMIN_WAIT_MS = 2000,         /* for each worker's answer */
	IW_ADMIN_LIST_MAX = 10000,       /* sessions in one listing; past it "truncated": true */
	IW_ADMIN_REVOKED_MAX = 1024,     /* users revoked at once; past it 507 */
	IW_ADMIN_REVOKE_MAX_S = 2592000, /* 30 days */
	IW_ADMIN_AUTH_BURST = 10,        /* wrong tokens in a row, then one a second (429) */
};

/* Mailbox states (iw_admin_box.state). */
enum { IW_ADMIN_IDLE, IW_ADMIN_POSTED, IW_ADMIN_TAKEN, IW_ADMIN_DONE };

/* A copy of one allocation, made by its worker for a listing. */
struct iw_admin_sess {
	uint64_t id;
	struct iw_addr client;
	struct iw_addr relayed[2];
	uint8_t n_relayed;
	uint8_t transport;            /* 0 udp, 1 tcp, 2 tls */
	uint16_t user_len, ident_off; /* the user identity is user + ident_off */
	int64_t created_s, expires_s; /* wall clock */
	struct iw_alloc_use use;
	char user[IW_ALLOC_USER_MAX];
};

enum iw_admin_op { IW_ADMIN_OP_LIST = 1, IW_ADMIN_OP_KILL };

/* One command for one worker. The filters select allocations: id (0: any), the user identity
 * (NULL: any), the client address (NULL: any; its port 0 matches any port). */
struct iw_admin_cmd {
	enum iw_admin_op op;
	enum iw_alloc_end why; /* KILL: IW_END_KILLED or IW_END_REVOKED */
	uint64_t id;
	const char *user;
	size_t user_len;
	const struct iw_addr *client;
	struct iw_admin_sess *out; /* LIST: room for out_cap copies */
	size_t out_cap;
	size_t n_out;     /* LIST: copies made */
	size_t n_matched; /* allocations that matched (listed, or ended) */
};

struct iw_admin_revoked;

/* A worker's mailbox. kind comes first: the eventfd's epoll data.ptr points here. */
struct iw_admin_box {
	uint8_t kind; /* IW_EV_ADMIN */
	int efd;
	int state; /* IW_ADMIN_*, atomic */
	struct iw_admin_cmd *cmd;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct iw_admin_revoked *revoked; /* shared by every worker */
};

struct iw_admin;

/* Worker side, in the loop: run a posted command. One relaxed load when none is. */
void iw_admin_box_run(struct iw_worker *w);
static inline void iw_admin_poll(struct iw_worker *w)
{
	if (w->admin && __atomic_load_n(&w->admin->state, __ATOMIC_RELAXED) == IW_ADMIN_POSTED)
		iw_admin_box_run(w);
}
/* The box's eventfd was readable (epoll): clear it; the command runs at the loop's top. */
void iw_admin_box_ack(struct iw_admin_box *b);

/* Control path (Allocate): is this user identity revoked? *left_s gets the seconds left. */
bool iw_admin_is_revoked(const struct iw_worker *w, const void *user, size_t len, uint32_t *left_s);

/* Build the admin API for conf (admin_token set) over the workers and the TCP/TLS worker
 * (stream may be NULL). ops gives the drain flag and allocation counts. NULL when out of
 * memory (logged). */
struct iw_ops;
struct iw_admin *iw_admin_create(const struct iw_conf *conf, struct iw_ops *ops);
/* Before w runs: give it a mailbox (registered in its epoll set). 0 or a negative errno. */
int iw_admin_attach(struct iw_admin *ad, struct iw_worker *w);
/* The route for iw_metrics_http_start_routed (prefix "/admin/"). */
struct iw_metrics_route iw_admin_route(struct iw_admin *ad);
/* The admin API's metrics (requests by status, auth failures, revoked users). */
void iw_admin_metrics_fill(struct iw_metrics_buf *b, const struct iw_admin *ad);
/* After the HTTP server and the workers have stopped. Accepts NULL. */
void iw_admin_destroy(struct iw_admin *ad);

#endif
