/* exchange - craft-ctl's request/reply part: one query to the logger and
 * its reply, over the local socket or as authenticated UDP from an
 * ephemeral port (what recovery on a proxy does), and `fetch`, which walks
 * a stream with BYTES_QUERY to copy logged bytes into a file. Kept apart
 * from main.c, which builds, sends and listens to single messages. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "ctl.h"
#include "event_loop.h"
#include "log.h"

struct exchange {
	struct event_loop loop;
	struct ctl_channel ch;
	struct ctl_msg *reply;
	bool got;
	int local_fd;
};

static void on_reply(void *arg, const struct ctl_msg *m, const struct ctl_origin *from)
{
	struct exchange *x = arg;
	(void)from;
	if (m->type != CTL_CONN_REPLY && m->type != CTL_BYTES_REPLY)
		return; /* an announcement meanwhile */
	*x->reply = *m;
	x->got = true;
}

/* Opens what o asks for: a connection to the local socket, or an
 * authenticated UDP channel from an ephemeral port. 0 or EXIT_USAGE. */
static int exchange_open(struct exchange *x, const struct opts *o, struct ctl_msg *reply)
{
	char err[256];
	memset(x, 0, sizeof(*x));
	x->reply = reply;
	x->local_fd = -1;
	if (o->unix_path) {
		x->local_fd = unix_connect(o->unix_path);
		if (x->local_fd < 0) {
			log_err("%s: %s", o->unix_path, strerror(-x->local_fd));
			return EXIT_USAGE;
		}
		return 0;
	}
	if (!o->have_to || !o->key) {
		log_err("give --unix PATH, or --key FILE --to ADDR:PORT");
		return EXIT_USAGE;
	}
	if (event_loop_init(&x->loop) < 0)
		return EXIT_USAGE;
	struct ctl_channel_config cfg;
	ctl_channel_config_default(&cfg);
	cfg.bind.sin_family = AF_INET;
	cfg.sender_id = o->sender_id;
	snprintf(cfg.key_file, sizeof(cfg.key_file), "%s", o->key);
	if (ctl_channel_open(&x->ch, &x->loop, &cfg, on_reply, x, err, sizeof(err)) < 0) {
		log_err("%s", err);
		event_loop_free(&x->loop);
		return EXIT_USAGE;
	}
	return 0;
}

static void exchange_close(struct exchange *x)
{
	if (x->local_fd >= 0) {
		close(x->local_fd);
		return;
	}
	ctl_channel_close(&x->ch);
	event_loop_free(&x->loop);
}

/* Sends q and waits up to wait_ms for a reply. 0, EXIT_TIMEOUT or
 * EXIT_USAGE. */
static int exchange(struct exchange *x, const struct opts *o, const struct ctl_msg *q,
		    uint64_t wait_ms)
{
	x->got = false;
	if (x->local_fd >= 0) {
		uint8_t buf[CTL_MSG_MAX + 1];
		int n = ctl_msg_encode(q, buf, sizeof(buf));
		if (n < 0 || send(x->local_fd, buf, (size_t)n, MSG_NOSIGNAL) != n) {
			log_err("send: %s", strerror(n < 0 ? EINVAL : errno));
			return EXIT_USAGE;
		}
		uint64_t deadline = monotonic_ms() + wait_ms;
		for (;;) { /* skip announcements broadcast meanwhile */
			uint64_t now = monotonic_ms();
			struct pollfd p = {.fd = x->local_fd, .events = POLLIN};
			if (now >= deadline || poll(&p, 1, (int)(deadline - now)) != 1)
				return EXIT_TIMEOUT;
			ssize_t r = recv(x->local_fd, buf, sizeof(buf), 0);
			if (r <= 0)
				return EXIT_USAGE;
			if (ctl_msg_decode(buf, (size_t)r, x->reply) == 0 &&
			    (x->reply->type == CTL_CONN_REPLY || x->reply->type == CTL_BYTES_REPLY))
				return EXIT_OK;
		}
	}
	if (ctl_channel_send_udp(&x->ch, q, &o->to) < 0) {
		log_err("send: %s", strerror(errno));
		return EXIT_USAGE;
	}
	uint64_t deadline = monotonic_ms() + wait_ms;
	while (!x->got && monotonic_ms() < deadline)
		if (event_loop_run_once(&x->loop, 50) < 0)
			break;
	return x->got ? EXIT_OK : EXIT_TIMEOUT;
}

int send_wait_udp(const struct opts *o, const struct ctl_msg *m)
{
	struct ctl_msg reply;
	struct exchange x;
	int rc = exchange_open(&x, o, &reply);
	if (rc)
		return rc;
	rc = exchange(&x, o, m, o->wait_ms);
	if (rc == EXIT_OK) {
		char suffix[96], a[INET_ADDRSTRLEN];
		snprintf(suffix, sizeof(suffix), " from=%s:%u",
			 inet_ntop(AF_INET, &o->to.sin_addr, a, sizeof(a)), ntohs(o->to.sin_port));
		print_msg(&reply, suffix);
	}
	exchange_close(&x);
	return rc;
}

int cmd_fetch(const struct opts *o, int argc, char **argv)
{
	struct ctl_msg q, reply;
	char *words[64];
	int nw = 0;
	if (!o->out || argc + 1 > 64) {
		log_err("fetch: --out FILE is required");
		return EXIT_USAGE;
	}
	/* length= is the total wanted here, any size (absent: all the logger
	 * has); each query asks for at most CTL_BYTES_MAX of it. */
	uint64_t total = UINT64_MAX;
	words[nw++] = "bytes";
	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "length=", 7) != 0)
			words[nw++] = argv[i];
		else if (field_u64(argv[i] + 7, &total) < 0) {
			log_err("fetch: bad %s", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (msg_from_words(nw, words, &q) < 0)
		return EXIT_USAGE;
	FILE *f = fopen(o->out, "wb");
	if (!f) {
		log_err("fetch: %s: %s", o->out, strerror(errno));
		return EXIT_USAGE;
	}
	struct exchange x;
	int rc = exchange_open(&x, o, &reply);
	bool opened = rc == EXIT_OK;
	uint64_t start = q.u.bytes_query.offset, got = 0, queries = 0;
	uint8_t status = CTL_STATUS_OK;
	while (rc == EXIT_OK && got < total) {
		uint64_t want = total - got;
		q.u.bytes_query.length = (uint32_t)(want < CTL_BYTES_MAX ? want : CTL_BYTES_MAX);
		q.u.bytes_query.query_id = ++queries;
		rc = exchange(&x, o, &q, o->wait_ms ? o->wait_ms : 2000);
		if (rc != EXIT_OK)
			break;
		const struct ctl_bytes_reply *r = &reply.u.bytes_reply;
		status = r->status;
		if (r->query_id != queries || r->offset != q.u.bytes_query.offset) {
			log_err("fetch: reply for query %" PRIu64 " offset %" PRIu64
				", want %" PRIu64 " at %" PRIu64,
				r->query_id, r->offset, queries, q.u.bytes_query.offset);
			rc = EXIT_USAGE;
			break;
		}
		if (r->status != CTL_STATUS_OK || r->n == 0)
			break;
		if (fwrite(r->data, 1, r->n, f) != r->n) {
			rc = EXIT_USAGE;
			break;
		}
		got += r->n;
		q.u.bytes_query.offset += r->n;
		q.u.bytes_query.conn_id = r->conn_id; /* the tuple found it: keep to the id */
	}
	if (opened)
		exchange_close(&x);
	if (fclose(f) != 0)
		rc = EXIT_USAGE;
	static const char *const statuses[] = {"ok", "unknown_conn", "busy", "unsupported",
					       "not_held"};
	printf("fetched bytes=%" PRIu64 " offset=%" PRIu64 " end=%" PRIu64
	       " status=%s queries=%" PRIu64 "\n",
	       got, start, start + got, status <= CTL_STATUS_NOT_HELD ? statuses[status] : "?",
	       queries);
	if (rc == EXIT_OK && status != CTL_STATUS_OK)
		rc = EXIT_TIMEOUT;
	return rc;
}
