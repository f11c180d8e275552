/* mbedTLS server sessions for stream connections. Not on the UDP workers' path: only the
 * TCP/TLS worker thread calls in here. */
#include "turn/tls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

enum { CIPHERS_MAX = 64 };

struct iw_tls {
	unsigned refs;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt crt;
	mbedtls_pk_context pk;
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
	int ciphers[CIPHERS_MAX + 1];
};

struct iw_tls_conn {
	struct iw_tls *t;
	int fd;
	mbedtls_ssl_context ssl;
};

static int bio_send(void *ctx, const unsigned char *p, size_t len)
{
	ssize_t n = send(*(int *)ctx, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *p, size_t len)
{
	ssize_t n = recv(*(int *)ctx, p, len, MSG_DONTWAIT);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_READ;
	return MBEDTLS_ERR_NET_RECV_FAILED;
}

/* coturn's cipher-list is OpenSSL syntax; only names mbedTLS knows map (its own
 * "TLS-ECDHE-..." names). Returns how many mapped. */
static int map_ciphers(struct iw_tls *t, const char *list)
{
	char buf[1024];
	int n = 0;
	if (strlen(list) >= sizeof buf)
		return 0;
	strcpy(buf, list);
	for (char *save = NULL, *tok = strtok_r(buf, ":, ", &save); tok && n < CIPHERS_MAX;
	     tok = strtok_r(NULL, ":, ", &save)) {
		int id = mbedtls_ssl_get_ciphersuite_id(tok);
		if (id)
			t->ciphers[n++] = id;
	}
	t->ciphers[n] = 0;
	return n;
}

struct iw_tls *iw_tls_create(const char *cert, const char *pkey, const char *ciphers, const char **why)
{
	struct iw_tls *t = calloc(1, sizeof *t);
	if (!t) {
		*why = "out of memory";
		return NULL;
	}
	t->refs = 1;
	mbedtls_ssl_config_init(&t->conf);
	mbedtls_x509_crt_init(&t->crt);
	mbedtls_pk_init(&t->pk);
	mbedtls_entropy_init(&t->ent);
	mbedtls_ctr_drbg_init(&t->drbg);
	if (mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->ent,
				  (const unsigned char *)"iceway-relay", 12)) {
		*why = "cannot seed the random generator";
		goto fail;
	}
	if (mbedtls_x509_crt_parse_file(&t->crt, cert)) {
		*why = "cannot read cert (PEM certificate chain expected)";
		goto fail;
	}
	if (mbedtls_pk_parse_keyfile(&t->pk, pkey, NULL)) {
		*why = "cannot read pkey (unencrypted PEM private key expected)";
		goto fail;
	}
	if (mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
					MBEDTLS_SSL_PRESET_DEFAULT)) {
		*why = "cannot set TLS defaults";
		goto fail;
	}
	/* TLS 1.2 at least: 1.0 and 1.1 are deprecated (RFC 8996). */
	mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
	if (mbedtls_ssl_conf_own_cert(&t->conf, &t->crt, &t->pk)) {
		*why = "cert and pkey do not match";
		goto fail;
	}
	if (ciphers && map_ciphers(t, ciphers) > 0)
		mbedtls_ssl_conf_ciphersuites(&t->conf, t->ciphers);
	return t;
fail:
	iw_tls_destroy(t);
	return NULL;
}

void iw_tls_destroy(struct iw_tls *t)
{
	if (!t || --t->refs)
		return;
	mbedtls_ssl_config_free(&t->conf);
	mbedtls_x509_crt_free(&t->crt);
	mbedtls_pk_free(&t->pk);
	mbedtls_ctr_drbg_free(&t->drbg);
	mbedtls_entropy_free(&t->ent);
	free(t);
}

struct iw_tls_conn *iw_tls_conn_create(struct iw_tls *t, int fd)
{
	struct iw_tls_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->fd = fd;
	mbedtls_ssl_init(&c->ssl);
	if (mbedtls_ssl_setup(&c->ssl, &t->conf)) {
		mbedtls_ssl_free(&c->ssl);
		free(c);
		return NULL;
	}
	mbedtls_ssl_set_bio(&c->ssl, &c->fd, bio_send, bio_recv, NULL);
	c->t = t;
	t->refs++;
	return c;
}

void iw_tls_conn_destroy(struct iw_tls_conn *c)
{
	if (!c)
		return;
	mbedtls_ssl_free(&c->ssl);
	iw_tls_destroy(c->t);
	free(c);
}

int iw_tls_conn_handshake(struct iw_tls_conn *c, bool *want_write)
{
	int rc = mbedtls_ssl_handshake(&c->ssl);
	*want_write = rc == MBEDTLS_ERR_SSL_WANT_WRITE;
	if (rc == 0)
		return 1;
	if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
		return 0;
	return -EPROTO;
}

int iw_tls_conn_read(struct iw_tls_conn *c, uint8_t *p, size_t cap, bool *want_write)
{
	int rc = mbedtls_ssl_read(&c->ssl, p, cap);
	*want_write = rc == MBEDTLS_ERR_SSL_WANT_WRITE;
	if (rc >= 0)
		return rc;
	if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
		return -EAGAIN;
	if (rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
		return 0;
	return -EPROTO;
}

int iw_tls_conn_write(struct iw_tls_conn *c, const uint8_t *p, size_t len)
{
	int rc = mbedtls_ssl_write(&c->ssl, p, len);
	if (rc >= 0)
		return rc;
	if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
		return -EAGAIN;
	return -EPIPE;
}
