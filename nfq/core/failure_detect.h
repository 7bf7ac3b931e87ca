/* failure_detect - adaptive backend failure detection on the logger
 * (paper §3.5), fed by the transaction pipeline, driven by a tick.
 *
 * Why adaptive: a fixed timeout is either too long (clients wait) or too
 * short for the slow request kinds (false failover of every connection of
 * a healthy backend). Like TCP's retransmission timer (RFC 6298, Jacobson/
 * Karels), the detector learns, per backend and per request kind, an
 * exponentially weighted moving average and mean deviation of
 *   (a) request fully received -> first response byte ("wait"), and
 *   (b) first -> last response byte ("transfer"),
 * with gains 1/8 (mean) and 1/4 (deviation); the first sample sets mean = s,
 * dev = s/2. A kind's timeout is mean + k * dev clamped to [floor, ceiling];
 * until a kind has min_samples samples of a phase the timeout is
 * initial (or the ceiling when initial is 0).
 *
 *   - A request is overdue when no response byte came within timeout (a)
 *     of the moment it started waiting: the later of "request fully
 *     received" and "previous response on the same connection complete"
 *     (pipelined requests wait in line; the backend is not late for them).
 *   - A response in progress is overdue when no new byte came within
 *     timeout (b) of the previous one (a stall). (b) is NOT normalised per
 *     KiB: the stall check measures a gap between bytes, which does not
 *     grow with the response size, while a per-KiB timeout would make the
 *     gap allowed for small responses tiny and turn every retransmission
 *     into a suspicion. Large responses only widen (b): slower detection,
 *     never a false one. Keep floor above the TCP minimum RTO (200 ms on
 *     Linux) so that one lost segment is not a stall.
 *   A deadline is fixed when the waiting starts or the byte arrives, from
 *   the estimate at that moment (as TCP arms its RTO at send time).
 *
 * Confirmation (false failures cost a failover of every connection): the
 * first overdue transaction makes the backend SUSPECT and asks the daemon
 * for a liveness probe at once (ops->probe, liveness_probe.h). The backend
 * is declared FAILED if no response byte came from it, on any connection,
 * since the suspicion began, and either the probe failed or, confirm_ms
 * after the suspicion began, a request of it is still overdue. Otherwise
 * the suspicion is cleared (counted): a backend that answers is not
 * crashed, so a slow request is no failover (a single hung request on an
 * otherwise answering backend is re-checked every ceiling, never failed
 * over while others are answered). A TCP connect probe only shows that the
 * backend's kernel is alive (a frozen process still completes handshakes
 * from its backlog); the confirm window is what catches a frozen
 * application, the probe what catches a dead host or port quickly. A
 * frozen backend is thus declared FAILED timeout + confirm_ms (+ one tick)
 * after its oldest waiting request started waiting; the price is that a
 * request slower than timeout + confirm_ms on a backend that answers
 * nothing else meanwhile is a failover too (tune floor and confirm).
 *
 * Idle backends (no request outstanding) get a low-frequency probe every
 * idle_probe_ms (paper: "a low frequency heartbeat during idle periods");
 * idle_fail_threshold consecutive failures (retried every confirm_ms)
 * declare it FAILED. A FAILED backend is probed every idle_probe_ms and
 * RECOVERED after recover_probes consecutive successes (a probe asked
 * before the failure does not count); the transactions it left unanswered
 * are dropped then (recovery moved them elsewhere).
 *
 * Time: every t_us/now_us argument is microseconds of ONE clock, the
 * caller's choice (monotonic_us() or packet timestamps of that base). The
 * detector never reads a clock and never sleeps: the daemon calls
 * fdet_tick() periodically (detection is late by at most one tick) and
 * fdet_next_deadline() tells when something is due.
 *
 * Wiring (txn_log observer -> detector), all O(1) except the tick:
 *   conn_open                -> fdet_conn_open(conn, backend addr)
 *   txn_request_done(t)      -> fdet_request_done(conn, txn, kind, t)
 *   txn_response_first_byte  -> fdet_response_first_byte(conn, txn, t)
 *   each later response byte -> fdet_response_progress(conn, t)
 *   txn_response_done(t)     -> fdet_response_done(conn, txn, t)
 *   txn ended incomplete     -> fdet_txn_end(conn, txn, t)
 *   conn_close               -> fdet_conn_close(conn, reset by backend?)
 * `conn` is any 64-bit key unique among open connections, `txn` any id
 * unique within its connection (it is reported back as the T_L candidate:
 * the paper's 64-bit transaction id fits). Kinds are short strings: a tag
 * name, or fdet_kind_http() ("GET /static").
 *
 * Bounds: max_backends, max_kinds per backend (kind 0 "*" takes the
 * overflow), max_conns tracked connections, FDET_PIPELINE_MAX queued
 * requests per connection; every overflow and every inconsistent event
 * (unknown connection, response for a request not seen) is counted and
 * ignored. No global state; not thread-safe (one detector per thread). */
#ifndef CRAFT_FAILURE_DETECT_H
#define CRAFT_FAILURE_DETECT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct stats_report;

#define FDET_KIND_NAME_MAX 32 /* including the NUL; longer names are cut */
#define FDET_PIPELINE_MAX  8  /* requests queued per connection */
#define FDET_MAX_BACKENDS  1024
#define FDET_MAX_KINDS	   256
#define FDET_MAX_CONNS	   (1u << 20)

struct fdet_config {
	uint32_t k;		      /* deviation multiplier (4) */
	uint64_t floor_ms;	      /* lowest timeout (200ms) */
	uint64_t ceiling_ms;	      /* highest timeout (5s) */
	uint64_t initial_ms;	      /* timeout before min_samples; 0 = ceiling (0) */
	uint32_t min_samples;	      /* samples before a kind's estimate is used (8) */
	uint64_t confirm_ms;	      /* confirmation window (300ms) */
	uint64_t idle_probe_ms;	      /* liveness probe period when idle (3s) */
	uint32_t idle_fail_threshold; /* failed idle probes in a row -> FAILED (2) */
	uint32_t recover_probes;      /* good probes in a row -> RECOVERED (3) */
	uint32_t max_backends;	      /* (64) */
	uint32_t max_kinds;	      /* per backend, "*" included (32) */
	uint32_t max_conns;	      /* tracked connections (16384) */
};

/* Section "detect": k, floor, ceiling, initial, min_samples, confirm,
 * idle_probe, idle_fail_threshold, recover_probes, max_backends,
 * max_kinds, max_conns. Use with config_load_file_tables(). */
extern const struct config_key fdet_config_keys[];
void fdet_config_default(struct fdet_config *cfg);
/* -EINVAL with a message when values contradict (floor > ceiling, ...). */
int fdet_config_check(const struct fdet_config *cfg, char *err, size_t errlen);

enum fdet_state {
	FDET_UP = 0,
	FDET_SUSPECT, /* overdue, confirming */
	FDET_FAILED,
};

enum fdet_phase {
	FDET_PHASE_WAIT = 0, /* (a) request done -> first byte */
	FDET_PHASE_XFER = 1, /* (b) first -> last byte (and byte gaps) */
};

enum fdet_probe_reason {
	FDET_PROBE_IDLE = 0, /* no request outstanding */
	FDET_PROBE_CONFIRM,  /* a request is overdue */
	FDET_PROBE_RECOVER,  /* the backend is FAILED: is it back? */
};

enum fdet_cause {
	FDET_CAUSE_CONFIRM_TIMEOUT = 1, /* overdue, no byte within confirm_ms */
	FDET_CAUSE_PROBE_FAILED = 2,	/* overdue and the confirm probe failed */
	FDET_CAUSE_IDLE_PROBE = 3,	/* idle, probes failed */
};

const char *fdet_state_name(enum fdet_state s);
const char *fdet_cause_name(enum fdet_cause c);

/* What ops->failed gets. Times in the caller's clock. */
struct fdet_failure {
	unsigned backend; /* index, stable while the detector lives */
	struct sockaddr_in addr;
	enum fdet_cause cause;
	uint64_t detected_us;
	/* The oldest overdue transaction (the T_L + 1 candidate of its
	 * connection); has_txn is false for an idle failure. */
	bool has_txn;
	uint64_t conn, txn;
	enum fdet_phase phase;	/* what it waited for */
	uint64_t waiting_since; /* its wait start or its last response byte */
	uint64_t timeout_us;	/* the overdue timeout it had */
	uint64_t latency_us;	/* detected_us - waiting_since (0 when idle) */
	uint64_t suspect_us;	/* when the confirmation began */
	uint32_t conns_open;	/* connections to the backend: all need recovery */
	uint32_t conns_waiting; /* ... with a request outstanding */
	uint32_t txns_outstanding;
};

struct fdet_ops {
	/* Start a liveness probe of addr and report with fdet_probe_result();
	 * may report synchronously. At most one per backend is asked for at a
	 * time. Required. */
	void (*probe)(void *arg, unsigned backend, const struct sockaddr_in *addr,
		      enum fdet_probe_reason reason);
	void (*failed)(void *arg, const struct fdet_failure *f);
	/* down_us: how long it was FAILED. Optional. */
	void (*recovered)(void *arg, unsigned backend, const struct sockaddr_in *addr,
			  uint64_t now_us, uint64_t down_us);
	/* Optional, for logs: a confirmation began / ended without failure. */
	void (*suspect)(void *arg, unsigned backend, const struct sockaddr_in *addr, uint64_t conn,
			uint64_t txn, uint64_t now_us);
	void (*cleared)(void *arg, unsigned backend, const struct sockaddr_in *addr,
			uint64_t now_us);
};

/* Jacobson/Karels estimator, scaled like Linux's srtt/mdev (x8, x4). */
struct fdet_ewma {
	int64_t mean_x8;
	int64_t dev_x4;
	uint32_t samples;
};

void fdet_ewma_sample(struct fdet_ewma *e, uint64_t sample_us);
static inline uint64_t fdet_ewma_mean_us(const struct fdet_ewma *e)
{
	return (uint64_t)(e->mean_x8 / 8);
}
static inline uint64_t fdet_ewma_dev_us(const struct fdet_ewma *e)
{
	return (uint64_t)(e->dev_x4 / 4);
}

struct fdet_counters {
	uint64_t requests, responses, samples_wait, samples_xfer;
	uint64_t samples_skipped; /* answers while FAILED: not learnt */
	uint64_t client_paused;	  /* a client closed its receive window */
	uint64_t overdue, suspicions, cleared, failures, recoveries;
	uint64_t probes_asked, probes_ok, probes_failed, probes_stale, probes_aborted;
	uint64_t backends_overflow, kinds_overflow, conns_overflow, pipeline_overflow;
	uint64_t unknown_conn, txn_mismatch, early_responses, dropped_on_recovery;
	uint64_t scans;
	uint64_t crashes; /* fdet_backend_crashed declared a failure */
};

struct fdet_kind;
struct fdet_backend;
struct fdet_conn;

struct fdet {
	struct fdet_config cfg;
	struct fdet_ops ops;
	void *arg;
	struct fdet_backend *backends;
	unsigned nbackends;
	struct fdet_kind *kinds; /* max_backends * max_kinds */
	struct fdet_conn *conns; /* max_conns slots */
	uint32_t *buckets, nbuckets;
	uint32_t free_head, fresh, nconns; /* reused slots, first never used */
	uint32_t *waiting;		   /* dense list of connections with a request queued */
	uint32_t nwaiting;
	uint64_t next_scan_us; /* no connection deadline before this */
	struct fdet_counters c;
};

/* 0, -EINVAL (bad config or ops.probe NULL) or -ENOMEM. */
int fdet_init(struct fdet *d, const struct fdet_config *cfg, const struct fdet_ops *ops, void *arg);
void fdet_free(struct fdet *d);

/* Registers a backend (also done implicitly by fdet_conn_open) so that it
 * is probed while idle from now on. Returns its index (>= 0), or -ENOSPC. */
int fdet_backend_add(struct fdet *d, const struct sockaddr_in *addr, uint64_t now_us);
int fdet_backend_find(const struct fdet *d, const struct sockaddr_in *addr);
unsigned fdet_backend_count(const struct fdet *d);
enum fdet_state fdet_backend_state(const struct fdet *d, unsigned backend);
const struct sockaddr_in *fdet_backend_addr(const struct fdet *d, unsigned backend);
struct fdet_backend_info {
	enum fdet_state state;
	uint32_t conns_open, conns_waiting, txns_outstanding, kinds;
	uint64_t last_byte_us;
};
/* -ENOENT for an unknown index. */
int fdet_backend_info(const struct fdet *d, unsigned backend, struct fdet_backend_info *out);

/* Pipeline events; 0 or -errno (-ENOENT unknown connection, -ENOSPC
 * table full, ...) and counted either way; none of them is fatal. */
int fdet_conn_open(struct fdet *d, uint64_t conn, const struct sockaddr_in *backend, uint64_t t_us);
/* by_backend: the backend reset or closed it while a request was
 * outstanding (a crashed process's kernel does that). That alone makes the
 * backend SUSPECT: a probe is asked for, and a failed probe declares it
 * FAILED (a backend closing idle keep-alive connections passes the probe). */
int fdet_conn_close(struct fdet *d, uint64_t conn, bool by_backend, uint64_t t_us);
int fdet_request_done(struct fdet *d, uint64_t conn, uint64_t txn, const char *kind, uint64_t t_us);
int fdet_response_first_byte(struct fdet *d, uint64_t conn, uint64_t txn, uint64_t t_us);
int fdet_response_progress(struct fdet *d, uint64_t conn, uint64_t t_us);
/* The client of conn advertised a zero receive window (closed) or opened
 * it again. While it is closed the backend cannot send, so the connection's
 * request is not timed: a reader that pauses is not a failed backend. On
 * reopening, the clock of the current phase starts again at t_us. */
int fdet_client_window(struct fdet *d, uint64_t conn, bool closed, uint64_t t_us);
int fdet_response_done(struct fdet *d, uint64_t conn, uint64_t txn, uint64_t t_us);
/* The transaction left the pipeline without a complete response (EOF,
 * reset, parse error): forgotten, no sample. */
int fdet_txn_end(struct fdet *d, uint64_t conn, uint64_t txn, uint64_t t_us);

/* The backend's service is known dead now: its kernel closed a connection
 * the protocol did not explain and a probe of its port failed right after
 * (failure_detect_close.h). No confirmation window is waited for: FAILED at
 * once through ops->failed, cause FDET_CAUSE_PROBE_FAILED, the suspicion
 * dated since_us (the close). 0, -ENOENT for an unknown backend, -EALREADY
 * when it is FAILED already (nothing announced twice). */
int fdet_backend_crashed(struct fdet *d, const struct sockaddr_in *addr, uint64_t since_us,
			 uint64_t now_us);

/* Result of the probe asked for by ops->probe. */
void fdet_probe_result(struct fdet *d, unsigned backend, bool alive, uint64_t now_us);
/* The probe could not be made (no free probe slot, no socket): no
 * evidence either way; asked again after confirm_ms (a SUSPECT backend is
 * then decided by the confirm window alone). */
void fdet_probe_aborted(struct fdet *d, unsigned backend, uint64_t now_us);

/* Checks deadlines; calls ops. */
void fdet_tick(struct fdet *d, uint64_t now_us);
/* The earliest time fdet_tick has something to do (UINT64_MAX: nothing). */
uint64_t fdet_next_deadline(const struct fdet *d);

/* The timeout a new wait/transfer of this kind would get now (tests,
 * operators). -ENOENT for an unknown backend. */
int fdet_timeout_us(const struct fdet *d, unsigned backend, const char *kind, enum fdet_phase phase,
		    uint64_t *out);
/* The estimator of a kind (NULL when unknown). */
const struct fdet_ewma *fdet_kind_ewma(const struct fdet *d, unsigned backend, const char *kind,
				       enum fdet_phase phase);

/* "METHOD /first-segment" of an HTTP request target (query, fragment and
 * scheme://authority removed): "GET /static", "POST /login", "GET /". */
void fdet_kind_http(const char *method, const char *target, char *out, size_t outlen);

/* prefix_requests, prefix_suspicions, ..., prefix_backends_failed. */
void fdet_collect_stats(const struct fdet *d, struct stats_report *r, const char *prefix);

#endif
