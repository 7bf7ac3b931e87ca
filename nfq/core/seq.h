/* seq.h - TCP sequence-number arithmetic modulo 2^32.
 *
 * Sequence and acknowledgement numbers (and SACK block edges, and, with the
 * same rules, TCP timestamps) live on a circle of 2^32 values: a number is
 * "before" another when going forward from it reaches the other in fewer than
 * 2^31 steps.  Every comparison in CRAFT goes through these helpers so that a
 * connection whose sequence space wraps keeps working.
 *
 * Half-space ambiguity: for two numbers exactly 2^31 apart neither is
 * meaningfully before the other.  These helpers (like the Linux kernel's
 * before()/after()) then answer seq_before(a, b) == seq_before(b, a) == true
 * and seq_diff() == INT32_MIN.  TCP never has 2^31 bytes in flight (the
 * window is at most 2^30), so callers comparing numbers of one connection
 * never meet the case; code comparing numbers of unrelated origin must not
 * rely on the answer.
 *
 * seq_between(x, lo, hi) does not need the half-space rule: it walks forward
 * from lo and asks whether x comes no later than hi, so it is exact for any
 * window shorter than 2^32 (a window with hi "before" lo wraps around).
 */
#ifndef CRAFT_SEQ_H
#define CRAFT_SEQ_H

#include <stdbool.h>
#include <stdint.h>

/* Signed forward distance from b to a: a == b + seq_diff(a, b) (mod 2^32).
 * Written without the implementation-defined unsigned-to-signed conversion. */
static inline int32_t seq_diff(uint32_t a, uint32_t b)
{
	uint32_t d = a - b;

	if (d <= (uint32_t)INT32_MAX)
		return (int32_t)d;
	return -(int32_t)(~d) - 1;
}

/* a + delta modulo 2^32; delta may be negative or wider than 32 bits. */
static inline uint32_t seq_add(uint32_t a, int64_t delta)
{
	return a + (uint32_t)(uint64_t)delta;
}

static inline bool seq_before(uint32_t a, uint32_t b)
{
	return seq_diff(a, b) < 0;
}

static inline bool seq_after(uint32_t a, uint32_t b)
{
	return seq_diff(a, b) > 0;
}

static inline bool seq_before_eq(uint32_t a, uint32_t b)
{
	return seq_diff(a, b) <= 0;
}

static inline bool seq_after_eq(uint32_t a, uint32_t b)
{
	return seq_diff(a, b) >= 0;
}

/* lo <= x <= hi, walking forward from lo (see the comment at the top). */
static inline bool seq_between(uint32_t x, uint32_t lo, uint32_t hi)
{
	return x - lo <= hi - lo;
}

static inline uint32_t seq_max(uint32_t a, uint32_t b)
{
	return seq_after(a, b) ? a : b;
}

static inline uint32_t seq_min(uint32_t a, uint32_t b)
{
	return seq_before(a, b) ? a : b;
}

#endif /* CRAFT_SEQ_H */
