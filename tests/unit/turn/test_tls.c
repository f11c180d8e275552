/* turn/tls: loading cert and pkey, the reasons for bad files, cipher-list mapping, and a
 * full TLS 1.2 handshake and record round trip over a socketpair against an mbedTLS client. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

#include "turn/tls.h"

/* A throw-away self-signed P-256 certificate and its key, for this test only. */
static const char cert_pem[] = "-----BEGIN CERTIFICATE-----\n"
			       "MIIBhDCCASmgAwIBAgIUCtceBwhfDxegUAI8FjfTckkIdJowCgYIKoZIzj0EAwIw\n"
			       "FjEUMBIGA1UEAwwLaWNld2F5LXRlc3QwIBcNMjYxMTIyMTkwMjAwWhgPMjEyNjEw\n"
			       "MjkxOTAyMDBaMBYxFDASBgNVBAMMC2ljZXdheS10ZXN0MFkwEwYHKoZIzj0CAQYI\n"
			       "KoZIzj0DAQcDQgAEs/TNR6rwMc58BkOZLklN/17DLmAa8pQu8IQUbYqZ49KNhxd8\n"
			       "C4DsmDVlmWnizrWWC1s2iROKkFLZ1guZlrlDuKNTMFEwHQYDVR0OBBYEFCTmiFpI\n"
			       "/1qUrDh52hnBFwhRDmODMB8GA1UdIwQYMBaAFCTmiFpI/1qUrDh52hnBFwhRDmOD\n"
			       "MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIhAL9Df+zPLenLQZyF\n"
			       "T6hITTheEEP0+iasHXPY9EGV57xMAiEAkhvMxNqY09YD1x//f/eOWTzMey9DkDcK\n"
			       "0pClY6BYFYE=\n"
			       "-----END CERTIFICATE-----\n";
static const char key_pem[] = "-----BEGIN PRIVATE KEY-----\n"
			      "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgUOnslBWhl4pmBouA\n"
			      "MFVSHsb9hLmmFgx2x9jhyKkIFpWhRANCAASz9M1HqvAxznwGQ5kuSU3/XsMuYBry\n"
			      "lC7whBRtipnj0o2HF3wLgOyYNWWZaeLOtZYLWzaJE4qQUtnWC5mWuUO4\n"
			      "-----END PRIVATE KEY-----\n";

/* The same key, encrypted with the password "turn-pkey-pwd" (openssl ec -aes128). */
static const char key_enc_pem[] = "-----BEGIN EC PRIVATE KEY-----\n"
				  "Proc-Type: 4,ENCRYPTED\n"
				  "DEK-Info: AES-128-CBC,3BA72AAD6EC89927E726E52D2675074C\n"
				  "\n"
				  "1sc0Sop3JwcbjEr89ZdLUEIeYJOTIXxCn8PWlSXn2b1FhokE8nauoUXprxj6/Zo5\n"
				  "uLljyw6XsiG6rLuz8ZfJiysjRQ1MsITxVnEpdp9DfU40PgDT4ZnHa3v1KRBhQK55\n"
				  "sgaRv1mC6X5BqFHCqvOrACpajeBZoEU8+PS3uC3W5m0=\n"
				  "-----END EC PRIVATE KEY-----\n";

static char dir[64], cert_path[96], key_path[96];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/iw-test-tls-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(cert_path, sizeof cert_path, "%s/cert.pem", dir);
	snprintf(key_path, sizeof key_path, "%s/key.pem", dir);
	write_file(cert_path, cert_pem);
	write_file(key_path, key_pem);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(cert_path);
	unlink(key_path);
	rmdir(dir);
	return 0;
}

static void test_bad_files(void **state)
{
	(void)state;
	const char *why = NULL;
	assert_null(iw_tls_create("/nonexistent/cert.pem", key_path, NULL, NULL, &why));
	assert_non_null(strstr(why, "cert"));
	why = NULL;
	assert_null(iw_tls_create(cert_path, "/nonexistent/key.pem", NULL, NULL, &why));
	assert_non_null(strstr(why, "pkey"));
	why = NULL;
	/* The certificate where the key should be. */
	assert_null(iw_tls_create(cert_path, cert_path, NULL, NULL, &why));
	assert_non_null(why);
}

/* pkey-pwd: an encrypted key loads with its password, and not without it or with another. */
static void test_encrypted_key(void **state)
{
	(void)state;
	const char *why = NULL;
	char path[300];
	struct iw_tls *t;

	snprintf(path, sizeof path, "%s/enc.pem", dir);
	write_file(path, key_enc_pem);
	t = iw_tls_create(cert_path, path, "turn-pkey-pwd", NULL, &why);
	assert_non_null(t);
	iw_tls_destroy(t);
	assert_null(iw_tls_create(cert_path, path, NULL, NULL, &why));
	assert_non_null(strstr(why, "needs pkey-pwd"));
	assert_null(iw_tls_create(cert_path, path, "wrong", NULL, &why));
	assert_non_null(strstr(why, "pkey-pwd its password"));
	unlink(path);
}

static void test_ciphers(void **state)
{
	(void)state;
	const char *why = NULL;
	struct iw_tls *t =
		iw_tls_create(cert_path, key_path, NULL, "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256", &why);
	assert_non_null(t);
	iw_tls_destroy(t);
	/* OpenSSL's keywords: DEFAULT is mbedTLS's list, aNULL matches nothing in it. */
	t = iw_tls_create(cert_path, key_path, NULL, "DEFAULT:!aNULL", &why);
	assert_non_null(t);
	iw_tls_destroy(t);
	/* OpenSSL's and IANA's names, keywords joined with '+' */
	t = iw_tls_create(cert_path, key_path, NULL, "ECDHE-ECDSA-AES128-GCM-SHA256", &why);
	assert_non_null(t);
	iw_tls_destroy(t);
	t = iw_tls_create(cert_path, key_path, NULL, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", &why);
	assert_non_null(t);
	iw_tls_destroy(t);
	t = iw_tls_create(cert_path, key_path, NULL, "ECDH+AESGCM:ECDH+CHACHA20:!SHA1", &why);
	assert_non_null(t);
	iw_tls_destroy(t);
	/* nothing left: refused with a reason */
	why = NULL;
	assert_null(iw_tls_create(cert_path, key_path, NULL, "NOT-A-SUITE:TLS_AES_128_GCM_SHA256", &why));
	assert_non_null(why);
	assert_non_null(strstr(why, "leaves no TLS 1.2 suite"));
	assert_null(iw_tls_create(cert_path, key_path, NULL, "ALL:!ALL", &why));
	/* ec-curve-name: OpenSSL's spelling; an unknown curve is refused */
	struct iw_tls_opts o = { .cert = cert_path, .pkey = key_path, .curve = "prime256v1" };
	t = iw_tls_create_opts(&o, &why);
	assert_non_null(t);
	iw_tls_destroy(t);
	o.curve = "curve9";
	assert_null(iw_tls_create_opts(&o, &why));
	assert_non_null(strstr(why, "ec-curve-name"));
	o.curve = NULL;
	o.dh_file = cert_path;
	assert_null(iw_tls_create_opts(&o, &why));
	assert_non_null(strstr(why, "dh-file"));
	iw_tls_destroy(NULL);
}

struct client {
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config conf;
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
	int fd;
};

static int cl_send(void *ctx, const unsigned char *p, size_t len)
{
	ssize_t n = send(*(int *)ctx, p, len, MSG_DONTWAIT);
	return n >= 0 ? (int)n : MBEDTLS_ERR_SSL_WANT_WRITE;
}

static int cl_recv(void *ctx, unsigned char *p, size_t len)
{
	ssize_t n = recv(*(int *)ctx, p, len, MSG_DONTWAIT);
	return n >= 0 ? (int)n : MBEDTLS_ERR_SSL_WANT_READ;
}

static void client_init(struct client *c, int fd)
{
	c->fd = fd;
	mbedtls_ssl_init(&c->ssl);
	mbedtls_ssl_config_init(&c->conf);
	mbedtls_entropy_init(&c->ent);
	mbedtls_ctr_drbg_init(&c->drbg);
	assert_int_equal(mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->ent, NULL, 0), 0);
	assert_int_equal(mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT,
						     MBEDTLS_SSL_TRANSPORT_STREAM,
						     MBEDTLS_SSL_PRESET_DEFAULT),
			 0);
	mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_NONE);
	mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->drbg);
	assert_int_equal(mbedtls_ssl_setup(&c->ssl, &c->conf), 0);
	mbedtls_ssl_set_bio(&c->ssl, &c->fd, cl_send, cl_recv, NULL);
}

static void client_fini(struct client *c)
{
	mbedtls_ssl_free(&c->ssl);
	mbedtls_ssl_config_free(&c->conf);
	mbedtls_ctr_drbg_free(&c->drbg);
	mbedtls_entropy_free(&c->ent);
}

static void test_round_trip(void **state)
{
	(void)state;
	const char *why = NULL;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct iw_tls *t = iw_tls_create(cert_path, key_path, NULL, NULL, &why);
	assert_non_null(t);
	struct iw_tls_conn *s = iw_tls_conn_create(t, sv[0]);
	assert_non_null(s);
	iw_tls_destroy(t); /* the session keeps the configuration alive */
	struct client c;
	client_init(&c, sv[1]);
	int sdone = 0, cdone = 0;
	for (int i = 0; i < 100 && !(sdone && cdone); i++) {
		bool ww;
		if (!cdone) {
			int rc = mbedtls_ssl_handshake(&c.ssl);
			cdone = rc == 0;
			assert_true(rc == 0 || rc == MBEDTLS_ERR_SSL_WANT_READ ||
				    rc == MBEDTLS_ERR_SSL_WANT_WRITE);
		}
		if (!sdone) {
			int rc = iw_tls_conn_handshake(s, &ww);
			assert_true(rc >= 0);
			sdone = rc == 1;
		}
	}
	assert_true(sdone && cdone);
	assert_string_equal(mbedtls_ssl_get_version(&c.ssl), "TLSv1.2");
	/* A STUN header one way, and back. */
	const uint8_t msg[20] = { 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42 };
	uint8_t buf[64];
	bool ww;
	assert_int_equal(mbedtls_ssl_write(&c.ssl, msg, sizeof msg), (int)sizeof msg);
	assert_int_equal(iw_tls_conn_read(s, buf, sizeof buf, &ww), (int)sizeof msg);
	assert_memory_equal(buf, msg, sizeof msg);
	assert_int_equal(iw_tls_conn_read(s, buf, sizeof buf, &ww), -EAGAIN);
	assert_int_equal(iw_tls_conn_write(s, msg, sizeof msg), (int)sizeof msg);
	/* Gathered until pushed. */
	assert_true(iw_tls_conn_has_pending(s));
	assert_int_equal(mbedtls_ssl_read(&c.ssl, buf, sizeof buf), MBEDTLS_ERR_SSL_WANT_READ);
	assert_int_equal(iw_tls_conn_push(s), 0);
	assert_false(iw_tls_conn_has_pending(s));
	assert_int_equal(mbedtls_ssl_read(&c.ssl, buf, sizeof buf), (int)sizeof msg);
	assert_memory_equal(buf, msg, sizeof msg);
	/* close_notify reads as the end of the stream. */
	mbedtls_ssl_close_notify(&c.ssl);
	assert_int_equal(iw_tls_conn_read(s, buf, sizeof buf, &ww), 0);
	client_fini(&c);
	iw_tls_conn_destroy(s);
	close(sv[0]);
	close(sv[1]);
}

/* A server session and an mbedTLS client over a socketpair, handshake done. */
static struct iw_tls_conn *pair_open(struct client *c, int sv[2])
{
	const char *why = NULL;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct iw_tls *t = iw_tls_create(cert_path, key_path, NULL, NULL, &why);
	assert_non_null(t);
	struct iw_tls_conn *s = iw_tls_conn_create(t, sv[0]);
	assert_non_null(s);
	iw_tls_destroy(t);
	client_init(c, sv[1]);
	int sdone = 0, cdone = 0;
	for (int i = 0; i < 100 && !(sdone && cdone); i++) {
		bool ww;
		if (!cdone)
			cdone = mbedtls_ssl_handshake(&c->ssl) == 0;
		if (!sdone) {
			int rc = iw_tls_conn_handshake(s, &ww);
			assert_true(rc >= 0);
			sdone = rc == 1;
		}
	}
	assert_true(sdone && cdone);
	return s;
}

static void pair_close(struct client *c, struct iw_tls_conn *s, int sv[2])
{
	client_fini(c);
	iw_tls_conn_destroy(s);
	close(sv[0]);
	close(sv[1]);
}

/* Several records in the socket at once, small ones and one larger than the read-ahead: each
 * read returns one record's bytes, in order, until the socket is empty. */
static void test_records_in_one_read(void **state)
{
	(void)state;
	struct client c;
	int sv[2];
	struct iw_tls_conn *s = pair_open(&c, sv);
	/* Record k is big + k: room for the offset past the largest one. */
	static uint8_t big[12000 + 8];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 7);
	const size_t lens[] = { 124, 20, 124, 12000, 36, 124 };
	for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++)
		assert_int_equal(mbedtls_ssl_write(&c.ssl, big + k, lens[k]), (int)lens[k]);
	static uint8_t buf[16384];
	bool ww;
	for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
		size_t got = 0;
		while (got < lens[k]) {
			int n = iw_tls_conn_read(s, buf + got, sizeof buf - got, &ww);
			assert_true(n > 0);
			got += (size_t)n;
		}
		assert_int_equal(got, lens[k]);
		assert_memory_equal(buf, big + k, lens[k]);
	}
	assert_int_equal(iw_tls_conn_read(s, buf, sizeof buf, &ww), -EAGAIN);
	pair_close(&c, s, sv);
}

/* A client that does not read: writes block, and the caller retries with more bytes gathered
 * behind the first ones. Each byte must reach the client once, in order (mbedTLS would count
 * the extra bytes of a longer retry as written without sending them). */
static void test_write_retry_longer(void **state)
{
	(void)state;
	struct client c;
	int sv[2];
	struct iw_tls_conn *s = pair_open(&c, sv);
	int small = 4096;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
	enum { TOTAL = 256 * 1024 };
	static uint8_t src[TOTAL], dst[TOTAL];
	for (size_t i = 0; i < TOTAL; i++)
		src[i] = (uint8_t)(i * 31 + (i >> 8));
	size_t sent = 0, avail = 1000, got = 0;
	int blocked = 0;
	for (int round = 0; round < 100000 && got < TOTAL; round++) {
		/* The gathered output grows while the socket is full. */
		avail = avail + 700 > TOTAL ? TOTAL : avail + 700;
		if (sent < avail) {
			int n = iw_tls_conn_write(s, src + sent, avail - sent);
			if (n == -EAGAIN)
				blocked++;
			else
				assert_true(n > 0);
			if (n > 0)
				sent += (size_t)n;
		}
		int rc = iw_tls_conn_push(s);
		assert_true(rc == 0 || rc == -EAGAIN);
		/* The client reads only every few rounds, so the server's writes block. */
		if (round % 64 == 63) {
			int n;
			while ((n = mbedtls_ssl_read(&c.ssl, dst + got, TOTAL - got)) > 0)
				got += (size_t)n;
		}
	}
	assert_true(blocked > 0);
	assert_int_equal(got, TOTAL);
	assert_false(iw_tls_conn_has_pending(s));
	assert_memory_equal(dst, src, TOTAL);
	pair_close(&c, s, sv);
}

/* Records written in a row leave as separate records (a client may take a record for a
 * message) but in one send: the client reads each one back whole. */
static void test_records_gathered(void **state)
{
	(void)state;
	struct client c;
	int sv[2];
	struct iw_tls_conn *s = pair_open(&c, sv);
	uint8_t frame[124], buf[4096];
	for (int k = 0; k < 20; k++) {
		memset(frame, k, sizeof frame);
		assert_int_equal(iw_tls_conn_write(s, frame, sizeof frame), (int)sizeof frame);
	}
	/* Nothing on the socket until the push. */
	assert_int_equal(recv(sv[1], buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT), -1);
	assert_int_equal(iw_tls_conn_push(s), 0);
	for (int k = 0; k < 20; k++) {
		memset(frame, k, sizeof frame);
		assert_int_equal(mbedtls_ssl_read(&c.ssl, buf, sizeof buf), (int)sizeof frame);
		assert_memory_equal(buf, frame, sizeof frame);
	}
	pair_close(&c, s, sv);
}

/* A client that closes its socket without close_notify, or resets it: the peer is gone. */
static void test_eof_without_notify(void **state)
{
	(void)state;
	struct client c;
	int sv[2];
	struct iw_tls_conn *s = pair_open(&c, sv);
	uint8_t buf[64];
	bool ww;
	shutdown(sv[1], SHUT_WR);
	assert_int_equal(iw_tls_conn_read(s, buf, sizeof buf, &ww), 0);
	pair_close(&c, s, sv);
}

static void test_garbage_handshake(void **state)
{
	(void)state;
	const char *why = NULL;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct iw_tls *t = iw_tls_create(cert_path, key_path, NULL, NULL, &why);
	assert_non_null(t);
	struct iw_tls_conn *s = iw_tls_conn_create(t, sv[0]);
	assert_non_null(s);
	bool ww;
	assert_int_equal(iw_tls_conn_handshake(s, &ww), 0); /* nothing yet: would block */
	const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	assert_int_equal(write(sv[1], http, sizeof http - 1), (ssize_t)(sizeof http - 1));
	assert_int_equal(iw_tls_conn_handshake(s, &ww), -EPROTO);
	iw_tls_conn_destroy(s);
	iw_tls_destroy(t);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_encrypted_key),
		cmocka_unit_test(test_ciphers),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_garbage_handshake),
		cmocka_unit_test(test_records_in_one_read),
		cmocka_unit_test(test_write_retry_longer),
		cmocka_unit_test(test_eof_without_notify),
		cmocka_unit_test(test_records_gathered),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
