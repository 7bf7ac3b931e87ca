/* test_byte_store.c - the bounded byte store: range reads across chunks and
 * holes, truncation, provisional bytes and trimming, the transaction index
 * ring, the budget and the eviction order (closed connections first, then
 * the oldest chunks of open ones), and a randomised consistency check
 * against a flat copy. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "byte_store.h"
#include "helper_pktgen.h"

Suite *byte_store_suite(void);

static uint8_t pat(uint64_t off)
{
	return (uint8_t)(off * 31 + 7);
}

static void fill(uint8_t *b, uint64_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = pat(off + i);
}

static struct byte_store *make(uint64_t budget, uint32_t index)
{
	struct byte_store_config cfg;
	byte_store_config_default(&cfg);
	cfg.budget = budget;
	cfg.buckets = 64;
	cfg.txn_index = index;
	struct byte_store *bs = NULL;
	ck_assert_int_eq(byte_store_create(&bs, &cfg), 0);
	return bs;
}

static void append_pat(struct byte_store *bs, struct bs_conn *c, enum bs_dir d, uint64_t off,
		       size_t n, unsigned flags)
{
	uint8_t *b = malloc(n);
	fill(b, off, n);
	ck_assert_int_eq(byte_store_append(bs, c, d, off, b, n, flags), 0);
	free(b);
}

static bool read_ok(struct byte_store *bs, int64_t id, enum bs_dir d, uint64_t a, uint64_t b)
{
	uint8_t *buf = malloc(b - a + 1);
	int rc = byte_store_read(bs, id, d, a, b, buf);
	bool ok = rc == 0;
	for (uint64_t i = a; ok && i < b; i++)
		ok = buf[i - a] == pat(i);
	free(buf);
	return ok;
}

START_TEST(test_ranges_and_holes)
{
	struct byte_store *bs = make(1u << 20, 16);
	struct bs_conn *c = byte_store_open(bs, 7);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_null(byte_store_open(bs, 7)); /* still open */
	for (uint64_t off = 0; off < 5000; off += 100)
		append_pat(bs, c, BS_RESP, off, 100, 0);
	append_pat(bs, c, BS_RESP, 6000, 1000, 0); /* hole 5000..6000 */
	ck_assert(read_ok(bs, 7, BS_RESP, 0, 5000));
	ck_assert(read_ok(bs, 7, BS_RESP, 123, 4567));
	ck_assert(read_ok(bs, 7, BS_RESP, 6000, 7000));
	ck_assert(!read_ok(bs, 7, BS_RESP, 4000, 6500));
	ck_assert(!read_ok(bs, 7, BS_REQ, 0, 1));
	ck_assert(!read_ok(bs, 8, BS_RESP, 0, 1));
	ck_assert(read_ok(bs, 7, BS_RESP, 10, 10)); /* empty range */
	uint64_t end;
	ck_assert_int_eq(byte_store_held_until(bs, 7, BS_RESP, 2000, &end), 0);
	ck_assert_uint_eq(end, 5000);
	ck_assert_int_eq(byte_store_held_until(bs, 7, BS_RESP, 5500, &end), 0);
	ck_assert_uint_eq(end, 5500);
	ck_assert_int_eq(byte_store_held_until(bs, 9, BS_RESP, 0, &end), -ENOENT);
	/* overlap is ignored, the stored copy wins */
	uint8_t junk[50];
	memset(junk, 0xee, sizeof(junk));
	ck_assert_int_eq(byte_store_append(bs, c, BS_RESP, 6980, junk, sizeof(junk), 0), 0);
	ck_assert(read_ok(bs, 7, BS_RESP, 6000, 7000));
	ck_assert_uint_eq(byte_store_get_stats(bs).overlap, 20);
	ck_assert_uint_eq(byte_store_conn_end(c, BS_RESP), 7030);
	/* truncate in the middle of a chunk */
	byte_store_truncate(bs, c, BS_RESP, 4550);
	ck_assert(read_ok(bs, 7, BS_RESP, 0, 4550));
	ck_assert(!read_ok(bs, 7, BS_RESP, 4500, 4551));
	ck_assert(!read_ok(bs, 7, BS_RESP, 6000, 6001));
	/* a closed connection stays readable */
	byte_store_close(bs, c);
	ck_assert(read_ok(bs, 7, BS_RESP, 0, 4550));
	c = byte_store_open(bs, 7); /* a closed id may be reused */
	ck_assert_ptr_nonnull(c);
	ck_assert(!read_ok(bs, 7, BS_RESP, 0, 1));
	byte_store_destroy(bs);
}
END_TEST

START_TEST(test_provisional_trim)
{
	struct byte_store *bs = make(1u << 22, 16);
	struct bs_conn *c = byte_store_open(bs, 1);
	append_pat(bs, c, BS_RESP, 0, 3000, 0);		   /* kept response */
	append_pat(bs, c, BS_RESP, 3000, 20000, 0);	   /* big one, kept at first */
	byte_store_mark_provisional(bs, c, BS_RESP, 3000); /* ... then too big */
	ck_assert(byte_store_has_provisional(c, BS_RESP));
	append_pat(bs, c, BS_RESP, 23000, 100000, BS_PROVISIONAL);
	ck_assert(read_ok(bs, 1, BS_RESP, 0, 123000));
	byte_store_trim(bs, c, BS_RESP, 50000);
	ck_assert(read_ok(bs, 1, BS_RESP, 0, 3000)); /* not provisional: kept */
	ck_assert(!read_ok(bs, 1, BS_RESP, 3000, 3001));
	ck_assert(!read_ok(bs, 1, BS_RESP, 49999, 50000));
	ck_assert(read_ok(bs, 1, BS_RESP, 50000, 123000));
	ck_assert_uint_eq(byte_store_get_stats(bs).trimmed, 47000);
	/* the next (kept) response follows; trimming never touches it */
	append_pat(bs, c, BS_RESP, 123000, 500, 0);
	byte_store_trim(bs, c, BS_RESP, 200000);
	ck_assert(!read_ok(bs, 1, BS_RESP, 122999, 123000));
	ck_assert(read_ok(bs, 1, BS_RESP, 123000, 123500));
	ck_assert(read_ok(bs, 1, BS_RESP, 0, 3000));
	ck_assert(!byte_store_has_provisional(c, BS_RESP));
	byte_store_trim(bs, c, BS_RESP, 300000); /* nothing left: cheap no-op */
	byte_store_destroy(bs);
}
END_TEST

START_TEST(test_txn_index)
{
	struct byte_store *bs = make(1u << 20, 8);
	struct bs_conn *c = byte_store_open(bs, 3);
	append_pat(bs, c, BS_REQ, 0, 2000, 0);
	for (uint32_t i = 1; i <= 20; i++) {
		struct byte_store_txn t = {.ordinal = i,
					   .flags = BS_TXN_REQ_DONE,
					   .req_start = (i - 1) * 100,
					   .req_end = i * 100};
		ck_assert_int_eq(byte_store_txn_put(bs, c, &t), 0);
		t.flags |= BS_TXN_RESP_DONE; /* update in place */
		ck_assert_int_eq(byte_store_txn_put(bs, c, &t), 0);
	}
	struct byte_store_txn t;
	ck_assert_int_eq(byte_store_txn_get(bs, 3, 12, &t), -ENOENT); /* pushed out */
	ck_assert_int_eq(byte_store_txn_get(bs, 3, 13, &t), 0);
	ck_assert_uint_eq(t.req_start, 1200);
	ck_assert(t.flags & BS_TXN_RESP_DONE);
	ck_assert_uint_eq(byte_store_get_stats(bs).index_drops, 12);
	uint8_t buf[100];
	size_t n = 0;
	ck_assert_int_eq(byte_store_request(bs, 3, 20, buf, sizeof(buf), &n), 0);
	ck_assert_uint_eq(n, 100);
	ck_assert_uint_eq(buf[0], pat(1900));
	ck_assert_int_eq(byte_store_request(bs, 3, 20, buf, 10, &n), -ENOSPC);
	ck_assert_int_eq(byte_store_request(bs, 3, 99, buf, 10, &n), -ENOENT);
	t.ordinal = 21;
	t.flags = BS_TXN_REQ_DONE | BS_TXN_REQ_HASHED;
	byte_store_txn_put(bs, c, &t);
	ck_assert_int_eq(byte_store_request(bs, 3, 21, buf, sizeof(buf), &n), -ENOENT);
	byte_store_destroy(bs);
}
END_TEST

START_TEST(test_budget_eviction_order)
{
	/* 180 KiB budget: room for three 60 KB chunks */
	struct byte_store *bs = make(180u << 10, 16);
	struct bs_conn *a = byte_store_open(bs, 1);
	struct bs_conn *b = byte_store_open(bs, 2);
	struct bs_conn *c = byte_store_open(bs, 3);
	append_pat(bs, a, BS_RESP, 0, 40000, 0);
	append_pat(bs, b, BS_RESP, 0, 40000, 0);
	byte_store_close(bs, a); /* a is closed: evicted first */
	append_pat(bs, c, BS_RESP, 0, 60000, 0);
	ck_assert(read_ok(bs, 1, BS_RESP, 0, 40000));
	append_pat(bs, c, BS_RESP, 60000, 60000, 0);
	struct byte_store_stats s = byte_store_get_stats(bs);
	ck_assert_uint_le(s.used, 180u << 10);
	ck_assert_uint_eq(s.evicted_conns, 1);
	ck_assert(!read_ok(bs, 1, BS_RESP, 0, 1)); /* gone with its connection */
	ck_assert(read_ok(bs, 2, BS_RESP, 0, 40000));
	/* no closed connection left: the oldest chunks of open ones go */
	append_pat(bs, c, BS_RESP, 120000, 60000, 0);
	s = byte_store_get_stats(bs);
	ck_assert_uint_le(s.used, 180u << 10);
	ck_assert_uint_gt(s.evicted_chunks, 0);
	ck_assert(!read_ok(bs, 2, BS_RESP, 0, 1)); /* b's chunks were the oldest */
	ck_assert(read_ok(bs, 3, BS_RESP, 120000, 180000));
	ck_assert_uint_gt(s.evicted_chunk_bytes, 0);
	/* an append bigger than the whole budget is not kept */
	uint8_t *huge = calloc(1, 300u << 10);
	ck_assert_int_eq(byte_store_append(bs, c, BS_REQ, 0, huge, 300u << 10, 0), 0);
	ck_assert_uint_eq(byte_store_get_stats(bs).too_big, 1);
	free(huge);
	byte_store_destroy(bs);
}
END_TEST

/* Random appends, holes, truncations, trims on a few connections, checked
 * against a flat copy of what must still be there. */
START_TEST(test_random_model)
{
	uint64_t seed = pktgen_test_seed("byte_store/random_model");
	struct pktgen_rng rng;
	pktgen_rng_seed(&rng, seed);
	enum { N = 200000 };
	struct byte_store *bs = make(64u << 20, 64);
	struct bs_conn *c = byte_store_open(bs, 1);
	uint8_t *held = calloc(N, 1); /* 1: must be held */
	uint8_t *prov = calloc(N, 1); /* 1: provisional */
	uint64_t end = 0, trimmed_to = 0;
	uint8_t buf[4096];
	while (end < N - 5000) {
		unsigned op = pktgen_below(&rng, 10);
		if (op < 6) {
			uint64_t off =
			    end + (pktgen_chance(&rng, 10) ? pktgen_below(&rng, 300) : 0);
			size_t n = 1 + pktgen_below(&rng, 3000);
			bool p = pktgen_chance(&rng, 30);
			fill(buf, off, n);
			ck_assert_int_eq(
			    byte_store_append(bs, c, BS_RESP, off, buf, n, p ? BS_PROVISIONAL : 0),
			    0);
			for (uint64_t i = off; i < off + n; i++) {
				held[i] = 1;
				prov[i] = p;
			}
			end = off + n;
		} else if (op < 7) {
			uint64_t from = end > 2000 ? end - pktgen_below(&rng, 2000) : end;
			byte_store_truncate(bs, c, BS_RESP, from);
			for (uint64_t i = from; i < end; i++)
				held[i] = 0;
		} else if (op < 8) {
			uint64_t from = end > 5000 ? end - pktgen_below(&rng, 5000) : 0;
			byte_store_mark_provisional(bs, c, BS_RESP, from);
			for (uint64_t i = from; i < end; i++)
				prov[i] = 1;
		} else {
			uint64_t upto = trimmed_to + pktgen_below(&rng, 4000);
			if (upto > end)
				upto = end;
			byte_store_trim(bs, c, BS_RESP, upto);
			for (uint64_t i = 0; i < upto; i++)
				if (prov[i])
					held[i] = 0;
			trimmed_to = upto;
		}
		/* spot checks */
		for (int k = 0; k < 4 && end > 0; k++) {
			uint64_t a = pktgen_below(&rng, (uint32_t)end);
			uint64_t b = a + 1 + pktgen_below(&rng, 2000);
			if (b > end)
				b = end;
			bool want = true;
			for (uint64_t i = a; i < b; i++)
				want = want && held[i];
			ck_assert_msg(read_ok(bs, 1, BS_RESP, a, b) == want,
				      "seed %#llx: range [%llu, %llu) held=%d",
				      (unsigned long long)seed, (unsigned long long)a,
				      (unsigned long long)b, want);
		}
	}
	free(held);
	free(prov);
	byte_store_destroy(bs);
}
END_TEST

Suite *byte_store_suite(void)
{
	Suite *s = suite_create("byte_store");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_ranges_and_holes);
	tcase_add_test(tc, test_provisional_trim);
	tcase_add_test(tc, test_txn_index);
	tcase_add_test(tc, test_budget_eviction_order);
	tcase_add_test(tc, test_random_model);
	suite_add_tcase(s, tc);
	return s;
}
