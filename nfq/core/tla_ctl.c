/* tla_ctl - the control requests of the TLA (thesis §6.3.1.1-6.3.1.3).
 *
 * Every request is checked completely before anything changes, so a
 * request with wrong offsets, for an unknown connection or in the wrong
 * state is answered TX_FAILURE and leaves the connection exactly as it
 * was. What the checks enforce, and why:
 * - START: the server cannot have read peer bytes the logger never
 *   forwarded (in_start <= saved end) nor written server bytes the logger
 *   already forwarded (out_start >= highest server byte seen, and not
 *   inside a discarded range or before the last commit point); the peer
 *   bytes from in_start on must still be saved, else the transaction could
 *   not be restarted (TX_R_SAVED_LIMIT).
 * - COMMIT/ABORT: the start offsets must be the transaction's own; every
 *   server byte held must lie before out_end.
 * - RESTART: only after an ABORT; refused once the peer has sent its FIN
 *   (no byte can be delivered to the server after it).
 * A connection belongs to the first control connection that succeeds on
 * it; others get TX_R_BUSY until that one closes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tla_int.h"

#define MAX_OFFSET ((uint64_t)1 << 62)

static int do_start(struct tla *t, struct tla_conn *c, const struct tx_msg *req)
{
	uint64_t in = req->in_start + 1, out = req->out_start + 1;
	if (c->state == TLA_IN_TRANS || tla_map_open(&c->s2p))
		return TX_R_STATE;
	if (in > c->s_end || out < c->srv_high)
		return TX_R_OFFSETS;
	if (c->s2p.n && out < c->s2p.g[c->s2p.n - 1].start + c->s2p.g[c->s2p.n - 1].len)
		return TX_R_OFFSETS;
	if (c->state == TLA_COMMITTED && out < c->commit_end)
		return TX_R_OFFSETS;
	if (in < c->s_base)
		return TX_R_SAVED_LIMIT;
	tla_saved_purge_to(t, c, in);
	c->in_start = in;
	c->out_start = out;
	c->in_end = c->out_end = 0;
	c->hold_from = out;
	c->state = TLA_IN_TRANS;
	c->failed = 0;
	c->failed_notified = false;
	c->save_broken = false;
	c->txn = req->txn;
	return 0;
}

/* The end checks COMMIT and ABORT share. */
static int check_end(const struct tla_conn *c, const struct tx_msg *req)
{
	uint64_t in_s = req->in_start + 1, in_e = req->in_end + 1;
	uint64_t out_s = req->out_start + 1, out_e = req->out_end + 1;
	uint64_t data_high = c->srv_high - (c->fin_s ? 1 : 0);
	if (in_s != c->in_start || out_s != c->out_start)
		return TX_R_OFFSETS;
	if (in_e < in_s || in_e > c->s_end || out_e < out_s || out_e < c->held_high)
		return TX_R_OFFSETS;
	if (data_high > out_e)
		return TX_R_OFFSETS;
	return 0;
}

static int do_commit(struct tla *t, struct tla_conn *c, const struct tx_msg *req)
{
	if (c->state != TLA_IN_TRANS)
		return TX_R_STATE;
	int r = check_end(c, req);
	if (r)
		return r;
	if (c->failed == TX_R_HELD_LIMIT)
		return TX_R_HELD_LIMIT;
	uint64_t in_e = req->in_end + 1, out_e = req->out_end + 1;
	tla_held_release_all(t, c);
	c->hold_from = TLA_NONE;
	c->in_end = in_e;
	c->out_end = c->commit_end = out_e;
	c->state = c->srv_high >= out_e ? TLA_PRE_TRANS : TLA_COMMITTED;
	c->failed = 0;
	tla_saved_purge_to(t, c, in_e);
	return 0;
}

static int do_abort(struct tla *t, struct tla_conn *c, const struct tx_msg *req)
{
	bool lost = c->state == TLA_ABORTED && tla_map_open(&c->s2p);
	if (c->state != TLA_IN_TRANS && !lost)
		return TX_R_STATE;
	int r = check_end(c, req);
	if (r)
		return r;
	uint64_t out_s = req->out_start + 1, out_e = req->out_end + 1;
	if (lost) {
		if (tla_map_close(&c->s2p, out_e) < 0)
			return TX_R_OFFSETS;
	} else {
		int k = tla_map_add(&c->s2p, out_s, out_e - out_s, false);
		if (k < 0)
			return TX_R_OFFSETS;
		t->st.map_collapsed += (uint64_t)k;
	}
	t->st.discarded_bytes += c->held_bytes;
	tla_held_drop_all(t, c);
	c->hold_from = TLA_NONE;
	c->in_end = req->in_end + 1;
	c->out_end = out_e;
	c->state = TLA_ABORTED;
	c->failed = 0;
	tla_fake_ack(t, c, 0);
	return 0;
}

/* Resends saved [from, s_end) to the server (server numbering). */
static void start_resend(struct tla *t, struct tla_conn *c, uint64_t from, uint64_t now)
{
	if (c->resending) {
		splice_inject_free(&c->resend);
		c->resending = false;
	}
	struct tcp_segment_spec tmpl = {
	    .saddr = c->key.peer_addr,
	    .daddr = c->key.server_addr,
	    .sport = c->key.peer_port,
	    .dport = c->key.server_port,
	    .window = c->peer_win,
	    .timestamp = c->ts_ok,
	};
	uint16_t mss = (uint16_t)(c->mss_s > 100 ? c->mss_s - (c->ts_ok ? 12 : 0) : 536);
	uint32_t wnd = c->srv_wnd_bytes ? c->srv_wnd_bytes : 65535;
	if (from < c->s_base ||
	    splice_inject_init(&c->resend, &tmpl, c->isn_p + (uint32_t)from,
			       c->saved + c->saved_head + (from - c->s_base),
			       (size_t)(c->s_end - from), mss, wnd, t->cfg.resend_rto_ms,
			       t->cfg.resend_retries) < 0) {
		t->st.resend_failed++;
		return;
	}
	c->resending = true;
	c->resend_from = from;
	tla_resend_pump(t, c, now);
}

static int do_restart(struct tla *t, struct tla_conn *c, uint64_t now, struct tx_msg *ans)
{
	if (c->state != TLA_ABORTED || tla_map_open(&c->s2p))
		return TX_R_STATE;
	if (c->fin_p)
		return TX_R_CLOSED;
	if (c->save_broken || c->in_start < c->s_base)
		return TX_R_SAVED_LIMIT;
	uint64_t h = c->s_end, d1 = h - c->in_start;
	/* Bytes an earlier restart is still resending stay saved and are
	 * resent again together with the new copy. */
	uint64_t from = h;
	if (c->resending && c->resend_from + c->resend.acked < from)
		from = c->resend_from + c->resend.acked;
	if (from < c->s_base)
		from = c->s_base;
	if (h - from + d1 > t->cfg.max_saved)
		return TX_R_SAVED_LIMIT;
	if (d1) {
		uint8_t *copy = malloc((size_t)d1);
		if (!copy)
			return TX_R_NOMEM;
		memcpy(copy, c->saved + c->saved_head + (c->in_start - c->s_base), (size_t)d1);
		tla_saved_purge_to(t, c, from);
		int k = tla_map_add(&c->p2s, h, d1, false);
		if (k > 0)
			t->st.map_collapsed += (uint64_t)k;
		tla_saved_append(t, c, copy, (size_t)d1, now);
		free(copy);
		start_resend(t, c, from, now);
	}
	ans->in_start = h - 1;
	ans->in_end = h + d1 - 1;
	c->state = TLA_PRE_TRANS;
	t->st.restarts++;
	t->st.resend_bytes += d1;
	return 0;
}

void tla_control(struct tla *t, uint64_t owner, const struct tx_msg *req, uint64_t now,
		 struct tx_msg *ans)
{
	int r = 0;
	struct tla_conn *c = tla_find(t, &req->conn);
	tx_reply(req, 0, ans);
	if (req->in_start >= MAX_OFFSET || req->in_end >= MAX_OFFSET ||
	    req->out_start >= MAX_OFFSET || req->out_end >= MAX_OFFSET)
		r = TX_R_OFFSETS;
	else if (!c || !c->have_isn_p || !c->have_isn_s)
		r = TX_R_UNKNOWN_CONN;
	else if (c->owner && c->owner != owner)
		r = TX_R_BUSY;
	else if (c->rst)
		r = TX_R_CLOSED;
	else {
		switch (req->op) {
		case TX_START:
			r = do_start(t, c, req);
			break;
		case TX_COMMIT:
			r = do_commit(t, c, req);
			break;
		case TX_ABORT:
			r = do_abort(t, c, req);
			break;
		case TX_RESTART:
			r = do_restart(t, c, now, ans);
			break;
		default:
			r = TX_R_MALFORMED;
		}
	}
	if (r) {
		tx_reply(req, r, ans);
		t->st.ctl_fail[r]++;
		return;
	}
	c->owner = owner;
	c->last_ms = now;
	t->st.ctl_ok[req->op]++;
}

void tla_owner_closed(struct tla *t, uint64_t owner, uint64_t now)
{
	for (struct tla_conn *c = t->lru_head; c; c = c->next) {
		if (c->owner != owner)
			continue;
		c->owner = 0;
		c->last_ms = now;
		if (c->state != TLA_IN_TRANS)
			continue;
		/* Nobody can say where the transaction ends: everything the
		 * server sends from its start on is discarded until a new
		 * control connection closes the range with TX_ABORT. */
		t->st.owner_lost++;
		t->st.discarded_bytes += c->held_bytes;
		tla_held_drop_all(t, c);
		int k = tla_map_add(&c->s2p, c->out_start, 0, true);
		if (k > 0)
			t->st.map_collapsed += (uint64_t)k;
		c->hold_from = TLA_NONE;
		c->state = TLA_ABORTED;
		tla_fake_ack(t, c, 0);
	}
}
