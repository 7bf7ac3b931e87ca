/* stats - counters a daemon exposes while it runs.
 *
 * Every module keeps its own counters in its own struct; at report time the
 * daemon gathers them into one `stats_report` (name/value pairs) and either
 * logs it as one line (SIGUSR1) or rewrites the stats file atomically (write
 * to a temporary file, rename), so a reader never sees half a file. The file
 * is "name value" per line: trivial for shell tests and operators
 * (`awk '$1=="packets"{print $2}'`).
 */
#ifndef CRAFT_STATS_H
#define CRAFT_STATS_H

#include <stddef.h>
#include <stdint.h>

/* craft-logger with failure detection and a control channel reports ~300
 * counters; room for that and more (28 KiB per report). */
#define STATS_MAX_ITEMS 512
#define STATS_NAME_MAX	48

struct stats_item {
	char name[STATS_NAME_MAX];
	uint64_t value;
};

struct stats_report {
	unsigned count;
	unsigned overflow; /* items that did not fit */
	struct stats_item items[STATS_MAX_ITEMS];
};

void stats_reset(struct stats_report *r);
/* Adds "prefix_name" (or "name" when prefix is NULL or empty). */
void stats_add(struct stats_report *r, const char *prefix, const char *name, uint64_t value);
/* Returns the value of `name`, or 0 when absent. */
uint64_t stats_get(const struct stats_report *r, const char *name);
/* "name=value name=value ..." into buf, cut at len; returns buf. */
char *stats_format_line(const struct stats_report *r, char *buf, size_t len);
/* Atomically replaces `path`. Returns 0 or -errno. */
int stats_write_file(const struct stats_report *r, const char *path);

#endif
