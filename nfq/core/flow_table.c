/* flow_table - see flow_table.h.
 *
 * A chained hash table (bucket array sized once, a power of two >= max_conns,
 * so chains stay short) keyed by the normalised 4-tuple, with a keyed 64-bit
 * mix of the key so that chosen tuples cannot pile into one bucket without
 * knowing the seed.  Each entry is on exactly one of two intrusive lists in
 * last-activity order: active or lingering.  Both are expired from the head
 * (one timeout per list keeps each list sorted), and the heads are the
 * eviction candidates.  A third list collects the entries with a stream
 * waiting behind a hole, usually few, walked by the timer.
 */
#include "flow_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"
#include "stats.h"

struct flow_list {
	struct flow_entry *head, *tail;
	unsigned count;
};

struct flow_table {
	struct flow_table_config cfg;
	struct flow_callbacks cb;
	struct tcp_reasm_ctx rc;
	struct flow_entry **buckets;
	uint32_t mask;
	uint64_t seed;
	uint64_t next_id;
	unsigned count;
	struct flow_list active, linger;
	struct flow_entry *wait_head;
	struct flow_table_stats st;
	uint8_t server_ports[65536 / 8];
};

void flow_table_config_default(struct flow_table_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_conns = FLOW_DEFAULT_MAX_CONNS;
	cfg->idle_timeout = FLOW_DEFAULT_IDLE_TIMEOUT;
	cfg->linger_timeout = FLOW_DEFAULT_LINGER_TIMEOUT;
	cfg->hole_timeout = FLOW_DEFAULT_HOLE_TIMEOUT;
	cfg->pickup_midstream = true;
	cfg->evict_when_full = true;
	cfg->midstream_rule = FLOW_MID_LOWER_PORT_IS_SERVER;
	tcp_reasm_limits_default(&cfg->reasm);
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static uint32_t flow_hash(const struct flow_table *ft, uint32_t a1, uint16_t p1, uint32_t a2,
			  uint16_t p2)
{
	/* Normalise: the lower (address, port) endpoint first. */
	if (a1 > a2 || (a1 == a2 && p1 > p2)) {
		uint32_t ta = a1;
		uint16_t tp = p1;

		a1 = a2;
		p1 = p2;
		a2 = ta;
		p2 = tp;
	}
	uint64_t h = mix64(ft->seed ^ ((uint64_t)a1 << 32 | a2));

	h = mix64(h ^ ((uint64_t)p1 << 16 | p2) ^ (ft->seed >> 17));
	return (uint32_t)(h ^ (h >> 32));
}

static bool is_server_port(const struct flow_table *ft, uint16_t port)
{
	return ft->server_ports[port >> 3] & (1u << (port & 7));
}

void flow_table_set_server_port(struct flow_table *ft, uint16_t port, bool server)
{
	if (server)
		ft->server_ports[port >> 3] |= (uint8_t)(1u << (port & 7));
	else
		ft->server_ports[port >> 3] &= (uint8_t) ~(1u << (port & 7));
}

int flow_table_create(struct flow_table **out, const struct flow_table_config *cfg,
		      const struct flow_callbacks *cb)
{
	struct flow_table *ft;
	uint32_t nb = 1;

	*out = NULL;
	if (cfg->max_conns == 0 || cfg->max_conns > FLOW_MAX_CONNS_LIMIT)
		return -EINVAL;
	ft = calloc(1, sizeof(*ft));
	if (!ft)
		return -ENOMEM;
	while (nb < cfg->max_conns)
		nb <<= 1;
	ft->buckets = calloc(nb, sizeof(*ft->buckets));
	if (!ft->buckets) {
		free(ft);
		return -ENOMEM;
	}
	ft->mask = nb - 1;
	ft->cfg = *cfg;
	ft->cfg.server_ports = NULL;
	ft->cfg.n_server_ports = 0;
	if (cb)
		ft->cb = *cb;
	tcp_reasm_ctx_init(&ft->rc, &cfg->reasm);
	ft->seed = cfg->hash_seed;
	if (ft->seed == 0 &&
	    getrandom(&ft->seed, sizeof(ft->seed), GRND_NONBLOCK) != (ssize_t)sizeof(ft->seed))
		ft->seed = mix64(clock_ns(CLOCK_MONOTONIC) ^ (uint64_t)(uintptr_t)ft);
	for (unsigned i = 0; i < cfg->n_server_ports && cfg->server_ports; i++)
		flow_table_set_server_port(ft, cfg->server_ports[i], true);
	*out = ft;
	return 0;
}

/* ---- intrusive lists ---- */

static void list_append(struct flow_list *l, struct flow_entry *e)
{
	e->lnext = NULL;
	e->lprev = l->tail;
	if (l->tail)
		l->tail->lnext = e;
	else
		l->head = e;
	l->tail = e;
	l->count++;
}

static void list_unlink(struct flow_list *l, struct flow_entry *e)
{
	if (e->lprev)
		e->lprev->lnext = e->lnext;
	else
		l->head = e->lnext;
	if (e->lnext)
		e->lnext->lprev = e->lprev;
	else
		l->tail = e->lprev;
	e->lprev = e->lnext = NULL;
	l->count--;
}

static struct flow_list *list_of(struct flow_table *ft, const struct flow_entry *e)
{
	return e->closed ? &ft->linger : &ft->active;
}

static void wait_remove(struct flow_table *ft, struct flow_entry *e)
{
	if (!e->on_wait)
		return;
	if (e->wprev)
		e->wprev->wnext = e->wnext;
	else
		ft->wait_head = e->wnext;
	if (e->wnext)
		e->wnext->wprev = e->wprev;
	e->wprev = e->wnext = NULL;
	e->on_wait = false;
}

/* Puts the entry on the wait list iff one of its streams waits. */
static void wait_update(struct flow_table *ft, struct flow_entry *e)
{
	bool waiting =
	    tcp_stream_waiting(&e->dir[FLOW_C2S]) || tcp_stream_waiting(&e->dir[FLOW_S2C]);

	if (!waiting) {
		wait_remove(ft, e);
		return;
	}
	if (e->on_wait)
		return;
	e->wprev = NULL;
	e->wnext = ft->wait_head;
	if (ft->wait_head)
		ft->wait_head->wprev = e;
	ft->wait_head = e;
	e->on_wait = true;
}

/* ---- entries ---- */

static bool entry_matches(const struct flow_entry *e, uint32_t saddr, uint16_t sport,
			  uint32_t daddr, uint16_t dport, enum flow_dir *dir)
{
	if (e->caddr == saddr && e->cport == sport && e->saddr == daddr && e->sport == dport) {
		*dir = FLOW_C2S;
		return true;
	}
	if (e->saddr == saddr && e->sport == sport && e->caddr == daddr && e->cport == dport) {
		*dir = FLOW_S2C;
		return true;
	}
	return false;
}

static struct flow_entry *find(const struct flow_table *ft, uint32_t h, uint32_t saddr,
			       uint16_t sport, uint32_t daddr, uint16_t dport, enum flow_dir *dir)
{
	for (struct flow_entry *e = ft->buckets[h & ft->mask]; e; e = e->hnext)
		if (e->hash == h && entry_matches(e, saddr, sport, daddr, dport, dir))
			return e;
	return NULL;
}

struct flow_entry *flow_table_lookup(const struct flow_table *ft, uint32_t saddr, uint16_t sport,
				     uint32_t daddr, uint16_t dport, enum flow_dir *dir)
{
	enum flow_dir d;
	struct flow_entry *e =
	    find(ft, flow_hash(ft, saddr, sport, daddr, dport), saddr, sport, daddr, dport, &d);

	if (e && dir)
		*dir = d;
	return e;
}

static void unlink_entry(struct flow_table *ft, struct flow_entry *e)
{
	struct flow_entry **pp = &ft->buckets[e->hash & ft->mask];

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	list_unlink(list_of(ft, e), e);
	wait_remove(ft, e);
	ft->count--;
}

/* Flushes both streams, tells the owner, unlinks and frees. */
static void close_entry(struct flow_table *ft, struct flow_entry *e, enum flow_close_reason why,
			uint64_t now)
{
	tcp_stream_flush(&e->dir[FLOW_C2S], now);
	tcp_stream_flush(&e->dir[FLOW_S2C], now);
	if (ft->cb.closed)
		ft->cb.closed(ft->cb.ctx, e, why);
	unlink_entry(ft, e);
	tcp_stream_reset(&e->dir[FLOW_C2S]);
	tcp_stream_reset(&e->dir[FLOW_S2C]);
	free(e);
}

void flow_table_remove(struct flow_table *ft, struct flow_entry *e)
{
	ft->st.removed++;
	close_entry(ft, e, FLOW_CLOSE_REMOVED, e->last_seen);
}

void flow_table_destroy(struct flow_table *ft)
{
	if (!ft)
		return;
	while (ft->linger.head)
		close_entry(ft, ft->linger.head, FLOW_CLOSE_DESTROYED, ft->linger.head->last_seen);
	while (ft->active.head)
		close_entry(ft, ft->active.head, FLOW_CLOSE_DESTROYED, ft->active.head->last_seen);
	free(ft->buckets);
	free(ft);
}

/* Which side of a new connection is the client: true if the sender. */
static bool sender_is_client(const struct flow_table *ft, const struct flow_segment *seg)
{
	bool syn = seg->flags & TCP_FL_SYN, ack = seg->flags & TCP_FL_ACK;

	if (syn)
		return !ack;
	bool dsrv = is_server_port(ft, seg->dport), ssrv = is_server_port(ft, seg->sport);

	if (dsrv != ssrv)
		return dsrv;
	if (ft->cfg.midstream_rule == FLOW_MID_SENDER_IS_CLIENT)
		return true;
	return seg->sport >= seg->dport;
}

/* Makes room when full; false when that is not allowed. */
static bool make_room(struct flow_table *ft, uint64_t now)
{
	if (ft->count < ft->cfg.max_conns)
		return true;
	ft->st.table_full++;
	if (!ft->cfg.evict_when_full)
		return false;
	struct flow_entry *victim = ft->linger.head ? ft->linger.head : ft->active.head;

	if (!victim)
		return false;
	ft->st.evicted++;
	close_entry(ft, victim, FLOW_CLOSE_EVICTED, now);
	return true;
}

static int create_entry(struct flow_table *ft, const struct flow_segment *seg, uint32_t h,
			uint64_t now, struct flow_entry **out)
{
	bool syn = seg->flags & TCP_FL_SYN;

	*out = NULL;
	if ((seg->flags & TCP_FL_RST) || (!syn && !ft->cfg.pickup_midstream)) {
		ft->st.untracked++;
		return -ENOENT;
	}
	if (!make_room(ft, now)) {
		ft->st.refused++;
		return -ENOSPC;
	}
	struct flow_entry *e = calloc(1, sizeof(*e));

	if (!e) {
		ft->st.refused++;
		return -ENOMEM;
	}
	if (sender_is_client(ft, seg)) {
		e->caddr = seg->saddr;
		e->cport = seg->sport;
		e->saddr = seg->daddr;
		e->sport = seg->dport;
	} else {
		e->caddr = seg->daddr;
		e->cport = seg->dport;
		e->saddr = seg->saddr;
		e->sport = seg->sport;
	}
	e->midstream = !syn; /* a SYN-ACK gives both ISNs exactly */
	e->id = ++ft->next_id;
	e->created = e->last_seen = now;
	e->hash = h;
	tcp_stream_init(&e->dir[FLOW_C2S], &ft->rc, NULL);
	tcp_stream_init(&e->dir[FLOW_S2C], &ft->rc, NULL);
	if (ft->cb.created && ft->cb.created(ft->cb.ctx, e, now) != 0) {
		ft->st.refused++;
		free(e);
		return -ECANCELED;
	}
	e->hnext = ft->buckets[h & ft->mask];
	ft->buckets[h & ft->mask] = e;
	list_append(&ft->active, e);
	ft->count++;
	ft->st.created++;
	if (e->midstream)
		ft->st.midstream++;
	*out = e;
	return 0;
}

/* Is this segment a new connection on the 4-tuple of a lingering entry? */
static bool is_reuse(const struct flow_entry *e, enum flow_dir d, const struct flow_segment *seg)
{
	if (!e->closed || (seg->flags & (TCP_FL_SYN | TCP_FL_ACK | TCP_FL_RST)) != TCP_FL_SYN)
		return false;
	const struct tcp_stream *s = &e->dir[d];

	/* The client's SYN again is a retransmission, anything else new. */
	return !(d == FLOW_C2S && s->syn_seen && s->isn == seg->seq);
}

static void touch(struct flow_table *ft, struct flow_entry *e, uint64_t now)
{
	struct flow_list *l = list_of(ft, e);

	if (now > e->last_seen)
		e->last_seen = now;
	if (l->tail != e) {
		list_unlink(l, e);
		list_append(l, e);
	}
}

static void update_closed(struct flow_table *ft, struct flow_entry *e, uint64_t now)
{
	const struct tcp_stream *c = &e->dir[FLOW_C2S], *s = &e->dir[FLOW_S2C];

	if (e->closed || !((c->fin_seen && s->fin_seen) || c->rst_seen || s->rst_seen))
		return;
	list_unlink(&ft->active, e);
	e->closed = true;
	e->closed_at = now;
	list_append(&ft->linger, e);
}

void flow_segment_from_view(const struct tcp4_view *v, struct flow_segment *out)
{
	out->saddr = tcp4v_saddr(v);
	out->daddr = tcp4v_daddr(v);
	out->sport = tcp4v_sport(v);
	out->dport = tcp4v_dport(v);
	out->seq = tcp4v_seq(v);
	out->ack = tcp4v_ack(v);
	out->flags = tcp4v_flags(v);
	out->data = v->payload;
	out->len = (uint32_t)v->payload_len;
	out->wire_len = (uint32_t)(v->tot_len - v->ip_hlen - v->tcp_hlen);
}

int flow_table_input(struct flow_table *ft, const struct flow_segment *seg, uint64_t now,
		     struct flow_entry **entry, enum flow_dir *dir)
{
	uint32_t h = flow_hash(ft, seg->saddr, seg->sport, seg->daddr, seg->dport);
	enum flow_dir d = FLOW_C2S;
	struct flow_entry *e = find(ft, h, seg->saddr, seg->sport, seg->daddr, seg->dport, &d);
	int rc;

	if (entry)
		*entry = NULL;
	if (e && is_reuse(e, d, seg)) {
		ft->st.reused++;
		close_entry(ft, e, FLOW_CLOSE_REUSED, now);
		e = NULL;
	}
	if (!e) {
		rc = create_entry(ft, seg, h, now, &e);
		if (rc < 0)
			return rc;
		entry_matches(e, seg->saddr, seg->sport, seg->daddr, seg->dport, &d);
	}
	struct tcp_stream *other = &e->dir[!d];
	struct tcp_seg ts = {
	    .seq = seg->seq,
	    .flags = seg->flags,
	    .data = seg->data,
	    .len = seg->len,
	    .wire_len = seg->wire_len,
	};

	touch(ft, e, now);
	rc = tcp_stream_segment(&e->dir[d], &ts, now);
	if (rc != -EINVAL && (seg->flags & TCP_FL_ACK)) {
		/* A SYN-ACK acknowledges the peer's ISN exactly: start the
		 * other direction there even if its SYN was not seen. */
		if ((seg->flags & TCP_FL_SYN) && !other->started)
			tcp_stream_start(other, seg->ack - 1u);
		tcp_stream_ack(other, seg->ack);
	}
	if (rc == -ESTALE)
		rc = 0; /* counted by the stream; the entry stays */
	update_closed(ft, e, now);
	wait_update(ft, e);
	if (entry)
		*entry = e;
	if (dir)
		*dir = d;
	return rc;
}

static unsigned expire_list(struct flow_table *ft, struct flow_list *l, uint64_t timeout,
			    enum flow_close_reason why, uint64_t *counter, uint64_t now)
{
	unsigned n = 0;

	while (l->head && now >= l->head->last_seen && now - l->head->last_seen >= timeout) {
		close_entry(ft, l->head, why, now);
		(*counter)++;
		n++;
	}
	return n;
}

static void expire_holes(struct flow_table *ft, uint64_t now)
{
	struct flow_entry *e = ft->wait_head, *next;

	for (; e; e = next) {
		next = e->wnext;
		for (int d = 0; d < 2; d++) {
			struct tcp_stream *s = &e->dir[d];

			if (tcp_stream_waiting(s) && now >= s->hole_since &&
			    now - s->hole_since >= ft->cfg.hole_timeout &&
			    tcp_stream_skip_gap(s, now) > 0)
				ft->st.holes_timed++;
		}
		update_closed(ft, e, now);
		wait_update(ft, e);
	}
}

unsigned flow_table_expire(struct flow_table *ft, uint64_t now)
{
	unsigned n;

	expire_holes(ft, now);
	n = expire_list(ft, &ft->linger, ft->cfg.linger_timeout, FLOW_CLOSE_FINISHED,
			&ft->st.finished, now);
	n += expire_list(ft, &ft->active, ft->cfg.idle_timeout, FLOW_CLOSE_IDLE, &ft->st.expired,
			 now);
	return n;
}

int flow_table_foreach(struct flow_table *ft, int (*fn)(void *ctx, struct flow_entry *e), void *ctx)
{
	struct flow_list *lists[2] = {&ft->active, &ft->linger};

	for (int i = 0; i < 2; i++)
		for (struct flow_entry *e = lists[i]->head; e; e = e->lnext) {
			int rc = fn(ctx, e);

			if (rc)
				return rc;
		}
	return 0;
}

unsigned flow_table_count(const struct flow_table *ft)
{
	return ft->count;
}

unsigned flow_table_lingering(const struct flow_table *ft)
{
	return ft->linger.count;
}

const struct flow_table_stats *flow_table_stats(const struct flow_table *ft)
{
	return &ft->st;
}

struct tcp_reasm_ctx *flow_table_reasm(struct flow_table *ft)
{
	return &ft->rc;
}

void flow_table_stats_report(const struct flow_table *ft, struct stats_report *r,
			     const char *prefix)
{
	const struct flow_table_stats *st = &ft->st;

	stats_add(r, prefix, "conns", ft->count);
	stats_add(r, prefix, "conns_lingering", ft->linger.count);
	stats_add(r, prefix, "conns_created", st->created);
	stats_add(r, prefix, "conns_finished", st->finished);
	stats_add(r, prefix, "conns_expired", st->expired);
	stats_add(r, prefix, "conns_evicted", st->evicted);
	stats_add(r, prefix, "conns_reused", st->reused);
	stats_add(r, prefix, "conns_removed", st->removed);
	stats_add(r, prefix, "conns_refused", st->refused);
	stats_add(r, prefix, "conns_midstream", st->midstream);
	stats_add(r, prefix, "table_full", st->table_full);
	stats_add(r, prefix, "untracked", st->untracked);
	stats_add(r, prefix, "holes_timed", st->holes_timed);
	tcp_reasm_stats_report(&ft->rc, r, prefix);
}
