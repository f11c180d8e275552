/* The packet path allocates nothing: a real worker on loopback, a client that allocates,
 * binds a channel and sends, a peer that echoes; after warm-up, thousands of ChannelData,
 * Send and Data indication datagrams go through with the malloc/calloc/realloc wrappers
 * counting zero calls. Linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/stun.h"
#include "common/stun_auth.h"
#include "turn/conf.h"
#include "turn/relay.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

static volatile int counting; /* volatile: the compiler knows malloc reads no globals */
static volatile unsigned long n_allocs;

void *__wrap_malloc(size_t n)
{
	n_allocs += counting;
	return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
	n_allocs += counting;
	return __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
	n_allocs += counting;
	return __real_realloc(p, n);
}

enum { N_DGRAMS = 3000, WARMUP = 100, POLL_TRIES = 200 };

static volatile sig_atomic_t stop;
static struct iw_worker_shared shared;
static struct iw_conf conf;
static struct iw_worker *w;
static int cli = -1, peer = -1, peer2 = -1;
static struct iw_addr srv_addr, relayed, peer_addr, peer2_addr;
static uint8_t key[IW_STUN_KEY_MAX];
static char nonce[128];
static uint8_t tidn;

static int udp_socket(struct iw_addr *bound)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &sl), 0);
	assert_int_equal(iw_addr_from_sa(bound, (struct sockaddr *)&ss), 0);
	return fd;
}

static void send_to(int fd, const void *p, size_t len, const struct iw_addr *to)
{
	struct sockaddr_storage ss;
	socklen_t sl = iw_addr_to_sa(to, &ss);
	assert_int_equal(sendto(fd, p, len, 0, (struct sockaddr *)&ss, sl), (ssize_t)len);
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

/* One authenticated request (after a first 401 fills the nonce); decodes the response. */
static void transact(struct iw_stun_msg *m, uint8_t *rbuf, size_t cap, uint16_t method,
		     void (*attrs)(struct iw_stun_wr *s), bool auth)
{
	uint8_t q[512], tid[12] = { 0 };
	tid[0] = ++tidn;
	struct iw_stun_wr s;
	iw_stun_wr_init(&s, q, sizeof q, method, STUN_CLASS_REQUEST, tid);
	if (attrs)
		attrs(&s);
	if (auth) {
		iw_stun_wr_attr(&s, STUN_ATTR_USERNAME, "user", 4);
		iw_stun_wr_attr(&s, STUN_ATTR_REALM, "iceway", 6);
		iw_stun_wr_attr(&s, STUN_ATTR_NONCE, nonce, strlen(nonce));
		iw_stun_wr_integrity(&s, key, 16);
	}
	int n = iw_stun_wr_finish(&s);
	assert_true(n > 0);
	send_to(cli, q, (size_t)n, &srv_addr);
	size_t len = recv_one(cli, rbuf, cap);
	const char *why = NULL;
	assert_int_equal(iw_stun_decode(m, rbuf, len, &why), 0);
	assert_memory_equal(m->tid, tid, 12);
}

static void a_transport(struct iw_stun_wr *s)
{
	iw_stun_wr_u32(s, STUN_ATTR_REQUESTED_TRANSPORT, TURN_TRANSPORT_UDP << 24);
}

static void a_chanbind(struct iw_stun_wr *s)
{
	iw_stun_wr_u32(s, STUN_ATTR_CHANNEL_NUMBER, 0x4000u << 16);
	iw_stun_wr_xaddr(s, STUN_ATTR_XOR_PEER_ADDRESS, &peer_addr);
}

static void a_perm2(struct iw_stun_wr *s)
{
	iw_stun_wr_xaddr(s, STUN_ATTR_XOR_PEER_ADDRESS, &peer2_addr);
}

static bool with_limits;

static int setup(void **state)
{
	(void)state;
	iw_conf_init(&conf);
	if (with_limits) {
		/* Every rate limit on, high enough never to bind: the buckets, the user's shared
		 * budget and the new-peer check all run for every datagram. */
		conf.max_bps = 1000000000;
		conf.max_pps = 10000000;
		conf.user_max_bps = 1000000000;
		conf.max_new_peers = 100000;
		conf.bps_capacity = 1000000000000ull;
	}
	assert_int_equal(iw_addr_parse(&conf.listen[0], "127.0.0.1"), 0);
	conf.n_listen = 1;
	conf.port = 0; /* ephemeral: read back below */
	conf.min_port = 45000;
	conf.max_port = 45999;
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
	cli = udp_socket(&(struct iw_addr){ 0 });
	peer = udp_socket(&peer_addr);
	peer2 = udp_socket(&peer2_addr);
	iw_stun_lt_key(key, STUN_PASSWORD_ALG_MD5, "user", 4, "iceway", 6, "pass", 4);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	close(cli);
	close(peer);
	close(peer2);
	iw_relay_destroy(w);
	iw_worker_shared_fini(&shared);
	iw_conf_fini(&conf);
	return 0;
}

static void test_no_malloc_on_packet_path(void **state)
{
	(void)state;
	uint8_t r[2048];
	struct iw_stun_msg m;

	/* The wrappers are live: a call from here is counted. */
	counting = 1;
	void *volatile probe = malloc(16); /* volatile: the pair must not be elided */
	free(probe);
	counting = 0;
	assert_int_equal(n_allocs, 1);
	n_allocs = 0;

	transact(&m, r, sizeof r, TURN_METHOD_ALLOCATE, a_transport, false);
	assert_int_equal(m.cls, STUN_CLASS_ERROR);
	assert_int_equal(m.error_code, 401);
	assert_true(m.present & IW_STUN_HAS_NONCE);
	memcpy(nonce, m.nonce.p, m.nonce.len);
	nonce[m.nonce.len] = 0;
	transact(&m, r, sizeof r, TURN_METHOD_ALLOCATE, a_transport, true);
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	assert_true(m.present & IW_STUN_HAS_RELAYED);
	relayed = m.relayed;
	assert_true(iw_stun_check_integrity(&m, key, 16));
	transact(&m, r, sizeof r, TURN_METHOD_CHANNEL_BIND, a_chanbind, true);
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	transact(&m, r, sizeof r, TURN_METHOD_CREATE_PERMISSION, a_perm2, true);
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);

	uint8_t cd[4 + 100];
	uint8_t send_ind[256];
	for (int i = 0; i < WARMUP + N_DGRAMS; i++) {
		if (i == WARMUP) {
			n_allocs = 0;
			counting = 1;
		}
		/* ChannelData client -> peer, and the peer's answer back as ChannelData. */
		iw_chandata_put(cd, 0x4000, 100);
		memset(cd + 4, (uint8_t)i, 100);
		send_to(cli, cd, sizeof cd, &srv_addr);
		size_t n = recv_one(peer, r, sizeof r);
		assert_int_equal(n, 100);
		assert_int_equal(r[99], (uint8_t)i);
		send_to(peer, r, n, &relayed);
		n = recv_one(cli, r, sizeof r);
		assert_int_equal(n, 104);
		assert_int_equal(iw_be16(r), 0x4000);
		assert_int_equal(iw_be16(r + 2), 100);
		assert_int_equal(r[103], (uint8_t)i);

		/* Send indication -> peer2, its answer comes back as a Data indication. */
		if (i % 4 == 0) {
			struct iw_stun_wr s;
			uint8_t tid[12] = { 9, (uint8_t)i };
			iw_stun_wr_init(&s, send_ind, sizeof send_ind, TURN_METHOD_SEND,
					STUN_CLASS_INDICATION, tid);
			iw_stun_wr_xaddr(&s, STUN_ATTR_XOR_PEER_ADDRESS, &peer2_addr);
			iw_stun_wr_attr(&s, STUN_ATTR_DATA, cd + 4, 37);
			int sl = iw_stun_wr_finish(&s);
			assert_true(sl > 0);
			send_to(cli, send_ind, (size_t)sl, &srv_addr);
			n = recv_one(peer2, r, sizeof r);
			assert_int_equal(n, 37);
			send_to(peer2, r, n, &relayed);
			n = recv_one(cli, r, sizeof r);
			const char *why = NULL;
			counting = 0; /* decoding in the test is not the relay's doing */
			assert_int_equal(iw_stun_decode(&m, r, n, &why), 0);
			counting = i >= WARMUP;
			assert_int_equal(m.method, TURN_METHOD_DATA);
			assert_int_equal(m.data.len, 37);
			assert_true(iw_addr_eq(&m.peers[0], &peer2_addr));
		}
	}
	counting = 0;
	assert_int_equal(n_allocs, 0);
	assert_true(w->st.tx_peer_pkts >= N_DGRAMS);
	assert_true(w->st.tx_client_pkts >= N_DGRAMS);
	assert_int_equal(w->st.drop_send_err, 0);
	if (with_limits) {
		const struct iw_alloc *a = &w->tab.slab[0];
		assert_true(a->in_use && a->lim.user_tat);
		assert_true(a->lim.bytes.last_ms && a->lim.pkts.last_ms && a->lim.peers.last_ms);
		assert_int_equal(w->st.drop_max_bps + w->st.drop_max_pps + w->st.drop_user_bps, 0);
		assert_int_equal(w->st.drop_new_peer + w->st.new_peer_refused, 0);
	}
}

static int setup_limits(void **state)
{
	with_limits = true;
	return setup(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_malloc_on_packet_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_malloc_on_packet_path, setup_limits, teardown),
	};
	return cmocka_run_group_tests_name("turn/relay_nomalloc", tests, NULL, NULL);
}
