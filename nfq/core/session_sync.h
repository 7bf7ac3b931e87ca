/* session_sync - the library a server application links to push its
 * session state to the agent on its alternate backend (paper §3.3, §4.1
 * step 3, §3.4).
 *
 * The contract with the application:
 * - After each update transaction, call session_sync_push() with the
 *   transaction's ID, the session key and a COMPLETE snapshot of the
 *   session as it is after that transaction (an opaque blob of at most
 *   STATE_BLOB_MAX bytes; DELETE when the session ended). Snapshots, not
 *   deltas: applying the newest one is all the alternate ever needs, so a
 *   lost or refused push only makes T_A lag (recovery replays), never
 *   corrupts the alternate.
 * - Asynchronous by default: the push is sealed (auth_msg.h, the cluster
 *   key) and sent at once from the caller's thread, then kept in a bounded
 *   queue until the agent acknowledges it; session_sync_tick() resends
 *   unacknowledged ones every retransmit interval, at most max_tries times.
 *   A full queue refuses the push (-ENOBUFS, counted as overflow). Drive
 *   the library from the application's event loop: watch
 *   session_sync_fd() for input (session_sync_on_readable) and call
 *   session_sync_tick() from a timer (every 10-50 ms).
 * - Synchronous for transactions the application knows to be
 *   non-deterministic (paper §3.4), before it sends the response:
 *   SESSION_SYNC_WAIT on a push returns only once the agent acknowledged it
 *   or sync_timeout passed (-ETIMEDOUT); session_sync_save_response() saves
 *   the whole response (sent verbatim if the transaction is replayed), and
 *   session_sync_save_regen() the state needed to regenerate it
 *   deterministically, in chunks acknowledged one by one. While it waits
 *   the call blocks the calling thread (poll on the socket, bounded by
 *   sync_timeout); acknowledgements of queued pushes that arrive meanwhile
 *   are processed too. What to do when a synchronous save fails is the
 *   application's policy (serve anyway and risk an RST on failover, or
 *   refuse); the library only reports it.
 * - Aux requests carry the transaction ID (§3.3): session_sync_txn_header
 *   formats "X-Craft-Txn: <16 hex>\r\n" for HTTP, session_sync_txn_tag
 *   "craft<16 hex>" for line protocols (IMAP-style tag; the aux logger's
 *   line parser reads it with id = craft). A backend must not believe an
 *   X-Craft-Txn from a client: the recovery manager's replays carry it
 *   with an X-Craft-Txn-Auth tag (txn_header_auth.h), which the
 *   application verifies with the cluster key.
 * Everything is bounded (queue entries and bytes, chunk sizes, receive
 * burst); forged, replayed or garbled acknowledgements are counted and
 * ignored. Not thread-safe: one instance per thread. */
#ifndef CRAFT_SESSION_SYNC_H
#define CRAFT_SESSION_SYNC_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "state_msg.h"

struct stats_report;
struct session_sync;

#define SESSION_SYNC_WAIT   0x1u /* synchronous: wait for the agent's ack */
#define SESSION_SYNC_DELETE 0x2u /* the session ended (blob ignored) */

#define SESSION_SYNC_TXN_HEADER_NAME "X-Craft-Txn"
#define SESSION_SYNC_TXN_TAG_PREFIX  "craft"

struct session_sync_config {
	struct sockaddr_in agent; /* the alternate's agent; required */
	struct sockaddr_in bind;  /* source address; sin_family 0 = any */
	char key_file[256];	  /* cluster key, 64 hex digits */
	uint32_t sender_id;	  /* our auth sender id */
	uint32_t agent_id;	  /* the agent's sender id; 0 = any */
	uint32_t queue_max;	  /* pushes waiting for their ack */
	uint64_t queue_max_bytes;
	uint64_t sync_timeout_ms;	    /* one synchronous call waits at most this */
	uint64_t retransmit_ms;		    /* resend an unacknowledged message after */
	uint32_t max_tries;		    /* sends of an async push before giving up */
	uint64_t max_age_ms, max_future_ms; /* ack freshness (auth_msg.h) */
};

/* Section "sync": agent, bind, key_file, sender_id, agent_id, queue_max,
 * queue_max_bytes, sync_timeout, retransmit, max_tries, max_age,
 * max_future. */
extern const struct config_key session_sync_config_keys[];
void session_sync_config_default(struct session_sync_config *cfg);

struct session_sync_counters {
	uint64_t pushes, pushes_sync, deletes, sent, retransmits, send_errors;
	uint64_t acked, acked_duplicate, agent_full, agent_refused;
	uint64_t overflow, given_up, too_big;
	uint64_t waits_ok, wait_timeouts, wait_failed;
	uint64_t saves, save_chunks, save_bytes;
	uint64_t rx, rx_bad, rx_unexpected;
};

/* Opens the UDP socket (connected to the agent), loads the key. 0,
 * -EINVAL (no agent, bad key file: see err) or -errno. */
int session_sync_open(struct session_sync **out, const struct session_sync_config *cfg, char *err,
		      size_t errlen);
void session_sync_close(struct session_sync *ss);

/* The socket to watch for input. */
int session_sync_fd(const struct session_sync *ss);
/* Reads and processes the agent's acknowledgements (a bounded burst). */
void session_sync_on_readable(struct session_sync *ss);
/* Resends what is due, gives up what ran out of tries. */
void session_sync_tick(struct session_sync *ss);

/* Pushes the snapshot of session `key` after transaction txn_id. flags:
 * SESSION_SYNC_WAIT, SESSION_SYNC_DELETE. Returns 0 (queued and sent;
 * with WAIT: acknowledged), -EINVAL (key length 1..STATE_KEY_MAX),
 * -EMSGSIZE (blob over STATE_BLOB_MAX), -ENOBUFS (queue full),
 * -ETIMEDOUT (WAIT: no ack in time; the push stays queued and is
 * retried), -ENOSPC (the agent's store is full), -EPROTO (refused). */
int session_sync_push(struct session_sync *ss, uint64_t txn_id, const void *key, size_t key_len,
		      const void *blob, size_t len, unsigned flags);
/* Synchronously saves the whole response of non-deterministic transaction
 * txn_id at the alternate (in acknowledged chunks) before the caller sends
 * it. 0, -EINVAL (empty or over STATE_AID_MAX), -ETIMEDOUT, -ENOSPC,
 * -EPROTO, -errno. */
int session_sync_save_response(struct session_sync *ss, uint64_t txn_id, const void *bytes,
			       size_t len);
/* The same for the application's own regeneration state (kind REGEN). */
int session_sync_save_regen(struct session_sync *ss, uint64_t txn_id, const void *state,
			    size_t len);

/* Pushes waiting for an acknowledgement. */
unsigned session_sync_pending(const struct session_sync *ss);
const struct session_sync_counters *session_sync_counters(const struct session_sync *ss);
void session_sync_collect_stats(const struct session_sync *ss, struct stats_report *r,
				const char *prefix);

/* Transaction ID helpers (never fail with len >= 64): the HTTP header line
 * "X-Craft-Txn: 00c6120b9c400003\r\n" and the line-protocol tag
 * "craft00c6120b9c400003". Return the length written or -ENOSPC. */
int session_sync_txn_header(uint64_t txn_id, char *buf, size_t len);
int session_sync_txn_tag(uint64_t txn_id, char *buf, size_t len);
/* Parses a tag ("craft" + 1..16 hex digits, nothing else): 0 or -EINVAL. */
int session_sync_parse_txn_tag(const char *s, size_t len, uint64_t *txn_id);

#endif
