/* craft-logger - the logger host's daemon. For now it is the pass-through:
 * every TCP segment between proxies and backends is queued, counted and
 * accepted at once. The role is fail-open: if the daemon dies the rule's
 * --queue-bypass lets traffic flow, and a full queue accepts
 * (NFQA_CFG_F_FAIL_OPEN), because a missing log must never stop service. */
#include <stdlib.h>

#include "daemon.h"
#include "passthrough.h"

static void on_packet(void *ctx, struct nfq_engine *engine, struct nfq_packet *pkt,
		      struct nfq_verdict *v)
{
	(void)engine;
	(void)v; /* accept */
	passthrough_packet(ctx, pkt);
}

static void collect_stats(void *ctx, struct stats_report *r)
{
	passthrough_collect_stats(ctx, r);
}

int main(int argc, char **argv)
{
	static struct passthrough pt;
	static const struct daemon_info info = {
	    .name = "craft-logger",
	    .summary = "Logger host: copies every TCP segment between proxies and backends "
		       "from NFQUEUE, counts it and accepts it (fail-open).",
	    .fail_open = true,
	    .collect_stats = collect_stats,
	};
	struct daemon d;
	int rc = daemon_parse_args(&d, &info, argc, argv);
	if (rc != 0)
		return rc > 0 ? DAEMON_EXIT_OK : DAEMON_EXIT_USAGE;
	const struct nfq_engine_handler handler = {.on_packet = on_packet, .ctx = &pt};
	rc = daemon_start(&d, &handler, &pt);
	if (rc == 0)
		rc = daemon_run(&d);
	daemon_stop(&d);
	return rc;
}
