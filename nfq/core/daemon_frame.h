/* daemon_frame - the run-time frame shared by the NFQUEUE daemons
 * (daemon.h) and the socket-only programs (service.h): the event loop with
 * SIGTERM/SIGINT (stop), SIGUSR1 (one line of counters in the log), SIGHUP
 * (ignored: restart to reconfigure), SIGPIPE ignored, and the stats file
 * rewritten atomically on a timer.
 *
 * Why a separate module: both frames must behave identically for an
 * operator (signals, stats file format and timing), and the only thing
 * that differs is what they count, so the counting is a callback. The
 * frame owns no configuration: its owner points it at its own fields. */
#ifndef CRAFT_DAEMON_FRAME_H
#define CRAFT_DAEMON_FRAME_H

#include <stdbool.h>
#include <stdint.h>

#include "event_loop.h"
#include "stats.h"

/* The [daemon] log_level names and their syslog values, index for index. */
extern const char *const daemon_frame_level_names[];
int daemon_frame_level_value(int index);

struct daemon_frame {
	struct event_loop *loop;
	const char *stats_file; /* "" = none */
	/* Fills a report (after resetting it) with everything the owner counts. */
	void (*collect)(void *owner, struct stats_report *r);
	void *owner;
	bool loop_ready;
};

/* Event loop with `capacity` sources (0 = the default), the signals and,
 * when a stats file is set, the stats timer. 0 or a negative errno (logged). */
int daemon_frame_start(struct daemon_frame *f, unsigned capacity, uint64_t stats_interval_ms);
void daemon_frame_write_stats(const struct daemon_frame *f);
void daemon_frame_log_stats(const struct daemon_frame *f);
/* Frees the loop (fds the owner added stay open). */
void daemon_frame_free(struct daemon_frame *f);

#endif
