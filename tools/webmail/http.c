/* craft-webmail HTTP/1.1 server core: accept, read, frame requests
 * (Content-Length bodies only), number them per connection (the ordinal
 * of the transaction ID, see webmail.h), hand them to the handlers, write
 * responses in order.
 *
 * One request is handled at a time per connection and the next one only
 * after the previous response left the buffer: pipelined requests are
 * answered in order and a slow reader stops being read (the socket is
 * watched for EPOLLOUT only until it drains). Bounds: max_conns
 * connections, WM_HEAD_MAX header bytes, max_body body bytes, output up to
 * max_static plus headers; anything larger is answered 413/431 and the
 * connection closed. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "http_head_field.h"
#include "log.h"
#include "txn_header_auth.h"
#include "txn_parser.h"
#include "webmail.h"

#define ACCEPT_BURST 64
#define READ_CHUNK   16384

static void on_conn(struct event_loop *loop, int fd, uint32_t events, void *arg);

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 303:
		return "See Other";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 411:
		return "Length Required";
	case 413:
		return "Payload Too Large";
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	default:
		return "Internal Server Error";
	}
}

uint8_t *wm_build_response(int status, const char *ctype, const char *extra_headers,
			   const void *body, size_t len, size_t *out_len)
{
	char head[1024];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nServer: craft-webmail\r\nContent-Type: %s\r\n"
			 "Content-Length: %zu\r\n%s\r\n",
			 status, reason(status), ctype, len, extra_headers ? extra_headers : "");
	if (n < 0 || (size_t)n >= sizeof(head))
		return NULL;
	uint8_t *buf = malloc((size_t)n + len);
	if (!buf)
		return NULL;
	memcpy(buf, head, (size_t)n);
	if (len)
		memcpy(buf + n, body, len);
	*out_len = (size_t)n + len;
	return buf;
}

int wm_send_raw(struct wm_conn *c, const void *bytes, size_t len)
{
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_len + len;
		uint8_t *p = realloc(c->out, cap);
		if (!p)
			return -ENOMEM;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, bytes, len);
	c->out_len += len;
	return 0;
}

int wm_respond(struct webmail *w, struct wm_conn *c, int status, const char *ctype,
	       const char *extra_headers, const void *body, size_t len)
{
	size_t n;
	uint8_t *buf = wm_build_response(status, ctype, extra_headers, body, len, &n);
	if (!buf)
		return -ENOMEM;
	int rc = wm_send_raw(c, buf, n);
	free(buf);
	if (status < 300)
		w->c.status_2xx++;
	else if (status < 400)
		w->c.status_3xx++;
	else if (status < 500)
		w->c.status_4xx++;
	else
		w->c.status_5xx++;
	return rc;
}

static void conn_close(struct webmail *w, struct wm_conn *c)
{
	event_loop_del_fd(w->loop, c->fd);
	close(c->fd);
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static int watch(struct webmail *w, struct wm_conn *c, bool out)
{
	event_loop_del_fd(w->loop, c->fd);
	c->writing = out;
	return event_loop_add_fd(w->loop, c->fd, out ? EPOLLOUT : EPOLLIN, on_conn, c);
}

/* 1 drained, 0 still pending, -1 error. */
static int flush(struct wm_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	if (c->out_cap > 65536) { /* do not keep a big static file's buffer */
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	return 1;
}

static void parse_cookie(const char *v, size_t len, char *out)
{
	out[0] = '\0';
	for (size_t i = 0; i + 4 + WM_KEY_LEN <= len; i++) {
		if (strncmp(v + i, "sid=", 4) || (i && v[i - 1] != ' ' && v[i - 1] != ';'))
			continue;
		memcpy(out, v + i + 4, WM_KEY_LEN);
		out[WM_KEY_LEN] = '\0';
		for (int k = 0; k < WM_KEY_LEN; k++)
			if (!strchr("0123456789abcdef", out[k]) || !out[k])
				out[0] = '\0';
		return;
	}
}

/* With the cluster key, X-Craft-Txn counts only with its tag for this
 * connection (txn_header_auth.h); a client's own header is ignored. */
static bool txn_header_believed(struct webmail *w, const struct wm_conn *c, uint64_t id,
				const char *tag, size_t tlen)
{
	if (!w->have_txn_key)
		return true;
	const struct txn_auth_conn tc = {.client_ip = htonl(c->peer_ip),
					 .client_port = c->peer_port,
					 .server_ip = htonl(c->local_ip),
					 .server_port = c->local_port};
	if (tag && txn_auth_verify(&w->txn_key, id, &tc, tag, tlen) == 0)
		return true;
	w->c.txn_header_refused++;
	log_debug("X-Craft-Txn %016llx from %08x:%u %s: ignored", (unsigned long long)id,
		  c->peer_ip, c->peer_port, tag ? "with a wrong tag" : "without a tag");
	return false;
}

static uint64_t next_txn(struct webmail *w, struct wm_conn *c, const char *hdr, size_t hlen,
			 const char *tag, size_t tlen)
{
	uint64_t id;
	c->ordinal++;
	if (hdr && w->cfg.trust_txn_header && txn_id_parse(hdr, hlen, &id) == 0 && id &&
	    txn_header_believed(w, c, id, tag, tlen)) {
		c->alias_txn = id;
		c->alias_ord = c->ordinal;
		w->c.txn_header++;
		return id;
	}
	if (c->alias_txn)
		return (c->alias_txn & ~0xffffull) |
		       (uint16_t)(txn_id_ordinal(c->alias_txn) + (c->ordinal - c->alias_ord));
	return txn_id_make(c->peer_ip, c->peer_port, (uint16_t)c->ordinal);
}

/* Answers a framing error and closes after the response. */
static void fail_request(struct webmail *w, struct wm_conn *c, int status)
{
	w->c.bad_requests++;
	const char *msg = reason(status);
	wm_respond(w, c, status, "text/plain", "Connection: close\r\n", msg, strlen(msg));
	c->close_after = true;
	c->in_len = 0;
}

/* Frames and handles one request from c->in. 1 handled, 0 needs more. */
static int one_request(struct webmail *w, struct wm_conn *c)
{
	char *in = (char *)c->in;
	size_t lim = c->in_len < WM_HEAD_MAX ? c->in_len : WM_HEAD_MAX;
	char *eoh = memmem(in, lim, "\r\n\r\n", 4);
	if (!eoh) {
		if (c->in_len >= WM_HEAD_MAX) {
			fail_request(w, c, 431);
			return 1;
		}
		return 0;
	}
	size_t head_len = (size_t)(eoh - in) + 4;
	struct wm_request req = {0};
	char target[WM_PATH_MAX * 2 + 2], version[16];
	char line[sizeof(target) + 64];
	size_t l0 = (size_t)((char *)memchr(in, '\r', head_len) - in);
	if (l0 >= sizeof(line)) {
		fail_request(w, c, 414);
		return 1;
	}
	memcpy(line, in, l0);
	line[l0] = '\0';
	if (sscanf(line, "%15s %513s %15s", req.method, target, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7) || target[0] != '/') {
		fail_request(w, c, 400);
		return 1;
	}
	char *q = strchr(target, '?');
	if (q)
		*q++ = '\0';
	if (strlen(target) >= sizeof(req.path) || (q && strlen(q) >= sizeof(req.query))) {
		fail_request(w, c, 414);
		return 1;
	}
	memcpy(req.path, target, strlen(target) + 1);
	if (q)
		memcpy(req.query, q, strlen(q) + 1);
	size_t vlen;
	const char *v;
	if (http_head_field(in, head_len, "Transfer-Encoding", &vlen)) {
		fail_request(w, c, 501);
		return 1;
	}
	uint64_t clen = 0;
	if ((v = http_head_field(in, head_len, "Content-Length", &vlen))) {
		char num[24];
		char *end;
		snprintf(num, sizeof(num), "%.*s", (int)(vlen < 20 ? vlen : 20), v);
		clen = strtoull(num, &end, 10);
		if (!vlen || *end) {
			fail_request(w, c, 400);
			return 1;
		}
	}
	if (clen > w->cfg.max_body) {
		fail_request(w, c, 413);
		return 1;
	}
	if (c->in_len < head_len + clen)
		return 0;
	bool keep = version[7] == '1';
	if ((v = http_head_field(in, head_len, "Connection", &vlen))) {
		if (vlen == 5 && !strncasecmp(v, "close", 5))
			keep = false;
		else if (vlen == 10 && !strncasecmp(v, "keep-alive", 10))
			keep = true;
	}
	if ((v = http_head_field(in, head_len, "Cookie", &vlen)))
		parse_cookie(v, vlen, req.cookie);
	size_t tlen = 0;
	const char *tag = http_head_field(in, head_len, TXN_AUTH_HEADER_NAME, &tlen);
	v = http_head_field(in, head_len, SESSION_SYNC_TXN_HEADER_NAME, &vlen);
	req.txn_id = next_txn(w, c, v, v ? vlen : 0, tag, tlen);
	req.body = in + head_len;
	req.body_len = (size_t)clen;
	w->c.requests++;
	webmail_handle(w, c, &req);
	if (!keep)
		c->close_after = true;
	size_t used = head_len + (size_t)clen;
	memmove(c->in, c->in + used, c->in_len - used);
	c->in_len -= used;
	return 1;
}

/* Handles what is buffered, writes, switches between reading and
 * writing. Returns false when the connection was closed. */
static bool progress(struct webmail *w, struct wm_conn *c)
{
	/* Bounded: every round consumes a buffered request or returns. */
	for (;;) {
		int f = flush(c);
		if (f < 0) {
			conn_close(w, c);
			return false;
		}
		if (f == 0) {
			if (!c->writing && watch(w, c, true) < 0) {
				conn_close(w, c);
				return false;
			}
			return true;
		}
		if (c->close_after) {
			conn_close(w, c);
			return false;
		}
		if (!one_request(w, c)) {
			if (c->peer_eof) { /* answered all it sent */
				conn_close(w, c);
				return false;
			}
			break;
		}
	}
	if (c->writing && watch(w, c, false) < 0) {
		conn_close(w, c);
		return false;
	}
	return true;
}

static void on_conn(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop;
	(void)fd;
	struct wm_conn *c = arg;
	struct webmail *w = c->w;
	c->last_ms = monotonic_ms();
	if (!c->writing && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		size_t cap = WM_HEAD_MAX + w->cfg.max_body;
		size_t room = cap - c->in_len;
		if (room) {
			ssize_t n = recv(c->fd, c->in + c->in_len,
					 room < READ_CHUNK ? room : READ_CHUNK, MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				conn_close(w, c);
				return;
			}
			if (n == 0) /* half-closed: answer what is buffered, then close */
				c->peer_eof = true;
			if (n > 0)
				c->in_len += (size_t)n;
		}
	}
	progress(w, c);
}

static void on_accept(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)events;
	struct webmail *w = arg;
	for (int i = 0; i < ACCEPT_BURST; i++) {
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		int cfd =
		    accept4(fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0)
			return;
		struct sockaddr_in local = {0};
		socklen_t llen = sizeof(local);
		getsockname(cfd, (struct sockaddr *)&local, &llen); /* the tag's server end */
		struct wm_conn *c = NULL;
		for (uint32_t j = 0; j < w->cfg.max_conns && !c; j++)
			if (w->conns[j].fd < 0)
				c = &w->conns[j];
		uint8_t *in = c ? malloc(WM_HEAD_MAX + w->cfg.max_body) : NULL;
		if (!in) {
			w->c.conns_refused++;
			close(cfd);
			continue;
		}
		*c = (struct wm_conn){.fd = cfd,
				      .w = w,
				      .peer_ip = ntohl(peer.sin_addr.s_addr),
				      .peer_port = ntohs(peer.sin_port),
				      .local_ip = ntohl(local.sin_addr.s_addr),
				      .local_port = ntohs(local.sin_port),
				      .in = in,
				      .last_ms = monotonic_ms()};
		if (event_loop_add_fd(loop, cfd, EPOLLIN, on_conn, c) < 0) {
			free(in);
			close(cfd);
			c->fd = -1;
			c->in = NULL;
			w->c.conns_refused++;
			continue;
		}
		w->c.conns++;
	}
}

int webmail_listen(struct webmail *w, char *err, size_t errlen)
{
	w->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (w->lfd < 0 || setsockopt(w->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(w->lfd, (struct sockaddr *)&w->cfg.listen, sizeof(w->cfg.listen)) < 0 ||
	    listen(w->lfd, 128) < 0) {
		int e = errno;
		snprintf(err, errlen, "listen %s:%u: %s", inet_ntoa(w->cfg.listen.sin_addr),
			 ntohs(w->cfg.listen.sin_port), strerror(e));
		return -e;
	}
	int rc = event_loop_add_fd(w->loop, w->lfd, EPOLLIN, on_accept, w);
	if (rc < 0)
		snprintf(err, errlen, "event loop: %s", strerror(-rc));
	return rc;
}

void webmail_close_all(struct webmail *w)
{
	for (uint32_t i = 0; w->conns && i < w->cfg.max_conns; i++)
		if (w->conns[i].fd >= 0)
			conn_close(w, &w->conns[i]);
	if (w->lfd >= 0) {
		event_loop_del_fd(w->loop, w->lfd);
		close(w->lfd);
		w->lfd = -1;
	}
}

void webmail_sweep_idle(struct webmail *w)
{
	uint64_t now = monotonic_ms();
	for (uint32_t i = 0; i < w->cfg.max_conns; i++) {
		struct wm_conn *c = &w->conns[i];
		if (c->fd >= 0 && now - c->last_ms > w->cfg.idle_timeout_ms) {
			w->c.conns_idle++;
			conn_close(w, c);
		}
	}
}
