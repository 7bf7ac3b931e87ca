/* txn_log - the logger's pipeline: IPv4/TCP packets in, transactions out.
 *
 * Why one module: the daemon (craft-logger, fed by NFQUEUE) and the offline
 * tool (craft-pcap, fed by a capture file) must log exactly the same
 * transactions at exactly the same offsets, so both hand every packet to
 * txn_log_packet() and everything after that is shared:
 *
 *   packet -> flow_table (connections, both-direction reassembly, AckCL)
 *          -> txn_parser (HTTP/1.x or line protocol per service port)
 *          -> tags (rules file), byte_store (bytes for recovery)
 *          -> observers (the store writer, the failure detector, a printer)
 *
 * What it keeps per connection (paper §3.1, §3.2, §4.2): client and server
 * address/port, both ISNs, conn_id, AckCL (the client's highest ACK of
 * server bytes), the last server and client byte logged, T_L (the last
 * transaction whose response was fully logged) and its end AckTL; per
 * transaction: txn_id (client ip, port, ordinal), request and response
 * start/end offsets, the times the request completed, the first response
 * byte came and the response completed, tags, the HTTP status, the aux
 * transaction ID carried in the request (aux-logger mode), and for a
 * message longer than max_kept_message its SHA-256 (libsodium, streaming)
 * instead of its bytes.
 *
 * Offsets: every offset in this API is a stream offset as tcp_stream
 * delivers it: the first data byte after the SYN is 0 and ends are
 * exclusive. The database convention (schema/README.md) is this plus one
 * ("seq - ISN"), so AckCL and AckTL there equal the relative ACK numbers;
 * txn_log_store.c adds the one. byte_store (txn_log_bytes()) uses stream
 * offsets too: "server bytes from AckCL" is
 *   byte_store_read(txn_log_bytes(l), c->conn_id, BS_RESP, c->ack_cl,
 *                   c->server_bytes, buf).
 *
 * Input: checksums are NOT verified (captures on veth and NFQUEUE copies
 * carry partial checksums); GSO super-segments up to 64 KiB are normal; a
 * copy cut short (capture snaplen, copy_range) leaves a hole that the
 * parser treats as lost bytes. Malformed packets, other protocols and
 * ports that are no service are counted and ignored, never fatal. Time is
 * the caller's: ts_us of each packet (the daemon passes CLOCK_REALTIME at
 * receipt, the pcap tool the capture's timestamps); a timestamp older than
 * the previous one is treated as equal (counted in clock_backwards).
 *
 * Not thread-safe: one txn_log per thread, observers run in that thread.
 *
 * ---- Observer API (for the store writer, the failure detector, ...) ----
 *
 * txn_log_add_observer() registers a struct txn_log_observer (up to
 * TXN_LOG_MAX_OBSERVERS; any callback may be NULL). Callbacks run inside
 * txn_log_packet(), txn_log_expire(), txn_log_finish() and
 * txn_log_destroy(); they may read anything through the query functions
 * below and byte_store, but must not feed packets or finish the log. The
 * pointers they get are valid for the call only (copy what you keep).
 * Guarantees, per connection:
 *   conn_open                  once, first, with the ISNs known so far;
 *   conn_update                when the server's ISN becomes known later;
 *   txn_begin                  once per transaction, before its other
 *                              events: the request head is known (method,
 *                              target, tags, aux id) or will never be
 *                              (t->head_known false);
 *   txn_request_done(t_us)     the last request byte arrived;
 *   txn_response_first_byte    the first response byte arrived (interim
 *                              1xx responses included);
 *   txn_response_progress      more bytes of a response that had begun in
 *                              an earlier segment (once per piece of
 *                              stream delivered: usually once per segment);
 *   txn_response_done(t_us)    the last response byte arrived: the
 *                              transaction is now T_L of its connection;
 *   txn_end                    once, last: t->end tells why (complete,
 *                              eof, error, gap, opaque, abort);
 *   client_window(t_us)        the client closed its receive window (a zero
 *                              window in its ACK) or opened it again
 *                              (c->client_window_closed tells which);
 *   marks                      AckCL / last server or client byte moved;
 *                              at most once per marks_interval per
 *                              connection, and once more before conn_close
 *                              if anything moved since;
 *   batch_end                  after the events of one segment (or of a
 *                              connection's end) were delivered: an
 *                              observer that coalesces writes per
 *                              transaction flushes here; tick, at the end
 *                              of each txn_log_expire, for the same;
 *   conn_close                 once, last: FIN both ways (after late data
 *                              had hole_timeout to arrive), RST, idle
 *                              timeout, eviction, reuse of the 4-tuple or
 *                              txn_log_finish/destroy. c->closed_by_server
 *                              says whether the backend ended it (its RST,
 *                              or its FIN came first) - a crashed process's
 *                              kernel does that.
 * Transaction events of one segment are delivered after that segment's
 * bytes were stored, in the order the parser produced them; a txn_log_txn
 * shows the transaction's state after the whole segment (a later field may
 * already be set). Times (t_us, *_us fields) are the ts_us of the packet
 * that caused the event. For a failure detector: conn_id is a fine
 * connection key, t->txn_id a fine transaction id (it is the paper's), the
 * backend is (c->saddr, c->sport) or c->backend (its configured name), and
 * the "kind" of a request can be built from t->method/t->target or the
 * tags.
 *
 * ---- Queries (recovery, control socket) ----
 * txn_log_conn_by_id(), txn_log_conn_by_tuple(), txn_log_foreach_conn() and
 * txn_log_open_txns() read the live state; txn_log_bytes() gives the byte
 * store (bytes of connections that already closed stay there until
 * evicted). */
#ifndef CRAFT_TXN_LOG_H
#define CRAFT_TXN_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "byte_store.h"
#include "config.h"
#include "flow_table.h"
#include "tags.h"
#include "txn_parser.h"

struct stats_report;

#define TXN_LOG_MAX_OBSERVERS 8
#define TXN_LOG_MAX_SERVICES  64
#define TXN_LOG_MAX_BACKENDS  64
#define TXN_LOG_NAME_MAX      32

struct txn_log_service {
	uint16_t port;
	int proto; /* enum txn_proto */
};

struct txn_log_backend {
	char name[TXN_LOG_NAME_MAX];
	uint32_t addr; /* host order */
	uint16_t port; /* 0: any */
};

/* What payload rows the store observer writes for requests. */
enum txn_log_persist {
	TXN_LOG_PERSIST_NONE = 0,
	TXN_LOG_PERSIST_UPDATE, /* requests of transactions tagged update (default) */
	TXN_LOG_PERSIST_ALL,
};

struct txn_log_config {
	/* [logger] */
	struct txn_log_service services[TXN_LOG_MAX_SERVICES];
	unsigned n_services;
	bool services_given; /* the first "service" line replaces the default */
	struct txn_log_backend backends[TXN_LOG_MAX_BACKENDS];
	unsigned n_backends;
	char tags_file[256];
	bool aux;			  /* aux-logger mode: pick up carried txn IDs */
	char aux_header[TXN_ID_NAME_MAX]; /* HTTP header with the ID */
	char aux_prefix[TXN_ID_NAME_MAX]; /* line: prefix of the first word */
	uint64_t byte_budget;		  /* byte_store budget */
	uint64_t max_kept_message;	  /* longer messages: hash, not bytes */
	uint32_t txn_index;		  /* byte_store index per connection */
	uint64_t marks_interval_ms;	  /* marks events per connection at most */
	int persist_requests;		  /* enum txn_log_persist */
	bool persist_responses;		  /* kept response bytes -> payloads */
	uint64_t payload_row_bytes;	  /* one payload row at most */
	/* [flows] */
	uint32_t max_conns;
	uint64_t idle_timeout_ms, linger_timeout_ms, hole_timeout_ms;
	bool pickup_midstream, evict_when_full;
	uint64_t reasm_stream_bytes, reasm_total_bytes;
	/* [transactions]: everything of txn_parser_config_keys except
	 * protocol (per service) and id (aux_header / aux_prefix). */
	struct txn_parser_config parser;
};

/* service = 80 http (if no service line is given), budget 64 MiB,
 * max_kept_message 1 MiB, marks every 100 ms, requests of update
 * transactions and kept responses persisted in rows of 16 KiB, flow table
 * defaults (65536 connections, no mid-stream pickup), parser defaults. */
void txn_log_config_defaults(struct txn_log_config *cfg);
/* Consistency checks the key table cannot express; -EINVAL with a message. */
int txn_log_config_check(const struct txn_log_config *cfg, char *err, size_t errlen);

/* Config keys of a struct txn_log_config embedded as field f of T, for a
 * daemon's or tool's key table (next to STORE_CONFIG_KEYS):
 *   [logger]  service = PORT http|line (repeatable), backend = NAME
 *             ADDR[:PORT] (repeatable), tags = FILE, aux = yes|no,
 *             aux_header = NAME, aux_prefix = WORD, byte_budget = SIZE,
 *             max_kept_message = SIZE, txn_index = N, marks_interval = DUR,
 *             persist_requests = none|update|all, persist_responses = BOOL,
 *             payload_row_bytes = SIZE
 *   [flows]   max_conns, idle_timeout, linger_timeout, hole_timeout,
 *             pickup_midstream, evict_when_full, reasm_stream_bytes,
 *             reasm_total_bytes
 *   [transactions] max_pending, max_header_bytes, line_max,
 *             line_delimiters, line_response, line_terminator, line_pattern
 *             (as txn_parser.h documents them) */
int txn_log__service_key(void *dst, const struct config_key *k, const char *v, char *err,
			 size_t errlen);
void txn_log__service_dump(FILE *out, const struct config_key *k, const void *dst);
int txn_log__backend_key(void *dst, const struct config_key *k, const char *v, char *err,
			 size_t errlen);
void txn_log__backend_dump(FILE *out, const struct config_key *k, const void *dst);
int txn_log__parser_key(void *dst, const struct config_key *k, const char *v, char *err,
			size_t errlen);
void txn_log__parser_dump(FILE *out, const struct config_key *k, const void *dst);
extern const char *const txn_log_persist_names[];

#define TXN_LOG__CUSTOM(sec, k, T, f, fn, dumpfn)                                                  \
	{                                                                                          \
		.section = (sec), .key = (k), .type = CONFIG_T_CUSTOM,                             \
		.flags = CONFIG_F_REPEATABLE, .offset = offsetof(T, f), .parse = (fn),             \
		.dump = (dumpfn)                                                                   \
	}
#define TXN_LOG__PARSER(k, T, f)                                                                   \
	TXN_LOG__CUSTOM("transactions", k, T, f, txn_log__parser_key, txn_log__parser_dump)
#define TXN_LOG_CONFIG_KEYS(T, f)                                                                  \
	TXN_LOG__CUSTOM("logger", "service", T, f, txn_log__service_key, txn_log__service_dump),   \
	    TXN_LOG__CUSTOM("logger", "backend", T, f, txn_log__backend_key,                       \
			    txn_log__backend_dump),                                                \
	    CONFIG_STR("logger", "tags", T, f.tags_file), CONFIG_BOOL("logger", "aux", T, f.aux),  \
	    CONFIG_STR("logger", "aux_header", T, f.aux_header),                                   \
	    CONFIG_STR("logger", "aux_prefix", T, f.aux_prefix),                                   \
	    CONFIG_SIZE("logger", "byte_budget", T, f.byte_budget, 0, 1ull << 40),                 \
	    CONFIG_SIZE("logger", "max_kept_message", T, f.max_kept_message, 0, 1ull << 40),       \
	    CONFIG_U32("logger", "txn_index", T, f.txn_index, 1, BYTE_STORE_MAX_TXN_INDEX),        \
	    CONFIG_DURATION_MS("logger", "marks_interval", T, f.marks_interval_ms, 0, 3600000),    \
	    CONFIG_ENUM("logger", "persist_requests", T, f.persist_requests,                       \
			txn_log_persist_names),                                                    \
	    CONFIG_BOOL("logger", "persist_responses", T, f.persist_responses),                    \
	    CONFIG_SIZE("logger", "payload_row_bytes", T, f.payload_row_bytes, 64, 64u << 20),     \
	    CONFIG_U32("flows", "max_conns", T, f.max_conns, 1, FLOW_MAX_CONNS_LIMIT),             \
	    CONFIG_DURATION_MS("flows", "idle_timeout", T, f.idle_timeout_ms, 1, 86400000),        \
	    CONFIG_DURATION_MS("flows", "linger_timeout", T, f.linger_timeout_ms, 0, 3600000),     \
	    CONFIG_DURATION_MS("flows", "hole_timeout", T, f.hole_timeout_ms, 0, 3600000),         \
	    CONFIG_BOOL("flows", "pickup_midstream", T, f.pickup_midstream),                       \
	    CONFIG_BOOL("flows", "evict_when_full", T, f.evict_when_full),                         \
	    CONFIG_SIZE("flows", "reasm_stream_bytes", T, f.reasm_stream_bytes, 0, 1ull << 32),    \
	    CONFIG_SIZE("flows", "reasm_total_bytes", T, f.reasm_total_bytes, 0, 1ull << 40),      \
	    TXN_LOG__PARSER("max_pending", T, f), TXN_LOG__PARSER("max_header_bytes", T, f),       \
	    TXN_LOG__PARSER("line_max", T, f), TXN_LOG__PARSER("line_delimiters", T, f),           \
	    TXN_LOG__PARSER("line_response", T, f), TXN_LOG__PARSER("line_terminator", T, f),      \
	    TXN_LOG__PARSER("line_pattern", T, f)

/* A transaction as observers see it. */
struct txn_log_txn {
	uint32_t ordinal; /* 1, 2, ... on the connection */
	uint64_t txn_id;  /* txn_id_make(client ip, client port, ordinal) */
	uint32_t flags;	  /* TXN_F_* (txn_parser.h) */
	enum txn_end end; /* TXN_END_OPEN until txn_end */
	bool head_known, req_done, resp_started, resp_done;
	uint64_t req_start, req_end;   /* client stream; req_end valid with req_done */
	uint64_t resp_start, resp_end; /* server stream; resp_end: so far until resp_done */
	uint64_t req_first_us;	       /* first request byte */
	uint64_t req_done_us, resp_first_us, resp_done_us;
	uint16_t status; /* HTTP final status, 0 unknown / line protocol */
	unsigned tags;	 /* TAG_* (tags.h) */
	int tag_rule;	 /* index of the rule, -1: the conservative default */
	unsigned tag_line;
	bool has_aux_id; /* the request carried a transaction ID (aux logger) */
	uint64_t aux_id;
	/* A message longer than max_kept_message is hashed instead of kept. */
	bool req_hashed, resp_hashed;
	bool req_hash_ok, resp_hash_ok; /* the hash saw every byte (no hole, no eviction) */
	uint8_t req_sha256[32], resp_sha256[32]; /* valid once the message ended */
	/* Known with head_known; a request whose head never completed shows
	 * at txn_end what its request line revealed (often the target only). */
	char method[TXN_METHOD_MAX];
	char target[TXN_TARGET_MAX];
};

/* A connection as observers and queries see it. */
struct txn_log_conn {
	int64_t conn_id;
	uint32_t caddr, saddr; /* host order; client = the side that sent the SYN */
	uint16_t cport, sport;
	int proto;	     /* enum txn_proto of the service port */
	const char *backend; /* configured name of (saddr, sport), or NULL */
	bool midstream;	     /* picked up without a SYN: offsets start at the first byte seen */
	bool isn_client_known, isn_server_known;
	uint32_t isn_client, isn_server;
	uint64_t open_us, last_us, close_us;
	bool ack_cl_known;
	bool client_window_closed; /* the client's last ACK advertised a zero window */
	uint64_t ack_cl;	   /* AckCL: highest client ACK of server bytes (stream offset) */
	uint64_t server_bytes;	   /* end of the server bytes logged (the last server byte + 1) */
	uint64_t client_bytes;	   /* end of the client bytes logged */
	uint32_t t_l;		   /* last transaction with its response fully logged, 0: none */
	uint64_t ack_tl;	   /* its resp_end: AckTL */
	uint32_t txns;		   /* transactions begun */
	bool fin_client, fin_server, rst_client, rst_server;
	bool closed_by_server;		     /* RST from the server, or its FIN came first */
	bool closed;			     /* conn_close was delivered */
	enum flow_close_reason close_reason; /* FLOW_CLOSE_FINISHED for FIN/RST */
	enum txn_conn_state parse_state;
};

struct txn_log_observer {
	void (*conn_open)(void *ctx, const struct txn_log_conn *c);
	void (*conn_update)(void *ctx, const struct txn_log_conn *c);
	void (*conn_close)(void *ctx, const struct txn_log_conn *c);
	void (*txn_begin)(void *ctx, const struct txn_log_conn *c, const struct txn_log_txn *t);
	void (*txn_request_done)(void *ctx, const struct txn_log_conn *c,
				 const struct txn_log_txn *t, uint64_t t_us);
	void (*txn_response_first_byte)(void *ctx, const struct txn_log_conn *c,
					const struct txn_log_txn *t, uint64_t t_us);
	void (*txn_response_progress)(void *ctx, const struct txn_log_conn *c,
				      const struct txn_log_txn *t, uint64_t t_us);
	void (*txn_response_done)(void *ctx, const struct txn_log_conn *c,
				  const struct txn_log_txn *t, uint64_t t_us);
	void (*txn_end)(void *ctx, const struct txn_log_conn *c, const struct txn_log_txn *t);
	void (*marks)(void *ctx, const struct txn_log_conn *c);
	void (*client_window)(void *ctx, const struct txn_log_conn *c, uint64_t t_us);
	void (*batch_end)(void *ctx);
	void (*tick)(void *ctx, uint64_t now_us); /* from txn_log_expire */
	void *ctx;
};

struct txn_log_stats {
	uint64_t packets, bytes; /* packets given, their captured bytes */
	uint64_t not_ipv4_tcp;	 /* other protocols */
	uint64_t malformed;	 /* packets the IPv4/TCP parser refused */
	uint64_t malformed_by[PKT_NERRORS];
	uint64_t cut_short;	  /* copies shorter than the packet (snaplen, copy range) */
	uint64_t not_service;	  /* neither port is a configured service */
	uint64_t untracked;	  /* no connection for the segment (no SYN seen, RST, ...) */
	uint64_t refused;	  /* table full or no memory */
	uint64_t clock_backwards; /* timestamps older than the previous one */
	uint64_t conns_opened, conns_closed;
	uint64_t closed_fin, closed_rst, closed_idle, closed_other;
	uint64_t txns_begun, txns_ended, txns_complete;
	uint64_t hashed_messages; /* messages over max_kept_message */
	uint64_t hash_incomplete; /* ... whose hash misses bytes */
	uint64_t marks_events;
	uint64_t client_window_closed; /* zero windows advertised by clients */
	uint64_t nomem;		       /* per-connection state that could not be allocated */
	uint64_t events_dropped;       /* parser events beyond the bound of one segment */
};

struct txn_log;

/* Loads the tags file, builds the parser contexts, the flow table and the
 * byte store. 0, or -EINVAL / -ENOMEM / -errno with a message in err. */
int txn_log_create(struct txn_log **out, const struct txn_log_config *cfg, char *err,
		   size_t errlen);
/* Closes every connection (observers see the usual end events, reason
 * FLOW_CLOSE_DESTROYED) and frees everything. l may be NULL. */
void txn_log_destroy(struct txn_log *l);
/* Closes every connection now, as txn_log_destroy does, but keeps the log
 * usable (counters, byte store). For the end of a capture or a shutdown. */
void txn_log_finish(struct txn_log *l);

/* Where conn_ids come from (store_next_conn_id for a database); without
 * it they count 1, 2, ... */
void txn_log_set_conn_ids(struct txn_log *l, int64_t (*next)(void *arg), void *arg);
/* 0, or -ENOSPC (TXN_LOG_MAX_OBSERVERS reached). The struct is copied. */
int txn_log_add_observer(struct txn_log *l, const struct txn_log_observer *o);

/* One IPv4 packet (network header first): caplen bytes present, wirelen
 * its length on the wire (>= caplen), ts_us its timestamp. Returns 0 when
 * the segment was logged; otherwise a negative code telling why not, all
 * counted: -ENOTSUP (not IPv4/TCP), -EBADMSG (malformed), -ENOENT (no
 * service port / no connection), -ENOSPC / -ENOMEM (refused). */
int txn_log_packet(struct txn_log *l, const uint8_t *pkt, size_t caplen, size_t wirelen,
		   uint64_t ts_us);
/* Timer work (call every second or so): expires idle and lingering
 * connections, skips holes older than hole_timeout, closes connections that
 * ended, flushes due marks. now_us on the packets' clock. */
void txn_log_expire(struct txn_log *l, uint64_t now_us);
/* The latest time seen (packets or expire). */
uint64_t txn_log_now_us(const struct txn_log *l);

const struct txn_log_conn *txn_log_conn_by_id(const struct txn_log *l, int64_t conn_id);
/* Either direction of the 4-tuple (host order). */
const struct txn_log_conn *txn_log_conn_by_tuple(const struct txn_log *l, uint32_t saddr,
						 uint16_t sport, uint32_t daddr, uint16_t dport);
/* fn for every connection still held (closed ones linger a while); stops
 * when fn returns non-zero, which is returned. */
int txn_log_foreach_conn(const struct txn_log *l,
			 int (*fn)(void *ctx, const struct txn_log_conn *c), void *ctx);
/* fn for every open transaction of a connection, oldest first. -ENOENT if
 * the connection is unknown; else as txn_log_foreach_conn. */
int txn_log_open_txns(const struct txn_log *l, int64_t conn_id,
		      int (*fn)(void *ctx, const struct txn_log_txn *t), void *ctx);
struct byte_store *txn_log_bytes(const struct txn_log *l);

/* The paper's recovery terms (§4.2) of one connection, from the logger's
 * view, as stream offsets: T_L and AckTL, p (response bytes of T_L + 1
 * logged: everything after AckTL), AckCL, the last server byte, and the
 * bytes a resend from AckCL needs with how much of it the byte store
 * holds. */
struct txn_log_recovery {
	uint32_t t_l;			 /* 0: no response complete yet */
	uint64_t ack_tl;		 /* resp_end of T_L (0 without T_L) */
	uint64_t p;			 /* server_bytes - ack_tl */
	bool ack_cl_known;		 /* false: no ACK from the client yet */
	uint64_t ack_cl;		 /* AckCL */
	uint64_t server_bytes;		 /* the last server byte logged + 1 */
	uint64_t resend_from, resend_to; /* [AckCL, server_bytes) */
	uint64_t held_until;		 /* bytes from resend_from held up to here */
	bool resend_held;		 /* the whole resend range is held */
};
/* 0, or -ENOENT for a connection the log no longer holds. */
int txn_log_recovery_point(const struct txn_log *l, int64_t conn_id, struct txn_log_recovery *out);
const struct txn_log_config *txn_log_config_of(const struct txn_log *l);

struct txn_log_stats txn_log_get_stats(const struct txn_log *l);
/* Adds the pipeline's counters and those of the flow table, parsers, tags
 * and byte store as prefix_NAME. */
void txn_log_collect_stats(const struct txn_log *l, struct stats_report *r, const char *prefix);

const char *txn_log_close_name(const struct txn_log_conn *c);

#endif /* CRAFT_TXN_LOG_H */
