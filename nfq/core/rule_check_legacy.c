/* rule_check_legacy - finds NFQUEUE rules in the legacy x_tables backend
 * with libip4tc (see rule_check.h).
 *
 * Only tables the kernel lists in /proc/net/ip_tables_names (per network
 * namespace) are opened: iptc_init() on a table that does not exist yet
 * would load and create it, and a check must not change the firewall. */
#include "rule_check.h"

#include <errno.h>
#include <libiptc/libiptc.h>
#include <linux/netfilter/x_tables.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#define TABLE_NAMES "/proc/net/ip_tables_names"

static void describe(struct rule_match *m, const char *table, const char *chain,
		     const struct ipt_entry *e)
{
	char proto[24] = "";

	m->backend = RULE_BACKEND_LEGACY;
	snprintf(m->table, sizeof(m->table), "%.*s", (int)sizeof(m->table) - 1, table);
	snprintf(m->chain, sizeof(m->chain), "%.*s", (int)sizeof(m->chain) - 1, chain);
	/* Matches are not rendered (that needs the xtables extensions); the
	 * protocol is the one selector worth showing. */
	if (e->ip.proto == IPPROTO_TCP)
		snprintf(proto, sizeof(proto), " -p tcp");
	else if (e->ip.proto == IPPROTO_UDP)
		snprintf(proto, sizeof(proto), " -p udp");
	else if (e->ip.proto)
		snprintf(proto, sizeof(proto), " -p %u", e->ip.proto);
	if (m->queue_first == m->queue_last)
		snprintf(m->rule, sizeof(m->rule), "-A %s%s -j NFQUEUE --queue-num %u%s%s", chain,
			 proto, m->queue_first, m->bypass ? " --queue-bypass" : "",
			 m->cpu_fanout ? " --queue-cpu-fanout" : "");
	else
		snprintf(m->rule, sizeof(m->rule), "-A %s%s -j NFQUEUE --queue-balance %u:%u%s%s",
			 chain, proto, m->queue_first, m->queue_last,
			 m->bypass ? " --queue-bypass" : "",
			 m->cpu_fanout ? " --queue-cpu-fanout" : "");
}

/* Scans one table; returns 0 or -errno. */
static int scan_table(const char *table, uint16_t queue, struct rule_match *out, char *err,
		      size_t errlen)
{
	struct xtc_handle *h = iptc_init(table);
	if (!h) {
		int e = errno ? errno : EIO;
		snprintf(err, errlen, "libiptc: table %s: %s", table, iptc_strerror(e));
		return -e;
	}
	for (const char *chain = iptc_first_chain(h); chain; chain = iptc_next_chain(h)) {
		for (const struct ipt_entry *e = iptc_first_rule(chain, h); e;
		     e = iptc_next_rule(e, h)) {
			if (strcmp(iptc_get_target(e, h), "NFQUEUE") != 0)
				continue;
			/* The standard accessor takes a non-const entry. */
			const struct xt_entry_target *t = ipt_get_target((struct ipt_entry *)e);
			size_t len = t->u.target_size - sizeof(*t);
			uint16_t first, last;
			bool bypass, fanout;
			if (t->u.target_size < sizeof(*t) ||
			    rule_check_decode_nfq(t->u.user.revision, t->data, len, &first, &last,
						  &bypass, &fanout) != 0)
				continue;
			if (queue < first || queue > last)
				continue;
			if (out->matches++ == 0) {
				out->queue_first = first;
				out->queue_last = last;
				out->bypass = bypass;
				out->cpu_fanout = fanout;
				describe(out, table, chain, e);
			}
		}
	}
	iptc_free(h);
	return 0;
}

int rule_check_legacy(uint16_t queue, struct rule_match *out, char *err, size_t errlen)
{
	char name[64];
	int rc = 0;
	/* A table that cannot be read does not hide rules in the others. */

	memset(out, 0, sizeof(*out));
	FILE *f = fopen(TABLE_NAMES, "re");
	if (!f)
		return 0; /* ip_tables not loaded: no legacy table, no rule */
	while (fgets(name, sizeof(name), f)) {
		name[strcspn(name, "\n")] = '\0';
		if (!name[0])
			continue;
		int trc = scan_table(name, queue, out, err, errlen);
		if (trc < 0 && rc == 0)
			rc = trc;
	}
	fclose(f);
	if (rc < 0 && out->matches == 0)
		return rc;
	return out->matches > 0;
}
