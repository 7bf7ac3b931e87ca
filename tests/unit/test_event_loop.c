/* The event loop is the spine of every daemon: fds, timers and signals must
 * all arrive, removal inside a callback must be safe, and a loop must free
 * everything it created. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "event_loop.h"

struct counts {
	int fd_events, timer_events, signals;
	int pipe_rd;
};

static void on_fd(struct event_loop *loop, int fd, uint32_t events, void *arg)
{
	struct counts *c = arg;
	char b;
	(void)events;
	if (read(fd, &b, 1) == 1)
		c->fd_events++;
	/* Removing ourselves from inside the callback must be safe. */
	event_loop_del_fd(loop, fd);
}

static void on_timer(struct event_loop *loop, uint64_t exp, void *arg)
{
	struct counts *c = arg;
	c->timer_events += (int)exp;
	if (c->timer_events >= 3)
		event_loop_stop(loop);
}

static void on_signal(struct event_loop *loop, int signo, void *arg)
{
	struct counts *c = arg;
	(void)loop;
	if (signo == SIGUSR2)
		c->signals++;
}

START_TEST(test_fd_timer_signal)
{
	struct event_loop loop;
	struct counts c = {0};
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(event_loop_init_sized(&loop, 4), 0);
	ck_assert_int_eq(event_loop_add_fd(&loop, p[0], EPOLLIN, on_fd, &c), 0);
	ck_assert_int_ge(event_loop_add_timer(&loop, 10, on_timer, &c), 0);
	int sigs[] = {SIGUSR2};
	ck_assert_int_eq(event_loop_add_signals(&loop, sigs, 1, on_signal, &c), 0);
	/* Full: a fourth source still fits, a fifth does not. */
	int q[2];
	ck_assert_int_eq(pipe(q), 0);
	ck_assert_int_eq(event_loop_add_fd(&loop, q[0], EPOLLIN, on_fd, &c), 0);
	ck_assert_int_eq(event_loop_add_fd(&loop, q[1], EPOLLOUT, on_fd, &c), -ENOSPC);
	ck_assert_int_eq(event_loop_del_fd(&loop, q[0]), 0);
	ck_assert_int_eq(event_loop_del_fd(&loop, q[0]), -ENOENT);

	ck_assert_int_eq(write(p[1], "x", 1), 1);
	kill(getpid(), SIGUSR2);
	ck_assert_int_eq(event_loop_run(&loop), 0);
	ck_assert_int_eq(c.fd_events, 1);
	ck_assert_int_eq(c.signals, 1);
	ck_assert_int_ge(c.timer_events, 3);
	event_loop_free(&loop);
	/* The signal is unblocked again after free. */
	sigset_t cur;
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	ck_assert(!sigismember(&cur, SIGUSR2));
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}
END_TEST

Suite *event_loop_suite(void);
Suite *event_loop_suite(void)
{
	Suite *s = suite_create("event_loop");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_fd_timer_signal);
	suite_add_tcase(s, tc);
	return s;
}
