/* turn/control.c through a real worker on loopback: requests whose answers depend on table
 * state a wire test cannot pin down (permissions past their time but not yet pruned, EVEN-PORT
 * reservations and quotas). The worker is polled from the test thread. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/stun.h"
#include "common/stun_auth.h"
#include "turn/conf.h"
#include "turn/control.h"
#include "turn/relay.h"

enum { POLL_TRIES = 200 };

static volatile sig_atomic_t stop;
static struct iw_worker_shared shared;
static struct iw_conf conf;
static struct iw_worker *w;
static struct iw_addr srv_addr;
static uint8_t key[IW_STUN_KEY_MAX];
static char nonce[128];
static uint8_t tidn;

struct cli {
	int fd;
	struct iw_addr addr;
};

static struct cli cli_open(void)
{
	struct cli c;
	c.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(c.fd >= 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	assert_int_equal(bind(c.fd, (struct sockaddr *)&sin, sizeof sin), 0);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	assert_int_equal(getsockname(c.fd, (struct sockaddr *)&ss, &sl), 0);
	assert_int_equal(iw_addr_from_sa(&c.addr, (struct sockaddr *)&ss), 0);
	return c;
}

/* Run the worker until fd has a datagram; returns its length. */
static size_t recv_one(int fd, uint8_t *buf, size_t cap)
{
	for (int i = 0; i < POLL_TRIES; i++) {
		ssize_t n = recv(fd, buf, cap, MSG_DONTWAIT);
		if (n >= 0)
			return (size_t)n;
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
		assert_true(iw_relay_poll(w, 10) >= 0);
	}
	fail_msg("no datagram arrived");
	return 0;
}

struct attrs {
	const struct iw_addr *peers;
	unsigned n_peers;
	uint32_t lifetime;
	bool has_lifetime, transport, even_reserve;
	uint64_t token;
	uint8_t add_family; /* ADDITIONAL-ADDRESS-FAMILY, 0 for none */
};

/* One request from c; authenticated once a 401 or 438 has given the nonce (fetched on demand). */
static void transact(const struct cli *c, struct iw_stun_msg *m, uint8_t *rbuf, size_t cap, uint16_t method,
		     const struct attrs *at)
{
	for (int round = 0; round < 2; round++) {
		uint8_t q[512], tid[12] = { 0 };
		tid[0] = ++tidn;
		tid[1] = (uint8_t)round;
		struct iw_stun_wr s;
		iw_stun_wr_init(&s, q, sizeof q, method, STUN_CLASS_REQUEST, tid);
		if (at->transport)
			iw_stun_wr_u32(&s, STUN_ATTR_REQUESTED_TRANSPORT, TURN_TRANSPORT_UDP << 24);
		if (at->even_reserve)
			iw_stun_wr_attr(&s, STUN_ATTR_EVEN_PORT, "\x80", 1);
		if (at->token)
			iw_stun_wr_attr(&s, STUN_ATTR_RESERVATION_TOKEN, &at->token, 8);
		if (at->add_family)
			iw_stun_wr_attr(&s, STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY,
					(const uint8_t[4]){ at->add_family, 0, 0, 0 }, 4);
		if (at->has_lifetime)
			iw_stun_wr_u32(&s, STUN_ATTR_LIFETIME, at->lifetime);
		for (unsigned i = 0; i < at->n_peers; i++)
			iw_stun_wr_xaddr(&s, STUN_ATTR_XOR_PEER_ADDRESS, &at->peers[i]);
		if (nonce[0]) {
			iw_stun_wr_attr(&s, STUN_ATTR_USERNAME, "user", 4);
			iw_stun_wr_attr(&s, STUN_ATTR_REALM, "iceway", 6);
			iw_stun_wr_attr(&s, STUN_ATTR_NONCE, nonce, strlen(nonce));
			iw_stun_wr_integrity(&s, key, 16);
		}
		int n = iw_stun_wr_finish(&s);
		assert_true(n > 0);
		struct sockaddr_storage ss;
		socklen_t sl = iw_addr_to_sa(&srv_addr, &ss);
		assert_int_equal(sendto(c->fd, q, (size_t)n, 0, (struct sockaddr *)&ss, sl), n);
		size_t len = recv_one(c->fd, rbuf, cap);
		const char *why = NULL;
		assert_int_equal(iw_stun_decode(m, rbuf, len, &why), 0);
		assert_memory_equal(m->tid, tid, 12);
		/* Nonces are bound to the client's address: each new client learns its own. */
		if (m->cls == STUN_CLASS_ERROR && (m->error_code == 401 || m->error_code == 438) &&
		    (m->present & IW_STUN_HAS_NONCE) && round == 0) {
			assert_true(m->nonce.len < sizeof nonce);
			memcpy(nonce, m->nonce.p, m->nonce.len);
			nonce[m->nonce.len] = 0;
			continue;
		}
		return;
	}
}

static struct iw_addr ip4(const char *s)
{
	struct iw_addr a;
	assert_int_equal(iw_addr_parse(&a, s), 0);
	return a;
}

static int setup(void **state)
{
	(void)state;
	iw_conf_init(&conf);
	assert_int_equal(iw_addr_parse(&conf.listen[0], "127.0.0.1"), 0);
	conf.n_listen = 1;
	conf.port = 0; /* ephemeral: read back below */
	conf.min_port = 46000;
	conf.max_port = 46999;
	conf.max_allocs = 256; /* a small overflow pool: 64 blocks */
	conf.users[conf.n_users++] = strdup("user:pass");
	conf.policy.allow_loopback = true;
	const char *why = NULL;
	assert_int_equal(iw_conf_finish(&conf, &why), 0);
	/* What main builds once for every worker. */
	assert_int_equal(iw_worker_shared_init(&shared, &conf, &stop), 0);
	w = iw_relay_create(&shared, 0);
	assert_non_null(w);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	assert_int_equal(getsockname(w->lis[0].fd, (struct sockaddr *)&ss, &sl), 0);
	assert_int_equal(iw_addr_from_sa(&srv_addr, (struct sockaddr *)&ss), 0);
	iw_stun_lt_key(key, STUN_PASSWORD_ALG_MD5, "user", 4, "iceway", 6, "pass", 4);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	iw_relay_destroy(w);
	iw_worker_shared_fini(&shared);
	iw_conf_fini(&conf);
	return 0;
}

/* A permission past its time but not yet pruned (the timer runs about once a second) is not
 * present: a CreatePermission that needs its slot again must either install every peer it
 * names or fail, never report success with one left out. */
static void test_perm_expired_not_pruned(void **state)
{
	(void)state;
	uint8_t r[2048];
	struct iw_stun_msg m;
	struct cli c = cli_open();
	transact(&c, &m, r, sizeof r, TURN_METHOD_ALLOCATE, &(struct attrs){ .transport = true });
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	/* Fill all IW_MAX_PERMS permissions, eight at a time. */
	struct iw_addr full[IW_MAX_PERMS];
	for (unsigned i = 0; i < IW_MAX_PERMS; i++) {
		char s[32];
		snprintf(s, sizeof s, "127.0.1.%u", i + 1);
		full[i] = ip4(s);
	}
	for (unsigned i = 0; i < IW_MAX_PERMS; i += STUN_MAX_PEERS) {
		transact(&c, &m, r, sizeof r, TURN_METHOD_CREATE_PERMISSION,
			 &(struct attrs){ .peers = full + i, .n_peers = STUN_MAX_PEERS });
		assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	}
	struct iw_alloc *a = iw_alloc_find(&w->tab, &c.addr, 0);
	assert_non_null(a);
	assert_int_equal(a->n_perms, IW_MAX_PERMS);
	/* Two of them expire, and the timer has not pruned them yet. */
	for (unsigned i = 0; i < a->n_perms; i++)
		if (iw_addr_ip_eq(&a->perms[i].ip, &full[0]) || iw_addr_ip_eq(&a->perms[i].ip, &full[1]))
			a->perms[i].expires_ms = 1;
	/* The first expired peer again, and two new ones: three slots are needed, two are free. */
	struct iw_addr want[3] = { full[0], ip4("127.0.2.1"), ip4("127.0.2.2") };
	transact(&c, &m, r, sizeof r, TURN_METHOD_CREATE_PERMISSION,
		 &(struct attrs){ .peers = want, .n_peers = 3 });
	if (m.cls == STUN_CLASS_SUCCESS) {
		for (unsigned i = 0; i < 3; i++)
			if (!iw_alloc_perm_has(a, &want[i], w->now_ms))
				fail_msg("CreatePermission succeeded but peer #%u is not installed", i);
	} else {
		assert_int_equal(m.error_code, STUN_ERR_INSUFFICIENT_CAPACITY);
		/* All or nothing (RFC 8656 §9.2): none of the new ones is in. */
		assert_false(iw_alloc_perm_has(a, &want[1], w->now_ms));
		assert_false(iw_alloc_perm_has(a, &want[2], w->now_ms));
	}
	/* The expired one alone, plus one new: fits after the prune and must be installed. */
	struct iw_addr two[2] = { full[1], ip4("127.0.2.3") };
	transact(&c, &m, r, sizeof r, TURN_METHOD_CREATE_PERMISSION,
		 &(struct attrs){ .peers = two, .n_peers = 2 });
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	assert_true(iw_alloc_perm_has(a, &two[0], w->now_ms));
	assert_true(iw_alloc_perm_has(a, &two[1], w->now_ms));
	transact(&c, &m, r, sizeof r, TURN_METHOD_REFRESH, &(struct attrs){ .has_lifetime = true });
	close(c.fd);
}

/* Overflow blocks (permission sets past the inline four) are a per-worker pool: one user's
 * allocations may hold at most user-overflow-quota of them, by default a quarter of a
 * worker's pool, so that one credential cannot leave everyone else with 508. */
static void test_overflow_per_user(void **state)
{
	(void)state;
	uint8_t r[2048];
	struct iw_stun_msg m;
	uint32_t cap = w->tab.ext_cap, limit = cap / 4;
	assert_true(limit >= 1 && limit + 1 <= 64);
	struct cli c[64];
	struct iw_addr five[5];
	for (unsigned i = 0; i < 5; i++) {
		char s[32];
		snprintf(s, sizeof s, "127.0.3.%u", i + 1);
		five[i] = ip4(s);
	}
	unsigned ok = 0;
	for (unsigned i = 0; i <= limit; i++) {
		c[i] = cli_open();
		transact(&c[i], &m, r, sizeof r, TURN_METHOD_ALLOCATE, &(struct attrs){ .transport = true });
		assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
		transact(&c[i], &m, r, sizeof r, TURN_METHOD_CREATE_PERMISSION,
			 &(struct attrs){ .peers = five, .n_peers = 5 });
		if (m.cls == STUN_CLASS_SUCCESS) {
			ok++;
			continue;
		}
		assert_int_equal(m.error_code, STUN_ERR_INSUFFICIENT_CAPACITY);
		assert_true(m.reason.len > 0 && memmem(m.reason.p, m.reason.len, "user-overflow-quota", 19));
	}
	if (ok != limit)
		fail_msg("%u of %u allocations of one user got an overflow block (pool %u, limit %u)", ok,
			 limit + 1, cap, limit);
	/* One of them goes: its block and its count come back, and the last one gets room. */
	transact(&c[0], &m, r, sizeof r, TURN_METHOD_REFRESH, &(struct attrs){ .has_lifetime = true });
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	transact(&c[limit], &m, r, sizeof r, TURN_METHOD_CREATE_PERMISSION,
		 &(struct attrs){ .peers = five, .n_peers = 5 });
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	for (unsigned i = 1; i <= limit; i++) {
		transact(&c[i], &m, r, sizeof r, TURN_METHOD_REFRESH,
			 &(struct attrs){ .has_lifetime = true });
		close(c[i].fd);
	}
	close(c[0].fd);
}

/* The value of the first attribute of type t in a message of len bytes, or NULL. */
static const uint8_t *attr_find(const uint8_t *p, size_t len, uint16_t t, size_t *vlen)
{
	for (size_t at = STUN_HEADER_LEN; at + 4 <= len;) {
		size_t l = iw_be16(p + at + 2);
		if (at + 4 + l > len)
			break;
		if (iw_be16(p + at) == t) {
			*vlen = l;
			return p + at + 4;
		}
		at += 4 + iw_pad4(l);
	}
	return NULL;
}

/* RFC 8656 §7.2 dual allocation on a relay without an IPv6 relay address: the IPv4 one is
 * allocated and the IPv6 failure is named in ADDRESS-ERROR-CODE. */
static void test_dual_alloc_no_ipv6(void **state)
{
	(void)state;
	uint8_t r[2048];
	struct iw_stun_msg m;
	assert_false(w->has_relay[1]);
	struct cli c = cli_open();
	transact(&c, &m, r, sizeof r, TURN_METHOD_ALLOCATE,
		 &(struct attrs){ .transport = true, .add_family = STUN_FAMILY_IPV6 });
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	assert_int_equal(m.relayed.family, AF_INET);
	size_t vl = 0;
	const uint8_t *v = attr_find(r, m.len, STUN_ATTR_ADDRESS_ERROR_CODE, &vl);
	assert_non_null(v);
	const uint8_t want[] = { STUN_FAMILY_IPV6, 0, 4, 40 };
	assert_int_equal(vl, sizeof want + 28);
	assert_memory_equal(v, want, sizeof want);
	assert_memory_equal(v + 4, "Address Family not Supported", 28);
	transact(&c, &m, r, sizeof r, TURN_METHOD_REFRESH, &(struct attrs){ .has_lifetime = true });
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	close(c.fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_perm_expired_not_pruned),
		cmocka_unit_test(test_overflow_per_user),
		cmocka_unit_test(test_dual_alloc_no_ipv6),
	};
	return cmocka_run_group_tests_name("turn/control", tests, setup, teardown);
}
