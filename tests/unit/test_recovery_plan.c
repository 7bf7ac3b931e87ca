/* The recovery arithmetic of the paper (equations 1-3) on hand-made logs. */
#include <check.h>

#include "recovery_plan.h"

/* Transactions of 100-byte requests and 1000-byte responses. */
static void make_log(struct recovery_txn *t, unsigned n, unsigned complete, uint64_t partial_p)
{
	for (unsigned i = 0; i < n; i++) {
		t[i] = (struct recovery_txn){
		    .ordinal = (uint16_t)(i + 1),
		    .read_only = (i % 2) == 1,
		    .deterministic = true,
		    .request_complete = true,
		    .response_complete = i < complete,
		    .req_start = i * 100,
		    .req_end = i * 100 + 100,
		    .resp_start = i * 1000,
		    .resp_end = i < complete ? i * 1000 + 1000 : i * 1000 + partial_p,
		};
	}
}

START_TEST(test_mid_response)
{
	struct recovery_txn t[4];
	make_log(t, 4, 3, 250); /* T_L = 3, T_L+1 = 4 has 250 bytes logged */
	struct recovery_input in = {.txns = t, .ntxns = 4, .ack_cl = 3250, .t_s = 3, .t_a = 3};
	struct recovery_plan pl;
	ck_assert_int_eq(recovery_plan_compute(&in, &pl), RECOVERY_PLAN_OK);
	ck_assert_uint_eq(pl.t_l, 3);
	ck_assert_uint_eq(pl.p, 250);
	ck_assert_uint_eq(pl.ack_tl, 3000);
	ck_assert_uint_eq(pl.t_sp, 4);
	ck_assert_uint_eq(pl.t_r, 4); /* T_L >= T_A: T_A + 1 */
	ck_assert(!pl.resend);	      /* equation 1 is an equality */
	ck_assert_uint_eq(pl.nreplay, 1);
	ck_assert_uint_eq(pl.replay[0], 4);
	ck_assert_uint_eq(pl.client_resp_resume, 3250);
	ck_assert_uint_eq(pl.client_req_resume, 400);
}
END_TEST

START_TEST(test_lagging_alternate_replays_updates_only)
{
	struct recovery_txn t[6];
	make_log(t, 6, 5, 0); /* T_L = 5; 1, 3, 5 are updates */
	struct recovery_input in = {.txns = t, .ntxns = 6, .ack_cl = 4000, .t_s = 1, .t_a = 2};
	struct recovery_plan pl;
	ck_assert_int_eq(recovery_plan_compute(&in, &pl), RECOVERY_PLAN_OK);
	ck_assert_uint_eq(pl.t_r, 3);
	/* Equation 1: the client acknowledged 4000 of 5000 logged bytes. */
	ck_assert(pl.resend);
	ck_assert_uint_eq(pl.resend_from, 4000);
	ck_assert_uint_eq(pl.resend_to, 5000);
	/* Updates 3 and 5 replayed, read-only 4 not, then the in-flight 6. */
	ck_assert_uint_eq(pl.nreplay, 3);
	ck_assert_uint_eq(pl.replay[0], 3);
	ck_assert_uint_eq(pl.replay[1], 5);
	ck_assert_uint_eq(pl.replay[2], 6);
	ck_assert_uint_eq(pl.p, 0);
}
END_TEST

START_TEST(test_alternate_ahead_of_logger)
{
	struct recovery_txn t[3];
	make_log(t, 3, 2, 10);
	/* T_A > T_L: the alternate has state beyond what was logged. */
	struct recovery_input in = {.txns = t, .ntxns = 3, .ack_cl = 2010, .t_s = 2, .t_a = 3};
	struct recovery_plan pl;
	ck_assert_int_eq(recovery_plan_compute(&in, &pl), RECOVERY_PLAN_OK);
	ck_assert_uint_eq(pl.t_r, 3); /* T_L + 1 */
	ck_assert_uint_eq(pl.nreplay, 1);
}
END_TEST

START_TEST(test_between_transactions_and_errors)
{
	struct recovery_txn t[2];
	make_log(t, 2, 2, 0);
	struct recovery_input in = {.txns = t, .ntxns = 2, .ack_cl = 2000, .t_s = 2, .t_a = 2};
	struct recovery_plan pl;
	ck_assert_int_eq(recovery_plan_compute(&in, &pl), RECOVERY_PLAN_NOTHING);
	ck_assert_uint_eq(pl.t_sp, 3);
	ck_assert_uint_eq(pl.client_resp_resume, 2000);
	in.ack_cl = 2001;
	ck_assert_int_eq(recovery_plan_compute(&in, &pl), RECOVERY_PLAN_EACK);
	in.ack_cl = 2000;
	t[1].ordinal = 7;
	ck_assert_int_eq(recovery_plan_compute(&in, &pl), RECOVERY_PLAN_EGAP);
	/* Nothing logged yet: the first request is in flight. */
	struct recovery_txn one[1];
	make_log(one, 1, 0, 0);
	struct recovery_input in1 = {.txns = one, .ntxns = 1, .ack_cl = 0, .t_s = 0, .t_a = 0};
	ck_assert_int_eq(recovery_plan_compute(&in1, &pl), RECOVERY_PLAN_OK);
	ck_assert_uint_eq(pl.t_l, 0);
	ck_assert_uint_eq(pl.t_r, 1);
	ck_assert_uint_eq(pl.nreplay, 1);
}
END_TEST

START_TEST(test_log_starts_mid_connection)
{
	/* The logger holds 4 (complete, read-only) and 5 (in flight) only. */
	struct recovery_txn t[5];
	make_log(t, 5, 4, 0);
	t[3].read_only = true;
	struct recovery_input in = {.txns = t + 3, .ntxns = 2, .ack_cl = 4000, .t_s = 3, .t_a = 3};
	struct recovery_plan pl;
	ck_assert_int_eq(recovery_plan_compute(&in, &pl), RECOVERY_PLAN_OK);
	ck_assert_uint_eq(pl.t_l, 4);
	ck_assert_uint_eq(pl.ack_tl, 4000);
	ck_assert_uint_eq(pl.t_r, 4);
	ck_assert_uint_eq(pl.nreplay, 1);
	ck_assert_uint_eq(pl.replay[0], 5);
	/* The alternate lags behind what the log still holds: no recovery. */
	in.t_a = 1;
	ck_assert_int_eq(recovery_plan_compute(&in, &pl), RECOVERY_PLAN_EGAP);
	/* Only the in-flight one is held: T_L is the one before it. */
	in.txns = t + 4;
	in.ntxns = 1;
	in.t_a = 4;
	ck_assert_int_eq(recovery_plan_compute(&in, &pl), RECOVERY_PLAN_OK);
	ck_assert_uint_eq(pl.t_l, 4);
	ck_assert_uint_eq(pl.ack_tl, 4000);
}
END_TEST

Suite *recovery_plan_suite(void);
Suite *recovery_plan_suite(void)
{
	Suite *s = suite_create("recovery_plan");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_mid_response);
	tcase_add_test(tc, test_lagging_alternate_replays_updates_only);
	tcase_add_test(tc, test_alternate_ahead_of_logger);
	tcase_add_test(tc, test_between_transactions_and_errors);
	tcase_add_test(tc, test_log_starts_mid_connection);
	suite_add_tcase(s, tc);
	return s;
}
