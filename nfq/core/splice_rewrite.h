/* splice_rewrite - the one rewrite engine: turn a segment of connection A
 * into connection B's numbering.
 *
 * A splice joins two TCP connections that each ended at the proxy (client <->
 * proxy and proxy <-> backend) into one end-to-end byte stream. Every segment
 * crossing the splice is rewritten by exactly one `struct splice_dir`:
 *
 *   addresses/ports  the other connection's 4-tuple
 *   seq              + seq_delta (this direction's bytes, A's ISN -> B's ISN)
 *   ack, SACK blocks + ack_delta (the other direction's bytes; always the
 *                    negation of the other direction's seq_delta)
 *   TSval / TSecr    + tsval_delta / + tsecr_delta, so that PAWS on each end
 *                    sees the clock it negotiated with (TSecr translates by
 *                    the negation of the other direction's tsval_delta)
 *   window           rescaled from the sender's window scale to the one the
 *                    receiver expects from this connection
 *
 * The deltas are fixed when the splice is made (the proxy has drained and
 * frozen both sockets, so no byte is ever renumbered twice), which is why
 * retransmissions and wrap need no special case: all arithmetic is modulo
 * 2^32. The proxy, a peer proxy replaying a replicated splice, the split
 * splice agent on a backend and the recovery path all call this function.
 *
 * Checksums, as the kernel hands packets to NFQUEUE with NFQA_CFG_F_GSO:
 * - a GSO super-segment: the segmentation path recomputes every segment's
 *   checksum after the verdict, so the field is left alone;
 * - NFQA_SKB_CSUMNOTREADY on a normal packet: the field holds only the
 *   pseudo-header sum, but a verdict with a payload makes the kernel treat
 *   the checksum as final, so a complete checksum is computed;
 * - otherwise the checksum is complete and is updated incrementally (RFC
 *   1624), field by field.
 */
#ifndef CRAFT_SPLICE_REWRITE_H
#define CRAFT_SPLICE_REWRITE_H

#include <stdbool.h>
#include <stdint.h>

#include "packet.h"

struct splice_dir {
	uint32_t saddr, daddr; /* rewritten addresses, host order */
	uint16_t sport, dport;
	uint32_t seq_delta;   /* added to seq */
	uint32_t ack_delta;   /* added to ack and SACK edges */
	uint32_t tsval_delta; /* added to TSval */
	uint32_t tsecr_delta; /* added to TSecr */
	uint8_t wscale_from;  /* the sender's scale for its window field */
	uint8_t wscale_to;    /* the scale the receiver applies */
	bool translate_ts;    /* both connections negotiated timestamps */
};

/* How the checksum of the packet arrived (from struct nfq_packet). */
struct splice_csum_state {
	bool gso;	     /* super-segment: the kernel recomputes */
	bool csum_not_ready; /* the field holds only the pseudo-header sum */
};

enum splice_rewrite_error {
	SPLICE_REWRITE_OK = 0,
	SPLICE_REWRITE_EOPTIONS = -1,	/* options could not be parsed: untouched */
	SPLICE_REWRITE_ETRUNCATED = -2, /* payload cut short: cannot finalize */
};

/* Rewrites p in place. On error the packet is left unmodified. */
int splice_rewrite(const struct splice_dir *d, struct tcp4_packet *p, struct splice_csum_state cs);

/* Builds the two directions of a splice from the state of both sockets.
 *
 * Connection C: client <-> proxy. Connection B: proxy <-> backend.
 * c_rcv_nxt: next client byte the proxy expected on C; c_snd_nxt: next byte
 * the proxy would have sent on C; likewise b_rcv_nxt / b_snd_nxt on B (after
 * every byte the proxy forwards itself has been counted). Window scales:
 * *_snd_wscale is the peer's (applies to windows the peer sends),
 * *_rcv_wscale ours (the peer applies it to windows we send). Timestamps:
 * the proxy's current TSval on each socket and the peers' last TSval seen.
 */
struct splice_endpoints {
	uint32_t client_addr, vip_addr, ivip_addr, backend_addr; /* host order */
	uint16_t client_port, vip_port, ivip_port, backend_port;
	uint32_t c_rcv_nxt, c_snd_nxt, b_rcv_nxt, b_snd_nxt;
	uint8_t c_snd_wscale, c_rcv_wscale, b_snd_wscale, b_rcv_wscale;
	bool c_timestamps, b_timestamps;
	uint32_t c_ts_now, b_ts_now;			/* proxy's TSval on C and B now */
	uint32_t client_tsval_last, backend_tsval_last; /* last TSval each peer sent */
};

void splice_dirs_from_endpoints(const struct splice_endpoints *e, struct splice_dir *c2b,
				struct splice_dir *b2c);

#endif
