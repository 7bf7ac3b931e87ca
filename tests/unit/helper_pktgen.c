/* helper_pktgen.c - test packet builder, seeded PRNG and reference checksums.
 *
 * Deliberately plain: the reference checksum walks one big-endian word at a
 * time with no tricks, and the builder writes every byte explicitly, so that
 * it can serve as the oracle for the optimised code in nfq/core.
 */
#include "helper_pktgen.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void pktgen_rng_seed(struct pktgen_rng *r, uint64_t seed)
{
	r->state = seed;
}

/* splitmix64: tiny, fast, and good enough for test-case generation. */
uint64_t pktgen_u64(struct pktgen_rng *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint32_t pktgen_u32(struct pktgen_rng *r)
{
	return (uint32_t)(pktgen_u64(r) >> 32);
}

uint32_t pktgen_below(struct pktgen_rng *r, uint32_t n)
{
	if (!n)
		return 0;
	return (uint32_t)(((pktgen_u64(r) >> 32) * n) >> 32);
}

bool pktgen_chance(struct pktgen_rng *r, unsigned percent)
{
	return pktgen_below(r, 100) < percent;
}

void pktgen_fill(struct pktgen_rng *r, uint8_t *buf, size_t len)
{
	while (len >= 8) {
		uint64_t v = pktgen_u64(r);

		memcpy(buf, &v, 8);
		buf += 8;
		len -= 8;
	}
	if (len) {
		uint64_t v = pktgen_u64(r);

		memcpy(buf, &v, len);
	}
}

uint64_t pktgen_test_seed(const char *test_name)
{
	const char *env = getenv("CRAFT_TEST_SEED");
	uint64_t seed;

	if (env && *env) {
		seed = strtoull(env, NULL, 0);
	} else {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = ((uint64_t)ts.tv_sec * 1000000007ull) ^ (uint64_t)ts.tv_nsec ^
		       ((uint64_t)getpid() << 32);
	}
	fprintf(stderr, "%s: seed=0x%016" PRIx64 " (set CRAFT_TEST_SEED to repeat)\n", test_name,
		seed);
	return seed;
}

void pktgen_spec_init(struct pktgen_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->saddr = 0xc612000a; /* 198.18.0.10 */
	s->daddr = 0xc6120a01; /* 198.18.10.1 */
	s->sport = 40000;
	s->dport = 80;
	s->seq = 1000;
	s->ack = 2000;
	s->flags = TCP_FL_ACK;
	s->window = 65535;
	s->ttl = 64;
	s->ip_id = 1;
	s->df = true;
	s->csum = CSUM_COMPLETE;
}

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* Appends bytes to the TCP option area; returns the option's header offset
 * or -ENOSPC. */
static int opt_append(struct pktgen_spec *s, const uint8_t *bytes, size_t len)
{
	size_t off = TCP_HDR_MIN + s->tcp_opt_len;

	if (len > PKTGEN_OPT_MAX - s->tcp_opt_len)
		return -ENOSPC;
	memcpy(s->tcp_opts + s->tcp_opt_len, bytes, len);
	s->tcp_opt_len += len;
	return (int)off;
}

int pktgen_opt_nop(struct pktgen_spec *s)
{
	const uint8_t b[1] = {TCP_OPT_NOP};
	int off = opt_append(s, b, sizeof(b));

	return off < 0 ? off : 0;
}

int pktgen_opt_mss(struct pktgen_spec *s, uint16_t mss)
{
	const uint8_t b[4] = {TCP_OPT_MSS, 4, (uint8_t)(mss >> 8), (uint8_t)mss};
	int off = opt_append(s, b, sizeof(b));

	if (off < 0)
		return off;
	s->expect.has_mss = true;
	s->expect.mss = mss;
	s->expect.mss_off = (uint8_t)off;
	return 0;
}

int pktgen_opt_wscale(struct pktgen_spec *s, uint8_t wscale)
{
	const uint8_t b[3] = {TCP_OPT_WSCALE, 3, wscale};
	int off = opt_append(s, b, sizeof(b));

	if (off < 0)
		return off;
	s->expect.has_wscale = true;
	s->expect.wscale = wscale;
	s->expect.wscale_off = (uint8_t)off;
	return 0;
}

int pktgen_opt_sack_perm(struct pktgen_spec *s)
{
	const uint8_t b[2] = {TCP_OPT_SACK_PERM, 2};
	int off = opt_append(s, b, sizeof(b));

	if (off < 0)
		return off;
	s->expect.sack_permitted = true;
	s->expect.sack_perm_off = (uint8_t)off;
	return 0;
}

int pktgen_opt_timestamp(struct pktgen_spec *s, uint32_t tsval, uint32_t tsecr)
{
	uint8_t b[10] = {TCP_OPT_TIMESTAMP, 10};
	int off;

	pkt_store_be32(b + 2, tsval);
	pkt_store_be32(b + 6, tsecr);
	off = opt_append(s, b, sizeof(b));
	if (off < 0)
		return off;
	s->expect.has_timestamp = true;
	s->expect.tsval = tsval;
	s->expect.tsecr = tsecr;
	s->expect.ts_off = (uint8_t)off;
	return 0;
}

int pktgen_opt_sack(struct pktgen_spec *s, const struct tcp_sack_block *blocks, unsigned n)
{
	uint8_t b[2 + 8 * TCP_SACK_MAX];
	int off;

	if (n < 1 || n > TCP_SACK_MAX)
		return -EINVAL;
	b[0] = TCP_OPT_SACK;
	b[1] = (uint8_t)(2 + 8 * n);
	for (unsigned i = 0; i < n; i++) {
		pkt_store_be32(b + 2 + 8 * i, blocks[i].start);
		pkt_store_be32(b + 6 + 8 * i, blocks[i].end);
	}
	off = opt_append(s, b, 2 + 8 * (size_t)n);
	if (off < 0)
		return off;
	s->expect.sack_count = n;
	s->expect.sack_off = (uint8_t)off;
	for (unsigned i = 0; i < n; i++)
		s->expect.sack[i] = blocks[i];
	return 0;
}

int pktgen_opt_raw(struct pktgen_spec *s, const uint8_t *bytes, size_t len)
{
	int off = opt_append(s, bytes, len);

	if (off < 0)
		return off;
	if (len && (bytes[0] == TCP_OPT_MD5 || bytes[0] == TCP_OPT_AO))
		s->expect.has_signature = true;
	else if (len && bytes[0] > TCP_OPT_TIMESTAMP)
		s->expect.unknown_count++;
	return 0;
}

void pktgen_spec_patch_opt(struct pktgen_spec *s, size_t off, const uint8_t *bytes, size_t len)
{
	if (off < TCP_HDR_MIN || off - TCP_HDR_MIN + len > PKTGEN_OPT_MAX)
		abort();
	memcpy(s->tcp_opts + (off - TCP_HDR_MIN), bytes, len);
}

size_t pktgen_len(const struct pktgen_spec *s)
{
	return IPV4_HDR_MIN + pad4(s->ip_opt_len) + TCP_HDR_MIN + pad4(s->tcp_opt_len) +
	       s->payload_len;
}

static uint32_t ref_add_words(uint32_t acc, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		acc += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		acc += (uint32_t)b[len - 1] << 8;
	return acc;
}

static uint16_t ref_fold(uint64_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

uint16_t pktgen_ref_sum(const uint8_t *buf, size_t len)
{
	uint64_t acc = 0;

	/* Chunked so that the 32-bit word accumulator can never overflow. */
	while (len) {
		size_t n = len > 4096 ? 4096 : len;

		acc += ref_add_words(0, buf, n);
		buf += n;
		len -= n;
	}
	return ref_fold(acc);
}

static uint64_t ref_pseudo(uint32_t saddr, uint32_t daddr, size_t tcp_len)
{
	return (uint64_t)(saddr >> 16) + (saddr & 0xffff) + (daddr >> 16) + (daddr & 0xffff) +
	       IPV4_PROTO_TCP + tcp_len;
}

uint16_t pktgen_ref_pseudo_sum(uint32_t saddr, uint32_t daddr, size_t tcp_len)
{
	return ref_fold(ref_pseudo(saddr, daddr, tcp_len));
}

uint16_t pktgen_ref_tcp_checksum(uint32_t saddr, uint32_t daddr, const uint8_t *tcp, size_t tcp_len)
{
	uint64_t acc = ref_pseudo(saddr, daddr, tcp_len);

	acc += pktgen_ref_sum(tcp, 16 < tcp_len ? 16 : tcp_len);
	if (tcp_len > 18)
		acc += pktgen_ref_sum(tcp + 18, tcp_len - 18);
	return (uint16_t)~ref_fold(acc);
}

int pktgen_build(const struct pktgen_spec *s, uint8_t *buf, size_t cap)
{
	size_t ihl = IPV4_HDR_MIN + pad4(s->ip_opt_len);
	size_t thl = TCP_HDR_MIN + pad4(s->tcp_opt_len);
	size_t tot = pktgen_len(s);
	uint8_t *ip = buf, *tcp = buf + ihl;
	uint16_t check = 0;

	if (s->ip_opt_len > PKTGEN_OPT_MAX || s->tcp_opt_len > PKTGEN_OPT_MAX ||
	    tot > PKTGEN_MAX_LEN)
		return -EINVAL;
	if (tot > cap)
		return -ENOSPC;
	memset(buf, 0, ihl + thl);
	ip[0] = (uint8_t)(0x40 | ihl / 4);
	ip[1] = s->tos;
	pkt_store_be16(ip + IPV4_OFF_TOTLEN, (uint16_t)tot);
	pkt_store_be16(ip + 4, s->ip_id);
	pkt_store_be16(ip + IPV4_OFF_FRAG, s->df ? 0x4000 : 0);
	ip[8] = s->ttl;
	ip[IPV4_OFF_PROTO] = IPV4_PROTO_TCP;
	pkt_store_be32(ip + IPV4_OFF_SADDR, s->saddr);
	pkt_store_be32(ip + IPV4_OFF_DADDR, s->daddr);
	memcpy(ip + IPV4_HDR_MIN, s->ip_opts, s->ip_opt_len);
	pkt_store_be16(ip + IPV4_OFF_CHECK, (uint16_t)~pktgen_ref_sum(ip, ihl));

	pkt_store_be16(tcp + TCP_OFF_SPORT, s->sport);
	pkt_store_be16(tcp + TCP_OFF_DPORT, s->dport);
	pkt_store_be32(tcp + TCP_OFF_SEQ, s->seq);
	pkt_store_be32(tcp + TCP_OFF_ACK, s->ack);
	tcp[TCP_OFF_DOFF] = (uint8_t)(thl / 4 << 4);
	tcp[TCP_OFF_FLAGS] = s->flags;
	pkt_store_be16(tcp + TCP_OFF_WINDOW, s->window);
	pkt_store_be16(tcp + TCP_OFF_URG, s->urg_ptr);
	memcpy(tcp + TCP_HDR_MIN, s->tcp_opts, s->tcp_opt_len);
	if (s->payload)
		memcpy(tcp + thl, s->payload, s->payload_len);
	else
		memset(tcp + thl, 0, s->payload_len);

	if (s->csum == CSUM_COMPLETE)
		check = pktgen_ref_tcp_checksum(s->saddr, s->daddr, tcp, tot - ihl);
	else if (s->csum == CSUM_PARTIAL_PSEUDO)
		check = pktgen_ref_pseudo_sum(s->saddr, s->daddr, tot - ihl);
	pkt_store_be16(tcp + TCP_OFF_CHECK, check);
	return (int)tot;
}

static void random_unknown_option(struct pktgen_rng *r, struct pktgen_spec *s)
{
	uint8_t b[18];
	size_t len;

	if (pktgen_chance(r, 10)) {
		b[0] = TCP_OPT_MD5;
		len = 18;
	} else {
		do {
			b[0] = (uint8_t)(9 + pktgen_below(r, 245)); /* 9..253 */
		} while (b[0] == TCP_OPT_MD5 || b[0] == TCP_OPT_AO);
		len = 2 + pktgen_below(r, 7);
	}
	b[1] = (uint8_t)len;
	pktgen_fill(r, b + 2, len - 2);
	pktgen_opt_raw(s, b, len);
}

static void random_sack(struct pktgen_rng *r, struct pktgen_spec *s)
{
	struct tcp_sack_block blk[TCP_SACK_MAX];
	size_t room = PKTGEN_OPT_MAX - s->tcp_opt_len;
	unsigned n = 1 + pktgen_below(r, TCP_SACK_MAX);

	while (n && 2 + 8 * (size_t)n > room)
		n--;
	if (!n)
		return;
	for (unsigned i = 0; i < n; i++) {
		blk[i].start = pktgen_u32(r);
		blk[i].end = blk[i].start + pktgen_below(r, 1u << 20);
	}
	pktgen_opt_sack(s, blk, n);
}

enum { RO_MSS, RO_WSCALE, RO_SACK_PERM, RO_TS, RO_SACK, RO_UNKNOWN, RO_UNKNOWN2, RO_COUNT };

static void random_options(struct pktgen_rng *r, struct pktgen_spec *s)
{
	int order[RO_COUNT];

	for (int i = 0; i < RO_COUNT; i++)
		order[i] = i;
	for (int i = RO_COUNT - 1; i > 0; i--) {
		int j = (int)pktgen_below(r, (uint32_t)i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (int i = 0; i < RO_COUNT; i++) {
		if (!pktgen_chance(r, order[i] >= RO_UNKNOWN ? 15 : 55))
			continue;
		while (pktgen_chance(r, 30))
			pktgen_opt_nop(s);
		switch (order[i]) {
		case RO_MSS:
			pktgen_opt_mss(s, (uint16_t)pktgen_u32(r));
			break;
		case RO_WSCALE:
			pktgen_opt_wscale(s, (uint8_t)pktgen_below(r, 16));
			break;
		case RO_SACK_PERM:
			pktgen_opt_sack_perm(s);
			break;
		case RO_TS:
			pktgen_opt_timestamp(s, pktgen_u32(r), pktgen_u32(r));
			break;
		case RO_SACK:
			random_sack(r, s);
			break;
		default:
			random_unknown_option(r, s);
			break;
		}
	}
}

static size_t random_payload_len(struct pktgen_rng *r, size_t cap)
{
	uint32_t pick = pktgen_below(r, 100);
	size_t n;

	if (pick < 20)
		n = 0;
	else if (pick < 50)
		n = 1 + pktgen_below(r, 64);
	else if (pick < 90)
		n = 65 + pktgen_below(r, 1460 - 64);
	else if (pick < 99)
		n = pktgen_below(r, 9001);
	else
		n = pktgen_below(r, PKTGEN_MAX_LEN + 1);
	return n < cap ? n : cap;
}

void pktgen_random_spec(struct pktgen_rng *r, struct pktgen_spec *s, uint8_t *payload_buf,
			size_t payload_cap, enum tcp_csum_mode csum)
{
	size_t max_payload;

	pktgen_spec_init(s);
	s->saddr = pktgen_u32(r);
	s->daddr = pktgen_u32(r);
	s->sport = (uint16_t)pktgen_u32(r);
	s->dport = (uint16_t)pktgen_u32(r);
	s->seq = pktgen_u32(r);
	s->ack = pktgen_u32(r);
	s->flags = (uint8_t)pktgen_u32(r);
	s->window = (uint16_t)pktgen_u32(r);
	s->urg_ptr = pktgen_chance(r, 5) ? (uint16_t)pktgen_u32(r) : 0;
	s->tos = (uint8_t)pktgen_u32(r);
	s->ttl = (uint8_t)pktgen_u32(r);
	s->ip_id = (uint16_t)pktgen_u32(r);
	s->df = pktgen_chance(r, 70);
	s->csum = csum;
	if (pktgen_chance(r, 5)) {
		s->ip_opt_len = 1 + pktgen_below(r, PKTGEN_OPT_MAX);
		memset(s->ip_opts, TCP_OPT_NOP, s->ip_opt_len); /* IP NOP is 1 too */
	}
	random_options(r, s);
	max_payload = PKTGEN_MAX_LEN - (pktgen_len(s) - s->payload_len);
	if (payload_cap > max_payload)
		payload_cap = max_payload;
	s->payload_len = random_payload_len(r, payload_cap);
	pktgen_fill(r, payload_buf, s->payload_len);
	s->payload = payload_buf;
}
