/* crash_guard - craft-logger keeps a crashed backend's FIN/RST from
 * reaching the client (failure_detect_close.h says why and decides).
 *
 * Packet path (logger_packet): a FIN or RST from a service port
 * (crash_guard_check) is HELD - its verdict waits - unless its connection
 * is one a crash already took (DROP at once) or the hold table is full / the
 * copy could not be made (ACCEPT at once, counted: the behaviour without the
 * guard). The copy goes into the backlog like every other; the guard notes
 * its position there.
 *
 * Drain (crash_guard_feed, in place of txn_log_packet for that copy): the
 * payload and ACK of the segment go into the pipeline with FIN/RST cleared,
 * then txn_log_close_view() tells what the protocol says, at the instant of
 * the close, and fdet_close_decide() gives the verdict: PASS (the close
 * alone is fed to the pipeline and the packet accepted) or PROBE: the packet
 * waits for a liveness probe (liveness_probe.h, the [probe] settings) of
 * its backend, one probe per backend at a time, shared by every close that
 * waits on it (a close that came after the probe started waits for the
 * next one). The pipeline has not seen the close meanwhile, so the log is
 * that of a backend fallen silent - what recovery already handles.
 *   probe alive: every close that waited on it PASSes;
 *   probe dead:  every close of the backend is DROPPED, the connections of
 *                the backend the log holds are remembered (their later
 *                FIN/RST, retransmissions and the RSTs that answer client
 *                segments, are dropped for `remember`, until recovery has
 *                re-spliced them), and the backend is declared FAILED at
 *                once through the detector (detect.h: the failover row, the
 *                BACKEND_FAILED announcement), dated at the first close.
 * Shutdown (crash_guard_release): every held packet is accepted.
 *
 * Config [crash]: enabled (yes; needs [detect] enabled), max_held (256)
 * verdicts held at once, max_conns (4096) crashed connections remembered,
 * remember (60s). Bounds: CRASH_GUARD_MAX_BACKENDS backends probed at once
 * (more: the close passes, counted). */
#ifndef CRAFT_LOGGER_CRASH_GUARD_H
#define CRAFT_LOGGER_CRASH_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "liveness_probe.h"
#include "nfq_engine.h"
#include "pkt_backlog.h"
#include "txn_log.h"

struct event_loop;
struct logger_detect;
struct stats_report;

#define CRASH_GUARD_MAX_BACKENDS 64
#define CRASH_GUARD_HDR_MAX	 120 /* IPv4 + TCP headers with options */

struct crash_guard_config {
	bool enabled;
	uint32_t max_held;
	uint32_t max_conns;
	uint64_t remember_ms;
};

extern const struct config_key crash_guard_config_keys[];
void crash_guard_config_defaults(struct crash_guard_config *cfg);

struct crash_guard_counters {
	uint64_t closes;	     /* FIN/RST from a service port seen */
	uint64_t held, held_full;    /* held; passed at once for the limit */
	uint64_t unlogged;	     /* passed at once: no copy in the backlog */
	uint64_t passed_expected;    /* the protocol explained it */
	uint64_t passed_untracked;   /* no logged connection of that server */
	uint64_t passed_alive;	     /* the probe answered: a normal close */
	uint64_t passed_unavailable; /* no probe could be made */
	uint64_t passed_shutdown;
	uint64_t dropped;	/* held closes of a crashed backend */
	uint64_t dropped_later; /* FIN/RST of a remembered connection */
	uint64_t probes, probes_alive, probes_dead;
	uint64_t backends_full; /* no probe slot for another backend */
	uint64_t crashes;	/* failures declared */
	uint64_t declare_refused;
	uint64_t conns_remembered, conns_full;
	uint64_t hold_us_max; /* longest a close waited for its verdict */
};

/* One held FIN/RST. */
struct cg_held {
	uint8_t state; /* enum in crash_guard.c */
	uint8_t backend;
	uint16_t queue;
	uint32_t id;
	uint64_t seq;	       /* its copy's position in the backlog */
	uint64_t ts_us;	       /* the packet's receive time (wall) */
	uint64_t held_mono;    /* ... monotonic */
	uint64_t waiting_mono; /* when it began to wait for a probe */
	uint32_t saddr, daddr; /* host order; s = the backend */
	uint16_t sport, dport;
	uint32_t payload_len;
	uint16_t hdr_len;
	uint8_t hdr[CRASH_GUARD_HDR_MAX]; /* its headers: the close alone */
};

struct cg_backend {
	uint32_t addr; /* host order */
	uint16_t port;
	bool probing;
	uint64_t probe_mono; /* when the running probe started */
	uint32_t waiting;    /* held closes waiting on it */
};

struct cg_conn {
	uint32_t saddr, daddr;
	uint16_t sport, dport;
	uint64_t until_mono; /* 0: free */
};

struct crash_guard {
	struct crash_guard_config cfg;
	bool on;
	struct txn_log *tl;
	struct nfq_engine *engine;
	struct logger_detect *det;
	struct lprobe_pool probes;
	bool probes_ready;
	uint8_t ports[65536 / 8]; /* service ports */
	struct cg_held *held;	  /* max_held slots */
	uint32_t *fifo;		  /* slots not yet judged, in backlog order */
	uint32_t fifo_head, fifo_n, nheld;
	struct cg_backend be[CRASH_GUARD_MAX_BACKENDS];
	unsigned nbe;
	struct cg_conn *conns; /* max_conns slots */
	uint32_t conns_used;   /* slots ever used */
	uint8_t *scratch;      /* a copy of a segment with FIN/RST cleared */
	bool verdicts_pending; /* given, not flushed */
	struct crash_guard_counters c;
};

/* Allocates the tables (no-op when disabled). 0, or -ENOMEM. */
int crash_guard_init(struct crash_guard *g, const struct crash_guard_config *cfg,
		     const struct txn_log_config *log, struct txn_log *tl);
/* Starts the probes in loop; det declares the failures. 0 or -errno. */
int crash_guard_attach(struct crash_guard *g, struct event_loop *loop,
		       const struct lprobe_config *probe, struct logger_detect *det);
/* Stops the probes (before the loop goes) and holds nothing new; what is
 * held waits for crash_guard_release. */
void crash_guard_detach(struct crash_guard *g);
void crash_guard_free(struct crash_guard *g);

enum crash_guard_check {
	CG_NONE = 0, /* not a backend's FIN/RST: the usual path */
	CG_DROP,     /* a crashed connection's: drop, do not log */
	CG_HOLD,     /* hold it (crash_guard_hold) after copying it */
};
/* v: the packet's header view (NULL: not IPv4/TCP, nothing to guard). */
enum crash_guard_check crash_guard_check(struct crash_guard *g, const struct tcp4_view *v);
/* Holds pkt (header view v), whose copy is the backlog's seq-th: true, or
 * false when the table is full (accept it; counted). */
bool crash_guard_hold(struct crash_guard *g, struct nfq_engine *engine,
		      const struct nfq_packet *pkt, const struct tcp4_view *v, uint64_t seq,
		      uint64_t ts_us);
/* The copy was not made (backlog full): accept the packet (counted). */
void crash_guard_unlogged(struct crash_guard *g);

/* Is the backlog's seq-th copy a held close? */
bool crash_guard_owns(const struct crash_guard *g, uint64_t seq);
/* Logs it in place of txn_log_packet and judges it. */
void crash_guard_feed(struct crash_guard *g, uint64_t seq, const struct pkt_backlog_pkt *p);
/* Sends the verdicts given since the last call. */
void crash_guard_flush(struct crash_guard *g);
/* Accepts every held packet (shutdown); those not yet judged are logged
 * whole when the drain reaches them. */
void crash_guard_release(struct crash_guard *g, struct nfq_engine *engine);

void crash_guard_collect_stats(const struct crash_guard *g, struct stats_report *r);

#endif
