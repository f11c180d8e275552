/* DTLS-SRTP over an ICE component for the probe: a self-signed EC certificate, a handshake
 * driven by datagrams the caller feeds in, peer authentication by SHA-256 fingerprint
 * (RFC 8122 §5) and SRTP keys from the exporter (RFC 5764 §4.2). No sockets here. */
#ifndef IW_PROBE_DTLS_H
#define IW_PROBE_DTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/timing.h>
#include <mbedtls/x509_crt.h>

enum {
	IW_PROBE_DGRAM_MAX = 1500,
	IW_PROBE_DTLS_RXQ = 8,       /* datagrams waiting for the handshake; more are dropped */
	IW_PROBE_FP_LEN = 32,        /* SHA-256 */
	IW_PROBE_FP_STRLEN = 96,     /* "AB:CD:..." with NUL */
	IW_PROBE_SRTP_KEY_LEN = 16,  /* AES_CM_128_HMAC_SHA1_80 master key */
	IW_PROBE_SRTP_SALT_LEN = 14, /* and master salt */
	IW_PROBE_SRTP_MASTER_LEN = IW_PROBE_SRTP_KEY_LEN + IW_PROBE_SRTP_SALT_LEN,
};

/* Process-wide randomness and the certificate every endpoint presents. */
struct iw_probe_cert {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context rng;
	mbedtls_pk_context key;
	mbedtls_x509_crt crt;
	uint8_t fp[IW_PROBE_FP_LEN];
	char fp_str[IW_PROBE_FP_STRLEN]; /* SDP a=fingerprint form, upper-case hex with ':' */
};

/* Generate a P-256 key and a self-signed certificate valid for a day. 0 or < 0 with *why. */
int iw_probe_cert_init(struct iw_probe_cert *c, const char **why);
void iw_probe_cert_fini(struct iw_probe_cert *c);

/* "AB:CD:..." (32 bytes) -> fp. 0 or -EINVAL. */
int iw_probe_fp_parse(uint8_t fp[IW_PROBE_FP_LEN], const char *s);

/* Send one DTLS datagram on the ICE component; returns bytes sent or < 0. */
typedef int (*iw_probe_dtls_send_fn)(void *arg, const uint8_t *p, size_t len);

struct iw_probe_dtls {
	mbedtls_ssl_config conf;
	mbedtls_ssl_context ssl;
	mbedtls_timing_delay_context timer;
	iw_probe_dtls_send_fn send;
	void *send_arg;
	bool is_client;
	bool done;
	bool fp_matched; /* the peer's certificate had the fingerprint from signaling */
	uint8_t expect_fp[IW_PROBE_FP_LEN];

	uint8_t rxq[IW_PROBE_DTLS_RXQ][IW_PROBE_DGRAM_MAX];
	uint16_t rxq_len[IW_PROBE_DTLS_RXQ];
	unsigned rxq_head, rxq_n;
	uint64_t rx_dropped; /* queue full */

	/* From the key export callback, for the RFC 5705 exporter. */
	uint8_t ms[48];
	uint8_t randoms[64]; /* client_random || server_random */
	mbedtls_tls_prf_types prf;
	bool have_ms;
};

/* Set up a client (DTLS "active") or server endpoint that expects the peer certificate's
 * SHA-256 to be expect_fp. The cert must outlive d. 0 or < 0 with *why. */
int iw_probe_dtls_init(struct iw_probe_dtls *d, struct iw_probe_cert *cert, bool is_client,
		       const uint8_t expect_fp[IW_PROBE_FP_LEN], iw_probe_dtls_send_fn send, void *send_arg,
		       const char **why);
void iw_probe_dtls_fini(struct iw_probe_dtls *d);

/* Queue a received DTLS datagram (first byte 20-63, RFC 7983 §7). Drops and counts when full. */
void iw_probe_dtls_feed(struct iw_probe_dtls *d, const uint8_t *p, size_t len);

/*
 * Drive the handshake (call on every fed datagram and from a timer for retransmissions).
 * Returns 1 once the handshake is done and the fingerprint matched, 0 while in progress,
 * -EACCES on a fingerprint mismatch, or another < 0 with *why.
 */
int iw_probe_dtls_step(struct iw_probe_dtls *d, const char **why);

/* SRTP master key||salt for each direction (RFC 5764 §4.2 key layout). 0 or < 0 with *why. */
int iw_probe_dtls_srtp_keys(struct iw_probe_dtls *d, uint8_t local[IW_PROBE_SRTP_MASTER_LEN],
			    uint8_t remote[IW_PROBE_SRTP_MASTER_LEN], const char **why);

#endif
