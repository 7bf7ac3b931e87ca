/* tcp_tx_int.h - private to tcp_tx.c and tcp_tx_ctl.c. */
#ifndef CRAFT_TCP_TX_INT_H
#define CRAFT_TCP_TX_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "auth_msg.h"
#include "tcp_tx.h"
#include "tx_proto.h"

struct tcp_tx {
	struct tcp_tx_config cfg;
	int fd;
	uint64_t in_off, out_off; /* bytes read / written since attach */
	bool in_txn;
	uint32_t txn_no;
	uint64_t txn_in, txn_out; /* offsets where the open transaction began */
	int last_reason;
	uint64_t skip_to; /* TLA/2CA: socket bytes below this are replayed copies */

	/* control connection (TLA/2CA) */
	int ctl;
	struct tx_conn_id conn;
	uint64_t session;
	struct auth_sender sender;
	struct auth_receiver receiver;
	bool receiver_ready;
	struct tx_reader rd;
	uint32_t next_req;
	uint32_t start_req;  /* TX_START sent, answer not read yet (0: none) */
	bool start_failed;   /* the logger refused the open transaction's START */
	int pending_failure; /* unsolicited TX_FAILURE reason */
	uint8_t last_frame[TX_FRAME_MAX];
	size_t last_frame_len;

	/* SMA */
	uint8_t *obuf;
	size_t olen, ocap;
	uint8_t *rbuf; /* bytes read since the transaction began (and after) */
	size_t rlen, rcap, rpos, rmark;
};

int tcp_tx_ctl_open(struct tcp_tx *tx);
void tcp_tx_ctl_close(struct tcp_tx *tx);
/* Sends TX_START without waiting; tcp_tx_ctl_finish_start waits. */
int tcp_tx_ctl_begin_start(struct tcp_tx *tx);
int tcp_tx_ctl_finish_start(struct tcp_tx *tx);
/* Sends op with the transaction's offsets and waits for the answer. */
int tcp_tx_ctl_call(struct tcp_tx *tx, int op, struct tx_msg *ans);
int tcp_tx_ctl_poll(struct tcp_tx *tx);

#endif
