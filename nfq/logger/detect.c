/* detect - see detect.h. */
#include "detect.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "stats.h"

/* A packet's wall-clock time on the detector's monotonic clock. */
static uint64_t mono_of(uint64_t wall_us)
{
	uint64_t wall = realtime_us(), mono = monotonic_us();
	uint64_t age = wall > wall_us ? wall - wall_us : 0;
	return age < mono ? mono - age : 0;
}

static void count(struct logger_detect *det, int rc)
{
	if (rc < 0)
		det->c.events_refused++;
}

/* The detector, or NULL once detection stopped (the pipeline still
 * closes its connections at shutdown, after the event loop is gone). */
static struct fdet *live(void *ctx)
{
	struct logger_detect *det = ctx;
	return det->running ? bmon_detector(&det->mon) : NULL;
}

static void on_conn_open(void *ctx, const struct txn_log_conn *c)
{
	struct fdet *d = live(ctx);
	if (!d)
		return;
	struct sockaddr_in a = {
	    .sin_family = AF_INET, .sin_addr.s_addr = htonl(c->saddr), .sin_port = htons(c->sport)};
	count(ctx, fdet_conn_open(d, (uint64_t)c->conn_id, &a, mono_of(c->open_us)));
}

static void on_conn_close(void *ctx, const struct txn_log_conn *c)
{
	struct fdet *d = live(ctx);
	if (!d)
		return;
	uint64_t t = c->close_us ? c->close_us : c->last_us;
	count(ctx, fdet_conn_close(d, (uint64_t)c->conn_id, c->closed_by_server, mono_of(t)));
}

static void on_request_done(void *ctx, const struct txn_log_conn *c, const struct txn_log_txn *t,
			    uint64_t t_us)
{
	struct fdet *d = live(ctx);
	if (!d)
		return;
	char kind[FDET_KIND_NAME_MAX];
	if (t->head_known && t->method[0])
		fdet_kind_http(t->method, t->target, kind, sizeof(kind));
	else
		snprintf(kind, sizeof(kind), "*"); /* line protocols, heads never seen */
	count(ctx, fdet_request_done(d, (uint64_t)c->conn_id, t->txn_id, kind, mono_of(t_us)));
}

static void on_first_byte(void *ctx, const struct txn_log_conn *c, const struct txn_log_txn *t,
			  uint64_t t_us)
{
	struct fdet *d = live(ctx);
	if (!d)
		return;
	count(ctx, fdet_response_first_byte(d, (uint64_t)c->conn_id, t->txn_id, mono_of(t_us)));
}

static void on_progress(void *ctx, const struct txn_log_conn *c, const struct txn_log_txn *t,
			uint64_t t_us)
{
	struct fdet *d = live(ctx);
	if (!d)
		return;
	(void)t;
	count(ctx, fdet_response_progress(d, (uint64_t)c->conn_id, mono_of(t_us)));
}

static void on_client_window(void *ctx, const struct txn_log_conn *c, uint64_t t_us)
{
	struct fdet *d = live(ctx);
	if (!d)
		return;
	count(ctx,
	      fdet_client_window(d, (uint64_t)c->conn_id, c->client_window_closed, mono_of(t_us)));
}

static void on_response_done(void *ctx, const struct txn_log_conn *c, const struct txn_log_txn *t,
			     uint64_t t_us)
{
	struct fdet *d = live(ctx);
	if (!d)
		return;
	count(ctx, fdet_response_done(d, (uint64_t)c->conn_id, t->txn_id, mono_of(t_us)));
}

static void on_txn_end(void *ctx, const struct txn_log_conn *c, const struct txn_log_txn *t)
{
	struct fdet *d = live(ctx);
	if (!d)
		return;
	if (t->resp_done)
		return; /* the response_done event told the detector */
	/* A transaction that never got a request end was never outstanding. */
	if (!t->req_done)
		return;
	count(ctx, fdet_txn_end(d, (uint64_t)c->conn_id, t->txn_id, mono_of(c->last_us)));
}

static void on_failed(void *arg, const struct fdet_failure *f, const struct ctl_msg *msg)
{
	struct logger_detect *det = arg;
	char line[512];
	det->c.failed++;
	ctl_msg_format(msg, line, sizeof(line));
	log_warn("%s", line);
	if (det->ctl)
		control_announce(det->ctl, msg);
	(void)f;
	if (!det->st)
		return;
	struct store_row row;
	char backend[64], detail[256];
	bmon_failover_row(&msg->u.failed, &row, backend, sizeof(backend), detail, sizeof(detail));
	if (det->crash_declaring) {
		size_t n = strlen(detail);
		snprintf(detail + n, sizeof(detail) - n, " trigger=close");
		row.vals[17] = STORE_TEXT(detail); /* the value holds its length */
	}
	if (store_submit(det->st, &row) < 0)
		det->c.failover_rows_dropped++;
	else
		det->c.failover_rows++;
}

static void on_recovered(void *arg, const struct ctl_msg *msg)
{
	struct logger_detect *det = arg;
	char line[512];
	det->c.recovered++;
	ctl_msg_format(msg, line, sizeof(line));
	log_notice("%s", line);
	if (det->ctl)
		control_announce(det->ctl, msg);
}

int detect_start(struct logger_detect *det, const struct bmon_config *cfg, struct event_loop *loop,
		 struct txn_log *tl, struct logger_control *ctl, struct store *st, char *err,
		 size_t errlen)
{
	memset(det, 0, sizeof(*det));
	det->ctl = ctl;
	det->st = st;
	if (fdet_config_check(&cfg->detect, err, errlen) < 0)
		return -EINVAL;
	static const struct bmon_ops ops = {.failed = on_failed, .recovered = on_recovered};
	int rc = bmon_init(&det->mon, loop, cfg, &ops, det);
	if (rc < 0) {
		snprintf(err, errlen, "failure detection: %s", strerror(-rc));
		return rc;
	}
	det->running = true;
	const struct txn_log_observer o = {
	    .conn_open = on_conn_open,
	    .conn_close = on_conn_close,
	    .txn_request_done = on_request_done,
	    .txn_response_first_byte = on_first_byte,
	    .txn_response_progress = on_progress,
	    .txn_response_done = on_response_done,
	    .txn_end = on_txn_end,
	    .client_window = on_client_window,
	    .ctx = det,
	};
	rc = txn_log_add_observer(tl, &o);
	if (rc < 0) {
		snprintf(err, errlen, "failure detection: too many pipeline observers");
		detect_stop(det);
		return rc;
	}
	return 0;
}

int detect_backend_crashed(struct logger_detect *det, uint32_t ip, uint16_t port,
			   uint64_t since_mono, uint64_t now_mono)
{
	if (!det->running)
		return -ENODEV;
	struct sockaddr_in a = {
	    .sin_family = AF_INET, .sin_addr.s_addr = htonl(ip), .sin_port = htons(port)};
	det->crash_declaring = true;
	int rc = fdet_backend_crashed(bmon_detector(&det->mon), &a, since_mono, now_mono);
	det->crash_declaring = false;
	return rc;
}

void detect_stop(struct logger_detect *det)
{
	if (det->running)
		bmon_free(&det->mon);
	det->running = false;
}

void detect_collect_stats(const struct logger_detect *det, struct stats_report *r)
{
	if (!det->running)
		return;
	bmon_collect_stats(&det->mon, r, "detect");
	stats_add(r, "detect", "events_refused", det->c.events_refused);
	stats_add(r, "detect", "failover_rows", det->c.failover_rows);
	stats_add(r, "detect", "failover_rows_dropped", det->c.failover_rows_dropped);
}
