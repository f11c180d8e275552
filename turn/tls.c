/* mbedTLS server sessions for stream connections, with a read-ahead and a write-behind
 * buffer per session so that many small records cost one recv and one send. Not on the UDP
 * workers' path: only the TCP/TLS worker thread calls in here. */
#include "turn/tls.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <mbedtls/cipher.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/dhm.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "common/log.h"

/* Read-ahead per session: mbedTLS asks for a record header and then its body, two recv calls a
 * record; one recv of up to this many bytes serves several small records instead. The
 * write-behind gathers the records of one flush for a single send. */
enum { CIPHERS_MAX = 192, READ_AHEAD = 4096, WRITE_BEHIND = 8192 };

struct iw_tls {
	unsigned refs;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt crt;
	mbedtls_pk_context pk;
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
	int ciphers[CIPHERS_MAX + 1];
	mbedtls_ecp_group_id curves[2]; /* ec-curve-name, then the end mark */
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

/*
 * coturn's cipher-list is an OpenSSL cipher string, mapped onto the TLS 1.2 suites mbedTLS
 * has: suite names (OpenSSL's, mbedTLS's or IANA's), keywords joined with '+' (ECDHE+AESGCM),
 * '!' and '-' to remove, '+' to move to the end, DEFAULT (mbedTLS's list), ALL, HIGH, MEDIUM,
 * @STRENGTH. A name or keyword mbedTLS has nothing for is skipped with a warning, as OpenSSL
 * skips unknown ones; a list that leaves no suite at all is refused.
 */
enum {
	K_RSA = 1 << 0,
	K_ECDHE = 1 << 1,
	K_DHE = 1 << 2,
	K_ECDH = 1 << 3, /* fixed ECDH */
	K_PSK = 1 << 4,
	A_RSA = 1 << 5,
	A_ECDSA = 1 << 6,
	A_PSK = 1 << 7,
	E_AES128 = 1 << 8,
	E_AES256 = 1 << 9,
	E_GCM = 1 << 10,
	E_CCM = 1 << 11,
	E_CCM8 = 1 << 12,
	E_CHACHA = 1 << 13,
	E_CAMELLIA = 1 << 14,
	E_ARIA = 1 << 15,
	E_3DES = 1 << 16,
	E_NULL = 1 << 17,
	E_AES = 1 << 18,
	M_SHA1 = 1 << 19,
	M_SHA256 = 1 << 20,
	M_SHA384 = 1 << 21,
	M_AEAD = 1 << 22,
	G_HIGH = 1 << 23,
	G_MEDIUM = 1 << 24,
	G_ALL = 1 << 25,  /* everything but eNULL */
	G_TLS1 = 1 << 26, /* usable below TLS 1.2 too (OpenSSL's TLSv1, SSLv3) */
};

static const struct {
	const char *name;
	unsigned bits; /* a suite matches when it has any of them */
} cipher_kw[] = {
	{ "ALL", G_ALL },
	{ "HIGH", G_HIGH },
	{ "MEDIUM", G_MEDIUM },
	{ "kRSA", K_RSA },
	{ "RSA", K_RSA },
	{ "aRSA", A_RSA },
	{ "kECDHE", K_ECDHE },
	{ "kEECDH", K_ECDHE },
	{ "ECDHE", K_ECDHE },
	{ "EECDH", K_ECDHE },
	{ "ECDH", K_ECDHE | K_ECDH },
	{ "kECDH", K_ECDH },
	{ "kDHE", K_DHE },
	{ "kEDH", K_DHE },
	{ "DHE", K_DHE },
	{ "EDH", K_DHE },
	{ "DH", K_DHE },
	{ "aECDSA", A_ECDSA },
	{ "ECDSA", A_ECDSA },
	{ "PSK", K_PSK },
	{ "kPSK", K_PSK },
	{ "aPSK", A_PSK },
	{ "AES", E_AES },
	{ "AES128", E_AES128 },
	{ "AES256", E_AES256 },
	{ "AESCCM8", E_CCM8 },
	{ "CHACHA20", E_CHACHA },
	{ "CAMELLIA", E_CAMELLIA },
	{ "ARIA", E_ARIA },
	{ "3DES", E_3DES },
	{ "eNULL", E_NULL },
	{ "NULL", E_NULL },
	{ "SHA1", M_SHA1 },
	{ "SHA", M_SHA1 },
	{ "SHA256", M_SHA256 },
	{ "SHA384", M_SHA384 },
	{ "TLSv1.2", G_ALL | E_NULL },
	{ "TLSv1", G_TLS1 },
	{ "SSLv3", G_TLS1 },
	/* what mbedTLS never offers: they match no suite, and are no reason to warn */
	{ "aNULL", 0 },
	{ "ADH", 0 },
	{ "AECDH", 0 },
	{ "MD5", 0 },
	{ "RC4", 0 },
	{ "DES", 0 },
	{ "IDEA", 0 },
	{ "SEED", 0 },
	{ "EXPORT", 0 },
	{ "EXP", 0 },
	{ "LOW", 0 },
	{ "DSS", 0 },
	{ "aDSS", 0 },
	{ "SRP", 0 },
	{ "kSRP", 0 },
	{ "aGOST", 0 },
	{ "COMPLEMENTOFDEFAULT", 0 },
	{ "COMPLEMENTOFALL", 0 },
};

static unsigned suite_bits(const mbedtls_ssl_ciphersuite_t *cs, char *ossl, size_t cap)
{
	const mbedtls_cipher_info_t *ci = mbedtls_cipher_info_from_type(cs->cipher);
	const char *cname = ci && ci->name ? ci->name : "";
	unsigned b = 0;
	const char *kx = "", *enc = "", *mac = "";

	switch (cs->key_exchange) {
	case MBEDTLS_KEY_EXCHANGE_RSA:
		b |= K_RSA | A_RSA;
		break;
	case MBEDTLS_KEY_EXCHANGE_DHE_RSA:
		b |= K_DHE | A_RSA, kx = "DHE-RSA-";
		break;
	case MBEDTLS_KEY_EXCHANGE_ECDHE_RSA:
		b |= K_ECDHE | A_RSA, kx = "ECDHE-RSA-";
		break;
	case MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA:
		b |= K_ECDHE | A_ECDSA, kx = "ECDHE-ECDSA-";
		break;
	case MBEDTLS_KEY_EXCHANGE_PSK:
		b |= K_PSK | A_PSK, kx = "PSK-";
		break;
	case MBEDTLS_KEY_EXCHANGE_DHE_PSK:
		b |= K_DHE | A_PSK, kx = "DHE-PSK-";
		break;
	case MBEDTLS_KEY_EXCHANGE_RSA_PSK:
		b |= K_RSA | A_PSK, kx = "RSA-PSK-";
		break;
	case MBEDTLS_KEY_EXCHANGE_ECDHE_PSK:
		b |= K_ECDHE | A_PSK, kx = "ECDHE-PSK-";
		break;
	case MBEDTLS_KEY_EXCHANGE_ECDH_RSA:
		b |= K_ECDH | A_RSA, kx = "ECDH-RSA-";
		break;
	case MBEDTLS_KEY_EXCHANGE_ECDH_ECDSA:
		b |= K_ECDH | A_ECDSA, kx = "ECDH-ECDSA-";
		break;
	default:
		break;
	}
	bool aead = false;
	if (!strncmp(cname, "AES-", 4)) {
		b |= E_AES | (ci->key_bitlen == 128 ? E_AES128 : E_AES256);
		enc = ci->key_bitlen == 128 ? "AES128" : "AES256";
	} else if (!strncmp(cname, "CAMELLIA-", 9)) {
		b |= E_CAMELLIA;
		enc = ci->key_bitlen == 128 ? "CAMELLIA128" : "CAMELLIA256";
	} else if (!strncmp(cname, "ARIA-", 5)) {
		b |= E_ARIA;
		enc = ci->key_bitlen == 128 ? "ARIA128" : "ARIA256";
	} else if (!strncmp(cname, "CHACHA20", 8)) {
		b |= E_CHACHA;
		enc = "CHACHA20-POLY1305";
		aead = true;
	} else if (!strncmp(cname, "DES-EDE3", 8)) {
		b |= E_3DES;
		enc = "DES-CBC3";
	} else {
		b |= E_NULL;
		enc = "NULL";
	}
	const char *mode = "";
	if (ci && ci->mode == MBEDTLS_MODE_GCM)
		b |= E_GCM, mode = "-GCM", aead = true;
	else if (ci && ci->mode == MBEDTLS_MODE_CCM)
		b |= (cs->flags & MBEDTLS_CIPHERSUITE_SHORT_TAG) ? E_CCM8 | E_CCM : E_CCM,
			mode = (cs->flags & MBEDTLS_CIPHERSUITE_SHORT_TAG) ? "-CCM8" : "-CCM", aead = true;
	if (aead)
		b |= M_AEAD;
	if (cs->mac == MBEDTLS_MD_SHA1)
		b |= M_SHA1, mac = "-SHA";
	else if (cs->mac == MBEDTLS_MD_SHA256)
		b |= M_SHA256, mac = "-SHA256";
	else if (cs->mac == MBEDTLS_MD_SHA384)
		b |= M_SHA384, mac = "-SHA384";
	/* OpenSSL names CCM and ChaCha20 suites without their PRF hash */
	if ((ci && ci->mode == MBEDTLS_MODE_CCM) || (b & E_CHACHA))
		mac = "";
	if (!(b & E_NULL))
		b |= G_ALL;
	if (b & E_3DES)
		b |= G_MEDIUM;
	else if (!(b & E_NULL) && !(cs->flags & MBEDTLS_CIPHERSUITE_WEAK))
		b |= G_HIGH;
	if (cs->min_minor_ver < MBEDTLS_SSL_MINOR_VERSION_3)
		b |= G_TLS1;
	snprintf(ossl, cap, "%s%s%s%s", kx, enc, mode, mac);
	return b;
}

/* Bits of one keyword; false when it is none. */
static bool keyword_bits(const char *kw, unsigned *bits)
{
	if (!strcmp(kw, "AESGCM")) {
		*bits = E_GCM; /* with E_AES checked by the caller */
		return true;
	}
	if (!strcmp(kw, "AESCCM")) {
		*bits = E_CCM;
		return true;
	}
	for (size_t i = 0; i < sizeof cipher_kw / sizeof cipher_kw[0]; i++)
		if (!strcmp(kw, cipher_kw[i].name)) {
			*bits = cipher_kw[i].bits;
			return true;
		}
	return false;
}

struct suite_attr {
	int id;
	unsigned bits;
	unsigned keybits;
	char ossl[48];
	const char *name;
};

/* Whether suite a is what tok names: a suite name, or keywords joined with '+'. -1: tok is
 * neither a suite mbedTLS has nor a keyword. */
static int suite_match(const struct suite_attr *a, const char *tok)
{
	char iana[96];
	size_t n = strlen(tok);

	if (n < sizeof iana) {
		for (size_t i = 0; i <= n; i++)
			iana[i] = tok[i] == '_' ? '-' : tok[i];
		if (!strcasecmp(iana, a->name) || !strcasecmp(tok, a->ossl))
			return 1;
	}
	char buf[128];
	if (n >= sizeof buf)
		return -1;
	memcpy(buf, tok, n + 1);
	int all = 1;
	for (char *save = NULL, *kw = strtok_r(buf, "+", &save); kw; kw = strtok_r(NULL, "+", &save)) {
		unsigned bits;
		if (!keyword_bits(kw, &bits))
			return -1;
		bool aes_only = !strcmp(kw, "AESGCM") || !strcmp(kw, "AESCCM");
		if (!(a->bits & bits) || (aes_only && !(a->bits & E_AES)))
			all = 0;
	}
	return all;
}

static int map_ciphers(struct iw_tls *t, const char *list, const char **why)
{
	struct suite_attr all[CIPHERS_MAX];
	size_t n_all = 0, n = 0;
	bool banned[CIPHERS_MAX] = { false };
	char buf[1024];

	for (const int *id = mbedtls_ssl_list_ciphersuites(); *id && n_all < sizeof all / sizeof all[0];
	     id++) {
		const mbedtls_ssl_ciphersuite_t *cs = mbedtls_ssl_ciphersuite_from_id(*id);
		if (!cs || cs->max_minor_ver < MBEDTLS_SSL_MINOR_VERSION_3)
			continue;
		const mbedtls_cipher_info_t *ci = mbedtls_cipher_info_from_type(cs->cipher);
		struct suite_attr *a = &all[n_all++];
		a->id = *id;
		a->name = cs->name;
		a->keybits = ci ? ci->key_bitlen : 0;
		a->bits = suite_bits(cs, a->ossl, sizeof a->ossl);
	}
	if (strlen(list) >= sizeof buf) {
		*why = "cipher-list is longer than 1023 bytes";
		return -EINVAL;
	}
	strcpy(buf, list);
	for (char *save = NULL, *tok = strtok_r(buf, ":, ", &save); tok; tok = strtok_r(NULL, ":, ", &save)) {
		char op = 0;
		if (*tok == '!' || *tok == '-' || *tok == '+')
			op = *tok++;
		if (!*tok || !strncmp(tok, "@SECLEVEL", 9))
			continue;
		if (!strcmp(tok, "@STRENGTH")) {
			/* stable: by key length, longest first */
			for (size_t i = 1; i < n; i++)
				for (size_t j = i; j > 0; j--) {
					const mbedtls_ssl_ciphersuite_t *x =
						mbedtls_ssl_ciphersuite_from_id(t->ciphers[j - 1]);
					const mbedtls_ssl_ciphersuite_t *y =
						mbedtls_ssl_ciphersuite_from_id(t->ciphers[j]);
					const mbedtls_cipher_info_t *xi =
						mbedtls_cipher_info_from_type(x->cipher);
					const mbedtls_cipher_info_t *yi =
						mbedtls_cipher_info_from_type(y->cipher);
					if (!xi || !yi || xi->key_bitlen >= yi->key_bitlen)
						break;
					int tmp = t->ciphers[j - 1];
					t->ciphers[j - 1] = t->ciphers[j];
					t->ciphers[j] = tmp;
				}
			continue;
		}
		bool known = false, def = !strcmp(tok, "DEFAULT");
		for (size_t i = 0; i < n_all; i++) {
			int m = def ? 1 : suite_match(&all[i], tok);
			if (m < 0)
				continue;
			known = true;
			if (!m)
				continue;
			size_t at = n;
			for (size_t k = 0; k < n; k++)
				if (t->ciphers[k] == all[i].id)
					at = k;
			if (op == '!' || op == '-' || op == '+') {
				if (at < n) {
					memmove(&t->ciphers[at], &t->ciphers[at + 1],
						(n - at - 1) * sizeof(int));
					n--;
					if (op == '+')
						t->ciphers[n++] = all[i].id;
				}
				if (op == '!')
					banned[i] = true;
			} else if (at == n && !banned[i] && n < CIPHERS_MAX) {
				t->ciphers[n++] = all[i].id;
			}
		}
		/* a name mbedTLS lacks (TLS 1.3's, SHA512 ones that exist nowhere), a keyword it
		 * does not know */
		if (!known && !def)
			IW_WARN("cipher-list: %s is no TLS 1.2 suite or keyword that mbedTLS has; skipped",
				tok);
	}
	t->ciphers[n] = 0;
	if (n == 0) {
		*why = "cipher-list leaves no TLS 1.2 suite that mbedTLS has (OpenSSL names such as "
		       "ECDHE-RSA-AES128-GCM-SHA256, or keywords such as HIGH)";
		return -EINVAL;
	}
	return 0;
}

static const char *alpn_names[] = { "stun.turn", "stun.nat-discovery", NULL };

/* coturn's ec-curve-name takes OpenSSL's names (prime256v1); mbedTLS's are accepted too. */
static const mbedtls_ecp_curve_info *curve_find(const char *name)
{
	static const struct {
		const char *ossl, *mbed;
	} alias[] = { { "prime256v1", "secp256r1" },
		      { "prime192v1", "secp192r1" },
		      { "P-256", "secp256r1" },
		      { "P-384", "secp384r1" },
		      { "P-521", "secp521r1" } };

	for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
		if (!strcasecmp(name, alias[i].ossl))
			name = alias[i].mbed;
	for (const mbedtls_ecp_curve_info *c = mbedtls_ecp_curve_list(); c->grp_id != MBEDTLS_ECP_DP_NONE;
	     c++)
		if (!strcasecmp(name, c->name))
			return c;
	return NULL;
}

/* dh-file: the DHE group from a PEM "DH PARAMETERS" file (openssl dhparam). */
static int load_dh(struct iw_tls *t, const char *path, const char **why)
{
	mbedtls_dhm_context dhm;
	int rc = -EINVAL;

	mbedtls_dhm_init(&dhm);
	if (mbedtls_dhm_parse_dhmfile(&dhm, path)) {
		*why = "cannot read dh-file (PEM DH PARAMETERS expected, as openssl dhparam writes)";
		goto out;
	}
	size_t bits = mbedtls_mpi_bitlen(&dhm.P);
	if (bits < 1024) {
		*why = "dh-file: a group under 1024 bits is breakable (Logjam); use 2048 bits or more";
		goto out;
	}
	if (bits < 2048)
		IW_WARN("dh-file: a %zu-bit group; 2048 bits or more is advised", bits);
	if (mbedtls_ssl_conf_dh_param_ctx(&t->conf, &dhm)) {
		*why = "cannot use dh-file";
		goto out;
	}
	rc = 0;
out:
	mbedtls_dhm_free(&dhm);
	return rc;
}

struct iw_tls *iw_tls_create(const char *cert, const char *pkey, const char *pwd, const char *ciphers,
			     const char **why)
{
	struct iw_tls_opts o = { .cert = cert, .pkey = pkey, .pkey_pwd = pwd, .ciphers = ciphers };
	return iw_tls_create_opts(&o, why);
}

struct iw_tls *iw_tls_create_opts(const struct iw_tls_opts *o, const char **why)
{
	const char *cert = o->cert, *pkey = o->pkey, *pwd = o->pkey_pwd, *ciphers = o->ciphers;
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
	if (ciphers && *ciphers) {
		if (map_ciphers(t, ciphers, why))
			goto fail;
		mbedtls_ssl_conf_ciphersuites(&t->conf, t->ciphers);
	}
	if (o->curve && *o->curve) {
		const mbedtls_ecp_curve_info *c = curve_find(o->curve);
		if (!c) {
			*why = "ec-curve-name: not a curve mbedTLS has (prime256v1, secp384r1, secp521r1, "
			       "x25519 ...)";
			goto fail;
		}
		t->curves[0] = c->grp_id;
		t->curves[1] = MBEDTLS_ECP_DP_NONE;
		mbedtls_ssl_conf_curves(&t->conf, t->curves);
	}
	if (o->dh_file && *o->dh_file && load_dh(t, o->dh_file, why))
		goto fail;
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
