/* aux_divert - the aux logger's part in a recovery (paper §3.3, thesis
 * ch. 5, "aux logger"): while a replay runs on an alternate backend, the
 * aux requests that alternate makes are answered from the responses the
 * aux server gave the failed backend, so that the aux server sees every
 * request exactly once.
 *
 * Parts, each its own module:
 *   aux_store   remembers each aux response by the client transaction ID
 *               its request carried (a txn_log observer, nfq/core);
 *   aux_answer  the local listener the kernel diverts connections to; it
 *               answers stored IDs and relays the rest to the aux server;
 *   aux_jobs    which alternates are diverted now (nfq/core);
 *   aux_divert  (this file) receives AUX_DIVERT, flips the kernel switch,
 *               and wires the others into craft-logger.
 *
 * When: the proxy's recovery manager tells us. At a job's start it sends
 * an authenticated AUX_DIVERT START naming the alternate (ctl_msg.h:
 * auth_msg with the cluster key, over this module's own UDP socket, so
 * the aux logger can be another host or process than the front logger),
 * and AUX_DIVERT END when the job is over; a job whose END is lost ends
 * at its ttl (capped at max_ttl). An END does not switch off at once but
 * `end_linger` later: the job ends when the client connection is
 * re-spliced, and the alternate may make the aux request of the request
 * it is still working on (T_L + 1) just after that. Why a message and not "divert always,
 * answer what is already answered": diverting every aux connection would
 * put this process in the path of all aux traffic (a user-space hop for
 * every request, and relayed requests are not logged), although only a
 * replay can repeat an ID; diverting only the replaying alternate and
 * only during its recovery keeps normal aux traffic on the kernel path,
 * logged as before. Within a diversion the stored answer is still the
 * criterion per request: a request whose ID the aux server already
 * answered is a repeat by definition (IDs are unique per client
 * transaction), anything else is the alternate's own new work and is
 * relayed.
 *
 * How: rules/aux-divert.sh up installs, once, a TPROXY rule for SYNs to
 * the aux service whose source is in the xt_recent list `craft-auxdiv`
 * (with --seconds: the kernel forgets an entry on its own if this daemon
 * dies), the socket-match mark rule and the local route. This module only
 * writes "+ADDR" / "-ADDR" to /proc/net/xt_recent/craft-auxdiv (no fork,
 * no netlink): an address is in the list while at least one job for it
 * lives, and is written again every `refresh` to stay fresh; the list is
 * flushed at start and at exit. Connections already diverted finish on
 * the listener after the switch is off (the socket match keeps them).
 *
 * Bounds: max_jobs live jobs (more are counted and not diverted), the
 * store's and the listener's own bounds (aux_store.h, aux_answer.h).
 *
 * Known limit: requests the listener relays (the alternate's own new work
 * while it is diverted) are not logged as aux transactions (the relay's
 * leg starts on this host, the logger's queue sees forwarded packets
 * only), so a second failure, of the alternate, within that window would
 * send their replays to the aux server again. The window is the recovery
 * plus end_linger.
 *
 * Config section [aux_divert]: enabled, listen (ADDR:PORT of the TPROXY
 * listener), port (the aux service port), bind (UDP for AUX_DIVERT),
 * key_file, sender_id, max_age, max_future, recent_file, max_jobs,
 * max_ttl, end_linger, refresh, max_entries, max_response, max_conns, max_request,
 * wait, conn_timeout. It needs [logger] aux = yes and the aux service in
 * the logged services (service = "PORT line|http"). */
#ifndef CRAFT_LOGGER_AUX_DIVERT_H
#define CRAFT_LOGGER_AUX_DIVERT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "aux_answer.h"
#include "aux_jobs.h"
#include "aux_store.h"
#include "config.h"
#include "ctl_channel.h"
#include "txn_log.h"

struct event_loop;
struct stats_report;

#define AUX_DIVERT_RECENT_DEFAULT "/proc/net/xt_recent/craft-auxdiv"

struct aux_divert_config {
	bool enabled;
	struct sockaddr_in listen;
	uint32_t port;
	struct sockaddr_in bind;
	char key_file[256];
	uint32_t sender_id;
	uint64_t max_age_ms, max_future_ms;
	char recent_file[128];
	uint32_t max_jobs;
	uint64_t max_ttl_ms, end_linger_ms, refresh_ms;
	uint32_t max_entries;
	uint64_t max_response;
	uint32_t max_conns;
	uint64_t max_request, wait_ms, conn_timeout_ms;
};

extern const struct config_key aux_divert_config_keys[];
void aux_divert_config_default(struct aux_divert_config *cfg);

struct aux_divert_counters {
	uint64_t unexpected, switch_errors;
};

struct aux_divert {
	const struct aux_divert_config *cfg;
	bool store_ready, attached, opened; /* opened: counters to report */
	bool quiet_refresh;
	struct aux_store store;
	struct aux_answer answer;
	struct ctl_channel ch;
	struct event_loop *loop;
	int timer_fd;
	struct aux_jobs jobs; /* when to divert whom */
	struct aux_divert_counters c;
};

/* Before traffic (after logger_init): checks the configuration against
 * the pipeline's and registers the store on tl. 0 or -errno (logged). */
int aux_divert_init(struct aux_divert *d, const struct aux_divert_config *cfg, struct txn_log *tl);
/* In the daemon's loop (after logger_attach): the listener, the control
 * socket, the timer; flushes the diversion list. 0 or -errno (logged). */
int aux_divert_attach(struct aux_divert *d, struct event_loop *loop);
/* Switches every diversion off, closes sockets (before the loop goes). */
void aux_divert_detach(struct aux_divert *d);
/* After logger_finish (the store observes until then). */
void aux_divert_free(struct aux_divert *d);
void aux_divert_collect_stats(const struct aux_divert *d, struct stats_report *r);

#endif
