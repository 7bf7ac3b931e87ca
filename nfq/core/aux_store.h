/* aux_store - the aux logger's memory of answered aux requests: for each
 * aux request seen on the way to the aux server (its line or header
 * carries the client transaction ID, txn_log's aux mode), the exact
 * response bytes the aux server sent back.
 *
 * Why its own copy and not the byte store or the database: a diverted
 * connection (aux_answer.h) must be answered at once from the event loop
 * thread, by transaction ID, also after the aux connection that carried
 * the original closed and the byte store evicted it, and the packet path
 * never waits on disk. A response is copied once, when it completed; the
 * table is a ring of max_entries (the oldest goes first, counted) and a
 * response longer than max_response is not kept (counted; a replay of it
 * is forwarded to the aux server).
 *
 * An entry is PENDING from the request's first byte until its response
 * completed (then ANSWERED) or the transaction ended without one (then it
 * is forgotten): a replay that arrives while the original's answer is
 * still on its way can wait for it instead of reaching the aux server a
 * second time. Only connections to the configured aux service port count
 * (the front's transactions carry IDs too: X-Craft-Txn). The first
 * answer for an ID is kept; a later request with the same ID (a duplicate
 * that already reached the aux server) is counted, not stored. */
#ifndef CRAFT_AUX_STORE_H
#define CRAFT_AUX_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "txn_log.h"

struct stats_report;

enum aux_lookup {
	AUX_UNKNOWN = 0, /* never seen (or forgotten): forward */
	AUX_PENDING,	 /* request seen, response not complete yet */
	AUX_ANSWERED,	 /* the stored response */
};

struct aux_store_config {
	uint16_t port;	       /* the aux service port (server side) */
	uint32_t max_entries;  /* IDs remembered */
	uint64_t max_response; /* bytes of one kept response */
};

struct aux_entry {
	bool used, done;
	uint32_t saddr; /* the aux server, host order */
	uint16_t sport;
	uint64_t aux_id;
	int64_t conn_id; /* where the original went (while pending) */
	uint32_t ordinal;
	uint32_t len;
	uint8_t *data;
};

struct aux_store_counters {
	uint64_t requests, answers_kept, answers_too_long, answers_not_held;
	uint64_t ended_unanswered, duplicate_ids, evicted, nomem;
};

struct aux_store {
	struct aux_store_config cfg;
	struct txn_log *tl;
	struct aux_entry *e;
	uint32_t next; /* ring position */
	struct aux_store_counters c;
};

/* 0 or -ENOMEM / -EINVAL (no port or entries). */
int aux_store_init(struct aux_store *s, const struct aux_store_config *cfg, struct txn_log *tl);
void aux_store_free(struct aux_store *s);
/* The observer to register on tl (txn_log_add_observer) before traffic. */
struct txn_log_observer aux_store_observer(struct aux_store *s);

/* What is known of aux_id sent to server saddr:sport (host order). With
 * AUX_ANSWERED, *data and *len give the stored bytes (valid until the next
 * packet is logged: copy them). */
enum aux_lookup aux_store_find(const struct aux_store *s, uint32_t saddr, uint16_t sport,
			       uint64_t aux_id, const uint8_t **data, size_t *len);

void aux_store_collect_stats(const struct aux_store *s, struct stats_report *r);

#endif
