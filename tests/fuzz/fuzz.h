/* The libFuzzer entry point every harness in this directory defines, and the replay main()
 * (replay.c) calls. */
#ifndef IW_TESTS_FUZZ_FUZZ_H
#define IW_TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant that does not hold: report and abort, so libFuzzer keeps the input and the
 * replay run fails under ctest. */
#define FUZZ_CHECK(cond)                                                                             \
	do {                                                                                         \
		if (!(cond)) {                                                                       \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                     \
		}                                                                                    \
	} while (0)

#endif
