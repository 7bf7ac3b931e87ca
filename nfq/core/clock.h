/* clock - the two time bases the project uses: monotonic time for timeouts
 * and rates (never jumps), wall-clock microseconds for what is written to the
 * database (so an operator can correlate rows with logs). */
#ifndef CRAFT_CLOCK_H
#define CRAFT_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t monotonic_us(void)
{
	return clock_ns(CLOCK_MONOTONIC) / 1000u;
}

static inline uint64_t monotonic_ms(void)
{
	return clock_ns(CLOCK_MONOTONIC) / 1000000u;
}

static inline uint64_t realtime_us(void)
{
	return clock_ns(CLOCK_REALTIME) / 1000u;
}

#endif
