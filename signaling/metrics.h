/* iceway-signal's Prometheus exposition. The counters stay with their owners (the WebSocket
 * layer, the hub, the cluster link, the relay pool); a scrape hands in a snapshot of each and
 * this module writes the text through common/metrics. No lws, no locks, no I/O. */
#ifndef IW_SIGNALING_METRICS_H
#define IW_SIGNALING_METRICS_H

#include <stdint.h>

#include "common/metrics.h"
#include "signaling/cluster.h"
#include "signaling/hub.h"
#include "signaling/proxy_in.h"
#include "signaling/relays.h"

/* What the WebSocket and HTTP front end counts, and its gauges and limits at scrape time. */
struct iw_signal_conn_stats {
	uint64_t connections; /* open WebSockets (gauge) */
	uint64_t accepted;
	/* handshakes refused, by reason */
	uint64_t rejected_origin, rejected_auth, rejected_limit, rejected_path, rejected_shutdown,
		rejected_per_address;
	uint64_t source_addresses;  /* gauge: addresses (IPv6: /64s) with an open WebSocket */
	uint64_t per_address_limit; /* max-connections-per-ip, 0: none */
	uint64_t msgs_in, bytes_in;
	uint64_t rx_parked; /* messages in progress moved out of the shared receive buffer */
	uint64_t dropped_lag, dropped_budget, closed_idle, closed_too_big;
	uint64_t queue_bytes, queue_limit, queue_total_limit; /* gauges, bytes */
	uint64_t http_requests, reloads, reload_errors;
	uint64_t admin_requests, admin_auth_failures; /* the admin API: answered, and 401s */
};

/* One scrape's inputs. Every pointer must stay valid for the call. */
struct iw_signal_metrics {
	const struct iw_signal_conn_stats *conn;
	const struct iw_hub_stats *hub;
	unsigned rooms, peers;                  /* iw_room_set_count, iw_room_set_n_peers */
	const struct iw_cluster_stats *cluster; /* NULL: a single instance, no Redis metrics */
	const struct iw_relays_stats *relays;   /* NULL: no relay pool */
	const struct iw_proxy_in_stats *proxy;  /* NULL: proxy-protocol off */
};

/* Append the whole exposition to b (a line that does not fit sets b->overflow). */
void iw_signal_metrics_write(struct iw_metrics_buf *b, const struct iw_signal_metrics *m);

#endif
