/* txn_log_store - the observer that turns txn_log events into database
 * rows (store.h), for the daemon and for craft-pcap --db.
 *
 * Rows (kinds from store_stmt.h; offsets converted to the database
 * convention, stream offset + 1, see schema/README.md):
 *   conn_open       CONNECTION_OPEN (state "open" or "midstream")
 *   conn_update     CONNECTION_UPDATE (the server's ISN)
 *   transactions    events are coalesced per transaction: when it ends,
 *                   or once it has been pending for marks_interval (checked
 *                   at each batch_end and tick), it gets one
 *                   TRANSACTION_UPSERT (state "request", "response", then
 *                   why it ended: complete, eof, error, gap, opaque, abort;
 *                   times, sizes, summary "METHOD target" or the command
 *                   line, status, aux_txn_id) and one SEQ_OFFSETS row with
 *                   every offset known; the first write adds TAGS (source
 *                   "rules line N" or "default")
 *   request_done    PAYLOAD rows of the request when persist_requests says
 *                   so (update transactions by default), or a DIGEST row
 *                   when it was too big to keep
 *   response_done   PAYLOAD rows of a kept response (persist_responses) or
 *                   a DIGEST row of a hashed one
 *   txn_end         a DIGEST row (complete = 0) for a hashed message cut
 *                   short
 *   marks           CONN_MARKS (AckCL, last server byte, last client byte;
 *                   txn_log already limits these to one per marks_interval
 *                   per connection)
 *   conn_close      CONNECTION_CLOSE (state "closed", "reset-by-server",
 *                   "reset-by-client", "idle", "evicted", "shutdown", ...)
 * A small GET that completes within marks_interval costs five rows:
 * upsert, tags, offsets, and a payload row for each side.
 * Payload rows hold at most payload_row_bytes each (and never more than the
 * store's max_value_bytes); bytes the byte store no longer holds are
 * counted, not written.
 *
 * store_submit() never blocks: a full queue refuses the row, which is
 * counted here (dropped_full) and by the store, and logging goes on. An
 * offline tool that must not lose rows sets wait_when_full: a refused row
 * then waits for the writer (store_flush) and is submitted again. */
#ifndef CRAFT_TXN_LOG_STORE_H
#define CRAFT_TXN_LOG_STORE_H

#include <stdint.h>

#include "store.h"
#include "txn_log.h"

struct txn_log_store_stats {
	uint64_t rows;		  /* rows the store accepted */
	uint64_t dropped_full;	  /* rows refused: queue full */
	uint64_t rejected;	  /* rows refused otherwise (size, kind) */
	uint64_t payload_rows;	  /* ... of the accepted, payload rows */
	uint64_t payload_bytes;	  /* bytes in them */
	uint64_t payload_missing; /* bytes to persist that were no longer held */
	uint64_t digests;	  /* digest rows accepted */
};

/* Transactions waiting to be written (see "transactions" above); when
 * more are in flight, all are written at once. */
#define TXN_LOG_STORE_PENDING 256

struct txn_log_pending {
	int64_t conn_id;
	int proto;
	bool fresh;	      /* not written yet: write its tags too */
	uint64_t first_us;    /* noted first (pending since) */
	uint64_t now_us;      /* its latest event */
	struct txn_log_txn t; /* the latest state */
};

struct txn_log_store {
	struct store *st;
	struct txn_log *log;
	bool wait_when_full;  /* tools only: retry after store_flush() */
	int persist_requests; /* copied from the log's config */
	bool persist_responses;
	uint64_t row_delay_us; /* marks_interval */
	uint32_t row_bytes;    /* payload bytes per row */
	uint8_t *buf;	       /* row_bytes */
	struct txn_log_pending *pend;
	uint32_t npend;
	uint64_t now_us; /* latest time seen */
	struct txn_log_store_stats s;
};

/* Binds the observer to a store and a pipeline (whose byte store supplies
 * payload bytes and whose config the persistence settings). 0 or -ENOMEM. */
int txn_log_store_init(struct txn_log_store *o, struct store *st, struct txn_log *log,
		       uint64_t max_value_bytes);
/* Writes the transactions still pending, then frees; call it before
 * store_close() (after txn_log_destroy() is fine). */
void txn_log_store_free(struct txn_log_store *o);
/* The observer to register with txn_log_add_observer(). */
struct txn_log_observer txn_log_store_observer(struct txn_log_store *o);

void txn_log_store_collect_stats(const struct txn_log_store *o, struct stats_report *r,
				 const char *prefix);

#endif /* CRAFT_TXN_LOG_STORE_H */
