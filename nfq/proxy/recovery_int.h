/* recovery_int - what recovery.c (the manager) and recovery_job.c (one
 * connection's recovery) share; see recovery.h for the whole story. */
#ifndef CRAFT_RECOVERY_INT_H
#define CRAFT_RECOVERY_INT_H

#include "ctl_channel.h"
#include "recovery.h"
#include "recovery_plan.h"
#include "recovery_plan_splice.h"
#include "splice_inject.h"
#include "state_msg.h"
#include "store.h"

enum rj_state {
	RJ_FREE = 0,
	RJ_QUERY,   /* CONN_QUERY pages in flight */
	RJ_AGENT,   /* the alternate's agent: QUERY, then APPLY_UP_TO */
	RJ_FETCH,   /* BYTES_QUERY chunks in flight */
	RJ_CONNECT, /* connecting to the alternate */
	RJ_REPLAY,  /* writing requests, swallowing responses */
	RJ_FREEZE,  /* everything swallowed: waiting for the ACK of our bytes */
	RJ_INJECT,  /* re-spliced; sending the client the bytes it lacks */
};

enum rj_kind { RJ_K_REPLAY, RJ_K_COMPARE, RJ_K_RESEND };
enum rj_item_state { RJ_I_TODO, RJ_I_SENT, RJ_I_DONE, RJ_I_NOT_HELD };

/* One BYTES_QUERY: at most CTL_BYTES_MAX bytes of one stream. */
struct rj_item {
	uint8_t kind, state, stream, tries;
	uint32_t len;
	uint64_t off;
	uint8_t *dst;
	uint64_t sent_ms;
};

struct recovery_job {
	enum rj_state state;
	uint16_t slot, epoch; /* query ids: slot << 48 | epoch << 32 | item */
	struct recovery *r;
	uint64_t splice_id;
	struct splice_record old;	       /* as it was at the failure */
	struct sockaddr_in failed, alt, agent; /* agent: sin_family 0 = none */
	uint64_t detected_us, start_us, end_us, deadline_ms;
	/* The logger's answer. */
	bool have_marks;
	uint64_t conn_id, ack_cl, last_server_byte, last_client_byte;
	uint32_t client_isn, server_isn;
	struct recovery_txn *txns;
	uint64_t *txn_ids; /* the logger's IDs, parallel to txns */
	unsigned ntxns;
	uint64_t query_sent_ms;
	unsigned query_tries;
	struct recovery_plan plan;
	uint16_t t_s, t_a;
	bool agent_applying; /* APPLY_UP_TO sent (else QUERY) */
	uint64_t agent_sent_ms;
	unsigned agent_tries;
	/* Where each replayed request starts in `replay` and its ID: the
	 * alternate's application learns the old IDs from X-Craft-Txn. */
	unsigned nhdr;
	uint64_t hdr_at[RECOVERY_MAX_REPLAY + 1], hdr_txn[RECOVERY_MAX_REPLAY + 1];
	/* Fetched bytes. */
	struct rj_item *items;
	unsigned nitems, items_done;
	uint8_t *replay, *compare, *resend;
	uint64_t replay_len, compare_len, resend_len;
	bool tl1_deterministic;
	struct recovery_mask mask;
	/* The alternate connection. */
	int fd;
	uint16_t ivip_port;
	uint64_t written, swallow_discard, swallow_total, swallowed;
	/* What the client said while suspended (client numbering). */
	bool client_seen;
	uint32_t cl_ack, cl_tsval, cl_tsecr;
	uint16_t cl_window;
	uint64_t cl_seen_ms, tickle_ms;
	unsigned tickles;
	/* After the re-splice. */
	uint64_t new_splice_id;
	struct splice_inject inj;
	bool inj_used;
	uint8_t c_snd_wscale;
	char detail[160];
};

struct recovery {
	struct recovery_config cfg;
	struct proxy *px;
	struct ctl_channel ch;
	bool ch_open;
	struct store *st;
	struct recovery_job *jobs;
	unsigned active;
	uint64_t last_event_id;
	uint32_t last_event_ip;
	uint16_t last_event_port;
	/* The agents' socket (recovery_agent.c). */
	int agent_fd;
	bool agent_open;
	uint8_t *agent_buf;
	struct auth_key agent_key;
	struct auth_sender agent_tx;
	struct auth_receiver agent_rx;
	struct recovery_counters c;
};

/* recovery_job.c */
int rj_start(struct recovery *r, struct recovery_job *j, struct splice_entry *e,
	     const struct sockaddr_in *failed, const struct recovery_alternate *alt,
	     uint64_t detected_us, uint64_t now_ms);
void rj_on_ctl(struct recovery_job *j, const struct ctl_msg *m, uint64_t now_ms);
void rj_on_agent_reply(struct recovery_job *j, const struct state_reply *rp, uint64_t now_ms);
void rj_tick(struct recovery_job *j, uint64_t now_ms);
/* A segment of the job's old (suspended) or new (injecting) splice. */
bool rj_on_segment(struct recovery_job *j, enum splice_way way, const struct tcp4_packet *p,
		   uint64_t now_ms);
/* Ends the job: outcome "recovered" or a failure (RST to the client). */
void rj_finish(struct recovery_job *j, const char *outcome, uint64_t now_ms);

/* recovery.c */
void recovery_record(struct recovery *r, const struct recovery_job *j, const char *outcome);
int recovery_send(struct recovery *r, const struct ctl_msg *m);

#endif
