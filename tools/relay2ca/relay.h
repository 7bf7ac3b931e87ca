/* relay - the two-connection application-layer architecture (2CA) of the
 * transactional network interface (thesis §6.3.2, §6.4.2): a user-space
 * relay on the logger host that terminates the peer's TCP connection, opens
 * a second one to the server, and applies the same control protocol and
 * the same per-connection state machine as the TLA (tx_proto.h), at the
 * byte level instead of the packet level:
 *
 * - peer -> server: every byte read from the peer is saved (in the
 *   server's numbering, which after a restart includes the bytes resent)
 *   and written to the server; the saved buffer doubles as the output
 *   queue toward the server. Saved bytes no transaction can need age out
 *   by bytes and time, as in the TLA.
 * - server -> peer: bytes are read in order and classified by offset:
 *   inside a discarded range (an aborted transaction, possibly still
 *   arriving) -> dropped; at or beyond the open transaction's start ->
 *   held in memory; else queued for the peer. Commit moves the held bytes
 *   to the peer queue; abort drops them; restart writes the saved peer
 *   bytes of the transaction to the server again.
 * - no sequence-number surgery: the two connections are separate, so an
 *   abort costs nothing on the wire beyond the resent bytes (the price is
 *   the end-to-end semantics and two copies through user space).
 *
 * Bounds: connections, held bytes per connection (TX_FAILURE beyond, as in
 * the TLA), saved bytes, and the queue toward the peer (reading from the
 * server pauses while it is full). The relay is not transparent: the peer
 * connects to the relay's address, as to an application proxy. */
#ifndef CRAFT_RELAY_H
#define CRAFT_RELAY_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "event_loop.h"
#include "log.h"
#include "tx_ctl_server.h"
#include "tx_proto.h"

#define RELAY_MAX_DISCARD 16

struct relay_config {
	struct sockaddr_in listen, server, control;
	char key_file[256];
	char stats_file[256];
	uint32_t max_conns, max_clients, ctl_id;
	uint64_t max_held, max_saved, max_queue, pretrans_age_ms;
};

enum relay_state { RS_PRE_TRANS, RS_IN_TRANS, RS_COMMITTED, RS_ABORTED };

struct buf {
	uint8_t *p;
	size_t head, len, cap; /* live bytes: p[head .. head+len) */
};

struct pair {
	struct relay *r;
	int pfd, sfd;
	bool connected, peer_eof, srv_eof, peer_wr_shut, srv_wr_shut, dead;
	uint32_t pev, sev; /* epoll interest registered */
	struct tx_conn_id id;
	uint64_t owner;
	enum relay_state state;
	uint32_t txn;
	/* peer -> server, server numbering: saved [s_base, s_end), written
	 * to the server up to s_sent */
	struct buf saved;
	uint64_t s_base, s_end, s_sent;
	uint64_t save_ms; /* when the oldest unprotected saved byte arrived */
	bool save_broken;
	/* server -> peer */
	uint64_t srv_rcvd;	  /* bytes read from the server */
	struct buf held, to_peer; /* held: [hold_from, hold_from+len) */
	uint64_t hold_from;	  /* UINT64_MAX: no open transaction */
	uint64_t dis_from[RELAY_MAX_DISCARD], dis_to[RELAY_MAX_DISCARD];
	unsigned ndis; /* discarded ranges, ascending */
	bool open_gap; /* last range open: owner lost */
	uint64_t in_start, out_start, commit_end;
	int failed;
	struct pair *next;
};

struct relay_stats {
	uint64_t accepted, refused, closed, connect_fail;
	uint64_t p2s_bytes, s2p_bytes, held_bytes_total, released_bytes, discarded_bytes;
	uint64_t restarts, resend_bytes, held_limit, saved_limit, aged_bytes, owner_lost;
	uint64_t ctl_ok[TX_RESTART + 1], ctl_fail[TX_NREASONS];
};

struct relay {
	struct relay_config cfg;
	struct event_loop loop;
	struct tx_ctl_server *ctl;
	int lfd;
	struct pair *pairs;
	unsigned npairs;
	struct relay_stats st;
	struct log_ratelimit rl;
};

/* relay_ctl.c: control requests and the state machine. */
void relay_request(void *ctx, uint64_t owner, const struct tx_msg *req, struct tx_msg *ans);
void relay_owner_closed(void *ctx, uint64_t owner);
void relay_age(struct relay *r, struct pair *p, uint64_t now);

/* main.c: data path hooks the state machine calls. */
int buf_append(struct buf *b, const uint8_t *d, size_t n, uint64_t max);
void buf_consume(struct buf *b, size_t n);
void pair_update(struct pair *p);
void saved_purge_to(struct pair *p, uint64_t off);

#endif
