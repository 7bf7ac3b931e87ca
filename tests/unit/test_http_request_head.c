/* The proxy routes on the head of the first request and forwards the rest
 * as bytes, so head_len must be exact whatever follows the head. */
#include <check.h>
#include <string.h>

#include "http_request_head.h"

static int parse(const char *s, struct first_request *r)
{
	return first_request_parse((const uint8_t *)s, strlen(s), 16384, r);
}

START_TEST(test_complete_head)
{
	struct first_request r;
	const char *req =
	    "GET /static/a.css?x=1 HTTP/1.1\r\nUser-Agent: t\r\nHost: Example.org:80\r\n\r\n"
	    "BODYBYTES";
	ck_assert_int_eq(parse(req, &r), FIRST_REQUEST_COMPLETE);
	ck_assert_uint_eq(r.head_len, strlen(req) - strlen("BODYBYTES"));
	ck_assert_str_eq(r.host, "Example.org:80");
	ck_assert_str_eq(r.path, "/static/a.css?x=1");
	ck_assert_str_eq(r.method, "GET");
}
END_TEST

START_TEST(test_incomplete_every_prefix)
{
	const char *req = "POST /login HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
	size_t head = strlen(req) - 3;
	struct first_request r;
	for (size_t n = 0; n < head; n++)
		ck_assert_int_eq(first_request_parse((const uint8_t *)req, n, 16384, &r),
				 FIRST_REQUEST_INCOMPLETE);
	for (size_t n = head; n <= strlen(req); n++) {
		ck_assert_int_eq(first_request_parse((const uint8_t *)req, n, 16384, &r),
				 FIRST_REQUEST_COMPLETE);
		ck_assert_uint_eq(r.head_len, head);
	}
}
END_TEST

START_TEST(test_garbage_and_oversize)
{
	struct first_request r;
	ck_assert_int_eq(parse("\x16\x03\x01\x02\x00garbage\r\n\r\n", &r), FIRST_REQUEST_GARBAGE);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nBad Header\r\n\r\n", &r), FIRST_REQUEST_GARBAGE);
	static char big[20000];
	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	ck_assert_int_eq(first_request_parse((const uint8_t *)big, strlen(big), 8192, &r),
			 FIRST_REQUEST_TOO_LARGE);
	ck_assert_ptr_nonnull(strstr(first_request_error_response(431), "431"));
}
END_TEST

START_TEST(test_no_host)
{
	struct first_request r;
	ck_assert_int_eq(parse("GET /x HTTP/1.0\r\n\r\n", &r), FIRST_REQUEST_COMPLETE);
	ck_assert_uint_eq(r.host_len, 0);
	ck_assert_str_eq(r.path, "/x");
}
END_TEST

Suite *http_request_head_suite(void);
Suite *http_request_head_suite(void)
{
	Suite *s = suite_create("http_request_head");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_complete_head);
	tcase_add_test(tc, test_incomplete_every_prefix);
	tcase_add_test(tc, test_garbage_and_oversize);
	tcase_add_test(tc, test_no_host);
	suite_add_tcase(s, tc);
	return s;
}
