/* logger - see logger.h. */
#include "logger.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define DAEMON_NAME "craft-logger"
/* Bytes processed per wake-up: at least this, and at least what arrived
 * since the last wake-up, so the log keeps pace with the queue. When the
 * log cannot keep up, the next receive round waits for it; the kernel
 * queue (fail-open) then lets packets pass unlogged rather than slowing
 * traffic without bound (kernel_queue_dropped counts them). */
#define DRAIN_BYTES (256u << 10)

const char *const logger_mode_names[] = {"auto", "passthrough", "log", NULL};

void logger_config_defaults(struct logger_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mode = LOGGER_MODE_AUTO;
	cfg->backlog_bytes = 32u << 20;
	cfg->expire_interval_ms = 1000;
	cfg->counters_interval_ms = 10000;
	txn_log_config_defaults(&cfg->log);
	store_config_defaults(&cfg->store);
	bmon_config_default(&cfg->bmon);
	control_config_defaults(&cfg->control);
	logged_config_defaults(&cfg->logged);
	crash_guard_config_defaults(&cfg->crash);
}

static int64_t next_conn_id(void *arg)
{
	return store_next_conn_id(arg);
}

int logger_init(struct logger *lg, const struct logger_config *cfg)
{
	char err[512] = "";
	memset(lg, 0, sizeof(*lg));
	lg->cfg = cfg;
	lg->efd = -1;
	lg->ln.fd = -1; /* logger_finish may run before logged_start */
	int rc = txn_log_create(&lg->tl, &cfg->log, err, sizeof(err));
	if (rc < 0) {
		log_err("logger configuration: %s", err);
		return 2;
	}
	if (cfg->detect && fdet_config_check(&cfg->bmon.detect, err, sizeof(err)) < 0) {
		log_err("[detect]: %s", err);
		return 2;
	}
	struct crash_guard_config guard = cfg->crash;
	guard.enabled = guard.enabled && cfg->detect; /* it declares through the detector */
	if (crash_guard_init(&lg->cg, &guard, &cfg->log, lg->tl) < 0) {
		log_err("out of memory");
		return 1;
	}
	rc = pkt_backlog_init(&lg->backlog, cfg->backlog_bytes);
	if (rc < 0) {
		log_errnum(LOG_ERR, -rc, "backlog of %llu bytes",
			   (unsigned long long)cfg->backlog_bytes);
		return rc == -EINVAL ? 2 : 1;
	}
	if (cfg->db[0]) {
		rc = store_open(&lg->st, cfg->db, &cfg->store, err, sizeof(err));
		if (rc < 0) {
			log_err("database %s: %s", cfg->db, err);
			return rc == -EINVAL ? 2 : 1;
		}
		txn_log_set_conn_ids(lg->tl, next_conn_id, lg->st);
		if (txn_log_store_init(&lg->obs, lg->st, lg->tl, cfg->store.max_value_bytes) < 0) {
			log_err("out of memory");
			return 1;
		}
		lg->obs_ready = true;
		struct txn_log_observer o = txn_log_store_observer(&lg->obs);
		txn_log_add_observer(lg->tl, &o);
	}
	rc = logged_start(&lg->ln, &cfg->logged, lg->tl, err, sizeof(err));
	if (rc < 0) {
		log_err("%s", err);
		return rc == -EINVAL ? 2 : 1;
	}
	log_notice("logging transactions%s%s: %u service port(s), %u tag rule file%s, "
		   "byte budget %llu, messages over %llu bytes hashed",
		   cfg->db[0] ? " into " : " (no database)", cfg->db, cfg->log.n_services,
		   cfg->log.tags_file[0] ? 1 : 0, cfg->log.tags_file[0] ? "" : "s (default tags)",
		   (unsigned long long)cfg->log.byte_budget,
		   (unsigned long long)cfg->log.max_kept_message);
	return 0;
}

/* Every item of r as a COUNTER row (daemon name, item, value). */
static void logger_store_counters(struct logger *lg, const struct stats_report *r)
{
	uint64_t now = realtime_us();
	for (unsigned i = 0; i < r->count; i++) {
		struct store_row row = {.stmt = STORE_COUNTER, .nvals = 4};
		row.vals[0] = STORE_TEXT(DAEMON_NAME);
		row.vals[1] = STORE_TEXT(r->items[i].name);
		row.vals[2] = STORE_INT((int64_t)r->items[i].value);
		row.vals[3] = STORE_INT(now);
		if (store_submit(lg->st, &row) < 0)
			lg->counter_rows_dropped++;
	}
}

static void drain(struct logger *lg, uint64_t max_bytes)
{
	struct pkt_backlog_pkt p;
	uint64_t done = 0;
	while (done < max_bytes && pkt_backlog_pop(&lg->backlog, &p)) {
		uint64_t seq = ++lg->popped_seq;
		if (crash_guard_owns(&lg->cg, seq))
			crash_guard_feed(&lg->cg, seq, &p);
		else
			txn_log_packet(lg->tl, p.data, p.len, p.wire_len, p.ts_us);
		done += p.len;
	}
	crash_guard_flush(&lg->cg);
	lg->drains++;
}

static void wake(struct logger *lg)
{
	uint64_t one = 1;
	if (lg->efd >= 0 && write(lg->efd, &one, sizeof(one)) != sizeof(one))
		lg->wake_errors++;
}

static void on_wake(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop;
	(void)events;
	struct logger *lg = arg;
	uint64_t v;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		lg->wake_errors++;
	uint64_t budget = lg->arrived > DRAIN_BYTES ? lg->arrived : DRAIN_BYTES;
	lg->arrived = 0;
	drain(lg, budget);
	if (!pkt_backlog_empty(&lg->backlog))
		wake(lg); /* more next round, after the queue had its turn */
}

static void write_counters(struct logger *lg)
{
	struct stats_report *r = malloc(sizeof(*r));
	if (!r)
		return;
	stats_reset(r);
	logger_collect_stats(lg, r);
	logger_store_counters(lg, r);
	free(r);
}

static void on_timer(struct event_loop *loop, uint64_t expirations, void *arg)
{
	(void)loop;
	(void)expirations;
	struct logger *lg = arg;
	/* Time for the log is the packets' time: while copies still wait in
	 * the backlog, expire only up to the last packet processed, so that a
	 * connection is never timed out ahead of its own queued segments. */
	uint64_t now = realtime_us();
	txn_log_expire(lg->tl, pkt_backlog_empty(&lg->backlog) ? now : txn_log_now_us(lg->tl));
	if (lg->obs_ready && lg->cfg->counters_interval_ms &&
	    now - lg->last_counters_us >= lg->cfg->counters_interval_ms * 1000) {
		lg->last_counters_us = now;
		write_counters(lg);
	}
}

int logger_attach(struct logger *lg, struct event_loop *loop)
{
	lg->loop = loop;
	lg->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (lg->efd < 0) {
		log_errno(LOG_ERR, "eventfd");
		return 1;
	}
	int rc = event_loop_add_fd(loop, lg->efd, EPOLLIN, on_wake, lg);
	if (rc >= 0)
		rc =
		    event_loop_add_timer(loop, (uint32_t)lg->cfg->expire_interval_ms, on_timer, lg);
	if (rc < 0) {
		log_errnum(LOG_ERR, -rc, "logger event sources");
		return 1;
	}
	lg->last_counters_us = realtime_us();
	char err[512] = "";
	if (control_configured(&lg->cfg->control)) {
		rc = control_open(&lg->ctl, &lg->cfg->control, loop, lg->tl, err, sizeof(err));
		if (rc < 0) {
			log_err("control channel: %s", err);
			return rc == -EINVAL ? 2 : 1;
		}
	}
	if (lg->cfg->detect) {
		rc = detect_start(&lg->det, &lg->cfg->bmon, loop, lg->tl,
				  lg->ctl.open ? &lg->ctl : NULL, lg->st, err, sizeof(err));
		if (rc < 0) {
			log_err("%s", err);
			return rc == -EINVAL ? 2 : 1;
		}
		log_notice("failure detection on: k=%u floor=%llums ceiling=%llums confirm=%llums "
			   "idle probe every %llums",
			   lg->cfg->bmon.detect.k,
			   (unsigned long long)lg->cfg->bmon.detect.floor_ms,
			   (unsigned long long)lg->cfg->bmon.detect.ceiling_ms,
			   (unsigned long long)lg->cfg->bmon.detect.confirm_ms,
			   (unsigned long long)lg->cfg->bmon.detect.idle_probe_ms);
		rc = crash_guard_attach(&lg->cg, loop, &lg->cfg->bmon.probe, &lg->det);
		if (rc < 0) {
			log_errnum(LOG_ERR, -rc, "crash guard probes");
			return rc == -EINVAL ? 2 : 1;
		}
		if (lg->cg.on)
			log_notice("crash guard on: backend FIN/RST the protocol does not explain "
				   "wait for a probe (at most %u held)",
				   lg->cfg->crash.max_held);
	}
	return 0;
}

static void collect_attached(struct logger *lg, struct stats_report *r)
{
	if (lg->det.running || lg->ctl.open) {
		detect_collect_stats(&lg->det, r);
		control_collect_stats(&lg->ctl, r);
		return;
	}
	for (unsigned i = 0; lg->detached && i < lg->detached->count; i++)
		stats_add(r, NULL, lg->detached->items[i].name, lg->detached->items[i].value);
}

void logger_detach(struct logger *lg)
{
	if (!lg->det.running && !lg->ctl.open)
		return;
	lg->detached = malloc(sizeof(*lg->detached));
	if (lg->detached) {
		stats_reset(lg->detached);
		collect_attached(lg, lg->detached);
	}
	crash_guard_detach(&lg->cg); /* its probes go with the loop; held packets stay */
	detect_stop(&lg->det);
	control_close(&lg->ctl);
}

void logger_packet(struct logger *lg, struct nfq_engine *engine, const struct nfq_packet *pkt,
		   const struct tcp4_view *tv, struct nfq_verdict *v)
{
	enum crash_guard_check g = crash_guard_check(&lg->cg, tv);
	if (g == CG_DROP) {
		v->decision = NFQ_DECIDE_DROP; /* never reached the client: not logged */
		return;
	}
	uint64_t ts = realtime_us();
	int rc = pkt_backlog_push(&lg->backlog, pkt->data, pkt->len, pkt->orig_len, ts);
	if (rc >= 0) {
		lg->arrived += pkt->len;
		lg->pushed_seq++;
	}
	if (g == CG_HOLD) {
		if (rc < 0)
			crash_guard_unlogged(&lg->cg);
		else if (crash_guard_hold(&lg->cg, engine, pkt, tv, lg->pushed_seq, ts))
			v->decision = NFQ_DECIDE_HOLD;
	}
	if (rc == 1)
		wake(lg);
}

void logger_release(struct logger *lg, struct nfq_engine *engine)
{
	crash_guard_release(&lg->cg, engine);
}

int logger_finish(struct logger *lg)
{
	int rc = 0;
	if (lg->tl) {
		drain(lg, UINT64_MAX);
		txn_log_finish(lg->tl); /* every connection ends: its rows are queued */
		logged_stop(&lg->ln);
		if (lg->obs_ready) {
			txn_log_store_free(&lg->obs); /* writes what was still pending */
			lg->obs_ready = false;
		}
		if (lg->st && store_flush(lg->st, 10000) < 0)
			log_warn("database %s: flush timed out", lg->cfg->db);
		struct stats_report *r = malloc(sizeof(*r));
		if (r) {
			stats_reset(r);
			logger_collect_stats(lg, r);
			if (lg->st)
				logger_store_counters(lg, r);
		}
		if (lg->st && store_close(lg->st) < 0) {
			log_err("database %s: rows were lost (see store_failed_rows)", lg->cfg->db);
			rc = 1;
		}
		lg->st = NULL;
		txn_log_destroy(lg->tl);
		lg->tl = NULL;
		lg->final = r;
	}
	if (lg->efd >= 0) {
		close(lg->efd);
		lg->efd = -1;
	}
	pkt_backlog_free(&lg->backlog);
	crash_guard_free(&lg->cg);
	free(lg->detached);
	lg->detached = NULL;
	return rc;
}

void logger_collect_stats(struct logger *lg, struct stats_report *r)
{
	if (!lg->tl) {
		/* lg->final was collected with everything below included. */
		for (unsigned i = 0; lg->final && i < lg->final->count; i++)
			stats_add(r, NULL, lg->final->items[i].name, lg->final->items[i].value);
		return;
	}
	pkt_backlog_collect_stats(&lg->backlog, r, "backlog");
	txn_log_collect_stats(lg->tl, r, "log");
	collect_attached(lg, r);
	crash_guard_collect_stats(&lg->cg, r);
	logged_collect_stats(&lg->ln, r);
	if (lg->cfg->db[0]) /* its counters outlive txn_log_store_free */
		txn_log_store_collect_stats(&lg->obs, r, "db");
	if (lg->st) {
		struct store_counters s = store_get_counters(lg->st);
		stats_add(r, "store", "committed", s.committed);
		stats_add(r, "store", "dropped_full", s.dropped_full);
		stats_add(r, "store", "rejected", s.rejected);
		stats_add(r, "store", "row_errors", s.row_errors);
		stats_add(r, "store", "failed_rows", s.failed_rows);
		stats_add(r, "store", "queued", s.queued);
		stats_add(r, "store", "queued_max", s.queued_max);
	}
}
