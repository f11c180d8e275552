/* A worker's mailbox: how a thread that owns no allocation (the admin API's HTTP thread) gets
 * a worker to list or end its own allocations. Workers take no lock on the packet path and no
 * other thread touches their tables, so the asking thread posts a command and wakes the worker
 * through an eventfd in the worker's epoll set; the worker runs the command at the top of its
 * loop (one relaxed load per wake-up while nothing is posted) and answers; the asker waits for
 * the answer at most IW_MAILBOX_WAIT_MS, then withdraws the command if it was not taken. */
#ifndef IW_TURN_MAILBOX_H
#define IW_TURN_MAILBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "turn/alloc.h"
#include "turn/worker.h"

enum {
	IW_EV_MAILBOX = 32,        /* an epoll data.ptr at a struct iw_mailbox */
	IW_MAILBOX_WAIT_MS = 2000, /* for a worker's answer */
};

/* Mailbox states (iw_mailbox.state). */
enum { IW_MAILBOX_IDLE, IW_MAILBOX_POSTED, IW_MAILBOX_TAKEN, IW_MAILBOX_DONE };

/* A copy of one allocation, made by its worker for a listing. */
struct iw_mailbox_sess {
	uint64_t id;
	struct iw_addr client;
	struct iw_addr relayed[2];
	uint8_t n_relayed;
	uint8_t transport;            /* enum iw_client_tr: 0 udp, 1 tcp, 2 tls */
	uint16_t user_len, ident_off; /* the user identity is user + ident_off */
	int64_t created_s, expires_s; /* wall clock */
	struct iw_alloc_use use;
	char user[IW_ALLOC_USER_MAX];
};

enum iw_mailbox_op { IW_MAILBOX_LIST = 1, IW_MAILBOX_KILL };

/* One command for one worker. The filters select allocations: id (0: any), the user identity
 * (NULL: any), the client address (NULL: any; its port 0 matches any port). */
struct iw_mailbox_cmd {
	enum iw_mailbox_op op;
	enum iw_alloc_end why; /* KILL: the end reason (IW_END_KILLED, IW_END_REVOKED) */
	uint64_t id;
	const char *user;
	size_t user_len;
	const struct iw_addr *client;
	struct iw_mailbox_sess *out; /* LIST: room for out_cap copies */
	size_t out_cap;
	size_t n_out;     /* LIST: copies made */
	size_t n_matched; /* allocations that matched (listed, or ended) */
};

/* kind comes first: the eventfd's epoll data.ptr points here. */
struct iw_mailbox {
	uint8_t kind; /* IW_EV_MAILBOX */
	int efd;
	int state; /* IW_MAILBOX_*, atomic */
	struct iw_mailbox_cmd *cmd;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

/* Before w runs: give it a mailbox (w->mailbox), registered in its epoll set. 0 or -errno. */
int iw_mailbox_attach(struct iw_worker *w);
/* After w stopped (before or after it is destroyed): free its mailbox. Accepts NULL. */
void iw_mailbox_destroy(struct iw_mailbox *b);

/* Worker side, at the top of its loop: run a posted command. */
void iw_mailbox_run(struct iw_worker *w);
static inline void iw_mailbox_poll(struct iw_worker *w)
{
	if (w->mailbox && __atomic_load_n(&w->mailbox->state, __ATOMIC_RELAXED) == IW_MAILBOX_POSTED)
		iw_mailbox_run(w);
}
/* Worker side: the mailbox's eventfd was readable (epoll); clear it. The command runs at the
 * top of the loop, where no event of the batch points into the tables any more. */
void iw_mailbox_ack(struct iw_mailbox *b);

/* Asker side, one command at a time per mailbox: post c and wait for the answer. false when
 * the worker did not take it within IW_MAILBOX_WAIT_MS (it then never runs it). */
bool iw_mailbox_ask(struct iw_mailbox *b, struct iw_mailbox_cmd *c);

#endif
