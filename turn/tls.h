/* TLS for stream connections (mbedTLS 2.28): one server configuration loaded from PEM files,
 * and a session per connection on a non-blocking socket. TLS 1.2 only: mbedTLS 2.28's
 * default build has no TLS 1.3 server. ALPN: RFC 7443's stun.turn and stun.nat-discovery, or
 * none. Used by the TCP/TLS worker thread only. */
#ifndef IW_TURN_TLS_H
#define IW_TURN_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct iw_tls;
struct iw_tls_conn;

/* Load cert (chain) and pkey (PEM; pwd: its password when encrypted, else NULL) and set up a
 * TLS 1.2 server configuration; ciphers is coturn's cipher-list (an OpenSSL cipher string:
 * names and keywords mbedTLS has nothing for are skipped with a warning, one that leaves no
 * suite fails), or NULL for mbedTLS's defaults. NULL with *why on failure. */
struct iw_tls *iw_tls_create(const char *cert, const char *pkey, const char *pwd, const char *ciphers,
			     const char **why);
/* The same with coturn's other TLS options: ec-curve-name (the one ECDHE curve: OpenSSL's
 * prime256v1 or mbedTLS's secp384r1, x25519 ...) and dh-file (the DHE group, PEM DH
 * PARAMETERS; default RFC 3526's 2048-bit group). NULL members are defaults. */
struct iw_tls_opts {
	const char *cert, *pkey, *pkey_pwd, *ciphers, *curve, *dh_file;
};
struct iw_tls *iw_tls_create_opts(const struct iw_tls_opts *o, const char **why);
/* Drop the creator's reference; the configuration lives on while sessions use it. */
void iw_tls_destroy(struct iw_tls *t);

/* A server session on fd, holding a reference to t. NULL when out of memory. */
struct iw_tls_conn *iw_tls_conn_create(struct iw_tls *t, int fd);
void iw_tls_conn_destroy(struct iw_tls_conn *c);
/* Advance the handshake: 1 done, 0 would block (*want_write says on what), -EPROTO failed. */
int iw_tls_conn_handshake(struct iw_tls_conn *c, bool *want_write);
/* Read application data: bytes (> 0), 0 when the peer closed (close_notify, FIN or reset),
 * -EAGAIN would block (with *want_write), other negative errno on failure. */
int iw_tls_conn_read(struct iw_tls_conn *c, uint8_t *p, size_t cap, bool *want_write);
/* Write application data as one record: bytes taken (> 0), which may be fewer than len when
 * records are smaller (16 KiB, or the max_fragment_length the client negotiated; the caller
 * writes the rest next), -EAGAIN would block, -ECONNRESET when the peer is gone, -EPROTO on
 * other failures. After -EAGAIN the next call must pass the same bytes again at the front of
 * p (more may follow). Records are gathered for iw_tls_conn_push, and sent early only when
 * that buffer fills. */
int iw_tls_conn_write(struct iw_tls_conn *c, const uint8_t *p, size_t len);
/* Send the gathered records in one call: 0 when all went, -EAGAIN when some wait for the
 * socket to drain, -ECONNRESET or -EPROTO on failure. */
int iw_tls_conn_push(struct iw_tls_conn *c);
bool iw_tls_conn_has_pending(const struct iw_tls_conn *c);

#endif
