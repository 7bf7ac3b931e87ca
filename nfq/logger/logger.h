/* logger - craft-logger's log mode: the queued packets' copies go through
 * the transaction pipeline (txn_log) into the database (txn_log_store).
 *
 * Packet path (the NFQUEUE handler, logger_packet): count the packet as the
 * pass-through does, copy it into the backlog (pkt_backlog.h), leave the
 * verdict at ACCEPT - except for a backend's FIN or RST while failure
 * detection runs: the crash guard (crash_guard.h) holds it until the
 * protocol or a probe tells a normal close from a crashed process. The
 * event loop drains the backlog after the round's verdicts went out (an
 * eventfd wakes it), so no packet waits for its own parsing; the SQLite
 * writes happen on the store's own thread. Each drain
 * processes at least what arrived since the previous one: the log keeps
 * pace with the queue, and only when the log is the bottleneck does the
 * next receive round wait (bounded: the fail-open kernel queue lets
 * packets pass unlogged when it is full, counted by the kernel).
 * A timer expires idle connections and skips old holes (txn_log_expire)
 * and, every counters_interval, writes the daemon's counters as COUNTER
 * rows. Shutdown (logger_finish, after the engine gave every packet its
 * verdict): drain the backlog, close every connection (its transactions
 * end as "abort", rows for all of it), then store_close() commits what is
 * queued.
 *
 * The LOGGED signal to the alternates' agents (logged.h, [logged]) is an
 * observer from logger_init to logger_finish. Failure detection (detect.h, [detect] enabled = yes)
 * and the control channel (control.h, [control] socket / bind / peer) join the loop in
 * logger_attach and leave it in logger_detach, before the daemon frees the
 * loop; their last counters are kept for the final stats file. Other
 * observers: logger_txn_log() gives the pipeline; register a struct
 * txn_log_observer on it before traffic flows (txn_log.h documents the
 * events and their guarantees) and query it from the same event loop
 * thread. */
#ifndef CRAFT_LOGGER_LOGGER_H
#define CRAFT_LOGGER_LOGGER_H

#include <stdbool.h>
#include <stdint.h>

#include "backend_monitor.h"
#include "control.h"
#include "crash_guard.h"
#include "detect.h"
#include "event_loop.h"
#include "logged.h"
#include "nfq_engine.h"
#include "pkt_backlog.h"
#include "stats.h"
#include "store.h"
#include "txn_log.h"
#include "txn_log_store.h"

enum logger_mode {
	LOGGER_MODE_AUTO = 0,	 /* log when a database is configured */
	LOGGER_MODE_PASSTHROUGH, /* count and accept only (the foundation's) */
	LOGGER_MODE_LOG,	 /* the transaction logger (database optional) */
};

struct logger_config {
	int mode; /* enum logger_mode */
	char db[256];
	uint64_t backlog_bytes;
	uint64_t expire_interval_ms;
	uint64_t counters_interval_ms; /* 0: no COUNTER rows */
	struct txn_log_config log;
	struct store_config store;
	bool detect;		 /* [detect] enabled (no) */
	struct bmon_config bmon; /* [detect], [probe] */
	struct control_config control;
	struct logged_config logged;	 /* [logged] */
	struct crash_guard_config crash; /* [crash], with [detect] enabled */
};

extern const char *const logger_mode_names[];

void logger_config_defaults(struct logger_config *cfg);

struct logger {
	const struct logger_config *cfg;
	struct pkt_backlog backlog;
	int efd; /* wakes the drainer */
	struct txn_log *tl;
	struct store *st;
	struct txn_log_store obs;
	bool obs_ready;
	struct event_loop *loop;
	uint64_t drains, last_counters_us;
	uint64_t arrived; /* bytes copied since the last drain */
	uint64_t wake_errors;
	uint64_t counter_rows_dropped;
	struct logger_detect det;
	struct logger_control ctl;
	struct logged_notifier ln;
	struct crash_guard cg;
	uint64_t pushed_seq, popped_seq; /* copies into / out of the backlog */
	struct stats_report *detached;	 /* detect/control counters after logger_detach */
	struct stats_report *final;	 /* own counters kept after logger_finish */
};

/* Builds the pipeline and opens the database. 0, or an exit code after
 * logging why (2: configuration, 1: runtime). */
int logger_init(struct logger *lg, const struct logger_config *cfg);
/* Registers the drainer and the timers in the daemon's loop. */
int logger_attach(struct logger *lg, struct event_loop *loop);
/* Stops detection and closes the control channel (before the loop goes). */
void logger_detach(struct logger *lg);
/* The handler's part for one packet: accept, or a backend's FIN/RST held
 * or dropped by the crash guard (crash_guard.h). */
/* tv: pkt's header view, NULL when it did not parse as IPv4/TCP. */
void logger_packet(struct logger *lg, struct nfq_engine *engine, const struct nfq_packet *pkt,
		   const struct tcp4_view *tv, struct nfq_verdict *v);
/* Shutdown: every packet the crash guard holds is accepted. */
void logger_release(struct logger *lg, struct nfq_engine *engine);
/* Drains, closes every connection, closes the database. Returns 0, or 1
 * when the database lost rows. */
int logger_finish(struct logger *lg);
void logger_collect_stats(struct logger *lg, struct stats_report *r);

static inline struct txn_log *logger_txn_log(struct logger *lg)
{
	return lg->tl;
}

#endif
