/* Unit tests of replication: two (or three) contexts in one process, each
 * with its own splice table, talking over real UDP sockets on 127.0.0.1
 * through one event loop. ADD / DEL / TOUCH applied on the other side, the
 * second copy counted as a duplicate; forged, replayed, truncated, stale,
 * oversize and garbage datagrams refused and counted by reason; a sync
 * dump of 5000 splices arriving whole; a sync nobody answers failing in
 * bounded time; the peer filter; the configuration keys. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "event_loop.h"
#include "helper_splice_record.h"
#include "replication.h"
#include "stats.h"

#define KEY  "5a5a5a5a0123456789abcdef0123456789abcdef0123456789abcdef01234567"
#define KEY2 "a5a5a5a50123456789abcdef0123456789abcdef0123456789abcdef01234567"

struct node {
	uint32_t id;
	struct splice_table *table;
	struct replication *repl;
	struct sockaddr_in addr;
	int sync_calls;
	bool sync_ok;
	const struct replication_peer *sync_from;
};

/* An assertion for hot loops: Check's ck_assert_* record every passing
 * check with a syscall, which makes tight loops slow. */
#define REQUIRE(c)                                                                                 \
	do {                                                                                       \
		if (!(c))                                                                          \
			ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #c);                         \
	} while (0)

static struct event_loop loop;
static struct pktgen_rng rng;
static struct node na, nb;

static void on_sync_done(void *ctx, const struct replication_peer *from, bool ok)
{
	struct node *n = ctx;
	n->sync_calls++;
	n->sync_ok = ok;
	n->sync_from = from;
}

static bool only_backend_3(void *ctx, const struct replication_peer *to,
			   const struct splice_record *rec)
{
	(void)ctx;
	return to->cfg.kind != REPLICATION_PEER_BACKEND || rec->backend == 3;
}

static void node_init(struct node *n, uint32_t id, struct replication_config *c,
		      bool (*wants)(void *, const struct replication_peer *,
				    const struct splice_record *))
{
	char err[256] = "";
	struct splice_table_config tc;

	memset(n, 0, sizeof(*n));
	n->id = id;
	splice_table_config_default(&tc);
	tc.max_entries = 8192;
	tc.creator = id;
	ck_assert_int_eq(splice_table_create(&n->table, &tc, NULL), 0);
	c->node_id = id;
	c->listen.sin_family = AF_INET;
	c->listen.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->listen.sin_port = 0;
	snprintf(c->key, sizeof(c->key), "%s", KEY);
	const struct replication_callbacks cb = {
	    .sync_done = on_sync_done, .wants = wants, .ctx = n};
	int rc = replication_create(&n->repl, c, &loop, n->table, &cb, NULL, err, sizeof(err));
	ck_assert_msg(rc == 0, "create: %s", err);
	ck_assert_int_eq(replication_local_addr(n->repl, &n->addr), 0);
}

static void node_default(struct node *n, uint32_t id)
{
	struct replication_config c;
	replication_config_default(&c);
	c.tick_ms = 1;
	c.resend_delay_ms = 20;
	c.sync_timeout_ms = 1000;
	node_init(n, id, &c, NULL);
}

static void add_peer(struct node *n, const char *name, const struct sockaddr_in *addr, uint32_t id,
		     enum replication_peer_kind kind)
{
	struct replication_peer_config pc = {.addr = *addr, .kind = kind, .id = id};
	char err[256] = "";
	snprintf(pc.name, sizeof(pc.name), "%s", name);
	ck_assert_msg(replication_add_peer(n->repl, &pc, err, sizeof(err)) == 0, "%s", err);
}

static void link_nodes(struct node *a, struct node *b)
{
	add_peer(a, "b", &b->addr, b->id, REPLICATION_PEER_PROXY);
	add_peer(b, "a", &a->addr, a->id, REPLICATION_PEER_PROXY);
}

static void node_free(struct node *n)
{
	replication_destroy(n->repl);
	splice_table_destroy(n->table);
	memset(n, 0, sizeof(*n));
}

static void setup(void)
{
	pktgen_rng_seed(&rng, 99);
	ck_assert_int_eq(event_loop_init(&loop), 0);
}

static void teardown(void)
{
	if (na.repl)
		node_free(&na);
	if (nb.repl)
		node_free(&nb);
	event_loop_free(&loop);
}

/* Runs the loop until *counter reaches want or timeout_ms passes. */
static bool run_until(const uint64_t *counter, uint64_t want, int timeout_ms)
{
	uint64_t end = monotonic_ms() + (uint64_t)timeout_ms;
	while (*counter < want && monotonic_ms() < end)
		event_loop_run_once(&loop, 5);
	return *counter >= want;
}

static void run_for(int ms)
{
	uint64_t end = monotonic_ms() + (uint64_t)ms;
	while (monotonic_ms() < end)
		event_loop_run_once(&loop, 2);
}

static const struct replication_peer_stats *peer_st(struct node *n, const char *name)
{
	const struct replication_peer *p = replication_peer_by_name(n->repl, name);
	ck_assert_ptr_nonnull(p);
	return &p->st;
}

static bool same_record(const struct splice_record *a, const struct splice_record *b)
{
	if (a->id != b->id || a->gen != b->gen || a->backend != b->backend ||
	    a->state != b->state || memcmp(&a->client_key, &b->client_key, sizeof(a->client_key)) ||
	    memcmp(&a->backend_key, &b->backend_key, sizeof(a->backend_key)))
		return false;
	for (int w = 0; w < 2; w++) {
		const struct splice_dir *x = &a->dir[w], *y = &b->dir[w];
		if (x->saddr != y->saddr || x->daddr != y->daddr || x->sport != y->sport ||
		    x->dport != y->dport || x->seq_delta != y->seq_delta ||
		    x->ack_delta != y->ack_delta || x->tsval_delta != y->tsval_delta ||
		    x->tsecr_delta != y->tsecr_delta || x->wscale_from != y->wscale_from ||
		    x->wscale_to != y->wscale_to || x->translate_ts != y->translate_ts)
			return false;
	}
	return true;
}

START_TEST(add_del_touch)
{
	struct splice_record rec;
	struct splice_entry *e;

	node_default(&na, 1);
	node_default(&nb, 2);
	link_nodes(&na, &nb);
	trec_make(&rng, &rec, 1, 0);
	ck_assert_int_eq(splice_table_apply(na.table, &rec, monotonic_ms(), &e), SPLICE_APPLY_NEW);
	ck_assert_int_eq(replication_send_add(na.repl, &rec), 0);
	const struct replication_peer_stats *from_a = peer_st(&nb, "a");
	ck_assert(run_until(&from_a->applied, 1, 1000));
	struct splice_entry *copy = splice_table_find(nb.table, rec.id);
	ck_assert_ptr_nonnull(copy);
	ck_assert(same_record(&copy->rec, &rec));
	/* The second copy, 20 ms later, is a harmless duplicate. */
	ck_assert(run_until(&from_a->duplicates, 1, 1000));
	ck_assert_uint_eq(replication_stats(na.repl)->resends, 1);

	uint64_t ids[2] = {rec.id, 0x777};
	ck_assert_int_eq(replication_send_touch(na.repl, ids, 2), 0);
	ck_assert(run_until(&from_a->touch_missing, 1, 1000));
	ck_assert_uint_eq(from_a->touched, 1);

	/* Close on A, tell B: B lingers with the reason; the copy changes nothing. */
	ck_assert(splice_table_close(na.table, e, SPLICE_CLOSE_FIN, monotonic_ms()));
	struct splice_del d;
	replication_del_from_entry(&d, e);
	ck_assert_int_eq(d.reason, SPLICE_CLOSE_FIN);
	ck_assert_int_eq(replication_send_del(na.repl, &d), 0);
	ck_assert(run_until(&from_a->deleted, 2, 1000));
	ck_assert(copy->rec.state & SPLICE_ST_CLOSED);
	ck_assert_int_eq(copy->rec.close_reason, SPLICE_CLOSE_FIN);
	ck_assert_uint_eq(splice_table_lingering(nb.table), 1);
	/* A DEL for a reused tuple takes B's lingering copy away at once. */
	struct splice_record other;
	struct splice_entry *oe;
	trec_make(&rng, &other, 1, 1);
	ck_assert_int_eq(splice_table_apply(na.table, &other, monotonic_ms(), &oe),
			 SPLICE_APPLY_NEW);
	ck_assert_int_eq(replication_send_add(na.repl, &other), 0);
	ck_assert(run_until(&from_a->applied, 2, 1000));
	ck_assert(run_until(&from_a->duplicates, 2, 1000));
	struct splice_del rd;
	replication_del_from_entry(&rd, oe);
	rd.reason = SPLICE_CLOSE_REUSED;
	ck_assert_int_eq(replication_send_del(na.repl, &rd), 0);
	ck_assert(run_until(&from_a->deleted, 3, 1000));
	ck_assert_ptr_null(splice_table_find(nb.table, other.id));
	ck_assert_uint_eq(splice_table_stats(nb.table)->closed[SPLICE_CLOSE_REUSED], 1);
	ck_assert(run_until(&from_a->del_missing, 1, 1000));
	/* A late ADD does not reopen it; a DEL for an unknown id is counted. */
	ck_assert_int_eq(replication_send_add(na.repl, &rec), 0);
	d.id = 0x12345;
	ck_assert_int_eq(replication_send_del(na.repl, &d), 0);
	ck_assert(run_until(&from_a->del_missing, 3, 1000));
	ck_assert(run_until(&from_a->duplicates, 4, 1000));
	ck_assert(copy->rec.state & SPLICE_ST_CLOSED);
	ck_assert_uint_eq(from_a->refused, 0);
	/* ADD, copy, TOUCH, DEL, copy, other ADD, copy, reused DEL, copy,
	 * late ADD, copy, unknown DEL, copy. */
	ck_assert_uint_eq(peer_st(&na, "b")->sent, 13);
	ck_assert_uint_eq(from_a->received, 13);
	/* Invalid input to the senders. */
	d.reason = 0;
	ck_assert_int_eq(replication_send_del(na.repl, &d), -EINVAL);
	rec.dir[0].wscale_to = 15;
	ck_assert_int_eq(replication_send_add(na.repl, &rec), -EINVAL);

	struct stats_report r;
	stats_reset(&r);
	replication_collect_stats(nb.repl, &r, "repl");
	ck_assert_uint_eq(stats_get(&r, "repl_applied"), 2);
	ck_assert_uint_eq(stats_get(&r, "repl_a_received"), 13);
	ck_assert_uint_eq(stats_get(&r, "repl_rejected_bad_tag"), 0);
}
END_TEST

/* A raw socket plays a peer ("tester", id 99) and an outsider. */
START_TEST(hostile_datagrams)
{
	struct auth_key key, key2;
	struct auth_sender tester;
	uint8_t body[1400], msg[2000];
	struct splice_record rec;
	struct splice_msg_builder b;

	node_default(&nb, 2);
	int ts = socket(AF_INET, SOCK_DGRAM, 0), out = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in ta = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(bind(ts, (struct sockaddr *)&ta, sizeof(ta)), 0);
	socklen_t alen = sizeof(ta);
	ck_assert_int_eq(getsockname(ts, (struct sockaddr *)&ta, &alen), 0);
	add_peer(&nb, "tester", &ta, 99, REPLICATION_PEER_PROXY);
	ck_assert_int_eq(auth_key_from_hex(&key, KEY, NULL, 0), 0);
	ck_assert_int_eq(auth_key_from_hex(&key2, KEY2, NULL, 0), 0);
	auth_sender_init(&tester, 99, 0);

	splice_msg_begin(&b, body, sizeof(body), SPLICE_MSG_ADD, 0, 0);
	trec_make(&rng, &rec, 99, 0);
	splice_msg_add_record(&b, &rec);
	size_t blen = splice_msg_finish(&b);
	const struct sockaddr *to = (const struct sockaddr *)&nb.addr;
	const struct replication_peer_stats *st = peer_st(&nb, "tester");
	const struct replication_stats *g = replication_stats(nb.repl);

	/* Forged (another key). */
	ssize_t n = auth_msg_seal(&tester, &key2, SPLICE_MSG_ADD, body, blen, msg, sizeof(msg));
	sendto(ts, msg, (size_t)n, 0, to, sizeof(nb.addr));
	ck_assert(run_until(&st->auth_rejected[-AUTH_E_BAD_TAG], 1, 1000));
	/* Genuine, then replayed. */
	n = auth_msg_seal(&tester, &key, SPLICE_MSG_ADD, body, blen, msg, sizeof(msg));
	sendto(ts, msg, (size_t)n, 0, to, sizeof(nb.addr));
	ck_assert(run_until(&st->applied, 1, 1000));
	sendto(ts, msg, (size_t)n, 0, to, sizeof(nb.addr));
	ck_assert(run_until(&st->auth_rejected[-AUTH_E_REPLAY], 1, 1000));
	/* Truncated: below the header, and by one byte. */
	n = auth_msg_seal(&tester, &key, SPLICE_MSG_ADD, body, blen, msg, sizeof(msg));
	sendto(ts, msg, 30, 0, to, sizeof(nb.addr));
	sendto(ts, msg, (size_t)n - 1, 0, to, sizeof(nb.addr));
	ck_assert(run_until(&st->auth_rejected[-AUTH_E_BAD_LENGTH], 1, 1000));
	ck_assert_uint_eq(st->auth_rejected[-AUTH_E_TOO_SHORT], 1);
	/* Garbage. */
	pktgen_fill(&rng, msg, 500);
	sendto(ts, msg, 500, 0, to, sizeof(nb.addr));
	ck_assert(run_until(&st->auth_rejected[-AUTH_E_BAD_MAGIC], 1, 1000));
	/* Stale: sealed 20 s ago. */
	n = auth_msg_seal_at(&tester, &key, SPLICE_MSG_ADD, body, blen, msg, sizeof(msg),
			     realtime_us() / 1000 - 20000);
	sendto(ts, msg, (size_t)n, 0, to, sizeof(nb.addr));
	ck_assert(run_until(&st->auth_rejected[-AUTH_E_TOO_OLD], 1, 1000));
	/* Authentic but a garbage body; a foreign message type. */
	pktgen_fill(&rng, body, 200);
	n = auth_msg_seal(&tester, &key, SPLICE_MSG_ADD, body, 200, msg, sizeof(msg));
	sendto(ts, msg, (size_t)n, 0, to, sizeof(nb.addr));
	n = auth_msg_seal(&tester, &key, 0x0201, body, 20, msg, sizeof(msg));
	sendto(ts, msg, (size_t)n, 0, to, sizeof(nb.addr));
	ck_assert(run_until(&st->decode_rejected[-SPLICE_MSG_E_TYPE], 1, 1000));
	uint64_t decode_total = 0;
	for (int i = 1; i < SPLICE_MSG_NERRORS; i++)
		decode_total += st->decode_rejected[i];
	ck_assert_uint_eq(decode_total, 2);
	/* From an address that is no peer: garbage, an unknown sender id, too big. */
	pktgen_fill(&rng, msg, 100);
	sendto(out, msg, 100, 0, to, sizeof(nb.addr));
	ck_assert(run_until(&g->unknown_source[-AUTH_E_BAD_MAGIC], 1, 1000));
	struct auth_sender stranger;
	auth_sender_init(&stranger, 12345, 0);
	n = auth_msg_seal(&stranger, &key, SPLICE_MSG_SYNC_REQUEST, "\1\0\0\0\0\0\0\1", 8, msg,
			  sizeof(msg));
	sendto(out, msg, (size_t)n, 0, to, sizeof(nb.addr));
	ck_assert(run_until(&g->unknown_source[-AUTH_E_UNKNOWN_SENDER], 1, 1000));
	sendto(out, msg, 1500, 0, to, sizeof(nb.addr));
	ck_assert(run_until(&g->oversize, 1, 1000));
	/* The tester's id from another address is still the tester (counted). */
	splice_msg_begin(&b, body, sizeof(body), SPLICE_MSG_TOUCH, 0, 0);
	splice_msg_add_touch(&b, rec.id);
	blen = splice_msg_finish(&b);
	n = auth_msg_seal(&tester, &key, SPLICE_MSG_TOUCH, body, blen, msg, sizeof(msg));
	sendto(out, msg, (size_t)n, 0, to, sizeof(nb.addr));
	ck_assert(run_until(&st->touched, 1, 1000));
	ck_assert_uint_eq(st->wrong_source, 1);

	/* Through all of it the table holds exactly the one genuine splice. */
	ck_assert_uint_eq(splice_table_count(nb.table), 1);
	ck_assert_ptr_nonnull(splice_table_find(nb.table, rec.id));
	/* Authentic: the genuine ADD, the garbage body, the foreign type, the TOUCH. */
	ck_assert_uint_eq(st->received, 4);
	const struct auth_receiver *ar = replication_auth(nb.repl);
	ck_assert_uint_eq(ar->counts[0], 4);
	close(ts);
	close(out);
}
END_TEST

START_TEST(sync_5000)
{
	enum { N = 5000 };
	struct splice_record rec;

	node_default(&na, 1);
	node_default(&nb, 2);
	link_nodes(&na, &nb);
	uint64_t now = monotonic_ms();
	for (uint32_t i = 0; i < N; i++) {
		trec_make(&rng, &rec, 1, i);
		if (i % 10 == 0) { /* some lingering ones travel too */
			rec.state = SPLICE_ST_CLOSED | SPLICE_ST_RST;
			rec.close_reason = SPLICE_CLOSE_RST;
		}
		REQUIRE(splice_table_apply(na.table, &rec, now, NULL) == SPLICE_APPLY_NEW);
	}
	uint64_t t0 = monotonic_ms();
	ck_assert_int_eq(replication_request_sync(nb.repl), 0);
	ck_assert_int_eq(replication_sync_state(nb.repl), REPLICATION_SYNC_PENDING);
	uint64_t calls = 0;
	uint64_t end = monotonic_ms() + 3000;
	while (nb.sync_calls == 0 && monotonic_ms() < end)
		event_loop_run_once(&loop, 5);
	calls = (uint64_t)nb.sync_calls;
	ck_assert_uint_eq(calls, 1);
	ck_assert(nb.sync_ok);
	ck_assert_ptr_eq(nb.sync_from, replication_peer_by_name(nb.repl, "a"));
	ck_assert_int_eq(replication_sync_state(nb.repl), REPLICATION_SYNC_DONE);
	ck_assert_uint_eq(splice_table_count(nb.table), N);
	ck_assert_uint_eq(splice_table_lingering(nb.table), N / 10);
	uint32_t cursor = 0;
	struct splice_entry *e;
	while ((e = splice_table_next(na.table, &cursor)) != NULL) {
		struct splice_entry *c = splice_table_find(nb.table, e->rec.id);
		REQUIRE(c && same_record(&c->rec, &e->rec));
	}
	const struct replication_peer_stats *st = peer_st(&nb, "a");
	ck_assert_uint_eq(st->sync_records, N);
	ck_assert_uint_eq(st->applied, N);
	ck_assert_uint_eq(st->syncs_complete, 1);
	ck_assert_uint_eq(replication_stats(na.repl)->dumps_served, 1);
	ck_assert_uint_eq(replication_stats(na.repl)->dump_records, N);
	ck_assert_uint_lt(monotonic_ms() - t0, 2500);
}
END_TEST

START_TEST(sync_edge_cases)
{
	struct replication_config c;

	/* No proxy peer to ask: done at once. */
	replication_config_default(&c);
	node_init(&na, 1, &c, NULL);
	ck_assert_int_eq(replication_request_sync(na.repl), 0);
	ck_assert_int_eq(na.sync_calls, 1);
	ck_assert(na.sync_ok);
	ck_assert_ptr_null(na.sync_from);
	node_free(&na);

	/* A proxy peer that never answers: failed after the retries. */
	replication_config_default(&c);
	c.tick_ms = 1;
	c.sync_timeout_ms = 40;
	c.sync_retries = 1;
	node_init(&na, 1, &c, NULL);
	struct sockaddr_in dead = {
	    .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons(9)};
	add_peer(&na, "dead", &dead, 5, REPLICATION_PEER_PROXY);
	add_peer(&na, "be",
		 &(struct sockaddr_in){.sin_family = AF_INET,
				       .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				       .sin_port = htons(10)},
		 6, REPLICATION_PEER_BACKEND);
	uint64_t t0 = monotonic_ms();
	ck_assert_int_eq(replication_request_sync(na.repl), 0);
	uint64_t end = t0 + 2000;
	while (na.sync_calls == 0 && monotonic_ms() < end)
		event_loop_run_once(&loop, 5);
	ck_assert_int_eq(na.sync_calls, 1);
	ck_assert(!na.sync_ok);
	ck_assert_int_eq(replication_sync_state(na.repl), REPLICATION_SYNC_FAILED);
	ck_assert_uint_ge(monotonic_ms() - t0, 80);
	ck_assert_uint_eq(replication_stats(na.repl)->sync_attempts, 2);
	/* Only the proxy was asked. */
	ck_assert_uint_eq(peer_st(&na, "dead")->sent, 2);
	ck_assert_uint_eq(peer_st(&na, "be")->sent, 0);
}
END_TEST

START_TEST(backend_filter)
{
	struct replication_config c;
	struct splice_record recs[40];

	replication_config_default(&c);
	c.resend_delay_ms = 0;
	node_init(&na, 1, &c, only_backend_3);
	node_default(&nb, 2);
	add_peer(&na, "be", &nb.addr, 2, REPLICATION_PEER_BACKEND);
	add_peer(&nb, "a", &na.addr, 1, REPLICATION_PEER_PROXY);
	unsigned want = 0;
	for (uint32_t i = 0; i < 40; i++) {
		trec_make(&rng, &recs[i], 1, i);
		want += recs[i].backend == 3;
	}
	ck_assert_uint_gt(want, 0);
	ck_assert_int_eq(replication_send_adds(na.repl, recs, 40), 0);
	const struct replication_peer_stats *st = peer_st(&nb, "a");
	ck_assert(run_until(&st->applied, want, 1000));
	run_for(20);
	ck_assert_uint_eq(splice_table_count(nb.table), want);
	ck_assert_uint_eq(replication_stats(na.repl)->resend_queued, 0);
	/* Batched: every datagram carried up to 11 records. */
	ck_assert_uint_le(peer_st(&na, "be")->sent, (want + 10) / 11);
}
END_TEST

START_TEST(config_keys)
{
	struct replication_config c;
	struct replication_peer_config p;
	struct config_error e;
	char err[256];

	ck_assert_int_eq(replication_parse_peer("p2 198.18.1.12:7400", &p, err, sizeof(err)), 0);
	ck_assert_str_eq(p.name, "p2");
	ck_assert_int_eq(p.kind, REPLICATION_PEER_PROXY);
	ck_assert_uint_eq(p.id, 0);
	ck_assert_int_eq(
	    replication_parse_peer("b1 198.18.2.11:7400 backend id=7", &p, err, sizeof(err)), 0);
	ck_assert_int_eq(p.kind, REPLICATION_PEER_BACKEND);
	ck_assert_uint_eq(p.id, 7);
	ck_assert_int_eq(replication_parse_peer("b1", &p, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(replication_parse_peer("b/1 1.2.3.4:5", &p, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(replication_parse_peer("b1 1.2.3.4:0", &p, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(replication_parse_peer("b1 1.2.3.4:5 router", &p, err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(replication_parse_peer("b1 1.2.3.4:5 proxy proxy", &p, err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(replication_parse_peer("b1 1.2.3.4:5 id=0", &p, err, sizeof(err)),
			 -EINVAL);

	replication_config_default(&c);
	const char *text = "[replication]\n"
			   "listen = 198.18.1.11:7400\n"
			   "peer = p1 198.18.1.11:7400 proxy\n"
			   "peer = p2 198.18.1.12:7400\n"
			   "peer = b1 198.18.2.11:7400 backend id=9\n"
			   "key = " KEY "\n"
			   "resend_delay = 50ms\n"
			   "max_datagram = 1200\n";
	ck_assert_int_eq(config_load_string("t", text, replication_config_keys, &c, &e), 0);
	ck_assert_uint_eq(c.npeers, 3);
	ck_assert_uint_eq(c.peers[2].id, 9);
	ck_assert_uint_eq(c.resend_delay_ms, 50);
	ck_assert_uint_eq(c.max_datagram, 1200);
	char *dump = NULL;
	size_t dlen = 0;
	FILE *f = open_memstream(&dump, &dlen);
	config_dump(f, replication_config_keys, &c);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(dump, "peer = b1 198.18.2.11:7400 backend id=9"));
	ck_assert_ptr_null(strstr(dump, KEY));
	free(dump);
	ck_assert_int_ne(
	    config_load_string("t", "[replication]\nkey = 1234\n", replication_config_keys, &c, &e),
	    0);
	ck_assert_int_ne(config_load_string("t", "[replication]\npeer = p2 1.2.3.4:5\n",
					    replication_config_keys, &c, &e),
			 0); /* listed twice */

	/* The node id defaults to the listen address; our own entry is skipped. */
	c.listen.sin_port = 0;
	c.listen.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c.peers[0].addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct replication *r = NULL;
	ck_assert_int_eq(replication_create(&r, &c, &loop, NULL, NULL, NULL, err, sizeof(err)), 0);
	ck_assert_uint_eq(replication_node_id(r), INADDR_LOOPBACK);
	ck_assert_uint_eq(replication_peer_count(r), 2);
	replication_destroy(r);
	/* Both key sources, or none, are refused. */
	snprintf(c.key_file, sizeof(c.key_file), "/nonexistent");
	ck_assert_int_eq(replication_create(&r, &c, &loop, NULL, NULL, NULL, err, sizeof(err)),
			 -EINVAL);
	c.key[0] = '\0';
	ck_assert_int_eq(replication_create(&r, &c, &loop, NULL, NULL, NULL, err, sizeof(err)),
			 -ENOENT);
	c.key_file[0] = '\0';
	ck_assert_int_eq(replication_create(&r, &c, &loop, NULL, NULL, NULL, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "no key"));
}
END_TEST

Suite *replication_suite(void);
Suite *replication_suite(void)
{
	Suite *s = suite_create("replication");
	TCase *tc = tcase_create("udp");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, add_del_touch);
	tcase_add_test(tc, hostile_datagrams);
	tcase_add_test(tc, sync_5000);
	tcase_add_test(tc, sync_edge_cases);
	tcase_add_test(tc, backend_filter);
	tcase_add_test(tc, config_keys);
	suite_add_tcase(s, tc);
	return s;
}
