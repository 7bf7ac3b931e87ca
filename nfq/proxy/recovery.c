/* recovery - the manager: the control channel (BACKEND_FAILED in, queries
 * out, replies routed to their job), the job table, the packet hook, the
 * failover history. See recovery.h. */
#include "recovery.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "proxy.h"
#include "recovery_agent.h"
#include "recovery_int.h"
#include "stats.h"

static const struct recovery_alternate *alternate_of(const struct recovery *r, uint32_t ip,
						     uint16_t port)
{
	for (unsigned i = 0; i < r->cfg.nalt; i++)
		if (r->cfg.alt[i].failed.sin_addr.s_addr == ip &&
		    ntohs(r->cfg.alt[i].failed.sin_port) == port)
			return &r->cfg.alt[i];
	return NULL;
}

static struct recovery_job *job_of_splice(struct recovery *r, uint64_t id)
{
	for (uint32_t i = 0; i < r->cfg.max_jobs; i++) {
		struct recovery_job *j = &r->jobs[i];
		if (j->state != RJ_FREE && (j->splice_id == id || j->new_splice_id == id))
			return j;
	}
	return NULL;
}

static struct recovery_job *job_alloc(struct recovery *r)
{
	for (uint32_t i = 0; i < r->cfg.max_jobs; i++)
		if (r->jobs[i].state == RJ_FREE)
			return &r->jobs[i];
	return NULL;
}

static void on_backend_failed(struct recovery *r, const struct ctl_backend_failed *f)
{
	uint64_t now = monotonic_ms();
	r->c.failed_msgs++;
	if (f->event_id == r->last_event_id && f->ip == r->last_event_ip &&
	    f->port == r->last_event_port) {
		r->c.failed_dups++; /* a repeat of a datagram we acted on */
		return;
	}
	r->last_event_id = f->event_id;
	r->last_event_ip = f->ip;
	r->last_event_port = f->port;
	struct in_addr ip = {.s_addr = f->ip};
	const struct recovery_alternate *alt = alternate_of(r, f->ip, f->port);
	log_notice("backend %s:%u failed (event %llu)%s", inet_ntoa(ip), f->port,
		   (unsigned long long)f->event_id, alt ? "" : ": no alternate configured");
	struct sockaddr_in failed = {
	    .sin_family = AF_INET, .sin_addr = ip, .sin_port = htons(f->port)};
	uint32_t cursor = 0, hits = 0;
	struct splice_entry *e;
	while ((e = splice_table_next(r->px->splices, &cursor))) {
		const struct splice_key *k = &e->rec.backend_key;
		if (k->saddr != ntohl(f->ip) || k->sport != f->port ||
		    e->rec.creator != r->px->cfg.id || (e->rec.state & SPLICE_ST_CLOSED) ||
		    job_of_splice(r, e->rec.id))
			continue;
		hits++;
		struct recovery_job *j = job_alloc(r);
		if (!j) {
			r->c.jobs_full++;
			continue; /* its client sees the stall of a dead backend */
		}
		if (rj_start(r, j, e, &failed, alt, f->detected_us, now) == 0) {
			r->active++;
			r->c.jobs_started++;
		}
	}
	if (hits == 0)
		r->c.failed_unknown_backend++;
}

static void on_ctl(void *arg, const struct ctl_msg *m, const struct ctl_origin *from)
{
	(void)from;
	struct recovery *r = arg;
	uint64_t qid;
	switch (m->type) {
	case CTL_BACKEND_FAILED:
		on_backend_failed(r, &m->u.failed);
		return;
	case CTL_CONN_REPLY:
		qid = m->u.reply.query_id;
		break;
	case CTL_BYTES_REPLY:
		qid = m->u.bytes_reply.query_id;
		break;
	default:
		return;
	}
	r->c.replies++;
	uint32_t slot = (uint32_t)(qid >> 48);
	uint16_t epoch = (uint16_t)(qid >> 32);
	if (slot >= r->cfg.max_jobs || r->jobs[slot].state == RJ_FREE ||
	    r->jobs[slot].epoch != epoch) {
		r->c.replies_stray++; /* a late answer to a finished job */
		return;
	}
	rj_on_ctl(&r->jobs[slot], m, monotonic_ms());
}

int recovery_send(struct recovery *r, const struct ctl_msg *m)
{
	r->c.queries_sent++;
	return ctl_channel_send_udp(&r->ch, m, &r->cfg.logger);
}

void recovery_record(struct recovery *r, const struct recovery_job *j, const char *outcome)
{
	char backend[32], alt[32];
	snprintf(backend, sizeof(backend), "%s:%u", inet_ntoa(j->failed.sin_addr),
		 ntohs(j->failed.sin_port));
	snprintf(alt, sizeof(alt), "%s:%u", inet_ntoa(j->alt.sin_addr), ntohs(j->alt.sin_port));
	const struct recovery_plan *pl = &j->plan;
	bool planned = j->state > RJ_QUERY || pl->t_sp != 0;
	uint32_t cip = htonl(j->old.backend_key.daddr);
	uint16_t cport = j->old.backend_key.dport;
	log_notice("failover %s -> %s client %s:%u: %s (T_L %u p %llu AckCL %llu AckTL %llu "
		   "T_R %u replayed %u resent %llu)%s%s",
		   backend, j->alt.sin_family ? alt : "-",
		   inet_ntoa((struct in_addr){htonl(j->old.client_key.saddr)}),
		   j->old.client_key.sport, outcome, pl->t_l, (unsigned long long)pl->p,
		   (unsigned long long)j->ack_cl, (unsigned long long)pl->ack_tl, pl->t_r,
		   pl->nreplay, (unsigned long long)j->resend_len, j->detail[0] ? ": " : "",
		   j->detail);
	if (!r->st)
		return;
	struct store_row row = {.stmt = STORE_FAILOVER_EVENT, .nvals = 18};
	struct store_value *v = row.vals;
	v[0] = STORE_INT_OR_NULL(j->conn_id != 0, j->conn_id);
	v[1] = STORE_TEXT(backend);
	v[2] = j->alt.sin_family ? STORE_TEXT(alt) : STORE_NULL();
	v[3] = STORE_INT(j->detected_us);
	v[4] = STORE_INT(j->start_us);
	v[5] = STORE_INT(j->end_us);
	v[6] = STORE_INT_OR_NULL(planned, store_txn_id(cip, cport, pl->t_l));
	v[7] = STORE_INT_OR_NULL(planned, pl->p);
	v[8] = STORE_INT_OR_NULL(planned, j->ack_cl);
	v[9] = STORE_INT_OR_NULL(planned, pl->ack_tl);
	v[10] = STORE_INT_OR_NULL(planned, store_txn_id(cip, cport, j->t_s));
	v[11] = STORE_INT_OR_NULL(planned, store_txn_id(cip, cport, j->t_a));
	v[12] = STORE_INT_OR_NULL(planned, store_txn_id(cip, cport, pl->t_r));
	v[13] = STORE_INT_OR_NULL(planned, store_txn_id(cip, cport, pl->t_sp));
	v[14] = STORE_INT(j->resend_len);
	v[15] = STORE_INT(pl->nreplay);
	v[16] = STORE_TEXT(outcome);
	v[17] = j->detail[0] ? STORE_TEXT(j->detail) : STORE_NULL();
	if (store_submit(r->st, &row) < 0)
		r->c.store_errors++;
}

int recovery_open(struct recovery **out, struct proxy *px, const struct recovery_config *cfg,
		  char *err, size_t errlen)
{
	*out = NULL;
	if (cfg->logger.sin_addr.s_addr == 0)
		return 0; /* recovery is off */
	struct recovery *r = calloc(1, sizeof(*r));
	if (!r || !(r->jobs = calloc(cfg->max_jobs, sizeof(*r->jobs)))) {
		free(r);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r->cfg = *cfg;
	r->px = px;
	r->agent_fd = -1;
	for (uint32_t i = 0; i < cfg->max_jobs; i++) {
		r->jobs[i].slot = (uint16_t)i;
		r->jobs[i].fd = -1;
		r->jobs[i].r = r;
	}
	*out = r;
	if (r->cfg.ctl.bind.sin_family == 0) {
		snprintf(err, errlen, "[recovery] logger is set but [control] bind is not");
		return -EINVAL;
	}
	int rc = ctl_channel_open(&r->ch, &px->daemon->loop, &r->cfg.ctl, on_ctl, r, err, errlen);
	if (rc < 0)
		return rc;
	r->ch_open = true;
	rc = recovery_agent_open(r, err, errlen);
	if (rc < 0)
		return rc;
	if (r->cfg.db[0]) {
		char serr[200];
		rc = store_open(&r->st, r->cfg.db, NULL, serr, sizeof(serr));
		if (rc < 0) {
			snprintf(err, errlen, "%s: %s", r->cfg.db, serr);
			return rc;
		}
	}
	log_notice("recovery: logger %s:%u, %u alternates, up to %u connections at once",
		   inet_ntoa(cfg->logger.sin_addr), ntohs(cfg->logger.sin_port), cfg->nalt,
		   cfg->max_jobs);
	return 0;
}

void recovery_close(struct recovery *r)
{
	if (!r)
		return;
	uint64_t now = monotonic_ms();
	for (uint32_t i = 0; r->jobs && i < r->cfg.max_jobs; i++)
		if (r->jobs[i].state != RJ_FREE)
			rj_finish(&r->jobs[i], "aborted", now);
	if (r->ch_open)
		ctl_channel_close(&r->ch);
	r->ch_open = false;
	recovery_agent_close(r);
	if (r->st)
		store_close(r->st);
	r->st = NULL;
	free(r->jobs);
	r->jobs = NULL;
	r->cfg.max_jobs = 0;
}

void recovery_free(struct recovery *r)
{
	recovery_close(r);
	free(r);
}

void recovery_tick(struct recovery *r, uint64_t now_ms)
{
	if (!r || r->active == 0)
		return;
	for (uint32_t i = 0; i < r->cfg.max_jobs; i++)
		if (r->jobs[i].state != RJ_FREE)
			rj_tick(&r->jobs[i], now_ms);
}

bool recovery_on_segment(struct recovery *r, struct splice_entry *e, enum splice_way way,
			 const struct tcp4_packet *p, uint64_t now_ms)
{
	if (!r || r->active == 0)
		return false;
	struct recovery_job *j = job_of_splice(r, e->rec.id);
	return j ? rj_on_segment(j, way, p, now_ms) : false;
}

void recovery_collect_stats(const struct recovery *r, struct stats_report *rep)
{
	if (!r)
		return;
	const struct recovery_counters *c = &r->c;
	stats_add(rep, "recovery", "failed_msgs", c->failed_msgs);
	stats_add(rep, "recovery", "failed_dups", c->failed_dups);
	stats_add(rep, "recovery", "failed_unknown_backend", c->failed_unknown_backend);
	stats_add(rep, "recovery", "jobs_started", c->jobs_started);
	stats_add(rep, "recovery", "jobs_full", c->jobs_full);
	stats_add(rep, "recovery", "active", r->active);
	stats_add(rep, "recovery", "recovered", c->recovered);
	stats_add(rep, "recovery", "reset", c->reset);
	stats_add(rep, "recovery", "nondeterministic", c->nondeterministic);
	stats_add(rep, "recovery", "no_alternate", c->no_alternate);
	stats_add(rep, "recovery", "log_incomplete", c->log_incomplete);
	stats_add(rep, "recovery", "timeouts", c->timeouts);
	stats_add(rep, "recovery", "queries_sent", c->queries_sent);
	stats_add(rep, "recovery", "queries_resent", c->queries_resent);
	stats_add(rep, "recovery", "replies", c->replies);
	stats_add(rep, "recovery", "replies_stray", c->replies_stray);
	stats_add(rep, "recovery", "replies_busy", c->replies_busy);
	stats_add(rep, "recovery", "bytes_fetched", c->bytes_fetched);
	stats_add(rep, "recovery", "bytes_replayed", c->bytes_replayed);
	stats_add(rep, "recovery", "bytes_swallowed", c->bytes_swallowed);
	stats_add(rep, "recovery", "bytes_compared", c->bytes_compared);
	stats_add(rep, "recovery", "bytes_unchecked", c->bytes_unchecked);
	stats_add(rep, "recovery", "bytes_resent", c->bytes_resent);
	stats_add(rep, "recovery", "txns_replayed", c->txns_replayed);
	stats_add(rep, "recovery", "segs_dropped", c->segs_dropped);
	stats_add(rep, "recovery", "tickles", c->tickles);
	stats_add(rep, "recovery", "client_seen", c->client_seen);
	stats_add(rep, "recovery", "store_errors", c->store_errors);
	stats_add(rep, "recovery", "connect_failed", c->connect_failed);
	stats_add(rep, "recovery", "freeze_failed", c->freeze_failed);
	stats_add(rep, "recovery", "agent_sent", c->agent_sent);
	stats_add(rep, "recovery", "agent_refused", c->agent_refused);
	stats_add(rep, "recovery", "agent_forced", c->agent_forced);
	if (r->ch_open)
		ctl_channel_collect_stats(&r->ch, rep, "recovery_ctl");
}
