/* iceway-signal admin: the command-line client of signaling's admin API (signaling/admin.h).
 * Each subcommand is one request through common/admin_client; the answer's JSON goes to
 * stdout. */
#include "signaling/admin_cli.h"

#include <stdio.h>
#include <string.h>

#include "common/admin_client.h"
#include "common/http.h"

static const char usage[] =
	"usage: iceway-signal admin [--url http://HOST:PORT] [--token-file FILE] [--timeout S] COMMAND\n"
	"Signaling's admin API (admin-token, on the prometheus listener). Commands:\n"
	"  status                    version, uptime, connections, rooms, peers, cluster\n"
	"  rooms [--limit N] [--cursor C]\n"
	"                            rooms and their peer counts, a page at a time (JSON)\n"
	"  room NAME                 a room's peers\n"
	"  peer NAME ID              one peer\n"
	"  kick NAME ID              disconnect a peer now (its resume token is void)\n"
	"  close NAME                close a room: every peer disconnected\n"
	"--url defaults to $ICEWAY_SIGNAL_ADMIN_URL, else http://127.0.0.1:9642; --token-file to\n"
	"$ICEWAY_SIGNAL_ADMIN_TOKEN_FILE. Exit status: 0 on a 2xx answer, 1 on another HTTP status,\n"
	"2 on bad usage, 3 when the server cannot be reached.\n";

enum { ENC_MAX = 3 * 256 + 1 };

/* "/admin/rooms/NAME[/peers/ID]", names percent-encoded; false when one does not fit. */
static bool room_path(char *target, size_t cap, const char *room, const char *peer)
{
	char r[ENC_MAX], p[ENC_MAX];
	if (!*room || iw_http_pct_encode(room, r, sizeof r) < 0)
		return false;
	if (peer && (!*peer || iw_http_pct_encode(peer, p, sizeof p) < 0))
		return false;
	int n = snprintf(target, cap, "/admin/rooms/%s%s%s", r, peer ? "/peers/" : "", peer ? p : "");
	return n > 0 && (size_t)n < cap;
}

static const char *rooms(int argc, char **argv, char *target, size_t cap)
{
	char q[2 * ENC_MAX + 32] = "", enc[ENC_MAX];
	for (int i = 1; i < argc; i += 2) {
		if (i + 1 >= argc || (strcmp(argv[i], "--limit") && strcmp(argv[i], "--cursor")))
			return "rooms takes --limit N and --cursor C";
		size_t n = strlen(q);
		if (iw_http_pct_encode(argv[i + 1], enc, sizeof enc) < 0 ||
		    snprintf(q + n, sizeof q - n, "%s%s=%s", n ? "&" : "?", argv[i] + 2, enc) >=
			    (int)(sizeof q - n))
			return "value too long";
	}
	snprintf(target, cap, "/admin/rooms%s", q);
	return NULL;
}

static const char *build(int argc, char **argv, const char **method, char *target, size_t cap)
{
	const char *cmd = argv[0];
	*method = "GET";
	if (!strcmp(cmd, "status") && argc == 1) {
		snprintf(target, cap, "/admin/status");
		return NULL;
	}
	if (!strcmp(cmd, "rooms"))
		return rooms(argc, argv, target, cap);
	if ((!strcmp(cmd, "room") || !strcmp(cmd, "close")) && argc == 2) {
		*method = cmd[0] == 'c' ? "DELETE" : "GET";
		return room_path(target, cap, argv[1], NULL) ? NULL : "bad room name";
	}
	if ((!strcmp(cmd, "peer") || !strcmp(cmd, "kick")) && argc == 3) {
		*method = cmd[0] == 'k' ? "DELETE" : "GET";
		return room_path(target, cap, argv[1], argv[2]) ? NULL : "bad room or peer name";
	}
	return "unknown command or wrong arguments";
}

int iw_signal_admin_cli_main(int argc, char **argv)
{
	static const struct iw_admin_cli cli = { .prog = "iceway-signal admin",
						 .usage = usage,
						 .url_env = "ICEWAY_SIGNAL_ADMIN_URL",
						 .token_env = "ICEWAY_SIGNAL_ADMIN_TOKEN_FILE",
						 .def_url = "http://127.0.0.1:9642",
						 .build = build };
	return iw_admin_cli_run(&cli, argc, argv);
}
