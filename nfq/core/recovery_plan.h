/* recovery_plan - what to do for one client connection whose backend died:
 * the arithmetic of the paper's §4.2-4.3, kept apart from the sockets and
 * messages that carry it out so that it can be tested exhaustively.
 *
 * Inputs, per connection: the transactions the logger saw (ordinal, tags,
 * whether the response was fully logged, request and response offsets in
 * the two byte streams), the last client ACK (AckCL) as an offset into the
 * server->client stream, and the alternate backend's T_S / T_A.
 *
 *   T_L   last transaction whose response is fully logged
 *   p     response bytes of T_L + 1 logged (0 if it has none yet)
 *   AckTL offset just past T_L's response
 *   T_SP  = T_L + 1                                   (equation 2)
 *   T_R   = T_A + 1 if T_L >= T_A, else T_L + 1      (equation 3)
 *   Eq. 1 AckCL < AckTL + p + 1: the client lacks logged bytes
 *         [AckCL, AckTL + p) and the logger's copy is resent first.
 *
 * Replay: the UPDATE transactions in [T_R, T_L] (never the read-only ones,
 * whose effects do not matter and whose responses the client already has),
 * then the request of T_L + 1 (if the client sent one), whose first p
 * response bytes are consumed and compared, not forwarded, then any later
 * requests the client had already sent (pipelined) and the failed backend
 * never answered. Whether T_L + 1 may be regenerated is not decided here:
 * a transaction tagged non-deterministic had its response saved at the
 * alternate; an untagged one that differs is caught by the comparison. Offsets are
 * 64-bit stream offsets (relative to ISN + 1), as the logger stores them.
 */
#ifndef CRAFT_RECOVERY_PLAN_H
#define CRAFT_RECOVERY_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RECOVERY_MAX_REPLAY 256

struct recovery_txn {
	uint16_t ordinal; /* 1, 2, ... on the connection */
	bool read_only;	  /* tag: read-only (else update) */
	bool deterministic;
	bool request_complete;	       /* the whole request was logged */
	bool response_complete;	       /* the whole response was logged */
	uint64_t req_start, req_end;   /* client->server stream, [start, end) */
	uint64_t resp_start, resp_end; /* server->client stream, [start, end) */
};

struct recovery_input {
	const struct recovery_txn *txns; /* in ordinal order */
	unsigned ntxns;
	uint64_t ack_cl;   /* last client ACK, as a server-stream offset */
	uint16_t t_s, t_a; /* from the alternate backend's agent */
};

enum recovery_outcome {
	RECOVERY_PLAN_OK = 0,
	RECOVERY_PLAN_NOTHING = 1,   /* no transaction in flight: re-splice only */
	RECOVERY_PLAN_EGAP = -2,     /* ordinals or offsets inconsistent */
	RECOVERY_PLAN_ETOOMANY = -3, /* replay list over RECOVERY_MAX_REPLAY */
	RECOVERY_PLAN_EACK = -4,     /* AckCL beyond what was logged */
};

struct recovery_plan {
	uint16_t t_l, t_r, t_sp;
	uint64_t p;
	uint64_t ack_tl;
	/* Equation 1: resend [resend_from, resend_to) from the logger's copy. */
	bool resend;
	uint64_t resend_from, resend_to;
	/* Requests sent to the alternate, in order; the last one is T_L + 1
	 * when in_flight is true. */
	unsigned nreplay;
	uint16_t replay[RECOVERY_MAX_REPLAY];
	bool in_flight; /* T_L + 1 exists (its request reached the logger) */
	/* Where the re-spliced streams continue: the client's next request
	 * byte after T_L + 1's request, and the client's view of the first
	 * response byte the alternate sends after the p swallowed ones. */
	uint64_t client_req_resume;
	uint64_t client_resp_resume;
};

/* Fills plan; returns an enum recovery_outcome. */
int recovery_plan_compute(const struct recovery_input *in, struct recovery_plan *plan);
const char *recovery_outcome_name(int outcome);

#endif
