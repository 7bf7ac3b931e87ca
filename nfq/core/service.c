/* service - see service.h. */
#include "service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "version.h"

static const struct config_key service_keys[] = {
    CONFIG_ENUM("daemon", "log_level", struct service_config, log_level, daemon_frame_level_names),
    CONFIG_STR("daemon", "stats_file", struct service_config, stats_file),
    CONFIG_DURATION_MS("daemon", "stats_interval", struct service_config, stats_interval_ms, 100,
		       3600 * 1000),
    {0},
};

static void usage(const struct service_info *info, FILE *out)
{
	fprintf(out,
		"Usage: %s [options]\n"
		"%s\n\n"
		"  -c, --config FILE      configuration file (section [daemon] and the program's)\n"
		"  -o, --set SEC.KEY=VAL  set one configuration key (repeatable, wins over -c)\n"
		"  -s, --stats-file PATH  rewrite counters to PATH every stats_interval\n"
		"  -l, --log-level LEVEL  error, warning, notice, info or debug\n"
		"  -v, --verbose          same as --log-level debug\n"
		"      --check-config     load the configuration, report errors, exit\n"
		"      --print-config     print the effective configuration and exit\n"
		"  -h, --help             this text\n"
		"  -V, --version          print the version\n"
		"%s"
		"\nSignals: TERM/INT shut down cleanly, USR1 logs one line of counters.\n",
		info->name, info->summary, info->usage ? info->usage : "");
}

static unsigned tables_of(const struct service *s, struct config_table *t)
{
	unsigned n = 0;
	t[n++] = (struct config_table){service_keys, (void *)&s->cfg};
	for (unsigned i = 0; i < s->info->ntables && n < SERVICE_MAX_TABLES; i++)
		t[n++] = s->info->tables[i];
	return n;
}

/* "section.key=value" against every table. */
static int apply_set(struct service *s, const char *arg)
{
	char sec[64], key[64];
	const char *dot = strchr(arg, '.'), *eq = strchr(arg, '=');
	if (!dot || !eq || dot > eq || (size_t)(dot - arg) >= sizeof(sec) ||
	    (size_t)(eq - dot - 1) >= sizeof(key)) {
		fprintf(stderr, "%s: --set %s: want SECTION.KEY=VALUE\n", s->info->name, arg);
		return -1;
	}
	snprintf(sec, sizeof(sec), "%.*s", (int)(dot - arg), arg);
	snprintf(key, sizeof(key), "%.*s", (int)(eq - dot - 1), dot + 1);
	struct config_table t[SERVICE_MAX_TABLES];
	unsigned n = tables_of(s, t);
	for (unsigned i = 0; i < n; i++) {
		if (!config_find(t[i].keys, sec, key))
			continue;
		char err[256];
		if (config_set(t[i].keys, t[i].dst, sec, key, eq + 1, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s: --set: %s\n", s->info->name, err);
			return -1;
		}
		return 0;
	}
	fprintf(stderr, "%s: --set: unknown key %s.%s\n", s->info->name, sec, key);
	return -1;
}

static void print_config(struct service *s)
{
	struct config_table t[SERVICE_MAX_TABLES];
	unsigned n = tables_of(s, t);
	for (unsigned i = 0; i < n; i++)
		config_dump(stdout, t[i].keys, t[i].dst);
}

int service_parse_args(struct service *s, const struct service_info *info, void *ctx, int argc,
		       char **argv)
{
	enum { OPT_PRINT_CONFIG = 200, OPT_CHECK_CONFIG };
	static const struct option common[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"set", required_argument, NULL, 'o'},
	    {"stats-file", required_argument, NULL, 's'},
	    {"log-level", required_argument, NULL, 'l'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"print-config", no_argument, NULL, OPT_PRINT_CONFIG},
	    {"check-config", no_argument, NULL, OPT_CHECK_CONFIG},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	};
	enum { NCOMMON = sizeof(common) / sizeof(common[0]), MAX_EXTRA = 24 };
	struct option opts[NCOMMON + MAX_EXTRA + 1];
	unsigned nopt = 0;
	for (unsigned i = 0; i < NCOMMON; i++)
		opts[nopt++] = common[i];
	for (unsigned i = 0; info->options && info->options[i].name && i < MAX_EXTRA; i++)
		opts[nopt++] = info->options[i];
	opts[nopt] = (struct option){0};

	const char *sets[SERVICE_MAX_SETS];
	unsigned nsets = 0;
	const char *stats_arg = NULL, *level_arg = NULL;
	bool print = false, check = false;

	memset(s, 0, sizeof(*s));
	s->info = info;
	s->ctx = ctx;
	s->cfg = (struct service_config){.log_level = 3, .stats_interval_ms = 1000};
	log_set_ident(info->name);
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "c:o:s:l:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			snprintf(s->config_path, sizeof(s->config_path), "%s", optarg);
			break;
		case 'o':
			if (nsets == SERVICE_MAX_SETS) {
				fprintf(stderr, "%s: too many --set\n", info->name);
				return -1;
			}
			sets[nsets++] = optarg;
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
			if (c >= 256 && info->on_option) {
				int rc = info->on_option(ctx, c, optarg);
				if (rc)
					return rc;
				break;
			}
			usage(info, stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", info->name,
			argv[optind]);
		return -1;
	}
	if (s->config_path[0]) {
		struct config_table t[SERVICE_MAX_TABLES];
		unsigned n = tables_of(s, t);
		struct config_error cerr;
		if (config_load_file_tables(s->config_path, t, n, &cerr) < 0) {
			fprintf(stderr, "%s: %s\n", info->name, cerr.msg);
			return -1;
		}
	}
	for (unsigned i = 0; i < nsets; i++)
		if (apply_set(s, sets[i]) < 0)
			return -1;
	char err[256];
	if (stats_arg && config_set(service_keys, &s->cfg, "daemon", "stats_file", stats_arg, err,
				    sizeof(err)) < 0) {
		fprintf(stderr, "%s: --stats-file: %s\n", info->name, err);
		return -1;
	}
	if (level_arg && config_set(service_keys, &s->cfg, "daemon", "log_level", level_arg, err,
				    sizeof(err)) < 0) {
		fprintf(stderr, "%s: --log-level: %s\n", info->name, err);
		return -1;
	}
	log_set_level(daemon_frame_level_value(s->cfg.log_level));
	if (print) {
		print_config(s);
		return 1;
	}
	if (check) {
		printf("%s: configuration OK\n", s->config_path[0] ? s->config_path : "(defaults)");
		return 1;
	}
	return 0;
}

void service_collect_stats(struct service *s, struct stats_report *r)
{
	stats_reset(r);
	stats_add(r, NULL, "uptime_ms", monotonic_ms() - s->started_ms);
	if (s->info->collect_stats)
		s->info->collect_stats(s->ctx, r);
}

static void collect(void *owner, struct stats_report *r)
{
	service_collect_stats(owner, r);
}

int service_start(struct service *s)
{
	s->started_ms = monotonic_ms();
	s->frame = (struct daemon_frame){
	    .loop = &s->loop, .stats_file = s->cfg.stats_file, .collect = collect, .owner = s};
	if (daemon_frame_start(&s->frame, s->loop_capacity, s->cfg.stats_interval_ms) < 0)
		return SERVICE_EXIT_FAILURE;
	return 0;
}

int service_run(struct service *s)
{
	daemon_frame_write_stats(&s->frame);
	int rc = event_loop_run(&s->loop);
	if (rc < 0) {
		log_errnum(LOG_ERR, -rc, "event loop");
		return SERVICE_EXIT_FAILURE;
	}
	return SERVICE_EXIT_OK;
}

void service_stop(struct service *s)
{
	if (s->frame.loop_ready) {
		daemon_frame_write_stats(&s->frame);
		daemon_frame_log_stats(&s->frame);
		daemon_frame_free(&s->frame);
	}
}
