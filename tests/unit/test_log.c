/* Unit tests for log: line format, level filter, errno suffix, truncation,
 * one write per line under threads, and the rate limiter. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int sink_fd = -1;
static char sink_path[64];

static void sink_open(void)
{
	snprintf(sink_path, sizeof(sink_path), "/tmp/craft-test-log-XXXXXX");
	int fd = mkstemp(sink_path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	/* O_APPEND: concurrent writers each land a whole line at the end. */
	sink_fd = open(sink_path, O_WRONLY | O_APPEND);
	ck_assert_int_ge(sink_fd, 0);
	log_reset();
	log_set_ident("craft-test");
	log_set_fd(sink_fd);
}

static void sink_close(void)
{
	log_reset();
	if (sink_fd >= 0)
		close(sink_fd);
	sink_fd = -1;
	unlink(sink_path);
}

/* Everything written so far, NUL-terminated; caller frees. */
static char *sink_read(size_t *len_out)
{
	FILE *f = fopen(sink_path, "r");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)len + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
	buf[len] = '\0';
	fclose(f);
	if (len_out)
		*len_out = (size_t)len;
	return buf;
}

static bool matches(const char *text, const char *pattern)
{
	regex_t re;
	ck_assert_int_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	bool ok = regexec(&re, text, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

#define TS "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"

START_TEST(test_level_names)
{
	ck_assert_int_eq(log_level_parse("error"), LOG_ERR);
	ck_assert_int_eq(log_level_parse("warning"), LOG_WARNING);
	ck_assert_int_eq(log_level_parse("notice"), LOG_NOTICE);
	ck_assert_int_eq(log_level_parse("info"), LOG_INFO);
	ck_assert_int_eq(log_level_parse("DEBUG"), LOG_DEBUG);
	ck_assert_int_eq(log_level_parse("warn"), LOG_WARNING);
	ck_assert_int_eq(log_level_parse("crit"), -1);
	ck_assert_int_eq(log_level_parse("verbose"), -1);
	ck_assert_int_eq(log_level_parse(""), -1);
	ck_assert_int_eq(log_level_parse(NULL), -1);
	ck_assert_str_eq(log_level_name(LOG_WARNING), "warning");
	ck_assert_str_eq(log_level_name(LOG_ERR), "error");
	log_set_level(LOG_DEBUG);
	ck_assert_int_eq(log_get_level(), LOG_DEBUG);
	log_set_level(99);
	ck_assert_int_eq(log_get_level(), LOG_DEBUG);
	log_reset();
	ck_assert_int_eq(log_get_level(), LOG_INFO);
}
END_TEST

static int evaluated;
static int count_eval(void)
{
	return ++evaluated;
}

START_TEST(test_format_and_filter)
{
	sink_open();
	log_warn("hello %d", 42);
	log_debug("hidden %d", count_eval()); /* below level: not evaluated */
	ck_assert_int_eq(evaluated, 0);
	log_set_level(LOG_DEBUG);
	log_debug("shown");
	log_set_level(LOG_ERR);
	log_notice("hidden too");
	log_err("multi\nline");
	char *text = sink_read(NULL);
	char pat[512];
	snprintf(pat, sizeof(pat),
		 "^" TS " craft-test\\[%ld\\] warning: hello 42\n" TS
		 " craft-test\\[%ld\\] debug: shown\n" TS
		 " craft-test\\[%ld\\] error: multi line\n$",
		 (long)getpid(), (long)getpid(), (long)getpid());
	ck_assert_msg(matches(text, pat), "unexpected log text: %s", text);
	free(text);
	sink_close();
}
END_TEST

START_TEST(test_errno_suffix)
{
	sink_open();
	errno = ENOENT;
	log_errno(LOG_ERR, "open %s", "/x");
	ck_assert_int_eq(errno, ENOENT);
	log_errnum(LOG_WARNING, -EAGAIN, "recv");
	char *text = sink_read(NULL);
	ck_assert_msg(strstr(text, " error: open /x: No such file or directory\n"), "%s", text);
	ck_assert_msg(strstr(text, " warning: recv: Resource temporarily unavailable\n"), "%s",
		      text);
	free(text);
	sink_close();
}
END_TEST

START_TEST(test_truncation)
{
	sink_open();
	char *big = malloc(3000);
	memset(big, 'a', 2999);
	big[2999] = '\0';
	log_info("%s", big);
	errno = EIO;
	log_errno(LOG_ERR, "%s", big);
	size_t len;
	char *text = sink_read(&len);
	char *nl = strchr(text, '\n');
	ck_assert_ptr_nonnull(nl);
	size_t first = (size_t)(nl - text) + 1;
	ck_assert_uint_eq(first, LOG_LINE_MAX - 1);
	ck_assert_int_eq(memcmp(nl - 3, "...", 3), 0);
	ck_assert_uint_eq(len, 2 * first);
	free(text);
	free(big);
	sink_close();
}
END_TEST

START_TEST(test_sink_file)
{
	sink_open();
	FILE *f = fdopen(dup(sink_fd), "a");
	ck_assert_ptr_nonnull(f);
	fputs("buffered\n", f);
	log_set_sink(f); /* flushes f first */
	log_info("after");
	fclose(f);
	char *text = sink_read(NULL);
	ck_assert_msg(matches(text, "^buffered\n" TS " craft-test\\[[0-9]+\\] info: after\n$"),
		      "%s", text);
	free(text);
	sink_close();
}
END_TEST

#define THREADS		 4
#define LINES_PER_THREAD 500

static void *writer(void *arg)
{
	long id = (long)arg;
	for (int i = 0; i < LINES_PER_THREAD; i++)
		log_info("thread %ld line %d %s", id, i,
			 "padding padding padding padding padding padding padding padding");
	return NULL;
}

START_TEST(test_threads_whole_lines)
{
	sink_open();
	pthread_t t[THREADS];
	for (long i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, writer, (void *)i), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	char *text = sink_read(NULL);
	regex_t re;
	ck_assert_int_eq(regcomp(&re,
				 "^" TS " craft-test\\[[0-9]+\\] info: thread [0-9] line [0-9]+ "
				 "(padding ?){8}$",
				 REG_EXTENDED | REG_NOSUB),
			 0);
	int lines = 0;
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		ck_assert_msg(regexec(&re, l, 0, NULL, 0) == 0, "torn line: %s", l);
		lines++;
	}
	regfree(&re);
	ck_assert_int_eq(lines, THREADS * LINES_PER_THREAD);
	free(text);
	sink_close();
}
END_TEST

START_TEST(test_ratelimit_pure)
{
	struct log_ratelimit rl = LOG_RATELIMIT_INIT(1000, 3);
	ck_assert(log_ratelimit_allow(&rl, 0));
	ck_assert(log_ratelimit_allow(&rl, 10));
	ck_assert(log_ratelimit_allow(&rl, 999));
	ck_assert(!log_ratelimit_allow(&rl, 999));
	ck_assert(!log_ratelimit_allow(&rl, 999));
	ck_assert_uint_eq(rl.suppressed, 2);
	ck_assert(log_ratelimit_allow(&rl, 1000)); /* new window */
	ck_assert_uint_eq(log_ratelimit_take_suppressed(&rl), 2);
	ck_assert_uint_eq(log_ratelimit_take_suppressed(&rl), 0);
	ck_assert(log_ratelimit_allow(&rl, 1500));
	ck_assert(log_ratelimit_allow(&rl, 1999));
	ck_assert(!log_ratelimit_allow(&rl, 1999));
	ck_assert(log_ratelimit_allow(&rl, 500)); /* clock went back: new window */
	ck_assert_uint_eq(rl.window_start_ms, 500);

	struct log_ratelimit none = LOG_RATELIMIT_INIT(0, 0);
	for (int i = 0; i < 100; i++)
		ck_assert(log_ratelimit_allow(&none, 5));
	struct log_ratelimit mute = LOG_RATELIMIT_INIT(100, 0);
	ck_assert(!log_ratelimit_allow(&mute, 5));
	ck_assert_uint_eq(mute.suppressed, 1);
}
END_TEST

START_TEST(test_ratelimit_macro)
{
	sink_open();
	struct log_ratelimit rl = LOG_RATELIMIT_INIT(20, 2);
	for (int i = 0; i < 5; i++)
		log_rl(&rl, LOG_WARNING, "bad packet %d", i);
	struct timespec ts = {0, 30 * 1000 * 1000};
	nanosleep(&ts, NULL);
	log_rl(&rl, LOG_WARNING, "bad packet %d", 5);
	log_rl(&rl, LOG_DEBUG, "not counted"); /* level filtered first */
	char *text = sink_read(NULL);
	ck_assert_msg(matches(text, "warning: bad packet 0\n.*warning: bad packet 1\n"
				    ".*warning: 3 messages suppressed\n.*warning: bad packet 5\n$"),
		      "%s", text);
	ck_assert_ptr_null(strstr(text, "packet 2"));
	ck_assert_uint_eq(rl.count, 1);
	free(text);
	sink_close();
}
END_TEST

Suite *log_suite(void);
Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_level_names);
	tcase_add_test(tc, test_format_and_filter);
	tcase_add_test(tc, test_errno_suffix);
	tcase_add_test(tc, test_truncation);
	tcase_add_test(tc, test_sink_file);
	tcase_add_test(tc, test_threads_whole_lines);
	tcase_add_test(tc, test_ratelimit_pure);
	tcase_add_test(tc, test_ratelimit_macro);
	suite_add_tcase(s, tc);
	return s;
}
