/* Unit tests of the TLA core (tla.h) with synthetic segments: the gap map,
 * holding and releasing, abort with generated ACKs and the d1/d2 shifts,
 * an abort point inside a segment, retransmissions of held, discarded and
 * released bytes, SACK translation, the held-bytes bound, bad control
 * requests that must change nothing, a lost control connection, PRE_TRANS
 * aging, out-of-order peer data, many connections, partial checksums and
 * sequence-number wrap. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "helper_tla.h"
#include "packet.h"

static struct ht H;
static uint8_t rb[HT_PKT_MAX];
static size_t rl;
static uint8_t req[40], data[8192];

#define ACKPSH (TCP_FL_ACK | TCP_FL_PSH)

static enum tla_decision peer(uint32_t rseq, uint32_t rack, const uint8_t *d, size_t n)
{
	return ht_feed(&H, true, H.isn_p + rseq, H.isn_s + rack, n ? ACKPSH : TCP_FL_ACK, d, n,
		       NULL, 0, rb, &rl);
}

static enum tla_decision srv(uint32_t rseq, uint32_t rack, const uint8_t *d, size_t n)
{
	return ht_feed(&H, false, H.isn_s + rseq, H.isn_p + rack, n ? ACKPSH : TCP_FL_ACK, d, n,
		       NULL, 0, rb, &rl);
}

static void setup_conn(uint32_t isn_p, uint32_t isn_s, const struct tla_config *cfg)
{
	ht_init(&H, cfg, isn_p, isn_s);
	ht_handshake(&H);
	for (size_t i = 0; i < sizeof(req); i++)
		req[i] = (uint8_t)('A' + i % 26);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)('a' + (i * 7) % 26);
}

static void teardown(void)
{
	ht_free(&H);
}

/* Checks one output: kind, seq relative to isn, payload and checksum. */
static void check_out(unsigned i, enum ht_out_kind kind, bool accept, uint32_t seq,
		      const uint8_t *payload, size_t plen)
{
	ck_assert_uint_lt(i, H.nout);
	struct ht_out *o = &H.out[i];
	ck_assert_int_eq(o->kind, kind);
	ck_assert_int_eq(o->accept, accept);
	if (!accept)
		return;
	uint32_t s;
	const uint8_t *pl;
	size_t n;
	bool ok;
	ck_assert(ht_parse(o->pkt, o->len, &s, NULL, NULL, &pl, &n, &ok));
	ck_assert_uint_eq(s, seq);
	ck_assert_uint_eq(n, plen);
	if (plen)
		ck_assert(memcmp(pl, payload, plen) == 0);
	if (H.csum == CSUM_COMPLETE || o->replaced || o->kind == HT_SEND)
		ck_assert(ok);
}

static uint32_t pkt_ack(const uint8_t *p, size_t len)
{
	uint32_t a;
	ck_assert(ht_parse(p, len, NULL, &a, NULL, NULL, NULL, NULL));
	return a;
}

static uint32_t pkt_seq(const uint8_t *p, size_t len)
{
	uint32_t s;
	ck_assert(ht_parse(p, len, &s, NULL, NULL, NULL, NULL, NULL));
	return s;
}

START_TEST(test_map)
{
	struct tla_map m;
	tla_map_init(&m);
	ck_assert_uint_eq(tla_map_to_server(&m, 10), 10);
	ck_assert_int_eq(tla_map_add(&m, 100, 50, false), 0); /* [100,150) anchored at 100 */
	ck_assert_uint_eq(tla_map_to_server(&m, 99), 99);
	ck_assert_uint_eq(tla_map_to_server(&m, 100), 150);
	ck_assert_uint_eq(tla_map_to_server(&m, 120), 170);
	bool g;
	ck_assert_uint_eq(tla_map_to_peer(&m, 99, &g), 99);
	ck_assert(!g);
	ck_assert_uint_eq(tla_map_to_peer(&m, 120, &g), 100);
	ck_assert(g);
	ck_assert_uint_eq(tla_map_to_peer(&m, 150, &g), 100);
	ck_assert(!g);
	ck_assert_uint_eq(tla_map_to_peer(&m, 170, &g), 120);
	ck_assert_int_eq(tla_map_add(&m, 140, 5, false), -EINVAL);
	ck_assert_int_eq(tla_map_add(&m, 150, 10, false), 0); /* merged */
	ck_assert_uint_eq(m.n, 1);
	ck_assert_uint_eq(tla_map_to_server(&m, 100), 160);
	uint64_t e;
	ck_assert(tla_map_gap_at(&m, 155, &e));
	ck_assert_uint_eq(e, 160);
	ck_assert(!tla_map_gap_at(&m, 50, &e));
	ck_assert_uint_eq(e, 100);
	ck_assert(!tla_map_gap_at(&m, 160, &e));
	ck_assert_uint_eq(e, UINT64_MAX);
	/* open gap, then closed */
	ck_assert_int_eq(tla_map_add(&m, 300, 0, true), 0);
	ck_assert(tla_map_open(&m));
	ck_assert(tla_map_gap_at(&m, 1u << 30, &e));
	ck_assert_uint_eq(tla_map_to_peer(&m, 400, &g), 240);
	ck_assert(g);
	ck_assert_int_eq(tla_map_close(&m, 350), 0);
	ck_assert_uint_eq(tla_map_to_peer(&m, 360, &g), 250);
	ck_assert(!g);
	ck_assert_uint_eq(tla_map_to_server(&m, 240), 350);
	/* collapse keeps later mappings exact */
	tla_map_init(&m);
	for (unsigned i = 0; i < TLA_MAP_MAX + 5; i++)
		ck_assert_int_ge(tla_map_add(&m, 1000 * (i + 1), 10, false), 0);
	uint64_t last = 1000u * (TLA_MAP_MAX + 5);
	ck_assert_uint_eq(tla_map_to_peer(&m, last + 20, NULL),
			  last + 20 - 10u * (TLA_MAP_MAX + 5));
	ck_assert_uint_eq(tla_map_to_server(&m, last + 20 - 10u * (TLA_MAP_MAX + 5)), last + 20);
}
END_TEST

START_TEST(test_pretrans_forward)
{
	setup_conn(1000, 5000, NULL);
	ck_assert_int_eq(peer(1, 1, req, sizeof(req)), TLA_ACCEPT);
	enum tla_state st;
	uint64_t held, saved;
	struct tx_conn_id id = {HT_PEER, HT_SERVER, HT_PPORT, HT_SPORT};
	ck_assert_int_eq(tla_conn_state(H.t, &id, &st, &held, &saved), 0);
	ck_assert_int_eq(st, TLA_PRE_TRANS);
	ck_assert_uint_eq(saved, sizeof(req));
	ck_assert_int_eq(srv(1, 41, data, 100), TLA_ACCEPT);
	ck_assert_uint_eq(pkt_seq(rb, rl), 5001);
	ck_assert_uint_eq(tla_get_stats(H.t)->p2s_rewritten + tla_get_stats(H.t)->s2p_rewritten, 0);
	ck_assert_uint_eq(H.nout, 0);
}
END_TEST

START_TEST(test_commit_holds_and_releases)
{
	setup_conn(1000, 5000, NULL);
	ck_assert_int_eq(peer(1, 1, req, 40), TLA_ACCEPT);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_START, 0, 0, 0, 0, NULL), 0);
	ck_assert_int_eq(srv(1, 41, data, 1000), TLA_HOLD);
	uint32_t id1 = H.next_id - 1;
	ck_assert_int_eq(srv(1001, 41, data + 1000, 500), TLA_HOLD);
	uint32_t id2 = H.next_id - 1;
	ck_assert_uint_eq(tla_held_bytes(H.t), 1500);
	/* A pure ACK while holding carries the hold start. */
	ck_assert_int_eq(srv(1501, 41, NULL, 0), TLA_ACCEPT);
	ck_assert_uint_eq(pkt_seq(rb, rl), 5001);
	bool ok;
	ck_assert(ht_parse(rb, rl, NULL, NULL, NULL, NULL, NULL, &ok) && ok);
	ck_assert_int_eq(peer(41, 1, NULL, 0), TLA_ACCEPT);
	ck_assert_uint_eq(H.nout, 0); /* nothing leaked */
	ck_assert_int_eq(ht_ctl(&H, 1, TX_COMMIT, 0, 40, 0, 1500, NULL), 0);
	ck_assert_uint_eq(H.nout, 2);
	ck_assert_uint_eq(H.out[0].id, id1);
	ck_assert_uint_eq(H.out[1].id, id2);
	check_out(0, HT_VERDICT, true, 5001, data, 1000);
	check_out(1, HT_VERDICT, true, 6001, data + 1000, 500);
	ck_assert(!H.out[0].replaced);
	ck_assert_uint_eq(tla_held_bytes(H.t), 0);
	/* Bytes of a committed transaction arriving after the commit. */
	ht_clear_out(&H);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_START, 40, 0, 1500, 0, NULL), 0);
	ck_assert_int_eq(srv(1501, 41, data, 700), TLA_HOLD);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_COMMIT, 40, 40, 1500, 3000, NULL), 0);
	ck_assert_uint_eq(H.nout, 1);
	ck_assert_int_eq(srv(2201, 41, data + 700, 800), TLA_ACCEPT);
	ck_assert_uint_eq(pkt_seq(rb, rl), 5000 + 2201);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_START, 40, 0, 3000, 0, NULL), 0);
}
END_TEST

START_TEST(test_abort_restart_shifts)
{
	setup_conn(1000, 5000, NULL);
	ck_assert_int_eq(peer(1, 1, req, 40), TLA_ACCEPT);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_START, 0, 0, 0, 0, NULL), 0);
	ck_assert_int_eq(srv(1, 41, data, 1448), TLA_HOLD);
	ck_assert_int_eq(srv(1449, 41, data + 1448, 552), TLA_HOLD);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_ABORT, 0, 40, 0, 2000, NULL), 0);
	/* Both held packets dropped, and the server gets an ACK for them. */
	ck_assert_uint_eq(H.nout, 3);
	check_out(0, HT_VERDICT, false, 0, NULL, 0);
	check_out(1, HT_VERDICT, false, 0, NULL, 0);
	check_out(2, HT_SEND, true, 1041, NULL, 0);
	ck_assert_uint_eq(pkt_ack(H.out[2].pkt, H.out[2].len), 7001);
	ht_clear_out(&H);
	struct tx_msg ans;
	ck_assert_int_eq(ht_ctl(&H, 1, TX_RESTART, 0, 0, 0, 0, &ans), 0);
	ck_assert_uint_eq(ans.in_start, 40);
	ck_assert_uint_eq(ans.in_end, 80);
	ck_assert_uint_eq(H.nout, 1); /* the request, resent with new numbers */
	check_out(0, HT_SEND, true, 1041, req, 40);
	ck_assert_uint_eq(pkt_ack(H.out[0].pkt, H.out[0].len), 7001);
	ht_clear_out(&H);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_START, 40, 0, 2000, 0, NULL), 0);
	ck_assert_int_eq(srv(2001, 81, data, 300), TLA_HOLD);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_COMMIT, 40, 80, 2000, 2300, NULL), 0);
	ck_assert_uint_eq(H.nout, 1);
	check_out(0, HT_VERDICT, true, 5001, data, 300); /* d2 = 2000 taken out */
	ck_assert(H.out[0].replaced);
	ck_assert_uint_eq(pkt_ack(H.out[0].pkt, H.out[0].len), 1041); /* d1 = 40 taken out */
	/* Later segments both ways are shifted. */
	ck_assert_int_eq(peer(41, 301, NULL, 0), TLA_ACCEPT);
	ck_assert_uint_eq(pkt_ack(rb, rl), 7301);
	ck_assert_uint_eq(pkt_seq(rb, rl), 1081);
	ck_assert_int_eq(peer(41, 301, req, 10), TLA_ACCEPT);
	ck_assert_uint_eq(pkt_seq(rb, rl), 1081);
	ck_assert_int_eq(srv(2301, 91, NULL, 0), TLA_ACCEPT);
	ck_assert_uint_eq(pkt_ack(rb, rl), 1051);
	ck_assert_uint_eq(pkt_seq(rb, rl), 5301);
	/* An ACK inside the resent range lands on its anchor. */
	ck_assert_int_eq(srv(2301, 60, NULL, 0), TLA_ACCEPT);
	ck_assert_uint_eq(pkt_ack(rb, rl), 1041);
	bool ok;
	ck_assert(ht_parse(rb, rl, NULL, NULL, NULL, NULL, NULL, &ok) && ok);
}
END_TEST

START_TEST(test_abort_mid_segment)
{
	setup_conn(1000, 5000, NULL);
	ck_assert_int_eq(peer(1, 1, req, 40), TLA_ACCEPT);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_START, 0, 0, 0, 0, NULL), 0);
	ck_assert_int_eq(srv(1, 41, data, 1448), TLA_HOLD);
	/* The server wrote 2000 bytes; 552 are still in its send queue. */
	ck_assert_int_eq(ht_ctl(&H, 1, TX_ABORT, 0, 40, 0, 2000, NULL), 0);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_RESTART, 0, 0, 0, 0, NULL), 0);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_START, 40, 0, 2000, 0, NULL), 0);
	ht_clear_out(&H);
	/* One segment: 552 aborted bytes, then 1448 of the new transaction. */
	uint8_t seg[2000];
	memset(seg, 'X', 552);
	memcpy(seg + 552, data, 1448);
	ck_assert_int_eq(srv(1449, 81, seg, 2000), TLA_DROP);
	ck_assert_uint_eq(tla_held_bytes(H.t), 1448);
	ck_assert_uint_eq(tla_get_stats(H.t)->s2p_split, 1);
	/* the aborted bytes are acknowledged to the server */
	ck_assert_uint_eq(H.nout, 1);
	check_out(0, HT_SEND, true, 1081, NULL, 0);
	ck_assert_uint_eq(pkt_ack(H.out[0].pkt, H.out[0].len), 7001);
	ht_clear_out(&H);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_COMMIT, 40, 80, 2000, 3448, NULL), 0);
	ck_assert_uint_eq(H.nout, 1);
	check_out(0, HT_SEND, true, 5001, data, 1448);
	for (unsigned i = 0; i < H.nout; i++) {
		const uint8_t *pl;
		size_t n;
		ck_assert(ht_parse(H.out[i].pkt, H.out[i].len, NULL, NULL, NULL, &pl, &n, NULL));
		ck_assert(memchr(pl, 'X', n) == NULL);
	}
}
END_TEST

START_TEST(test_retransmissions)
{
	setup_conn(1000, 5000, NULL);
	ck_assert_int_eq(peer(1, 1, req, 40), TLA_ACCEPT);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_START, 0, 0, 0, 0, NULL), 0);
	ck_assert_int_eq(srv(1, 41, data, 1000), TLA_HOLD);
	ck_assert_int_eq(srv(1, 41, data, 1000), TLA_DROP); /* held already */
	ck_assert_uint_eq(tla_get_stats(H.t)->held_retrans_dropped, 1);
	ck_assert_int_eq(srv(1, 41, data, 1200), TLA_DROP); /* 200 new bytes: kept as a copy */
	ck_assert_uint_eq(tla_held_bytes(H.t), 1200);
	ck_assert_int_eq(peer(41, 1, NULL, 0), TLA_ACCEPT);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_ABORT, 0, 40, 0, 1200, NULL), 0);
	ht_clear_out(&H);
	/* a retransmission of discarded bytes: dropped, ACK sent again */
	ck_assert_int_eq(srv(1, 41, data, 1000), TLA_DROP);
	ck_assert_uint_eq(H.nout, 1);
	ck_assert_uint_eq(pkt_ack(H.out[0].pkt, H.out[0].len), 6201);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_START, 40, 0, 1200, 0, NULL), 0);
	ck_assert_int_eq(srv(1201, 41, data, 500), TLA_HOLD);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_COMMIT, 40, 40, 1200, 1700, NULL), 0);
	/* a retransmission of released bytes keeps its (shifted) numbers */
	ck_assert_int_eq(srv(1201, 41, data, 500), TLA_ACCEPT);
	ck_assert_uint_eq(pkt_seq(rb, rl), 5001);
}
END_TEST

START_TEST(test_sack_mapping)
{
	setup_conn(1000, 5000, NULL);
	ck_assert_int_eq(peer(1, 1, req, 40), TLA_ACCEPT);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_START, 0, 0, 0, 0, NULL), 0);
	ck_assert_int_eq(srv(1, 41, data, 2000), TLA_HOLD);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_ABORT, 0, 40, 0, 2000, NULL), 0);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_RESTART, 0, 0, 0, 0, NULL), 0);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_START, 40, 0, 2000, 0, NULL), 0);
	ck_assert_int_eq(srv(2001, 81, data, 3000), TLA_HOLD);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_COMMIT, 40, 80, 2000, 5000, NULL), 0);
	/* the peer lost [1, 1001) of the new bytes and SACKs the rest */
	struct tcp_sack_block sb = {5000 + 1001, 5000 + 3001};
	ck_assert_int_eq(ht_feed(&H, true, 1041, 5001, TCP_FL_ACK, NULL, 0, &sb, 1, rb, &rl),
			 TLA_ACCEPT);
	struct tcp_sack_block got[4];
	ck_assert_uint_eq(ht_sack(rb, rl, got), 1);
	ck_assert_uint_eq(got[0].start, 5000 + 3001);
	ck_assert_uint_eq(got[0].end, 5000 + 5001);
	ck_assert_uint_eq(pkt_ack(rb, rl), 7001);
	/* the server SACKs peer bytes past a hole: back to peer numbers */
	struct tcp_sack_block ss = {1000 + 91, 1000 + 101};
	ck_assert_int_eq(
	    ht_feed(&H, false, 5000 + 5001, 1081, TCP_FL_ACK, NULL, 0, &ss, 1, rb, &rl),
	    TLA_ACCEPT);
	ck_assert_uint_eq(ht_sack(rb, rl, got), 1);
	ck_assert_uint_eq(got[0].start, 1000 + 51);
	ck_assert_uint_eq(got[0].end, 1000 + 61);
	bool ok;
	ck_assert(ht_parse(rb, rl, NULL, NULL, NULL, NULL, NULL, &ok) && ok);
}
END_TEST

START_TEST(test_held_limit)
{
	struct tla_config cfg;
	tla_config_default(&cfg);
	cfg.ports[0] = HT_SPORT;
	cfg.nports = 1;
	cfg.max_held = 3000;
	setup_conn(1000, 5000, &cfg);
	ck_assert_int_eq(peer(1, 1, req, 40), TLA_ACCEPT);
	ck_assert_int_eq(ht_ctl(&H, 9, TX_START, 0, 0, 0, 0, NULL), 0);
	ck_assert_int_eq(srv(1, 41, data, 1448), TLA_HOLD);
	ck_assert_int_eq(srv(1449, 41, data, 1448), TLA_HOLD);
	ck_assert_int_eq(srv(2897, 41, data, 1448), TLA_DROP);
	ck_assert_uint_eq(H.nnotes, 1);
	ck_assert_uint_eq(H.note_owner[0], 9);
	ck_assert_int_eq(H.notes[0].op, TX_FAILURE);
	ck_assert_int_eq(H.notes[0].reason, TX_R_HELD_LIMIT);
	ck_assert_uint_eq(H.nout, 0); /* nothing leaked */
	ck_assert_int_eq(ht_ctl(&H, 9, TX_COMMIT, 0, 40, 0, 4344, NULL), TX_R_HELD_LIMIT);
	ck_assert_int_eq(ht_ctl(&H, 9, TX_ABORT, 0, 40, 0, 4344, NULL), 0);
	ck_assert_uint_eq(tla_get_stats(H.t)->held_limit, 1);
}
END_TEST

START_TEST(test_bad_control)
{
	setup_conn(1000, 5000, NULL);
	ck_assert_int_eq(peer(1, 1, req, 40), TLA_ACCEPT);
	struct tx_msg req_m = {.op = TX_START, .req_id = 1, .conn = {HT_PEER, HT_SERVER, 1, 2}};
	struct tx_msg a;
	tla_control(H.t, 1, &req_m, H.now, &a);
	ck_assert_int_eq(a.op, TX_FAILURE);
	ck_assert_int_eq(a.reason, TX_R_UNKNOWN_CONN);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_COMMIT, 0, 40, 0, 0, NULL), TX_R_STATE);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_START, 1000, 0, 0, 0, NULL), TX_R_OFFSETS);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_START, 0, 0, (uint64_t)1 << 63, 0, NULL), TX_R_OFFSETS);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_RESTART, 0, 0, 0, 0, NULL), TX_R_STATE);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_START, 0, 0, 0, 0, NULL), 0);
	ck_assert_int_eq(ht_ctl(&H, 2, TX_COMMIT, 0, 40, 0, 0, NULL), TX_R_BUSY);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_START, 0, 0, 0, 0, NULL), TX_R_STATE);
	ck_assert_int_eq(srv(1, 41, data, 1000), TLA_HOLD);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_COMMIT, 0, 40, 0, 500, NULL), TX_R_OFFSETS);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_COMMIT, 0, 40, 7, 1000, NULL), TX_R_OFFSETS);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_ABORT, 0, 99, 0, 1000, NULL), TX_R_OFFSETS);
	ck_assert_uint_eq(H.nout, 0);
	ck_assert_uint_eq(tla_held_bytes(H.t), 1000);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_COMMIT, 0, 40, 0, 1000, NULL), 0);
	ck_assert_uint_eq(H.nout, 1);
	check_out(0, HT_VERDICT, true, 5001, data, 1000);
}
END_TEST

START_TEST(test_owner_lost)
{
	setup_conn(1000, 5000, NULL);
	ck_assert_int_eq(peer(1, 1, req, 40), TLA_ACCEPT);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_START, 0, 0, 0, 0, NULL), 0);
	ck_assert_int_eq(srv(1, 41, data, 1000), TLA_HOLD);
	tla_owner_closed(H.t, 1, H.now);
	ck_assert_uint_eq(H.nout, 2); /* held packet dropped, its bytes ACKed */
	check_out(0, HT_VERDICT, false, 0, NULL, 0);
	ck_assert_uint_eq(pkt_ack(H.out[1].pkt, H.out[1].len), 6001);
	ht_clear_out(&H);
	/* the rest of the transaction, still in the server's queue */
	ck_assert_int_eq(srv(1001, 41, data, 500), TLA_DROP);
	ck_assert_uint_eq(pkt_ack(H.out[0].pkt, H.out[0].len), 6501);
	ht_clear_out(&H);
	ck_assert_int_eq(ht_ctl(&H, 2, TX_START, 0, 0, 1500, 0, NULL), TX_R_STATE);
	ck_assert_int_eq(ht_ctl(&H, 2, TX_ABORT, 0, 40, 0, 1500, NULL), 0);
	ck_assert_int_eq(ht_ctl(&H, 2, TX_RESTART, 0, 0, 0, 0, NULL), 0);
	check_out(0, HT_SEND, true, 1041, req, 40);
	ht_clear_out(&H);
	ck_assert_int_eq(ht_ctl(&H, 2, TX_START, 40, 0, 1500, 0, NULL), 0);
	ck_assert_int_eq(srv(1501, 81, data, 100), TLA_HOLD);
	ck_assert_int_eq(ht_ctl(&H, 2, TX_COMMIT, 40, 80, 1500, 1600, NULL), 0);
	check_out(0, HT_VERDICT, true, 5001, data, 100);
	ck_assert_uint_eq(tla_get_stats(H.t)->owner_lost, 1);
}
END_TEST

START_TEST(test_pretrans_aging)
{
	struct tla_config cfg;
	tla_config_default(&cfg);
	cfg.ports[0] = HT_SPORT;
	cfg.nports = 1;
	cfg.max_saved = 100;
	cfg.pretrans_age_ms = 1000;
	setup_conn(1000, 5000, &cfg);
	ck_assert_int_eq(peer(1, 1, data, 60), TLA_ACCEPT);
	H.now += 100;
	ck_assert_int_eq(peer(61, 1, data, 60), TLA_ACCEPT);
	ck_assert_uint_eq(tla_saved_bytes(H.t), 100);
	ck_assert_uint_eq(tla_get_stats(H.t)->aged_bytes, 20);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_START, 0, 0, 0, 0, NULL), TX_R_SAVED_LIMIT);
	H.now += 950;
	tla_tick(H.t, H.now);
	ck_assert_uint_eq(tla_saved_bytes(H.t), 60);
	H.now += 200;
	tla_tick(H.t, H.now);
	ck_assert_uint_eq(tla_saved_bytes(H.t), 0);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_START, 120, 0, 0, 0, NULL), 0);
}
END_TEST

START_TEST(test_ooo_peer_dropped)
{
	setup_conn(1000, 5000, NULL);
	ck_assert_int_eq(peer(101, 1, req, 40), TLA_DROP);
	ck_assert_int_eq(peer(1, 1, data, 100), TLA_ACCEPT);
	ck_assert_int_eq(peer(101, 1, req, 40), TLA_ACCEPT);
	ck_assert_uint_eq(tla_saved_bytes(H.t), 140);
	ck_assert_uint_eq(tla_get_stats(H.t)->p2s_ooo_dropped, 1);
}
END_TEST

START_TEST(test_many_connections)
{
	setup_conn(1000, 5000, NULL);
	for (uint16_t i = 0; i < 300; i++) {
		H.pport = (uint16_t)(20000 + i);
		ht_handshake(&H);
		ck_assert_int_eq(peer(1, 1, req, 40), TLA_ACCEPT);
		ck_assert_int_eq(ht_ctl(&H, 100 + i, TX_START, 0, 0, 0, 0, NULL), 0);
		ck_assert_int_eq(srv(1, 41, data, 10 + i), TLA_HOLD);
	}
	ck_assert_uint_eq(tla_conn_count(H.t), 301);
	for (uint16_t i = 0; i < 300; i++) {
		H.pport = (uint16_t)(20000 + i);
		ck_assert_int_eq(ht_ctl(&H, 100 + i, TX_COMMIT, 0, 40, 0, 10 + i, NULL), 0);
		check_out(H.nout - 1, HT_VERDICT, true, 5001, data, 10u + i);
	}
	ck_assert_uint_eq(tla_held_bytes(H.t), 0);
	H.now += 2 * 600000;
	tla_tick(H.t, H.now);
	ck_assert_uint_eq(tla_conn_count(H.t), 0);
}
END_TEST

/* The abort/restart exchange with partial checksums and numbers that wrap. */
static void abort_cycle(void)
{
	ck_assert_int_eq(peer(1, 1, req, 40), TLA_ACCEPT);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_START, 0, 0, 0, 0, NULL), 0);
	ck_assert_int_eq(srv(1, 41, data, 3000), TLA_HOLD);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_ABORT, 0, 40, 0, 3000, NULL), 0);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_RESTART, 0, 0, 0, 0, NULL), 0);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_START, 40, 0, 3000, 0, NULL), 0);
	ck_assert_int_eq(srv(3001, 81, data + 5, 1000), TLA_HOLD);
	ht_clear_out(&H);
	ck_assert_int_eq(ht_ctl(&H, 1, TX_COMMIT, 40, 80, 3000, 4000, NULL), 0);
	check_out(0, HT_VERDICT, true, H.isn_s + 1, data + 5, 1000);
	ck_assert_int_eq(peer(41, 1001, req, 20), TLA_ACCEPT);
	ck_assert_uint_eq(pkt_seq(rb, rl), H.isn_p + 81);
	ck_assert_uint_eq(pkt_ack(rb, rl), H.isn_s + 4001);
	bool ok;
	ck_assert(ht_parse(rb, rl, NULL, NULL, NULL, NULL, NULL, &ok) && ok);
}

START_TEST(test_partial_checksums)
{
	ht_init(&H, NULL, 1000, 5000);
	H.csum = CSUM_PARTIAL_PSEUDO;
	ht_handshake(&H);
	abort_cycle();
}
END_TEST

START_TEST(test_wrap)
{
	setup_conn(0xffffffe0u, 0xfffff000u, NULL);
	abort_cycle();
}
END_TEST

Suite *tla_suite(void);
Suite *tla_suite(void)
{
	Suite *s = suite_create("tla");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_map);
	tcase_add_test(tc, test_pretrans_forward);
	tcase_add_test(tc, test_commit_holds_and_releases);
	tcase_add_test(tc, test_abort_restart_shifts);
	tcase_add_test(tc, test_abort_mid_segment);
	tcase_add_test(tc, test_retransmissions);
	tcase_add_test(tc, test_sack_mapping);
	tcase_add_test(tc, test_held_limit);
	tcase_add_test(tc, test_bad_control);
	tcase_add_test(tc, test_owner_lost);
	tcase_add_test(tc, test_pretrans_aging);
	tcase_add_test(tc, test_ooo_peer_dropped);
	tcase_add_test(tc, test_many_connections);
	tcase_add_test(tc, test_partial_checksums);
	tcase_add_test(tc, test_wrap);
	suite_add_tcase(s, tc);
	return s;
}
