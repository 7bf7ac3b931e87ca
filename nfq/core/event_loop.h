/* event_loop - one epoll loop per daemon thread: file descriptors, periodic
 * timers and signals all arrive as callbacks in the same thread.
 *
 * Why one loop: a daemon's packet queue, its control socket, its heartbeat
 * socket and its timers must never race each other, and the per-packet path
 * must not take locks. Every registration lives in a fixed table (bounded,
 * no allocation after init), and a unit test can build and tear down as many
 * loops as it likes: there is no global state.
 */
#ifndef CRAFT_EVENT_LOOP_H
#define CRAFT_EVENT_LOOP_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

/* Sources of a loop made with event_loop_init; a proxy with thousands of
 * client sockets asks for more with event_loop_init_sized. */
#define EVENT_LOOP_DEFAULT_SOURCES 64

struct event_loop;

/* Called with the epoll event mask (EPOLLIN, EPOLLERR, ...). */
typedef void (*event_fd_cb)(struct event_loop *loop, int fd, uint32_t events, void *arg);
/* Called once per expiry; `expirations` > 1 when the loop was late. */
typedef void (*event_timer_cb)(struct event_loop *loop, uint64_t expirations, void *arg);
/* Called once per delivered signal. */
typedef void (*event_signal_cb)(struct event_loop *loop, int signo, void *arg);

enum event_source_kind {
	EVENT_SOURCE_FREE,
	EVENT_SOURCE_FD,
	EVENT_SOURCE_TIMER,
	EVENT_SOURCE_SIGNAL
};

struct event_source {
	enum event_source_kind kind;
	int fd;
	bool owns_fd; /* timerfd/signalfd are closed by the loop */
	union {
		event_fd_cb fd_cb;
		event_timer_cb timer_cb;
		event_signal_cb signal_cb;
	} cb;
	void *arg;
};

struct event_loop {
	int epfd;
	bool running;
	sigset_t blocked_signals; /* unblocked again by event_loop_free */
	unsigned capacity, nfree;
	unsigned *free_slots; /* stack of free indexes into sources */
	struct event_source *sources;
};

int event_loop_init(struct event_loop *loop);
/* A loop with room for `capacity` fds, timers and signal sets. */
int event_loop_init_sized(struct event_loop *loop, unsigned capacity);
/* Closes the epoll fd and every timer/signal fd the loop created; fds added
 * with event_loop_add_fd stay open (their owner closes them). Restores the
 * signal mask for the signals the loop had blocked. */
void event_loop_free(struct event_loop *loop);

int event_loop_add_fd(struct event_loop *loop, int fd, uint32_t events, event_fd_cb cb, void *arg);
int event_loop_del_fd(struct event_loop *loop, int fd);

/* A periodic timer (interval_ms > 0); returns the timer's fd (>= 0) which
 * identifies it for event_loop_del_fd, or -errno. */
int event_loop_add_timer(struct event_loop *loop, uint32_t interval_ms, event_timer_cb cb,
			 void *arg);

/* Blocks the given signals for the calling thread and delivers them through
 * a signalfd. Call before starting other threads so they inherit the mask. */
int event_loop_add_signals(struct event_loop *loop, const int *signals, unsigned count,
			   event_signal_cb cb, void *arg);

/* Runs until event_loop_stop(); returns 0, or -errno on an epoll failure. */
int event_loop_run(struct event_loop *loop);
/* Runs one round, waiting at most timeout_ms (-1 = forever). Returns the
 * number of events handled or -errno. */
int event_loop_run_once(struct event_loop *loop, int timeout_ms);
void event_loop_stop(struct event_loop *loop);

#endif
