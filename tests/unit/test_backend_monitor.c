/* test_backend_monitor.c - the detector with real probes and a real tick on
 * 127.0.0.1: a backend whose application stops answering (its kernel still
 * accepts connections) is declared failed by the confirm window, comes back
 * when probes succeed again, a closed port is found by idle probes, and the
 * messages and the failover row carry wall-clock times. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend_monitor.h"
#include "clock.h"
#include "event_loop.h"
#include "stats.h"
#include "store.h"

struct seen {
	int failed, recovered;
	struct ctl_msg fmsg, rmsg;
	struct fdet_failure f;
	uint64_t failed_mono;
};

static void on_failed(void *arg, const struct fdet_failure *f, const struct ctl_msg *msg)
{
	struct seen *s = arg;
	s->failed++;
	s->f = *f;
	s->fmsg = *msg;
	s->failed_mono = monotonic_us();
}

static void on_recovered(void *arg, const struct ctl_msg *msg)
{
	struct seen *s = arg;
	s->recovered++;
	s->rmsg = *msg;
}

static int listen_on(struct sockaddr_in *a)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)a, sizeof(*a)), 0);
	ck_assert_int_eq(listen(fd, 64), 0);
	socklen_t len = sizeof(*a);
	getsockname(fd, (struct sockaddr *)a, &len);
	return fd;
}

static void run_until(struct event_loop *loop, const int *counter, int want, uint64_t max_ms)
{
	uint64_t end = monotonic_ms() + max_ms;
	while (*counter < want && monotonic_ms() < end)
		event_loop_run_once(loop, 5);
}

static void small_config(struct bmon_config *cfg)
{
	bmon_config_default(cfg);
	cfg->tick_ms = 5;
	cfg->detect.floor_ms = 30;
	cfg->detect.ceiling_ms = 400;
	cfg->detect.min_samples = 3;
	cfg->detect.confirm_ms = 100;
	cfg->detect.idle_probe_ms = 60;
	cfg->detect.recover_probes = 2;
	cfg->probe.timeout_ms = 100;
	cfg->probe.tick_ms = 5;
}

START_TEST(frozen_then_recovered)
{
	struct event_loop loop;
	ck_assert_int_eq(event_loop_init(&loop), 0);
	struct bmon_config cfg;
	small_config(&cfg);
	struct backend_monitor m;
	struct seen s = {0};
	const struct bmon_ops ops = {.failed = on_failed, .recovered = on_recovered};
	ck_assert_int_eq(bmon_init(&m, &loop, &cfg, &ops, &s), 0);
	struct fdet *d = bmon_detector(&m);

	struct sockaddr_in be = {0};
	int lfd = listen_on(&be);
	uint64_t t = monotonic_us() - 50000; /* history, in the past */
	ck_assert_int_eq(fdet_conn_open(d, 1, &be, t), 0);
	for (uint64_t x = 1; x <= 5; x++) { /* 5 ms answers: timeout = floor */
		fdet_request_done(d, 1, x, "GET /", t);
		fdet_response_first_byte(d, 1, x, t + 5000);
		fdet_response_done(d, 1, x, t + 6000);
		t += 7000;
	}
	/* The application freezes: the next request is never answered, but
	 * the kernel still completes the probes' handshakes. */
	uint64_t t0 = monotonic_us();
	uint64_t wall0 = realtime_us();
	fdet_request_done(d, 1, 6, "GET /", t0);
	run_until(&loop, &s.failed, 1, 3000);
	ck_assert_int_eq(s.failed, 1);
	uint64_t took = s.failed_mono - t0;
	ck_assert_int_eq(s.fmsg.u.failed.cause, CTL_CAUSE_CONFIRM_TIMEOUT);
	ck_assert_uint_ge(took, (30 + 100) * 1000);
	ck_assert_uint_le(took, (30 + 100 + 2 * 5 + 30) * 1000); /* + ticks + slack */
	ck_assert(s.fmsg.u.failed.has_txn);
	ck_assert_uint_eq(s.fmsg.u.failed.oldest_txn_id, 6);
	ck_assert_uint_eq(s.fmsg.u.failed.oldest_conn_id, 1);
	ck_assert_uint_eq(s.fmsg.u.failed.port, ntohs(be.sin_port));
	ck_assert_uint_eq(s.fmsg.u.failed.conns_affected, 1);
	ck_assert_uint_eq(s.fmsg.u.failed.timeout_us, 30000);
	/* Wall clock, not monotonic. */
	ck_assert_uint_ge(s.fmsg.u.failed.detected_us, wall0 + 100000);
	ck_assert_uint_le(s.fmsg.u.failed.detected_us, realtime_us());
	fprintf(stderr,
		"backend_monitor: frozen application (timeout 30 ms, confirm 100 ms, tick 5 ms): "
		"detected after %llu ms\n",
		(unsigned long long)(took / 1000));

	/* The row for the database. */
	struct store_row row;
	char bbuf[64], dbuf[256];
	bmon_failover_row(&s.fmsg.u.failed, &row, bbuf, sizeof(bbuf), dbuf, sizeof(dbuf));
	ck_assert_int_eq(row.stmt, STORE_FAILOVER_EVENT);
	ck_assert_uint_eq(row.nvals, store_stmt_def(STORE_FAILOVER_EVENT)->nvals);
	ck_assert_int_eq(row.vals[0].type, STORE_V_NULL);
	ck_assert_int_eq(row.vals[3].u.i, (int64_t)s.fmsg.u.failed.detected_us);
	char want[64];
	snprintf(want, sizeof(want), "127.0.0.1:%u", ntohs(be.sin_port));
	ck_assert_str_eq(bbuf, want);
	ck_assert_ptr_nonnull(strstr(dbuf, "cause=confirm_timeout"));
	ck_assert_ptr_nonnull(strstr(dbuf, "oldest_txn=6 oldest_conn=1 conns_affected=1"));

	/* Two good probes in a row (the listener still accepts): recovered. */
	run_until(&loop, &s.recovered, 1, 3000);
	ck_assert_int_eq(s.recovered, 1);
	ck_assert_uint_eq(s.rmsg.u.recovered.port, ntohs(be.sin_port));
	ck_assert_uint_ge(s.rmsg.u.recovered.down_us, 2 * 60000);
	ck_assert_uint_gt(s.rmsg.u.recovered.event_id, s.fmsg.u.failed.event_id);

	struct stats_report r;
	stats_reset(&r);
	bmon_collect_stats(&m, &r, "detect");
	ck_assert_uint_eq(stats_get(&r, "detect_failures"), 1);
	ck_assert_uint_eq(stats_get(&r, "detect_recoveries"), 1);
	ck_assert_uint_ge(stats_get(&r, "detect_probe_alive"), 3);
	bmon_free(&m);
	close(lfd);
	event_loop_free(&loop);
}
END_TEST

START_TEST(closed_port_idle)
{
	struct event_loop loop;
	ck_assert_int_eq(event_loop_init(&loop), 0);
	struct bmon_config cfg;
	small_config(&cfg);
	struct backend_monitor m;
	struct seen s = {0};
	const struct bmon_ops ops = {.failed = on_failed, .recovered = on_recovered};
	ck_assert_int_eq(bmon_init(&m, &loop, &cfg, &ops, &s), 0);
	struct sockaddr_in be = {0};
	close(listen_on(&be)); /* nothing listens there any more */
	uint64_t t0 = monotonic_us();
	ck_assert_int_eq(fdet_backend_add(bmon_detector(&m), &be, t0), 0);
	run_until(&loop, &s.failed, 1, 3000);
	ck_assert_int_eq(s.failed, 1);
	ck_assert_int_eq(s.fmsg.u.failed.cause, CTL_CAUSE_IDLE_PROBE);
	ck_assert(!s.fmsg.u.failed.has_txn);
	/* First probe after idle_probe, the retry after confirm. */
	uint64_t took = s.failed_mono - t0;
	ck_assert_uint_ge(took, (60 + 100) * 1000);
	ck_assert_uint_le(took, (60 + 100 + 80) * 1000);
	bmon_free(&m);
	event_loop_free(&loop);
}
END_TEST

START_TEST(bad_config)
{
	struct event_loop loop;
	ck_assert_int_eq(event_loop_init(&loop), 0);
	struct bmon_config cfg;
	struct backend_monitor m;
	const struct bmon_ops ops = {0};
	small_config(&cfg);
	cfg.tick_ms = 0;
	ck_assert_int_eq(bmon_init(&m, &loop, &cfg, &ops, NULL), -EINVAL);
	small_config(&cfg);
	cfg.detect.floor_ms = 10000;
	ck_assert_int_eq(bmon_init(&m, &loop, &cfg, &ops, NULL), -EINVAL);
	small_config(&cfg);
	snprintf(cfg.probe.send, sizeof(cfg.probe.send), "\\");
	ck_assert_int_eq(bmon_init(&m, &loop, &cfg, &ops, NULL), -EINVAL);
	event_loop_free(&loop);
}
END_TEST

Suite *backend_monitor_suite(void);
Suite *backend_monitor_suite(void)
{
	Suite *s = suite_create("backend_monitor");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, frozen_then_recovered);
	tcase_add_test(tc, closed_port_idle);
	tcase_add_test(tc, bad_config);
	tcase_set_timeout(tc, 20);
	suite_add_tcase(s, tc);
	return s;
}
