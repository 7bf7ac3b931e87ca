/* relay_ctl - the 2CA relay's control requests: the state machine of the
 * TLA (nfq/core/tla_ctl.c) on byte streams. The checks are the same and
 * come first, so a refused request changes nothing:
 * - START: in_start within what was written to the server, and still
 *   saved; out_start not before what was read from the server, not inside
 *   a discarded range, not before the last commit point.
 * - COMMIT/ABORT: the transaction's own start offsets; in_end within what
 *   was written to the server; out_end not before what was read.
 * - RESTART: after an ABORT, before the peer's EOF.
 * Offsets are plain byte counts of the server's connection (from 0). */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "relay.h"

static struct pair *find(struct relay *r, const struct tx_conn_id *id)
{
	for (struct pair *p = r->pairs; p; p = p->next)
		if (p->connected && p->id.peer_addr == id->peer_addr &&
		    p->id.peer_port == id->peer_port && p->id.server_addr == id->server_addr &&
		    p->id.server_port == id->server_port)
			return p;
	return NULL;
}

static uint64_t last_discard_end(const struct pair *p)
{
	return p->ndis ? p->dis_to[p->ndis - 1] : 0;
}

static int do_start(struct pair *p, const struct tx_msg *m)
{
	if (p->state == RS_IN_TRANS || p->open_gap)
		return TX_R_STATE;
	if (m->in_start > p->s_sent || m->out_start < p->srv_rcvd)
		return TX_R_OFFSETS;
	if (m->out_start < last_discard_end(p))
		return TX_R_OFFSETS;
	if (p->state == RS_COMMITTED && m->out_start < p->commit_end)
		return TX_R_OFFSETS;
	if (m->in_start < p->s_base)
		return TX_R_SAVED_LIMIT;
	saved_purge_to(p, m->in_start);
	p->in_start = m->in_start;
	p->out_start = p->hold_from = m->out_start;
	p->state = RS_IN_TRANS;
	p->failed = 0;
	p->save_broken = false;
	p->txn = m->txn;
	return 0;
}

static int check_end(const struct pair *p, const struct tx_msg *m)
{
	if (m->in_start != p->in_start || m->out_start != p->out_start)
		return TX_R_OFFSETS;
	if (m->in_end < m->in_start || m->in_end > p->s_sent || m->out_end < m->out_start ||
	    m->out_end < p->srv_rcvd)
		return TX_R_OFFSETS;
	return 0;
}

static int do_commit(struct relay *r, struct pair *p, const struct tx_msg *m)
{
	if (p->state != RS_IN_TRANS)
		return TX_R_STATE;
	int rc = check_end(p, m);
	if (rc)
		return rc;
	if (p->failed == TX_R_HELD_LIMIT)
		return TX_R_HELD_LIMIT;
	if (p->held.len &&
	    buf_append(&p->to_peer, p->held.p + p->held.head, p->held.len, UINT64_MAX) < 0)
		return TX_R_NOMEM;
	r->st.released_bytes += p->held.len;
	buf_consume(&p->held, p->held.len);
	p->hold_from = UINT64_MAX;
	p->commit_end = m->out_end;
	p->state = p->srv_rcvd >= m->out_end ? RS_PRE_TRANS : RS_COMMITTED;
	p->failed = 0;
	saved_purge_to(p, m->in_end);
	return 0;
}

static int do_abort(struct relay *r, struct pair *p, const struct tx_msg *m)
{
	bool lost = p->state == RS_ABORTED && p->open_gap;
	if (p->state != RS_IN_TRANS && !lost)
		return TX_R_STATE;
	int rc = check_end(p, m);
	if (rc)
		return rc;
	if (!lost && p->ndis == RELAY_MAX_DISCARD && p->srv_rcvd < m->out_end)
		return TX_R_NOMEM;
	if (lost) {
		p->dis_to[p->ndis - 1] = m->out_end;
		p->open_gap = false;
	} else if (p->srv_rcvd < m->out_end) {
		p->dis_from[p->ndis] = p->srv_rcvd;
		p->dis_to[p->ndis] = m->out_end;
		p->ndis++;
	}
	r->st.discarded_bytes += p->held.len;
	buf_consume(&p->held, p->held.len);
	p->hold_from = UINT64_MAX;
	p->state = RS_ABORTED;
	p->failed = 0;
	return 0;
}

static int do_restart(struct relay *r, struct pair *p, struct tx_msg *ans)
{
	if (p->state != RS_ABORTED || p->open_gap)
		return TX_R_STATE;
	if (p->peer_eof)
		return TX_R_CLOSED;
	if (p->save_broken || p->in_start < p->s_base)
		return TX_R_SAVED_LIMIT;
	uint64_t h = p->s_end, d1 = h - p->in_start;
	if (h - p->s_base + d1 > r->cfg.max_saved + r->cfg.max_queue)
		return TX_R_SAVED_LIMIT;
	if (d1) {
		uint8_t *copy = malloc((size_t)d1);
		if (!copy)
			return TX_R_NOMEM;
		memcpy(copy, p->saved.p + p->saved.head + (p->in_start - p->s_base), (size_t)d1);
		int rc = buf_append(&p->saved, copy, (size_t)d1, UINT64_MAX);
		free(copy);
		if (rc < 0)
			return TX_R_NOMEM;
		p->s_end += d1;
	}
	saved_purge_to(p, h);
	ans->in_start = h;
	ans->in_end = h + d1;
	p->state = RS_PRE_TRANS;
	r->st.restarts++;
	r->st.resend_bytes += d1;
	return 0;
}

void relay_request(void *ctx, uint64_t owner, const struct tx_msg *req, struct tx_msg *ans)
{
	struct relay *r = ctx;
	struct pair *p = find(r, &req->conn);
	int rc = 0;
	tx_reply(req, 0, ans);
	if (!p)
		rc = TX_R_UNKNOWN_CONN;
	else if (p->owner && p->owner != owner)
		rc = TX_R_BUSY;
	else if (p->dead)
		rc = TX_R_CLOSED;
	else if (req->op == TX_START)
		rc = do_start(p, req);
	else if (req->op == TX_COMMIT)
		rc = do_commit(r, p, req);
	else if (req->op == TX_ABORT)
		rc = do_abort(r, p, req);
	else if (req->op == TX_RESTART)
		rc = do_restart(r, p, ans);
	else
		rc = TX_R_MALFORMED;
	if (rc) {
		tx_reply(req, rc, ans);
		r->st.ctl_fail[rc]++;
		return;
	}
	r->st.ctl_ok[req->op]++;
	p->owner = owner;
	pair_update(p); /* may free p */
}

void relay_owner_closed(void *ctx, uint64_t owner)
{
	struct relay *r = ctx;
	for (struct pair *p = r->pairs; p; p = p->next) {
		if (p->owner != owner)
			continue;
		p->owner = 0;
		if (p->state != RS_IN_TRANS)
			continue;
		/* Where the transaction ends is unknown until a new control
		 * connection says so: discard all the server sends from now. */
		r->st.owner_lost++;
		r->st.discarded_bytes += p->held.len;
		buf_consume(&p->held, p->held.len);
		if (p->ndis == RELAY_MAX_DISCARD)
			p->ndis--;
		p->dis_from[p->ndis] = p->srv_rcvd;
		p->dis_to[p->ndis] = UINT64_MAX;
		p->ndis++;
		p->open_gap = true;
		p->hold_from = UINT64_MAX;
		p->state = RS_ABORTED;
	}
}

void relay_age(struct relay *r, struct pair *p, uint64_t now)
{
	if (p->state == RS_IN_TRANS || p->state == RS_ABORTED || p->s_base == p->s_end)
		return;
	if (now - p->save_ms > r->cfg.pretrans_age_ms) {
		uint64_t before = p->s_base;
		saved_purge_to(p, p->s_sent);
		r->st.aged_bytes += p->s_base - before;
		p->save_ms = now;
	}
}
