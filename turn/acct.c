/* Session accounting records: formatting, writing and their timing. No I/O but the log. */
#include "turn/acct.h"

#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"

const char *iw_acct_end_name(enum iw_alloc_end why)
{
	static const char *const name[IW_END_COUNT] = {
		[IW_END_EXPIRED] = "expired", [IW_END_REFRESH0] = "refresh0",
		[IW_END_CLOSED] = "closed",   [IW_END_KILLED] = "killed",
		[IW_END_REVOKED] = "revoked", [IW_END_CRED_EXPIRED] = "credential_expired",
		[IW_END_QUOTA] = "quota",     [IW_END_DRAIN] = "drain",
	};
	return (unsigned)why < IW_END_COUNT && name[why] ? name[why] : "unknown";
}

const char *iw_acct_tr_name(enum iw_client_tr tr)
{
	static const char *const name[IW_CLIENT_TR_COUNT] = { "udp", "tcp", "tls" };
	return (unsigned)tr < IW_CLIENT_TR_COUNT ? name[tr] : "unknown";
}

size_t iw_acct_format(char *buf, size_t cap, bool json, const char *realm, const struct iw_alloc *a,
		      enum iw_acct_kind kind, enum iw_alloc_end why, uint64_t now_ms)
{
	struct iw_log_rec r;
	char id[20], client[IW_ADDR_STRLEN], start[40], relayed[2][IW_ADDR_STRLEN];
	const char *rv[2];
	size_t n_rv = 0;
	iw_log_rec_begin(&r, buf, cap, json, IW_LOG_INFO, "session");
	iw_log_rec_str(&r, "kind", kind == IW_ACCT_FINAL ? "final" : "interim",
		       kind == IW_ACCT_FINAL ? 5 : 7);
	snprintf(id, sizeof id, "%016llx", (unsigned long long)a->id);
	iw_log_rec_str(&r, "id", id, 16);
	iw_log_rec_str(&r, "realm", realm, strlen(realm));
	/* The user part of a REST username (after rest-api-separator), never its expiry. */
	size_t off = a->quota_off <= a->user_len ? a->quota_off : 0;
	iw_log_rec_str(&r, "user", a->user + off, a->user_len - off);
	iw_addr_fmt(&a->client, true, client, sizeof client);
	iw_log_rec_str(&r, "client", client, strlen(client));
	const char *tr = iw_acct_tr_name((enum iw_client_tr)a->tr);
	iw_log_rec_str(&r, "transport", tr, strlen(tr));
	for (unsigned i = 0; i < a->n_rsock && i < 2; i++)
		rv[n_rv++] = iw_addr_fmt(&a->rs[i].adv, true, relayed[i], sizeof relayed[i]);
	iw_log_rec_strv(&r, "relayed", rv, n_rv);
	iw_log_fmt_time(a->start_wall_ms, start, sizeof start);
	iw_log_rec_str(&r, "start", start, strlen(start));
	iw_log_rec_ms(&r, "duration", now_ms > a->created_ms ? now_ms - a->created_ms : 0);
	iw_log_rec_u64(&r, "packets_to_peer", a->use.pkts[0]);
	iw_log_rec_u64(&r, "bytes_to_peer", a->use.bytes[0]);
	iw_log_rec_u64(&r, "packets_to_client", a->use.pkts[1]);
	iw_log_rec_u64(&r, "bytes_to_client", a->use.bytes[1]);
	iw_log_rec_u64(&r, "peers", a->use.peers);
	if (kind == IW_ACCT_FINAL) {
		const char *e = iw_acct_end_name(why);
		iw_log_rec_str(&r, "end", e, strlen(e));
	}
	return iw_log_rec_end(&r);
}

void iw_acct_write(struct iw_worker *w, const struct iw_alloc *a, enum iw_acct_kind kind,
		   enum iw_alloc_end why)
{
	if (!a->acct || !IW_LOG_ENABLED(IW_LOG_INFO))
		return;
	char line[IW_ACCT_LINE_MAX];
	size_t n = iw_acct_format(line, sizeof line, iw_log_json(), w->auth.realm, a, kind, why, w->now_ms);
	iw_log_rec_write(IW_LOG_INFO, line, n);
	w->st.acct_records[kind == IW_ACCT_INTERIM]++;
}

static uint64_t interval_ms(const struct iw_worker *w)
{
	return (uint64_t)w->conf->acct_interval_s * 1000;
}

void iw_acct_start(struct iw_worker *w, struct iw_alloc *a)
{
	a->acct = true;
	a->start_wall_ms = iw_clock_wall_ms();
	a->interim_ms = interval_ms(w) ? w->now_ms + interval_ms(w) : 0;
}

void iw_acct_interim(void *ctx, struct iw_alloc *a)
{
	struct iw_worker *w = ctx;
	iw_acct_write(w, a, IW_ACCT_INTERIM, IW_END_COUNT);
	uint64_t step = interval_ms(w);
	/* On the interval's grid from the start. The wheel fires up to a second or so late: the
	 * next point may have passed already, and then comes at the next tick rather than being
	 * skipped. Only points a longer stall let pass are skipped. */
	uint64_t late = step ? (w->now_ms - a->interim_ms) / step : 0;
	a->interim_ms = step ? a->interim_ms + (late > 1 ? late : 1) * step : 0;
}

void iw_acct_interval_apply(struct iw_worker *w)
{
	uint64_t step = interval_ms(w);
	for (uint32_t i = 0; i < w->tab.n_fresh; i++) {
		struct iw_alloc *a = &w->tab.slab[i];
		if (!a->in_use || !a->acct)
			continue;
		a->interim_ms = step ? w->now_ms + step : 0;
		iw_alloc_timer_arm(&w->tab, a);
	}
}
