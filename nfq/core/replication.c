/* replication - see replication.h.
 *
 * Everything runs in the event loop's thread: the transport's fd delivers
 * datagrams, and one periodic timer, present only while there is work
 * (second copies due, dumps in progress, a sync waiting), drives the paced
 * parts. Every queue is bounded: the second-copy ring (resend_queue), one
 * dump per peer, one pending sync. Configuration and the counter report are
 * in replication_config.c, the UDP transport in replication_udp.c.
 */
#include "replication.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>

#include "clock.h"
#include "event_loop.h"
#include "log.h"

#define RX_BATCH	256 /* datagrams per readable event */
#define RESEND_PER_TICK 256

struct resend_item {
	uint64_t due_ms;
	bool is_del;
	union {
		struct splice_record rec;
		struct splice_del del;
	} u;
};

struct dump_job {
	bool active;
	uint32_t sync_id, cursor, chunk, records;
};

struct sync_rx {
	bool active;
	uint32_t sync_id, chunks, records;
};

struct peer {
	struct replication_peer pub;
	struct dump_job dump;
	struct sync_rx rx;
};

struct replication {
	struct replication_config cfg;
	struct event_loop *loop;
	struct splice_table *table;
	struct replication_callbacks cb;
	const struct replication_transport_ops *ops;
	void *tstate;
	int fd, timer_fd;
	struct auth_key key;
	struct auth_sender sender;
	struct auth_receiver receiver;
	struct peer peers[REPLICATION_MAX_PEERS];
	unsigned npeers;
	struct resend_item *ring;
	uint32_t ring_head, ring_count;
	enum replication_sync_state sync;
	uint64_t sync_deadline;
	uint32_t sync_attempt;
	size_t body_cap;
	uint8_t *txbuf, *body;
	struct replication_stats st;
	struct log_ratelimit rl;
	uint8_t rxbuf[65536];
};

static int call_add(struct replication *r, struct peer *p, const struct splice_record *rec)
{
	if (r->cb.add)
		return r->cb.add(r->cb.ctx, &p->pub, rec);
	return r->table ? replication_default_add(r->table, rec) : -ENOSYS;
}

static int call_del(struct replication *r, struct peer *p, const struct splice_del *d)
{
	if (r->cb.del)
		return r->cb.del(r->cb.ctx, &p->pub, d);
	return r->table ? replication_default_del(r->table, d) : -ENOSYS;
}

static int call_touch(struct replication *r, struct peer *p, uint64_t id)
{
	if (r->cb.touch)
		return r->cb.touch(r->cb.ctx, &p->pub, id);
	return r->table ? replication_default_touch(r->table, id) : -ENOSYS;
}

static bool wants(struct replication *r, struct peer *p, const struct splice_record *rec)
{
	return !r->cb.wants || r->cb.wants(r->cb.ctx, &p->pub, rec);
}

static uint32_t random_u32(void)
{
	uint32_t v;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
		v = (uint32_t)monotonic_us();
	return v ? v : 1;
}

/* ---- peers ---- */

static struct peer *peer_by_id(struct replication *r, uint32_t id)
{
	for (unsigned i = 0; i < r->npeers; i++)
		if (r->peers[i].pub.cfg.id == id)
			return &r->peers[i];
	return NULL;
}

static struct peer *peer_by_addr(struct replication *r, const struct sockaddr_in *a)
{
	for (unsigned i = 0; i < r->npeers; i++) {
		const struct sockaddr_in *b = &r->peers[i].pub.cfg.addr;
		if (b->sin_addr.s_addr == a->sin_addr.s_addr && b->sin_port == a->sin_port)
			return &r->peers[i];
	}
	return NULL;
}

int replication_add_peer(struct replication *r, const struct replication_peer_config *pc, char *err,
			 size_t errlen)
{
	struct replication_peer_config c = *pc;

	if (c.id == 0)
		c.id = ntohl(c.addr.sin_addr.s_addr);
	if (c.id == r->cfg.node_id)
		return 0; /* ourselves, in a shared peer list */
	if (c.id == 0 || c.addr.sin_family != AF_INET || c.addr.sin_port == 0) {
		snprintf(err, errlen, "peer %s: needs an address:port and a non-zero id", c.name);
		return -EINVAL;
	}
	for (unsigned i = 0; i < r->npeers; i++) {
		const struct replication_peer_config *o = &r->peers[i].pub.cfg;
		if (o->id == c.id || strcmp(o->name, c.name) == 0 ||
		    (o->addr.sin_addr.s_addr == c.addr.sin_addr.s_addr &&
		     o->addr.sin_port == c.addr.sin_port)) {
			snprintf(err, errlen, "peer %s: same name, id or address as peer %s",
				 c.name, o->name);
			return -EEXIST;
		}
	}
	if (r->npeers >= REPLICATION_MAX_PEERS) {
		snprintf(err, errlen, "peer %s: more than %d peers", c.name, REPLICATION_MAX_PEERS);
		return -ENOSPC;
	}
	if (auth_receiver_allow(&r->receiver, c.id) < 0) {
		snprintf(err, errlen, "peer %s: auth table full", c.name);
		return -ENOSPC;
	}
	struct peer *p = &r->peers[r->npeers++];
	memset(p, 0, sizeof(*p));
	p->pub.cfg = c;
	return 0;
}

/* ---- sending ---- */

static int send_body(struct replication *r, struct peer *p, uint16_t type, const void *body,
		     size_t len)
{
	ssize_t n = auth_msg_seal(&r->sender, &r->key, type, body, len, r->txbuf,
				  (size_t)r->cfg.max_datagram);
	int rc = n < 0 ? (int)n : r->ops->send(r->tstate, &p->pub.cfg.addr, r->txbuf, (size_t)n);

	if (rc < 0) {
		p->pub.st.send_errors++;
		log_rl(&r->rl, LOG_WARNING, "replication: send to %s: %s", p->pub.cfg.name,
		       strerror(-rc));
		return rc;
	}
	p->pub.st.sent++;
	p->pub.st.sent_bytes += (uint64_t)n;
	return 0;
}

/* Items of one type for one peer, cut into datagrams as they fill. */
struct batch {
	struct replication *r;
	struct peer *p;
	struct splice_msg_builder b;
	uint16_t type;
	int rc;
};

static void batch_begin(struct batch *bt, struct replication *r, struct peer *p, uint16_t type)
{
	bt->r = r;
	bt->p = p;
	bt->type = type;
	bt->rc = 0;
	splice_msg_begin(&bt->b, r->body, r->body_cap, type, 0, 0);
}

static void batch_flush(struct batch *bt)
{
	if (bt->b.count) {
		int rc = send_body(bt->r, bt->p, bt->type, bt->r->body, splice_msg_finish(&bt->b));
		if (rc < 0)
			bt->rc = rc;
	}
	splice_msg_begin(&bt->b, bt->r->body, bt->r->body_cap, bt->type, 0, 0);
}

/* item: a record (ADD), a deletion (DEL) or a uint64_t id (TOUCH). */
static void batch_add(struct batch *bt, const void *item)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		int rc = bt->type == SPLICE_MSG_DEL ? splice_msg_add_del(&bt->b, item)
			 : bt->type == SPLICE_MSG_TOUCH
			     ? splice_msg_add_touch(&bt->b, *(const uint64_t *)item)
			     : splice_msg_add_record(&bt->b, item);
		if (rc != -ENOSPC) {
			if (rc < 0)
				bt->rc = rc;
			return;
		}
		batch_flush(bt);
	}
}

/* n items of `stride` bytes to every peer (records only where wanted). */
static int send_all(struct replication *r, uint16_t type, const void *items, unsigned n,
		    size_t stride)
{
	int rc = 0;

	for (unsigned i = 0; i < r->npeers; i++) {
		struct batch bt;
		batch_begin(&bt, r, &r->peers[i], type);
		for (unsigned k = 0; k < n; k++) {
			const void *item = (const char *)items + k * stride;
			if (type != SPLICE_MSG_ADD || wants(r, &r->peers[i], item))
				batch_add(&bt, item);
		}
		batch_flush(&bt);
		if (bt.rc < 0)
			rc = bt.rc;
	}
	return rc;
}

static void ensure_timer(struct replication *r);

static void queue_resend(struct replication *r, const struct splice_record *rec,
			 const struct splice_del *del)
{
	if (r->cfg.resend_delay_ms == 0)
		return;
	if (r->ring_count >= r->cfg.resend_queue) {
		r->st.resend_dropped++;
		return;
	}
	struct resend_item *it = &r->ring[(r->ring_head + r->ring_count++) % r->cfg.resend_queue];
	it->due_ms = monotonic_ms() + r->cfg.resend_delay_ms;
	it->is_del = del != NULL;
	if (del)
		it->u.del = *del;
	else
		it->u.rec = *rec;
	r->st.resend_queued++;
	ensure_timer(r);
}

int replication_send_adds(struct replication *r, const struct splice_record *recs, unsigned n)
{
	for (unsigned k = 0; k < n; k++)
		if (splice_record_check(&recs[k]) != SPLICE_REC_OK)
			return -EINVAL;
	int rc = send_all(r, SPLICE_MSG_ADD, recs, n, sizeof(*recs));
	for (unsigned k = 0; k < n; k++)
		queue_resend(r, &recs[k], NULL);
	return rc;
}

int replication_send_add(struct replication *r, const struct splice_record *rec)
{
	return replication_send_adds(r, rec, 1);
}

int replication_send_del(struct replication *r, const struct splice_del *d)
{
	if (d->id == 0 || d->reason == SPLICE_CLOSE_NONE || d->reason >= SPLICE_CLOSE_NREASONS)
		return -EINVAL;
	int rc = send_all(r, SPLICE_MSG_DEL, d, 1, sizeof(*d));
	queue_resend(r, NULL, d);
	return rc;
}

int replication_send_touch(struct replication *r, const uint64_t *ids, unsigned n)
{
	for (unsigned k = 0; k < n; k++)
		if (ids[k] == 0)
			return -EINVAL;
	return send_all(r, SPLICE_MSG_TOUCH, ids, n, sizeof(*ids));
}

/* ---- sync: requesting side ---- */

static void sync_finish(struct replication *r, struct peer *from, bool ok)
{
	r->sync = ok ? REPLICATION_SYNC_DONE : REPLICATION_SYNC_FAILED;
	for (unsigned i = 0; i < r->npeers; i++)
		r->peers[i].rx.active = false;
	if (r->cb.sync_done)
		r->cb.sync_done(r->cb.ctx, from ? &from->pub : NULL, ok);
}

static int sync_ask(struct replication *r, struct peer *p)
{
	uint8_t body[16];

	p->rx = (struct sync_rx){.active = true, .sync_id = random_u32()};
	ssize_t n = splice_msg_encode_sync_request(body, sizeof(body), p->rx.sync_id);
	return n < 0 ? (int)n : send_body(r, p, SPLICE_MSG_SYNC_REQUEST, body, (size_t)n);
}

static int sync_ask_all(struct replication *r)
{
	unsigned asked = 0;
	int rc = 0;

	r->sync_attempt++;
	r->st.sync_attempts++;
	r->sync_deadline = monotonic_ms() + r->cfg.sync_timeout_ms;
	for (unsigned i = 0; i < r->npeers; i++) {
		if (r->peers[i].pub.cfg.kind != REPLICATION_PEER_PROXY)
			continue;
		asked++;
		int e = sync_ask(r, &r->peers[i]);
		if (e < 0)
			rc = e;
	}
	if (asked == 0) {
		sync_finish(r, NULL, true);
		return 0;
	}
	ensure_timer(r);
	return rc;
}

int replication_request_sync(struct replication *r)
{
	r->sync = REPLICATION_SYNC_PENDING;
	r->sync_attempt = 0;
	return sync_ask_all(r);
}

enum replication_sync_state replication_sync_state(const struct replication *r)
{
	return r->sync;
}

/* ---- sync: answering side ---- */

/* One SYNC_DATA datagram from the job's cursor; false when the walk ended. */
static bool dump_chunk(struct replication *r, struct peer *p)
{
	struct dump_job *j = &p->dump;
	struct splice_msg_builder b;
	struct splice_entry *e = NULL;
	uint32_t before = j->cursor;

	splice_msg_begin(&b, r->body, r->body_cap, SPLICE_MSG_SYNC_DATA, j->sync_id, j->chunk);
	while (r->table && (e = splice_table_next(r->table, &j->cursor)) != NULL) {
		if (wants(r, p, &e->rec) && splice_msg_add_record(&b, &e->rec) == -ENOSPC) {
			j->cursor = before; /* this entry starts the next chunk */
			break;
		}
		before = j->cursor;
	}
	if (b.count) {
		send_body(r, p, SPLICE_MSG_SYNC_DATA, r->body, splice_msg_finish(&b));
		j->chunk++;
		j->records += b.count;
		r->st.dump_records += b.count;
	}
	return e != NULL;
}

static void dump_step(struct replication *r, struct peer *p)
{
	for (uint32_t k = 0; k < r->cfg.sync_burst && p->dump.active; k++) {
		if (dump_chunk(r, p))
			continue;
		uint8_t body[32];
		ssize_t n = splice_msg_encode_sync_end(body, sizeof(body), p->dump.sync_id,
						       p->dump.chunk, p->dump.records);
		if (n > 0)
			send_body(r, p, SPLICE_MSG_SYNC_END, body, (size_t)n);
		p->dump.active = false;
	}
}

/* ---- the timer ---- */

static void resend_due(struct replication *r, uint64_t now)
{
	uint32_t n = 0;
	uint32_t cap = r->cfg.resend_queue;

	while (n < r->ring_count && n < RESEND_PER_TICK &&
	       r->ring[(r->ring_head + n) % cap].due_ms <= now)
		n++;
	if (n == 0)
		return;
	for (unsigned i = 0; i < r->npeers; i++) {
		struct peer *p = &r->peers[i];
		struct batch adds, dels;
		batch_begin(&adds, r, p, SPLICE_MSG_ADD);
		for (uint32_t k = 0; k < n; k++) {
			const struct resend_item *it = &r->ring[(r->ring_head + k) % cap];
			if (!it->is_del && wants(r, p, &it->u.rec))
				batch_add(&adds, &it->u.rec);
		}
		batch_flush(&adds);
		batch_begin(&dels, r, p, SPLICE_MSG_DEL);
		for (uint32_t k = 0; k < n; k++) {
			const struct resend_item *it = &r->ring[(r->ring_head + k) % cap];
			if (it->is_del)
				batch_add(&dels, &it->u.del);
		}
		batch_flush(&dels);
	}
	r->st.resends += n;
	r->ring_head = (r->ring_head + n) % cap;
	r->ring_count -= n;
}

static bool has_work(const struct replication *r)
{
	if (r->ring_count || r->sync == REPLICATION_SYNC_PENDING)
		return true;
	for (unsigned i = 0; i < r->npeers; i++)
		if (r->peers[i].dump.active)
			return true;
	return false;
}

static void on_tick(struct event_loop *loop, uint64_t expirations, void *arg)
{
	struct replication *r = arg;
	uint64_t now = monotonic_ms();

	(void)expirations;
	resend_due(r, now);
	for (unsigned i = 0; i < r->npeers; i++)
		if (r->peers[i].dump.active)
			dump_step(r, &r->peers[i]);
	if (r->sync == REPLICATION_SYNC_PENDING && now >= r->sync_deadline) {
		if (r->sync_attempt > r->cfg.sync_retries)
			sync_finish(r, NULL, false);
		else
			sync_ask_all(r);
	}
	if (!has_work(r) && r->timer_fd >= 0) {
		event_loop_del_fd(loop, r->timer_fd);
		r->timer_fd = -1;
	}
}

static void ensure_timer(struct replication *r)
{
	if (r->timer_fd >= 0 || !r->loop)
		return;
	int fd = event_loop_add_timer(r->loop, (uint32_t)r->cfg.tick_ms, on_tick, r);
	if (fd < 0)
		log_rl(&r->rl, LOG_ERR, "replication: no timer: %s", strerror(-fd));
	else
		r->timer_fd = fd;
}

/* ---- receiving ---- */

static void count_apply(struct peer *p, int rc)
{
	if (rc == SPLICE_APPLY_NEW || rc == SPLICE_APPLY_UPDATED)
		p->pub.st.applied++;
	else if (rc == SPLICE_APPLY_DUPLICATE)
		p->pub.st.duplicates++;
	else if (rc == SPLICE_APPLY_STALE)
		p->pub.st.stale++;
	else
		p->pub.st.refused++;
}

static void apply_records(struct replication *r, struct peer *p, const struct splice_msg_view *m)
{
	for (unsigned i = 0; i < m->count; i++) {
		struct splice_record rec;
		splice_msg_record_at(m, i, &rec);
		count_apply(p, call_add(r, p, &rec));
	}
}

static void on_sync_end(struct replication *r, struct peer *p, const struct splice_msg_view *m)
{
	if (!p->rx.active || m->sync_id != p->rx.sync_id)
		return;
	p->rx.active = false;
	if (p->rx.chunks == m->chunks && p->rx.records == m->records) {
		p->pub.st.syncs_complete++;
		if (r->sync == REPLICATION_SYNC_PENDING)
			sync_finish(r, p, true);
		return;
	}
	p->pub.st.syncs_incomplete++;
	if (r->sync == REPLICATION_SYNC_PENDING && r->sync_attempt <= r->cfg.sync_retries) {
		r->sync_attempt++;
		r->st.sync_attempts++;
		sync_ask(r, p);
	}
}

static void dispatch(struct replication *r, struct peer *p, const struct splice_msg_view *m)
{
	switch (m->type) {
	case SPLICE_MSG_ADD:
		apply_records(r, p, m);
		break;
	case SPLICE_MSG_DEL:
		for (unsigned i = 0; i < m->count; i++) {
			struct splice_del d;
			splice_msg_del_at(m, i, &d);
			if (call_del(r, p, &d) == 0)
				p->pub.st.deleted++;
			else
				p->pub.st.del_missing++;
		}
		break;
	case SPLICE_MSG_TOUCH:
		for (unsigned i = 0; i < m->count; i++) {
			if (call_touch(r, p, splice_msg_touch_at(m, i)) == 0)
				p->pub.st.touched++;
			else
				p->pub.st.touch_missing++;
		}
		break;
	case SPLICE_MSG_SYNC_REQUEST:
		p->pub.st.sync_requests++;
		r->st.dumps_served++;
		p->dump = (struct dump_job){.active = true, .sync_id = m->sync_id};
		dump_step(r, p);
		if (p->dump.active)
			ensure_timer(r);
		break;
	case SPLICE_MSG_SYNC_DATA:
		p->pub.st.sync_chunks++;
		p->pub.st.sync_records += m->count;
		if (p->rx.active && m->sync_id == p->rx.sync_id) {
			p->rx.chunks++;
			p->rx.records += m->count;
		}
		apply_records(r, p, m);
		break;
	case SPLICE_MSG_SYNC_END:
		on_sync_end(r, p, m);
		break;
	default:
		break;
	}
}

static void handle_datagram(struct replication *r, const uint8_t *buf, size_t len,
			    const struct sockaddr_in *from)
{
	struct peer *src = peer_by_addr(r, from);
	struct auth_msg_view v;
	int rc = auth_msg_open(&r->receiver, &r->key, buf, len, realtime_us() / 1000u, &v);

	if (rc != AUTH_OK) {
		if (src)
			src->pub.st.auth_rejected[-rc]++;
		else
			r->st.unknown_source[-rc]++;
		return;
	}
	struct peer *p = peer_by_id(r, v.sender);
	if (!p) { /* cannot happen: the allow-list holds exactly the peers */
		r->st.unknown_source[-AUTH_E_UNKNOWN_SENDER]++;
		return;
	}
	if (p != src)
		p->pub.st.wrong_source++;
	p->pub.st.received++;
	struct splice_msg_view m;
	rc = splice_msg_decode(v.type, v.body, v.body_len, &m);
	if (rc != SPLICE_MSG_OK) {
		p->pub.st.decode_rejected[-rc]++;
		log_rl(&r->rl, LOG_WARNING, "replication: %s sent a bad %s message: %s",
		       p->pub.cfg.name, splice_msg_type_name(v.type), splice_msg_error_name(rc));
		return;
	}
	dispatch(r, p, &m);
}

static void on_readable(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	struct replication *r = arg;

	(void)loop;
	(void)fd;
	(void)events;
	for (int i = 0; i < RX_BATCH; i++) {
		struct sockaddr_in from;
		memset(&from, 0, sizeof(from));
		ssize_t n = r->ops->recv(r->tstate, r->rxbuf, sizeof(r->rxbuf), &from);
		if (n == -EAGAIN || n == -EWOULDBLOCK)
			return;
		if (n == -EINTR)
			continue;
		if (n < 0) {
			r->st.recv_errors++;
			return;
		}
		if ((uint64_t)n > r->cfg.max_datagram || (size_t)n > sizeof(r->rxbuf)) {
			r->st.oversize++;
			continue;
		}
		handle_datagram(r, r->rxbuf, (size_t)n, &from);
	}
}

/* ---- create / destroy ---- */

int replication_create(struct replication **out, const struct replication_config *cfg,
		       struct event_loop *loop, struct splice_table *table,
		       const struct replication_callbacks *cb,
		       const struct replication_transport_ops *ops, char *err, size_t errlen)
{
	char msg[256];
	int rc;

	*out = NULL;
	if (cfg->max_datagram <
		AUTH_MSG_OVERHEAD + SPLICE_MSG_PREFIX_LEN + 8 + SPLICE_MSG_RECORD_LEN ||
	    cfg->max_datagram > AUTH_MSG_OVERHEAD + AUTH_MSG_MAX_BODY || cfg->resend_queue == 0 ||
	    cfg->sync_burst == 0 || cfg->tick_ms == 0 || cfg->tick_ms > 60000) {
		snprintf(err, errlen,
			 "replication: max_datagram, resend_queue, sync_burst or "
			 "tick out of range");
		return -EINVAL;
	}
	struct replication *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cfg = *cfg;
	r->cfg.npeers = 0;
	r->loop = loop;
	r->table = table;
	r->ops = ops ? ops : &replication_udp_transport;
	r->fd = r->timer_fd = -1;
	r->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(1000, 5);
	if (cb)
		r->cb = *cb;
	if (!r->cfg.node_id)
		r->cfg.node_id = ntohl(cfg->listen.sin_addr.s_addr);
	if (!r->cfg.node_id) {
		snprintf(err, errlen, "replication: set id, or listen on a specific address");
		rc = -EINVAL;
		goto fail;
	}
	if (cfg->key_file[0] && cfg->key[0]) {
		snprintf(err, errlen, "replication: key and key_file are both set");
		rc = -EINVAL;
		goto fail;
	}
	rc = cfg->key_file[0] ? auth_key_load_file(cfg->key_file, &r->key, msg, sizeof(msg))
	     : cfg->key[0]    ? auth_key_from_hex(&r->key, cfg->key, msg, sizeof(msg))
			      : (snprintf(msg, sizeof(msg), "no key (key_file or key)"), -EINVAL);
	if (rc < 0) {
		snprintf(err, errlen, "replication: %s", msg);
		goto fail;
	}
	struct auth_receiver_config ac;
	auth_receiver_config_default(&ac);
	ac.max_senders = REPLICATION_MAX_PEERS;
	ac.max_age_ms = cfg->max_age_ms;
	ac.max_future_ms = cfg->max_future_ms;
	rc = auth_receiver_init(&r->receiver, &ac);
	if (rc < 0) {
		snprintf(err, errlen, "replication: auth receiver: %s", strerror(-rc));
		goto fail;
	}
	auth_sender_init(&r->sender, r->cfg.node_id, 0);
	r->body_cap = (size_t)cfg->max_datagram - AUTH_MSG_OVERHEAD;
	r->txbuf = malloc((size_t)cfg->max_datagram);
	r->body = malloc(r->body_cap);
	r->ring = calloc(cfg->resend_queue, sizeof(*r->ring));
	if (!r->txbuf || !r->body || !r->ring) {
		snprintf(err, errlen, "replication: out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < cfg->npeers; i++) {
		rc = replication_add_peer(r, &cfg->peers[i], err, errlen);
		if (rc < 0)
			goto fail;
	}
	rc = r->ops->open(&r->tstate, &cfg->listen, cfg);
	if (rc < 0) {
		snprintf(err, errlen, "replication: %s transport on port %u: %s", r->ops->name,
			 ntohs(cfg->listen.sin_port), strerror(-rc));
		goto fail;
	}
	r->fd = rc;
	if (loop) {
		rc = event_loop_add_fd(loop, r->fd, EPOLLIN, on_readable, r);
		if (rc < 0) {
			snprintf(err, errlen, "replication: event loop: %s", strerror(-rc));
			goto fail;
		}
	}
	*out = r;
	return 0;
fail:
	replication_destroy(r);
	return rc;
}

void replication_destroy(struct replication *r)
{
	if (!r)
		return;
	if (r->loop && r->timer_fd >= 0)
		event_loop_del_fd(r->loop, r->timer_fd);
	if (r->fd >= 0) {
		if (r->loop)
			event_loop_del_fd(r->loop, r->fd);
		r->ops->close(r->tstate);
	}
	auth_receiver_free(&r->receiver);
	auth_key_wipe(&r->key);
	free(r->txbuf);
	free(r->body);
	free(r->ring);
	free(r);
}

/* ---- accessors and counters ---- */

uint32_t replication_node_id(const struct replication *r)
{
	return r->cfg.node_id;
}

int replication_local_addr(const struct replication *r, struct sockaddr_in *out)
{
	return r->ops->local_addr ? r->ops->local_addr(r->tstate, out) : -ENOSYS;
}

unsigned replication_peer_count(const struct replication *r)
{
	return r->npeers;
}

const struct replication_peer *replication_peer_at(const struct replication *r, unsigned i)
{
	return i < r->npeers ? &r->peers[i].pub : NULL;
}

const struct replication_peer *replication_peer_by_name(const struct replication *r,
							const char *name)
{
	for (unsigned i = 0; i < r->npeers; i++)
		if (strcmp(r->peers[i].pub.cfg.name, name) == 0)
			return &r->peers[i].pub;
	return NULL;
}

const struct replication_stats *replication_stats(const struct replication *r)
{
	return &r->st;
}

const struct auth_receiver *replication_auth(const struct replication *r)
{
	return &r->receiver;
}
