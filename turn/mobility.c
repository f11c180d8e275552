/* Mobility boxes and the hand-over of an allocation between workers (turn/mobility.h). Not on
 * the packet path: a worker reads its box at the top of its loop. */
#include "turn/mobility.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/log.h"

struct iw_mob_hub *iw_mob_hub_create(unsigned n)
{
	struct iw_mob_hub *h = calloc(1, sizeof *h);
	if (!h)
		goto fail;
	h->box = calloc(n, sizeof *h->box);
	if (!h->box)
		goto fail;
	for (unsigned i = 0; i < n; i++) {
		h->n++;
		if (iw_wakeup_init(&h->box[i].wake))
			goto fail;
	}
	if (iw_cred_random(h->key, sizeof h->key))
		goto fail;
	return h;
fail:
	IW_ERROR("mobility: cannot set up the workers' boxes");
	iw_mob_hub_destroy(h);
	return NULL;
}

void iw_mob_hub_destroy(struct iw_mob_hub *h)
{
	if (!h)
		return;
	for (unsigned i = 0; i < h->n; i++) {
		struct iw_mob_box *b = &h->box[i];
		for (struct iw_mob_msg *m = b->head, *next; m; m = next) {
			next = m->next;
			/* The relay stopped while this allocation moved: its sockets go with it. */
			for (unsigned k = 0; m->op == IW_MOB_ADOPT && k < m->a.n_rsock; k++)
				if (m->a.rs[k].fd >= 0)
					close(m->a.rs[k].fd);
			free(m);
		}
		iw_wakeup_fini(&b->wake);
	}
	free(h->box);
	memset(h->key, 0, sizeof h->key);
	free(h);
}

int iw_mob_attach(struct iw_worker *w, struct iw_mob_hub *h)
{
	if (w->idx >= h->n)
		return -EINVAL;
	int rc = iw_wakeup_watch(&h->box[w->idx].wake, w->epfd);
	if (!rc)
		w->mob = h;
	return rc;
}

void iw_mob_post(struct iw_mob_hub *h, unsigned to, struct iw_mob_msg *m)
{
	struct iw_mob_box *b = &h->box[to];
	m->next = NULL;
	pthread_mutex_lock(&b->wake.mu);
	struct iw_mob_msg **p = &b->head;
	while (*p) /* a few moves in flight at most: the asker bounds them */
		p = &(*p)->next;
	*p = m;
	pthread_mutex_unlock(&b->wake.mu);
	/* After the list: a take in between leaves it posted and empty (one more empty take),
	 * never unposted with m in it. */
	iw_wakeup_post(&b->wake);
}

struct iw_mob_msg *iw_mob_take(struct iw_mob_hub *h, unsigned idx)
{
	struct iw_mob_box *b = &h->box[idx];
	pthread_mutex_lock(&b->wake.mu);
	struct iw_mob_msg *m = b->head;
	b->head = NULL;
	__atomic_store_n(&b->wake.state, IW_WAKEUP_IDLE, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&b->wake.mu);
	return m;
}

void iw_mob_detach(struct iw_worker *w, struct iw_alloc *a, struct iw_mob_msg *m)
{
	m->a = *a;
	memcpy(m->perms, a->perms, a->n_perms * sizeof *a->perms);
	memcpy(m->chans, a->chans, a->n_chans * sizeof *a->chans);
	for (unsigned i = 0; i < a->n_rsock; i++) {
		/* Leaves this epoll set; datagrams from peers wait in the socket meanwhile. */
		epoll_ctl(w->epfd, EPOLL_CTL_DEL, a->rs[i].fd, NULL);
		a->rs[i].fd = -1;
	}
	a->n_rsock = 0;
	a->res_token = 0;
	a->quota_held = a->ext_held = a->acct = false;
	iw_alloc_del(&w->tab, a);
}

struct iw_alloc *iw_mob_adopt(struct iw_worker *w, struct iw_mob_msg *m, const struct iw_addr *client,
			      struct iw_listener *l)
{
	struct iw_alloc_tab *t = &w->tab;
	const struct iw_alloc *src = &m->a;
	struct iw_alloc *a = iw_alloc_new(t, client, l->idx);
	if (!a)
		return NULL;
	uint32_t next_free = a->next_free;
	*a = *src;
	a->in_use = true;
	a->client = *client;
	a->listener = l->idx;
	a->lis = l;
	a->next_free = next_free;
	a->timer.next = a->timer.prev = &a->timer;
	a->perms = a->perm_in;
	a->chans = a->chan_in;
	a->ext = 0;
	a->n_perms = a->n_chans = 0;
	if (iw_alloc_room(t, a, src->n_perms, src->n_chans)) {
		a->n_rsock = 0; /* the sockets stay the caller's, in m */
		iw_alloc_del(t, a);
		return NULL;
	}
	memcpy(a->perms, m->perms, src->n_perms * sizeof *a->perms);
	memcpy(a->chans, m->chans, src->n_chans * sizeof *a->chans);
	a->n_perms = src->n_perms;
	a->n_chans = src->n_chans;
	t->perms_live += a->n_perms;
	t->chans_live += a->n_chans;
	for (unsigned i = 0; i < a->n_rsock; i++) {
		struct iw_rsock *rs = &a->rs[i];
		rs->alloc = a;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = rs };
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, rs->fd, &ev))
			IW_LOG_RL(IW_LOG_WARN, 1, "mobility: relay socket not watched: %s", strerror(errno));
	}
	iw_alloc_timer_arm(t, a);
	return a;
}
