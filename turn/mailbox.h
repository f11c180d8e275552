/* A worker's mailbox: how a thread that owns no allocation (the admin API's HTTP thread) gets
 * a worker to list or end its own allocations. Workers take no lock on the packet path and no
 * other thread touches their tables, so the asking thread posts a command and wakes the worker
 * (turn/wakeup.h); the worker runs the command at the top of its loop and answers; the asker
 * waits for the answer at most IW_MAILBOX_WAIT_MS, then withdraws the command if it was not
 * taken. */
#ifndef IW_TURN_MAILBOX_H
#define IW_TURN_MAILBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "turn/alloc.h"
#include "turn/wakeup.h"
#include "turn/worker.h"

enum { IW_MAILBOX_WAIT_MS = 2000 }; /* for a worker's answer */

/* Mailbox states past IW_WAKEUP_IDLE and IW_WAKEUP_POSTED (iw_mailbox.wake.state). */
enum { IW_MAILBOX_TAKEN = IW_WAKEUP_POSTED + 1, IW_MAILBOX_DONE };

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

struct iw_mailbox {
	struct iw_wakeup wake;
	struct iw_mailbox_cmd *cmd;
	pthread_cond_t cv; /* with wake.mu */
};

/* Before w runs: give it a mailbox (w->mailbox), registered in its epoll set. 0 or -errno. */
int iw_mailbox_attach(struct iw_worker *w);
/* After w stopped (before or after it is destroyed): free its mailbox. Accepts NULL. */
void iw_mailbox_destroy(struct iw_mailbox *b);

/* Worker side, at the top of its loop: run a posted command. */
void iw_mailbox_run(struct iw_worker *w);
static inline void iw_mailbox_poll(struct iw_worker *w)
{
	if (w->mailbox && iw_wakeup_is_posted(&w->mailbox->wake))
		iw_mailbox_run(w);
}

/* Asker side, one command at a time per mailbox: post c and wait for the answer. false when
 * the worker did not take it within IW_MAILBOX_WAIT_MS (it then never runs it). */
bool iw_mailbox_ask(struct iw_mailbox *b, struct iw_mailbox_cmd *c);

#endif
