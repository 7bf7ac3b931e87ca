/* test_flow_table.c - the connection table: both directions find one entry,
 * who is the client, ACK tracking (AckCL), closing and lingering, reuse of a
 * 4-tuple, idle expiry, hole timeout, eviction at capacity, callbacks. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flow_table.h"
#include "helper_pktgen.h"
#include "stats.h"

#define CLI  0xc612000au /* 198.18.0.10 */
#define SRV  0xc6120a01u /* 198.18.10.1 */
#define CPRT 40000
#define SPRT 80

/* Per-connection user state set by the created callback. */
struct conn {
	uint64_t bytes[2];
	uint64_t next[2];
	unsigned gaps[2];
	unsigned fins[2];
	bool order_error;
	struct events *ev;
};

struct half {
	struct conn *c;
	int d;
};

struct events {
	unsigned created, closed[FLOW_CLOSE_DESTROYED + 1];
	bool refuse;
	/* Of the last closed connection. */
	uint64_t last_bytes[2];
	unsigned last_gaps[2], last_fins[2];
	bool order_error;
};

static void on_data(void *ctx, uint64_t off, const uint8_t *data, size_t len)
{
	struct half *h = ctx;

	(void)data;
	if (off != h->c->next[h->d])
		h->c->order_error = true;
	h->c->next[h->d] = off + len;
	h->c->bytes[h->d] += len;
}

static void on_gap(void *ctx, uint64_t off, uint64_t len)
{
	struct half *h = ctx;

	if (off != h->c->next[h->d])
		h->c->order_error = true;
	h->c->next[h->d] = off + len;
	h->c->gaps[h->d]++;
}

static void on_fin(void *ctx, uint64_t off)
{
	struct half *h = ctx;

	(void)off;
	h->c->fins[h->d]++;
}

static int created(void *ctx, struct flow_entry *e, uint64_t now)
{
	struct events *ev = ctx;

	(void)now;
	if (ev->refuse)
		return -1;
	struct conn *c = calloc(1, sizeof(*c) + 2 * sizeof(struct half));
	struct half *h = (struct half *)(c + 1);

	c->ev = ev;
	for (int d = 0; d < 2; d++) {
		h[d] = (struct half){c, d};
		struct tcp_stream_consumer cons = {on_data, on_gap, on_fin, &h[d]};

		tcp_stream_set_consumer(&e->dir[d], &cons);
	}
	e->user = c;
	ev->created++;
	return 0;
}

static void closed(void *ctx, struct flow_entry *e, enum flow_close_reason why)
{
	struct events *ev = ctx;
	struct conn *c = e->user;

	ev->closed[why]++;
	for (int d = 0; d < 2; d++) {
		ev->last_bytes[d] = c->bytes[d];
		ev->last_gaps[d] = c->gaps[d];
		ev->last_fins[d] = c->fins[d];
	}
	ev->order_error |= c->order_error;
	free(c);
}

static struct flow_table *make_table(struct events *ev, unsigned max_conns)
{
	struct flow_table_config cfg;
	struct flow_callbacks cb = {created, closed, ev};
	struct flow_table *ft;

	memset(ev, 0, sizeof(*ev));
	flow_table_config_default(&cfg);
	cfg.max_conns = max_conns;
	cfg.idle_timeout = 1000;
	cfg.linger_timeout = 100;
	cfg.hole_timeout = 50;
	cfg.hash_seed = 0x1234;
	ck_assert_int_eq(flow_table_create(&ft, &cfg, &cb), 0);
	return ft;
}

/* A segment from (sa, sp) to (da, dp). */
static struct flow_segment seg(uint32_t sa, uint16_t sp, uint32_t da, uint16_t dp, uint32_t seq,
			       uint32_t ack, uint8_t flags, const uint8_t *data, uint32_t len)
{
	return (struct flow_segment){.saddr = sa,
				     .sport = sp,
				     .daddr = da,
				     .dport = dp,
				     .seq = seq,
				     .ack = ack,
				     .flags = flags,
				     .data = data,
				     .len = len};
}

static int c2s(struct flow_table *ft, uint16_t cport, uint32_t seq, uint32_t ack, uint8_t flags,
	       const uint8_t *data, uint32_t len, uint64_t now, struct flow_entry **e)
{
	struct flow_segment g = seg(CLI, cport, SRV, SPRT, seq, ack, flags, data, len);

	return flow_table_input(ft, &g, now, e, NULL);
}

static int s2c(struct flow_table *ft, uint16_t cport, uint32_t seq, uint32_t ack, uint8_t flags,
	       const uint8_t *data, uint32_t len, uint64_t now, struct flow_entry **e)
{
	struct flow_segment g = seg(SRV, SPRT, CLI, cport, seq, ack, flags, data, len);

	return flow_table_input(ft, &g, now, e, NULL);
}

/* A full handshake: client ISN 1000, server ISN 0xFFFFFF00 (wraps). */
#define CISN 1000u
#define SISN 0xFFFFFF00u
static struct flow_entry *handshake(struct flow_table *ft, uint16_t cport, uint64_t now)
{
	struct flow_entry *e1, *e2, *e3;

	ck_assert_int_eq(c2s(ft, cport, CISN, 0, TCP_FL_SYN, NULL, 0, now, &e1), 0);
	ck_assert_int_eq(s2c(ft, cport, SISN, CISN + 1, TCP_FL_SYN | TCP_FL_ACK, NULL, 0, now, &e2),
			 0);
	ck_assert_int_eq(c2s(ft, cport, CISN + 1, SISN + 1, TCP_FL_ACK, NULL, 0, now, &e3), 0);
	ck_assert_ptr_eq(e1, e2);
	ck_assert_ptr_eq(e1, e3);
	return e1;
}

START_TEST(both_directions)
{
	struct events ev;
	struct flow_table *ft = make_table(&ev, 16);
	uint8_t req[300] = "GET / HTTP/1.1\r\n", resp[2000] = "HTTP/1.1 200 OK\r\n";
	struct flow_entry *e = handshake(ft, CPRT, 1), *x;
	enum flow_dir d;

	ck_assert_uint_eq(ev.created, 1);
	ck_assert_uint_eq(e->caddr, CLI);
	ck_assert_uint_eq(e->cport, CPRT);
	ck_assert_uint_eq(e->saddr, SRV);
	ck_assert_uint_eq(e->sport, SPRT);
	ck_assert(!e->midstream);
	ck_assert(e->dir[FLOW_C2S].syn_seen && e->dir[FLOW_S2C].syn_seen);
	ck_assert_uint_eq(e->dir[FLOW_S2C].isn, SISN);
	ck_assert_ptr_eq(flow_table_lookup(ft, CLI, CPRT, SRV, SPRT, &d), e);
	ck_assert_int_eq(d, FLOW_C2S);
	ck_assert_ptr_eq(flow_table_lookup(ft, SRV, SPRT, CLI, CPRT, &d), e);
	ck_assert_int_eq(d, FLOW_S2C);
	ck_assert_ptr_null(flow_table_lookup(ft, CLI, CPRT + 1, SRV, SPRT, NULL));
	ck_assert_ptr_null(flow_table_lookup(ft, CLI, SPRT, SRV, CPRT, NULL));

	c2s(ft, CPRT, CISN + 1, SISN + 1, TCP_FL_ACK | TCP_FL_PSH, req, 300, 2, &x);
	ck_assert_ptr_eq(x, e);
	s2c(ft, CPRT, SISN + 1, CISN + 301, TCP_FL_ACK, resp, 1000, 3, NULL);
	s2c(ft, CPRT, SISN + 1001, CISN + 301, TCP_FL_ACK, resp + 1000, 1000, 3, NULL);
	/* AckCL: the client acknowledged 1500 server bytes so far. */
	c2s(ft, CPRT, CISN + 301, SISN + 1501, TCP_FL_ACK, NULL, 0, 4, NULL);
	ck_assert(e->dir[FLOW_S2C].ack_seen);
	ck_assert_uint_eq(e->dir[FLOW_S2C].ack_off, 1500);
	ck_assert_uint_eq(e->dir[FLOW_S2C].next_off, 2000);
	ck_assert_uint_eq(e->dir[FLOW_C2S].ack_off, 300);
	struct conn *c = e->user;

	ck_assert_uint_eq(c->bytes[FLOW_C2S], 300);
	ck_assert_uint_eq(c->bytes[FLOW_S2C], 2000);
	ck_assert_uint_eq(flow_table_count(ft), 1);
	flow_table_destroy(ft);
	ck_assert_uint_eq(ev.closed[FLOW_CLOSE_DESTROYED], 1);
	ck_assert(!ev.order_error);
}
END_TEST

START_TEST(client_side_rules)
{
	struct events ev;
	struct flow_table *ft = make_table(&ev, 16);
	struct flow_entry *e;
	uint8_t b[10] = {0};

	/* SYN-ACK seen first: the receiver is the client, and the client's
	 * stream starts exactly at the ACKed ISN. */
	ck_assert_int_eq(s2c(ft, 1, 5000, 777, TCP_FL_SYN | TCP_FL_ACK, NULL, 0, 0, &e), 0);
	ck_assert_uint_eq(e->caddr, CLI);
	ck_assert_uint_eq(e->cport, 1);
	ck_assert(!e->midstream);
	ck_assert(e->dir[FLOW_C2S].started && !e->dir[FLOW_C2S].midstream);
	ck_assert_uint_eq(e->dir[FLOW_C2S].isn, 776);
	c2s(ft, 1, 777, 5001, TCP_FL_ACK, b, 10, 0, NULL);
	ck_assert_uint_eq(e->dir[FLOW_C2S].next_off, 10);

	/* Mid-stream, no server port known: the lower port is the server. */
	ck_assert_int_eq(s2c(ft, 40002, 1, 1, TCP_FL_ACK, b, 10, 0, &e), 0);
	ck_assert_uint_eq(e->sport, SPRT);
	ck_assert(e->midstream && e->dir[FLOW_S2C].midstream);
	ck_assert(!e->dir[FLOW_C2S].started);
	ck_assert_int_eq(c2s(ft, 40003, 1, 1, TCP_FL_ACK, b, 10, 0, &e), 0);
	ck_assert_uint_eq(e->sport, SPRT);
	ck_assert_uint_eq(flow_table_stats(ft)->midstream, 2);

	/* A server port decides even against the port order. */
	flow_table_set_server_port(ft, 50000, true);
	struct flow_segment g = seg(CLI, 50000, SRV, 60000, 1, 1, TCP_FL_ACK, b, 1);

	ck_assert_int_eq(flow_table_input(ft, &g, 0, &e, NULL), 0);
	ck_assert_uint_eq(e->sport, 50000);
	ck_assert_uint_eq(e->saddr, CLI);

	/* RST of no connection: not tracked. */
	ck_assert_int_eq(c2s(ft, 9, 1, 1, TCP_FL_RST, NULL, 0, 0, &e), -ENOENT);
	ck_assert_ptr_null(e);
	ck_assert_uint_eq(flow_table_stats(ft)->untracked, 1);
	flow_table_destroy(ft);

	/* Sender-is-client rule and mid-stream pickup off. */
	struct flow_table_config cfg;
	uint16_t ports[] = {8080};

	flow_table_config_default(&cfg);
	cfg.midstream_rule = FLOW_MID_SENDER_IS_CLIENT;
	cfg.server_ports = ports;
	cfg.n_server_ports = 1;
	cfg.max_conns = 4;
	ck_assert_int_eq(flow_table_create(&ft, &cfg, NULL), 0);
	ck_assert_int_eq(s2c(ft, 4, 1, 1, TCP_FL_ACK, b, 1, 0, &e), 0);
	ck_assert_uint_eq(e->caddr, SRV);
	g = seg(SRV, 1000, CLI, 8080, 1, 1, TCP_FL_ACK, b, 1);
	ck_assert_int_eq(flow_table_input(ft, &g, 0, &e, NULL), 0);
	ck_assert_uint_eq(e->caddr, SRV);
	ck_assert_uint_eq(e->sport, 8080);
	g = seg(CLI, 8080, SRV, 1001, 1, 1, TCP_FL_ACK, b, 1);
	ck_assert_int_eq(flow_table_input(ft, &g, 0, &e, NULL), 0);
	ck_assert_uint_eq(e->caddr, SRV);
	flow_table_destroy(ft);
	cfg.pickup_midstream = false;
	cfg.server_ports = NULL;
	ck_assert_int_eq(flow_table_create(&ft, &cfg, NULL), 0);
	ck_assert_int_eq(s2c(ft, 4, 1, 1, TCP_FL_ACK, b, 1, 0, &e), -ENOENT);
	ck_assert_int_eq(c2s(ft, 4, 1, 0, TCP_FL_SYN, NULL, 0, 0, &e), 0);
	ck_assert_uint_eq(flow_table_count(ft), 1);
	flow_table_destroy(ft);
}
END_TEST

START_TEST(close_linger_reuse)
{
	struct events ev;
	struct flow_table *ft = make_table(&ev, 16);
	struct flow_entry *e = handshake(ft, CPRT, 0), *x;
	uint8_t b[100] = {0};

	c2s(ft, CPRT, CISN + 1, SISN + 1, TCP_FL_ACK | TCP_FL_FIN, b, 100, 10, NULL);
	ck_assert(!e->closed);
	s2c(ft, CPRT, SISN + 1, CISN + 102, TCP_FL_ACK | TCP_FL_FIN, NULL, 0, 20, NULL);
	ck_assert(e->closed);
	ck_assert_uint_eq(e->closed_at, 20);
	ck_assert_uint_eq(flow_table_lingering(ft), 1);
	ck_assert_uint_eq(e->dir[FLOW_C2S].ack_off, 101); /* data + FIN */
	/* A late retransmission finds the lingering entry. */
	ck_assert_int_eq(c2s(ft, CPRT, CISN + 1, SISN + 2, TCP_FL_ACK, b, 100, 50, &x), 0);
	ck_assert_ptr_eq(x, e);
	ck_assert_uint_eq(ev.created, 1);
	ck_assert_uint_eq(flow_table_expire(ft, 149), 0);
	ck_assert_uint_eq(flow_table_expire(ft, 150), 1);
	ck_assert_uint_eq(ev.closed[FLOW_CLOSE_FINISHED], 1);
	ck_assert_uint_eq(ev.last_fins[FLOW_C2S], 1);
	ck_assert_uint_eq(ev.last_fins[FLOW_S2C], 1);
	ck_assert_uint_eq(flow_table_count(ft), 0);
	ck_assert_uint_eq(flow_table_stats(ft)->finished, 1);

	/* RST closes; a SYN with a new ISN on the lingering entry is a new
	 * connection, the same SYN again is a retransmission. */
	e = handshake(ft, CPRT, 200);
	s2c(ft, CPRT, SISN + 1, CISN + 1, TCP_FL_RST | TCP_FL_ACK, NULL, 0, 210, NULL);
	ck_assert(e->closed);
	ck_assert_int_eq(c2s(ft, CPRT, CISN, 0, TCP_FL_SYN, NULL, 0, 220, &x), 0);
	ck_assert_ptr_eq(x, e);
	ck_assert_int_eq(c2s(ft, CPRT, CISN + 99999, 0, TCP_FL_SYN, NULL, 0, 230, &x), 0);
	ck_assert_ptr_ne(x, NULL);
	ck_assert(!x->closed);
	ck_assert_uint_eq(x->dir[FLOW_C2S].isn, CISN + 99999);
	ck_assert_uint_eq(ev.closed[FLOW_CLOSE_REUSED], 1);
	ck_assert_uint_eq(flow_table_stats(ft)->reused, 1);
	ck_assert_uint_eq(flow_table_count(ft), 1);
	/* On a live entry a SYN with another ISN is only counted. */
	ck_assert_int_eq(c2s(ft, CPRT, 5, 0, TCP_FL_SYN, NULL, 0, 240, &e), 0);
	ck_assert_ptr_eq(e, x);
	ck_assert_uint_eq(flow_table_reasm(ft)->stats.syn_mismatch, 1);
	ck_assert_uint_eq(flow_table_count(ft), 1);
	flow_table_remove(ft, x);
	ck_assert_uint_eq(ev.closed[FLOW_CLOSE_REMOVED], 1);
	ck_assert_uint_eq(flow_table_count(ft), 0);
	flow_table_destroy(ft);
	ck_assert(!ev.order_error);
}
END_TEST

START_TEST(idle_expiry_and_holes)
{
	struct events ev;
	struct flow_table *ft = make_table(&ev, 16);
	struct flow_entry *a = handshake(ft, 1, 0);
	uint8_t b[100] = {0};

	handshake(ft, 2, 500);
	/* A hole in a's response: data at 100..200 buffered. */
	s2c(ft, 1, SISN + 1 + 100, CISN + 1, TCP_FL_ACK, b, 100, 600, NULL);
	ck_assert(tcp_stream_waiting(&a->dir[FLOW_S2C]));
	ck_assert_uint_eq(flow_table_expire(ft, 649), 0);
	ck_assert_uint_eq(((struct conn *)a->user)->gaps[FLOW_S2C], 0);
	flow_table_expire(ft, 650);
	ck_assert_uint_eq(((struct conn *)a->user)->gaps[FLOW_S2C], 1);
	ck_assert_uint_eq(((struct conn *)a->user)->bytes[FLOW_S2C], 100);
	ck_assert_uint_eq(flow_table_stats(ft)->holes_timed, 1);
	ck_assert(!tcp_stream_waiting(&a->dir[FLOW_S2C]));
	/* Idle: a was last seen at 600, the other at 500. */
	ck_assert_uint_eq(flow_table_expire(ft, 1499), 0);
	ck_assert_uint_eq(flow_table_expire(ft, 1500), 1);
	ck_assert_ptr_null(flow_table_lookup(ft, CLI, 2, SRV, SPRT, NULL));
	ck_assert_ptr_eq(flow_table_lookup(ft, CLI, 1, SRV, SPRT, NULL), a);
	/* A hole still open at expiry is flushed before `closed`. */
	c2s(ft, 1, CISN + 1 + 50, SISN + 1, TCP_FL_ACK, b, 10, 1590, NULL);
	ck_assert_uint_eq(flow_table_expire(ft, 1600), 0);
	ck_assert_uint_eq(flow_table_expire(ft, 2600), 1);
	ck_assert_uint_eq(ev.closed[FLOW_CLOSE_IDLE], 2);
	ck_assert_uint_eq(ev.last_gaps[FLOW_C2S], 1);
	ck_assert_uint_eq(ev.last_bytes[FLOW_C2S], 10);
	ck_assert_uint_eq(flow_table_stats(ft)->expired, 2);
	ck_assert_uint_eq(flow_table_reasm(ft)->used_bytes, 0);
	ck_assert_uint_eq(flow_table_count(ft), 0);
	flow_table_destroy(ft);
	ck_assert(!ev.order_error);
}
END_TEST

START_TEST(eviction)
{
	struct events ev;
	struct flow_table *ft = make_table(&ev, 4);
	struct flow_entry *e;

	for (uint16_t p = 1; p <= 4; p++)
		handshake(ft, p, p);
	/* Touch port 1: port 2 becomes the oldest idle. */
	c2s(ft, 1, CISN + 1, SISN + 1, TCP_FL_ACK, NULL, 0, 10, NULL);
	handshake(ft, 5, 11);
	ck_assert_uint_eq(flow_table_count(ft), 4);
	ck_assert_ptr_null(flow_table_lookup(ft, CLI, 2, SRV, SPRT, NULL));
	ck_assert_ptr_nonnull(flow_table_lookup(ft, CLI, 1, SRV, SPRT, NULL));
	ck_assert_uint_eq(ev.closed[FLOW_CLOSE_EVICTED], 1);
	ck_assert_uint_eq(flow_table_stats(ft)->evicted, 1);
	ck_assert_uint_eq(flow_table_stats(ft)->table_full, 1);
	/* A lingering entry goes first, even if more recent. */
	c2s(ft, 4, CISN + 1, SISN + 1, TCP_FL_RST, NULL, 0, 12, NULL);
	handshake(ft, 6, 13);
	ck_assert_ptr_null(flow_table_lookup(ft, CLI, 4, SRV, SPRT, NULL));
	ck_assert_ptr_nonnull(flow_table_lookup(ft, CLI, 3, SRV, SPRT, NULL));
	ck_assert_uint_eq(ev.closed[FLOW_CLOSE_EVICTED], 2);
	flow_table_destroy(ft);

	/* Eviction off: refused. */
	struct flow_table_config cfg;

	flow_table_config_default(&cfg);
	cfg.max_conns = 2;
	cfg.evict_when_full = false;
	ck_assert_int_eq(flow_table_create(&ft, &cfg, NULL), 0);
	ck_assert_int_eq(c2s(ft, 1, 1, 0, TCP_FL_SYN, NULL, 0, 0, &e), 0);
	ck_assert_int_eq(c2s(ft, 2, 1, 0, TCP_FL_SYN, NULL, 0, 0, &e), 0);
	ck_assert_int_eq(c2s(ft, 3, 1, 0, TCP_FL_SYN, NULL, 0, 0, &e), -ENOSPC);
	ck_assert_ptr_null(e);
	ck_assert_uint_eq(flow_table_stats(ft)->table_full, 1);
	ck_assert_uint_eq(flow_table_stats(ft)->refused, 1);
	flow_table_destroy(ft);

	/* Refused by the callback; bad configurations. */
	ft = make_table(&ev, 2);
	ev.refuse = true;
	ck_assert_int_eq(c2s(ft, 1, 1, 0, TCP_FL_SYN, NULL, 0, 0, &e), -ECANCELED);
	ck_assert_uint_eq(flow_table_count(ft), 0);
	flow_table_destroy(ft);
	cfg.max_conns = 0;
	ck_assert_int_eq(flow_table_create(&ft, &cfg, NULL), -EINVAL);
	cfg.max_conns = FLOW_MAX_CONNS_LIMIT + 1;
	ck_assert_int_eq(flow_table_create(&ft, &cfg, NULL), -EINVAL);
}
END_TEST

static int count_entries(void *ctx, struct flow_entry *e)
{
	(void)e;
	(*(unsigned *)ctx)++;
	return 0;
}

START_TEST(many_connections)
{
	enum { N = 20000 };
	struct events ev;
	struct flow_table *ft = make_table(&ev, N);
	struct pktgen_rng r;
	uint32_t *addr = malloc(N * sizeof(*addr));
	uint16_t *port = malloc(N * sizeof(*port));
	uint8_t b[8] = "abcdefg";

	pktgen_rng_seed(&r, pktgen_test_seed("flow_table/many_connections"));
	for (unsigned i = 0; i < N; i++) {
		addr[i] = 0xc6120000u | (i >> 8);
		port[i] = (uint16_t)(1024 + (i & 0xff) * 7 + pktgen_below(&r, 7));
		struct flow_segment g = seg(addr[i], port[i], SRV, 443, i, 0, TCP_FL_SYN, NULL, 0);

		if (flow_table_input(ft, &g, i, NULL, NULL) != 0)
			ck_abort_msg("connection %u not created", i);
	}
	ck_assert_uint_eq(flow_table_count(ft), N);
	for (unsigned i = 0; i < N; i++) {
		struct flow_segment g =
		    seg(SRV, 443, addr[i], port[i], 7, i + 1, TCP_FL_SYN | TCP_FL_ACK, b, 0);
		struct flow_entry *e;
		enum flow_dir d;

		/* Plain checks in the loop: every ck_assert writes to Check's
		 * pipe. */
		if (flow_table_input(ft, &g, N + i, &e, &d) != 0 || d != FLOW_S2C ||
		    e->caddr != addr[i] || e->cport != port[i] || e->dir[FLOW_C2S].ack_off != 0 ||
		    flow_table_lookup(ft, addr[i], port[i], SRV, 443, NULL) != e)
			ck_abort_msg("connection %u: wrong entry", i);
	}
	ck_assert_uint_eq(ev.created, N);
	unsigned n = 0;

	ck_assert_int_eq(flow_table_foreach(ft, count_entries, &n), 0);
	ck_assert_uint_eq(n, N);

	struct stats_report rep;

	stats_reset(&rep);
	flow_table_stats_report(ft, &rep, "logger");
	ck_assert_uint_eq(stats_get(&rep, "logger_conns"), N);
	ck_assert_uint_eq(stats_get(&rep, "logger_conns_created"), N);
	ck_assert_uint_eq(stats_get(&rep, "logger_segments"), 2 * N);
	ck_assert_uint_eq(rep.overflow, 0);
	flow_table_destroy(ft);
	ck_assert_uint_eq(ev.closed[FLOW_CLOSE_DESTROYED], N);
	free(addr);
	free(port);
}
END_TEST

START_TEST(from_view)
{
	struct pktgen_spec s;
	uint8_t pkt[200], payload[50];
	struct tcp4_view v;
	struct flow_segment g;

	memset(payload, 'x', sizeof(payload));
	pktgen_spec_init(&s);
	s.seq = 123;
	s.ack = 456;
	s.flags = TCP_FL_ACK | TCP_FL_PSH;
	s.payload = payload;
	s.payload_len = sizeof(payload);
	int len = pktgen_build(&s, pkt, sizeof(pkt));

	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(tcp4_view_parse(pkt, (size_t)len, PKT_PARSE_STRICT, &v), 0);
	flow_segment_from_view(&v, &g);
	ck_assert_uint_eq(g.saddr, s.saddr);
	ck_assert_uint_eq(g.dport, s.dport);
	ck_assert_uint_eq(g.seq, 123);
	ck_assert_uint_eq(g.ack, 456);
	ck_assert_uint_eq(g.flags, TCP_FL_ACK | TCP_FL_PSH);
	ck_assert_uint_eq(g.len, 50);
	ck_assert_uint_eq(g.wire_len, 50);
	/* A copy cut short keeps its wire length. */
	ck_assert_int_eq(tcp4_view_parse(pkt, (size_t)len - 20, PKT_PARSE_ALLOW_TRUNCATED, &v), 0);
	flow_segment_from_view(&v, &g);
	ck_assert_uint_eq(g.len, 30);
	ck_assert_uint_eq(g.wire_len, 50);
}
END_TEST

Suite *flow_table_suite(void);

Suite *flow_table_suite(void)
{
	Suite *s = suite_create("flow_table");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, both_directions);
	tcase_add_test(tc, client_side_rules);
	tcase_add_test(tc, close_linger_reuse);
	tcase_add_test(tc, idle_expiry_and_holes);
	tcase_add_test(tc, eviction);
	tcase_add_test(tc, many_connections);
	tcase_add_test(tc, from_view);
	suite_add_tcase(s, tc);
	return s;
}
