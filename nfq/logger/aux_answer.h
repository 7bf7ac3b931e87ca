/* aux_answer - the aux logger's end of a diverted aux connection.
 *
 * While a recovery replays on an alternate backend, the kernel diverts the
 * alternate's new connections to the aux server's port (TPROXY, set up by
 * rules/aux-divert.sh and switched per alternate by aux_divert.h) to this
 * listener. The accepted socket's local address is the aux server's (the
 * original destination), so per request this module knows where it was
 * going and reads the transaction ID it carries (line protocol: the first
 * word is aux_prefix + hex; HTTP: the aux_header header, as txn_log's aux
 * mode reads it), then:
 *   - a stored answer for that ID (aux_store.h): the exact bytes the aux
 *     server sent the failed backend go back, and the aux server sees
 *     nothing (counted in `answered`);
 *   - the original's answer still on its way (PENDING): wait up to `wait`
 *     for it, then as below;
 *   - otherwise (no ID, unknown ID, an answer too long to keep): the
 *     connection becomes a relay to the real aux server from here on, the
 *     bytes read so far included (counted in `relayed`). The aux server
 *     then sees the aux logger's address as the client, and the logger's
 *     queue (FORWARD) does not see that leg: such requests are not logged
 *     (a documented limit; they are the alternate's own new work).
 * Bounds: max_conns connections (more are closed at once, counted), a
 * request must show its ID within max_request bytes (else relayed), relay
 * buffers of AUX_RELAY_BUF per direction (reading stops while full), an
 * idle connection ends after conn_timeout. */
#ifndef CRAFT_LOGGER_AUX_ANSWER_H
#define CRAFT_LOGGER_AUX_ANSWER_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "aux_request.h"
#include "aux_store.h"

struct event_loop;
struct stats_report;

#define AUX_RELAY_BUF 65536u

struct aux_answer_config {
	struct sockaddr_in listen; /* TPROXY --on-ip / --on-port */
	uint32_t max_conns;
	uint64_t max_request; /* bytes before the ID must be known */
	uint64_t wait_ms;     /* a PENDING answer is waited for this long */
	uint64_t conn_timeout_ms;
	struct aux_request_rule rule; /* how a request shows its ID */
};

struct aux_answer_counters {
	uint64_t accepted, refused, answered, answered_bytes, waited, wait_timeouts;
	uint64_t relayed, relayed_bytes, relay_failed, no_id, timeouts, errors;
};

struct aux_conn;

struct aux_answer {
	struct aux_answer_config cfg;
	struct aux_store *store;
	struct event_loop *loop;
	int lfd, timer_fd;
	struct aux_conn *conns;
	struct aux_answer_counters c;
};

/* Listens (IP_TRANSPARENT: CAP_NET_ADMIN) in loop. 0 or -errno + err. */
int aux_answer_open(struct aux_answer *a, const struct aux_answer_config *cfg,
		    struct aux_store *store, struct event_loop *loop, char *err, size_t errlen);
/* Ends every connection and the listener. */
void aux_answer_close(struct aux_answer *a);
void aux_answer_collect_stats(const struct aux_answer *a, struct stats_report *r);

#endif
