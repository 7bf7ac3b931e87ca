/* txn_log_route - where the bytes of each message go (txn_log.h).
 *
 * A segment's bytes are walked together with the parser events recorded
 * for them: a BEGIN event opens a message at its offset, an END event
 * closes it, and each stretch between two boundaries goes to the message
 * open at the time (or to no message: bytes between messages are kept,
 * because a resend from AckCL needs every server byte).
 *
 * A message is kept in byte_store until it grows beyond max_kept_message.
 * Then its bytes so far are fed into a SHA-256 state (read back from the
 * store) and the rest of it is hashed as it arrives: a request's bytes are
 * dropped (recovery cannot replay it from memory, which the hash flag
 * says); a response's bytes become provisional, kept only until the client
 * acknowledges them, so that a resend from AckCL still works while memory
 * stays within the TCP window. The digest covers the whole message (head
 * and body: what the peer receives), or the part that arrived when the
 * connection ended early (the paper's p bytes of T_L + 1). */
#include "txn_log_int.h"

#include <string.h>

enum route_action { ACT_NONE, ACT_OPEN, ACT_CLOSE, ACT_CLOSE_INCOMPLETE };

static void hash_piece(void *ctx, uint64_t off, const uint8_t *p, size_t n)
{
	(void)off;
	sha256_stream_update(ctx, p, n);
}

static void set_hashed(struct tl_conn *c, int dir, uint32_t ordinal)
{
	struct tl_txn *x = tl_txn_find(c, ordinal);
	if (!x)
		return;
	if (dir == BS_REQ)
		x->pub.req_hashed = true;
	else
		x->pub.resp_hashed = true;
}

/* The message outgrew max_kept_message at offset upto. */
static void convert(struct txn_log *l, struct tl_conn *c, int dir, uint64_t upto)
{
	struct tl_route *r = &c->route[dir];
	r->hashing = true;
	r->hash_ok = c->bs != NULL;
	if (sha256_stream_init(&r->sha) < 0)
		r->hash_ok = false;
	l->st.hashed_messages++;
	set_hashed(c, dir, r->ordinal);
	if (!c->bs)
		return;
	if (byte_store_conn_foreach(c->bs, (enum bs_dir)dir, r->start, upto, hash_piece, &r->sha))
		r->hash_ok = false;
	if (dir == BS_RESP) {
		byte_store_mark_provisional(l->bs, c->bs, BS_RESP, r->start);
		if (c->pub.ack_cl_known)
			byte_store_trim(l->bs, c->bs, BS_RESP, c->pub.ack_cl);
	} else {
		byte_store_truncate(l->bs, c->bs, BS_REQ, r->start);
	}
}

static void route_bytes(struct txn_log *l, struct tl_conn *c, int dir, uint64_t a, uint64_t b,
			const uint8_t *data)
{
	if (b <= a)
		return;
	struct tl_route *r = &c->route[dir];
	if (r->active && dir == BS_RESP) {
		struct tl_txn *x = tl_txn_find(c, r->ordinal);
		if (x && !x->pub.resp_done)
			x->pub.resp_end = b;
		if (!r->fresh)
			c->progress_ord = r->ordinal;
	}
	if (!r->active || !r->hashing) {
		if (data && c->bs)
			byte_store_append(l->bs, c->bs, (enum bs_dir)dir, a, data, b - a, 0);
		if (r->active && l->cfg.max_kept_message && b - r->start > l->cfg.max_kept_message)
			convert(l, c, dir, b);
		return;
	}
	if (!data) {
		r->hash_ok = false;
		return;
	}
	sha256_stream_update(&r->sha, data, b - a);
	if (dir == BS_RESP && c->bs) {
		byte_store_append(l->bs, c->bs, BS_RESP, a, data, b - a, BS_PROVISIONAL);
		if (c->pub.ack_cl_known)
			byte_store_trim(l->bs, c->bs, BS_RESP, c->pub.ack_cl);
	}
}

static void route_close(struct txn_log *l, struct tl_conn *c, int dir)
{
	struct tl_route *r = &c->route[dir];
	if (!r->active)
		return;
	if (r->hashing) {
		uint8_t h[SHA256_DIGEST_LEN];
		if (sha256_stream_final(&r->sha, h) < 0)
			r->hash_ok = false;
		struct tl_txn *x = tl_txn_find(c, r->ordinal);
		if (x && dir == BS_REQ) {
			memcpy(x->pub.req_sha256, h, 32);
			x->pub.req_hash_ok = r->hash_ok;
		} else if (x) {
			memcpy(x->pub.resp_sha256, h, 32);
			x->pub.resp_hash_ok = r->hash_ok;
		}
		if (!r->hash_ok)
			l->st.hash_incomplete++;
	}
	r->active = false;
	r->hashing = false;
}

static void route_open(struct txn_log *l, struct tl_conn *c, int dir, uint32_t ordinal,
		       uint64_t start)
{
	struct tl_route *r = &c->route[dir];
	if (r->active)
		route_close(l, c, dir);
	r->active = true;
	r->hashing = false;
	r->fresh = true;
	r->ordinal = ordinal;
	r->start = start;
}

/* What event ev means for the messages of direction *evdir. */
static enum route_action action_of(const struct tl_conn *c, const struct tl_ev *ev, int *evdir)
{
	switch (ev->ev) {
	case TXN_EV_REQUEST_BEGIN:
		*evdir = BS_REQ;
		return ACT_OPEN;
	case TXN_EV_REQUEST_END:
		*evdir = BS_REQ;
		return ACT_CLOSE;
	case TXN_EV_RESPONSE_BEGIN:
		*evdir = BS_RESP;
		/* interim 1xx responses: one BEGIN per transaction */
		if (c->route[BS_RESP].active && c->route[BS_RESP].ordinal == ev->ordinal)
			return ACT_NONE;
		return ACT_OPEN;
	case TXN_EV_RESPONSE_END:
		*evdir = BS_RESP;
		return ACT_CLOSE;
	case TXN_EV_END:
		for (int d = 0; d < 2; d++)
			if (c->route[d].active && c->route[d].ordinal == ev->ordinal) {
				*evdir = d;
				return ACT_CLOSE_INCOMPLETE;
			}
		return ACT_NONE;
	default:
		return ACT_NONE;
	}
}

void tl_route(struct txn_log *l, struct tl_conn *c, int dir, uint64_t off, const uint8_t *data,
	      uint64_t len)
{
	uint64_t pos = off, end = off + len;
	c->route[0].fresh = c->route[1].fresh = false;
	for (uint32_t i = 0; i < l->nev; i++) {
		const struct tl_ev *ev = &l->evs[i];
		int evdir = dir;
		enum route_action act = action_of(c, ev, &evdir);
		if (act == ACT_NONE)
			continue;
		if (evdir == dir) {
			/* Bytes before the boundary belong to what was open. */
			uint64_t at = act == ACT_CLOSE_INCOMPLETE ? pos : ev->off;
			at = at < pos ? pos : at > end ? end : at;
			route_bytes(l, c, dir, pos, at, data ? data + (pos - off) : NULL);
			pos = at;
		}
		if (act == ACT_OPEN)
			route_open(l, c, evdir, ev->ordinal, evdir == dir ? pos : ev->off);
		else
			route_close(l, c, evdir);
	}
	route_bytes(l, c, dir, pos, end, data ? data + (pos - off) : NULL);
}

void tl_route_close_all(struct txn_log *l, struct tl_conn *c)
{
	route_close(l, c, BS_REQ);
	route_close(l, c, BS_RESP);
}
