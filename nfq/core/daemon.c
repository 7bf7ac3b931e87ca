/* daemon - see daemon.h. */
#include "daemon.h"

#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "rule_check.h"
#include "version.h"

static const char *const verdict_names[] = {"accept", "drop", NULL};

static const struct config_key common_keys[] = {
    CONFIG_U32("queue", "num", struct daemon_config, queue_num, 0, 65535),
    CONFIG_U32("queue", "count", struct daemon_config, queue_count, 1, NFQ_ENGINE_MAX_QUEUES),
    CONFIG_U32("queue", "copy_range", struct daemon_config, copy_range, 0, 65531),
    CONFIG_U32("queue", "maxlen", struct daemon_config, queue_maxlen, 1, 1u << 20),
    CONFIG_U32("queue", "batch", struct daemon_config, batch, 1, 1024),
    CONFIG_U32("queue", "busy_poll_us", struct daemon_config, busy_poll_us, 0, 1000),
    CONFIG_SIZE("queue", "rcvbuf", struct daemon_config, rcvbuf, 64 * 1024, 1ull << 30),
    CONFIG_BOOL("queue", "gso", struct daemon_config, gso),
    CONFIG_BOOL("queue", "fail_open", struct daemon_config, fail_open),
    CONFIG_ENUM("queue", "shutdown_verdict", struct daemon_config, shutdown_verdict, verdict_names),
    CONFIG_ENUM("daemon", "log_level", struct daemon_config, log_level, daemon_frame_level_names),
    CONFIG_STR("daemon", "stats_file", struct daemon_config, stats_file),
    CONFIG_DURATION_MS("daemon", "stats_interval", struct daemon_config, stats_interval_ms, 100,
		       3600 * 1000),
    CONFIG_BOOL("daemon", "rule_check", struct daemon_config, rule_check),
    {0},
};

void daemon_config_defaults(struct daemon_config *cfg, bool fail_open)
{
	struct nfq_engine_config q;
	nfq_engine_config_defaults(&q);
	*cfg = (struct daemon_config){
	    .queue_num = q.queue_num,
	    .queue_count = q.queue_count,
	    .copy_range = q.copy_range,
	    .queue_maxlen = q.queue_maxlen,
	    .batch = q.batch_max,
	    .busy_poll_us = q.busy_poll_us,
	    .rcvbuf = q.rcvbuf,
	    .gso = q.gso,
	    .fail_open = fail_open,
	    .shutdown_verdict = fail_open ? 0 : 1,
	    .log_level = 3,
	    .stats_interval_ms = 1000,
	    .rule_check = true,
	};
}

static void usage(const struct daemon_info *info, FILE *out)
{
	fprintf(out,
		"Usage: %s [options]\n"
		"%s\n\n"
		"  -c, --config FILE      configuration file (sections [queue], [daemon], ...)\n"
		"  -q, --queue NUM        NFQUEUE number (overrides queue.num)\n"
		"  -s, --stats-file PATH  rewrite counters to PATH every stats_interval\n"
		"  -l, --log-level LEVEL  error, warning, notice, info or debug\n"
		"  -v, --verbose          same as --log-level debug\n"
		"      --no-rule-check    start even if no iptables rule feeds the queue\n"
		"      --check-config     load the configuration, report errors, exit\n"
		"      --print-config     print the effective configuration and exit\n"
		"  -h, --help             this text\n"
		"  -V, --version          print the version\n\n"
		"Signals: TERM/INT shut down cleanly (every queued packet gets a verdict),\n"
		"USR1 logs one line of counters.\n",
		info->name, info->summary);
}

/* common + the daemon's own + its more_tables (craft-logger has 8); a
 * table beyond this would be ignored without a word, hence the assert. */
#define DAEMON_MAX_TABLES 16

static int load_config(struct daemon *d, struct config_error *err)
{
	struct config_table tables[DAEMON_MAX_TABLES] = {{common_keys, &d->cfg}};
	unsigned n = 1;
	if (d->info->keys)
		tables[n++] = (struct config_table){d->info->keys, d->info->config};
	assert(d->info->n_more_tables <= DAEMON_MAX_TABLES - 2);
	for (unsigned i = 0; i < d->info->n_more_tables && n < DAEMON_MAX_TABLES; i++)
		tables[n++] = d->info->more_tables[i];
	return config_load_file_tables(d->config_path, tables, n, err);
}

static void print_config(const struct daemon *d)
{
	config_dump(stdout, common_keys, &d->cfg);
	if (d->info->keys)
		config_dump(stdout, d->info->keys, d->info->config);
	for (unsigned i = 0; i < d->info->n_more_tables; i++)
		config_dump(stdout, d->info->more_tables[i].keys, d->info->more_tables[i].dst);
}

int daemon_parse_args(struct daemon *d, const struct daemon_info *info, int argc, char **argv)
{
	enum { OPT_NO_RULE_CHECK = 256, OPT_PRINT_CONFIG, OPT_CHECK_CONFIG };
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"queue", required_argument, NULL, 'q'},
	    {"stats-file", required_argument, NULL, 's'},
	    {"log-level", required_argument, NULL, 'l'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"no-rule-check", no_argument, NULL, OPT_NO_RULE_CHECK},
	    {"print-config", no_argument, NULL, OPT_PRINT_CONFIG},
	    {"check-config", no_argument, NULL, OPT_CHECK_CONFIG},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	/* Command-line values win over the file, so remember them and apply
	 * them after loading it. */
	const char *queue_arg = NULL, *stats_arg = NULL, *level_arg = NULL;
	bool no_rule_check = false, print = false, check = false;
	char err[256];

	memset(d, 0, sizeof(*d));
	d->info = info;
	daemon_config_defaults(&d->cfg, info->fail_open);
	log_set_ident(info->name);
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "c:q:s:l:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			snprintf(d->config_path, sizeof(d->config_path), "%s", optarg);
			break;
		case 'q':
			queue_arg = optarg;
			break;
		case 's':
			stats_arg = optarg;
			break;
		case 'l':
			level_arg = optarg;
			break;
		case 'v':
			level_arg = "debug";
			break;
		case OPT_NO_RULE_CHECK:
			no_rule_check = true;
			break;
		case OPT_PRINT_CONFIG:
			print = true;
			break;
		case OPT_CHECK_CONFIG:
			check = true;
			break;
		case 'h':
			usage(info, stdout);
			return 1;
		case 'V':
			printf("%s %s\n", info->name, CRAFT_VERSION);
			return 1;
		default:
			usage(info, stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", info->name,
			argv[optind]);
		return -1;
	}
	if (d->config_path[0]) {
		struct config_error cerr;
		if (load_config(d, &cerr) < 0) {
			fprintf(stderr, "%s: %s\n", info->name, cerr.msg);
			return -1;
		}
	}
	if (queue_arg &&
	    config_set(common_keys, &d->cfg, "queue", "num", queue_arg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: --queue: %s\n", info->name, err);
		return -1;
	}
	if (stats_arg && config_set(common_keys, &d->cfg, "daemon", "stats_file", stats_arg, err,
				    sizeof(err)) < 0) {
		fprintf(stderr, "%s: --stats-file: %s\n", info->name, err);
		return -1;
	}
	if (level_arg && config_set(common_keys, &d->cfg, "daemon", "log_level", level_arg, err,
				    sizeof(err)) < 0) {
		fprintf(stderr, "%s: --log-level: %s\n", info->name, err);
		return -1;
	}
	if (no_rule_check)
		d->cfg.rule_check = false;
	log_set_level(daemon_frame_level_value(d->cfg.log_level));
	if (print) {
		print_config(d);
		return 1;
	}
	if (check) {
		printf("%s: configuration OK\n", d->config_path[0] ? d->config_path : "(defaults)");
		return 1;
	}
	return 0;
}

void daemon_collect_stats(struct daemon *d, struct stats_report *r)
{
	stats_reset(r);
	stats_add(r, NULL, "uptime_ms", monotonic_ms() - d->started_ms);
	if (d->engine || d->stopped) {
		struct nfq_engine_stats s = d->final_stats;
		if (d->engine)
			nfq_engine_get_stats(d->engine, &s);
		stats_add(r, NULL, "packets", s.packets);
		stats_add(r, NULL, "bytes", s.bytes);
		stats_add(r, NULL, "verdicts_accept", s.verdicts_accept);
		stats_add(r, NULL, "verdicts_drop", s.verdicts_drop);
		stats_add(r, NULL, "verdicts_modified", s.verdicts_modified);
		stats_add(r, NULL, "verdicts_marked", s.verdicts_marked);
		stats_add(r, NULL, "batches", s.batch_messages);
		stats_add(r, NULL, "recv_calls", s.recv_calls);
		stats_add(r, NULL, "wakeups", s.wakeups);
		stats_add(r, NULL, "busy_polls", s.busy_polls);
		stats_add(r, NULL, "held", s.held);
		stats_add(r, NULL, "held_now", s.held_now);
		stats_add(r, NULL, "gso_packets", s.gso_packets);
		stats_add(r, NULL, "csum_not_ready", s.csum_not_ready);
		stats_add(r, NULL, "truncated", s.truncated);
		stats_add(r, NULL, "enobufs", s.enobufs);
		stats_add(r, NULL, "recv_errors", s.recv_errors);
		stats_add(r, NULL, "send_errors", s.send_errors);
		stats_add(r, NULL, "netlink_errors", s.netlink_errors);
		stats_add(r, NULL, "malformed_messages", s.malformed_messages);
		stats_add(r, NULL, "shutdown_batches", s.shutdown_batches);
		const struct nfq_engine_config *qc = &d->engine_cfg;
		uint64_t qdrop = 0, udrop = 0, total = 0;
		for (unsigned i = 0; i < qc->queue_count; i++) {
			struct nfq_kernel_queue_stats ks;
			if (nfq_kernel_queue_stats((uint16_t)(qc->queue_num + i), &ks) == 0) {
				qdrop += ks.queue_dropped;
				udrop += ks.user_dropped;
				total += ks.queue_total;
			}
		}
		stats_add(r, "kernel", "queue_total", total);
		stats_add(r, "kernel", "queue_dropped", qdrop);
		stats_add(r, "kernel", "user_dropped", udrop);
	}
	if (d->info->collect_stats)
		d->info->collect_stats(d->ctx, r);
}

static void collect(void *owner, struct stats_report *r)
{
	daemon_collect_stats(owner, r);
}

static int check_rule(struct daemon *d)
{
	char err[256] = "";
	for (uint32_t i = 0; i < d->cfg.queue_count; i++) {
		uint16_t queue = (uint16_t)(d->cfg.queue_num + i);
		struct rule_match match;
		int rc = rule_check_queue(queue, &match, err, sizeof(err));
		if (rc < 0) {
			log_err("cannot check the iptables rules for queue %u: %s "
				"(use --no-rule-check to start anyway)",
				queue, err);
			return DAEMON_EXIT_USAGE;
		}
		if (rc == 0) {
			log_err("no iptables rule sends packets to NFQUEUE %u in this network "
				"namespace: apply rules/*.sh first (or use --no-rule-check)",
				queue);
			return DAEMON_EXIT_USAGE;
		}
		log_info("queue %u is fed by %s table %s chain %s%s", queue,
			 rule_backend_name(match.backend), match.table, match.chain,
			 match.bypass ? " (queue-bypass: fail-open when we are gone)" : "");
	}
	return 0;
}

int daemon_start(struct daemon *d, const struct nfq_engine_handler *handler, void *ctx)
{
	char err[256] = "";
	d->ctx = ctx;
	d->started_ms = monotonic_ms();
	if (d->cfg.rule_check) {
		int rc = check_rule(d);
		if (rc)
			return rc;
	}
	d->frame = (struct daemon_frame){
	    .loop = &d->loop, .stats_file = d->cfg.stats_file, .collect = collect, .owner = d};
	int rc = daemon_frame_start(&d->frame, d->loop_capacity, d->cfg.stats_interval_ms);
	if (rc < 0)
		return DAEMON_EXIT_FAILURE;
	struct nfq_engine_config qc;
	nfq_engine_config_defaults(&qc);
	qc.queue_num = (uint16_t)d->cfg.queue_num;
	qc.queue_count = (uint16_t)d->cfg.queue_count;
	qc.copy_range = d->cfg.copy_range;
	qc.gso = d->cfg.gso;
	qc.fail_open = d->cfg.fail_open;
	qc.queue_maxlen = d->cfg.queue_maxlen;
	qc.rcvbuf = (uint32_t)d->cfg.rcvbuf;
	qc.batch_max = d->cfg.batch;
	qc.busy_poll_us = d->cfg.busy_poll_us;
	qc.shutdown_accept = d->cfg.shutdown_verdict == 0;
	d->engine_cfg = qc;
	rc = nfq_engine_open(&d->engine, &qc, handler, &d->loop, err, sizeof(err));
	if (rc < 0) {
		log_err("%s", err);
		return DAEMON_EXIT_FAILURE;
	}
	log_notice("started: queue %u..%u, copy %u bytes, gso %s, fail-%s, batch %u", qc.queue_num,
		   qc.queue_num + qc.queue_count - 1, qc.copy_range, qc.gso ? "on" : "off",
		   qc.fail_open ? "open" : "closed", qc.batch_max);
	daemon_frame_write_stats(&d->frame);
	return 0;
}

int daemon_run(struct daemon *d)
{
	int rc = event_loop_run(&d->loop);
	if (rc < 0) {
		log_errnum(LOG_ERR, -rc, "event loop");
		return DAEMON_EXIT_FAILURE;
	}
	return DAEMON_EXIT_OK;
}

void daemon_stop(struct daemon *d)
{
	if (d->engine) {
		nfq_engine_close(d->engine, &d->final_stats);
		d->engine = NULL;
		d->stopped = true;
		daemon_frame_write_stats(&d->frame);
		daemon_frame_log_stats(&d->frame);
	}
	daemon_frame_free(&d->frame);
}
