/* txn_log - see txn_log.h.
 *
 * Per segment: flow_table_input() feeds the reassembly, whose consumers
 * (on_data / on_gap / on_fin below) feed the connection's txn_parser. The
 * parser's events are not passed on at once: they are recorded (event,
 * ordinal, offset) while the parser runs over the bytes, then the bytes are
 * routed message by message (kept in byte_store, or hashed when a message
 * outgrows max_kept_message), and only then are the events dispatched to
 * the observers. That order lets an observer find a message's bytes (or
 * its hash) in place when it hears that the message ended. The routing is
 * in txn_log_route.c; this file owns connections, transactions, events. */
#include "txn_log_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "packet.h"
#include "stats.h"

_Static_assert((int)FLOW_C2S == (int)TXN_DIR_REQUEST && (int)FLOW_S2C == (int)TXN_DIR_RESPONSE,
	       "flow and txn directions must agree");
_Static_assert((int)BS_REQ == (int)TXN_DIR_REQUEST && (int)BS_RESP == (int)TXN_DIR_RESPONSE,
	       "byte store and txn directions must agree");

#define EVENTS_MAX (1u << 16)

/* ---- connections by id ---- */

static uint32_t id_hash(const struct txn_log *l, int64_t id)
{
	return (uint32_t)(((uint64_t)id * 0x9e3779b97f4a7c15ull) >> 32) & l->id_mask;
}

static void id_insert(struct txn_log *l, struct tl_conn *c)
{
	uint32_t h = id_hash(l, c->pub.conn_id);
	c->hnext = l->by_id[h];
	l->by_id[h] = c;
}

static void id_remove(struct txn_log *l, struct tl_conn *c)
{
	struct tl_conn **pp = &l->by_id[id_hash(l, c->pub.conn_id)];
	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
}

const struct txn_log_conn *txn_log_conn_by_id(const struct txn_log *l, int64_t conn_id)
{
	const struct tl_conn *c = l->by_id[id_hash(l, conn_id)];
	while (c && c->pub.conn_id != conn_id)
		c = c->hnext;
	return c ? &c->pub : NULL;
}

/* ---- transactions ---- */

struct tl_txn *tl_txn_find(struct tl_conn *c, uint32_t ordinal)
{
	for (uint32_t i = c->ntx; i-- > 0;)
		if (c->tx[i].pub.ordinal == ordinal)
			return &c->tx[i];
	return NULL;
}

static struct tl_txn *txn_new(struct txn_log *l, struct tl_conn *c, const struct txn *t)
{
	if (c->ntx == c->captx) {
		uint32_t cap = c->captx ? c->captx * 2 : 4;
		if (cap > l->max_records) {
			l->st.nomem++;
			return NULL;
		}
		struct tl_txn *n = realloc(c->tx, cap * sizeof(*n));
		if (!n) {
			l->st.nomem++;
			return NULL;
		}
		c->tx = n;
		c->captx = cap;
	}
	struct tl_txn *x = &c->tx[c->ntx++];
	memset(x, 0, sizeof(*x));
	x->pub.ordinal = t->ordinal;
	x->pub.txn_id = txn_id_make(c->pub.caddr, c->pub.cport, (uint16_t)t->ordinal);
	x->pub.req_start = t->req_start;
	x->pub.req_first_us = l->now_us;
	x->pub.tag_rule = -1;
	c->pub.txns++;
	l->st.txns_begun++;
	return x;
}

/* Copies what the parser knows after `ev` into our record. */
static void txn_update(struct txn_log *l, struct tl_conn *c, struct tl_txn *x, enum txn_event ev,
		       const struct txn *t)
{
	struct txn_log_txn *p = &x->pub;
	p->flags = t->flags;
	if (t->status)
		p->status = t->status;
	switch (ev) {
	case TXN_EV_REQUEST_HEAD:
		p->head_known = true;
		memcpy(p->method, t->method, sizeof(p->method));
		memcpy(p->target, t->target, sizeof(p->target));
		p->method[sizeof(p->method) - 1] = '\0';
		p->target[sizeof(p->target) - 1] = '\0';
		if (t->has_txn_id) {
			p->has_aux_id = true;
			p->aux_id = t->txn_id;
		}
		struct tag_match m =
		    tags_match_txn(&l->tags, (enum txn_proto)c->pub.proto, t, &l->tag_st);
		p->tags = m.tags;
		p->tag_rule = m.rule;
		p->tag_line = m.line;
		break;
	case TXN_EV_REQUEST_END:
		p->req_done = true;
		p->req_end = t->req_end;
		p->req_done_us = l->now_us;
		break;
	case TXN_EV_RESPONSE_BEGIN:
		if (!p->resp_started) {
			p->resp_started = true;
			p->resp_start = t->resp_start;
			p->resp_end = t->resp_start;
			p->resp_first_us = l->now_us;
		}
		break;
	case TXN_EV_RESPONSE_END:
		p->resp_done = true;
		p->resp_end = t->resp_end;
		p->resp_done_us = l->now_us;
		if (p->ordinal > c->pub.t_l) {
			c->pub.t_l = p->ordinal;
			c->pub.ack_tl = t->resp_end;
		}
		break;
	case TXN_EV_END:
		p->end = t->end;
		/* A request that never got its head may still have shown its
		 * target (the request line): keep it for the summary. */
		if (!p->head_known) {
			memcpy(p->method, t->method, sizeof(p->method));
			memcpy(p->target, t->target, sizeof(p->target));
			p->method[sizeof(p->method) - 1] = '\0';
			p->target[sizeof(p->target) - 1] = '\0';
		}
		break;
	default:
		break;
	}
}

static void ev_push(struct txn_log *l, enum txn_event ev, uint32_t ordinal, uint64_t off)
{
	if (l->nev == l->capev) {
		uint32_t cap = l->capev ? l->capev * 2 : 64;
		struct tl_ev *n = cap <= EVENTS_MAX ? realloc(l->evs, cap * sizeof(*n)) : NULL;
		if (!n) {
			l->st.events_dropped++;
			return;
		}
		l->evs = n;
		l->capev = cap;
	}
	l->evs[l->nev++] = (struct tl_ev){.ev = (uint8_t)ev, .ordinal = ordinal, .off = off};
}

/* The parser's consumer: update the record now, dispatch later. */
static void on_txn_event(void *ctx, enum txn_event ev, const struct txn *t)
{
	struct tl_conn *c = ctx;
	struct txn_log *l = c->log;
	struct tl_txn *x =
	    ev == TXN_EV_REQUEST_BEGIN ? txn_new(l, c, t) : tl_txn_find(c, t->ordinal);
	uint64_t off = 0;

	switch (ev) {
	case TXN_EV_REQUEST_BEGIN:
		off = t->req_start;
		break;
	case TXN_EV_REQUEST_END:
		off = t->req_end;
		break;
	case TXN_EV_RESPONSE_BEGIN:
		off = t->resp_start;
		break;
	case TXN_EV_RESPONSE_END:
		off = t->resp_end;
		break;
	default:
		break;
	}
	if (x)
		txn_update(l, c, x, ev, t);
	ev_push(l, ev, t->ordinal, off);
}

/* ---- dispatch ---- */

enum notify {
	N_CONN_OPEN,
	N_CONN_UPDATE,
	N_CONN_CLOSE,
	N_MARKS,
	N_CLIENT_WINDOW,
	N_BATCH_END,
	N_TICK,
	N_TXN_BEGIN,
	N_REQ_DONE,
	N_RESP_FIRST,
	N_RESP_PROGRESS,
	N_RESP_DONE,
	N_TXN_END,
};

/* Calls every observer's callback for event n (those that have one). */
static void notify(struct txn_log *l, enum notify n, const struct tl_conn *c,
		   const struct txn_log_txn *t, uint64_t t_us)
{
	for (const struct txn_log_observer *o = l->obs; o < l->obs + l->nobs; o++) {
		switch (n) {
		case N_CONN_OPEN:
			if (o->conn_open)
				o->conn_open(o->ctx, &c->pub);
			break;
		case N_CONN_UPDATE:
			if (o->conn_update)
				o->conn_update(o->ctx, &c->pub);
			break;
		case N_CONN_CLOSE:
			if (o->conn_close)
				o->conn_close(o->ctx, &c->pub);
			break;
		case N_MARKS:
			if (o->marks)
				o->marks(o->ctx, &c->pub);
			break;
		case N_CLIENT_WINDOW:
			if (o->client_window)
				o->client_window(o->ctx, &c->pub, t_us);
			break;
		case N_BATCH_END:
			if (o->batch_end)
				o->batch_end(o->ctx);
			break;
		case N_TICK:
			if (o->tick)
				o->tick(o->ctx, t_us);
			break;
		case N_TXN_BEGIN:
			if (o->txn_begin)
				o->txn_begin(o->ctx, &c->pub, t);
			break;
		case N_REQ_DONE:
			if (o->txn_request_done)
				o->txn_request_done(o->ctx, &c->pub, t, t_us);
			break;
		case N_RESP_FIRST:
			if (o->txn_response_first_byte)
				o->txn_response_first_byte(o->ctx, &c->pub, t, t_us);
			break;
		case N_RESP_PROGRESS:
			if (o->txn_response_progress)
				o->txn_response_progress(o->ctx, &c->pub, t, t_us);
			break;
		case N_RESP_DONE:
			if (o->txn_response_done)
				o->txn_response_done(o->ctx, &c->pub, t, t_us);
			break;
		case N_TXN_END:
			if (o->txn_end)
				o->txn_end(o->ctx, &c->pub, t);
			break;
		}
	}
}

static void sync_isns(struct tl_conn *c)
{
	const struct flow_entry *e = c->e;
	if (!e)
		return;
	for (int d = 0; d < 2; d++) {
		const struct tcp_stream *s = &e->dir[d];
		if (!s->started)
			continue;
		if (d == FLOW_C2S && !c->pub.isn_client_known) {
			c->pub.isn_client_known = true;
			c->pub.isn_client = s->isn;
		} else if (d == FLOW_S2C && !c->pub.isn_server_known) {
			c->pub.isn_server_known = true;
			c->pub.isn_server = s->isn;
		}
		if (s->midstream)
			c->pub.midstream = true;
	}
}

void tl_ensure_open(struct txn_log *l, struct tl_conn *c)
{
	if (c->opened)
		return;
	sync_isns(c);
	c->opened = true;
	c->server_isn_told = c->pub.isn_server_known;
	l->st.conns_opened++;
	notify(l, N_CONN_OPEN, c, NULL, 0);
}

static void ensure_begin(struct txn_log *l, struct tl_conn *c, struct tl_txn *x)
{
	if (x->begun)
		return;
	x->begun = true;
	notify(l, N_TXN_BEGIN, c, &x->pub, x->pub.req_first_us);
}

static void index_put(struct txn_log *l, struct tl_conn *c, const struct tl_txn *x)
{
	if (!c->bs)
		return;
	const struct txn_log_txn *p = &x->pub;
	struct byte_store_txn b = {
	    .ordinal = p->ordinal,
	    .tags = p->tags,
	    .req_start = p->req_start,
	    .req_end = p->req_done ? p->req_end : 0,
	    .resp_start = p->resp_start,
	    .resp_end = p->resp_end,
	};
	b.flags =
	    (p->req_done ? BS_TXN_REQ_DONE : 0) | (p->resp_started ? BS_TXN_RESP_STARTED : 0) |
	    (p->resp_done ? BS_TXN_RESP_DONE : 0) | (p->req_hashed ? BS_TXN_REQ_HASHED : 0) |
	    (p->resp_hashed ? BS_TXN_RESP_HASHED : 0) | (p->req_hash_ok ? BS_TXN_REQ_HASH_OK : 0) |
	    (p->resp_hash_ok ? BS_TXN_RESP_HASH_OK : 0) |
	    (p->end != TXN_END_OPEN ? BS_TXN_ENDED : 0);
	memcpy(b.req_sha256, p->req_sha256, 32);
	memcpy(b.resp_sha256, p->resp_sha256, 32);
	byte_store_txn_put(l->bs, c->bs, &b);
}

/* Delivers the events recorded since tl_ev_begin(), then forgets the
 * transactions that ended. */
void tl_dispatch(struct txn_log *l, struct tl_conn *c)
{
	tl_ensure_open(l, c);
	if (c->progress_ord) {
		struct tl_txn *x = tl_txn_find(c, c->progress_ord);
		c->progress_ord = 0;
		if (x && x->begun)
			notify(l, N_RESP_PROGRESS, c, &x->pub, l->now_us);
	}
	for (uint32_t i = 0; i < l->nev; i++) {
		const struct tl_ev *ev = &l->evs[i];
		struct tl_txn *x = tl_txn_find(c, ev->ordinal);
		if (!x || ev->ev == TXN_EV_REQUEST_BEGIN || ev->ev == TXN_EV_RESPONSE_HEAD)
			continue;
		ensure_begin(l, c, x);
		const struct txn_log_txn *t = &x->pub;
		switch (ev->ev) {
		case TXN_EV_REQUEST_END:
			notify(l, N_REQ_DONE, c, t, t->req_done_us);
			break;
		case TXN_EV_RESPONSE_BEGIN:
			notify(l, N_RESP_FIRST, c, t, t->resp_first_us);
			break;
		case TXN_EV_RESPONSE_END:
			if (t->flags & TXN_F_CONN_CLOSE)
				c->close_announced = true;
			notify(l, N_RESP_DONE, c, t, t->resp_done_us);
			break;
		case TXN_EV_END:
			x->ended = true;
			l->st.txns_ended++;
			if (t->end == TXN_END_COMPLETE)
				l->st.txns_complete++;
			notify(l, N_TXN_END, c, t, 0);
			break;
		default:
			break;
		}
		index_put(l, c, x);
	}
	l->nev = 0;
	notify(l, N_BATCH_END, c, NULL, 0);
	uint32_t j = 0;
	for (uint32_t i = 0; i < c->ntx; i++)
		if (!c->tx[i].ended)
			c->tx[j++] = c->tx[i];
	c->ntx = j;
}

/* ---- stream consumers ---- */

/* The stream of dir was delivered (or skipped) up to end: observers of the
 * events that follow see the connection's byte marks include it. */
static void seen_until(struct tl_conn *c, int dir, uint64_t end)
{
	uint64_t *m = dir == FLOW_S2C ? &c->pub.server_bytes : &c->pub.client_bytes;
	if (end > *m)
		*m = end;
}

static void on_data(void *ctx, uint64_t off, const uint8_t *data, size_t len)
{
	struct tl_side *s = ctx;
	struct tl_conn *c = s->c;
	struct txn_log *l = c->log;
	if (c->pub.closed)
		return;
	l->nev = 0;
	if (c->parser)
		txn_parser_data(c->parser, (enum txn_dir)s->dir, off, data, len);
	tl_route(l, c, s->dir, off, data, len);
	seen_until(c, s->dir, off + len);
	tl_dispatch(l, c);
}

static void on_gap(void *ctx, uint64_t off, uint64_t len)
{
	struct tl_side *s = ctx;
	struct tl_conn *c = s->c;
	struct txn_log *l = c->log;
	if (c->pub.closed)
		return;
	l->nev = 0;
	if (c->parser)
		txn_parser_gap(c->parser, (enum txn_dir)s->dir, off, len);
	tl_route(l, c, s->dir, off, NULL, len);
	seen_until(c, s->dir, off + len);
	tl_dispatch(l, c);
}

static void on_fin(void *ctx, uint64_t off)
{
	struct tl_side *s = ctx;
	struct tl_conn *c = s->c;
	struct txn_log *l = c->log;
	if (c->pub.closed)
		return;
	l->nev = 0;
	if (c->parser)
		txn_parser_eof(c->parser, (enum txn_dir)s->dir);
	tl_route(l, c, s->dir, off, NULL, 0);
	tl_dispatch(l, c);
}

/* ---- marks ---- */

/* A client that stops reading closes its window and the server falls
 * silent: observers that time the server (failure detection) must know.
 * The raw field is enough: zero is zero at any window scale. */
static void note_client_window(struct txn_log *l, struct tl_conn *c, uint8_t flags, uint16_t window)
{
	if (!(flags & TCP_FL_ACK) || (flags & (TCP_FL_SYN | TCP_FL_RST)))
		return;
	bool closed = window == 0;
	if (closed == c->pub.client_window_closed)
		return;
	c->pub.client_window_closed = closed;
	if (closed)
		l->st.client_window_closed++;
	if (c->opened && !c->pub.closed)
		notify(l, N_CLIENT_WINDOW, c, NULL, l->now_us);
}

static void sync_marks(struct txn_log *l, struct tl_conn *c)
{
	const struct flow_entry *e = c->e;
	if (!e)
		return;
	const struct tcp_stream *s2c = &e->dir[FLOW_S2C], *c2s = &e->dir[FLOW_C2S];
	if (s2c->ack_seen && (!c->pub.ack_cl_known || s2c->ack_off > c->pub.ack_cl)) {
		c->pub.ack_cl_known = true;
		c->pub.ack_cl = s2c->ack_off;
		if (c->bs && byte_store_has_provisional(c->bs, BS_RESP))
			byte_store_trim(l->bs, c->bs, BS_RESP, c->pub.ack_cl);
	}
	if (s2c->next_off > c->pub.server_bytes)
		c->pub.server_bytes = s2c->next_off;
	if (c2s->next_off > c->pub.client_bytes)
		c->pub.client_bytes = c2s->next_off;
	c->pub.fin_client = c2s->fin_seen;
	c->pub.fin_server = s2c->fin_seen;
	if (c2s->fin_seen && !s2c->fin_seen)
		c->fin_first = 1;
	else if (s2c->fin_seen && !c2s->fin_seen)
		c->fin_first = 2;
	c->pub.rst_client = c2s->rst_seen;
	c->pub.rst_server = s2c->rst_seen;
	c->pub.last_us = l->now_us;
	if (c->parser)
		c->pub.parse_state = txn_parser_state(c->parser);
	if (c->pub.ack_cl != c->m_ack || c->pub.ack_cl_known != c->m_ack_known ||
	    c->pub.server_bytes != c->m_srv || c->pub.client_bytes != c->m_cli)
		c->marks_dirty = true;
}

static void emit_marks(struct txn_log *l, struct tl_conn *c, bool force)
{
	if (!c->marks_dirty || !c->opened)
		return;
	if (!force && c->marks_us && l->now_us - c->marks_us < l->cfg.marks_interval_ms * 1000)
		return;
	c->marks_dirty = false;
	c->marks_us = l->now_us ? l->now_us : 1;
	c->m_ack = c->pub.ack_cl;
	c->m_ack_known = c->pub.ack_cl_known;
	c->m_srv = c->pub.server_bytes;
	c->m_cli = c->pub.client_bytes;
	l->st.marks_events++;
	notify(l, N_MARKS, c, NULL, 0);
}

/* ---- connection lifecycle ---- */

/* Ends the connection for the observers: what the streams still hold is
 * delivered, open transactions end (abort), marks, conn_close. The entry
 * may stay in the flow table (lingering) to absorb late segments. */
static void conn_end(struct txn_log *l, struct tl_conn *c, enum flow_close_reason why)
{
	if (c->pub.closed)
		return;
	if (c->e) {
		uint64_t now_ms = l->now_us / 1000;
		tcp_stream_flush(&c->e->dir[FLOW_C2S], now_ms);
		tcp_stream_flush(&c->e->dir[FLOW_S2C], now_ms);
		sync_marks(l, c);
	}
	l->nev = 0;
	if (c->parser) {
		c->pub.parse_state = txn_parser_state(c->parser);
		txn_parser_end(c->parser, TXN_END_ABORT);
	}
	tl_route_close_all(l, c);
	tl_dispatch(l, c);
	c->pub.closed_by_server = c->pub.rst_server || c->fin_first == 2;
	c->pub.close_reason = why;
	c->pub.close_us = l->now_us;
	emit_marks(l, c, true);
	c->pub.closed = true;
	l->st.conns_closed++;
	if (why == FLOW_CLOSE_FINISHED) {
		if (c->pub.rst_client || c->pub.rst_server)
			l->st.closed_rst++;
		else
			l->st.closed_fin++;
	} else if (why == FLOW_CLOSE_IDLE) {
		l->st.closed_idle++;
	} else {
		l->st.closed_other++;
	}
	notify(l, N_CONN_CLOSE, c, NULL, 0);
	if (c->bs) {
		byte_store_close(l->bs, c->bs);
		c->bs = NULL;
	}
	if (c->parser) {
		txn_parser_free(c->parser);
		c->parser = NULL;
	}
}

int tl_on_created(void *ctx, struct flow_entry *e, uint64_t now)
{
	(void)now;
	struct txn_log *l = ctx;
	int proto = l->port_proto[e->sport];
	if (!proto)
		return -1; /* counted by the table as refused */
	struct tl_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		l->st.nomem++;
		return -1;
	}
	c->log = l;
	c->e = e;
	c->pub.conn_id = l->next_id ? l->next_id(l->next_id_arg) : ++l->last_id;
	c->pub.caddr = e->caddr;
	c->pub.saddr = e->saddr;
	c->pub.cport = e->cport;
	c->pub.sport = e->sport;
	c->pub.proto = proto - 1;
	c->pub.open_us = l->now_us;
	c->pub.last_us = l->now_us;
	for (unsigned i = 0; i < l->cfg.n_backends; i++) {
		const struct txn_log_backend *b = &l->cfg.backends[i];
		if (b->addr == e->saddr && (!b->port || b->port == e->sport)) {
			c->pub.backend = b->name;
			break;
		}
	}
	struct txn_consumer tc = {.event = on_txn_event, .ctx = c};
	c->parser = txn_parser_new(&l->pctx[c->pub.proto], &tc);
	if (!c->parser)
		l->st.nomem++; /* the connection is still tracked, not parsed */
	c->bs = byte_store_open(l->bs, c->pub.conn_id);
	for (int d = 0; d < 2; d++) {
		c->side[d] = (struct tl_side){.c = c, .dir = d};
		struct tcp_stream_consumer sc = {
		    .data = on_data, .gap = on_gap, .fin = on_fin, .ctx = &c->side[d]};
		tcp_stream_set_consumer(&e->dir[d], &sc);
	}
	id_insert(l, c);
	e->user = c;
	return 0;
}

void tl_on_closed(void *ctx, struct flow_entry *e, enum flow_close_reason why)
{
	struct txn_log *l = ctx;
	struct tl_conn *c = e->user;
	if (!c)
		return;
	if (!c->opened && !c->pub.closed)
		tl_ensure_open(l, c);
	conn_end(l, c, l->finishing ? FLOW_CLOSE_DESTROYED : why);
	id_remove(l, c);
	e->user = NULL;
	free(c->tx);
	free(c);
}

/* After a segment: ISNs, marks, and the end of a connection that is over. */
static void after_segment(struct txn_log *l, struct tl_conn *c)
{
	if (c->pub.closed)
		return;
	tl_ensure_open(l, c);
	sync_isns(c);
	if (c->pub.isn_server_known && !c->server_isn_told) {
		c->server_isn_told = true;
		notify(l, N_CONN_UPDATE, c, NULL, 0);
	}
	sync_marks(l, c);
	const struct flow_entry *e = c->e;
	if (e->closed) {
		/* FIN both ways: give late data the hole timeout; RST: now. */
		bool rst = e->dir[0].rst_seen || e->dir[1].rst_seen;
		bool waiting = tcp_stream_waiting(&e->dir[0]) || tcp_stream_waiting(&e->dir[1]);
		if (rst || !waiting || l->now_us / 1000 - e->closed_at >= l->cfg.hole_timeout_ms) {
			conn_end(l, c, FLOW_CLOSE_FINISHED);
			return;
		}
	}
	emit_marks(l, c, false);
}

/* ---- packets ---- */

int txn_log_packet(struct txn_log *l, const uint8_t *pkt, size_t caplen, size_t wirelen,
		   uint64_t ts_us)
{
	struct tcp4_view v;
	l->st.packets++;
	l->st.bytes += caplen;
	if (ts_us < l->now_us) {
		l->st.clock_backwards++;
		ts_us = l->now_us;
	}
	l->now_us = ts_us;
	if (wirelen > caplen)
		l->st.cut_short++;
	if (!l->ft)
		return -ENOMEM; /* txn_log_finish could not rebuild the table */
	int rc = tcp4_view_parse(pkt, caplen, PKT_PARSE_ALLOW_TRUNCATED, &v);
	if (rc == PKT_ENOTTCP || rc == PKT_EVERSION) {
		l->st.not_ipv4_tcp++;
		return -ENOTSUP;
	}
	if (rc < 0) {
		l->st.malformed++;
		if (-rc < PKT_NERRORS)
			l->st.malformed_by[-rc]++;
		return -EBADMSG;
	}
	if (!l->port_proto[tcp4v_sport(&v)] && !l->port_proto[tcp4v_dport(&v)]) {
		l->st.not_service++;
		return -ENOENT;
	}
	struct flow_segment seg;
	flow_segment_from_view(&v, &seg);
	struct flow_entry *e = NULL;
	enum flow_dir dir = FLOW_C2S;
	rc = flow_table_input(l->ft, &seg, l->now_us / 1000, &e, &dir);
	if (!e) {
		if (rc == -ENOENT)
			l->st.untracked++;
		else
			l->st.refused++;
		return rc == -ENOENT ? -ENOENT : rc == -ENOMEM ? -ENOMEM : -ENOSPC;
	}
	if (e->user) {
		if (dir == FLOW_C2S)
			note_client_window(l, e->user, seg.flags, tcp4v_window(&v));
		after_segment(l, e->user);
	}
	return 0;
}

static int expire_one(void *ctx, struct flow_entry *e)
{
	struct txn_log *l = ctx;
	struct tl_conn *c = e->user;
	if (c && !c->pub.closed)
		after_segment(l, c); /* ended connections, due marks */
	return 0;
}

void txn_log_expire(struct txn_log *l, uint64_t now_us)
{
	if (now_us > l->now_us)
		l->now_us = now_us;
	if (!l->ft)
		return;
	flow_table_expire(l->ft, l->now_us / 1000);
	flow_table_foreach(l->ft, expire_one, l);
	notify(l, N_TICK, NULL, NULL, l->now_us);
}

uint64_t txn_log_now_us(const struct txn_log *l)
{
	return l->now_us;
}
