/* splice_msg - see splice_msg.h.
 *
 * Encoding and decoding walk the same field list in the same order (the
 * put_* / get_* pairs below), which is what keeps the two in step; the
 * unit tests and the fuzzer check that every accepted body re-encodes to
 * the same bytes.
 */
#include "splice_msg.h"

#include <errno.h>
#include <string.h>

#include "packet.h"

static const char *const error_names[SPLICE_MSG_NERRORS] = {
    "ok",     "short",	"version", "type", "length", "count",  "reserved",
    "bad_id", "wscale", "delta",   "addr", "state",  "reason",
};

const char *splice_msg_error_name(int code)
{
	if (code > 0 || code <= -SPLICE_MSG_NERRORS)
		return "unknown";
	return error_names[-code];
}

const char *splice_msg_type_name(uint16_t type)
{
	switch (type) {
	case SPLICE_MSG_ADD:
		return "add";
	case SPLICE_MSG_DEL:
		return "del";
	case SPLICE_MSG_TOUCH:
		return "touch";
	case SPLICE_MSG_SYNC_REQUEST:
		return "sync_request";
	case SPLICE_MSG_SYNC_DATA:
		return "sync_data";
	case SPLICE_MSG_SYNC_END:
		return "sync_end";
	default:
		return "unknown";
	}
}

/* Bytes before the first item, per type; 0 for a foreign type. */
static size_t fixed_len(uint16_t type)
{
	switch (type) {
	case SPLICE_MSG_ADD:
	case SPLICE_MSG_DEL:
	case SPLICE_MSG_TOUCH:
		return SPLICE_MSG_PREFIX_LEN;
	case SPLICE_MSG_SYNC_REQUEST:
		return SPLICE_MSG_PREFIX_LEN + 4;
	case SPLICE_MSG_SYNC_DATA:
		return SPLICE_MSG_PREFIX_LEN + 8;
	case SPLICE_MSG_SYNC_END:
		return SPLICE_MSG_PREFIX_LEN + 12;
	default:
		return 0;
	}
}

/* Size of one item; 0 for types without items. */
static size_t item_len(uint16_t type)
{
	switch (type) {
	case SPLICE_MSG_ADD:
	case SPLICE_MSG_SYNC_DATA:
		return SPLICE_MSG_RECORD_LEN;
	case SPLICE_MSG_DEL:
		return SPLICE_MSG_DEL_LEN;
	case SPLICE_MSG_TOUCH:
		return SPLICE_MSG_TOUCH_LEN;
	default:
		return 0;
	}
}

/* ---- field writers / readers: a cursor over a buffer of known size ---- */

static uint8_t *put8(uint8_t *p, uint8_t v)
{
	*p = v;
	return p + 1;
}

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	pkt_store_be16(p, v);
	return p + 2;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	pkt_store_be32(p, v);
	return p + 4;
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
	return put32(put32(p, (uint32_t)(v >> 32)), (uint32_t)v);
}

static const uint8_t *get8(const uint8_t *p, uint8_t *v)
{
	*v = *p;
	return p + 1;
}

static const uint8_t *get16(const uint8_t *p, uint16_t *v)
{
	*v = pkt_load_be16(p);
	return p + 2;
}

static const uint8_t *get32(const uint8_t *p, uint32_t *v)
{
	*v = pkt_load_be32(p);
	return p + 4;
}

static const uint8_t *get64(const uint8_t *p, uint64_t *v)
{
	uint32_t hi, lo;

	p = get32(get32(p, &hi), &lo);
	*v = (uint64_t)hi << 32 | lo;
	return p;
}

static uint8_t *put_key(uint8_t *p, const struct splice_key *k)
{
	return put16(put16(put32(put32(p, k->saddr), k->daddr), k->sport), k->dport);
}

static const uint8_t *get_key(const uint8_t *p, struct splice_key *k)
{
	return get16(get16(get32(get32(p, &k->saddr), &k->daddr), &k->sport), &k->dport);
}

static uint8_t *put_dir(uint8_t *p, const struct splice_dir *d)
{
	p = put16(put16(put32(put32(p, d->saddr), d->daddr), d->sport), d->dport);
	p = put32(put32(put32(put32(p, d->seq_delta), d->ack_delta), d->tsval_delta),
		  d->tsecr_delta);
	return put8(put8(put8(p, d->wscale_from), d->wscale_to), d->translate_ts ? 1 : 0);
}

/* *ts_byte gets the raw boolean so the caller can insist on 0 or 1. */
static const uint8_t *get_dir(const uint8_t *p, struct splice_dir *d, uint8_t *ts_byte)
{
	p = get16(get16(get32(get32(p, &d->saddr), &d->daddr), &d->sport), &d->dport);
	p = get32(get32(get32(get32(p, &d->seq_delta), &d->ack_delta), &d->tsval_delta),
		  &d->tsecr_delta);
	p = get8(get8(get8(p, &d->wscale_from), &d->wscale_to), ts_byte);
	d->translate_ts = *ts_byte != 0;
	return p;
}

static void put_record(uint8_t *p, const struct splice_record *r)
{
	p = put64(p, r->id);
	p = put32(put32(p, r->gen), r->creator);
	p = put8(put8(put16(p, r->backend), r->state), r->close_reason);
	p = put_key(put_key(p, &r->client_key), &r->backend_key);
	p = put_dir(put_dir(p, &r->dir[SPLICE_C2B]), &r->dir[SPLICE_B2C]);
	put32(put32(p, r->fin_end[SPLICE_C2B]), r->fin_end[SPLICE_B2C]);
}

/* Returns a splice_msg_error; fills *r either way. */
static int get_record(const uint8_t *p, struct splice_record *r)
{
	uint8_t ts[2];

	memset(r, 0, sizeof(*r));
	p = get64(p, &r->id);
	p = get32(get32(p, &r->gen), &r->creator);
	p = get8(get8(get16(p, &r->backend), &r->state), &r->close_reason);
	p = get_key(get_key(p, &r->client_key), &r->backend_key);
	p = get_dir(get_dir(p, &r->dir[SPLICE_C2B], &ts[0]), &r->dir[SPLICE_B2C], &ts[1]);
	get32(get32(p, &r->fin_end[SPLICE_C2B]), &r->fin_end[SPLICE_B2C]);
	if (ts[0] > 1 || ts[1] > 1)
		return SPLICE_MSG_E_RESERVED;
	switch (splice_record_check(r)) {
	case SPLICE_REC_OK:
		return SPLICE_MSG_OK;
	case SPLICE_REC_EID:
		return SPLICE_MSG_E_ID;
	case SPLICE_REC_EWSCALE:
		return SPLICE_MSG_E_WSCALE;
	case SPLICE_REC_EDELTA:
		return SPLICE_MSG_E_DELTA;
	case SPLICE_REC_EADDR:
		return SPLICE_MSG_E_ADDR;
	default:
		return SPLICE_MSG_E_STATE;
	}
}

static bool del_key_valid(const struct splice_key *k)
{
	return k->saddr && k->daddr && k->sport && k->dport;
}

static int check_del(const struct splice_del *d)
{
	if (d->id == 0)
		return SPLICE_MSG_E_ID;
	if (!del_key_valid(&d->client_key) || !del_key_valid(&d->backend_key))
		return SPLICE_MSG_E_ADDR;
	if (d->reason == SPLICE_CLOSE_NONE || d->reason >= SPLICE_CLOSE_NREASONS)
		return SPLICE_MSG_E_REASON;
	return SPLICE_MSG_OK;
}

static void put_del(uint8_t *p, const struct splice_del *d)
{
	put8(put_key(put_key(put64(p, d->id), &d->client_key), &d->backend_key), d->reason);
}

static void get_del(const uint8_t *p, struct splice_del *d)
{
	get8(get_key(get_key(get64(p, &d->id), &d->client_key), &d->backend_key), &d->reason);
}

/* ---- encoding ---- */

int splice_msg_begin(struct splice_msg_builder *b, void *buf, size_t cap, uint16_t type,
		     uint32_t sync_id, uint32_t chunk)
{
	if (item_len(type) == 0)
		return -EINVAL;
	size_t fixed = fixed_len(type);
	if (cap < fixed)
		return -ENOSPC;
	b->buf = buf;
	b->cap = cap;
	b->type = type;
	b->count = 0;
	uint8_t *p = put16(put8(put8(b->buf, SPLICE_MSG_VERSION), 0), 0);
	if (type == SPLICE_MSG_SYNC_DATA)
		put32(put32(p, sync_id), chunk);
	b->len = fixed;
	return 0;
}

static uint8_t *reserve(struct splice_msg_builder *b, uint16_t type_a, uint16_t type_b, size_t n,
			int *rc)
{
	if (b->type != type_a && b->type != type_b) {
		*rc = -EINVAL;
		return NULL;
	}
	if (b->cap - b->len < n || b->count == UINT16_MAX) {
		*rc = -ENOSPC;
		return NULL;
	}
	uint8_t *p = b->buf + b->len;
	b->len += n;
	b->count++;
	*rc = 0;
	return p;
}

int splice_msg_add_record(struct splice_msg_builder *b, const struct splice_record *rec)
{
	int rc;

	if (splice_record_check(rec) != SPLICE_REC_OK)
		return -EINVAL;
	uint8_t *p = reserve(b, SPLICE_MSG_ADD, SPLICE_MSG_SYNC_DATA, SPLICE_MSG_RECORD_LEN, &rc);
	if (p)
		put_record(p, rec);
	return rc;
}

int splice_msg_add_del(struct splice_msg_builder *b, const struct splice_del *d)
{
	int rc;

	if (check_del(d) != SPLICE_MSG_OK)
		return -EINVAL;
	uint8_t *p = reserve(b, SPLICE_MSG_DEL, SPLICE_MSG_DEL, SPLICE_MSG_DEL_LEN, &rc);
	if (p)
		put_del(p, d);
	return rc;
}

int splice_msg_add_touch(struct splice_msg_builder *b, uint64_t id)
{
	int rc;

	if (id == 0)
		return -EINVAL;
	uint8_t *p = reserve(b, SPLICE_MSG_TOUCH, SPLICE_MSG_TOUCH, SPLICE_MSG_TOUCH_LEN, &rc);
	if (p)
		put64(p, id);
	return rc;
}

size_t splice_msg_finish(struct splice_msg_builder *b)
{
	put16(b->buf + 2, b->count);
	return b->len;
}

ssize_t splice_msg_encode_sync_request(void *buf, size_t cap, uint32_t sync_id)
{
	if (cap < fixed_len(SPLICE_MSG_SYNC_REQUEST))
		return -ENOSPC;
	put32(put16(put8(put8(buf, SPLICE_MSG_VERSION), 0), 0), sync_id);
	return (ssize_t)fixed_len(SPLICE_MSG_SYNC_REQUEST);
}

ssize_t splice_msg_encode_sync_end(void *buf, size_t cap, uint32_t sync_id, uint32_t chunks,
				   uint32_t records)
{
	if (cap < fixed_len(SPLICE_MSG_SYNC_END))
		return -ENOSPC;
	uint8_t *p = put16(put8(put8(buf, SPLICE_MSG_VERSION), 0), 0);
	put32(put32(put32(p, sync_id), chunks), records);
	return (ssize_t)fixed_len(SPLICE_MSG_SYNC_END);
}

unsigned splice_msg_records_per_body(size_t body_cap, uint16_t type)
{
	size_t fixed = fixed_len(type), item = item_len(type);

	if (item == 0 || body_cap < fixed)
		return 0;
	size_t n = (body_cap - fixed) / item;
	return n > UINT16_MAX ? UINT16_MAX : (unsigned)n;
}

/* ---- decoding ---- */

static int check_items(const struct splice_msg_view *v)
{
	size_t item = item_len(v->type);

	for (unsigned i = 0; i < v->count; i++) {
		const uint8_t *p = v->items + (size_t)i * item;
		int rc = SPLICE_MSG_OK;
		if (v->type == SPLICE_MSG_ADD || v->type == SPLICE_MSG_SYNC_DATA) {
			struct splice_record r;
			rc = get_record(p, &r);
		} else if (v->type == SPLICE_MSG_DEL) {
			struct splice_del d;
			get_del(p, &d);
			rc = check_del(&d);
		} else {
			uint64_t id;
			get64(p, &id);
			rc = id ? SPLICE_MSG_OK : SPLICE_MSG_E_ID;
		}
		if (rc != SPLICE_MSG_OK)
			return rc;
	}
	return SPLICE_MSG_OK;
}

int splice_msg_decode(uint16_t type, const void *body, size_t len, struct splice_msg_view *v)
{
	const uint8_t *b = body;
	size_t fixed = fixed_len(type), item = item_len(type);
	uint8_t version, reserved;
	uint16_t count;

	if (fixed == 0)
		return SPLICE_MSG_E_TYPE;
	if (len < fixed)
		return SPLICE_MSG_E_SHORT;
	const uint8_t *p = get16(get8(get8(b, &version), &reserved), &count);
	if (version != SPLICE_MSG_VERSION)
		return SPLICE_MSG_E_VERSION;
	if (reserved != 0)
		return SPLICE_MSG_E_RESERVED;
	if ((item == 0) != (count == 0))
		return SPLICE_MSG_E_COUNT;
	if (len != fixed + (size_t)count * item)
		return SPLICE_MSG_E_LENGTH;

	memset(v, 0, sizeof(*v));
	v->type = type;
	v->count = count;
	if (type == SPLICE_MSG_SYNC_REQUEST)
		get32(p, &v->sync_id);
	else if (type == SPLICE_MSG_SYNC_DATA)
		get32(get32(p, &v->sync_id), &v->chunk);
	else if (type == SPLICE_MSG_SYNC_END)
		get32(get32(get32(p, &v->sync_id), &v->chunks), &v->records);
	v->items = b + fixed;
	return check_items(v);
}

void splice_msg_record_at(const struct splice_msg_view *v, unsigned i, struct splice_record *out)
{
	get_record(v->items + (size_t)i * SPLICE_MSG_RECORD_LEN, out);
}

void splice_msg_del_at(const struct splice_msg_view *v, unsigned i, struct splice_del *out)
{
	get_del(v->items + (size_t)i * SPLICE_MSG_DEL_LEN, out);
}

uint64_t splice_msg_touch_at(const struct splice_msg_view *v, unsigned i)
{
	uint64_t id;

	get64(v->items + (size_t)i * SPLICE_MSG_TOUCH_LEN, &id);
	return id;
}
