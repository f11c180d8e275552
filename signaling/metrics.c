/* The signaling /metrics text: names, help and labels in one place, written from plain
 * snapshots through common/metrics. It reads nothing but its arguments. */
#include "signaling/metrics.h"

#include "common/version.h"
#include "signaling/msg.h"

static void lab1(struct iw_metrics_buf *b, const char *name, const char *label, const char *val, uint64_t v)
{
	struct iw_metrics_label l = { label, val };
	iw_metrics_counter(b, name, &l, 1, v);
}

static void connections(struct iw_metrics_buf *b, const struct iw_signal_conn_stats *c)
{
	static const char rej[] = "iceway_signal_connections_rejected_total";

	iw_metrics_gauge1(b, "iceway_signal_connections", "Open WebSocket connections.",
			  (double)c->connections);
	iw_metrics_counter1(b, "iceway_signal_connections_accepted_total", "WebSocket connections accepted.",
			    c->accepted);
	iw_metrics_header(b, rej, IW_METRICS_COUNTER, "WebSocket handshakes refused, by reason.");
	lab1(b, rej, "reason", "origin", c->rejected_origin);
	lab1(b, rej, "reason", "auth", c->rejected_auth);
	lab1(b, rej, "reason", "limit", c->rejected_limit);
	lab1(b, rej, "reason", "path", c->rejected_path);
	lab1(b, rej, "reason", "shutdown", c->rejected_shutdown);
	lab1(b, rej, "reason", "per_address", c->rejected_per_address);
	iw_metrics_gauge1(b, "iceway_signal_source_addresses",
			  "Source addresses (IPv6: /64s) with an open WebSocket connection.",
			  (double)c->source_addresses);
	iw_metrics_gauge1(b, "iceway_signal_connections_per_address_limit",
			  "max-connections-per-ip (0: no limit).", (double)c->per_address_limit);
}

static void rooms(struct iw_metrics_buf *b, const struct iw_signal_metrics *m)
{
	iw_metrics_gauge1(b, "iceway_signal_rooms", "Rooms with at least one peer.", m->rooms);
	iw_metrics_gauge1(b, "iceway_signal_peers",
			  "Peers in rooms, including those within their resume grace period.", m->peers);
	iw_metrics_counter1(b, "iceway_signal_joins_total", "Peers that joined a room.", m->hub->joins);
	iw_metrics_counter1(b, "iceway_signal_resumes_total", "Peers that resumed their id.",
			    m->hub->resumes);
	iw_metrics_counter1(b, "iceway_signal_peers_expired_total",
			    "Peers removed after their resume grace period.", m->hub->expired);
}

static void messages(struct iw_metrics_buf *b, const struct iw_signal_metrics *m)
{
	static const char rel[] = "iceway_signal_messages_relayed_total";
	static const char err[] = "iceway_signal_errors_total";

	iw_metrics_counter1(b, "iceway_signal_messages_received_total", "WebSocket messages received.",
			    m->conn->msgs_in);
	iw_metrics_counter1(b, "iceway_signal_received_bytes_total", "WebSocket payload bytes received.",
			    m->conn->bytes_in);
	iw_metrics_counter1(b, "iceway_signal_received_parked_total",
			    "Messages in progress moved to a buffer of their own because another "
			    "connection's message started before they were complete.",
			    m->conn->rx_parked);
	iw_metrics_header(b, rel, IW_METRICS_COUNTER, "Messages forwarded between peers, by type.");
	for (int t = IW_MSG_OFFER; t <= IW_MSG_BYE; t++)
		lab1(b, rel, "type", iw_msg_type_name((enum iw_msg_type)t), m->hub->relayed[t]);
	iw_metrics_header(b, err, IW_METRICS_COUNTER, "Error replies sent, by code.");
	for (int e = 0; e < IW_ERR_COUNT; e++)
		lab1(b, err, "code", iw_msg_err_name((enum iw_msg_err)e), m->hub->errors[e]);
}

static void closes_and_queues(struct iw_metrics_buf *b, const struct iw_signal_metrics *m)
{
	const struct iw_signal_conn_stats *c = m->conn;

	iw_metrics_counter1(b, "iceway_signal_peers_dropped_lag_total",
			    "Connections closed because their send queue overflowed.", c->dropped_lag);
	iw_metrics_counter1(b, "iceway_signal_peers_dropped_budget_total",
			    "Slowest readers closed because all send queues together reached their bound.",
			    c->dropped_budget);
	iw_metrics_counter1(b, "iceway_signal_closed_idle_total",
			    "Connections closed after the idle timeout (no pong).", c->closed_idle);
	iw_metrics_counter1(b, "iceway_signal_closed_too_big_total",
			    "Connections closed for a frame far over the size limit.", c->closed_too_big);
	iw_metrics_counter1(b, "iceway_signal_closed_abuse_total",
			    "Connections closed for sustained bad messages.", m->hub->abuse_closes);
	iw_metrics_counter1(
		b, "iceway_signal_errors_excused_total",
		"Error replies not counted toward max-errors: messages to a peer that just left or is "
		"reconnecting.",
		m->hub->errors_excused);
	iw_metrics_gauge1(b, "iceway_signal_queue_bytes", "Bytes waiting in send queues.",
			  (double)c->queue_bytes);
	iw_metrics_gauge1(b, "iceway_signal_queue_limit_bytes", "Per-connection send queue bound.",
			  (double)c->queue_limit);
	iw_metrics_gauge1(b, "iceway_signal_queue_total_limit_bytes", "Bound on all send queues together.",
			  (double)c->queue_total_limit);
	iw_metrics_counter1(b, "iceway_signal_http_requests_total", "HTTP requests to dynamic endpoints.",
			    c->http_requests);
	iw_metrics_counter1(b, "iceway_signal_admin_requests_total",
			    "Requests to the admin API (on the metrics listener), refused ones included.",
			    c->admin_requests);
	iw_metrics_counter1(b, "iceway_signal_admin_auth_failures_total",
			    "Admin API requests refused for a missing or wrong bearer token (401).",
			    c->admin_auth_failures);
	iw_metrics_counter1(b, "iceway_signal_peers_kicked_total",
			    "Peers disconnected through the admin API (one peer or a whole room).",
			    m->hub->kicked);
	iw_metrics_counter1(b, "iceway_signal_kicked_resumes_refused_total",
			    "Resumes refused because the operator had disconnected that peer.",
			    m->hub->kicked_resume_refused);
	iw_metrics_counter1(b, "iceway_signal_config_reloads_total", "Configurations reloaded on SIGHUP.",
			    c->reloads);
	iw_metrics_counter1(b, "iceway_signal_config_reload_errors_total",
			    "SIGHUP reloads refused for an invalid configuration.", c->reload_errors);
}

static void cluster(struct iw_metrics_buf *b, const struct iw_cluster_stats *cs,
		    const struct iw_hub_stats *st)
{
	iw_metrics_gauge1(b, "iceway_signal_redis_up",
			  "1 while connected to Redis (signaling across instances).", cs->up);
	iw_metrics_counter1(b, "iceway_signal_redis_reconnects_total",
			    "Successful Redis connections, the first included.", cs->reconnects);
	iw_metrics_counter1(b, "iceway_signal_redis_published_total",
			    "Messages published to other instances.", cs->published);
	iw_metrics_counter1(b, "iceway_signal_redis_received_total",
			    "Messages received from other instances.", cs->received);
	iw_metrics_counter1(b, "iceway_signal_remote_send_failed_total",
			    "Messages for peers on other instances that could not be sent.",
			    st->remote_failed);
	iw_metrics_counter1(
		b, "iceway_signal_remote_passed_on_total",
		"Messages from another instance for a peer that had just resumed elsewhere, passed "
		"on to it.",
		st->remote_passed_on);
	iw_metrics_counter1(b, "iceway_signal_redis_queue_dropped_total",
			    "Requests and events dropped because a Redis queue was full.",
			    cs->ops_dropped + cs->events_dropped);
	iw_metrics_counter1(b, "iceway_signal_remote_peers_reaped_total",
			    "Peers removed because their instance stopped refreshing its liveness.",
			    cs->peers_reaped);
	iw_metrics_counter1(
		b, "iceway_signal_redis_stale_removed_total",
		"Own peers removed from Redis late: they left while it was unreachable or the queue to it "
		"was full.",
		cs->stale_removed);
}

static void relays(struct iw_metrics_buf *b, const struct iw_relays_stats *rs)
{
	static const char up[] = "iceway_signal_relay_up", load[] = "iceway_signal_relay_allocations",
			  failed[] = "iceway_signal_relay_scrapes_failed_total";

	iw_metrics_header(b, up, IW_METRICS_GAUGE,
			  "1 while the relay's metrics answer and it is not draining.");
	for (unsigned i = 0; i < rs->n; i++) {
		struct iw_metrics_label l = { "relay", rs->relay[i].turn };
		iw_metrics_gauge(b, up, &l, 1, rs->relay[i].up);
	}
	iw_metrics_header(b, load, IW_METRICS_GAUGE, "Active allocations the relay last reported.");
	for (unsigned i = 0; i < rs->n; i++) {
		struct iw_metrics_label l = { "relay", rs->relay[i].turn };
		iw_metrics_gauge(b, load, &l, 1, (double)rs->relay[i].load);
	}
	iw_metrics_header(b, failed, IW_METRICS_COUNTER, "Failed scrapes of the relay's metrics.");
	for (unsigned i = 0; i < rs->n; i++)
		lab1(b, failed, "relay", rs->relay[i].turn, rs->relay[i].scrapes_failed);
	iw_metrics_counter1(b, "iceway_signal_relay_none_up_total",
			    "iceServers handed out while no relay was up (all relays listed).", rs->none_up);
}

static void proxy(struct iw_metrics_buf *b, const struct iw_proxy_in_stats *p)
{
	static const char n[] = "iceway_signal_proxy_connections_total";

	iw_metrics_header(b, n, IW_METRICS_COUNTER,
			  "Connections on a proxy-protocol listener, by what their first bytes were.");
	lab1(b, n, "result", "header", p->accepted);
	lab1(b, n, "result", "direct", p->direct);
	lab1(b, n, "result", "untrusted_header", p->refused_untrusted);
	lab1(b, n, "result", "missing_header", p->refused_missing);
	lab1(b, n, "result", "bad_header", p->refused_bad);
	lab1(b, n, "result", "timeout", p->refused_timeout);
	lab1(b, n, "result", "too_many_waiting", p->refused_full);
	iw_metrics_header(b, "iceway_signal_proxy_waiting", IW_METRICS_GAUGE,
			  "Connections waiting for their first bytes (bounded by proxy-max-pending).");
	iw_metrics_gauge(b, "iceway_signal_proxy_waiting", NULL, 0, (double)p->waiting);
}

void iw_signal_metrics_write(struct iw_metrics_buf *b, const struct iw_signal_metrics *m)
{
	struct iw_metrics_label v = { "version", iw_version() };

	iw_metrics_header(b, "iceway_build_info", IW_METRICS_GAUGE, "Build information.");
	iw_metrics_gauge(b, "iceway_build_info", &v, 1, 1);
	connections(b, m->conn);
	rooms(b, m);
	messages(b, m);
	closes_and_queues(b, m);
	if (m->cluster)
		cluster(b, m->cluster, m->hub);
	if (m->proxy)
		proxy(b, m->proxy);
	if (m->relays)
		relays(b, m->relays);
}
