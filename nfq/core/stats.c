/* stats - see stats.h. */
#include "stats.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void stats_reset(struct stats_report *r)
{
	r->count = 0;
	r->overflow = 0;
}

void stats_add(struct stats_report *r, const char *prefix, const char *name, uint64_t value)
{
	if (r->count >= STATS_MAX_ITEMS) {
		r->overflow++;
		return;
	}
	struct stats_item *it = &r->items[r->count++];
	if (prefix && *prefix)
		snprintf(it->name, sizeof(it->name), "%s_%s", prefix, name);
	else
		snprintf(it->name, sizeof(it->name), "%s", name);
	it->value = value;
}

uint64_t stats_get(const struct stats_report *r, const char *name)
{
	for (unsigned i = 0; i < r->count; i++)
		if (strcmp(r->items[i].name, name) == 0)
			return r->items[i].value;
	return 0;
}

char *stats_format_line(const struct stats_report *r, char *buf, size_t len)
{
	size_t used = 0;
	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (unsigned i = 0; i < r->count && used < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%s=%llu", i ? " " : "",
				 r->items[i].name, (unsigned long long)r->items[i].value);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	return buf;
}

int stats_write_file(const struct stats_report *r, const char *path)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	FILE *f = fopen(tmp, "we");
	if (!f)
		return -errno;
	for (unsigned i = 0; i < r->count; i++)
		fprintf(f, "%s %llu\n", r->items[i].name, (unsigned long long)r->items[i].value);
	if (r->overflow)
		fprintf(f, "stats_overflow %u\n", r->overflow);
	if (fclose(f) != 0) {
		int err = -errno;
		unlink(tmp);
		return err;
	}
	if (rename(tmp, path) < 0) {
		int err = -errno;
		unlink(tmp);
		return err;
	}
	return 0;
}
