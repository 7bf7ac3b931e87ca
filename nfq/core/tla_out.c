/* tla_out - what the TLA puts on the wire besides verdicts on the packet at
 * hand: held runs and their release, pieces of split packets, generated
 * ACKs for discarded server bytes, the resend of saved peer bytes after a
 * restart, and the renumbering every one of them goes through.
 *
 * Renumbering is splice_rewrite with a seq_delta and an ack_delta computed
 * per packet from the two gap maps; SACK blocks whose edges fall on the
 * other side of a gap than the acknowledgement are set individually first
 * (to the value that the common ack_delta then turns into the right one).
 *
 * Generated packets carry complete checksums and, when the connection
 * negotiated timestamps, the TSval the peer last sent and the TSecr of the
 * server's last TSval, so PAWS on the server accepts them. The restart
 * resend keeps splice_inject's bookkeeping (acknowledged/sent counters,
 * window, backoff) but sends through tla_ops rather than a raw socket, so
 * the unit tests see every packet. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "packet.h"
#include "splice_rewrite.h"
#include "tcp_options.h"
#include "tcp_segment.h"
#include "tla_int.h"

static enum tcp_csum_mode csum_mode(bool gso, bool nr)
{
	return (gso || nr) ? CSUM_DEFERRED : CSUM_COMPLETE;
}

static int rewrite(struct tcp4_packet *p, struct tcp_options *o, uint32_t seq_delta,
		   uint32_t ack_delta, const uint32_t *sack_pre, bool gso, bool nr)
{
	enum tcp_csum_mode mode = csum_mode(gso, nr);
	for (unsigned i = 0; sack_pre && i < o->sack_count; i++)
		if (sack_pre[2 * i] != o->sack[i].start || sack_pre[2 * i + 1] != o->sack[i].end)
			tcp_options_set_sack_block(p, o, i, sack_pre[2 * i], sack_pre[2 * i + 1],
						   mode);
	struct splice_dir d = {
	    .saddr = tcp4_saddr(p),
	    .daddr = tcp4_daddr(p),
	    .sport = tcp4_sport(p),
	    .dport = tcp4_dport(p),
	    .seq_delta = seq_delta,
	    .ack_delta = ack_delta,
	};
	struct splice_csum_state cs = {.gso = gso, .csum_not_ready = nr};
	return splice_rewrite(&d, p, cs) == SPLICE_REWRITE_OK ? 0 : -1;
}

static int map_s2p(struct tla_conn *c, uint8_t *data, size_t len, uint64_t peer_off, bool gso,
		   bool nr, bool *changed, bool dry)
{
	struct tcp4_packet p;
	struct tcp_options o;
	*changed = false;
	if (tcp4_parse_flags(data, len, PKT_PARSE_ALLOW_TRUNCATED, &p) < 0)
		return -1;
	bool opts = tcp_options_parse(&p, &o) == 0;
	uint32_t seq_delta = c->isn_s + (uint32_t)peer_off - tcp4_seq(&p);
	uint32_t ack_delta = 0;
	uint32_t pre[2 * TCP_SACK_MAX];
	bool sack_fix = false;
	if (tcp4_flags(&p) & TCP_FL_ACK) {
		uint64_t ref = tla_map_to_server(&c->p2s, c->p_next);
		uint64_t as = tla_unwrap(tcp4_ack(&p), c->isn_p, ref);
		uint64_t ap = tla_map_to_peer(&c->p2s, as, NULL);
		ack_delta = (uint32_t)(ap - as);
		for (unsigned i = 0; opts && i < o.sack_count; i++) {
			for (int e = 0; e < 2; e++) {
				uint32_t w = e ? o.sack[i].end : o.sack[i].start;
				uint64_t s = tla_unwrap(w, c->isn_p, ref);
				uint32_t want =
				    c->isn_p + (uint32_t)tla_map_to_peer(&c->p2s, s, NULL);
				pre[2 * i + e] = want - ack_delta;
				sack_fix |= pre[2 * i + e] != w;
			}
		}
	}
	if (!seq_delta && !ack_delta && !sack_fix)
		return 0;
	*changed = true;
	if (dry)
		return 0;
	if (!opts || rewrite(&p, &o, seq_delta, ack_delta, sack_fix ? pre : NULL, gso, nr) < 0)
		return -1;
	return 0;
}

int tla_map_s2p_packet(struct tla_conn *c, uint8_t *data, size_t len, uint64_t peer_off, bool gso,
		       bool nr, bool *changed)
{
	return map_s2p(c, data, len, peer_off, gso, nr, changed, false);
}

/* Would tla_map_s2p_packet change this packet? (It is not written.) */
static bool s2p_unchanged(struct tla_conn *c, const uint8_t *data, size_t len, uint64_t peer_off)
{
	bool changed = true;
	if (map_s2p(c, (uint8_t *)(uintptr_t)data, len, peer_off, true, false, &changed, true) < 0)
		return false;
	return !changed;
}

int tla_map_p2s_packet(struct tla_conn *c, uint8_t *data, size_t len, uint64_t server_off, bool gso,
		       bool nr, bool *changed)
{
	struct tcp4_packet p;
	struct tcp_options o;
	*changed = false;
	if (tcp4_parse_flags(data, len, PKT_PARSE_ALLOW_TRUNCATED, &p) < 0)
		return -1;
	bool opts = tcp_options_parse(&p, &o) == 0;
	uint32_t seq_delta = c->isn_p + (uint32_t)server_off - tcp4_seq(&p);
	uint32_t ack_delta = 0;
	uint32_t pre[2 * TCP_SACK_MAX];
	bool sack_fix = false;
	if (tcp4_flags(&p) & TCP_FL_ACK) {
		uint64_t ref = tla_map_to_peer(&c->s2p, c->srv_high, NULL);
		uint64_t ap = tla_unwrap(tcp4_ack(&p), c->isn_s, ref);
		uint64_t as = tla_map_to_server(&c->s2p, ap);
		if (as > c->srv_high)
			as = c->srv_high;
		if (as > c->ack_to_server)
			c->ack_to_server = as;
		ack_delta = (uint32_t)(as - ap);
		for (unsigned i = 0; opts && i < o.sack_count; i++) {
			for (int e = 0; e < 2; e++) {
				uint32_t w = e ? o.sack[i].end : o.sack[i].start;
				uint64_t s =
				    tla_map_to_server(&c->s2p, tla_unwrap(w, c->isn_s, ref));
				if (s > c->srv_high)
					s = c->srv_high;
				pre[2 * i + e] = c->isn_s + (uint32_t)s - ack_delta;
				sack_fix |= pre[2 * i + e] != w;
			}
		}
	}
	if (!seq_delta && !ack_delta && !sack_fix)
		return 0;
	if (!opts)
		return -1;
	if (rewrite(&p, &o, seq_delta, ack_delta, sack_fix ? pre : NULL, gso, nr) < 0)
		return -1;
	*changed = true;
	return 0;
}

/* ---- held runs -------------------------------------------------------- */

static void held_insert(struct tla *t, struct tla_conn *c, struct tla_held *h)
{
	if (!c->held || c->held_tail->off <= h->off) {
		if (c->held_tail)
			c->held_tail->next = h;
		else
			c->held = h;
		c->held_tail = h;
	} else {
		struct tla_held **pp = &c->held;
		while (*pp && (*pp)->off <= h->off)
			pp = &(*pp)->next;
		h->next = *pp;
		*pp = h;
	}
	c->held_bytes += h->len;
	t->held_now += h->len;
	if (h->off + h->len > c->held_high)
		c->held_high = h->off + h->len;
	c->held_fin |= h->fin;
	t->st.held_bytes_total += h->len;
}

bool tla_held_covers(const struct tla_conn *c, uint64_t from, uint64_t to)
{
	uint64_t cur = from;
	for (const struct tla_held *h = c->held; h && h->off <= cur; h = h->next)
		if (h->off + h->len > cur)
			cur = h->off + h->len;
	return cur >= to && c->held != NULL;
}

int tla_hold_kernel(struct tla *t, struct tla_conn *c, const struct tla_packet *pkt, uint64_t off,
		    uint32_t len, bool fin)
{
	/* The kernel keeps the packet. When its release will not renumber it
	 * (no abort changed this connection's numbering) the headers are all
	 * we keep, so holding costs no copy of the data. */
	size_t keep = pkt->len;
	struct tcp4_view v;
	if (tcp4_view_parse(pkt->data, pkt->len, PKT_PARSE_ALLOW_TRUNCATED, &v) == 0 &&
	    s2p_unchanged(c, pkt->data, pkt->len, tla_map_to_peer(&c->s2p, off, NULL)))
		keep = v.ip_hlen + v.tcp_hlen;
	struct tla_held *h = malloc(sizeof(*h) + keep);
	if (!h)
		return -ENOMEM;
	memset(h, 0, sizeof(*h));
	h->hdr_only = keep < pkt->len;
	h->off = off;
	h->len = len;
	h->fin = fin;
	h->in_kernel = true;
	h->gso = pkt->gso;
	h->csum_not_ready = pkt->csum_not_ready;
	h->queue = pkt->queue;
	h->id = pkt->id;
	h->pkt_len = (uint32_t)keep;
	memcpy(h->pkt, pkt->data, keep);
	held_insert(t, c, h);
	t->st.held_packets++;
	return 0;
}

/* Writes headers of src plus data[skip, skip+len) as a segment at server
 * offset off into buf; returns its length or 0. The checksum is stale. */
static size_t build_piece(const struct tla_conn *c, uint8_t *buf, size_t cap, const uint8_t *src,
			  size_t src_len, uint32_t skip, uint32_t len, uint64_t off, bool fin)
{
	struct tcp4_view v;
	if (tcp4_view_parse(src, src_len, PKT_PARSE_ALLOW_TRUNCATED, &v) < 0 ||
	    (size_t)skip + len > v.payload_len)
		return 0;
	size_t hdr = v.ip_hlen + v.tcp_hlen;
	if (hdr + len > cap || hdr + len > 65535)
		return 0;
	memcpy(buf, src, hdr);
	memcpy(buf + hdr, v.payload + skip, len);
	pkt_store_be16(buf + IPV4_OFF_TOTLEN, (uint16_t)(hdr + len));
	uint8_t *tcp = buf + v.ip_hlen;
	pkt_store_be32(tcp + TCP_OFF_SEQ, c->isn_s + (uint32_t)off);
	uint8_t fl = tcp[TCP_OFF_FLAGS] & (uint8_t) ~(TCP_FL_FIN | TCP_FL_SYN);
	tcp[TCP_OFF_FLAGS] = (uint8_t)(fl | (fin ? TCP_FL_FIN : 0));
	return hdr + len;
}

int tla_hold_copy(struct tla *t, struct tla_conn *c, const uint8_t *pkt, size_t pkt_len,
		  uint64_t off, uint32_t skip, uint32_t len, bool fin)
{
	size_t cap = 120 + (size_t)len;
	struct tla_held *h = malloc(sizeof(*h) + cap);
	if (!h)
		return -ENOMEM;
	memset(h, 0, sizeof(*h));
	size_t n = build_piece(c, h->pkt, cap, pkt, pkt_len, skip, len, off, fin);
	if (!n) {
		free(h);
		return -EINVAL;
	}
	h->off = off;
	h->len = len;
	h->fin = fin;
	h->pkt_len = (uint32_t)n;
	held_insert(t, c, h);
	t->st.held_copies++;
	return 0;
}

void tla_send_piece_s2p(struct tla *t, struct tla_conn *c, const uint8_t *pkt, size_t pkt_len,
			uint32_t skip, uint32_t len, uint64_t off, bool fin)
{
	struct tcp4_view v;
	if (tcp4_view_parse(pkt, pkt_len, PKT_PARSE_ALLOW_TRUNCATED, &v) < 0)
		return;
	uint32_t opt = (uint32_t)v.tcp_hlen - 20;
	uint32_t mss = c->mss_p > opt + 64 ? c->mss_p - opt : 536;
	uint32_t done = 0;
	do {
		uint32_t n = len - done < mss ? len - done : mss;
		bool last = done + n == len;
		size_t plen = build_piece(c, t->scratch, sizeof(t->scratch), pkt, pkt_len,
					  skip + done, n, off + done, fin && last);
		if (!plen)
			return;
		bool changed;
		uint64_t po = tla_map_to_peer(&c->s2p, off + done, NULL);
		tla_map_s2p_packet(c, t->scratch, plen, po, true, false, &changed);
		struct tcp4_packet p;
		if (tcp4_parse(t->scratch, plen, &p) == 0)
			tcp4_finalize_checksum(&p);
		t->ops.send(t->ops.ctx, t->scratch, plen);
		t->st.released_sent++;
		done += n;
	} while (done < len);
}

static void held_free_all(struct tla *t, struct tla_conn *c)
{
	struct tla_held *h = c->held, *next;
	for (; h; h = next) {
		next = h->next;
		free(h);
	}
	t->held_now -= c->held_bytes;
	c->held = c->held_tail = NULL;
	c->held_bytes = 0;
	c->held_high = 0;
	c->held_fin = false;
}

void tla_held_release_all(struct tla *t, struct tla_conn *c)
{
	for (struct tla_held *h = c->held; h; h = h->next) {
		bool in_gap;
		uint64_t po = tla_map_to_peer(&c->s2p, h->off, &in_gap);
		t->st.released_packets++;
		t->st.released_bytes += h->len;
		if (!h->in_kernel) {
			if (!in_gap)
				tla_send_piece_s2p(t, c, h->pkt, h->pkt_len, 0, h->len, h->off,
						   h->fin);
			continue;
		}
		if (in_gap) {
			t->ops.verdict(t->ops.ctx, h->queue, h->id, false, NULL, 0);
			continue;
		}
		if (h->hdr_only) {
			bool same = s2p_unchanged(c, h->pkt, h->pkt_len, po);
			t->st.s2p_unmappable += !same;
			t->ops.verdict(t->ops.ctx, h->queue, h->id, same, NULL, 0);
			continue;
		}
		bool changed = false;
		memcpy(t->scratch, h->pkt, h->pkt_len);
		if (tla_map_s2p_packet(c, t->scratch, h->pkt_len, po, h->gso, h->csum_not_ready,
				       &changed) < 0) {
			t->st.s2p_unmappable++;
			t->ops.verdict(t->ops.ctx, h->queue, h->id, false, NULL, 0);
			continue;
		}
		t->ops.verdict(t->ops.ctx, h->queue, h->id, true, changed ? t->scratch : NULL,
			       h->pkt_len);
	}
	held_free_all(t, c);
}

void tla_held_drop_all(struct tla *t, struct tla_conn *c)
{
	for (struct tla_held *h = c->held; h; h = h->next)
		if (h->in_kernel)
			t->ops.verdict(t->ops.ctx, h->queue, h->id, false, NULL, 0);
	held_free_all(t, c);
}

/* ---- generated packets toward the server ------------------------------ */

static void to_server_spec(const struct tla_conn *c, struct tcp_segment_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->saddr = c->key.peer_addr;
	s->daddr = c->key.server_addr;
	s->sport = c->key.peer_port;
	s->dport = c->key.server_port;
	s->seq = c->isn_p + (uint32_t)tla_map_to_server(&c->p2s, c->p_next);
	s->ack = c->isn_s + (uint32_t)c->ack_to_server;
	s->flags = TCP_FL_ACK;
	s->window = c->peer_win;
	s->timestamp = c->ts_ok;
	s->tsval = c->peer_tsval;
	s->tsecr = c->srv_tsval;
}

void tla_fake_ack(struct tla *t, struct tla_conn *c, uint64_t again)
{
	if (!c->peer_ack_seen)
		return;
	uint64_t a = tla_map_to_server(&c->s2p, c->peer_ack);
	if (a > c->srv_high)
		a = c->srv_high;
	if (a < c->ack_to_server)
		a = c->ack_to_server;
	if (a == c->ack_to_server && !(again && a >= again))
		return;
	c->ack_to_server = a;
	struct tcp_segment_spec s;
	to_server_spec(c, &s);
	ssize_t n = tcp_segment_build(t->scratch, sizeof(t->scratch), &s);
	if (n < 0) {
		t->st.send_errors++;
		return;
	}
	t->ops.send(t->ops.ctx, t->scratch, (size_t)n);
	t->st.fake_acks++;
}

static void resend_range(struct tla *t, struct tla_conn *c, size_t from, size_t to)
{
	struct splice_inject *in = &c->resend;
	while (from < to) {
		size_t chunk = to - from < in->mss ? to - from : in->mss;
		struct tcp_segment_spec s = in->tmpl;
		s.seq = in->start_seq + (uint32_t)from;
		s.payload = in->data + from;
		s.payload_len = chunk;
		s.flags = TCP_FL_ACK | (from + chunk == in->len ? TCP_FL_PSH : 0);
		ssize_t n = tcp_segment_build(t->scratch, sizeof(t->scratch), &s);
		if (n < 0) {
			in->send_errors++;
			t->st.send_errors++;
			return;
		}
		t->ops.send(t->ops.ctx, t->scratch, (size_t)n);
		in->segments_sent++;
		t->st.resend_segments++;
		from += chunk;
	}
}

void tla_resend_pump(struct tla *t, struct tla_conn *c, uint64_t now)
{
	struct splice_inject *in = &c->resend;
	if (!c->resending)
		return;
	if (splice_inject_done(in) || splice_inject_failed(in)) {
		if (!splice_inject_done(in))
			t->st.resend_failed++;
		splice_inject_free(in);
		c->resending = false;
		return;
	}
	struct tcp_segment_spec s;
	to_server_spec(c, &s);
	in->tmpl.ack = s.ack;
	in->tmpl.window = s.window;
	in->tmpl.tsval = s.tsval;
	in->tmpl.tsecr = s.tsecr;
	size_t wend = in->acked + in->wnd < in->len ? in->acked + in->wnd : in->len;
	if (in->sent > in->acked && now - in->last_send_ms >= in->rto_ms) {
		size_t end = wend > in->acked ? wend : in->acked + 1;
		resend_range(t, c, in->acked, end);
		t->st.resend_retrans++;
		if (end > in->sent)
			in->sent = end;
		in->retries++;
		in->rto_ms = in->rto_ms * 2 > 4000 ? 4000 : in->rto_ms * 2;
		in->last_send_ms = now;
	}
	if (wend > in->sent) {
		resend_range(t, c, in->sent, wend);
		in->sent = wend;
		in->last_send_ms = now;
	}
}

void tla_notify_failure(struct tla *t, struct tla_conn *c, int reason)
{
	if (!c->owner || c->failed_notified)
		return;
	c->failed_notified = true;
	struct tx_msg m = {
	    .op = TX_FAILURE,
	    .reason = (uint16_t)reason,
	    .conn = c->key,
	    .txn = c->txn,
	};
	t->ops.notify(t->ops.ctx, c->owner, &m);
}
