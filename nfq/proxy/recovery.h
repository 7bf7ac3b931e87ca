/* recovery - the proxy's recovery manager (paper §4.2-4.3, thesis ch. 5):
 * when the logger declares a backend failed, every client connection this
 * proxy spliced to it is moved, live, to an alternate backend.
 *
 * Per connection (a struct recovery_job, recovery_job.c):
 *   1. suspend: the splice's segments are dropped from now on (the client
 *      retransmits them later; the failed backend gets nothing), and the
 *      client is tickled (an old-sequence ACK) so that its reply shows its
 *      ACK point, window, TSval and TSecr;
 *   2. ask the logger (CONN_QUERY) for the transactions and marks of the
 *      backend-side connection, compute the plan (recovery_plan.h);
 *   3. fetch from the logger (BYTES_QUERY) the request bytes to replay, the
 *      first p response bytes of T_L + 1 (to compare) and the response
 *      bytes the client has not acknowledged [AckCL, AckTL + p) (equation 1);
 *   4. connect to the alternate from the IVIP (like client_conn.c), write
 *      the replayed requests, read and discard the responses of replayed
 *      updates, read the first p response bytes of T_L + 1 comparing them
 *      (recovery_plan_splice.h) - a difference is unforeseen
 *      non-determinism: RST to the client at once;
 *   5. freeze the new socket (TCP_REPAIR, like proxy_splice.c), install the
 *      new splice on the client's key (it replaces the old entry, and the
 *      replication carries it to the peers), and send the client the bytes
 *      it lacks (logged ones, plus whatever the alternate had already sent
 *      past the p bytes) with splice_inject, fed by the client's ACKs.
 * Every job ends in one row of failover_events in the proxy's database.
 *
 * Only the proxy that created a splice recovers it (it owns the IVIP port
 * range); the others learn the new splice by replication. Peers do not
 * suspend: until the new record arrives they keep forwarding client
 * segments to the dead backend, where they are lost, which is what the
 * suspension does too. Known limit: with a load balancer that spreads one
 * connection's segments over several proxies, the client's answer to the
 * tickle may reach a peer, not the recovering proxy; with timestamps on,
 * the job then waits for a later client segment and, failing that, ends
 * at job_timeout with an RST. Replicating "suspended" and the client's
 * TSval/TSecr to the recovering proxy would close it (not done).
 *
 * Aux requests a replay makes: with [recovery] aux_logger set, each job
 * tells the aux logger (AUX_DIVERT start/end, recovery_aux.h) so that the
 * alternate's aux requests are answered from the aux log instead of
 * reaching the aux server again (nfq/logger/aux_divert.h). Each replayed
 * request's X-Craft-Txn carries X-Craft-Txn-Auth, an HMAC with the cluster
 * key bound to the replay connection (txn_header_auth.h): an application
 * holding the key ignores the header from anyone else, clients included.
 *
 * Other limits: the responses of replayed updates are assumed as long as
 * the logged ones (they are read and thrown away by that count).
 *
 * Bounds: max_jobs connections at once (more: RST, counted), max_txns
 * transactions per connection, max_replay_bytes / max_resend_bytes /
 * max_compare_bytes per job, a window of BYTES_QUERY in flight, a deadline
 * per job (RST at expiry, never a hang). */
#ifndef CRAFT_RECOVERY_H
#define CRAFT_RECOVERY_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "ctl_channel.h"
#include "packet.h"
#include "splice_table.h"

struct proxy;
struct stats_report;

#define RECOVERY_MAX_ALTERNATES 16

struct recovery_alternate {
	struct sockaddr_in failed, alternate;
	struct sockaddr_in agent; /* the alternate's craft-agent; 0 = none */
};

struct recovery_config {
	struct sockaddr_in logger;     /* where CONN_QUERY/BYTES_QUERY go; 0 = off */
	struct sockaddr_in aux_logger; /* [aux_divert] bind of the aux logger; 0 = none */
	struct recovery_alternate alt[RECOVERY_MAX_ALTERNATES];
	unsigned nalt;
	char db[256]; /* failover history; "" = log only */
	uint32_t max_jobs, max_txns;
	uint64_t max_replay_bytes, max_resend_bytes, max_compare_bytes;
	uint64_t query_timeout_ms, job_timeout_ms, tickle_interval_ms;
	uint32_t query_retries, fetch_window;
	struct ctl_channel_config ctl; /* section [control] */
};

/* Section "recovery": logger, alternate (repeatable: FAILED ALT [AGENT],
 * each ADDR:PORT; with an agent, replayed requests carry X-Craft-Txn), db, max_jobs, max_txns,
 * max_replay_bytes, max_resend_bytes, max_compare_bytes, query_timeout, query_retries,
 * fetch_window, job_timeout, tickle_interval. */
extern const struct config_key recovery_config_keys[];
void recovery_config_default(struct recovery_config *cfg);

struct recovery_counters {
	uint64_t failed_msgs, failed_dups, failed_unknown_backend, jobs_started, jobs_full;
	uint64_t recovered, reset, nondeterministic, no_alternate, log_incomplete, timeouts;
	uint64_t queries_sent, queries_resent, replies, replies_stray, replies_busy;
	uint64_t bytes_fetched, bytes_replayed, bytes_swallowed, bytes_compared;
	uint64_t bytes_unchecked, bytes_resent, txns_replayed, segs_dropped, tickles;
	uint64_t client_seen, store_errors, connect_failed, freeze_failed;
	uint64_t agent_sent, agent_refused, agent_forced;
};

struct recovery;

/* Opens the control channel (and the database) when [recovery] logger is
 * set; otherwise *out stays NULL and the proxy runs without recovery. */
int recovery_open(struct recovery **out, struct proxy *px, const struct recovery_config *cfg,
		  char *err, size_t errlen);
/* Ends every job (RST to its client), closes the channel and the
 * database; the counters stay for the final stats until recovery_free. */
void recovery_close(struct recovery *r);
void recovery_free(struct recovery *r);
void recovery_tick(struct recovery *r, uint64_t now_ms);
/* From the packet handler, for a segment of splice e (unrewritten): true
 * means drop it (its splice is suspended). Cheap when nothing recovers. */
bool recovery_on_segment(struct recovery *r, struct splice_entry *e, enum splice_way way,
			 const struct tcp4_packet *p, uint64_t now_ms);
void recovery_collect_stats(const struct recovery *r, struct stats_report *rep);

#endif
