/* test_ctl_msg.c - the control message codec: every type round-trips
 * byte-exactly, every truncation and extension is refused, every reserved
 * bit and out-of-range value is refused with its own code, random garbage
 * never crashes and whatever decodes re-encodes to the same bytes. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_msg.h"

static struct ctl_msg sample_failed(void)
{
	struct ctl_msg m = {.type = CTL_BACKEND_FAILED};
	struct ctl_backend_failed *f = &m.u.failed;
	f->ip = inet_addr("198.18.2.11");
	f->port = 80;
	f->cause = CTL_CAUSE_CONFIRM_TIMEOUT;
	f->has_txn = true;
	f->event_id = 0x0102030405060708ull;
	f->detected_us = 1700000000123456ull;
	f->latency_us = 512345;
	f->oldest_txn_id = 0xC612010BA0000003ull;
	f->oldest_conn_id = 77;
	f->conns_affected = 12;
	f->conns_waiting = 3;
	f->txns_outstanding = 4;
	f->timeout_us = 200000;
	f->suspect_us = 1700000000000000ull;
	return m;
}

static struct ctl_msg sample_recovered(void)
{
	struct ctl_msg m = {.type = CTL_BACKEND_RECOVERED};
	m.u.recovered.ip = inet_addr("198.18.2.12");
	m.u.recovered.port = 8080;
	m.u.recovered.event_id = 9;
	m.u.recovered.recovered_us = 1700000009000000ull;
	m.u.recovered.down_us = 9000000;
	return m;
}

static struct ctl_msg sample_query(void)
{
	struct ctl_msg m = {.type = CTL_CONN_QUERY};
	struct ctl_conn_query *q = &m.u.query;
	q->query_id = 5;
	q->conn_id = 0;
	q->client_ip = inet_addr("198.18.11.1");
	q->server_ip = inet_addr("198.18.2.11");
	q->client_port = 40001;
	q->server_port = 80;
	q->first_ordinal = 3;
	q->max_txns = CTL_REPLY_MAX_TXNS;
	q->flags = CTL_QUERY_MARKS | CTL_QUERY_TXNS;
	return m;
}

static struct ctl_msg sample_reply(unsigned n)
{
	struct ctl_msg m = {.type = CTL_CONN_REPLY};
	struct ctl_conn_reply *r = &m.u.reply;
	r->query_id = 5;
	r->conn_id = 77;
	r->status = CTL_STATUS_OK;
	r->flags = CTL_REPLY_MORE | CTL_REPLY_MARKS;
	r->ntxn = (uint16_t)n;
	r->ack_cl = 1ull << 33;
	r->last_server_byte = (1ull << 33) + 100;
	r->last_client_byte = 4000;
	r->client_isn = 0xFFFFFFF0u;
	r->server_isn = 12345;
	for (unsigned i = 0; i < n; i++) {
		struct ctl_txn_entry *t = &r->txn[i];
		t->txn_id = 0xC612010BA0000000ull + i + 1;
		t->ordinal = i + 1;
		t->state = CTL_TXN_REQ_DONE | (i % 2 ? CTL_TXN_RESP_DONE : 0);
		t->tags = (uint8_t)(i % 8);
		t->req_start = i * 100;
		t->req_end = i * 100 + 80;
		t->resp_start = i * 5000;
		t->resp_end = i * 5000 + 4000;
	}
	return m;
}

static struct ctl_msg sample_bytes_query(void)
{
	struct ctl_msg m = {.type = CTL_BYTES_QUERY};
	struct ctl_bytes_query *q = &m.u.bytes_query;
	q->query_id = 0x1122334455667788ull;
	q->conn_id = 0;
	q->client_ip = inet_addr("198.18.11.1");
	q->server_ip = inet_addr("198.18.2.11");
	q->client_port = 40001;
	q->server_port = 80;
	q->stream = CTL_STREAM_SERVER;
	q->offset = (1ull << 32) + 17;
	q->length = CTL_BYTES_MAX;
	return m;
}

static struct ctl_msg sample_bytes_reply(unsigned n)
{
	struct ctl_msg m = {.type = CTL_BYTES_REPLY};
	struct ctl_bytes_reply *r = &m.u.bytes_reply;
	r->query_id = 0x1122334455667788ull;
	r->conn_id = 77;
	r->status = n ? CTL_STATUS_OK : CTL_STATUS_NOT_HELD;
	r->stream = CTL_STREAM_CLIENT;
	r->n = (uint16_t)n;
	r->offset = 4096;
	for (unsigned i = 0; i < n; i++)
		r->data[i] = (uint8_t)(i * 7 + 3);
	return m;
}

static void roundtrip(const struct ctl_msg *m, int expect_len)
{
	uint8_t buf[CTL_MSG_MAX], buf2[CTL_MSG_MAX];
	int n = ctl_msg_encode(m, buf, sizeof(buf));
	ck_assert_int_eq(n, expect_len);
	struct ctl_msg d;
	ck_assert_int_eq(ctl_msg_decode(buf, (size_t)n, &d), 0);
	ck_assert_int_eq(d.type, m->type);
	ck_assert_int_eq(ctl_msg_encode(&d, buf2, sizeof(buf2)), n);
	ck_assert_mem_eq(buf, buf2, (size_t)n);
	/* Every truncation, and one byte too many, is refused. (Loops count
	 * and assert once: every ck_assert costs a write in Check.) */
	int accepted = 0;
	for (int len = 0; len < n; len++)
		accepted += ctl_msg_decode(buf, (size_t)len, &d) >= 0;
	ck_assert_int_eq(accepted, 0);
	uint8_t longer[CTL_MSG_MAX + 1];
	memcpy(longer, buf, (size_t)n);
	longer[n] = 0;
	ck_assert_int_eq(ctl_msg_decode(longer, (size_t)n + 1, &d), CTL_E_LENGTH);
	/* A truncation whose header was fixed up to match is refused too. */
	int not_length = 0;
	for (int len = CTL_HEADER_LEN; len < n; len++) {
		buf2[2] = (uint8_t)((len - CTL_HEADER_LEN) >> 8);
		buf2[3] = (uint8_t)(len - CTL_HEADER_LEN);
		not_length += ctl_msg_decode(buf2, (size_t)len, &d) != CTL_E_LENGTH;
	}
	ck_assert_int_eq(not_length, 0);
	/* Too little room to encode. */
	ck_assert_int_eq(ctl_msg_encode(m, buf, (size_t)n - 1), -ENOSPC);
}

START_TEST(roundtrips)
{
	struct ctl_msg m = sample_failed();
	roundtrip(&m, 4 + 72);
	m = sample_recovered();
	roundtrip(&m, 4 + 32);
	m = sample_query();
	roundtrip(&m, 4 + 40);
	for (unsigned n = 0; n <= CTL_REPLY_MAX_TXNS; n++) {
		m = sample_reply(n);
		roundtrip(&m, 4 + 56 + 48 * (int)n);
	}
	m = sample_bytes_query();
	roundtrip(&m, 4 + 44);
	static const unsigned sizes[] = {0, 1, 2, 100, CTL_BYTES_MAX - 1, CTL_BYTES_MAX};
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		m = sample_bytes_reply(sizes[i]);
		roundtrip(&m, 4 + 32 + (int)sizes[i]);
	}
	ck_assert_int_eq(4 + 32 + CTL_BYTES_MAX, CTL_MSG_MAX);
	ck_assert_int_le(4 + 56 + 48 * CTL_REPLY_MAX_TXNS, CTL_MSG_MAX);

	/* Field values survive exactly. */
	uint8_t buf[CTL_MSG_MAX];
	struct ctl_msg d;
	m = sample_reply(CTL_REPLY_MAX_TXNS);
	int n = ctl_msg_encode(&m, buf, sizeof(buf));
	ck_assert_int_eq(ctl_msg_decode(buf, (size_t)n, &d), 0);
	ck_assert_mem_eq(&d.u.reply.txn, &m.u.reply.txn, sizeof(m.u.reply.txn));
	ck_assert_uint_eq(d.u.reply.ack_cl, 1ull << 33);
	ck_assert_uint_eq(d.u.reply.client_isn, 0xFFFFFFF0u);
	m = sample_failed();
	n = ctl_msg_encode(&m, buf, sizeof(buf));
	ck_assert_int_eq(ctl_msg_decode(buf, (size_t)n, &d), 0);
	ck_assert_mem_eq(&d.u.failed, &m.u.failed, sizeof(m.u.failed));
	/* The wire layout of the header and the first fields. */
	ck_assert_uint_eq(buf[0], 1);
	ck_assert_uint_eq(buf[1], CTL_BACKEND_FAILED);
	ck_assert_uint_eq(buf[2], 0);
	ck_assert_uint_eq(buf[3], 72);
	static const uint8_t ip_port[] = {198, 18, 2, 11, 0, 80, 1, 1};
	ck_assert_mem_eq(buf + 4, ip_port, sizeof(ip_port));
	static const uint8_t event[] = {1, 2, 3, 4, 5, 6, 7, 8};
	ck_assert_mem_eq(buf + 12, event, sizeof(event));
	ck_assert_uint_eq(CTL_AUTH_TYPE(CTL_BACKEND_FAILED), 0x0301);
}
END_TEST

/* AUX_DIVERT: the layout by hand, a round trip, and every refusal the
 * aux logger relies on (an END with a ttl, a START without one or over
 * the ceiling, no alternate, an unknown op, reserved bytes). */
START_TEST(aux_divert)
{
	struct ctl_msg m = {.type = CTL_AUX_DIVERT};
	m.u.aux = (struct ctl_aux_divert){.alternate_ip = htonl(0xC612020Cu), /* 198.18.2.12 */
					  .op = CTL_AUX_START,
					  .job_id = 0x0102030405060708ull,
					  .ttl_ms = 30000};
	roundtrip(&m, 4 + 24);
	uint8_t buf[CTL_MSG_MAX];
	ck_assert_int_eq(ctl_msg_encode(&m, buf, sizeof(buf)), 28);
	static const uint8_t want[28] = {1, 7, 0, 24, 198, 18, 2, 12, 1,    0,	  0, 0, 1, 2,
					 3, 4, 5, 6,  7,   8,  0, 0,  0x75, 0x30, 0, 0, 0, 0};
	ck_assert_mem_eq(buf, want, sizeof(want));
	ck_assert_uint_eq(CTL_AUTH_TYPE(CTL_AUX_DIVERT), 0x0307);
	struct ctl_msg d;
	ck_assert_int_eq(ctl_msg_decode(buf, 28, &d), 0);
	ck_assert_mem_eq(&d.u.aux, &m.u.aux, sizeof(m.u.aux));
	char line[256];
	ctl_msg_format(&d, line, sizeof(line));
	ck_assert_str_eq(line, "aux_divert alternate=198.18.2.12 op=start job=72623859790382856 "
			       "ttl_ms=30000");

	struct ctl_msg bad = m;
	bad.u.aux.op = CTL_AUX_END; /* an END carries no ttl */
	ck_assert_int_eq(ctl_msg_encode(&bad, buf, sizeof(buf)), -EINVAL);
	bad.u.aux.ttl_ms = 0;
	ck_assert_int_eq(ctl_msg_encode(&bad, buf, sizeof(buf)), 28);
	bad = m;
	bad.u.aux.ttl_ms = 0;
	ck_assert_int_eq(ctl_msg_encode(&bad, buf, sizeof(buf)), -EINVAL);
	bad.u.aux.ttl_ms = CTL_AUX_TTL_MAX_MS + 1;
	ck_assert_int_eq(ctl_msg_encode(&bad, buf, sizeof(buf)), -EINVAL);
	bad = m;
	bad.u.aux.alternate_ip = 0;
	ck_assert_int_eq(ctl_msg_encode(&bad, buf, sizeof(buf)), -EINVAL);
	/* on the wire */
	ctl_msg_encode(&m, buf, sizeof(buf));
	buf[8] = 3; /* op */
	ck_assert_int_eq(ctl_msg_decode(buf, 28, &d), CTL_E_VALUE);
	ctl_msg_encode(&m, buf, sizeof(buf));
	buf[9] = 1; /* reserved after op */
	ck_assert_int_eq(ctl_msg_decode(buf, 28, &d), CTL_E_RESERVED);
	ctl_msg_encode(&m, buf, sizeof(buf));
	buf[27] = 1; /* reserved at the end */
	ck_assert_int_eq(ctl_msg_decode(buf, 28, &d), CTL_E_RESERVED);
}
END_TEST

/* The byte layout recovery depends on, written out by hand. */
START_TEST(bytes_layout)
{
	uint8_t buf[CTL_MSG_MAX];
	struct ctl_msg m = sample_bytes_query(), d;
	int n = ctl_msg_encode(&m, buf, sizeof(buf));
	ck_assert_int_eq(n, 48);
	static const uint8_t q[] = {1,	 5,  0, 44, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
				    0,	 0,  0, 0,  0,	  0,	0,    0,    198,  18,	11,   1,
				    198, 18, 2, 11, 0x9C, 0x41, 0,    80,   0,	  0,	0,    0,
				    0,	 0,  0, 1,  0,	  0,	0,    17,   0,	  0,	4,    0};
	ck_assert_mem_eq(buf, q, sizeof(q));
	ck_assert_int_eq(ctl_msg_decode(buf, (size_t)n, &d), 0);
	ck_assert_mem_eq(&d.u.bytes_query, &m.u.bytes_query, sizeof(m.u.bytes_query));

	m = sample_bytes_reply(3);
	n = ctl_msg_encode(&m, buf, sizeof(buf));
	static const uint8_t r[] = {1,	  6,	0, 35, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66,
				    0x77, 0x88, 0, 0,  0,    0,	   0,	 0,    0,    77,
				    0,	  1,	0, 3,  0,    0,	   0,	 0,    0,    0,
				    0,	  0,	0, 0,  0x10, 0,	   3,	 10,   17};
	ck_assert_int_eq(n, (int)sizeof(r));
	ck_assert_mem_eq(buf, r, sizeof(r));
	ck_assert_int_eq(ctl_msg_decode(buf, (size_t)n, &d), 0);
	ck_assert_uint_eq(d.u.bytes_reply.n, 3);
	ck_assert_mem_eq(d.u.bytes_reply.data, m.u.bytes_reply.data, 3);
	ck_assert_uint_eq(d.u.bytes_reply.offset, 4096);
	ck_assert_uint_eq(CTL_AUTH_TYPE(CTL_BYTES_REPLY), 0x0306);
}
END_TEST

START_TEST(refusals)
{
	uint8_t buf[CTL_MSG_MAX], bad[CTL_MSG_MAX];
	struct ctl_msg m = sample_failed(), d;
	int n = ctl_msg_encode(&m, buf, sizeof(buf));

#define MUTATE(off, val, code)                                                                     \
	do {                                                                                       \
		memcpy(bad, buf, (size_t)n);                                                       \
		bad[off] = (uint8_t)(val);                                                         \
		ck_assert_int_eq(ctl_msg_decode(bad, (size_t)n, &d), code);                        \
	} while (0)
	MUTATE(0, 2, CTL_E_VERSION);
	MUTATE(0, 0, CTL_E_VERSION);
	MUTATE(1, 0, CTL_E_TYPE);
	MUTATE(1, 8, CTL_E_TYPE); /* 7 is AUX_DIVERT */
	MUTATE(1, 0xFF, CTL_E_TYPE);
	MUTATE(1, CTL_BACKEND_RECOVERED, CTL_E_LENGTH);
	MUTATE(4 + 6, 0, CTL_E_VALUE);	  /* cause 0 */
	MUTATE(4 + 6, 5, CTL_E_VALUE);	  /* cause 5 */
	MUTATE(4 + 7, 2, CTL_E_RESERVED); /* flag bit 1 */
	MUTATE(4 + 7, 0x80, CTL_E_RESERVED);
	memcpy(bad, buf, (size_t)n);
	bad[8] = bad[9] = 0; /* port 0 */
	ck_assert_int_eq(ctl_msg_decode(bad, (size_t)n, &d), CTL_E_VALUE);

	m = sample_recovered();
	n = ctl_msg_encode(&m, buf, sizeof(buf));
	MUTATE(4 + 6, 1, CTL_E_RESERVED);
	MUTATE(4 + 7, 1, CTL_E_RESERVED);

	m = sample_query();
	n = ctl_msg_encode(&m, buf, sizeof(buf));
	MUTATE(4 + 39, 1, CTL_E_RESERVED);
	MUTATE(4 + 35, 4, CTL_E_RESERVED); /* flag bit 2 */
	MUTATE(4 + 33, 0, CTL_E_VALUE);	   /* max_txns 0 */
	MUTATE(4 + 33, CTL_REPLY_MAX_TXNS + 1, CTL_E_VALUE);

	m = sample_reply(2);
	n = ctl_msg_encode(&m, buf, sizeof(buf));
	MUTATE(4 + 16, 4, CTL_E_VALUE);	   /* status */
	MUTATE(4 + 17, 4, CTL_E_RESERVED); /* flags */
	MUTATE(4 + 20, 1, CTL_E_RESERVED);
	MUTATE(4 + 19, 3, CTL_E_LENGTH);	   /* n disagrees with the length */
	MUTATE(4 + 19, 17, CTL_E_VALUE);	   /* n over the max */
	MUTATE(4 + 56 + 12, 0x10, CTL_E_RESERVED); /* entry state bit 4 */
	MUTATE(4 + 56 + 48 + 15, 1, CTL_E_RESERVED);

	m = sample_bytes_query();
	n = ctl_msg_encode(&m, buf, sizeof(buf));
	MUTATE(4 + 29, 1, CTL_E_RESERVED);
	MUTATE(4 + 30, 0x80, CTL_E_RESERVED);
	MUTATE(4 + 31, 1, CTL_E_RESERVED);
	MUTATE(4 + 28, 2, CTL_E_VALUE); /* stream */
	MUTATE(1, CTL_CONN_QUERY, CTL_E_LENGTH);
	memcpy(bad, buf, (size_t)n);
	bad[4 + 40] = bad[4 + 41] = bad[4 + 42] = bad[4 + 43] = 0; /* length 0 */
	ck_assert_int_eq(ctl_msg_decode(bad, (size_t)n, &d), CTL_E_VALUE);
	bad[4 + 42] = (CTL_BYTES_MAX + 1) >> 8; /* length over the max */
	bad[4 + 43] = (uint8_t)(CTL_BYTES_MAX + 1);
	ck_assert_int_eq(ctl_msg_decode(bad, (size_t)n, &d), CTL_E_VALUE);

	m = sample_bytes_reply(5);
	n = ctl_msg_encode(&m, buf, sizeof(buf));
	MUTATE(4 + 16, CTL_STATUS_NOT_HELD + 1, CTL_E_VALUE);
	MUTATE(4 + 17, 2, CTL_E_VALUE);
	MUTATE(4 + 20, 1, CTL_E_RESERVED);
	MUTATE(4 + 23, 1, CTL_E_RESERVED);
	MUTATE(4 + 19, 4, CTL_E_LENGTH); /* n disagrees with the length */
	memcpy(bad, buf, (size_t)n);
	bad[4 + 18] = (CTL_BYTES_MAX + 1) >> 8; /* n over the max */
	bad[4 + 19] = (uint8_t)(CTL_BYTES_MAX + 1);
	ck_assert_int_eq(ctl_msg_decode(bad, (size_t)n, &d), CTL_E_VALUE);
#undef MUTATE

	/* The encoder refuses what the decoder would. */
	m = sample_failed();
	m.u.failed.cause = 9;
	ck_assert_int_eq(ctl_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m = sample_reply(1);
	m.u.reply.ntxn = CTL_REPLY_MAX_TXNS + 1;
	ck_assert_int_eq(ctl_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m = sample_bytes_query();
	m.u.bytes_query.length = 0;
	ck_assert_int_eq(ctl_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.u.bytes_query.length = CTL_BYTES_MAX + 1;
	ck_assert_int_eq(ctl_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m = sample_bytes_reply(1);
	m.u.bytes_reply.n = CTL_BYTES_MAX + 1;
	ck_assert_int_eq(ctl_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.type = (enum ctl_type)9;
	ck_assert_int_eq(ctl_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	ck_assert_str_eq(ctl_err_name(CTL_E_RESERVED), "reserved");
	ck_assert_str_eq(ctl_err_name(0), "ok");
	ck_assert_str_eq(ctl_err_name(-40), "?");
}
END_TEST

START_TEST(garbage)
{
	uint64_t x = 88172645463325252ull;
	uint8_t buf[CTL_MSG_MAX + 8], again[CTL_MSG_MAX];
	struct ctl_msg d;
	unsigned decoded = 0, odd = 0;
	static const size_t lens[] = {4 + 72,	   4 + 32,	4 + 40, 4 + 56,
				      4 + 56 + 48, 4 + 56 + 96, 4 + 44, 4 + 32 + 7};
	for (int i = 0; i < 20000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		/* Half of them get a plausible header and a valid length, so
		 * that the body checks are exercised, and sparse bodies (mostly
		 * zero bytes) so that some pass. */
		bool plausible = i & 1;
		size_t len = plausible ? lens[x % 8] : x % 128;
		for (size_t j = 0; j < len; j++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[j] = plausible && (x & 0x300) ? 0 : (uint8_t)x;
		}
		if (plausible) {
			buf[0] = 1;
			buf[1] = (uint8_t)(len == 76   ? 1
					   : len == 36 ? 2
					   : len == 44 ? 3
					   : len == 48 ? 5
					   : len == 43 ? 6
						       : 4);
			buf[2] = (uint8_t)((len - 4) >> 8);
			buf[3] = (uint8_t)(len - 4);
			if (len == 43) {
				buf[4 + 18] = 0;
				buf[4 + 19] = 7;
			} else if (len >= 60) {
				buf[4 + 18] = 0;
				buf[4 + 19] = (uint8_t)((len - 60) / 48);
			}
		}
		int rc = ctl_msg_decode(buf, len, &d);
		odd += rc > 0 || rc <= -CTL_NERR;
		if (rc == 0) {
			decoded++;
			odd += ctl_msg_encode(&d, again, sizeof(again)) != (int)len ||
			       memcmp(again, buf, len) != 0;
		}
	}
	ck_assert_uint_eq(odd, 0); /* codes in range, decoded ones re-encode exactly */
	ck_assert_uint_gt(decoded, 0);
}
END_TEST

START_TEST(format_line)
{
	char line[2048];
	struct ctl_msg m = sample_failed();
	ctl_msg_format(&m, line, sizeof(line));
	ck_assert_str_eq(line, "backend_failed backend=198.18.2.11:80 cause=confirm_timeout "
			       "event=72623859790382856 detected_us=1700000000123456 "
			       "latency_us=512345 suspect_us=1700000000000000 timeout_us=200000 "
			       "oldest_txn=14272471318531145731 oldest_conn=77 conns_affected=12 "
			       "conns_waiting=3 txns_outstanding=4");
	m = sample_recovered();
	ctl_msg_format(&m, line, sizeof(line));
	ck_assert_str_eq(line, "backend_recovered backend=198.18.2.12:8080 event=9 "
			       "recovered_us=1700000009000000 down_us=9000000");
	m = sample_query();
	ctl_msg_format(&m, line, sizeof(line));
	ck_assert_str_eq(line, "conn_query query=5 conn=0 client=198.18.11.1:40001 "
			       "server=198.18.2.11:80 first=3 max=16 flags=3");
	m = sample_bytes_query();
	ctl_msg_format(&m, line, sizeof(line));
	ck_assert_str_eq(line, "bytes_query query=1234605616436508552 conn=0 "
			       "client=198.18.11.1:40001 server=198.18.2.11:80 stream=server "
			       "offset=4294967313 length=1024");
	m = sample_bytes_reply(0);
	ctl_msg_format(&m, line, sizeof(line));
	ck_assert_str_eq(line, "bytes_reply query=1234605616436508552 conn=77 status=not_held "
			       "stream=client offset=4096 n=0");
	m = sample_reply(2);
	int n = ctl_msg_format(&m, line, sizeof(line));
	ck_assert_int_eq(n, (int)strlen(line));
	ck_assert_ptr_nonnull(strstr(line, " ntxn=2 txn=14272471318531145729:1:1:0:0-80:0-4000 "
					   "txn=14272471318531145730:2:5:1:100-180:5000-9000"));
	/* Cut short: NUL-terminated, full length returned. */
	char small[16];
	ck_assert_int_eq(ctl_msg_format(&m, small, sizeof(small)), n);
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
}
END_TEST

Suite *ctl_msg_suite(void);
Suite *ctl_msg_suite(void)
{
	Suite *s = suite_create("ctl_msg");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, roundtrips);
	tcase_add_test(tc, aux_divert);
	tcase_add_test(tc, bytes_layout);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, garbage);
	tcase_add_test(tc, format_line);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}
