/* tcp_options.c - TCP option walk and in-place rewriting.
 *
 * The walk never reads a byte it has not bounds-checked against the data
 * offset, and rejects what a rewriter could not handle safely (see the rules
 * in tcp_options.h).  Every rewrite goes through patch(), which re-checks
 * that the recorded offset still holds the expected option (so a stale or
 * foreign struct tcp_options cannot scribble on the packet) and updates a
 * complete checksum for the exact bytes changed, at their real parity.
 */
#include "tcp_options.h"

#include <errno.h>
#include <string.h>

#include "checksum.h"

static int note_option(struct tcp_options *o, const uint8_t *tcp, size_t off, size_t len)
{
	const uint8_t *v = tcp + off + 2;

	switch (tcp[off]) {
	case TCP_OPT_MSS:
		if (len != TCP_OPTLEN_MSS)
			return PKT_EOPTBAD;
		if (o->has_mss)
			return PKT_EOPTDUP;
		o->has_mss = true;
		o->mss = pkt_load_be16(v);
		o->mss_off = (uint8_t)off;
		break;
	case TCP_OPT_WSCALE:
		if (len != TCP_OPTLEN_WSCALE)
			return PKT_EOPTBAD;
		if (o->has_wscale)
			return PKT_EOPTDUP;
		o->has_wscale = true;
		o->wscale = v[0];
		o->wscale_off = (uint8_t)off;
		break;
	case TCP_OPT_SACK_PERM:
		if (len != TCP_OPTLEN_SACK_PERM)
			return PKT_EOPTBAD;
		if (o->sack_permitted)
			return PKT_EOPTDUP;
		o->sack_permitted = true;
		o->sack_perm_off = (uint8_t)off;
		break;
	case TCP_OPT_TIMESTAMP:
		if (len != TCP_OPTLEN_TIMESTAMP)
			return PKT_EOPTBAD;
		if (o->has_timestamp)
			return PKT_EOPTDUP;
		o->has_timestamp = true;
		o->tsval = pkt_load_be32(v);
		o->tsecr = pkt_load_be32(v + 4);
		o->ts_off = (uint8_t)off;
		break;
	case TCP_OPT_SACK: {
		size_t n = (len - TCP_OPTLEN_SACK_BASE) / TCP_OPTLEN_SACK_PER;

		if (len < TCP_OPTLEN_SACK_BASE + TCP_OPTLEN_SACK_PER ||
		    (len - TCP_OPTLEN_SACK_BASE) % TCP_OPTLEN_SACK_PER || n > TCP_SACK_MAX)
			return PKT_EOPTBAD;
		if (o->sack_off)
			return PKT_EOPTDUP;
		o->sack_off = (uint8_t)off;
		o->sack_count = (unsigned)n;
		for (size_t i = 0; i < n; i++) {
			o->sack[i].start = pkt_load_be32(v + 8 * i);
			o->sack[i].end = pkt_load_be32(v + 8 * i + 4);
		}
		break;
	}
	case TCP_OPT_MD5:
	case TCP_OPT_AO:
		o->has_signature = true;
		break;
	default:
		o->unknown_count++;
		break;
	}
	return 0;
}

int tcp_options_parse_hdr(const uint8_t *tcp, size_t hlen, struct tcp_options *o)
{
	size_t off = TCP_HDR_MIN;
	int rc;

	memset(o, 0, sizeof(*o));
	if (hlen < TCP_HDR_MIN || hlen > TCP_HDR_MAX)
		return PKT_EDOFF;
	while (off < hlen) {
		size_t len;

		if (tcp[off] == TCP_OPT_EOL)
			break;
		if (tcp[off] == TCP_OPT_NOP) {
			off++;
			continue;
		}
		if (off + 1 >= hlen)
			goto bad_len;
		len = tcp[off + 1];
		if (len < 2 || len > hlen - off)
			goto bad_len;
		rc = note_option(o, tcp, off, len);
		if (rc) {
			memset(o, 0, sizeof(*o));
			return rc;
		}
		off += len;
	}
	return 0;
bad_len:
	memset(o, 0, sizeof(*o));
	return PKT_EOPTLEN;
}

int tcp_options_parse(const struct tcp4_packet *p, struct tcp_options *o)
{
	return tcp_options_parse_hdr(p->tcp, p->tcp_hlen, o);
}

int tcp_options_parse_view(const struct tcp4_view *v, struct tcp_options *o)
{
	return tcp_options_parse_hdr(v->tcp, v->tcp_hlen, o);
}

/* Replaces n bytes at TCP-header offset off (inside the option whose kind
 * byte is at opt_off) with bytes[], fixing a complete checksum. */
static int patch(struct tcp4_packet *p, size_t opt_off, uint8_t kind, size_t off,
		 const uint8_t *bytes, size_t n, enum tcp_csum_mode mode)
{
	uint8_t *dst;

	if (opt_off < TCP_HDR_MIN || off + n > p->tcp_hlen || p->tcp[opt_off] != kind)
		return -EINVAL;
	dst = p->tcp + off;
	if (mode == CSUM_COMPLETE)
		csum_replace_bytes(p->tcp + TCP_OFF_CHECK, dst, bytes, n, off & 1);
	memcpy(dst, bytes, n);
	return 0;
}

int tcp_options_set_mss(struct tcp4_packet *p, struct tcp_options *o, uint16_t mss,
			enum tcp_csum_mode mode)
{
	uint8_t b[2];
	int rc;

	if (!o->has_mss)
		return -ENOENT;
	pkt_store_be16(b, mss);
	rc = patch(p, o->mss_off, TCP_OPT_MSS, o->mss_off + 2u, b, sizeof(b), mode);
	if (!rc)
		o->mss = mss;
	return rc;
}

int tcp_options_set_wscale(struct tcp4_packet *p, struct tcp_options *o, uint8_t wscale,
			   enum tcp_csum_mode mode)
{
	int rc;

	if (!o->has_wscale)
		return -ENOENT;
	rc = patch(p, o->wscale_off, TCP_OPT_WSCALE, o->wscale_off + 2u, &wscale, 1, mode);
	if (!rc)
		o->wscale = wscale;
	return rc;
}

int tcp_options_set_timestamp(struct tcp4_packet *p, struct tcp_options *o, uint32_t tsval,
			      uint32_t tsecr, enum tcp_csum_mode mode)
{
	uint8_t b[8];
	int rc;

	if (!o->has_timestamp)
		return -ENOENT;
	pkt_store_be32(b, tsval);
	pkt_store_be32(b + 4, tsecr);
	rc = patch(p, o->ts_off, TCP_OPT_TIMESTAMP, o->ts_off + 2u, b, sizeof(b), mode);
	if (!rc) {
		o->tsval = tsval;
		o->tsecr = tsecr;
	}
	return rc;
}

int tcp_options_set_sack_block(struct tcp4_packet *p, struct tcp_options *o, unsigned i,
			       uint32_t start, uint32_t end, enum tcp_csum_mode mode)
{
	uint8_t b[8];
	int rc;

	if (!o->sack_count)
		return -ENOENT;
	if (i >= o->sack_count)
		return -EINVAL;
	pkt_store_be32(b, start);
	pkt_store_be32(b + 4, end);
	rc = patch(p, o->sack_off, TCP_OPT_SACK, o->sack_off + 2u + 8u * i, b, sizeof(b), mode);
	if (!rc) {
		o->sack[i].start = start;
		o->sack[i].end = end;
	}
	return rc;
}

int tcp_options_shift_sack(struct tcp4_packet *p, struct tcp_options *o, int32_t delta,
			   enum tcp_csum_mode mode)
{
	uint8_t b[TCP_SACK_MAX * 8];
	size_t n = o->sack_count;
	int rc;

	if (!n || !delta)
		return 0;
	if (n > TCP_SACK_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		pkt_store_be32(b + 8 * i, o->sack[i].start + (uint32_t)delta);
		pkt_store_be32(b + 8 * i + 4, o->sack[i].end + (uint32_t)delta);
	}
	rc = patch(p, o->sack_off, TCP_OPT_SACK, o->sack_off + 2u, b, 8 * n, mode);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		o->sack[i].start += (uint32_t)delta;
		o->sack[i].end += (uint32_t)delta;
	}
	return 0;
}

/* Where the whole option `kind` sits: 0, -ENOENT if absent, -EINVAL if the
 * kind is not one the parser records. */
static int option_span(const struct tcp_options *o, uint8_t kind, size_t *off, size_t *len)
{
	bool present;

	switch (kind) {
	case TCP_OPT_MSS:
		present = o->has_mss;
		*off = o->mss_off;
		*len = TCP_OPTLEN_MSS;
		break;
	case TCP_OPT_WSCALE:
		present = o->has_wscale;
		*off = o->wscale_off;
		*len = TCP_OPTLEN_WSCALE;
		break;
	case TCP_OPT_SACK_PERM:
		present = o->sack_permitted;
		*off = o->sack_perm_off;
		*len = TCP_OPTLEN_SACK_PERM;
		break;
	case TCP_OPT_TIMESTAMP:
		present = o->has_timestamp;
		*off = o->ts_off;
		*len = TCP_OPTLEN_TIMESTAMP;
		break;
	case TCP_OPT_SACK:
		if (o->sack_count > TCP_SACK_MAX)
			return -EINVAL;
		present = o->sack_count > 0;
		*off = o->sack_off;
		*len = TCP_OPTLEN_SACK_BASE + TCP_OPTLEN_SACK_PER * (size_t)o->sack_count;
		break;
	default:
		return -EINVAL;
	}
	return present ? 0 : -ENOENT;
}

static void forget_option(struct tcp_options *o, uint8_t kind)
{
	switch (kind) {
	case TCP_OPT_MSS:
		o->has_mss = false;
		o->mss = 0;
		o->mss_off = 0;
		break;
	case TCP_OPT_WSCALE:
		o->has_wscale = false;
		o->wscale = 0;
		o->wscale_off = 0;
		break;
	case TCP_OPT_SACK_PERM:
		o->sack_permitted = false;
		o->sack_perm_off = 0;
		break;
	case TCP_OPT_TIMESTAMP:
		o->has_timestamp = false;
		o->tsval = 0;
		o->tsecr = 0;
		o->ts_off = 0;
		break;
	case TCP_OPT_SACK:
		o->sack_count = 0;
		o->sack_off = 0;
		memset(o->sack, 0, sizeof(o->sack));
		break;
	}
}

int tcp_options_strip(struct tcp4_packet *p, struct tcp_options *o, uint8_t kind,
		      enum tcp_csum_mode mode)
{
	uint8_t nops[TCP_HDR_MAX - TCP_HDR_MIN];
	size_t off, len;
	int rc = option_span(o, kind, &off, &len);

	if (rc)
		return rc;
	memset(nops, TCP_OPT_NOP, len);
	rc = patch(p, off, kind, off, nops, len, mode);
	if (!rc)
		forget_option(o, kind);
	return rc;
}

uint16_t tcp_window_rescale(uint16_t raw, unsigned from_scale, unsigned to_scale)
{
	uint32_t bytes;

	if (from_scale > TCP_WSCALE_MAX)
		from_scale = TCP_WSCALE_MAX;
	if (to_scale > TCP_WSCALE_MAX)
		to_scale = TCP_WSCALE_MAX;
	bytes = (uint32_t)raw << from_scale;
	bytes >>= to_scale;
	return bytes > 0xffff ? 0xffff : (uint16_t)bytes;
}
