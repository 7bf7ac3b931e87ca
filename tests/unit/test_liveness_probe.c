/* test_liveness_probe.c - real nonblocking probes on 127.0.0.1: a listening
 * port, a closed port, a listener that never answers the request, one that
 * answers, one that closes; the bound on running probes, escapes, and that
 * a freed pool leaves nothing behind. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "event_loop.h"
#include "liveness_probe.h"
#include "stats.h"

struct outcome {
	int calls;
	int result;
	uint64_t cookie, rtt_us;
};

static void done(void *arg, uint64_t cookie, const struct sockaddr_in *addr, int result,
		 uint64_t rtt_us)
{
	struct outcome *o = arg;
	(void)addr;
	o->calls++;
	o->result = result;
	o->cookie = cookie;
	o->rtt_us = rtt_us;
}

static int listener(struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	socklen_t len = sizeof(*addr);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)addr, &len), 0);
	return fd;
}

/* A port nothing listens on: bound, then closed. */
static struct sockaddr_in closed_port(void)
{
	struct sockaddr_in a;
	int fd = listener(&a);
	close(fd);
	return a;
}

static void run_until(struct event_loop *loop, struct outcome *o, int calls, int max_ms)
{
	uint64_t end = monotonic_ms() + (uint64_t)max_ms;
	while (o->calls < calls && monotonic_ms() < end)
		ck_assert_int_ge(event_loop_run_once(loop, 10), 0);
}

/* Server behaviours driven by the same loop. */
enum srv_mode { SRV_ANSWER, SRV_CLOSE };
struct server {
	int lfd;
	enum srv_mode mode;
	int conns[8];
	unsigned nconns;
	char got[128];
	size_t gotlen;
};

static void srv_conn(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	struct server *s = arg;
	(void)events;
	ssize_t n = recv(fd, s->got + s->gotlen, sizeof(s->got) - 1 - s->gotlen, 0);
	if (n > 0) {
		s->gotlen += (size_t)n;
		if (strstr(s->got, "\r\n\r\n")) {
			ck_assert_int_gt(send(fd, "HTTP/1.0 200 OK\r\n\r\n", 19, MSG_NOSIGNAL), 0);
			event_loop_del_fd(loop, fd);
		}
	} else {
		event_loop_del_fd(loop, fd);
	}
}

static void srv_accept(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	struct server *s = arg;
	(void)events;
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c < 0)
		return;
	if (s->mode == SRV_CLOSE) {
		close(c);
		return;
	}
	ck_assert_uint_lt(s->nconns, 8);
	s->conns[s->nconns++] = c;
	ck_assert_int_eq(event_loop_add_fd(loop, c, EPOLLIN, srv_conn, s), 0);
}

static void srv_close(struct server *s)
{
	for (unsigned i = 0; i < s->nconns; i++)
		close(s->conns[i]);
	close(s->lfd);
}

START_TEST(connect_listening_and_closed)
{
	struct event_loop loop;
	ck_assert_int_eq(event_loop_init(&loop), 0);
	struct lprobe_config cfg;
	lprobe_config_default(&cfg);
	struct lprobe_pool p;
	struct outcome o = {0};
	ck_assert_int_eq(lprobe_pool_init(&p, &loop, &cfg, done, &o), 0);

	struct sockaddr_in up;
	int lfd = listener(&up);
	ck_assert_int_eq(lprobe_start(&p, &up, 42), 0);
	ck_assert_uint_eq(lprobe_inflight(&p), 1);
	run_until(&loop, &o, 1, 2000);
	ck_assert_int_eq(o.calls, 1);
	ck_assert_int_eq(o.result, 0);
	ck_assert_uint_eq(o.cookie, 42);
	ck_assert_uint_lt(o.rtt_us, 500000);
	ck_assert_uint_eq(lprobe_inflight(&p), 0);
	ck_assert_int_eq(p.timer_fd, -1); /* the tick exists only while probing */

	struct sockaddr_in down = closed_port();
	ck_assert_int_eq(lprobe_start(&p, &down, 7), 0);
	run_until(&loop, &o, 2, 2000);
	ck_assert_int_eq(o.calls, 2);
	ck_assert_int_eq(o.result, -ECONNREFUSED);
	ck_assert_uint_eq(o.cookie, 7);

	struct stats_report r;
	stats_reset(&r);
	lprobe_collect_stats(&p, &r, "probe");
	ck_assert_uint_eq(stats_get(&r, "probe_alive"), 1);
	ck_assert_uint_eq(stats_get(&r, "probe_refused"), 1);
	ck_assert_uint_eq(stats_get(&r, "probe_started"), 2);

	struct sockaddr_in bad = up;
	bad.sin_port = 0;
	ck_assert_int_eq(lprobe_start(&p, &bad, 1), -EINVAL);
	lprobe_pool_free(&p);
	close(lfd);
	event_loop_free(&loop);
}
END_TEST

START_TEST(request_modes)
{
	struct event_loop loop;
	ck_assert_int_eq(event_loop_init(&loop), 0);
	struct lprobe_config cfg;
	lprobe_config_default(&cfg);
	cfg.timeout_ms = 150;
	snprintf(cfg.send, sizeof(cfg.send), "HEAD / HTTP/1.0\\r\\n\\r\\n");
	struct lprobe_pool p;
	struct outcome o = {0};
	ck_assert_int_eq(lprobe_pool_init(&p, &loop, &cfg, done, &o), 0);

	/* Accepted by the kernel, never answered (a frozen application). */
	struct sockaddr_in mute;
	int mfd = listener(&mute);
	ck_assert_int_eq(lprobe_start(&p, &mute, 1), 0);
	run_until(&loop, &o, 1, 2000);
	ck_assert_int_eq(o.result, -ETIMEDOUT);
	ck_assert_uint_ge(o.rtt_us, 150000);
	ck_assert_uint_lt(o.rtt_us, 150000 + 100000);
	close(mfd);

	/* An application that answers the request. */
	struct server srv = {.mode = SRV_ANSWER};
	struct sockaddr_in live;
	srv.lfd = listener(&live);
	ck_assert_int_eq(event_loop_add_fd(&loop, srv.lfd, EPOLLIN, srv_accept, &srv), 0);
	ck_assert_int_eq(lprobe_start(&p, &live, 2), 0);
	run_until(&loop, &o, 2, 2000);
	ck_assert_int_eq(o.result, 0);
	ck_assert_str_eq(srv.got, "HEAD / HTTP/1.0\r\n\r\n");
	event_loop_del_fd(&loop, srv.lfd);
	srv_close(&srv);

	/* One that closes at once: running, so alive. */
	struct server cl = {.mode = SRV_CLOSE};
	struct sockaddr_in closing;
	cl.lfd = listener(&closing);
	ck_assert_int_eq(event_loop_add_fd(&loop, cl.lfd, EPOLLIN, srv_accept, &cl), 0);
	ck_assert_int_eq(lprobe_start(&p, &closing, 3), 0);
	run_until(&loop, &o, 3, 2000);
	ck_assert_int_eq(o.calls, 3);
	ck_assert(o.result == 0 || o.result == -ECONNRESET);
	event_loop_del_fd(&loop, cl.lfd);
	srv_close(&cl);

	lprobe_pool_free(&p);
	event_loop_free(&loop);
}
END_TEST

static void unescape(void)
{
	uint8_t out[16];
	ck_assert_int_eq(lprobe_unescape("a\\r\\n\\t\\\\\\x41\\0z", out, sizeof(out)), 8);
	ck_assert_mem_eq(out, "a\r\n\t\\A\0z", 8);
	ck_assert_int_eq(lprobe_unescape("", out, sizeof(out)), 0);
	ck_assert_int_eq(lprobe_unescape("\\", out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(lprobe_unescape("\\x4", out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(lprobe_unescape("\\xg1", out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(lprobe_unescape("0123456789abcdefX", out, sizeof(out)), -ENOSPC);
}

START_TEST(bounded_and_freed)
{
	struct event_loop loop;
	ck_assert_int_eq(event_loop_init(&loop), 0);
	struct lprobe_config cfg;
	lprobe_config_default(&cfg);
	cfg.max_inflight = 2;
	cfg.timeout_ms = 60000;
	snprintf(cfg.send, sizeof(cfg.send), "ping\\n");
	struct lprobe_pool p;
	struct outcome o = {0};
	ck_assert_int_eq(lprobe_pool_init(&p, &loop, &cfg, done, &o), 0);
	struct sockaddr_in mute;
	int mfd = listener(&mute);
	ck_assert_int_eq(lprobe_start(&p, &mute, 1), 0);
	ck_assert_int_eq(lprobe_start(&p, &mute, 2), 0);
	ck_assert_int_eq(lprobe_start(&p, &mute, 3), -EBUSY);
	ck_assert_uint_eq(p.c.busy, 1);
	for (int i = 0; i < 5; i++)
		event_loop_run_once(&loop, 10);
	ck_assert_int_eq(o.calls, 0);
	lprobe_pool_free(&p); /* cancels: no callback, sockets and timer gone */
	ck_assert_int_eq(o.calls, 0);
	close(mfd);
	event_loop_free(&loop);

	/* Bad configurations. */
	struct event_loop l2;
	ck_assert_int_eq(event_loop_init(&l2), 0);
	lprobe_config_default(&cfg);
	snprintf(cfg.send, sizeof(cfg.send), "bad \\q escape");
	ck_assert_int_eq(lprobe_pool_init(&p, &l2, &cfg, done, &o), -EINVAL);
	lprobe_config_default(&cfg);
	cfg.max_inflight = 0;
	ck_assert_int_eq(lprobe_pool_init(&p, &l2, &cfg, done, &o), -EINVAL);
	event_loop_free(&l2);
	unescape();
}
END_TEST

Suite *liveness_probe_suite(void);
Suite *liveness_probe_suite(void)
{
	Suite *s = suite_create("liveness_probe");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, connect_listening_and_closed);
	tcase_add_test(tc, request_modes);
	tcase_add_test(tc, bounded_and_freed);
	tcase_set_timeout(tc, 20);
	suite_add_tcase(s, tc);
	return s;
}
