/* helper_tla.h - a test harness around struct tla: one peer/server pair,
 * synthetic segments built with helper_pktgen (timestamps on, complete or
 * partial checksums), and every output of the TLA (verdicts for held
 * packets, packets it sends, notifications) captured in arrays. */
#ifndef CRAFT_HELPER_TLA_H
#define CRAFT_HELPER_TLA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcp_options.h"
#include "tla.h"

#define HT_PEER	   0xc612000au /* 198.18.0.10 */
#define HT_SERVER  0xc612020bu /* 198.18.2.11 */
#define HT_PPORT   40000
#define HT_SPORT   7000
#define HT_MAX_OUT 4096
#define HT_MAX_IDS 4096
#define HT_PKT_MAX 70000

enum ht_out_kind { HT_VERDICT, HT_SEND };

struct ht_out {
	enum ht_out_kind kind;
	uint16_t queue;
	uint32_t id;
	bool accept;
	uint8_t *pkt; /* the packet as it leaves (held verdict: original or replaced) */
	size_t len;
	bool replaced; /* verdict with a new payload */
};

struct ht {
	struct tla *t;
	struct tla_config cfg;
	uint32_t isn_p, isn_s;
	uint16_t pport;
	bool ts;
	enum tcp_csum_mode csum; /* how input packets' checksums arrive */
	bool gso;		 /* mark inputs as GSO super-segments */
	uint32_t next_id;
	uint64_t now;
	struct ht_out out[HT_MAX_OUT];
	unsigned nout;
	struct tx_msg notes[16];
	uint64_t note_owner[16];
	unsigned nnotes;
	uint8_t *held[HT_MAX_IDS]; /* original bytes of packets answered HOLD */
	size_t held_len[HT_MAX_IDS];
	uint32_t peer_tsval, srv_tsval;
	bool last_modified; /* the last ht_feed's packet was rewritten */
};

/* cfg NULL: defaults with port HT_SPORT. */
void ht_init(struct ht *h, const struct tla_config *cfg, uint32_t isn_p, uint32_t isn_s);
void ht_free(struct ht *h);
void ht_clear_out(struct ht *h);

/* Builds a segment (from_peer: peer -> server) and feeds it. The result
 * packet (when accepted) is copied to res/res_len (may be NULL). */
enum tla_decision ht_feed(struct ht *h, bool from_peer, uint32_t seq, uint32_t ack, uint8_t flags,
			  const uint8_t *data, size_t len, const struct tcp_sack_block *sack,
			  unsigned nsack, uint8_t *res, size_t *res_len);
/* SYN, SYN-ACK, ACK (wscale 7 both, MSS 1460, timestamps). */
void ht_handshake(struct ht *h);
/* Control request with protocol offsets; returns the answer's reason. */
int ht_ctl(struct ht *h, uint64_t owner, int op, uint64_t in_s, uint64_t in_e, uint64_t out_s,
	   uint64_t out_e, struct tx_msg *ans);

/* Parses a packet; false if it does not parse. csum_ok: complete checksum
 * valid and IP checksum valid. */
bool ht_parse(const uint8_t *pkt, size_t len, uint32_t *seq, uint32_t *ack, uint8_t *flags,
	      const uint8_t **payload, size_t *plen, bool *csum_ok);
/* SACK blocks of a packet (returns the count). */
unsigned ht_sack(const uint8_t *pkt, size_t len, struct tcp_sack_block *out);

#endif
