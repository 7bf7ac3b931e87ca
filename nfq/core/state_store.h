/* state_store - what the agent on an alternate backend holds (paper §4.1
 * steps 3 and 5, §4.2 T_S and T_A): session state pushed by the primary's
 * application, the logger's "response fully logged" marks, and the replay
 * aids of non-deterministic transactions. Pure bookkeeping, no I/O: the
 * agent feeds it decoded messages and asks it what to hand to the
 * application next, so every rule below is unit-tested without sockets.
 *
 * Why the rules are what they are:
 * - A record is a complete snapshot of one session after one update
 *   transaction (the library's contract), versioned (origin, seq) by the
 *   pushing instance. Applying a snapshot replaces the session, so a later
 *   snapshot subsumes earlier ones and an apply is idempotent.
 * - A record may reach the application only after the logger reported its
 *   transaction's response completely logged (step 5), so that T_S <= T_L
 *   always holds: state never runs ahead of what recovery can replay. A
 *   session's records are applied strictly in version order, one in
 *   flight at a time, because a later snapshot also holds the effects of
 *   earlier transactions (on other connections of the same session) whose
 *   responses may not be logged yet.
 * - A head record whose LOGGED mark never comes (lost datagram, client gone
 *   mid-response) would stall its session: after apply_timeout it is
 *   applied anyway, counted as forced, and the connection's replies carry
 *   STATE_REPLY_F_FORCED so recovery knows T_S may exceed T_L there.
 * - LOGGED may overtake its STATE (retransmission): marks without a record
 *   are kept in a bounded ring and matched when the record arrives.
 * - The last applied snapshot of each session is kept (within max_bytes)
 *   and re-sent whenever the application connects again, so a restarted
 *   alternate application gets its sessions back and T_S stays true.
 * - A retransmitted STATE whose version was applied already is refused as
 *   a duplicate: the session remembers its applied version even when it
 *   holds no records (sessions are evicted least recently used).
 * - Per connection (client ip:port of the transaction ID) the store keeps
 *   T_S (last applied) and T_A (last available) for recovery; APPLY_UP_TO
 *   marks the connection's records up to T_R - 1 ready (recovery knows
 *   they are at most T_L) and may discard the later ones, which recovery
 *   will replay (their aids stay: the replay needs exactly those).
 * - Replay aids (saved responses) are kept until their response is logged
 *   (then no replay will need them) and handed to the application only
 *   when recovery asks for their connection.
 * Everything is bounded by the config: records, bytes, sessions, records
 * per session, connections, aids, early marks; refusals are counted.
 * Ordinals are the ID's low 16 bits and compare as plain numbers (they
 * wrap after 65535 transactions on one connection; T_S/T_A of such a
 * connection are wrong after the wrap: out of scope, as in the logger). Not thread-safe: one store
 * per agent thread. */
#ifndef CRAFT_STATE_STORE_H
#define CRAFT_STATE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "state_msg.h"

struct stats_report;

struct state_store_config {
	uint32_t max_records;	   /* records held (not yet applied) */
	uint64_t max_bytes;	   /* key + blob bytes of records, plus aid bytes */
	uint32_t max_sessions;	   /* sessions known (held records or applied version) */
	uint32_t max_per_session;  /* records held per session */
	uint32_t max_conns;	   /* connections with T_S/T_A */
	uint32_t max_aids;	   /* saved responses */
	uint32_t max_early;	   /* LOGGED marks waiting for their record */
	uint64_t apply_timeout_ms; /* force a stalled head record; 0 = never */
};

/* Section "store": max_records, max_bytes, max_sessions, max_per_session,
 * max_conns, max_aids, max_early, apply_timeout. */
extern const struct config_key state_store_config_keys[];
void state_store_config_default(struct state_store_config *cfg);

enum ss_rec_state { SS_HELD, SS_INFLIGHT };

struct ss_record {
	uint64_t origin, seq, txn_id;
	uint64_t arrived_ms;
	uint8_t flags; /* STATE_F_DELETE */
	uint8_t key_len;
	uint32_t blob_len;
	bool used, logged, forced;
	enum ss_rec_state state;
	uint32_t session;   /* index */
	uint32_t hash_next; /* by txn id */
	uint8_t *data;	    /* key, then blob */
};

struct ss_session {
	bool used;
	uint8_t key_len;
	uint8_t key[STATE_KEY_MAX];
	uint64_t applied_origin, applied_seq, applied_txn; /* 0: none */
	uint64_t last_use_ms;
	uint32_t nrec;
	uint32_t *rec; /* record indexes, by version; max_per_session */
	uint32_t hash_next;
	/* The last applied snapshot (key, then blob), kept to re-apply after
	 * the application reconnects (state_store_resync). */
	uint8_t *snap;
	uint32_t snap_blob_len;
	bool resend, snap_inflight;
};

struct ss_conn {
	bool used, forced;
	uint64_t conn; /* ip << 16 | port */
	uint64_t t_s, t_a;
	uint64_t last_use_ms;
};

struct ss_aid {
	bool used, complete;
	uint64_t origin, seq, txn_id, arrived_ms;
	uint8_t kind;
	uint32_t total, have;
	uint8_t *data;
};

struct state_store_counters {
	uint64_t records_stored, duplicates, stale, refused_full, refused_bytes;
	uint64_t refused_session_full, refused_sessions, logged_marks, logged_early;
	uint64_t early_dropped, delivered, applied, apply_refused;
	uint64_t forced_timeout, forced_recovery, discarded, sessions_evicted;
	uint64_t conns_evicted, aid_chunks, aids_complete, aids_refused, aids_evicted;
	uint64_t aids_dropped_logged, requeued, resyncs, resent;
};

struct state_store {
	struct state_store_config cfg;
	struct ss_record *rec;
	uint32_t *rec_free, nrec_free;
	uint32_t *rec_hash, nrec_hash; /* txn id -> record chain */
	struct ss_session *sess;
	uint32_t *sess_hash, nsess_hash;
	uint32_t nsess;
	struct ss_conn *conn;
	struct ss_aid *aid;
	uint64_t *early; /* ring of txn ids */
	uint32_t early_head, nearly;
	uint64_t bytes;
	struct ss_record resync_rec; /* what next() returns for a re-sent snapshot */
	struct state_store_counters c;
};

/* 0, -EINVAL (a zero limit), -ENOMEM. */
int state_store_init(struct state_store *st, const struct state_store_config *cfg);
void state_store_free(struct state_store *st);

/* A STATE message. Returns an enum state_ack_status for the ACK. */
int state_store_put(struct state_store *st, const struct state_push *p, uint64_t now_ms);
/* A SAVE chunk; *stored gets the bytes held for it. enum state_ack_status. */
int state_store_save(struct state_store *st, const struct state_save *s, uint64_t now_ms,
		     uint32_t *stored);
/* A LOGGED mark for one transaction. */
void state_store_logged(struct state_store *st, uint64_t txn_id, uint64_t now_ms);

/* The next record the application should apply (its session's head, ready,
 * nothing of its session in flight; a snapshot to re-send first), marked
 * in flight; NULL when none. The key and blob stay valid until
 * state_store_applied for it; the struct itself only until the next call. */
const struct ss_record *state_store_next(struct state_store *st, uint64_t now_ms);
/* The application acknowledged (ok) or refused (!ok) record (origin, seq);
 * either way it leaves the store (a refused blob is counted: retrying the
 * same bytes cannot help). false when no such record was in flight. */
bool state_store_applied(struct state_store *st, uint64_t origin, uint64_t seq, bool ok,
			 uint64_t now_ms);
/* The application went away: records in flight become ready again. */
void state_store_requeue(struct state_store *st);
/* The application (re)connected, maybe restarted with no sessions: every
 * session's last applied snapshot is sent again before anything newer
 * (idempotent: a snapshot replaces the session). T_S stays truthful. */
void state_store_resync(struct state_store *st);

/* Recovery: marks the connection's held records with ordinal <= up_to
 * ready and drops its aids up to up_to (never replayed); with
 * STATE_APPLY_DISCARD_AFTER it also drops the later records. Returns how many records of the
 * connection up to up_to are still to be applied. */
unsigned state_store_apply_up_to(struct state_store *st, uint32_t ip, uint16_t port, uint32_t up_to,
				 uint8_t flags, uint64_t now_ms);
/* Records of the connection with ordinal <= up_to not applied yet. */
unsigned state_store_conn_unapplied(const struct state_store *st, uint32_t ip, uint16_t port,
				    uint32_t up_to);
/* Complete aids of the connection with ordinal > after, one per call
 * (*cursor starts at 0); NULL at the end. */
const struct ss_aid *state_store_conn_aid(const struct state_store *st, uint32_t ip, uint16_t port,
					  uint32_t after, uint32_t *cursor);

/* T_S, T_A and counts for recovery's QUERY (status OK or UNKNOWN). */
void state_store_query_conn(const struct state_store *st, uint32_t ip, uint16_t port,
			    struct state_reply *out);
void state_store_query_session(const struct state_store *st, const uint8_t *key, size_t key_len,
			       struct state_reply *out);

uint32_t state_store_held(const struct state_store *st);
void state_store_collect_stats(const struct state_store *st, struct stats_report *r,
			       const char *prefix);

#endif
