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
	static const struct iw_admin_cli cli = { .prog = "iceway-relay admin",
						 .usage = usage,
						 .url_env = "ICEWAY_RELAY_ADMIN_URL",
						 .token_env = "ICEWAY_RELAY_ADMIN_TOKEN_FILE",
						 .def_url = "http://127.0.0.1:9641",
						 .build = build };
	return iw_admin_cli_run(&cli, argc, argv);
}
