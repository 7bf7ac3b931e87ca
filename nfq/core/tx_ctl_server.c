/* tx_ctl_server - see tx_ctl_server.h. */
#include "tx_ctl_server.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "event_loop.h"
#include "log.h"
#include "stats.h"

struct ctl_client {
	struct tx_ctl_server *srv;
	int fd;
	uint64_t owner, session;
	struct auth_receiver rcv;
	struct tx_reader rd;
	uint8_t out[TX_CTL_OUT_MAX];
	size_t outlen;
	bool want_out;
};

struct tx_ctl_server {
	struct tx_ctl_server_config cfg;
	struct tx_ctl_server_handler h;
	struct event_loop *loop;
	int lfd;
	struct auth_sender snd;
	struct ctl_client **clients;
	unsigned nclients;
	uint64_t next_owner;
	struct tx_ctl_server_stats st;
	struct log_ratelimit rl;
};

static void client_close(struct ctl_client *c)
{
	struct tx_ctl_server *s = c->srv;
	event_loop_del_fd(s->loop, c->fd);
	close(c->fd);
	auth_receiver_free(&c->rcv);
	for (unsigned i = 0; i < s->nclients; i++)
		if (s->clients[i] == c) {
			s->clients[i] = s->clients[--s->nclients];
			break;
		}
	s->st.closed++;
	uint64_t owner = c->owner;
	free(c);
	if (s->h.closed)
		s->h.closed(s->h.ctx, owner);
}

static void on_client(struct event_loop *loop, int fd, uint32_t events, void *arg);

/* Writes what is buffered; returns false when the client was closed. */
static bool client_flush(struct ctl_client *c)
{
	while (c->outlen) {
		ssize_t n = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			client_close(c);
			return false;
		}
		memmove(c->out, c->out + n, c->outlen - (size_t)n);
		c->outlen -= (size_t)n;
	}
	bool want = c->outlen > 0;
	if (want != c->want_out) {
		c->want_out = want;
		event_loop_del_fd(c->srv->loop, c->fd);
		event_loop_add_fd(c->srv->loop, c->fd, EPOLLIN | (want ? EPOLLOUT : 0), on_client,
				  c);
	}
	return true;
}

static bool client_send(struct ctl_client *c, struct tx_msg *m)
{
	struct tx_ctl_server *s = c->srv;
	m->session = c->session;
	if (c->outlen + TX_FRAME_MAX > sizeof(c->out)) {
		s->st.overflow++;
		client_close(c);
		return false;
	}
	ssize_t n =
	    tx_seal(&s->snd, &s->cfg.key, m, c->out + c->outlen, sizeof(c->out) - c->outlen);
	if (n < 0) {
		client_close(c);
		return false;
	}
	c->outlen += (size_t)n;
	return client_flush(c);
}

/* One complete frame. Returns false when the client was closed. */
static bool client_frame(struct ctl_client *c, const uint8_t *f, size_t len)
{
	struct tx_ctl_server *s = c->srv;
	struct tx_msg m, ans;
	int arc;
	s->st.requests++;
	int rc = tx_open(&c->rcv, &s->cfg.key, f, len, realtime_us() / 1000u, &m, &arc);
	if (rc == 0 && m.session != c->session)
		rc = -TX_R_SESSION;
	if (rc == 0 && (m.op < TX_START || m.op > TX_RESTART))
		rc = -TX_R_MALFORMED;
	if (rc < 0) {
		if (rc == -TX_R_AUTH)
			s->st.auth_fail++;
		else if (rc == -TX_R_SESSION)
			s->st.session_fail++;
		else
			s->st.malformed++;
		log_rl(&s->rl, LOG_WARNING, "control client %llu: refused request: %s%s%s",
		       (unsigned long long)c->owner, tx_reason_name(rc),
		       rc == -TX_R_AUTH ? " " : "", rc == -TX_R_AUTH ? auth_result_name(arc) : "");
		/* Answer with the request id the (untrusted) body names, so
		 * the sender can match the refusal; nothing else is used. */
		struct tx_msg any;
		memset(&ans, 0, sizeof(ans));
		if (len == TX_FRAME_LEN &&
		    tx_decode(f + AUTH_MSG_HEADER_LEN, TX_BODY_LEN, &any) == 0)
			ans.req_id = any.req_id;
		ans.op = TX_FAILURE;
		ans.reason = (uint16_t)-rc;
		s->st.answers_fail++;
		return client_send(c, &ans);
	}
	s->h.request(s->h.ctx, c->owner, &m, &ans);
	if (ans.op == TX_SUCCESS)
		s->st.answers_ok++;
	else
		s->st.answers_fail++;
	return client_send(c, &ans);
}

static void on_client(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop;
	struct ctl_client *c = arg;
	if ((events & EPOLLOUT) && !client_flush(c))
		return;
	if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		return;
	uint8_t buf[TX_FRAME_MAX];
	for (int round = 0; round < 16; round++) {
		size_t room = sizeof(c->rd.buf) - c->rd.have;
		ssize_t n = recv(fd, buf, room < sizeof(buf) ? room : sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			client_close(c);
			return;
		}
		if (n < 0)
			return;
		tx_reader_feed(&c->rd, buf, (size_t)n);
		const uint8_t *f;
		ssize_t len;
		while ((len = tx_reader_next(&c->rd, &f)) > 0) {
			uint8_t frame[TX_FRAME_MAX];
			memcpy(frame, f, (size_t)len);
			tx_reader_consume(&c->rd, (size_t)len);
			if (!client_frame(c, frame, (size_t)len))
				return;
		}
		if (len < 0) {
			c->srv->st.garbage++;
			client_close(c);
			return;
		}
	}
}

static void on_accept(struct event_loop *loop, int lfd, uint32_t events, void *arg)
{
	(void)events;
	struct tx_ctl_server *s = arg;
	for (int i = 0; i < 16; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct ctl_client *c = NULL;
		if (s->nclients < s->cfg.max_clients)
			c = calloc(1, sizeof(*c));
		struct auth_receiver_config rc;
		auth_receiver_config_default(&rc);
		rc.max_senders = 4;
		if (!c || auth_receiver_init(&c->rcv, &rc) < 0 ||
		    event_loop_add_fd(loop, fd, EPOLLIN, on_client, c) < 0) {
			if (c)
				auth_receiver_free(&c->rcv);
			free(c);
			close(fd);
			s->st.refused++;
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->srv = s;
		c->fd = fd;
		c->owner = ++s->next_owner;
		while (getrandom(&c->session, sizeof(c->session), 0) != sizeof(c->session))
			;
		s->clients[s->nclients++] = c;
		s->st.accepted++;
		struct tx_msg hello = {.op = TX_HELLO};
		client_send(c, &hello);
	}
}

int tx_ctl_server_open(struct tx_ctl_server **out, const struct tx_ctl_server_config *cfg,
		       const struct tx_ctl_server_handler *h, struct event_loop *loop, char *err,
		       size_t errlen)
{
	*out = NULL;
	if (!cfg->max_clients || !h->request) {
		snprintf(err, errlen, "control server: no clients allowed or no handler");
		return -EINVAL;
	}
	struct tx_ctl_server *s = calloc(1, sizeof(*s));
	if (!s || !(s->clients = calloc(cfg->max_clients, sizeof(*s->clients)))) {
		free(s);
		snprintf(err, errlen, "control server: out of memory");
		return -ENOMEM;
	}
	s->cfg = *cfg;
	s->h = *h;
	s->loop = loop;
	s->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(1000, 5);
	auth_sender_init(&s->snd, cfg->sender_id, 0);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	int rc = 0;
	if (s->lfd < 0)
		rc = -errno;
	else if (setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		 bind(s->lfd, (const struct sockaddr *)&cfg->listen, sizeof(cfg->listen)) < 0 ||
		 listen(s->lfd, 128) < 0)
		rc = -errno;
	else
		rc = event_loop_add_fd(loop, s->lfd, EPOLLIN, on_accept, s);
	if (rc < 0) {
		snprintf(err, errlen, "control server: listen: %s", strerror(-rc));
		if (s->lfd >= 0)
			close(s->lfd);
		free(s->clients);
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void tx_ctl_server_close(struct tx_ctl_server *s)
{
	if (!s)
		return;
	while (s->nclients)
		client_close(s->clients[0]);
	event_loop_del_fd(s->loop, s->lfd);
	close(s->lfd);
	free(s->clients);
	free(s);
}

int tx_ctl_server_notify(struct tx_ctl_server *s, uint64_t owner, const struct tx_msg *m)
{
	for (unsigned i = 0; i < s->nclients; i++)
		if (s->clients[i]->owner == owner) {
			struct tx_msg copy = *m;
			copy.req_id = 0;
			s->st.notifies++;
			return client_send(s->clients[i], &copy) ? 0 : -ENOBUFS;
		}
	return -ENOENT;
}

unsigned tx_ctl_server_clients(const struct tx_ctl_server *s)
{
	return s->nclients;
}

const struct tx_ctl_server_stats *tx_ctl_server_get_stats(const struct tx_ctl_server *s)
{
	return &s->st;
}

void tx_ctl_server_collect_stats(const struct tx_ctl_server *s, struct stats_report *r,
				 const char *prefix)
{
	const struct tx_ctl_server_stats *st = &s->st;
	stats_add(r, prefix, "clients", s->nclients);
	stats_add(r, prefix, "accepted", st->accepted);
	stats_add(r, prefix, "refused", st->refused);
	stats_add(r, prefix, "closed", st->closed);
	stats_add(r, prefix, "garbage", st->garbage);
	stats_add(r, prefix, "overflow", st->overflow);
	stats_add(r, prefix, "requests", st->requests);
	stats_add(r, prefix, "answers_ok", st->answers_ok);
	stats_add(r, prefix, "answers_fail", st->answers_fail);
	stats_add(r, prefix, "auth_fail", st->auth_fail);
	stats_add(r, prefix, "session_fail", st->session_fail);
	stats_add(r, prefix, "malformed", st->malformed);
	stats_add(r, prefix, "notifies", st->notifies);
}
