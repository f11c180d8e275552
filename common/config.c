/* Options from one typed table per binary: defaults, then a key=value file (turnserver.conf
 * style), then the environment, then argv. Every error names the file and line (or the
 * variable) and the option; no error echoes a value; nothing here exits. */
#include "common/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/log.h"

enum {
	LINE_MAX_LEN = 4096, /* longer lines are an error, not a silent split */
	WARNED_MAX = 128,
	OPTS_MAX = 256, /* entries in a table, terminator included */
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
	if (o->help)
		IW_WARN("option '%s' is not supported by iceway and is ignored: %s", o->name, o->help);
	else
		IW_WARN("option '%s' is not supported by iceway and is ignored", o->name);
}

static const struct iw_opt *find_short(const struct iw_opt *tab, char c)
{
	for (const struct iw_opt *o = tab; o->name; o++)
		if (o->short_name && o->short_name == c)
			return o;
	return NULL;
}

static const struct iw_opt *find_exact(const struct iw_opt *tab, const char *name, size_t len)
{
	for (const struct iw_opt *o = tab; o->name; o++)
		if (strlen(o->name) == len && memcmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

/* The option called name, or for "SECRET-file" the secret with *from_file set. */
static const struct iw_opt *find_long(const struct iw_opt *tab, const char *name, size_t len, bool *from_file)
{
	const struct iw_opt *o = find_exact(tab, name, len);

	*from_file = false;
	if (o || len <= 5 || memcmp(name + len - 5, "-file", 5) != 0)
		return o;
	o = find_exact(tab, name, len - 5);
	if (!o || !(o->flags & IW_OPT_SECRET))
		return NULL;
	*from_file = true;
	return o;
}

static bool is_typed(const struct iw_opt *o)
{
	return o->kind >= IW_OPT_FLAG && o->kind != IW_OPT_ALIAS;
}

/* The option an alias spells (itself otherwise); NULL for a bad table entry. */
static const struct iw_opt *target_of(const struct iw_opt *tab, const struct iw_opt *o)
{
	bool ff;
	if (o->kind != IW_OPT_ALIAS)
		return o;
	if (!o->alias_of)
		return NULL;
	const struct iw_opt *t = find_long(tab, o->alias_of, strlen(o->alias_of), &ff);
	return t && t->kind != IW_OPT_ALIAS ? t : NULL;
}

enum takes { TAKES_NONE, TAKES_REQUIRED, TAKES_OPTIONAL };

/* Whether an option takes a value on the command line or in a file. */
static enum takes takes_value(const struct iw_opt *tab, const struct iw_opt *o)
{
	switch (o->kind) {
	case IW_OPT_NONE:
	case IW_OPT_UNSUPPORTED:
	case IW_OPT_FLAG:
		return TAKES_NONE;
	case IW_OPT_OPTIONAL:
	case IW_OPT_BOOL:
		return TAKES_OPTIONAL;
	case IW_OPT_ALIAS: {
		/* With a fixed value it is a flag that may be turned off: "--log-json=no". */
		const struct iw_opt *t = target_of(tab, o);
		if (o->def || !t)
			return TAKES_OPTIONAL;
		return takes_value(tab, t);
	}
	default:
		return o->bare ? TAKES_OPTIONAL : TAKES_REQUIRED;
	}
}

static void *field(void *cfg, const struct iw_opt *o)
{
	return (char *)cfg + o->off;
}

static void put_uint(void *p, size_t size, unsigned long long v)
{
	switch (size) {
	case 1: {
		uint8_t x = (uint8_t)v;
		memcpy(p, &x, 1);
		break;
	}
	case 2: {
		uint16_t x = (uint16_t)v;
		memcpy(p, &x, 2);
		break;
	}
	case 4: {
		uint32_t x = (uint32_t)v;
		memcpy(p, &x, 4);
		break;
	}
	default: {
		uint64_t x = v;
		memcpy(p, &x, 8);
		break;
	}
	}
}

static char *get_str(void *p)
{
	char *s;
	memcpy(&s, p, sizeof s);
	return s;
}

static void set_ptr(void *p, char *s)
{
	memcpy(p, &s, sizeof s);
}

static void free_str(char *s, bool wipe)
{
	if (s && wipe)
		explicit_bzero(s, strlen(s));
	free(s);
}

/* Reasons built from the table ("must be plain or json"), one per thread. */
static __thread char why_buf[160];

static int enum_index(const struct iw_opt *o, const char *val, unsigned *idx, const char **why)
{
	const char *c = o->choices ? o->choices : "";
	size_t vlen = strlen(val);
	unsigned i = 0;

	for (;;) {
		const char *bar = strchr(c, '|');
		size_t n = bar ? (size_t)(bar - c) : strlen(c);
		if (n == vlen && memcmp(c, val, n) == 0) {
			*idx = i;
			return 0;
		}
		if (!bar)
			break;
		c = bar + 1;
		i++;
	}
	/* "a|b|c" -> "must be a, b or c" */
	size_t w = (size_t)snprintf(why_buf, sizeof why_buf, "must be ");
	c = o->choices ? o->choices : "";
	while (*c && w + 8 < sizeof why_buf) {
		const char *bar = strchr(c, '|');
		size_t n = bar ? (size_t)(bar - c) : strlen(c);
		const char *sep = !bar ? "" : strchr(bar + 1, '|') ? ", " : " or ";
		w += (size_t)snprintf(why_buf + w, sizeof why_buf - w, "%.*s%s", (int)n, c, sep);
		c = bar ? bar + 1 : c + n;
	}
	*why = why_buf;
	return -EINVAL;
}

static int check_str(const struct iw_opt *o, const char *val, const char **why)
{
	size_t n = strlen(val);
	struct iw_addr a;

	if (!n) {
		*why = "empty value";
		return -EINVAL;
	}
	/* .min and .max bound a string's length (a list's are its number of entries). */
	if (o->kind == IW_OPT_STR && o->min > 0 && n < (size_t)o->min) {
		snprintf(why_buf, sizeof why_buf, "must be at least %lld characters", o->min);
		*why = why_buf;
		return -EINVAL;
	}
	if (o->kind == IW_OPT_STR && o->max > 0 && n > (size_t)o->max) {
		snprintf(why_buf, sizeof why_buf, "longer than %lld characters", o->max);
		*why = why_buf;
		return -EINVAL;
	}
	if ((o->flags & IW_OPT_IP) && (iw_addr_parse(&a, val) || a.port)) {
		*why = "not an IPv4 or IPv6 address";
		return -EINVAL;
	}
	if ((o->flags & IW_OPT_HOSTPORT) && (iw_addr_parse(&a, val) || !a.port)) {
		*why = "not an ADDR:PORT";
		return -EINVAL;
	}
	if ((o->flags & IW_OPT_READABLE) && access(val, R_OK) != 0) {
		*why = "cannot read that file";
		return -EINVAL;
	}
	return o->check ? o->check(val, why) : 0;
}

/* Store val (NULL: the bare option) into a typed option's field. */
static int store(const struct iw_opt *o, void *cfg, const char *val, const char **why)
{
	void *p = field(cfg, o);
	long long v;
	unsigned idx;
	bool b;

	if (!val && o->bare)
		val = o->bare;
	switch (o->kind) {
	case IW_OPT_FLAG:
	case IW_OPT_BOOL:
		if (iw_config_bool(val, &b, why))
			return -EINVAL;
		put_uint(p, o->size, b);
		return 0;
	case IW_OPT_INT:
		if (iw_config_int(val, o->min, o->max, &v, why))
			return -EINVAL;
		put_uint(p, o->size, (unsigned long long)v);
		return 0;
	case IW_OPT_DOUBLE: {
		char *end;
		double d = val && *val && !isspace((unsigned char)*val) ? strtod(val, &end) : 0;
		if (!val || !*val || isspace((unsigned char)*val) || *end || d != d) {
			*why = "not a number";
			return -EINVAL;
		}
		if (d < (double)o->min || d > (double)o->max) {
			snprintf(why_buf, sizeof why_buf, "must be from %lld to %lld", o->min, o->max);
			*why = why_buf;
			return -EINVAL;
		}
		memcpy(p, &d, sizeof d);
		return 0;
	}
	case IW_OPT_ENUM:
		if (!val || enum_index(o, val, &idx, why))
			return -EINVAL;
		put_uint(p, o->size, idx);
		return 0;
	case IW_OPT_CIDR: {
		unsigned n;
		memcpy(&n, (char *)cfg + o->count_off, sizeof n);
		if (!val) {
			*why = "missing value";
			return -EINVAL;
		}
		if (n >= (unsigned long long)o->max) {
			snprintf(why_buf, sizeof why_buf, "given too many times (at most %lld)", o->max);
			*why = why_buf;
			return -EINVAL;
		}
		if (iw_cidr_parse((struct iw_cidr *)p + n, val) < 0) {
			*why = "must be an address or a range (10.0.0.0/8, fd00::/8)";
			return -EINVAL;
		}
		n++;
		memcpy((char *)cfg + o->count_off, &n, sizeof n);
		return 0;
	}
	case IW_OPT_STR:
	case IW_OPT_LIST: {
		if (!val) {
			*why = "missing value";
			return -EINVAL;
		}
		if (check_str(o, val, why))
			return -EINVAL;
		unsigned n = 0;
		if (o->kind == IW_OPT_LIST) {
			memcpy(&n, (char *)cfg + o->count_off, sizeof n);
			if (n >= (unsigned long long)o->max) {
				snprintf(why_buf, sizeof why_buf, "given too many times (at most %lld)",
					 o->max);
				*why = why_buf;
				return -EINVAL;
			}
		}
		char *s = strdup(val);
		if (!s) {
			*why = "out of memory";
			return -ENOMEM;
		}
		if (o->kind == IW_OPT_STR) {
			free_str(get_str(p), o->flags & IW_OPT_SECRET);
			set_ptr(p, s);
		} else {
			set_ptr((char *)p + n * sizeof s, s);
			n++;
			memcpy((char *)cfg + o->count_off, &n, sizeof n);
		}
		return 0;
	}
	default:
		*why = "bad option table entry";
		return -EINVAL;
	}
}

/* Run the setter or store a typed value; on failure *why holds the reason. */
static int apply(const struct iw_opt *tab, const struct iw_opt *o, void *cfg, const char *val,
		 const char **why)
{
	*why = NULL;
	if (o->kind == IW_OPT_ALIAS) {
		const struct iw_opt *t = target_of(tab, o);
		if (!t) {
			*why = "bad option table entry";
			return -1;
		}
		if (o->def && val) {
			bool on;
			if (iw_config_bool(val, &on, why))
				return -1;
			if (!on)
				return 0;
		}
		return apply(tab, t, cfg, o->def ? o->def : val, why);
	}
	if (is_typed(o) ? store(o, cfg, val, why) < 0 : o->set && o->set(cfg, val, why) < 0) {
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
static int apply_checked(const struct iw_opt *tab, const struct iw_opt *o, void *cfg, const char *val,
			 bool has_val, const char **why)
{
	if (o->kind == IW_OPT_UNSUPPORTED || o->kind == IW_OPT_UNSUPPORTED_ARG) {
		warn_unsupported(o);
		return 0;
	}
	switch (takes_value(tab, o)) {
	case TAKES_NONE:
		if (has_val) {
			*why = "does not take a value";
			return -1;
		}
		return apply(tab, o, cfg, NULL, why);
	case TAKES_REQUIRED:
		if (!has_val) {
			*why = "missing value";
			return -1;
		}
		return apply(tab, o, cfg, val, why);
	case TAKES_OPTIONAL:
		return apply(tab, o, cfg, has_val ? val : NULL, why);
	}
	*why = "bad option table entry";
	return -1;
}

/*
 * Read a secret from path for option o: at most IW_CONFIG_SECRET_FILE_MAX bytes, one trailing
 * newline ("\n" or "\r\n") stripped. The copy on the stack is wiped. 0 or -1 with *why.
 */
static int apply_secret_file(const struct iw_opt *tab, const struct iw_opt *o, void *cfg, const char *path,
			     const char **why)
{
	char buf[IW_CONFIG_SECRET_FILE_MAX + 2];
	size_t n = 0;
	int ret = -1;

	if (!path || !*path) {
		*why = "missing value";
		return -1;
	}
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(why_buf, sizeof why_buf, "cannot read %.100s: %s", path, strerror(errno));
		*why = why_buf;
		return -1;
	}
	n = fread(buf, 1, sizeof buf - 1, f);
	if (ferror(f)) {
		snprintf(why_buf, sizeof why_buf, "cannot read %.100s: %s", path, strerror(errno));
		*why = why_buf;
		goto out;
	}
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n > IW_CONFIG_SECRET_FILE_MAX) {
		snprintf(why_buf, sizeof why_buf, "%.100s is longer than %d bytes", path,
			 IW_CONFIG_SECRET_FILE_MAX);
		*why = why_buf;
		goto out;
	}
	buf[n] = '\0';
	if (memchr(buf, '\0', n) || memchr(buf, '\n', n)) {
		snprintf(why_buf, sizeof why_buf, "%.100s holds more than one line", path);
		*why = why_buf;
		goto out;
	}
	if (n == 0) {
		snprintf(why_buf, sizeof why_buf, "%.100s is empty", path);
		*why = why_buf;
		goto out;
	}
	ret = apply(tab, o, cfg, buf, why);
out:
	explicit_bzero(buf, sizeof buf);
	fclose(f);
	return ret;
}

/* Which repeatable options the current source has given: the first value clears the
 * earlier sources' ones. NULL for a config file, the first source. */
struct source {
	bool seen[OPTS_MAX];
};

static void free_list(const struct iw_opt *o, void *cfg)
{
	void *p = field(cfg, o);
	unsigned n;

	memcpy(&n, (char *)cfg + o->count_off, sizeof n);
	for (unsigned i = 0; i < n; i++) {
		free_str(get_str((char *)p + i * sizeof(char *)), o->flags & IW_OPT_SECRET);
		set_ptr((char *)p + i * sizeof(char *), NULL);
	}
	n = 0;
	memcpy((char *)cfg + o->count_off, &n, sizeof n);
}

static void replace_once(const struct iw_opt *tab, const struct iw_opt *o, void *cfg, struct source *src)
{
	const struct iw_opt *t = target_of(tab, o);
	size_t i;

	if (!src || !t)
		return;
	i = (size_t)(t - tab);
	if (i >= OPTS_MAX || src->seen[i])
		return;
	src->seen[i] = true;
	if (t->kind == IW_OPT_LIST) {
		free_list(t, cfg);
	} else if (t->kind == IW_OPT_CIDR) {
		unsigned zero = 0;
		memcpy((char *)cfg + t->count_off, &zero, sizeof zero);
	} else if ((t->flags & IW_OPT_REPEAT) && t->clear)
		t->clear(cfg);
}

/* apply_checked for "name" or, with from_file, "name-file PATH". */
static int apply_named(const struct iw_opt *tab, const struct iw_opt *o, bool from_file, void *cfg,
		       const char *val, bool has_val, struct source *src, const char **why)
{
	if (o->kind != IW_OPT_UNSUPPORTED && o->kind != IW_OPT_UNSUPPORTED_ARG)
		replace_once(tab, o, cfg, src);
	if (!from_file)
		return apply_checked(tab, o, cfg, val, has_val, why);
	if (!has_val) {
		*why = "missing value";
		return -1;
	}
	return apply_secret_file(tab, o, cfg, val, why);
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
		bool from_file;
		const struct iw_opt *o = find_long(tab, name, strlen(name), &from_file);
		if (!o) {
			snprintf(err, err_cap, "%s:%u: unknown option '%s'", path, lineno, name);
			goto out;
		}
		if (apply_named(tab, o, from_file, cfg, val, has_val, NULL, &why) < 0) {
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
	return len == 6 && memcmp(name, "config", 6) == 0 && !find_exact(tab, name, len);
}

static const char *env_prefix(const struct iw_opt *tab)
{
	const struct iw_opt *o = tab;
	while (o->name)
		o++;
	return o->env_prefix;
}

int iw_config_parse_args(const struct iw_opt *tab, void *cfg, int argc, char **argv, int *optind_out,
			 char *err, size_t err_cap)
{
	int i = 1;
	int ret = -1;
	struct source *src = calloc(1, sizeof *src);

	if (!src) {
		snprintf(err, err_cap, "out of memory");
		i = 0;
		goto out;
	}
	if (env_prefix(tab) && iw_config_load_env(tab, cfg, err, err_cap) < 0) {
		i = 0;
		goto out;
	}
	for (; i < argc; i++) {
		const char *arg = argv[i];
		const char *val = NULL;
		const struct iw_opt *o;
		const char *why = NULL;
		bool has_val = false, from_file = false;
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
			o = find_long(tab, name, len, &from_file);
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
		if (!has_val &&
		    (from_file || o->kind == IW_OPT_UNSUPPORTED_ARG ||
		     (o->kind != IW_OPT_UNSUPPORTED && takes_value(tab, o) == TAKES_REQUIRED)) &&
		    i + 1 < argc) {
			val = argv[++i];
			has_val = true;
		}
		if (o->kind == IW_OPT_UNSUPPORTED)
			has_val = false; /* "--x=1" for an ignored flag is ignored too */
		if (apply_named(tab, o, from_file, cfg, val, has_val, src, &why) < 0) {
			snprintf(err, err_cap, "option '%s': %s", shown, why);
			goto out;
		}
	}
	ret = 0;
out:
	free(src);
	if (optind_out)
		*optind_out = i;
	return ret;
}

/* "ICEWAY_RELAY_" + "static-auth-secret" + "_FILE" -> ICEWAY_RELAY_STATIC_AUTH_SECRET_FILE */
static void env_name(char *buf, size_t cap, const char *prefix, const char *name, const char *suffix)
{
	size_t n = (size_t)snprintf(buf, cap, "%s", prefix);
	for (const char *p = name; *p && n + 1 < cap; p++)
		buf[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
	buf[n < cap ? n : cap - 1] = '\0';
	snprintf(buf + strlen(buf), cap - strlen(buf), "%s", suffix);
}

static bool env_reads(const struct iw_opt *o)
{
	return !(o->flags & IW_OPT_NOENV) && o->kind != IW_OPT_UNSUPPORTED &&
	       o->kind != IW_OPT_UNSUPPORTED_ARG && o->kind != IW_OPT_ALIAS;
}

/* One variable's value: a flag takes yes/no, a repeatable option a whitespace-separated list. */
static int apply_env(const struct iw_opt *tab, const struct iw_opt *o, void *cfg, const char *val,
		     const char **why)
{
	if (o->kind == IW_OPT_FLAG)
		return apply(tab, o, cfg, val, why); /* "no" turns off what the file turned on */
	if (takes_value(tab, o) == TAKES_NONE) {
		bool b;
		if (iw_config_bool(val, &b, why))
			return -1;
		return b ? apply(tab, o, cfg, NULL, why) : 0;
	}
	bool split = (o->kind == IW_OPT_LIST || o->kind == IW_OPT_CIDR || (o->flags & IW_OPT_REPEAT)) &&
		     !(o->flags & IW_OPT_SECRET);
	if (!split)
		return apply(tab, o, cfg, val, why);
	char *copy = strdup(val), *save = NULL;
	int ret = 0;
	if (!copy) {
		*why = "out of memory";
		return -1;
	}
	for (char *t = strtok_r(copy, " \t\n", &save); t && ret == 0; t = strtok_r(NULL, " \t\n", &save))
		ret = apply(tab, o, cfg, t, why);
	free(copy);
	return ret;
}

int iw_config_load_env(const struct iw_opt *tab, void *cfg, char *err, size_t err_cap)
{
	const char *prefix = env_prefix(tab);
	char var[128];
	int ret = -1;
	struct source *src = NULL;

	if (!prefix)
		return 0;
	src = calloc(1, sizeof *src);
	if (!src) {
		snprintf(err, err_cap, "out of memory");
		return -1;
	}
	for (const struct iw_opt *o = tab; o->name; o++) {
		const char *why = NULL, *val;

		if (o->kind == IW_OPT_ALIAS && !o->def && !(o->flags & IW_OPT_NOENV)) {
			/* An old spelling that takes a value still works in the environment. */
			const struct iw_opt *t = target_of(tab, o);
			env_name(var, sizeof var, prefix, o->name, "");
			val = getenv(var);
			if (t && val && *val) {
				replace_once(tab, t, cfg, src);
				if (apply_env(tab, t, cfg, val, &why) < 0)
					goto fail;
			}
			continue;
		}
		if (!env_reads(o))
			continue;
		env_name(var, sizeof var, prefix, o->name, "");
		val = getenv(var);
		if (val && *val) {
			replace_once(tab, o, cfg, src);
			if (apply_env(tab, o, cfg, val, &why) < 0)
				goto fail;
		}
		if (!(o->flags & IW_OPT_SECRET))
			continue;
		env_name(var, sizeof var, prefix, o->name, "_FILE");
		val = getenv(var);
		if (val && *val) {
			replace_once(tab, o, cfg, src);
			if (apply_secret_file(tab, o, cfg, val, &why) < 0)
				goto fail;
		}
		continue;
	fail:
		snprintf(err, err_cap, "environment %s: option '%s': %s", var, o->name, why);
		goto out;
	}
	ret = 0;
out:
	free(src);
	return ret;
}

int iw_config_defaults(const struct iw_opt *tab, void *cfg, char *err, size_t err_cap)
{
	size_t n = 0;

	while (tab[n].name)
		n++;
	if (n >= OPTS_MAX) { /* struct source tracks at most this many */
		snprintf(err, err_cap, "option table longer than %d entries", OPTS_MAX - 1);
		return -1;
	}
	for (const struct iw_opt *o = tab; o->name; o++) {
		const char *why = NULL;
		if (!o->def || o->kind == IW_OPT_ALIAS || o->kind == IW_OPT_UNSUPPORTED ||
		    o->kind == IW_OPT_UNSUPPORTED_ARG)
			continue;
		if (apply(tab, o, cfg, o->def, &why) < 0) {
			snprintf(err, err_cap, "default of option '%s': %s", o->name, why);
			return -1;
		}
	}
	return 0;
}

void iw_config_free(const struct iw_opt *tab, void *cfg)
{
	for (const struct iw_opt *o = tab; o->name; o++) {
		void *p = field(cfg, o);
		if (o->kind == IW_OPT_STR) {
			free_str(get_str(p), o->flags & IW_OPT_SECRET);
			set_ptr(p, NULL);
		} else if (o->kind == IW_OPT_LIST) {
			free_list(o, cfg);
		}
	}
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

static bool shown_in_help(const struct iw_opt *o)
{
	return o->kind != IW_OPT_UNSUPPORTED && o->kind != IW_OPT_UNSUPPORTED_ARG &&
	       !(o->flags & IW_OPT_HIDDEN);
}

/* One option as --help and the README show it. */
struct opt_text {
	char left[128];   /* "--name ARG", "--name[=ARG]" */
	char argname[48]; /* "ARG" */
	const char *help; /* without the "ARG: " */
	const char *def;  /* NULL when none */
	char aliases[96]; /* "--log-json" */
};

static void describe(const struct iw_opt *tab, const struct iw_opt *o, struct opt_text *t)
{
	const char *help = o->help ? o->help : "";
	enum takes tv = takes_value(tab, o);

	t->argname[0] = '\0';
	if (tv != TAKES_NONE) {
		/* "ARG: text" names the value; an enum shows its choices; otherwise VALUE. */
		const char *colon = strstr(help, ": ");
		size_t n = colon ? (size_t)(colon - help) : 0;
		bool named = n > 0 && n < sizeof t->argname;
		for (size_t k = 0; named && k < n; k++)
			if (!isupper((unsigned char)help[k]) && !isdigit((unsigned char)help[k]) &&
			    !strchr("_-[]/:.,", help[k]))
				named = false;
		if (named) {
			memcpy(t->argname, help, n);
			t->argname[n] = '\0';
			help = colon + 2;
		} else if (o->kind == IW_OPT_ENUM) {
			snprintf(t->argname, sizeof t->argname, "%s", o->choices);
		} else if (o->kind == IW_OPT_INT) {
			snprintf(t->argname, sizeof t->argname, "N");
		} else {
			snprintf(t->argname, sizeof t->argname, "VALUE");
		}
	}
	if (tv == TAKES_NONE || o->kind == IW_OPT_BOOL || (o->kind == IW_OPT_ALIAS && o->def))
		snprintf(t->left, sizeof t->left, "--%s", o->name);
	else if (tv == TAKES_OPTIONAL)
		snprintf(t->left, sizeof t->left, "--%s[=%s]", o->name, t->argname);
	else
		snprintf(t->left, sizeof t->left, "--%s %s", o->name, t->argname);
	t->help = help;
	t->def = o->def_doc ? o->def_doc : o->def;
	if (o->kind == IW_OPT_FLAG || o->kind == IW_OPT_BOOL || o->kind == IW_OPT_ALIAS)
		t->def = NULL;
	t->aliases[0] = '\0';
	for (const struct iw_opt *a = tab; a->name; a++) {
		size_t w = strlen(t->aliases);
		if (a->kind == IW_OPT_ALIAS && (a->flags & IW_OPT_HIDDEN) && a->alias_of &&
		    !strcmp(a->alias_of, o->name))
			snprintf(t->aliases + w, sizeof t->aliases - w, "%s--%s", w ? ", " : "", a->name);
	}
}

void iw_config_print_help(const struct iw_opt *tab)
{
	const char *prefix = env_prefix(tab);
	bool any_secret = false;

	for (const struct iw_opt *o = tab; o->name; o++) {
		struct opt_text t;
		char left[160], shortpart[8] = "    ";

		if (!shown_in_help(o))
			continue;
		describe(tab, o, &t);
		if (o->short_name)
			snprintf(shortpart, sizeof shortpart, "-%c, ", o->short_name);
		snprintf(left, sizeof left, "%s%s", shortpart, t.left);
		printf("  %-34s %s", left, t.help);
		if (t.def)
			printf(" (default %s)", t.def);
		if (t.aliases[0])
			printf(" (also %s)", t.aliases);
		printf("\n");
		if (o->flags & IW_OPT_SECRET) {
			snprintf(left, sizeof left, "    --%s-file FILE", o->name);
			printf("  %-34s read %s from FILE\n", left, o->name);
			any_secret = true;
		}
	}
	if (prefix)
		printf("Any option can also be given in the environment as %sNAME (NAME in upper case, '-' "
		       "as "
		       "'_'): file < environment < command line.\n",
		       prefix);
	if (any_secret)
		printf("A secret is better read from a file (NAME-file FILE%s) than given on a command "
		       "line.\n",
		       prefix ? ", or the variable ..._FILE" : "");
}

/* A Markdown table cell: '|' escaped. */
static void md_cell(const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			putchar('\\');
		putchar(*s);
	}
}

void iw_config_print_markdown(const struct iw_opt *tab)
{
	const char *prefix = env_prefix(tab);
	char var[128];

	printf("| Option | Environment | Default | Meaning |\n|---|---|---|---|\n");
	for (const struct iw_opt *o = tab; o->name; o++) {
		struct opt_text t;

		if (!shown_in_help(o))
			continue;
		describe(tab, o, &t);
		printf("| ");
		if (o->short_name)
			printf("`-%c`, ", o->short_name);
		printf("`");
		md_cell(t.left);
		printf("` | ");
		if (prefix && env_reads(o)) {
			env_name(var, sizeof var, prefix, o->name, "");
			printf("`%s`", var);
		}
		printf(" | ");
		if (t.def)
			md_cell(t.def);
		printf(" | ");
		md_cell(t.help);
		if (t.aliases[0])
			printf(" (also %s)", t.aliases);
		printf(" |\n");
		if (o->flags & IW_OPT_SECRET) {
			printf("| `--%s-file FILE` | ", o->name);
			if (prefix && env_reads(o)) {
				env_name(var, sizeof var, prefix, o->name, "_FILE");
				printf("`%s`", var);
			}
			printf(" | | read %s from FILE (one line) |\n", o->name);
		}
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
