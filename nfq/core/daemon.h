/* daemon - what every NFQUEUE daemon of the project has in common, so that a
 * daemon's main() only wires its own modules together:
 *
 * - the command line (-c FILE, -q NUM, --stats-file, --no-rule-check,
 *   --log-level, --print-config, --check-config, --help, --version);
 * - the shared config sections [queue] and [daemon], loaded from the same
 *   file as the daemon's own sections;
 * - the start-up check that an iptables rule steers packets to the queue;
 * - the event loop with SIGTERM/SIGINT (clean shutdown: every queued packet
 *   gets a verdict), SIGUSR1 (one stats line in the log) and the periodic
 *   stats file.
 *
 * Exit codes: 0 clean shutdown, 1 runtime failure, 2 usage, configuration or
 * missing-rule error.
 */
#ifndef CRAFT_DAEMON_H
#define CRAFT_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "daemon_frame.h"
#include "event_loop.h"
#include "nfq_engine.h"
#include "stats.h"

#define DAEMON_EXIT_OK	    0
#define DAEMON_EXIT_FAILURE 1
#define DAEMON_EXIT_USAGE   2

/* The keys of sections [queue] and [daemon]. */
struct daemon_config {
	uint32_t queue_num, queue_count, copy_range, queue_maxlen, batch, busy_poll_us;
	uint64_t rcvbuf;
	bool gso, fail_open;
	int shutdown_verdict; /* 0 accept, 1 drop */
	int log_level;	      /* index into the level names */
	char stats_file[256];
	uint64_t stats_interval_ms;
	bool rule_check;
};

/* What a daemon tells the common part about itself. */
struct daemon_info {
	const char *name;    /* "craft-logger" */
	const char *summary; /* one line for --help */
	bool fail_open;	     /* the role's default (see README: fail-open or closed) */
	/* The daemon's own config sections; may be NULL. */
	const struct config_key *keys;
	void *config;
	/* Further sections with their own structs (e.g. [replication]). */
	const struct config_table *more_tables;
	unsigned n_more_tables;
	/* Adds the daemon's own counters to a report; may be NULL. */
	void (*collect_stats)(void *ctx, struct stats_report *r);
};

struct daemon {
	const struct daemon_info *info;
	struct daemon_config cfg;
	char config_path[512];
	struct event_loop loop;
	struct nfq_engine *engine;
	struct nfq_engine_config engine_cfg;
	struct nfq_engine_stats final_stats; /* kept after the engine is closed */
	bool stopped;
	void *ctx;		   /* passed to collect_stats */
	struct daemon_frame frame; /* signals, stats file */
	unsigned loop_capacity;	   /* event sources; 0 = the loop's default */
	uint64_t started_ms;
};

void daemon_config_defaults(struct daemon_config *cfg, bool fail_open);

/* Parses the command line and loads the config file. Returns 0 to go on,
 * 1 when the program should exit successfully (--help, --version,
 * --print-config, --check-config), or -1 after printing an error (exit
 * DAEMON_EXIT_USAGE). The daemon's own config struct must hold its defaults
 * before the call. */
int daemon_parse_args(struct daemon *d, const struct daemon_info *info, int argc, char **argv);

/* Rule check, event loop, signals, stats timer, NFQUEUE binding. Returns 0
 * or an exit code. */
int daemon_start(struct daemon *d, const struct nfq_engine_handler *handler, void *ctx);
/* Runs until SIGTERM/SIGINT; returns an exit code. */
int daemon_run(struct daemon *d);
/* Gives every packet a verdict, unbinds, writes the final stats. */
void daemon_stop(struct daemon *d);

/* Everything the daemon counts, for a log line or the stats file. */
void daemon_collect_stats(struct daemon *d, struct stats_report *r);

#endif
