/* tx_proto - the control protocol of the transactional network interface
 * (thesis §6.3.1.1): a server application tells the logger (the TLA
 * daemon or the 2CA relay) where its transactions start, commit and abort
 * in the byte streams of one TCP connection, and waits for the answer.
 *
 * Why a protocol of its own and why it looks like this:
 * - Offsets, not sequence numbers: the server knows how many bytes it has
 *   read from and written to its socket; the logger maps those to the wire.
 *   Every offset is a 64-bit count in the *server's* numbering of the
 *   stream (relative to ISN+1 as the server's TCP sees it), which after an
 *   abort differs from the peer's numbering by the bytes resent (d1) and
 *   discarded (d2). The logger does the mapping; the server never needs to.
 * - One fixed 64-byte body for every message, so decoding is one length
 *   check and there is no parser to get wrong.
 * - Every frame is an auth_msg (HMAC-SHA256, per-sender anti-replay window,
 *   freshness), type TX_AUTH_TYPE(op). The control connection is TCP; a
 *   captured message could still be replayed on a *new* connection (a new
 *   receiver has no window), so the logger opens each connection with a
 *   HELLO carrying a random session number and every later message in both
 *   directions must carry it: a message recorded on another connection is
 *   refused (TX_R_SESSION), one repeated on this connection is a replay.
 * - Requests are synchronous (the server waits for TX_SUCCESS/TX_FAILURE
 *   with the same req_id). The logger may also send an unsolicited
 *   TX_FAILURE (req_id 0), e.g. when a transaction holds more bytes than
 *   allowed; the server library reports it from tcp_tx_validate().
 *
 * Framing on the stream: an auth_msg is self-delimiting (its header holds
 * the body length), so a reader takes TX_FRAME_HEADER bytes, asks
 * tx_frame_len() for the total and reads the rest. A header with a bad
 * magic or an impossible length cannot be resynchronised: the connection
 * is closed. A well-framed message that fails authentication or decoding
 * is answered with TX_FAILURE and changes nothing.
 */
#ifndef CRAFT_TX_PROTO_H
#define CRAFT_TX_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "auth_msg.h"

#define TX_PROTO_VERSION 1
#define TX_BODY_LEN	 64
#define TX_FRAME_HEADER	 AUTH_MSG_HEADER_LEN
#define TX_FRAME_LEN	 (AUTH_MSG_OVERHEAD + TX_BODY_LEN)
/* Largest frame a reader accepts before calling it garbage. */
#define TX_FRAME_MAX 512
/* auth_msg type range of the transactional interface. */
#define TX_AUTH_TYPE(op) ((uint16_t)(0x0500u | (uint8_t)(op)))

enum tx_op {
	TX_START = 1,
	TX_COMMIT = 2,
	TX_ABORT = 3,
	TX_RESTART = 4,
	TX_HELLO = 0x10,   /* logger -> server on accept: the session number */
	TX_SUCCESS = 0x81, /* answers */
	TX_FAILURE = 0x82,
};

/* Why a request failed (TX_FAILURE.reason). */
enum tx_reason {
	TX_R_NONE = 0,
	TX_R_AUTH = 1,	       /* tag, freshness or replay check failed */
	TX_R_SESSION = 2,      /* session number of another connection */
	TX_R_MALFORMED = 3,    /* body does not decode / unknown op */
	TX_R_UNKNOWN_CONN = 4, /* no such TCP connection at the logger */
	TX_R_BUSY = 5,	       /* connection controlled by another control connection */
	TX_R_STATE = 6,	       /* request not valid in the connection's state */
	TX_R_OFFSETS = 7,      /* offsets disagree with what the logger saw */
	TX_R_HELD_LIMIT = 8,   /* transaction holds more server bytes than allowed */
	TX_R_SAVED_LIMIT = 9,  /* peer bytes of the transaction no longer saved */
	TX_R_NOMEM = 10,       /* logger out of memory */
	TX_R_CLOSED = 11,      /* the TCP connection ended */
	TX_R_CTL_LOST = 12,    /* (library) the control connection failed */
	TX_NREASONS = 13
};

/* The TCP connection a message is about, as the server's socket sees it:
 * local = server, remote = peer (in 2CA the peer is the relay's side). */
struct tx_conn_id {
	uint32_t peer_addr, server_addr; /* host order */
	uint16_t peer_port, server_port;
};

struct tx_msg {
	uint8_t op;
	uint16_t reason; /* TX_FAILURE only */
	uint32_t req_id; /* chosen by the requester, echoed in the answer */
	uint64_t session;
	struct tx_conn_id conn;
	uint32_t txn; /* the server's transaction number (informative) */
	/* Byte offsets, server numbering. in: peer->server, out: server->peer.
	 * START: in_start, out_start. COMMIT/ABORT: all four. RESTART: none;
	 * its SUCCESS says where the replay of the peer bytes begins (in_start)
	 * and ends (in_end) in the server's stream. */
	uint64_t in_start, in_end, out_start, out_end;
};

/* "start", "commit", ..., "unknown". */
const char *tx_op_name(int op);
/* "none", "auth", ..., "unknown". */
const char *tx_reason_name(int reason);

/* Body codec. tx_decode checks the length, the version, the op and that
 * end offsets do not precede start offsets; 0 or -EBADMSG. */
void tx_encode(const struct tx_msg *m, uint8_t body[TX_BODY_LEN]);
int tx_decode(const uint8_t *body, size_t len, struct tx_msg *m);

/* Seals m as one frame into out (cap >= TX_FRAME_LEN); returns the frame
 * length or a negative errno from auth_msg_seal. */
ssize_t tx_seal(struct auth_sender *s, const struct auth_key *key, const struct tx_msg *m,
		void *out, size_t cap);

/* Total length of the frame starting at buf given `have` bytes: 0 when
 * fewer than TX_FRAME_HEADER bytes are present, -EBADMSG for a header no
 * frame can have (bad magic/version, body over TX_FRAME_MAX). */
ssize_t tx_frame_len(const uint8_t *buf, size_t have);

/* Verifies and decodes one complete frame. Returns 0, or a negative
 * enum tx_reason (-TX_R_AUTH, -TX_R_MALFORMED) — the auth result lands in
 * *auth_rc when auth_rc is not NULL. The frame's auth type must match the
 * op in its body. */
int tx_open(struct auth_receiver *r, const struct auth_key *key, const void *frame, size_t len,
	    uint64_t now_ms, struct tx_msg *m, int *auth_rc);

/* Answer to req: SUCCESS or FAILURE(reason), same req_id, session, conn,
 * txn and offsets. */
void tx_reply(const struct tx_msg *req, int reason, struct tx_msg *ans);

/* Stream reassembly of frames for a non-blocking reader. */
struct tx_reader {
	uint8_t buf[2 * TX_FRAME_MAX];
	size_t have;
};

/* Appends up to len bytes (returns how many were taken). */
size_t tx_reader_feed(struct tx_reader *rd, const uint8_t *data, size_t len);
/* Next complete frame: returns its length (frame points into rd->buf and
 * stays valid until tx_reader_consume), 0 when incomplete, -EBADMSG. */
ssize_t tx_reader_next(struct tx_reader *rd, const uint8_t **frame);
void tx_reader_consume(struct tx_reader *rd, size_t len);

#endif
