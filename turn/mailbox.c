/* Worker mailboxes: post, run at the top of the worker's loop, answer (the wake-up is
 * turn/wakeup.c). */
#include "turn/mailbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "turn/control.h"

static bool matches(const struct iw_alloc *a, const struct iw_mailbox_cmd *c)
{
	if (c->id && a->id != c->id)
		return false;
	if (c->user && ((size_t)(a->user_len - a->quota_off) != c->user_len ||
			memcmp(a->user + a->quota_off, c->user, c->user_len)))
		return false;
	if (c->client) {
		if (!iw_addr_ip_eq(&a->client, c->client))
			return false;
		if (c->client->port && a->client.port != c->client->port)
			return false;
	}
	return true;
}

static void snapshot(const struct iw_alloc *a, struct iw_mailbox_sess *s, uint64_t now_ms, int64_t now_s)
{
	s->id = a->id;
	s->client = a->client;
	s->n_relayed = a->n_rsock;
	for (unsigned i = 0; i < a->n_rsock && i < 2; i++)
		s->relayed[i] = a->rs[i].adv;
	s->transport = a->tr;
	s->user_len = a->user_len;
	s->ident_off = a->quota_off;
	memcpy(s->user, a->user, a->user_len);
	s->created_s = now_s - (int64_t)((now_ms - a->created_ms) / 1000);
	s->expires_s =
		now_s + (a->expires_ms > now_ms ? (int64_t)((a->expires_ms - now_ms + 999) / 1000) : 0);
	s->use = a->use;
}

static void run(struct iw_worker *w, struct iw_mailbox_cmd *c)
{
	uint64_t now_ms = iw_clock_ms();
	int64_t now_s = iw_clock_wall_s();
	/* Off the packet path, once per command: a walk over the slots ever used. in_use and id
	 * stay readable in a freed slot (alloc.c poisons the rest under ASan). */
	for (uint32_t i = 0; i < w->tab.n_fresh; i++) {
		struct iw_alloc *a = &w->tab.slab[i];
		if (!a->in_use || !matches(a, c))
			continue;
		c->n_matched++;
		if (c->op == IW_MAILBOX_KILL)
			iw_control_alloc_free(w, a, c->why);
		else if (c->n_out < c->out_cap)
			snapshot(a, &c->out[c->n_out++], now_ms, now_s);
	}
}

void iw_mailbox_run(struct iw_worker *w)
{
	struct iw_mailbox *b = w->mailbox;
	int expect = IW_WAKEUP_POSTED;
	/* The asker may have given up and taken the command back: whoever moves it out of POSTED
	 * first owns it. */
	if (!__atomic_compare_exchange_n(&b->wake.state, &expect, IW_MAILBOX_TAKEN, false, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED))
		return;
	run(w, b->cmd);
	pthread_mutex_lock(&b->wake.mu);
	__atomic_store_n(&b->wake.state, IW_MAILBOX_DONE, __ATOMIC_RELEASE);
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->wake.mu);
}

static void deadline_in(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

bool iw_mailbox_ask(struct iw_mailbox *b, struct iw_mailbox_cmd *c)
{
	struct timespec dl;
	bool ok = true;

	b->cmd = c;
	iw_wakeup_post(&b->wake); /* release: the worker's acquire sees c */
	deadline_in(&dl, IW_MAILBOX_WAIT_MS);
	pthread_mutex_lock(&b->wake.mu);
	while (__atomic_load_n(&b->wake.state, __ATOMIC_ACQUIRE) != IW_MAILBOX_DONE) {
		if (pthread_cond_timedwait(&b->cv, &b->wake.mu, &dl) != ETIMEDOUT)
			continue;
		int expect = IW_WAKEUP_POSTED;
		if (__atomic_compare_exchange_n(&b->wake.state, &expect, IW_WAKEUP_IDLE, false,
						__ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
			ok = false;
			break;
		}
		/* Taken: the worker runs it, a bounded walk of its table; wait it out. */
		deadline_in(&dl, 100);
	}
	if (ok)
		__atomic_store_n(&b->wake.state, IW_WAKEUP_IDLE, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&b->wake.mu);
	return ok;
}

int iw_mailbox_attach(struct iw_worker *w)
{
	struct iw_mailbox *b = calloc(1, sizeof *b);
	if (!b)
		return -ENOMEM;
	int e = iw_wakeup_init(&b->wake);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (e || (e = iw_wakeup_watch(&b->wake, w->epfd))) {
		iw_mailbox_destroy(b);
		return e;
	}
	w->mailbox = b;
	return 0;
}

void iw_mailbox_destroy(struct iw_mailbox *b)
{
	if (!b)
		return;
	iw_wakeup_fini(&b->wake);
	pthread_cond_destroy(&b->cv);
	free(b);
}
