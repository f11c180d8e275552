/* iceway-relay admin: the command-line client of the relay's admin API (turn/admin.h). Each
 * subcommand is one request through common/admin_client; the answer's JSON goes to stdout. */
#include "turn/admin_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/admin_client.h"
#include "common/http.h"

static const char usage[] =
	"usage: iceway-relay admin [--url http://HOST:PORT] [--token-file FILE] [--timeout S] COMMAND\n"
	"The relay's admin API (admin-token, on the prometheus listener). Commands:\n"
	"  status                          version, uptime, workers, allocations, capacity, draining\n"
	"  sessions [--user U] [--client IP[:PORT]]\n"
	"                                  list allocations (JSON)\n"
	"  session ID                      one allocation\n"
	"  kill ID                         end an allocation now\n"
	"  kill-user U                     end every allocation of user U\n"
	"  revoke U SECONDS                end U's allocations and refuse new ones for SECONDS\n"
	"  unrevoke U                      lift a revocation\n"
	"--url defaults to $ICEWAY_RELAY_ADMIN_URL, else http://127.0.0.1:9641; --token-file to\n"
	"$ICEWAY_RELAY_ADMIN_TOKEN_FILE. Exit status: 0 on a 2xx answer, 1 on another HTTP status,\n"
	"2 on bad usage, 3 when the relay cannot be reached.\n";

static int bad_usage(const char *what)
{
	if (what)
		fprintf(stderr, "iceway-relay admin: %s\n", what);
	fputs(usage, stderr);
	return IW_ADMIN_EXIT_USAGE;
}

/* append "name=VALUE" (percent-encoded) to a query string under construction */
static bool add_param(char *q, size_t cap, const char *name, const char *value)
{
	char enc[3 * 256 + 1];
	size_t n = strlen(q);
	if (iw_http_pct_encode(value, enc, sizeof enc) < 0)
		return false;
	int w = snprintf(q + n, cap - n, "%s%s=%s", n ? "&" : "?", name, enc);
	return w > 0 && (size_t)w < cap - n;
}

/* The request for a subcommand: method and target. 0, or a usage error's message. */
static const char *build(int argc, char **argv, const char **method, char *target, size_t cap)
{
	char enc[3 * 256 + 1], q[2 * sizeof enc + 32] = "";
	const char *cmd = argv[0];
	if (!strcmp(cmd, "status") && argc == 1) {
		*method = "GET";
		snprintf(target, cap, "/admin/status");
		return NULL;
	}
	if (!strcmp(cmd, "sessions")) {
		for (int i = 1; i < argc; i += 2) {
			if (i + 1 >= argc || (strcmp(argv[i], "--user") && strcmp(argv[i], "--client")))
				return "sessions takes --user U and --client IP";
			if (!add_param(q, sizeof q, argv[i] + 2, argv[i + 1]))
				return "value too long";
		}
		*method = "GET";
		snprintf(target, cap, "/admin/sessions%s", q);
		return NULL;
	}
	if ((!strcmp(cmd, "kill") || !strcmp(cmd, "session")) && argc == 2) {
		if (strlen(argv[1]) == 0 || strlen(argv[1]) > 16 ||
		    strspn(argv[1], "0123456789abcdefABCDEF") != strlen(argv[1]))
			return "a session id is 16 hex digits";
		*method = cmd[0] == 'k' ? "DELETE" : "GET";
		snprintf(target, cap, "/admin/sessions/%s", argv[1]);
		return NULL;
	}
	if (!strcmp(cmd, "kill-user") && argc == 2) {
		if (!add_param(q, sizeof q, "user", argv[1]))
			return "user too long";
		*method = "DELETE";
		snprintf(target, cap, "/admin/sessions%s", q);
		return NULL;
	}
	if ((!strcmp(cmd, "revoke") && argc == 3) || (!strcmp(cmd, "unrevoke") && argc == 2)) {
		if (!*argv[1] || iw_http_pct_encode(argv[1], enc, sizeof enc) < 0)
			return "bad user";
		if (argc == 3 && (!*argv[2] || strspn(argv[2], "0123456789") != strlen(argv[2])))
			return "SECONDS is a number";
		*method = argc == 3 ? "POST" : "DELETE";
		snprintf(target, cap, "/admin/users/%s/revoke%s%s", enc, argc == 3 ? "?seconds=" : "",
			 argc == 3 ? argv[2] : "");
		return NULL;
	}
	return "unknown command or wrong arguments";
}

int iw_admin_cli_main(int argc, char **argv)
{
	const char *url = getenv("ICEWAY_RELAY_ADMIN_URL"), *token = getenv("ICEWAY_RELAY_ADMIN_TOKEN_FILE");
	const char *method = NULL, *why = NULL;
	char target[4096];
	long timeout_s = 0;
	int i = 1;
	if (!url || !*url)
		url = "http://127.0.0.1:9641";
	for (; i < argc && !strncmp(argv[i], "--", 2); i += 2) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage, stdout);
			return IW_ADMIN_EXIT_OK;
		}
		if (i + 1 >= argc)
			return bad_usage("an option needs a value");
		if (!strcmp(argv[i], "--url"))
			url = argv[i + 1];
		else if (!strcmp(argv[i], "--token-file"))
			token = argv[i + 1];
		else if (!strcmp(argv[i], "--timeout"))
			timeout_s = strtol(argv[i + 1], NULL, 10);
		else
			return bad_usage("unknown option");
	}
	if (i >= argc)
		return bad_usage(NULL);
	if (!token || !*token)
		return bad_usage("no token: --token-file FILE or ICEWAY_RELAY_ADMIN_TOKEN_FILE");
	const char *err = build(argc - i, argv + i, &method, target, sizeof target);
	if (err)
		return bad_usage(err);
	struct iw_admin_client c;
	if (iw_admin_client_init(&c, url, token, &why)) {
		iw_admin_client_fini(&c);
		fprintf(stderr, "iceway-relay admin: %s\n", why);
		return IW_ADMIN_EXIT_USAGE;
	}
	if (timeout_s > 0 && timeout_s < 3600)
		c.timeout_ms = (int)timeout_s * 1000;
	int st = iw_admin_client_call(&c, method, target, stdout, &why);
	iw_admin_client_fini(&c);
	fflush(stdout);
	if (st < 0)
		fprintf(stderr, "iceway-relay admin: %s: %s\n", url, why);
	else if (st < 200 || st >= 300)
		fprintf(stderr, "iceway-relay admin: HTTP %d %s\n", st, iw_http_reason(st));
	return iw_admin_client_exit(st);
}
