/* packet.h - IPv4/TCP packet parsing, field access and checksum-aware rewriting.
 *
 * tcp4_parse() checks every length before any pointer is formed, so that the
 * accessors and setters below can never read or write outside the buffer of
 * a packet it accepted.  What it accepts, and why:
 *
 * - IPv4 only, version 4, IHL >= 5 (IP options are kept and skipped).
 * - tot_len must cover the IP header plus a 20-byte TCP header, and the TCP
 *   data offset must lie within tot_len.  A tot_len of 0 (IPv4 BIG TCP, more
 *   than 64 KiB) is rejected as PKT_ETOTLEN: NFQUEUE copies at most 65531
 *   bytes and refuses verdict payloads over 65535, so such a packet cannot be
 *   rewritten anyway; the caller should accept it unchanged.
 * - Fragments are rejected (PKT_EFRAGMENT): a non-first fragment has no TCP
 *   header, and a first fragment (MF set) carries a TCP checksum over bytes
 *   we do not have.  With nf_defrag loaded the kernel reassembles before the
 *   raw table, so NFQUEUE normally never shows fragments.
 * - Bytes after tot_len in the buffer are ignored (len == tot_len).
 * - A buffer shorter than tot_len is PKT_ETRUNC, unless the caller passes
 *   PKT_PARSE_ALLOW_TRUNCATED (header-only copy mode): then IP and TCP
 *   headers must still be complete, len is what is present, payload_len
 *   counts present bytes only and `truncated` is set; checksums of such a
 *   packet can be updated incrementally but not verified or recomputed.
 * - Checksums are not verified by the parser (see tcp4_checksum_valid()).
 *
 * Two views of a parsed packet: struct tcp4_packet (mutable buffer, for the
 * rewriters) and struct tcp4_view (const buffer, for observers such as the
 * logger).  Accessors return host-order numbers; addresses are host-order
 * uint32_t (198.18.0.1 is 0xc6120001).
 *
 * Every setter takes an enum tcp_csum_mode saying what the TCP check field
 * holds; the IPv4 header checksum is always complete and always updated.
 */
#ifndef CRAFT_PACKET_H
#define CRAFT_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Parse and option errors, all negative; index counters with -err. */
enum pkt_error {
	PKT_OK = 0,
	PKT_ETRUNC = -1,    /* buffer ends before the headers / tot_len */
	PKT_EVERSION = -2,  /* IP version is not 4 */
	PKT_EIHL = -3,	    /* IHL below 5 */
	PKT_ETOTLEN = -4,   /* tot_len smaller than the IP header */
	PKT_ENOTTCP = -5,   /* protocol is not TCP */
	PKT_EFRAGMENT = -6, /* MF set or fragment offset non-zero */
	PKT_ETCPSHORT = -7, /* tot_len leaves less than a 20-byte TCP header */
	PKT_EDOFF = -8,	    /* data offset below 5 or beyond tot_len */
	PKT_EOPTLEN = -9,   /* option length byte missing, < 2 or past the header */
	PKT_EOPTBAD = -10,  /* known option with a length it cannot have */
	PKT_EOPTDUP = -11,  /* a rewritable option appears twice */
	PKT_NERRORS = 12    /* number of codes including PKT_OK */
};

enum pkt_parse_flags {
	PKT_PARSE_STRICT = 0,
	PKT_PARSE_ALLOW_TRUNCATED = 1u << 0, /* accept a payload cut short */
};

/* What the TCP check field holds when a header field is rewritten. */
enum tcp_csum_mode {
	CSUM_COMPLETE,	     /* a complete checksum: update it (RFC 1624) */
	CSUM_PARTIAL_PSEUDO, /* only the pseudo-header sum (CHECKSUM_PARTIAL):
			      * address changes update it, nothing else does */
	CSUM_DEFERRED,	     /* leave it; caller runs tcp4_finalize_checksum() */
};

/* TCP flag bits (byte 13 of the header). */
#define TCP_FL_FIN 0x01
#define TCP_FL_SYN 0x02
#define TCP_FL_RST 0x04
#define TCP_FL_PSH 0x08
#define TCP_FL_ACK 0x10
#define TCP_FL_URG 0x20
#define TCP_FL_ECE 0x40
#define TCP_FL_CWR 0x80

#define IPV4_HDR_MIN   20
#define IPV4_HDR_MAX   60
#define TCP_HDR_MIN    20
#define TCP_HDR_MAX    60
#define IPV4_PROTO_TCP 6

/* Field offsets inside the headers. */
#define IPV4_OFF_TOTLEN 2
#define IPV4_OFF_FRAG	6
#define IPV4_OFF_PROTO	9
#define IPV4_OFF_CHECK	10
#define IPV4_OFF_SADDR	12
#define IPV4_OFF_DADDR	16
#define TCP_OFF_SPORT	0
#define TCP_OFF_DPORT	2
#define TCP_OFF_SEQ	4
#define TCP_OFF_ACK	8
#define TCP_OFF_DOFF	12
#define TCP_OFF_FLAGS	13
#define TCP_OFF_WINDOW	14
#define TCP_OFF_CHECK	16
#define TCP_OFF_URG	18

struct tcp4_packet {
	uint8_t *ip;	    /* start of the IPv4 header (the buffer given) */
	size_t len;	    /* bytes present: tot_len, or less if truncated */
	size_t tot_len;	    /* IPv4 total length as the header claims */
	size_t ip_hlen;	    /* IHL * 4 */
	uint8_t *tcp;	    /* ip + ip_hlen */
	size_t tcp_hlen;    /* data offset * 4 */
	size_t tcp_len;	    /* tot_len - ip_hlen: the pseudo header's length */
	uint8_t *payload;   /* tcp + tcp_hlen */
	size_t payload_len; /* payload bytes present */
	bool truncated;	    /* len < tot_len (only with PKT_PARSE_ALLOW_TRUNCATED) */
};

struct tcp4_view {
	const uint8_t *ip;
	size_t len;
	size_t tot_len;
	size_t ip_hlen;
	const uint8_t *tcp;
	size_t tcp_hlen;
	size_t tcp_len;
	const uint8_t *payload;
	size_t payload_len;
	bool truncated;
};

/* Strict parse (PKT_PARSE_STRICT).  On error *out is zeroed. */
int tcp4_parse(uint8_t *buf, size_t buflen, struct tcp4_packet *out);
int tcp4_parse_flags(uint8_t *buf, size_t buflen, unsigned flags, struct tcp4_packet *out);
int tcp4_view_parse(const uint8_t *buf, size_t buflen, unsigned flags, struct tcp4_view *out);

/* Human-readable text for a pkt_error (either sign); never NULL. */
const char *pkt_strerror(int err);

/* Points a parsed packet at a byte-for-byte copy of its buffer. */
void tcp4_rebase(struct tcp4_packet *p, uint8_t *new_buf);

/* Big-endian loads and stores at any alignment. */
static inline uint16_t pkt_load_be16(const uint8_t *b)
{
	return (uint16_t)((uint16_t)b[0] << 8 | b[1]);
}

static inline uint32_t pkt_load_be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static inline void pkt_store_be16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static inline void pkt_store_be32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static inline struct tcp4_view tcp4_view_of(const struct tcp4_packet *p)
{
	struct tcp4_view v = {
	    .ip = p->ip,
	    .len = p->len,
	    .tot_len = p->tot_len,
	    .ip_hlen = p->ip_hlen,
	    .tcp = p->tcp,
	    .tcp_hlen = p->tcp_hlen,
	    .tcp_len = p->tcp_len,
	    .payload = p->payload,
	    .payload_len = p->payload_len,
	    .truncated = p->truncated,
	};
	return v;
}

/* Accessors of a mutable packet. */
static inline uint32_t tcp4_saddr(const struct tcp4_packet *p)
{
	return pkt_load_be32(p->ip + IPV4_OFF_SADDR);
}
static inline uint32_t tcp4_daddr(const struct tcp4_packet *p)
{
	return pkt_load_be32(p->ip + IPV4_OFF_DADDR);
}
static inline uint16_t tcp4_sport(const struct tcp4_packet *p)
{
	return pkt_load_be16(p->tcp + TCP_OFF_SPORT);
}
static inline uint16_t tcp4_dport(const struct tcp4_packet *p)
{
	return pkt_load_be16(p->tcp + TCP_OFF_DPORT);
}
static inline uint32_t tcp4_seq(const struct tcp4_packet *p)
{
	return pkt_load_be32(p->tcp + TCP_OFF_SEQ);
}
static inline uint32_t tcp4_ack(const struct tcp4_packet *p)
{
	return pkt_load_be32(p->tcp + TCP_OFF_ACK);
}
static inline uint8_t tcp4_flags(const struct tcp4_packet *p)
{
	return p->tcp[TCP_OFF_FLAGS];
}
static inline uint16_t tcp4_window(const struct tcp4_packet *p)
{
	return pkt_load_be16(p->tcp + TCP_OFF_WINDOW);
}
static inline uint16_t tcp4_check(const struct tcp4_packet *p)
{
	return pkt_load_be16(p->tcp + TCP_OFF_CHECK);
}

/* The same accessors for a const view. */
static inline uint32_t tcp4v_saddr(const struct tcp4_view *v)
{
	return pkt_load_be32(v->ip + IPV4_OFF_SADDR);
}
static inline uint32_t tcp4v_daddr(const struct tcp4_view *v)
{
	return pkt_load_be32(v->ip + IPV4_OFF_DADDR);
}
static inline uint16_t tcp4v_sport(const struct tcp4_view *v)
{
	return pkt_load_be16(v->tcp + TCP_OFF_SPORT);
}
static inline uint16_t tcp4v_dport(const struct tcp4_view *v)
{
	return pkt_load_be16(v->tcp + TCP_OFF_DPORT);
}
static inline uint32_t tcp4v_seq(const struct tcp4_view *v)
{
	return pkt_load_be32(v->tcp + TCP_OFF_SEQ);
}
static inline uint32_t tcp4v_ack(const struct tcp4_view *v)
{
	return pkt_load_be32(v->tcp + TCP_OFF_ACK);
}
static inline uint8_t tcp4v_flags(const struct tcp4_view *v)
{
	return v->tcp[TCP_OFF_FLAGS];
}
static inline uint16_t tcp4v_window(const struct tcp4_view *v)
{
	return pkt_load_be16(v->tcp + TCP_OFF_WINDOW);
}
static inline uint16_t tcp4v_check(const struct tcp4_view *v)
{
	return pkt_load_be16(v->tcp + TCP_OFF_CHECK);
}

/* Setters: write the field, update the IPv4 header checksum if the field is
 * in it, and treat the TCP check field as `mode` says. */
void tcp4_set_saddr(struct tcp4_packet *p, uint32_t addr, enum tcp_csum_mode mode);
void tcp4_set_daddr(struct tcp4_packet *p, uint32_t addr, enum tcp_csum_mode mode);
void tcp4_set_sport(struct tcp4_packet *p, uint16_t port, enum tcp_csum_mode mode);
void tcp4_set_dport(struct tcp4_packet *p, uint16_t port, enum tcp_csum_mode mode);
void tcp4_set_seq(struct tcp4_packet *p, uint32_t seq, enum tcp_csum_mode mode);
void tcp4_set_ack(struct tcp4_packet *p, uint32_t ack, enum tcp_csum_mode mode);
void tcp4_set_window(struct tcp4_packet *p, uint16_t window, enum tcp_csum_mode mode);
void tcp4_set_flags(struct tcp4_packet *p, uint8_t flags, enum tcp_csum_mode mode);

/* Writes a complete IPv4 header checksum and a complete TCP checksum, both
 * fully recomputed (whatever the check fields held).  -EINVAL if truncated. */
int tcp4_finalize_checksum(struct tcp4_packet *p);

/* Writes the partial value (pseudo-header sum) into the TCP check field, as
 * the kernel would for CHECKSUM_PARTIAL. */
void tcp4_write_pseudo_checksum(struct tcp4_packet *p);

/* Does the TCP check field hold what `mode` says it should?  COMPLETE: a
 * correct checksum (false if truncated); PARTIAL_PSEUDO: the pseudo-header
 * sum; DEFERRED: always true. */
bool tcp4_checksum_valid(const struct tcp4_view *v, enum tcp_csum_mode mode);

/* Is the IPv4 header checksum correct? */
bool tcp4_ip_checksum_valid(const struct tcp4_view *v);

#endif /* CRAFT_PACKET_H */
