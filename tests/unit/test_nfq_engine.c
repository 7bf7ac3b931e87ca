/* The NFQUEUE engine's contract outside the packet path: bad configurations
 * are refused with a message before any socket exists, and a queue opened in
 * a private network namespace is bound while the engine lives and unbound
 * when it closes (its receive vectors and send buffer come and go with it,
 * which is what ASan checks here). The packet path itself needs iptables
 * rules and real traffic: tests/e2e/foundation covers it. */
#include <check.h>
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "event_loop.h"
#include "nfq_engine.h"

static void accept_all(void *ctx, struct nfq_engine *engine, struct nfq_packet *pkt,
		       struct nfq_verdict *v)
{
	(void)ctx;
	(void)engine;
	(void)pkt;
	(void)v;
}

START_TEST(defaults_are_the_documented_ones)
{
	struct nfq_engine_config c;
	nfq_engine_config_defaults(&c);
	ck_assert(c.gso);
	ck_assert(c.fail_open);
	ck_assert_uint_eq(c.queue_count, 1);
	ck_assert_uint_eq(c.copy_range, 0xffff);
	ck_assert_uint_eq(c.batch_max, 64);
	/* Polling costs CPU the endpoints need on a shared host: opt-in. */
	ck_assert_uint_eq(c.busy_poll_us, 0);
	ck_assert(c.shutdown_accept);
}
END_TEST

START_TEST(bad_configs_are_refused_with_a_message)
{
	struct nfq_engine_handler h = {.on_packet = accept_all};
	struct nfq_engine_config c;
	struct nfq_engine *e = (struct nfq_engine *)1;
	char err[256];

	nfq_engine_config_defaults(&c);
	c.queue_count = 0;
	ck_assert_int_eq(nfq_engine_open(&e, &c, &h, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(e);
	ck_assert_ptr_nonnull(strstr(err, "queue count"));

	nfq_engine_config_defaults(&c);
	c.queue_count = NFQ_ENGINE_MAX_QUEUES + 1;
	ck_assert_int_eq(nfq_engine_open(&e, &c, &h, NULL, err, sizeof(err)), -EINVAL);

	nfq_engine_config_defaults(&c);
	c.queue_num = 65535;
	c.queue_count = 2;
	ck_assert_int_eq(nfq_engine_open(&e, &c, &h, NULL, err, sizeof(err)), -EINVAL);

	nfq_engine_config_defaults(&c);
	c.copy_range = 0x10000;
	ck_assert_int_eq(nfq_engine_open(&e, &c, &h, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "copy range"));

	nfq_engine_config_defaults(&c);
	struct nfq_engine_handler none = {0};
	ck_assert_int_eq(nfq_engine_open(&e, &c, &none, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "handler"));

	/* Closing nothing is allowed (daemons call it on every exit path). */
	nfq_engine_close(NULL, NULL);
}
END_TEST

/* Child side of the namespace test: returns the step that failed (0 = ok),
 * so the parent can say which one. */
static int open_close_in_netns(void)
{
	if (unshare(CLONE_NEWNET) != 0)
		return 1; /* needs root (CAP_SYS_ADMIN), as the whole suite does */
	struct event_loop loop;
	if (event_loop_init(&loop) != 0)
		return 2;
	struct nfq_engine_config c;
	nfq_engine_config_defaults(&c);
	c.queue_num = 7;
	c.queue_count = 2;
	c.rcvbuf = 1u << 20;
	c.copy_range = 128;
	struct nfq_engine_handler h = {.on_packet = accept_all};
	struct nfq_engine *e = NULL;
	char err[256];
	if (nfq_engine_open(&e, &c, &h, &loop, err, sizeof(err)) != 0)
		return 3;
	struct nfq_kernel_queue_stats ks;
	if (nfq_kernel_queue_stats(7, &ks) != 0 || nfq_kernel_queue_stats(8, &ks) != 0)
		return 4;
	if (ks.copy_range != 128)
		return 5;
	/* Nothing queued: a round of the loop finds nothing and must not block. */
	if (event_loop_run_once(&loop, 0) != 0)
		return 6;
	struct nfq_engine_stats st;
	nfq_engine_close(e, &st);
	if (st.packets != 0 || st.shutdown_batches != 0 || st.send_errors != 0)
		return 7;
	if (nfq_kernel_queue_stats(7, &ks) != -ENOENT || nfq_kernel_queue_stats(8, &ks) != -ENOENT)
		return 8;
	event_loop_free(&loop);
	return 0;
}

START_TEST(queues_bound_while_open_and_unbound_after_close)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(open_close_in_netns());
	int status = 0;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "child died (status 0x%x)", status);
	ck_assert_msg(WEXITSTATUS(status) == 0,
		      "step %d failed (1 unshare: not root?, 3 open, 4 not bound, 8 still bound)",
		      WEXITSTATUS(status));
}
END_TEST

Suite *nfq_engine_suite(void);
Suite *nfq_engine_suite(void)
{
	Suite *s = suite_create("nfq_engine");
	TCase *tc = tcase_create("lifecycle");
	tcase_add_test(tc, defaults_are_the_documented_ones);
	tcase_add_test(tc, bad_configs_are_refused_with_a_message);
	tcase_add_test(tc, queues_bound_while_open_and_unbound_after_close);
	suite_add_tcase(s, tc);
	return s;
}
