/* test_checksum.c - Internet checksum, chaining, and RFC 1624 updates.
 *
 * The optimised core code is checked against the word-at-a-time reference in
 * helper_pktgen.c on random data at every length and alignment, and every
 * incremental update against a full recomputation, bit for bit.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "checksum.h"
#include "helper_pktgen.h"
#include "packet.h"

static uint16_t field(const uint8_t *b)
{
	return pkt_load_be16(b);
}

START_TEST(rfc1071_example)
{
	/* RFC 1071 section 3: the sum of these words folds to 0xddf2. */
	const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};

	ck_assert_uint_eq(csum_reduce(csum_partial(b, sizeof(b), 0)), 0xddf2);
	ck_assert_uint_eq(csum_fold(csum_partial(b, sizeof(b), 0)), 0x220d);
	ck_assert_uint_eq(csum_fold(0), 0xffff);
	ck_assert_uint_eq(csum_reduce(0), 0);
	ck_assert_uint_eq(csum_reduce(0xffffffffu), 0xffff);
	ck_assert_uint_eq(csum_reduce(0x0001ffffu), 0x0001);
	ck_assert_uint_eq(csum_partial(b, 0, 1234), 1234);
	/* An odd trailing byte is the high byte of a zero-padded word. */
	ck_assert_uint_eq(csum_reduce(csum_partial(b + 2, 1, 0)), 0xf200);
}
END_TEST

START_TEST(ipv4_header_example)
{
	/* A well-known header whose checksum is 0xb861. */
	uint8_t ip[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
			  0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};

	ck_assert_uint_eq(ipv4_header_checksum(ip, 20), 0xb861);
	ck_assert(!ipv4_checksum_ok(ip, 20));
	pkt_store_be16(ip + 10, 0xb861);
	ck_assert_uint_eq(ipv4_header_checksum(ip, 20), 0xb861); /* field ignored */
	ck_assert(ipv4_checksum_ok(ip, 20));
	ip[15] ^= 0x10;
	ck_assert(!ipv4_checksum_ok(ip, 20));
	ck_assert(!ipv4_checksum_ok(ip, 19));
	ck_assert_uint_eq(ipv4_header_checksum(ip, 11), 0);
}
END_TEST

START_TEST(partial_matches_reference)
{
	struct pktgen_rng r;
	uint8_t buf[1024 + 8];

	pktgen_rng_seed(&r, pktgen_test_seed("checksum/partial_matches_reference"));
	for (int round = 0; round < 20; round++) {
		pktgen_fill(&r, buf, sizeof(buf));
		if (round == 0)
			memset(buf, 0xff, sizeof(buf));
		for (size_t align = 0; align < 8; align++)
			for (size_t len = 0; len <= 1024; len += 1 + (len > 100) * 13) {
				uint16_t got = csum_reduce(csum_partial(buf + align, len, 0));
				uint16_t want = pktgen_ref_sum(buf + align, len);

				if (got != want)
					ck_abort_msg("len %zu align %zu: %#x != %#x", len, align,
						     got, want);
			}
	}
}
END_TEST

START_TEST(partial_large_buffer)
{
	static uint8_t buf[65536 + 3];
	struct pktgen_rng r;

	pktgen_rng_seed(&r, pktgen_test_seed("checksum/partial_large_buffer"));
	pktgen_fill(&r, buf, sizeof(buf));
	ck_assert_uint_eq(csum_reduce(csum_partial(buf + 1, 65535, 0)),
			  pktgen_ref_sum(buf + 1, 65535));
	memset(buf, 0xff, sizeof(buf));
	ck_assert_uint_eq(csum_reduce(csum_partial(buf, sizeof(buf), 0xffffffffu)),
			  csum_reduce(csum_add(0xffffffffu, pktgen_ref_sum(buf, sizeof(buf)))));
}
END_TEST

START_TEST(chaining_even_and_odd)
{
	struct pktgen_rng r;
	uint8_t buf[300];

	pktgen_rng_seed(&r, pktgen_test_seed("checksum/chaining_even_and_odd"));
	for (int i = 0; i < 20000; i++) {
		size_t n = pktgen_below(&r, sizeof(buf) + 1);
		size_t k = pktgen_below(&r, (uint32_t)n + 1);
		size_t k2 = k + pktgen_below(&r, (uint32_t)(n - k) + 1);
		uint16_t whole, chained, three;
		uint32_t s;

		pktgen_fill(&r, buf, n);
		whole = csum_reduce(csum_partial(buf, n, 0));
		chained = csum_reduce(
		    csum_block_add(csum_partial(buf, k, 0), csum_partial(buf + k, n - k, 0), k));
		s = csum_partial(buf, k, 0);
		s = csum_block_add(s, csum_partial(buf + k, k2 - k, 0), k);
		s = csum_block_add(s, csum_partial(buf + k2, n - k2, 0), k2);
		three = csum_reduce(s);
		if (whole != chained || whole != three)
			ck_abort_msg("n=%zu k=%zu k2=%zu: %#x %#x %#x", n, k, k2, whole, chained,
				     three);
		/* Plain chaining is exact when the first part has even length. */
		k &= ~(size_t)1;
		if (csum_reduce(csum_partial(buf + k, n - k, csum_partial(buf, k, 0))) != whole)
			ck_abort_msg("plain chaining n=%zu k=%zu", n, k);
	}
}
END_TEST

START_TEST(add_sub_inverse)
{
	struct pktgen_rng r;

	pktgen_rng_seed(&r, pktgen_test_seed("checksum/add_sub_inverse"));
	for (int i = 0; i < 100000; i++) {
		uint32_t a = pktgen_u32(&r), b = pktgen_u32(&r);
		uint32_t back = csum_sub(csum_add(a, b), b);

		/* Equal modulo 65535 (0 and 0xffff are both zero). */
		if (csum_reduce(back) % 0xffff != csum_reduce(a) % 0xffff)
			ck_abort_msg("a=%#x b=%#x", a, b);
	}
}
END_TEST

/* A random even-length "segment" whose first word is a check field made
 * valid, then random words/bytes rewritten incrementally.  Like a TCP pseudo
 * header, a constant non-zero word keeps the sum from being exactly zero (the
 * one case where +0/-0 would make bits differ; TCP never has it). */
#define NONZERO_WORD 6
START_TEST(replace_matches_recompute)
{
	struct pktgen_rng r;
	uint8_t seg[128], old[128];

	pktgen_rng_seed(&r, pktgen_test_seed("checksum/replace_matches_recompute"));
	for (int i = 0; i < 100000; i++) {
		size_t n = 8 + 2 * pktgen_below(&r, 60), off, len;
		uint16_t want;

		pktgen_fill(&r, seg, n);
		if (pktgen_chance(&r, 5))
			memset(seg + 2, pktgen_chance(&r, 50) ? 0 : 0xff, n - 2);
		pkt_store_be16(seg, csum_fold(csum_partial(seg + 2, n - 2, NONZERO_WORD)));
		switch (pktgen_below(&r, 3)) {
		case 0:
			off = 2 + 2 * pktgen_below(&r, (uint32_t)(n - 2) / 2);
			len = 2;
			memcpy(old, seg + off, 2);
			pkt_store_be16(seg + off, (uint16_t)pktgen_u32(&r));
			csum_replace2(seg, pkt_load_be16(old), pkt_load_be16(seg + off));
			break;
		case 1:
			off = 2 + 2 * pktgen_below(&r, (uint32_t)(n - 4) / 2);
			len = 4;
			memcpy(old, seg + off, 4);
			pkt_store_be32(seg + off, pktgen_u32(&r));
			csum_replace4(seg, pkt_load_be32(old), pkt_load_be32(seg + off));
			break;
		default:
			off = 2 + pktgen_below(&r, (uint32_t)n - 2);
			len = pktgen_below(&r, (uint32_t)(n - off) + 1);
			memcpy(old, seg + off, len);
			pktgen_fill(&r, seg + off, len);
			csum_replace_bytes(seg, old, seg + off, len, off & 1);
			break;
		}
		want = csum_fold(csum_partial(seg + 2, n - 2, NONZERO_WORD));
		if (field(seg) != want)
			ck_abort_msg("n=%zu off=%zu len=%zu: %#x != %#x", n, off, len, field(seg),
				     want);
	}
}
END_TEST

START_TEST(replace_eqn3_zero_result)
{
	/* Rewriting data 0x1234 -> 0xffff must give 0x0000, the bits a full
	 * recomputation gives, not the equivalent 0xffff of RFC 1624 eqn 2. */
	uint8_t seg[4];

	pkt_store_be16(seg + 2, 0x1234);
	pkt_store_be16(seg, csum_fold(csum_partial(seg + 2, 2, 0)));
	ck_assert_uint_eq(field(seg), 0xedcb);
	pkt_store_be16(seg + 2, 0xffff);
	csum_replace2(seg, 0x1234, 0xffff);
	ck_assert_uint_eq(field(seg), 0x0000);
	ck_assert_uint_eq(field(seg), csum_fold(csum_partial(seg + 2, 2, 0)));
	/* And back. */
	csum_replace2(seg, 0xffff, 0x1234);
	ck_assert_uint_eq(field(seg), 0xedcb);
	/* Unaligned check field pointer. */
	{
		uint8_t odd[5] = {0};

		pkt_store_be16(odd + 1, 0xedcb);
		csum_replace2(odd + 1, 0x1234, 0xffff);
		ck_assert_uint_eq(field(odd + 1), 0);
	}
}
END_TEST

START_TEST(tcp_checksum_matches_reference)
{
	struct pktgen_rng r;
	uint8_t seg[2000];

	pktgen_rng_seed(&r, pktgen_test_seed("checksum/tcp_checksum_matches_reference"));
	for (int i = 0; i < 20000; i++) {
		uint32_t sa = pktgen_u32(&r), da = pktgen_u32(&r);
		size_t n = 20 + pktgen_below(&r, sizeof(seg) - 19);
		uint16_t c;

		pktgen_fill(&r, seg, n);
		c = tcp4_checksum_full(sa, da, seg, n);
		if (c != pktgen_ref_tcp_checksum(sa, da, seg, n))
			ck_abort_msg("full n=%zu", n);
		pkt_store_be16(seg + 16, c);
		if (!tcp4_checksum_ok(sa, da, seg, n))
			ck_abort_msg("ok n=%zu", n);
		seg[pktgen_below(&r, (uint32_t)n)] ^= (uint8_t)(1u << pktgen_below(&r, 8));
		if (tcp4_checksum_ok(sa, da, seg, n))
			ck_abort_msg("single bit flip undetected n=%zu", n);
		if (tcp4_pseudo_sum(sa, da, n) != pktgen_ref_pseudo_sum(sa, da, n))
			ck_abort_msg("pseudo n=%zu", n);
	}
	ck_assert_uint_eq(tcp4_checksum_full(1, 2, seg, 17), 0);
	ck_assert(!tcp4_checksum_ok(1, 2, seg, 19));
}
END_TEST

START_TEST(pseudo_replace_matches_recompute)
{
	struct pktgen_rng r;

	pktgen_rng_seed(&r, pktgen_test_seed("checksum/pseudo_replace_matches_recompute"));
	for (int i = 0; i < 200000; i++) {
		uint32_t sa = pktgen_u32(&r), da = pktgen_u32(&r), na = pktgen_u32(&r);
		size_t len = 20 + pktgen_below(&r, 65516), nlen = 20 + pktgen_below(&r, 65516);
		uint8_t f[2];

		if (i < 4) { /* extremes */
			sa = i & 1 ? 0 : 0xffffffffu;
			na = i & 2 ? 0 : 0xffffffffu;
		}
		pkt_store_be16(f, tcp4_pseudo_sum(sa, da, len));
		csum_pseudo_replace4(f, sa, na);
		if (field(f) != tcp4_pseudo_sum(na, da, len))
			ck_abort_msg("addr %#x -> %#x", sa, na);
		csum_pseudo_replace2(f, (uint16_t)len, (uint16_t)nlen);
		if (field(f) != tcp4_pseudo_sum(na, da, nlen))
			ck_abort_msg("len %zu -> %zu", len, nlen);
	}
}
END_TEST

Suite *checksum_suite(void);
Suite *checksum_suite(void)
{
	Suite *s = suite_create("checksum");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, rfc1071_example);
	tcase_add_test(tc, ipv4_header_example);
	tcase_add_test(tc, partial_matches_reference);
	tcase_add_test(tc, partial_large_buffer);
	tcase_add_test(tc, chaining_even_and_odd);
	tcase_add_test(tc, add_sub_inverse);
	tcase_add_test(tc, replace_matches_recompute);
	tcase_add_test(tc, replace_eqn3_zero_result);
	tcase_add_test(tc, tcp_checksum_matches_reference);
	tcase_add_test(tc, pseudo_replace_matches_recompute);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
