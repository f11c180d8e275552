/* The relay's Prometheus exposition: per-worker counters summed at scrape time on the HTTP
 * server's thread. Workers never lock or make a syscall for metrics. */
#ifndef IW_TURN_METRICS_H
#define IW_TURN_METRICS_H

#include "common/metrics.h"
#include "turn/worker.h"

struct iw_ops;
struct iw_stream;
struct iw_admin;

struct iw_relay_metrics {
	struct iw_worker **workers;
	unsigned n_workers;
	const struct iw_ops *ops;        /* reload counters and drain state; may be NULL */
	const struct iw_stream *streams; /* the TCP/TLS worker's connections; may be NULL */
	const struct iw_admin *admin;    /* the admin API's counters; may be NULL */
};

/* iw_metrics_fill_fn over a struct iw_relay_metrics. */
void iw_relay_metrics_fill(struct iw_metrics_buf *b, void *arg);

#endif
