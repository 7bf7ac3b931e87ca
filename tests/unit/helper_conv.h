/* helper_conv.h - scripted TCP conversations fed packet by packet into a
 * txn_log, and an observer that records every event, for the txn_log and
 * txn_log_store tests.
 *
 * A conversation tracks both sides' next sequence numbers; conv_client()
 * and conv_server() send data (acknowledging everything the peer sent so
 * far), conv_pkt() sends anything (a retransmission, a reordered segment).
 * Packets are built with helper_pktgen (pseudo-header checksums, as on a
 * veth: txn_log must not verify them) and stamped 1 ms apart. */
#ifndef CRAFT_HELPER_CONV_H
#define CRAFT_HELPER_CONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "txn_log.h"

#define CONV_CLIENT 0xc612000au /* 198.18.0.10 */
#define CONV_SERVER 0xc612020bu /* 198.18.2.11 */

struct conv {
	struct txn_log *log;
	uint32_t caddr, saddr;
	uint16_t cport, sport;
	uint32_t cisn, sisn;
	uint32_t cseq, sseq; /* next sequence number each side sends */
	uint64_t t_us;
	int last_rc; /* txn_log_packet's return for the last packet */
};

void conv_init(struct conv *v, struct txn_log *log, uint16_t cport, uint16_t sport);
/* Builds and feeds one segment; returns txn_log_packet's result. */
int conv_pkt(struct conv *v, bool from_client, uint8_t flags, uint32_t seq, uint32_t ack,
	     const void *data, size_t len);
void conv_handshake(struct conv *v);
/* Data from one side (ACK of everything the other sent), seq advanced. */
void conv_client(struct conv *v, const void *data, size_t len);
void conv_server(struct conv *v, const void *data, size_t len);
void conv_client_s(struct conv *v, const char *s);
void conv_server_s(struct conv *v, const char *s);
/* A pure ACK from the client of every server byte so far. */
void conv_client_ack(struct conv *v);
void conv_fin(struct conv *v, bool from_client);
void conv_rst(struct conv *v, bool from_client);

#define REC_MAX 512

struct rec_ev {
	char kind[24]; /* "begin", "req_done", "resp_first", "progress", ... */
	int64_t conn_id;
	struct txn_log_txn t;
	uint64_t t_us;
};

struct rec {
	struct rec_ev ev[REC_MAX];
	unsigned n;
	unsigned opens, updates, closes, marks;
	struct txn_log_conn conn; /* copy at the latest connection event */
	bool order_error;	  /* an event after conn_close, or before conn_open */
};

void rec_init(struct rec *r);
struct txn_log_observer rec_observer(struct rec *r);
/* Index of the first event `kind` of transaction `ordinal`, or -1. */
int rec_find(const struct rec *r, const char *kind, uint32_t ordinal);
unsigned rec_count(const struct rec *r, const char *kind);

/* A txn_log with a service on port 80 (http) and 7000 (line), tiny
 * timeouts left at defaults; extra config via the callback (may be NULL). */
struct txn_log *conv_make_log(void (*tweak)(struct txn_log_config *cfg));

#endif
