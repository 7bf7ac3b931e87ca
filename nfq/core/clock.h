/* clock - the two time bases the project uses: monotonic time for timeouts
 * and rates (never jumps), wall-clock microseconds for what is written to the
 * database (so an operator can correlate rows with logs). */
#ifndef CRAFT_CLOCK_H
#define CRAFT_CLOCK_H

#include <errno.h>
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

/* Sleeps ms milliseconds, resuming after signals (tools and test servers
 * that pace themselves; daemons use event-loop timers instead). */
static inline void clock_sleep_ms(uint64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
			      .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

#endif
