/* txn_parser - turns the two byte streams of one TCP connection into
 * transactions (one request plus its response), streaming.
 *
 * Why: recovery restarts an application on an alternate backend at a
 * transaction boundary (paper §3.1), so the logger must know, eagerly and
 * for every connection, where each request and each response begins and
 * ends in the client->server and server->client streams, as 64-bit offsets
 * relative to each side's ISN+1 (the offsets tcp_stream delivers).  Parsing
 * lazily on failure is no option: the log may have wrapped by then.
 *
 * The caller feeds the reassembled bytes of each direction in stream order
 * (txn_parser_data), reports holes that will never fill (txn_parser_gap)
 * and FINs (txn_parser_eof); the two directions are interleaved in the
 * order the logger saw them.  The parser calls the consumer back with
 * events; it never buffers a stream (the only copies are bounded: the
 * request target, an ID header value, the client bytes held while an
 * HTTP upgrade is undecided).  The protocol is chosen per context:
 * HTTP/1.x (http_txn.h) or a line-oriented command protocol (line_txn.h).
 *
 * Every transaction that reports TXN_EV_REQUEST_BEGIN reports TXN_EV_END
 * exactly once, at the latest from txn_parser_end(); in between, in stream
 * order per direction:
 *   REQUEST_BEGIN  first byte of the request (t->req_start)
 *   REQUEST_HEAD   method, target and carried transaction ID are known:
 *                  the moment to tag it (tags.h)
 *   REQUEST_END    last byte of the request (t->req_end, exclusive)
 *   RESPONSE_BEGIN first byte of the response, interim 1xx included
 *   RESPONSE_HEAD  the final response's status is known
 *   RESPONSE_END   last byte of the final response (t->resp_end, exclusive)
 *   END            the transaction leaves the parser; t->end says whether it
 *                  completed or why not.
 * A response may complete before its request does (a server refusing an
 * upload early); responses are matched to requests first-in first-out.
 * Bytes between transactions (blank lines between requests) belong to
 * none; a transaction's ranges are [start, end).
 *
 * Failure containment: malformed input, a limit hit or a hole the protocol
 * cannot step over stops parsing of that connection (txn_parser_state);
 * it is counted, later bytes are only counted, and every transaction that
 * can no longer complete ends with the first cause (a request-side failure
 * still lets requests that were complete receive their responses, first in
 * first out).  Nothing is guessed after a loss of synchronisation.  Not thread-safe: one context
 * (and its connections) per thread; consumer callbacks must not call back into the same parser. */
#ifndef CRAFT_TXN_PARSER_H
#define CRAFT_TXN_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct stats_report;

/* Bounded copies kept per transaction (including the terminating NUL). */
#define TXN_METHOD_MAX 24
#define TXN_TARGET_MAX 256

enum txn_dir {
	TXN_DIR_REQUEST = 0,  /* client -> server */
	TXN_DIR_RESPONSE = 1, /* server -> client */
};

enum txn_proto {
	TXN_PROTO_HTTP = 0, /* HTTP/1.0 and 1.1 (http_txn.h) */
	TXN_PROTO_LINE = 1, /* command lines (line_txn.h) */
};

enum txn_event {
	TXN_EV_REQUEST_BEGIN,
	TXN_EV_REQUEST_HEAD,
	TXN_EV_REQUEST_END,
	TXN_EV_RESPONSE_BEGIN,
	TXN_EV_RESPONSE_HEAD,
	TXN_EV_RESPONSE_END,
	TXN_EV_END,
};

/* Why a transaction left the parser. */
enum txn_end {
	TXN_END_OPEN = 0, /* still open (never seen in an END event) */
	TXN_END_COMPLETE, /* request and response complete */
	TXN_END_EOF,	  /* a FIN came before it completed */
	TXN_END_ERROR,	  /* malformed input or a limit (counted) */
	TXN_END_GAP,	  /* a hole in a stream made the rest unknowable */
	TXN_END_OPAQUE,	  /* the connection switched protocols before it */
	TXN_END_ABORT,	  /* txn_parser_end() (RST, idle timeout, shutdown) */
};

/* Per-transaction flags. */
#define TXN_F_TARGET_TRUNCATED 0x0001u /* target longer than TXN_TARGET_MAX - 1 */
#define TXN_F_REQ_CHUNKED      0x0002u /* request body chunked */
#define TXN_F_RESP_CHUNKED     0x0004u /* response body chunked */
#define TXN_F_CLOSE_DELIMITED  0x0008u /* response body ends at the FIN */
#define TXN_F_NO_BODY	       0x0010u /* response has no body by rule (HEAD, 1xx, 204, 304) */
#define TXN_F_CONN_CLOSE       0x0020u /* request or response ends the connection */
#define TXN_F_UPGRADE	       0x0040u /* request asked to switch protocols (Upgrade, CONNECT) */
#define TXN_F_SWITCHED	       0x0080u /* ... and the response accepted: opaque after it */
#define TXN_F_ID_INVALID       0x0100u /* an ID was present but not a valid one */
#define TXN_F_REQ_TRUNCATED    0x0200u /* request cut short (FIN, error or hole) */
#define TXN_F_GROUPED                                                                              \
	0x0400u			  /* line protocol: empty response, its output went to             \
				   * the request before (see line_txn.h) */
#define TXN_F_GAP_IN_BODY 0x0800u /* a hole inside a body was stepped over */

/* One transaction as the events show it.  Offsets are valid once the
 * matching event fired (req_end with req_complete, and so on). */
struct txn {
	uint32_t ordinal;	  /* 1, 2, ... on the connection */
	uint32_t flags;		  /* TXN_F_* */
	uint64_t req_start;	  /* client->server offset of the request's first byte */
	uint64_t req_end;	  /* ... one past its last byte */
	uint64_t resp_start;	  /* server->client offset of the response's first byte */
	uint64_t resp_end;	  /* ... one past its last byte */
	uint64_t req_body_bytes;  /* HTTP: decoded body bytes; line: 0 */
	uint64_t resp_body_bytes; /* HTTP: decoded body bytes; line: response bytes */
	uint64_t txn_id;	  /* carried in the request (aux logger), if has_txn_id */
	bool has_txn_id;
	bool req_started, req_complete;
	bool resp_started, resp_complete;
	uint16_t status;  /* HTTP final status; 0 for line protocols */
	uint16_t interim; /* 1xx responses before the final one */
	enum txn_end end; /* TXN_END_OPEN until the END event */
	char method[TXN_METHOD_MAX];
	/* HTTP: request-target as sent; line: the request without leading
	 * blanks, trailing CR and delimiter. Cut at TXN_TARGET_MAX - 1 bytes
	 * (TXN_F_TARGET_TRUNCATED) or at a NUL byte. */
	char target[TXN_TARGET_MAX];
	uint16_t target_len;
	/* private to the protocol module */
	uint32_t priv;
	enum txn_end fate; /* why it will end if the request never completes */
};

/* t is valid only during the call (copy what you keep). */
typedef void (*txn_event_fn)(void *ctx, enum txn_event ev, const struct txn *t);

struct txn_consumer {
	txn_event_fn event; /* may be NULL */
	void *ctx;
};

/* How a line protocol's response ends (line_txn.h). */
enum txn_line_resp {
	TXN_LINE_RESP_NEXT_REQUEST = 0, /* when the client begins the next request */
	TXN_LINE_RESP_STRING = 1,	/* after a literal byte string */
	TXN_LINE_RESP_LINE = 2,		/* after a line matching an ERE */
};

#define TXN_ID_NAME_MAX	   64 /* header name / tag prefix, including NUL */
#define TXN_DELIMS_MAX	   8  /* request delimiter bytes */
#define TXN_TERMINATOR_MAX 32 /* literal response terminator bytes */
#define TXN_PATTERN_MAX	   256

/* The configuration of one context; txn_parser_config_default() fills it. */
struct txn_parser_config {
	int proto;	      /* enum txn_proto */
	uint32_t max_pending; /* open transactions per connection (pipelining depth) */
	/* HTTP: longest header section, also bounds each chunk-size line and
	 * the trailers; at most HTTP_TXN_HEADER_CEILING (http_txn.h). */
	uint64_t max_header_bytes;
	/* HTTP: request header carrying the transaction ID ("" = none);
	 * line: prefix of the first word carrying it ("" = none). */
	char id_name[TXN_ID_NAME_MAX];
	/* line protocols */
	uint64_t line_max;		  /* longest request (error beyond) */
	char line_delims[TXN_DELIMS_MAX]; /* each byte ends a request */
	uint32_t line_delims_len;
	int line_resp;				  /* enum txn_line_resp */
	char line_terminator[TXN_TERMINATOR_MAX]; /* TXN_LINE_RESP_STRING */
	uint32_t line_terminator_len;
	char line_pattern[TXN_PATTERN_MAX]; /* TXN_LINE_RESP_LINE, POSIX ERE */
};

/* Connection state, worst first reached wins (OK < OPAQUE < UNSYNC < ERROR
 * only in the sense that the first non-OK state sticks). */
enum txn_conn_state {
	TXN_CONN_OK = 0,
	TXN_CONN_OPAQUE, /* switched protocols: not parsed on purpose */
	TXN_CONN_UNSYNC, /* a hole: the rest is not guessed */
	TXN_CONN_ERROR,	 /* malformed input or a limit */
};

/* Errors, counted by kind. */
enum txn_err {
	TXN_ERR_SYNTAX,		/* not the protocol */
	TXN_ERR_HEADER_SIZE,	/* header section, chunk line or trailers too long */
	TXN_ERR_CONTENT_LENGTH, /* missing digits, > 2^63, duplicated, with chunked */
	TXN_ERR_CHUNK_SIZE,	/* invalid chunk size */
	TXN_ERR_AFTER_CLOSE,	/* a message after Connection: close */
	TXN_ERR_UNSOLICITED,	/* HTTP response with no request to answer */
	TXN_ERR_PENDING,	/* more than max_pending open transactions */
	TXN_ERR_LINE_TOO_LONG,	/* line request longer than line_max */
	TXN_ERR_NOMEM,
	TXN_ERR_COUNT
};

struct txn_stats {
	uint64_t connections;		   /* parsers created */
	uint64_t bytes[2];		   /* bytes fed per direction */
	uint64_t ignored_bytes;		   /* fed after the direction stopped */
	uint64_t overlap_bytes;		   /* fed again (offsets already seen) */
	uint64_t after_eof_bytes;	   /* fed after txn_parser_eof */
	uint64_t transactions;		   /* REQUEST_BEGIN events */
	uint64_t ended[TXN_END_ABORT + 1]; /* END events by reason */
	uint64_t errors[TXN_ERR_COUNT];
	uint64_t conn_error;  /* connections that reached TXN_CONN_ERROR */
	uint64_t conn_unsync; /* ... TXN_CONN_UNSYNC */
	uint64_t conn_opaque; /* ... TXN_CONN_OPAQUE */
	uint64_t gaps;	      /* holes reported (including implicit ones) */
	uint64_t gap_bytes;
	uint64_t gaps_stepped; /* holes inside a body of known length: kept in sync */
	uint64_t interim;      /* 1xx responses */
	uint64_t target_truncated;
	uint64_t ids; /* transaction IDs found in requests */
	uint64_t ids_invalid;
	uint64_t unsolicited_bytes; /* line: server bytes with no request open */
	uint64_t grouped;	    /* line: empty responses grouped behind another */
	uint64_t held_overflow;	    /* HTTP: client bytes after an undecided upgrade overflowed */
	uint64_t eof_mid_request;
};

/* Shared by every connection of one thread: configuration, compiled
 * protocol data, counters. */
struct txn_parser_ctx {
	struct txn_parser_config cfg;
	const struct txn_proto_ops *ops;
	void *proto; /* the module's compiled configuration */
	struct txn_stats stats;
};

struct txn_parser;

void txn_parser_config_default(struct txn_parser_config *cfg);
/* Checks and compiles cfg. Returns 0, or -EINVAL with a message in err,
 * or -ENOMEM. */
int txn_parser_ctx_init(struct txn_parser_ctx *ctx, const struct txn_parser_config *cfg, char *err,
			size_t errlen);
void txn_parser_ctx_free(struct txn_parser_ctx *ctx);
/* Adds the counters as prefix_NAME. */
void txn_parser_collect_stats(const struct txn_parser_ctx *ctx, struct stats_report *r,
			      const char *prefix);

/* The parser of one connection; NULL when out of memory. */
struct txn_parser *txn_parser_new(struct txn_parser_ctx *ctx, const struct txn_consumer *consumer);
/* Frees without emitting events: call txn_parser_end() first if the
 * consumer must see every open transaction end. */
void txn_parser_free(struct txn_parser *p);

/* Feeds len bytes of direction dir starting at stream offset off.  Bytes
 * before the next expected offset were seen and are skipped (counted);
 * bytes after it imply a hole (as txn_parser_gap).  Returns 0, or -EINVAL
 * for impossible arguments; parse errors are not returned but reflected in
 * txn_parser_state() and the counters. */
int txn_parser_data(struct txn_parser *p, enum txn_dir dir, uint64_t off, const void *data,
		    size_t len);
/* len bytes at off will never arrive (tcp_stream's gap event). */
int txn_parser_gap(struct txn_parser *p, enum txn_dir dir, uint64_t off, uint64_t len);
/* The direction ended (FIN) at its current offset: ends a close-delimited
 * response; after a response-side EOF every open transaction ends. */
int txn_parser_eof(struct txn_parser *p, enum txn_dir dir);
/* Ends every open transaction with `why` (TXN_END_ABORT for an RST or a
 * timeout) and stops parsing. */
void txn_parser_end(struct txn_parser *p, enum txn_end why);

enum txn_conn_state txn_parser_state(const struct txn_parser *p);
/* Is the direction still parsed? */
bool txn_parser_active(const struct txn_parser *p, enum txn_dir dir);
/* Open transactions (requests not yet answered, ...). */
unsigned txn_parser_pending(const struct txn_parser *p);
/* Next offset expected in dir (== bytes seen, holes included). */
uint64_t txn_parser_offset(const struct txn_parser *p, enum txn_dir dir);

const char *txn_event_name(enum txn_event ev);
const char *txn_end_name(enum txn_end end);
const char *txn_conn_state_name(enum txn_conn_state st);
const char *txn_err_name(enum txn_err err);

/* Transaction IDs (paper Fig. 3): client IPv4 address (host byte order) in
 * bits 63..32, client port in 31..16, the ordinal's low 16 bits in 15..0
 * (a connection with more than 65535 transactions wraps in the ID). */
static inline uint64_t txn_id_make(uint32_t client_ipv4, uint16_t client_port, uint16_t ordinal)
{
	return (uint64_t)client_ipv4 << 32 | (uint64_t)client_port << 16 | ordinal;
}
static inline uint32_t txn_id_ipv4(uint64_t id)
{
	return (uint32_t)(id >> 32);
}
static inline uint16_t txn_id_port(uint64_t id)
{
	return (uint16_t)(id >> 16);
}
static inline uint16_t txn_id_ordinal(uint64_t id)
{
	return (uint16_t)id;
}
/* 16 lowercase hex digits and a NUL into buf (len >= 17): 0 or -ENOSPC. */
int txn_id_format(uint64_t id, char *buf, size_t len);
/* 1..16 hex digits, optionally after "0x"; nothing else. 0 or -EINVAL. */
int txn_id_parse(const char *s, size_t len, uint64_t *out);

/* Keys for a "[transactions]" section of a daemon's config file:
 *   protocol = http|line, max_pending, max_header_bytes, id = NAME,
 *   line_max, line_response = next-request|string|line, line_pattern = ERE,
 *   line_delimiters, line_terminator: bytes with C escapes \n \r \t \\
 *   \" \xHH decoded; unquoted (line_terminator = \r\n.\r\n) or, since
 *   config.h's quotes only know \" and \\, quoted with doubled
 *   backslashes (line_delimiters = "\\n;" for newline and semicolon).
 * Fill dst with txn_parser_config_default() first. */
extern const struct config_key txn_parser_config_keys[];

/* ---- For protocol modules (http_txn.c, line_txn.c) only. ---- */

struct txn_proto_ops {
	const char *name;
	size_t conn_size; /* per-connection state, zeroed before conn_init */
	int (*ctx_init)(struct txn_parser_ctx *ctx, char *err, size_t errlen);
	void (*ctx_free)(struct txn_parser_ctx *ctx);
	int (*conn_init)(struct txn_parser *p, void *st);
	void (*conn_free)(struct txn_parser *p, void *st);
	void (*data)(struct txn_parser *p, void *st, enum txn_dir dir, uint64_t off,
		     const uint8_t *data, size_t len);
	void (*gap)(struct txn_parser *p, void *st, enum txn_dir dir, uint64_t off, uint64_t len);
	void (*eof)(struct txn_parser *p, void *st, enum txn_dir dir, uint64_t off);
};

struct txn_parser {
	struct txn_parser_ctx *ctx;
	struct txn_consumer consumer;
	enum txn_conn_state state;
	bool stopped[2]; /* direction no longer parsed */
	bool eof[2];
	uint64_t next_off[2];
	uint32_t next_ordinal;
	/* open transactions, oldest first; grows up to cfg.max_pending */
	struct txn *q;
	uint32_t n, cap;
	void *st; /* the module's per-connection state */
};

/* Opens a transaction whose request starts at req_start and emits
 * REQUEST_BEGIN.  Returns its index, or -1 after failing the connection
 * (pending limit, memory). */
int txn_open(struct txn_parser *p, uint64_t req_start);
void txn_emit(struct txn_parser *p, enum txn_event ev, uint32_t idx);
/* Index of the oldest transaction still waiting for (the end of) its
 * response, or -1. */
int txn_resp_index(const struct txn_parser *p);
/* Index of the newest transaction if its request is still in progress, or -1. */
int txn_req_index(const struct txn_parser *p);
/* Ends transaction idx if both sides are finished (emits END, removes it:
 * later indexes shift down).  Returns true if it ended. */
bool txn_try_finish(struct txn_parser *p, uint32_t idx);
/* Emits END with `why` and removes it. */
void txn_finish(struct txn_parser *p, uint32_t idx, enum txn_end why);
/* The request of idx will never complete (fate: why the txn ends). */
void txn_request_dead(struct txn_parser *p, uint32_t idx, enum txn_end fate);
/* Stops parsing direction dir for an error of kind err (counted): the
 * connection becomes TXN_CONN_ERROR.  Request side: the request in progress
 * dies, answered transactions may still complete.  Response side: every
 * open transaction ends. */
void txn_fail(struct txn_parser *p, enum txn_dir dir, enum txn_err err);
/* As txn_fail for a hole that cannot be stepped over (TXN_CONN_UNSYNC). */
void txn_desync(struct txn_parser *p, enum txn_dir dir);
/* Stops both directions on purpose (TXN_CONN_OPAQUE): open transactions end. */
void txn_go_opaque(struct txn_parser *p);
/* Copies into t->target (bounded, NUL-terminated, stops at a NUL byte). */
void txn_target_append(struct txn_parser *p, struct txn *t, const char *s, size_t len);

#endif /* CRAFT_TXN_PARSER_H */
