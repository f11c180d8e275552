/* The client side of the admin APIs (iceway-relay admin, iceway-signal admin): one HTTP/1.1
 * request with a bearer token read from a file, to a local http://HOST:PORT, and its answer.
 * Generic: it knows no endpoint. Blocking, bounded in time and size; not for a packet path. */
#ifndef IW_COMMON_ADMIN_CLIENT_H
#define IW_COMMON_ADMIN_CLIENT_H

#include <stdio.h>

enum {
	IW_ADMIN_CLIENT_TOKEN_MAX = 4096,
	IW_ADMIN_CLIENT_RESP_MAX = 64 << 20, /* a longer answer is an error */
	IW_ADMIN_CLIENT_TIMEOUT_MS = 30000,  /* connect, send and read, in all */
	/* Exit statuses of a command-line client (iw_admin_client_exit). */
	IW_ADMIN_EXIT_OK = 0,      /* 2xx */
	IW_ADMIN_EXIT_HTTP = 1,    /* any other HTTP status */
	IW_ADMIN_EXIT_USAGE = 2,   /* bad arguments, no token */
	IW_ADMIN_EXIT_CONNECT = 3, /* could not connect, time-out, not an HTTP answer */
};

struct iw_admin_client {
	char host[256]; /* from the URL, without brackets */
	char port[8];
	char token[IW_ADMIN_CLIENT_TOKEN_MAX + 1];
	int timeout_ms;
};

/*
 * url is "http://HOST:PORT" (HOST a name, an IPv4 address or [IPv6]; a trailing '/' is
 * allowed, nothing else after the port). The token is token_file's contents less one trailing
 * newline. 0, or -EINVAL with *why.
 */
int iw_admin_client_init(struct iw_admin_client *c, const char *url, const char *token_file,
			 const char **why);

/*
 * Send "METHOD target" (target already percent-encoded: iw_http_pct_encode) with
 * "Authorization: Bearer TOKEN" and no body; write the answer's body to out. Returns the HTTP
 * status, or a negative errno with *why (no connection, time-out, malformed or oversized
 * answer).
 */
int iw_admin_client_call(const struct iw_admin_client *c, const char *method, const char *target, FILE *out,
			 const char **why);

/* The exit status for what iw_admin_client_call returned. */
int iw_admin_client_exit(int status);

/* Wipe the token. */
void iw_admin_client_fini(struct iw_admin_client *c);

/* A command-line client of one admin API: "PROG [--url URL] [--token-file FILE] [--timeout S]
 * COMMAND ARGS..."; build turns the command into a request. */
struct iw_admin_cli {
	const char *prog;    /* "iceway-relay admin", for messages */
	const char *usage;   /* printed by --help and after a usage error */
	const char *url_env; /* environment variables for --url and --token-file */
	const char *token_env;
	const char *def_url;
	/* The method and the percent-encoded target for argv[0] (the command) and its arguments;
	 * NULL, or a usage error's message. */
	const char *(*build)(int argc, char **argv, const char **method, char *target, size_t cap);
};

/* Run cli on argv[1..] (argv[0] is "admin"): the answer's body to stdout; returns the exit
 * status (IW_ADMIN_EXIT_*). */
int iw_admin_cli_run(const struct iw_admin_cli *cli, int argc, char **argv);

#endif
