/* auth_msg - authenticated datagrams between CRAFT hosts (splice replication,
 * load-balancer heartbeats, logger/recovery control), one format for all.
 *
 * Why: every message that changes how packets are rewritten or where they
 * go must come from a host holding the cluster's shared key, exactly once,
 * and recently. A forged, replayed, truncated or garbage datagram is
 * refused with a counted reason and never reaches the caller.
 *
 * Wire format (big endian, 40-byte header, body, 32-byte tag):
 *
 *   0  u32 magic "CRFT"     4  u8 version (1)   5  u8 reserved (0)
 *   6  u16 type             8  u32 sender id   12  u64 epoch
 *  20  u64 seq             28  u64 timestamp (sender's wall clock, ms)
 *  36  u32 body length     40  body            40+len  HMAC-SHA256 tag
 *
 * The tag (libsodium crypto_auth_hmacsha256, verified in constant time)
 * covers every byte before it, so the type, the sender and the counters
 * are authenticated too. Users split the type space: 0x01xx splice
 * replication, 0x02xx heartbeats, 0x03xx logger/recovery control.
 *
 * Replay protection. A sender numbers its messages seq = 1, 2, ... within an
 * epoch; the epoch is fixed when the sender starts (default: its wall clock
 * in microseconds), so a restarted sender has a higher epoch. The receiver
 * keeps per sender the epoch, the highest seq seen and a 64-entry bitmap
 * below it (the IPsec sliding window, RFC 4303 3.4.3):
 *   - higher epoch: the sender restarted; the window is reset (counted);
 *   - same epoch: seq above the top slides the window; a seq inside the
 *     window is accepted once; a seq 64 or more below the top is a replay;
 *   - lower epoch: a replay of an older incarnation, refused.
 * Independently every message must be fresh: |receiver clock - timestamp|
 * within max_age (past) / max_future (ahead), so hosts need clocks synced
 * to well within max_age (NTP). Freshness is what bounds the receiver's
 * memory: a sender silent for more than max_age has only stale messages in
 * flight, so its window may be forgotten (its slot reused when the table is
 * full, and then any epoch is accepted again: this also lets a sender whose
 * clock stepped back across a restart return after max_age of silence).
 * The one window a receiver cannot close: after the receiver itself
 * restarts it has no windows, so a message captured less than max_age ago
 * is accepted once more. Keep max_age short and make messages idempotent
 * (the splice messages are).
 *
 * Only the window update happens after the tag verified; nothing of an
 * unauthenticated message changes receiver state except the counters.
 */
#ifndef CRAFT_AUTH_MSG_H
#define CRAFT_AUTH_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct stats_report;

#define AUTH_MSG_MAGIC	    0x43524654u /* "CRFT" */
#define AUTH_MSG_VERSION    1
#define AUTH_MSG_HEADER_LEN 40
#define AUTH_MSG_TAG_LEN    32
#define AUTH_MSG_OVERHEAD   (AUTH_MSG_HEADER_LEN + AUTH_MSG_TAG_LEN)
/* Largest body: what still fits a UDP datagram with the overhead. */
#define AUTH_MSG_MAX_BODY 65000u
#define AUTH_KEY_LEN	  32
#define AUTH_KEY_HEX_LEN  (2 * AUTH_KEY_LEN)
#define AUTH_WINDOW_SIZE  64

/* Receiver table ceiling and defaults. */
#define AUTH_MAX_SENDERS_LIMIT	   4096u
#define AUTH_DEFAULT_MAX_SENDERS   64u
#define AUTH_DEFAULT_MAX_AGE_MS	   30000u
#define AUTH_DEFAULT_MAX_FUTURE_MS 5000u

struct auth_key {
	uint8_t bytes[AUTH_KEY_LEN];
};

/* Exactly 64 hex digits (either case), optionally surrounded by blanks and
 * line ends. Shorter or longer keys and the all-zero key are refused.
 * 0 or -EINVAL with a message in err (err may be NULL). */
int auth_key_from_hex(struct auth_key *key, const char *hex, char *err, size_t errlen);
/* Reads a file holding one such key. 0, -EINVAL (content) or -errno. A
 * file readable by group or others is accepted with a warning in the log. */
int auth_key_load_file(const char *path, struct auth_key *key, char *err, size_t errlen);
/* Zeroes the key in a way the compiler cannot drop. */
void auth_key_wipe(struct auth_key *key);

/* Constant-time comparison of two tags (crypto_verify_32). */
bool auth_tag_equal(const uint8_t a[AUTH_MSG_TAG_LEN], const uint8_t b[AUTH_MSG_TAG_LEN]);

/* One sending identity. Not locked: one per thread. */
struct auth_sender {
	uint32_t id;
	uint64_t epoch;
	uint64_t next_seq; /* starts at 1 */
};

/* epoch 0 picks the wall clock in microseconds (later than any previous
 * start of this sender as long as the clock does not step back). */
void auth_sender_init(struct auth_sender *s, uint32_t id, uint64_t epoch);

/* Writes header, body and tag into out. Returns the message length, or
 * -EMSGSIZE (body over AUTH_MSG_MAX_BODY), -ENOSPC (cap too small),
 * -EOVERFLOW (sequence numbers exhausted). The _at form takes the wall
 * clock in ms (tests); the plain form reads it. */
ssize_t auth_msg_seal(struct auth_sender *s, const struct auth_key *key, uint16_t type,
		      const void *body, size_t len, void *out, size_t cap);
ssize_t auth_msg_seal_at(struct auth_sender *s, const struct auth_key *key, uint16_t type,
			 const void *body, size_t len, void *out, size_t cap, uint64_t now_ms);

/* Rejection reasons, all negative; index counters with -code. */
enum auth_result {
	AUTH_OK = 0,
	AUTH_E_TOO_SHORT = -1,	    /* shorter than header + tag */
	AUTH_E_BAD_MAGIC = -2,	    /* magic, version or reserved byte */
	AUTH_E_BAD_LENGTH = -3,	    /* body length disagrees with the datagram */
	AUTH_E_BAD_TAG = -4,	    /* forged, corrupted or another key */
	AUTH_E_REPLAY = -5,	    /* seen, below the window, or an older epoch */
	AUTH_E_TOO_OLD = -6,	    /* timestamp older than max_age */
	AUTH_E_FUTURE = -7,	    /* timestamp more than max_future ahead */
	AUTH_E_UNKNOWN_SENDER = -8, /* not on the allow-list */
	AUTH_E_TABLE_FULL = -9,	    /* no room for a new sender's window */
	AUTH_NRESULTS = 10	    /* number of codes including AUTH_OK */
};

/* "ok", "too_short", "bad_magic", ... (counter names). */
const char *auth_result_name(int code);

struct auth_msg_view {
	uint16_t type;
	uint32_t sender;
	uint64_t epoch, seq;
	uint64_t timestamp_ms;
	const uint8_t *body; /* points into the message */
	size_t body_len;
};

struct auth_receiver_config {
	unsigned max_senders;	/* windows kept (allow-listed ones included) */
	uint64_t max_age_ms;	/* oldest timestamp accepted */
	uint64_t max_future_ms; /* clock skew tolerated ahead of ours */
};

void auth_receiver_config_default(struct auth_receiver_config *cfg);

/* Per-sender replay state. Private to auth_msg.c, public for sizing. */
struct auth_window {
	uint32_t id;
	bool allowed; /* on the allow-list: never reused for another id */
	bool seen;    /* window holds something */
	uint64_t epoch;
	uint64_t top;	  /* highest seq accepted in this epoch */
	uint64_t bitmap;  /* bit i: top - i accepted */
	uint64_t last_ms; /* receiver clock of the last accepted message */
};

struct auth_receiver {
	struct auth_receiver_config cfg;
	struct auth_window *windows;
	unsigned nwindows;		/* slots in use */
	bool allow_list;		/* once an id is allowed, only allowed ids pass */
	uint64_t counts[AUTH_NRESULTS]; /* [0] accepted, [-code] rejected */
	uint64_t epoch_resets;		/* a sender restarted */
	uint64_t forgotten;		/* silent windows reused */
};

/* 0, -EINVAL (max_senders 0 or over the limit), -ENOMEM. */
int auth_receiver_init(struct auth_receiver *r, const struct auth_receiver_config *cfg);
void auth_receiver_free(struct auth_receiver *r);
/* Puts id on the allow-list (and reserves its window). From the first call
 * on, unknown senders are refused. 0, or -ENOSPC when the table is full. */
int auth_receiver_allow(struct auth_receiver *r, uint32_t id);

/* Verifies msg and fills out (which may be NULL). now_ms: the receiver's
 * wall clock in ms. Returns AUTH_OK or a negative enum auth_result, and
 * counts it in r->counts. */
int auth_msg_open(struct auth_receiver *r, const struct auth_key *key, const void *msg, size_t len,
		  uint64_t now_ms, struct auth_msg_view *out);

/* prefix_accepted, prefix_too_short, ..., prefix_epoch_resets, ... */
void auth_receiver_collect_stats(const struct auth_receiver *r, struct stats_report *rep,
				 const char *prefix);

#endif
