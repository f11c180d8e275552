/* Token buckets and shared budgets for the relay's rate limits (turn/limit.h). */
#include "turn/limit.h"

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
	uint64_t p;
	return __builtin_mul_overflow(a, b, &p) ? UINT64_MAX : p;
}

void iw_limit_rate_set(struct iw_limit_rate *r, uint64_t per_s, uint32_t burst_ms, uint64_t min_tokens)
{
	*r = (struct iw_limit_rate){ .per_s = per_s, .burst_ms = burst_ms };
	if (!per_s)
		return;
	uint64_t min_milli = mul_sat(min_tokens ? min_tokens : 1, 1000);
	r->cap_milli = mul_sat(per_s, burst_ms); /* per_s/1000 a millisecond, in thousandths */
	if (r->cap_milli < min_milli)
		r->cap_milli = min_milli;
	/* The burst as time: cap tokens at per_s a second, in microseconds, rounded up like a
	 * take's cost so that a take of the whole burst fits. */
	unsigned __int128 t = ((unsigned __int128)r->cap_milli * 1000 + per_s - 1) / per_s;
	r->tau_us = t > UINT64_MAX ? UINT64_MAX : (uint64_t)t;
}

void iw_limit_tb_refill(struct iw_limit_tb *b, const struct iw_limit_rate *r, uint64_t now_ms)
{
	uint64_t cap = r->cap_milli;
	if (b->last_ms == 0) {
		b->milli = cap;
		b->last_ms = now_ms;
		return;
	}
	if (now_ms < b->last_ms) {
		if (b->last_ms - now_ms > r->burst_ms)
			b->last_ms = now_ms;
		if (b->milli > cap)
			b->milli = cap;
		return;
	}
	uint64_t add = mul_sat(r->per_s, now_ms - b->last_ms);
	b->last_ms = now_ms;
	b->milli = add >= cap || b->milli >= cap - add ? cap : b->milli + add;
}

bool iw_limit_share_take(uint64_t *tat_us, const struct iw_limit_rate *r, uint64_t now_ms, uint64_t n)
{
	if (!r->per_s)
		return true;
	uint64_t now_us = mul_sat(now_ms, 1000);
	/* Rounded up: a budget never hands out more than its rate. */
	unsigned __int128 c = ((unsigned __int128)n * 1000000 + r->per_s - 1) / r->per_s;
	uint64_t cost = c > UINT64_MAX ? UINT64_MAX : (uint64_t)c;
	if (cost > r->tau_us)
		return false;
	uint64_t old = __atomic_load_n(tat_us, __ATOMIC_RELAXED);
	for (;;) {
		uint64_t base = old > now_us ? old : now_us;
		if (base - now_us > r->tau_us - cost || cost > UINT64_MAX - base)
			return false;
		/* Only this word is shared, and nothing else is published with it: relaxed. */
		if (__atomic_compare_exchange_n(tat_us, &old, base + cost, true, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			return true;
	}
}

uint64_t iw_limit_chunk(const struct iw_limit_rate *r)
{
	uint64_t c = mul_sat(r->per_s, IW_LIMIT_CHUNK_MS) / 1000;
	uint64_t cap = r->cap_milli / 1000;
	if (c < IW_LIMIT_MIN_BYTES)
		c = IW_LIMIT_MIN_BYTES;
	return c > cap ? cap : c;
}

void iw_limit_set_init(struct iw_limit_set *s, uint64_t bps, uint32_t pps, uint64_t user_bps, uint32_t peers,
		       uint32_t burst_ms)
{
	iw_limit_rate_set(&s->bps, bps, burst_ms, IW_LIMIT_MIN_BYTES);
	iw_limit_rate_set(&s->pps, pps, burst_ms, 1);
	iw_limit_rate_set(&s->user_bps, user_bps, burst_ms, IW_LIMIT_MIN_BYTES);
	iw_limit_rate_set(&s->peers, peers, 1000, 1);
	s->user_chunk = user_bps ? iw_limit_chunk(&s->user_bps) : 0;
	s->on = bps || pps || user_bps;
}
