/* A TURN-over-TLS client on mbedTLS that can ask for a small record size (RFC 6066
 * max_fragment_length), so the relay's TLS writes are cut into several records per frame.
 * It allocates with long-term credentials, binds channel 0x4000 to its own UDP peer socket,
 * and has that peer send bursts of fifteen 2048-byte datagrams whose payloads look like
 * ChannelData headers (40 00 01 FC repeated, 40 00 00 3C at offset 1988 of the last): a
 * relay that loses track of its frame boundaries reads its next length from them. Every
 * datagram must come back intact as one padded ChannelData frame, in order. Exit 0 when all
 * did, 1 when one did not, 2 on bad usage or set-up.
 *   iw_tls_burst HOST PORT USER PASSWORD FRAG READ_DELAY_MS RCVBUF BURSTS GROUP FLOOD
 * FRAG: 0 (no extension), 512, 1024, 2048 or 4096. READ_DELAY_MS: wait after each group of
 * bursts before reading, then read in 256-byte pieces with a 1 ms pause (a slow reader); 0
 * reads at once. RCVBUF: SO_RCVBUF of the TCP socket (0: the default), small to make the
 * relay's writes block. GROUP: bursts sent before each read pass. FLOOD: bursts sent first
 * while not reading (see flood()), 0 for none. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

#include "common/addr.h"
#include "common/bytes.h"
#include "common/stun.h"
#include "common/stun_auth.h"

enum { N_DGRAMS = 15, DGRAM_LEN = 2048, CHANNEL = 0x4000, IO_TIMEOUT_S = 10, RX_CAP = 16384 };

struct client {
	int fd;
	mbedtls_ssl_context ssl;
	uint8_t rx[RX_CAP];
	size_t rx_len;
	unsigned delay_ms; /* > 0: slow reader */
	uint8_t key[IW_STUN_KEY_MAX];
	int key_len;
	uint8_t realm[256], nonce[256];
	size_t realm_len, nonce_len;
	const char *user, *pass;
};

static void pause_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int bio_send(void *ctx, const unsigned char *p, size_t len)
{
	ssize_t n = send(*(int *)ctx, p, len, MSG_NOSIGNAL);
	return n < 0 ? MBEDTLS_ERR_NET_SEND_FAILED : (int)n;
}

/* While draining a flood, reads do not block (nothing more is a normal end); otherwise they
 * block with SO_RCVTIMEO, and a timeout is a failure. */
static bool draining;

static int bio_recv(void *ctx, unsigned char *p, size_t len)
{
	ssize_t n = recv(*(int *)ctx, p, len, draining ? MSG_DONTWAIT : 0);
	if (n < 0 && draining && (errno == EAGAIN || errno == EWOULDBLOCK))
		return MBEDTLS_ERR_SSL_WANT_READ;
	if (n < 0)
		return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
	return (int)n;
}

static int write_all(struct client *c, const uint8_t *p, size_t len)
{
	while (len) {
		int r = mbedtls_ssl_write(&c->ssl, p, len);
		if (r <= 0) {
			fprintf(stderr, "ssl_write: -0x%04x\n", (unsigned)-r);
			return -1;
		}
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/* One frame off the stream (RFC 8656 §12.5: STUN, or ChannelData padded to 4): its length,
 * with the frame at c->rx; the caller drops it with consume(). -1 on EOF, error or timeout;
 * -2 when draining and nothing more has arrived. */
static long next_frame(struct client *c)
{
	for (;;) {
		if (c->rx_len >= 4) {
			size_t l = iw_be16(c->rx + 2);
			size_t need = c->rx[0] < 0x40 ? STUN_HEADER_LEN + l : iw_pad4(TURN_CHANDATA_HDR + l);
			if (c->rx_len >= need)
				return (long)need;
		}
		size_t room = sizeof c->rx - c->rx_len;
		if (c->delay_ms && !draining && room > 256)
			room = 256;
		int r = mbedtls_ssl_read(&c->ssl, c->rx + c->rx_len, room);
		if (r == MBEDTLS_ERR_SSL_WANT_READ)
			return -2;
		if (r <= 0) {
			fprintf(stderr, "ssl_read: %s\n", r == 0 ? "EOF" : "error or timeout");
			return -1;
		}
		c->rx_len += (size_t)r;
		if (c->delay_ms && !draining)
			pause_ms(1);
	}
}

static void consume(struct client *c, size_t n)
{
	memmove(c->rx, c->rx + n, c->rx_len - n);
	c->rx_len -= n;
}

/* A request with long-term credentials once the server named its realm and nonce; a 401 or
 * 438 is answered once with them. The decoded answer points into resp. */
static int request(struct client *c, uint16_t method, const struct iw_addr *peer, uint16_t channel,
		   struct iw_stun_msg *m, uint8_t *resp, size_t resp_cap)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		uint8_t buf[512], tid[12];
		for (size_t i = 0; i < sizeof tid; i++)
			tid[i] = (uint8_t)rand();
		struct iw_stun_wr w;
		iw_stun_wr_init(&w, buf, sizeof buf, method, STUN_CLASS_REQUEST, tid);
		if (method == TURN_METHOD_ALLOCATE)
			iw_stun_wr_u32(&w, STUN_ATTR_REQUESTED_TRANSPORT, (uint32_t)IPPROTO_UDP << 24);
		if (channel)
			iw_stun_wr_u32(&w, STUN_ATTR_CHANNEL_NUMBER, (uint32_t)channel << 16);
		if (peer)
			iw_stun_wr_xaddr(&w, STUN_ATTR_XOR_PEER_ADDRESS, peer);
		if (c->key_len > 0) {
			iw_stun_wr_attr(&w, STUN_ATTR_USERNAME, c->user, strlen(c->user));
			iw_stun_wr_attr(&w, STUN_ATTR_REALM, c->realm, c->realm_len);
			iw_stun_wr_attr(&w, STUN_ATTR_NONCE, c->nonce, c->nonce_len);
			iw_stun_wr_integrity(&w, c->key, (size_t)c->key_len);
		}
		int len = iw_stun_wr_finish(&w);
		if (len < 0 || write_all(c, buf, (size_t)len))
			return -1;
		long n = next_frame(c);
		if (n < 0 || (size_t)n > resp_cap)
			return -1;
		memcpy(resp, c->rx, (size_t)n);
		consume(c, (size_t)n);
		const char *why = "";
		if (iw_stun_decode(m, resp, (size_t)n, &why)) {
			fprintf(stderr, "bad answer: %s\n", why);
			return -1;
		}
		if (m->cls != STUN_CLASS_ERROR || !(m->present & IW_STUN_HAS_ERROR_CODE) ||
		    (m->error_code != 401 && m->error_code != 438) || !(m->present & IW_STUN_HAS_NONCE) ||
		    !(m->present & IW_STUN_HAS_REALM))
			return 0;
		if (m->realm.len > sizeof c->realm || m->nonce.len > sizeof c->nonce)
			return -1;
		memcpy(c->realm, m->realm.p, c->realm_len = m->realm.len);
		memcpy(c->nonce, m->nonce.p, c->nonce_len = m->nonce.len);
		c->key_len = iw_stun_lt_key(c->key, STUN_PASSWORD_ALG_MD5, c->user, strlen(c->user), c->realm,
					    c->realm_len, c->pass, strlen(c->pass));
	}
	return 0;
}

/* The i-th datagram of a burst: 40 00 01 FC repeated, and in the last one 40 00 00 3C at
 * offset 1988. */
static void fill_dgram(uint8_t *p, int i)
{
	for (size_t o = 0; o < DGRAM_LEN; o += 4)
		memcpy(p + o, "\x40\x00\x01\xFC", 4);
	if (i == N_DGRAMS - 1)
		memcpy(p + 1988, "\x40\x00\x00\x3C", 4);
}

/* The peer sends bursts while the client does not read, so that the relay's socket and
 * output buffer fill: its TLS writes block and are retried, and frames past its bound are
 * dropped whole. Then the client reads everything that came: each frame must be a whole
 * ChannelData frame carrying one of the two payloads. Returns how many, or -1. */
static long flood(struct client *c, int peer, const struct sockaddr_storage *to, socklen_t tolen,
		  int n_bursts)
{
	uint8_t d[DGRAM_LEN], last[DGRAM_LEN];
	long got = 0;
	fill_dgram(d, 0);
	fill_dgram(last, N_DGRAMS - 1);
	for (int k = 0; k < n_bursts * N_DGRAMS; k++) {
		const uint8_t *p = k % N_DGRAMS == N_DGRAMS - 1 ? last : d;
		sendto(peer, p, DGRAM_LEN, 0, (const struct sockaddr *)to, tolen); /* drops are fine */
		if (k % 64 == 63)
			pause_ms(1); /* within the relay's UDP receive buffer */
	}
	pause_ms(c->delay_ms);
	draining = true;
	for (int idle = 0; idle < 250;) {
		long n = next_frame(c);
		if (n == -2) {
			idle++;
			pause_ms(2);
			continue;
		}
		if (n < 0 || n != TURN_CHANDATA_HDR + DGRAM_LEN || iw_be16(c->rx) != CHANNEL ||
		    iw_be16(c->rx + 2) != DGRAM_LEN ||
		    (memcmp(c->rx + TURN_CHANDATA_HDR, d, DGRAM_LEN) &&
		     memcmp(c->rx + TURN_CHANDATA_HDR, last, DGRAM_LEN))) {
			fprintf(stderr, "flood: frame %ld broken (%ld bytes)\n", got, n);
			draining = false;
			return -1;
		}
		consume(c, (size_t)n);
		got++;
		idle = 0;
	}
	draining = false;
	return got;
}

static int tls_setup(struct client *c, mbedtls_ssl_config *conf, mbedtls_ctr_drbg_context *drbg,
		     unsigned frag)
{
	static const struct {
		unsigned len;
		unsigned char code;
	} mfl[] = { { 512, MBEDTLS_SSL_MAX_FRAG_LEN_512 },
		    { 1024, MBEDTLS_SSL_MAX_FRAG_LEN_1024 },
		    { 2048, MBEDTLS_SSL_MAX_FRAG_LEN_2048 },
		    { 4096, MBEDTLS_SSL_MAX_FRAG_LEN_4096 } };
	if (mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
					MBEDTLS_SSL_PRESET_DEFAULT))
		return -1;
	mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_NONE); /* a self-signed test cert */
	mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, drbg);
	if (frag) {
		size_t i = 0;
		while (i < sizeof mfl / sizeof mfl[0] && mfl[i].len != frag)
			i++;
		if (i == sizeof mfl / sizeof mfl[0] || mbedtls_ssl_conf_max_frag_len(conf, mfl[i].code))
			return -1;
	}
	if (mbedtls_ssl_setup(&c->ssl, conf))
		return -1;
	mbedtls_ssl_set_bio(&c->ssl, &c->fd, bio_send, bio_recv, NULL);
	int r;
	while ((r = mbedtls_ssl_handshake(&c->ssl)) != 0) {
		if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE) {
			char e[128];
			mbedtls_strerror(r, e, sizeof e);
			fprintf(stderr, "handshake: %s\n", e);
			return -1;
		}
	}
	/* The server must have accepted the extension: its records toward us are then at most
	 * frag bytes of plaintext. */
	size_t got = mbedtls_ssl_get_input_max_frag_len(&c->ssl);
	printf("handshake done: %s, record plaintext at most %zu bytes\n",
	       mbedtls_ssl_get_ciphersuite(&c->ssl), got);
	if (frag && got != frag) {
		fprintf(stderr, "max_fragment_length %u not negotiated (%zu)\n", frag, got);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 11) {
		fprintf(stderr,
			"usage: %s HOST PORT USER PASSWORD FRAG READ_DELAY_MS RCVBUF BURSTS GROUP FLOOD\n",
			argv[0]);
		return 2;
	}
	static struct client c;
	c.user = argv[3];
	c.pass = argv[4];
	unsigned frag = (unsigned)atoi(argv[5]);
	c.delay_ms = (unsigned)atoi(argv[6]);
	int rcvbuf = atoi(argv[7]), bursts = atoi(argv[8]), group = atoi(argv[9]);
	int flood_bursts = atoi(argv[10]);
	if (group < 1)
		group = 1;
	srand((unsigned)getpid());

	int rc = 2, peer = -1;
	mbedtls_ssl_config conf;
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_init(&c.ssl);
	mbedtls_ssl_config_init(&conf);
	mbedtls_entropy_init(&ent);
	mbedtls_ctr_drbg_init(&drbg);
	if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, (const unsigned char *)"burst", 5))
		goto out;

	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1)
		goto out;
	c.fd = socket(AF_INET, SOCK_STREAM, 0);
	struct timeval tv = { IO_TIMEOUT_S, 0 };
	setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (rcvbuf > 0)
		setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	if (connect(c.fd, (struct sockaddr *)&sa, sizeof sa)) {
		perror("connect");
		goto out;
	}
	if (tls_setup(&c, &conf, &drbg, frag))
		goto out;

	/* The peer: a UDP socket on the same loopback address. */
	peer = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in psa = { .sin_family = AF_INET, .sin_addr = sa.sin_addr };
	socklen_t plen = sizeof psa;
	if (bind(peer, (struct sockaddr *)&psa, sizeof psa) ||
	    getsockname(peer, (struct sockaddr *)&psa, &plen))
		goto out;
	struct iw_addr peer_addr, relayed;
	iw_addr_from_sa(&peer_addr, (struct sockaddr *)&psa);

	static uint8_t resp[2048];
	struct iw_stun_msg m;
	rc = 1;
	if (request(&c, TURN_METHOD_ALLOCATE, NULL, 0, &m, resp, sizeof resp) ||
	    m.cls != STUN_CLASS_SUCCESS || !(m.present & IW_STUN_HAS_RELAYED)) {
		fprintf(stderr, "Allocate failed\n");
		goto out;
	}
	relayed = m.relayed;
	if (request(&c, TURN_METHOD_CHANNEL_BIND, &peer_addr, CHANNEL, &m, resp, sizeof resp) ||
	    m.cls != STUN_CLASS_SUCCESS) {
		fprintf(stderr, "ChannelBind failed\n");
		goto out;
	}
	struct sockaddr_storage rss;
	socklen_t rlen = iw_addr_to_sa(&relayed, &rss);
	unsigned good = 0, bad = 0;
	if (flood_bursts > 0) {
		long n = flood(&c, peer, &rss, rlen, flood_bursts);
		printf("flood: %d bursts sent while not reading, %ld whole frames read back\n", flood_bursts,
		       n);
		if (n < 0)
			goto out;
	}
	for (int b = 0; b < bursts; b += group) {
		uint8_t d[DGRAM_LEN];
		int n_b = bursts - b < group ? bursts - b : group;
		for (int k = 0; k < n_b * N_DGRAMS; k++) {
			fill_dgram(d, k % N_DGRAMS);
			if (sendto(peer, d, sizeof d, 0, (struct sockaddr *)&rss, rlen) !=
			    (ssize_t)sizeof d) {
				perror("sendto");
				goto out;
			}
		}
		if (c.delay_ms)
			pause_ms(c.delay_ms);
		for (int k = 0; k < n_b * N_DGRAMS; k++) {
			long n = next_frame(&c);
			if (n < 0) {
				fprintf(stderr, "burst %d: frame %d missing\n", b + k / N_DGRAMS,
					k % N_DGRAMS);
				goto report;
			}
			fill_dgram(d, k % N_DGRAMS);
			if (n == TURN_CHANDATA_HDR + DGRAM_LEN && iw_be16(c.rx) == CHANNEL &&
			    iw_be16(c.rx + 2) == DGRAM_LEN &&
			    !memcmp(c.rx + TURN_CHANDATA_HDR, d, sizeof d)) {
				good++;
			} else {
				bad++;
				fprintf(stderr, "burst %d frame %d: %ld bytes, header %02x%02x %02x%02x\n",
					b + k / N_DGRAMS, k % N_DGRAMS, n, c.rx[0], c.rx[1], c.rx[2],
					c.rx[3]);
			}
			consume(&c, (size_t)n);
		}
	}
report:
	printf("frag %u delay %u ms rcvbuf %d: %u of %u datagrams intact, %u bad\n", frag, c.delay_ms, rcvbuf,
	       good, (unsigned)(bursts * N_DGRAMS), bad);
	if (good == (unsigned)(bursts * N_DGRAMS) && !bad)
		rc = 0;
out:
	if (peer >= 0)
		close(peer);
	mbedtls_ssl_close_notify(&c.ssl);
	if (c.fd > 0)
		close(c.fd);
	mbedtls_ssl_free(&c.ssl);
	mbedtls_ssl_config_free(&conf);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&ent);
	return rc;
}
