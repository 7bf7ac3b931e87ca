/* splice_inject - see splice_inject.h. */
#include "splice_inject.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "packet.h"
#include "seq.h"

#define RTO_MAX_MS 4000

int splice_inject_init(struct splice_inject *in, const struct tcp_segment_spec *tmpl,
		       uint32_t start_seq, const uint8_t *data, size_t len, uint16_t mss,
		       uint32_t wnd, unsigned rto_ms, unsigned max_retries)
{
	memset(in, 0, sizeof(*in));
	if (mss == 0 || mss > 65535 - TCP_SEGMENT_OVERHEAD || rto_ms == 0)
		return -EINVAL;
	in->data = malloc(len ? len : 1);
	if (!in->data)
		return -ENOMEM;
	if (len)
		memcpy(in->data, data, len);
	in->tmpl = *tmpl;
	in->tmpl.payload = NULL;
	in->tmpl.payload_len = 0;
	in->start_seq = start_seq;
	in->len = len;
	in->mss = mss;
	in->wnd = wnd;
	in->rto_initial_ms = in->rto_ms = rto_ms;
	in->max_retries = max_retries;
	return 0;
}

void splice_inject_free(struct splice_inject *in)
{
	free(in->data);
	in->data = NULL;
}

/* Sends [from, to) in MSS-sized segments. */
static int send_range(struct splice_inject *in, int rawfd, size_t from, size_t to)
{
	uint8_t pkt[65536];
	int n = 0;
	while (from < to) {
		size_t chunk = to - from < in->mss ? to - from : in->mss;
		struct tcp_segment_spec s = in->tmpl;
		s.seq = in->start_seq + (uint32_t)from;
		s.payload = in->data + from;
		s.payload_len = chunk;
		s.flags = TCP_FL_ACK | (from + chunk == in->len ? TCP_FL_PSH : 0);
		ssize_t len = tcp_segment_build(pkt, sizeof(pkt), &s);
		if (len < 0 || raw_sender_send(rawfd, pkt, (size_t)len) < 0) {
			in->send_errors++;
			break;
		}
		from += chunk;
		n++;
	}
	return n;
}

static size_t window_end(const struct splice_inject *in)
{
	size_t end = in->acked + in->wnd;
	return end < in->len ? end : in->len;
}

static void start_recovery(struct splice_inject *in)
{
	in->recover = in->sent;
	in->rtx_next = in->acked;
	in->rtx_pending = true;
	in->recoveries++;
}

/* The first byte at or after off the receiver has not SACKed; *hole_end is
 * where that hole ends (the next SACKed byte, or what was sent). */
static size_t hole_at(const struct splice_inject *in, size_t off, size_t *hole_end)
{
	for (unsigned i = 0; i < in->nsacked; i++) {
		if (in->sacked[i].to <= off)
			continue;
		if (in->sacked[i].from <= off) {
			off = in->sacked[i].to;
			continue;
		}
		*hole_end = in->sacked[i].from;
		return off;
	}
	*hole_end = in->sent;
	return off;
}

/* Holes below the highest SACKed byte are lost (later bytes arrived); the
 * one above it may still be in flight, so only its first segment goes. */
static int resend_holes(struct splice_inject *in, int rawfd)
{
	size_t highest = in->nsacked ? in->sacked[in->nsacked - 1].to : 0;
	size_t off = in->rtx_next > in->acked ? in->rtx_next : in->acked;
	int n = 0;
	for (;;) {
		size_t hend;
		off = hole_at(in, off, &hend);
		if (off >= in->sent)
			break;
		if (off >= highest) {
			if (n > 0)
				break;
			if (off + in->mss < hend)
				hend = off + in->mss;
		}
		int k = send_range(in, rawfd, off, hend);
		n += k;
		in->segments_resent += (uint64_t)k;
		if (k <= 0)
			break;
		off = hend;
	}
	in->rtx_next = off;
	return n;
}

int splice_inject_pump(struct splice_inject *in, int rawfd, uint64_t now_ms)
{
	int n = 0;
	if (splice_inject_done(in) || splice_inject_failed(in))
		return 0;
	if (in->sent > in->acked && now_ms - in->last_send_ms >= in->rto_ms) {
		/* Timeout: whatever is not SACKed may be lost. */
		start_recovery(in);
		in->retries++;
		in->rto_ms = in->rto_ms * 2 > RTO_MAX_MS ? RTO_MAX_MS : in->rto_ms * 2;
	}
	if (in->rtx_pending) {
		in->rtx_pending = false;
		n += resend_holes(in, rawfd);
		in->last_send_ms = now_ms;
	}
	size_t end = window_end(in);
	if (end <= in->sent && in->sent == in->acked && now_ms - in->last_send_ms >= in->rto_ms) {
		/* Closed window, nothing in flight: the receiver's window update
		 * may be lost, so probe with one byte (it answers with its window). */
		end = in->sent + 1;
		in->retries++;
		in->rto_ms = in->rto_ms * 2 > RTO_MAX_MS ? RTO_MAX_MS : in->rto_ms * 2;
	} else if (end < in->len && in->sent > in->acked)
		end = in->sent + (end > in->sent ? (end - in->sent) / in->mss * in->mss : 0);
	if (end > in->sent) {
		int k = send_range(in, rawfd, in->sent, end);
		in->segments_sent += (uint64_t)k;
		n += k;
		in->sent = end;
		in->last_send_ms = now_ms;
	}
	return n;
}

static void sack_trim(struct splice_inject *in)
{
	unsigned w = 0;
	for (unsigned i = 0; i < in->nsacked; i++) {
		if (in->sacked[i].to <= in->acked)
			continue;
		in->sacked[w] = in->sacked[i];
		if (in->sacked[w].from < in->acked)
			in->sacked[w].from = in->acked;
		w++;
	}
	in->nsacked = w;
}

void splice_inject_ack(struct splice_inject *in, uint32_t ack, uint32_t wnd_bytes)
{
	uint32_t acked_seq = in->start_seq + (uint32_t)in->acked;
	uint32_t end_seq = in->start_seq + (uint32_t)in->len;
	if (seq_before(ack, acked_seq))
		return; /* old */
	in->wnd = wnd_bytes;
	if (ack == acked_seq) {
		if (in->sent == in->acked || wnd_bytes == 0)
			in->retries = 0; /* the answer to a window probe: alive */
		return;
	}
	/* Past the end: the receiver also acknowledges bytes the endpoint
	 * sent itself through the splice after ours. */
	in->acked = seq_after(ack, end_seq) ? in->len : (size_t)(ack - in->start_seq);
	if (in->sent < in->acked)
		in->sent = in->acked;
	in->retries = 0;
	in->rto_ms = in->rto_initial_ms;
	sack_trim(in);
	if (in->acked < in->recover)
		in->rtx_pending = true; /* partial acknowledgement: next hole */
}

/* Merges [from, to) into the sorted, disjoint scoreboard. */
static void sack_add(struct splice_inject *in, size_t from, size_t to)
{
	unsigned w = 0, at = 0;
	for (unsigned i = 0; i < in->nsacked; i++) {
		if (in->sacked[i].to < from || in->sacked[i].from > to) {
			if (in->sacked[i].to < from)
				at = w + 1;
			in->sacked[w++] = in->sacked[i];
			continue;
		}
		if (in->sacked[i].from < from)
			from = in->sacked[i].from;
		if (in->sacked[i].to > to)
			to = in->sacked[i].to;
	}
	in->nsacked = w;
	if (w == SPLICE_INJECT_SACK_MAX)
		return;
	for (unsigned i = w; i > at; i--)
		in->sacked[i] = in->sacked[i - 1];
	in->sacked[at].from = from;
	in->sacked[at].to = to;
	in->nsacked++;
}

void splice_inject_sack(struct splice_inject *in, const struct tcp_sack_block *blocks, unsigned n)
{
	uint32_t lo = in->start_seq + (uint32_t)in->acked;
	uint32_t hi = in->start_seq + (uint32_t)in->sent;
	for (unsigned i = 0; i < n; i++) {
		uint32_t s = blocks[i].start, e = blocks[i].end;
		if (!seq_after(e, lo) || !seq_before(s, hi) || !seq_before(s, e))
			continue; /* a D-SACK, or bytes beyond ours */
		size_t from = seq_before(s, lo) ? in->acked : (size_t)(s - in->start_seq);
		size_t to = seq_after(e, hi) ? in->sent : (size_t)(e - in->start_seq);
		sack_add(in, from, to);
	}
	if (in->acked >= in->recover) {
		size_t sacked = 0;
		for (unsigned i = 0; i < in->nsacked; i++)
			sacked += in->sacked[i].to - in->sacked[i].from;
		if (sacked >= 3 * (size_t)in->mss)
			start_recovery(in);
	}
}

void splice_inject_echo(struct splice_inject *in, uint32_t tsecr)
{
	if (in->tmpl.timestamp && seq_after(tsecr, in->tmpl.tsval))
		in->tmpl.tsval = tsecr;
}
