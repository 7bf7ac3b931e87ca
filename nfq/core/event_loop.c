/* event_loop - see event_loop.h for why there is one loop per thread. */
#include "event_loop.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define EVENT_LOOP_BATCH 32

int event_loop_init_sized(struct event_loop *loop, unsigned capacity)
{
	memset(loop, 0, sizeof(*loop));
	loop->epfd = -1;
	sigemptyset(&loop->blocked_signals);
	if (capacity == 0)
		return -EINVAL;
	loop->sources = calloc(capacity, sizeof(*loop->sources));
	loop->free_slots = calloc(capacity, sizeof(*loop->free_slots));
	if (!loop->sources || !loop->free_slots) {
		event_loop_free(loop);
		return -ENOMEM;
	}
	loop->capacity = capacity;
	for (unsigned i = 0; i < capacity; i++) {
		loop->sources[i].fd = -1;
		/* Lowest index on top, so slots are reused in order. */
		loop->free_slots[i] = capacity - 1 - i;
	}
	loop->nfree = capacity;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		int err = -errno;
		event_loop_free(loop);
		return err;
	}
	return 0;
}

int event_loop_init(struct event_loop *loop)
{
	return event_loop_init_sized(loop, EVENT_LOOP_DEFAULT_SOURCES);
}

static struct event_source *source_alloc(struct event_loop *loop)
{
	if (loop->nfree == 0)
		return NULL;
	return &loop->sources[loop->free_slots[--loop->nfree]];
}

static void source_release(struct event_loop *loop, struct event_source *src)
{
	memset(src, 0, sizeof(*src));
	src->fd = -1;
	loop->free_slots[loop->nfree++] = (unsigned)(src - loop->sources);
}

static int source_register(struct event_loop *loop, struct event_source *src, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = src};
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, src->fd, &ev) < 0) {
		int err = -errno;
		if (src->owns_fd)
			close(src->fd);
		source_release(loop, src);
		return err;
	}
	return 0;
}

int event_loop_add_fd(struct event_loop *loop, int fd, uint32_t events, event_fd_cb cb, void *arg)
{
	struct event_source *src = source_alloc(loop);
	if (!src)
		return -ENOSPC;
	src->kind = EVENT_SOURCE_FD;
	src->fd = fd;
	src->owns_fd = false;
	src->cb.fd_cb = cb;
	src->arg = arg;
	return source_register(loop, src, events);
}

int event_loop_del_fd(struct event_loop *loop, int fd)
{
	for (unsigned i = 0; i < loop->capacity; i++) {
		struct event_source *src = &loop->sources[i];
		if (src->kind == EVENT_SOURCE_FREE || src->fd != fd)
			continue;
		epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
		if (src->owns_fd)
			close(fd);
		source_release(loop, src);
		return 0;
	}
	return -ENOENT;
}

int event_loop_add_timer(struct event_loop *loop, uint32_t interval_ms, event_timer_cb cb,
			 void *arg)
{
	if (interval_ms == 0)
		return -EINVAL;
	struct event_source *src = source_alloc(loop);
	if (!src)
		return -ENOSPC;
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct itimerspec its = {
	    .it_interval = {.tv_sec = interval_ms / 1000,
			    .tv_nsec = (interval_ms % 1000) * 1000000L},
	};
	its.it_value = its.it_interval;
	if (timerfd_settime(fd, 0, &its, NULL) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	src->kind = EVENT_SOURCE_TIMER;
	src->fd = fd;
	src->owns_fd = true;
	src->cb.timer_cb = cb;
	src->arg = arg;
	int rc = source_register(loop, src, EPOLLIN);
	return rc < 0 ? rc : fd;
}

int event_loop_add_signals(struct event_loop *loop, const int *signals, unsigned count,
			   event_signal_cb cb, void *arg)
{
	sigset_t set;
	sigemptyset(&set);
	for (unsigned i = 0; i < count; i++)
		sigaddset(&set, signals[i]);
	struct event_source *src = source_alloc(loop);
	if (!src)
		return -ENOSPC;
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -EINVAL;
	for (unsigned i = 0; i < count; i++)
		sigaddset(&loop->blocked_signals, signals[i]);
	int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	src->kind = EVENT_SOURCE_SIGNAL;
	src->fd = fd;
	src->owns_fd = true;
	src->cb.signal_cb = cb;
	src->arg = arg;
	return source_register(loop, src, EPOLLIN);
}

static void dispatch(struct event_loop *loop, struct event_source *src, uint32_t events)
{
	switch (src->kind) {
	case EVENT_SOURCE_FD:
		src->cb.fd_cb(loop, src->fd, events, src->arg);
		break;
	case EVENT_SOURCE_TIMER: {
		uint64_t expirations = 0;
		if (read(src->fd, &expirations, sizeof(expirations)) == sizeof(expirations))
			src->cb.timer_cb(loop, expirations, src->arg);
		break;
	}
	case EVENT_SOURCE_SIGNAL: {
		struct signalfd_siginfo si;
		while (read(src->fd, &si, sizeof(si)) == sizeof(si))
			src->cb.signal_cb(loop, (int)si.ssi_signo, src->arg);
		break;
	}
	case EVENT_SOURCE_FREE:
		break;
	}
}

int event_loop_run_once(struct event_loop *loop, int timeout_ms)
{
	struct epoll_event events[EVENT_LOOP_BATCH];
	int n = epoll_wait(loop->epfd, events, EVENT_LOOP_BATCH, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct event_source *src = events[i].data.ptr;
		/* A callback earlier in this round may have removed the source. */
		if (src->kind != EVENT_SOURCE_FREE)
			dispatch(loop, src, events[i].events);
	}
	return n;
}

int event_loop_run(struct event_loop *loop)
{
	loop->running = true;
	while (loop->running) {
		int rc = event_loop_run_once(loop, -1);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void event_loop_stop(struct event_loop *loop)
{
	loop->running = false;
}

void event_loop_free(struct event_loop *loop)
{
	for (unsigned i = 0; i < loop->capacity; i++) {
		struct event_source *src = &loop->sources[i];
		if (src->kind != EVENT_SOURCE_FREE && src->owns_fd)
			close(src->fd);
	}
	free(loop->sources);
	free(loop->free_slots);
	loop->sources = NULL;
	loop->free_slots = NULL;
	loop->capacity = loop->nfree = 0;
	if (loop->epfd >= 0)
		close(loop->epfd);
	loop->epfd = -1;
	pthread_sigmask(SIG_UNBLOCK, &loop->blocked_signals, NULL);
	sigemptyset(&loop->blocked_signals);
}
