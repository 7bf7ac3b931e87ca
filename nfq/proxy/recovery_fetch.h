/* recovery_fetch - a job's queries to the logger (see recovery_fetch.c). */
#ifndef CRAFT_RECOVERY_FETCH_H
#define CRAFT_RECOVERY_FETCH_H

#include "recovery_int.h"

void rj_send_conn_query(struct recovery_job *j, uint64_t now_ms);
/* A reply for the job: 1 = the logger's answer is complete, 0 = wait,
 * -1 = the job fails (j->detail says why). */
int rj_fetch_on_ctl(struct recovery_job *j, const struct ctl_msg *m, uint64_t now_ms);
/* The plan from the logger's answer and the agent's T_S/T_A, and the list
 * of chunks to fetch. 0, or -1 with j->detail set. */
int rj_make_plan(struct recovery_job *j);
int rj_fetch_pump(struct recovery_job *j, uint64_t now_ms);
int rj_fetch_complete(struct recovery_job *j);
bool rj_check_swallowed(struct recovery_job *j, const uint8_t *buf, size_t n, uint64_t pos);

/* With an agent: inserts the authenticated X-Craft-Txn headers (needs
 * j->ivip_port). 0 or -1 (detail set). */
int rj_add_txn_headers(struct recovery_job *j);

#endif
