// clang-format off
// fuzz-sources: nfq/core/splice_msg.c nfq/core/splice_table.c nfq/core/splice_rewrite.c nfq/core/packet.c nfq/core/checksum.c nfq/core/tcp_options.c nfq/core/auth_msg.c nfq/core/log.c nfq/core/stats.c
// fuzz-libs: -lsodium
// clang-format on
/* libFuzzer target for the replication wire path: splice_msg decoding, the
 * splice table fed with what decodes, and the auth_msg envelope.
 *
 * Each input is used three ways:
 * 1. as a bare body of the message type picked by its first byte: a body
 *    that decodes must hold only records passing splice_record_check and
 *    must re-encode to exactly the same bytes (canonical); its records,
 *    deletions and touches are then applied to a small splice table, after
 *    which every entry must be found by id and by both of its keys, and the
 *    table must stay within its capacity;
 * 2. as a whole datagram to auth_msg_open: it must be refused (the fuzzer
 *    does not know the key), and counted;
 * 3. as a body sealed with the key: it must open unchanged, and a second
 *    open of the same bytes must be refused as a replay.
 * A fourth use builds valid records from the input bytes (so the deep paths
 * are reached without seeds), encodes them, flips one byte chosen by the
 * input and checks property 1 again.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth_msg.h"
#include "splice_msg.h"
#include "splice_table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int cond)
{
	if (!cond)
		abort();
}

static const uint16_t types[] = {
    SPLICE_MSG_ADD,	  SPLICE_MSG_DEL,      SPLICE_MSG_TOUCH, SPLICE_MSG_SYNC_REQUEST,
    SPLICE_MSG_SYNC_DATA, SPLICE_MSG_SYNC_END, 0x0201,
};

static uint8_t scratch[70000];

/* Re-encodes a decoded view into scratch; returns the length. */
static size_t reencode(const struct splice_msg_view *v)
{
	if (v->type == SPLICE_MSG_SYNC_REQUEST)
		return (size_t)splice_msg_encode_sync_request(scratch, sizeof(scratch), v->sync_id);
	if (v->type == SPLICE_MSG_SYNC_END)
		return (size_t)splice_msg_encode_sync_end(scratch, sizeof(scratch), v->sync_id,
							  v->chunks, v->records);
	struct splice_msg_builder b;
	require(splice_msg_begin(&b, scratch, sizeof(scratch), v->type, v->sync_id, v->chunk) == 0);
	for (unsigned i = 0; i < v->count; i++) {
		if (v->type == SPLICE_MSG_DEL) {
			struct splice_del d;
			splice_msg_del_at(v, i, &d);
			require(splice_msg_add_del(&b, &d) == 0);
		} else if (v->type == SPLICE_MSG_TOUCH) {
			require(splice_msg_add_touch(&b, splice_msg_touch_at(v, i)) == 0);
		} else {
			struct splice_record r;
			splice_msg_record_at(v, i, &r);
			require(splice_record_check(&r) == SPLICE_REC_OK);
			require(splice_msg_add_record(&b, &r) == 0);
		}
	}
	return splice_msg_finish(&b);
}

static void check_table(struct splice_table *t)
{
	uint32_t cursor = 0;
	struct splice_entry *e;
	unsigned n = 0;

	while ((e = splice_table_next(t, &cursor)) != NULL) {
		const struct splice_key *c = &e->rec.client_key, *k = &e->rec.backend_key;
		enum splice_way way;
		require(splice_table_find(t, e->rec.id) == e);
		require(splice_table_lookup(t, c->saddr, c->sport, c->daddr, c->dport, &way) == e);
		require(way == SPLICE_C2B);
		/* No other entry holds either key, in either role. */
		require(splice_table_lookup(t, k->saddr, k->sport, k->daddr, k->dport, &way) == e);
		require(way == SPLICE_B2C);
		require(splice_record_check(&e->rec) == SPLICE_REC_OK);
		n++;
	}
	require(n == splice_table_count(t));
	require(n <= 16);
}

static void decode_and_apply(uint16_t type, const uint8_t *body, size_t len)
{
	struct splice_msg_view v;

	if (splice_msg_decode(type, body, len, &v) != SPLICE_MSG_OK)
		return;
	require(reencode(&v) == len);
	require(memcmp(scratch, body, len) == 0);

	struct splice_table_config cfg;
	struct splice_table *t;
	splice_table_config_default(&cfg);
	cfg.max_entries = 16;
	cfg.hash_seed = 1;
	cfg.idle_ms = 100;
	cfg.linger_ms = 50;
	require(splice_table_create(&t, &cfg, NULL) == 0);
	uint64_t now = 0;
	for (unsigned i = 0; i < v.count; i++) {
		now += 7;
		if (v.type == SPLICE_MSG_ADD || v.type == SPLICE_MSG_SYNC_DATA) {
			struct splice_record r;
			splice_msg_record_at(&v, i, &r);
			int rc = splice_table_apply(t, &r, now, NULL);
			require(rc == -ENOSPC ||
				(rc >= SPLICE_APPLY_NEW && rc <= SPLICE_APPLY_STALE));
			/* Applying twice is idempotent. */
			rc = splice_table_apply(t, &r, now, NULL);
			require(rc == -ENOSPC || rc == SPLICE_APPLY_DUPLICATE ||
				rc == SPLICE_APPLY_STALE);
		} else if (v.type == SPLICE_MSG_DEL) {
			struct splice_del d;
			splice_msg_del_at(&v, i, &d);
			struct splice_entry *e = splice_table_find(t, d.id);
			if (e)
				splice_table_close(t, e, (enum splice_close_reason)d.reason, now);
		} else if (v.type == SPLICE_MSG_TOUCH) {
			struct splice_entry *e = splice_table_find(t, splice_msg_touch_at(&v, i));
			if (e)
				splice_table_touch(t, e, now);
		}
		check_table(t);
	}
	splice_table_expire(t, now + 60);
	check_table(t);
	splice_table_expire(t, now + 1000);
	require(splice_table_count(t) == 0);
	splice_table_destroy(t);
}

static void auth_paths(const uint8_t *data, size_t size)
{
	static const struct auth_key key = {.bytes = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}};
	struct auth_receiver rx;
	struct auth_receiver_config cfg;
	struct auth_sender s;
	struct auth_msg_view v;

	auth_receiver_config_default(&cfg);
	require(auth_receiver_init(&rx, &cfg) == 0);
	require(auth_msg_open(&rx, &key, data, size, 5000, &v) < 0);
	auth_sender_init(&s, 42, 1);
	if (size <= sizeof(scratch) - AUTH_MSG_OVERHEAD) {
		ssize_t n =
		    auth_msg_seal_at(&s, &key, 0x0101, data, size, scratch, sizeof(scratch), 5000);
		require(n == (ssize_t)(size + AUTH_MSG_OVERHEAD));
		require(auth_msg_open(&rx, &key, scratch, (size_t)n, 5000, &v) == AUTH_OK);
		require(v.body_len == size && v.sender == 42 && v.seq == 1);
		require(size == 0 || memcmp(v.body, data, size) == 0);
		require(auth_msg_open(&rx, &key, scratch, (size_t)n, 5000, &v) == AUTH_E_REPLAY);
	}
	require(rx.counts[0] <= 1);
	auth_receiver_free(&rx);
}

/* Takes n bytes from the input cursor (zeros once it runs out). */
static uint32_t take(const uint8_t **p, const uint8_t *end, int n)
{
	uint32_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | (*p < end ? *(*p)++ : 0);
	return v;
}

static void structured(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	uint8_t body[2048];
	struct splice_msg_builder b;
	uint16_t type = types[take(&p, end, 1) % 6];
	unsigned count = 1 + take(&p, end, 1) % 8;

	if (type == SPLICE_MSG_SYNC_REQUEST || type == SPLICE_MSG_SYNC_END)
		type = SPLICE_MSG_ADD;
	require(splice_msg_begin(&b, body, sizeof(body), type, take(&p, end, 4),
				 take(&p, end, 4)) == 0);
	for (unsigned i = 0; i < count; i++) {
		struct splice_endpoints e = {
		    .client_addr = take(&p, end, 4) | 1,
		    .vip_addr = 0xc6120a01u,
		    .ivip_addr = 0xc6120b01u,
		    .backend_addr = take(&p, end, 1) | 0xc6120200u,
		    .client_port = (uint16_t)(take(&p, end, 2) | 1),
		    .vip_port = 80,
		    .ivip_port = (uint16_t)(take(&p, end, 2) | 1),
		    .backend_port = 80,
		    .c_rcv_nxt = take(&p, end, 4),
		    .c_snd_nxt = take(&p, end, 4),
		    .b_rcv_nxt = take(&p, end, 4),
		    .b_snd_nxt = take(&p, end, 4),
		    .c_snd_wscale = (uint8_t)(take(&p, end, 1) % 15),
		    .c_rcv_wscale = (uint8_t)(take(&p, end, 1) % 15),
		    .b_snd_wscale = (uint8_t)(take(&p, end, 1) % 15),
		    .b_rcv_wscale = (uint8_t)(take(&p, end, 1) % 15),
		    .c_timestamps = take(&p, end, 1) & 1,
		    .b_timestamps = true,
		    .c_ts_now = take(&p, end, 4),
		    .b_ts_now = take(&p, end, 4),
		};
		struct splice_record r;
		uint32_t creator = take(&p, end, 1);
		splice_record_from_endpoints(&r, (uint64_t)creator << 32 | (take(&p, end, 2) + 1),
					     (uint16_t)take(&p, end, 1), &e);
		r.gen = take(&p, end, 1);
		uint8_t st = (uint8_t)take(&p, end, 1);
		if (st & 1) {
			r.state |= SPLICE_ST_FIN_C2B;
			r.fin_end[SPLICE_C2B] = take(&p, end, 4);
		}
		if ((st & 9) == 9)
			r.state |= SPLICE_ST_FIN_C2B_ACKED;
		if (st & 16) {
			r.state |= SPLICE_ST_FIN_B2C | SPLICE_ST_FIN_B2C_ACKED;
			r.fin_end[SPLICE_B2C] = take(&p, end, 4);
		}
		if (st & 2)
			r.state |= SPLICE_ST_RST;
		if (st & 4) {
			r.state |= SPLICE_ST_CLOSED;
			r.close_reason = (uint8_t)(1 + st % 4);
		}
		require(splice_record_check(&r) == SPLICE_REC_OK);
		if (type == SPLICE_MSG_DEL) {
			struct splice_del d = {r.id, r.client_key, r.backend_key,
					       (uint8_t)(1 + st % 4)};
			require(splice_msg_add_del(&b, &d) == 0);
		} else if (type == SPLICE_MSG_TOUCH) {
			require(splice_msg_add_touch(&b, r.id) == 0);
		} else {
			require(splice_msg_add_record(&b, &r) == 0);
		}
	}
	size_t len = splice_msg_finish(&b);
	struct splice_msg_view v;
	require(splice_msg_decode(type, body, len, &v) == SPLICE_MSG_OK);
	require(v.count == count);
	uint32_t flip = take(&p, end, 2);
	if (flip % 4 != 0) { /* three inputs in four flip a byte */
		body[flip % len] ^= (uint8_t)(take(&p, end, 1) | 1);
	}
	uint8_t *copy = malloc(len);
	require(copy != NULL);
	memcpy(copy, body, len);
	decode_and_apply(type, copy, len);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	/* An exact-size copy so that ASan sees any overread. */
	uint8_t *body = malloc(size - 1 ? size - 1 : 1);
	require(body != NULL);
	memcpy(body, data + 1, size - 1);
	decode_and_apply(types[data[0] % 7], body, size - 1);
	free(body);
	auth_paths(data, size);
	structured(data, size);
	return 0;
}
