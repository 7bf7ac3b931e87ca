/* backend_monitor - see backend_monitor.h: detector + probes + tick, and
 * the translation of verdicts into messages and rows. */
#include "backend_monitor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "event_loop.h"
#include "stats.h"
#include "store.h"

const struct config_key bmon_tick_config_keys[] = {
    CONFIG_DURATION_MS("detect", "tick", struct bmon_config, tick_ms, 1, 1000),
    {0},
};

void bmon_config_default(struct bmon_config *cfg)
{
	fdet_config_default(&cfg->detect);
	lprobe_config_default(&cfg->probe);
	cfg->tick_ms = 10;
}

uint64_t bmon_wall_us(uint64_t mono_us)
{
	uint64_t wall = realtime_us(), mono = monotonic_us();
	return mono_us <= mono ? wall - (mono - mono_us) : wall + (mono_us - mono);
}

static uint32_t sat32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static void on_probe(void *arg, unsigned backend, const struct sockaddr_in *addr,
		     enum fdet_probe_reason reason)
{
	struct backend_monitor *m = arg;
	(void)reason;
	int rc = lprobe_start(&m->probes, addr, backend);
	if (rc < 0) {
		/* No evidence either way (pool full, no socket). */
		m->probe_errors++;
		fdet_probe_aborted(&m->det, backend, monotonic_us());
	}
}

static void on_probe_done(void *arg, uint64_t cookie, const struct sockaddr_in *addr, int result,
			  uint64_t rtt_us)
{
	struct backend_monitor *m = arg;
	(void)addr;
	if (m->ops.probed)
		m->ops.probed(m->arg, (unsigned)cookie, result, rtt_us);
	fdet_probe_result(&m->det, (unsigned)cookie, result == 0, monotonic_us());
}

static void on_failed(void *arg, const struct fdet_failure *f)
{
	struct backend_monitor *m = arg;
	struct ctl_msg msg = {.type = CTL_BACKEND_FAILED};
	struct ctl_backend_failed *b = &msg.u.failed;
	b->ip = f->addr.sin_addr.s_addr;
	b->port = ntohs(f->addr.sin_port);
	b->cause = (uint8_t)f->cause; /* the enums share their values */
	b->has_txn = f->has_txn;
	b->event_id = m->next_event_id++;
	b->detected_us = bmon_wall_us(f->detected_us);
	b->suspect_us = bmon_wall_us(f->suspect_us);
	b->latency_us = f->latency_us;
	b->oldest_txn_id = f->has_txn ? f->txn : 0;
	b->oldest_conn_id = f->has_txn ? f->conn : 0;
	b->conns_affected = f->conns_open;
	b->conns_waiting = f->conns_waiting;
	b->txns_outstanding = f->txns_outstanding;
	b->timeout_us = sat32(f->timeout_us);
	if (m->ops.failed)
		m->ops.failed(m->arg, f, &msg);
}

static void on_recovered(void *arg, unsigned backend, const struct sockaddr_in *addr,
			 uint64_t now_us, uint64_t down_us)
{
	struct backend_monitor *m = arg;
	(void)backend;
	struct ctl_msg msg = {.type = CTL_BACKEND_RECOVERED};
	msg.u.recovered.ip = addr->sin_addr.s_addr;
	msg.u.recovered.port = ntohs(addr->sin_port);
	msg.u.recovered.event_id = m->next_event_id++;
	msg.u.recovered.recovered_us = bmon_wall_us(now_us);
	msg.u.recovered.down_us = down_us;
	if (m->ops.recovered)
		m->ops.recovered(m->arg, &msg);
}

static void on_tick(struct event_loop *loop, uint64_t expirations, void *arg)
{
	struct backend_monitor *m = arg;
	(void)loop, (void)expirations;
	fdet_tick(&m->det, monotonic_us());
}

_Static_assert((int)FDET_CAUSE_CONFIRM_TIMEOUT == (int)CTL_CAUSE_CONFIRM_TIMEOUT &&
		   (int)FDET_CAUSE_PROBE_FAILED == (int)CTL_CAUSE_PROBE_FAILED &&
		   (int)FDET_CAUSE_IDLE_PROBE == (int)CTL_CAUSE_IDLE_PROBE,
	       "detector causes and wire causes share their values");

int bmon_init(struct backend_monitor *m, struct event_loop *loop, const struct bmon_config *cfg,
	      const struct bmon_ops *ops, void *arg)
{
	memset(m, 0, sizeof(*m));
	m->tick_fd = -1;
	if (!loop || !cfg || !ops || cfg->tick_ms == 0 || cfg->tick_ms > 1000)
		return -EINVAL;
	m->loop = loop;
	m->ops = *ops;
	m->arg = arg;
	m->next_event_id = realtime_us();
	static const struct fdet_ops dops = {
	    .probe = on_probe,
	    .failed = on_failed,
	    .recovered = on_recovered,
	};
	int rc = fdet_init(&m->det, &cfg->detect, &dops, m);
	if (rc < 0)
		return rc;
	rc = lprobe_pool_init(&m->probes, loop, &cfg->probe, on_probe_done, m);
	if (rc < 0) {
		fdet_free(&m->det);
		return rc;
	}
	rc = event_loop_add_timer(loop, (uint32_t)cfg->tick_ms, on_tick, m);
	if (rc < 0) {
		lprobe_pool_free(&m->probes);
		fdet_free(&m->det);
		return rc;
	}
	m->tick_fd = rc;
	return 0;
}

void bmon_free(struct backend_monitor *m)
{
	if (m->tick_fd >= 0)
		event_loop_del_fd(m->loop, m->tick_fd);
	m->tick_fd = -1;
	lprobe_pool_free(&m->probes);
	fdet_free(&m->det);
}

void bmon_failover_row(const struct ctl_backend_failed *f, struct store_row *row, char *backend_buf,
		       size_t backend_len, char *detail_buf, size_t detail_len)
{
	static const char *const causes[] = {"?", "confirm_timeout", "probe_failed", "idle_probe"};
	char a[INET_ADDRSTRLEN];
	struct in_addr ip = {.s_addr = f->ip};
	snprintf(backend_buf, backend_len, "%s:%u", inet_ntop(AF_INET, &ip, a, sizeof(a)), f->port);
	int n = snprintf(detail_buf, detail_len,
			 "event=%" PRIu64 " cause=%s latency_us=%" PRIu64 " timeout_us=%" PRIu32,
			 f->event_id, causes[f->cause <= 3 ? f->cause : 0], f->latency_us,
			 f->timeout_us);
	if (n > 0 && (size_t)n < detail_len && f->has_txn)
		n += snprintf(detail_buf + n, detail_len - (size_t)n,
			      " oldest_txn=%" PRIu64 " oldest_conn=%" PRIu64, f->oldest_txn_id,
			      f->oldest_conn_id);
	if (n > 0 && (size_t)n < detail_len)
		snprintf(detail_buf + n, detail_len - (size_t)n,
			 " conns_affected=%" PRIu32 " conns_waiting=%" PRIu32
			 " txns_outstanding=%" PRIu32,
			 f->conns_affected, f->conns_waiting, f->txns_outstanding);
	memset(row, 0, sizeof(*row));
	row->stmt = STORE_FAILOVER_EVENT;
	row->nvals = 18;
	for (unsigned i = 0; i < row->nvals; i++)
		row->vals[i] = STORE_NULL();
	row->vals[1] = STORE_TEXT(backend_buf);
	row->vals[3] = STORE_INT(f->detected_us);
	row->vals[16] = STORE_TEXT("detected");
	row->vals[17] = STORE_TEXT(detail_buf);
}

void bmon_collect_stats(const struct backend_monitor *m, struct stats_report *r, const char *prefix)
{
	char p[STATS_NAME_MAX];
	fdet_collect_stats(&m->det, r, prefix);
	snprintf(p, sizeof(p), "%s%sprobe", prefix ? prefix : "", prefix && *prefix ? "_" : "");
	lprobe_collect_stats(&m->probes, r, p);
	stats_add(r, p, "errors", m->probe_errors);
}
