/* Unit tests of auth_msg: keys, seal/open, every rejection reason, the
 * replay window at its edges, sender restarts (epochs), the bounded sender
 * table, and the counters. Time is passed explicitly (seal_at / now_ms), so
 * nothing here depends on the clock. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth_msg.h"
#include "stats.h"

#define KEY_HEX	 "00112233445566778899aabbccddeeff0123456789abcdefFEDCBA9876543210"
#define KEY2_HEX "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
#define T0	 1700000000000ull /* a wall clock in ms */

static struct auth_key key, key2;
static struct auth_receiver rx;

static void setup(void)
{
	ck_assert_int_eq(auth_key_from_hex(&key, KEY_HEX, NULL, 0), 0);
	ck_assert_int_eq(auth_key_from_hex(&key2, KEY2_HEX, NULL, 0), 0);
	struct auth_receiver_config cfg;
	auth_receiver_config_default(&cfg);
	cfg.max_senders = 4;
	cfg.max_age_ms = 1000;
	cfg.max_future_ms = 500;
	ck_assert_int_eq(auth_receiver_init(&rx, &cfg), 0);
}

static void teardown(void)
{
	auth_receiver_free(&rx);
}

/* Seals "hello" as sender s at time t into buf; returns the length. */
static size_t seal(struct auth_sender *s, uint64_t t, uint8_t *buf, size_t cap)
{
	ssize_t n = auth_msg_seal_at(s, &key, 0x0201, "hello", 5, buf, cap, t);
	ck_assert_int_gt(n, 0);
	return (size_t)n;
}

START_TEST(key_parsing)
{
	struct auth_key k;
	char err[128];

	ck_assert_int_eq(auth_key_from_hex(&k, "  " KEY_HEX "\n", err, sizeof(err)), 0);
	ck_assert_int_eq(k.bytes[0], 0x00);
	ck_assert_int_eq(k.bytes[5], 0x55);
	ck_assert_int_eq(k.bytes[31], 0x10);
	/* Short, long, non-hex, two words, all zero. */
	ck_assert_int_eq(auth_key_from_hex(&k, "0011", err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "64"));
	ck_assert_int_eq(auth_key_from_hex(&k, KEY_HEX "0", err, sizeof(err)), -EINVAL);
	char bad[] = KEY_HEX;
	bad[10] = 'g';
	ck_assert_int_eq(auth_key_from_hex(&k, bad, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(auth_key_from_hex(&k, KEY_HEX " 00", err, sizeof(err)), -EINVAL);
	char zero[65];
	memset(zero, '0', 64);
	zero[64] = '\0';
	ck_assert_int_eq(auth_key_from_hex(&k, zero, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(auth_key_from_hex(&k, "", NULL, 0), -EINVAL);
}
END_TEST

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(key_files)
{
	char path[] = "/tmp/craft-auth-key-XXXXXX";
	int fd = mkstemp(path);
	struct auth_key k;
	char err[256];

	ck_assert_int_ge(fd, 0);
	close(fd);
	write_file(path, KEY_HEX "\n");
	ck_assert_int_eq(auth_key_load_file(path, &k, err, sizeof(err)), 0);
	ck_assert_mem_eq(k.bytes, key.bytes, AUTH_KEY_LEN);
	write_file(path, "deadbeef\n");
	ck_assert_int_eq(auth_key_load_file(path, &k, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, path));
	unlink(path);
	ck_assert_int_eq(auth_key_load_file(path, &k, err, sizeof(err)), -ENOENT);
	auth_key_wipe(&k);
	for (int i = 0; i < AUTH_KEY_LEN; i++)
		ck_assert_int_eq(k.bytes[i], 0);
}
END_TEST

START_TEST(round_trip)
{
	struct auth_sender s;
	uint8_t buf[256];
	struct auth_msg_view v;

	auth_sender_init(&s, 7, 1000);
	for (int i = 0; i < 3; i++) {
		size_t n = seal(&s, T0 + (uint64_t)i, buf, sizeof(buf));
		ck_assert_uint_eq(n, AUTH_MSG_OVERHEAD + 5);
		ck_assert_int_eq(auth_msg_open(&rx, &key, buf, n, T0, &v), AUTH_OK);
		ck_assert_uint_eq(v.type, 0x0201);
		ck_assert_uint_eq(v.sender, 7);
		ck_assert_uint_eq(v.epoch, 1000);
		ck_assert_uint_eq(v.seq, (uint64_t)i + 1);
		ck_assert_uint_eq(v.timestamp_ms, T0 + (uint64_t)i);
		ck_assert_uint_eq(v.body_len, 5);
		ck_assert_mem_eq(v.body, "hello", 5);
	}
	/* An empty body, and the capacity and size limits of seal. */
	ssize_t n = auth_msg_seal_at(&s, &key, 1, NULL, 0, buf, sizeof(buf), T0);
	ck_assert_int_eq(n, AUTH_MSG_OVERHEAD);
	ck_assert_int_eq(auth_msg_open(&rx, &key, buf, (size_t)n, T0, &v), AUTH_OK);
	ck_assert_uint_eq(v.body_len, 0);
	ck_assert_int_eq(auth_msg_seal_at(&s, &key, 1, "x", 1, buf, AUTH_MSG_OVERHEAD, T0),
			 -ENOSPC);
	ck_assert_int_eq(
	    auth_msg_seal_at(&s, &key, 1, buf, AUTH_MSG_MAX_BODY + 1, buf, 1u << 20, T0),
	    -EMSGSIZE);
	ck_assert_uint_eq(rx.counts[0], 4);
}
END_TEST

START_TEST(rejections)
{
	struct auth_sender s;
	uint8_t buf[256], bad[256];

	auth_sender_init(&s, 7, 1000);
	size_t n = seal(&s, T0, buf, sizeof(buf));

	ck_assert_int_eq(auth_msg_open(&rx, &key, buf, AUTH_MSG_OVERHEAD - 1, T0, NULL),
			 AUTH_E_TOO_SHORT);
	ck_assert_int_eq(auth_msg_open(&rx, &key, buf, 0, T0, NULL), AUTH_E_TOO_SHORT);
	memcpy(bad, buf, n);
	bad[0] ^= 1;
	ck_assert_int_eq(auth_msg_open(&rx, &key, bad, n, T0, NULL), AUTH_E_BAD_MAGIC);
	memcpy(bad, buf, n);
	bad[4] = 2; /* version */
	ck_assert_int_eq(auth_msg_open(&rx, &key, bad, n, T0, NULL), AUTH_E_BAD_MAGIC);
	memcpy(bad, buf, n);
	bad[5] = 1; /* reserved */
	ck_assert_int_eq(auth_msg_open(&rx, &key, bad, n, T0, NULL), AUTH_E_BAD_MAGIC);
	/* Truncated by one byte, one byte of garbage appended. */
	ck_assert_int_eq(auth_msg_open(&rx, &key, buf, n - 1, T0, NULL), AUTH_E_BAD_LENGTH);
	memcpy(bad, buf, n);
	bad[n] = 0;
	ck_assert_int_eq(auth_msg_open(&rx, &key, bad, n + 1, T0, NULL), AUTH_E_BAD_LENGTH);
	/* A body byte, a header field, a tag byte; another key. */
	memcpy(bad, buf, n);
	bad[AUTH_MSG_HEADER_LEN] ^= 0x20;
	ck_assert_int_eq(auth_msg_open(&rx, &key, bad, n, T0, NULL), AUTH_E_BAD_TAG);
	memcpy(bad, buf, n);
	bad[8 + 3] ^= 1; /* sender id */
	ck_assert_int_eq(auth_msg_open(&rx, &key, bad, n, T0, NULL), AUTH_E_BAD_TAG);
	ck_assert_int_eq(auth_msg_open(&rx, &key2, buf, n, T0, NULL), AUTH_E_BAD_TAG);
	/* Nothing so far touched the window: the genuine message passes once. */
	ck_assert_uint_eq(rx.nwindows, 0);
	ck_assert_int_eq(auth_msg_open(&rx, &key, buf, n, T0, NULL), AUTH_OK);
	ck_assert_int_eq(auth_msg_open(&rx, &key, buf, n, T0, NULL), AUTH_E_REPLAY);
	/* Freshness, both ways, at the edges. */
	size_t old = seal(&s, T0 - 1001, bad, sizeof(bad));
	ck_assert_int_eq(auth_msg_open(&rx, &key, bad, old, T0, NULL), AUTH_E_TOO_OLD);
	old = seal(&s, T0 - 1000, bad, sizeof(bad));
	ck_assert_int_eq(auth_msg_open(&rx, &key, bad, old, T0, NULL), AUTH_OK);
	size_t fut = seal(&s, T0 + 501, bad, sizeof(bad));
	ck_assert_int_eq(auth_msg_open(&rx, &key, bad, fut, T0, NULL), AUTH_E_FUTURE);
	fut = seal(&s, T0 + 500, bad, sizeof(bad));
	ck_assert_int_eq(auth_msg_open(&rx, &key, bad, fut, T0, NULL), AUTH_OK);

	ck_assert_uint_eq(rx.counts[-AUTH_E_TOO_SHORT], 2);
	ck_assert_uint_eq(rx.counts[-AUTH_E_BAD_MAGIC], 3);
	ck_assert_uint_eq(rx.counts[-AUTH_E_BAD_LENGTH], 2);
	ck_assert_uint_eq(rx.counts[-AUTH_E_BAD_TAG], 3);
	ck_assert_uint_eq(rx.counts[-AUTH_E_REPLAY], 1);
	ck_assert_uint_eq(rx.counts[-AUTH_E_TOO_OLD], 1);
	ck_assert_uint_eq(rx.counts[-AUTH_E_FUTURE], 1);
	ck_assert_uint_eq(rx.counts[0], 3);
}
END_TEST

/* Every single-bit flip anywhere in a message is refused. */
START_TEST(every_bit_flip_refused)
{
	struct auth_sender s;
	uint8_t buf[256];

	auth_sender_init(&s, 9, 1);
	size_t n = seal(&s, T0, buf, sizeof(buf));
	for (size_t i = 0; i < n; i++) {
		for (int b = 0; b < 8; b++) {
			buf[i] ^= (uint8_t)(1u << b);
			ck_assert_int_lt(auth_msg_open(&rx, &key, buf, n, T0, NULL), 0);
			buf[i] ^= (uint8_t)(1u << b);
		}
	}
	ck_assert_int_eq(auth_msg_open(&rx, &key, buf, n, T0, NULL), AUTH_OK);
}
END_TEST

START_TEST(tag_compare)
{
	uint8_t a[AUTH_MSG_TAG_LEN], b[AUTH_MSG_TAG_LEN];

	for (int i = 0; i < AUTH_MSG_TAG_LEN; i++)
		a[i] = b[i] = (uint8_t)(i * 7);
	ck_assert(auth_tag_equal(a, b));
	for (int i = 0; i < AUTH_MSG_TAG_LEN; i++) {
		b[i] ^= 0x80;
		ck_assert(!auth_tag_equal(a, b));
		b[i] ^= 0x80;
	}
}
END_TEST

/* Seals messages seq 1..n and returns them in msgs. */
static void seal_many(struct auth_sender *s, uint8_t msgs[][128], size_t *lens, int n)
{
	for (int i = 0; i < n; i++)
		lens[i] = seal(s, T0, msgs[i], sizeof(msgs[i]));
}

START_TEST(window_edges)
{
	static uint8_t msgs[200][128];
	size_t lens[200];
	struct auth_sender s;

	auth_sender_init(&s, 3, 5);
	seal_many(&s, msgs, lens, 200); /* seq i + 1 in msgs[i] */

	/* Arrive out of order: 100 first, then the window below it. */
	ck_assert_int_eq(auth_msg_open(&rx, &key, msgs[99], lens[99], T0, NULL), AUTH_OK);
	/* seq 37 is 63 below the top: the last slot of the window. */
	ck_assert_int_eq(auth_msg_open(&rx, &key, msgs[36], lens[36], T0, NULL), AUTH_OK);
	ck_assert_int_eq(auth_msg_open(&rx, &key, msgs[36], lens[36], T0, NULL), AUTH_E_REPLAY);
	/* seq 36 is 64 below: outside, refused though never seen. */
	ck_assert_int_eq(auth_msg_open(&rx, &key, msgs[35], lens[35], T0, NULL), AUTH_E_REPLAY);
	for (int i = 98; i >= 37; i--)
		ck_assert_int_eq(auth_msg_open(&rx, &key, msgs[i], lens[i], T0, NULL), AUTH_OK);
	for (int i = 36; i < 100; i++)
		ck_assert_int_eq(auth_msg_open(&rx, &key, msgs[i], lens[i], T0, NULL),
				 AUTH_E_REPLAY);
	/* A jump of exactly 64 clears the bitmap; a jump of 63 keeps one. */
	ck_assert_int_eq(auth_msg_open(&rx, &key, msgs[163], lens[163], T0, NULL), AUTH_OK);
	ck_assert_int_eq(auth_msg_open(&rx, &key, msgs[100], lens[100], T0, NULL), AUTH_OK);
	ck_assert_int_eq(auth_msg_open(&rx, &key, msgs[99], lens[99], T0, NULL), AUTH_E_REPLAY);
	ck_assert_int_eq(auth_msg_open(&rx, &key, msgs[199], lens[199], T0, NULL), AUTH_OK);
	ck_assert_int_eq(auth_msg_open(&rx, &key, msgs[163], lens[163], T0, NULL), AUTH_E_REPLAY);
	ck_assert_int_eq(auth_msg_open(&rx, &key, msgs[164], lens[164], T0, NULL), AUTH_OK);
}
END_TEST

START_TEST(epoch_restart)
{
	uint8_t old_msg[128], m[128];
	struct auth_sender s;

	auth_sender_init(&s, 5, 1000);
	size_t old_len = seal(&s, T0, old_msg, sizeof(old_msg));
	ck_assert_int_eq(auth_msg_open(&rx, &key, old_msg, old_len, T0, NULL), AUTH_OK);
	for (int i = 0; i < 10; i++) {
		size_t n = seal(&s, T0, m, sizeof(m));
		ck_assert_int_eq(auth_msg_open(&rx, &key, m, n, T0, NULL), AUTH_OK);
	}
	/* The sender restarts: seq back to 1, higher epoch: accepted. */
	auth_sender_init(&s, 5, 2000);
	size_t n = seal(&s, T0 + 10, m, sizeof(m));
	ck_assert_int_eq(auth_msg_open(&rx, &key, m, n, T0 + 10, NULL), AUTH_OK);
	ck_assert_uint_eq(rx.epoch_resets, 1);
	/* A message of the old incarnation, still fresh: a replay. */
	ck_assert_int_eq(auth_msg_open(&rx, &key, old_msg, old_len, T0 + 10, NULL), AUTH_E_REPLAY);
	/* A restart with a clock that stepped back is accepted only after
	 * max_age of silence. */
	struct auth_sender back;
	auth_sender_init(&back, 5, 1500);
	n = seal(&back, T0 + 20, m, sizeof(m));
	ck_assert_int_eq(auth_msg_open(&rx, &key, m, n, T0 + 20, NULL), AUTH_E_REPLAY);
	n = seal(&back, T0 + 1100, m, sizeof(m));
	ck_assert_int_eq(auth_msg_open(&rx, &key, m, n, T0 + 1100, NULL), AUTH_OK);
	ck_assert_uint_eq(rx.epoch_resets, 2);
}
END_TEST

START_TEST(allow_list)
{
	struct auth_sender a, b;
	uint8_t m[128];

	ck_assert_int_eq(auth_receiver_allow(&rx, 1), 0);
	ck_assert_int_eq(auth_receiver_allow(&rx, 1), 0); /* idempotent */
	auth_sender_init(&a, 1, 1);
	auth_sender_init(&b, 2, 1);
	size_t n = seal(&a, T0, m, sizeof(m));
	ck_assert_int_eq(auth_msg_open(&rx, &key, m, n, T0, NULL), AUTH_OK);
	n = seal(&b, T0, m, sizeof(m));
	ck_assert_int_eq(auth_msg_open(&rx, &key, m, n, T0, NULL), AUTH_E_UNKNOWN_SENDER);
	/* A forgery claiming an unknown id is a bad tag first. */
	m[AUTH_MSG_HEADER_LEN] ^= 1;
	ck_assert_int_eq(auth_msg_open(&rx, &key, m, n, T0, NULL), AUTH_E_BAD_TAG);
	ck_assert_uint_eq(rx.counts[-AUTH_E_UNKNOWN_SENDER], 1);
	/* The allow-list fills the table too. */
	for (uint32_t id = 2; id <= 4; id++)
		ck_assert_int_eq(auth_receiver_allow(&rx, id), 0);
	ck_assert_int_eq(auth_receiver_allow(&rx, 5), -ENOSPC);
}
END_TEST

START_TEST(table_full_and_forgetting)
{
	struct auth_sender s[6];
	uint8_t m[128];

	for (uint32_t i = 0; i < 6; i++)
		auth_sender_init(&s[i], 100 + i, 1);
	for (int i = 0; i < 4; i++) {
		size_t n = seal(&s[i], T0, m, sizeof(m));
		ck_assert_int_eq(auth_msg_open(&rx, &key, m, n, T0, NULL), AUTH_OK);
	}
	size_t n = seal(&s[4], T0, m, sizeof(m));
	ck_assert_int_eq(auth_msg_open(&rx, &key, m, n, T0, NULL), AUTH_E_TABLE_FULL);
	/* Sender 0 stays active; after max_age the silent ones can go. */
	n = seal(&s[0], T0 + 900, m, sizeof(m));
	ck_assert_int_eq(auth_msg_open(&rx, &key, m, n, T0 + 900, NULL), AUTH_OK);
	n = seal(&s[4], T0 + 1001, m, sizeof(m));
	ck_assert_int_eq(auth_msg_open(&rx, &key, m, n, T0 + 1001, NULL), AUTH_OK);
	ck_assert_uint_eq(rx.forgotten, 1);
	n = seal(&s[5], T0 + 1002, m, sizeof(m));
	ck_assert_int_eq(auth_msg_open(&rx, &key, m, n, T0 + 1002, NULL), AUTH_OK);
	ck_assert_uint_eq(rx.nwindows, 4);
	ck_assert_uint_eq(rx.counts[-AUTH_E_TABLE_FULL], 1);
}
END_TEST

START_TEST(stats_names)
{
	struct stats_report r;
	struct auth_sender s;
	uint8_t m[128];

	auth_sender_init(&s, 1, 1);
	size_t n = seal(&s, T0, m, sizeof(m));
	auth_msg_open(&rx, &key, m, n, T0, NULL);
	auth_msg_open(&rx, &key, m, n, T0, NULL);
	stats_reset(&r);
	auth_receiver_collect_stats(&rx, &r, "auth");
	ck_assert_uint_eq(stats_get(&r, "auth_accepted"), 1);
	ck_assert_uint_eq(stats_get(&r, "auth_replay"), 1);
	ck_assert_uint_eq(stats_get(&r, "auth_senders"), 1);
	ck_assert_str_eq(auth_result_name(AUTH_E_BAD_TAG), "bad_tag");
	ck_assert_str_eq(auth_result_name(1), "unknown");
	ck_assert_str_eq(auth_result_name(-AUTH_NRESULTS), "unknown");
}
END_TEST

Suite *auth_msg_suite(void);
Suite *auth_msg_suite(void)
{
	Suite *s = suite_create("auth_msg");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, key_parsing);
	tcase_add_test(tc, key_files);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, rejections);
	tcase_add_test(tc, every_bit_flip_refused);
	tcase_add_test(tc, tag_compare);
	tcase_add_test(tc, window_edges);
	tcase_add_test(tc, epoch_restart);
	tcase_add_test(tc, allow_list);
	tcase_add_test(tc, table_full_and_forgetting);
	tcase_add_test(tc, stats_names);
	suite_add_tcase(s, tc);
	return s;
}
