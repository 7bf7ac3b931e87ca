/* log - see log.h. Level and fd are read with relaxed atomics because the
 * packet threads read them while the main thread may change them (SIGHUP);
 * the ident is only set at start-up, before threads exist. */
#include "log.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_IDENT_MAX	  64
#define LOG_DEFAULT_IDENT "craft"

static int log_level = LOG_INFO;
static int log_fd = 2;
static char log_ident[LOG_IDENT_MAX] = LOG_DEFAULT_IDENT;

static const struct {
	const char *name;
	int level;
} level_names[] = {
    {"emerg", LOG_EMERG},     {"alert", LOG_ALERT},   {"crit", LOG_CRIT}, {"error", LOG_ERR},
    {"warning", LOG_WARNING}, {"notice", LOG_NOTICE}, {"info", LOG_INFO}, {"debug", LOG_DEBUG},
    {"err", LOG_ERR},	      {"warn", LOG_WARNING},
};

void log_set_level(int level)
{
	if (level < LOG_EMERG)
		level = LOG_EMERG;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	__atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}

int log_get_level(void)
{
	return __atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

int log_level_parse(const char *name)
{
	if (!name)
		return -1;
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (level_names[i].level < LOG_ERR)
			continue; /* not offered as a threshold */
		if (strcasecmp(name, level_names[i].name) == 0)
			return level_names[i].level;
	}
	return -1;
}

const char *log_level_name(int level)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (level_names[i].level == level)
			return level_names[i].name;
	return "log";
}

void log_set_ident(const char *ident)
{
	if (!ident || !*ident)
		ident = LOG_DEFAULT_IDENT;
	snprintf(log_ident, sizeof(log_ident), "%s", ident);
}

void log_set_fd(int fd)
{
	__atomic_store_n(&log_fd, fd, __ATOMIC_RELAXED);
}

void log_set_sink(FILE *sink)
{
	if (!sink) {
		log_set_fd(2);
		return;
	}
	fflush(sink);
	log_set_fd(fileno(sink));
}

void log_reset(void)
{
	log_set_level(LOG_INFO);
	log_set_ident(NULL);
	log_set_fd(2);
}

/* Appends to buf at *len. *len keeps counting past the end so the caller
 * can tell that the text was cut; nothing is written beyond cap. */
static void append_fmt(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append_vfmt(char *buf, size_t cap, size_t *len, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static void append_vfmt(char *buf, size_t cap, size_t *len, const char *fmt, va_list ap)
{
	if (*len >= cap - 1) {
		*len = cap; /* already full: mark as cut */
		return;
	}
	int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	if (n > 0)
		*len += (size_t)n;
}

static void append_fmt(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	append_vfmt(buf, cap, len, fmt, ap);
	va_end(ap);
}

static void write_all(int fd, const char *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* nowhere left to report it */
		off += (size_t)w;
	}
}

static size_t format_prefix(char *buf, size_t cap, int level)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t len = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	append_fmt(buf, cap, &len, ".%03ldZ %s[%ld] %s: ", ts.tv_nsec / 1000000L, log_ident,
		   (long)getpid(), log_level_name(level));
	return len;
}

static void emit(int level, int errnum, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void emit(int level, int errnum, const char *fmt, va_list ap)
{
	char buf[LOG_LINE_MAX];
	/* Text fills at most cap - 1 bytes, leaving room for "...\n". */
	const size_t cap = sizeof(buf) - 4;
	size_t len = format_prefix(buf, cap, level);

	append_vfmt(buf, cap, &len, fmt, ap);
	if (errnum) {
		/* strerrordesc_np is thread-safe and, unlike strerror_r, has
		 * one signature (sanitizer interceptors confuse the two). */
		const char *etext = strerrordesc_np(errnum);
		if (etext)
			append_fmt(buf, cap, &len, ": %s", etext);
		else
			append_fmt(buf, cap, &len, ": error %d", errnum);
	}
	if (len > cap - 1) {
		len = cap - 1;
		memcpy(buf + len, "...", 3);
		len += 3;
	}
	/* A raw newline would look like two records to a log parser. */
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\n')
			buf[i] = ' ';
	buf[len++] = '\n';
	write_all(__atomic_load_n(&log_fd, __ATOMIC_RELAXED), buf, len);
}

void log_vmsg(int level, const char *fmt, va_list ap)
{
	if (!log_enabled(level))
		return;
	int saved = errno;
	emit(level, 0, fmt, ap);
	errno = saved;
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void log_errnum(int level, int errnum, const char *fmt, ...)
{
	if (!log_enabled(level))
		return;
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	emit(level, errnum < 0 ? -errnum : errnum, fmt, ap);
	va_end(ap);
	errno = saved;
}

bool log_ratelimit_allow(struct log_ratelimit *rl, uint64_t now_ms)
{
	if (rl->interval_ms == 0)
		return true;
	/* A clock that went backwards also opens a new window. */
	if (now_ms < rl->window_start_ms || now_ms - rl->window_start_ms >= rl->interval_ms) {
		rl->window_start_ms = now_ms;
		rl->count = 0;
	}
	if (rl->count < rl->burst) {
		rl->count++;
		return true;
	}
	if (rl->suppressed < ~0u)
		rl->suppressed++;
	return false;
}

unsigned log_ratelimit_take_suppressed(struct log_ratelimit *rl)
{
	unsigned n = rl->suppressed;
	rl->suppressed = 0;
	return n;
}
