/* txn_log_stats - the pipeline's counters for a stats report (txn_log.h).
 * The two parser contexts (HTTP and line) are reported as one sum, so a
 * report stays within STATS_MAX_ITEMS. */
#include "txn_log_int.h"

#include <stdio.h>

#include "stats.h"

struct txn_log_stats txn_log_get_stats(const struct txn_log *l)
{
	return l->st;
}

static void sum_parser_stats(const struct txn_log *l, struct txn_parser_ctx *out)
{
	_Static_assert(sizeof(struct txn_stats) % sizeof(uint64_t) == 0,
		       "txn_stats must hold only uint64_t counters");
	*out = l->pctx[0];
	uint64_t *dst = (uint64_t *)&out->stats;
	const uint64_t *src = (const uint64_t *)&l->pctx[1].stats;
	for (size_t i = 0; i < sizeof(struct txn_stats) / sizeof(uint64_t); i++)
		dst[i] += src[i];
}

static void add(struct stats_report *r, const char *prefix, const char *name, uint64_t v)
{
	stats_add(r, prefix, name, v);
}

void txn_log_collect_stats(const struct txn_log *l, struct stats_report *r, const char *prefix)
{
	const struct txn_log_stats *s = &l->st;
	char pre[32];

	add(r, prefix, "packets", s->packets);
	add(r, prefix, "not_ipv4_tcp", s->not_ipv4_tcp);
	add(r, prefix, "malformed", s->malformed);
	add(r, prefix, "cut_short", s->cut_short);
	add(r, prefix, "not_service", s->not_service);
	add(r, prefix, "untracked", s->untracked);
	add(r, prefix, "refused", s->refused);
	add(r, prefix, "clock_backwards", s->clock_backwards);
	add(r, prefix, "conns_opened", s->conns_opened);
	add(r, prefix, "conns_closed", s->conns_closed);
	add(r, prefix, "closed_fin", s->closed_fin);
	add(r, prefix, "closed_rst", s->closed_rst);
	add(r, prefix, "closed_idle", s->closed_idle);
	add(r, prefix, "closed_other", s->closed_other);
	add(r, prefix, "txns_begun", s->txns_begun);
	add(r, prefix, "txns_ended", s->txns_ended);
	add(r, prefix, "txns_complete", s->txns_complete);
	add(r, prefix, "hashed_messages", s->hashed_messages);
	add(r, prefix, "hash_incomplete", s->hash_incomplete);
	add(r, prefix, "marks_events", s->marks_events);
	add(r, prefix, "client_window_closed", s->client_window_closed);
	add(r, prefix, "nomem", s->nomem);
	add(r, prefix, "events_dropped", s->events_dropped);

	snprintf(pre, sizeof(pre), "%s%stxn", prefix ? prefix : "", prefix && *prefix ? "_" : "");
	struct txn_parser_ctx sum;
	sum_parser_stats(l, &sum);
	txn_parser_collect_stats(&sum, r, pre);
	snprintf(pre, sizeof(pre), "%s%stags", prefix ? prefix : "", prefix && *prefix ? "_" : "");
	tags_collect_stats(&l->tags, &l->tag_st, r, pre);
	snprintf(pre, sizeof(pre), "%s%sbytes", prefix ? prefix : "", prefix && *prefix ? "_" : "");
	byte_store_collect_stats(l->bs, r, pre);
	if (l->ft) {
		snprintf(pre, sizeof(pre), "%s%sflows", prefix ? prefix : "",
			 prefix && *prefix ? "_" : "");
		flow_table_stats_report(l->ft, r, pre);
	}
}
