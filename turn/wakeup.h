/* How another thread wakes a worker, for turn/mailbox.h and turn/mobility.h: an eventfd in the
 * worker's epoll set, and a state the worker reads with one relaxed load a turn of its loop.
 * What is posted, and how it is answered, stays theirs. */
#ifndef IW_TURN_WAKEUP_H
#define IW_TURN_WAKEUP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

enum { IW_EV_WAKEUP = 32 };                /* an epoll data.ptr at a struct iw_wakeup */
enum { IW_WAKEUP_IDLE, IW_WAKEUP_POSTED }; /* an owner may add states of its own */

struct iw_wakeup {
	uint8_t kind; /* IW_EV_WAKEUP, first: the eventfd's epoll data.ptr points here */
	int efd;
	int state;          /* atomic */
	pthread_mutex_t mu; /* the owner's, over what is posted and its answer */
};

/* u idle, with its eventfd and lock: 0 or -errno; iw_wakeup_fini undoes either. */
int iw_wakeup_init(struct iw_wakeup *u);
void iw_wakeup_fini(struct iw_wakeup *u);
/* Before the worker runs: u joins its epoll set. 0 or -errno. */
int iw_wakeup_watch(struct iw_wakeup *u, int epfd);
/* Asker side: POSTED with a release store, then the eventfd. */
void iw_wakeup_post(struct iw_wakeup *u);
/* Worker side, at the top of its loop: one relaxed load, no syscall. */
static inline bool iw_wakeup_is_posted(const struct iw_wakeup *u)
{
	return __atomic_load_n(&u->state, __ATOMIC_RELAXED) == IW_WAKEUP_POSTED;
}
/* Worker side, the eventfd readable (epoll): clear it. The work runs at the top of the loop,
 * where no event of the batch points into the tables any more. */
void iw_wakeup_ack(struct iw_wakeup *u);

#endif
