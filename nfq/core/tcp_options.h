/* tcp_options.h - TCP option parsing and in-place, checksum-aware rewriting.
 *
 * A splice joins two TCP connections that negotiated their options
 * separately, so the options of every forwarded segment must be translated
 * like seq/ack are: timestamps (else PAWS drops segments), SACK blocks,
 * MSS on SYNs, the window scale.  The parser records where each rewritable
 * option sits so the rewriters can patch it in place; options at odd offsets
 * (after a single NOP) are handled by the checksum update.
 *
 * Parsing rules: EOL ends the list (bytes after it are padding); NOP is one
 * byte; every other option needs a length byte >= 2 that stays inside the
 * header (else PKT_EOPTLEN).  MSS (4), window scale (3), SACK-permitted (2),
 * timestamps (10) and SACK (2 + 8n, n = 1..4) with any other length are
 * PKT_EOPTBAD; a second copy of any of them is PKT_EOPTDUP, since a rewriter
 * would translate one copy and leave the other for the receiver to use.
 * Unknown options are skipped and counted.  TCP-MD5 (19) and TCP-AO (29)
 * set has_signature: rewriting such a segment breaks its signature.
 *
 * Offsets (*_off) count from the start of the TCP header and point at the
 * option's kind byte; 0 means absent (options start at offset 20).
 */
#ifndef CRAFT_TCP_OPTIONS_H
#define CRAFT_TCP_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "packet.h"

#define TCP_OPT_EOL	  0
#define TCP_OPT_NOP	  1
#define TCP_OPT_MSS	  2
#define TCP_OPT_WSCALE	  3
#define TCP_OPT_SACK_PERM 4
#define TCP_OPT_SACK	  5
#define TCP_OPT_TIMESTAMP 8
#define TCP_OPT_MD5	  19
#define TCP_OPT_AO	  29

#define TCP_OPTLEN_MSS	     4
#define TCP_OPTLEN_WSCALE    3
#define TCP_OPTLEN_SACK_PERM 2
#define TCP_OPTLEN_TIMESTAMP 10
#define TCP_OPTLEN_SACK_BASE 2
#define TCP_OPTLEN_SACK_PER  8

#define TCP_SACK_MAX   4
#define TCP_WSCALE_MAX 14 /* RFC 7323: larger shifts are treated as 14 */

struct tcp_sack_block {
	uint32_t start, end;
};

struct tcp_options {
	bool has_mss;
	uint16_t mss;
	bool has_wscale;
	uint8_t wscale; /* as sent, not clamped */
	bool sack_permitted;
	bool has_timestamp;
	uint32_t tsval, tsecr;
	unsigned sack_count;
	struct tcp_sack_block sack[TCP_SACK_MAX];
	bool has_signature;	/* TCP-MD5 or TCP-AO present */
	unsigned unknown_count; /* options of other kinds */
	uint8_t mss_off, wscale_off, sack_perm_off, ts_off, sack_off;
};

/* Parses the options of p's TCP header into *o (zeroed first).  Returns 0 or
 * a negative enum pkt_error; on error *o is zeroed. */
int tcp_options_parse(const struct tcp4_packet *p, struct tcp_options *o);
int tcp_options_parse_view(const struct tcp4_view *v, struct tcp_options *o);
/* The same on a raw TCP header of hlen bytes (20..60). */
int tcp_options_parse_hdr(const uint8_t *tcp, size_t hlen, struct tcp_options *o);

/* In-place rewriters.  o must come from parsing p; it is kept in step with
 * the packet.  Return 0, -ENOENT if the option is absent, -EINVAL for an
 * out-of-range argument.  mode as for the packet setters (options are never
 * in the pseudo header, so CSUM_PARTIAL_PSEUDO leaves the check field). */
int tcp_options_set_mss(struct tcp4_packet *p, struct tcp_options *o, uint16_t mss,
			enum tcp_csum_mode mode);
int tcp_options_set_wscale(struct tcp4_packet *p, struct tcp_options *o, uint8_t wscale,
			   enum tcp_csum_mode mode);
int tcp_options_set_timestamp(struct tcp4_packet *p, struct tcp_options *o, uint32_t tsval,
			      uint32_t tsecr, enum tcp_csum_mode mode);
int tcp_options_set_sack_block(struct tcp4_packet *p, struct tcp_options *o, unsigned i,
			       uint32_t start, uint32_t end, enum tcp_csum_mode mode);
/* Adds delta (mod 2^32) to both edges of every SACK block; 0 if none. */
int tcp_options_shift_sack(struct tcp4_packet *p, struct tcp_options *o, int32_t delta,
			   enum tcp_csum_mode mode);
/* Overwrites one option (kind: MSS, WSCALE, SACK_PERM, TIMESTAMP or SACK)
 * with NOPs and marks it absent in o, e.g. when the other side of a splice
 * did not negotiate it.  -ENOENT if absent, -EINVAL for another kind. */
int tcp_options_strip(struct tcp4_packet *p, struct tcp_options *o, uint8_t kind,
		      enum tcp_csum_mode mode);

/* Re-expresses a raw window field sent with scale from_scale for a peer
 * that applies to_scale: (raw << from) >> to, rounded down (never offering
 * more than the receiver has), saturating at 65535.  Scales above 14 count
 * as 14. */
uint16_t tcp_window_rescale(uint16_t raw, unsigned from_scale, unsigned to_scale);

#endif /* CRAFT_TCP_OPTIONS_H */
