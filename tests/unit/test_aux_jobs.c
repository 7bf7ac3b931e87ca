/* test_aux_jobs.c - when the aux logger diverts an alternate: switched on
 * by the first START for it, kept while any job names it, off after the
 * END plus end_linger (or at once without linger), off at the ttl when the
 * END is lost (the ttl capped at max_ttl), refreshed every refresh
 * interval once per address; repeats of START/END, late STARTs after the
 * END, another sender's END and a full table are counted and change
 * nothing; clear switches everything off. */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "aux_jobs.h"

struct sw_log {
	char ops[64][24];
	unsigned n;
};

static void sw(void *ctx, char op, uint32_t ip)
{
	struct sw_log *l = ctx;
	struct in_addr a = {.s_addr = ip};
	if (l->n < 64)
		snprintf(l->ops[l->n++], sizeof(l->ops[0]), "%c%s", op,
			 op == '/' ? "" : inet_ntoa(a));
}

static struct ctl_aux_divert msg(const char *ip, int op, uint64_t job, uint32_t ttl)
{
	struct ctl_aux_divert m = {.op = (uint8_t)op, .job_id = job, .ttl_ms = ttl};
	inet_pton(AF_INET, ip, &m.alternate_ip);
	return m;
}

static uint32_t ip_of(const char *s)
{
	struct in_addr a;
	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

START_TEST(start_end_linger)
{
	struct aux_jobs t;
	struct sw_log l = {0};
	ck_assert_int_eq(aux_jobs_init(&t, 4, 60000, 3000, 5000, sw, &l), 0);
	struct ctl_aux_divert a1 = msg("198.18.2.12", CTL_AUX_START, 7, 10000);
	aux_jobs_on_msg(&t, &a1, 1, 1000);
	ck_assert(aux_jobs_active(&t, ip_of("198.18.2.12")));
	ck_assert(!aux_jobs_active(&t, ip_of("198.18.2.11")));
	ck_assert_str_eq(l.ops[0], "+198.18.2.12");
	aux_jobs_on_msg(&t, &a1, 1, 1010); /* the second copy: a refresh */
	ck_assert_uint_eq(aux_jobs_live(&t), 1);
	ck_assert_uint_eq(t.c.switched_on, 1);
	/* a second job on the same alternate */
	struct ctl_aux_divert a2 = msg("198.18.2.12", CTL_AUX_START, 8, 10000);
	aux_jobs_on_msg(&t, &a2, 1, 1100);
	ck_assert_uint_eq(aux_jobs_live(&t), 2);
	ck_assert_uint_eq(t.c.switched_on, 1);
	/* another sender's END does not end sender 1's job */
	struct ctl_aux_divert e1 = msg("198.18.2.12", CTL_AUX_END, 7, 0);
	aux_jobs_on_msg(&t, &e1, 2, 1200);
	ck_assert_uint_eq(t.c.ends_unknown, 1);
	/* the END lingers 3 s */
	aux_jobs_on_msg(&t, &e1, 1, 2000);
	aux_jobs_on_msg(&t, &e1, 1, 2001); /* its repeat */
	ck_assert_uint_eq(t.c.ends_unknown, 2);
	aux_jobs_on_msg(&t, &a1, 1, 2002); /* a late START copy */
	aux_jobs_tick(&t, 4999);
	ck_assert_uint_eq(aux_jobs_live(&t), 2);
	aux_jobs_tick(&t, 5000);
	ck_assert_uint_eq(aux_jobs_live(&t), 1); /* job 8 still diverts */
	ck_assert(aux_jobs_active(&t, ip_of("198.18.2.12")));
	ck_assert_uint_eq(t.c.switched_off, 0);
	struct ctl_aux_divert e2 = msg("198.18.2.12", CTL_AUX_END, 8, 0);
	aux_jobs_on_msg(&t, &e2, 1, 5100);
	aux_jobs_tick(&t, 8100);
	ck_assert(!aux_jobs_active(&t, ip_of("198.18.2.12")));
	ck_assert_uint_eq(t.c.switched_off, 1);
	ck_assert_str_eq(l.ops[l.n - 1], "-198.18.2.12");
	aux_jobs_free(&t);
}
END_TEST

START_TEST(ttl_refresh_full_clear)
{
	struct aux_jobs t;
	struct sw_log l = {0};
	ck_assert_int_eq(aux_jobs_init(&t, 2, 2000, 0, 500, sw, &l), 0);
	/* ttl capped at max_ttl (2 s): the lost END */
	struct ctl_aux_divert a = msg("198.18.2.12", CTL_AUX_START, 1, 60000);
	aux_jobs_on_msg(&t, &a, 1, 0);
	struct ctl_aux_divert b = msg("198.18.2.13", CTL_AUX_START, 2, 1000);
	aux_jobs_on_msg(&t, &b, 1, 0);
	struct ctl_aux_divert c = msg("198.18.2.14", CTL_AUX_START, 3, 1000);
	aux_jobs_on_msg(&t, &c, 1, 0);
	ck_assert_uint_eq(t.c.jobs_full, 1);
	ck_assert(!aux_jobs_active(&t, ip_of("198.18.2.14")));
	/* refresh: each live address once per interval */
	unsigned before = l.n;
	aux_jobs_tick(&t, 600);
	ck_assert_uint_eq(l.n, before + 2);
	aux_jobs_tick(&t, 700);
	ck_assert_uint_eq(l.n, before + 2);
	aux_jobs_tick(&t, 1000); /* b's ttl */
	ck_assert(!aux_jobs_active(&t, ip_of("198.18.2.13")));
	ck_assert(aux_jobs_active(&t, ip_of("198.18.2.12")));
	aux_jobs_tick(&t, 2000);
	ck_assert(!aux_jobs_active(&t, ip_of("198.18.2.12")));
	ck_assert_uint_eq(t.c.expired, 2);
	/* no linger: an END switches off at once */
	aux_jobs_on_msg(&t, &a, 1, 3000);
	struct ctl_aux_divert e = msg("198.18.2.12", CTL_AUX_END, 1, 0);
	aux_jobs_on_msg(&t, &e, 1, 3001);
	ck_assert(!aux_jobs_active(&t, ip_of("198.18.2.12")));
	ck_assert_str_eq(l.ops[l.n - 1], "-198.18.2.12");
	/* clear */
	aux_jobs_on_msg(&t, &b, 1, 4000);
	aux_jobs_clear(&t);
	ck_assert_uint_eq(aux_jobs_live(&t), 0);
	ck_assert_str_eq(l.ops[l.n - 1], "/");
	aux_jobs_free(&t);
}
END_TEST

Suite *aux_jobs_suite(void);
Suite *aux_jobs_suite(void)
{
	Suite *s = suite_create("aux_jobs");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, start_end_linger);
	tcase_add_test(tc, ttl_refresh_full_clear);
	suite_add_tcase(s, tc);
	return s;
}
