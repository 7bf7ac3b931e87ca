/* log - one-line, timestamped diagnostics on stderr (or a test sink).
 *
 * Every line is formatted into a bounded buffer and emitted with a single
 * write(2), so lines from several threads never interleave. Levels are the
 * <syslog.h> constants so they can later be forwarded to syslog unchanged.
 * The per-packet path must not flood the log: it uses log_rl() with a
 * struct log_ratelimit, which lets a burst through per interval and then
 * reports how many lines it swallowed when the next window opens.
 *
 * State (level, ident, sink) is process-global because every daemon has
 * exactly one log; log_reset() restores the defaults for unit tests. */
#ifndef CRAFT_LOG_H
#define CRAFT_LOG_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <syslog.h>

#include "clock.h"

/* Longest line emitted, including timestamp, prefix and newline; longer
 * messages are cut and end in "...". */
#define LOG_LINE_MAX 1024

void log_set_level(int level);
int log_get_level(void);
/* "error", "warning", "notice", "info", "debug" (also "err", "warn") ->
 * LOG_* constant, or -1 for anything else. */
int log_level_parse(const char *name);
/* The name printed in a line for a level ("warning" for LOG_WARNING). */
const char *log_level_name(int level);
/* Program name printed before "[pid]"; NULL or "" means "craft". */
void log_set_ident(const char *ident);
/* Where lines go: a file descriptor (default 2) or a stdio stream, whose
 * buffer is flushed and whose descriptor is then written to directly. */
void log_set_fd(int fd);
void log_set_sink(FILE *sink);
/* Back to level LOG_INFO, ident "craft", fd 2. */
void log_reset(void);

static inline bool log_enabled(int level)
{
	return level <= log_get_level();
}

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* As log_msg, with ": strerror(errnum)" appended; errno is preserved. */
void log_errnum(int level, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Arguments of a disabled level are not evaluated. */
#define log_at(level, ...)                                                                         \
	do {                                                                                       \
		if (log_enabled(level))                                                            \
			log_msg(level, __VA_ARGS__);                                               \
	} while (0)
#define log_err(...)	log_at(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_at(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_at(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	log_at(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_at(LOG_DEBUG, __VA_ARGS__)
/* log_errno(LOG_ERR, "open %s", path) -> "...: open x: No such file..." */
#define log_errno(level, ...) log_errnum(level, errno, __VA_ARGS__)

/* At most `burst` lines per `interval_ms`; interval_ms == 0 means no limit.
 * Not locked: give each thread (or each queue) its own instance. */
struct log_ratelimit {
	uint64_t window_start_ms;
	unsigned count, burst, suppressed;
	unsigned interval_ms;
};

#define LOG_RATELIMIT_INIT(interval, max_burst)                                                    \
	{                                                                                          \
		.burst = (max_burst), .interval_ms = (interval)                                    \
	}

/* Pure: decides whether a line at now_ms may be written, counting the ones
 * that may not in rl->suppressed. */
bool log_ratelimit_allow(struct log_ratelimit *rl, uint64_t now_ms);
/* Returns the number of suppressed lines and zeroes it. */
unsigned log_ratelimit_take_suppressed(struct log_ratelimit *rl);

#define log_rl(rl, level, ...)                                                                     \
	do {                                                                                       \
		if (log_enabled(level) && log_ratelimit_allow((rl), monotonic_ms())) {             \
			unsigned log_rl_n_ = log_ratelimit_take_suppressed(rl);                    \
			if (log_rl_n_)                                                             \
				log_msg(level, "%u messages suppressed", log_rl_n_);               \
			log_msg(level, __VA_ARGS__);                                               \
		}                                                                                  \
	} while (0)

#endif
