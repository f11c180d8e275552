/* SRTP media for the probe: RTP packets at a steady rate, protected and unprotected with
 * libsrtp (AES_CM_128_HMAC_SHA1_80), and the receive statistics a call quality report needs:
 * loss and order from sequence numbers, RFC 3550 §6.4.1 jitter, and round-trip time from an
 * echoed send time (the idea of RTCP LSR/DLSR, carried in the payload). */
#ifndef IW_PROBE_MEDIA_H
#define IW_PROBE_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <srtp2/srtp.h>

#include "tools/probe/dtls.h"

enum {
	IW_PROBE_RTP_HDR = 12,
	IW_PROBE_PAYLOAD_MIN = 24, /* the probe's own fields, see media.c */
	IW_PROBE_PAYLOAD_MAX = 1200,
	IW_PROBE_SRTP_TRAILER = 16, /* auth tag room (10 used) */
	IW_PROBE_RTT_BUCKETS = 400,
	IW_PROBE_PT = 111,
	IW_PROBE_CLOCK_HZ = 48000,
};

/* Round-trip time histogram: 10 us steps below 1 ms, 100 us to 10 ms, 1 ms to 100 ms,
 * 10 ms to 1 s, then one overflow bucket. Bounded, and sums across calls. */
struct iw_probe_hist {
	uint32_t b[IW_PROBE_RTT_BUCKETS];
	uint64_t n;
};

void iw_probe_hist_add(struct iw_probe_hist *h, uint64_t us);
void iw_probe_hist_merge(struct iw_probe_hist *dst, const struct iw_probe_hist *src);
/* The q-quantile (0..1) in microseconds (bucket upper bound), 0 when empty. */
uint64_t iw_probe_hist_quantile(const struct iw_probe_hist *h, double q);

struct iw_probe_media_stats {
	uint64_t sent, sent_bytes;
	uint64_t received, rx_bytes; /* authenticated packets */
	uint64_t expected;           /* from the sequence numbers, RFC 3550 §A.3 */
	uint64_t out_of_order;       /* arrived after a higher sequence number */
	uint64_t replayed;           /* rejected by the SRTP replay window */
	uint64_t auth_fail;          /* rejected by the SRTP authentication tag */
	uint64_t other_fail;         /* too short, not RTP, other SRTP errors */
	uint32_t peer_total;         /* packets the peer says it will send (0 unknown) */
	uint64_t first_rx_us, last_rx_us;
	double jitter_ms;
	struct iw_probe_hist rtt;
};

struct iw_probe_media {
	srtp_t tx, rx;
	uint32_t ssrc;
	uint16_t seq;
	uint32_t ts;
	uint32_t total;   /* packets this side will send */
	uint32_t ts_step; /* RTP clock units per packet at the configured rate */
	size_t payload_len;
	/* receive side */
	bool rx_started;
	uint32_t peer_ssrc;
	uint16_t max_seq;
	uint32_t cycles, base_seq;
	int64_t last_transit; /* in RTP clock units */
	double jitter;        /* RFC 3550 J, in RTP clock units */
	uint64_t echo_ts_us;  /* peer send time of the latest packet, echoed back */
	uint64_t echo_rx_us;  /* when it arrived */
	struct iw_probe_media_stats st;
};

/* Process-wide libsrtp set-up. 0 or < 0 with *why. */
int iw_probe_srtp_global_init(const char **why);

/* Create the sending and receiving SRTP contexts from the DTLS-exported master keys.
 * total is the number of packets this side will send (carried in every packet so the peer
 * knows when it has everything). 0 or < 0 with *why. */
int iw_probe_media_init(struct iw_probe_media *m, const uint8_t local[IW_PROBE_SRTP_MASTER_LEN],
			const uint8_t remote[IW_PROBE_SRTP_MASTER_LEN], size_t payload_len, uint32_t total,
			uint32_t rate, const char **why);
void iw_probe_media_fini(struct iw_probe_media *m);

/* Build and protect the next packet into buf (cap >= header + payload + trailer).
 * Returns the SRTP length or < 0. The caller sends it; media counts it as sent. */
int iw_probe_media_next(struct iw_probe_media *m, uint8_t *buf, size_t cap, uint64_t now_us);

/* Unprotect (in place) and account for a received SRTP packet. Returns 0, or < 0 when it
 * was rejected (counted in the stats by reason). */
int iw_probe_media_receive(struct iw_probe_media *m, uint8_t *buf, size_t len, uint64_t now_us);

#endif
