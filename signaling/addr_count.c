/* Connections per source address: a chained hash with a random seed, one entry per address
 * that has a connection, so memory follows the number of connections. */
#include "signaling/addr_count.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

enum { BUCKETS = 4096 };

struct entry {
	struct entry *next;
	struct iw_addr key;
	unsigned n;
};

struct iw_addr_count {
	struct entry *b[BUCKETS];
	uint32_t seed; /* random: chains an attacker picking addresses cannot predict */
	unsigned n_keys;
};

struct iw_addr_count *iw_addr_count_create(void)
{
	struct iw_addr_count *t = calloc(1, sizeof *t);
	if (t && getrandom(&t->seed, sizeof t->seed, 0) != (ssize_t)sizeof t->seed)
		t->seed = (uint32_t)(uintptr_t)t;
	return t;
}

void iw_addr_count_destroy(struct iw_addr_count *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < BUCKETS; i++)
		while (t->b[i]) {
			struct entry *e = t->b[i];
			t->b[i] = e->next;
			free(e);
		}
	free(t);
}

void iw_addr_count_key(const struct iw_addr *a, struct iw_addr *key)
{
	struct iw_addr v4;
	/* Only the mapped form: a NAT64 or 6to4 address is a different host's. */
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (a->family == AF_INET6 && memcmp(a->ip, mapped, 12) == 0) {
		memset(&v4, 0, sizeof v4);
		v4.family = AF_INET;
		memcpy(v4.ip, a->ip + 12, 4);
		a = &v4;
	}
	*key = *a;
	key->port = 0;
	key->pad_ = 0;
	if (key->family == AF_INET6)
		memset(key->ip + 8, 0, 8);
}

static struct entry **find(const struct iw_addr_count *t, const struct iw_addr *key)
{
	struct entry **pp = (struct entry **)&t->b[iw_addr_hash(key, t->seed) % BUCKETS];
	while (*pp && !iw_addr_eq(&(*pp)->key, key))
		pp = &(*pp)->next;
	return pp;
}

unsigned iw_addr_count_get(const struct iw_addr_count *t, const struct iw_addr *key)
{
	struct entry *e = *find(t, key);
	return e ? e->n : 0;
}

int iw_addr_count_add(struct iw_addr_count *t, const struct iw_addr *key)
{
	struct entry **pp = find(t, key);
	if (!*pp) {
		struct entry *e = calloc(1, sizeof *e);
		if (!e)
			return -ENOMEM;
		e->key = *key;
		*pp = e;
		t->n_keys++;
	}
	(*pp)->n++;
	return 0;
}

void iw_addr_count_del(struct iw_addr_count *t, const struct iw_addr *key)
{
	struct entry **pp = find(t, key), *e = *pp;
	if (!e)
		return;
	if (--e->n == 0) {
		*pp = e->next;
		free(e);
		t->n_keys--;
	}
}

unsigned iw_addr_count_n(const struct iw_addr_count *t)
{
	return t->n_keys;
}
