/* helper_pktgen.h - builds valid (or random) IPv4/TCP packets for tests.
 *
 * A test describes a packet with struct pktgen_spec (plain field values,
 * option bytes appended by the pktgen_opt_* helpers, a payload) and turns it
 * into bytes with pktgen_build().  Checksums are computed by the naive
 * reference code in this helper, not by the core, so that tests comparing the
 * core's results with a built packet compare two independent implementations.
 *
 * Randomness comes from a small seeded PRNG (splitmix64).  pktgen_test_seed()
 * returns CRAFT_TEST_SEED from the environment when set, otherwise a fresh
 * seed, and prints it, so that any failure can be replayed exactly.
 *
 * The spec also records what a correct option parser must report
 * (spec.expect, a struct tcp_options with offsets), kept up to date by the
 * pktgen_opt_* helpers and by pktgen_spec_patch_opt().
 */
#ifndef CRAFT_HELPER_PKTGEN_H
#define CRAFT_HELPER_PKTGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet.h"
#include "tcp_options.h"

#define PKTGEN_OPT_MAX 40
#define PKTGEN_MAX_LEN 65535

struct pktgen_rng {
	uint64_t state;
};

void pktgen_rng_seed(struct pktgen_rng *r, uint64_t seed);
uint64_t pktgen_u64(struct pktgen_rng *r);
uint32_t pktgen_u32(struct pktgen_rng *r);
/* Uniform in [0, n); 0 when n is 0. */
uint32_t pktgen_below(struct pktgen_rng *r, uint32_t n);
/* True with probability percent/100. */
bool pktgen_chance(struct pktgen_rng *r, unsigned percent);
void pktgen_fill(struct pktgen_rng *r, uint8_t *buf, size_t len);

/* CRAFT_TEST_SEED (strtoull, any base) or a fresh seed; printed to stderr
 * with the test's name. */
uint64_t pktgen_test_seed(const char *test_name);

struct pktgen_spec {
	uint32_t saddr, daddr; /* host order */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t window, urg_ptr;
	uint8_t tos, ttl;
	uint16_t ip_id;
	bool df;
	uint8_t ip_opts[PKTGEN_OPT_MAX]; /* padded with EOL to a multiple of 4 */
	size_t ip_opt_len;
	uint8_t tcp_opts[PKTGEN_OPT_MAX]; /* padded with EOL to a multiple of 4 */
	size_t tcp_opt_len;
	const uint8_t *payload; /* NULL: payload_len zero bytes */
	size_t payload_len;
	enum tcp_csum_mode csum; /* COMPLETE, PARTIAL_PSEUDO (pseudo sum) or
				  * DEFERRED (check field zero) */
	struct tcp_options expect;
};

/* 198.18.0.10:40000 -> 198.18.10.1:80, ACK, window 65535, no options. */
void pktgen_spec_init(struct pktgen_spec *s);

/* Option appenders; 0 or -ENOSPC (nothing appended). */
int pktgen_opt_nop(struct pktgen_spec *s);
int pktgen_opt_mss(struct pktgen_spec *s, uint16_t mss);
int pktgen_opt_wscale(struct pktgen_spec *s, uint8_t wscale);
int pktgen_opt_sack_perm(struct pktgen_spec *s);
int pktgen_opt_timestamp(struct pktgen_spec *s, uint32_t tsval, uint32_t tsecr);
int pktgen_opt_sack(struct pktgen_spec *s, const struct tcp_sack_block *blocks, unsigned n);
/* Any bytes, recorded in expect only as far as kinds 19/29 (signature) go. */
int pktgen_opt_raw(struct pktgen_spec *s, const uint8_t *bytes, size_t len);

/* Overwrites len bytes of the option area at TCP-header offset off (>= 20),
 * mirroring an in-place rewrite of a built packet. */
void pktgen_spec_patch_opt(struct pktgen_spec *s, size_t off, const uint8_t *bytes, size_t len);

/* Total packet length the spec builds to. */
size_t pktgen_len(const struct pktgen_spec *s);

/* Writes the packet into buf; returns its length, -ENOSPC if cap is too
 * small, -EINVAL if it would exceed 65535 bytes. */
int pktgen_build(const struct pktgen_spec *s, uint8_t *buf, size_t cap);

/* A random valid spec: random addresses, ports, seq, ack, flags, window, a
 * random option set in random order (MSS, WS, SACK-permitted, timestamps,
 * 1-4 SACK blocks, unknown options, NOPs at odd places), sometimes IP
 * options, and a payload of random length (often 0, often odd, up to
 * payload_cap) filled into payload_buf. */
void pktgen_random_spec(struct pktgen_rng *r, struct pktgen_spec *s, uint8_t *payload_buf,
			size_t payload_cap, enum tcp_csum_mode csum);

/* Reference checksum code, one big-endian word at a time. */
uint16_t pktgen_ref_sum(const uint8_t *buf, size_t len); /* folded, not complemented */
uint16_t pktgen_ref_tcp_checksum(uint32_t saddr, uint32_t daddr, const uint8_t *tcp,
				 size_t tcp_len); /* check field read as zero */
uint16_t pktgen_ref_pseudo_sum(uint32_t saddr, uint32_t daddr, size_t tcp_len);

#endif /* CRAFT_HELPER_PKTGEN_H */
