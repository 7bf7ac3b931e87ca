/* splice_msg - the wire encoding of splice state between hosts.
 *
 * These are the bodies of auth_msg datagrams (the auth layer carries the
 * type, the sender and the integrity); this module only turns records into
 * bytes and back. Every field is written one by one, big endian, at a fixed
 * offset (never a memcpy of a struct, so padding, byte order and compiler
 * layout never leak onto the wire), and decoding is strict: exact lengths,
 * reserved bytes zero, booleans 0 or 1, every record passing
 * splice_record_check. A message is accepted whole or not at all, so an
 * accepted body re-encodes to exactly the same bytes.
 *
 * Body layout: a 4-byte prefix (u8 version = 1, u8 reserved = 0, u16 count)
 * then per type:
 *
 *   ADD           count records                      (count >= 1)
 *   DEL           count deletions                    (count >= 1)
 *   TOUCH         count u64 splice ids               (count >= 1)
 *   SYNC_REQUEST  u32 sync id                        (count = 0)
 *   SYNC_DATA     u32 sync id, u32 chunk, count records (count >= 1)
 *   SYNC_END      u32 sync id, u32 chunks, u32 records  (count = 0)
 *
 * Record (114 bytes): u64 id, u32 gen, u32 creator, u16 backend, u8 state,
 * u8 close reason, client key, backend key (each u32 saddr, u32 daddr,
 * u16 sport, u16 dport), dir c2b, dir b2c (each u32 saddr, u32 daddr,
 * u16 sport, u16 dport, u32 seq_delta, ack_delta, tsval_delta,
 * tsecr_delta, u8 wscale_from, u8 wscale_to, u8 translate_ts), u32 fin_end
 * c2b, u32 fin_end b2c.
 * Deletion (33 bytes): u64 id, client key, backend key, u8 reason.
 *
 * A newer version adds types or appends fields behind a new version byte;
 * a receiver refuses versions it does not know (counted), so mixed
 * versions fail loudly instead of misreading each other.
 */
#ifndef CRAFT_SPLICE_MSG_H
#define CRAFT_SPLICE_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "splice_table.h"

#define SPLICE_MSG_VERSION 1

/* auth_msg types (the 0x01xx range belongs to splice replication). */
enum splice_msg_type {
	SPLICE_MSG_ADD = 0x0101,
	SPLICE_MSG_DEL = 0x0102,
	SPLICE_MSG_TOUCH = 0x0103,
	SPLICE_MSG_SYNC_REQUEST = 0x0104,
	SPLICE_MSG_SYNC_DATA = 0x0105,
	SPLICE_MSG_SYNC_END = 0x0106,
};

#define SPLICE_MSG_PREFIX_LEN 4
#define SPLICE_MSG_RECORD_LEN 114
#define SPLICE_MSG_DEL_LEN    33
#define SPLICE_MSG_TOUCH_LEN  8

/* A deletion: which splice, its keys (so a receiver that lost the ADD
 * still recognises a stale entry on those tuples) and why. */
struct splice_del {
	uint64_t id;
	struct splice_key client_key, backend_key;
	uint8_t reason; /* enum splice_close_reason, not NONE */
};

/* Decoding errors, all negative; index counters with -code. */
enum splice_msg_error {
	SPLICE_MSG_OK = 0,
	SPLICE_MSG_E_SHORT = -1,    /* shorter than its type's fixed part */
	SPLICE_MSG_E_VERSION = -2,  /* unknown version */
	SPLICE_MSG_E_TYPE = -3,	    /* not a splice message type */
	SPLICE_MSG_E_LENGTH = -4,   /* count disagrees with the length */
	SPLICE_MSG_E_COUNT = -5,    /* zero items where one is needed, or items where none */
	SPLICE_MSG_E_RESERVED = -6, /* reserved byte set, boolean not 0/1 */
	SPLICE_MSG_E_ID = -7,	    /* record/deletion/touch id invalid */
	SPLICE_MSG_E_WSCALE = -8,   /* window scale above 14 */
	SPLICE_MSG_E_DELTA = -9,    /* deltas inconsistent between directions */
	SPLICE_MSG_E_ADDR = -10,    /* keys and directions disagree */
	SPLICE_MSG_E_STATE = -11,   /* lifecycle bits / close reason inconsistent */
	SPLICE_MSG_E_REASON = -12,  /* deletion reason out of range */
	SPLICE_MSG_NERRORS = 13
};

const char *splice_msg_error_name(int code);
/* "add", "del", ... or "unknown". */
const char *splice_msg_type_name(uint16_t type);

/* Appends items to one body. Not for SYNC_REQUEST / SYNC_END. */
struct splice_msg_builder {
	uint8_t *buf;
	size_t cap, len;
	uint16_t type;
	uint16_t count;
};

/* 0, -EINVAL (type takes no items), -ENOSPC (cap below the fixed part). */
int splice_msg_begin(struct splice_msg_builder *b, void *buf, size_t cap, uint16_t type,
		     uint32_t sync_id, uint32_t chunk);
/* 0, -ENOSPC (no room: finish and start another), -EINVAL (record fails
 * splice_record_check, or the builder's type takes other items). */
int splice_msg_add_record(struct splice_msg_builder *b, const struct splice_record *rec);
int splice_msg_add_del(struct splice_msg_builder *b, const struct splice_del *d);
int splice_msg_add_touch(struct splice_msg_builder *b, uint64_t id);
/* Body length (count written into the prefix). */
size_t splice_msg_finish(struct splice_msg_builder *b);

ssize_t splice_msg_encode_sync_request(void *buf, size_t cap, uint32_t sync_id);
ssize_t splice_msg_encode_sync_end(void *buf, size_t cap, uint32_t sync_id, uint32_t chunks,
				   uint32_t records);

/* How many records fit a body of body_cap bytes (0 if none). */
unsigned splice_msg_records_per_body(size_t body_cap, uint16_t type);

/* A decoded, fully validated body; items are read with the _at functions
 * below (which cannot fail for i < count). */
struct splice_msg_view {
	uint16_t type;
	uint16_t count;
	uint32_t sync_id;
	uint32_t chunk;	  /* SYNC_DATA */
	uint32_t chunks;  /* SYNC_END */
	uint32_t records; /* SYNC_END */
	const uint8_t *items;
};

/* SPLICE_MSG_OK or a negative enum splice_msg_error. */
int splice_msg_decode(uint16_t type, const void *body, size_t len, struct splice_msg_view *v);
void splice_msg_record_at(const struct splice_msg_view *v, unsigned i, struct splice_record *out);
void splice_msg_del_at(const struct splice_msg_view *v, unsigned i, struct splice_del *out);
uint64_t splice_msg_touch_at(const struct splice_msg_view *v, unsigned i);

#endif
