/* test_tcp_options.c - option walk (well-formed, malformed, exhaustive
 * kind x length, random bytes) and the in-place rewriters.
 *
 * Option areas are parsed from heap buffers of exactly the header's length
 * so that ASan catches any read beyond the data offset.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "helper_pktgen.h"
#include "packet.h"
#include "tcp_options.h"

/* Parses a TCP header whose option area is opts[0..len) (len % 4 == 0). */
static int parse_area(const uint8_t *opts, size_t len, struct tcp_options *o)
{
	size_t hlen = TCP_HDR_MIN + len;
	uint8_t *h = malloc(hlen);
	int rc;

	if (!h) /* not ck_assert: a passing Check assertion costs a write(2) */
		ck_abort_msg("out of memory");
	memset(h, 0, TCP_HDR_MIN);
	h[TCP_OFF_DOFF] = (uint8_t)(hlen / 4 << 4);
	if (len)
		memcpy(h + TCP_HDR_MIN, opts, len);
	rc = tcp_options_parse_hdr(h, hlen, o);
	free(h);
	return rc;
}

#define AREA(...)                                                                                  \
	({                                                                                         \
		static const uint8_t a_[] = {__VA_ARGS__};                                         \
		_Static_assert(sizeof(a_) % 4 == 0, "option area must be padded");                 \
		parse_area(a_, sizeof(a_), &o);                                                    \
	})

START_TEST(parse_each_kind)
{
	struct tcp_options o;

	ck_assert_int_eq(AREA(2, 4, 0x05, 0xb4), 0);
	ck_assert(o.has_mss);
	ck_assert_uint_eq(o.mss, 1460);
	ck_assert_uint_eq(o.mss_off, 20);
	ck_assert(!o.has_wscale && !o.has_timestamp && !o.sack_permitted && !o.sack_count);

	/* A typical Linux SYN: MSS, SACK-perm, TS, NOP, WS 7. */
	ck_assert_int_eq(AREA(2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 3, 3, 7),
			 0);
	ck_assert(o.has_mss && o.sack_permitted && o.has_timestamp && o.has_wscale);
	ck_assert_uint_eq(o.sack_perm_off, 24);
	ck_assert_uint_eq(o.ts_off, 26);
	ck_assert_uint_eq(o.tsval, 1);
	ck_assert_uint_eq(o.tsecr, 2);
	ck_assert_uint_eq(o.wscale_off, 37);
	ck_assert_uint_eq(o.wscale, 7);

	/* NOP NOP TS, then NOP NOP SACK with 2 blocks. */
	ck_assert_int_eq(AREA(1, 1, 8, 10, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 1, 5, 18, 0, 0, 0,
			      1, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 0x10),
			 0);
	ck_assert_uint_eq(o.ts_off, 22);
	ck_assert_uint_eq(o.tsval, 0xffffffff);
	ck_assert_uint_eq(o.sack_off, 34);
	ck_assert_uint_eq(o.sack_count, 2);
	ck_assert_uint_eq(o.sack[0].start, 1);
	ck_assert_uint_eq(o.sack[0].end, 2);
	ck_assert_uint_eq(o.sack[1].start, 0xfffffff0);
	ck_assert_uint_eq(o.sack[1].end, 0x10);

	/* Four SACK blocks fill 34 of 36 bytes. */
	{
		uint8_t a[36] = {1, 1, 5, 34};

		for (int i = 0; i < 32; i++)
			a[4 + i] = (uint8_t)i;
		ck_assert_int_eq(parse_area(a, sizeof(a), &o), 0);
		ck_assert_uint_eq(o.sack_count, 4);
		ck_assert_uint_eq(o.sack[3].end, 0x1c1d1e1f);
	}
	/* An MSS at an odd offset. */
	ck_assert_int_eq(AREA(1, 2, 4, 1, 0, 0, 0, 0), 0);
	ck_assert_uint_eq(o.mss_off, 21);
	ck_assert_uint_eq(o.mss, 0x0100);
	/* No options at all. */
	ck_assert_int_eq(parse_area(NULL, 0, &o), 0);
	ck_assert(!o.has_mss && !o.unknown_count);
}
END_TEST

START_TEST(parse_eol_nop_unknown)
{
	struct tcp_options o;

	/* Anything after EOL is padding, even garbage. */
	ck_assert_int_eq(AREA(0, 0xff, 0, 0), 0);
	ck_assert_int_eq(AREA(2, 4, 1, 0, 0, 5, 0, 0), 0);
	ck_assert(o.has_mss && !o.sack_count);
	{
		uint8_t nops[40];

		memset(nops, 1, sizeof(nops));
		ck_assert_int_eq(parse_area(nops, sizeof(nops), &o), 0);
	}
	ck_assert_int_eq(AREA(30, 4, 1, 2, 30, 2, 0, 0), 0);
	ck_assert_uint_eq(o.unknown_count, 2);
	ck_assert(!o.has_signature);
	ck_assert_int_eq(AREA(19, 18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 0);
	ck_assert(o.has_signature);
	ck_assert_int_eq(AREA(29, 4, 0, 0), 0);
	ck_assert(o.has_signature);
	ck_assert_uint_eq(o.unknown_count, 0);
}
END_TEST

START_TEST(parse_bad_lengths)
{
	struct tcp_options o;

	ck_assert_int_eq(AREA(30, 0, 0, 0), PKT_EOPTLEN);
	ck_assert_int_eq(AREA(30, 1, 0, 0), PKT_EOPTLEN);
	ck_assert_int_eq(AREA(30, 5, 0, 0), PKT_EOPTLEN);
	ck_assert_int_eq(AREA(1, 1, 1, 30), PKT_EOPTLEN);
	ck_assert_int_eq(AREA(1, 1, 1, 2), PKT_EOPTLEN);
	ck_assert_int_eq(AREA(1, 1, 2, 4), PKT_EOPTLEN);
	ck_assert_int_eq(AREA(8, 10, 0, 0, 0, 0, 0, 0), PKT_EOPTLEN);
	ck_assert_int_eq(AREA(1, 5, 255, 0), PKT_EOPTLEN);
	/* Errors leave the result zeroed, even after a good option. */
	ck_assert_int_eq(AREA(2, 4, 1, 1, 30, 0, 0, 0), PKT_EOPTLEN);
	ck_assert(!o.has_mss && !o.mss_off);
}
END_TEST

START_TEST(parse_bad_known_and_duplicates)
{
	struct tcp_options o;

	ck_assert_int_eq(AREA(2, 3, 0, 0), PKT_EOPTBAD);
	ck_assert_int_eq(AREA(2, 5, 0, 0, 0, 0, 0, 0), PKT_EOPTBAD);
	ck_assert_int_eq(AREA(3, 2, 0, 0), PKT_EOPTBAD);
	ck_assert_int_eq(AREA(3, 4, 0, 0), PKT_EOPTBAD);
	ck_assert_int_eq(AREA(4, 3, 0, 0), PKT_EOPTBAD);
	ck_assert_int_eq(AREA(8, 8, 0, 0, 0, 0, 0, 0), PKT_EOPTBAD);
	ck_assert_int_eq(AREA(8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), PKT_EOPTBAD);
	ck_assert_int_eq(AREA(5, 2, 0, 0), PKT_EOPTBAD);
	ck_assert_int_eq(AREA(5, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), PKT_EOPTBAD);
	ck_assert_int_eq(AREA(5, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), PKT_EOPTBAD);
	ck_assert_int_eq(AREA(2, 4, 0, 1, 2, 4, 0, 2), PKT_EOPTDUP);
	ck_assert_int_eq(AREA(3, 3, 1, 3, 3, 1, 0, 0), PKT_EOPTDUP);
	ck_assert_int_eq(AREA(4, 2, 4, 2), PKT_EOPTDUP);
	ck_assert_int_eq(AREA(8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0),
			 PKT_EOPTDUP);
	ck_assert_int_eq(AREA(5, 10, 0, 0, 0, 0, 0, 0, 0, 0, 5, 10, 0, 0, 0, 0, 0, 0, 0, 0),
			 PKT_EOPTDUP);
}
END_TEST

static int expected_single(unsigned kind, unsigned len)
{
	if (len < 2 || len > 40)
		return PKT_EOPTLEN;
	switch (kind) {
	case TCP_OPT_MSS:
		return len == 4 ? 0 : PKT_EOPTBAD;
	case TCP_OPT_WSCALE:
		return len == 3 ? 0 : PKT_EOPTBAD;
	case TCP_OPT_SACK_PERM:
		return len == 2 ? 0 : PKT_EOPTBAD;
	case TCP_OPT_TIMESTAMP:
		return len == 10 ? 0 : PKT_EOPTBAD;
	case TCP_OPT_SACK:
		return len >= 10 && (len - 2) % 8 == 0 ? 0 : PKT_EOPTBAD;
	default:
		return 0;
	}
}

START_TEST(parse_every_kind_and_length)
{
	struct tcp_options o;
	uint8_t a[40] = {0};

	for (unsigned kind = 2; kind < 256; kind++)
		for (unsigned len = 0; len < 256; len++) {
			int rc;

			a[0] = (uint8_t)kind;
			a[1] = (uint8_t)len;
			rc = parse_area(a, sizeof(a), &o);
			if (rc != expected_single(kind, len))
				ck_abort_msg("kind %u len %u: rc %d", kind, len, rc);
			/* The same option squeezed into the last 4 bytes. */
			memset(a, 1, 36);
			a[36] = (uint8_t)kind;
			a[37] = (uint8_t)len;
			rc = parse_area(a, sizeof(a), &o);
			if (rc != (len > 4 ? PKT_EOPTLEN : expected_single(kind, len)))
				ck_abort_msg("tail kind %u len %u: rc %d", kind, len, rc);
			memset(a, 0, sizeof(a));
		}
}
END_TEST

START_TEST(parse_random_bytes)
{
	struct pktgen_rng r;
	uint8_t a[40];
	unsigned ok = 0;

	pktgen_rng_seed(&r, pktgen_test_seed("tcp_options/parse_random_bytes"));
	for (int i = 0; i < 200000; i++) {
		size_t len = 4 * pktgen_below(&r, 11);
		struct tcp_options o;
		int rc;

		pktgen_fill(&r, a, len);
		/* Bias towards plausible kinds so that deep paths are reached. */
		for (size_t j = 0; j < len; j++)
			if (pktgen_chance(&r, 40))
				a[j] = (uint8_t)pktgen_below(&r, 10);
		rc = parse_area(a, len, &o);
		if (rc == 0) {
			ok++;
			if ((o.has_mss && a[o.mss_off - 20] != TCP_OPT_MSS) ||
			    (o.has_timestamp && a[o.ts_off - 20] != TCP_OPT_TIMESTAMP) ||
			    (o.sack_count && a[o.sack_off - 20] != TCP_OPT_SACK) ||
			    o.sack_count > TCP_SACK_MAX)
				ck_abort_msg("inconsistent result at %d", i);
		} else if (rc != PKT_EOPTLEN && rc != PKT_EOPTBAD && rc != PKT_EOPTDUP) {
			ck_abort_msg("rc %d", rc);
		}
	}
	ck_assert_uint_gt(ok, 1000);
}
END_TEST

/* A packet with every rewritable option: MSS at 21, WS at 25, SACK-permitted
 * at 28, timestamps at 30, SACK at 41 (odd and even offsets both). */
static size_t build_all_options(uint8_t *buf, size_t cap, enum tcp_csum_mode mode,
				struct pktgen_spec *s)
{
	static const struct tcp_sack_block blk[2] = {{0xfffffff0u, 0xfffffff8u}, {5, 9}};
	static const uint8_t payload[] = "odd";
	int n;

	pktgen_spec_init(s);
	s->csum = mode;
	s->flags = TCP_FL_SYN | TCP_FL_ACK;
	pktgen_opt_nop(s);
	pktgen_opt_mss(s, 1460);
	pktgen_opt_wscale(s, 7);
	pktgen_opt_sack_perm(s);
	pktgen_opt_timestamp(s, 1000, 2000);
	pktgen_opt_nop(s);
	pktgen_opt_sack(s, blk, 2);
	s->payload = payload;
	s->payload_len = 3;
	n = pktgen_build(s, buf, cap);
	ck_assert_int_gt(n, 0);
	return (size_t)n;
}

static bool csum_ok(const struct tcp4_packet *p)
{
	struct tcp4_view v = tcp4_view_of(p);

	return tcp4_checksum_valid(&v, CSUM_COMPLETE);
}

START_TEST(rewriters_complete)
{
	struct pktgen_spec s;
	uint8_t buf[256];
	struct tcp4_packet p;
	struct tcp_options o, re;
	size_t n = build_all_options(buf, sizeof(buf), CSUM_COMPLETE, &s);

	ck_assert_int_eq(tcp4_parse(buf, n, &p), 0);
	ck_assert_int_eq(tcp_options_parse(&p, &o), 0);
	ck_assert_uint_eq(o.mss_off, 21);
	ck_assert_uint_eq(o.wscale_off, 25);
	ck_assert_uint_eq(o.sack_perm_off, 28);
	ck_assert_uint_eq(o.ts_off, 30);
	ck_assert_uint_eq(o.sack_off, 41);
	ck_assert_int_eq(tcp_options_set_mss(&p, &o, 1400, CSUM_COMPLETE), 0);
	ck_assert(csum_ok(&p));
	ck_assert_int_eq(tcp_options_set_wscale(&p, &o, 14, CSUM_COMPLETE), 0);
	ck_assert(csum_ok(&p));
	ck_assert_int_eq(tcp_options_set_timestamp(&p, &o, 0xfffffffe, 3, CSUM_COMPLETE), 0);
	ck_assert(csum_ok(&p));
	ck_assert_int_eq(tcp_options_set_sack_block(&p, &o, 1, 77, 88, CSUM_COMPLETE), 0);
	ck_assert(csum_ok(&p));
	ck_assert_int_eq(tcp_options_set_sack_block(&p, &o, 2, 77, 88, CSUM_COMPLETE), -EINVAL);
	ck_assert_int_eq(tcp_options_shift_sack(&p, &o, 0x20, CSUM_COMPLETE), 0);
	ck_assert(csum_ok(&p));
	ck_assert_int_eq(tcp_options_parse(&p, &re), 0);
	ck_assert_uint_eq(re.mss, 1400);
	ck_assert_uint_eq(re.wscale, 14);
	ck_assert_uint_eq(re.tsval, 0xfffffffe);
	ck_assert_uint_eq(re.tsecr, 3);
	ck_assert_uint_eq(re.sack[0].start, 0x10); /* wrapped */
	ck_assert_uint_eq(re.sack[0].end, 0x18);
	ck_assert_uint_eq(re.sack[1].start, 77 + 0x20);
	ck_assert_uint_eq(re.sack[1].end, 88 + 0x20);
	ck_assert_uint_eq(o.sack[0].start, re.sack[0].start);
	ck_assert_uint_eq(o.mss, re.mss);
	ck_assert_uint_eq(o.tsval, re.tsval);
	ck_assert_int_eq(tcp_options_shift_sack(&p, &o, -0x20, CSUM_COMPLETE), 0);
	ck_assert_int_eq(tcp_options_parse(&p, &re), 0);
	ck_assert_uint_eq(re.sack[0].start, 0xfffffff0u);
	ck_assert(csum_ok(&p));
}
END_TEST

START_TEST(rewriters_partial_and_absent)
{
	struct pktgen_spec s;
	uint8_t buf[256];
	struct tcp4_packet p;
	struct tcp_options o;
	size_t n = build_all_options(buf, sizeof(buf), CSUM_PARTIAL_PSEUDO, &s);
	uint16_t check;

	ck_assert_int_eq(tcp4_parse(buf, n, &p), 0);
	ck_assert_int_eq(tcp_options_parse(&p, &o), 0);
	check = tcp4_check(&p);
	ck_assert_int_eq(tcp_options_set_mss(&p, &o, 536, CSUM_PARTIAL_PSEUDO), 0);
	ck_assert_int_eq(tcp_options_set_timestamp(&p, &o, 1, 2, CSUM_PARTIAL_PSEUDO), 0);
	ck_assert_int_eq(tcp_options_shift_sack(&p, &o, 1000, CSUM_PARTIAL_PSEUDO), 0);
	ck_assert_int_eq(tcp_options_strip(&p, &o, TCP_OPT_SACK_PERM, CSUM_PARTIAL_PSEUDO), 0);
	ck_assert_uint_eq(tcp4_check(&p), check);
	ck_assert_int_eq(tcp4_finalize_checksum(&p), 0);
	ck_assert(csum_ok(&p));

	/* A packet without options. */
	pktgen_spec_init(&s);
	n = (size_t)pktgen_build(&s, buf, sizeof(buf));
	ck_assert_int_eq(tcp4_parse(buf, n, &p), 0);
	ck_assert_int_eq(tcp_options_parse(&p, &o), 0);
	ck_assert_int_eq(tcp_options_set_mss(&p, &o, 1, CSUM_COMPLETE), -ENOENT);
	ck_assert_int_eq(tcp_options_set_wscale(&p, &o, 1, CSUM_COMPLETE), -ENOENT);
	ck_assert_int_eq(tcp_options_set_timestamp(&p, &o, 1, 1, CSUM_COMPLETE), -ENOENT);
	ck_assert_int_eq(tcp_options_set_sack_block(&p, &o, 0, 1, 1, CSUM_COMPLETE), -ENOENT);
	ck_assert_int_eq(tcp_options_shift_sack(&p, &o, 5, CSUM_COMPLETE), 0);
	for (unsigned k = 0; k < 256; k++) {
		int rc = tcp_options_strip(&p, &o, (uint8_t)k, CSUM_COMPLETE);
		bool known = k == TCP_OPT_MSS || k == TCP_OPT_WSCALE || k == TCP_OPT_SACK_PERM ||
			     k == TCP_OPT_TIMESTAMP || k == TCP_OPT_SACK;

		ck_assert_int_eq(rc, known ? -ENOENT : -EINVAL);
	}
	ck_assert(csum_ok(&p));
}
END_TEST

START_TEST(rewriters_reject_stale_options)
{
	struct pktgen_spec s;
	uint8_t buf[256], before[256];
	struct tcp4_packet p;
	struct tcp_options o;
	size_t n = build_all_options(buf, sizeof(buf), CSUM_COMPLETE, &s);

	ck_assert_int_eq(tcp4_parse(buf, n, &p), 0);
	ck_assert_int_eq(tcp_options_parse(&p, &o), 0);
	/* Offsets that point at the wrong kind, or beyond the header. */
	o.mss_off = o.ts_off;
	o.ts_off = 59;
	o.sack_off = 0;
	o.wscale_off = 3;
	memcpy(before, buf, n);
	ck_assert_int_eq(tcp_options_set_mss(&p, &o, 1, CSUM_COMPLETE), -EINVAL);
	ck_assert_int_eq(tcp_options_set_timestamp(&p, &o, 1, 1, CSUM_COMPLETE), -EINVAL);
	ck_assert_int_eq(tcp_options_set_sack_block(&p, &o, 0, 1, 1, CSUM_COMPLETE), -EINVAL);
	ck_assert_int_eq(tcp_options_shift_sack(&p, &o, 1, CSUM_COMPLETE), -EINVAL);
	ck_assert_int_eq(tcp_options_set_wscale(&p, &o, 1, CSUM_COMPLETE), -EINVAL);
	ck_assert_int_eq(tcp_options_strip(&p, &o, TCP_OPT_TIMESTAMP, CSUM_COMPLETE), -EINVAL);
	o.sack_count = 9;
	o.sack_off = 27;
	ck_assert_int_eq(tcp_options_shift_sack(&p, &o, 1, CSUM_COMPLETE), -EINVAL);
	ck_assert_int_eq(tcp_options_strip(&p, &o, TCP_OPT_SACK, CSUM_COMPLETE), -EINVAL);
	ck_assert_mem_eq(buf, before, n);
}
END_TEST

START_TEST(strip_each_kind)
{
	static const uint8_t kinds[] = {TCP_OPT_MSS, TCP_OPT_WSCALE, TCP_OPT_SACK_PERM,
					TCP_OPT_TIMESTAMP, TCP_OPT_SACK};

	for (size_t i = 0; i < sizeof(kinds); i++) {
		struct pktgen_spec s;
		uint8_t buf[256];
		struct tcp4_packet p;
		struct tcp_options o, re;
		size_t n = build_all_options(buf, sizeof(buf), CSUM_COMPLETE, &s);

		ck_assert_int_eq(tcp4_parse(buf, n, &p), 0);
		ck_assert_int_eq(tcp_options_parse(&p, &o), 0);
		ck_assert_int_eq(tcp_options_strip(&p, &o, kinds[i], CSUM_COMPLETE), 0);
		ck_assert(csum_ok(&p));
		ck_assert_int_eq(tcp_options_strip(&p, &o, kinds[i], CSUM_COMPLETE), -ENOENT);
		ck_assert_int_eq(tcp_options_parse(&p, &re), 0);
		ck_assert(re.has_mss == (kinds[i] != TCP_OPT_MSS) && re.has_mss == o.has_mss);
		ck_assert(re.has_wscale == (kinds[i] != TCP_OPT_WSCALE));
		ck_assert(re.sack_permitted == (kinds[i] != TCP_OPT_SACK_PERM));
		ck_assert(re.has_timestamp == (kinds[i] != TCP_OPT_TIMESTAMP));
		ck_assert(re.has_timestamp == o.has_timestamp);
		ck_assert_uint_eq(re.sack_count, kinds[i] == TCP_OPT_SACK ? 0 : 2);
		ck_assert_uint_eq(re.sack_count, o.sack_count);
	}
}
END_TEST

START_TEST(parse_view_matches)
{
	struct pktgen_spec s;
	uint8_t buf[256];
	struct tcp4_packet p;
	struct tcp4_view v;
	struct tcp_options a, b;
	size_t n = build_all_options(buf, sizeof(buf), CSUM_COMPLETE, &s);

	ck_assert_int_eq(tcp4_parse(buf, n, &p), 0);
	ck_assert_int_eq(tcp4_view_parse(buf, n, 0, &v), 0);
	ck_assert_int_eq(tcp_options_parse(&p, &a), 0);
	ck_assert_int_eq(tcp_options_parse_view(&v, &b), 0);
	ck_assert_mem_eq(&a, &b, sizeof(a));
	ck_assert_int_eq(tcp_options_parse_hdr(buf, 19, &a), PKT_EDOFF);
	ck_assert_int_eq(tcp_options_parse_hdr(buf, 61, &a), PKT_EDOFF);
}
END_TEST

START_TEST(window_rescale)
{
	ck_assert_uint_eq(tcp_window_rescale(1000, 0, 0), 1000);
	ck_assert_uint_eq(tcp_window_rescale(1000, 7, 7), 1000);
	ck_assert_uint_eq(tcp_window_rescale(1000, 7, 0), 65535);
	ck_assert_uint_eq(tcp_window_rescale(512, 7, 0), 65535);
	ck_assert_uint_eq(tcp_window_rescale(511, 7, 0), 65408);
	ck_assert_uint_eq(tcp_window_rescale(1000, 0, 7), 7);
	ck_assert_uint_eq(tcp_window_rescale(127, 0, 7), 0);
	ck_assert_uint_eq(tcp_window_rescale(1000, 2, 9), 7);
	ck_assert_uint_eq(tcp_window_rescale(65535, 14, 14), 65535);
	ck_assert_uint_eq(tcp_window_rescale(65535, 14, 0), 65535);
	ck_assert_uint_eq(tcp_window_rescale(65535, 0, 14), 3);
	ck_assert_uint_eq(tcp_window_rescale(0, 14, 0), 0);
	/* Scales above 14 count as 14. */
	ck_assert_uint_eq(tcp_window_rescale(100, 255, 14), 100);
	ck_assert_uint_eq(tcp_window_rescale(100, 14, 200), 100);
	ck_assert_uint_eq(tcp_window_rescale(65535, 15, 0), 65535);
}
END_TEST

Suite *tcp_options_suite(void);
Suite *tcp_options_suite(void)
{
	Suite *s = suite_create("tcp_options");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, parse_each_kind);
	tcase_add_test(tc, parse_eol_nop_unknown);
	tcase_add_test(tc, parse_bad_lengths);
	tcase_add_test(tc, parse_bad_known_and_duplicates);
	tcase_add_test(tc, parse_every_kind_and_length);
	tcase_add_test(tc, parse_random_bytes);
	tcase_add_test(tc, rewriters_complete);
	tcase_add_test(tc, rewriters_partial_and_absent);
	tcase_add_test(tc, rewriters_reject_stale_options);
	tcase_add_test(tc, strip_each_kind);
	tcase_add_test(tc, parse_view_matches);
	tcase_add_test(tc, window_rescale);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
