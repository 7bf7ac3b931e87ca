/* libFuzzer target for the IPv4/TCP parser, the option walk and the
 * rewriters.  Properties checked beyond "no crash, no sanitizer report":
 * an accepted packet's lengths and pointers stay inside the input; after
 * tcp4_finalize_checksum() both checksums verify, and they keep verifying
 * through every incremental rewrite (header fields and options); in partial
 * mode an address rewrite leaves exactly the new pseudo-header sum; a
 * stripped option leaves a header that still parses.
 *
 * The first input byte selects the parse flags; the rest is the packet,
 * copied to a buffer of exactly its size so ASan sees any overread.
 *
 * fuzz-sources: nfq/core/checksum.c nfq/core/packet.c nfq/core/tcp_options.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "packet.h"
#include "tcp_options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int cond)
{
	if (!cond)
		abort();
}

static uint32_t word_from(const uint8_t *b, size_t len, size_t i)
{
	uint32_t v = 0x9e3779b9u * (uint32_t)(i + 1);

	for (size_t k = 0; k < 4 && len; k++)
		v = (v << 8) ^ b[(i + k) % len];
	return v;
}

static void check_complete(const struct tcp4_packet *p)
{
	struct tcp4_view v = tcp4_view_of(p);

	require(tcp4_ip_checksum_valid(&v));
	require(tcp4_checksum_valid(&v, CSUM_COMPLETE));
}

static void rewrite_complete(struct tcp4_packet *p, const uint8_t *data, size_t size)
{
	struct tcp_options o;
	size_t i = 0;

	if (tcp4_finalize_checksum(p) != 0)
		return;
	check_complete(p);
	tcp4_set_saddr(p, word_from(data, size, i++), CSUM_COMPLETE);
	tcp4_set_daddr(p, word_from(data, size, i++), CSUM_COMPLETE);
	tcp4_set_sport(p, (uint16_t)word_from(data, size, i++), CSUM_COMPLETE);
	tcp4_set_dport(p, (uint16_t)word_from(data, size, i++), CSUM_COMPLETE);
	tcp4_set_seq(p, word_from(data, size, i++), CSUM_COMPLETE);
	tcp4_set_ack(p, word_from(data, size, i++), CSUM_COMPLETE);
	tcp4_set_window(p, (uint16_t)word_from(data, size, i++), CSUM_COMPLETE);
	tcp4_set_flags(p, (uint8_t)word_from(data, size, i++), CSUM_COMPLETE);
	check_complete(p);
	if (tcp_options_parse(p, &o) != 0)
		return;
	tcp_options_set_mss(p, &o, (uint16_t)word_from(data, size, i++), CSUM_COMPLETE);
	tcp_options_set_wscale(p, &o, (uint8_t)word_from(data, size, i++), CSUM_COMPLETE);
	tcp_options_set_timestamp(p, &o, word_from(data, size, i), word_from(data, size, i + 1),
				  CSUM_COMPLETE);
	i += 2;
	for (unsigned k = 0; k < o.sack_count; k++)
		tcp_options_set_sack_block(p, &o, k, word_from(data, size, i),
					   word_from(data, size, i + 1), CSUM_COMPLETE);
	tcp_options_shift_sack(p, &o, (int32_t)word_from(data, size, i++), CSUM_COMPLETE);
	check_complete(p);
	tcp_options_strip(p, &o, (uint8_t)(word_from(data, size, i++) % 9), CSUM_COMPLETE);
	check_complete(p);
	require(tcp_options_parse(p, &o) == 0);
}

static void rewrite_partial(struct tcp4_packet *p, const uint8_t *data, size_t size)
{
	uint32_t a = word_from(data, size, 40), b = word_from(data, size, 41);

	tcp4_write_pseudo_checksum(p);
	tcp4_set_saddr(p, a, CSUM_PARTIAL_PSEUDO);
	tcp4_set_daddr(p, b, CSUM_PARTIAL_PSEUDO);
	tcp4_set_seq(p, b ^ a, CSUM_PARTIAL_PSEUDO);
	require(tcp4_check(p) == tcp4_pseudo_sum(a, b, p->tcp_len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tcp4_packet p;
	struct tcp4_view v;
	struct tcp_options o;
	unsigned flags;
	uint8_t *buf;
	int rc;

	if (size < 1)
		return 0;
	flags = data[0] & 1 ? PKT_PARSE_ALLOW_TRUNCATED : PKT_PARSE_STRICT;
	data++;
	size--;
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);

	rc = tcp4_view_parse(buf, size, flags, &v);
	if (rc == PKT_OK)
		(void)tcp_options_parse_view(&v, &o);
	rc = tcp4_parse_flags(buf, size, flags, &p);
	require(pkt_strerror(rc) != NULL);
	if (rc == PKT_OK) {
		require(p.ip == buf && p.len <= size && p.len <= p.tot_len);
		require(p.ip_hlen + p.tcp_hlen + p.payload_len == p.len);
		require(p.payload + p.payload_len == buf + p.len);
		rc = tcp_options_parse(&p, &o);
		require(rc <= 0 && rc > -PKT_NERRORS);
		if (!p.truncated)
			rewrite_complete(&p, data, size);
		rewrite_partial(&p, data, size);
	}
	free(buf);
	return 0;
}
