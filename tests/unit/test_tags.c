/* test_tags.c - the tag rules file: matching (first match wins, the
 * conservative default), HTTP globs and line regexes, and errors that name
 * file:line:col. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stats.h"
#include "tags.h"

static const char rules_text[] =
    "# tag rules for the demo application\n"
    "\n"
    "GET,HEAD  /static/*        deterministic read-only idempotent\n"
    "POST      /login           non-deterministic update non-idempotent   # explicit\n"
    "PUT       /items/[0-9]*    idempotent deterministic\n"
    "*         /api/v1/time     read-only\n"
    "GET       /static/private  update\n" /* shadowed by the first rule */
    "line      \"^(ls|pwd)( |$)\" deterministic read-only idempotent\n"
    "line      \"^GET \"          deterministic read-only\n"
    "line      date             read-only\n";

static struct tag_rules rules;
static struct tag_stats st;

static void setup(void)
{
	struct config_error err;
	memset(&st, 0, sizeof(st));
	int rc = tags_load_buffer(&rules, "demo.tags", rules_text, strlen(rules_text), &err);
	ck_assert_msg(rc == 0, "%s", err.msg);
}

static void teardown(void)
{
	tags_free(&rules);
}

#define ALL (TAG_DETERMINISTIC | TAG_READ_ONLY | TAG_IDEMPOTENT)

START_TEST(http_matching)
{
	ck_assert_uint_eq(rules.n, 8);
	struct tag_match m = tags_match_http(&rules, "GET", "/static/css/a.css?v=3", &st);
	ck_assert_uint_eq(m.tags, ALL);
	ck_assert_int_eq(m.rule, 0);
	ck_assert_uint_eq(m.line, 3);
	m = tags_match_http(&rules, "HEAD", "/static/x", &st);
	ck_assert_uint_eq(m.tags, ALL);
	/* first match wins */
	m = tags_match_http(&rules, "GET", "/static/private", &st);
	ck_assert_int_eq(m.rule, 0);
	m = tags_match_http(&rules, "POST", "/login", &st);
	ck_assert_uint_eq(m.tags, TAGS_CONSERVATIVE);
	ck_assert_int_eq(m.rule, 1);
	ck_assert_uint_eq(m.line, 4);
	m = tags_match_http(&rules, "PUT", "/items/42", &st);
	ck_assert_uint_eq(m.tags, TAG_IDEMPOTENT | TAG_DETERMINISTIC);
	m = tags_match_http(&rules, "PUT", "/items/x", &st);
	ck_assert_int_eq(m.rule, -1);
	/* any method; absolute-form target */
	m = tags_match_http(&rules, "DELETE", "http://svc:8080/api/v1/time#now", &st);
	ck_assert_uint_eq(m.tags, TAG_READ_ONLY);
	ck_assert_int_eq(m.rule, 3);
	/* unmatched: conservative */
	m = tags_match_http(&rules, "POST", "/static/upload", &st);
	ck_assert_uint_eq(m.tags, TAGS_CONSERVATIVE);
	ck_assert_int_eq(m.rule, -1);
	ck_assert_uint_eq(m.line, 0);
	/* methods are case-sensitive, lists are exact */
	m = tags_match_http(&rules, "get", "/static/a", &st);
	ck_assert_int_eq(m.rule, -1);
	m = tags_match_http(&rules, "GE", "/static/a", &st);
	ck_assert_int_eq(m.rule, -1);
	/* line rules never match HTTP */
	m = tags_match_http(&rules, "GET", "ls", &st);
	ck_assert_int_eq(m.rule, -1);
	ck_assert_uint_eq(st.matched, 6);
	ck_assert_uint_eq(st.defaulted, 5);
}
END_TEST

START_TEST(line_matching)
{
	struct tag_match m = tags_match_line(&rules, "ls -l /tmp", &st);
	ck_assert_uint_eq(m.tags, ALL);
	ck_assert_uint_eq(m.line, 8);
	ck_assert_uint_eq(tags_match_line(&rules, "pwd", &st).tags, ALL);
	ck_assert_int_eq(tags_match_line(&rules, "lsof", &st).rule, -1);
	m = tags_match_line(&rules, "GET key", &st);
	ck_assert_uint_eq(m.tags, TAG_DETERMINISTIC | TAG_READ_ONLY);
	ck_assert_int_eq(tags_match_line(&rules, "GETX key", &st).rule, -1);
	/* unanchored */
	ck_assert_uint_eq(tags_match_line(&rules, "TZ=UTC date", &st).tags, TAG_READ_ONLY);
	ck_assert_uint_eq(tags_match_line(&rules, "setenv PATH x", &st).tags, TAGS_CONSERVATIVE);
}
END_TEST

START_TEST(txn_matching)
{
	struct txn t;
	memset(&t, 0, sizeof(t));
	snprintf(t.method, sizeof(t.method), "GET");
	snprintf(t.target, sizeof(t.target), "/static/logo.png");
	ck_assert_uint_eq(tags_match_txn(&rules, TXN_PROTO_HTTP, &t, &st).tags, ALL);
	snprintf(t.target, sizeof(t.target), "pwd");
	ck_assert_uint_eq(tags_match_txn(&rules, TXN_PROTO_LINE, &t, &st).tags, ALL);
	ck_assert_int_eq(tags_match_txn(&rules, TXN_PROTO_HTTP, &t, &st).rule, -1);

	char path[64];
	tags_http_path("https://h/a/b?x=1", path, sizeof(path));
	ck_assert_str_eq(path, "/a/b");
	tags_http_path("http://h", path, sizeof(path));
	ck_assert_str_eq(path, "/");
	tags_http_path("/q?u=http://x/y", path, sizeof(path));
	ck_assert_str_eq(path, "/q");
	tags_http_path("*", path, sizeof(path));
	ck_assert_str_eq(path, "*");
	tags_http_path("/abcdef", path, 4);
	ck_assert_str_eq(path, "/ab");

	char buf[80];
	ck_assert_str_eq(tags_format(ALL, buf, sizeof(buf)), "deterministic read-only idempotent");
	ck_assert_str_eq(tags_format(TAGS_CONSERVATIVE, buf, sizeof(buf)),
			 "non-deterministic update non-idempotent");

	/* an empty table tags everything conservatively */
	struct tag_rules none;
	tags_init(&none);
	ck_assert_uint_eq(tags_match_http(&none, "GET", "/", NULL).tags, TAGS_CONSERVATIVE);
	tags_free(&none);

	struct stats_report r;
	stats_reset(&r);
	tags_collect_stats(&rules, &st, &r, "tag");
	ck_assert_uint_eq(stats_get(&r, "tag_rules"), 8);
	ck_assert_uint_eq(stats_get(&r, "tag_matched"), 2);
	ck_assert_uint_eq(stats_get(&r, "tag_defaulted"), 1);
}
END_TEST

static void expect_error(const char *text, int rc, const char *msg)
{
	struct tag_rules r;
	struct config_error err;
	int got = tags_load_buffer(&r, "t.tags", text, strlen(text), &err);
	ck_assert_msg(got == rc, "'%s': rc %d, want %d (%s)", text, got, rc, err.msg);
	ck_assert_msg(strstr(err.msg, msg) != NULL, "'%s': message '%s' lacks '%s'", text, err.msg,
		      msg);
	ck_assert_uint_eq(r.n, 0);
	ck_assert_ptr_null(r.rules);
}

START_TEST(errors_name_position)
{
	expect_error("GET /a deterministic\nGET /b read-only foo\n", -EINVAL,
		     "t.tags:2:18: unknown tag 'foo'");
	expect_error("GET /a deterministic non-deterministic\n", -EINVAL,
		     "t.tags:1:22: 'non-deterministic' repeats");
	expect_error("GET /a idempotent idempotent\n", -EINVAL, "t.tags:1:19:");
	expect_error("\n\nline \"^GET \n", -EINVAL, "t.tags:3:6: unterminated quote");
	expect_error("line (unclosed read-only\n", -EINVAL,
		     "t.tags:1:6: invalid regular expression");
	expect_error("GET\n", -EINVAL, "t.tags:1:1: path pattern expected");
	expect_error("line\n", -EINVAL, "t.tags:1:1: regular expression expected");
	expect_error("G(T /a\n", -EINVAL, "t.tags:1:2: invalid character '('");
	expect_error("GET,,POST /a\n", -EINVAL, "t.tags:1:5: empty method");
	expect_error("GET \"/a\"x read-only\n", -EINVAL, "t.tags:1:9: blank expected");
	expect_error("GET \"\" read-only\n", -EINVAL, "t.tags:1:5: empty path pattern");

	/* NUL byte */
	struct tag_rules r;
	struct config_error err;
	ck_assert_int_eq(tags_load_buffer(&r, "t.tags", "GET /a\0x\n", 9, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "t.tags:1:7: NUL byte"));

	/* a very long line */
	size_t n = CONFIG_LINE_MAX + 10;
	char *big = malloc(n + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', n);
	big[n] = '\0';
	expect_error(big, -EINVAL, "t.tags:1:");
	/* a pattern too long */
	memcpy(big, "GET /", 5);
	big[5 + TAGS_PATTERN_MAX] = '\0';
	expect_error(big, -EINVAL, "token too long");
	free(big);
}
END_TEST

START_TEST(rule_count_bounded)
{
	size_t per = 16, n = (size_t)(TAGS_MAX_RULES + 1);
	char *text = malloc(per * n + 1);
	ck_assert_ptr_nonnull(text);
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, per + 1, "GET /%09zu\n", i);
	struct tag_rules r;
	struct config_error err;
	ck_assert_int_eq(tags_load_buffer(&r, "many", text, len, &err), -E2BIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "many:1025:1: too many rules"));
	ck_assert_uint_eq(r.n, 0);
	/* exactly the limit loads */
	size_t cut = len - 15;
	ck_assert_int_eq(tags_load_buffer(&r, "many", text, cut, &err), 0);
	ck_assert_uint_eq(r.n, TAGS_MAX_RULES);
	ck_assert_int_eq(tags_match_http(&r, "GET", "/000001023", NULL).rule, 1023);
	tags_free(&r);
	free(text);
}
END_TEST

START_TEST(load_file)
{
	char path[] = "/tmp/craft-tags-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, rules_text, strlen(rules_text)), (ssize_t)strlen(rules_text));
	close(fd);
	struct tag_rules r;
	struct config_error err;
	ck_assert_int_eq(tags_load_file(&r, path, &err), 0);
	ck_assert_uint_eq(r.n, 8);
	tags_free(&r);
	unlink(path);
	ck_assert_int_eq(tags_load_file(&r, path, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "cannot open"));
	ck_assert_ptr_nonnull(strstr(err.msg, path));
	ck_assert_int_eq(tags_load_file(&r, path, NULL), -ENOENT);
	/* quoted tokens with escapes */
	const char *q = "line \"say \\\"hi\\\" \\\\\\\\\" read-only\n";
	ck_assert_int_eq(tags_load_buffer(&r, "q", q, strlen(q), &err), 0);
	ck_assert_uint_eq(tags_match_line(&r, "say \"hi\" \\", NULL).tags, TAG_READ_ONLY);
	tags_free(&r);
}
END_TEST

Suite *tags_suite(void);

Suite *tags_suite(void)
{
	Suite *s = suite_create("tags");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, http_matching);
	tcase_add_test(tc, line_matching);
	tcase_add_test(tc, txn_matching);
	tcase_add_test(tc, errors_name_position);
	tcase_add_test(tc, rule_count_bounded);
	tcase_add_test(tc, load_file);
	suite_add_tcase(s, tc);
	return s;
}
