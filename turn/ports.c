/* Relay port pool: a bitmap over the configured range and a round-robin cursor, so a port
 * just released is not handed out again at once; and the process-wide pool, the same bitmaps
 * and the EVEN-PORT reservations behind one mutex for every worker. */
#include "turn/ports.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int iw_ports_init(struct iw_ports *p, uint16_t min, uint16_t max, uint32_t seed)
{
	memset(p, 0, sizeof *p);
	if (min == 0 || min > max)
		return -EINVAL;
	p->min = min;
	p->max = max;
	uint32_t n = iw_ports_size(p);
	p->used = calloc((n + 63) / 64, sizeof *p->used);
	if (!p->used)
		return -ENOMEM;
	p->cursor = seed % n;
	return 0;
}

void iw_ports_fini(struct iw_ports *p)
{
	free(p->used);
	memset(p, 0, sizeof *p);
}

static bool bit(const struct iw_ports *p, uint32_t off)
{
	return p->used[off / 64] >> (off % 64) & 1;
}

static void set_bit(struct iw_ports *p, uint32_t off, bool on)
{
	if (on)
		p->used[off / 64] |= 1ull << (off % 64);
	else
		p->used[off / 64] &= ~(1ull << (off % 64));
}

int iw_ports_take(struct iw_ports *p, bool even)
{
	uint32_t n = iw_ports_size(p);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t off = (p->cursor + i) % n;
		if (bit(p, off) || (even && (p->min + off) % 2))
			continue;
		set_bit(p, off, true);
		p->n_used++;
		p->cursor = (off + 1) % n;
		return p->min + (int)off;
	}
	return -ENOBUFS;
}

int iw_ports_take_exact(struct iw_ports *p, uint16_t port)
{
	if (port < p->min || port > p->max)
		return -ERANGE;
	uint32_t off = port - p->min;
	if (bit(p, off))
		return -EBUSY;
	set_bit(p, off, true);
	p->n_used++;
	return 0;
}

void iw_ports_put(struct iw_ports *p, uint16_t port)
{
	if (port < p->min || port > p->max || !bit(p, (uint32_t)(port - p->min)))
		return;
	set_bit(p, (uint32_t)(port - p->min), false);
	p->n_used--;
}

bool iw_ports_is_used(const struct iw_ports *p, uint16_t port)
{
	return port >= p->min && port <= p->max && bit(p, (uint32_t)(port - p->min));
}

/* --- the process-wide pool --- */

int iw_ports_pool_init(struct iw_ports_pool *pp, uint16_t min, uint16_t max, uint32_t seed)
{
	memset(pp, 0, sizeof *pp);
	for (unsigned i = 0; i < IW_MAX_RESV; i++)
		pp->resv[i].fd = -1;
	int rc = iw_ports_init(&pp->fam[0], min, max, seed);
	if (rc == 0)
		rc = iw_ports_init(&pp->fam[1], min, max, seed);
	if (rc == 0)
		rc = -pthread_mutex_init(&pp->mu, NULL);
	if (rc) {
		iw_ports_fini(&pp->fam[0]);
		iw_ports_fini(&pp->fam[1]);
		return rc;
	}
	pp->ready = true;
	return 0;
}

void iw_ports_pool_fini(struct iw_ports_pool *pp)
{
	if (!pp->ready)
		return;
	for (unsigned i = 0; i < IW_MAX_RESV; i++)
		if (pp->resv[i].token && pp->resv[i].fd >= 0)
			close(pp->resv[i].fd);
	iw_ports_fini(&pp->fam[0]);
	iw_ports_fini(&pp->fam[1]);
	pthread_mutex_destroy(&pp->mu);
	memset(pp, 0, sizeof *pp);
}

int iw_ports_pool_take(struct iw_ports_pool *pp, unsigned f, bool even)
{
	pthread_mutex_lock(&pp->mu);
	int p = iw_ports_take(&pp->fam[f], even);
	if (p < 0)
		pp->st.exhausted++;
	pthread_mutex_unlock(&pp->mu);
	return p;
}

/* One pass from the cursor for an even port whose odd neighbour is free too. */
static int take_pair(struct iw_ports *p)
{
	uint32_t n = iw_ports_size(p);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t off = (p->cursor + i) % n;
		if ((p->min + off) % 2 || off + 1 >= n || bit(p, off) || bit(p, off + 1))
			continue;
		set_bit(p, off, true);
		set_bit(p, off + 1, true);
		p->n_used += 2;
		p->cursor = (off + 2) % n;
		return p->min + (int)off;
	}
	return -ENOBUFS;
}

int iw_ports_pool_take_pair(struct iw_ports_pool *pp, unsigned f)
{
	pthread_mutex_lock(&pp->mu);
	int rc = take_pair(&pp->fam[f]);
	if (rc < 0)
		pp->st.exhausted++;
	pthread_mutex_unlock(&pp->mu);
	return rc;
}

void iw_ports_pool_put(struct iw_ports_pool *pp, unsigned f, uint16_t port)
{
	pthread_mutex_lock(&pp->mu);
	iw_ports_put(&pp->fam[f], port);
	pthread_mutex_unlock(&pp->mu);
}

uint32_t iw_ports_pool_in_use(struct iw_ports_pool *pp, unsigned f)
{
	pthread_mutex_lock(&pp->mu);
	uint32_t n = pp->fam[f].n_used;
	pthread_mutex_unlock(&pp->mu);
	return n;
}

bool iw_ports_resv_has_room(struct iw_ports_pool *pp)
{
	pthread_mutex_lock(&pp->mu);
	bool room = pp->n_resv < IW_MAX_RESV;
	pthread_mutex_unlock(&pp->mu);
	return room;
}

int iw_ports_resv_add(struct iw_ports_pool *pp, const struct iw_resv *r)
{
	int rc = -ENOBUFS;
	pthread_mutex_lock(&pp->mu);
	for (unsigned i = 0; i < IW_MAX_RESV; i++) {
		if (pp->resv[i].token)
			continue;
		pp->resv[i] = *r;
		pp->n_resv++;
		pp->st.resv_made++;
		rc = 0;
		break;
	}
	if (rc)
		pp->st.resv_full++;
	pthread_mutex_unlock(&pp->mu);
	return rc;
}

static void resv_clear(struct iw_ports_pool *pp, struct iw_resv *r)
{
	*r = (struct iw_resv){ .fd = -1 };
	pp->n_resv--;
}

int iw_ports_resv_redeem(struct iw_ports_pool *pp, uint64_t token, uint64_t now_ms, struct iw_resv *out)
{
	int rc = -ENOENT;
	pthread_mutex_lock(&pp->mu);
	for (unsigned i = 0; token && i < IW_MAX_RESV; i++) {
		struct iw_resv *r = &pp->resv[i];
		if (r->token != token)
			continue;
		/* Past its time but not swept yet: as good as gone. */
		if (r->expires_ms <= now_ms)
			break;
		*out = *r;
		resv_clear(pp, r);
		pp->st.resv_used++;
		rc = 0;
		break;
	}
	if (rc)
		pp->st.resv_unknown++;
	pthread_mutex_unlock(&pp->mu);
	return rc;
}

int iw_ports_resv_peek(struct iw_ports_pool *pp, uint64_t token, uint64_t now_ms)
{
	int rc = -ENOENT;
	pthread_mutex_lock(&pp->mu);
	for (unsigned i = 0; token && i < IW_MAX_RESV; i++)
		if (pp->resv[i].token == token && pp->resv[i].expires_ms > now_ms)
			rc = pp->resv[i].fam;
	pthread_mutex_unlock(&pp->mu);
	return rc;
}

int iw_ports_resv_get(struct iw_ports_pool *pp, uint64_t token, uint64_t now_ms, struct iw_resv *out)
{
	int rc = -ENOENT;
	pthread_mutex_lock(&pp->mu);
	for (unsigned i = 0; token && i < IW_MAX_RESV; i++)
		if (pp->resv[i].token == token && pp->resv[i].expires_ms > now_ms) {
			*out = pp->resv[i];
			rc = out->fam;
		}
	pthread_mutex_unlock(&pp->mu);
	return rc;
}

unsigned iw_ports_resv_expire(struct iw_ports_pool *pp, uint64_t now_ms)
{
	return iw_ports_resv_expire_each(pp, now_ms, NULL, NULL);
}

/* Close before the port is freed, so whoever takes it next can bind it. */
static void resv_end(struct iw_ports_pool *pp, struct iw_resv *r, iw_ports_resv_fn fn, void *ctx)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	iw_ports_put(&pp->fam[r->fam], r->port);
	if (fn)
		fn(ctx, r);
	resv_clear(pp, r);
}

int iw_ports_resv_cancel(struct iw_ports_pool *pp, uint64_t token, struct iw_resv *out)
{
	int rc = -ENOENT;
	pthread_mutex_lock(&pp->mu);
	for (unsigned i = 0; token && i < IW_MAX_RESV; i++) {
		struct iw_resv *r = &pp->resv[i];
		if (r->token != token)
			continue;
		*out = *r;
		out->fd = -1;
		resv_end(pp, r, NULL, NULL);
		pp->st.resv_cancelled++;
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&pp->mu);
	return rc;
}

unsigned iw_ports_resv_expire_each(struct iw_ports_pool *pp, uint64_t now_ms, iw_ports_resv_fn fn, void *ctx)
{
	unsigned n = 0;
	pthread_mutex_lock(&pp->mu);
	for (unsigned i = 0; pp->n_resv && i < IW_MAX_RESV; i++) {
		struct iw_resv *r = &pp->resv[i];
		if (!r->token || r->expires_ms > now_ms)
			continue;
		resv_end(pp, r, fn, ctx);
		n++;
	}
	pp->st.resv_expired += n;
	pthread_mutex_unlock(&pp->mu);
	return n;
}

uint32_t iw_ports_resv_count(struct iw_ports_pool *pp)
{
	pthread_mutex_lock(&pp->mu);
	uint32_t n = pp->n_resv;
	pthread_mutex_unlock(&pp->mu);
	return n;
}
