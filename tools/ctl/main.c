/* craft-ctl - listens to and injects control messages (ctl_msg.h): what
 * the logger tells recovery, printed one line per message, and test
 * messages for the receivers. Used by operators ("what did the logger
 * announce?") and by the end-to-end tests, including the rejection tests:
 * a wrong --key, --twice (a replay), --no-auth and --garbage.
 *
 *   craft-ctl listen --key FILE --bind ADDR:PORT [--count N] [--timeout DUR]
 *   craft-ctl listen --unix PATH [--count N] [--timeout DUR]
 *   craft-ctl send --key FILE --to ADDR:PORT [--sender-id N] [--twice|--no-auth]
 *                  TYPE [field=value ...]
 *   craft-ctl send --unix PATH [--wait DUR] TYPE [field=value ...]
 *   craft-ctl send --key FILE --to ADDR:PORT --wait DUR TYPE [field=value ...]
 *   craft-ctl fetch (--unix PATH | --key FILE --to ADDR:PORT) --out FILE
 *                   [--wait DUR] [field=value ...]   (fields of `bytes`)
 *   craft-ctl send --to ADDR:PORT --garbage N
 *   craft-ctl probe [--timeout DUR] [--send TEXT] [--source IP] ADDR:PORT
 *
 * Listen prints only authenticated (UDP) or local messages, as
 * ctl_msg_format() lines followed by " sender=ID from=ADDR:PORT" (UDP) or
 * " from=local"; at the end (count reached, timeout, SIGINT/SIGTERM) one
 * line of counters goes to stderr ("craft-ctl: ctl_rx_udp=.. ..."), which
 * is where refused datagrams show up. The fields of `send` have the names
 * that listen prints. `probe` runs the logger's liveness probe once
 * (liveness_probe.h) and prints "alive rtt_us=N" or "dead error=NAME
 * rtt_us=N". `send --wait` prints the reply (over UDP: sent from an
 * ephemeral port, the reply authenticated like any datagram). `fetch` asks
 * BYTES_QUERY after BYTES_QUERY from offset= on, CTL_BYTES_MAX at a time,
 * until length= bytes came (default: until the logger has no more), writes
 * the bytes to --out and prints "fetched bytes=N offset=A end=B
 * status=NAME queries=Q". Exit: 0 ok / alive, 1 timeout before --count
 * messages / dead / no reply / a reply other than ok, 2 usage or error. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "auth_msg.h"
#include "clock.h"
#include "config.h"
#include "ctl_channel.h"
#include "ctl_msg.h"
#include "event_loop.h"
#include "liveness_probe.h"
#include "log.h"
#include "stats.h"
#include "version.h"

#include "ctl.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: craft-ctl listen (--key FILE --bind ADDR:PORT | --unix PATH)\n"
		"                        [--count N] [--timeout DUR] [--allow-sender ID]\n"
		"       craft-ctl send (--key FILE --to ADDR:PORT [--sender-id N] [--twice]\n"
		"                       [--no-auth] | --unix PATH [--wait DUR])\n"
		"                      TYPE [field=value ...]\n"
		"       craft-ctl send --to ADDR:PORT --garbage N\n"
		"       craft-ctl fetch (--unix PATH | --key FILE --to ADDR:PORT) --out FILE\n"
		"                       [--wait DUR] [bytes fields ...]\n"
		"Prints or injects logger <-> recovery control messages (ctl_msg.h).\n"
		"TYPE and fields (the names listen prints):\n"
		"  failed    backend= cause=confirm_timeout|probe_failed|idle_probe|manual event=\n"
		"            detected_us= latency_us= suspect_us= timeout_us= oldest_txn=\n"
		"            oldest_conn= conns_affected= conns_waiting= txns_outstanding=\n"
		"  recovered backend= event= recovered_us= down_us=\n"
		"  query     query= conn= client= server= first= max= flags=\n"
		"  reply     query= conn= status=ok|unknown_conn|busy|unsupported\n"
		"  bytes     query= conn= client= server= stream=server|client offset=\n"
		"            length= (1..1024)\n"
		"  bytes_reply query= conn= status=...|not_held stream= offset=\n"
		"Times default to now; backend, client and server are ADDR:PORT.\n"
		"  --twice      send the same authenticated datagram twice (a replay)\n"
		"  --no-auth    send the message over UDP without authentication\n"
		"  --garbage N  send N random bytes\n"
		"Exit: 0 ok, 1 timeout before --count messages, 2 usage or error.\n");
}

/* ---- building a message from field=value words -------------------------- */

int field_u64(const char *v, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 0);
	if (errno || end == v || *end || *v == '-')
		return -1;
	*out = x;
	return 0;
}

static int field_u32(const char *v, uint32_t *out)
{
	uint64_t x;
	if (field_u64(v, &x) < 0 || x > UINT32_MAX)
		return -1;
	*out = (uint32_t)x;
	return 0;
}

static int field_u16(const char *v, uint16_t *out)
{
	uint64_t x;
	if (field_u64(v, &x) < 0 || x > UINT16_MAX)
		return -1;
	*out = (uint16_t)x;
	return 0;
}

static int field_addr(const char *v, uint32_t *ip, uint16_t *port)
{
	struct sockaddr_in a;
	char err[128];
	if (config_parse_ipv4_port(v, &a, err, sizeof(err)) < 0)
		return -1;
	*ip = a.sin_addr.s_addr;
	*port = ntohs(a.sin_port);
	return 0;
}

static int field_name(const char *v, const char *const *names, int first, uint8_t *out)
{
	for (int i = 0; names[i]; i++)
		if (strcmp(v, names[i]) == 0) {
			*out = (uint8_t)(first + i);
			return 0;
		}
	return -1;
}

/* The fields both queries name a connection with: 0 / -1 when k is one
 * of them, 1 when it is not. */
static int conn_ref_field(const char *k, const char *v, uint64_t *query, uint64_t *conn,
			  uint32_t *cip, uint16_t *cport, uint32_t *sip, uint16_t *sport)
{
	if (!strcmp(k, "query"))
		return field_u64(v, query);
	if (!strcmp(k, "conn"))
		return field_u64(v, conn);
	if (!strcmp(k, "client"))
		return field_addr(v, cip, cport);
	if (!strcmp(k, "server"))
		return field_addr(v, sip, sport);
	return 1;
}

/* ... and both replies begin with: 0 / -1 when k is one of them, else 1. */
static int reply_field(const char *k, const char *v, uint64_t *query, uint64_t *conn,
		       uint8_t *status)
{
	static const char *const statuses[] = {"ok",	      "unknown_conn", "busy",
					       "unsupported", "not_held",     NULL};
	if (!strcmp(k, "query"))
		return field_u64(v, query);
	if (!strcmp(k, "conn"))
		return field_u64(v, conn);
	if (!strcmp(k, "status"))
		return field_name(v, statuses, 0, status);
	return 1;
}

static int set_field(struct ctl_msg *m, const char *k, const char *v)
{
	static const char *const causes[] = {"confirm_timeout", "probe_failed", "idle_probe",
					     "manual", NULL};
	static const char *const streams[] = {"server", "client", NULL};
	switch (m->type) {
	case CTL_BACKEND_FAILED: {
		struct ctl_backend_failed *f = &m->u.failed;
		if (!strcmp(k, "backend"))
			return field_addr(v, &f->ip, &f->port);
		if (!strcmp(k, "cause"))
			return field_name(v, causes, 1, &f->cause);
		if (!strcmp(k, "event"))
			return field_u64(v, &f->event_id);
		if (!strcmp(k, "detected_us"))
			return field_u64(v, &f->detected_us);
		if (!strcmp(k, "latency_us"))
			return field_u64(v, &f->latency_us);
		if (!strcmp(k, "suspect_us"))
			return field_u64(v, &f->suspect_us);
		if (!strcmp(k, "timeout_us"))
			return field_u32(v, &f->timeout_us);
		if (!strcmp(k, "oldest_txn")) {
			f->has_txn = true;
			return field_u64(v, &f->oldest_txn_id);
		}
		if (!strcmp(k, "oldest_conn"))
			return field_u64(v, &f->oldest_conn_id);
		if (!strcmp(k, "conns_affected"))
			return field_u32(v, &f->conns_affected);
		if (!strcmp(k, "conns_waiting"))
			return field_u32(v, &f->conns_waiting);
		if (!strcmp(k, "txns_outstanding"))
			return field_u32(v, &f->txns_outstanding);
		break;
	}
	case CTL_BACKEND_RECOVERED: {
		struct ctl_backend_recovered *r = &m->u.recovered;
		if (!strcmp(k, "backend"))
			return field_addr(v, &r->ip, &r->port);
		if (!strcmp(k, "event"))
			return field_u64(v, &r->event_id);
		if (!strcmp(k, "recovered_us"))
			return field_u64(v, &r->recovered_us);
		if (!strcmp(k, "down_us"))
			return field_u64(v, &r->down_us);
		break;
	}
	case CTL_CONN_QUERY: {
		struct ctl_conn_query *q = &m->u.query;
		int rc = conn_ref_field(k, v, &q->query_id, &q->conn_id, &q->client_ip,
					&q->client_port, &q->server_ip, &q->server_port);
		if (rc <= 0)
			return rc;
		if (!strcmp(k, "first"))
			return field_u32(v, &q->first_ordinal);
		if (!strcmp(k, "max"))
			return field_u16(v, &q->max_txns);
		if (!strcmp(k, "flags"))
			return field_u16(v, &q->flags);
		break;
	}
	case CTL_CONN_REPLY: {
		struct ctl_conn_reply *r = &m->u.reply;
		return reply_field(k, v, &r->query_id, &r->conn_id, &r->status) > 0 ? -1 : 0;
	}
	case CTL_BYTES_QUERY: {
		struct ctl_bytes_query *q = &m->u.bytes_query;
		int rc = conn_ref_field(k, v, &q->query_id, &q->conn_id, &q->client_ip,
					&q->client_port, &q->server_ip, &q->server_port);
		if (rc <= 0)
			return rc;
		if (!strcmp(k, "stream"))
			return field_name(v, streams, 0, &q->stream);
		if (!strcmp(k, "offset"))
			return field_u64(v, &q->offset);
		if (!strcmp(k, "length"))
			return field_u32(v, &q->length);
		break;
	}
	case CTL_BYTES_REPLY: {
		struct ctl_bytes_reply *r = &m->u.bytes_reply;
		int rc = reply_field(k, v, &r->query_id, &r->conn_id, &r->status);
		if (rc <= 0)
			return rc;
		if (!strcmp(k, "stream"))
			return field_name(v, streams, 0, &r->stream);
		if (!strcmp(k, "offset"))
			return field_u64(v, &r->offset);
		break;
	}
	case CTL_AUX_DIVERT: {
		static const char *const ops[] = {"start", "end", NULL};
		struct ctl_aux_divert *a = &m->u.aux;
		uint16_t port;
		if (!strcmp(k, "alternate")) /* ADDR:PORT like the other addresses */
			return field_addr(v, &a->alternate_ip, &port);
		if (!strcmp(k, "op"))
			return field_name(v, ops, CTL_AUX_START, &a->op);
		if (!strcmp(k, "job"))
			return field_u64(v, &a->job_id);
		if (!strcmp(k, "ttl_ms"))
			return field_u32(v, &a->ttl_ms);
		break;
	}
	}
	return -1;
}

int msg_from_words(int argc, char **argv, struct ctl_msg *m)
{
	static const char *const types[] = {"failed", "recovered",   "query",	   "reply",
					    "bytes",  "bytes_reply", "aux_divert", NULL};
	uint8_t t;
	if (argc < 1 || field_name(argv[0], types, 1, &t) < 0) {
		log_err("send: TYPE must be failed, recovered, query, reply, bytes, "
			"bytes_reply or aux_divert");
		return -1;
	}
	memset(m, 0, sizeof(*m));
	m->type = (enum ctl_type)t;
	uint64_t now = realtime_us();
	if (m->type == CTL_BACKEND_FAILED) {
		m->u.failed.cause = CTL_CAUSE_CONFIRM_TIMEOUT;
		m->u.failed.event_id = 1;
		m->u.failed.detected_us = m->u.failed.suspect_us = now;
	} else if (m->type == CTL_BACKEND_RECOVERED) {
		m->u.recovered.event_id = 1;
		m->u.recovered.recovered_us = now;
	} else if (m->type == CTL_CONN_QUERY) {
		m->u.query.max_txns = CTL_REPLY_MAX_TXNS;
		m->u.query.flags = CTL_QUERY_MARKS | CTL_QUERY_TXNS;
	} else if (m->type == CTL_BYTES_QUERY) {
		m->u.bytes_query.length = CTL_BYTES_MAX;
	} else if (m->type == CTL_AUX_DIVERT) {
		m->u.aux.op = CTL_AUX_START;
		m->u.aux.job_id = 1;
		m->u.aux.ttl_ms = 30000;
	}
	for (int i = 1; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq) {
			log_err("send: '%s' is not field=value", argv[i]);
			return -1;
		}
		*eq = '\0';
		if (set_field(m, argv[i], eq + 1) < 0) {
			log_err("send: bad field %s=%s for %s", argv[i], eq + 1, types[t - 1]);
			return -1;
		}
	}
	if (m->type == CTL_AUX_DIVERT && m->u.aux.op == CTL_AUX_END)
		m->u.aux.ttl_ms = 0; /* an END carries no ttl */
	uint8_t buf[CTL_MSG_MAX];
	if (ctl_msg_encode(m, buf, sizeof(buf)) < 0) {
		log_err("send: the message is incomplete (backend= is required for failed and "
			"recovered; max= must be 1..%d)",
			CTL_REPLY_MAX_TXNS);
		return -1;
	}
	return 0;
}

/* ---- listen ------------------------------------------------------------- */

struct listener {
	struct event_loop loop;
	struct ctl_channel ch;
	uint32_t seen, want;
	int local_fd;
	bool timed_out;
};

void print_msg(const struct ctl_msg *m, const char *suffix)
{
	char line[2048];
	ctl_msg_format(m, line, sizeof(line));
	printf("%s%s\n", line, suffix);
	fflush(stdout);
}

static void on_msg(void *arg, const struct ctl_msg *m, const struct ctl_origin *from)
{
	struct listener *l = arg;
	char suffix[96], a[INET_ADDRSTRLEN];
	snprintf(suffix, sizeof(suffix), " sender=%" PRIu32 " from=%s:%u", from->sender_id,
		 inet_ntop(AF_INET, &from->addr.sin_addr, a, sizeof(a)),
		 ntohs(from->addr.sin_port));
	print_msg(m, suffix);
	if (l->want && ++l->seen >= l->want)
		event_loop_stop(&l->loop);
}

static uint64_t local_rx, local_bad;

static void on_local(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	struct listener *l = arg;
	(void)events;
	uint8_t buf[CTL_MSG_MAX + 1];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		log_err("listen: the logger closed the control socket");
		event_loop_stop(loop);
		return;
	}
	struct ctl_msg m;
	if (ctl_msg_decode(buf, (size_t)n, &m) < 0) {
		local_bad++;
		return;
	}
	local_rx++;
	print_msg(&m, " from=local");
	if (l->want && ++l->seen >= l->want)
		event_loop_stop(loop);
}

static void on_timeout(struct event_loop *loop, uint64_t exp, void *arg)
{
	struct listener *l = arg;
	(void)exp;
	l->timed_out = true;
	event_loop_stop(loop);
}

static void on_signal(struct event_loop *loop, int signo, void *arg)
{
	(void)signo, (void)arg;
	event_loop_stop(loop);
}

int unix_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

static int cmd_listen(const struct opts *o)
{
	static struct listener l;
	char err[256];
	memset(&l, 0, sizeof(l));
	l.want = o->count;
	l.local_fd = -1;
	if (event_loop_init(&l.loop) < 0)
		return EXIT_USAGE;
	static const int sigs[] = {SIGINT, SIGTERM};
	event_loop_add_signals(&l.loop, sigs, 2, on_signal, &l);
	if (o->timeout_ms &&
	    event_loop_add_timer(&l.loop, (uint32_t)o->timeout_ms, on_timeout, &l) < 0)
		return EXIT_USAGE;
	bool udp = o->have_bind;
	if (udp) {
		struct ctl_channel_config cfg;
		ctl_channel_config_default(&cfg);
		cfg.bind = o->bind;
		snprintf(cfg.key_file, sizeof(cfg.key_file), "%s", o->key);
		memcpy(cfg.allow, o->allow, sizeof(cfg.allow));
		cfg.nallow = o->nallow;
		if (ctl_channel_open(&l.ch, &l.loop, &cfg, on_msg, &l, err, sizeof(err)) < 0) {
			log_err("listen: %s", err);
			return EXIT_USAGE;
		}
	} else {
		l.local_fd = unix_connect(o->unix_path);
		if (l.local_fd < 0) {
			log_err("listen: %s: %s", o->unix_path, strerror(-l.local_fd));
			return EXIT_USAGE;
		}
		event_loop_add_fd(&l.loop, l.local_fd, EPOLLIN, on_local, &l);
	}
	event_loop_run(&l.loop);
	struct stats_report r;
	char line[4096];
	stats_reset(&r);
	if (udp) {
		ctl_channel_collect_stats(&l.ch, &r, "ctl");
		ctl_channel_close(&l.ch);
	} else {
		stats_add(&r, "ctl", "rx_local", local_rx);
		stats_add(&r, "ctl", "rx_malformed", local_bad);
		close(l.local_fd);
	}
	fprintf(stderr, "craft-ctl: %s\n", stats_format_line(&r, line, sizeof(line)));
	event_loop_free(&l.loop);
	return l.want && l.seen < l.want ? EXIT_TIMEOUT : EXIT_OK;
}

/* ---- send --------------------------------------------------------------- */

static int raw_udp(const struct sockaddr_in *to, const void *buf, size_t len, int times)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	for (int i = 0; i < times; i++)
		if (sendto(fd, buf, len, 0, (const struct sockaddr *)to, sizeof(*to)) < 0) {
			int e = -errno;
			close(fd);
			return e;
		}
	close(fd);
	return 0;
}

static int send_unix(const struct opts *o, const struct ctl_msg *m)
{
	uint8_t buf[CTL_MSG_MAX + 1];
	int n = ctl_msg_encode(m, buf, sizeof(buf));
	int fd = unix_connect(o->unix_path);
	if (fd < 0) {
		log_err("send: %s: %s", o->unix_path, strerror(-fd));
		return EXIT_USAGE;
	}
	if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n) {
		log_err("send: %s: %s", o->unix_path, strerror(errno));
		close(fd);
		return EXIT_USAGE;
	}
	int rc = EXIT_OK;
	if (o->wait_ms) { /* print what comes back: a reply, or broadcasts */
		struct pollfd p = {.fd = fd, .events = POLLIN};
		rc = EXIT_TIMEOUT;
		if (poll(&p, 1, (int)o->wait_ms) == 1) {
			ssize_t r = recv(fd, buf, sizeof(buf), 0);
			struct ctl_msg got;
			if (r > 0 && ctl_msg_decode(buf, (size_t)r, &got) == 0) {
				print_msg(&got, " from=local");
				rc = EXIT_OK;
			}
		}
	}
	close(fd);
	return rc;
}

static int cmd_send(const struct opts *o, int argc, char **argv)
{
	if (o->garbage) {
		if (!o->have_to || o->garbage > 65000) {
			log_err("send: --garbage needs --to and at most 65000 bytes");
			return EXIT_USAGE;
		}
		uint8_t *buf = malloc(o->garbage);
		uint64_t x = realtime_us() | 1;
		for (uint32_t i = 0; buf && i < o->garbage; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[i] = (uint8_t)x;
		}
		int rc = buf ? raw_udp(&o->to, buf, o->garbage, 1) : -ENOMEM;
		free(buf);
		return rc < 0 ? EXIT_USAGE : EXIT_OK;
	}
	struct ctl_msg m;
	if (msg_from_words(argc, argv, &m) < 0)
		return EXIT_USAGE;
	if (o->unix_path)
		return send_unix(o, &m);
	if (!o->have_to) {
		log_err("send: --to ADDR:PORT or --unix PATH is required");
		return EXIT_USAGE;
	}
	if (o->wait_ms && !o->no_auth && !o->twice)
		return send_wait_udp(o, &m);
	uint8_t body[CTL_MSG_MAX], dg[CTL_DATAGRAM_MAX];
	int blen = ctl_msg_encode(&m, body, sizeof(body));
	if (o->no_auth)
		return raw_udp(&o->to, body, (size_t)blen, 1) < 0 ? EXIT_USAGE : EXIT_OK;
	if (!o->key) {
		log_err("send: --key FILE is required over UDP (or --no-auth)");
		return EXIT_USAGE;
	}
	struct auth_key key;
	char err[256];
	if (auth_key_load_file(o->key, &key, err, sizeof(err)) < 0) {
		log_err("send: %s", err);
		return EXIT_USAGE;
	}
	struct auth_sender s;
	auth_sender_init(&s, o->sender_id, 0);
	ssize_t n =
	    auth_msg_seal(&s, &key, CTL_AUTH_TYPE(m.type), body, (size_t)blen, dg, sizeof(dg));
	auth_key_wipe(&key);
	if (n < 0 || raw_udp(&o->to, dg, (size_t)n, o->twice ? 2 : 1) < 0) {
		log_err("send: %s", strerror(errno));
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* ---- probe -------------------------------------------------------------- */

struct probe_outcome {
	bool done;
	int result;
	uint64_t rtt_us;
};

static void on_probed(void *arg, uint64_t cookie, const struct sockaddr_in *addr, int result,
		      uint64_t rtt_us)
{
	struct probe_outcome *o = arg;
	(void)cookie, (void)addr;
	o->done = true;
	o->result = result;
	o->rtt_us = rtt_us;
}

static int cmd_probe(const struct opts *o, int argc, char **argv)
{
	struct sockaddr_in to;
	char err[256];
	if (argc != 1 || config_parse_ipv4_port(argv[0], &to, err, sizeof(err)) < 0) {
		log_err("probe: give one ADDR:PORT");
		return EXIT_USAGE;
	}
	struct lprobe_config cfg;
	lprobe_config_default(&cfg);
	if (o->timeout_ms)
		cfg.timeout_ms = o->timeout_ms;
	cfg.source = o->source;
	if (o->probe_send)
		snprintf(cfg.send, sizeof(cfg.send), "%s", o->probe_send);
	struct event_loop loop;
	struct lprobe_pool pool;
	struct probe_outcome out = {0};
	if (event_loop_init(&loop) < 0)
		return EXIT_USAGE;
	if (lprobe_pool_init(&pool, &loop, &cfg, on_probed, &out) < 0) {
		log_err("probe: bad --send text (escapes: \\r \\n \\t \\0 \\\\ \\xHH)");
		event_loop_free(&loop);
		return EXIT_USAGE;
	}
	int rc = lprobe_start(&pool, &to, 0);
	while (rc == 0 && !out.done)
		if (event_loop_run_once(&loop, 100) < 0)
			break;
	lprobe_pool_free(&pool);
	event_loop_free(&loop);
	if (rc < 0 || !out.done) {
		log_err("probe: %s", strerror(rc < 0 ? -rc : EIO));
		return EXIT_USAGE;
	}
	if (out.result == 0) {
		printf("alive rtt_us=%" PRIu64 "\n", out.rtt_us);
		return EXIT_OK;
	}
	const char *name = strerrorname_np(-out.result);
	printf("dead error=%s rtt_us=%" PRIu64 "\n", name ? name : "?", out.rtt_us);
	return EXIT_TIMEOUT;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"bind", required_argument, NULL, 'b'},
	    {"to", required_argument, NULL, 't'},
	    {"unix", required_argument, NULL, 'u'},
	    {"count", required_argument, NULL, 'n'},
	    {"timeout", required_argument, NULL, 'T'},
	    {"wait", required_argument, NULL, 'w'},
	    {"sender-id", required_argument, NULL, 's'},
	    {"allow-sender", required_argument, NULL, 'a'},
	    {"twice", no_argument, NULL, '2'},
	    {"no-auth", no_argument, NULL, 'N'},
	    {"garbage", required_argument, NULL, 'g'},
	    {"send", required_argument, NULL, 'S'},
	    {"source", required_argument, NULL, 'I'},
	    {"out", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct opts o = {0};
	char err[256];
	int opt, rc = 0;
	log_set_ident("craft-ctl");
	const char *cmd = argc > 1 ? argv[1] : "";
	if (strcmp(cmd, "listen") != 0 && strcmp(cmd, "send") != 0 && strcmp(cmd, "probe") != 0 &&
	    strcmp(cmd, "fetch") != 0)
		cmd = NULL; /* options only: --help, --version */
	else
		argc--, argv++;
	while ((opt = getopt_long(argc, argv, "+k:b:t:u:n:T:w:s:a:2Ng:S:I:o:hV", lopts, NULL)) !=
	       -1) {
		switch (opt) {
		case 'k':
			o.key = optarg;
			break;
		case 'b':
			rc = config_parse_ipv4_port(optarg, &o.bind, err, sizeof(err));
			o.have_bind = true;
			break;
		case 't':
			rc = config_parse_ipv4_port(optarg, &o.to, err, sizeof(err));
			o.have_to = true;
			break;
		case 'u':
			o.unix_path = optarg;
			break;
		case 'n':
			rc = config_parse_u32(optarg, 1, UINT32_MAX, &o.count, err, sizeof(err));
			break;
		case 'T':
			rc = config_parse_duration_ms(optarg, 1, UINT32_MAX, &o.timeout_ms, err,
						      sizeof(err));
			break;
		case 'w':
			rc = config_parse_duration_ms(optarg, 1, INT32_MAX, &o.wait_ms, err,
						      sizeof(err));
			break;
		case 's':
			rc =
			    config_parse_u32(optarg, 0, UINT32_MAX, &o.sender_id, err, sizeof(err));
			break;
		case 'a':
			if (o.nallow >= CTL_MAX_ALLOW) {
				snprintf(err, sizeof(err), "too many");
				rc = -1;
				break;
			}
			rc = config_parse_u32(optarg, 0, UINT32_MAX, &o.allow[o.nallow++], err,
					      sizeof(err));
			break;
		case '2':
			o.twice = true;
			break;
		case 'N':
			o.no_auth = true;
			break;
		case 'g':
			rc = config_parse_u32(optarg, 1, 65000, &o.garbage, err, sizeof(err));
			break;
		case 'S':
			o.probe_send = optarg;
			break;
		case 'o':
			o.out = optarg;
			break;
		case 'I':
			rc = config_parse_ipv4(optarg, &o.source, err, sizeof(err));
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("craft-ctl %s\n", CRAFT_VERSION);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
		if (rc < 0) {
			log_err("option %s: %s", argv[optind - 1], err);
			return EXIT_USAGE;
		}
	}
	if (!cmd) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(cmd, "listen")) {
		if (optind != argc || (!o.unix_path == !o.have_bind) || (o.have_bind && !o.key)) {
			log_err("listen: give --key FILE --bind ADDR:PORT, or --unix PATH");
			return EXIT_USAGE;
		}
		return cmd_listen(&o);
	}
	if (!strcmp(cmd, "probe"))
		return cmd_probe(&o, argc - optind, argv + optind);
	if (!strcmp(cmd, "fetch"))
		return cmd_fetch(&o, argc - optind, argv + optind);
	return cmd_send(&o, argc - optind, argv + optind);
}
