/* DTLS-SRTP for the probe (mbedTLS 2.28): certificate, fingerprint check, handshake over a
 * caller-fed datagram queue, SRTP key export. Knows nothing about ICE or sockets. */
#include "tools/probe/dtls.h"

#include "common/bytes.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <mbedtls/error.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

static const char pers[] = "iceway-probe";

static void fp_format(char out[IW_PROBE_FP_STRLEN], const uint8_t fp[IW_PROBE_FP_LEN])
{
	static const char hex[] = "0123456789ABCDEF";
	char *o = out;
	for (int i = 0; i < IW_PROBE_FP_LEN; i++) {
		if (i)
			*o++ = ':';
		*o++ = hex[fp[i] >> 4];
		*o++ = hex[fp[i] & 15];
	}
	*o = '\0';
}

int iw_probe_fp_parse(uint8_t fp[IW_PROBE_FP_LEN], const char *s)
{
	for (int i = 0; i < IW_PROBE_FP_LEN; i++) {
		if (i && *s++ != ':')
			return -EINVAL;
		int hi = iw_hexval((unsigned char)s[0]);
		int lo = hi < 0 ? -1 : iw_hexval((unsigned char)s[1]);
		if (lo < 0)
			return -EINVAL;
		fp[i] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
	return *s == '\0' || *s == '\r' || *s == '\n' || *s == ' ' ? 0 : -EINVAL;
}

int iw_probe_cert_init(struct iw_probe_cert *c, const char **why)
{
	mbedtls_x509write_cert w;
	mbedtls_mpi serial;
	uint8_t der[2048];
	int ret;

	mbedtls_entropy_init(&c->entropy);
	mbedtls_ctr_drbg_init(&c->rng);
	mbedtls_pk_init(&c->key);
	mbedtls_x509_crt_init(&c->crt);
	mbedtls_x509write_crt_init(&w);
	mbedtls_mpi_init(&serial);

	*why = "random generator";
	ret = mbedtls_ctr_drbg_seed(&c->rng, mbedtls_entropy_func, &c->entropy, (const unsigned char *)pers,
				    sizeof pers - 1);
	if (ret)
		goto out;
	*why = "EC key generation";
	ret = mbedtls_pk_setup(&c->key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
	if (!ret)
		ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(c->key),
					  mbedtls_ctr_drbg_random, &c->rng);
	if (ret)
		goto out;

	*why = "certificate";
	uint8_t sn[8];
	ret = mbedtls_ctr_drbg_random(&c->rng, sn, sizeof sn);
	if (!ret)
		ret = mbedtls_mpi_read_binary(&serial, sn, sizeof sn);
	if (ret)
		goto out;
	serial.p[0] |= 1; /* never zero */
	mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&w, &c->key);
	mbedtls_x509write_crt_set_issuer_key(&w, &c->key);
	/* WebRTC peers are authenticated by fingerprint (RFC 8827 §6.5), so the names and a wide
	 * validity window carry no meaning beyond being well-formed. */
	if ((ret = mbedtls_x509write_crt_set_subject_name(&w, "CN=iceway-probe")) ||
	    (ret = mbedtls_x509write_crt_set_issuer_name(&w, "CN=iceway-probe")) ||
	    (ret = mbedtls_x509write_crt_set_serial(&w, &serial)) ||
	    (ret = mbedtls_x509write_crt_set_validity(&w, "20240101000000", "20491231235959")))
		goto out;
	ret = mbedtls_x509write_crt_der(&w, der, sizeof der, mbedtls_ctr_drbg_random, &c->rng);
	if (ret < 0)
		goto out;
	/* The DER is written at the end of the buffer. */
	ret = mbedtls_x509_crt_parse_der(&c->crt, der + sizeof der - ret, (size_t)ret);
	if (ret)
		goto out;
	ret = mbedtls_sha256_ret(c->crt.raw.p, c->crt.raw.len, c->fp, 0);
	if (ret)
		goto out;
	fp_format(c->fp_str, c->fp);
	*why = NULL;
out:
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&w);
	return ret ? -EIO : 0;
}

void iw_probe_cert_fini(struct iw_probe_cert *c)
{
	mbedtls_x509_crt_free(&c->crt);
	mbedtls_pk_free(&c->key);
	mbedtls_ctr_drbg_free(&c->rng);
	mbedtls_entropy_free(&c->entropy);
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct iw_probe_dtls *d = ctx;
	/* A datagram the ICE layer could not take is lost like any other; DTLS retransmits. */
	(void)d->send(d->send_arg, buf, len);
	return (int)len;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct iw_probe_dtls *d = ctx;
	if (!d->rxq_n)
		return MBEDTLS_ERR_SSL_WANT_READ;
	unsigned i = d->rxq_head;
	size_t n = d->rxq_len[i] < len ? d->rxq_len[i] : len;
	memcpy(buf, d->rxq[i], n);
	d->rxq_head = (i + 1) % IW_PROBE_DTLS_RXQ;
	d->rxq_n--;
	return (int)n;
}

/* Accept exactly the certificate whose hash came through signaling (RFC 8122 §5). */
static int verify_cb(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct iw_probe_dtls *d = ctx;
	uint8_t fp[IW_PROBE_FP_LEN];

	if (depth != 0)
		return 0;
	d->fp_matched = false;
	if (mbedtls_sha256_ret(crt->raw.p, crt->raw.len, fp, 0) == 0 &&
	    memcmp(fp, d->expect_fp, sizeof fp) == 0) {
		d->fp_matched = true;
		*flags = 0;
	} else {
		*flags |= MBEDTLS_X509_BADCERT_NOT_TRUSTED;
	}
	return 0;
}

static int export_cb(void *ctx, const unsigned char *ms, const unsigned char *kb, size_t maclen,
		     size_t keylen, size_t ivlen, const unsigned char client_random[32],
		     const unsigned char server_random[32], mbedtls_tls_prf_types prf)
{
	struct iw_probe_dtls *d = ctx;
	(void)kb, (void)maclen, (void)keylen, (void)ivlen;
	memcpy(d->ms, ms, sizeof d->ms);
	memcpy(d->randoms, client_random, 32);
	memcpy(d->randoms + 32, server_random, 32);
	d->prf = prf;
	d->have_ms = true;
	return 0;
}

static const mbedtls_ssl_srtp_profile srtp_profiles[] = {
	MBEDTLS_TLS_SRTP_AES128_CM_HMAC_SHA1_80,
	MBEDTLS_TLS_SRTP_UNSET,
};

int iw_probe_dtls_init(struct iw_probe_dtls *d, struct iw_probe_cert *cert, bool is_client,
		       const uint8_t expect_fp[IW_PROBE_FP_LEN], iw_probe_dtls_send_fn send, void *send_arg,
		       const char **why)
{
	int ret;

	memset(d, 0, sizeof *d);
	mbedtls_ssl_config_init(&d->conf);
	mbedtls_ssl_init(&d->ssl);
	d->send = send;
	d->send_arg = send_arg;
	d->is_client = is_client;
	memcpy(d->expect_fp, expect_fp, IW_PROBE_FP_LEN);

	*why = "DTLS configuration";
	ret = mbedtls_ssl_config_defaults(&d->conf, is_client ? MBEDTLS_SSL_IS_CLIENT : MBEDTLS_SSL_IS_SERVER,
					  MBEDTLS_SSL_TRANSPORT_DATAGRAM, MBEDTLS_SSL_PRESET_DEFAULT);
	if (ret)
		return -EINVAL;
	mbedtls_ssl_conf_rng(&d->conf, mbedtls_ctr_drbg_random, &cert->rng);
	if (mbedtls_ssl_conf_own_cert(&d->conf, &cert->crt, &cert->key))
		return -EINVAL;
	/* OPTIONAL: there is no CA; verify_cb decides, and step() refuses a mismatch. */
	mbedtls_ssl_conf_authmode(&d->conf, MBEDTLS_SSL_VERIFY_OPTIONAL);
	mbedtls_ssl_conf_verify(&d->conf, verify_cb, d);
	/* ICE connectivity checks already proved the peer answers at this address, which is
	 * what the HelloVerifyRequest cookie exchange is for. */
	if (!is_client)
		mbedtls_ssl_conf_dtls_cookies(&d->conf, NULL, NULL, NULL);
	if (mbedtls_ssl_conf_dtls_srtp_protection_profiles(&d->conf, srtp_profiles))
		return -EINVAL;
	mbedtls_ssl_conf_export_keys_ext_cb(&d->conf, export_cb, d);
	mbedtls_ssl_conf_handshake_timeout(&d->conf, 250, 8000);
	if (mbedtls_ssl_setup(&d->ssl, &d->conf))
		return -ENOMEM;
	/* Room for TURN and ChannelData framing inside a 1280-byte IPv6 minimum MTU path. */
	mbedtls_ssl_set_mtu(&d->ssl, 1200);
	mbedtls_ssl_set_bio(&d->ssl, d, bio_send, bio_recv, NULL);
	mbedtls_ssl_set_timer_cb(&d->ssl, &d->timer, mbedtls_timing_set_delay, mbedtls_timing_get_delay);
	*why = NULL;
	return 0;
}

void iw_probe_dtls_fini(struct iw_probe_dtls *d)
{
	if (!d)
		return;
	mbedtls_ssl_free(&d->ssl);
	mbedtls_ssl_config_free(&d->conf);
	mbedtls_platform_zeroize(d->ms, sizeof d->ms);
}

void iw_probe_dtls_feed(struct iw_probe_dtls *d, const uint8_t *p, size_t len)
{
	if (d->rxq_n == IW_PROBE_DTLS_RXQ || len > IW_PROBE_DGRAM_MAX) {
		d->rx_dropped++;
		return;
	}
	unsigned i = (d->rxq_head + d->rxq_n) % IW_PROBE_DTLS_RXQ;
	memcpy(d->rxq[i], p, len);
	d->rxq_len[i] = (uint16_t)len;
	d->rxq_n++;
}

static const char *tls_err(int ret)
{
	static char buf[160];
	char e[120];
	mbedtls_strerror(ret, e, sizeof e);
	snprintf(buf, sizeof buf, "DTLS handshake failed: %s (-0x%04x)", e, (unsigned)-ret);
	return buf;
}

int iw_probe_dtls_step(struct iw_probe_dtls *d, const char **why)
{
	int ret;

	if (d->done) {
		/* Keep answering: a peer whose last flight we missed retransmits it, and
		 * mbedTLS resends our final flight from inside ssl_read. */
		uint8_t buf[256];
		do
			ret = mbedtls_ssl_read(&d->ssl, buf, sizeof buf);
		while (ret > 0);
		return 1;
	}
	ret = mbedtls_ssl_handshake(&d->ssl);
	if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE ||
	    ret == MBEDTLS_ERR_SSL_TIMEOUT)
		return 0;
	if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
		*why = d->ssl.in_msg && d->ssl.in_msg[1] == MBEDTLS_SSL_ALERT_MSG_BAD_CERT
			       ? "DTLS: the peer rejected our certificate (fingerprint mismatch)"
			       : "DTLS: the peer sent a fatal alert";
		return -EPROTO;
	}
	if (ret) {
		*why = tls_err(ret);
		return -EPROTO;
	}
	if (!d->fp_matched) {
		/* RFC 8122 §5: the certificate MUST match the fingerprint from signaling. */
		mbedtls_ssl_send_alert_message(&d->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
					       MBEDTLS_SSL_ALERT_MSG_BAD_CERT);
		*why = "DTLS fingerprint mismatch: the peer's certificate does not match the "
		       "a=fingerprint from signaling";
		return -EACCES;
	}
	mbedtls_dtls_srtp_info info;
	mbedtls_ssl_get_dtls_srtp_negotiation_result(&d->ssl, &info);
	if (info.chosen_dtls_srtp_profile != MBEDTLS_TLS_SRTP_AES128_CM_HMAC_SHA1_80) {
		*why = "DTLS: no SRTP protection profile negotiated (use_srtp, RFC 5764 §4.1.2)";
		return -EPROTO;
	}
	d->done = true;
	return 1;
}

int iw_probe_dtls_srtp_keys(struct iw_probe_dtls *d, uint8_t local[IW_PROBE_SRTP_MASTER_LEN],
			    uint8_t remote[IW_PROBE_SRTP_MASTER_LEN], const char **why)
{
	enum { K = IW_PROBE_SRTP_KEY_LEN, S = IW_PROBE_SRTP_SALT_LEN };
	uint8_t km[2 * (K + S)];

	if (!d->done || !d->have_ms) {
		*why = "DTLS: no keying material";
		return -EINVAL;
	}
	/* RFC 5764 §4.2: the exporter label, then client key, server key, client salt, server
	 * salt. */
	if (mbedtls_ssl_tls_prf(d->prf, d->ms, sizeof d->ms, "EXTRACTOR-dtls_srtp", d->randoms,
				sizeof d->randoms, km, sizeof km)) {
		*why = "DTLS: key export failed";
		return -EIO;
	}
	const uint8_t *ck = km, *sk = km + K, *cs = km + 2 * K, *ss = km + 2 * K + S;
	memcpy(local, d->is_client ? ck : sk, K);
	memcpy(local + K, d->is_client ? cs : ss, S);
	memcpy(remote, d->is_client ? sk : ck, K);
	memcpy(remote + K, d->is_client ? ss : cs, S);
	mbedtls_platform_zeroize(km, sizeof km);
	return 0;
}
