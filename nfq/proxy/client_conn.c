/* client_conn - the part of the proxy that still uses sockets: accept the
 * client, read the request head, route it, connect to the backend, and
 * turn the pair into a splice (see proxy.h for the whole life). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "proxy.h"
#include "proxy_splice.h"
#include "tcp_repair.h"

static void conn_free(struct proxy *px, struct client_conn *c)
{
	struct event_loop *loop = &px->daemon->loop;
	if (c->cfd >= 0) {
		event_loop_del_fd(loop, c->cfd);
		close(c->cfd);
	}
	if (c->bfd >= 0) {
		event_loop_del_fd(loop, c->bfd);
		close(c->bfd);
	}
	if (c->ivip_port)
		proxy_release_port(px, c->ivip_port);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->px = px;
	c->cfd = c->bfd = -1;
	c->state = CC_FREE;
}

/* Answers with an HTTP error and closes: the client was never spliced. */
static void conn_fail(struct proxy *px, struct client_conn *c, int http_status)
{
	const char *resp = first_request_error_response(http_status);
	if (c->cfd >= 0 && write(c->cfd, resp, strlen(resp)) < 0)
		log_rl(&px->log_rl, LOG_DEBUG, "error response to client: %s", strerror(errno));
	conn_free(px, c);
}

static int alloc_port(struct proxy *px)
{
	uint32_t n = px->cfg.port_max - px->cfg.port_min + 1;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t idx = (px->next_port + i) % n;
		if (!px->port_used[idx]) {
			px->port_used[idx] = 1;
			px->next_port = idx + 1;
			return (int)(px->cfg.port_min + idx);
		}
	}
	px->count.ports_exhausted++;
	return -1;
}

void proxy_release_port(struct proxy *px, uint16_t port)
{
	if (port >= px->cfg.port_min && port <= px->cfg.port_max)
		px->port_used[port - px->cfg.port_min] = 0;
}

static void on_backend_writable(struct event_loop *loop, int fd, uint32_t events, void *arg);

/* A non-blocking socket bound to IVIP:port (a port of this proxy's range)
 * and connecting to `to`; mss > 0 clamps the MSS announced to it. Returns
 * the fd (the port in *port) or -errno. Ports owned by live splices are
 * taken even though no socket holds them any more: the allocator, not the
 * kernel, knows. */
int proxy_backend_socket(struct proxy *px, const struct sockaddr_in *to, int mss, uint16_t *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (mss > 0)
		setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss));
	int p = -1, err = EADDRINUSE;
	for (int tries = 0; tries < 64 && p < 0; tries++) {
		p = alloc_port(px);
		if (p < 0) {
			err = EADDRNOTAVAIL;
			break;
		}
		struct sockaddr_in src = {.sin_family = AF_INET,
					  .sin_addr = px->cfg.ivip,
					  .sin_port = htons((uint16_t)p)};
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == 0)
			break;
		err = errno;
		proxy_release_port(px, (uint16_t)p);
		p = -1;
		if (err != EADDRINUSE)
			break;
	}
	if (p >= 0 && connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0 &&
	    errno != EINPROGRESS) {
		err = errno;
		proxy_release_port(px, (uint16_t)p);
		p = -1;
	}
	if (p < 0) {
		close(fd);
		return -err;
	}
	*port = (uint16_t)p;
	return fd;
}

static void conn_connect(struct proxy *px, struct client_conn *c)
{
	/* Segments of the backend must fit the client's path: clamp the MSS we
	 * announce to the backend to the one the client announced to us. */
	int mss = 0;
	socklen_t sl = sizeof(mss);
	if (getsockopt(c->cfd, IPPROTO_TCP, TCP_MAXSEG, &mss, &sl) < 0)
		mss = 0;
	int fd = proxy_backend_socket(px, &c->backend->addr, mss, &c->ivip_port);
	if (fd < 0) {
		errno = -fd;
		goto fail;
	}
	c->bfd = fd;
	/* Stop reading the client while we connect: what it sends meanwhile
	 * waits in its socket and is drained at the splice. */
	event_loop_del_fd(&px->daemon->loop, c->cfd);
	if (event_loop_add_fd(&px->daemon->loop, c->bfd, EPOLLOUT, on_backend_writable, c) < 0)
		goto fail;
	c->state = CC_CONNECTING;
	c->deadline_ms = monotonic_ms() + px->cfg.connect_timeout_ms;
	return;
fail:
	px->count.connect_failed++;
	log_rl(&px->log_rl, LOG_WARNING, "cannot connect to backend: %s", strerror(errno));
	conn_fail(px, c, 502);
}

static void on_client_readable(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop;
	(void)events;
	struct client_conn *c = arg;
	struct proxy *px = c->px;
	if (c->len == c->cap) {
		conn_fail(px, c, 431);
		px->count.head_too_large++;
		return;
	}
	ssize_t n = read(fd, c->buf + c->len, c->cap - c->len);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		px->count.client_closed_early++;
		conn_free(px, c);
		return;
	}
	c->len += (size_t)n;
	px->count.socket_bytes_read += (uint64_t)n;
	struct first_request head;
	int rc = first_request_parse(c->buf, c->len, px->cfg.max_head, &head);
	if (rc == FIRST_REQUEST_INCOMPLETE)
		return;
	if (rc < 0) {
		if (rc == FIRST_REQUEST_GARBAGE)
			px->count.head_garbage++;
		else
			px->count.head_too_large++;
		conn_fail(px, c, -rc);
		return;
	}
	c->backend =
	    l7_route_request(&px->cfg.router, head.host, head.host_len, head.path, head.path_len);
	if (!c->backend) {
		px->count.no_route++;
		conn_fail(px, c, 503);
		return;
	}
	log_debug("%s %s%s -> %s:%u", head.method, head.host, head.path,
		  inet_ntoa(c->backend->addr.sin_addr), ntohs(c->backend->addr.sin_port));
	conn_connect(px, c);
}

static void on_backend_writable(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)events;
	struct client_conn *c = arg;
	struct proxy *px = c->px;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	event_loop_del_fd(loop, fd);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0) {
		px->count.connect_failed++;
		log_rl(&px->log_rl, LOG_WARNING, "backend %s:%u: %s",
		       inet_ntoa(c->backend->addr.sin_addr), ntohs(c->backend->addr.sin_port),
		       strerror(soerr));
		conn_fail(px, c, 502);
		return;
	}
	if (proxy_splice_create(px, c) == 0) {
		px->count.spliced++;
		/* The sockets are gone and the port now belongs to the splice. */
		c->cfd = c->bfd = -1;
		c->ivip_port = 0;
		conn_free(px, c);
		return;
	}
	px->count.splice_failed++;
	conn_fail(px, c, 502);
}

static void on_listen_readable(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)events;
	struct proxy *px = arg;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_in peer;
		socklen_t sl = sizeof(peer);
		int cfd = accept4(fd, (struct sockaddr *)&peer, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0)
			return;
		struct client_conn *c = NULL;
		for (uint32_t k = 0; k < px->cfg.max_clients; k++)
			if (px->conns[k].state == CC_FREE) {
				c = &px->conns[k];
				break;
			}
		if (!c) {
			px->count.rejected_full++;
			close(cfd);
			continue;
		}
		c->cap = px->cfg.max_pending_bytes;
		c->buf = malloc(c->cap);
		if (!c->buf || event_loop_add_fd(loop, cfd, EPOLLIN, on_client_readable, c) < 0) {
			free(c->buf);
			c->buf = NULL;
			px->count.rejected_full++;
			close(cfd);
			continue;
		}
		c->cfd = cfd;
		c->bfd = -1;
		c->client = peer;
		c->len = 0;
		c->state = CC_READING;
		c->deadline_ms = monotonic_ms() + px->cfg.request_timeout_ms;
		px->count.accepted++;
	}
}

void proxy_tick(struct proxy *px, uint64_t now_ms)
{
	for (uint32_t k = 0; k < px->cfg.max_clients; k++) {
		struct client_conn *c = &px->conns[k];
		if (c->state == CC_FREE || now_ms < c->deadline_ms)
			continue;
		if (c->state == CC_READING) {
			px->count.head_timeout++;
			conn_fail(px, c, 408);
		} else {
			px->count.connect_timeout++;
			conn_fail(px, c, 504);
		}
	}
	proxy_splice_tick(px, now_ms);
}

int proxy_init(struct proxy *px, char *err, size_t errlen)
{
	px->listen_fd = px->raw_fd = -1;
	uint32_t nports = px->cfg.port_max - px->cfg.port_min + 1;
	px->conns = calloc(px->cfg.max_clients, sizeof(*px->conns));
	px->port_used = calloc(nports, 1);
	if (!px->conns || !px->port_used ||
	    tsval_cache_init(&px->tsvals, px->cfg.tsval_slots) < 0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (uint32_t k = 0; k < px->cfg.max_clients; k++) {
		px->conns[k].px = px;
		px->conns[k].cfd = px->conns[k].bfd = -1;
	}
	px->log_rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(1000, 10);
	px->raw_fd = raw_sender_open();
	if (px->raw_fd < 0) {
		snprintf(err, errlen, "raw socket: %s", strerror(-px->raw_fd));
		return px->raw_fd;
	}
	return proxy_splice_init(px, err, errlen);
}

int proxy_open(struct proxy *px, struct daemon *d, char *err, size_t errlen)
{
	px->daemon = d;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -errno;
	}
	int on = 1, rcvbuf = (int)px->cfg.client_rcvbuf;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	/* A small receive buffer bounds what a client can send before the
	 * splice: all of it must be drained and delivered by us. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)&px->cfg.listen, sizeof(px->cfg.listen)) < 0 ||
	    listen(fd, 1024) < 0) {
		snprintf(err, errlen, "listen on %s:%u: %s", inet_ntoa(px->cfg.listen.sin_addr),
			 ntohs(px->cfg.listen.sin_port), strerror(errno));
		close(fd);
		return -errno;
	}
	px->listen_fd = fd;
	int rc = event_loop_add_fd(&d->loop, fd, EPOLLIN, on_listen_readable, px);
	if (rc < 0) {
		snprintf(err, errlen, "event loop: %s", strerror(-rc));
		return rc;
	}
	rc = proxy_splice_open(px, err, errlen);
	if (rc < 0 || (rc = proxy_members_open(px, err, errlen)) < 0)
		return rc;
	return proxy_heartbeat_open(px, err, errlen);
}

/* The workload factor the load balancer weighs proxies by: the scarcest of
 * connection slots, CPU and queue room (heartbeat.h has the formula). Until
 * the splice table is synced from the peers, a (re)starting proxy asks for
 * no traffic: it could not forward the live splices yet. */
static int heartbeat_status(void *ctx, struct heartbeat_status *st)
{
	struct proxy *px = ctx;
	uint32_t busy = 0;
	for (uint32_t k = 0; k < px->cfg.max_clients; k++)
		busy += px->conns[k].state != CC_FREE;
	uint32_t conns = busy + splice_table_count(px->splices);
	int cpu = heartbeat_cpu_sample(&px->cpu);
	struct nfq_kernel_queue_stats ks = {0};
	nfq_kernel_queue_stats((uint16_t)px->daemon->cfg.queue_num, &ks);
	st->connections = conns;
	st->workload = heartbeat_workload(conns, px->cfg.max_clients + px->cfg.max_splices,
					  cpu < 0 ? 0 : (uint32_t)cpu, ks.queue_total,
					  px->daemon->cfg.queue_maxlen);
	if (px->repl && replication_sync_state(px->repl) == REPLICATION_SYNC_PENDING)
		st->flags |= HEARTBEAT_F_NOT_READY;
	return 0;
}

int proxy_heartbeat_open(struct proxy *px, char *err, size_t errlen)
{
	if (px->cfg.hb.ntargets == 0)
		return 0; /* no load balancer to tell */
	if (px->cfg.hb.id == 0)
		px->cfg.hb.id = px->cfg.id;
	if (!px->cfg.hb.key_file[0])
		snprintf(px->cfg.hb.key_file, sizeof(px->cfg.hb.key_file), "%s",
			 px->cfg.repl.key_file);
	int rc = heartbeat_sender_open(&px->hb, &px->cfg.hb, NULL, &px->daemon->loop,
				       heartbeat_status, px, err, errlen);
	if (rc == 0)
		px->hb_open = true;
	return rc;
}

void proxy_close(struct proxy *px)
{
	if (px->conns)
		for (uint32_t k = 0; k < px->cfg.max_clients; k++)
			if (px->conns[k].state != CC_FREE)
				conn_free(px, &px->conns[k]);
	if (px->hb_open)
		heartbeat_sender_close(&px->hb);
	px->hb_open = false;
	proxy_members_close(px);
	proxy_splice_close(px);
	if (px->listen_fd >= 0)
		close(px->listen_fd);
	if (px->raw_fd >= 0)
		close(px->raw_fd);
	free(px->conns);
	free(px->port_used);
	tsval_cache_free(&px->tsvals);
}
