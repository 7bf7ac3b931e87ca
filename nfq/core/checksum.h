/* checksum.h - Internet checksum (RFC 1071) and incremental updates (RFC 1624).
 *
 * Conventions, used by every function here:
 *
 * - A "sum" (uint32_t) is a ones'-complement accumulator of the big-endian
 *   16-bit words of some bytes, kept as a plain number in host order; it may
 *   hold carries above bit 15 until it is folded.  0 is the empty sum.
 * - A folded value or checksum (uint16_t) is a host-order number; store it in
 *   a packet with a big-endian store (htons).
 * - A "check field" argument (void *check) points at the two bytes of a
 *   checksum inside a packet, in network order, at any alignment.
 * - Addresses are host-order numbers (198.18.0.1 is 0xc6120001).
 *
 * Chaining csum_partial(): the bytes are summed as if buf started at an even
 * offset of the checksummed area, so csum_partial(b, n2, csum_partial(a, n1, 0))
 * equals the sum of a followed by b only when n1 is even.  For a block that
 * starts at an odd offset, sum it alone and add it with
 * csum_block_add(sum, csum_partial(b, n2, 0), offset): a ones'-complement sum
 * of byte-swapped words is the byte-swapped sum, so an odd start is one swap.
 * The folded results are equal; the unfolded accumulators may differ.
 *
 * Complete versus partial TCP checksums: a complete checksum is ~fold(sum of
 * pseudo header + segment).  A partial one (what the kernel leaves for
 * CHECKSUM_PARTIAL, seen in NFQUEUE as NFQA_SKB_CSUMNOTREADY) holds only
 * fold(pseudo header), not complemented; the device or the segmentation path
 * later sums the segment on top of it.  csum_replace*() update a complete
 * checksum (RFC 1624 eqn 3, HC' = ~(~HC + ~m + m')); csum_pseudo_replace*()
 * update a partial one (P' = P + ~m + m').  With the non-zero sums TCP always
 * has, both produce exactly the bits a full recomputation produces.
 */
#ifndef CRAFT_CHECKSUM_H
#define CRAFT_CHECKSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Adds the bytes buf[0..len) (starting at an even offset) to sum. */
uint32_t csum_partial(const void *buf, size_t len, uint32_t sum);

/* Ones'-complement addition of two sums (end-around carry). */
uint32_t csum_add(uint32_t a, uint32_t b);

/* Subtracts sum b from sum a (adds its complement). */
uint32_t csum_sub(uint32_t a, uint32_t b);

/* Adds block_sum, the csum_partial() of a block that starts at byte offset
 * `offset` of the checksummed area, to sum (swapping bytes if offset is odd). */
uint32_t csum_block_add(uint32_t sum, uint32_t block_sum, size_t offset);

/* Folds a sum to 16 bits without complementing it (0 only for a zero sum). */
uint16_t csum_reduce(uint32_t sum);

/* Folds a sum to 16 bits and complements it: the value for a check field. */
uint16_t csum_fold(uint32_t sum);

/* Complete IPv4 header checksum over hlen bytes; the check field (bytes
 * 10-11) is treated as zero whatever it holds. */
uint16_t ipv4_header_checksum(const uint8_t *ip, size_t hlen);

/* True when the IPv4 header's own check field is correct. */
bool ipv4_checksum_ok(const uint8_t *ip, size_t hlen);

/* Unfolded sum of the TCP/IPv4 pseudo header (addresses, protocol, length). */
uint32_t tcp4_pseudo_accumulate(uint32_t saddr, uint32_t daddr, size_t tcp_len);

/* The partial value the kernel stores for CHECKSUM_PARTIAL: the folded,
 * uncomplemented pseudo-header sum. */
uint16_t tcp4_pseudo_sum(uint32_t saddr, uint32_t daddr, size_t tcp_len);

/* Complete TCP checksum of tcp[0..tcp_len) with its pseudo header; the check
 * field (bytes 16-17) is treated as zero.  Returns 0 if tcp_len < 18. */
uint16_t tcp4_checksum_full(uint32_t saddr, uint32_t daddr, const uint8_t *tcp, size_t tcp_len);

/* True when the TCP check field holds a correct complete checksum. */
bool tcp4_checksum_ok(uint32_t saddr, uint32_t daddr, const uint8_t *tcp, size_t tcp_len);

/* Incremental update of a complete checksum for a 16-bit or 32-bit word that
 * changes from old to new (host-order values of big-endian words at an even
 * offset of the checksummed area). */
void csum_replace2(void *check, uint16_t old, uint16_t new);
void csum_replace4(void *check, uint32_t old, uint32_t new);

/* Incremental update of a complete checksum for len bytes that change from
 * old[] to new[]; odd_offset says whether they start at an odd offset of the
 * checksummed area (e.g. TCP options after a single NOP). */
void csum_replace_bytes(void *check, const uint8_t *old, const uint8_t *new, size_t len,
			bool odd_offset);

/* Incremental update of a partial (pseudo-header-only) checksum field for a
 * pseudo-header word that changes: an address (4) or the TCP length (2). */
void csum_pseudo_replace2(void *check, uint16_t old, uint16_t new);
void csum_pseudo_replace4(void *check, uint32_t old, uint32_t new);

#endif /* CRAFT_CHECKSUM_H */
