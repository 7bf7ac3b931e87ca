/* Unit tests of splice_msg: round trips of random records, deletions,
 * touches and the sync messages; canonical re-encoding; every truncation
 * and extension refused; each inconsistency refused with its reason; random
 * byte flips refused by the auth layer, or, on a bare body, either refused
 * or decoded into records that are consistent and re-encode to the same
 * bytes. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "auth_msg.h"
#include "helper_splice_record.h"
#include "splice_msg.h"

#define BODY_CAP (1400 - AUTH_MSG_OVERHEAD)

/* An assertion for hot loops: Check's ck_assert_* record every passing
 * check with a syscall, which makes tight loops slow. */
#define REQUIRE(c)                                                                                 \
	do {                                                                                       \
		if (!(c))                                                                          \
			ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #c);                         \
	} while (0)

static struct pktgen_rng rng;

static void setup(void)
{
	pktgen_rng_seed(&rng, 7);
}

static bool key_eq(const struct splice_key *a, const struct splice_key *b)
{
	return a->saddr == b->saddr && a->daddr == b->daddr && a->sport == b->sport &&
	       a->dport == b->dport;
}

static bool dir_eq(const struct splice_dir *a, const struct splice_dir *b)
{
	return a->saddr == b->saddr && a->daddr == b->daddr && a->sport == b->sport &&
	       a->dport == b->dport && a->seq_delta == b->seq_delta &&
	       a->ack_delta == b->ack_delta && a->tsval_delta == b->tsval_delta &&
	       a->tsecr_delta == b->tsecr_delta && a->wscale_from == b->wscale_from &&
	       a->wscale_to == b->wscale_to && a->translate_ts == b->translate_ts;
}

static bool rec_eq(const struct splice_record *a, const struct splice_record *b)
{
	return a->id == b->id && a->gen == b->gen && a->creator == b->creator &&
	       a->backend == b->backend && a->state == b->state &&
	       a->close_reason == b->close_reason && key_eq(&a->client_key, &b->client_key) &&
	       key_eq(&a->backend_key, &b->backend_key) && dir_eq(&a->dir[0], &b->dir[0]) &&
	       dir_eq(&a->dir[1], &b->dir[1]) && a->fin_end[0] == b->fin_end[0] &&
	       a->fin_end[1] == b->fin_end[1];
}

/* A random valid record, lifecycle bits included. */
static void random_record(struct splice_record *r, uint32_t n)
{
	trec_make(&rng, r, 1 + pktgen_below(&rng, 1000), n);
	r->gen = 1 + pktgen_below(&rng, 5);
	if (pktgen_chance(&rng, 30)) {
		r->state |= SPLICE_ST_FIN_C2B;
		r->fin_end[SPLICE_C2B] = pktgen_u32(&rng) | 1;
		if (pktgen_chance(&rng, 50))
			r->state |= SPLICE_ST_FIN_C2B_ACKED;
	}
	if (pktgen_chance(&rng, 30)) {
		r->state |= SPLICE_ST_FIN_B2C;
		r->fin_end[SPLICE_B2C] = pktgen_u32(&rng) | 1;
	}
	if (pktgen_chance(&rng, 20)) {
		r->state |= SPLICE_ST_CLOSED | SPLICE_ST_RST;
		r->close_reason = SPLICE_CLOSE_RST;
	}
	REQUIRE(splice_record_check(r) == SPLICE_REC_OK);
}

static void random_del(struct splice_del *d, uint32_t n)
{
	struct splice_record r;
	trec_make(&rng, &r, 3, n);
	d->id = r.id;
	d->client_key = r.client_key;
	d->backend_key = r.backend_key;
	d->reason = (uint8_t)(1 + pktgen_below(&rng, SPLICE_CLOSE_NREASONS - 1));
}

/* An ADD (or SYNC_DATA) body with `n` records, which are copied to recs. */
static size_t build_records(uint8_t *buf, uint16_t type, struct splice_record *recs, unsigned n)
{
	struct splice_msg_builder b;
	REQUIRE(splice_msg_begin(&b, buf, BODY_CAP, type, 0xabcdef01u, 17) == 0);
	for (unsigned i = 0; i < n; i++) {
		random_record(&recs[i], i);
		REQUIRE(splice_msg_add_record(&b, &recs[i]) == 0);
	}
	return splice_msg_finish(&b);
}

/* Decodes, and insists that the items re-encode to the same bytes. */
static int decode_canonical(uint16_t type, const uint8_t *body, size_t len,
			    struct splice_msg_view *v)
{
	int rc = splice_msg_decode(type, body, len, v);
	if (rc != SPLICE_MSG_OK)
		return rc;
	uint8_t again[BODY_CAP + 64];
	ssize_t n = -1;
	if (type == SPLICE_MSG_SYNC_REQUEST) {
		n = splice_msg_encode_sync_request(again, sizeof(again), v->sync_id);
	} else if (type == SPLICE_MSG_SYNC_END) {
		n = splice_msg_encode_sync_end(again, sizeof(again), v->sync_id, v->chunks,
					       v->records);
	} else {
		struct splice_msg_builder b;
		REQUIRE(splice_msg_begin(&b, again, sizeof(again), type, v->sync_id, v->chunk) ==
			0);
		for (unsigned i = 0; i < v->count; i++) {
			if (type == SPLICE_MSG_DEL) {
				struct splice_del d;
				splice_msg_del_at(v, i, &d);
				REQUIRE(splice_msg_add_del(&b, &d) == 0);
			} else if (type == SPLICE_MSG_TOUCH) {
				REQUIRE(splice_msg_add_touch(&b, splice_msg_touch_at(v, i)) == 0);
			} else {
				struct splice_record r;
				splice_msg_record_at(v, i, &r);
				REQUIRE(splice_record_check(&r) == SPLICE_REC_OK);
				REQUIRE(splice_msg_add_record(&b, &r) == 0);
			}
		}
		n = (ssize_t)splice_msg_finish(&b);
	}
	REQUIRE(n == (ssize_t)len);
	REQUIRE(memcmp(again, body, len) == 0);
	return rc;
}

START_TEST(records_round_trip)
{
	uint8_t body[BODY_CAP];
	struct splice_record recs[16], out;
	struct splice_msg_view v;

	unsigned per = splice_msg_records_per_body(BODY_CAP, SPLICE_MSG_ADD);
	ck_assert_uint_eq(per, (BODY_CAP - 4) / SPLICE_MSG_RECORD_LEN);
	ck_assert_uint_le(per, 16);
	for (int round = 0; round < 200; round++) {
		unsigned n = 1 + pktgen_below(&rng, per);
		uint16_t type = round % 2 ? SPLICE_MSG_ADD : SPLICE_MSG_SYNC_DATA;
		size_t len = build_records(body, type, recs, n);
		ck_assert_int_eq(decode_canonical(type, body, len, &v), SPLICE_MSG_OK);
		ck_assert_uint_eq(v.count, n);
		if (type == SPLICE_MSG_SYNC_DATA) {
			ck_assert_uint_eq(v.sync_id, 0xabcdef01u);
			ck_assert_uint_eq(v.chunk, 17);
		}
		for (unsigned i = 0; i < n; i++) {
			splice_msg_record_at(&v, i, &out);
			REQUIRE(rec_eq(&out, &recs[i]));
		}
	}
}
END_TEST

START_TEST(other_round_trips)
{
	uint8_t body[BODY_CAP];
	struct splice_msg_builder b;
	struct splice_msg_view v;
	struct splice_del dels[8], d;

	ck_assert_int_eq(splice_msg_begin(&b, body, sizeof(body), SPLICE_MSG_DEL, 0, 0), 0);
	for (unsigned i = 0; i < 8; i++) {
		random_del(&dels[i], i);
		ck_assert_int_eq(splice_msg_add_del(&b, &dels[i]), 0);
	}
	size_t len = splice_msg_finish(&b);
	ck_assert_uint_eq(len, 4 + 8 * SPLICE_MSG_DEL_LEN);
	ck_assert_int_eq(decode_canonical(SPLICE_MSG_DEL, body, len, &v), SPLICE_MSG_OK);
	for (unsigned i = 0; i < 8; i++) {
		splice_msg_del_at(&v, i, &d);
		ck_assert_uint_eq(d.id, dels[i].id);
		ck_assert(key_eq(&d.client_key, &dels[i].client_key));
		ck_assert(key_eq(&d.backend_key, &dels[i].backend_key));
		ck_assert_uint_eq(d.reason, dels[i].reason);
	}
	ck_assert_int_eq(splice_msg_begin(&b, body, sizeof(body), SPLICE_MSG_TOUCH, 0, 0), 0);
	for (uint64_t id = 1; id <= 100; id++)
		ck_assert_int_eq(splice_msg_add_touch(&b, id << 32 | id), 0);
	len = splice_msg_finish(&b);
	ck_assert_int_eq(decode_canonical(SPLICE_MSG_TOUCH, body, len, &v), SPLICE_MSG_OK);
	ck_assert_uint_eq(v.count, 100);
	ck_assert_uint_eq(splice_msg_touch_at(&v, 41), (uint64_t)42 << 32 | 42);

	ssize_t n = splice_msg_encode_sync_request(body, sizeof(body), 0x12345678u);
	ck_assert_int_eq(n, 8);
	ck_assert_int_eq(decode_canonical(SPLICE_MSG_SYNC_REQUEST, body, (size_t)n, &v), 0);
	ck_assert_uint_eq(v.sync_id, 0x12345678u);
	n = splice_msg_encode_sync_end(body, sizeof(body), 9, 455, 5000);
	ck_assert_int_eq(n, 16);
	ck_assert_int_eq(decode_canonical(SPLICE_MSG_SYNC_END, body, (size_t)n, &v), 0);
	ck_assert_uint_eq(v.sync_id, 9);
	ck_assert_uint_eq(v.chunks, 455);
	ck_assert_uint_eq(v.records, 5000);
	ck_assert_int_eq(splice_msg_encode_sync_end(body, 15, 9, 1, 1), -ENOSPC);
	ck_assert_int_eq(splice_msg_encode_sync_request(body, 7, 9), -ENOSPC);
}
END_TEST

START_TEST(builder_limits)
{
	uint8_t body[BODY_CAP];
	struct splice_msg_builder b;
	struct splice_record r;
	unsigned per = splice_msg_records_per_body(BODY_CAP, SPLICE_MSG_ADD);

	ck_assert_int_eq(splice_msg_begin(&b, body, sizeof(body), SPLICE_MSG_ADD, 0, 0), 0);
	for (unsigned i = 0; i < per; i++) {
		random_record(&r, i);
		ck_assert_int_eq(splice_msg_add_record(&b, &r), 0);
	}
	ck_assert_int_eq(splice_msg_add_record(&b, &r), -ENOSPC);
	ck_assert_int_eq(splice_msg_add_touch(&b, 5), -EINVAL);
	r.dir[SPLICE_C2B].wscale_from = 15;
	ck_assert_int_eq(splice_msg_add_record(&b, &r), -EINVAL);
	ck_assert_uint_eq(splice_msg_finish(&b), 4 + per * SPLICE_MSG_RECORD_LEN);
	ck_assert_int_eq(splice_msg_begin(&b, body, 3, SPLICE_MSG_ADD, 0, 0), -ENOSPC);
	ck_assert_int_eq(splice_msg_begin(&b, body, sizeof(body), SPLICE_MSG_SYNC_END, 0, 0),
			 -EINVAL);
	ck_assert_int_eq(splice_msg_begin(&b, body, sizeof(body), 0x0201, 0, 0), -EINVAL);
	ck_assert_int_eq(splice_msg_begin(&b, body, sizeof(body), SPLICE_MSG_TOUCH, 0, 0), 0);
	ck_assert_int_eq(splice_msg_add_touch(&b, 0), -EINVAL);
	struct splice_del d = {0};
	ck_assert_int_eq(splice_msg_begin(&b, body, sizeof(body), SPLICE_MSG_DEL, 0, 0), 0);
	ck_assert_int_eq(splice_msg_add_del(&b, &d), -EINVAL);
	ck_assert_uint_eq(splice_msg_records_per_body(10, SPLICE_MSG_ADD), 0);
	ck_assert_uint_eq(splice_msg_records_per_body(1000, SPLICE_MSG_SYNC_END), 0);
}
END_TEST

/* Every shorter prefix, and one byte more, of every kind of message. */
START_TEST(truncations_refused)
{
	uint8_t body[BODY_CAP + 1];
	struct splice_record recs[16];
	struct splice_msg_view v;
	struct {
		uint16_t type;
		size_t len;
		uint8_t bytes[BODY_CAP + 1];
	} cases[6];
	int nc = 0;

	cases[nc].type = SPLICE_MSG_ADD;
	cases[nc].len = build_records(cases[nc].bytes, SPLICE_MSG_ADD, recs, 3);
	nc++;
	cases[nc].type = SPLICE_MSG_SYNC_DATA;
	cases[nc].len = build_records(cases[nc].bytes, SPLICE_MSG_SYNC_DATA, recs, 1);
	nc++;
	struct splice_msg_builder b;
	struct splice_del d;
	splice_msg_begin(&b, cases[nc].bytes, BODY_CAP, SPLICE_MSG_DEL, 0, 0);
	random_del(&d, 1);
	splice_msg_add_del(&b, &d);
	random_del(&d, 2);
	splice_msg_add_del(&b, &d);
	cases[nc].type = SPLICE_MSG_DEL;
	cases[nc].len = splice_msg_finish(&b);
	nc++;
	splice_msg_begin(&b, cases[nc].bytes, BODY_CAP, SPLICE_MSG_TOUCH, 0, 0);
	splice_msg_add_touch(&b, 99);
	cases[nc].type = SPLICE_MSG_TOUCH;
	cases[nc].len = splice_msg_finish(&b);
	nc++;
	cases[nc].type = SPLICE_MSG_SYNC_REQUEST;
	cases[nc].len = (size_t)splice_msg_encode_sync_request(cases[nc].bytes, BODY_CAP, 4);
	nc++;
	cases[nc].type = SPLICE_MSG_SYNC_END;
	cases[nc].len = (size_t)splice_msg_encode_sync_end(cases[nc].bytes, BODY_CAP, 4, 1, 1);
	nc++;

	for (int c = 0; c < nc; c++) {
		ck_assert_int_eq(splice_msg_decode(cases[c].type, cases[c].bytes, cases[c].len, &v),
				 SPLICE_MSG_OK);
		for (size_t len = 0; len < cases[c].len; len++) {
			/* A copy of exactly len bytes, so ASan sees any overread. */
			memcpy(body, cases[c].bytes, len);
			int rc = splice_msg_decode(cases[c].type, body, len, &v);
			REQUIRE(rc == SPLICE_MSG_E_SHORT || rc == SPLICE_MSG_E_LENGTH);
		}
		memcpy(body, cases[c].bytes, cases[c].len);
		body[cases[c].len] = 0;
		ck_assert_int_eq(splice_msg_decode(cases[c].type, body, cases[c].len + 1, &v),
				 SPLICE_MSG_E_LENGTH);
		/* The body of one type is never read as another. */
		ck_assert_int_eq(splice_msg_decode(0x0107, cases[c].bytes, cases[c].len, &v),
				 SPLICE_MSG_E_TYPE);
	}
}
END_TEST

/* Record field offsets within an ADD body (after the 4-byte prefix). */
enum {
	OFF_ID = 4,
	OFF_CREATOR = 4 + 12,
	OFF_STATE = 4 + 18,
	OFF_REASON = 4 + 19,
	OFF_CKEY = 4 + 20,
	OFF_C2B = 4 + 44,
	OFF_B2C = 4 + 75,
	OFF_FIN = 4 + 106,
};

START_TEST(inconsistencies_refused)
{
	uint8_t ok[BODY_CAP], m[BODY_CAP];
	struct splice_record recs[2];
	struct splice_msg_view v;

	size_t len = build_records(ok, SPLICE_MSG_ADD, recs, 1);
	recs[0].state = 0; /* random_record may have set bits; rebuild plainly */
	recs[0].close_reason = 0;
	recs[0].fin_end[0] = recs[0].fin_end[1] = 0;
	struct splice_msg_builder b;
	splice_msg_begin(&b, ok, sizeof(ok), SPLICE_MSG_ADD, 0, 0);
	ck_assert_int_eq(splice_msg_add_record(&b, &recs[0]), 0);
	len = splice_msg_finish(&b);

#define EXPECT(mutation, code)                                                                     \
	do {                                                                                       \
		memcpy(m, ok, len);                                                                \
		mutation;                                                                          \
		ck_assert_int_eq(splice_msg_decode(SPLICE_MSG_ADD, m, len, &v), code);             \
	} while (0)
	EXPECT(m[0] = 2, SPLICE_MSG_E_VERSION);
	EXPECT(m[1] = 1, SPLICE_MSG_E_RESERVED);
	EXPECT(m[3] = 0, SPLICE_MSG_E_COUNT);
	EXPECT(m[3] = 2, SPLICE_MSG_E_LENGTH);
	EXPECT(memset(m + OFF_ID, 0, 8), SPLICE_MSG_E_ID);
	EXPECT(m[OFF_CREATOR] ^= 0x80, SPLICE_MSG_E_ID);
	EXPECT(m[OFF_C2B + 28] = 15, SPLICE_MSG_E_WSCALE);
	EXPECT(m[OFF_B2C + 29] = 255, SPLICE_MSG_E_WSCALE);
	EXPECT(m[OFF_C2B + 30] = 2, SPLICE_MSG_E_RESERVED);
	EXPECT(m[OFF_C2B + 12] ^= 1, SPLICE_MSG_E_DELTA); /* seq_delta */
	EXPECT(m[OFF_B2C + 27] ^= 1, SPLICE_MSG_E_DELTA); /* tsecr_delta */
	EXPECT(m[OFF_CKEY + 3] ^= 1, SPLICE_MSG_E_ADDR);
	EXPECT(m[OFF_C2B + 9] ^= 1, SPLICE_MSG_E_ADDR); /* c2b sport */
	EXPECT(m[OFF_STATE] = 0x80, SPLICE_MSG_E_STATE);
	EXPECT(m[OFF_REASON] = SPLICE_CLOSE_FIN, SPLICE_MSG_E_STATE);
	EXPECT(m[OFF_FIN + 7] = 1, SPLICE_MSG_E_STATE);
	EXPECT(m[OFF_C2B + 30] ^= 1, SPLICE_MSG_E_STATE); /* timestamps on one side only */
#undef EXPECT

	struct splice_del d;
	random_del(&d, 1);
	splice_msg_begin(&b, ok, sizeof(ok), SPLICE_MSG_DEL, 0, 0);
	splice_msg_add_del(&b, &d);
	len = splice_msg_finish(&b);
	memcpy(m, ok, len);
	m[4 + 32] = 0;
	ck_assert_int_eq(splice_msg_decode(SPLICE_MSG_DEL, m, len, &v), SPLICE_MSG_E_REASON);
	m[4 + 32] = SPLICE_CLOSE_NREASONS;
	ck_assert_int_eq(splice_msg_decode(SPLICE_MSG_DEL, m, len, &v), SPLICE_MSG_E_REASON);
	memcpy(m, ok, len);
	memset(m + 4 + 8, 0, 4);
	ck_assert_int_eq(splice_msg_decode(SPLICE_MSG_DEL, m, len, &v), SPLICE_MSG_E_ADDR);
	memcpy(m, ok, len);
	memset(m + 4, 0, 8);
	ck_assert_int_eq(splice_msg_decode(SPLICE_MSG_DEL, m, len, &v), SPLICE_MSG_E_ID);

	splice_msg_begin(&b, ok, sizeof(ok), SPLICE_MSG_TOUCH, 0, 0);
	splice_msg_add_touch(&b, 5);
	len = splice_msg_finish(&b);
	memset(ok + 4, 0, 8);
	ck_assert_int_eq(splice_msg_decode(SPLICE_MSG_TOUCH, ok, len, &v), SPLICE_MSG_E_ID);

	len = (size_t)splice_msg_encode_sync_request(ok, sizeof(ok), 1);
	ok[3] = 1;
	ck_assert_int_eq(splice_msg_decode(SPLICE_MSG_SYNC_REQUEST, ok, len, &v),
			 SPLICE_MSG_E_COUNT);
	ck_assert_str_eq(splice_msg_error_name(SPLICE_MSG_E_WSCALE), "wscale");
	ck_assert_str_eq(splice_msg_error_name(-SPLICE_MSG_NERRORS), "unknown");
	ck_assert_str_eq(splice_msg_type_name(SPLICE_MSG_SYNC_END), "sync_end");
}
END_TEST

/* Sealed, any flipped byte is refused before the body is looked at. */
START_TEST(flips_refused_by_auth)
{
	struct auth_key key;
	struct auth_sender s;
	struct auth_receiver rx;
	struct auth_receiver_config cfg;
	uint8_t body[BODY_CAP], msg[1400];
	struct splice_record recs[16];

	ck_assert_int_eq(auth_key_from_hex(&key,
					   "0123456789abcdef0123456789abcdef"
					   "0123456789abcdef0123456789abcdef",
					   NULL, 0),
			 0);
	auth_receiver_config_default(&cfg);
	ck_assert_int_eq(auth_receiver_init(&rx, &cfg), 0);
	auth_sender_init(&s, 1, 1);
	for (int round = 0; round < 2000; round++) {
		size_t len = build_records(body, SPLICE_MSG_ADD, recs, 1 + pktgen_below(&rng, 11));
		ssize_t n = auth_msg_seal_at(&s, &key, SPLICE_MSG_ADD, body, len, msg, sizeof(msg),
					     1000000);
		REQUIRE(n > 0);
		size_t pos = pktgen_below(&rng, (uint32_t)n);
		msg[pos] ^= (uint8_t)(1 + pktgen_below(&rng, 255));
		REQUIRE(auth_msg_open(&rx, &key, msg, (size_t)n, 1000000, NULL) < 0);
	}
	ck_assert_uint_eq(rx.counts[0], 0);
	auth_receiver_free(&rx);
}
END_TEST

/* Bare bodies with flipped bytes: refused, or consistent and canonical. */
START_TEST(flips_on_bare_bodies)
{
	uint8_t body[BODY_CAP];
	struct splice_record recs[16];
	struct splice_msg_view v;
	unsigned accepted = 0, refused = 0;

	for (int round = 0; round < 5000; round++) {
		uint16_t type = round % 2 ? SPLICE_MSG_ADD : SPLICE_MSG_SYNC_DATA;
		size_t len = build_records(body, type, recs, 1 + pktgen_below(&rng, 3));
		int flips = 1 + (int)pktgen_below(&rng, 3);
		for (int f = 0; f < flips; f++)
			body[pktgen_below(&rng, (uint32_t)len)] ^=
			    (uint8_t)(1u << pktgen_below(&rng, 8));
		if (decode_canonical(type, body, len, &v) == SPLICE_MSG_OK)
			accepted++;
		else
			refused++;
	}
	/* Deltas, fin positions and ids are free-form, so some flips decode. */
	ck_assert_uint_gt(accepted, 0);
	ck_assert_uint_gt(refused, accepted);
}
END_TEST

Suite *splice_msg_suite(void);
Suite *splice_msg_suite(void)
{
	Suite *s = suite_create("splice_msg");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, records_round_trip);
	tcase_add_test(tc, other_round_trips);
	tcase_add_test(tc, builder_limits);
	tcase_add_test(tc, truncations_refused);
	tcase_add_test(tc, inconsistencies_refused);
	tcase_add_test(tc, flips_refused_by_auth);
	tcase_add_test(tc, flips_on_bare_bodies);
	suite_add_tcase(s, tc);
	return s;
}
