/* Runs a fuzz harness without libFuzzer: every file given (or found in the directories
 * given) is fed to LLVMFuzzerTestOneInput, then a fixed number of deterministic mutations of
 * them (bit flips, byte changes, truncation, extension, spliced attributes, and a repaired
 * length field so that mutations reach past the header checks). Each input is passed in a
 * heap buffer of exactly its size, so a sanitizer build catches any read past the end.
 * IW_REPLAY_MUTATIONS overrides the mutation count. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"

/* Offset of the length field and the header size it does not count: STUN (2, 20) or
 * ChannelData (2, 4). */
#ifndef IW_REPLAY_HDR
#define IW_REPLAY_HDR 20
#endif

enum { MAX_SEEDS = 256, SEED_CAP = 4096, DEFAULT_MUTATIONS = 20000 };

struct seed {
	uint8_t *p;
	size_t len;
};

static struct seed seeds[MAX_SEEDS];
static size_t n_seeds;
static unsigned long long runs;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	/* xorshift64*: deterministic, so a failure reproduces on every run. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

static void run_one(const uint8_t *data, size_t len)
{
	/* An exact-size copy: the sanitizer sees any overread. malloc(0) may return NULL. */
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy) {
		perror("malloc");
		exit(2);
	}
	if (len)
		memcpy(copy, data, len);
	LLVMFuzzerTestOneInput(copy, len);
	free(copy);
	runs++;
}

static int add_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	uint8_t *buf = malloc(SEED_CAP);
	size_t len = buf ? fread(buf, 1, SEED_CAP, f) : 0;
	fclose(f);
	if (!buf)
		return -1;
	run_one(buf, len);
	if (n_seeds < MAX_SEEDS) {
		seeds[n_seeds].p = buf;
		seeds[n_seeds].len = len;
		n_seeds++;
	} else {
		free(buf);
	}
	return 0;
}

static int add_path(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return add_file(path);
	struct dirent **names;
	int n = scandir(path, &names, NULL, alphasort); /* sorted: the same order every run */
	if (n < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	int rc = 0;
	for (int i = 0; i < n; i++) {
		char full[4096];
		if (names[i]->d_name[0] != '.') {
			snprintf(full, sizeof full, "%s/%s", path, names[i]->d_name);
			if (add_file(full) < 0)
				rc = -1;
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

static void fix_length(uint8_t *b, size_t len)
{
	if (len >= IW_REPLAY_HDR && len - IW_REPLAY_HDR <= 0xFFFF) {
		size_t l = len - IW_REPLAY_HDR;
		b[2] = (uint8_t)(l >> 8);
		b[3] = (uint8_t)l;
	}
}

static size_t mutate(uint8_t *b, size_t len, size_t cap)
{
	int steps = 1 + (int)(rnd() % 4);
	for (int s = 0; s < steps; s++) {
		switch (rnd() % 8) {
		case 0: /* flip a bit */
		case 1:
			if (len)
				b[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
			break;
		case 2: /* set a byte to an interesting value */
			if (len) {
				static const uint8_t v[] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x08,
							     0x14, 0x20, 0x40, 0x7f, 0x80, 0xff };
				b[rnd() % len] = v[rnd() % sizeof v];
			}
			break;
		case 3: /* truncate */
			if (len)
				len = rnd() % len;
			break;
		case 4: /* extend with random bytes */
			for (size_t n = 1 + rnd() % 16; n > 0 && len < cap; n--)
				b[len++] = (uint8_t)rnd();
			break;
		case 5: /* splice a 4-byte-aligned chunk of another seed at an aligned offset */
			if (n_seeds) {
				const struct seed *o = &seeds[rnd() % n_seeds];
				if (o->len > 20) {
					size_t from = 20 + 4 * (rnd() % ((o->len - 20) / 4 + 1));
					size_t at = len > 20 ? 20 + 4 * (rnd() % ((len - 20) / 4 + 1)) : len;
					size_t n = 4 * (1 + rnd() % 6);
					if (from > o->len)
						from = o->len;
					if (n > o->len - from)
						n = o->len - from;
					if (at > len)
						at = len;
					if (at + n > cap)
						n = cap - at;
					memcpy(b + at, o->p + from, n);
					if (at + n > len)
						len = at + n;
				}
			}
			break;
		case 6: /* an attribute header with an odd type and length */
			if (len >= 24) {
				size_t at = 20 + 4 * (rnd() % ((len - 20) / 4));
				if (at + 4 <= len) {
					b[at] = (uint8_t)(rnd() & 0x80);
					b[at + 1] = (uint8_t)rnd();
					b[at + 2] = 0;
					b[at + 3] = (uint8_t)(rnd() % 40);
				}
			}
			break;
		default: /* change a 16-bit length near the start */
			if (len >= 4) {
				size_t at = 2 + 4 * (rnd() % (len / 4));
				if (at + 1 < len) {
					b[at] = 0;
					b[at + 1] = (uint8_t)rnd();
				}
			}
			break;
		}
	}
	if (rnd() % 4 != 0)
		fix_length(b, len);
	return len;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++)
		if (add_path(argv[i]) < 0)
			return 1;
	if (n_seeds == 0) {
		fprintf(stderr, "no corpus files found\n");
		return 1;
	}

	long mutations = DEFAULT_MUTATIONS;
	const char *env = getenv("IW_REPLAY_MUTATIONS");
	if (env)
		mutations = strtol(env, NULL, 10);
	static uint8_t buf[SEED_CAP];
	for (long i = 0; i < mutations; i++) {
		const struct seed *s = &seeds[(size_t)i % n_seeds];
		memcpy(buf, s->p, s->len);
		size_t len = mutate(buf, s->len, sizeof buf);
		run_one(buf, len);
	}
	printf("replayed %zu corpus files and %llu inputs in all\n", n_seeds, runs);
	for (size_t i = 0; i < n_seeds; i++)
		free(seeds[i].p);
	return 0;
}
