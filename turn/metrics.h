/* The relay's Prometheus exposition: per-worker counters summed at scrape time on the HTTP
 * server's thread. Workers never lock or make a syscall for metrics. */
#ifndef IW_TURN_METRICS_H
#define IW_TURN_METRICS_H

#include "common/metrics.h"
#include "turn/worker.h"

struct iw_ops;
struct iw_stream;

struct iw_relay_metrics {
	struct iw_worker **workers;
	unsigned n_workers;
	const struct iw_ops *ops;        /* reload counters and drain state; may be NULL */
	const struct iw_stream *streams; /* the TCP/TLS worker's connections; may be NULL */
};

/* Bytes relayed (sent on, both directions) by n workers and stream (may be NULL) so far: a
 * read of counters other threads write, which may be a packet behind (turn/ops.c measures
 * the relayed rate with it). */
uint64_t iw_relay_metrics_relayed_bytes(struct iw_worker *const *workers, unsigned n,
					const struct iw_worker *stream);

/* iw_metrics_fill_fn over a struct iw_relay_metrics. */
void iw_relay_metrics_fill(struct iw_metrics_buf *b, void *arg);

#endif
