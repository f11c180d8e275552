/* Fuzz harness for the STUN decoder: classify, decode, check integrity, then re-encode what
 * was decoded and decode that again. Invariants: every view lies inside the input; a failed
 * decode says why; a successful decode is a STUN datagram by classify; re-encoding the
 * decoded attributes decodes to the same values and its integrity and fingerprint verify. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "common/stun.h"
#include "common/stun_auth.h"
#include "tests/fuzz/fuzz.h"

static const uint8_t *in_lo, *in_hi;

static void check_view(struct iw_stun_view v)
{
	FUZZ_CHECK(v.p >= in_lo && v.p + v.len <= in_hi);
}

static void check_inside(const struct iw_stun_msg *m)
{
	uint32_t has = m->present;
	FUZZ_CHECK(m->buf == in_lo && m->len == (size_t)(in_hi - in_lo));
	FUZZ_CHECK(m->tid == in_lo + 8);
	if (has & IW_STUN_HAS_USERNAME)
		check_view(m->username);
	if (has & IW_STUN_HAS_USERHASH) {
		check_view(m->userhash);
		FUZZ_CHECK(m->userhash.len == STUN_USERHASH_LEN);
	}
	if (has & IW_STUN_HAS_REALM) {
		check_view(m->realm);
		FUZZ_CHECK(m->realm.len < STUN_MAX_REALM);
	}
	if (has & IW_STUN_HAS_NONCE) {
		check_view(m->nonce);
		FUZZ_CHECK(m->nonce.len < STUN_MAX_NONCE);
	}
	if (has & IW_STUN_HAS_SOFTWARE)
		check_view(m->software);
	if (has & IW_STUN_HAS_DATA)
		check_view(m->data);
	if (has & IW_STUN_HAS_ERROR_CODE) {
		check_view(m->reason);
		FUZZ_CHECK(m->error_code >= 300 && m->error_code <= 699);
	}
	if (has & IW_STUN_HAS_RES_TOKEN) {
		check_view(m->res_token);
		FUZZ_CHECK(m->res_token.len == 8);
	}
	if (has & IW_STUN_HAS_PW_ALG)
		check_view(m->pw_alg_params);
	if (has & IW_STUN_HAS_PW_ALGS)
		check_view(m->pw_algs_raw);
	if (has & IW_STUN_HAS_MI)
		FUZZ_CHECK(m->mi_off >= STUN_HEADER_LEN && (size_t)m->mi_off + 24 <= m->len);
	if (has & IW_STUN_HAS_MI_SHA256)
		FUZZ_CHECK(m->mi256_off >= STUN_HEADER_LEN &&
			   (size_t)m->mi256_off + 4 + m->mi256_len <= m->len && m->mi256_len >= 16 &&
			   m->mi256_len <= 32 && m->mi256_len % 4 == 0);
	if (has & IW_STUN_HAS_FINGERPRINT)
		FUZZ_CHECK(m->fp_off >= STUN_HEADER_LEN && (size_t)m->fp_off + 8 == m->len);
	FUZZ_CHECK(m->n_peers <= STUN_MAX_PEERS);
	FUZZ_CHECK(m->n_unknown <= STUN_MAX_UNKNOWN);
	FUZZ_CHECK(m->n_unknown_attrs <= STUN_MAX_UNKNOWN);
	FUZZ_CHECK(m->n_pw_algs <= STUN_MAX_PW_ALGS);
	FUZZ_CHECK(!m->peers_overflow || m->n_peers == STUN_MAX_PEERS);
	FUZZ_CHECK(((has & IW_STUN_HAS_PEER) != 0) == (m->n_peers > 0));
	for (uint8_t i = 0; i < m->n_unknown; i++)
		FUZZ_CHECK(m->unknown[i] < 0x8000);
}

static bool view_eq(struct iw_stun_view a, struct iw_stun_view b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static bool addr_eq(const struct iw_addr *a, const struct iw_addr *b)
{
	return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, 16) == 0;
}

static void wr_view(struct iw_stun_wr *s, uint16_t type, struct iw_stun_view v)
{
	iw_stun_wr_attr(s, type, v.p, v.len);
}

/* Encode the decoded values of m, decode the result, compare. */
static void reencode(const struct iw_stun_msg *m)
{
	static uint8_t out[STUN_HEADER_LEN + 0x10000], tmp[0x10000];
	static const uint8_t key[] = "fuzz-key";
	uint32_t has = m->present;
	struct iw_stun_wr s;
	struct iw_stun_msg r;
	const char *why = NULL;

	iw_stun_wr_init(&s, out, sizeof out, m->method, m->cls, m->tid);
	if (has & IW_STUN_HAS_USERNAME)
		wr_view(&s, STUN_ATTR_USERNAME, m->username);
	if (has & IW_STUN_HAS_USERHASH)
		wr_view(&s, STUN_ATTR_USERHASH, m->userhash);
	if (has & IW_STUN_HAS_REALM)
		wr_view(&s, STUN_ATTR_REALM, m->realm);
	if (has & IW_STUN_HAS_NONCE)
		wr_view(&s, STUN_ATTR_NONCE, m->nonce);
	if (has & IW_STUN_HAS_SOFTWARE)
		wr_view(&s, STUN_ATTR_SOFTWARE, m->software);
	if (has & IW_STUN_HAS_DATA)
		wr_view(&s, STUN_ATTR_DATA, m->data);
	if (has & IW_STUN_HAS_RES_TOKEN)
		wr_view(&s, STUN_ATTR_RESERVATION_TOKEN, m->res_token);
	if (has & IW_STUN_HAS_LIFETIME)
		iw_stun_wr_u32(&s, STUN_ATTR_LIFETIME, m->lifetime);
	if (has & IW_STUN_HAS_CHANNEL)
		iw_stun_wr_u32(&s, STUN_ATTR_CHANNEL_NUMBER, (uint32_t)m->channel << 16);
	if (has & IW_STUN_HAS_CONN_ID)
		iw_stun_wr_u32(&s, STUN_ATTR_CONNECTION_ID, m->conn_id);
	if (has & IW_STUN_HAS_MOBILITY)
		wr_view(&s, STUN_ATTR_MOBILITY_TICKET, m->mobility);
	for (uint8_t i = 0; i < m->n_peers; i++)
		iw_stun_wr_xaddr(&s, STUN_ATTR_XOR_PEER_ADDRESS, &m->peers[i]);
	if (has & IW_STUN_HAS_RELAYED)
		iw_stun_wr_xaddr(&s, STUN_ATTR_XOR_RELAYED_ADDRESS, &m->relayed);
	if (has & IW_STUN_HAS_MAPPED)
		iw_stun_wr_xaddr(&s, STUN_ATTR_XOR_MAPPED_ADDRESS, &m->mapped);
	if (has & IW_STUN_HAS_ALT_SERVER)
		iw_stun_wr_addr(&s, STUN_ATTR_ALTERNATE_SERVER, &m->alt_server);
	if (has & IW_STUN_HAS_CHANGE_REQ)
		iw_stun_wr_u32(&s, STUN_ATTR_CHANGE_REQUEST, m->change_flags);
	if (has & IW_STUN_HAS_OTHER_ADDR)
		iw_stun_wr_addr(&s, STUN_ATTR_OTHER_ADDRESS, &m->other_addr);
	if (has & IW_STUN_HAS_RESP_ORIGIN)
		iw_stun_wr_addr(&s, STUN_ATTR_RESPONSE_ORIGIN, &m->resp_origin);
	if (has & IW_STUN_HAS_REQ_TRANSPORT) {
		uint8_t v[4] = { m->req_transport, 0, 0, 0 };
		iw_stun_wr_attr(&s, STUN_ATTR_REQUESTED_TRANSPORT, v, 4);
	}
	if (has & IW_STUN_HAS_REQ_FAMILY) {
		uint8_t v[4] = { m->req_family, 0, 0, 0 };
		iw_stun_wr_attr(&s, STUN_ATTR_REQUESTED_ADDRESS_FAMILY, v, 4);
	}
	if (has & IW_STUN_HAS_ADD_FAMILY) {
		uint8_t v[4] = { m->add_family, 0, 0, 0 };
		iw_stun_wr_attr(&s, STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY, v, 4);
	}
	if (has & IW_STUN_HAS_EVEN_PORT) {
		uint8_t v = m->even_port_reserve ? 0x80 : 0;
		iw_stun_wr_attr(&s, STUN_ATTR_EVEN_PORT, &v, 1);
	}
	if (has & IW_STUN_HAS_DONT_FRAGMENT)
		iw_stun_wr_attr(&s, STUN_ATTR_DONT_FRAGMENT, NULL, 0);
	if (has & IW_STUN_HAS_PW_ALG) {
		iw_put_be16(tmp, m->pw_alg);
		iw_put_be16(tmp + 2, m->pw_alg_params.len);
		memcpy(tmp + 4, m->pw_alg_params.p, m->pw_alg_params.len);
		iw_stun_wr_attr(&s, STUN_ATTR_PASSWORD_ALGORITHM, tmp, 4 + (size_t)m->pw_alg_params.len);
	}
	if (has & IW_STUN_HAS_PW_ALGS)
		wr_view(&s, STUN_ATTR_PASSWORD_ALGORITHMS, m->pw_algs_raw);
	if (has & IW_STUN_HAS_UNKNOWN)
		iw_stun_wr_unknown(&s, m->unknown_attrs, m->n_unknown_attrs);
	bool reason_ok = false;
	if (has & IW_STUN_HAS_ERROR_CODE) {
		/* The encoder takes a C string of < 128 bytes. */
		reason_ok = m->reason.len < 128 && !memchr(m->reason.p, 0, m->reason.len);
		memcpy(tmp, m->reason.p, m->reason.len);
		tmp[m->reason.len] = 0;
		iw_stun_wr_error(&s, m->error_code, reason_ok ? (const char *)tmp : "x");
	}
	iw_stun_wr_integrity(&s, key, sizeof key - 1);
	iw_stun_wr_integrity_sha256(&s, key, sizeof key - 1);
	iw_stun_wr_fingerprint(&s);
	int n = iw_stun_wr_finish(&s);
	if (n == -EMSGSIZE)
		return; /* the input was near the 64 KiB limit; the added MACs did not fit */
	FUZZ_CHECK(n >= STUN_HEADER_LEN);
	FUZZ_CHECK(iw_stun_classify(out, (size_t)n) == IW_PKT_STUN);
	FUZZ_CHECK(iw_stun_decode(&r, out, (size_t)n, &why) == 0);
	FUZZ_CHECK(r.method == m->method && r.cls == m->cls);
	FUZZ_CHECK(memcmp(r.tid, m->tid, STUN_TID_LEN) == 0);
	FUZZ_CHECK(iw_stun_check_integrity(&r, key, sizeof key - 1));
	FUZZ_CHECK(iw_stun_check_integrity_sha256(&r, key, sizeof key - 1));
	FUZZ_CHECK(iw_stun_check_fingerprint(&r));

	uint32_t want = has & ~(uint32_t)(IW_STUN_HAS_MI | IW_STUN_HAS_MI_SHA256 | IW_STUN_HAS_FINGERPRINT |
					  IW_STUN_HAS_ICMP);
	FUZZ_CHECK((r.present &
		    ~(uint32_t)(IW_STUN_HAS_MI | IW_STUN_HAS_MI_SHA256 | IW_STUN_HAS_FINGERPRINT)) == want);
	FUZZ_CHECK(!(has & IW_STUN_HAS_USERNAME) || view_eq(r.username, m->username));
	FUZZ_CHECK(!(has & IW_STUN_HAS_USERHASH) || view_eq(r.userhash, m->userhash));
	FUZZ_CHECK(!(has & IW_STUN_HAS_REALM) || view_eq(r.realm, m->realm));
	FUZZ_CHECK(!(has & IW_STUN_HAS_NONCE) || view_eq(r.nonce, m->nonce));
	FUZZ_CHECK(!(has & IW_STUN_HAS_SOFTWARE) || view_eq(r.software, m->software));
	FUZZ_CHECK(!(has & IW_STUN_HAS_DATA) || view_eq(r.data, m->data));
	FUZZ_CHECK(!(has & IW_STUN_HAS_RES_TOKEN) || view_eq(r.res_token, m->res_token));
	FUZZ_CHECK(!(has & IW_STUN_HAS_LIFETIME) || r.lifetime == m->lifetime);
	FUZZ_CHECK(!(has & IW_STUN_HAS_CHANNEL) || r.channel == m->channel);
	FUZZ_CHECK(!(has & IW_STUN_HAS_CONN_ID) || r.conn_id == m->conn_id);
	FUZZ_CHECK(!(has & IW_STUN_HAS_MOBILITY) || view_eq(r.mobility, m->mobility));
	FUZZ_CHECK(r.n_peers == m->n_peers);
	for (uint8_t i = 0; i < m->n_peers; i++)
		FUZZ_CHECK(addr_eq(&r.peers[i], &m->peers[i]));
	FUZZ_CHECK(!(has & IW_STUN_HAS_RELAYED) || addr_eq(&r.relayed, &m->relayed));
	FUZZ_CHECK(!(has & IW_STUN_HAS_MAPPED) || addr_eq(&r.mapped, &m->mapped));
	FUZZ_CHECK(!(has & IW_STUN_HAS_ALT_SERVER) || addr_eq(&r.alt_server, &m->alt_server));
	FUZZ_CHECK(!(has & IW_STUN_HAS_CHANGE_REQ) || r.change_flags == m->change_flags);
	FUZZ_CHECK(!(has & IW_STUN_HAS_OTHER_ADDR) || addr_eq(&r.other_addr, &m->other_addr));
	FUZZ_CHECK(!(has & IW_STUN_HAS_RESP_ORIGIN) || addr_eq(&r.resp_origin, &m->resp_origin));
	FUZZ_CHECK(!(has & IW_STUN_HAS_REQ_TRANSPORT) || r.req_transport == m->req_transport);
	FUZZ_CHECK(!(has & IW_STUN_HAS_REQ_FAMILY) || r.req_family == m->req_family);
	FUZZ_CHECK(!(has & IW_STUN_HAS_ADD_FAMILY) || r.add_family == m->add_family);
	FUZZ_CHECK(!(has & IW_STUN_HAS_EVEN_PORT) || r.even_port_reserve == m->even_port_reserve);
	FUZZ_CHECK(!(has & IW_STUN_HAS_PW_ALG) ||
		   (r.pw_alg == m->pw_alg && view_eq(r.pw_alg_params, m->pw_alg_params)));
	if (has & IW_STUN_HAS_PW_ALGS) {
		FUZZ_CHECK(r.n_pw_algs == m->n_pw_algs && view_eq(r.pw_algs_raw, m->pw_algs_raw));
		for (uint8_t i = 0; i < m->n_pw_algs; i++)
			FUZZ_CHECK(r.pw_algs[i] == m->pw_algs[i]);
	}
	if (has & IW_STUN_HAS_UNKNOWN) {
		FUZZ_CHECK(r.n_unknown_attrs == m->n_unknown_attrs);
		for (uint8_t i = 0; i < m->n_unknown_attrs; i++)
			FUZZ_CHECK(r.unknown_attrs[i] == m->unknown_attrs[i]);
	}
	if (has & IW_STUN_HAS_ERROR_CODE) {
		FUZZ_CHECK(r.error_code == m->error_code);
		FUZZ_CHECK(!reason_ok || view_eq(r.reason, m->reason));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iw_stun_msg m;
	const char *why = NULL;
	static const uint8_t key[] = "fuzz-key";

	enum iw_pkt_kind kind = iw_stun_classify(data, size);
	FUZZ_CHECK(kind == IW_PKT_OTHER || kind == IW_PKT_STUN || kind == IW_PKT_CHANDATA);

	in_lo = data;
	in_hi = data + size;
	int rc = iw_stun_decode(&m, data, size, &why);
	if (rc < 0) {
		FUZZ_CHECK(rc == -EBADMSG);
		FUZZ_CHECK(why != NULL && why[0] != '\0');
		return 0;
	}
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(kind == IW_PKT_STUN);
	check_inside(&m);

	/* The checks read only inside the message and never change it. */
	(void)iw_stun_check_integrity(&m, key, sizeof key - 1);
	(void)iw_stun_check_integrity_sha256(&m, key, sizeof key - 1);
	(void)iw_stun_check_fingerprint(&m);

	reencode(&m);
	return 0;
}
