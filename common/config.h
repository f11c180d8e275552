/* Options on the command line and in a key=value config file (coturn's turnserver.conf
 * style), from one table per binary. A bad value fails start-up naming the file, line and
 * option; an option the binary does not support is warned about once, by name. */
#ifndef IW_COMMON_CONFIG_H
#define IW_COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum iw_opt_arg {
	IW_OPT_NONE,            /* a flag: "--verbose", "verbose" in a file */
	IW_OPT_REQUIRED,        /* "--realm X", "--realm=X", "realm=X", "realm X" */
	IW_OPT_OPTIONAL,        /* "--prometheus" or "--prometheus=1" (value only with '=') */
	IW_OPT_UNSUPPORTED,     /* known coturn option that iceway ignores: warned once */
	IW_OPT_UNSUPPORTED_ARG, /* the same, but it takes a value that must be skipped */
};

/*
 * Set an option on cfg. val is NULL for IW_OPT_NONE (and IW_OPT_OPTIONAL without a value).
 * Returns 0, or < 0 with *why set to a short reason ("not a number", "must be 1-65535").
 */
typedef int (*iw_opt_set_fn)(void *cfg, const char *val, const char **why);

struct iw_opt {
	const char *name; /* long name, without dashes */
	char short_name;  /* 0 when none */
	enum iw_opt_arg arg;
	iw_opt_set_fn set;
	const char *help; /* one line, for --help; "ARG: text" names the value */
};

/* An error message buffer: "FILE:LINE: option 'name': why" or "option '--name': why". */
enum { IW_CONFIG_ERR_MAX = 512 };

/*
 * Parse a config file: one option per line, "name=value", "name value" or "name" (a flag),
 * with optional leading "--", '#' comments and blank lines ignored, surrounding spaces and
 * matching double quotes stripped. Returns 0, or -1 with err filled (file, line, option).
 * Unknown options are errors; IW_OPT_UNSUPPORTED ones are warned about once.
 */
int iw_config_load_file(const struct iw_opt *tab, void *cfg, const char *path, char *err, size_t err_cap);

/*
 * Parse argv: "--name value", "--name=value", "-x value", flags. Stops at the first
 * non-option argument, whose index is returned through *optind_out (may be NULL).
 * Returns 0 or -1 with err filled.
 */
int iw_config_parse_args(const struct iw_opt *tab, void *cfg, int argc, char **argv, int *optind_out,
			 char *err, size_t err_cap);

/* Find "-c FILE"/"--config FILE" and "-n" in argv without applying anything, so that the
 * file is loaded first and the command line overrides it. *path is NULL when absent. */
void iw_config_find_file(int argc, char **argv, const char **path, bool *no_file);

/* Print "  --name ARG   help" lines for a table to stdout. */
void iw_config_print_help(const struct iw_opt *tab);

/* Value helpers for setters: parse into *out within [min, max]; 0 or -EINVAL with *why. */
int iw_config_int(const char *val, long long min, long long max, long long *out, const char **why);
/* "1/0", "yes/no", "true/false", "on/off"; NULL counts as true (a bare flag). */
int iw_config_bool(const char *val, bool *out, const char **why);

#endif
