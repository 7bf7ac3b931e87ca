/* helper_txn.h - drives a txn_parser through a scripted exchange and
 * records what it reports, for the http_txn and line_txn tests.
 *
 * A script is a list of steps (bytes of one direction, a hole, a FIN).  It
 * can be fed whole, cut at one position in every data step, a byte at a
 * time, or cut at random places; the recorder keeps a transcript with every
 * field of every event, so two runs can be compared byte for byte, and a
 * copy of every transaction at its END event for exact assertions.  It also
 * checks the event invariants (one END per BEGIN, ordinals in order, events
 * of a transaction in a legal order) and records violations. */
#ifndef CRAFT_HELPER_TXN_H
#define CRAFT_HELPER_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "txn_parser.h"

enum txn_step_kind {
	STEP_DATA,
	STEP_GAP,
	STEP_EOF,
	STEP_END, /* txn_parser_end(TXN_END_ABORT) */
};

struct txn_step {
	enum txn_step_kind kind;
	enum txn_dir dir;
	const char *data; /* STEP_DATA */
	size_t len;	  /* STEP_DATA: 0 means strlen(data); STEP_GAP: hole size */
};

#define REQ(s)                                                                                     \
	{                                                                                          \
		STEP_DATA, TXN_DIR_REQUEST, (s), 0                                                 \
	}
#define RESP(s)                                                                                    \
	{                                                                                          \
		STEP_DATA, TXN_DIR_RESPONSE, (s), 0                                                \
	}
#define REQN(s, n)                                                                                 \
	{                                                                                          \
		STEP_DATA, TXN_DIR_REQUEST, (s), (n)                                               \
	}
#define RESPN(s, n)                                                                                \
	{                                                                                          \
		STEP_DATA, TXN_DIR_RESPONSE, (s), (n)                                              \
	}
#define GAP(dir, n)                                                                                \
	{                                                                                          \
		STEP_GAP, (dir), NULL, (n)                                                         \
	}
#define EOF_REQ                                                                                    \
	{                                                                                          \
		STEP_EOF, TXN_DIR_REQUEST, NULL, 0                                                 \
	}
#define EOF_RESP                                                                                   \
	{                                                                                          \
		STEP_EOF, TXN_DIR_RESPONSE, NULL, 0                                                \
	}
#define END_ALL                                                                                    \
	{                                                                                          \
		STEP_END, TXN_DIR_REQUEST, NULL, 0                                                 \
	}

#define REC_LOG_MAX  (256 * 1024)
#define REC_DONE_MAX 64

struct txn_rec {
	char log[REC_LOG_MAX];
	size_t log_len;
	bool log_overflow;
	struct txn done[REC_DONE_MAX]; /* copies at END, in END order */
	unsigned ndone;
	enum txn_event evs[1024]; /* every event, in order */
	uint32_t ev_ord[1024];
	unsigned nevs;
	unsigned begins, ends;
	uint32_t last_ordinal;
	char violation[256]; /* first invariant broken, "" if none */
};

enum split_mode {
	SPLIT_WHOLE,  /* each data step in one call */
	SPLIT_AT,     /* each data step cut at `arg` (if inside) */
	SPLIT_BYTES,  /* one byte per call */
	SPLIT_RANDOM, /* random cuts, seed `arg` */
};

void trec_init(struct txn_rec *r);
struct txn_consumer trec_consumer(struct txn_rec *r);

/* Runs the script on a fresh parser of ctx; the parser is freed after
 * (without txn_parser_end unless the script says so). Returns the
 * parser's final state. */
enum txn_conn_state trec_run(struct txn_parser_ctx *ctx, const struct txn_step *steps, size_t n,
			     enum split_mode mode, uint64_t arg, struct txn_rec *r);

/* Runs the script whole, at every cut position, byte by byte and with
 * `random_runs` random cuttings; returns NULL when every transcript equals
 * the whole run's, else a message naming the first difference. */
const char *trec_check_splits(struct txn_parser_ctx *ctx, const struct txn_step *steps, size_t n,
			      unsigned random_runs);

/* Index of the event ev of transaction `ordinal` in r->evs, or -1. */
int trec_find(const struct txn_rec *r, uint32_t ordinal, enum txn_event ev);

#endif
