/* craft-lb - the stateless load balancer in front of the proxies (or, with
 * vip = the IVIP, in front of the proxies' backend side on the logger
 * host). Fail-open by default: without the daemon the rule's
 * --queue-bypass lets packets follow the main routing table (in the test
 * bed: all to one proxy, which forwards spliced segments and redirects the
 * rest), which degrades balancing but breaks no connection; see
 * rules/lb.sh. */
#include <stdlib.h>

#include "daemon.h"
#include "lb.h"
#include "log.h"

int main(int argc, char **argv)
{
	static struct lb lb;
	lb_config_defaults(&lb.cfg);
	static const struct daemon_info info = {
	    .name = "craft-lb",
	    .summary = "Load balancer: picks a live proxy for every packet to the VIP "
		       "(weighted by heartbeat workload factors, or by a consistent flow "
		       "hash) and delivers it unchanged with that proxy's fwmark.",
	    .fail_open = true,
	    .keys = lb_config_keys,
	    .config = &lb.cfg,
	    .collect_stats = lb_collect_stats,
	};
	struct daemon d;
	char err[256];
	int rc = daemon_parse_args(&d, &info, argc, argv);
	if (rc != 0)
		return rc > 0 ? DAEMON_EXIT_OK : DAEMON_EXIT_USAGE;
	/* Headers are all we read; copying more only costs. */
	if (d.cfg.copy_range == 0 || d.cfg.copy_range > LB_COPY_RANGE)
		d.cfg.copy_range = LB_COPY_RANGE;
	rc = lb_init(&lb, err, sizeof(err));
	if (rc < 0) {
		log_err("%s: %s", d.config_path[0] ? d.config_path : "(no config)", err);
		lb_close(&lb);
		/* A bad config or key file is a usage error (2); running out of memory is not. */
		return rc == -ENOMEM ? DAEMON_EXIT_FAILURE : DAEMON_EXIT_USAGE;
	}
	const struct nfq_engine_handler handler = {.on_packet = lb_on_packet, .ctx = &lb};
	rc = daemon_start(&d, &handler, &lb);
	if (rc == 0) {
		if (lb_open(&lb, &d.loop, err, sizeof(err)) < 0) {
			log_err("%s", err);
			rc = DAEMON_EXIT_FAILURE;
		} else {
			log_notice("%s mode, %u proxies, heartbeat every %llu ms, %u missed = out",
				   lb_mode_names[lb.cfg.sel.mode], lb.cfg.nproxies,
				   (unsigned long long)lb.cfg.hb.members.interval_ms,
				   lb.cfg.hb.members.miss_count);
			rc = daemon_run(&d);
		}
	}
	daemon_stop(&d);
	lb_close(&lb);
	return rc;
}
