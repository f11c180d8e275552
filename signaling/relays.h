/* A pool of TURN relays: a poller thread scrapes each relay's Prometheus metrics for its
 * active allocations, and iceServers name the least loaded healthy relay. Plain C, no lws. */
#ifndef IW_SIGNALING_RELAYS_H
#define IW_SIGNALING_RELAYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { IW_RELAYS_MAX = 16, IW_RELAYS_URI_MAX = 256 };

/* The relay gauge that measures load (turn/metrics.c). */
#define IW_RELAYS_LOAD_METRIC "iceway_relay_allocations_active"
/* 1 while the relay drains after SIGTERM: it counts as down. */
#define IW_RELAYS_DRAIN_METRIC "iceway_relay_draining"

struct iw_relay_spec {
	char turn[IW_RELAYS_URI_MAX];    /* turn:HOST:PORT[?transport=..] or turns: */
	char stun[IW_RELAYS_URI_MAX];    /* stun:HOST:PORT derived from a turn: URI; "" for turns: */
	char metrics[IW_RELAYS_URI_MAX]; /* http://HOST:PORT/PATH; "": never scraped, always up */
};

struct iw_relays_cfg {
	struct iw_relay_spec relay[IW_RELAYS_MAX];
	unsigned n;
	unsigned poll_interval_ms;
	unsigned timeout_ms; /* per scrape: connect, send and read together */
};

/* What the poller last saw of one relay. */
struct iw_relay_state {
	bool up;
	uint64_t load;
};

/*
 * Parse "URI[,metrics=URL]" into *out. URI must be turn: or turns: with a host; URL must be
 * http://. 0, or -EINVAL with *why.
 */
int iw_relays_spec_parse(const char *s, struct iw_relay_spec *out, const char **why);

/*
 * Sum the samples of the metric called name (any labels) in a Prometheus text exposition of
 * len bytes. 0 with *val; -ENOENT when no sample has that name; -EINVAL on a bad value.
 */
int iw_relays_gauge_parse(const char *text, size_t len, const char *name, double *val);

/*
 * Index of the healthy relay with the least load; among equals, the first at or after *rr
 * (then *rr moves past it, so ties take turns). -ENOENT when none is up.
 */
int iw_relays_select(const struct iw_relay_state *st, unsigned n, unsigned *rr);

struct iw_relays;

/* Scrape once (bounded by timeout_ms per relay), then start the poller. NULL with *why. */
struct iw_relays *iw_relays_create(const struct iw_relays_cfg *cfg, const char **why);
void iw_relays_destroy(struct iw_relays *r); /* accepts NULL */

/*
 * The URIs to hand out now: the chosen relay's TURN and STUN URIs, or with no relay up, those
 * of every relay (counted in the fallback metric). Pointers stay valid until destroy.
 */
void iw_relays_pick(struct iw_relays *r, const char **turn, unsigned *n_turn, const char **stun,
		    unsigned *n_stun, unsigned cap);

/* A snapshot of the pool for /metrics (signaling/metrics.c writes it). */
struct iw_relays_stats {
	unsigned n;
	struct {
		const char *turn; /* the relay's TURN URI (its label), valid until destroy */
		bool up;
		uint64_t load;           /* active allocations last reported */
		uint64_t scrapes_failed; /* failed scrapes of its metrics */
	} relay[IW_RELAYS_MAX];
	uint64_t none_up; /* iceServers handed out while no relay was up */
};

/* Fill *out (taken under the pool's lock; thread-safe). */
void iw_relays_stats_get(struct iw_relays *r, struct iw_relays_stats *out);

#endif
