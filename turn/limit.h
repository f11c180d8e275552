/* Rate limits of the relay (max-bps, max-pps, user-max-bps, max-new-peers-per-sec): token
 * bucket arithmetic, and the budget a user's allocations share across workers. Plain integers,
 * no I/O, no allocation, no lock: the packet path calls it for every relayed datagram. */
#ifndef IW_TURN_LIMIT_H
#define IW_TURN_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

enum {
	/* Every bucket holds at least this many bytes, so that the largest datagram can pass
	 * however low a byte rate is set (IW_DGRAM_MAX, turn/worker.h). */
	IW_LIMIT_MIN_BYTES = 2048,
	/* user-max-bps: an allocation takes its user's budget in chunks of this much time's
	 * worth (at least IW_LIMIT_MIN_BYTES, at most the burst). */
	IW_LIMIT_CHUNK_MS = 10,
};

/* One limit: a rate, and the burst its buckets hold (limit-burst worth, at least min_tokens). */
struct iw_limit_rate {
	uint64_t per_s;     /* tokens a second; 0: no limit */
	uint64_t cap_milli; /* the burst, in thousandths of a token */
	uint32_t burst_ms;
	uint64_t tau_us; /* the burst as time at per_s (iw_limit_share_take) */
};

/* Set r to per_s tokens a second (0: off) with a burst of burst_ms worth, at least min_tokens
 * (and at least one). Products that would overflow saturate. */
void iw_limit_rate_set(struct iw_limit_rate *r, uint64_t per_s, uint32_t burst_ms, uint64_t min_tokens);

/*
 * A token bucket in thousandths of a token: refilling per_s tokens a second over dt
 * milliseconds adds per_s * dt exactly, with no division and nothing lost to rounding. A
 * zeroed bucket is full at its first use. Written by one thread (its allocation's worker).
 */
struct iw_limit_tb {
	uint64_t milli;
	uint64_t last_ms; /* 0: never used */
};

/* Refill b up to now_ms. Time that goes backwards (a clock read on another thread, a stale
 * reading) refills nothing and keeps b's time, so the same interval is never credited twice;
 * a jump back longer than the burst restarts b's clock at now_ms, so b cannot stall. A rate
 * lowered by a reload clips what b holds to the new burst. */
void iw_limit_tb_refill(struct iw_limit_tb *b, const struct iw_limit_rate *r, uint64_t now_ms);

/* Does b hold cost tokens at now_ms (refilled first)? Spends nothing. */
static inline bool iw_limit_tb_has(struct iw_limit_tb *b, const struct iw_limit_rate *r, uint64_t now_ms,
				   uint64_t cost)
{
	if (now_ms != b->last_ms) /* once per wake-up: now_ms moves once per wake-up */
		iw_limit_tb_refill(b, r, now_ms);
	return b->milli / 1000 >= cost;
}

/* Spend cost tokens that iw_limit_tb_has said b holds. */
static inline void iw_limit_tb_spend(struct iw_limit_tb *b, uint64_t cost)
{
	b->milli -= cost * 1000;
}

/*
 * A budget several threads take from (user-max-bps: a user's allocations on every worker),
 * as the time in microseconds at which it would be full again (the "theoretical arrival
 * time" of GCRA). Taking n tokens moves it n / per_s later; a take that would put it more
 * than the burst ahead of now is refused. One compare-and-swap per take, retried only when
 * another thread took at the same moment; no lock, no syscall. Clocks of different threads
 * that disagree by a few milliseconds only make a take a little stricter. Zero is full.
 */
bool iw_limit_share_take(uint64_t *tat_us, const struct iw_limit_rate *r, uint64_t now_ms, uint64_t n);

/* What a worker enforces, from its configuration snapshot: rebuilt when it adopts a reload, so
 * that new rates apply to allocations that exist. */
struct iw_limit_set {
	struct iw_limit_rate bps, pps, user_bps, peers;
	uint64_t user_chunk; /* iw_limit_chunk(&user_bps) */
	bool on;             /* any of bps, pps, user_bps: the packet path checks */
};

/* Bytes (max-bps) and datagrams (max-pps) a second per allocation, bytes a second per user
 * (user-max-bps) with a burst of burst_ms worth; new peers a second (max-new-peers-per-sec)
 * with a burst of one second's worth. 0: off. */
void iw_limit_set_init(struct iw_limit_set *s, uint64_t bps, uint32_t pps, uint64_t user_bps, uint32_t peers,
		       uint32_t burst_ms);

/* The chunk an allocation takes from its user's budget at once (IW_LIMIT_CHUNK_MS worth). */
uint64_t iw_limit_chunk(const struct iw_limit_rate *r);

#endif
