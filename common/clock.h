/* Monotonic and wall clocks in milliseconds (and monotonic microseconds). */
#ifndef IW_COMMON_CLOCK_H
#define IW_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t iw_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline uint64_t iw_clock_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static inline int64_t iw_clock_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t iw_clock_wall_s(void)
{
	return (int64_t)time(NULL);
}

#endif
