/* tla - the transport-layer architecture of the transactional network
 * interface (thesis §6.3.1): per-connection state at the logger that holds
 * a server's transactional bytes until it commits, and erases an aborted
 * transaction from the peer's view of the connection.
 *
 * Pure logic: segments come in as byte buffers with the NFQUEUE id they
 * were queued with, control requests as struct tx_msg; what must happen on
 * the wire goes out through struct tla_ops (verdicts for held packets,
 * complete packets to send from the logger, unsolicited failures to a
 * control connection). The daemon (nfq/tla) wires this to the NFQUEUE
 * engine, a raw socket and the control listener; the unit tests wire it to
 * arrays and feed synthetic packets.
 *
 * Model. Every offset is a 64-bit byte count of one direction of the
 * connection. The server's TCP and the peer's TCP number the streams
 * differently once a transaction aborted: peer bytes resent to the server
 * on restart exist only in the server's numbering (d1), server bytes
 * discarded exist only in the server's numbering (d2). Both are "gaps" in
 * server space (struct tla_map): a peer->server sequence number maps to
 * server space by adding the gaps before it, an acknowledgement maps back
 * by subtracting them (one inside a gap lands on the gap's anchor). The
 * deltas per packet are then exactly splice_rewrite's seq_delta/ack_delta,
 * so the one rewrite engine does the work with incremental checksums. The
 * map is piecewise rather than one running delta because retransmissions
 * of bytes from before an abort must keep their old numbering.
 *
 * Per connection (thesis Fig. 6.4): PRE_TRANS -> IN_TRANS (TX_START) ->
 * COMMITTED (TX_COMMIT; bytes up to the commit point may still arrive and
 * are forwarded) -> PRE_TRANS, or IN_TRANS -> ABORTED (TX_ABORT) ->
 * PRE_TRANS (TX_RESTART, or a new TX_START giving up the restart).
 * - peer->server data is forwarded in order only (a segment beyond a hole
 *   is dropped; the peer retransmits) and saved in server numbering, in
 *   PRE_TRANS too (the request may pass before TX_START); saved bytes no
 *   transaction can need are aged out by bytes and time.
 * - server->peer data is classified byte by byte: inside a discard gap
 *   (aborted) -> dropped and acknowledged to the server with a generated
 *   ACK as far as the peer's own ACK allows; at or beyond the open
 *   transaction's start -> held (the NFQUEUE packet itself when it is
 *   held whole, a copy when a packet must be split); else forwarded. A
 *   packet mixing classes is dropped and its pieces re-emitted.
 * - retransmissions: of held bytes -> dropped (we hold them); of
 *   discarded bytes -> dropped and acknowledged again; of released bytes
 *   -> forwarded with the numbering they had.
 * - while holding, forwarded segments without data carry the sequence
 *   number of the hold start, so the peer's view of the server's window
 *   (snd_wl1) is not pushed past bytes it has not received.
 * - bounds: connections (hash table), held bytes per connection (beyond:
 *   the excess is dropped, the transaction is marked failed, its control
 *   connection gets an unsolicited TX_FAILURE and TX_COMMIT fails), saved
 *   bytes per connection, PRE_TRANS age. Held packets are never accepted
 *   except by a commit: expiry, shutdown and control loss drop them
 *   (fail-closed).
 */
#ifndef CRAFT_TLA_H
#define CRAFT_TLA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tx_proto.h"

struct stats_report;

#define TLA_MAX_PORTS	  8
#define TLA_MAX_CONNS_MAX (1u << 20)

struct tla_config {
	uint16_t ports[TLA_MAX_PORTS]; /* the transactional service's ports */
	unsigned nports;
	uint32_t server_addr;	  /* host order; 0 = any address */
	uint32_t max_conns;	  /* connections tracked */
	uint64_t max_held;	  /* server bytes held per connection */
	uint64_t max_saved;	  /* peer bytes saved per connection */
	uint64_t pretrans_age_ms; /* saved bytes outside a transaction live this long */
	uint64_t idle_ms;	  /* a connection without segments is forgotten */
	uint64_t linger_ms;	  /* kept after FIN both ways or RST */
	uint32_t resend_rto_ms;	  /* restart resend: initial retransmission timeout */
	uint32_t resend_retries;  /* ... and how often it retransmits */
};

void tla_config_default(struct tla_config *cfg);

struct tla_ops {
	/* Verdict for a packet earlier answered with TLA_HOLD: accept (pkt
	 * NULL: unchanged; else replaced by pkt[0..len)) or drop. */
	void (*verdict)(void *ctx, uint16_t queue, uint32_t id, bool accept, const uint8_t *pkt,
			size_t len);
	/* A complete IPv4 packet (checksums final) to send from the logger. */
	void (*send)(void *ctx, const uint8_t *pkt, size_t len);
	/* An unsolicited message (TX_FAILURE) for a control connection. */
	void (*notify)(void *ctx, uint64_t owner, const struct tx_msg *m);
	void *ctx;
};

/* One queued packet. data may be rewritten in place (and shortened). */
struct tla_packet {
	uint8_t *data;
	size_t len;
	uint16_t queue;
	uint32_t id;
	bool gso;	     /* super-segment: the kernel recomputes checksums */
	bool csum_not_ready; /* the check field holds the pseudo-header sum */
	bool truncated;	     /* the copy is shorter than the packet */
};

enum tla_decision {
	TLA_ACCEPT, /* (possibly rewritten: see tla_result.modified) */
	TLA_DROP,
	TLA_HOLD, /* keep the id; tla_ops.verdict answers it later */
};

struct tla_result {
	enum tla_decision decision;
	bool modified; /* data[0..len) holds the packet to accept */
	size_t len;
};

struct tla_stats {
	uint64_t conns_created, conns_refused, conns_closed, conns_expired, untracked, malformed;
	uint64_t p2s_segments, p2s_bytes, p2s_ooo_dropped, p2s_retrans, p2s_trimmed, p2s_rewritten;
	uint64_t s2p_segments, s2p_bytes, s2p_rewritten, s2p_split, s2p_unmappable;
	uint64_t held_packets, held_copies, held_bytes_total, held_retrans_dropped;
	uint64_t released_packets, released_bytes, released_sent;
	uint64_t discarded_bytes, discard_retrans, fake_acks;
	uint64_t held_limit, saved_limit, aged_bytes;
	uint64_t restarts, resend_bytes, resend_segments, resend_retrans, resend_failed;
	uint64_t ctl_ok[TX_RESTART + 1], ctl_fail[TX_NREASONS];
	uint64_t owner_lost, map_collapsed, send_errors;
};

struct tla;

/* 0, -EINVAL (no port, max_conns out of range), -ENOMEM. ops is copied. */
int tla_create(struct tla **out, const struct tla_config *cfg, const struct tla_ops *ops);
/* Drops every held packet (through ops.verdict) and frees. NULL is fine. */
void tla_destroy(struct tla *t);

/* Decides one packet of the service (either direction). */
void tla_packet(struct tla *t, struct tla_packet *pkt, uint64_t now_ms, struct tla_result *res);

/* Handles one authenticated request from control connection `owner`
 * (any non-zero id the caller picks); fills the answer. */
void tla_control(struct tla *t, uint64_t owner, const struct tx_msg *req, uint64_t now_ms,
		 struct tx_msg *ans);

/* Control connection `owner` is gone: its open transactions abort (their
 * held bytes are dropped, later bytes of them too until a new control
 * connection says where they ended with TX_ABORT), it owns nothing more. */
void tla_owner_closed(struct tla *t, uint64_t owner, uint64_t now_ms);

/* Timer work: resend retransmissions, aging, expiry. */
void tla_tick(struct tla *t, uint64_t now_ms);

/* Drops every held packet now (shutdown). */
void tla_drop_all_held(struct tla *t);

const struct tla_stats *tla_get_stats(const struct tla *t);
unsigned tla_conn_count(const struct tla *t);
uint64_t tla_held_bytes(const struct tla *t);
uint64_t tla_saved_bytes(const struct tla *t);
void tla_collect_stats(const struct tla *t, struct stats_report *r, const char *prefix);

/* Introspection for tests and the daemon's log. */
enum tla_state { TLA_PRE_TRANS, TLA_IN_TRANS, TLA_COMMITTED, TLA_ABORTED };
const char *tla_state_name(enum tla_state s);
/* 0 with *state set, or -ENOENT. */
int tla_conn_state(const struct tla *t, const struct tx_conn_id *id, enum tla_state *state,
		   uint64_t *held, uint64_t *saved);

/* The piecewise map between server and peer numbering (exposed for the
 * unit tests). Gaps are in server space, ascending, non-overlapping. */
#define TLA_MAP_MAX 32
struct tla_gap {
	uint64_t start, len;
	bool open; /* extends to infinity (aborted without a known end) */
};
struct tla_map {
	unsigned n;
	uint64_t base; /* total length of gaps collapsed out of the list */
	struct tla_gap g[TLA_MAP_MAX];
};

void tla_map_init(struct tla_map *m);
/* Appends a gap at or beyond the end of the last one (merged when
 * adjacent). Returns 1 when the oldest gap had to be collapsed, else 0,
 * -EINVAL when it would precede the last gap. */
int tla_map_add(struct tla_map *m, uint64_t start, uint64_t len, bool open);
/* Closes the last gap (open) at server offset end (a gap closed at its
 * start disappears). -EINVAL if it is not open or end precedes its start. */
int tla_map_close(struct tla_map *m, uint64_t end);
/* Is the last gap open? */
bool tla_map_open(const struct tla_map *m);
/* peer offset -> server offset (after every gap anchored at or before it). */
uint64_t tla_map_to_server(const struct tla_map *m, uint64_t p);
/* server offset -> peer offset; *in_gap (may be NULL) tells whether s lies
 * in a gap, whose anchor is then returned. */
uint64_t tla_map_to_peer(const struct tla_map *m, uint64_t s, bool *in_gap);
/* Does server offset s lie in a gap? true: *edge is the gap's end
 * (UINT64_MAX when open); false: *edge is the start of the next gap
 * (UINT64_MAX when none). */
bool tla_map_gap_at(const struct tla_map *m, uint64_t s, uint64_t *edge);

#endif
