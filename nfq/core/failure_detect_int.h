/* failure_detect_int - private to failure_detect*.c: the table entries
 * behind struct fdet and the helpers its files share. Not an API. */
#ifndef CRAFT_FAILURE_DETECT_INT_H
#define CRAFT_FAILURE_DETECT_INT_H

#include "failure_detect.h"

#define NIL	  UINT32_MAX
#define WAIT_NONE UINT32_MAX

struct fdet_kind {
	uint32_t hash;
	char name[FDET_KIND_NAME_MAX];
	struct fdet_ewma e[2]; /* [FDET_PHASE_WAIT], [FDET_PHASE_XFER] */
};

struct fdet_backend {
	struct sockaddr_in addr;
	enum fdet_state state;
	uint32_t nkinds;
	uint32_t conns_open, conns_waiting, txns;
	bool probe_inflight, probe_failed, want_confirm;
	uint64_t probe_asked_us;
	uint64_t last_byte_us; /* last response byte seen from it */
	uint64_t next_probe_us;
	uint32_t idle_failures, recover_ok;
	uint64_t suspect_us, confirm_deadline_us;
	uint64_t suspect_conn, suspect_txn;
	uint64_t failed_us;
};

struct fdet_pending {
	uint64_t txn;
	uint64_t t_req;
	uint16_t kind;
};

struct fdet_conn {
	uint64_t key;
	uint32_t hnext; /* hash chain, or free list when unused */
	uint32_t wpos;	/* position in d->waiting, WAIT_NONE if not there */
	uint16_t backend;
	bool used, overdue, has_early;
	bool client_closed; /* zero window: not timed (fdet_client_window) */
	uint8_t head, nq, phase;
	uint64_t wait_start; /* head: waiting for its first byte since */
	uint64_t t_first, t_last, deadline;
	uint64_t last_done; /* previous response complete */
	uint64_t early_txn; /* response seen before its request completed */
	struct fdet_pending q[FDET_PIPELINE_MAX];
};

static inline struct fdet_kind *fdet__kinds_of(const struct fdet *d, unsigned b)
{
	return &d->kinds[(size_t)b * d->cfg.max_kinds];
}

/* The timeout of an estimator: mean + k * dev clamped, or the initial one
 * before min_samples. */
static inline uint64_t fdet__timeout_of(const struct fdet *d, const struct fdet_ewma *e)
{
	uint64_t lo = d->cfg.floor_ms * 1000, hi = d->cfg.ceiling_ms * 1000;
	if (e->samples < d->cfg.min_samples)
		return d->cfg.initial_ms ? d->cfg.initial_ms * 1000 : hi;
	uint64_t t = fdet_ewma_mean_us(e) + (uint64_t)d->cfg.k * fdet_ewma_dev_us(e);
	return t < lo ? lo : t > hi ? hi : t;
}

/* Index of kind `name` in backend b (0, "*", for NULL, "" or overflow);
 * created when absent and create, else -ENOENT. */
int fdet__kind_lookup(struct fdet *d, unsigned b, const char *name, bool create);

#endif
