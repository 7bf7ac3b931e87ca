/* byte_store - see byte_store.h.
 *
 * Layout: each connection has two streams, each a doubly linked list of
 * chunks in offset order (holes between chunks are bytes not held). Every
 * chunk of an open connection is also on the store's age list (allocation
 * order), which is what eviction of open connections' bytes walks; a
 * closed connection's chunks leave the age list and the connection joins
 * the closed list instead, which eviction empties first. */
#include "byte_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

#define CHUNK_MIN_CAP 256u
#define CHUNK_MAX_CAP 65536u
#define TXN_INDEX_MIN 4u

struct bs_chunk {
	struct bs_chunk *prev, *next;	/* stream order */
	struct bs_chunk *aprev, *anext; /* age list (open connections only) */
	struct bs_conn *conn;
	uint8_t dir;
	bool provisional;
	bool on_age;
	uint32_t head; /* bytes dropped from the front by a trim */
	uint32_t len;  /* bytes held, at data + head */
	uint32_t cap;
	uint64_t off; /* stream offset of data[head] */
	uint8_t data[];
};

struct bs_stream {
	struct bs_chunk *first, *last;
	struct bs_chunk *prov_first; /* no provisional chunk before this one */
	uint64_t end;		     /* offset after the last byte appended */
	uint32_t next_cap;
	unsigned nprov;
};

struct bs_conn {
	int64_t conn_id;
	struct bs_conn *hnext;
	struct bs_conn *cprev, *cnext; /* closed list */
	bool closed;
	struct bs_stream s[2];
	struct byte_store_txn *tx; /* ring of tx_cap, oldest at tx_head */
	uint32_t tx_cap, tx_n, tx_head;
};

struct byte_store {
	struct byte_store_config cfg;
	struct bs_conn **buckets;
	uint32_t mask;
	struct bs_chunk *age_head, *age_tail;
	struct bs_conn *closed_head, *closed_tail;
	struct byte_store_stats st;
};

void byte_store_config_default(struct byte_store_config *cfg)
{
	cfg->budget = BYTE_STORE_DEFAULT_BUDGET;
	cfg->buckets = BYTE_STORE_DEFAULT_BUCKETS;
	cfg->txn_index = BYTE_STORE_DEFAULT_TXN_INDEX;
}

int byte_store_create(struct byte_store **out, const struct byte_store_config *cfg)
{
	struct byte_store_config def;
	if (!cfg) {
		byte_store_config_default(&def);
		cfg = &def;
	}
	if (cfg->buckets < 1 || cfg->buckets > BYTE_STORE_MAX_BUCKETS || cfg->txn_index < 1 ||
	    cfg->txn_index > BYTE_STORE_MAX_TXN_INDEX)
		return -EINVAL;
	struct byte_store *bs = calloc(1, sizeof(*bs));
	if (!bs)
		return -ENOMEM;
	bs->cfg = *cfg;
	uint32_t n = 1;
	while (n < cfg->buckets)
		n <<= 1;
	bs->buckets = calloc(n, sizeof(*bs->buckets));
	if (!bs->buckets) {
		free(bs);
		return -ENOMEM;
	}
	bs->mask = n - 1;
	*out = bs;
	return 0;
}

static uint32_t conn_hash(const struct byte_store *bs, int64_t id)
{
	uint64_t x = (uint64_t)id * 0x9e3779b97f4a7c15ull;
	return (uint32_t)(x >> 32) & bs->mask;
}

static struct bs_conn *conn_find(const struct byte_store *bs, int64_t id)
{
	struct bs_conn *c = bs->buckets[conn_hash(bs, id)];
	while (c && c->conn_id != id)
		c = c->hnext;
	return c;
}

static void used_add(struct byte_store *bs, uint64_t n)
{
	bs->st.used += n;
	if (bs->st.used > bs->st.used_max)
		bs->st.used_max = bs->st.used;
}

/* ---- chunks ---- */

static void age_unlink(struct byte_store *bs, struct bs_chunk *k)
{
	if (!k->on_age)
		return;
	if (k->aprev)
		k->aprev->anext = k->anext;
	else
		bs->age_head = k->anext;
	if (k->anext)
		k->anext->aprev = k->aprev;
	else
		bs->age_tail = k->aprev;
	k->aprev = k->anext = NULL;
	k->on_age = false;
}

static void age_append(struct byte_store *bs, struct bs_chunk *k)
{
	k->anext = NULL;
	k->aprev = bs->age_tail;
	if (bs->age_tail)
		bs->age_tail->anext = k;
	else
		bs->age_head = k;
	bs->age_tail = k;
	k->on_age = true;
}

static struct bs_chunk *next_provisional(struct bs_chunk *k)
{
	while (k && !k->provisional)
		k = k->next;
	return k;
}

static void chunk_free(struct byte_store *bs, struct bs_chunk *k)
{
	struct bs_stream *s = &k->conn->s[k->dir];
	if (s->prov_first == k)
		s->prov_first = next_provisional(k->next);
	if (k->prev)
		k->prev->next = k->next;
	else
		s->first = k->next;
	if (k->next)
		k->next->prev = k->prev;
	else
		s->last = k->prev;
	if (k->provisional)
		s->nprov--;
	age_unlink(bs, k);
	bs->st.used -= sizeof(*k) + k->cap;
	bs->st.chunks--;
	free(k);
}

/* A new chunk of cap bytes linked after `after` (NULL: at the front). */
static struct bs_chunk *chunk_new(struct byte_store *bs, struct bs_conn *c, enum bs_dir d,
				  struct bs_chunk *after, uint32_t cap, uint64_t off)
{
	struct bs_chunk *k = malloc(sizeof(*k) + cap);
	if (!k) {
		bs->st.nomem++;
		return NULL;
	}
	memset(k, 0, sizeof(*k));
	k->conn = c;
	k->dir = (uint8_t)d;
	k->cap = cap;
	k->off = off;
	struct bs_stream *s = &c->s[d];
	k->prev = after;
	k->next = after ? after->next : s->first;
	if (k->prev)
		k->prev->next = k;
	else
		s->first = k;
	if (k->next)
		k->next->prev = k;
	else
		s->last = k;
	if (!c->closed)
		age_append(bs, k);
	used_add(bs, sizeof(*k) + cap);
	bs->st.chunks++;
	return k;
}

/* ---- connections ---- */

/* Stream bytes held (for the eviction counters). */
static uint64_t conn_bytes(const struct bs_conn *c)
{
	uint64_t n = 0;
	for (int d = 0; d < 2; d++)
		for (const struct bs_chunk *k = c->s[d].first; k; k = k->next)
			n += k->len;
	return n;
}

static void closed_unlink(struct byte_store *bs, struct bs_conn *c)
{
	if (c->cprev)
		c->cprev->cnext = c->cnext;
	else
		bs->closed_head = c->cnext;
	if (c->cnext)
		c->cnext->cprev = c->cprev;
	else
		bs->closed_tail = c->cprev;
	c->cprev = c->cnext = NULL;
}

static void conn_free(struct byte_store *bs, struct bs_conn *c)
{
	struct bs_conn **pp = &bs->buckets[conn_hash(bs, c->conn_id)];
	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
	if (c->closed) {
		closed_unlink(bs, c);
		bs->st.closed_conns--;
	}
	for (int d = 0; d < 2; d++)
		while (c->s[d].first)
			chunk_free(bs, c->s[d].first);
	bs->st.used -= sizeof(*c) + (uint64_t)c->tx_cap * sizeof(struct byte_store_txn);
	bs->st.conns--;
	free(c->tx);
	free(c);
}

static void enforce_budget(struct byte_store *bs)
{
	while (bs->st.used > bs->cfg.budget) {
		if (bs->closed_head) {
			struct bs_conn *c = bs->closed_head;
			bs->st.evicted_conns++;
			bs->st.evicted_conn_bytes += conn_bytes(c);
			conn_free(bs, c);
		} else if (bs->age_head) {
			struct bs_chunk *k = bs->age_head;
			bs->st.evicted_chunks++;
			bs->st.evicted_chunk_bytes += k->len;
			chunk_free(bs, k);
		} else {
			break; /* only bookkeeping of open connections left */
		}
	}
}

void byte_store_destroy(struct byte_store *bs)
{
	if (!bs)
		return;
	for (uint32_t i = 0; i <= bs->mask; i++)
		while (bs->buckets[i])
			conn_free(bs, bs->buckets[i]);
	free(bs->buckets);
	free(bs);
}

struct bs_conn *byte_store_open(struct byte_store *bs, int64_t conn_id)
{
	struct bs_conn *old = conn_find(bs, conn_id);
	if (old) {
		if (!old->closed)
			return NULL; /* still in use: the caller's conn_ids must be unique */
		conn_free(bs, old);
	}
	struct bs_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		bs->st.nomem++;
		return NULL;
	}
	c->conn_id = conn_id;
	for (int d = 0; d < 2; d++)
		c->s[d].next_cap = CHUNK_MIN_CAP;
	uint32_t h = conn_hash(bs, conn_id);
	c->hnext = bs->buckets[h];
	bs->buckets[h] = c;
	bs->st.conns++;
	used_add(bs, sizeof(*c));
	enforce_budget(bs);
	return c;
}

void byte_store_close(struct byte_store *bs, struct bs_conn *c)
{
	if (!c || c->closed)
		return;
	for (int d = 0; d < 2; d++)
		for (struct bs_chunk *k = c->s[d].first; k; k = k->next)
			age_unlink(bs, k);
	c->closed = true;
	c->cnext = NULL;
	c->cprev = bs->closed_tail;
	if (bs->closed_tail)
		bs->closed_tail->cnext = c;
	else
		bs->closed_head = c;
	bs->closed_tail = c;
	bs->st.closed_conns++;
	enforce_budget(bs);
}

/* ---- writing ---- */

int byte_store_append(struct byte_store *bs, struct bs_conn *c, enum bs_dir d, uint64_t off,
		      const uint8_t *data, size_t len, unsigned flags)
{
	struct bs_stream *s = &c->s[d];
	bool prov = (flags & BS_PROVISIONAL) != 0;

	if (off < s->end) {
		uint64_t k = s->end - off < len ? s->end - off : len;
		bs->st.overlap += k;
		off += k;
		data += k;
		len -= (size_t)k;
	}
	if (len == 0)
		return 0;
	s->end = off + len;
	if (len > bs->cfg.budget) {
		bs->st.too_big++;
		return 0;
	}
	bs->st.appended += len;
	if (prov)
		bs->st.provisional += len;

	struct bs_chunk *t = s->last;
	if (t && t->provisional == prov && t->off + t->len == off && t->head + t->len < t->cap) {
		size_t n = t->cap - t->head - t->len;
		if (n > len)
			n = len;
		memcpy(t->data + t->head + t->len, data, n);
		t->len += (uint32_t)n;
		off += n;
		data += n;
		len -= n;
	}
	int rc = 0;
	while (len > 0) {
		uint32_t cap = s->next_cap;
		if (cap < len)
			cap = len > CHUNK_MAX_CAP ? CHUNK_MAX_CAP : (uint32_t)len;
		struct bs_chunk *k = chunk_new(bs, c, d, s->last, cap, off);
		if (!k) {
			rc = -ENOMEM;
			break;
		}
		if (s->next_cap < CHUNK_MAX_CAP)
			s->next_cap *= 2;
		k->provisional = prov;
		if (prov) {
			s->nprov++;
			if (!s->prov_first)
				s->prov_first = k;
		}
		size_t n = len < cap ? len : cap;
		memcpy(k->data, data, n);
		k->len = (uint32_t)n;
		off += n;
		data += n;
		len -= n;
	}
	enforce_budget(bs);
	return rc;
}

void byte_store_truncate(struct byte_store *bs, struct bs_conn *c, enum bs_dir d, uint64_t from)
{
	struct bs_stream *s = &c->s[d];
	while (s->last && s->last->off >= from) {
		bs->st.truncated += s->last->len;
		chunk_free(bs, s->last);
	}
	struct bs_chunk *k = s->last;
	if (k && k->off + k->len > from) {
		bs->st.truncated += k->off + k->len - from;
		k->len = (uint32_t)(from - k->off);
	}
}

void byte_store_mark_provisional(struct byte_store *bs, struct bs_conn *c, enum bs_dir d,
				 uint64_t from)
{
	struct bs_stream *s = &c->s[d];
	struct bs_chunk *k = s->last;
	while (k && k->off >= from)
		k = k->prev;
	/* k: the last chunk starting before `from`; split it if it holds
	 * bytes at or after `from`. */
	if (k && k->off + k->len > from && !k->provisional) {
		uint32_t keep = (uint32_t)(from - k->off), rest = k->len - keep;
		struct bs_chunk *n = chunk_new(bs, c, d, k, rest, from);
		if (n) {
			memcpy(n->data, k->data + k->head + keep, rest);
			n->len = rest;
			k->len = keep;
		}
	}
	struct bs_chunk *first = NULL;
	for (k = s->last; k && k->off >= from; k = k->prev) {
		if (!k->provisional) {
			k->provisional = true;
			s->nprov++;
		}
		first = k;
	}
	if (first && (!s->prov_first || s->prov_first->off > first->off))
		s->prov_first = first;
	enforce_budget(bs);
}

void byte_store_trim(struct byte_store *bs, struct bs_conn *c, enum bs_dir d, uint64_t upto)
{
	struct bs_stream *s = &c->s[d];
	if (s->nprov == 0)
		return;
	struct bs_chunk *k = s->prov_first ? s->prov_first : next_provisional(s->first);
	struct bs_chunk *left = NULL; /* a provisional chunk trimmed in part */
	while (k && k->off < upto) {
		struct bs_chunk *next = k->next;
		if (k->provisional) {
			uint64_t drop = upto - k->off;
			if (drop >= k->len) {
				bs->st.trimmed += k->len;
				chunk_free(bs, k);
			} else {
				bs->st.trimmed += drop;
				k->head += (uint32_t)drop;
				k->len -= (uint32_t)drop;
				k->off = upto;
				if (!left)
					left = k;
			}
		}
		k = next;
	}
	s->prov_first = left ? left : next_provisional(k);
	if (!s->prov_first && s->nprov)
		s->prov_first = next_provisional(s->first);
}

bool byte_store_has_provisional(const struct bs_conn *c, enum bs_dir d)
{
	return c && c->s[d].nprov > 0;
}

uint64_t byte_store_conn_end(const struct bs_conn *c, enum bs_dir d)
{
	return c->s[d].end;
}

/* ---- reading ---- */

uint64_t byte_store_conn_foreach(const struct bs_conn *c, enum bs_dir d, uint64_t a, uint64_t b,
				 void (*fn)(void *ctx, uint64_t off, const uint8_t *p, size_t n),
				 void *ctx)
{
	if (b <= a)
		return 0;
	uint64_t covered = 0;
	const struct bs_chunk *k = c->s[d].last;
	/* Recent ranges are the common case: walk back to the first chunk
	 * that may hold a, then forward. */
	while (k && k->prev && k->off > a)
		k = k->prev;
	for (; k && k->off < b; k = k->next) {
		uint64_t lo = k->off > a ? k->off : a;
		uint64_t hi = k->off + k->len < b ? k->off + k->len : b;
		if (hi <= lo)
			continue;
		if (fn)
			fn(ctx, lo, k->data + k->head + (lo - k->off), (size_t)(hi - lo));
		covered += hi - lo;
	}
	return (b - a) - covered;
}

struct copy_ctx {
	uint8_t *dst;
	uint64_t a;
};

static void copy_piece(void *ctx, uint64_t off, const uint8_t *p, size_t n)
{
	struct copy_ctx *cc = ctx;
	memcpy(cc->dst + (off - cc->a), p, n);
}

int byte_store_read(struct byte_store *bs, int64_t conn_id, enum bs_dir d, uint64_t a, uint64_t b,
		    uint8_t *dst)
{
	if (b < a)
		return -EINVAL;
	bs->st.reads++;
	const struct bs_conn *c = conn_find(bs, conn_id);
	if (!c || byte_store_conn_foreach(c, d, a, b, NULL, NULL) != 0) {
		bs->st.read_misses++;
		return -ENOENT;
	}
	struct copy_ctx cc = {dst, a};
	byte_store_conn_foreach(c, d, a, b, copy_piece, &cc);
	return 0;
}

int byte_store_held_until(struct byte_store *bs, int64_t conn_id, enum bs_dir d, uint64_t a,
			  uint64_t *end)
{
	const struct bs_conn *c = conn_find(bs, conn_id);
	if (!c)
		return -ENOENT;
	const struct bs_chunk *k = c->s[d].last;
	while (k && k->prev && k->off > a)
		k = k->prev;
	uint64_t e = a;
	for (; k && k->off <= e; k = k->next)
		if (k->off + k->len > e)
			e = k->off + k->len;
	*end = e;
	return 0;
}

/* ---- transaction index ---- */

static struct byte_store_txn *txn_slot(const struct bs_conn *c, uint32_t i)
{
	return &c->tx[(c->tx_head + i) % c->tx_cap];
}

static struct byte_store_txn *txn_find(const struct bs_conn *c, uint32_t ordinal)
{
	for (uint32_t i = c->tx_n; i-- > 0;) {
		struct byte_store_txn *t = txn_slot(c, i);
		if (t->ordinal == ordinal)
			return t;
		if (t->ordinal < ordinal)
			break; /* ordinals only grow */
	}
	return NULL;
}

int byte_store_txn_put(struct byte_store *bs, struct bs_conn *c, const struct byte_store_txn *t)
{
	struct byte_store_txn *slot = c->tx_n ? txn_find(c, t->ordinal) : NULL;
	if (slot) {
		*slot = *t;
		return 0;
	}
	if (c->tx_n == c->tx_cap && c->tx_cap < bs->cfg.txn_index) {
		uint32_t cap = c->tx_cap ? c->tx_cap * 2 : TXN_INDEX_MIN;
		if (cap > bs->cfg.txn_index)
			cap = bs->cfg.txn_index;
		struct byte_store_txn *n = malloc((size_t)cap * sizeof(*n));
		if (!n) {
			bs->st.nomem++;
			return -ENOMEM;
		}
		for (uint32_t i = 0; i < c->tx_n; i++)
			n[i] = *txn_slot(c, i);
		free(c->tx);
		used_add(bs, (uint64_t)(cap - c->tx_cap) * sizeof(*n));
		c->tx = n;
		c->tx_cap = cap;
		c->tx_head = 0;
	}
	if (c->tx_n == c->tx_cap) {
		c->tx_head = (c->tx_head + 1) % c->tx_cap;
		c->tx_n--;
		bs->st.index_drops++;
	}
	*txn_slot(c, c->tx_n) = *t;
	c->tx_n++;
	enforce_budget(bs);
	return 0;
}

int byte_store_txn_get(struct byte_store *bs, int64_t conn_id, uint32_t ordinal,
		       struct byte_store_txn *out)
{
	const struct bs_conn *c = conn_find(bs, conn_id);
	const struct byte_store_txn *t = c && c->tx_n ? txn_find(c, ordinal) : NULL;
	if (!t)
		return -ENOENT;
	*out = *t;
	return 0;
}

int byte_store_request(struct byte_store *bs, int64_t conn_id, uint32_t ordinal, uint8_t *dst,
		       size_t cap, size_t *len)
{
	struct byte_store_txn t;
	int rc = byte_store_txn_get(bs, conn_id, ordinal, &t);
	if (rc < 0)
		return rc;
	if (!(t.flags & BS_TXN_REQ_DONE) || (t.flags & BS_TXN_REQ_HASHED))
		return -ENOENT;
	*len = (size_t)(t.req_end - t.req_start);
	if (cap < *len)
		return -ENOSPC;
	return byte_store_read(bs, conn_id, BS_REQ, t.req_start, t.req_end, dst);
}

/* ---- counters ---- */

struct byte_store_stats byte_store_get_stats(const struct byte_store *bs)
{
	return bs->st;
}

void byte_store_collect_stats(const struct byte_store *bs, struct stats_report *r,
			      const char *prefix)
{
	const struct byte_store_stats *s = &bs->st;
	stats_add(r, prefix, "used", s->used);
	stats_add(r, prefix, "used_max", s->used_max);
	stats_add(r, prefix, "conns", s->conns);
	stats_add(r, prefix, "closed_conns", s->closed_conns);
	stats_add(r, prefix, "appended", s->appended);
	stats_add(r, prefix, "trimmed", s->trimmed);
	stats_add(r, prefix, "evicted_conns", s->evicted_conns);
	stats_add(r, prefix, "evicted_chunks", s->evicted_chunks);
	stats_add(r, prefix, "evicted_bytes", s->evicted_conn_bytes + s->evicted_chunk_bytes);
	stats_add(r, prefix, "nomem", s->nomem);
	stats_add(r, prefix, "read_misses", s->read_misses);
}
