/* test_packet.c - IPv4/TCP parsing, setters, checksum modes, and the
 * random-rewrite property test.
 *
 * Buffers handed to the parser are heap copies of exactly the length under
 * test, so that under ASan any read past the end is caught, not just wrong
 * answers.
 *
 * The property test builds random packets, applies random header and option
 * rewrites in place through the core, mirrors each rewrite in the spec, and
 * then requires the packet to be byte-for-byte what the independent builder
 * makes of the rewritten spec: for complete checksums that means the
 * incremental updates equal a full recomputation; for partial checksums the
 * field equals the pseudo-header sum of the new addresses.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "helper_pktgen.h"
#include "packet.h"
#include "tcp_options.h"

static uint8_t *dup_bytes(const uint8_t *b, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);

	if (!c)
		ck_abort_msg("out of memory");
	memcpy(c, b, n);
	return c;
}

static size_t build(const struct pktgen_spec *s, uint8_t *buf, size_t cap)
{
	int n = pktgen_build(s, buf, cap);

	/* Not ck_assert: a passing Check assertion costs a write(2). */
	if (n <= 0)
		ck_abort_msg("pktgen_build: %d", n);
	return (size_t)n;
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void sample_spec(struct pktgen_spec *s, int variant)
{
	static const uint8_t payload[] = "hello, world";
	static const struct tcp_sack_block blk[2] = {{100, 200}, {300, 400}};

	pktgen_spec_init(s);
	if (variant & 1) {
		s->ip_opt_len = 8;
		memset(s->ip_opts, 1, 8);
	}
	if (variant & 2) {
		pktgen_opt_nop(s);
		pktgen_opt_mss(s, 1460);
		pktgen_opt_timestamp(s, 11, 22);
		pktgen_opt_sack(s, blk, 2);
	}
	if (variant & 4) {
		s->payload = payload;
		s->payload_len = 5;
	}
}

START_TEST(parse_valid)
{
	struct pktgen_spec s;
	uint8_t buf[256];
	struct tcp4_packet p;
	size_t n;

	sample_spec(&s, 7);
	s.seq = 0xdeadbeef;
	s.ack = 0x01020304;
	s.window = 4321;
	s.flags = TCP_FL_ACK | TCP_FL_PSH;
	n = build(&s, buf, sizeof(buf));
	ck_assert_int_eq(tcp4_parse(buf, n, &p), PKT_OK);
	ck_assert_ptr_eq(p.ip, buf);
	ck_assert_uint_eq(p.len, n);
	ck_assert_uint_eq(p.tot_len, n);
	ck_assert_uint_eq(p.ip_hlen, 28);
	ck_assert_ptr_eq(p.tcp, buf + 28);
	ck_assert_uint_eq(p.tcp_hlen, 20 + 36);
	ck_assert_uint_eq(p.tcp_len, n - 28);
	ck_assert_ptr_eq(p.payload, buf + 28 + 56);
	ck_assert_uint_eq(p.payload_len, 5);
	ck_assert(!p.truncated);
	ck_assert_uint_eq(tcp4_saddr(&p), 0xc612000a);
	ck_assert_uint_eq(tcp4_daddr(&p), 0xc6120a01);
	ck_assert_uint_eq(tcp4_sport(&p), 40000);
	ck_assert_uint_eq(tcp4_dport(&p), 80);
	ck_assert_uint_eq(tcp4_seq(&p), 0xdeadbeef);
	ck_assert_uint_eq(tcp4_ack(&p), 0x01020304);
	ck_assert_uint_eq(tcp4_flags(&p), TCP_FL_ACK | TCP_FL_PSH);
	ck_assert_uint_eq(tcp4_window(&p), 4321);
	ck_assert_mem_eq(p.payload, "hello", 5);

	struct tcp4_view v = tcp4_view_of(&p);

	ck_assert(tcp4_checksum_valid(&v, CSUM_COMPLETE));
	ck_assert(tcp4_ip_checksum_valid(&v));
	ck_assert(!tcp4_checksum_valid(&v, CSUM_PARTIAL_PSEUDO));
	ck_assert(tcp4_checksum_valid(&v, CSUM_DEFERRED));
	ck_assert_uint_eq(tcp4v_saddr(&v), tcp4_saddr(&p));
	ck_assert_uint_eq(tcp4v_daddr(&v), tcp4_daddr(&p));
	ck_assert_uint_eq(tcp4v_sport(&v), tcp4_sport(&p));
	ck_assert_uint_eq(tcp4v_dport(&v), tcp4_dport(&p));
	ck_assert_uint_eq(tcp4v_seq(&v), tcp4_seq(&p));
	ck_assert_uint_eq(tcp4v_ack(&v), tcp4_ack(&p));
	ck_assert_uint_eq(tcp4v_flags(&v), tcp4_flags(&p));
	ck_assert_uint_eq(tcp4v_window(&v), tcp4_window(&p));
	ck_assert_uint_eq(tcp4v_check(&v), tcp4_check(&p));

	struct tcp4_view v2;

	ck_assert_int_eq(tcp4_view_parse(buf, n, PKT_PARSE_STRICT, &v2), PKT_OK);
	ck_assert_ptr_eq(v2.payload, v.payload);
	ck_assert_uint_eq(v2.payload_len, v.payload_len);

	/* Trailing bytes beyond tot_len are not part of the packet. */
	ck_assert_int_eq(tcp4_parse(buf, n + 7, &p), PKT_OK);
	ck_assert_uint_eq(p.len, n);
	ck_assert_uint_eq(p.payload_len, 5);
	ck_assert(!p.truncated);

	/* Rebase onto a copy. */
	uint8_t copy[256];

	memcpy(copy, buf, n);
	tcp4_rebase(&p, copy);
	ck_assert_ptr_eq(p.tcp, copy + 28);
	ck_assert_ptr_eq(p.payload, copy + 84);
	ck_assert_uint_eq(tcp4_seq(&p), 0xdeadbeef);
}
END_TEST

START_TEST(parse_every_truncation)
{
	for (int variant = 0; variant < 8; variant++) {
		struct pktgen_spec s;
		uint8_t buf[256];
		size_t n, hdrs;

		sample_spec(&s, variant);
		n = build(&s, buf, sizeof(buf));
		hdrs = n - s.payload_len;
		for (size_t cut = 0; cut <= n; cut++) {
			uint8_t *c = dup_bytes(buf, cut);
			struct tcp4_packet p;
			int rc = tcp4_parse(c, cut, &p);

			if (cut < n) {
				ck_assert_msg(rc == PKT_ETRUNC, "variant %d cut %zu rc %d", variant,
					      cut, rc);
				ck_assert(all_zero(&p, sizeof(p)));
			} else {
				ck_assert_int_eq(rc, PKT_OK);
			}
			rc = tcp4_parse_flags(c, cut, PKT_PARSE_ALLOW_TRUNCATED, &p);
			if (cut < hdrs) {
				ck_assert_int_eq(rc, PKT_ETRUNC);
			} else {
				ck_assert_int_eq(rc, PKT_OK);
				ck_assert_uint_eq(p.len, cut);
				ck_assert_uint_eq(p.tot_len, n);
				ck_assert_uint_eq(p.payload_len, cut - hdrs);
				ck_assert(p.truncated == (cut < n));
				ck_assert_int_eq(tcp4_finalize_checksum(&p), cut < n ? -EINVAL : 0);
				struct tcp4_view v = tcp4_view_of(&p);
				ck_assert(tcp4_checksum_valid(&v, CSUM_COMPLETE) == (cut == n));
			}
			free(c);
		}
	}
	struct tcp4_packet p;
	struct tcp4_view v;

	ck_assert_int_eq(tcp4_parse(NULL, 0, &p), PKT_ETRUNC);
	ck_assert_int_eq(tcp4_view_parse(NULL, 100, 0, &v), PKT_ETRUNC);
}
END_TEST

/* Builds the sample packet, lets `mutate` break it, and parses a copy. */
static int parse_broken(void (*mutate)(uint8_t *buf, int arg), int arg, int variant)
{
	struct pktgen_spec s;
	uint8_t buf[256];
	struct tcp4_packet p;
	size_t n;
	int rc;

	sample_spec(&s, variant);
	n = build(&s, buf, sizeof(buf));
	mutate(buf, arg);
	uint8_t *c = dup_bytes(buf, n);
	rc = tcp4_parse(c, n, &p);
	if (rc)
		ck_assert(all_zero(&p, sizeof(p)));
	free(c);
	return rc;
}

static void set_version(uint8_t *b, int v)
{
	b[0] = (uint8_t)((v << 4) | (b[0] & 0x0f));
}
static void set_ihl(uint8_t *b, int v)
{
	b[0] = (uint8_t)((b[0] & 0xf0) | v);
}
static void set_totlen(uint8_t *b, int v)
{
	pkt_store_be16(b + IPV4_OFF_TOTLEN, (uint16_t)v);
}
static void set_proto(uint8_t *b, int v)
{
	b[IPV4_OFF_PROTO] = (uint8_t)v;
}
static void set_frag(uint8_t *b, int v)
{
	pkt_store_be16(b + IPV4_OFF_FRAG, (uint16_t)v);
}
static void set_doff(uint8_t *b, int v)
{
	size_t ihl = (size_t)(b[0] & 0x0f) * 4;

	b[ihl + TCP_OFF_DOFF] = (uint8_t)((v << 4) | (b[ihl + TCP_OFF_DOFF] & 0x0f));
}

START_TEST(parse_bad_headers)
{
	for (int v = 0; v < 16; v++)
		ck_assert_int_eq(parse_broken(set_version, v, 0), v == 4 ? PKT_OK : PKT_EVERSION);
	for (int ihl = 0; ihl < 5; ihl++)
		ck_assert_int_eq(parse_broken(set_ihl, ihl, 0), PKT_EIHL);
	/* IHL too big for tot_len / for the TCP header behind it. */
	ck_assert_int_eq(parse_broken(set_ihl, 15, 0), PKT_ETOTLEN);
	ck_assert_int_eq(parse_broken(set_ihl, 6, 0), PKT_ETCPSHORT);
	ck_assert_int_eq(parse_broken(set_totlen, 0, 0), PKT_ETOTLEN);
	ck_assert_int_eq(parse_broken(set_totlen, 19, 0), PKT_ETOTLEN);
	ck_assert_int_eq(parse_broken(set_totlen, 27, 1), PKT_ETOTLEN);
	ck_assert_int_eq(parse_broken(set_totlen, 20, 0), PKT_ETCPSHORT);
	ck_assert_int_eq(parse_broken(set_totlen, 39, 0), PKT_ETCPSHORT);
	ck_assert_int_eq(parse_broken(set_totlen, 40, 4), PKT_OK); /* shorter: fine */
	ck_assert_int_eq(parse_broken(set_totlen, 46, 4), PKT_ETRUNC);
	ck_assert_int_eq(parse_broken(set_totlen, 65535, 0), PKT_ETRUNC);
	ck_assert_int_eq(parse_broken(set_proto, 17, 0), PKT_ENOTTCP);
	ck_assert_int_eq(parse_broken(set_proto, 0, 0), PKT_ENOTTCP);
	ck_assert_int_eq(parse_broken(set_frag, 0x2000, 0), PKT_EFRAGMENT); /* MF */
	ck_assert_int_eq(parse_broken(set_frag, 0x0001, 0), PKT_EFRAGMENT); /* offset */
	ck_assert_int_eq(parse_broken(set_frag, 0x1fff, 0), PKT_EFRAGMENT);
	ck_assert_int_eq(parse_broken(set_frag, 0x4000, 0), PKT_OK); /* DF */
	ck_assert_int_eq(parse_broken(set_frag, 0x8000, 0), PKT_OK); /* reserved bit */
	for (int d = 0; d < 5; d++)
		ck_assert_int_eq(parse_broken(set_doff, d, 0), PKT_EDOFF);
	ck_assert_int_eq(parse_broken(set_doff, 6, 0), PKT_EDOFF); /* past tot_len */
	ck_assert_int_eq(parse_broken(set_doff, 6, 4), PKT_OK);	   /* 24 <= 25 */
	ck_assert_int_eq(parse_broken(set_doff, 7, 4), PKT_EDOFF); /* 28 > 25 */
	ck_assert_int_eq(parse_broken(set_doff, 15, 2), PKT_EDOFF);
	ck_assert_int_eq(parse_broken(set_doff, 5, 2), PKT_OK); /* options become payload */
}
END_TEST

START_TEST(parse_random_mutations)
{
	struct pktgen_rng r;
	static uint8_t payload[2048];
	uint8_t buf[4096];
	unsigned accepted = 0;

	pktgen_rng_seed(&r, pktgen_test_seed("packet/parse_random_mutations"));
	for (int i = 0; i < 100000; i++) {
		struct pktgen_spec s;
		struct tcp4_packet p;
		struct tcp_options o;
		size_t n, buflen;

		pktgen_random_spec(&r, &s, payload, sizeof(payload), CSUM_COMPLETE);
		n = build(&s, buf, sizeof(buf));
		for (int k = 1 + (int)pktgen_below(&r, 4); k > 0; k--)
			buf[pktgen_below(&r, n < 120 ? (uint32_t)n : 120)] =
			    (uint8_t)pktgen_u32(&r);
		buflen = pktgen_chance(&r, 50) ? n : pktgen_below(&r, (uint32_t)n + 64);
		if (buflen > n) /* the tail beyond n is random bytes */
			pktgen_fill(&r, buf + n, buflen - n);
		uint8_t *c = dup_bytes(buf, buflen);
		unsigned flags = pktgen_chance(&r, 50) ? PKT_PARSE_ALLOW_TRUNCATED : 0;
		int rc = tcp4_parse_flags(c, buflen, flags, &p);

		if (rc == PKT_OK) {
			accepted++;
			if (p.ip != c || p.ip_hlen < 20 || p.ip_hlen > 60 || p.tcp_hlen < 20 ||
			    p.tcp_hlen > 60 || p.len > buflen || p.len > p.tot_len ||
			    p.ip_hlen + p.tcp_hlen + p.payload_len != p.len ||
			    p.tcp_len != p.tot_len - p.ip_hlen ||
			    p.payload + p.payload_len != c + p.len)
				ck_abort_msg("inconsistent parse at iteration %d", i);
			rc = tcp_options_parse(&p, &o);
			if (rc > 0 || rc < -(PKT_NERRORS - 1))
				ck_abort_msg("option rc %d", rc);
			if (!p.truncated)
				tcp4_finalize_checksum(&p);
		} else if (rc >= 0 || rc <= -PKT_NERRORS || rc < PKT_EDOFF) {
			ck_abort_msg("parse rc %d", rc);
		}
		free(c);
	}
	ck_assert_uint_gt(accepted, 1000);
}
END_TEST

START_TEST(strerror_covers_all)
{
	for (int e = 0; e < PKT_NERRORS; e++) {
		const char *t = pkt_strerror(-e);

		ck_assert_ptr_nonnull(t);
		ck_assert_str_eq(t, pkt_strerror(e));
		for (int f = 0; f < e; f++)
			ck_assert_str_ne(t, pkt_strerror(-f));
	}
	ck_assert_str_eq(pkt_strerror(-PKT_NERRORS), "unknown packet error");
	ck_assert_str_eq(pkt_strerror(-1000), "unknown packet error");
	ck_assert_str_eq(pkt_strerror(1000), "unknown packet error");
}
END_TEST

/* Each setter alone, in each mode, against a freshly built expectation. */
START_TEST(setters_each_mode)
{
	static const enum tcp_csum_mode modes[] = {CSUM_COMPLETE, CSUM_PARTIAL_PSEUDO,
						   CSUM_DEFERRED};

	for (size_t m = 0; m < 3; m++)
		for (int field = 0; field < 8; field++) {
			struct pktgen_spec s;
			uint8_t buf[256], want[256];
			struct tcp4_packet p;
			size_t n;
			uint16_t check_before;

			sample_spec(&s, 7);
			s.csum = modes[m];
			n = build(&s, buf, sizeof(buf));
			ck_assert_int_eq(tcp4_parse(buf, n, &p), PKT_OK);
			check_before = tcp4_check(&p);
			switch (field) {
			case 0:
				tcp4_set_saddr(&p, s.saddr = 0xc6120b0c, modes[m]);
				break;
			case 1:
				tcp4_set_daddr(&p, s.daddr = 0xffffffff, modes[m]);
				break;
			case 2:
				tcp4_set_sport(&p, s.sport = 0, modes[m]);
				break;
			case 3:
				tcp4_set_dport(&p, s.dport = 65535, modes[m]);
				break;
			case 4:
				tcp4_set_seq(&p, s.seq = 0xfffffff0, modes[m]);
				break;
			case 5:
				tcp4_set_ack(&p, s.ack = 0x10, modes[m]);
				break;
			case 6:
				tcp4_set_window(&p, s.window = 0, modes[m]);
				break;
			default:
				tcp4_set_flags(&p, s.flags = TCP_FL_RST | TCP_FL_ACK, modes[m]);
				break;
			}
			build(&s, want, sizeof(want));
			if (modes[m] == CSUM_DEFERRED)
				ck_assert_uint_eq(tcp4_check(&p), check_before);
			if (modes[m] == CSUM_PARTIAL_PSEUDO && field >= 2)
				ck_assert_uint_eq(tcp4_check(&p), check_before);
			ck_assert_msg(memcmp(buf, want, n) == 0, "mode %zu field %d", m, field);
			struct tcp4_view v = tcp4_view_of(&p);
			ck_assert(tcp4_ip_checksum_valid(&v));
			ck_assert(tcp4_checksum_valid(&v, modes[m]));
			/* Finalizing gives the complete checksum in every mode. */
			ck_assert_int_eq(tcp4_finalize_checksum(&p), 0);
			s.csum = CSUM_COMPLETE;
			build(&s, want, sizeof(want));
			ck_assert_msg(memcmp(buf, want, n) == 0, "final mode %zu field %d", m,
				      field);
			/* And back to the partial value. */
			tcp4_write_pseudo_checksum(&p);
			s.csum = CSUM_PARTIAL_PSEUDO;
			build(&s, want, sizeof(want));
			ck_assert_mem_eq(buf, want, n);
		}
}
END_TEST

START_TEST(set_flags_keeps_data_offset)
{
	struct pktgen_spec s;
	uint8_t buf[256];
	struct tcp4_packet p;
	size_t n;

	sample_spec(&s, 2);
	n = build(&s, buf, sizeof(buf));
	buf[20 + TCP_OFF_DOFF] |= 0x01; /* AccECN/NS bit */
	ck_assert_int_eq(tcp4_parse(buf, n, &p), PKT_OK);
	ck_assert_int_eq(tcp4_finalize_checksum(&p), 0);
	tcp4_set_flags(&p, 0xff, CSUM_COMPLETE);
	ck_assert_uint_eq(buf[20 + TCP_OFF_DOFF], (14 << 4) | 1);
	ck_assert_uint_eq(tcp4_flags(&p), 0xff);
	struct tcp4_view v = tcp4_view_of(&p);
	ck_assert(tcp4_checksum_valid(&v, CSUM_COMPLETE));
}
END_TEST

/* ---- the random-rewrite property test ---- */

enum rewrite_op {
	OP_SADDR,
	OP_DADDR,
	OP_SPORT,
	OP_DPORT,
	OP_SEQ,
	OP_ACK,
	OP_WINDOW,
	OP_FLAGS,
	OP_TIMESTAMP,
	OP_SACK_BLOCK,
	OP_SACK_SHIFT,
	OP_MSS,
	OP_WSCALE,
	OP_STRIP,
	OP_COUNT
};

static void expect_rc(int rc, bool present, const char *what)
{
	if (rc != (present ? 0 : -ENOENT))
		ck_abort_msg("%s: rc %d, option %s", what, rc, present ? "present" : "absent");
}

/* Applies one random rewrite to the packet and mirrors it in the spec. */
static void apply_random_op(struct pktgen_rng *r, struct tcp4_packet *p, struct tcp_options *o,
			    struct pktgen_spec *s, enum tcp_csum_mode mode)
{
	uint32_t v = pktgen_u32(r);
	uint8_t b[8];
	int rc;

	switch ((enum rewrite_op)pktgen_below(r, OP_COUNT)) {
	case OP_SADDR:
		tcp4_set_saddr(p, s->saddr = v, mode);
		break;
	case OP_DADDR:
		tcp4_set_daddr(p, s->daddr = v, mode);
		break;
	case OP_SPORT:
		tcp4_set_sport(p, s->sport = (uint16_t)v, mode);
		break;
	case OP_DPORT:
		tcp4_set_dport(p, s->dport = (uint16_t)v, mode);
		break;
	case OP_SEQ:
		tcp4_set_seq(p, s->seq = v, mode);
		break;
	case OP_ACK:
		tcp4_set_ack(p, s->ack = v, mode);
		break;
	case OP_WINDOW:
		tcp4_set_window(p, s->window = (uint16_t)v, mode);
		break;
	case OP_FLAGS:
		tcp4_set_flags(p, s->flags = (uint8_t)v, mode);
		break;
	case OP_TIMESTAMP: {
		uint32_t ecr = pktgen_u32(r);

		rc = tcp_options_set_timestamp(p, o, v, ecr, mode);
		expect_rc(rc, s->expect.has_timestamp, "timestamp");
		if (!rc) {
			pkt_store_be32(b, v);
			pkt_store_be32(b + 4, ecr);
			pktgen_spec_patch_opt(s, s->expect.ts_off + 2u, b, 8);
			s->expect.tsval = v;
			s->expect.tsecr = ecr;
		}
		break;
	}
	case OP_SACK_BLOCK: {
		unsigned i = pktgen_below(r, s->expect.sack_count ? s->expect.sack_count : 1);
		uint32_t end = v + pktgen_below(r, 100000);

		rc = tcp_options_set_sack_block(p, o, i, v, end, mode);
		expect_rc(rc, s->expect.sack_count > 0, "sack block");
		if (!rc) {
			pkt_store_be32(b, v);
			pkt_store_be32(b + 4, end);
			pktgen_spec_patch_opt(s, s->expect.sack_off + 2u + 8 * i, b, 8);
			s->expect.sack[i].start = v;
			s->expect.sack[i].end = end;
		}
		break;
	}
	case OP_SACK_SHIFT:
		rc = tcp_options_shift_sack(p, o, (int32_t)v, mode);
		if (rc)
			ck_abort_msg("shift rc %d", rc);
		for (unsigned i = 0; i < s->expect.sack_count; i++) {
			s->expect.sack[i].start += v;
			s->expect.sack[i].end += v;
			pkt_store_be32(b, s->expect.sack[i].start);
			pkt_store_be32(b + 4, s->expect.sack[i].end);
			pktgen_spec_patch_opt(s, s->expect.sack_off + 2u + 8 * i, b, 8);
		}
		break;
	case OP_MSS:
		rc = tcp_options_set_mss(p, o, (uint16_t)v, mode);
		expect_rc(rc, s->expect.has_mss, "mss");
		if (!rc) {
			pkt_store_be16(b, (uint16_t)v);
			pktgen_spec_patch_opt(s, s->expect.mss_off + 2u, b, 2);
			s->expect.mss = (uint16_t)v;
		}
		break;
	case OP_WSCALE:
		rc = tcp_options_set_wscale(p, o, (uint8_t)v, mode);
		expect_rc(rc, s->expect.has_wscale, "wscale");
		if (!rc) {
			b[0] = (uint8_t)v;
			pktgen_spec_patch_opt(s, s->expect.wscale_off + 2u, b, 1);
			s->expect.wscale = (uint8_t)v;
		}
		break;
	case OP_STRIP: {
		static const uint8_t kinds[] = {TCP_OPT_MSS, TCP_OPT_WSCALE, TCP_OPT_SACK_PERM,
						TCP_OPT_TIMESTAMP, TCP_OPT_SACK};
		uint8_t kind = kinds[pktgen_below(r, sizeof(kinds))];
		struct tcp_options before = *o;
		uint8_t nops[40];

		struct tcp_options *e = &s->expect;

		rc = tcp_options_strip(p, o, kind, mode);
		switch (kind) {
		case TCP_OPT_MSS:
			expect_rc(rc, e->has_mss, "strip mss");
			e->has_mss = false;
			e->mss = 0;
			e->mss_off = 0;
			break;
		case TCP_OPT_WSCALE:
			expect_rc(rc, e->has_wscale, "strip wscale");
			e->has_wscale = false;
			e->wscale = 0;
			e->wscale_off = 0;
			break;
		case TCP_OPT_SACK_PERM:
			expect_rc(rc, e->sack_permitted, "strip sack-permitted");
			e->sack_permitted = false;
			e->sack_perm_off = 0;
			break;
		case TCP_OPT_TIMESTAMP:
			expect_rc(rc, e->has_timestamp, "strip timestamp");
			e->has_timestamp = false;
			e->tsval = 0;
			e->tsecr = 0;
			e->ts_off = 0;
			break;
		default:
			expect_rc(rc, e->sack_count > 0, "strip sack");
			e->sack_count = 0;
			e->sack_off = 0;
			memset(e->sack, 0, sizeof(e->sack));
			break;
		}
		if (rc)
			break;
		/* The stripped option's bytes, all of them, are NOPs now. */
		memset(nops, TCP_OPT_NOP, sizeof(nops));
		if (kind == TCP_OPT_MSS)
			pktgen_spec_patch_opt(s, before.mss_off, nops, TCP_OPTLEN_MSS);
		else if (kind == TCP_OPT_WSCALE)
			pktgen_spec_patch_opt(s, before.wscale_off, nops, TCP_OPTLEN_WSCALE);
		else if (kind == TCP_OPT_SACK_PERM)
			pktgen_spec_patch_opt(s, before.sack_perm_off, nops, TCP_OPTLEN_SACK_PERM);
		else if (kind == TCP_OPT_TIMESTAMP)
			pktgen_spec_patch_opt(s, before.ts_off, nops, TCP_OPTLEN_TIMESTAMP);
		else
			pktgen_spec_patch_opt(s, before.sack_off, nops, 2 + 8 * before.sack_count);
		break;
	}
	default:
		break;
	}
}

static bool options_equal(const struct tcp_options *a, const struct tcp_options *b)
{
	if (a->has_mss != b->has_mss || a->mss != b->mss || a->mss_off != b->mss_off ||
	    a->has_wscale != b->has_wscale || a->wscale != b->wscale ||
	    a->wscale_off != b->wscale_off || a->sack_permitted != b->sack_permitted ||
	    a->sack_perm_off != b->sack_perm_off || a->has_timestamp != b->has_timestamp ||
	    a->tsval != b->tsval || a->tsecr != b->tsecr || a->ts_off != b->ts_off ||
	    a->sack_count != b->sack_count || a->sack_off != b->sack_off ||
	    a->has_signature != b->has_signature || a->unknown_count != b->unknown_count)
		return false;
	for (unsigned i = 0; i < a->sack_count && i < TCP_SACK_MAX; i++)
		if (a->sack[i].start != b->sack[i].start || a->sack[i].end != b->sack[i].end)
			return false;
	return true;
}

static void check_fields_csum(const struct tcp4_packet *p, const struct pktgen_spec *s,
			      enum tcp_csum_mode mode, int iter)
{
	struct tcp4_view v = tcp4_view_of(p);
	bool ok = tcp4_ip_checksum_valid(&v);

	if (mode == CSUM_COMPLETE)
		ok = ok && tcp4_checksum_valid(&v, CSUM_COMPLETE);
	else if (mode == CSUM_PARTIAL_PSEUDO)
		ok = ok && tcp4_check(p) == pktgen_ref_pseudo_sum(s->saddr, s->daddr, p->tcp_len);
	else
		ok = ok && tcp4_check(p) == 0;
	if (!ok)
		ck_abort_msg("mode %d iteration %d: checksum wrong after rewrite", mode, iter);
}

static void rewrite_property(enum tcp_csum_mode mode, int packets, const char *name)
{
	static uint8_t payload[PKTGEN_MAX_LEN], buf[PKTGEN_MAX_LEN], want[PKTGEN_MAX_LEN];
	struct pktgen_rng r;

	pktgen_rng_seed(&r, pktgen_test_seed(name));
	for (int i = 0; i < packets; i++) {
		struct pktgen_spec s;
		struct tcp4_packet p;
		struct tcp_options o;
		size_t n;
		int rc;

		pktgen_random_spec(&r, &s, payload, sizeof(payload), mode);
		n = build(&s, buf, sizeof(buf));
		rc = tcp4_parse(buf, n, &p);
		if (rc)
			ck_abort_msg("%s %d: parse %s", name, i, pkt_strerror(rc));
		rc = tcp_options_parse(&p, &o);
		if (rc || !options_equal(&o, &s.expect))
			ck_abort_msg("%s %d: options rc %d or mismatch", name, i, rc);
		for (int k = 1 + (int)pktgen_below(&r, 8); k > 0; k--) {
			apply_random_op(&r, &p, &o, &s, mode);
			check_fields_csum(&p, &s, mode, i);
		}
		if (!options_equal(&o, &s.expect))
			ck_abort_msg("%s %d: options not kept in step", name, i);
		build(&s, want, sizeof(want));
		if (memcmp(buf, want, n) != 0)
			ck_abort_msg("%s %d: rewritten packet differs from rebuilt", name, i);
		rc = tcp_options_parse(&p, &o);
		if (rc || !options_equal(&o, &s.expect))
			ck_abort_msg("%s %d: reparsed options differ", name, i);
		tcp4_finalize_checksum(&p);
		s.csum = CSUM_COMPLETE;
		build(&s, want, sizeof(want));
		if (memcmp(buf, want, n) != 0)
			ck_abort_msg("%s %d: finalized packet differs from rebuilt", name, i);
	}
}

START_TEST(property_rewrite_complete)
{
	rewrite_property(CSUM_COMPLETE, 100000, "packet/property_rewrite_complete");
}
END_TEST

START_TEST(property_rewrite_partial)
{
	rewrite_property(CSUM_PARTIAL_PSEUDO, 100000, "packet/property_rewrite_partial");
}
END_TEST

START_TEST(property_rewrite_deferred)
{
	rewrite_property(CSUM_DEFERRED, 20000, "packet/property_rewrite_deferred");
}
END_TEST

Suite *packet_suite(void);
Suite *packet_suite(void)
{
	Suite *s = suite_create("packet");
	TCase *tc = tcase_create("parse");
	TCase *tp = tcase_create("property");

	tcase_add_test(tc, parse_valid);
	tcase_add_test(tc, parse_every_truncation);
	tcase_add_test(tc, parse_bad_headers);
	tcase_add_test(tc, parse_random_mutations);
	tcase_add_test(tc, strerror_covers_all);
	tcase_add_test(tc, setters_each_mode);
	tcase_add_test(tc, set_flags_keeps_data_offset);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tp, property_rewrite_complete);
	tcase_add_test(tp, property_rewrite_partial);
	tcase_add_test(tp, property_rewrite_deferred);
	tcase_set_timeout(tp, 120);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, tp);
	return s;
}
