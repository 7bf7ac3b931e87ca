/* liveness_probe - see liveness_probe.h: nonblocking TCP probes in the
 * event loop, one slot per running probe, one shared timeout tick. */
#include "liveness_probe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "event_loop.h"
#include "hex.h"
#include "stats.h"

enum { PH_CONNECTING, PH_SENDING, PH_READING };

struct lprobe_slot {
	struct lprobe_pool *pool;
	bool used;
	int fd;
	int phase;
	size_t sent;
	uint64_t cookie;
	struct sockaddr_in addr;
	uint64_t start_us, deadline_us;
};

#define K(type, key, field, ...)                                                                   \
	CONFIG_##type("probe", key, struct lprobe_config, field, __VA_ARGS__)
const struct config_key lprobe_config_keys[] = {
    K(DURATION_MS, "timeout", timeout_ms, 1, 600000),
    K(U32, "max_inflight", max_inflight, 1, LPROBE_MAX_INFLIGHT),
    K(DURATION_MS, "tick", tick_ms, 1, 10000),
    CONFIG_IPV4("probe", "source", struct lprobe_config, source),
    CONFIG_STR("probe", "send", struct lprobe_config, send),
    {0},
};
#undef K

void lprobe_config_default(struct lprobe_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->timeout_ms = 1000;
	cfg->max_inflight = 16;
	cfg->tick_ms = 10;
}

int lprobe_unescape(const char *text, uint8_t *out, size_t cap)
{
	size_t n = 0;
	for (const char *s = text; *s; s++) {
		int c = (unsigned char)*s;
		if (c == '\\') {
			s++;
			switch (*s) {
			case 'r':
				c = '\r';
				break;
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case '0':
				c = 0;
				break;
			case '\\':
				c = '\\';
				break;
			case 'x': {
				int hi = hex_digit_value(s[1]),
				    lo = hi < 0 ? -1 : hex_digit_value(s[2]);
				if (lo < 0)
					return -EINVAL;
				c = hi * 16 + lo;
				s += 2;
				break;
			}
			default:
				return -EINVAL; /* also a lone trailing backslash */
			}
		}
		if (n >= cap)
			return -ENOSPC;
		out[n++] = (uint8_t)c;
	}
	return (int)n;
}

int lprobe_pool_init(struct lprobe_pool *p, struct event_loop *loop,
		     const struct lprobe_config *cfg, lprobe_done_fn *done, void *arg)
{
	memset(p, 0, sizeof(*p));
	p->timer_fd = -1;
	if (!loop || !cfg || !done || cfg->timeout_ms == 0 || cfg->tick_ms == 0 ||
	    cfg->tick_ms > UINT32_MAX || cfg->max_inflight == 0 ||
	    cfg->max_inflight > LPROBE_MAX_INFLIGHT)
		return -EINVAL;
	int n = lprobe_unescape(cfg->send, p->payload, sizeof(p->payload));
	if (n < 0)
		return -EINVAL;
	p->payload_len = (size_t)n;
	p->cfg = *cfg;
	p->loop = loop;
	p->done = done;
	p->arg = arg;
	p->slots = calloc(cfg->max_inflight, sizeof(*p->slots));
	if (!p->slots)
		return -ENOMEM;
	for (unsigned i = 0; i < cfg->max_inflight; i++) {
		p->slots[i].pool = p;
		p->slots[i].fd = -1;
	}
	return 0;
}

static void slot_close(struct lprobe_pool *p, struct lprobe_slot *s)
{
	if (s->fd >= 0) {
		event_loop_del_fd(p->loop, s->fd);
		close(s->fd);
	}
	s->fd = -1;
	s->used = false;
	p->inflight--;
	if (p->inflight == 0 && p->timer_fd >= 0) {
		event_loop_del_fd(p->loop, p->timer_fd);
		p->timer_fd = -1;
	}
}

void lprobe_pool_free(struct lprobe_pool *p)
{
	if (p->slots)
		for (unsigned i = 0; i < p->cfg.max_inflight; i++)
			if (p->slots[i].used)
				slot_close(p, &p->slots[i]);
	free(p->slots);
	p->slots = NULL;
}

unsigned lprobe_inflight(const struct lprobe_pool *p)
{
	return p->inflight;
}

static void finish(struct lprobe_slot *s, int result)
{
	struct lprobe_pool *p = s->pool;
	uint64_t cookie = s->cookie, rtt = monotonic_us() - s->start_us;
	struct sockaddr_in addr = s->addr;
	slot_close(p, s);
	if (result == 0)
		p->c.alive++;
	else if (result == -ECONNREFUSED)
		p->c.refused++;
	else if (result == -ETIMEDOUT)
		p->c.timeout++;
	else
		p->c.other_error++;
	p->done(p->arg, cookie, &addr, result, rtt);
}

static void on_fd(struct event_loop *loop, int fd, uint32_t events, void *arg);

static int watch(struct lprobe_slot *s, uint32_t events)
{
	struct lprobe_pool *p = s->pool;
	event_loop_del_fd(p->loop, s->fd);
	return event_loop_add_fd(p->loop, s->fd, events, on_fd, s);
}

/* Connected: alive, or send the request and wait for its answer. */
static void advance(struct lprobe_slot *s)
{
	struct lprobe_pool *p = s->pool;
	if (p->payload_len == 0) {
		finish(s, 0);
		return;
	}
	while (s->sent < p->payload_len) {
		ssize_t n = send(s->fd, p->payload + s->sent, p->payload_len - s->sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (s->phase != PH_SENDING) {
					s->phase = PH_SENDING;
					int rc = watch(s, EPOLLOUT);
					if (rc < 0)
						finish(s, rc);
				}
				return;
			}
			if (errno == EINTR)
				continue;
			finish(s, -errno);
			return;
		}
		s->sent += (size_t)n;
	}
	s->phase = PH_READING;
	int rc = watch(s, EPOLLIN);
	if (rc < 0)
		finish(s, rc);
}

static void on_fd(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	struct lprobe_slot *s = arg;
	(void)loop, (void)events;
	if (!s->used || s->fd != fd)
		return;
	if (s->phase == PH_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err == 0 && !(events & EPOLLOUT))
			return; /* spurious */
		if (err) {
			finish(s, -err);
			return;
		}
		s->phase = PH_SENDING;
		advance(s);
		return;
	}
	if (s->phase == PH_SENDING) {
		advance(s);
		return;
	}
	uint8_t buf[512];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n >= 0)
		finish(s, 0); /* a byte, or an orderly close: the application runs */
	else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		finish(s, -errno);
}

static void on_tick(struct event_loop *loop, uint64_t expirations, void *arg)
{
	struct lprobe_pool *p = arg;
	(void)loop, (void)expirations;
	uint64_t now = monotonic_us();
	for (unsigned i = 0; i < p->cfg.max_inflight && p->slots; i++) {
		struct lprobe_slot *s = &p->slots[i];
		if (s->used && now >= s->deadline_us)
			finish(s, -ETIMEDOUT);
	}
}

int lprobe_start(struct lprobe_pool *p, const struct sockaddr_in *addr, uint64_t cookie)
{
	if (!p->slots || !addr || addr->sin_family != AF_INET || addr->sin_port == 0)
		return -EINVAL;
	struct lprobe_slot *s = NULL;
	for (unsigned i = 0; i < p->cfg.max_inflight && !s; i++)
		if (!p->slots[i].used)
			s = &p->slots[i];
	if (!s) {
		p->c.busy++;
		return -EBUSY;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (p->cfg.source.s_addr != 0) {
		struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr = p->cfg.source};
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
			int err = -errno;
			close(fd);
			return err;
		}
	}
	if (p->timer_fd < 0) {
		int t = event_loop_add_timer(p->loop, (uint32_t)p->cfg.tick_ms, on_tick, p);
		if (t < 0) {
			close(fd);
			return t;
		}
		p->timer_fd = t;
	}
	*s = (struct lprobe_slot){
	    .pool = p,
	    .used = true,
	    .fd = fd,
	    .phase = PH_CONNECTING,
	    .cookie = cookie,
	    .addr = *addr,
	    .start_us = monotonic_us(),
	};
	s->deadline_us = s->start_us + p->cfg.timeout_ms * 1000;
	p->inflight++;
	p->c.started++;
	int rc = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
	if (rc < 0 && errno != EINPROGRESS) {
		finish(s, -errno); /* reported synchronously */
		return 0;
	}
	rc = event_loop_add_fd(p->loop, fd, EPOLLOUT, on_fd, s);
	if (rc < 0) {
		/* Not started after all: no callback. */
		slot_close(p, s);
		p->c.started--;
		return rc;
	}
	return 0;
}

void lprobe_collect_stats(const struct lprobe_pool *p, struct stats_report *r, const char *prefix)
{
	stats_add(r, prefix, "started", p->c.started);
	stats_add(r, prefix, "alive", p->c.alive);
	stats_add(r, prefix, "refused", p->c.refused);
	stats_add(r, prefix, "timeout", p->c.timeout);
	stats_add(r, prefix, "other_error", p->c.other_error);
	stats_add(r, prefix, "busy", p->c.busy);
	stats_add(r, prefix, "inflight", p->inflight);
}
