/* RTP over SRTP for the probe: packet builder, receive accounting, RTT histogram.
 *
 * Payload layout (after the 12-byte RTP header), all big-endian:
 *   0  8  sender's monotonic send time, us
 *   8  8  echo: send time of the newest packet received from the peer (0 = none yet)
 *  16  4  hold: us between receiving that packet and sending this one
 *  20  4  total packets the sender will send
 *  24  .. filler up to the payload length
 * RTT = now - echo - hold, so the two clocks never have to agree. */
#include "tools/probe/media.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/bytes.h"

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)iw_be32(p) << 32 | iw_be32(p + 4);
}

static void put_be64(uint8_t *p, uint64_t v)
{
	iw_put_be32(p, (uint32_t)(v >> 32));
	iw_put_be32(p + 4, (uint32_t)v);
}

static unsigned bucket_of(uint64_t us)
{
	if (us < 1000)
		return (unsigned)(us / 10); /* 0..99 */
	if (us < 10000)
		return 100 + (unsigned)((us - 1000) / 100); /* 100..189 */
	if (us < 100000)
		return 190 + (unsigned)((us - 10000) / 1000); /* 190..279 */
	if (us < 1000000)
		return 280 + (unsigned)((us - 100000) / 10000); /* 280..369 */
	return IW_PROBE_RTT_BUCKETS - 1;
}

static uint64_t bucket_top(unsigned b)
{
	if (b < 100)
		return (b + 1) * 10ull;
	if (b < 190)
		return 1000 + (b - 99) * 100ull;
	if (b < 280)
		return 10000 + (b - 189) * 1000ull;
	if (b < 370)
		return 100000 + (b - 279) * 10000ull;
	return 1000000;
}

void iw_probe_hist_add(struct iw_probe_hist *h, uint64_t us)
{
	h->b[bucket_of(us)]++;
	h->n++;
}

void iw_probe_hist_merge(struct iw_probe_hist *dst, const struct iw_probe_hist *src)
{
	for (unsigned i = 0; i < IW_PROBE_RTT_BUCKETS; i++)
		dst->b[i] += src->b[i];
	dst->n += src->n;
}

uint64_t iw_probe_hist_quantile(const struct iw_probe_hist *h, double q)
{
	if (!h->n)
		return 0;
	uint64_t want = (uint64_t)(q * (double)h->n);
	if (want >= h->n)
		want = h->n - 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < IW_PROBE_RTT_BUCKETS; i++) {
		seen += h->b[i];
		if (seen > want)
			return bucket_top(i);
	}
	return bucket_top(IW_PROBE_RTT_BUCKETS - 1);
}

int iw_probe_srtp_global_init(const char **why)
{
	if (srtp_init() != srtp_err_status_ok) {
		*why = "libsrtp initialisation failed";
		return -EIO;
	}
	return 0;
}

static int make_ctx(srtp_t *ctx, const uint8_t key[IW_PROBE_SRTP_MASTER_LEN], bool outbound)
{
	srtp_policy_t p;
	uint8_t k[IW_PROBE_SRTP_MASTER_LEN];

	memset(&p, 0, sizeof p);
	memcpy(k, key, sizeof k);
	srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtp);
	srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtcp);
	p.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
	p.key = k;
	p.window_size = 128;
	p.allow_repeat_tx = 0;
	srtp_err_status_t e = srtp_create(ctx, &p);
	memset(k, 0, sizeof k);
	return e == srtp_err_status_ok ? 0 : -EIO;
}

int iw_probe_media_init(struct iw_probe_media *m, const uint8_t local[IW_PROBE_SRTP_MASTER_LEN],
			const uint8_t remote[IW_PROBE_SRTP_MASTER_LEN], size_t payload_len, uint32_t total,
			uint32_t rate, const char **why)
{
	uint8_t r[8];

	memset(m, 0, sizeof *m);
	if (payload_len < IW_PROBE_PAYLOAD_MIN || payload_len > IW_PROBE_PAYLOAD_MAX || !rate) {
		*why = "payload size out of range";
		return -EINVAL;
	}
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
		*why = "getrandom failed";
		return -EIO;
	}
	m->ssrc = iw_be32(r);
	m->seq = iw_be16(r + 4); /* RFC 3550 §5.1: the initial value SHOULD be random */
	m->ts = iw_be32(r + 4) ^ m->ssrc;
	m->payload_len = payload_len;
	m->total = total;
	m->ts_step = IW_PROBE_CLOCK_HZ / rate ? IW_PROBE_CLOCK_HZ / rate : 1;
	if (make_ctx(&m->tx, local, true) || make_ctx(&m->rx, remote, false)) {
		iw_probe_media_fini(m);
		*why = "srtp_create failed";
		return -EIO;
	}
	return 0;
}

void iw_probe_media_fini(struct iw_probe_media *m)
{
	if (m->tx)
		srtp_dealloc(m->tx);
	if (m->rx)
		srtp_dealloc(m->rx);
	m->tx = m->rx = NULL;
}

int iw_probe_media_next(struct iw_probe_media *m, uint8_t *buf, size_t cap, uint64_t now_us)
{
	size_t len = IW_PROBE_RTP_HDR + m->payload_len;
	if (cap < len + IW_PROBE_SRTP_TRAILER)
		return -EMSGSIZE;
	/* RTP fixed header, RFC 3550 §5.1: V=2, no padding/extension/CSRC. */
	buf[0] = 0x80;
	buf[1] = IW_PROBE_PT;
	iw_put_be16(buf + 2, m->seq);
	iw_put_be32(buf + 4, m->ts);
	iw_put_be32(buf + 8, m->ssrc);
	uint8_t *pl = buf + IW_PROBE_RTP_HDR;
	put_be64(pl, now_us);
	put_be64(pl + 8, m->echo_ts_us);
	uint64_t hold = m->echo_ts_us ? now_us - m->echo_rx_us : 0;
	iw_put_be32(pl + 16, hold > UINT32_MAX ? UINT32_MAX : (uint32_t)hold);
	iw_put_be32(pl + 20, m->total);
	memset(pl + IW_PROBE_PAYLOAD_MIN, 0xa5, m->payload_len - IW_PROBE_PAYLOAD_MIN);

	int n = (int)len;
	if (srtp_protect(m->tx, buf, &n) != srtp_err_status_ok)
		return -EIO;
	m->seq++;
	m->ts += m->ts_step; /* the timestamp advances with the sending clock */
	m->st.sent++;
	m->st.sent_bytes += m->payload_len;
	return n;
}

static void account_seq(struct iw_probe_media *m, uint16_t seq)
{
	if (!m->rx_started) {
		m->rx_started = true;
		m->base_seq = seq;
		m->max_seq = seq;
		return;
	}
	uint16_t delta = (uint16_t)(seq - m->max_seq);
	if (delta != 0 && delta < 0x8000) {
		if (seq < m->max_seq)
			m->cycles += 65536;
		m->max_seq = seq;
	} else {
		m->st.out_of_order++;
	}
}

int iw_probe_media_receive(struct iw_probe_media *m, uint8_t *buf, size_t len, uint64_t now_us)
{
	if (len < IW_PROBE_RTP_HDR + IW_PROBE_SRTP_TRAILER || len > IW_PROBE_DGRAM_MAX) {
		m->st.other_fail++;
		return -EBADMSG;
	}
	int n = (int)len;
	srtp_err_status_t e = srtp_unprotect(m->rx, buf, &n);
	if (e == srtp_err_status_auth_fail) {
		m->st.auth_fail++;
		return -EACCES;
	}
	if (e == srtp_err_status_replay_fail || e == srtp_err_status_replay_old) {
		m->st.replayed++;
		return -EALREADY;
	}
	if (e != srtp_err_status_ok || n < IW_PROBE_RTP_HDR + IW_PROBE_PAYLOAD_MIN ||
	    (buf[0] & 0xc0) != 0x80) {
		m->st.other_fail++;
		return -EBADMSG;
	}
	uint16_t seq = iw_be16(buf + 2);
	uint32_t ts = iw_be32(buf + 4);
	const uint8_t *pl = buf + IW_PROBE_RTP_HDR;

	account_seq(m, seq);
	m->st.expected = m->cycles + m->max_seq - m->base_seq + 1;
	m->st.received++;
	m->st.rx_bytes += (uint64_t)n - IW_PROBE_RTP_HDR;
	if (!m->st.first_rx_us)
		m->st.first_rx_us = now_us;
	m->st.last_rx_us = now_us;
	m->st.peer_total = iw_be32(pl + 20);

	/* RFC 3550 §6.4.1 interarrival jitter, in timestamp units. */
	int64_t arrival = (int64_t)(now_us * IW_PROBE_CLOCK_HZ / 1000000);
	int64_t transit = arrival - (int64_t)ts;
	if (m->st.received > 1) {
		int64_t d = transit - m->last_transit;
		if (d < 0)
			d = -d;
		m->jitter += ((double)d - m->jitter) / 16.0;
		m->st.jitter_ms = m->jitter * 1000.0 / IW_PROBE_CLOCK_HZ;
	}
	m->last_transit = transit;

	uint64_t echo = get_be64(pl + 8);
	uint32_t hold = iw_be32(pl + 16);
	if (echo && now_us >= echo + hold)
		iw_probe_hist_add(&m->st.rtt, now_us - echo - hold);
	m->echo_ts_us = get_be64(pl);
	m->echo_rx_us = now_us;
	return 0;
}
