/* Unit tests of the splice rewrite engine: field translation, checksum
 * handling for the three ways the kernel hands us a packet, and the
 * end-to-end property that makes a splice a splice: a byte the client sends
 * at client sequence s reaches the backend at the sequence the backend
 * expects, and the backend's acknowledgement of it reaches the client as an
 * acknowledgement of s. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "checksum.h"
#include "helper_pktgen.h"
#include "seq.h"
#include "splice_rewrite.h"
#include "tcp_options.h"

#define CLIENT	0xc612000au /* 198.18.0.10 */
#define VIP	0xc6120a01u /* 198.18.10.1 */
#define IVIP	0xc6120b01u /* 198.18.11.1 */
#define BACKEND 0xc612020bu /* 198.18.2.11 */

static struct splice_endpoints sample_endpoints(struct pktgen_rng *r)
{
	struct splice_endpoints e = {
	    .client_addr = CLIENT,
	    .vip_addr = VIP,
	    .ivip_addr = IVIP,
	    .backend_addr = BACKEND,
	    .client_port = (uint16_t)(1024 + pktgen_below(r, 60000)),
	    .vip_port = 80,
	    .ivip_port = (uint16_t)(20000 + pktgen_below(r, 10000)),
	    .backend_port = 80,
	    .c_rcv_nxt = pktgen_u32(r),
	    .c_snd_nxt = pktgen_u32(r),
	    .b_rcv_nxt = pktgen_u32(r),
	    .b_snd_nxt = pktgen_u32(r),
	    .c_snd_wscale = (uint8_t)pktgen_below(r, 15),
	    .c_rcv_wscale = (uint8_t)pktgen_below(r, 15),
	    .b_snd_wscale = (uint8_t)pktgen_below(r, 15),
	    .b_rcv_wscale = (uint8_t)pktgen_below(r, 15),
	    .c_timestamps = true,
	    .b_timestamps = true,
	    .c_ts_now = pktgen_u32(r),
	    .b_ts_now = pktgen_u32(r),
	    .client_tsval_last = pktgen_u32(r),
	    .backend_tsval_last = pktgen_u32(r),
	};
	return e;
}

/* Builds a segment with timestamps and one SACK block. */
static size_t build(uint8_t *buf, size_t cap, uint32_t saddr, uint16_t sport, uint32_t daddr,
		    uint16_t dport, uint32_t seq, uint32_t ack, uint16_t window, uint32_t tsval,
		    uint32_t tsecr, const struct tcp_sack_block *sack, size_t payload_len,
		    enum tcp_csum_mode csum)
{
	static uint8_t payload[2000];
	struct pktgen_spec s;
	pktgen_spec_init(&s);
	s.saddr = saddr;
	s.daddr = daddr;
	s.sport = sport;
	s.dport = dport;
	s.seq = seq;
	s.ack = ack;
	s.flags = TCP_FL_ACK | (payload_len ? TCP_FL_PSH : 0);
	s.window = window;
	pktgen_opt_nop(&s);
	pktgen_opt_nop(&s);
	pktgen_opt_timestamp(&s, tsval, tsecr);
	if (sack) {
		pktgen_opt_nop(&s);
		pktgen_opt_nop(&s);
		pktgen_opt_sack(&s, sack, 1);
	}
	for (size_t i = 0; i < payload_len && i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	s.payload = payload;
	s.payload_len = payload_len;
	s.csum = csum;
	int n = pktgen_build(&s, buf, cap);
	ck_assert_int_gt(n, 0);
	return (size_t)n;
}

static void check_csum(struct tcp4_packet *p)
{
	struct tcp4_view v = tcp4_view_of(p);
	ck_assert(tcp4_ip_checksum_valid(&v));
	ck_assert(tcp4_checksum_valid(&v, CSUM_COMPLETE));
}

START_TEST(test_client_to_backend_fields)
{
	struct pktgen_rng r;
	pktgen_rng_seed(&r, pktgen_test_seed("splice_rewrite_fields"));
	for (int iter = 0; iter < 2000; iter++) {
		struct splice_endpoints e = sample_endpoints(&r);
		struct splice_dir c2b, b2c;
		splice_dirs_from_endpoints(&e, &c2b, &b2c);
		/* The first request byte after the splice point. */
		uint32_t seq = e.c_rcv_nxt + pktgen_below(&r, 100000);
		uint32_t ack = e.c_snd_nxt + pktgen_below(&r, 100000);
		struct tcp_sack_block sb = {ack + 10, ack + 20};
		uint32_t tsval = e.client_tsval_last + pktgen_below(&r, 1000);
		uint32_t tsecr = e.c_ts_now + pktgen_below(&r, 1000);
		uint16_t win = (uint16_t)pktgen_u32(&r);
		uint8_t buf[4096];
		size_t len = build(buf, sizeof(buf), CLIENT, e.client_port, VIP, 80, seq, ack, win,
				   tsval, tsecr, &sb, pktgen_below(&r, 1500), CSUM_COMPLETE);
		struct tcp4_packet p;
		ck_assert_int_eq(tcp4_parse(buf, len, &p), 0);
		ck_assert_int_eq(splice_rewrite(&c2b, &p, (struct splice_csum_state){0}), 0);
		check_csum(&p);
		ck_assert_uint_eq(tcp4_saddr(&p), IVIP);
		ck_assert_uint_eq(tcp4_daddr(&p), BACKEND);
		ck_assert_uint_eq(tcp4_sport(&p), e.ivip_port);
		ck_assert_uint_eq(tcp4_dport(&p), 80);
		/* Byte offsets past the splice point are preserved. */
		ck_assert_uint_eq(tcp4_seq(&p) - e.b_snd_nxt, seq - e.c_rcv_nxt);
		ck_assert_uint_eq(tcp4_ack(&p) - e.b_rcv_nxt, ack - e.c_snd_nxt);
		struct tcp_options o;
		ck_assert_int_eq(tcp_options_parse(&p, &o), 0);
		ck_assert_uint_eq(o.sack[0].start - e.b_rcv_nxt, sb.start - e.c_snd_nxt);
		ck_assert_uint_eq(o.sack[0].end - e.b_rcv_nxt, sb.end - e.c_snd_nxt);
		/* PAWS at the backend: the client's clock continues the proxy's. */
		ck_assert_uint_eq(o.tsval - e.b_ts_now, tsval - e.client_tsval_last);
		/* TSecr echoes what the backend sent, in the backend's clock. */
		ck_assert_uint_eq(o.tsecr - e.backend_tsval_last, tsecr - e.c_ts_now);
		ck_assert_uint_eq(tcp4_window(&p),
				  tcp_window_rescale(win, e.c_snd_wscale, e.b_rcv_wscale));
	}
}
END_TEST

/* A client segment goes to the backend and the backend's reply comes back:
 * the reply's ack, translated, acknowledges exactly the client's bytes; its
 * TSecr, translated, echoes the client's own TSval. */
START_TEST(test_round_trip)
{
	struct pktgen_rng r;
	pktgen_rng_seed(&r, pktgen_test_seed("splice_rewrite_round_trip"));
	for (int iter = 0; iter < 2000; iter++) {
		struct splice_endpoints e = sample_endpoints(&r);
		struct splice_dir c2b, b2c;
		splice_dirs_from_endpoints(&e, &c2b, &b2c);
		uint32_t cseq = e.c_rcv_nxt + pktgen_below(&r, 1u << 31);
		uint32_t cts = pktgen_u32(&r);
		size_t plen = 1 + pktgen_below(&r, 1400);
		uint8_t buf[4096];
		size_t len = build(buf, sizeof(buf), CLIENT, e.client_port, VIP, 80, cseq,
				   e.c_snd_nxt, 1000, cts, e.c_ts_now, NULL, plen, CSUM_COMPLETE);
		struct tcp4_packet p;
		ck_assert_int_eq(tcp4_parse(buf, len, &p), 0);
		ck_assert_int_eq(splice_rewrite(&c2b, &p, (struct splice_csum_state){0}), 0);
		struct tcp_options o;
		tcp_options_parse(&p, &o);
		/* The backend acknowledges the segment and echoes its TSval. */
		uint32_t bseq = e.b_rcv_nxt + pktgen_below(&r, 1u << 20);
		len = build(buf, sizeof(buf), BACKEND, 80, IVIP, e.ivip_port, bseq,
			    tcp4_seq(&p) + (uint32_t)plen, 1000, pktgen_u32(&r), o.tsval, NULL, 0,
			    CSUM_PARTIAL_PSEUDO);
		ck_assert_int_eq(tcp4_parse(buf, len, &p), 0);
		ck_assert_int_eq(
		    splice_rewrite(&b2c, &p, (struct splice_csum_state){.csum_not_ready = true}),
		    0);
		check_csum(&p);
		ck_assert_uint_eq(tcp4_ack(&p), cseq + (uint32_t)plen);
		ck_assert_uint_eq(tcp4_daddr(&p), CLIENT);
		ck_assert_uint_eq(tcp4_saddr(&p), VIP);
		ck_assert_uint_eq(tcp4_dport(&p), e.client_port);
		ck_assert_uint_eq(tcp4_seq(&p) - e.c_snd_nxt, bseq - e.b_rcv_nxt);
		tcp_options_parse(&p, &o);
		ck_assert_uint_eq(o.tsecr, cts);
	}
}
END_TEST

/* A GSO super-segment keeps its check field for the segmentation path; a
 * packet whose checksum was not ready gets a complete one; a complete one
 * stays complete. */
START_TEST(test_checksum_modes)
{
	struct pktgen_rng r;
	pktgen_rng_seed(&r, 7);
	struct splice_endpoints e = sample_endpoints(&r);
	struct splice_dir c2b, b2c;
	splice_dirs_from_endpoints(&e, &c2b, &b2c);
	static uint8_t buf[70000];
	struct tcp4_packet p;

	size_t len = build(buf, sizeof(buf), CLIENT, e.client_port, VIP, 80, e.c_rcv_nxt,
			   e.c_snd_nxt, 500, 1, 2, NULL, 1999, CSUM_PARTIAL_PSEUDO);
	ck_assert_int_eq(tcp4_parse(buf, len, &p), 0);
	uint16_t before = tcp4_check(&p);
	ck_assert_int_eq(
	    splice_rewrite(&c2b, &p,
			   (struct splice_csum_state){.gso = true, .csum_not_ready = true}),
	    0);
	ck_assert_uint_eq(tcp4_check(&p), before);
	struct tcp4_view v = tcp4_view_of(&p);
	ck_assert(tcp4_ip_checksum_valid(&v));

	len = build(buf, sizeof(buf), CLIENT, e.client_port, VIP, 80, e.c_rcv_nxt, e.c_snd_nxt, 500,
		    1, 2, NULL, 1999, CSUM_PARTIAL_PSEUDO);
	ck_assert_int_eq(tcp4_parse(buf, len, &p), 0);
	ck_assert_int_eq(
	    splice_rewrite(&c2b, &p, (struct splice_csum_state){.csum_not_ready = true}), 0);
	check_csum(&p);

	/* A truncated packet whose checksum must be computed is refused untouched. */
	len = build(buf, sizeof(buf), CLIENT, e.client_port, VIP, 80, e.c_rcv_nxt, e.c_snd_nxt, 500,
		    1, 2, NULL, 1000, CSUM_PARTIAL_PSEUDO);
	ck_assert_int_eq(tcp4_parse_flags(buf, 200, PKT_PARSE_ALLOW_TRUNCATED, &p), 0);
	ck_assert_int_eq(
	    splice_rewrite(&c2b, &p, (struct splice_csum_state){.csum_not_ready = true}),
	    SPLICE_REWRITE_ETRUNCATED);
	ck_assert_uint_eq(tcp4_daddr(&p), VIP);
}
END_TEST

/* Without timestamps on both connections the option is left alone. */
START_TEST(test_no_timestamp_translation)
{
	struct pktgen_rng r;
	pktgen_rng_seed(&r, 11);
	struct splice_endpoints e = sample_endpoints(&r);
	e.b_timestamps = false;
	struct splice_dir c2b, b2c;
	splice_dirs_from_endpoints(&e, &c2b, &b2c);
	uint8_t buf[4096];
	size_t len = build(buf, sizeof(buf), CLIENT, e.client_port, VIP, 80, e.c_rcv_nxt,
			   e.c_snd_nxt, 500, 1234, 5678, NULL, 10, CSUM_COMPLETE);
	struct tcp4_packet p;
	ck_assert_int_eq(tcp4_parse(buf, len, &p), 0);
	ck_assert_int_eq(splice_rewrite(&c2b, &p, (struct splice_csum_state){0}), 0);
	struct tcp_options o;
	tcp_options_parse(&p, &o);
	ck_assert_uint_eq(o.tsval, 1234);
	ck_assert_uint_eq(o.tsecr, 5678);
	check_csum(&p);
}
END_TEST

Suite *splice_rewrite_suite(void);
Suite *splice_rewrite_suite(void)
{
	Suite *s = suite_create("splice_rewrite");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_client_to_backend_fields);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_checksum_modes);
	tcase_add_test(tc, test_no_timestamp_translation);
	suite_add_tcase(s, tc);
	return s;
}
