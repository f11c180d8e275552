/* Logging: one line per event written with a single write(2) (or sent as one syslog datagram),
 * plain text or JSON lines, structured records, and a per-call-site rate limiter. Formatting happens only after the level check in log.h. */
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/utf8.h"

/* Lines stay below PIPE_BUF so that a write to a pipe is atomic too. */
enum { LINE_MAX_LEN = 4096, MSG_MAX_LEN = 2048, IDENT_MAX = 64, TIME_FMT_MAX = 48 };

int iw_log_level_cur = IW_LOG_INFO;

static int log_fd = STDERR_FILENO;
static bool log_json;
static char log_ident[IDENT_MAX] = "iceway";
/* "": ISO 8601 with milliseconds. Set at start-up, before any thread logs. */
static char time_fmt[TIME_FMT_MAX];
/* The file log_fd was opened from, for iw_log_reopen; "" when it is stderr or stdout. */
static char log_path[4096];
static pthread_mutex_t path_mu = PTHREAD_MUTEX_INITIALIZER;

/*
 * syslog: a datagram socket connected to /dev/log, written like syslog(3) does (RFC 3164
 * header, LOG_PID), but non-blocking: a daemon that stalls loses lines (counted, and said
 * in the next line that gets through) instead of stalling a relay worker. -1: not in use.
 */
static const char syslog_path[] = "/dev/log";
static int sys_fd = -1;
static int sys_facility = LOG_USER;
static int sys_pid;
static unsigned sys_lost;
static pthread_mutex_t sys_mu = PTHREAD_MUTEX_INITIALIZER;
/* iw_log_level -> syslog priority */
static const int level_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

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

static int syslog_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, syslog_path, sizeof syslog_path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

/*
 * The daemon restarted (its socket is a new one): connect again onto the same descriptor
 * number with dup2, so that a thread sending at the same time never writes to a descriptor
 * closed under it. Returns 0 or -errno.
 */
static int syslog_reconnect(int fd)
{
	int rc = 0;

	pthread_mutex_lock(&sys_mu);
	int nfd = syslog_connect();
	if (nfd < 0) {
		rc = nfd;
	} else {
		if (dup3(nfd, fd, O_CLOEXEC) < 0)
			rc = -errno;
		close(nfd);
	}
	pthread_mutex_unlock(&sys_mu);
	return rc;
}

static bool is_stdout_name(const char *path)
{
	return !strcmp(path, "stdout") || !strcmp(path, "-");
}

static bool is_std_fd(int fd)
{
	return fd == STDERR_FILENO || fd == STDOUT_FILENO;
}

int iw_log_open(const char *path)
{
	int fd = STDERR_FILENO, sfd = -1, sys_err = 0;

	if (path && !strcmp(path, "syslog")) {
		sfd = syslog_connect();
		if (sfd < 0) {
			sys_err = -sfd;
			sfd = -1;
		}
	} else if (path && is_stdout_name(path)) {
		fd = STDOUT_FILENO;
	} else if (path && *path && strcmp(path, "stderr") != 0) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fd < 0)
			return -errno;
	}
	int old = log_fd, old_sys = sys_fd;
	pthread_mutex_lock(&path_mu);
	snprintf(log_path, sizeof log_path, "%s", is_std_fd(fd) ? "" : path);
	pthread_mutex_unlock(&path_mu);
	log_fd = fd;
	sys_pid = (int)getpid();
	__atomic_store_n(&sys_fd, sfd, __ATOMIC_RELEASE);
	if (!is_std_fd(old) && old != fd)
		close(old);
	if (old_sys >= 0)
		close(old_sys);
	if (sys_err)
		iw_log_write(IW_LOG_WARN, "syslog: cannot reach %s (%s): logging to stderr", syslog_path,
			     strerror(sys_err));
	return 0;
}

int iw_log_reopen(void)
{
	int rc = 0;

	pthread_mutex_lock(&path_mu);
	if (log_path[0]) {
		int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fd < 0) {
			rc = -errno;
		} else {
			/* the same descriptor number: a thread writing now never meets a closed one */
			if (dup3(fd, log_fd, O_CLOEXEC) < 0)
				rc = -errno;
			close(fd);
		}
	}
	pthread_mutex_unlock(&path_mu);
	return rc;
}

void iw_log_set_facility(int facility)
{
	sys_facility = facility & LOG_FACMASK;
}

static const struct {
	const char *name;
	int facility;
} facilities[] = {
	{ "auth", LOG_AUTH },     { "authpriv", LOG_AUTHPRIV }, { "cron", LOG_CRON },
	{ "daemon", LOG_DAEMON }, { "kern", LOG_KERN },         { "local0", LOG_LOCAL0 },
	{ "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },     { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },     { "local6", LOG_LOCAL6 },
	{ "local7", LOG_LOCAL7 }, { "lpr", LOG_LPR },           { "mail", LOG_MAIL },
	{ "news", LOG_NEWS },     { "syslog", LOG_SYSLOG },     { "user", LOG_USER },
	{ "uucp", LOG_UUCP },
};

int iw_log_parse_facility(const char *name, int *facility)
{
	if (!name)
		return -EINVAL;
	if (!strncasecmp(name, "LOG_", 4))
		name += 4;
	for (size_t i = 0; i < sizeof facilities / sizeof facilities[0]; i++)
		if (!strcasecmp(name, facilities[i].name)) {
			*facility = facilities[i].facility;
			return 0;
		}
	return -EINVAL;
}

int iw_log_check_facility(const char *name, const char **why)
{
	int fac;

	if (iw_log_parse_facility(name, &fac)) {
		*why = "not a syslog facility (user, daemon, local0 ... local7, or LOG_LOCAL1 ...)";
		return -EINVAL;
	}
	return 0;
}

int iw_log_set_time_format(const char *fmt)
{
	if (fmt && strlen(fmt) >= sizeof time_fmt)
		return -EINVAL;
	snprintf(time_fmt, sizeof time_fmt, "%s", fmt ? fmt : "");
	return 0;
}

int iw_log_configure(const char *file, bool syslog, const char *facility, const char *time_format, char *err,
		     size_t err_cap)
{
	int fac = LOG_USER, rc;

	if (iw_log_set_time_format(time_format)) {
		snprintf(err, err_cap, "option 'new-log-timestamp-format': longer than 47 bytes");
		return -EINVAL;
	}
	if (facility && *facility && iw_log_parse_facility(facility, &fac)) {
		snprintf(err, err_cap, "option 'syslog-facility': %s is not a syslog facility", facility);
		return -EINVAL;
	}
	iw_log_set_facility(fac);
	rc = iw_log_open(syslog ? "syslog" : file);
	if (rc)
		snprintf(err, err_cap, "option 'log-file': cannot open %s (%s)", file, strerror(-rc));
	return rc;
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

/* RFC 3164's header as syslog(3) writes it: "<PRI>Mmm dd hh:mm:ss ident[pid]: ", local time. */
static void put_syslog_header(struct out *o, enum iw_log_level lvl, time_t now)
{
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	char hdr[64];
	struct tm tm;

	localtime_r(&now, &tm);
	snprintf(hdr, sizeof hdr, "<%d>%s %2d %02d:%02d:%02d ", sys_facility | level_prio[lvl],
		 mon[tm.tm_mon % 12], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	puts_(o, hdr);
	put_escaped(o, log_ident, strlen(log_ident), ESC_PLAIN);
	snprintf(hdr, sizeof hdr, "[%d]: ", sys_pid);
	puts_(o, hdr);
}

/* One datagram, the header then the body, to the syslog daemon; false when it is gone for
 * good (the caller writes the line to stderr instead). */
static bool syslog_send(int fd, const char *hdr, size_t hdr_len, const char *body, size_t len)
{
	struct iovec iov[2] = { { (void *)hdr, hdr_len }, { (void *)body, len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };

	for (int attempt = 0; attempt < 2; attempt++) {
		if (sendmsg(fd, &mh, MSG_NOSIGNAL) >= 0)
			return true;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
			__atomic_add_fetch(&sys_lost, 1, __ATOMIC_RELAXED);
			return true;
		}
		if (errno == EINTR || (attempt == 0 && syslog_reconnect(fd) == 0))
			continue;
		break;
	}
	return false;
}

/* The syslog socket, or -1. A line reads it once for its form and where it goes (a record,
 * at begin and at write: it changes at start-up only). */
static int syslog_fd(void)
{
	return __atomic_load_n(&sys_fd, __ATOMIC_ACQUIRE);
}

/*
 * A line's start, up to its message: "TS LEVEL proc: msg", or the JSON object up to the
 * message string's body ("{"ts":...,"msg":"msg"), which the caller closes. new-log-timestamp-
 * format restamps a plain line; for syslog (sys), whose header carries the time and the
 * ident, a plain line is "LEVEL msg".
 */
static void put_prefix(struct out *o, bool json, bool sys, enum iw_log_level lvl, const char *msg)
{
	char ts[64];
	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	if (json) {
		iw_log_fmt_time((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, ts, sizeof ts);
		puts_(o, "{\"ts\":\"");
		puts_(o, ts);
		puts_(o, "\",\"level\":\"");
		puts_(o, level_lower[lvl]);
		puts_(o, "\",\"proc\":\"");
		put_escaped(o, log_ident, strlen(log_ident), ESC_JSON);
		puts_(o, "\",\"msg\":\"");
		put_escaped(o, msg, strlen(msg), ESC_JSON);
		return;
	}
	if (!sys) {
		if (!time_fmt[0])
			iw_log_fmt_time((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, ts, sizeof ts);
		else if (!gmtime_r(&now.tv_sec, &tm) || strftime(ts, sizeof ts, time_fmt, &tm) == 0)
			ts[0] = '\0';
		puts_(o, ts);
		puts_(o, " ");
	}
	puts_(o, level_upper[lvl]);
	puts_(o, " ");
	if (!sys) {
		put_escaped(o, log_ident, strlen(log_ident), ESC_PLAIN);
		puts_(o, ": ");
	}
	put_escaped(o, msg, strlen(msg), ESC_PLAIN);
}

/* A whole line (newline included) to where the log goes: the file or stream, or syslog as one
 * datagram with the header and without the newline. */
static void log_emit(int sfd, enum iw_log_level lvl, const char *line, size_t len)
{
	if (sfd < 0) {
		write_all(log_fd, line, len);
		return;
	}
	char hdr[128];
	struct out h = { hdr, hdr + sizeof hdr, false };
	put_syslog_header(&h, lvl, time(NULL));
	size_t hlen = (size_t)(h.p - hdr);
	unsigned lost = __atomic_exchange_n(&sys_lost, 0, __ATOMIC_RELAXED);
	if (lost) {
		char note[64];
		int n = snprintf(note, sizeof note, "(%u lines lost: syslog was busy)", lost);
		if (n > 0 && (size_t)n < sizeof note)
			syslog_send(sfd, hdr, hlen, note, (size_t)n);
	}
	/* a datagram is one record: no newline */
	size_t body = len > 0 && line[len - 1] == '\n' ? len - 1 : len;
	if (!syslog_send(sfd, hdr, hlen, line, body))
		write_all(STDERR_FILENO, line, len);
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
	int sfd = syslog_fd();
	put_prefix(&o, json, sfd >= 0, lvl, msg);
	o.end = line + sizeof line;
	o.cut = false;
	puts_(&o, json ? "\"}\n" : "\n");
	log_emit(sfd, lvl, line, (size_t)(o.p - line));
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
	put_prefix(&o, json, syslog_fd() >= 0, lvl, event);
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

void iw_log_rec_write(enum iw_log_level lvl, const char *line, size_t len)
{
	int saved_errno = errno;
	if ((int)lvl < IW_LOG_ERROR || (int)lvl > IW_LOG_DEBUG)
		lvl = IW_LOG_ERROR;
	log_emit(syslog_fd(), lvl, line, len);
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
