/* mbedTLS server sessions for stream connections, with a read-ahead and a write-behind
 * buffer per session so that many small records cost one recv and one send. Not on the UDP
 * workers' path: only the TCP/TLS worker thread calls in here. */
#include "turn/tls.h"

#include <errno.h>
#include <stddef.h>
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

/* Read-ahead per session: mbedTLS asks for a record header and then its body, two recv calls a
 * record; one recv of up to this many bytes serves several small records instead. The
 * write-behind gathers the records of one flush for a single send. */
enum { CIPHERS_MAX = 64, READ_AHEAD = 4096, WRITE_BEHIND = 8192 };

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
	size_t pend_len; /* the length of a write that would block, to repeat as mbedTLS asks */
	size_t ra_off, ra_len, wb_len;
	bool corked; /* inside iw_tls_conn_write: records go to the write-behind */
	mbedtls_ssl_context ssl;
	uint8_t ra[READ_AHEAD];
	uint8_t wb[WRITE_BEHIND];
};

static int send_errno(void)
{
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return -EAGAIN;
	return errno == EPIPE || errno == ECONNRESET ? -ECONNRESET : -EPROTO;
}

/* Send what the write-behind holds: 0 when empty, -EAGAIN when some is left, or an error. */
static int push(struct iw_tls_conn *c)
{
	while (c->wb_len) {
		ssize_t n = send(c->fd, c->wb, c->wb_len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0)
			return send_errno();
		memmove(c->wb, c->wb + n, c->wb_len - (size_t)n);
		c->wb_len -= (size_t)n;
		if (c->wb_len)
			return -EAGAIN; /* a short send: the socket buffer is full */
	}
	return 0;
}

/* While corked, or while earlier records still wait (order matters), a record is appended
 * to the write-behind; a full write-behind is sent first. Otherwise it goes out at once. */
static int bio_send(void *ctx, const unsigned char *p, size_t len)
{
	struct iw_tls_conn *c = ctx;
	if (c->corked || c->wb_len) {
		if (c->wb_len + len > sizeof c->wb) {
			int rc = push(c);
			if (rc < 0 && rc != -EAGAIN)
				return rc == -ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET
							 : MBEDTLS_ERR_NET_SEND_FAILED;
		}
		if (c->wb_len + len <= sizeof c->wb) {
			memcpy(c->wb + c->wb_len, p, len);
			c->wb_len += len;
			return (int)len;
		}
		if (c->wb_len)
			return MBEDTLS_ERR_SSL_WANT_WRITE;
		/* Larger than the whole write-behind, which is empty now: send directly. */
	}
	ssize_t n = send(c->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n >= 0)
		return (int)n;
	int rc = send_errno();
	if (rc == -EAGAIN)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	return rc == -ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_SEND_FAILED;
}

/* Serve mbedTLS from the read-ahead; refill it with one recv when empty. A request as large as
 * the read-ahead (a big record's body) goes straight into mbedTLS's buffer. */
static int bio_recv(void *ctx, unsigned char *p, size_t len)
{
	struct iw_tls_conn *c = ctx;
	if (c->ra_off == c->ra_len) {
		bool direct = len >= sizeof c->ra;
		ssize_t n = recv(c->fd, direct ? p : c->ra, direct ? len : sizeof c->ra, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return MBEDTLS_ERR_SSL_WANT_READ;
			if (errno == ECONNRESET)
				return MBEDTLS_ERR_NET_CONN_RESET;
			return MBEDTLS_ERR_NET_RECV_FAILED;
		}
		if (direct || n == 0)
			return (int)n;
		c->ra_off = 0;
		c->ra_len = (size_t)n;
	}
	size_t n = c->ra_len - c->ra_off;
	if (n > len)
		n = len;
	memcpy(p, c->ra + c->ra_off, n);
	c->ra_off += n;
	return (int)n;
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

static const char *alpn_names[] = { "stun.turn", "stun.nat-discovery", NULL };

struct iw_tls *iw_tls_create(const char *cert, const char *pkey, const char *pwd, const char *ciphers,
			     const char **why)
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
	if (mbedtls_pk_parse_keyfile(&t->pk, pkey, pwd)) {
		*why = pwd ? "cannot read pkey (a PEM private key, and pkey-pwd its password)"
			   : "cannot read pkey (a PEM private key; an encrypted one needs pkey-pwd)";
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
	/* RFC 7443's ALPN names, so a proxy in front can route by them; a client that offers
	 * none (browsers) is served too, one that offers only others (h2, http/1.1) is refused. */
	if (mbedtls_ssl_conf_alpn_protocols(&t->conf, alpn_names)) {
		*why = "cannot set ALPN";
		goto fail;
	}
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
	/* malloc, not calloc: the buffers are written before they are read, and a session that
	 * never moves data keeps them out of resident memory. */
	struct iw_tls_conn *c = malloc(sizeof *c);
	if (!c)
		return NULL;
	memset(c, 0, offsetof(struct iw_tls_conn, ra));
	c->fd = fd;
	mbedtls_ssl_init(&c->ssl);
	if (mbedtls_ssl_setup(&c->ssl, &t->conf)) {
		mbedtls_ssl_free(&c->ssl);
		free(c);
		return NULL;
	}
	mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
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
	/* close_notify, a plain TCP close or a reset: the peer is gone either way. */
	if (rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == MBEDTLS_ERR_SSL_CONN_EOF ||
	    rc == MBEDTLS_ERR_NET_CONN_RESET)
		return 0;
	return -EPROTO;
}

int iw_tls_conn_write(struct iw_tls_conn *c, const uint8_t *p, size_t len)
{
	/* After WANT_WRITE mbedTLS holds the record it already encrypted and must be called
	 * with the same length: given more, it would report the extra bytes as written. */
	if (c->pend_len && c->pend_len < len)
		len = c->pend_len;
	c->corked = true;
	int rc = mbedtls_ssl_write(&c->ssl, p, len);
	c->corked = false;
	if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
		c->pend_len = len;
		return -EAGAIN;
	}
	c->pend_len = 0;
	if (rc >= 0)
		return rc;
	return rc == MBEDTLS_ERR_NET_CONN_RESET ? -ECONNRESET : -EPROTO;
}

int iw_tls_conn_push(struct iw_tls_conn *c)
{
	return push(c);
}

bool iw_tls_conn_has_pending(const struct iw_tls_conn *c)
{
	return c->wb_len != 0;
}
