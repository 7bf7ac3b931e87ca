/* helper_tla - see helper_tla.h. */
#include "helper_tla.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "helper_pktgen.h"
#include "packet.h"

static void push(struct ht *h, enum ht_out_kind kind, uint16_t queue, uint32_t id, bool accept,
		 const uint8_t *pkt, size_t len, bool replaced)
{
	ck_assert_uint_lt(h->nout, HT_MAX_OUT);
	struct ht_out *o = &h->out[h->nout++];
	o->kind = kind;
	o->queue = queue;
	o->id = id;
	o->accept = accept;
	o->replaced = replaced;
	o->pkt = NULL;
	o->len = 0;
	if (pkt) {
		o->pkt = malloc(len);
		ck_assert_ptr_nonnull(o->pkt);
		memcpy(o->pkt, pkt, len);
		o->len = len;
	}
}

static void on_verdict(void *ctx, uint16_t queue, uint32_t id, bool accept, const uint8_t *pkt,
		       size_t len)
{
	struct ht *h = ctx;
	ck_assert_uint_lt(id, HT_MAX_IDS);
	ck_assert_ptr_nonnull(h->held[id]); /* only held packets get verdicts */
	if (accept && !pkt)
		push(h, HT_VERDICT, queue, id, true, h->held[id], h->held_len[id], false);
	else
		push(h, HT_VERDICT, queue, id, accept, accept ? pkt : NULL, len, accept);
	free(h->held[id]);
	h->held[id] = NULL;
}

static void on_send(void *ctx, const uint8_t *pkt, size_t len)
{
	push(ctx, HT_SEND, 0, 0, true, pkt, len, false);
}

static void on_notify(void *ctx, uint64_t owner, const struct tx_msg *m)
{
	struct ht *h = ctx;
	if (h->nnotes < 16) {
		h->note_owner[h->nnotes] = owner;
		h->notes[h->nnotes++] = *m;
	}
}

void ht_init(struct ht *h, const struct tla_config *cfg, uint32_t isn_p, uint32_t isn_s)
{
	memset(h, 0, sizeof(*h));
	if (cfg) {
		h->cfg = *cfg;
	} else {
		tla_config_default(&h->cfg);
		h->cfg.ports[0] = HT_SPORT;
		h->cfg.nports = 1;
	}
	h->isn_p = isn_p;
	h->isn_s = isn_s;
	h->pport = HT_PPORT;
	h->ts = true;
	h->csum = CSUM_COMPLETE;
	h->next_id = 1;
	h->now = 1000;
	h->peer_tsval = 7000;
	h->srv_tsval = 90000;
	struct tla_ops ops = {
	    .verdict = on_verdict, .send = on_send, .notify = on_notify, .ctx = h};
	ck_assert_int_eq(tla_create(&h->t, &h->cfg, &ops), 0);
}

void ht_clear_out(struct ht *h)
{
	for (unsigned i = 0; i < h->nout; i++)
		free(h->out[i].pkt);
	h->nout = 0;
}

void ht_free(struct ht *h)
{
	tla_destroy(h->t);
	ht_clear_out(h);
	for (unsigned i = 0; i < HT_MAX_IDS; i++)
		free(h->held[i]);
}

enum tla_decision ht_feed(struct ht *h, bool from_peer, uint32_t seq, uint32_t ack, uint8_t flags,
			  const uint8_t *data, size_t len, const struct tcp_sack_block *sack,
			  unsigned nsack, uint8_t *res, size_t *res_len)
{
	static uint8_t buf[HT_PKT_MAX];
	struct pktgen_spec s;
	pktgen_spec_init(&s);
	s.saddr = from_peer ? HT_PEER : HT_SERVER;
	s.daddr = from_peer ? HT_SERVER : HT_PEER;
	s.sport = from_peer ? h->pport : HT_SPORT;
	s.dport = from_peer ? HT_SPORT : h->pport;
	s.seq = seq;
	s.ack = ack;
	s.flags = flags;
	s.window = from_peer ? 1000 : 2000;
	s.payload = data;
	s.payload_len = len;
	s.csum = h->csum;
	s.ip_id = (uint16_t)h->next_id;
	if (flags & TCP_FL_SYN) {
		pktgen_opt_mss(&s, 1460);
		pktgen_opt_sack_perm(&s);
		pktgen_opt_wscale(&s, 7);
	}
	if (h->ts) {
		uint32_t tsval = from_peer ? ++h->peer_tsval : ++h->srv_tsval;
		pktgen_opt_timestamp(&s, tsval, from_peer ? h->srv_tsval : h->peer_tsval);
	}
	if (nsack)
		pktgen_opt_sack(&s, sack, nsack);
	int n = pktgen_build(&s, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	struct tla_packet p = {
	    .data = buf,
	    .len = (size_t)n,
	    .queue = 0,
	    .id = h->next_id++,
	    .gso = h->gso,
	    .csum_not_ready = h->csum == CSUM_PARTIAL_PSEUDO,
	};
	ck_assert_uint_lt(p.id, HT_MAX_IDS);
	uint8_t *orig = malloc((size_t)n);
	ck_assert_ptr_nonnull(orig);
	memcpy(orig, buf, (size_t)n);
	struct tla_result r;
	tla_packet(h->t, &p, h->now, &r);
	h->last_modified = r.modified;
	if (r.decision == TLA_HOLD) {
		h->held[p.id] = orig;
		h->held_len[p.id] = (size_t)n;
	} else {
		free(orig);
	}
	if (r.decision == TLA_ACCEPT && res) {
		memcpy(res, buf, r.len);
		*res_len = r.len;
		if (!r.modified)
			ck_assert_uint_eq(r.len, (size_t)n);
	}
	return r.decision;
}

void ht_handshake(struct ht *h)
{
	ck_assert_int_eq(ht_feed(h, true, h->isn_p, 0, TCP_FL_SYN, NULL, 0, NULL, 0, NULL, NULL),
			 TLA_ACCEPT);
	ck_assert_int_eq(ht_feed(h, false, h->isn_s, h->isn_p + 1, TCP_FL_SYN | TCP_FL_ACK, NULL, 0,
				 NULL, 0, NULL, NULL),
			 TLA_ACCEPT);
	ck_assert_int_eq(
	    ht_feed(h, true, h->isn_p + 1, h->isn_s + 1, TCP_FL_ACK, NULL, 0, NULL, 0, NULL, NULL),
	    TLA_ACCEPT);
}

int ht_ctl(struct ht *h, uint64_t owner, int op, uint64_t in_s, uint64_t in_e, uint64_t out_s,
	   uint64_t out_e, struct tx_msg *ans)
{
	struct tx_msg req = {
	    .op = (uint8_t)op,
	    .req_id = 1,
	    .session = 5,
	    .conn = {HT_PEER, HT_SERVER, h->pport, HT_SPORT},
	    .in_start = in_s,
	    .in_end = in_e,
	    .out_start = out_s,
	    .out_end = out_e,
	};
	struct tx_msg a;
	tla_control(h->t, owner, &req, h->now, &a);
	if (ans)
		*ans = a;
	ck_assert_uint_eq(a.req_id, 1);
	return a.op == TX_SUCCESS ? 0 : a.reason;
}

bool ht_parse(const uint8_t *pkt, size_t len, uint32_t *seq, uint32_t *ack, uint8_t *flags,
	      const uint8_t **payload, size_t *plen, bool *csum_ok)
{
	struct tcp4_view v;
	if (tcp4_view_parse(pkt, len, PKT_PARSE_STRICT, &v) < 0)
		return false;
	if (seq)
		*seq = tcp4v_seq(&v);
	if (ack)
		*ack = tcp4v_ack(&v);
	if (flags)
		*flags = tcp4v_flags(&v);
	if (payload)
		*payload = v.payload;
	if (plen)
		*plen = v.payload_len;
	if (csum_ok)
		*csum_ok = tcp4_checksum_valid(&v, CSUM_COMPLETE) && tcp4_ip_checksum_valid(&v);
	return true;
}

unsigned ht_sack(const uint8_t *pkt, size_t len, struct tcp_sack_block *out)
{
	struct tcp4_view v;
	struct tcp_options o;
	if (tcp4_view_parse(pkt, len, PKT_PARSE_STRICT, &v) < 0 ||
	    tcp_options_parse_view(&v, &o) < 0)
		return 0;
	for (unsigned i = 0; i < o.sack_count; i++)
		out[i] = o.sack[i];
	return o.sack_count;
}
