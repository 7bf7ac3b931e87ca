/* craft-logger - the logger host's daemon (paper §3.1, §3.5).
 *
 * Two modes ([logger] mode):
 * - passthrough: every TCP segment between proxies and backends is queued,
 *   counted and accepted at once (the foundation's measurements use it);
 * - log (the default when [logger] db is set): the same, and a copy of each
 *   segment goes through the transaction pipeline into the database
 *   (logger.h): connections, transactions with their sequence offsets,
 *   tags, AckCL marks, request/response bytes for recovery.
 * Either way the verdict is ACCEPT and never waits for the log, with one
 * exception: with failure detection on, a backend's FIN or RST that the
 * protocol does not explain waits for a liveness probe, and is dropped when
 * the backend's process crashed (crash_guard.h, section [crash]). The role is
 * fail-open: if the daemon dies the rule's --queue-bypass lets traffic flow,
 * and a full queue accepts (NFQA_CFG_F_FAIL_OPEN), because a missing log
 * must never stop service.
 *
 * Config sections besides [queue] and [daemon]: [logger] (mode, db,
 * backlog, expire_interval, counters_interval and the pipeline's keys, see
 * txn_log.h), [flows], [transactions], [store] (store.h); in log mode also
 * [detect] (enabled = yes turns adaptive failure detection on; the keys of
 * failure_detect.h and tick), [probe] (liveness_probe.h) and [control]
 * (ctl_channel.h: socket, bind, peer = ADDR:PORT of each recovery
 * listener, key_file, sender_id, ...; repeats and repeat_interval of the
 * announcements, control.h) and [logged] (agent = "BACKEND AGENT:PORT",
 * key_file, sender_id: the LOGGED signal, logged.h) and [aux_divert]
 * (the aux logger's answers to replayed aux requests, aux_divert.h). */
#include <stdlib.h>

#include "aux_divert.h"
#include "daemon.h"
#include "log.h"
#include "logger.h"
#include "passthrough.h"

struct app {
	struct passthrough pt;
	struct logger lg;
	bool log_mode;
	bool aux; /* [aux_divert] enabled */
	struct aux_divert ad;
};

static void on_packet(void *ctx, struct nfq_engine *engine, struct nfq_packet *pkt,
		      struct nfq_verdict *v)
{
	struct app *a = ctx;
	/* One header parse per packet for the counters and the crash guard;
	 * header-only copy modes hand us a cut payload: that is not an error. */
	struct tcp4_view tv;
	int rc = tcp4_view_parse(pkt->data, pkt->len, PKT_PARSE_ALLOW_TRUNCATED, &tv);
	passthrough_packet(&a->pt, rc, &tv);
	if (a->log_mode)
		logger_packet(&a->lg, engine, pkt, rc == 0 ? &tv : NULL, v);
}

static void on_shutdown(void *ctx, struct nfq_engine *engine)
{
	struct app *a = ctx;
	if (a->log_mode)
		logger_release(&a->lg, engine);
}

static void collect_stats(void *ctx, struct stats_report *r)
{
	struct app *a = ctx;
	passthrough_collect_stats(&a->pt, r);
	if (a->log_mode)
		logger_collect_stats(&a->lg, r);
	if (a->aux)
		aux_divert_collect_stats(&a->ad, r);
}

static const struct config_key logger_keys[] = {
    CONFIG_ENUM("logger", "mode", struct logger_config, mode, logger_mode_names),
    CONFIG_STR("logger", "db", struct logger_config, db),
    CONFIG_SIZE("logger", "backlog", struct logger_config, backlog_bytes, 65536, 1ull << 30),
    CONFIG_DURATION_MS("logger", "expire_interval", struct logger_config, expire_interval_ms, 10,
		       60000),
    CONFIG_DURATION_MS("logger", "counters_interval", struct logger_config, counters_interval_ms, 0,
		       86400000),
    TXN_LOG_CONFIG_KEYS(struct logger_config, log),
    STORE_CONFIG_KEYS(struct logger_config, store),
    CONFIG_BOOL("detect", "enabled", struct logger_config, detect),
    CONFIG_U32("control", "repeats", struct logger_config, control.repeats, 1, 100),
    CONFIG_DURATION_MS("control", "repeat_interval", struct logger_config,
		       control.repeat_interval_ms, 1, 10000),
    {0},
};

static void rewrite_stats_file(struct daemon *d)
{
	if (!d->cfg.stats_file[0])
		return;
	struct stats_report *r = malloc(sizeof(*r));
	if (!r)
		return;
	daemon_collect_stats(d, r);
	stats_write_file(r, d->cfg.stats_file);
	free(r);
}

int main(int argc, char **argv)
{
	static struct app app;
	static struct logger_config cfg;
	static struct aux_divert_config aux_cfg;
	logger_config_defaults(&cfg);
	aux_divert_config_default(&aux_cfg);
	static const struct config_table more[] = {
	    {bmon_tick_config_keys, &cfg.bmon},	   {fdet_config_keys, &cfg.bmon.detect},
	    {lprobe_config_keys, &cfg.bmon.probe}, {ctl_channel_config_keys, &cfg.control.channel},
	    {logged_config_keys, &cfg.logged},	   {crash_guard_config_keys, &cfg.crash},
	    {aux_divert_config_keys, &aux_cfg},
	};
	static const struct daemon_info info = {
	    .name = "craft-logger",
	    .summary = "Logger host: copies every TCP segment between proxies and backends "
		       "from NFQUEUE and accepts it (fail-open); with a database it logs "
		       "connections and transactions (offsets, tags, AckCL, bytes).",
	    .fail_open = true,
	    .keys = logger_keys,
	    .config = &cfg,
	    .more_tables = more,
	    .n_more_tables = sizeof(more) / sizeof(more[0]),
	    .collect_stats = collect_stats,
	};
	struct daemon d;
	int rc = daemon_parse_args(&d, &info, argc, argv);
	if (rc != 0)
		return rc > 0 ? DAEMON_EXIT_OK : DAEMON_EXIT_USAGE;
	app.log_mode = cfg.mode == LOGGER_MODE_LOG || (cfg.mode == LOGGER_MODE_AUTO && cfg.db[0]);
	if (app.log_mode) {
		rc = logger_init(&app.lg, &cfg);
		if (rc != 0) {
			logger_finish(&app.lg);
			return rc;
		}
		/* Failure detection and the control channel join d.loop in
		 * logger_attach, after daemon_start. */
		app.aux = aux_cfg.enabled;
		if (app.aux && aux_divert_init(&app.ad, &aux_cfg, logger_txn_log(&app.lg)) < 0) {
			logger_finish(&app.lg);
			aux_divert_free(&app.ad);
			return DAEMON_EXIT_USAGE;
		}
	} else {
		/* Counting reads headers only; copying payload would only cost. */
		if (d.cfg.copy_range == 0 || d.cfg.copy_range > NFQ_COPY_HEADERS)
			d.cfg.copy_range = NFQ_COPY_HEADERS;
		log_notice("pass-through mode: packets are counted, not logged (copy %u bytes)",
			   d.cfg.copy_range);
	}
	const struct nfq_engine_handler handler = {
	    .on_packet = on_packet, .on_shutdown = on_shutdown, .ctx = &app};
	rc = daemon_start(&d, &handler, &app);
	if (rc == 0 && app.log_mode && logger_attach(&app.lg, &d.loop) != 0)
		rc = DAEMON_EXIT_FAILURE;
	if (rc == 0 && app.aux && aux_divert_attach(&app.ad, &d.loop) != 0)
		rc = DAEMON_EXIT_FAILURE;
	if (rc == 0)
		rc = daemon_run(&d);
	if (app.aux)
		aux_divert_detach(&app.ad);
	if (app.log_mode)
		logger_detach(&app.lg); /* its timers and sockets go with the loop */
	daemon_stop(&d);
	if (app.log_mode) {
		if (logger_finish(&app.lg) != 0 && rc == 0)
			rc = DAEMON_EXIT_FAILURE;
		rewrite_stats_file(&d);
		free(app.lg.final);
		if (app.aux) /* the store observed until logger_finish */
			aux_divert_free(&app.ad);
	}
	return rc;
}
