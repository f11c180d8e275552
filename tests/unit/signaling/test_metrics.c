/* Unit tests for signaling/metrics.c: every family of the signaling exposition, its type, and
 * samples that carry the snapshot's values and labels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "signaling/metrics.h"

/* Name and type of each family, in exposition order (the set the integration tests and
 * dashboards read). */
static const char *const families[] = {
	"iceway_build_info gauge",
	"iceway_signal_connections gauge",
	"iceway_signal_connections_accepted_total counter",
	"iceway_signal_connections_rejected_total counter",
	"iceway_signal_source_addresses gauge",
	"iceway_signal_connections_per_address_limit gauge",
	"iceway_signal_rooms gauge",
	"iceway_signal_peers gauge",
	"iceway_signal_joins_total counter",
	"iceway_signal_resumes_total counter",
	"iceway_signal_peers_expired_total counter",
	"iceway_signal_messages_received_total counter",
	"iceway_signal_received_bytes_total counter",
	"iceway_signal_messages_relayed_total counter",
	"iceway_signal_errors_total counter",
	"iceway_signal_peers_dropped_lag_total counter",
	"iceway_signal_peers_dropped_budget_total counter",
	"iceway_signal_closed_idle_total counter",
	"iceway_signal_closed_too_big_total counter",
	"iceway_signal_closed_abuse_total counter",
	"iceway_signal_errors_excused_total counter",
	"iceway_signal_queue_bytes gauge",
	"iceway_signal_queue_limit_bytes gauge",
	"iceway_signal_queue_total_limit_bytes gauge",
	"iceway_signal_http_requests_total counter",
	"iceway_signal_config_reloads_total counter",
	"iceway_signal_config_reload_errors_total counter",
	"iceway_signal_redis_up gauge",
	"iceway_signal_redis_reconnects_total counter",
	"iceway_signal_redis_published_total counter",
	"iceway_signal_redis_received_total counter",
	"iceway_signal_remote_send_failed_total counter",
	"iceway_signal_redis_queue_dropped_total counter",
	"iceway_signal_remote_peers_reaped_total counter",
	"iceway_signal_redis_stale_removed_total counter",
	"iceway_signal_relay_up gauge",
	"iceway_signal_relay_allocations gauge",
	"iceway_signal_relay_scrapes_failed_total counter",
	"iceway_signal_relay_none_up_total counter",
};

static void has_line(const char *text, const char *line)
{
	char want[256];
	snprintf(want, sizeof want, "\n%s\n", line);
	if (!strstr(text, want))
		fail_msg("missing line: %s", line);
}

static void test_every_family(void **state)
{
	(void)state;
	static char mem[32768];
	struct iw_signal_conn_stats conn = { .connections = 3,
					     .rejected_per_address = 6,
					     .queue_limit = 1048576 };
	struct iw_hub_stats hub = { .joins = 7 };
	struct iw_cluster_stats cs = { .up = true, .ops_dropped = 2, .events_dropped = 3 };
	struct iw_relays_stats rs = { .n = 2, .none_up = 4 };
	struct iw_metrics_buf b;
	const char *at = mem;

	hub.relayed[IW_MSG_CANDIDATE] = 11;
	hub.errors[IW_ERR_UNKNOWN_PEER] = 12;
	rs.relay[0].turn = "turn:127.0.0.1:3478?transport=udp";
	rs.relay[0].up = true;
	rs.relay[0].load = 5;
	rs.relay[1].turn = "turns:a\"b:5349";
	iw_metrics_buf_init(&b, mem, sizeof mem);
	iw_signal_metrics_write(
		&b,
		&(struct iw_signal_metrics){
			.conn = &conn, .hub = &hub, .rooms = 1, .peers = 2, .cluster = &cs, .relays = &rs });
	assert_false(b.overflow);
	assert_false(b.invalid);
	for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
		char t[160];
		snprintf(t, sizeof t, "# TYPE %s\n", families[i]);
		const char *p = strstr(at, t);
		if (!p)
			fail_msg("family missing or out of order: %s", families[i]);
		at = p + strlen(t);
	}
	has_line(mem, "iceway_signal_connections 3");
	has_line(mem, "iceway_signal_connections_rejected_total{reason=\"per_address\"} 6");
	has_line(mem, "iceway_signal_queue_limit_bytes 1048576");
	has_line(mem, "iceway_signal_joins_total 7");
	has_line(mem, "iceway_signal_messages_relayed_total{type=\"candidate\"} 11");
	has_line(mem, "iceway_signal_errors_total{code=\"unknown-peer\"} 12");
	has_line(mem, "iceway_signal_redis_up 1");
	has_line(mem, "iceway_signal_redis_queue_dropped_total 5");
	has_line(mem, "iceway_signal_relay_up{relay=\"turn:127.0.0.1:3478?transport=udp\"} 1");
	has_line(mem, "iceway_signal_relay_allocations{relay=\"turn:127.0.0.1:3478?transport=udp\"} 5");
	has_line(mem, "iceway_signal_relay_up{relay=\"turns:a\\\"b:5349\"} 0");
	has_line(mem, "iceway_signal_relay_none_up_total 4");
}

/* Without Redis or a relay pool their families are left out. */
static void test_single_instance(void **state)
{
	(void)state;
	static char mem[32768];
	struct iw_signal_conn_stats conn = { 0 };
	struct iw_hub_stats hub = { 0 };
	struct iw_metrics_buf b;

	iw_metrics_buf_init(&b, mem, sizeof mem);
	iw_signal_metrics_write(&b, &(struct iw_signal_metrics){ .conn = &conn, .hub = &hub });
	assert_false(b.overflow);
	assert_null(strstr(mem, "iceway_signal_redis_"));
	assert_null(strstr(mem, "iceway_signal_relay_"));
	assert_non_null(strstr(mem, "# TYPE iceway_signal_config_reload_errors_total counter\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_family),
		cmocka_unit_test(test_single_instance),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
