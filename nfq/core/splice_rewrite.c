/* splice_rewrite - see splice_rewrite.h for the model. */
#include "splice_rewrite.h"

#include "tcp_options.h"

int splice_rewrite(const struct splice_dir *d, struct tcp4_packet *p, struct splice_csum_state cs)
{
	/* Fields are rewritten with incremental updates only when the check
	 * field is a complete checksum; otherwise it is recomputed (or left to
	 * the segmentation path) once at the end. */
	enum tcp_csum_mode mode = (cs.gso || cs.csum_not_ready) ? CSUM_DEFERRED : CSUM_COMPLETE;
	bool finalize = !cs.gso && cs.csum_not_ready;
	struct tcp_options o;

	if (finalize && p->truncated)
		return SPLICE_REWRITE_ETRUNCATED;
	if (tcp_options_parse(p, &o) < 0)
		return SPLICE_REWRITE_EOPTIONS;

	uint8_t flags = tcp4_flags(p);
	tcp4_set_saddr(p, d->saddr, mode);
	tcp4_set_daddr(p, d->daddr, mode);
	tcp4_set_sport(p, d->sport, mode);
	tcp4_set_dport(p, d->dport, mode);
	tcp4_set_seq(p, tcp4_seq(p) + d->seq_delta, mode);
	if (flags & TCP_FL_ACK) {
		tcp4_set_ack(p, tcp4_ack(p) + d->ack_delta, mode);
		if (o.sack_count)
			tcp_options_shift_sack(p, &o, (int32_t)d->ack_delta, mode);
	}
	if (d->wscale_from != d->wscale_to && !(flags & TCP_FL_SYN))
		tcp4_set_window(p, tcp_window_rescale(tcp4_window(p), d->wscale_from, d->wscale_to),
				mode);
	if (d->translate_ts && o.has_timestamp) {
		/* TSecr is meaningful only with ACK (RFC 7323 §3.2). */
		uint32_t tsecr = (flags & TCP_FL_ACK) ? o.tsecr + d->tsecr_delta : o.tsecr;
		tcp_options_set_timestamp(p, &o, o.tsval + d->tsval_delta, tsecr, mode);
	}
	if (finalize)
		tcp4_finalize_checksum(p);
	return SPLICE_REWRITE_OK;
}

void splice_dirs_from_endpoints(const struct splice_endpoints *e, struct splice_dir *c2b,
				struct splice_dir *b2c)
{
	bool ts = e->c_timestamps && e->b_timestamps;
	uint32_t c2b_seq = e->b_snd_nxt - e->c_rcv_nxt;
	uint32_t b2c_seq = e->c_snd_nxt - e->b_rcv_nxt;
	uint32_t c2b_tsval = e->b_ts_now - e->client_tsval_last;
	uint32_t b2c_tsval = e->c_ts_now - e->backend_tsval_last;

	*c2b = (struct splice_dir){
	    .saddr = e->ivip_addr,
	    .daddr = e->backend_addr,
	    .sport = e->ivip_port,
	    .dport = e->backend_port,
	    .seq_delta = c2b_seq,
	    .ack_delta = (uint32_t)-b2c_seq,
	    .tsval_delta = c2b_tsval,
	    .tsecr_delta = (uint32_t)-b2c_tsval,
	    .wscale_from = e->c_snd_wscale,
	    .wscale_to = e->b_rcv_wscale,
	    .translate_ts = ts,
	};
	*b2c = (struct splice_dir){
	    .saddr = e->vip_addr,
	    .daddr = e->client_addr,
	    .sport = e->vip_port,
	    .dport = e->client_port,
	    .seq_delta = b2c_seq,
	    .ack_delta = (uint32_t)-c2b_seq,
	    .tsval_delta = b2c_tsval,
	    .tsecr_delta = (uint32_t)-c2b_tsval,
	    .wscale_from = e->b_snd_wscale,
	    .wscale_to = e->c_rcv_wscale,
	    .translate_ts = ts,
	};
}
