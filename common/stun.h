/* STUN/TURN wire codec (RFC 8489, RFC 8656, RFC 6156): classify, decode into views, encode,
 * ChannelData framing. Knows bytes and RFCs only: no sockets, allocations or rooms. */
#ifndef IW_COMMON_STUN_H
#define IW_COMMON_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "common/bytes.h"

/*
 * RFC 8489 §5: STUN message header
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |0 0|     STUN Message Type     |         Message Length        |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                         Magic Cookie                          |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                     Transaction ID (96 bits)                  |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 *    Message Type: M11..M7 C1 M6..M4 C0 M3..M0 (method and class bits interleaved)
 */
enum {
	STUN_HEADER_LEN = 20,
	STUN_TID_LEN = 12,
	STUN_MAGIC_COOKIE = 0x2112A442,
	STUN_FINGERPRINT_XOR = 0x5354554E,
};

enum iw_stun_class {
	STUN_CLASS_REQUEST = 0,
	STUN_CLASS_INDICATION = 1,
	STUN_CLASS_SUCCESS = 2,
	STUN_CLASS_ERROR = 3,
};

enum {
	STUN_METHOD_BINDING = 0x001,
	TURN_METHOD_ALLOCATE = 0x003,
	TURN_METHOD_REFRESH = 0x004,
	TURN_METHOD_SEND = 0x006,
	TURN_METHOD_DATA = 0x007,
	TURN_METHOD_CREATE_PERMISSION = 0x008,
	TURN_METHOD_CHANNEL_BIND = 0x009,
	TURN_METHOD_CONNECT = 0x00A,            /* RFC 6062 §4.3 */
	TURN_METHOD_CONNECTION_BIND = 0x00B,    /* RFC 6062 §4.3 */
	TURN_METHOD_CONNECTION_ATTEMPT = 0x00C, /* RFC 6062 §4.4, an indication */
};

/* Build the 14-bit message type from method and class (RFC 8489 §5 interleaving). */
#define STUN_TYPE(method, cls)                                                                \
	((uint16_t)((((method)&0x0f80) << 2) | (((method)&0x0070) << 1) | ((method)&0x000f) | \
		    (((cls)&0x2) << 7) | (((cls)&0x1) << 4)))
#define STUN_TYPE_METHOD(t) ((uint16_t)((((t)&0x3e00) >> 2) | (((t)&0x00e0) >> 1) | ((t)&0x000f)))
#define STUN_TYPE_CLASS(t) ((uint8_t)((((t)&0x0100) >> 7) | (((t)&0x0010) >> 4)))

/* Attribute types. 0x0000-0x7FFF are comprehension-required. */
enum {
	STUN_ATTR_MAPPED_ADDRESS = 0x0001,
	STUN_ATTR_CHANGE_REQUEST = 0x0003, /* RFC 5780 §7.2 */
	STUN_ATTR_USERNAME = 0x0006,
	STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
	STUN_ATTR_ERROR_CODE = 0x0009,
	STUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
	STUN_ATTR_CHANNEL_NUMBER = 0x000C,
	STUN_ATTR_LIFETIME = 0x000D,
	STUN_ATTR_XOR_PEER_ADDRESS = 0x0012,
	STUN_ATTR_DATA = 0x0013,
	STUN_ATTR_REALM = 0x0014,
	STUN_ATTR_NONCE = 0x0015,
	STUN_ATTR_XOR_RELAYED_ADDRESS = 0x0016,
	STUN_ATTR_REQUESTED_ADDRESS_FAMILY = 0x0017,
	STUN_ATTR_EVEN_PORT = 0x0018,
	STUN_ATTR_REQUESTED_TRANSPORT = 0x0019,
	STUN_ATTR_DONT_FRAGMENT = 0x001A,
	STUN_ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001C,
	STUN_ATTR_PASSWORD_ALGORITHM = 0x001D,
	STUN_ATTR_USERHASH = 0x001E,
	STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
	STUN_ATTR_RESERVATION_TOKEN = 0x0022,
	STUN_ATTR_PRIORITY = 0x0024,
	STUN_ATTR_USE_CANDIDATE = 0x0025,
	STUN_ATTR_PADDING = 0x0026,
	STUN_ATTR_RESPONSE_PORT = 0x0027,
	STUN_ATTR_CONNECTION_ID = 0x002A, /* RFC 6062 §6.2 */
	STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY = 0x8000,
	STUN_ATTR_ADDRESS_ERROR_CODE = 0x8001,
	STUN_ATTR_PASSWORD_ALGORITHMS = 0x8002,
	STUN_ATTR_ALTERNATE_DOMAIN = 0x8003,
	STUN_ATTR_ICMP = 0x8004,
	STUN_ATTR_SOFTWARE = 0x8022,
	STUN_ATTR_ALTERNATE_SERVER = 0x8023,
	STUN_ATTR_FINGERPRINT = 0x8028,
	STUN_ATTR_ICE_CONTROLLED = 0x8029,
	STUN_ATTR_ICE_CONTROLLING = 0x802A,
	STUN_ATTR_RESPONSE_ORIGIN = 0x802B,
	STUN_ATTR_OTHER_ADDRESS = 0x802C,
	STUN_ATTR_MOBILITY_TICKET = 0x8030, /* RFC 8016 */
};

/* Values carried by attributes. */
enum {
	STUN_PASSWORD_ALG_MD5 = 0x0001,
	STUN_PASSWORD_ALG_SHA256 = 0x0002,
	STUN_FAMILY_IPV4 = 0x01,
	STUN_FAMILY_IPV6 = 0x02,
	STUN_CHANGE_IP = 0x04, /* RFC 5780 §7.2: the flags of CHANGE-REQUEST */
	STUN_CHANGE_PORT = 0x02,
	TURN_TRANSPORT_UDP = 17,
	TURN_TRANSPORT_TCP = 6,
	TURN_CHANNEL_MIN = 0x4000,
	TURN_CHANNEL_MAX = 0x4FFF, /* RFC 8656 §12: 0x5000-0x7FFF are reserved */
	STUN_MI_LEN = 20,
	STUN_MI_SHA256_MAX = 32,
	STUN_USERHASH_LEN = 32,
	STUN_RESERVATION_TOKEN_LEN = 8,
	STUN_MAX_UNKNOWN = 8,    /* unknown comprehension-required attrs kept for a 420 */
	STUN_MAX_PEERS = 8,      /* XOR-PEER-ADDRESS attrs kept (CreatePermission may carry several) */
	STUN_MAX_PW_ALGS = 4,    /* PASSWORD-ALGORITHMS entries kept */
	STUN_MAX_USERNAME = 513, /* RFC 8489 §14.3: < 513 bytes */
	STUN_MAX_REALM = 763,    /* RFC 8489 §14.9: < 128 characters, < 763 bytes */
	STUN_MAX_NONCE = 763,
	STUN_MAX_REASON = 763,
	STUN_MAX_MOBILITY_TICKET = 256, /* longer than any ticket this relay hands out */
};

/* Error codes the relay sends (RFC 8489 §14.8, RFC 8656 §19). */
enum {
	STUN_ERR_TRY_ALTERNATE = 300,
	STUN_ERR_BAD_REQUEST = 400,
	STUN_ERR_UNAUTHORIZED = 401,
	STUN_ERR_FORBIDDEN = 403,
	STUN_ERR_MOBILITY_FORBIDDEN = 405, /* RFC 8016 §3.4 */
	STUN_ERR_UNKNOWN_ATTRIBUTE = 420,
	STUN_ERR_ALLOCATION_MISMATCH = 437,
	STUN_ERR_STALE_NONCE = 438,
	STUN_ERR_ADDRESS_FAMILY = 440,
	STUN_ERR_WRONG_CREDENTIALS = 441,
	STUN_ERR_UNSUPPORTED_TRANSPORT = 442,
	STUN_ERR_PEER_FAMILY_MISMATCH = 443,
	STUN_ERR_CONNECTION_EXISTS = 446,  /* RFC 6062 §6.3 */
	STUN_ERR_CONNECTION_FAILURE = 447, /* RFC 6062 §6.3: timeout or failure */
	STUN_ERR_ALLOCATION_QUOTA = 486,
	STUN_ERR_SERVER_ERROR = 500,
	STUN_ERR_INSUFFICIENT_CAPACITY = 508,
};

/* A view into the datagram: valid as long as the datagram buffer is. */
struct iw_stun_view {
	const uint8_t *p;
	uint16_t len;
};

/* Bits of iw_stun_msg.present: one per attribute the decoder understands. */
enum {
	IW_STUN_HAS_USERNAME = 1u << 0,
	IW_STUN_HAS_USERHASH = 1u << 1,
	IW_STUN_HAS_MI = 1u << 2,
	IW_STUN_HAS_MI_SHA256 = 1u << 3,
	IW_STUN_HAS_FINGERPRINT = 1u << 4,
	IW_STUN_HAS_ERROR_CODE = 1u << 5,
	IW_STUN_HAS_REALM = 1u << 6,
	IW_STUN_HAS_NONCE = 1u << 7,
	IW_STUN_HAS_SOFTWARE = 1u << 8,
	IW_STUN_HAS_CHANNEL = 1u << 9,
	IW_STUN_HAS_LIFETIME = 1u << 10,
	IW_STUN_HAS_PEER = 1u << 11,
	IW_STUN_HAS_DATA = 1u << 12,
	IW_STUN_HAS_RELAYED = 1u << 13,
	IW_STUN_HAS_MAPPED = 1u << 14,     /* XOR-MAPPED-ADDRESS */
	IW_STUN_HAS_REQ_FAMILY = 1u << 15, /* REQUESTED-ADDRESS-FAMILY */
	IW_STUN_HAS_ADD_FAMILY = 1u << 16, /* ADDITIONAL-ADDRESS-FAMILY (RFC 8656 dual allocation) */
	IW_STUN_HAS_EVEN_PORT = 1u << 17,
	IW_STUN_HAS_REQ_TRANSPORT = 1u << 18,
	IW_STUN_HAS_DONT_FRAGMENT = 1u << 19,
	IW_STUN_HAS_RES_TOKEN = 1u << 20,
	IW_STUN_HAS_PW_ALG = 1u << 21,  /* PASSWORD-ALGORITHM */
	IW_STUN_HAS_PW_ALGS = 1u << 22, /* PASSWORD-ALGORITHMS */
	IW_STUN_HAS_UNKNOWN = 1u << 23, /* UNKNOWN-ATTRIBUTES (in a 420 response) */
	IW_STUN_HAS_ALT_SERVER = 1u << 24,
	IW_STUN_HAS_ICMP = 1u << 25,
	IW_STUN_HAS_CHANGE_REQ = 1u << 26,  /* CHANGE-REQUEST (RFC 5780) */
	IW_STUN_HAS_OTHER_ADDR = 1u << 27,  /* OTHER-ADDRESS (in a Binding answer) */
	IW_STUN_HAS_RESP_ORIGIN = 1u << 28, /* RESPONSE-ORIGIN (in a Binding answer) */
	IW_STUN_HAS_MOBILITY = 1u << 29,    /* MOBILITY-TICKET (RFC 8016) */
	IW_STUN_HAS_CONN_ID = 1u << 30,     /* CONNECTION-ID (RFC 6062) */
};

/*
 * A decoded message: views into the caller's buffer and a few decoded values, a few hundred
 * bytes. The decoder sets every field it reports through `present` and the counters; fields
 * whose bit is clear are undefined (the decoder does not zero the whole struct per datagram).
 */
struct iw_stun_msg {
	const uint8_t *buf; /* the whole message, STUN_HEADER_LEN + attribute length */
	size_t len;
	uint16_t type;
	uint16_t method;
	uint8_t cls;
	const uint8_t *tid; /* 12 bytes, into buf */
	uint32_t present;

	struct iw_stun_view username, userhash, realm, nonce, software, data, reason;
	struct iw_stun_view res_token; /* 8 bytes */
	struct iw_stun_view mobility;  /* MOBILITY-TICKET: opaque, empty in an Allocate */
	struct iw_addr mapped, relayed, alt_server;
	struct iw_addr other_addr, resp_origin; /* RFC 5780 §7.4, §7.3 */
	uint8_t change_flags;                   /* STUN_CHANGE_IP | STUN_CHANGE_PORT */
	struct iw_addr peers[STUN_MAX_PEERS];   /* XOR-PEER-ADDRESS, in order */
	uint8_t n_peers;                        /* kept, <= STUN_MAX_PEERS */
	bool peers_overflow;                    /* more than STUN_MAX_PEERS were present */
	uint32_t lifetime;
	uint16_t channel;
	uint32_t conn_id;      /* CONNECTION-ID, as the 32 bits read big-endian */
	uint16_t error_code;   /* 300..699 */
	uint8_t req_transport; /* protocol number: 17 UDP */
	uint8_t req_family;    /* STUN_FAMILY_IPV4/IPV6 */
	uint8_t add_family;
	bool even_port_reserve; /* the R bit of EVEN-PORT */
	uint16_t pw_alg;        /* PASSWORD-ALGORITHM */
	struct iw_stun_view pw_alg_params;
	uint16_t pw_algs[STUN_MAX_PW_ALGS]; /* PASSWORD-ALGORITHMS */
	uint8_t n_pw_algs;
	struct iw_stun_view pw_algs_raw;    /* the attribute value, for the RFC 8489 §9.2.4 bid-down check */
	uint16_t unknown[STUN_MAX_UNKNOWN]; /* unknown comprehension-required types seen */
	uint8_t n_unknown;
	uint16_t unknown_attrs[STUN_MAX_UNKNOWN]; /* the UNKNOWN-ATTRIBUTES attribute (in a 420) */
	uint8_t n_unknown_attrs;

	/* Byte offsets from buf of the attribute *header* (type field), 0 when absent.
	 * Integrity is checked over the original bytes up to these. */
	uint16_t mi_off, mi256_off, fp_off;
	uint8_t mi256_len; /* 16..32 */
};

/* What a datagram is, from its first bytes only (cheap, no decode). */
enum iw_pkt_kind {
	IW_PKT_OTHER = 0, /* drop and count */
	IW_PKT_STUN,      /* first byte 0x00-0x3F, magic cookie, len%4==0, exact length */
	IW_PKT_CHANDATA,  /* first byte 0x40-0x4F (RFC 8656 §12) */
};

/* Classify a datagram. For STUN, the header length must match len exactly; for ChannelData,
 * the length field must fit in len (padding up to 4 may follow). */
enum iw_pkt_kind iw_stun_classify(const uint8_t *p, size_t len);

/*
 * Decode the STUN message in p[0..len). len must equal STUN_HEADER_LEN + the header length.
 * Each attribute value is decoded from a reader bounded by its own length, with exact length
 * checks per type. RFC 8489 §14.5/§14.7 order rules: attributes after MESSAGE-INTEGRITY are
 * ignored except MESSAGE-INTEGRITY-SHA256 and FINGERPRINT; anything after FINGERPRINT is an
 * error. Unknown comprehension-required types are collected into m->unknown (not an error:
 * the caller answers 420). Views point into p.
 * Returns 0, or -EBADMSG with *why set to a short reason for the 400 and the log.
 */
int iw_stun_decode(struct iw_stun_msg *m, const uint8_t *p, size_t len, const char **why);

/* Decode an XOR-*-ADDRESS value (family, port, address XORed with cookie and tid). Returns 0
 * or -EBADMSG with *why. Exposed for tests and the probe. */
int iw_stun_xaddr_decode(struct iw_addr *a, const uint8_t *v, size_t len, const uint8_t *tid,
			 const char **why);

/*
 * Encoder. Writes a header, then attributes; the header length field is kept up to date
 * after every attribute, so MESSAGE-INTEGRITY (common/stun_auth.h) can be appended at any
 * point. A write that does not fit sets w.overflow and later writes do nothing.
 */
struct iw_stun_wr {
	struct iw_wr w;
};

/* Start a message in buf[0..cap). tid is copied (12 bytes). */
void iw_stun_wr_init(struct iw_stun_wr *s, uint8_t *buf, size_t cap, uint16_t method, uint8_t cls,
		     const uint8_t *tid);
/* Append a raw attribute (value is padded to 4 with zeros). */
void iw_stun_wr_attr(struct iw_stun_wr *s, uint16_t type, const void *val, size_t len);
void iw_stun_wr_u32(struct iw_stun_wr *s, uint16_t type, uint32_t v);
/* XOR-MAPPED/PEER/RELAYED-ADDRESS (XORed with the message's cookie and tid). */
void iw_stun_wr_xaddr(struct iw_stun_wr *s, uint16_t type, const struct iw_addr *a);
/* Plain (non-XOR) address attribute, e.g. ALTERNATE-SERVER, MAPPED-ADDRESS. */
void iw_stun_wr_addr(struct iw_stun_wr *s, uint16_t type, const struct iw_addr *a);
/* ERROR-CODE with class/number split and the reason phrase (NULL: the RFC's phrase). */
void iw_stun_wr_error(struct iw_stun_wr *s, uint16_t code, const char *reason);
/* ADDRESS-ERROR-CODE (RFC 8656 §18.12): why the allocation for one family (STUN_FAMILY_IPV4
 * or STUN_FAMILY_IPV6) failed while another succeeded; reason as for iw_stun_wr_error. */
void iw_stun_wr_addr_error(struct iw_stun_wr *s, uint8_t family, uint16_t code, const char *reason);
void iw_stun_wr_unknown(struct iw_stun_wr *s, const uint16_t *types, size_t n);
/* Finish: returns the total message length, or -EMSGSIZE if anything did not fit. */
int iw_stun_wr_finish(struct iw_stun_wr *s);

/*
 * Build a Data indication (RFC 8656 §11.4) around a payload that is already in place, without
 * moving it: the header, XOR-PEER-ADDRESS and DATA attribute header are written into the
 * IW_STUN_DATA_IND_HEADROOM bytes before payload (only as many as needed), and up to 3 zero
 * bytes of padding after it (the caller provides that tailroom). Returns the start of the
 * message and sets *total to its length.
 */
enum { IW_STUN_DATA_IND_HEADROOM = STUN_HEADER_LEN + 4 + 20 + 4, IW_STUN_TAILROOM = 3 };
uint8_t *iw_stun_data_ind_wrap(uint8_t *payload, size_t plen, const struct iw_addr *peer, const uint8_t *tid,
			       size_t *total);

/* The RFC reason phrase for an error code ("Unauthorized", ...), "Error" if unknown. */
const char *iw_stun_err_reason(uint16_t code);

/*
 * RFC 8656 §12.4: ChannelData message
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |         Channel Number        |            Length             |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    /                       Application Data                        /
 *    +-------------------------------+-------------------------------+
 *
 * Over UDP the padding to 4 is optional (RFC 8656 §12.5), so the datagram may be up to 3
 * bytes longer than 4 + Length.
 */
enum { TURN_CHANDATA_HDR = 4 };

/* Parse a ChannelData header. true if channel is in 0x4000-0x4FFF and 4 + length <= len. */
static inline bool iw_chandata_parse(const uint8_t *p, size_t len, uint16_t *chan, uint16_t *dlen)
{
	if (len < TURN_CHANDATA_HDR)
		return false;
	uint16_t c = iw_be16(p), l = iw_be16(p + 2);
	if (c < TURN_CHANNEL_MIN || c > TURN_CHANNEL_MAX || (size_t)l + TURN_CHANDATA_HDR > len)
		return false;
	*chan = c;
	*dlen = l;
	return true;
}

/*
 * RFC 8656 §12.5 stream framing (TCP and TLS): a STUN message is 20 bytes plus its length
 * field, a multiple of 4 (RFC 8489 §5); a ChannelData message (first two bits 01) is 4 bytes
 * plus its length field, then padding to 4. Finds the frame at the start of p[0..avail) from
 * its first 4 bytes, without decoding it. Returns 1 when the whole frame is there (*len: the
 * message, *total: with its padding), 0 when more bytes are needed (*total: the frame's size
 * once its header is in, else 0), -EBADMSG when the bytes start no frame (a stream cannot be
 * re-synchronised after that), -EMSGSIZE when the frame would be longer than max.
 */
int iw_stun_frame_next(const uint8_t *p, size_t avail, size_t max, size_t *len, size_t *total);

/* Write a ChannelData header into the 4 bytes at p (headroom before the payload). */
static inline void iw_chandata_put(uint8_t *p, uint16_t chan, uint16_t dlen)
{
	iw_put_be16(p, chan);
	iw_put_be16(p + 2, dlen);
}

#endif
