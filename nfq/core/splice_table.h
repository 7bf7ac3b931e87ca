/* splice_table - the live splices of one proxy (or split-splice backend).
 *
 * A splice is found from either of its two connections: a segment from the
 * client arrives as client:port -> VIP:port (the client key), a segment
 * from the backend as backend:port -> IVIP:port (the backend key). Both
 * keys lead in O(1) to the same entry, which says which way the segment
 * travels and holds the `struct splice_dir` that rewrites it. A third hash
 * finds an entry by its splice id, for replication.
 *
 * What is replicated is `struct splice_record`: ids, both keys, both
 * directions and the lifecycle bits. The record is the only thing a peer
 * needs to forward both directions, so every proxy (and the backends that
 * run split splice) holds a copy. Records are applied idempotently
 * (splice_table_apply): an unknown id is created, a known one is updated
 * when the incoming generation is not older, the lifecycle bits only ever
 * accumulate (a closed splice never reopens, so a late duplicate ADD cannot
 * resurrect it), and a record whose key is held by another id replaces that
 * entry (the 4-tuple was reused by a new connection).
 *
 * Lifecycle: a FIN in one direction is remembered with the sequence number
 * that acknowledges it (in the sender's numbering); an ACK travelling the
 * other way, translated by its direction's ack_delta into the same
 * numbering, acknowledges it. FIN acknowledged both ways, or an RST, or a
 * DEL from a peer closes the splice: it then lingers and is removed after
 * linger_ms. A lingering entry is a tombstone (late copies of its record
 * cannot reopen it); the daemons forward nothing through it, since its
 * tuple may already carry a new connection. Entries without a segment for
 * idle_ms are removed. Expiry is O(expired): entries sit on two
 * lists kept in time order (active by last segment, lingering by close).
 *
 * Memory: one slot array of max_entries allocated (lazily touched) at
 * create, three bucket arrays, nothing on the packet path. Slot indices are
 * stable, which gives a cursor (splice_table_next) that survives inserts
 * and deletes during a long paced walk such as a sync dump.
 *
 * The caller drives time (monotonic ms on every call); not locked.
 */
#ifndef CRAFT_SPLICE_TABLE_H
#define CRAFT_SPLICE_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "splice_rewrite.h"

struct stats_report;
struct splice_table;
struct splice_endpoints;

/* A 4-tuple as a packet arrives at the proxy, host order. */
struct splice_key {
	uint32_t saddr, daddr;
	uint16_t sport, dport;
};

enum splice_way {
	SPLICE_C2B = 0, /* client -> backend (matched by the client key) */
	SPLICE_B2C = 1, /* backend -> client (matched by the backend key) */
};

/* Lifecycle bits of struct splice_record.state; they only accumulate,
 * except OWED, which follows the record with the newest gen. */
#define SPLICE_ST_FIN_C2B	(1u << 0) /* fin_end[SPLICE_C2B] valid */
#define SPLICE_ST_FIN_B2C	(1u << 1)
#define SPLICE_ST_FIN_C2B_ACKED (1u << 2)
#define SPLICE_ST_FIN_B2C_ACKED (1u << 3)
#define SPLICE_ST_RST		(1u << 4)
#define SPLICE_ST_CLOSED	(1u << 5) /* lingering */
/* The creator still delivers request bytes it drained (splice_inject): the
 * backend's acknowledgements must reach it, so the other proxies send
 * backend -> client segments there. Cleared (gen + 1) once delivered. */
#define SPLICE_ST_OWED (1u << 6)
#define SPLICE_ST_ALL  0x7fu

/* Why a splice closed (also the reason carried by a DEL message). */
enum splice_close_reason {
	SPLICE_CLOSE_NONE = 0,
	SPLICE_CLOSE_FIN = 1,	/* FIN acknowledged both ways */
	SPLICE_CLOSE_RST = 2,	/* RST seen */
	SPLICE_CLOSE_IDLE = 3,	/* no segment for idle_ms */
	SPLICE_CLOSE_ADMIN = 4, /* an operator or the recovery path */
	/* The client opened a new connection on the splice's tuple: the
	 * splice is over and its entry goes at once (splice_table_reused). */
	SPLICE_CLOSE_REUSED = 5,
	SPLICE_CLOSE_NREASONS = 6
};

/* The replicated state of one splice. */
struct splice_record {
	uint64_t id;		       /* creator << 32 | counter, never 0 */
	uint32_t gen;		       /* bumped by whoever changes dir/keys */
	uint32_t creator;	       /* node id of the creating proxy */
	uint16_t backend;	       /* backend index (the proxy's numbering) */
	uint8_t state;		       /* SPLICE_ST_* */
	uint8_t close_reason;	       /* enum splice_close_reason, with CLOSED */
	struct splice_key client_key;  /* client:port -> VIP:port */
	struct splice_key backend_key; /* backend:port -> IVIP:port */
	struct splice_dir dir[2];      /* indexed by enum splice_way */
	uint32_t fin_end[2];	       /* ack that covers the FIN, sender numbering */
};

/* Consistency errors of a record, all negative. */
enum splice_record_error {
	SPLICE_REC_OK = 0,
	SPLICE_REC_EID = -1,	 /* id 0 or id >> 32 != creator */
	SPLICE_REC_EWSCALE = -2, /* a window scale above 14 */
	SPLICE_REC_EDELTA = -3,	 /* ack/TSecr deltas not the negation of the other side */
	SPLICE_REC_EADDR = -4,	 /* keys disagree with the directions, or zero */
	SPLICE_REC_ESTATE = -5,	 /* unknown state bits, reason without CLOSED, ts mismatch */
	SPLICE_REC_NERRORS = 6
};

/* Checks everything a record must satisfy (see splice_rewrite.h for the
 * delta invariants); the keys must mirror the directions: the c2b
 * direction rewrites to IVIP -> backend, i.e. the reverse of the backend
 * key, and b2c to VIP -> client, the reverse of the client key. */
int splice_record_check(const struct splice_record *rec);
const char *splice_record_error_name(int code);

/* A fresh record (gen 1, state 0) from the endpoints of a splice. */
void splice_record_from_endpoints(struct splice_record *rec, uint64_t id, uint16_t backend,
				  const struct splice_endpoints *e);

struct splice_entry {
	struct splice_record rec; /* read-only outside splice_table.c */
	uint64_t created_ms;
	uint64_t last_seen_ms;
	uint64_t closed_ms;
	void *user; /* the caller's */
	/* Private to splice_table.c. */
	uint32_t hnext[3];
	uint32_t lprev, lnext;
	uint8_t in_use;
};

enum splice_remove_reason {
	SPLICE_RM_FINISHED,  /* linger time over */
	SPLICE_RM_IDLE,	     /* no segment for idle_ms */
	SPLICE_RM_DELETED,   /* splice_table_delete / _remove */
	SPLICE_RM_REPLACED,  /* another id took one of its keys */
	SPLICE_RM_EVICTED,   /* lingering entry dropped to make room */
	SPLICE_RM_DESTROYED, /* splice_table_destroy */
	SPLICE_RM_REUSED,    /* splice_table_reused */
};

struct splice_table_callbacks {
	/* The entry is about to go; release e->user. Must not call back into
	 * the table. May be NULL. */
	void (*removed)(void *ctx, struct splice_entry *e, enum splice_remove_reason why);
	void *ctx;
};

struct splice_table_config {
	unsigned max_entries; /* capacity */
	uint64_t idle_ms;     /* removal after this long without a segment */
	uint64_t linger_ms;   /* kept this long after closing */
	uint32_t creator;     /* this node's id, for splice_table_new_id */
	uint64_t hash_seed;   /* 0: random */
};

#define SPLICE_TABLE_DEFAULT_MAX     65536u
#define SPLICE_TABLE_MAX_LIMIT	     (1u << 22)
#define SPLICE_TABLE_DEFAULT_IDLE_MS (15u * 60u * 1000u)
#define SPLICE_TABLE_DEFAULT_LINGER  10000u

struct splice_table_stats {
	uint64_t created;    /* new ids */
	uint64_t updated;    /* known id, something changed */
	uint64_t duplicates; /* known id, nothing changed */
	uint64_t stale;	     /* known id, older generation: ignored */
	uint64_t invalid;    /* records failing splice_record_check */
	uint64_t full;	     /* refused: no room */
	uint64_t replaced;   /* entries displaced by a key conflict */
	uint64_t evicted;    /* lingering entries dropped for room */
	uint64_t closed[SPLICE_CLOSE_NREASONS];
	uint64_t finished; /* removed after lingering */
	uint64_t expired;  /* removed idle */
	uint64_t deleted;  /* removed by id */
};

void splice_table_config_default(struct splice_table_config *cfg);
/* 0, -EINVAL (max_entries 0 or above the limit), -ENOMEM. cb may be NULL. */
int splice_table_create(struct splice_table **out, const struct splice_table_config *cfg,
			const struct splice_table_callbacks *cb);
void splice_table_destroy(struct splice_table *t);

/* A fresh id: creator << 32 | counter, the counter starting at a random
 * value and skipping ids present (a restarted proxy may get its old
 * splices back through a sync). */
uint64_t splice_table_new_id(struct splice_table *t);

/* Outcome of splice_table_apply (non-negative). */
enum splice_apply_result {
	SPLICE_APPLY_NEW = 0,
	SPLICE_APPLY_UPDATED = 1,
	SPLICE_APPLY_DUPLICATE = 2,
	SPLICE_APPLY_STALE = 3,
};

/* Creates or updates the entry of rec->id (see the top comment). Returns an
 * enum splice_apply_result, or -EINVAL (record inconsistent), -ENOSPC
 * (full; counted). *out (may be NULL) gets the entry unless STALE / error. */
int splice_table_apply(struct splice_table *t, const struct splice_record *rec, uint64_t now,
		       struct splice_entry **out);

/* The entry a segment belongs to, and its way; NULL if none. */
struct splice_entry *splice_table_lookup(const struct splice_table *t, uint32_t saddr,
					 uint16_t sport, uint32_t daddr, uint16_t dport,
					 enum splice_way *way);
struct splice_entry *splice_table_find(const struct splice_table *t, uint64_t id);

/* Records a segment of entry e travelling `way` (original, unrewritten
 * seq/ack and TCP flags): refreshes last_seen and tracks FIN/ACK/RST.
 * Returns true when this segment closed the splice (the caller then tells
 * the peers; a close learnt from a peer through splice_table_apply or
 * applied with splice_table_close is not reported again). */
bool splice_table_note(struct splice_table *t, struct splice_entry *e, enum splice_way way,
		       uint8_t tcp_flags, uint32_t seq, uint32_t ack, uint32_t payload_len,
		       uint64_t now);
/* Refreshes last_seen only (e.g. a peer saw traffic). */
void splice_table_touch(struct splice_table *t, struct splice_entry *e, uint64_t now);
/* Starts lingering; true if it was open. */
bool splice_table_close(struct splice_table *t, struct splice_entry *e,
			enum splice_close_reason why, uint64_t now);

/* The splice's tuple carries a new connection (a client SYN on its client
 * key): removes the entry now, counted as closed for SPLICE_CLOSE_REUSED
 * (a lingering entry too: lingering, it would rewrite the new connection's
 * segments into the old one). */
void splice_table_reused(struct splice_table *t, struct splice_entry *e);

/* Removes now. _delete returns 0 or -ENOENT. */
void splice_table_remove(struct splice_table *t, struct splice_entry *e);
int splice_table_delete(struct splice_table *t, uint64_t id);

/* Timer work: removes lingering entries closed linger_ms ago and active
 * ones idle for idle_ms. Returns the number removed. */
unsigned splice_table_expire(struct splice_table *t, uint64_t now);

/* Stable cursor: the next entry at or after *cursor (start at 0), moving
 * *cursor past it; NULL at the end. Entries added behind the cursor during
 * a walk are not returned; removing entries is allowed. */
struct splice_entry *splice_table_next(const struct splice_table *t, uint32_t *cursor);

unsigned splice_table_count(const struct splice_table *t);
unsigned splice_table_lingering(const struct splice_table *t);
const struct splice_table_stats *splice_table_stats(const struct splice_table *t);
void splice_table_collect_stats(const struct splice_table *t, struct stats_report *r,
				const char *prefix);

/* Which of nproxies proxies owns a not-yet-spliced connection: a fixed,
 * unseeded hash of the client tuple (every proxy computes the same) fed to
 * a jump consistent hash (Lamping & Veach), so that growing the set from n
 * to n+1 proxies moves only about 1/(n+1) of the connections. Proxies must
 * number themselves identically (e.g. the sorted order of their ids).
 * Returns 0 when nproxies is 0. */
uint32_t splice_owner(const struct splice_key *client_tuple, unsigned nproxies);
/* The same over the live members (live[i] for proxy i of nproxies): the
 * configured owner while it is live, else the jump hash over the live ones
 * in the same order, so a dead proxy's share moves and nothing else does.
 * Every proxy and load balancer with the same live set agrees. No live
 * member: the configured owner. */
uint32_t splice_owner_live(const struct splice_key *client_tuple, unsigned nproxies,
			   const bool *live);

#endif
