/* splice_inject - bytes a daemon owes one endpoint of a spliced connection,
 * sent as raw segments and resent until that endpoint acknowledges them.
 *
 * When the proxy freezes its two sockets, the client's request bytes it
 * already accepted (and acknowledged to the client) have not reached the
 * backend. The frozen backend socket cannot send them — it would never see
 * the backend's acknowledgements, which now belong to the splice — so the
 * proxy sends them itself in the backend connection's numbering and watches
 * the acknowledgements the splice handler sees. Recovery reuses the same
 * piece to replay logged bytes. It is a deliberately small sender for a
 * request head or a few windows on a LAN: everything the receiver's window
 * allows at once (full segments only, so a window edge does not cut tiny
 * ones), a fixed initial RTO with exponential backoff and a retry limit.
 * Loss recovery resends holes, never the whole window: the receiver's SACK
 * blocks (fed by the caller) mark what arrived, a timeout or three segments'
 * worth of SACKed bytes above a hole start a recovery, and each partial
 * acknowledgement in it resends the next hole. A go-back-N resend of a
 * window the receiver mostly holds would make it answer every duplicate
 * with an ACK, and those ACKs reach the other endpoint of the splice.
 */
#ifndef CRAFT_SPLICE_INJECT_H
#define CRAFT_SPLICE_INJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcp_options.h"
#include "tcp_segment.h"

#define SPLICE_INJECT_SACK_MAX 8

struct splice_inject {
	struct tcp_segment_spec tmpl; /* addresses, ports, ack, window, timestamps */
	uint32_t start_seq;	      /* sequence of data[0] */
	uint8_t *data;
	size_t len;
	size_t acked; /* bytes acknowledged from the start */
	size_t sent;  /* bytes sent at least once */
	uint32_t wnd; /* bytes the receiver accepts beyond the acknowledged ones */
	uint16_t mss;
	uint64_t last_send_ms;
	unsigned rto_initial_ms, rto_ms, retries, max_retries;
	uint64_t segments_sent, segments_resent, send_errors;
	/* SACK scoreboard, offsets from data[0], sorted, disjoint; bounded:
	 * a block that fits nowhere is forgotten (the hole is resent). */
	struct {
		size_t from, to;
	} sacked[SPLICE_INJECT_SACK_MAX];
	unsigned nsacked;
	size_t recover;	 /* in loss recovery while acked < recover */
	size_t rtx_next; /* holes below this were resent in this recovery */
	bool rtx_pending;
	uint64_t recoveries;
};

/* Copies data. Returns 0 or -ENOMEM / -EINVAL. */
int splice_inject_init(struct splice_inject *in, const struct tcp_segment_spec *tmpl,
		       uint32_t start_seq, const uint8_t *data, size_t len, uint16_t mss,
		       uint32_t wnd, unsigned rto_ms, unsigned max_retries);
void splice_inject_free(struct splice_inject *in);

/* Sends new bytes the window allows, and resends from the first
 * unacknowledged byte when the RTO has passed. Returns segments sent. */
int splice_inject_pump(struct splice_inject *in, int rawfd, uint64_t now_ms);

/* Feeds an acknowledgement number (the receiver's, in the data's sequence
 * space) and its window in bytes. */
void splice_inject_ack(struct splice_inject *in, uint32_t ack, uint32_t wnd_bytes);

/* Feeds the SACK blocks of the same acknowledgement (receiver's numbering);
 * blocks outside the owed bytes are ignored. The next pump resends holes. */
void splice_inject_sack(struct splice_inject *in, const struct tcp_sack_block *blocks, unsigned n);

/* Feeds the receiver's TSecr: its ts_recent, which our TSval must not fall
 * behind, or PAWS drops our (re)sends. The endpoint's own segments cross
 * the splice with newer TSvals while ours wait; a fixed TSval would make a
 * resend after them undeliverable. Ours never runs ahead of the echo, so
 * the endpoint's later segments are not the ones dropped. */
void splice_inject_echo(struct splice_inject *in, uint32_t tsecr);

static inline bool splice_inject_done(const struct splice_inject *in)
{
	return in->acked >= in->len;
}

static inline bool splice_inject_failed(const struct splice_inject *in)
{
	return in->retries > in->max_retries;
}

#endif
