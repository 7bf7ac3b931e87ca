/* test_state_msg.c - the backend-support message codec: every type
 * round-trips byte-exactly, every truncation and extension is refused,
 * reserved bits and out-of-range values are refused with their own code,
 * garbage never crashes and whatever decodes re-encodes to the same bytes;
 * sealed messages open only with the right key, once, with a matching
 * auth type; the logger's sender reaches a UDP socket. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "state_msg.h"

static const uint8_t KEY[] = "0123456789abcdef0123456789abcdef"; /* a session key */
static uint8_t BLOB[300];

static struct state_msg sample(enum state_type t)
{
	struct state_msg m = {.type = t};
	for (size_t i = 0; i < sizeof(BLOB); i++)
		BLOB[i] = (uint8_t)(i * 7);
	switch (t) {
	case STATE_T_STATE:
	case STATE_T_APPLY:
		m.u.push = (struct state_push){.origin = 1700000000123456ull,
					       .seq = 42,
					       .txn_id = 0xC612010BA0000003ull,
					       .flags = t == STATE_T_STATE ? STATE_F_SYNC : 0,
					       .key_len = 32,
					       .blob_len = sizeof(BLOB),
					       .key = KEY,
					       .blob = BLOB};
		break;
	case STATE_T_ACK:
		m.u.ack = (struct state_ack){
		    .origin = 7, .seq = 8, .status = STATE_ACK_DUPLICATE, .stored = 99};
		break;
	case STATE_T_SAVE:
		m.u.save = (struct state_save){.origin = 7,
					       .seq = 9,
					       .txn_id = 0xC612010BA0000004ull,
					       .kind = STATE_AID_RESPONSE,
					       .total = 1000,
					       .offset = 700,
					       .chunk_len = 300,
					       .chunk = BLOB};
		break;
	case STATE_T_LOGGED:
		m.u.logged.n = 3;
		for (int i = 0; i < 3; i++)
			m.u.logged.txn[i] = 0xC612010BA0000001ull + (uint64_t)i;
		break;
	case STATE_T_QUERY:
		m.u.query = (struct state_query){
		    .query_id = 5, .selector = STATE_SEL_CONN, .ipv4 = 0xC6120B01, .port = 40001};
		break;
	case STATE_T_REPLY:
		m.u.reply = (struct state_reply){.query_id = 5,
						 .status = STATE_REPLY_BUSY,
						 .flags = STATE_REPLY_F_FORCED,
						 .pending = 3,
						 .t_s = 0xC612010BA0000002ull,
						 .t_a = 0xC612010BA0000004ull,
						 .sessions = 1,
						 .aids = 2};
		break;
	case STATE_T_APPLY_UP_TO:
		m.u.apply_up_to = (struct state_apply_up_to){.query_id = 6,
							     .ipv4 = 0xC6120B01,
							     .port = 40001,
							     .up_to = 4,
							     .flags = STATE_APPLY_DISCARD_AFTER};
		break;
	case STATE_T_APPLIED:
		m.u.applied = (struct state_applied){
		    .origin = 7, .seq = 42, .txn_id = 0xC612010BA0000003ull, .status = 1};
		break;
	}
	return m;
}

static uint8_t buf[STATE_DATAGRAM_MAX + 16], buf2[STATE_DATAGRAM_MAX + 16];

static void roundtrip(const struct state_msg *m, int expect_len)
{
	int n = state_msg_encode(m, buf, sizeof(buf));
	ck_assert_int_eq(n, expect_len);
	ck_assert_uint_eq(state_msg_encoded_len(m), (size_t)n);
	struct state_msg d;
	ck_assert_int_eq(state_msg_decode(buf, (size_t)n, &d), 0);
	ck_assert_int_eq(d.type, m->type);
	ck_assert_int_eq(state_msg_encode(&d, buf2, sizeof(buf2)), n);
	ck_assert_mem_eq(buf, buf2, (size_t)n);
	for (int len = 0; len < n; len++)
		ck_assert_int_lt(state_msg_decode(buf, (size_t)len, &d), 0);
	buf[n] = 0;
	ck_assert_int_eq(state_msg_decode(buf, (size_t)n + 1, &d), STATE_E_LENGTH);
	/* Truncations with the header's length fixed up are refused too. */
	memcpy(buf2, buf, (size_t)n);
	for (int len = STATE_HEADER_LEN; len < n; len++) {
		uint32_t body = (uint32_t)(len - STATE_HEADER_LEN);
		buf2[4] = (uint8_t)(body >> 24);
		buf2[5] = (uint8_t)(body >> 16);
		buf2[6] = (uint8_t)(body >> 8);
		buf2[7] = (uint8_t)body;
		ck_assert_int_lt(state_msg_decode(buf2, (size_t)len, &d), 0);
	}
	ck_assert_int_eq(state_msg_encode(m, buf, (size_t)n - 1), -ENOSPC);
}

START_TEST(roundtrips)
{
	static const int lens[STATE_NTYPES] = {
	    0,	    8 + 32 + 32 + 300, 8 + 24, 8 + 40 + 300, 8 + 8 + 24, 8 + 16, 8 + 40,
	    8 + 24, 8 + 32 + 32 + 300, 8 + 32};
	for (int t = STATE_T_STATE; t < STATE_NTYPES; t++) {
		struct state_msg m = sample((enum state_type)t);
		roundtrip(&m, lens[t]);
	}
	/* session selector, DELETE with empty blob, the largest message */
	struct state_msg m = sample(STATE_T_QUERY);
	m.u.query = (struct state_query){
	    .query_id = 1, .selector = STATE_SEL_SESSION, .key_len = 32, .key = KEY};
	roundtrip(&m, 8 + 16 + 32);
	m = sample(STATE_T_STATE);
	m.u.push.flags = STATE_F_DELETE;
	m.u.push.blob_len = 0;
	m.u.push.blob = NULL;
	roundtrip(&m, 8 + 32 + 32);
	static uint8_t big[STATE_BLOB_MAX], key64[STATE_KEY_MAX];
	memset(key64, 'k', sizeof(key64));
	m = sample(STATE_T_STATE);
	m.u.push.key = key64;
	m.u.push.key_len = STATE_KEY_MAX;
	m.u.push.blob = big;
	m.u.push.blob_len = STATE_BLOB_MAX;
	roundtrip(&m, STATE_MSG_MAX);

	/* Values survive, pointers point into the buffer. */
	struct state_msg d;
	m = sample(STATE_T_STATE);
	int n = state_msg_encode(&m, buf, sizeof(buf));
	ck_assert_int_eq(state_msg_decode(buf, (size_t)n, &d), 0);
	ck_assert_uint_eq(d.u.push.origin, m.u.push.origin);
	ck_assert_uint_eq(d.u.push.txn_id, m.u.push.txn_id);
	ck_assert_ptr_eq(d.u.push.key, buf + 8 + 32);
	ck_assert_mem_eq(d.u.push.blob, BLOB, sizeof(BLOB));
	/* The wire layout of the header. */
	ck_assert_uint_eq(buf[0], 1);
	ck_assert_uint_eq(buf[1], STATE_T_STATE);
	ck_assert_uint_eq(buf[7], (32 + 32 + 300) & 0xff);
	ck_assert_uint_eq(STATE_AUTH_TYPE(STATE_T_LOGGED), 0x0404);
	m = sample(STATE_T_REPLY);
	n = state_msg_encode(&m, buf, sizeof(buf));
	ck_assert_int_eq(state_msg_decode(buf, (size_t)n, &d), 0);
	ck_assert_mem_eq(&d.u.reply, &m.u.reply, sizeof(m.u.reply));
}
END_TEST

START_TEST(refusals)
{
	struct state_msg m = sample(STATE_T_STATE), d;
	int n = state_msg_encode(&m, buf, sizeof(buf));
#define MUTATE(off, val, code)                                                                     \
	do {                                                                                       \
		memcpy(buf2, buf, (size_t)n);                                                      \
		buf2[off] = (uint8_t)(val);                                                        \
		ck_assert_int_eq(state_msg_decode(buf2, (size_t)n, &d), code);                     \
	} while (0)
	MUTATE(0, 2, STATE_E_VERSION);
	MUTATE(1, 0, STATE_E_TYPE);
	MUTATE(1, STATE_NTYPES, STATE_E_TYPE);
	MUTATE(2, 1, STATE_E_RESERVED);
	MUTATE(8 + 24, 4, STATE_E_RESERVED); /* flag bit 2 */
	MUTATE(8 + 25, 0, STATE_E_VALUE);    /* key_len 0 */
	MUTATE(8 + 25, 65, STATE_E_VALUE);   /* key_len over the max */
	MUTATE(8 + 25, 33, STATE_E_LENGTH);  /* disagrees with the length */
	MUTATE(8 + 27, 1, STATE_E_RESERVED);
	MUTATE(8 + 28, 1, STATE_E_VALUE); /* blob_len over the max */
	MUTATE(1, STATE_T_ACK, STATE_E_LENGTH);
	/* APPLY carries DELETE only. */
	m = sample(STATE_T_APPLY);
	n = state_msg_encode(&m, buf, sizeof(buf));
	MUTATE(8 + 24, STATE_F_SYNC, STATE_E_RESERVED);

	m = sample(STATE_T_ACK);
	n = state_msg_encode(&m, buf, sizeof(buf));
	MUTATE(8 + 16, 4, STATE_E_VALUE);
	MUTATE(8 + 18, 1, STATE_E_RESERVED);

	m = sample(STATE_T_SAVE);
	n = state_msg_encode(&m, buf, sizeof(buf));
	MUTATE(8 + 24, 0, STATE_E_VALUE); /* kind */
	MUTATE(8 + 24, 3, STATE_E_VALUE);
	MUTATE(8 + 26, 1, STATE_E_RESERVED);
	MUTATE(8 + 35, 0xff, STATE_E_VALUE); /* offset + len > total */
	MUTATE(8 + 31, 0, STATE_E_VALUE);    /* total 1000 -> 768 < offset + len */
	MUTATE(8 + 28, 2, STATE_E_VALUE);    /* total over STATE_AID_MAX */

	m = sample(STATE_T_LOGGED);
	n = state_msg_encode(&m, buf, sizeof(buf));
	MUTATE(8 + 1, 0, STATE_E_LENGTH); /* n 0 disagrees */
	MUTATE(8 + 3, 1, STATE_E_RESERVED);
	MUTATE(8 + 7, 1, STATE_E_RESERVED);
	/* n = 0 and n over the max with a matching length */
	struct state_msg l = {.type = STATE_T_LOGGED};
	ck_assert_int_eq(state_msg_encode(&l, buf, sizeof(buf)), -EINVAL);
	l.u.logged.n = STATE_LOGGED_MAX + 1;
	ck_assert_int_eq(state_msg_encode(&l, buf, sizeof(buf)), -EINVAL);
	memset(buf2, 0, sizeof(buf2));
	buf2[0] = 1;
	buf2[1] = STATE_T_LOGGED;
	buf2[7] = 8;
	ck_assert_int_eq(state_msg_decode(buf2, 16, &d), STATE_E_VALUE);

	m = sample(STATE_T_QUERY);
	n = state_msg_encode(&m, buf, sizeof(buf));
	MUTATE(8 + 8, 3, STATE_E_VALUE);		 /* selector */
	MUTATE(8 + 8, STATE_SEL_SESSION, STATE_E_VALUE); /* session without key */
	MUTATE(8 + 9, 1, STATE_E_LENGTH);
	memcpy(buf2, buf, (size_t)n);
	buf2[8 + 10] = buf2[8 + 11] = 0;
	ck_assert_int_eq(state_msg_decode(buf2, (size_t)n, &d), STATE_E_VALUE);

	m = sample(STATE_T_REPLY);
	n = state_msg_encode(&m, buf, sizeof(buf));
	MUTATE(8 + 8, 4, STATE_E_VALUE);
	MUTATE(8 + 9, 2, STATE_E_RESERVED);
	MUTATE(8 + 11, 1, STATE_E_RESERVED);

	m = sample(STATE_T_APPLY_UP_TO);
	n = state_msg_encode(&m, buf, sizeof(buf));
	MUTATE(8 + 20, 2, STATE_E_RESERVED);
	MUTATE(8 + 15, 1, STATE_E_RESERVED);
	MUTATE(8 + 23, 1, STATE_E_RESERVED);
	MUTATE(8 + 17, 1, STATE_E_VALUE); /* up_to over 65535 */

	m = sample(STATE_T_APPLIED);
	n = state_msg_encode(&m, buf, sizeof(buf));
	MUTATE(8 + 24, 2, STATE_E_VALUE);
	MUTATE(8 + 31, 1, STATE_E_RESERVED);

	/* The encoder refuses what the decoder would. */
	m = sample(STATE_T_STATE);
	m.u.push.key_len = 0;
	ck_assert_int_eq(state_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	ck_assert_uint_eq(state_msg_encoded_len(&m), 0);
	m = sample(STATE_T_STATE);
	m.u.push.blob_len = STATE_BLOB_MAX + 1;
	ck_assert_int_eq(state_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m = sample(STATE_T_SAVE);
	m.u.save.offset = 701;
	ck_assert_int_eq(state_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m = sample(STATE_T_APPLY_UP_TO);
	m.u.apply_up_to.port = 0;
	ck_assert_int_eq(state_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.type = (enum state_type)0;
	ck_assert_int_eq(state_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(state_msg_decode(buf, 3, &d), STATE_E_SHORT);
	ck_assert_str_eq(state_err_name(STATE_E_AUTH_TYPE), "auth_type");
	ck_assert_str_eq(state_err_name(5), "?");
	ck_assert_str_eq(state_type_name(STATE_T_APPLY_UP_TO), "apply_up_to");
}
END_TEST

START_TEST(garbage)
{
	srandom(7);
	struct state_msg d;
	unsigned decoded = 0;
	for (int round = 0; round < 200000; round++) {
		size_t len = (size_t)(random() % 120);
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)random();
		if (len >= 8 && (round & 1)) { /* make the header plausible */
			buf[0] = 1;
			buf[1] = (uint8_t)(1 + random() % 9);
			buf[2] = buf[3] = 0;
			buf[4] = buf[5] = buf[6] = 0;
			buf[7] = (uint8_t)(len - 8);
		}
		if (state_msg_decode(buf, len, &d) == 0) {
			decoded++;
			ck_assert_int_eq(state_msg_encode(&d, buf2, sizeof(buf2)), (int)len);
			ck_assert_mem_eq(buf, buf2, len);
		}
	}
	/* Valid messages with a few bytes changed: many still decode. */
	for (int round = 0; round < 50000; round++) {
		struct state_msg m = sample((enum state_type)(1 + round % (STATE_NTYPES - 1)));
		int n = state_msg_encode(&m, buf, sizeof(buf));
		for (int k = 0; k < 1 + round % 3; k++)
			buf[random() % n] = (uint8_t)random();
		size_t len = (size_t)n - (size_t)(round % 7 == 0 ? random() % n : 0);
		if (state_msg_decode(buf, len, &d) == 0) {
			decoded++;
			ck_assert_int_eq(state_msg_encode(&d, buf2, sizeof(buf2)), (int)len);
			ck_assert_mem_eq(buf, buf2, len);
		}
	}
	ck_assert_uint_gt(decoded, 1000);
}
END_TEST

static struct auth_key test_key(uint8_t fill)
{
	struct auth_key k;
	memset(k.bytes, fill, sizeof(k.bytes));
	return k;
}

START_TEST(sealed)
{
	struct auth_key key = test_key(0x11), other = test_key(0x22);
	struct auth_sender s;
	struct auth_receiver r;
	struct auth_receiver_config cfg;
	auth_receiver_config_default(&cfg);
	ck_assert_int_eq(auth_receiver_init(&r, &cfg), 0);
	auth_sender_init(&s, 7, 1000);
	uint64_t now = realtime_us() / 1000;
	struct state_msg m = sample(STATE_T_STATE), d;
	int plain = state_msg_encode(&m, buf2, sizeof(buf2));
	ssize_t n = auth_msg_seal_at(&s, &key, STATE_AUTH_TYPE(STATE_T_STATE), buf2, (size_t)plain,
				     buf, sizeof(buf), now);
	ck_assert_int_gt(n, 0);
	struct auth_msg_view v;
	ck_assert_int_eq(state_msg_open(&r, &key, buf, (size_t)n, now, &v, &d), 0);
	ck_assert_uint_eq(v.sender, 7);
	ck_assert_mem_eq(d.u.push.blob, BLOB, sizeof(BLOB));
	/* replayed, forged, tampered */
	ck_assert_int_eq(state_msg_open(&r, &key, buf, (size_t)n, now, NULL, &d), STATE_E_AUTH);
	n = auth_msg_seal_at(&s, &other, STATE_AUTH_TYPE(STATE_T_STATE), buf2, (size_t)plain, buf,
			     sizeof(buf), now);
	ck_assert_int_eq(state_msg_open(&r, &key, buf, (size_t)n, now, NULL, &d), STATE_E_AUTH);
	n = auth_msg_seal_at(&s, &key, STATE_AUTH_TYPE(STATE_T_STATE), buf2, (size_t)plain, buf,
			     sizeof(buf), now);
	buf[AUTH_MSG_HEADER_LEN + 20] ^= 1;
	ck_assert_int_eq(state_msg_open(&r, &key, buf, (size_t)n, now, NULL, &d), STATE_E_AUTH);
	/* authentic, but the auth type names another message */
	n = auth_msg_seal_at(&s, &key, STATE_AUTH_TYPE(STATE_T_LOGGED), buf2, (size_t)plain, buf,
			     sizeof(buf), now);
	ck_assert_int_eq(state_msg_open(&r, &key, buf, (size_t)n, now, NULL, &d),
			 STATE_E_AUTH_TYPE);
	/* authentic garbage */
	n = auth_msg_seal_at(&s, &key, STATE_AUTH_TYPE(STATE_T_STATE), "xyz", 3, buf, sizeof(buf),
			     now);
	ck_assert_int_eq(state_msg_open(&r, &key, buf, (size_t)n, now, NULL, &d), STATE_E_SHORT);
	ck_assert_uint_eq(r.counts[0], 3);
	auth_receiver_free(&r);
}
END_TEST

START_TEST(logger_sender)
{
	struct auth_key key = test_key(0x33);
	int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(rx, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(bind(rx, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t alen = sizeof(a);
	getsockname(rx, (struct sockaddr *)&a, &alen);
	struct auth_sender s;
	auth_sender_init(&s, 3, 0);
	uint64_t ids[STATE_LOGGED_MAX + 1];
	for (unsigned i = 0; i <= STATE_LOGGED_MAX; i++)
		ids[i] = 0xC612010BA0000001ull + i;
	ck_assert_int_eq(state_msg_send_logged(tx, &a, &s, &key, ids, 0), -EINVAL);
	ck_assert_int_eq(state_msg_send_logged(tx, &a, &s, &key, ids, STATE_LOGGED_MAX + 1),
			 -EINVAL);
	ck_assert_int_eq(state_msg_send_logged(tx, &a, &s, &key, ids, STATE_LOGGED_MAX), 0);
	ssize_t n = recv(rx, buf, sizeof(buf), 0);
	struct auth_receiver r;
	struct auth_receiver_config cfg;
	auth_receiver_config_default(&cfg);
	auth_receiver_init(&r, &cfg);
	struct state_msg d;
	ck_assert_int_eq(state_msg_open(&r, &key, buf, (size_t)n, realtime_us() / 1000, NULL, &d),
			 0);
	ck_assert_int_eq(d.type, STATE_T_LOGGED);
	ck_assert_uint_eq(d.u.logged.n, STATE_LOGGED_MAX);
	ck_assert_uint_eq(d.u.logged.txn[STATE_LOGGED_MAX - 1], ids[STATE_LOGGED_MAX - 1]);
	/* A large message goes through the heap path. */
	struct state_msg big = sample(STATE_T_STATE);
	static uint8_t blob[STATE_BLOB_MAX];
	big.u.push.blob = blob;
	big.u.push.blob_len = sizeof(blob);
	ck_assert_int_eq(state_msg_send(tx, &a, &s, &key, &big), 0);
	n = recv(rx, buf, sizeof(buf), 0);
	ck_assert_int_eq(state_msg_open(&r, &key, buf, (size_t)n, realtime_us() / 1000, NULL, &d),
			 0);
	ck_assert_uint_eq(d.u.push.blob_len, STATE_BLOB_MAX);
	auth_receiver_free(&r);
	close(rx);
	close(tx);
}
END_TEST

START_TEST(format_line)
{
	char line[256];
	struct state_msg m = sample(STATE_T_QUERY);
	state_msg_format(&m, line, sizeof(line));
	ck_assert_str_eq(line, "query query=5 selector=1 conn=198.18.11.1:40001 key_len=0");
	m = sample(STATE_T_APPLY_UP_TO);
	state_msg_format(&m, line, sizeof(line));
	ck_assert_str_eq(line, "apply_up_to query=6 conn=198.18.11.1:40001 up_to=4 flags=1");
	for (int t = STATE_T_STATE; t < STATE_NTYPES; t++) {
		m = sample((enum state_type)t);
		ck_assert_int_gt(state_msg_format(&m, line, sizeof(line)), 0);
		ck_assert_str_eq(strtok(line, " "), state_type_name((enum state_type)t));
	}
}
END_TEST

Suite *state_msg_suite(void);
Suite *state_msg_suite(void)
{
	Suite *s = suite_create("state_msg");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, roundtrips);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, garbage);
	tcase_add_test(tc, sealed);
	tcase_add_test(tc, logger_sender);
	tcase_add_test(tc, format_line);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}
