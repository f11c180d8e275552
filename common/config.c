/* Options from one table per binary, applied from a key=value file (turnserver.conf style) and
 * then from argv. Every error names the file, line and option; nothing here exits. */
#include "common/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

enum {
	LINE_MAX_LEN = 4096, /* longer lines are an error, not a silent split */
	WARNED_MAX = 128,
};

/* Unsupported options already warned about, so each is reported once per process. */
static const struct iw_opt *warned[WARNED_MAX];
static size_t n_warned;

static void warn_unsupported(const struct iw_opt *o)
{
	for (size_t i = 0; i < n_warned; i++)
		if (warned[i] == o)
			return;
	if (n_warned < WARNED_MAX)
		warned[n_warned++] = o;
	IW_WARN("option '%s' is not supported by iceway and is ignored", o->name);
}

static const struct iw_opt *find_long(const struct iw_opt *tab, const char *name, size_t len)
{
	for (const struct iw_opt *o = tab; o->name; o++)
		if (strlen(o->name) == len && memcmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

static const struct iw_opt *find_short(const struct iw_opt *tab, char c)
{
	for (const struct iw_opt *o = tab; o->name; o++)
		if (o->short_name && o->short_name == c)
			return o;
	return NULL;
}

/* Run the setter; on failure *why holds the reason. */
static int apply(const struct iw_opt *o, void *cfg, const char *val, const char **why)
{
	*why = NULL;
	if (!o->set)
		return 0;
	if (o->set(cfg, val, why) < 0) {
		if (!*why)
			*why = "invalid value";
		return -1;
	}
	return 0;
}

/*
 * Check the value against the option's kind and apply it. has_val says a value was written
 * (even an empty quoted one). Returns 0 or -1 with *why set.
 */
static int apply_checked(const struct iw_opt *o, void *cfg, const char *val, bool has_val, const char **why)
{
	switch (o->arg) {
	case IW_OPT_UNSUPPORTED:
	case IW_OPT_UNSUPPORTED_ARG:
		warn_unsupported(o);
		return 0;
	case IW_OPT_NONE:
		if (has_val) {
			*why = "does not take a value";
			return -1;
		}
		return apply(o, cfg, NULL, why);
	case IW_OPT_REQUIRED:
		if (!has_val) {
			*why = "missing value";
			return -1;
		}
		return apply(o, cfg, val, why);
	case IW_OPT_OPTIONAL:
		return apply(o, cfg, has_val ? val : NULL, why);
	}
	*why = "bad option table entry";
	return -1;
}

/* Read one line into buf (without the newline). Returns the length, -1 at EOF, -2 when the
 * line is longer than LINE_MAX_LEN, -3 for a NUL byte. The rest of a bad line is consumed. */
static int read_line(FILE *f, char *buf)
{
	size_t n = 0;
	int c, err = 0;

	while ((c = getc(f)) != EOF && c != '\n') {
		if (c == '\0')
			err = -3;
		else if (n >= LINE_MAX_LEN)
			err = err ? err : -2;
		else
			buf[n++] = (char)c;
	}
	if (c == EOF && n == 0 && !err)
		return -1;
	buf[n] = '\0';
	return err ? err : (int)n;
}

static char *skip_space(char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/*
 * Split a file line into name and value in place. Comments start at '#' at the line start or
 * after whitespace, outside double quotes. Returns 0 (name empty for a blank line) or -1 with
 * *why set.
 */
static int split_line(char *line, char **name, char **val, bool *has_val, const char **why)
{
	char *p = skip_space(line);
	bool in_quote = false;

	/* Cut the comment and the line end first. */
	for (char *q = p; *q; q++) {
		if (*q == '"')
			in_quote = !in_quote;
		else if (*q == '#' && !in_quote && (q == p || q[-1] == ' ' || q[-1] == '\t')) {
			*q = '\0';
			break;
		}
	}
	size_t len = strlen(p);
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r'))
		p[--len] = '\0';

	*name = p;
	*val = NULL;
	*has_val = false;
	if (p[0] == '-' && p[1] == '-')
		*name = p = p + 2;
	while (*p && *p != '=' && *p != ' ' && *p != '\t')
		p++;
	if (!*p)
		return 0;
	char *sep = p;
	p = skip_space(p);
	if (*p == '=')
		p = skip_space(p + 1);
	*sep = '\0';
	if (!*p)
		return 0; /* "name=" is as good as no value */
	len = strlen(p);
	if (p[0] == '"') {
		if (len < 2 || p[len - 1] != '"') {
			*why = "unterminated quote";
			return -1;
		}
		p[len - 1] = '\0';
		p++;
	}
	*val = p;
	*has_val = true;
	return 0;
}

int iw_config_load_file(const struct iw_opt *tab, void *cfg, const char *path, char *err, size_t err_cap)
{
	char line[LINE_MAX_LEN + 1];
	unsigned lineno = 0;
	int ret = -1;
	FILE *f = fopen(path, "r");

	if (!f) {
		snprintf(err, err_cap, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		char *name, *val;
		bool has_val;
		const char *why = NULL;
		int n = read_line(f, line);

		lineno++;
		if (n == -1)
			break;
		if (n == -2) {
			snprintf(err, err_cap, "%s:%u: line longer than %d bytes", path, lineno,
				 LINE_MAX_LEN);
			goto out;
		}
		if (n == -3) {
			snprintf(err, err_cap, "%s:%u: line contains a NUL byte", path, lineno);
			goto out;
		}
		if (split_line(line, &name, &val, &has_val, &why) < 0) {
			snprintf(err, err_cap, "%s:%u: option '%s': %s", path, lineno, name, why);
			goto out;
		}
		if (!*name)
			continue;
		const struct iw_opt *o = find_long(tab, name, strlen(name));
		if (!o) {
			snprintf(err, err_cap, "%s:%u: unknown option '%s'", path, lineno, name);
			goto out;
		}
		if (apply_checked(o, cfg, val, has_val, &why) < 0) {
			snprintf(err, err_cap, "%s:%u: option '%s': %s", path, lineno, name, why);
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(err, err_cap, "%s: read error", path);
		goto out;
	}
	ret = 0;
out:
	fclose(f);
	return ret;
}

/* Options that iw_config_find_file handles, when the binary's table does not list them. */
static bool is_file_opt(const struct iw_opt *tab, const char *name, size_t len, char short_name)
{
	if (short_name)
		return (short_name == 'c' || short_name == 'n') && !find_short(tab, short_name);
	return len == 6 && memcmp(name, "config", 6) == 0 && !find_long(tab, name, len);
}

int iw_config_parse_args(const struct iw_opt *tab, void *cfg, int argc, char **argv, int *optind_out,
			 char *err, size_t err_cap)
{
	int i = 1;
	int ret = -1;

	for (; i < argc; i++) {
		const char *arg = argv[i];
		const char *val = NULL;
		const struct iw_opt *o;
		const char *why = NULL;
		bool has_val = false;
		char shown[80]; /* "--name" or "-x" for messages */

		if (!arg || arg[0] != '-' || arg[1] == '\0')
			break;
		if (strcmp(arg, "--") == 0) {
			i++;
			break;
		}
		if (arg[1] == '-') {
			const char *name = arg + 2;
			const char *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			snprintf(shown, sizeof shown, "--%.*s", (int)(len > 64 ? 64 : len), name);
			if (is_file_opt(tab, name, len, 0)) {
				if (!eq)
					i++; /* its FILE argument */
				continue;
			}
			o = find_long(tab, name, len);
			if (!o) {
				snprintf(err, err_cap, "unknown option '%s'", shown);
				goto out;
			}
			if (eq) {
				val = eq + 1;
				has_val = true;
			}
		} else {
			snprintf(shown, sizeof shown, "-%c", arg[1]);
			if (is_file_opt(tab, NULL, 0, arg[1])) {
				if (arg[1] == 'c' && arg[2] == '\0')
					i++;
				continue;
			}
			o = find_short(tab, arg[1]);
			if (!o) {
				snprintf(err, err_cap, "unknown option '%s'", shown);
				goto out;
			}
			if (arg[2]) {
				val = arg + 2;
				has_val = true;
			}
		}
		/* A required value may be the next argument; an optional one only follows '='. */
		if (!has_val && (o->arg == IW_OPT_REQUIRED || o->arg == IW_OPT_UNSUPPORTED_ARG) &&
		    i + 1 < argc) {
			val = argv[++i];
			has_val = true;
		}
		if (o->arg == IW_OPT_UNSUPPORTED)
			has_val = false; /* "--x=1" for an ignored flag is ignored too */
		if (apply_checked(o, cfg, val, has_val, &why) < 0) {
			snprintf(err, err_cap, "option '%s': %s", shown, why);
			goto out;
		}
	}
	ret = 0;
out:
	if (optind_out)
		*optind_out = i;
	return ret;
}

void iw_config_find_file(int argc, char **argv, const char **path, bool *no_file)
{
	*path = NULL;
	*no_file = false;
	for (int i = 1; i < argc && argv[i]; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0)
			break;
		if (strcmp(a, "-n") == 0 || strcmp(a, "--no-config") == 0) {
			*no_file = true;
		} else if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (i + 1 < argc)
				*path = argv[++i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			*path = a + 9;
		} else if (strncmp(a, "-c", 2) == 0 && a[2]) {
			*path = a + 2;
		}
	}
}

void iw_config_print_help(const struct iw_opt *tab)
{
	for (const struct iw_opt *o = tab; o->name; o++) {
		const char *help = o->help ? o->help : "";
		char left[96];
		char argname[32] = "";

		if (o->arg == IW_OPT_UNSUPPORTED || o->arg == IW_OPT_UNSUPPORTED_ARG)
			continue;
		if (o->arg != IW_OPT_NONE) {
			/* "ARG: text" names the value; otherwise call it VALUE. */
			const char *colon = strstr(help, ": ");
			size_t n = colon ? (size_t)(colon - help) : 0;
			bool named = n > 0 && n < sizeof argname;
			for (size_t k = 0; named && k < n; k++)
				if (!isupper((unsigned char)help[k]) && help[k] != '_' && help[k] != '-' &&
				    !isdigit((unsigned char)help[k]))
					named = false;
			if (named) {
				memcpy(argname, help, n);
				argname[n] = '\0';
				help = colon + 2;
			} else {
				snprintf(argname, sizeof argname, "VALUE");
			}
		}
		char shortpart[8] = "    ";
		if (o->short_name)
			snprintf(shortpart, sizeof shortpart, "-%c, ", o->short_name);
		if (o->arg == IW_OPT_NONE)
			snprintf(left, sizeof left, "%s--%s", shortpart, o->name);
		else if (o->arg == IW_OPT_OPTIONAL)
			snprintf(left, sizeof left, "%s--%s[=%s]", shortpart, o->name, argname);
		else
			snprintf(left, sizeof left, "%s--%s %s", shortpart, o->name, argname);
		printf("  %-34s %s\n", left, help);
	}
}

int iw_config_int(const char *val, long long min, long long max, long long *out, const char **why)
{
	static __thread char range_why[80];
	char *end;
	long long v;

	if (!val || !*val || isspace((unsigned char)*val)) {
		*why = "not a number";
		return -EINVAL;
	}
	errno = 0;
	v = strtoll(val, &end, 10);
	if (*end != '\0') {
		*why = "not a number";
		return -EINVAL;
	}
	if (errno == ERANGE || v < min || v > max) {
		if (min >= 0)
			snprintf(range_why, sizeof range_why, "must be %lld-%lld", min, max);
		else
			snprintf(range_why, sizeof range_why, "must be from %lld to %lld", min, max);
		*why = range_why;
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int iw_config_bool(const char *val, bool *out, const char **why)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };

	if (!val) {
		*out = true;
		return 0;
	}
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(val, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(val, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	*why = "must be yes or no";
	return -EINVAL;
}
