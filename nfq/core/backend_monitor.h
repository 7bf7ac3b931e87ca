/* backend_monitor - the failure detector (failure_detect.h) wired to real
 * liveness probes (liveness_probe.h) and a tick in the daemon's event loop,
 * turning its verdicts into what the rest of the system consumes: a
 * BACKEND_FAILED / BACKEND_RECOVERED control message (ctl_msg.h) and a
 * failover_events row (store_stmt.h, detection part).
 *
 * Why a separate module: failure_detect stays a pure function of the
 * events and times it is given (unit-testable on a simulated clock); this
 * is the only place that reads clocks, owns sockets and timers, and
 * converts the detector's monotonic times into the wall-clock times the
 * messages and the database carry (wall = now_wall - now_mono + t).
 *
 * Use (logger daemon):
 *   bmon_init(&m, loop, &cfg, &ops, ctx);     ops: failed / recovered
 *   txn_log observer -> fdet_*(bmon_detector(&m), ..., monotonic_us())
 *   ops.failed(ctx, f, msg): ctl_channel_broadcast(ch, msg);
 *                            bmon_failover_row(&msg->u.failed, &row, ...);
 *                            store_submit(store, &row);
 *   ops.recovered(ctx, msg): ctl_channel_broadcast(ch, msg);
 * Event ids start at the wall clock (µs) of bmon_init and count up, so
 * they stay unique across restarts. Probe cookies are backend indexes. */
#ifndef CRAFT_BACKEND_MONITOR_H
#define CRAFT_BACKEND_MONITOR_H

#include <stdint.h>

#include "ctl_msg.h"
#include "failure_detect.h"
#include "liveness_probe.h"

struct event_loop;
struct stats_report;
struct store_row;

struct bmon_config {
	struct fdet_config detect;
	struct lprobe_config probe;
	uint64_t tick_ms; /* detector tick (10ms): detection is late by at most this */
};

/* Section "detect" (failure_detect.h keys plus "tick") and "probe". */
extern const struct config_key bmon_tick_config_keys[];
void bmon_config_default(struct bmon_config *cfg);

struct bmon_ops {
	/* msg: the BACKEND_FAILED message, times already wall clock. */
	void (*failed)(void *arg, const struct fdet_failure *f, const struct ctl_msg *msg);
	void (*recovered)(void *arg, const struct ctl_msg *msg);
	/* Optional: every probe outcome (logs, tests). */
	void (*probed)(void *arg, unsigned backend, int result, uint64_t rtt_us);
};

struct backend_monitor {
	struct fdet det;
	struct lprobe_pool probes;
	struct event_loop *loop;
	struct bmon_ops ops;
	void *arg;
	int tick_fd;
	uint64_t next_event_id;
	uint64_t probe_errors; /* probes that could not be started */
};

/* 0 or -errno (-EINVAL bad config). */
int bmon_init(struct backend_monitor *m, struct event_loop *loop, const struct bmon_config *cfg,
	      const struct bmon_ops *ops, void *arg);
void bmon_free(struct backend_monitor *m);

static inline struct fdet *bmon_detector(struct backend_monitor *m)
{
	return &m->det;
}

/* Wall-clock µs of a detector (monotonic) time. */
uint64_t bmon_wall_us(uint64_t mono_us);

/* The detection part of a failover_events row for f: conn_id NULL (the
 * event is backend-wide), backend "a.b.c.d:port", detected_us, outcome
 * "detected", detail "event=.. cause=.. latency_us=.. oldest_txn=..
 * oldest_conn=.. conns_affected=.. conns_waiting=.. txns_outstanding=..";
 * recovery columns NULL for recovery to fill. The row points into
 * backend_buf and detail_buf (64 and 256 bytes are enough). */
void bmon_failover_row(const struct ctl_backend_failed *f, struct store_row *row, char *backend_buf,
		       size_t backend_len, char *detail_buf, size_t detail_len);

void bmon_collect_stats(const struct backend_monitor *m, struct stats_report *r,
			const char *prefix);

#endif
