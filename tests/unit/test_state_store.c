/* test_state_store.c - the agent's bookkeeping: state reaches the
 * application only after LOGGED (or a forced timeout / recovery), in
 * version order per session; T_S and T_A per connection and session;
 * duplicates, stale versions and every limit refused and counted;
 * APPLY_UP_TO marks and discards; aids assemble, drop when logged and are
 * listed per connection. Time is passed in, so nothing sleeps. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "state_store.h"
#include "txn_parser.h"

#define IP   0xC6120B01u /* 198.18.11.1, the proxies' IVIP */
#define PORT 40001

static uint64_t txn(uint16_t port, uint16_t ord)
{
	return txn_id_make(IP, port, ord);
}

static struct state_store_config small_cfg(void)
{
	struct state_store_config c;
	state_store_config_default(&c);
	c.max_records = 8;
	c.max_sessions = 4;
	c.max_per_session = 3;
	c.max_conns = 4;
	c.max_aids = 2;
	c.max_early = 4;
	c.max_bytes = 1 << 20;
	c.apply_timeout_ms = 1000;
	return c;
}

static int put(struct state_store *st, const char *key, uint64_t origin, uint64_t seq, uint64_t t,
	       uint64_t now)
{
	struct state_push p = {.origin = origin,
			       .seq = seq,
			       .txn_id = t,
			       .key_len = (uint8_t)strlen(key),
			       .key = (const uint8_t *)key,
			       .blob = (const uint8_t *)"snapshot",
			       .blob_len = 8};
	return state_store_put(st, &p, now);
}

START_TEST(apply_after_logged)
{
	struct state_store st;
	struct state_store_config cfg = small_cfg();
	ck_assert_int_eq(state_store_init(&st, &cfg), 0);
	ck_assert_int_eq(put(&st, "s1", 1, 1, txn(PORT, 1), 0), STATE_ACK_STORED);
	ck_assert_int_eq(put(&st, "s1", 1, 2, txn(PORT, 2), 0), STATE_ACK_STORED);
	struct state_reply r;
	state_store_query_conn(&st, IP, PORT, &r);
	ck_assert_int_eq(r.status, STATE_REPLY_OK);
	ck_assert_uint_eq(r.t_s, 0);
	ck_assert_uint_eq(r.t_a, txn(PORT, 2));
	ck_assert_uint_eq(r.pending, 2);
	ck_assert_uint_eq(r.sessions, 1);
	/* nothing before LOGGED; the second record logged first still waits */
	ck_assert_ptr_null(state_store_next(&st, 10));
	state_store_logged(&st, txn(PORT, 2), 10);
	ck_assert_ptr_null(state_store_next(&st, 10));
	state_store_logged(&st, txn(PORT, 1), 10);
	const struct ss_record *rec = state_store_next(&st, 10);
	ck_assert_ptr_nonnull(rec);
	ck_assert_uint_eq(rec->seq, 1);
	ck_assert_mem_eq(rec->data, "s1snapshot", 10);
	/* one in flight per session */
	ck_assert_ptr_null(state_store_next(&st, 10));
	ck_assert(state_store_applied(&st, 1, 1, true, 11));
	ck_assert(!state_store_applied(&st, 1, 1, true, 11));
	state_store_query_conn(&st, IP, PORT, &r);
	ck_assert_uint_eq(r.t_s, txn(PORT, 1));
	rec = state_store_next(&st, 12);
	ck_assert_ptr_nonnull(rec);
	ck_assert_uint_eq(rec->seq, 2);
	/* the application went away: in flight again */
	state_store_requeue(&st);
	rec = state_store_next(&st, 13);
	ck_assert_uint_eq(rec->seq, 2);
	ck_assert(state_store_applied(&st, 1, 2, true, 14));
	state_store_query_conn(&st, IP, PORT, &r);
	ck_assert_uint_eq(r.t_s, txn(PORT, 2));
	ck_assert_uint_eq(r.t_a, txn(PORT, 2));
	ck_assert_uint_eq(r.pending, 0);
	state_store_query_session(&st, (const uint8_t *)"s1", 2, &r);
	ck_assert_int_eq(r.status, STATE_REPLY_OK);
	ck_assert_uint_eq(r.t_s, txn(PORT, 2));
	state_store_query_session(&st, (const uint8_t *)"zz", 2, &r);
	ck_assert_int_eq(r.status, STATE_REPLY_UNKNOWN);
	state_store_query_conn(&st, IP, PORT + 1, &r);
	ck_assert_int_eq(r.status, STATE_REPLY_UNKNOWN);
	/* the retransmission of an applied version is a duplicate, an older
	 * one stale */
	ck_assert_int_eq(put(&st, "s1", 1, 2, txn(PORT, 2), 20), STATE_ACK_DUPLICATE);
	ck_assert_int_eq(put(&st, "s1", 1, 1, txn(PORT, 1), 20), STATE_ACK_DUPLICATE);
	ck_assert_uint_eq(st.c.duplicates, 1);
	ck_assert_uint_eq(st.c.stale, 1);
	ck_assert_uint_eq(st.c.applied, 2);
	state_store_free(&st);
}
END_TEST

START_TEST(early_marks_and_timeout)
{
	struct state_store st;
	struct state_store_config cfg = small_cfg();
	ck_assert_int_eq(state_store_init(&st, &cfg), 0);
	/* LOGGED overtakes its STATE */
	state_store_logged(&st, txn(PORT, 1), 0);
	ck_assert_uint_eq(st.c.logged_early, 1);
	ck_assert_int_eq(put(&st, "a", 1, 1, txn(PORT, 1), 0), STATE_ACK_STORED);
	ck_assert_ptr_nonnull(state_store_next(&st, 0));
	ck_assert(state_store_applied(&st, 1, 1, false, 0)); /* refused blob */
	ck_assert_uint_eq(st.c.apply_refused, 1);
	struct state_reply r;
	state_store_query_conn(&st, IP, PORT, &r);
	ck_assert_uint_eq(r.t_s, 0); /* a refused apply is not applied */
	/* the ring is bounded: the oldest mark is overwritten */
	for (uint16_t i = 10; i < 10 + 5; i++)
		state_store_logged(&st, txn(PORT, i), 0);
	ck_assert_uint_eq(st.c.early_dropped, 1);
	/* a record without its mark is forced after apply_timeout */
	ck_assert_int_eq(put(&st, "b", 1, 2, txn(PORT, 2), 100), STATE_ACK_STORED);
	ck_assert_ptr_null(state_store_next(&st, 100 + cfg.apply_timeout_ms - 1));
	const struct ss_record *rec = state_store_next(&st, 100 + cfg.apply_timeout_ms);
	ck_assert_ptr_nonnull(rec);
	ck_assert(rec->forced);
	ck_assert_uint_eq(st.c.forced_timeout, 1);
	state_store_query_conn(&st, IP, PORT, &r);
	ck_assert_uint_eq(r.flags & STATE_REPLY_F_FORCED, STATE_REPLY_F_FORCED);
	state_store_free(&st);
}
END_TEST

START_TEST(limits)
{
	struct state_store st;
	struct state_store_config cfg = small_cfg();
	ck_assert_int_eq(state_store_init(&st, &cfg), 0);
	/* per session */
	for (uint64_t s = 1; s <= 3; s++)
		ck_assert_int_eq(put(&st, "k", 1, s, txn(PORT, (uint16_t)s), 0), STATE_ACK_STORED);
	ck_assert_int_eq(put(&st, "k", 1, 4, txn(PORT, 4), 0), STATE_ACK_FULL);
	ck_assert_uint_eq(st.c.refused_session_full, 1);
	ck_assert_int_eq(put(&st, "k", 1, 2, txn(PORT, 2), 0), STATE_ACK_DUPLICATE);
	/* sessions: 4 slots, all holding records -> refused */
	ck_assert_int_eq(put(&st, "l", 1, 5, txn(PORT + 1, 1), 0), STATE_ACK_STORED);
	ck_assert_int_eq(put(&st, "m", 1, 6, txn(PORT + 2, 1), 0), STATE_ACK_STORED);
	ck_assert_int_eq(put(&st, "n", 1, 7, txn(PORT + 3, 1), 0), STATE_ACK_STORED);
	ck_assert_int_eq(put(&st, "o", 1, 8, txn(PORT + 4, 1), 0), STATE_ACK_FULL);
	ck_assert_uint_eq(st.c.refused_sessions, 1);
	/* records: 8 slots, 6 used */
	ck_assert_int_eq(put(&st, "l", 1, 9, txn(PORT + 1, 2), 0), STATE_ACK_STORED);
	ck_assert_int_eq(put(&st, "m", 1, 10, txn(PORT + 2, 2), 0), STATE_ACK_STORED);
	ck_assert_int_eq(put(&st, "n", 1, 11, txn(PORT + 3, 2), 0), STATE_ACK_FULL);
	ck_assert_uint_eq(st.c.refused_full, 1);
	ck_assert_uint_eq(state_store_held(&st), 8);
	ck_assert_uint_eq(st.c.conns_evicted, 0);
	/* an emptied session is evicted (LRU) for a new one, but keeps
	 * blocking stale versions while it exists */
	state_store_logged(&st, txn(PORT + 1, 1), 1);
	state_store_logged(&st, txn(PORT + 1, 2), 1);
	const struct ss_record *rec = state_store_next(&st, 1);
	ck_assert_ptr_nonnull(rec);
	ck_assert(state_store_applied(&st, rec->origin, rec->seq, true, 1));
	rec = state_store_next(&st, 2);
	ck_assert(state_store_applied(&st, rec->origin, rec->seq, true, 2));
	ck_assert_int_eq(put(&st, "l", 1, 5, txn(PORT + 1, 1), 3), STATE_ACK_DUPLICATE);
	ck_assert_int_eq(put(&st, "o", 1, 12, txn(PORT + 4, 1), 4), STATE_ACK_STORED);
	ck_assert_uint_eq(st.c.sessions_evicted, 1);
	/* a fifth connection: the least recently used one goes */
	ck_assert_uint_eq(st.c.conns_evicted, 1);
	state_store_free(&st);

	/* bytes */
	cfg.max_bytes = 4096;
	ck_assert_int_eq(state_store_init(&st, &cfg), 0);
	static uint8_t big[4000];
	struct state_push p = {.origin = 1,
			       .seq = 1,
			       .txn_id = txn(PORT, 1),
			       .key_len = 1,
			       .key = (const uint8_t *)"x",
			       .blob = big,
			       .blob_len = sizeof(big)};
	ck_assert_int_eq(state_store_put(&st, &p, 0), STATE_ACK_STORED);
	p.seq = 2;
	ck_assert_int_eq(state_store_put(&st, &p, 0), STATE_ACK_FULL);
	ck_assert_uint_eq(st.c.refused_bytes, 1);
	state_store_free(&st);
	cfg.max_records = 0;
	ck_assert_int_eq(state_store_init(&st, &cfg), -EINVAL);
}
END_TEST

START_TEST(recovery_apply_up_to)
{
	struct state_store st;
	struct state_store_config cfg = small_cfg();
	ck_assert_int_eq(state_store_init(&st, &cfg), 0);
	/* T_S = 0, state for 1..3 available, logger knows 1..2 (T_L = 2):
	 * T_R = T_L + 1 = 3, apply up to 2, drop 3 (it will be replayed) */
	for (uint16_t o = 1; o <= 3; o++)
		ck_assert_int_eq(put(&st, "s", 7, o, txn(PORT, o), 0), STATE_ACK_STORED);
	unsigned left = state_store_apply_up_to(&st, IP, PORT, 2, STATE_APPLY_DISCARD_AFTER, 5);
	ck_assert_uint_eq(left, 2);
	ck_assert_uint_eq(st.c.discarded, 1);
	ck_assert_uint_eq(st.c.forced_recovery, 2);
	struct state_reply r;
	state_store_query_conn(&st, IP, PORT, &r);
	ck_assert_uint_eq(r.t_a, txn(PORT, 2));
	for (int i = 0; i < 2; i++) {
		const struct ss_record *rec = state_store_next(&st, 6);
		ck_assert_ptr_nonnull(rec);
		ck_assert(state_store_applied(&st, rec->origin, rec->seq, true, 6));
	}
	ck_assert_uint_eq(state_store_conn_unapplied(&st, IP, PORT, 2), 0);
	state_store_query_conn(&st, IP, PORT, &r);
	ck_assert_uint_eq(r.t_s, txn(PORT, 2));
	ck_assert_uint_eq(r.t_a, txn(PORT, 2));
	/* without DISCARD_AFTER later records stay */
	ck_assert_int_eq(put(&st, "s", 7, 4, txn(PORT, 4), 7), STATE_ACK_STORED);
	ck_assert_uint_eq(state_store_apply_up_to(&st, IP, PORT, 3, 0, 8), 0);
	ck_assert_uint_eq(state_store_held(&st), 1);
	state_store_free(&st);
}
END_TEST

static int save(struct state_store *st, uint64_t seq, uint64_t t, uint32_t total, uint32_t off,
		const char *chunk, uint64_t now, uint32_t *stored)
{
	struct state_save s = {.origin = 9,
			       .seq = seq,
			       .txn_id = t,
			       .kind = STATE_AID_RESPONSE,
			       .total = total,
			       .offset = off,
			       .chunk_len = (uint32_t)strlen(chunk),
			       .chunk = (const uint8_t *)chunk};
	return state_store_save(st, &s, now, stored);
}

START_TEST(aids)
{
	struct state_store st;
	struct state_store_config cfg = small_cfg();
	ck_assert_int_eq(state_store_init(&st, &cfg), 0);
	uint32_t stored;
	ck_assert_int_eq(save(&st, 1, txn(PORT, 5), 10, 5, "world", 0, &stored),
			 STATE_ACK_REFUSED); /* must start at 0 */
	ck_assert_int_eq(save(&st, 1, txn(PORT, 5), 10, 0, "hello", 0, &stored), STATE_ACK_STORED);
	ck_assert_uint_eq(stored, 5);
	ck_assert_int_eq(save(&st, 1, txn(PORT, 5), 10, 0, "hello", 0, &stored),
			 STATE_ACK_DUPLICATE);
	ck_assert_int_eq(save(&st, 1, txn(PORT, 5), 10, 7, "xyz", 0, &stored), STATE_ACK_REFUSED);
	ck_assert_int_eq(save(&st, 1, txn(PORT, 5), 10, 3, "loworld", 0, &stored),
			 STATE_ACK_STORED); /* overlapping resend */
	ck_assert_uint_eq(stored, 10);
	ck_assert_uint_eq(st.c.aids_complete, 1);
	uint32_t cursor = 0;
	const struct ss_aid *a = state_store_conn_aid(&st, IP, PORT, 4, &cursor);
	ck_assert_ptr_nonnull(a);
	ck_assert_mem_eq(a->data, "helloworld", 10);
	ck_assert_ptr_null(state_store_conn_aid(&st, IP, PORT, 4, &cursor));
	cursor = 0;
	ck_assert_ptr_null(state_store_conn_aid(&st, IP, PORT, 5, &cursor));
	/* table full: refused until the oldest is older than apply_timeout */
	ck_assert_int_eq(save(&st, 2, txn(PORT, 6), 1, 0, "a", 0, &stored), STATE_ACK_STORED);
	ck_assert_int_eq(save(&st, 3, txn(PORT, 7), 1, 0, "b", 10, &stored), STATE_ACK_FULL);
	ck_assert_int_eq(save(&st, 3, txn(PORT, 7), 1, 0, "b", cfg.apply_timeout_ms, &stored),
			 STATE_ACK_STORED);
	ck_assert_uint_eq(st.c.aids_evicted, 1);
	/* LOGGED drops the aid: no replay will need it */
	struct state_reply r;
	state_store_query_conn(&st, IP, PORT, &r);
	ck_assert_uint_eq(r.aids, 2);
	state_store_logged(&st, txn(PORT, 6), 0);
	state_store_query_conn(&st, IP, PORT, &r);
	ck_assert_uint_eq(r.aids, 1);
	/* APPLY_UP_TO drops aids up to up_to, keeps later ones */
	state_store_apply_up_to(&st, IP, PORT, 6, 0, 0);
	state_store_query_conn(&st, IP, PORT, &r);
	ck_assert_uint_eq(r.aids, 1);
	state_store_apply_up_to(&st, IP, PORT, 7, 0, 0);
	state_store_query_conn(&st, IP, PORT, &r);
	ck_assert_uint_eq(r.aids, 0);
	ck_assert_uint_eq(st.bytes, 0);
	state_store_free(&st);
}
END_TEST

START_TEST(resync_after_reconnect)
{
	struct state_store st;
	struct state_store_config cfg = small_cfg();
	ck_assert_int_eq(state_store_init(&st, &cfg), 0);
	ck_assert_int_eq(put(&st, "s", 1, 1, txn(PORT, 1), 0), STATE_ACK_STORED);
	ck_assert_int_eq(put(&st, "s", 1, 2, txn(PORT, 2), 0), STATE_ACK_STORED);
	state_store_logged(&st, txn(PORT, 1), 0);
	state_store_logged(&st, txn(PORT, 2), 0);
	const struct ss_record *r = state_store_next(&st, 0);
	ck_assert(state_store_applied(&st, r->origin, r->seq, true, 0));
	uint64_t bytes = st.bytes;
	ck_assert_uint_eq(bytes, 2 * (1 + 8)); /* snapshot 1 + record 2 */
	/* the application restarted: the snapshot of seq 1 goes first */
	state_store_requeue(&st);
	state_store_resync(&st);
	r = state_store_next(&st, 1);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->seq, 1);
	ck_assert_mem_eq(r->data, "ssnapshot", 9);
	ck_assert_ptr_null(state_store_next(&st, 1)); /* one in flight per session */
	ck_assert(state_store_applied(&st, 1, 1, true, 1));
	ck_assert_uint_eq(st.c.resent, 1);
	r = state_store_next(&st, 2);
	ck_assert_uint_eq(r->seq, 2);
	ck_assert(state_store_applied(&st, 1, 2, true, 2));
	ck_assert_uint_eq(st.bytes, 1 + 8); /* only the newest snapshot is kept */
	struct state_reply q;
	state_store_query_conn(&st, IP, PORT, &q);
	ck_assert_uint_eq(q.t_s, txn(PORT, 2));
	/* a DELETE leaves nothing to re-send */
	struct state_push p = {.origin = 1,
			       .seq = 3,
			       .txn_id = txn(PORT, 3),
			       .flags = STATE_F_DELETE,
			       .key_len = 1,
			       .key = (const uint8_t *)"s"};
	ck_assert_int_eq(state_store_put(&st, &p, 3), STATE_ACK_STORED);
	state_store_logged(&st, txn(PORT, 3), 3);
	r = state_store_next(&st, 3);
	ck_assert(state_store_applied(&st, r->origin, r->seq, true, 3));
	ck_assert_uint_eq(st.bytes, 0);
	state_store_resync(&st);
	ck_assert_ptr_null(state_store_next(&st, 4));
	state_store_free(&st);
}
END_TEST

Suite *state_store_suite(void);
Suite *state_store_suite(void)
{
	Suite *s = suite_create("state_store");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, apply_after_logged);
	tcase_add_test(tc, early_marks_and_timeout);
	tcase_add_test(tc, limits);
	tcase_add_test(tc, recovery_apply_up_to);
	tcase_add_test(tc, aids);
	tcase_add_test(tc, resync_after_reconnect);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}
