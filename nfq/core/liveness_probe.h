/* liveness_probe - "is backend:port alive?" from the logger host, without
 * blocking: a nonblocking TCP connect in the event loop, optionally
 * followed by a request that must draw at least one byte (or an orderly
 * close) within the same timeout.
 *
 * Why both modes: a completed handshake only proves the backend's kernel
 * and its listening socket exist; the kernel completes handshakes from the
 * listen backlog even while the application is frozen. Connect-only is the
 * cheap default (the failure detector's confirm window catches a frozen
 * application); configure `send` (e.g. "HEAD / HTTP/1.0\r\n\r\n") to make
 * the probe itself an application-level check.
 *
 * Outcome, delivered exactly once per started probe through the callback:
 *   0             alive (connected; with `send`: a byte or FIN came back)
 *   -ECONNREFUSED nothing listens (RST to the SYN)
 *   -ETIMEDOUT    no answer within timeout_ms
 *   -ECONNRESET   reset after connect, -EHOSTUNREACH/-ENETUNREACH from
 *                 ICMP, other -errno from the socket
 * A probe that fails at once (e.g. no route) reports synchronously from
 * probe_start. probe_start returns < 0 (and never calls back) only when the
 * probe could not be started at all: -EBUSY (max_inflight probes running),
 * -EINVAL, or socket()/event-loop errors.
 *
 * Resources: max_inflight slots, each one socket and one event-loop fd
 * source while running, plus one periodic timer (tick_ms) that exists only
 * while a probe runs; timeouts are therefore late by at most tick_ms. The
 * probe connection is closed as soon as the outcome is known. No global
 * state; one pool per event loop / thread. */
#ifndef CRAFT_LIVENESS_PROBE_H
#define CRAFT_LIVENESS_PROBE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct event_loop;
struct stats_report;

#define LPROBE_SEND_MAX	    256 /* config text, before escapes are decoded */
#define LPROBE_MAX_INFLIGHT 64

struct lprobe_config {
	uint64_t timeout_ms;	    /* whole probe (1s) */
	uint32_t max_inflight;	    /* (16) */
	uint64_t tick_ms;	    /* timeout granularity (10ms) */
	struct in_addr source;	    /* bind address; 0.0.0.0 = kernel's choice */
	char send[LPROBE_SEND_MAX]; /* "" = connect only; \r \n \t \\ \xHH decoded */
};

/* Section "probe": timeout, max_inflight, tick, source, send. The config
 * file's quoting knows only \" and \\, so write the probe's escapes
 * doubled there:  send = "HEAD / HTTP/1.0\\r\\n\\r\\n"  (on a command line,
 * craft-ctl probe --send 'HEAD / HTTP/1.0\r\n\r\n'). */
extern const struct config_key lprobe_config_keys[];
void lprobe_config_default(struct lprobe_config *cfg);

/* result: 0 or -errno as above; rtt_us: start to outcome. */
typedef void lprobe_done_fn(void *arg, uint64_t cookie, const struct sockaddr_in *addr, int result,
			    uint64_t rtt_us);

struct lprobe_counters {
	uint64_t started, alive, refused, timeout, other_error, busy;
};

struct lprobe_slot;

struct lprobe_pool {
	struct lprobe_config cfg;
	struct event_loop *loop;
	lprobe_done_fn *done;
	void *arg;
	uint8_t payload[LPROBE_SEND_MAX];
	size_t payload_len;
	struct lprobe_slot *slots;
	unsigned inflight;
	int timer_fd; /* -1 while no probe runs */
	struct lprobe_counters c;
};

/* 0, -EINVAL (bad config or escape in send) or -ENOMEM. */
int lprobe_pool_init(struct lprobe_pool *p, struct event_loop *loop,
		     const struct lprobe_config *cfg, lprobe_done_fn *done, void *arg);
/* Cancels running probes without calling back; closes their sockets. */
void lprobe_pool_free(struct lprobe_pool *p);

int lprobe_start(struct lprobe_pool *p, const struct sockaddr_in *addr, uint64_t cookie);
/* Probes running now. */
unsigned lprobe_inflight(const struct lprobe_pool *p);

/* Decodes \r \n \t \0 \\ \xHH in text into out. Returns the length, or
 * -EINVAL (bad escape) / -ENOSPC. */
int lprobe_unescape(const char *text, uint8_t *out, size_t cap);

void lprobe_collect_stats(const struct lprobe_pool *p, struct stats_report *r, const char *prefix);

#endif
