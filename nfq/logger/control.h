/* control - craft-logger's control socket (ctl_channel.h): it announces
 * backend failures and recoveries to recovery, and answers recovery's
 * questions about a connection from the live pipeline.
 *
 * Why in the logger: only the logger has seen both directions of every
 * proxy<->backend connection; after a backend failure, recovery on a proxy
 * needs exactly that (AckCL, T_L, the offsets of every transaction, the
 * server bytes the client has not acknowledged) and must get it without
 * the database (the packet path never waits on disk, and neither does
 * recovery). Answers come from txn_log (connection marks, ISNs) and its
 * byte_store (the transaction index and the bytes), in the daemon's event
 * loop thread, which is the pipeline's thread (txn_log_query.h builds
 * them).
 *
 *   CONN_QUERY  -> CONN_REPLY  (transactions from `first` on, marks, ISNs)
 *   BYTES_QUERY -> BYTES_REPLY (up to CTL_BYTES_MAX bytes of one stream)
 * Anything else received (announcements, replies) is counted and ignored;
 * forged, replayed and garbage datagrams never get here (ctl_channel counts
 * them by reason).
 *
 * Announcements (BACKEND_FAILED / RECOVERED) go to every local client and
 * every configured peer at once, then again `repeats - 1` times every
 * `repeat_interval` with the same event id: UDP may lose one, receivers
 * drop duplicates by event id. At most CONTROL_MAX_PENDING announcements
 * wait for their repeats; more are sent once (counted). */
#ifndef CRAFT_LOGGER_CONTROL_H
#define CRAFT_LOGGER_CONTROL_H

#include <stdint.h>

#include "ctl_channel.h"
#include "txn_log.h"

struct event_loop;
struct stats_report;

#define CONTROL_MAX_PENDING 16

struct control_config {
	struct ctl_channel_config channel; /* section [control] */
	uint32_t repeats;		   /* copies of an announcement (3) */
	uint64_t repeat_interval_ms;	   /* between copies (50ms) */
};

void control_config_defaults(struct control_config *cfg);
/* Anything configured that needs a channel (a socket path, a bind address
 * or peers)? */
bool control_configured(const struct control_config *cfg);

struct control_counters {
	uint64_t conn_queries, bytes_queries, replies_unknown, replies_not_held;
	uint64_t bytes_returned, unexpected, reply_errors;
	uint64_t announced, repeats_sent, repeats_overflow;
};

struct control_pending {
	struct ctl_msg msg;
	uint32_t left; /* copies still to send */
};

struct logger_control {
	const struct control_config *cfg;
	struct ctl_channel ch;
	bool open;
	struct txn_log *tl;
	struct event_loop *loop;
	int timer_fd;
	struct control_pending pending[CONTROL_MAX_PENDING];
	unsigned npending;
	struct ctl_msg reply; /* the answer being built */
	struct control_counters c;
};

/* Opens the channel in loop. 0 or -errno with a message in err. */
int control_open(struct logger_control *ctl, const struct control_config *cfg,
		 struct event_loop *loop, struct txn_log *tl, char *err, size_t errlen);
void control_close(struct logger_control *ctl);

/* Sends m now and schedules its repeats. */
void control_announce(struct logger_control *ctl, const struct ctl_msg *m);

void control_collect_stats(const struct logger_control *ctl, struct stats_report *r);

#endif
