/* packet.c - IPv4/TCP parsing and checksum-aware header rewriting.
 *
 * The parser is written once, over a const buffer (tcp4_view_parse); the
 * mutable form reuses it and only restores the non-const pointers, which is
 * sound because its buffer was mutable to begin with.  Checks run in an order
 * that lets a cut-short copy of a valid packet fail as PKT_ETRUNC only: the
 * fields of the first 20 bytes are judged first, then each length that needs
 * more bytes than are present.
 *
 * Setters rewrite one field and then fix the checksums incrementally, as the
 * kernel's seqadj does: the IPv4 header checksum is always complete; the TCP
 * check field follows enum tcp_csum_mode (see packet.h and checksum.h).
 */
#include "packet.h"

#include <errno.h>

#include "checksum.h"

#define IPV4_FRAG_MF_AND_OFFSET 0x3fff

int tcp4_view_parse(const uint8_t *buf, size_t buflen, unsigned flags, struct tcp4_view *out)
{
	size_t ip_hlen, tot_len, tcp_len, tcp_hlen, len;

	memset(out, 0, sizeof(*out));
	if (!buf || buflen < IPV4_HDR_MIN)
		return PKT_ETRUNC;
	if (buf[0] >> 4 != 4)
		return PKT_EVERSION;
	ip_hlen = (size_t)(buf[0] & 0x0f) * 4;
	if (ip_hlen < IPV4_HDR_MIN)
		return PKT_EIHL;
	tot_len = pkt_load_be16(buf + IPV4_OFF_TOTLEN);
	if (tot_len < ip_hlen)
		return PKT_ETOTLEN;
	if (buf[IPV4_OFF_PROTO] != IPV4_PROTO_TCP)
		return PKT_ENOTTCP;
	if (pkt_load_be16(buf + IPV4_OFF_FRAG) & IPV4_FRAG_MF_AND_OFFSET)
		return PKT_EFRAGMENT;
	tcp_len = tot_len - ip_hlen;
	if (tcp_len < TCP_HDR_MIN)
		return PKT_ETCPSHORT;
	if (buflen < ip_hlen + TCP_HDR_MIN)
		return PKT_ETRUNC;
	tcp_hlen = (size_t)(buf[ip_hlen + TCP_OFF_DOFF] >> 4) * 4;
	if (tcp_hlen < TCP_HDR_MIN || tcp_hlen > tcp_len)
		return PKT_EDOFF;
	if (buflen < ip_hlen + tcp_hlen)
		return PKT_ETRUNC;
	len = tot_len;
	if (buflen < tot_len) {
		if (!(flags & PKT_PARSE_ALLOW_TRUNCATED))
			return PKT_ETRUNC;
		len = buflen;
		out->truncated = true;
	}
	out->ip = buf;
	out->len = len;
	out->tot_len = tot_len;
	out->ip_hlen = ip_hlen;
	out->tcp = buf + ip_hlen;
	out->tcp_hlen = tcp_hlen;
	out->tcp_len = tcp_len;
	out->payload = out->tcp + tcp_hlen;
	out->payload_len = len - ip_hlen - tcp_hlen;
	return PKT_OK;
}

int tcp4_parse_flags(uint8_t *buf, size_t buflen, unsigned flags, struct tcp4_packet *out)
{
	struct tcp4_view v;
	int rc = tcp4_view_parse(buf, buflen, flags, &v);

	memset(out, 0, sizeof(*out));
	if (rc)
		return rc;
	out->ip = buf;
	out->len = v.len;
	out->tot_len = v.tot_len;
	out->ip_hlen = v.ip_hlen;
	out->tcp = buf + v.ip_hlen;
	out->tcp_hlen = v.tcp_hlen;
	out->tcp_len = v.tcp_len;
	out->payload = out->tcp + v.tcp_hlen;
	out->payload_len = v.payload_len;
	out->truncated = v.truncated;
	return PKT_OK;
}

int tcp4_parse(uint8_t *buf, size_t buflen, struct tcp4_packet *out)
{
	return tcp4_parse_flags(buf, buflen, PKT_PARSE_STRICT, out);
}

const char *pkt_strerror(int err)
{
	static const char *const text[PKT_NERRORS] = {
	    [0] = "success",
	    [-PKT_ETRUNC] = "packet truncated",
	    [-PKT_EVERSION] = "IP version is not 4",
	    [-PKT_EIHL] = "IPv4 header length below 20",
	    [-PKT_ETOTLEN] = "IPv4 total length smaller than its header",
	    [-PKT_ENOTTCP] = "not TCP",
	    [-PKT_EFRAGMENT] = "IPv4 fragment",
	    [-PKT_ETCPSHORT] = "TCP segment shorter than 20 bytes",
	    [-PKT_EDOFF] = "bad TCP data offset",
	    [-PKT_EOPTLEN] = "bad TCP option length",
	    [-PKT_EOPTBAD] = "malformed TCP option",
	    [-PKT_EOPTDUP] = "duplicate TCP option",
	};

	if (err < 0)
		err = -err;
	if (err >= PKT_NERRORS)
		return "unknown packet error";
	return text[err];
}

void tcp4_rebase(struct tcp4_packet *p, uint8_t *new_buf)
{
	p->ip = new_buf;
	p->tcp = new_buf + p->ip_hlen;
	p->payload = p->tcp + p->tcp_hlen;
}

static void set_addr(struct tcp4_packet *p, size_t off, uint32_t addr, enum tcp_csum_mode mode)
{
	uint32_t old = pkt_load_be32(p->ip + off);

	pkt_store_be32(p->ip + off, addr);
	csum_replace4(p->ip + IPV4_OFF_CHECK, old, addr);
	if (mode == CSUM_COMPLETE)
		csum_replace4(p->tcp + TCP_OFF_CHECK, old, addr);
	else if (mode == CSUM_PARTIAL_PSEUDO)
		csum_pseudo_replace4(p->tcp + TCP_OFF_CHECK, old, addr);
}

/* A TCP header word outside the pseudo header: only a complete checksum
 * changes; a partial one will be summed over the new bytes later. */
static void set_tcp16(struct tcp4_packet *p, size_t off, uint16_t v, enum tcp_csum_mode mode)
{
	uint16_t old = pkt_load_be16(p->tcp + off);

	pkt_store_be16(p->tcp + off, v);
	if (mode == CSUM_COMPLETE)
		csum_replace2(p->tcp + TCP_OFF_CHECK, old, v);
}

static void set_tcp32(struct tcp4_packet *p, size_t off, uint32_t v, enum tcp_csum_mode mode)
{
	uint32_t old = pkt_load_be32(p->tcp + off);

	pkt_store_be32(p->tcp + off, v);
	if (mode == CSUM_COMPLETE)
		csum_replace4(p->tcp + TCP_OFF_CHECK, old, v);
}

void tcp4_set_saddr(struct tcp4_packet *p, uint32_t addr, enum tcp_csum_mode mode)
{
	set_addr(p, IPV4_OFF_SADDR, addr, mode);
}

void tcp4_set_daddr(struct tcp4_packet *p, uint32_t addr, enum tcp_csum_mode mode)
{
	set_addr(p, IPV4_OFF_DADDR, addr, mode);
}

void tcp4_set_sport(struct tcp4_packet *p, uint16_t port, enum tcp_csum_mode mode)
{
	set_tcp16(p, TCP_OFF_SPORT, port, mode);
}

void tcp4_set_dport(struct tcp4_packet *p, uint16_t port, enum tcp_csum_mode mode)
{
	set_tcp16(p, TCP_OFF_DPORT, port, mode);
}

void tcp4_set_seq(struct tcp4_packet *p, uint32_t seq, enum tcp_csum_mode mode)
{
	set_tcp32(p, TCP_OFF_SEQ, seq, mode);
}

void tcp4_set_ack(struct tcp4_packet *p, uint32_t ack, enum tcp_csum_mode mode)
{
	set_tcp32(p, TCP_OFF_ACK, ack, mode);
}

void tcp4_set_window(struct tcp4_packet *p, uint16_t window, enum tcp_csum_mode mode)
{
	set_tcp16(p, TCP_OFF_WINDOW, window, mode);
}

void tcp4_set_flags(struct tcp4_packet *p, uint8_t flags, enum tcp_csum_mode mode)
{
	/* The flags byte is the low half of the word that starts with the data
	 * offset, so the update is done on that whole (even-offset) word. */
	uint16_t word = pkt_load_be16(p->tcp + TCP_OFF_DOFF);

	set_tcp16(p, TCP_OFF_DOFF, (uint16_t)((word & 0xff00) | flags), mode);
}

int tcp4_finalize_checksum(struct tcp4_packet *p)
{
	uint16_t check;

	if (p->truncated)
		return -EINVAL;
	pkt_store_be16(p->ip + IPV4_OFF_CHECK, ipv4_header_checksum(p->ip, p->ip_hlen));
	check = tcp4_checksum_full(tcp4_saddr(p), tcp4_daddr(p), p->tcp, p->tcp_len);
	pkt_store_be16(p->tcp + TCP_OFF_CHECK, check);
	return 0;
}

void tcp4_write_pseudo_checksum(struct tcp4_packet *p)
{
	uint16_t partial = tcp4_pseudo_sum(tcp4_saddr(p), tcp4_daddr(p), p->tcp_len);

	pkt_store_be16(p->tcp + TCP_OFF_CHECK, partial);
}

bool tcp4_checksum_valid(const struct tcp4_view *v, enum tcp_csum_mode mode)
{
	switch (mode) {
	case CSUM_COMPLETE:
		if (v->truncated)
			return false;
		return tcp4_checksum_ok(tcp4v_saddr(v), tcp4v_daddr(v), v->tcp, v->tcp_len);
	case CSUM_PARTIAL_PSEUDO:
		return tcp4v_check(v) ==
		       tcp4_pseudo_sum(tcp4v_saddr(v), tcp4v_daddr(v), v->tcp_len);
	case CSUM_DEFERRED:
		return true;
	}
	return false;
}

bool tcp4_ip_checksum_valid(const struct tcp4_view *v)
{
	return ipv4_checksum_ok(v->ip, v->ip_hlen);
}
