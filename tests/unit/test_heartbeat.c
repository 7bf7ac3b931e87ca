/* test_heartbeat.c - heartbeat message codec, the workload formula and CPU
 * smoothing, the membership state machine on a fake clock (join, three
 * missed beats, detection time, re-admission after N good beats, gaps,
 * not-ready), and the receiver's refusal of forged, replayed, stale,
 * malformed, unknown and misaddressed datagrams without any change of
 * membership. No sockets: the receiver is fed buffers. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "heartbeat.h"
#include "helper_pktgen.h"

#define KEY_A "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_B "f00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define T0    1800000000000ull /* a wall clock in ms */

START_TEST(codec)
{
	struct heartbeat_status st = {.flags = HEARTBEAT_F_NOT_READY,
				      .workload = 731,
				      .interval_ms = 200,
				      .connections = 123456,
				      .cpu_permille = 999,
				      .queue_permille = 5};
	uint8_t b[HEARTBEAT_BODY_LEN];
	heartbeat_encode(&st, b);
	struct heartbeat_status out;
	ck_assert_int_eq(heartbeat_decode(b, sizeof(b), &out), 0);
	ck_assert_uint_eq(out.flags, st.flags);
	ck_assert_uint_eq(out.workload, st.workload);
	ck_assert_uint_eq(out.interval_ms, st.interval_ms);
	ck_assert_uint_eq(out.connections, st.connections);
	ck_assert_uint_eq(out.cpu_permille, st.cpu_permille);
	ck_assert_uint_eq(out.queue_permille, st.queue_permille);
	ck_assert_int_eq(heartbeat_decode(b, sizeof(b) - 1, &out), HEARTBEAT_E_MALFORMED);
	uint8_t big[HEARTBEAT_BODY_LEN + 1] = {0};
	memcpy(big, b, sizeof(b));
	ck_assert_int_eq(heartbeat_decode(big, sizeof(big), &out), HEARTBEAT_E_MALFORMED);
	uint8_t c[HEARTBEAT_BODY_LEN];
	memcpy(c, b, sizeof(c));
	c[0] = 2; /* version */
	ck_assert_int_eq(heartbeat_decode(c, sizeof(c), &out), HEARTBEAT_E_MALFORMED);
	memcpy(c, b, sizeof(c));
	c[1] = 0x80; /* unknown flag */
	ck_assert_int_eq(heartbeat_decode(c, sizeof(c), &out), HEARTBEAT_E_MALFORMED);
	memcpy(c, b, sizeof(c));
	c[2] = 0x03, c[3] = 0xe9; /* workload 1001 */
	ck_assert_int_eq(heartbeat_decode(c, sizeof(c), &out), HEARTBEAT_E_MALFORMED);
	memcpy(c, b, sizeof(c));
	memset(c + 4, 0, 4); /* interval 0 */
	ck_assert_int_eq(heartbeat_decode(c, sizeof(c), &out), HEARTBEAT_E_MALFORMED);
}
END_TEST

START_TEST(workload_formula)
{
	ck_assert_uint_eq(heartbeat_workload(0, 0, 0, 0, 0), 1000);
	ck_assert_uint_eq(heartbeat_workload(250, 1000, 0, 0, 0), 750);
	ck_assert_uint_eq(heartbeat_workload(250, 1000, 600, 0, 0), 400);      /* CPU scarcest */
	ck_assert_uint_eq(heartbeat_workload(250, 1000, 100, 900, 1000), 100); /* queue */
	ck_assert_uint_eq(heartbeat_workload(5000, 1000, 0, 0, 0), 0);	       /* clamped */
	ck_assert_uint_eq(heartbeat_workload(0, 1000, 1500, 0, 0), 0);
	ck_assert_uint_eq(heartbeat_workload(10, 0, 0, 10, 0), 1000); /* no maximum: free */

	struct heartbeat_cpu cpu = {0};
	ck_assert_uint_eq(heartbeat_cpu_feed(&cpu, 100, 1000), 0); /* primes */
	/* 100% busy: the EWMA (gain 1/4) climbs towards 1000 */
	uint32_t prev = 0, v = 0;
	for (int i = 1; i <= 30; i++) {
		v = heartbeat_cpu_feed(&cpu, 100 + 100u * i, 1000 + 100u * i);
		ck_assert_uint_ge(v, prev);
		prev = v;
	}
	ck_assert_uint_gt(v, 990);
	ck_assert_uint_le(v, 1000);
	/* idle again: it decays */
	for (int i = 31; i <= 40; i++)
		v = heartbeat_cpu_feed(&cpu, 3100, 1000 + 100u * i);
	ck_assert_uint_lt(v, 100);
	/* a counter going backwards re-primes instead of underflowing */
	uint32_t w = heartbeat_cpu_feed(&cpu, 5, 10);
	ck_assert_uint_le(w, 1000);
	ck_assert(heartbeat_cpu_sample(&cpu) >= 0);
}
END_TEST

static struct hb_membership_config mcfg(void)
{
	struct hb_membership_config c;
	hb_membership_config_default(&c);
	c.interval_ms = 200;
	c.miss_count = 3;
	c.join_count = 1;
	c.rejoin_count = 3;
	return c;
}

static const struct heartbeat_status GOOD = {.workload = 800, .interval_ms = 200};

START_TEST(membership_fake_clock)
{
	struct hb_membership m;
	struct hb_membership_config c = mcfg();
	uint32_t ids[2] = {1, 2};
	ck_assert_int_eq(hb_membership_init(&m, &c, ids, NULL, 2), 0);
	uint32_t dup[2] = {3, 3};
	struct hb_membership bad;
	ck_assert_int_eq(hb_membership_init(&bad, &c, dup, NULL, 2), -EINVAL);
	struct hb_member *a = &m.members[0];
	uint64_t t = 1000;
	ck_assert_int_eq(a->state, HB_UNKNOWN);
	/* first beat admits (join = 1) */
	ck_assert(hb_membership_beat(&m, 0, &GOOD, t));
	ck_assert(hb_member_live(a));
	ck_assert_uint_eq(a->status.workload, 800);
	/* regular beats keep it; silence shorter than 3 intervals too */
	for (int i = 1; i <= 5; i++)
		ck_assert(!hb_membership_beat(&m, 0, &GOOD, t + 200u * i));
	t += 1000; /* last beat */
	ck_assert_uint_eq(hb_membership_tick(&m, t + 599), 0);
	ck_assert(hb_member_live(a));
	/* exactly 3 intervals without a beat: out, detection time recorded */
	ck_assert_uint_eq(hb_membership_tick(&m, t + 600), 1);
	ck_assert_int_eq(a->state, HB_DOWN);
	ck_assert_uint_eq(a->detect_last_ms, 600);
	ck_assert_uint_eq(a->downs, 1);
	ck_assert_uint_eq(m.changes, 2);
	ck_assert_uint_eq(hb_membership_tick(&m, t + 5000), 0); /* once */
	/* coming back needs 3 consecutive good beats */
	t += 10000;
	ck_assert(!hb_membership_beat(&m, 0, &GOOD, t));
	ck_assert_int_eq(a->state, HB_JOINING);
	ck_assert(!hb_membership_beat(&m, 0, &GOOD, t + 200));
	/* a gap longer than 3 intervals restarts the count */
	ck_assert(!hb_membership_beat(&m, 0, &GOOD, t + 1000));
	ck_assert_uint_eq(a->run, 1);
	ck_assert(!hb_membership_beat(&m, 0, &GOOD, t + 1200));
	ck_assert(hb_membership_beat(&m, 0, &GOOD, t + 1400));
	ck_assert(hb_member_live(a));
	ck_assert_uint_eq(a->ups, 2);
	/* a joiner that goes silent falls back and starts over */
	t += 5000;
	hb_membership_tick(&m, t); /* a is out again */
	ck_assert_int_eq(a->state, HB_DOWN);
	ck_assert(!hb_membership_beat(&m, 0, &GOOD, t));
	ck_assert(!hb_membership_beat(&m, 0, &GOOD, t + 200));
	hb_membership_tick(&m, t + 800);
	ck_assert_int_eq(a->state, HB_DOWN);
	ck_assert_uint_eq(a->run, 0);
	/* the other member never beat: still unknown, never counted down */
	ck_assert_int_eq(m.members[1].state, HB_UNKNOWN);
	ck_assert_uint_eq(m.members[1].downs, 0);
}
END_TEST

START_TEST(membership_not_ready)
{
	struct hb_membership m;
	struct hb_membership_config c = mcfg();
	uint32_t ids[1] = {7};
	ck_assert_int_eq(hb_membership_init(&m, &c, ids, NULL, 1), 0);
	struct hb_member *a = &m.members[0];
	struct heartbeat_status nr = GOOD;
	nr.flags = HEARTBEAT_F_NOT_READY;
	/* not ready from the start: alive but never admitted */
	for (int i = 0; i < 5; i++)
		ck_assert(!hb_membership_beat(&m, 0, &nr, 100u + 200u * i));
	ck_assert_int_eq(a->state, HB_UNKNOWN);
	ck_assert(hb_membership_beat(&m, 0, &GOOD, 1100));
	/* an UP member flagging not-ready leaves at once (a drain, no detection) */
	ck_assert(hb_membership_beat(&m, 0, &nr, 1300));
	ck_assert_int_eq(a->state, HB_DOWN);
	ck_assert_uint_eq(a->drains, 1);
	ck_assert_uint_eq(a->detect_last_ms, 0);
	/* and returns after rejoin_count good beats */
	ck_assert(!hb_membership_beat(&m, 0, &GOOD, 1500));
	ck_assert(!hb_membership_beat(&m, 0, &GOOD, 1700));
	ck_assert(hb_membership_beat(&m, 0, &GOOD, 1900));
	ck_assert_uint_eq(a->not_ready_beats, 6);
}
END_TEST

struct upd {
	unsigned calls, changes;
};

static void on_update(void *ctx, unsigned idx, const struct hb_member *mb, bool changed)
{
	(void)idx;
	(void)mb;
	struct upd *u = ctx;
	u->calls++;
	u->changes += changed;
}

static ssize_t seal(struct auth_sender *s, const struct auth_key *k, uint16_t w, uint64_t now,
		    uint8_t *buf)
{
	struct heartbeat_status st = {.workload = w, .interval_ms = 200};
	return heartbeat_seal(s, k, &st, buf, HEARTBEAT_MSG_LEN, now);
}

START_TEST(receiver_refusals)
{
	struct auth_key ka, kb;
	ck_assert_int_eq(auth_key_from_hex(&ka, KEY_A, NULL, 0), 0);
	ck_assert_int_eq(auth_key_from_hex(&kb, KEY_B, NULL, 0), 0);
	struct heartbeat_receiver_config cfg;
	heartbeat_receiver_config_default(&cfg);
	cfg.members = mcfg();
	cfg.members.join_count = 2;
	uint32_t ids[2] = {1, 2};
	struct in_addr addrs[2];
	inet_pton(AF_INET, "198.18.1.11", &addrs[0]);
	inet_pton(AF_INET, "198.18.1.12", &addrs[1]);
	struct heartbeat_receiver r;
	struct upd u = {0};
	char err[256];
	ck_assert_int_eq(
	    heartbeat_receiver_init(&r, &cfg, &ka, ids, addrs, 2, on_update, &u, err, sizeof(err)),
	    0);
	struct sockaddr_in from1 = {.sin_family = AF_INET, .sin_addr = addrs[0]};
	struct sockaddr_in from2 = {.sin_family = AF_INET, .sin_addr = addrs[1]};
	struct auth_sender s1, s2, s9, forger;
	auth_sender_init(&s1, 1, 1000);
	auth_sender_init(&s2, 2, 1000);
	auth_sender_init(&s9, 9, 1000);
	auth_sender_init(&forger, 2, 5000);
	uint8_t b[HEARTBEAT_MSG_LEN], keep[HEARTBEAT_MSG_LEN];
	uint64_t now = T0, mono = 50000;

	/* two good beats from proxy 1 admit it (join = 2) */
	ck_assert_int_eq(seal(&s1, &ka, 500, now, keep), HEARTBEAT_MSG_LEN);
	ck_assert_int_eq(heartbeat_receiver_input(&r, keep, sizeof(keep), &from1, now, mono), 0);
	ck_assert_int_eq(seal(&s1, &ka, 500, now + 200, b), HEARTBEAT_MSG_LEN);
	ck_assert_int_eq(heartbeat_receiver_input(&r, b, sizeof(b), &from1, now + 200, mono + 200),
			 0);
	ck_assert(hb_member_live(&r.members.members[0]));
	uint64_t changes = r.members.changes;
	struct hb_member before = r.members.members[1];

	/* every bad input below is about proxy 2 (never up) or re-sends
	 * proxy 1's beats: none of it may change anything */
	now += 400, mono += 400;
	/* forged: the right shape, another key */
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(seal(&forger, &kb, 1000, now, b), HEARTBEAT_MSG_LEN);
		ck_assert_int_eq(heartbeat_receiver_input(&r, b, sizeof(b), &from2, now, mono),
				 AUTH_E_BAD_TAG);
	}
	/* replayed: proxy 1's first beat again */
	ck_assert_int_eq(heartbeat_receiver_input(&r, keep, sizeof(keep), &from1, now, mono),
			 AUTH_E_REPLAY);
	/* stale: a valid beat of proxy 2 sealed 10 s ago */
	ck_assert_int_eq(seal(&s2, &ka, 1000, now - 10000, b), HEARTBEAT_MSG_LEN);
	ck_assert_int_eq(heartbeat_receiver_input(&r, b, sizeof(b), &from2, now, mono),
			 AUTH_E_TOO_OLD);
	/* from the future */
	ck_assert_int_eq(seal(&s2, &ka, 1000, now + 60000, b), HEARTBEAT_MSG_LEN);
	ck_assert_int_eq(heartbeat_receiver_input(&r, b, sizeof(b), &from2, now, mono),
			 AUTH_E_FUTURE);
	/* unknown sender with the right key */
	ck_assert_int_eq(seal(&s9, &ka, 1000, now, b), HEARTBEAT_MSG_LEN);
	ck_assert_int_eq(heartbeat_receiver_input(&r, b, sizeof(b), &from2, now, mono),
			 AUTH_E_UNKNOWN_SENDER);
	/* proxy 2's valid beat from proxy 1's address */
	ck_assert_int_eq(seal(&s2, &ka, 1000, now, b), HEARTBEAT_MSG_LEN);
	ck_assert_int_eq(heartbeat_receiver_input(&r, b, sizeof(b), &from1, now, mono),
			 HEARTBEAT_E_WRONG_SOURCE);
	/* authenticated, but not a heartbeat / a malformed body */
	uint8_t body[HEARTBEAT_BODY_LEN] = {0};
	ssize_t n = auth_msg_seal_at(&s2, &ka, 0x0301, body, sizeof(body), b, sizeof(b), now);
	ck_assert_int_eq(heartbeat_receiver_input(&r, b, (size_t)n, &from2, now, mono),
			 HEARTBEAT_E_WRONG_TYPE);
	n = auth_msg_seal_at(&s2, &ka, HEARTBEAT_MSG_TYPE, body, sizeof(body), b, sizeof(b), now);
	ck_assert_int_eq(heartbeat_receiver_input(&r, b, (size_t)n, &from2, now, mono),
			 HEARTBEAT_E_MALFORMED);
	/* garbage */
	struct pktgen_rng rng;
	pktgen_rng_seed(&rng, pktgen_test_seed("receiver_refusals"));
	for (int i = 0; i < 200; i++) {
		uint8_t g[300];
		size_t len = pktgen_below(&rng, sizeof(g));
		pktgen_fill(&rng, g, len);
		ck_assert_int_lt(heartbeat_receiver_input(&r, g, len, &from2, now, mono), 0);
	}
	uint8_t cut[HEARTBEAT_MSG_LEN];
	ck_assert_int_eq(seal(&s2, &ka, 1000, now, cut), HEARTBEAT_MSG_LEN);
	ck_assert_int_lt(heartbeat_receiver_input(&r, cut, sizeof(cut) - 1, &from2, now, mono), 0);

	ck_assert_uint_eq(r.members.changes, changes);
	ck_assert_int_eq(r.members.members[1].state, before.state);
	ck_assert_uint_eq(r.members.members[1].beats, 0);
	ck_assert_uint_eq(r.st.good, 2);
	ck_assert_uint_eq(r.auth.counts[-AUTH_E_BAD_TAG] >= 5, 1);
	ck_assert_uint_eq(r.auth.counts[-AUTH_E_REPLAY], 1);
	ck_assert_uint_eq(r.st.wrong_source, 1);
	ck_assert_uint_eq(r.st.wrong_type, 1);
	ck_assert_uint_eq(r.st.malformed, 1);
	ck_assert_uint_eq(u.calls, 2);

	/* meanwhile proxy 1 falls silent: forged and replayed beats in its
	 * name do not keep it alive */
	auth_sender_init(&forger, 1, 9000);
	for (int i = 1; i <= 4; i++) {
		ck_assert_int_eq(seal(&forger, &kb, 1000, now + 100u * i, b), HEARTBEAT_MSG_LEN);
		heartbeat_receiver_input(&r, b, sizeof(b), &from1, now + 100u * i, mono + 100u * i);
		heartbeat_receiver_input(&r, keep, sizeof(keep), &from1, now + 100u * i,
					 mono + 100u * i);
	}
	heartbeat_receiver_tick(&r, mono + 400);
	ck_assert(!hb_member_live(&r.members.members[0]));
	ck_assert_uint_eq(r.members.members[0].detect_last_ms, 600);
	ck_assert_uint_eq(u.changes, 2);
	/* the genuine sender resumes: 3 beats (rejoin) bring it back */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(seal(&s1, &ka, 900, now + 1000u + 200u * i, b), HEARTBEAT_MSG_LEN);
		ck_assert_int_eq(heartbeat_receiver_input(&r, b, sizeof(b), &from1,
							  now + 1000u + 200u * i,
							  mono + 1000u + 200u * i),
				 0);
	}
	ck_assert(hb_member_live(&r.members.members[0]));
	ck_assert_uint_eq(r.members.members[0].status.workload, 900);
	heartbeat_receiver_close(&r);
}
END_TEST

START_TEST(config_tables)
{
	struct heartbeat_sender_config sc;
	heartbeat_sender_config_default(&sc);
	struct config_error ce;
	const char *text = "[heartbeat]\ntarget = 198.18.1.1:7401\ntarget = 198.18.1.2:7401\n"
			   "interval = 50ms\nsource = 198.18.1.11\nkey_file = /k\n";
	ck_assert_int_eq(config_load_string("t", text, heartbeat_sender_config_keys, &sc, &ce), 0);
	ck_assert_uint_eq(sc.ntargets, 2);
	ck_assert_uint_eq(ntohs(sc.targets[1].sin_port), 7401);
	ck_assert_uint_eq(ntohl(sc.targets[1].sin_addr.s_addr), 0xc6120102);
	ck_assert_uint_eq(sc.interval_ms, 50);
	ck_assert_uint_eq(ntohl(sc.source.s_addr), 0xc612010b);
	ck_assert_str_eq(sc.key_file, "/k");
	ck_assert_int_ne(config_load_string("t", "[heartbeat]\ntarget = nowhere\n",
					    heartbeat_sender_config_keys, &sc, &ce),
			 0);
	char buf[512] = "";
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	config_dump(f, heartbeat_sender_config_keys, &sc);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "target = 198.18.1.2:7401"));

	struct heartbeat_receiver_config rc;
	heartbeat_receiver_config_default(&rc);
	ck_assert_uint_eq(ntohs(rc.listen.sin_port), HEARTBEAT_DEFAULT_PORT);
	text = "[heartbeat]\ninterval = 1s\nmiss = 5\nrejoin = 7\ncheck_source = no\n";
	ck_assert_int_eq(config_load_string("t", text, heartbeat_receiver_config_keys, &rc, &ce),
			 0);
	ck_assert_uint_eq(rc.members.interval_ms, 1000);
	ck_assert_uint_eq(rc.members.miss_count, 5);
	ck_assert_uint_eq(rc.members.rejoin_count, 7);
	ck_assert(!rc.check_source);
	ck_assert_int_ne(config_load_string("t", "[heartbeat]\nmiss = 0\n",
					    heartbeat_receiver_config_keys, &rc, &ce),
			 0);
}
END_TEST

Suite *heartbeat_suite(void);

Suite *heartbeat_suite(void)
{
	Suite *s = suite_create("heartbeat");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, codec);
	tcase_add_test(tc, workload_formula);
	tcase_add_test(tc, membership_fake_clock);
	tcase_add_test(tc, membership_not_ready);
	tcase_add_test(tc, receiver_refusals);
	tcase_add_test(tc, config_tables);
	suite_add_tcase(s, tc);
	return s;
}
