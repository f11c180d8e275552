/* Logging: one line per event, plain or JSON, level-guarded before any formatting, and
 * rate-limited repeats. Callers never pass secrets. */
#ifndef IW_COMMON_LOG_H
#define IW_COMMON_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum iw_log_level {
	IW_LOG_ERROR = 0,
	IW_LOG_WARN = 1,
	IW_LOG_INFO = 2,
	IW_LOG_DEBUG = 3,
};

/* Read on every guarded call; set by iw_log_set_level, also while other threads log (a reload):
 * relaxed atomic loads and stores, plain moves on the machine. */
extern int iw_log_level_cur;

#define IW_LOG_ENABLED(lvl) ((int)(lvl) <= __atomic_load_n(&iw_log_level_cur, __ATOMIC_RELAXED))
/* Formats only when the level is enabled: safe to leave on the packet path. */
#define IW_LOG(lvl, ...)                                  \
	do {                                              \
		if (IW_LOG_ENABLED(lvl))                  \
			iw_log_write((lvl), __VA_ARGS__); \
	} while (0)
#define IW_ERROR(...) IW_LOG(IW_LOG_ERROR, __VA_ARGS__)
#define IW_WARN(...) IW_LOG(IW_LOG_WARN, __VA_ARGS__)
#define IW_INFO(...) IW_LOG(IW_LOG_INFO, __VA_ARGS__)
#define IW_DEBUG(...) IW_LOG(IW_LOG_DEBUG, __VA_ARGS__)

/* Write one line (a newline is added). Thread-safe: one write(2) per line. */
void iw_log_write(enum iw_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void iw_log_set_level(enum iw_log_level lvl);
/* "error", "warn", "info", "debug" -> level; returns 0 or -EINVAL. */
int iw_log_parse_level(const char *s, enum iw_log_level *lvl);
/* Plain "2026-01-01T00:00:00.000Z INFO msg" or one JSON object per line. */
void iw_log_set_json(bool json);
/*
 * Where lines go, with coturn's special names: a file (appended), "stdout" or "-" (standard
 * output), "stderr" (the default, also NULL) or "syslog" (the local syslog daemon at /dev/log,
 * with the facility of iw_log_set_facility). Returns 0 or -errno (a file that cannot be
 * opened). A syslog daemon that cannot be reached leaves lines on stderr, with one line that
 * says so: a container without one still logs.
 */
int iw_log_open(const char *path);
/* Open the log file again by its name (after logrotate moved it: SIGHUP, as coturn does).
 * Nothing to do for stderr, stdout or syslog. Returns 0 or -errno; lines keep going to the
 * old file when it fails. */
int iw_log_reopen(void);
/* The syslog facility (LOG_USER by default): a LOG_* value from <syslog.h>. */
void iw_log_set_facility(int facility);
/* coturn's syslog-facility names, any case, with or without "LOG_": "LOG_LOCAL1", "local1",
 * "daemon". Returns 0 or -EINVAL. */
int iw_log_parse_facility(const char *name, int *facility);
/* The same as an option check: 0, or -EINVAL with *why set. */
int iw_log_check_facility(const char *name, const char **why);
/* The strftime(3) format of a plain line's timestamp, in UTC (coturn's
 * new-log-timestamp-format); NULL or "" restores ISO 8601 with milliseconds. Returns 0, or
 * -EINVAL for a format longer than 47 bytes. */
int iw_log_set_time_format(const char *fmt);
/*
 * The log options both binaries share, applied at start-up: the timestamp format, the
 * facility, then the destination (syslog wins over file, as in coturn). Returns 0, or -errno
 * with the reason in err.
 */
int iw_log_configure(const char *file, bool syslog, const char *facility, const char *time_format, char *err,
		     size_t err_cap);
/* The process name shown in each line ("iceway-relay"). */
void iw_log_set_ident(const char *ident);

/*
 * A structured line (an accounting record): an event name, then typed fields.
 *   JSON:  {"ts":"...","level":"info","proc":"...","msg":EVENT,"key":value,...}: one object that
 *          json.loads and jq read, numbers as numbers, lists as arrays.
 *   plain: "TS LEVEL proc: EVENT key=value ..." (logfmt): a string is quoted when it is empty
 *          or holds a space, '=', '"', '\' or a byte outside printable ASCII, with \" \\ \n
 *          \r \t \xNN inside the quotes; a list is comma-joined.
 *   A line's start is a plain or JSON line's (iw_log_write): with syslog, "LEVEL EVENT ...".
 * Peer-supplied strings (a username) cannot end a field or a line in either form. The line is
 * built in the caller's buffer: a field goes in whole or not at all, and a line that had to
 * leave one out ends with cut=true, so it always parses. No allocation.
 */
enum { IW_LOG_REC_MIN = 192 }; /* the least cap: the prefix, an event name and the ending */
struct iw_log_rec {
	char *buf, *p, *end; /* end leaves room for the ending */
	bool json, cut;
};
/* Start a line in buf (cap >= IW_LOG_REC_MIN bytes), JSON or plain. */
void iw_log_rec_begin(struct iw_log_rec *r, char *buf, size_t cap, bool json, enum iw_log_level lvl,
		      const char *event);
/* A string field of len bytes (any bytes). */
void iw_log_rec_str(struct iw_log_rec *r, const char *key, const char *s, size_t len);
/* A list of n strings. */
void iw_log_rec_strv(struct iw_log_rec *r, const char *key, const char *const *v, size_t n);
void iw_log_rec_u64(struct iw_log_rec *r, const char *key, uint64_t v);
/* A duration in ms, written as seconds with three decimals. */
void iw_log_rec_ms(struct iw_log_rec *r, const char *key, uint64_t ms);
/* Close the line (newline included, NUL-terminated); returns its length. Nothing may be
 * added after. */
size_t iw_log_rec_end(struct iw_log_rec *r);
/* Write a line built above, at the level given to iw_log_rec_begin, to the log in one
 * write(2); with syslog, as one datagram with the syslog header, the line its body. */
void iw_log_rec_write(enum iw_log_level lvl, const char *line, size_t len);
/* Is log-format json on? */
bool iw_log_json(void);
/* An ISO 8601 UTC time with milliseconds ("2026-01-01T00:00:00.000Z") for wall_ms. */
void iw_log_fmt_time(int64_t wall_ms, char *out, size_t cap);

/*
 * Rate limiting for repeated events (e.g. a flood of malformed datagrams): allows `burst`
 * lines per `period_ms`, counting the suppressed ones, which the next allowed line reports.
 */
struct iw_log_rl {
	unsigned long long window_start_ms;
	unsigned n_in_window;
	unsigned suppressed;
};
/* true when a line may be written now; *suppressed gets how many were dropped before it. */
bool iw_log_rl_allow(struct iw_log_rl *rl, unsigned burst, unsigned period_ms, unsigned *suppressed);

/*
 * A log line from a call site that a flood can repeat (a refused connection, a refused
 * request): at most `burst` lines a second from this site and thread; the next line that
 * gets through says how many were suppressed.
 */
#define IW_LOG_RL(lvl, burst, fmt, ...)                                                                  \
	do {                                                                                             \
		static __thread struct iw_log_rl rl_;                                                    \
		unsigned sup_;                                                                           \
		if (IW_LOG_ENABLED(lvl) && iw_log_rl_allow(&rl_, (burst), 1000, &sup_)) {                \
			if (sup_)                                                                        \
				iw_log_write((lvl), fmt " (%u similar lines suppressed)", ##__VA_ARGS__, \
					     sup_);                                                      \
			else                                                                             \
				iw_log_write((lvl), fmt, ##__VA_ARGS__);                                 \
		}                                                                                        \
	} while (0)

#endif
