/* turn/metrics and turn/ops: per-worker counters summed into the exposition, the gauges
 * read off the tables' live counts, the operations options, and a reload that is refused
 * (bad file: FILE:LINE, running configuration kept) or accepted (new users, sockets kept). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "turn/conf.h"
#include "turn/metrics.h"
#include "turn/ops.h"

static struct iw_worker *fake_worker(void)
{
	struct iw_worker *w = calloc(1, sizeof *w);
	assert_non_null(w);
	assert_int_equal(iw_alloc_tab_init(&w->tab, 8, 1, 1000), 0);
	w->life = (struct iw_metrics_hist){ .bounds = iw_relay_life_bounds,
					    .n_bounds = IW_RELAY_LIFE_BUCKETS,
					    .counts = w->life_counts };
	return w;
}

static void free_worker(struct iw_worker *w)
{
	iw_alloc_tab_fini(&w->tab);
	free(w);
}

static char *fill(struct iw_relay_metrics *m, char *mem, size_t cap)
{
	struct iw_metrics_buf b;
	iw_metrics_buf_init(&b, mem, cap);
	iw_relay_metrics_fill(&b, m);
	assert_false(b.overflow);
	assert_false(b.invalid);
	mem[b.len] = 0;
	return mem;
}

static void test_sum_over_workers(void **state)
{
	(void)state;
	struct iw_worker *w[2] = { fake_worker(), fake_worker() };
	w[0]->st.tx_peer_pkts = 3;
	w[1]->st.tx_peer_pkts = 4;
	w[0]->st.tx_client_bytes = 100;
	w[1]->st.tx_client_bytes = 23;
	w[0]->st.drop_send_no_perm = 1;
	w[1]->st.drop_peer_no_perm = 2;
	w[1]->auth.st.bad_integrity = 5;
	w[0]->st.peers_refused_class[IW_ADDR_LINK_LOCAL] = 2;
	w[1]->st.alloc_draining = 1;
	w[0]->st.alloc_capacity = 1;
	w[1]->st.wakeups = 9;
	iw_metrics_hist_observe(&w[0]->life, 5);
	iw_metrics_hist_observe(&w[1]->life, 5000);
	struct iw_relay_metrics m = { .workers = w, .n_workers = 2 };
	static char mem[1 << 16];
	const char *t = fill(&m, mem, sizeof mem - 1);
	assert_non_null(strstr(t, "iceway_relay_packets_relayed_total{direction=\"client_to_peer\","
				  "transport=\"udp\"} 7\n"));
	assert_non_null(strstr(t, "iceway_relay_bytes_relayed_total{direction=\"peer_to_client\","
				  "transport=\"udp\"} 123\n"));
	assert_non_null(strstr(t, "iceway_relay_packets_dropped_total{reason=\"no_permission\"} 3\n"));
	assert_non_null(strstr(t, "iceway_relay_auth_failures_total{reason=\"bad_integrity\"} 5\n"));
	assert_non_null(strstr(t, "iceway_relay_peers_refused_total{class=\"link-local\"} 2\n"));
	assert_non_null(strstr(t, "iceway_relay_allocations_total{result=\"508\"} 2\n"));
	assert_non_null(strstr(t, "iceway_relay_worker_wakeups_total{worker=\"1\"} 9\n"));
	assert_non_null(strstr(t, "iceway_relay_allocation_lifetime_seconds_count 2\n"));
	assert_non_null(strstr(t, "iceway_relay_allocation_lifetime_seconds_bucket{le=\"10\"} 1\n"));
	assert_non_null(strstr(t, "iceway_relay_allocation_lifetime_seconds_bucket{le=\"+Inf\"} 2\n"));
	assert_non_null(strstr(t, "iceway_build_info{version=\""));
	free_worker(w[0]);
	free_worker(w[1]);
}

/* The permission and channel gauges read the live counts the table keeps (turn/alloc.c):
 * what the wheel has pruned is gone from them, and a deleted allocation takes its own. */
static void test_gauges_from_live_counts(void **state)
{
	(void)state;
	struct iw_worker *w = fake_worker();
	w->now_ms = 1000;
	struct iw_addr cl, p1, p2;
	iw_addr_parse(&cl, "192.0.2.1:5000");
	iw_addr_parse(&p1, "198.51.100.1:7");
	iw_addr_parse(&p2, "198.51.100.2:7");
	struct iw_alloc *a = iw_alloc_new(&w->tab, &cl, 0);
	assert_non_null(a);
	a->expires_ms = 600000;
	assert_int_equal(iw_alloc_perm_add(&w->tab, a, &p1, 300000), 0);
	assert_int_equal(iw_alloc_perm_add(&w->tab, a, &p2, 500), 0); /* already expired */
	assert_int_equal(iw_alloc_chan_bind(&w->tab, a, 0x4000, &p1, 600000), 0);
	iw_alloc_timer_arm(&w->tab, a);
	/* The wheel's next second prunes the expired permission. */
	iw_alloc_tick(&w->tab, 2000, NULL, NULL);
	struct iw_worker *ws[1] = { w };
	struct iw_relay_metrics m = { .workers = ws, .n_workers = 1 };
	static char mem[1 << 16];
	const char *t = fill(&m, mem, sizeof mem - 1);
	assert_int_equal(w->tab.perms_live, 1);
	assert_int_equal(w->tab.chans_live, 1);
	assert_non_null(strstr(t, "iceway_relay_permissions_active 1\n"));
	assert_non_null(strstr(t, "iceway_relay_channels_active 1\n"));
	iw_alloc_del(&w->tab, a);
	t = fill(&m, mem, sizeof mem - 1);
	assert_int_equal(w->tab.perms_live, 0);
	assert_int_equal(w->tab.chans_live, 0);
	assert_non_null(strstr(t, "iceway_relay_permissions_active 0\n"));
	assert_non_null(strstr(t, "iceway_relay_channels_active 0\n"));
	free_worker(w);
}

static int parse(struct iw_conf *c, int argc, char **argv, char *err)
{
	return iw_config_parse_args(iw_conf_opts, c, argc, argv, NULL, err, IW_CONFIG_ERR_MAX);
}

static void test_options(void **state)
{
	(void)state;
	struct iw_conf c;
	char err[IW_CONFIG_ERR_MAX];
	iw_conf_init(&c);
	assert_false(c.prometheus);
	assert_int_equal(c.prom_port, 9641);
	assert_int_equal(c.drain_timeout_s, 0);
	setenv("IW_UNIT_EXT", "203.0.113.7/10.0.0.5", 1);
	char *argv[] = { "r",
			 "--prometheus",
			 "--prometheus-port",
			 "9999",
			 "--prometheus-address",
			 "::1",
			 "--drain-alternate-server",
			 "192.0.2.9:3479",
			 "--alternate-server",
			 "192.0.2.10",
			 "--alternate-server",
			 "[2001:db8::1]:3480",
			 "--tls-alternate-server",
			 "192.0.2.11",
			 "--drain-timeout",
			 "45",
			 "--log-format",
			 "json",
			 "--log-level",
			 "warn",
			 "--external-ip-env",
			 "IW_UNIT_EXT" };
	assert_int_equal(parse(&c, sizeof argv / sizeof argv[0], argv, err), 0);
	assert_true(c.prometheus);
	assert_int_equal(c.prom_port, 9999);
	assert_string_equal(c.prom_addr, "::1");
	assert_true(c.has_drain_alt);
	assert_int_equal(c.drain_alt.port, 3479);
	/* coturn's forms: ADDR takes the transport's default port */
	assert_int_equal(c.n_alt, 2);
	assert_int_equal(c.alt[0].port, 3478);
	assert_int_equal(c.alt[1].family, AF_INET6);
	assert_int_equal(c.alt[1].port, 3480);
	assert_int_equal(c.n_tls_alt, 1);
	assert_int_equal(c.tls_alt[0].port, 5349);
	assert_int_equal(c.drain_timeout_s, 45);
	assert_true(c.log_json);
	assert_int_equal(c.log_level, IW_LOG_WARN);
	assert_int_equal(c.n_ext, 1);
	assert_true(c.ext[0].has_priv);
	iw_conf_fini(&c);

	const char *bad[][3] = {
		{ "r", "--drain-alternate-server", "192.0.2.9" }, /* no port */
		{ "r", "--alternate-server", "relay.example" },   /* not an address */
		{ "r", "--prometheus-address", "localhost" },     /* not an IP */
		{ "r", "--log-format", "xml" },
		{ "r", "--log-level", "loud" },
		{ "r", "--external-ip-env", "IW_UNIT_NOT_SET" },
		{ "r", "--check", "192.0.2.1" },
	};
	unsetenv("IW_UNIT_NOT_SET");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		iw_conf_init(&c);
		assert_int_equal(parse(&c, 3, (char **)bad[i], err), -1);
		assert_non_null(strstr(err, bad[i][1] + 2));
		iw_conf_fini(&c);
	}
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A configuration read from a new file holding text (path: a mkstemp template, the file's
 * name on return, for the caller to unlink), as main reads one. */
static struct iw_conf *conf_from_file(char *path, const char *text)
{
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	write_file(path, text);
	struct iw_conf *c = calloc(1, sizeof *c);
	assert_non_null(c);
	char err[IW_CONFIG_ERR_MAX];
	const char *why;
	iw_conf_init(c);
	assert_int_equal(iw_config_load_file(iw_conf_opts, c, path, err, sizeof err), 0);
	assert_int_equal(iw_conf_finish(c, &why), 0);
	return c;
}

static void conf_free(struct iw_conf *c)
{
	iw_conf_fini(c);
	free(c);
}

/* A worker running c with credentials (empty until it takes a generation). */
static struct iw_worker *auth_worker(const struct iw_conf *c)
{
	struct iw_worker *w = fake_worker();
	assert_int_equal(iw_auth_init(&w->auth, c->realm, c->stale_nonce_s), 0);
	w->conf = c;
	return w;
}

static void test_reload(void **state)
{
	(void)state;
	char path[] = "/tmp/iw-unit-reload-XXXXXX";
	struct iw_conf *c0 = conf_from_file(path, "lt-cred-mech\nuser=alice:pw\nlistening-port=3478\n");
	char *argv[] = { "r", "-c", path };
	char err[IW_CONFIG_ERR_MAX];
	struct iw_worker *w = fake_worker();
	struct iw_worker *ws[1] = { w };
	struct iw_ops o = { .conf = c0, .workers = ws, .n_workers = 1 };

	/* A bad line: refused with FILE:LINE, generation unchanged. */
	write_file(path, "lt-cred-mech\nuser=alice:pw\nmax-port=lots\n");
	assert_int_equal(iw_ops_reload(&o, 3, argv, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, ":3:"));
	assert_ptr_equal(o.conf, c0);
	assert_int_equal(o.gen, 0);
	assert_int_equal(o.reload_errors, 1);

	/* A good one with a new user and new ports: users change, the ports do not (the
	 * listeners stay bound, and the own-address policy reads both ports). */
	write_file(path, "lt-cred-mech\nuser=bob:pw2\nlistening-port=4000\ntls-listening-port=4001\n");
	assert_int_equal(iw_ops_reload(&o, 3, argv, err, sizeof err), 0);
	assert_int_equal(o.gen, 1);
	assert_ptr_not_equal(o.conf, c0);
	assert_int_equal(o.conf->n_users, 1);
	assert_string_equal(o.conf->users[0], "bob:pw2");
	assert_int_equal(o.conf->port, 3478);
	assert_int_equal(o.conf->tls_port, c0->tls_port);
	/* The old generation is kept until the worker has moved on. */
	iw_ops_collect(&o);
	assert_int_equal(o.n_old, 1);
	w->gen = 1;
	iw_ops_collect(&o);
	assert_int_equal(o.n_old, 0); /* generation 0 is the caller's to free */
	iw_ops_fini(&o);
	conf_free(c0);
	free_worker(w);
	unlink(path);
}

static struct iw_userdb_snap *snap_of(const char *user, const char *secret)
{
	struct iw_userdb_snap *s = calloc(1, sizeof *s);
	assert_non_null(s);
	s->users = calloc(1, sizeof *s->users);
	assert_non_null(s->users);
	s->users[s->n_users++] = strdup(user);
	if (secret)
		s->secrets[s->n_secrets++] = strdup(secret);
	return s;
}

static bool has_user(const struct iw_auth *a, const char *name)
{
	for (size_t i = 0; i < a->n_users; i++)
		if (!strcmp(a->users[i].name, name))
			return true;
	return false;
}

/* A user database snapshot is published as a generation: the worker takes the file's users
 * and the database's together, the old snapshot waits for the worker, and main's own
 * configuration is never freed by ops, though generations are no longer all reloads. */
static void test_userdb_publish(void **state)
{
	(void)state;
	char path[] = "/tmp/iw-unit-udb-XXXXXX";
	struct iw_conf *c0 = conf_from_file(path, "lt-cred-mech\nuser=alice:pw\n");
	char *argv[] = { "r", "-c", path };
	char err[IW_CONFIG_ERR_MAX];
	struct iw_worker *w = auth_worker(c0);
	struct iw_worker *ws[1] = { w };
	struct iw_userdb u = { 0 };
	struct iw_ops o = { .conf = c0, .workers = ws, .n_workers = 1, .udb_src = &u };
	iw_ops_attach(&o, w);
	assert_ptr_equal(w->udb_up, &u.up);
	assert_ptr_equal(w->udb_want, &u.want);

	/* Nothing pending: no generation. */
	iw_ops_userdb_publish(&o);
	assert_int_equal(o.gen, 0);
	/* alice in both: the file's alice is found first. */
	struct iw_userdb_snap *s1 = snap_of("carol:0x0123456789abcdef0123456789abcdef", "db-secret");
	u.pending = s1;
	iw_ops_userdb_publish(&o);
	assert_int_equal(o.gen, 1);
	assert_ptr_equal(o.udb, s1);
	assert_null(u.pending);
	assert_int_equal(o.n_old, 0); /* no snapshot before it */
	iw_ops_worker_sync(w, &o);
	assert_int_equal(w->gen, 1);
	assert_true(has_user(&w->auth, "alice"));
	assert_true(has_user(&w->auth, "carol"));
	assert_int_equal(w->auth.n_secrets, 1);
	assert_true(w->auth.use_secret);

	/* A second snapshot replaces the first, which waits for the worker. */
	u.pending = snap_of("dave:0xffffffffffffffffffffffffffffffff", NULL);
	iw_ops_userdb_publish(&o);
	assert_int_equal(o.gen, 2);
	assert_int_equal(o.n_old, 1);
	iw_ops_collect(&o);
	assert_int_equal(o.n_old, 1);
	iw_ops_worker_sync(w, &o);
	assert_false(has_user(&w->auth, "carol"));
	assert_true(has_user(&w->auth, "dave"));
	assert_int_equal(w->auth.n_secrets, 0);
	iw_ops_collect(&o);
	assert_int_equal(o.n_old, 0); /* s1 freed (ASan would see a leak otherwise) */

	/* A reload now: main's configuration goes to the old list at generation 2, and is left
	 * for main to free. */
	assert_int_equal(iw_ops_reload(&o, 3, argv, err, sizeof err), 0);
	assert_int_equal(o.gen, 3);
	iw_ops_worker_sync(w, &o);
	assert_true(has_user(&w->auth, "dave"));
	iw_ops_collect(&o);
	assert_int_equal(o.n_old, 0);
	assert_string_equal(c0->users[0], "alice:pw"); /* still main's, still alive */
	iw_ops_fini(&o);
	iw_auth_fini(&w->auth);
	conf_free(c0);
	free_worker(w);
	unlink(path);
}

/* The realm's options from the Redis user database override the configuration's max-bps,
 * user-quota and total-quota in the worker that takes the snapshot, each on its own, and the
 * configuration's come back when the database has them no more. */
static void test_userdb_realm_opts(void **state)
{
	(void)state;
	char path[] = "/tmp/iw-unit-udb-opts-XXXXXX";
	struct iw_conf *c0 = conf_from_file(path, "lt-cred-mech\nuser=alice:pw\nmax-bps=5000\nuser-quota=3\n"
						  "total-quota=40\nmax-allocations=100\n");
	struct iw_worker *w = auth_worker(c0);
	struct iw_worker *ws[1] = { w };
	iw_worker_limits_set(w, NULL);
	assert_int_equal(w->lim.bps.per_s, 5000);
	assert_int_equal(w->user_quota, 3);
	assert_int_equal(w->total_quota, 40);
	struct iw_userdb u = { 0 };
	struct iw_ops o = { .conf = c0, .workers = ws, .n_workers = 1, .udb_src = &u };
	iw_ops_attach(&o, w);

	static const struct {
		bool set[IW_REALM_N_OPTS];
		uint64_t val[IW_REALM_N_OPTS];
		uint64_t bps;
		uint32_t user, total;
	} steps[] = {
		/* Each alone, the others from the file. */
		{ { true, false, false }, { 9000, 0, 0 }, 9000, 3, 40 },
		{ { false, true, false }, { 0, 1, 0 }, 5000, 1, 40 },
		{ { false, false, true }, { 0, 0, 7 }, 5000, 3, 7 },
		/* All at once; 0 means what the option's 0 means: no limit, max-allocations. */
		{ { true, true, true }, { 0, 0, 0 }, 0, 0, 100 },
		/* total-quota past the table: the table's size, as in the file. */
		{ { false, false, true }, { 0, 0, 1000000 }, 5000, 3, 100 },
		/* Gone from the database: the file's values again. */
		{ { false, false, false }, { 0, 0, 0 }, 5000, 3, 40 },
	};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		struct iw_userdb_snap *s = snap_of("carol:0x0123456789abcdef0123456789abcdef", NULL);
		memcpy(s->opts.set, steps[i].set, sizeof s->opts.set);
		memcpy(s->opts.val, steps[i].val, sizeof s->opts.val);
		u.pending = s;
		iw_ops_userdb_publish(&o);
		iw_ops_worker_sync(w, &o);
		iw_ops_collect(&o);
		assert_int_equal(w->lim.bps.per_s, steps[i].bps);
		assert_int_equal(w->lim.on, steps[i].bps != 0);
		assert_int_equal(w->user_quota, steps[i].user);
		assert_int_equal(w->total_quota, steps[i].total);
		assert_int_equal(o.total_quota, steps[i].total); /* what the admin API reports */
		assert_true(has_user(&w->auth, "carol"));
	}
	/* A reload keeps the database's value over the file's new one. */
	struct iw_userdb_snap *s = snap_of("carol:0x0123456789abcdef0123456789abcdef", NULL);
	s->opts.set[IW_REALM_USER_QUOTA] = true;
	s->opts.val[IW_REALM_USER_QUOTA] = 2;
	u.pending = s;
	iw_ops_userdb_publish(&o);
	write_file(path, "lt-cred-mech\nuser=alice:pw\nmax-bps=6000\nuser-quota=4\nmax-allocations=100\n");
	char *argv[] = { "r", "-c", path };
	char err[IW_CONFIG_ERR_MAX];
	assert_int_equal(iw_ops_reload(&o, 3, argv, err, sizeof err), 0);
	iw_ops_worker_sync(w, &o);
	assert_int_equal(w->lim.bps.per_s, 6000);
	assert_int_equal(w->user_quota, 2);
	/* The reloaded file has no total-quota: max-allocations, also for the admin API. */
	assert_int_equal(w->total_quota, 100);
	assert_int_equal(o.total_quota, 100);
	iw_ops_collect(&o);
	iw_ops_fini(&o);
	iw_auth_fini(&w->auth);
	conf_free(c0);
	free_worker(w);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sum_over_workers), cmocka_unit_test(test_gauges_from_live_counts),
		cmocka_unit_test(test_options),          cmocka_unit_test(test_reload),
		cmocka_unit_test(test_userdb_publish),   cmocka_unit_test(test_userdb_realm_opts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
