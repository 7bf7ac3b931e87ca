/* Unit tests of sha256_stream: the FIPS 180-2 test vectors, incremental
 * updates split at every boundary agreeing with the one-shot digest and
 * with libsodium's independent implementation, and the failed/finished
 * states (final twice, free of a zeroed stream). */
#include <check.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "sha256_stream.h"

Suite *sha256_stream_suite(void);

static void hex(const uint8_t *d, char *out)
{
	for (int i = 0; i < SHA256_DIGEST_LEN; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

START_TEST(test_vectors)
{
	static const struct {
		const char *msg, *want;
	} v[] = {
	    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	};
	for (unsigned i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t d[SHA256_DIGEST_LEN];
		char h[2 * SHA256_DIGEST_LEN + 1];
		ck_assert_int_eq(sha256_digest(v[i].msg, strlen(v[i].msg), d), 0);
		hex(d, h);
		ck_assert_str_eq(h, v[i].want);
		struct sha256_stream s;
		ck_assert_int_eq(sha256_stream_init(&s), 0);
		for (const char *p = v[i].msg; *p; p++)
			sha256_stream_update(&s, p, 1);
		ck_assert_int_eq(sha256_stream_final(&s, d), 0);
		hex(d, h);
		ck_assert_str_eq(h, v[i].want);
	}
}
END_TEST

START_TEST(test_splits_match_libsodium)
{
	static uint8_t buf[5000];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + (i >> 7));
	uint8_t want[SHA256_DIGEST_LEN], got[SHA256_DIGEST_LEN];
	crypto_hash_sha256(want, buf, sizeof(buf));
	for (size_t cut = 0; cut <= sizeof(buf); cut += 97) {
		struct sha256_stream s;
		ck_assert_int_eq(sha256_stream_init(&s), 0);
		sha256_stream_update(&s, buf, cut);
		sha256_stream_update(&s, buf + cut, 0);
		sha256_stream_update(&s, buf + cut, sizeof(buf) - cut);
		ck_assert_int_eq(sha256_stream_final(&s, got), 0);
		ck_assert_mem_eq(got, want, SHA256_DIGEST_LEN);
	}
}
END_TEST

START_TEST(test_finished_and_zeroed_streams)
{
	struct sha256_stream s = {0};
	uint8_t d[SHA256_DIGEST_LEN];
	sha256_stream_free(&s); /* zeroed: nothing to release */
	sha256_stream_update(&s, "x", 1);
	ck_assert_int_eq(sha256_stream_final(&s, d), -EIO);
	static const uint8_t zero[SHA256_DIGEST_LEN];
	ck_assert_mem_eq(d, zero, SHA256_DIGEST_LEN);
	ck_assert_int_eq(sha256_stream_init(&s), 0);
	sha256_stream_update(&s, "abc", 3);
	ck_assert_int_eq(sha256_stream_final(&s, d), 0);
	/* A second final has no state left: an error, never a stale digest. */
	ck_assert_int_eq(sha256_stream_final(&s, d), -EIO);
	ck_assert_int_eq(sha256_stream_init(&s), 0);
	sha256_stream_free(&s);
	sha256_stream_free(&s);
}
END_TEST

Suite *sha256_stream_suite(void)
{
	Suite *s = suite_create("sha256_stream");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_vectors);
	tcase_add_test(tc, test_splits_match_libsodium);
	tcase_add_test(tc, test_finished_and_zeroed_streams);
	suite_add_tcase(s, tc);
	return s;
}
