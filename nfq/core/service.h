/* service - the daemon frame for programs that are not NFQUEUE daemons
 * (craft-agent, craft-webmail, craft-auxd): the same command line, config
 * file, signals and counters as daemon.h, without the queue, the rule
 * check and the verdict-on-shutdown machinery.
 *
 * Why a second frame rather than flags in daemon.h: daemon.h's contract is
 * "every queued packet gets a verdict" and its [queue] section; a program
 * that owns sockets only would have to carry and document keys that mean
 * nothing to it. The conventions stay the same for an operator:
 *   -c FILE, -s/--stats-file PATH, -l/--log-level LEVEL, -v,
 *   -o/--set SECTION.KEY=VALUE (repeatable, wins over the file),
 *   --check-config, --print-config, -h/--help, -V/--version;
 *   section [daemon]: log_level, stats_file, stats_interval;
 *   SIGTERM/SIGINT stop cleanly, SIGUSR1 logs one line of counters,
 *   SIGHUP is ignored (restart to reconfigure); the stats file is
 *   rewritten atomically every stats_interval and once more at exit.
 * A program adds its own sections (config tables) and its own long
 * options (handled by a callback). Exit codes as daemon.h: 0 clean, 1
 * runtime failure, 2 usage or configuration error. No global state. */
#ifndef CRAFT_SERVICE_H
#define CRAFT_SERVICE_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "daemon_frame.h"
#include "event_loop.h"
#include "stats.h"

#define SERVICE_EXIT_OK	     0
#define SERVICE_EXIT_FAILURE 1
#define SERVICE_EXIT_USAGE   2
#define SERVICE_MAX_TABLES   8
#define SERVICE_MAX_SETS     32

struct service_config {
	int log_level; /* index into error, warning, notice, info, debug */
	char stats_file[256];
	uint64_t stats_interval_ms;
};

struct service_info {
	const char *name;    /* "craft-agent" */
	const char *summary; /* one line for --help */
	const char *usage;   /* extra --help lines for the program's options; may be NULL */
	/* The program's own sections. */
	const struct config_table *tables;
	unsigned ntables;
	/* Extra long options (val >= 256, terminated by a zero entry) and
	 * their handler: 0 to go on, 1 to exit successfully, -1 for a usage
	 * error (after printing it). May be NULL. */
	const struct option *options;
	int (*on_option)(void *ctx, int val, const char *arg);
	/* Adds the program's counters to a report; may be NULL. */
	void (*collect_stats)(void *ctx, struct stats_report *r);
};

struct service {
	const struct service_info *info;
	struct service_config cfg;
	char config_path[512];
	struct event_loop loop;
	struct daemon_frame frame; /* signals, stats file */
	unsigned loop_capacity;	   /* event sources; 0 = the loop's default */
	void *ctx;		   /* passed to the callbacks */
	uint64_t started_ms;
};

/* Parses the command line and loads the config file into the program's
 * tables (which must hold their defaults). ctx goes to on_option. Returns
 * 0 to go on, 1 to exit successfully (--help, --version, --print-config,
 * --check-config, or the program's option said so), -1 after printing an
 * error (exit SERVICE_EXIT_USAGE). */
int service_parse_args(struct service *s, const struct service_info *info, void *ctx, int argc,
		       char **argv);
/* Event loop (s->loop_capacity sources), signals, stats timer. 0 or an
 * exit code. Register the program's sockets on s->loop afterwards. */
int service_start(struct service *s);
/* Runs until SIGTERM/SIGINT; returns an exit code. */
int service_run(struct service *s);
/* Writes the final stats and frees the loop (fds added by the program
 * stay open: the program closes them). */
void service_stop(struct service *s);
/* uptime_ms plus the program's counters. */
void service_collect_stats(struct service *s, struct stats_report *r);

#endif
