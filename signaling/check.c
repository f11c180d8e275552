/* The --check health probe: a client of the running service, so it shares nothing with it.
 * Blocking I/O bounded by socket timeouts; the reply is read into a fixed buffer. */
#include "signaling/check.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

#include "common/addr.h"
#include "signaling/proxy_in.h"

/* PROXY protocol v2: the signature, version 2 / command LOCAL, family UNSPEC, no addresses. */
static const uint8_t v2_local[16] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51,
				      0x55, 0x49, 0x54, 0x0a, 0x20, 0x00, 0x00, 0x00 };

struct io {
	int fd;
	bool tls;
	mbedtls_ssl_context ssl;
};

static int io_send(struct io *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t off = 0;

	while (off < len) {
		int n = c->tls ? mbedtls_ssl_write(&c->ssl, p + off, len - off)
			       : (int)send(c->fd, p + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

static int io_recv(struct io *c, void *buf, size_t cap)
{
	int n = c->tls ? mbedtls_ssl_read(&c->ssl, buf, cap) : (int)recv(c->fd, buf, cap, 0);
	return n < 0 ? -1 : n;
}

static int target(const struct iw_ws_cfg *cfg, struct iw_addr *dst, const char **why)
{
	const struct iw_ws_listen *l = &cfg->listen[0];
	char spec[96];

	if (!cfg->n_listen) {
		*why = "no listener";
		return -EINVAL;
	}
	snprintf(spec, sizeof spec, strchr(l->host, ':') ? "[%s]:%u" : "%s:%u", l->host, l->port);
	if (iw_addr_parse(dst, spec) < 0 || !dst->port) {
		*why = "the listener is not an IP address and port";
		return -EINVAL;
	}
	if (iw_addr_is_any(dst)) {
		uint16_t port = dst->port;
		iw_addr_parse(dst, dst->family == AF_INET6 ? "::1" : "127.0.0.1");
		dst->port = port;
	}
	return 0;
}

int iw_signal_check(const struct iw_ws_cfg *cfg, int timeout_ms, const char **why)
{
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
	struct io c = { .fd = -1 };
	mbedtls_ssl_config conf;
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_net_context net = { .fd = -1 };
	struct iw_addr dst, src;
	struct sockaddr_storage ss;
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	socklen_t sl;
	char resp[256];
	size_t got = 0;
	int rc;

	mbedtls_ssl_init(&c.ssl);
	mbedtls_ssl_config_init(&conf);
	mbedtls_entropy_init(&ent);
	mbedtls_ctr_drbg_init(&drbg);
	if ((rc = target(cfg, &dst, why)) < 0)
		goto out;
	sl = iw_addr_to_sa(&dst, &ss);
	c.fd = socket(dst.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* SO_SNDTIMEO bounds connect() too. */
	if (c.fd < 0 || setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
	    setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
	    connect(c.fd, (struct sockaddr *)&ss, sl) < 0) {
		rc = -errno;
		*why = "cannot connect";
		goto out;
	}
	if (cfg->proxy_protocol) {
		sl = sizeof ss;
		if (getsockname(c.fd, (struct sockaddr *)&ss, &sl) < 0 ||
		    iw_addr_from_sa(&src, (struct sockaddr *)&ss) < 0) {
			rc = -errno;
			*why = "no local address";
			goto out;
		}
		/* From a source it does not trust, the listener takes no header at all. */
		if (iw_proxy_in_trusted(&cfg->proxy, &src) && io_send(&c, v2_local, sizeof v2_local) < 0) {
			rc = -EPIPE;
			*why = "cannot send the PROXY header";
			goto out;
		}
	}
	if (cfg->tls_cert) {
		/* Our own listener on this host: encryption without verification, like curl -k. */
		if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, NULL, 0) ||
		    mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
						MBEDTLS_SSL_PRESET_DEFAULT)) {
			rc = -ENOMEM;
			*why = "no TLS";
			goto out;
		}
		mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_NONE);
		mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
		net.fd = c.fd;
		if (mbedtls_ssl_setup(&c.ssl, &conf)) {
			rc = -ENOMEM;
			*why = "no TLS";
			goto out;
		}
		mbedtls_ssl_set_bio(&c.ssl, &net, mbedtls_net_send, mbedtls_net_recv, NULL);
		c.tls = true;
		/* Blocking socket: a timeout surfaces as an error, not WANT_READ, so this ends. */
		if (mbedtls_ssl_handshake(&c.ssl) != 0) {
			rc = -EPROTO;
			*why = "TLS handshake failed";
			goto out;
		}
	}
	if (io_send(&c, req, sizeof req - 1) < 0) {
		rc = -EPIPE;
		*why = "cannot send the request";
		goto out;
	}
	while (got < sizeof resp - 1 && !memchr(resp, '\n', got)) {
		int n = io_recv(&c, resp + got, sizeof resp - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	resp[got] = '\0';
	if (strncmp(resp, "HTTP/1.1 200 ", 13) != 0) {
		rc = -EPROTO;
		*why = got ? "/healthz did not answer 200" : "no answer";
		goto out;
	}
	rc = 0;
out:
	if (c.tls)
		mbedtls_ssl_close_notify(&c.ssl);
	if (c.fd >= 0)
		close(c.fd);
	mbedtls_ssl_free(&c.ssl);
	mbedtls_ssl_config_free(&conf);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&ent);
	return rc;
}
