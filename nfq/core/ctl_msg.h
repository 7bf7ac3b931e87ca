/* ctl_msg - the control messages between the logger and recovery (on the
 * proxies): the logger announces that a backend failed or came back, and
 * recovery asks the logger for a connection's logged state. This header is
 * the operator contract for the format; ctl_channel.h carries the bytes.
 *
 * Why a fixed binary layout: the messages cross hosts inside authenticated
 * datagrams (auth_msg.h; the auth type is CTL_AUTH_TYPE(type)) and go
 * unchanged over the local socket, and every field a decoder accepts must
 * be checked (lengths exact, reserved bytes zero, enums in range) so that
 * garbage is refused and counted, never half-interpreted. One message per
 * datagram, at most CTL_MSG_MAX bytes, so it is never fragmented.
 *
 * All integers are big endian (network order); addresses are IPv4 in
 * network order as on the wire; times are wall-clock microseconds since
 * the Unix epoch (the sender's clock; hosts run NTP). Offsets are bytes.
 *
 * Header (4 bytes), then the body of the type:
 *   0  u8  version = 1
 *   1  u8  type (below)
 *   2  u16 body length: exactly the body size of the type
 *
 * BACKEND_FAILED (type 1, body 72): the logger declared a backend failed.
 *   0  u32 backend ipv4          4  u16 backend port
 *   6  u8  cause: 1 confirm_timeout (overdue, no byte in the confirm window)
 *                 2 probe_failed (overdue, liveness probe failed)
 *                 3 idle_probe (idle, probes failed)
 *                 4 manual (an operator's craft-recover, not the logger:
 *                   the fields after the event id are 0 but detected_us)
 *   7  u8  flags: bit 0 = has_txn (the T_L candidate below is valid);
 *                 other bits 0
 *   8  u64 event id (one per failure; repeats of a message carry the same)
 *  16  u64 detected_us           wall clock of the declaration
 *  24  u64 latency_us            how long the oldest overdue transaction
 *                                waited for the backend before it
 *  32  u64 oldest_txn_id         the oldest unanswered transaction (paper
 *                                §4.2 id: client ip, port, ordinal): the
 *                                T_L + 1 of its connection
 *  40  u64 oldest_conn_id        the logger's id of its connection
 *  48  u32 conns_affected        connections open to the backend
 *  52  u32 conns_waiting         ... of them with a request unanswered
 *  56  u32 txns_outstanding      requests without a complete response
 *  60  u32 timeout_us            the overdue timeout that fired (saturated)
 *  64  u64 suspect_us            wall clock when confirmation began
 *
 * BACKEND_RECOVERED (type 2, body 32): probes succeed again.
 *   0  u32 backend ipv4   4  u16 backend port   6  u16 reserved = 0
 *   8  u64 event id (of this recovery)
 *  16  u64 recovered_us
 *  24  u64 down_us      how long it was failed
 *
 * CONN_QUERY (type 3, body 40): recovery asks for a connection's state.
 *   0  u64 query id (echoed by the reply)
 *   8  u64 conn id (0 = unknown: identify by the 4-tuple)
 *  16  u32 client ipv4 (as the logger sees it: the proxy side)
 *  20  u32 server ipv4
 *  24  u16 client port   26  u16 server port
 *  28  u32 first ordinal wanted (transactions from this one on; 0 = all)
 *  32  u16 max transactions (1..CTL_REPLY_MAX_TXNS)
 *  34  u16 flags: bit 0 = marks, bit 1 = transactions; other bits 0
 *  36  u32 reserved = 0
 *
 * CONN_REPLY (type 4, body 56 + 48 * n, n <= CTL_REPLY_MAX_TXNS):
 *   0  u64 query id     8  u64 conn id
 *  16  u8  status: 0 ok, 1 unknown connection, 2 busy (ask again),
 *                  3 not supported
 *  17  u8  flags: bit 0 = more transactions after these, bit 1 = marks
 *                 valid; other bits 0
 *  18  u16 n (transaction entries that follow)
 *  20  u32 reserved = 0
 *  24  u64 ack_cl            last client ACK seen, as a server-stream
 *                            offset (relative to the server ISN + 1)
 *  32  u64 last_server_byte  server-stream offset one past the last
 *                            server byte logged
 *  40  u64 last_client_byte  client-stream offset one past the last
 *                            client byte logged
 *  48  u32 client isn        52  u32 server isn
 *  56  n entries of 48 bytes:
 *      0  u64 txn id      8  u32 ordinal
 *     12  u8  state bits: 0 request complete, 1 response started,
 *                         2 response complete, 3 ended incomplete
 *     13  u8  tags (tags.h bits: 1 deterministic, 2 read-only, 4 idempotent)
 *     14  u16 reserved = 0
 *     16  u64 req_start   24  u64 req_end     (client-stream offsets)
 *     32  u64 resp_start  40  u64 resp_end    (server-stream offsets)
 *
 * BYTES_QUERY (type 5, body 44): recovery fetches logged stream bytes
 * (the part of a response the client has not acknowledged, or a request
 * to replay), so that it can re-send them without the failed backend.
 *   0  u64 query id (echoed by the reply)
 *   8  u64 conn id (0 = unknown: identify by the 4-tuple)
 *  16  u32 client ipv4 (as the logger sees it)   20  u32 server ipv4
 *  24  u16 client port   26  u16 server port
 *  28  u8  stream: 0 server->client bytes, 1 client->server bytes
 *  29  3 bytes reserved = 0
 *  32  u64 offset (stream offset relative to that side's ISN + 1, the
 *              CONN_REPLY convention)
 *  40  u32 length wanted (1..CTL_BYTES_MAX)
 *
 * BYTES_REPLY (type 6, body 32 + n, n <= CTL_BYTES_MAX):
 *   0  u64 query id     8  u64 conn id
 *  16  u8  status: 0 ok, 1 unknown connection, 2 busy (ask again),
 *                  3 not supported, 4 not held (evicted or never kept,
 *                  e.g. a body above the logger's keep limit)
 *  17  u8  stream (as asked)
 *  18  u16 n (bytes that follow; may be fewer than asked: the logged
 *             stream ends there, or the rest is not held)
 *  20  u32 reserved = 0
 *  24  u64 offset of the first byte returned
 *  32  n bytes
 *
 * AUX_DIVERT (type 7, body 24): recovery tells the aux logger that a
 * replay on an alternate backend begins or ended, so that the aux requests
 * the alternate makes meanwhile are answered from the aux logger's stored
 * responses (nfq/logger/aux_divert.h). Sent by the recovery manager at a
 * job's start and end; a lost END is covered by the ttl.
 *   0  u32 alternate ipv4 (the backend that replays: its aux connections
 *          are diverted)
 *   4  u8  op: 1 start, 2 end
 *   5  3 bytes reserved = 0
 *   8  u64 job id (the sender's; END names the START it ends)
 *  16  u32 ttl_ms: the diversion for this job ends by itself this long
 *          after START (1..CTL_AUX_TTL_MAX_MS; 0 in an END)
 *  20  u32 reserved = 0
 *
 * Unknown versions and types, wrong lengths (also a datagram longer or
 * shorter than its header says), non-zero reserved bits and out-of-range
 * enums are refused with a distinct code (enum ctl_err) for counting. */
#ifndef CRAFT_CTL_MSG_H
#define CRAFT_CTL_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_MSG_VERSION	   1
#define CTL_HEADER_LEN	   4
#define CTL_REPLY_MAX_TXNS 16
#define CTL_TXN_ENTRY_LEN  48
#define CTL_BYTES_MAX	   1024
#define CTL_BYTES_FIXED	   32
/* The larger of CONN_REPLY (4 + 56 + 16 * 48 = 828) and BYTES_REPLY
 * (4 + 32 + 1024 = 1060); one datagram under any Ethernet MTU. */
#define CTL_MSG_MAX (CTL_HEADER_LEN + CTL_BYTES_FIXED + CTL_BYTES_MAX)
/* auth_msg type of a control message: the 0x03xx range is control's. */
#define CTL_AUTH_TYPE(t) ((uint16_t)(0x0300u | (uint8_t)(t)))

enum ctl_type {
	CTL_BACKEND_FAILED = 1,
	CTL_BACKEND_RECOVERED = 2,
	CTL_CONN_QUERY = 3,
	CTL_CONN_REPLY = 4,
	CTL_BYTES_QUERY = 5,
	CTL_BYTES_REPLY = 6,
	CTL_AUX_DIVERT = 7,
};

enum ctl_aux_op {
	CTL_AUX_START = 1,
	CTL_AUX_END = 2,
};

#define CTL_AUX_TTL_MAX_MS 3600000u

enum ctl_cause {
	CTL_CAUSE_CONFIRM_TIMEOUT = 1,
	CTL_CAUSE_PROBE_FAILED = 2,
	CTL_CAUSE_IDLE_PROBE = 3,
	CTL_CAUSE_MANUAL = 4,
};

enum ctl_status {
	CTL_STATUS_OK = 0,
	CTL_STATUS_UNKNOWN_CONN = 1,
	CTL_STATUS_BUSY = 2,
	CTL_STATUS_UNSUPPORTED = 3,
	CTL_STATUS_NOT_HELD = 4, /* BYTES_REPLY only */
};

enum ctl_stream {
	CTL_STREAM_SERVER = 0, /* server->client bytes */
	CTL_STREAM_CLIENT = 1, /* client->server bytes */
};

#define CTL_QUERY_MARKS	   0x1u
#define CTL_QUERY_TXNS	   0x2u
#define CTL_REPLY_MORE	   0x1u
#define CTL_REPLY_MARKS	   0x2u
#define CTL_TXN_REQ_DONE   0x1u
#define CTL_TXN_RESP_BEGUN 0x2u
#define CTL_TXN_RESP_DONE  0x4u
#define CTL_TXN_ENDED	   0x8u

/* Decoder verdicts, negative; index counters with -code. */
enum ctl_err {
	CTL_E_SHORT = -1,    /* shorter than the header */
	CTL_E_VERSION = -2,  /* unknown version */
	CTL_E_TYPE = -3,     /* unknown type */
	CTL_E_LENGTH = -4,   /* body length wrong for the type, or != datagram */
	CTL_E_RESERVED = -5, /* reserved bits or bytes not zero */
	CTL_E_VALUE = -6,    /* enum out of range, zero port, n over the max */
	CTL_NERR = 7,
};

const char *ctl_err_name(int code);	    /* "short", "version", ... */
const char *ctl_type_name(enum ctl_type t); /* "backend_failed", ... */

struct ctl_backend_failed {
	uint32_t ip;   /* network order */
	uint16_t port; /* host order */
	uint8_t cause; /* enum ctl_cause */
	bool has_txn;
	uint64_t event_id, detected_us, latency_us, oldest_txn_id, oldest_conn_id;
	uint32_t conns_affected, conns_waiting, txns_outstanding, timeout_us;
	uint64_t suspect_us;
};

struct ctl_backend_recovered {
	uint32_t ip;
	uint16_t port;
	uint64_t event_id, recovered_us, down_us;
};

struct ctl_conn_query {
	uint64_t query_id, conn_id;
	uint32_t client_ip, server_ip; /* network order */
	uint16_t client_port, server_port;
	uint32_t first_ordinal;
	uint16_t max_txns, flags;
};

struct ctl_txn_entry {
	uint64_t txn_id;
	uint32_t ordinal;
	uint8_t state, tags;
	uint64_t req_start, req_end, resp_start, resp_end;
};

struct ctl_conn_reply {
	uint64_t query_id, conn_id;
	uint8_t status, flags;
	uint16_t ntxn;
	uint64_t ack_cl, last_server_byte, last_client_byte;
	uint32_t client_isn, server_isn;
	struct ctl_txn_entry txn[CTL_REPLY_MAX_TXNS];
};

struct ctl_bytes_query {
	uint64_t query_id, conn_id;
	uint32_t client_ip, server_ip;	   /* network order */
	uint16_t client_port, server_port; /* host order */
	uint8_t stream;			   /* enum ctl_stream */
	uint64_t offset;
	uint32_t length; /* 1..CTL_BYTES_MAX */
};

struct ctl_bytes_reply {
	uint64_t query_id, conn_id;
	uint8_t status, stream;
	uint16_t n;
	uint64_t offset;
	uint8_t data[CTL_BYTES_MAX];
};

struct ctl_aux_divert {
	uint32_t alternate_ip; /* network order */
	uint8_t op;	       /* enum ctl_aux_op */
	uint64_t job_id;
	uint32_t ttl_ms; /* START: 1..CTL_AUX_TTL_MAX_MS; END: 0 */
};

struct ctl_msg {
	enum ctl_type type;
	union {
		struct ctl_backend_failed failed;
		struct ctl_backend_recovered recovered;
		struct ctl_conn_query query;
		struct ctl_conn_reply reply;
		struct ctl_bytes_query bytes_query;
		struct ctl_bytes_reply bytes_reply;
		struct ctl_aux_divert aux;
	} u;
};

/* Bytes written (header included), or -EINVAL (a field the decoder would
 * refuse) / -ENOSPC (cap too small). */
int ctl_msg_encode(const struct ctl_msg *m, uint8_t *buf, size_t cap);
/* 0, or a negative enum ctl_err. m is unspecified after an error. */
int ctl_msg_decode(const uint8_t *buf, size_t len, struct ctl_msg *m);

/* One line, no newline: "backend_failed backend=198.18.2.11:80
 * cause=confirm_timeout event=... detected_us=... ..." (key=value, stable
 * names: the fields above). Returns what snprintf returns. */
int ctl_msg_format(const struct ctl_msg *m, char *buf, size_t len);

#endif
