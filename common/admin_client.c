/* One admin request over HTTP/1.1 with a bearer token: resolve, connect, send, read the whole
 * answer until the server closes (it always answers "Connection: close"), bounded in time and
 * size. */
#include "common/admin_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/http.h"

static int read_token(struct iw_admin_client *c, const char *path, const char **why)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		*why = "cannot read the token file";
		return -EINVAL;
	}
	size_t n = fread(c->token, 1, sizeof c->token - 1, f);
	bool more = fgetc(f) != EOF;
	fclose(f);
	if (more) {
		*why = "the token file is too long";
		return -EINVAL;
	}
	c->token[n] = '\0';
	if (n && c->token[n - 1] == '\n')
		c->token[--n] = '\0';
	if (n && c->token[n - 1] == '\r')
		c->token[--n] = '\0';
	if (n == 0 || strlen(c->token) != n || strpbrk(c->token, "\r\n")) {
		*why = "the token file holds no token, or more than one line";
		return -EINVAL;
	}
	return 0;
}

static int parse_url(struct iw_admin_client *c, const char *url, const char **why)
{
	const char *p = url, *host, *host_end, *port;
	*why = "the URL must be http://HOST:PORT";
	if (strncmp(p, "http://", 7))
		return -EINVAL;
	p += 7;
	if (*p == '[') {
		host = p + 1;
		host_end = strchr(host, ']');
		if (!host_end || host_end[1] != ':')
			return -EINVAL;
		port = host_end + 2;
	} else {
		host = p;
		host_end = strchr(host, ':');
		if (!host_end)
			return -EINVAL;
		port = host_end + 1;
	}
	size_t hl = (size_t)(host_end - host), pl = strspn(port, "0123456789");
	if (hl == 0 || hl >= sizeof c->host || pl == 0 || pl >= sizeof c->port ||
	    (port[pl] && strcmp(port + pl, "/")))
		return -EINVAL;
	memcpy(c->host, host, hl);
	c->host[hl] = '\0';
	memcpy(c->port, port, pl);
	c->port[pl] = '\0';
	long v = strtol(c->port, NULL, 10);
	if (v < 1 || v > 65535)
		return -EINVAL;
	return 0;
}

int iw_admin_client_init(struct iw_admin_client *c, const char *url, const char *token_file, const char **why)
{
	memset(c, 0, sizeof *c);
	c->timeout_ms = IW_ADMIN_CLIENT_TIMEOUT_MS;
	int rc = parse_url(c, url, why);
	if (rc == 0)
		rc = read_token(c, token_file, why);
	return rc;
}

void iw_admin_client_fini(struct iw_admin_client *c)
{
	explicit_bzero(c->token, sizeof c->token);
}

/* Wait for ev on fd until deadline; false on time-out. */
static bool wait_fd(int fd, short ev, uint64_t deadline)
{
	for (;;) {
		uint64_t now = iw_clock_ms();
		if (now >= deadline)
			return false;
		struct pollfd p = { fd, ev, 0 };
		int n = poll(&p, 1, (int)(deadline - now));
		if (n < 0 && errno == EINTR)
			continue;
		return n > 0;
	}
}

static int connect_to(const struct iw_admin_client *c, uint64_t deadline, const char **why)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *res, *ai;
	int fd = -1;
	if (getaddrinfo(c->host, c->port, &hints, &res)) {
		*why = "cannot resolve the host";
		return -EHOSTUNREACH;
	}
	*why = "cannot connect";
	for (ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		int err = 0;
		socklen_t el = sizeof err;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline) &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd < 0 ? -ECONNREFUSED : fd;
}

static int send_all(int fd, const char *p, size_t len, uint64_t deadline)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && wait_fd(fd, POLLOUT, deadline))
			continue;
		if (n <= 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read until the server closes; *buf is malloc'd and NUL-terminated. */
static int read_all(int fd, char **buf, size_t *len, uint64_t deadline, const char **why)
{
	size_t cap = 16384, n = 0;
	char *b = malloc(cap + 1);
	if (!b) {
		*why = "out of memory";
		return -ENOMEM;
	}
	for (;;) {
		if (n == cap) {
			if (cap >= IW_ADMIN_CLIENT_RESP_MAX) {
				free(b);
				*why = "the answer is too long";
				return -EMSGSIZE;
			}
			char *nb = realloc(b, cap * 2 + 1);
			if (!nb) {
				free(b);
				*why = "out of memory";
				return -ENOMEM;
			}
			b = nb;
			cap *= 2;
		}
		ssize_t r = recv(fd, b + n, cap - n, 0);
		if (r == 0)
			break;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN && wait_fd(fd, POLLIN, deadline))
			continue;
		if (r < 0) {
			free(b);
			*why = errno == EAGAIN ? "no answer in time" : "the connection failed";
			return -ETIMEDOUT;
		}
		n += (size_t)r;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

/* "HTTP/1.x NNN ..." then headers; the body starts after the empty line. */
static int parse_answer(const char *b, size_t len, const char **body, size_t *body_len, const char **why)
{
	*why = "not an HTTP answer";
	if (len < 12 || strncmp(b, "HTTP/1.", 7) || b[8] != ' ' || b[9] < '1' || b[9] > '5' || b[10] < '0' ||
	    b[10] > '9' || b[11] < '0' || b[11] > '9')
		return -EPROTO;
	int status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
	const char *e = strstr(b, "\r\n\r\n");
	if (!e)
		return -EPROTO;
	*body = e + 4;
	*body_len = len - (size_t)(e + 4 - b);
	/* Content-Length, when given, bounds the body. */
	for (const char *h = strstr(b, "\r\n"); h && h < e; h = strstr(h + 2, "\r\n")) {
		if (!strncasecmp(h + 2, "Content-Length:", 15)) {
			unsigned long long cl = strtoull(h + 17, NULL, 10);
			if (cl < *body_len)
				*body_len = (size_t)cl;
		}
	}
	return status;
}

int iw_admin_client_call(const struct iw_admin_client *c, const char *method, const char *target, FILE *out,
			 const char **why)
{
	uint64_t deadline = iw_clock_ms() + (uint64_t)c->timeout_ms;
	bool v6 = strchr(c->host, ':') != NULL;
	size_t cap = strlen(method) + strlen(target) + strlen(c->host) + strlen(c->token) + 160;
	char *req = malloc(cap), *ans = NULL;
	size_t ans_len = 0;
	int fd = -1, rc;
	if (!req) {
		*why = "out of memory";
		return -ENOMEM;
	}
	int n = snprintf(req, cap,
			 "%s %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nAuthorization: Bearer %s\r\n"
			 "Content-Length: 0\r\nConnection: close\r\n\r\n",
			 method, target, v6 ? "[" : "", c->host, v6 ? "]" : "", c->port, c->token);
	fd = connect_to(c, deadline, why);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	rc = send_all(fd, req, (size_t)n, deadline);
	if (rc) {
		*why = "cannot send the request";
		goto out;
	}
	rc = read_all(fd, &ans, &ans_len, deadline, why);
	if (rc)
		goto out;
	const char *body;
	size_t body_len;
	rc = parse_answer(ans, ans_len, &body, &body_len, why);
	if (rc > 0 && out)
		fwrite(body, 1, body_len, out);
out:
	if (fd >= 0)
		close(fd);
	/* The request held the token. */
	explicit_bzero(req, cap);
	free(req);
	free(ans);
	return rc;
}

int iw_admin_client_exit(int status)
{
	if (status < 0)
		return IW_ADMIN_EXIT_CONNECT;
	return status >= 200 && status < 300 ? IW_ADMIN_EXIT_OK : IW_ADMIN_EXIT_HTTP;
}

static int cli_usage(const struct iw_admin_cli *cli, const char *what)
{
	if (what)
		fprintf(stderr, "%s: %s\n", cli->prog, what);
	fputs(cli->usage, stderr);
	return IW_ADMIN_EXIT_USAGE;
}

int iw_admin_cli_run(const struct iw_admin_cli *cli, int argc, char **argv)
{
	const char *url = getenv(cli->url_env), *token = getenv(cli->token_env);
	const char *method = NULL, *why = NULL;
	char target[4096];
	long timeout_s = 0;
	int i = 1;
	if (!url || !*url)
		url = cli->def_url;
	for (; i < argc && !strncmp(argv[i], "--", 2); i += 2) {
		if (!strcmp(argv[i], "--help")) {
			fputs(cli->usage, stdout);
			return IW_ADMIN_EXIT_OK;
		}
		if (i + 1 >= argc)
			return cli_usage(cli, "an option needs a value");
		if (!strcmp(argv[i], "--url"))
			url = argv[i + 1];
		else if (!strcmp(argv[i], "--token-file"))
			token = argv[i + 1];
		else if (!strcmp(argv[i], "--timeout"))
			timeout_s = strtol(argv[i + 1], NULL, 10);
		else
			return cli_usage(cli, "unknown option");
	}
	if (i < argc && !strcmp(argv[i], "-h")) {
		fputs(cli->usage, stdout);
		return IW_ADMIN_EXIT_OK;
	}
	if (i >= argc)
		return cli_usage(cli, NULL);
	if (!token || !*token)
		return cli_usage(cli, "no token: --token-file FILE (or its environment variable)");
	const char *err = cli->build(argc - i, argv + i, &method, target, sizeof target);
	if (err)
		return cli_usage(cli, err);
	struct iw_admin_client c;
	if (iw_admin_client_init(&c, url, token, &why)) {
		iw_admin_client_fini(&c);
		fprintf(stderr, "%s: %s\n", cli->prog, why);
		return IW_ADMIN_EXIT_USAGE;
	}
	if (timeout_s > 0 && timeout_s < 3600)
		c.timeout_ms = (int)timeout_s * 1000;
	int st = iw_admin_client_call(&c, method, target, stdout, &why);
	iw_admin_client_fini(&c);
	fflush(stdout);
	if (st < 0)
		fprintf(stderr, "%s: %s: %s\n", cli->prog, url, why);
	else if (st < 200 || st >= 300)
		fprintf(stderr, "%s: HTTP %d %s\n", cli->prog, st, iw_http_reason(st));
	return iw_admin_client_exit(st);
}
