/* Worker wake-ups (turn/wakeup.h): the eventfd and the state, nothing of what is posted. */
#include "turn/wakeup.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"

int iw_wakeup_init(struct iw_wakeup *u)
{
	*u = (struct iw_wakeup){ .kind = IW_EV_WAKEUP, .efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
	int rc = u->efd < 0 ? -errno : 0;
	pthread_mutex_init(&u->mu, NULL);
	return rc;
}

void iw_wakeup_fini(struct iw_wakeup *u)
{
	if (u->efd >= 0)
		close(u->efd);
	pthread_mutex_destroy(&u->mu);
}

int iw_wakeup_watch(struct iw_wakeup *u, int epfd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = u };
	return epoll_ctl(epfd, EPOLL_CTL_ADD, u->efd, &ev) ? -errno : 0;
}

void iw_wakeup_post(struct iw_wakeup *u)
{
	uint64_t one = 1;
	__atomic_store_n(&u->state, IW_WAKEUP_POSTED, __ATOMIC_RELEASE);
	if (write(u->efd, &one, sizeof one) < 0)
		IW_LOG_RL(IW_LOG_WARN, 1, "wake-up: %s", strerror(errno));
}

void iw_wakeup_ack(struct iw_wakeup *u)
{
	uint64_t v;
	if (read(u->efd, &v, sizeof v) < 0 && errno != EAGAIN)
		IW_LOG_RL(IW_LOG_WARN, 1, "wake-up: %s", strerror(errno));
}
