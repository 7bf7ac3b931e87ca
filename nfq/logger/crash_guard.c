/* crash_guard - see crash_guard.h. */
#include "crash_guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "detect.h"
#include "failure_detect_close.h"
#include "log.h"
#include "packet.h"
#include "stats.h"
#include "txn_log_close.h"

enum held_state {
	H_FREE = 0,
	H_QUEUED,   /* its copy waits in the backlog */
	H_RELEASED, /* accepted at shutdown before it was judged */
	H_WAITING,  /* judged: waits for its backend's probe */
};

#define K(type, key, field, ...)                                                                   \
	CONFIG_##type("crash", key, struct crash_guard_config, field, __VA_ARGS__)
const struct config_key crash_guard_config_keys[] = {
    CONFIG_BOOL("crash", "enabled", struct crash_guard_config, enabled),
    K(U32, "max_held", max_held, 1, 65536),
    K(U32, "max_conns", max_conns, 1, 1u << 20),
    K(DURATION_MS, "remember", remember_ms, 1, 86400000),
    {0},
};
#undef K

void crash_guard_config_defaults(struct crash_guard_config *cfg)
{
	*cfg = (struct crash_guard_config){
	    .enabled = true,
	    .max_held = 256,
	    .max_conns = 4096,
	    .remember_ms = 60000,
	};
}

int crash_guard_init(struct crash_guard *g, const struct crash_guard_config *cfg,
		     const struct txn_log_config *log, struct txn_log *tl)
{
	memset(g, 0, sizeof(*g));
	g->cfg = *cfg;
	g->tl = tl;
	if (!cfg->enabled)
		return 0;
	for (unsigned i = 0; i < log->n_services; i++)
		g->ports[log->services[i].port / 8] |= (uint8_t)(1u << (log->services[i].port % 8));
	g->held = calloc(cfg->max_held, sizeof(*g->held));
	g->fifo = calloc(cfg->max_held, sizeof(*g->fifo));
	g->conns = calloc(cfg->max_conns, sizeof(*g->conns));
	g->scratch = malloc(65536);
	if (!g->held || !g->fifo || !g->conns || !g->scratch) {
		crash_guard_free(g);
		return -ENOMEM;
	}
	return 0;
}

static void on_probe_done(void *arg, uint64_t cookie, const struct sockaddr_in *addr, int result,
			  uint64_t rtt_us);

int crash_guard_attach(struct crash_guard *g, struct event_loop *loop,
		       const struct lprobe_config *probe, struct logger_detect *det)
{
	if (!g->held)
		return 0;
	int rc = lprobe_pool_init(&g->probes, loop, probe, on_probe_done, g);
	if (rc < 0)
		return rc;
	g->probes_ready = true;
	g->det = det;
	g->on = true;
	return 0;
}

void crash_guard_detach(struct crash_guard *g)
{
	if (g->probes_ready)
		lprobe_pool_free(&g->probes);
	g->probes_ready = false;
	g->on = false;
	g->det = NULL;
	for (unsigned b = 0; b < g->nbe; b++)
		g->be[b].probing = false;
}

void crash_guard_free(struct crash_guard *g)
{
	crash_guard_detach(g);
	free(g->held);
	free(g->fifo);
	free(g->conns);
	free(g->scratch);
	g->held = NULL;
	g->fifo = NULL;
	g->conns = NULL;
	g->scratch = NULL;
}

/* ---- remembered connections ---------------------------------------------- */

static struct cg_conn *conn_find(struct crash_guard *g, uint32_t saddr, uint16_t sport,
				 uint32_t daddr, uint16_t dport, uint64_t now)
{
	for (uint32_t i = 0; i < g->conns_used; i++) {
		struct cg_conn *c = &g->conns[i];
		if (c->until_mono > now && c->saddr == saddr && c->sport == sport &&
		    c->daddr == daddr && c->dport == dport)
			return c;
	}
	return NULL;
}

static void remember(struct crash_guard *g, uint32_t saddr, uint16_t sport, uint32_t daddr,
		     uint16_t dport, uint64_t now)
{
	uint64_t until = now + g->cfg.remember_ms * 1000;
	struct cg_conn *c = conn_find(g, saddr, sport, daddr, dport, now);
	for (uint32_t i = 0; !c && i < g->conns_used; i++)
		if (g->conns[i].until_mono <= now)
			c = &g->conns[i];
	if (!c && g->conns_used < g->cfg.max_conns)
		c = &g->conns[g->conns_used++];
	if (!c) {
		g->c.conns_full++;
		return;
	}
	if (c->until_mono <= now)
		g->c.conns_remembered++;
	*c = (struct cg_conn){saddr, daddr, sport, dport, until};
}

struct remember_ctx {
	struct crash_guard *g;
	uint32_t addr;
	uint16_t port;
	uint64_t now;
};

static int remember_one(void *ctx, const struct txn_log_conn *c)
{
	struct remember_ctx *r = ctx;
	if (!c->closed && c->saddr == r->addr && c->sport == r->port)
		remember(r->g, c->saddr, c->sport, c->caddr, c->cport, r->now);
	return 0;
}

/* ---- packet path ----------------------------------------------------------- */

static bool is_service(const struct crash_guard *g, uint16_t port)
{
	return g->ports[port / 8] & (1u << (port % 8));
}

enum crash_guard_check crash_guard_check(struct crash_guard *g, const struct tcp4_view *v)
{
	if (!g->on || !v)
		return CG_NONE;
	uint8_t fl = tcp4v_flags(v);
	if ((fl & (TCP_FL_SYN | TCP_FL_ACK)) == TCP_FL_SYN && g->conns_used) {
		/* A new connection on a remembered 4-tuple: its refusal is not
		 * a crashed connection's close. */
		struct cg_conn *c = conn_find(g, tcp4v_daddr(v), tcp4v_dport(v), tcp4v_saddr(v),
					      tcp4v_sport(v), monotonic_us());
		if (c)
			c->until_mono = 0;
		return CG_NONE;
	}
	if (!(fl & (TCP_FL_FIN | TCP_FL_RST)) || (fl & TCP_FL_SYN) ||
	    !is_service(g, tcp4v_sport(v)))
		return CG_NONE;
	g->c.closes++;
	if (g->conns_used && conn_find(g, tcp4v_saddr(v), tcp4v_sport(v), tcp4v_daddr(v),
				       tcp4v_dport(v), monotonic_us())) {
		g->c.dropped_later++;
		return CG_DROP;
	}
	return CG_HOLD;
}

bool crash_guard_hold(struct crash_guard *g, struct nfq_engine *engine,
		      const struct nfq_packet *pkt, const struct tcp4_view *v, uint64_t seq,
		      uint64_t ts_us)
{
	if (g->nheld == g->cfg.max_held || v->ip_hlen + v->tcp_hlen > CRASH_GUARD_HDR_MAX) {
		g->c.held_full++;
		return false;
	}
	uint32_t slot = 0;
	while (g->held[slot].state != H_FREE)
		slot++; /* nheld < max_held: there is one */
	struct cg_held *h = &g->held[slot];
	*h = (struct cg_held){
	    .state = H_QUEUED,
	    .queue = pkt->queue,
	    .id = pkt->id,
	    .seq = seq,
	    .ts_us = ts_us,
	    .held_mono = monotonic_us(),
	    .saddr = tcp4v_saddr(v),
	    .daddr = tcp4v_daddr(v),
	    .sport = tcp4v_sport(v),
	    .dport = tcp4v_dport(v),
	    /* the wire length: a copy cut short still ends where the packet does */
	    .payload_len = (uint32_t)(v->tot_len - v->ip_hlen - v->tcp_hlen),
	    .hdr_len = (uint16_t)(v->ip_hlen + v->tcp_hlen),
	};
	memcpy(h->hdr, pkt->data, h->hdr_len);
	g->fifo[(g->fifo_head + g->fifo_n++) % g->cfg.max_held] = slot;
	g->nheld++;
	g->c.held++;
	g->engine = engine;
	return true;
}

void crash_guard_unlogged(struct crash_guard *g)
{
	g->c.unlogged++;
}

/* ---- verdicts -------------------------------------------------------------- */

static uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* The close alone (headers, no payload, FIN/RST kept) into the pipeline,
 * now that it is passed on. */
static void log_close(struct crash_guard *g, const struct cg_held *h)
{
	uint8_t pkt[CRASH_GUARD_HDR_MAX];
	memcpy(pkt, h->hdr, h->hdr_len);
	size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
	pkt_store_be16(pkt + 2, h->hdr_len);
	pkt_store_be32(pkt + ihl + 4, pkt_load_be32(pkt + ihl + 4) + h->payload_len);
	txn_log_packet(g->tl, pkt, h->hdr_len, h->hdr_len, max64(h->ts_us, txn_log_now_us(g->tl)));
}

static void release(struct crash_guard *g, struct cg_held *h, enum nfq_decision d)
{
	struct nfq_verdict v = {.decision = d};
	if (g->engine && nfq_engine_verdict(g->engine, h->queue, h->id, &v) == 0)
		g->verdicts_pending = true;
	uint64_t waited = monotonic_us() - h->held_mono;
	if (waited > g->c.hold_us_max)
		g->c.hold_us_max = waited;
	if (h->state == H_WAITING && g->be[h->backend].waiting)
		g->be[h->backend].waiting--;
	h->state = H_FREE;
	g->nheld--;
}

static void pass(struct crash_guard *g, struct cg_held *h)
{
	log_close(g, h);
	release(g, h, NFQ_DECIDE_ACCEPT);
}

void crash_guard_flush(struct crash_guard *g)
{
	if (g->verdicts_pending && g->engine)
		nfq_engine_flush(g->engine);
	g->verdicts_pending = false;
}

/* ---- probes ---------------------------------------------------------------- */

static int backend_slot(struct crash_guard *g, uint32_t addr, uint16_t port)
{
	for (unsigned i = 0; i < g->nbe; i++)
		if (g->be[i].addr == addr && g->be[i].port == port)
			return (int)i;
	for (unsigned i = 0; i < g->nbe; i++)
		if (!g->be[i].probing && !g->be[i].waiting) {
			g->be[i] = (struct cg_backend){.addr = addr, .port = port};
			return (int)i;
		}
	if (g->nbe == CRASH_GUARD_MAX_BACKENDS)
		return -1;
	g->be[g->nbe] = (struct cg_backend){.addr = addr, .port = port};
	return (int)g->nbe++;
}

static void pass_waiting(struct crash_guard *g, unsigned b, uint64_t upto_mono, uint64_t *counter)
{
	for (uint32_t i = 0; i < g->cfg.max_held; i++) {
		struct cg_held *h = &g->held[i];
		if (h->state == H_WAITING && h->backend == b && h->waiting_mono <= upto_mono) {
			(*counter)++;
			pass(g, h);
		}
	}
}

static void start_probe(struct crash_guard *g, unsigned b)
{
	struct cg_backend *be = &g->be[b];
	struct sockaddr_in a = {
	    .sin_family = AF_INET, .sin_addr.s_addr = htonl(be->addr), .sin_port = htons(be->port)};
	be->probing = true;
	be->probe_mono = monotonic_us();
	g->c.probes++;
	/* May report synchronously (on_probe_done runs inside). */
	if (lprobe_start(&g->probes, &a, b) < 0) {
		be->probing = false;
		pass_waiting(g, b, UINT64_MAX, &g->c.passed_unavailable);
	}
}

/* The backend's service is gone: drop what it closed, remember its
 * connections, declare it failed. */
static void crashed(struct crash_guard *g, unsigned b, uint64_t now)
{
	struct cg_backend *be = &g->be[b];
	uint64_t since = now;
	for (uint32_t i = 0; i < g->cfg.max_held; i++) {
		struct cg_held *h = &g->held[i];
		if (h->state != H_WAITING || h->backend != b)
			continue;
		if (h->held_mono < since)
			since = h->held_mono;
		remember(g, h->saddr, h->sport, h->daddr, h->dport, now);
		g->c.dropped++;
		release(g, h, NFQ_DECIDE_DROP);
	}
	struct remember_ctx rc = {g, be->addr, be->port, now};
	txn_log_foreach_conn(g->tl, remember_one, &rc);
	char a[INET_ADDRSTRLEN];
	struct in_addr ip = {.s_addr = htonl(be->addr)};
	inet_ntop(AF_INET, &ip, a, sizeof(a));
	int rc2 = g->det ? detect_backend_crashed(g->det, be->addr, be->port, since, now) : -ENODEV;
	if (rc2 == 0) {
		g->c.crashes++;
		log_warn(
		    "backend %s:%u crashed: it closed connections the protocol did not explain "
		    "and its port no longer answers (%llu us after the first close)",
		    a, be->port, (unsigned long long)(now - since));
	} else {
		g->c.declare_refused += rc2 != -EALREADY;
	}
}

static void on_probe_done(void *arg, uint64_t cookie, const struct sockaddr_in *addr, int result,
			  uint64_t rtt_us)
{
	struct crash_guard *g = arg;
	(void)addr, (void)rtt_us;
	unsigned b = (unsigned)cookie;
	if (b >= g->nbe || !g->be[b].probing)
		return;
	struct cg_backend *be = &g->be[b];
	be->probing = false;
	uint64_t now = monotonic_us();
	if (fdet_close_decide(FDET_CLOSE_UNEXPLAINED, fdet_close_probe_of(result)) ==
	    FDET_CLOSE_DROP) {
		g->c.probes_dead++;
		crashed(g, b, now);
	} else {
		g->c.probes_alive++;
		/* A close judged after this probe began may postdate what it saw. */
		pass_waiting(g, b, be->probe_mono, &g->c.passed_alive);
		if (be->waiting)
			start_probe(g, b);
	}
	crash_guard_flush(g);
}

/* ---- drain ----------------------------------------------------------------- */

bool crash_guard_owns(const struct crash_guard *g, uint64_t seq)
{
	return g->fifo_n && g->held[g->fifo[g->fifo_head]].seq == seq;
}

void crash_guard_feed(struct crash_guard *g, uint64_t seq, const struct pkt_backlog_pkt *p)
{
	(void)seq;
	uint32_t slot = g->fifo[g->fifo_head];
	g->fifo_head = (g->fifo_head + 1) % g->cfg.max_held;
	g->fifo_n--;
	struct cg_held *h = &g->held[slot];
	if (h->state == H_RELEASED) {
		txn_log_packet(g->tl, p->data, p->len, p->wire_len, p->ts_us);
		h->state = H_FREE;
		g->nheld--;
		return;
	}
	/* The segment's payload without its close: what the backend sent
	 * before it closed, whatever the verdict. A bare FIN/RST waits whole:
	 * its ACK alone would start the server's stream of a connection it
	 * only refused. */
	struct tcp4_view v;
	if (p->len <= 65536 &&
	    tcp4_view_parse(p->data, p->len, PKT_PARSE_ALLOW_TRUNCATED, &v) == 0 &&
	    v.payload_len > 0) {
		memcpy(g->scratch, p->data, p->len);
		g->scratch[v.ip_hlen + 13] &= (uint8_t) ~(TCP_FL_FIN | TCP_FL_RST);
		txn_log_packet(g->tl, g->scratch, p->len, p->wire_len, p->ts_us);
	}
	uint64_t now = monotonic_us();
	if (conn_find(g, h->saddr, h->sport, h->daddr, h->dport, now)) {
		g->c.dropped_later++; /* its backend was found crashed meanwhile */
		release(g, h, NFQ_DECIDE_DROP);
		return;
	}
	struct fdet_close_view view;
	txn_log_close_view(g->tl, h->saddr, h->sport, h->daddr, h->dport, &view);
	enum fdet_close_spec spec = fdet_close_spec(&view);
	if (fdet_close_decide(spec, FDET_CLOSE_PROBE_NONE) == FDET_CLOSE_PASS) {
		if (spec == FDET_CLOSE_UNTRACKED)
			g->c.passed_untracked++;
		else
			g->c.passed_expected++;
		pass(g, h);
		return;
	}
	int b = backend_slot(g, h->saddr, h->sport);
	if (b < 0) {
		g->c.backends_full++;
		g->c.passed_unavailable++;
		pass(g, h);
		return;
	}
	h->state = H_WAITING;
	h->backend = (uint8_t)b;
	h->waiting_mono = now;
	g->be[b].waiting++;
	if (!g->be[b].probing)
		start_probe(g, (unsigned)b);
}

void crash_guard_release(struct crash_guard *g, struct nfq_engine *engine)
{
	if (!g->held)
		return;
	if (engine)
		g->engine = engine;
	for (uint32_t i = 0; i < g->cfg.max_held; i++) {
		struct cg_held *h = &g->held[i];
		if (h->state == H_QUEUED) {
			struct nfq_verdict v = {.decision = NFQ_DECIDE_ACCEPT};
			if (g->engine)
				nfq_engine_verdict(g->engine, h->queue, h->id, &v);
			h->state = H_RELEASED; /* logged whole when the drain gets there */
			g->c.passed_shutdown++;
		} else if (h->state == H_WAITING) {
			g->c.passed_shutdown++;
			pass(g, h);
		}
	}
	crash_guard_flush(g);
}

void crash_guard_collect_stats(const struct crash_guard *g, struct stats_report *r)
{
	if (!g->held)
		return;
	const struct crash_guard_counters *c = &g->c;
#define S(name) stats_add(r, "crash", #name, c->name)
	S(closes);
	S(held);
	S(held_full);
	S(unlogged);
	S(passed_expected);
	S(passed_untracked);
	S(passed_alive);
	S(passed_unavailable);
	S(passed_shutdown);
	S(dropped);
	S(dropped_later);
	S(probes);
	S(probes_alive);
	S(probes_dead);
	S(backends_full);
	S(crashes);
	S(declare_refused);
	S(conns_remembered);
	S(conns_full);
	S(hold_us_max);
#undef S
	stats_add(r, "crash", "held_now", g->nheld);
}
