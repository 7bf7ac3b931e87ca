/* recovery_plan - see recovery_plan.h. */
#include "recovery_plan.h"

static int check_input(const struct recovery_input *in)
{
	for (unsigned i = 0; i < in->ntxns; i++) {
		const struct recovery_txn *t = &in->txns[i];
		if (t->ordinal != in->txns[0].ordinal + i || t->req_end < t->req_start ||
		    t->resp_end < t->resp_start)
			return RECOVERY_PLAN_EGAP;
		if (i > 0 && (t->req_start < in->txns[i - 1].req_end ||
			      t->resp_start < in->txns[i - 1].resp_end))
			return RECOVERY_PLAN_EGAP;
	}
	return RECOVERY_PLAN_OK;
}

int recovery_plan_compute(const struct recovery_input *in, struct recovery_plan *plan)
{
	*plan = (struct recovery_plan){0};
	int rc = check_input(in);
	if (rc < 0)
		return rc;
	uint16_t first = in->ntxns ? in->txns[0].ordinal : 1;
	/* T_L: responses complete in order (HTTP answers in request order). */
	unsigned done = 0;
	while (done < in->ntxns && in->txns[done].response_complete)
		done++;
	/* A log that starts at `first` > 1 still says T_L: every earlier
	 * response was complete before `first`'s began. */
	plan->t_l = (uint16_t)(first + done - 1);
	plan->ack_tl = done ? in->txns[done - 1].resp_end : 0;
	plan->in_flight = done < in->ntxns;
	if (plan->in_flight) {
		const struct recovery_txn *next = &in->txns[done];
		if (next->resp_end > next->resp_start)
			plan->p = next->resp_end - next->resp_start;
		if (done == 0)
			plan->ack_tl = next->resp_start;
	}
	plan->t_sp = (uint16_t)(plan->t_l + 1); /* equation 2 */
	plan->t_r = plan->t_l >= in->t_a ? (uint16_t)(in->t_a + 1)
					 : (uint16_t)(plan->t_l + 1); /* equation 3 */
	uint64_t logged = plan->ack_tl + plan->p;
	if (in->ack_cl > logged)
		return RECOVERY_PLAN_EACK;
	if (in->ack_cl < logged) { /* equation 1 */
		plan->resend = true;
		plan->resend_from = in->ack_cl;
		plan->resend_to = logged;
	}
	/* Updates the alternate lacks but the log no longer holds. */
	if (plan->t_r < first && plan->t_r <= plan->t_l)
		return RECOVERY_PLAN_EGAP;
	for (unsigned i = 0; i < in->ntxns; i++) {
		const struct recovery_txn *t = &in->txns[i];
		bool replayed_update =
		    t->ordinal >= plan->t_r && t->ordinal <= plan->t_l && !t->read_only;
		if (!replayed_update && t->ordinal <= plan->t_l)
			continue;
		if (plan->nreplay == RECOVERY_MAX_REPLAY)
			return RECOVERY_PLAN_ETOOMANY;
		plan->replay[plan->nreplay++] = t->ordinal;
	}
	plan->client_req_resume = in->ntxns ? in->txns[in->ntxns - 1].req_end : 0;
	plan->client_resp_resume = logged;
	return plan->in_flight || plan->nreplay ? RECOVERY_PLAN_OK : RECOVERY_PLAN_NOTHING;
}

const char *recovery_outcome_name(int outcome)
{
	switch (outcome) {
	case RECOVERY_PLAN_OK:
		return "ok";
	case RECOVERY_PLAN_NOTHING:
		return "nothing-in-flight";
	case RECOVERY_PLAN_EGAP:
		return "inconsistent-log";
	case RECOVERY_PLAN_ETOOMANY:
		return "too-many-replays";
	case RECOVERY_PLAN_EACK:
		return "client-ack-beyond-log";
	default:
		return "unknown";
	}
}
