/* test_seq.c - sequence arithmetic modulo 2^32, especially across the wrap. */
#include <check.h>
#include <stdint.h>

#include "helper_pktgen.h"
#include "seq.h"

START_TEST(wrap_comparisons)
{
	ck_assert(seq_before(0xFFFFFFF0u, 0x10u));
	ck_assert(seq_after(0x10u, 0xFFFFFFF0u));
	ck_assert(!seq_after(0xFFFFFFF0u, 0x10u));
	ck_assert(!seq_before(0x10u, 0xFFFFFFF0u));
	ck_assert(seq_before_eq(0xFFFFFFF0u, 0x10u));
	ck_assert(seq_after_eq(0x10u, 0xFFFFFFF0u));
	ck_assert(seq_before_eq(7u, 7u));
	ck_assert(seq_after_eq(7u, 7u));
	ck_assert(!seq_before(7u, 7u));
	ck_assert(!seq_after(7u, 7u));
	ck_assert(seq_before(0xFFFFFFFFu, 0u));
	ck_assert(seq_after(0u, 0xFFFFFFFFu));
	ck_assert(seq_before(0x7FFFFFFFu, 0x80000000u));
	ck_assert(seq_before(100u, 200u));
	ck_assert(seq_after(200u, 100u));
}
END_TEST

START_TEST(diff_and_add)
{
	ck_assert_int_eq(seq_diff(0x10u, 0xFFFFFFF0u), 0x20);
	ck_assert_int_eq(seq_diff(0xFFFFFFF0u, 0x10u), -0x20);
	ck_assert_int_eq(seq_diff(5u, 5u), 0);
	ck_assert_int_eq(seq_diff(0x7FFFFFFFu, 0u), INT32_MAX);
	ck_assert_int_eq(seq_diff(0u, 0x7FFFFFFFu), -INT32_MAX);
	ck_assert_uint_eq(seq_add(0xFFFFFFF0u, 0x20), 0x10u);
	ck_assert_uint_eq(seq_add(0x10u, -0x20), 0xFFFFFFF0u);
	ck_assert_uint_eq(seq_add(1u, (int64_t)1 << 32), 1u);
	ck_assert_uint_eq(seq_add(1u, ((int64_t)1 << 32) + 5), 6u);
	ck_assert_uint_eq(seq_add(1u, -((int64_t)1 << 33) - 2), 0xFFFFFFFFu);
	ck_assert_uint_eq(seq_add(0u, INT32_MIN), 0x80000000u);
	ck_assert_uint_eq(seq_max(0xFFFFFFF0u, 0x10u), 0x10u);
	ck_assert_uint_eq(seq_min(0xFFFFFFF0u, 0x10u), 0xFFFFFFF0u);
}
END_TEST

START_TEST(half_space_ambiguity)
{
	/* Exactly 2^31 apart: documented as ambiguous, both are "before". */
	uint32_t a = 0x12345678u, b = a + 0x80000000u;

	ck_assert_int_eq(seq_diff(a, b), INT32_MIN);
	ck_assert_int_eq(seq_diff(b, a), INT32_MIN);
	ck_assert(seq_before(a, b));
	ck_assert(seq_before(b, a));
	ck_assert(!seq_after(a, b));
	ck_assert(!seq_after(b, a));
}
END_TEST

START_TEST(between_wraps)
{
	ck_assert(seq_between(0u, 0xFFFFFFF0u, 0x10u));
	ck_assert(seq_between(0xFFFFFFF0u, 0xFFFFFFF0u, 0x10u));
	ck_assert(seq_between(0x10u, 0xFFFFFFF0u, 0x10u));
	ck_assert(!seq_between(0x11u, 0xFFFFFFF0u, 0x10u));
	ck_assert(!seq_between(0xFFFFFFEFu, 0xFFFFFFF0u, 0x10u));
	ck_assert(seq_between(5u, 5u, 5u));
	ck_assert(!seq_between(6u, 5u, 5u));
	ck_assert(seq_between(150u, 100u, 200u));
	ck_assert(!seq_between(99u, 100u, 200u));
	ck_assert(!seq_between(201u, 100u, 200u));
	/* A window of more than 2^31 still works (no half-space rule). */
	ck_assert(seq_between(0xA0000000u, 0u, 0xF0000000u));
	ck_assert(!seq_between(0xF0000001u, 0u, 0xF0000000u));
}
END_TEST

START_TEST(random_consistency)
{
	struct pktgen_rng r;

	pktgen_rng_seed(&r, pktgen_test_seed("seq/random_consistency"));
	for (int i = 0; i < 1000000; i++) {
		uint32_t a = pktgen_u32(&r);
		int32_t d = (int32_t)(pktgen_u32(&r) >> 1) * (pktgen_chance(&r, 50) ? 1 : -1);
		uint32_t b = seq_add(a, d);
		bool ok = seq_diff(b, a) == d && seq_before(a, b) == (d > 0) &&
			  seq_after(a, b) == (d < 0) && seq_before_eq(a, b) == (d >= 0) &&
			  seq_after_eq(a, b) == (d <= 0) &&
			  seq_between(b, a, seq_add(a, d < 0 ? -(int64_t)d : d)) == (d >= 0);

		if (!ok)
			ck_abort_msg("a=%#x d=%d b=%#x", a, d, b);
	}
}
END_TEST

Suite *seq_suite(void);
Suite *seq_suite(void)
{
	Suite *s = suite_create("seq");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, wrap_comparisons);
	tcase_add_test(tc, diff_and_add);
	tcase_add_test(tc, half_space_ambiguity);
	tcase_add_test(tc, between_wraps);
	tcase_add_test(tc, random_consistency);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
