/* daemon_frame - see daemon_frame.h. */
#include "daemon_frame.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

const char *const daemon_frame_level_names[] = {"error", "warning", "notice",
						"info",	 "debug",   NULL};

int daemon_frame_level_value(int index)
{
	static const int values[] = {LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG};
	if (index < 0 || index >= (int)(sizeof(values) / sizeof(values[0])))
		return LOG_NOTICE;
	return values[index];
}

void daemon_frame_write_stats(const struct daemon_frame *f)
{
	if (!f->stats_file || !f->stats_file[0])
		return;
	/* A report is large (STATS_MAX_ITEMS entries): not on the stack. */
	struct stats_report *r = malloc(sizeof(*r));
	if (!r)
		return;
	f->collect(f->owner, r);
	int rc = stats_write_file(r, f->stats_file);
	if (rc < 0)
		log_errnum(LOG_WARNING, -rc, "cannot write stats file %s", f->stats_file);
	free(r);
}

void daemon_frame_log_stats(const struct daemon_frame *f)
{
	struct stats_report *r = malloc(sizeof(*r));
	char *line = malloc(LOG_LINE_MAX);
	if (r && line) {
		f->collect(f->owner, r);
		log_msg(LOG_NOTICE, "stats %s", stats_format_line(r, line, LOG_LINE_MAX - 80));
	}
	free(line);
	free(r);
}

static void on_signal(struct event_loop *loop, int signo, void *arg)
{
	const struct daemon_frame *f = arg;
	if (signo == SIGUSR1) {
		daemon_frame_log_stats(f);
		return;
	}
	if (signo == SIGHUP) {
		log_notice("SIGHUP ignored: restart to apply a new configuration");
		return;
	}
	log_notice("%s received, shutting down", strsignal(signo));
	event_loop_stop(loop);
}

static void on_stats_timer(struct event_loop *loop, uint64_t expirations, void *arg)
{
	(void)loop;
	(void)expirations;
	daemon_frame_write_stats(arg);
}

int daemon_frame_start(struct daemon_frame *f, unsigned capacity, uint64_t stats_interval_ms)
{
	int rc = event_loop_init_sized(f->loop, capacity ? capacity : EVENT_LOOP_DEFAULT_SOURCES);
	if (rc < 0) {
		log_errnum(LOG_ERR, -rc, "event loop");
		return rc;
	}
	f->loop_ready = true;
	static const int signals[] = {SIGTERM, SIGINT, SIGUSR1, SIGHUP};
	rc = event_loop_add_signals(f->loop, signals, 4, on_signal, f);
	if (rc < 0) {
		log_errnum(LOG_ERR, -rc, "signals");
		return rc;
	}
	if (f->stats_file && f->stats_file[0]) {
		rc = event_loop_add_timer(f->loop, (uint32_t)stats_interval_ms, on_stats_timer, f);
		if (rc < 0) {
			log_errnum(LOG_ERR, -rc, "stats timer");
			return rc;
		}
	}
	/* A peer that vanishes must not kill us with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

void daemon_frame_free(struct daemon_frame *f)
{
	if (f->loop_ready) {
		event_loop_free(f->loop);
		f->loop_ready = false;
	}
}
