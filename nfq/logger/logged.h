/* logged - craft-logger's "response fully logged" signal (paper §4.1 step
 * 5): when the last byte of a transaction's response is in the log, the
 * agent on that backend's alternate learns its transaction ID (state_msg.h
 * LOGGED), so that the session state pushed after that transaction may be
 * applied there: the alternate never runs ahead of what the log can
 * replay.
 *
 * Why batched per segment: a keep-alive or pipelined burst completes many
 * responses in one segment; IDs wait in a per-route batch (at most
 * STATE_LOGGED_MAX) that goes out at the end of the segment's events
 * (txn_log batch_end) or when full, so a message never waits for a timer.
 * Fire and forget (UDP, authenticated): a lost datagram delays the apply
 * until recovery's APPLY_UP_TO or the agent's apply timeout.
 *
 * Config [logged]: agent = "BACKEND[:PORT] AGENT:PORT" (repeatable, up to
 * LOGGED_MAX_ROUTES; a backend without a port matches every port),
 * key_file (the cluster key, auth_msg.h), sender_id. Responses of backends
 * without a route are counted (unrouted), not sent. */
#ifndef CRAFT_LOGGER_LOGGED_H
#define CRAFT_LOGGER_LOGGED_H

#include <netinet/in.h>
#include <stdint.h>

#include "auth_msg.h"
#include "config.h"
#include "state_msg.h"
#include "txn_log.h"

struct stats_report;

#define LOGGED_MAX_ROUTES 16

struct logged_route {
	uint32_t backend_ip;   /* host order */
	uint16_t backend_port; /* 0: any */
	struct sockaddr_in agent;
};

struct logged_config {
	struct logged_route routes[LOGGED_MAX_ROUTES];
	unsigned nroutes;
	char key_file[256];
	uint32_t sender_id;
};

extern const struct config_key logged_config_keys[];
void logged_config_defaults(struct logged_config *cfg);

struct logged_counters {
	uint64_t txns, messages, send_errors, unrouted;
};

struct logged_batch {
	uint64_t txn[STATE_LOGGED_MAX];
	unsigned n;
};

struct logged_notifier {
	const struct logged_config *cfg;
	int fd;
	struct auth_key key;
	struct auth_sender sender;
	struct logged_batch batch[LOGGED_MAX_ROUTES];
	struct logged_counters c;
};

/* Opens the socket, loads the key and registers the observer on tl (a
 * no-op without routes). 0 or -errno with a message in err. */
int logged_start(struct logged_notifier *ln, const struct logged_config *cfg, struct txn_log *tl,
		 char *err, size_t errlen);
/* Sends what waits and closes; the observer stays registered but idle. */
void logged_stop(struct logged_notifier *ln);
void logged_collect_stats(const struct logged_notifier *ln, struct stats_report *r);

#endif
