/* Session accounting: one record per allocation at its end and, every accounting-interval
 * seconds, an interim one while it lasts, written as structured log lines (common/log.h: JSON
 * with log-format json, logfmt otherwise). Only allocations answered with success get records.
 * Written on the control path (an allocation's end, its timer), never per datagram: the packet
 * path only counts into struct iw_alloc_use. */
#ifndef IW_TURN_ACCT_H
#define IW_TURN_ACCT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "turn/alloc.h"
#include "turn/worker.h"

enum iw_acct_kind { IW_ACCT_FINAL, IW_ACCT_INTERIM };

/* A record's buffer: under PIPE_BUF, as every log line. */
enum { IW_ACCT_LINE_MAX = 4096 };

/* The record's names: "expired", "refresh0", ...; "udp", "tcp", "tls". */
const char *iw_acct_end_name(enum iw_alloc_end why);
const char *iw_acct_tr_name(enum iw_client_tr tr);

/* a's record in buf (cap >= IW_LOG_REC_MIN), JSON or plain: realm, kind, the end reason (final
 * records only) and the monotonic time now_ms. Returns its length, newline included. */
size_t iw_acct_format(char *buf, size_t cap, bool json, const char *realm, const struct iw_alloc *a,
		      enum iw_acct_kind kind, enum iw_alloc_end why, uint64_t now_ms);
/* Log a's record (level info) and count it; nothing for an allocation that was never
 * answered with success (a->acct false). */
void iw_acct_write(struct iw_worker *w, const struct iw_alloc *a, enum iw_acct_kind kind,
		   enum iw_alloc_end why);
/* a's Allocate succeeds: its start time and first interim time (before its timer is armed). */
void iw_acct_start(struct iw_worker *w, struct iw_alloc *a);
/* An iw_alloc_due_fn (struct iw_alloc_tab's on_interim) with ctx the worker: the interim
 * record, and the next one's time. */
void iw_acct_interim(void *ctx, struct iw_alloc *a);
/* accounting-interval changed with a reload: each live allocation's next interim record is
 * an interval from now (or none). Walks the table once per such reload, never per packet. */
void iw_acct_interval_apply(struct iw_worker *w);

#endif
