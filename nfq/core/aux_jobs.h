/* aux_jobs - which alternate backends the aux logger diverts right now:
 * the table of recoveries announced by AUX_DIVERT (ctl_msg.h), and the
 * switch calls that follow from it (nfq/logger/aux_divert.h puts them
 * into the kernel's xt_recent list).
 *
 * An address is diverted while at least one job names it. A job begins
 * with START (sender, alternate, job id), lives at most its ttl (capped at
 * max_ttl: a lost END ends it anyway) and after END still end_linger (the
 * alternate may make the aux request of the request it was replaying just
 * after the job ended). A second START refreshes the ttl; a START after
 * the END of the same job (a late copy) changes nothing; an END for no
 * live job is counted. Every refresh interval each diverted address is
 * switched on again, so that the kernel's own expiry (rules/aux-divert.sh
 * --seconds) only fires when this daemon is gone. At most max jobs; more
 * are counted and not diverted. Times are the caller's (monotonic ms). */
#ifndef CRAFT_AUX_JOBS_H
#define CRAFT_AUX_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include "ctl_msg.h"

struct aux_job {
	bool used, ended; /* ended: END came, lingering */
	uint32_t ip;	  /* the alternate, network order */
	uint32_t sender;
	uint64_t job_id, expires_ms;
};

/* op '+': divert ip (or refresh it), '-': stop diverting it, '/': none. */
typedef void aux_switch_fn(void *ctx, char op, uint32_t ip);

struct aux_jobs_counters {
	uint64_t msgs, starts, ends, ends_unknown, expired, jobs_full;
	uint64_t switched_on, switched_off;
};

struct aux_jobs {
	struct aux_job *j;
	uint32_t max;
	uint64_t max_ttl_ms, end_linger_ms, refresh_ms, next_refresh_ms;
	aux_switch_fn *sw;
	void *ctx;
	struct aux_jobs_counters c;
};

/* 0 or -ENOMEM. */
int aux_jobs_init(struct aux_jobs *t, uint32_t max, uint64_t max_ttl_ms, uint64_t end_linger_ms,
		  uint64_t refresh_ms, aux_switch_fn *sw, void *ctx);
void aux_jobs_free(struct aux_jobs *t);
/* One authenticated AUX_DIVERT from sender. */
void aux_jobs_on_msg(struct aux_jobs *t, const struct ctl_aux_divert *m, uint32_t sender,
		     uint64_t now_ms);
/* Ends jobs past their time, refreshes the live addresses when due. */
void aux_jobs_tick(struct aux_jobs *t, uint64_t now_ms);
/* Forgets every job and switches everything off ('/'). */
void aux_jobs_clear(struct aux_jobs *t);
bool aux_jobs_active(const struct aux_jobs *t, uint32_t ip);
uint32_t aux_jobs_live(const struct aux_jobs *t);

#endif
