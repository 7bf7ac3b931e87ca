/* tla_int.h - private to tla.c, tla_out.c and tla_ctl.c: the connection
 * record and the helpers the three share. Offsets here are *internal*:
 * relative to the direction's ISN, so the SYN is 0 and the first data byte
 * is 1 (a control offset o is internal o + 1). */
#ifndef CRAFT_TLA_INT_H
#define CRAFT_TLA_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "seq.h"
#include "splice_inject.h"
#include "tla.h"

/* One run of server bytes held for the peer. */
struct tla_held {
	struct tla_held *next;
	uint64_t off;	/* server-space offset of the first byte */
	uint32_t len;	/* data bytes */
	bool fin;	/* a FIN follows the data */
	bool in_kernel; /* the queued packet itself waits for a verdict */
	bool hdr_only;	/* pkt holds the headers only: released unchanged */
	bool gso, csum_not_ready;
	uint16_t queue;
	uint32_t id;
	uint32_t pkt_len; /* copy of the packet: exactly this run (headers + data) */
	uint8_t pkt[];
};

#define TLA_AGE_MARKS 16

struct tla_conn {
	struct tla_conn *hnext;
	struct tla_conn *prev, *next; /* all connections, oldest activity first */
	struct tx_conn_id key;
	enum tla_state state;
	uint64_t owner;
	uint32_t txn;
	uint64_t created_ms, last_ms, closed_ms;

	/* handshake */
	bool have_isn_p, have_isn_s, ts_ok;
	uint32_t isn_p, isn_s;
	uint8_t wscale_p, wscale_s; /* shift each side applies to its own window field */
	uint16_t mss_s;		    /* what the server accepts (for resends) */
	uint16_t mss_p;		    /* what the peer accepts (for split pieces) */
	bool fin_p, fin_s, rst;

	/* peer -> server: p_next is the next peer offset expected (everything
	 * below forwarded in order); saved holds server-space [s_base, s_end). */
	struct tla_map p2s;
	uint64_t p_next;
	uint8_t *saved;
	size_t saved_cap, saved_head; /* bytes before saved_head are purged */
	uint64_t s_base, s_end;
	bool save_broken; /* the open transaction's bytes could not all be kept */
	struct {
		uint64_t end, ms;
	} marks[TLA_AGE_MARKS]; /* saved up to `end` at time `ms` */
	unsigned nmarks;

	/* the peer's latest acknowledgement of server bytes (peer space) */
	uint64_t peer_ack;
	bool peer_ack_seen;
	uint16_t peer_win; /* raw field; the server applies wscale_p */
	uint32_t peer_tsval;
	uint64_t ack_to_server; /* highest (server space) we let the server see */

	/* server -> peer */
	struct tla_map s2p;
	uint64_t srv_high; /* end of the highest server byte seen (data + FIN) */
	uint64_t srv_ack;  /* highest acknowledgement from the server (server space) */
	uint32_t srv_wnd_bytes;
	uint32_t srv_tsval;
	struct tla_held *held, *held_tail;
	uint64_t held_bytes, held_high;
	bool held_fin;

	/* the transaction */
	uint64_t hold_from; /* server-space start of held bytes; UINT64_MAX: none */
	uint64_t in_start, out_start, in_end, out_end;
	uint64_t commit_end; /* COMMITTED: bytes below belong to committed txns */
	int failed;	     /* tx_reason the open transaction failed with, 0 none */
	bool failed_notified;

	/* restart resend of peer bytes (server numbering) */
	bool resending;
	uint64_t resend_from; /* server offset of resend.data[0] */
	struct splice_inject resend;
};

struct tla {
	struct tla_config cfg;
	struct tla_ops ops;
	struct tla_conn **buckets;
	uint32_t nbuckets;
	unsigned nconns;
	struct tla_conn *lru_head, *lru_tail;
	uint64_t held_now, saved_now;
	struct tla_stats st;
	uint8_t scratch[65536 + 64]; /* packet building */
};

#define TLA_NONE UINT64_MAX

/* tla.c */
struct tla_conn *tla_find(const struct tla *t, const struct tx_conn_id *id);
void tla_saved_purge_to(struct tla *t, struct tla_conn *c, uint64_t off);
int tla_saved_append(struct tla *t, struct tla_conn *c, const uint8_t *data, size_t len,
		     uint64_t now_ms);

/* tla_out.c */
void tla_held_release_all(struct tla *t, struct tla_conn *c);
void tla_held_drop_all(struct tla *t, struct tla_conn *c);
int tla_hold_copy(struct tla *t, struct tla_conn *c, const uint8_t *pkt, size_t pkt_len,
		  uint64_t off, uint32_t skip, uint32_t len, bool fin);
int tla_hold_kernel(struct tla *t, struct tla_conn *c, const struct tla_packet *pkt, uint64_t off,
		    uint32_t len, bool fin);
bool tla_held_covers(const struct tla_conn *c, uint64_t from, uint64_t to);
void tla_send_piece_s2p(struct tla *t, struct tla_conn *c, const uint8_t *pkt, size_t pkt_len,
			uint32_t skip, uint32_t len, uint64_t off, bool fin);
/* ACKs discarded server bytes as far as the peer's ACK allows, when that
 * is news to the server; again (a retransmission was discarded) when the
 * ACK covers `again` (0: never). */
void tla_fake_ack(struct tla *t, struct tla_conn *c, uint64_t again);
void tla_resend_pump(struct tla *t, struct tla_conn *c, uint64_t now_ms);
void tla_notify_failure(struct tla *t, struct tla_conn *c, int reason);
/* Maps seq/ack/SACK of a server->peer packet and rewrites it in place;
 * 0, or -1 when its options cannot be parsed. */
int tla_map_s2p_packet(struct tla_conn *c, uint8_t *data, size_t len, uint64_t peer_off, bool gso,
		       bool csum_not_ready, bool *changed);
/* The same for peer->server packets. */
int tla_map_p2s_packet(struct tla_conn *c, uint8_t *data, size_t len, uint64_t server_off, bool gso,
		       bool csum_not_ready, bool *changed);

/* Internal offset of wire sequence number seq of a stream starting at isn,
 * the one closest to ref. */
static inline uint64_t tla_unwrap(uint32_t seq, uint32_t isn, uint64_t ref)
{
	int64_t v = (int64_t)ref + seq_diff(seq - isn, (uint32_t)ref);
	return v < 0 ? 0 : (uint64_t)v;
}

#endif
