/* state_msg - the messages of backend support (paper §3.3, §4.1 steps 3
 * and 5, §4.3): session state pushed by a server application to the agent
 * on its alternate backend, the logger's "response fully logged" signal,
 * recovery's T_S/T_A question and its "apply up to T_R - 1" order, and the
 * local messages between the agent and the application it feeds.
 *
 * Why one codec for both transports: between hosts a message is the body
 * of an auth_msg (HMAC, anti-replay, freshness; auth type
 * STATE_AUTH_TYPE(type), the 0x04xx range); between the agent and the
 * application on the same host it travels unchanged, one message per
 * SOCK_SEQPACKET packet (file permissions are the access control). Every
 * field a decoder accepts is checked (exact lengths, reserved bytes zero,
 * enums in range) so a forged or garbled message is refused with a counted
 * reason, never half-interpreted. Decoding copies nothing: key, blob and
 * chunk point into the caller's buffer.
 *
 * All integers big endian. IPv4 addresses and ports are host order in the
 * structs (as in txn_id_make), big endian on the wire. A transaction ID is
 * the paper's: client ip << 32 | client port << 16 | ordinal (txn_parser.h).
 *
 * Header (8 bytes): u8 version = 1, u8 type, u16 reserved = 0,
 *                   u32 body length (exactly what follows).
 *
 * STATE (1) app -> agent, body 32 + key_len + blob_len:
 *   0 u64 origin    the pushing instance (its start time in us; a
 *                   restarted application has a higher origin)
 *   8 u64 seq       1, 2, ... per origin: (origin, seq) is the version
 *  16 u64 txn_id    the update transaction this state follows
 *  24 u8  flags     bit 0 SYNC (the sender waits for the ack),
 *                   bit 1 DELETE (the session ended; blob empty)
 *  25 u8  key_len   1..STATE_KEY_MAX: the session key (e.g. cookie)
 *  26 u16 reserved  28 u32 blob_len (0..STATE_BLOB_MAX)
 *  32 key, then blob: a complete snapshot of the session after txn_id
 * ACK (2) agent -> app, body 24:
 *   0 u64 origin   8 u64 seq (of the STATE or SAVE being acknowledged)
 *  16 u8 status (enum state_ack_status)  17 u8 + u16 reserved
 *  20 u32 stored: SAVE: bytes of the response held so far; STATE: 0
 * SAVE (3) app -> agent, and agent -> app when recovery needs it; body
 *   40 + chunk_len: a replay aid for a non-deterministic transaction
 *   0 u64 origin   8 u64 seq   16 u64 txn_id
 *  24 u8 kind (1 RESPONSE: the whole response, to be sent verbatim on
 *     replay; 2 REGEN: what the application needs to regenerate it)
 *  25 u8 + u16 reserved   28 u32 total (1..STATE_AID_MAX)
 *  32 u32 offset  36 u32 chunk_len (1..STATE_CHUNK_MAX, offset + len <=
 *     total)  40 chunk
 * LOGGED (4) logger -> agent, body 8 + 8n: responses fully logged
 *   0 u16 n (1..STATE_LOGGED_MAX)  2 u16 + u32 reserved  8 n x u64 txn_id
 * QUERY (5) recovery -> agent, body 16 + key_len: T_S and T_A of
 *   0 u64 query_id  8 u8 selector (1 CONN: ip/port; 2 SESSION: key)
 *   9 u8 key_len (0 for CONN, 1..STATE_KEY_MAX for SESSION)
 *  10 u16 port  12 u32 ipv4 (both 0 for SESSION)  16 key
 * REPLY (6) agent -> recovery, body 40:
 *   0 u64 query_id  8 u8 status (enum state_reply_status)
 *   9 u8 flags (bit 0 FORCED: some state was applied before its response
 *     was reported logged, T_S may exceed T_L)  10 u16 reserved
 *  12 u32 pending (records held, not applied)
 *  16 u64 t_s  24 u64 t_a  (transaction IDs; 0 = none)
 *  32 u32 sessions (sessions the selector touches)  36 u32 aids held
 * APPLY_UP_TO (7) recovery -> agent, body 24:
 *   0 u64 query_id  8 u32 ipv4  12 u16 port  14 u16 reserved
 *  16 u32 up_to (ordinal T_R - 1; 0 = apply none of this connection)
 *  20 u8 flags (bit 0 DISCARD_AFTER: drop this connection's records after
 *     up_to, they will be replayed)  21 u8 + u16 reserved
 *   Answered by a REPLY once the application acknowledged every apply
 *   (status OK) or the agent's recovery timeout passed (status BUSY).
 * APPLY (8) agent -> app (local), body 32 + key_len + blob_len:
 *   as STATE (origin, seq, txn_id, flags DELETE only, key_len, blob_len)
 * APPLIED (9) app -> agent (local), body 32:
 *   0 u64 origin  8 u64 seq  16 u64 txn_id  24 u8 status (0 ok,
 *   1 refused: the blob did not decode)  25 u8 + u16 + u32 reserved
 *
 * Unknown versions and types, wrong lengths (also a packet longer or
 * shorter than its header says), non-zero reserved bits and out-of-range
 * values are refused with a distinct code (enum state_err). */
#ifndef CRAFT_STATE_MSG_H
#define CRAFT_STATE_MSG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth_msg.h"

#define STATE_MSG_VERSION 1
#define STATE_HEADER_LEN  8
#define STATE_KEY_MAX	  64
#define STATE_BLOB_MAX	  60000u
#define STATE_CHUNK_MAX	  60000u
#define STATE_AID_MAX	  (16u << 20) /* largest saved response */
#define STATE_LOGGED_MAX  64
/* Largest encoded message: a STATE with the longest key and blob. */
#define STATE_MSG_MAX	   (STATE_HEADER_LEN + 32 + STATE_KEY_MAX + STATE_BLOB_MAX)
#define STATE_DATAGRAM_MAX (AUTH_MSG_OVERHEAD + STATE_MSG_MAX)
/* auth_msg type of a state message: the 0x04xx range is backend support's. */
#define STATE_AUTH_TYPE(t) ((uint16_t)(0x0400u | (uint8_t)(t)))

_Static_assert(STATE_MSG_MAX <= AUTH_MSG_MAX_BODY, "a state message fits one datagram");

enum state_type {
	STATE_T_STATE = 1,
	STATE_T_ACK = 2,
	STATE_T_SAVE = 3,
	STATE_T_LOGGED = 4,
	STATE_T_QUERY = 5,
	STATE_T_REPLY = 6,
	STATE_T_APPLY_UP_TO = 7,
	STATE_T_APPLY = 8,
	STATE_T_APPLIED = 9,
};
#define STATE_NTYPES 10 /* 1..9 */

#define STATE_F_SYNC   0x1u
#define STATE_F_DELETE 0x2u

enum state_ack_status {
	STATE_ACK_STORED = 0,	 /* new, held */
	STATE_ACK_DUPLICATE = 1, /* seen before (a retransmission) */
	STATE_ACK_FULL = 2,	 /* refused: a store limit */
	STATE_ACK_REFUSED = 3,	 /* refused: out of order chunk, too big, ... */
};

enum state_aid_kind {
	STATE_AID_RESPONSE = 1,
	STATE_AID_REGEN = 2,
};

enum state_selector {
	STATE_SEL_CONN = 1,
	STATE_SEL_SESSION = 2,
};

enum state_reply_status {
	STATE_REPLY_OK = 0,
	STATE_REPLY_UNKNOWN = 1, /* nothing known for the selector */
	STATE_REPLY_BUSY = 2,	 /* the application did not acknowledge in time */
	STATE_REPLY_NO_APP = 3,	 /* no application connected to apply to */
};

#define STATE_REPLY_F_FORCED	  0x1u
#define STATE_APPLY_DISCARD_AFTER 0x1u

/* Decoder verdicts, negative; index counters with -code. */
enum state_err {
	STATE_E_SHORT = -1,	/* shorter than the header */
	STATE_E_VERSION = -2,	/* unknown version */
	STATE_E_TYPE = -3,	/* unknown type */
	STATE_E_LENGTH = -4,	/* body length wrong for the type, or != packet */
	STATE_E_RESERVED = -5,	/* reserved bits or bytes not zero */
	STATE_E_VALUE = -6,	/* enum out of range, zero length, bounds */
	STATE_E_AUTH = -7,	/* state_msg_open: auth_msg refused it */
	STATE_E_AUTH_TYPE = -8, /* state_msg_open: auth type != message type */
	STATE_NERR = 9,
};

struct state_push { /* STATE and APPLY */
	uint64_t origin, seq, txn_id;
	uint8_t flags;
	uint8_t key_len;
	uint32_t blob_len;
	const uint8_t *key, *blob;
};

struct state_ack {
	uint64_t origin, seq;
	uint8_t status;
	uint32_t stored;
};

struct state_save {
	uint64_t origin, seq, txn_id;
	uint8_t kind;
	uint32_t total, offset, chunk_len;
	const uint8_t *chunk;
};

struct state_logged {
	uint16_t n;
	uint64_t txn[STATE_LOGGED_MAX];
};

struct state_query {
	uint64_t query_id;
	uint8_t selector;
	uint8_t key_len;
	uint16_t port;
	uint32_t ipv4;
	const uint8_t *key;
};

struct state_reply {
	uint64_t query_id;
	uint8_t status, flags;
	uint32_t pending;
	uint64_t t_s, t_a;
	uint32_t sessions, aids;
};

struct state_apply_up_to {
	uint64_t query_id;
	uint32_t ipv4;
	uint16_t port;
	uint32_t up_to;
	uint8_t flags;
};

struct state_applied {
	uint64_t origin, seq, txn_id;
	uint8_t status;
};

struct state_msg {
	enum state_type type;
	union {
		struct state_push push; /* STATE, APPLY */
		struct state_ack ack;
		struct state_save save;
		struct state_logged logged;
		struct state_query query;
		struct state_reply reply;
		struct state_apply_up_to apply_up_to;
		struct state_applied applied;
	} u;
};

const char *state_err_name(int code);		/* "short", "version", ... */
const char *state_type_name(enum state_type t); /* "state", "ack", ... */

/* Encoded size of m (header included), or 0 when m is not encodable. */
size_t state_msg_encoded_len(const struct state_msg *m);
/* Bytes written, or -EINVAL (a field the decoder would refuse) / -ENOSPC. */
int state_msg_encode(const struct state_msg *m, uint8_t *buf, size_t cap);
/* 0, or a negative enum state_err; m is unspecified after an error. */
int state_msg_decode(const uint8_t *buf, size_t len, struct state_msg *m);

/* Seals m in an auth_msg and sends it to `to` over the UDP socket fd.
 * 0, -EINVAL (not encodable), -EOVERFLOW (sender exhausted) or -errno. */
int state_msg_send(int fd, const struct sockaddr_in *to, struct auth_sender *s,
		   const struct auth_key *key, const struct state_msg *m);
/* Opens an authenticated datagram (auth_msg_open, which counts its own
 * verdict in r) and decodes its body. 0, STATE_E_AUTH (see r->counts),
 * STATE_E_AUTH_TYPE or a decoder verdict. view may be NULL. */
int state_msg_open(struct auth_receiver *r, const struct auth_key *key, const void *dgram,
		   size_t len, uint64_t now_ms, struct auth_msg_view *view, struct state_msg *m);

/* The logger's call (paper §4.1 step 5): tells the alternate backend's
 * agent that the responses of these transactions are completely logged,
 * so their state may be applied. n is 1..STATE_LOGGED_MAX (more: call
 * again). Fire and forget: repeating a txn is harmless (idempotent), a
 * lost datagram delays the apply until recovery's APPLY_UP_TO or the
 * agent's apply timeout. 0 or -errno as state_msg_send. */
int state_msg_send_logged(int fd, const struct sockaddr_in *agent, struct auth_sender *s,
			  const struct auth_key *key, const uint64_t *txn_ids, unsigned n);

/* One line, no newline, key=value ("state origin=.. seq=.. txn=.. ...").
 * Returns what snprintf returns. */
int state_msg_format(const struct state_msg *m, char *buf, size_t len);

#endif
