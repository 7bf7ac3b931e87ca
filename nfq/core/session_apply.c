/* session_apply - see session_apply.h for the contract. The listening
 * socket and each agent connection are event-loop sources; a connection
 * owns one receive buffer (STATE_MSG_MAX + 1, so that an oversized packet
 * shows up as truncated) and at most one aid being assembled. */
#include "session_apply.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "event_loop.h"
#include "log.h"
#include "state_msg.h"
#include "stats.h"

#define RX_BURST 64

struct sa_client {
	int fd;
	struct session_apply *sa;
	uint8_t *aid;
	uint64_t aid_txn, aid_origin, aid_seq;
	uint32_t aid_total, aid_have;
	uint8_t aid_kind;
};

struct session_apply {
	int lfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct event_loop *loop;
	struct session_apply_ops ops;
	void *arg;
	size_t max_aid_bytes;
	unsigned max_clients;
	struct sa_client *clients;
	uint8_t *rxbuf;
	struct session_apply_counters c;
};

static void client_close(struct session_apply *sa, struct sa_client *cl)
{
	event_loop_del_fd(sa->loop, cl->fd);
	close(cl->fd);
	free(cl->aid);
	memset(cl, 0, sizeof(*cl));
	cl->fd = -1;
	sa->c.closed++;
}

static void aid_reset(struct sa_client *cl)
{
	free(cl->aid);
	cl->aid = NULL;
	cl->aid_have = cl->aid_total = 0;
}

static void on_save(struct session_apply *sa, struct sa_client *cl, const struct state_save *s)
{
	sa->c.aid_chunks++;
	if (s->offset == 0) {
		if (cl->aid)
			sa->c.aid_broken++; /* the previous one never completed */
		aid_reset(cl);
		if (s->total > sa->max_aid_bytes || !(cl->aid = malloc(s->total))) {
			sa->c.aid_broken++;
			return;
		}
		cl->aid_txn = s->txn_id;
		cl->aid_origin = s->origin;
		cl->aid_seq = s->seq;
		cl->aid_total = s->total;
		cl->aid_kind = s->kind;
	} else if (!cl->aid || s->offset != cl->aid_have || s->total != cl->aid_total ||
		   s->txn_id != cl->aid_txn || s->seq != cl->aid_seq ||
		   s->origin != cl->aid_origin) {
		if (cl->aid)
			sa->c.aid_broken++;
		aid_reset(cl);
		return;
	}
	memcpy(cl->aid + cl->aid_have, s->chunk, s->chunk_len);
	cl->aid_have += s->chunk_len;
	if (cl->aid_have < cl->aid_total)
		return;
	sa->c.aids++;
	if (sa->ops.aid)
		sa->ops.aid(sa->arg, cl->aid_txn, cl->aid_kind, cl->aid, cl->aid_total);
	aid_reset(cl);
}

static void on_apply(struct session_apply *sa, struct sa_client *cl, const struct state_push *p)
{
	bool del = p->flags & STATE_F_DELETE;
	int rc = sa->ops.apply(sa->arg, p->txn_id, p->key, p->key_len, p->blob, p->blob_len, del);
	if (rc < 0)
		sa->c.apply_refused++;
	else if (del)
		sa->c.deletes++;
	else
		sa->c.applies++;
	struct state_msg m = {.type = STATE_T_APPLIED};
	m.u.applied = (struct state_applied){
	    .origin = p->origin, .seq = p->seq, .txn_id = p->txn_id, .status = rc < 0};
	uint8_t out[64];
	int n = state_msg_encode(&m, out, sizeof(out));
	if (n < 0 || send(cl->fd, out, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n)
		sa->c.send_errors++;
}

static void on_client(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop;
	struct sa_client *cl = arg;
	struct session_apply *sa = cl->sa;
	for (int i = 0; i < RX_BURST; i++) {
		ssize_t n = recv(fd, sa->rxbuf, STATE_MSG_MAX + 1, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			client_close(sa, cl);
			return;
		}
		if (n == 0) {
			client_close(sa, cl);
			return;
		}
		struct state_msg m;
		if (n > STATE_MSG_MAX || state_msg_decode(sa->rxbuf, (size_t)n, &m) < 0) {
			sa->c.malformed++;
			continue;
		}
		if (m.type == STATE_T_APPLY)
			on_apply(sa, cl, &m.u.push);
		else if (m.type == STATE_T_SAVE)
			on_save(sa, cl, &m.u.save);
		else
			sa->c.unexpected++;
	}
	(void)events;
}

static void on_listen(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)events;
	struct session_apply *sa = arg;
	for (int i = 0; i < RX_BURST; i++) {
		int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c < 0)
			return;
		struct sa_client *cl = NULL;
		for (unsigned j = 0; j < sa->max_clients && !cl; j++)
			if (sa->clients[j].fd < 0)
				cl = &sa->clients[j];
		if (!cl) {
			sa->c.refused_clients++;
			close(c);
			continue;
		}
		cl->fd = c;
		cl->sa = sa;
		if (event_loop_add_fd(loop, c, EPOLLIN, on_client, cl) < 0) {
			close(c);
			cl->fd = -1;
			sa->c.refused_clients++;
			continue;
		}
		sa->c.accepted++;
		log_info("agent connected on %s", sa->path);
	}
}

int session_apply_open(struct session_apply **out, const char *path, unsigned max_clients,
		       size_t max_aid_bytes, const struct session_apply_ops *ops, void *arg,
		       struct event_loop *loop, char *err, size_t errlen)
{
	*out = NULL;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (!path[0] || strlen(path) >= sizeof(a.sun_path) || !max_clients || !ops->apply) {
		snprintf(err, errlen, "apply socket: bad path or limits");
		return -EINVAL;
	}
	struct session_apply *sa = calloc(1, sizeof(*sa));
	if (!sa)
		return -ENOMEM;
	sa->lfd = -1;
	sa->loop = loop;
	sa->ops = *ops;
	sa->arg = arg;
	sa->max_clients = max_clients;
	sa->max_aid_bytes = max_aid_bytes;
	snprintf(sa->path, sizeof(sa->path), "%s", path);
	sa->clients = calloc(max_clients, sizeof(*sa->clients));
	sa->rxbuf = malloc(STATE_MSG_MAX + 1);
	int rc = -ENOMEM;
	if (!sa->clients || !sa->rxbuf)
		goto fail;
	for (unsigned i = 0; i < max_clients; i++)
		sa->clients[i].fd = -1;
	sa->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (sa->lfd < 0)
		goto fail_errno;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	if (bind(sa->lfd, (struct sockaddr *)&a, sizeof(a)) < 0)
		goto fail_errno;
	chmod(path, 0660);
	if (listen(sa->lfd, 8) < 0)
		goto fail_errno;
	rc = event_loop_add_fd(loop, sa->lfd, EPOLLIN, on_listen, sa);
	if (rc < 0) {
		snprintf(err, errlen, "apply socket: event loop: %s", strerror(-rc));
		goto fail;
	}
	*out = sa;
	return 0;
fail_errno:
	rc = -errno;
	snprintf(err, errlen, "apply socket %s: %s", path, strerror(errno));
fail:
	if (sa->lfd >= 0)
		close(sa->lfd);
	free(sa->clients);
	free(sa->rxbuf);
	free(sa);
	return rc;
}

void session_apply_close(struct session_apply *sa)
{
	if (!sa)
		return;
	for (unsigned i = 0; i < sa->max_clients; i++)
		if (sa->clients[i].fd >= 0)
			client_close(sa, &sa->clients[i]);
	if (sa->lfd >= 0) {
		event_loop_del_fd(sa->loop, sa->lfd);
		close(sa->lfd);
		unlink(sa->path);
	}
	free(sa->clients);
	free(sa->rxbuf);
	free(sa);
}

const struct session_apply_counters *session_apply_counters(const struct session_apply *sa)
{
	return &sa->c;
}

void session_apply_collect_stats(const struct session_apply *sa, struct stats_report *r,
				 const char *prefix)
{
	const struct session_apply_counters *c = &sa->c;
	stats_add(r, prefix, "agents_accepted", c->accepted);
	stats_add(r, prefix, "agents_refused", c->refused_clients);
	stats_add(r, prefix, "agents_closed", c->closed);
	stats_add(r, prefix, "applies", c->applies);
	stats_add(r, prefix, "apply_refused", c->apply_refused);
	stats_add(r, prefix, "deletes", c->deletes);
	stats_add(r, prefix, "aid_chunks", c->aid_chunks);
	stats_add(r, prefix, "aids", c->aids);
	stats_add(r, prefix, "aid_broken", c->aid_broken);
	stats_add(r, prefix, "malformed", c->malformed);
	stats_add(r, prefix, "unexpected", c->unexpected);
	stats_add(r, prefix, "send_errors", c->send_errors);
}
