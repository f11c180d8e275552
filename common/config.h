/* Options from one typed table per binary: a coturn-style key=value file, then the
 * environment, then the command line, each overriding the one before. The table also gives
 * the defaults and generates --help and the README's option tables. A bad value fails start-up
 * naming the file and line (or the variable) and the option; an option the binary does not
 * support is warned about once, by name. */
#ifndef IW_COMMON_CONFIG_H
#define IW_COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"

enum iw_opt_kind {
	/* Options with a setter: the value is handed to .set as written. */
	IW_OPT_NONE,            /* a flag: "--verbose", "verbose" in a file */
	IW_OPT_REQUIRED,        /* "--realm X", "--realm=X", "realm=X", "realm X" */
	IW_OPT_OPTIONAL,        /* "--prometheus" or "--prometheus=1" (value only with '=') */
	IW_OPT_UNSUPPORTED,     /* known coturn option that iceway ignores: warned once */
	IW_OPT_UNSUPPORTED_ARG, /* the same, but it takes a value that must be skipped */
	/* Typed options: the table says where the value goes (.off, .size) and how to check it. */
	IW_OPT_FLAG,   /* bool set to true; takes no value (the environment's is yes/no) */
	IW_OPT_BOOL,   /* bool; "--x" is yes, "--x=no" (a value only after '=') */
	IW_OPT_INT,    /* unsigned integer of .size bytes within [.min, .max] */
	IW_OPT_DOUBLE, /* double within [.min, .max] */
	IW_OPT_STR,    /* char * owned by the struct, .min to .max bytes (.max 0: any) */
	IW_OPT_ENUM,   /* unsigned integer of .size bytes: the index of the value in .choices */
	IW_OPT_LIST,   /* char *[.max] with an unsigned count at .count_off: repeatable */
	IW_OPT_CIDR,   /* struct iw_cidr[.max] with an unsigned count at .count_off: repeatable */
	IW_OPT_ALIAS,  /* an old spelling of .alias_of; with .def it is a flag meaning that value */
};

/* .flags */
enum {
	IW_OPT_SECRET = 1 << 0,   /* also NAME-file FILE; wiped when freed; never echoed */
	IW_OPT_NOENV = 1 << 1,    /* not read from the environment (help, version, config) */
	IW_OPT_HIDDEN = 1 << 2,   /* not in --help (old spellings) */
	IW_OPT_IP = 1 << 3,       /* STR: a numeric IPv4 or IPv6 address */
	IW_OPT_HOSTPORT = 1 << 4, /* STR: a numeric ADDR:PORT or [V6ADDR]:PORT */
	IW_OPT_READABLE = 1 << 5, /* STR: a file this process can read */
	IW_OPT_REPEAT = 1 << 6,   /* a repeatable setter option: the environment's value is split */
};

/*
 * Set an option on cfg. val is NULL for IW_OPT_NONE (and IW_OPT_OPTIONAL without a value).
 * Returns 0, or < 0 with *why set to a short reason ("not a number", "must be 1-65535").
 * For typed options, .check (when set) sees the value before it is stored.
 */
typedef int (*iw_opt_set_fn)(void *cfg, const char *val, const char **why);
typedef int (*iw_opt_check_fn)(const char *val, const char **why);

struct iw_opt {
	const char *name; /* long name, without dashes; NULL ends the table */
	char short_name;  /* 0 when none */
	enum iw_opt_kind kind;
	unsigned flags;           /* IW_OPT_SECRET ... */
	size_t off, size;         /* typed: the field, see IW_OPT_AT */
	size_t count_off;         /* IW_OPT_LIST: the unsigned count */
	long long min, max;       /* INT/DOUBLE range; STR length; LIST entries */
	const char *choices;      /* IW_OPT_ENUM: "plain|json" */
	const char *def;          /* the default as written in a file, applied by iw_config_defaults */
	const char *def_doc;      /* a default the program computes, for --help only */
	const char *bare;         /* typed: the value of "--name" alone; the value is then optional */
	const char *alias_of;     /* IW_OPT_ALIAS: the option this spells */
	iw_opt_set_fn set;        /* setter kinds only */
	iw_opt_check_fn check;    /* typed: an extra check of the value */
	void (*clear)(void *cfg); /* IW_OPT_REPEAT setters: forget the values given so far */
	const char *help;         /* one line; "ARG: text" names the value */
	const char *env_prefix;   /* on the terminating entry: "ICEWAY_RELAY_" (NULL: no env) */
};

/* The field of a typed option: .off and .size for member m of struct type T. */
#define IW_OPT_AT(T, m) .off = offsetof(T, m), .size = sizeof(((T *)0)->m)
/* The end of a table, naming the environment prefix of its binary. */
#define IW_OPT_END(prefix)                           \
	{                                            \
		.name = NULL, .env_prefix = (prefix) \
	}

/* Entries every binary shares, so that each option has one spelling everywhere. T is the
 * configuration struct; the members are named after what they hold. */
#define IW_OPT_CONFIG_FILE                                                                          \
	{ .name = "config",                                                                         \
	  .short_name = 'c',                                                                        \
	  .kind = IW_OPT_REQUIRED,                                                                  \
	  .flags = IW_OPT_NOENV,                                                                    \
	  .help = "FILE: read options from FILE first" },                                           \
	{                                                                                           \
		.name = "no-config", .short_name = 'n', .kind = IW_OPT_NONE, .flags = IW_OPT_NOENV, \
		.help = "do not read a config file"                                                 \
	}
#define IW_OPT_HELP_VERSION(T, help_m, version_m)                                                       \
	{ .name = "help",                                                                               \
	  .short_name = 'h',                                                                            \
	  .kind = IW_OPT_ENUM,                                                                          \
	  .flags = IW_OPT_NOENV,                                                                        \
	  IW_OPT_AT(T, help_m),                                                                         \
	  .choices = "no|text|markdown",                                                                \
	  .bare = "text",                                                                               \
	  .help = "FORMAT: print this help (markdown: the README's table)" },                           \
	{                                                                                               \
		.name = "version", .kind = IW_OPT_FLAG, .flags = IW_OPT_NOENV, IW_OPT_AT(T, version_m), \
		.help = "print the version"                                                             \
	}
/* log-level (enum iw_log_level), log-format (a bool: json), log-file; log-json is the old
 * spelling of log-format json. */
#define IW_OPT_LOG(T, level_m, json_m, file_m)                                                     \
	{ .name = "log-level",                                                                     \
	  .kind = IW_OPT_ENUM,                                                                     \
	  IW_OPT_AT(T, level_m),                                                                   \
	  .choices = "error|warn|info|debug",                                                      \
	  .def = "info",                                                                           \
	  .help = "the least severe events logged" },                                              \
		{ .name = "log-format",                                                            \
		  .kind = IW_OPT_ENUM,                                                             \
		  IW_OPT_AT(T, json_m),                                                            \
		  .choices = "plain|json",                                                         \
		  .def = "plain",                                                                  \
		  .help = "one line of text or one JSON object per event" },                       \
		{ .name = "log-json",                                                              \
		  .kind = IW_OPT_ALIAS,                                                            \
		  .flags = IW_OPT_HIDDEN,                                                          \
		  .alias_of = "log-format",                                                        \
		  .def = "json",                                                                   \
		  .help = "the old spelling of log-format json" },                                 \
	{                                                                                          \
		.name = "log-file", .short_name = 'l', .kind = IW_OPT_STR, IW_OPT_AT(T, file_m),   \
		.def_doc = "stderr",                                                               \
		.help = "FILE: log here (stdout or -: standard output; syslog: the syslog daemon)" \
	}
/* coturn's logging options: syslog (a bool), syslog-facility and new-log-timestamp-format
 * (strings, applied with iw_log_configure); simple-log, new-log-timestamp and no-stdout-log
 * are what iceway always does. */
#define IW_OPT_LOG_COTURN(T, syslog_m, facility_m, time_format_m)                                         \
	{ .name = "syslog",                                                                               \
	  .kind = IW_OPT_FLAG,                                                                            \
	  IW_OPT_AT(T, syslog_m),                                                                         \
	  .help = "log to the syslog daemon at /dev/log (as log-file syslog); stderr if there is none" }, \
		{ .name = "syslog-facility",                                                              \
		  .kind = IW_OPT_STR,                                                                     \
		  IW_OPT_AT(T, facility_m),                                                               \
		  .check = iw_log_check_facility,                                                         \
		  .def_doc = "user",                                                                      \
		  .help = "NAME: the syslog facility: user, daemon, local0 ... local7 (or coturn's "      \
			  "LOG_LOCAL1 ...)" },                                                            \
		{ .name = "new-log-timestamp-format",                                                     \
		  .kind = IW_OPT_STR,                                                                     \
		  IW_OPT_AT(T, time_format_m),                                                            \
		  .min = 1,                                                                               \
		  .max = 47,                                                                              \
		  .def_doc = "ISO 8601 with ms",                                                          \
		  .help = "FORMAT: strftime(3) format of a plain line's timestamp, in UTC" },             \
		{ .name = "new-log-timestamp",                                                            \
		  .kind = IW_OPT_NONE,                                                                    \
		  .help = "ISO 8601 timestamps (always)" },                                               \
		{ .name = "simple-log",                                                                   \
		  .kind = IW_OPT_NONE,                                                                    \
		  .help = "log-file is used as named, never dated (always); SIGHUP reopens it" },         \
	{                                                                                                 \
		.name = "no-stdout-log", .kind = IW_OPT_NONE,                                             \
		.help = "lines go to log-file only, never also to stdout (always)"                        \
	}
/* The metrics listener: off unless asked, on loopback by default. */
#define IW_OPT_PROMETHEUS(T, on_m, port_m, addr_m, port_def)                                                \
	{ .name = "prometheus",                                                                             \
	  .kind = IW_OPT_BOOL,                                                                              \
	  IW_OPT_AT(T, on_m),                                                                               \
	  .help = "serve Prometheus metrics at http://prometheus-address:prometheus-port/metrics, "         \
		  "never on a public listener" },                                                           \
		{ .name = "prometheus-port",                                                                \
		  .kind = IW_OPT_INT,                                                                       \
		  IW_OPT_AT(T, port_m),                                                                     \
		  .min = 0,                                                                                 \
		  .max = 65535,                                                                             \
		  .def = (port_def),                                                                        \
		  .help = "PORT: metrics port, 0 picks a free one (logged)" },                              \
	{                                                                                                   \
		.name = "prometheus-address", .kind = IW_OPT_STR, .flags = IW_OPT_IP, IW_OPT_AT(T, addr_m), \
		.def = "127.0.0.1", .help = "IP: metrics address"                                           \
	}

/* An error message buffer: "FILE:LINE: option 'name': why" or "option '--name': why". */
enum { IW_CONFIG_ERR_MAX = 512 };
/* The largest secret read through NAME-file. */
enum { IW_CONFIG_SECRET_FILE_MAX = 4096 };

/* Apply every .def of the table to cfg (which the caller zeroed). 0, or -1 with err filled
 * (a default that does not parse is a bug in the table, found by the unit tests). */
int iw_config_defaults(const struct iw_opt *tab, void *cfg, char *err, size_t err_cap);

/* Free the strings and lists of typed options, wiping secrets, and zero those fields. */
void iw_config_free(const struct iw_opt *tab, void *cfg);

/*
 * Parse a config file: one option per line, "name=value", "name value" or "name" (a flag),
 * with optional leading "--", '#' comments and blank lines ignored, surrounding spaces and
 * matching double quotes stripped. Returns 0, or -1 with err filled (file, line, option).
 * Unknown options are errors; IW_OPT_UNSUPPORTED ones are warned about once.
 */
int iw_config_load_file(const struct iw_opt *tab, void *cfg, const char *path, char *err, size_t err_cap);

/*
 * Sources override each other whole: a repeatable option (a list, or a setter with
 * IW_OPT_REPEAT and .clear) given in the environment replaces the file's values, and one given
 * on the command line replaces both; within one source the values add up.
 *
 * Apply the environment (when the table has an env_prefix; see iw_config_load_env), then
 * argv: "--name value", "--name=value", "-x value", flags. Stops at the first non-option
 * argument, whose index is returned through *optind_out (may be NULL).
 * Returns 0 or -1 with err filled.
 */
int iw_config_parse_args(const struct iw_opt *tab, void *cfg, int argc, char **argv, int *optind_out,
			 char *err, size_t err_cap);

/*
 * Apply PREFIX_NAME for every option (NAME upper case, '-' as '_'), and PREFIX_NAME_FILE
 * for secrets. Repeatable options take a whitespace-separated list (secrets: one value).
 * Flags take yes/no. Returns 0 or -1 with err naming the variable and the option.
 */
int iw_config_load_env(const struct iw_opt *tab, void *cfg, char *err, size_t err_cap);

/* Find "-c FILE"/"--config FILE" and "-n" in argv without applying anything, so that the
 * file is loaded first and the command line overrides it. *path is NULL when absent. */
void iw_config_find_file(int argc, char **argv, const char **path, bool *no_file);

/* Print "  -x, --name ARG   help (default D)" lines for a table to stdout, then where the
 * environment and secret files come in. */
void iw_config_print_help(const struct iw_opt *tab);
/* The same as a Markdown table: option, environment variable, default, meaning. */
void iw_config_print_markdown(const struct iw_opt *tab);

/* Value helpers for setters: parse into *out within [min, max]; 0 or -EINVAL with *why. */
int iw_config_int(const char *val, long long min, long long max, long long *out, const char **why);
/* "1/0", "yes/no", "true/false", "on/off"; NULL counts as true (a bare flag). */
int iw_config_bool(const char *val, bool *out, const char **why);

#endif
