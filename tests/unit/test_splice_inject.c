/* test_splice_inject.c - the owed-bytes sender's bookkeeping: window use,
 * SACK scoreboard, when a loss recovery starts, window probes and the TSval
 * that follows the receiver's echo. Sending goes to an invalid descriptor:
 * what is checked is the state, not the wire (the splice e2e tests see the
 * wire). Sequence numbers start just below the 2^32 wrap. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "splice_inject.h"

#define MSS   1000u
#define LEN   (20u * MSS)
#define START 0xFFFFF000u

static uint8_t data[LEN];
static struct splice_inject in;

static void setup(void)
{
	struct tcp_segment_spec tmpl = {
	    .saddr = 0xC6120B01u, .daddr = 0xC612020Bu, .sport = 20000, .dport = 8000};
	tmpl.timestamp = true;
	tmpl.tsval = 1000;
	memset(data, 'x', sizeof(data));
	ck_assert_int_eq(splice_inject_init(&in, &tmpl, START, data, LEN, MSS, 10 * MSS, 200, 8),
			 0);
}

static void teardown(void)
{
	splice_inject_free(&in);
}

static struct tcp_sack_block blk(uint32_t from, uint32_t to)
{
	return (struct tcp_sack_block){START + from * MSS, START + to * MSS};
}

START_TEST(window_and_full_segments)
{
	splice_inject_pump(&in, -1, 0);
	ck_assert_uint_eq(in.sent, 10 * MSS);
	/* The window edge moves by half a segment: no runt is sent while
	 * bytes are in flight. */
	splice_inject_ack(&in, START + 2 * MSS, 8 * MSS + MSS / 2);
	splice_inject_pump(&in, -1, 1);
	ck_assert_uint_eq(in.acked, 2 * MSS);
	ck_assert_uint_eq(in.sent, 10 * MSS);
	splice_inject_ack(&in, START + 3 * MSS, 9 * MSS);
	splice_inject_pump(&in, -1, 2);
	ck_assert_uint_eq(in.sent, 12 * MSS);
	ck_assert(!splice_inject_done(&in));
	splice_inject_ack(&in, START + LEN + 500, 64 * MSS); /* the endpoint's bytes after ours */
	ck_assert(splice_inject_done(&in));
}
END_TEST

START_TEST(sack_scoreboard)
{
	splice_inject_pump(&in, -1, 0);
	struct tcp_sack_block b[] = {blk(3, 4), blk(3, 5), blk(0, 1)};
	splice_inject_sack(&in, b, 2);
	ck_assert_uint_eq(in.nsacked, 1);
	ck_assert_uint_eq(in.sacked[0].from, 3 * MSS);
	ck_assert_uint_eq(in.sacked[0].to, 5 * MSS);
	ck_assert_uint_eq(in.recoveries, 0); /* 3 segments SACKed start one */
	/* Adjacent runs merge; a block beyond what was sent is the endpoint's. */
	struct tcp_sack_block more[] = {blk(6, 7), blk(5, 6), blk(11, 14)};
	splice_inject_sack(&in, more, 3);
	ck_assert_uint_eq(in.nsacked, 1);
	ck_assert_uint_eq(in.sacked[0].from, 3 * MSS);
	ck_assert_uint_eq(in.sacked[0].to, 7 * MSS);
	ck_assert_uint_eq(in.recoveries, 1);
	ck_assert(in.rtx_pending);
	ck_assert_uint_eq(in.recover, 10 * MSS);
	/* Acknowledged up to inside the SACKed run: trimmed; a D-SACK below
	 * the acknowledged point changes nothing. */
	splice_inject_ack(&in, START + 4 * MSS, 10 * MSS);
	ck_assert_uint_eq(in.sacked[0].from, 4 * MSS);
	splice_inject_sack(&in, &b[2], 1);
	ck_assert_uint_eq(in.nsacked, 1);
	ck_assert(in.rtx_pending); /* partial acknowledgement: next hole */
	splice_inject_ack(&in, START + 10 * MSS, 10 * MSS);
	ck_assert_uint_eq(in.nsacked, 0);
	ck_assert_uint_eq(in.retries, 0);
}
END_TEST

START_TEST(timeout_recovery_and_probe)
{
	splice_inject_pump(&in, -1, 0);
	splice_inject_pump(&in, -1, 199);
	ck_assert_uint_eq(in.recoveries, 0);
	splice_inject_pump(&in, -1, 200);
	ck_assert_uint_eq(in.recoveries, 1);
	ck_assert_uint_eq(in.retries, 1);
	ck_assert_uint_eq(in.rto_ms, 400);
	/* Everything acknowledged that was sent, window closed: after an RTO
	 * one byte probes it; an answer with the window still closed says the
	 * receiver lives (no retry counted), silence does. */
	splice_inject_ack(&in, START + 10 * MSS, 0);
	ck_assert_uint_eq(in.retries, 0);
	splice_inject_pump(&in, -1, 300);
	ck_assert_uint_eq(in.sent, 10 * MSS);
	splice_inject_pump(&in, -1, 600);
	ck_assert_uint_eq(in.sent, 10 * MSS + 1);
	ck_assert_uint_eq(in.retries, 1);
	splice_inject_ack(&in, START + 10 * MSS, 0);
	ck_assert_uint_eq(in.sent, 10 * MSS + 1);
	ck_assert_uint_eq(in.retries, 0);
	for (int i = 0; i < 20; i++)
		splice_inject_pump(&in, -1, 1000 + (uint64_t)i * 5000);
	ck_assert(splice_inject_failed(&in));
}
END_TEST

START_TEST(tsval_follows_echo)
{
	splice_inject_echo(&in, 900); /* older: kept */
	ck_assert_uint_eq(in.tmpl.tsval, 1000);
	splice_inject_echo(&in, 1500);
	ck_assert_uint_eq(in.tmpl.tsval, 1500);
	in.tmpl.tsval = 0xFFFFFFF0u;
	splice_inject_echo(&in, 5); /* across the wrap: newer */
	ck_assert_uint_eq(in.tmpl.tsval, 5);
}
END_TEST

Suite *splice_inject_suite(void);
Suite *splice_inject_suite(void)
{
	Suite *s = suite_create("splice_inject");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, window_and_full_segments);
	tcase_add_test(tc, sack_scoreboard);
	tcase_add_test(tc, timeout_recovery_and_probe);
	tcase_add_test(tc, tsval_follows_echo);
	suite_add_tcase(s, tc);
	return s;
}
