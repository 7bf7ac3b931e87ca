/* test_pkt_backlog.c - the packet copy ring: FIFO order and contents across
 * many wraps with random sizes, the "was empty" wake-up signal, refusal
 * (counted) when full, recovery after draining. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "helper_pktgen.h"
#include "pkt_backlog.h"

Suite *pkt_backlog_suite(void);

static void fill(uint8_t *b, uint32_t n, uint64_t seq)
{
	for (uint32_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seq * 131 + i);
}

START_TEST(test_fifo_wraps)
{
	uint64_t seed = pktgen_test_seed("pkt_backlog/fifo_wraps");
	struct pktgen_rng rng;
	pktgen_rng_seed(&rng, seed);
	struct pkt_backlog b;
	ck_assert_int_eq(pkt_backlog_init(&b, 256 * 1024), 0);
	static uint8_t buf[65536];
	uint64_t in = 0, out = 0, refused = 0;
	uint32_t lens[4096];
	for (int round = 0; round < 20000; round++) {
		if (pktgen_chance(&rng, 55)) {
			uint32_t n = pktgen_below(&rng, 66000);
			if (n > 65535)
				n = 65535;
			fill(buf, n, in);
			int rc = pkt_backlog_push(&b, buf, n, n + 1, in);
			if (rc == -ENOBUFS) {
				refused++;
				continue;
			}
			ck_assert_int_eq(rc, out == in ? 1 : 0);
			lens[in % 4096] = n;
			in++;
		} else {
			struct pkt_backlog_pkt p;
			bool got = pkt_backlog_pop(&b, &p);
			ck_assert(got == (out < in));
			if (!got)
				continue;
			ck_assert_uint_eq(p.ts_us, out);
			ck_assert_uint_eq(p.len, lens[out % 4096]);
			ck_assert_uint_eq(p.wire_len, p.len + 1);
			fill(buf, p.len, out);
			ck_assert(memcmp(p.data, buf, p.len) == 0);
			out++;
		}
		ck_assert_uint_le(in - out, 4096);
	}
	ck_assert_uint_gt(refused, 0);
	ck_assert_uint_eq(b.dropped, refused);
	ck_assert_uint_le(b.used_max, 256 * 1024);
	pkt_backlog_free(&b);
}
END_TEST

START_TEST(test_full_then_drained)
{
	struct pkt_backlog b;
	ck_assert_int_eq(pkt_backlog_init(&b, 65536), 0);
	static uint8_t buf[20000];
	ck_assert_int_eq(pkt_backlog_push(&b, buf, 20000, 20000, 1), 1);
	ck_assert_int_eq(pkt_backlog_push(&b, buf, 20000, 20000, 2), 0);
	ck_assert_int_eq(pkt_backlog_push(&b, buf, 20000, 20000, 3), 0);
	ck_assert_int_eq(pkt_backlog_push(&b, buf, 20000, 20000, 4), -ENOBUFS);
	struct pkt_backlog_pkt p;
	ck_assert(pkt_backlog_pop(&b, &p));
	ck_assert(pkt_backlog_pop(&b, &p));
	/* room at the front now: the next record wraps */
	ck_assert_int_eq(pkt_backlog_push(&b, buf, 20000, 20000, 5), 0);
	ck_assert(pkt_backlog_pop(&b, &p));
	ck_assert_uint_eq(p.ts_us, 3);
	ck_assert(pkt_backlog_pop(&b, &p));
	ck_assert_uint_eq(p.ts_us, 5);
	ck_assert(!pkt_backlog_pop(&b, &p));
	ck_assert(pkt_backlog_empty(&b));
	ck_assert_int_eq(pkt_backlog_push(&b, buf, 0, 40, 6), 1);
	pkt_backlog_free(&b);
	ck_assert_int_eq(pkt_backlog_init(&b, 100), -EINVAL);
}
END_TEST

Suite *pkt_backlog_suite(void)
{
	Suite *s = suite_create("pkt_backlog");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_fifo_wraps);
	tcase_add_test(tc, test_full_then_drained);
	suite_add_tcase(s, tc);
	return s;
}
