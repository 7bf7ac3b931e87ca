/* aux_answer - see aux_answer.h. One pump per connection does every I/O
 * that can progress without blocking and then re-arms epoll for what is
 * left, so the states below only decide what the bytes mean. */
#include "aux_answer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "event_loop.h"
#include "log.h"
#include "stats.h"

#define TICK_MS 20

enum ac_state {
	AC_FREE = 0,
	AC_READ,    /* reading requests, answering stored ones */
	AC_WAIT,    /* the original's answer is on its way */
	AC_CONNECT, /* relay: connecting to the aux server */
	AC_RELAY,   /* relay: copying both ways */
};

struct aux_conn {
	struct aux_answer *a;
	enum ac_state st;
	int fd, up; /* the alternate's connection; the relay's (-1: none) */
	uint32_t ev_fd, ev_up;
	bool fd_eof, up_eof, shut_up, shut_fd;
	struct sockaddr_in orig; /* the aux server it was going to */
	uint8_t *in;		 /* from the alternate, not yet answered or relayed */
	size_t in_len, in_cap;
	uint8_t *out; /* to the alternate */
	size_t out_len, out_off, out_cap;
	uint64_t last_ms, wait_until, wait_id;
};

static void pump(struct aux_conn *c);

/* ---- connections ---- */

static void conn_close(struct aux_conn *c)
{
	struct aux_answer *a = c->a;
	if (c->ev_fd)
		event_loop_del_fd(a->loop, c->fd);
	close(c->fd);
	if (c->up >= 0) {
		if (c->ev_up)
			event_loop_del_fd(a->loop, c->up);
		close(c->up);
	}
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = c->up = -1;
}

static void on_io(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop, (void)fd, (void)events;
	pump(arg);
}

/* Watches fd for want (0: not at all); *cur is what is registered. */
static int watch(struct aux_conn *c, int fd, uint32_t *cur, uint32_t want)
{
	if (*cur == want)
		return 0;
	if (*cur)
		event_loop_del_fd(c->a->loop, fd);
	*cur = 0;
	if (want && event_loop_add_fd(c->a->loop, fd, want, on_io, c) < 0)
		return -1;
	*cur = want;
	return 0;
}

static int out_add(struct aux_conn *c, const uint8_t *p, size_t n)
{
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_len + n;
		uint8_t *q = realloc(c->out, cap);
		if (!q)
			return -1;
		c->out = q;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return 0;
}

/* From now on the connection goes to the aux server, with what was read. */
static void relay(struct aux_conn *c)
{
	struct aux_answer *a = c->a;
	a->c.relayed++;
	c->up = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->up < 0 || (connect(c->up, (struct sockaddr *)&c->orig, sizeof(c->orig)) < 0 &&
			  errno != EINPROGRESS)) {
		log_warn("aux relay to %s:%u: %s", inet_ntoa(c->orig.sin_addr),
			 ntohs(c->orig.sin_port), strerror(errno));
		a->c.relay_failed++;
		c->st = AC_FREE; /* pump closes it */
		return;
	}
	c->st = AC_CONNECT;
}

/* Answers what is stored, in order, until a request needs more. */
static void handle_requests(struct aux_conn *c)
{
	struct aux_answer *a = c->a;
	while (c->st == AC_READ && c->in_len) {
		uint64_t id;
		size_t used = 0;
		int r = aux_request_id(&a->cfg.rule, c->in, c->in_len, &id, &used);
		if (r == 0 && c->in_len < a->cfg.max_request && !c->fd_eof)
			return;
		if (r <= 0) {
			a->c.no_id++;
			relay(c);
			return;
		}
		const uint8_t *data;
		size_t len;
		enum aux_lookup l = aux_store_find(a->store, ntohl(c->orig.sin_addr.s_addr),
						   ntohs(c->orig.sin_port), id, &data, &len);
		if (l == AUX_PENDING && c->st == AC_READ) {
			if (!c->wait_until) {
				a->c.waited++;
				c->wait_until = monotonic_ms() + a->cfg.wait_ms;
			}
			c->wait_id = id;
			c->st = AC_WAIT;
			return;
		}
		if (l != AUX_ANSWERED) {
			relay(c);
			return;
		}
		if (out_add(c, data, len) < 0) {
			a->c.errors++;
			c->st = AC_FREE;
			return;
		}
		a->c.answered++;
		a->c.answered_bytes += len;
		c->wait_until = 0;
		log_info("aux request %016llx from the alternate answered from the log (%zu bytes)",
			 (unsigned long long)id, len);
		memmove(c->in, c->in + used, c->in_len - used);
		c->in_len -= used;
	}
}

/* One non-blocking transfer; false on a hard error. */
static bool xfer_recv(int fd, uint8_t *buf, size_t *len, size_t cap, bool *eof, bool *moved)
{
	if (*eof || *len >= cap)
		return true;
	ssize_t n = recv(fd, buf + *len, cap - *len, MSG_DONTWAIT);
	if (n > 0) {
		*len += (size_t)n;
		*moved = true;
	} else if (n == 0) {
		*eof = *moved = true;
	} else if (errno != EAGAIN && errno != EINTR) {
		return false;
	}
	return true;
}

static bool xfer_send(int fd, uint8_t *buf, size_t *len, size_t *off, bool *moved)
{
	if (*off >= *len)
		return true;
	ssize_t n = send(fd, buf + *off, *len - *off, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	*off += (size_t)n;
	*moved = n > 0;
	if (*off == *len)
		*len = *off = 0;
	return true;
}

static void pump(struct aux_conn *c)
{
	struct aux_answer *a = c->a;
	bool moved = true, ok = true;
	c->last_ms = monotonic_ms();
	if (c->st == AC_CONNECT) {
		int e = 0;
		socklen_t el = sizeof(e);
		if (getsockopt(c->up, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
			e = errno;
		if (e == 0) {
			struct sockaddr_in peer;
			socklen_t pl = sizeof(peer);
			if (getpeername(c->up, (struct sockaddr *)&peer, &pl) == 0)
				c->st = AC_RELAY;
		} else if (e != EINPROGRESS && e != EALREADY) {
			a->c.relay_failed++;
			c->st = AC_FREE;
		}
	}
	for (int rounds = 0; ok && moved && c->st != AC_FREE && rounds < 64; rounds++) {
		moved = false;
		size_t in_cap = c->in_cap;
		ok = xfer_recv(c->fd, c->in, &c->in_len, in_cap, &c->fd_eof, &moved);
		if (ok && c->st == AC_READ)
			handle_requests(c);
		if (ok && c->st == AC_RELAY && c->in_len) {
			ssize_t n = send(c->up, c->in, c->in_len, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0) {
				memmove(c->in, c->in + n, c->in_len - (size_t)n);
				c->in_len -= (size_t)n;
				a->c.relayed_bytes += (uint64_t)n;
				moved = true;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				ok = false;
			}
		}
		if (ok && c->st == AC_RELAY) {
			if (ok && c->out_len < AUX_RELAY_BUF) {
				if (c->out_cap < AUX_RELAY_BUF) {
					uint8_t *q = realloc(c->out, AUX_RELAY_BUF);
					ok = q != NULL;
					if (q) {
						c->out = q;
						c->out_cap = AUX_RELAY_BUF;
					}
				}
				if (ok)
					ok = xfer_recv(c->up, c->out, &c->out_len, AUX_RELAY_BUF,
						       &c->up_eof, &moved);
			}
			if (c->fd_eof && !c->in_len && !c->shut_up) {
				shutdown(c->up, SHUT_WR);
				c->shut_up = true;
			}
		}
		if (ok)
			ok = xfer_send(c->fd, c->out, &c->out_len, &c->out_off, &moved);
		if (ok && c->st == AC_RELAY && c->up_eof && !c->out_len && !c->shut_fd) {
			shutdown(c->fd, SHUT_WR);
			c->shut_fd = true;
		}
	}
	if (!ok) {
		a->c.errors++;
		c->st = AC_FREE;
	}
	bool drained = !c->out_len;
	bool done = c->st == AC_FREE || (c->st == AC_READ && c->fd_eof && !c->in_len && drained) ||
		    (c->st == AC_RELAY && c->fd_eof && c->up_eof && !c->in_len && drained);
	if (done) {
		conn_close(c);
		return;
	}
	bool relaying = c->st == AC_CONNECT || c->st == AC_RELAY;
	uint32_t want_fd =
	    (!c->fd_eof && c->in_len < c->in_cap ? EPOLLIN : 0) | (c->out_len ? EPOLLOUT : 0);
	uint32_t want_up = !relaying ? 0
			   : c->st == AC_CONNECT
			       ? EPOLLOUT
			       : (c->in_len ? EPOLLOUT : 0) |
				     (!c->up_eof && c->out_len < AUX_RELAY_BUF ? EPOLLIN : 0);
	if (watch(c, c->fd, &c->ev_fd, want_fd) < 0 ||
	    (relaying && watch(c, c->up, &c->ev_up, want_up) < 0)) {
		a->c.errors++;
		conn_close(c);
	}
}

static void on_accept(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop, (void)events;
	struct aux_answer *a = arg;
	for (int i = 0; i < 64; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0)
			return;
		struct aux_conn *c = NULL;
		for (uint32_t j = 0; j < a->cfg.max_conns && !c; j++)
			if (a->conns[j].st == AC_FREE)
				c = &a->conns[j];
		size_t cap =
		    a->cfg.max_request > AUX_RELAY_BUF ? a->cfg.max_request : AUX_RELAY_BUF;
		uint8_t *in = c ? malloc(cap) : NULL;
		struct sockaddr_in orig;
		socklen_t ol = sizeof(orig);
		/* TPROXY keeps the original destination as the local address */
		if (!in || getsockname(cfd, (struct sockaddr *)&orig, &ol) < 0) {
			free(in);
			close(cfd);
			a->c.refused++;
			continue;
		}
		*c = (struct aux_conn){.a = a,
				       .st = AC_READ,
				       .fd = cfd,
				       .up = -1,
				       .orig = orig,
				       .in = in,
				       .in_cap = cap,
				       .last_ms = monotonic_ms()};
		a->c.accepted++;
		pump(c);
	}
}

static void on_tick(struct event_loop *loop, uint64_t expirations, void *arg)
{
	(void)loop, (void)expirations;
	struct aux_answer *a = arg;
	uint64_t now = monotonic_ms();
	for (uint32_t i = 0; i < a->cfg.max_conns; i++) {
		struct aux_conn *c = &a->conns[i];
		if (c->st == AC_FREE)
			continue;
		if (c->st == AC_WAIT) {
			const uint8_t *d;
			size_t n;
			enum aux_lookup l =
			    aux_store_find(a->store, ntohl(c->orig.sin_addr.s_addr),
					   ntohs(c->orig.sin_port), c->wait_id, &d, &n);
			if (l == AUX_PENDING && now < c->wait_until)
				continue;
			if (l == AUX_PENDING)
				a->c.wait_timeouts++;
			c->st = AC_READ; /* answered, or handle_requests relays it */
			if (l == AUX_PENDING)
				relay(c);
			pump(c);
			continue;
		}
		if (now - c->last_ms > a->cfg.conn_timeout_ms) {
			a->c.timeouts++;
			conn_close(c);
		}
	}
}

int aux_answer_open(struct aux_answer *a, const struct aux_answer_config *cfg,
		    struct aux_store *store, struct event_loop *loop, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	a->cfg = *cfg;
	a->store = store;
	a->loop = loop;
	a->lfd = a->timer_fd = -1;
	a->conns = calloc(cfg->max_conns, sizeof(*a->conns));
	if (!a->conns) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < cfg->max_conns; i++)
		a->conns[i].fd = a->conns[i].up = -1;
	int one = 1, rc;
	a->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->lfd < 0 || setsockopt(a->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(a->lfd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) < 0 ||
	    bind(a->lfd, (const struct sockaddr *)&cfg->listen, sizeof(cfg->listen)) < 0 ||
	    listen(a->lfd, 64) < 0) {
		rc = -errno;
		snprintf(err, errlen, "aux_divert listen %s:%u (IP_TRANSPARENT): %s",
			 inet_ntoa(cfg->listen.sin_addr), ntohs(cfg->listen.sin_port),
			 strerror(-rc));
		aux_answer_close(a);
		return rc;
	}
	if ((rc = event_loop_add_fd(loop, a->lfd, EPOLLIN, on_accept, a)) < 0 ||
	    (rc = a->timer_fd = event_loop_add_timer(loop, TICK_MS, on_tick, a)) < 0) {
		snprintf(err, errlen, "aux_divert event loop: %s", strerror(-rc));
		aux_answer_close(a);
		return rc;
	}
	return 0;
}

void aux_answer_close(struct aux_answer *a)
{
	for (uint32_t i = 0; a->conns && i < a->cfg.max_conns; i++)
		if (a->conns[i].st != AC_FREE)
			conn_close(&a->conns[i]);
	free(a->conns);
	a->conns = NULL;
	if (a->timer_fd >= 0)
		event_loop_del_fd(a->loop, a->timer_fd);
	if (a->lfd >= 0) {
		event_loop_del_fd(a->loop, a->lfd);
		close(a->lfd);
	}
	a->lfd = a->timer_fd = -1;
}

void aux_answer_collect_stats(const struct aux_answer *a, struct stats_report *r)
{
	const struct aux_answer_counters *c = &a->c;
	uint64_t open = 0;
	for (uint32_t i = 0; a->conns && i < a->cfg.max_conns; i++)
		open += a->conns[i].st != AC_FREE;
	stats_add(r, "aux_divert", "conns_open", open);
	stats_add(r, "aux_divert", "accepted", c->accepted);
	stats_add(r, "aux_divert", "refused", c->refused);
	stats_add(r, "aux_divert", "answered", c->answered);
	stats_add(r, "aux_divert", "answered_bytes", c->answered_bytes);
	stats_add(r, "aux_divert", "waited", c->waited);
	stats_add(r, "aux_divert", "wait_timeouts", c->wait_timeouts);
	stats_add(r, "aux_divert", "relayed", c->relayed);
	stats_add(r, "aux_divert", "relayed_bytes", c->relayed_bytes);
	stats_add(r, "aux_divert", "relay_failed", c->relay_failed);
	stats_add(r, "aux_divert", "no_id", c->no_id);
	stats_add(r, "aux_divert", "timeouts", c->timeouts);
	stats_add(r, "aux_divert", "errors", c->errors);
}
