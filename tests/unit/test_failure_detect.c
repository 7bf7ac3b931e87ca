/* test_failure_detect.c - the adaptive detector on a simulated clock: the
 * Jacobson/Karels arithmetic, the clamps, overdue and stall deadlines,
 * confirmation, idle probes and recovery, bounds, and two synthetic
 * workloads: 10^5 requests whose latency varies 10x (no failure allowed)
 * and a backend that freezes (detected within timeout + confirm). */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failure_detect.h"
#include "stats.h"

#define MS 1000ull

struct rec {
	unsigned probes, failures, recoveries, suspects, cleared;
	int last_probe_backend;
	enum fdet_probe_reason last_reason;
	bool probe_pending;
	struct fdet_failure f;
	uint64_t failed_at;
};

static void on_probe(void *arg, unsigned b, const struct sockaddr_in *addr,
		     enum fdet_probe_reason reason)
{
	struct rec *r = arg;
	(void)addr;
	r->probes++;
	r->last_probe_backend = (int)b;
	r->last_reason = reason;
	r->probe_pending = true;
}

static void on_failed(void *arg, const struct fdet_failure *f)
{
	struct rec *r = arg;
	r->failures++;
	r->f = *f;
	r->failed_at = f->detected_us;
}

static void on_recovered(void *arg, unsigned b, const struct sockaddr_in *addr, uint64_t now,
			 uint64_t down)
{
	struct rec *r = arg;
	(void)b, (void)addr, (void)now, (void)down;
	r->recoveries++;
}

static void on_suspect(void *arg, unsigned b, const struct sockaddr_in *addr, uint64_t conn,
		       uint64_t txn, uint64_t now)
{
	struct rec *r = arg;
	(void)b, (void)addr, (void)conn, (void)txn, (void)now;
	r->suspects++;
}

static void on_cleared(void *arg, unsigned b, const struct sockaddr_in *addr, uint64_t now)
{
	struct rec *r = arg;
	(void)b, (void)addr, (void)now;
	r->cleared++;
}

static const struct fdet_ops ops = {
    .probe = on_probe,
    .failed = on_failed,
    .recovered = on_recovered,
    .suspect = on_suspect,
    .cleared = on_cleared,
};

static struct sockaddr_in be_addr(unsigned last, unsigned port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(0xC6120200u | last); /* 198.18.2.x */
	return a;
}

static struct fdet_backend_info info(const struct fdet *d, unsigned b)
{
	struct fdet_backend_info i;
	ck_assert_int_eq(fdet_backend_info(d, b, &i), 0);
	return i;
}

static void init(struct fdet *d, struct rec *r, struct fdet_config *cfg)
{
	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(fdet_init(d, cfg, &ops, r), 0);
}

/* Teaches kind `kind` on conn: n requests with a fixed wait and transfer. */
static uint64_t teach(struct fdet *d, uint64_t conn, const char *kind, unsigned n, uint64_t t,
		      uint64_t wait, uint64_t xfer)
{
	static uint64_t txn = 1000;
	int rc = 0;
	for (unsigned i = 0; i < n; i++) {
		txn++;
		rc |= fdet_request_done(d, conn, txn, kind, t);
		t += wait;
		rc |= fdet_response_first_byte(d, conn, txn, t);
		t += xfer;
		rc |= fdet_response_done(d, conn, txn, t);
		t += 1 * MS;
	}
	ck_assert_int_eq(rc, 0);
	return t;
}

static void ewma_math(void)
{
	struct fdet_ewma e = {0};
	fdet_ewma_sample(&e, 1000);
	ck_assert_uint_eq(fdet_ewma_mean_us(&e), 1000);
	ck_assert_uint_eq(fdet_ewma_dev_us(&e), 500);
	fdet_ewma_sample(&e, 2000); /* err 1000: mean += 125, dev += (1000 - 500) / 4 */
	ck_assert_uint_eq(fdet_ewma_mean_us(&e), 1125);
	ck_assert_uint_eq(fdet_ewma_dev_us(&e), 625);
	fdet_ewma_sample(&e, 125); /* err -1000: mean 1000, dev 625 + (1000 - 625) / 4 */
	ck_assert_uint_eq(fdet_ewma_mean_us(&e), 1000);
	ck_assert_uint_eq(e.dev_x4, 2500 + 1000 - 625);
	ck_assert_uint_eq(e.samples, 3);
	for (int i = 0; i < 200; i++)
		fdet_ewma_sample(&e, 4000);
	ck_assert_uint_ge(fdet_ewma_mean_us(&e), 4000 - 7); /* scaled truncation */
	ck_assert_uint_le(fdet_ewma_mean_us(&e), 4000);
	ck_assert_uint_le(fdet_ewma_dev_us(&e), 3);
	/* Enormous samples are capped, never overflow. */
	struct fdet_ewma big = {0};
	for (int i = 0; i < 100; i++)
		fdet_ewma_sample(&big, UINT64_MAX);
	ck_assert_uint_eq(fdet_ewma_mean_us(&big), 1ull << 40);
}

static void timeout_clamps(void)
{
	struct fdet d;
	struct rec r;
	struct fdet_config cfg;
	fdet_config_default(&cfg);
	cfg.min_samples = 4;
	init(&d, &r, &cfg);
	struct sockaddr_in a = be_addr(11, 80);
	ck_assert_int_eq(fdet_conn_open(&d, 1, &a, 0), 0);
	uint64_t to;
	/* Unknown kind and too few samples: the ceiling. */
	ck_assert_int_eq(fdet_timeout_us(&d, 0, "GET /x", FDET_PHASE_WAIT, &to), 0);
	ck_assert_uint_eq(to, 5000 * MS);
	uint64_t t = teach(&d, 1, "GET /x", 3, 0, 10 * MS, 1 * MS);
	ck_assert_int_eq(fdet_timeout_us(&d, 0, "GET /x", FDET_PHASE_WAIT, &to), 0);
	ck_assert_uint_eq(to, 5000 * MS);
	t = teach(&d, 1, "GET /x", 1, t, 10 * MS, 1 * MS);
	/* 4 samples of 10 ms: mean 10 ms, dev decays from 5 ms; below the floor. */
	ck_assert_int_eq(fdet_timeout_us(&d, 0, "GET /x", FDET_PHASE_WAIT, &to), 0);
	ck_assert_uint_eq(to, 200 * MS);
	/* Slow kind: mean + 4 dev above the floor, exact. */
	t = teach(&d, 1, "POST /slow", 4, t, 400 * MS, 1 * MS);
	const struct fdet_ewma *e = fdet_kind_ewma(&d, 0, "POST /slow", FDET_PHASE_WAIT);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(fdet_timeout_us(&d, 0, "POST /slow", FDET_PHASE_WAIT, &to), 0);
	ck_assert_uint_eq(to, fdet_ewma_mean_us(e) + 4 * fdet_ewma_dev_us(e));
	ck_assert_uint_gt(to, 400 * MS);
	/* Very slow kind: the ceiling. */
	teach(&d, 1, "GET /report", 4, t, 20000 * MS, 1 * MS);
	ck_assert_int_eq(fdet_timeout_us(&d, 0, "GET /report", FDET_PHASE_WAIT, &to), 0);
	ck_assert_uint_eq(to, 5000 * MS);
	ck_assert_int_eq(fdet_timeout_us(&d, 7, "GET /x", FDET_PHASE_WAIT, &to), -ENOENT);
	fdet_free(&d);

	/* A configured initial timeout replaces the ceiling before learning. */
	cfg.initial_ms = 1000;
	init(&d, &r, &cfg);
	ck_assert_int_eq(fdet_conn_open(&d, 1, &a, 0), 0);
	ck_assert_int_eq(fdet_timeout_us(&d, 0, "GET /x", FDET_PHASE_XFER, &to), 0);
	ck_assert_uint_eq(to, 1000 * MS);
	fdet_free(&d);

	char err[128];
	cfg.floor_ms = 6000;
	ck_assert_int_eq(fdet_config_check(&cfg, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "floor"));
	ck_assert_int_eq(fdet_init(&d, &cfg, &ops, &r), -EINVAL);
}

/* A backend taught 10 ms responses, then one request gets no answer. */
static uint64_t overdue_setup(struct fdet *d, struct rec *r, uint64_t *to)
{
	struct fdet_config cfg;
	fdet_config_default(&cfg);
	init(d, r, &cfg);
	struct sockaddr_in a = be_addr(11, 80);
	ck_assert_int_eq(fdet_conn_open(d, 1, &a, 0), 0);
	ck_assert_int_eq(fdet_conn_open(d, 2, &a, 0), 0);
	uint64_t t = teach(d, 1, "GET /", 20, 0, 10 * MS, 1 * MS);
	ck_assert_int_eq(fdet_timeout_us(d, 0, "GET /", FDET_PHASE_WAIT, to), 0);
	ck_assert_uint_eq(*to, 200 * MS); /* floor */
	ck_assert_int_eq(fdet_request_done(d, 2, 77, "GET /", t), 0);
	return t;
}

static void overdue_confirm_timeout(void)
{
	struct fdet d;
	struct rec r;
	uint64_t to, t0 = overdue_setup(&d, &r, &to);
	fdet_tick(&d, t0 + to - 1);
	ck_assert_uint_eq(r.probes, 0);
	ck_assert_uint_eq(fdet_next_deadline(&d), t0 + to);
	fdet_tick(&d, t0 + to);
	ck_assert_uint_eq(r.probes, 1);
	ck_assert_int_eq(r.last_reason, FDET_PROBE_CONFIRM);
	ck_assert_uint_eq(r.suspects, 1);
	ck_assert_int_eq(fdet_backend_state(&d, 0), FDET_SUSPECT);
	/* The kernel answers the probe (a frozen process): not enough. */
	fdet_probe_result(&d, 0, true, t0 + to + 1 * MS);
	fdet_tick(&d, t0 + to + 300 * MS - 1);
	ck_assert_uint_eq(r.failures, 0);
	fdet_tick(&d, t0 + to + 300 * MS);
	ck_assert_uint_eq(r.failures, 1);
	ck_assert_int_eq(fdet_backend_state(&d, 0), FDET_FAILED);
	ck_assert_int_eq(r.f.cause, FDET_CAUSE_CONFIRM_TIMEOUT);
	ck_assert(r.f.has_txn);
	ck_assert_uint_eq(r.f.conn, 2);
	ck_assert_uint_eq(r.f.txn, 77);
	ck_assert_int_eq(r.f.phase, FDET_PHASE_WAIT);
	ck_assert_uint_eq(r.f.waiting_since, t0);
	ck_assert_uint_eq(r.f.timeout_us, to);
	ck_assert_uint_eq(r.f.latency_us, to + 300 * MS);
	ck_assert_uint_eq(r.f.conns_open, 2);
	ck_assert_uint_eq(r.f.conns_waiting, 1);
	ck_assert_uint_eq(r.f.txns_outstanding, 1);
	/* Failed: no more suspicion, probes every idle_probe for recovery. */
	fdet_tick(&d, t0 + to + 400 * MS);
	ck_assert_uint_eq(r.failures, 1);
	fdet_free(&d);
}

static void overdue_probe_failed(void)
{
	struct fdet d;
	struct rec r;
	uint64_t to, t0 = overdue_setup(&d, &r, &to);
	fdet_tick(&d, t0 + to + 5 * MS);
	ck_assert_uint_eq(r.probes, 1);
	fdet_probe_result(&d, 0, false, t0 + to + 6 * MS);
	ck_assert_uint_eq(r.failures, 1);
	ck_assert_int_eq(r.f.cause, FDET_CAUSE_PROBE_FAILED);
	ck_assert_uint_eq(r.f.latency_us, to + 6 * MS);
	ck_assert_uint_eq(r.f.detected_us, t0 + to + 6 * MS);
	fdet_free(&d);
}

static void overdue_cleared_by_answer(void)
{
	struct fdet d;
	struct rec r;
	uint64_t to, t0 = overdue_setup(&d, &r, &to);
	fdet_tick(&d, t0 + to);
	ck_assert_int_eq(fdet_backend_state(&d, 0), FDET_SUSPECT);
	/* The late answer arrives inside the window: a slow request, no crash. */
	ck_assert_int_eq(fdet_response_first_byte(&d, 2, 77, t0 + to + 50 * MS), 0);
	fdet_probe_result(&d, 0, false, t0 + to + 60 * MS); /* even a lost probe SYN */
	ck_assert_uint_eq(r.failures, 0);
	ck_assert_int_eq(fdet_backend_state(&d, 0), FDET_UP);
	ck_assert_uint_eq(r.cleared, 1);
	ck_assert_int_eq(fdet_response_done(&d, 2, 77, t0 + to + 70 * MS), 0);
	fdet_tick(&d, t0 + to + 2000 * MS);
	ck_assert_uint_eq(r.failures, 0);
	fdet_free(&d);
}

static void hung_request_on_answering_backend(void)
{
	struct fdet d;
	struct rec r;
	uint64_t to, t0 = overdue_setup(&d, &r, &to);
	fdet_tick(&d, t0 + to);
	fdet_probe_result(&d, 0, true, t0 + to + 1 * MS);
	/* Another connection is answered: the backend lives, conn 2 hangs. */
	uint64_t t = teach(&d, 1, "GET /", 1, t0 + to + 10 * MS, 10 * MS, 1 * MS);
	fdet_tick(&d, t);
	ck_assert_int_eq(fdet_backend_state(&d, 0), FDET_UP);
	ck_assert_uint_eq(r.cleared, 1);
	fdet_tick(&d, t0 + to + 2000 * MS);
	ck_assert_uint_eq(r.failures, 0);
	ck_assert_uint_eq(r.suspects, 1);
	/* It is looked at again one ceiling later. */
	fdet_tick(&d, t + 5000 * MS);
	ck_assert_uint_eq(r.suspects, 2);
	fdet_free(&d);
}

static void stall_in_response(void)
{
	struct fdet d;
	struct rec r;
	struct fdet_config cfg;
	fdet_config_default(&cfg);
	init(&d, &r, &cfg);
	struct sockaddr_in a = be_addr(11, 80);
	fdet_conn_open(&d, 1, &a, 0);
	/* Transfers of 1 s: (b) timeout 1 s + 4 * dev, well above the floor. */
	uint64_t t = teach(&d, 1, "GET /big", 20, 0, 10 * MS, 1000 * MS);
	uint64_t tb;
	fdet_timeout_us(&d, 0, "GET /big", FDET_PHASE_XFER, &tb);
	ck_assert_uint_ge(tb, 1000 * MS);
	fdet_request_done(&d, 1, 5, "GET /big", t);
	fdet_response_first_byte(&d, 1, 5, t + 10 * MS);
	/* Bytes keep coming for 3 s (longer than tb): progress, not a stall. */
	uint64_t last = t + 10 * MS;
	for (int i = 0; i < 300; i++) {
		last += 10 * MS;
		fdet_response_progress(&d, 1, last);
		fdet_tick(&d, last);
	}
	ck_assert_uint_eq(r.suspects, 0);
	/* Then they stop. */
	fdet_timeout_us(&d, 0, "GET /big", FDET_PHASE_XFER, &tb);
	fdet_tick(&d, last + tb - 1);
	ck_assert_uint_eq(r.suspects, 0);
	fdet_tick(&d, last + tb);
	ck_assert_uint_eq(r.suspects, 1);
	fdet_tick(&d, last + tb + 300 * MS);
	ck_assert_uint_eq(r.failures, 1);
	ck_assert_int_eq(r.f.phase, FDET_PHASE_XFER);
	ck_assert_uint_eq(r.f.waiting_since, last);
	ck_assert_uint_eq(r.f.latency_us, tb + 300 * MS);
	fdet_free(&d);
}

static void pipelined_requests_wait_in_line(void)
{
	struct fdet d;
	struct rec r;
	struct fdet_config cfg;
	fdet_config_default(&cfg);
	init(&d, &r, &cfg);
	struct sockaddr_in a = be_addr(11, 80);
	fdet_conn_open(&d, 1, &a, 0);
	uint64_t t = teach(&d, 1, "GET /", 20, 0, 10 * MS, 10 * MS);
	/* Three requests at once; the first streams for 2 s with progress. */
	for (uint64_t x = 1; x <= 3; x++)
		ck_assert_int_eq(fdet_request_done(&d, 1, x, "GET /", t), 0);
	fdet_response_first_byte(&d, 1, 1, t + 10 * MS);
	uint64_t now = t + 10 * MS;
	for (int i = 0; i < 200; i++) {
		now += 10 * MS;
		fdet_response_progress(&d, 1, now);
		fdet_tick(&d, now);
	}
	ck_assert_uint_eq(r.suspects, 0); /* 2 and 3 are not late: they wait in line */
	fdet_response_done(&d, 1, 1, now);
	fdet_response_first_byte(&d, 1, 2, now + 10 * MS);
	fdet_response_done(&d, 1, 2, now + 20 * MS);
	/* 3 waits from now + 20 ms: overdue 200 ms later, not before. */
	fdet_tick(&d, now + 219 * MS);
	ck_assert_uint_eq(r.suspects, 0);
	fdet_tick(&d, now + 220 * MS);
	ck_assert_uint_eq(r.suspects, 1);
	fdet_free(&d);
}

START_TEST(idle_probes_and_recovery)
{
	struct fdet d;
	struct rec r;
	struct fdet_config cfg;
	fdet_config_default(&cfg);
	init(&d, &r, &cfg);
	struct sockaddr_in a = be_addr(12, 8080);
	ck_assert_int_eq(fdet_backend_add(&d, &a, 0), 0);
	ck_assert_int_eq(fdet_backend_add(&d, &a, 0), 0); /* idempotent */
	ck_assert_uint_eq(fdet_next_deadline(&d), 3000 * MS);
	fdet_tick(&d, 2999 * MS);
	ck_assert_uint_eq(r.probes, 0);
	fdet_tick(&d, 3000 * MS);
	ck_assert_uint_eq(r.probes, 1);
	ck_assert_int_eq(r.last_reason, FDET_PROBE_IDLE);
	fdet_tick(&d, 3001 * MS); /* one at a time */
	ck_assert_uint_eq(r.probes, 1);
	fdet_probe_result(&d, 0, true, 3002 * MS);
	fdet_tick(&d, 6001 * MS);
	ck_assert_uint_eq(r.probes, 1);
	fdet_tick(&d, 6002 * MS);
	ck_assert_uint_eq(r.probes, 2);
	/* First failure: retried after confirm (300 ms); second: FAILED. */
	fdet_probe_result(&d, 0, false, 6010 * MS);
	ck_assert_uint_eq(r.failures, 0);
	fdet_tick(&d, 6309 * MS);
	ck_assert_uint_eq(r.probes, 2);
	fdet_tick(&d, 6310 * MS);
	ck_assert_uint_eq(r.probes, 3);
	fdet_probe_result(&d, 0, false, 6320 * MS);
	ck_assert_uint_eq(r.failures, 1);
	ck_assert_int_eq(r.f.cause, FDET_CAUSE_IDLE_PROBE);
	ck_assert(!r.f.has_txn);
	ck_assert_uint_eq(r.f.latency_us, 0);
	/* Recovery: three good probes in a row, one idle period apart. */
	uint64_t t = 6320 * MS;
	for (int i = 0; i < 3; i++) {
		t += 3000 * MS;
		fdet_tick(&d, t);
		ck_assert_int_eq(r.last_reason, FDET_PROBE_RECOVER);
		fdet_probe_result(&d, 0, i != 1, t);
	}
	ck_assert_uint_eq(r.recoveries, 0); /* the middle one failed */
	for (int i = 0; i < 3; i++) {
		t += 3000 * MS;
		fdet_tick(&d, t);
		fdet_probe_result(&d, 0, true, t);
	}
	ck_assert_uint_eq(r.recoveries, 1);
	ck_assert_int_eq(fdet_backend_state(&d, 0), FDET_UP);
	fdet_probe_result(&d, 0, true, t + 2 * MS); /* nobody asked */
	ck_assert_uint_eq(d.c.probes_stale, 1);
	fdet_free(&d);
}
END_TEST

START_TEST(reset_by_backend)
{
	struct fdet d;
	struct rec r;
	struct fdet_config cfg;
	fdet_config_default(&cfg);
	init(&d, &r, &cfg);
	struct sockaddr_in a = be_addr(11, 80);
	fdet_conn_open(&d, 1, &a, 0);
	fdet_conn_open(&d, 2, &a, 0);
	fdet_request_done(&d, 1, 1, "GET /", 10 * MS);
	/* Closed by the backend with nothing outstanding: keep-alive timeout. */
	fdet_conn_close(&d, 2, true, 11 * MS);
	fdet_tick(&d, 12 * MS);
	ck_assert_uint_eq(r.probes, 0);
	/* With a request outstanding: suspicious; the probe decides. */
	fdet_conn_close(&d, 1, true, 20 * MS);
	fdet_tick(&d, 21 * MS);
	ck_assert_uint_eq(r.probes, 1);
	fdet_probe_result(&d, 0, true, 22 * MS);
	fdet_tick(&d, 400 * MS);
	ck_assert_uint_eq(r.failures, 0);
	ck_assert_uint_eq(r.cleared, 1);
	/* Again, and this time the port is closed. */
	fdet_conn_open(&d, 3, &a, 500 * MS);
	fdet_request_done(&d, 3, 1, "GET /", 510 * MS);
	fdet_conn_close(&d, 3, true, 520 * MS);
	fdet_tick(&d, 521 * MS);
	fdet_probe_result(&d, 0, false, 522 * MS);
	ck_assert_uint_eq(r.failures, 1);
	ck_assert_int_eq(r.f.cause, FDET_CAUSE_PROBE_FAILED);
	ck_assert_uint_eq(r.f.conns_open, 0);
	fdet_free(&d);
}
END_TEST

static void bounds_and_bad_events(void)
{
	struct fdet d;
	struct rec r;
	struct fdet_config cfg;
	fdet_config_default(&cfg);
	cfg.max_conns = 3;
	cfg.max_kinds = 3;
	cfg.max_backends = 2;
	init(&d, &r, &cfg);
	struct sockaddr_in a = be_addr(11, 80), b = be_addr(12, 80), c = be_addr(13, 80);
	ck_assert_int_eq(fdet_conn_open(&d, 1, &a, 0), 0);
	ck_assert_int_eq(fdet_conn_open(&d, 2, &b, 0), 0);
	ck_assert_int_eq(fdet_conn_open(&d, 3, &c, 0), -ENOSPC);
	ck_assert_uint_eq(d.c.backends_overflow, 1);
	ck_assert_int_eq(fdet_conn_open(&d, 3, &a, 0), 0);
	ck_assert_int_eq(fdet_conn_open(&d, 4, &a, 0), -ENOSPC);
	ck_assert_uint_eq(d.c.conns_overflow, 1);
	ck_assert_int_eq(fdet_conn_close(&d, 3, false, 0), 0);
	ck_assert_int_eq(fdet_conn_open(&d, 4, &a, 0), 0); /* the slot came back */
	ck_assert_int_eq(fdet_conn_close(&d, 99, false, 0), -ENOENT);
	ck_assert_int_eq(fdet_request_done(&d, 99, 1, "x", 0), -ENOENT);
	ck_assert_int_eq(fdet_response_progress(&d, 99, 0), -ENOENT);
	ck_assert_uint_eq(d.c.unknown_conn, 3);
	/* Kinds: "*", two named, then the overflow lands in "*". */
	teach(&d, 1, "A", 1, 0, MS, MS);
	teach(&d, 1, "B", 1, 10 * MS, MS, MS);
	teach(&d, 1, "C", 1, 20 * MS, MS, MS);
	ck_assert_uint_eq(d.c.kinds_overflow, 1);
	ck_assert_ptr_null(fdet_kind_ewma(&d, 0, "C", FDET_PHASE_WAIT));
	ck_assert_uint_eq(fdet_kind_ewma(&d, 0, "*", FDET_PHASE_WAIT)->samples, 1);
	/* Pipeline bound. */
	for (unsigned i = 0; i < FDET_PIPELINE_MAX; i++)
		ck_assert_int_eq(fdet_request_done(&d, 4, 100 + i, "A", 30 * MS), 0);
	ck_assert_int_eq(fdet_request_done(&d, 4, 999, "A", 30 * MS), -ENOSPC);
	ck_assert_uint_eq(d.c.pipeline_overflow, 1);
	/* A response that skips queued requests drops them (counted). */
	ck_assert_int_eq(fdet_response_done(&d, 4, 103, 40 * MS), 0);
	ck_assert_uint_eq(d.c.txn_mismatch, 3);
	ck_assert_int_eq(fdet_txn_end(&d, 4, 105, 41 * MS), 0);
	ck_assert_uint_eq(info(&d, 0).txns_outstanding, FDET_PIPELINE_MAX - 5);
	/* A response before its request completed: nothing to wait for. */
	ck_assert_int_eq(fdet_response_done(&d, 1, 500, 50 * MS), 0);
	ck_assert_uint_eq(d.c.early_responses, 1);
	ck_assert_int_eq(fdet_request_done(&d, 1, 500, "A", 51 * MS), 0);
	ck_assert_uint_eq(info(&d, 0).conns_waiting, 1); /* conn 4 only */
	/* Stats exist. */
	struct stats_report rep;
	stats_reset(&rep);
	fdet_collect_stats(&d, &rep, "detect");
	ck_assert_uint_eq(stats_get(&rep, "detect_kinds_overflow"), 1);
	ck_assert_uint_eq(stats_get(&rep, "detect_backends"), 2);
	ck_assert_uint_eq(stats_get(&rep, "detect_conns"), 3);
	ck_assert_uint_eq(rep.overflow, 0);
	fdet_free(&d);
}

static void kind_http(void)
{
	char k[FDET_KIND_NAME_MAX];
	fdet_kind_http("GET", "/static/css/a.css?v=1", k, sizeof(k));
	ck_assert_str_eq(k, "GET /static");
	fdet_kind_http("POST", "/login", k, sizeof(k));
	ck_assert_str_eq(k, "POST /login");
	fdet_kind_http("GET", "/", k, sizeof(k));
	ck_assert_str_eq(k, "GET /");
	fdet_kind_http("GET", "/?q=1", k, sizeof(k));
	ck_assert_str_eq(k, "GET /");
	fdet_kind_http("GET", "http://h.example:80/api/v1?x", k, sizeof(k));
	ck_assert_str_eq(k, "GET /api");
	fdet_kind_http("GET", "http://h.example", k, sizeof(k));
	ck_assert_str_eq(k, "GET /");
	fdet_kind_http("CONNECT", "h.example:443", k, sizeof(k));
	ck_assert_str_eq(k, "CONNECT ");
	fdet_kind_http(NULL, NULL, k, sizeof(k));
	ck_assert_str_eq(k, "? ");
	fdet_kind_http("GET", "/a-very-long-first-segment-that-does-not-fit", k, sizeof(k));
	ck_assert_uint_eq(strlen(k), sizeof(k) - 1);

	/* Names longer than FDET_KIND_NAME_MAX - 1 are cut, consistently. */
	struct fdet d;
	struct rec r;
	struct fdet_config cfg;
	fdet_config_default(&cfg);
	init(&d, &r, &cfg);
	struct sockaddr_in a = be_addr(11, 80);
	fdet_conn_open(&d, 1, &a, 0);
	char longname[100];
	memset(longname, 'q', sizeof(longname) - 1);
	longname[99] = 0;
	teach(&d, 1, longname, 2, 0, MS, MS);
	longname[50] = 0; /* same first 31 bytes: the same kind */
	ck_assert_uint_eq(fdet_kind_ewma(&d, 0, longname, FDET_PHASE_WAIT)->samples, 2);
	ck_assert_uint_eq(info(&d, 0).kinds, 2);
	fdet_free(&d);
}

/* Fewer, larger test functions: each one is a fork under Check, which
 * costs more than the checks themselves under ASan. */
START_TEST(estimator)
{
	ewma_math();
	timeout_clamps();
}
END_TEST

START_TEST(overdue_and_confirmation)
{
	overdue_confirm_timeout();
	overdue_probe_failed();
	overdue_cleared_by_answer();
	hung_request_on_answering_backend();
}
END_TEST

START_TEST(stall_and_pipeline)
{
	stall_in_response();
	pipelined_requests_wait_in_line();
}
END_TEST

START_TEST(bounds_and_kinds)
{
	bounds_and_bad_events();
	kind_http();
}
END_TEST

/* ---- synthetic workloads ------------------------------------------------ */

static uint64_t rng_state;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}
static uint64_t uniform(uint64_t lo, uint64_t hi)
{
	return lo + rnd() % (hi - lo + 1);
}

#define NCONN 8

struct simconn {
	int stage; /* 0 think, 1 waiting for first byte, 2 transferring */
	uint64_t txn, next, end;
};

struct sim {
	struct fdet d;
	struct rec r;
	struct simconn c[NCONN];
	uint64_t now, requests, frozen_at;
	bool frozen;
	uint64_t probe_due;
};

/* Advances the workload to `until`, event by event: the clock jumps to the
 * next thing due (a workload event, a detector deadline, a probe answer),
 * so the detector is ticked exactly at its deadlines. Probes are answered
 * "alive" 1 ms later (the kernel answers even when the application is
 * frozen). Returns at the first failure. */
static void sim_run(struct sim *s, uint64_t max_requests, uint64_t until)
{
	static const char *const kinds[] = {"GET /", "GET /api", "POST /api"};
	while (s->now < until && s->requests < max_requests && s->r.failures == 0) {
		uint64_t next = fdet_next_deadline(&s->d);
		for (unsigned i = 0; i < NCONN; i++)
			if (!(s->frozen && s->c[i].stage != 0) && s->c[i].next < next)
				next = s->c[i].next;
		if (s->r.probe_pending && s->probe_due < next)
			next = s->probe_due;
		s->now = next > s->now ? next : s->now;
		for (unsigned i = 0; i < NCONN; i++) {
			struct simconn *c = &s->c[i];
			while (c->next <= s->now) {
				if (c->stage == 0) {
					c->txn++;
					s->requests++;
					fdet_request_done(&s->d, i, c->txn, kinds[c->txn % 3],
							  c->next);
					c->stage = 1;
					c->next += uniform(10 * MS, 100 * MS);
				} else if (s->frozen) {
					break;
				} else if (c->stage == 1) {
					fdet_response_first_byte(&s->d, i, c->txn, c->next);
					c->stage = 2;
					c->end = c->next + uniform(0, 10 * MS);
					c->next += 2 * MS;
				} else if (c->next < c->end) {
					fdet_response_progress(&s->d, i, c->next);
					c->next += 2 * MS;
				} else {
					fdet_response_done(&s->d, i, c->txn, c->end);
					c->stage = 0;
					c->next = c->end + uniform(0, 5 * MS);
				}
			}
		}
		if (s->r.probe_pending && s->now >= s->probe_due) {
			s->r.probe_pending = false;
			fdet_probe_result(&s->d, 0, true, s->now);
		}
		unsigned before = s->r.probes;
		fdet_tick(&s->d, s->now);
		if (s->r.probes != before)
			s->probe_due = s->now + 1 * MS;
	}
}

static void sim_init(struct sim *s, struct fdet_config *cfg)
{
	memset(s, 0, sizeof(*s));
	rng_state = 0x9E3779B97F4A7C15ull;
	init(&s->d, &s->r, cfg);
	struct sockaddr_in a = be_addr(11, 80);
	for (unsigned i = 0; i < NCONN; i++) {
		ck_assert_int_eq(fdet_conn_open(&s->d, i, &a, 0), 0);
		s->c[i].next = uniform(0, 5 * MS);
	}
}

START_TEST(variance_10x_no_false_failure)
{
	static struct sim s;
	struct fdet_config cfg;
	fdet_config_default(&cfg);
	sim_init(&s, &cfg);
	sim_run(&s, 20000, UINT64_MAX);
	ck_assert_uint_eq(s.requests, 20000);
	ck_assert_uint_eq(s.r.failures, 0);
	ck_assert_uint_eq(s.d.c.suspicions, 0);
	uint64_t to;
	fdet_timeout_us(&s.d, 0, "GET /api", FDET_PHASE_WAIT, &to);
	const struct fdet_ewma *e = fdet_kind_ewma(&s.d, 0, "GET /api", FDET_PHASE_WAIT);
	fprintf(stderr,
		"failure_detect: 2e4 requests 10..100 ms, floor 200 ms: failures=%u "
		"suspicions=%llu (mean %llu us, dev %llu us, timeout %llu us)\n",
		s.r.failures, (unsigned long long)s.d.c.suspicions,
		(unsigned long long)fdet_ewma_mean_us(e), (unsigned long long)fdet_ewma_dev_us(e),
		(unsigned long long)to);
	fdet_free(&s.d);

	/* Floor out of the way: the adaptive deviation alone, then the
	 * confirmation, must keep 10^5 requests at zero failures. */
	cfg.floor_ms = 1;
	sim_init(&s, &cfg);
	sim_run(&s, 100000, UINT64_MAX);
	ck_assert_uint_eq(s.requests, 100000);
	ck_assert_uint_eq(s.r.failures, 0);
	ck_assert_uint_eq(s.d.c.suspicions, s.d.c.cleared);
	ck_assert_uint_lt(s.d.c.suspicions, 1000); /* < 1% of requests even then */
	fprintf(stderr,
		"failure_detect: 1e5 requests 10..100 ms, floor 1 ms: failures=%u "
		"suspicions=%llu (all cleared by the confirmation)\n",
		s.r.failures, (unsigned long long)s.d.c.suspicions);
	fdet_free(&s.d);
}
END_TEST

START_TEST(frozen_backend_detected)
{
	static struct sim s;
	struct fdet_config cfg;
	fdet_config_default(&cfg);
	cfg.floor_ms = 1; /* the learned timeout, not the floor, decides */
	uint64_t worst = 0, sum = 0;
	const int runs = 20;
	for (int run = 0; run < runs; run++) {
		sim_init(&s, &cfg);
		rng_state += (uint64_t)run * 7919;
		sim_run(&s, 1000 + (uint64_t)run * 50, UINT64_MAX);
		/* Bound on every outstanding request: its wait start plus the
		 * timeout it was given (the largest over the kinds now). */
		uint64_t max_to = 0, to;
		const char *kinds[] = {"GET /", "GET /api", "POST /api"};
		for (int k = 0; k < 3; k++) {
			fdet_timeout_us(&s.d, 0, kinds[k], FDET_PHASE_WAIT, &to);
			max_to = to > max_to ? to : max_to;
			fdet_timeout_us(&s.d, 0, kinds[k], FDET_PHASE_XFER, &to);
			max_to = to > max_to ? to : max_to;
		}
		s.frozen = true;
		s.frozen_at = s.now;
		s.r.failures = 0;
		s.r.cleared = 0;
		sim_run(&s, UINT64_MAX, s.now + 10000 * MS);
		ck_assert_uint_eq(s.r.failures, 1);
		ck_assert_int_eq(s.r.f.cause, FDET_CAUSE_CONFIRM_TIMEOUT);
		ck_assert(s.r.f.has_txn);
		/* The report's own figures: waited its timeout, the confirm
		 * window and at most one tick. */
		ck_assert_uint_le(s.r.f.latency_us, s.r.f.timeout_us + 300 * MS);
		ck_assert_uint_ge(s.r.f.latency_us, s.r.f.timeout_us);
		uint64_t after_freeze = s.r.failed_at - s.frozen_at;
		ck_assert_uint_le(after_freeze, max_to + 300 * MS);
		worst = after_freeze > worst ? after_freeze : worst;
		sum += after_freeze;
		fdet_free(&s.d);
	}
	fprintf(stderr,
		"failure_detect: frozen backend (10..100 ms workload, confirm 300 ms): detected "
		"%llu ms after the freeze on average, worst %llu ms (%d runs)\n",
		(unsigned long long)(sum / runs / MS), (unsigned long long)(worst / MS), runs);
}
END_TEST

/* A frozen backend resumes: the answer that waited through the outage
 * arrives while the backend is still FAILED and must not be learnt (it
 * would stretch the next failure's timeout). */
START_TEST(no_learning_while_failed)
{
	struct fdet d;
	struct rec r;
	struct fdet_config cfg;
	fdet_config_default(&cfg);
	cfg.min_samples = 4;
	init(&d, &r, &cfg);
	struct sockaddr_in a = be_addr(11, 80);
	ck_assert_int_eq(fdet_conn_open(&d, 1, &a, 0), 0);
	uint64_t t = teach(&d, 1, "GET /x", 8, 0, 10 * MS, 1 * MS);
	uint64_t before, after;
	ck_assert_int_eq(fdet_timeout_us(&d, 0, "GET /x", FDET_PHASE_WAIT, &before), 0);
	ck_assert_int_eq(fdet_request_done(&d, 1, 1, "GET /x", t), 0);
	for (uint64_t now = t; now < t + 2000 * MS && !r.failures; now += 10 * MS)
		fdet_tick(&d, now);
	ck_assert_uint_eq(r.failures, 1);
	ck_assert_int_eq(fdet_backend_state(&d, 0), FDET_FAILED);
	uint64_t samples = d.c.samples_wait;
	ck_assert_int_eq(fdet_response_first_byte(&d, 1, 1, t + 3000 * MS), 0);
	ck_assert_int_eq(fdet_response_done(&d, 1, 1, t + 3001 * MS), 0);
	ck_assert_uint_eq(d.c.samples_wait, samples);
	ck_assert_uint_eq(d.c.samples_skipped, 2); /* the wait and the transfer */
	ck_assert_int_eq(fdet_timeout_us(&d, 0, "GET /x", FDET_PHASE_WAIT, &after), 0);
	ck_assert_uint_eq(after, before);
	fdet_free(&d);
}
END_TEST

/* A client that stops reading closes its window: the backend's silence is
 * not timed until the window opens, then the transfer clock starts again. */
START_TEST(client_window_pauses_the_clock)
{
	struct fdet d;
	struct rec r;
	struct fdet_config cfg;
	fdet_config_default(&cfg);
	init(&d, &r, &cfg);
	struct sockaddr_in a = be_addr(11, 80);
	ck_assert_int_eq(fdet_conn_open(&d, 1, &a, 0), 0);
	uint64_t t = teach(&d, 1, "GET /big", 20, 0, 10 * MS, 100 * MS);
	uint64_t tb;
	ck_assert_int_eq(fdet_timeout_us(&d, 0, "GET /big", FDET_PHASE_XFER, &tb), 0);
	ck_assert_int_eq(fdet_request_done(&d, 1, 7, "GET /big", t), 0);
	ck_assert_int_eq(fdet_response_first_byte(&d, 1, 7, t + 10 * MS), 0);
	uint64_t closed = t + 20 * MS;
	ck_assert_int_eq(fdet_client_window(&d, 1, true, closed), 0);
	ck_assert_int_eq(fdet_client_window(&d, 1, true, closed + MS), 0); /* no change */
	for (uint64_t now = closed; now < closed + 20 * tb; now += 10 * MS)
		fdet_tick(&d, now);
	ck_assert_uint_eq(r.suspects, 0);
	ck_assert_uint_eq(d.c.client_paused, 1);
	uint64_t open = closed + 20 * tb;
	ck_assert_int_eq(fdet_client_window(&d, 1, false, open), 0);
	fdet_tick(&d, open + tb - 1);
	ck_assert_uint_eq(r.suspects, 0);
	fdet_tick(&d, open + tb);
	ck_assert_uint_eq(r.suspects, 1); /* a real stall after the window opened */
	ck_assert_int_eq(fdet_client_window(&d, 99, true, open), -ENOENT);
	fdet_free(&d);
}
END_TEST

Suite *failure_detect_suite(void);
Suite *failure_detect_suite(void)
{
	Suite *s = suite_create("failure_detect");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, estimator);
	tcase_add_test(tc, overdue_and_confirmation);
	tcase_add_test(tc, stall_and_pipeline);
	tcase_add_test(tc, idle_probes_and_recovery);
	tcase_add_test(tc, reset_by_backend);
	tcase_add_test(tc, bounds_and_kinds);
	tcase_add_test(tc, variance_10x_no_false_failure);
	tcase_add_test(tc, frozen_backend_detected);
	tcase_add_test(tc, no_learning_while_failed);
	tcase_add_test(tc, client_window_pauses_the_clock);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
