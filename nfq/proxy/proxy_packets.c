/* proxy_packets - the proxy's NFQUEUE handler (raw PREROUTING): a segment of
 * a splice (this proxy's or a peer's) is rewritten into the other
 * connection's numbering and routed on by its new addresses; any other
 * segment goes to the local stack (the sockets of connections not spliced
 * yet), after its TSval is noted for the splice to come. */
#include <arpa/inet.h>

#include "clock.h"
#include "log.h"
#include "proxy.h"
#include "proxy_splice.h"
#include "recovery.h"
#include "seq.h"
#include "tcp_options.h"

/* While the proxy still owes the backend the request bytes it drained, the
 * backend acknowledges those bytes — which the client had acknowledged long
 * before, from the proxy's socket. Forwarded as they are, such ACKs are
 * older than the client's snd_una: ignored with their window updates, or
 * answered with RFC 5961 challenge ACKs, and their SACK blocks discarded.
 * So they are raised to the end of the injected range (the point the client
 * was acknowledged to) and lose their SACK blocks, which can only describe
 * the injected range or be rebuilt by the next ACK. A pure ACK that then
 * says nothing new (same window) would be a duplicate ACK to the client and
 * could trigger a spurious fast retransmit: it is dropped (returns false). */
static bool clamp_injected_ack(struct proxy *px, struct splice_entry *e, struct tcp4_packet *p,
			       struct splice_csum_state cs)
{
	struct pending_inject *pi = e->user;
	uint32_t floor = pi->inj.start_seq + (uint32_t)pi->inj.len;
	uint32_t ack = tcp4_ack(p);
	uint16_t window = tcp4_window(p);
	bool pure =
	    p->payload_len == 0 && !(tcp4_flags(p) & (TCP_FL_FIN | TCP_FL_RST | TCP_FL_SYN));
	const struct splice_dir *d = &e->rec.dir[SPLICE_B2C];
	struct tcp_options o;
	bool have_opts = tcp_options_parse(p, &o) == 0;
	/* May complete (and free) the injection: pi is not used after this. */
	proxy_splice_backend_ack(px, e->rec.id, ack, (uint32_t)window << d->wscale_from,
				 have_opts ? &o : NULL);
	if (!seq_before(ack, floor))
		return true;
	/* The backend's right window edge stays where it is: what the client
	 * may send is what lies between the floor and that edge. */
	uint32_t right = ack + ((uint32_t)window << d->wscale_from);
	uint32_t room = seq_after(right, floor) ? right - floor : 0;
	uint32_t field = room >> d->wscale_from;
	uint16_t new_window = field > 0xffff ? 0xffff : (uint16_t)field;
	/* Compared as the client will read it: two fields that differ here
	 * can rescale to the same value there (a duplicate ACK after all). */
	uint16_t seen = tcp_window_rescale(new_window, d->wscale_from, d->wscale_to);
	pi = e->user;
	if (pure && pi && pi->clamped_any && pi->clamped_window == seen) {
		px->count.acks_suppressed++;
		return false;
	}
	if (pi) {
		pi->clamped_any = true;
		pi->clamped_window = seen;
	}
	enum tcp_csum_mode mode = (cs.gso || cs.csum_not_ready) ? CSUM_DEFERRED : CSUM_COMPLETE;
	tcp4_set_ack(p, floor, mode);
	tcp4_set_window(p, new_window, mode);
	if (have_opts && o.sack_count)
		tcp_options_strip(p, &o, TCP_OPT_SACK, mode);
	px->count.acks_clamped++;
	return true;
}

static const struct proxy_peer *proxy_peer_find(const struct proxy *px, uint32_t id)
{
	for (unsigned i = 0; i < px->cfg.npeers; i++)
		if (px->cfg.peers[i].id == id)
			return &px->cfg.peers[i];
	return NULL;
}

/* The proxy that owns a segment no splice knows: for client -> VIP the
 * cluster-wide hash of the client tuple over the live proxies
 * (proxy_members.c), for backend -> IVIP the proxy whose port range holds
 * the IVIP port. NULL when no cluster is configured. */
static const struct proxy_peer *unspliced_owner(const struct proxy *px, uint32_t saddr,
						uint16_t sport, uint32_t daddr, uint16_t dport)
{
	if (px->cfg.npeers < 2)
		return NULL;
	if (daddr == ntohl(px->cfg.ivip.s_addr)) {
		for (unsigned i = 0; i < px->cfg.npeers; i++)
			if (dport >= px->cfg.peers[i].port_min &&
			    dport <= px->cfg.peers[i].port_max)
				return &px->cfg.peers[i];
		return NULL;
	}
	struct splice_key k = {.saddr = saddr, .daddr = daddr, .sport = sport, .dport = dport};
	bool live[PROXY_MAX_PEERS];
	proxy_members_live(px, live);
	return &px->cfg.peers[splice_owner_live(&k, px->cfg.npeers, live)];
}

void proxy_on_packet(void *ctx, struct nfq_engine *engine, struct nfq_packet *pkt,
		     struct nfq_verdict *v)
{
	(void)engine;
	struct proxy *px = ctx;
	struct tcp4_packet p;
	int rc = tcp4_parse(pkt->data, pkt->len, &p);
	if (rc < 0) {
		/* Not ours to judge: the local stack drops what it cannot use. */
		px->count.malformed++;
		return;
	}
	uint32_t saddr = tcp4_saddr(&p), daddr = tcp4_daddr(&p);
	uint16_t sport = tcp4_sport(&p), dport = tcp4_dport(&p);
	enum splice_way way;
	struct splice_entry *e = splice_table_lookup(px->splices, saddr, sport, daddr, dport, &way);
	if (e && way == SPLICE_C2B &&
	    (tcp4_flags(&p) & (TCP_FL_SYN | TCP_FL_ACK | TCP_FL_RST)) == TCP_FL_SYN) {
		/* A client opens a connection only on a tuple it no longer uses
		 * (its port came round again): the splice on it is over, however
		 * much of its end this proxy saw (its FINs may have crossed other
		 * proxies). Kept, it would rewrite the new connection into the
		 * old one here and on every peer holding it; the SYN is set up
		 * as any new connection. */
		px->count.tuple_reused++;
		proxy_splice_reused(px, e);
		e = NULL;
	}
	if (e && (e->rec.state & SPLICE_ST_CLOSED)) {
		/* A closed splice carries nothing more (its last segments went
		 * through as they closed it); its entry only keeps late copies of
		 * its record from reopening it. Its tuple may already carry a new
		 * connection that another proxy accepted without knowing the old
		 * splice (lingering entries end at different times on different
		 * nodes): that connection's socket is where the owner rule leads. */
		px->count.seg_closed++;
		e = NULL;
	}
	if (!e) {
		const struct proxy_peer *owner = unspliced_owner(px, saddr, sport, daddr, dport);
		if (owner && owner->id != px->cfg.id) {
			/* Before the splice only the accepting proxy's sockets know
			 * the connection: route the segment there (rules/proxy.sh
			 * maps the mark to a route via the owner). */
			px->count.redirected++;
			v->set_mark = true;
			v->mark = px->cfg.redirect_mark_base + owner->id;
			return;
		}
		struct tcp_options o;
		px->count.seg_unspliced++;
		if (tcp_options_parse(&p, &o) == 0 && o.has_timestamp)
			tsval_cache_put(&px->tsvals, saddr, sport, daddr, dport, o.tsval);
		return;
	}
	if (way == SPLICE_B2C && (e->rec.state & SPLICE_ST_OWED) && e->rec.creator != px->cfg.id) {
		/* Its creator still delivers drained request bytes and must see
		 * the backend's acknowledgements of them (clamp_injected_ack).
		 * A dead creator delivers nothing more: forward them here. */
		const struct proxy_peer *creator = proxy_peer_find(px, e->rec.creator);
		if (creator && proxy_member_live(px, creator->id)) {
			px->count.redirected_owed++;
			v->set_mark = true;
			v->mark = px->cfg.redirect_mark_base + creator->id;
			return;
		}
	}
	uint8_t flags = tcp4_flags(&p);
	uint32_t seq = tcp4_seq(&p), ack = tcp4_ack(&p);
	uint64_t now = monotonic_ms();
	/* A splice whose backend failed is suspended while recovery moves it. */
	if (recovery_on_segment(px->rec, e, way, &p, now)) {
		v->decision = NFQ_DECIDE_DROP;
		return;
	}
	if (splice_table_note(px->splices, e, way, flags, seq, ack, (uint32_t)p.payload_len, now))
		proxy_splice_closed_here(px, e);
	if (flags & TCP_FL_FIN)
		px->count.fin++;
	if (flags & TCP_FL_RST)
		px->count.rst++;
	struct splice_csum_state cs = {.gso = pkt->gso, .csum_not_ready = pkt->csum_not_ready};
	if (way == SPLICE_B2C && e->user && (flags & TCP_FL_ACK) &&
	    !clamp_injected_ack(px, e, &p, cs)) {
		v->decision = NFQ_DECIDE_DROP;
		return;
	}
	if (pkt->orig_len > pkt->len ||
	    splice_rewrite(&e->rec.dir[way], &p, cs) != SPLICE_REWRITE_OK) {
		/* Accepted unmodified it would reach a socket that no longer
		 * exists and reset the connection; dropped, it is resent. */
		px->count.rewrite_errors++;
		log_rl(&px->log_rl, LOG_WARNING, "cannot rewrite spliced segment (len %u of %u)",
		       pkt->len, pkt->orig_len);
		v->decision = NFQ_DECIDE_DROP;
		return;
	}
	if (way == SPLICE_C2B) {
		px->count.seg_c2b++;
		px->count.bytes_c2b += p.payload_len;
	} else {
		px->count.seg_b2c++;
		px->count.bytes_b2c += p.payload_len;
	}
	v->payload = pkt->data;
	v->payload_len = (uint32_t)p.len;
}

void proxy_collect_stats(const struct proxy *px, struct stats_report *r)
{
	const struct proxy_counters *c = &px->count;
	stats_add(r, NULL, "accepted", c->accepted);
	stats_add(r, NULL, "rejected_full", c->rejected_full);
	stats_add(r, NULL, "head_garbage", c->head_garbage);
	stats_add(r, NULL, "head_too_large", c->head_too_large);
	stats_add(r, NULL, "head_timeout", c->head_timeout);
	stats_add(r, NULL, "no_route", c->no_route);
	stats_add(r, NULL, "connect_failed", c->connect_failed);
	stats_add(r, NULL, "connect_timeout", c->connect_timeout);
	stats_add(r, NULL, "spliced", c->spliced);
	stats_add(r, NULL, "splice_failed", c->splice_failed);
	stats_add(r, NULL, "client_closed_early", c->client_closed_early);
	stats_add(r, NULL, "socket_bytes_read", c->socket_bytes_read);
	stats_add(r, NULL, "injected_bytes", c->injected_bytes);
	stats_add(r, NULL, "inject_failed", c->inject_failed);
	stats_add(r, NULL, "inject_resent", c->inject_resent);
	stats_add(r, NULL, "inject_recoveries", c->inject_recoveries);
	stats_add(r, NULL, "ts_cache_miss", c->ts_cache_miss);
	stats_add(r, NULL, "ports_exhausted", c->ports_exhausted);
	stats_add(r, NULL, "seg_c2b", c->seg_c2b);
	stats_add(r, NULL, "seg_b2c", c->seg_b2c);
	stats_add(r, NULL, "bytes_c2b", c->bytes_c2b);
	stats_add(r, NULL, "bytes_b2c", c->bytes_b2c);
	stats_add(r, NULL, "seg_unspliced", c->seg_unspliced);
	stats_add(r, NULL, "rewrite_errors", c->rewrite_errors);
	stats_add(r, NULL, "malformed", c->malformed);
	stats_add(r, NULL, "fin", c->fin);
	stats_add(r, NULL, "rst", c->rst);
	stats_add(r, NULL, "redirected", c->redirected);
	stats_add(r, NULL, "redirected_owed", c->redirected_owed);
	stats_add(r, NULL, "acks_clamped", c->acks_clamped);
	stats_add(r, NULL, "acks_suppressed", c->acks_suppressed);
	stats_add(r, NULL, "tuple_reused", c->tuple_reused);
	stats_add(r, NULL, "seg_closed", c->seg_closed);
	if (px->splices)
		splice_table_collect_stats(px->splices, r, "splice");
	if (px->repl)
		replication_collect_stats(px->repl, r, "repl");
	if (px->hb_open)
		heartbeat_sender_collect_stats(&px->hb, r, "hb");
	if (px->members_open)
		heartbeat_receiver_collect_stats(&px->members, r, "peer_hb");
	recovery_collect_stats(px->rec, r);
}
