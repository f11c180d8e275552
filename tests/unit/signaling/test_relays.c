/* Relay pool: selection, the Prometheus gauge reader and --relay parsing (signaling/relays.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "signaling/metrics.h"
#include "signaling/relays.h"

static void least_loaded_wins(void **state)
{
	(void)state;
	struct iw_relay_state st[] = { { true, 7 }, { true, 2 }, { true, 9 } };
	unsigned int rr = 0;
	for (int k = 0; k < 4; k++)
		assert_int_equal(iw_relays_select(st, 3, &rr), 1);
}

static void unhealthy_skipped(void **state)
{
	(void)state;
	struct iw_relay_state st[] = { { false, 0 }, { true, 50 }, { false, 1 } };
	unsigned int rr = 0;
	assert_int_equal(iw_relays_select(st, 3, &rr), 1);
	st[1].up = false;
	st[2].up = true;
	assert_int_equal(iw_relays_select(st, 3, &rr), 2);
}

static void none_up(void **state)
{
	(void)state;
	struct iw_relay_state st[] = { { false, 0 }, { false, 0 } };
	unsigned int rr = 1;
	assert_int_equal(iw_relays_select(st, 2, &rr), -ENOENT);
	assert_int_equal(rr, 1);
	assert_int_equal(iw_relays_select(st, 0, &rr), -ENOENT);
}

static void ties_take_turns(void **state)
{
	(void)state;
	struct iw_relay_state st[] = { { true, 3 }, { true, 8 }, { true, 3 }, { true, 3 } };
	unsigned int rr = 0;
	assert_int_equal(iw_relays_select(st, 4, &rr), 0);
	assert_int_equal(iw_relays_select(st, 4, &rr), 2);
	assert_int_equal(iw_relays_select(st, 4, &rr), 3);
	assert_int_equal(iw_relays_select(st, 4, &rr), 0);
	/* a lighter relay still wins at once, whatever the turn */
	st[1].load = 1;
	assert_int_equal(iw_relays_select(st, 4, &rr), 1);
	assert_int_equal(iw_relays_select(st, 4, &rr), 1);
}

static const char expo[] = "# HELP iceway_relay_allocations_active Allocations in use.\n"
			   "# TYPE iceway_relay_allocations_active gauge\n"
			   "iceway_relay_allocations_active 12\n"
			   "iceway_relay_allocations_active_peak 99\n"
			   "iceway_relay_allocations_total{result=\"ok\"} 1000\n"
			   "# iceway_relay_allocations_active 5000\n"
			   "iceway_relay_permissions_active 3\n";

static void gauge_found(void **state)
{
	(void)state;
	double v = -1;
	assert_int_equal(iw_relays_gauge_parse(expo, strlen(expo), "iceway_relay_allocations_active", &v), 0);
	assert_true(v == 12.0);
	assert_int_equal(iw_relays_gauge_parse(expo, strlen(expo), "iceway_relay_permissions_active", &v), 0);
	assert_true(v == 3.0);
}

static void gauge_labels_summed(void **state)
{
	(void)state;
	static const char t[] = "g{worker=\"0\"} 4\r\ng{worker=\"1\"} 6.5\ng 1e1";
	double v = 0;
	assert_int_equal(iw_relays_gauge_parse(t, strlen(t), "g", &v), 0);
	assert_true(v == 20.5);
}

static void gauge_missing_or_bad(void **state)
{
	(void)state;
	double v = 42;
	assert_int_equal(iw_relays_gauge_parse(expo, strlen(expo), "nope", &v), -ENOENT);
	assert_int_equal(iw_relays_gauge_parse("", 0, "g", &v), -ENOENT);
	assert_int_equal(iw_relays_gauge_parse("g abc\n", 6, "g", &v), -EINVAL);
	assert_int_equal(iw_relays_gauge_parse("g NaN\n", 6, "g", &v), -EINVAL);
	assert_int_equal(iw_relays_gauge_parse("g -1\n", 5, "g", &v), -EINVAL);
	assert_int_equal(iw_relays_gauge_parse("g \n", 3, "g", &v), -EINVAL);
	assert_int_equal(iw_relays_gauge_parse("g{a=\"1\" 3\n", 10, "g", &v), -ENOENT);
	/* the length bounds the read: the sample past it is not seen */
	assert_int_equal(iw_relays_gauge_parse("x 1\ng 2\n", 4, "g", &v), -ENOENT);
	assert_true(v == 42);
}

static void spec_parse(void **state)
{
	(void)state;
	struct iw_relay_spec s;
	const char *why = NULL;
	assert_int_equal(iw_relays_spec_parse("turn:10.0.0.1:3478?transport=udp,metrics="
					      "http://10.0.0.1:9641/metrics",
					      &s, &why),
			 0);
	assert_string_equal(s.turn, "turn:10.0.0.1:3478?transport=udp");
	assert_string_equal(s.stun, "stun:10.0.0.1:3478");
	assert_string_equal(s.metrics, "http://10.0.0.1:9641/metrics");
	assert_int_equal(iw_relays_spec_parse("turns:relay.example:5349", &s, &why), 0);
	assert_string_equal(s.stun, "");
	assert_string_equal(s.metrics, "");

	assert_int_equal(iw_relays_spec_parse("stun:1.2.3.4", &s, &why), -EINVAL);
	assert_non_null(why);
	assert_int_equal(iw_relays_spec_parse("turn:", &s, &why), -EINVAL);
	assert_int_equal(iw_relays_spec_parse("turn:h:1,metrics=https://h/m", &s, &why), -EINVAL);
	assert_int_equal(iw_relays_spec_parse("turn:h:1,bogus", &s, &why), -EINVAL);
	assert_int_equal(iw_relays_spec_parse("turn:h:1,metrics=http://", &s, &why), -EINVAL);
	char big[400];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	memcpy(big, "turn:", 5);
	assert_int_equal(iw_relays_spec_parse(big, &s, &why), -EINVAL);
}

/* A pool whose relays have no metrics URL: all count as up, ties take turns. */
static void pick_round_robin(void **state)
{
	(void)state;
	struct iw_relays_cfg cfg = { .n = 2, .poll_interval_ms = 60000 };
	const char *why = NULL, *turn[8], *stun[8];
	unsigned int nt, ns;
	assert_int_equal(iw_relays_spec_parse("turn:127.0.0.1:1001", &cfg.relay[0], &why), 0);
	assert_int_equal(iw_relays_spec_parse("turn:127.0.0.1:1002", &cfg.relay[1], &why), 0);
	struct iw_relays *r = iw_relays_create(&cfg, &why);
	assert_non_null(r);
	iw_relays_pick(r, turn, &nt, stun, &ns, 8);
	assert_int_equal(nt, 1);
	assert_int_equal(ns, 1);
	assert_string_equal(turn[0], "turn:127.0.0.1:1001");
	assert_string_equal(stun[0], "stun:127.0.0.1:1001");
	iw_relays_pick(r, turn, &nt, stun, &ns, 8);
	assert_string_equal(turn[0], "turn:127.0.0.1:1002");
	iw_relays_destroy(r);
}

/* The exposition of a pool snapshot, as /metrics writes it. */
static size_t relays_text(const struct iw_relays_stats *rs, char *m, size_t cap)
{
	struct iw_signal_conn_stats conn = { 0 };
	struct iw_hub_stats hub = { 0 };
	struct iw_metrics_buf b;

	iw_metrics_buf_init(&b, m, cap);
	iw_signal_metrics_write(&b, &(struct iw_signal_metrics){ .conn = &conn, .hub = &hub, .relays = rs });
	return b.len;
}

/* Metrics that cannot be read mark every relay down: all are listed, and that is counted. */
static void pick_all_when_none_up(void **state)
{
	(void)state;
	struct iw_relays_cfg cfg = { .n = 2, .poll_interval_ms = 60000, .timeout_ms = 500 };
	const char *why = NULL, *turn[8], *stun[8];
	unsigned int nt, ns;
	char m[16384];
	struct iw_relays_stats rs;
	/* port 1 on loopback: nothing listens there, the connect is refused at once */
	assert_int_equal(
		iw_relays_spec_parse("turn:127.0.0.1:1001,metrics=http://127.0.0.1:1/m", &cfg.relay[0], &why),
		0);
	assert_int_equal(iw_relays_spec_parse("turns:127.0.0.1:1002,metrics=http://127.0.0.1:1/m",
					      &cfg.relay[1], &why),
			 0);
	struct iw_relays *r = iw_relays_create(&cfg, &why);
	assert_non_null(r);
	iw_relays_pick(r, turn, &nt, stun, &ns, 8);
	assert_int_equal(nt, 2);
	assert_int_equal(ns, 1);
	iw_relays_stats_get(r, &rs);
	assert_int_equal(rs.n, 2);
	assert_false(rs.relay[0].up);
	assert_int_equal(rs.none_up, 1);
	size_t len = relays_text(&rs, m, sizeof m);
	assert_true(len > 0 && len < sizeof m);
	assert_non_null(strstr(m, "iceway_signal_relay_up{relay=\"turn:127.0.0.1:1001\"} 0\n"));
	assert_non_null(strstr(m, "iceway_signal_relay_none_up_total 1\n"));
	/* a small buffer is never overrun */
	assert_true(relays_text(&rs, m, 16) < 16);
	iw_relays_destroy(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(least_loaded_wins),
		cmocka_unit_test(unhealthy_skipped),
		cmocka_unit_test(none_up),
		cmocka_unit_test(ties_take_turns),
		cmocka_unit_test(gauge_found),
		cmocka_unit_test(gauge_labels_summed),
		cmocka_unit_test(gauge_missing_or_bad),
		cmocka_unit_test(spec_parse),
		cmocka_unit_test(pick_round_robin),
		cmocka_unit_test(pick_all_when_none_up),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
