/* RFC 8016 mobility between workers. A client's new address may hash (SO_REUSEPORT) to another
 * worker than the one that holds its allocation, and workers share no tables: the worker the
 * Refresh with the ticket reached asks the owner through the owner's box, the owner takes the
 * allocation out of its table and epoll set and hands its state back in the same message, and
 * the asking worker puts it into its own, relay sockets and all; the relayed address and the
 * accounting session stay the same. Boxes are read at the top of a worker's loop, woken
 * through turn/wakeup.h; the packet path never looks at them. */
#ifndef IW_TURN_MOBILITY_H
#define IW_TURN_MOBILITY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/cred.h"
#include "turn/alloc.h"
#include "turn/wakeup.h"
#include "turn/worker.h"

enum iw_mob_op {
	IW_MOB_ASK,        /* to the owner: hand this allocation over */
	IW_MOB_GONE,       /* back: no such allocation (any more) */
	IW_MOB_OTHER_USER, /* back: another user's */
	IW_MOB_ADOPT,      /* back: here it is */
};

/* One move, allocated by the asking worker, answered by the owner in place. */
struct iw_mob_msg {
	struct iw_mob_msg *next;
	enum iw_mob_op op;
	unsigned from;   /* the asking worker */
	unsigned flight; /* its entry in the asker's mob_flight[] */
	struct iw_cred_ticket tk;
	uint16_t user_len;
	char user[IW_ALLOC_USER_MAX];
	/* ADOPT: the allocation as its owner had it, with its sets copied out of any overflow
	 * block (a worker's own pool); its relay sockets are in no epoll set. */
	struct iw_alloc a;
	struct iw_perm perms[IW_MAX_PERMS];
	struct iw_chan chans[IW_MAX_CHANS];
};

struct iw_mob_box {
	struct iw_wakeup wake; /* posted: the list may not be empty; wake.mu guards it */
	struct iw_mob_msg *head;
};

/* The UDP workers' boxes and the key tickets are sealed with (random, per process). */
struct iw_mob_hub {
	uint8_t key[IW_CRED_TICKET_KEY_LEN];
	unsigned n;
	struct iw_mob_box *box;
};

/* Boxes for n UDP workers. NULL on failure (logged). */
struct iw_mob_hub *iw_mob_hub_create(unsigned n);
/* After every worker stopped: frees what is still posted, closing the relay sockets of
 * allocations in transit. Accepts NULL. */
void iw_mob_hub_destroy(struct iw_mob_hub *h);

/* Before UDP worker w runs: its box joins its epoll set and w->mob is set. 0 or -errno. */
int iw_mob_attach(struct iw_worker *w, struct iw_mob_hub *h);

/* Post m to worker `to` and wake it. */
void iw_mob_post(struct iw_mob_hub *h, unsigned to, struct iw_mob_msg *m);
/* Everything posted to worker idx, oldest first; NULL when none. */
struct iw_mob_msg *iw_mob_take(struct iw_mob_hub *h, unsigned idx);
static inline bool iw_mob_posted(const struct iw_worker *w)
{
	return w->mob && iw_wakeup_is_posted(&w->mob->box[w->idx].wake);
}

/* Owner side: move a (of w, a live allocation) into m and out of w's table and epoll set,
 * without closing anything or ending its session. */
void iw_mob_detach(struct iw_worker *w, struct iw_alloc *a, struct iw_mob_msg *m);
/* Asker side: m's allocation into w's table for the 5-tuple client/l, its relay sockets into
 * w's epoll set. NULL when it does not fit (table or overflow blocks full): m->a is then
 * still the caller's to end. */
struct iw_alloc *iw_mob_adopt(struct iw_worker *w, struct iw_mob_msg *m, const struct iw_addr *client,
			      struct iw_listener *l);

#endif
