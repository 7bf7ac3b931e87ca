/* craft-auxd - the auxiliary server of the demo (paper §3, "aux servers":
 * the mail store RoundCube talks IMAP to). It counts what it received per
 * transaction ID, so a test can assert that each update transaction took
 * effect exactly once, also across a backend failover whose replay must
 * be answered by the aux logger instead of reaching this server again.
 *
 * Line protocol over TCP (one request per line, LF or CRLF):
 *   craft<16 hex> SEND <to> <subject> <body>   (fields %-encoded, webmail.h)
 *       -> "craft<16 hex> OK <count>\n": count = how many times this
 *          transaction ID was received (1 the first time)
 *       -> "craft<16 hex> NO full\n" when the table (max_txns) is full
 *   craft<16 hex> NOOP   -> "craft<16 hex> OK 0\n"
 *   STATS  -> "total T distinct D duplicates K\n", one
 *             "txn <16 hex> count C to <to>\n" per transaction, "END\n"
 *   RESET  -> "OK\n" (forgets every count; for tests)
 * Anything else: "* BAD <why>\n" (counted); a line longer than max_line
 * ends the connection. The tagged answers match the aux logger's line
 * rule: protocol line, id = craft, line_response = line,
 * line_pattern = "^craft[0-9a-f]+ (OK|NO|BAD)".
 *
 * A slow mail store, for the tests that need the aux server's answer to be
 * on its way while a backend dies (auxd.delay, auxd.delay_to): a SEND to a
 * recipient beginning with delay_to ("" = every SEND) is counted at once
 * and answered `delay` later; the connection's later lines wait behind it.
 *
 *   craft-auxd -o auxd.listen=198.18.3.10:7000 [--stats-file PATH]
 * Sections [auxd] (listen, max_conns, max_txns, max_line, idle_timeout,
 * delay, delay_to) and [daemon] (service.h). Bounded: connections, lines,
 * the table, the output of one connection (max_line + the STATS listing). */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "service.h"
#include "session_sync.h"
#include "stats.h"

#define TO_MAX 64

struct auxd_config {
	struct sockaddr_in listen;
	uint32_t max_conns, max_txns, max_line;
	uint64_t idle_timeout_ms;
	uint64_t delay_ms; /* answer a matching SEND this much later */
	char delay_to[TO_MAX + 1];
};

struct aux_txn {
	uint64_t id;
	uint32_t count;
	char to[TO_MAX + 1];
};

struct aux_conn {
	int fd;
	struct auxd *d;
	char *in;
	size_t in_len;
	char *out;
	size_t out_len, out_off;
	bool writing, closing;
	uint64_t last_ms;
	uint64_t hold_until; /* delay: nothing is sent before (monotonic ms) */
};

struct auxd {
	struct auxd_config cfg;
	struct event_loop *loop;
	int lfd;
	struct aux_conn *conns;
	struct aux_txn *txns;
	uint32_t ntxns;
	uint64_t total, conns_total, refused, bad, full, long_lines, noops, delayed;
	uint32_t ticks;
};

static const struct config_key auxd_keys[] = {
    CONFIG_IPV4_PORT("auxd", "listen", struct auxd_config, listen),
    CONFIG_U32("auxd", "max_conns", struct auxd_config, max_conns, 1, 65536),
    CONFIG_U32("auxd", "max_txns", struct auxd_config, max_txns, 1, 1u << 20),
    CONFIG_U32("auxd", "max_line", struct auxd_config, max_line, 64, 1u << 20),
    CONFIG_DURATION_MS("auxd", "idle_timeout", struct auxd_config, idle_timeout_ms, 100, 3600000),
    CONFIG_DURATION_MS("auxd", "delay", struct auxd_config, delay_ms, 0, 60000),
    CONFIG_STR("auxd", "delay_to", struct auxd_config, delay_to),
    {0},
};

static void on_conn(struct event_loop *loop, int fd, uint32_t events, void *arg);

static void conn_close(struct aux_conn *c)
{
	event_loop_del_fd(c->d->loop, c->fd);
	close(c->fd);
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void out_add(struct aux_conn *c, const char *s, size_t n)
{
	char *p = realloc(c->out, c->out_len + n);
	if (!p) {
		c->closing = true;
		return;
	}
	memcpy(p + c->out_len, s, n);
	c->out = p;
	c->out_len += n;
}

static void out_fmt(struct aux_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_fmt(struct aux_conn *c, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		out_add(c, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static struct aux_txn *txn_find(struct auxd *d, uint64_t id)
{
	for (uint32_t i = 0; i < d->ntxns; i++)
		if (d->txns[i].id == id)
			return &d->txns[i];
	return NULL;
}

static void cmd_stats(struct auxd *d, struct aux_conn *c)
{
	uint64_t dups = 0;
	for (uint32_t i = 0; i < d->ntxns; i++)
		dups += d->txns[i].count > 1;
	out_fmt(c, "total %" PRIu64 " distinct %u duplicates %" PRIu64 "\n", d->total, d->ntxns,
		dups);
	for (uint32_t i = 0; i < d->ntxns; i++)
		out_fmt(c, "txn %016" PRIx64 " count %u to %s\n", d->txns[i].id, d->txns[i].count,
			d->txns[i].to);
	out_fmt(c, "END\n");
}

static void one_line(struct auxd *d, struct aux_conn *c, char *line)
{
	char *save = NULL;
	char *w0 = strtok_r(line, " ", &save);
	if (!w0) {
		d->bad++;
		out_fmt(c, "* BAD empty\n");
		return;
	}
	if (!strcmp(w0, "STATS")) {
		cmd_stats(d, c);
		return;
	}
	if (!strcmp(w0, "RESET")) {
		d->ntxns = 0;
		d->total = 0;
		out_fmt(c, "OK\n");
		return;
	}
	uint64_t id;
	if (session_sync_parse_txn_tag(w0, strlen(w0), &id) < 0) {
		d->bad++;
		out_fmt(c, "* BAD untagged\n");
		return;
	}
	char *cmd = strtok_r(NULL, " ", &save);
	if (cmd && !strcmp(cmd, "NOOP")) {
		d->noops++;
		out_fmt(c, "%s OK 0\n", w0);
		return;
	}
	char *to = cmd && !strcmp(cmd, "SEND") ? strtok_r(NULL, " ", &save) : NULL;
	if (!to) {
		d->bad++;
		out_fmt(c, "%s BAD syntax\n", w0);
		return;
	}
	struct aux_txn *t = txn_find(d, id);
	if (!t) {
		if (d->ntxns >= d->cfg.max_txns) {
			d->full++;
			out_fmt(c, "%s NO full\n", w0);
			return;
		}
		t = &d->txns[d->ntxns++];
		*t = (struct aux_txn){.id = id};
		snprintf(t->to, sizeof(t->to), "%.*s", TO_MAX, to);
	}
	t->count++;
	d->total++;
	if (d->cfg.delay_ms && !strncmp(to, d->cfg.delay_to, strlen(d->cfg.delay_to))) {
		d->delayed++;
		c->hold_until = monotonic_ms() + d->cfg.delay_ms;
	}
	if (t->count > 1)
		log_warn("transaction %016" PRIx64 " received %u times", id, t->count);
	out_fmt(c, "%s OK %u\n", w0, t->count);
}

static void watch(struct aux_conn *c, bool out)
{
	event_loop_del_fd(c->d->loop, c->fd);
	c->writing = out;
	if (event_loop_add_fd(c->d->loop, c->fd, out ? EPOLLOUT : EPOLLIN, on_conn, c) < 0)
		c->closing = true;
}

/* false when closed */
static bool flush_out(struct aux_conn *c)
{
	if (c->hold_until && monotonic_ms() < c->hold_until) {
		if (c->writing) /* the tick sends it; do not spin on EPOLLOUT */
			watch(c, false);
		return true;
	}
	c->hold_until = 0;
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN) {
			if (!c->writing)
				watch(c, true);
			return true;
		}
		if (n <= 0) {
			conn_close(c);
			return false;
		}
		c->out_off += (size_t)n;
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	if (c->closing) {
		conn_close(c);
		return false;
	}
	if (c->writing)
		watch(c, false);
	return true;
}

static void on_conn(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop;
	(void)fd;
	(void)events;
	struct aux_conn *c = arg;
	struct auxd *d = c->d;
	c->last_ms = monotonic_ms();
	if (c->writing) {
		flush_out(c);
		return;
	}
	ssize_t n = recv(c->fd, c->in + c->in_len, d->cfg.max_line - c->in_len, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_close(c);
		return;
	}
	if (n > 0)
		c->in_len += (size_t)n;
	char *nl;
	while ((nl = memchr(c->in, '\n', c->in_len))) {
		size_t used = (size_t)(nl - c->in) + 1, len = used - 1;
		bool has_nul = memchr(c->in, '\0', len) != NULL;
		*nl = '\0';
		if (len && c->in[len - 1] == '\r')
			c->in[len - 1] = '\0';
		if (has_nul) {
			d->bad++;
			out_fmt(c, "* BAD nul\n");
		} else {
			one_line(d, c, c->in);
		}
		memmove(c->in, c->in + used, c->in_len - used);
		c->in_len -= used;
	}
	if (c->in_len >= d->cfg.max_line) {
		d->long_lines++;
		out_fmt(c, "* BAD line too long\n");
		c->closing = true;
	}
	flush_out(c);
}

static void on_accept(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	(void)events;
	struct auxd *d = arg;
	for (int i = 0; i < 64; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0)
			return;
		struct aux_conn *c = NULL;
		for (uint32_t j = 0; j < d->cfg.max_conns && !c; j++)
			if (d->conns[j].fd < 0)
				c = &d->conns[j];
		char *in = c ? malloc(d->cfg.max_line) : NULL;
		if (!in || event_loop_add_fd(loop, cfd, EPOLLIN, on_conn, c) < 0) {
			free(in);
			close(cfd);
			d->refused++;
			continue;
		}
		*c = (struct aux_conn){.fd = cfd, .d = d, .in = in, .last_ms = monotonic_ms()};
		d->conns_total++;
	}
}

static void on_tick(struct event_loop *loop, uint64_t expirations, void *arg)
{
	(void)loop;
	(void)expirations;
	struct auxd *d = arg;
	uint64_t now = monotonic_ms();
	for (uint32_t i = 0; i < d->cfg.max_conns; i++) {
		struct aux_conn *c = &d->conns[i];
		if (c->fd >= 0 && c->hold_until && now >= c->hold_until)
			flush_out(c); /* a delayed answer is due */
		else if (c->fd >= 0 && !c->hold_until && now - c->last_ms > d->cfg.idle_timeout_ms)
			conn_close(c);
	}
}

static void collect(void *arg, struct stats_report *r)
{
	struct auxd *d = arg;
	uint64_t dups = 0;
	for (uint32_t i = 0; i < d->ntxns; i++)
		dups += d->txns[i].count > 1;
	stats_add(r, NULL, "requests", d->total);
	stats_add(r, NULL, "txns", d->ntxns);
	stats_add(r, NULL, "duplicates", dups);
	stats_add(r, NULL, "noops", d->noops);
	stats_add(r, NULL, "delayed", d->delayed);
	stats_add(r, NULL, "conns", d->conns_total);
	stats_add(r, NULL, "conns_refused", d->refused);
	stats_add(r, NULL, "bad", d->bad);
	stats_add(r, NULL, "full", d->full);
	stats_add(r, NULL, "long_lines", d->long_lines);
}

static int setup(struct auxd *d, struct event_loop *loop)
{
	d->loop = loop;
	d->conns = calloc(d->cfg.max_conns, sizeof(*d->conns));
	d->txns = calloc(d->cfg.max_txns, sizeof(*d->txns));
	if (!d->conns || !d->txns)
		return -ENOMEM;
	for (uint32_t i = 0; i < d->cfg.max_conns; i++)
		d->conns[i].fd = -1;
	if (d->cfg.listen.sin_family != AF_INET) {
		log_err("auxd.listen is required");
		return -EINVAL;
	}
	int one = 1;
	d->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->lfd < 0 || setsockopt(d->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(d->lfd, (struct sockaddr *)&d->cfg.listen, sizeof(d->cfg.listen)) < 0 ||
	    listen(d->lfd, 128) < 0) {
		log_errno(LOG_ERR, "listen %s:%u", inet_ntoa(d->cfg.listen.sin_addr),
			  ntohs(d->cfg.listen.sin_port));
		return -errno;
	}
	int rc = event_loop_add_fd(loop, d->lfd, EPOLLIN, on_accept, d);
	if (rc == 0)
		rc = event_loop_add_timer(loop, d->cfg.delay_ms ? 10 : 1000, on_tick, d);
	if (rc >= 0)
		log_notice("listening on %s:%u", inet_ntoa(d->cfg.listen.sin_addr),
			   ntohs(d->cfg.listen.sin_port));
	return rc < 0 ? rc : 0;
}

int main(int argc, char **argv)
{
	static struct auxd d;
	d.lfd = -1;
	d.cfg = (struct auxd_config){
	    .max_conns = 64, .max_txns = 4096, .max_line = 8192, .idle_timeout_ms = 60000};
	const struct config_table tables[] = {{auxd_keys, &d.cfg}};
	const struct service_info info = {
	    .name = "craft-auxd",
	    .summary = "Demo aux server: counts requests per transaction ID (STATS).",
	    .tables = tables,
	    .ntables = 1,
	    .collect_stats = collect,
	};
	struct service svc;
	int rc = service_parse_args(&svc, &info, &d, argc, argv);
	if (rc)
		return rc > 0 ? SERVICE_EXIT_OK : SERVICE_EXIT_USAGE;
	svc.loop_capacity = d.cfg.max_conns + 8;
	if ((rc = service_start(&svc)) == 0) {
		rc = setup(&d, &svc.loop) < 0 ? SERVICE_EXIT_FAILURE : service_run(&svc);
		for (uint32_t i = 0; d.conns && i < d.cfg.max_conns; i++)
			if (d.conns[i].fd >= 0)
				conn_close(&d.conns[i]);
		if (d.lfd >= 0) {
			event_loop_del_fd(&svc.loop, d.lfd);
			close(d.lfd);
		}
	}
	service_stop(&svc);
	free(d.conns);
	free(d.txns);
	return rc;
}
