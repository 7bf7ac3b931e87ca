/* craft-relay2ca - the 2CA relay (see relay.h for the model).
 *
 *   craft-relay2ca --listen ADDR:PORT --server ADDR:PORT --control ADDR:PORT
 *                  --key-file FILE [--max-conns N] [--max-held BYTES]
 *                  [--max-saved BYTES] [--pretrans-age MS] [--stats-file FILE]
 *                  [--ctl-id N] [--max-clients N]
 *
 * This file is the data path: the listener, the two sockets of each pair,
 * non-blocking I/O in one event loop, and the byte classification of what
 * the server sends. relay_ctl.c holds the control requests. Runs until
 * SIGTERM/SIGINT; exit 0 then, 1 on a runtime error, 2 on usage. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "relay.h"
#include "stats.h"

#define IO_CHUNK 65536

int buf_append(struct buf *b, const uint8_t *d, size_t n, uint64_t max)
{
	if (b->len + n > max)
		return -ENOBUFS;
	if (b->head + b->len + n > b->cap) {
		if (b->head) {
			memmove(b->p, b->p + b->head, b->len);
			b->head = 0;
		}
		if (b->len + n > b->cap) {
			size_t cap = b->cap ? b->cap : 65536;
			while (cap < b->len + n)
				cap *= 2;
			uint8_t *np = realloc(b->p, cap);
			if (!np)
				return -ENOMEM;
			b->p = np;
			b->cap = cap;
		}
	}
	memcpy(b->p + b->head + b->len, d, n);
	b->len += n;
	return 0;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->head = b->len = 0;
		return;
	}
	b->head += n;
	b->len -= n;
}

void saved_purge_to(struct pair *p, uint64_t off)
{
	if (off > p->s_sent)
		off = p->s_sent;
	if (off <= p->s_base)
		return;
	buf_consume(&p->saved, (size_t)(off - p->s_base));
	p->s_base = off;
}

static void pair_free(struct pair *p)
{
	struct relay *r = p->r;
	if (p->pfd >= 0) {
		event_loop_del_fd(&r->loop, p->pfd);
		close(p->pfd);
	}
	if (p->sfd >= 0) {
		event_loop_del_fd(&r->loop, p->sfd);
		close(p->sfd);
	}
	struct pair **pp = &r->pairs;
	while (*pp != p)
		pp = &(*pp)->next;
	*pp = p->next;
	r->npairs--;
	r->st.closed++;
	free(p->saved.p);
	free(p->held.p);
	free(p->to_peer.p);
	free(p);
}

static void on_peer(struct event_loop *loop, int fd, uint32_t ev, void *arg);
static void on_srv(struct event_loop *loop, int fd, uint32_t ev, void *arg);

static void set_interest(struct pair *p, int fd, uint32_t *cur, uint32_t want, event_fd_cb cb)
{
	if (*cur == want)
		return;
	if (*cur)
		event_loop_del_fd(&p->r->loop, fd);
	if (want)
		event_loop_add_fd(&p->r->loop, fd, want, cb, p);
	*cur = want;
}

static void flush_to_peer(struct pair *p)
{
	while (p->to_peer.len && !p->dead) {
		ssize_t n = send(p->pfd, p->to_peer.p + p->to_peer.head, p->to_peer.len,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				p->dead = true;
			break;
		}
		buf_consume(&p->to_peer, (size_t)n);
	}
}

static void flush_to_srv(struct pair *p)
{
	struct relay *r = p->r;
	while (p->connected && p->s_sent < p->s_end && !p->dead) {
		size_t off = (size_t)(p->s_sent - p->s_base);
		ssize_t n = send(p->sfd, p->saved.p + p->saved.head + off,
				 (size_t)(p->s_end - p->s_sent), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				p->dead = true;
			break;
		}
		p->s_sent += (uint64_t)n;
	}
	if (p->state == RS_PRE_TRANS && p->s_end - p->s_base > r->cfg.max_saved)
		saved_purge_to(p, p->s_end - r->cfg.max_saved);
}

/* Writes what it can now, then sets interest, half-closes and ends the
 * pair when it is done (frees p then). */
void pair_update(struct pair *p)
{
	struct relay *r = p->r;
	flush_to_srv(p);
	flush_to_peer(p);
	if (p->dead) {
		pair_free(p);
		return;
	}
	if (p->peer_eof && p->s_sent == p->s_end && !p->srv_wr_shut && p->connected) {
		shutdown(p->sfd, SHUT_WR);
		p->srv_wr_shut = true;
	}
	if (p->srv_eof && p->to_peer.len == 0 && !p->peer_wr_shut) {
		shutdown(p->pfd, SHUT_WR);
		p->peer_wr_shut = true;
	}
	if (p->peer_wr_shut && p->srv_wr_shut) {
		pair_free(p);
		return;
	}
	uint32_t pw = 0, sw = 0;
	if (!p->peer_eof && p->s_end - p->s_sent < r->cfg.max_queue)
		pw |= EPOLLIN;
	if (p->to_peer.len)
		pw |= EPOLLOUT;
	if (!p->connected)
		sw = EPOLLOUT;
	else {
		if (!p->srv_eof && p->to_peer.len < r->cfg.max_queue)
			sw |= EPOLLIN;
		if (p->s_sent < p->s_end)
			sw |= EPOLLOUT;
	}
	set_interest(p, p->pfd, &p->pev, pw, on_peer);
	set_interest(p, p->sfd, &p->sev, sw, on_srv);
}

static void notify_failure(struct pair *p, int reason)
{
	if (!p->owner || p->failed)
		return;
	p->failed = reason;
	struct tx_msg m = {.op = TX_FAILURE, .reason = (uint16_t)reason, .conn = p->id};
	tx_ctl_server_notify(p->r->ctl, p->owner, &m);
}

/* Bytes read from the peer: saved (they are the queue toward the server). */
static void peer_data(struct pair *p, const uint8_t *d, size_t n, uint64_t now)
{
	struct relay *r = p->r;
	r->st.p2s_bytes += n;
	if (p->s_base == p->s_end)
		p->save_ms = now;
	if (p->s_end - p->s_base + n > r->cfg.max_saved) {
		bool prot = p->state == RS_IN_TRANS || p->state == RS_ABORTED;
		uint64_t limit = prot && p->in_start < p->s_sent ? p->in_start : p->s_sent;
		r->st.aged_bytes += (limit > p->s_base ? limit - p->s_base : 0);
		saved_purge_to(p, limit);
		if (p->s_end - p->s_base + n > r->cfg.max_saved && prot) {
			r->st.saved_limit++;
			p->save_broken = true;
			if (p->state == RS_IN_TRANS)
				notify_failure(p, TX_R_SAVED_LIMIT);
			saved_purge_to(p, p->s_sent);
		}
	}
	if (buf_append(&p->saved, d, n, UINT64_MAX) < 0) {
		p->dead = true;
		return;
	}
	p->s_end += n;
}

/* Bytes read from the server, at offset srv_rcvd, classified. */
static void srv_data(struct pair *p, const uint8_t *d, size_t n)
{
	struct relay *r = p->r;
	r->st.s2p_bytes += n;
	while (n) {
		uint64_t o = p->srv_rcvd;
		while (p->ndis && p->dis_to[0] <= o) {
			memmove(p->dis_from, p->dis_from + 1, (p->ndis - 1) * sizeof(uint64_t));
			memmove(p->dis_to, p->dis_to + 1, (p->ndis - 1) * sizeof(uint64_t));
			p->ndis--;
		}
		size_t k = n;
		if (p->ndis && o >= p->dis_from[0]) {
			if (p->dis_to[0] - o < k)
				k = (size_t)(p->dis_to[0] - o);
			r->st.discarded_bytes += k;
		} else {
			if (p->ndis && p->dis_from[0] - o < k)
				k = (size_t)(p->dis_from[0] - o);
			if (p->hold_from != UINT64_MAX && o >= p->hold_from) {
				if (p->failed == TX_R_HELD_LIMIT ||
				    p->held.len + k > r->cfg.max_held) {
					r->st.held_limit += p->failed != TX_R_HELD_LIMIT;
					notify_failure(p, TX_R_HELD_LIMIT);
					p->failed = TX_R_HELD_LIMIT;
				} else if (buf_append(&p->held, d, k, UINT64_MAX) < 0) {
					p->dead = true;
					return;
				} else {
					r->st.held_bytes_total += k;
				}
			} else {
				if (p->hold_from != UINT64_MAX && p->hold_from - o < k)
					k = (size_t)(p->hold_from - o);
				if (buf_append(&p->to_peer, d, k, UINT64_MAX) < 0) {
					p->dead = true;
					return;
				}
			}
		}
		p->srv_rcvd += k;
		d += k;
		n -= k;
	}
	if (p->state == RS_COMMITTED && p->srv_rcvd >= p->commit_end)
		p->state = RS_PRE_TRANS;
}

static void on_peer(struct event_loop *loop, int fd, uint32_t ev, void *arg)
{
	(void)loop;
	struct pair *p = arg;
	static uint8_t buf[IO_CHUNK];
	if (ev & EPOLLOUT)
		flush_to_peer(p);
	if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !p->dead) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0)
			peer_data(p, buf, (size_t)n, monotonic_ms());
		else if (n == 0)
			p->peer_eof = true;
		else if (errno != EAGAIN && errno != EINTR)
			p->dead = true;
	}
	pair_update(p);
}

static void on_srv(struct event_loop *loop, int fd, uint32_t ev, void *arg)
{
	(void)loop;
	struct pair *p = arg;
	static uint8_t buf[IO_CHUNK];
	struct relay *r = p->r;
	if (!p->connected) {
		int err = 0;
		socklen_t el = sizeof(err);
		struct sockaddr_in l;
		socklen_t ll = sizeof(l);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err ||
		    getsockname(fd, (struct sockaddr *)&l, &ll) < 0) {
			r->st.connect_fail++;
			p->dead = true;
			pair_update(p);
			return;
		}
		p->connected = true;
		p->id.peer_addr = ntohl(l.sin_addr.s_addr);
		p->id.peer_port = ntohs(l.sin_port);
		p->id.server_addr = ntohl(r->cfg.server.sin_addr.s_addr);
		p->id.server_port = ntohs(r->cfg.server.sin_port);
		pair_update(p);
		return;
	}
	if (ev & EPOLLOUT)
		flush_to_srv(p);
	if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !p->dead) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0)
			srv_data(p, buf, (size_t)n);
		else if (n == 0)
			p->srv_eof = true;
		else if (errno != EAGAIN && errno != EINTR)
			p->dead = true;
	}
	pair_update(p);
}

static void on_accept(struct event_loop *loop, int lfd, uint32_t ev, void *arg)
{
	(void)ev;
	(void)loop;
	struct relay *r = arg;
	for (int i = 0; i < 16; i++) {
		int pfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (pfd < 0)
			return;
		struct pair *p = r->npairs < r->cfg.max_conns ? calloc(1, sizeof(*p)) : NULL;
		int sfd = p ? socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) : -1;
		if (!p || sfd < 0 ||
		    (connect(sfd, (struct sockaddr *)&r->cfg.server, sizeof(r->cfg.server)) < 0 &&
		     errno != EINPROGRESS)) {
			r->st.refused++;
			close(pfd);
			if (sfd >= 0)
				close(sfd);
			free(p);
			continue;
		}
		int one = 1;
		setsockopt(pfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		p->r = r;
		p->pfd = pfd;
		p->sfd = sfd;
		p->hold_from = UINT64_MAX;
		p->next = r->pairs;
		r->pairs = p;
		r->npairs++;
		r->st.accepted++;
		pair_update(p);
	}
}

static void write_stats(struct relay *r)
{
	if (!r->cfg.stats_file[0])
		return;
	struct stats_report rep;
	stats_reset(&rep);
	const struct relay_stats *s = &r->st;
	uint64_t held = 0, saved = 0;
	for (struct pair *p = r->pairs; p; p = p->next) {
		held += p->held.len;
		saved += p->s_end - p->s_base;
	}
	stats_add(&rep, NULL, "conns", r->npairs);
	stats_add(&rep, NULL, "held_bytes", held);
	stats_add(&rep, NULL, "saved_bytes", saved);
#define ADD(f) stats_add(&rep, NULL, #f, s->f)
	ADD(accepted);
	ADD(refused);
	ADD(closed);
	ADD(connect_fail);
	ADD(p2s_bytes);
	ADD(s2p_bytes);
	ADD(held_bytes_total);
	ADD(released_bytes);
	ADD(discarded_bytes);
	ADD(restarts);
	ADD(resend_bytes);
	ADD(held_limit);
	ADD(saved_limit);
	ADD(aged_bytes);
	ADD(owner_lost);
#undef ADD
	for (int op = TX_START; op <= TX_RESTART; op++) {
		char name[32];
		snprintf(name, sizeof(name), "ctl_%s", tx_op_name(op));
		stats_add(&rep, NULL, name, s->ctl_ok[op]);
	}
	for (int i = 1; i < TX_NREASONS; i++) {
		char name[40];
		snprintf(name, sizeof(name), "ctl_fail_%s", tx_reason_name(i));
		stats_add(&rep, NULL, name, s->ctl_fail[i]);
	}
	if (r->ctl)
		tx_ctl_server_collect_stats(r->ctl, &rep, "ctl");
	stats_write_file(&rep, r->cfg.stats_file);
}

static void on_tick(struct event_loop *loop, uint64_t exp, void *arg)
{
	(void)loop;
	(void)exp;
	struct relay *r = arg;
	uint64_t now = monotonic_ms();
	for (struct pair *p = r->pairs; p; p = p->next)
		relay_age(r, p, now);
	write_stats(r);
}

static void on_signal(struct event_loop *loop, int signo, void *arg)
{
	(void)signo;
	(void)arg;
	event_loop_stop(loop);
}

static int parse_args(struct relay *r, int argc, char **argv)
{
	static const struct option opts[] = {{"listen", 1, 0, 'l'},
					     {"server", 1, 0, 's'},
					     {"control", 1, 0, 'c'},
					     {"key-file", 1, 0, 'k'},
					     {"max-conns", 1, 0, 'n'},
					     {"max-held", 1, 0, 'H'},
					     {"max-saved", 1, 0, 'S'},
					     {"pretrans-age", 1, 0, 'a'},
					     {"stats-file", 1, 0, 'f'},
					     {"ctl-id", 1, 0, 'i'},
					     {"max-clients", 1, 0, 'm'},
					     {"help", 0, 0, 'h'},
					     {0, 0, 0, 0}};
	char err[256];
	int o, rc = 0;
	uint32_t v;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1 && rc == 0) {
		switch (o) {
		case 'l':
			rc = config_parse_ipv4_port(optarg, &r->cfg.listen, err, sizeof(err));
			break;
		case 's':
			rc = config_parse_ipv4_port(optarg, &r->cfg.server, err, sizeof(err));
			break;
		case 'c':
			rc = config_parse_ipv4_port(optarg, &r->cfg.control, err, sizeof(err));
			break;
		case 'k':
			rc = config_parse_str(optarg, r->cfg.key_file, sizeof(r->cfg.key_file), err,
					      sizeof(err));
			break;
		case 'f':
			rc = config_parse_str(optarg, r->cfg.stats_file, sizeof(r->cfg.stats_file),
					      err, sizeof(err));
			break;
		case 'n':
			rc = config_parse_u32(optarg, 1, 100000, &r->cfg.max_conns, err,
					      sizeof(err));
			break;
		case 'm':
			rc = config_parse_u32(optarg, 1, 60000, &r->cfg.max_clients, err,
					      sizeof(err));
			break;
		case 'i':
			rc = config_parse_u32(optarg, 1, UINT32_MAX, &r->cfg.ctl_id, err,
					      sizeof(err));
			break;
		case 'H':
			rc = config_parse_size(optarg, 4096, 1ull << 30, &r->cfg.max_held, err,
					       sizeof(err));
			break;
		case 'S':
			rc = config_parse_size(optarg, 1024, 1ull << 30, &r->cfg.max_saved, err,
					       sizeof(err));
			break;
		case 'a':
			rc = config_parse_u32(optarg, 1, 3600000, &v, err, sizeof(err));
			r->cfg.pretrans_age_ms = v;
			break;
		case 'h':
			printf("usage: craft-relay2ca --listen A:P --server A:P --control A:P "
			       "--key-file F [--max-conns N] [--max-held B] [--max-saved B] "
			       "[--pretrans-age MS] [--stats-file F] [--ctl-id N] [--max-clients "
			       "N]\n");
			exit(0);
		default:
			return -1;
		}
	}
	if (rc < 0) {
		fprintf(stderr, "craft-relay2ca: %s\n", err);
		return -1;
	}
	if (r->cfg.listen.sin_family != AF_INET || r->cfg.server.sin_family != AF_INET ||
	    r->cfg.control.sin_family != AF_INET || !r->cfg.key_file[0]) {
		fprintf(stderr, "craft-relay2ca: --listen, --server, --control and --key-file "
				"are required\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct relay r;
	r.cfg.max_conns = 1024;
	r.cfg.max_clients = 1024;
	r.cfg.ctl_id = 2;
	r.cfg.max_held = 4u << 20;
	r.cfg.max_saved = 1u << 20;
	r.cfg.max_queue = 4u << 20;
	r.cfg.pretrans_age_ms = 10000;
	r.rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(1000, 10);
	log_set_ident("craft-relay2ca");
	if (parse_args(&r, argc, argv) < 0)
		return 2;
	char err[256];
	struct tx_ctl_server_config cc = {
	    .listen = r.cfg.control, .max_clients = r.cfg.max_clients, .sender_id = r.cfg.ctl_id};
	if (auth_key_load_file(r.cfg.key_file, &cc.key, err, sizeof(err)) < 0) {
		log_err("key %s: %s", r.cfg.key_file, err);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (event_loop_init_sized(&r.loop, 2 * r.cfg.max_conns + r.cfg.max_clients + 16) < 0)
		return 1;
	static const int sigs[] = {SIGTERM, SIGINT};
	struct tx_ctl_server_handler h = {
	    .request = relay_request, .closed = relay_owner_closed, .ctx = &r};
	int one = 1;
	r.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r.lfd < 0 || setsockopt(r.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(r.lfd, (struct sockaddr *)&r.cfg.listen, sizeof(r.cfg.listen)) < 0 ||
	    listen(r.lfd, 128) < 0 ||
	    event_loop_add_fd(&r.loop, r.lfd, EPOLLIN, on_accept, &r) < 0 ||
	    event_loop_add_signals(&r.loop, sigs, 2, on_signal, &r) < 0 ||
	    event_loop_add_timer(&r.loop, 100, on_tick, &r) < 0 ||
	    tx_ctl_server_open(&r.ctl, &cc, &h, &r.loop, err, sizeof(err)) < 0) {
		log_errno(LOG_ERR, "start-up %s", err);
		return 1;
	}
	auth_key_wipe(&cc.key);
	log_notice("relaying to the server, control listener up");
	int rc = event_loop_run(&r.loop);
	tx_ctl_server_close(r.ctl);
	r.ctl = NULL;
	while (r.pairs)
		pair_free(r.pairs);
	write_stats(&r);
	close(r.lfd);
	event_loop_free(&r.loop);
	return rc < 0 ? 1 : 0;
}
