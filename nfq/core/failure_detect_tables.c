/* failure_detect_tables - the detector's bounded tables: allocation,
 * backends, request kinds, and the read-only queries and counters (see
 * failure_detect.h; the state machine is failure_detect.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failure_detect_int.h"
#include "stats.h"

static uint32_t str_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

int fdet__kind_lookup(struct fdet *d, unsigned b, const char *name, bool create)
{
	if (!name || !*name)
		return 0;
	size_t n = strnlen(name, FDET_KIND_NAME_MAX - 1);
	uint32_t h = str_hash(name, n);
	struct fdet_kind *k = fdet__kinds_of(d, b);
	struct fdet_backend *be = &d->backends[b];
	for (uint32_t i = 0; i < be->nkinds; i++)
		if (k[i].hash == h && strncmp(k[i].name, name, n) == 0 && k[i].name[n] == '\0')
			return (int)i;
	if (!create)
		return -ENOENT;
	if (be->nkinds >= d->cfg.max_kinds) {
		d->c.kinds_overflow++;
		return 0;
	}
	struct fdet_kind *nk = &k[be->nkinds];
	memset(nk, 0, sizeof(*nk));
	memcpy(nk->name, name, n);
	nk->hash = h;
	return (int)be->nkinds++;
}

int fdet_init(struct fdet *d, const struct fdet_config *cfg, const struct fdet_ops *ops, void *arg)
{
	memset(d, 0, sizeof(*d));
	if (!cfg || !ops || !ops->probe || fdet_config_check(cfg, NULL, 0) < 0)
		return -EINVAL;
	d->cfg = *cfg;
	d->ops = *ops;
	d->arg = arg;
	d->nbuckets = 1;
	while (d->nbuckets < cfg->max_conns)
		d->nbuckets <<= 1;
	d->backends = calloc(cfg->max_backends, sizeof(*d->backends));
	d->kinds = calloc((size_t)cfg->max_backends * cfg->max_kinds, sizeof(*d->kinds));
	d->conns = calloc(cfg->max_conns, sizeof(*d->conns));
	d->buckets = malloc(d->nbuckets * sizeof(*d->buckets));
	d->waiting = malloc(cfg->max_conns * sizeof(*d->waiting));
	if (!d->backends || !d->kinds || !d->conns || !d->buckets || !d->waiting) {
		fdet_free(d);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < d->nbuckets; i++)
		d->buckets[i] = NIL;
	/* Connection slots are handed out fresh (d->fresh) before reuse, so
	 * the table's pages are only touched as connections come. */
	d->free_head = NIL;
	d->fresh = 0;
	d->next_scan_us = UINT64_MAX;
	return 0;
}

void fdet_free(struct fdet *d)
{
	free(d->backends);
	free(d->kinds);
	free(d->conns);
	free(d->buckets);
	free(d->waiting);
	memset(d, 0, sizeof(*d));
}

static bool same_addr(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

int fdet_backend_find(const struct fdet *d, const struct sockaddr_in *addr)
{
	for (unsigned i = 0; i < d->nbackends; i++)
		if (same_addr(&d->backends[i].addr, addr))
			return (int)i;
	return -ENOENT;
}

int fdet_backend_add(struct fdet *d, const struct sockaddr_in *addr, uint64_t now_us)
{
	int i = fdet_backend_find(d, addr);
	if (i >= 0)
		return i;
	if (d->nbackends >= d->cfg.max_backends) {
		d->c.backends_overflow++;
		return -ENOSPC;
	}
	unsigned b = d->nbackends++;
	struct fdet_backend *be = &d->backends[b];
	memset(be, 0, sizeof(*be));
	be->addr.sin_family = AF_INET;
	be->addr.sin_addr = addr->sin_addr;
	be->addr.sin_port = addr->sin_port;
	be->state = FDET_UP;
	be->last_byte_us = now_us;
	be->next_probe_us = now_us + d->cfg.idle_probe_ms * 1000;
	struct fdet_kind *k = fdet__kinds_of(d, b);
	memset(&k[0], 0, sizeof(k[0]));
	k[0].name[0] = '*';
	k[0].hash = str_hash("*", 1);
	be->nkinds = 1;
	return (int)b;
}

unsigned fdet_backend_count(const struct fdet *d)
{
	return d->nbackends;
}

enum fdet_state fdet_backend_state(const struct fdet *d, unsigned backend)
{
	return backend < d->nbackends ? d->backends[backend].state : FDET_UP;
}

const struct sockaddr_in *fdet_backend_addr(const struct fdet *d, unsigned backend)
{
	return backend < d->nbackends ? &d->backends[backend].addr : NULL;
}

int fdet_backend_info(const struct fdet *d, unsigned backend, struct fdet_backend_info *out)
{
	if (backend >= d->nbackends)
		return -ENOENT;
	const struct fdet_backend *be = &d->backends[backend];
	*out = (struct fdet_backend_info){
	    .state = be->state,
	    .conns_open = be->conns_open,
	    .conns_waiting = be->conns_waiting,
	    .txns_outstanding = be->txns,
	    .kinds = be->nkinds,
	    .last_byte_us = be->last_byte_us,
	};
	return 0;
}

/* ---- queries ------------------------------------------------------------ */

const struct fdet_ewma *fdet_kind_ewma(const struct fdet *d, unsigned backend, const char *kind,
				       enum fdet_phase phase)
{
	if (backend >= d->nbackends || (phase != FDET_PHASE_WAIT && phase != FDET_PHASE_XFER))
		return NULL;
	int k = fdet__kind_lookup((struct fdet *)d, backend, kind, false);
	return k < 0 ? NULL : &fdet__kinds_of(d, backend)[k].e[phase];
}

int fdet_timeout_us(const struct fdet *d, unsigned backend, const char *kind, enum fdet_phase phase,
		    uint64_t *out)
{
	if (backend >= d->nbackends)
		return -ENOENT;
	const struct fdet_ewma *e = fdet_kind_ewma(d, backend, kind, phase);
	struct fdet_ewma none = {0};
	*out = fdet__timeout_of(d, e ? e : &none);
	return 0;
}

void fdet_collect_stats(const struct fdet *d, struct stats_report *r, const char *prefix)
{
	const struct fdet_counters *c = &d->c;
	uint64_t nstate[3] = {0};
	for (unsigned b = 0; b < d->nbackends; b++)
		nstate[d->backends[b].state]++;
#define S(name) stats_add(r, prefix, #name, c->name)
	S(requests);
	S(responses);
	S(samples_wait);
	S(samples_xfer);
	S(samples_skipped);
	S(client_paused);
	S(overdue);
	S(suspicions);
	S(cleared);
	S(failures);
	S(recoveries);
	S(probes_asked);
	S(probes_ok);
	S(probes_failed);
	S(probes_stale);
	S(probes_aborted);
	S(backends_overflow);
	S(kinds_overflow);
	S(conns_overflow);
	S(pipeline_overflow);
	S(unknown_conn);
	S(txn_mismatch);
	S(early_responses);
	S(dropped_on_recovery);
	S(crashes);
#undef S
	stats_add(r, prefix, "backends", d->nbackends);
	stats_add(r, prefix, "backends_up", nstate[FDET_UP]);
	stats_add(r, prefix, "backends_suspect", nstate[FDET_SUSPECT]);
	stats_add(r, prefix, "backends_failed", nstate[FDET_FAILED]);
	stats_add(r, prefix, "conns", d->nconns);
	stats_add(r, prefix, "conns_waiting", d->nwaiting);
}
