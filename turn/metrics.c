/* The relay's /metrics: sums every worker's plain counters with relaxed loads (a monitoring
 * read may be one packet behind) and writes the Prometheus text format. */
#include "turn/metrics.h"

#include <stdio.h>

#include "common/version.h"
#include "turn/acct.h"
#include "turn/admin.h"
#include "turn/ops.h"
#include "turn/stream.h"
#include "turn/tcprelay.h"

/*
 * Worker counters have one writer, their worker, which bumps them with plain stores (no atomics
 * on the packet path, STYLE.md); a scrape reads them as they move and may be a packet behind.
 * An aligned 32- or 64-bit load is not torn on the targets we build for, so this race is benign
 * by design: it is read here, out of ThreadSanitizer's view, so that a TSan build (label tsan)
 * reports only the races that matter. Nothing else on this thread reads worker state: values
 * that reload changes live in the configuration snapshots (turn/ops.h), which only the workers
 * hold, and the rest is fixed before the workers start or written with atomics (AT).
 */
__attribute__((noinline, no_sanitize("thread"))) static uint64_t peek(const volatile void *p, size_t size)
{
	return size == sizeof(uint64_t) ? *(const volatile uint64_t *)p : *(const volatile uint32_t *)p;
}

__attribute__((noinline, no_sanitize("thread"))) static double peek_double(const volatile double *p)
{
	return *p;
}

#define LD(x)                                                                                  \
	({                                                                                     \
		_Static_assert(sizeof(x) == sizeof(uint64_t) || sizeof(x) == sizeof(uint32_t), \
			       "a counter is a 32- or 64-bit word");                           \
		peek(&(x), sizeof(x));                                                         \
	})
#define AT(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
/* The UDP workers, then the TCP/TLS worker when there is one. */
static unsigned n_all(const struct iw_relay_metrics *m)
{
	return m->n_workers + (m->ops && m->ops->stream);
}

static const struct iw_worker *worker_at(const struct iw_relay_metrics *m, unsigned i)
{
	return i < m->n_workers ? m->workers[i] : m->ops->stream;
}

/* Sum one uint64_t field of struct iw_relay_stats over every worker. */
#define SUM(field)                                            \
	({                                                    \
		uint64_t s_ = 0;                              \
		for (unsigned i_ = 0; i_ < n_all(m); i_++)    \
			s_ += LD(worker_at(m, i_)->st.field); \
		s_;                                           \
	})

static void counter1(struct iw_metrics_buf *b, const char *name, const char *help, uint64_t v)
{
	iw_metrics_header(b, name, IW_METRICS_COUNTER, help);
	iw_metrics_counter(b, name, NULL, 0, v);
}

static void gauge1(struct iw_metrics_buf *b, const char *name, const char *help, double v)
{
	iw_metrics_header(b, name, IW_METRICS_GAUGE, help);
	iw_metrics_gauge(b, name, NULL, 0, v);
}

static void lab1(struct iw_metrics_buf *b, const char *name, const char *label, const char *val, uint64_t v)
{
	struct iw_metrics_label l = { label, val };
	iw_metrics_counter(b, name, &l, 1, v);
}

static void traffic(struct iw_metrics_buf *b, const struct iw_relay_metrics *m)
{
	static const char pk[] = "iceway_relay_packets_relayed_total";
	static const char by[] = "iceway_relay_bytes_relayed_total";
	static const char rp[] = "iceway_relay_packets_received_total";
	static const char rb[] = "iceway_relay_bytes_received_total";
	/* Client-side transport: the UDP workers, and the stream worker's TCP/TLS clients. */
	struct {
		const char *transport;
		uint64_t v[8];
	} t[2] = { { "udp", { 0 } }, { "tcp", { 0 } } };
	for (unsigned i = 0; i < n_all(m); i++) {
		const struct iw_relay_stats *st = &worker_at(m, i)->st;
		uint64_t *v = t[i >= m->n_workers].v;
		v[0] += LD(st->tx_peer_pkts);
		v[1] += LD(st->tx_client_pkts);
		v[2] += LD(st->tx_peer_bytes);
		v[3] += LD(st->tx_client_bytes);
		v[4] += LD(st->rx_client_pkts);
		v[5] += LD(st->rx_peer_pkts);
		v[6] += LD(st->rx_client_bytes);
		v[7] += LD(st->rx_peer_bytes);
	}
	unsigned nt = m->ops && m->ops->stream ? 2 : 1;
	static const char *const dir[2] = { "client_to_peer", "peer_to_client" };
	static const char *const side[2] = { "client", "peer" };
	iw_metrics_header(b, pk, IW_METRICS_COUNTER,
			  "Packets relayed (sent on), by direction and client transport.");
	for (unsigned k = 0; k < nt; k++)
		for (unsigned d = 0; d < 2; d++) {
			struct iw_metrics_label l[2] = { { "direction", dir[d] },
							 { "transport", t[k].transport } };
			iw_metrics_counter(b, pk, l, 2, t[k].v[d]);
		}
	iw_metrics_header(b, by, IW_METRICS_COUNTER,
			  "Bytes relayed (payload sent on; toward clients with the ChannelData or "
			  "Data indication framing), by direction and client transport.");
	for (unsigned k = 0; k < nt; k++)
		for (unsigned d = 0; d < 2; d++) {
			struct iw_metrics_label l[2] = { { "direction", dir[d] },
							 { "transport", t[k].transport } };
			iw_metrics_counter(b, by, l, 2, t[k].v[2 + d]);
		}
	iw_metrics_header(b, rp, IW_METRICS_COUNTER, "Packets received, by side.");
	for (unsigned k = 0; k < nt; k++)
		for (unsigned d = 0; d < 2; d++) {
			struct iw_metrics_label l[2] = { { "side", side[d] },
							 { "transport", t[k].transport } };
			iw_metrics_counter(b, rp, l, 2, t[k].v[4 + d]);
		}
	iw_metrics_header(b, rb, IW_METRICS_COUNTER, "Bytes received, by side.");
	for (unsigned k = 0; k < nt; k++)
		for (unsigned d = 0; d < 2; d++) {
			struct iw_metrics_label l[2] = { { "side", side[d] },
							 { "transport", t[k].transport } };
			iw_metrics_counter(b, rb, l, 2, t[k].v[6 + d]);
		}
}

/* Session accounting (turn/acct.h): the payload the records count, live, by direction and
 * client transport (the relayed totals above count the framing toward clients too, and put TLS
 * under tcp), and the records written. No realm label: a relay serves one realm. */
static void sessions(struct iw_metrics_buf *b, const struct iw_relay_metrics *m)
{
	static const char pk[] = "iceway_relay_session_packets_total";
	static const char by[] = "iceway_relay_session_bytes_total";
	static const char rc[] = "iceway_relay_accounting_records_total";
	static const char *const dir[2] = { "client_to_peer", "peer_to_client" };
	uint64_t pkts[IW_CLIENT_TR_COUNT][2] = { { 0 } }, bytes[IW_CLIENT_TR_COUNT][2] = { { 0 } };
	for (unsigned i = 0; i < n_all(m); i++)
		for (unsigned t = 0; t < IW_CLIENT_TR_COUNT; t++)
			for (unsigned d = 0; d < 2; d++) {
				pkts[t][d] += LD(worker_at(m, i)->st.use[t].pkts[d]);
				bytes[t][d] += LD(worker_at(m, i)->st.use[t].bytes[d]);
			}
	/* TCP and TLS only with the worker that serves them. */
	unsigned nt = m->ops && m->ops->stream ? IW_CLIENT_TR_COUNT : 1;
	iw_metrics_header(b, pk, IW_METRICS_COUNTER,
			  "Packets relayed for allocations, as their accounting records count them, by "
			  "direction and client transport.");
	for (unsigned t = 0; t < nt; t++)
		for (unsigned d = 0; d < 2; d++) {
			struct iw_metrics_label l[2] = { { "direction", dir[d] },
							 { "transport",
							   iw_acct_tr_name((enum iw_client_tr)t) } };
			iw_metrics_counter(b, pk, l, 2, pkts[t][d]);
		}
	iw_metrics_header(b, by, IW_METRICS_COUNTER,
			  "Payload bytes relayed for allocations, as their accounting records count them, "
			  "by direction and client transport.");
	for (unsigned t = 0; t < nt; t++)
		for (unsigned d = 0; d < 2; d++) {
			struct iw_metrics_label l[2] = { { "direction", dir[d] },
							 { "transport",
							   iw_acct_tr_name((enum iw_client_tr)t) } };
			iw_metrics_counter(b, by, l, 2, bytes[t][d]);
		}
	iw_metrics_header(b, rc, IW_METRICS_COUNTER,
			  "Accounting records logged: final (an allocation ended) and interim "
			  "(accounting-interval).");
	lab1(b, rc, "kind", "final", SUM(acct_records[0]));
	lab1(b, rc, "kind", "interim", SUM(acct_records[1]));
}

static void drops(struct iw_metrics_buf *b, const struct iw_relay_metrics *m)
{
	static const char n[] = "iceway_relay_packets_dropped_total";
	iw_metrics_header(b, n, IW_METRICS_COUNTER, "Datagrams dropped, by reason.");
	lab1(b, n, "reason", "malformed",
	     SUM(drop_unknown_kind) + SUM(drop_bad_chandata) + SUM(drop_bad_stun) + SUM(drop_fingerprint) +
		     SUM(drop_send_bad) + SUM(drop_not_request));
	lab1(b, n, "reason", "no_permission", SUM(drop_send_no_perm) + SUM(drop_peer_no_perm));
	lab1(b, n, "reason", "self", SUM(drop_send_self));
	lab1(b, n, "reason", "no_allocation", SUM(drop_no_alloc) + SUM(drop_no_chan));
	lab1(b, n, "reason", "rate", SUM(drop_unauth_rl));
	lab1(b, n, "reason", "truncated", SUM(drop_trunc));
	lab1(b, n, "reason", "send_error", SUM(drop_send_err));
	lab1(b, n, "reason", "max_bps", SUM(drop_max_bps));
	lab1(b, n, "reason", "max_pps", SUM(drop_max_pps));
	lab1(b, n, "reason", "user_max_bps", SUM(drop_user_bps));
	lab1(b, n, "reason", "new_peer", SUM(drop_new_peer));
	static const char r[] = "iceway_relay_limit_refusals_total";
	iw_metrics_header(b, r, IW_METRICS_COUNTER,
			  "Requests refused by a rate limit: Allocate past bps-capacity (508), "
			  "CreatePermission and ChannelBind past max-new-peers-per-sec (403).");
	lab1(b, r, "limit", "bps_capacity", SUM(alloc_bps_capacity));
	lab1(b, r, "limit", "max_new_peers_per_sec", SUM(new_peer_refused));
}

static void allocations(struct iw_metrics_buf *b, const struct iw_relay_metrics *m)
{
	uint64_t active = 0;
	for (unsigned i = 0; i < n_all(m); i++)
		active += LD(worker_at(m, i)->tab.n_used);
	gauge1(b, "iceway_relay_allocations_active", "Allocations in use.", (double)active);
	/* The tables' live counts: nothing walks the allocations for them. */
	uint64_t perms = 0, chans = 0;
	for (unsigned i = 0; i < n_all(m); i++) {
		perms += LD(worker_at(m, i)->tab.perms_live);
		chans += LD(worker_at(m, i)->tab.chans_live);
	}
	gauge1(b, "iceway_relay_permissions_active", "Permissions in force (refreshed each second).",
	       (double)perms);
	gauge1(b, "iceway_relay_channels_active", "Channels bound (refreshed each second).", (double)chans);

	/* The bounded pools behind allocations: overflow blocks for permission and channel sets
	 * past the inline ones (per worker, summed), relay ports and EVEN-PORT reservations
	 * (shared by every worker). */
	uint64_t ext_used = 0, ext_cap = 0, ext_full = 0;
	for (unsigned i = 0; i < n_all(m); i++) {
		ext_used += LD(worker_at(m, i)->tab.ext_used);
		ext_cap += worker_at(m, i)->tab.ext_cap;
		ext_full += LD(worker_at(m, i)->tab.st.ext_full);
	}
	gauge1(b, "iceway_relay_overflow_blocks_in_use",
	       "Overflow blocks lent to allocations with more permissions or channels than fit inline.",
	       (double)ext_used);
	gauge1(b, "iceway_relay_overflow_blocks_capacity", "Overflow blocks preallocated.", (double)ext_cap);
	counter1(b, "iceway_relay_overflow_blocks_user_quota_total",
		 "Permission or channel requests refused (508) because the user's allocations hold "
		 "user-overflow-quota overflow blocks.",
		 SUM(ext_user_quota));
	counter1(b, "iceway_relay_overflow_blocks_exhausted_total",
		 "Permission or channel requests refused (508) because no overflow block was left.",
		 ext_full);
	if (m->n_workers && m->workers[0]->pool) {
		struct iw_ports_pool *pp = m->workers[0]->pool;
		static const char pn[] = "iceway_relay_ports_in_use";
		iw_metrics_header(b, pn, IW_METRICS_GAUGE,
				  "Relay ports held by allocations and reservations, by family.");
		struct iw_metrics_label l4 = { "family", "ipv4" }, l6 = { "family", "ipv6" };
		iw_metrics_gauge(b, pn, &l4, 1, (double)iw_ports_pool_in_use(pp, 0));
		iw_metrics_gauge(b, pn, &l6, 1, (double)iw_ports_pool_in_use(pp, 1));
		/* The pool's range, fixed at start-up (a reload keeps min-port and max-port): never
		 * a worker's configuration, which that worker may drop and the supervisor free. */
		gauge1(b, "iceway_relay_ports_capacity", "Relay ports in min-port..max-port, per family.",
		       (double)iw_ports_size(&pp->fam[0]));
		gauge1(b, "iceway_relay_reservations_active", "EVEN-PORT reservations held (RFC 8656 §7.2).",
		       (double)iw_ports_resv_count(pp));
		counter1(b, "iceway_relay_reservations_cancelled_total",
			 "EVEN-PORT reservations ended with the allocation that made them.",
			 SUM(resv_cancelled));
	}

	static const char n[] = "iceway_relay_allocations_total";
	iw_metrics_header(b, n, IW_METRICS_COUNTER,
			  "Allocate requests answered, by result (success or error code).");
	lab1(b, n, "result", "success", SUM(alloc_ok));
	lab1(b, n, "result", "300", SUM(alloc_redirect));
	lab1(b, n, "result", "401", SUM(alloc_auth_fail));
	lab1(b, n, "result", "403", SUM(alloc_revoked));
	lab1(b, n, "result", "437", SUM(alloc_mismatch));
	lab1(b, n, "result", "440", SUM(alloc_family));
	lab1(b, n, "result", "442", SUM(alloc_transport));
	lab1(b, n, "result", "486", SUM(alloc_quota));
	lab1(b, n, "result", "508", SUM(alloc_capacity) + SUM(alloc_draining) + SUM(alloc_bps_capacity));

	static const char mv[] = "iceway_relay_mobility_moves_total";
	iw_metrics_header(b, mv, IW_METRICS_COUNTER,
			  "RFC 8016: allocations moved to their client's new address, by where the new "
			  "address landed (the worker that held the allocation, or another one).");
	lab1(b, mv, "worker", "same", SUM(mob_moves[0]));
	lab1(b, mv, "worker", "other", SUM(mob_moves[1]));
	static const char mr[] = "iceway_relay_mobility_refused_total";
	static const char *const why[IW_MOB_R_COUNT] = {
		[IW_MOB_R_FORBIDDEN] = "forbidden", [IW_MOB_R_BAD_TICKET] = "bad_ticket",
		[IW_MOB_R_GONE] = "gone",           [IW_MOB_R_WRONG_USER] = "wrong_user",
		[IW_MOB_R_BUSY] = "busy",
	};
	iw_metrics_header(b, mr, IW_METRICS_COUNTER,
			  "RFC 8016 requests refused, by reason: forbidden (405: mobility off, or not a "
			  "UDP client), bad_ticket (400), gone (437: its allocation ended), wrong_user "
			  "(441), busy (508).");
	for (unsigned r = 0; r < IW_MOB_R_COUNT; r++)
		lab1(b, mr, "reason", why[r], SUM(mob_refused[r]));

	struct iw_metrics_hist h = { .bounds = iw_relay_life_bounds, .n_bounds = IW_RELAY_LIFE_BUCKETS };
	uint64_t counts[IW_RELAY_LIFE_BUCKETS + 1] = { 0 };
	h.counts = counts;
	for (unsigned i = 0; i < n_all(m); i++) {
		const struct iw_worker *w = worker_at(m, i);
		for (unsigned k = 0; k <= IW_RELAY_LIFE_BUCKETS; k++)
			counts[k] += LD(w->life_counts[k]);
		h.sum += peek_double(&w->life.sum);
	}
	for (unsigned k = 0; k <= IW_RELAY_LIFE_BUCKETS; k++)
		h.count += counts[k]; /* from the buckets, so count always matches them */
	static const char lt[] = "iceway_relay_allocation_lifetime_seconds";
	iw_metrics_header(b, lt, IW_METRICS_HISTOGRAM, "How long allocations lived, at deletion.");
	iw_metrics_histogram(b, lt, NULL, 0, &h);
}

static void auth(struct iw_metrics_buf *b, const struct iw_relay_metrics *m)
{
	static const char n[] = "iceway_relay_auth_failures_total";
	static const struct {
		const char *reason;
		size_t off;
	} r[] = {
		{ "unknown_user", offsetof(struct iw_auth_stats, unknown_user) },
		{ "bad_integrity", offsetof(struct iw_auth_stats, bad_integrity) },
		{ "rest_expired", offsetof(struct iw_auth_stats, rest_expired) },
		{ "stale_nonce", offsetof(struct iw_auth_stats, stale_nonce) },
		{ "bad_nonce", offsetof(struct iw_auth_stats, bad_nonce) },
		{ "bad_algorithm", offsetof(struct iw_auth_stats, bad_algorithm) },
		{ "bad_request", offsetof(struct iw_auth_stats, bad_request) },
	};
	iw_metrics_header(b, n, IW_METRICS_COUNTER, "Requests whose credentials were refused, by reason.");
	for (size_t k = 0; k < sizeof r / sizeof r[0]; k++) {
		uint64_t v = 0;
		for (unsigned i = 0; i < n_all(m); i++) {
			const uint64_t *p =
				(const uint64_t *)((const char *)&worker_at(m, i)->auth.st + r[k].off);
			v += peek(p, sizeof *p);
		}
		lab1(b, n, "reason", r[k].reason, v);
	}

	/* The answer budget of sources without credentials (unauth-answer-rate/-ratio). */
	uint64_t u[5] = { 0 };
	for (unsigned i = 0; i < n_all(m); i++) {
		const struct iw_auth_stats *st = &worker_at(m, i)->auth.st;
		u[0] += LD(st->rl_answered);
		u[1] += LD(st->rl_dropped);
		u[2] += LD(st->rl_ratio_dropped);
		u[3] += LD(st->rl_request_bytes);
		u[4] += LD(st->rl_answered_bytes);
	}
	static const char ua[] = "iceway_relay_unauth_answers_total";
	iw_metrics_header(b, ua, IW_METRICS_COUNTER,
			  "UDP answers to requests without valid credentials, by result: sent, or dropped "
			  "past unauth-answer-rate (rate) or unauth-answer-ratio (ratio).");
	lab1(b, ua, "result", "sent", u[0]);
	lab1(b, ua, "result", "rate", u[1]);
	lab1(b, ua, "result", "ratio", u[2]);
	static const char ub[] = "iceway_relay_unauth_bytes_total";
	iw_metrics_header(b, ub, IW_METRICS_COUNTER,
			  "Bytes of UDP requests without valid credentials (in) and of the answers sent "
			  "to them (out).");
	lab1(b, ub, "direction", "in", u[3]);
	lab1(b, ub, "direction", "out", u[4]);

	static const char pr[] = "iceway_relay_peers_refused_total";
	iw_metrics_header(b, pr, IW_METRICS_COUNTER,
			  "Peer addresses refused by the peer policy, by address class.");
	for (unsigned c = 0; c < IW_ADDR_CLASS_COUNT; c++)
		lab1(b, pr, "class", iw_addr_class_name((enum iw_addr_class)c), SUM(peers_refused_class[c]));
	/* The relay's own address (allow-self-peers), whatever its class. */
	lab1(b, pr, "class", "self", SUM(peers_refused_self));

	static const char se[] = "iceway_relay_strict_expiry_total";
	iw_metrics_header(
		b, se, IW_METRICS_COUNTER,
		"rest-strict-expiry: allocations ended at their REST credential's timestamp (ended), "
		"and requests on an allocation refused with 401 because it had passed (refused).");
	lab1(b, se, "event", "ended", SUM(strict_expired));
	lab1(b, se, "event", "refused", SUM(strict_refused));
	static const char sl[] = "iceway_relay_security_log_lines_total";
	iw_metrics_header(
		b, sl, IW_METRICS_COUNTER,
		"Auth failure and refusal log lines (the ones fail2ban reads), written or suppressed "
		"by their rate limit.");
	lab1(b, sl, "result", "written", SUM(seclog_lines));
	lab1(b, sl, "result", "suppressed", SUM(seclog_suppressed));
}

static void loops(struct iw_metrics_buf *b, const struct iw_relay_metrics *m)
{
	static const char wk[] = "iceway_relay_worker_wakeups_total";
	static const char bt[] = "iceway_relay_worker_batches_total";
	char idx[16];
	/* The TCP/TLS worker is labelled "stream". */
	iw_metrics_header(b, wk, IW_METRICS_COUNTER, "Event loop wake-ups, per worker.");
	for (unsigned i = 0; i < n_all(m); i++) {
		snprintf(idx, sizeof idx, i < m->n_workers ? "%u" : "stream", i);
		lab1(b, wk, "worker", idx, LD(worker_at(m, i)->st.wakeups));
	}
	iw_metrics_header(b, bt, IW_METRICS_COUNTER,
			  "Receives that returned datagrams (a recvmmsg batch, or one io_uring receive), "
			  "per worker.");
	for (unsigned i = 0; i < n_all(m); i++) {
		snprintf(idx, sizeof idx, i < m->n_workers ? "%u" : "stream", i);
		lab1(b, bt, "worker", idx, LD(worker_at(m, i)->st.batches));
	}
	static const char io[] = "iceway_relay_worker_io_uring";
	iw_metrics_header(b, io, IW_METRICS_GAUGE,
			  "1 when the worker batches its syscalls with io_uring, 0 when it uses "
			  "recvmmsg/sendmmsg (relay-io).");
	for (unsigned i = 0; i < n_all(m); i++) {
		struct iw_metrics_label l = { "worker", idx };
		snprintf(idx, sizeof idx, i < m->n_workers ? "%u" : "stream", i);
		iw_metrics_gauge(b, io, &l, 1, AT(worker_at(m, i)->io_uring) ? 1 : 0);
	}
}

/* The TCP/TLS worker's connections, labelled by client transport. */
static const char *const stream_tr[IW_STREAM_N_TRANSPORTS] = { "tcp", "tls" };

static uint64_t stat_at(const struct iw_stream_stats *st, size_t off)
{
	return peek((const char *)st + off, sizeof(uint64_t));
}

/* One counter family with two values of label per transport (in/out, read/write). */
static void pair_by_transport(struct iw_metrics_buf *b, const struct iw_stream_stats *const *st,
			      const char *name, const char *help, const char *label,
			      const char *const values[2], size_t off0, size_t off1)
{
	iw_metrics_header(b, name, IW_METRICS_COUNTER, help);
	for (unsigned t = 0; t < IW_STREAM_N_TRANSPORTS; t++)
		for (unsigned d = 0; d < 2; d++) {
			struct iw_metrics_label l[2] = { { label, values[d] },
							 { "transport", stream_tr[t] } };
			iw_metrics_counter(b, name, l, 2, stat_at(st[t], d ? off1 : off0));
		}
}

static void streams(struct iw_metrics_buf *b, const struct iw_stream *s)
{
	const char *const *tr = stream_tr;
	static const char op[] = "iceway_relay_stream_connections_open";
	static const char cn[] = "iceway_relay_stream_connections_total";
	static const char cl[] = "iceway_relay_stream_closed_total";
	static const char hs[] = "iceway_relay_stream_tls_handshakes_total";
	static const char by[] = "iceway_relay_stream_bytes_total";
	static const char fr[] = "iceway_relay_stream_frames_total";
	static const char dr[] = "iceway_relay_stream_frames_dropped_total";
	static const char io[] = "iceway_relay_stream_calls_total";
	const struct iw_stream_stats *st[IW_STREAM_N_TRANSPORTS];
	for (unsigned t = 0; t < IW_STREAM_N_TRANSPORTS; t++)
		st[t] = iw_stream_stats(s, (enum iw_stream_transport)t);

	iw_metrics_header(b, op, IW_METRICS_GAUGE, "Open client connections, by transport.");
	for (unsigned t = 0; t < IW_STREAM_N_TRANSPORTS; t++) {
		struct iw_metrics_label l = { "transport", tr[t] };
		iw_metrics_gauge(b, op, &l, 1, (double)LD(st[t]->open));
	}
	iw_metrics_header(b, cn, IW_METRICS_COUNTER,
			  "Client connections accepted, or refused at max-tcp-connections (refused) or "
			  "max-tcp-per-ip (refused_per_ip), by transport.");
	for (unsigned t = 0; t < IW_STREAM_N_TRANSPORTS; t++) {
		struct iw_metrics_label l[2] = { { "result", "accepted" }, { "transport", tr[t] } };
		iw_metrics_counter(b, cn, l, 2, LD(st[t]->accepted));
		l[0].value = "refused";
		iw_metrics_counter(b, cn, l, 2, LD(st[t]->refused_cap));
		l[0].value = "refused_per_ip";
		iw_metrics_counter(b, cn, l, 2, LD(st[t]->refused_per_ip));
	}
	static const struct {
		const char *reason;
		size_t off;
	} why[] = {
		{ "peer_closed", offsetof(struct iw_stream_stats, closed_eof) },
		{ "error", offsetof(struct iw_stream_stats, closed_err) },
		{ "timeout", offsetof(struct iw_stream_stats, closed_timeout) },
		{ "idle", offsetof(struct iw_stream_stats, closed_idle) },
		{ "auth_timeout", offsetof(struct iw_stream_stats, closed_auth) },
		{ "frame_too_long", offsetof(struct iw_stream_stats, closed_too_long) },
		{ "bad_frame", offsetof(struct iw_stream_stats, closed_bad_frame) },
		{ "tls_handshake", offsetof(struct iw_stream_stats, tls_fail) },
		{ "connection_bind_refused", offsetof(struct iw_stream_stats, closed_bind) },
		{ "tcp_relay_data", offsetof(struct iw_stream_stats, to_tcp_relay) },
	};
	iw_metrics_header(
		b, cl, IW_METRICS_COUNTER,
		"Client connections closed, by reason (timeout: a handshake or partial frame "
		"stalled; idle: no allocation and no request answered with success; "
		"auth_timeout: no successful Allocate in time; connection_bind_refused: an RFC 6062 "
		"ConnectionBind was refused; tcp_relay_data: handed to the TCP relay as a data "
		"connection) and transport.");
	for (unsigned t = 0; t < IW_STREAM_N_TRANSPORTS; t++)
		for (size_t k = 0; k < sizeof why / sizeof why[0]; k++) {
			if (t == IW_STREAM_TCP && why[k].off == offsetof(struct iw_stream_stats, tls_fail))
				continue;
			struct iw_metrics_label l[2] = { { "reason", why[k].reason },
							 { "transport", tr[t] } };
			iw_metrics_counter(b, cl, l, 2, stat_at(st[t], why[k].off));
		}
	iw_metrics_header(b, hs, IW_METRICS_COUNTER, "TLS handshakes with clients, by result.");
	lab1(b, hs, "result", "completed", LD(st[IW_STREAM_TLS]->tls_handshakes));
	lab1(b, hs, "result", "failed", LD(st[IW_STREAM_TLS]->tls_fail));
	static const struct {
		const char *result;
		size_t off;
	} px[] = {
		{ "header", offsetof(struct iw_stream_stats, proxy_header) },
		{ "untrusted_header", offsetof(struct iw_stream_stats, proxy_untrusted) },
		{ "missing_header", offsetof(struct iw_stream_stats, proxy_missing) },
		{ "bad_header", offsetof(struct iw_stream_stats, proxy_bad) },
	};
	static const char pp[] = "iceway_relay_stream_proxy_total";
	iw_metrics_header(b, pp, IW_METRICS_COUNTER,
			  "proxy-protocol: PROXY headers read, and connections closed for a header from a "
			  "source not in proxy-trusted, none from a trusted one, or a malformed one, by "
			  "transport.");
	for (unsigned t = 0; t < IW_STREAM_N_TRANSPORTS; t++)
		for (size_t k = 0; k < sizeof px / sizeof px[0]; k++) {
			struct iw_metrics_label l[2] = { { "result", px[k].result }, { "transport", tr[t] } };
			iw_metrics_counter(b, pp, l, 2, stat_at(st[t], px[k].off));
		}

	static const char *const dir[2] = { "in", "out" };
	static const char *const ops[2] = { "read", "write" };
	pair_by_transport(b, st, by,
			  "Stream bytes read from and written to clients (TLS: application data), by "
			  "direction and transport.",
			  "direction", dir, offsetof(struct iw_stream_stats, bytes_in),
			  offsetof(struct iw_stream_stats, bytes_out));
	pair_by_transport(b, st, fr,
			  "STUN and ChannelData frames read from and queued to clients, by direction and "
			  "transport.",
			  "direction", dir, offsetof(struct iw_stream_stats, frames_in),
			  offsetof(struct iw_stream_stats, frames_out));
	iw_metrics_header(b, dr, IW_METRICS_COUNTER,
			  "Frames dropped because a client's output buffer was full (it does not read), "
			  "by transport.");
	for (unsigned t = 0; t < IW_STREAM_N_TRANSPORTS; t++)
		lab1(b, dr, "transport", stream_tr[t], LD(st[t]->drop_out_full));
	pair_by_transport(b, st, io,
			  "Reads and writes on client connections that moved bytes (TLS: records' "
			  "worth), by operation and transport.",
			  "op", ops, offsetof(struct iw_stream_stats, reads),
			  offsetof(struct iw_stream_stats, writes));
}

/* RFC 6062 TCP allocations: the control path's answers (summed over the workers) and the
 * stream worker's peer connections. */
static void tcprelay(struct iw_metrics_buf *b, const struct iw_relay_metrics *m)
{
	const struct iw_tcprelay_stats *t = iw_stream_tcprelay_stats(m->streams);
	counter1(b, "iceway_relay_tcp_allocations_total", "TCP allocations made (RFC 6062).",
		 SUM(alloc_tcp_ok));
	static const char cn[] = "iceway_relay_tcp_connects_total";
	iw_metrics_header(b, cn, IW_METRICS_COUNTER,
			  "Connect requests (RFC 6062) by result: success, 446 (a connection to the peer "
			  "exists), 447 (failed or timed out), 508 (a tcp-relay bound), 400 (not a TCP "
			  "allocation, no peer).");
	lab1(b, cn, "result", "success", LD(t->connect_ok));
	lab1(b, cn, "result", "446", SUM(tcp_connect_exists));
	lab1(b, cn, "result", "447", LD(t->connect_fail) + SUM(tcp_connect_fail));
	lab1(b, cn, "result", "447_timeout", LD(t->connect_timeout));
	lab1(b, cn, "result", "508", SUM(tcp_connect_bound));
	lab1(b, cn, "result", "400", SUM(tcp_connect_bad));
	static const char pc[] = "iceway_relay_tcp_peer_connections_total";
	iw_metrics_header(b, pc, IW_METRICS_COUNTER,
			  "Connections from peers to TCP allocations: announced (ConnectionAttempt), or "
			  "closed without a permission, past tcp-relay-max-per-allocation or past "
			  "tcp-relay-max-connections.");
	lab1(b, pc, "result", "announced", LD(t->attempts));
	lab1(b, pc, "result", "no_permission", LD(t->attempt_no_perm));
	lab1(b, pc, "result", "per_allocation_bound", LD(t->attempt_per_alloc));
	lab1(b, pc, "result", "total_bound", LD(t->attempt_total));
	counter1(b, "iceway_relay_tcp_per_user_bound_total",
		 "Connects answered 508 and peer connections closed for tcp-relay-max-per-user.",
		 LD(t->per_user));
	static const char bn[] = "iceway_relay_tcp_binds_total";
	iw_metrics_header(b, bn, IW_METRICS_COUNTER,
			  "ConnectionBind by result, and peer connections closed unbound after "
			  "tcp-relay-connect-timeout.");
	lab1(b, bn, "result", "success", LD(t->bind_ok));
	lab1(b, bn, "result", "refused", SUM(tcp_bind_bad));
	lab1(b, bn, "result", "timeout", LD(t->bind_timeout));
	static const char op[] = "iceway_relay_tcp_connections";
	iw_metrics_header(b, op, IW_METRICS_GAUGE,
			  "Peer connections of TCP allocations: Connects in progress (pending), waiting for "
			  "a ConnectionBind, and bound to a client data connection.");
	struct iw_metrics_label l = { "state", "pending" };
	iw_metrics_gauge(b, op, &l, 1, (double)LD(t->pending));
	l.value = "waiting";
	iw_metrics_gauge(b, op, &l, 1, (double)LD(t->waiting));
	l.value = "bound";
	iw_metrics_gauge(b, op, &l, 1, (double)LD(t->bound));
	static const char cl[] = "iceway_relay_tcp_closed_total";
	iw_metrics_header(b, cl, IW_METRICS_COUNTER,
			  "Bound peer connections closed, by the side that closed first (client, peer), "
			  "with their allocation, or on an error.");
	lab1(b, cl, "reason", "client", LD(t->closed_client));
	lab1(b, cl, "reason", "peer", LD(t->closed_peer));
	lab1(b, cl, "reason", "allocation", LD(t->closed_alloc));
	lab1(b, cl, "reason", "error", LD(t->closed_err));
	static const char by[] = "iceway_relay_tcp_bytes_total";
	iw_metrics_header(b, by, IW_METRICS_COUNTER, "Bytes piped between data connections and peers.");
	lab1(b, by, "direction", "client_to_peer", LD(t->bytes[0]));
	lab1(b, by, "direction", "peer_to_client", LD(t->bytes[1]));
	counter1(b, "iceway_relay_tcp_stalls_total",
		 "Reads from one side of a pipe stopped because its buffer toward the other side was full "
		 "(backpressure).",
		 LD(t->stalls));
}

static void userdb(struct iw_metrics_buf *b, const struct iw_userdb *u)
{
	gauge1(b, "iceway_relay_userdb_up", "1 when redis-userdb answered at the last try.",
	       (double)AT(u->up));
	gauge1(b, "iceway_relay_userdb_users", "Users loaded from redis-userdb at the last load.",
	       (double)AT(u->users));
	counter1(b, "iceway_relay_userdb_refreshes_total", "Loads of redis-userdb that succeeded.",
		 AT(u->refreshes));
	counter1(b, "iceway_relay_userdb_failures_total",
		 "Loads of redis-userdb that failed (Redis unreachable or refusing).", AT(u->failures));
	counter1(b, "iceway_relay_userdb_skipped_total",
		 "Keys of redis-userdb left out at the last load (not a 32-digit hex key, or a name with "
		 "':').",
		 AT(u->skipped));
	gauge1(b, "iceway_relay_userdb_realm_options_ignored",
	       "Realm options of redis-userdb (turn/realm/REALM/max-bps, user-quota, total-quota) "
	       "ignored at the last load: not a number in the option's range.",
	       (double)AT(u->opts_bad));
}

void iw_relay_metrics_fill(struct iw_metrics_buf *b, void *arg)
{
	const struct iw_relay_metrics *m = arg;
	struct iw_metrics_label v = { "version", iw_version() };
	iw_metrics_header(b, "iceway_build_info", IW_METRICS_GAUGE, "Build information.");
	iw_metrics_gauge(b, "iceway_build_info", &v, 1, 1);
	allocations(b, m);
	traffic(b, m);
	sessions(b, m);
	drops(b, m);
	auth(b, m);
	counter1(b, "iceway_relay_stun_requests_total", "STUN requests handled.", SUM(stun_requests));
	counter1(b, "iceway_relay_rfc5780_changed_total",
		 "Binding answers sent from the alternate address or port on a CHANGE-REQUEST (RFC 5780).",
		 SUM(rfc5780_changed));
	loops(b, m);
	counter1(b, "iceway_relay_udp_gso_sends_total",
		 "Runs of datagrams to one address sent as one UDP GSO send (the kernel splits them).",
		 SUM(gso_sends));
	counter1(b, "iceway_relay_udp_gso_datagrams_total", "Datagrams that left in UDP GSO sends.",
		 SUM(gso_segments));
	if (m->streams) {
		streams(b, m->streams);
		tcprelay(b, m);
	}
	if (m->admin)
		iw_admin_metrics_fill(b, m->admin);
	if (m->ops) {
		const struct iw_ops *o = m->ops;
		counter1(b, "iceway_relay_config_reloads_total", "Configuration reloads accepted.",
			 AT(o->reloads));
		counter1(b, "iceway_relay_config_reload_errors_total",
			 "Configuration reloads refused (the running one stayed).", AT(o->reload_errors));
		gauge1(b, "iceway_relay_draining", "1 while draining after SIGTERM.",
		       (double)AT(o->draining));
		gauge1(b, "iceway_relay_relayed_bytes_per_second",
		       "Bytes relayed (sent on, both directions) over the last second: what bps-capacity "
		       "is compared with.",
		       (double)AT(o->relayed_bps));
		if (o->udb_src)
			userdb(b, o->udb_src);
	}
}
