/* iceway-probe: answers "will calls work through this deployment?" from the command line
 * with real ICE (libnice), DTLS-SRTP (mbedTLS) and SRTP (libsrtp) through the relay, and
 * loads a relay with the same packet mix. Options, the verdict and the report live here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/version.h"
#include "tools/probe/call.h"

enum { EXIT_PASS = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

static const char *const stage_names[] = {
	[IW_PROBE_ST_SIGNAL] = "signaling", [IW_PROBE_ST_JOIN] = "join", [IW_PROBE_ST_PEER] = "peer",
	[IW_PROBE_ST_GATHER] = "gather",    [IW_PROBE_ST_ICE] = "ice",   [IW_PROBE_ST_DTLS] = "dtls",
	[IW_PROBE_ST_MEDIA] = "media",      [IW_PROBE_ST_DONE] = "done",
};

/* The command line: the probe's options and what only main needs. */
struct cli {
	struct iw_probe_opts o;
	unsigned help; /* 0 no, 1 text, 2 markdown */
	bool version;
};

#define AT(m) IW_OPT_AT(struct cli, m)

static const struct iw_opt opt_tab[] = {
	{ .name = "signal",
	  .kind = IW_OPT_STR,
	  AT(o.signal_url),
	  .def_doc = "internal with --pair",
	  .help = "URL: ws://HOST:PORT/ws (or wss://), or 'internal' (in-process, with --pair)" },
	{ .name = "room", .kind = IW_OPT_STR, AT(o.room), .def = "probe", .help = "NAME: room to join" },
	{ .name = "pair",
	  .kind = IW_OPT_FLAG,
	  AT(o.pair),
	  .help = "run both ends of each call in this process" },
	{ .name = "calls",
	  .kind = IW_OPT_INT,
	  AT(o.calls),
	  .min = 1,
	  .max = IW_PROBE_MAX_CALLS,
	  .def = "1",
	  .help = "N: concurrent calls" },
	{ .name = "policy",
	  .kind = IW_OPT_ENUM,
	  AT(o.relay_only),
	  .choices = "all|relay",
	  .def = "all",
	  .help = "ICE transport policy" },
	{ .name = "duration",
	  .kind = IW_OPT_INT,
	  AT(o.duration_s),
	  .min = 1,
	  .max = 3600,
	  .def = "10",
	  .help = "SECONDS: seconds of media" },
	{ .name = "rate",
	  .kind = IW_OPT_INT,
	  AT(o.rate),
	  .min = 1,
	  .max = 2000,
	  .def = "50",
	  .help = "PPS: SRTP packets per second per direction" },
	{ .name = "packets",
	  .kind = IW_OPT_INT,
	  AT(o.packets),
	  .min = 1,
	  .max = 10000000,
	  .def_doc = "rate x duration",
	  .help = "N: packets per direction" },
	{ .name = "payload",
	  .kind = IW_OPT_INT,
	  AT(o.payload),
	  .min = IW_PROBE_PAYLOAD_MIN,
	  .max = IW_PROBE_PAYLOAD_MAX,
	  .def = "160",
	  .help = "BYTES: RTP payload size" },
	{ .name = "turn",
	  .kind = IW_OPT_STR,
	  AT(o.turn_url),
	  .help = "URL: turn:HOST:PORT, overriding the iceServers from signaling" },
	{ .name = "turn-user",
	  .kind = IW_OPT_STR,
	  AT(o.turn_user),
	  .help = "USER: long-term user name for --turn" },
	{ .name = "turn-pass",
	  .kind = IW_OPT_STR,
	  .flags = IW_OPT_SECRET,
	  AT(o.turn_pass),
	  .help = "PASS: long-term password for --turn" },
	{ .name = "turn-secret",
	  .kind = IW_OPT_STR,
	  .flags = IW_OPT_SECRET,
	  AT(o.turn_secret),
	  .help = "SECRET: make TURN REST credentials (coturn use-auth-secret) for --turn" },
	{ .name = "stun", .kind = IW_OPT_STR, AT(o.stun_url), .help = "URL: stun:HOST:PORT" },
	{ .name = "local-ip",
	  .kind = IW_OPT_STR,
	  .flags = IW_OPT_IP,
	  AT(o.local_ip),
	  .help = "IP: gather host candidates on IP (127.0.0.1 is added for a loopback relay)" },
	{ .name = "max-loss",
	  .kind = IW_OPT_DOUBLE,
	  AT(o.max_loss_pct),
	  .min = 0,
	  .max = 100,
	  .def = "1",
	  .help = "PCT: fail above this loss" },
	{ .name = "max-rtt",
	  .kind = IW_OPT_DOUBLE,
	  AT(o.max_rtt_ms),
	  .min = 0,
	  .max = 1000000,
	  .def = "0",
	  .help = "MS: fail when RTT p99 is above MS (0: no limit)" },
	{ .name = "max-auth-fail",
	  .kind = IW_OPT_INT,
	  AT(o.max_auth_fail),
	  .min = 0,
	  .max = 1000000000,
	  .def = "0",
	  .help = "N: fail above N SRTP authentication failures" },
	{ .name = "timeout",
	  .kind = IW_OPT_INT,
	  AT(o.timeout_s),
	  .min = 1,
	  .max = 3600,
	  .def = "15",
	  .help = "SECONDS: limit for each stage before media" },
	{ .name = "ramp",
	  .kind = IW_OPT_INT,
	  AT(o.ramp_ms),
	  .min = 0,
	  .max = 60000,
	  .def = "10",
	  .help = "MS: start one call every MS milliseconds" },
	{ .name = "relay-pid",
	  .kind = IW_OPT_INT,
	  AT(o.relay_pid),
	  .min = 1,
	  .max = 1 << 30,
	  .help = "PID: report the CPU time PID used during media" },
	{ .name = "tamper-fingerprint",
	  .kind = IW_OPT_FLAG,
	  AT(o.tamper_fp),
	  .help = "send a corrupted a=fingerprint (checks the peer refuses it)" },
	{ .name = "insecure",
	  .kind = IW_OPT_FLAG,
	  AT(o.insecure),
	  .help = "accept any wss:// server certificate" },
	{ .name = "ca",
	  .kind = IW_OPT_STR,
	  .flags = IW_OPT_READABLE,
	  AT(o.ca_file),
	  .help = "FILE: trust the CAs in FILE (PEM) for wss:// instead of the system's" },
	{ .name = "json", .kind = IW_OPT_FLAG, AT(o.json), .help = "one JSON object on stdout" },
	{ .name = "verbose",
	  .short_name = 'v',
	  .kind = IW_OPT_FLAG,
	  AT(o.verbose),
	  .help = "progress on stderr" },
	IW_OPT_CONFIG_FILE,
	IW_OPT_HELP_VERSION(struct cli, help, version),
	IW_OPT_END("ICEWAY_PROBE_"),
};

/* Defaults, the config file, the environment, then argv; cross-option checks. 0, or -1 after
 * saying why on stderr. Exits for --help and --version. */
static int parse_args(struct cli *c, int argc, char **argv)
{
	struct iw_probe_opts *o = &c->o;
	char err[IW_CONFIG_ERR_MAX];
	const char *file;
	bool no_file;
	int end = argc;

	memset(c, 0, sizeof *c);
	iw_config_find_file(argc, argv, &file, &no_file);
	if (iw_config_defaults(opt_tab, c, err, sizeof err) ||
	    (file && !no_file && iw_config_load_file(opt_tab, c, file, err, sizeof err)) ||
	    iw_config_parse_args(opt_tab, c, argc, argv, &end, err, sizeof err)) {
		fprintf(stderr, "iceway-probe: %s (see --help)\n", err);
		return -1;
	}
	if (end < argc) {
		fprintf(stderr, "iceway-probe: unexpected argument '%s'\n", argv[end]);
		return -1;
	}
	if (c->help == 2) {
		iw_config_print_markdown(opt_tab);
		exit(EXIT_PASS);
	}
	if (c->help) {
		printf("usage: iceway-probe [options]\n"
		       "Will calls work through this deployment? Real ICE, DTLS-SRTP and SRTP through the "
		       "relay.\n");
		iw_config_print_help(opt_tab);
		printf("exit status: 0 pass, 1 fail, 2 usage\n");
		exit(EXIT_PASS);
	}
	if (c->version) {
		printf("iceway-probe %s\n", iw_version());
		exit(EXIT_PASS);
	}
	if (!o->signal_url) {
		if (!o->pair) {
			fprintf(stderr, "iceway-probe: --signal URL is required (or --pair --turn ...)\n");
			return -1;
		}
		o->signal_url = strdup("internal");
		if (!o->signal_url)
			return -1;
	}
	if (!strcmp(o->signal_url, "internal") && !o->pair) {
		fprintf(stderr, "iceway-probe: --signal internal needs --pair\n");
		return -1;
	}
	if ((o->turn_user || o->turn_pass || o->turn_secret) && !o->turn_url) {
		fprintf(stderr, "iceway-probe: TURN credentials given without --turn\n");
		return -1;
	}
	return 0;
}

struct summary {
	unsigned n_eps, n_done, n_failed;
	const struct iw_probe_ep *first_fail;
	uint64_t sent, received, expected, lost, ooo, auth_fail, replayed, other_fail, rx_bytes;
	double jitter_max, jitter_sum;
	unsigned n_jitter;
	struct iw_probe_hist rtt;
	uint64_t ice_max, dtls_max;
	unsigned n_relay_pairs; /* calls whose both ends used relay/relay */
	const char *pair_local, *pair_remote;
	bool pair_mixed;
	double media_s, loss_pct, goodput_kbps, goodput_sum;
	unsigned n_goodput;
	bool ok;
	char why[400];
	const char *stage;
};

static void summarize(const struct iw_probe_run *run, struct summary *s)
{
	const struct iw_probe_opts *o = run->o;

	memset(s, 0, sizeof *s);
	s->n_eps = run->n_eps;
	for (unsigned i = 0; i < run->n_eps; i++) {
		const struct iw_probe_ep *ep = &run->eps[i];
		const struct iw_probe_media_stats *st = &ep->media.st;
		if (ep->failed) {
			s->n_failed++;
			if (!s->first_fail || ep->fail_seq < s->first_fail->fail_seq)
				s->first_fail = ep;
		} else if (ep->stage == IW_PROBE_ST_DONE) {
			s->n_done++;
		}
		if (ep->t_ice_ms > s->ice_max)
			s->ice_max = ep->t_ice_ms;
		if (ep->t_dtls_ms && ep->t_dtls_ms - ep->t_ice_ms > s->dtls_max)
			s->dtls_max = ep->t_dtls_ms - ep->t_ice_ms;
		if (ep->local_type[0]) {
			if (!s->pair_local) {
				s->pair_local = ep->local_type;
				s->pair_remote = ep->remote_type;
			} else if (strcmp(s->pair_local, ep->local_type) ||
				   strcmp(s->pair_remote, ep->remote_type)) {
				s->pair_mixed = true;
			}
			if (!strcmp(ep->local_type, "relay") && !strcmp(ep->remote_type, "relay"))
				s->n_relay_pairs++;
		}
		if (!ep->media_on)
			continue;
		/* The peer announces how many packets it sends; without that (it failed
		 * early), RFC 3550 §A.3 expected-from-sequence-numbers is the best we have. */
		uint64_t exp = st->peer_total ? st->peer_total : st->expected;
		s->sent += st->sent;
		s->received += st->received;
		s->expected += exp;
		s->lost += exp > st->received ? exp - st->received : 0;
		s->ooo += st->out_of_order;
		s->auth_fail += st->auth_fail;
		s->replayed += st->replayed;
		s->other_fail += st->other_fail;
		s->rx_bytes += st->rx_bytes;
		if (st->received > 1 && st->last_rx_us > st->first_rx_us) {
			/* n packets span n-1 intervals: scale to a full n intervals. */
			double span = (double)(st->last_rx_us - st->first_rx_us) / 1e6 *
				      (double)st->received / (double)(st->received - 1);
			s->goodput_sum += (double)st->rx_bytes * 8 / 1000.0 / span;
			s->n_goodput++;
		}
		iw_probe_hist_merge(&s->rtt, &st->rtt);
		if (st->received > 1) {
			s->jitter_sum += st->jitter_ms;
			s->n_jitter++;
			if (st->jitter_ms > s->jitter_max)
				s->jitter_max = st->jitter_ms;
		}
	}
	if (run->media_t0_us && run->media_t1_us > run->media_t0_us)
		s->media_s = (double)(run->media_t1_us - run->media_t0_us) / 1e6;
	s->loss_pct = s->expected ? 100.0 * (double)s->lost / (double)s->expected : 0;
	/* Mean over directions: payload bits received over the time they took to arrive. */
	s->goodput_kbps = s->n_goodput ? s->goodput_sum / s->n_goodput : 0;

	s->ok = true;
	if (s->first_fail) {
		s->ok = false;
		s->stage = stage_names[s->first_fail->stage];
		snprintf(s->why, sizeof s->why, "%s", s->first_fail->why);
		return;
	}
	s->stage = "done";
	if (s->auth_fail > o->max_auth_fail) {
		s->ok = false;
		s->stage = "srtp";
		snprintf(s->why, sizeof s->why,
			 "SRTP authentication failing: %llu packets rejected (allowed %u)",
			 (unsigned long long)s->auth_fail, o->max_auth_fail);
	} else if (!s->received) {
		s->ok = false;
		s->stage = "media";
		snprintf(s->why, sizeof s->why, "no SRTP packet arrived");
	} else if (s->loss_pct > o->max_loss_pct) {
		s->ok = false;
		s->stage = "media";
		snprintf(s->why, sizeof s->why, "loss %.2f %% is above --max-loss %.2f %%", s->loss_pct,
			 o->max_loss_pct);
	} else if (o->max_rtt_ms > 0 &&
		   (double)iw_probe_hist_quantile(&s->rtt, 0.99) / 1000.0 > o->max_rtt_ms) {
		s->ok = false;
		s->stage = "media";
		snprintf(s->why, sizeof s->why, "RTT p99 %.2f ms is above --max-rtt %.2f ms",
			 (double)iw_probe_hist_quantile(&s->rtt, 0.99) / 1000.0, o->max_rtt_ms);
	}
}

/* Relay CPU seconds over the steady-state window, and that window's length; -1 if unknown. */
static double cpu_seconds(const struct iw_probe_run *run, double *window_s, double *pkts)
{
	long hz = sysconf(_SC_CLK_TCK);
	if (!run->cpu_done || hz <= 0 || run->cpu_ticks1 < run->cpu_ticks0 ||
	    run->cpu_t1_us <= run->cpu_t0_us)
		return -1;
	*window_s = (double)(run->cpu_t1_us - run->cpu_t0_us) / 1e6;
	/* Every sender's packet crosses the relay once (relay to relay: twice, counted once:
	 * it is one allocation's receive and the other's send). */
	*pkts = *window_s * run->o->rate * run->cpu_senders;
	return (double)(run->cpu_ticks1 - run->cpu_ticks0) / (double)hz;
}

static void cand_obj(json_t *obj, const char *key, const unsigned n[IW_PROBE_CAND_TYPES])
{
	json_t *c = json_object();
	for (unsigned i = 0; i < IW_PROBE_CAND_TYPES; i++)
		json_object_set_new(c, iw_probe_cand_type_name(i), json_integer(n[i]));
	json_object_set_new(obj, key, c);
}

static void report_json(const struct iw_probe_run *run, const struct summary *s)
{
	const struct iw_probe_opts *o = run->o;
	json_t *r = json_object();
	char pair[32];

	snprintf(pair, sizeof pair, "%s/%s", s->pair_local ? s->pair_local : "none",
		 s->pair_remote ? s->pair_remote : "none");
	json_object_set_new(r, "ok", json_boolean(s->ok));
	json_object_set_new(r, "stage", json_string(s->stage));
	json_object_set_new(r, "error", s->ok ? json_null() : json_string(s->why));
	json_object_set_new(r, "mode", json_string(o->pair ? "pair" : "room"));
	json_object_set_new(r, "policy", json_string(o->relay_only ? "relay" : "all"));
	json_object_set_new(r, "calls", json_integer(o->calls));
	json_object_set_new(r, "endpoints", json_integer(s->n_eps));
	json_object_set_new(r, "endpoints_ok", json_integer(s->n_done));
	json_object_set_new(r, "endpoints_failed", json_integer(s->n_failed));
	json_object_set_new(r, "pair", json_string(s->pair_mixed ? "mixed" : pair));
	json_object_set_new(r, "relay_pairs", json_integer(s->n_relay_pairs));
	json_object_set_new(r, "ice_connected_ms", json_integer((json_int_t)s->ice_max));
	json_object_set_new(r, "dtls_done_ms", json_integer((json_int_t)s->dtls_max));
	json_object_set_new(r, "rate_pps", json_integer(o->rate));
	json_object_set_new(r, "packets_sent", json_integer((json_int_t)s->sent));
	json_object_set_new(r, "packets_received", json_integer((json_int_t)s->received));
	json_object_set_new(r, "packets_expected", json_integer((json_int_t)s->expected));
	json_object_set_new(r, "packets_lost", json_integer((json_int_t)s->lost));
	json_object_set_new(r, "loss_pct", json_real(s->loss_pct));
	json_object_set_new(r, "out_of_order", json_integer((json_int_t)s->ooo));
	json_object_set_new(r, "srtp_auth_failures", json_integer((json_int_t)s->auth_fail));
	json_object_set_new(r, "srtp_replayed", json_integer((json_int_t)s->replayed));
	json_object_set_new(r, "srtp_other_errors", json_integer((json_int_t)s->other_fail));
	json_object_set_new(r, "rtt_p50_ms",
			    json_real((double)iw_probe_hist_quantile(&s->rtt, 0.5) / 1000.0));
	json_object_set_new(r, "rtt_p99_ms",
			    json_real((double)iw_probe_hist_quantile(&s->rtt, 0.99) / 1000.0));
	json_object_set_new(r, "rtt_samples", json_integer((json_int_t)s->rtt.n));
	json_object_set_new(r, "jitter_ms", json_real(s->n_jitter ? s->jitter_sum / s->n_jitter : 0));
	json_object_set_new(r, "jitter_max_ms", json_real(s->jitter_max));
	json_object_set_new(r, "goodput_kbps", json_real(s->goodput_kbps));
	json_object_set_new(r, "media_s", json_real(s->media_s));
	uint64_t early = 0, dtls_q = 0, cands = 0;
	for (unsigned i = 0; i < run->n_eps; i++) {
		early += run->eps[i].early_dropped;
		dtls_q += run->eps[i].dtls.rx_dropped;
		cands += run->eps[i].pending_dropped;
	}
	json_object_set_new(r, "dropped",
			    json_pack("{s:I, s:I, s:I, s:I}", "signaling_queue",
				      (json_int_t)iw_probe_sig_dropped(), "early_srtp", (json_int_t)early,
				      "dtls_queue", (json_int_t)dtls_q, "remote_candidates",
				      (json_int_t)cands));
	double win = 0, pkts = 0, cpu = cpu_seconds(run, &win, &pkts);
	if (cpu >= 0) {
		json_object_set_new(r, "relay_cpu_s", json_real(cpu));
		json_object_set_new(r, "relay_cpu_window_s", json_real(win));
		json_object_set_new(r, "relay_cpu_pct", json_real(100.0 * cpu / win));
		json_object_set_new(r, "relay_cpu_us_per_pkt", json_real(pkts ? cpu * 1e6 / pkts : 0));
	}
	if (run->n_eps <= 8) {
		json_t *eps = json_array();
		for (unsigned i = 0; i < run->n_eps; i++) {
			const struct iw_probe_ep *ep = &run->eps[i];
			json_t *e = json_pack("{s:i, s:s, s:s, s:s, s:s}", "call", ep->call, "side",
					      ep->side ? "b" : "a", "stage", stage_names[ep->stage], "local",
					      ep->local_type[0] ? ep->local_type : "none", "remote",
					      ep->remote_type[0] ? ep->remote_type : "none");
			json_object_set_new(e, "error", ep->failed ? json_string(ep->why) : json_null());
			cand_obj(e, "local_candidates", ep->n_local);
			cand_obj(e, "remote_candidates", ep->n_remote);
			json_object_set_new(e, "sent", json_integer((json_int_t)ep->media.st.sent));
			json_object_set_new(e, "received", json_integer((json_int_t)ep->media.st.received));
			json_array_append_new(eps, e);
		}
		json_object_set_new(r, "detail", eps);
	}
	char *t = json_dumps(r, JSON_COMPACT | JSON_REAL_PRECISION(6));
	if (t)
		printf("%s\n", t);
	free(t);
	json_decref(r);
}

static void report_text(const struct iw_probe_run *run, const struct summary *s)
{
	const struct iw_probe_opts *o = run->o;

	printf("iceway-probe: %s  (%u call%s, policy %s, signaling %s)\n", s->ok ? "PASS" : "FAIL", o->calls,
	       o->calls == 1 ? "" : "s", o->relay_only ? "relay" : "all", o->signal_url);
	if (!s->ok)
		printf("  error           [%s] %s\n", s->stage, s->why);
	if (!s->pair_local && !s->received)
		goto failures;
	printf("  selected pair   %s/%s%s", s->pair_local ? s->pair_local : "none",
	       s->pair_remote ? s->pair_remote : "none", s->pair_mixed ? " (and others)" : "");
	if (o->calls > 1)
		printf("  (%u endpoints relay/relay)", s->n_relay_pairs);
	printf("\n  ICE connected   %llu ms   DTLS done %llu ms later  (slowest endpoint)\n",
	       (unsigned long long)s->ice_max, (unsigned long long)s->dtls_max);
	printf("  media           sent %llu, received %llu of %llu, lost %llu (%.2f %%), %llu out of order\n",
	       (unsigned long long)s->sent, (unsigned long long)s->received, (unsigned long long)s->expected,
	       (unsigned long long)s->lost, s->loss_pct, (unsigned long long)s->ooo);
	printf("  RTT             p50 %.2f ms  p99 %.2f ms  (%llu samples)   jitter %.2f ms (max %.2f)\n",
	       (double)iw_probe_hist_quantile(&s->rtt, 0.5) / 1000.0,
	       (double)iw_probe_hist_quantile(&s->rtt, 0.99) / 1000.0, (unsigned long long)s->rtt.n,
	       s->n_jitter ? s->jitter_sum / s->n_jitter : 0, s->jitter_max);
	printf("  goodput         %.1f kbit/s per direction\n", s->goodput_kbps);
	printf("  SRTP            %llu authentication failures, %llu replayed, %llu other errors\n",
	       (unsigned long long)s->auth_fail, (unsigned long long)s->replayed,
	       (unsigned long long)s->other_fail);
	double win = 0, pkts = 0, cpu = cpu_seconds(run, &win, &pkts);
	if (cpu >= 0)
		printf("  relay CPU       %.2f s in %.1f s of steady media (%.1f %% of a core), "
		       "%.2f us per relayed packet\n",
		       cpu, win, 100.0 * cpu / win, pkts ? cpu * 1e6 / pkts : 0);
failures:
	for (unsigned i = 0, shown = 0; i < run->n_eps && shown < 8; i++) {
		const struct iw_probe_ep *ep = &run->eps[i];
		if (!ep->failed)
			continue;
		shown++;
		printf("  call %u/%c        [%s] %s\n", ep->call, 'a' + ep->side, stage_names[ep->stage],
		       ep->why);
	}
}

int main(int argc, char **argv)
{
	struct cli c;
	struct iw_probe_run run;
	struct summary s;
	const char *why = NULL;
	int status = EXIT_USAGE;

	if (parse_args(&c, argc, argv))
		goto out;
	status = EXIT_FAILED;
	if (iw_probe_run_exec(&run, &c.o, &why)) {
		fprintf(stderr, "iceway-probe: %s\n", why ? why : "cannot start");
		iw_probe_run_fini(&run);
		goto out;
	}
	summarize(&run, &s);
	if (c.o.json)
		report_json(&run, &s);
	else
		report_text(&run, &s);
	iw_probe_run_fini(&run);
	status = s.ok ? EXIT_PASS : EXIT_FAILED;
out:
	iw_config_free(opt_tab, &c);
	return status;
}
