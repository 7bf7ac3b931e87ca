/* Unit tests of the transactional control protocol: the body codec and its
 * refusals, sealing and opening (forged, replayed, wrong type, stale), the
 * frame length of a stream header, and the stream reader fed byte by
 * byte. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "tx_proto.h"

#define KEY_HEX	 "00112233445566778899aabbccddeeff0123456789abcdefFEDCBA9876543210"
#define KEY2_HEX "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

static struct tx_msg sample(void)
{
	struct tx_msg m = {
	    .op = TX_COMMIT,
	    .req_id = 77,
	    .session = 0x1122334455667788ull,
	    .conn = {0xc612000a, 0xc612020b, 40000, 7000},
	    .txn = 9,
	    .in_start = 100,
	    .in_end = 140,
	    .out_start = (uint64_t)1 << 40,
	    .out_end = ((uint64_t)1 << 40) + 100000,
	};
	return m;
}

START_TEST(test_codec_roundtrip)
{
	struct tx_msg m = sample(), d;
	uint8_t body[TX_BODY_LEN];
	tx_encode(&m, body);
	ck_assert_int_eq(tx_decode(body, sizeof(body), &d), 0);
	ck_assert(d.op == m.op && d.req_id == m.req_id && d.session == m.session && d.txn == m.txn);
	ck_assert(d.in_start == m.in_start && d.in_end == m.in_end);
	ck_assert(d.out_start == m.out_start && d.out_end == m.out_end);
	ck_assert(d.conn.peer_addr == m.conn.peer_addr && d.conn.server_addr == m.conn.server_addr);
	ck_assert(d.conn.peer_port == m.conn.peer_port && d.conn.server_port == m.conn.server_port);
	/* refusals */
	ck_assert_int_eq(tx_decode(body, sizeof(body) - 1, &d), -EBADMSG);
	body[1] = 2;
	ck_assert_int_eq(tx_decode(body, sizeof(body), &d), -EBADMSG);
	body[1] = TX_PROTO_VERSION;
	body[0] = 0x55;
	ck_assert_int_eq(tx_decode(body, sizeof(body), &d), -EBADMSG);
	m.in_end = 10; /* before in_start */
	tx_encode(&m, body);
	ck_assert_int_eq(tx_decode(body, sizeof(body), &d), -EBADMSG);
	m = sample();
	m.reason = TX_R_OFFSETS; /* a reason on a request */
	tx_encode(&m, body);
	ck_assert_int_eq(tx_decode(body, sizeof(body), &d), -EBADMSG);
	ck_assert_str_eq(tx_op_name(TX_RESTART), "restart");
	ck_assert_str_eq(tx_reason_name(TX_R_HELD_LIMIT), "held_limit");
	ck_assert_str_eq(tx_reason_name(-TX_R_AUTH), "auth");
	ck_assert_str_eq(tx_reason_name(99), "unknown");
}
END_TEST

START_TEST(test_seal_open)
{
	struct auth_key k, k2;
	ck_assert_int_eq(auth_key_from_hex(&k, KEY_HEX, NULL, 0), 0);
	ck_assert_int_eq(auth_key_from_hex(&k2, KEY2_HEX, NULL, 0), 0);
	struct auth_sender snd;
	auth_sender_init(&snd, 42, 0);
	struct auth_receiver rcv;
	struct auth_receiver_config rc;
	auth_receiver_config_default(&rc);
	ck_assert_int_eq(auth_receiver_init(&rcv, &rc), 0);
	uint8_t f[TX_FRAME_MAX], g[TX_FRAME_MAX];
	struct tx_msg m = sample(), d;
	ssize_t n = tx_seal(&snd, &k, &m, f, sizeof(f));
	ck_assert_int_eq(n, TX_FRAME_LEN);
	ck_assert_int_eq(tx_frame_len(f, 10), 0);
	ck_assert_int_eq(tx_frame_len(f, (size_t)n), n);
	int arc;
	/* now_ms must be near the seal time: read it back from the header */
	uint64_t now = (uint64_t)f[28] << 56 | (uint64_t)f[29] << 48 | (uint64_t)f[30] << 40 |
		       (uint64_t)f[31] << 32 | (uint64_t)f[32] << 24 | (uint64_t)f[33] << 16 |
		       (uint64_t)f[34] << 8 | f[35];
	ck_assert_int_eq(tx_open(&rcv, &k, f, (size_t)n, now, &d, &arc), 0);
	ck_assert_int_eq(d.op, TX_COMMIT);
	ck_assert_uint_eq(d.out_end, m.out_end);
	/* replayed */
	ck_assert_int_eq(tx_open(&rcv, &k, f, (size_t)n, now, &d, &arc), -TX_R_AUTH);
	ck_assert_int_eq(arc, AUTH_E_REPLAY);
	/* forged: another key */
	ck_assert_int_eq(tx_seal(&snd, &k2, &m, g, sizeof(g)), n);
	ck_assert_int_eq(tx_open(&rcv, &k, g, (size_t)n, now, &d, &arc), -TX_R_AUTH);
	ck_assert_int_eq(arc, AUTH_E_BAD_TAG);
	/* tampered body */
	ck_assert_int_eq(tx_seal(&snd, &k, &m, g, sizeof(g)), n);
	g[AUTH_MSG_HEADER_LEN + 40] ^= 1;
	ck_assert_int_eq(tx_open(&rcv, &k, g, (size_t)n, now, &d, &arc), -TX_R_AUTH);
	/* stale */
	ck_assert_int_eq(tx_seal(&snd, &k, &m, g, sizeof(g)), n);
	ck_assert_int_eq(tx_open(&rcv, &k, g, (size_t)n, now + 3600000, &d, &arc), -TX_R_AUTH);
	ck_assert_int_eq(arc, AUTH_E_TOO_OLD);
	/* authentic, but the auth type disagrees with the body's op */
	uint8_t body[TX_BODY_LEN];
	tx_encode(&m, body);
	n = auth_msg_seal(&snd, &k, TX_AUTH_TYPE(TX_START), body, sizeof(body), g, sizeof(g));
	ck_assert_int_eq(tx_open(&rcv, &k, g, (size_t)n, now, &d, &arc), -TX_R_MALFORMED);
	/* authentic garbage body */
	memset(body, 0xee, sizeof(body));
	n = auth_msg_seal(&snd, &k, TX_AUTH_TYPE(TX_START), body, sizeof(body), g, sizeof(g));
	ck_assert_int_eq(tx_open(&rcv, &k, g, (size_t)n, now, &d, &arc), -TX_R_MALFORMED);
	/* reply */
	struct tx_msg a;
	tx_reply(&m, -TX_R_OFFSETS, &a);
	ck_assert_int_eq(a.op, TX_FAILURE);
	ck_assert_int_eq(a.reason, TX_R_OFFSETS);
	ck_assert_uint_eq(a.req_id, 77);
	tx_reply(&m, 0, &a);
	ck_assert_int_eq(a.op, TX_SUCCESS);
	auth_receiver_free(&rcv);
}
END_TEST

START_TEST(test_reader)
{
	struct auth_key k;
	ck_assert_int_eq(auth_key_from_hex(&k, KEY_HEX, NULL, 0), 0);
	struct auth_sender snd;
	auth_sender_init(&snd, 1, 0);
	uint8_t stream[3 * TX_FRAME_LEN];
	struct tx_msg m = sample();
	size_t len = 0;
	for (int i = 0; i < 3; i++) {
		m.req_id = (uint32_t)i;
		len += (size_t)tx_seal(&snd, &k, &m, stream + len, sizeof(stream) - len);
	}
	struct tx_reader rd = {0};
	int frames = 0;
	for (size_t i = 0; i < len; i++) {
		ck_assert_uint_eq(tx_reader_feed(&rd, stream + i, 1), 1);
		const uint8_t *f;
		ssize_t n = tx_reader_next(&rd, &f);
		ck_assert_int_ge(n, 0);
		if (n > 0) {
			ck_assert_int_eq(n, TX_FRAME_LEN);
			struct tx_msg d;
			ck_assert_int_eq(tx_decode(f + AUTH_MSG_HEADER_LEN, TX_BODY_LEN, &d), 0);
			ck_assert_uint_eq(d.req_id, (uint32_t)frames);
			tx_reader_consume(&rd, (size_t)n);
			frames++;
		}
	}
	ck_assert_int_eq(frames, 3);
	/* garbage header: cannot resynchronise */
	uint8_t junk[TX_FRAME_HEADER];
	memset(junk, 'G', sizeof(junk));
	tx_reader_feed(&rd, junk, sizeof(junk));
	const uint8_t *f;
	ck_assert_int_eq(tx_reader_next(&rd, &f), -EBADMSG);
	/* a header announcing a huge body */
	rd.have = 0;
	memcpy(junk, stream, sizeof(junk));
	junk[36] = 0x7f;
	tx_reader_feed(&rd, junk, sizeof(junk));
	ck_assert_int_eq(tx_reader_next(&rd, &f), -EBADMSG);
}
END_TEST

Suite *tx_proto_suite(void);
Suite *tx_proto_suite(void)
{
	Suite *s = suite_create("tx_proto");
	TCase *tc = tcase_create("proto");
	tcase_add_test(tc, test_codec_roundtrip);
	tcase_add_test(tc, test_seal_open);
	tcase_add_test(tc, test_reader);
	suite_add_tcase(s, tc);
	return s;
}
