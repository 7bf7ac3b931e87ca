/* session_apply - the receiving half of backend support, linked into the
 * server application on the alternate backend: the local socket on which
 * craft-agent hands over session state that may now be applied (paper
 * §4.1 step 5) and, during a recovery, the replay aids of
 * non-deterministic transactions (§3.4).
 *
 * The contract (agent <-> application), one state_msg per packet on a
 * SOCK_SEQPACKET UNIX socket that the APPLICATION listens on (path from
 * its config, mode 0660: file permissions are the access control; no
 * authentication on this hop) and the agent connects to (and reconnects
 * to after an application restart):
 *   agent -> app  APPLY {origin, seq, txn_id, flags DELETE, key, blob}:
 *                 replace session `key` by the snapshot `blob` (or remove
 *                 it with DELETE). The application answers every APPLY,
 *                 in order, with
 *   app -> agent  APPLIED {origin, seq, txn_id, status 0 ok / 1 refused}.
 *                 Until the agent has the APPLIED it does not count the
 *                 transaction in T_S, and it sends the session's next
 *                 snapshot only after it.
 *   agent -> app  SAVE chunks {txn_id, kind, total, offset, chunk} in
 *                 order, offsets contiguous from 0: a replay aid, sent
 *                 when recovery asked the agent to prepare a connection
 *                 (APPLY_UP_TO); no answer. RESPONSE: when a request with
 *                 this transaction ID arrives, send these bytes verbatim;
 *                 REGEN: the application's own regeneration state.
 * Anything else, a malformed or truncated packet, or a chunk out of order
 * is counted and dropped (a broken aid is discarded). Bounded: max_clients
 * agent connections, one aid assembly per connection of at most
 * max_aid_bytes. Callbacks run in the event loop's thread. */
#ifndef CRAFT_SESSION_APPLY_H
#define CRAFT_SESSION_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_loop;
struct stats_report;
struct session_apply;

struct session_apply_ops {
	/* 0 when applied, < 0 when the blob does not decode (APPLIED status
	 * 1: the agent counts it and drops the record). */
	int (*apply)(void *arg, uint64_t txn_id, const uint8_t *key, size_t key_len,
		     const uint8_t *blob, size_t len, bool deleted);
	/* A complete replay aid (kind enum state_aid_kind). May be NULL. */
	void (*aid)(void *arg, uint64_t txn_id, unsigned kind, const uint8_t *data, size_t len);
};

struct session_apply_counters {
	uint64_t accepted, refused_clients, closed, applies, apply_refused, deletes;
	uint64_t aid_chunks, aids, aid_broken, malformed, unexpected, send_errors;
};

/* Listens on path (a stale socket file is replaced) and registers with
 * loop. 0 or -errno (message in err). */
int session_apply_open(struct session_apply **out, const char *path, unsigned max_clients,
		       size_t max_aid_bytes, const struct session_apply_ops *ops, void *arg,
		       struct event_loop *loop, char *err, size_t errlen);
/* Unregisters, closes every socket, removes the socket file. */
void session_apply_close(struct session_apply *sa);
const struct session_apply_counters *session_apply_counters(const struct session_apply *sa);
void session_apply_collect_stats(const struct session_apply *sa, struct stats_report *r,
				 const char *prefix);

#endif
