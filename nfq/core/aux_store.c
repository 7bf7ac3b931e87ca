/* aux_store - see aux_store.h. */
#include "aux_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "byte_store.h"
#include "stats.h"

int aux_store_init(struct aux_store *s, const struct aux_store_config *cfg, struct txn_log *tl)
{
	memset(s, 0, sizeof(*s));
	if (!cfg->port || !cfg->max_entries)
		return -EINVAL;
	s->cfg = *cfg;
	s->tl = tl;
	s->e = calloc(cfg->max_entries, sizeof(*s->e));
	return s->e ? 0 : -ENOMEM;
}

void aux_store_free(struct aux_store *s)
{
	for (uint32_t i = 0; s->e && i < s->cfg.max_entries; i++)
		free(s->e[i].data);
	free(s->e);
	s->e = NULL;
}

static struct aux_entry *by_id(const struct aux_store *s, uint32_t saddr, uint16_t sport,
			       uint64_t id)
{
	for (uint32_t i = 0; i < s->cfg.max_entries; i++) {
		struct aux_entry *e = &s->e[i];
		if (e->used && e->aux_id == id && e->saddr == saddr && e->sport == sport)
			return e;
	}
	return NULL;
}

static struct aux_entry *by_txn(const struct aux_store *s, int64_t conn_id, uint32_t ordinal)
{
	for (uint32_t i = 0; i < s->cfg.max_entries; i++) {
		struct aux_entry *e = &s->e[i];
		if (e->used && !e->done && e->conn_id == conn_id && e->ordinal == ordinal)
			return e;
	}
	return NULL;
}

static void forget(struct aux_entry *e)
{
	free(e->data);
	memset(e, 0, sizeof(*e));
}

static bool ours(const struct aux_store *s, const struct txn_log_conn *c)
{
	return c->sport == s->cfg.port;
}

static void on_begin(void *ctx, const struct txn_log_conn *c, const struct txn_log_txn *t)
{
	struct aux_store *s = ctx;
	if (!ours(s, c) || !t->has_aux_id)
		return;
	s->c.requests++;
	struct aux_entry *e = by_id(s, c->saddr, c->sport, t->aux_id);
	if (e) {
		/* the first answer stays: it is what the application saw first */
		s->c.duplicate_ids++;
		if (!e->done) {
			e->conn_id = c->conn_id;
			e->ordinal = t->ordinal;
		}
		return;
	}
	e = &s->e[s->next];
	s->next = (s->next + 1) % s->cfg.max_entries;
	if (e->used)
		s->c.evicted++;
	forget(e);
	*e = (struct aux_entry){.used = true,
				.saddr = c->saddr,
				.sport = c->sport,
				.aux_id = t->aux_id,
				.conn_id = c->conn_id,
				.ordinal = t->ordinal};
}

static void on_response_done(void *ctx, const struct txn_log_conn *c, const struct txn_log_txn *t,
			     uint64_t t_us)
{
	(void)t_us;
	struct aux_store *s = ctx;
	if (!ours(s, c) || !t->has_aux_id)
		return;
	struct aux_entry *e = by_txn(s, c->conn_id, t->ordinal);
	if (!e)
		return;
	uint64_t len = t->resp_end - t->resp_start;
	if (t->resp_hashed || len > s->cfg.max_response) {
		s->c.answers_too_long++;
		forget(e);
		return;
	}
	uint8_t *p = malloc(len ? len : 1);
	if (!p) {
		s->c.nomem++;
		forget(e);
		return;
	}
	if (byte_store_read(txn_log_bytes(s->tl), c->conn_id, BS_RESP, t->resp_start, t->resp_end,
			    p) < 0) {
		s->c.answers_not_held++;
		free(p);
		forget(e);
		return;
	}
	e->data = p;
	e->len = (uint32_t)len;
	e->done = true;
	s->c.answers_kept++;
}

static void on_end(void *ctx, const struct txn_log_conn *c, const struct txn_log_txn *t)
{
	struct aux_store *s = ctx;
	if (!ours(s, c) || !t->has_aux_id)
		return;
	struct aux_entry *e = by_txn(s, c->conn_id, t->ordinal);
	if (e) { /* no answer will come: a replay must reach the aux server */
		s->c.ended_unanswered++;
		forget(e);
	}
}

struct txn_log_observer aux_store_observer(struct aux_store *s)
{
	return (struct txn_log_observer){.txn_begin = on_begin,
					 .txn_response_done = on_response_done,
					 .txn_end = on_end,
					 .ctx = s};
}

enum aux_lookup aux_store_find(const struct aux_store *s, uint32_t saddr, uint16_t sport,
			       uint64_t aux_id, const uint8_t **data, size_t *len)
{
	const struct aux_entry *e = by_id(s, saddr, sport, aux_id);
	if (!e)
		return AUX_UNKNOWN;
	if (!e->done)
		return AUX_PENDING;
	*data = e->data;
	*len = e->len;
	return AUX_ANSWERED;
}

void aux_store_collect_stats(const struct aux_store *s, struct stats_report *r)
{
	uint64_t held = 0;
	for (uint32_t i = 0; s->e && i < s->cfg.max_entries; i++)
		held += s->e[i].used;
	stats_add(r, "aux_store", "entries", held);
	stats_add(r, "aux_store", "requests", s->c.requests);
	stats_add(r, "aux_store", "answers_kept", s->c.answers_kept);
	stats_add(r, "aux_store", "answers_too_long", s->c.answers_too_long);
	stats_add(r, "aux_store", "answers_not_held", s->c.answers_not_held);
	stats_add(r, "aux_store", "ended_unanswered", s->c.ended_unanswered);
	stats_add(r, "aux_store", "duplicate_ids", s->c.duplicate_ids);
	stats_add(r, "aux_store", "evicted", s->c.evicted);
	stats_add(r, "aux_store", "nomem", s->c.nomem);
}
