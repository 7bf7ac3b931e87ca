/* state_store - see state_store.h for the rules.
 *
 * Layout: fixed pools allocated at init (records, sessions, connections,
 * aids, the early-mark ring), records and sessions found through chained
 * hash tables of indexes, a session's held records in a small array sorted
 * by version. Connections and aids are searched linearly: they are looked
 * at once per message, and their tables are small. Nothing grows after
 * init except the key/blob/aid bytes, which max_bytes bounds. */
#include "state_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "txn_parser.h"

#define NIL UINT32_MAX

const struct config_key state_store_config_keys[] = {
    CONFIG_U32("store", "max_records", struct state_store_config, max_records, 1, 1u << 20),
    CONFIG_SIZE("store", "max_bytes", struct state_store_config, max_bytes, 4096, 1ull << 34),
    CONFIG_U32("store", "max_sessions", struct state_store_config, max_sessions, 1, 1u << 20),
    CONFIG_U32("store", "max_per_session", struct state_store_config, max_per_session, 1, 4096),
    CONFIG_U32("store", "max_conns", struct state_store_config, max_conns, 1, 1u << 20),
    CONFIG_U32("store", "max_aids", struct state_store_config, max_aids, 1, 65536),
    CONFIG_U32("store", "max_early", struct state_store_config, max_early, 1, 1u << 20),
    CONFIG_DURATION_MS("store", "apply_timeout", struct state_store_config, apply_timeout_ms, 0,
		       24ull * 3600 * 1000),
    {0},
};

void state_store_config_default(struct state_store_config *cfg)
{
	*cfg = (struct state_store_config){
	    .max_records = 4096,
	    .max_bytes = 64ull << 20,
	    .max_sessions = 1024,
	    .max_per_session = 64,
	    .max_conns = 4096,
	    .max_aids = 256,
	    .max_early = 1024,
	    .apply_timeout_ms = 30000,
	};
}

static uint32_t hash64(uint64_t v)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdull;
	v ^= v >> 33;
	return (uint32_t)v;
}

static uint32_t hash_key(const uint8_t *k, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ k[i]) * 16777619u;
	return h;
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 16;
	while (p < n && p < (1u << 30))
		p <<= 1;
	return p;
}

static uint64_t conn_of(uint64_t txn)
{
	return txn >> 16;
}

static uint16_t ord_of(uint64_t txn)
{
	return txn_id_ordinal(txn);
}

static uint64_t conn_key(uint32_t ip, uint16_t port)
{
	return (uint64_t)ip << 16 | port;
}

static int vcmp(uint64_t o1, uint64_t s1, uint64_t o2, uint64_t s2)
{
	if (o1 != o2)
		return o1 < o2 ? -1 : 1;
	return s1 < s2 ? -1 : s1 > s2;
}

int state_store_init(struct state_store *st, const struct state_store_config *cfg)
{
	memset(st, 0, sizeof(*st));
	if (!cfg->max_records || !cfg->max_sessions || !cfg->max_per_session || !cfg->max_conns ||
	    !cfg->max_aids || !cfg->max_early || !cfg->max_bytes)
		return -EINVAL;
	st->cfg = *cfg;
	st->nrec_hash = pow2_at_least(cfg->max_records * 2);
	st->nsess_hash = pow2_at_least(cfg->max_sessions * 2);
	st->rec = calloc(cfg->max_records, sizeof(*st->rec));
	st->rec_free = calloc(cfg->max_records, sizeof(*st->rec_free));
	st->rec_hash = malloc(st->nrec_hash * sizeof(*st->rec_hash));
	st->sess = calloc(cfg->max_sessions, sizeof(*st->sess));
	st->sess_hash = malloc(st->nsess_hash * sizeof(*st->sess_hash));
	st->conn = calloc(cfg->max_conns, sizeof(*st->conn));
	st->aid = calloc(cfg->max_aids, sizeof(*st->aid));
	st->early = calloc(cfg->max_early, sizeof(*st->early));
	if (!st->rec || !st->rec_free || !st->rec_hash || !st->sess || !st->sess_hash ||
	    !st->conn || !st->aid || !st->early) {
		state_store_free(st);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < cfg->max_sessions; i++) {
		st->sess[i].rec = calloc(cfg->max_per_session, sizeof(uint32_t));
		if (!st->sess[i].rec) {
			state_store_free(st);
			return -ENOMEM;
		}
	}
	for (uint32_t i = 0; i < cfg->max_records; i++)
		st->rec_free[i] = cfg->max_records - 1 - i;
	st->nrec_free = cfg->max_records;
	memset(st->rec_hash, 0xff, st->nrec_hash * sizeof(*st->rec_hash));
	memset(st->sess_hash, 0xff, st->nsess_hash * sizeof(*st->sess_hash));
	return 0;
}

void state_store_free(struct state_store *st)
{
	if (st->rec)
		for (uint32_t i = 0; i < st->cfg.max_records; i++)
			free(st->rec[i].data);
	if (st->sess)
		for (uint32_t i = 0; i < st->cfg.max_sessions; i++) {
			free(st->sess[i].rec);
			free(st->sess[i].snap);
		}
	if (st->aid)
		for (uint32_t i = 0; i < st->cfg.max_aids; i++)
			free(st->aid[i].data);
	free(st->rec);
	free(st->rec_free);
	free(st->rec_hash);
	free(st->sess);
	free(st->sess_hash);
	free(st->conn);
	free(st->aid);
	free(st->early);
	memset(st, 0, sizeof(*st));
}

/* ---- sessions ---- */

static uint32_t session_find(const struct state_store *st, const uint8_t *key, size_t len)
{
	uint32_t i = st->sess_hash[hash_key(key, len) & (st->nsess_hash - 1)];
	for (; i != NIL; i = st->sess[i].hash_next)
		if (st->sess[i].key_len == len && !memcmp(st->sess[i].key, key, len))
			return i;
	return NIL;
}

static void session_unlink(struct state_store *st, uint32_t idx)
{
	struct ss_session *s = &st->sess[idx];
	uint32_t *p = &st->sess_hash[hash_key(s->key, s->key_len) & (st->nsess_hash - 1)];
	while (*p != NIL && *p != idx)
		p = &st->sess[*p].hash_next;
	if (*p == idx)
		*p = s->hash_next;
	if (s->snap)
		st->bytes -= (uint64_t)s->key_len + s->snap_blob_len;
	free(s->snap);
	uint32_t *rec = s->rec;
	memset(s, 0, sizeof(*s));
	s->rec = rec;
	st->nsess--;
}

/* Finds or creates; when the table is full the least recently used session
 * without held records goes. NIL when every session holds records. */
static uint32_t session_get(struct state_store *st, const uint8_t *key, size_t len, uint64_t now)
{
	uint32_t idx = session_find(st, key, len);
	if (idx != NIL)
		return idx;
	uint32_t victim = NIL;
	for (uint32_t i = 0; i < st->cfg.max_sessions; i++) {
		if (!st->sess[i].used) {
			victim = i;
			break;
		}
		if (!st->sess[i].nrec &&
		    (victim == NIL || st->sess[i].last_use_ms < st->sess[victim].last_use_ms))
			victim = i;
	}
	if (victim == NIL)
		return NIL;
	if (st->sess[victim].used) {
		session_unlink(st, victim);
		st->c.sessions_evicted++;
	}
	struct ss_session *s = &st->sess[victim];
	s->used = true;
	s->key_len = (uint8_t)len;
	memcpy(s->key, key, len);
	s->last_use_ms = now;
	uint32_t *b = &st->sess_hash[hash_key(key, len) & (st->nsess_hash - 1)];
	s->hash_next = *b;
	*b = victim;
	st->nsess++;
	return victim;
}

/* ---- connections ---- */

static struct ss_conn *conn_find(const struct state_store *st, uint64_t key)
{
	for (uint32_t i = 0; i < st->cfg.max_conns; i++)
		if (st->conn[i].used && st->conn[i].conn == key)
			return &st->conn[i];
	return NULL;
}

static struct ss_conn *conn_get(struct state_store *st, uint64_t key, uint64_t now)
{
	struct ss_conn *c = conn_find(st, key), *victim = NULL;
	if (c) {
		c->last_use_ms = now;
		return c;
	}
	for (uint32_t i = 0; i < st->cfg.max_conns; i++) {
		if (!st->conn[i].used) {
			victim = &st->conn[i];
			break;
		}
		if (!victim || st->conn[i].last_use_ms < victim->last_use_ms)
			victim = &st->conn[i];
	}
	if (victim->used)
		st->c.conns_evicted++;
	*victim = (struct ss_conn){.used = true, .conn = key, .last_use_ms = now};
	return victim;
}

static void raise_txn(uint64_t *slot, uint64_t txn)
{
	if (!*slot || ord_of(txn) > ord_of(*slot))
		*slot = txn;
}

/* ---- records ---- */

static uint32_t *rec_bucket(struct state_store *st, uint64_t txn)
{
	return &st->rec_hash[hash64(txn) & (st->nrec_hash - 1)];
}

static void rec_release(struct state_store *st, uint32_t idx)
{
	struct ss_record *r = &st->rec[idx];
	uint32_t *p = rec_bucket(st, r->txn_id);
	while (*p != NIL && *p != idx)
		p = &st->rec[*p].hash_next;
	if (*p == idx)
		*p = r->hash_next;
	struct ss_session *s = &st->sess[r->session];
	for (uint32_t i = 0; i < s->nrec; i++) {
		if (s->rec[i] == idx) {
			memmove(&s->rec[i], &s->rec[i + 1], (s->nrec - i - 1) * sizeof(*s->rec));
			s->nrec--;
			break;
		}
	}
	st->bytes -= (uint64_t)r->key_len + r->blob_len;
	free(r->data);
	memset(r, 0, sizeof(*r));
	st->rec_free[st->nrec_free++] = idx;
}

static bool early_take(struct state_store *st, uint64_t txn)
{
	for (uint32_t i = 0; i < st->cfg.max_early; i++) {
		if (st->early[i] == txn) {
			st->early[i] = 0;
			st->nearly--;
			return true;
		}
	}
	return false;
}

int state_store_put(struct state_store *st, const struct state_push *p, uint64_t now_ms)
{
	uint32_t si = session_get(st, p->key, p->key_len, now_ms);
	if (si == NIL) {
		st->c.refused_sessions++;
		return STATE_ACK_FULL;
	}
	struct ss_session *s = &st->sess[si];
	s->last_use_ms = now_ms;
	int cmp = vcmp(p->origin, p->seq, s->applied_origin, s->applied_seq);
	if (cmp <= 0) {
		if (cmp == 0)
			st->c.duplicates++;
		else
			st->c.stale++;
		return STATE_ACK_DUPLICATE;
	}
	uint32_t pos = s->nrec;
	for (uint32_t i = 0; i < s->nrec; i++) {
		const struct ss_record *r = &st->rec[s->rec[i]];
		int c = vcmp(p->origin, p->seq, r->origin, r->seq);
		if (c == 0) {
			st->c.duplicates++;
			return STATE_ACK_DUPLICATE;
		}
		if (c < 0 && pos == s->nrec)
			pos = i;
	}
	/* A version older than the one in flight cannot be applied in order
	 * any more: the newer snapshot subsumes it. */
	if (pos == 0 && s->nrec && st->rec[s->rec[0]].state == SS_INFLIGHT) {
		st->c.stale++;
		return STATE_ACK_DUPLICATE;
	}
	if (s->nrec >= st->cfg.max_per_session) {
		st->c.refused_session_full++;
		return STATE_ACK_FULL;
	}
	if (!st->nrec_free) {
		st->c.refused_full++;
		return STATE_ACK_FULL;
	}
	size_t size = (size_t)p->key_len + p->blob_len;
	uint8_t *data = malloc(size);
	if (st->bytes + size > st->cfg.max_bytes || !data) {
		free(data);
		st->c.refused_bytes++;
		return STATE_ACK_FULL;
	}
	memcpy(data, p->key, p->key_len);
	if (p->blob_len)
		memcpy(data + p->key_len, p->blob, p->blob_len);
	uint32_t idx = st->rec_free[--st->nrec_free];
	struct ss_record *r = &st->rec[idx];
	*r = (struct ss_record){
	    .origin = p->origin,
	    .seq = p->seq,
	    .txn_id = p->txn_id,
	    .arrived_ms = now_ms,
	    .flags = p->flags & STATE_F_DELETE,
	    .key_len = p->key_len,
	    .blob_len = p->blob_len,
	    .used = true,
	    .state = SS_HELD,
	    .session = si,
	    .data = data,
	};
	uint32_t *b = rec_bucket(st, p->txn_id);
	r->hash_next = *b;
	*b = idx;
	memmove(&s->rec[pos + 1], &s->rec[pos], (s->nrec - pos) * sizeof(*s->rec));
	s->rec[pos] = idx;
	s->nrec++;
	st->bytes += size;
	if (st->nearly && early_take(st, p->txn_id))
		r->logged = true;
	raise_txn(&conn_get(st, conn_of(p->txn_id), now_ms)->t_a, p->txn_id);
	st->c.records_stored++;
	return STATE_ACK_STORED;
}

/* ---- aids ---- */

static void aid_drop(struct state_store *st, struct ss_aid *a)
{
	st->bytes -= a->total;
	free(a->data);
	memset(a, 0, sizeof(*a));
}

static struct ss_aid *aid_slot(struct state_store *st, uint64_t now_ms)
{
	struct ss_aid *oldest = NULL;
	for (uint32_t i = 0; i < st->cfg.max_aids; i++) {
		if (!st->aid[i].used)
			return &st->aid[i];
		if (!oldest || st->aid[i].arrived_ms < oldest->arrived_ms)
			oldest = &st->aid[i];
	}
	/* Only an aid older than apply_timeout may go: its transaction is
	 * logged by now or its client is gone. */
	if (st->cfg.apply_timeout_ms && now_ms - oldest->arrived_ms >= st->cfg.apply_timeout_ms) {
		aid_drop(st, oldest);
		st->c.aids_evicted++;
		return oldest;
	}
	return NULL;
}

int state_store_save(struct state_store *st, const struct state_save *s, uint64_t now_ms,
		     uint32_t *stored)
{
	struct ss_aid *a = NULL;
	*stored = 0;
	st->c.aid_chunks++;
	for (uint32_t i = 0; i < st->cfg.max_aids && !a; i++)
		if (st->aid[i].used && st->aid[i].origin == s->origin && st->aid[i].seq == s->seq)
			a = &st->aid[i];
	if (a) {
		*stored = a->have;
		if (a->total != s->total || a->txn_id != s->txn_id || a->kind != s->kind ||
		    s->offset > a->have) {
			st->c.aids_refused++;
			return STATE_ACK_REFUSED;
		}
		if (s->offset + s->chunk_len <= a->have)
			return STATE_ACK_DUPLICATE;
	} else {
		if (s->offset != 0) {
			st->c.aids_refused++;
			return STATE_ACK_REFUSED;
		}
		if (st->bytes + s->total > st->cfg.max_bytes || !(a = aid_slot(st, now_ms))) {
			st->c.aids_refused++;
			return STATE_ACK_FULL;
		}
		uint8_t *data = malloc(s->total);
		if (!data) {
			st->c.aids_refused++;
			return STATE_ACK_FULL;
		}
		*a = (struct ss_aid){.used = true,
				     .origin = s->origin,
				     .seq = s->seq,
				     .txn_id = s->txn_id,
				     .arrived_ms = now_ms,
				     .kind = s->kind,
				     .total = s->total,
				     .data = data};
		st->bytes += s->total;
	}
	/* offset <= have < offset + len: append the new tail */
	uint32_t skip = a->have - s->offset;
	memcpy(a->data + a->have, s->chunk + skip, s->chunk_len - skip);
	a->have += s->chunk_len - skip;
	if (a->have == a->total && !a->complete) {
		a->complete = true;
		st->c.aids_complete++;
	}
	*stored = a->have;
	return STATE_ACK_STORED;
}

void state_store_logged(struct state_store *st, uint64_t txn_id, uint64_t now_ms)
{
	(void)now_ms;
	bool found = false;
	st->c.logged_marks++;
	for (uint32_t i = *rec_bucket(st, txn_id); i != NIL; i = st->rec[i].hash_next) {
		if (st->rec[i].txn_id == txn_id) {
			st->rec[i].logged = true;
			found = true;
		}
	}
	for (uint32_t i = 0; i < st->cfg.max_aids; i++) {
		if (st->aid[i].used && st->aid[i].txn_id == txn_id) {
			aid_drop(st, &st->aid[i]);
			st->c.aids_dropped_logged++;
		}
	}
	if (found)
		return;
	/* Remember it for a record that may still come. */
	st->c.logged_early++;
	uint64_t *slot = &st->early[st->early_head];
	if (*slot)
		st->c.early_dropped++;
	else
		st->nearly++;
	*slot = txn_id;
	st->early_head = (st->early_head + 1) % st->cfg.max_early;
}

/* ---- applying ---- */

const struct ss_record *state_store_next(struct state_store *st, uint64_t now_ms)
{
	for (uint32_t i = 0; i < st->cfg.max_sessions; i++) {
		struct ss_session *s = &st->sess[i];
		if (!s->used || s->snap_inflight)
			continue;
		if (s->resend && !(s->nrec && st->rec[s->rec[0]].state == SS_INFLIGHT)) {
			struct ss_record *x = &st->resync_rec;
			*x = (struct ss_record){.origin = s->applied_origin,
						.seq = s->applied_seq,
						.txn_id = s->applied_txn,
						.key_len = s->key_len,
						.blob_len = s->snap_blob_len,
						.used = true,
						.logged = true,
						.state = SS_INFLIGHT,
						.session = i,
						.data = s->snap};
			s->snap_inflight = true;
			return x;
		}
		if (!s->nrec)
			continue;
		struct ss_record *r = &st->rec[s->rec[0]];
		if (r->state != SS_HELD)
			continue;
		if (!r->logged) {
			if (!st->cfg.apply_timeout_ms ||
			    now_ms - r->arrived_ms < st->cfg.apply_timeout_ms)
				continue;
			r->forced = true;
			st->c.forced_timeout++;
			conn_get(st, conn_of(r->txn_id), now_ms)->forced = true;
		}
		r->state = SS_INFLIGHT;
		st->c.delivered++;
		return r;
	}
	return NULL;
}

/* The applied record's bytes become the session's snapshot. */
static void keep_snapshot(struct state_store *st, struct ss_session *s, struct ss_record *r)
{
	if (s->snap)
		st->bytes -= (uint64_t)s->key_len + s->snap_blob_len;
	free(s->snap);
	s->snap = NULL;
	s->snap_blob_len = 0;
	s->resend = s->snap_inflight = false;
	if (r->flags & STATE_F_DELETE)
		return; /* nothing to restore: the session ended */
	s->snap = r->data;
	s->snap_blob_len = r->blob_len;
	r->data = NULL;
	st->bytes += (uint64_t)r->key_len + r->blob_len; /* rec_release subtracts it */
}

bool state_store_applied(struct state_store *st, uint64_t origin, uint64_t seq, bool ok,
			 uint64_t now_ms)
{
	for (uint32_t i = 0; i < st->cfg.max_records; i++) {
		struct ss_record *r = &st->rec[i];
		if (!r->used || r->state != SS_INFLIGHT || r->origin != origin || r->seq != seq)
			continue;
		struct ss_session *s = &st->sess[r->session];
		s->applied_origin = origin;
		s->applied_seq = seq;
		s->last_use_ms = now_ms;
		if (ok) {
			s->applied_txn = r->txn_id;
			struct ss_conn *c = conn_get(st, conn_of(r->txn_id), now_ms);
			raise_txn(&c->t_s, r->txn_id);
			raise_txn(&c->t_a, r->txn_id);
			keep_snapshot(st, s, r);
			st->c.applied++;
		} else {
			st->c.apply_refused++;
		}
		rec_release(st, i);
		return true;
	}
	for (uint32_t i = 0; i < st->cfg.max_sessions; i++) {
		struct ss_session *s = &st->sess[i];
		if (s->used && s->snap_inflight && s->applied_origin == origin &&
		    s->applied_seq == seq) {
			s->snap_inflight = s->resend = false;
			st->c.resent++;
			return true;
		}
	}
	return false;
}

void state_store_requeue(struct state_store *st)
{
	for (uint32_t i = 0; i < st->cfg.max_records; i++) {
		if (st->rec[i].used && st->rec[i].state == SS_INFLIGHT) {
			st->rec[i].state = SS_HELD;
			st->c.requeued++;
		}
	}
	for (uint32_t i = 0; i < st->cfg.max_sessions; i++)
		st->sess[i].snap_inflight = false;
}

void state_store_resync(struct state_store *st)
{
	for (uint32_t i = 0; i < st->cfg.max_sessions; i++) {
		if (st->sess[i].used && st->sess[i].snap) {
			st->sess[i].resend = true;
			st->c.resyncs++;
		}
	}
}

unsigned state_store_apply_up_to(struct state_store *st, uint32_t ip, uint16_t port, uint32_t up_to,
				 uint8_t flags, uint64_t now_ms)
{
	uint64_t key = conn_key(ip, port);
	struct ss_conn *c = conn_get(st, key, now_ms);
	uint64_t t_a = c->t_s;
	for (uint32_t i = 0; i < st->cfg.max_records; i++) {
		struct ss_record *r = &st->rec[i];
		if (!r->used || conn_of(r->txn_id) != key)
			continue;
		if (ord_of(r->txn_id) <= up_to) {
			if (!r->logged) {
				r->logged = true;
				st->c.forced_recovery++;
			}
		} else if ((flags & STATE_APPLY_DISCARD_AFTER) && r->state == SS_HELD) {
			rec_release(st, i);
			st->c.discarded++;
			continue;
		}
		raise_txn(&t_a, r->txn_id);
	}
	c->t_a = t_a;
	for (uint32_t i = 0; i < st->cfg.max_aids; i++) {
		struct ss_aid *a = &st->aid[i];
		if (a->used && conn_of(a->txn_id) == key && ord_of(a->txn_id) <= up_to) {
			aid_drop(st, a);
			st->c.aids_dropped_logged++;
		}
	}
	return state_store_conn_unapplied(st, ip, port, up_to);
}

unsigned state_store_conn_unapplied(const struct state_store *st, uint32_t ip, uint16_t port,
				    uint32_t up_to)
{
	uint64_t key = conn_key(ip, port);
	unsigned n = 0;
	for (uint32_t i = 0; i < st->cfg.max_records; i++)
		if (st->rec[i].used && conn_of(st->rec[i].txn_id) == key &&
		    ord_of(st->rec[i].txn_id) <= up_to)
			n++;
	return n;
}

const struct ss_aid *state_store_conn_aid(const struct state_store *st, uint32_t ip, uint16_t port,
					  uint32_t after, uint32_t *cursor)
{
	uint64_t key = conn_key(ip, port);
	for (; *cursor < st->cfg.max_aids; (*cursor)++) {
		const struct ss_aid *a = &st->aid[*cursor];
		if (a->used && a->complete && conn_of(a->txn_id) == key &&
		    ord_of(a->txn_id) > after) {
			(*cursor)++;
			return a;
		}
	}
	return NULL;
}

/* ---- queries ---- */

void state_store_query_conn(const struct state_store *st, uint32_t ip, uint16_t port,
			    struct state_reply *out)
{
	uint64_t key = conn_key(ip, port);
	const struct ss_conn *c = conn_find(st, key);
	memset(out, 0, sizeof(*out));
	if (c) {
		out->t_s = c->t_s;
		out->t_a = c->t_a;
		if (c->forced)
			out->flags |= STATE_REPLY_F_FORCED;
	}
	for (uint32_t i = 0; i < st->cfg.max_records; i++)
		if (st->rec[i].used && conn_of(st->rec[i].txn_id) == key)
			out->pending++;
	for (uint32_t i = 0; i < st->cfg.max_sessions; i++) {
		const struct ss_session *s = &st->sess[i];
		bool touches = s->used && s->applied_txn && conn_of(s->applied_txn) == key;
		for (uint32_t j = 0; s->used && j < s->nrec && !touches; j++)
			touches = conn_of(st->rec[s->rec[j]].txn_id) == key;
		out->sessions += touches;
	}
	for (uint32_t i = 0; i < st->cfg.max_aids; i++)
		if (st->aid[i].used && conn_of(st->aid[i].txn_id) == key)
			out->aids++;
	out->status = c || out->pending || out->aids ? STATE_REPLY_OK : STATE_REPLY_UNKNOWN;
}

void state_store_query_session(const struct state_store *st, const uint8_t *key, size_t key_len,
			       struct state_reply *out)
{
	memset(out, 0, sizeof(*out));
	uint32_t i = session_find(st, key, key_len);
	if (i == NIL) {
		out->status = STATE_REPLY_UNKNOWN;
		return;
	}
	const struct ss_session *s = &st->sess[i];
	out->status = STATE_REPLY_OK;
	out->sessions = 1;
	out->pending = s->nrec;
	out->t_s = s->applied_txn;
	out->t_a = s->nrec ? st->rec[s->rec[s->nrec - 1]].txn_id : s->applied_txn;
	for (uint32_t j = 0; j < s->nrec; j++)
		if (st->rec[s->rec[j]].forced)
			out->flags |= STATE_REPLY_F_FORCED;
}

uint32_t state_store_held(const struct state_store *st)
{
	return st->cfg.max_records - st->nrec_free;
}

void state_store_collect_stats(const struct state_store *st, struct stats_report *r,
			       const char *prefix)
{
	const struct state_store_counters *c = &st->c;
	uint32_t aids = 0;
	for (uint32_t i = 0; i < st->cfg.max_aids; i++)
		aids += st->aid[i].used;
	stats_add(r, prefix, "records_held", state_store_held(st));
	stats_add(r, prefix, "sessions", st->nsess);
	stats_add(r, prefix, "aids_held", aids);
	stats_add(r, prefix, "bytes", st->bytes);
	stats_add(r, prefix, "records_stored", c->records_stored);
	stats_add(r, prefix, "duplicates", c->duplicates);
	stats_add(r, prefix, "stale", c->stale);
	stats_add(r, prefix, "refused_full", c->refused_full);
	stats_add(r, prefix, "refused_bytes", c->refused_bytes);
	stats_add(r, prefix, "refused_session_full", c->refused_session_full);
	stats_add(r, prefix, "refused_sessions", c->refused_sessions);
	stats_add(r, prefix, "logged_marks", c->logged_marks);
	stats_add(r, prefix, "logged_early", c->logged_early);
	stats_add(r, prefix, "early_dropped", c->early_dropped);
	stats_add(r, prefix, "delivered", c->delivered);
	stats_add(r, prefix, "applied", c->applied);
	stats_add(r, prefix, "apply_refused", c->apply_refused);
	stats_add(r, prefix, "forced_timeout", c->forced_timeout);
	stats_add(r, prefix, "forced_recovery", c->forced_recovery);
	stats_add(r, prefix, "discarded", c->discarded);
	stats_add(r, prefix, "requeued", c->requeued);
	stats_add(r, prefix, "resyncs", c->resyncs);
	stats_add(r, prefix, "resent", c->resent);
	stats_add(r, prefix, "sessions_evicted", c->sessions_evicted);
	stats_add(r, prefix, "conns_evicted", c->conns_evicted);
	stats_add(r, prefix, "aid_chunks", c->aid_chunks);
	stats_add(r, prefix, "aids_complete", c->aids_complete);
	stats_add(r, prefix, "aids_refused", c->aids_refused);
	stats_add(r, prefix, "aids_evicted", c->aids_evicted);
	stats_add(r, prefix, "aids_dropped_logged", c->aids_dropped_logged);
}
