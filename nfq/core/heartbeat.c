/* heartbeat - see heartbeat.h.
 *
 * The sender is a timer and an unconnected UDP socket: every interval it
 * asks its owner for a status, seals it (auth_msg) and sends one copy to
 * each target. A send error is counted and never retried: the next beat
 * is the retry.
 *
 * The receiver is a UDP socket and a tick timer (interval / 10, at least
 * 2 ms, so detection lags the deadline by at most one tick). A readable
 * socket is drained for at most RX_BURST datagrams per round, so a flood
 * of garbage cannot starve the packet queue sharing the loop; the rest
 * waits for the next round (level-triggered epoll).
 */
#include "heartbeat.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "event_loop.h"
#include "log.h"
#include "packet.h"
#include "stats.h"

#define RX_BURST 64
#define RX_BUF	 2048

/* ---- message ------------------------------------------------------------- */

void heartbeat_encode(const struct heartbeat_status *st, uint8_t out[HEARTBEAT_BODY_LEN])
{
	out[0] = HEARTBEAT_VERSION;
	out[1] = st->flags;
	pkt_store_be16(out + 2, st->workload);
	pkt_store_be32(out + 4, st->interval_ms);
	pkt_store_be32(out + 8, st->connections);
	pkt_store_be16(out + 12, st->cpu_permille);
	pkt_store_be16(out + 14, st->queue_permille);
}

int heartbeat_decode(const uint8_t *body, size_t len, struct heartbeat_status *out)
{
	if (len != HEARTBEAT_BODY_LEN || body[0] != HEARTBEAT_VERSION ||
	    (body[1] & ~HEARTBEAT_F_ALL) != 0)
		return HEARTBEAT_E_MALFORMED;
	struct heartbeat_status st = {
	    .flags = body[1],
	    .workload = pkt_load_be16(body + 2),
	    .interval_ms = pkt_load_be32(body + 4),
	    .connections = pkt_load_be32(body + 8),
	    .cpu_permille = pkt_load_be16(body + 12),
	    .queue_permille = pkt_load_be16(body + 14),
	};
	if (st.workload > HEARTBEAT_WORKLOAD_MAX || st.cpu_permille > 1000 ||
	    st.queue_permille > 1000 || st.interval_ms == 0)
		return HEARTBEAT_E_MALFORMED;
	*out = st;
	return 0;
}

ssize_t heartbeat_seal(struct auth_sender *s, const struct auth_key *key,
		       const struct heartbeat_status *st, void *out, size_t cap, uint64_t now_ms)
{
	uint8_t body[HEARTBEAT_BODY_LEN];
	heartbeat_encode(st, body);
	return auth_msg_seal_at(s, key, HEARTBEAT_MSG_TYPE, body, sizeof(body), out, cap, now_ms);
}

/* ---- workload ------------------------------------------------------------ */

/* Free fraction of one resource, per mille. */
static uint32_t free_permille(uint32_t used, uint32_t max)
{
	if (max == 0)
		return 1000;
	if (used >= max)
		return 0;
	return (uint32_t)(1000 - (uint64_t)used * 1000 / max);
}

uint16_t heartbeat_workload(uint32_t conns, uint32_t max_conns, uint32_t cpu_permille,
			    uint32_t queue_len, uint32_t queue_max)
{
	uint32_t w = free_permille(conns, max_conns);
	uint32_t c = free_permille(cpu_permille, 1000);
	uint32_t q = free_permille(queue_len, queue_max);
	if (c < w)
		w = c;
	if (q < w)
		w = q;
	return (uint16_t)w;
}

uint32_t heartbeat_cpu_feed(struct heartbeat_cpu *c, uint64_t busy, uint64_t total)
{
	if (!c->primed || total <= c->total || busy < c->busy) {
		c->primed = true;
		c->busy = busy;
		c->total = total;
		return c->smoothed / 16;
	}
	uint64_t db = busy - c->busy, dt = total - c->total;
	c->busy = busy;
	c->total = total;
	uint32_t sample = (uint32_t)(db >= dt ? 1000 : db * 1000 / dt);
	/* EWMA, gain 1/4, kept in 1/16 per mille for precision. */
	int64_t s = c->smoothed;
	s += ((int64_t)sample * 16 - s) / 4;
	c->smoothed = (uint32_t)s;
	return c->smoothed / 16;
}

int heartbeat_cpu_sample(struct heartbeat_cpu *c)
{
	FILE *f = fopen("/proc/stat", "re");
	if (!f)
		return -errno;
	unsigned long long v[8] = {0};
	int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		       &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n < 4)
		return -EIO;
	uint64_t total = 0;
	for (int i = 0; i < 8; i++)
		total += v[i];
	uint64_t idle = v[3] + v[4]; /* idle + iowait */
	return (int)heartbeat_cpu_feed(c, total - idle, total);
}

/* ---- sender -------------------------------------------------------------- */

void heartbeat_sender_config_default(struct heartbeat_sender_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->interval_ms = HEARTBEAT_DEFAULT_INTERVAL;
}

int heartbeat_parse_target(void *dst, const struct config_key *key, const char *value, char *err,
			   size_t errlen)
{
	struct heartbeat_sender_config *cfg = (void *)((char *)dst + key->offset);
	if (cfg->ntargets == HEARTBEAT_MAX_TARGETS) {
		snprintf(err, errlen, "more than %u targets", HEARTBEAT_MAX_TARGETS);
		return -1;
	}
	if (config_parse_ipv4_port(value, &cfg->targets[cfg->ntargets], err, errlen) < 0)
		return -1;
	cfg->ntargets++;
	return 0;
}

void heartbeat_dump_targets(FILE *out, const struct config_key *key, const void *dst)
{
	const struct heartbeat_sender_config *cfg = (const void *)((const char *)dst + key->offset);
	for (unsigned i = 0; i < cfg->ntargets; i++) {
		char a[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &cfg->targets[i].sin_addr, a, sizeof(a));
		fprintf(out, "%s = %s:%u\n", key->key, a, ntohs(cfg->targets[i].sin_port));
	}
}

/* The standalone tables: the macros over a wrapper whose only member sits
 * at offset 0, so dst may be the config struct itself. */
struct hb_sender_file {
	struct heartbeat_sender_config c;
};
struct hb_receiver_file {
	struct heartbeat_receiver_config c;
};
_Static_assert(offsetof(struct hb_sender_file, c) == 0, "wrapper offset");
_Static_assert(offsetof(struct hb_receiver_file, c) == 0, "wrapper offset");

const struct config_key heartbeat_sender_config_keys[] = {
    HEARTBEAT_SENDER_KEYS(struct hb_sender_file, c),
    {0},
};

const struct config_key heartbeat_receiver_config_keys[] = {
    HEARTBEAT_RECEIVER_KEYS(struct hb_receiver_file, c),
    {0},
};

static void sender_tick(struct event_loop *loop, uint64_t expirations, void *arg)
{
	(void)loop;
	(void)expirations;
	heartbeat_sender_beat(arg);
}

int heartbeat_sender_beat(struct heartbeat_sender *s)
{
	struct heartbeat_status st = {.workload = HEARTBEAT_WORKLOAD_MAX};
	if (s->status && s->status(s->ctx, &st) < 0) {
		s->st.skipped++;
		return -EAGAIN;
	}
	st.interval_ms = (uint32_t)s->cfg.interval_ms;
	if (st.workload > HEARTBEAT_WORKLOAD_MAX)
		st.workload = HEARTBEAT_WORKLOAD_MAX;
	st.flags &= HEARTBEAT_F_ALL;
	uint8_t buf[HEARTBEAT_MSG_LEN];
	ssize_t len =
	    heartbeat_seal(&s->auth, &s->key, &st, buf, sizeof(buf), realtime_us() / 1000);
	if (len < 0) {
		s->st.seal_errors++;
		return (int)len;
	}
	s->st.last_workload = st.workload;
	s->st.last_flags = st.flags;
	int rc = -EHOSTUNREACH;
	for (unsigned i = 0; i < s->cfg.ntargets; i++) {
		const struct sockaddr_in *to = &s->cfg.targets[i];
		if (sendto(s->fd, buf, (size_t)len, MSG_DONTWAIT, (const struct sockaddr *)to,
			   sizeof(*to)) == len) {
			s->st.sent++;
			rc = 0;
		} else {
			s->st.send_errors++;
		}
	}
	return rc;
}

static int fail(char *err, size_t errlen, int rc, const char *what)
{
	if (err && errlen)
		snprintf(err, errlen, "heartbeat: %s: %s", what, strerror(-rc));
	return rc;
}

int heartbeat_sender_open(struct heartbeat_sender *s, const struct heartbeat_sender_config *cfg,
			  const struct auth_key *key, struct event_loop *loop,
			  heartbeat_status_fn status, void *ctx, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->fd = s->timer_fd = -1;
	s->cfg = *cfg;
	s->status = status;
	s->ctx = ctx;
	if (cfg->ntargets == 0 || cfg->interval_ms == 0 || cfg->interval_ms > UINT32_MAX)
		return fail(err, errlen, -EINVAL, "no target or bad interval");
	if (key) {
		s->key = *key;
	} else {
		char kerr[256];
		int rc = auth_key_load_file(cfg->key_file, &s->key, kerr, sizeof(kerr));
		if (rc < 0) {
			snprintf(err, errlen, "heartbeat: key file '%s': %s", cfg->key_file, kerr);
			return rc;
		}
	}
	auth_sender_init(&s->auth, cfg->id, 0);
	s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return fail(err, errlen, -errno, "socket");
	if (cfg->source.s_addr != 0) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr = cfg->source};
		if (bind(s->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			int rc = -errno;
			heartbeat_sender_close(s);
			return fail(err, errlen, rc, "bind source");
		}
	}
	if (loop) {
		int t = event_loop_add_timer(loop, (uint32_t)cfg->interval_ms, sender_tick, s);
		if (t < 0) {
			heartbeat_sender_close(s);
			return fail(err, errlen, t, "timer");
		}
		s->loop = loop;
		s->timer_fd = t;
	}
	heartbeat_sender_beat(s);
	return 0;
}

void heartbeat_sender_close(struct heartbeat_sender *s)
{
	if (s->loop && s->timer_fd >= 0)
		event_loop_del_fd(s->loop, s->timer_fd);
	s->timer_fd = -1;
	s->loop = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	auth_key_wipe(&s->key);
}

void heartbeat_sender_collect_stats(const struct heartbeat_sender *s, struct stats_report *r,
				    const char *prefix)
{
	stats_add(r, prefix, "sent", s->st.sent);
	stats_add(r, prefix, "send_errors", s->st.send_errors);
	stats_add(r, prefix, "skipped", s->st.skipped + s->st.seal_errors);
	stats_add(r, prefix, "workload", s->st.last_workload);
	stats_add(r, prefix, "not_ready", (s->st.last_flags & HEARTBEAT_F_NOT_READY) != 0);
}

/* ---- membership ---------------------------------------------------------- */

static const char *const state_names[] = {"unknown", "joining", "up", "down"};

const char *hb_member_state_name(enum hb_member_state s)
{
	return (unsigned)s < 4 ? state_names[s] : "?";
}

void hb_membership_config_default(struct hb_membership_config *cfg)
{
	*cfg = (struct hb_membership_config){
	    .interval_ms = HEARTBEAT_DEFAULT_INTERVAL,
	    .miss_count = 3,
	    .join_count = 1,
	    .rejoin_count = 3,
	};
}

int hb_membership_init(struct hb_membership *m, const struct hb_membership_config *cfg,
		       const uint32_t *ids, const struct in_addr *addrs, unsigned n)
{
	memset(m, 0, sizeof(*m));
	if (n > HEARTBEAT_MAX_MEMBERS || cfg->interval_ms == 0 || cfg->miss_count == 0 ||
	    cfg->join_count == 0 || cfg->rejoin_count == 0)
		return -EINVAL;
	m->cfg = *cfg;
	for (unsigned i = 0; i < n; i++) {
		for (unsigned j = 0; j < i; j++)
			if (ids[j] == ids[i])
				return -EINVAL;
		m->members[i].id = ids[i];
		if (addrs)
			m->members[i].addr = addrs[i];
	}
	m->n = n;
	return 0;
}

int hb_membership_find(const struct hb_membership *m, uint32_t id)
{
	for (unsigned i = 0; i < m->n; i++)
		if (m->members[i].id == id)
			return (int)i;
	return -1;
}

static uint64_t dead_after(const struct hb_membership *m)
{
	return m->cfg.interval_ms * m->cfg.miss_count;
}

static void go_down(struct hb_membership *m, struct hb_member *mb, uint64_t now_ms)
{
	mb->state = HB_DOWN;
	mb->run = 0;
	mb->down_since_ms = now_ms;
	mb->downs++;
	m->changes++;
}

bool hb_membership_beat(struct hb_membership *m, unsigned idx, const struct heartbeat_status *st,
			uint64_t now_ms)
{
	if (idx >= m->n)
		return false;
	struct hb_member *mb = &m->members[idx];
	bool gap = mb->beats > 0 && now_ms - mb->last_beat_ms > dead_after(m);
	mb->beats++;
	mb->last_beat_ms = now_ms;
	if (st->flags & HEARTBEAT_F_NOT_READY) {
		mb->not_ready_beats++;
		mb->run = 0;
		if (mb->state == HB_UP) {
			mb->drains++;
			go_down(m, mb, now_ms);
			return true;
		}
		if (mb->state == HB_JOINING)
			mb->state = mb->ever_up ? HB_DOWN : HB_UNKNOWN;
		return false;
	}
	mb->status = *st;
	if (mb->state == HB_UP)
		return false;
	if (mb->state != HB_JOINING || gap)
		mb->run = 0;
	mb->run++;
	mb->state = HB_JOINING;
	if (mb->run < (mb->ever_up ? m->cfg.rejoin_count : m->cfg.join_count))
		return false;
	mb->state = HB_UP;
	mb->ever_up = true;
	mb->run = 0;
	mb->up_since_ms = now_ms;
	mb->ups++;
	m->changes++;
	return true;
}

unsigned hb_membership_tick(struct hb_membership *m, uint64_t now_ms)
{
	unsigned left = 0;
	for (unsigned i = 0; i < m->n; i++) {
		struct hb_member *mb = &m->members[i];
		if (mb->state != HB_UP && mb->state != HB_JOINING)
			continue;
		if (now_ms < mb->last_beat_ms || now_ms - mb->last_beat_ms < dead_after(m))
			continue;
		if (mb->state == HB_JOINING) {
			mb->state = mb->ever_up ? HB_DOWN : HB_UNKNOWN;
			mb->run = 0;
			continue;
		}
		uint64_t detect = now_ms - mb->last_beat_ms;
		mb->detect_last_ms = detect;
		mb->detect_sum_ms += detect;
		if (detect > mb->detect_max_ms)
			mb->detect_max_ms = detect;
		go_down(m, mb, now_ms);
		left++;
	}
	return left;
}

/* ---- receiver ------------------------------------------------------------ */

void heartbeat_receiver_config_default(struct heartbeat_receiver_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->listen.sin_family = AF_INET;
	cfg->listen.sin_port = htons(HEARTBEAT_DEFAULT_PORT);
	hb_membership_config_default(&cfg->members);
	cfg->max_age_ms = HEARTBEAT_DEFAULT_MAX_AGE;
	cfg->max_future_ms = HEARTBEAT_DEFAULT_MAX_FUTURE;
	cfg->check_source = true;
	cfg->rcvbuf = 0;
}

int heartbeat_receiver_init(struct heartbeat_receiver *r,
			    const struct heartbeat_receiver_config *cfg, const struct auth_key *key,
			    const uint32_t *ids, const struct in_addr *addrs, unsigned n,
			    heartbeat_update_fn update, void *ctx, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->fd = r->timer_fd = -1;
	r->cfg = *cfg;
	r->update = update;
	r->ctx = ctx;
	int rc = hb_membership_init(&r->members, &cfg->members, ids, addrs, n);
	if (rc < 0)
		return fail(err, errlen, rc, "membership (duplicate ids or bad counts)");
	if (key) {
		r->key = *key;
	} else {
		char kerr[256];
		rc = auth_key_load_file(cfg->key_file, &r->key, kerr, sizeof(kerr));
		if (rc < 0) {
			snprintf(err, errlen, "heartbeat: key file '%s': %s", cfg->key_file, kerr);
			return rc;
		}
	}
	struct auth_receiver_config ac;
	auth_receiver_config_default(&ac);
	ac.max_senders = n ? n : 1;
	ac.max_age_ms = cfg->max_age_ms;
	ac.max_future_ms = cfg->max_future_ms;
	rc = auth_receiver_init(&r->auth, &ac);
	if (rc < 0)
		return fail(err, errlen, rc, "auth receiver");
	r->auth_ready = true;
	for (unsigned i = 0; i < n; i++) {
		rc = auth_receiver_allow(&r->auth, ids[i]);
		if (rc < 0) {
			heartbeat_receiver_close(r);
			return fail(err, errlen, rc, "allow-list");
		}
	}
	return 0;
}

int heartbeat_receiver_input(struct heartbeat_receiver *r, const void *buf, size_t len,
			     const struct sockaddr_in *from, uint64_t wall_ms, uint64_t mono_ms)
{
	struct auth_msg_view v;
	r->st.datagrams++;
	int rc = auth_msg_open(&r->auth, &r->key, buf, len, wall_ms, &v);
	if (rc < 0)
		return rc;
	if (v.type != HEARTBEAT_MSG_TYPE) {
		r->st.wrong_type++;
		return HEARTBEAT_E_WRONG_TYPE;
	}
	struct heartbeat_status st;
	if (heartbeat_decode(v.body, v.body_len, &st) < 0) {
		r->st.malformed++;
		return HEARTBEAT_E_MALFORMED;
	}
	int idx = hb_membership_find(&r->members, v.sender);
	if (idx < 0) /* the allow-list makes this unreachable */
		return AUTH_E_UNKNOWN_SENDER;
	struct hb_member *mb = &r->members.members[idx];
	if (r->cfg.check_source && from && mb->addr.s_addr != 0 &&
	    from->sin_addr.s_addr != mb->addr.s_addr) {
		r->st.wrong_source++;
		return HEARTBEAT_E_WRONG_SOURCE;
	}
	r->st.good++;
	enum hb_member_state before = mb->state;
	bool changed = hb_membership_beat(&r->members, (unsigned)idx, &st, mono_ms);
	if (changed || before != mb->state)
		log_info("heartbeat: proxy %u %s -> %s (workload %u%s)", mb->id,
			 hb_member_state_name(before), hb_member_state_name(mb->state), st.workload,
			 (st.flags & HEARTBEAT_F_NOT_READY) ? ", not ready" : "");
	if (r->update)
		r->update(r->ctx, (unsigned)idx, mb, changed);
	return 0;
}

void heartbeat_receiver_tick(struct heartbeat_receiver *r, uint64_t mono_ms)
{
	enum hb_member_state before[HEARTBEAT_MAX_MEMBERS];
	for (unsigned i = 0; i < r->members.n; i++)
		before[i] = r->members.members[i].state;
	if (hb_membership_tick(&r->members, mono_ms) == 0)
		return;
	for (unsigned i = 0; i < r->members.n; i++) {
		const struct hb_member *mb = &r->members.members[i];
		if (before[i] != HB_UP || mb->state == HB_UP)
			continue;
		log_notice("heartbeat: proxy %u removed: no beat for %llu ms", mb->id,
			   (unsigned long long)mb->detect_last_ms);
		if (r->update)
			r->update(r->ctx, i, mb, true);
	}
}

static void on_readable(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop;
	(void)events;
	struct heartbeat_receiver *r = arg;
	uint8_t buf[RX_BUF];
	for (int i = 0; i < RX_BURST; i++) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&from, &fl);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				r->st.recv_errors++;
			return;
		}
		if ((size_t)n > sizeof(buf)) {
			r->st.datagrams++;
			r->st.truncated++;
			continue;
		}
		heartbeat_receiver_input(r, buf, (size_t)n, &from, realtime_us() / 1000,
					 monotonic_ms());
	}
}

static void on_tick(struct event_loop *loop, uint64_t expirations, void *arg)
{
	(void)loop;
	(void)expirations;
	heartbeat_receiver_tick(arg, monotonic_ms());
}

int heartbeat_receiver_open(struct heartbeat_receiver *r, struct event_loop *loop, char *err,
			    size_t errlen)
{
	r->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->fd < 0)
		return fail(err, errlen, -errno, "socket");
	int one = 1;
	setsockopt(r->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (r->cfg.rcvbuf) {
		int sz = (int)r->cfg.rcvbuf;
		setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	if (bind(r->fd, (const struct sockaddr *)&r->cfg.listen, sizeof(r->cfg.listen)) < 0) {
		int rc = -errno;
		char a[INET_ADDRSTRLEN], what[64];
		inet_ntop(AF_INET, &r->cfg.listen.sin_addr, a, sizeof(a));
		snprintf(what, sizeof(what), "bind %s:%u", a, ntohs(r->cfg.listen.sin_port));
		close(r->fd);
		r->fd = -1;
		return fail(err, errlen, rc, what);
	}
	int rc = event_loop_add_fd(loop, r->fd, EPOLLIN, on_readable, r);
	if (rc < 0) {
		close(r->fd);
		r->fd = -1;
		return fail(err, errlen, rc, "event loop");
	}
	r->loop = loop;
	uint64_t tick = r->cfg.members.interval_ms / 10;
	tick = tick < 2 ? 2 : tick > 100 ? 100 : tick;
	int t = event_loop_add_timer(loop, (uint32_t)tick, on_tick, r);
	if (t < 0)
		return fail(err, errlen, t, "timer");
	r->timer_fd = t;
	return 0;
}

void heartbeat_receiver_close(struct heartbeat_receiver *r)
{
	if (r->loop) {
		if (r->timer_fd >= 0)
			event_loop_del_fd(r->loop, r->timer_fd);
		if (r->fd >= 0)
			event_loop_del_fd(r->loop, r->fd);
	}
	r->timer_fd = -1;
	r->loop = NULL;
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	if (r->auth_ready)
		auth_receiver_free(&r->auth);
	r->auth_ready = false;
	auth_key_wipe(&r->key);
}

void heartbeat_receiver_collect_stats(const struct heartbeat_receiver *r, struct stats_report *rep,
				      const char *prefix)
{
	if (r->auth_ready)
		auth_receiver_collect_stats(&r->auth, rep, prefix);
	stats_add(rep, prefix, "datagrams", r->st.datagrams);
	stats_add(rep, prefix, "good", r->st.good);
	stats_add(rep, prefix, "truncated", r->st.truncated);
	stats_add(rep, prefix, "wrong_type", r->st.wrong_type);
	stats_add(rep, prefix, "malformed", r->st.malformed);
	stats_add(rep, prefix, "wrong_source", r->st.wrong_source);
	stats_add(rep, prefix, "recv_errors", r->st.recv_errors);
	stats_add(rep, prefix, "membership_changes", r->members.changes);
}
