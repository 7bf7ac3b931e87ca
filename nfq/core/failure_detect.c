/* failure_detect - see failure_detect.h for the model (adaptive per-kind
 * timeouts, confirmation, idle probes).
 *
 * Data layout: backends and their kind tables are fixed arrays sized from
 * the config; connections live in a slot array with a chained hash (index
 * links, free list) and a dense "waiting" list of the connections that
 * have a request queued, which is all the deadline scan walks. Each
 * connection keeps its queued requests in a small ring: only the head one
 * has a deadline (the others wait in line behind it). The scan runs only
 * when the earliest deadline may have passed (next_scan_us is a lower
 * bound: deadlines only ever move later or get added with a min update). */
#include "failure_detect_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

/* ---- connections --------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint32_t *bucket_of(struct fdet *d, uint64_t key)
{
	return &d->buckets[mix64(key) & (d->nbuckets - 1)];
}

static struct fdet_conn *conn_find(struct fdet *d, uint64_t key)
{
	for (uint32_t i = *bucket_of(d, key); i != NIL; i = d->conns[i].hnext)
		if (d->conns[i].key == key)
			return &d->conns[i];
	return NULL;
}

static uint32_t conn_index(const struct fdet *d, const struct fdet_conn *c)
{
	return (uint32_t)(c - d->conns);
}

static void waiting_add(struct fdet *d, struct fdet_conn *c)
{
	if (c->wpos != WAIT_NONE)
		return;
	c->wpos = d->nwaiting;
	d->waiting[d->nwaiting++] = conn_index(d, c);
	d->backends[c->backend].conns_waiting++;
}

static void waiting_del(struct fdet *d, struct fdet_conn *c)
{
	if (c->wpos == WAIT_NONE)
		return;
	uint32_t last = d->waiting[--d->nwaiting];
	d->waiting[c->wpos] = last;
	d->conns[last].wpos = c->wpos;
	c->wpos = WAIT_NONE;
	c->overdue = false;
	d->backends[c->backend].conns_waiting--;
}

static void arm(struct fdet *d, struct fdet_conn *c, uint64_t deadline)
{
	c->deadline = deadline;
	c->overdue = false;
	if (deadline < d->next_scan_us)
		d->next_scan_us = deadline;
}

static struct fdet_pending *head_of(struct fdet_conn *c)
{
	return &c->q[c->head];
}

/* The head request starts waiting for its first byte at `since`. */
static void head_start(struct fdet *d, struct fdet_conn *c, uint64_t since)
{
	struct fdet_pending *p = head_of(c);
	struct fdet_kind *k = &fdet__kinds_of(d, c->backend)[p->kind];
	c->phase = FDET_PHASE_WAIT;
	c->wait_start = since > p->t_req ? since : p->t_req;
	arm(d, c, c->wait_start + fdet__timeout_of(d, &k->e[FDET_PHASE_WAIT]));
}

static void head_pop(struct fdet *d, struct fdet_conn *c, uint64_t t_us)
{
	c->head = (uint8_t)((c->head + 1) % FDET_PIPELINE_MAX);
	c->nq--;
	d->backends[c->backend].txns--;
	if (c->nq == 0) {
		waiting_del(d, c);
		return;
	}
	head_start(d, c, t_us);
}

/* Removes queue entry i (0 = head) without a sample. */
static void queue_remove(struct fdet *d, struct fdet_conn *c, unsigned i, uint64_t t_us)
{
	if (i == 0) {
		head_pop(d, c, t_us);
		return;
	}
	for (unsigned j = i; j + 1 < c->nq; j++)
		c->q[(c->head + j) % FDET_PIPELINE_MAX] =
		    c->q[(c->head + j + 1) % FDET_PIPELINE_MAX];
	c->nq--;
	d->backends[c->backend].txns--;
}

static int queue_find(const struct fdet_conn *c, uint64_t txn)
{
	for (unsigned i = 0; i < c->nq; i++)
		if (c->q[(c->head + i) % FDET_PIPELINE_MAX].txn == txn)
			return (int)i;
	return -1;
}

static void conn_drop_queue(struct fdet *d, struct fdet_conn *c)
{
	d->backends[c->backend].txns -= c->nq;
	c->nq = 0;
	c->head = 0;
	waiting_del(d, c);
}

/* ---- pipeline events ---------------------------------------------------- */

int fdet_conn_open(struct fdet *d, uint64_t conn, const struct sockaddr_in *backend, uint64_t t_us)
{
	int b = fdet_backend_add(d, backend, t_us);
	if (b < 0)
		return b;
	struct fdet_conn *c = conn_find(d, conn);
	if (c) { /* key reused without a close: start over */
		d->backends[c->backend].conns_open--;
		conn_drop_queue(d, c);
	} else {
		uint32_t i;
		if (d->free_head != NIL) { /* a slot used before */
			i = d->free_head;
			d->free_head = d->conns[i].hnext;
		} else if (d->fresh < d->cfg.max_conns) { /* never touched yet */
			i = d->fresh++;
		} else {
			d->c.conns_overflow++;
			return -ENOSPC;
		}
		c = &d->conns[i];
		uint32_t *bk = bucket_of(d, conn);
		c->hnext = *bk;
		*bk = i;
		d->nconns++;
	}
	uint32_t hnext = c->hnext;
	memset(c, 0, sizeof(*c));
	c->hnext = hnext;
	c->wpos = WAIT_NONE;
	c->key = conn;
	c->used = true;
	c->backend = (uint16_t)b;
	c->last_done = t_us;
	d->backends[b].conns_open++;
	return 0;
}

int fdet_conn_close(struct fdet *d, uint64_t conn, bool by_backend, uint64_t t_us)
{
	uint32_t *link = bucket_of(d, conn);
	while (*link != NIL && d->conns[*link].key != conn)
		link = &d->conns[*link].hnext;
	if (*link == NIL) {
		d->c.unknown_conn++;
		return -ENOENT;
	}
	uint32_t i = *link;
	struct fdet_conn *c = &d->conns[i];
	struct fdet_backend *be = &d->backends[c->backend];
	bool had_request = c->nq > 0;
	conn_drop_queue(d, c);
	be->conns_open--;
	*link = c->hnext;
	c->used = false;
	c->hnext = d->free_head;
	d->free_head = i;
	d->nconns--;
	if (by_backend && had_request && be->state == FDET_UP) {
		/* Suspicious, not proof: confirmed only by a failed probe. */
		be->state = FDET_SUSPECT;
		be->suspect_us = t_us;
		be->confirm_deadline_us = t_us + d->cfg.confirm_ms * 1000;
		be->suspect_conn = conn;
		be->suspect_txn = 0;
		be->probe_failed = false;
		be->want_confirm = true;
		d->c.suspicions++;
	}
	return 0;
}

static struct fdet_conn *conn_get(struct fdet *d, uint64_t conn)
{
	struct fdet_conn *c = conn_find(d, conn);
	if (!c)
		d->c.unknown_conn++;
	return c;
}

static void saw_byte(struct fdet *d, struct fdet_conn *c, uint64_t t_us)
{
	struct fdet_backend *be = &d->backends[c->backend];
	if (t_us > be->last_byte_us)
		be->last_byte_us = t_us;
}

int fdet_request_done(struct fdet *d, uint64_t conn, uint64_t txn, const char *kind, uint64_t t_us)
{
	struct fdet_conn *c = conn_get(d, conn);
	if (!c)
		return -ENOENT;
	d->c.requests++;
	if (c->has_early && c->early_txn == txn) {
		c->has_early = false; /* its response came first: nothing to wait for */
		return 0;
	}
	if (c->nq >= FDET_PIPELINE_MAX) {
		d->c.pipeline_overflow++;
		return -ENOSPC;
	}
	int k = fdet__kind_lookup(d, c->backend, kind, true);
	struct fdet_pending *p = &c->q[(c->head + c->nq) % FDET_PIPELINE_MAX];
	p->txn = txn;
	p->t_req = t_us;
	p->kind = (uint16_t)(k < 0 ? 0 : k);
	c->nq++;
	d->backends[c->backend].txns++;
	if (c->nq == 1) {
		waiting_add(d, c);
		head_start(d, c, c->last_done);
	}
	return 0;
}

/* Brings txn to the head: earlier queued requests without a response are
 * dropped (the pipeline skipped them). False when txn is not queued. */
static bool align_head(struct fdet *d, struct fdet_conn *c, uint64_t txn, uint64_t t_us)
{
	int i = queue_find(c, txn);
	if (i < 0)
		return false;
	while (i-- > 0) {
		d->c.txn_mismatch++;
		head_pop(d, c, t_us);
	}
	return true;
}

/* An answer that comes while its backend is declared FAILED measured the
 * outage (a frozen process resumed before the probes saw it back), not
 * the service: learning it would stretch the timeouts of the next
 * failure. Slow answers of a backend that is UP or SUSPECT are learnt: that
 * is how the detector follows a kind that really got slower. */
static bool learns(struct fdet *d, const struct fdet_conn *c)
{
	if (d->backends[c->backend].state != FDET_FAILED)
		return true;
	d->c.samples_skipped++;
	return false;
}

static void first_byte(struct fdet *d, struct fdet_conn *c, uint64_t t_us)
{
	struct fdet_kind *k = &fdet__kinds_of(d, c->backend)[head_of(c)->kind];
	uint64_t s = t_us > c->wait_start ? t_us - c->wait_start : 0;
	if (learns(d, c)) {
		fdet_ewma_sample(&k->e[FDET_PHASE_WAIT], s);
		d->c.samples_wait++;
	}
	c->phase = FDET_PHASE_XFER;
	c->t_first = c->t_last = t_us;
	arm(d, c, t_us + fdet__timeout_of(d, &k->e[FDET_PHASE_XFER]));
}

int fdet_response_first_byte(struct fdet *d, uint64_t conn, uint64_t txn, uint64_t t_us)
{
	struct fdet_conn *c = conn_get(d, conn);
	if (!c)
		return -ENOENT;
	saw_byte(d, c, t_us);
	if (!align_head(d, c, txn, t_us)) {
		d->c.early_responses++;
		c->has_early = true;
		c->early_txn = txn;
		return 0;
	}
	if (c->phase == FDET_PHASE_WAIT)
		first_byte(d, c, t_us);
	return 0;
}

int fdet_response_progress(struct fdet *d, uint64_t conn, uint64_t t_us)
{
	struct fdet_conn *c = conn_get(d, conn);
	if (!c)
		return -ENOENT;
	saw_byte(d, c, t_us);
	if (c->nq == 0)
		return 0;
	if (c->phase == FDET_PHASE_WAIT) {
		first_byte(d, c, t_us); /* the first byte was not reported */
		return 0;
	}
	struct fdet_kind *k = &fdet__kinds_of(d, c->backend)[head_of(c)->kind];
	c->t_last = t_us;
	arm(d, c, t_us + fdet__timeout_of(d, &k->e[FDET_PHASE_XFER]));
	return 0;
}

int fdet_client_window(struct fdet *d, uint64_t conn, bool closed, uint64_t t_us)
{
	struct fdet_conn *c = conn_get(d, conn);
	if (!c)
		return -ENOENT;
	if (closed == c->client_closed)
		return 0;
	c->client_closed = closed;
	if (closed) {
		d->c.client_paused++;
		return 0;
	}
	/* An overdue request stays overdue: the backend was silent before the
	 * window closed, and the suspicion it raised is being confirmed. */
	if (c->nq == 0 || c->overdue)
		return 0;
	struct fdet_kind *k = &fdet__kinds_of(d, c->backend)[head_of(c)->kind];
	if (c->phase == FDET_PHASE_WAIT) {
		c->wait_start = t_us;
		arm(d, c, t_us + fdet__timeout_of(d, &k->e[FDET_PHASE_WAIT]));
	} else {
		c->t_last = t_us;
		arm(d, c, t_us + fdet__timeout_of(d, &k->e[FDET_PHASE_XFER]));
	}
	return 0;
}

int fdet_response_done(struct fdet *d, uint64_t conn, uint64_t txn, uint64_t t_us)
{
	struct fdet_conn *c = conn_get(d, conn);
	if (!c)
		return -ENOENT;
	saw_byte(d, c, t_us);
	d->c.responses++;
	c->last_done = t_us;
	if (!align_head(d, c, txn, t_us)) {
		if (!(c->has_early && c->early_txn == txn))
			d->c.early_responses++;
		c->has_early = true;
		c->early_txn = txn;
		return 0;
	}
	if (c->phase == FDET_PHASE_WAIT)
		first_byte(d, c, t_us);
	struct fdet_kind *k = &fdet__kinds_of(d, c->backend)[head_of(c)->kind];
	if (learns(d, c)) {
		fdet_ewma_sample(&k->e[FDET_PHASE_XFER], t_us > c->t_first ? t_us - c->t_first : 0);
		d->c.samples_xfer++;
	}
	head_pop(d, c, t_us);
	return 0;
}

int fdet_txn_end(struct fdet *d, uint64_t conn, uint64_t txn, uint64_t t_us)
{
	struct fdet_conn *c = conn_get(d, conn);
	if (!c)
		return -ENOENT;
	if (c->has_early && c->early_txn == txn)
		c->has_early = false;
	int i = queue_find(c, txn);
	if (i < 0)
		return 0;
	if (i == 0)
		c->last_done = t_us;
	queue_remove(d, c, (unsigned)i, t_us);
	return 0;
}

/* ---- decisions ---------------------------------------------------------- */

static void ask_probe(struct fdet *d, unsigned b, enum fdet_probe_reason why, uint64_t now_us)
{
	struct fdet_backend *be = &d->backends[b];
	if (be->probe_inflight)
		return;
	be->probe_inflight = true;
	be->probe_asked_us = now_us;
	d->c.probes_asked++;
	d->ops.probe(d->arg, b, &be->addr, why);
}

/* The waiting connection of backend b that has waited longest (overdue
 * ones first), or NULL. */
static struct fdet_conn *oldest_waiting(struct fdet *d, unsigned b)
{
	struct fdet_conn *best = NULL;
	uint64_t best_since = 0;
	for (uint32_t w = 0; w < d->nwaiting; w++) {
		struct fdet_conn *c = &d->conns[d->waiting[w]];
		if (c->backend != b)
			continue;
		uint64_t since = c->phase == FDET_PHASE_WAIT ? c->wait_start : c->t_last;
		if (!best || (c->overdue && !best->overdue) ||
		    (c->overdue == best->overdue && since < best_since)) {
			best = c;
			best_since = since;
		}
	}
	return best;
}

static bool any_overdue(const struct fdet *d, unsigned b)
{
	for (uint32_t w = 0; w < d->nwaiting; w++) {
		const struct fdet_conn *c = &d->conns[d->waiting[w]];
		if (c->backend == b && c->overdue)
			return true;
	}
	return false;
}

static void declare_failed(struct fdet *d, unsigned b, enum fdet_cause cause, uint64_t now_us)
{
	struct fdet_backend *be = &d->backends[b];
	struct fdet_failure f = {
	    .backend = b,
	    .addr = be->addr,
	    .cause = cause,
	    .detected_us = now_us,
	    .suspect_us = cause == FDET_CAUSE_IDLE_PROBE ? be->probe_asked_us : be->suspect_us,
	    .conns_open = be->conns_open,
	    .conns_waiting = be->conns_waiting,
	    .txns_outstanding = be->txns,
	};
	struct fdet_conn *c = oldest_waiting(d, b);
	if (c) {
		f.has_txn = true;
		f.conn = c->key;
		f.txn = head_of(c)->txn;
		f.phase = (enum fdet_phase)c->phase;
		f.waiting_since = c->phase == FDET_PHASE_WAIT ? c->wait_start : c->t_last;
		f.timeout_us = c->deadline > f.waiting_since ? c->deadline - f.waiting_since : 0;
		f.latency_us = now_us > f.waiting_since ? now_us - f.waiting_since : 0;
	}
	be->state = FDET_FAILED;
	be->failed_us = now_us;
	be->recover_ok = 0;
	be->idle_failures = 0;
	be->next_probe_us = now_us + d->cfg.idle_probe_ms * 1000;
	d->c.failures++;
	if (d->ops.failed)
		d->ops.failed(d->arg, &f);
}

int fdet_backend_crashed(struct fdet *d, const struct sockaddr_in *addr, uint64_t since_us,
			 uint64_t now_us)
{
	int b = fdet_backend_find(d, addr);
	if (b < 0)
		return -ENOENT;
	struct fdet_backend *be = &d->backends[b];
	if (be->state == FDET_FAILED)
		return -EALREADY;
	if (be->state == FDET_UP)
		d->c.suspicions++;
	be->state = FDET_SUSPECT;
	be->suspect_us = since_us < now_us ? since_us : now_us;
	be->probe_failed = true;
	be->want_confirm = false;
	d->c.crashes++;
	declare_failed(d, (unsigned)b, FDET_CAUSE_PROBE_FAILED, now_us);
	return 0;
}

/* The backend answered: back to UP; requests still overdue are looked at
 * again after ceiling (they keep their connection busy, not the backend). */
static void clear_suspect(struct fdet *d, unsigned b, uint64_t now_us)
{
	struct fdet_backend *be = &d->backends[b];
	be->state = FDET_UP;
	d->c.cleared++;
	for (uint32_t w = 0; w < d->nwaiting; w++) {
		struct fdet_conn *c = &d->conns[d->waiting[w]];
		if (c->backend == b && c->overdue)
			arm(d, c, now_us + d->cfg.ceiling_ms * 1000);
	}
	if (d->ops.cleared)
		d->ops.cleared(d->arg, b, &be->addr, now_us);
}

static void recover(struct fdet *d, unsigned b, uint64_t now_us)
{
	struct fdet_backend *be = &d->backends[b];
	for (uint32_t w = d->nwaiting; w-- > 0;) {
		struct fdet_conn *c = &d->conns[d->waiting[w]];
		if (c->backend != b)
			continue;
		d->c.dropped_on_recovery += c->nq;
		conn_drop_queue(d, c);
	}
	be->state = FDET_UP;
	be->last_byte_us = now_us;
	be->idle_failures = 0;
	be->next_probe_us = now_us + d->cfg.idle_probe_ms * 1000;
	d->c.recoveries++;
	if (d->ops.recovered)
		d->ops.recovered(d->arg, b, &be->addr, now_us, now_us - be->failed_us);
}

void fdet_probe_result(struct fdet *d, unsigned b, bool alive, uint64_t now_us)
{
	if (b >= d->nbackends || !d->backends[b].probe_inflight) {
		d->c.probes_stale++;
		return;
	}
	struct fdet_backend *be = &d->backends[b];
	be->probe_inflight = false;
	if (alive)
		d->c.probes_ok++;
	else
		d->c.probes_failed++;
	uint64_t idle = d->cfg.idle_probe_ms * 1000, confirm = d->cfg.confirm_ms * 1000;
	switch (be->state) {
	case FDET_UP:
		if (alive) {
			be->idle_failures = 0;
			be->next_probe_us = now_us + idle;
		} else if (be->last_byte_us >= be->probe_asked_us) {
			be->idle_failures = 0; /* it answered meanwhile */
			be->next_probe_us = now_us + idle;
		} else if (++be->idle_failures >= d->cfg.idle_fail_threshold) {
			declare_failed(d, b, FDET_CAUSE_IDLE_PROBE, now_us);
		} else {
			be->next_probe_us = now_us + confirm; /* retry soon */
		}
		break;
	case FDET_SUSPECT:
		if (!alive)
			be->probe_failed = true;
		if (be->last_byte_us >= be->suspect_us)
			clear_suspect(d, b, now_us);
		else if (!alive)
			declare_failed(d, b, FDET_CAUSE_PROBE_FAILED, now_us);
		break;
	case FDET_FAILED:
		if (be->probe_asked_us < be->failed_us) {
			/* asked before the failure (a confirm probe that passed:
			 * the kernel answers, not necessarily the application) */
			be->next_probe_us = now_us + idle;
		} else if (alive && ++be->recover_ok >= d->cfg.recover_probes) {
			recover(d, b, now_us);
		} else {
			if (!alive)
				be->recover_ok = 0;
			be->next_probe_us = now_us + idle;
		}
		break;
	}
}

void fdet_probe_aborted(struct fdet *d, unsigned b, uint64_t now_us)
{
	if (b >= d->nbackends || !d->backends[b].probe_inflight) {
		d->c.probes_stale++;
		return;
	}
	struct fdet_backend *be = &d->backends[b];
	be->probe_inflight = false;
	d->c.probes_aborted++;
	if (be->state != FDET_SUSPECT)
		be->next_probe_us = now_us + d->cfg.confirm_ms * 1000;
}

static void scan_conns(struct fdet *d, uint64_t now_us)
{
	uint64_t next = UINT64_MAX;
	d->c.scans++;
	for (uint32_t w = 0; w < d->nwaiting; w++) {
		struct fdet_conn *c = &d->conns[d->waiting[w]];
		struct fdet_backend *be = &d->backends[c->backend];
		if (be->state == FDET_FAILED || c->overdue || c->client_closed)
			continue;
		if (c->deadline > now_us) {
			if (c->deadline < next)
				next = c->deadline;
			continue;
		}
		c->overdue = true;
		d->c.overdue++;
		if (be->state == FDET_UP) {
			be->state = FDET_SUSPECT;
			be->suspect_us = now_us;
			be->confirm_deadline_us = now_us + d->cfg.confirm_ms * 1000;
			be->suspect_conn = c->key;
			be->suspect_txn = head_of(c)->txn;
			be->probe_failed = false;
			be->want_confirm = true;
			d->c.suspicions++;
		}
	}
	d->next_scan_us = next;
}

void fdet_tick(struct fdet *d, uint64_t now_us)
{
	if (now_us >= d->next_scan_us)
		scan_conns(d, now_us);
	uint64_t idle = d->cfg.idle_probe_ms * 1000;
	for (unsigned b = 0; b < d->nbackends; b++) {
		struct fdet_backend *be = &d->backends[b];
		switch (be->state) {
		case FDET_SUSPECT:
			if (be->want_confirm) {
				be->want_confirm = false;
				if (d->ops.suspect)
					d->ops.suspect(d->arg, b, &be->addr, be->suspect_conn,
						       be->suspect_txn, now_us);
				ask_probe(d, b, FDET_PROBE_CONFIRM, now_us);
				if (be->state != FDET_SUSPECT) /* answered synchronously */
					break;
			}
			if (be->last_byte_us >= be->suspect_us)
				clear_suspect(d, b, now_us);
			else if (now_us >= be->confirm_deadline_us) {
				if (be->probe_failed || any_overdue(d, b))
					declare_failed(d, b, FDET_CAUSE_CONFIRM_TIMEOUT, now_us);
				else
					clear_suspect(d, b, now_us);
			}
			break;
		case FDET_UP: {
			uint64_t due = be->last_byte_us + idle;
			if (be->next_probe_us > due)
				due = be->next_probe_us;
			if (be->conns_waiting == 0 && now_us >= due)
				ask_probe(d, b, FDET_PROBE_IDLE, now_us);
			break;
		}
		case FDET_FAILED:
			if (now_us >= be->next_probe_us)
				ask_probe(d, b, FDET_PROBE_RECOVER, now_us);
			break;
		}
	}
}

uint64_t fdet_next_deadline(const struct fdet *d)
{
	uint64_t next = d->next_scan_us, idle = d->cfg.idle_probe_ms * 1000;
	for (unsigned b = 0; b < d->nbackends; b++) {
		const struct fdet_backend *be = &d->backends[b];
		uint64_t t = UINT64_MAX;
		if (be->state == FDET_SUSPECT)
			t = be->want_confirm ? 0 : be->confirm_deadline_us;
		else if (!be->probe_inflight && be->state == FDET_FAILED)
			t = be->next_probe_us;
		else if (!be->probe_inflight && be->conns_waiting == 0) {
			t = be->last_byte_us + idle;
			if (be->next_probe_us > t)
				t = be->next_probe_us;
		}
		if (t < next)
			next = t;
	}
	return next;
}
