/* craft-proxy - accepts clients on the VIP, routes their first request,
 * splices them to a backend and forwards the spliced segments (its own and
 * its peers') through NFQUEUE. Fail-closed: see rules/proxy.sh. */
#include <stdlib.h>

#include "daemon.h"
#include "log.h"
#include "proxy.h"
#include "recovery.h"

static void collect_stats(void *ctx, struct stats_report *r)
{
	proxy_collect_stats(ctx, r);
}

static void on_tick(struct event_loop *loop, uint64_t expirations, void *arg)
{
	(void)loop;
	(void)expirations;
	struct proxy *px = arg;
	uint64_t now = monotonic_ms();
	proxy_tick(px, now);
	recovery_tick(px->rec, now);
}

int main(int argc, char **argv)
{
	static struct proxy px;
	static struct recovery_config rcfg;
	proxy_config_defaults(&px.cfg);
	recovery_config_default(&rcfg);
	static const struct config_table more[] = {{replication_config_keys, &px.cfg.repl},
						   {heartbeat_sender_config_keys, &px.cfg.hb},
						   {recovery_config_keys, &rcfg},
						   {ctl_channel_config_keys, &rcfg.ctl}};
	static const struct daemon_info info = {
	    .name = "craft-proxy",
	    .summary = "Proxy: accepts clients on the VIP, L7-routes the first request, "
		       "splices the connection to a backend and rewrites spliced segments.",
	    .fail_open = false,
	    .keys = proxy_config_keys,
	    .config = &px.cfg,
	    .more_tables = more,
	    .n_more_tables = 4,
	    .collect_stats = collect_stats,
	};
	struct daemon d;
	char err[256];
	int rc = daemon_parse_args(&d, &info, argc, argv);
	if (rc != 0)
		return rc > 0 ? DAEMON_EXIT_OK : DAEMON_EXIT_USAGE;
	if (proxy_config_validate(&px.cfg, err, sizeof(err)) < 0) {
		log_err("%s: %s", d.config_path[0] ? d.config_path : "(no config)", err);
		return DAEMON_EXIT_USAGE;
	}
	d.loop_capacity = 2 * px.cfg.max_clients + rcfg.max_jobs + 72;
	if (proxy_init(&px, err, sizeof(err)) < 0) {
		log_err("%s", err);
		proxy_close(&px);
		return DAEMON_EXIT_FAILURE;
	}
	const struct nfq_engine_handler handler = {.on_packet = proxy_on_packet, .ctx = &px};
	rc = daemon_start(&d, &handler, &px);
	if (rc == 0) {
		rc = proxy_open(&px, &d, err, sizeof(err));
		if (rc == 0)
			rc = recovery_open(&px.rec, &px, &rcfg, err, sizeof(err));
		if (rc < 0) {
			log_err("%s", err);
			rc = DAEMON_EXIT_FAILURE;
		} else if (event_loop_add_timer(&d.loop, 50, on_tick, &px) < 0) {
			rc = DAEMON_EXIT_FAILURE;
		} else {
			rc = daemon_run(&d);
		}
	}
	recovery_close(px.rec);
	daemon_stop(&d);
	recovery_free(px.rec);
	px.rec = NULL;
	proxy_close(&px);
	return rc;
}
