/* tla - the connection table and the per-packet path (see tla.h for the
 * model; tla_out.c builds and emits packets, tla_ctl.c handles requests). */
#include "tla.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "packet.h"
#include "tcp_options.h"
#include "tla_int.h"

void tla_config_default(struct tla_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_conns = 4096;
	cfg->max_held = 4u << 20;
	cfg->max_saved = 1u << 20;
	cfg->pretrans_age_ms = 10000;
	cfg->idle_ms = 600000;
	cfg->linger_ms = 10000;
	cfg->resend_rto_ms = 200;
	cfg->resend_retries = 8;
}

/* ---- table ---------------------------------------------------------- */

static uint32_t key_hash(const struct tx_conn_id *k)
{
	uint64_t h = 0x9e3779b97f4a7c15ull;
	h ^= (uint64_t)k->peer_addr << 16 ^ k->peer_port;
	h *= 0xff51afd7ed558ccdull;
	h ^= (uint64_t)k->server_addr << 16 ^ k->server_port;
	h *= 0xc4ceb9fe1a85ec53ull;
	return (uint32_t)(h ^ h >> 32);
}

static bool key_eq(const struct tx_conn_id *a, const struct tx_conn_id *b)
{
	return a->peer_addr == b->peer_addr && a->server_addr == b->server_addr &&
	       a->peer_port == b->peer_port && a->server_port == b->server_port;
}

struct tla_conn *tla_find(const struct tla *t, const struct tx_conn_id *id)
{
	struct tla_conn *c = t->buckets[key_hash(id) & (t->nbuckets - 1)];
	while (c && !key_eq(&c->key, id))
		c = c->hnext;
	return c;
}

static void lru_unlink(struct tla *t, struct tla_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		t->lru_head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		t->lru_tail = c->prev;
	c->prev = c->next = NULL;
}

static void lru_append(struct tla *t, struct tla_conn *c)
{
	c->prev = t->lru_tail;
	c->next = NULL;
	if (t->lru_tail)
		t->lru_tail->next = c;
	else
		t->lru_head = c;
	t->lru_tail = c;
}

static struct tla_conn *conn_create(struct tla *t, const struct tx_conn_id *id, uint64_t now)
{
	if (t->nconns >= t->cfg.max_conns) {
		t->st.conns_refused++;
		return NULL;
	}
	struct tla_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		t->st.conns_refused++;
		return NULL;
	}
	c->key = *id;
	c->state = TLA_PRE_TRANS;
	c->created_ms = c->last_ms = now;
	c->hold_from = TLA_NONE;
	c->s_base = c->s_end = 1;
	tla_map_init(&c->p2s);
	tla_map_init(&c->s2p);
	uint32_t b = key_hash(id) & (t->nbuckets - 1);
	c->hnext = t->buckets[b];
	t->buckets[b] = c;
	lru_append(t, c);
	t->nconns++;
	t->st.conns_created++;
	return c;
}

static void conn_remove(struct tla *t, struct tla_conn *c)
{
	tla_held_drop_all(t, c);
	tla_saved_purge_to(t, c, c->s_end);
	free(c->saved);
	if (c->resending)
		splice_inject_free(&c->resend);
	struct tla_conn **pp = &t->buckets[key_hash(&c->key) & (t->nbuckets - 1)];
	while (*pp != c)
		pp = &(*pp)->hnext;
	*pp = c->hnext;
	lru_unlink(t, c);
	t->nconns--;
	free(c);
}

int tla_create(struct tla **out, const struct tla_config *cfg, const struct tla_ops *ops)
{
	*out = NULL;
	if (cfg->nports == 0 || cfg->nports > TLA_MAX_PORTS || cfg->max_conns == 0 ||
	    cfg->max_conns > TLA_MAX_CONNS_MAX || cfg->max_held == 0)
		return -EINVAL;
	struct tla *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cfg = *cfg;
	t->ops = *ops;
	t->nbuckets = 16;
	while (t->nbuckets < cfg->max_conns)
		t->nbuckets <<= 1;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

void tla_destroy(struct tla *t)
{
	if (!t)
		return;
	while (t->lru_head)
		conn_remove(t, t->lru_head);
	free(t->buckets);
	free(t);
}

void tla_drop_all_held(struct tla *t)
{
	for (struct tla_conn *c = t->lru_head; c; c = c->next)
		tla_held_drop_all(t, c);
}

/* ---- saved peer bytes ------------------------------------------------ */

void tla_saved_purge_to(struct tla *t, struct tla_conn *c, uint64_t off)
{
	if (off > c->s_end)
		off = c->s_end;
	if (off <= c->s_base)
		return;
	uint64_t n = off - c->s_base;
	c->saved_head += (size_t)n;
	c->s_base = off;
	t->saved_now -= n;
	if (c->s_base == c->s_end)
		c->saved_head = 0;
	unsigned k = 0;
	while (k < c->nmarks && c->marks[k].end <= off)
		k++;
	if (k) {
		memmove(c->marks, c->marks + k, (c->nmarks - k) * sizeof(c->marks[0]));
		c->nmarks -= k;
	}
}

static void mark_saved(struct tla_conn *c, uint64_t now)
{
	if (c->nmarks && now - c->marks[c->nmarks - 1].ms < 10) {
		c->marks[c->nmarks - 1].end = c->s_end;
		return;
	}
	if (c->nmarks == TLA_AGE_MARKS) {
		/* Fold the oldest into the next: kept a little longer. */
		memmove(c->marks, c->marks + 1, (TLA_AGE_MARKS - 1) * sizeof(c->marks[0]));
		c->nmarks--;
	}
	c->marks[c->nmarks].end = c->s_end;
	c->marks[c->nmarks].ms = now;
	c->nmarks++;
}

/* The first saved offset a transaction may still need. */
static uint64_t saved_protected(const struct tla_conn *c)
{
	if (c->state == TLA_IN_TRANS || c->state == TLA_ABORTED)
		return c->in_start;
	return TLA_NONE;
}

int tla_saved_append(struct tla *t, struct tla_conn *c, const uint8_t *data, size_t len,
		     uint64_t now)
{
	if (len == 0)
		return 0;
	if (c->save_broken) {
		tla_saved_purge_to(t, c, c->s_end);
		c->s_base = c->s_end = c->s_end + len;
		return -ENOSPC;
	}
	uint64_t live = c->s_end - c->s_base;
	if (live + len > t->cfg.max_saved) {
		uint64_t want = live + len - t->cfg.max_saved; /* bytes to give up */
		uint64_t prot = saved_protected(c);
		uint64_t room = prot == TLA_NONE ? live : (prot > c->s_base ? prot - c->s_base : 0);
		if (room > live)
			room = live;
		if (want <= room || len > t->cfg.max_saved || prot != TLA_NONE) {
			uint64_t drop = want < room ? want : room;
			t->st.aged_bytes += drop;
			tla_saved_purge_to(t, c, c->s_base + drop);
		}
		if (c->s_end - c->s_base + len > t->cfg.max_saved) {
			t->st.saved_limit++;
			if (prot != TLA_NONE) {
				/* A transaction needs bytes we cannot keep: it
				 * can no longer be restarted. */
				c->save_broken = true;
				if (c->state == TLA_IN_TRANS && !c->failed) {
					c->failed = TX_R_SAVED_LIMIT;
					tla_notify_failure(t, c, TX_R_SAVED_LIMIT);
				}
			}
			tla_saved_purge_to(t, c, c->s_end);
			c->s_base = c->s_end = c->s_end + len;
			return -ENOSPC;
		}
	}
	live = c->s_end - c->s_base;
	if (c->saved_head + live + len > c->saved_cap) {
		if (c->saved_head) {
			memmove(c->saved, c->saved + c->saved_head, (size_t)live);
			c->saved_head = 0;
		}
		if (live + len > c->saved_cap) {
			size_t cap = c->saved_cap ? c->saved_cap : 4096;
			while (cap < live + len)
				cap *= 2;
			if (cap > t->cfg.max_saved)
				cap = (size_t)t->cfg.max_saved;
			uint8_t *nb = realloc(c->saved, cap);
			if (!nb) {
				c->save_broken =
				    c->state == TLA_IN_TRANS || c->state == TLA_ABORTED;
				tla_saved_purge_to(t, c, c->s_end);
				c->s_base = c->s_end = c->s_end + len;
				return -ENOMEM;
			}
			c->saved = nb;
			c->saved_cap = cap;
		}
	}
	memcpy(c->saved + c->saved_head + live, data, len);
	c->s_end += len;
	t->saved_now += len;
	mark_saved(c, now);
	return 0;
}

static void age_saved(struct tla *t, struct tla_conn *c, uint64_t now)
{
	if (c->state == TLA_IN_TRANS || c->state == TLA_ABORTED || c->nmarks == 0)
		return;
	uint64_t to = c->s_base;
	for (unsigned i = 0; i < c->nmarks && now - c->marks[i].ms > t->cfg.pretrans_age_ms; i++)
		to = c->marks[i].end;
	if (to > c->s_base) {
		t->st.aged_bytes += to - c->s_base;
		tla_saved_purge_to(t, c, to);
	}
}

/* ---- packets ---------------------------------------------------------- */

static bool is_port(const struct tla *t, uint16_t port)
{
	for (unsigned i = 0; i < t->cfg.nports; i++)
		if (t->cfg.ports[i] == port)
			return true;
	return false;
}

/* Shortens p to `keep` data bytes (and no FIN). The checksum is left for
 * the caller to recompute. */
static void trim_tail(struct tcp4_packet *p, size_t keep)
{
	size_t tot = p->ip_hlen + p->tcp_hlen + keep;
	pkt_store_be16(p->ip + IPV4_OFF_TOTLEN, (uint16_t)tot);
	p->ip[TCP_OFF_FLAGS + p->ip_hlen] &= (uint8_t)~TCP_FL_FIN;
	p->len = p->tot_len = tot;
	p->tcp_len = p->tcp_hlen + keep;
	p->payload_len = keep;
}

/* The first anchor of a p2s gap strictly inside (from, to), or TLA_NONE. */
static uint64_t anchor_inside(const struct tla_map *m, uint64_t from, uint64_t to)
{
	uint64_t acc = m->base;
	for (unsigned i = 0; i < m->n; i++) {
		uint64_t a = m->g[i].start - acc;
		if (a > from && a < to)
			return a;
		acc += m->g[i].len;
	}
	return TLA_NONE;
}

static void p2s_packet(struct tla *t, struct tla_conn *c, struct tla_packet *pkt,
		       struct tcp4_packet *p, uint64_t now, struct tla_result *res)
{
	uint8_t fl = tcp4_flags(p);
	struct tcp_options o;
	bool opts = tcp_options_parse(p, &o) == 0;
	t->st.p2s_segments++;
	if (fl & TCP_FL_SYN) {
		if (!c->have_isn_p) {
			c->have_isn_p = true;
			c->isn_p = tcp4_seq(p);
			c->p_next = 1;
			c->wscale_p = opts && o.has_wscale ? o.wscale : 0;
			c->ts_ok = opts && o.has_timestamp;
			c->mss_p = opts && o.has_mss ? o.mss : 536;
			if (opts && o.has_timestamp)
				c->peer_tsval = o.tsval;
		}
		return;
	}
	if (!c->have_isn_p || !c->have_isn_s) {
		t->st.untracked++;
		return;
	}
	uint64_t off = tla_unwrap(tcp4_seq(p), c->isn_p, c->p_next);
	uint32_t dlen = (uint32_t)p->payload_len;
	bool fin = fl & TCP_FL_FIN;
	uint64_t end = off + dlen + fin;
	size_t keep = dlen;
	bool trimmed = false;
	if (opts && o.has_timestamp)
		c->peer_tsval = o.tsval;
	if (fl & TCP_FL_RST)
		c->rst = true;
	if (fl & TCP_FL_ACK) {
		uint64_t ref = tla_map_to_peer(&c->s2p, c->srv_high, NULL);
		uint64_t a = tla_unwrap(tcp4_ack(p), c->isn_s, ref);
		if (!c->peer_ack_seen || a > c->peer_ack)
			c->peer_ack = a;
		c->peer_ack_seen = true;
		c->peer_win = tcp4_window(p);
	}
	if (dlen || fin) {
		t->st.p2s_bytes += dlen;
		if (off > c->p_next) {
			t->st.p2s_ooo_dropped++;
			res->decision = TLA_DROP;
			return;
		}
		uint64_t a = anchor_inside(&c->p2s, off, end);
		if (a != TLA_NONE) {
			/* Straddles a resend point: forward the older part only,
			 * the peer sends the rest again. */
			keep = a - off < dlen ? (size_t)(a - off) : dlen;
			trimmed = true;
			t->st.p2s_trimmed++;
		}
		if (end <= c->p_next) {
			t->st.p2s_retrans++;
		} else if (!trimmed) {
			uint64_t skip = c->p_next - off;
			if (skip < dlen)
				tla_saved_append(t, c, p->payload + skip, (size_t)(dlen - skip),
						 now);
			c->p_next = end;
			if (fin)
				c->fin_p = true;
		}
	}
	uint64_t soff = tla_map_to_server(&c->p2s, off);
	bool changed = false;
	if (trimmed) {
		trim_tail(p, keep);
		res->len = p->len;
	}
	if (tla_map_p2s_packet(c, pkt->data, p->len, soff, pkt->gso, pkt->csum_not_ready || trimmed,
			       &changed) < 0) {
		if (soff != off || trimmed) {
			t->st.malformed++;
			res->decision = TLA_DROP;
		}
		return;
	}
	if (changed || trimmed) {
		if (trimmed && !changed && !pkt->gso)
			tcp4_finalize_checksum(p);
		res->modified = true;
		res->len = p->len;
		t->st.p2s_rewritten++;
	}
}

enum piece_class { PC_FWD, PC_HOLD, PC_DISCARD };
struct piece {
	uint64_t from, to;
	enum piece_class cls;
};
#define MAX_PIECES 8

/* Splits [off, off+dlen) by discard gaps and the hold start. Returns the
 * number of pieces, -1 when there are too many. */
static int classify(const struct tla_conn *c, uint64_t off, uint32_t dlen, struct piece *pc)
{
	int n = 0;
	uint64_t pos = off, stop = off + dlen;
	while (pos < stop) {
		uint64_t edge;
		bool gap = tla_map_gap_at(&c->s2p, pos, &edge);
		uint64_t to = edge < stop ? edge : stop;
		enum piece_class cls = PC_FWD;
		if (gap)
			cls = PC_DISCARD;
		else if (c->hold_from != TLA_NONE && pos >= c->hold_from)
			cls = PC_HOLD;
		else if (c->hold_from != TLA_NONE && to > c->hold_from)
			to = c->hold_from;
		if (n > 0 && pc[n - 1].cls == cls && pc[n - 1].to == pos) {
			pc[n - 1].to = to;
		} else {
			if (n == MAX_PIECES)
				return -1;
			pc[n++] = (struct piece){pos, to, cls};
		}
		pos = to;
	}
	return n;
}

/* Holds [from, to) of the packet (data at payload offset skip): only the
 * parts not held already. whole: the packet is exactly this run and may
 * stay in the kernel. Returns true when the packet itself is held. */
static bool hold_run(struct tla *t, struct tla_conn *c, struct tla_packet *pkt,
		     const struct tcp4_packet *p, uint64_t from, uint64_t to, uint64_t off,
		     bool fin, bool whole)
{
	if (c->failed == TX_R_HELD_LIMIT)
		return false;
	if (tla_held_covers(c, from, to) && (!fin || c->held_fin)) {
		t->st.held_retrans_dropped++;
		return false;
	}
	uint64_t n = to - from;
	if (c->held_bytes + n > t->cfg.max_held) {
		t->st.held_limit++;
		c->failed = TX_R_HELD_LIMIT;
		tla_notify_failure(t, c, TX_R_HELD_LIMIT);
		return false;
	}
	/* Bytes already held are skipped: hold from the end of what we have
	 * when the run overlaps it (retransmission with new data). */
	if (from < c->held_high && c->held_high < to) {
		whole = false;
		from = c->held_high;
	}
	if (whole && !p->truncated)
		return tla_hold_kernel(t, c, pkt, from, (uint32_t)(to - from), fin) == 0;
	tla_hold_copy(t, c, pkt->data, p->len, from, (uint32_t)(from - off), (uint32_t)(to - from),
		      fin);
	return false;
}

static void s2p_packet(struct tla *t, struct tla_conn *c, struct tla_packet *pkt,
		       struct tcp4_packet *p, struct tla_result *res)
{
	uint8_t fl = tcp4_flags(p);
	struct tcp_options o;
	bool opts = tcp_options_parse(p, &o) == 0;
	t->st.s2p_segments++;
	if (fl & TCP_FL_SYN) {
		if (!c->have_isn_s && c->have_isn_p) {
			c->have_isn_s = true;
			c->isn_s = tcp4_seq(p);
			c->srv_high = 1;
			c->ts_ok = c->ts_ok && opts && o.has_timestamp;
			c->wscale_s = opts && o.has_wscale ? o.wscale : 0;
			if (!(opts && o.has_wscale))
				c->wscale_p = 0;
			c->mss_s = opts && o.has_mss ? o.mss : 536;
			if (opts && o.has_timestamp)
				c->srv_tsval = o.tsval;
		}
		return;
	}
	if (!c->have_isn_p || !c->have_isn_s) {
		t->st.untracked++;
		return;
	}
	uint64_t off = tla_unwrap(tcp4_seq(p), c->isn_s, c->srv_high);
	uint32_t dlen = (uint32_t)p->payload_len;
	bool fin = fl & TCP_FL_FIN;
	uint64_t end = off + dlen + fin;
	uint64_t old_high = c->srv_high;
	if (end > c->srv_high)
		c->srv_high = end;
	if (opts && o.has_timestamp)
		c->srv_tsval = o.tsval;
	if (fl & TCP_FL_RST)
		c->rst = true;
	if (fin)
		c->fin_s = true;
	if (c->state == TLA_COMMITTED && c->srv_high >= c->commit_end)
		c->state = TLA_PRE_TRANS;
	if (fl & TCP_FL_ACK) {
		uint64_t a =
		    tla_unwrap(tcp4_ack(p), c->isn_p, tla_map_to_server(&c->p2s, c->p_next));
		if (a > c->srv_ack)
			c->srv_ack = a;
		c->srv_wnd_bytes = (uint32_t)tcp4_window(p)
				   << (c->wscale_s > 14 ? 14 : c->wscale_s);
		if (c->resending)
			splice_inject_ack(&c->resend, tcp4_ack(p), c->srv_wnd_bytes);
	}
	t->st.s2p_bytes += dlen;

	struct piece pc[MAX_PIECES];
	int n = classify(c, off, dlen, pc);
	if (n < 0) {
		t->st.s2p_unmappable++;
		res->decision = TLA_DROP;
		return;
	}
	enum piece_class fin_cls = PC_FWD;
	if (c->hold_from != TLA_NONE && off + dlen >= c->hold_from)
		fin_cls = PC_HOLD;
	bool single = n == 0 || (n == 1 && (!fin || pc[0].cls == fin_cls));
	if (single) {
		enum piece_class cls = n ? pc[0].cls : (fin ? fin_cls : PC_FWD);
		if (cls == PC_DISCARD) {
			t->st.discarded_bytes += dlen;
			if (end <= old_high)
				t->st.discard_retrans++;
			res->decision = TLA_DROP;
			tla_fake_ack(t, c, end <= old_high ? end : 0);
			return;
		}
		if (cls == PC_HOLD) {
			res->decision = hold_run(t, c, pkt, p, off, off + dlen, off, fin, true)
					    ? TLA_HOLD
					    : TLA_DROP;
			return;
		}
		/* Forward. Without data while holding: the hold start. */
		uint64_t so = off;
		if (dlen == 0 && !fin && c->hold_from != TLA_NONE && so > c->hold_from)
			so = c->hold_from;
		bool changed = false;
		uint64_t po = tla_map_to_peer(&c->s2p, so, NULL);
		if (tla_map_s2p_packet(c, pkt->data, p->len, po, pkt->gso, pkt->csum_not_ready,
				       &changed) < 0) {
			if (po != so) {
				t->st.s2p_unmappable++;
				res->decision = TLA_DROP;
			}
			return;
		}
		if (changed) {
			res->modified = true;
			t->st.s2p_rewritten++;
		}
		return;
	}
	/* Mixed: the packet goes, its pieces are re-emitted or kept. */
	t->st.s2p_split++;
	res->decision = TLA_DROP;
	bool discarded = false;
	for (int i = 0; i < n; i++) {
		bool last = i == n - 1;
		bool pfin = last && fin && pc[i].cls == fin_cls;
		uint32_t skip = (uint32_t)(pc[i].from - off),
			 len = (uint32_t)(pc[i].to - pc[i].from);
		switch (pc[i].cls) {
		case PC_FWD:
			tla_send_piece_s2p(t, c, pkt->data, p->len, skip, len, pc[i].from, pfin);
			break;
		case PC_HOLD:
			hold_run(t, c, pkt, p, pc[i].from, pc[i].to, off, pfin, false);
			break;
		case PC_DISCARD:
			t->st.discarded_bytes += len;
			discarded = true;
			break;
		}
	}
	if (fin && (n == 0 || pc[n - 1].cls != fin_cls)) {
		if (fin_cls == PC_HOLD)
			hold_run(t, c, pkt, p, off + dlen, off + dlen, off, true, false);
		else
			tla_send_piece_s2p(t, c, pkt->data, p->len, dlen, 0, off + dlen, true);
	}
	if (discarded)
		tla_fake_ack(t, c, 0);
}

void tla_packet(struct tla *t, struct tla_packet *pkt, uint64_t now, struct tla_result *res)
{
	res->decision = TLA_ACCEPT;
	res->modified = false;
	res->len = pkt->len;
	struct tcp4_packet p;
	if (tcp4_parse_flags(pkt->data, pkt->len, PKT_PARSE_ALLOW_TRUNCATED, &p) < 0) {
		t->st.malformed++;
		res->decision = TLA_DROP;
		return;
	}
	bool to_server = is_port(t, tcp4_dport(&p)) &&
			 (!t->cfg.server_addr || tcp4_daddr(&p) == t->cfg.server_addr);
	bool from_server = !to_server && is_port(t, tcp4_sport(&p)) &&
			   (!t->cfg.server_addr || tcp4_saddr(&p) == t->cfg.server_addr);
	if (!to_server && !from_server) {
		t->st.untracked++;
		return;
	}
	struct tx_conn_id id;
	if (to_server)
		id = (struct tx_conn_id){tcp4_saddr(&p), tcp4_daddr(&p), tcp4_sport(&p),
					 tcp4_dport(&p)};
	else
		id = (struct tx_conn_id){tcp4_daddr(&p), tcp4_saddr(&p), tcp4_dport(&p),
					 tcp4_sport(&p)};
	uint8_t fl = tcp4_flags(&p);
	bool syn = (fl & (TCP_FL_SYN | TCP_FL_ACK)) == TCP_FL_SYN;
	struct tla_conn *c = tla_find(t, &id);
	if (c && to_server && syn && c->have_isn_p && tcp4_seq(&p) != c->isn_p) {
		if (c->closed_ms || c->state == TLA_PRE_TRANS) {
			conn_remove(t, c); /* a new connection on the same 4-tuple */
			c = NULL;
		} else {
			t->st.untracked++;
			res->decision = TLA_DROP;
			return;
		}
	}
	if (!c) {
		if (!(to_server && syn)) {
			t->st.untracked++;
			return;
		}
		c = conn_create(t, &id, now);
		if (!c)
			return;
	}
	c->last_ms = now;
	lru_unlink(t, c);
	lru_append(t, c);
	if (p.truncated && p.payload_len) {
		/* Data we cannot see cannot be held or saved: fail closed. */
		t->st.malformed++;
		res->decision = TLA_DROP;
		return;
	}
	if (to_server)
		p2s_packet(t, c, pkt, &p, now, res);
	else
		s2p_packet(t, c, pkt, &p, res);
	if (!c->closed_ms && (c->rst || (c->fin_p && c->fin_s)))
		c->closed_ms = now;
}

void tla_tick(struct tla *t, uint64_t now)
{
	struct tla_conn *c = t->lru_head, *next;
	for (; c; c = next) {
		next = c->next;
		bool idle = now - c->last_ms > t->cfg.idle_ms;
		bool done = c->closed_ms && now - c->closed_ms > t->cfg.linger_ms;
		if (idle || done) {
			if (idle)
				t->st.conns_expired++;
			else
				t->st.conns_closed++;
			conn_remove(t, c);
			continue;
		}
		age_saved(t, c, now);
		if (c->resending)
			tla_resend_pump(t, c, now);
	}
}
