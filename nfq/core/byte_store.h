/* byte_store - the logger's bounded memory of stream bytes, for recovery.
 *
 * Why: after a backend failure, recovery (paper §3.2, §4.3) resends to the
 * client the server bytes from AckCL up to the last server byte logged, and
 * replays on the alternate backend the requests it lacks. Both must come
 * from memory at once, not from the database: this store keeps the recent
 * request bytes (client -> server) and response bytes (server -> client)
 * of every connection, addressed by the stream offsets tcp_stream delivers
 * (ISN+1 is offset 0), plus a small index of where each transaction lies.
 *
 * Bounded by one budget (bytes of memory: chunk buffers, connection and
 * index bookkeeping all count). When an append would exceed it, the store
 * evicts, in this order, (1) whole closed connections, oldest closed
 * first, (2) the oldest chunks of open connections (allocation order).
 * Both are counted. A read that meets an evicted or never-kept byte fails
 * with -ENOENT: the caller (recovery) then falls back to replaying.
 *
 * Big messages: the pipeline (txn_log) decides what to keep. Bytes of a
 * message longer than its limit are hashed instead of kept (paper §3.1,
 * "a cryptographic hash ... of the file"); for a response it still keeps
 * the bytes the client has not acknowledged yet: they are appended as
 * PROVISIONAL and byte_store_trim() drops them as AckCL passes, so memory
 * stays within the TCP window while a resend from AckCL stays possible.
 *
 * Memory: chunks grow from 256 bytes to 64 KiB per stream (one malloc per
 * chunk), so a 100-byte request costs a few hundred bytes and a bulk
 * response one malloc per 64 KiB. Connections are found by conn_id in a
 * chained hash whose bucket array is sized once from `buckets`.
 *
 * Not thread-safe: one store per pipeline thread. Queries (the byte_store_
 * read/get functions) are for the same thread, e.g. a control socket
 * served from the daemon's event loop. */
#ifndef CRAFT_BYTE_STORE_H
#define CRAFT_BYTE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stats_report;

enum bs_dir {
	BS_REQ = 0,  /* client -> server bytes */
	BS_RESP = 1, /* server -> client bytes */
};

/* byte_store_append flags */
#define BS_PROVISIONAL 0x1u /* dropped by byte_store_trim once acknowledged */

struct byte_store_config {
	uint64_t budget;    /* memory in bytes (default 64 MiB) */
	uint32_t buckets;   /* hash buckets for conn_id lookups (default 65536) */
	uint32_t txn_index; /* transactions remembered per connection (default 256) */
};

#define BYTE_STORE_DEFAULT_BUDGET    ((uint64_t)64 << 20)
#define BYTE_STORE_DEFAULT_BUCKETS   65536u
#define BYTE_STORE_DEFAULT_TXN_INDEX 256u
#define BYTE_STORE_MAX_BUCKETS	     (1u << 24)
#define BYTE_STORE_MAX_TXN_INDEX     65536u

/* Where one transaction lies, as the pipeline last reported it. Offsets are
 * stream offsets (first data byte 0), ends exclusive. */
#define BS_TXN_REQ_DONE	    0x01u /* req_end valid */
#define BS_TXN_RESP_STARTED 0x02u /* resp_start valid */
#define BS_TXN_RESP_DONE    0x04u /* resp_end valid */
#define BS_TXN_REQ_HASHED   0x08u /* request too big: not kept, req_sha256 */
#define BS_TXN_RESP_HASHED  0x10u /* response too big: not kept, resp_sha256 */
#define BS_TXN_REQ_HASH_OK  0x20u /* the hash covers every request byte */
#define BS_TXN_RESP_HASH_OK 0x40u /* the hash covers every response byte */
#define BS_TXN_ENDED	    0x80u /* left the parser */

struct byte_store_txn {
	uint32_t ordinal; /* 1, 2, ... on the connection */
	uint32_t flags;	  /* BS_TXN_* */
	uint32_t tags;	  /* TAG_* (tags.h): the control socket reports them after txn_end */
	uint64_t req_start, req_end;
	uint64_t resp_start, resp_end; /* resp_end: bytes so far while !RESP_DONE */
	uint8_t req_sha256[32];	       /* valid with REQ_HASHED and REQ_DONE */
	uint8_t resp_sha256[32];       /* valid with RESP_HASHED and RESP_DONE */
};

struct byte_store_stats {
	uint64_t used;		/* bytes of the budget in use (gauge) */
	uint64_t used_max;	/* highest ever */
	uint64_t conns;		/* connections held (gauge) */
	uint64_t closed_conns;	/* ... of which closed (gauge) */
	uint64_t chunks;	/* chunks held (gauge) */
	uint64_t appended;	/* bytes appended */
	uint64_t provisional;	/* ... of which provisional */
	uint64_t overlap;	/* bytes appended again (offset already stored), ignored */
	uint64_t truncated;	/* bytes forgotten by byte_store_truncate */
	uint64_t trimmed;	/* provisional bytes dropped when acknowledged */
	uint64_t evicted_conns; /* closed connections evicted for room */
	uint64_t evicted_conn_bytes;
	uint64_t evicted_chunks; /* chunks of open connections evicted for room */
	uint64_t evicted_chunk_bytes;
	uint64_t nomem;	      /* allocations that failed (bytes not kept) */
	uint64_t too_big;     /* appends larger than the whole budget, not kept */
	uint64_t reads;	      /* byte_store_read calls */
	uint64_t read_misses; /* ... that failed with -ENOENT */
	uint64_t index_drops; /* transactions pushed out of a full index */
};

struct byte_store;
struct bs_conn; /* one connection's bytes; the pipeline's handle */

void byte_store_config_default(struct byte_store_config *cfg);
/* 0, -EINVAL (buckets or txn_index out of range), -ENOMEM. */
int byte_store_create(struct byte_store **out, const struct byte_store_config *cfg);
void byte_store_destroy(struct byte_store *bs);

/* A new connection's handle, or NULL (no memory; counted). A conn_id that
 * is still held (closed, not yet evicted) is replaced. */
struct bs_conn *byte_store_open(struct byte_store *bs, int64_t conn_id);
/* The connection ended: its bytes stay readable until evicted (closed
 * connections go first). The handle must not be used afterwards. */
void byte_store_close(struct byte_store *bs, struct bs_conn *c);

/* Appends len bytes at stream offset off of direction d. Offsets must not
 * go backwards: bytes before the stream's end are ignored (counted in
 * overlap); a jump forward leaves a hole. 0, or -ENOMEM (counted, the
 * bytes are not kept). May evict (see above), never this append's bytes
 * unless the budget is smaller than them. */
int byte_store_append(struct byte_store *bs, struct bs_conn *c, enum bs_dir d, uint64_t off,
		      const uint8_t *data, size_t len, unsigned flags);
/* Forgets every byte of d at offsets >= from (a message that turned out
 * too big to keep). */
void byte_store_truncate(struct byte_store *bs, struct bs_conn *c, enum bs_dir d, uint64_t from);
/* Makes the bytes of d at offsets >= from provisional. */
void byte_store_mark_provisional(struct byte_store *bs, struct bs_conn *c, enum bs_dir d,
				 uint64_t from);
/* Drops provisional bytes of d below offset upto (the peer acknowledged
 * them). Cheap when there is nothing to drop. */
void byte_store_trim(struct byte_store *bs, struct bs_conn *c, enum bs_dir d, uint64_t upto);
/* Does c hold provisional bytes in d? */
bool byte_store_has_provisional(const struct bs_conn *c, enum bs_dir d);

/* Calls fn for each stored piece of [a, b) of d in offset order (pieces
 * may be split at chunk borders). Returns the number of bytes of [a, b)
 * that are not stored (0: complete). */
uint64_t byte_store_conn_foreach(const struct bs_conn *c, enum bs_dir d, uint64_t a, uint64_t b,
				 void (*fn)(void *ctx, uint64_t off, const uint8_t *p, size_t n),
				 void *ctx);
/* End offset of stored bytes of d (the next offset an append continues at). */
uint64_t byte_store_conn_end(const struct bs_conn *c, enum bs_dir d);

/* Records (inserts or updates by ordinal) where a transaction lies. The
 * index keeps the newest txn_index transactions of the connection. 0 or
 * -ENOMEM. */
int byte_store_txn_put(struct byte_store *bs, struct bs_conn *c, const struct byte_store_txn *t);

/* ---- Queries by conn_id (recovery, control socket) ---- */

/* Copies bytes [a, b) of direction d of connection conn_id into dst (room
 * for b - a bytes). 0; -ENOENT when the connection is unknown (never seen
 * or evicted) or any byte of the range is not held (evicted, trimmed, too
 * big to keep, never seen); -EINVAL when b < a. "Give me server bytes
 * [a, b) of connection X" is byte_store_read(bs, X, BS_RESP, a, b, buf). */
int byte_store_read(struct byte_store *bs, int64_t conn_id, enum bs_dir d, uint64_t a, uint64_t b,
		    uint8_t *dst);
/* The end of the run of held bytes that starts at a (a itself when the byte
 * at a is not held), or -ENOENT for an unknown connection: how far a resend
 * from AckCL can go. */
int byte_store_held_until(struct byte_store *bs, int64_t conn_id, enum bs_dir d, uint64_t a,
			  uint64_t *end);
/* The index entry of transaction `ordinal`: 0 or -ENOENT. */
int byte_store_txn_get(struct byte_store *bs, int64_t conn_id, uint32_t ordinal,
		       struct byte_store_txn *out);
/* The request bytes of transaction `ordinal` ("request bytes of
 * transaction N") into dst (cap bytes), length in *len. 0; -ENOENT
 * (unknown, request not complete, hashed, or evicted); -ENOSPC when cap is
 * smaller than the request (*len says how much is needed). */
int byte_store_request(struct byte_store *bs, int64_t conn_id, uint32_t ordinal, uint8_t *dst,
		       size_t cap, size_t *len);

struct byte_store_stats byte_store_get_stats(const struct byte_store *bs);
/* Adds the counters as prefix_NAME. */
void byte_store_collect_stats(const struct byte_store *bs, struct stats_report *r,
			      const char *prefix);

#endif /* CRAFT_BYTE_STORE_H */
