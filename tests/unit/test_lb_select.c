/* test_lb_select.c - the load balancer's decision: header parsing, the
 * weighted draw (distribution, zero weights, bursts, spraying), the
 * Maglev-style table (every slot filled, balance, determinism, minimal
 * disruption on removal and return), flow stickiness and the owner
 * preference. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "helper_pktgen.h"
#include "lb_select.h"
#include "splice_table.h"

#define VIP 0xc6120a01u /* 198.18.10.1 */

static void cfg_of(struct lb_select_config *c, int mode, uint32_t burst, uint32_t m)
{
	lb_select_config_default(c);
	c->mode = mode;
	c->burst = burst;
	c->table_size = m;
	c->rng_seed = 12345;
	c->hash_seed = 7;
}

static void init_n(struct lb_select *s, const struct lb_select_config *c, unsigned n)
{
	struct lb_member_def d[LB_MAX_MEMBERS];
	memset(d, 0, sizeof(d));
	for (unsigned i = 0; i < n; i++)
		d[i].id = 10 + 7 * i;
	ck_assert_int_eq(lb_select_init(s, c, d, n), 0);
	for (unsigned i = 0; i < n; i++)
		lb_select_set_live(s, i, true);
	lb_select_commit(s);
}

static struct lb_flow flow_of(uint32_t saddr, uint16_t sport)
{
	return (struct lb_flow){.saddr = saddr,
				.daddr = VIP,
				.sport = sport,
				.dport = 80,
				.proto = 6,
				.has_ports = true};
}

START_TEST(primes_and_config)
{
	ck_assert(lb_is_prime(2) && lb_is_prime(7) && lb_is_prime(65537) &&
		  lb_is_prime(LB_TABLE_SIZE_MAX));
	ck_assert(!lb_is_prime(1) && !lb_is_prime(9) && !lb_is_prime(65536) &&
		  !lb_is_prime(1048575));
	struct lb_select s;
	struct lb_select_config c;
	struct lb_member_def d[3] = {{.id = 1}, {.id = 2}, {.id = 1}};
	cfg_of(&c, LB_MODE_FLOW_HASH, 1, 65536);
	ck_assert_int_eq(lb_select_init(&s, &c, d, 2), -EINVAL); /* not prime */
	cfg_of(&c, LB_MODE_FLOW_HASH, 1, 251);
	ck_assert_int_eq(lb_select_init(&s, &c, d, 3), -EINVAL); /* duplicate id */
	ck_assert_int_eq(lb_select_init(&s, &c, d, 0), -EINVAL);
	c.burst = 0;
	ck_assert_int_eq(lb_select_init(&s, &c, d, 2), -EINVAL);
	cfg_of(&c, LB_MODE_FLOW_HASH, 1, 251);
	ck_assert_int_eq(lb_select_init(&s, &c, d, 2), 0);
	/* nothing live yet */
	struct lb_flow f = flow_of(1, 2);
	ck_assert_int_eq(lb_select_pick(&s, &f), -1);
	ck_assert_uint_eq(s.st.no_member, 1);
	ck_assert_int_eq(lb_select_index(&s, 2), 1);
	ck_assert_int_eq(lb_select_index(&s, 3), -1);
	lb_select_free(&s);
}
END_TEST

START_TEST(flow_parse)
{
	struct pktgen_spec sp;
	pktgen_spec_init(&sp);
	sp.saddr = 0xc612000a;
	sp.daddr = VIP;
	sp.sport = 40000;
	sp.dport = 80;
	uint8_t buf[256];
	int blen = pktgen_build(&sp, buf, sizeof(buf));
	ck_assert_int_gt(blen, 0);
	size_t len = (size_t)blen;
	struct lb_flow f;
	ck_assert_int_eq(lb_flow_parse(buf, len, &f), 0);
	ck_assert_uint_eq(f.saddr, 0xc612000a);
	ck_assert_uint_eq(f.daddr, VIP);
	ck_assert_uint_eq(f.sport, 40000);
	ck_assert_uint_eq(f.dport, 80);
	ck_assert(f.has_ports && !f.fragment);
	/* header-only copy: 24 bytes are enough for the ports */
	ck_assert_int_eq(lb_flow_parse(buf, 24, &f), 0);
	ck_assert(f.has_ports);
	ck_assert_int_eq(lb_flow_parse(buf, 22, &f), 0);
	ck_assert(!f.has_ports);
	ck_assert_int_eq(lb_flow_parse(buf, 19, &f), -EINVAL);
	/* a fragment: addresses only */
	buf[6] = 0x20; /* MF */
	ck_assert_int_eq(lb_flow_parse(buf, len, &f), 0);
	ck_assert(f.fragment && !f.has_ports);
	buf[6] = 0;
	/* ICMP: no ports */
	buf[9] = 1;
	ck_assert_int_eq(lb_flow_parse(buf, len, &f), 0);
	ck_assert(!f.has_ports);
	buf[0] = 0x65; /* IPv6 */
	ck_assert_int_eq(lb_flow_parse(buf, len, &f), -EINVAL);
	buf[0] = 0x44; /* IHL 4 */
	ck_assert_int_eq(lb_flow_parse(buf, len, &f), -EINVAL);
}
END_TEST

START_TEST(weighted_distribution)
{
	struct lb_select s;
	struct lb_select_config c;
	cfg_of(&c, LB_MODE_WEIGHTED, 1, 251);
	init_n(&s, &c, 3);
	lb_select_set_weight(&s, 0, 100);
	lb_select_set_weight(&s, 1, 300);
	lb_select_set_weight(&s, 2, 600);
	enum { N = 300000 };
	unsigned cnt[3] = {0};
	for (int i = 0; i < N; i++) {
		int m = lb_select_pick(&s, NULL);
		ck_assert(m >= 0 && m < 3);
		cnt[m]++;
	}
	/* W'_i = 0.1, 0.3, 0.6 within 1 percentage point */
	ck_assert_uint_lt(abs((int)cnt[0] - N / 10), N / 100);
	ck_assert_uint_lt(abs((int)cnt[1] - 3 * N / 10), N / 100);
	ck_assert_uint_lt(abs((int)cnt[2] - 6 * N / 10), N / 100);
	ck_assert_uint_eq(s.st.bursts, N);

	/* a member with W = 0 gets nothing; all zero = equal shares */
	lb_select_set_weight(&s, 0, 0);
	memset(cnt, 0, sizeof(cnt));
	for (int i = 0; i < N / 10; i++)
		cnt[lb_select_pick(&s, NULL)]++;
	ck_assert_uint_eq(cnt[0], 0);
	lb_select_set_weight(&s, 1, 0);
	lb_select_set_weight(&s, 2, 0);
	memset(cnt, 0, sizeof(cnt));
	for (int i = 0; i < 30000; i++)
		cnt[lb_select_pick(&s, NULL)]++;
	for (int i = 0; i < 3; i++)
		ck_assert_uint_lt(abs((int)cnt[i] - 10000), 600);

	/* a member that is not live gets nothing, whatever its weight */
	lb_select_set_weight(&s, 0, 1000);
	lb_select_set_weight(&s, 1, 1000);
	lb_select_set_weight(&s, 2, 1000);
	lb_select_set_live(&s, 1, false);
	memset(cnt, 0, sizeof(cnt));
	for (int i = 0; i < 10000; i++)
		cnt[lb_select_pick(&s, NULL)]++;
	ck_assert_uint_eq(cnt[1], 0);
	ck_assert_uint_gt(cnt[0], 4000);
	ck_assert_uint_gt(cnt[2], 4000);
	/* none live */
	lb_select_set_live(&s, 0, false);
	lb_select_set_live(&s, 2, false);
	ck_assert_int_eq(lb_select_pick(&s, NULL), -1);
	lb_select_free(&s);
}
END_TEST

START_TEST(weighted_bursts)
{
	struct lb_select s;
	struct lb_select_config c;
	enum { B = 40, N = 40000 };
	cfg_of(&c, LB_MODE_WEIGHTED, B, 251);
	init_n(&s, &c, 4);
	for (unsigned i = 0; i < 4; i++)
		lb_select_set_weight(&s, i, 250);
	static int seq[N];
	unsigned switches = 0;
	for (int i = 0; i < N; i++) {
		seq[i] = lb_select_pick(&s, NULL);
		/* inside a burst the member never changes */
		if (i % B != 0)
			ck_assert_int_eq(seq[i], seq[i - 1]);
		else if (i > 0 && seq[i] != seq[i - 1])
			switches++;
	}
	ck_assert_uint_eq(s.st.bursts, N / B);
	/* with 4 equal members a new burst picks another member 3/4 of the time */
	ck_assert_uint_gt(switches, (N / B) * 65 / 100);
	ck_assert_uint_lt(switches, (N / B) * 85 / 100);

	/* the member of the current burst leaves: the burst ends at once */
	int cur = lb_select_pick(&s, NULL); /* first packet of a burst */
	ck_assert_int_eq(s.burst_left, B - 1);
	lb_select_set_live(&s, (unsigned)cur, false);
	for (int i = 0; i < 100; i++)
		ck_assert_int_ne(lb_select_pick(&s, NULL), cur);
	/* ... and so does it when its weight drops to 0 while others have some */
	lb_select_set_live(&s, (unsigned)cur, true);
	int m = lb_select_pick(&s, NULL);
	while (s.burst_left != B - 1)
		m = lb_select_pick(&s, NULL);
	lb_select_set_weight(&s, (unsigned)m, 0);
	ck_assert_int_ne(lb_select_pick(&s, NULL), m);
	lb_select_free(&s);

	/* burst 1 = per-packet spraying: consecutive packets change member */
	cfg_of(&c, LB_MODE_WEIGHTED, 1, 251);
	init_n(&s, &c, 2);
	lb_select_set_weight(&s, 0, 500);
	lb_select_set_weight(&s, 1, 500);
	int prev = lb_select_pick(&s, NULL);
	switches = 0;
	for (int i = 0; i < 10000; i++) {
		int x = lb_select_pick(&s, NULL);
		switches += x != prev;
		prev = x;
	}
	ck_assert_uint_gt(switches, 4500);
	ck_assert_uint_lt(switches, 5500);
	lb_select_free(&s);
}
END_TEST

static unsigned count_member(const struct lb_select *s, uint8_t m)
{
	unsigned n = 0;
	for (uint32_t c = 0; c < s->cfg.table_size; c++)
		n += s->table[c] == m;
	return n;
}

START_TEST(maglev_table)
{
	struct lb_select s, t;
	struct lb_select_config c;
	enum { M = 65537, NM = 7 };
	cfg_of(&c, LB_MODE_FLOW_HASH, 1, M);
	init_n(&s, &c, NM);
	/* every slot holds a member; shares within 2% of M/N (Maglev's
	 * round-robin claiming keeps them within one slot when nothing is
	 * down) */
	unsigned total = 0;
	for (unsigned i = 0; i < NM; i++) {
		unsigned n = count_member(&s, (uint8_t)i);
		ck_assert_uint_ge(n + 1, M / NM);
		ck_assert_uint_le(n, M / NM + 1);
		total += n;
	}
	ck_assert_uint_eq(total, M);
	/* deterministic and independent of the order members are given in */
	struct lb_member_def d[NM];
	for (unsigned i = 0; i < NM; i++)
		d[i] = (struct lb_member_def){.id = 10 + 7 * (NM - 1 - i)};
	ck_assert_int_eq(lb_select_init(&t, &c, d, NM), 0);
	for (unsigned i = 0; i < NM; i++)
		lb_select_set_live(&t, i, true);
	lb_select_commit(&t);
	ck_assert_mem_eq(s.table, t.table, M);
	lb_select_free(&t);
	/* another seed, another layout */
	c.hash_seed = 8;
	init_n(&t, &c, NM);
	ck_assert(memcmp(s.table, t.table, M) != 0);
	lb_select_free(&t);
	lb_select_free(&s);
}
END_TEST

START_TEST(maglev_minimal_disruption)
{
	struct lb_select s;
	struct lb_select_config c;
	enum { M = 65537, NM = 5 };
	cfg_of(&c, LB_MODE_FLOW_HASH, 1, M);
	init_n(&s, &c, NM);
	uint8_t *orig = malloc(M), *one = malloc(M);
	memcpy(orig, s.table, M);
	unsigned held = count_member(&s, 2);

	/* remove member 2: only its slots move, spread over the others */
	lb_select_set_live(&s, 2, false);
	lb_select_commit(&s);
	unsigned moved = 0, got[NM] = {0};
	for (uint32_t i = 0; i < M; i++) {
		if (orig[i] == 2) {
			ck_assert_uint_ne(s.table[i], 2);
			got[s.table[i]]++;
			moved++;
		} else {
			ck_assert_uint_eq(s.table[i], orig[i]);
		}
	}
	ck_assert_uint_eq(moved, held);
	for (unsigned i = 0; i < NM; i++)
		if (i != 2)
			ck_assert_uint_lt(abs((int)got[i] - (int)held / 4), (int)held / 10);
	memcpy(one, s.table, M);

	/* a second failure moves only the second member's slots */
	lb_select_set_live(&s, 0, false);
	lb_select_commit(&s);
	for (uint32_t i = 0; i < M; i++) {
		if (one[i] == 0)
			ck_assert(s.table[i] != 0 && s.table[i] != 2);
		else
			ck_assert_uint_eq(s.table[i], one[i]);
	}
	/* the first one returns: exactly the slots that go back to it move */
	lb_select_set_live(&s, 2, true);
	lb_select_commit(&s);
	for (uint32_t i = 0; i < M; i++)
		if (s.table[i] != 2)
			ck_assert(s.table[i] != 0);
	/* both back: the original table */
	lb_select_set_live(&s, 0, true);
	lb_select_commit(&s);
	ck_assert_mem_eq(s.table, orig, M);
	free(orig);
	free(one);
	lb_select_free(&s);
}
END_TEST

START_TEST(flow_stickiness)
{
	struct lb_select s;
	struct lb_select_config c;
	cfg_of(&c, LB_MODE_FLOW_HASH, 1, 65537);
	init_n(&s, &c, 2);
	struct pktgen_rng r;
	pktgen_rng_seed(&r, pktgen_test_seed("flow_stickiness"));
	unsigned cnt[2] = {0}, moved = 0, on1 = 0;
	enum { N = 20000 };
	static int first[N];
	static struct lb_flow fl[N];
	for (int i = 0; i < N; i++) {
		fl[i] = flow_of(0xc6120000u | pktgen_below(&r, 256), (uint16_t)pktgen_u32(&r));
		first[i] = lb_select_pick(&s, &fl[i]);
		ck_assert_int_eq(lb_select_pick(&s, &fl[i]), first[i]);
		cnt[first[i]]++;
	}
	ck_assert_uint_lt(abs((int)cnt[0] - N / 2), N / 20);
	/* proxy 0 leaves: its flows go to 1, flows on 1 stay; back: all return */
	lb_select_set_live(&s, 0, false);
	for (int i = 0; i < N; i++) {
		int m = lb_select_pick(&s, &fl[i]);
		ck_assert_int_eq(m, 1);
		moved += first[i] == 0;
	}
	ck_assert_uint_eq(moved, cnt[0]);
	lb_select_set_live(&s, 0, true);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(lb_select_pick(&s, &fl[i]), first[i]);
		on1 += first[i] == 1;
	}
	ck_assert_uint_eq(on1, cnt[1]);
	/* a flow without ports still maps to one member, consistently */
	struct lb_flow icmp = {.saddr = 0xc612000a, .daddr = VIP, .proto = 1};
	ck_assert_int_eq(lb_select_pick(&s, &icmp), lb_select_pick(&s, &icmp));
	lb_select_free(&s);
}
END_TEST

START_TEST(owner_preference)
{
	struct lb_select s;
	struct lb_select_config c;
	cfg_of(&c, LB_MODE_FLOW_HASH, 1, 251);
	c.owner = LB_OWNER_CLIENT_HASH;
	init_n(&s, &c, 3);
	struct pktgen_rng r;
	pktgen_rng_seed(&r, pktgen_test_seed("owner_preference"));
	for (int i = 0; i < 2000; i++) {
		struct lb_flow f = flow_of(pktgen_u32(&r), (uint16_t)pktgen_u32(&r));
		struct splice_key k = {
		    .saddr = f.saddr, .daddr = f.daddr, .sport = f.sport, .dport = f.dport};
		int o = (int)splice_owner(&k, 3);
		ck_assert_int_eq(lb_select_owner(&s, &f), o);
		ck_assert_int_eq(lb_select_pick(&s, &f), o);
	}
	ck_assert_uint_eq(s.st.owner_hits, 2000);
	/* owner down: the table decides, never the dead owner */
	lb_select_set_live(&s, 1, false);
	for (int i = 0; i < 2000; i++) {
		struct lb_flow f = flow_of(pktgen_u32(&r), (uint16_t)pktgen_u32(&r));
		int m = lb_select_pick(&s, &f);
		ck_assert(m == 0 || m == 2);
		if (lb_select_owner(&s, &f) != 1)
			ck_assert_int_eq(m, lb_select_owner(&s, &f));
	}
	ck_assert_uint_gt(s.st.owner_down, 400);
	lb_select_free(&s);

	/* ivip-port: the member whose range holds the destination port */
	struct lb_member_def d[2] = {{.id = 1, .port_min = 20000, .port_max = 24999},
				     {.id = 2, .port_min = 25000, .port_max = 29999}};
	c.owner = LB_OWNER_IVIP_PORT;
	ck_assert_int_eq(lb_select_init(&s, &c, d, 2), 0);
	lb_select_set_live(&s, 0, true);
	lb_select_set_live(&s, 1, true);
	struct lb_flow f = {
	    .saddr = 0xc612020b, .daddr = 0xc6120b01, .sport = 80, .proto = 6, .has_ports = true};
	f.dport = 20000;
	ck_assert_int_eq(lb_select_pick(&s, &f), 0);
	f.dport = 29999;
	ck_assert_int_eq(lb_select_pick(&s, &f), 1);
	f.dport = 30000; /* no owner: the table */
	ck_assert_int_eq(lb_select_owner(&s, &f), -1);
	ck_assert_int_ge(lb_select_pick(&s, &f), 0);
	lb_select_set_live(&s, 1, false);
	f.dport = 25001;
	ck_assert_int_eq(lb_select_pick(&s, &f), 0);
	lb_select_free(&s);
}
END_TEST

Suite *lb_select_suite(void);

Suite *lb_select_suite(void)
{
	Suite *s = suite_create("lb_select");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, primes_and_config);
	tcase_add_test(tc, flow_parse);
	tcase_add_test(tc, weighted_distribution);
	tcase_add_test(tc, weighted_bursts);
	tcase_add_test(tc, maglev_table);
	tcase_add_test(tc, maglev_minimal_disruption);
	tcase_add_test(tc, flow_stickiness);
	tcase_add_test(tc, owner_preference);
	suite_add_tcase(s, tc);
	return s;
}
