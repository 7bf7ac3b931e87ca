/* proxy_splice - see proxy_splice.h. */
#include "proxy_splice.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "proxy.h"
#include "tcp_options.h"
#include "tcp_repair.h"

/* How often peers hear which splices are busy; well below the idle time. */
#define TOUCH_INTERVAL_MS 10000
#define TOUCH_BATCH	  64

/* The drained bytes are delivered (or given up): the peers may forward the
 * backend's segments themselves again. */
static void owed_settled(struct proxy *px, struct splice_entry *e)
{
	if (!(e->rec.state & SPLICE_ST_OWED))
		return;
	e->rec.state &= (uint8_t)~SPLICE_ST_OWED;
	e->rec.gen++;
	if (px->repl)
		replication_send_add(px->repl, &e->rec);
}

/* An injection ends (done, failed or its splice gone): its resends count. */
static void inject_release(struct proxy *px, struct pending_inject *pi)
{
	px->count.inject_resent += pi->inj.segments_resent;
	px->count.inject_recoveries += pi->inj.recoveries;
	splice_inject_free(&pi->inj);
	pi->used = false;
}

static void on_removed(void *ctx, struct splice_entry *e, enum splice_remove_reason why)
{
	(void)why;
	struct proxy *px = ctx;
	struct pending_inject *pi = e->user;
	if (pi) {
		inject_release(px, pi);
		e->user = NULL;
	}
	if (e->rec.creator == px->cfg.id)
		proxy_release_port(px, e->rec.backend_key.dport);
}

void proxy_splice_reused(struct proxy *px, struct splice_entry *e)
{
	if (px->repl) {
		struct splice_del d;
		replication_del_from_entry(&d, e);
		d.reason = SPLICE_CLOSE_REUSED;
		replication_send_del(px->repl, &d);
	}
	splice_table_reused(px->splices, e);
}

void proxy_splice_closed_here(struct proxy *px, struct splice_entry *e)
{
	if (!px->repl)
		return;
	struct splice_del d;
	replication_del_from_entry(&d, e);
	replication_send_del(px->repl, &d);
}

/* A split-splice backend needs only the splices to itself. */
static bool peer_wants(void *ctx, const struct replication_peer *to,
		       const struct splice_record *rec)
{
	(void)ctx;
	if (to->cfg.kind != REPLICATION_PEER_BACKEND)
		return true;
	return rec->backend_key.saddr == ntohl(to->cfg.addr.sin_addr.s_addr);
}

/* A record of one of our own splices comes back (a sync after a restart):
 * its IVIP port is taken again, or a new connection could be bound to it. */
static int on_add(void *ctx, const struct replication_peer *from, const struct splice_record *rec)
{
	(void)from;
	struct proxy *px = ctx;
	int rc = replication_default_add(px->splices, rec);
	uint16_t port = rec->backend_key.dport;
	if (rc >= 0 && rec->creator == px->cfg.id && port >= px->cfg.port_min &&
	    port <= px->cfg.port_max)
		px->port_used[port - px->cfg.port_min] = 1;
	return rc;
}

static void on_sync_done(void *ctx, const struct replication_peer *from, bool ok)
{
	struct proxy *px = ctx;
	if (ok)
		log_notice("splice table synced%s%s (%u splices)", from ? " from " : "",
			   from ? from->cfg.name : "", splice_table_count(px->splices));
	else
		log_warn("splice table sync failed: no peer answered completely");
}

int proxy_splice_init(struct proxy *px, char *err, size_t errlen)
{
	struct splice_table_config cfg;
	splice_table_config_default(&cfg);
	cfg.max_entries = px->cfg.max_splices;
	cfg.idle_ms = px->cfg.splice_idle_ms;
	cfg.linger_ms = px->cfg.splice_linger_ms;
	cfg.creator = px->cfg.id;
	const struct splice_table_callbacks cb = {.removed = on_removed, .ctx = px};
	int rc = splice_table_create(&px->splices, &cfg, &cb);
	if (rc < 0) {
		snprintf(err, errlen, "splice table: %s", strerror(-rc));
		return rc;
	}
	/* At most one owed request per connection being set up at a time,
	 * plus those still waiting for their acknowledgement. */
	px->ninjects = px->cfg.max_clients;
	px->injects = calloc(px->ninjects, sizeof(*px->injects));
	if (!px->injects) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

int proxy_splice_open(struct proxy *px, char *err, size_t errlen)
{
	if (px->cfg.repl.npeers == 0)
		return 0; /* a single proxy: nothing to replicate */
	if (px->cfg.repl.node_id == 0)
		px->cfg.repl.node_id = px->cfg.id;
	if (px->cfg.repl.node_id != px->cfg.id) {
		snprintf(err, errlen, "[replication] id %u differs from [proxy] id %u",
			 px->cfg.repl.node_id, px->cfg.id);
		return -EINVAL;
	}
	const struct replication_callbacks cb = {
	    .add = on_add, .sync_done = on_sync_done, .wants = peer_wants, .ctx = px};
	int rc = replication_create(&px->repl, &px->cfg.repl, &px->daemon->loop, px->splices, &cb,
				    NULL, err, errlen);
	if (rc < 0)
		return rc;
	/* A (re)starting proxy learns the live splices from its peers. */
	replication_request_sync(px->repl);
	return 0;
}

void proxy_splice_close(struct proxy *px)
{
	if (px->repl)
		replication_destroy(px->repl);
	px->repl = NULL;
	if (px->splices)
		splice_table_destroy(px->splices);
	px->splices = NULL;
	free(px->injects);
	px->injects = NULL;
}

static struct pending_inject *inject_alloc(struct proxy *px)
{
	for (unsigned i = 0; i < px->ninjects; i++)
		if (!px->injects[i].used) {
			memset(&px->injects[i], 0, sizeof(px->injects[i]));
			px->injects[i].used = true;
			return &px->injects[i];
		}
	return NULL;
}

/* Freezes the client socket and takes a copy of what it received but the
 * proxy has not read. Reading it normally would make the kernel announce a
 * reopened window to the client before the splice exists (the client then
 * sends into a window the backend never offered); a peek under repair
 * leaves the socket's state exactly as the client last saw it. */
static int freeze_client(struct proxy *px, struct client_conn *c, struct tcp_repair_state *cs)
{
	int rc = tcp_repair_on(c->cfd);
	if (rc < 0 || (rc = tcp_repair_dump(c->cfd, cs)) < 0)
		return rc;
	if (cs->inq == 0)
		return 0;
	if (cs->inq > c->cap - c->len)
		return -ENOBUFS;
	ssize_t n = tcp_repair_peek_recv(c->cfd, c->buf + c->len, cs->inq);
	if (n != (ssize_t)cs->inq)
		return n < 0 ? (int)n : -EAGAIN;
	c->len += (size_t)n;
	px->count.socket_bytes_read += (uint64_t)n;
	return 0;
}

static int splice_create_frozen(struct proxy *px, struct client_conn *c)
{
	struct tcp_repair_state cs, bs;
	int rc = freeze_client(px, c, &cs);
	if (rc < 0) {
		log_rl(&px->log_rl, LOG_WARNING, "cannot freeze client socket: %s", strerror(-rc));
		return rc;
	}
	if ((rc = tcp_repair_on(c->bfd)) < 0 || (rc = tcp_repair_dump(c->bfd, &bs)) < 0) {
		log_rl(&px->log_rl, LOG_WARNING, "cannot freeze backend socket: %s", strerror(-rc));
		return rc;
	}
	if (bs.inq != 0) {
		/* The backend spoke before the request: not a protocol we splice. */
		log_rl(&px->log_rl, LOG_WARNING, "backend sent %u bytes before the request",
		       bs.inq);
		return -EPROTO;
	}
	struct splice_endpoints e = {
	    .client_addr = ntohl(c->client.sin_addr.s_addr),
	    .client_port = ntohs(c->client.sin_port),
	    .vip_addr = ntohl(px->cfg.listen.sin_addr.s_addr),
	    .vip_port = ntohs(px->cfg.listen.sin_port),
	    .ivip_addr = ntohl(px->cfg.ivip.s_addr),
	    .ivip_port = c->ivip_port,
	    .backend_addr = ntohl(c->backend->addr.sin_addr.s_addr),
	    .backend_port = ntohs(c->backend->addr.sin_port),
	    .c_rcv_nxt = cs.rcv_nxt,
	    .c_snd_nxt = cs.snd_nxt,
	    .b_rcv_nxt = bs.rcv_nxt,
	    /* The drained bytes are delivered by us, in B's numbering. */
	    .b_snd_nxt = bs.snd_nxt + (uint32_t)c->len,
	    .c_snd_wscale = cs.snd_wscale,
	    .c_rcv_wscale = cs.rcv_wscale,
	    .b_snd_wscale = bs.snd_wscale,
	    .b_rcv_wscale = bs.rcv_wscale,
	    .c_timestamps = cs.timestamps,
	    .b_timestamps = bs.timestamps,
	    .c_ts_now = cs.ts_now,
	    .b_ts_now = bs.ts_now,
	};
	bool ts_ok = true;
	if (e.c_timestamps && e.b_timestamps) {
		ts_ok = tsval_cache_get(&px->tsvals, e.client_addr, e.client_port, e.vip_addr,
					e.vip_port, &e.client_tsval_last) &&
			tsval_cache_get(&px->tsvals, e.backend_addr, e.backend_port, e.ivip_addr,
					e.ivip_port, &e.backend_tsval_last);
		if (!ts_ok) {
			/* Without the peers' last TSval the translated clocks could
			 * run backwards (PAWS drops); refuse rather than stall. */
			px->count.ts_cache_miss++;
			return -ENOENT;
		}
	}
	uint64_t now = monotonic_ms();
	struct splice_record rec;
	uint16_t backend_index = (uint16_t)(c->backend - px->cfg.router.backends);
	splice_record_from_endpoints(&rec, splice_table_new_id(px->splices), backend_index, &e);
	if (c->len > 0)
		rec.state |= SPLICE_ST_OWED;
	struct splice_entry *entry = NULL;
	rc = splice_table_apply(px->splices, &rec, now, &entry);
	if (rc < 0 || !entry) {
		log_rl(&px->log_rl, LOG_WARNING, "cannot install splice: %s", strerror(-rc));
		return rc < 0 ? rc : -EINVAL;
	}
	if (px->repl)
		replication_send_add(px->repl, &entry->rec);
	if (c->len > 0) {
		struct pending_inject *pi = inject_alloc(px);
		uint32_t wnd_field = cs.snd_wnd >> bs.rcv_wscale;
		struct tcp_segment_spec tmpl = {
		    .saddr = e.ivip_addr,
		    .daddr = e.backend_addr,
		    .sport = e.ivip_port,
		    .dport = e.backend_port,
		    .ack = bs.rcv_nxt,
		    .window = (uint16_t)(wnd_field > 65535 ? 65535 : wnd_field),
		    .timestamp = bs.timestamps,
		    .tsval = bs.ts_now,
		    .tsecr = e.backend_tsval_last,
		};
		if (!pi || splice_inject_init(&pi->inj, &tmpl, bs.snd_nxt, c->buf, c->len,
					      bs.mss ? bs.mss : 536, bs.snd_wnd,
					      (unsigned)px->cfg.inject_rto_ms,
					      px->cfg.inject_retries) < 0) {
			if (pi)
				pi->used = false;
			splice_table_remove(px->splices, entry);
			c->ivip_port = 0; /* released by the removal */
			return -ENOMEM;
		}
		pi->splice_id = rec.id;
		entry->user = pi;
		px->count.injected_bytes += c->len;
		splice_inject_pump(&pi->inj, px->raw_fd, now);
	}
	tcp_repair_close_silently(c->cfd);
	tcp_repair_close_silently(c->bfd);
	log_debug("spliced %s:%u <-> backend port %u (%zu request bytes)",
		  inet_ntoa(c->client.sin_addr), e.client_port, e.ivip_port, c->len);
	return 0;
}

int proxy_splice_create(struct proxy *px, struct client_conn *c)
{
	int rc = splice_create_frozen(px, c);
	if (rc < 0) {
		/* Thawed, the sockets can still answer the client with an error
		 * and close normally; frozen they would fall silent. */
		tcp_repair_off(c->cfd);
		tcp_repair_off(c->bfd);
	}
	return rc;
}

int proxy_splice_install(struct proxy *px, const struct splice_record *rec,
			 struct splice_entry **out)
{
	*out = NULL;
	int rc = splice_table_apply(px->splices, rec, monotonic_ms(), out);
	if (rc < 0 || !*out)
		return rc < 0 ? rc : -EINVAL;
	if (px->repl)
		replication_send_add(px->repl, &(*out)->rec);
	return 0;
}

void proxy_splice_backend_ack(struct proxy *px, uint64_t splice_id, uint32_t ack,
			      uint32_t wnd_bytes, const struct tcp_options *o)
{
	struct splice_entry *e = splice_table_find(px->splices, splice_id);
	struct pending_inject *pi = e ? e->user : NULL;
	if (!pi)
		return;
	splice_inject_ack(&pi->inj, ack, wnd_bytes);
	if (o && o->sack_count)
		splice_inject_sack(&pi->inj, o->sack, o->sack_count);
	if (o && o->has_timestamp)
		splice_inject_echo(&pi->inj, o->tsecr);
	if (splice_inject_done(&pi->inj)) {
		inject_release(px, pi);
		e->user = NULL;
		owed_settled(px, e);
		return;
	}
	splice_inject_pump(&pi->inj, px->raw_fd, monotonic_ms());
}

/* Peers that see none of a splice's segments would expire it as idle while
 * it is busy here: tell them which splices carried traffic. */
static void touch_peers(struct proxy *px, uint64_t now_ms)
{
	uint64_t ids[TOUCH_BATCH];
	unsigned n = 0;
	uint32_t cursor = 0;
	struct splice_entry *e;
	while ((e = splice_table_next(px->splices, &cursor))) {
		if (now_ms - e->last_seen_ms > TOUCH_INTERVAL_MS)
			continue;
		ids[n++] = e->rec.id;
		if (n == TOUCH_BATCH) {
			replication_send_touch(px->repl, ids, n);
			n = 0;
		}
	}
	if (n)
		replication_send_touch(px->repl, ids, n);
}

void proxy_splice_tick(struct proxy *px, uint64_t now_ms)
{
	if (px->repl && now_ms - px->last_touch_ms >= TOUCH_INTERVAL_MS) {
		px->last_touch_ms = now_ms;
		touch_peers(px, now_ms);
	}
	for (unsigned i = 0; i < px->ninjects; i++) {
		struct pending_inject *pi = &px->injects[i];
		if (!pi->used)
			continue;
		splice_inject_pump(&pi->inj, px->raw_fd, now_ms);
		if (splice_inject_failed(&pi->inj)) {
			/* The backend never acknowledged the request: the client
			 * will see its connection stall and time out. */
			px->count.inject_failed++;
			struct splice_entry *e = splice_table_find(px->splices, pi->splice_id);
			inject_release(px, pi);
			if (e) {
				e->user = NULL;
				owed_settled(px, e);
			}
		}
	}
	splice_table_expire(px->splices, now_ms);
}
