/* STUN/TURN wire codec: classify, decode into views, encode, Data indication framing.
 * No key material here (common/stun_auth.c) and no sockets. */
#include "common/stun.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

enum iw_pkt_kind iw_stun_classify(const uint8_t *p, size_t len)
{
	if (len < TURN_CHANDATA_HDR)
		return IW_PKT_OTHER;
	if (p[0] < 0x40) {
		/* RFC 8489 §5: top two bits zero, magic cookie, length a multiple of 4 that
		 * covers the datagram exactly. */
		if (len < STUN_HEADER_LEN || iw_be32(p + 4) != STUN_MAGIC_COOKIE)
			return IW_PKT_OTHER;
		size_t hl = iw_be16(p + 2);
		if (hl % 4 != 0 || STUN_HEADER_LEN + hl != len)
			return IW_PKT_OTHER;
		return IW_PKT_STUN;
	}
	if (p[0] <= 0x4F) {
		/* RFC 8656 §12.5: over UDP the data may be followed by up to 3 bytes of
		 * padding; anything longer is not a ChannelData message. */
		size_t need = TURN_CHANDATA_HDR + (size_t)iw_be16(p + 2);
		if (need > len || len - need > 3)
			return IW_PKT_OTHER;
		return IW_PKT_CHANDATA;
	}
	return IW_PKT_OTHER;
}

int iw_stun_frame_next(const uint8_t *p, size_t avail, size_t max, size_t *len, size_t *total)
{
	*len = *total = 0;
	if (avail < TURN_CHANDATA_HDR)
		return 0;
	size_t l = iw_be16(p + 2);
	if ((p[0] & 0xC0) == 0) {
		if (l % 4)
			return -EBADMSG;
		*len = *total = STUN_HEADER_LEN + l;
	} else if ((p[0] & 0xC0) == 0x40) {
		*len = TURN_CHANDATA_HDR + l;
		*total = iw_pad4(*len);
	} else {
		return -EBADMSG;
	}
	if (*total > max)
		return -EMSGSIZE;
	return avail >= *total;
}

static int bad(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return -EBADMSG;
}

/* Plain or XORed address value. xor_tid is NULL for a plain address. */
static int addr_decode(struct iw_addr *a, const uint8_t *v, size_t len, const uint8_t *xor_tid,
		       const char **why)
{
	if (len < 4)
		return bad(why, "address attribute too short");
	uint8_t fam = v[1];
	uint16_t port = iw_be16(v + 2);
	memset(a, 0, sizeof *a);
	if (xor_tid)
		port ^= (uint16_t)(STUN_MAGIC_COOKIE >> 16);
	a->port = port;
	if (fam == STUN_FAMILY_IPV4) {
		if (len != 8)
			return bad(why, "IPv4 address attribute not 8 bytes");
		a->family = AF_INET;
		uint32_t ip = iw_be32(v + 4);
		if (xor_tid)
			ip ^= STUN_MAGIC_COOKIE;
		iw_put_be32(a->ip, ip);
		return 0;
	}
	if (fam == STUN_FAMILY_IPV6) {
		if (len != 20)
			return bad(why, "IPv6 address attribute not 20 bytes");
		a->family = AF_INET6;
		memcpy(a->ip, v + 4, 16);
		if (xor_tid) {
			/* RFC 8489 §14.2: XOR with the magic cookie followed by the tid. */
			uint8_t mask[16];
			iw_put_be32(mask, STUN_MAGIC_COOKIE);
			memcpy(mask + 4, xor_tid, STUN_TID_LEN);
			for (int i = 0; i < 16; i++)
				a->ip[i] ^= mask[i];
		}
		return 0;
	}
	memset(a, 0, sizeof *a);
	return bad(why, "bad address family");
}

int iw_stun_xaddr_decode(struct iw_addr *a, const uint8_t *v, size_t len, const uint8_t *tid,
			 const char **why)
{
	return addr_decode(a, v, len, tid, why);
}

/* RFC 8489 §14.11/§14.12: Algorithm (16), Parameters Length (16), Parameters, padded to 4.
 * Reads one entry from r; the padding is only required between entries (pad). */
static bool pw_alg_read(struct iw_rd *r, uint16_t *alg, struct iw_stun_view *params, bool pad)
{
	uint16_t plen;
	struct iw_rd sub;
	if (!iw_rd_u16(r, alg) || !iw_rd_u16(r, &plen) || !iw_rd_take(r, plen, &sub))
		return false;
	params->p = sub.p;
	params->len = plen;
	if (pad && !iw_rd_skip(r, iw_pad4(plen) - plen))
		return false;
	return true;
}

static void add_unknown(struct iw_stun_msg *m, uint16_t type)
{
	for (uint8_t i = 0; i < m->n_unknown; i++)
		if (m->unknown[i] == type)
			return;
	if (m->n_unknown < STUN_MAX_UNKNOWN)
		m->unknown[m->n_unknown++] = type;
}

static void view_set(struct iw_stun_view *v, const struct iw_rd *r)
{
	v->p = r->p;
	v->len = (uint16_t)iw_rd_left(r);
}

/* Offset of the attribute header whose value v starts at; the offsets in iw_stun_msg are 16
 * bits, so an integrity attribute deeper than that cannot be recorded. */
static bool attr_off(const struct iw_stun_msg *m, const struct iw_rd *v, uint16_t *off)
{
	size_t o = (size_t)(v->p - 4 - m->buf);
	if (o > 0xFFFF)
		return false;
	*off = (uint16_t)o;
	return true;
}

/* Decode one attribute value from its own bounded reader. Returns 0 or -EBADMSG. */
static int attr_decode(struct iw_stun_msg *m, uint16_t type, struct iw_rd *v, const char **why)
{
	size_t len = iw_rd_left(v);
	int err;

	switch (type) {
	case STUN_ATTR_USERNAME:
		/* RFC 8489 §14.3: MUST contain a UTF-8 sequence of fewer than 513 bytes. */
		if (len >= STUN_MAX_USERNAME)
			return bad(why, "USERNAME too long");
		view_set(&m->username, v);
		m->present |= IW_STUN_HAS_USERNAME;
		return 0;
	case STUN_ATTR_USERHASH:
		/* RFC 8489 §14.4: the userhash is 32 bytes. */
		if (len != STUN_USERHASH_LEN)
			return bad(why, "USERHASH not 32 bytes");
		view_set(&m->userhash, v);
		m->present |= IW_STUN_HAS_USERHASH;
		return 0;
	case STUN_ATTR_MESSAGE_INTEGRITY:
		/* RFC 8489 §14.5: HMAC-SHA1, 20 bytes. */
		if (len != STUN_MI_LEN)
			return bad(why, "MESSAGE-INTEGRITY not 20 bytes");
		if (!attr_off(m, v, &m->mi_off))
			return bad(why, "MESSAGE-INTEGRITY too deep in message");
		m->present |= IW_STUN_HAS_MI;
		return 0;
	case STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
		/* RFC 8489 §14.6: at least 16 bytes, at most 32, a multiple of 4. */
		if (len < 16 || len > STUN_MI_SHA256_MAX || len % 4 != 0)
			return bad(why, "bad MESSAGE-INTEGRITY-SHA256 length");
		if (!attr_off(m, v, &m->mi256_off))
			return bad(why, "MESSAGE-INTEGRITY-SHA256 too deep in message");
		m->mi256_len = (uint8_t)len;
		m->present |= IW_STUN_HAS_MI_SHA256;
		return 0;
	case STUN_ATTR_FINGERPRINT:
		if (len != 4)
			return bad(why, "FINGERPRINT not 4 bytes");
		if (!attr_off(m, v, &m->fp_off))
			return bad(why, "FINGERPRINT too deep in message");
		m->present |= IW_STUN_HAS_FINGERPRINT;
		return 0;
	case STUN_ATTR_ERROR_CODE: {
		/* RFC 8489 §14.8: 21 reserved bits, class 3..6, number 0..99, reason. */
		if (len < 4)
			return bad(why, "ERROR-CODE too short");
		uint8_t cls = v->p[2] & 0x07, num = v->p[3];
		if (cls < 3 || cls > 6 || num > 99)
			return bad(why, "bad ERROR-CODE value");
		if (len - 4 >= STUN_MAX_REASON)
			return bad(why, "ERROR-CODE reason too long");
		m->error_code = (uint16_t)(cls * 100 + num);
		m->reason.p = v->p + 4;
		m->reason.len = (uint16_t)(len - 4);
		m->present |= IW_STUN_HAS_ERROR_CODE;
		return 0;
	}
	case STUN_ATTR_REALM:
		/* RFC 8489 §14.9: fewer than 128 characters, which can be up to 763 bytes. */
		if (len >= STUN_MAX_REALM)
			return bad(why, "REALM too long");
		view_set(&m->realm, v);
		m->present |= IW_STUN_HAS_REALM;
		return 0;
	case STUN_ATTR_NONCE:
		/* RFC 8489 §14.10: fewer than 128 characters, up to 763 bytes. */
		if (len >= STUN_MAX_NONCE)
			return bad(why, "NONCE too long");
		view_set(&m->nonce, v);
		m->present |= IW_STUN_HAS_NONCE;
		return 0;
	case STUN_ATTR_SOFTWARE:
		/* RFC 8489 §14.14: fewer than 128 characters, up to 763 bytes. */
		if (len >= STUN_MAX_REASON)
			return bad(why, "SOFTWARE too long");
		view_set(&m->software, v);
		m->present |= IW_STUN_HAS_SOFTWARE;
		return 0;
	case STUN_ATTR_CHANNEL_NUMBER:
		/* RFC 8656 §18.1: channel number and 16 RFFU bits, which "MUST be set to 0
		 * on transmission and MUST be ignored on reception". */
		if (len != 4)
			return bad(why, "CHANNEL-NUMBER not 4 bytes");
		m->channel = iw_be16(v->p);
		m->present |= IW_STUN_HAS_CHANNEL;
		return 0;
	case STUN_ATTR_LIFETIME:
		/* RFC 8656 §18.2: 32-bit seconds. */
		if (len != 4)
			return bad(why, "LIFETIME not 4 bytes");
		m->lifetime = iw_be32(v->p);
		m->present |= IW_STUN_HAS_LIFETIME;
		return 0;
	case STUN_ATTR_XOR_PEER_ADDRESS: {
		/* RFC 8656 §18.3: may appear several times (CreatePermission). */
		struct iw_addr a;
		if ((err = addr_decode(&a, v->p, len, m->tid, why)) < 0)
			return err;
		if (m->n_peers < STUN_MAX_PEERS)
			m->peers[m->n_peers++] = a;
		else
			m->peers_overflow = true;
		m->present |= IW_STUN_HAS_PEER;
		return 0;
	}
	case STUN_ATTR_DATA:
		view_set(&m->data, v);
		m->present |= IW_STUN_HAS_DATA;
		return 0;
	case STUN_ATTR_XOR_RELAYED_ADDRESS:
		if ((err = addr_decode(&m->relayed, v->p, len, m->tid, why)) < 0)
			return err;
		m->present |= IW_STUN_HAS_RELAYED;
		return 0;
	case STUN_ATTR_XOR_MAPPED_ADDRESS:
		if ((err = addr_decode(&m->mapped, v->p, len, m->tid, why)) < 0)
			return err;
		m->present |= IW_STUN_HAS_MAPPED;
		return 0;
	case STUN_ATTR_ALTERNATE_SERVER:
		if ((err = addr_decode(&m->alt_server, v->p, len, NULL, why)) < 0)
			return err;
		m->present |= IW_STUN_HAS_ALT_SERVER;
		return 0;
	case STUN_ATTR_OTHER_ADDRESS:
		/* RFC 5780 §7.4, §7.3: the MAPPED-ADDRESS format, not XORed. */
		if ((err = addr_decode(&m->other_addr, v->p, len, NULL, why)) < 0)
			return err;
		m->present |= IW_STUN_HAS_OTHER_ADDR;
		return 0;
	case STUN_ATTR_RESPONSE_ORIGIN:
		if ((err = addr_decode(&m->resp_origin, v->p, len, NULL, why)) < 0)
			return err;
		m->present |= IW_STUN_HAS_RESP_ORIGIN;
		return 0;
	case STUN_ATTR_CHANGE_REQUEST:
		/* RFC 5780 §7.2: 32 bits, of which only "change IP" (A) and "change port" (B)
		 * mean anything; the rest are sent as 0 and ignored. */
		if (len != 4)
			return bad(why, "CHANGE-REQUEST not 4 bytes");
		m->change_flags = (uint8_t)(v->p[3] & (STUN_CHANGE_IP | STUN_CHANGE_PORT));
		m->present |= IW_STUN_HAS_CHANGE_REQ;
		return 0;
	case STUN_ATTR_REQUESTED_ADDRESS_FAMILY:
		/* RFC 8656 §18.6: family (8) and 24 RFFU bits. An unsupported family is
		 * answered with 440 by the caller, so it is kept rather than rejected. */
		if (len != 4)
			return bad(why, "REQUESTED-ADDRESS-FAMILY not 4 bytes");
		m->req_family = v->p[0];
		m->present |= IW_STUN_HAS_REQ_FAMILY;
		return 0;
	case STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY:
		/* RFC 8656 §18.11: same layout as REQUESTED-ADDRESS-FAMILY. */
		if (len != 4)
			return bad(why, "ADDITIONAL-ADDRESS-FAMILY not 4 bytes");
		m->add_family = v->p[0];
		m->present |= IW_STUN_HAS_ADD_FAMILY;
		return 0;
	case STUN_ATTR_EVEN_PORT:
		/* RFC 8656 §18.7: one byte, R bit first. */
		if (len != 1)
			return bad(why, "EVEN-PORT not 1 byte");
		m->even_port_reserve = (v->p[0] & 0x80) != 0;
		m->present |= IW_STUN_HAS_EVEN_PORT;
		return 0;
	case STUN_ATTR_REQUESTED_TRANSPORT:
		/* RFC 8656 §18.8: protocol (8) and 24 RFFU bits. */
		if (len != 4)
			return bad(why, "REQUESTED-TRANSPORT not 4 bytes");
		m->req_transport = v->p[0];
		m->present |= IW_STUN_HAS_REQ_TRANSPORT;
		return 0;
	case STUN_ATTR_DONT_FRAGMENT:
		/* RFC 8656 §18.9: no value. */
		if (len != 0)
			return bad(why, "DONT-FRAGMENT not empty");
		m->present |= IW_STUN_HAS_DONT_FRAGMENT;
		return 0;
	case STUN_ATTR_RESERVATION_TOKEN:
		/* RFC 8656 §18.10: 8 bytes. */
		if (len != STUN_RESERVATION_TOKEN_LEN)
			return bad(why, "RESERVATION-TOKEN not 8 bytes");
		view_set(&m->res_token, v);
		m->present |= IW_STUN_HAS_RES_TOKEN;
		return 0;
	case STUN_ATTR_MOBILITY_TICKET:
		/* RFC 8016: opaque to the client, empty in an Allocate; a server's tickets
		 * are short, so a long one is not ours. */
		if (len > STUN_MAX_MOBILITY_TICKET)
			return bad(why, "MOBILITY-TICKET too long");
		view_set(&m->mobility, v);
		m->present |= IW_STUN_HAS_MOBILITY;
		return 0;
	case STUN_ATTR_PASSWORD_ALGORITHM:
		/* RFC 8489 §14.12: one algorithm and its parameters, nothing else. */
		if (!pw_alg_read(v, &m->pw_alg, &m->pw_alg_params, false) || iw_rd_left(v) != 0)
			return bad(why, "malformed PASSWORD-ALGORITHM");
		m->present |= IW_STUN_HAS_PW_ALG;
		return 0;
	case STUN_ATTR_PASSWORD_ALGORITHMS: {
		/* RFC 8489 §14.11: a list of algorithms, each padded to 4. */
		struct iw_stun_view raw = { v->p, (uint16_t)len }, params;
		uint16_t alg;
		m->n_pw_algs = 0;
		while (iw_rd_left(v) > 0) {
			if (!pw_alg_read(v, &alg, &params, true))
				return bad(why, "malformed PASSWORD-ALGORITHMS");
			if (m->n_pw_algs < STUN_MAX_PW_ALGS)
				m->pw_algs[m->n_pw_algs++] = alg;
		}
		m->pw_algs_raw = raw;
		m->present |= IW_STUN_HAS_PW_ALGS;
		return 0;
	}
	case STUN_ATTR_UNKNOWN_ATTRIBUTES:
		/* RFC 8489 §14.13: a list of 16-bit types. */
		if (len % 2 != 0)
			return bad(why, "UNKNOWN-ATTRIBUTES length odd");
		m->n_unknown_attrs = 0;
		for (size_t i = 0; i < len / 2 && i < STUN_MAX_UNKNOWN; i++)
			m->unknown_attrs[m->n_unknown_attrs++] = iw_be16(v->p + 2 * i);
		m->present |= IW_STUN_HAS_UNKNOWN;
		return 0;
	case STUN_ATTR_CONNECTION_ID:
		/* RFC 6062 §6.2: a 32-bit value that names a connection. */
		if (len != 4)
			return bad(why, "CONNECTION-ID not 4 bytes");
		m->conn_id = iw_be32(v->p);
		m->present |= IW_STUN_HAS_CONN_ID;
		return 0;
	case STUN_ATTR_ICMP:
		/* RFC 8656 §18.13: reserved (16), type, code, error data (32). */
		if (len != 8)
			return bad(why, "ICMP not 8 bytes");
		m->present |= IW_STUN_HAS_ICMP;
		return 0;
	case STUN_ATTR_MAPPED_ADDRESS:
	case STUN_ATTR_PRIORITY:
	case STUN_ATTR_USE_CANDIDATE:
		/* Understood but of no use to a relay (RFC 8445 checks are peer to peer). */
		return 0;
	default:
		/* RFC 8489 §15: unknown comprehension-required attributes are answered with
		 * 420 by the caller; unknown comprehension-optional ones are ignored. */
		if (type < 0x8000)
			add_unknown(m, type);
		return 0;
	}
}

/* The present bit of attributes that are kept once; 0 for those that may repeat or carry
 * no bit. */
static uint32_t attr_bit(uint16_t type)
{
	switch (type) {
	case STUN_ATTR_USERNAME:
		return IW_STUN_HAS_USERNAME;
	case STUN_ATTR_USERHASH:
		return IW_STUN_HAS_USERHASH;
	case STUN_ATTR_MESSAGE_INTEGRITY:
		return IW_STUN_HAS_MI;
	case STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
		return IW_STUN_HAS_MI_SHA256;
	case STUN_ATTR_ERROR_CODE:
		return IW_STUN_HAS_ERROR_CODE;
	case STUN_ATTR_REALM:
		return IW_STUN_HAS_REALM;
	case STUN_ATTR_NONCE:
		return IW_STUN_HAS_NONCE;
	case STUN_ATTR_SOFTWARE:
		return IW_STUN_HAS_SOFTWARE;
	case STUN_ATTR_CHANNEL_NUMBER:
		return IW_STUN_HAS_CHANNEL;
	case STUN_ATTR_LIFETIME:
		return IW_STUN_HAS_LIFETIME;
	case STUN_ATTR_DATA:
		return IW_STUN_HAS_DATA;
	case STUN_ATTR_XOR_RELAYED_ADDRESS:
		return IW_STUN_HAS_RELAYED;
	case STUN_ATTR_XOR_MAPPED_ADDRESS:
		return IW_STUN_HAS_MAPPED;
	case STUN_ATTR_REQUESTED_ADDRESS_FAMILY:
		return IW_STUN_HAS_REQ_FAMILY;
	case STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY:
		return IW_STUN_HAS_ADD_FAMILY;
	case STUN_ATTR_EVEN_PORT:
		return IW_STUN_HAS_EVEN_PORT;
	case STUN_ATTR_REQUESTED_TRANSPORT:
		return IW_STUN_HAS_REQ_TRANSPORT;
	case STUN_ATTR_DONT_FRAGMENT:
		return IW_STUN_HAS_DONT_FRAGMENT;
	case STUN_ATTR_RESERVATION_TOKEN:
		return IW_STUN_HAS_RES_TOKEN;
	case STUN_ATTR_MOBILITY_TICKET:
		return IW_STUN_HAS_MOBILITY;
	case STUN_ATTR_PASSWORD_ALGORITHM:
		return IW_STUN_HAS_PW_ALG;
	case STUN_ATTR_PASSWORD_ALGORITHMS:
		return IW_STUN_HAS_PW_ALGS;
	case STUN_ATTR_UNKNOWN_ATTRIBUTES:
		return IW_STUN_HAS_UNKNOWN;
	case STUN_ATTR_ALTERNATE_SERVER:
		return IW_STUN_HAS_ALT_SERVER;
	case STUN_ATTR_ICMP:
		return IW_STUN_HAS_ICMP;
	case STUN_ATTR_CHANGE_REQUEST:
		return IW_STUN_HAS_CHANGE_REQ;
	case STUN_ATTR_OTHER_ADDRESS:
		return IW_STUN_HAS_OTHER_ADDR;
	case STUN_ATTR_RESPONSE_ORIGIN:
		return IW_STUN_HAS_RESP_ORIGIN;
	case STUN_ATTR_CONNECTION_ID:
		return IW_STUN_HAS_CONN_ID;
	default:
		return 0;
	}
}

int iw_stun_decode(struct iw_stun_msg *m, const uint8_t *p, size_t len, const char **why)
{
	if (len < STUN_HEADER_LEN)
		return bad(why, "truncated header");
	/* RFC 8489 §6: the most significant 2 bits of every STUN message MUST be zeroes. */
	if (p[0] & 0xC0)
		return bad(why, "not a STUN message");
	if (iw_be32(p + 4) != STUN_MAGIC_COOKIE)
		return bad(why, "bad magic cookie");
	size_t hl = iw_be16(p + 2);
	/* RFC 8489 §5: the length is a multiple of 4 (attributes are padded). */
	if (hl % 4 != 0)
		return bad(why, "length not a multiple of 4");
	if (STUN_HEADER_LEN + hl > len)
		return bad(why, "length past end of datagram");
	if (STUN_HEADER_LEN + hl < len)
		return bad(why, "bytes after end of message");

	m->buf = p;
	m->len = len;
	m->type = iw_be16(p) & 0x3FFF;
	m->method = STUN_TYPE_METHOD(m->type);
	m->cls = STUN_TYPE_CLASS(m->type);
	m->tid = p + 8;
	m->present = 0;
	m->n_peers = 0;
	m->peers_overflow = false;
	m->n_pw_algs = 0;
	m->n_unknown = 0;
	m->n_unknown_attrs = 0;
	m->mi_off = m->mi256_off = m->fp_off = 0;
	m->mi256_len = 0;

	struct iw_rd r = { p + STUN_HEADER_LEN, p + len };
	while (iw_rd_left(&r) > 0) {
		uint16_t type, alen;
		struct iw_rd v;
		if (!iw_rd_u16(&r, &type) || !iw_rd_u16(&r, &alen))
			return bad(why, "truncated attribute header");
		if (!iw_rd_take(&r, alen, &v))
			return bad(why, "attribute length past end of message");
		/* RFC 8489 §14: padding to a multiple of 4 must fit in the message too. */
		if (!iw_rd_skip(&r, iw_pad4(alen) - alen))
			return bad(why, "attribute padding past end of message");

		/* RFC 8489 §14.7: FINGERPRINT is the last attribute. */
		if (m->present & IW_STUN_HAS_FINGERPRINT)
			return bad(why, "attribute after FINGERPRINT");
		if (m->present & IW_STUN_HAS_MI_SHA256) {
			/* RFC 8489 §14.6: ignore everything after MESSAGE-INTEGRITY-SHA256
			 * except FINGERPRINT. */
			if (type != STUN_ATTR_FINGERPRINT)
				continue;
		} else if (m->present & IW_STUN_HAS_MI) {
			/* RFC 8489 §14.5: ignore everything after MESSAGE-INTEGRITY except
			 * MESSAGE-INTEGRITY-SHA256 and FINGERPRINT. */
			if (type != STUN_ATTR_MESSAGE_INTEGRITY_SHA256 && type != STUN_ATTR_FINGERPRINT)
				continue;
		}
		/* RFC 8489 §14: with duplicates, only the first occurrence needs to be
		 * processed. XOR-PEER-ADDRESS may repeat and has no bit here. */
		uint32_t bit = attr_bit(type);
		if (bit && (m->present & bit))
			continue;
		int err = attr_decode(m, type, &v, why);
		if (err < 0)
			return err;
	}
	return 0;
}

/* ---- encoder ---- */

static void wr_set_len(struct iw_stun_wr *s)
{
	if (!s->w.overflow)
		iw_put_be16(s->w.start + 2, (uint16_t)(iw_wr_len(&s->w) - STUN_HEADER_LEN));
}

void iw_stun_wr_init(struct iw_stun_wr *s, uint8_t *buf, size_t cap, uint16_t method, uint8_t cls,
		     const uint8_t *tid)
{
	iw_wr_init(&s->w, buf, cap);
	iw_wr_u16(&s->w, STUN_TYPE(method, cls));
	iw_wr_u16(&s->w, 0);
	iw_wr_u32(&s->w, STUN_MAGIC_COOKIE);
	iw_wr_bytes(&s->w, tid, STUN_TID_LEN);
}

/* Reserve a whole attribute (header, value, zero padding); returns the value or NULL. */
static uint8_t *wr_attr_start(struct iw_stun_wr *s, uint16_t type, size_t len)
{
	/* The header length field is 16 bits and counts every attribute. */
	if (len > 0xFFFF || iw_wr_len(&s->w) + 4 + iw_pad4(len) > STUN_HEADER_LEN + 0xFFFF) {
		s->w.overflow = true;
		return NULL;
	}
	uint8_t *at = iw_wr_reserve(&s->w, 4 + iw_pad4(len));
	if (!at)
		return NULL;
	iw_put_be16(at, type);
	iw_put_be16(at + 2, (uint16_t)len);
	memset(at + 4 + len, 0, iw_pad4(len) - len);
	wr_set_len(s);
	return at + 4;
}

void iw_stun_wr_attr(struct iw_stun_wr *s, uint16_t type, const void *val, size_t len)
{
	uint8_t *v = wr_attr_start(s, type, len);
	if (v && len)
		memcpy(v, val, len);
}

void iw_stun_wr_u32(struct iw_stun_wr *s, uint16_t type, uint32_t val)
{
	uint8_t *v = wr_attr_start(s, type, 4);
	if (v)
		iw_put_be32(v, val);
}

static void wr_address(struct iw_stun_wr *s, uint16_t type, const struct iw_addr *a, bool xor)
{
	size_t alen;
	if (a->family == AF_INET)
		alen = 4;
	else if (a->family == AF_INET6)
		alen = 16;
	else {
		s->w.overflow = true; /* nothing sensible to write; the caller sees an error */
		return;
	}
	uint8_t *v = wr_attr_start(s, type, 4 + alen);
	if (!v)
		return;
	v[0] = 0;
	v[1] = alen == 4 ? STUN_FAMILY_IPV4 : STUN_FAMILY_IPV6;
	iw_put_be16(v + 2, xor? (uint16_t)(a->port ^ (STUN_MAGIC_COOKIE >> 16)) : a->port);
	memcpy(v + 4, a->ip, alen);
	if (xor) {
		/* RFC 8489 §14.2: cookie, then the transaction ID from the header. */
		uint8_t mask[16];
		iw_put_be32(mask, STUN_MAGIC_COOKIE);
		memcpy(mask + 4, s->w.start + 8, STUN_TID_LEN);
		for (size_t i = 0; i < alen; i++)
			v[4 + i] ^= mask[i];
	}
}

void iw_stun_wr_xaddr(struct iw_stun_wr *s, uint16_t type, const struct iw_addr *a)
{
	wr_address(s, type, a, true);
}

void iw_stun_wr_addr(struct iw_stun_wr *s, uint16_t type, const struct iw_addr *a)
{
	wr_address(s, type, a, false);
}

/* The value ERROR-CODE and ADDRESS-ERROR-CODE share: a first byte (0, or the family), a
 * reserved byte, class, number, then the reason phrase. */
static void wr_error_value(struct iw_stun_wr *s, uint16_t type, uint8_t first, uint16_t code,
			   const char *reason)
{
	if (!reason)
		reason = iw_stun_err_reason(code);
	/* RFC 8489 §14.8: fewer than 128 characters; cut at a UTF-8 boundary. */
	size_t rlen = strlen(reason);
	if (rlen > 127) {
		rlen = 127;
		while (rlen > 0 && ((uint8_t)reason[rlen] & 0xC0) == 0x80)
			rlen--;
	}
	uint8_t *v = wr_attr_start(s, type, 4 + rlen);
	if (!v)
		return;
	v[0] = first;
	v[1] = 0;
	v[2] = (uint8_t)((code / 100) & 0x07);
	v[3] = (uint8_t)(code % 100);
	memcpy(v + 4, reason, rlen);
}

void iw_stun_wr_error(struct iw_stun_wr *s, uint16_t code, const char *reason)
{
	wr_error_value(s, STUN_ATTR_ERROR_CODE, 0, code, reason);
}

void iw_stun_wr_addr_error(struct iw_stun_wr *s, uint8_t family, uint16_t code, const char *reason)
{
	/* RFC 8656 §18.12: ERROR-CODE's layout with the family in the first byte. */
	wr_error_value(s, STUN_ATTR_ADDRESS_ERROR_CODE, family, code, reason);
}

void iw_stun_wr_unknown(struct iw_stun_wr *s, const uint16_t *types, size_t n)
{
	/* RFC 8489 §14.13: ordinary zero padding (RFC 3489's repeat-the-last is gone). */
	uint8_t *v = wr_attr_start(s, STUN_ATTR_UNKNOWN_ATTRIBUTES, 2 * n);
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		iw_put_be16(v + 2 * i, types[i]);
}

int iw_stun_wr_finish(struct iw_stun_wr *s)
{
	if (s->w.overflow)
		return -EMSGSIZE;
	wr_set_len(s);
	return (int)iw_wr_len(&s->w);
}

uint8_t *iw_stun_data_ind_wrap(uint8_t *payload, size_t plen, const struct iw_addr *peer, const uint8_t *tid,
			       size_t *total)
{
	size_t alen = peer->family == AF_INET ? 8 : peer->family == AF_INET6 ? 20 : 0;
	*total = 0;
	if (alen == 0)
		return NULL;
	size_t body = 4 + alen + 4 + iw_pad4(plen);
	if (body > 0xFFFF)
		return NULL;
	size_t head = STUN_HEADER_LEN + 4 + alen + 4;
	uint8_t *start = payload - head;

	/* Header and XOR-PEER-ADDRESS through the ordinary writer, bounded by the headroom. */
	struct iw_stun_wr s;
	iw_stun_wr_init(&s, start, head, TURN_METHOD_DATA, STUN_CLASS_INDICATION, tid);
	iw_stun_wr_xaddr(&s, STUN_ATTR_XOR_PEER_ADDRESS, peer);
	/* DATA header only: the value is already in place after it. */
	iw_wr_u16(&s.w, STUN_ATTR_DATA);
	iw_wr_u16(&s.w, (uint16_t)plen);
	if (s.w.overflow)
		return NULL;
	iw_put_be16(start + 2, (uint16_t)body);
	memset(payload + plen, 0, iw_pad4(plen) - plen);
	*total = head + iw_pad4(plen);
	return start;
}

const char *iw_stun_err_reason(uint16_t code)
{
	switch (code) {
	case STUN_ERR_TRY_ALTERNATE:
		return "Try Alternate";
	case STUN_ERR_BAD_REQUEST:
		return "Bad Request";
	case STUN_ERR_UNAUTHORIZED:
		return "Unauthorized";
	case STUN_ERR_FORBIDDEN:
		return "Forbidden";
	case 405:
		return "Mobility Forbidden";
	case STUN_ERR_UNKNOWN_ATTRIBUTE:
		return "Unknown Attribute";
	case STUN_ERR_ALLOCATION_MISMATCH:
		return "Allocation Mismatch";
	case STUN_ERR_STALE_NONCE:
		return "Stale Nonce";
	case STUN_ERR_ADDRESS_FAMILY:
		return "Address Family not Supported";
	case STUN_ERR_WRONG_CREDENTIALS:
		return "Wrong Credentials";
	case STUN_ERR_UNSUPPORTED_TRANSPORT:
		return "Unsupported Transport Protocol";
	case STUN_ERR_PEER_FAMILY_MISMATCH:
		return "Peer Address Family Mismatch";
	case STUN_ERR_CONNECTION_EXISTS:
		return "Connection Already Exists";
	case STUN_ERR_CONNECTION_FAILURE:
		return "Connection Timeout or Failure";
	case STUN_ERR_ALLOCATION_QUOTA:
		return "Allocation Quota Reached";
	case 487:
		return "Role Conflict";
	case STUN_ERR_SERVER_ERROR:
		return "Server Error";
	case STUN_ERR_INSUFFICIENT_CAPACITY:
		return "Insufficient Capacity";
	default:
		return "Error";
	}
}
