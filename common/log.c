/* Logging: one line per event written with a single write(2), plain text or JSON lines, and a
 * per-call-site rate limiter. Formatting happens only after the level check in log.h. */
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/utf8.h"

/* Lines stay below PIPE_BUF so that a write to a pipe is atomic too. */
enum { LINE_MAX_LEN = 4096, MSG_MAX_LEN = 2048, IDENT_MAX = 64 };

int iw_log_level_cur = IW_LOG_INFO;

static int log_fd = STDERR_FILENO;
static bool log_json;
static char log_ident[IDENT_MAX] = "iceway";

static const char *const level_upper[] = { "ERROR", "WARN", "INFO", "DEBUG" };
static const char *const level_lower[] = { "error", "warn", "info", "debug" };

void iw_log_set_level(enum iw_log_level lvl)
{
	if ((int)lvl < IW_LOG_ERROR)
		lvl = IW_LOG_ERROR;
	if ((int)lvl > IW_LOG_DEBUG)
		lvl = IW_LOG_DEBUG;
	__atomic_store_n(&iw_log_level_cur, (int)lvl, __ATOMIC_RELAXED);
}

int iw_log_parse_level(const char *s, enum iw_log_level *lvl)
{
	if (!s)
		return -EINVAL;
	for (int i = 0; i <= IW_LOG_DEBUG; i++)
		if (strcasecmp(s, level_lower[i]) == 0) {
			*lvl = (enum iw_log_level)i;
			return 0;
		}
	if (strcasecmp(s, "warning") == 0) {
		*lvl = IW_LOG_WARN;
		return 0;
	}
	return -EINVAL;
}

void iw_log_set_json(bool json)
{
	__atomic_store_n(&log_json, json, __ATOMIC_RELAXED);
}

int iw_log_open(const char *path)
{
	int fd = STDERR_FILENO;

	if (path && *path && strcmp(path, "stderr") != 0) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fd < 0)
			return -errno;
	}
	int old = log_fd;
	log_fd = fd;
	if (old != STDERR_FILENO && old != fd)
		close(old);
	return 0;
}

void iw_log_set_ident(const char *ident)
{
	snprintf(log_ident, sizeof log_ident, "%s", ident ? ident : "");
}

/* An appender that never overruns: a piece that does not fit whole is dropped and `cut` is
 * set, so an escape sequence or UTF-8 character is never split. */
struct out {
	char *p, *end;
	bool cut;
};

static void put(struct out *o, const char *s, size_t n)
{
	size_t room = (size_t)(o->end - o->p);

	if (o->cut || n > room) {
		o->cut = true;
		return;
	}
	memcpy(o->p, s, n);
	o->p += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* How put_escaped writes: the body of a plain line, of a JSON string, or of a quoted logfmt
 * value (plain, with '"' and '\' escaped too). */
enum esc { ESC_PLAIN, ESC_JSON, ESC_QUOTED };

/*
 * Copy len bytes of msg so that they stay one line and, for JSON, a valid string body: control
 * characters are escaped, '"' and '\' too in JSON and quoted values, and bytes that are not
 * UTF-8 become U+FFFD (JSON) or \xNN (plain). Peer-supplied text (usernames, reasons) reaches
 * log lines.
 */
static void put_escaped(struct out *o, const char *msg, size_t left, enum esc mode)
{
	const unsigned char *s = (const unsigned char *)msg;
	bool json = mode == ESC_JSON;
	char tmp[8];

	while (left > 0 && !o->cut) {
		unsigned char c = *s;
		size_t n = 1;

		if (c == '\n') {
			puts_(o, "\\n");
		} else if (c == '\r') {
			puts_(o, "\\r");
		} else if (c == '\t') {
			puts_(o, "\\t");
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(tmp, sizeof tmp, json ? "\\u%04x" : "\\x%02x", c);
			puts_(o, tmp);
		} else if (mode != ESC_PLAIN && (c == '"' || c == '\\')) {
			tmp[0] = '\\';
			tmp[1] = (char)c;
			put(o, tmp, 2);
		} else if (c < 0x80) {
			put(o, (const char *)s, 1);
		} else if ((n = iw_utf8_len(s, left)) > 0) {
			put(o, (const char *)s, n);
		} else {
			n = 1;
			if (json) {
				puts_(o, "\\ufffd");
			} else {
				snprintf(tmp, sizeof tmp, "\\x%02x", c);
				puts_(o, tmp);
			}
		}
		s += n;
		left -= n;
	}
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return; /* nowhere left to report a failed log write */
		}
		buf += n;
		len -= (size_t)n;
	}
}

void iw_log_fmt_time(int64_t wall_ms, char *out, size_t cap)
{
	struct tm tm;
	time_t sec = (time_t)(wall_ms / 1000);
	gmtime_r(&sec, &tm);
	size_t tlen = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + tlen, cap - tlen, ".%03dZ", (int)(wall_ms % 1000));
}

bool iw_log_json(void)
{
	return __atomic_load_n(&log_json, __ATOMIC_RELAXED);
}

/* A line's start, up to its message: "TS LEVEL proc: msg", or the JSON object up to the
 * message string's body ("{"ts":...,"msg":"msg"), which the caller closes. */
static void put_prefix(struct out *o, bool json, enum iw_log_level lvl, const char *msg)
{
	char ts[64];
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	iw_log_fmt_time((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, ts, sizeof ts);
	if (json) {
		puts_(o, "{\"ts\":\"");
		puts_(o, ts);
		puts_(o, "\",\"level\":\"");
		puts_(o, level_lower[lvl]);
		puts_(o, "\",\"proc\":\"");
		put_escaped(o, log_ident, strlen(log_ident), ESC_JSON);
		puts_(o, "\",\"msg\":\"");
		put_escaped(o, msg, strlen(msg), ESC_JSON);
	} else {
		puts_(o, ts);
		puts_(o, " ");
		puts_(o, level_upper[lvl]);
		puts_(o, " ");
		put_escaped(o, log_ident, strlen(log_ident), ESC_PLAIN);
		puts_(o, ": ");
		put_escaped(o, msg, strlen(msg), ESC_PLAIN);
	}
}

void iw_log_write(enum iw_log_level lvl, const char *fmt, ...)
{
	char msg[MSG_MAX_LEN];
	char line[LINE_MAX_LEN];
	va_list ap;
	int saved_errno = errno; /* callers log and then inspect errno */

	if ((int)lvl < IW_LOG_ERROR || (int)lvl > IW_LOG_DEBUG)
		lvl = IW_LOG_ERROR;
	va_start(ap, fmt);
	int mlen = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (mlen < 0)
		snprintf(msg, sizeof msg, "(bad log format)");
	else if ((size_t)mlen >= sizeof msg)
		memcpy(msg + sizeof msg - 4, "...", 4);

	/* Leave room for the closing "\"}\n" or "\n" whatever the message length. */
	struct out o = { line, line + sizeof line - 8, false };
	bool json = __atomic_load_n(&log_json, __ATOMIC_RELAXED);
	put_prefix(&o, json, lvl, msg);
	o.end = line + sizeof line;
	o.cut = false;
	puts_(&o, json ? "\"}\n" : "\n");
	write_all(log_fd, line, (size_t)(o.p - line));
	errno = saved_errno;
}

/* --- structured lines (log.h: struct iw_log_rec) --- */

/* The longest ending: ',"cut":true}' or ' cut=true', the newline and a NUL. */
enum { REC_TAIL = 16 };

static struct out rec_out(const struct iw_log_rec *r)
{
	return (struct out){ r->p, r->end, false };
}

/* Keep what o wrote as the field's, or drop the whole field and remember a cut. */
static void rec_commit(struct iw_log_rec *r, const struct out *o)
{
	if (o->cut)
		r->cut = true;
	else
		r->p = o->p;
}

void iw_log_rec_begin(struct iw_log_rec *r, char *buf, size_t cap, bool json, enum iw_log_level lvl,
		      const char *event)
{
	if ((int)lvl < IW_LOG_ERROR || (int)lvl > IW_LOG_DEBUG)
		lvl = IW_LOG_ERROR;
	*r = (struct iw_log_rec){ .buf = buf, .p = buf, .end = buf + cap - REC_TAIL, .json = json };
	struct out o = rec_out(r);
	put_prefix(&o, json, lvl, event);
	if (json)
		puts_(&o, "\"");
	/* Too small for even this (a caller's bug): an empty object or line, marked cut. */
	if (o.cut) {
		r->p = buf;
		if (json)
			*r->p++ = '{';
		r->cut = true;
		return;
	}
	r->p = o.p;
}

/* ',"key":' or ' key=' */
static void rec_key(const struct iw_log_rec *r, struct out *o, const char *key)
{
	if (r->json) {
		/* After '{' only when the prefix did not fit. */
		puts_(o, r->p > r->buf + 1 ? ",\"" : "\"");
		put_escaped(o, key, strlen(key), ESC_JSON);
		puts_(o, "\":");
	} else {
		puts_(o, " ");
		put_escaped(o, key, strlen(key), ESC_PLAIN);
		puts_(o, "=");
	}
}

/* A logfmt value needs quotes when it is empty or holds anything but printable ASCII other
 * than '=', '"' and '\'. */
static bool needs_quotes(const char *s, size_t len)
{
	if (len == 0)
		return true;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c >= 0x7f || c == '=' || c == '"' || c == '\\')
			return true;
	}
	return false;
}

static void rec_string(const struct iw_log_rec *r, struct out *o, const char *s, size_t len)
{
	if (r->json) {
		puts_(o, "\"");
		put_escaped(o, s, len, ESC_JSON);
		puts_(o, "\"");
	} else if (needs_quotes(s, len)) {
		puts_(o, "\"");
		put_escaped(o, s, len, ESC_QUOTED);
		puts_(o, "\"");
	} else {
		put(o, s, len);
	}
}

void iw_log_rec_str(struct iw_log_rec *r, const char *key, const char *s, size_t len)
{
	struct out o = rec_out(r);
	rec_key(r, &o, key);
	rec_string(r, &o, s ? s : "", s ? len : 0);
	rec_commit(r, &o);
}

void iw_log_rec_strv(struct iw_log_rec *r, const char *key, const char *const *v, size_t n)
{
	struct out o = rec_out(r);
	rec_key(r, &o, key);
	if (r->json) {
		puts_(&o, "[");
		for (size_t i = 0; i < n; i++) {
			if (i)
				puts_(&o, ",");
			rec_string(r, &o, v[i], strlen(v[i]));
		}
		puts_(&o, "]");
	} else {
		/* One logfmt value: the items comma-joined, quoted as a whole when one needs it. */
		bool q = n == 0;
		for (size_t i = 0; i < n; i++)
			q |= needs_quotes(v[i], strlen(v[i])) || strchr(v[i], ',');
		if (q)
			puts_(&o, "\"");
		for (size_t i = 0; i < n; i++) {
			if (i)
				puts_(&o, ",");
			put_escaped(&o, v[i], strlen(v[i]), q ? ESC_QUOTED : ESC_PLAIN);
		}
		if (q)
			puts_(&o, "\"");
	}
	rec_commit(r, &o);
}

void iw_log_rec_u64(struct iw_log_rec *r, const char *key, uint64_t v)
{
	char num[24];
	struct out o = rec_out(r);
	rec_key(r, &o, key);
	snprintf(num, sizeof num, "%llu", (unsigned long long)v);
	puts_(&o, num);
	rec_commit(r, &o);
}

void iw_log_rec_ms(struct iw_log_rec *r, const char *key, uint64_t ms)
{
	char num[32];
	struct out o = rec_out(r);
	rec_key(r, &o, key);
	snprintf(num, sizeof num, "%llu.%03u", (unsigned long long)(ms / 1000), (unsigned)(ms % 1000));
	puts_(&o, num);
	rec_commit(r, &o);
}

size_t iw_log_rec_end(struct iw_log_rec *r)
{
	/* The room kept back at begin holds the longest ending. */
	struct out o = { r->p, r->end + REC_TAIL, false };
	if (r->cut)
		puts_(&o, r->json ? (r->p > r->buf + 1 ? ",\"cut\":true" : "\"cut\":true") : " cut=true");
	puts_(&o, r->json ? "}\n" : "\n");
	r->p = o.p;
	*r->p = 0;     /* not counted: the line is len bytes */
	r->end = r->p; /* nothing more fits */
	return (size_t)(r->p - r->buf);
}

void iw_log_rec_write(const char *line, size_t len)
{
	int saved_errno = errno;
	write_all(log_fd, line, len);
	errno = saved_errno;
}

bool iw_log_rl_allow(struct iw_log_rl *rl, unsigned burst, unsigned period_ms, unsigned *suppressed)
{
	unsigned long long now = iw_clock_ms();
	unsigned dummy;

	if (!suppressed)
		suppressed = &dummy;
	*suppressed = 0;
	if (now - rl->window_start_ms >= period_ms || now < rl->window_start_ms) {
		rl->window_start_ms = now;
		rl->n_in_window = 0;
	}
	if (rl->n_in_window < burst) {
		rl->n_in_window++;
		*suppressed = rl->suppressed;
		rl->suppressed = 0;
		return true;
	}
	if (rl->suppressed < ~0u)
		rl->suppressed++;
	return false;
}
