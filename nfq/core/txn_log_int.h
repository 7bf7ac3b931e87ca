/* txn_log_int - the pipeline's private state, shared by txn_log.c
 * (connections, transactions, events) and txn_log_route.c (where each
 * message's bytes go: kept, or hashed). Not for other modules. */
#ifndef CRAFT_TXN_LOG_INT_H
#define CRAFT_TXN_LOG_INT_H

#include "sha256_stream.h"
#include "txn_log.h"

/* One parser event, recorded while the parser runs over a segment. */
struct tl_ev {
	uint8_t ev; /* enum txn_event */
	uint32_t ordinal;
	uint64_t off; /* the boundary it marks (BEGIN/END events), else 0 */
};

struct tl_txn {
	struct txn_log_txn pub;
	bool begun; /* txn_begin delivered */
	bool ended; /* txn_end delivered: forget after the dispatch */
};

/* Where the bytes of one direction currently go. */
struct tl_route {
	bool active;  /* inside a message (request or response) */
	bool hashing; /* the message outgrew max_kept_message */
	bool hash_ok; /* every byte went into the hash */
	bool fresh;   /* opened during the current segment */
	uint32_t ordinal;
	uint64_t start;		  /* the message's first byte */
	struct sha256_stream sha; /* while hashing: released by route_close */
};

struct tl_conn;
struct tl_side {
	struct tl_conn *c;
	int dir; /* enum flow_dir */
};

struct tl_conn {
	struct txn_log_conn pub;
	struct txn_log *log;
	struct flow_entry *e;
	struct txn_parser *parser;
	struct bs_conn *bs;
	struct tl_side side[2];
	struct tl_route route[2];
	struct tl_txn *tx; /* open transactions, oldest first */
	uint32_t ntx, captx;
	uint32_t progress_ord; /* response that got more bytes in this segment */
	bool opened;	       /* conn_open delivered */
	bool server_isn_told;
	uint8_t fin_first; /* 1 client, 2 server */
	/* A response completed under Connection: close: the server's FIN is
	 * announced (txn_log_close.h). */
	bool close_announced;
	bool marks_dirty;
	bool m_ack_known;
	uint64_t marks_us; /* last marks event */
	uint64_t m_ack, m_srv, m_cli;
	struct tl_conn *hnext; /* by conn_id */
};

struct txn_log {
	struct txn_log_config cfg;
	struct flow_table *ft;
	struct byte_store *bs;
	struct txn_parser_ctx pctx[2]; /* by enum txn_proto */
	bool pctx_ready[2];
	struct tag_rules tags;
	struct tag_stats tag_st;
	uint8_t port_proto[65536]; /* 0: no service, else proto + 1 */
	uint16_t ports[TXN_LOG_MAX_SERVICES];
	struct txn_log_observer obs[TXN_LOG_MAX_OBSERVERS];
	unsigned nobs;
	int64_t (*next_id)(void *arg);
	void *next_id_arg;
	int64_t last_id;
	struct tl_conn **by_id;
	uint32_t id_mask;
	uint32_t max_records; /* transaction records per connection */
	struct tl_ev *evs;    /* events of the segment at hand */
	uint32_t nev, capev;
	uint64_t now_us;
	bool finishing; /* txn_log_finish: removals are a shutdown */
	struct txn_log_stats st;
};

struct tl_txn *tl_txn_find(struct tl_conn *c, uint32_t ordinal);
/* The flow table's callbacks (txn_log.c). */
int tl_on_created(void *ctx, struct flow_entry *e, uint64_t now);
void tl_on_closed(void *ctx, struct flow_entry *e, enum flow_close_reason why);
void tl_ensure_open(struct txn_log *l, struct tl_conn *c);
void tl_dispatch(struct txn_log *l, struct tl_conn *c);

/* Routes bytes [off, off + len) of direction dir (data NULL: a hole)
 * according to the events recorded for them (txn_log_route.c). */
void tl_route(struct txn_log *l, struct tl_conn *c, int dir, uint64_t off, const uint8_t *data,
	      uint64_t len);
/* Ends both directions' messages (connection end). */
void tl_route_close_all(struct txn_log *l, struct tl_conn *c);

#endif /* CRAFT_TXN_LOG_INT_H */
