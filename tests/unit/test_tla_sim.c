/* A randomized end-to-end model of the TLA: a simulated server application
 * runs transactions (random request and response sizes, random abort
 * points, segments of random sizes that mix the tail of one transaction
 * with the head of the next, bytes still queued when the abort or commit
 * message goes out, checksums complete or partial), a simulated peer sends
 * requests and acknowledges what it received, and every packet the TLA
 * lets through, releases or generates is delivered to the side it is
 * addressed to. The properties checked:
 * - the peer's byte stream is exactly the concatenation of the committed
 *   responses, and no byte of an aborted attempt ever reaches it;
 * - the server receives each request again after an abort, in order;
 * - no delivered byte contradicts a byte delivered earlier at the same
 *   position; every rewritten or generated packet has a correct checksum;
 * - acknowledgements never acknowledge bytes the other side did not send.
 * Reproduce a failure with CRAFT_TEST_SEED. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "helper_pktgen.h"
#include "helper_tla.h"
#include "packet.h"

#define BUF (1u << 21)

struct sim {
	struct ht h;
	struct pktgen_rng rng;
	uint8_t *srv_out, *srv_in, *peer_out, *peer_in, *committed;
	uint8_t *srv_in_set, *peer_in_set;
	uint64_t wr, sent;     /* server: written / sent (internal offsets) */
	uint64_t rd;	       /* server: next byte the application reads */
	uint64_t srv_rcv;      /* server: contiguous bytes received */
	uint64_t p_wr, p_sent; /* peer: written / sent */
	uint64_t peer_rcv;     /* peer: contiguous bytes received */
	uint64_t ncommitted;
	uint64_t srv_sent_high; /* for the ACK invariant */
	unsigned aborts, commits;
};

static struct sim S;

static void deliver(const uint8_t *pkt, size_t len, bool replaced_or_sent)
{
	uint32_t seq, ack;
	uint8_t fl;
	const uint8_t *pl;
	size_t n;
	bool ok;
	ck_assert(ht_parse(pkt, len, &seq, &ack, &fl, &pl, &n, &ok));
	if (replaced_or_sent || S.h.csum == CSUM_COMPLETE)
		ck_assert_msg(
		    ok,
		    "bad checksum on a delivered packet (%zu bytes, flags %x, daddr %x, csum %d)",
		    len, fl, pkt[19], S.h.csum);
	struct tcp4_view v;
	ck_assert_int_eq(tcp4_view_parse(pkt, len, 0, &v), 0);
	bool to_server = tcp4v_daddr(&v) == HT_SERVER;
	if (to_server) {
		uint64_t off = (uint32_t)(seq - S.h.isn_p);
		uint64_t a = (uint32_t)(ack - S.h.isn_s);
		ck_assert_msg(a <= S.srv_sent_high, "server ACKed beyond what it sent: %llu > %llu",
			      (unsigned long long)a, (unsigned long long)S.srv_sent_high);
		for (size_t i = 0; i < n; i++) {
			uint64_t o = off + i;
			ck_assert_uint_lt(o, BUF);
			if (S.srv_in_set[o])
				ck_assert_msg(S.srv_in[o] == pl[i], "server byte %llu changed",
					      (unsigned long long)o);
			S.srv_in[o] = pl[i];
			S.srv_in_set[o] = 1;
		}
		while (S.srv_in_set[S.srv_rcv])
			S.srv_rcv++;
	} else {
		uint64_t off = (uint32_t)(seq - S.h.isn_s);
		uint64_t a = (uint32_t)(ack - S.h.isn_p);
		ck_assert_msg(a <= S.p_sent, "peer ACKed beyond what it sent");
		for (size_t i = 0; i < n; i++) {
			uint64_t o = off + i;
			ck_assert_uint_lt(o, BUF);
			ck_assert_msg(pl[i] != 'X', "an aborted byte reached the peer at %llu",
				      (unsigned long long)o);
			if (S.peer_in_set[o])
				ck_assert_msg(S.peer_in[o] == pl[i], "peer byte %llu changed",
					      (unsigned long long)o);
			S.peer_in[o] = pl[i];
			S.peer_in_set[o] = 1;
		}
		while (S.peer_in_set[S.peer_rcv])
			S.peer_rcv++;
	}
}

/* Everything the TLA emitted since the last call. */
static void drain_out(void)
{
	for (unsigned i = 0; i < S.h.nout; i++) {
		struct ht_out *o = &S.h.out[i];
		if (o->accept)
			deliver(o->pkt, o->len, o->replaced || o->kind == HT_SEND);
	}
	ht_clear_out(&S.h);
}

static void feed(bool from_peer, uint64_t off, const uint8_t *d, size_t n)
{
	static uint8_t res[HT_PKT_MAX];
	size_t rl = 0;
	uint32_t seq = (from_peer ? S.h.isn_p : S.h.isn_s) + (uint32_t)off;
	uint32_t ack =
	    from_peer ? S.h.isn_s + (uint32_t)S.peer_rcv : S.h.isn_p + (uint32_t)S.srv_rcv;
	uint8_t fl = TCP_FL_ACK | (n ? TCP_FL_PSH : 0);
	enum tla_decision d0 = ht_feed(&S.h, from_peer, seq, ack, fl, d, n, NULL, 0, res, &rl);
	if (d0 == TLA_ACCEPT)
		deliver(res, rl, S.h.last_modified);
	drain_out();
}

/* The server sends some of what it wrote, in segments of random size. */
static void srv_flush(bool all)
{
	while (S.sent < S.wr) {
		if (!all && pktgen_chance(&S.rng, 30))
			break;
		uint64_t n = 1 + pktgen_below(&S.rng, 3000);
		if (n > S.wr - S.sent)
			n = S.wr - S.sent;
		if (S.sent + n > S.srv_sent_high)
			S.srv_sent_high = S.sent + n;
		feed(false, S.sent, S.srv_out + S.sent, (size_t)n);
		S.sent += n;
	}
	if (pktgen_chance(&S.rng, 50))
		feed(true, S.p_sent, NULL, 0); /* the peer ACKs */
}

static void srv_write(uint8_t fill, const uint8_t *src, uint64_t n)
{
	ck_assert_uint_lt(S.wr + n, BUF);
	for (uint64_t i = 0; i < n; i++)
		S.srv_out[S.wr + i] = src ? src[i] : fill;
	uint64_t done = 0;
	while (done < n) {
		uint64_t k = 1 + pktgen_below(&S.rng, (uint32_t)(n - done));
		S.wr += k;
		done += k;
		if (pktgen_chance(&S.rng, 60))
			srv_flush(false);
	}
}

static int ctl(int op, struct tx_msg *ans)
{
	return ht_ctl(&S.h, 1, op, 0, 0, 0, 0, ans);
}

static int ctl_offsets(int op, uint64_t in_s, uint64_t out_s, struct tx_msg *ans)
{
	int r = ht_ctl(&S.h, 1, op, in_s - 1, S.rd - 1, out_s - 1, S.wr - 1, ans);
	drain_out();
	return r;
}

static void run(uint64_t seed, unsigned ntx, unsigned abort_pct)
{
	memset(&S, 0, sizeof(S));
	pktgen_rng_seed(&S.rng, seed);
	ht_init(&S.h, NULL, pktgen_u32(&S.rng), pktgen_u32(&S.rng));
	S.h.csum = pktgen_chance(&S.rng, 50) ? CSUM_COMPLETE : CSUM_PARTIAL_PSEUDO;
	S.srv_out = calloc(BUF, 1);
	S.srv_in = calloc(BUF, 1);
	S.peer_out = calloc(BUF, 1);
	S.peer_in = calloc(BUF, 1);
	S.committed = calloc(BUF, 1);
	S.srv_in_set = calloc(BUF, 1);
	S.peer_in_set = calloc(BUF, 1);
	ht_handshake(&S.h);
	S.wr = S.sent = S.rd = S.srv_rcv = S.p_wr = S.p_sent = S.peer_rcv = 1;
	S.srv_in_set[0] = S.peer_in_set[0] = 1;
	S.srv_sent_high = 1;
	uint8_t resp[8000];
	for (unsigned i = 0; i < ntx; i++) {
		uint32_t rlen = 10 + pktgen_below(&S.rng, 50);
		uint64_t req_at = S.p_wr;
		for (uint32_t k = 0; k < rlen; k++)
			S.peer_out[S.p_wr + k] = (uint8_t)('A' + (i + k) % 26);
		S.p_wr += rlen;
		bool early = pktgen_chance(&S.rng, 50); /* request before START */
		if (early) {
			feed(true, S.p_sent, S.peer_out + S.p_sent, (size_t)(S.p_wr - S.p_sent));
			S.p_sent = S.p_wr;
		}
		for (unsigned attempt = 0;; attempt++) {
			uint64_t in_s = S.rd, out_s = S.wr;
			ck_assert_int_eq(ctl_offsets(TX_START, in_s, out_s, NULL), 0);
			if (S.p_sent < S.p_wr) {
				feed(true, S.p_sent, S.peer_out + S.p_sent,
				     (size_t)(S.p_wr - S.p_sent));
				S.p_sent = S.p_wr;
			}
			/* the server reads the request (again after an abort) */
			ck_assert_uint_ge(S.srv_rcv, S.rd + rlen);
			ck_assert_msg(memcmp(S.srv_in + S.rd, S.peer_out + req_at, rlen) == 0,
				      "txn %u attempt %u: server read another request", i, attempt);
			S.rd += rlen;
			uint32_t size = 1 + pktgen_below(&S.rng, sizeof(resp) - 1);
			bool abort = attempt < 2 && pktgen_chance(&S.rng, abort_pct);
			if (abort) {
				srv_write('X', NULL, pktgen_below(&S.rng, size + 1));
				ck_assert_int_eq(ctl_offsets(TX_ABORT, in_s, out_s, NULL), 0);
				struct tx_msg ans;
				ck_assert_int_eq(ctl(TX_RESTART, &ans), 0);
				drain_out();
				ck_assert_uint_le(S.rd, ans.in_start + 1);
				S.rd = ans.in_start + 1; /* the library skips to the replay */
				srv_flush(pktgen_chance(&S.rng, 50));
				S.aborts++;
				continue;
			}
			for (uint32_t k = 0; k < size; k++)
				resp[k] = (uint8_t)('a' + (i * 31 + k * 7) % 26);
			srv_write(0, resp, size);
			ck_assert_int_eq(ctl_offsets(TX_COMMIT, in_s, out_s, NULL), 0);
			memcpy(S.committed + S.ncommitted, resp, size);
			S.ncommitted += size;
			S.commits++;
			srv_flush(pktgen_chance(&S.rng, 30));
			break;
		}
	}
	srv_flush(true);
	feed(true, S.p_sent, NULL, 0);
	ck_assert_uint_eq(S.peer_rcv - 1, S.ncommitted);
	ck_assert(memcmp(S.peer_in + 1, S.committed, S.ncommitted) == 0);
	ck_assert_uint_eq(tla_held_bytes(S.h.t), 0);
	ht_free(&S.h);
	free(S.srv_out);
	free(S.srv_in);
	free(S.peer_out);
	free(S.peer_in);
	free(S.committed);
	free(S.srv_in_set);
	free(S.peer_in_set);
}

START_TEST(test_sim_random)
{
	uint64_t seed = pktgen_test_seed("tla_sim");
	for (unsigned r = 0; r < 12; r++)
		run(seed + r, 40, (r * 25) % 101);
}
END_TEST

START_TEST(test_sim_all_abort_once)
{
	uint64_t seed = pktgen_test_seed("tla_sim_abort");
	run(seed, 30, 100);
}
END_TEST

Suite *tla_sim_suite(void);
Suite *tla_sim_suite(void)
{
	Suite *s = suite_create("tla_sim");
	TCase *tc = tcase_create("sim");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_sim_random);
	tcase_add_test(tc, test_sim_all_abort_once);
	suite_add_tcase(s, tc);
	return s;
}
