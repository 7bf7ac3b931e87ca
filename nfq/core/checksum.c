/* checksum.c - Internet checksum and RFC 1624 incremental updates.
 *
 * The bulk sum reads the buffer as native-order 32-bit words (memcpy, so any
 * alignment is fine) into a 64-bit accumulator, folds it, and byte-swaps the
 * result into big-endian terms once: RFC 1071 section 2(B), the sum of
 * byte-swapped words is the byte-swapped sum.  A 64-bit accumulator cannot
 * overflow for any buffer shorter than 16 GiB, so there is no carry
 * handling inside the loop.
 *
 * Incremental updates follow RFC 1624 eqn 3, HC' = ~(~HC + ~m + m'), which
 * (unlike eqn 2) never produces a 0x0000 checksum from a non-zero sum, so an
 * update gives the same bits as a full recomputation.  See checksum.h for
 * the argument conventions and for partial (pseudo-header-only) fields.
 */
#include "checksum.h"

#include <arpa/inet.h>
#include <string.h>

#define IPPROTO_TCP_NUM 6

static uint16_t load_check(const void *check)
{
	uint16_t v;

	memcpy(&v, check, sizeof(v));
	return ntohs(v);
}

static void store_check(void *check, uint16_t value)
{
	uint16_t v = htons(value);

	memcpy(check, &v, sizeof(v));
}

static uint16_t swap16(uint16_t v)
{
	return (uint16_t)((v << 8) | (v >> 8));
}

/* Ones'-complement sum of native-order 16-bit words, folded to 16 bits. */
static uint16_t sum_native16(const uint8_t *p, size_t len)
{
	uint64_t acc = 0;
	uint32_t w32;
	uint16_t w16;

	while (len >= 8) {
		uint32_t a, b;

		memcpy(&a, p, 4);
		memcpy(&b, p + 4, 4);
		acc += (uint64_t)a + b;
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		memcpy(&w32, p, 4);
		acc += w32;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		memcpy(&w16, p, 2);
		acc += w16;
		p += 2;
		len -= 2;
	}
	if (len) {
		/* A trailing byte is the first byte of a word padded with zero. */
		w16 = 0;
		memcpy(&w16, p, 1);
		acc += w16;
	}
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffffffu) + (acc >> 32);
	return csum_reduce((uint32_t)acc);
}

uint32_t csum_add(uint32_t a, uint32_t b)
{
	uint32_t s = a + b;

	return s + (s < b);
}

uint32_t csum_sub(uint32_t a, uint32_t b)
{
	return csum_add(a, ~b);
}

uint16_t csum_reduce(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

uint16_t csum_fold(uint32_t sum)
{
	return (uint16_t)~csum_reduce(sum);
}

uint32_t csum_partial(const void *buf, size_t len, uint32_t sum)
{
	if (!len)
		return sum;
	return csum_add(sum, ntohs(sum_native16(buf, len)));
}

uint32_t csum_block_add(uint32_t sum, uint32_t block_sum, size_t offset)
{
	if (offset & 1)
		block_sum = swap16(csum_reduce(block_sum));
	return csum_add(sum, block_sum);
}

uint16_t ipv4_header_checksum(const uint8_t *ip, size_t hlen)
{
	uint32_t sum;

	if (hlen < 12)
		return 0;
	sum = csum_partial(ip, 10, 0);
	sum = csum_partial(ip + 12, hlen - 12, sum);
	return csum_fold(sum);
}

bool ipv4_checksum_ok(const uint8_t *ip, size_t hlen)
{
	if (hlen < 20)
		return false;
	return csum_reduce(csum_partial(ip, hlen, 0)) == 0xffff;
}

uint32_t tcp4_pseudo_accumulate(uint32_t saddr, uint32_t daddr, size_t tcp_len)
{
	uint32_t sum = 0;

	sum = csum_add(sum, saddr >> 16);
	sum = csum_add(sum, saddr & 0xffff);
	sum = csum_add(sum, daddr >> 16);
	sum = csum_add(sum, daddr & 0xffff);
	sum = csum_add(sum, IPPROTO_TCP_NUM);
	return csum_add(sum, (uint32_t)tcp_len);
}

uint16_t tcp4_pseudo_sum(uint32_t saddr, uint32_t daddr, size_t tcp_len)
{
	return csum_reduce(tcp4_pseudo_accumulate(saddr, daddr, tcp_len));
}

uint16_t tcp4_checksum_full(uint32_t saddr, uint32_t daddr, const uint8_t *tcp, size_t tcp_len)
{
	uint32_t sum;

	if (tcp_len < 18)
		return 0;
	sum = tcp4_pseudo_accumulate(saddr, daddr, tcp_len);
	sum = csum_partial(tcp, 16, sum);
	sum = csum_partial(tcp + 18, tcp_len - 18, sum);
	return csum_fold(sum);
}

bool tcp4_checksum_ok(uint32_t saddr, uint32_t daddr, const uint8_t *tcp, size_t tcp_len)
{
	uint32_t sum;

	if (tcp_len < 20)
		return false;
	sum = tcp4_pseudo_accumulate(saddr, daddr, tcp_len);
	sum = csum_partial(tcp, tcp_len, sum);
	return csum_reduce(sum) == 0xffff;
}

/* ~m + m' for a 32-bit word, as a sum of 16-bit terms. */
static uint32_t delta4(uint32_t old, uint32_t new)
{
	return (~old >> 16) + (~old & 0xffff) + (new >> 16) + (new & 0xffff);
}

void csum_replace2(void *check, uint16_t old, uint16_t new)
{
	uint32_t sum = (uint16_t)~load_check(check);

	sum += (uint16_t)~old;
	sum += new;
	store_check(check, csum_fold(sum));
}

void csum_replace4(void *check, uint32_t old, uint32_t new)
{
	uint32_t sum = (uint16_t)~load_check(check);

	sum += delta4(old, new);
	store_check(check, csum_fold(sum));
}

void csum_replace_bytes(void *check, const uint8_t *old, const uint8_t *new, size_t len,
			bool odd_offset)
{
	uint16_t m = csum_reduce(csum_partial(old, len, 0));
	uint16_t m_new = csum_reduce(csum_partial(new, len, 0));
	uint32_t sum;

	if (odd_offset) {
		m = swap16(m);
		m_new = swap16(m_new);
	}
	sum = (uint16_t)~load_check(check);
	sum += (uint16_t)~m;
	sum += m_new;
	store_check(check, csum_fold(sum));
}

void csum_pseudo_replace2(void *check, uint16_t old, uint16_t new)
{
	uint32_t sum = load_check(check);

	sum += (uint16_t)~old;
	sum += new;
	store_check(check, csum_reduce(sum));
}

void csum_pseudo_replace4(void *check, uint32_t old, uint32_t new)
{
	uint32_t sum = load_check(check);

	sum += delta4(old, new);
	store_check(check, csum_reduce(sum));
}
