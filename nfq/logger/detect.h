/* detect - craft-logger's adaptive backend failure detection (paper §3.5):
 * the transaction pipeline's events feed the detector of backend_monitor
 * (failure_detect.h: per backend and request kind, mean + k * deviation of
 * the wait for the first response byte and of the gaps between bytes,
 * liveness probes when a backend is idle or overdue), and its verdicts
 * become a failover_events row and a BACKEND_FAILED / BACKEND_RECOVERED
 * announcement on the control channel (control.h).
 *
 * Why a txn_log observer: the pipeline already knows when a request ended,
 * when its response began, progressed and ended, and which connection a
 * backend closed; the detector needs exactly these moments and nothing of
 * the bytes. Mapping:
 *   conn_open               -> fdet_conn_open(conn_id, server address)
 *   txn_request_done        -> fdet_request_done(kind "METHOD /segment")
 *   txn_response_first_byte -> fdet_response_first_byte
 *   txn_response_progress   -> fdet_response_progress
 *   txn_response_done       -> fdet_response_done
 *   txn_end, not complete   -> fdet_txn_end
 *   conn_close              -> fdet_conn_close(closed by the backend?)
 *
 * Time: the detector runs on the monotonic clock (its tick is a timer in
 * the daemon's loop). Events carry the packet's wall-clock receive time;
 * it is moved onto the monotonic clock by the current offset between the
 * two, so the milliseconds a packet waited in the backlog still count and
 * a wall-clock step cannot fake or hide a timeout. */
#ifndef CRAFT_LOGGER_DETECT_H
#define CRAFT_LOGGER_DETECT_H

#include <stdbool.h>
#include <stdint.h>

#include "backend_monitor.h"
#include "control.h"
#include "store.h"
#include "txn_log.h"

struct event_loop;
struct stats_report;

struct detect_counters {
	uint64_t events_refused; /* detector calls that returned an error */
	uint64_t failover_rows, failover_rows_dropped;
	uint64_t failed, recovered;
};

struct logger_detect {
	struct backend_monitor mon;
	bool running;
	bool crash_declaring;	    /* the failure being announced is the crash guard's */
	struct logger_control *ctl; /* may be NULL (no control channel) */
	struct store *st;	    /* may be NULL (no database) */
	struct detect_counters c;
};

/* Starts the monitor in loop and registers the observer on tl. 0, or
 * -errno with a message in err. */
int detect_start(struct logger_detect *det, const struct bmon_config *cfg, struct event_loop *loop,
		 struct txn_log *tl, struct logger_control *ctl, struct store *st, char *err,
		 size_t errlen);
/* Stops the tick and the probes (the observer must not fire afterwards:
 * call after the pipeline finished). */
void detect_stop(struct logger_detect *det);

/* The crash guard's verdict (crash_guard.h): the service at ip:port (host
 * order) is dead since since_mono (monotonic µs, its first unexplained
 * close): FAILED at once (fdet_backend_crashed), announced and written as
 * every failure is, the row's detail ending in " trigger=close". 0,
 * -EALREADY (FAILED already), -ENOENT (not a known backend) or -ENODEV
 * (detection stopped). */
int detect_backend_crashed(struct logger_detect *det, uint32_t ip, uint16_t port,
			   uint64_t since_mono, uint64_t now_mono);

void detect_collect_stats(const struct logger_detect *det, struct stats_report *r);

#endif
