/* Unit tests of splice_table: record consistency, lookup by both keys and
 * by id, idempotent apply (duplicates, generations, key conflicts, closed
 * is final), capacity, idle expiry, FIN/RST lingering with a fake clock
 * (including acks across the sequence wrap), delete, tuple reuse, the
 * stable cursor and the redirect owner hash. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "helper_splice_record.h"
#include "splice_table.h"
#include "stats.h"

/* An assertion for hot loops: Check's ck_assert_* record every passing
 * check with a syscall, which makes tight loops slow. */
#define REQUIRE(c)                                                                                 \
	do {                                                                                       \
		if (!(c))                                                                          \
			ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #c);                         \
	} while (0)

static struct pktgen_rng rng;
static struct splice_table *t;
static unsigned removed[SPLICE_RM_REUSED + 1];

static void on_removed(void *ctx, struct splice_entry *e, enum splice_remove_reason why)
{
	(void)ctx;
	(void)e;
	removed[why]++;
}

static void make_table(unsigned max, uint64_t idle, uint64_t linger)
{
	struct splice_table_config cfg;
	splice_table_config_default(&cfg);
	cfg.max_entries = max;
	cfg.idle_ms = idle;
	cfg.linger_ms = linger;
	cfg.creator = 7;
	const struct splice_table_callbacks cb = {.removed = on_removed};
	ck_assert_int_eq(splice_table_create(&t, &cfg, &cb), 0);
}

static void setup(void)
{
	pktgen_rng_seed(&rng, 42);
	memset(removed, 0, sizeof(removed));
	make_table(64, 1000, 500);
}

static void teardown(void)
{
	splice_table_destroy(t);
	t = NULL;
}

static struct splice_entry *add(uint32_t n, uint64_t now)
{
	struct splice_record rec;
	struct splice_entry *e = NULL;

	trec_make(&rng, &rec, 7, n);
	ck_assert_int_eq(splice_table_apply(t, &rec, now, &e), SPLICE_APPLY_NEW);
	ck_assert_ptr_nonnull(e);
	return e;
}

START_TEST(record_check)
{
	struct splice_record ok, r;

	trec_make(&rng, &ok, 7, 1);
	ck_assert_int_eq(splice_record_check(&ok), SPLICE_REC_OK);
#define EXPECT(mutation, code)                                                                     \
	do {                                                                                       \
		r = ok;                                                                            \
		mutation;                                                                          \
		ck_assert_int_eq(splice_record_check(&r), code);                                   \
	} while (0)
	EXPECT(r.id = 0, SPLICE_REC_EID);
	EXPECT(r.creator = 8, SPLICE_REC_EID);
	EXPECT(r.dir[SPLICE_C2B].wscale_to = 15, SPLICE_REC_EWSCALE);
	EXPECT(r.dir[SPLICE_B2C].wscale_from = 200, SPLICE_REC_EWSCALE);
	EXPECT(r.dir[SPLICE_C2B].ack_delta++, SPLICE_REC_EDELTA);
	EXPECT(r.dir[SPLICE_B2C].seq_delta++, SPLICE_REC_EDELTA);
	EXPECT(r.dir[SPLICE_C2B].tsecr_delta++, SPLICE_REC_EDELTA);
	EXPECT(r.client_key.sport++, SPLICE_REC_EADDR);
	EXPECT(r.dir[SPLICE_C2B].daddr++, SPLICE_REC_EADDR);
	EXPECT((r.client_key.saddr = 0, r.dir[SPLICE_B2C].daddr = 0), SPLICE_REC_EADDR);
	EXPECT(r.state = 0x80, SPLICE_REC_ESTATE);
	EXPECT(r.close_reason = SPLICE_CLOSE_RST, SPLICE_REC_ESTATE);
	EXPECT(r.state = SPLICE_ST_CLOSED, SPLICE_REC_ESTATE);
	EXPECT((r.state = SPLICE_ST_CLOSED, r.close_reason = 9), SPLICE_REC_ESTATE);
	EXPECT(r.state = SPLICE_ST_FIN_B2C_ACKED, SPLICE_REC_ESTATE);
	EXPECT(r.fin_end[SPLICE_C2B] = 5, SPLICE_REC_ESTATE);
	EXPECT(r.dir[SPLICE_B2C].translate_ts = !r.dir[SPLICE_C2B].translate_ts, SPLICE_REC_ESTATE);
	EXPECT((r.state = SPLICE_ST_CLOSED | SPLICE_ST_RST, r.close_reason = SPLICE_CLOSE_RST),
	       SPLICE_REC_OK);
#undef EXPECT
	ck_assert_str_eq(splice_record_error_name(SPLICE_REC_EDELTA), "bad_delta");
	ck_assert_int_eq(splice_table_apply(t, &(struct splice_record){0}, 0, NULL), -EINVAL);
	ck_assert_uint_eq(splice_table_stats(t)->invalid, 1);
}
END_TEST

START_TEST(lookup_both_keys)
{
	enum splice_way way;

	for (uint32_t n = 0; n < 50; n++)
		add(n, 0);
	for (uint32_t n = 0; n < 50; n++) {
		struct splice_record rec;
		trec_make(&rng, &rec, 7, n); /* same tuples, new deltas */
		const struct splice_key *c = &rec.client_key, *b = &rec.backend_key;
		struct splice_entry *e1 =
		    splice_table_lookup(t, c->saddr, c->sport, c->daddr, c->dport, &way);
		ck_assert_ptr_nonnull(e1);
		ck_assert_int_eq(way, SPLICE_C2B);
		struct splice_entry *e2 =
		    splice_table_lookup(t, b->saddr, b->sport, b->daddr, b->dport, &way);
		ck_assert_ptr_eq(e1, e2);
		ck_assert_int_eq(way, SPLICE_B2C);
		ck_assert_ptr_eq(splice_table_find(t, rec.id), e1);
		ck_assert_uint_eq(e1->rec.id, rec.id);
		/* The reverse direction of either tuple is not a key. */
		ck_assert_ptr_null(
		    splice_table_lookup(t, c->daddr, c->dport, c->saddr, c->sport, NULL));
		ck_assert_ptr_null(
		    splice_table_lookup(t, b->daddr, b->dport, b->saddr, b->sport, NULL));
	}
	ck_assert_ptr_null(splice_table_find(t, 12345));
	ck_assert_uint_eq(splice_table_count(t), 50);
}
END_TEST

START_TEST(apply_semantics)
{
	struct splice_record rec, r2;
	struct splice_entry *e;

	trec_make(&rng, &rec, 7, 3);
	ck_assert_int_eq(splice_table_apply(t, &rec, 0, &e), SPLICE_APPLY_NEW);
	ck_assert_int_eq(splice_table_apply(t, &rec, 1, &e), SPLICE_APPLY_DUPLICATE);
	/* A resplice: new generation, new backend tuple. */
	r2 = rec;
	r2.gen = 2;
	r2.backend_key.dport += 1000;
	r2.dir[SPLICE_C2B].sport += 1000;
	ck_assert_int_eq(splice_table_apply(t, &r2, 2, &e), SPLICE_APPLY_UPDATED);
	const struct splice_key *ob = &rec.backend_key, *nb = &r2.backend_key;
	ck_assert_ptr_null(
	    splice_table_lookup(t, ob->saddr, ob->sport, ob->daddr, ob->dport, NULL));
	ck_assert_ptr_eq(splice_table_lookup(t, nb->saddr, nb->sport, nb->daddr, nb->dport, NULL),
			 e);
	/* The older generation arriving late changes nothing. */
	ck_assert_int_eq(splice_table_apply(t, &rec, 3, &e), SPLICE_APPLY_STALE);
	ck_assert_ptr_null(e);
	ck_assert_uint_eq(splice_table_find(t, rec.id)->rec.gen, 2);
	/* Closed there: closed here; a late open copy does not reopen it. */
	r2.state = SPLICE_ST_CLOSED | SPLICE_ST_RST;
	r2.close_reason = SPLICE_CLOSE_RST;
	ck_assert_int_eq(splice_table_apply(t, &r2, 4, &e), SPLICE_APPLY_UPDATED);
	ck_assert_uint_eq(splice_table_lingering(t), 1);
	r2.state = 0;
	r2.close_reason = 0;
	ck_assert_int_eq(splice_table_apply(t, &r2, 5, &e), SPLICE_APPLY_DUPLICATE);
	ck_assert(e->rec.state & SPLICE_ST_CLOSED);
	ck_assert_int_eq(e->rec.close_reason, SPLICE_CLOSE_RST);
	/* A new connection on the same client tuple replaces the old entry. */
	struct splice_record r3;
	trec_make(&rng, &r3, 7, 3);
	r3.id = (uint64_t)7 << 32 | 999;
	ck_assert_int_eq(splice_table_apply(t, &r3, 6, &e), SPLICE_APPLY_NEW);
	ck_assert_ptr_null(splice_table_find(t, rec.id));
	ck_assert_uint_eq(splice_table_stats(t)->replaced, 1);
	ck_assert_uint_eq(removed[SPLICE_RM_REPLACED], 1);
	ck_assert_uint_eq(splice_table_count(t), 1);
	const struct splice_table_stats *st = splice_table_stats(t);
	ck_assert_uint_eq(st->created, 2);
	ck_assert_uint_eq(st->duplicates, 2);
	ck_assert_uint_eq(st->stale, 1);
	ck_assert_uint_eq(st->updated, 2);
}
END_TEST

START_TEST(halves_meet)
{
	struct splice_record rec, a, b;
	struct splice_entry *e;

	trec_make(&rng, &rec, 7, 1);
	ck_assert_int_eq(splice_table_apply(t, &rec, 0, &e), SPLICE_APPLY_NEW);
	a = rec;
	a.state = SPLICE_ST_FIN_C2B | SPLICE_ST_FIN_C2B_ACKED;
	a.fin_end[SPLICE_C2B] = 77;
	b = rec;
	b.state = SPLICE_ST_FIN_B2C | SPLICE_ST_FIN_B2C_ACKED;
	b.fin_end[SPLICE_B2C] = 88;
	ck_assert_int_eq(splice_table_apply(t, &a, 1, &e), SPLICE_APPLY_UPDATED);
	ck_assert(!(e->rec.state & SPLICE_ST_CLOSED));
	ck_assert_int_eq(splice_table_apply(t, &b, 2, &e), SPLICE_APPLY_UPDATED);
	ck_assert(e->rec.state & SPLICE_ST_CLOSED);
	ck_assert_int_eq(e->rec.close_reason, SPLICE_CLOSE_FIN);
	ck_assert_uint_eq(e->rec.fin_end[SPLICE_C2B], 77);
	ck_assert_uint_eq(e->rec.fin_end[SPLICE_B2C], 88);
	ck_assert_int_eq(splice_record_check(&e->rec), SPLICE_REC_OK);
}
END_TEST

START_TEST(capacity)
{
	teardown();
	make_table(8, 100000, 500);
	struct splice_entry *first = NULL;
	for (uint32_t n = 0; n < 8; n++) {
		struct splice_entry *e = add(n, n);
		if (!first)
			first = e;
	}
	struct splice_record rec;
	trec_make(&rng, &rec, 7, 8);
	ck_assert_int_eq(splice_table_apply(t, &rec, 10, NULL), -ENOSPC);
	ck_assert_uint_eq(splice_table_stats(t)->full, 1);
	/* A lingering entry is given up for a live one. */
	ck_assert(splice_table_close(t, first, SPLICE_CLOSE_ADMIN, 11));
	ck_assert(!splice_table_close(t, first, SPLICE_CLOSE_ADMIN, 11));
	ck_assert_int_eq(splice_table_apply(t, &rec, 12, NULL), SPLICE_APPLY_NEW);
	ck_assert_uint_eq(splice_table_stats(t)->evicted, 1);
	ck_assert_uint_eq(removed[SPLICE_RM_EVICTED], 1);
	ck_assert_uint_eq(splice_table_count(t), 8);
	struct splice_table *bad;
	struct splice_table_config cfg;
	splice_table_config_default(&cfg);
	cfg.max_entries = 0;
	ck_assert_int_eq(splice_table_create(&bad, &cfg, NULL), -EINVAL);
	cfg.max_entries = SPLICE_TABLE_MAX_LIMIT + 1;
	ck_assert_int_eq(splice_table_create(&bad, &cfg, NULL), -EINVAL);
}
END_TEST

START_TEST(idle_expiry)
{
	struct splice_entry *a = add(0, 0);
	add(1, 0);
	add(2, 100);
	splice_table_touch(t, a, 600);
	ck_assert_uint_eq(splice_table_expire(t, 999), 0);
	ck_assert_uint_eq(splice_table_expire(t, 1000), 1);
	ck_assert_uint_eq(splice_table_expire(t, 1100), 1);
	ck_assert_uint_eq(splice_table_count(t), 1);
	ck_assert_ptr_eq(splice_table_next(t, &(uint32_t){0}), a);
	/* A segment counts as activity too. */
	ck_assert(!splice_table_note(t, a, SPLICE_C2B, TCP_FL_ACK, 1, 1, 0, 1500));
	ck_assert_uint_eq(splice_table_expire(t, 2499), 0);
	ck_assert_uint_eq(splice_table_expire(t, 2500), 1);
	ck_assert_uint_eq(removed[SPLICE_RM_IDLE], 3);
	ck_assert_uint_eq(splice_table_stats(t)->expired, 3);
	ck_assert_uint_eq(splice_table_count(t), 0);
}
END_TEST

/* Drives a full close: client FIN acked by the backend, backend FIN acked by
 * the client, with sequence numbers chosen to wrap. */
START_TEST(fin_linger)
{
	struct splice_entry *e = add(5, 0);
	const struct splice_dir *c2b = &e->rec.dir[SPLICE_C2B], *b2c = &e->rec.dir[SPLICE_B2C];
	uint32_t cseq = 0xfffffff0u; /* client numbering */
	uint32_t bseq = 0xfffffffau; /* backend numbering */

	/* Client: 10 bytes + FIN, ending past the wrap. */
	ck_assert(!splice_table_note(t, e, SPLICE_C2B, TCP_FL_FIN | TCP_FL_ACK, cseq, 0, 10, 10));
	ck_assert(e->rec.state & SPLICE_ST_FIN_C2B);
	ck_assert_uint_eq(e->rec.fin_end[SPLICE_C2B], cseq + 11);
	/* Backend acks all but the FIN: not yet. Its ack is in backend numbering. */
	uint32_t fin_in_backend = cseq + 11 + c2b->seq_delta;
	ck_assert(
	    !splice_table_note(t, e, SPLICE_B2C, TCP_FL_ACK, bseq, fin_in_backend - 1, 0, 20));
	ck_assert(!(e->rec.state & SPLICE_ST_FIN_C2B_ACKED));
	ck_assert(!splice_table_note(t, e, SPLICE_B2C, TCP_FL_ACK, bseq, fin_in_backend, 0, 30));
	ck_assert(e->rec.state & SPLICE_ST_FIN_C2B_ACKED);
	/* Backend FIN; the client acks it in client numbering. */
	ck_assert(!splice_table_note(t, e, SPLICE_B2C, TCP_FL_FIN | TCP_FL_ACK, bseq,
				     fin_in_backend, 5, 40));
	uint32_t bfin_in_client = bseq + 6 + b2c->seq_delta;
	ck_assert(
	    splice_table_note(t, e, SPLICE_C2B, TCP_FL_ACK, cseq + 11, bfin_in_client, 0, 50));
	ck_assert(e->rec.state & SPLICE_ST_CLOSED);
	ck_assert_int_eq(e->rec.close_reason, SPLICE_CLOSE_FIN);
	ck_assert_int_eq(splice_record_check(&e->rec), SPLICE_REC_OK);
	/* Lingering: still found (late retransmissions), gone after 500 ms. */
	const struct splice_key *k = &e->rec.client_key;
	ck_assert_uint_eq(splice_table_lingering(t), 1);
	ck_assert(
	    !splice_table_note(t, e, SPLICE_C2B, TCP_FL_ACK, cseq + 11, bfin_in_client, 0, 300));
	ck_assert_uint_eq(splice_table_expire(t, 549), 0);
	ck_assert_ptr_nonnull(splice_table_lookup(t, k->saddr, k->sport, k->daddr, k->dport, NULL));
	ck_assert_uint_eq(splice_table_expire(t, 550), 1);
	ck_assert_uint_eq(removed[SPLICE_RM_FINISHED], 1);
	ck_assert_uint_eq(splice_table_stats(t)->closed[SPLICE_CLOSE_FIN], 1);
	ck_assert_uint_eq(splice_table_count(t), 0);
}
END_TEST

START_TEST(rst_linger)
{
	struct splice_entry *e = add(9, 0);
	ck_assert(splice_table_note(t, e, SPLICE_B2C, TCP_FL_RST, 1, 0, 0, 100));
	ck_assert(e->rec.state & SPLICE_ST_RST);
	ck_assert_int_eq(e->rec.close_reason, SPLICE_CLOSE_RST);
	ck_assert(!splice_table_note(t, e, SPLICE_B2C, TCP_FL_RST, 1, 0, 0, 101));
	/* Idle expiry does not apply to a lingering entry's schedule. */
	ck_assert_uint_eq(splice_table_expire(t, 599), 0);
	ck_assert_uint_eq(splice_table_expire(t, 600), 1);
	ck_assert_uint_eq(splice_table_stats(t)->closed[SPLICE_CLOSE_RST], 1);
}
END_TEST

START_TEST(delete_by_id)
{
	struct splice_entry *e = add(1, 0);
	uint64_t id = e->rec.id;
	struct splice_key k = e->rec.backend_key;
	add(2, 0);
	ck_assert_int_eq(splice_table_delete(t, id), 0);
	ck_assert_int_eq(splice_table_delete(t, id), -ENOENT);
	ck_assert_ptr_null(splice_table_lookup(t, k.saddr, k.sport, k.daddr, k.dport, NULL));
	ck_assert_uint_eq(removed[SPLICE_RM_DELETED], 1);
	ck_assert_uint_eq(splice_table_count(t), 1);
	/* The freed slot is reused. */
	add(3, 0);
	ck_assert_uint_eq(splice_table_count(t), 2);
}
END_TEST

/* A reused tuple takes its entry away at once, open or lingering. */
START_TEST(reused)
{
	struct splice_entry *open = add(2, 0), *lingering = add(3, 0);
	struct splice_key ck = open->rec.client_key, bk = lingering->rec.backend_key;
	ck_assert(splice_table_close(t, lingering, SPLICE_CLOSE_FIN, 1));
	splice_table_reused(t, open);
	splice_table_reused(t, lingering);
	ck_assert_ptr_null(splice_table_lookup(t, ck.saddr, ck.sport, ck.daddr, ck.dport, NULL));
	ck_assert_ptr_null(splice_table_lookup(t, bk.saddr, bk.sport, bk.daddr, bk.dport, NULL));
	ck_assert_uint_eq(splice_table_count(t), 0);
	ck_assert_uint_eq(splice_table_lingering(t), 0);
	ck_assert_uint_eq(removed[SPLICE_RM_REUSED], 2);
	ck_assert_uint_eq(splice_table_stats(t)->closed[SPLICE_CLOSE_REUSED], 2);
	ck_assert_uint_eq(splice_table_expire(t, 100000), 0);
	struct stats_report r;
	stats_reset(&r);
	splice_table_collect_stats(t, &r, "splice");
	ck_assert_uint_eq(stats_get(&r, "splice_closed_reused"), 2);
	ck_assert_uint_eq(r.overflow, 0);
}
END_TEST

START_TEST(new_ids)
{
	uint64_t a = splice_table_new_id(t);
	ck_assert_uint_eq(a >> 32, 7);
	struct splice_record rec;
	trec_make(&rng, &rec, 7, 1);
	rec.id = a + 1;
	ck_assert_int_eq(splice_table_apply(t, &rec, 0, NULL), SPLICE_APPLY_NEW);
	uint64_t b = splice_table_new_id(t);
	ck_assert_uint_ne(b, a + 1);
	ck_assert_uint_eq(b >> 32, 7);
	for (int i = 0; i < 1000; i++)
		ck_assert_uint_ne(splice_table_new_id(t), b);
}
END_TEST

START_TEST(cursor_walk)
{
	uint32_t cursor = 0, seen = 0;
	struct splice_entry *e;

	for (uint32_t n = 0; n < 40; n++)
		add(n, 0);
	/* Delete every other entry while walking. */
	while ((e = splice_table_next(t, &cursor)) != NULL) {
		if (seen++ % 2)
			splice_table_remove(t, e);
	}
	ck_assert_uint_eq(seen, 40);
	ck_assert_uint_eq(splice_table_count(t), 20);
	ck_assert_ptr_null(splice_table_next(t, &cursor));
	cursor = 0;
	seen = 0;
	while (splice_table_next(t, &cursor))
		seen++;
	ck_assert_uint_eq(seen, 20);
}
END_TEST

START_TEST(owner_hash)
{
	enum { N = 40000 };
	unsigned per[5] = {0}, moved = 0;

	ck_assert_uint_eq(splice_owner(&(struct splice_key){1, 2, 3, 4}, 0), 0);
	ck_assert_uint_eq(splice_owner(&(struct splice_key){1, 2, 3, 4}, 1), 0);
	for (uint32_t i = 0; i < N; i++) {
		struct splice_key k = {TREC_CLIENT + i / 1000, TREC_VIP,
				       (uint16_t)(1024 + i % 1000), 80};
		uint32_t o4 = splice_owner(&k, 4), o5 = splice_owner(&k, 5);
		REQUIRE(o4 < 4);
		REQUIRE(o4 == splice_owner(&k, 4));
		per[o4]++;
		if (o5 != o4) {
			/* Growing the set only moves connections to the new proxy. */
			REQUIRE(o5 == 4);
			moved++;
		}
	}
	for (int i = 0; i < 4; i++) {
		ck_assert_uint_gt(per[i], N / 4 * 9 / 10);
		ck_assert_uint_lt(per[i], N / 4 * 11 / 10);
	}
	ck_assert_uint_gt(moved, N / 5 * 8 / 10);
	ck_assert_uint_lt(moved, N / 5 * 12 / 10);
}
END_TEST

/* A dead owner's connections spread over the live proxies; nobody else's
 * move. */
START_TEST(owner_live)
{
	enum { N = 20000 };
	bool all[4] = {true, true, true, true}, no2[4] = {true, true, false, true};
	bool none[4] = {false, false, false, false};
	unsigned per[4] = {0};

	for (uint32_t i = 0; i < N; i++) {
		struct splice_key k = {TREC_CLIENT + i / 1000, TREC_VIP,
				       (uint16_t)(1024 + i % 1000), 80};
		uint32_t o = splice_owner(&k, 4);
		REQUIRE(splice_owner_live(&k, 4, all) == o);
		REQUIRE(splice_owner_live(&k, 4, none) == o);
		uint32_t l = splice_owner_live(&k, 4, no2);
		REQUIRE(l != 2);
		if (o != 2)
			REQUIRE(l == o);
		else
			per[l]++;
	}
	for (int i = 0; i < 4; i++)
		if (i != 2)
			ck_assert_uint_gt(per[i], N / 4 / 3 * 7 / 10);
}
END_TEST

/* OWED is the one state bit that can be cleared: by a newer generation. */
START_TEST(owed_follows_gen)
{
	struct splice_record rec;
	struct splice_entry *e = NULL;

	trec_make(&rng, &rec, 7, 1);
	rec.state = SPLICE_ST_OWED;
	ck_assert_int_eq(splice_table_apply(t, &rec, 1, &e), SPLICE_APPLY_NEW);
	ck_assert(e->rec.state & SPLICE_ST_OWED);
	struct splice_record cleared = rec;
	cleared.state = 0;
	/* Same generation: states merge, the bit stays. */
	ck_assert_int_eq(splice_table_apply(t, &cleared, 2, &e), SPLICE_APPLY_DUPLICATE);
	ck_assert(e->rec.state & SPLICE_ST_OWED);
	cleared.gen = rec.gen + 1;
	ck_assert_int_eq(splice_table_apply(t, &cleared, 3, &e), SPLICE_APPLY_UPDATED);
	ck_assert(!(e->rec.state & SPLICE_ST_OWED));
	/* The older copy arriving late does not set it again. */
	ck_assert_int_eq(splice_table_apply(t, &rec, 4, &e), SPLICE_APPLY_STALE);
	ck_assert(!(splice_table_find(t, rec.id)->rec.state & SPLICE_ST_OWED));
}
END_TEST

START_TEST(stats_report)
{
	struct stats_report r;
	add(1, 0);
	stats_reset(&r);
	splice_table_collect_stats(t, &r, "splice");
	ck_assert_uint_eq(stats_get(&r, "splice_entries"), 1);
	ck_assert_uint_eq(stats_get(&r, "splice_created"), 1);
	ck_assert_uint_eq(r.overflow, 0);
}
END_TEST

Suite *splice_table_suite(void);
Suite *splice_table_suite(void)
{
	Suite *s = suite_create("splice_table");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, record_check);
	tcase_add_test(tc, lookup_both_keys);
	tcase_add_test(tc, apply_semantics);
	tcase_add_test(tc, halves_meet);
	tcase_add_test(tc, capacity);
	tcase_add_test(tc, idle_expiry);
	tcase_add_test(tc, fin_linger);
	tcase_add_test(tc, rst_linger);
	tcase_add_test(tc, delete_by_id);
	tcase_add_test(tc, reused);
	tcase_add_test(tc, new_ids);
	tcase_add_test(tc, cursor_walk);
	tcase_add_test(tc, owner_hash);
	tcase_add_test(tc, owner_live);
	tcase_add_test(tc, owed_follows_gen);
	tcase_add_test(tc, stats_report);
	suite_add_tcase(s, tc);
	return s;
}
