/* craft-webmail sessions - the table, the snapshot blob pushed after every
 * update (session_sync), and the receiving side on the alternate: APPLY
 * replaces a session by its snapshot, replay aids are kept by transaction
 * ID until a replayed request uses them.
 *
 * Blob (version 1, big endian): u8 version, u8 key_len, key, u8 user_len,
 * user, u32 next_id, u16 nmsg, then per message u32 id, u8 folder,
 * u8 to_len, to, u8 subject_len, subject, u16 body_len, body. Every length
 * is checked against the limits above; anything else is refused (the
 * agent counts it), never half-applied. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "packet.h"
#include "webmail.h"

#define BLOB_VERSION 1

size_t wm_session_size(uint32_t max_messages)
{
	return sizeof(struct wm_session) + max_messages * sizeof(struct wm_message);
}

uint32_t wm_session_count(const struct webmail *w)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < w->cfg.max_sessions; i++)
		n += w->sessions[i] != NULL;
	return n;
}

struct wm_session *wm_session_find(struct webmail *w, const char *key)
{
	for (uint32_t i = 0; i < w->cfg.max_sessions; i++)
		if (w->sessions[i] && !strcmp(w->sessions[i]->key, key))
			return w->sessions[i];
	return NULL;
}

struct wm_session *wm_session_create(struct webmail *w, const char *key, uint64_t now_ms)
{
	struct wm_session *s = wm_session_find(w, key);
	if (!s) {
		for (uint32_t i = 0; i < w->cfg.max_sessions && !s; i++) {
			if (w->sessions[i])
				continue;
			w->sessions[i] = malloc(wm_session_size(w->cfg.max_messages));
			s = w->sessions[i];
		}
		if (!s) {
			w->c.sessions_full++;
			return NULL;
		}
	}
	memset(s, 0, wm_session_size(w->cfg.max_messages));
	snprintf(s->key, sizeof(s->key), "%s", key);
	s->next_id = 1;
	s->last_use_ms = now_ms;
	return s;
}

void wm_session_delete(struct webmail *w, const char *key)
{
	for (uint32_t i = 0; i < w->cfg.max_sessions; i++) {
		if (w->sessions[i] && !strcmp(w->sessions[i]->key, key)) {
			free(w->sessions[i]);
			w->sessions[i] = NULL;
		}
	}
}

/* ---- blob ---- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	bool overflow;
};

static void put(struct wbuf *b, const void *src, size_t n)
{
	if (b->overflow || b->cap - b->len < n) {
		b->overflow = true;
		return;
	}
	memcpy(b->p + b->len, src, n);
	b->len += n;
}

static void put8(struct wbuf *b, uint8_t v)
{
	put(b, &v, 1);
}

static void put16(struct wbuf *b, uint16_t v)
{
	uint8_t x[2];
	pkt_store_be16(x, v);
	put(b, x, 2);
}

static void put32(struct wbuf *b, uint32_t v)
{
	uint8_t x[4];
	pkt_store_be32(x, v);
	put(b, x, 4);
}

static void put_str8(struct wbuf *b, const char *s)
{
	size_t n = strlen(s);
	put8(b, (uint8_t)n);
	put(b, s, n);
}

int webmail_session_encode(const struct wm_session *s, uint32_t max_messages, uint8_t *buf,
			   size_t cap)
{
	struct wbuf b = {.p = buf, .cap = cap};
	put8(&b, BLOB_VERSION);
	put_str8(&b, s->key);
	put_str8(&b, s->user);
	put32(&b, s->next_id);
	uint32_t n = s->nmsg < max_messages ? s->nmsg : max_messages;
	put16(&b, (uint16_t)n);
	for (uint32_t i = 0; i < n; i++) {
		const struct wm_message *m = &s->msg[i];
		put32(&b, m->id);
		put8(&b, m->folder);
		put_str8(&b, m->to);
		put_str8(&b, m->subject);
		put16(&b, m->body_len);
		put(&b, m->body, m->body_len);
	}
	return b.overflow ? -ENOSPC : (int)b.len;
}

struct rbuf {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};

static const uint8_t *take(struct rbuf *r, size_t n)
{
	if (r->bad || r->len - r->off < n) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *p = r->p + r->off;
	r->off += n;
	return p;
}

static unsigned get8(struct rbuf *r)
{
	const uint8_t *p = take(r, 1);
	return p ? p[0] : 0;
}

static unsigned get16(struct rbuf *r)
{
	const uint8_t *p = take(r, 2);
	return p ? pkt_load_be16(p) : 0;
}

static uint32_t get32(struct rbuf *r)
{
	const uint8_t *p = take(r, 4);
	return p ? pkt_load_be32(p) : 0;
}

/* A string of at most max bytes without NUL into out[max + 1]. */
static void get_str(struct rbuf *r, size_t n, char *out, size_t max)
{
	const uint8_t *p = n <= max ? take(r, n) : NULL;
	if (!p || memchr(p, 0, n)) {
		r->bad = true;
		return;
	}
	memcpy(out, p, n);
	out[n] = '\0';
}

int webmail_session_decode(struct wm_session *s, uint32_t max_messages, const uint8_t *buf,
			   size_t len)
{
	struct rbuf r = {.p = buf, .len = len};
	memset(s, 0, wm_session_size(max_messages));
	if (get8(&r) != BLOB_VERSION)
		return -EINVAL;
	get_str(&r, get8(&r), s->key, WM_KEY_LEN);
	get_str(&r, get8(&r), s->user, WM_USER_MAX);
	s->next_id = get32(&r);
	s->nmsg = get16(&r);
	if (r.bad || s->nmsg > max_messages || strlen(s->key) != WM_KEY_LEN)
		return -EINVAL;
	for (uint32_t i = 0; i < s->nmsg && !r.bad; i++) {
		struct wm_message *m = &s->msg[i];
		m->id = get32(&r);
		m->folder = (uint8_t)get8(&r);
		get_str(&r, get8(&r), m->to, WM_TO_MAX);
		get_str(&r, get8(&r), m->subject, WM_SUBJECT_MAX);
		m->body_len = (uint16_t)get16(&r);
		get_str(&r, m->body_len, m->body, WM_BODY_MAX);
		if (m->folder > WM_SENT)
			r.bad = true;
	}
	return r.bad || r.off != len ? -EINVAL : 0;
}

void wm_session_push(struct webmail *w, const struct wm_session *s, uint64_t txn, bool deleted,
		     const char *key)
{
	if (!w->sync)
		return;
	int n = 0;
	if (!deleted &&
	    (n = webmail_session_encode(s, w->cfg.max_messages, w->blob, STATE_BLOB_MAX)) < 0) {
		w->c.pushes_failed++;
		return;
	}
	int rc = session_sync_push(w->sync, txn, key, strlen(key), w->blob, (size_t)n,
				   deleted ? SESSION_SYNC_DELETE : 0);
	if (rc < 0) {
		w->c.pushes_failed++;
		log_debug("push txn %016llx: %s", (unsigned long long)txn, strerror(-rc));
	}
}

/* ---- the alternate's side ---- */

static int on_apply(void *arg, uint64_t txn_id, const uint8_t *key, size_t key_len,
		    const uint8_t *blob, size_t len, bool deleted)
{
	struct webmail *w = arg;
	char k[WM_KEY_LEN + 1];
	if (key_len != WM_KEY_LEN) {
		w->c.apply_refused++;
		return -EINVAL;
	}
	memcpy(k, key, key_len);
	k[key_len] = '\0';
	if (deleted) {
		wm_session_delete(w, k);
		w->c.apply_deleted++;
		return 0;
	}
	struct wm_session *tmp = malloc(wm_session_size(w->cfg.max_messages));
	if (!tmp)
		return -ENOMEM;
	int rc = webmail_session_decode(tmp, w->cfg.max_messages, blob, len);
	if (rc < 0 || strcmp(tmp->key, k)) {
		free(tmp);
		w->c.apply_refused++;
		return -EINVAL;
	}
	struct wm_session *s = wm_session_create(w, k, monotonic_ms());
	if (!s) {
		free(tmp);
		w->c.apply_refused++;
		return -ENOSPC;
	}
	memcpy(s, tmp, wm_session_size(w->cfg.max_messages));
	s->last_txn = txn_id;
	s->last_use_ms = monotonic_ms();
	free(tmp);
	w->c.applied++;
	log_debug("applied session %s after txn %016llx", k, (unsigned long long)txn_id);
	return 0;
}

static void on_aid(void *arg, uint64_t txn_id, unsigned kind, const uint8_t *data, size_t len)
{
	struct webmail *w = arg;
	wm_aid_drop(w, txn_id);
	struct wm_aid *a = &w->aids[w->aid_next];
	if (a->data)
		w->c.aids_evicted++;
	free(a->data);
	*a = (struct wm_aid){.txn_id = txn_id, .kind = kind, .len = len, .data = malloc(len)};
	if (!a->data) {
		a->txn_id = 0;
		return;
	}
	memcpy(a->data, data, len);
	w->aid_next = (w->aid_next + 1) % w->cfg.max_aids;
	w->c.aids_received++;
}

const struct session_apply_ops webmail_apply_ops = {.apply = on_apply, .aid = on_aid};

const struct wm_aid *wm_aid_find(const struct webmail *w, uint64_t txn, unsigned kind)
{
	for (uint32_t i = 0; i < w->cfg.max_aids; i++)
		if (w->aids[i].data && w->aids[i].txn_id == txn && w->aids[i].kind == kind)
			return &w->aids[i];
	return NULL;
}

void wm_aid_drop(struct webmail *w, uint64_t txn)
{
	for (uint32_t i = 0; i < w->cfg.max_aids; i++) {
		if (w->aids[i].data && w->aids[i].txn_id == txn) {
			free(w->aids[i].data);
			w->aids[i] = (struct wm_aid){0};
		}
	}
}
