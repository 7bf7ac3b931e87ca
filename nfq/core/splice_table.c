/* splice_table - see splice_table.h.
 *
 * Entries live in one slot array and are linked by 32-bit slot indices:
 * three hash chains (client key, backend key, id) and one of two time
 * lists (active by last segment, lingering by close time). Indices instead
 * of pointers keep an entry small and make the slot number a stable cursor.
 * The bucket arrays are powers of two at least as large as the capacity,
 * and the tuple hashes are keyed with a random seed so that clients
 * choosing their ports cannot pile entries into one chain.
 */
#include "splice_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "seq.h"
#include "stats.h"

#define NIL UINT32_MAX

enum { H_CLIENT = 0, H_BACKEND = 1, H_ID = 2, H_COUNT = 3 };
enum { FREE = 0, ON_ACTIVE = 1, ON_LINGER = 2 };

struct slist {
	uint32_t head, tail, count;
};

struct splice_table {
	struct splice_table_config cfg;
	struct splice_table_callbacks cb;
	struct splice_entry *slots;
	uint32_t hwm;	    /* slots [0, hwm) have been used at some point */
	uint32_t free_head; /* free slots below hwm, chained by lnext */
	uint32_t count;
	uint32_t *buckets[H_COUNT];
	uint32_t mask;
	uint64_t seed;
	uint32_t next_counter;
	struct slist lists[3]; /* [ON_ACTIVE], [ON_LINGER] */
	struct splice_table_stats st;
};

static const char *const record_error_names[SPLICE_REC_NERRORS] = {
    "ok", "bad_id", "bad_wscale", "bad_delta", "bad_addr", "bad_state",
};

const char *splice_record_error_name(int code)
{
	if (code > 0 || code <= -SPLICE_REC_NERRORS)
		return "unknown";
	return record_error_names[-code];
}

static bool key_mirrors(const struct splice_key *k, const struct splice_dir *d)
{
	/* d rewrites towards the sender of k: d's source is k's destination. */
	return d->saddr == k->daddr && d->daddr == k->saddr && d->sport == k->dport &&
	       d->dport == k->sport;
}

static bool key_valid(const struct splice_key *k)
{
	return k->saddr && k->daddr && k->sport && k->dport;
}

static bool key_equal(const struct splice_key *a, const struct splice_key *b)
{
	return a->saddr == b->saddr && a->daddr == b->daddr && a->sport == b->sport &&
	       a->dport == b->dport;
}

int splice_record_check(const struct splice_record *rec)
{
	const struct splice_dir *c2b = &rec->dir[SPLICE_C2B], *b2c = &rec->dir[SPLICE_B2C];

	if (rec->id == 0 || (uint32_t)(rec->id >> 32) != rec->creator)
		return SPLICE_REC_EID;
	if (c2b->wscale_from > 14 || c2b->wscale_to > 14 || b2c->wscale_from > 14 ||
	    b2c->wscale_to > 14)
		return SPLICE_REC_EWSCALE;
	if (c2b->ack_delta != (uint32_t)-b2c->seq_delta ||
	    b2c->ack_delta != (uint32_t)-c2b->seq_delta ||
	    c2b->tsecr_delta != (uint32_t)-b2c->tsval_delta ||
	    b2c->tsecr_delta != (uint32_t)-c2b->tsval_delta)
		return SPLICE_REC_EDELTA;
	if (!key_valid(&rec->client_key) || !key_valid(&rec->backend_key) ||
	    !key_mirrors(&rec->client_key, b2c) || !key_mirrors(&rec->backend_key, c2b) ||
	    key_equal(&rec->client_key, &rec->backend_key))
		return SPLICE_REC_EADDR;
	if ((rec->state & ~SPLICE_ST_ALL) || c2b->translate_ts != b2c->translate_ts ||
	    rec->close_reason >= SPLICE_CLOSE_NREASONS ||
	    (rec->close_reason != SPLICE_CLOSE_NONE) != !!(rec->state & SPLICE_ST_CLOSED))
		return SPLICE_REC_ESTATE;
	for (int w = 0; w < 2; w++) {
		uint8_t fin = w == SPLICE_C2B ? SPLICE_ST_FIN_C2B : SPLICE_ST_FIN_B2C;
		uint8_t acked = w == SPLICE_C2B ? SPLICE_ST_FIN_C2B_ACKED : SPLICE_ST_FIN_B2C_ACKED;
		if ((rec->state & acked) && !(rec->state & fin))
			return SPLICE_REC_ESTATE;
		if (!(rec->state & fin) && rec->fin_end[w])
			return SPLICE_REC_ESTATE;
	}
	return SPLICE_REC_OK;
}

void splice_record_from_endpoints(struct splice_record *rec, uint64_t id, uint16_t backend,
				  const struct splice_endpoints *e)
{
	memset(rec, 0, sizeof(*rec));
	rec->id = id;
	rec->gen = 1;
	rec->creator = (uint32_t)(id >> 32);
	rec->backend = backend;
	rec->client_key =
	    (struct splice_key){e->client_addr, e->vip_addr, e->client_port, e->vip_port};
	rec->backend_key =
	    (struct splice_key){e->backend_addr, e->ivip_addr, e->backend_port, e->ivip_port};
	splice_dirs_from_endpoints(e, &rec->dir[SPLICE_C2B], &rec->dir[SPLICE_B2C]);
}

/* ---- hashing ---- */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ull;
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ull;
	x ^= x >> 32;
	return x;
}

static uint64_t tuple_hash64(uint64_t seed, uint32_t saddr, uint16_t sport, uint32_t daddr,
			     uint16_t dport)
{
	uint64_t h = mix64(seed ^ ((uint64_t)saddr << 32 | daddr));
	return mix64(h ^ ((uint64_t)sport << 16 | dport) ^ (seed >> 23));
}

static uint32_t key_bucket(const struct splice_table *t, const struct splice_key *k)
{
	return (uint32_t)tuple_hash64(t->seed, k->saddr, k->sport, k->daddr, k->dport) & t->mask;
}

static uint32_t id_bucket(const struct splice_table *t, uint64_t id)
{
	return (uint32_t)mix64(id ^ t->seed) & t->mask;
}

static uint32_t bucket_of(const struct splice_table *t, int h, const struct splice_entry *e)
{
	if (h == H_CLIENT)
		return key_bucket(t, &e->rec.client_key);
	if (h == H_BACKEND)
		return key_bucket(t, &e->rec.backend_key);
	return id_bucket(t, e->rec.id);
}

static void hash_link(struct splice_table *t, int h, uint32_t idx)
{
	uint32_t b = bucket_of(t, h, &t->slots[idx]);

	t->slots[idx].hnext[h] = t->buckets[h][b];
	t->buckets[h][b] = idx;
}

static void hash_unlink(struct splice_table *t, int h, uint32_t idx)
{
	uint32_t *p = &t->buckets[h][bucket_of(t, h, &t->slots[idx])];

	while (*p != NIL && *p != idx)
		p = &t->slots[*p].hnext[h];
	if (*p == idx)
		*p = t->slots[idx].hnext[h];
}

/* ---- time lists ---- */

static void list_unlink(struct splice_table *t, uint32_t idx)
{
	struct splice_entry *e = &t->slots[idx];
	struct slist *l = &t->lists[e->in_use];

	if (e->lprev != NIL)
		t->slots[e->lprev].lnext = e->lnext;
	else
		l->head = e->lnext;
	if (e->lnext != NIL)
		t->slots[e->lnext].lprev = e->lprev;
	else
		l->tail = e->lprev;
	l->count--;
}

static void list_append(struct splice_table *t, uint32_t idx, uint8_t which)
{
	struct splice_entry *e = &t->slots[idx];
	struct slist *l = &t->lists[which];

	e->in_use = which;
	e->lnext = NIL;
	e->lprev = l->tail;
	if (l->tail != NIL)
		t->slots[l->tail].lnext = idx;
	else
		l->head = idx;
	l->tail = idx;
	l->count++;
}

static uint32_t index_of(const struct splice_table *t, const struct splice_entry *e)
{
	return (uint32_t)(e - t->slots);
}

/* ---- create / destroy ---- */

void splice_table_config_default(struct splice_table_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_entries = SPLICE_TABLE_DEFAULT_MAX;
	cfg->idle_ms = SPLICE_TABLE_DEFAULT_IDLE_MS;
	cfg->linger_ms = SPLICE_TABLE_DEFAULT_LINGER;
}

static uint64_t random64(void)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
		v = (uint64_t)(uintptr_t)&v ^ 0x9e3779b97f4a7c15ull;
	return v;
}

int splice_table_create(struct splice_table **out, const struct splice_table_config *cfg,
			const struct splice_table_callbacks *cb)
{
	if (cfg->max_entries == 0 || cfg->max_entries > SPLICE_TABLE_MAX_LIMIT)
		return -EINVAL;
	struct splice_table *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cfg = *cfg;
	if (cb)
		t->cb = *cb;
	uint32_t nb = 16;
	while (nb < cfg->max_entries)
		nb <<= 1;
	t->mask = nb - 1;
	t->slots = calloc(cfg->max_entries, sizeof(*t->slots));
	for (int h = 0; h < H_COUNT; h++) {
		t->buckets[h] = malloc(nb * sizeof(uint32_t));
		if (t->buckets[h])
			memset(t->buckets[h], 0xff, nb * sizeof(uint32_t));
	}
	if (!t->slots || !t->buckets[0] || !t->buckets[1] || !t->buckets[2]) {
		splice_table_destroy(t);
		return -ENOMEM;
	}
	t->seed = cfg->hash_seed ? cfg->hash_seed : random64();
	t->next_counter = (uint32_t)random64();
	t->free_head = NIL;
	for (int i = 0; i < 3; i++)
		t->lists[i] = (struct slist){NIL, NIL, 0};
	*out = t;
	return 0;
}

static void release(struct splice_table *t, uint32_t idx, enum splice_remove_reason why)
{
	struct splice_entry *e = &t->slots[idx];

	if (t->cb.removed)
		t->cb.removed(t->cb.ctx, e, why);
	for (int h = 0; h < H_COUNT; h++)
		hash_unlink(t, h, idx);
	list_unlink(t, idx);
	memset(e, 0, sizeof(*e));
	e->lnext = t->free_head;
	t->free_head = idx;
	t->count--;
}

void splice_table_destroy(struct splice_table *t)
{
	if (!t)
		return;
	if (t->slots && t->buckets[0] && t->buckets[1] && t->buckets[2])
		for (uint32_t i = 0; i < t->hwm; i++)
			if (t->slots[i].in_use)
				release(t, i, SPLICE_RM_DESTROYED);
	for (int h = 0; h < H_COUNT; h++)
		free(t->buckets[h]);
	free(t->slots);
	free(t);
}

/* ---- lookup ---- */

struct splice_entry *splice_table_find(const struct splice_table *t, uint64_t id)
{
	for (uint32_t i = t->buckets[H_ID][id_bucket(t, id)]; i != NIL; i = t->slots[i].hnext[H_ID])
		if (t->slots[i].rec.id == id)
			return &t->slots[i];
	return NULL;
}

static struct splice_entry *find_key(const struct splice_table *t, int h, uint32_t b,
				     const struct splice_key *k)
{
	for (uint32_t i = t->buckets[h][b]; i != NIL; i = t->slots[i].hnext[h]) {
		const struct splice_record *r = &t->slots[i].rec;
		if (key_equal(h == H_CLIENT ? &r->client_key : &r->backend_key, k))
			return &t->slots[i];
	}
	return NULL;
}

struct splice_entry *splice_table_lookup(const struct splice_table *t, uint32_t saddr,
					 uint16_t sport, uint32_t daddr, uint16_t dport,
					 enum splice_way *way)
{
	struct splice_key k = {saddr, daddr, sport, dport};
	uint32_t b = key_bucket(t, &k);
	struct splice_entry *e = find_key(t, H_CLIENT, b, &k);

	if (e) {
		if (way)
			*way = SPLICE_C2B;
		return e;
	}
	e = find_key(t, H_BACKEND, b, &k);
	if (e && way)
		*way = SPLICE_B2C;
	return e;
}

uint64_t splice_table_new_id(struct splice_table *t)
{
	for (;;) {
		uint32_t c = t->next_counter++;
		uint64_t id = (uint64_t)t->cfg.creator << 32 | c;
		if (id != 0 && !splice_table_find(t, id))
			return id;
	}
}

/* ---- lifecycle ---- */

static void do_close(struct splice_table *t, struct splice_entry *e, enum splice_close_reason why,
		     uint64_t now)
{
	uint32_t idx = index_of(t, e);

	e->rec.state |= SPLICE_ST_CLOSED;
	e->rec.close_reason = (uint8_t)why;
	e->closed_ms = now;
	list_unlink(t, idx);
	list_append(t, idx, ON_LINGER);
	t->st.closed[why]++;
}

bool splice_table_close(struct splice_table *t, struct splice_entry *e,
			enum splice_close_reason why, uint64_t now)
{
	if (e->rec.state & SPLICE_ST_CLOSED)
		return false;
	if (why == SPLICE_CLOSE_NONE || why >= SPLICE_CLOSE_NREASONS)
		why = SPLICE_CLOSE_ADMIN;
	do_close(t, e, why, now);
	return true;
}

void splice_table_touch(struct splice_table *t, struct splice_entry *e, uint64_t now)
{
	e->last_seen_ms = now;
	if (e->in_use == ON_ACTIVE) {
		uint32_t idx = index_of(t, e);
		list_unlink(t, idx);
		list_append(t, idx, ON_ACTIVE);
	}
}

bool splice_table_note(struct splice_table *t, struct splice_entry *e, enum splice_way way,
		       uint8_t tcp_flags, uint32_t seq, uint32_t ack, uint32_t payload_len,
		       uint64_t now)
{
	struct splice_record *r = &e->rec;
	int other = way == SPLICE_C2B ? SPLICE_B2C : SPLICE_C2B;
	const uint8_t fin_bit[2] = {SPLICE_ST_FIN_C2B, SPLICE_ST_FIN_B2C};
	const uint8_t ack_bit[2] = {SPLICE_ST_FIN_C2B_ACKED, SPLICE_ST_FIN_B2C_ACKED};

	splice_table_touch(t, e, now);
	if (r->state & SPLICE_ST_CLOSED)
		return false;
	if (tcp_flags & TCP_FL_RST) {
		r->state |= SPLICE_ST_RST;
		do_close(t, e, SPLICE_CLOSE_RST, now);
		return true;
	}
	if ((tcp_flags & TCP_FL_FIN) && !(r->state & fin_bit[way])) {
		r->state |= fin_bit[way];
		r->fin_end[way] = seq + payload_len + 1;
	}
	/* This ACK, in the numbering of the other direction's sender. */
	if ((tcp_flags & TCP_FL_ACK) && (r->state & fin_bit[other]) &&
	    !(r->state & ack_bit[other]) &&
	    seq_after_eq(ack + r->dir[way].ack_delta, r->fin_end[other]))
		r->state |= ack_bit[other];
	if ((r->state & SPLICE_ST_FIN_C2B_ACKED) && (r->state & SPLICE_ST_FIN_B2C_ACKED)) {
		do_close(t, e, SPLICE_CLOSE_FIN, now);
		return true;
	}
	return false;
}

/* ---- insert / update ---- */

static int alloc_slot(struct splice_table *t, uint32_t *idx)
{
	if (t->count >= t->cfg.max_entries) {
		uint32_t victim = t->lists[ON_LINGER].head;
		if (victim == NIL)
			return -ENOSPC;
		t->st.evicted++;
		release(t, victim, SPLICE_RM_EVICTED);
	}
	if (t->free_head != NIL) {
		*idx = t->free_head;
		t->free_head = t->slots[*idx].lnext;
	} else {
		*idx = t->hwm++;
	}
	return 0;
}

/* Removes whichever other entry holds one of rec's keys. */
static void evict_key_holders(struct splice_table *t, const struct splice_record *rec)
{
	for (int h = H_CLIENT; h <= H_BACKEND; h++) {
		const struct splice_key *k = h == H_CLIENT ? &rec->client_key : &rec->backend_key;
		for (int pass = 0; pass < 2; pass++) {
			/* A key may collide with either key of another entry. */
			int hh = pass == 0 ? H_CLIENT : H_BACKEND;
			struct splice_entry *o = find_key(t, hh, key_bucket(t, k), k);
			if (o && o->rec.id != rec->id) {
				t->st.replaced++;
				release(t, index_of(t, o), SPLICE_RM_REPLACED);
			}
		}
	}
}

static bool content_differs(const struct splice_record *a, const struct splice_record *b)
{
	return a->backend != b->backend || !key_equal(&a->client_key, &b->client_key) ||
	       !key_equal(&a->backend_key, &b->backend_key) ||
	       memcmp(&a->dir[0], &b->dir[0], sizeof(a->dir[0])) != 0 ||
	       memcmp(&a->dir[1], &b->dir[1], sizeof(a->dir[1])) != 0;
}

/* Lifecycle bits accumulate; FIN positions come from whoever saw the FIN. */
static void merge_state(struct splice_record *dst, const struct splice_record *src)
{
	if ((src->state & SPLICE_ST_FIN_C2B) && !(dst->state & SPLICE_ST_FIN_C2B))
		dst->fin_end[SPLICE_C2B] = src->fin_end[SPLICE_C2B];
	if ((src->state & SPLICE_ST_FIN_B2C) && !(dst->state & SPLICE_ST_FIN_B2C))
		dst->fin_end[SPLICE_B2C] = src->fin_end[SPLICE_B2C];
	dst->state |= src->state & (uint8_t)~SPLICE_ST_CLOSED;
}

/* Closes an open entry whose record says it is over: closed there, or the
 * halves of a close seen by different proxies meeting here. */
static void settle(struct splice_table *t, struct splice_entry *e, const struct splice_record *rec,
		   uint64_t now)
{
	if (e->rec.state & SPLICE_ST_CLOSED)
		return;
	if (rec->state & SPLICE_ST_CLOSED)
		do_close(t, e, (enum splice_close_reason)rec->close_reason, now);
	else if (e->rec.state & SPLICE_ST_RST)
		do_close(t, e, SPLICE_CLOSE_RST, now);
	else if ((e->rec.state & SPLICE_ST_FIN_C2B_ACKED) &&
		 (e->rec.state & SPLICE_ST_FIN_B2C_ACKED))
		do_close(t, e, SPLICE_CLOSE_FIN, now);
}

static int update_entry(struct splice_table *t, struct splice_entry *e,
			const struct splice_record *rec, uint64_t now)
{
	uint32_t idx = index_of(t, e);
	uint8_t before = e->rec.state;

	if (rec->gen < e->rec.gen) {
		t->st.stale++;
		return SPLICE_APPLY_STALE;
	}
	bool newer = rec->gen > e->rec.gen;
	bool changed = rec->gen != e->rec.gen || content_differs(&e->rec, rec);
	if (changed) {
		evict_key_holders(t, rec);
		hash_unlink(t, H_CLIENT, idx);
		hash_unlink(t, H_BACKEND, idx);
		e->rec.gen = rec->gen;
		e->rec.backend = rec->backend;
		e->rec.client_key = rec->client_key;
		e->rec.backend_key = rec->backend_key;
		e->rec.dir[0] = rec->dir[0];
		e->rec.dir[1] = rec->dir[1];
		hash_link(t, H_CLIENT, idx);
		hash_link(t, H_BACKEND, idx);
	}
	merge_state(&e->rec, rec);
	if (newer)
		e->rec.state =
		    (uint8_t)((e->rec.state & ~SPLICE_ST_OWED) | (rec->state & SPLICE_ST_OWED));
	settle(t, e, rec, now);
	if (!changed && e->rec.state == before) {
		t->st.duplicates++;
		return SPLICE_APPLY_DUPLICATE;
	}
	t->st.updated++;
	return SPLICE_APPLY_UPDATED;
}

int splice_table_apply(struct splice_table *t, const struct splice_record *rec, uint64_t now,
		       struct splice_entry **out)
{
	if (splice_record_check(rec) != SPLICE_REC_OK) {
		t->st.invalid++;
		return -EINVAL;
	}
	struct splice_entry *e = splice_table_find(t, rec->id);
	if (e) {
		int rc = update_entry(t, e, rec, now);
		if (out)
			*out = rc == SPLICE_APPLY_STALE ? NULL : e;
		return rc;
	}
	evict_key_holders(t, rec);
	uint32_t idx;
	if (alloc_slot(t, &idx) < 0) {
		t->st.full++;
		return -ENOSPC;
	}
	e = &t->slots[idx];
	memset(e, 0, sizeof(*e));
	e->rec = *rec;
	e->rec.state &= (uint8_t)~SPLICE_ST_CLOSED; /* settle() closes it properly */
	e->rec.close_reason = SPLICE_CLOSE_NONE;
	e->created_ms = e->last_seen_ms = now;
	for (int h = 0; h < H_COUNT; h++)
		hash_link(t, h, idx);
	list_append(t, idx, ON_ACTIVE);
	t->count++;
	settle(t, e, rec, now);
	t->st.created++;
	if (out)
		*out = e;
	return SPLICE_APPLY_NEW;
}

/* ---- removal and expiry ---- */

void splice_table_remove(struct splice_table *t, struct splice_entry *e)
{
	t->st.deleted++;
	release(t, index_of(t, e), SPLICE_RM_DELETED);
}

void splice_table_reused(struct splice_table *t, struct splice_entry *e)
{
	t->st.closed[SPLICE_CLOSE_REUSED]++;
	release(t, index_of(t, e), SPLICE_RM_REUSED);
}

int splice_table_delete(struct splice_table *t, uint64_t id)
{
	struct splice_entry *e = splice_table_find(t, id);

	if (!e)
		return -ENOENT;
	splice_table_remove(t, e);
	return 0;
}

unsigned splice_table_expire(struct splice_table *t, uint64_t now)
{
	unsigned n = 0;
	uint32_t i;

	while ((i = t->lists[ON_LINGER].head) != NIL &&
	       t->slots[i].closed_ms + t->cfg.linger_ms <= now) {
		t->st.finished++;
		release(t, i, SPLICE_RM_FINISHED);
		n++;
	}
	while ((i = t->lists[ON_ACTIVE].head) != NIL &&
	       t->slots[i].last_seen_ms + t->cfg.idle_ms <= now) {
		t->st.expired++;
		t->st.closed[SPLICE_CLOSE_IDLE]++;
		release(t, i, SPLICE_RM_IDLE);
		n++;
	}
	return n;
}

struct splice_entry *splice_table_next(const struct splice_table *t, uint32_t *cursor)
{
	for (uint32_t i = *cursor; i < t->hwm; i++) {
		if (t->slots[i].in_use) {
			*cursor = i + 1;
			return &t->slots[i];
		}
	}
	*cursor = t->hwm;
	return NULL;
}

unsigned splice_table_count(const struct splice_table *t)
{
	return t->count;
}

unsigned splice_table_lingering(const struct splice_table *t)
{
	return t->lists[ON_LINGER].count;
}

const struct splice_table_stats *splice_table_stats(const struct splice_table *t)
{
	return &t->st;
}

void splice_table_collect_stats(const struct splice_table *t, struct stats_report *r,
				const char *prefix)
{
	static const char *const closed_names[SPLICE_CLOSE_NREASONS] = {
	    "closed_none", "closed_fin",   "closed_rst",
	    "closed_idle", "closed_admin", "closed_reused"};
	const struct splice_table_stats *s = &t->st;

	stats_add(r, prefix, "entries", t->count);
	stats_add(r, prefix, "lingering", t->lists[ON_LINGER].count);
	stats_add(r, prefix, "created", s->created);
	stats_add(r, prefix, "updated", s->updated);
	stats_add(r, prefix, "duplicates", s->duplicates);
	stats_add(r, prefix, "stale", s->stale);
	stats_add(r, prefix, "invalid", s->invalid);
	stats_add(r, prefix, "full", s->full);
	stats_add(r, prefix, "replaced", s->replaced);
	stats_add(r, prefix, "evicted", s->evicted);
	for (int i = 1; i < SPLICE_CLOSE_NREASONS; i++)
		stats_add(r, prefix, closed_names[i], s->closed[i]);
	stats_add(r, prefix, "finished", s->finished);
	stats_add(r, prefix, "expired", s->expired);
	stats_add(r, prefix, "deleted", s->deleted);
}

/* ---- redirect ---- */

uint32_t splice_owner(const struct splice_key *k, unsigned nproxies)
{
	if (nproxies == 0)
		return 0;
	/* Unseeded on purpose: every proxy must agree. */
	uint64_t key = tuple_hash64(0x6a09e667f3bcc908ull, k->saddr, k->sport, k->daddr, k->dport);
	int64_t b = -1, j = 0;

	/* Jump consistent hash: walk the buckets the key would jump to as the
	 * bucket count grows, keeping the last one below nproxies. */
	while (j < (int64_t)nproxies) {
		b = j;
		key = key * 2862933555777941757ull + 1;
		j = (int64_t)((double)(b + 1) * ((double)(1ll << 31) / (double)((key >> 33) + 1)));
	}
	return (uint32_t)b;
}

uint32_t splice_owner_live(const struct splice_key *k, unsigned nproxies, const bool *live)
{
	uint32_t owner = splice_owner(k, nproxies);
	if (nproxies == 0 || live[owner])
		return owner;
	unsigned nlive = 0;
	for (unsigned i = 0; i < nproxies; i++)
		nlive += live[i];
	if (nlive == 0)
		return owner;
	/* Rehashed: the jump hash over fewer buckets would send every key
	 * of a dead bucket b to the member below b, never spread them. */
	struct splice_key k2 = *k;
	k2.saddr ^= 0x9e3779b9u * (owner + 1);
	uint32_t pick = splice_owner(&k2, nlive);
	for (unsigned i = 0; i < nproxies; i++)
		if (live[i] && pick-- == 0)
			return i;
	return owner;
}
